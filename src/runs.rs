//! Runs: start one, read its stored events.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::body::json_or_null;
use crate::call::{Call, new_request_id};
use crate::path::segment;
use crate::run::{Run, decode_run};
use crate::{EventStream, Result, SseEvent, ZabyRuntime};

/// Run calls, from [`ZabyRuntime::runs`].
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1", "status": "PENDING"}));
/// # mock.push_json("GET", "/api/v1/agent-runtime/runs/r1/events", 200, serde_json::json!([]));
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
/// let runs = runtime.runs();
/// let run = runs.start("Hello")?;
/// let events = runs.events(&run.run_id, Default::default())?;
/// assert!(events.is_empty());
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Runs<'a> {
    pub(crate) client: &'a ZabyRuntime,
    pub(crate) options: crate::RequestOptions,
}

/// The path of a run's sub-resource, with the id encoded as one segment.
pub(crate) fn run_path(run_id: &str, rest: &str) -> Result<String> {
    Ok(format!(
        "{PREFIX}/runs/{}{rest}",
        segment(run_id, "run id")?
    ))
}

pub(crate) const PREFIX: &str = "/api/v1/agent-runtime";

impl ZabyRuntime {
    /// Start runs, stream them, read their stored events.
    ///
    /// # Example
    /// ```no_run
    /// # let runtime = zaby::ZabyRuntime::new("eyJhbGciOi...")?;
    /// let run = runtime.runs().start("Hello")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn runs(&self) -> Runs<'_> {
        Runs {
            client: self,
            options: crate::RequestOptions::default(),
        }
    }
}

impl Runs<'_> {
    /// The same calls with these options (request id, headers, query,
    /// timeout, retries, cancel handle).
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::RequestOptions;
    /// let calls = runtime.runs().with_options(RequestOptions::new().request_id("req-1"));
    /// # let _ = calls;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn with_options(self, options: crate::RequestOptions) -> Self {
        Runs { options, ..self }
    }

    /// Starts a run with the user's message and returns it as the server answered.
    ///
    /// The call carries a request id (yours, or a fresh one), the same on every
    /// try, so the server runs it once however often it is retried.
    ///
    /// # Errors
    /// The API errors of [`crate::Error`], connection failures and timeouts,
    /// and [`crate::Error::Decode`] when the answer is not a run.
    ///
    /// # Example
    /// ```
    /// # let fake = zaby::testing::MockTransport::new();
    /// # fake.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1", "status": "COMPLETED", "finalOutput": "Hi!"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(fake).build()?;
    /// use zaby::{RunStatus, StartRun};
    /// let run = runtime.runs().start(StartRun::new("What can you help me with?").request_id("my-req-001"))?;
    /// assert_eq!(run.status, RunStatus::Completed);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn start(&self, input: impl Into<StartRun>) -> Result<Run> {
        let mut start = input.into();
        start.check_fields()?;
        // The same id on every try makes the start idempotent: the StartRun's,
        // else the options', else a fresh one; in the body and the header alike.
        self.options.fill_request_id(&mut start.request_id);
        start.request_id.get_or_insert_with(new_request_id);
        let mut call = Call::post(format!("{PREFIX}/runs"), Some(&start))?;
        call.request_id = start.request_id.clone();
        call.idempotent = true;
        let call = call.with_options(&self.options)?;
        self.client.core.answer(&call, decode_run)
    }

    /// Connects to the run's live event stream. The connection is made now:
    /// a non-2xx answer (or a 204) is this call's error, before any event.
    ///
    /// # Errors
    /// The API errors of [`crate::Error`], connection failures and timeouts;
    /// [`crate::Error::Stream`] for a 204 or an answer that is not an event
    /// stream; [`crate::Error::InvalidInput`] for a bad run id.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![
    /// #     SseEvent::new("tool_call", serde_json::json!({"toolName": "weather"})),
    /// #     SseEvent::new("RunFinished", serde_json::json!({})),
    /// # ]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::RunEvent;
    /// for event in runtime.runs().stream("r1")? {
    ///     if let RunEvent::ToolCall { tool_name, .. } = event?.kind() {
    ///         println!("[Calling tool: {}]", tool_name.unwrap_or("?"));
    ///     }
    /// }
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn stream(&self, run_id: &str) -> Result<EventStream> {
        EventStream::open(
            self.client,
            run_id,
            run_path(run_id, "/aiui")?,
            &self.options,
        )
    }

    /// The events stored for a run (the server returns 50 unless `limit` says otherwise).
    ///
    /// # Errors
    /// As [`start`](Self::start); [`crate::Error::InvalidInput`] for an empty,
    /// `.` or `..` run id, before anything is sent.
    ///
    /// # Example
    /// ```
    /// # let fake = zaby::testing::MockTransport::new();
    /// # fake.push_json("GET", "/api/v1/agent-runtime/runs/r1/events", 200, serde_json::json!({"events": [{"seq": 1, "event": "text", "data": {"content": "Hi"}}]}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(fake).build()?;
    /// use zaby::EventsQuery;
    /// let events = runtime.runs().events("r1", EventsQuery::limit(100))?;
    /// assert_eq!(events[0].id.as_deref(), Some("1"));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn events(&self, run_id: &str, query: EventsQuery) -> Result<Vec<SseEvent>> {
        let mut path = run_path(run_id, "/events")?;
        let limit = query.limit.map(|n| ("limit".to_owned(), n.to_string()));
        crate::path::push_query(&mut path, limit.as_slice());
        let call = Call::get(path).with_options(&self.options)?;
        self.client
            .core
            .answer(&call, |body| stored_events(json_or_null(body)?))
    }
}

