//! The FlatBuffers protocol of `schemas/bridge.fbs`.
//!
//! `generated/` is produced by `scripts/gen-protocol` (pinned flatc) and
//! committed; this module re-exports it and adds the few typed helpers the
//! rest of the crate needs. Every buffer that comes from the other process is
//! verified before it is read: through the verifying [`flatbuffers::root`],
//! or, for the commonest small response, through `small_response`, which
//! makes the same checks on the few fields such a response holds.

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

#[cfg(test)]
mod fuzz_tests;
mod request;
mod small_response;

pub use request::{
    build_request, encode_callback_error, encode_spill, java_error, read_spill, BatchTarget,
    RequestHead,
};

use flatbuffers::{
    ForwardsUOffset, InvalidFlatbuffer, UOffsetT, Verifiable, Verifier, SIZE_UOFFSET,
};

use crate::error::{BridgeError, Result};

/// `Value::create`, except that a double of -0.0 is written out. FlatBuffers
/// leaves out a field equal to its default, and -0.0 == 0.0, so the reader
/// would get +0.0: the sign would be lost.
pub fn create_value<'b, A: flatbuffers::Allocator + 'b>(
    fbb: &mut flatbuffers::FlatBufferBuilder<'b, A>,
    args: &ValueArgs<'_>,
) -> flatbuffers::WIPOffset<Value<'b>> {
    if args.d == 0.0 && args.d.is_sign_negative() {
        fbb.force_defaults(true);
        let value = Value::create(fbb, args);
        fbb.force_defaults(false);
        value
    } else {
        Value::create(fbb, args)
    }
}

/// Verifier limits for messages from the JVM: generous for real responses,
/// tight enough that a corrupt buffer fails fast.
fn verifier_options() -> flatbuffers::VerifierOptions {
    flatbuffers::VerifierOptions {
        max_depth: 128,
        // A spilled response may hold a list of ten million values and
        // more (SHM_LAYOUT.md, "Spill"); a table takes at least 4 bytes, so
        // this bounds nothing a 1 GiB message could hold, while the apparent
        // size still bounds the work on a corrupt one.
        max_tables: 1 << 28,
        max_apparent_size: 1 << 31,
        ignore_missing_null_terminator: false,
    }
}

/// Verifies and opens a `Response` received from the JVM.
///
/// A small response (a value of scalars and strings) is checked by
/// `small_response`, with the generated verifier's checks but only for the
/// fields it holds. The JVM encodes an outcome many items of a batch share (null, true,
/// false, skipped) once and points each of those items at it. The generic
/// verifier would walk that table again for every item; here a batch's items
/// are checked once per distinct table, with the same checks otherwise.
pub fn read_response(bytes: &[u8]) -> Result<Response<'_>> {
    if small_response::is_small_response(bytes) {
        // SAFETY: checked as the generated verifier checks it (small_response.rs).
        return Ok(unsafe { flatbuffers::root_unchecked::<Response>(bytes) });
    }
    let opts = verifier_options();
    let mut verifier = flatbuffers::Verifier::new(&opts, bytes);
    <ForwardsUOffset<VerifiedResponse>>::run_verifier(&mut verifier, 0)
        .map_err(|e| BridgeError::Protocol(format!("malformed response from the JVM: {e}")))?;
    // SAFETY: every table reachable from the root was verified above: by the
    // generated verifiers, except that a batch item table already verified
    // is not walked again (verification is a function of the bytes and the
    // position only, so a second walk would end the same way).
    Ok(unsafe { flatbuffers::root_unchecked::<Response>(bytes) })
}

/// `Response`'s generated verifier, with [`SharedItems`] for its batch.
struct VerifiedResponse;

impl Verifiable for VerifiedResponse {
    fn run_verifier(v: &mut Verifier, pos: usize) -> std::result::Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Value>>("value", Response::VT_VALUE, false)?
            .visit_field::<ForwardsUOffset<JavaError>>("error", Response::VT_ERROR, false)?
            .visit_field::<ForwardsUOffset<SharedItems>>("batch", Response::VT_BATCH, false)?
            .visit_field::<ForwardsUOffset<CallbackCall>>("callback", Response::VT_CALLBACK, false)?
            .finish();
        Ok(())
    }
}

