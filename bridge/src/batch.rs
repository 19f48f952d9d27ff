//! A batch's commands, each encoded once when it is queued and later copied,
//! unchanged, into as many `Batch` requests as the lane slot needs.
//!
//! FlatBuffers offsets are relative, so a table and everything it points to
//! can move as one block. Each command is built alone (with its own vtables
//! and strings) and only its bytes are kept; a request is a small header built
//! by FlatBuffers followed by the bytes of a run of commands:
//!
//! ```text
//!   one Batch request (at most a lane slot)
//!   ┌──────────────── header: a FlatBufferBuilder ─────────────────┬──── commands, as encoded ────┐
//!   │ root │ vtable │ Request │ release_ids: [long] │ batch: [n x uoffset] │ c0    │ c1    │ … │ c(n-1)  │
//!   └──────────────────────────────────────────────────────┼──────┼┴──▲────┴──▲────┴───┴─────────┘
//!                                                 batch[0] └──────┼───┘       │  (each a Request table)
//!                                                 batch[1] ───────┴───────────┘
//! ```
//!
//! Alignment: a builder aligns from the end of its buffer, so every command
//! is stored ending on an 8-byte boundary, and the header's length is a
//! multiple of 8 (its `release_ids` vector of longs is always written); the
//! commands' 8-byte fields stay aligned in the request. A request is checked
//! by the same verifier as any message (see the tests).
//!
//! Commands whose arguments are all scalars ([`BatchEncoder::push_scalars`])
//! are usually shaped like one queued shortly before (the same method called
//! in a loop): such a command is the earlier one's bytes with the object id
//! and the values written in, no FlatBuffers work at all. The fields written
//! in are always present in those commands, even when they hold the default
//! FlatBuffers would leave out.

use std::ops::Range;
use std::sync::Arc;

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, WIPOffset};

use crate::object_releases::{ObjectReleases, TakenReleases, MAX_RELEASES_PER_MESSAGE};
use crate::protocol::{self as fb, build_request, Action, BatchKind, RequestHead};
use crate::scalar_template::ScalarTemplates;
pub use crate::scalar_template::{Scalar, MAX_SCALAR_ARGS};

/// A command's encoded arguments.
pub type ArgsOffset = WIPOffset<Vector<'static, ForwardsUOffset<fb::Value<'static>>>>;

/// Bytes of a request header beyond its `release_ids` and `batch` elements:
/// root offset, alignment, the Request vtable and table, both vector lengths.
pub const HEADER_BYTES: usize = 96;

/// Alignment every command keeps (the largest scalar in the protocol).
const ALIGN: usize = crate::scalar_template::ALIGN;

/// Where a command's bytes end in [`BatchEncoder`]'s buffer, and how far
/// before that end its `Request` table starts.
#[derive(Debug, Clone, Copy)]
struct Command {
    end: usize,
    table: usize,
}

/// Commands encoded as they are queued; see the module documentation.
///
/// ```
/// use gatun_bridge::batch::BatchEncoder;
/// use gatun_bridge::protocol::Action;
/// use gatun_bridge::{RequestHead, Value};
/// let mut batch = BatchEncoder::new();
/// let head = RequestHead { action: Action::InvokeMethod, object_id: 7, name: Some("add"), ..Default::default() };
/// batch.push(&head, |fbb| Ok::<_, ()>(Some({
///     let arg = Value::Int(1).encode(fbb);
///     fbb.create_vector(&[arg])
/// }))).unwrap();
/// let run = batch.fit(0, 1 << 20);
/// let (mut header, mut request) = (flatbuffers::FlatBufferBuilder::new(), Vec::new());
/// batch.write_request(run, &[], false, &mut header, &mut request);
/// let sent = flatbuffers::root::<gatun_bridge::protocol::Request>(&request).unwrap();
/// assert_eq!(sent.batch().unwrap().get(0).name(), Some("add"));
/// ```
pub struct BatchEncoder {
    /// Reused for every command (reset before each).
    builder: FlatBufferBuilder<'static>,
    /// The commands' bytes, back to back, each ending 8-aligned.
    bytes: Vec<u8>,
    commands: Vec<Command>,
    /// Shapes of recent scalar commands.
    templates: ScalarTemplates,
    /// Which per-kind limit counts the batch (the JVM's `max_method_calls`
    /// for `invoke_methods`, ...); sent with every request of it.
    kind: BatchKind,
}

