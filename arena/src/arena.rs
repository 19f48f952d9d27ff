//! The payload arena of one side: segments it owns, an allocator over them,
//! and the ledger that decides when a region is free.
//!
//! Everything here is private memory of the owner (ARCHITECTURE §3): nothing
//! to repair after the peer crashes. A region is freed when both its local
//! references and the holds of the peer (descriptors sent and not yet
//! released) are zero.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use crate::segment::{Segment, SegmentError, SegmentLocator, SegmentPlace};
use crate::shm_layout::{
    HANDLE_GENERATION_MASK, HANDLE_OFFSET_SHIFT, HANDLE_OFFSET_UNIT, HANDLE_SEGMENT_SHIFT,
};

/// Arena buffers are aligned like Arrow's: 64 bytes, the unit region handles
/// count offsets in.
pub const ALIGNMENT: usize = HANDLE_OFFSET_UNIT as usize;

/// Mask of a handle's offset field once shifted down.
const HANDLE_OFFSET_MASK: u64 = (1 << (HANDLE_SEGMENT_SHIFT - HANDLE_OFFSET_SHIFT)) - 1;

/// A region handle that crosses processes: segment id, offset in 64-byte
/// units and a generation, packed in a u64 (never a pointer) as
/// `schemas/layout.toml` says (`HANDLE_*`). The generation makes a stale or
/// duplicate release notice harmless.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionHandle(pub u64);

impl RegionHandle {
    fn new(segment: u16, offset: usize, generation: u32) -> Self {
        debug_assert!(offset % ALIGNMENT == 0 && (offset / ALIGNMENT) as u64 <= HANDLE_OFFSET_MASK);
        RegionHandle(
            (u64::from(segment) << HANDLE_SEGMENT_SHIFT)
                | (((offset / ALIGNMENT) as u64) << HANDLE_OFFSET_SHIFT)
                | (u64::from(generation) & HANDLE_GENERATION_MASK),
        )
    }

    /// The segment id.
    pub fn segment(self) -> u16 {
        (self.0 >> HANDLE_SEGMENT_SHIFT) as u16
    }

    /// Byte offset of the region in its segment.
    pub fn offset(self) -> usize {
        (((self.0 >> HANDLE_OFFSET_SHIFT) & HANDLE_OFFSET_MASK) as usize) * ALIGNMENT
    }

    /// The generation (of the region's allocation in its slot).
    pub fn generation(self) -> u32 {
        (self.0 & HANDLE_GENERATION_MASK) as u32
    }
}

impl fmt::Debug for RegionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Region(seg {} @ {} gen {})",
            self.segment(),
            self.offset(),
            self.generation()
        )
    }
}

/// A live region: where it is and how to reach its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// Its handle.
    pub handle: RegionHandle,
    /// Segment id (also in the handle).
    pub segment: u16,
    /// Byte offset in the segment.
    pub offset: usize,
    /// Length in bytes (a multiple of [`ALIGNMENT`]).
    pub len: usize,
    /// Start of the region in this process.
    pub ptr: *mut u8,
}

// SAFETY: `ptr` points into a segment the arena keeps mapped while the region
// is live; who may write through it is governed by the ledger, not by threads.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

