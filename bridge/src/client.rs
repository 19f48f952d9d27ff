//! The client: launches the JVM, owns the control segment and the lanes, and
//! runs calls. Usable from plain Rust; the Python binding drives the same
//! type through [`Client::acquire_lane`] so it can encode and decode Python
//! objects directly.
//!
//! ```no_run
//! use gatun_bridge::{Client, ClientOptions, Value};
//! let client = Client::launch(&ClientOptions::with_jar("java/target/gatun-server.jar"))?;
//! let max = client.invoke_static("java.lang.Math", "max", &[Value::Int(3), Value::Int(7)])?;
//! assert_eq!(max, Value::Int(7));
//! # Ok::<(), gatun_bridge::BridgeError>(())
//! ```

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, WIPOffset};
use gatun_arena::Segment;

use crate::arrow_plane::{encode_descriptor, ArenaSizing, ArrowPlane, PreparedBatch};
use crate::batch::BatchEncoder;
use crate::control::{self, ControlLayout, HeaderFields};
use crate::error::{BridgeError, JavaError, Result};
use crate::handshake::{self, HelloFields};
use crate::lane::{Interrupt, Lane, LaneRole, NoInterrupt, WaitStrategy};
use crate::launcher::{self, JvmProcess, ServerCommand};
use crate::protocol::{self as fb, Action};
use crate::scalar_template::{Scalar, ScalarTemplates};
use crate::spill::{self, Message, RegionAllocator, SpilledMessage};
use crate::value::Value;

/// Most released ids piggybacked on one request.
pub const MAX_RELEASES_PER_MESSAGE: usize = 8192;

/// How to launch and connect.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `java` to use; else `JAVA_HOME`, else `PATH`.
    pub java: Option<PathBuf>,
    /// The server jar.
    pub jar: PathBuf,
    /// Extra classpath entries.
    pub classpath: Vec<String>,
    /// Extra JVM options.
    pub jvm_options: Vec<String>,
    /// Lanes (concurrent calls).
    pub lanes: usize,
    /// Extra lanes for callbacks that Java fires on threads other than the
    /// one serving a Python call (see [`Client::serve_callback_lane`]).
    pub callback_lanes: usize,
    /// Bytes per request slot and per response slot.
    pub slot_size: usize,
    /// How long the JVM may take to become ready.
    pub startup_timeout: Duration,
    /// The payload arena for Arrow data sent to the JVM.
    pub arena: ArenaSizing,
    /// How waits spin before blocking.
    pub doorbell: WaitStrategy,
    /// Check string columns from the JVM for UTF-8 on arrival (see
    /// [`Imported`](crate::arrow_plane::Imported)); off by default.
    pub verify_utf8: bool,
}

impl ClientOptions {
    /// Defaults with the given server jar: 4 lanes, 1 MiB slots, 30 s start-up.
    pub fn with_jar(jar: impl Into<PathBuf>) -> Self {
        ClientOptions {
            java: None,
            jar: jar.into(),
            classpath: Vec::new(),
            jvm_options: Vec::new(),
            lanes: 4,
            callback_lanes: 2,
            slot_size: 1 << 20,
            startup_timeout: Duration::from_secs(30),
            arena: ArenaSizing::default(),
            doorbell: WaitStrategy::default(),
            verify_utf8: false,
        }
    }
}

/// Ids of Java objects whose proxies died, waiting to ride the next request.
#[derive(Debug, Default)]
pub struct ReleaseQueue {
    queued: Mutex<Queued>,
    len: AtomicUsize,
}

#[derive(Debug, Default)]
struct Queued {
    ids: Vec<i64>,
    /// The buffer the last [`TakenReleases`] gave back, so that taking ids
    /// (once per request) allocates nothing.
    spare: Vec<i64>,
}

/// Ids taken from a [`ReleaseQueue`] for one request; dropping it gives its
/// buffer back to the queue for the next request.
#[derive(Debug)]
pub struct TakenReleases {
    ids: Vec<i64>,
    queue: Option<Arc<ReleaseQueue>>,
}

impl std::ops::Deref for TakenReleases {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.ids
    }
}

impl Drop for TakenReleases {
    fn drop(&mut self) {
        let Some(queue) = &self.queue else { return };
        if self.ids.capacity() == 0 || self.ids.capacity() > MAX_RELEASES_PER_MESSAGE {
            return;
        }
        let mut queued = queue.queued.lock().unwrap_or_else(|e| e.into_inner());
        if queued.spare.capacity() == 0 {
            self.ids.clear();
            queued.spare = std::mem::take(&mut self.ids);
        }
    }
}

impl ReleaseQueue {
    /// Queues one id; never blocks on I/O.
    pub fn push(&self, id: i64) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.ids.push(id);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
    }

    /// Ids waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` ids (the newest), into the buffer the previous
    /// taker gave back.
    pub fn take(self: &Arc<Self>, max: usize) -> TakenReleases {
        if self.is_empty() {
            return TakenReleases {
                ids: Vec::new(),
                queue: None,
            };
        }
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        let keep = queued.ids.len().saturating_sub(max);
        let mut taken = std::mem::take(&mut queued.spare);
        taken.extend_from_slice(&queued.ids[keep..]);
        queued.ids.truncate(keep);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
        TakenReleases {
            ids: taken,
            queue: Some(self.clone()),
        }
    }

    /// Puts ids back if `err` says the request carrying them never left
    /// (it did not fit the slot); after any other failure the JVM may have
    /// applied them.
    pub fn restore_if_unsent(&self, err: &BridgeError, taken: TakenReleases) {
        if matches!(err, BridgeError::TooLarge { .. }) {
            self.restore(taken);
        }
    }

    /// Puts ids back after a failed send.
    pub fn restore(&self, taken: TakenReleases) {
        if taken.is_empty() {
            return;
        }
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.ids.extend_from_slice(&taken);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
    }
}

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

