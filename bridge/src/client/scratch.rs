//! Scratch buffers: a request encoder and a response buffer per call,
//! pooled so steady-state calls allocate nothing, and the exchange that
//! copies (or keeps in place, if spilled) the response into one.

use std::sync::Mutex;

use flatbuffers::FlatBufferBuilder;

use super::callbacks::CallbackHandler;
use super::lanes::LaneGuard;
use super::Client;
use crate::arrow_plane::ArrowPlane;
use crate::error::Result;
use crate::lane::Interrupt;
use crate::protocol::{self as fb, RequestHead};
use crate::scalar_template::{Scalar, ScalarTemplates};
use crate::spill::{Message, RegionAllocator, RegionSource, SpilledMessage};

/// An encoder and a response buffer, reused across calls so steady-state
/// calls do not allocate. Requests are encoded into one *before* a lane is
/// taken and decoded from it *after* the lane is returned, so no user code
/// (Python conversion hooks, which may call Java themselves) ever runs while
/// a lane is held.
pub struct Scratch {
    /// The request encoder.
    pub builder: FlatBufferBuilder<'static>,
    /// A request put together outside the builder (a batch's header and its
    /// encoded commands, see [`crate::BatchEncoder`]).
    pub assembled: Vec<u8>,
    /// A copy of the last response, unless it was spilled.
    pub response: Vec<u8>,
    /// A request too large for a slot, built in the payload arena instead of
    /// `builder` (see [`crate::spill::RegionAllocator`]); when set, it is the
    /// request [`PooledScratch::exchange`] sends.
    pub spill_builder: Option<FlatBufferBuilder<'static, RegionAllocator>>,
    /// The last response, when the JVM spilled it into its arena: read in
    /// place, and released when the next exchange starts or the scratch
    /// goes back to the pool.
    pub spilled: Option<SpilledMessage>,
    /// Recent single calls of scalars, for [`Scratch::scalar_request`].
    templates: ScalarTemplates,
}

impl Scratch {
    /// The finished request: the spill builder's if one was used, else the builder's.
    pub fn request(&self) -> &[u8] {
        match &self.spill_builder {
            Some(b) => b.finished_data(),
            None => self.builder.finished_data(),
        }
    }

    /// Puts in `assembled` the request for `head` with `args`, a copy of an
    /// earlier call of the same shape with the id and values written in (see
    /// [`crate::scalar_template`]); `false` (nothing written) for more than
    /// [`crate::scalar_template::MAX_SCALAR_ARGS`] arguments. It carries no releases: callers take
    /// this path only when none wait.
    pub fn scalar_request(&mut self, head: &RequestHead<'_>, args: &[Scalar]) -> bool {
        let Some(template) = self.templates.get(&mut self.builder, head, args) else {
            return false;
        };
        // The root offset, then padding: the command ends 8-aligned, as it was built.
        let out = &mut self.assembled;
        out.clear();
        out.extend_from_slice(&[0; ROOT_AND_PADDING]);
        template.append(head, args, out);
        let root = (out.len() - template.table()) as u32;
        out[..4].copy_from_slice(&root.to_le_bytes());
        true
    }
}

/// A scalar request's bytes before its command: the root offset and padding
/// to [`crate::scalar_template::ALIGN`].
const ROOT_AND_PADDING: usize = 8;

/// Buffers larger than this are not kept for reuse.
const SCRATCH_KEEP_LIMIT: usize = 4 << 20;

/// A [`Scratch`] borrowed from the client's pool; returned on drop.
pub struct PooledScratch<'c> {
    pool: &'c Mutex<Vec<Scratch>>,
    scratch: Option<Scratch>,
    arrow: &'c ArrowPlane,
    /// (lane, seq) of the answer copied into `response` that the JVM waits to
    /// see acknowledged: sent once it has been decoded (the response is
    /// replaced or the scratch dropped).
    unacked: Option<(usize, u64)>,
}

impl std::ops::Deref for PooledScratch<'_> {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        self.scratch.as_ref().expect("scratch held")
    }
}

impl std::ops::DerefMut for PooledScratch<'_> {
    fn deref_mut(&mut self) -> &mut Scratch {
        self.scratch.as_mut().expect("scratch held")
    }
}

impl Drop for PooledScratch<'_> {
    fn drop(&mut self) {
        self.acknowledge();
        if let Some(mut s) = self.scratch.take() {
            if s.response.capacity() <= SCRATCH_KEEP_LIMIT
                && s.assembled.capacity() <= SCRATCH_KEEP_LIMIT
                && s.builder.unfinished_data().len() <= SCRATCH_KEEP_LIMIT
            {
                s.builder.reset();
                s.assembled.clear();
                s.response.clear();
                s.spilled = None;
                s.spill_builder = None;
                self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(s);
            }
        }
    }
}

