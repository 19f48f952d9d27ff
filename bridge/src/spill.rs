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

use flatbuffers::FlatBufferBuilder;
use gatun_arena::MAX_SEGMENT_SIZE;

use crate::arrow_plane::{copy_all, ArrowPlane, Copy};
use crate::control::{REQ_FLAG_SPILL, RESP_FLAG_SPILL};
use crate::error::{BridgeError, Result};
use crate::lane::Lane;
use crate::protocol as fb;

/// The largest message that can cross: one region, which lies in one
/// segment (at most 1 GiB, the most Java maps at once).
pub const MAX_MESSAGE: usize = MAX_SEGMENT_SIZE;

/// Sends `request` on `lane`: in the slot when it fits, else spilled into a
/// region of `arrow`'s arena. Returns the `resp_seq` to wait for, as
/// [`Lane::send`] does.
pub fn send(lane: &mut Lane, arrow: &ArrowPlane, request: &[u8]) -> Result<u64> {
    if request.len() <= lane.slot_size() {
        return lane.send(request);
    }
    if request.len() > MAX_MESSAGE {
        return Err(too_large("request", request.len()));
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
    let arena = arrow.arena();
    arena.add_peer_hold(region.handle);
    arena.release_local(region.handle);
    let envelope = encode_spill(&fb::RegionRef::new(
        region.handle.0,
        u32::from(region.segment),
        0,
        region.offset as u64,
        request.len() as u64,
    ));
    lane.send_flagged(&envelope, REQ_FLAG_SPILL)
        .inspect_err(|_| {
            // Not published (or the JVM is gone): nobody else will release it.
            // Should the JVM have read it after all, its later release names a
            // freed handle, which the ledger ignores.
            arena.peer_released(region.handle, 1);
        })
}

/// A `Spill` message naming `region`.
pub fn encode_spill(region: &fb::RegionRef) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(96);
    let spill = fb::Spill::create(
        &mut fbb,
        &fb::SpillArgs {
            region: Some(region),
        },
    );
    fbb.finish(spill, None);
    fbb.finished_data().to_vec()
}

/// The region a `Spill` message names, verified.
pub fn read_spill(bytes: &[u8]) -> Result<fb::RegionRef> {
    let spill = flatbuffers::root::<fb::Spill>(bytes)
        .map_err(|e| BridgeError::Protocol(format!("malformed spill message: {e}")))?;
    spill
        .region()
        .copied()
        .ok_or_else(|| BridgeError::Protocol("spill message names no region".into()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_message_reads_back_as_written() {
        let r = fb::RegionRef::new(0x8001_0000_0200_0007, 0x8001, 0, 4096, 100 << 20);
        let back = read_spill(&encode_spill(&r)).unwrap();
        assert_eq!(back.handle(), r.handle());
        assert_eq!(back.segment(), 0x8001);
        assert_eq!(back.offset(), 4096);
        assert_eq!(back.length(), 100 << 20);
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
