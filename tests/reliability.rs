//! Reliability over real loopback HTTP: cuts at every point of a stream,
//! 429/503 storms, malformed and oversized answers, and many threads sharing
//! one client without leaking connections.
// Closures here return `zaby::Result`, whose error is deliberately unboxed.

mod common;

use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use common::{SSE_CHUNKED_HEAD, SSE_HEAD, TestServer, bounded_for};
use serde_json::Value;
use zaby::sse::SseReader;
use zaby::testing::{FakeRequest, FakeRuntime, MockTransport};
use zaby::{Error, EventsQuery, Result, RetryPolicy, SseEvent, ZabyRuntime};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.reliability-token.sig";
/// Generous: only a broken implementation ever waits this long.
const WATCHDOG: Duration = Duration::from_secs(30);
/// Gives 10 events: thinking, tool_call, tool_result, 6 text pieces, RunFinished.
const INPUT: &str = "alpha beta gamma delta epsilon";
const EVENTS_OF_INPUT: usize = 10;

/// The load test counts this process's file descriptors: it runs alone, the
/// other tests of this file share the gate among themselves.
static GATE: RwLock<()> = RwLock::new(());

fn shared_gate() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_gate() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|e| e.into_inner())
}

fn fake_builder(fake: &FakeRuntime) -> zaby::ZabyRuntimeBuilder {
    ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .stream_idle_timeout(Some(WATCHDOG))
}

fn fake_client(fake: &FakeRuntime) -> ZabyRuntime {
    fake_builder(fake).build().unwrap()
}

fn server_client(server: &TestServer) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&server.url)
        .stream_idle_timeout(Some(WATCHDOG))
        .build()
        .unwrap()
}

/// Retries that wait almost nothing, so that a storm costs no time.
fn quick_retries(n: u32) -> RetryPolicy {
    RetryPolicy::attempts(n).backoff(Duration::from_millis(1), Duration::from_millis(4))
}

fn requests_to(fake: &FakeRuntime, suffix: &str) -> Vec<FakeRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.split('?').next().unwrap().ends_with(suffix))
        .collect()
}

/// Starts the scripted run and reads its whole stream once, uncut.
fn reference_run(fake: &FakeRuntime, client: &ZabyRuntime) -> (String, Vec<SseEvent>) {
    let run = client.runs().start(INPUT).unwrap();
    let events: Vec<SseEvent> = client
        .runs()
        .stream(&run.run_id)
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(events.len(), EVENTS_OF_INPUT, "{events:#?}");
    let ids: Vec<Option<String>> = events.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<Option<String>> =
        (1..=EVENTS_OF_INPUT).map(|i| Some(i.to_string())).collect();
    assert_eq!(ids, expected);
    assert!(events.last().unwrap().is_run_finished());
    fake.clear_requests();
    (run.run_id, events)
}

// ---------- cuts at every event index ----------

fn cut_at_every_index(close_delimited: bool) {
    let fake = FakeRuntime::start();
    fake.close_delimited_streams(close_delimited);
    let client = fake_client(&fake);
    let (run_id, uncut) = reference_run(&fake, &client);
    fake.retry_ms(Some(0));
    for k in 0..=uncut.len() {
        fake.clear_requests();
        fake.cut_after_events(k);
        let mut stream = client.runs().stream(&run_id).unwrap();
        let items: Vec<Result<SseEvent>> = stream.by_ref().collect();
        let opened = requests_to(&fake, "/aiui");
        if k == 0 {
            // No id seen yet: nothing to resume from, so the cut is reported.
            assert_eq!(items.len(), 1, "k = 0: {items:?}");
            assert!(
                matches!(&items[0], Err(Error::Stream(m)) if m.contains("cut short")),
                "k = 0: {items:?}"
            );
            assert_eq!(opened.len(), 1, "k = 0 must not reconnect");
            assert_eq!(stream.reconnects(), 0);
            continue;
        }
        let events: Vec<SseEvent> = items
            .into_iter()
            .collect::<Result<_>>()
            .unwrap_or_else(|e| panic!("k = {k}: {e}"));
        assert_eq!(events, uncut, "k = {k}: every event once, in order");
        assert!(stream.next().is_none(), "k = {k}: the stream stays ended");
        if k < uncut.len() {
            assert_eq!(stream.reconnects(), 1, "k = {k}");
            assert_eq!(opened.len(), 2, "k = {k}");
            assert_eq!(opened[0].header("last-event-id"), None, "k = {k}");
            assert_eq!(
                opened[1].header("last-event-id"),
                Some(k.to_string().as_str()),
                "k = {k}"
            );
        } else {
            // The knob outlasted the run: an ordinary stream.
            assert_eq!(stream.reconnects(), 0, "k = {k}");
            assert_eq!(opened.len(), 1, "k = {k}");
        }
    }
}

