//! A lane: one request slot, one response slot and one Unix socket.
//!
//! A thread holds a lane for one whole call. Sending copies the encoded
//! request into the slot and publishes its sequence number; waiting follows
//! the doorbell protocol (spin briefly while the JVM is hot, then block on the
//! socket with the GIL released, waking every 100 ms to check for signals).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::control::{lane, ControlLayout, CANCEL, LANE_HEADER, RING};
use crate::doorbell::{self, BeforeBlocking};
use crate::error::{BridgeError, Result};
use crate::protocol;
use crate::shm::{atomic_u32, atomic_u64};

/// How a waiter spends the time before blocking on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// Spin while the JVM is hot (it is spinning itself, or answered quickly
    /// within the last spin budget),
    /// with a budget that halves after each miss and doubles after each hit.
    #[default]
    Adaptive,
    /// Always spin the full budget first.
    Spin,
    /// Always spin, but halve the budget after each miss.
    Backoff,
    /// Never spin: block at once (lowest CPU, one wake-up per reply).
    Block,
}

impl std::str::FromStr for WaitStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "adaptive" => Ok(WaitStrategy::Adaptive),
            "spin" => Ok(WaitStrategy::Spin),
            "backoff" => Ok(WaitStrategy::Backoff),
            "block" => Ok(WaitStrategy::Block),
            other => Err(format!(
                "unknown doorbell strategy {other:?}; expected adaptive, spin, backoff or block"
            )),
        }
    }
}

/// Shortest spin budget after repeated misses.
const MIN_SPIN: Duration = Duration::from_micros(1);

/// How often a blocked waiter wakes to check signals.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// Longest spin before blocking, about one thread wake-up.
const SPIN_BUDGET: Duration = Duration::from_micros(100);

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

