//! A call whose wait is driven by an event loop (asyncio), not by a thread
//! that blocks: ARCHITECTURE §5's "always ring" lanes, whose socket the loop
//! watches with `add_reader`.
//!
//! [`Client::try_lend_lane`] takes a free call lane without blocking and lends
//! it to the loop as a [`LoopCall`]. The loop [`send`](LoopCall::send)s the
//! request, then calls [`poll`](LoopCall::poll) once at once and again each
//! time [`socket_fd`](LoopCall::socket_fd) is readable. `poll` never blocks:
//! it consumes the RING bytes, compares `resp_seq` (the truth) and otherwise
//! leaves `py_waiting` raised, so Java rings for the answer (SHM_LAYOUT.md,
//! "Event-loop lanes"). A callback call may arrive instead of the answer; the
//! loop runs it and sends the reply on the same lane, and calls made by the
//! callback's coroutine use [`nested`](LoopCall::nested) handles on it.
//!
//! ```no_run
//! # fn demo(client: &gatun_bridge::Client, request: &[u8]) -> gatun_bridge::Result<()> {
//! if let Some(mut call) = client.try_lend_lane()? {
//!     call.send(request)?;
//!     while !call.poll()? {
//!         // an event loop would return here and poll when the socket is readable
//!     }
//!     let len = call.with_response(|bytes| bytes.len())?;
//!     call.finish(); // the lane goes back to the pool
//! }
//! # Ok(()) }
//! ```

use std::thread::ThreadId;

use crate::client::Client;
use crate::error::{BridgeError, Result};
use crate::lane::Lane;

/// Where a [`LoopCall`] is in its exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopCallState {
    /// The lane is held and nothing is in flight: [`LoopCall::send`] next.
    Ready,
    /// A message was sent; its answer (or a callback call) has not arrived.
    Waiting,
    /// The message awaited is in the response slot.
    Arrived,
    /// The lane was given back (or the call abandoned): nothing more to do.
    Returned,
}

/// A call on a lane lent to an event loop. Dropping it abandons whatever is
/// in flight (as [`abandon`](Self::abandon)) and gives the lane back.
pub struct LoopCall {
    client: Client,
    index: usize,
    fd: i32,
    /// The thread whose loop holds the lane (for the per-thread lane count).
    owner: ThreadId,
    /// Lent from the pool and returned when done; false for a call nested in
    /// a callback of another `LoopCall` on the same lane.
    owns_lane: bool,
    expect: u64,
    state: LoopCallState,
    /// What arrived is a callback call (read when it arrived: calls nested
    /// in the callback overwrite the response slot).
    callback: bool,
    /// The answer that arrived waits for its acknowledgement once decoded.
    unacked: bool,
}

impl Client {
    /// Takes a free call lane for an event loop without blocking (see
    /// [`LoopCall`]); `None` if none is free, or if this thread's loop
    /// already holds all but one (that one stays for the blocking calls
    /// the loop's thread still makes, such as name resolution).
    pub fn try_lend_lane(&self) -> Result<Option<LoopCall>> {
        Ok(self
            .lend_lane()?
            .map(|index| LoopCall::new(self.clone(), index)))
    }
}

impl LoopCall {
    pub(crate) fn new(client: Client, index: usize) -> LoopCall {
        let fd = client.socket_fd(index);
        LoopCall {
            client,
            index,
            fd,
            owner: std::thread::current().id(),
            owns_lane: true,
            expect: 0,
            state: LoopCallState::Ready,
            callback: false,
            unacked: false,
        }
    }

    /// Index of the lane in the control segment.
    pub fn lane_index(&self) -> usize {
        self.index
    }

    /// The lane socket: readable when a RING byte (or EOF) arrived.
    pub fn socket_fd(&self) -> i32 {
        self.fd
    }

    /// Where the exchange stands.
    pub fn state(&self) -> LoopCallState {
        self.state
    }

    /// False for a handle made by [`nested`](Self::nested).
    pub fn owns_lane(&self) -> bool {
        self.owns_lane
    }

    fn expect_state(&self, wanted: &[LoopCallState], doing: &str) -> Result<()> {
        if wanted.contains(&self.state) {
            return Ok(());
        }
        Err(BridgeError::Value(format!(
            "cannot {doing} on a call that is {:?} (lane {})",
            self.state, self.index
        )))
    }