struct Shared {
    layout: ControlLayout,
    /// Lanes `0..call_lanes` are call lanes; the rest are callback lanes.
    call_lanes: usize,
    lanes: Vec<Mutex<Lane>>,
    free: Mutex<Vec<usize>>,
    lane_freed: Condvar,
    scratch: Mutex<Vec<Scratch>>,
    releases: Arc<ReleaseQueue>,
    closed: AtomicBool,
    close_reason: Mutex<String>,
    jvm: Mutex<Option<JvmProcess>>,
    jvm_pid: u32,
    /// Each lane's socket descriptor, -1 once the lane is closed (so
    /// `shutdown` never reaches a number the process has reused).
    socket_fds: Mutex<Vec<i32>>,
    /// Lanes whose socket is still open; at 0 (after `close`) the control
    /// segment is given back.
    open_lanes: AtomicUsize,
    /// `close` was called: lanes are closed as they are let go. (A JVM that
    /// died marks the session closed but leaves the lanes to `close`.)
    /// Written and read only under the `free` lock, which a lane's holder
    /// takes after letting go of the lane anyway: either `close` finds the
    /// lane free, or its holder sees this flag (see `close_idle_lanes`).
    releasing: AtomicBool,
    /// Call lanes lent to event loops ([`crate::LoopCall`]), per thread.
    loop_lanes: Mutex<Vec<(std::thread::ThreadId, usize)>>,
    arrow: ArrowPlane,
    // Last, so lanes and the Arrow plane (which point into it) drop first.
    control: Mutex<ControlMemory>,
}

/// The control segment, or the private zero pages that replace it once the
/// session is closed: lanes and the Arrow plane keep raw pointers into it,
/// so the address range must stay valid while `Shared` lives.
enum ControlMemory {
    Mapped(Segment),
    Vacated { _pages: gatun_arena::VacatedSegment },
}

/// A connected session with a JVM.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// A client reference that does not keep the session alive.
#[derive(Clone)]
pub struct WeakClient(std::sync::Weak<Shared>);

impl WeakClient {
    /// The client, if it still exists.
    pub fn upgrade(&self) -> Option<Client> {
        self.0.upgrade().map(|shared| Client { shared })
    }
}

/// How a [`LaneGuard`] holds its lane.
enum Held<'c> {
    /// Taken from the pool; returned on drop.
    Pooled(MutexGuard<'c, Lane>),
    /// The lane this thread already holds while it runs a callback (see
    /// [`CallbackHandler`]): nested calls go back on it.
    Nested(*mut Lane, usize),
}

/// A lane held for one call; returned to the pool on drop.
pub struct LaneGuard<'c> {
    client: &'c Client,
    index: usize,
    lane: Option<Held<'c>>,
}

impl std::ops::Deref for LaneGuard<'_> {
    type Target = Lane;
    fn deref(&self) -> &Lane {
        match self.lane.as_ref().expect("lane held") {
            Held::Pooled(guard) => guard,
            // SAFETY: see `HeldInCallback`: the pointer comes from the `&mut
            // Lane` of a frame further up this thread's stack, which does not
            // touch the lane until the callback (and so this guard) is over.
            Held::Nested(ptr, _) => unsafe { &**ptr },
        }
    }
}

impl std::ops::DerefMut for LaneGuard<'_> {
    fn deref_mut(&mut self) -> &mut Lane {
        match self.lane.as_mut().expect("lane held") {
            Held::Pooled(guard) => guard,
            // SAFETY: as in `deref`; the entry is marked busy, so no second
            // guard for it exists on this thread.
            Held::Nested(ptr, _) => unsafe { &mut **ptr },
        }
    }
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        let unacked = if self.lane.is_some() {
            std::ops::DerefMut::deref_mut(self).take_unacked()
        } else {
            None
        };
        if let Some(seq) = unacked {
            // Whoever held the lane decoded the answer in place, before giving it back.
            self.client.shared.arrow.queue_ack(self.index, seq);
        }
        match self.lane.take() {
            Some(Held::Pooled(guard)) => {
                drop(guard);
                let shared = &self.client.shared;
                let mut free = shared.free.lock().unwrap_or_else(|e| e.into_inner());
                if self.index < shared.call_lanes {
                    free.push(self.index);
                }
                let releasing = shared.releasing.load(Ordering::Relaxed);
                drop(free);
                shared.lane_freed.notify_one();
                // The last holder of a lane after `close` closes it.
                if releasing {
                    self.client.close_idle_lanes();
                }
            }
            Some(Held::Nested(_, depth)) => {
                HELD_IN_CALLBACK.with(|held| {
                    if let Some(entry) = held.borrow_mut().get_mut(depth) {
                        entry.busy = false;
                    }
                });
            }
            None => {}
        }
    }
}

/// A lane this thread holds while it runs a callback.
struct HeldInCallback {
    /// The session (`Arc::as_ptr` of its shared state).
    client: usize,
    lane: *mut Lane,
    index: usize,
    /// A nested [`LaneGuard`] for it exists.
    busy: bool,
}

thread_local! {
    /// Lanes held by callback frames of this thread, innermost last. A call
    /// made from a callback must reuse its lane: taking another one would
    /// let nested callbacks exhaust the pool and hang.
    static HELD_IN_CALLBACK: RefCell<Vec<HeldInCallback>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `lane` registered as held by this thread for `client`.
fn with_lane_held<R>(client: &Client, lane: &mut Lane, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            HELD_IN_CALLBACK.with(|held| held.borrow_mut().pop());
        }
    }
    let index = lane.index();
    HELD_IN_CALLBACK.with(|held| {
        held.borrow_mut().push(HeldInCallback {
            client: Arc::as_ptr(&client.shared) as usize,
            lane: lane as *mut Lane,
            index,
            busy: false,
        })
    });
    let _pop = Pop;
    f()
}

