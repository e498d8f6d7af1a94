//! The event-stream parser through its public API.
//!
//! Every case runs through a whole-buffer reader and through readers that hand
//! out 1, 2, 3, 7 and 4096 bytes per read (short inputs also through every
//! split into two reads), and all must agree.

use std::io::{self, BufRead, Read};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use zaby::SseEvent;
use zaby::sse::SseReader;

// ---------- readers ----------

/// Hands out the input in reads whose sizes cycle through `sizes`.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl<'a> Chunked<'a> {
    fn new(data: &'a [u8], sizes: &[usize]) -> Self {
        Chunked {
            data,
            pos: 0,
            sizes: sizes.to_vec(),
            turn: 0,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let size = self.sizes[self.turn % self.sizes.len()];
        let end = self.data.len().min(self.pos + size);
        Ok(&self.data[self.pos..end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
        // The next read is a new chunk, even when this one was not used up.
        self.turn += 1;
    }
}

/// Hands out scripted reads: byte pieces, one per read, and errors.
struct Script {
    steps: Vec<Result<Vec<u8>, io::ErrorKind>>,
    pos: usize,
}

impl Script {
    fn new(steps: Vec<Result<&[u8], io::ErrorKind>>) -> Self {
        let steps = steps.into_iter().map(|s| s.map(<[u8]>::to_vec)).collect();
        Script { steps, pos: 0 }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Script {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.steps.first() {
                None => return Ok(&[]),
                Some(Err(kind)) => {
                    let kind = *kind;
                    let _ = self.steps.remove(0);
                    return Err(io::Error::new(kind, "scripted failure"));
                }
                Some(Ok(piece)) if self.pos == piece.len() => {
                    let _ = self.steps.remove(0);
                    self.pos = 0;
                }
                Some(Ok(_)) => break,
            }
        }
        match &self.steps[0] {
            Ok(piece) => Ok(&piece[self.pos..]),
            Err(_) => unreachable!(),
        }
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
    }
}

/// `prefix`, then `a` bytes without end, `chunk` per read; counts what was used.
struct Endless {
    prefix: &'static [u8],
    consumed: usize,
    chunk: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Endless {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        static AS: [u8; 64] = [b'a'; 64];
        Ok(match self.prefix.get(self.consumed..) {
            Some(rest) if !rest.is_empty() => &rest[..rest.len().min(self.chunk)],
            _ => &AS[..self.chunk],
        })
    }

    fn consume(&mut self, amt: usize) {
        self.consumed += amt;
    }
}

// ---------- helpers ----------

/// Everything a reader gave: its items (errors as their text) and its state at the end.
#[derive(Debug, PartialEq)]
struct Outcome {
    items: Vec<Result<SseEvent, String>>,
    last_event_id: Option<String>,
    retry: Option<Duration>,
}

fn read_all<R: BufRead>(reader: R, cap: Option<usize>) -> Outcome {
    let mut sse = SseReader::new(reader);
    if let Some(cap) = cap {
        sse = sse.with_max_event_size(cap);
    }
    let items = sse.by_ref().map(|r| r.map_err(|e| e.to_string())).collect();
    assert!(sse.next().is_none(), "the reader ends for good");
    Outcome {
        items,
        last_event_id: sse.last_event_id().map(str::to_owned),
        retry: sse.retry(),
    }
}

/// Reads `input` every way there is and checks that all ways agree.
fn parse_with(input: &[u8], cap: Option<usize>) -> Outcome {
    let whole = read_all(input, cap);
    for size in [1, 2, 3, 7, 4096] {
        let chunked = read_all(Chunked::new(input, &[size]), cap);
        assert_eq!(chunked, whole, "reads of {size} bytes");
    }
    if input.len() <= 256 {
        for split in 0..=input.len() {
            let sizes = [split.max(1), input.len().max(1)];
            let two = read_all(Chunked::new(input, &sizes), cap);
            assert_eq!(two, whole, "split at {split}");
        }
    }
    whole
}

fn parse(input: &[u8]) -> Outcome {
    parse_with(input, None)
}

/// The events of a stream that must not fail.
fn events(input: &[u8]) -> Vec<SseEvent> {
    parse(input)
        .items
        .into_iter()
        .map(|item| item.expect("no error"))
        .collect()
}

fn ev(event: Option<&str>, data: Value, id: Option<&str>) -> SseEvent {
    SseEvent {
        event: event.map(str::to_owned),
        data,
        id: id.map(str::to_owned),
    }
}

fn data(value: Value) -> SseEvent {
    ev(None, value, None)
}

const CAP_MESSAGE: &str = "event stream failed: an event exceeded the cap of 20 bytes; \
                           raise it with SseReader::with_max_event_size or \
                           ZabyRuntimeBuilder::stream_max_event_size";

// ---------- line ends and decoding ----------

#[test]
fn lines_end_in_crlf_lf_or_lone_cr() {
    let got = events(b"data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r\ndata: e\n\r\n");
    assert_eq!(
        got,
        vec![
            data(json!("a")),
            data(json!("b")),
            data(json!("c")),
            data(json!("d\ne"))
        ]
    );
}

#[test]
fn a_crlf_split_across_reads_is_one_line_end() {
    let pieces: Vec<Result<&[u8], _>> =
        vec![Ok(b"data: a\r"), Ok(b"\ndata: b\r"), Ok(b"\n\r"), Ok(b"\n")];
    let got = read_all(Script::new(pieces), None);
    assert_eq!(got.items, vec![Ok(data(json!("a\nb")))]);
    assert_eq!(
        events(b"data: a\r\ndata: b\r\n\r\n"),
        vec![data(json!("a\nb"))]
    );
}

#[test]
fn a_byte_order_mark_at_the_very_start_is_dropped() {
    assert_eq!(events(b"\xEF\xBB\xBFdata: 1\n\n"), vec![data(json!(1))]);
    // Only one, and only at the start: elsewhere it is part of a field name.
    assert_eq!(
        events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n"),
        vec![data(json!(2))]
    );
    assert_eq!(
        events(b"data: 1\n\n\xEF\xBB\xBFdata: 2\n\n"),
        vec![data(json!(1))]
    );
    // Half a mark is not dropped either.
    assert_eq!(events(b"\xEF\xBBdata: 1\n\n"), vec![]);
}

#[test]
fn invalid_utf8_is_decoded_with_replacement_characters() {
    assert_eq!(
        events(b"event: t\xFFx\ndata: a\xC3\nid: \xFE\n\n"),
        vec![ev(Some("t\u{FFFD}x"), json!("a\u{FFFD}"), Some("\u{FFFD}"))]
    );
    // Inside a JSON string the replacement keeps it JSON.
    assert_eq!(
        events(b"data: {\"k\": \"\xFF\"}\n\n"),
        vec![data(json!({"k": "\u{FFFD}"}))]
    );
}

// ---------- fields ----------

#[test]
fn data_lines_are_joined_with_newlines() {
    assert_eq!(
        events(b"data: a\ndata: b\ndata:\ndata: c\n\n"),
        vec![data(json!("a\nb\n\nc"))]
    );
    assert_eq!(
        events(b"data: {\"a\":\ndata: [1,\ndata: 2]}\n\n"),
        vec![data(json!({"a": [1, 2]}))]
    );
}

#[test]
fn data_is_json_when_it_parses_else_the_text() {
    let got = events(
        b"data: {\"type\":\"RUN_FINISHED\"}\n\n\
          data: 42\n\n\
          data: \"quoted\"\n\n\
          data: null\n\n\
          data: [1, true]\n\n\
          data: hello world\n\n\
          data: {\"open\": \n\n\
          data: 1 2\n\n",
    );
    assert_eq!(
        got,
        vec![
            data(json!({"type": "RUN_FINISHED"})),
            data(json!(42)),
            data(json!("quoted")),
            data(Value::Null),
            data(json!([1, true])),
            data(json!("hello world")),
            data(json!("{\"open\": ")),
            data(json!("1 2")),
        ]
    );
}

#[test]
fn without_data_lines_the_data_is_the_empty_string() {
    assert_eq!(
        events(b"event: ping\n\n"),
        vec![ev(Some("ping"), json!(""), None)]
    );
    assert_eq!(events(b"data:\n\n"), vec![data(json!(""))]);
}

#[test]
fn the_name_is_absent_without_an_event_line() {
    assert_eq!(
        events(b"data: 1\n\nevent: text\ndata: 2\n\nevent:\ndata: 3\n\nevent: a\nevent: b\ndata: 4\n\n"),
        vec![
            ev(None, json!(1), None),
            ev(Some("text"), json!(2), None),
            ev(Some(""), json!(3), None),
            ev(Some("b"), json!(4), None),
        ]
    );
}

#[test]
fn an_events_id_is_the_id_line_of_its_own_block() {
    let got = parse(b"id: 1\ndata: a\n\ndata: b\n\ndata: c\nid: 2\nid: 3\n\n");
    assert_eq!(
        got.items,
        vec![
            Ok(ev(None, json!("a"), Some("1"))),
            Ok(ev(None, json!("b"), None)),
            Ok(ev(None, json!("c"), Some("3"))),
        ]
    );
    assert_eq!(got.last_event_id.as_deref(), Some("3"));
}

#[test]
fn an_id_containing_nul_is_ignored() {
    let got = parse(b"id: 1\n\ndata: a\nid: x\0y\n\n");
    assert_eq!(got.items, vec![Ok(data(json!("a")))]);
    assert_eq!(got.last_event_id.as_deref(), Some("1"));
}

#[test]
fn the_last_event_id_is_taken_when_a_block_closes() {
    // An id-only block counts, though it dispatches nothing.
    let got = parse(b"id: 1\n\n");
    assert_eq!((got.items, got.last_event_id), (vec![], Some("1".into())));
    // It persists across events without ids.
    let got = parse(b"id: 1\ndata: a\n\ndata: b\n\n");
    assert_eq!(got.last_event_id.as_deref(), Some("1"));
    // An id in a block cut off before its blank line does not count.
    let got = parse(b"id: 1\ndata: a\n\nid: 2\ndata: b\n");
    assert_eq!(got.items, vec![Ok(ev(None, json!("a"), Some("1")))]);
    assert_eq!(got.last_event_id.as_deref(), Some("1"));
    // It is there as soon as the event is.
    for size in [1, 3, 4096] {
        let input = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\n\ndata: c\nid: 3\n\n";
        let mut sse = SseReader::new(Chunked::new(input, &[size]));
        let mut seen = Vec::new();
        while let Some(item) = sse.next() {
            seen.push((item.unwrap().id, sse.last_event_id().map(str::to_owned)));
        }
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            seen,
            vec![
                (some("1"), some("1")),
                (None, some("1")),
                (some("3"), some("3"))
            ]
        );
    }
}

#[test]
fn an_empty_id_clears_the_last_event_id() {
    let got = parse(b"id: 1\ndata: a\n\nid:\ndata: b\n\n");
    assert_eq!(
        got.items,
        vec![Ok(ev(None, json!("a"), Some("1"))), Ok(data(json!("b")))]
    );
    assert_eq!(got.last_event_id, None);
    // Also in an id-only block, and with `id` written without a colon.
    assert_eq!(parse(b"id: 1\n\nid\n\n").last_event_id, None);
    assert_eq!(
        parse(b"id: 1\n\nid: \n\nid: 2\n\n")
            .last_event_id
            .as_deref(),
        Some("2")
    );
}

#[test]
fn retry_with_only_ascii_digits_sets_the_delay() {
    let got = parse(b"retry: 2500\n\n");
    assert_eq!(
        (got.items, got.retry),
        (vec![], Some(Duration::from_millis(2500)))
    );
    let got = parse(b"retry: 7\nretry: 2x\nretry: -3\nretry:\nretry: 1.5\nretry:  9\nretry: 99999999999999999999\n\n");
    assert_eq!(got.retry, Some(Duration::from_millis(7)));
    // It takes effect at once, even in a block that is cut off.
    assert_eq!(parse(b"retry: 10").retry, None);
    assert_eq!(parse(b"retry: 10\n").retry, Some(Duration::from_millis(10)));
}

#[test]
fn a_line_without_a_colon_is_a_field_with_an_empty_value() {
    assert_eq!(events(b"data\n\n"), vec![data(json!(""))]);
    assert_eq!(
        events(b"event\ndata\n\n"),
        vec![ev(Some(""), json!(""), None)]
    );
    assert_eq!(events(b"data\ndata\n\n"), vec![data(json!("\n"))]);
}

#[test]
fn only_one_space_after_the_colon_is_removed() {
    assert_eq!(
        events(b"data:x\n\ndata:  x\n\ndata:\tx\n\ndata: x \n\nevent:  e\ndata: 1\n\n"),
        vec![
            data(json!("x")),
            data(json!(" x")),
            data(json!("\tx")),
            data(json!("x ")),
            ev(Some(" e"), json!(1), None),
        ]
    );
}

#[test]
fn comments_and_unknown_fields_are_ignored() {
    assert_eq!(
        events(b": hello\nfoo: bar\nDATA: x\ndata : y\n:\ndata: 1\n: data: 2\n\n"),
        vec![data(json!(1))]
    );
}

#[test]
fn a_blank_line_dispatches_only_a_block_with_data_or_an_event() {
    assert_eq!(
        events(b"\n\n\r\n: c\n\nid: 1\n\nretry: 5\n\nfoo: x\n\ndata: 1\n\n\n\nevent: e\n\n"),
        vec![data(json!(1)), ev(Some("e"), json!(""), None)]
    );
}

#[test]
fn an_unfinished_last_block_is_discarded() {
    let a = vec![data(json!("a"))];
    assert_eq!(events(b"data: a\n\ndata: b\n"), a);
    assert_eq!(events(b"data: a\n\ndata: b"), a);
    assert_eq!(events(b"data: a\n\nevent: x\ndata: b\r"), a);
    assert_eq!(events(b"data: a\n\nevent: x"), a);
    assert_eq!(events(b""), vec![]);
}

// ---------- the size cap ----------

#[test]
fn an_event_over_the_cap_ends_the_stream_with_an_error() {
    let got = parse_with(
        b"data: 1\n\ndata: 12345678901234567890\n\ndata: 2\n\n",
        Some(20),
    );
    assert_eq!(got.items, vec![Ok(data(json!(1))), Err(CAP_MESSAGE.into())]);
    // A line of exactly the cap passes.
    let got = parse_with(b"data: 12345678901234\n\n", Some(20));
    assert_eq!(got.items, vec![Ok(data(json!(12345678901234u64)))]);
    // Data gathered over lines counts: 9 bytes held, then a 15-byte line.
    let got = parse_with(b"data: 123456789\ndata: 123456789\n\n", Some(20));
    assert_eq!(got.items, vec![Err(CAP_MESSAGE.into())]);
    // So do the name and id held.
    let got = parse_with(b"event: 12345678\nid: 12345678\ndata: 1\n\n", Some(20));
    assert_eq!(got.items, vec![Err(CAP_MESSAGE.into())]);
}

#[test]
fn a_character_cut_by_the_end_of_input_counts_against_the_cap() {
    // A line of 20 bytes and a replacement character: 23 bytes of text, as
    // the same line with an invalid byte in place of the cut character.
    let line = b"data: 12345678901234";
    for end in [&b"\xE2"[..], b"\xE2\x82", b"\xFF"] {
        let input = [&line[..], end].concat();
        let got = parse_with(&input, Some(20));
        assert_eq!(got.items, vec![Err(CAP_MESSAGE.into())], "{input:?}");
        assert_eq!(parse_with(&input, Some(23)).items, vec![], "{input:?}");
    }
}

#[test]
fn comment_lines_do_not_count_against_the_cap() {
    let mut input = b": ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1000));
    input.extend(b"\ndata: 1\n\n");
    let got = parse_with(&input, Some(20));
    assert_eq!(got.items, vec![Ok(data(json!(1)))]);
}

#[test]
fn an_endless_line_is_refused_once_it_passes_the_cap() {
    for chunk in [1, 7, 64] {
        let mut reader = Endless {
            prefix: b"data: ",
            consumed: 0,
            chunk,
        };
        let mut sse = SseReader::new(&mut reader).with_max_event_size(1000);
        let err = sse.next().unwrap().unwrap_err();
        assert!(matches!(err, zaby::Error::Stream(_)), "{err}");
        assert!(sse.next().is_none());
        drop(sse);
        assert!(
            reader.consumed <= 1000 + chunk,
            "{} bytes read",
            reader.consumed
        );
    }
}

#[test]
fn the_default_cap_is_16_mib() {
    assert_eq!(zaby::sse::DEFAULT_MAX_EVENT_SIZE, 16 << 20);
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'a', (16 << 20) - 6));
    input.extend(b"\n\n");
    let got = read_all(&input[..], None);
    assert!(matches!(&got.items[..], [Ok(e)] if e.data.as_str().unwrap().len() == (16 << 20) - 6));
    input.insert(10, b'a');
    let got = read_all(&input[..], None);
    assert_eq!(
        got.items,
        vec![Err(
            "event stream failed: an event exceeded the cap of 16777216 bytes; \
                  raise it with SseReader::with_max_event_size or \
                  ZabyRuntimeBuilder::stream_max_event_size"
                .into()
        )]
    );
}

