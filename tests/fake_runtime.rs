//! The fake runtime over real HTTP, driven with raw ureq calls and raw sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{LIMIT, raw_agent as agent};
use serde_json::{Value, json};
use zaby::testing::FakeRuntime;

const PREFIX: &str = "/api/v1/agent-runtime";

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Answer {
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = resp.body_mut().read_to_string().expect("read body");
    Answer {
        status: resp.status().as_u16(),
        headers,
        body: serde_json::from_str(&text).expect("JSON body"),
    }
}

fn bearer(fake: &FakeRuntime) -> String {
    format!("Bearer {}", fake.token())
}

fn post(fake: &FakeRuntime, path: &str, body: Value) -> Answer {
    let resp = agent()
        .post(format!("{}{PREFIX}{path}", fake.url()))
        .header("authorization", bearer(fake))
        .content_type("application/json")
        .send(body.to_string())
        .expect("POST");
    answer(resp)
}

fn get(fake: &FakeRuntime, path: &str) -> Answer {
    let resp = agent()
        .get(format!("{}{PREFIX}{path}", fake.url()))
        .header("authorization", bearer(fake))
        .call()
        .expect("GET");
    answer(resp)
}

fn start_run(fake: &FakeRuntime, input: &str) -> Value {
    let a = post(fake, "/runs", json!({ "input": input }));
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

/// One SSE block as sent: its fields, unparsed.
#[derive(Debug, Default, Clone)]
struct Block {
    id: Option<String>,
    event: Option<String>,
    data: String,
    comments: Vec<String>,
    retry: Option<String>,
}

impl Block {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("JSON data")
    }
    /// The event name, or the AG-UI `data.type` in brackets.
    fn kind(&self) -> String {
        match &self.event {
            Some(e) => e.clone(),
            None => format!("[{}]", self.json()["type"].as_str().unwrap_or("?")),
        }
    }
}

/// Reads the next block; `Ok(None)` at a clean end of the body.
fn next_block(r: &mut impl BufRead) -> std::io::Result<Option<Block>> {
    let mut block = Block::default();
    let mut seen = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if seen {
                return Ok(Some(block));
            }
            continue;
        }
        seen = true;
        if let Some(c) = line.strip_prefix(':') {
            block.comments.push(c.trim().to_owned());
            // A comment line may come alone, between events.
            if block.event.is_none() && block.data.is_empty() && block.id.is_none() {
                return Ok(Some(block));
            }
            continue;
        }
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "id" => block.id = Some(value.to_owned()),
            "event" => block.event = Some(value.to_owned()),
            "data" => block.data.push_str(value),
            "retry" => block.retry = Some(value.to_owned()),
            other => panic!("unexpected field {other}"),
        }
    }
}

type Stream = BufReader<Box<dyn Read + Send>>;

fn open_stream(fake: &FakeRuntime, run_id: &str, last_event_id: Option<&str>) -> (u16, Stream) {
    let mut req = agent()
        .get(format!("{}{PREFIX}/runs/{run_id}/aiui", fake.url()))
        .header("authorization", bearer(fake))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = req.call().expect("GET stream");
    let status = resp.status().as_u16();
    if status == 200 {
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
    }
    let body: Box<dyn Read + Send> = Box::new(resp.into_body().into_reader());
    (status, BufReader::new(body))
}

/// Every event block up to the end of the body (comments and retry-only blocks skipped).
fn read_events(r: &mut Stream) -> Vec<Block> {
    let mut out = Vec::new();
    while let Some(b) = next_block(r).expect("stream read") {
        if b.event.is_some() || !b.data.is_empty() {
            out.push(b);
        }
    }
    out
}

fn kinds(blocks: &[Block]) -> Vec<String> {
    blocks.iter().map(Block::kind).collect()
}

fn ids(blocks: &[Block]) -> Vec<String> {
    blocks
        .iter()
        .map(|b| b.id.clone().unwrap_or_default())
        .collect()
}

