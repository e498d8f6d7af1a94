//! Every non-streaming call over real HTTP on loopback (mockito): method,
//! path, headers, body, error mapping, retries, redirects.

use std::time::{Duration, Instant};

use mockito::{Matcher, Server};
use serde_json::{Value, json};
use zaby::{
    Error, EventsQuery, Feedback, RetryPolicy, RunStatus, SseEvent, StartRun, ZabyRuntime,
    testing::MockTransport,
};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.test-token.sig";
const RUNS: &str = "/api/v1/agent-runtime/runs";

fn client(server: &Server) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(server.url())
        .build()
        .unwrap()
}

fn with_retries(server: &Server, policy: impl Into<RetryPolicy>) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(server.url())
        .retries(policy)
        .build()
        .unwrap()
}

const RUN: &str = r#"{"workflowId":"w1","runId":"r1","deploymentId":"d1","status":"COMPLETED",
  "latestSeq":15,"finalOutput":"Hello!","agentSessionId":"s1","externalAppId":"x1","newField":true}"#;

#[test]
fn start_sends_the_documented_request_and_parses_the_run() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", RUNS)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("accept", "application/json")
        .match_header("content-type", "application/json")
        .match_header("x-request-id", "my-req-001")
        .match_header("user-agent", Matcher::Regex("^zaby-rust/".into()))
        .match_body(Matcher::Json(json!({
            "input": "What can you help me with?",
            "requestId": "my-req-001",
            "respondAsync": false
        })))
        .with_body(RUN)
        .create();
    let run = client(&server)
        .runs()
        .start(
            StartRun::new("What can you help me with?")
                .request_id("my-req-001")
                .respond_async(false),
        )
        .unwrap();
    mock.assert();
    assert_eq!(run.run_id, "r1");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.final_output.as_deref(), Some("Hello!"));
    assert_eq!(run.latest_seq, Some(15));
    assert_eq!(run.workflow_id.as_deref(), Some("w1"));
    assert_eq!(run.extra["newField"], json!(true));
}