// ---------- reading ----------

#[test]
fn a_read_error_ends_the_stream_with_a_stream_error() {
    let script = Script::new(vec![
        Ok(b"data: a\n\ndata: b"),
        Err(io::ErrorKind::ConnectionReset),
        Ok(b"\n\n"),
    ]);
    let got = read_all(script, None);
    assert_eq!(
        got.items,
        vec![
            Ok(data(json!("a"))),
            Err("event stream failed: reading the stream failed: scripted failure".into())
        ]
    );
}

#[test]
fn a_timed_out_read_is_a_timeout_error() {
    for kind in [io::ErrorKind::TimedOut, io::ErrorKind::WouldBlock] {
        let mut sse = SseReader::new(Script::new(vec![Ok(b"data: a\n\n"), Err(kind)]));
        // The event comes as soon as its blank line is read, before the failing read.
        assert_eq!(sse.next().unwrap().unwrap(), data(json!("a")));
        let err = sse.next().unwrap().unwrap_err();
        assert!(matches!(err, zaby::Error::Timeout(_)));
        assert_eq!(err.to_string(), "timed out waiting for the next event");
        assert!(sse.next().is_none());
    }
}

#[test]
fn an_interrupted_read_is_tried_again() {
    let script = Script::new(vec![
        Ok(b"data: a\n"),
        Err(io::ErrorKind::Interrupted),
        Ok(b"\n"),
    ]);
    assert_eq!(read_all(script, None).items, vec![Ok(data(json!("a")))]);
}

