//! A lane: one request slot, one response slot and one Unix socket.
//!
//! A thread holds a lane for one whole call. Sending copies the encoded
//! request into the slot and publishes its sequence number; waiting follows
//! the doorbell protocol (spin briefly while the JVM is hot, then block on the
//! socket with the GIL released, waking every 100 ms to check for signals).
//!
//! A lane has a [`LaneRole`]: on a *call* lane Python starts every exchange
//! and numbers its messages (`req_seq` = last + 1, Java echoes it in
//! `resp_seq`); on a *callback* lane Java starts (it numbers, `resp_seq` =
//! last + 1, and Python echoes it in `req_seq`). Either way the two sides
//! alternate strictly, and a callback call in the response slot
//! ([`RESP_FLAG_CALLBACK`]) is just one more message (SHM_LAYOUT.md,
//! "Callbacks").
//!
//! A lane lent to an asyncio event loop ([`Lane::set_always_ring`]) never
//! spins and is never waited on by blocking: the loop polls it with
//! [`Lane::poll_for`] whenever its socket is readable, and the waiting flag
//! it leaves raised makes Java ring for every answer.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::control::{
    lane, ControlSegment, CANCEL, GOODBYE_IDLE, GOODBYE_STOPPED, LANE_HEADER, RESP_FLAG_CALLBACK,
    RING,
};
use crate::doorbell::{self, BeforeBlocking};
use crate::error::{BridgeError, Result};
use crate::protocol;
use crate::shm::{atomic_u32, atomic_u64};
pub use crate::spin::WaitStrategy;
use crate::spin::{
    move_off_this_core, no_other_thread_runs, BACK_TO_BACK, MIN_SPIN, MOVE_AT_MOST_EVERY,
    SHARED_HITS_BEFORE_MOVING, SIGNAL_CHECK_INTERVAL, SPIN_BUDGET, YIELD_AFTER, YIELD_GAVE_CORE,
};

/// What the waiter should do when it wakes to check signals.
pub trait Interrupt {
    /// True if the call should be abandoned (e.g. Ctrl-C).
    fn interrupted(&mut self) -> bool;
}

/// Never interrupts.
pub struct NoInterrupt;

impl Interrupt for NoInterrupt {
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// Which side starts the exchanges on a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneRole {
    /// Python calls Java (Python numbers the messages).
    Call,
    /// Java calls Python callbacks from threads that hold no call lane (Java
    /// numbers the messages; Python echoes).
    Callback,
}

/// What Python answers a callback call that arrives for a request it
/// abandoned (Ctrl-C): an error, so the Java code does not wait forever.
fn abandoned_reply() -> &'static [u8] {
    static REPLY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    REPLY.get_or_init(|| {
        let mut fbb = flatbuffers::FlatBufferBuilder::with_capacity(256);
        let class_name = fbb.create_string("KeyboardInterrupt");
        let message = fbb.create_string(
            "the Python call this callback belongs to was interrupted; the callback did not run",
        );
        let error = protocol::JavaError::create(
            &mut fbb,
            &protocol::JavaErrorArgs {
                class_name: Some(class_name),
                message: Some(message),
                stack_trace: None,
            },
        );
        let req = protocol::Request::create(
            &mut fbb,
            &protocol::RequestArgs {
                action: protocol::Action::CallbackReply,
                error: Some(error),
                ..Default::default()
            },
        );
        fbb.finish(req, None);
        fbb.finished_data().to_vec()
    })
}

