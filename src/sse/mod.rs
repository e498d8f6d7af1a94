//! The Server-Sent Events parser on its own, over any reader.
//!
//! [`SseReader`] reads an event stream line by line from a [`BufRead`] and
//! yields one [`SseEvent`] per dispatched block, as the WHATWG HTML standard's
//! "interpreting an event stream" says, with the SDK's rules: the event name
//! is `None` when the block had no `event:` line, the data is parsed as JSON
//! when it is JSON, and an event's id is the id line of its own block. Memory
//! stays bounded by a size cap per event.
//!
//! Four steps, one file each: this one reads from the reader and hands out
//! events or errors; `text.rs` turns each read into text, checking its UTF-8
//! once; `lines.rs` cuts the text into complete lines within the size cap
//! (line ends split across reads, a byte order mark, lines that span reads);
//! `fields.rs` interprets the lines: fields, blocks, events.

mod fields;
mod lines;
mod text;

use std::io::{self, BufRead};
use std::iter::FusedIterator;
use std::time::Duration;

use crate::error::is_timeout;
use crate::{Error, SseEvent};
use lines::{Parser, State, Step};
use text::Decoder;

/// The default cap on the bytes one event may buffer: 16 MiB.
///
/// # Example
/// ```
/// assert_eq!(zaby::sse::DEFAULT_MAX_EVENT_SIZE, 16 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// Reads Server-Sent Events from a byte stream, one [`SseEvent`] per item.
///
/// Lines may end in CRLF, LF or a lone CR, wherever the reads happen to split
/// them; a UTF-8 byte order mark at the start is dropped and invalid UTF-8 is
/// decoded with replacement characters. At the end of input an unfinished
/// block (one not closed by a blank line) is discarded.
///
/// # Errors
///
/// An item is an error when reading fails ([`Error::Timeout`] for a read that
/// timed out, [`Error::Stream`] otherwise) or when one event would buffer more
/// than the size cap ([`Error::Stream`]; see
/// [`with_max_event_size`](SseReader::with_max_event_size)). After an error the
/// iterator ends.
///
/// # Example
/// ```
/// use zaby::sse::SseReader;
/// let body = b"event: text\ndata: {\"content\": \"Hi\"}\nid: 1\n\n";
/// let events: Vec<_> = SseReader::new(&body[..]).collect::<zaby::Result<_>>()?;
/// assert_eq!(events[0].event.as_deref(), Some("text"));
/// assert_eq!(events[0].data, serde_json::json!({"content": "Hi"}));
/// assert_eq!(events[0].id.as_deref(), Some("1"));
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Debug)]
pub struct SseReader<R: BufRead> {
    reader: R,
    decoder: Decoder,
    /// The last read as text, and how much of it the parser has taken.
    text: String,
    taken: usize,
    parser: Parser,
    /// Set once the iterator has returned its last item.
    done: bool,
}

/// Why [`SseReader::next_event`] could not give an event.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The reader failed.
    Io(io::Error),
    /// One event would have buffered more than `limit` bytes.
    TooLarge { limit: usize },
}

impl ReadError {
    /// The public error for this failure.
    pub(crate) fn into_error(self) -> Error {
        match self {
            ReadError::Io(e) if is_timeout(&e) => {
                Error::Timeout("waiting for the next event".into())
            }
            ReadError::Io(e) => Error::Stream(format!("reading the stream failed: {e}")),
            ReadError::TooLarge { limit } => Error::Stream(format!(
                "an event exceeded the cap of {limit} bytes; raise it with \
                 SseReader::with_max_event_size or ZabyRuntimeBuilder::stream_max_event_size"
            )),
        }
    }
}

/// Buffers shrink back to this once an event larger than it is done, so
/// that one large event does not keep its memory for the rest of the stream.
const KEPT_CAPACITY: usize = 64 * 1024;

/// At most this much of a read is decoded at a time, so that the text of
/// one read stays small however much the reader hands out.
const READ_PIECE: usize = 16 * 1024;

/// Empties `buf` for the next line or value, giving back what a large one took.
fn reuse(buf: &mut String) {
    buf.clear();
    if buf.capacity() > KEPT_CAPACITY {
        buf.shrink_to(KEPT_CAPACITY);
    }
}

impl<R: BufRead> SseReader<R> {
    /// A reader of the event stream in `reader`, with the default size cap
    /// ([`DEFAULT_MAX_EVENT_SIZE`]).
    ///
    /// # Example
    /// ```
    /// use zaby::sse::SseReader;
    /// let mut events = SseReader::new(&b"data: hello\n\n"[..]);
    /// let first = events.next().unwrap()?;
    /// assert_eq!(first.data, serde_json::json!("hello"));
    /// assert!(events.next().is_none());
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new(reader: R) -> Self {
        SseReader {
            reader,
            decoder: Decoder::default(),
            text: String::new(),
            taken: 0,
            parser: Parser::new(DEFAULT_MAX_EVENT_SIZE),
            done: false,
        }
    }

