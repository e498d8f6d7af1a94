//! Security properties: the token never shows in debug or display output and
//! never follows a redirect to another origin, plain http needs an explicit
//! opt-in, and ids cannot change the request path.
// Closures here return `zaby::Result`, whose error is deliberately unboxed.

mod common;

use std::time::Duration;

use common::{SSE_HEAD, TestServer, bounded_for};
use serde_json::json;
use zaby::testing::{FakeRuntime, MockTransport};
use zaby::{
    Error, EventsQuery, Feedback, TransportRequest, ZabyGlobalConfig, ZabyRuntime, configure_zaby,
    reset_zaby_config,
};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.security-token-0123456789.sig";
const WATCHDOG: Duration = Duration::from_secs(30);
const PREFIX: &str = "/api/v1/agent-runtime";

fn client_for(origin: &str) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .stream_idle_timeout(Some(WATCHDOG))
        .build()
        .unwrap()
}

/// Fails when `secret` shows in the `Debug` or `Display` output given.
#[track_caller]
fn assert_hidden(secret: &str, what: &str, output: &str) {
    assert!(
        !output.contains(secret),
        "{what} shows the secret: {output}"
    );
}

fn assert_error_hidden(secret: &str, what: &str, err: &Error) {
    assert_hidden(secret, what, &format!("{err}"));
    assert_hidden(secret, what, &format!("{err:?}"));
    assert_hidden(secret, what, &format!("{err:#?}"));
}

// ---------- the token in debug and display output ----------

#[test]
fn the_builder_and_the_client_never_show_the_token() {
    let builder = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin("https://genapi.example");
    assert_hidden(TOKEN, "the builder", &format!("{builder:?} {builder:#?}"));
    let client = builder.build().unwrap();
    assert_hidden(TOKEN, "the client", &format!("{client:?} {client:#?}"));
    let clone = client.clone();
    assert_hidden(TOKEN, "a clone", &format!("{clone:?}"));
    // The output is not empty: it does describe the client.
    assert!(format!("{client:?}").contains("genapi.example"));
}

#[test]
fn a_bad_token_is_refused_without_repeating_it() {
    // A token with a space cannot go in a header; the error must not quote it.
    let bad = "eyJhbGciOi secret-part-of-a-pasted-token";
    let err = ZabyRuntime::builder()
        .token(bad)
        .api_origin("https://genapi.example")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert_error_hidden("secret-part-of-a-pasted-token", "a config error", &err);
}