impl Default for BatchEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchEncoder {
    /// No commands yet.
    pub fn new() -> Self {
        BatchEncoder {
            builder: FlatBufferBuilder::with_capacity(256),
            bytes: Vec::new(),
            commands: Vec::new(),
            templates: ScalarTemplates::default(),
            kind: BatchKind::Items,
        }
    }

    /// Marks the batch as `invoke_methods` or `create_objects`, so the JVM
    /// counts it against that limit too (default: [`BatchKind::Items`]).
    pub fn set_kind(&mut self, kind: BatchKind) {
        self.kind = kind;
    }

    /// Commands queued.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command is queued.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Encodes one command. `args` writes its arguments into the builder
    /// (first: FlatBuffers children come before their parent); if it fails,
    /// nothing is queued. Returns the command's size in bytes.
    pub fn push<E>(
        &mut self,
        head: &RequestHead<'_>,
        args: impl FnOnce(&mut FlatBufferBuilder<'static>) -> Result<Option<ArgsOffset>, E>,
    ) -> Result<usize, E> {
        let fbb = &mut self.builder;
        fbb.reset();
        let args = args(fbb)?;
        let table = build_request(fbb, head, args, &[], None, false);
        let data = fbb.unfinished_data();
        // Padding goes in front: alignment counts from the end.
        let start = self.bytes.len();
        let pad = (ALIGN - data.len() % ALIGN) % ALIGN;
        self.bytes.resize(start + pad, 0);
        self.bytes.extend_from_slice(data);
        self.commands.push(Command {
            end: self.bytes.len(),
            table: table.value() as usize,
        });
        Ok(self.bytes.len() - start)
    }

    /// Encodes a command whose arguments are all scalars; `None` if it has
    /// more than [`MAX_SCALAR_ARGS`]. A command shaped like a recent one (same
    /// action, names, flags and argument kinds) is a copy of that one's bytes
    /// with the object id and values written in. Returns the command's size.
    pub fn push_scalars(&mut self, head: &RequestHead<'_>, args: &[Scalar]) -> Option<usize> {
        let template = self.templates.get(&mut self.builder, head, args)?;
        let start = self.bytes.len();
        template.append(head, args, &mut self.bytes);
        let end = self.bytes.len();
        self.commands.push(Command {
            end,
            table: template.table(),
        });
        Some(end - start)
    }

    /// Drops the last command queued (one too large to send, for example).
    pub fn pop(&mut self) {
        if self.commands.pop().is_some() {
            self.bytes.truncate(self.start_of(self.commands.len()));
        }
    }

    /// Drops every command and the memory they took.
    pub fn clear(&mut self) {
        *self = BatchEncoder::new();
    }

    fn start_of(&self, index: usize) -> usize {
        index.checked_sub(1).map_or(0, |i| self.commands[i].end)
    }

    /// Bytes of the request carrying `commands`, without releases.
    pub fn request_len(&self, commands: Range<usize>) -> usize {
        if commands.is_empty() {
            return HEADER_BYTES;
        }
        let body = self.commands[commands.end - 1].end - self.start_of(commands.start);
        HEADER_BYTES + 4 * commands.len() + body
    }

    /// The longest run of commands from `start` whose request fits `limit`
    /// bytes; always at least one command (if that one alone is too large,
    /// sending it fails with [`crate::BridgeError::TooLarge`]).
    pub fn fit(&self, start: usize, limit: usize) -> Range<usize> {
        let mut size = HEADER_BYTES;
        let mut end = start;
        for (i, command) in self.commands.iter().enumerate().skip(start) {
            size += 4 + command.end - self.start_of(i);
            if size > limit && end > start {
                break;
            }
            end = i + 1;
        }
        start..end
    }

    /// Writes the `Batch` request carrying `commands` (and `release_ids`,
    /// released before any command runs) into `out`, building its header in
    /// `header` (reset first).
    pub fn write_request(
        &self,
        commands: Range<usize>,
        release_ids: &[i64],
        stop_on_error: bool,
        header: &mut FlatBufferBuilder<'_>,
        out: &mut Vec<u8>,
    ) {
        header.reset();
        let n = commands.len();
        let body = self.start_of(commands.start)..self.start_of(commands.end);
        // The offsets vector goes first, so it ends where the header ends and
        // the body begins: element j sits 4 * (n - j) bytes before the body.
        header.start_vector::<u32>(n);
        for (j, i) in commands.clone().enumerate().rev() {
            let command = self.commands[i];
            let in_body = command.end - body.start - command.table;
            header.push((4 * (n - j) + in_body) as u32);
        }
        let batch = WIPOffset::new(header.end_vector::<u32>(n).value());
        // Always written, even empty: its 8-byte alignment makes the header's
        // length a multiple of 8.
        let release_ids = header.create_vector(release_ids);
        let request = fb::Request::create(
            header,
            &fb::RequestArgs {
                action: Action::Batch,
                release_ids: Some(release_ids),
                batch: Some(batch),
                stop_on_error,
                // The JVM's limits count the whole batch, not this part of it.
                batch_total: if n < self.len() { self.len() as i64 } else { 0 },
                batch_kind: self.kind,
                ..Default::default()
            },
        );
        header.finish(request, None);
        let head = header.finished_data();
        debug_assert_eq!(head.len() % ALIGN, 0);
        out.clear();
        out.reserve(head.len() + body.len());
        out.extend_from_slice(head);
        out.extend_from_slice(&self.bytes[body]);
    }

    /// [`fit`](Self::fit) from `start` within `limit`, then
    /// [`write_request`](Self::write_request) with as many queued releases as
    /// the room left allows. Returns the commands sent and the releases taken
    /// (to [`ObjectReleases::restore`] if the request is never sent).
    pub fn next_request(
        &self,
        start: usize,
        limit: usize,
        releases: &Arc<ObjectReleases>,
        stop_on_error: bool,
        header: &mut FlatBufferBuilder<'_>,
        out: &mut Vec<u8>,
    ) -> (Range<usize>, TakenReleases) {
        let run = self.fit(start, limit);
        let room = limit.saturating_sub(self.request_len(run.clone())) / 8;
        let taken = releases.take(room.min(MAX_RELEASES_PER_MESSAGE));
        self.write_request(run.clone(), &taken, stop_on_error, header, out);
        (run, taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn call(batch: &mut BatchEncoder, object_id: i64, name: &str, args: &[Value]) -> usize {
        // Heads of varied shapes give commands of varied lengths modulo 8.
        let head = RequestHead {
            action: Action::InvokeMethod,
            object_id,
            class_name: (object_id % 5 == 0).then_some("a.B"),
            name: Some(name),
            return_object_ref: object_id % 7 == 0,
        };
        batch
            .push(&head, |fbb| {
                let encoded: Vec<_> = args.iter().map(|a| a.encode(fbb)).collect();
                Ok::<_, ()>(Some(fbb.create_vector(&encoded)))
            })
            .unwrap()
    }

    fn mixed(n: usize) -> BatchEncoder {
        let mut batch = BatchEncoder::new();
        for i in 0..n {
            let args = match i % 4 {
                0 => vec![Value::Int(i as i64)],
                1 => vec![Value::String("x".repeat(i % 13)), Value::Double(0.5)],
                2 => vec![],
                _ => vec![Value::List(vec![Value::Bool(true), Value::Int(-1)])],
            };
            call(&mut batch, i as i64 + 1, &format!("m{}", i % 3), &args);
        }
        batch
    }

    /// The request as the JVM reads it, through the alignment-checking verifier.
    fn read(request: &[u8]) -> fb::Request<'_> {
        flatbuffers::root::<fb::Request>(request).expect("a valid, aligned request")
    }

    #[test]
    fn spliced_commands_read_back_as_encoded() {
        let batch = mixed(50);
        let mut header = FlatBufferBuilder::new();
        let mut out = Vec::new();
        batch.write_request(0..50, &[11, 12], true, &mut header, &mut out);
        let request = read(&out);
        assert_eq!(request.action(), Action::Batch);
        assert!(request.stop_on_error());
        assert_eq!(
            request.release_ids().unwrap().iter().collect::<Vec<_>>(),
            [11, 12]
        );
        let items = request.batch().unwrap();
        assert_eq!(items.len(), 50);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.action(), Action::InvokeMethod);
            assert_eq!(item.object_id(), i as i64 + 1);
            assert_eq!(item.name(), Some(format!("m{}", i % 3).as_str()));
            let args: Vec<_> = item
                .args()
                .unwrap()
                .iter()
                .map(|v| Value::decode(v).unwrap())
                .collect();
            match i % 4 {
                0 => assert_eq!(args, [Value::Int(i as i64)]),
                1 => assert_eq!(
                    args,
                    [Value::String("x".repeat(i % 13)), Value::Double(0.5)]
                ),
                2 => assert!(args.is_empty()),
                _ => assert_eq!(args, [Value::List(vec![Value::Bool(true), Value::Int(-1)])]),
            }
        }
    }