#[test]
fn a_cut_after_any_event_resumes_without_loss_or_repeat_chunked() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || cut_at_every_index(false));
}

#[test]
fn a_cut_after_any_event_resumes_without_loss_or_repeat_close_delimited() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || cut_at_every_index(true));
}

// ---------- 429 and 503 storms ----------

fn storm_on_events(status: u16) {
    let fake = FakeRuntime::start();
    let (run_id, uncut) = reference_run(&fake, &fake_client(&fake));

    // Six failures, six retries: the seventh try succeeds.
    fake.fail_next(6, status, None);
    let client = fake_builder(&fake)
        .retries(quick_retries(6))
        .build()
        .unwrap();
    let events = client
        .runs()
        .events(&run_id, EventsQuery::default())
        .unwrap();
    assert_eq!(events, uncut, "stored events equal the streamed ones");
    assert_eq!(requests_to(&fake, "/events").len(), 7);

    // One failure more than the retries: the storm wins, typed.
    fake.clear_requests();
    fake.fail_next(7, status, None);
    let err = client
        .runs()
        .events(&run_id, EventsQuery::default())
        .unwrap_err();
    assert_eq!(err.status(), Some(status), "{err:?}");
    assert_eq!(err.code(), Some("FAKE_FAILURE"));
    assert_eq!(requests_to(&fake, "/events").len(), 7);
}

#[test]
fn a_429_storm_on_a_get_call_is_ridden_out_with_retries() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || storm_on_events(429));
}

#[test]
fn a_503_storm_on_a_get_call_is_ridden_out_with_retries() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || storm_on_events(503));
}

#[test]
fn a_storm_on_opening_the_stream_is_ridden_out_with_retries() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        let fake = FakeRuntime::start();
        let (run_id, uncut) = reference_run(&fake, &fake_client(&fake));
        fake.fail_next(4, 503, None);
        let client = fake_builder(&fake)
            .retries(quick_retries(4))
            .build()
            .unwrap();
        let events: Vec<SseEvent> = client
            .runs()
            .stream(&run_id)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(events, uncut);
        assert_eq!(requests_to(&fake, "/aiui").len(), 5);
    });
}

fn retry_after_is_honoured(status: u16) {
    let fake = FakeRuntime::start();
    let (run_id, uncut) = reference_run(&fake, &fake_client(&fake));
    fake.fail_next(1, status, Some(1));
    // The policy's own backoff would be 1 ms: only retry-after explains a second.
    let client = fake_builder(&fake)
        .retries(quick_retries(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let events = client
        .runs()
        .events(&run_id, EventsQuery::default())
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(events, uncut);
    assert!(
        elapsed >= Duration::from_secs(1),
        "retry-after: 1 was not waited for ({elapsed:?})"
    );
    assert_eq!(requests_to(&fake, "/events").len(), 2);
}

#[test]
fn retry_after_on_a_429_is_waited_for() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || retry_after_is_honoured(429));
}

#[test]
fn retry_after_on_a_503_is_waited_for() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || retry_after_is_honoured(503));
}

#[test]
fn without_retries_a_storm_gives_the_typed_error_with_retry_after() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        let fake = FakeRuntime::start();
        let client = fake_client(&fake);
        let (run_id, _) = reference_run(&fake, &client);

        fake.fail_next(5, 429, Some(7));
        let err = client
            .runs()
            .events(&run_id, EventsQuery::default())
            .unwrap_err();
        assert!(
            matches!(&err, Error::RateLimited(e) if e.status == 429),
            "{err:?}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.is_retryable());

        fake.fail_next(5, 503, Some(7));
        let err = client
            .runs()
            .events(&run_id, EventsQuery::default())
            .unwrap_err();
        assert!(matches!(&err, Error::Api(e) if e.status == 503), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.is_retryable());

        let err = client.runs().stream(&run_id).unwrap_err();
        assert!(matches!(&err, Error::Api(e) if e.status == 503), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

        // One try each: nothing retried without a policy.
        assert_eq!(requests_to(&fake, "/events").len(), 2);
        assert_eq!(requests_to(&fake, "/aiui").len(), 1);
    });
}

