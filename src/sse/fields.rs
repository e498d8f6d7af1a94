//! Complete lines to events: the fields of one block (`data`, `event`, `id`,
//! `retry`) and the event its blank line dispatches.
//!
//! Lines come in whole, as text and without their line end, from `lines.rs`,
//! which also keeps the size cap; nothing here reads bytes or looks for line
//! ends.

use std::time::Duration;

use serde_json::Value;

use crate::SseEvent;

/// The block being read, and what outlives it: the last event id and the
/// retry delay.
///
/// A value that lies in the chunk being fed stays there until the chunk is
/// done with ([`keep`](Block::keep)): a block read from one chunk, the usual
/// case, is decoded without a copy.
#[derive(Debug, Default)]
pub(super) struct Block {
    data: Held,
    has_data: bool,
    name: Held,
    has_name: bool,
    id: Held,
    has_id: bool,
    /// The bytes of data, name and id together.
    held: usize,
    pub(super) last_id: Option<String>,
    pub(super) retry: Option<Duration>,
}

impl Block {
    /// What its buffers hold on to, for the tests of bounded memory.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        let last_id = self.last_id.as_ref().map_or(0, String::capacity);
        self.data.copied.capacity()
            + self.name.copied.capacity()
            + self.id.copied.capacity()
            + last_id
    }

    /// Bytes held for the current event: its data, name and id so far.
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Forgets the block, keeping its buffers for the next one. A field
    /// that was not set is clear already.
    pub(super) fn reset(&mut self) {
        if self.has_data {
            self.data.clear();
            self.has_data = false;
        }
        if self.has_name {
            self.name.clear();
            self.has_name = false;
        }
        if self.has_id {
            self.id.clear();
            self.has_id = false;
        }
        self.held = 0;
    }

    /// Forgets the block and gives its memory back.
    pub(super) fn release(&mut self) {
        self.reset();
        self.data = Held::default();
        self.name = Held::default();
        self.id = Held::default();
    }

    /// Copies out what still lies in `chunk`, which is about to go.
    pub(super) fn keep(&mut self, chunk: &str) {
        self.data.keep(chunk);
        self.name.keep(chunk);
        self.id.keep(chunk);
    }

    /// Takes in one field line: neither blank nor a comment. `at` is where
    /// the line begins in `chunk`, when it lies there (else it was copied
    /// together from several chunks). The caller has checked that the held
    /// bytes plus `line` fit the cap; a value is shorter than its line, so
    /// what is held stays within it.
    #[inline(always)] // one caller, on the per-line path
    pub(super) fn field(&mut self, chunk: &str, line: &str, at: Option<usize>) {
        // Field names are short: a plain loop finds the colon sooner than memchr.
        let (field, start) = match line.bytes().position(|b| b == b':') {
            Some(colon) if line.as_bytes().get(colon + 1) == Some(&b' ') => {
                (&line[..colon], colon + 2)
            }
            Some(colon) => (&line[..colon], colon + 1),
            None => (line, line.len()),
        };
        let value = &line[start..];
        let at = at.map(|at| at + start);
        match field {
            "data" => {
                if self.has_data {
                    self.data.push(chunk, value);
                    self.held += 1 + value.len();
                } else {
                    self.data.set(value, at);
                    self.held += value.len();
                }
                self.has_data = true;
            }
            "event" => {
                self.held = self.held - self.name.len() + value.len();
                self.name.set(value, at);
                self.has_name = true;
            }
            // An id containing NUL is ignored, as the standard says.
            // A short loop: ids are short, and memchr's setup costs more.
            "id" if !value.bytes().any(|b| b == 0) => {
                self.held = self.held - self.id.len() + value.len();
                self.id.set(value, at);
                self.has_id = true;
            }
            "retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    /// The blank line: the block's id becomes the last event id, and a block
    /// with data or a name becomes an event. `chunk` is the one being fed.
    #[inline(always)] // one caller, on the per-line path
    pub(super) fn dispatch(&mut self, chunk: &str) -> Option<SseEvent> {
        let mut id = None;
        if self.has_id {
            let text = self.id.get(chunk);
            if text.is_empty() {
                self.last_id = None;
            } else {
                let last = self.last_id.get_or_insert_with(String::new);
                super::reuse(last);
                last.push_str(text);
                id = Some(text.to_owned());
            }
        }
        let event = (self.has_data || self.has_name).then(|| SseEvent {
            event: self.has_name.then(|| self.name.get(chunk).to_owned()),
            data: decode_data(self.data.get(chunk)),
            id,
        });
        self.reset();
        event
    }
}

/// A field's text: a range of the chunk being fed, or copied out of it.
#[derive(Debug, Default)]
struct Held {
    /// The text, when it is not in the chunk.
    copied: String,
    /// Where the text lies in the chunk; `copied` is empty then.
    in_chunk: Option<(usize, usize)>,
}

impl Held {
    fn len(&self) -> usize {
        match self.in_chunk {
            Some((start, end)) => end - start,
            None => self.copied.len(),
        }
    }

    fn clear(&mut self) {
        super::reuse(&mut self.copied);
        self.in_chunk = None;
    }

    /// Becomes `value`, which begins at `at` in the chunk when `at` is given.
    fn set(&mut self, value: &str, at: Option<usize>) {
        self.copied.clear();
        self.in_chunk = at.map(|start| (start, start + value.len()));
        if at.is_none() {
            self.copied.push_str(value);
        }
    }

    /// Appends a newline and `value`: a data line after the first.
    fn push(&mut self, chunk: &str, value: &str) {
        self.keep(chunk);
        self.copied.push('\n');
        self.copied.push_str(value);
    }

    /// Copies the bytes out of `chunk` if they are still there.
    fn keep(&mut self, chunk: &str) {
        if let Some((start, end)) = self.in_chunk.take() {
            self.copied.push_str(&chunk[start..end]);
        }
    }

    fn get<'a>(&'a self, chunk: &'a str) -> &'a str {
        match self.in_chunk {
            Some((start, end)) => &chunk[start..end],
            None => &self.copied,
        }
    }
}

/// `retry:` milliseconds: ASCII digits only; too large a number is ignored.
fn parse_retry(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.bytes().try_fold(0u64, |ms, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        ms.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The data as JSON when it is JSON, else as a string.
fn decode_data(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_needs_digits_only_and_ignores_overflow() {
        assert_eq!(parse_retry("1500"), Some(1500));
        assert_eq!(parse_retry("0"), Some(0));
        assert_eq!(parse_retry(""), None);
        assert_eq!(parse_retry("15 "), None);
        assert_eq!(parse_retry("-1"), None);
        assert_eq!(parse_retry("+1"), None);
        assert_eq!(parse_retry("99999999999999999999"), None);
    }

    #[test]
    fn data_is_json_else_text() {
        assert_eq!(decode_data(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(decode_data(" 42 "), json!(42));
        assert_eq!(decode_data("hello"), json!("hello"));
        assert_eq!(decode_data(""), json!(""));
        assert_eq!(decode_data("{\"a\":1} x"), json!("{\"a\":1} x"));
    }
}
