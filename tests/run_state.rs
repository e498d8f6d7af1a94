//! `RunState`: one run folded the same in every naming scheme, the tool-call
//! id rules, malformed payloads of every JSON type, the end of a run,
//! `collect_run` over loopback HTTP (cut streams included), and the fold's
//! algebra as properties.
// Closures here return `zaby::Result`, whose error is deliberately unboxed.
#![allow(clippy::result_large_err)]

mod common;

use common::{SSE_HEAD, TestServer};
use proptest::prelude::*;
use serde_json::{Value, json};
use zaby::sse::SseReader;
use zaby::testing::FakeRuntime;
use zaby::{Change, Error, RunPhase, RunState, SseEvent, ZabyRuntime};

// ---------- helpers ----------

/// An event with a name.
fn named(name: &str, data: Value) -> SseEvent {
    SseEvent::new(name, data)
}

/// An event without an `event:` name, its kind in `data.type` (AG-UI).
fn typed(data: Value) -> SseEvent {
    SseEvent {
        event: None,
        data,
        id: None,
    }
}

fn with_id(mut event: SseEvent, id: &str) -> SseEvent {
    event.id = Some(id.to_owned());
    event
}

/// The state after `events`, and what each one changed.
fn fold(events: &[SseEvent]) -> (RunState, Vec<Change>) {
    let mut state = RunState::new();
    let changes = events.iter().map(|e| state.apply(e)).collect();
    (state, changes)
}

/// The state without what every event touches (its count and its id).
fn masked(state: &RunState) -> RunState {
    let mut state = state.clone();
    state.events = 0;
    state.last_event_id = None;
    state
}

/// A tool call as (id, name, args, result), for comparing.
type Call = (Option<String>, Option<String>, Option<Value>, Option<Value>);

fn calls(state: &RunState) -> Vec<Call> {
    state
        .tool_calls
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.name.clone(),
                c.args.clone(),
                c.result.clone(),
            )
        })
        .collect()
}

fn call(id: Option<&str>, name: Option<&str>, args: Option<Value>, result: Option<Value>) -> Call {
    (id.map(Into::into), name.map(Into::into), args, result)
}

fn approval_ids(state: &RunState) -> Vec<Option<&str>> {
    state.approvals.iter().map(|a| a.id.as_deref()).collect()
}

/// The event's kind name in PascalCase: `TOOL_CALL_START` -> `ToolCallStart`.
fn pascal(upper: &str) -> String {
    upper
        .split('_')
        .map(|w| w[..1].to_owned() + &w[1..].to_ascii_lowercase())
        .collect()
}

// ---------- one run in every naming scheme ----------

