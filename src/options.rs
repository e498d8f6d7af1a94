//! Options for one call, as the official SDKs take them on every request.

use std::fmt;
use std::time::Duration;

use crate::{CancelHandle, Error, Result, RetryPolicy};

/// Headers that carry the credential, frame the request, or that a stream
/// needs as the client sets them (its resume point, an uncompressed body).
const RESERVED: [&str; 7] = [
    "authorization",
    "x-zaby-api-key",
    "host",
    "content-length",
    "transfer-encoding",
    "last-event-id",
    "accept-encoding",
];

/// Options for one call: a request id, headers, query parameters, a timeout,
/// a retry policy, a cancel handle. Attach them with `with_options` on
/// [`Runs`](crate::Runs), [`Approvals`](crate::Approvals),
/// [`FeedbackApi`](crate::FeedbackApi) and [`RuntimeTokens`](crate::RuntimeTokens).
///
/// `Debug` shows header names, not their values.
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("GET", "/api/v1/agent-runtime/runs/r1/events", 200, serde_json::json!([]));
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
/// use std::time::Duration;
/// use zaby::{EventsQuery, RequestOptions};
///
/// let options = RequestOptions::new()
///     .request_id("req-42")
///     .header("x-trace-id", "abc")
///     .query("after", "7")
///     .timeout(Duration::from_secs(5));
/// let events = runtime.runs().with_options(options).events("r1", EventsQuery::default())?;
/// assert!(events.is_empty());
/// assert_eq!(mock.requests()[0].path, "/api/v1/agent-runtime/runs/r1/events?after=7");
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct RequestOptions {
    pub(crate) request_id: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<RetryPolicy>,
    pub(crate) cancel: Option<CancelHandle>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("request_id", &self.request_id)
            .field("headers", &headers)
            .field("query", &self.query)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl RequestOptions {
    /// No options: the client's settings apply.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::RequestOptions;
    /// let run = runtime.runs().with_options(RequestOptions::new()).start("Hello")?;
    /// assert_eq!(run.run_id, "r1");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new() -> Self {
        RequestOptions::default()
    }

    /// `x-request-id` for this call. On `POST /runs` it is also the body's
    /// `requestId` unless the [`StartRun`](crate::StartRun) set one (the
    /// StartRun's wins); on feedback and token calls likewise.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::RequestOptions;
    /// runtime.runs().with_options(RequestOptions::new().request_id("req-42")).start("Hello")?;
    /// let sent = &mock.requests()[0];
    /// assert_eq!(sent.header("x-request-id"), Some("req-42"));
    /// assert_eq!(sent.body.as_ref().unwrap()["requestId"], "req-42");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// An extra header on this call; it replaces a header of the same name
    /// the client would send (`user-agent`, say). A name the client owns
    /// (`authorization`, `x-zaby-api-key`, `host`, `content-length`,
    /// `transfer-encoding`, `last-event-id`, `accept-encoding`, in any case),
    /// or a name or value that is not a valid header, fails the call with
    /// [`Error::InvalidInput`] and nothing is sent.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::RequestOptions;
    /// runtime.runs().with_options(RequestOptions::new().header("X-Trace-Id", "abc")).start("Hello")?;
    /// assert_eq!(mock.requests()[0].header("x-trace-id"), Some("abc"));
    /// let refused = RequestOptions::new().header("Authorization", "Bearer other");
    /// assert!(runtime.runs().with_options(refused).start("Hello").is_err());
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// An extra query parameter, percent-encoded, after the call's own (such
    /// as `limit`), in the order given; a name may repeat.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("GET", "/api/v1/agent-runtime/runs/r1/events", 200, serde_json::json!([]));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::{EventsQuery, RequestOptions};
    /// let runs = runtime.runs().with_options(RequestOptions::new().query("after", "7"));
    /// runs.events("r1", EventsQuery::limit(10))?;
    /// assert_eq!(mock.requests()[0].path, "/api/v1/agent-runtime/runs/r1/events?limit=10&after=7");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// This call's timeout (for a stream: each read once it is open).
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use std::time::Duration;
    /// use zaby::RequestOptions;
    /// // This run may take longer than the client's usual timeout.
    /// let options = RequestOptions::new().timeout(Duration::from_secs(120));
    /// runtime.runs().with_options(options).start("Summarise the report")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// This call's retry policy, in place of the client's.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 503, vec![], "");
    /// # mock.push_json("GET", "/api/v1/agent-runtime/runs/r1/events", 200, serde_json::json!([]));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::RequestOptions;
    /// let runs = runtime.runs().with_options(RequestOptions::new().retries(2));
    /// runs.events("r1", Default::default())?; // the 503 is retried
    /// assert_eq!(mock.requests().len(), 2);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn retries(mut self, policy: impl Into<RetryPolicy>) -> Self {
        self.retries = Some(policy.into());
        self
    }

    /// `cancel()` on this handle ends the call wherever it is (waiting for
    /// the answer, reading it, sleeping before a retry): a call, or a stream
    /// still opening, returns [`Error::Cancelled`]; an open stream ends. One
    /// handle may be given to many calls, at once or in turn; it cancels them
    /// all. Two waits it cannot cut short: a name lookup or TCP connect in
    /// progress (ureq cannot interrupt those; the timeout bounds them), and
    /// a [`MintingTokenSource`](crate::MintingTokenSource) minting the token
    /// the call needs; the call ends as soon as they do. A call with a handle
    /// gets a connection of its own, so that cancelling it closes nothing else.
    ///
    /// # Example
    /// ```
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(zaby::testing::MockTransport::new()).build()?;
    /// use zaby::{CancelHandle, RequestOptions};
    /// let cancel = CancelHandle::new();
    /// cancel.cancel();
    /// let err = runtime.runs().with_options(RequestOptions::new().cancel_handle(cancel)).start("hi").unwrap_err();
    /// assert!(matches!(err, zaby::Error::Cancelled));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn cancel_handle(mut self, handle: CancelHandle) -> Self {
        self.cancel = Some(handle);
        self
    }

    /// Refuses headers the client owns or cannot send, before anything is sent.
    pub(crate) fn check(&self) -> Result<()> {
        for (name, value) in &self.headers {
            if RESERVED.contains(&name.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "the header {name} is set by the client and cannot be given in RequestOptions"
                )));
            }
            if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(Error::InvalidInput(format!(
                    "{name:?} is not a valid header name"
                )));
            }
            if ureq::http::HeaderValue::from_str(value).is_err() {
                return Err(Error::InvalidInput(format!(
                    "the value of header {name} is not a valid header value (control characters or non-ASCII)"
                )));
            }
        }
        Ok(())
    }

    /// Whether this call was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelHandle::is_cancelled)
    }

    /// Gives `id` these options' request id when it has none of its own:
    /// a body's own id wins.
    pub(crate) fn fill_request_id(&self, id: &mut Option<String>) {
        if id.is_none() {
            id.clone_from(&self.request_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_invalid_headers_are_refused() {
        for name in [
            "Authorization",
            "X-Zaby-Api-Key",
            "HOST",
            "content-length",
            "Transfer-Encoding",
            "Last-Event-ID",
            "accept-encoding",
        ] {
            let options = RequestOptions::new().header(name, "x");
            assert!(
                matches!(options.check(), Err(Error::InvalidInput(_))),
                "{name}"
            );
        }
        assert!(
            RequestOptions::new()
                .header("bad name", "x")
                .check()
                .is_err()
        );
        assert!(
            RequestOptions::new()
                .header("x-a", "a\r\nb: c")
                .check()
                .is_err()
        );
        assert!(
            RequestOptions::new()
                .header("x-trace-id", "abc")
                .check()
                .is_ok()
        );
    }

    #[test]
    fn debug_shows_header_names_only() {
        let options = RequestOptions::new().header("x-secret", "hunter2-value");
        let shown = format!("{options:?}");
        assert!(
            shown.contains("x-secret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
