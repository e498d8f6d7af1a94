//! A run's state: its events folded into text, tool calls, approvals and an end.

use serde_json::Value;

use crate::positions::{HasId, Positions};
use crate::tool_call::{ArgsState, ToolCallState, open, unresolved};
use crate::{EventStream, Result, RunEvent, SseEvent};

/// Everything a run has said so far, folded from its events in order.
///
/// Feed it every event with [`apply`](Self::apply), which says what changed,
/// so a frame loop redraws only that; or let [`EventStream::collect_run`]
/// read a whole run into one. It reads every event the typed view
/// ([`SseEvent::kind`]) reads, in the runtime-client names and in AG-UI's.
///
/// | event | what it does |
/// |---|---|
/// | text | appends its content to [`text`](Self::text) |
/// | thinking | appends its content, when it has one, to [`thinking`](Self::thinking) |
/// | tool call (`tool_call`, `TOOL_CALL_START`) | adds a call to [`tool_calls`](Self::tool_calls) |
/// | `TOOL_CALL_ARGS` | appends its `delta` to the call's arguments text |
/// | `TOOL_CALL_END` | the call's arguments are complete: parsed as JSON |
/// | tool result (`tool_result`, `TOOL_CALL_RESULT`) | sets the matching call's result |
/// | approval requested | adds an [`ApprovalRequest`] to [`approvals`](Self::approvals) |
/// | run finished | [`RunPhase::Finished`], [`result`](Self::result) |
/// | run error | [`RunPhase::Failed`], [`error`](Self::error) |
/// | anything else | nothing |
///
/// Every event counts in [`events`](Self::events), and its id, when it has
/// one, becomes [`last_event_id`](Self::last_event_id). An event the state
/// cannot use (an unknown kind, text that is not a string, a tool-call event
/// or an approval whose data is not a JSON object) changes nothing
/// else and [`apply`](Self::apply) returns [`Change::Nothing`]. Nothing a
/// server sends panics. The state keeps everything the run said, so its
/// memory grows with the run (where the stream holds one event at a time);
/// match on [`SseEvent::kind`] yourself to keep less.
///
/// # Tool calls and their ids
///
/// Calls are kept in the order they started. A result goes to the latest
/// call with its `toolCallId`; a result without an id goes to the latest call
/// that has no result yet. A result that matches no call is kept as a call of
/// its own (its id, no name, no arguments), so nothing the server said is
/// lost. A tool result without a result value records [`Value::Null`].
///
/// **The same id started twice**: while the earlier call with that id still
/// waits for its result, the second start is taken as a repeat (a replay)
/// and updates that call: a name or arguments it carries replace the earlier
/// ones. Once the earlier call has its result, a start with the same id is a
/// new call, and later results with that id go to the new one. A start
/// without an id is always a new call.
///
/// # Arguments
///
/// A call's [`args`](ToolCallState::args) are the `args` (or `arguments`)
/// its start sent, as sent. AG-UI sends them instead as text fragments,
/// `TOOL_CALL_ARGS` events (matched by `toolCallId`, or without one to the
/// latest call whose arguments are still open). While fragments arrive,
/// `args` is a [`Value::String`] of the text joined so far (the first
/// fragment replaces what the start sent). When the call ends
/// (`TOOL_CALL_END`), its result arrives, or the run ends, the text is parsed:
/// valid JSON replaces the string; **text that never parses stays as the
/// `Value::String` of the raw text**, so nothing is lost. Fragments or an end
/// for a call that never started, or whose arguments are already complete,
/// are [`Change::Nothing`].
///
/// # The end of a run
///
/// The run is done ([`is_done`](Self::is_done)) at the first event that ends
/// it: the events the stream stops after ([`SseEvent::is_terminal`]). A run
/// error sets [`error`](Self::error) to its message (`None` when it sent
/// none). **A `RunFinished` without a result** leaves [`result`](Self::result)
/// `None`: the answer is then [`text`](Self::text). Arguments still open are
/// parsed as at a call's end.
///
/// **Events after the terminal one**: an [`EventStream`] stops at the
/// terminal event, so [`EventStream::collect_run`] never sees any; events
/// applied by hand after it (from stored events, say) are counted in
/// `events` and `last_event_id` but change nothing else: [`Change::Nothing`].
/// A finished run's state is final.
///
/// The fields are yours to edit; calls are found through an index that is
/// built again when a list grows or shrinks under it, but not when an id or
/// a result is changed in place: fold into a fresh state after such an edit.
///
/// # Example
/// ```
/// use serde_json::json;
/// use zaby::{Change, RunPhase, RunState, SseEvent};
///
/// let mut state = RunState::new();
/// let events = [
///     SseEvent::new("text", json!({"content": "It is "})),
///     SseEvent::new("message", json!({"type": "TEXT_MESSAGE_CONTENT", "delta": "sunny."})),
///     SseEvent::new("tool_call", json!({"toolName": "weather", "toolCallId": "c1", "args": {"city": "Paris"}})),
///     SseEvent::new("tool_result", json!({"toolCallId": "c1", "result": {"tempC": 18}})),
///     SseEvent::new("RunFinished", json!({"result": "ok"})),
/// ];
/// let changes: Vec<Change> = events.iter().map(|e| state.apply(e)).collect();
/// assert_eq!(changes, [Change::Text, Change::Text, Change::ToolCall, Change::ToolResult, Change::Finished]);
/// assert_eq!(state.text, "It is sunny.");
/// assert_eq!(state.tool_calls[0].name.as_deref(), Some("weather"));
/// assert_eq!(state.tool_calls[0].result, Some(json!({"tempC": 18})));
/// assert_eq!(state.phase, RunPhase::Finished);
/// assert!(state.is_done());
/// assert_eq!(state.events, 5);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RunState {
    /// Every text content, concatenated in order.
    pub text: String,
    /// Every thinking content, concatenated in order.
    pub thinking: String,
    /// The tool calls, in the order they started.
    pub tool_calls: Vec<ToolCallState>,
    /// Every approval request, in order (one per approval id).
    pub approvals: Vec<ApprovalRequest>,
    /// Running until the run finished or failed.
    pub phase: RunPhase,
    /// The result `RunFinished` sent; `None` until then, or when it sent none.
    pub result: Option<Value>,
    /// The message `RunError` sent; `None` until then, or when it sent none.
    pub error: Option<String>,
    /// The id of the latest event that had one.
    pub last_event_id: Option<String>,
    /// How many events were applied, unknown ones and ones after the end included.
    pub events: u64,
    /// Lookup aids, so that a run of many calls folds in linear time: calls
    /// by id and those without a result; calls with open arguments; approvals.
    calls_at: Positions,
    open_at: Positions,
    approvals_at: Positions,
}