/// What a callback call from Java turned into.
pub struct CallbackOutcome {
    /// The encoded `CallbackReply` request.
    pub reply: Vec<u8>,
    /// After sending the reply, abandon the call as if interrupted (the
    /// callback was stopped by Ctrl-C or `SystemExit`).
    pub interrupt: bool,
}

/// Runs the callback calls Java sends during an exchange.
///
/// While [`handle`](Self::handle) runs, the lane is registered as held by
/// the current thread: every call it makes through this client (on this
/// thread) goes back on the same lane, where the waiting Java thread serves
/// it in a nested dispatch loop.
pub trait CallbackHandler {
    /// `call` is the raw `Response` (with `callback` set) Java sent.
    fn handle(&mut self, call: &[u8]) -> CallbackOutcome;
}

/// Refuses every callback (for clients that register none).
pub struct NoCallbacks;

impl CallbackHandler for NoCallbacks {
    fn handle(&mut self, _call: &[u8]) -> CallbackOutcome {
        CallbackOutcome {
            reply: encode_callback_error(
                "RuntimeError",
                "this client runs no Python callbacks",
                "",
            ),
            interrupt: false,
        }
    }
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

impl LaneGuard<'_> {
    /// Sends `request`, waits for its response, and notes a dead session.
    /// Callback calls are refused (see [`exchange_with`](Self::exchange_with)).
    pub fn exchange(&mut self, request: &[u8], interrupt: &mut dyn Interrupt) -> Result<()> {
        self.exchange_with(request, interrupt, &mut NoCallbacks)
    }