    #[test]
    fn any_run_of_commands_is_a_valid_request_of_the_size_announced() {
        let batch = mixed(40);
        let mut header = FlatBufferBuilder::new();
        let mut out = Vec::new();
        for start in [0, 1, 7, 39] {
            for end in [start + 1, 40] {
                for releases in [&[][..], &[5; 9][..]] {
                    batch.write_request(start..end, releases, false, &mut header, &mut out);
                    let items = read(&out).batch().unwrap();
                    assert_eq!(items.len(), end - start);
                    assert_eq!(items.get(0).object_id(), start as i64 + 1);
                    assert_eq!(items.get(end - start - 1).object_id(), end as i64);
                    assert_eq!(out.len() % ALIGN, 0);
                    assert!(out.len() <= batch.request_len(start..end) + 8 * releases.len());
                }
            }
        }
    }

    #[test]
    fn runs_fit_the_limit_and_cover_every_command() {
        let batch = mixed(1000);
        let limit = 4096;
        let (mut header, mut out) = (FlatBufferBuilder::new(), Vec::new());
        let mut start = 0;
        let mut runs = 0;
        while start < batch.len() {
            let run = batch.fit(start, limit);
            assert!(!run.is_empty());
            assert!(batch.request_len(run.clone()) <= limit);
            assert!(run.end == batch.len() || batch.request_len(start..run.end + 1) > limit);
            batch.write_request(run.clone(), &[], false, &mut header, &mut out);
            assert!(out.len() <= limit);
            start = run.end;
            runs += 1;
        }
        assert!(runs > 10, "1000 commands in {runs} requests of 4 KiB");
    }

