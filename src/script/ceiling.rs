//! A memory ceiling for each script run (`script.max_memory_mb`): a script inside `serve`
//! or the daemon that builds data without end stops with a message, instead of growing
//! until the allocator aborts the whole process.
//!
//! Rhai has no hook for allocation, so the process's allocator is wrapped: every
//! allocation and release made on a thread while a run is [`Budget::enter`]ed there is
//! charged to that run's budget, and the engine's progress callback, which runs between
//! every two operations, stops the script once the budget is spent. A script runs on one
//! thread, so what it builds is charged to it; what other threads allocate for it (an HTTP
//! response in flight) is not, and memory it frees on another thread stays charged — the
//! count errs towards stopping. Outside a run, the wrapper costs one thread-local read.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The process allocator: the system's, counted for script runs.
pub(crate) struct Counting;

thread_local! {
    /// The budget of the run active on this thread, if any. Const-initialised and without
    /// a destructor, so the allocator may read it at any time, even while threads exit.
    static CURRENT: Cell<*const Budget> = const { Cell::new(ptr::null()) };
}

fn charge(bytes: isize) {
    let _ = CURRENT.try_with(|current| {
        let budget = current.get();
        if !budget.is_null() {
            // Safety: the pointer is set only by `Entered`, which keeps the budget alive
            // and clears it before the budget can go.
            unsafe { (*budget).used.fetch_add(bytes, Ordering::Relaxed) };
        }
    });
}

fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every method hands the request to `System` unchanged and returns its answer;
// counting touches only an atomic of a live budget and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` (a layout of non-zero size) is passed
        // on unchanged to the system allocator.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            charge(signed(layout.size()));
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            charge(signed(layout.size()));
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: every block of this allocator came from `System` with this layout (the
        // caller's contract), so `System` may free it.
        unsafe { System.dealloc(block, layout) };
        charge(-signed(layout.size()));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract for `new_size` is passed on.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            charge(signed(new_size) - signed(layout.size()));
        }
        moved
    }
}

/// What one run may hold, and what it holds now.
#[derive(Debug)]
pub struct Budget {
    used: AtomicIsize,
    limit: isize,
}

impl Budget {
    pub fn new(limit_bytes: u64) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicIsize::new(0),
            limit: isize::try_from(limit_bytes).unwrap_or(isize::MAX),
        })
    }

    /// Bytes allocated (net) on the run's thread since it began.
    pub fn used(&self) -> isize {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn is_spent(&self) -> bool {
        self.used() > self.limit
    }

    /// Starts counting again (the next line of a REPL session).
    pub(crate) fn reset(&self) {
        self.used.store(0, Ordering::Relaxed);
    }

    /// Charges this thread's allocations to the budget until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Budget>) -> Entered {
        let previous = CURRENT.with(|current| current.replace(Arc::as_ptr(self)));
        Entered {
            budget: Arc::clone(self),
            previous,
        }
    }
}

/// Charging to a budget on this thread; the budget it replaced comes back when dropped
/// (a skill run inside a script charges its own budget, then the script's again).
pub(crate) struct Entered {
    /// Keeps the budget alive while the thread-local points at it.
    budget: Arc<Budget>,
    previous: *const Budget,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
        let _ = &self.budget;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_run_allocates_is_charged_and_what_it_frees_is_not() {
        let budget = Budget::new(1 << 20);
        {
            let _entered = budget.enter();
            let big: Vec<u8> = vec![7; 2 << 20];
            assert!(budget.is_spent(), "{}", budget.used());
            drop(big);
            assert!(!budget.is_spent(), "{}", budget.used());
        }
        // Outside the run nothing is charged.
        let before = budget.used();
        let other: Vec<u8> = vec![1; 4 << 20];
        assert_eq!(budget.used(), before);
        drop(other);
    }
}