/// Why an allocation failed.
#[derive(Debug)]
pub enum AllocError {
    /// The arena is at `max_memory` and no free range is large enough.
    OutOfSpace {
        /// Bytes requested.
        requested: usize,
        /// Bytes in use.
        in_use: usize,
        /// The limit.
        max_memory: usize,
        /// The largest free range of the existing segments.
        largest_free: usize,
    },
    /// A single request above the segment size.
    TooLarge {
        /// Bytes requested.
        requested: usize,
        /// Largest possible region.
        limit: usize,
    },
    /// A new segment could not be created.
    Segment(SegmentError),
    /// The arena was closed with its session.
    Closed,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::OutOfSpace {
                requested,
                in_use,
                max_memory,
                largest_free,
            } => write!(
                f,
                "payload arena full: {requested} bytes requested, {in_use} of {max_memory} in use \
                 (largest free range {largest_free} bytes); raise `memory`, send smaller batches, \
                 or close Arrow data held in Java"
            ),
            AllocError::TooLarge { requested, limit } => {
                write!(
                    f,
                    "region of {requested} bytes exceeds the largest region the arena can hold \
                     ({limit} bytes); raise `memory` or send the data as smaller batches"
                )
            }
            AllocError::Segment(e) => write!(f, "payload arena: {e}"),
            AllocError::Closed => write!(
                f,
                "payload arena closed: its session ended; connect again to send Arrow data"
            ),
        }
    }
}

impl std::error::Error for AllocError {}

/// Sizing of an arena.
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// Bytes per segment (at most 1 GiB).
    pub segment_size: usize,
    /// Total bytes over all segments.
    pub max_memory: usize,
    /// Where segments are created (memfds, or files for a peer that is not
    /// our child).
    pub place: SegmentPlace,
    /// First segment id this side uses (ids are unique across both sides).
    pub first_segment_id: u16,
}

struct OwnedSegment {
    id: u16,
    segment: Segment,
    /// Free ranges: offset -> length, coalesced.
    free: BTreeMap<usize, usize>,
}

#[derive(Debug)]
struct RegionState {
    region: Region,
    local_refs: u32,
    peer_holds: u32,
}

struct State {
    segments: Vec<OwnedSegment>,
    regions: HashMap<RegionHandle, RegionState>,
    next_generation: u32,
    in_use: usize,
    /// Segments created since the caller last published the directory.
    unpublished: Vec<(u16, SegmentLocator, usize)>,
    /// Segments dropped to make room, for the caller to retire in the directory.
    retired: Vec<u16>,
    /// Ids are never reused, so a peer's cached mapping can never be stale.
    next_segment_id: u16,
    /// Set by [`Arena::close`]: no new regions, and a segment goes as soon
    /// as its last region does.
    closed: bool,
}

/// The owner's arena: allocation and the ledger.
pub struct Arena {
    config: ArenaConfig,
    state: Mutex<State>,
}