    /// Sends `request` and waits for its response; every callback call Java
    /// sends meanwhile is run by `callbacks` and answered on the same lane.
    pub fn exchange_with(
        &mut self,
        request: &[u8],
        interrupt: &mut dyn Interrupt,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<()> {
        let client = self.client;
        let arrow = &client.shared.arrow;
        // Releases of JVM regions ride on every outgoing request ...
        arrow.flush_outbox();
        let lane: &mut Lane = self;
        let mut expect = spill::send(lane, arrow, request).map_err(|e| client.note_failure(e))?;
        loop {
            lane.wait(expect, interrupt)
                .map_err(|e| client.note_failure(e))?;
            if !lane.holds_callback_call() {
                break;
            }
            let outcome = client.run_callback(lane, callbacks)?;
            expect =
                spill::send(lane, arrow, &outcome.reply).map_err(|e| client.note_failure(e))?;
            if outcome.interrupt {
                lane.cancel(expect).map_err(|e| client.note_failure(e))?;
                return Err(BridgeError::Interrupted);
            }
        }
        if lane.response_needs_ack() {
            // Acknowledged once decoded: when the lane is given back, or by
            // the scratch the answer is copied into.
            lane.set_unacked(expect);
        }
        // ... and the JVM's releases of ours come back with every reply.
        arrow.drain_releases();
        Ok(())
    }
}

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
        self.acknowledge();
        let scratch = self.scratch.as_mut().expect("scratch held");
        let request = match &scratch.spill_builder {
            Some(b) => b.finished_data(),
            None => scratch.builder.finished_data(),
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

    /// As [`exchange`](Self::exchange), for the request in `self.assembled`
    /// instead of the builder's.
    pub fn exchange_assembled(
        &mut self,
        lane: &mut LaneGuard<'_>,
        interrupt: &mut dyn Interrupt,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<()> {
        self.acknowledge();
        let scratch = self.scratch.as_mut().expect("scratch held");
        send_and_copy(
            lane,
            &scratch.assembled,
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

/// The JVM options to launch with: the user's, plus the cap of the JVM's
/// own shared arena (`ArrowBridge.allocator()`), which `memory` sizes like
/// Python's unless the user set it.
fn jvm_options(opts: &ClientOptions) -> Vec<String> {
    const CAP: &str = "-Dgatun.arrow.allocator.maxBytes=";
    let mut out = opts.jvm_options.clone();
    if !out.iter().any(|o| o.starts_with(CAP)) {
        out.push(format!("{CAP}{}", opts.arena.max_memory));
    }
    out
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
    /// Starts a JVM with the server jar and connects every lane.
    pub fn launch(opts: &ClientOptions) -> Result<Client> {
        if opts.lanes == 0 {
            return Err(BridgeError::Value("lanes must be at least 1".into()));
        }
        let layout = ControlLayout::new(opts.lanes + opts.callback_lanes, opts.slot_size)
            .map_err(BridgeError::Value)?;
        let java = launcher::find_java(opts.java.as_deref())?;
        let dir = SessionDir::create()?;
        let mut control = Segment::create("control", layout.total_size(), dir.path())?;
        let pid = std::process::id();
        // SAFETY: the segment is at least 64 bytes and nobody else maps it yet.
        let header =
            unsafe { std::slice::from_raw_parts_mut(control.as_ptr(), control::header::SIZE) };
        control::write_header(
            header,
            &HeaderFields {
                lanes: layout.lanes as u32,
                slot_size: layout.slot_size as u32,
                py_pid: pid,
                jvm_pid: 0,
                py_start: process_start_time(),
                jvm_start: 0,
                state: 0,
            },
        );
        let token: [u8; 16] = rand::random();
        let token_hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let socket_path = dir.path().join("s");
        let mut jvm = launcher::spawn_server(
            &ServerCommand {
                java,
                jar: opts.jar.clone(),
                classpath: opts.classpath.clone(),
                jvm_options: jvm_options(opts),
                socket: socket_path.clone(),
            },
            &token_hex,
        )?;
        let deadline = Instant::now() + opts.startup_timeout;
        let (control_fd, control_path) = match control.locator() {
            gatun_arena::SegmentLocator::Memfd { fd, .. } => (*fd, None),
            gatun_arena::SegmentLocator::File(p) => (-1, Some(p.display().to_string())),
        };
        let mut hello = HelloFields {
            token: &token,
            pid,
            start_time: process_start_time(),
            lane_index: 0,
            lane_count: layout.lanes as u32,
            control_fd,
            control_path: control_path.as_deref(),
            control_size: layout.total_size() as u64,
            session_id: 0,
            callback_lanes: opts.callback_lanes as u32,
        };
        let mut sockets = Vec::with_capacity(layout.lanes);
        let mut jvm_pid = 0;
        for index in 0..layout.lanes {
            let mut socket = connect_when_ready(&socket_path, &mut jvm, deadline)?;
            hello.lane_index = index as u32;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let accepted = handshake::greet(&mut socket, &hello, remaining)
                .map_err(|e| with_stderr(e, &jvm))?;
            if index == 0 {
                hello.session_id = accepted.session_id;
                jvm_pid = accepted.pid;
            }
            sockets.push(socket);
        }
        // Every lane is connected: nothing needs the socket name any more, so
        // nothing is left behind even if this process is killed now.
        drop(dir);
        control
            .unlink_backing_file()
            .map_err(BridgeError::io("unlinking the control file"))?;

        let base = control.as_ptr();
        let socket_fds = Mutex::new(sockets.iter().map(|s| s.as_raw_fd()).collect());
        let lanes = sockets
            .into_iter()
            .enumerate()
            // SAFETY: `control` is moved into `Shared` below and outlives every lane.
            .map(|(i, s)| {
                // SAFETY: as above.
                let mut lane = unsafe { Lane::new(i, base, &layout, s) }?;
                lane.set_strategy(opts.doorbell);
                lane.set_peer_pid(jvm_pid);
                if i >= opts.lanes {
                    lane.set_role(LaneRole::Callback);
                }
                Ok(Mutex::new(lane))
            })
            .collect::<Result<Vec<_>>>()?;
        let layout_lanes = layout.lanes;
        let client = Client {
            shared: Arc::new(Shared {
                layout,
                call_lanes: opts.lanes,
                free: Mutex::new((0..opts.lanes).rev().collect()),
                lanes,
                lane_freed: Condvar::new(),
                scratch: Mutex::new(Vec::new()),
                releases: Arc::new(ReleaseQueue::default()),
                closed: AtomicBool::new(false),
                close_reason: Mutex::new(String::new()),
                jvm: Mutex::new(Some(jvm)),
                jvm_pid,
                socket_fds,
                open_lanes: AtomicUsize::new(layout_lanes),
                releasing: AtomicBool::new(false),
                loop_lanes: Mutex::new(Vec::new()),
                // SAFETY: `control` moves into the same `Shared` and outlives the plane.
                arrow: unsafe { ArrowPlane::new(base, opts.arena, std::env::temp_dir()) },
                control: Mutex::new(ControlMemory::Mapped(control)),
            }),
        };
        client.shared.arrow.set_jvm_pid(jvm_pid);
        client.shared.arrow.set_verify_utf8(opts.verify_utf8);
        Ok(client)
    }

    /// A weak reference (for registries that must not keep the JVM alive).
    pub fn downgrade(&self) -> WeakClient {
        WeakClient(Arc::downgrade(&self.shared))
    }

    /// The JVM's pid.
    pub fn jvm_pid(&self) -> u32 {
        self.shared.jvm_pid
    }

    /// Each call lane's JVM worker thread id, as published by the worker and
    /// checked to name a thread of the JVM (`None`: not known); the thread
    /// a waiter moves off a core it shares (SHM_LAYOUT.md, "Spinning").
    pub fn lane_worker_tids(&self) -> Vec<Option<i32>> {
        self.shared.lanes[..self.shared.call_lanes]
            .iter()
            .map(|lane| lane.lock().unwrap_or_else(|e| e.into_inner()).worker_tid())
            .collect()
    }

    /// Bytes of a lane's request (and response) slot: the most one message can take.
    pub fn slot_size(&self) -> usize {
        self.shared.layout.slot_size
    }

    /// Queued releases for one request: [`MAX_RELEASES_PER_MESSAGE`] at
    /// most, and no more than a quarter of the slot, so that they never make
    /// a request that fits too large.
    pub fn take_releases(&self) -> TakenReleases {
        let fit = self.slot_size() / 4 / std::mem::size_of::<i64>();
        self.shared.releases.take(MAX_RELEASES_PER_MESSAGE.min(fit))
    }

    /// Number of call lanes (threads that can call at once).
    pub fn lane_count(&self) -> usize {
        self.shared.call_lanes
    }

    /// Indices of the callback lanes (see [`serve_callback_lane`](Self::serve_callback_lane)).
    pub fn callback_lanes(&self) -> std::ops::Range<usize> {
        self.shared.call_lanes..self.shared.layout.lanes
    }

    /// Serves callback lane `index` until the session ends or `stop` returns
    /// true (asked every 100 ms while idle): waits for Java's callback calls,
    /// runs each with `callbacks` (the lane is held by this thread meanwhile,
    /// so calls made from the callback go back on it) and sends the reply.
    /// Call it from one dedicated thread per callback lane.
    pub fn serve_callback_lane(
        &self,
        index: usize,
        callbacks: &mut dyn CallbackHandler,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        let result = self.serve_callback_lane_held(index, callbacks, stop);
        // The lane is let go: after `close` it is closed now.
        if self.releasing() {
            self.close_idle_lanes();
        }
        result
    }

    fn serve_callback_lane_held(
        &self,
        index: usize,
        callbacks: &mut dyn CallbackHandler,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        if !self.callback_lanes().contains(&index) {
            return Err(BridgeError::Value(format!(
                "lane {index} is not a callback lane (they are {:?})",
                self.callback_lanes()
            )));
        }
        let mut lane = self.shared.lanes[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_closed() {
                return Err(self.closed_error());
            }
            let mut give_up = || stop() || self.is_closed();
            if !lane
                .wait_for_call(&mut give_up)
                .map_err(|e| self.note_failure(e))?
            {
                if self.is_closed() {
                    return Err(self.closed_error());
                }
                return Ok(());
            }
            let mut next = if lane.holds_callback_call() {
                self.run_callback(&mut lane, callbacks)?
            } else {
                CallbackOutcome {
                    reply: encode_callback_error(
                        "RuntimeError",
                        "a callback lane received a message that is not a callback call",
                        "",
                    ),
                    interrupt: false,
                }
            };
            // The reply echoes the call; Java's next message is a new call.
            next.interrupt = false;
            let expect = spill::send(&mut lane, &self.shared.arrow, &next.reply)
                .map_err(|e| self.note_failure(e))?;
            debug_assert_eq!(expect, lane.next_call_seq());
        }
    }

    /// Copies the callback call out of the response slot (nested calls will
    /// overwrite it) and runs it with `lane` held by this thread.
    fn run_callback(
        &self,
        lane: &mut Lane,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<CallbackOutcome> {
        let call = Message::read(lane, &self.shared.arrow)?.bytes().to_vec();
        Ok(with_lane_held(self, lane, || callbacks.handle(&call)))
    }

    /// The lane this thread holds in a callback for this client, if any.
    fn held_lane(&self) -> Option<LaneGuard<'_>> {
        let me = Arc::as_ptr(&self.shared) as usize;
        HELD_IN_CALLBACK.with(|held| {
            let mut held = held.borrow_mut();
            let depth = held.iter().rposition(|h| h.client == me)?;
            let entry = &mut held[depth];
            if entry.busy {
                return None;
            }
            entry.busy = true;
            Some(LaneGuard {
                client: self,
                index: entry.index,
                lane: Some(Held::Nested(entry.lane, depth)),
            })
        })
    }

    /// The queue that dropped object references go to.
    pub fn release_queue(&self) -> Arc<ReleaseQueue> {
        self.shared.releases.clone()
    }

    /// Whether object releases wait to ride on the next request.
    pub fn releases_waiting(&self) -> bool {
        !self.shared.releases.is_empty()
    }

    /// True once closed (by [`close`](Self::close) or because the JVM died).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn closed_error(&self) -> BridgeError {
        let reason = self
            .shared
            .close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        BridgeError::Closed(if reason.is_empty() {
            "the client is closed".into()
        } else {
            reason
        })
    }

    /// Records that the session died when `err` says so.
    fn note_failure(&self, err: BridgeError) -> BridgeError {
        if let BridgeError::Closed(reason) = &err {
            self.mark_closed(reason);
            self.shutdown_sockets();
            self.shared.arrow.peer_gone();
        }
        err
    }

    fn mark_closed(&self, reason: &str) {
        let mut r = self
            .shared
            .close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if r.is_empty() {
            *r = reason.to_owned();
        }
        self.shared.closed.store(true, Ordering::Release);
    }

    fn shutdown_sockets(&self) {
        let fds = self
            .shared
            .socket_fds
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for &fd in fds.iter().filter(|&&fd| fd >= 0) {
            // SAFETY: a lane's descriptor is set to -1 (under this lock)
            // before it closes, so `fd` is still that lane's socket; shutdown
            // only wakes blocked waiters with EOF.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// Whether `close` was called (read under the `free` lock; see
    /// the `releasing` field of `Shared`).
    fn releasing(&self) -> bool {
        let _free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.releasing.load(Ordering::Relaxed)
    }

    /// After `close` (callers check [`releasing`](Self::releasing), under the
    /// lock they take after letting go of a lane): closes the socket of
    /// every lane nobody holds (nor an event loop borrows), and once
    /// all are closed gives the control segment back. Called by `close` and
    /// by whoever lets go of a lane afterwards, so the last holder finishes
    /// the job (a callback may call `close` while its own lane is held).
    fn close_idle_lanes(&self) {
        let shared = &self.shared;
        if shared.open_lanes.load(Ordering::Acquire) == 0 {
            return;
        }
        for (index, lane) in shared.lanes.iter().enumerate() {
            let mut lane = match lane.try_lock() {
                Ok(lane) => lane,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            // A lane lent to an event loop may have its socket registered
            // with the loop (closing it would silently drop it from the
            // loop's epoll set, and the awaiting call would never hear of
            // the EOF): it is closed when the loop gives it back.
            if lane.socket_fd() < 0 || lane.always_rings() {
                continue;
            }
            shared.socket_fds.lock().unwrap_or_else(|e| e.into_inner())[index] = -1;
            lane.close_socket();
            if shared.open_lanes.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.vacate_control();
            }
        }
    }

    /// Unmaps the control segment and closes its memfd, leaving private zero
    /// pages at its address for any pointer still in flight.
    fn vacate_control(&self) {
        let mut control = self
            .shared
            .control
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Swapped out and back in: `vacate` consumes the segment (and hands
        // it back untouched if the kernel refuses, out of memory: then it
        // stays mapped until the client drops).
        let mapped = match std::mem::replace(
            &mut *control,
            ControlMemory::Vacated {
                _pages: gatun_arena::VacatedSegment::none(),
            },
        ) {
            ControlMemory::Mapped(segment) => segment,
            vacated => {
                *control = vacated;
                return;
            }
        };
        *control = match mapped.vacate() {
            Ok(pages) => ControlMemory::Vacated { _pages: pages },
            Err(segment) => ControlMemory::Mapped(segment),
        };
    }

    /// Takes a free lane without blocking.
    pub fn try_acquire_lane(&self) -> Result<Option<LaneGuard<'_>>> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        if let Some(held) = self.held_lane() {
            return Ok(Some(held));
        }
        let mut free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.pick(&mut free))
    }

    fn pick(&self, free: &mut Vec<usize>) -> Option<LaneGuard<'_>> {
        for pos in (0..free.len()).rev() {
            let index = free[pos];
            let mut lane = self.shared.lanes[index]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if lane.is_ready() {
                free.swap_remove(pos);
                return Some(LaneGuard {
                    client: self,
                    index,
                    lane: Some(Held::Pooled(lane)),
                });
            }
        }
        None
    }

    /// Takes a lane, blocking while all are busy (call without the GIL).
    pub fn acquire_lane(&self) -> Result<LaneGuard<'_>> {
        if let Some(held) = self.held_lane() {
            return Ok(held);
        }
        let mut free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_closed() {
                return Err(self.closed_error());
            }
            if let Some(guard) = self.pick(&mut free) {
                return Ok(guard);
            }
            if self.loop_lanes_of_this_thread() >= self.shared.call_lanes {
                return Err(BridgeError::WouldDeadlock(format!(
                    "every lane ({}) is held by calls awaiting on this thread's event loop, \
                     so a blocking call here would wait forever; await the call (the async \
                     client), make it from another thread, or connect with more lanes",
                    self.shared.call_lanes
                )));
            }
            // Lanes still finishing an interrupted call become ready on their
            // own, so wake up now and then to look again.
            free = self
                .shared
                .lane_freed
                .wait_timeout(free, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Takes a free call lane for an event loop without blocking (see
    /// [`crate::LoopCall`]); `None` if none is free, or if this thread's loop
    /// already holds all but one (that one stays for the blocking calls
    /// the loop's thread still makes, such as name resolution).
    pub fn try_lend_lane(&self) -> Result<Option<crate::LoopCall>> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let cap = self.shared.call_lanes.saturating_sub(1).max(1);
        if self.loop_lanes_of_this_thread() >= cap {
            return Ok(None);
        }
        let mut free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut guard) = self.pick(&mut free) else {
            return Ok(None);
        };
        drop(free);
        let index = guard.index;
        guard.set_always_ring(true);
        // The lane stays out of the free list: a guard whose lane was taken
        // out returns nothing on drop, and the LoopCall gives it back.
        drop(guard.lane.take());
        drop(guard);
        self.count_loop_lane(std::thread::current().id(), 1);
        Ok(Some(crate::LoopCall::new(self.clone(), index)))
    }

    /// Returns a lane lent by [`try_lend_lane`](Self::try_lend_lane) on
    /// thread `owner` to the pool.
    pub(crate) fn return_lent_lane(&self, index: usize, owner: std::thread::ThreadId) {
        if let Ok(mut lane) = self.shared.lanes[index].lock() {
            lane.set_always_ring(false);
        }
        self.count_loop_lane(owner, -1);
        let mut free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        free.push(index);
        let releasing = self.shared.releasing.load(Ordering::Relaxed);
        drop(free);
        self.shared.lane_freed.notify_one();
        if releasing {
            self.close_idle_lanes();
        }
    }

    fn count_loop_lane(&self, owner: std::thread::ThreadId, delta: isize) {
        let mut lanes = self
            .shared
            .loop_lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match lanes.iter().position(|(t, _)| *t == owner) {
            Some(i) => {
                let n = lanes[i].1.saturating_add_signed(delta);
                if n == 0 {
                    lanes.swap_remove(i);
                } else {
                    lanes[i].1 = n;
                }
            }
            None if delta > 0 => lanes.push((owner, delta as usize)),
            None => {}
        }
    }

    /// Call lanes lent to an event loop running on this thread.
    fn loop_lanes_of_this_thread(&self) -> usize {
        let me = std::thread::current().id();
        self.shared
            .loop_lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(t, _)| *t == me)
            .map_or(0, |(_, n)| *n)
    }

    /// Lane `index`, if no other frame of this thread is using it.
    pub(crate) fn lent_lane(&self, index: usize) -> Result<MutexGuard<'_, Lane>> {
        self.shared.lanes[index].try_lock().map_err(|_| {
            BridgeError::WouldDeadlock(format!(
                "lane {index} is in use by a callback running on this thread; \
                 an event-loop call cannot proceed from inside it"
            ))
        })
    }

    /// Runs `f` with `lane` registered as held by this thread, so blocking
    /// calls made by `f` go back on it (a callback's nested calls).
    pub(crate) fn run_holding<R>(&self, lane: &mut Lane, f: impl FnOnce() -> R) -> R {
        with_lane_held(self, lane, f)
    }

    /// The socket descriptor of lane `index`.
    pub(crate) fn socket_fd(&self, index: usize) -> i32 {
        self.shared
            .socket_fds
            .lock()
            .unwrap_or_else(|e| e.into_inner())[index]
    }

    /// Marks the session dead when `err` says it is.
    pub(crate) fn failed(&self, err: BridgeError) -> BridgeError {
        self.note_failure(err)
    }

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

    /// One request with plain-Rust values.
    pub fn call(&self, head: &RequestHead<'_>, args: &[Value]) -> Result<Value> {
        let mut scratch = self.scratch();
        let releases = self.take_releases();
        let fbb = &mut scratch.builder;
        let encoded: Vec<_> = args.iter().map(|a| a.encode(fbb)).collect();
        let args = fbb.create_vector(&encoded);
        let req = build_request(fbb, head, Some(args), &releases, None, false);
        fbb.finish(req, None);
        let sent = self
            .acquire_lane()
            .and_then(|mut lane| scratch.exchange(&mut lane, &mut NoInterrupt, &mut NoCallbacks));
        if let Err(e) = sent {
            self.shared.releases.restore_if_unsent(&e, releases);
            return Err(e);
        }
        let response = scratch.response()?;
        if let Some(error) = response.error() {
            return Err(java_error(error));
        }
        response.value().map_or(Ok(Value::Null), Value::decode)
    }

    /// Runs the commands of `batch` in as few requests as fit the lane slot
    /// (and as the JVM's replies need); one result per command answered, in
    /// order. With `stop_on_error` the
    /// results end at the first failure (the later commands were skipped).
    pub fn run_batch(
        &self,
        batch: &BatchEncoder,
        stop_on_error: bool,
    ) -> Result<Vec<Result<Value>>> {
        let mut scratch = self.scratch();
        let mut results = Vec::with_capacity(batch.len());
        let mut start = 0;
        while start < batch.len() {
            let s: &mut Scratch = &mut scratch;
            let (run, taken) = batch.next_request(
                start,
                self.slot_size(),
                &self.shared.releases,
                stop_on_error,
                &mut s.builder,
                &mut s.assembled,
            );
            let sent = self.acquire_lane().and_then(|mut lane| {
                scratch.exchange_assembled(&mut lane, &mut NoInterrupt, &mut NoCallbacks)
            });
            if let Err(e) = sent {
                self.shared.releases.restore_if_unsent(&e, taken);
                return Err(e);
            }
            let response = scratch.response()?;
            if let Some(error) = response.error() {
                return Err(java_error(error));
            }
            // Fewer replies than commands: the JVM stopped before its replies
            // outgrew half the slot; the rest go in the next request.
            let replies = response.batch();
            let count = replies.map_or(0, |r| r.len());
            if count == 0 || count > run.len() {
                return Err(BridgeError::Protocol(format!(
                    "batch of {} commands got {count} replies",
                    run.len()
                )));
            }
            for reply in replies.into_iter().flatten() {
                let result = match reply.error() {
                    Some(error) => Err(java_error(error)),
                    None => reply.value().map_or(Ok(Value::Null), Value::decode),
                };
                let failed = result.is_err();
                results.push(result);
                if failed && stop_on_error {
                    return Ok(results);
                }
            }
            start = run.start + count;
        }
        Ok(results)
    }

    /// The session's Arrow state (arena statistics, schema registry).
    pub fn arrow(&self) -> &ArrowPlane {
        &self.shared.arrow
    }

    /// Copies `batch` into the arena; the caller then sends it with
    /// [`encode_send_batch`](Self::encode_send_batch) or abandons it.
    pub fn prepare_batch(&self, batch: &RecordBatch) -> Result<PreparedBatch> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        self.shared.arrow.prepare(batch)
    }