/// The answer text of a stream: text contents and AG-UI deltas, in order.
fn text_of(blocks: &[Block]) -> String {
    blocks
        .iter()
        .filter_map(|b| {
            let d = b.json();
            match b.event.as_deref() {
                Some("text") => d["content"].as_str().map(str::to_owned),
                None if d["type"] == "TEXT_MESSAGE_CONTENT" => {
                    d["delta"].as_str().map(str::to_owned)
                }
                _ => None,
            }
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const SCRIPT: [&str; 8] = [
    "thinking",
    "tool_call",
    "tool_result",
    "text",
    "[TEXT_MESSAGE_CONTENT]",
    "text",
    "[TEXT_MESSAGE_CONTENT]",
    "RunFinished",
];

#[test]
fn a_run_completes_and_streams_its_script() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "hello big world");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["finalOutput"], "You said: hello big world");
    assert_eq!(run["latestSeq"], 8);
    for field in [
        "workflowId",
        "deploymentId",
        "agentSessionId",
        "externalAppId",
    ] {
        assert!(
            run[field].as_str().is_some_and(|s| s.len() == 36),
            "{field}"
        );
    }
    let run_id = run["runId"].as_str().unwrap();

    let (status, mut stream) = open_stream(&fake, run_id, None);
    assert_eq!(status, 200);
    let events = read_events(&mut stream);
    assert_eq!(kinds(&events), strs(&SCRIPT));
    assert_eq!(
        ids(&events),
        strs(&["1", "2", "3", "4", "5", "6", "7", "8"])
    );
    assert_eq!(text_of(&events), run["finalOutput"].as_str().unwrap());
    assert_eq!(
        events[1].json(),
        json!({"toolName": "echo", "toolCallId": "call-1", "args": {"text": "hello big world"}})
    );
    assert_eq!(events[2].json()["toolCallId"], "call-1");
    assert_eq!(
        events[7].json(),
        json!({"result": {"finalOutput": "You said: hello big world"}})
    );
    assert_eq!(fake.runs_started(), 1);
}

#[test]
fn a_stream_resumes_after_last_event_id() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "hello big world");
    let run_id = run["runId"].as_str().unwrap();
    let (_, mut stream) = open_stream(&fake, run_id, Some("5"));
    let events = read_events(&mut stream);
    assert_eq!(ids(&events), strs(&["6", "7", "8"]));
    assert_eq!(kinds(&events), strs(&SCRIPT[5..]));
    let seen = fake.requests().last().cloned().unwrap();
    assert_eq!(seen.header("last-event-id"), Some("5"));
    assert_eq!(seen.path, format!("{PREFIX}/runs/{run_id}/aiui"));
}

