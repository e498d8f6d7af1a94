//! The live stream over loopback HTTP: ending at the run's end, resuming
//! after cuts, idle timeouts, cancellation, and the channel for game loops.
// Closures here return `zaby::Result`, whose error is deliberately unboxed.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Conn, SSE_CHUNKED_HEAD, SSE_HEAD, TestServer, block, bounded, chunk};
use serde_json::json;
use zaby::{Error, SseEvent, ZabyRuntime};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.stream-token.sig";
/// Generous: only a broken implementation ever waits this long.
const WATCHDOG: Duration = common::LIMIT;

fn client(server: &TestServer) -> ZabyRuntime {
    builder(server).build().unwrap()
}

fn builder(server: &TestServer) -> zaby::ZabyRuntimeBuilder {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&server.url)
        .stream_idle_timeout(Some(WATCHDOG))
}

/// Blocks 1..=n of text, then RunFinished as n + 1.
fn script(n: usize) -> Vec<String> {
    let mut blocks: Vec<String> = (1..=n)
        .map(|i| block(i, "text", &format!(r#"{{"content":"w{i}"}}"#)))
        .collect();
    blocks.push(block(n + 1, "RunFinished", r#"{"result":"done"}"#));
    blocks
}

fn expected(n: usize) -> Vec<SseEvent> {
    let mut events: Vec<SseEvent> = (1..=n)
        .map(|i| SseEvent {
            event: Some("text".into()),
            data: json!({"content": format!("w{i}")}),
            id: Some(i.to_string()),
        })
        .collect();
    events.push(SseEvent {
        event: Some("RunFinished".into()),
        data: json!({"result": "done"}),
        id: Some((n + 1).to_string()),
    });
    events
}

/// Streams run `r1` to its end on a watchdog: every item, and the reconnect count.
fn stream_r1(runtime: ZabyRuntime) -> (Vec<zaby::Result<SseEvent>>, u32) {
    bounded(move || {
        let mut stream = runtime.runs().stream("r1").unwrap();
        let items = stream.by_ref().collect();
        (items, stream.reconnects())
    })
}

/// As [`stream_r1`], for a stream that must not fail.
fn events_r1(runtime: ZabyRuntime) -> (Vec<SseEvent>, u32) {
    let (items, reconnects) = stream_r1(runtime);
    (items.into_iter().map(Result::unwrap).collect(), reconnects)
}

/// The events after `last-event-id`, from the script.
fn after_last_id(conn: &Conn, blocks: &[String]) -> Vec<String> {
    let from = conn
        .request
        .header("last-event-id")
        .map_or(0, |id| id.parse().unwrap());
    blocks[from..].to_vec()
}

#[test]
fn stops_at_run_finished_while_the_server_holds_the_connection() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_CHUNKED_HEAD);
        for b in script(3) {
            conn.write(chunk(&b));
        }
        conn.hold_open();
    });
    let runtime = client(&server);
    let (events, _) = events_r1(runtime);
    assert_eq!(events, expected(3));
    let seen = &server.requests()[0];
    assert_eq!(
        seen.request_line,
        "GET /api/v1/agent-runtime/runs/r1/aiui HTTP/1.1"
    );
    assert_eq!(seen.header("accept"), Some("text/event-stream"));
    assert_eq!(seen.header("accept-encoding"), Some("identity"));
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen.header("last-event-id"), None);
}

/// Connection 0 sends `cut` blocks, then closes (cleanly, or mid-chunk);
/// later connections resume after `last-event-id`.
fn cut_server(n: usize, cut: usize, abrupt: bool) -> TestServer {
    TestServer::start(move |mut conn| {
        let blocks = script(n);
        let frame = |text: &str| if abrupt { chunk(text) } else { text.to_owned() };
        conn.write(if abrupt { SSE_CHUNKED_HEAD } else { SSE_HEAD });
        conn.write(frame("retry: 0\n\n"));
        let send: Vec<String> = if conn.index == 0 {
            blocks[..cut].to_vec()
        } else {
            after_last_id(&conn, &blocks)
        };
        for b in &send {
            conn.write(frame(b));
        }
        if abrupt && conn.index == 0 {
            // Half an event, then the socket closes without the chunked end.
            conn.write(chunk("id: 99\ndata: {\"half\""));
        }
    })
}

