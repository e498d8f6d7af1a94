//! The typed view of an event, `SseEvent::kind()`, over both naming schemes.

use serde_json::Value;
use serde_json::json;
use zaby::{RunEvent, SseEvent};

fn ag_ui(data: Value) -> SseEvent {
    SseEvent {
        event: None,
        data,
        id: None,
    }
}

#[test]
fn runtime_client_names() {
    let text = SseEvent::new("text", json!({"content": "hi"}));
    assert_eq!(text.kind(), RunEvent::Text { content: "hi" });
    let call = SseEvent::new(
        "tool_call",
        json!({"toolName": "weather", "args": {"q": 1}}),
    );
    assert_eq!(
        call.kind(),
        RunEvent::ToolCall {
            tool_name: Some("weather"),
            tool_call_id: None,
            args: Some(&json!({"q": 1}))
        }
    );
    let result = SseEvent::new("tool_result", json!({"output": 3}));
    assert_eq!(
        result.kind(),
        RunEvent::ToolResult {
            tool_call_id: None,
            result: Some(&json!(3))
        }
    );
    let thinking = SseEvent::new("thinking", json!(""));
    assert_eq!(thinking.kind(), RunEvent::Thinking { content: None });
    let done = SseEvent::new("RunFinished", json!({"result": "ok"}));
    assert_eq!(
        done.kind(),
        RunEvent::RunFinished {
            result: Some(&json!("ok"))
        }
    );
    assert!(done.is_run_finished() && done.is_terminal());
}

#[test]
fn ag_ui_kinds_in_both_spellings() {
    for ty in [
        "TEXT_MESSAGE_CONTENT",
        "TextMessageContent",
        "TEXT_MESSAGE_CHUNK",
    ] {
        let e = ag_ui(json!({"type": ty, "delta": "d"}));
        assert_eq!(e.kind(), RunEvent::Text { content: "d" }, "{ty}");
    }
    let call = ag_ui(json!({"type": "ToolCallStart", "toolCallName": "s", "toolCallId": "c1"}));
    assert!(matches!(
        call.kind(),
        RunEvent::ToolCall {
            tool_name: Some("s"),
            tool_call_id: Some("c1"),
            args: None
        }
    ));
    let err = ag_ui(json!({"type": "RUN_ERROR", "error": {"message": "boom"}}));
    assert_eq!(
        err.kind(),
        RunEvent::RunError {
            message: Some("boom")
        }
    );
    assert!(err.is_terminal() && !err.is_run_finished());
    let thinking = ag_ui(json!({"type": "THINKING_START"}));
    assert_eq!(thinking.kind(), RunEvent::Thinking { content: None });
    assert!(ag_ui(json!({"type": "RunFinished"})).is_run_finished());
}

#[test]
fn approvals_in_every_form() {
    let named = SseEvent::new("approval_required", json!({"approvalId": "a1"}));
    assert!(matches!(
        named.kind(),
        RunEvent::ApprovalRequested {
            approval_id: Some("a1"),
            ..
        }
    ));
    let interruption = ag_ui(json!({"type": "INTERRUPTION", "id": "a2"}));
    assert!(matches!(
        interruption.kind(),
        RunEvent::ApprovalRequested {
            approval_id: Some("a2"),
            ..
        }
    ));
    let card =
        ag_ui(json!({"type": "UI_BLOCK", "block": {"type": "approval-card", "approvalId": "a3"}}));
    assert!(matches!(
        card.kind(),
        RunEvent::ApprovalRequested {
            approval_id: Some("a3"),
            ..
        }
    ));
    let other_block = ag_ui(json!({"type": "UI_BLOCK", "block": {"type": "chart"}}));
    assert_eq!(other_block.kind(), RunEvent::Other);
}

