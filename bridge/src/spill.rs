//! Messages larger than a lane slot (ARCHITECTURE §5, "spill").
//!
//! A request that does not fit the request slot is copied into a region of
//! Python's payload arena (the one Arrow data uses), the region gets one peer
//! hold, and the slot carries a small `Spill` naming it, with `req_flags` bit
//! SPILL set; the JVM releases the region once it has decoded the request.
//! A response that does not fit reaches Python the same way from the JVM's
//! arena (`resp_flags` bit SPILL); [`Message`] reads either kind, and
//! dropping a spilled one queues the region's release (SHM_LAYOUT.md, "Spill").

use std::sync::Arc;

use gatun_arena::{Region, RegionHandle, MAX_SEGMENT_SIZE};

use crate::arrow_plane::ArrowPlane;
use crate::control::{REQ_FLAG_SPILL, RESP_FLAG_SPILL};
use crate::error::{BridgeError, Result};
use crate::lane::Lane;
use crate::parallel_copy::{copy_all, Copy};
use crate::protocol as fb;
pub use crate::protocol::{encode_spill, read_spill};

/// The largest message that can cross: one region, which lies in one
/// segment (at most 1 GiB, the most Java maps at once).
pub const MAX_MESSAGE: usize = MAX_SEGMENT_SIZE;

/// Sends `request` on `lane`: in the slot when it fits, else spilled into a
/// region of `arrow`'s arena. Returns the `resp_seq` to wait for, as
/// [`Lane::send`] does.
pub fn send(lane: &mut Lane, arrow: &ArrowPlane, request: &[u8]) -> Result<u64> {
    let sent = send_message(lane, arrow, request);
    // Sending settled the late answers of abandoned calls on this lane; the
    // spilled ones among them go back to the JVM with the next request.
    for handle in lane.take_orphaned_spills() {
        arrow.release_java_region(handle);
    }
    sent
}

fn send_message(lane: &mut Lane, arrow: &ArrowPlane, request: &[u8]) -> Result<u64> {
    if request.len() <= lane.slot_size() {
        return lane.send(request);
    }
    if request.len() > MAX_MESSAGE {
        return Err(too_large("request", request.len()));
    }
    let arena = arrow.arena();
    if let Some(built_in) = arena.find(request.as_ptr(), request.len()) {
        // Built in the arena ([`RegionAllocator`]): sent where it lies.
        arena.add_peer_hold(built_in.handle);
        let start = request.as_ptr() as usize - built_in.ptr as usize;
        return send_region(lane, arrow, &built_in, start, request.len());
    }
    let region = arrow.allocate_local(request.len()).map_err(|e| match e {
        BridgeError::ArenaFull(why) => BridgeError::ArenaFull(format!(
            "a request of {} bytes does not fit the lane slot ({} bytes) and found no room in \
             the payload arena to spill into: {why}",
            request.len(),
            lane.slot_size()
        )),
        other => other,
    })?;
    // SAFETY: the region was just allocated for at least request.len() bytes
    // and nobody else writes it; the source is a separate heap buffer.
    unsafe {
        copy_all(
            &[Copy {
                from: request,
                to: region.ptr,
            }],
            request.len(),
        )
    };
    // The JVM's hold keeps the region from here on: it releases it after
    // decoding the request.
    arena.add_peer_hold(region.handle);
    arena.release_local(region.handle);
    send_region(lane, arrow, &region, 0, request.len())
}

/// Sends the `Spill` naming the request of `len` bytes at `start` in
/// `region` (the JVM's hold on it already counted).
fn send_region(
    lane: &mut Lane,
    arrow: &ArrowPlane,
    region: &Region,
    start: usize,
    len: usize,
) -> Result<u64> {
    let envelope = encode_spill(&fb::RegionRef::new(
        region.handle.0,
        u32::from(region.segment),
        0,
        (region.offset + start) as u64,
        len as u64,
    ));
    lane.send_flagged(&envelope, REQ_FLAG_SPILL)
        .inspect_err(|_| {
            // Not published (or the JVM is gone): nobody else will release it.
            // Should the JVM have read it after all, its later release names a
            // freed handle, which the ledger ignores.
            arrow.arena().peer_released(region.handle, 1);
        })
}