/// An approval request of a run, in [`RunState::approvals`]; answer it with
/// [`crate::Approvals`].
///
/// # Example
/// ```
/// let data = serde_json::json!({"approvalId": "a1"});
/// let state: zaby::RunState = [zaby::SseEvent::new("approval_required", data)].iter().collect();
/// assert_eq!(state.approvals[0].id.as_deref(), Some("a1"));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApprovalRequest {
    /// `approvalId`, `block.approvalId` or `id`, when sent.
    pub id: Option<String>,
    /// The whole data of the event.
    pub data: Value,
}

/// Where a run is.
///
/// # Example
/// ```
/// assert_eq!(zaby::RunState::new().phase, zaby::RunPhase::Running);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunPhase {
    /// No terminal event yet.
    #[default]
    Running,
    /// `RunFinished` arrived.
    Finished,
    /// `RunError` arrived.
    Failed,
}

/// What one event changed in a [`RunState`], from [`RunState::apply`].
///
/// # Example
/// ```
/// let mut state = zaby::RunState::new();
/// let text = zaby::SseEvent::new("text", serde_json::json!({"content": "Hi"}));
/// assert_eq!(state.apply(&text), zaby::Change::Text);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// [`RunState::text`] grew.
    Text,
    /// [`RunState::thinking`] grew.
    Thinking,
    /// A tool call started, or its name or arguments changed or became complete.
    ToolCall,
    /// A tool call got its result.
    ToolResult,
    /// An approval request arrived.
    Approval,
    /// The run finished: [`RunState::phase`] and [`RunState::result`].
    Finished,
    /// The run failed: [`RunState::phase`] and [`RunState::error`].
    Failed,
    /// Nothing but [`RunState::events`] and [`RunState::last_event_id`].
    Nothing,
}