    /// Finishes the request sending `prepared` to `target` in `fbb`.
    pub fn encode_send_batch(
        &self,
        fbb: &mut FlatBufferBuilder<'_>,
        prepared: &PreparedBatch,
        target: BatchTarget,
    ) {
        let releases = self.take_releases();
        let (descriptor, schema) = encode_descriptor(fbb, prepared);
        let release_ids = (!releases.is_empty()).then(|| fbb.create_vector(&releases));
        let (action, object_id, end_of_stream) = match target {
            BatchTarget::Root => (Action::SendArrowBatch, 0, false),
            BatchTarget::Stream { reader, end } => (Action::ArrowStream, reader, end),
        };
        let req = fb::Request::create(
            fbb,
            &fb::RequestArgs {
                action,
                object_id,
                end_of_stream,
                arrow: Some(descriptor),
                schema,
                release_ids,
                ..Default::default()
            },
        );
        fbb.finish(req, None);
    }

    /// Sends one record batch to the JVM; returns the reference to the
    /// `VectorSchemaRoot` it loaded (the data stays in the arena until Java
    /// releases it).
    pub fn send_batch(&self, batch: &RecordBatch) -> Result<Value> {
        let prepared = self.prepare_batch(batch)?;
        let mut scratch = self.scratch();
        self.encode_send_batch(&mut scratch.builder, &prepared, BatchTarget::Root);
        let sent = self
            .acquire_lane()
            .and_then(|mut lane| scratch.exchange(&mut lane, &mut NoInterrupt, &mut NoCallbacks));
        if let Err(e) = sent {
            if !matches!(e, BridgeError::Closed(_)) {
                self.shared.arrow.abandon(&prepared);
            }
            return Err(e);
        }
        let response = scratch.response()?;
        if let Some(error) = response.error() {
            return Err(java_error(error));
        }
        if prepared.new_schema.is_some() {
            self.shared.arrow.confirm_schema(prepared.schema_id);
        }
        response.value().map_or(Ok(Value::Null), Value::decode)
    }

