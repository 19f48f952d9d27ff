//! The Arrow data plane of a session, Python (or Rust) side: a facade over
//! the payload [`Arena`] this process owns, the [`SchemaRegistry`], the
//! [`PeerSegments`] (the JVM's mapped segments), the [`RegionReleases`]
//! waiting for the release ring, and the descriptors (`crate::descriptor`)
//! that tell each side where a batch's buffers are.
//!
//! Sending a batch: flatten it in IPC order, copy every buffer once into one
//! arena region (64-byte aligned), count a peer hold on the region, publish
//! any new segment in the directory, and describe the batch with IPC's own
//! `RecordBatch` structure. The JVM wraps the region in place and, when its
//! last `ArrowBuf` is released, sends the region back on the release ring.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use gatun_arena::{build_batch, flatten, Arena, ArenaConfig, IpcParts, Region, RegionHandle};

use crate::all_ones::{AllOnes, SHARED_VALIDITY_MIN_ROWS};
pub use crate::descriptor::{encode_descriptor, PreparedBatch, PreparedDictionary};
use crate::directory::{SegmentDirectory, PYTHON_ENTRIES};
use crate::error::{BridgeError, Result};
use crate::layout::JAVA_FIRST_SEGMENT_ID;
use crate::parallel_copy::{copy_all, Copy};
use crate::peer_segments::PeerSegments;
use crate::protocol as fb;
use crate::region_releases::{PeerRegion, RegionReleases};
use crate::release_ring::ReleaseRing;
pub use crate::schema_registry::{encode_schema, SchemaRegistry};
pub use crate::transfer_stats::TransferStats;

/// Sizing of the Python-side payload arena.
#[derive(Debug, Clone, Copy)]
pub struct ArenaSizing {
    /// Bytes per ordinary segment.
    pub segment_size: usize,
    /// Total bytes over all segments.
    pub max_memory: usize,
}

impl Default for ArenaSizing {
    fn default() -> Self {
        ArenaSizing {
            segment_size: 64 << 20,
            max_memory: 1 << 30,
        }
    }
}

/// Arena use (in quarters of `max_memory`) above which the JVM is asked to
/// copy batches out rather than keep them in the arena.
const HIGH_WATER_QUARTERS: usize = 3;

/// One of our own regions that the JVM handed back (it returned data Python
/// had sent): a local reference, dropped with the last buffer over it.
struct OwnRegion {
    handle: RegionHandle,
    arena: Arc<Arena>,
}

impl Drop for OwnRegion {
    fn drop(&mut self) {
        self.arena.release_local(self.handle);
    }
}

/// The session's Arrow state (Python side).
pub struct ArrowPlane {
    arena: Arc<Arena>,
    schemas: SchemaRegistry,
    directory: SegmentDirectory,
    from_java: ReleaseRing,
    /// Which segment each of Python's directory entries announces.
    slots: Mutex<[Option<u16>; PYTHON_ENTRIES]>,
    to_java: ReleaseRing,
    region_releases: Arc<RegionReleases>,
    peer_segments: PeerSegments,
    /// Whether string columns from the JVM are checked for UTF-8 on arrival
    /// (see [`Imported`]).
    verify_utf8: std::sync::atomic::AtomicBool,
    stats: Arc<TransferStats>,
    /// The validity bitmap shared by large arrays that have none.
    all_ones: AllOnes,
}

/// A batch received from the JVM.
///
/// Checking that a string column is UTF-8 reads every byte of it, which is
/// most of the cost of receiving one; offsets and bounds (what memory safety
/// needs) are cheap and always checked. Unless UTF-8 was verified, string
/// columns are therefore built under the binary type of the same layout (an
/// arrow-rs string array promises valid UTF-8) and `batch`'s schema differs
/// from `schema`: export the columns under `schema`'s types to a consumer
/// that checks text where it decodes it, as pyarrow does.
pub struct Imported {
    /// The data; its string columns are binary unless UTF-8 was verified.
    pub batch: RecordBatch,
    /// The schema the JVM declared.
    pub schema: Arc<Schema>,
}

