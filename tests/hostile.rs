//! What a hostile or broken server can do to a call, over real HTTP on
//! loopback: redirect it elsewhere, drip-feed an answer, echo the token,
//! panic a background thread. Each test fails on a client that lets it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use common::{Conn, SSE_HEAD, TestServer, block};
use zaby::{Error, Feedback, ZabyRuntime};

const TOKEN: &str = "eyJhbGciOi-hostile-test-token";

fn runtime(url: &str) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(url)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// A server that answers every request with a redirect to `location`.
fn redirecting(status: u16, location: String) -> TestServer {
    TestServer::start(move |mut conn: Conn| {
        conn.write(format!(
            "HTTP/1.1 {status} Moved\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ));
    })
}

fn ok_json() -> TestServer {
    TestServer::start(|mut conn: Conn| {
        let body = r#"{"runId":"r-elsewhere","status":"completed"}"#;
        conn.write(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
    })
}

#[test]
fn a_redirect_of_a_body_to_another_origin_is_refused_and_nothing_goes_there() {
    let elsewhere = ok_json();
    for status in [301, 302, 307, 308] {
        let api = redirecting(status, format!("{}/steal", elsewhere.url));
        let client = runtime(&api.url);
        let calls: [(&str, zaby::Result<()>); 2] = [
            ("start", client.runs().start("secret input").map(drop)),
            (
                "feedback",
                client
                    .feedback()
                    .create("r1", Feedback::rating(5).comment("private"))
                    .map(drop),
            ),
        ];
        for (what, result) in calls {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, Error::Api(e) if e.status == status),
                "{what} {status}: {err:?}"
            );
            assert!(!err.is_retryable(), "{what} {status}");
            assert!(err.to_string().contains("another origin"), "{err}");
        }
    }
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other origin"
    );
}

#[test]
fn a_bodiless_request_may_leave_the_origin_but_without_the_credential() {
    let elsewhere = ok_json();
    let api = redirecting(307, format!("{}/elsewhere", elsewhere.url));
    runtime(&api.url).approvals().approve("r1", "a1").unwrap();
    let seen = elsewhere.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), None);
}

/// Hands out one token and counts how often it was asked for one, and told
/// to drop it.
#[derive(Clone, Default)]
struct Recording(Arc<(AtomicUsize, AtomicUsize)>);

impl zaby::TokenSource for Recording {
    fn token(&self) -> Result<String, zaby::TokenError> {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        Ok(TOKEN.to_owned())
    }

