//! Errors: one enum with kinds a caller can match on, and accessors.

use std::time::Duration;

use crate::mask::{MIN_MASKED, mask_str};

pub use crate::api_error::ApiError;

/// The error a token source or provider returns.
///
/// # Example
/// ```
/// let err: zaby::TokenError = "the vault is sealed".into();
/// assert_eq!(err.to_string(), "the vault is sealed");
/// ```
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with [`Error`] as the default error type.
///
/// # Example
/// ```
/// fn first_run_id(runtime: &zaby::ZabyRuntime) -> zaby::Result<String> {
///     Ok(runtime.runs().start("Hi")?.run_id)
/// }
/// # let _ = first_run_id;
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call to the Zaby runtime.
///
/// Match on the variant to tell the kinds apart, or ask the accessors
/// ([`status`](Error::status), [`is_retryable`](Error::is_retryable), …). No
/// variant's `Display` or `Debug` ever contains the runtime token or API key.
///
/// # Example
/// ```
/// let err = zaby::ZabyRuntime::new("").unwrap_err(); // nothing is sent
/// assert!(matches!(err, zaby::Error::Config(_)) && !err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the token was missing, malformed or rejected.
    #[error("authentication failed: {0}")]
    Auth(Box<ApiError>),
    /// The runtime token has expired (code `MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`): mint a new one.
    #[error("runtime token expired: {0}")]
    TokenExpired(Box<ApiError>),
    /// 403: the token may not do this.
    #[error("permission denied: {0}")]
    Permission(Box<ApiError>),
    /// The runtime token has no uses left
    /// (code `MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED`): mint a new one.
    #[error("runtime token used up: {0}")]
    TokenExhausted(Box<ApiError>),
    /// 404: no such run, approval or route.
    #[error("not found: {0}")]
    NotFound(Box<ApiError>),
    /// 400 or 422: the server rejected the request's content.
    #[error("request rejected: {0}")]
    Validation(Box<ApiError>),
    /// 429: too many requests; see [`Error::retry_after`].
    #[error("rate limited: {0}")]
    RateLimited(Box<ApiError>),
    /// Any other non-2xx answer (5xx, an unfollowable redirect, …).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The connection could not be made or broke before an answer arrived.
    #[error("connection failed: {0}")]
    Connection(std::io::Error),
    /// Waited longer than the configured timeout; the text says for what.
    #[error("timed out {0}")]
    Timeout(String),
    /// The event stream broke, was cut short, or sent more than the size cap.
    #[error("event stream failed: {0}")]
    Stream(String),
    /// A 2xx answer whose body was not the JSON expected; the raw body is kept.
    #[error("{0}")]
    Decode(DecodeError),
    /// The client was configured wrongly, or its token or API key provider
    /// failed for good; nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The token or API key provider failed for a passing reason (say, the
    /// provisioning API answered 503); the cause is its
    /// [`source`](std::error::Error::source), and the error is retryable.
    #[error(transparent)]
    Credential(CredentialError),
    /// An argument was not acceptable; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The call was cancelled through its
    /// [`RequestOptions::cancel_handle`](crate::RequestOptions::cancel_handle).
    #[error("the call was cancelled")]
    Cancelled,
}

/// `Some(body)` with `$e` bound to the `ApiError` of the variants carrying one.
macro_rules! api_variants {
    ($error:expr, $e:ident => $body:expr) => {
        match $error {
            Error::Auth($e)
            | Error::TokenExpired($e)
            | Error::Permission($e)
            | Error::TokenExhausted($e)
            | Error::NotFound($e)
            | Error::Validation($e)
            | Error::RateLimited($e)
            | Error::Api($e) => Some($body),
            _ => None,
        }
    };
}