/// One thing a run says, independent of how it is spelled.
#[derive(Clone, Debug)]
enum Step {
    Text(&'static str),
    Thinking(&'static str),
    /// A tool call: id, name, its arguments as JSON text.
    Call(&'static str, &'static str, &'static str),
    /// A result for the call with this id.
    Result(&'static str, Value),
    Approval(&'static str),
    Finished(Option<Value>),
    Failed(&'static str),
}

#[derive(Clone, Copy, Debug)]
enum Scheme {
    /// The runtime-client names in `event:`.
    SeedNamed,
    /// The runtime-client names in `data.type`, no `event:` line.
    SeedTyped,
    /// AG-UI upper snake case in `data.type`, no `event:` line.
    AgUi,
    /// AG-UI upper snake case in `data.type` and in `event:`.
    AgUiNamed,
    /// AG-UI PascalCase in `data.type`, no `event:` line.
    AgUiPascal,
    /// AG-UI PascalCase in `data.type`, and `event: message`.
    AgUiPascalMessage,
    /// AG-UI PascalCase in `event:` alone, no `data.type` (approvals as `INTERRUPTION`).
    AgUiPascalNamedOnly,
}

const SCHEMES: [Scheme; 7] = [
    Scheme::SeedNamed,
    Scheme::SeedTyped,
    Scheme::AgUi,
    Scheme::AgUiNamed,
    Scheme::AgUiPascal,
    Scheme::AgUiPascalMessage,
    Scheme::AgUiPascalNamedOnly,
];

/// One event of kind `kind` with `fields`, spelled as `scheme` spells it.
fn spell(scheme: Scheme, kind: &str, fields: Value) -> SseEvent {
    let mut data = fields;
    let (name, ty) = match scheme {
        Scheme::SeedNamed => (Some(kind.to_owned()), None),
        Scheme::SeedTyped | Scheme::AgUi => (None, Some(kind.to_owned())),
        Scheme::AgUiNamed => (Some(kind.to_owned()), Some(kind.to_owned())),
        Scheme::AgUiPascal => (None, Some(pascal(kind))),
        Scheme::AgUiPascalMessage => (Some("message".to_owned()), Some(pascal(kind))),
        Scheme::AgUiPascalNamedOnly => (Some(pascal(kind)), None),
    };
    if let Some(ty) = ty {
        data["type"] = json!(ty);
    }
    SseEvent {
        event: name,
        data,
        id: None,
    }
}

fn is_seed(scheme: Scheme) -> bool {
    matches!(scheme, Scheme::SeedNamed | Scheme::SeedTyped)
}

/// The events `step` becomes in `scheme`.
fn render(step: &Step, scheme: Scheme) -> Vec<SseEvent> {
    let e = |kind: &str, fields: Value| spell(scheme, kind, fields);
    if is_seed(scheme) {
        return vec![match step {
            Step::Text(t) => e("text", json!({"content": t})),
            Step::Thinking(t) => e("thinking", json!({"content": t})),
            Step::Call(id, name, args) => e(
                "tool_call",
                json!({"toolName": name, "toolCallId": id,
                       "args": serde_json::from_str::<Value>(args).unwrap()}),
            ),
            Step::Result(id, result) => {
                e("tool_result", json!({"toolCallId": id, "result": result}))
            }
            Step::Approval(id) => e("approval_required", json!({"approvalId": id})),
            Step::Finished(Some(result)) => e("RunFinished", json!({"result": result})),
            Step::Finished(None) => e("RunFinished", json!({})),
            Step::Failed(message) => e("RunError", json!({"message": message})),
        }];
    }
    match step {
        Step::Text(t) => vec![e(
            "TEXT_MESSAGE_CONTENT",
            json!({"messageId": "m1", "delta": t}),
        )],
        Step::Thinking(t) => vec![e("THINKING_TEXT_MESSAGE_CONTENT", json!({"delta": t}))],
        Step::Call(id, name, args) => {
            // The arguments in two fragments, split inside a token.
            let (head, tail) = args.split_at(args.len() / 2);
            vec![
                e(
                    "TOOL_CALL_START",
                    json!({"toolCallId": id, "toolCallName": name}),
                ),
                e("TOOL_CALL_ARGS", json!({"toolCallId": id, "delta": head})),
                e("TOOL_CALL_ARGS", json!({"toolCallId": id, "delta": tail})),
                e("TOOL_CALL_END", json!({"toolCallId": id})),
            ]
        }
        Step::Result(id, result) => vec![e(
            "TOOL_CALL_RESULT",
            json!({"messageId": "m2", "toolCallId": id, "content": result}),
        )],
        Step::Approval(id) => vec![match scheme {
            // A UI block is recognised by its data.type only.
            Scheme::AgUiPascalNamedOnly => e("INTERRUPTION", json!({"id": id})),
            _ => e(
                "UI_BLOCK",
                json!({"block": {"kind": "approval-card", "approvalId": id}}),
            ),
        }],
        Step::Finished(Some(result)) => vec![e("RUN_FINISHED", json!({"result": result}))],
        Step::Finished(None) => vec![e("RUN_FINISHED", json!({"runId": "r1"}))],
        Step::Failed(message) => vec![e("RUN_ERROR", json!({"error": {"message": message}}))],
    }
}

/// What a script must fold to, whatever the scheme.
struct Expected {
    text: &'static str,
    thinking: &'static str,
    calls: Vec<Call>,
    approvals: Vec<Option<&'static str>>,
    phase: RunPhase,
    result: Option<Value>,
    error: Option<&'static str>,
}

fn scripts() -> Vec<(&'static str, Vec<Step>, Expected)> {
    vec![
        (
            "a whole run",
            vec![
                Step::Thinking("Let me "),
                Step::Thinking("look."),
                Step::Text("It is "),
                Step::Call("c1", "weather", r#"{"city":"Zürich","days":[1,2]}"#),
                Step::Result("c1", json!({"tempC": 18})),
                Step::Approval("a1"),
                Step::Text("18 °C."),
                Step::Finished(Some(json!({"finalOutput": "It is 18 °C."}))),
            ],
            Expected {
                text: "It is 18 °C.",
                thinking: "Let me look.",
                calls: vec![call(
                    Some("c1"),
                    Some("weather"),
                    Some(json!({"city": "Zürich", "days": [1, 2]})),
                    Some(json!({"tempC": 18})),
                )],
                approvals: vec![Some("a1")],
                phase: RunPhase::Finished,
                result: Some(json!({"finalOutput": "It is 18 °C."})),
                error: None,
            },
        ),
        (
            "interleaved calls, results out of order, no result at the end",
            vec![
                Step::Call("c1", "search", r#"{"q":"a"}"#),
                Step::Call("c2", "fetch", r#"["x",true,null]"#),
                Step::Result("c2", json!("page")),
                Step::Text("done"),
                Step::Result("c1", json!([1, 2])),
                Step::Finished(None),
            ],
            Expected {
                text: "done",
                thinking: "",
                calls: vec![
                    call(
                        Some("c1"),
                        Some("search"),
                        Some(json!({"q": "a"})),
                        Some(json!([1, 2])),
                    ),
                    call(
                        Some("c2"),
                        Some("fetch"),
                        Some(json!(["x", true, null])),
                        Some(json!("page")),
                    ),
                ],
                approvals: vec![],
                phase: RunPhase::Finished,
                result: None,
                error: None,
            },
        ),
        (
            "a failed run, its call unanswered",
            vec![
                Step::Text("Deleting"),
                Step::Call("c9", "delete", r#"{"path":"/"}"#),
                Step::Approval("a1"),
                Step::Approval("a2"),
                Step::Failed("approval rejected"),
            ],
            Expected {
                text: "Deleting",
                thinking: "",
                calls: vec![call(
                    Some("c9"),
                    Some("delete"),
                    Some(json!({"path": "/"})),
                    None,
                )],
                approvals: vec![Some("a1"), Some("a2")],
                phase: RunPhase::Failed,
                result: None,
                error: Some("approval rejected"),
            },
        ),
    ]
}

#[test]
fn every_scheme_folds_a_run_the_same() {
    for (what, steps, expected) in scripts() {
        for scheme in SCHEMES {
            let events: Vec<SseEvent> = steps.iter().flat_map(|s| render(s, scheme)).collect();
            let (state, changes) = fold(&events);
            let at = format!("{what}, {scheme:?}: {state:#?}");
            assert_eq!(state.text, expected.text, "{at}");
            assert_eq!(state.thinking, expected.thinking, "{at}");
            assert_eq!(calls(&state), expected.calls, "{at}");
            assert_eq!(approval_ids(&state), expected.approvals, "{at}");
            assert_eq!(state.phase, expected.phase, "{at}");
            assert!(state.is_done(), "{at}");
            assert_eq!(state.result, expected.result, "{at}");
            assert_eq!(state.error.as_deref(), expected.error, "{at}");
            assert_eq!(state.events, events.len() as u64, "{at}");
            // Every event of these well-formed runs changes something.
            assert!(!changes.contains(&Change::Nothing), "{at}: {changes:?}");
        }
    }
}

#[test]
fn each_step_reports_its_change_in_every_scheme() {
    let steps = [
        (Step::Text("a"), Change::Text),
        (Step::Thinking("b"), Change::Thinking),
        (Step::Call("c1", "t", "{}"), Change::ToolCall),
        (Step::Result("c1", json!(1)), Change::ToolResult),
        (Step::Approval("a1"), Change::Approval),
        (Step::Finished(None), Change::Finished),
    ];
    for scheme in SCHEMES {
        let mut state = RunState::new();
        for (step, want) in &steps {
            for event in render(step, scheme) {
                assert_eq!(state.apply(&event), *want, "{scheme:?} {step:?}");
            }
        }
        let mut failing = RunState::new();
        for event in render(&Step::Failed("x"), scheme) {
            assert_eq!(failing.apply(&event), Change::Failed, "{scheme:?}");
        }
    }
}

/// A check of the state one event leaves.
type Check = fn(&RunState) -> bool;

#[test]
fn fields_are_read_under_each_of_their_names() {
    let cases: Vec<(SseEvent, Check)> = vec![
        (named("text", json!({"content": "c"})), |s| s.text == "c"),
        (named("text", json!({"delta": "d"})), |s| s.text == "d"),
        (named("text", json!({"text": "t"})), |s| s.text == "t"),
        (
            typed(json!({"type": "TEXT_MESSAGE_CHUNK", "text": "t"})),
            |s| s.text == "t",
        ),
        (named("thinking", json!({"delta": "d"})), |s| {
            s.thinking == "d"
        }),
        (
            typed(json!({"type": "ThinkingTextMessageContent", "delta": "d"})),
            |s| s.thinking == "d",
        ),
        (
            named("tool_call", json!({"toolCallName": "n", "arguments": [1]})),
            |s| calls(s) == [call(None, Some("n"), Some(json!([1])), None)],
        ),
        (
            named("tool_call", json!({"toolName": "a", "toolCallName": "b"})),
            |s| s.tool_calls[0].name.as_deref() == Some("a"),
        ),
        (
            named("tool_result", json!({"toolCallId": "x", "content": "c"})),
            |s| s.tool_calls[0].result == Some(json!("c")),
        ),
        (
            named(
                "tool_result",
                json!({"toolCallId": "x", "output": {"o": 1}}),
            ),
            |s| s.tool_calls[0].result == Some(json!({"o": 1})),
        ),
        (named("tool_result", json!({"toolCallId": "x"})), |s| {
            s.tool_calls[0].result == Some(Value::Null)
        }),
        (
            named("approval_required", json!({"block": {"approvalId": "b"}})),
            |s| approval_ids(s) == [Some("b")],
        ),
        (typed(json!({"type": "Interruption", "id": "i"})), |s| {
            approval_ids(s) == [Some("i")]
        }),
        (named("approval_required", json!({"tool": "x"})), |s| {
            approval_ids(s) == [None] && s.approvals[0].data == json!({"tool": "x"})
        }),
        (named("RunError", json!({"error": {"message": "m"}})), |s| {
            s.error.as_deref() == Some("m")
        }),
        (named("RunError", json!({})), |s| {
            s.phase == RunPhase::Failed && s.error.is_none()
        }),
        (typed(json!({"type": "RunFinished", "result": [1]})), |s| {
            s.result == Some(json!([1]))
        }),
    ];
    for (event, check) in cases {
        let (state, _) = fold(std::slice::from_ref(&event));
        assert!(check(&state), "{event:?}: {state:#?}");
    }
}

// ---------- tool calls and their ids ----------

/// `data` with `toolCallId` when there is one.
fn with_call_id(mut data: Value, id: Option<&str>) -> Value {
    if let Some(id) = id {
        data["toolCallId"] = json!(id);
    }
    data
}

fn start(id: Option<&str>, name: &str) -> SseEvent {
    let data = json!({"type": "TOOL_CALL_START", "toolCallName": name});
    typed(with_call_id(data, id))
}

fn args(id: Option<&str>, delta: &str) -> SseEvent {
    let data = json!({"type": "TOOL_CALL_ARGS", "delta": delta});
    typed(with_call_id(data, id))
}

fn end(id: Option<&str>) -> SseEvent {
    let data = json!({"type": "TOOL_CALL_END"});
    typed(with_call_id(data, id))
}

fn result(id: Option<&str>, value: Value) -> SseEvent {
    let data = json!({"result": value});
    named("tool_result", with_call_id(data, id))
}

fn seed_call(id: Option<&str>, name: &str, args: Value) -> SseEvent {
    let data = json!({"toolName": name, "args": args});
    named("tool_call", with_call_id(data, id))
}

/// What a case is, the events, the calls they leave, and each event's change.
type IdCase = (&'static str, Vec<SseEvent>, Vec<Call>, Vec<Change>);

#[test]
fn tool_calls_match_by_id_by_the_rules() {
    use Change::{Nothing, ToolCall as Call_, ToolResult as Result_};
    let cases: Vec<IdCase> = vec![
        (
            "a result goes to the call with its id, whatever the order",
            vec![
                start(Some("a"), "x"),
                start(Some("b"), "y"),
                result(Some("a"), json!(1)),
                result(Some("b"), json!(2)),
            ],
            vec![
                call(Some("a"), Some("x"), None, Some(json!(1))),
                call(Some("b"), Some("y"), None, Some(json!(2))),
            ],
            vec![Call_, Call_, Result_, Result_],
        ),
        (
            "a result without an id goes to the latest call without a result",
            vec![
                seed_call(None, "x", json!(1)),
                seed_call(Some("b"), "y", json!(2)),
                result(None, json!("r1")),
                result(None, json!("r2")),
            ],
            vec![
                call(None, Some("x"), Some(json!(1)), Some(json!("r2"))),
                call(Some("b"), Some("y"), Some(json!(2)), Some(json!("r1"))),
            ],
            vec![Call_, Call_, Result_, Result_],
        ),
        (
            "a result for no known call is kept as a call of its own",
            vec![
                start(Some("a"), "x"),
                result(Some("zzz"), json!(1)),
                result(Some("a"), json!(2)),
                result(None, json!(3)),
            ],
            vec![
                call(Some("a"), Some("x"), None, Some(json!(2))),
                call(Some("zzz"), None, None, Some(json!(1))),
                call(None, None, None, Some(json!(3))),
            ],
            vec![Call_, Result_, Result_, Result_],
        ),
        (
            "the same id started twice while waiting is one call, updated",
            vec![
                start(Some("a"), "x"),
                start(Some("a"), "x"),
                seed_call(Some("a"), "renamed", json!({"k": 1})),
                result(Some("a"), json!(1)),
            ],
            vec![call(
                Some("a"),
                Some("renamed"),
                Some(json!({"k": 1})),
                Some(json!(1)),
            )],
            vec![Call_, Nothing, Call_, Result_],
        ),
        (
            "the same id after its result is a new call, and gets the next result",
            vec![
                start(Some("a"), "x"),
                result(Some("a"), json!(1)),
                start(Some("a"), "y"),
                result(Some("a"), json!(2)),
            ],
            vec![
                call(Some("a"), Some("x"), None, Some(json!(1))),
                call(Some("a"), Some("y"), None, Some(json!(2))),
            ],
            vec![Call_, Result_, Call_, Result_],
        ),
        (
            "a second result for a call replaces the first",
            vec![
                start(Some("a"), "x"),
                result(Some("a"), json!(1)),
                result(Some("a"), json!(2)),
            ],
            vec![call(Some("a"), Some("x"), None, Some(json!(2)))],
            vec![Call_, Result_, Result_],
        ),
        (
            "starts without ids are separate calls",
            vec![start(None, "x"), start(None, "x")],
            vec![
                call(None, Some("x"), None, None),
                call(None, Some("x"), None, None),
            ],
            vec![Call_, Call_],
        ),
        (
            "interleaved fragments join per call",
            vec![
                start(Some("a"), "x"),
                start(Some("b"), "y"),
                args(Some("a"), "{\"q\":"),
                args(Some("b"), "[1,"),
                args(Some("a"), "\"one\"}"),
                args(Some("b"), "2]"),
                end(Some("b")),
                end(Some("a")),
            ],
            vec![
                call(Some("a"), Some("x"), Some(json!({"q": "one"})), None),
                call(Some("b"), Some("y"), Some(json!([1, 2])), None),
            ],
            vec![Call_; 8],
        ),
        (
            "fragments without an id go to the latest open call",
            vec![
                start(Some("a"), "x"),
                start(Some("b"), "y"),
                args(None, "{}"),
                end(None),
                args(None, "[]"),
                end(None),
            ],
            vec![
                call(Some("a"), Some("x"), Some(json!([])), None),
                call(Some("b"), Some("y"), Some(json!({})), None),
            ],
            vec![Call_; 6],
        ),
        (
            "fragments or an end for no known call change nothing",
            vec![
                args(Some("ghost"), "{}"),
                end(Some("ghost")),
                args(None, "{}"),
                end(None),
            ],
            vec![],
            vec![Nothing; 4],
        ),
        (
            "fragments after the end, or a second end, change nothing",
            vec![
                start(Some("a"), "x"),
                args(Some("a"), "{\"k\":1}"),
                end(Some("a")),
                args(Some("a"), "garbage"),
                end(Some("a")),
                args(None, "garbage"),
            ],
            vec![call(Some("a"), Some("x"), Some(json!({"k": 1})), None)],
            vec![Call_, Call_, Call_, Nothing, Nothing, Nothing],
        ),
        (
            "a result completes the arguments without an end",
            vec![
                start(Some("a"), "x"),
                args(Some("a"), "{\"k\""),
                args(Some("a"), ":true}"),
                result(Some("a"), json!("ok")),
                args(Some("a"), "more"),
            ],
            vec![call(
                Some("a"),
                Some("x"),
                Some(json!({"k": true})),
                Some(json!("ok")),
            )],
            vec![Call_, Call_, Call_, Result_, Nothing],
        ),
        (
            "fragments replace the arguments the start sent",
            vec![
                seed_call(Some("a"), "x", json!({"old": 1})),
                args(Some("a"), "{\"new\":2}"),
                end(Some("a")),
            ],
            vec![call(Some("a"), Some("x"), Some(json!({"new": 2})), None)],
            vec![Call_, Call_, Call_],
        ),
        (
            "an empty fragment opens the text but adds nothing to it",
            vec![
                start(Some("a"), "x"),
                args(Some("a"), ""),
                args(Some("a"), ""),
                args(Some("a"), "7"),
                end(Some("a")),
            ],
            vec![call(Some("a"), Some("x"), Some(json!(7)), None)],
            vec![Call_, Call_, Nothing, Call_, Call_],
        ),
    ];
    for (what, events, want_calls, want_changes) in cases {
        let (state, changes) = fold(&events);
        assert_eq!(calls(&state), want_calls, "{what}");
        assert_eq!(changes, want_changes, "{what}");
    }
}

#[test]
fn arguments_are_a_string_while_they_arrive_and_stay_one_if_they_never_parse() {
    let mut state = RunState::new();
    state.apply(&start(Some("a"), "x"));
    assert_eq!(state.tool_calls[0].args, None);
    state.apply(&args(Some("a"), "{\"city\":"));
    assert_eq!(state.tool_calls[0].args, Some(json!("{\"city\":")));
    state.apply(&args(Some("a"), "\"Par"));
    assert_eq!(state.tool_calls[0].args, Some(json!("{\"city\":\"Par")));
    state.apply(&end(Some("a")));
    // Never valid JSON: the raw text stays available as a string.
    assert_eq!(state.tool_calls[0].args, Some(json!("{\"city\":\"Par")));

    // Text that is JSON of a string parses to that string.
    let (state, _) = fold(&[
        start(Some("s"), "x"),
        args(Some("s"), "\"hi\""),
        end(Some("s")),
    ]);
    assert_eq!(state.tool_calls[0].args, Some(json!("hi")));

    // Nesting deeper than the JSON parser goes is kept as text, no panic.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let (state, _) = fold(&[
        start(Some("d"), "x"),
        args(Some("d"), &deep),
        end(Some("d")),
    ]);
    assert_eq!(state.tool_calls[0].args, Some(Value::String(deep)));

    // Arguments of a start are kept as sent, a string included.
    let (state, _) = fold(&[seed_call(Some("o"), "x", json!("{\"a\":1}"))]);
    assert_eq!(state.tool_calls[0].args, Some(json!("{\"a\":1}")));
}

#[test]
fn the_end_of_the_run_completes_open_arguments() {
    for last in [
        typed(json!({"type": "RUN_FINISHED"})),
        typed(json!({"type": "RUN_ERROR"})),
    ] {
        let (state, _) = fold(&[
            start(Some("a"), "x"),
            args(Some("a"), "{\"k\":"),
            args(Some("a"), "[]}"),
            start(Some("b"), "y"),
            args(Some("b"), "not json"),
            last,
        ]);
        assert_eq!(
            calls(&state),
            [
                call(Some("a"), Some("x"), Some(json!({"k": []})), None),
                call(Some("b"), Some("y"), Some(json!("not json")), None),
            ]
        );
    }
}

#[test]
fn a_repeated_approval_is_one_request() {
    let ask = |id: &str, message: &str| {
        named(
            "approval_required",
            json!({"approvalId": id, "message": message}),
        )
    };
    let (state, changes) = fold(&[
        ask("a1", "first"),
        ask("a1", "first"),
        ask("a2", "second"),
        ask("a1", "reworded"),
        named("approval_required", json!({"message": "no id"})),
        named("approval_required", json!({"message": "no id"})),
    ]);
    assert_eq!(approval_ids(&state), [Some("a1"), Some("a2"), None, None]);
    assert_eq!(state.approvals[0].data["message"], "reworded");
    use Change::{Approval, Nothing};
    assert_eq!(
        changes,
        [Approval, Nothing, Approval, Approval, Approval, Approval]
    );
}

// ---------- malformed payloads ----------

/// A value of every JSON type, and odd ones of each.
fn every_json_type() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(1.5e300),
        json!(""),
        json!("text"),
        json!("{\"content\":\"x\"}"),
        json!([]),
        json!([1, "a", null, {"content": "x"}]),
        json!({}),
        json!({"": {"": []}}),
    ]
}

/// Every kind name, as it may come in `event:` and in `data.type`.
const KINDS: &[&str] = &[
    "text",
    "thinking",
    "tool_call",
    "tool_result",
    "approval_required",
    "RunFinished",
    "RunError",
    "TEXT_MESSAGE_CONTENT",
    "TextMessageChunk",
    "THINKING_START",
    "THINKING_TEXT_MESSAGE_CONTENT",
    "TOOL_CALL_START",
    "TOOL_CALL_ARGS",
    "ToolCallArgs",
    "TOOL_CALL_END",
    "TOOL_CALL_RESULT",
    "INTERRUPTION",
    "UI_BLOCK",
    "RUN_FINISHED",
    "RUN_ERROR",
    "message",
    "ping",
    "",
];

/// What an unusable event of this kind does: nothing, or end the run.
fn unusable_change(event: &SseEvent) -> Change {
    if event.is_run_finished() {
        Change::Finished
    } else if event.is_terminal() {
        Change::Failed
    } else {
        Change::Nothing
    }
}

#[test]
fn data_of_every_json_type_changes_nothing_but_an_ending() {
    let mut before = RunState::new();
    before.apply(&named("text", json!({"content": "kept"})));
    before.apply(&start(Some("c1"), "t"));
    before.apply(&args(Some("c1"), "{\"a\""));
    for kind in KINDS {
        for data in every_json_type().into_iter().filter(|d| !d.is_object()) {
            let event = named(kind, data);
            let mut state = before.clone();
            let change = state.apply(&event);
            assert_eq!(change, unusable_change(&event), "{event:?}");
            assert_eq!(state.events, before.events + 1);
            if change == Change::Nothing {
                assert_eq!(masked(&state), masked(&before), "{event:?}");
            } else {
                // An ending reads nothing from such data.
                assert_eq!((&state.result, &state.error), (&None, &None), "{event:?}");
                assert_eq!(state.text, "kept");
            }
        }
    }
}

#[test]
fn fields_of_every_wrong_type_are_ignored() {
    let text_fields = ["content", "delta", "text"];
    for value in every_json_type().into_iter().filter(|v| !v.is_string()) {
        for kind in ["text", "TEXT_MESSAGE_CONTENT", "thinking", "THINKING_START"] {
            for field in text_fields {
                let event = typed(json!({"type": kind, field: value}));
                let (state, changes) = fold(std::slice::from_ref(&event));
                assert_eq!(changes, [Change::Nothing], "{event:?}");
                assert_eq!(masked(&state), RunState::new(), "{event:?}");
            }
        }
        // Fragments that are not text, for a call that exists.
        let (state, changes) = fold(&[
            start(Some("c"), "t"),
            typed(json!({"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": value})),
        ]);
        assert_eq!(changes[1], Change::Nothing);
        assert_eq!(state.tool_calls[0].args, None);

        // Ids and names that are not strings are absent.
        let (state, _) = fold(&[
            named(
                "tool_call",
                json!({"toolName": value, "toolCallId": value, "args": value}),
            ),
            named("tool_result", json!({"toolCallId": value, "result": value})),
            named(
                "approval_required",
                json!({"approvalId": value, "id": value}),
            ),
            named("RunError", json!({"message": value, "error": value})),
        ]);
        assert_eq!(
            calls(&state),
            [call(None, None, Some(value.clone()), Some(value.clone()))]
        );
        assert_eq!(approval_ids(&state), [None]);
        assert_eq!(state.phase, RunPhase::Failed);
        assert_eq!(state.error, None);
    }
}

// ---------- the end of a run ----------

#[test]
fn events_after_the_terminal_one_change_nothing() {
    for terminal in [
        named("RunFinished", json!({"result": 1})),
        typed(json!({"type": "RUN_ERROR", "message": "m"})),
    ] {
        let (done, _) = fold(&[named("text", json!({"content": "a"})), terminal.clone()]);
        let after = [
            with_id(named("text", json!({"content": "late"})), "99"),
            start(Some("c"), "x"),
            named("approval_required", json!({"approvalId": "a"})),
            named("RunFinished", json!({"result": 2})),
            typed(json!({"type": "RUN_ERROR", "message": "other"})),
            named("tool_result", json!({"result": 1})),
        ];
        let mut state = done.clone();
        for event in &after {
            assert_eq!(state.apply(event), Change::Nothing, "{event:?}");
        }
        assert_eq!(masked(&state), masked(&done));
        assert_eq!(state.events, done.events + after.len() as u64);
        assert_eq!(state.last_event_id.as_deref(), Some("99"));
    }
}

#[test]
fn run_finished_without_a_result() {
    for finished in [
        named("RunFinished", json!({})),
        named("RunFinished", json!("")),
        typed(json!({"type": "RunFinished", "threadId": "t"})),
    ] {
        let (state, changes) = fold(&[named("text", json!({"content": "the answer"})), finished]);
        assert_eq!(changes, [Change::Text, Change::Finished]);
        assert_eq!(state.phase, RunPhase::Finished);
        assert_eq!(state.result, None);
        assert_eq!(state.text, "the answer");
    }
}

#[test]
fn the_run_ends_where_the_stream_would_stop() {
    // The name says text, the type says finished: the stream stops here, so
    // the run is done, its text kept.
    let odd = named("text", json!({"type": "RUN_FINISHED", "content": "x"}));
    assert!(odd.is_terminal());
    let (state, changes) = fold(&[odd]);
    assert_eq!(changes, [Change::Finished]);
    assert_eq!(
        (state.phase, state.text.as_str()),
        (RunPhase::Finished, "x")
    );

    let odd = named("tool_call", json!({"type": "RunError", "toolName": "t"}));
    let (state, changes) = fold(&[odd]);
    assert_eq!(changes, [Change::Failed]);
    assert_eq!(state.phase, RunPhase::Failed);
    assert_eq!(state.tool_calls.len(), 1);
}

#[test]
fn ids_and_counts() {
    let (state, _) = fold(&[
        with_id(named("ping", json!({})), "1"),
        named("text", json!({"content": "a"})),
        with_id(named("unknown", json!(null)), "x-7"),
        named("text", json!({"content": "b"})),
    ]);
    assert_eq!(state.events, 4);
    assert_eq!(state.last_event_id.as_deref(), Some("x-7"));
    assert_eq!(state.text, "ab");
    assert!(!state.is_done());
    assert_eq!(state.phase, RunPhase::Running);
}

// ---------- the recorded fixtures ----------

fn fixture(name: &str) -> Vec<SseEvent> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).unwrap();
    SseReader::new(&bytes[..]).map(Result::unwrap).collect()
}

#[test]
fn the_recorded_runs_fold() {
    let events = fixture("ag_ui_run.sse");
    let state: RunState = events.iter().collect();
    assert_eq!(
        state.text,
        "Let me check the weather.It is 18 °C in Zürich."
    );
    assert_eq!(
        calls(&state),
        [call(
            Some("call-1"),
            Some("get_weather"),
            Some(json!({"city": "Zürich"})),
            Some(json!("{\"tempC\":18}")),
        )]
    );
    assert_eq!(state.phase, RunPhase::Finished);
    assert_eq!(state.result, None);
    assert_eq!(state.last_event_id.as_deref(), Some("11"));
    assert_eq!(state.events, 11);

    let events = fixture("runtime_client_run.sse");
    let mut state = RunState::new();
    state.extend(&events);
    assert_eq!(state.text, "Checking the weatherIt is 18 °C in Paris.");
    // Its thinking event's data is plain text, not an object with content.
    assert_eq!(state.thinking, "");
    assert_eq!(
        calls(&state),
        [call(
            Some("call-1"),
            Some("weather"),
            Some(json!({"city": "Paris"})),
            Some(json!({"tempC": 18})),
        )]
    );
    assert_eq!(approval_ids(&state), [Some("appr-1")]);
    assert_eq!(state.approvals[0].data["tool"], "send_email");
    assert_eq!(state.result, Some(json!("ok")));
    assert_eq!(state.last_event_id.as_deref(), Some("evt-7"));
}

// ---------- collect_run over loopback HTTP ----------

fn client(fake: &FakeRuntime) -> zaby::ZabyRuntimeBuilder {
    ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .stream_idle_timeout(Some(common::LIMIT))
}

/// The state the fake's script gives for "hello big world".
fn assert_hello_big_world(state: &RunState) {
    assert_eq!(state.text, "You said: hello big world");
    assert_eq!(
        state.thinking,
        "The user wrote 3 word(s); I will echo them."
    );
    assert_eq!(
        calls(state),
        [call(
            Some("call-1"),
            Some("echo"),
            Some(json!({"text": "hello big world"})),
            Some(json!("hello big world")),
        )]
    );
    assert!(state.approvals.is_empty());
    assert_eq!(state.phase, RunPhase::Finished);
    assert_eq!(
        state.result,
        Some(json!({"finalOutput": "You said: hello big world"}))
    );
    assert_eq!(state.error, None);
    // thinking, tool_call, tool_result, four text pieces, RunFinished: each once.
    assert_eq!(state.events, 8);
    assert_eq!(state.last_event_id.as_deref(), Some("8"));
}

#[test]
fn collect_run_reads_a_whole_run() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake).build().unwrap();
    let run = runtime.runs().start("hello big world").unwrap();
    let state = runtime
        .runs()
        .stream(&run.run_id)
        .unwrap()
        .collect_run()
        .unwrap();
    assert_hello_big_world(&state);
    assert_eq!(Some(state.text), run.final_output);
}

#[test]
fn collect_run_resumes_a_cut_stream_without_repeats() {
    for cut in [1, 3, 7] {
        let fake = FakeRuntime::start();
        fake.retry_ms(Some(0));
        let runtime = client(&fake).build().unwrap();
        let run = runtime.runs().start("hello big world").unwrap();
        fake.cut_after_events(cut);
        let state = runtime
            .runs()
            .stream(&run.run_id)
            .unwrap()
            .collect_run()
            .unwrap();
        assert_hello_big_world(&state);
        let resumed: Vec<_> = fake
            .requests()
            .into_iter()
            .filter_map(|r| r.header("last-event-id").map(str::to_owned))
            .collect();
        assert_eq!(resumed, [cut.to_string()], "cut after {cut}");
    }
}

#[test]
fn collect_run_returns_the_stream_error() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake).max_reconnects(0).build().unwrap();
    let run = runtime.runs().start("hello big world").unwrap();
    fake.cut_after_events(2);
    let err = runtime
        .runs()
        .stream(&run.run_id)
        .unwrap()
        .collect_run()
        .unwrap_err();
    assert!(matches!(err, Error::Stream(_)), "{err:?}");
}

#[test]
fn collect_run_of_a_rejected_run_is_failed() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake).build().unwrap();
    let run = runtime.runs().start("delete it [approval]").unwrap();
    let stored: RunState = runtime
        .runs()
        .events(&run.run_id, Default::default())
        .unwrap()
        .iter()
        .collect();
    assert!(!stored.is_done());
    let approval = stored.approvals[0].id.clone().unwrap();
    runtime.approvals().reject(&run.run_id, &approval).unwrap();
    let state = runtime
        .runs()
        .stream(&run.run_id)
        .unwrap()
        .collect_run()
        .unwrap();
    assert_eq!(state.phase, RunPhase::Failed);
    assert_eq!(state.error.as_deref(), Some("approval rejected"));
    assert_eq!(approval_ids(&state), [Some(approval.as_str())]);
    assert_eq!(state.tool_calls[0].result, None);
    assert_eq!(state.text, "");
}