impl RunState {
    /// An empty state: running, nothing said yet.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::RunState::new().phase, zaby::RunPhase::Running);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event into the state and says what it changed; see
    /// [`RunState`] for every rule.
    ///
    /// # Example
    /// ```
    /// use zaby::{Change, RunState, SseEvent};
    /// let mut state = RunState::new();
    /// let change = state.apply(&SseEvent::new("text", serde_json::json!({"content": "Hi"})));
    /// assert_eq!(change, Change::Text);
    /// assert_eq!(state.apply(&SseEvent::new("ping", serde_json::json!({}))), Change::Nothing);
    /// assert_eq!((state.text.as_str(), state.events), ("Hi", 2));
    /// ```
    pub fn apply(&mut self, event: &SseEvent) -> Change {
        self.events += 1;
        if event.id.is_some() {
            self.last_event_id.clone_from(&event.id);
        }
        if self.is_done() {
            return Change::Nothing;
        }
        let change = self.fold(event);
        if self.is_done() || !event.is_terminal() {
            return change;
        }
        // Terminal by `data.type` although its name says another kind: the
        // stream stops here, so the run ends here too.
        if event.is_run_finished() {
            self.end(RunPhase::Finished)
        } else {
            self.end(RunPhase::Failed)
        }
    }

    /// Whether the run finished or failed.
    ///
    /// # Example
    /// ```
    /// let mut state = zaby::RunState::new();
    /// assert!(!state.is_done());
    /// state.apply(&zaby::SseEvent::new("RunError", serde_json::json!({"message": "boom"})));
    /// assert!(state.is_done());
    /// assert_eq!(state.error.as_deref(), Some("boom"));
    /// ```
    pub fn is_done(&self) -> bool {
        self.phase != RunPhase::Running
    }

    fn fold(&mut self, event: &SseEvent) -> Change {
        // A tool-call event or an approval is read from an object's fields:
        // any other data has nothing to read.
        let object = event.data.is_object();
        match event.kind() {
            RunEvent::Text { content } => append(&mut self.text, content, Change::Text),
            RunEvent::Thinking { content } => {
                append(&mut self.thinking, content.unwrap_or(""), Change::Thinking)
            }
            RunEvent::ToolCall {
                tool_name,
                tool_call_id,
                args,
            } if object => self.start_call(tool_name, tool_call_id, args),
            RunEvent::ToolCallArgs {
                tool_call_id,
                delta,
            } => {
                let pushed = self
                    .open_call(tool_call_id)
                    .is_some_and(|c| c.push_args(delta));
                if pushed {
                    Change::ToolCall
                } else {
                    Change::Nothing
                }
            }
            RunEvent::ToolCallEnd { tool_call_id } if object => {
                match self.open_call(tool_call_id) {
                    Some(call) => {
                        call.complete_args();
                        Change::ToolCall
                    }
                    None => Change::Nothing,
                }
            }
            RunEvent::ToolResult {
                tool_call_id,
                result,
            } if object => {
                self.set_result(tool_call_id, result.cloned().unwrap_or(Value::Null));
                Change::ToolResult
            }
            RunEvent::ApprovalRequested { approval_id, data } if object => {
                self.request_approval(approval_id, data)
            }
            RunEvent::RunFinished { result } => {
                self.result = result.cloned();
                self.end(RunPhase::Finished)
            }
            RunEvent::RunError { message } => {
                self.error = message.map(str::to_owned);
                self.end(RunPhase::Failed)
            }
            _ => Change::Nothing,
        }
    }

    fn start_call(&mut self, name: Option<&str>, id: Option<&str>, args: Option<&Value>) -> Change {
        // A start without an id is never a repeat.
        let pending = id.and_then(|id| self.calls_at.by_id(&self.tool_calls, id, unresolved));
        if let Some(index) = pending.filter(|&i| unresolved(&self.tool_calls[i])) {
            let call = &mut self.tool_calls[index];
            // A repeat: what it carries replaces what the call had.
            let mut change = Change::Nothing;
            if let Some(name) = name.filter(|n| call.name.as_deref() != Some(*n)) {
                call.name = Some(name.to_owned());
                change = Change::ToolCall;
            }
            if let Some(args) = args.filter(|a| call.args.as_ref() != Some(*a)) {
                call.args = Some(args.clone());
                call.args_state = ArgsState::Open;
                self.open_at.waits(index);
                change = Change::ToolCall;
            }
            return change;
        }
        self.push_call(ToolCallState {
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            args: args.cloned(),
            result: None,
            args_state: ArgsState::Open,
        });
        Change::ToolCall
    }

