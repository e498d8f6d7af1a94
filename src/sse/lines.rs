//! Text to complete lines: line ends (CRLF, LF, lone CR) wherever reads
//! split them, the byte order mark, lines that span reads, and the size cap.
//! The lines go to [`Block`], which makes events of them.

use super::fields::Block;
use crate::SseEvent;

/// The byte order mark, as `text.rs` decodes it.
const BOM: char = '\u{FEFF}';

/// Whether the parser takes more input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Reading,
    Ended,
    TooLarge,
}

/// What feeding one chunk gave.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    /// The chunk was used up without completing an event.
    More,
    /// A blank line dispatched this event.
    Event(SseEvent),
    /// The event outgrew the cap; the parser stops.
    TooLarge,
}

/// The parser's state, apart from the reader: fed chunks, it gives events.
#[derive(Debug)]
pub(super) struct Parser {
    pub(super) max: usize,
    pub(super) state: State,
    /// At the start of a body, where a byte order mark may stand.
    at_start: bool,
    /// The current line when it spans chunks.
    line: String,
    /// Inside a comment line that spans chunks: its bytes are dropped.
    skip_line: bool,
    /// The last chunk ended in CR: an LF starting the next one belongs to it.
    after_cr: bool,
    /// The fields of the block so far.
    pub(super) block: Block,
}

impl Parser {
    pub(super) fn new(max: usize) -> Parser {
        Parser {
            max,
            state: State::Reading,
            at_start: true,
            line: String::new(),
            skip_line: false,
            after_cr: false,
            block: Block::default(),
        }
    }

    /// Back to the start of a body, keeping last id, retry and cap.
    pub(super) fn restart(&mut self) {
        self.state = State::Reading;
        self.at_start = true;
        self.line.clear();
        self.skip_line = false;
        self.after_cr = false;
        self.block.reset();
    }

    /// End of input: what is unfinished is dropped.
    pub(super) fn end(&mut self) {
        self.restart();
        self.state = State::Ended;
    }

    fn too_large(&mut self) -> Step {
        self.state = State::TooLarge;
        // The stream is over: give the memory back.
        self.line = String::new();
        self.block.release();
        Step::TooLarge
    }

    /// Parses as much of `buf` as it takes to complete one event. Returns how
    /// many bytes were used, which is all of them unless an event or an error
    /// came first.
    pub(super) fn feed(&mut self, buf: &str) -> (usize, Step) {
        let fed = self.feed_lines(buf);
        if matches!(fed.1, Step::More) {
            // The block may point into `buf`, which the reader is about to replace.
            self.block.keep(buf);
        }
        fed
    }

