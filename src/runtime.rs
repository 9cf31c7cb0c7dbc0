//! The one place LocalGPT builds async runtimes. A command that does one thing at a time
//! runs on its own thread ([`on_this_thread`]); servers and the daemon get worker threads
//! ([`with_workers`]); blocking code that needs async I/O now and then (remote embeddings,
//! the MCP servers' connections) shares one runtime on a thread of its own for the life of
//! the process ([`background`]) instead of building one per call. The prompt's runtime,
//! whose Ctrl-C cancels instead of killing, is `cancel::interruptible_runtime`,
//! built here too.

use std::io;

use tokio::runtime::{Builder, Handle, Runtime};

/// A runtime on the calling thread.
pub(crate) fn on_this_thread() -> io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

/// A runtime with `workers` threads (`None`: one per core).
pub(crate) fn with_workers(workers: Option<usize>) -> io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers.max(1));
    }
    builder.enable_all().build()
}

/// The shared background runtime, started on first use; `None` if its thread cannot be
/// started (said in the log once).
///
/// Its thread lives as long as the process, which is also what the kernel's parent-death
/// signal of the MCP servers it starts is tied to.
pub fn background() -> Option<Handle> {
    static HANDLE: std::sync::OnceLock<Option<Handle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("localgpt-background".to_string())
                .spawn(move || {
                    let Ok(runtime) = on_this_thread() else {
                        return;
                    };
                    let _ = sender.send(runtime.handle().clone());
                    // Driving the runtime here is what lets other threads `block_on` its
                    // handle with I/O and timers working.
                    runtime.block_on(std::future::pending::<()>());
                });
            if let Err(err) = spawned {
                tracing::warn!("cannot start the background runtime: {err}");
                return None;
            }
            receiver.recv().ok()
        })
        .clone()
}

/// Runs `future` to its end on the background runtime and waits for it, from blocking
/// code — also blocking code called inside another runtime, where waiting on this thread
/// is not allowed (it waits on a scoped thread then).
pub(crate) fn block_on_background<F: Future + Send>(future: F) -> io::Result<F::Output>
where
    F::Output: Send,
{
    let handle = background().ok_or_else(|| io::Error::other("no background runtime"))?;
    if Handle::try_current().is_err() {
        return Ok(handle.block_on(future));
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| handle.block_on(future))
            .join()
            .map_err(|_| io::Error::other("the request's thread failed"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_background_runtime_runs_timers_from_a_plain_thread_and_from_inside_a_runtime() {
        let slept = block_on_background(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            7
        })
        .unwrap();
        assert_eq!(slept, 7);
        let outer = on_this_thread().unwrap();
        let inside = outer.block_on(async {
            block_on_background(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                8
            })
        });
        assert_eq!(inside.unwrap(), 8);
    }
}
