//! A request as the fake records it, for tests to look at.

use std::fmt;

use serde_json::Value;

use super::http::Request;

/// A request the fake received, as [`FakeRuntime::requests`] reports it.
///
/// [`FakeRuntime::requests`]: crate::testing::FakeRuntime::requests
#[derive(Clone, PartialEq)]
pub struct FakeRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent: path and query, still percent-encoded.
    pub path: String,
    /// The headers in order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON; a body that is not JSON as a JSON string of its text;
    /// `None` when there was no body.
    pub body: Option<Value>,
}

impl FakeRequest {
    /// The first value of the header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::header(&self.headers, name)
    }

    /// The record of `req`, whose body reads as `body`.
    pub(super) fn of(req: &Request, body: Option<Value>) -> FakeRequest {
        FakeRequest {
            method: req.method.clone(),
            path: req.target.clone(),
            headers: req.headers.clone(),
            body,
        }
    }
}

impl fmt::Debug for FakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets are masked: debug output ends up in logs. That is the
        // authorization and API key headers, and the token a rotation sends.
        f.debug_struct("FakeRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &crate::headers::redacted(&self.headers))
            .field("body", &crate::mask::redacted_body(&self.body))
            .finish()
    }
}
