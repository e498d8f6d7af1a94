//! The call pipeline: every resource sends its calls through [`Core`], so that
//! each behaves the same. One call passes these layers, outermost first:
//!
//! 1. [`Core::send`]: retries, as the client's [`RetryPolicy`](crate::RetryPolicy)
//!    says (`retry.rs`). A stream's resume has its own loop instead (`stream.rs`).
//! 2. [`Core::attempt`]: the credential, asked for every try and renewed once
//!    when the server refused it as expired or used up (`credential.rs`).
//! 3. `logged`: one log line per request (feature `log`) and one span
//!    (feature `tracing`), never the credential.
//! 4. `follow_redirects`: which redirects are followed and where the credential
//!    may go (`redirect.rs`).
//! 5. `request`: the headers, then the [`Transport`] (`transport.rs`).
//!
//! On the way back a non-2xx answer becomes a typed error (`error.rs`), and a
//! 2xx body is read, capped, and decoded (`body.rs`).

use std::sync::Arc;

use serde_json::Value;

use crate::body::{MAX_ERROR_BODY, MAX_JSON_BODY, json_or_null, read_capped, read_prefix};
use crate::call::{Call, Mode};
use crate::config::Settings;
use crate::credential::Credential;
use crate::error::ApiError;
use crate::headers::header;
use crate::redirect::next_hop;
use crate::transport::{Transport, TransportRequest, TransportResponse};
use crate::{Error, Result};

/// What every client holds: settings, transport and credential.
pub(crate) struct Core {
    pub settings: Settings,
    pub transport: Arc<dyn Transport>,
    pub credential: Credential,
    /// Headers of this client on every request (`x-tenant-id`).
    pub headers: Vec<(String, String)>,
}

/// A 2xx answer, with the secret that was sent (to mask it in what follows).
pub(crate) struct Answer {
    pub response: TransportResponse,
    pub secret: String,
}

impl Core {
    /// Sends the call and reads its JSON answer; an empty body is `Value::Null`.
    pub(crate) fn json_value(&self, call: &Call) -> Result<Value> {
        self.answer(call, json_or_null)
    }

    /// Sends the call and reads its 2xx body (capped) with `read`. An error
    /// quoting the body has the secrets masked, as API errors do.
    pub(crate) fn answer<T>(
        &self,
        call: &Call,
        read: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        let Answer { response, secret } = self.send(call)?;
        read_capped(response.body, MAX_JSON_BODY)
            .and_then(|body| read(&body))
            .map_err(|e| {
                call.secrets
                    .iter()
                    .fold(e.masked(&secret), |e, s| e.masked(s))
            })
            .map_err(|e| call.unless_cancelled(e))
    }