    /// `ClassName.method(args)`.
    pub fn invoke_static(&self, class: &str, method: &str, args: &[Value]) -> Result<Value> {
        self.call(
            &RequestHead {
                action: Action::InvokeStaticMethod,
                class_name: Some(class),
                name: Some(method),
                ..Default::default()
            },
            args,
        )
    }

    /// `new ClassName(args)`.
    pub fn create_object(&self, class: &str, args: &[Value]) -> Result<Value> {
        self.call(
            &RequestHead {
                action: Action::CreateObject,
                class_name: Some(class),
                ..Default::default()
            },
            args,
        )
    }

    /// `object.method(args)`.
    pub fn invoke_method(&self, object_id: i64, method: &str, args: &[Value]) -> Result<Value> {
        self.call(
            &RequestHead {
                action: Action::InvokeMethod,
                object_id,
                name: Some(method),
                ..Default::default()
            },
            args,
        )
    }

    /// `ClassName.field`.
    pub fn get_static_field(&self, class: &str, field: &str) -> Result<Value> {
        self.call(
            &RequestHead {
                action: Action::GetStaticField,
                class_name: Some(class),
                name: Some(field),
                ..Default::default()
            },
            &[],
        )
    }

    /// A round trip that does nothing.
    pub fn ping(&self) -> Result<()> {
        self.call(
            &RequestHead {
                action: Action::Ping,
                ..Default::default()
            },
            &[],
        )
        .map(|_| ())
    }

