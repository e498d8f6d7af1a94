//! One tool call of a run, as a [`RunState`](crate::RunState) folds it:
//! its arguments given whole or joined from AG-UI fragments.

use serde_json::Value;

use crate::positions::HasId;

/// One tool call of a run, in [`RunState::tool_calls`](crate::RunState::tool_calls).
///
/// # Example
/// ```
/// use serde_json::json;
/// let mut state = zaby::RunState::new();
/// state.apply(&zaby::SseEvent::new("tool_call", json!({"toolName": "weather", "toolCallId": "c1"})));
/// state.apply(&zaby::SseEvent::new("tool_result", json!({"toolCallId": "c1", "result": {"tempC": 18}})));
/// let call = &state.tool_calls[0];
/// assert_eq!((call.id.as_deref(), call.name.as_deref()), (Some("c1"), Some("weather")));
/// assert_eq!(call.result, Some(json!({"tempC": 18})));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ToolCallState {
    /// `toolCallId`, when sent.
    pub id: Option<String>,
    /// `toolName` or `toolCallName`, when sent.
    pub name: Option<String>,
    /// The arguments as sent with the call's start, or assembled from AG-UI
    /// `TOOL_CALL_ARGS` fragments: a [`Value::String`] of the text while they
    /// arrive, parsed as JSON once complete (text that never parses stays a
    /// string). See [`RunState`](crate::RunState).
    pub args: Option<Value>,
    /// The matching tool result, once it arrived.
    pub result: Option<Value>,
    pub(crate) args_state: ArgsState,
}

/// Where a call's arguments are: fragments may come, are coming, or are over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgsState {
    Open,
    Joining,
    Complete,
}

impl ToolCallState {
    /// Appends one `TOOL_CALL_ARGS` fragment; the first replaces the start's
    /// arguments. False when it changed nothing.
    pub(crate) fn push_args(&mut self, delta: &str) -> bool {
        match (&mut self.args, self.args_state) {
            (Some(Value::String(text)), ArgsState::Joining) => {
                if delta.is_empty() {
                    return false;
                }
                text.push_str(delta);
            }
            _ => {
                self.args = Some(Value::String(delta.to_owned()));
                self.args_state = ArgsState::Joining;
            }
        }
        true
    }

    /// No more fragments: the joined text becomes JSON if it parses.
    pub(crate) fn complete_args(&mut self) {
        if self.args_state == ArgsState::Joining {
            if let Some(Value::String(text)) = &self.args {
                if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                    self.args = Some(parsed);
                }
            }
        }
        self.args_state = ArgsState::Complete;
    }
}

impl HasId for ToolCallState {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Still waiting for its result.
pub(crate) fn unresolved(call: &ToolCallState) -> bool {
    call.result.is_none()
}

/// Its arguments may still grow.
pub(crate) fn open(call: &ToolCallState) -> bool {
    call.args_state != ArgsState::Complete
}