#[test]
fn a_non_string_input_is_echoed_as_json() {
    let fake = FakeRuntime::start();
    let run = post(&fake, "/runs", json!({"input": {"q": 1}})).body;
    assert_eq!(run["finalOutput"], r#"You said: {"q":1}"#);
}

#[test]
fn a_wrong_token_is_refused_with_a_json_body() {
    let fake = FakeRuntime::start();
    let a = answer(
        agent()
            .post(format!("{}{PREFIX}/runs", fake.url()))
            .header("authorization", "Bearer not-the-token")
            .header("x-request-id", "req-42")
            .content_type("application/json")
            .send(r#"{"input":"hi"}"#)
            .unwrap(),
    );
    assert_eq!(a.status, 401);
    assert_eq!(a.body["code"], "UNAUTHORIZED");
    assert!(a.body["message"].is_string());
    assert_eq!(a.header("x-request-id"), Some("req-42"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(fake.runs_started(), 0);
    // Without any authorization header too.
    let a = answer(
        agent()
            .get(format!("{}{PREFIX}/runs/x/events", fake.url()))
            .call()
            .unwrap(),
    );
    assert_eq!(a.status, 401);
    assert!(a.header("x-request-id").is_some());
}

#[test]
fn tokens_expire_on_demand() {
    let fake = FakeRuntime::start();
    fake.expire_tokens(2);
    for _ in 0..2 {
        let a = post(&fake, "/runs", json!({"input": "hi"}));
        assert_eq!(a.status, 401);
        assert_eq!(a.body["code"], "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED");
    }
    assert_eq!(post(&fake, "/runs", json!({"input": "hi"})).status, 200);
    assert_eq!(fake.runs_started(), 1);
}

#[test]
fn a_request_id_makes_starting_idempotent() {
    let fake = FakeRuntime::start();
    let first = post(&fake, "/runs", json!({"input": "hi", "requestId": "r-1"}));
    let again = post(&fake, "/runs", json!({"input": "hi", "requestId": "r-1"}));
    assert_eq!(first.body, again.body);
    let other = post(&fake, "/runs", json!({"input": "hi", "requestId": "r-2"}));
    assert_ne!(other.body["runId"], first.body["runId"]);
    assert_eq!(fake.runs_started(), 2);
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn respond_async_answers_pending() {
    let fake = FakeRuntime::start();
    let run = post(&fake, "/runs", json!({"input": "hi", "respondAsync": true})).body;
    assert_eq!(run["status"], "PENDING");
    assert!(run.get("finalOutput").is_none());
}

#[test]
fn invalid_input_is_a_validation_error() {
    let fake = FakeRuntime::start();
    for body in [
        json!({}),
        json!({"input": null}),
        json!([1]),
        json!({"input": "x", "respondAsync": "yes"}),
    ] {
        let a = post(&fake, "/runs", body);
        assert_eq!(a.status, 422);
        assert_eq!(a.body["code"], "VALIDATION_ERROR");
    }
    assert_eq!(fake.runs_started(), 0);
}

#[test]
fn stored_events_honour_the_limit() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "hello big world");
    let run_id = run["runId"].as_str().unwrap();
    let all = get(&fake, &format!("/runs/{run_id}/events")).body;
    let all = all["events"].as_array().unwrap().clone();
    assert_eq!(all.len(), 8);
    assert_eq!(all[0]["seq"], 1);
    assert_eq!(all[0]["event"], "thinking");
    assert_eq!(all[4].get("event"), None); // the AG-UI form has no name
    assert_eq!(all[4]["data"]["type"], "TEXT_MESSAGE_CONTENT");
    assert_eq!(all[7]["event"], "RunFinished");
    let some = get(&fake, &format!("/runs/{run_id}/events?limit=3")).body;
    let seqs: Vec<&Value> = some["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["seq"])
        .collect();
    assert_eq!(seqs, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(get(&fake, "/runs/nope/events").status, 404);
}

/// Opens the stream of `run_id` on a thread that reports each block as it reads it.
fn stream_on_thread(fake: &FakeRuntime, run_id: &str) -> mpsc::Receiver<Result<Block, String>> {
    let (_, mut stream) = open_stream(fake, run_id, None);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        loop {
            match next_block(&mut stream) {
                Ok(Some(b)) => {
                    if tx.send(Ok(b)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    rx
}

fn recv(rx: &mpsc::Receiver<Result<Block, String>>) -> Block {
    rx.recv_timeout(LIMIT)
        .expect("a block in time")
        .expect("a readable block")
}

fn rest(rx: &mpsc::Receiver<Result<Block, String>>) -> Vec<Block> {
    let mut out = Vec::new();
    while let Ok(b) = rx.recv_timeout(LIMIT) {
        out.push(b.expect("readable"));
    }
    out
}

/// Reads up to the approval request and answers its id.
fn until_approval(rx: &mpsc::Receiver<Result<Block, String>>, run_id: &str) -> String {
    assert_eq!(recv(rx).kind(), "thinking");
    assert_eq!(recv(rx).kind(), "tool_call");
    let approval = recv(rx);
    assert_eq!(approval.kind(), "approval_required");
    assert_eq!(approval.id.as_deref(), Some("3"));
    let data = approval.json();
    assert_eq!(data["runId"], run_id);
    assert!(data["message"].is_string());
    data["approvalId"].as_str().unwrap().to_owned()
}

#[test]
fn an_approval_pauses_the_stream_until_approved() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "please [approval] go");
    assert_eq!(run["status"], "PENDING");
    assert!(run.get("finalOutput").is_none());
    let run_id = run["runId"].as_str().unwrap();
    let rx = stream_on_thread(&fake, run_id);
    let approval_id = until_approval(&rx, run_id);

    // A second stream resumed while paused sends nothing again and waits too.
    let (_, mut resumed) = open_stream(&fake, run_id, Some("3"));

    let a = post(
        &fake,
        &format!("/runs/{run_id}/approvals/{approval_id}/approve"),
        json!({}),
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"approvalId": approval_id, "status": "approved"})
    );

    let after = rest(&rx);
    assert_eq!(kinds(&after)[0], "tool_result");
    assert_eq!(after.last().unwrap().kind(), "RunFinished");
    assert_eq!(text_of(&after), "You said: please [approval] go");
    let resumed = read_events(&mut resumed);
    assert_eq!(ids(&resumed), ids(&after));

    let stored = get(&fake, &format!("/runs/{run_id}/events")).body;
    assert_eq!(stored["events"].as_array().unwrap().len(), 3 + after.len());
    let unknown = post(
        &fake,
        &format!("/runs/{run_id}/approvals/nope/approve"),
        json!({}),
    );
    assert_eq!(unknown.status, 404);
}

#[test]
fn a_rejected_approval_ends_with_a_run_error() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "[approval]");
    let run_id = run["runId"].as_str().unwrap();
    let rx = stream_on_thread(&fake, run_id);
    let approval_id = until_approval(&rx, run_id);
    let a = post(
        &fake,
        &format!("/runs/{run_id}/approvals/{approval_id}/reject"),
        json!({}),
    );
    assert_eq!(
        a.body,
        json!({"approvalId": approval_id, "status": "rejected"})
    );
    let after = rest(&rx);
    assert_eq!(kinds(&after), strs(&["RunError"]));
    assert_eq!(after[0].json(), json!({"message": "approval rejected"}));
    assert_eq!(after[0].id.as_deref(), Some("4"));
    let again = post(
        &fake,
        &format!("/runs/{run_id}/approvals/{approval_id}/approve"),
        json!({}),
    );
    assert_eq!(again.status, 409);
}

#[test]
fn keep_alive_comments_flow_while_paused() {
    let fake = FakeRuntime::start();
    fake.keep_alive(Duration::from_millis(20));
    let run = start_run(&fake, "[approval]");
    let run_id = run["runId"].as_str().unwrap();
    let rx = stream_on_thread(&fake, run_id);
    let approval_id = until_approval(&rx, run_id);
    assert_eq!(recv(&rx).comments, strs(&["keep-alive"]));
    post(
        &fake,
        &format!("/runs/{run_id}/approvals/{approval_id}/approve"),
        json!({}),
    );
    let after: Vec<Block> = rest(&rx)
        .into_iter()
        .filter(|b| b.comments.is_empty())
        .collect();
    assert_eq!(after.last().unwrap().kind(), "RunFinished");
}

#[test]
fn delayed_events_come_with_keep_alives() {
    let fake = FakeRuntime::start();
    fake.event_delay(Duration::from_millis(30));
    fake.keep_alive(Duration::from_millis(5));
    let run = start_run(&fake, "hi");
    let (_, mut stream) = open_stream(&fake, run["runId"].as_str().unwrap(), None);
    let mut comments = 0;
    let mut events = Vec::new();
    while let Some(b) = next_block(&mut stream).unwrap() {
        if b.comments.is_empty() {
            events.push(b);
        } else {
            comments += 1;
        }
    }
    assert_eq!(events.len(), 6);
    assert_eq!(text_of(&events), "You said: hi");
    assert!(comments > 0);
}

#[test]
fn feedback_is_recorded() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "hi");
    let run_id = run["runId"].as_str().unwrap();
    let body = json!({"rating": 5, "comment": "great"});
    let a = post(&fake, &format!("/runs/{run_id}/feedback"), body.clone());
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "recorded");
    assert!(a.body["feedbackId"].is_string());
    assert_eq!(fake.feedback(), vec![(run_id.to_owned(), body)]);
    assert_eq!(post(&fake, "/runs/nope/feedback", json!({})).status, 404);
}

