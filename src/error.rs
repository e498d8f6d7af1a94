//! Errors: one enum with kinds a caller can match on, and accessors.

use std::time::Duration;

use serde_json::Value;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call to the Zaby runtime.
///
/// Match on the variant to tell the kinds apart, or ask the accessors
/// ([`status`](Error::status), [`is_retryable`](Error::is_retryable), …). No
/// variant's `Display` or `Debug` ever contains the runtime token or API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the token was missing, malformed or rejected.
    #[error("authentication failed: {0}")]
    Auth(ApiError),
    /// The runtime token has expired (code `MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`): mint a new one.
    #[error("runtime token expired: {0}")]
    TokenExpired(ApiError),
    /// 403: the token may not do this.
    #[error("permission denied: {0}")]
    Permission(ApiError),
    /// The runtime token has no uses left
    /// (code `MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED`): mint a new one.
    #[error("runtime token used up: {0}")]
    TokenExhausted(ApiError),
    /// 404: no such run, approval or route.
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// 400 or 422: the server rejected the request's content.
    #[error("request rejected: {0}")]
    Validation(ApiError),
    /// 429: too many requests; see [`Error::retry_after`].
    #[error("rate limited: {0}")]
    RateLimited(ApiError),
    /// Any other non-2xx answer (5xx, an unfollowable redirect, …).
    #[error("{0}")]
    Api(ApiError),
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
    /// The client was configured wrongly; nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An argument was not acceptable; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
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

/// A non-2xx answer from the Zaby API.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The server's `message`, or `Zaby API request failed with status N.`
    pub message: String,
    /// The server's `code` or `errorCode`, when it sent one.
    pub code: Option<String>,
    /// The `x-request-id` header of the answer, for support requests.
    pub request_id: Option<String>,
    /// The `retry-after` header, when the server sent one in seconds.
    pub retry_after: Option<Duration>,
    /// The whole body: its JSON, or its text as a JSON string when it was not JSON.
    pub body: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (status {}", self.message, self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        f.write_str(")")
    }
}

/// A 2xx answer whose body could not be read as the JSON expected.
#[derive(Clone, Debug)]
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

impl Error {
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
        api_variants!(self, e => e)
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
            Error::Timeout(_) => true,
            _ => self.status().is_some_and(is_retryable_status),
        }
    }

    /// The same error with `secret` masked wherever it quotes what the server sent.
    pub(crate) fn masked(mut self, secret: &str) -> Error {
        if let Error::Decode(e) = &mut self {
            if secret.len() >= MIN_MASKED {
                mask_str(&mut e.message, secret);
                mask_str(&mut e.body, secret);
            }
        } else if let Some(e) = api_variants!(&mut self, e => e) {
            e.mask(secret);
        }
        self
    }

    /// Builds the typed error for a non-2xx answer. Codes decide before statuses.
    pub(crate) fn from_api(e: ApiError) -> Error {
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

/// 408, 429 and 5xx: the statuses worth another try.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

impl ApiError {
    /// Reads a non-2xx answer: message and code from a JSON body, the rest from headers.
    pub(crate) fn from_parts(
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        secrets: &[&str],
    ) -> ApiError {
        let body = match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let message = text("message")
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Zaby API request failed with status {status}."));
        let code = text("code").or_else(|| text("errorCode"));
        let mut e = ApiError {
            status,
            message,
            code,
            request_id: crate::transport::header(headers, "x-request-id").map(str::to_owned),
            retry_after: crate::transport::header(headers, "retry-after")
                .and_then(parse_retry_after),
            body,
        };
        for secret in secrets {
            e.mask(secret);
        }
        e
    }

    /// Replaces a secret the server echoed back; short strings are left alone
    /// because they are too likely to be ordinary words.
    fn mask(&mut self, secret: &str) {
        if secret.len() < MIN_MASKED {
            return;
        }
        mask_str(&mut self.message, secret);
        mask_value(&mut self.body, secret);
        for field in [&mut self.code, &mut self.request_id].into_iter().flatten() {
            mask_str(field, secret);
        }
    }
}

const MASK: &str = "[redacted]";
/// Shorter secrets are too likely to be ordinary words to mask.
const MIN_MASKED: usize = 8;

fn mask_str(s: &mut String, secret: &str) {
    if s.contains(secret) {
        *s = s.replace(secret, MASK);
    }
}

fn mask_value(v: &mut Value, secret: &str) {
    match v {
        Value::String(s) => mask_str(s, secret),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, secret)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains(secret)).cloned().collect();
            for key in keys {
                if let Some(v) = map.remove(&key) {
                    map.insert(key.replace(secret, MASK), v);
                }
            }
            map.values_mut().for_each(|v| mask_value(v, secret));
        }
        _ => {}
    }
}