fn too_large(what: &str, size: usize) -> BridgeError {
    BridgeError::ArenaFull(format!(
        "{what} of {size} bytes exceeds the largest message ({MAX_MESSAGE} bytes, one arena \
         segment); send bulk data as Arrow batches or split it into several calls"
    ))
}

/// A message from the JVM: in the response slot, or spilled into a region
/// of the JVM's arena that stays mapped (and unreleased) while this lives.
pub enum Message<'a> {
    /// The bytes in the response slot.
    Slot(&'a [u8]),
    /// A spilled message.
    Spilled(SpilledMessage),
}

impl Message<'_> {
    /// The message now in `lane`'s response slot, following a spill into
    /// `arrow`'s map of the JVM's segments.
    pub fn read<'l>(lane: &'l Lane, arrow: &ArrowPlane) -> Result<Message<'l>> {
        let bytes = lane.response_bytes()?;
        if lane.response_flags() & RESP_FLAG_SPILL == 0 {
            return Ok(Message::Slot(bytes));
        }
        SpilledMessage::open(arrow, bytes).map(Message::Spilled)
    }

    /// The message's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Message::Slot(b) => b,
            Message::Spilled(s) => s.bytes(),
        }
    }
}

/// A message the JVM spilled into a region of its arena; dropping it queues
/// the region's release (sent with the next request).
pub struct SpilledMessage {
    ptr: *const u8,
    len: usize,
    _guard: Arc<dyn Send + Sync>,
}

// SAFETY: `ptr` points into a JVM segment that `_guard` keeps mapped; the JVM
// does not write the region until it is released, which happens only when
// the guard drops. Reading it from any thread is fine.
unsafe impl Send for SpilledMessage {}
// SAFETY: as above; the bytes are only read.
unsafe impl Sync for SpilledMessage {}

impl SpilledMessage {
    /// Follows the `Spill` message `envelope` to its region.
    pub fn open(arrow: &ArrowPlane, envelope: &[u8]) -> Result<SpilledMessage> {
        let region = read_spill(envelope)?;
        let (ptr, len, guard) = arrow.java_region(&region)?;
        Ok(SpilledMessage {
            ptr,
            len,
            _guard: guard,
        })
    }

    /// The message's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: see the Send impl: [ptr, ptr + len) was checked against the
        // mapping, which the guard keeps alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Memory for a FlatBuffers builder that encodes a request too large for a
/// slot: a region of the payload arena, so the finished request already lies
/// where the JVM reads it and [`send`] copies nothing (a `bytes` argument
/// costs one copy, from the Python object into shared memory). The arena
/// keeps its segments mapped between calls, so after the first large request
/// the pages are warm, unlike a fresh heap buffer's.
///
/// Where the arena has no room the builder goes on in heap memory (its
/// `grow_downwards` must not fail: the builder panics on an error), and
/// [`send`] then reports the arena as full.
pub struct RegionAllocator {
    source: Box<dyn RegionSource>,
    memory: Memory,
}

/// Where a [`RegionAllocator`] takes its regions: the session's payload arena
/// ([`crate::Client`] implements it), kept alive as long as the allocator.
pub trait RegionSource: Send + Sync {
    /// A region of at least `len` bytes with one local reference.
    fn allocate_local(&self, len: usize) -> Result<Region>;
    /// Drops the local reference taken by [`allocate_local`](Self::allocate_local).
    fn release_local(&self, handle: RegionHandle);
}

enum Memory {
    Region(Region),
    Heap(Vec<u8>),
}

impl Memory {
    fn len(&self) -> usize {
        match self {
            Memory::Region(r) => r.len,
            Memory::Heap(v) => v.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: the region is live (its allocator holds a local
            // reference) and `len` bytes long; only its builder writes it
            // until it is sent, and after that it is only read.
            Memory::Region(r) => unsafe { std::slice::from_raw_parts(r.ptr, r.len) },
            Memory::Heap(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            // SAFETY: as in `bytes`; `&mut self` makes this the only view.
            Memory::Region(r) => unsafe { std::slice::from_raw_parts_mut(r.ptr, r.len) },
            Memory::Heap(v) => v,
        }
    }
}

impl RegionAllocator {
    /// At least `capacity` bytes of `source`'s arena (heap memory if it is full).
    pub fn new<S: RegionSource + Clone + 'static>(source: &S, capacity: usize) -> RegionAllocator {
        RegionAllocator {
            memory: Self::take(source, capacity.max(64), 0),
            source: Box::new(source.clone()),
        }
    }

    /// Zeroed memory of at least `len` bytes, except its last `keep` bytes
    /// (about to be overwritten). The builder needs zeros: it leaves the
    /// vtable entries of absent fields unwritten.
    fn take(source: &dyn RegionSource, len: usize, keep: usize) -> Memory {
        match source.allocate_local(len) {
            Ok(region) => {
                let mut memory = Memory::Region(region);
                let bytes = memory.bytes_mut();
                let end = bytes.len() - keep.min(bytes.len());
                bytes[..end].fill(0);
                memory
            }
            Err(_) => Memory::Heap(vec![0; len]),
        }
    }

    fn give_back(&self, memory: &Memory) {
        if let Memory::Region(r) = memory {
            self.source.release_local(r.handle);
        }
    }
}

impl std::ops::Deref for RegionAllocator {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.memory.bytes()
    }
}

impl std::ops::DerefMut for RegionAllocator {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.memory.bytes_mut()
    }
}