    // This and the per-line functions it calls have one caller each; one
    // function for the whole per-line path keeps each event's work small.
    #[inline(always)]
    fn feed_lines(&mut self, buf: &str) -> (usize, Step) {
        let mut pos = 0;
        if self.at_start {
            // A chunk never ends inside a character, so the mark comes whole.
            self.at_start = false;
            if buf.starts_with(BOM) {
                pos = BOM.len_utf8();
            }
        }
        if self.after_cr {
            self.after_cr = false;
            if buf.as_bytes().get(pos) == Some(&b'\n') {
                pos += 1;
            }
        }
        while pos < buf.len() {
            let rest = &buf[pos..];
            let Some(end) = find_line_end(rest.as_bytes()) else {
                if !self.skip_line {
                    if self.line.is_empty() && rest.starts_with(':') {
                        self.skip_line = true;
                    } else if self.fits(rest.len()) {
                        self.line.push_str(rest);
                    } else {
                        return (buf.len(), self.too_large());
                    }
                }
                return (buf.len(), Step::More);
            };
            let mut next = pos + end + 1;
            if rest.as_bytes()[end] == b'\r' {
                match buf.as_bytes().get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let step = if self.skip_line {
                self.skip_line = false;
                Step::More
            } else if self.line.is_empty() {
                self.line_done(buf, &rest[..end], Some(pos))
            } else if self.fits(end) {
                self.line.push_str(&rest[..end]);
                let line = std::mem::take(&mut self.line);
                let step = self.line_done(buf, &line, None);
                self.line = line;
                super::reuse(&mut self.line);
                step
            } else {
                self.too_large()
            };
            pos = next;
            if !matches!(step, Step::More) {
                return (pos, step);
            }
        }
        (pos, Step::More)
    }

    /// Whether the pending line may grow by `more` bytes within the cap.
    fn fits(&self, more: usize) -> bool {
        self.block
            .held()
            .saturating_add(self.line.len())
            .saturating_add(more)
            <= self.max
    }

    /// Interprets one complete line (without its line end) of `chunk`: it
    /// begins at `at` there, or was copied together from several chunks.
    #[inline(always)]
    fn line_done(&mut self, chunk: &str, line: &str, at: Option<usize>) -> Step {
        if line.is_empty() {
            return match self.block.dispatch(chunk) {
                Some(event) => Step::Event(event),
                None => Step::More,
            };
        }
        if line.starts_with(':') {
            return Step::More;
        }
        // The same check as while the line was buffered, so the outcome does
        // not depend on how reads split the input.
        if self.block.held().saturating_add(line.len()) > self.max {
            return self.too_large();
        }
        self.block.field(chunk, line, at);
        Step::More
    }
}

/// The index of the first CR or LF.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    match bytes.first() {
        // A blank line every few lines: no search for it.
        Some(b'\n' | b'\r') => Some(0),
        _ => memchr::memchr2(b'\n', b'\r', bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::time::Duration;

    /// Feeds `chunks` one after the other, as a reader would hand them out.
    fn run(parser: &mut Parser, chunks: &[&str]) -> Vec<Step> {
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
    fn a_large_event_gives_its_buffers_back_once_done() {
        let mut p = Parser::new(4 << 20);
        let x = "x".repeat(1 << 20);
        let big = format!("id: {x}\ndata: \"{x}\"\n\n");
        // Split in reads, so that the line and the value are copied out.
        let chunks: Vec<&str> = big
            .as_bytes()
            .chunks(1000)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let steps = run(&mut p, &chunks);
        assert_eq!(steps.len(), 1);
        assert!(run(&mut p, &["id: 1\ndata: 1\n\n"]).len() == 1);
        assert!(
            p.line.capacity() <= crate::sse::KEPT_CAPACITY,
            "{}",
            p.line.capacity()
        );
        assert!(
            p.block.capacity() <= 4 * crate::sse::KEPT_CAPACITY,
            "{}",
            p.block.capacity()
        );
    }

    #[test]
    fn cr_at_the_end_of_a_chunk_joins_the_lf_of_the_next() {
        let mut p = Parser::new(1024);
        let steps = run(&mut p, &["data: a\r", "\n\r", "\n"]);
        assert_eq!(steps, vec![event(None, json!("a"), None)]);
        assert!(!p.after_cr);
        // An LF after a CR that ended a chunk is not another blank line.
        let mut p = Parser::new(1024);
        let steps = run(&mut p, &["data: a\r", "\ndata: b\r", "\n\r", "\n"]);
        assert_eq!(steps, vec![event(None, json!("a\nb"), None)]);
    }

    #[test]
    fn comment_lines_across_chunks_are_not_buffered() {
        let mut p = Parser::new(8);
        let long = "x".repeat(100);
        let steps = run(&mut p, &[":", &long, &long, "\ndata: 1\n\n"]);
        assert_eq!(steps, vec![event(None, json!(1), None)]);
        assert!(p.line.capacity() <= 8);
    }

    #[test]
    fn the_cap_holds_while_a_line_grows() {
        let mut p = Parser::new(10);
        assert!(run(&mut p, &["data: 123", "4"]).is_empty());
        assert_eq!(p.line, "data: 1234");
        // One more byte would pass the cap: it is refused, not buffered.
        assert_eq!(run(&mut p, &["5"]), vec![Step::TooLarge]);
        assert_eq!(p.state, State::TooLarge);
        assert!(p.line.is_empty());
    }

    #[test]
    fn the_cap_counts_data_name_and_id_held() {
        // Each line fits alone; together they pass 20 bytes.
        let mut p = Parser::new(20);
        let steps = run(&mut p, &["data: 12345\nevent: 12345\nid: 1234567\n\n"]);
        assert_eq!(steps, vec![Step::TooLarge]);
        let mut p = Parser::new(20);
        let steps = run(&mut p, &["data: 12345\nevent: 12345\nid: 12\n\n"]);
        assert_eq!(steps, vec![event(Some("12345"), json!(12345), Some("12"))]);
    }

    #[test]
    fn the_cap_counts_joined_data_and_a_repeated_field_once() {
        // Held before the id line: "12345\n12345", 11 bytes; the line adds 7.
        let block = "data: 12345\ndata: 12345\nid: 123\n\n";
        assert_eq!(run(&mut Parser::new(17), &[block]), vec![Step::TooLarge]);
        let steps = run(&mut Parser::new(18), &[block]);
        assert_eq!(steps, vec![event(None, json!("12345\n12345"), Some("123"))]);
        // A second name replaces the first: 10 bytes held, not 20, when
        // the 9 bytes of the data line come; 10 + 17 let the second name in.
        let block = "event: 1234567890\nevent: 1234567890\ndata: 123\n\n";
        let steps = run(&mut Parser::new(27), &[block]);
        assert_eq!(steps, vec![event(Some("1234567890"), json!(123), None)]);
    }

    #[test]
    fn what_a_block_holds_of_a_chunk_is_copied_before_the_chunk_goes() {
        let mut p = Parser::new(1024);
        let chunk = String::from("event: e\nid: 7\ndata: abc");
        assert!(run(&mut p, &[&chunk]).is_empty());
        // The reader replaces its text with the next read.
        drop(chunk);
        let steps = run(&mut p, &["\ndata: d\n\n"]);
        assert_eq!(steps, vec![event(Some("e"), json!("abc\nd"), Some("7"))]);
        let chunk = String::from("data: 1\n");
        run(&mut p, &[&chunk]);
        drop(chunk);
        assert_eq!(run(&mut p, &["\n"]), vec![event(None, json!(1), None)]);
    }

    #[test]
    fn restart_keeps_last_id_and_retry_only() {
        let mut p = Parser::new(1024);
        run(&mut p, &["id: 5\nretry: 9\n\ndata: cut"]);
        p.restart();
        assert!(p.line.is_empty() && p.block.held() == 0);
        assert_eq!(p.block.last_id.as_deref(), Some("5"));
        assert_eq!(p.block.retry, Some(Duration::from_millis(9)));
        assert!(p.at_start);
        let steps = run(&mut p, &["\u{FEFF}data: 2\n\n"]);
        assert_eq!(steps, vec![event(None, json!(2), None)]);
    }
}