#[test]
fn a_hand_built_transport_request_masks_credentials() {
    let request = TransportRequest {
        method: "POST".into(),
        url: "https://genapi.example/api/v1/agent-runtime/runs".into(),
        path: "/api/v1/agent-runtime/runs".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("x-zaby-api-key".into(), "zk_live_0123456789abcdef".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: Some(br#"{"input":"hi"}"#.to_vec()),
        stream: false,
        timeout: Some(Duration::from_secs(30)),
    };
    let output = format!("{request:?} {request:#?}");
    assert_hidden(TOKEN, "a transport request", &output);
    assert_hidden("zk_live_0123456789abcdef", "a transport request", &output);
    // The harmless headers are still there to debug with.
    assert!(output.contains("application/json"), "{output}");
}

/// Answers every request with `status` and a body (and a header) echoing the
/// authorization it received, the way careless proxies and debug servers do.
fn echo_server(status: &'static str) -> TestServer {
    TestServer::start(move |mut conn| {
        let auth = conn
            .request
            .header("authorization")
            .unwrap_or("")
            .to_owned();
        let token = auth.trim_start_matches("Bearer ");
        let body = json!({
            "message": format!("token {token} was rejected"),
            "code": "BAD_TOKEN",
            "echo": {"authorization": auth, token: [token]},
        })
        .to_string();
        conn.write(format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
    })
}

#[test]
fn an_error_echoing_the_token_is_masked() {
    bounded_for(WATCHDOG, || {
        for status in [
            "401 Unauthorized",
            "403 Forbidden",
            "422 Unprocessable",
            "500 Oops",
        ] {
            let server = echo_server(status);
            let client = client_for(&server.url);
            let err = client
                .runs()
                .events("r1", EventsQuery::default())
                .unwrap_err();
            assert!(err.status().is_some(), "{status}: {err:?}");
            assert_error_hidden(TOKEN, status, &err);
            // The server did echo it: the mask, not luck, kept it out.
            assert!(
                format!("{err:?}").contains("[redacted]"),
                "{status}: {err:?}"
            );
            let err = client.runs().stream("r1").unwrap_err();
            assert_error_hidden(TOKEN, status, &err);
        }
    });
}

#[test]
fn a_decode_error_echoing_the_token_is_masked() {
    let mock = MockTransport::new();
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin("https://genapi.example")
        .transport(mock.clone())
        .build()
        .unwrap();
    let runs = format!("{PREFIX}/runs");
    // A 200 echoing the request, as a debugging proxy would: not a run.
    let echo = json!({"echo": {"authorization": format!("Bearer {TOKEN}")}}).to_string();
    mock.push_raw("POST", &runs, 200, vec![], echo);
    // The token alone as a JSON string: serde's message quotes the value.
    mock.push_raw("POST", &runs, 200, vec![], format!("{TOKEN:?}"));
    for what in ["an echoed request", "a bare token"] {
        let err = client.runs().start("hi").unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{what}: {err:?}");
        assert_error_hidden(TOKEN, what, &err);
    }
}

#[test]
fn the_fake_runtime_its_requests_and_a_live_stream_never_show_the_token() {
    bounded_for(WATCHDOG, || {
        let fake = FakeRuntime::start();
        let token = fake.token();
        let client = ZabyRuntime::builder()
            .token(&token)
            .api_origin(fake.url())
            .stream_idle_timeout(Some(WATCHDOG))
            .build()
            .unwrap();
        assert_hidden(&token, "the fake runtime", &format!("{fake:?}"));
        let run = client.runs().start("hello there").unwrap();
        let mut stream = client.runs().stream(&run.run_id).unwrap();
        assert_hidden(&token, "a fresh stream", &format!("{stream:?} {stream:#?}"));
        let first = stream.next().unwrap().unwrap();
        assert_hidden(&token, "a stream in progress", &format!("{stream:?}"));
        assert_hidden(&token, "an event", &format!("{first:?}"));
        let cancel = stream.cancel_handle();
        assert_hidden(&token, "a cancel handle", &format!("{cancel:?}"));
        assert!(stream.all(|e| e.is_ok()));

        let requests = fake.requests();
        assert!(requests.len() >= 2);
        for request in &requests {
            // The fake did receive the token: its Debug output hides it.
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {token}").as_str())
            );
            assert_hidden(
                &token,
                "a recorded request",
                &format!("{request:?} {request:#?}"),
            );
        }

        // A wrong token, answered 401 by the fake: the error hides it too.
        let wrong = "eyJ.wrong-token-that-is-long-enough.sig";
        let err = ZabyRuntime::builder()
            .token(wrong)
            .api_origin(fake.url())
            .build()
            .unwrap()
            .runs()
            .start("hi")
            .unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err:?}");
        assert_error_hidden(wrong, "a 401", &err);
    });
}

// ---------- redirects ----------

/// The request line's target.
fn target(seen: &common::Seen) -> &str {
    seen.request_line.split(' ').nth(1).unwrap()
}

/// A server answering the events call with a redirect to `to(own url)`, and
/// every other request with an empty list.
fn redirecting(to: impl Fn() -> String + Send + Sync + 'static) -> TestServer {
    TestServer::start(move |mut conn| {
        let answer = if target(conn.request).ends_with("/events") {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                to()
            )
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]".to_owned()
        };
        conn.write(answer);
    })
}

fn plain_server() -> TestServer {
    TestServer::start(|mut conn| {
        let answer = if target(conn.request).ends_with("/aiui") {
            format!("{SSE_HEAD}id: 1\nevent: RunFinished\ndata: {{}}\n\n")
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]".to_owned()
        };
        conn.write(answer);
    })
}

