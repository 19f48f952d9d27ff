//! The bridge between a Python process and a JVM: protocol, control segment,
//! lanes and doorbells, handshake, JVM launcher, value model and a client
//! usable from plain Rust (ARCHITECTURE §5–§7).

#[cfg(not(loom))]
mod all_ones;
#[cfg(not(loom))]
pub mod arrow_plane;
#[cfg(not(loom))]
pub mod batch;
#[cfg(not(loom))]
pub mod class_archive;
#[cfg(not(loom))]
pub mod client;
#[cfg(not(loom))]
pub mod control;
#[cfg(not(loom))]
pub mod crash_report;
#[cfg(not(loom))]
pub mod descriptor;
#[cfg(not(loom))]
pub mod directory;
pub mod doorbell;
#[cfg(not(loom))]
pub mod error;
/// A JVM hosting a server that many clients attach to (`launch_gateway`).
#[cfg(not(loom))]
pub mod gateway;
#[cfg(not(loom))]
pub mod handshake;
/// Asking a `java` its version with a deadline.
#[cfg(not(loom))]
pub mod java_probe;
/// The launched JVM's stdout and stderr, forwarded as they are written.
#[cfg(not(loom))]
pub mod jvm_output;
#[cfg(not(loom))]
pub mod lane;
#[cfg(not(loom))]
pub mod launcher;
/// The shared-memory layout and codes (generated from `schemas/layout.toml`
/// into the arena crate, which packs region handles with it).
pub use gatun_arena::shm_layout as layout;
#[cfg(not(loom))]
pub mod loop_call;
#[cfg(not(loom))]
pub mod object_releases;
#[cfg(not(loom))]
mod parallel_copy;
#[cfg(not(loom))]
pub mod peer_segments;
#[cfg(not(loom))]
pub mod protocol;
#[cfg(not(loom))]
pub mod region_releases;
#[cfg(not(loom))]
pub mod release_ring;
#[cfg(not(loom))]
pub mod scalar_template;
#[cfg(not(loom))]
pub mod schema_registry;
#[cfg(not(loom))]
mod shm;
#[cfg(not(loom))]
pub mod spill;
#[cfg(not(loom))]
pub mod spin;
#[cfg(not(loom))]
pub mod transfer_stats;
#[cfg(not(loom))]
pub mod value;

#[cfg(not(loom))]
pub use batch::BatchEncoder;
#[cfg(not(loom))]
pub use client::{
    parse_token, AttachOptions, CallbackHandler, CallbackOutcome, Client, ClientOptions, LaneGuard,
    NoCallbacks, PooledScratch, WeakClient,
};
#[cfg(not(loom))]
pub use error::{BridgeError, JavaError, Result};
#[cfg(not(loom))]
pub use loop_call::LoopCall;
#[cfg(not(loom))]
pub use object_releases::{ObjectReleases, TakenReleases};
#[cfg(not(loom))]
pub use protocol::RequestHead;
#[cfg(not(loom))]
pub use value::{ArrayValue, ObjectHandle, Value};