/// Refuses extra fields that a setter of `owner` owns.
pub(crate) fn check_fields(extra: &Map<String, Value>, owned: &[&str], owner: &str) -> Result<()> {
    match extra.keys().find(|name| owned.contains(&name.as_str())) {
        Some(name) => Err(crate::Error::InvalidInput(format!(
            "the field {name} belongs to {owner}'s own setter; use it instead of field()"
        ))),
        None => Ok(()),
    }
}

/// Reads stored events leniently: an array, or an object holding one under
/// `events`, `items` or `data`.
fn stored_events(body: Value) -> Result<Vec<SseEvent>> {
    let records = match body {
        Value::Array(records) => records,
        Value::Object(mut map) => match ["events", "items", "data"].iter().find_map(|key| match map
            .remove(*key)
        {
            Some(Value::Array(records)) => Some(records),
            _ => None,
        }) {
            Some(records) => records,
            None => return Err(not_events(&Value::Object(map))),
        },
        other => return Err(not_events(&other)),
    };
    Ok(records.into_iter().map(stored_event).collect())
}

fn not_events(body: &Value) -> crate::Error {
    crate::Error::Decode(crate::DecodeError {
        message: "expected stored events: an array, or an object with `events`, `items` or `data`"
            .to_owned(),
        body: body.to_string(),
    })
}

fn stored_event(record: Value) -> SseEvent {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = ["id", "seq"]
        .iter()
        .find_map(|k| record.get(*k).and_then(text));
    let event = ["event", "type"]
        .iter()
        .find_map(|k| record.get(*k)?.as_str().map(str::to_owned));
    let data = ["data", "payload"]
        .iter()
        .find_map(|k| record.get(*k).cloned());
    SseEvent {
        event,
        data: data.unwrap_or(record),
        id,
    }
}

