//! What a Python or TypeScript program does with the official SDKs, done
//! with this crate, over real HTTP on loopback: per-call options, open
//! bodies, lenient run answers, the rest of the token calls.

mod common;

use std::sync::{Mutex, mpsc};
use std::time::Duration;

use common::{Conn, LIMIT, TestServer, bounded};
use mockito::{Matcher, Server};
use serde_json::{Value, json};
use zaby::{
    CancelHandle, Error, EventsQuery, Feedback, RequestOptions, RetryPolicy, StartRun,
    UniqueIdRotation, Zaby, ZabyRuntime, testing::MockTransport,
};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.parity-token.sig";
const KEY: &str = "zaby_sk_test_parity_key";
const RUNS: &str = "/api/v1/agent-runtime/runs";
const MANAGED: &str = "/api/v1/provisioning/managed-agents";

fn runtime(url: &str) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(url)
        .build()
        .unwrap()
}

fn zaby(url: &str) -> Zaby {
    Zaby::builder()
        .api_key(KEY)
        .api_origin(url)
        .tenant_id("tenant-7")
        .build()
        .unwrap()
}

const TOKEN_ANSWER: &str = r#"{"token":"eyJminted.token.value","tokenType":"Bearer"}"#;

#[test]
fn a_request_id_goes_in_the_header_and_in_a_body_that_has_none() {
    let mut server = Server::new();
    let start = server
        .mock("POST", RUNS)
        .match_header("x-request-id", "opt-1")
        .match_body(Matcher::Json(json!({"input": "hi", "requestId": "opt-1"})))
        .with_body(r#"{"runId":"r1"}"#)
        .create();
    // The StartRun's own id wins, in the body and the header alike.
    let own_wins = server
        .mock("POST", RUNS)
        .match_header("x-request-id", "mine")
        .match_body(Matcher::PartialJson(json!({"requestId": "mine"})))
        .with_body(r#"{"runId":"r2"}"#)
        .create();
    let feedback = server
        .mock("POST", format!("{RUNS}/r1/feedback").as_str())
        .match_header("x-request-id", "opt-3")
        .match_body(Matcher::Json(json!({"rating": 5, "requestId": "opt-3"})))
        .create();
    let approve = server
        .mock("POST", format!("{RUNS}/r1/approvals/a1/approve").as_str())
        .match_header("x-request-id", "opt-4")
        .create();
    let client = runtime(&server.url());
    let with_id = |id: &str| RequestOptions::new().request_id(id);
    client
        .runs()
        .with_options(with_id("opt-1"))
        .start("hi")
        .unwrap();
    let run = client
        .runs()
        .with_options(with_id("opt-2"))
        .start(StartRun::new("hi").request_id("mine"))
        .unwrap();
    assert_eq!(run.run_id, "r2");
    client
        .feedback()
        .with_options(with_id("opt-3"))
        .create("r1", Feedback::rating(5))
        .unwrap();
    client
        .approvals()
        .with_options(with_id("opt-4"))
        .approve("r1", "a1")
        .unwrap();
    for mock in [start, own_wins, feedback, approve] {
        mock.assert();
    }
}

#[test]
fn extra_headers_are_sent_and_reserved_or_invalid_ones_refused_before_sending() {
    let mut server = Server::new();
    let sent = server
        .mock("GET", format!("{RUNS}/r1/events").as_str())
        .match_header("x-trace-id", "abc")
        .with_body("[]")
        .expect(1)
        .create();
    let client = runtime(&server.url());
    let options = RequestOptions::new().header("X-Trace-Id", "abc");
    client
        .runs()
        .with_options(options)
        .events("r1", EventsQuery::default())
        .unwrap();
    sent.assert();
    let nothing = server.mock("GET", Matcher::Any).expect(0).create();
    for (name, value) in [
        ("Authorization", "Bearer stolen"),
        ("X-ZABY-API-KEY", "k"),
        ("host", "elsewhere"),
        ("Content-Length", "0"),
        ("transfer-encoding", "chunked"),
        ("bad name", "x"),
        ("x-ok", "line\r\nbreak: yes"),
    ] {
        let options = RequestOptions::new().header(name, value);
        let err = client
            .runs()
            .with_options(options)
            .events("r1", EventsQuery::default())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{name}: {err:?}");
    }
    nothing.assert();
}

#[test]
fn query_parameters_are_appended_in_order_encoded_and_repeatable() {
    let server = TestServer::start(|mut conn: Conn| {
        if conn.request.request_line.contains("/aiui") {
            conn.write(common::SSE_HEAD);
            conn.write("event: RunFinished\ndata: {}\n\n");
        } else {
            conn.write(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
            );
        }
    });
    let client = runtime(&server.url);
    let options = RequestOptions::new()
        .query("after", "5")
        .query("tag", "a b")
        .query("tag", "x&y");
    let runs = client.runs().with_options(options);
    runs.events("r1", EventsQuery::limit(10)).unwrap();
    let events: Vec<_> = runs.stream("r1").unwrap().collect();
    assert!(events[0].as_ref().unwrap().is_run_finished());
    let lines: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.request_line)
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {RUNS}/r1/events?limit=10&after=5&tag=a+b&tag=x%26y HTTP/1.1"),
            format!("GET {RUNS}/r1/aiui?after=5&tag=a+b&tag=x%26y HTTP/1.1"),
        ]
    );
}

