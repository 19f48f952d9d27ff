//! Release rings of the live control segment.
//!
//! A release ring carries `Release(handle, count)` notices from the side that
//! received Arrow buffers back to the side that owns them. Each ring has one
//! producer and one consumer: `head` is written only by the producer, `tail`
//! only by the consumer, both with release stores read with acquire loads.
//!
//! The byte layout (head, tail, entries of handle and count) is
//! [`crate::layout::ring`] and [`crate::layout::ring_entry`], generated from
//! `schemas/layout.toml`; `schemas/vectors/release_ring.hex` checks it.

use std::sync::atomic::Ordering;

use crate::layout::{ring, ring_entry};
use crate::shm::{atomic_u32, atomic_u64};

/// Entries per ring (`RING_CAPACITY` in layout.toml, the one name both sides use).
pub const RING_CAPACITY: usize = crate::layout::RING_CAPACITY as usize;
const _: () = assert!(RING_CAPACITY == (ring::BYTES - ring::ENTRIES) / ring_entry::BYTES);

/// One ring inside a live control segment.
#[derive(Clone, Copy)]
pub struct ReleaseRing {
    base: *mut u8,
}

// SAFETY: the ring lives in a shared mapping kept alive by the client; all
// access goes through atomics or single-producer/single-consumer discipline.
unsafe impl Send for ReleaseRing {}
// SAFETY: as above.
unsafe impl Sync for ReleaseRing {}

impl ReleaseRing {
    /// The ring at `offset` of the control segment at `control_base`.
    ///
    /// # Safety
    /// `control_base` must be a live control segment mapping that outlives the
    /// ring, and `offset` one of the two ring offsets.
    pub unsafe fn new(control_base: *mut u8, offset: usize) -> Self {
        // SAFETY: forwarded to the caller.
        ReleaseRing {
            base: unsafe { control_base.add(offset) },
        }
    }

    fn head(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: the head is inside the ring, 8-aligned.
        unsafe { atomic_u64(self.base, ring::HEAD) }
    }

    fn tail(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: the tail is inside the ring, 8-aligned.
        unsafe { atomic_u64(self.base, ring::TAIL) }
    }

    fn entry(&self, index: u64) -> (&std::sync::atomic::AtomicU64, &std::sync::atomic::AtomicU32) {
        let off = ring::ENTRIES + (index as usize % RING_CAPACITY) * ring_entry::BYTES;
        // SAFETY: entries are inside the ring and naturally aligned.
        unsafe {
            (
                atomic_u64(self.base, off + ring_entry::HANDLE),
                atomic_u32(self.base, off + ring_entry::COUNT),
            )
        }
    }

    /// Producer: appends a notice; false if the ring is full (retry later).
    pub fn push(&self, handle: u64, count: u32) -> bool {
        let head = self.head().load(Ordering::Relaxed);
        if head - self.tail().load(Ordering::Acquire) >= RING_CAPACITY as u64 {
            return false;
        }
        let (h, c) = self.entry(head);
        h.store(handle, Ordering::Relaxed);
        c.store(count, Ordering::Relaxed);
        self.head().store(head + 1, Ordering::Release);
        true
    }

    /// Consumer: hands every pending notice to `f`; returns how many. A
    /// producer claiming more entries than the ring holds is treated as
    /// corruption and drained no further.
    pub fn drain(&self, mut f: impl FnMut(u64, u32)) -> usize {
        let head = self.head().load(Ordering::Acquire);
        let mut tail = self.tail().load(Ordering::Relaxed);
        if head < tail || head - tail > RING_CAPACITY as u64 {
            return 0;
        }
        let n = (head - tail) as usize;
        while tail < head {
            let (h, c) = self.entry(tail);
            f(h.load(Ordering::Relaxed), c.load(Ordering::Relaxed));
            tail += 1;
        }
        self.tail().store(tail, Ordering::Release);
        n
    }