#[test]
fn resumes_after_a_cut_at_every_event_delivering_each_exactly_once() {
    let n = 5;
    for abrupt in [false, true] {
        for cut in 1..=n {
            let server = cut_server(n, cut, abrupt);
            let runtime = client(&server);
            let (events, reconnects) = events_r1(runtime);
            assert_eq!(events, expected(n), "cut after {cut}, abrupt {abrupt}");
            assert_eq!(reconnects, 1);
            let requests = server.requests();
            assert_eq!(requests.len(), 2);
            assert_eq!(
                requests[1].header("last-event-id"),
                Some(cut.to_string().as_str())
            );
            assert_eq!(
                requests[1].header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str())
            );
        }
    }
}

#[test]
fn a_server_that_repeats_events_on_resume_does_not_repeat_them_to_the_caller() {
    let server = TestServer::start(|mut conn| {
        conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
        let blocks = script(4);
        // Always starts over from the first event: the client must skip repeats.
        let upto = if conn.index == 0 { 2 } else { blocks.len() };
        for b in &blocks[..upto] {
            conn.write(b);
        }
    });
    let runtime = client(&server);
    let (events, _) = events_r1(runtime);
    assert_eq!(events, expected(4));
}

#[test]
fn a_cut_with_no_id_seen_ends_with_a_stream_error_and_no_reconnect() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write("event: text\ndata: {\"content\":\"a\"}\n\n");
    });
    let runtime = client(&server);
    let (items, _) = stream_r1(runtime);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let Err(Error::Stream(why)) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert!(why.contains("cut short"), "{why}");
    assert_eq!(server.connections(), 1);
}

#[test]
fn gives_up_after_max_reconnects_in_a_row() {
    let server = TestServer::start(|mut conn| {
        conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
        if conn.index == 0 {
            conn.write(block(1, "text", r#"{"content":"a"}"#));
        }
    });
    let runtime = builder(&server).max_reconnects(2).build().unwrap();
    let (items, reconnects) = stream_r1(runtime);
    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[1], Err(Error::Stream(why)) if why.contains("cut short")),
        "{:?}",
        items[1]
    );
    assert_eq!(reconnects, 2);
    assert_eq!(server.connections(), 3);
}

#[test]
fn a_delivered_event_resets_the_reconnect_count() {
    // Every connection delivers one new event and then drops.
    let server = TestServer::start(|mut conn| {
        conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
        let blocks = script(4);
        if let Some(b) = after_last_id(&conn, &blocks).first() {
            conn.write(b);
        }
    });
    let runtime = builder(&server).max_reconnects(1).build().unwrap();
    let (events, _) = events_r1(runtime);
    assert_eq!(events, expected(4));
}

