//! The provisioning side over loopback HTTP (mockito): minting calls, the API
//! key kept out of every output, and token sources renewing refused tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use mockito::{Matcher, Server};
use serde_json::json;
use zaby::{
    Error, EventsQuery, MintingTokenSource, RuntimeTokenRequest, TokenError, TokenSource, Zaby,
    ZabyRuntime,
};

const KEY: &str = "zk_test_4f3c2b1a09876543210fedcba";
const APPS: &str = "/api/v1/provisioning/managed-agents/external-apps";

fn zaby(server: &Server) -> Zaby {
    Zaby::builder()
        .api_key(KEY)
        .api_origin(server.url())
        .build()
        .unwrap()
}

fn minted(token: &str, extra: serde_json::Value) -> String {
    let mut body = json!({
        "token": token, "tokenType": "Bearer", "expiresAt": "2099-01-01T00:00:00Z",
        "tokenFamilyId": "fam-1", "scopes": ["runs"], "grantId": "g-1"
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body.to_string()
}

#[test]
fn create_sends_the_key_and_the_set_fields_only() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", format!("{APPS}/app%2F1/runtime-tokens").as_str())
        .match_header("x-zaby-api-key", KEY)
        .match_header("authorization", Matcher::Missing)
        .match_header("content-type", "application/json")
        .match_header("x-request-id", "mint-1")
        .match_body(Matcher::Json(json!({
            "deploymentId": "dep-1", "uniqueId": "user-42", "channel": "web",
            "scopes": ["runs:start"], "ttlSeconds": 900, "maxUses": 3,
            "metadata": {"plan": "pro"}, "requestId": "mint-1"
        })))
        .with_body(minted(
            "eyJ.minted.one",
            json!({"remainingUses": 3, "rotateAfterSeconds": 720}),
        ))
        .create();
    let request = RuntimeTokenRequest::new("app/1", "dep-1")
        .unique_id("user-42")
        .channel("web")
        .scopes(["runs:start"])
        .ttl_seconds(900)
        .max_uses(3)
        .metadata(serde_json::Map::from_iter([(
            "plan".to_owned(),
            json!("pro"),
        )]))
        .request_id("mint-1");
    let token = zaby(&server).runtime_tokens().create(request).unwrap();
    mock.assert();
    assert_eq!(token.token, "eyJ.minted.one");
    assert_eq!(token.remaining_uses, Some(3));
    assert_eq!(token.rotate_after, Some(Duration::from_secs(720)));
    assert_eq!(token.token_family_id.as_deref(), Some("fam-1"));
    assert_eq!(token.extra["grantId"], "g-1");
    let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800);
    assert_eq!(token.expires_at, Some(expected));
}