/// One lane of the control segment, owned by the Python side.
pub struct Lane {
    index: usize,
    role: LaneRole,
    base: *mut u8,
    slot_size: usize,
    /// `None` once the session closed the lane ([`Lane::close_socket`]).
    socket: Option<UnixStream>,
    /// Call lane: the last `req_seq` sent. Callback lane: the last `resp_seq`
    /// received (Python's next message echoes it).
    last_seq: u64,
    /// A request whose response nobody waits for any more (interrupted).
    abandoned: Option<u64>,
    /// An answer read from the slot that the JVM waits to see acknowledged.
    unacked: Option<u64>,
    /// The JVM answered the last call within a few spin budgets.
    hot: bool,
    /// The JVM worker was spinning for work when the last request went out,
    /// so it starts on it at once and the answer is worth spinning for.
    peer_spinning: bool,
    strategy: WaitStrategy,
    /// Current spin budget (backs off after misses).
    spin_budget: Duration,
    /// The last spinning wait gave its core to another thread: the JVM
    /// worker probably shares this core (see [`YIELD_GAVE_CORE`]).
    sharing_core: bool,
    /// Answers in a row that came while the waiter gave its core away.
    shared_hits: u32,
    /// The JVM's process id (0: unknown; then the worker is never moved).
    peer_pid: u32,
    /// The JVM worker's thread id, once read and found among the JVM's threads.
    worker_tid: Option<i32>,
    /// The `worker_tid` header value last checked.
    checked_tid: u32,
    /// When the JVM worker was last moved off this core.
    moved_at: Instant,
    /// When the last request went out.
    sent_at: Instant,
    /// When the last response arrived.
    done_at: Instant,
    /// Lent to an event loop: waits never spin (see [`Lane::set_always_ring`]).
    always_ring: bool,
    /// Handles of JVM regions holding spilled messages of abandoned
    /// requests, dropped unread: to be released ([`Lane::take_orphaned_spills`]).
    orphaned_spills: Vec<u64>,
    /// The goodbye byte the JVM sent before closing the lane (0: none), so
    /// the error says why it closed ([`Lane::closed_by_jvm`]).
    goodbye: u8,
}

// SAFETY: `base` points into the control segment, which the client keeps
// mapped for as long as any lane exists; a lane is used by one thread at a
// time (it lives behind a Mutex).
unsafe impl Send for Lane {}

impl Lane {
    /// Wraps lane `index` of the control segment at `control_base`.
    ///
    /// # Safety
    /// `control_base` must be a live mapping of a control segment with
    /// `segment`, outliving the lane.
    pub(crate) unsafe fn new(
        index: usize,
        control_base: *mut u8,
        segment: &ControlSegment,
        socket: UnixStream,
    ) -> Result<Lane> {
        socket
            .set_nonblocking(true)
            .map_err(BridgeError::io("configuring a lane socket"))?;
        Ok(Lane {
            index,
            role: LaneRole::Call,
            // SAFETY: lane_offset(index) is inside the segment for index < lanes.
            base: unsafe { control_base.add(segment.lane_offset(index)) },
            slot_size: segment.slot_size,
            socket: Some(socket),
            last_seq: 0,
            abandoned: None,
            unacked: None,
            hot: false,
            peer_spinning: false,
            strategy: WaitStrategy::Adaptive,
            spin_budget: SPIN_BUDGET,
            sharing_core: false,
            shared_hits: 0,
            peer_pid: 0,
            worker_tid: None,
            checked_tid: 0,
            moved_at: Instant::now(),
            sent_at: Instant::now(),
            done_at: Instant::now(),
            always_ring: false,
            orphaned_spills: Vec::new(),
            goodbye: 0,
        })
    }

    // The returned reference is not tied to `&self`: it points into the
    // control mapping, which outlives the lane.
    fn u64_at<'a>(&self, offset: usize) -> &'a std::sync::atomic::AtomicU64 {
        // SAFETY: lane header offsets are 8-aligned and inside LANE_HEADER.
        unsafe { atomic_u64(self.base, offset) }
    }

    fn u32_at<'a>(&self, offset: usize) -> &'a std::sync::atomic::AtomicU32 {
        // SAFETY: lane header offsets are 4-aligned and inside LANE_HEADER.
        unsafe { atomic_u32(self.base, offset) }
    }

    /// The JVM's process id, which the worker's thread id is checked against
    /// before the worker is moved off a shared core.
    pub fn set_peer_pid(&mut self, pid: u32) {
        self.peer_pid = pid;
    }

    /// The JVM worker's thread id, if it published one that names a thread
    /// of the JVM process (a JVM in another pid namespace publishes ids that
    /// mean nothing here).
    pub fn worker_tid(&mut self) -> Option<i32> {
        let tid = self.u32_at(lane::WORKER_TID).load(Ordering::Relaxed);
        // Checked once per value published (the check allocates a path).
        if tid != self.checked_tid && self.peer_pid != 0 {
            self.checked_tid = tid;
            let task = format!("/proc/{}/task/{tid}", self.peer_pid);
            self.worker_tid =
                (tid != 0 && std::path::Path::new(&task).exists()).then_some(tid as i32);
        }
        self.worker_tid
    }

