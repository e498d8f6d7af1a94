//! One event of a run, and its typed view.

use serde_json::Value;

/// One Server-Sent Event of a run, as streamed or as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    /// The `event:` name; `None` when the block had no `event:` line.
    pub event: Option<String>,
    /// The data parsed as JSON, else the text as a JSON string; `""` when there was no data.
    pub data: Value,
    /// The block's own `id:`; `None` when it had none.
    pub id: Option<String>,
}

/// The typed view of an [`SseEvent`], from [`SseEvent::kind`].
///
/// Reads both the runtime-client names (`text`, `tool_call`, …) and the
/// AG-UI kinds in `data.type` (`TEXT_MESSAGE_CONTENT`, `TOOL_CALL_START`, …).
/// Anything not recognised is [`RunEvent::Other`], never an error.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum RunEvent<'a> {
    /// Text output of the agent: `content`, an AG-UI `delta`, or `text`.
    Text {
        /// The text to show.
        content: &'a str,
    },
    /// The agent is thinking; some forms carry the thought.
    Thinking {
        /// The thought's text, when sent.
        content: Option<&'a str>,
    },
    /// The agent calls a tool.
    ToolCall {
        /// `toolName` or `toolCallName`.
        tool_name: Option<&'a str>,
        /// `toolCallId`.
        tool_call_id: Option<&'a str>,
        /// `args` or `arguments`.
        args: Option<&'a Value>,
    },
    /// AG-UI `TOOL_CALL_ARGS`: a fragment of a tool call's arguments, as text.
    /// The fragments of one call, joined in order, are its arguments' JSON;
    /// [`crate::RunState`] joins and parses them.
    ToolCallArgs {
        /// `toolCallId`: the call the fragment belongs to.
        tool_call_id: Option<&'a str>,
        /// `delta`: the fragment.
        delta: &'a str,
    },
    /// AG-UI `TOOL_CALL_END`: a tool call's arguments are complete.
    ToolCallEnd {
        /// `toolCallId`.
        tool_call_id: Option<&'a str>,
    },
    /// A tool returned.
    ToolResult {
        /// `toolCallId`.
        tool_call_id: Option<&'a str>,
        /// `result`, `content` or `output`.
        result: Option<&'a Value>,
    },
    /// The run waits for an approval; answer with [`crate::Approvals`].
    ApprovalRequested {
        /// `approvalId`, `block.approvalId` or `id`.
        approval_id: Option<&'a str>,
        /// The whole data of the event.
        data: &'a Value,
    },
    /// The run finished; the stream ends after this event.
    RunFinished {
        /// `result`, when sent.
        result: Option<&'a Value>,
    },
    /// The run failed; the stream ends after this event.
    RunError {
        /// `message` or `error.message`.
        message: Option<&'a str>,
    },
    /// Any other event.
    Other,
}

impl SseEvent {
    /// An event with a name and data, and no id (handy in tests and mocks).
    ///
    /// # Example
    /// ```
    /// use zaby::{RunEvent, SseEvent};
    /// let e = SseEvent::new("text", serde_json::json!({"content": "Hi"}));
    /// assert_eq!(e.kind(), RunEvent::Text { content: "Hi" });
    /// ```
    pub fn new(event: impl Into<String>, data: Value) -> Self {
        SseEvent {
            event: Some(event.into()),
            data,
            id: None,
        }
    }

