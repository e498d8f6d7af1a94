//! The fake runtime's provisioning side over real HTTP, driven with raw ureq
//! calls: minting, rotating, revoking, and how minted tokens fare on the
//! runtime endpoints.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use common::raw_agent as agent;
use serde_json::{Value, json};
use zaby::testing::FakeRuntime;

const RUNTIME: &str = "/api/v1/agent-runtime";
const PROVISIONING: &str = "/api/v1/provisioning/managed-agents";
const APP: &str = "app-7f3c";
const DEPLOYMENT: &str = "dep-42";
const EXPIRED: &str = "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED";
const EXHAUSTED: &str = "MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED";

struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Answer {
    let text = resp.body_mut().read_to_string().expect("read body");
    Answer {
        status: resp.status().as_u16(),
        body: serde_json::from_str(&text).expect("JSON body"),
    }
}

/// A provisioning call with the given API key (`None`: no key header).
fn provision_with(fake: &FakeRuntime, key: Option<&str>, path: &str, body: Value) -> Answer {
    let mut req = agent().post(format!("{}{PROVISIONING}{path}", fake.url()));
    if let Some(key) = key {
        req = req.header("x-zaby-api-key", key);
    }
    let resp = req
        .content_type("application/json")
        .send(body.to_string())
        .expect("POST");
    answer(resp)
}

fn provision(fake: &FakeRuntime, path: &str, body: Value) -> Answer {
    provision_with(fake, Some(&fake.api_key()), path, body)
}

fn create_path(app: &str) -> String {
    format!("/external-apps/{app}/runtime-tokens")
}

