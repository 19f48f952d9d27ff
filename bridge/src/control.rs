//! The control segment ([`ControlSegment`]): header, segment directory
//! ([`crate::directory`]), the two release rings ([`crate::release_ring`])
//! and the lanes ([`crate::lane`]), in that order.
//!
//! Every offset and size comes from [`crate::layout`], generated from
//! `schemas/layout.toml` like Java's `gatun.server.shm.Layout`; the map of
//! the segment, field by field with each meaning, is generated from the same
//! file into `schemas/SHM_LAYOUT.md`, so it is not drawn again here. Both
//! sides test the offsets against `schemas/vectors/*.hex`.

use crate::layout;

/// "GTUNCTL1" read as a little-endian u64.
pub const MAGIC: u64 = layout::MAGIC;
/// Version of this byte layout.
pub const LAYOUT_VERSION: u32 = layout::LAYOUT_VERSION;

/// Header field offsets.
pub mod header {
    /// u64 magic.
    pub const MAGIC: usize = super::layout::header::MAGIC;
    /// u32 layout version.
    pub const VERSION: usize = super::layout::header::VERSION;
    /// u32 lane count.
    pub const LANES: usize = super::layout::header::LANES;
    /// u32 slot size.
    pub const SLOT_SIZE: usize = super::layout::header::SLOT_SIZE;
    /// u32 Python pid.
    pub const PY_PID: usize = super::layout::header::PY_PID;
    /// u32 JVM pid.
    pub const JVM_PID: usize = super::layout::header::JVM_PID;
    /// u64 Python start time.
    pub const PY_START: usize = super::layout::header::PY_START;
    /// u64 JVM start time.
    pub const JVM_START: usize = super::layout::header::JVM_START;
    /// u32 state.
    pub const STATE: usize = super::layout::header::STATE;
    /// Header size.
    pub const SIZE: usize = super::layout::header::BYTES;
}

/// First lane.
pub const LANES_OFFSET: usize = layout::LANES_OFFSET;
/// Bytes of a lane's header before its slots.
pub const LANE_HEADER: usize = layout::lane::BYTES;

// The regions must not overlap, and lanes start page-aligned.
const _: () = {
    use layout::{directory, RING_TO_JAVA_OFFSET, RING_TO_PYTHON_OFFSET};
    assert!(layout::DIRECTORY_OFFSET + directory::COUNT * directory::BYTES <= RING_TO_JAVA_OFFSET);
    assert!(RING_TO_JAVA_OFFSET + layout::RING_TO_JAVA_SIZE == RING_TO_PYTHON_OFFSET);
    assert!(RING_TO_PYTHON_OFFSET + layout::RING_TO_PYTHON_SIZE == LANES_OFFSET);
    assert!(LANES_OFFSET % 4096 == 0);
};

/// Lane header field offsets (SHM_LAYOUT.md, "Lane").
pub mod lane {
    /// u64 sequence of the last request written (Python).
    pub const REQ_SEQ: usize = super::layout::lane::REQ_SEQ;
    /// u32 request length.
    pub const REQ_LEN: usize = super::layout::lane::REQ_LEN;
    /// u32 request flags.
    pub const REQ_FLAGS: usize = super::layout::lane::REQ_FLAGS;
    /// u32 Python is (about to be) blocked.
    pub const PY_WAITING: usize = super::layout::lane::PY_WAITING;
    /// u32 Python is spinning.
    pub const PY_SPINNING: usize = super::layout::lane::PY_SPINNING;
    /// u64 request to cancel.
    pub const CANCEL_SEQ: usize = super::layout::lane::CANCEL_SEQ;
    /// u64 sequence of the last response written (Java).
    pub const RESP_SEQ: usize = super::layout::lane::RESP_SEQ;
    /// u32 response length.
    pub const RESP_LEN: usize = super::layout::lane::RESP_LEN;
    /// u32 response flags.
    pub const RESP_FLAGS: usize = super::layout::lane::RESP_FLAGS;
    /// u32 the JVM worker is (about to be) blocked.
    pub const JVM_WAITING: usize = super::layout::lane::JVM_WAITING;
    /// u32 the JVM worker is spinning.
    pub const JVM_SPINNING: usize = super::layout::lane::JVM_SPINNING;
    /// u64 acknowledged sequence (forwarded regions).
    pub const ACKED_SEQ: usize = super::layout::lane::ACKED_SEQ;
    /// u32 the JVM worker thread's Linux thread id, as its process sees it
    /// (0: not known). Written once when the worker starts.
    pub const WORKER_TID: usize = super::layout::lane::WORKER_TID;
}

/// `resp_flags` bit: the response slot holds a callback call (a `Response`
/// with `callback` set), not the answer to the request.
pub const RESP_FLAG_CALLBACK: u32 = layout::RESP_FLAG_CALLBACK;

