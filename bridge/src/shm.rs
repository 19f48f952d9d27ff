//! The one place where shared-memory atomics are made.
//!
//! Every lock-free access to the control segment goes through these helpers,
//! so the memory-ordering story can be reviewed (and model-checked with loom,
//! see `doorbell.rs`) in one place. Fields are naturally aligned
//! little-endian integers (SHM_LAYOUT.md); on the little-endian machines we
//! support an atomic's in-memory representation is exactly that.

use std::sync::atomic::{AtomicU32, AtomicU64};

/// Views the naturally aligned u64 at `base + offset` as an atomic.
///
/// # Safety
/// `base + offset .. + 8` must lie inside a live mapping that outlives `'a`,
/// and `base + offset` must be 8-byte aligned.
pub(crate) unsafe fn atomic_u64<'a>(base: *mut u8, offset: usize) -> &'a AtomicU64 {
    // SAFETY: the caller guarantees bounds, alignment and lifetime; AtomicU64
    // has the same layout as u64, and all cross-process access to this word
    // is atomic.
    unsafe { AtomicU64::from_ptr(base.add(offset).cast()) }
}

/// Views the naturally aligned u32 at `base + offset` as an atomic.
///
/// # Safety
/// As for [`atomic_u64`], with 4-byte alignment.
pub(crate) unsafe fn atomic_u32<'a>(base: *mut u8, offset: usize) -> &'a AtomicU32 {
    // SAFETY: see `atomic_u64`.
    unsafe { AtomicU32::from_ptr(base.add(offset).cast()) }
}

#[cfg(not(target_endian = "little"))]
compile_error!(
    "gatun-rs shares little-endian memory with the JVM; big-endian hosts are not supported"
);