    #[test]
    fn every_part_of_a_split_batch_names_the_whole_and_its_kind() {
        let mut batch = mixed(100);
        batch.set_kind(BatchKind::MethodCalls);
        let (mut header, mut out) = (FlatBufferBuilder::new(), Vec::new());
        batch.write_request(0..40, &[], false, &mut header, &mut out);
        let part = read(&out);
        assert_eq!(part.batch_total(), 100);
        assert_eq!(part.batch_kind(), BatchKind::MethodCalls);
        batch.write_request(0..100, &[], false, &mut header, &mut out);
        assert_eq!(read(&out).batch_total(), 0, "a whole batch needs no total");
    }

    #[test]
    fn releases_take_only_the_room_left() {
        let batch = mixed(10);
        let queue = Arc::new(ObjectReleases::default());
        for id in 0..1000 {
            queue.push(id);
        }
        let limit = batch.request_len(0..10) + 8 * 100;
        let (mut header, mut out) = (FlatBufferBuilder::new(), Vec::new());
        let (run, taken) = batch.next_request(0, limit, &queue, false, &mut header, &mut out);
        assert_eq!(run, 0..10);
        assert_eq!(taken.len(), 100);
        assert_eq!(queue.len(), 900);
        assert!(out.len() <= limit);
        assert_eq!(read(&out).release_ids().unwrap().len(), 100);
    }

    #[test]
    fn a_command_too_large_alone_still_gets_a_run_of_its_own() {
        let mut batch = BatchEncoder::new();
        call(&mut batch, 1, "a", &[]);
        let big = call(&mut batch, 2, "b", &[Value::String("y".repeat(10_000))]);
        call(&mut batch, 3, "c", &[]);
        assert!(big > 10_000);
        assert_eq!(batch.fit(0, 2048), 0..1);
        assert_eq!(batch.fit(1, 2048), 1..2);
        assert_eq!(batch.fit(2, 2048), 2..3);
    }

    fn value_of(arg: Scalar) -> Value {
        match arg {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::Double(d) => Value::Double(d),
        }
    }

    /// Everything the JVM reads of the commands of a request.
    type Read = (
        Action,
        i64,
        Option<String>,
        Option<String>,
        bool,
        Vec<Value>,
    );

    fn read_all(batch: &BatchEncoder) -> Vec<Read> {
        let (mut header, mut out) = (FlatBufferBuilder::new(), Vec::new());
        batch.write_request(0..batch.len(), &[], false, &mut header, &mut out);
        let items = read(&out).batch().unwrap();
        items
            .iter()
            .map(|r| {
                let args = r.args().map_or(vec![], |a| {
                    a.iter().map(|v| Value::decode(v).unwrap()).collect()
                });
                let text = |s: Option<&str>| s.map(str::to_owned);
                let (class_name, name) = (text(r.class_name()), text(r.name()));
                (
                    r.action(),
                    r.object_id(),
                    class_name,
                    name,
                    r.return_object_ref(),
                    args,
                )
            })
            .collect()
    }

