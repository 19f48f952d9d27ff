//! Callbacks: Java's calls into Python during an exchange, run by a
//! [`CallbackHandler`] with the lane registered as held by the running
//! thread (so nested calls go back on it), and the dedicated callback lanes
//! Java uses from threads of its own.

use std::cell::RefCell;
use std::sync::Arc;

use super::Client;
use crate::error::{BridgeError, Result};
use crate::lane::Lane;
pub use crate::protocol::encode_callback_error;
use crate::spill::{self, Message};

/// A lane this thread holds while it runs a callback.
pub(super) struct HeldInCallback {
    /// The session (`Arc::as_ptr` of its shared state).
    pub(super) client: usize,
    pub(super) lane: *mut Lane,
    pub(super) index: usize,
    /// A nested [`LaneGuard`] for it exists.
    pub(super) busy: bool,
}

thread_local! {
    /// Lanes held by callback frames of this thread, innermost last. A call
    /// made from a callback must reuse its lane: taking another one would
    /// let nested callbacks exhaust the pool and hang.
    pub(super) static HELD_IN_CALLBACK: RefCell<Vec<HeldInCallback>> = const { RefCell::new(Vec::new()) };
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

impl Client {
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
    pub(super) fn run_callback(
        &self,
        lane: &mut Lane,
        callbacks: &mut dyn CallbackHandler,
    ) -> Result<CallbackOutcome> {
        let call = Message::read(lane, &self.shared.arrow)?.bytes().to_vec();
        Ok(with_lane_held(self, lane, || callbacks.handle(&call)))
    }

    /// Runs `f` with `lane` registered as held by this thread, so blocking
    /// calls made by `f` go back on it (a callback's nested calls).
    pub(crate) fn run_holding<R>(&self, lane: &mut Lane, f: impl FnOnce() -> R) -> R {
        with_lane_held(self, lane, f)
    }
}