    fn lane(&self) -> Result<std::sync::MutexGuard<'_, Lane>> {
        self.client.lent_lane(self.index)
    }

    /// Copies `request` into the request slot and publishes it (ringing the
    /// JVM if its worker sleeps). In state `Ready`, or `Arrived` to answer a
    /// callback call.
    pub fn send(&mut self, request: &[u8]) -> Result<()> {
        self.expect_state(&[LoopCallState::Ready, LoopCallState::Arrived], "send")?;
        // Releases of JVM regions ride on every outgoing request.
        self.client.arrow().flush_region_releases();
        let mut lane = self.lane()?;
        let expect = crate::spill::send(&mut lane, self.client.arrow(), request)
            .map_err(|e| self.client.failed(e))?;
        drop(lane);
        self.expect = expect;
        self.state = LoopCallState::Waiting;
        Ok(())
    }

    /// True once the awaited message is in the response slot; never blocks.
    /// False means "not yet": Java will ring the socket. Fails with
    /// [`BridgeError::Closed`] when the JVM is gone (EOF on the socket).
    pub fn poll(&mut self) -> Result<bool> {
        match self.state {
            LoopCallState::Arrived => return Ok(true),
            LoopCallState::Waiting => {}
            _ => self.expect_state(&[LoopCallState::Waiting], "poll")?,
        }
        let expect = self.expect;
        let mut lane = self.client.lent_lane(self.index)?;
        let arrived = lane.poll_for(expect).map_err(|e| self.client.failed(e))?;
        if arrived {
            self.callback = lane.holds_callback_call();
            self.unacked = !self.callback && lane.response_needs_ack();
            drop(lane);
            self.state = LoopCallState::Arrived;
        }
        Ok(arrived)
    }

    /// Acknowledges the answer that arrived, if the JVM waits for that: call
    /// once it has been decoded (or will never be).
    pub fn acknowledge(&mut self) {
        if std::mem::take(&mut self.unacked) {
            self.client.arrow().queue_ack(self.index, self.expect);
        }
    }

    /// True when the message that arrived is a callback call (run it, then
    /// [`send`](Self::send) the `CallbackReply`), false for the answer.
    pub fn holds_callback_call(&self) -> Result<bool> {
        self.expect_state(&[LoopCallState::Arrived], "read the response")?;
        Ok(self.callback)
    }

    /// Runs `f` on the raw bytes of the message that arrived (before any
    /// nested call overwrites them).
    pub fn with_response<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        self.expect_state(&[LoopCallState::Arrived], "read the response")?;
        let lane = self.lane()?;
        let message = crate::spill::Message::read(&lane, self.client.arrow())?;
        Ok(f(message.bytes()))
    }

    /// Runs `f` (a synchronous callback) with the lane registered as held by
    /// this thread: blocking calls it makes go back on this lane, where the
    /// JVM thread waiting for the callback serves them.
    pub fn run_holding<R>(&mut self, f: impl FnOnce() -> R) -> Result<R> {
        self.expect_state(&[LoopCallState::Arrived], "run a callback")?;
        let mut lane = self.lane()?;
        Ok(self.client.run_holding(&mut lane, f))
    }

    /// A handle for a call made while the callback call that arrived here is
    /// being run (by a coroutine, between polls): it uses the same lane, where
    /// the JVM thread waiting for the callback serves it. One at a time; it
    /// must reach `Arrived` (and be [`finish`](Self::finish)ed) before this
    /// call sends its reply.
    pub fn nested(&self) -> Result<LoopCall> {
        if !self.holds_callback_call()? {
            return Err(BridgeError::Value(format!(
                "lane {} holds an answer, not a callback call: no nested call can be made on it",
                self.index
            )));
        }
        Ok(LoopCall {
            client: self.client.clone(),
            index: self.index,
            fd: self.fd,
            owner: self.owner,
            owns_lane: false,
            expect: 0,
            state: LoopCallState::Ready,
            callback: false,
            unacked: false,
        })
    }

    /// Done with the answer: takes the JVM's releases that came with it and
    /// gives the lane back. Copy what you need out of the response first.
    pub fn finish(&mut self) {
        if self.state == LoopCallState::Returned {
            return;
        }
        if self.state == LoopCallState::Arrived {
            self.client.arrow().drain_releases();
        }
        self.give_back();
    }

    /// Stops waiting. A message in flight is cancelled (`CANCEL`) and its
    /// late answer dropped by the lane when it comes (callback calls for it
    /// are refused), so the lane never gets out of step; a callback call
    /// that already arrived is refused now. Then the lane goes back to the
    /// pool. Idempotent.
    pub fn abandon(&mut self) -> Result<()> {
        let result = match self.state {
            LoopCallState::Waiting => self
                .lane()
                .and_then(|mut lane| lane.cancel(self.expect))
                .map_err(|e| self.client.failed(e)),
            LoopCallState::Arrived if self.callback => self
                .lane()
                .and_then(|mut lane| lane.refuse_callback_call())
                .map_err(|e| self.client.failed(e)),
            LoopCallState::Arrived | LoopCallState::Ready | LoopCallState::Returned => Ok(()),
        };
        self.give_back();
        result
    }

    fn give_back(&mut self) {
        if self.owns_lane && self.state != LoopCallState::Returned {
            self.client.return_lent_lane(self.index, self.owner);
        }
        self.state = LoopCallState::Returned;
    }
}

impl Drop for LoopCall {
    fn drop(&mut self) {
        let _ = self.abandon();
    }
}

impl std::fmt::Debug for LoopCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopCall")
            .field("lane", &self.index)
            .field("state", &self.state)
            .field("expect", &self.expect)
            .field("owns_lane", &self.owns_lane)
            .finish()
    }
}