    fn scalar() -> impl proptest::strategy::Strategy<Value = Scalar> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Scalar::Null),
            any::<bool>().prop_map(Scalar::Bool),
            prop_oneof![Just(0i64), any::<i64>()].prop_map(Scalar::Int),
            prop_oneof![Just(0.0f64), Just(-0.0), any::<f64>()].prop_map(Scalar::Double),
        ]
    }

    proptest::proptest! {
        /// Copied-and-written scalar commands read exactly as commands built
        /// in full, whatever the mix of shapes (more than are remembered).
        #[test]
        fn scalar_commands_read_as_if_built_in_full(
            commands in proptest::collection::vec(
                (0usize..6, proptest::prop_oneof![proptest::strategy::Just(0i64), 1i64..5],
                 proptest::collection::vec(scalar(), 0..=MAX_SCALAR_ARGS)),
                1..60,
            ),
        ) {
            let names = ["add", "get", "put"];
            let (mut copied, mut built) = (BatchEncoder::new(), BatchEncoder::new());
            for (shape, object_id, args) in &commands {
                let head = RequestHead {
                    action: if shape % 2 == 0 { Action::InvokeMethod } else { Action::InvokeStaticMethod },
                    object_id: *object_id,
                    class_name: (shape % 2 == 1).then_some("java.lang.Math"),
                    name: Some(names[shape % 3]),
                    return_object_ref: *shape == 4,
                };
                let size = copied.push_scalars(&head, args).unwrap();
                proptest::prop_assert_eq!(size % ALIGN, 0);
                built.push(&head, |fbb| {
                    let values: Vec<_> = args.iter().map(|a| value_of(*a).encode(fbb)).collect();
                    Ok::<_, ()>(Some(fbb.create_vector(&values)))
                }).unwrap();
            }
            let (copied, built) = (read_all(&copied), read_all(&built));
            proptest::prop_assert_eq!(copied.len(), commands.len());
            proptest::prop_assert_eq!(built.len(), commands.len());
            // Doubles by bits: NaN and -0.0 survive exactly (a command built
            // in full loses the sign of -0.0, which FlatBuffers leaves out as
            // equal to the default 0.0).
            let bits = |v: &[Value]| -> Vec<String> {
                v.iter().map(|x| match x {
                    Value::Double(d) => format!("d{:x}", d.to_bits()),
                    other => format!("{other:?}"),
                }).collect()
            };
            for ((c, b), (_, _, args)) in copied.iter().zip(&built).zip(&commands) {
                proptest::prop_assert_eq!(&c.0, &b.0);
                proptest::prop_assert_eq!((c.1, &c.2, &c.3, c.4), (b.1, &b.2, &b.3, b.4));
                let expected: Vec<_> = args.iter().map(|a| value_of(*a)).collect();
                proptest::prop_assert_eq!(bits(&c.5), bits(&expected));
            }
        }
    }

    #[test]
    fn more_scalar_arguments_than_a_template_holds_are_declined() {
        let mut batch = BatchEncoder::new();
        let head = RequestHead {
            action: Action::InvokeStaticMethod,
            class_name: Some("a.B"),
            name: Some("f"),
            ..Default::default()
        };
        assert!(batch
            .push_scalars(&head, &[Scalar::Int(1); MAX_SCALAR_ARGS + 1])
            .is_none());
        assert!(batch.is_empty());
    }

    #[test]
    fn a_failed_or_popped_command_leaves_no_trace() {
        let mut batch = BatchEncoder::new();
        call(&mut batch, 1, "a", &[Value::Int(1)]);
        let head = RequestHead {
            action: Action::InvokeMethod,
            ..Default::default()
        };
        let failed = batch.push(&head, |fbb| {
            fbb.create_string("half-written");
            Err::<Option<ArgsOffset>, _>("conversion failed")
        });
        assert_eq!(failed, Err("conversion failed"));
        call(&mut batch, 2, "b", &[Value::Int(2)]);
        call(&mut batch, 3, "c", &[Value::Int(3)]);
        batch.pop();
        assert_eq!(batch.len(), 2);
        let (mut header, mut out) = (FlatBufferBuilder::new(), Vec::new());
        batch.write_request(0..2, &[], false, &mut header, &mut out);
        let ids: Vec<_> = read(&out)
            .batch()
            .unwrap()
            .iter()
            .map(|r| r.object_id())
            .collect();
        assert_eq!(ids, [1, 2]);
    }
}
