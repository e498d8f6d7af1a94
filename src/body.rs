//! Reading an answer's body: capped, then decoded as the JSON expected.

use std::io::Read;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::DecodeError;
use crate::{Error, Result};

/// The largest JSON answer read; a larger one is refused, not read whole.
///
/// # Example
/// ```
/// // A 20 MiB answer is refused, not buffered.
/// let content_length: u64 = 20 * 1024 * 1024;
/// assert!(content_length > zaby::MAX_JSON_BODY);
/// ```
pub const MAX_JSON_BODY: u64 = 16 * 1024 * 1024;
/// How much of an error answer's body is kept.
pub(crate) const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Reads a body up to `cap` bytes; a larger one is an error, not read whole.
pub(crate) fn read_capped(body: impl Read, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    body.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::from_io(e, "reading the answer"))?;
    if bytes.len() as u64 > cap {
        bytes.truncate(1024);
        return Err(Error::Decode(DecodeError {
            message: format!("the answer is larger than the {cap}-byte cap; it was not read whole"),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }));
    }
    Ok(bytes)
}

/// As much of an error answer's body as comes, up to `cap` bytes: it only
/// explains the status, so a read that fails or a body past the cap keeps
/// what came before.
pub(crate) fn read_prefix(body: impl Read, cap: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = body.take(cap).read_to_end(&mut bytes);
    bytes
}

/// JSON, or `Value::Null` for an empty body.
pub(crate) fn json_or_null(body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    decode(body, "a JSON answer")
}

/// `body` as `T`; the error says `what` was expected and keeps the body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| not_what(what, &e, body))
}

/// The error of a `body` that did not decode as `what`.
pub(crate) fn not_what(what: &str, e: &serde_json::Error, body: &[u8]) -> Error {
    Error::Decode(DecodeError {
        message: format!("expected {what}: {e}"),
        body: String::from_utf8_lossy(body).into_owned(),
    })
}