impl PooledScratch<'_> {
    /// The answer in `response` has been decoded (or never will be): tells
    /// the JVM, if it waits to know.
    fn acknowledge(&mut self) {
        if let Some((lane, seq)) = self.unacked.take() {
            self.arrow.queue_ack(lane, seq);
        }
    }

    /// Sends the finished request over `lane`, waits (running callbacks),
    /// and copies the response into `self.response`.
    pub fn exchange(
        &mut self,
        lane: &mut LaneGuard<'_>,
        interrupt: &mut dyn Interrupt,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<()> {
        self.send(lane, interrupt, callbacks, false)
    }

    /// As [`exchange`](Self::exchange), for the request in `self.assembled`
    /// instead of the builder's.
    pub fn exchange_assembled(
        &mut self,
        lane: &mut LaneGuard<'_>,
        interrupt: &mut dyn Interrupt,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<()> {
        self.send(lane, interrupt, callbacks, true)
    }

    /// Both exchanges: acknowledges the previous answer (it is about to be
    /// overwritten), sends the request, and keeps the new answer's
    /// acknowledgement for when it has been decoded.
    fn send(
        &mut self,
        lane: &mut LaneGuard<'_>,
        interrupt: &mut dyn Interrupt,
        callbacks: &mut dyn CallbackHandler,
        assembled: bool,
    ) -> Result<()> {
        self.acknowledge();
        let scratch = self.scratch.as_mut().expect("scratch held");
        let request = match (&scratch.spill_builder, assembled) {
            (_, true) => &scratch.assembled[..],
            (Some(b), false) => b.finished_data(),
            (None, false) => scratch.builder.finished_data(),
        };
        send_and_copy(
            lane,
            request,
            (&mut scratch.response, &mut scratch.spilled),
            interrupt,
            callbacks,
        )?;
        self.unacked = lane.take_unacked().map(|seq| (lane.index, seq));
        Ok(())
    }

    /// The verified response copied by [`exchange`](Self::exchange).
    pub fn response(&self) -> Result<fb::Response<'_>> {
        match &self.spilled {
            Some(spilled) => fb::read_response(spilled.bytes()),
            None => fb::read_response(&self.response),
        }
    }
}

/// Sends `request` on `lane`, waits (running callbacks) and copies the
/// response into `response`, or keeps it in place if the JVM spilled it.
fn send_and_copy(
    lane: &mut LaneGuard<'_>,
    request: &[u8],
    (response, spilled): (&mut Vec<u8>, &mut Option<SpilledMessage>),
    interrupt: &mut dyn Interrupt,
    callbacks: &mut dyn CallbackHandler,
) -> Result<()> {
    // The previous spilled response is released with this request.
    *spilled = None;
    lane.exchange_with(request, interrupt, callbacks)?;
    response.clear();
    match Message::read(lane, &lane.client.shared.arrow)? {
        Message::Slot(bytes) => response.extend_from_slice(bytes),
        Message::Spilled(message) => *spilled = Some(message),
    }
    Ok(())
}

impl Client {
    /// An encoder and response buffer from the pool.
    pub fn scratch(&self) -> PooledScratch<'_> {
        let reused = self
            .shared
            .scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        PooledScratch {
            arrow: &self.shared.arrow,
            unacked: None,
            pool: &self.shared.scratch,
            scratch: Some(reused.unwrap_or_else(|| Scratch {
                builder: FlatBufferBuilder::with_capacity(4096),
                assembled: Vec::new(),
                response: Vec::with_capacity(4096),
                spilled: None,
                spill_builder: None,
                templates: ScalarTemplates::default(),
            })),
        }
    }
}

/// Requests too large for a slot are built in the session's payload arena.
impl RegionSource for Client {
    fn allocate_local(&self, len: usize) -> Result<gatun_arena::Region> {
        self.arrow().allocate_local(len)
    }

    fn release_local(&self, handle: gatun_arena::RegionHandle) {
        self.arrow().arena().release_local(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Action, ValueKind};

    fn scratch() -> Scratch {
        Scratch {
            builder: FlatBufferBuilder::new(),
            assembled: Vec::new(),
            response: Vec::new(),
            spilled: None,
            spill_builder: None,
            templates: ScalarTemplates::default(),
        }
    }

    #[test]
    fn a_scalar_request_reads_back_as_built_for_every_shape_and_value() {
        let mut s = scratch();
        let calls: [(i64, Option<&str>, &[Scalar]); 6] = [
            (0, Some("java.lang.Math"), &[Scalar::Int(-5)]),
            (
                0,
                Some("java.lang.Math"),
                &[Scalar::Int(i64::MAX), Scalar::Double(-0.0)],
            ),
            (
                42,
                None,
                &[Scalar::Bool(true), Scalar::Null, Scalar::Bool(false)],
            ),
            (0, Some("java.lang.Math"), &[Scalar::Int(7)]), // the first shape again
            (
                43,
                None,
                &[Scalar::Bool(false), Scalar::Null, Scalar::Bool(true)],
            ),
            (44, None, &[]),
        ];
        for (object_id, class_name, args) in calls {
            let head = RequestHead {
                action: if object_id == 0 {
                    Action::InvokeStaticMethod
                } else {
                    Action::InvokeMethod
                },
                object_id,
                class_name,
                name: Some("m"),
                ..Default::default()
            };
            assert!(s.scalar_request(&head, args));
            // The verifier checks alignment too.
            let r = flatbuffers::root::<fb::Request>(&s.assembled).expect("a valid request");
            assert_eq!(
                (r.action(), r.object_id(), r.class_name(), r.name()),
                (head.action, object_id, class_name, Some("m"))
            );
            assert!(r.release_ids().is_none());
            let sent: Vec<Scalar> = r
                .args()
                .unwrap()
                .iter()
                .map(|v| match v.kind() {
                    ValueKind::Null => Scalar::Null,
                    ValueKind::Bool => Scalar::Bool(v.b()),
                    ValueKind::Int => Scalar::Int(v.i()),
                    ValueKind::Double => Scalar::Double(v.d()),
                    other => panic!("kind {other:?}"),
                })
                .collect();
            assert_eq!(sent.len(), args.len());
            for (a, b) in sent.iter().zip(args) {
                match (a, b) {
                    (Scalar::Double(x), Scalar::Double(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                    _ => assert_eq!(a, b),
                }
            }
        }
        let five = [Scalar::Null; 5];
        assert!(!s.scalar_request(&RequestHead::default(), &five));
    }
}
