//! The segment directory of the live control segment: the table where each
//! side announces the payload segments it owns, so the other can map them
//! (ARCHITECTURE §5; byte layout in [`crate::layout::directory`]). Entries
//! `0..PYTHON_DIRECTORY_ENTRIES` are written only by Python, the rest only
//! by Java, so the two sides never race for a free entry.

use std::sync::atomic::Ordering;

use gatun_arena::SegmentLocator;

use crate::layout::{self, directory};
use crate::shm::{atomic_u32, atomic_u64};

/// Directory entries written by Python (the first ones); Java owns the rest.
pub const PYTHON_ENTRIES: usize = layout::PYTHON_DIRECTORY_ENTRIES as usize;
/// Bytes of an entry's file name field, its NUL included.
pub const NAME_LEN: usize = directory::BYTES - directory::NAME;

/// The directory of one live control segment.
#[derive(Clone, Copy)]
pub struct SegmentDirectory {
    control_base: *mut u8,
}

// SAFETY: the directory lives in a shared mapping kept alive by the client;
// every field a reader needs is published by a release store of `published`.
unsafe impl Send for SegmentDirectory {}
// SAFETY: as above; Python's entries are written by one publisher at a time
// (the Arrow plane serialises publication under its own lock).
unsafe impl Sync for SegmentDirectory {}

/// A directory entry as read from the live mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// Segment id.
    pub id: u16,
    /// [`layout::OWNER_PYTHON`] or [`layout::OWNER_JAVA`].
    pub owner: u8,
    /// Size in bytes.
    pub size: usize,
    /// memfd number in the owner, or -1.
    pub memfd: i32,
    /// File path when `memfd` is -1.
    pub name: String,
}

impl SegmentDirectory {
    /// The directory of the control segment at `control_base`.
    ///
    /// # Safety
    /// `control_base` must be a live control segment mapping that outlives
    /// the value.
    pub unsafe fn new(control_base: *mut u8) -> Self {
        SegmentDirectory { control_base }
    }

    fn entry(&self, slot: usize) -> *mut u8 {
        assert!(
            slot < directory::COUNT,
            "directory slot {slot} out of range"
        );
        // SAFETY: the entry lies inside the directory of the live mapping
        // (`slot` was checked against the entry count).
        unsafe {
            self.control_base
                .add(layout::DIRECTORY_OFFSET + slot * directory::BYTES)
        }
    }

    /// Announces one of Python's segments in entry `slot` (< [`PYTHON_ENTRIES`]).
    pub fn publish(&self, slot: usize, id: u16, locator: &SegmentLocator, size: usize) {
        assert!(
            slot < PYTHON_ENTRIES,
            "directory slot {slot} is not Python's"
        );
        let entry = self.entry(slot);
        let (fd, name) = match locator {
            SegmentLocator::Memfd { fd, .. } => (*fd, String::new()),
            SegmentLocator::File(p) => (-1, p.display().to_string()),
        };
        // SAFETY: every write stays inside the entry; the peer reads the
        // fields only after seeing `published` = live (release store below).
        unsafe {
            atomic_u32(entry, directory::SEGMENT_ID).store(u32::from(id), Ordering::Relaxed);
            entry.add(directory::OWNER).write(layout::OWNER_PYTHON);
            entry.add(directory::KIND).write(layout::KIND_PAYLOAD);
            atomic_u32(entry, directory::GENERATION).store(1, Ordering::Relaxed);
            atomic_u64(entry, directory::SIZE).store(size as u64, Ordering::Relaxed);
            atomic_u32(entry, directory::MEMFD).store(fd as u32, Ordering::Relaxed);
            let bytes = name.as_bytes();
            let n = bytes.len().min(NAME_LEN - 1);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), entry.add(directory::NAME), n);
            entry.add(directory::NAME + n).write(0);
            atomic_u32(entry, directory::PUBLISHED).store(layout::ENTRY_LIVE, Ordering::Release);
        }
    }

    /// Marks Python's entry `slot` retired (the segment is gone).
    pub fn retire(&self, slot: usize) {
        assert!(
            slot < PYTHON_ENTRIES,
            "directory slot {slot} is not Python's"
        );
        let entry = self.entry(slot);
        // SAFETY: `published` is naturally aligned at the entry start.
        unsafe {
            atomic_u32(entry, directory::PUBLISHED).store(layout::ENTRY_RETIRED, Ordering::Release)
        };
    }

    /// Finds the live entry of segment `id` among Java's entries.
    pub fn find_java_segment(&self, id: u16) -> Option<DirectoryEntry> {
        (PYTHON_ENTRIES..directory::COUNT).find_map(|slot| {
            let entry = self.entry(slot);
            // SAFETY: fields are read only after `published` (acquire) says
            // they are complete; every read stays inside the entry.
            unsafe {
                if atomic_u32(entry, directory::PUBLISHED).load(Ordering::Acquire)
                    != layout::ENTRY_LIVE
                    || atomic_u32(entry, directory::SEGMENT_ID).load(Ordering::Relaxed)
                        != u32::from(id)
                {
                    return None;
                }
                let name_bytes = std::slice::from_raw_parts(entry.add(directory::NAME), NAME_LEN);
                let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
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
}
