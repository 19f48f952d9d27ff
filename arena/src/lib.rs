//! Shared-memory building blocks of gatun-rs.
//!
//! A [`Segment`] is a region of shared memory created by the side that writes
//! into it and mapped by its peer (ARCHITECTURE §2). Today the bridge uses one
//! segment, the control segment with its lanes; the payload arena of the Arrow
//! data plane (owner ledgers, release rings, layout walking) builds on the same
//! type.

pub mod segment;

pub use segment::{Segment, SegmentError, SegmentLocator, MAX_SEGMENT_SIZE};