#[test]
fn start_generates_a_request_id_in_body_and_header() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", RUNS)
        .match_header("x-request-id", Matcher::Regex("^[0-9a-f-]{36}$".into()))
        .match_body(Matcher::Regex(r#""requestId":"[0-9a-f-]{36}""#.into()))
        .with_body(r#"{"runId":"r2","status":"PENDING"}"#)
        .create();
    let run = client(&server)
        .runs()
        .start(json!({"question": 1}))
        .unwrap();
    mock.assert();
    assert_eq!(run.status, RunStatus::Pending);
}

#[test]
fn events_omits_limit_unless_set_and_reads_records() {
    let mut server = Server::new();
    let body =
        json!({"events": [{"seq": 1, "event": "text", "data": {"content": "Hi"}}]}).to_string();
    let plain = server
        .mock("GET", "/api/v1/agent-runtime/runs/r1/events")
        .match_query(Matcher::Missing)
        .with_body(&body)
        .create();
    let limited = server
        .mock("GET", "/api/v1/agent-runtime/runs/r1/events")
        .match_query(Matcher::UrlEncoded("limit".into(), "100".into()))
        .with_body(&body)
        .create();
    let runtime = client(&server);
    let events = runtime.runs().events("r1", EventsQuery::default()).unwrap();
    runtime
        .runs()
        .events("r1", EventsQuery::limit(100))
        .unwrap();
    plain.assert();
    limited.assert();
    let expected = SseEvent {
        event: Some("text".into()),
        data: json!({"content": "Hi"}),
        id: Some("1".into()),
    };
    assert_eq!(events, vec![expected]);
}

#[test]
fn approvals_post_without_a_body_and_accept_an_empty_answer() {
    let mut server = Server::new();
    let approve = server
        .mock("POST", "/api/v1/agent-runtime/runs/r1/approvals/a1/approve")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("content-type", Matcher::Missing)
        .match_body("")
        .with_body(r#"{"status":"approved"}"#)
        .create();
    let reject = server
        .mock("POST", "/api/v1/agent-runtime/runs/r1/approvals/a1/reject")
        .with_status(204)
        .create();
    let runtime = client(&server);
    assert_eq!(
        runtime.approvals().approve("r1", "a1").unwrap(),
        json!({"status": "approved"})
    );
    assert_eq!(runtime.approvals().reject("r1", "a1").unwrap(), Value::Null);
    approve.assert();
    reject.assert();
}

#[test]
fn feedback_sends_camel_case_fields_and_the_request_id() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/api/v1/agent-runtime/runs/r1/feedback")
        .match_header("x-request-id", "fb-1")
        .match_body(Matcher::Json(json!({
            "rating": 5, "comment": "Excellent response!", "label": "helpful",
            "domainKey": "travel", "topicKey": "weather", "metadata": {"k": 1},
            "requestId": "fb-1"
        })))
        .with_body(r#"{"ok":true}"#)
        .create();
    let feedback = Feedback::rating(5)
        .comment("Excellent response!")
        .label("helpful")
        .domain_key("travel")
        .topic_key("weather")
        .metadata(serde_json::Map::from_iter([("k".to_owned(), json!(1))]))
        .request_id("fb-1");
    let answer = client(&server).feedback().create("r1", feedback).unwrap();
    mock.assert();
    assert_eq!(answer, json!({"ok": true}));
}

#[test]
fn feedback_without_rating_sends_an_empty_object() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/api/v1/agent-runtime/runs/r1/feedback")
        .match_body(Matcher::Json(json!({})))
        .create();
    client(&server)
        .feedback()
        .create("r1", Feedback::default())
        .unwrap();
    mock.assert();
}

#[test]
fn bad_ratings_and_ids_fail_before_sending() {
    let mut server = Server::new();
    let nothing = server.mock("POST", Matcher::Any).expect(0).create();
    let runtime = client(&server);
    for stars in [0, 6, 255] {
        let err = runtime
            .feedback()
            .create("r1", Feedback::rating(stars))
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(m) if m.contains("1 to 5")),
            "{err}"
        );
    }
    for id in ["", ".", ".."] {
        assert!(matches!(
            runtime.approvals().approve(id, "a"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            runtime.approvals().reject("r", id),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            runtime.runs().events(id, EventsQuery::default()),
            Err(Error::InvalidInput(_))
        ));
    }
    nothing.assert();
}

#[test]
fn ids_are_encoded_as_one_path_segment() {
    let mut server = Server::new();
    let mock = server
        .mock(
            "POST",
            "/api/v1/agent-runtime/runs/a%2Fb%3Fc%23d%25../approvals/%20x%C3%A9/approve",
        )
        .with_body("{}")
        .create();
    client(&server)
        .approvals()
        .approve("a/b?c#d%..", " xé")
        .unwrap();
    mock.assert();
}

/// One row of the error table: status, body, and the kind it must become.
fn error_for(status: usize, body: &str) -> Error {
    let mut server = Server::new();
    server
        .mock("GET", Matcher::Any)
        .with_status(status)
        .with_header("x-request-id", "req-9")
        .with_body(body)
        .create();
    client(&server)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err()
}

#[test]
fn error_table() {
    let code = |c: &str| json!({"message": "m", "code": c}).to_string();
    type IsKind = fn(&Error) -> bool;
    let cases: Vec<(usize, String, IsKind)> = vec![
        (401, code("MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"), |e| {
            matches!(e, Error::TokenExpired(_))
        }),
        (403, code("MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"), |e| {
            matches!(e, Error::TokenExpired(_))
        }),
        (
            403,
            code("MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED"),
            |e| matches!(e, Error::TokenExhausted(_)),
        ),
        (401, "{}".into(), |e| matches!(e, Error::Auth(_))),
        (403, "{}".into(), |e| matches!(e, Error::Permission(_))),
        (404, "{}".into(), |e| matches!(e, Error::NotFound(_))),
        (400, "{}".into(), |e| matches!(e, Error::Validation(_))),
        (422, "{}".into(), |e| matches!(e, Error::Validation(_))),
        (429, "{}".into(), |e| matches!(e, Error::RateLimited(_))),
        (500, "{}".into(), |e| matches!(e, Error::Api(_))),
        (409, "{}".into(), |e| matches!(e, Error::Api(_))),
    ];
    for (status, body, is_kind) in cases {
        let err = error_for(status, &body);
        assert!(is_kind(&err), "{status} {body} gave {err:?}");
        assert_eq!(err.status(), Some(status as u16));
        assert_eq!(err.request_id(), Some("req-9"));
    }
}

#[test]
fn error_fields_message_code_and_html_bodies() {
    let err = error_for(
        422,
        r#"{"message":"input is required","errorCode":"VALIDATION"}"#,
    );
    assert_eq!(err.code(), Some("VALIDATION"));
    assert_eq!(err.api_error().unwrap().message, "input is required");
    assert!(!err.is_retryable());
    let html = error_for(502, "<html><body>Bad Gateway</body></html>");
    let api = html.api_error().unwrap();
    assert_eq!(api.body, json!("<html><body>Bad Gateway</body></html>"));
    assert_eq!(api.message, "Zaby API request failed with status 502.");
    assert!(html.is_retryable());
}

#[test]
fn an_echoed_token_never_reaches_the_caller() {
    let body =
        json!({"message": format!("token {TOKEN} is not valid"), "token": TOKEN}).to_string();
    let err = error_for(401, &body);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    let runtime = ZabyRuntime::new(TOKEN).unwrap();
    assert!(!format!("{runtime:?}").contains(TOKEN));
    assert!(!format!("{:?}", ZabyRuntime::builder().token(TOKEN)).contains(TOKEN));
}

#[test]
fn a_2xx_answer_that_is_not_a_run_is_a_decode_error_keeping_the_body() {
    let mut server = Server::new();
    server
        .mock("POST", RUNS)
        .with_body("<html>maintenance</html>")
        .create();
    let err = client(&server).runs().start("hi").unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(decode.body, "<html>maintenance</html>");
    assert!(decode.message.contains("expected a run"), "{err}");
}

#[test]
fn get_calls_are_retried_on_503_then_succeed() {
    let mut server = Server::new();
    let failing = server
        .mock("GET", Matcher::Any)
        .with_status(503)
        .expect_at_most(2)
        .create();
    let ok = server
        .mock("GET", Matcher::Any)
        .with_body("[]")
        .expect(1)
        .create();
    let runtime = with_retries(&server, 2);
    assert!(
        runtime
            .runs()
            .events("r1", EventsQuery::default())
            .unwrap()
            .is_empty()
    );
    failing.expect(2).assert();
    ok.assert();
}

#[test]
fn retries_stop_after_the_policy_attempts() {
    let mut server = Server::new();
    let failing = server
        .mock("GET", Matcher::Any)
        .with_status(503)
        .expect(3)
        .create();
    let err = with_retries(&server, 2)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    failing.assert();
    assert_eq!(err.status(), Some(503));
}

#[test]
fn without_retries_one_request_is_made() {
    let mut server = Server::new();
    let failing = server
        .mock("GET", Matcher::Any)
        .with_status(503)
        .expect(1)
        .create();
    assert!(
        client(&server)
            .runs()
            .events("r1", EventsQuery::default())
            .is_err()
    );
    failing.assert();
}

#[test]
fn post_runs_is_retried_with_the_same_request_id() {
    let mut server = Server::new();
    let failing = server
        .mock("POST", RUNS)
        .match_header("x-request-id", "same-id")
        .match_body(Matcher::PartialJson(json!({"requestId": "same-id"})))
        .with_status(502)
        .expect(3)
        .create();
    let runtime = with_retries(&server, 2);
    let err = runtime
        .runs()
        .start(StartRun::new("hi").request_id("same-id"))
        .unwrap_err();
    failing.assert();
    assert_eq!(err.status(), Some(502));
}

#[test]
fn a_generated_request_id_is_the_same_on_every_try() {
    let mock = MockTransport::new();
    mock.push_json("POST", RUNS, 503, json!({}));
    mock.push_json("POST", RUNS, 200, json!({"runId": "r1"}));
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .transport(mock.clone())
        .retries(RetryPolicy::attempts(1).backoff(Duration::ZERO, Duration::ZERO))
        .build()
        .unwrap();
    runtime.runs().start("hi").unwrap();
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let ids: Vec<_> = sent
        .iter()
        .map(|r| r.header("x-request-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(sent[1].body.as_ref().unwrap()["requestId"], json!(ids[0]));
}

#[test]
fn approvals_and_feedback_are_not_retried_by_default() {
    let mut server = Server::new();
    let failing = server
        .mock("POST", Matcher::Any)
        .with_status(503)
        .expect(2)
        .create();
    let runtime = with_retries(&server, 3);
    assert!(runtime.approvals().approve("r", "a").is_err());
    assert!(runtime.feedback().create("r", Feedback::rating(5)).is_err());
    failing.assert();
}

#[test]
fn retry_after_is_waited_for() {
    let mut server = Server::new();
    let limited = server
        .mock("GET", Matcher::Any)
        .with_status(429)
        .with_header("retry-after", "1")
        .expect(1)
        .create();
    let runtime = with_retries(&server, 1);
    let started = Instant::now();
    let first = runtime.runs().events("r1", EventsQuery::default());
    // Both tries failed; the second came no sooner than retry-after allows.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(matches!(first, Err(Error::RateLimited(_))));
    limited.expect(2).assert();
}

#[test]
fn a_retry_after_beyond_the_maximum_wait_returns_at_once_carrying_it() {
    let mut server = Server::new();
    let limited = server
        .mock("GET", Matcher::Any)
        .with_status(429)
        .with_header("retry-after", "120")
        .expect(1)
        .create();
    let err = with_retries(&server, 3)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    limited.assert();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
}

#[test]
fn connection_failures_are_typed_and_retried() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock_clock = Instant::now();
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(format!("http://127.0.0.1:{port}"))
        .retries(
            RetryPolicy::attempts(2).backoff(Duration::from_millis(100), Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.is_retryable());
    // Two waits of 100 ms and 200 ms show that both retries happened.
    assert!(mock_clock.elapsed() >= Duration::from_millis(300));
}

#[test]
fn redirects_keep_the_token_on_the_same_origin_only() {
    let mut other = Server::new();
    let mut server = Server::new();
    server
        .mock("GET", "/api/v1/agent-runtime/runs/r1/events")
        .with_status(307)
        .with_header("location", "/moved/events")
        .create();
    let same = server
        .mock("GET", "/moved/events")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_status(302)
        .with_header("location", &format!("{}/elsewhere", other.url()))
        .create();
    let cross = other
        .mock("GET", "/elsewhere")
        .match_header("authorization", Matcher::Missing)
        .with_body("[]")
        .create();
    let events = client(&server)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap();
    assert!(events.is_empty());
    same.assert();
    cross.assert();
}

#[test]
fn unfollowable_redirects_are_api_errors() {
    let mut server = Server::new();
    server
        .mock("GET", "/loop")
        .with_status(302)
        .with_header("location", "/loop")
        .create();
    server
        .mock("GET", "/api/v1/agent-runtime/runs/r1/events")
        .with_status(302)
        .with_header("location", "/loop")
        .create();
    let err = client(&server)
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(&err, Error::Api(e) if e.status == 302), "{err:?}");
    assert!(!err.is_retryable());
    server.reset();
    server.mock("POST", RUNS).with_status(301).create();
    let err = client(&server).runs().start("hi").unwrap_err();
    assert_eq!(err.status(), Some(301));
}

#[test]
fn a_token_provider_is_asked_on_every_request() {
    let mut server = Server::new();
    let first = server
        .mock("GET", Matcher::Any)
        .match_header("authorization", "Bearer tok-number-1")
        .with_body("[]")
        .create();
    let second = server
        .mock("GET", Matcher::Any)
        .match_header("authorization", "Bearer tok-number-2")
        .with_body("[]")
        .create();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_provider(move || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Ok(format!("tok-number-{n}"))
        })
        .build()
        .unwrap();
    runtime.runs().events("r1", EventsQuery::default()).unwrap();
    runtime.runs().events("r1", EventsQuery::default()).unwrap();
    first.assert();
    second.assert();
}

#[test]
fn a_failing_token_provider_is_a_config_error_and_nothing_is_sent() {
    let mut server = Server::new();
    let nothing = server.mock("GET", Matcher::Any).expect(0).create();
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_provider(|| Err("vault is sealed".into()))
        .build()
        .unwrap();
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("vault is sealed")),
        "{err}"
    );
    nothing.assert();
}

