//! A program holding only an API key mints, runs, streams and keeps going
//! past token expiry and use caps, against the fake runtime over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use zaby::testing::FakeRuntime;
use zaby::{
    EventsQuery, MintingTokenSource, RunEvent, RuntimeTokenRequest, TokenSource, Zaby, ZabyRuntime,
};

fn provisioning(fake: &FakeRuntime) -> Zaby {
    Zaby::builder()
        .api_key(fake.api_key())
        .api_origin(fake.url())
        .build()
        .unwrap()
}

fn runtime(fake: &FakeRuntime, source: impl TokenSource + 'static) -> ZabyRuntime {
    ZabyRuntime::builder()
        .api_origin(fake.url())
        .token_source(source)
        .build()
        .unwrap()
}

/// Starts a run and streams it to the end; returns the streamed text.
fn chat(runtime: &ZabyRuntime, input: &str) -> String {
    let run = runtime.runs().start(input).unwrap();
    let mut text = String::new();
    for event in runtime.runs().stream(&run.run_id).unwrap() {
        if let RunEvent::Text { content } = event.unwrap().kind() {
            text.push_str(content);
        }
    }
    text
}

#[test]
fn a_session_continues_past_token_expiry_with_one_transparent_mint() {
    let fake = FakeRuntime::start();
    let request = RuntimeTokenRequest::new("app-1", "dep-1").ttl_seconds(600);
    let runtime = runtime(&fake, MintingTokenSource::new(provisioning(&fake), request));

    assert_eq!(chat(&runtime, "hello"), "You said: hello");
    assert_eq!(fake.mints(), 1);

    // The token expires on the server's clock; the client learns it from the answer.
    fake.advance_clock(Duration::from_secs(700));
    assert_eq!(chat(&runtime, "still here"), "You said: still here");
    assert_eq!(fake.mints(), 2, "exactly one extra mint");
}

#[test]
fn a_capped_token_is_rotated_before_its_uses_run_out() {
    let fake = FakeRuntime::start();
    let request = RuntimeTokenRequest::new("app-1", "dep-1").max_uses(3);
    let source = MintingTokenSource::new(provisioning(&fake), request)
        .min_remaining_uses(1)
        .rotate(true);
    let runtime = runtime(&fake, source);
    for _ in 0..6 {
        runtime
            .runs()
            .events("missing-is-fine", EventsQuery::default())
            .unwrap_err();
    }
    let used: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/agent-runtime"))
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    let minted = fake.minted_tokens();
    assert_eq!(minted.len(), 2, "one mint, then one rotation");
    let bearer = |i: usize| format!("Bearer {}", minted[i]);
    assert_eq!(
        used,
        [
            bearer(0),
            bearer(0),
            bearer(0),
            bearer(1),
            bearer(1),
            bearer(1)
        ]
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.ends_with("/runtime-tokens/rotate"))
    );
}

#[test]
fn a_stream_resumed_after_expiry_renews_its_token() {
    let fake = FakeRuntime::start();
    fake.retry_ms(Some(0));
    let request = RuntimeTokenRequest::new("app-1", "dep-1").ttl_seconds(600);
    let source = Arc::new(MintingTokenSource::new(provisioning(&fake), request));
    let runtime = runtime(&fake, source.clone());
    let run = runtime.runs().start("one two three").unwrap();
    fake.cut_after_events(4);
    let mut stream = runtime.runs().stream(&run.run_id).unwrap();
    let mut events = Vec::new();
    for event in stream.by_ref() {
        let event = event.unwrap();
        if events.len() == 2 {
            // Expire the token while the stream runs: the resume must renew it.
            fake.advance_clock(Duration::from_secs(700));
        }
        events.push(event);
    }
    assert!(events.last().unwrap().is_run_finished());
    assert_eq!(stream.reconnects(), 1);
    assert_eq!(fake.mints(), 2);
    let ids: Vec<_> = events.iter().map(|e| e.id.clone().unwrap()).collect();
    let expected: Vec<_> = (1..=events.len()).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "every event once, in order");
}

#[test]
fn a_wrong_api_key_is_an_auth_error_from_the_source() {
    let fake = FakeRuntime::start();
    let zaby = Zaby::builder()
        .api_key("zaby_sk_test_not_the_right_key")
        .api_origin(fake.url())
        .build()
        .unwrap();
    let runtime = runtime(
        &fake,
        MintingTokenSource::new(zaby, RuntimeTokenRequest::new("a", "d")),
    );
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(
        matches!(&err, zaby::Error::Config(m) if m.contains("minting a runtime token failed")),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("zaby_sk_test_not_the_right_key"));
}

#[test]
fn a_mint_answered_503_is_retryable_and_keeps_its_cause() {
    let fake = FakeRuntime::start();
    fake.fail_mints(1, 503);
    let source = MintingTokenSource::new(provisioning(&fake), RuntimeTokenRequest::new("a", "d"));
    let runtime = runtime(&fake, source);
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(matches!(err, zaby::Error::Credential(_)), "{err:?}");
    assert!(err.is_retryable());
    let mut cause = std::error::Error::source(&err);
    let mut status = None;
    while let Some(e) = cause {
        status = status.or(e
            .downcast_ref::<zaby::Error>()
            .and_then(zaby::Error::status));
        cause = e.source();
    }
    assert_eq!(
        status,
        Some(503),
        "the provisioning answer is in the source chain"
    );
    assert!(!format!("{err:?}").contains(&fake.api_key()));
    // The failure passed: the next call mints and goes through.
    assert!(runtime.runs().start("hi").is_ok());
}

#[test]
fn retries_carry_a_run_start_past_a_failed_mint() {
    let fake = FakeRuntime::start();
    fake.fail_mints(1, 503);
    let source = MintingTokenSource::new(provisioning(&fake), RuntimeTokenRequest::new("a", "d"));
    let runtime = ZabyRuntime::builder()
        .api_origin(fake.url())
        .token_source(source)
        .retries(zaby::RetryPolicy::attempts(1).backoff(Duration::ZERO, Duration::ZERO))
        .build()
        .unwrap();
    assert!(runtime.runs().start("hi").is_ok());
    assert_eq!(fake.mints(), 1);
}
