//! Sending one call: credential, headers, redirects, retries and error mapping.
//! Shared by every resource so that each behaves the same.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Settings;
use crate::error::{ApiError, DecodeError};
use crate::transport::{Transport, TransportRequest, TransportResponse};
use crate::{CancelHandle, Error, Result, TokenSource};

/// The largest JSON answer read; a larger one is refused, not read whole.
pub const MAX_JSON_BODY: u64 = 16 * 1024 * 1024;
/// How much of an error answer's body is kept.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Redirects followed at most, as the official SDKs' HTTP stacks do.
const MAX_REDIRECTS: usize = 5;

/// A function asked for the credential before every request.
pub(crate) type SecretProvider =
    dyn Fn() -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> + Send + Sync;

/// A plain provider (or a fixed secret) as a token source that never renews.
pub(crate) struct ProviderSource(pub Arc<SecretProvider>);

impl TokenSource for ProviderSource {
    fn token(&self) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> {
        (self.0)()
    }
}

/// Where the credential comes from and which header carries it.
#[derive(Clone)]
pub(crate) struct Credential {
    pub source: Arc<dyn TokenSource>,
    /// Whether a refused token is invalidated and the call repeated once
    /// with the next one (a [`TokenSource`] given as such).
    pub renews: bool,
    /// `authorization` (runtime token) or `x-zaby-api-key` (API key).
    pub header: &'static str,
    /// `Bearer ` or nothing.
    pub prefix: &'static str,
    /// What the secret is called in messages: "runtime token", "API key".
    pub name: &'static str,
}

impl Credential {
    /// Asks the provider, and checks that the answer fits in a header.
    pub(crate) fn get(&self) -> Result<String> {
        let secret = self
            .source
            .token()
            .map_err(|e| Error::Config(format!("the {} provider failed: {e}", self.name)))?;
        check_secret(&secret, self.name)?;
        Ok(secret)
    }
}

/// A secret must be non-empty and printable, or the request cannot carry it.
pub(crate) fn check_secret(secret: &str, name: &str) -> Result<()> {
    if secret.trim().is_empty() {
        return Err(Error::Config(format!("the {name} is empty")));
    }
    if secret.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(Error::Config(format!(
            "the {name} contains spaces, control or non-ASCII characters; pass the token itself"
        )));
    }
    Ok(())
}

/// One API call, before credentials and retries.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: &'static str,
    /// Path under the origin, with the query.
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub request_id: Option<String>,
    /// A POST that may be retried because its request id makes it idempotent.
    pub idempotent: bool,
    /// An event stream: other `accept`, per-read timeout, no compression.
    pub stream: Option<Option<Duration>>,
    pub extra_headers: Vec<(String, String)>,
    /// Lets a stream's blocked read be interrupted from another thread.
    pub cancel: Option<CancelHandle>,
    /// Secrets in the body (a token being rotated), masked in errors too.
    pub secrets: Vec<String>,
}

impl Call {
    pub(crate) fn get(path: String) -> Call {
        Call {
            method: "GET",
            path,
            body: None,
            request_id: None,
            idempotent: false,
            stream: None,
            extra_headers: Vec::new(),
            cancel: None,
            secrets: Vec::new(),
        }
    }

    /// Safe to send twice: a GET, or a POST made idempotent by its request id.
    fn repeatable(&self) -> bool {
        self.method == "GET" || self.idempotent
    }

    pub(crate) fn post(path: String, body: Option<&impl serde::Serialize>) -> Result<Call> {
        let body = body.map(serde_json::to_vec).transpose().map_err(|e| {
            Error::InvalidInput(format!("the request body cannot be serialized: {e}"))
        })?;
        Ok(Call {
            method: "POST",
            body,
            ..Call::get(path)
        })
    }
}

/// What every client holds: settings, transport and credential.
pub(crate) struct Core {
    pub settings: Settings,
    pub transport: Arc<dyn Transport>,
    pub credential: Credential,
}

impl Core {
    /// Sends the call, retrying as the policy says; `Ok` only for a 2xx
    /// answer, with the secret that was sent (to mask it in what follows).
    pub(crate) fn send(&self, call: &Call) -> Result<(TransportResponse, String)> {
        let mut attempt = 0;
        loop {
            let error = match self.send_once(call, attempt) {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            let policy = &self.settings.retries;
            match policy.next_delay(attempt, call.method, call.idempotent, &error) {
                Some(wait) => std::thread::sleep(wait),
                None => return Err(error),
            }
            attempt += 1;
        }
    }

    /// Sends the call and reads its JSON answer; an empty body is `Value::Null`.
    pub(crate) fn json_value(&self, call: &Call) -> Result<Value> {
        self.answer(call, json_or_null)
    }

    /// Sends the call and decodes its JSON answer as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self, call: &Call, what: &str) -> Result<T> {
        self.answer(call, |body| decode(body, what))
    }