    /// Layer 1: tries the call as the retry policy allows; `Ok` only for a 2xx answer.
    pub(crate) fn send(&self, call: &Call) -> Result<Answer> {
        let policy = call
            .options
            .retries
            .as_ref()
            .unwrap_or(&self.settings.retries);
        let mut attempt = 0;
        loop {
            let error = match self.attempt(call, attempt) {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            let Some(wait) = policy.next_delay(attempt, call.method, call.idempotent, &error)
            else {
                return Err(error);
            };
            match call.cancel() {
                Some(cancel) if cancel.sleep(wait) => return Err(Error::Cancelled),
                Some(_) => {}
                None => std::thread::sleep(wait),
            }
            attempt += 1;
        }
    }

    /// Layer 2: one try with the current credential. When a token source's
    /// token is refused as expired or used up and the call is safe to repeat,
    /// the token is invalidated and the request sent once more with the next.
    /// `attempt` counts the tries before this one, for the log.
    pub(crate) fn attempt(&self, call: &Call, attempt: u32) -> Result<Answer> {
        if call.cancel().is_some_and(crate::CancelHandle::is_cancelled) {
            return Err(Error::Cancelled);
        }
        let secret = self.credential.get()?;
        let response = match self.logged(call, &secret, attempt) {
            Err(e) if self.credential.renews && is_token_refusal(&e) && call.repeatable() => {
                self.credential.source.invalidate(&secret);
                let secret = self.credential.get()?;
                let response = self.logged(call, &secret, attempt)?;
                return Ok(Answer { response, secret });
            }
            result => result?,
        };
        Ok(Answer { response, secret })
    }

    /// Layer 3: with the `log` feature one line per request, with the
    /// `tracing` feature one span (`zaby.request`); never the credential.
    fn logged(&self, call: &Call, secret: &str, attempt: u32) -> Result<TransportResponse> {
        #[cfg(feature = "log")]
        let started = std::time::Instant::now();
        #[cfg(feature = "tracing")]
        let span = tracing::debug_span!(
            "zaby.request",
            method = call.method,
            path = %call.path,
            request_id = call.request_id.as_deref().unwrap_or("-"),
            attempt,
            status = tracing::field::Empty,
        );
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let result = self.follow_redirects(call, secret);
        #[cfg(feature = "tracing")]
        if let Some(status) = result
            .as_ref()
            .map_or_else(Error::status, |r| Some(r.status))
        {
            span.record("status", status);
        }
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
        #[cfg(not(any(feature = "log", feature = "tracing")))]
        let _ = attempt;
        result
    }

    /// Layer 4: follows the redirects `redirect.rs` allows, the credential
    /// only to our origin; a non-2xx answer becomes its typed error.
    fn follow_redirects(&self, call: &Call, secret: &str) -> Result<TransportResponse> {
        let mut url = format!("{}{}", self.settings.origin, call.path);
        let mut path = call.path.clone();
        let mut method = call.method;
        let mut body = call.body.as_deref();
        let mut with_credential = true;
        for hop in 0.. {
            let credential = with_credential.then_some(secret);
            let request = self.request(
                call,
                method,
                (&url, &path),
                body.map(<[u8]>::to_vec),
                credential,
            );
            let sent = match call.cancel() {
                Some(cancel) => self.transport.send_cancellable(request, cancel),
                None => self.transport.send(request),
            };
            let response = sent.map_err(|e| call.unless_cancelled(e))?;
            let status = response.status;
            if (200..300).contains(&status) {
                return Ok(response);
            }
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                let error = self.api_error(response, secret, call, None);
                // A host that was not sent the credential cannot refuse it:
                // its word must not make the client drop a good token.
                return Err(match error {
                    Error::TokenExpired(e) | Error::TokenExhausted(e) | Error::Auth(e)
                        if !with_credential =>
                    {
                        Error::Api(e)
                    }
                    error => error,
                });
            }
            // The origin was checked when the client was built: it parses.
            let origin = url::Url::parse(&self.settings.origin)
                .map_err(|e| Error::Config(format!("the API origin does not parse: {e}")))?;
            let location = header(&response.headers, "location");
            let next = match next_hop(&origin, &url, status, location, body.is_some(), hop) {
                Ok(next) => next,
                Err(why) => {
                    let message = format!("{why}; the redirect was not followed");
                    return Err(self.api_error(response, secret, call, Some(message)));
                }
            };
            // Read the (small) redirect body so its connection can serve the next hop.
            let _ = std::io::copy(
                &mut std::io::Read::take(response.body, MAX_ERROR_BODY),
                &mut std::io::sink(),
            );
            with_credential &= next.with_credential;
            if next.as_get {
                method = "GET";
                body = None;
            }
            path = match next.url.query() {
                Some(query) => format!("{}?{query}", next.url.path()),
                None => next.url.path().to_owned(),
            };
            url = next.url.into();
        }
        unreachable!("next_hop ends the loop after MAX_REDIRECTS hops")
    }

    /// Layer 5: the request as the transport gets it.
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
            headers.push(self.credential.header(secret));
        }
        let stream = match &call.mode {
            Mode::Json => None,
            Mode::Stream {
                idle_timeout,
                last_event_id,
                ..
            } => Some((*idle_timeout, last_event_id)),
        };
        let accept = match stream {
            Some(_) => "text/event-stream",
            None => "application/json",
        };
        headers.push(("accept".to_owned(), accept.to_owned()));
        if stream.is_some() {
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
        headers.extend(self.headers.iter().cloned());
        if let Some((_, Some(id))) = stream {
            headers.push(("last-event-id".to_owned(), id.clone()));
        }
        // The caller's replace the client's of the same name: one value each.
        for (name, value) in &call.options.headers {
            headers.retain(|(n, _)| n != name);
            headers.push((name.clone(), value.clone()));
        }
        let timeout = match stream {
            Some((idle, _)) => call.options.timeout.map_or(idle, Some),
            None => Some(call.options.timeout.unwrap_or(self.settings.timeout)),
        };
        TransportRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            path: path.to_owned(),
            headers,
            body,
            stream: stream.is_some(),
            timeout,
        }
    }

    /// The typed error of a non-2xx answer, with echoed secrets masked;
    /// `message` replaces the server's (for a redirect not followed).
    fn api_error(
        &self,
        response: TransportResponse,
        secret: &str,
        call: &Call,
        message: Option<String>,
    ) -> Error {
        let body = read_prefix(response.body, MAX_ERROR_BODY);
        let mut secrets = vec![secret];
        secrets.extend(call.secrets.iter().map(String::as_str));
        let mut e = ApiError::from_parts(response.status, &response.headers, &body, &secrets);
        match message {
            Some(message) => {
                e.message = message;
                for secret in &secrets {
                    e.mask(secret);
                }
                Error::Api(Box::new(e))
            }
            None => Error::from_api(e),
        }
    }
}

fn is_token_refusal(e: &Error) -> bool {
    matches!(e, Error::TokenExpired(_) | Error::TokenExhausted(_))
}