/// A 2xx answer whose body could not be read as the JSON expected.
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_raw("POST", "/api/v1/agent-runtime/runs", 200, vec![], "<html>Maintenance</html>");
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build().unwrap();
/// let Err(zaby::Error::Decode(e)) = runtime.runs().start("Hello") else { panic!() };
/// assert_eq!(e.body, "<html>Maintenance</html>");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DecodeError {
    /// What was wrong, e.g. `expected a run: missing field runId`.
    pub message: String,
    /// The body as received (lossy UTF-8), so the caller can see what came.
    pub body: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected response body: {}", self.message)
    }
}

/// A token or API key provider's failure that a retry may heal; its
/// [`source`](std::error::Error::source) is the provider's error.
///
/// # Example
/// ```
/// fn explain(err: &zaby::Error) -> String {
///     match err {
///         zaby::Error::Credential(e) => format!("no token yet ({e}); try again"),
///         other => other.to_string(),
///     }
/// }
/// assert_eq!(explain(&zaby::Error::Cancelled), "the call was cancelled");
/// ```
#[derive(Debug)]
pub struct CredentialError {
    what: &'static str,
    source: TokenError,
}

impl std::fmt::Display for CredentialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} provider failed: {}", self.what, self.source)
    }
}

impl CredentialError {
    /// The crate's error that caused it (the provisioning call's), if any.
    pub(crate) fn cause(&self) -> Option<&Error> {
        first_crate_error(&*self.source)
    }
}

/// The first [`Error`] in a chain of causes.
fn first_crate_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(e) = e.downcast_ref::<Error>() {
            return Some(e);
        }
        cause = e.source();
    }
    None
}

impl std::error::Error for CredentialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Error {
    /// The error for a provider's failure: retryable when a [`Error`] in its
    /// cause chain is, otherwise a [`Error::Config`] quoting it.
    pub(crate) fn from_provider(what: &'static str, source: TokenError) -> Error {
        if first_crate_error(&*source).is_some_and(Error::is_retryable) {
            return Error::Credential(CredentialError { what, source });
        }
        Error::Config(format!("the {what} provider failed: {source}"))
    }

    /// An I/O error while `doing` something with the server: a timeout is
    /// [`Error::Timeout`], anything else [`Error::Connection`]. The one place
    /// where an I/O failure gets its kind.
    pub(crate) fn from_io(e: std::io::Error, doing: &str) -> Error {
        if is_timeout(&e) {
            Error::Timeout(format!("{doing} ({e})"))
        } else {
            Error::Connection(e)
        }
    }

    /// The API error inside, for the variants that carry one.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.api_error().unwrap().message, "slow down");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn api_error(&self) -> Option<&ApiError> {
        api_variants!(self, e => &**e)
    }

    /// The HTTP status of an API error.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.status(), Some(429));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status)
    }

    /// The server's error code of an API error, e.g. `MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.code(), Some("RATE_LIMITED"));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.api_error()?.code.as_deref()
    }

    /// The `x-request-id` of the answer that carried the error.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.request_id(), Some("req-1"));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.api_error()?.request_id.as_deref()
    }

    /// How long the server asked to wait before trying again.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(2)));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error()?.retry_after
    }

    /// Whether trying the same call again may succeed: 408, 429, 5xx,
    /// connection failures (not TLS or protocol failures) and timeouts.
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # mock.push_raw("GET", "/api/v1/agent-runtime/runs/r1/events", 429,
    /// #     vec![("x-request-id".into(), "req-1".into()), ("retry-after".into(), "2".into())],
    /// #     r#"{"message":"slow down","code":"RATE_LIMITED"}"#);
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let err = runtime.runs().events("r1", Default::default()).unwrap_err();
    /// assert!(err.is_retryable());
    /// assert!(!zaby::Error::InvalidInput("bad id".into()).is_retryable());
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            // A TLS or protocol failure (kind `InvalidData`) will not heal by retrying.
            Error::Connection(e) => e.kind() != std::io::ErrorKind::InvalidData,
            Error::Timeout(_) | Error::Credential(_) => true,
            _ => self.status().is_some_and(is_retryable_status),
        }
    }

    /// The same error with `secret` masked wherever it quotes what the server sent.
    pub(crate) fn masked(mut self, secret: &str) -> Error {
        if secret.len() < MIN_MASKED {
            return self;
        }
        if let Error::Decode(e) = &mut self {
            mask_str(&mut e.message, secret);
            mask_str(&mut e.body, secret);
        } else if let Error::Stream(message) = &mut self {
            mask_str(message, secret);
        } else if let Some(e) = api_variants!(&mut self, e => &mut **e) {
            e.mask(secret);
        }
        self
    }

    /// Builds the typed error for a non-2xx answer. Codes decide before statuses.
    pub(crate) fn from_api(e: ApiError) -> Error {
        let e = Box::new(e);
        match (e.code.as_deref(), e.status) {
            (Some("MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"), _) => Error::TokenExpired(e),
            (Some("MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED"), _) => {
                Error::TokenExhausted(e)
            }
            (_, 401) => Error::Auth(e),
            (_, 403) => Error::Permission(e),
            (_, 404) => Error::NotFound(e),
            (_, 400 | 422) => Error::Validation(e),
            (_, 429) => Error::RateLimited(e),
            _ => Error::Api(e),
        }
    }
}