// ---------- malformed answers ----------

/// A server that answers every connection with the same bytes, then closes.
fn raw_server(answer: impl Into<Vec<u8>>) -> TestServer {
    let answer = answer.into();
    TestServer::start(move |mut conn| conn.write(&answer))
}

fn json_head(status: &str, content_type: &str, len: usize) -> String {
    format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len}\r\n\r\n")
}

fn events_error(server: &TestServer) -> Error {
    server_client(server)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err()
}

#[test]
fn an_html_error_page_is_an_api_error_keeping_the_page_as_a_string() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        let html = "<html><head><title>502 Bad Gateway</title></head>\
                    <body><h1>Bad Gateway</h1><p>nginx</p></body></html>";
        let server = raw_server(json_head("502 Bad Gateway", "text/html", html.len()) + html);
        let err = events_error(&server);
        let Error::Api(api) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(api.status, 502);
        assert_eq!(api.body, Value::String(html.to_owned()));
        assert_eq!(api.message, "Zaby API request failed with status 502.");
        assert!(err.is_retryable());
    });
}

#[test]
fn truncated_json_on_a_2xx_is_a_decode_error_keeping_the_raw_body() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        let body = r#"{"events": [{"seq": 1, "event": "text", "data": {"content": "hel"#;
        let server = raw_server(json_head("200 OK", "application/json", body.len()) + body);
        let err = events_error(&server);
        assert!(
            matches!(&err, Error::Decode(d) if d.body == body),
            "{err:?}"
        );

        // The same on POST /runs, through the in-process transport.
        let mock = MockTransport::new();
        let run = r#"{"runId": "r1", "status": "COMPL"#;
        mock.push_raw("POST", "/api/v1/agent-runtime/runs", 200, vec![], run);
        let runtime = ZabyRuntime::builder()
            .token(TOKEN)
            .transport(mock)
            .build()
            .unwrap();
        let err = runtime.runs().start("hi").unwrap_err();
        assert!(matches!(&err, Error::Decode(d) if d.body == run), "{err:?}");
    });
}

#[test]
fn a_stream_answer_of_the_wrong_content_type_is_a_stream_error() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        for kind in ["application/json", "text/html; charset=utf-8", "text/plain"] {
            let body = "data: {\"looks\": \"like sse\"}\n\n";
            let server = raw_server(json_head("200 OK", kind, body.len()) + body);
            let err = server_client(&server).runs().stream("r1").unwrap_err();
            assert!(
                matches!(&err, Error::Stream(m) if m.contains("text/event-stream") && m.contains(kind)),
                "{kind}: {err:?}"
            );
        }
    });
}

#[test]
fn a_header_only_answer_to_a_json_call_is_a_typed_error() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        // The body is delimited by the close, and empty.
        let server = raw_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        );
        let err = events_error(&server);
        assert!(matches!(&err, Error::Decode(_)), "{err:?}");

        // A declared body that never comes: the connection broke.
        let server = raw_server(json_head("200 OK", "application/json", 100));
        let err = events_error(&server);
        assert!(matches!(&err, Error::Connection(_)), "{err:?}");

        // An error status with nothing after it keeps its kind and headers.
        let server = raw_server(
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 3\r\nconnection: close\r\n\r\n",
        );
        let err = events_error(&server);
        assert!(matches!(&err, Error::Api(e) if e.status == 503), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    });
}

#[test]
fn a_header_only_answer_to_the_stream_is_a_stream_error() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        for head in [SSE_HEAD, SSE_CHUNKED_HEAD] {
            let server = raw_server(head);
            let mut stream = server_client(&server).runs().stream("r1").unwrap();
            let first = stream.next();
            assert!(
                matches!(&first, Some(Err(Error::Stream(m))) if m.contains("cut short")),
                "{head:?}: {first:?}"
            );
            assert!(stream.next().is_none());
            // No id was seen: no reconnect.
            assert_eq!(server.connections(), 1, "{head:?}");
        }
    });
}

/// Deterministic noise (xorshift64*).
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
    }
}

/// Reads a stream to its end; the stream must end, any error must be its last item.
fn drain(stream: zaby::EventStream) -> (usize, Option<Error>) {
    let mut events = 0;
    let mut error = None;
    for item in stream {
        assert!(error.is_none(), "an item came after the error {error:?}");
        match item {
            Ok(_) => events += 1,
            Err(e) => error = Some(e),
        }
    }
    (events, error)
}