/// One lane of the control segment, owned by the Python side.
pub struct Lane {
    index: usize,
    base: *mut u8,
    slot_size: usize,
    socket: UnixStream,
    last_seq: u64,
    /// A request whose response nobody waits for any more (interrupted).
    abandoned: Option<u64>,
    /// The JVM answered the last call within a few spin budgets.
    hot: bool,
    /// The JVM worker was spinning for work when the last request went out,
    /// so it starts on it at once and the answer is worth spinning for.
    peer_spinning: bool,
    strategy: WaitStrategy,
    /// Current spin budget (backs off after misses).
    spin_budget: Duration,
    /// When the last request went out.
    sent_at: Instant,
    /// When the last response arrived.
    done_at: Instant,
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
    /// `layout`, outliving the lane.
    pub(crate) unsafe fn new(
        index: usize,
        control_base: *mut u8,
        layout: &ControlLayout,
        socket: UnixStream,
    ) -> Result<Lane> {
        socket
            .set_nonblocking(true)
            .map_err(BridgeError::io("configuring a lane socket"))?;
        Ok(Lane {
            index,
            // SAFETY: lane_offset(index) is inside the segment for index < lanes.
            base: unsafe { control_base.add(layout.lane_offset(index)) },
            slot_size: layout.slot_size,
            socket,
            last_seq: 0,
            abandoned: None,
            hot: false,
            peer_spinning: false,
            strategy: WaitStrategy::Adaptive,
            spin_budget: SPIN_BUDGET,
            sent_at: Instant::now(),
            done_at: Instant::now(),
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

    /// Chooses how waits spin before blocking.
    pub fn set_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
        self.spin_budget = SPIN_BUDGET;
    }

    /// Index of this lane in the control segment.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Raw descriptor of the lane socket.
    pub fn socket_fd(&self) -> i32 {
        self.socket.as_raw_fd()
    }

    /// False while an abandoned request is still running in the JVM.
    pub fn is_ready(&mut self) -> bool {
        match self.abandoned {
            Some(seq) if doorbell::arrived(self.u64_at(lane::RESP_SEQ), seq) => {
                self.abandoned = None;
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Copies an encoded request into the slot and rings the JVM; returns its
    /// sequence number.
    pub fn send(&mut self, request: &[u8]) -> Result<u64> {
        if request.len() > self.slot_size {
            return Err(BridgeError::TooLarge {
                what: "request",
                size: request.len(),
                limit: self.slot_size,
            });
        }
        if let Some(seq) = self.abandoned {
            // Wait out the interrupted call so its late reply cannot be
            // mistaken for ours.
            self.wait(seq, &mut NoInterrupt)?;
            self.abandoned = None;
        }
        // SAFETY: the request slot starts LANE_HEADER after the lane base and
        // is slot_size long; the JVM reads it only after the seq store below.
        unsafe {
            std::ptr::copy_nonoverlapping(
                request.as_ptr(),
                self.base.add(LANE_HEADER),
                request.len(),
            );
        }
        self.u32_at(lane::REQ_LEN)
            .store(request.len() as u32, Ordering::Relaxed);
        let seq = self.last_seq + 1;
        self.last_seq = seq;
        self.peer_spinning = self.u32_at(lane::JVM_SPINNING).load(Ordering::Relaxed) == 1;
        self.sent_at = Instant::now();
        if doorbell::publish(
            self.u64_at(lane::REQ_SEQ),
            self.u32_at(lane::JVM_WAITING),
            seq,
        ) {
            self.ring(RING)?;
        }
        Ok(seq)
    }

    fn ring(&mut self, byte: u8) -> Result<()> {
        match (&self.socket).write(&[byte]) {
            Ok(_) => Ok(()),
            // A full socket buffer already holds unread wake-ups.
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(BridgeError::Closed(format!(
                "the JVM closed lane {}: {e}",
                self.index
            ))),
        }
    }

    /// Waits until the response to `seq` is in the response slot.
    pub fn wait(&mut self, seq: u64, interrupt: &mut dyn Interrupt) -> Result<()> {
        let resp_seq = self.u64_at(lane::RESP_SEQ);
        let spin = match self.strategy {
            // A fast last reply counts only if it was recent: after a pause
            // longer than its own spin window the JVM worker is parked, and
            // spinning against a sleeping peer only slows its wake-up.
            WaitStrategy::Adaptive => {
                self.peer_spinning || (self.hot && self.done_at.elapsed() < SPIN_BUDGET)
            }
            WaitStrategy::Spin | WaitStrategy::Backoff => true,
            WaitStrategy::Block => false,
        };
        if spin {
            let start = Instant::now();
            let budget = self.spin_budget;
            self.u32_at(lane::PY_SPINNING).store(1, Ordering::Relaxed);
            let mut hit = false;
            while start.elapsed() < budget {
                if doorbell::arrived(resp_seq, seq) {
                    hit = true;
                    break;
                }
                std::hint::spin_loop();
            }
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
                return Ok(());
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
            if !self.block_on_socket()? && interrupt.interrupted() {
                self.cancel(seq)?;
                return Err(BridgeError::Interrupted);
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
        Ok(())
    }

    /// Blocks until the socket is readable or the signal-check interval ends.
    /// Returns true if bytes were consumed.
    fn block_on_socket(&mut self) -> Result<bool> {
        let mut fds = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut fds, 1, SIGNAL_CHECK_INTERVAL.as_millis() as i32) };
        if rc <= 0 {
            return Ok(false);
        }
        let mut buf = [0u8; 64];
        match (&self.socket).read(&mut buf) {
            Ok(0) => Err(BridgeError::Closed(format!(
                "the JVM closed lane {} (it exited or was killed)",
                self.index
            ))),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                Ok(false)
            }
            Err(e) => Err(BridgeError::Closed(format!(
                "lane {} failed: {e}",
                self.index
            ))),
        }
    }

    /// Asks the JVM to cancel `seq`; its late reply is discarded.
    fn cancel(&mut self, seq: u64) -> Result<()> {
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