    /// Sends every queued release now; returns how many ids went.
    pub fn flush_releases(&self) -> Result<usize> {
        let mut sent = 0;
        while !self.shared.releases.is_empty() {
            let before = self.shared.releases.len();
            self.call(
                &RequestHead {
                    action: Action::ReleaseObjects,
                    ..Default::default()
                },
                &[],
            )?;
            sent += before - self.shared.releases.len();
        }
        Ok(sent)
    }

    /// Ends the session: the lane sockets close, the JVM's stdin closes (it
    /// exits), and after `timeout` it is killed. Idempotent.
    ///
    /// Every resource of the session goes now, not when the last reference
    /// to the client drops: the lane sockets and the control segment (a lane
    /// still held by a running callback is closed when it lets go), the
    /// payload arena's segments (except those under Python buffers still
    /// referenced, each unmapped once its last region goes) and the JVM's
    /// segments (except those under Arrow data still referenced here).
    pub fn close(&self, timeout: Duration) {
        self.mark_closed("the client is closed");
        self.shutdown_sockets();
        let jvm = self
            .shared
            .jvm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut jvm) = jvm {
            jvm.stop(timeout);
        }
        self.shared.arrow.close();
        {
            let _free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.releasing.store(true, Ordering::Relaxed);
        }
        self.close_idle_lanes();
    }

    /// Lanes whose socket is still open (0 once a closed session has given
    /// everything back).
    pub fn open_lanes(&self) -> usize {
        self.shared.open_lanes.load(Ordering::Acquire)
    }

    /// In a child made by `fork()`: give up every descriptor of the parent's
    /// session without disturbing it, and fail later calls.
    pub fn forget_after_fork(&self) {
        self.mark_closed(
            "this process was forked from the one that owns the bridge; connect again in the child",
        );
        // try_lock: a thread of the parent may have held the lock at fork
        // time (closing), and it is never released in the child; then the
        // child keeps those sockets open rather than guess at numbers.
        let mut fds: Vec<i32> = match self.shared.socket_fds.try_lock() {
            Ok(fds) => fds.iter().copied().filter(|&fd| fd >= 0).collect(),
            Err(std::sync::TryLockError::Poisoned(e)) => e
                .into_inner()
                .iter()
                .copied()
                .filter(|&fd| fd >= 0)
                .collect(),
            Err(std::sync::TryLockError::WouldBlock) => Vec::new(),
        };
        if let Ok(mut jvm) = self.shared.jvm.try_lock() {
            if let Some(jvm) = jvm.take() {
                fds.extend(jvm.stdin_fd());
                // The child must never signal or wait for the parent's JVM.
                std::mem::forget(jvm);
            }
        }
        for fd in fds {
            redirect_to_dev_null(fd);
        }
    }

    /// The last lines the JVM wrote to stderr.
    pub fn jvm_stderr(&self) -> String {
        self.shared
            .jvm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|j| j.stderr_tail())
            .unwrap_or_default()
    }
}