#[test]
fn a_call_takes_its_own_timeout_and_retry_policy() {
    let silent = TestServer::start(|conn: Conn| conn.hold_open());
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&silent.url)
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let options = RequestOptions::new().timeout(Duration::from_millis(200));
    let err = bounded(move || {
        client
            .runs()
            .with_options(options)
            .events("r1", EventsQuery::default())
            .unwrap_err()
    });
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");

    let mut server = Server::new();
    let path = format!("{RUNS}/r1/events");
    let busy = server
        .mock("GET", path.as_str())
        .with_status(503)
        .expect(1)
        .create();
    let ok = server
        .mock("GET", path.as_str())
        .with_body("[]")
        .expect(1)
        .create();
    let options = RequestOptions::new()
        .retries(RetryPolicy::attempts(1).backoff(Duration::ZERO, Duration::ZERO));
    let events = runtime(&server.url())
        .runs()
        .with_options(options)
        .events("r1", EventsQuery::default())
        .unwrap();
    assert!(events.is_empty());
    busy.assert();
    ok.assert();
}

/// A server that answers as `answer` says, which tells the test when it
/// has got as far as the test waits for by calling its second argument.
fn signalling(answer: fn(&mut Conn, &dyn Fn())) -> (TestServer, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = TestServer::start(move |mut conn: Conn| {
        answer(&mut conn, &|| {
            let _ = tx.lock().unwrap().send(());
        });
    });
    (server, rx)
}

/// Tells the test that a request arrived, then never answers.
fn arrived_and_held(conn: &mut Conn, signal: &dyn Fn()) {
    signal();
    conn.hold_open();
}

#[test]
fn cancel_ends_a_call_waiting_for_its_answer() {
    let (server, arrived) = signalling(arrived_and_held);
    let client = runtime(&server.url);
    let cancel = CancelHandle::new();
    let options = RequestOptions::new().cancel_handle(cancel.clone());
    let call = std::thread::spawn(move || client.runs().with_options(options).start("hi"));
    arrived.recv_timeout(LIMIT).unwrap();
    cancel.cancel();
    let err = bounded(move || call.join().unwrap().unwrap_err());
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(!err.is_retryable());
}

#[test]
fn cancel_ends_the_sleep_before_a_retry() {
    // The signal comes once the client has read the 503 and let the
    // connection go: it is then past its answer, waiting to retry.
    let (server, answered) = signalling(|conn, signal| {
        conn.write("HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        if conn.client_closed() {
            signal();
        }
    });
    let client = runtime(&server.url);
    let cancel = CancelHandle::new();
    let hour = Duration::from_secs(3600);
    let options = RequestOptions::new()
        .cancel_handle(cancel.clone())
        .retries(RetryPolicy::attempts(3).backoff(hour, hour));
    let call = std::thread::spawn(move || {
        client
            .runs()
            .with_options(options)
            .events("r1", EventsQuery::default())
    });
    answered.recv_timeout(LIMIT).unwrap();
    cancel.cancel();
    let err = bounded(move || call.join().unwrap().unwrap_err());
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert_eq!(server.requests().len(), 1, "no retry after the cancel");
}