/// What to start a run with. `&str`, `String` and `serde_json::Value` convert into it.
///
/// # Example
/// ```
/// let start = zaby::StartRun::new(serde_json::json!({"question": "weather", "city": "London"}))
///     .request_id("my-req-001")
///     .respond_async(true);
/// # let _ = start;
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRun {
    input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    respond_async: Option<bool>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl StartRun {
    /// The user's message to the agent: text, or any JSON.
    ///
    /// # Example
    /// ```
    /// use zaby::StartRun;
    /// let text = StartRun::new("What's the weather in London?");
    /// let structured = StartRun::new(serde_json::json!({"question": "weather", "city": "London"}));
    /// # let _ = (text, structured);
    /// ```
    pub fn new(input: impl Into<Value>) -> Self {
        StartRun {
            input: input.into(),
            request_id: None,
            respond_async: None,
            extra: Map::new(),
        }
    }

    /// An extra top-level body field: a thread or session id, metadata, …
    /// `Value::Null` is sent as `null`. The names `input`, `requestId` and
    /// `respondAsync` belong to the setters: [`Runs::start`] fails with
    /// [`crate::Error::InvalidInput`] and sends nothing.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::StartRun;
    /// runtime.runs().start(StartRun::new("hi").field("threadId", "t-7"))?;
    /// assert_eq!(mock.requests()[0].body.as_ref().unwrap()["threadId"], "t-7");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    pub(crate) fn check_fields(&self) -> Result<()> {
        check_fields(
            &self.extra,
            &["input", "requestId", "respondAsync"],
            "StartRun",
        )
    }

    /// The idempotency key: a unique value per run makes retries safe.
    /// Defaults to a fresh random id.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// use zaby::StartRun;
    /// runtime.runs().start(StartRun::new("Hello").request_id("order-1234-summary"))?;
    /// assert_eq!(mock.requests()[0].body.as_ref().unwrap()["requestId"], "order-1234-summary");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Answer at once with a pending run instead of waiting for it to finish.
    /// Defaults to the server's choice.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1", "status": "PENDING"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::{RunStatus, StartRun};
    /// let run = runtime.runs().start(StartRun::new("Write a long report").respond_async(true))?;
    /// assert_eq!(run.status, RunStatus::Pending); // stream it to follow
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn respond_async(mut self, yes: bool) -> Self {
        self.respond_async = Some(yes);
        self
    }
}

impl From<&str> for StartRun {
    fn from(input: &str) -> Self {
        StartRun::new(input)
    }
}

impl From<String> for StartRun {
    fn from(input: String) -> Self {
        StartRun::new(input)
    }
}

impl From<&String> for StartRun {
    fn from(input: &String) -> Self {
        StartRun::new(input.as_str())
    }
}

impl From<Value> for StartRun {
    fn from(input: Value) -> Self {
        StartRun::new(input)
    }
}

/// Options of [`Runs::events`].
///
/// # Example
/// ```
/// use zaby::EventsQuery;
/// assert_eq!(EventsQuery::default().limit, None); // the server's 50
/// assert_eq!(EventsQuery { limit: Some(200) }.limit, EventsQuery::limit(200).limit);
/// ```
#[derive(Clone, Debug, Default)]
pub struct EventsQuery {
    /// How many events at most; the server's default is 50.
    pub limit: Option<u32>,
}

impl EventsQuery {
    /// At most `n` events.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::EventsQuery::limit(100).limit, Some(100));
    /// ```
    pub fn limit(n: u32) -> Self {
        EventsQuery { limit: Some(n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_events_in_every_shape() {
        let records = json!([
            {"seq": 2, "type": "text", "payload": {"content": "a"}},
            {"id": "x", "event": "RunFinished", "data": {}},
            {"kind": "odd"}
        ]);
        let expected = vec![
            SseEvent {
                event: Some("text".into()),
                data: json!({"content": "a"}),
                id: Some("2".into()),
            },
            SseEvent {
                event: Some("RunFinished".into()),
                data: json!({}),
                id: Some("x".into()),
            },
            SseEvent {
                event: None,
                data: json!({"kind": "odd"}),
                id: None,
            },
        ];
        for body in [
            records.clone(),
            json!({"events": records}),
            json!({"items": records}),
            json!({"data": records}),
        ] {
            assert_eq!(stored_events(body).unwrap(), expected);
        }
        assert!(stored_events(json!({"nothing": 1})).is_err());
        assert!(stored_events(json!("text")).is_err());
    }
}
