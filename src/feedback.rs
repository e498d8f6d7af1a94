//! Feedback on a run: a rating and a comment.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::call::Call;
use crate::runs::run_path;
use crate::{Error, Result, ZabyRuntime};

/// Feedback calls, from [`ZabyRuntime::feedback`].
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("POST", "/api/v1/agent-runtime/runs/r1/feedback", 200, serde_json::json!({}));
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
/// let feedback = runtime.feedback();
/// feedback.create("r1", zaby::Feedback::rating(5))?;
/// assert_eq!(mock.requests()[0].body.as_ref().unwrap()["rating"], 5);
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FeedbackApi<'a> {
    pub(crate) client: &'a ZabyRuntime,
    pub(crate) options: crate::RequestOptions,
}

impl ZabyRuntime {
    /// Send feedback on runs.
    ///
    /// # Example
    /// ```no_run
    /// # let runtime = zaby::ZabyRuntime::new("eyJhbGciOi...")?;
    /// runtime.feedback().create("run-id", zaby::Feedback::rating(5))?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn feedback(&self) -> FeedbackApi<'_> {
        FeedbackApi {
            client: self,
            options: crate::RequestOptions::default(),
        }
    }
}

impl FeedbackApi<'_> {
    /// The same calls with these options (request id, headers, query,
    /// timeout, retries, cancel handle).
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::RequestOptions;
    /// let calls = runtime.feedback().with_options(RequestOptions::new().request_id("req-1"));
    /// # let _ = calls;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn with_options(self, options: crate::RequestOptions) -> Self {
        FeedbackApi { options, ..self }
    }

    /// Sends feedback on a run. Returns the server's JSON (`Value::Null` for an
    /// empty answer). Not retried unless the retry policy names `POST`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a rating outside 1..=5 or a bad run id,
    /// before anything is sent; the API errors of [`Error`] otherwise.
    ///
    /// # Example
    /// ```
    /// # let fake = zaby::testing::MockTransport::new();
    /// # fake.push_json("POST", "/api/v1/agent-runtime/runs/r1/feedback", 200, serde_json::json!({"ok": true}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(fake).build()?;
    /// use zaby::Feedback;
    /// runtime.feedback().create("r1", Feedback::rating(5).comment("Excellent response!"))?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn create(&self, run_id: &str, feedback: Feedback) -> Result<Value> {
        let call = feedback.call(run_path(run_id, "/feedback")?, &self.options)?;
        self.client
            .core
            .json_value(&call.with_options(&self.options)?)
    }
}

/// Feedback on a run. Every field is optional on the wire.
///
/// # Example
/// ```
/// let feedback = zaby::Feedback::rating(4)
///     .comment("Good, a bit slow")
///     .label("latency")
///     .metadata(serde_json::Map::from_iter([("screen".to_string(), "chat".into())]));
/// # let _ = feedback;
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    #[serde(skip_serializing_if = "Option::is_none")]
    rating: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl Feedback {
    /// A rating of 1 to 5 stars; others fail in [`FeedbackApi::create`].
    ///
    /// # Example
    /// ```
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(zaby::testing::MockTransport::new()).build()?;
    /// let err = runtime.feedback().create("r1", zaby::Feedback::rating(6)).unwrap_err();
    /// assert!(matches!(err, zaby::Error::InvalidInput(_))); // nothing was sent
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn rating(stars: u8) -> Self {
        Feedback {
            rating: Some(stars),
            ..Feedback::default()
        }
    }

    text_setters! {
        /// Free-text feedback.
        comment,
        /// A label, such as `helpful`.
        label,
        /// The domain the feedback is about.
        domain_key,
        /// The topic the feedback is about.
        topic_key,
        /// An idempotency key, sent as `requestId` and `x-request-id`.
        request_id,
    }

    /// Any JSON object of your own.
    ///
    /// # Example
    /// ```
    /// let mut metadata = serde_json::Map::new();
    /// metadata.insert("screen".into(), "checkout".into());
    /// let feedback = zaby::Feedback::rating(2).metadata(metadata);
    /// # let _ = feedback;
    /// ```
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The call that sends this feedback to `path`: checked first, nothing
    /// sent when a rating or a field is refused.
    pub(crate) fn call(mut self, path: String, options: &crate::RequestOptions) -> Result<Call> {
        if let Some(stars) = self.rating.filter(|r| !(1..=5).contains(r)) {
            return Err(Error::InvalidInput(format!(
                "a rating is 1 to 5 stars, not {stars}"
            )));
        }
        let owned = [
            "rating",
            "label",
            "comment",
            "domainKey",
            "topicKey",
            "metadata",
            "requestId",
        ];
        crate::runs::check_fields(&self.extra, &owned, "Feedback")?;
        options.fill_request_id(&mut self.request_id);
        let mut call = Call::post(path, Some(&self))?;
        call.request_id = self.request_id;
        Ok(call)
    }

    /// An extra body field; `Value::Null` is sent as `null`. A name one of
    /// the setters owns (rating, label, comment, domainKey, topicKey,
    /// metadata, requestId) fails [`FeedbackApi::create`] with
    /// [`Error::InvalidInput`], nothing sent.
    ///
    /// # Example
    /// ```
    /// let feedback = zaby::Feedback::rating(5).field("sessionId", "s-1");
    /// # let _ = feedback;
    /// ```
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}