#[test]
fn a_reconnect_answered_with_a_non_retryable_status_ends_with_that_error() {
    let server = TestServer::start(|mut conn| {
        if conn.index == 0 {
            conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
            conn.write(block(1, "text", r#"{"content":"a"}"#));
        } else {
            let body = r#"{"message":"run is gone","code":"RUN_NOT_FOUND"}"#;
            conn.write(format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ));
        }
    });
    let runtime = client(&server);
    let (items, _) = stream_r1(runtime);
    assert!(
        matches!(&items[1], Err(Error::NotFound(e)) if e.code.as_deref() == Some("RUN_NOT_FOUND")),
        "{:?}",
        items[1]
    );
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_reconnect_answered_503_counts_as_a_failed_resume() {
    let server = TestServer::start(|mut conn| match conn.index {
        0 => {
            conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
            conn.write(block(1, "text", r#"{"content":"w1"}"#));
        }
        1 => conn.write(
            "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nretry-after: 0\r\nconnection: close\r\n\r\n",
        ),
        _ => {
            conn.write(SSE_HEAD);
            for b in after_last_id(&conn, &script(2)) {
                conn.write(b);
            }
        }
    });
    let runtime = client(&server);
    let (events, reconnects) = events_r1(runtime);
    assert_eq!(events, expected(2));
    assert_eq!(reconnects, 2);
}

#[test]
fn opening_errors_come_from_the_stream_call() {
    let server = TestServer::start(|mut conn| {
        match conn.index {
        0 => {
            let body = r#"{"message":"expired","code":"MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"}"#;
            conn.write(format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ));
        }
        1 => conn.write("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"),
        _ => conn.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"),
    }
    });
    let runtime = client(&server);
    assert!(matches!(
        runtime.runs().stream("r1"),
        Err(Error::TokenExpired(_))
    ));
    let no_content = runtime.runs().stream("r1").unwrap_err();
    assert!(
        matches!(&no_content, Error::Stream(m) if m.contains("204")),
        "{no_content}"
    );
    let json = runtime.runs().stream("r1").unwrap_err();
    assert!(
        matches!(&json, Error::Stream(m) if m.contains("application/json")),
        "{json}"
    );
    assert!(matches!(
        runtime.runs().stream(".."),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn a_silent_server_fails_the_stream_with_a_timeout() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(1, "text", r#"{"content":"a"}"#));
        conn.hold_open();
    });
    let runtime = builder(&server)
        .stream_idle_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let (items, _) = stream_r1(runtime);
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(items[1], Err(Error::Timeout(_))), "{:?}", items[1]);
    assert_eq!(server.connections(), 1, "an idle timeout is not resumed");
}

#[test]
fn keep_alive_comments_count_as_activity() {
    // The idle timeout is a time without bytes, so this test needs real time:
    // a silence between two events well past the idle timeout, with a
    // keep-alive comment far more often than it. The margins are wide
    // (comments 20 times as often as the timeout; a silence of 2.5 timeouts)
    // so that a slow machine cannot make it pass or fail by chance. It fails
    // when only events reset the idle timer, or when the timeout bounds the
    // whole body instead of each read.
    const IDLE: Duration = Duration::from_secs(1);
    const EVERY: Duration = Duration::from_millis(50);
    const SILENCE: Duration = Duration::from_millis(2500);
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        let blocks = script(1);
        conn.write(&blocks[0]);
        let start = std::time::Instant::now();
        while start.elapsed() < SILENCE {
            conn.write(": keep-alive\n\n");
            // Paces the comments; ends early once the test drops the server.
            if let Err(mpsc::RecvTimeoutError::Disconnected) =
                conn.hold.lock().unwrap().recv_timeout(EVERY)
            {
                return;
            }
        }
        conn.write(&blocks[1]);
    });
    let runtime = builder(&server)
        .stream_idle_timeout(Some(IDLE))
        .build()
        .unwrap();
    let (first, rest, silence) = bounded(move || {
        let mut stream = runtime.runs().stream("r1").unwrap();
        let first = stream.next().unwrap().unwrap();
        let start = std::time::Instant::now();
        let rest: Vec<zaby::Result<SseEvent>> = stream.collect();
        (first, rest, start.elapsed())
    });
    let rest: Vec<SseEvent> = rest
        .into_iter()
        .map(|item| item.expect("the keep-alives kept the stream alive"))
        .collect();
    assert_eq!([vec![first], rest].concat(), expected(1));
    assert!(silence > IDLE * 2, "the silence was only {silence:?}");
}

#[test]
fn cancel_from_another_thread_ends_a_blocked_stream_and_closes_the_socket() {
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = TestServer::start(move |mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(1, "text", r#"{"content":"a"}"#));
        // Silent from here on; report whether the client closes its side.
        let _ = closed_tx.send(conn.client_closed());
    });
    let runtime = builder(&server).stream_idle_timeout(None).build().unwrap();
    let mut stream = runtime.runs().stream("r1").unwrap();
    assert!(stream.next().unwrap().is_ok());
    let cancel = stream.cancel_handle();
    let (started_tx, started_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        let next = stream.next();
        (next.is_none(), stream.next().is_none())
    });
    started_rx.recv().unwrap();
    cancel.cancel();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(reader.join().unwrap()));
    assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), (true, true));
    assert!(
        closed_rx.recv_timeout(WATCHDOG).unwrap(),
        "the connection was left open"
    );
    assert!(cancel.is_cancelled());
}