#[test]
fn cancel_ends_a_stream_opening_and_an_open_stream() {
    let (server, arrived) = signalling(arrived_and_held);
    let client = runtime(&server.url);
    let cancel = CancelHandle::new();
    let options = RequestOptions::new().cancel_handle(cancel.clone());
    let opening = {
        let client = client.clone();
        std::thread::spawn(move || client.runs().with_options(options).stream("r1").map(drop))
    };
    arrived.recv_timeout(LIMIT).unwrap();
    cancel.cancel();
    let err = bounded(move || opening.join().unwrap().unwrap_err());
    assert!(matches!(err, Error::Cancelled), "{err:?}");

    let (server, _arrived) = signalling(|conn, _| {
        conn.write(common::SSE_HEAD);
        conn.write("id: 1\nevent: text\ndata: {\"content\":\"a\"}\n\n");
        conn.hold_open();
    });
    let cancel = CancelHandle::new();
    let options = RequestOptions::new().cancel_handle(cancel.clone());
    let mut stream = runtime(&server.url)
        .runs()
        .with_options(options)
        .stream("r1")
        .unwrap();
    assert!(stream.next().unwrap().is_ok());
    let (started, reading) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        started.send(()).unwrap();
        stream.next().is_none()
    });
    // Most often the reader is blocked in its read by now, which only the
    // cancel reaching the open connection ends before the idle timeout.
    reading.recv_timeout(LIMIT).unwrap();
    cancel.cancel();
    assert!(
        bounded(move || reader.join().unwrap()),
        "the open stream just ends"
    );
}

#[test]
fn extra_body_fields_are_sent_and_owned_names_refused() {
    let mut server = Server::new();
    let start = server
        .mock("POST", RUNS)
        .match_body(Matcher::PartialJson(
            json!({"threadId": "t-1", "meta": null}),
        ))
        .with_body(r#"{"runId":"r1"}"#)
        .create();
    let feedback = server
        .mock("POST", format!("{RUNS}/r1/feedback").as_str())
        .match_body(Matcher::Json(
            json!({"label": "positive", "sessionId": "s-1"}),
        ))
        .create();
    let client = runtime(&server.url());
    let input = StartRun::new("hi")
        .field("threadId", "t-1")
        .field("meta", Value::Null);
    client.runs().start(input).unwrap();
    let rated = Feedback::default()
        .label("positive")
        .field("sessionId", "s-1");
    client.feedback().create("r1", rated).unwrap();
    start.assert();
    feedback.assert();

    let nothing = server.mock("POST", Matcher::Any).expect(0).create();
    for name in ["input", "requestId", "respondAsync"] {
        let err = client
            .runs()
            .start(StartRun::new("hi").field(name, 1))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{name}: {err:?}");
    }
    for name in [
        "rating",
        "label",
        "comment",
        "domainKey",
        "topicKey",
        "metadata",
        "requestId",
    ] {
        let err = client
            .feedback()
            .create("r1", Feedback::default().field(name, 1))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{name}: {err:?}");
    }
    nothing.assert();
}

#[test]
fn a_run_id_is_read_from_run_id_else_id_else_run_dot_id() {
    let mock = MockTransport::new();
    for body in [
        json!({"runId": "a", "id": "x"}),
        json!({"id": "b"}),
        json!({"run": {"id": "c"}, "status": "PENDING"}),
        json!({"status": "PENDING"}),
        json!({"id": 7}),
    ] {
        mock.push_json("POST", RUNS, 200, body);
    }
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .transport(mock)
        .build()
        .unwrap();
    let ids: Vec<_> = (0..3)
        .map(|_| client.runs().start("hi").unwrap().run_id)
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    for _ in 0..2 {
        let err = client.runs().start("hi").unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
    }
}

#[test]
fn the_mock_matches_paths_without_their_query_and_records_url_and_stream() {
    let mock = MockTransport::new();
    mock.push_json("GET", &format!("{RUNS}/r1/events?limit=99"), 200, json!([]));
    mock.push_sse("GET", &format!("{RUNS}/r1/aiui"), vec![]);
    mock.push_json("GET", &format!("{RUNS}/r2/events"), 200, json!([]));
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin("https://api.example")
        .transport(mock.clone())
        .build()
        .unwrap();
    client.runs().events("r1", EventsQuery::limit(10)).unwrap();
    let _ = client.runs().stream("r1").unwrap().count();
    let err = client
        .runs()
        .events("r3", EventsQuery::limit(10))
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("{RUNS}/r2/events"))
            && message.contains(&format!("{RUNS}/r3/events")),
        "{message}"
    );
    assert!(
        !message.contains("limit"),
        "queries are not compared: {message}"
    );
    let recorded = mock.requests();
    assert_eq!(
        recorded[0].url,
        format!("https://api.example{RUNS}/r1/events?limit=10")
    );
    assert!(!recorded[0].stream);
    assert!(recorded[1].stream);
}