/// `retry-after` (RFC 9110): delay-seconds (digits; a fraction such as `1.5`
/// is tolerated), or an HTTP-date (IMF-fixdate, `Wed, 21 Oct 2015 07:28:00
/// GMT`) as the delay from now, zero once past. Anything else (`1e1`, `+1`,
/// `-1`, a blank) is no value.
fn parse_retry_after(v: &str) -> Option<Duration> {
    retry_after_at(v, std::time::SystemTime::now())
}

/// [`parse_retry_after`] with the clock given.
fn retry_after_at(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    /// About 31 years: a longer wait means the same, and stays addable to an `Instant`.
    const LONGEST: u64 = 1_000_000_000;
    let v = v.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = v.split_once('.').unwrap_or((v, "0"));
    if digits(whole) && digits(fraction) {
        // Only digits, so a failed parse is an overflow.
        let secs = whole.parse::<u64>().unwrap_or(u64::MAX);
        if secs >= LONGEST {
            return Some(Duration::from_secs(LONGEST));
        }
        let nanos = format!("{:0<9}", &fraction[..fraction.len().min(9)]);
        return Some(Duration::new(secs, nanos.parse().ok()?));
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`, fixed widths, single spaces.
    let parts: Vec<&str> = v.split(' ').collect();
    let [day_name, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let number = |s: &str, width: usize| -> Option<i64> {
        (s.len() == width && digits(s)).then(|| s.parse().ok())?
    };
    let (hour, rest) = time.split_once(':')?;
    let (minute, second) = rest.split_once(':')?;
    let (day, year) = (number(day, 2)?, number(year, 4)?);
    let (hour, minute, second) = (number(hour, 2)?, number(minute, 2)?, number(second, 2)?);
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    if !DAYS.contains(&day_name)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::tokens::days_from_civil(year, month, day);
    let at = u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()?;
    let at = std::time::UNIX_EPOCH.checked_add(Duration::from_secs(at))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod retry_after_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::retry_after_at;

    /// 2015-10-21 07:28:00 UTC.
    const AT: u64 = 1_445_412_480;

    fn parse(v: &str) -> Option<Duration> {
        retry_after_at(v, UNIX_EPOCH + Duration::from_secs(AT))
    }

    #[test]
    fn delay_seconds_are_digits_with_a_fraction_tolerated() {
        assert_eq!(parse("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("007"), Some(Duration::from_secs(7)));
        assert_eq!(parse("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("0.0000000019"), Some(Duration::from_nanos(1)));
        let huge = parse("99999999999999999999999").unwrap();
        assert_eq!(huge, Duration::from_secs(1_000_000_000));
        for bad in [
            "1e1", "+1", "-1", " ", "", "abc", "1.", ".5", "1.5.2", "0x10", "1 2", "١", "inf",
            "NaN", "1,5",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_are_a_delay_from_now_and_zero_once_past() {
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Thu, 22 Oct 2015 08:29:01 GMT"),
            Some(Duration::from_secs(86_400 + 3600 + 61))
        );
        assert_eq!(
            parse("Tue, 01 Mar 2016 00:00:00 GMT"),
            Some(Duration::from_secs(1_456_790_400 - AT))
        );
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        for bad in [
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 15 07:28:00 GMT",
            "Wed, 1 Oct 2015 07:28:00 GMT",
            "Wed, 21 oct 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:28 GMT",
            "Wed,  21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:+1 GMT",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
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
        assert_eq!(std::mem::size_of::<Error>(), 136);
    }
}
