//! A cancel signal shared by one script run: Ctrl-C in the REPL or a stopping daemon sets
//! it; the engine's progress callback and every binding that waits on I/O watch it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Set with `cancelled` when the cause is the run's time limit, to say so.
    timed_out: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Clears the signal, for the next evaluation of a long-lived session (the REPL).
    pub fn reset(&self) {
        self.inner.timed_out.store(false, Ordering::SeqCst);
        self.inner.cancelled.store(false, Ordering::SeqCst);
    }

    /// Cancels because the run's time is up.
    pub fn time_out(&self) {
        self.inner.timed_out.store(true, Ordering::SeqCst);
        self.cancel();
    }

    pub fn is_timed_out(&self) -> bool {
        self.inner.timed_out.load(Ordering::Relaxed)
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Relaxed)
    }

    /// Completes once [`Cancel::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            // Register interest before checking, so a cancel in between is not missed.
            let notified = self.inner.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