impl Arena {
    /// An empty arena; segments are created on demand.
    pub fn new(config: ArenaConfig) -> Arena {
        let first_segment_id = config.first_segment_id;
        Arena {
            config,
            state: Mutex::new(State {
                segments: Vec::new(),
                regions: HashMap::new(),
                next_generation: 1,
                in_use: 0,
                unpublished: Vec::new(),
                retired: Vec::new(),
                next_segment_id: first_segment_id,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates a region of at least `len` bytes with one local reference.
    /// A region larger than the standard segment gets a segment of its own
    /// (at most [`MAX_SEGMENT_SIZE`](crate::MAX_SEGMENT_SIZE)).
    pub fn allocate(&self, len: usize) -> Result<Region, AllocError> {
        self.allocate_at(len, false)
    }

    /// [`allocate`](Self::allocate) for a region that lives long (a cache):
    /// taken from the top of the highest free range that fits, so it does
    /// not split the space in the middle of a segment that short-lived large
    /// regions need.
    pub fn allocate_high(&self, len: usize) -> Result<Region, AllocError> {
        self.allocate_at(len, true)
    }

    fn allocate_at(&self, len: usize, high: bool) -> Result<Region, AllocError> {
        let len = len.max(1).div_ceil(ALIGNMENT) * ALIGNMENT;
        let limit = crate::MAX_SEGMENT_SIZE.min(self.config.max_memory);
        if len > limit {
            // Never fits, however much is freed: not "full".
            return Err(AllocError::TooLarge {
                requested: len,
                limit,
            });
        }
        let mut st = self.lock();
        if st.closed {
            return Err(AllocError::Closed);
        }
        let found = if high {
            Self::take_high(&mut st, len)
        } else {
            st.segments.iter_mut().enumerate().find_map(|(i, seg)| {
                let (&off, &free_len) = seg.free.iter().find(|(_, &l)| l >= len)?;
                seg.free.remove(&off);
                if free_len > len {
                    seg.free.insert(off + len, free_len - len);
                }
                Some((i, off))
            })
        };
        let (index, offset) = match found {
            Some(hit) => hit,
            None => {
                // Standard segments, or one sized (2 MiB steps) for a large region.
                let size = if len <= self.config.segment_size {
                    self.config.segment_size
                } else {
                    len.div_ceil(2 << 20) * (2 << 20)
                };
                let total: usize = st.segments.iter().map(|s| s.segment.len()).sum();
                let total = if total + size > self.config.max_memory {
                    Self::shed_empty(&mut st)
                } else {
                    total
                };
                if total + size > self.config.max_memory {
                    let largest_free = st
                        .segments
                        .iter()
                        .flat_map(|s| s.free.values().copied())
                        .max()
                        .unwrap_or(0);
                    return Err(AllocError::OutOfSpace {
                        requested: len,
                        in_use: st.in_use,
                        max_memory: self.config.max_memory,
                        largest_free,
                    });
                }
                let id = st.next_segment_id;
                st.next_segment_id += 1;
                let segment = Segment::create_in(&self.config.place, "payload", size)
                    .map_err(AllocError::Segment)?;
                st.unpublished
                    .push((id, segment.locator().clone(), segment.len()));
                let mut free = BTreeMap::new();
                if size > len {
                    free.insert(len, size - len);
                }
                st.segments.push(OwnedSegment { id, segment, free });
                (st.segments.len() - 1, 0)
            }
        };
        let generation = st.next_generation;
        st.next_generation = (generation + 1) & HANDLE_GENERATION_MASK as u32;
        let seg = &st.segments[index];
        let region = Region {
            handle: RegionHandle::new(seg.id, offset, generation),
            segment: seg.id,
            offset,
            len,
            // SAFETY: offset + len lies inside the segment (taken from its free list).
            ptr: unsafe { seg.segment.as_ptr().add(offset) },
        };
        st.in_use += len;
        st.regions.insert(
            region.handle,
            RegionState {
                region,
                local_refs: 1,
                peer_holds: 0,
            },
        );
        Ok(region)
    }

    /// The top `len` bytes of the last free range (in the last segment that
    /// has one) able to hold them: (segment index, offset).
    fn take_high(st: &mut State, len: usize) -> Option<(usize, usize)> {
        let (i, off, free_len) = st.segments.iter().enumerate().rev().find_map(|(i, seg)| {
            let (&off, &free_len) = seg.free.iter().rev().find(|(_, &l)| l >= len)?;
            Some((i, off, free_len))
        })?;
        let seg = &mut st.segments[i];
        if free_len > len {
            seg.free.insert(off, free_len - len);
        } else {
            seg.free.remove(&off);
        }
        Some((i, off + free_len - len))
    }

    /// Counts one more descriptor of `handle` sent to the peer. Call before
    /// publishing the descriptor.
    pub fn add_peer_hold(&self, handle: RegionHandle) {
        if let Some(r) = self.lock().regions.get_mut(&handle) {
            r.peer_holds += 1;
        }
    }

    /// Adds a local reference (e.g. a Python buffer built on the region).
    pub fn retain_local(&self, handle: RegionHandle) {
        if let Some(r) = self.lock().regions.get_mut(&handle) {
            r.local_refs += 1;
        }
    }

    /// Adds a local reference to the live region `handle` names (generation
    /// included) and returns it; `None` if no such region is live, e.g. a
    /// stale handle. Used when the peer hands one of our own regions back.
    pub fn retain_live(&self, handle: RegionHandle) -> Option<Region> {
        let mut st = self.lock();
        let r = st.regions.get_mut(&handle)?;
        r.local_refs += 1;
        Some(r.region)
    }

    /// Descriptors of `handle` the peer still holds (`None`: not a live region).
    pub fn peer_holds(&self, handle: RegionHandle) -> Option<u32> {
        self.lock().regions.get(&handle).map(|r| r.peer_holds)
    }

    /// Drops a local reference; frees the region if nobody holds it.
    pub fn release_local(&self, handle: RegionHandle) {
        let mut st = self.lock();
        if let Some(r) = st.regions.get_mut(&handle) {
            r.local_refs = r.local_refs.saturating_sub(1);
            Self::free_if_unheld(&mut st, handle);
        }
    }

    /// The peer released `count` descriptors of `handle`. Unknown or stale
    /// handles (a different generation) are ignored.
    pub fn peer_released(&self, handle: RegionHandle, count: u32) {
        let mut st = self.lock();
        if let Some(r) = st.regions.get_mut(&handle) {
            r.peer_holds = r.peer_holds.saturating_sub(count);
            Self::free_if_unheld(&mut st, handle);
        }
    }

    /// The peer died: drop every hold it had.
    pub fn peer_gone(&self) {
        let mut st = self.lock();
        let handles: Vec<_> = st.regions.keys().copied().collect();
        for h in handles {
            if let Some(r) = st.regions.get_mut(&h) {
                r.peer_holds = 0;
            }
            Self::free_if_unheld(&mut st, h);
        }
    }

    /// Ends the arena with its session: the peer's holds are void, every
    /// segment without a live region is unmapped (its memfd closed) now, and
    /// each other one as soon as its last region is released. Regions still
    /// referenced here (Python buffers built in the arena) stay valid.
    /// Allocation fails from now on.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        for r in st.regions.values_mut() {
            r.peer_holds = 0;
        }
        let unheld: Vec<_> = st
            .regions
            .iter()
            .filter(|(_, r)| r.local_refs == 0)
            .map(|(&h, _)| h)
            .collect();
        for h in unheld {
            Self::free_if_unheld(&mut st, h);
        }
        Self::shed_empty(&mut st);
        // Nobody announces or retires segments in a closed session.
        st.unpublished.clear();
        st.retired.clear();
    }

    /// Segments still mapped (each holds one descriptor).
    pub fn segments(&self) -> usize {
        self.lock().segments.len()
    }

    /// Drops every wholly free segment (large one-off segments would
    /// otherwise pin memory under `max_memory`); returns the new total.
    fn shed_empty(st: &mut State) -> usize {
        let mut kept = Vec::with_capacity(st.segments.len());
        for seg in st.segments.drain(..) {
            let whole = seg.free.get(&0).is_some_and(|&l| l == seg.segment.len());
            if whole {
                st.retired.push(seg.id);
            } else {
                kept.push(seg);
            }
        }
        st.segments = kept;
        st.segments.iter().map(|s| s.segment.len()).sum()
    }

    /// Segments dropped since the last call, to retire in the directory.
    pub fn take_retired(&self) -> Vec<u16> {
        std::mem::take(&mut self.lock().retired)
    }

    fn free_if_unheld(st: &mut State, handle: RegionHandle) {
        let Some(r) = st.regions.get(&handle) else {
            return;
        };
        if r.local_refs > 0 || r.peer_holds > 0 {
            return;
        }
        let region = r.region;
        st.regions.remove(&handle);
        st.in_use -= region.len;
        let Some(seg) = st.segments.iter_mut().find(|s| s.id == region.segment) else {
            return;
        };
        let (mut start, mut len) = (region.offset, region.len);
        if let Some((&prev, &prev_len)) = seg.free.range(..start).next_back() {
            if prev + prev_len == start {
                seg.free.remove(&prev);
                start = prev;
                len += prev_len;
            }
        }
        if let Some(&next_len) = seg.free.get(&(start + len)) {
            seg.free.remove(&(start + len));
            len += next_len;
        }
        seg.free.insert(start, len);
        if st.closed && len == seg.segment.len() {
            st.segments.retain(|s| s.id != region.segment);
        }
    }

    /// Segments created since the last call, to announce in the directory.
    pub fn take_unpublished(&self) -> Vec<(u16, SegmentLocator, usize)> {
        std::mem::take(&mut self.lock().unpublished)
    }

    /// The region that contains `[ptr, ptr + len)`, if it lies inside a live
    /// region of this arena (data built in the arena needs no copy).
    pub fn find(&self, ptr: *const u8, len: usize) -> Option<Region> {
        let st = self.lock();
        let addr = ptr as usize;
        // Cheap rejection first: most buffers (the copy path) are in no segment.
        let seg = st.segments.iter().find(|s| {
            let base = s.segment.as_ptr() as usize;
            addr >= base && addr.saturating_add(len) <= base + s.segment.len()
        })?;
        let offset = addr - seg.segment.as_ptr() as usize;
        st.regions
            .values()
            .find(|r| {
                r.region.segment == seg.id
                    && offset >= r.region.offset
                    && offset + len <= r.region.offset + r.region.len
            })
            .map(|r| r.region)
    }

    /// The most bytes the arena's segments may hold.
    pub fn max_memory(&self) -> usize {
        self.config.max_memory
    }

    /// Bytes in live regions.
    pub fn in_use(&self) -> usize {
        self.lock().in_use
    }

    /// Number of live regions.
    pub fn live_regions(&self) -> usize {
        self.lock().regions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packing `schemas/layout.toml` describes (and the release-ring
    /// vector uses): segment in the top 16 bits, the offset in 64-byte units
    /// in the next 24, the generation in the low 24.
    #[test]
    fn region_handles_pack_as_the_layout_says() {
        let h = RegionHandle::new(0x8001, 128, 5);
        assert_eq!(h.0, 0x8001_0000_0200_0005);
        assert_eq!((h.segment(), h.offset(), h.generation()), (0x8001, 128, 5));
        let last = RegionHandle::new(
            u16::MAX,
            (HANDLE_OFFSET_MASK as usize) * ALIGNMENT,
            u32::MAX,
        );
        assert_eq!(last.0, u64::MAX);
        assert_eq!(last.generation() as u64, HANDLE_GENERATION_MASK);
    }

    fn arena(max: usize) -> Arena {
        Arena::new(ArenaConfig {
            segment_size: 1 << 20,
            max_memory: max,
            place: SegmentPlace::Memfd {
                fallback_dir: std::env::temp_dir(),
            },
            first_segment_id: 1,
        })
    }

    #[test]
    fn a_region_is_freed_only_when_both_sides_let_go() {
        let a = arena(1 << 20);
        let r = a.allocate(100).unwrap();
        assert_eq!(r.len, 128);
        a.add_peer_hold(r.handle);
        a.release_local(r.handle);
        assert_eq!(a.live_regions(), 1, "the peer still holds it");
        a.peer_released(r.handle, 1);
        assert_eq!((a.live_regions(), a.in_use()), (0, 0));
    }

    #[test]
    fn close_unmaps_free_segments_now_and_held_ones_when_released() {
        let a = arena(4 << 20);
        let sent = a.allocate(1 << 20).unwrap(); // only the peer holds it
        a.add_peer_hold(sent.handle);
        a.release_local(sent.handle);
        let kept = a.allocate(1 << 20).unwrap(); // a local buffer
        assert_eq!(a.segments(), 2);
        a.close();
        assert_eq!(a.segments(), 1, "the peer's segment goes at once");
        // SAFETY: the region is still referenced, so its segment is mapped.
        unsafe { kept.ptr.write(7) };
        assert!(matches!(a.allocate(64), Err(AllocError::Closed)));
        a.release_local(kept.handle);
        assert_eq!((a.segments(), a.live_regions()), (0, 0));
    }

    #[test]
    fn free_ranges_coalesce_so_the_whole_segment_is_reusable() {
        let a = arena(1 << 20);
        let regions: Vec<_> = (0..4).map(|_| a.allocate(256 << 10).unwrap()).collect();
        assert!(a.allocate(64).is_err(), "full");
        for r in [&regions[1], &regions[3], &regions[0], &regions[2]] {
            a.release_local(r.handle);
        }
        let whole = a.allocate(1 << 20).unwrap();
        assert_eq!(whole.offset, 0);
    }

    #[test]
    fn stale_release_notices_are_harmless() {
        let a = arena(1 << 20);
        let first = a.allocate(64).unwrap();
        a.add_peer_hold(first.handle);
        a.peer_released(first.handle, 1);
        a.release_local(first.handle);
        let second = a.allocate(64).unwrap();
        assert_eq!(second.offset, first.offset, "same place, new generation");
        assert_ne!(second.handle, first.handle);
        a.peer_released(first.handle, 1); // duplicate of an old notice
        assert_eq!(a.live_regions(), 1);
    }

    #[test]
    fn the_arena_grows_by_segments_up_to_max_memory() {
        let a = arena(2 << 20);
        a.allocate(1 << 20).unwrap();
        a.allocate(1 << 20).unwrap();
        assert!(matches!(a.allocate(64), Err(AllocError::OutOfSpace { .. })));
        assert_eq!(a.take_unpublished().len(), 2);
        assert!(a.take_unpublished().is_empty());
    }

    #[test]
    fn peer_death_frees_what_only_the_peer_held() {
        let a = arena(1 << 20);
        let only_peer = a.allocate(64).unwrap();
        a.add_peer_hold(only_peer.handle);
        a.release_local(only_peer.handle);
        let both = a.allocate(64).unwrap();
        a.add_peer_hold(both.handle);
        a.peer_gone();
        assert_eq!(a.live_regions(), 1);
        a.release_local(both.handle);
        assert_eq!(a.live_regions(), 0);
    }

    #[test]
    fn a_long_lived_region_at_the_top_leaves_the_rest_in_one_piece() {
        let a = arena(1 << 20);
        let big = a.allocate(512 << 10).unwrap();
        let cache = a.allocate_high(64 << 10).unwrap();
        assert_eq!(cache.offset, (1 << 20) - (64 << 10), "taken from the top");
        a.release_local(big.handle);
        // Without the cache at the top, the free space would be split in two.
        let again = a
            .allocate((1 << 20) - (64 << 10))
            .expect("one free range below the cache");
        assert_eq!(again.offset, 0);
    }

    #[test]
    fn a_region_handed_back_is_held_until_its_local_reference_goes() {
        let a = arena(1 << 20);
        let r = a.allocate(100).unwrap();
        a.add_peer_hold(r.handle);
        a.release_local(r.handle);
        let back = a
            .retain_live(r.handle)
            .expect("live while the peer holds it");
        assert_eq!(back.offset, r.offset);
        a.peer_released(r.handle, 1);
        assert_eq!(a.live_regions(), 1, "the local reference keeps it");
        a.release_local(r.handle);
        assert_eq!(a.live_regions(), 0);
        assert!(
            a.retain_live(r.handle).is_none(),
            "a freed region is not revived"
        );
    }

    #[test]
    fn find_locates_data_inside_a_region() {
        let a = arena(1 << 20);
        let r = a.allocate(4096).unwrap();
        // SAFETY: 100..164 lies inside the 4096-byte region.
        let inside = unsafe { r.ptr.add(100) };
        assert_eq!(a.find(inside, 64).unwrap().handle, r.handle);
        assert!(a.find(std::ptr::null(), 8).is_none());
    }
}
