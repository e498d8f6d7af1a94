//! A timer that acts unless it is disarmed first: it bounds a blocking step
//! that no read timeout can, such as an error body drip-fed a byte at a time.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Runs its action after the given time unless dropped before. The waiting
/// thread sleeps on a condition variable: it costs nothing while it waits.
pub(crate) struct Deadline {
    disarmed: Arc<(Mutex<bool>, Condvar)>,
}

impl Deadline {
    pub(crate) fn arm(after: Duration, action: impl FnOnce() + Send + 'static) -> Deadline {
        let disarmed = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = Arc::clone(&disarmed);
        // Without a thread there is no deadline, and the read timeouts still apply.
        let _ = std::thread::Builder::new()
            .name("zaby-deadline".to_owned())
            .spawn(move || {
                let (lock, wake) = &*shared;
                let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let (guard, _) = wake
                    .wait_timeout_while(guard, after, |disarmed| !*disarmed)
                    .unwrap_or_else(PoisonError::into_inner);
                if !*guard {
                    drop(guard);
                    action();
                }
            });
        Deadline { disarmed }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        let (lock, wake) = &*self.disarmed;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_one();
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
        drop(fired);

        let (tx, rx) = mpsc::channel::<()>();
        drop(Deadline::arm(Duration::from_secs(3600), move || {
            let _ = tx.send(());
        }));
        // The thread ends on the drop without acting: the sender goes with it.
        assert!(rx.recv().is_err());
    }
}
