//! Complete lines to events: the fields of one block (`data`, `event`, `id`,
//! `retry`) and the event its blank line dispatches.
//!
//! Lines come in whole and without their line end from `lines.rs`, which
//! also keeps the size cap; nothing here reads bytes or looks for line ends.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use crate::SseEvent;

/// The block being read, and what outlives it: the last event id and the
/// retry delay.
///
/// Name, id and data are kept as raw bytes and decoded once at dispatch, so
/// the cap counts input bytes and buffers are reused from event to event.
#[derive(Debug, Default)]
pub(super) struct Block {
    data: Vec<u8>,
    has_data: bool,
    name: Vec<u8>,
    has_name: bool,
    id: Vec<u8>,
    has_id: bool,
    pub(super) last_id: Option<String>,
    pub(super) retry: Option<Duration>,
}

impl Block {
    /// Bytes held for the current event: its data, name and id so far.
    pub(super) fn held(&self) -> usize {
        self.data.len() + self.name.len() + self.id.len()
    }

    /// Forgets the block, keeping its buffers for the next one.
    pub(super) fn reset(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.name.clear();
        self.has_name = false;
        self.id.clear();
        self.has_id = false;
    }

    /// Forgets the block and gives its memory back.
    pub(super) fn release(&mut self) {
        self.reset();
        self.data = Vec::new();
        self.name = Vec::new();
        self.id = Vec::new();
    }

    /// Takes in one field line: neither blank nor a comment. The caller has
    /// checked that the held bytes plus `line` fit the cap; a value is shorter
    /// than its line, so what is held stays within it.
    pub(super) fn field(&mut self, line: &[u8]) {
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.name.clear();
                self.name.extend_from_slice(value);
                self.has_name = true;
            }
            // An id containing NUL is ignored, as the standard says.
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
                self.has_id = true;
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    /// The blank line: the block's id becomes the last event id, and a block
    /// with data or a name becomes an event.
    pub(super) fn dispatch(&mut self) -> Option<SseEvent> {
        let mut id = None;
        if self.has_id {
            if self.id.is_empty() {
                self.last_id = None;
            } else {
                let text = String::from_utf8_lossy(&self.id);
                match &mut self.last_id {
                    Some(last) => {
                        last.clear();
                        last.push_str(&text);
                    }
                    None => self.last_id = Some(text.into_owned()),
                }
                id.clone_from(&self.last_id);
            }
        }
        if !(self.has_data || self.has_name) {
            self.reset();
            return None;
        }
        let event = SseEvent {
            event: self
                .has_name
                .then(|| String::from_utf8_lossy(&self.name).into_owned()),
            data: decode_data(&self.data),
            id,
        };
        self.reset();
        Some(event)
    }
}

/// `retry:` milliseconds: ASCII digits only; too large a number is ignored.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |ms, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        ms.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The data as JSON when it is JSON, else as a string (invalid UTF-8 replaced).
fn decode_data(bytes: &[u8]) -> Value {
    // One UTF-8 check of the whole text, then `from_str`: faster on small
    // events than `from_slice`, which checks each JSON string on its own.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
    };
    match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => Value::String(text.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_needs_digits_only_and_ignores_overflow() {
        assert_eq!(parse_retry(b"1500"), Some(1500));
        assert_eq!(parse_retry(b"0"), Some(0));
        assert_eq!(parse_retry(b""), None);
        assert_eq!(parse_retry(b"15 "), None);
        assert_eq!(parse_retry(b"-1"), None);
        assert_eq!(parse_retry(b"+1"), None);
        assert_eq!(parse_retry(b"99999999999999999999"), None);
    }

    #[test]
    fn data_is_json_else_text() {
        assert_eq!(decode_data(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(decode_data(b" 42 "), json!(42));
        assert_eq!(decode_data(b"hello"), json!("hello"));
        assert_eq!(decode_data(b""), json!(""));
        assert_eq!(decode_data(b"{\"a\":1} x"), json!("{\"a\":1} x"));
        assert_eq!(decode_data(b"\"\xFF\""), json!("\u{FFFD}"));
        assert_eq!(decode_data(b"a\xFFb"), json!("a\u{FFFD}b"));
    }
}