// ---------- fixtures ----------

#[test]
fn an_ag_ui_run() {
    let got = parse(include_bytes!("data/ag_ui_run.sse"));
    let e = |id: &str, data: Value| Ok(ev(None, data, Some(id)));
    assert_eq!(
        got.items,
        vec![
            e(
                "1",
                json!({"type": "RUN_STARTED", "threadId": "thread-7", "runId": "run-42"})
            ),
            e(
                "2",
                json!({"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"})
            ),
            e(
                "3",
                json!({"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Let me check "})
            ),
            e(
                "4",
                json!({"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "the weather."})
            ),
            e("5", json!({"type": "TEXT_MESSAGE_END", "messageId": "m1"})),
            e(
                "6",
                json!({"type": "TOOL_CALL_START", "toolCallId": "call-1",
                       "toolCallName": "get_weather", "parentMessageId": "m1"})
            ),
            e(
                "7",
                json!({"type": "TOOL_CALL_ARGS", "toolCallId": "call-1", "delta": "{\"city\":\"Zürich\"}"})
            ),
            e(
                "8",
                json!({"type": "TOOL_CALL_END", "toolCallId": "call-1"})
            ),
            e(
                "9",
                json!({"type": "TOOL_CALL_RESULT", "messageId": "m2", "toolCallId": "call-1",
                       "content": "{\"tempC\":18}"})
            ),
            e(
                "10",
                json!({"type": "TEXT_MESSAGE_CHUNK", "messageId": "m3", "delta": "It is 18 °C in Zürich."})
            ),
            e(
                "11",
                json!({"type": "RUN_FINISHED", "threadId": "thread-7", "runId": "run-42"})
            ),
        ]
    );
    assert_eq!(got.last_event_id.as_deref(), Some("11"));
    assert_eq!(got.retry, Some(Duration::from_secs(3)));
}

#[test]
fn a_runtime_client_run() {
    let got = parse(include_bytes!("data/runtime_client_run.sse"));
    let e = |name: &str, id: &str, data: Value| Ok(ev(Some(name), data, Some(id)));
    assert_eq!(
        got.items,
        vec![
            e("text", "evt-1", json!({"content": "Checking the weather"})),
            e("thinking", "evt-2", json!("the user wants Paris")),
            e(
                "tool_call",
                "evt-3",
                json!({"toolName": "weather", "toolCallId": "call-1", "args": {"city": "Paris"}})
            ),
            e(
                "tool_result",
                "evt-4",
                json!({"toolCallId": "call-1", "result": {"tempC": 18}})
            ),
            e(
                "approval_required",
                "evt-5",
                json!({"approvalId": "appr-1", "tool": "send_email"})
            ),
            e("text", "evt-6", json!({"content": "It is 18 °C in Paris."})),
            e("RunFinished", "evt-7", json!({"result": "ok"})),
        ]
    );
    assert_eq!(got.last_event_id.as_deref(), Some("evt-7"));
    assert_eq!(got.retry, Some(Duration::from_secs(2)));
}

#[test]
fn fixtures_read_the_same_with_crlf_and_cr_line_ends() {
    for fixture in [
        &include_bytes!("data/ag_ui_run.sse")[..],
        &include_bytes!("data/runtime_client_run.sse")[..],
    ] {
        let lf = parse(fixture);
        let text = std::str::from_utf8(fixture).unwrap();
        assert_eq!(parse(text.replace('\n', "\r\n").as_bytes()), lf);
        assert_eq!(parse(text.replace('\n', "\r").as_bytes()), lf);
    }
}

// ---------- properties ----------

/// Bytes that are mostly pieces of the syntax, so blocks actually form.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"event".to_vec()),
        Just(b"id".to_vec()),
        Just(b"retry".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
        Just(b"12".to_vec()),
        // Characters, whole, cut short and invalid.
        Just("é€🦀".as_bytes().to_vec()),
        Just(b"\xE2\x82".to_vec()),
        Just(b"\xF0\x9F".to_vec()),
        Just(b"\xEF\xBB".to_vec()),
        Just(b"\xE0\x80\x80\xFF".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
}

/// Lines of fields, so that blocks form often: a name, a colon with or
/// without spaces, a value of text, JSON, digits and odd bytes, a line end.
fn field_lines() -> impl Strategy<Value = Vec<u8>> {
    const NAMES: &[&[u8]] = &[
        b"data",
        b"event",
        b"id",
        b"retry",
        b"",
        b"\xEF\xBB\xBFdata",
        b"x",
    ];
    const COLONS: &[&[u8]] = &[b": ", b":", b":  ", b""];
    const VALUES: &[&[u8]] = &[
        b"a b",
        b"{\"a\":[1,\"\xC3\xA9\"]}",
        b"42",
        b"\"x\xFFy\"",
        b"\xE2\x82",
        b"\xF0\x9F\xA6\x80",
        b"\0",
    ];
    const ENDS: &[&[u8]] = &[b"\n", b"\r", b"\r\n", b"\n\n", b""];
    let pick = |items: &'static [&'static [u8]]| prop::sample::select(items);
    let line = (
        pick(NAMES),
        pick(COLONS),
        prop::collection::vec(pick(VALUES), 0..3),
        pick(ENDS),
    )
        .prop_map(|(name, colon, value, end)| [name, colon, &value.concat(), end].concat());
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.concat())
}

/// The rules applied the simple way, to compare the parser with: the whole
/// input at once, the raw bytes of each field decoded on their own
/// (`from_utf8_lossy`), the cap counted in bytes of that text.
fn model(input: &[u8], cap: Option<usize>) -> Outcome {
    let cap = cap.unwrap_or(zaby::sse::DEFAULT_MAX_EVENT_SIZE);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Outcome {
        items: vec![],
        last_event_id: None,
        retry: None,
    };
    let mut data: Option<Vec<u8>> = None;
    let mut name: Option<Vec<u8>> = None;
    let mut id: Option<Vec<u8>> = None;
    let mut rest = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    loop {
        let end = rest.iter().position(|&b| b == b'\n' || b == b'\r');
        let line = &rest[..end.unwrap_or(rest.len())];
        let comment = line.first() == Some(&b':');
        let held: usize = [&data, &name, &id]
            .iter()
            .map(|field| field.as_deref().map_or(0, |b| text(b).len()))
            .sum();
        if !line.is_empty() && !comment && held + text(line).len() > cap {
            out.items
                .push(Err(CAP_MESSAGE.replace("20", &cap.to_string())));
            return out;
        }
        // An unfinished last line is dropped, with its block.
        let Some(end) = end else { return out };
        let mut next = end + 1;
        if rest[end] == b'\r' && rest.get(next) == Some(&b'\n') {
            next += 1;
        }
        rest = &rest[next..];
        if line.is_empty() {
            let mut event_id = None;
            match id.take() {
                Some(i) if i.is_empty() => out.last_event_id = None,
                Some(i) => {
                    out.last_event_id = Some(text(&i));
                    event_id = Some(text(&i));
                }
                None => {}
            }
            if data.is_some() || name.is_some() {
                let data = text(&data.take().unwrap_or_default());
                out.items.push(Ok(SseEvent {
                    event: name.take().map(|n| text(&n)),
                    data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                    id: event_id,
                }));
            }
            continue;
        }
        if comment {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => match &mut data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(value);
                }
                None => data = Some(value.to_vec()),
            },
            b"event" => name = Some(value.to_vec()),
            b"id" if !value.contains(&0) => id = Some(value.to_vec()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(ms) = text(value).parse() {
                    out.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }
}

fn cap() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (0usize..48).prop_map(Some)]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An event and how to write it: its data as JSON or as lines of text.
#[derive(Clone, Debug)]
struct Written {
    name: Option<String>,
    id: Option<String>,
    data: Result<Value, Vec<String>>,
    comment: bool,
    line_end: &'static str,
}

fn written() -> impl Strategy<Value = Written> {
    let text = (
        "~[^\r\n]{0,16}",
        prop::collection::vec("[^\r\n]{0,16}", 0..3),
    )
        .prop_map(|(first, rest)| [vec![first], rest].concat());
    (
        prop::option::of("[^\r\n]{0,12}"),
        prop::option::of("[^\r\n\0]{1,12}"),
        prop_oneof![json_value().prop_map(Ok), text.prop_map(Err)],
        any::<bool>(),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(name, id, data, comment, line_end)| Written {
            name,
            id,
            data,
            comment,
            line_end,
        })
}

impl Written {
    fn write(&self, out: &mut String) {
        let nl = self.line_end;
        if self.comment {
            out.push_str(&format!(": keep-alive{nl}"));
        }
        if let Some(name) = &self.name {
            out.push_str(&format!("event: {name}{nl}"));
        }
        if let Some(id) = &self.id {
            out.push_str(&format!("id: {id}{nl}"));
        }
        match &self.data {
            Ok(value) => out.push_str(&format!("data: {value}{nl}")),
            Err(lines) => lines
                .iter()
                .for_each(|line| out.push_str(&format!("data: {line}{nl}"))),
        }
        out.push_str(nl);
    }

    fn expected(&self) -> SseEvent {
        SseEvent {
            event: self.name.clone(),
            data: match &self.data {
                Ok(value) => value.clone(),
                Err(lines) => Value::String(lines.join("\n")),
            },
            id: self.id.clone(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_reads_of_any_bytes_agree(
        input in prop::collection::vec(any::<u8>(), 0..512),
        sizes in prop::collection::vec(1usize..24, 1..6),
        cap in cap(),
    ) {
        let whole = read_all(&input[..], cap);
        prop_assert_eq!(read_all(Chunked::new(&input, &sizes), cap), whole);
    }

    #[test]
    fn any_reads_of_stream_like_bytes_agree(
        input in stream_bytes(),
        sizes in prop::collection::vec(1usize..24, 1..6),
        cap in cap(),
    ) {
        let whole = read_all(&input[..], cap);
        prop_assert_eq!(read_all(Chunked::new(&input, &sizes), cap), whole);
    }

    #[test]
    fn bytes_read_as_the_simple_model_says(
        input in prop_oneof![stream_bytes(), field_lines()],
        cap in cap(),
    ) {
        // `parse_with` reads the input whole and in many splits, and
        // checks that they agree.
        prop_assert_eq!(parse_with(&input, cap), model(&input, cap));
    }

    #[test]
    fn written_events_read_back(
        events in prop::collection::vec(written(), 0..8),
        sizes in prop::collection::vec(1usize..64, 1..4),
        bom in any::<bool>(),
    ) {
        let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
        events.iter().for_each(|e| e.write(&mut text));
        let want: Vec<_> = events.iter().map(|e| Ok(e.expected())).collect();
        let last_id = events.iter().rev().find_map(|e| e.id.clone());
        for got in [
            read_all(text.as_bytes(), None),
            read_all(Chunked::new(text.as_bytes(), &sizes), None),
        ] {
            prop_assert_eq!(&got.items, &want);
            prop_assert_eq!(&got.last_event_id, &last_id);
        }
    }
}

/// Inputs the fuzz target found interesting (`tests/data/fuzz/`, one per
/// feature: lone CRs, NULs in ids, invalid UTF-8, unterminated blocks, …):
/// every way of reading them agrees, with and without a small cap.
#[test]
fn fuzz_corpus_inputs_read_the_same_every_way() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        parse_with(&input, None);
        parse_with(&input, Some(16));
        seen += 1;
    }
    assert!(seen >= 10, "the corpus is there");
}
