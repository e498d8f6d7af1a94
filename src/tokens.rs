//! Runtime tokens: mint, rotate and revoke them through the provisioning API.
use serde::Serialize;
use serde_json::{Map, Value};

use crate::call::Call;
use crate::path::segment;
use crate::runtime_token::{RuntimeToken, decode_token};
use crate::{Feedback, Result, Zaby};

const PREFIX: &str = "/api/v1/provisioning/managed-agents";

/// Runtime-token calls, from [`Zaby::runtime_tokens`].
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("POST", "/api/v1/provisioning/managed-agents/external-apps/app-id/runtime-tokens", 200,
/// #     serde_json::json!({"token": "eyJhbGciOi...", "remainingUses": 100}));
/// # let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").transport(mock).build()?;
/// let tokens = zaby.runtime_tokens();
/// let minted = tokens.create(zaby::RuntimeTokenRequest::new("app-id", "deployment-id"))?;
/// assert_eq!(minted.remaining_uses, Some(100));
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RuntimeTokens<'a> {
    pub(crate) client: &'a Zaby,
    pub(crate) options: crate::RequestOptions,
}

impl Zaby {
    /// Mint, rotate and revoke runtime tokens.
    ///
    /// # Example
    /// ```no_run
    /// # let zaby = zaby::Zaby::new("zk_live_...")?;
    /// let minted = zaby.runtime_tokens().create(zaby::RuntimeTokenRequest::new("app-id", "deployment-id"))?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn runtime_tokens(&self) -> RuntimeTokens<'_> {
        RuntimeTokens {
            client: self,
            options: crate::RequestOptions::default(),
        }
    }
}

impl RuntimeTokens<'_> {
    /// The same calls with these options (request id, headers, query,
    /// timeout, retries, cancel handle).
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").transport(mock).build()?;
    /// use zaby::RequestOptions;
    /// let calls = zaby.runtime_tokens().with_options(RequestOptions::new().request_id("req-1"));
    /// # let _ = calls;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn with_options(self, options: crate::RequestOptions) -> Self {
        RuntimeTokens { options, ..self }
    }

    /// Mints a runtime token for an external app's deployment.
    ///
    /// # Errors
    /// The API errors of [`crate::Error`] (401 for a bad API key, 422 for a
    /// missing or wrong field); [`crate::Error::InvalidInput`] for a bad app id.
    ///
    /// # Example
    /// ```no_run
    /// use zaby::{RuntimeTokenRequest, Zaby};
    /// let zaby = Zaby::new("zk_live_...")?;
    /// let minted = zaby.runtime_tokens().create(
    ///     RuntimeTokenRequest::new("app-id", "deployment-id").unique_id("user-42").max_uses(100),
    /// )?;
    /// println!("expires at {:?}", minted.expires_at);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn create(&self, mut request: RuntimeTokenRequest) -> Result<RuntimeToken> {
        self.options.fill_request_id(&mut request.request_id);
        let app = segment(&request.external_app_id, "external app id")?;
        let path = format!("{PREFIX}/external-apps/{app}/runtime-tokens");
        self.mint(path, &request, &request.request_id)
    }

    /// Trades a token for a new one of the same family.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    ///
    /// # Example
    /// ```no_run
    /// # let zaby = zaby::Zaby::new("zk_live_...")?;
    /// let fresh = zaby.runtime_tokens().rotate("eyJhbGciOi...")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn rotate(&self, previous_token: &str) -> Result<RuntimeToken> {
        let mut body = serde_json::json!({ "previousToken": previous_token });
        if let Some(id) = &self.options.request_id {
            body["requestId"] = id.clone().into();
        }
        let mut call = Call::post(format!("{PREFIX}/runtime-tokens/rotate"), Some(&body))?;
        call.secrets.push(previous_token.to_owned());
        self.client
            .core
            .answer(&call.with_options(&self.options)?, decode_token)
    }

    /// Rotates the token of one end user, named by your unique id, without
    /// the previous token.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    ///
    /// # Example
    /// ```no_run
    /// use zaby::{UniqueIdRotation, Zaby};
    /// let zaby = Zaby::new("zk_live_...")?;
    /// let fresh = zaby.runtime_tokens().rotate_by_unique_id(
    ///     UniqueIdRotation::new("app-id", "deployment-id", "user-42").token_family_id("fam-1"),
    /// )?;
    /// # let _ = fresh;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn rotate_by_unique_id(&self, mut request: UniqueIdRotation) -> Result<RuntimeToken> {
        self.options.fill_request_id(&mut request.request_id);
        let app = segment(&request.external_app_id, "external app id")?;
        let path = format!("{PREFIX}/external-apps/{app}/runtime-tokens/rotate");
        self.mint(path, &request, &request.request_id)
    }

    /// Posts `body` to `path` and reads the token minted.
    fn mint(
        &self,
        path: String,
        body: &impl Serialize,
        request_id: &Option<String>,
    ) -> Result<RuntimeToken> {
        let mut call = Call::post(path, Some(body))?;
        call.request_id = request_id.clone();
        self.client
            .core
            .answer(&call.with_options(&self.options)?, decode_token)
    }

    /// Records feedback on a run with the API key (the runtime side's
    /// [`FeedbackApi::create`](crate::FeedbackApi::create) uses the token).
    ///
    /// # Errors
    /// As [`FeedbackApi::create`](crate::FeedbackApi::create).
    ///
    /// # Example
    /// ```no_run
    /// let zaby = zaby::Zaby::new("zk_live_...")?;
    /// zaby.runtime_tokens().record_feedback("run-1", zaby::Feedback::rating(4))?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn record_feedback(&self, run_id: &str, feedback: Feedback) -> Result<Value> {
        let run = segment(run_id, "run id")?;
        let call = feedback.call(format!("{PREFIX}/runs/{run}/feedback"), &self.options)?;
        self.client
            .core
            .json_value(&call.with_options(&self.options)?)
    }

    /// Revokes every token of a family; returns the server's JSON
    /// (`{"tokenFamilyId", "revokedAt"}`).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    ///
    /// # Example
    /// ```no_run
    /// # let zaby = zaby::Zaby::new("zk_live_...")?;
    /// zaby.runtime_tokens().revoke_family("family-id", "user logged out")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn revoke_family(&self, token_family_id: &str, reason: &str) -> Result<Value> {
        let family = segment(token_family_id, "token family id")?;
        let body = serde_json::json!({ "reason": reason });
        let call = Call::post(
            format!("{PREFIX}/runtime-token-families/{family}/revoke"),
            Some(&body),
        )?;
        self.client
            .core
            .json_value(&call.with_options(&self.options)?)
    }
}