#[test]
fn the_token_calls_of_the_official_clients() {
    let mut server = Server::new();
    let rotate = server
        .mock(
            "POST",
            format!("{MANAGED}/external-apps/app%2F1/runtime-tokens/rotate").as_str(),
        )
        .match_header("x-zaby-api-key", KEY)
        .match_header("x-tenant-id", "tenant-7")
        .match_header("x-request-id", "rot-1")
        .match_body(Matcher::Json(json!({
            "deploymentId": "d1", "uniqueId": "u1", "tokenFamilyId": "f1",
            "quotaPolicyId": "q1", "requestId": "rot-1"
        })))
        .with_body(TOKEN_ANSWER)
        .create();
    let by_previous = server
        .mock("POST", format!("{MANAGED}/runtime-tokens/rotate").as_str())
        .match_header("x-tenant-id", "tenant-7")
        .match_body(Matcher::Json(
            json!({"previousToken": "eyJold.token", "requestId": "rot-2"}),
        ))
        .with_body(TOKEN_ANSWER)
        .create();
    let feedback = server
        .mock("POST", format!("{MANAGED}/runs/r1/feedback").as_str())
        .match_header("x-zaby-api-key", KEY)
        .match_header("x-tenant-id", "tenant-7")
        .match_body(Matcher::Json(json!({"rating": 4})))
        .create();
    let tokens = zaby(&server.url());
    let rotation = UniqueIdRotation::new("app/1", "d1", "u1")
        .token_family_id("f1")
        .quota_policy_id("q1")
        .request_id("rot-1");
    let minted = tokens
        .runtime_tokens()
        .rotate_by_unique_id(rotation)
        .unwrap();
    assert_eq!(minted.token, "eyJminted.token.value");
    tokens
        .runtime_tokens()
        .with_options(RequestOptions::new().request_id("rot-2"))
        .rotate("eyJold.token")
        .unwrap();
    tokens
        .runtime_tokens()
        .record_feedback("r1", Feedback::rating(4))
        .unwrap();
    let refused = tokens
        .runtime_tokens()
        .record_feedback("r1", Feedback::rating(9));
    assert!(matches!(refused, Err(Error::InvalidInput(_))));
    for mock in [rotate, by_previous, feedback] {
        mock.assert();
    }
}

#[test]
fn a_tenant_id_that_cannot_be_a_header_is_refused_at_build() {
    let built = Zaby::builder().api_key(KEY).tenant_id("a\nb").build();
    assert!(matches!(built, Err(Error::Config(m)) if m.contains("x-tenant-id")));
}

#[test]
fn one_handle_cancels_every_call_it_was_given_to() {
    let (server, arrived) = signalling(arrived_and_held);
    let client = runtime(&server.url);
    let cancel = CancelHandle::new();
    let options = RequestOptions::new().cancel_handle(cancel.clone());
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let (client, options) = (client.clone(), options.clone());
            std::thread::spawn(move || match i {
                0 => client.runs().with_options(options).start("hi").map(drop),
                1 => client.runs().with_options(options).stream("r1").map(drop),
                _ => client
                    .runs()
                    .with_options(options)
                    .events("r1", EventsQuery::default())
                    .map(drop),
            })
        })
        .collect();
    for _ in 0..3 {
        arrived.recv_timeout(LIMIT).unwrap();
    }
    cancel.cancel();
    for call in calls {
        let err = bounded(move || call.join().unwrap().unwrap_err());
        assert!(matches!(err, Error::Cancelled), "{err:?}");
    }
}