#[test]
fn a_cut_stream_ends_before_run_finished() {
    let fake = FakeRuntime::start();
    let run = start_run(&fake, "hello big world");
    let run_id = run["runId"].as_str().unwrap();
    fake.cut_after_events(2);
    let (_, mut stream) = open_stream(&fake, run_id, None);
    let mut got = Vec::new();
    let ended_with_error = loop {
        match next_block(&mut stream) {
            Ok(Some(b)) => got.push(b),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert_eq!(ids(&got), strs(&["1", "2"]));
    // A chunked body cut without its terminator is an error for a strict reader.
    assert!(ended_with_error);
    // The next connection is normal again.
    let (_, mut stream) = open_stream(&fake, run_id, Some("2"));
    assert_eq!(read_events(&mut stream).len(), 6);
}

#[test]
fn fail_next_answers_the_status_with_retry_after() {
    let fake = FakeRuntime::start();
    fake.fail_next(2, 503, Some(7));
    for _ in 0..2 {
        let a = post(&fake, "/runs", json!({"input": "hi"}));
        assert_eq!(a.status, 503);
        assert_eq!(a.header("retry-after"), Some("7"));
        assert!(a.body["message"].is_string());
        assert!(a.body["code"].is_string());
    }
    let a = post(&fake, "/runs", json!({"input": "hi"}));
    assert_eq!(a.status, 200);
    assert_eq!(a.header("retry-after"), None);
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.runs_started(), 1);
}

#[test]
fn a_malformed_stream_arrives_verbatim() {
    let fake = FakeRuntime::start();
    let bytes: &[u8] = b"\xEF\xBB\xBFdata: {not json\r\nid: 9\rgarbage\n\xFF\xFE";
    fake.malformed_stream(bytes);
    let (status, mut stream) = open_stream(&fake, "any-run", None);
    assert_eq!(status, 200);
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, bytes);
}