#[test]
fn text_content_may_come_in_text() {
    let named = SseEvent::new("text", json!({"text": "hi"}));
    assert_eq!(named.kind(), RunEvent::Text { content: "hi" });
    let chunk = ag_ui(json!({"type": "TEXT_MESSAGE_CHUNK", "text": "t"}));
    assert_eq!(chunk.kind(), RunEvent::Text { content: "t" });
    // First field found wins: content, then delta, then text.
    let all = ag_ui(json!({"type": "TextMessageContent", "text": "t", "delta": "d"}));
    assert_eq!(all.kind(), RunEvent::Text { content: "d" });
    let both = SseEvent::new("text", json!({"text": "t", "content": "c"}));
    assert_eq!(both.kind(), RunEvent::Text { content: "c" });
    // A `text` that is not a string is no text.
    let number = SseEvent::new("text", json!({"text": 5}));
    assert_eq!(number.kind(), RunEvent::Other);
}

#[test]
fn an_approval_card_is_marked_by_block_type_or_block_kind() {
    for block in [
        json!({"type": "approval-card", "approvalId": "a1"}),
        json!({"kind": "approval-card", "approvalId": "a1"}),
        json!({"type": "card", "kind": "approval-card", "approvalId": "a1"}),
        json!({"type": "approval-card", "kind": "card", "approvalId": "a1"}),
    ] {
        for ty in ["UI_BLOCK", "UiBlock"] {
            let card = ag_ui(json!({"type": ty, "block": block}));
            assert!(
                matches!(
                    card.kind(),
                    RunEvent::ApprovalRequested {
                        approval_id: Some("a1"),
                        ..
                    }
                ),
                "{card:?}"
            );
        }
    }
    for block in [
        json!({"kind": "chart"}),
        json!({"kind": 5, "type": null}),
        json!("approval-card"),
        json!(["approval-card"]),
        json!({"kind": {"type": "approval-card"}}),
    ] {
        let other = ag_ui(json!({"type": "UI_BLOCK", "block": block}));
        assert_eq!(other.kind(), RunEvent::Other, "{other:?}");
    }
    // `block.kind` marks a card only inside a UI_BLOCK.
    let loose = ag_ui(json!({"type": "CUSTOM", "block": {"kind": "approval-card"}}));
    assert_eq!(loose.kind(), RunEvent::Other);
}

#[test]
fn tool_call_args_and_end() {
    for ty in ["TOOL_CALL_ARGS", "ToolCallArgs"] {
        let args = ag_ui(json!({"type": ty, "toolCallId": "c1", "delta": "{\"q\""}));
        assert_eq!(
            args.kind(),
            RunEvent::ToolCallArgs {
                tool_call_id: Some("c1"),
                delta: "{\"q\""
            }
        );
    }
    let named = SseEvent::new("TOOL_CALL_ARGS", json!({"delta": ""}));
    assert_eq!(
        named.kind(),
        RunEvent::ToolCallArgs {
            tool_call_id: None,
            delta: ""
        }
    );
    // A fragment that is not text is no fragment.
    let number = ag_ui(json!({"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": 5}));
    assert_eq!(number.kind(), RunEvent::Other);
    for ty in ["TOOL_CALL_END", "ToolCallEnd"] {
        let end = ag_ui(json!({"type": ty, "toolCallId": "c1"}));
        assert_eq!(
            end.kind(),
            RunEvent::ToolCallEnd {
                tool_call_id: Some("c1")
            }
        );
    }
    let end = ag_ui(json!({"type": "TOOL_CALL_END", "toolCallId": 1}));
    assert_eq!(end.kind(), RunEvent::ToolCallEnd { tool_call_id: None });
    assert!(!end.is_terminal());
}

#[test]
fn unknown_and_malformed_are_other() {
    assert_eq!(SseEvent::new("ping", json!(null)).kind(), RunEvent::Other);
    assert_eq!(
        SseEvent::new("text", json!({"content": 5})).kind(),
        RunEvent::Other
    );
    assert_eq!(
        ag_ui(json!({"type": "RUN_FINISHEDX"})).kind(),
        RunEvent::Other
    );
    assert_eq!(ag_ui(json!({"type": "RunFinishe"})).kind(), RunEvent::Other);
    assert_eq!(ag_ui(json!([1, 2])).kind(), RunEvent::Other);
    // A finishing `data.type` ends the stream whatever the name says.
    assert!(SseEvent::new("message", json!({"type": "RUN_FINISHED"})).is_run_finished());
}