#[test]
fn dropping_a_stream_closes_its_connection() {
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = TestServer::start(move |mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(1, "text", r#"{"content":"a"}"#));
        let _ = closed_tx.send(conn.client_closed());
    });
    let runtime = client(&server);
    let mut stream = runtime.runs().stream("r1").unwrap();
    assert!(stream.next().unwrap().is_ok());
    drop(stream);
    assert!(closed_rx.recv_timeout(WATCHDOG).unwrap());
}

#[test]
fn into_channel_delivers_every_event_then_disconnects() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        for b in script(20) {
            conn.write(b);
        }
        conn.hold_open();
    });
    let runtime = client(&server);
    let (events, _cancel) = runtime.runs().stream("r1").unwrap().into_channel();
    let mut got = Vec::new();
    loop {
        match events.recv_timeout(WATCHDOG) {
            Ok(event) => got.push(event.unwrap()),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no event in time"),
        }
    }
    assert_eq!(got, expected(20));
}

#[test]
fn into_channel_cancel_ends_the_thread_while_the_server_is_silent() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(1, "text", r#"{"content":"a"}"#));
        conn.hold_open();
    });
    let runtime = builder(&server).stream_idle_timeout(None).build().unwrap();
    let (events, cancel) = runtime.runs().stream("r1").unwrap().into_channel();
    assert!(events.recv_timeout(WATCHDOG).unwrap().is_ok());
    cancel.cancel();
    // The sender is dropped when the background thread ends.
    assert!(matches!(
        events.recv_timeout(WATCHDOG),
        Err(mpsc::RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn stream_ends_after_run_error_too() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write("id: 1\ndata: {\"type\":\"RUN_ERROR\",\"message\":\"boom\"}\n\n");
        conn.hold_open();
    });
    let runtime = client(&server);
    let (items, _) = stream_r1(runtime);
    assert_eq!(items.len(), 1);
    assert!(items[0].as_ref().unwrap().is_terminal());
}

#[test]
fn ids_out_of_order_on_one_connection_are_all_yielded() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(10, "text", r#"{"content":"a"}"#));
        conn.write(block(2, "text", r#"{"content":"b"}"#));
        conn.write(block(3, "RunFinished", "{}"));
    });
    let runtime = client(&server);
    let ids: Vec<_> = bounded(move || {
        runtime
            .runs()
            .stream("r1")
            .unwrap()
            .map(|e| e.unwrap().id.unwrap())
            .collect()
    });
    assert_eq!(ids, ["10", "2", "3"]);
}