/// A batch's `[Response]`: each distinct item table verified once.
struct SharedItems;

impl Verifiable for SharedItems {
    fn run_verifier(v: &mut Verifier, pos: usize) -> std::result::Result<(), InvalidFlatbuffer> {
        let len = v.get_uoffset(pos)? as usize;
        let start = pos.saturating_add(SIZE_UOFFSET);
        v.is_aligned::<UOffsetT>(start)?;
        v.range_in_buffer(start, len.saturating_mul(SIZE_UOFFSET))?;
        // Tables verified, direct-mapped by position: a shared table stays
        // until a table of another item lands on its slot.
        let mut verified = [usize::MAX; 64];
        for i in 0..len {
            let element = start + i * SIZE_UOFFSET;
            let table = (v.get_uoffset(element)? as usize).saturating_add(element);
            let slot = &mut verified[(table / 4) % 64];
            if *slot != table {
                VerifiedResponse::run_verifier(v, table)?;
                *slot = table;
            }
        }
        Ok(())
    }
}

/// Verifies and opens a `Welcome` received during the handshake.
pub fn read_welcome(bytes: &[u8]) -> Result<Welcome<'_>> {
    flatbuffers::root::<Welcome>(bytes)
        .map_err(|e| BridgeError::Handshake(format!("malformed welcome from the JVM: {e}")))
}

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = ProtocolVersion::Current.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value as V;
    use flatbuffers::FlatBufferBuilder;

    /// A batch reply as the JVM writes one: `shared` outcomes encoded once
    /// and referenced by many items, the others one table each, and an
    /// item that is itself a batch reply.
    fn batch_reply(items: usize) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let reply = |fbb: &mut FlatBufferBuilder<'static>, v: &V| {
            let value = v.encode(fbb);
            Response::create(
                fbb,
                &ResponseArgs {
                    value: Some(value),
                    ..Default::default()
                },
            )
        };
        let yes = reply(&mut fbb, &V::Bool(true));
        let message = fbb.create_string("skipped");
        let error = JavaError::create(
            &mut fbb,
            &JavaErrorArgs {
                message: Some(message),
                ..Default::default()
            },
        );
        let skipped = Response::create(
            &mut fbb,
            &ResponseArgs {
                error: Some(error),
                ..Default::default()
            },
        );
        let inner = [reply(&mut fbb, &V::Int(1)), yes];
        let inner = fbb.create_vector(&inner);
        let nested = Response::create(
            &mut fbb,
            &ResponseArgs {
                batch: Some(inner),
                ..Default::default()
            },
        );
        let mut offsets = Vec::new();
        for i in 0..items {
            offsets.push(match i % 5 {
                0 | 1 => yes,
                2 => reply(&mut fbb, &V::String(format!("item {i}"))),
                3 => skipped,
                _ => nested,
            });
        }
        let batch = fbb.create_vector(&offsets);
        let root = Response::create(
            &mut fbb,
            &ResponseArgs {
                batch: Some(batch),
                ..Default::default()
            },
        );
        fbb.finish(root, None);
        fbb.finished_data().to_vec()
    }

    fn generic(bytes: &[u8]) -> bool {
        flatbuffers::root_with_opts::<Response>(&verifier_options(), bytes).is_ok()
    }

    #[test]
    fn a_batch_reply_with_shared_items_reads_back() {
        let bytes = batch_reply(500);
        assert!(generic(&bytes));
        let items = read_response(&bytes).unwrap().batch().unwrap();
        assert_eq!(items.len(), 500);
        assert!(items.get(0).value().unwrap().b());
        assert_eq!(items.get(2).value().unwrap().s(), Some("item 2"));
        assert_eq!(items.get(3).error().unwrap().message(), Some("skipped"));
        assert_eq!(items.get(4).batch().unwrap().get(0).value().unwrap().i(), 1);
    }

    proptest::proptest! {
        /// Verifying each shared table once accepts exactly what the
        /// generic verifier accepts, whatever the damage.
        #[test]
        fn damaged_replies_are_judged_as_the_generic_verifier_does(
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..6),
            items in 1usize..40,
        ) {
            let mut bytes = batch_reply(items);
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            proptest::prop_assert_eq!(read_response(&bytes).is_ok(), generic(&bytes));
        }
    }
}
