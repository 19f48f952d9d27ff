//! Counts the Rust heap allocations each thread makes, so a test can check
//! that the call path allocates nothing per call (issue 4: "no allocation per
//! call in Rust encode/decode"). Python objects come from Python's own
//! allocator and are not counted.
//!
//! The cost is one thread-local increment per allocation: the counter is a
//! `const`-initialised `Cell` with no destructor, so reading it never
//! allocates or registers anything (which an allocator must not do).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pyo3::pyfunction;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting.
pub struct Counting;

// SAFETY: every method forwards to `System` unchanged; counting touches only
// a thread-local `Cell` that needs no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count() {
    // `try_with`: during thread teardown the slot may be gone; skip counting.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Rust heap allocations (and reallocations) made so far by the calling
/// thread.
#[pyfunction]
pub fn rust_allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}