#[test]
fn a_reconnect_asking_to_wait_too_long_ends_the_stream_with_that_error() {
    let server = TestServer::start(|mut conn| {
        if conn.index == 0 {
            conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
            conn.write(block(1, "text", r#"{"content":"a"}"#));
        } else {
            conn.write("HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nretry-after: 3600\r\nconnection: close\r\n\r\n");
        }
    });
    let runtime = client(&server);
    let (items, _) = stream_r1(runtime);
    let Err(err) = &items[1] else {
        panic!("{items:?}")
    };
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.connections(), 2);
}

#[test]
fn an_id_that_cannot_go_in_a_header_ends_the_stream_instead_of_resuming() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write("id: caf\u{e9}\x01\ndata: {}\n\n");
    });
    let runtime = client(&server);
    let (items, _) = stream_r1(runtime);
    assert!(
        matches!(&items[1], Err(Error::Stream(m)) if m.contains("header")),
        "{items:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_server_that_never_answers_the_stream_request_times_out_even_without_an_idle_limit() {
    let server = TestServer::start(|conn| conn.hold_open());
    let runtime = builder(&server)
        .timeout(Duration::from_millis(300))
        .stream_idle_timeout(None)
        .build()
        .unwrap();
    let err = bounded(move || runtime.runs().stream("r1").unwrap_err());
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

#[test]
fn streams_move_to_other_threads_and_handles_are_shared() {
    fn send<T: Send>() {}
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    send::<zaby::EventStream>();
    send_sync_clone::<zaby::CancelHandle>();
    send::<zaby::sse::SseReader<std::io::BufReader<std::net::TcpStream>>>();
}

#[test]
fn the_event_size_cap_is_the_clients_to_set() {
    let server = TestServer::start(|mut conn| {
        conn.write(SSE_HEAD);
        conn.write(block(
            1,
            "text",
            &format!(r#"{{"content":"{}"}}"#, "x".repeat(200)),
        ));
        conn.hold_open();
    });
    let runtime = builder(&server).stream_max_event_size(100).build().unwrap();
    let (items, _) = stream_r1(runtime);
    assert_eq!(items.len(), 1);
    assert!(
        matches!(&items[0], Err(Error::Stream(m)) if m.contains("cap of 100 bytes")),
        "{items:?}"
    );
}

/// One text event per id, the last one RunFinished.
fn id_script(ids: &[String]) -> Vec<String> {
    let last = ids.len() - 1;
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let (name, data) = if i == last {
                ("RunFinished", r#"{"result":"done"}"#.to_owned())
            } else {
                ("text", format!(r#"{{"content":"w{i}"}}"#))
            };
            format!("id: {id}\nevent: {name}\ndata: {data}\n\n")
        })
        .collect()
}

/// Connection 0 sends the first `cut` blocks and closes; every later one
/// sends `replay(blocks, cut)` whatever `last-event-id` says. Returns the ids
/// the caller saw, and the server.
fn ids_through_a_replay(
    ids: &[String],
    cut: usize,
    replay: fn(&[String], usize) -> Vec<String>,
) -> (Vec<String>, TestServer) {
    let blocks = id_script(ids);
    let server = TestServer::start(move |mut conn| {
        conn.write(format!("{SSE_HEAD}retry: 0\n\n"));
        let send = if conn.index == 0 {
            blocks[..cut].to_vec()
        } else {
            replay(&blocks, cut)
        };
        // One write: a thousand small ones would make the test slow.
        conn.write(send.concat());
    });
    let (events, reconnects) = events_r1(client(&server));
    assert_eq!(reconnects, 1);
    let seen = events.into_iter().map(|e| e.id.unwrap()).collect();
    (seen, server)
}

/// The whole stream again, from the first event.
fn everything(blocks: &[String], _cut: usize) -> Vec<String> {
    blocks.to_vec()
}

/// What was sent, backwards, then the rest.
fn backwards_then_the_rest(blocks: &[String], cut: usize) -> Vec<String> {
    let mut replay: Vec<String> = blocks[..cut].iter().rev().cloned().collect();
    replay.extend_from_slice(&blocks[cut..]);
    replay
}

#[test]
fn a_full_replay_of_a_thousand_text_ids_delivers_each_exactly_once() {
    // More ids on each side of the cut than any fixed window of recent ids.
    let ids: Vec<String> = (0..1000).map(|i| format!("e{i}")).collect();
    for replay in [everything, backwards_then_the_rest] {
        let (seen, server) = ids_through_a_replay(&ids, 600, replay);
        assert_eq!(seen, ids);
        assert_eq!(server.requests()[1].header("last-event-id"), Some("e599"));
    }
}

#[test]
fn a_full_replay_of_numeric_ids_delivers_each_exactly_once() {
    let ids: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    for replay in [everything, backwards_then_the_rest] {
        let (seen, _server) = ids_through_a_replay(&ids, 600, replay);
        assert_eq!(seen, ids);
    }
}

#[test]
fn a_full_replay_of_mixed_ids_delivers_each_exactly_once() {
    // Numbers counting up, text, and hex of which some are all digits: the
    // numbers do not count up then, and one below the highest can be new.
    let ids: Vec<String> = (1..=1000)
        .map(|i| match i % 3 {
            0 => i.to_string(),
            1 => format!("e{i}"),
            _ => format!("{:x}", i * 7919),
        })
        .collect();
    for replay in [everything, backwards_then_the_rest] {
        let (seen, _server) = ids_through_a_replay(&ids, 600, replay);
        assert_eq!(seen, ids);
    }
}