    /// Sends the call and reads its 2xx body (capped) with `read`. An error
    /// quoting the body has the secret masked, as API errors do.
    pub(crate) fn answer<T>(
        &self,
        call: &Call,
        read: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        let (response, secret) = self.send(call)?;
        read_capped(response.body, MAX_JSON_BODY)
            .and_then(|body| read(&body))
            .map_err(|e| {
                call.secrets
                    .iter()
                    .fold(e.masked(&secret), |e, s| e.masked(s))
            })
    }

    /// One try, repeated once with a fresh token when a token source's
    /// token was refused as expired or used up and the call is safe to repeat.
    /// `attempt` counts the tries before this one, for the log.
    pub(crate) fn send_once(
        &self,
        call: &Call,
        attempt: u32,
    ) -> Result<(TransportResponse, String)> {
        let secret = self.credential.get()?;
        match self.send_logged(call, &secret, attempt) {
            Err(e) if self.credential.renews && is_token_refusal(&e) && call.repeatable() => {
                self.credential.source.invalidate(&secret);
                let secret = self.credential.get()?;
                Ok((self.send_logged(call, &secret, attempt)?, secret))
            }
            result => Ok((result?, secret)),
        }
    }

    /// With the `log` feature: one line per request, never the credential.
    fn send_logged(&self, call: &Call, secret: &str, attempt: u32) -> Result<TransportResponse> {
        #[cfg(feature = "log")]
        let started = std::time::Instant::now();
        let result = self.send_with(call, secret);
        #[cfg(feature = "log")]
        {
            let outcome = match &result {
                Ok(response) => response.status.to_string(),
                Err(e) => e.status().map_or_else(|| e.to_string(), |s| s.to_string()),
            };
            log::debug!(
                target: "zaby",
                "{} {} -> {outcome} in {:?} (request id {}, retry {attempt})",
                call.method,
                call.path,
                started.elapsed(),
                call.request_id.as_deref().unwrap_or("-"),
            );
        }
        #[cfg(not(feature = "log"))]
        let _ = attempt;
        result
    }

    /// Follows redirects, keeping the credential only on our origin.
    fn send_with(&self, call: &Call, secret: &str) -> Result<TransportResponse> {
        let mut url = format!("{}{}", self.settings.origin, call.path);
        let mut path = call.path.clone();
        let mut method = call.method;
        let mut body = call.body.clone();
        let mut with_credential = true;
        for hop in 0..=MAX_REDIRECTS {
            let request = self.request(
                call,
                method,
                (&url, &path),
                body.clone(),
                with_credential.then_some(secret),
            );
            let response = match &call.cancel {
                Some(cancel) => self.transport.send_cancellable(request, cancel)?,
                None => self.transport.send(request)?,
            };
            let status = response.status;
            if (200..300).contains(&status) {
                return Ok(response);
            }
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Err(self.api_error(response, secret, call));
            }
            let target = crate::transport::header(&response.headers, "location")
                .and_then(|location| url::Url::parse(&url).ok()?.join(location).ok())
                .filter(|target| matches!(target.scheme(), "http" | "https"));
            let Some(target) = target.filter(|_| hop < MAX_REDIRECTS) else {
                let why = if hop < MAX_REDIRECTS {
                    "without a usable location"
                } else {
                    "too many times"
                };
                let message = format!("the server redirected {why}; the redirect was not followed");
                return Err(Error::Api(ApiError {
                    message,
                    ..self.api_error_parts(response, secret, call)
                }));
            };
            // Read the (small) redirect body so its connection can serve the next hop.
            let _ = std::io::copy(
                &mut response.body.take(MAX_ERROR_BODY),
                &mut std::io::sink(),
            );
            // The origin was checked when the client was built: it parses.
            let origin = url::Url::parse(&self.settings.origin).map(|o| o.origin());
            with_credential &= origin.is_ok_and(|origin| target.origin() == origin);
            if status == 303 {
                method = "GET";
                body = None;
            }
            path = match target.query() {
                Some(query) => format!("{}?{query}", target.path()),
                None => target.path().to_owned(),
            };
            url = target.into();
        }
        unreachable!("the loop returns on its last hop")
    }

    fn request(
        &self,
        call: &Call,
        method: &str,
        (url, path): (&str, &str),
        body: Option<Vec<u8>>,
        secret: Option<&str>,
    ) -> TransportRequest {
        let mut headers = Vec::with_capacity(8);
        if let Some(secret) = secret {
            let c = &self.credential;
            headers.push((c.header.to_owned(), format!("{}{secret}", c.prefix)));
        }
        let accept = if call.stream.is_some() {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.push(("accept".to_owned(), accept.to_owned()));
        if call.stream.is_some() {
            // Compressed event streams arrive in bursts.
            headers.push(("accept-encoding".to_owned(), "identity".to_owned()));
        }
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        if let Some(id) = &call.request_id {
            headers.push(("x-request-id".to_owned(), id.clone()));
        }
        headers.push(("user-agent".to_owned(), self.settings.user_agent.clone()));
        headers.extend(call.extra_headers.iter().cloned());
        TransportRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            path: path.to_owned(),
            headers,
            body,
            stream: call.stream.is_some(),
            timeout: call.stream.unwrap_or(Some(self.settings.timeout)),
        }
    }

    /// The typed error of a non-2xx answer, with echoed secrets masked.
    fn api_error(&self, response: TransportResponse, secret: &str, call: &Call) -> Error {
        Error::from_api(self.api_error_parts(response, secret, call))
    }

    fn api_error_parts(&self, response: TransportResponse, secret: &str, call: &Call) -> ApiError {
        // The body only explains the status: a read failure leaves it empty.
        let body = read_capped(response.body, MAX_ERROR_BODY).unwrap_or_default();
        let mut secrets = vec![secret];
        secrets.extend(call.secrets.iter().map(String::as_str));
        ApiError::from_parts(response.status, &response.headers, &body, &secrets)
    }
}