/// Which end user's token to rotate, for
/// [`RuntimeTokens::rotate_by_unique_id`].
///
/// # Example
/// ```
/// let rotation = zaby::UniqueIdRotation::new("app-id", "deployment-id", "user-42")
///     .quota_policy_id("free-tier");
/// # let _ = rotation;
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UniqueIdRotation {
    /// Goes in the path only.
    #[serde(skip)]
    external_app_id: String,
    deployment_id: String,
    unique_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_family_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl UniqueIdRotation {
    /// The end user `unique_id` of this external app (path) and deployment.
    ///
    /// # Example
    /// ```
    /// let rotation = zaby::UniqueIdRotation::new("app-id", "deployment-id", "user-42");
    /// # let _ = rotation;
    /// ```
    pub fn new(
        external_app_id: impl Into<String>,
        deployment_id: impl Into<String>,
        unique_id: impl Into<String>,
    ) -> Self {
        UniqueIdRotation {
            external_app_id: external_app_id.into(),
            deployment_id: deployment_id.into(),
            unique_id: unique_id.into(),
            token_family_id: None,
            quota_policy_id: None,
            request_id: None,
        }
    }

    text_setters! {
        /// The token family to rotate within.
        token_family_id,
        /// The quota policy of the new token.
        quota_policy_id,
        /// `requestId` in the body and `x-request-id`.
        request_id,
    }
}

/// What to mint a runtime token for. Unset fields are left out of the request.
///
/// # Example
/// ```
/// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id")
///     .unique_id("user-42")
///     .channel("web")
///     .scopes(["runs:start", "runs:stream"])
///     .ttl_seconds(900)
///     .max_uses(50);
/// # let _ = request;
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeTokenRequest {
    /// Goes in the path only.
    #[serde(skip)]
    external_app_id: String,
    deployment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_family_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_uses: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl RuntimeTokenRequest {
    /// A token for this external app (path) and deployment (body).
    ///
    /// # Example
    /// ```
    /// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id");
    /// # let _ = request;
    /// ```
    pub fn new(external_app_id: impl Into<String>, deployment_id: impl Into<String>) -> Self {
        RuntimeTokenRequest {
            external_app_id: external_app_id.into(),
            deployment_id: deployment_id.into(),
            unique_id: None,
            external_user_id: None,
            external_conversation_id: None,
            external_session_id: None,
            display_name: None,
            email_hash: None,
            locale: None,
            timezone: None,
            channel: None,
            quota_policy_id: None,
            token_family_id: None,
            metadata: None,
            scopes: None,
            ttl_seconds: None,
            max_uses: None,
            request_id: None,
        }
    }

    text_setters! {
        /// Your stable id of the end user.
        unique_id,
        /// The end user's id in your system.
        external_user_id,
        /// The conversation's id in your system.
        external_conversation_id,
        /// The session's id in your system.
        external_session_id,
        /// The end user's display name.
        display_name,
        /// A hash of the end user's email.
        email_hash,
        /// The end user's locale, e.g. `en-GB`.
        locale,
        /// The end user's time zone, e.g. `Europe/London`.
        timezone,
        /// `web`, `mobile`, `server`, `support` or `embedded`.
        channel,
        /// The quota policy to apply.
        quota_policy_id,
        /// The token family to mint into.
        token_family_id,
        /// An idempotency key, sent as `requestId` and `x-request-id`.
        request_id,
    }

    /// Any JSON object of your own.
    ///
    /// # Example
    /// ```
    /// let mut metadata = serde_json::Map::new();
    /// metadata.insert("plan".into(), "pro".into());
    /// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id").metadata(metadata);
    /// # let _ = request;
    /// ```
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The scopes the token grants.
    ///
    /// # Example
    /// ```
    /// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id")
    ///     .scopes(["runs:start", "runs:stream"]);
    /// # let _ = request;
    /// ```
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The token's absolute lifetime in seconds.
    ///
    /// # Example
    /// ```
    /// // Fifteen minutes, whatever happens in them.
    /// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id").ttl_seconds(900);
    /// # let _ = request;
    /// ```
    pub fn ttl_seconds(mut self, seconds: u64) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }

    /// How many calls the token may make.
    ///
    /// # Example
    /// ```
    /// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id").max_uses(50);
    /// # let _ = request;
    /// ```
    pub fn max_uses(mut self, uses: u64) -> Self {
        self.max_uses = Some(uses);
        self
    }
}