#[test]
fn collect_run_over_an_ag_ui_stream_cut_in_a_tool_call() {
    // Connection 0 sends the recorded AG-UI run up to the middle of its tool
    // call's arguments and closes; later ones send the whole run again, as a
    // server that ignores last-event-id would: the repeats are skipped.
    let body = std::fs::read_to_string(format!(
        "{}/tests/data/ag_ui_run.sse",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let cut = body.find("id: 8\n").unwrap();
    let server = TestServer::start(move |mut conn| {
        conn.write(SSE_HEAD);
        conn.write(if conn.index == 0 {
            &body[..cut]
        } else {
            &body[..]
        });
    });
    let runtime = ZabyRuntime::builder()
        .token("eyJhbGciOiJIUzI1NiJ9.state.sig")
        .api_origin(&server.url)
        .stream_idle_timeout(Some(common::LIMIT))
        .build()
        .unwrap();
    let state = runtime
        .runs()
        .stream("run-42")
        .unwrap()
        .collect_run()
        .unwrap();
    let whole: RunState = fixture("ag_ui_run.sse").iter().collect();
    assert_eq!(state, whole);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("last-event-id"), Some("7"));
}

#[test]
fn collect_run_of_a_cancelled_stream_is_the_state_so_far() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake).build().unwrap();
    let run = runtime.runs().start("wait [approval]").unwrap();
    let stream = runtime.runs().stream(&run.run_id).unwrap();
    let cancel = stream.cancel_handle();
    // The stream pauses at the approval, the connection open: only the
    // cancel ends it, wherever the collector is by then.
    let collector = std::thread::spawn(move || stream.collect_run());
    cancel.cancel();
    let state = collector.join().unwrap().unwrap();
    assert!(!state.is_done());
    assert!(state.events <= 3, "{state:#?}");
}

