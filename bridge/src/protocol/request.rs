//! The request head and the builders of `Request` tables every sender
//! shares (single calls, batches, scalar templates, callback replies), the
//! conversion of an error reply, and the `Spill` envelope; imported by the
//! client, the batch encoder, the scalar templates and the lanes alike, so
//! none of them imports another.

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, WIPOffset};

use super::{self as fb, Action};
use crate::error::{BridgeError, JavaError, Result};

/// Where a batch sent to the JVM goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchTarget {
    /// A new `VectorSchemaRoot` of its own (`SendArrowBatch`).
    Root,
    /// A `BridgeArrowReader` (`ArrowStream`): `reader` 0 opens a new one with
    /// this batch; `end` says no batch follows.
    Stream {
        /// The reader's object id, or 0 to open one.
        reader: i64,
        /// The last batch of the stream.
        end: bool,
    },
}

/// The fixed part of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHead<'a> {
    /// What to do.
    pub action: Action,
    /// Target object (instance actions).
    pub object_id: i64,
    /// Target class (static actions, create, reflect, is-instance-of).
    pub class_name: Option<&'a str>,
    /// Method or field name.
    pub name: Option<&'a str>,
    /// Keep the result as a reference.
    pub return_object_ref: bool,
}

/// Builds a `Request` table from its head, encoded arguments, releases and
/// batch items.
pub fn build_request<'b, A: flatbuffers::Allocator + 'b>(
    fbb: &mut FlatBufferBuilder<'b, A>,
    head: &RequestHead<'_>,
    args: Option<WIPOffset<Vector<'b, ForwardsUOffset<fb::Value<'b>>>>>,
    release_ids: &[i64],
    batch: Option<WIPOffset<Vector<'b, ForwardsUOffset<fb::Request<'b>>>>>,
    stop_on_error: bool,
) -> WIPOffset<fb::Request<'b>> {
    // Shared: a batch repeats the same class and method names many times.
    let class_name = head.class_name.map(|s| fbb.create_shared_string(s));
    let name = head.name.map(|s| fbb.create_shared_string(s));
    let release_ids = (!release_ids.is_empty()).then(|| fbb.create_vector(release_ids));
    fb::Request::create(
        fbb,
        &fb::RequestArgs {
            action: head.action,
            object_id: head.object_id,
            class_name,
            name,
            args,
            return_object_ref: head.return_object_ref,
            release_ids,
            batch,
            stop_on_error,
            ..Default::default()
        },
    )
}

/// Turns an error reply into a [`BridgeError::Java`].
pub fn java_error(e: fb::JavaError<'_>) -> BridgeError {
    BridgeError::Java(JavaError {
        class_name: e.class_name().unwrap_or("java.lang.Throwable").to_owned(),
        message: e.message().unwrap_or_default().to_owned(),
        stack_trace: e.stack_trace().unwrap_or_default().to_owned(),
    })
}

/// Encodes a `CallbackReply` carrying an error.
pub fn encode_callback_error(class_name: &str, message: &str, stack_trace: &str) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(256 + message.len() + stack_trace.len());
    let class_name = fbb.create_string(class_name);
    let message = fbb.create_string(message);
    let stack_trace = fbb.create_string(stack_trace);
    let error = fb::JavaError::create(
        &mut fbb,
        &fb::JavaErrorArgs {
            class_name: Some(class_name),
            message: Some(message),
            stack_trace: Some(stack_trace),
        },
    );
    let req = fb::Request::create(
        &mut fbb,
        &fb::RequestArgs {
            action: Action::CallbackReply,
            error: Some(error),
            ..Default::default()
        },
    );
    fbb.finish(req, None);
    fbb.finished_data().to_vec()
}

/// A `Spill` message naming `region`.
pub fn encode_spill(region: &super::RegionRef) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(96);
    let spill = super::Spill::create(
        &mut fbb,
        &super::SpillArgs {
            region: Some(region),
        },
    );
    fbb.finish(spill, None);
    fbb.finished_data().to_vec()
}

/// The region a `Spill` message names, verified.
pub fn read_spill(bytes: &[u8]) -> Result<super::RegionRef> {
    let spill = flatbuffers::root::<super::Spill>(bytes)
        .map_err(|e| BridgeError::Protocol(format!("malformed spill message: {e}")))?;
    spill
        .region()
        .copied()
        .ok_or_else(|| BridgeError::Protocol("spill message names no region".into()))
}