    /// True when nothing is pending (one load, for hot paths).
    pub fn is_empty(&self) -> bool {
        self.head().load(Ordering::Acquire) == self.tail().load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_pass_in_order_and_a_full_ring_refuses() {
        let mut mem = vec![0u64; ring::BYTES / 8];
        // SAFETY: a zeroed, 8-aligned buffer of ring::BYTES bytes standing in for the mapping.
        let ring = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
        assert!(ring.is_empty());
        for i in 0..RING_CAPACITY as u64 {
            assert!(ring.push(i, 1));
        }
        assert!(!ring.push(99, 1), "full");
        let mut seen = Vec::new();
        assert_eq!(ring.drain(|h, c| seen.push((h, c))), RING_CAPACITY);
        assert_eq!(seen[0], (0, 1));
        assert_eq!(seen.last().unwrap().0, RING_CAPACITY as u64 - 1);
        assert!(ring.push(7, 3));
        ring.drain(|h, c| assert_eq!((h, c), (7, 3)));
    }

    /// The ring's bytes as `schemas/vectors/release_ring.hex` draws them
    /// (the Java side checks the same file): writing the two notices gives
    /// those bytes, and draining those bytes gives the two notices.
    #[test]
    fn ring_matches_the_shared_vector() {
        let vector = crate::control::tests::vector("release_ring.hex");
        let release = 0x8001_0000_0200_0005;
        let handle = gatun_arena::RegionHandle(release);
        assert_eq!(
            (handle.segment(), handle.offset(), handle.generation()),
            (0x8001, 128, 5)
        );
        let ack = crate::control::ack_notice(3, 42);

        let mut mem = vec![0u64; ring::BYTES / 8];
        // SAFETY: a zeroed, 8-aligned buffer of a ring's size stands in for the mapping.
        let written = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
        assert!(written.push(0, 0));
        assert_eq!(written.drain(|_, _| {}), 1);
        assert!(written.push(release, 1));
        assert!(written.push(ack, 1));
        // SAFETY: `mem` is `ring::BYTES` initialised bytes.
        let bytes = unsafe { std::slice::from_raw_parts(mem.as_ptr().cast::<u8>(), ring::BYTES) };
        assert_eq!(&bytes[..vector.len()], &vector[..]);
        assert!(bytes[vector.len()..].iter().all(|&b| b == 0));

        let mut mem = vec![0u64; ring::BYTES / 8];
        // SAFETY: as above; the vector is shorter than the ring.
        unsafe {
            std::ptr::copy_nonoverlapping(vector.as_ptr(), mem.as_mut_ptr().cast(), vector.len())
        };
        // SAFETY: as above.
        let read = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
        let mut seen = Vec::new();
        assert_eq!(read.drain(|h, c| seen.push((h, c))), 2);
        assert_eq!(seen, [(release, 1), (ack, 1)]);
        assert!(read.is_empty());
    }

    proptest::proptest! {
        /// Whatever the other process wrote into head, tail and the entries,
        /// draining never reads outside the ring, never hands out more than
        /// a ring holds, and leaves a consistent ring or an untouched one.
        #[test]
        fn draining_arbitrary_ring_bytes_stays_in_bounds(
            head in proptest::prop_oneof![0u64..4096, proptest::num::u64::ANY],
            tail in proptest::prop_oneof![0u64..4096, proptest::num::u64::ANY],
            entries in proptest::collection::vec((proptest::num::u64::ANY, proptest::num::u32::ANY), 0..64),
        ) {
            let mut mem = vec![0u64; ring::BYTES / 8];
            mem[ring::HEAD / 8] = head;
            mem[ring::TAIL / 8] = tail;
            for (i, (h, c)) in entries.iter().enumerate() {
                let at = (ring::ENTRIES + i * ring_entry::BYTES) / 8;
                mem[at] = *h;
                mem[at + 1] = u64::from(*c);
            }
            // SAFETY: as above.
            let ring = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
            let mut n = 0usize;
            let drained = ring.drain(|_, _| n += 1);
            proptest::prop_assert_eq!(drained, n);
            proptest::prop_assert!(n <= RING_CAPACITY);
            let valid = head >= tail && head - tail <= RING_CAPACITY as u64;
            if valid {
                proptest::prop_assert_eq!(n as u64, head - tail);
                proptest::prop_assert!(ring.is_empty());
            } else {
                proptest::prop_assert_eq!(n, 0);
            }
        }
    }

    #[test]
    fn a_corrupt_head_is_not_followed() {
        let mut mem = vec![0u64; ring::BYTES / 8];
        mem[0] = u64::MAX; // head far beyond tail
                           // SAFETY: as above.
        let ring = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
        assert_eq!(ring.drain(|_, _| panic!("must not read")), 0);
    }
}
