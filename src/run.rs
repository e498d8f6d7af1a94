//! A run as the server answers it, read leniently: unknown fields and
//! statuses are kept, odd shapes never fail a run the server did start.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Result;
use crate::body::decode;

/// A run, its id read from `runId`, else `id`, else `run.id`, as the official
/// examples accept all three.
pub(crate) fn decode_run(body: &[u8]) -> Result<Run> {
    let mut value: Value = decode(body, "a run")?;
    if let Value::Object(map) = &mut value {
        if !map.get("runId").is_some_and(Value::is_string) {
            let id = map
                .get("id")
                .or_else(|| map.get("run")?.get("id"))
                .filter(|id| id.is_string())
                .cloned();
            if let Some(id) = id {
                map.insert("runId".to_owned(), id);
            }
        }
    }
    serde_json::from_value(value).map_err(|e| crate::body::not_what("a run", &e, body))
}

/// A run, as the server answered. Fields it did not send are `None`; fields
/// this version does not know are kept in `extra`.
///
/// # Example
/// ```
/// use zaby::{Run, RunStatus};
/// let answer = serde_json::json!({"runId": "r1", "status": "COMPLETED", "finalOutput": "Hi!", "traceId": "t-9"});
/// let run: Run = serde_json::from_value(answer).unwrap();
/// assert_eq!(run.status, RunStatus::Completed);
/// assert_eq!(run.final_output.as_deref(), Some("Hi!"));
/// assert_eq!(run.extra["traceId"], "t-9"); // a field this version does not know
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run's id: stream it, read its events, answer its approvals.
    pub run_id: String,
    /// Completed, failed, pending, or a status this version does not know.
    #[serde(default)]
    pub status: RunStatus,
    /// The workflow that ran.
    #[serde(default, deserialize_with = "lenient_text")]
    pub workflow_id: Option<String>,
    /// The deployment that ran it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub deployment_id: Option<String>,
    /// The sequence number of the run's latest event.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub latest_seq: Option<u64>,
    /// The agent's final answer, when the run completed.
    #[serde(default, deserialize_with = "lenient_text")]
    pub final_output: Option<String>,
    /// The agent session.
    #[serde(default, deserialize_with = "lenient_text")]
    pub agent_session_id: Option<String>,
    /// The external app the token was minted for.
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_app_id: Option<String>,
    /// Every other field of the answer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Text as sent; a number or other JSON as its JSON text, so that an answer
/// of an unexpected shape never fails a run that the server did start.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// A number, or a number written as text; anything else is `None`.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The status of a run. Unknown statuses are kept, never an error.
///
/// # Example
/// ```
/// use zaby::RunStatus;
/// let status = RunStatus::from("PAUSED");
/// assert_eq!(status, RunStatus::Other("PAUSED".into()));
/// assert_eq!(status.as_str(), "PAUSED");
/// assert_eq!(RunStatus::from("PENDING"), RunStatus::Pending);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunStatus {
    /// `COMPLETED`: `final_output` holds the answer.
    Completed,
    /// `FAILED`.
    Failed,
    /// `PENDING`: still running; stream it to follow.
    Pending,
    /// Any other status, as sent (`""` when the answer had none).
    Other(String),
}

impl Default for RunStatus {
    fn default() -> Self {
        RunStatus::Other(String::new())
    }
}

impl RunStatus {
    /// The status as the wire spells it.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::RunStatus::Pending.as_str(), "PENDING");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Completed => "COMPLETED",
            RunStatus::Failed => "FAILED",
            RunStatus::Pending => "PENDING",
            RunStatus::Other(s) => s,
        }
    }
}

impl From<&str> for RunStatus {
    fn from(s: &str) -> Self {
        match s {
            "COMPLETED" => RunStatus::Completed,
            "FAILED" => RunStatus::Failed,
            "PENDING" => RunStatus::Pending,
            other => RunStatus::Other(other.to_owned()),
        }
    }
}

impl Serialize for RunStatus {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A null or non-string status is kept as text rather than failing the run.
        Ok(match Value::deserialize(d)? {
            Value::String(s) => RunStatus::from(s.as_str()),
            Value::Null => RunStatus::default(),
            other => RunStatus::Other(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_keep_unknown_fields_and_statuses() {
        let run: Run = serde_json::from_value(json!({
            "runId": "r", "status": "PAUSED", "latestSeq": 15, "newField": [1]
        }))
        .unwrap();
        assert_eq!(run.status, RunStatus::Other("PAUSED".into()));
        assert_eq!(run.latest_seq, Some(15));
        assert_eq!(run.extra.get("newField"), Some(&json!([1])));
        let back = serde_json::to_value(&run).unwrap();
        assert_eq!(back["newField"], json!([1]));
        assert_eq!(back["status"], json!("PAUSED"));
        let odd: Run = serde_json::from_value(json!({
            "runId": "r", "finalOutput": {"text": "hi"}, "latestSeq": "7", "workflowId": 12, "status": null
        }))
        .unwrap();
        assert_eq!(odd.final_output.as_deref(), Some(r#"{"text":"hi"}"#));
        assert_eq!(odd.latest_seq, Some(7));
        assert_eq!(odd.workflow_id.as_deref(), Some("12"));
        let bare: Run = serde_json::from_value(json!({"runId": "r"})).unwrap();
        assert_eq!(bare.status, RunStatus::Other(String::new()));
    }
}
