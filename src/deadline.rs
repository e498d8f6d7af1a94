//! A timer that acts unless it is disarmed first: it bounds a blocking step
//! that no read timeout can, such as an error body drip-fed a byte at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Runs its action after the given time unless dropped before. The waiting
/// thread sleeps on a condition variable: it costs nothing while it waits.
pub(crate) struct Deadline {
    shared: Arc<Shared>,
}

struct Shared {
    disarmed: Mutex<bool>,
    wake: Condvar,
    fired: AtomicBool,
}

impl Deadline {
    pub(crate) fn arm(after: Duration, action: impl FnOnce() + Send + 'static) -> Deadline {
        let shared = Arc::new(Shared {
            disarmed: Mutex::new(false),
            wake: Condvar::new(),
            fired: AtomicBool::new(false),
        });
        let timer = Arc::clone(&shared);
        // Without a thread there is no deadline, and the read timeouts still apply.
        let _ = std::thread::Builder::new()
            .name("zaby-deadline".to_owned())
            .spawn(move || {
                let guard = timer
                    .disarmed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let (guard, _) = timer
                    .wake
                    .wait_timeout_while(guard, after, |disarmed| !*disarmed)
                    .unwrap_or_else(PoisonError::into_inner);
                if !*guard {
                    timer.fired.store(true, Ordering::SeqCst);
                    drop(guard);
                    action();
                }
            });
        Deadline { shared }
    }

    /// Whether the time ran out and the action ran (or is running).
    pub(crate) fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// Stops the timer; true when it had already acted, so that what it
    /// interrupted is known for sure.
    pub(crate) fn disarm(self) -> bool {
        self.stop();
        self.fired()
    }

    fn stop(&self) {
        // Under the lock the timer thread decides, so after it the answer is final.
        *self
            .shared
            .disarmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn acts_when_not_disarmed_and_not_after_a_drop() {
        let (tx, rx) = mpsc::channel();
        let fired = Deadline::arm(Duration::ZERO, move || tx.send(()).unwrap());
        rx.recv().unwrap();
        assert!(fired.disarm());

        let (tx, rx) = mpsc::channel::<()>();
        let disarmed = Deadline::arm(Duration::from_secs(3600), move || {
            let _ = tx.send(());
        });
        assert!(!disarmed.disarm());
        // The thread ends on the drop without acting: the sender goes with it.
        assert!(rx.recv().is_err());
    }
}
