//! An in-process transport with canned answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::headers::redacted;
use crate::transport::{Transport, TransportRequest, TransportResponse};
use crate::{Error, Result, SseEvent};

/// An in-process [`Transport`] that answers with canned answers, in order,
/// and records every request. Clones share the same answers and records.
///
/// A request that does not match the next answer (method, and path without
/// the query) fails with [`Error::InvalidInput`] naming what was expected
/// and what came; so does a request when no answer is left.
///
/// # Example
/// ```
/// use serde_json::json;
/// use zaby::{testing::MockTransport, ZabyRuntime};
///
/// let mock = MockTransport::new();
/// mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, json!({"runId": "r1", "status": "PENDING"}));
/// let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
/// let run = runtime.runs().start("Hello")?;
/// assert_eq!(run.run_id, "r1");
/// let sent = &mock.requests()[0];
/// assert_eq!(sent.body.as_ref().unwrap()["input"], "Hello");
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MockTransport {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    answers: VecDeque<Canned>,
    requests: Vec<RecordedRequest>,
}

struct Canned {
    method: String,
    path: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A request the [`MockTransport`] received. Its `Debug` hides the credential.
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
/// runtime.runs().start("Hello")?;
/// let sent = &mock.requests()[0];
/// assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/v1/agent-runtime/runs"));
/// assert!(!format!("{sent:?}").contains("eyJhbGciOi"));
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, with the query.
    pub path: String,
    /// Headers, names in lower case (the credential included).
    pub headers: Vec<(String, String)>,
    /// The JSON body, when there was one.
    pub body: Option<Value>,
    /// The whole URL: origin and path, with the query.
    pub url: String,
    /// Whether the request asked for an event stream.
    pub stream: bool,
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &redacted(&self.headers))
            .field("body", &crate::mask::redacted_body(&self.body))
            .field("url", &self.url)
            .field("stream", &self.stream)
            .finish()
    }
}

impl RecordedRequest {
    /// The first header of that name.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs", 200, serde_json::json!({"runId": "r1"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// runtime.runs().start("Hello")?;
    /// let sent = &mock.requests()[0];
    /// assert_eq!(sent.header("Authorization"), Some("Bearer eyJhbGciOi..."));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::header(&self.headers, name)
    }
}

impl std::fmt::Debug for MockTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MockTransport")
            .field("answers_left", &state.answers.len())
            .field("requests", &state.requests.len())
            .finish()
    }
}

impl MockTransport {
    /// A mock with no answers.
    ///
    /// # Example
    /// ```
    /// let mock = zaby::testing::MockTransport::new();
    /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// assert!(runtime.runs().start("Hello").is_err()); // no answer was pushed
    /// assert_eq!(mock.requests().len(), 1);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new() -> Self {
        MockTransport::default()
    }

    /// Answers the next request, which must be `method path`, with this JSON.
    ///
    /// # Example
    /// ```
    /// let mock = zaby::testing::MockTransport::new();
    /// mock.push_json("POST", "/api/v1/agent-runtime/runs", 404, serde_json::json!({"message": "no such agent"}));
    /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().start("Hello").unwrap_err();
    /// assert!(matches!(err, zaby::Error::NotFound(_)));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn push_json(&self, method: &str, path: &str, status: u16, body: Value) {
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        self.push_raw(method, path, status, headers, body.to_string());
    }

    /// Answers the next request, which must be `method path`, with a 200
    /// event stream of these events (data written as JSON, so it reads back
    /// as given).
    ///
    /// # Example
    /// ```
    /// use serde_json::json;
    /// use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// let mock = MockTransport::new();
    /// mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![
    ///     SseEvent::new("text", json!({"content": "Hi"})),
    ///     SseEvent::new("RunFinished", json!({})),
    /// ]);
    /// let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// assert_eq!(runtime.runs().stream("r1")?.count(), 2);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn push_sse(&self, method: &str, path: &str, events: Vec<SseEvent>) {
        let mut body = String::new();
        for e in &events {
            if let Some(id) = &e.id {
                body.push_str(&format!("id: {id}\n"));
            }
            if let Some(name) = &e.event {
                body.push_str(&format!("event: {name}\n"));
            }
            body.push_str(&format!("data: {}\n\n", e.data));
        }
        let headers = vec![("content-type".to_owned(), "text/event-stream".to_owned())];
        self.push_raw(method, path, 200, headers, body);
    }

    /// Answers the next request, which must be `method path`, with exactly this.
    ///
    /// # Example
    /// ```
    /// let mock = zaby::testing::MockTransport::new();
    /// mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 502, vec![], "<html>Bad gateway</html>");
    /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.status(), Some(502));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn push_raw(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: Vec<(String, String)>,
        body: impl Into<Vec<u8>>,
    ) {
        self.lock().answers.push_back(Canned {
            method: method.to_ascii_uppercase(),
            // Matched without its query, as the request's path is.
            path: without_query(path).to_owned(),
            status,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body: body.into(),
        });
    }

    /// Every request received so far, in order.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_json("POST", "/api/v1/agent-runtime/runs/r1/feedback", 200, serde_json::json!({}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
    /// runtime.feedback().create("r1", zaby::Feedback::rating(4).comment("Good"))?;
    /// let sent = mock.requests();
    /// assert_eq!(sent.len(), 1);
    /// assert_eq!(sent[0].body.as_ref().unwrap()["comment"], "Good");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Forgets the answers left and the requests recorded.
    ///
    /// # Example
    /// ```
    /// let mock = zaby::testing::MockTransport::new();
    /// mock.push_json("GET", "/x", 200, serde_json::json!({}));
    /// mock.reset();
    /// assert!(mock.requests().is_empty());
    /// ```
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the records from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Transport for MockTransport {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse> {
        let mut state = self.lock();
        let body = request.body.as_ref().map(|bytes| {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        });
        state.requests.push(RecordedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers,
            body,
            url: request.url,
            stream: request.stream,
        });
        let path = without_query(&request.path);
        let Some(next) = state.answers.front() else {
            return Err(Error::InvalidInput(format!(
                "MockTransport has no answer left for {} {}",
                request.method, request.path
            )));
        };
        if next.method != request.method || next.path != path {
            return Err(Error::InvalidInput(format!(
                "MockTransport expected {} {} but got {} {path} (queries are not compared)",
                next.method, next.path, request.method
            )));
        }
        let canned = state.answers.pop_front().expect("checked above");
        Ok(TransportResponse {
            status: canned.status,
            headers: canned.headers,
            body: Box::new(std::io::Cursor::new(canned.body)),
        })
    }
}

fn without_query(path: &str) -> &str {
    path.split('?').next().unwrap_or_default()
}