/// What keeps a received buffer's memory: a JVM region (released to the JVM
/// when the last buffer goes) or one of our own (a local reference).
enum RegionOwner {
    Peer(Arc<PeerRegion>),
    Own(Arc<OwnRegion>),
}

// SAFETY: the rings and the directory point into the control mapping the
// client keeps alive; directory writes are serialised by `slots`.
unsafe impl Send for ArrowPlane {}
// SAFETY: as above.
unsafe impl Sync for ArrowPlane {}

impl ArrowPlane {
    /// A plane over the live control segment at `control_base`.
    ///
    /// # Safety
    /// `control_base` must be the client's control mapping and outlive the plane.
    pub unsafe fn new(
        control_base: *mut u8,
        sizing: ArenaSizing,
        place: gatun_arena::SegmentPlace,
    ) -> Self {
        ArrowPlane {
            arena: Arc::new(Arena::new(ArenaConfig {
                segment_size: sizing.segment_size,
                max_memory: sizing.max_memory,
                place,
                first_segment_id: crate::layout::PYTHON_FIRST_SEGMENT_ID as u16,
            })),
            schemas: SchemaRegistry::default(),
            // SAFETY: the control mapping outlives the plane (the caller's contract).
            directory: unsafe { SegmentDirectory::new(control_base) },
            // SAFETY: the Java->Python ring lies inside the control mapping.
            from_java: unsafe {
                ReleaseRing::new(control_base, crate::layout::RING_TO_PYTHON_OFFSET)
            },
            slots: Mutex::new([None; PYTHON_ENTRIES]),
            // SAFETY: the Python->Java ring lies inside the control mapping.
            to_java: unsafe { ReleaseRing::new(control_base, crate::layout::RING_TO_JAVA_OFFSET) },
            region_releases: Arc::default(),
            // SAFETY: as for `directory`.
            peer_segments: PeerSegments::new(unsafe { SegmentDirectory::new(control_base) }),
            verify_utf8: std::sync::atomic::AtomicBool::new(false),
            stats: Arc::default(),
            all_ones: AllOnes::default(),
        }
    }

    /// Whether string columns received from the JVM are checked for UTF-8
    /// (off by default; offsets and bounds are always checked).
    pub fn set_verify_utf8(&self, verify: bool) {
        self.verify_utf8
            .store(verify, std::sync::atomic::Ordering::Relaxed);
    }

    /// What the send path has done so far.
    pub fn stats(&self) -> &TransferStats {
        &self.stats
    }

    /// Records the JVM's pid (to map its memfd segments).
    pub fn set_jvm_pid(&self, pid: u32) {
        self.peer_segments.set_jvm_pid(pid);
    }

