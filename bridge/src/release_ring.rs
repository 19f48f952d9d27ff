//! Release rings and the segment directory of the live control segment.
//!
//! A release ring carries `Release(handle, count)` notices from the side that
//! received Arrow buffers back to the side that owns them. Each ring has one
//! producer and one consumer: `head` is written only by the producer, `tail`
//! only by the consumer, both with release stores read with acquire loads.
//!
//! ```text
//!  +0    head u64   (producer)
//!  +64   tail u64   (consumer)
//!  +128  entries: { handle u64, count u32, reserved u32 } x RING_CAPACITY
//! ```

use std::sync::atomic::Ordering;

use gatun_arena::SegmentLocator;

use crate::control::{
    self, directory, DIRECTORY_ENTRIES, DIRECTORY_ENTRY_SIZE, DIRECTORY_OFFSET, RING_SIZE,
};
use crate::shm::{atomic_u32, atomic_u64};

/// Bytes of ring header before the entries.
const RING_HEADER: usize = 128;
/// Bytes per entry.
const ENTRY: usize = 16;
/// Entries per ring.
pub const RING_CAPACITY: usize = (RING_SIZE - RING_HEADER) / ENTRY;
/// Directory entries written by Python: 0..PYTHON_ENTRIES; Java owns the rest,
/// so the two sides never race for a free entry.
pub const PYTHON_ENTRIES: usize = 32;

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
        // SAFETY: offset 0 of the ring, 8-aligned.
        unsafe { atomic_u64(self.base, 0) }
    }

    fn tail(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: offset 64 of the ring, 8-aligned.
        unsafe { atomic_u64(self.base, 64) }
    }

    fn entry(&self, index: u64) -> (&std::sync::atomic::AtomicU64, &std::sync::atomic::AtomicU32) {
        let off = RING_HEADER + (index as usize % RING_CAPACITY) * ENTRY;
        // SAFETY: entries are inside the ring and naturally aligned.
        unsafe { (atomic_u64(self.base, off), atomic_u32(self.base, off + 8)) }
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

/// Announces one of Python's segments in directory entry `slot` (< 32).
///
/// # Safety
/// `control_base` must be a live control segment mapping.
pub unsafe fn publish_segment(
    control_base: *mut u8,
    slot: usize,
    id: u16,
    locator: &SegmentLocator,
    size: usize,
) {
    assert!(
        slot < PYTHON_ENTRIES.min(DIRECTORY_ENTRIES),
        "directory slot {slot} is not Python's"
    );
    // SAFETY: the entry lies inside the directory of the live mapping.
    let entry = unsafe { control_base.add(DIRECTORY_OFFSET + slot * DIRECTORY_ENTRY_SIZE) };
    let (fd, name) = match locator {
        SegmentLocator::Memfd { fd, .. } => (*fd, String::new()),
        SegmentLocator::File(p) => (-1, p.display().to_string()),
    };
    // SAFETY: every write stays inside the 128-byte entry; the peer reads the
    // fields only after seeing `published` = 1 (release store below).
    unsafe {
        atomic_u32(entry, directory::SEGMENT_ID).store(u32::from(id), Ordering::Relaxed);
        entry.add(directory::OWNER).write(0);
        entry.add(directory::KIND).write(1);
        atomic_u32(entry, directory::GENERATION).store(1, Ordering::Relaxed);
        atomic_u64(entry, directory::SIZE).store(size as u64, Ordering::Relaxed);
        atomic_u32(entry, directory::MEMFD).store(fd as u32, Ordering::Relaxed);
        let bytes = name.as_bytes();
        let n = bytes.len().min(directory::NAME_LEN - 1);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), entry.add(directory::NAME), n);
        entry.add(directory::NAME + n).write(0);
        atomic_u32(entry, directory::PUBLISHED).store(1, Ordering::Release);
    }
}

/// Marks Python's directory entry `slot` retired (the segment is gone).
///
/// # Safety
/// `control_base` must be a live control segment mapping.
pub unsafe fn retire_segment(control_base: *mut u8, slot: usize) {
    assert!(
        slot < PYTHON_ENTRIES,
        "directory slot {slot} is not Python's"
    );
    // SAFETY: the entry lies inside the directory of the live mapping.
    let entry = unsafe { control_base.add(DIRECTORY_OFFSET + slot * DIRECTORY_ENTRY_SIZE) };
    // SAFETY: as above; `published` is naturally aligned at the entry start.
    unsafe { atomic_u32(entry, directory::PUBLISHED).store(2, Ordering::Release) };
}

/// A directory entry as read from the live mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// Segment id.
    pub id: u16,
    /// 0 Python, 1 Java.
    pub owner: u8,
    /// Size in bytes.
    pub size: usize,
    /// memfd number in the owner, or -1.
    pub memfd: i32,
    /// File path when `memfd` is -1.
    pub name: String,
}

/// Finds the published entry of segment `id` among the peer's entries (32..63).
///
/// # Safety
/// `control_base` must be a live control segment mapping.
pub unsafe fn find_java_segment(control_base: *mut u8, id: u16) -> Option<DirectoryEntry> {
    (PYTHON_ENTRIES..DIRECTORY_ENTRIES).find_map(|slot| {
        // SAFETY: the entry lies inside the directory of the live mapping.
        let entry = unsafe { control_base.add(DIRECTORY_OFFSET + slot * DIRECTORY_ENTRY_SIZE) };
        // SAFETY: fields are read only after `published` (acquire) says they are complete.
        unsafe {
            if atomic_u32(entry, directory::PUBLISHED).load(Ordering::Acquire) != 1
                || atomic_u32(entry, directory::SEGMENT_ID).load(Ordering::Relaxed) != u32::from(id)
            {
                return None;
            }
            let name_bytes =
                std::slice::from_raw_parts(entry.add(directory::NAME), directory::NAME_LEN);
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(directory::NAME_LEN);
            Some(DirectoryEntry {
                id,
                owner: entry.add(directory::OWNER).read(),
                size: atomic_u64(entry, directory::SIZE).load(Ordering::Relaxed) as usize,
                memfd: atomic_u32(entry, directory::MEMFD).load(Ordering::Relaxed) as i32,
                name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
            })
        }
    })
}

/// Offsets of the two rings, re-exported for callers.
pub use control::{RING_TO_JAVA_OFFSET, RING_TO_PYTHON_OFFSET};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_pass_in_order_and_a_full_ring_refuses() {
        let mut mem = vec![0u64; RING_SIZE / 8];
        // SAFETY: a zeroed, 8-aligned buffer of RING_SIZE bytes standing in for the mapping.
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

    #[test]
    fn a_corrupt_head_is_not_followed() {
        let mut mem = vec![0u64; RING_SIZE / 8];
        mem[0] = u64::MAX; // head far beyond tail
                           // SAFETY: as above.
        let ring = unsafe { ReleaseRing::new(mem.as_mut_ptr().cast(), 0) };
        assert_eq!(ring.drain(|_, _| panic!("must not read")), 0);
    }
}