/// Mints a token for `APP`; `extra` fields join `deploymentId`.
fn mint(fake: &FakeRuntime, extra: Value) -> Value {
    let mut body = json!({ "deploymentId": DEPLOYMENT });
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    let a = provision(fake, &create_path(APP), body);
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

fn rotate(fake: &FakeRuntime, previous: &str) -> Answer {
    provision(
        fake,
        "/runtime-tokens/rotate",
        json!({ "previousToken": previous }),
    )
}

fn token_of(minted: &Value) -> &str {
    minted["token"].as_str().expect("a token")
}

/// A runtime call with `token`: POST with a body, else GET.
fn runtime(fake: &FakeRuntime, token: &str, path: &str, body: Option<Value>) -> Answer {
    let url = format!("{}{RUNTIME}{path}", fake.url());
    let auth = format!("Bearer {token}");
    let resp = match body {
        Some(body) => agent()
            .post(url)
            .header("authorization", auth)
            .content_type("application/json")
            .send(body.to_string()),
        None => agent().get(url).header("authorization", auth).call(),
    };
    answer(resp.expect("runtime call"))
}

fn start_run(fake: &FakeRuntime, token: &str) -> Answer {
    runtime(
        fake,
        token,
        "/runs",
        Some(json!({ "input": "hello there" })),
    )
}

/// Opens the run's event stream with `token` and reads it to its end;
/// returns the status and the body.
fn stream(
    fake: &FakeRuntime,
    token: &str,
    run_id: &str,
    last_event_id: Option<&str>,
) -> (u16, String) {
    let mut req = agent()
        .get(format!("{}{RUNTIME}/runs/{run_id}/aiui", fake.url()))
        .header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let mut resp = req.call().expect("stream");
    let mut body = String::new();
    resp.body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .expect("read the stream");
    (resp.status().as_u16(), body)
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS[.fff]Z`; panics on anything else.
fn parse_iso(text: &str) -> u64 {
    let b = text.as_bytes();
    let shape_ok = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && text.ends_with('Z');
    assert!(shape_ok, "not ISO-8601 UTC: {text}");
    let num = |r: std::ops::Range<usize>| -> i64 { text[r].parse().expect(text) };
    let days = days_from_civil(num(0..4), num(5..7), num(8..10));
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    u64::try_from(secs).unwrap()
}

fn fake_now_secs(fake: &FakeRuntime) -> u64 {
    fake.now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn is_base64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn minting_answers_every_field() {
    let fake = FakeRuntime::start();
    let before = fake_now_secs(&fake);
    let minted = mint(
        &fake,
        json!({
            "uniqueId": "user-1",
            "externalUserId": "ext-user-1",
            "externalConversationId": "conv-1",
            "externalSessionId": "sess-1",
            "displayName": "Ada",
            "emailHash": "9f86d081884c7d65",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "channel": "web",
            "quotaPolicyId": "quota-basic",
            "metadata": {"plan": "pro"},
            "scopes": ["runs:write", "runs:read"],
            "ttlSeconds": 600,
            "maxUses": 5,
            "requestId": "req-mint-1",
        }),
    );
    let after = fake_now_secs(&fake);

    let token = token_of(&minted);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT-shaped: {token}");
    assert!(parts.iter().all(|p| is_base64url(p)), "{token}");
    assert_ne!(token, fake.token());
    assert_eq!(minted["tokenType"], "Bearer");
    let expires = parse_iso(minted["expiresAt"].as_str().unwrap());
    assert!(
        (before + 600..=after + 600).contains(&expires),
        "{expires} not within {before}+600..={after}+600"
    );
    assert_eq!(minted["scopes"], json!(["runs:write", "runs:read"]));
    assert_eq!(minted["rotateAfterSeconds"], 480);
    assert_eq!(minted["remainingUses"], 5);
    assert_eq!(minted["quotaPolicyId"], "quota-basic");
    assert_eq!(minted["externalAppId"], APP);
    assert_eq!(minted["deploymentId"], DEPLOYMENT);
    for id in ["grantId", "tokenFamilyId", "agentSessionId"] {
        assert!(
            minted[id].as_str().is_some_and(|s| !s.is_empty()),
            "{id}: {minted}"
        );
    }
    let hash = minted["uniqueIdHash"].as_str().unwrap();
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(fake.mints(), 1);
    assert_eq!(fake.minted_tokens(), vec![token.to_owned()]);

    // Another mint for the same unique id: a new token, family and grant,
    // the same agent session.
    let again = mint(&fake, json!({"uniqueId": "user-1"}));
    assert_ne!(again["token"], minted["token"]);
    assert_ne!(again["tokenFamilyId"], minted["tokenFamilyId"]);
    assert_ne!(again["grantId"], minted["grantId"]);
    assert_eq!(again["agentSessionId"], minted["agentSessionId"]);
    assert_eq!(again["uniqueIdHash"], minted["uniqueIdHash"]);
}

#[test]
fn minting_with_only_a_deployment_uses_the_defaults() {
    let fake = FakeRuntime::start();
    let before = fake_now_secs(&fake);
    let minted = mint(&fake, json!({}));
    let expires = parse_iso(minted["expiresAt"].as_str().unwrap());
    assert!((before + 3600..=fake_now_secs(&fake) + 3600).contains(&expires));
    assert_eq!(minted["rotateAfterSeconds"], 2880);
    assert!(minted["scopes"].as_array().is_some_and(|s| !s.is_empty()));
    for absent in ["remainingUses", "quotaPolicyId", "uniqueIdHash"] {
        assert!(minted.get(absent).is_none(), "{absent}: {minted}");
    }
    // The app id comes from the path, percent-decoded.
    let a = provision(
        &fake,
        "/external-apps/my%20app/runtime-tokens",
        json!({"deploymentId": DEPLOYMENT}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["externalAppId"], "my app");
}

#[test]
fn a_wrong_or_missing_api_key_is_refused() {
    let fake = FakeRuntime::start();
    let minted = mint(&fake, json!({}));
    let family = minted["tokenFamilyId"].as_str().unwrap();
    let calls = [
        (create_path(APP), json!({"deploymentId": DEPLOYMENT})),
        (
            "/runtime-tokens/rotate".to_owned(),
            json!({"previousToken": token_of(&minted)}),
        ),
        (
            format!("{}/rotate", create_path(APP)),
            json!({"deploymentId": DEPLOYMENT, "uniqueId": "u"}),
        ),
        (
            format!("/runtime-token-families/{family}/revoke"),
            json!({"reason": "test"}),
        ),
    ];
    let wrong = format!("{}x", fake.api_key());
    for (path, body) in &calls {
        for key in [
            None,
            Some(wrong.as_str()),
            Some(""),
            Some(fake.token().as_str()),
        ] {
            let a = provision_with(&fake, key, path, body.clone());
            assert_eq!(a.status, 401, "{path} with {key:?}: {}", a.body);
            assert_eq!(a.code(), "INVALID_API_KEY");
            assert!(a.body["message"].is_string());
        }
    }
    // The key in the authorization header does not count either.
    let resp = agent()
        .post(format!("{}{PROVISIONING}{}", fake.url(), create_path(APP)))
        .header("authorization", format!("Bearer {}", fake.api_key()))
        .content_type("application/json")
        .send(json!({"deploymentId": DEPLOYMENT}).to_string())
        .unwrap();
    assert_eq!(answer(resp).status, 401);
    assert_eq!(fake.mints(), 1);
    // And the API key is no runtime token.
    assert_eq!(start_run(&fake, &fake.api_key()).status, 401);
    let key = fake.api_key();
    assert!(key.len() >= 30, "{key}");
}

#[test]
fn invalid_mint_bodies_are_validation_errors() {
    let fake = FakeRuntime::start();
    let path = create_path(APP);
    let bodies = [
        json!({}),
        json!({"deploymentId": null}),
        json!({"deploymentId": ""}),
        json!({"deploymentId": 42}),
        json!({"uniqueId": "user-1"}),
        json!({"deploymentId": DEPLOYMENT, "ttlSeconds": "60"}),
        json!({"deploymentId": DEPLOYMENT, "ttlSeconds": 0}),
        json!({"deploymentId": DEPLOYMENT, "maxUses": 0}),
        json!({"deploymentId": DEPLOYMENT, "maxUses": -1}),
        json!({"deploymentId": DEPLOYMENT, "channel": "fax"}),
        json!({"deploymentId": DEPLOYMENT, "scopes": "runs:write"}),
        json!({"deploymentId": DEPLOYMENT, "scopes": [1]}),
        json!({"deploymentId": DEPLOYMENT, "metadata": [1]}),
        json!({"deploymentId": DEPLOYMENT, "locale": 7}),
        json!(["not", "an", "object"]),
    ];
    for body in bodies {
        let a = provision(&fake, &path, body.clone());
        assert_eq!(a.status, 422, "{body}: {}", a.body);
        assert_eq!(a.code(), "VALIDATION_ERROR", "{body}");
    }
    // The other calls want their required fields too.
    let required = [
        ("/runtime-tokens/rotate".to_owned(), json!({})),
        (
            format!("{path}/rotate"),
            json!({"deploymentId": DEPLOYMENT}),
        ),
        (format!("{path}/rotate"), json!({"uniqueId": "user-1"})),
    ];
    for (path, body) in required {
        let a = provision(&fake, &path, body);
        assert_eq!(a.status, 422, "{path}: {}", a.body);
        assert_eq!(a.code(), "VALIDATION_ERROR");
    }
    assert_eq!(fake.mints(), 0);
    // Unknown fields are ignored.
    mint(&fake, json!({"somethingNew": true}));
    assert_eq!(fake.mints(), 1);
}

#[test]
fn unknown_provisioning_routes_and_methods() {
    let fake = FakeRuntime::start();
    let a = provision(&fake, "/runtime-tokens/nope", json!({}));
    assert_eq!((a.status, a.code()), (404, "NOT_FOUND"));
    let resp = agent()
        .get(format!("{}{PROVISIONING}{}", fake.url(), create_path(APP)))
        .header("x-zaby-api-key", fake.api_key())
        .call()
        .unwrap();
    let a = answer(resp);
    assert_eq!((a.status, a.code()), (405, "METHOD_NOT_ALLOWED"));
}

#[test]
fn a_minted_token_works_on_the_runtime() {
    let fake = FakeRuntime::start();
    let minted = mint(&fake, json!({}));
    let token = token_of(&minted);
    let run = start_run(&fake, token);
    assert_eq!(run.status, 200, "{}", run.body);
    assert_eq!(run.body["status"], "COMPLETED");
    let run_id = run.body["runId"].as_str().unwrap();
    let events = runtime(&fake, token, &format!("/runs/{run_id}/events"), None);
    assert_eq!(events.status, 200);
    let (status, body) = stream(&fake, token, run_id, None);
    assert_eq!(status, 200);
    assert!(body.contains("event: RunFinished"), "{body}");
    // The fixed token keeps working beside it; a made-up one does not.
    assert_eq!(start_run(&fake, &fake.token()).status, 200);
    let a = start_run(&fake, &format!("{token}x"));
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"));
}

#[test]
fn a_token_expires_when_the_clock_passes_its_ttl() {
    let fake = FakeRuntime::start();
    let minted = mint(&fake, json!({"ttlSeconds": 120}));
    let token = token_of(&minted);
    assert_eq!(start_run(&fake, token).status, 200);

    // Comfortably before the expiry (a real second may pass meanwhile).
    fake.advance_clock(Duration::from_secs(100));
    assert_eq!(start_run(&fake, token).status, 200);

    fake.advance_clock(Duration::from_secs(20));
    let a = start_run(&fake, token);
    assert_eq!((a.status, a.code()), (401, EXPIRED), "{}", a.body);
    assert!(fake_now_secs(&fake) >= parse_iso(minted["expiresAt"].as_str().unwrap()));
    // Expired on every endpoint, and the fixed token never expires.
    let a = runtime(&fake, token, "/runs/x/events", None);
    assert_eq!((a.status, a.code()), (401, EXPIRED));
    fake.advance_clock(Duration::from_secs(10 * 365 * 86_400));
    assert_eq!(start_run(&fake, &fake.token()).status, 200);

    // Tokens minted afterwards expire relative to the fake's clock.
    let later = mint(&fake, json!({"ttlSeconds": 60}));
    let expires = parse_iso(later["expiresAt"].as_str().unwrap());
    let now = fake_now_secs(&fake);
    assert!(
        (now + 50..=now + 60).contains(&expires),
        "{expires} vs {now}"
    );
    assert_eq!(start_run(&fake, token_of(&later)).status, 200);
}

#[test]
fn max_uses_allows_exactly_that_many_runtime_requests() {
    let fake = FakeRuntime::start();
    let run_id = start_run(&fake, &fake.token()).body["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let minted = mint(&fake, json!({"maxUses": 3}));
    assert_eq!(minted["remainingUses"], 3);
    let token = token_of(&minted);

    // Three uses on three kinds of request: a stream, its resume, a start.
    let (status, _) = stream(&fake, token, &run_id, None);
    assert_eq!(status, 200);
    let (status, body) = stream(&fake, token, &run_id, Some("5"));
    assert_eq!(status, 200);
    assert!(body.starts_with("id: 6\n"), "{body}");
    assert_eq!(start_run(&fake, token).status, 200);

    for path in ["/runs", "/runs/x/events"] {
        let body = (path == "/runs").then(|| json!({"input": "one more"}));
        let a = runtime(&fake, token, path, body);
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert_eq!(a.code(), EXHAUSTED);
    }
    let resp = agent()
        .get(format!("{}{RUNTIME}/runs/{run_id}/aiui", fake.url()))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let a = answer(resp);
    assert_eq!((a.status, a.code()), (403, EXHAUSTED));
    assert_eq!(fake.runs_started(), 2);

    // A request refused before the token check uses nothing.
    let fresh = mint(&fake, json!({"maxUses": 1}));
    fake.expire_tokens(1);
    assert_eq!(start_run(&fake, token_of(&fresh)).code(), EXPIRED);
    assert_eq!(start_run(&fake, token_of(&fresh)).status, 200);
    assert_eq!(start_run(&fake, token_of(&fresh)).code(), EXHAUSTED);
}

#[test]
fn rotating_retires_the_previous_token_and_keeps_the_family() {
    let fake = FakeRuntime::start();
    let first = mint(
        &fake,
        json!({"ttlSeconds": 900, "maxUses": 4, "uniqueId": "user-9"}),
    );
    let old = token_of(&first);
    assert_eq!(start_run(&fake, old).status, 200);

    let a = rotate(&fake, old);
    assert_eq!(a.status, 200, "{}", a.body);
    let second = a.body;
    let new = token_of(&second);
    assert_ne!(new, old);
    assert_eq!(second["tokenFamilyId"], first["tokenFamilyId"]);
    assert_eq!(second["agentSessionId"], first["agentSessionId"]);
    assert_eq!(second["tokenType"], "Bearer");
    assert_eq!(second["remainingUses"], 4);
    assert_eq!(second["rotateAfterSeconds"], 720);
    assert_eq!(second["externalAppId"], APP);
    assert_eq!(second["deploymentId"], DEPLOYMENT);
    let expires = parse_iso(second["expiresAt"].as_str().unwrap());
    let now = fake_now_secs(&fake);
    assert!(
        (now + 890..=now + 900).contains(&expires),
        "{expires} vs {now}"
    );

    let a = start_run(&fake, old);
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"), "{}", a.body);
    assert_eq!(start_run(&fake, new).status, 200);
    // A retired token cannot be rotated again, nor can an unknown one.
    let a = rotate(&fake, old);
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"));
    let a = rotate(&fake, "eyJhbGciOiJub25lIn0.e30.bm9wZQ");
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"));
    assert_eq!(fake.mints(), 2);

    // An expired token may still be rotated: that is how it is renewed.
    fake.advance_clock(Duration::from_secs(1000));
    assert_eq!(start_run(&fake, new).code(), EXPIRED);
    let third = rotate(&fake, new);
    assert_eq!(third.status, 200, "{}", third.body);
    assert_eq!(third.body["tokenFamilyId"], first["tokenFamilyId"]);
    assert_eq!(start_run(&fake, token_of(&third.body)).status, 200);
    assert_eq!(
        fake.minted_tokens(),
        vec![
            old.to_owned(),
            new.to_owned(),
            token_of(&third.body).to_owned()
        ]
    );
}

#[test]
fn rotating_by_unique_id_continues_its_family() {
    let fake = FakeRuntime::start();
    let first = mint(&fake, json!({"uniqueId": "user-3", "ttlSeconds": 300}));
    let path = format!("{}/rotate", create_path(APP));

    let a = provision(
        &fake,
        &path,
        json!({"deploymentId": "dep-new", "uniqueId": "user-3", "quotaPolicyId": "quota-x"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let second = a.body;
    assert_eq!(second["tokenFamilyId"], first["tokenFamilyId"]);
    assert_eq!(second["deploymentId"], "dep-new");
    assert_eq!(second["quotaPolicyId"], "quota-x");
    assert_eq!(second["rotateAfterSeconds"], 240);
    assert_eq!(second["agentSessionId"], first["agentSessionId"]);
    assert_eq!(start_run(&fake, token_of(&first)).status, 401);
    assert_eq!(start_run(&fake, token_of(&second)).status, 200);

    // Naming the family explicitly works the same.
    let a = provision(
        &fake,
        &path,
        json!({"deploymentId": DEPLOYMENT, "uniqueId": "user-3",
               "tokenFamilyId": first["tokenFamilyId"]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["tokenFamilyId"], first["tokenFamilyId"]);
    assert_eq!(start_run(&fake, token_of(&second)).status, 401);

    // An unknown family, or another unique id's family, is not found.
    for (unique, family) in [
        ("user-3", json!("no-such-family")),
        ("user-4", first["tokenFamilyId"].clone()),
    ] {
        let a = provision(
            &fake,
            &path,
            json!({"deploymentId": DEPLOYMENT, "uniqueId": unique, "tokenFamilyId": family}),
        );
        assert_eq!((a.status, a.code()), (404, "NOT_FOUND"), "{}", a.body);
    }
    // A unique id with no family yet gets a new one.
    let a = provision(
        &fake,
        &path,
        json!({"deploymentId": DEPLOYMENT, "uniqueId": "user-5"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(a.body["tokenFamilyId"], first["tokenFamilyId"]);
    assert_eq!(start_run(&fake, token_of(&a.body)).status, 200);
    assert_eq!(fake.mints(), 4);
}

#[test]
fn revoking_a_family_kills_all_its_tokens() {
    let fake = FakeRuntime::start();
    let first = mint(&fake, json!({"uniqueId": "user-r"}));
    let family = first["tokenFamilyId"].as_str().unwrap().to_owned();
    let sibling = mint(&fake, json!({"tokenFamilyId": family}));
    assert_eq!(sibling["tokenFamilyId"], family.as_str());
    let other = mint(&fake, json!({}));
    for token in [token_of(&first), token_of(&sibling), token_of(&other)] {
        assert_eq!(start_run(&fake, token).status, 200);
    }

    let revoke_path = format!("/runtime-token-families/{family}/revoke");
    let a = provision(&fake, &revoke_path, json!({"reason": "user logged out"}));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["tokenFamilyId"], family.as_str());
    let first_revoked_at = a.body["revokedAt"].clone();
    let revoked_at = parse_iso(first_revoked_at.as_str().unwrap());
    assert!(revoked_at.abs_diff(fake_now_secs(&fake)) <= 5);

    for token in [token_of(&first), token_of(&sibling)] {
        let a = start_run(&fake, token);
        assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"), "{}", a.body);
    }
    assert_eq!(start_run(&fake, token_of(&other)).status, 200);
    // Nothing new comes out of a revoked family.
    let a = rotate(&fake, token_of(&first));
    assert_eq!(a.status, 401);
    let a = provision(
        &fake,
        &create_path(APP),
        json!({"deploymentId": DEPLOYMENT, "tokenFamilyId": family}),
    );
    assert_eq!(a.status, 409, "{}", a.body);
    // Rotating by unique id starts a fresh family instead.
    let a = provision(
        &fake,
        &format!("{}/rotate", create_path(APP)),
        json!({"deploymentId": DEPLOYMENT, "uniqueId": "user-r"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(a.body["tokenFamilyId"], family.as_str());

    // Revoking again is harmless and keeps the first instant; unknown
    // families and missing reasons are not.
    fake.advance_clock(Duration::from_secs(3600));
    let again = provision(&fake, &revoke_path, json!({"reason": "again"}));
    assert_eq!(again.status, 200);
    assert_eq!(again.body["revokedAt"], first_revoked_at);
    let a = provision(
        &fake,
        "/runtime-token-families/no-such-family/revoke",
        json!({"reason": "x"}),
    );
    assert_eq!((a.status, a.code()), (404, "NOT_FOUND"));
    let a = provision(&fake, &revoke_path, json!({}));
    assert_eq!((a.status, a.code()), (422, "VALIDATION_ERROR"));
}

#[test]
fn fail_mints_makes_minting_fail() {
    let fake = FakeRuntime::start();
    let kept = mint(&fake, json!({}));
    fake.fail_mints(2, 503);
    let path = create_path(APP);
    let a = provision(&fake, &path, json!({"deploymentId": DEPLOYMENT}));
    assert_eq!((a.status, a.code()), (503, "FAKE_FAILURE"));
    assert!(a.body["message"].is_string());
    let a = rotate(&fake, token_of(&kept));
    assert_eq!((a.status, a.code()), (503, "FAKE_FAILURE"));
    // The old token was not retired by the failed rotation.
    assert_eq!(start_run(&fake, token_of(&kept)).status, 200);
    assert_eq!(fake.mints(), 1);
    assert_eq!(
        provision(&fake, &path, json!({"deploymentId": DEPLOYMENT})).status,
        200
    );
    assert_eq!(fake.mints(), 2);

    // A wrong key is refused as such and leaves the knob for a real mint.
    fake.fail_mints(1, 429);
    let a = provision_with(
        &fake,
        Some("wrong"),
        &path,
        json!({"deploymentId": DEPLOYMENT}),
    );
    assert_eq!(a.status, 401);
    let a = provision(&fake, &path, json!({"deploymentId": DEPLOYMENT}));
    assert_eq!(a.status, 429);
    // fail_next applies to provisioning calls as to any request.
    fake.fail_next(1, 500, None);
    assert_eq!(
        provision(&fake, &path, json!({"deploymentId": DEPLOYMENT})).status,
        500
    );
    assert_eq!(
        provision(&fake, &path, json!({"deploymentId": DEPLOYMENT})).status,
        200
    );
    // expire_tokens does not: it is about runtime tokens.
    fake.expire_tokens(1);
    assert_eq!(
        provision(&fake, &path, json!({"deploymentId": DEPLOYMENT})).status,
        200
    );
    assert_eq!(start_run(&fake, &fake.token()).code(), EXPIRED);
    assert_eq!(fake.mints(), 4);
}

#[test]
fn concurrent_mints_get_distinct_tokens() {
    let fake = FakeRuntime::start();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let tokens: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                let fake = &fake;
                s.spawn(move || {
                    barrier.wait();
                    let minted = mint(fake, json!({"uniqueId": format!("user-{i}")}));
                    token_of(&minted).to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: HashSet<&String> = tokens.iter().collect();
    assert_eq!(distinct.len(), threads);
    assert_eq!(fake.mints(), threads);
    let mut recorded = fake.minted_tokens();
    recorded.sort();
    let mut expected = tokens.clone();
    expected.sort();
    assert_eq!(recorded, expected);
    for token in &tokens {
        assert_eq!(start_run(&fake, token).status, 200);
    }
    // Tokens of another fake differ too.
    let other = FakeRuntime::start();
    let minted = mint(&other, json!({}));
    assert!(!distinct.contains(&token_of(&minted).to_owned()));
}

#[test]
fn provisioning_requests_are_recorded_without_secrets_in_debug() {
    let fake = FakeRuntime::start();
    let minted = mint(&fake, json!({"uniqueId": "user-d"}));
    let token = token_of(&minted);
    assert_eq!(rotate(&fake, token).status, 200);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].path,
        format!("/api/v1/provisioning/managed-agents{}", create_path(APP))
    );
    assert_eq!(
        requests[0].header("x-zaby-api-key"),
        Some(fake.api_key().as_str())
    );
    assert_eq!(requests[0].body.as_ref().unwrap()["uniqueId"], "user-d");
    assert_eq!(requests[1].body.as_ref().unwrap()["previousToken"], token);

    let debug = format!("{requests:?} {fake:?}");
    assert!(!debug.contains(&fake.api_key()), "{debug}");
    assert!(!debug.contains(token), "{debug}");
    assert!(debug.contains("x-zaby-api-key"), "{debug}");
    assert!(debug.contains("user-d"), "{debug}");
}
