//! What one API call is, before the pipeline sends it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{CancelHandle, Error, RequestOptions, Result};

/// What kind of call this is.
pub(crate) enum Mode {
    /// A JSON call, bounded by the client's timeout.
    Json,
    /// Opening an event stream (or resuming one).
    Stream {
        /// The longest wait for a byte once the stream is open; `None` waits forever.
        idle_timeout: Option<Duration>,
        /// Interrupts the stream's blocked read from another thread.
        cancel: CancelHandle,
        /// Sent as `last-event-id` when resuming.
        last_event_id: Option<String>,
    },
}

/// One API call, before credentials and retries. No `Debug`: it holds
/// secrets (a rotation's previous token) in clear.
pub(crate) struct Call {
    pub method: &'static str,
    /// Path under the origin, with the query.
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// Sent as `x-request-id`.
    pub request_id: Option<String>,
    /// A POST that may be retried because its request id makes it idempotent.
    pub idempotent: bool,
    pub mode: Mode,
    /// Secrets in the body (a token being rotated), masked in errors too.
    pub secrets: Vec<String>,
    /// The caller's options for this call: headers, timeout, retries, cancel.
    pub options: RequestOptions,
}

impl Call {
    pub(crate) fn get(path: String) -> Call {
        Call {
            method: "GET",
            path,
            body: None,
            request_id: None,
            idempotent: false,
            mode: Mode::Json,
            secrets: Vec::new(),
            options: RequestOptions::default(),
        }
    }

    /// The call with the caller's options: checked, the query appended, the
    /// request id taken. Nothing is sent when they are refused.
    pub(crate) fn with_options(mut self, options: &RequestOptions) -> Result<Call> {
        options.check()?;
        if options.cancelled() {
            return Err(Error::Cancelled);
        }
        crate::path::push_query(&mut self.path, &options.query);
        // A body's own request id (set by the resource) is the header's too.
        options.fill_request_id(&mut self.request_id);
        self.options = options.clone();
        // This call's own handle: calls sharing the caller's do not share hooks.
        self.options.cancel = options.cancel.as_ref().map(CancelHandle::child);
        Ok(self)
    }

    /// The cancel handle of this call, if it can be cancelled.
    pub(crate) fn cancel(&self) -> Option<&CancelHandle> {
        match &self.mode {
            Mode::Stream { cancel, .. } => Some(cancel),
            Mode::Json => self.options.cancel.as_ref(),
        }
    }

    /// The error for `e`, unless the caller cancelled the call meanwhile.
    pub(crate) fn unless_cancelled(&self, e: Error) -> Error {
        if self.cancel().is_some_and(CancelHandle::is_cancelled) {
            Error::Cancelled
        } else {
            e
        }
    }

    pub(crate) fn post(path: String, body: Option<&impl serde::Serialize>) -> Result<Call> {
        let body = body.map(serde_json::to_vec).transpose().map_err(|e| {
            Error::InvalidInput(format!("the request body cannot be serialized: {e}"))
        })?;
        Ok(Call {
            method: "POST",
            body,
            ..Call::get(path)
        })
    }

    /// Opening the event stream at `path`.
    pub(crate) fn stream(
        path: String,
        idle_timeout: Option<Duration>,
        cancel: CancelHandle,
        last_event_id: Option<String>,
    ) -> Call {
        Call {
            mode: Mode::Stream {
                idle_timeout,
                cancel,
                last_event_id,
            },
            ..Call::get(path)
        }
    }

    /// Safe to send twice: a GET, or a POST made idempotent by its request id.
    pub(crate) fn repeatable(&self) -> bool {
        self.method == "GET" || self.idempotent
    }
}

/// A fresh request id, UUID-shaped, from std's per-process random hash keys.
pub(crate) fn new_request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now();
    let state = RandomState::new();
    let hi = state.hash_one((n, now));
    let lo = state.hash_one((hi, n, std::process::id()));
    let v = (u128::from(hi) << 64) | u128::from(lo);
    // Version 4, variant 10, like a random UUID.
    let v = (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_uuid_shaped() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
