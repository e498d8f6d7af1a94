//! The Server-Sent Events parser on its own, over any reader.
//!
//! [`SseReader`] reads an event stream line by line from a [`BufRead`] and
//! yields one [`SseEvent`] per dispatched block, as the WHATWG HTML standard's
//! "interpreting an event stream" says, with the SDK's rules: the event name
//! is `None` when the block had no `event:` line, the data is parsed as JSON
//! when it is JSON, and an event's id is the id line of its own block. Memory
//! stays bounded by a size cap per event.

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::iter::FusedIterator;
use std::time::Duration;

use serde_json::Value;

use crate::{Error, SseEvent};

/// The default cap on the bytes one event may buffer: 16 MiB.
///
/// # Example
/// ```
/// assert_eq!(zaby::sse::DEFAULT_MAX_EVENT_SIZE, 16 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

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

/// A read that timed out (or would block): no byte came in time.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
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
            parser: Parser::new(DEFAULT_MAX_EVENT_SIZE),
            done: false,
        }
    }

    /// Caps the bytes one event may buffer: its pending line plus its data,
    /// name and id so far. Comment lines do not count. An event past the cap
    /// ends the stream with an error, having buffered no more than the cap.
    /// Defaults to [`DEFAULT_MAX_EVENT_SIZE`] (16 MiB).
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
        self.parser.last_id.as_deref()
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
        self.parser.retry
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
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            };
            if buf.is_empty() {
                self.parser.end();
                return Ok(None);
            }
            let (used, step) = self.parser.feed(buf);
            self.reader.consume(used);
            match step {
                Step::More => {}
                Step::Event(event) => return Ok(Some(event)),
                Step::TooLarge => {}
            }
        }
    }

    /// Starts parsing a new connection's body: the line and block state start
    /// afresh (a byte order mark may begin the body again); the last event id,
    /// the retry delay and the size cap are kept.
    pub(crate) fn replace_reader(&mut self, reader: R) {
        self.reader = reader;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Reading,
    Ended,
    TooLarge,
}

/// What feeding one chunk gave.
#[derive(Debug, PartialEq)]
enum Step {
    /// The chunk was used up without completing an event.
    More,
    /// A blank line dispatched this event.
    Event(SseEvent),
    /// The event outgrew the cap; the parser stops.
    TooLarge,
}

/// The parser's state, apart from the reader: fed chunks, it gives events.
///
/// Name, id and data are kept as raw bytes and decoded once at dispatch, so
/// the cap counts input bytes and buffers are reused from event to event.
#[derive(Debug)]
struct Parser {
    max: usize,
    state: State,
    /// How many bytes of a byte order mark matched so far; `None` once decided.
    bom: Option<usize>,
    /// The current line when it spans chunks.
    line: Vec<u8>,
    /// Inside a comment line that spans chunks: its bytes are dropped.
    skip_line: bool,
    /// The last chunk ended in CR: an LF starting the next one belongs to it.
    after_cr: bool,
    data: Vec<u8>,
    has_data: bool,
    name: Vec<u8>,
    has_name: bool,
    id: Vec<u8>,
    has_id: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl Parser {
    fn new(max: usize) -> Parser {
        Parser {
            max,
            state: State::Reading,
            bom: Some(0),
            line: Vec::new(),
            skip_line: false,
            after_cr: false,
            data: Vec::new(),
            has_data: false,
            name: Vec::new(),
            has_name: false,
            id: Vec::new(),
            has_id: false,
            last_id: None,
            retry: None,
        }
    }

    /// Back to the start of a body, keeping last id, retry and cap.
    fn restart(&mut self) {
        self.state = State::Reading;
        self.bom = Some(0);
        self.line.clear();
        self.skip_line = false;
        self.after_cr = false;
        self.reset_block();
    }

    /// End of input: what is unfinished is dropped.
    fn end(&mut self) {
        self.restart();
        self.state = State::Ended;
    }

    fn reset_block(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.name.clear();
        self.has_name = false;
        self.id.clear();
        self.has_id = false;
    }

    /// Bytes held for the current event, apart from the pending line.
    fn held(&self) -> usize {
        self.data.len() + self.name.len() + self.id.len()
    }

    fn too_large(&mut self) -> Step {
        self.state = State::TooLarge;
        // The stream is over: give the memory back.
        self.line = Vec::new();
        self.data = Vec::new();
        self.name = Vec::new();
        self.id = Vec::new();
        Step::TooLarge
    }

    /// Parses as much of `buf` as it takes to complete one event. Returns how
    /// many bytes were used, which is all of them unless an event or an error
    /// came first.
    fn feed(&mut self, buf: &[u8]) -> (usize, Step) {
        let mut pos = 0;
        if self.after_cr {
            self.after_cr = false;
            if buf.first() == Some(&b'\n') {
                pos = 1;
            }
        }
        if let Some(mut matched) = self.bom {
            // Byte by byte, so a mark split across reads is still seen.
            while pos < buf.len() {
                if buf[pos] != BOM[matched] {
                    self.bom = None;
                    // Not a mark after all: those bytes begin the first line.
                    if !self.fits(matched) {
                        return (pos, self.too_large());
                    }
                    self.line.extend_from_slice(&BOM[..matched]);
                    break;
                }
                matched += 1;
                pos += 1;
                if matched == BOM.len() {
                    self.bom = None;
                    break;
                }
                self.bom = Some(matched);
            }
            if self.bom.is_some() {
                return (pos, Step::More);
            }
        }
        while pos < buf.len() {
            let rest = &buf[pos..];
            let Some(end) = find_line_end(rest) else {
                if !self.skip_line {
                    if self.line.is_empty() && rest[0] == b':' {
                        self.skip_line = true;
                    } else if self.fits(rest.len()) {
                        self.line.extend_from_slice(rest);
                    } else {
                        return (buf.len(), self.too_large());
                    }
                }
                return (buf.len(), Step::More);
            };
            let mut next = pos + end + 1;
            if rest[end] == b'\r' {
                match buf.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let step = if self.skip_line {
                self.skip_line = false;
                Step::More
            } else if self.line.is_empty() {
                self.line_done(&rest[..end])
            } else if self.fits(end) {
                self.line.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.line);
                let step = self.line_done(&line);
                self.line = line;
                self.line.clear();
                step
            } else {
                self.too_large()
            };
            pos = next;
            if step != Step::More {
                return (pos, step);
            }
        }
        (pos, Step::More)
    }

    /// Whether the pending line may grow by `more` bytes within the cap.
    fn fits(&self, more: usize) -> bool {
        self.held()
            .saturating_add(self.line.len())
            .saturating_add(more)
            <= self.max
    }

    /// Interprets one complete line (without its line end).
    fn line_done(&mut self, line: &[u8]) -> Step {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return Step::More;
        }
        // The same check as while the line was buffered, so the outcome does
        // not depend on how reads split the input.
        if self.held().saturating_add(line.len()) > self.max {
            return self.too_large();
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        // A value is shorter than its line, so the data, name and id held
        // stay within the cap checked above.
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
        Step::More
    }

    /// The blank line: the block's id becomes the last event id, and a block
    /// with data or a name becomes an event.
    fn dispatch(&mut self) -> Step {
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
            self.reset_block();
            return Step::More;
        }
        let event = SseEvent {
            event: self
                .has_name
                .then(|| String::from_utf8_lossy(&self.name).into_owned()),
            data: decode_data(&self.data),
            id,
        };
        self.reset_block();
        Step::Event(event)
    }
}

