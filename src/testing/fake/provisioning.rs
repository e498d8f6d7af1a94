//! The provisioning routes under `/api/v1/provisioning`: the API key, routing,
//! injected mint failures and the validation of each body, before the
//! [`Ledger`](super::ledger::Ledger) mints, rotates or revokes.

use serde_json::{Map, Value};

use super::answer::{Answer, error, invalid};
use super::fields::{object, opt_str, opt_uint, req_str};
use super::http::Request;
use super::ledger::{Grant, UniqueRotation};
use super::route::{Path, is_under};
use super::state::State;

/// The tenant API key every fake accepts in `x-zaby-api-key`.
pub(super) const API_KEY: &str = "zaby_sk_test_4Fq9XmT2cW7rLp3KvN8dHs6BjY1eQa5U";
/// The longest `ttlSeconds` accepted: one year of 366 days.
const MAX_TTL: u64 = 366 * 24 * 3600;

const PREFIX: [&str; 3] = ["api", "v1", "provisioning"];

/// The optional string fields of a create body.
const STRING_FIELDS: [&str; 11] = [
    "uniqueId",
    "externalUserId",
    "externalConversationId",
    "externalSessionId",
    "displayName",
    "emailHash",
    "locale",
    "timezone",
    "quotaPolicyId",
    "tokenFamilyId",
    "requestId",
];
const CHANNELS: [&str; 5] = ["web", "mobile", "server", "support", "embedded"];

/// A provisioning call, once its path is understood.
enum Route {
    Create(String),
    Rotate,
    RotateUnique(String),
    Revoke(String),
}

/// Whether the request target is under `/api/v1/provisioning`.
pub(super) fn is_provisioning(target: &str) -> bool {
    is_under(target, &PREFIX)
}

/// Answers a provisioning request: the API key, then the route, then the
/// injected mint failures, then the body, then the call itself.
pub(super) fn handle(state: &mut State, req: &Request, body: Option<Value>) -> Answer {
    call(state, req, body).unwrap_or_else(|answer| answer)
}

fn call(state: &mut State, req: &Request, body: Option<Value>) -> Result<Answer, Answer> {
    let key_ok = req
        .header("x-zaby-api-key")
        .is_some_and(|key| key == API_KEY);
    if !key_ok {
        return Err(error(401, "INVALID_API_KEY", "Missing or invalid API key."));
    }
    let route = route(&req.method, &req.target)?;
    if !matches!(route, Route::Revoke(_)) {
        if let Some(failure) = state.knobs.fail_mints.take("mint failure") {
            return Err(failure);
        }
    }
    let body = object(body, "The body must be a JSON object.")?;
    let now = state.clock.now();
    let ledger = &mut state.ledger;
    let minted = match route {
        Route::Create(app) => {
            let (grant, family_id) = create_body(&app, &body)?;
            ledger.create(grant, family_id, now)?
        }
        Route::Rotate => {
            let previous = req_str(&body, "previousToken")?;
            opt_str(&body, "requestId")?;
            ledger.rotate(&previous, now)?
        }
        Route::RotateUnique(app) => ledger.rotate_unique(rotate_unique_body(app, &body)?, now)?,
        Route::Revoke(family_id) => {
            req_str(&body, "reason")?;
            ledger.revoke(&family_id, now)?
        }
    };
    Ok(Answer::ok(minted))
}

fn route(method: &str, target: &str) -> Result<Route, Answer> {
    let path = Path::under(method, target, &PREFIX)?;
    let route = match path.segments()[..] {
        ["managed-agents", "external-apps", app, "runtime-tokens"] => Route::Create(app.to_owned()),
        ["managed-agents", "runtime-tokens", "rotate"] => Route::Rotate,
        [
            "managed-agents",
            "external-apps",
            app,
            "runtime-tokens",
            "rotate",
        ] => Route::RotateUnique(app.to_owned()),
        ["managed-agents", "runtime-token-families", family, "revoke"] => {
            Route::Revoke(family.to_owned())
        }
        _ => return Err(path.not_found()),
    };
    path.allow("POST")?;
    Ok(route)
}

/// `POST .../external-apps/{externalAppId}/runtime-tokens`: the grant asked
/// for, and the `tokenFamilyId` to mint into.
fn create_body(app: &str, body: &Map<String, Value>) -> Result<(Grant, Option<String>), Answer> {
    let mut grant = Grant::new(app, req_str(body, "deploymentId")?);
    for name in STRING_FIELDS {
        opt_str(body, name)?;
    }
    if let Some(channel) = opt_str(body, "channel")? {
        if !CHANNELS.contains(&channel.as_str()) {
            return Err(invalid(format!(
                "`channel` must be one of {}.",
                CHANNELS.join(", ")
            )));
        }
    }
    if !matches!(
        body.get("metadata"),
        None | Some(Value::Null | Value::Object(_))
    ) {
        return Err(invalid("`metadata` must be an object."));
    }
    match body.get("scopes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            grant.scopes = items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| invalid("`scopes` must be an array of strings."))?;
        }
        Some(_) => return Err(invalid("`scopes` must be an array of strings.")),
    }
    if let Some(ttl) = opt_uint(body, "ttlSeconds", 1, MAX_TTL)? {
        grant.ttl = ttl;
    }
    grant.max_uses = opt_uint(body, "maxUses", 1, u64::from(u32::MAX))?;
    grant.unique_id = opt_str(body, "uniqueId")?;
    grant.quota_policy_id = opt_str(body, "quotaPolicyId")?;
    Ok((grant, opt_str(body, "tokenFamilyId")?))
}

/// `POST .../external-apps/{externalAppId}/runtime-tokens/rotate`.
fn rotate_unique_body(app: String, body: &Map<String, Value>) -> Result<UniqueRotation, Answer> {
    let deployment_id = req_str(body, "deploymentId")?;
    let unique_id = req_str(body, "uniqueId")?;
    let quota_policy_id = opt_str(body, "quotaPolicyId")?;
    opt_str(body, "requestId")?;
    Ok(UniqueRotation {
        external_app_id: app,
        deployment_id,
        unique_id,
        quota_policy_id,
        token_family_id: opt_str(body, "tokenFamilyId")?,
    })
}