#[test]
fn no_authorization_reaches_another_origin_after_a_redirect() {
    bounded_for(WATCHDOG, || {
        let other = plain_server();
        let elsewhere = format!("{}/elsewhere/aiui", other.url);
        let origin = TestServer::start(move |mut conn| {
            conn.write(format!(
                "HTTP/1.1 302 Found\r\nlocation: {elsewhere}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            ));
        });
        let client = client_for(&origin.url);
        let events: Vec<_> = client.runs().stream("r1").unwrap().collect();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].as_ref().unwrap().is_run_finished());

        let sent = origin.requests();
        assert_eq!(
            sent[0].header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let followed = other.requests();
        assert_eq!(followed.len(), 1);
        assert_eq!(target(&followed[0]), "/elsewhere/aiui");
        assert_eq!(
            followed[0].header("authorization"),
            None,
            "{:?}",
            followed[0]
        );
    });
}

#[test]
fn the_same_host_by_another_name_is_another_origin() {
    bounded_for(WATCHDOG, || {
        // 127.0.0.1:P and localhost:P are the same socket but not the same origin.
        let server = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let url = server.clone();
        let redirect = redirecting(move || {
            let own = url.get().unwrap();
            format!("{}/moved", own.replace("127.0.0.1", "localhost"))
        });
        server.set(redirect.url.clone()).unwrap();
        let events = client_for(&redirect.url)
            .runs()
            .events("r1", EventsQuery::default());
        let sent = redirect.requests();
        // Where `localhost` does not reach 127.0.0.1 the second request cannot
        // be made; when it was made, it carried no token.
        if let Err(e) = &events {
            assert!(matches!(e, Error::Connection(_)), "{e:?}");
        } else {
            assert_eq!(sent.len(), 2);
            assert_eq!(target(&sent[1]), "/moved");
            assert_eq!(sent[1].header("authorization"), None);
        }
        assert!(sent[0].header("authorization").is_some());
    });
}

#[test]
fn authorization_is_kept_on_the_same_origin() {
    bounded_for(WATCHDOG, || {
        let own = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let url = own.clone();
        let relative = redirecting(|| "/moved/list".to_owned());
        let absolute = redirecting(move || format!("{}/moved/list", url.get().unwrap()));
        own.set(absolute.url.clone()).unwrap();
        for server in [&relative, &absolute] {
            let events = client_for(&server.url)
                .runs()
                .events("r1", EventsQuery::default())
                .unwrap();
            assert!(events.is_empty());
            let sent = server.requests();
            assert_eq!(sent.len(), 2, "{sent:?}");
            assert_eq!(target(&sent[1]), "/moved/list");
            for request in &sent {
                assert_eq!(
                    request.header("authorization"),
                    Some(format!("Bearer {TOKEN}").as_str())
                );
            }
        }
    });
}

#[test]
fn authorization_does_not_come_back_after_leaving_the_origin() {
    bounded_for(WATCHDOG, || {
        // origin -> other -> origin: the other origin chose the last hop.
        let origin_url = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let back = origin_url.clone();
        let other = TestServer::start(move |mut conn| {
            conn.write(format!(
                "HTTP/1.1 302 Found\r\nlocation: {}/back\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                back.get().unwrap()
            ));
        });
        let other_url = other.url.clone();
        let origin = redirecting(move || format!("{other_url}/hop"));
        origin_url.set(origin.url.clone()).unwrap();
        let events = client_for(&origin.url)
            .runs()
            .events("r1", EventsQuery::default())
            .unwrap();
        assert!(events.is_empty());
        let at_origin = origin.requests();
        assert_eq!(at_origin.len(), 2);
        assert!(at_origin[0].header("authorization").is_some());
        assert_eq!(target(&at_origin[1]), "/back");
        assert_eq!(at_origin[1].header("authorization"), None);
        assert_eq!(other.requests()[0].header("authorization"), None);
    });
}

// ---------- plain http ----------

const NOT_LOOPBACK: [&str; 6] = [
    "http://example.com",
    "http://10.1.2.3:8080",
    "http://192.168.1.10",
    "http://localhost.example.com",
    "http://127.0.0.1.nip.io",
    "http://[2001:db8::1]:9080",
];

#[test]
fn plain_http_to_a_host_that_is_not_loopback_needs_the_opt_in() {
    for origin in NOT_LOOPBACK {
        let err = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin(origin)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("allow_insecure_http")),
            "{origin}: {err:?}"
        );

        // With the opt-in, calls go out (here to the in-process transport).
        let mock = MockTransport::new();
        mock.push_json("GET", &format!("{PREFIX}/runs/r1/events"), 200, json!([]));
        let client = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin(origin)
            .allow_insecure_http(true)
            .transport(mock.clone())
            .build()
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        assert_eq!(client.api_origin(), origin);
        client.runs().events("r1", EventsQuery::default()).unwrap();
        assert_eq!(mock.requests().len(), 1);
    }
}

#[test]
fn loopback_and_https_need_no_opt_in() {
    for origin in [
        "http://localhost:9080",
        "http://LOCALHOST",
        "http://127.0.0.1:1",
        "http://127.8.9.10",
        "http://[::1]:9080",
        "https://example.com",
        "https://10.1.2.3:8443",
    ] {
        let client = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin(origin)
            .build();
        assert!(client.is_ok(), "{origin}: {:?}", client.err());
    }
}

#[test]
fn plain_http_from_the_global_configuration_is_checked_too() {
    configure_zaby(ZabyGlobalConfig {
        api_origin: Some("http://example.com".into()),
        ..ZabyGlobalConfig::default()
    });
    let refused = ZabyRuntime::new(TOKEN);
    let allowed = ZabyRuntime::builder()
        .token(TOKEN)
        .allow_insecure_http(true)
        .build();
    reset_zaby_config();
    let err = refused.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("allow_insecure_http")),
        "{err:?}"
    );
    assert_eq!(allowed.unwrap().api_origin(), "http://example.com");
}