/// The index of the first CR or LF.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', b'\r', bytes)
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

    /// Feeds `chunks` one after the other, as a reader would hand them out.
    fn run(parser: &mut Parser, chunks: &[&[u8]]) -> Vec<Step> {
        let mut steps = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() && parser.state == State::Reading {
                let (used, step) = parser.feed(rest);
                rest = &rest[used..];
                if step != Step::More {
                    steps.push(step);
                }
            }
        }
        steps
    }

    fn event(name: Option<&str>, data: Value, id: Option<&str>) -> Step {
        Step::Event(SseEvent {
            event: name.map(str::to_owned),
            data,
            id: id.map(str::to_owned),
        })
    }

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

    #[test]
    fn cr_at_the_end_of_a_chunk_joins_the_lf_of_the_next() {
        let mut p = Parser::new(1024);
        let steps = run(&mut p, &[b"data: a\r", b"\n\r", b"\n"]);
        assert_eq!(steps, vec![event(None, json!("a"), None)]);
        assert!(!p.after_cr);
        // An LF after a CR that ended a chunk is not another blank line.
        let mut p = Parser::new(1024);
        let steps = run(&mut p, &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(steps, vec![event(None, json!("a\nb"), None)]);
    }

    #[test]
    fn a_split_byte_order_mark_is_still_dropped() {
        let mut p = Parser::new(1024);
        let steps = run(&mut p, &[b"\xEF", b"\xBB", b"\xBFdata: 1\n\n"]);
        assert_eq!(steps, vec![event(None, json!(1), None)]);
        // Half a mark is kept as the start of the first line.
        let mut p = Parser::new(1024);
        run(&mut p, &[b"\xEF", b"\xBBdata"]);
        assert_eq!(p.line, b"\xEF\xBBdata");
    }

    #[test]
    fn comment_lines_across_chunks_are_not_buffered() {
        let mut p = Parser::new(8);
        let long = vec![b'x'; 100];
        let steps = run(&mut p, &[b":", &long, &long, b"\ndata: 1\n\n"]);
        assert_eq!(steps, vec![event(None, json!(1), None)]);
        assert!(p.line.capacity() <= 8);
    }

    #[test]
    fn the_cap_holds_while_a_line_grows() {
        let mut p = Parser::new(10);
        assert!(run(&mut p, &[b"data: 123", b"4"]).is_empty());
        assert_eq!(p.line, b"data: 1234");
        // One more byte would pass the cap: it is refused, not buffered.
        assert_eq!(run(&mut p, &[b"5"]), vec![Step::TooLarge]);
        assert_eq!(p.state, State::TooLarge);
        assert!(p.line.is_empty());
    }

    #[test]
    fn the_cap_counts_data_name_and_id_held() {
        // Each line fits alone; together they pass 20 bytes.
        let mut p = Parser::new(20);
        let steps = run(&mut p, &[b"data: 12345\nevent: 12345\nid: 1234567\n\n"]);
        assert_eq!(steps, vec![Step::TooLarge]);
        let mut p = Parser::new(20);
        let steps = run(&mut p, &[b"data: 12345\nevent: 12345\nid: 12\n\n"]);
        assert_eq!(steps, vec![event(Some("12345"), json!(12345), Some("12"))]);
    }

    #[test]
    fn restart_keeps_last_id_and_retry_only() {
        let mut p = Parser::new(1024);
        run(&mut p, &[b"id: 5\nretry: 9\n\ndata: cut"]);
        p.restart();
        assert!(p.line.is_empty() && p.data.is_empty() && !p.has_data);
        assert_eq!(p.last_id.as_deref(), Some("5"));
        assert_eq!(p.retry, Some(Duration::from_millis(9)));
        assert_eq!(p.bom, Some(0));
        let steps = run(&mut p, &[b"\xEF\xBB\xBFdata: 2\n\n"]);
        assert_eq!(steps, vec![event(None, json!(2), None)]);
    }

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
