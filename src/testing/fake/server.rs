//! The fake's shared state, its connection loop, routing and handlers.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use super::FakeRequest;
use super::http::{self, ReadError, Request, error_body, write_json};
use super::mint::{self, Minting};
use super::script::{Decision, Run};

const PREFIX: [&str; 3] = ["api", "v1", "agent-runtime"];

/// Fault knobs; each one-shot knob is consumed by the request it applies to.
#[derive(Default)]
pub(super) struct Knobs {
    pub expire_tokens: usize,
    pub fail_count: usize,
    pub fail_status: u16,
    pub fail_retry_after: Option<u64>,
    pub cut_after_events: Option<usize>,
    pub event_delay: Duration,
    pub keep_alive: Duration,
    pub malformed_stream: Option<Vec<u8>>,
    pub hold_open_after_finish: bool,
    pub retry_ms: Option<u64>,
    pub close_delimited: bool,
}

#[derive(Default)]
pub(super) struct State {
    pub runs: HashMap<String, Run>,
    pub runs_by_request_id: HashMap<String, String>,
    pub run_count: u64,
    pub feedback: Vec<(String, Value)>,
    pub requests: Vec<FakeRequest>,
    pub request_count: u64,
    pub knobs: Knobs,
    pub minting: Minting,
}

/// Open connections, so that stopping can close them and join their threads.
#[derive(Default)]
pub(super) struct Connections {
    pub next_id: u64,
    pub sockets: HashMap<u64, TcpStream>,
    pub threads: Vec<JoinHandle<()>>,
}

pub(super) struct Shared {
    pub state: Mutex<State>,
    /// Notified on every change a stream may wait for: new events, stopping.
    pub changed: Condvar,
    pub stopping: AtomicBool,
    pub token: String,
    pub connections: Mutex<Connections>,
}

/// A poisoned lock only means a connection thread panicked; the data is still usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(token: String) -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            token,
            connections: Mutex::new(Connections::default()),
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Serves requests on one connection until it closes or the fake stops.
pub(super) fn serve_connection(shared: &Shared, sock: TcpStream) {
    let Ok(read_half) = sock.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = sock;
    while !shared.is_stopping() {
        let request = match http::read_request(&mut reader, &mut out) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad {
                status,
                code,
                message,
            }) => {
                let id = next_request_id(shared);
                let _ = write_json(&mut out, status, &id, &[], &error_body(code, message), true);
                linger(&mut out, &mut reader);
                return;
            }
        };
        if !handle(shared, request, &mut out, &mut reader) {
            return;
        }
    }
}

/// After refusing a request whose body we did not read, reads a little of what the
/// client still sends, so that closing does not reset the connection before it
/// has read the answer.
fn linger(out: &mut TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = out.shutdown(Shutdown::Write);
    let _ = out.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0usize;
    while total < 2 * http::MAX_BODY {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

fn next_request_id(shared: &Shared) -> String {
    let mut state = shared.state();
    state.request_count += 1;
    format!("fake-req-{:08}", state.request_count)
}

/// What a request asks for, once its path is understood.
enum Route {
    StartRun,
    Stream(String),
    Events(String),
    Decide(String, String, Decision),
    Feedback(String),
}

/// A JSON answer: status, body, extra headers.
pub(super) struct Answer(pub u16, pub Value, pub Vec<(&'static str, String)>);

pub(super) fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
    Answer(status, error_body(code, message), Vec::new())
}

/// Handles one request; returns whether the connection may serve another.
fn handle(
    shared: &Shared,
    req: Request,
    out: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
) -> bool {
    let request_id = match req.header("x-request-id") {
        Some(id) => id.to_owned(),
        None => next_request_id(shared),
    };
    let close = req.wants_close();
    let body = parse_body(&req.body);
    shared.state().requests.push(FakeRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        headers: req.headers.clone(),
        body: body.clone(),
    });
    let answer = match pre_route(shared, &req) {
        Some(answer) => answer,
        None if mint::is_provisioning(&req.target) => {
            mint::handle(&mut shared.state().minting, &req, body)
        }
        None => match route(&req.method, &req.target) {
            Err(answer) => answer,
            Ok(Route::Stream(run_id)) => {
                return super::stream::stream(shared, &req, &run_id, &request_id, out, reader)
                    && !close;
            }
            Ok(Route::StartRun) => start_run(shared, &req, body),
            Ok(Route::Events(run_id)) => events(shared, &req.target, &run_id),
            Ok(Route::Decide(run_id, approval_id, decision)) => {
                decide(shared, &run_id, &approval_id, decision)
            }
            Ok(Route::Feedback(run_id)) => feedback(shared, &run_id, &req.body, body),
        },
    };
    let Answer(status, body, headers) = answer;
    write_json(out, status, &request_id, &headers, &body, close).is_ok() && !close
}

fn parse_body(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(body).unwrap_or_else(|_| {
        // Kept as text so tests can still see what a client sent.
        Value::String(String::from_utf8_lossy(body).into_owned())
    }))
}

/// Injected failures, then (for runtime requests) expired tokens and the token
/// check: all apply before any routing. Provisioning requests are only
/// subject to injected failures here; `mint::handle` checks their API key.
fn pre_route(shared: &Shared, req: &Request) -> Option<Answer> {
    let mut state = shared.state();
    let knobs = &mut state.knobs;
    if knobs.fail_count > 0 {
        knobs.fail_count -= 1;
        let status = knobs.fail_status;
        let mut answer = error(
            status,
            "FAKE_FAILURE",
            format!("Injected failure with status {status}."),
        );
        if let Some(secs) = knobs.fail_retry_after {
            answer.2.push(("retry-after", secs.to_string()));
        }
        return Some(answer);
    }
    if mint::is_provisioning(&req.target) {
        return None;
    }
    if knobs.expire_tokens > 0 {
        knobs.expire_tokens -= 1;
        return Some(error(
            401,
            "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED",
            "The runtime token has expired.",
        ));
    }
    let token = req
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if token == shared.token => None,
        // A minted token: checked, and its use counted when accepted.
        Some(token) => state.minting.check_runtime_token(token).err(),
        None => Some(error(
            401,
            "UNAUTHORIZED",
            "Missing or invalid runtime token.",
        )),
    }
}

