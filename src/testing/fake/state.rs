//! The fake's shared state: runs, recorded requests, fault knobs, the clock,
//! the token ledger, and the open connections.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::answer::{Answer, error};
use super::clock::Clock;
use super::ledger::Ledger;
use super::recorded::FakeRequest;
use super::script::Run;

/// Failures injected into the next requests of a kind: a one-shot knob.
#[derive(Default)]
pub(super) struct Injected {
    remaining: usize,
    status: u16,
    retry_after: Option<u64>,
}

impl Injected {
    /// The next `remaining` requests answer `status`, with `retry-after:
    /// <seconds>` when given.
    pub fn new(remaining: usize, status: u16, retry_after: Option<u64>) -> Injected {
        Injected {
            remaining,
            status,
            retry_after,
        }
    }

    /// Uses up one failure, if any is left: `FAKE_FAILURE`, the message
    /// naming it `what`.
    pub fn take(&mut self, what: &str) -> Option<Answer> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let status = self.status;
        let answer = error(
            status,
            "FAKE_FAILURE",
            format!("Injected {what} with status {status}."),
        );
        Some(match self.retry_after {
            Some(secs) => answer.with_header("retry-after", secs.to_string()),
            None => answer,
        })
    }
}

/// Fault knobs; each one-shot knob is consumed by the request it applies to.
#[derive(Default)]
pub(super) struct Knobs {
    pub expire_tokens: usize,
    /// Failures of any request.
    pub fail: Injected,
    /// Failures of mint calls.
    pub fail_mints: Injected,
    pub cut_after_events: Option<usize>,
    pub event_delay: Duration,
    pub keep_alive: Duration,
    pub malformed_stream: Option<Vec<u8>>,
    pub hold_open_after_finish: bool,
    pub retry_ms: Option<u64>,
    pub close_delimited: bool,
}

#[derive(Default)]
pub(super) struct State {
    pub runs: HashMap<String, Run>,
    pub runs_by_request_id: HashMap<String, String>,
    pub run_count: u64,
    pub feedback: Vec<(String, Value)>,
    pub requests: Vec<FakeRequest>,
    request_count: u64,
    pub knobs: Knobs,
    pub clock: Clock,
    pub ledger: Ledger,
}

impl State {
    /// A fresh request id, for requests that bring none.
    pub fn next_request_id(&mut self) -> String {
        self.request_count += 1;
        format!("fake-req-{:08}", self.request_count)
    }
}

/// Open connections, so that stopping can close them and join their threads.
#[derive(Default)]
pub(super) struct Connections {
    pub next_id: u64,
    pub sockets: HashMap<u64, TcpStream>,
    pub threads: Vec<JoinHandle<()>>,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// Notified on every change a stream may wait for: new events, stopping.
    pub changed: Condvar,
    stopping: AtomicBool,
    /// The fixed token every fake accepts.
    pub token: String,
    pub connections: Mutex<Connections>,
}

/// A poisoned lock only means a connection thread panicked; the data is still usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(token: String) -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            token,
            connections: Mutex::new(Connections::default()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Marks the fake as stopping and wakes every waiting stream.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Notifying under the lock: a stream that checked `stopping` before
        // the store is then already waiting, and wakes.
        let _state = self.state();
        self.changed.notify_all();
    }

    /// Waits on [`changed`](Self::changed), at most `timeout` when given.
    pub fn wait<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        match timeout {
            None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
            Some(t) => {
                self.changed
                    .wait_timeout(state, t)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        }
    }
}