/// Whether an I/O error is a read that waited too long.
pub(crate) fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// 408, 429 and 5xx: the statuses worth another try.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(status: u16, body: &str) -> Error {
        Error::from_api(ApiError::from_parts(status, &[], body.as_bytes(), &[]))
    }

    #[test]
    fn codes_decide_before_statuses() {
        let expired = r#"{"message":"m","code":"MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED"}"#;
        assert!(matches!(api(403, expired), Error::TokenExpired(_)));
        let used = r#"{"errorCode":"MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED"}"#;
        assert!(matches!(api(401, used), Error::TokenExhausted(_)));
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(matches!(api(401, "{}"), Error::Auth(_)));
        assert!(matches!(api(403, "{}"), Error::Permission(_)));
        assert!(matches!(api(404, "{}"), Error::NotFound(_)));
        assert!(matches!(api(400, "{}"), Error::Validation(_)));
        assert!(matches!(api(422, "{}"), Error::Validation(_)));
        assert!(matches!(api(429, "{}"), Error::RateLimited(_)));
        assert!(matches!(api(500, "{}"), Error::Api(_)));
        assert!(matches!(api(418, "{}"), Error::Api(_)));
    }

    #[test]
    fn html_body_is_kept_as_a_string_with_the_default_message() {
        let e = api(502, "<html>Bad gateway</html>");
        let a = e.api_error().unwrap();
        assert_eq!(a.body, json!("<html>Bad gateway</html>"));
        assert_eq!(a.message, "Zaby API request failed with status 502.");
        assert!(e.is_retryable());
    }

    #[test]
    fn headers_give_request_id_and_retry_after() {
        let headers = vec![
            ("x-request-id".to_owned(), "req-1".to_owned()),
            ("retry-after".to_owned(), "2".to_owned()),
        ];
        let e = Error::from_api(ApiError::from_parts(429, &headers, b"{}", &[]));
        assert_eq!(e.request_id(), Some("req-1"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(e.status(), Some(429));
    }

    #[test]
    fn echoed_secrets_are_masked_everywhere() {
        let secret = "eyJsecret-token-123".to_owned();
        let body =
            format!(r#"{{"message":"bad token {secret}","echo":{{"{secret}":["{secret}"]}}}}"#);
        let e = Error::from_api(ApiError::from_parts(401, &[], body.as_bytes(), &[&secret]));
        assert!(!format!("{e} {e:?}").contains(&secret));
        assert!(format!("{e}").contains("[redacted]"));
    }

    #[test]
    fn short_secrets_are_not_masked() {
        let body = br#"{"message":"the token"}"#;
        let e = ApiError::from_parts(401, &[], body, &["token"]);
        assert_eq!(e.message, "the token");
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn error_size_is_pinned() {
        // Returned by every call: a change in size should be a decision (the README states it).
        assert!(
            std::mem::size_of::<Error>() <= 64,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