#[test]
fn random_bytes_on_the_stream_end_it_without_a_panic() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        for seed in 1..=4u64 {
            let mut body = vec![0u8; 256 * 1024];
            Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).fill(&mut body);
            let server = raw_server([SSE_HEAD.as_bytes(), &body].concat());
            let stream = server_client(&server).runs().stream("r1").unwrap();
            let (_, error) = drain(stream);
            // Noise never finishes the run, so the stream reports the cut.
            assert!(
                matches!(error, Some(Error::Stream(_))),
                "seed {seed}: {error:?}"
            );
        }

        // The same with an id first: every resume meets noise again, and the
        // resumes run out.
        let mut body = b"retry: 0\nid: 1\n\n".to_vec();
        let mut noise = vec![0u8; 64 * 1024];
        Noise(99).fill(&mut noise);
        body.extend_from_slice(&noise);
        let server = raw_server([SSE_HEAD.as_bytes(), &body].concat());
        let client = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin(&server.url)
            .stream_idle_timeout(Some(WATCHDOG))
            .max_reconnects(2)
            .build()
            .unwrap();
        let (_, error) = drain(client.runs().stream("r1").unwrap());
        assert!(
            matches!(&error, Some(Error::Stream(m)) if m.contains("reconnects")),
            "{error:?}"
        );
        assert_eq!(server.connections(), 3, "one open and two resumes");
        for request in server.requests().iter().skip(1) {
            assert_eq!(request.header("last-event-id"), Some("1"));
        }
    });
}

#[test]
fn random_bytes_through_the_parser_never_panic() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        let mut buf = vec![0u8; 16 * 1024];
        for seed in 1..=64u64 {
            let mut noise = Noise(seed.wrapping_mul(0xD6E8_FEB8_6659_FD93));
            noise.fill(&mut buf);
            // Sprinkle line ends and field names so that blocks do dispatch.
            for (i, b) in buf.iter_mut().enumerate() {
                match i % 97 {
                    0 => *b = b'\n',
                    1 => *b = b'd',
                    _ => {}
                }
            }
            let reader = SseReader::new(&buf[..]).with_max_event_size(4096);
            let mut items = 0;
            for item in reader {
                items += 1;
                if let Err(e) = item {
                    assert!(matches!(e, Error::Stream(_)), "seed {seed}: {e:?}");
                }
            }
            assert!(items <= buf.len(), "seed {seed}");
        }
    });
}

/// Writes `total` bytes of `fill` after `prefix`, from one reused buffer;
/// reports whether every byte was written (false: the client hung up).
fn write_generated(socket: &mut std::net::TcpStream, prefix: &[u8], fill: u8, total: u64) -> bool {
    if socket.write_all(prefix).is_err() {
        return false;
    }
    let chunk = vec![fill; 64 * 1024];
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if socket.write_all(&chunk[..n]).is_err() {
            return false;
        }
        left -= n as u64;
    }
    socket.write_all(b"\n\n").is_ok()
}

#[test]
fn a_line_beyond_the_default_cap_on_the_stream_is_a_stream_error() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        // 64 MiB: far more than the cap plus what socket buffers can take,
        // so the server can only finish if the client reads it all.
        const LINE: u64 = 64 << 20;
        let (tx, done) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = TestServer::start(move |conn| {
            let prefix = format!("{SSE_HEAD}id: 1\ndata: ");
            let all = write_generated(conn.socket, prefix.as_bytes(), b'x', LINE);
            let _ = tx.lock().unwrap().send(all);
        });
        let mut stream = server_client(&server).runs().stream("r1").unwrap();
        let first = stream.next();
        let cap = zaby::sse::DEFAULT_MAX_EVENT_SIZE.to_string();
        assert!(
            matches!(&first, Some(Err(Error::Stream(m))) if m.contains("cap") && m.contains(&cap)),
            "{first:?}"
        );
        assert!(stream.next().is_none());
        drop(stream);
        let wrote_all = done
            .recv_timeout(WATCHDOG)
            .expect("the server never finished");
        assert!(!wrote_all, "the client read the whole oversized line");
        assert_eq!(server.connections(), 1, "an oversized event is not resumed");
    });
}

/// `data: ` then a long line of `x` generated on demand, counting what was read.
struct LongLine {
    prefix: &'static [u8],
    left: u64,
    produced: Arc<AtomicU64>,
}