/// Decodes `%XX` escapes of one path segment; a malformed escape stays as it is.
pub(super) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(method: &str, target: &str) -> Result<Route, Answer> {
    let path = target.split('?').next().unwrap_or("");
    let not_found = || error(404, "NOT_FOUND", format!("No route for {method} {path}."));
    let raw: Vec<&str> = path.split('/').skip(1).collect();
    if raw.len() < PREFIX.len() || raw[..PREFIX.len()] != PREFIX {
        return Err(not_found());
    }
    let segs: Vec<String> = raw[PREFIX.len()..]
        .iter()
        .map(|s| percent_decode(s))
        .collect();
    if segs.iter().skip(1).any(|s| s.is_empty()) {
        return Err(not_found());
    }
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (allowed, route) = match seg[..] {
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
        _ => return Err(not_found()),
    };
    if method != allowed {
        let mut answer = error(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed on {path}."),
        );
        answer.2.push(("allow", allowed.to_owned()));
        return Err(answer);
    }
    Ok(route)
}

fn start_run(shared: &Shared, req: &Request, body: Option<Value>) -> Answer {
    let Some(Value::Object(body)) = body else {
        return error(
            422,
            "VALIDATION_ERROR",
            "The body must be a JSON object with an `input`.",
        );
    };
    let input = match body.get("input") {
        None | Some(Value::Null) => {
            return error(422, "VALIDATION_ERROR", "`input` is required.");
        }
        Some(input) => input,
    };
    let request_id = match body.get("requestId") {
        None | Some(Value::Null) => req.header("x-request-id").map(str::to_owned),
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return error(422, "VALIDATION_ERROR", "`requestId` must be a string.");
        }
    };
    let respond_async = match body.get("respondAsync") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return error(422, "VALIDATION_ERROR", "`respondAsync` must be a boolean.");
        }
    };
    let mut state = shared.state();
    if let Some(existing) = request_id
        .as_ref()
        .and_then(|id| state.runs_by_request_id.get(id))
    {
        // A retried start: the same run, as it stands now.
        return Answer(200, state.runs[existing].to_json(false), Vec::new());
    }
    state.run_count += 1;
    let run = Run::new(state.run_count, input);
    let answer = run.to_json(respond_async);
    if let Some(id) = request_id {
        state.runs_by_request_id.insert(id, run.id.clone());
    }
    state.runs.insert(run.id.clone(), run);
    Answer(200, answer, Vec::new())
}

fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(super) fn unknown_run(run_id: &str) -> Answer {
    error(404, "NOT_FOUND", format!("Run {run_id} not found."))
}

fn events(shared: &Shared, target: &str, run_id: &str) -> Answer {
    let limit = match query_param(target, "limit") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return error(
                    422,
                    "VALIDATION_ERROR",
                    "`limit` must be a non-negative integer.",
                );
            }
        },
    };
    let state = shared.state();
    let Some(run) = state.runs.get(run_id) else {
        return unknown_run(run_id);
    };
    let records: Vec<Value> = run.events.iter().take(limit).map(|e| e.record()).collect();
    Answer(200, json!({"events": records}), Vec::new())
}

fn decide(shared: &Shared, run_id: &str, approval_id: &str, decision: Decision) -> Answer {
    let mut state = shared.state();
    let Some(run) = state.runs.get_mut(run_id) else {
        return unknown_run(run_id);
    };
    let Some(approval) = run.approval.as_ref().filter(|a| a.id == approval_id) else {
        return error(
            404,
            "NOT_FOUND",
            format!("Approval {approval_id} not found."),
        );
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
    Answer(
        200,
        json!({"approvalId": approval_id, "status": decision.as_str()}),
        Vec::new(),
    )
}

fn feedback(shared: &Shared, run_id: &str, raw: &[u8], body: Option<Value>) -> Answer {
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
    Answer(
        200,
        json!({"feedbackId": id, "status": "recorded"}),
        Vec::new(),
    )
}