    fn invalidate(&self, _token: &str) {
        self.0.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn another_origin_that_got_no_credential_cannot_have_the_token_dropped() {
    let elsewhere = TestServer::start(|mut conn: Conn| {
        let body = r#"{"message":"expired","code":"MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"}"#;
        conn.write(format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
    });
    let api = redirecting(307, format!("{}/elsewhere", elsewhere.url));
    let source = Recording::default();
    let client = ZabyRuntime::builder()
        .token_source(source.clone())
        .api_origin(&api.url)
        .build()
        .unwrap();
    let err = client.approvals().approve("r1", "a1").unwrap_err();
    assert!(matches!(&err, Error::Api(e) if e.status == 401), "{err:?}");
    let (asked, invalidated) = &*source.0;
    assert_eq!(invalidated.load(Ordering::SeqCst), 0, "the token was kept");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "no second token");
    assert_eq!(elsewhere.requests().len(), 1, "the call was not repeated");
}

#[test]
fn an_error_body_past_the_cap_keeps_what_fits() {
    let body = format!(r#"{{"message":"busy","pad":"{}"}}"#, "x".repeat(100_000));
    let server = TestServer::start(move |mut conn: Conn| {
        conn.write(format!(
            "HTTP/1.1 400 Bad\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
    });
    // The JSON call and the stream opening read an error body alike.
    for err in [
        runtime(&server.url).runs().start("hi").unwrap_err(),
        runtime(&server.url)
            .runs()
            .stream("r1")
            .map(drop)
            .unwrap_err(),
    ] {
        let Error::Validation(e) = &err else {
            panic!("{err:?}")
        };
        let kept = e.body.as_str().unwrap_or_default();
        assert_eq!(kept.len(), 64 * 1024, "{}", &kept[..kept.len().min(40)]);
        assert!(kept.starts_with(r#"{"message":"busy""#));
    }
}

#[test]
fn a_rotation_redirected_elsewhere_never_sends_the_previous_token() {
    let elsewhere = ok_json();
    let api = redirecting(307, format!("{}/steal", elsewhere.url));
    let zaby = zaby::Zaby::builder()
        .api_key("zaby_sk_test_hostile_key")
        .api_origin(&api.url)
        .build()
        .unwrap();
    let err = zaby
        .runtime_tokens()
        .rotate("eyJprevious-token-value")
        .unwrap_err();
    assert_eq!(err.status(), Some(307));
    assert!(elsewhere.requests().is_empty());
}

#[test]
fn a_redirect_on_our_origin_keeps_the_body_and_the_credential() {
    let server = TestServer::start(|mut conn: Conn| {
        if conn.request.request_line.starts_with("POST /moved") {
            let body = r#"{"runId":"r1","status":"pending"}"#;
            conn.write(format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ));
        } else {
            conn.write("HTTP/1.1 307 Moved\r\nlocation: /moved\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    let run = runtime(&server.url).runs().start("hi").unwrap();
    assert_eq!(run.run_id, "r1");
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(seen[1].header("content-length").is_some_and(|n| n != "0"));
}

#[test]
fn a_bodiless_post_has_content_length_zero_and_is_never_chunked() {
    let server = TestServer::start(|mut conn: Conn| {
        conn.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    let client = runtime(&server.url);
    client.approvals().approve("r1", "a1").unwrap();
    client.approvals().reject("r1", "a1").unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "two requests, no stray third: {seen:?}");
    for request in seen {
        assert_eq!(request.header("content-length"), Some("0"), "{request:?}");
        assert_eq!(request.header("transfer-encoding"), None, "{request:?}");
    }
}

/// Answers 503 and then drips its body a byte at a time, far longer than
/// the client's timeout; reports whether the client hung up first.
fn dripping_503(after_first: Option<String>) -> (TestServer, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = TestServer::start(move |mut conn: Conn| {
        if let (0, Some(first)) = (conn.index, &after_first) {
            conn.write(SSE_HEAD);
            conn.write(first);
            return;
        }
        conn.write("HTTP/1.1 503 Busy\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n");
        // 200 bytes at 300 ms: a minute, when the client allows one second.
        let mut hung_up = false;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(300));
            if std::io::Write::write_all(conn.socket, b"x").is_err() {
                hung_up = true;
                break;
            }
        }
        let _ = tx.lock().unwrap().send(hung_up);
    });
    (server, rx)
}

#[test]
fn opening_a_stream_is_bounded_by_the_timeout_however_the_error_drips() {
    let (server, hung_up) = dripping_503(None);
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&server.url)
        .timeout(Duration::from_secs(1))
        .stream_idle_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    let err = client.runs().stream("r1").unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert!(
        hung_up.recv().unwrap(),
        "the client gave up before the drip ended"
    );
}

#[test]
fn a_resume_is_bounded_by_the_timeout_however_the_error_drips() {
    let first = block(1, "text", r#"{"content":"a"}"#);
    let (server, hung_up) = dripping_503(Some(first));
    let client = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&server.url)
        .timeout(Duration::from_secs(1))
        .stream_idle_timeout(Some(Duration::from_secs(60)))
        .max_reconnects(1)
        .build()
        .unwrap();
    let items: Vec<_> = client.runs().stream("r1").unwrap().collect();
    assert!(items[0].is_ok());
    assert!(
        matches!(items.last(), Some(Err(Error::Stream(m))) if m.contains("cut short")),
        "{items:?}"
    );
    assert!(
        hung_up.recv().unwrap(),
        "the client gave up before the drip ended"
    );
}

#[test]
fn a_content_type_echoing_the_token_is_masked() {
    let server = TestServer::start(|mut conn: Conn| {
        let echo = conn
            .request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        conn.write(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; {echo}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ));
    });
    let err = runtime(&server.url).runs().stream("r1").unwrap_err();
    assert!(matches!(err, Error::Stream(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn a_panic_in_the_channel_thread_is_an_error_item_not_a_quiet_end() {
    let first = block(1, "text", r#"{"content":"a"}"#);
    let server = TestServer::start(move |mut conn: Conn| {
        conn.write(SSE_HEAD);
        conn.write(&first);
    });
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let client = ZabyRuntime::builder()
        .api_origin(&server.url)
        .token_provider(move || {
            if counter.fetch_add(1, Ordering::SeqCst) > 0 {
                panic!("the vault went away");
            }
            Ok(TOKEN.to_owned())
        })
        .build()
        .unwrap();
    let (events, _cancel) = client.runs().stream("r1").unwrap().into_channel();
    let items: Vec<_> = events.iter().collect();
    assert!(items[0].is_ok());
    assert!(
        matches!(items.last(), Some(Err(Error::Stream(m))) if m.contains("panicked")),
        "{items:?}"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "the resume asked for a token"
    );
}

#[test]
fn a_refused_redirect_does_not_quote_a_location_echoing_the_token() {
    // The token as a host name: lower-cased by URL parsing, so a mask alone would miss it.
    let api = redirecting(307, format!("http://{TOKEN}.example/steal"));
    let err = runtime(&api.url).runs().start("hi").unwrap_err();
    assert_eq!(err.status(), Some(307));
    let shown = format!("{err} {err:?}").to_lowercase();
    assert!(!shown.contains(&TOKEN.to_lowercase()), "{shown}");
}
