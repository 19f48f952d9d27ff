//! Shared-memory building blocks of gatun-rs.
//!
//! A [`Segment`] is a region of shared memory created by the side that writes
//! into it and mapped by its peer (ARCHITECTURE §2). The [`Arena`] is the
//! owner's allocator and ledger over its payload segments (ARCHITECTURE §3):
//! a region lives while either side references it. [`shm_layout`] holds the
//! constants both processes share (generated from `schemas/layout.toml`;
//! the bridge re-exports it as `gatun_bridge::layout`).

pub mod arena;
pub mod import;
pub mod layout;
pub mod segment;
pub mod shm_layout;
pub mod text_as_bytes;

pub use arena::{AllocError, Arena, ArenaConfig, Region, RegionHandle, ALIGNMENT};
pub use import::{build_batch, IpcParts};
pub use layout::{check_schema, flatten, has_dictionaries, FlatBatch, LayoutError};
pub use segment::{
    Segment, SegmentError, SegmentLocator, SegmentPlace, VacatedSegment, MAX_SEGMENT_SIZE,
};
pub use text_as_bytes::strings_as_binary;
