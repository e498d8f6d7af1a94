//! The JSON answers handlers give, and the error answers several share.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::http::write_json;

/// A JSON answer: status, body, extra headers.
pub(super) struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// `200` with `body`.
    pub fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    /// The answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Answer {
        self.headers.push((name, value));
        self
    }

    /// Writes the whole answer, with `x-request-id: <request_id>`.
    pub fn write(&self, out: &mut impl Write, request_id: &str, close: bool) -> io::Result<()> {
        write_json(
            out,
            self.status,
            request_id,
            &self.headers,
            &self.body,
            close,
        )
    }
}

/// An error in the runtime's shape: `{"message", "code"}`.
pub(super) fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
    Answer {
        status,
        body: json!({"message": message.into(), "code": code}),
        headers: Vec::new(),
    }
}

/// `422 VALIDATION_ERROR`: a body or query the endpoint cannot take.
pub(super) fn invalid(message: impl Into<String>) -> Answer {
    error(422, "VALIDATION_ERROR", message)
}

/// `404 NOT_FOUND`.
pub(super) fn not_found(message: impl Into<String>) -> Answer {
    error(404, "NOT_FOUND", message)
}

pub(super) fn unknown_run(run_id: &str) -> Answer {
    not_found(format!("Run {run_id} not found."))
}

/// `401 UNAUTHORIZED`: a token that is missing, unknown or no longer valid.
pub(super) fn unauthorized(message: &str) -> Answer {
    error(401, "UNAUTHORIZED", message)
}

/// `401 MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`.
pub(super) fn token_expired() -> Answer {
    error(
        401,
        "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED",
        "The runtime token has expired.",
    )
}