    /// Chooses how waits spin before blocking.
    pub fn set_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
        self.spin_budget = SPIN_BUDGET;
    }

    /// Lends the lane to an event loop (`on`) or takes it back. While lent,
    /// every wait on it blocks at once (no spinning on the loop's thread, for
    /// nested calls of a callback too), and [`poll_for`](Self::poll_for)
    /// leaves `py_waiting` raised, so Java writes a RING byte for each
    /// answer and the loop learns of it through the socket.
    pub fn set_always_ring(&mut self, on: bool) {
        self.always_ring = on;
    }

    /// Whether the lane is lent to an event loop (see [`Lane::set_always_ring`]).
    pub fn always_rings(&self) -> bool {
        self.always_ring
    }

    /// Makes this a callback lane (before first use).
    pub fn set_role(&mut self, role: LaneRole) {
        self.role = role;
    }

    /// Who starts the exchanges on this lane.
    pub fn role(&self) -> LaneRole {
        self.role
    }

    /// Callback lane: the `resp_seq` of Java's next call.
    pub fn next_call_seq(&self) -> u64 {
        self.last_seq + 1
    }

    /// True when the answer now in the response slot must be acknowledged
    /// once decoded ([`RESP_FLAG_NEEDS_ACK`](crate::control::RESP_FLAG_NEEDS_ACK)).
    pub fn response_needs_ack(&self) -> bool {
        self.u32_at(lane::RESP_FLAGS).load(Ordering::Acquire) & crate::control::RESP_FLAG_NEEDS_ACK
            != 0
    }

    /// Records that answer `seq`, now in the response slot, waits for its
    /// acknowledgement.
    pub fn set_unacked(&mut self, seq: u64) {
        self.unacked = Some(seq);
    }

    /// The answer waiting for its acknowledgement, if any (taking it: the
    /// caller now sends the acknowledgement once the answer is decoded).
    pub fn take_unacked(&mut self) -> Option<u64> {
        self.unacked.take()
    }

    /// True when the message now in the response slot is a callback call.
    pub fn holds_callback_call(&self) -> bool {
        self.u32_at(lane::RESP_FLAGS).load(Ordering::Acquire) & RESP_FLAG_CALLBACK != 0
    }

    /// Index of this lane in the control segment.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Raw descriptor of the lane socket (-1 once closed).
    pub fn socket_fd(&self) -> i32 {
        self.socket.as_ref().map_or(-1, |s| s.as_raw_fd())
    }

    /// The lane socket, or the error that the session closed it.
    fn socket(&self) -> Result<&UnixStream> {
        self.socket.as_ref().ok_or_else(|| {
            BridgeError::Closed(format!("lane {} was closed with its session", self.index))
        })
    }

    /// Closes the socket for good (the session ended); later uses of the
    /// lane fail with [`BridgeError::Closed`].
    pub(crate) fn close_socket(&mut self) {
        self.socket = None;
    }

    /// False while an abandoned request is still running in the JVM.
    pub fn is_ready(&mut self) -> bool {
        matches!(self.settle_abandoned(false), Ok(true))
    }

    /// Deals with the late messages of an abandoned request: callback calls
    /// are refused (Java must not wait for a caller who left), the final
    /// answer is dropped. Returns true once nothing is outstanding; with
    /// `block` false it never waits.
    fn settle_abandoned(&mut self, block: bool) -> Result<bool> {
        while let Some(seq) = self.abandoned {
            if !doorbell::arrived(self.u64_at(lane::RESP_SEQ), seq) {
                if !block {
                    return Ok(false);
                }
                self.wait_for(seq, &mut || false)?;
            }
            self.note_arrival(seq);
            if self.response_flags() & crate::control::RESP_FLAG_SPILL != 0 {
                // Dropped unread: its region goes back to the JVM all the same.
                if let Ok(region) = crate::protocol::read_spill(self.response_bytes()?) {
                    self.orphaned_spills.push(region.handle());
                }
            }
            if self.holds_callback_call() {
                self.u32_at(lane::REQ_FLAGS).store(0, Ordering::Relaxed);
                let next = self.publish(abandoned_reply())?;
                self.abandoned = Some(next);
            } else {
                self.abandoned = None;
            }
        }
        Ok(true)
    }

    /// Copies an encoded message into the request slot and rings the JVM;
    /// returns the `resp_seq` to wait for (its answer, or Java's next
    /// callback call).
    pub fn send(&mut self, request: &[u8]) -> Result<u64> {
        self.send_flagged(request, 0)
    }

    /// As [`send`](Self::send), with `req_flags` set to `flags` (e.g.
    /// [`crate::control::REQ_FLAG_SPILL`]: the slot holds a `Spill`).
    pub fn send_flagged(&mut self, request: &[u8], flags: u32) -> Result<u64> {
        if request.len() > self.slot_size {
            return Err(BridgeError::TooLarge {
                what: "request",
                size: request.len(),
                limit: self.slot_size,
            });
        }
        // Wait out an interrupted call so its late reply cannot be mistaken
        // for ours.
        self.settle_abandoned(true)?;
        self.u32_at(lane::REQ_FLAGS).store(flags, Ordering::Relaxed);
        self.publish(request)
    }

    /// Handles of JVM regions (spilled messages of abandoned requests) that
    /// were dropped unread; the caller queues their release.
    pub fn take_orphaned_spills(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.orphaned_spills)
    }

    /// Bytes a message in either slot may take.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// `resp_flags` of the message now in the response slot.
    pub fn response_flags(&self) -> u32 {
        self.u32_at(lane::RESP_FLAGS).load(Ordering::Acquire)
    }

    fn publish(&mut self, request: &[u8]) -> Result<u64> {
        // SAFETY: the request slot starts LANE_HEADER after the lane base and
        // is slot_size long (checked by the callers); the JVM reads it only
        // after the seq store below.
        unsafe {
            std::ptr::copy_nonoverlapping(
                request.as_ptr(),
                self.base.add(LANE_HEADER),
                request.len(),
            );
        }
        self.u32_at(lane::REQ_LEN)
            .store(request.len() as u32, Ordering::Relaxed);
        let (seq, expect) = match self.role {
            LaneRole::Call => (self.last_seq + 1, self.last_seq + 1),
            LaneRole::Callback => (self.last_seq, self.last_seq + 1),
        };
        if self.role == LaneRole::Call {
            self.last_seq = seq;
        }
        self.peer_spinning = self.u32_at(lane::JVM_SPINNING).load(Ordering::Relaxed) == 1;
        self.sent_at = Instant::now();
        if doorbell::publish(
            self.u64_at(lane::REQ_SEQ),
            self.u32_at(lane::JVM_WAITING),
            seq,
        ) {
            self.ring(RING)?;
        }
        Ok(expect)
    }

    fn note_arrival(&mut self, seq: u64) {
        if self.role == LaneRole::Callback {
            self.last_seq = seq;
        }
    }

    fn ring(&mut self, byte: u8) -> Result<()> {
        match self.socket()?.write(&[byte]) {
            Ok(_) => Ok(()),
            // A full socket buffer already holds unread wake-ups.
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(self.closed_by_jvm(&e.to_string())),
        }
    }

    /// Notes a goodbye byte among those the JVM sent.
    fn note_bytes(&mut self, bytes: &[u8]) {
        if let Some(&b) = bytes
            .iter()
            .rfind(|&&b| b == GOODBYE_STOPPED || b == GOODBYE_IDLE)
        {
            self.goodbye = b;
        }
    }

    /// The error for a lane the JVM closed, saying why when it said goodbye
    /// first (bytes still unread are read for it); `detail` is what failed.
    fn closed_by_jvm(&mut self, detail: &str) -> BridgeError {
        if self.goodbye == 0 {
            let _ = self.drain_socket();
        }
        BridgeError::Closed(match self.goodbye {
            GOODBYE_IDLE => "the session expired: the server closed it after it was idle for \
                 longer than its idle timeout (limit session_idle_timeout_ms); its objects \
                 were released; connect again"
                .to_owned(),
            GOODBYE_STOPPED => "the server stopped (GatunSession.stop() or its JVM shutting \
                 down) and closed this session"
                .to_owned(),
            _ if detail.is_empty() => {
                format!(
                    "the JVM closed lane {} (it exited or was killed)",
                    self.index
                )
            }
            _ => format!("the JVM closed lane {}: {detail}", self.index),
        })
    }

    /// Waits until the message numbered `seq` (the answer to a request, or a
    /// callback call) is in the response slot. An interrupted wait on a call
    /// lane cancels the request; a callback lane ignores interrupts.
    pub fn wait(&mut self, seq: u64, interrupt: &mut dyn Interrupt) -> Result<()> {
        let cancel = self.role == LaneRole::Call;
        if self.wait_for(seq, &mut || cancel && interrupt.interrupted())? {
            self.note_arrival(seq);
            return Ok(());
        }
        self.cancel(seq)?;
        Err(BridgeError::Interrupted)
    }

    /// Callback lane: waits for Java's next call; false if `stop` said so
    /// first (it is asked every 100 ms).
    pub fn wait_for_call(&mut self, stop: &mut dyn FnMut() -> bool) -> Result<bool> {
        let seq = self.next_call_seq();
        if self.wait_for(seq, stop)? {
            self.note_arrival(seq);
            return Ok(true);
        }
        Ok(false)
    }

    /// The doorbell wait; false if `give_up` returned true at a signal check.
    fn wait_for(&mut self, seq: u64, give_up: &mut dyn FnMut() -> bool) -> Result<bool> {
        let resp_seq = self.u64_at(lane::RESP_SEQ);
        // Sent right after the last answer: a run of calls, not work between them.
        let back_to_back = self.sent_at.saturating_duration_since(self.done_at) < BACK_TO_BACK;
        let spin = match self.strategy {
            // A fast last reply counts only if it was recent: after a pause
            // longer than its own spin window the JVM worker is parked, and
            // spinning against a sleeping peer only slows its wake-up.
            WaitStrategy::Adaptive => {
                self.peer_spinning || (self.hot && self.done_at.elapsed() < SPIN_BUDGET)
            }
            WaitStrategy::Spin | WaitStrategy::Backoff => true,
            WaitStrategy::Block => false,
        } && !self.always_ring;
        if spin {
            let start = Instant::now();
            let budget = self.spin_budget;
            self.u32_at(lane::PY_SPINNING).store(1, Ordering::Relaxed);
            let mut hit = false;
            let mut gave_core = false;
            loop {
                if doorbell::arrived(resp_seq, seq) {
                    hit = true;
                    break;
                }
                let spun = start.elapsed();
                if spun >= budget {
                    break;
                }
                if spun < YIELD_AFTER && !self.sharing_core {
                    std::hint::spin_loop();
                } else {
                    // Past a normal reply time, or sharing a core: the JVM
                    // worker may be waiting for this very core (YIELD_AFTER).
                    let before = Instant::now();
                    std::thread::yield_now();
                    gave_core |= before.elapsed() >= YIELD_GAVE_CORE;
                }
            }
            // Back-to-back calls answered while sharing a core: the scheduler
            // keeps the peers together for tens of milliseconds (both stay
            // runnable and cache-hot, so the idle core pulls neither) at
            // 5-9 µs a call, so move the JVM worker off this core
            // (SHM_LAYOUT.md, "Spinning").
            self.shared_hits = if gave_core && hit && back_to_back {
                self.shared_hits + 1
            } else {
                0
            };
            if self.shared_hits >= SHARED_HITS_BEFORE_MOVING
                && self.moved_at.elapsed() >= MOVE_AT_MOST_EVERY
            {
                // Only onto an idle core: moved next to another busy thread
                // (a GC or JIT thread, another process), the worker would wait
                // for it instead of trading the core with this waiter.
                if let Some(tid) = self.worker_tid().filter(|_| no_other_thread_runs()) {
                    move_off_this_core(tid);
                }
                self.moved_at = Instant::now();
                self.shared_hits = 0;
            }
            self.sharing_core = gave_core;
            self.u32_at(lane::PY_SPINNING).store(0, Ordering::Relaxed);
            if self.strategy != WaitStrategy::Spin {
                self.spin_budget = if hit {
                    (budget * 2).min(SPIN_BUDGET)
                } else {
                    (budget / 2).max(MIN_SPIN)
                };
            }
            if hit {
                self.hot = true;
                self.done_at = Instant::now();
                return Ok(true);
            }
        }
        loop {
            if doorbell::arrived(resp_seq, seq) {
                break;
            }
            if doorbell::prepare_to_block(resp_seq, self.u32_at(lane::PY_WAITING), seq)
                == BeforeBlocking::Arrived
            {
                break;
            }
            if !self.block_on_socket()? && give_up() {
                return Ok(false);
            }
        }
        // A reply within a few spin budgets of the request means the JVM is
        // hot: spinning next time is likely to pay off. A reply that a full
        // spin would have caught restores the full budget; without this, a
        // budget that backed off below the reply time could never hit again.
        self.done_at = Instant::now();
        let latency = self.done_at - self.sent_at;
        self.hot = latency < SPIN_BUDGET * 4;
        if latency < SPIN_BUDGET && self.strategy != WaitStrategy::Spin {
            self.spin_budget = SPIN_BUDGET;
        }
        Ok(true)
    }

    /// The non-blocking half of the doorbell wait, for an event loop that
    /// calls it whenever the lane socket is readable (and once right after
    /// sending). Consumes the RING bytes that are there, then returns true if
    /// the message numbered `seq` is in the response slot (the sequence is
    /// the truth, a byte only a hint). Otherwise it announces `py_waiting`
    /// (the Wait steps 2–3 of SHM_LAYOUT.md) and returns false: Java will
    /// write a RING byte when it publishes `seq`. EOF with nothing arrived
    /// means the JVM is gone: [`BridgeError::Closed`].
    pub fn poll_for(&mut self, seq: u64) -> Result<bool> {
        let eof = self.drain_socket()?;
        let resp_seq = self.u64_at(lane::RESP_SEQ);
        let arrived = doorbell::arrived(resp_seq, seq)
            || (!eof
                && doorbell::prepare_to_block(resp_seq, self.u32_at(lane::PY_WAITING), seq)
                    == BeforeBlocking::Arrived);
        if !arrived {
            if eof {
                return Err(self.closed_by_jvm(""));
            }
            return Ok(false);
        }
        // Withdraw a raised flag. If Java took it first, its RING byte is on
        // the way and a later poll or wait consumes it as a spurious hint.
        let _ = self.u32_at(lane::PY_WAITING).compare_exchange(
            1,
            0,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        self.done_at = Instant::now();
        self.note_arrival(seq);
        Ok(true)
    }

    /// Reads every byte waiting on the socket without blocking; true on EOF.
    fn drain_socket(&mut self) -> Result<bool> {
        let mut buf = [0u8; 64];
        loop {
            match self.socket()?.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => self.note_bytes(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(BridgeError::Closed(format!(
                        "lane {} failed: {e}",
                        self.index
                    )))
                }
            }
        }
    }

    /// Blocks until the socket is readable or the signal-check interval ends.
    /// Returns true if bytes were consumed.
    fn block_on_socket(&mut self) -> Result<bool> {
        let mut fds = libc::pollfd {
            fd: self.socket()?.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut fds, 1, SIGNAL_CHECK_INTERVAL.as_millis() as i32) };
        if rc <= 0 {
            return Ok(false);
        }
        let mut buf = [0u8; 64];
        match self.socket()?.read(&mut buf) {
            Ok(0) => Err(self.closed_by_jvm("")),
            Ok(n) => {
                self.note_bytes(&buf[..n]);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                Ok(false)
            }
            Err(e) => Err(BridgeError::Closed(format!(
                "lane {} failed: {e}",
                self.index
            ))),
        }
    }

    /// Answers the callback call now in the response slot with an error
    /// ("the Python call ... was interrupted") without running it, and
    /// abandons the exchange: its later messages are settled as an
    /// interrupted call's are.
    pub fn refuse_callback_call(&mut self) -> Result<()> {
        self.u32_at(lane::REQ_FLAGS).store(0, Ordering::Relaxed);
        let next = self.publish(abandoned_reply())?;
        self.abandoned = Some(next);
        Ok(())
    }

    /// Asks the JVM to cancel `seq`; its late messages are settled later
    /// (callback calls refused, the answer dropped).
    pub fn cancel(&mut self, seq: u64) -> Result<()> {
        self.u64_at(lane::CANCEL_SEQ).store(seq, Ordering::SeqCst);
        self.abandoned = Some(seq);
        self.ring(CANCEL)
    }

    /// The verified response now in the response slot.
    pub fn response(&self) -> Result<protocol::Response<'_>> {
        protocol::read_response(self.response_bytes()?)
    }

    /// The raw bytes of the response now in the response slot.
    pub fn response_bytes(&self) -> Result<&[u8]> {
        let len = self.u32_at(lane::RESP_LEN).load(Ordering::Acquire) as usize;
        if len > self.slot_size {
            return Err(BridgeError::Protocol(format!(
                "response length {len} exceeds the slot size {}",
                self.slot_size
            )));
        }
        // SAFETY: the response slot follows the request slot; `len` was
        // checked against its size, and the JVM does not write it again until
        // we send the next request on this lane.
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(LANE_HEADER + self.slot_size), len) })
    }
}