#[test]
fn retry_and_close_delimited_streams() {
    let fake = FakeRuntime::start();
    fake.retry_ms(Some(1500));
    fake.close_delimited_streams(true);
    let run = start_run(&fake, "hi");
    let run_id = run["runId"].as_str().unwrap();
    let (_, mut stream) = open_stream(&fake, run_id, None);
    let first = next_block(&mut stream).unwrap().unwrap();
    assert_eq!(first.retry.as_deref(), Some("1500"));
    let events = read_events(&mut stream);
    assert_eq!(events.last().unwrap().kind(), "RunFinished");
}

#[test]
fn a_held_stream_stays_open_after_run_finished() {
    let fake = FakeRuntime::start();
    fake.hold_open_after_finish(true);
    let run = start_run(&fake, "hi");
    let run_id = run["runId"].as_str().unwrap();
    let rx = stream_on_thread(&fake, run_id);
    let mut last = recv(&rx);
    while last.kind() != "RunFinished" {
        last = recv(&rx);
    }
    // Nothing more, and no end of body either, while the fake runs.
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(200)),
        Err(mpsc::RecvTimeoutError::Timeout)
    ));
    drop(fake);
    // Stopping the fake ends the held connection.
    assert!(!matches!(
        rx.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Timeout)
    ));
}

#[test]
fn unknown_routes_runs_and_methods() {
    let fake = FakeRuntime::start();
    let a = get(&fake, "/runs/nope/aiui");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let a = get(&fake, "/nothing/here");
    assert_eq!(a.status, 404);
    let a = get(&fake, "/runs");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    assert_eq!(a.header("allow"), Some("POST"));
}