/// `resp_flags` bit: the answer holds something the JVM keeps until we have
/// read it (a region of ours forwarded back, a schema definition): once it is
/// decoded, send [`ack_notice`] on the Python -> Java release ring.
pub const RESP_FLAG_NEEDS_ACK: u32 = layout::RESP_FLAG_NEEDS_ACK;

/// The release-ring entry that acknowledges answer `seq` of lane `lane`:
/// segment 0 in the top 16 bits (never a region's), the lane in bits 40..47,
/// the sequence's low 40 bits below (`ControlSegment.ackNotice` in Java).
pub fn ack_notice(lane: usize, seq: u64) -> u64 {
    ((lane as u64 & 0xFF) << layout::ACK_LANE_SHIFT) | (seq & ((1 << layout::ACK_LANE_SHIFT) - 1))
}

/// `resp_flags` bit: the response slot holds a `Spill` naming a region of
/// the JVM's arena where the response (or callback call) lies
/// (SHM_LAYOUT.md, "Spill"). Bit 1 is kept for acknowledgements
/// (`RESP_FLAG_NEEDS_ACK`).
pub const RESP_FLAG_SPILL: u32 = layout::RESP_FLAG_SPILL;

/// `req_flags` bit: the request slot holds a `Spill` naming a region of
/// Python's arena where the request lies (SHM_LAYOUT.md, "Spill").
pub const REQ_FLAG_SPILL: u32 = layout::REQ_FLAG_SPILL;

/// Lane socket byte: "your counter moved".
pub const RING: u8 = layout::DOORBELL_RING;
/// Lane socket byte: "cancel the request in `cancel_seq`".
pub const CANCEL: u8 = layout::DOORBELL_CANCEL;
/// Lane socket byte from the JVM just before it closes the lane: the server stopped.
pub const GOODBYE_STOPPED: u8 = layout::DOORBELL_GOODBYE_STOPPED;
/// Lane socket byte from the JVM just before it closes the lane: the session idled out.
pub const GOODBYE_IDLE: u8 = layout::DOORBELL_GOODBYE_IDLE;

/// Smallest and largest slot sizes accepted.
pub const MIN_SLOT_SIZE: usize = layout::MIN_SLOT_SIZE as usize;
/// See [`MIN_SLOT_SIZE`].
pub const MAX_SLOT_SIZE: usize = layout::MAX_SLOT_SIZE as usize;
/// Most lanes a session may have.
pub const MAX_LANES: usize = layout::MAX_LANES as usize;

/// Geometry of one control segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSegment {
    /// Number of lanes.
    pub lanes: usize,
    /// Bytes per request slot and per response slot.
    pub slot_size: usize,
}

impl ControlSegment {
    /// Checks the limits of SHM_LAYOUT.md.
    pub fn new(lanes: usize, slot_size: usize) -> Result<Self, String> {
        if !(1..=MAX_LANES).contains(&lanes) {
            return Err(format!("lane count {lanes} is outside 1..={MAX_LANES}"));
        }
        if !(MIN_SLOT_SIZE..=MAX_SLOT_SIZE).contains(&slot_size) || slot_size % 4096 != 0 {
            return Err(format!(
                "slot size {slot_size} must be a multiple of 4096 in {MIN_SLOT_SIZE}..={MAX_SLOT_SIZE}"
            ));
        }
        Ok(Self { lanes, slot_size })
    }

    /// Distance between consecutive lanes.
    pub fn lane_stride(&self) -> usize {
        LANE_HEADER + 2 * self.slot_size
    }

    /// Offset of lane `index`'s header.
    pub fn lane_offset(&self, index: usize) -> usize {
        LANES_OFFSET + index * self.lane_stride()
    }

    /// Total bytes of the control segment.
    pub fn total_size(&self) -> usize {
        self.lane_offset(self.lanes)
    }
}

/// The values of a control header (used to write it and in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderFields {
    /// Lanes in the segment.
    pub lanes: u32,
    /// Slot size in bytes.
    pub slot_size: u32,
    /// Python pid.
    pub py_pid: u32,
    /// JVM pid (0 until the handshake).
    pub jvm_pid: u32,
    /// Python start time.
    pub py_start: u64,
    /// JVM start time.
    pub jvm_start: u64,
    /// Segment state.
    pub state: u32,
}

/// Writes a header into `buf` (at least 64 bytes).
pub fn write_header(buf: &mut [u8], f: &HeaderFields) {
    let put32 =
        |buf: &mut [u8], off: usize, v: u32| buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |buf: &mut [u8], off: usize, v: u64| buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
    buf[..header::SIZE].fill(0);
    put64(buf, header::MAGIC, MAGIC);
    put32(buf, header::VERSION, LAYOUT_VERSION);
    put32(buf, header::LANES, f.lanes);
    put32(buf, header::SLOT_SIZE, f.slot_size);
    put32(buf, header::PY_PID, f.py_pid);
    put32(buf, header::JVM_PID, f.jvm_pid);
    put64(buf, header::PY_START, f.py_start);
    put64(buf, header::JVM_START, f.jvm_start);
    put32(buf, header::STATE, f.state);
}

