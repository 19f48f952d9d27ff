//! The client: a small coordinator of one session with a JVM, owning the
//! control segment, the lanes and the Arrow plane, and running calls. Usable from plain Rust; the Python binding drives the same
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
//!
//! By concept: [`launch`] (options, starting a JVM), [`attach`] (joining a
//! server another JVM hosts; both share `establish`), [`lanes`]
//! (the lane pool and [`LaneGuard`]), [`callbacks`] (Java's calls into
//! Python), [`scratch`] (pooled request/response buffers); object releases
//! are in [`crate::object_releases`], request builders in [`crate::protocol`].

pub mod attach;
pub mod callbacks;
mod establish;
pub mod lanes;
pub mod launch;
pub mod private_dir;
pub mod scratch;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use flatbuffers::FlatBufferBuilder;
use gatun_arena::Segment;

pub use self::attach::{parse_token, AttachOptions};
pub use self::callbacks::{CallbackHandler, CallbackOutcome, NoCallbacks};
pub use self::lanes::LaneGuard;
pub use self::launch::{process_start_time, ClientOptions};
pub use self::scratch::{PooledScratch, Scratch};
use crate::arrow_plane::{encode_descriptor, ArrowPlane, PreparedBatch};
use crate::batch::BatchEncoder;
use crate::control::ControlSegment;
use crate::error::{BridgeError, Result};
use crate::lane::{Lane, NoInterrupt};
use crate::launcher::JvmProcess;
use crate::object_releases::{ObjectReleases, TakenReleases, MAX_RELEASES_PER_MESSAGE};
use crate::protocol::{self as fb, build_request, java_error, Action, BatchTarget, RequestHead};
use crate::value::Value;

struct Shared {
    segment: ControlSegment,
    /// Lanes `0..call_lanes` are call lanes; the rest are callback lanes.
    call_lanes: usize,
    lanes: Vec<Mutex<Lane>>,
    free: Mutex<Vec<usize>>,
    lane_freed: Condvar,
    scratch: Mutex<Vec<Scratch>>,
    releases: Arc<ObjectReleases>,
    closed: AtomicBool,
    close_reason: Mutex<String>,
    jvm: Mutex<Option<JvmProcess>>,
    /// The launched JVM's stdout and stderr (none when attached).
    output: Option<Arc<crate::jvm_output::JvmOutput>>,
    /// Attached to a hosted server: there is no JVM of ours to stop.
    attached: bool,
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
    /// Our segment files' directory when the JVM is not our child, removed
    /// by `close` (mappings outlive their names).
    segment_dir: Mutex<Option<private_dir::PrivateDir>>,
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

impl Client {
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
        self.shared.segment.slot_size
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
        self.shared.call_lanes..self.shared.segment.lanes
    }

    /// The queue that dropped object references go to.
    pub fn object_releases(&self) -> Arc<ObjectReleases> {
        self.shared.releases.clone()
    }

    /// Whether `releases` is this session's release queue: object ids are
    /// per session, so an id is only meaningful to the session that made it.
    pub fn owns_releases(&self, releases: &Arc<ObjectReleases>) -> bool {
        Arc::ptr_eq(&self.shared.releases, releases)
    }

    /// Whether object releases wait to ride on the next request.
    pub fn releases_waiting(&self) -> bool {
        !self.shared.releases.is_empty()
    }

    /// True once closed (by [`close`](Self::close) or because the JVM died).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    pub(super) fn closed_error(&self) -> BridgeError {
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
    pub(super) fn note_failure(&self, err: BridgeError) -> BridgeError {
        if let BridgeError::Closed(reason) = &err {
            let reason = self.with_crash_report(reason);
            self.mark_closed(&reason);
            self.shutdown_sockets();
            self.shared.arrow.peer_gone();
            return BridgeError::Closed(reason);
        }
        err
    }

    /// `reason`, naming the report file if our JVM crashed (try_lock: a
    /// `close` under way holds the process, and then nothing crashed).
    fn with_crash_report(&self, reason: &str) -> String {
        let report = match self.shared.jvm.try_lock() {
            Ok(jvm) => jvm.as_ref().and_then(JvmProcess::crash_report),
            Err(_) => None,
        };
        match report {
            Some(file) => format!(
                "{reason}; the JVM crashed and wrote its error report to {}",
                file.display()
            ),
            None => reason.to_owned(),
        }
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
    pub(super) fn releasing(&self) -> bool {
        let _free = self.shared.free.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.releasing.load(Ordering::Relaxed)
    }

    /// After `close` (callers check [`releasing`](Self::releasing), under the
    /// lock they take after letting go of a lane): closes the socket of
    /// every lane nobody holds (nor an event loop borrows), and once
    /// all are closed gives the control segment back. Called by `close` and
    /// by whoever lets go of a lane afterwards, so the last holder finishes
    /// the job (a callback may call `close` while its own lane is held).
    pub(super) fn close_idle_lanes(&self) {
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

    /// Marks the session dead when `err` says it is.
    pub(crate) fn failed(&self, err: BridgeError) -> BridgeError {
        self.note_failure(err)
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
        // Regions of the JVM's arena that Python has let go of but not yet
        // told the JVM about go back now: the JVM reads the ring as the
        // session ends, and keeps whatever Python still holds until this
        // process exits (a hosting JVM would otherwise keep them all).
        self.shared.arrow.flush_region_releases();
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
        drop(
            self.shared
                .segment_dir
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
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

    /// The launched JVM's stdout and stderr as it writes them; none when
    /// attached (the host's output is the host's).
    pub fn jvm_output(&self) -> Option<Arc<crate::jvm_output::JvmOutput>> {
        self.shared.output.clone()
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
