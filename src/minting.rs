//! A token source that keeps a runtime token fresh by minting it through
//! the provisioning API.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::{Error, RuntimeToken, RuntimeTokenRequest, TokenError, TokenSource, Zaby};

/// A [`TokenSource`] that mints runtime tokens through [`Zaby`], for trusted
/// server code holding the API key.
///
/// It mints nothing until the first [`token`](TokenSource::token); then again
/// when the token expires within the skew, when the uses it handed out leave
/// fewer than the minimum, or when the server refused it. One thread mints at
/// a time: the others wait for that result (and its error), so many threads
/// asking a cold source cause one mint.
///
/// # Example
/// ```no_run
/// use zaby::{MintingTokenSource, RuntimeTokenRequest, Zaby, ZabyRuntime};
///
/// let zaby = Zaby::new(std::env::var("ZABY_API_KEY").unwrap())?;
/// let source = MintingTokenSource::new(zaby, RuntimeTokenRequest::new("app-id", "deployment-id").ttl_seconds(900));
/// let runtime = ZabyRuntime::builder().token_source(source).build()?;
/// # let _ = runtime;
/// # Ok::<(), zaby::Error>(())
/// ```
pub struct MintingTokenSource {
    zaby: Zaby,
    request: RuntimeTokenRequest,
    skew: Duration,
    min_remaining_uses: u64,
    rotate: bool,
    state: Mutex<MintState>,
    minted: Condvar,
}

#[derive(Default)]
struct MintState {
    current: Option<Held>,
    /// The token last held, for a rotation.
    previous: Option<String>,
    minting: bool,
    /// Threads waiting for the mint under way.
    waiting: usize,
    /// Bumped by every mint, so waiters know theirs is over.
    generation: u64,
    /// The last mint's error, for the threads that waited on it.
    error: Option<Arc<Error>>,
}

struct Held {
    token: RuntimeToken,
    minted_at: SystemTime,
    handed_out: u64,
}

impl fmt::Debug for MintingTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintingTokenSource")
            .field("request", &self.request)
            .field("skew", &self.skew)
            .field("min_remaining_uses", &self.min_remaining_uses)
            .field("rotate", &self.rotate)
            .finish_non_exhaustive()
    }
}

/// Wakes the waiting threads with an error if the mint panicked, so that
/// none waits forever.
struct MintGuard<'a> {
    source: &'a MintingTokenSource,
    done: bool,
}

impl Drop for MintGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut state = self.source.lock();
            state.minting = false;
            state.generation += 1;
            state.error = Some(Arc::new(Error::Config("the mint panicked".to_owned())));
            self.source.minted.notify_all();
        }
    }
}

/// A failed mint, handed to every thread that waited for it; its source is
/// the provisioning call's error, so a retryable one stays retryable.
#[derive(Debug)]
struct MintFailed(Arc<Error>);

impl fmt::Display for MintFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "minting a runtime token failed: {}", self.0)
    }
}

impl std::error::Error for MintFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl MintingTokenSource {
    /// A source minting with `request`; nothing is minted until the first token is asked for.
    ///
    /// # Example
    /// ```
    /// use zaby::{MintingTokenSource, RuntimeTokenRequest, Zaby};
    /// let zaby = Zaby::new("zk_test_0123456789")?;
    /// let source = MintingTokenSource::new(zaby, RuntimeTokenRequest::new("app-id", "deployment-id"));
    /// let runtime = zaby::ZabyRuntime::builder().token_source(source).build()?; // nothing minted yet
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new(zaby: Zaby, request: RuntimeTokenRequest) -> Self {
        MintingTokenSource {
            zaby,
            request,
            skew: Duration::from_secs(30),
            min_remaining_uses: 2,
            rotate: false,
            state: Mutex::new(MintState::default()),
            minted: Condvar::new(),
        }
    }

