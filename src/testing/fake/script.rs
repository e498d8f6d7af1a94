//! Runs and the scripted agent: what each run's event stream contains.

use serde_json::{Value, json};

use super::ids::fake_uuid;

/// The input marker that makes a run ask for approval before its tool runs.
const APPROVAL_MARKER: &str = "[approval]";

/// One event of a run, numbered from 1 in production order.
pub(super) struct Event {
    pub seq: u64,
    /// `None` for AG-UI events, whose kind is in `data.type`.
    pub name: Option<&'static str>,
    pub data: Value,
}

impl Event {
    /// The event as one SSE block.
    pub fn frame(&self) -> String {
        let mut out = format!("id: {}\n", self.seq);
        if let Some(name) = self.name {
            out.push_str("event: ");
            out.push_str(name);
            out.push('\n');
        }
        // serde_json never puts a newline in compact output, so one data line suffices.
        out.push_str("data: ");
        out.push_str(&self.data.to_string());
        out.push_str("\n\n");
        out
    }

    /// The event as a record of `GET /runs/{runId}/events`.
    pub fn record(&self) -> Value {
        let mut record = json!({"seq": self.seq, "data": self.data});
        if let Some(name) = self.name {
            record["event"] = json!(name);
        }
        record
    }

    /// Whether the run ends with this event.
    pub fn is_terminal(&self) -> bool {
        matches!(self.name, Some("RunFinished" | "RunError"))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

pub(super) struct Approval {
    pub id: String,
    pub decision: Option<Decision>,
}

/// A run and everything its agent has produced so far.
pub(super) struct Run {
    pub number: u64,
    pub id: String,
    pub workflow_id: String,
    pub agent_session_id: String,
    pub text: String,
    pub final_output: String,
    pub events: Vec<Event>,
    pub finished: bool,
    pub failed: bool,
    pub approval: Option<Approval>,
}

const DEPLOYMENT_ID: &str = "d0000000-0000-4000-8000-000000000001";
const EXTERNAL_APP_ID: &str = "a0000000-0000-4000-8000-000000000001";

impl Run {
    /// Creates run number `number` and produces its events up to the first pause.
    pub fn new(number: u64, input: &Value) -> Run {
        let text = match input {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let final_output = answer_pieces(&text).concat();
        let needs_approval = text.contains(APPROVAL_MARKER);
        let mut run = Run {
            number,
            id: fake_uuid(0x7a0b_0001, number),
            workflow_id: fake_uuid(0x7a0b_0002, number),
            agent_session_id: fake_uuid(0x7a0b_0003, number),
            text,
            final_output,
            events: Vec::new(),
            finished: false,
            failed: false,
            approval: None,
        };
        let words = run.text.split_whitespace().count();
        run.push(
            Some("thinking"),
            json!({"content": format!("The user wrote {words} word(s); I will echo them.")}),
        );
        run.push(
            Some("tool_call"),
            json!({"toolName": "echo", "toolCallId": "call-1", "args": {"text": run.text}}),
        );
        if needs_approval {
            let id = format!("approval-{number}");
            run.push(
                Some("approval_required"),
                json!({"approvalId": id, "runId": run.id, "message": "The agent wants to run the echo tool."}),
            );
            run.approval = Some(Approval { id, decision: None });
        } else {
            run.finish_script();
        }
        run
    }

    fn push(&mut self, name: Option<&'static str>, data: Value) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event { seq, name, data });
    }

    /// The tool result, the answer and `RunFinished`.
    fn finish_script(&mut self) {
        self.push(
            Some("tool_result"),
            json!({"toolCallId": "call-1", "result": self.text}),
        );
        let message_id = format!("msg-{}", self.number);
        for (i, piece) in answer_pieces(&self.text).into_iter().enumerate() {
            // Alternate the two forms the live service uses, so clients must read both.
            if i % 2 == 0 {
                self.push(Some("text"), json!({"content": piece}));
            } else {
                self.push(
                    None,
                    json!({"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": piece}),
                );
            }
        }
        self.push(
            Some("RunFinished"),
            json!({"result": {"finalOutput": self.final_output}}),
        );
        self.finished = true;
    }

    /// Applies an approval decision; the caller has checked it is the first one.
    pub fn decide(&mut self, decision: Decision) {
        if let Some(approval) = &mut self.approval {
            approval.decision = Some(decision);
        }
        match decision {
            Decision::Approved => self.finish_script(),
            Decision::Rejected => {
                self.push(Some("RunError"), json!({"message": "approval rejected"}));
                self.finished = true;
                self.failed = true;
            }
        }
    }

    /// The run as `POST /runs` answers it; `pending` forces the asynchronous answer.
    pub fn to_json(&self, pending: bool) -> Value {
        let status = if pending || !self.finished {
            "PENDING"
        } else if self.failed {
            "FAILED"
        } else {
            "COMPLETED"
        };
        let mut run = json!({
            "runId": self.id,
            "workflowId": self.workflow_id,
            "deploymentId": DEPLOYMENT_ID,
            "agentSessionId": self.agent_session_id,
            "externalAppId": EXTERNAL_APP_ID,
            "status": status,
            "latestSeq": self.events.len(),
        });
        if status == "COMPLETED" {
            run["finalOutput"] = json!(self.final_output);
        }
        run
    }
}

/// "You said:" then one piece per input word, each with its leading space.
fn answer_pieces(text: &str) -> Vec<String> {
    std::iter::once("You said:".to_owned())
        .chain(text.split_whitespace().map(|w| format!(" {w}")))
        .collect()
}