    /// Moves queued release notices for JVM regions (and acknowledgements)
    /// onto the ring.
    pub fn flush_region_releases(&self) {
        let releases = self.region_releases.flush(&self.to_java);
        if releases > 0 {
            self.stats
                .jvm_releases_sent
                .fetch_add(releases as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Queues the acknowledgement of answer `seq` of lane `lane`, which we
    /// have decoded (see [`crate::control::RESP_FLAG_NEEDS_ACK`]); it rides
    /// the release ring with the next message.
    pub fn queue_ack(&self, lane: usize, seq: u64) {
        self.region_releases.push_ack(lane, seq);
    }

    /// The schema registry (ours and the JVM's).
    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    /// A schema the JVM defined (with `definition`, on its first use) or
    /// used before under `id`.
    pub fn peer_schema(
        &self,
        id: u32,
        definition: Option<fb::SchemaDefinition<'_>>,
    ) -> Result<Arc<Schema>> {
        self.schemas.peer(id, definition).map(|s| s.declared)
    }

    /// Wraps a batch the JVM placed in its own segments, without copying:
    /// every buffer points into the mapping and keeps its region alive; the
    /// last one to go sends the region's release. Validated in full, except
    /// UTF-8 unless [`set_verify_utf8`](Self::set_verify_utf8) asked for it
    /// (see [`Imported`]). When the JVM's arena is above its high-water mark
    /// (`copy_out`), the buffers are copied into this process's memory
    /// instead and the regions released at once, so data Python keeps cannot
    /// fill the JVM's arena.
    pub fn import(
        &self,
        desc: fb::BatchDescriptor<'_>,
        schema: Option<fb::SchemaDefinition<'_>>,
    ) -> Result<Imported> {
        let crate::schema_registry::PeerSchema { declared, binary } =
            self.schemas.peer(desc.schema_id(), schema)?;
        let verify_utf8 = self.verify_utf8.load(std::sync::atomic::Ordering::Relaxed);
        let built_as = match binary {
            Some(binary) if !verify_utf8 => binary,
            _ => declared.clone(),
        };
        let copy_out = desc.copy_out();
        let mut regions: Vec<(*mut u8, usize, RegionOwner)> = Vec::new();
        for r in desc.regions().into_iter().flatten() {
            let id = u16::try_from(r.segment()).map_err(|_| {
                BridgeError::Protocol(format!("segment id {} out of range", r.segment()))
            })?;
            if u32::from(id) < JAVA_FIRST_SEGMENT_ID {
                regions.push(self.own_region(r, id)?);
                continue;
            }
            let (base, len, owner) = self.peer_region(r, id, "JVM region")?;
            regions.push((base, len, RegionOwner::Peer(owner)));
        }
        let wrap = |refs: Option<flatbuffers::Vector<'_, fb::BufferRef>>| -> Result<Vec<arrow_buffer::Buffer>> {
            let mut buffers = Vec::new();
            for b in refs.into_iter().flatten() {
            let (base, region_len, owner) = regions.get(b.region() as usize).ok_or_else(|| {
                BridgeError::Protocol(format!(
                    "buffer names region {} of {}",
                    b.region(),
                    regions.len()
                ))
            })?;
            let (offset, len) = (b.offset() as usize, b.length() as usize);
            if offset.checked_add(len).is_none_or(|end| end > *region_len) {
                return Err(BridgeError::Protocol(format!(
                    "buffer [{offset}, +{len}) lies outside its region ({region_len} bytes)"
                )));
            }
            // SAFETY: the range is inside the region, which `owner` keeps mapped
            // for as long as the buffer lives; the JVM does not write a region
            // it has described until we release it.
            let ptr = unsafe { NonNull::new_unchecked(base.add(offset)) };
            if copy_out && matches!(owner, RegionOwner::Peer(_)) {
                // SAFETY: as above; the copy is made before `owner` can go.
                let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) };
                buffers.push(arrow_buffer::Buffer::from_slice_ref(bytes));
                self.stats
                    .bytes_copied_out
                    .fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            // SAFETY: as above (for our own region: the local reference taken
            // in `own_region` keeps it allocated while the buffer lives).
            buffers.push(unsafe {
                match owner {
                    RegionOwner::Peer(o) => arrow_buffer::Buffer::from_custom_allocation(ptr, len, o.clone()),
                    RegionOwner::Own(o) => {
                        self.stats
                            .bytes_handed_back
                            .fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
                        arrow_buffer::Buffer::from_custom_allocation(ptr, len, o.clone())
                    }
                }
            });
            }
            Ok(buffers)
        };
        let nodes = |n: Option<flatbuffers::Vector<'_, fb::FieldNode>>| {
            n.into_iter()
                .flatten()
                .map(|n| (n.length(), n.null_count()))
                .collect::<Vec<_>>()
        };
        let variadic = |v: Option<flatbuffers::Vector<'_, i64>>| {
            v.map(|v| v.iter().collect::<Vec<_>>()).unwrap_or_default()
        };
        let mut dictionaries = Vec::new();
        for d in desc.dictionaries().into_iter().flatten() {
            if d.is_delta() {
                return Err(BridgeError::Protocol(format!(
                    "delta dictionary {} from the JVM is not supported",
                    d.id()
                )));
            }
            let parts = IpcParts::new(
                nodes(d.nodes()),
                wrap(d.buffers())?,
                variadic(d.variadic_buffer_counts()),
            );
            dictionaries.push((d.length(), parts));
        }
        let parts = IpcParts::new(
            nodes(desc.nodes()),
            wrap(desc.buffers())?,
            variadic(desc.variadic_buffer_counts()),
        )
        .with_dictionaries(dictionaries);
        let batch = build_batch(built_as, desc.length(), parts)
            .map_err(|e| BridgeError::Protocol(format!("Arrow data from the JVM: {e}")))?;
        Ok(Imported {
            batch,
            schema: declared,
        })
    }

    /// One of our own regions the JVM handed back: it must be live under
    /// exactly the handle, segment and bounds given (a stale or forged
    /// reference is an error, never a read of memory reused since); a local
    /// reference keeps it until the last buffer over it goes. The JVM holds
    /// its own reference until we have read the reply.
    fn own_region(&self, r: &fb::RegionRef, id: u16) -> Result<(*mut u8, usize, RegionOwner)> {
        let handle = RegionHandle(r.handle());
        if handle.segment() != id {
            return Err(BridgeError::Protocol(format!(
                "the JVM handed back region {handle:?} as one of segment {id}"
            )));
        }
        let region = self.arena.retain_live(handle).ok_or_else(|| {
            BridgeError::Protocol(format!(
                "the JVM handed back region {handle:?}, which is not live in Python's arena"
            ))
        })?;
        let owner = OwnRegion {
            handle,
            arena: self.arena.clone(),
        };
        let (offset, len) = (r.offset() as usize, r.length() as usize);
        if offset != region.offset || len > region.len {
            return Err(BridgeError::Protocol(format!(
                "the JVM handed back region {handle:?} as [{offset}, +{len}), it is [{}, +{})",
                region.offset, region.len
            )));
        }
        Ok((region.ptr, len, RegionOwner::Own(Arc::new(owner))))
    }

    /// Maps region `r` of a JVM segment that holds one spilled message
    /// (`crate::spill`), checked against its segment: its bytes, and a guard
    /// that queues the region's release when dropped.
    pub(crate) fn java_region(
        &self,
        r: &fb::RegionRef,
    ) -> Result<(*const u8, usize, Arc<dyn Send + Sync>)> {
        let id = u16::try_from(r.segment())
            .ok()
            .filter(|&id| u32::from(id) >= JAVA_FIRST_SEGMENT_ID)
            .ok_or_else(|| {
                BridgeError::Protocol(format!(
                    "spilled message in segment {}, which is not one of the JVM's",
                    r.segment()
                ))
            })?;
        let (base, len, guard) = self.peer_region(r, id, "spilled message")?;
        Ok((base, len, guard))
    }

    /// Maps region `r` of the JVM's segment `id`, checked against the
    /// segment (`what` names it in the error): its bytes, and a guard that
    /// keeps the mapping and queues the region's release when dropped.
    fn peer_region(
        &self,
        r: &fb::RegionRef,
        id: u16,
        what: &str,
    ) -> Result<(*mut u8, usize, Arc<PeerRegion>)> {
        let segment = self.peer_segments.get(id)?;
        let (offset, len) = (r.offset() as usize, r.length() as usize);
        if offset
            .checked_add(len)
            .is_none_or(|end| end > segment.len())
        {
            return Err(BridgeError::Protocol(format!(
                "{what} [{offset}, +{len}) lies outside JVM segment {id} ({} bytes)",
                segment.len()
            )));
        }
        // SAFETY: [offset, offset + len) was just checked against the mapping.
        let base = unsafe { segment.as_ptr().add(offset) };
        self.stats
            .jvm_regions_held
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let guard = Arc::new(PeerRegion {
            handle: r.handle(),
            releases: self.region_releases.clone(),
            held: self.stats.clone(),
            _segment: segment,
        });
        Ok((base, len, guard))
    }

    /// Queues the release of a JVM region this process never mapped (a
    /// spilled message dropped unread).
    pub(crate) fn release_java_region(&self, handle: u64) {
        self.region_releases.push(handle);
    }

    /// The arena (for statistics and in-arena builders).
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Applies the JVM's release notices.
    pub fn drain_releases(&self) -> usize {
        if self.from_java.is_empty() {
            return 0;
        }
        self.from_java
            .drain(|handle, count| self.arena.peer_released(RegionHandle(handle), count))
    }

    /// The JVM is gone: every hold it had is void.
    pub fn peer_gone(&self) {
        self.arena.peer_gone();
    }

    /// The session is closed (the JVM stopped): unmap every segment nothing
    /// here references. Arrow data received from the JVM keeps its segment
    /// through its own `Arc`; buffers built in the arena keep theirs.
    pub fn close(&self) {
        self.all_ones.clear(&self.arena);
        self.arena.close();
        self.peer_segments.clear();
    }

    /// The JVM answered a send that carried schema `id`'s definition.
    pub fn confirm_schema(&self, id: u32) {
        self.schemas.confirm(id);
    }

    /// Places `batch` in the arena: buffers already inside a live arena
    /// region (built in the arena) are referenced in place; every other buffer
    /// is copied once into one new region. Counts the JVM's hold on each region.
    pub fn prepare(&self, batch: &RecordBatch) -> Result<PreparedBatch> {
        self.drain_releases();
        let flat = flatten(batch).map_err(|e| BridgeError::UnsupportedArrowType(e.to_string()))?;
        if flat.length > i32::MAX as usize {
            return Err(BridgeError::Value(format!(
                "batch of {} rows exceeds Java's limit of 2^31-1; send it as a stream of smaller batches",
                flat.length
            )));
        }
        // The batch's buffers, then each dictionary's, placed alike.
        let all: Vec<&arrow_buffer::Buffer> = flat
            .buffers
            .iter()
            .chain(flat.dictionaries.iter().flat_map(|d| d.buffers.iter()))
            .collect();
        // Large arrays without a validity bitmap get the shared one:
        // (index in `all`, bitmap bytes).
        let mut base = 0;
        let mut bitmaps = Vec::new();
        for part in std::iter::once(&flat).chain(&flat.dictionaries) {
            bitmaps.extend(
                part.absent_validity
                    .iter()
                    .filter(|&&(_, rows)| rows >= SHARED_VALIDITY_MIN_ROWS)
                    .map(|&(i, rows)| (base + i, rows.div_ceil(8))),
            );
            base += part.buffers.len();
        }
        // Which buffers are already in the arena?
        let mut regions: Vec<Region> = Vec::new();
        let mut placed: Vec<Option<(usize, usize)>> = Vec::with_capacity(all.len());
        let mut copy_bytes = 0usize;
        for &buffer in &all {
            let hit = (!buffer.is_empty())
                .then(|| self.arena.find(buffer.as_ptr(), buffer.len()))
                .flatten();
            match hit {
                Some(region) => {
                    let index = match regions.iter().position(|r| r.handle == region.handle) {
                        Some(i) => i,
                        None => {
                            regions.push(region);
                            regions.len() - 1
                        }
                    };
                    placed.push(Some((
                        index,
                        buffer.as_ptr() as usize - region.ptr as usize,
                    )));
                }
                None => {
                    copy_bytes += buffer.len().div_ceil(64) * 64;
                    placed.push(None);
                }
            }
        }
        let (schema_id, new_schema) = self.schemas.id_of(batch.schema_ref());
        let copy_region = if copy_bytes > 0 {
            let region = self
                .arena
                .allocate(copy_bytes)
                .map_err(|e| BridgeError::ArenaFull(e.to_string()))?;
            self.publish_new_segments();
            regions.push(region);
            Some((regions.len() - 1, region))
        } else {
            None
        };
        let all_ones = bitmaps
            .iter()
            .map(|&(_, bytes)| bytes)
            .max()
            .and_then(|bytes| self.all_ones.lease(&self.arena, bytes));
        if all_ones.is_some() {
            self.publish_new_segments();
        }
        let mut buffers = Vec::with_capacity(all.len());
        let mut copies = Vec::new();
        let mut at = 0usize;
        let mut copied_len = 0usize;
        for (buffer, place) in all.iter().copied().zip(placed) {
            let len = buffer.len();
            match (place, copy_region) {
                (Some((index, offset)), _) => buffers.push((index, offset, len)),
                (None, Some((index, region))) => {
                    // The copy region holds the sum of the aligned lengths of
                    // the copied buffers, so [at, at + len) is inside it; a
                    // fresh region cannot overlap the source.
                    copies.push(Copy {
                        from: buffer.as_slice(),
                        // SAFETY: `at` is inside the region (see above).
                        to: unsafe { region.ptr.add(at) },
                    });
                    buffers.push((index, at, len));
                    at += len.div_ceil(64) * 64;
                    copied_len += len;
                }
                (None, None) => buffers.push((0, 0, 0)), // empty buffer
            }
        }
        // SAFETY: every destination was placed inside the fresh copy region above.
        unsafe { copy_all(&copies, copied_len) };
        if let Some(ones) = all_ones {
            regions.push(ones);
            for &(i, bytes) in &bitmaps {
                buffers[i] = (regions.len() - 1, 0, bytes);
            }
        }
        for region in &regions {
            self.arena.add_peer_hold(region.handle);
        }
        let in_place: usize = all.iter().map(|b| b.len()).sum::<usize>() - copied_len;
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.batches.fetch_add(1, Relaxed);
        self.stats
            .bytes_copied
            .fetch_add(copy_bytes as u64, Relaxed);
        self.stats
            .bytes_in_place
            .fetch_add(in_place as u64, Relaxed);
        if let Some((_, region)) = copy_region {
            // The copy is all the JVM needs; our own reference ends here.
            self.arena.release_local(region.handle);
        }
        if let Some(ones) = all_ones {
            // The batch's hold keeps it now (and the cache its own).
            self.arena.release_local(ones.handle);
        }
        let mut rest = buffers.split_off(flat.buffers.len());
        let dictionaries = flat
            .dictionaries
            .into_iter()
            .map(|d| {
                let tail = rest.split_off(d.buffers.len());
                PreparedDictionary {
                    length: d.length as i64,
                    nodes: d.nodes,
                    buffers: std::mem::replace(&mut rest, tail),
                    variadic: d.variadic_buffer_counts,
                }
            })
            .collect();
        let copy_out = self.arena.in_use() > self.arena.max_memory() / 4 * HIGH_WATER_QUARTERS;
        Ok(PreparedBatch {
            copy_out,
            dictionaries,
            regions,
            buffers,
            copied_bytes: copy_bytes,
            nodes: flat.nodes,
            variadic: flat.variadic_buffer_counts,
            length: flat.length as i64,
            schema_id,
            new_schema,
        })
    }

    /// The shared validity bitmap when no batch in the JVM uses it: a cache,
    /// not data in use, so counts of regions in use leave it out.
    pub fn idle_cache(&self) -> Option<Region> {
        self.all_ones.idle(&self.arena)
    }

    /// A send failed before the JVM took the batch: drop its holds.
    pub fn abandon(&self, prepared: &PreparedBatch) {
        for region in &prepared.regions {
            self.arena.peer_released(region.handle, 1);
        }
    }

    /// A region for data built in the arena by this process (one local
    /// reference, released with [`Arena::release_local`]).
    pub fn allocate_local(&self, len: usize) -> Result<Region> {
        self.drain_releases();
        let region = self
            .arena
            .allocate(len)
            .map_err(|e| BridgeError::ArenaFull(e.to_string()))?;
        self.publish_new_segments();
        Ok(region)
    }

    /// Announces new segments in free directory entries and retires the
    /// entries of segments the arena dropped. A segment that finds no free
    /// entry stays unannounced (its allocation then fails on the Java side
    /// with "never published"), which 32 entries make unlikely.
    fn publish_new_segments(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for id in self.arena.take_retired() {
            if let Some(slot) = slots.iter().position(|s| *s == Some(id)) {
                self.directory.retire(slot);
                slots[slot] = None;
            }
        }
        for (id, locator, size) in self.arena.take_unpublished() {
            if let Some(slot) = slots.iter().position(Option::is_none) {
                self.directory.publish(slot, id, &locator, size);
                slots[slot] = Some(id);
            }
        }
    }
}