#[test]
fn timeouts_are_their_own_kind() {
    // A listener that accepts but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.is_retryable());
    drop(listener);
}

#[test]
fn mock_transport_records_requests_and_names_mismatches() {
    let mock = MockTransport::new();
    mock.push_json(
        "GET",
        "/api/v1/agent-runtime/runs/r1/events",
        200,
        json!([]),
    );
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .transport(mock.clone())
        .build()
        .unwrap();
    runtime.runs().events("r1", EventsQuery::limit(5)).unwrap();
    let sent = mock.requests();
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].path, "/api/v1/agent-runtime/runs/r1/events?limit=5");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(sent[0].body.is_none());

    mock.push_json("GET", "/somewhere/else", 200, json!([]));
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("expected GET /somewhere/else but got POST")),
        "{err}"
    );
    mock.reset();
    assert!(mock.requests().is_empty());
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(err.to_string().contains("no answer left"), "{err}");
}

#[test]
fn oversized_json_answers_are_refused() {
    let mock = MockTransport::new();
    let huge = vec![b' '; zaby::MAX_JSON_BODY as usize + 1];
    mock.push_raw("POST", RUNS, 200, vec![], huge);
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .transport(mock)
        .build()
        .unwrap();
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(
        matches!(&err, Error::Decode(d) if d.message.contains("cap")),
        "{err}"
    );
}

#[test]
fn the_client_is_send_sync_clone() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<ZabyRuntime>();
    assert_send_sync_clone::<MockTransport>();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Error>();
}

#[test]
fn a_huge_timeout_is_taken_as_a_long_one_not_a_panic() {
    let mut server = Server::new();
    server.mock("GET", Matcher::Any).with_body("[]").create();
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(server.url())
        .timeout(Duration::MAX)
        .stream_idle_timeout(Some(Duration::MAX))
        .build()
        .unwrap();
    assert!(
        runtime
            .runs()
            .events("r1", EventsQuery::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_protocol_failure_is_not_retried() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { break };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = socket.read(&mut [0u8; 1024]);
            let _ = socket.write_all(b"SMTP READY\r\n\r\n");
        }
    });
    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .retries(3)
        .build()
        .unwrap();
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(&err, Error::Connection(_)), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}
