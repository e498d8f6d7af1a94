//! Reading the fields of a JSON request body; a field of the wrong type
//! answers `422 VALIDATION_ERROR`. `null` counts as absent.

use serde_json::{Map, Value};

use super::answer::{Answer, invalid};

/// The body as a JSON object; `message` when it is anything else.
pub(super) fn object(body: Option<Value>, message: &str) -> Result<Map<String, Value>, Answer> {
    match body {
        Some(Value::Object(body)) => Ok(body),
        _ => Err(invalid(message)),
    }
}

/// An optional string field.
pub(super) fn opt_str(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Answer> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("`{name}` must be a string."))),
    }
}

/// A required, non-empty string field.
pub(super) fn req_str(body: &Map<String, Value>, name: &str) -> Result<String, Answer> {
    match opt_str(body, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!("`{name}` is required."))),
    }
}

/// An optional boolean field.
pub(super) fn opt_bool(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, Answer> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("`{name}` must be a boolean."))),
    }
}

/// An optional integer field within `min..=max`.
pub(super) fn opt_uint(
    body: &Map<String, Value>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, Answer> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "`{name}` must be an integer from {min} to {max}."
            ))),
        },
    }
}
