//! The cancel signal every long operation watches: a turn of the agent loop, a script
//! run, a shell command. Ctrl-C at the prompt, a client that goes away, a stopping daemon
//! or a time limit sets it; the work itself then ends cleanly (a turn closes its round, a
//! script stops at its next operation) instead of being dropped half-way.
//!
//! [`interruptible_runtime`] is the async runtime of a front door whose Ctrl-C cancels
//! the running work instead of killing the process.

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

    pub(crate) fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Clears the signal, for the next evaluation of a long-lived session (the REPL).
    pub(crate) fn reset(&self) {
        self.inner.timed_out.store(false, Ordering::SeqCst);
        self.inner.cancelled.store(false, Ordering::SeqCst);
    }

    /// Cancels because the run's time is up.
    pub(crate) fn time_out(&self) {
        self.inner.timed_out.store(true, Ordering::SeqCst);
        self.cancel();
    }

    pub(crate) fn is_timed_out(&self) -> bool {
        self.inner.timed_out.load(Ordering::Relaxed)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
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

/// A runtime for a front door that runs turns and scripts: each Ctrl-C cancels the
/// returned signal (instead of killing the process), so the running work stops cleanly.
/// `workers == 0` runs everything on the calling thread (one conversation streams with no
/// hand-offs between threads).
///
/// The SIGINT handler is installed before this returns, not when a task first polls it:
/// the REPL's line editor saves the handler it finds and puts it back after each line, so a
/// handler installed later, while a line is being read, would be replaced by the default
/// one — and the next Ctrl-C would kill the prompt.
pub(crate) fn interruptible_runtime(
    workers: usize,
) -> std::io::Result<(tokio::runtime::Runtime, Cancel)> {
    let runtime = if workers == 0 {
        crate::runtime::on_this_thread()?
    } else {
        crate::runtime::with_workers(Some(workers))?
    };
    let cancel = Cancel::new();
    let on_interrupt = cancel.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupts = {
            let _context = runtime.enter();
            signal(SignalKind::interrupt())?
        };
        runtime.spawn(async move {
            while interrupts.recv().await.is_some() {
                on_interrupt.cancel();
            }
        });
    }
    #[cfg(not(unix))]
    runtime.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    Ok((runtime, cancel))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const CHILD: &str = "LOCALGPT_TEST_SIGINT_CHILD";

    /// The handler is in place the moment the runtime exists: a Ctrl-C right then cancels
    /// instead of killing. Checked in a fresh process, where no earlier runtime can have
    /// installed a handler already.
    #[test]
    fn ctrl_c_right_after_start_cancels_instead_of_killing() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "cancel::tests::sigint_child",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("cancelled, still alive"),
            "{:?}\n{stdout}",
            output.status
        );
    }

    #[test]
    #[ignore = "run as a child process by ctrl_c_right_after_start_cancels_instead_of_killing"]
    fn sigint_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        for workers in [0, 1] {
            let (runtime, cancel) = interruptible_runtime(workers).unwrap();
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::INT)
                .unwrap();
            runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(10), cancel.cancelled())
                    .await
                    .expect("the interrupt cancels");
            });
        }
        println!("cancelled, still alive");
    }
}