fn is_token_refusal(e: &Error) -> bool {
    matches!(e, Error::TokenExpired(_) | Error::TokenExhausted(_))
}

/// Reads a body up to `cap` bytes; a larger one is an error, not read whole.
fn read_capped(body: Box<dyn Read + Send>, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    body.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > cap {
        bytes.truncate(1024);
        return Err(Error::Decode(DecodeError {
            message: format!("the answer is larger than the {cap}-byte cap; it was not read whole"),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }));
    }
    Ok(bytes)
}

/// An I/O error while reading an answer: a timeout, or a broken connection.
fn io_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Error::Timeout(format!("reading the answer ({e})"))
        }
        _ => Error::Connection(e),
    }
}

/// JSON, or `Value::Null` for an empty body.
pub(crate) fn json_or_null(body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    decode(body, "a JSON answer")
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::Decode(DecodeError {
            message: format!("expected {what}: {e}"),
            body: String::from_utf8_lossy(body).into_owned(),
        })
    })
}

/// Characters kept as they are in a path segment; everything else is `%XX`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// An id as one path segment: `/`, `?`, `#` and `%` can never change the path.
pub(crate) fn segment(id: &str, what: &str) -> Result<String> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::InvalidInput(format!(
            "{what} {id:?} is not a valid id: it must be non-empty and not \".\" or \"..\""
        )));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// A fresh request id, UUID-shaped, from std's per-process random hash keys.
pub(crate) fn new_request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now();
    let state = RandomState::new();
    let hi = state.hash_one((n, now));
    let lo = state.hash_one((hi, n, std::process::id()));
    let v = (u128::from(hi) << 64) | u128::from(lo);
    // Version 4, variant 10, like a random UUID.
    let v = (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(
            segment("a/b?c#d%..", "run id").unwrap(),
            "a%2Fb%3Fc%23d%25.."
        );
        assert_eq!(segment("A-z_0.~!'()*", "run id").unwrap(), "A-z_0.~!'()*");
        assert_eq!(segment("é ü", "run id").unwrap(), "%C3%A9%20%C3%BC");
        for bad in ["", ".", ".."] {
            assert!(matches!(
                segment(bad, "run id"),
                Err(Error::InvalidInput(_))
            ));
        }
    }

    #[test]
    fn request_ids_are_unique_and_uuid_shaped() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn secrets_must_fit_a_header() {
        assert!(check_secret("eyJ.abc-_", "runtime token").is_ok());
        assert!(check_secret("  ", "runtime token").is_err());
        assert!(check_secret("a b", "runtime token").is_err());
        assert!(check_secret("a\nb", "runtime token").is_err());
    }
}