    /// Mint again when the token expires within this. Defaults to 30 s.
    ///
    /// # Example
    /// ```
    /// # let zaby = zaby::Zaby::new("zk_test_0123456789")?;
    /// # let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id");
    /// // Mint a fresh token two minutes before the current one expires.
    /// let source = zaby::MintingTokenSource::new(zaby, request)
    ///     .refresh_skew(std::time::Duration::from_secs(120));
    /// # let _ = source;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Hand out a token only while its remaining uses minus the tokens handed
    /// out stay at least `n`. Defaults to 2.
    ///
    /// # Example
    /// ```
    /// # let zaby = zaby::Zaby::new("zk_test_0123456789")?;
    /// # let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id").max_uses(100);
    /// // Four threads share the source: keep a use in hand for each.
    /// let source = zaby::MintingTokenSource::new(zaby, request).min_remaining_uses(4);
    /// # let _ = source;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn min_remaining_uses(mut self, n: u64) -> Self {
        self.min_remaining_uses = n;
        self
    }

    /// Rotate the previous token instead of minting anew. Defaults to `false`.
    ///
    /// # Example
    /// ```
    /// # let zaby = zaby::Zaby::new("zk_test_0123456789")?;
    /// # let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id");
    /// // Keep one token family per end user: rotate rather than mint anew.
    /// let source = zaby::MintingTokenSource::new(zaby, request).rotate(true);
    /// # let _ = source;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn rotate(mut self, yes: bool) -> Self {
        self.rotate = yes;
        self
    }

    fn lock(&self) -> MutexGuard<'_, MintState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self, held: &Held) -> bool {
        let fresh = held.token.expires_at.is_none_or(|at| {
            // A lifetime shorter than twice the skew is refreshed at half-life,
            // not on every ask.
            let lifetime = at.duration_since(held.minted_at).unwrap_or_default();
            let skew = self.skew.min(lifetime / 2);
            at.duration_since(SystemTime::now())
                .is_ok_and(|left| left > skew)
        });
        let uses_left = held.token.remaining_uses.is_none_or(|left| {
            left.saturating_sub(held.handed_out) >= self.min_remaining_uses.max(1)
        });
        fresh && uses_left
    }

    /// Rotates `previous` when given, else mints anew.
    fn mint(&self, previous: Option<String>) -> crate::Result<RuntimeToken> {
        let tokens = self.zaby.runtime_tokens();
        match previous {
            Some(previous) => tokens.rotate(&previous),
            None => tokens.create(self.request.clone()),
        }
    }
}

impl TokenSource for MintingTokenSource {
    fn token(&self) -> Result<String, TokenError> {
        let mut state = self.lock();
        loop {
            if let Some(held) = state.current.as_mut().filter(|held| self.usable(held)) {
                held.handed_out += 1;
                return Ok(held.token.token.clone());
            }
            if !state.minting {
                break;
            }
            // Another thread mints: its result is this thread's too.
            let generation = state.generation;
            state.waiting += 1;
            state = self
                .minted
                .wait_while(state, |s| s.generation == generation)
                .unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
            if let Some(error) = &state.error {
                return Err(Box::new(MintFailed(Arc::clone(error))));
            }
            if let Some(held) = state.current.as_mut() {
                held.handed_out += 1;
                return Ok(held.token.token.clone());
            }
            // Invalidated before this thread woke: look again.
        }
        state.minting = true;
        if let Some(old) = state.current.take() {
            state.previous = Some(old.token.token);
        }
        let previous = state.previous.clone().filter(|_| self.rotate);
        drop(state);
        let mut guard = MintGuard {
            source: self,
            done: false,
        };
        let result = self.mint(previous.clone());
        guard.done = true;
        let mut state = self.lock();
        state.minting = false;
        state.generation += 1;
        self.minted.notify_all();
        match result {
            Ok(token) => {
                state.error = None;
                // A fresh token is handed out even if it is already low:
                // minting again at once would loop.
                let value = token.token.clone();
                state.current = Some(Held {
                    token,
                    minted_at: SystemTime::now(),
                    handed_out: 1,
                });
                Ok(value)
            }
            Err(e) => {
                if previous.is_some() {
                    // A refused rotation would be refused again: mint anew next time.
                    state.previous = None;
                }
                let error = Arc::new(e);
                state.error = Some(Arc::clone(&error));
                Err(Box::new(MintFailed(error)))
            }
        }
    }

