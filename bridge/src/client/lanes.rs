//! The lane pool: taking a lane for one call ([`LaneGuard`], blocking or
//! not), giving it back, lending call lanes to event loops, and the
//! exchange of one request and its response on a held lane.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use super::callbacks::{CallbackHandler, NoCallbacks, HELD_IN_CALLBACK};
use super::Client;
use crate::error::{BridgeError, Result};
use crate::lane::{Interrupt, Lane};
use crate::spill;

/// How a [`LaneGuard`] holds its lane.
pub(super) enum Held<'c> {
    /// Taken from the pool; returned on drop.
    Pooled(MutexGuard<'c, Lane>),
    /// The lane this thread already holds while it runs a callback (see
    /// [`CallbackHandler`]): nested calls go back on it.
    Nested(*mut Lane, usize),
}

/// A lane held for one call; returned to the pool on drop.
pub struct LaneGuard<'c> {
    pub(super) client: &'c Client,
    pub(super) index: usize,
    pub(super) lane: Option<Held<'c>>,
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
        arrow.flush_region_releases();
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

impl Client {
    /// The lane this thread holds in a callback for this client, if any.
    pub(super) fn held_lane(&self) -> Option<LaneGuard<'_>> {
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

    /// Takes a free call lane out of the pool for an event loop without
    /// blocking, marked to always ring; `None` if none is free, or if this
    /// thread's loop already holds all but one (that one stays for the
    /// blocking calls the loop's thread still makes, such as name
    /// resolution). [`crate::LoopCall`] wraps it
    /// ([`Client::try_lend_lane`]) and gives it back with
    /// [`return_lent_lane`](Self::return_lent_lane).
    pub(crate) fn lend_lane(&self) -> Result<Option<usize>> {
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
        Ok(Some(index))
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
    pub(super) fn loop_lanes_of_this_thread(&self) -> usize {
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

    /// The socket descriptor of lane `index`.
    pub(crate) fn socket_fd(&self, index: usize) -> i32 {
        self.shared
            .socket_fds
            .lock()
            .unwrap_or_else(|e| e.into_inner())[index]
    }
}