// ---------- ids cannot change the path ----------

/// The wire rule, written out independently: everything but
/// `A-Z a-z 0-9 - _ . ~ ! ' ( ) *` becomes `%XX` of its UTF-8 bytes.
fn encode(id: &str) -> String {
    let mut out = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~!'()*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

const TRICKY_IDS: [&str; 20] = [
    "a/b",
    "../../admin",
    "a/../b",
    "..a",
    "a..",
    "...",
    "./x",
    "run?x=1",
    "run#frag",
    "100%",
    "%2F",
    "%2e%2e",
    "a b",
    " ",
    "é",
    "日本語",
    "🦀",
    "x\r\nInjected: 1",
    "a;b,c=d&e+f",
    "\\..\\windows",
];

/// Every call that takes an id, with `id` in each place an id goes; each
/// returns the path it must produce.
fn calls_with(client: &ZabyRuntime, id: &str) -> Vec<(String, zaby::Result<()>)> {
    let e = encode(id);
    let runs = client.runs();
    let approvals = client.approvals();
    vec![
        (format!("{PREFIX}/runs/{e}/aiui"), runs.stream(id).map(drop)),
        (
            format!("{PREFIX}/runs/{e}/events?limit=5"),
            runs.events(id, EventsQuery::limit(5)).map(drop),
        ),
        (
            format!("{PREFIX}/runs/{e}/feedback"),
            client.feedback().create(id, Feedback::rating(4)).map(drop),
        ),
        (
            format!("{PREFIX}/runs/{e}/approvals/a1/approve"),
            approvals.approve(id, "a1").map(drop),
        ),
        (
            format!("{PREFIX}/runs/r1/approvals/{e}/reject"),
            approvals.reject("r1", id).map(drop),
        ),
    ]
}

#[test]
fn ids_cannot_change_the_request_path() {
    bounded_for(WATCHDOG, || {
        // A real server, to see the request target exactly as it was sent.
        let fake = FakeRuntime::start();
        let client = ZabyRuntime::builder()
            .token(fake.token())
            .api_origin(fake.url())
            .stream_idle_timeout(Some(WATCHDOG))
            .build()
            .unwrap();
        for id in TRICKY_IDS {
            fake.clear_requests();
            let calls = calls_with(&client, id);
            let seen: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
            let expected: Vec<&str> = calls.iter().map(|(path, _)| path.as_str()).collect();
            assert_eq!(seen, expected, "id {id:?}");
            for (path, result) in &calls {
                // Unknown runs: the fake answers 404, which shows it routed
                // the request to the run id given, whole.
                let err = result.as_ref().unwrap_err();
                assert!(matches!(err, Error::NotFound(_)), "{id:?} {path}: {err:?}");
                let queries = usize::from(path.contains("/events?"));
                assert_eq!(path.matches('?').count(), queries, "{id:?}: {path}");
                assert!(
                    path.bytes().all(|b| b.is_ascii_graphic() && b != b'#'),
                    "{id:?}: {path}"
                );
                let path = path.split('?').next().unwrap();
                let segments: Vec<&str> = path.split('/').collect();
                let template = if path.contains("/approvals/") { 9 } else { 7 };
                assert_eq!(segments.len(), template, "{id:?}: {path}");
                assert!(!segments.iter().any(|s| *s == "." || *s == ".."), "{path}");
                let at = if path.ends_with("/reject") { 7 } else { 5 };
                assert_eq!(decode(segments[at]), id, "{path}");
            }
        }
    });
}

#[test]
fn empty_and_dot_ids_are_refused_and_nothing_is_sent() {
    bounded_for(WATCHDOG, || {
        let fake = FakeRuntime::start();
        let client = ZabyRuntime::builder()
            .token(fake.token())
            .api_origin(fake.url())
            .build()
            .unwrap();
        for id in ["", ".", ".."] {
            for (path, result) in calls_with(&client, id) {
                assert!(
                    matches!(&result, Err(Error::InvalidInput(m)) if m.contains("id")),
                    "{id:?} for {path}: {result:?}"
                );
            }
        }
        assert!(fake.requests().is_empty(), "{:?}", fake.requests());

        // The same through the in-process transport: not a single request.
        let mock = MockTransport::new();
        let client = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin("https://genapi.example")
            .transport(mock.clone())
            .build()
            .unwrap();
        for id in ["", ".", ".."] {
            assert!(
                calls_with(&client, id)
                    .iter()
                    .all(|(_, r)| matches!(r, Err(Error::InvalidInput(_))))
            );
        }
        assert!(mock.requests().is_empty());
    });
}
