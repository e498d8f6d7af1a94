//! A non-2xx answer, read: status, message, code, request id, retry-after
//! and body, with echoed secrets masked.

use std::time::Duration;

use serde_json::Value;

use crate::mask::{MIN_MASKED, mask_str, mask_value};

/// A non-2xx answer from the Zaby API.
///
/// Boxed inside [`Error`](crate::Error) so that `Result<T, zaby::Error>` stays small; its
/// fields read through the box as they are (`e.status`, `e.message`).
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 404, vec![], r#"{"message":"no such run"}"#);
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build().unwrap();
/// let Err(zaby::Error::NotFound(e)) = runtime.runs().events("r1", Default::default()) else { panic!() };
/// assert_eq!((e.status, e.message.as_str()), (404, "no such run"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The server's `message`, or `Zaby API request failed with status N.`
    pub message: String,
    /// The server's `code` or `errorCode`, when it sent one.
    pub code: Option<String>,
    /// The `x-request-id` header of the answer, for support requests.
    pub request_id: Option<String>,
    /// The `retry-after` header, when the server sent one (seconds, or an
    /// HTTP-date as the wait from now).
    pub retry_after: Option<Duration>,
    /// The whole body: its JSON, or its text as a JSON string when it was not JSON.
    pub body: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        // The default message names the status already: say it once.
        let status = (!self.message.contains(&format!("status {}", self.status)))
            .then(|| format!("status {}", self.status));
        let code = self.code.as_ref().map(|c| format!("code {c}"));
        let id = self.request_id.as_ref().map(|i| format!("request id {i}"));
        let details: Vec<String> = [status, code, id].into_iter().flatten().collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Reads a non-2xx answer: message and code from a JSON body, the rest from headers.
    pub(crate) fn from_parts(
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        secrets: &[&str],
    ) -> ApiError {
        let body = match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let message = text("message")
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Zaby API request failed with status {status}."));
        let code = text("code").or_else(|| text("errorCode"));
        let mut e = ApiError {
            status,
            message,
            code,
            request_id: crate::headers::header(headers, "x-request-id").map(str::to_owned),
            retry_after: crate::headers::header(headers, "retry-after")
                .and_then(crate::retry_after::parse_retry_after),
            body,
        };
        for secret in secrets {
            e.mask(secret);
        }
        e
    }

    /// Replaces a secret the server echoed back; short strings are left alone
    /// because they are too likely to be ordinary words.
    pub(crate) fn mask(&mut self, secret: &str) {
        if secret.len() < MIN_MASKED {
            return;
        }
        mask_str(&mut self.message, secret);
        mask_value(&mut self.body, secret);
        for field in [&mut self.code, &mut self.request_id].into_iter().flatten() {
            mask_str(field, secret);
        }
    }
}