#[test]
fn rotate_and_revoke_use_their_paths() {
    let mut server = Server::new();
    let rotate = server
        .mock(
            "POST",
            "/api/v1/provisioning/managed-agents/runtime-tokens/rotate",
        )
        .match_header("x-zaby-api-key", KEY)
        .match_body(Matcher::Json(json!({"previousToken": "eyJ.old.token"})))
        .with_body(minted("eyJ.new.token", json!({})))
        .create();
    let revoke = server
        .mock(
            "POST",
            "/api/v1/provisioning/managed-agents/runtime-token-families/fam-1/revoke",
        )
        .match_body(Matcher::Json(json!({"reason": "logout"})))
        .with_body(r#"{"tokenFamilyId":"fam-1","revokedAt":"2026-11-29T12:00:00Z"}"#)
        .create();
    let zaby = zaby(&server);
    assert_eq!(
        zaby.runtime_tokens().rotate("eyJ.old.token").unwrap().token,
        "eyJ.new.token"
    );
    let revoked = zaby
        .runtime_tokens()
        .revoke_family("fam-1", "logout")
        .unwrap();
    assert_eq!(revoked["tokenFamilyId"], "fam-1");
    rotate.assert();
    revoke.assert();
    assert!(matches!(
        zaby.runtime_tokens().revoke_family("..", "x"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn the_key_and_tokens_never_show() {
    let mut server = Server::new();
    let echoed =
        json!({"message": format!("bad key {KEY}"), "code": "INVALID_API_KEY"}).to_string();
    server
        .mock("POST", Matcher::Any)
        .with_status(401)
        .with_body(&echoed)
        .create();
    let zaby = zaby(&server);
    let err = zaby
        .runtime_tokens()
        .create(RuntimeTokenRequest::new("a", "d"))
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)));
    let rotated = zaby
        .runtime_tokens()
        .rotate("eyJ.rotated.previous")
        .unwrap_err();
    for shown in [
        format!("{err} {err:?}"),
        format!("{zaby:?}"),
        format!("{:?}", Zaby::builder().api_key(KEY)),
        format!("{rotated} {rotated:?}"),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
    }
    let mut server = Server::new();
    let body = json!({"message": "token eyJ.rotated.previous is revoked"}).to_string();
    server
        .mock("POST", Matcher::Any)
        .with_status(401)
        .with_body(&body)
        .create();
    let err = self::zaby(&server)
        .runtime_tokens()
        .rotate("eyJ.rotated.previous")
        .unwrap_err();
    assert!(
        !format!("{err:?}").contains("eyJ.rotated.previous"),
        "{err:?}"
    );
}

#[test]
fn the_builder_refuses_a_missing_or_empty_key() {
    assert!(matches!(Zaby::builder().build(), Err(Error::Config(m)) if m.contains("no API key")));
    assert!(matches!(Zaby::new(""), Err(Error::Config(_))));
    let insecure = Zaby::builder()
        .api_key(KEY)
        .api_origin("http://zaby.example")
        .build();
    assert!(matches!(insecure, Err(Error::Config(m)) if m.contains("allow_insecure_http")));
}

/// A source handing out `tok-1`, `tok-2`, … and recording invalidations.
#[derive(Default)]
struct Counting {
    asked: AtomicUsize,
    invalidated: std::sync::Mutex<Vec<String>>,
}

impl TokenSource for Counting {
    fn token(&self) -> Result<String, TokenError> {
        let generation = self.invalidated.lock().unwrap().len() + 1;
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(format!("tok-number-{generation}"))
    }

    fn invalidate(&self, token: &str) {
        self.invalidated.lock().unwrap().push(token.to_owned());
    }
}

fn expired() -> String {
    json!({"message": "expired", "code": "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"}).to_string()
}

#[test]
fn a_refused_token_is_invalidated_and_the_call_repeated_once() {
    let mut server = Server::new();
    let old = server
        .mock("GET", Matcher::Any)
        .match_header("authorization", "Bearer tok-number-1")
        .with_status(401)
        .with_body(expired())
        .expect(1)
        .create();
    let new = server
        .mock("GET", Matcher::Any)
        .match_header("authorization", "Bearer tok-number-2")
        .with_body("[]")
        .expect(1)
        .create();
    let source = Arc::new(Counting::default());
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_source(source.clone())
        .build()
        .unwrap();
    assert!(
        runtime
            .runs()
            .events("r1", EventsQuery::default())
            .unwrap()
            .is_empty()
    );
    old.assert();
    new.assert();
    assert_eq!(*source.invalidated.lock().unwrap(), ["tok-number-1"]);
}

#[test]
fn a_second_refusal_is_returned_and_posts_other_than_runs_are_not_repeated() {
    let mut server = Server::new();
    let exhausted =
        json!({"code": "MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED"}).to_string();
    let gets = server
        .mock("GET", Matcher::Any)
        .with_status(403)
        .with_body(&exhausted)
        .expect(2)
        .create();
    let feedback = server
        .mock("POST", Matcher::Any)
        .with_status(401)
        .with_body(expired())
        .expect(1)
        .create();
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_source(Arc::new(Counting::default()))
        .build()
        .unwrap();
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(err, Error::TokenExhausted(_)), "{err:?}");
    let err = runtime
        .feedback()
        .create("r1", zaby::Feedback::rating(5))
        .unwrap_err();
    assert!(matches!(err, Error::TokenExpired(_)), "{err:?}");
    gets.assert();
    feedback.assert();
}

#[test]
fn start_is_repeated_with_the_same_request_id() {
    let mut server = Server::new();
    let refused = server
        .mock("POST", "/api/v1/agent-runtime/runs")
        .match_header("authorization", "Bearer tok-number-1")
        .match_header("x-request-id", "req-7")
        .with_status(401)
        .with_body(expired())
        .create();
    let accepted = server
        .mock("POST", "/api/v1/agent-runtime/runs")
        .match_header("authorization", "Bearer tok-number-2")
        .match_header("x-request-id", "req-7")
        .match_body(Matcher::PartialJson(json!({"requestId": "req-7"})))
        .with_body(r#"{"runId":"r1","status":"COMPLETED"}"#)
        .create();
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_source(Arc::new(Counting::default()))
        .build()
        .unwrap();
    let run = runtime
        .runs()
        .start(zaby::StartRun::new("hi").request_id("req-7"))
        .unwrap();
    assert_eq!(run.run_id, "r1");
    refused.assert();
    accepted.assert();
}

#[test]
fn a_plain_token_is_not_repeated() {
    let mut server = Server::new();
    let refused = server
        .mock("GET", Matcher::Any)
        .with_status(401)
        .with_body(expired())
        .expect(1)
        .create();
    let runtime = ZabyRuntime::builder()
        .token("eyJ.plain.token")
        .api_origin(server.url())
        .build()
        .unwrap();
    assert!(matches!(
        runtime.runs().events("r1", EventsQuery::default()),
        Err(Error::TokenExpired(_))
    ));
    refused.assert();
}

#[test]
fn minting_source_mints_lazily_and_reuses_the_token() {
    let mut server = Server::new();
    let mint = server
        .mock("POST", format!("{APPS}/app-1/runtime-tokens").as_str())
        .with_body(minted("eyJ.minted.once", json!({})))
        .expect(1)
        .create();
    let used = server
        .mock("GET", Matcher::Any)
        .match_header("authorization", "Bearer eyJ.minted.once")
        .with_body("[]")
        .expect(3)
        .create();
    let source = MintingTokenSource::new(zaby(&server), RuntimeTokenRequest::new("app-1", "dep-1"));
    let runtime = ZabyRuntime::builder()
        .api_origin(server.url())
        .token_source(source)
        .build()
        .unwrap();
    for _ in 0..3 {
        runtime.runs().events("r1", EventsQuery::default()).unwrap();
    }
    used.assert();
    mint.assert();
}

#[test]
fn minting_source_mints_again_before_uses_run_out_and_near_expiry() {
    let mut server = Server::new();
    // Three uses: with a minimum of one left unused, the fourth call gets a new token.
    let first = server
        .mock("POST", Matcher::Any)
        .with_body(minted("eyJ.first", json!({"remainingUses": 3})))
        .expect(1)
        .create();
    let source = MintingTokenSource::new(zaby(&server), RuntimeTokenRequest::new("app-1", "dep-1"))
        .min_remaining_uses(1);
    let tokens: Vec<String> = (0..3).map(|_| source.token().unwrap()).collect();
    assert_eq!(tokens, ["eyJ.first"; 3]);
    first.assert();
    server.reset();
    // A token that arrives already expired is handed out once, then replaced.
    let gone = SystemTime::now() - Duration::from_secs(10);
    let expired = format!(
        r#"{{"token":"eyJ.second","expiresAt":"{}"}}"#,
        rfc3339(gone)
    );
    let second = server
        .mock("POST", Matcher::Any)
        .with_body(&expired)
        .expect(2)
        .create();
    assert_eq!(source.token().unwrap(), "eyJ.second");
    assert_eq!(source.token().unwrap(), "eyJ.second");
    second.assert();
}

#[test]
fn minting_source_rotates_when_asked_to() {
    let mut server = Server::new();
    server
        .mock("POST", format!("{APPS}/app-1/runtime-tokens").as_str())
        .with_body(minted("eyJ.first", json!({"remainingUses": 1})))
        .expect(1)
        .create();
    let rotate = server
        .mock(
            "POST",
            "/api/v1/provisioning/managed-agents/runtime-tokens/rotate",
        )
        .match_body(Matcher::Json(json!({"previousToken": "eyJ.first"})))
        .with_body(minted("eyJ.rotated", json!({})))
        .expect(1)
        .create();
    let source = MintingTokenSource::new(zaby(&server), RuntimeTokenRequest::new("app-1", "dep-1"))
        .rotate(true);
    assert_eq!(source.token().unwrap(), "eyJ.first");
    assert_eq!(source.token().unwrap(), "eyJ.rotated");
    rotate.assert();
}

#[test]
fn a_refused_rotation_falls_back_to_minting_anew() {
    let mut server = Server::new();
    let create = server
        .mock("POST", format!("{APPS}/app-1/runtime-tokens").as_str())
        .with_body(minted("eyJ.created", json!({"remainingUses": 1})))
        .expect(2)
        .create();
    let rotate = server
        .mock(
            "POST",
            "/api/v1/provisioning/managed-agents/runtime-tokens/rotate",
        )
        .with_status(401)
        .with_body(r#"{"message":"token was revoked"}"#)
        .expect(1)
        .create();
    let source = MintingTokenSource::new(zaby(&server), RuntimeTokenRequest::new("app-1", "dep-1"))
        .rotate(true);
    assert_eq!(source.token().unwrap(), "eyJ.created");
    assert!(source.token().unwrap_err().to_string().contains("revoked"));
    assert_eq!(source.token().unwrap(), "eyJ.created");
    create.assert();
    rotate.assert();
}

#[test]
fn a_failed_mint_is_an_error_and_the_next_ask_tries_again() {
    let mut server = Server::new();
    let failing = server
        .mock("POST", Matcher::Any)
        .with_status(500)
        .expect_at_most(1)
        .create();
    let ok = server
        .mock("POST", Matcher::Any)
        .with_body(minted("eyJ.after", json!({})))
        .create();
    let source = MintingTokenSource::new(zaby(&server), RuntimeTokenRequest::new("app-1", "dep-1"));
    let err = source.token().unwrap_err();
    assert!(
        err.to_string().contains("minting a runtime token failed"),
        "{err}"
    );
    assert_eq!(source.token().unwrap(), "eyJ.after");
    failing.expect(1).assert();
    ok.assert();
}

/// `SystemTime` as RFC 3339 in UTC, for answers that expire soon.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn a_mint_refused_with_a_long_retry_after_is_not_hammered() {
    let mut server = Server::new();
    let mint = server
        .mock(
            "POST",
            "/api/v1/provisioning/managed-agents/external-apps/a/runtime-tokens",
        )
        .with_status(429)
        .with_header("retry-after", "3600")
        .with_body(r#"{"message":"slow down"}"#)
        .expect(1)
        .create();
    let runs = server
        .mock("POST", "/api/v1/agent-runtime/runs")
        .expect(0)
        .create();
    let zaby = Zaby::builder()
        .api_key("zaby_sk_test_retry_after")
        .api_origin(server.url())
        .build()
        .unwrap();
    let runtime = zaby::ZabyRuntime::builder()
        .api_origin(server.url())
        .token_source(zaby::MintingTokenSource::new(
            zaby,
            RuntimeTokenRequest::new("a", "d"),
        ))
        .retries(zaby::RetryPolicy::attempts(3))
        .build()
        .unwrap();
    let err = runtime.runs().start("hi").unwrap_err();
    assert!(matches!(err, Error::Credential(_)), "{err:?}");
    assert!(err.is_retryable());
    mint.assert();
    runs.assert();
}

#[test]
fn a_recorded_rotation_does_not_show_the_previous_token() {
    let mock = zaby::testing::MockTransport::new();
    mock.push_json(
        "POST",
        "/api/v1/provisioning/managed-agents/runtime-tokens/rotate",
        200,
        json!({"token": "eyJnew-token-value"}),
    );
    let zaby = Zaby::builder()
        .api_key(KEY)
        .transport(mock.clone())
        .build()
        .unwrap();
    zaby.runtime_tokens()
        .rotate("eyJold-secret-token-123")
        .unwrap();
    let recorded = &mock.requests()[0];
    assert_eq!(
        recorded.body.as_ref().unwrap()["previousToken"],
        "eyJold-secret-token-123",
        "the record itself keeps what was sent"
    );
    let shown = format!("{recorded:?}");
    assert!(!shown.contains("eyJold-secret-token-123"), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
}