/// Replaces `fd` with /dev/null so the parent's socket or pipe is no longer
/// held here, while the number stays valid for whoever closes it later.
fn redirect_to_dev_null(fd: i32) {
    // SAFETY: plain system calls on descriptor numbers; dup2 atomically
    // replaces `fd`, so no other descriptor is affected.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, fd);
            libc::close(null);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(mut jvm) = self.jvm.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            jvm.stop(Duration::from_secs(2));
        }
    }
}

fn with_stderr(err: BridgeError, jvm: &JvmProcess) -> BridgeError {
    let stderr = jvm.stderr_tail();
    if stderr.trim().is_empty() {
        return err;
    }
    match err {
        BridgeError::Handshake(m) => BridgeError::Handshake(format!("{m}\nJVM stderr:\n{stderr}")),
        BridgeError::Startup(m) => BridgeError::Startup(format!("{m}\nJVM stderr:\n{stderr}")),
        other => other,
    }
}

/// Connects to the server socket, retrying until it listens, the JVM exits, or
/// the deadline passes.
fn connect_when_ready(path: &Path, jvm: &mut JvmProcess, deadline: Instant) -> Result<UnixStream> {
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if let Some(status) = jvm.try_wait() {
                    // Let the stderr reader catch up with the last lines.
                    std::thread::sleep(Duration::from_millis(50));
                    return Err(BridgeError::Startup(format!(
                        "the JVM exited ({status}) before accepting connections\nJVM stderr:\n{}",
                        jvm.stderr_tail()
                    )));
                }
                if Instant::now() >= deadline {
                    return Err(BridgeError::Startup(format!(
                        "the JVM did not accept connections at {} within the start-up timeout ({e})\nJVM stderr:\n{}",
                        path.display(),
                        jvm.stderr_tail()
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// A private (0700) directory for the server socket; removed on drop.
struct SessionDir(PathBuf);

impl SessionDir {
    fn create() -> Result<SessionDir> {
        let base = std::env::temp_dir();
        sweep_stale_dirs(&base);
        let path = base.join(format!(
            "gatun-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(BridgeError::io(format!("creating {}", path.display())))?;
        Ok(SessionDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SessionDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes session directories whose creating process is dead (it was
/// killed between creating one and connecting).
fn sweep_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("gatun-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// This process's start time in clock ticks since boot (`/proc/self/stat`
/// field 22), or 0 where unavailable. With the pid it names a process
/// unambiguously.
pub fn process_start_time() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after_comm = s.rsplit_once(')')?.1;
            after_comm.split_whitespace().nth(19)?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ValueKind;

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

    #[test]
    fn release_queue_takes_the_newest_and_restores() {
        let q = Arc::new(ReleaseQueue::default());
        for id in 1..=5 {
            q.push(id);
        }
        let taken = q.take(2);
        assert_eq!(&*taken, &[4, 5]);
        assert_eq!(q.len(), 3);
        q.restore(taken);
        assert_eq!(q.take(100).len(), 5);
        assert!(q.is_empty());
    }

    /// A taken buffer comes back for the next request: taking ids again
    /// reuses it instead of allocating.
    #[test]
    fn taken_releases_give_their_buffer_back() {
        let q = Arc::new(ReleaseQueue::default());
        q.push(1);
        let first = q.take(10);
        let buffer = first.as_ptr();
        drop(first);
        q.push(2);
        let second = q.take(10);
        assert_eq!(&*second, &[2]);
        assert_eq!(second.as_ptr(), buffer, "the buffer was not reused");
    }

    #[test]
    fn start_time_is_read() {
        assert!(process_start_time() > 0);
    }
}