impl Read for LongLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix = &self.prefix[n..];
            n
        } else if self.left > 0 {
            let n = (self.left.min(buf.len() as u64)) as usize;
            buf[..n].fill(b'x');
            self.left -= n as u64;
            n
        } else {
            0
        };
        self.produced.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn a_100_mb_line_through_the_parser_stops_at_the_lowered_cap() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        const CAP: usize = 1 << 20;
        const BUFFER: usize = 64 * 1024;
        let produced = Arc::new(AtomicU64::new(0));
        let line = LongLine {
            prefix: b"event: text\ndata: ",
            left: 100_000_000,
            produced: produced.clone(),
        };
        let mut reader =
            SseReader::new(BufReader::with_capacity(BUFFER, line)).with_max_event_size(CAP);
        let first = reader.next();
        assert!(
            matches!(&first, Some(Err(Error::Stream(m))) if m.contains(&format!("cap of {CAP} bytes"))),
            "{first:?}"
        );
        assert!(reader.next().is_none());
        // Bounded memory: it gave up after about the cap, not after 100 MB.
        let read = produced.load(Ordering::Relaxed);
        assert!(read <= (CAP + 2 * BUFFER) as u64, "read {read} bytes");
    });
}

#[test]
fn a_json_answer_beyond_the_cap_is_refused_unread() {
    let _gate = shared_gate();
    bounded_for(WATCHDOG, || {
        const BODY: u64 = 64 << 20;
        const { assert!(BODY > 2 * zaby::MAX_JSON_BODY) };
        let (tx, done) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = TestServer::start(move |conn| {
            let prefix = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{\"events\":[],\"pad\":\"",
                BODY + 16
            );
            let all = write_generated(conn.socket, prefix.as_bytes(), b'x', BODY);
            let _ = tx.lock().unwrap().send(all);
        });
        let err = events_error(&server);
        let Error::Decode(decode) = &err else {
            panic!("{err:?}")
        };
        assert!(decode.message.contains("cap"), "{err}");
        assert!(
            decode.body.starts_with("{\"events\":[]"),
            "{}",
            &decode.body[..64]
        );
        assert!(
            decode.body.len() <= 64 * 1024,
            "kept {} bytes",
            decode.body.len()
        );
        let wrote_all = done
            .recv_timeout(WATCHDOG)
            .expect("the server never finished");
        assert!(!wrote_all, "the client read the whole oversized answer");
    });
}

// ---------- load ----------

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn sixteen_threads_share_one_client_without_errors_or_leaks() {
    const THREADS: usize = 16;
    const RUNS: usize = 100;
    let _gate = exclusive_gate();
    bounded_for(Duration::from_secs(120), || {
        let before = open_fds();
        let fake = FakeRuntime::start();
        let client = fake_client(&fake);
        let errors = Mutex::new(Vec::<String>::new());
        let finished = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (client, errors, finished) = (&client, &errors, &finished);
                scope.spawn(move || {
                    for i in 0..RUNS {
                        let one = || -> Result<Vec<SseEvent>> {
                            let run = client.runs().start(format!("load {t} {i}"))?;
                            client.runs().stream(&run.run_id)?.collect()
                        };
                        match one() {
                            Ok(events) => {
                                // thinking, tool call, tool result, 4 text pieces, RunFinished
                                if events.len() == 8 && events[7].is_run_finished() {
                                    finished.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    errors.lock().unwrap().push(format!("{t}/{i}: {events:?}"));
                                }
                            }
                            Err(e) => errors.lock().unwrap().push(format!("{t}/{i}: {e}")),
                        }
                    }
                });
            }
        });
        let errors = errors.into_inner().unwrap();
        assert!(
            errors.is_empty(),
            "{} errors, first: {:?}",
            errors.len(),
            errors.first()
        );
        assert_eq!(finished.load(Ordering::Relaxed), (THREADS * RUNS) as u64);
        assert_eq!(fake.runs_started(), THREADS * RUNS);

        // Stopping the fake closes its side of every connection and joins its
        // threads; what is left open is ours: at most one pooled connection
        // per thread that shared the client.
        drop(fake);
        let with_pool = open_fds();
        assert!(
            with_pool <= before + THREADS,
            "{before} descriptors before, {with_pool} after the load"
        );
        drop(client);
        let after = open_fds();
        assert!(
            after <= before + 2,
            "{before} descriptors before, {after} after dropping the client"
        );
    });
}
