//! One event of a run, and its typed view.

use serde_json::Value;

/// One Server-Sent Event of a run, as streamed or as stored.
///
/// # Example
/// ```
/// use zaby::SseEvent;
/// let event = SseEvent { id: Some("7".into()), ..SseEvent::new("text", serde_json::json!({"content": "Hi"})) };
/// assert_eq!(event.event.as_deref(), Some("text"));
/// assert_eq!(event.data["content"], "Hi");
/// ```
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
///
/// # Example
/// ```
/// use zaby::{RunEvent, SseEvent};
/// let event = SseEvent::new("message", serde_json::json!({"type": "RUN_ERROR", "message": "quota exceeded"}));
/// match event.kind() {
///     RunEvent::Text { content } => print!("{content}"),
///     RunEvent::RunError { message } => assert_eq!(message, Some("quota exceeded")),
///     _ => {}
/// }
/// ```
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
