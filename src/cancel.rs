//! Stopping a stream from another thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

/// Stops an [`EventStream`](crate::EventStream) from any thread: a blocked read returns at once
/// and the iterator ends. Cheap to clone; `Send + Sync`.
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![zaby::SseEvent::new("text", serde_json::json!({"content": "Hi"}))]);
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
/// use zaby::{CancelHandle, RequestOptions};
/// let cancel = CancelHandle::new();
/// let options = RequestOptions::new().cancel_handle(cancel.clone());
/// let mut stream = runtime.runs().with_options(options).stream("r1")?;
/// cancel.cancel(); // from any thread, e.g. the UI's "Stop" button
/// assert!(stream.next().is_none());
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone)]
pub struct CancelHandle {
    shared: Arc<Shared>,
}

type Hook = Box<dyn FnOnce() + Send>;

struct Shared {
    cancelled: AtomicBool,
    /// What interrupts the transport's blocked read, when it offers that.
    hook: Mutex<Option<Hook>>,
    wake: Condvar,
    /// The handles of the calls this one was given to: each call has its
    /// own, so that calls sharing a handle do not take each other's hook.
    children: Mutex<Vec<Weak<Shared>>>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Default for CancelHandle {
    /// The same as [`CancelHandle::new`].
    fn default() -> Self {
        CancelHandle::new()
    }
}

impl CancelHandle {
    /// A handle not yet cancelled. Make one before a call to be able to
    /// cancel that call from another thread (per-call options take it), or
    /// to test a custom [`crate::Transport`]. Clones share one state:
    /// cancelling any of them cancels them all, and it cannot be undone.
    ///
    /// # Example
    /// ```
    /// use zaby::CancelHandle;
    ///
    /// let handle = CancelHandle::new();
    /// assert!(!handle.is_cancelled());
    /// let for_the_ui = handle.clone();
    /// for_the_ui.cancel();
    /// assert!(handle.is_cancelled());
    /// assert!(!CancelHandle::default().is_cancelled());
    /// ```
    pub fn new() -> Self {
        CancelHandle {
            shared: Arc::new(Shared {
                cancelled: AtomicBool::new(false),
                hook: Mutex::new(None),
                children: Mutex::new(Vec::new()),
                wake: Condvar::new(),
            }),
        }
    }

    /// Stops the stream: its next `next()` returns `None`, and a read blocked
    /// on the network is interrupted. Calling it again does nothing.
    ///
    /// # Example
    /// ```
    /// let handle = zaby::CancelHandle::new();
    /// let other = handle.clone();
    /// std::thread::spawn(move || other.cancel()).join().unwrap();
    /// assert!(handle.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
        let hook = self.lock().take();
        self.shared.wake.notify_all();
        if let Some(hook) = hook {
            hook();
        }
        let children = std::mem::take(&mut *self.children());
        for child in children.iter().filter_map(Weak::upgrade) {
            CancelHandle { shared: child }.cancel();
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    ///
    /// # Example
    /// ```
    /// let handle = zaby::CancelHandle::new();
    /// assert!(!handle.is_cancelled());
    /// handle.cancel();
    /// assert!(handle.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Registers what interrupts the current connection; runs it at once if
    /// already cancelled. Replaces the previous connection's.
    ///
    /// # Example
    /// ```
    /// // In a custom transport: close the connection when the call is cancelled.
    /// let handle = zaby::CancelHandle::new();
    /// let (closed, was_closed) = std::sync::mpsc::channel();
    /// handle.on_cancel(move || closed.send(()).unwrap());
    /// handle.cancel();
    /// assert!(was_closed.try_recv().is_ok());
    /// ```
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        let mut slot = self.lock();
        if self.is_cancelled() {
            drop(slot);
            hook();
        } else {
            *slot = Some(Box::new(hook));
        }
    }

    /// A handle of one call's own, cancelled with this one. Its hook (the
    /// call's connection) goes when the call drops it.
    pub(crate) fn child(&self) -> CancelHandle {
        let child = CancelHandle::new();
        {
            let mut children = self.children();
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&child.shared));
        }
        // A cancel that came before the push reaches the child here.
        if self.is_cancelled() {
            child.cancel();
        }
        child
    }

    fn children(&self) -> MutexGuard<'_, Vec<Weak<Shared>>> {
        self.shared
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn clear_hook(&self) {
        self.lock().take();
    }

    /// Sleeps for `d` unless cancelled first; true when cancelled.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let slot = self.lock();
        let _unused = self
            .shared
            .wake
            .wait_timeout_while(slot, d, |_| !self.is_cancelled())
            .unwrap_or_else(|e| e.into_inner());
        self.is_cancelled()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Hook>> {
        self.shared.hook.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_cancel_reaches_every_live_child_and_children_are_forgotten_when_dropped() {
        let parent = CancelHandle::new();
        let (tx, rx) = mpsc::channel();
        let children: Vec<_> = (0..3).map(|_| parent.child()).collect();
        for (i, child) in children.iter().enumerate() {
            let tx = tx.clone();
            child.on_cancel(move || tx.send(i).unwrap());
        }
        drop(parent.child());
        assert_eq!(parent.children().len(), 4);
        parent.child();
        assert_eq!(parent.children().len(), 4, "dropped children are pruned");
        parent.cancel();
        let mut fired: Vec<usize> = rx.try_iter().collect();
        fired.sort();
        assert_eq!(
            fired,
            [0, 1, 2],
            "every call's hook, not only the last one's"
        );
        assert!(children.iter().all(CancelHandle::is_cancelled));
        assert!(
            parent.child().is_cancelled(),
            "a child of a cancelled handle starts cancelled"
        );
    }

    #[test]
    fn a_hook_registered_after_cancel_runs_at_once() {
        let handle = CancelHandle::new();
        handle.cancel();
        let (tx, rx) = mpsc::channel();
        handle.on_cancel(move || tx.send(()).unwrap());
        assert!(rx.try_recv().is_ok());
        assert!(handle.sleep(Duration::from_secs(60)));
    }
}
