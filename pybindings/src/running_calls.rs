//! The blocking calls a client has in flight, by request id, so another
//! thread (or an event loop) can list them and cancel one.
//!
//! One slot per call lane, filled when a call holds the lane and emptied when
//! its wait ends: registering copies the action and names into the slot's
//! fixed buffers, so a call allocates nothing (`test_allocations.py`) and
//! costs two uncontended locks, a clock read and a few field reads. A call
//! nested on a lane its thread already holds (made by a callback) is not
//! listed: cancelling the outer call stops both. Cancelling sets the slot's
//! flag; the wait notices at its next signal check (at most 100 ms,
//! `SIGNAL_CHECK_INTERVAL`), sends the JVM a `CANCEL` as Ctrl-C does, and the
//! call raises `CancelledException(request_id)`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use gatun_bridge::protocol as fb;

/// Bytes of a class or method name a slot keeps (longer ones are cut, on a
/// character boundary, for display only).
const NAME_BYTES: usize = 160;

/// A name copied into a slot without allocating.
struct InlineName {
    bytes: [u8; NAME_BYTES],
    len: usize,
}

impl InlineName {
    const EMPTY: InlineName = InlineName {
        bytes: [0; NAME_BYTES],
        len: 0,
    };

    fn set(&mut self, name: Option<&str>) {
        let name = name.unwrap_or("");
        let mut len = name.len().min(NAME_BYTES);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        self.bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        self.len = len;
    }

    fn as_str(&self) -> &str {
        // The bytes are a prefix of a &str cut on a character boundary.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// What a slot's call is; guarded by the slot's mutex with its id.
struct Described {
    /// The request id, 0 while the slot is free.
    id: u64,
    thread: u64,
    action: &'static str,
    object_id: i64,
    /// Items of a batch, else 0.
    items: usize,
    class: InlineName,
    name: InlineName,
    started: f64,
}

/// A call lane's slot.
struct Slot {
    call: Mutex<Described>,
    /// Set by [`RunningCalls::cancel`], read by the waiting thread.
    cancelled: AtomicBool,
}

/// What a running call is, as `running_calls()` shows it.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// The request id (unique per client, from 1).
    pub id: u64,
    /// `threading.get_ident()` of the calling thread.
    pub thread: u64,
    /// The protocol action's name (`InvokeMethod`, `Batch`, ...).
    pub action: &'static str,
    /// What it acts on: `class.method`, `#object_id.method`, `n items`.
    pub target: String,
    /// When it started, in seconds since the epoch.
    pub started: f64,
}

/// The registry of a client's calls in flight.
pub struct RunningCalls {
    next_id: AtomicU64,
    slots: Box<[Slot]>,
}

/// A registered call; deregistered when dropped, whatever way the call ended.
pub struct Registration<'r> {
    slot: &'r Slot,
    id: u64,
}

impl Registration<'_> {
    /// True once [`RunningCalls::cancel`] named this call.
    pub fn cancelled(&self) -> bool {
        self.slot.cancelled.load(Ordering::Acquire)
    }

    /// Its request id.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.slot.call).id = 0;
    }
}

fn lock(m: &Mutex<Described>) -> MutexGuard<'_, Described> {
    // Every write leaves the slot consistent, so a poisoned one is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RunningCalls {
    /// A registry for `lanes` call lanes.
    pub fn new(lanes: usize) -> RunningCalls {
        let slots = (0..lanes)
            .map(|_| Slot {
                call: Mutex::new(Described {
                    id: 0,
                    thread: 0,
                    action: "",
                    object_id: 0,
                    items: 0,
                    class: InlineName::EMPTY,
                    name: InlineName::EMPTY,
                    started: 0.0,
                }),
                cancelled: AtomicBool::new(false),
            })
            .collect();
        RunningCalls {
            next_id: AtomicU64::new(0),
            slots,
        }
    }

    /// A new request id (shared with the async client's calls on the event loop).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers the call about to send `request` (a finished `Request`) on
    /// call lane `lane`; `None` for a call nested on a lane whose slot its
    /// outer call holds (or a lane without a slot).
    pub fn register(&self, lane: usize, request: &[u8], thread: u64) -> Option<Registration<'_>> {
        let slot = self.slots.get(lane)?;
        let mut call = lock(&slot.call);
        if call.id != 0 {
            return None;
        }
        let id = self.next_id();
        // SAFETY: `request` is a message this process just finished encoding
        // (a FlatBufferBuilder's finished data, a batch assembled by
        // BatchEncoder or a scalar template copy, all valid by construction
        // and checked by their own tests); only top-level fields are read.
        // The generated verifier would cost about 1 µs per call here.
        let parsed = (!request.is_empty())
            .then(|| unsafe { flatbuffers::root_unchecked::<fb::Request>(request) });
        call.id = id;
        call.thread = thread;
        call.action = parsed
            .and_then(|r| r.action().variant_name())
            .unwrap_or("Unknown");
        call.object_id = parsed.map_or(0, |r| r.object_id());
        call.items = parsed.and_then(|r| r.batch()).map_or(0, |b| b.len());
        call.class.set(parsed.and_then(|r| r.class_name()));
        call.name.set(parsed.and_then(|r| r.name()));
        call.started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        slot.cancelled.store(false, Ordering::Release);
        Some(Registration { slot, id })
    }

    /// The calls in flight, oldest first.
    pub fn snapshot(&self) -> Vec<CallInfo> {
        let mut calls: Vec<CallInfo> = self
            .slots
            .iter()
            .filter_map(|slot| {
                let call = lock(&slot.call);
                (call.id != 0).then(|| CallInfo {
                    id: call.id,
                    thread: call.thread,
                    action: call.action,
                    target: target(&call),
                    started: call.started,
                })
            })
            .collect();
        calls.sort_by_key(|c| c.id);
        calls
    }

    /// Marks call `id` cancelled: true if it was in flight and not already cancelled.
    pub fn cancel(&self, id: u64) -> bool {
        if id == 0 {
            return false;
        }
        self.slots.iter().any(|slot| {
            // Under the slot's lock, so the slot cannot pass to another call meanwhile.
            let call = lock(&slot.call);
            call.id == id && !slot.cancelled.swap(true, Ordering::AcqRel)
        })
    }
}

/// What a call acts on: `class.method`, `#object_id.method`, `n items`.
fn target(call: &Described) -> String {
    let (class, name) = (call.class.as_str(), call.name.as_str());
    if call.items > 0 {
        format!("{} items", call.items)
    } else if !class.is_empty() && !name.is_empty() {
        format!("{class}.{name}")
    } else if !class.is_empty() {
        class.to_string()
    } else if call.object_id != 0 && !name.is_empty() {
        format!("#{}.{name}", call.object_id)
    } else if call.object_id != 0 {
        format!("#{}", call.object_id)
    } else {
        name.to_string()
    }
}