// SAFETY: `grow_downwards` at least doubles the memory and moves the old
// contents to its end, as the trait requires; `len` is the memory's length.
unsafe impl flatbuffers::Allocator for RegionAllocator {
    type Error = std::convert::Infallible;

    fn grow_downwards(&mut self) -> Result<(), Self::Error> {
        let old_len = self.memory.len();
        let mut grown = Self::take(&*self.source, (old_len * 2).max(64), old_len);
        let grown_len = grown.len();
        grown.bytes_mut()[grown_len - old_len..].copy_from_slice(self.memory.bytes());
        let old = std::mem::replace(&mut self.memory, grown);
        self.give_back(&old);
        Ok(())
    }

    fn len(&self) -> usize {
        self.memory.len()
    }
}

impl Drop for RegionAllocator {
    fn drop(&mut self) {
        let memory = std::mem::replace(&mut self.memory, Memory::Heap(Vec::new()));
        self.give_back(&memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatbuffers::FlatBufferBuilder;

    #[test]
    fn a_spill_message_reads_back_as_written() {
        let r = fb::RegionRef::new(0x8001_0000_0200_0007, 0x8001, 0, 4096, 100 << 20);
        let back = read_spill(&encode_spill(&r)).unwrap();
        assert_eq!(back.handle(), r.handle());
        assert_eq!(back.segment(), 0x8001);
        assert_eq!(back.offset(), 4096);
        assert_eq!(back.length(), 100 << 20);
    }

    proptest::proptest! {
        /// Bytes from the JVM: any edit of a valid message reads back as a
        /// region or fails with a protocol error, never a panic.
        #[test]
        fn edited_spill_messages_never_panic(
            edits in proptest::collection::vec((0usize..96, proptest::num::u8::ANY), 0..8),
            cut in 0usize..96,
        ) {
            let mut bytes = encode_spill(&fb::RegionRef::new(7, 3, 0, 4096, 1 << 20));
            for (at, value) in edits {
                if let Some(b) = bytes.get_mut(at) {
                    *b = value;
                }
            }
            bytes.truncate(cut.max(1));
            match read_spill(&bytes) {
                Ok(_) | Err(BridgeError::Protocol(_)) => {}
                Err(other) => proptest::prop_assert!(false, "unexpected error {other}"),
            }
        }
    }

    #[test]
    fn a_malformed_spill_message_is_a_protocol_error() {
        for bytes in [&[][..], &[1, 2, 3][..], &[0xFF; 64][..]] {
            assert!(matches!(read_spill(bytes), Err(BridgeError::Protocol(_))));
        }
        // A valid table without a region.
        let mut fbb = FlatBufferBuilder::new();
        let spill = fb::Spill::create(&mut fbb, &fb::SpillArgs { region: None });
        fbb.finish(spill, None);
        let err = read_spill(fbb.finished_data()).unwrap_err();
        assert!(err.to_string().contains("names no region"), "{err}");
    }
}