#[test]
fn path_segments_are_percent_decoded() {
    let fake = FakeRuntime::start();
    let a = post(&fake, "/runs/a%2Fb%20c/feedback", json!({"rating": 1}));
    assert_eq!(a.status, 404);
    assert!(a.body["message"].as_str().unwrap().contains("a/b c"));
}

// ---------- raw sockets ----------

fn connect(fake: &FakeRuntime) -> TcpStream {
    let sock = TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    sock
}

/// Reads one answer with a `content-length` body: (status, head, body).
fn read_answer(r: &mut impl BufRead) -> (u16, String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "answer cut: {head}");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

#[test]
fn one_connection_serves_several_requests_and_chunked_bodies() {
    let fake = FakeRuntime::start();
    let mut sock = connect(&fake);
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    let token = fake.token();
    let body = r#"{"input": "one two"}"#;
    write!(
        sock,
        "POST {PREFIX}/runs HTTP/1.1\r\nHost: x\r\nAUTHORIZATION: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let (status, head, text) = read_answer(&mut reader);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert!(text.contains("You said: one two"));
    // Same connection, chunked request body.
    write!(
        sock,
        "POST {PREFIX}/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"inp\r\nd;ext=1\r\nut\": \"three\"}}\r\n0\r\n\r\n"
    )
    .unwrap();
    let (status, _, text) = read_answer(&mut reader);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("You said: three"));
    assert_eq!(fake.runs_started(), 2);
    assert_eq!(fake.requests()[1].body, Some(json!({"input": "three"})));
}

#[test]
fn bad_requests_are_answered_not_panicked_on() {
    let fake = FakeRuntime::start();
    let mut sock = connect(&fake);
    sock.write_all(b"complete nonsense\r\n\r\n").unwrap();
    let (status, _, _) = read_answer(&mut BufReader::new(&sock));

    assert_eq!(status, 400);
    let mut sock = connect(&fake);
    let huge = "a".repeat(70 * 1024);
    let _ = write!(sock, "GET / HTTP/1.1\r\nx-big: {huge}\r\n\r\n");
    let (status, _, _) = read_answer(&mut BufReader::new(&sock));
    assert_eq!(status, 400);

    let mut sock = connect(&fake);
    write!(
        sock,
        "POST {PREFIX}/runs HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"
    )
    .unwrap();
    let (status, _, body) = read_answer(&mut BufReader::new(&sock));
    assert_eq!(status, 413, "{body}");

    // The fake still serves.
    assert_eq!(start_run(&fake, "still here")["status"], "COMPLETED");
}

#[test]
fn dropping_the_runtime_closes_its_connections() {
    let fake = FakeRuntime::start();
    // An idle keep-alive connection, known to be served.
    let mut idle = connect(&fake);
    write!(idle, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut idle_reader = BufReader::new(idle.try_clone().unwrap());
    assert_eq!(read_answer(&mut idle_reader).0, 401);
    // A stream parked on an approval.
    let run = start_run(&fake, "[approval]");
    let rx = stream_on_thread(&fake, run["runId"].as_str().unwrap());
    until_approval(&rx, run["runId"].as_str().unwrap());

    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        drop(fake);
        let _ = done_tx.send(());
    });
    done_rx.recv_timeout(LIMIT).expect("drop returns in time");

    let mut buf = [0u8; 16];
    assert!(matches!(idle_reader.read(&mut buf), Ok(0) | Err(_)));
    // The parked stream ended (cut, or an error).
    assert!(!matches!(
        rx.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Timeout)
    ));
}

#[test]
fn the_debug_output_shows_no_token() {
    let fake = FakeRuntime::start();
    assert!(fake.token().len() >= 20);
    let shown = format!("{fake:?}");
    assert!(shown.contains(&fake.url()));
    assert!(!shown.contains(&fake.token()));
    start_run(&fake, "hi");
    let request = format!("{:?}", fake.requests()[0]);
    assert!(!request.contains(&fake.token()));
}

#[test]
fn the_runtime_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FakeRuntime>();
}