    fn invalidate(&self, token: &str) {
        let mut state = self.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|held| held.token.token == token)
        {
            state.previous = state.current.take().map(|held| held.token.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::transport::{Transport, TransportRequest, TransportResponse};

    fn answer(status: u16, body: &'static str) -> TransportResponse {
        TransportResponse {
            status,
            headers: Vec::new(),
            body: Box::new(std::io::Cursor::new(body)),
        }
    }

    /// A minting source whose mints go to `transport`.
    fn source_over(transport: impl Transport + 'static) -> Arc<MintingTokenSource> {
        let zaby = Zaby::builder()
            .api_key("zk_test_key_123")
            .transport(transport)
            .build()
            .unwrap();
        Arc::new(MintingTokenSource::new(
            zaby,
            RuntimeTokenRequest::new("a", "d"),
        ))
    }

    /// Answers mints with `status`, but only once the test opens the gate.
    struct Gate {
        status: u16,
        calls: Arc<Mutex<usize>>,
        arrived: mpsc::SyncSender<()>,
        open: Mutex<mpsc::Receiver<()>>,
    }

    impl Transport for Gate {
        fn send(&self, _: TransportRequest) -> crate::Result<TransportResponse> {
            *self.calls.lock().unwrap() += 1;
            let _ = self.arrived.send(());
            let _ = self.open.lock().unwrap().recv();
            let body = if self.status == 200 {
                r#"{"token":"eyJ.one.mint","expiresAt":"2099-01-01T00:00:00Z"}"#
            } else {
                r#"{"message":"mint service down"}"#
            };
            Ok(answer(self.status, body))
        }
    }

    /// Eight threads ask a cold source at once; returns their answers and the mint count.
    type Asked = (
        Vec<Result<String, String>>,
        Arc<Mutex<usize>>,
        Arc<MintingTokenSource>,
    );

    fn eight_threads_ask(status: u16) -> Asked {
        let calls = Arc::new(Mutex::new(0));
        let (arrived, arrivals) = mpsc::sync_channel(16);
        let (open, gate) = mpsc::channel();
        let transport = Gate {
            status,
            calls: calls.clone(),
            arrived,
            open: Mutex::new(gate),
        };
        let source = source_over(transport);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let source = source.clone();
                std::thread::spawn(move || source.token().map_err(|e| e.to_string()))
            })
            .collect();
        // One thread reached the server; hold it there until the seven others wait on it.
        arrivals.recv().unwrap();
        while source.lock().waiting < 7 {
            std::thread::yield_now();
        }
        open.send(()).unwrap();
        let answers = threads.into_iter().map(|t| t.join().unwrap()).collect();
        // Let any later mint through so nothing blocks.
        drop(open);
        (answers, calls, source)
    }

    #[test]
    fn eight_threads_on_a_cold_source_cause_one_mint() {
        let (answers, mints, _) = eight_threads_ask(200);
        assert_eq!(*mints.lock().unwrap(), 1);
        assert!(
            answers.iter().all(|a| a.as_deref() == Ok("eyJ.one.mint")),
            "{answers:?}"
        );
    }

    #[test]
    fn a_failed_mint_reaches_every_waiting_thread() {
        let (answers, mints, source) = eight_threads_ask(503);
        assert_eq!(*mints.lock().unwrap(), 1);
        for answer in &answers {
            let err = answer.as_ref().unwrap_err();
            assert!(err.contains("mint service down"), "{err}");
        }
        // The next ask mints again.
        assert!(source.token().is_err());
        assert_eq!(*mints.lock().unwrap(), 2);
    }

    #[test]
    fn a_token_is_refreshed_within_the_skew_or_past_half_its_life() {
        let zaby = Zaby::new("zk_test_key_123").unwrap();
        let source = MintingTokenSource::new(zaby, RuntimeTokenRequest::new("a", "d"));
        let now = SystemTime::now();
        let held = |minted_ago: u64, left: u64| Held {
            token: serde_json::from_value(serde_json::json!({"token": "t"}))
                .map(|mut t: RuntimeToken| {
                    t.expires_at = Some(now + Duration::from_secs(left));
                    t
                })
                .unwrap(),
            minted_at: now - Duration::from_secs(minted_ago),
            handed_out: 1,
        };
        assert!(
            source.usable(&held(3600, 60)),
            "an hour-long token with a minute left"
        );
        assert!(!source.usable(&held(3600, 20)), "within the 30 s skew");
        assert!(
            source.usable(&held(5, 15)),
            "a 20 s token before its half-life"
        );
        assert!(
            !source.usable(&held(15, 5)),
            "a 20 s token past its half-life"
        );
    }

    #[test]
    fn a_panicking_mint_leaves_no_thread_waiting_forever() {
        struct PanicsOnce(Mutex<bool>);
        impl Transport for PanicsOnce {
            fn send(&self, _: TransportRequest) -> crate::Result<TransportResponse> {
                let first = std::mem::replace(&mut *self.0.lock().unwrap(), false);
                assert!(!first, "the transport broke");
                Ok(answer(200, r#"{"token":"eyJ.after.panic"}"#))
            }
        }
        let transport = PanicsOnce(Mutex::new(true));
        let source = source_over(transport);
        let first = {
            let source = source.clone();
            std::thread::spawn(move || source.token().map_err(|e| e.to_string()))
        };
        assert!(first.join().is_err(), "the panic reaches the asking thread");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(source.token().map_err(|e| e.to_string())));
        let next = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a later ask must not hang");
        assert_eq!(next.as_deref(), Ok("eyJ.after.panic"));
    }

    #[test]
    fn a_stale_invalidate_keeps_the_newer_token() {
        let (_, _, source) = eight_threads_ask(200);
        source.invalidate("eyJ.some.older.token");
        assert!(source.lock().current.is_some());
        source.invalidate("eyJ.one.mint");
        assert!(source.lock().current.is_none());
    }
}
