//! The runtime routes under `/api/v1/agent-runtime` and their handlers, but
//! the event stream's: the token check, starting runs, reading events,
//! approvals and feedback.

use serde_json::{Value, json};

use super::answer::{Answer, error, invalid, not_found, token_expired, unauthorized, unknown_run};
use super::fields::{object, opt_bool, opt_str};
use super::http::Request;
use super::route::{Path, query_param};
use super::script::{Decision, Run};
use super::state::{Shared, State};

const PREFIX: [&str; 3] = ["api", "v1", "agent-runtime"];

/// What a runtime request asks for, once its path is understood.
pub(super) enum Route {
    StartRun,
    Stream(String),
    Events(String),
    Decide(String, String, Decision),
    Feedback(String),
}

pub(super) fn route(method: &str, target: &str) -> Result<Route, Answer> {
    let path = Path::under(method, target, &PREFIX)?;
    let (allowed, route) = match path.segments()[..] {
        ["runs"] => ("POST", Route::StartRun),
        ["runs", id, "aiui"] => ("GET", Route::Stream(id.to_owned())),
        ["runs", id, "events"] => ("GET", Route::Events(id.to_owned())),
        ["runs", id, "feedback"] => ("POST", Route::Feedback(id.to_owned())),
        [
            "runs",
            id,
            "approvals",
            approval,
            action @ ("approve" | "reject"),
        ] => {
            let decision = if action == "approve" {
                Decision::Approved
            } else {
                Decision::Rejected
            };
            (
                "POST",
                Route::Decide(id.to_owned(), approval.to_owned(), decision),
            )
        }
        _ => return Err(path.not_found()),
    };
    path.allow(allowed)?;
    Ok(route)
}

/// The expired-token knob, then the bearer token: the fixed `token`, or a
/// minted one, whose use is then counted.
pub(super) fn authorize(state: &mut State, token: &str, req: &Request) -> Result<(), Answer> {
    if state.knobs.expire_tokens > 0 {
        state.knobs.expire_tokens -= 1;
        return Err(token_expired());
    }
    let bearer = req
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match bearer {
        Some(bearer) if bearer == token => Ok(()),
        Some(bearer) => {
            let now = state.clock.now();
            state.ledger.check(bearer, now)
        }
        None => Err(unauthorized("Missing or invalid runtime token.")),
    }
}

/// `POST /runs`.
pub(super) fn start_run(shared: &Shared, req: &Request, body: Option<Value>) -> Answer {
    start(shared, req, body).unwrap_or_else(|answer| answer)
}

fn start(shared: &Shared, req: &Request, body: Option<Value>) -> Result<Answer, Answer> {
    let body = object(body, "The body must be a JSON object with an `input`.")?;
    let input = match body.get("input") {
        None | Some(Value::Null) => return Err(invalid("`input` is required.")),
        Some(input) => input,
    };
    let request_id =
        opt_str(&body, "requestId")?.or_else(|| req.header("x-request-id").map(str::to_owned));
    let respond_async = opt_bool(&body, "respondAsync")?.unwrap_or(false);
    let mut state = shared.state();
    if let Some(existing) = request_id
        .as_ref()
        .and_then(|id| state.runs_by_request_id.get(id))
    {
        // A retried start: the same run, as it stands now.
        return Ok(Answer::ok(state.runs[existing].to_json(false)));
    }
    state.run_count += 1;
    let run = Run::new(state.run_count, input);
    let answer = run.to_json(respond_async);
    if let Some(id) = request_id {
        state.runs_by_request_id.insert(id, run.id.clone());
    }
    state.runs.insert(run.id.clone(), run);
    Ok(Answer::ok(answer))
}

/// `GET /runs/{runId}/events?limit=N`.
pub(super) fn events(shared: &Shared, target: &str, run_id: &str) -> Answer {
    let limit = match query_param(target, "limit") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return invalid("`limit` must be a non-negative integer."),
        },
    };
    let state = shared.state();
    let Some(run) = state.runs.get(run_id) else {
        return unknown_run(run_id);
    };
    let records: Vec<Value> = run.events.iter().take(limit).map(|e| e.record()).collect();
    Answer::ok(json!({"events": records}))
}

/// `POST /runs/{runId}/approvals/{approvalId}/approve` or `/reject`.
pub(super) fn decide(
    shared: &Shared,
    run_id: &str,
    approval_id: &str,
    decision: Decision,
) -> Answer {
    let mut state = shared.state();
    let Some(run) = state.runs.get_mut(run_id) else {
        return unknown_run(run_id);
    };
    let Some(approval) = run.approval.as_ref().filter(|a| a.id == approval_id) else {
        return not_found(format!("Approval {approval_id} not found."));
    };
    match approval.decision {
        None => {
            run.decide(decision);
            shared.changed.notify_all();
        }
        Some(earlier) if earlier == decision => {} // repeating a decision is harmless
        Some(earlier) => {
            return error(
                409,
                "CONFLICT",
                format!("Approval {approval_id} was already {}.", earlier.as_str()),
            );
        }
    }
    Answer::ok(json!({"approvalId": approval_id, "status": decision.as_str()}))
}

/// `POST /runs/{runId}/feedback`: `raw` is the body as sent, `body` as read.
pub(super) fn feedback(shared: &Shared, run_id: &str, raw: &[u8], body: Option<Value>) -> Answer {
    if !raw.is_empty() && serde_json::from_slice::<Value>(raw).is_err() {
        return error(400, "BAD_REQUEST", "The body is not JSON.");
    }
    let mut state = shared.state();
    if !state.runs.contains_key(run_id) {
        return unknown_run(run_id);
    }
    state
        .feedback
        .push((run_id.to_owned(), body.unwrap_or(Value::Null)));
    let id = format!("feedback-{}", state.feedback.len());
    Answer::ok(json!({"feedbackId": id, "status": "recorded"}))
}