/// Reads a header, checking magic and version.
pub fn read_header(buf: &[u8]) -> Result<HeaderFields, String> {
    if buf.len() < header::SIZE {
        return Err(format!("control header needs 64 bytes, got {}", buf.len()));
    }
    let get32 = |off: usize| u32::from_le_bytes(buf[off..off + 4].try_into().unwrap());
    let get64 = |off: usize| u64::from_le_bytes(buf[off..off + 8].try_into().unwrap());
    if get64(header::MAGIC) != MAGIC {
        return Err(format!("bad control magic {:#018x}", get64(header::MAGIC)));
    }
    if get32(header::VERSION) != LAYOUT_VERSION {
        return Err(format!(
            "control layout version {} is not the supported {LAYOUT_VERSION}",
            get32(header::VERSION)
        ));
    }
    Ok(HeaderFields {
        lanes: get32(header::LANES),
        slot_size: get32(header::SLOT_SIZE),
        py_pid: get32(header::PY_PID),
        jvm_pid: get32(header::JVM_PID),
        py_start: get64(header::PY_START),
        jvm_start: get64(header::JVM_START),
        state: get32(header::STATE),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses a `schemas/vectors/*.hex` file (comments start with `#`).
    pub(crate) fn vector(name: &str) -> Vec<u8> {
        let path = format!("{}/../schemas/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split_whitespace())
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn sample() -> HeaderFields {
        HeaderFields {
            lanes: 4,
            slot_size: 65536,
            py_pid: 1234,
            jvm_pid: 5678,
            py_start: 111,
            jvm_start: 222,
            state: 1,
        }
    }

    #[test]
    fn header_matches_the_shared_vector() {
        let mut buf = [0u8; 64];
        write_header(&mut buf, &sample());
        assert_eq!(buf.to_vec(), vector("control_header.hex"));
        assert_eq!(
            read_header(&vector("control_header.hex")).unwrap(),
            sample()
        );
    }

    #[test]
    fn lane_header_offsets_match_the_shared_vector() {
        let v = vector("lane_header.hex");
        let get32 = |off: usize| u32::from_le_bytes(v[off..off + 4].try_into().unwrap());
        let get64 = |off: usize| u64::from_le_bytes(v[off..off + 8].try_into().unwrap());
        assert_eq!(v.len(), LANE_HEADER);
        assert_eq!(get64(lane::REQ_SEQ), 7);
        assert_eq!(get32(lane::REQ_LEN), 300);
        assert_eq!(get32(lane::PY_WAITING), 1);
        assert_eq!(get64(lane::CANCEL_SEQ), 5);
        assert_eq!(get64(lane::RESP_SEQ), 6);
        assert_eq!(get32(lane::RESP_LEN), 120);
        assert_eq!(get32(lane::JVM_SPINNING), 1);
        assert_eq!(get32(lane::JVM_WAITING), 0);
    }

    #[test]
    fn directory_entry_offsets_match_the_shared_vector() {
        use crate::layout::directory;
        let v = vector("directory_entry.hex");
        let get32 = |off: usize| u32::from_le_bytes(v[off..off + 4].try_into().unwrap());
        assert_eq!(v.len(), directory::BYTES);
        assert_eq!(
            directory::NAME + crate::directory::NAME_LEN,
            directory::BYTES
        );
        assert_eq!(get32(directory::PUBLISHED), 1);
        assert_eq!(get32(directory::SEGMENT_ID), 3);
        assert_eq!((v[directory::OWNER], v[directory::KIND]), (1, 1));
        assert_eq!(get32(directory::GENERATION), 2);
        assert_eq!(u64::from_le_bytes(v[16..24].try_into().unwrap()), 1 << 20);
        assert_eq!(i32::from_le_bytes(v[24..28].try_into().unwrap()), 9);
        assert_eq!(&v[directory::NAME..directory::NAME + 8], b"seg-name");
    }

    #[test]
    fn bad_magic_and_geometry_are_refused() {
        let mut v = vector("control_header.hex");
        v[0] ^= 0xff;
        assert!(read_header(&v).unwrap_err().contains("magic"));
        assert!(ControlSegment::new(0, 4096).is_err());
        assert!(ControlSegment::new(4, 5000).is_err());
        let layout = ControlSegment::new(4, 65536).unwrap();
        assert_eq!(
            layout.lane_offset(1) - layout.lane_offset(0),
            256 + 2 * 65536
        );
        assert_eq!(layout.total_size(), LANES_OFFSET + 4 * (256 + 2 * 65536));
    }
}