    /// Caps the bytes one event may buffer: its pending line plus its data,
    /// name and id so far, counted as text (an invalid byte, decoded as a
    /// replacement character, counts three). Comment lines do not count. An
    /// event past the cap ends the stream with an error, having buffered no
    /// more than the cap. Defaults to [`DEFAULT_MAX_EVENT_SIZE`] (16 MiB).
    ///
    /// # Example
    /// ```
    /// use zaby::sse::SseReader;
    /// let body = format!("data: {}\n\n", "x".repeat(100));
    /// let mut events = SseReader::new(body.as_bytes()).with_max_event_size(64);
    /// let err = events.next().unwrap().unwrap_err();
    /// assert!(err.to_string().contains("cap of 64 bytes"));
    /// assert!(events.next().is_none());
    /// ```
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.parser.max = bytes;
        self
    }

    /// The stream's last event id: the latest `id:` of a block closed by its
    /// blank line (a block of only an id counts too). `None` before any id, and
    /// after an empty `id:` cleared it.
    ///
    /// # Example
    /// ```
    /// use zaby::sse::SseReader;
    /// let mut events = SseReader::new(&b"id: 7\n\ndata: a\n\n"[..]);
    /// let event = events.next().unwrap()?;
    /// assert_eq!(event.id, None); // its own block had no id line
    /// assert_eq!(events.last_event_id(), Some("7"));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.block.last_id.as_deref()
    }

    /// The reconnection delay the server asked for with `retry:`, if any.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// use zaby::sse::SseReader;
    /// let mut events = SseReader::new(&b"retry: 1500\ndata: a\n\n"[..]);
    /// events.next();
    /// assert_eq!(events.retry(), Some(Duration::from_millis(1500)));
    /// ```
    pub fn retry(&self) -> Option<Duration> {
        self.parser.block.retry
    }

    /// The next dispatched event; `Ok(None)` at a clean end of input, where an
    /// unfinished last block is discarded.
    ///
    /// After an I/O error the state is kept, so calling again continues where
    /// the failed read left off. After `TooLarge` every call gives `TooLarge`
    /// until [`replace_reader`](Self::replace_reader).
    pub(crate) fn next_event(&mut self) -> Result<Option<SseEvent>, ReadError> {
        loop {
            match self.parser.state {
                State::Reading => {}
                State::Ended => return Ok(None),
                State::TooLarge => {
                    return Err(ReadError::TooLarge {
                        limit: self.parser.max,
                    });
                }
            }
            if self.taken == self.text.len() && !self.read()? {
                // A character that the input's end cut is text too: its
                // replacement character counts against the cap.
                reuse(&mut self.text);
                self.taken = 0;
                if !self.decoder.finish(&mut self.text) {
                    self.parser.end();
                    return Ok(None);
                }
            }
            if self.taken == self.text.len() {
                continue; // the read was the start of a character only
            }
            let (used, step) = self.parser.feed(&self.text[self.taken..]);
            self.taken += used;
            match step {
                Step::More => {}
                Step::Event(event) => return Ok(Some(event)),
                Step::TooLarge => {}
            }
        }
    }

    /// Replaces the text, all taken, with the next read; `false` at the end
    /// of input.
    fn read(&mut self) -> Result<bool, ReadError> {
        let buf = loop {
            match self.reader.fill_buf() {
                Ok(buf) => break buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        };
        if buf.is_empty() {
            return Ok(false);
        }
        let piece = buf.len().min(READ_PIECE);
        reuse(&mut self.text);
        self.taken = 0;
        self.decoder.decode(&buf[..piece], &mut self.text);
        self.reader.consume(piece);
        Ok(true)
    }

    /// Starts parsing a new connection's body: the line and block state start
    /// afresh (a byte order mark may begin the body again); the last event id,
    /// the retry delay and the size cap are kept.
    pub(crate) fn replace_reader(&mut self, reader: R) {
        self.reader = reader;
        self.decoder.reset();
        reuse(&mut self.text);
        self.taken = 0;
        self.parser.restart();
        self.done = false;
    }
}

impl<R: BufRead> Iterator for SseReader<R> {
    type Item = crate::Result<SseEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_event() {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e.into_error()))
            }
        }
    }
}

impl<R: BufRead> FusedIterator for SseReader<R> {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn read_errors_map_to_public_errors() {
        let timeout = ReadError::Io(io::Error::from(io::ErrorKind::TimedOut)).into_error();
        assert!(matches!(&timeout, Error::Timeout(m) if m == "waiting for the next event"));
        let blocked = ReadError::Io(io::Error::from(io::ErrorKind::WouldBlock)).into_error();
        assert!(matches!(blocked, Error::Timeout(_)));
        let reset = ReadError::Io(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        assert_eq!(
            reset.into_error().to_string(),
            "event stream failed: reading the stream failed: reset"
        );
        assert_eq!(
            ReadError::TooLarge { limit: 64 }.into_error().to_string(),
            "event stream failed: an event exceeded the cap of 64 bytes; \
             raise it with SseReader::with_max_event_size or \
             ZabyRuntimeBuilder::stream_max_event_size"
        );
    }

    #[test]
    fn replace_reader_starts_a_new_body() {
        let mut r = SseReader::new(&b"id: 3\ndata: a\n\ndata: cut"[..]);
        assert_eq!(r.next_event().unwrap().unwrap().id.as_deref(), Some("3"));
        assert!(r.next_event().unwrap().is_none());
        r.replace_reader(&b"data: b\n\n"[..]);
        let event = r.next_event().unwrap().unwrap();
        assert_eq!(event.data, json!("b"));
        assert_eq!(r.last_event_id(), Some("3"));
    }

    #[test]
    fn too_large_sticks_until_the_reader_is_replaced() {
        let mut r = SseReader::new(&b"data: 123456789\n\n"[..]).with_max_event_size(8);
        assert!(matches!(
            r.next_event(),
            Err(ReadError::TooLarge { limit: 8 })
        ));
        assert!(matches!(
            r.next_event(),
            Err(ReadError::TooLarge { limit: 8 })
        ));
        r.replace_reader(&b"data: 1\n\n"[..]);
        assert_eq!(r.next_event().unwrap().unwrap().data, json!(1));
    }
}