// ---------- properties ----------

fn ids() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        Just(json!("c1")),
        Just(json!("c2")),
        Just(json!("c3")),
        Just(json!(7)),
    ])
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("")),
        Just(json!("a")),
        Just(json!("{\"k\":")),
        Just(json!("1}")),
        Just(json!("[1]")),
        "[a-z\"{}:,\\[\\] ]{0,6}".prop_map(Value::String),
        Just(json!(3)),
        Just(Value::Null),
        Just(json!({"x": [1]})),
    ]
}

/// Events of every kind, well-formed or not, with colliding ids.
fn event() -> impl Strategy<Value = SseEvent> {
    let kinds: Vec<&'static str> = KINDS.to_vec();
    let kind = prop::sample::select(kinds);
    let fields = (
        prop::option::of(kind.clone()),
        ids(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop_oneof![
            Just(json!({"type": "approval-card"})),
            Just(json!({"kind": "approval-card", "approvalId": "b1"})),
            Just(json!({"kind": "chart"})),
        ]),
        prop::option::of(prop_oneof![Just("a1"), Just("a2")]),
    );
    let object = fields.prop_map(|(ty, id, content, args, block, approval)| {
        let mut data = json!({});
        if let Some(ty) = ty {
            data["type"] = json!(ty);
        }
        if let Some(id) = id {
            data["toolCallId"] = id;
        }
        if let Some(content) = content {
            for key in ["content", "delta", "result", "message"] {
                data[key] = content.clone();
            }
        }
        if let Some(args) = args {
            data["args"] = args;
            data["toolName"] = json!("tool");
        }
        if let Some(block) = block {
            data["block"] = block;
        }
        if let Some(approval) = approval {
            data["approvalId"] = json!(approval);
        }
        data
    });
    let data = prop_oneof![
        4 => object,
        1 => prop::sample::select(every_json_type()),
    ];
    let id = prop::option::of(prop_oneof![Just("1"), Just("2"), Just("x")]);
    (prop::option::of(kind), data, id).prop_map(|(name, data, id)| SseEvent {
        event: name.map(str::to_owned),
        data,
        id: id.map(str::to_owned),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn folding_in_two_halves_or_after_a_clone_equals_folding_whole(
        events in prop::collection::vec(event(), 0..40),
        split in any::<prop::sample::Index>(),
    ) {
        let (whole, whole_changes) = fold(&events);
        let k = split.index(events.len() + 1);
        let (first, mut changes) = fold(&events[..k]);
        let mut second = first.clone();
        changes.extend(events[k..].iter().map(|e| second.apply(e)));
        prop_assert_eq!(&second, &whole);
        prop_assert_eq!(changes, whole_changes);
        let collected: RunState = events.iter().collect();
        prop_assert_eq!(&collected, &whole);
    }

    #[test]
    fn nothing_means_nothing_changed_and_the_run_ends_where_the_stream_stops(
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut state = RunState::new();
        for (i, event) in events.iter().enumerate() {
            let before = state.clone();
            let change = state.apply(event);
            if change == Change::Nothing {
                prop_assert_eq!(masked(&state), masked(&before), "{:?}", event);
            }
            prop_assert_eq!(state.events, i as u64 + 1);
            let stopped = events[..=i].iter().any(SseEvent::is_terminal);
            prop_assert_eq!(state.is_done(), stopped);
            if before.is_done() {
                prop_assert_eq!(change, Change::Nothing);
            }
        }
        let last_id = events.iter().rev().find_map(|e| e.id.clone());
        prop_assert_eq!(state.last_event_id, last_id);
    }
}

#[test]
fn results_find_their_call_by_id_even_after_the_calls_were_edited() {
    let start = |id: &str| named("tool_call", json!({"toolName": "t", "toolCallId": id}));
    let result = |id: &str| named("tool_result", json!({"toolCallId": id, "result": id}));
    let mut state: RunState = [start("c1"), start("c2"), start("c3")].iter().collect();
    // A caller may edit the public fields; matching must not trust stale positions.
    state.tool_calls.remove(0);
    assert_eq!(state.apply(&result("c3")), Change::ToolResult);
    assert_eq!(state.apply(&result("c2")), Change::ToolResult);
    let results: Vec<_> = state.tool_calls.iter().map(|c| c.result.clone()).collect();
    assert_eq!(results, [Some(json!("c2")), Some(json!("c3"))]);
    state.tool_calls.clear();
    assert_eq!(
        state.apply(&result("c1")),
        Change::ToolResult,
        "kept as a call of its own"
    );
    assert_eq!(state.tool_calls.len(), 1);
    // Two states that said the same are equal, however they were built.
    let folded: RunState = [start("c9")].iter().collect();
    let mut edited: RunState = [start("c0"), start("c9")].iter().collect();
    edited.tool_calls.remove(0);
    edited.events = 1;
    assert_eq!(folded, edited);
}
