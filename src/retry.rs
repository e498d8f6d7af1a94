//! Which failed calls are tried again, and after how long.

use std::time::Duration;

use crate::Error;
use crate::backoff::Backoff;

/// How failed calls are retried. The default, [`RetryPolicy::none`], never retries.
///
/// A retry happens when the method is in [`methods`](RetryPolicy::methods) and
/// the answer's status is in [`statuses`](RetryPolicy::statuses); a connection
/// failure or timeout before any answer counts as a 503. The wait is the
/// server's `retry-after` when it sent one, else `min(initial * 2^attempt, max)`;
/// a `retry-after` longer than [`max_wait`](RetryPolicy::max_wait) is not slept
/// on: the error comes back at once, carrying it.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use zaby::RetryPolicy;
/// let policy = RetryPolicy::attempts(3)
///     .methods(&["GET", "POST"])
///     .backoff(Duration::from_millis(50), Duration::from_secs(2));
/// # let _ = policy;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    retries: u32,
    methods: Vec<String>,
    statuses: Vec<u16>,
    backoff: Backoff,
    max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            methods: ["GET", "HEAD", "OPTIONS"].map(String::from).to_vec(),
            statuses: vec![408, 429, 500, 502, 503, 504],
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(1),
                jitter: false,
            },
            max_wait: Duration::from_secs(30),
        }
    }
}

impl From<u32> for RetryPolicy {
    /// The same as [`RetryPolicy::attempts`].
    fn from(n: u32) -> Self {
        RetryPolicy::attempts(n)
    }
}

impl RetryPolicy {
    /// Never retry. The default.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::RetryPolicy::none().max_retries(), 0);
    /// ```
    pub fn none() -> Self {
        RetryPolicy::default()
    }

    /// Up to `n` retries of `GET`, `HEAD`, `OPTIONS` (and of `POST /runs`, made
    /// safe by its request id) on 408, 429, 500, 502, 503, 504, waiting
    /// `min(100 ms * 2^attempt, 1 s)` between tries.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .retries(zaby::RetryPolicy::attempts(3)) // or just `.retries(3)`
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn attempts(n: u32) -> Self {
        RetryPolicy {
            retries: n,
            ..RetryPolicy::default()
        }
    }

    /// The methods retried (upper case). Defaults to `GET`, `HEAD`, `OPTIONS`;
    /// add `POST` to retry approvals and feedback too.
    ///
    /// # Example
    /// ```
    /// let policy = zaby::RetryPolicy::attempts(2).methods(&["GET", "post"]);
    /// # let _ = policy;
    /// ```
    pub fn methods(mut self, methods: &[&str]) -> Self {
        self.methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        self
    }

    /// The statuses retried. Defaults to 408, 429, 500, 502, 503, 504.
    ///
    /// # Example
    /// ```
    /// // Only when the service is unavailable or overloaded.
    /// let policy = zaby::RetryPolicy::attempts(5).statuses(&[429, 503]);
    /// # let _ = policy;
    /// ```
    pub fn statuses(mut self, statuses: &[u16]) -> Self {
        self.statuses = statuses.to_vec();
        self
    }

    /// The first wait and the longest computed wait. Defaults to 100 ms and 1 s.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// // 50 ms, 100 ms, 200 ms, then 250 ms for every later retry.
    /// let policy = zaby::RetryPolicy::attempts(6)
    ///     .backoff(Duration::from_millis(50), Duration::from_millis(250));
    /// # let _ = policy;
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff.initial = initial;
        self.backoff.max = max;
        self
    }

    /// The longest `retry-after` that is slept on. Defaults to 30 s; a
    /// longer one returns the error at once, carrying it.
    ///
    /// # Example
    /// ```
    /// // A frame loop cannot wait long: give the error back instead.
    /// let policy = zaby::RetryPolicy::attempts(3).max_wait(std::time::Duration::from_secs(2));
    /// # let _ = policy;
    /// ```
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.max_wait = max;
        self
    }

    /// How many retries at most.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::RetryPolicy::from(4).max_retries(), 4);
    /// ```
    pub fn max_retries(&self) -> u32 {
        self.retries
    }

    /// Whether the retry number `attempt` (from 0) of `method` may follow `error`,
    /// and after how long. `idempotent` marks a POST made safe by a request id.
    pub(crate) fn next_delay(
        &self,
        attempt: u32,
        method: &str,
        idempotent: bool,
        error: &Error,
    ) -> Option<Duration> {
        if attempt >= self.retries {
            return None;
        }
        if !idempotent && !self.methods.iter().any(|m| m == method) {
            return None;
        }
        // A failed mint is judged by the provisioning answer that caused it.
        let error = match error {
            Error::Credential(e) => e.cause().unwrap_or(error),
            _ => error,
        };
        let status = match error {
            // No answer came: as a 503.
            Error::Connection(_) | Error::Timeout(_) | Error::Credential(_)
                if error.is_retryable() =>
            {
                503
            }
            _ => error.status()?,
        };
        if !self.statuses.contains(&status) {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_wait => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff.delay(attempt)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;

    fn status(status: u16, retry_after: Option<Duration>) -> Error {
        Error::from_api(ApiError {
            status,
            message: String::new(),
            code: None,
            request_id: None,
            retry_after,
            body: serde_json::Value::Null,
        })
    }

    #[test]
    fn backoff_doubles_up_to_one_second() {
        let p = RetryPolicy::attempts(10);
        let waits: Vec<_> = (0..5)
            .map(|a| {
                p.next_delay(a, "GET", false, &status(503, None))
                    .unwrap()
                    .as_millis()
            })
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000]);
        assert_eq!(p.next_delay(10, "GET", false, &status(503, None)), None);
    }

    #[test]
    fn only_listed_methods_and_statuses() {
        let p = RetryPolicy::attempts(1);
        assert!(p.next_delay(0, "POST", false, &status(503, None)).is_none());
        assert!(p.next_delay(0, "POST", true, &status(503, None)).is_some());
        assert!(p.next_delay(0, "GET", false, &status(501, None)).is_none());
        assert!(p.next_delay(0, "GET", false, &status(404, None)).is_none());
        let io = Error::Connection(std::io::Error::other("reset"));
        assert!(p.next_delay(0, "GET", false, &io).is_some());
        assert!(
            RetryPolicy::none()
                .next_delay(0, "GET", false, &io)
                .is_none()
        );
        let post = RetryPolicy::attempts(1).methods(&["post"]);
        assert!(
            post.next_delay(0, "POST", false, &status(503, None))
                .is_some()
        );
    }

    #[test]
    fn retry_after_replaces_the_wait_unless_too_long() {
        let p = RetryPolicy::attempts(1);
        let soon = status(429, Some(Duration::from_secs(3)));
        assert_eq!(
            p.next_delay(0, "GET", false, &soon),
            Some(Duration::from_secs(3))
        );
        let late = status(429, Some(Duration::from_secs(31)));
        assert_eq!(p.next_delay(0, "GET", false, &late), None);
    }
}
