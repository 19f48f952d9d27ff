//! The FlatBuffers protocol of `schemas/bridge.fbs`.
//!
//! `generated/` is produced by `scripts/gen-protocol` (pinned flatc) and
//! committed; this module re-exports it and adds the few typed helpers the
//! rest of the crate needs. Every buffer that comes from the other process is
//! read through the verifying [`flatbuffers::root`].

#[allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    unused_imports,
    non_camel_case_types,
    mismatched_lifetime_syntaxes,
    unsafe_op_in_unsafe_fn
)]
#[rustfmt::skip]
#[path = "generated/bridge_generated.rs"]
mod generated;

pub use generated::gatun::protocol::*;

use crate::error::{BridgeError, Result};

/// Verifier limits for messages from the JVM: generous for real responses,
/// tight enough that a corrupt buffer fails fast.
fn verifier_options() -> flatbuffers::VerifierOptions {
    flatbuffers::VerifierOptions {
        max_depth: 128,
        max_tables: 10_000_000,
        max_apparent_size: 1 << 31,
        ignore_missing_null_terminator: false,
    }
}

/// Verifies and opens a `Response` received from the JVM.
pub fn read_response(bytes: &[u8]) -> Result<Response<'_>> {
    flatbuffers::root_with_opts::<Response>(&verifier_options(), bytes)
        .map_err(|e| BridgeError::Protocol(format!("malformed response from the JVM: {e}")))
}

/// Verifies and opens a `Welcome` received during the handshake.
pub fn read_welcome(bytes: &[u8]) -> Result<Welcome<'_>> {
    flatbuffers::root::<Welcome>(bytes)
        .map_err(|e| BridgeError::Handshake(format!("malformed welcome from the JVM: {e}")))
}

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = ProtocolVersion::Current.0;