    fn set_result(&mut self, id: Option<&str>, result: Value) {
        let index = match id {
            Some(id) => self.calls_at.by_id(&self.tool_calls, id, unresolved),
            None => self.calls_at.latest_waiting(&self.tool_calls, unresolved),
        };
        match index.and_then(|i| self.tool_calls.get_mut(i)) {
            Some(call) => {
                call.complete_args();
                call.result = Some(result);
            }
            None => self.push_call(ToolCallState {
                id: id.map(str::to_owned),
                name: None,
                args: None,
                result: Some(result),
                args_state: ArgsState::Complete,
            }),
        }
    }

    fn request_approval(&mut self, id: Option<&str>, data: &Value) -> Change {
        let earlier = id
            .and_then(|id| self.approvals_at.by_id(&self.approvals, id, |_| false))
            .and_then(|i| self.approvals.get_mut(i));
        match earlier {
            Some(approval) if approval.data == *data => Change::Nothing,
            Some(approval) => {
                approval.data = data.clone();
                Change::Approval
            }
            None => {
                self.approvals.push(ApprovalRequest {
                    id: id.map(str::to_owned),
                    data: data.clone(),
                });
                self.approvals_at.pushed(&self.approvals, |_| false);
                Change::Approval
            }
        }
    }

    fn push_call(&mut self, call: ToolCallState) {
        self.tool_calls.push(call);
        self.calls_at.pushed(&self.tool_calls, unresolved);
        self.open_at.pushed(&self.tool_calls, open);
    }

    /// The call an argument fragment or an end is for, if its arguments are
    /// still open: by id, else the latest call with open arguments.
    fn open_call(&mut self, id: Option<&str>) -> Option<&mut ToolCallState> {
        let index = match id {
            Some(id) => self.calls_at.by_id(&self.tool_calls, id, unresolved),
            None => self.open_at.latest_waiting(&self.tool_calls, open),
        };
        index
            .and_then(|i| self.tool_calls.get_mut(i))
            .filter(|c| open(c))
    }

    fn end(&mut self, phase: RunPhase) -> Change {
        self.phase = phase;
        for call in &mut self.tool_calls {
            call.complete_args();
        }
        match phase {
            RunPhase::Failed => Change::Failed,
            _ => Change::Finished,
        }
    }
}

impl HasId for ApprovalRequest {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Appends `content`; an empty one changes nothing.
fn append(to: &mut String, content: &str, change: Change) -> Change {
    if content.is_empty() {
        return Change::Nothing;
    }
    to.push_str(content);
    change
}

impl<'a> Extend<&'a SseEvent> for RunState {
    /// Applies every event in order (stored events from
    /// [`crate::Runs::events`], say).
    fn extend<I: IntoIterator<Item = &'a SseEvent>>(&mut self, events: I) {
        for event in events {
            self.apply(event);
        }
    }
}

impl<'a> FromIterator<&'a SseEvent> for RunState {
    /// The state folded from these events, in order.
    ///
    /// # Example
    /// ```
    /// use zaby::{RunState, SseEvent};
    /// let events = vec![SseEvent::new("text", serde_json::json!({"content": "Hi"}))];
    /// let state: RunState = events.iter().collect();
    /// assert_eq!(state.text, "Hi");
    /// ```
    fn from_iter<I: IntoIterator<Item = &'a SseEvent>>(events: I) -> Self {
        let mut state = RunState::new();
        state.extend(events);
        state
    }
}

impl EventStream {
    /// Reads the stream to its end and returns the folded state: for when
    /// you just want the answer ([`RunState::text`]), the tool calls, and how
    /// the run ended.
    ///
    /// The stream ends at the run's terminal event, so the state is then
    /// [done](RunState::is_done); a stream stopped through its
    /// [`CancelHandle`](crate::CancelHandle) returns the state so far, still
    /// running.
    ///
    /// # Errors
    ///
    /// The stream's error, as its iterator yields it: a stream cut short that
    /// could not resume ([`crate::Error::Stream`]), an idle timeout
    /// ([`crate::Error::Timeout`]), a failed reconnect. The state so far is
    /// lost with it; fold with [`RunState::apply`] yourself to keep it.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![
    /// #     SseEvent::new("text", serde_json::json!({"content": "Hello"})),
    /// #     SseEvent::new("RunFinished", serde_json::json!({})),
    /// # ]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let run = runtime.runs().start("Hi")?;
    /// let state = runtime.runs().stream(&run.run_id)?.collect_run()?;
    /// println!("{}", state.text);
    /// # assert_eq!(state.text, "Hello");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn collect_run(self) -> Result<RunState> {
        let mut state = RunState::new();
        for event in self {
            state.apply(&event?);
        }
        Ok(state)
    }
}