    /// The typed view of this event. First field found wins; see [`RunEvent`].
    ///
    /// # Example
    /// ```
    /// use zaby::{RunEvent, SseEvent};
    /// let e = SseEvent::new("message", serde_json::json!({"type": "TOOL_CALL_START", "toolCallName": "search"}));
    /// assert!(matches!(e.kind(), RunEvent::ToolCall { tool_name: Some("search"), .. }));
    /// ```
    pub fn kind(&self) -> RunEvent<'_> {
        let d = &self.data;
        let str_of = |keys: &[&str]| keys.iter().find_map(|k| d.get(*k)?.as_str());
        let value_of = |keys: &[&str]| keys.iter().find_map(|k| d.get(*k));
        match self.kind_name() {
            Kind::Text => match str_of(&["content", "delta", "text"]) {
                Some(content) => RunEvent::Text { content },
                None => RunEvent::Other,
            },
            Kind::Thinking => RunEvent::Thinking {
                content: str_of(&["content", "delta"]),
            },
            Kind::ToolCall => RunEvent::ToolCall {
                tool_name: str_of(&["toolName", "toolCallName"]),
                tool_call_id: str_of(&["toolCallId"]),
                args: value_of(&["args", "arguments"]),
            },
            Kind::ToolCallArgs => match str_of(&["delta"]) {
                Some(delta) => RunEvent::ToolCallArgs {
                    tool_call_id: str_of(&["toolCallId"]),
                    delta,
                },
                None => RunEvent::Other,
            },
            Kind::ToolCallEnd => RunEvent::ToolCallEnd {
                tool_call_id: str_of(&["toolCallId"]),
            },
            Kind::ToolResult => RunEvent::ToolResult {
                tool_call_id: str_of(&["toolCallId"]),
                result: value_of(&["result", "content", "output"]),
            },
            Kind::Approval => RunEvent::ApprovalRequested {
                approval_id: str_of(&["approvalId"])
                    .or_else(|| d.pointer("/block/approvalId")?.as_str())
                    .or_else(|| str_of(&["id"])),
                data: d,
            },
            Kind::Finished => RunEvent::RunFinished {
                result: value_of(&["result"]),
            },
            Kind::Error => RunEvent::RunError {
                message: str_of(&["message"]).or_else(|| d.pointer("/error/message")?.as_str()),
            },
            Kind::Other => RunEvent::Other,
        }
    }

    /// Whether this event says the run finished (`RunFinished` or `RUN_FINISHED`,
    /// as the name or as `data.type`).
    ///
    /// # Example
    /// ```
    /// let e = zaby::SseEvent::new("RunFinished", serde_json::json!({}));
    /// assert!(e.is_run_finished());
    /// ```
    pub fn is_run_finished(&self) -> bool {
        self.name_kind() == Kind::Finished || self.type_kind() == Kind::Finished
    }

    /// Whether the stream ends after this event: the run finished or failed.
    ///
    /// # Example
    /// ```
    /// let e = zaby::SseEvent::new("message", serde_json::json!({"type": "RUN_ERROR"}));
    /// assert!(e.is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        let ends = |k| matches!(k, Kind::Finished | Kind::Error);
        ends(self.name_kind()) || ends(self.type_kind())
    }

    /// The kind named by the event name, else by the AG-UI `data.type`.
    fn kind_name(&self) -> Kind {
        match self.name_kind() {
            Kind::Other => self.type_kind(),
            kind => kind,
        }
    }

    fn name_kind(&self) -> Kind {
        self.event.as_deref().map_or(Kind::Other, Kind::from_name)
    }

    fn type_kind(&self) -> Kind {
        let Some(ty) = self.data.get("type").and_then(Value::as_str) else {
            return Kind::Other;
        };
        match Kind::from_name(ty) {
            // `data.type` "approval-card" alone is not an approval: AG-UI wraps
            // it in a UI_BLOCK, whose `block.type` or `block.kind` marks the card.
            Kind::Other if is_ag_ui(ty, "UI_BLOCK") => {
                let is_card = |key| {
                    self.data.get("block").and_then(|b| b.get(key)?.as_str())
                        == Some("approval-card")
                };
                if is_card("type") || is_card("kind") {
                    Kind::Approval
                } else {
                    Kind::Other
                }
            }
            kind => kind,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    ToolCall,
    ToolCallArgs,
    ToolCallEnd,
    ToolResult,
    Approval,
    Finished,
    Error,
    Other,
}

impl Kind {
    /// The runtime-client names, and the AG-UI ones in upper snake or PascalCase.
    fn from_name(name: &str) -> Kind {
        match name {
            "text" => return Kind::Text,
            "thinking" => return Kind::Thinking,
            "tool_call" => return Kind::ToolCall,
            "tool_result" => return Kind::ToolResult,
            "approval_required" => return Kind::Approval,
            "RunFinished" => return Kind::Finished,
            "RunError" => return Kind::Error,
            _ => {}
        }
        const AG_UI: &[(&str, Kind)] = &[
            ("TEXT_MESSAGE_CONTENT", Kind::Text),
            ("TEXT_MESSAGE_CHUNK", Kind::Text),
            ("TOOL_CALL_START", Kind::ToolCall),
            ("TOOL_CALL_ARGS", Kind::ToolCallArgs),
            ("TOOL_CALL_END", Kind::ToolCallEnd),
            ("TOOL_CALL_RESULT", Kind::ToolResult),
            ("INTERRUPTION", Kind::Approval),
            ("RUN_FINISHED", Kind::Finished),
            ("RUN_ERROR", Kind::Error),
        ];
        if let Some((_, kind)) = AG_UI.iter().find(|(n, _)| is_ag_ui(name, n)) {
            return *kind;
        }
        // THINKING_START, THINKING_TEXT_MESSAGE_CONTENT, ThinkingEnd, …
        if name.starts_with("THINKING") || name.starts_with("Thinking") {
            return Kind::Thinking;
        }
        Kind::Other
    }
}

/// Whether `name` is the AG-UI kind `upper` (e.g. `RUN_FINISHED`) in upper
/// snake case or in PascalCase (`RunFinished`), without allocating.
fn is_ag_ui(name: &str, upper: &str) -> bool {
    if name == upper {
        return true;
    }
    let mut pascal = name.bytes();
    for word in upper.split('_') {
        let mut first = true;
        for b in word.bytes() {
            let want = if first { b } else { b.to_ascii_lowercase() };
            first = false;
            if pascal.next() != Some(want) {
                return false;
            }
        }
    }
    pascal.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let card = ag_ui(
            json!({"type": "UI_BLOCK", "block": {"type": "approval-card", "approvalId": "a3"}}),
        );
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
}
