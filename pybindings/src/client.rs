//! `NativeClient`: the Python face of [`gatun_bridge::Client`].
//!
//! A call encodes its arguments straight from Python objects into the lane's
//! reused FlatBuffers builder, waits with the GIL released (waking every
//! 100 ms to let Ctrl-C through), and decodes the response straight from the
//! response slot into Python objects.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gatun_bridge::arrow_plane::ArenaSizing;
use gatun_bridge::lane::Interrupt;
use gatun_bridge::protocol::{self as fb, Action};
use gatun_bridge::protocol::{build_request, java_error};
use gatun_bridge::scalar_template::{Scalar, MAX_SCALAR_ARGS};
use gatun_bridge::spill::RegionAllocator;
use gatun_bridge::{
    parse_token, AttachOptions, BridgeError, Client, ClientOptions, LaneGuard, ObjectReleases,
    PooledScratch, RequestHead, TakenReleases, WeakClient,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString, PyTuple};

use crate::batch::scalar_args;
use crate::callbacks::PyCallbacks;
use crate::convert::{self, Hooks};
use crate::errors::to_py;
use crate::jvm_output::JvmOutputReader;
use crate::running_calls::{Registration, RunningCalls};

/// Every live client, so a forked child can let go of their descriptors.
static CLIENTS: Mutex<Vec<WeakClient>> = Mutex::new(Vec::new());

/// Called in the child after `os.fork()`.
#[pyfunction]
pub fn _after_fork_in_child() {
    // try_lock: another thread may have held the lock at fork time and will
    // never release it in the child.
    if let Ok(clients) = CLIENTS.try_lock() {
        for client in clients.iter().filter_map(WeakClient::upgrade) {
            client.forget_after_fork();
        }
    }
}

/// Lets Ctrl-C through while a call waits without the GIL, and a cancel by
/// request id from another thread.
struct SignalCheck<'r> {
    error: Option<PyErr>,
    /// The call as listed by `running_calls()` (None for a nested call).
    call: Option<&'r Registration<'r>>,
}

impl Interrupt for SignalCheck<'_> {
    fn interrupted(&mut self) -> bool {
        if self.call.is_some_and(Registration::cancelled) {
            return true;
        }
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                self.error = Some(e);
                true
            }
        }
    }
}

/// Carries a held lane into `Python::detach`.
struct HeldLane<'c>(LaneGuard<'c>);

// SAFETY: `Python::detach` runs its closure on the calling thread; the lane
// guard (which contains a MutexGuard) never actually changes threads.
unsafe impl Send for HeldLane<'_> {}

/// Carries the borrowed scratch into `Python::detach` (same thread, as above).
struct SendScratch<'a, 'c>(&'a mut PooledScratch<'c>);

// SAFETY: as for `HeldLane`; the scratch holds no Python objects.
unsafe impl Send for SendScratch<'_, '_> {}

/// A connected session with a JVM.
#[pyclass(frozen, module = "gatun._native")]
pub struct NativeClient {
    client: Client,
    hooks: OnceLock<Hooks>,
    /// `dispatch(callback_id, method, interface, args)`, set with the first
    /// registered callback.
    callback_dispatcher: OnceLock<Py<PyAny>>,
    /// Blocking calls in flight, for `running_calls()` and `cancel(id)`.
    running: RunningCalls,
}

impl NativeClient {
    /// The queue released object ids go to.
    pub fn object_releases(&self) -> Arc<ObjectReleases> {
        self.client.object_releases()
    }

    /// The bridge client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn hooks(&self) -> PyResult<&Hooks> {
        self.hooks
            .get()
            .ok_or_else(|| PyValueError::new_err("NativeClient.set_factories() was not called"))
    }

    /// Takes a lane: without blocking while holding the GIL if one is free,
    /// else waiting with the GIL released.
    fn lane(&self, py: Python<'_>) -> PyResult<LaneGuard<'_>> {
        if crate::loop_call::blocking_calls_forbidden() {
            return Err(crate::loop_call::CallNeedsThread::new_err(
                "this argument needs a blocking Java call to convert; the event loop must not make one",
            ));
        }
        if let Some(lane) = self.client.try_acquire_lane().map_err(|e| to_py(py, e))? {
            return Ok(lane);
        }
        let client = &self.client;
        py.detach(|| client.acquire_lane().map(HeldLane))
            .map(|held| held.0)
            .map_err(|e| to_py(py, e))
    }

    /// Sends the request finished in `scratch` over a lane and copies the
    /// response back, waiting with the GIL released. The lane is returned
    /// before any Python code runs again.
    pub(crate) fn exchange(&self, py: Python<'_>, scratch: &mut PooledScratch<'_>) -> PyResult<()> {
        self.exchange_message(py, scratch, false)
    }

    /// As [`exchange`](Self::exchange), for the request in
    /// `scratch.assembled` (a batch's) instead of the builder's.
    pub(crate) fn exchange_assembled(
        &self,
        py: Python<'_>,
        scratch: &mut PooledScratch<'_>,
    ) -> PyResult<()> {
        self.exchange_message(py, scratch, true)
    }

    fn exchange_message(
        &self,
        py: Python<'_>,
        scratch: &mut PooledScratch<'_>,
        assembled: bool,
    ) -> PyResult<()> {
        let hooks = self.hooks()?;
        let lane = self.lane(py)?;
        let request = if assembled {
            &scratch.assembled[..]
        } else {
            scratch.request()
        };
        // SAFETY: PyThread_get_thread_ident only reads the calling thread's id.
        let thread = unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64;
        let registration = self.running.register(lane.index(), request, thread);
        let mut held = HeldLane(lane);
        let mut signals = SignalCheck {
            error: None,
            call: registration.as_ref(),
        };
        let mut callbacks = PyCallbacks::new(hooks, self.callback_dispatcher.get());
        let mut work = SendScratch(scratch);
        let (work, lane, check, cbs) = (&mut work, &mut held, &mut signals, &mut callbacks);
        // `move` captures the Send wrappers whole, not their non-Send fields.
        let result = py.detach(move || {
            if assembled {
                work.0.exchange_assembled(&mut lane.0, check, cbs)
            } else {
                work.0.exchange(&mut lane.0, check, cbs)
            }
        });
        drop(held);
        let stopped = callbacks.stopped.take();
        drop(callbacks);
        let signal_error = signals.error.take();
        let cancelled = registration
            .as_ref()
            .and_then(|r| r.cancelled().then(|| r.id()));
        drop(registration);
        result.map_err(|e| match (e, signal_error, stopped) {
            (BridgeError::Interrupted, _, Some(err)) => err,
            (BridgeError::Interrupted, Some(err), None) => err,
            (BridgeError::Interrupted, None, None) if cancelled.is_some() => {
                crate::errors::cancelled(py, cancelled.unwrap_or_default())
            }
            (e, _, _) => to_py(py, e),
        })
    }

    fn send_and_decode<'py>(
        &self,
        py: Python<'py>,
        scratch: &mut PooledScratch<'_>,
        releases: TakenReleases,
        hooks: &Hooks,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Err(e) = self.exchange(py, scratch) {
            self.restore_unsent(&e, py, releases);
            return Err(e);
        }
        Self::decode_response(py, scratch, hooks)
    }

    /// The value of the response in `scratch`, or its error raised.
    fn decode_response<'py>(
        py: Python<'py>,
        scratch: &PooledScratch<'_>,
        hooks: &Hooks,
    ) -> PyResult<Bound<'py, PyAny>> {
        let response = scratch.response().map_err(|e| to_py(py, e))?;
        if let Some(error) = response.error() {
            return Err(to_py(py, java_error(error)));
        }
        Self::decode_value(py, response.value(), hooks)
    }

    /// A reply's value (`None` when it has none).
    pub(crate) fn decode_value<'py>(
        py: Python<'py>,
        value: Option<fb::Value<'_>>,
        hooks: &Hooks,
    ) -> PyResult<Bound<'py, PyAny>> {
        match value {
            Some(v) => convert::decode(py, v, hooks, 0),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// Puts piggybacked releases back when the request never left.
    pub(crate) fn restore_unsent(&self, err: &PyErr, py: Python<'_>, releases: TakenReleases) {
        let too_large = py
            .import("gatun.exceptions")
            .and_then(|m| m.getattr("PayloadTooLargeError"))
            .map(|cls| err.is_instance(py, &cls))
            .unwrap_or(false);
        if too_large {
            self.client.object_releases().restore(releases);
        }
    }

    /// Encodes one request (arguments first: conversion hooks may call Java)
    /// into `scratch`, with queued releases piggybacked; returns those
    /// releases, to be restored if the request is never sent.
    pub(crate) fn encode_call<'py>(
        &self,
        scratch: &mut PooledScratch<'_>,
        head: &RequestHead<'_>,
        args: Option<&Bound<'py, PyAny>>,
        keep: &mut convert::KeepAlive<'py>,
    ) -> PyResult<TakenReleases> {
        let hint = args.map_or(0, large_args_size);
        if hint > self.client.slot_size() / 2 {
            // Probably too large for a slot: built in the payload arena,
            // where the JVM reads it without another copy.
            let memory = RegionAllocator::new(&self.client, hint + hint / 8 + 4096);
            let mut fbb = flatbuffers::FlatBufferBuilder::new_in(memory);
            let releases = self.encode_request(&mut fbb, head, args, keep)?;
            scratch.spill_builder = Some(fbb);
            return Ok(releases);
        }
        // The builder's request is the one sent (see `Scratch::request`).
        scratch.spill_builder = None;
        self.encode_request(&mut scratch.builder, head, args, keep)
    }

    fn encode_request<'b, 'py, A: flatbuffers::Allocator + 'b>(
        &self,
        fbb: &mut flatbuffers::FlatBufferBuilder<'b, A>,
        head: &RequestHead<'_>,
        args: Option<&Bound<'py, PyAny>>,
        keep: &mut convert::KeepAlive<'py>,
    ) -> PyResult<TakenReleases> {
        let hooks = self.hooks()?;
        let args = match args {
            Some(a) => Some(Self::encode_args(fbb, a, hooks, keep)?),
            None => None,
        };
        let releases = self.client.take_releases();
        let req = build_request(fbb, head, args, &releases, None, false);
        fbb.finish(req, None);
        Ok(releases)
    }

    fn encode_args<'b, 'py, A: flatbuffers::Allocator + 'b>(
        fbb: &mut flatbuffers::FlatBufferBuilder<'b, A>,
        args: &Bound<'py, PyAny>,
        hooks: &Hooks,
        keep: &mut convert::KeepAlive<'py>,
    ) -> PyResult<ArgsOffset<'b>> {
        // A call has a few arguments: their offsets stay on the stack, so
        // encoding it allocates nothing.
        const ON_STACK: usize = 8;
        if let Ok(tuple) = args.cast::<PyTuple>() {
            if tuple.len() <= ON_STACK {
                let mut offsets = [flatbuffers::WIPOffset::new(0); ON_STACK];
                for (slot, arg) in offsets.iter_mut().zip(tuple.iter_borrowed()) {
                    *slot = convert::encode(fbb, &arg, hooks, 0, keep)?;
                }
                return Ok(fbb.create_vector(&offsets[..tuple.len()]));
            }
        }
        Self::encode_args_with(fbb, args, hooks, keep, &mut Vec::new())
    }

    /// [`encode_args`](Self::encode_args) with `offsets` as scratch space
    /// (left empty), so a caller encoding many commands allocates it once.
    pub(crate) fn encode_args_with<'b, 'py, A: flatbuffers::Allocator + 'b>(
        fbb: &mut flatbuffers::FlatBufferBuilder<'b, A>,
        args: &Bound<'py, PyAny>,
        hooks: &Hooks,
        keep: &mut convert::KeepAlive<'py>,
        offsets: &mut Vec<flatbuffers::WIPOffset<fb::Value<'b>>>,
    ) -> PyResult<ArgsOffset<'b>> {
        offsets.clear();
        let mut encode_all = || -> PyResult<()> {
            if let Ok(tuple) = args.cast::<PyTuple>() {
                for arg in tuple.iter_borrowed() {
                    offsets.push(convert::encode(fbb, &arg, hooks, 0, keep)?);
                }
            } else {
                for arg in args.try_iter()? {
                    offsets.push(convert::encode(fbb, &arg?, hooks, 0, keep)?);
                }
            }
            Ok(())
        };
        let encoded = encode_all();
        let vector = encoded.map(|()| fbb.create_vector(offsets));
        offsets.clear();
        vector
    }
}

/// About how many bytes the large arguments among `args` take encoded (a
/// lower bound; small ones count 0): `bytes`, `str` (one byte per character
/// at least), numpy arrays, and lists and tuples (~28 bytes per item, an
/// integer's `Value`), at the top level. It decides whether a request is
/// built in the payload arena (see `encode_call`).
fn large_args_size(args: &Bound<'_, PyAny>) -> usize {
    let size = |a: Bound<'_, PyAny>| -> usize {
        if let Ok(b) = a.cast::<PyBytes>() {
            b.as_bytes().len()
        } else if let Ok(s) = a.cast::<PyString>() {
            s.len().unwrap_or(0)
        } else if let Ok(b) = a.cast::<PyByteArray>() {
            b.len()
        } else if let Ok(l) = a.cast::<PyList>() {
            l.len() * 28
        } else if let Ok(t) = a.cast::<PyTuple>() {
            t.len() * 28
        } else if a.get_type().name().is_ok_and(|n| n == "ndarray") {
            a.getattr("nbytes")
                .and_then(|n| n.extract::<usize>())
                .unwrap_or(0)
        } else {
            0
        }
    };
    if let Ok(tuple) = args.cast::<PyTuple>() {
        tuple.iter().map(size).sum()
    } else if let Ok(list) = args.cast::<PyList>() {
        list.iter().map(size).sum()
    } else {
        0
    }
}

/// Encoded arguments of a request.
pub(crate) type ArgsOffset<'b> =
    flatbuffers::WIPOffset<flatbuffers::Vector<'b, flatbuffers::ForwardsUOffset<fb::Value<'b>>>>;

/// The head of a request from the wire-level arguments of the Python API,
/// refusing an unknown action number.
pub(crate) fn request_head<'a>(
    action_number: u8,
    object_id: i64,
    class_name: Option<&'a str>,
    name: Option<&'a str>,
    return_object_ref: bool,
) -> PyResult<RequestHead<'a>> {
    let action = Action(action_number);
    if action.variant_name().is_none() {
        return Err(PyValueError::new_err(format!(
            "unknown action number {action_number}"
        )));
    }
    Ok(RequestHead {
        action,
        object_id,
        class_name,
        name,
        return_object_ref,
    })
}

/// `value` seconds as a duration, or a `ValueError` naming `name` unless it
/// is a positive finite number.
pub(crate) fn positive_seconds(name: &str, value: f64) -> PyResult<Duration> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(PyValueError::new_err(format!(
            "{name} must be positive, got {value}"
        )))
    }
}

/// The arena's sizing for a `memory=` cap (default sizing without one).
fn arena_sizing(arena_memory: Option<usize>) -> ArenaSizing {
    match arena_memory {
        Some(max_memory) => ArenaSizing {
            max_memory,
            segment_size: ArenaSizing::default()
                .segment_size
                .min(max_memory.max(1 << 20)),
        },
        None => ArenaSizing::default(),
    }
}

impl NativeClient {
    /// Wraps a new client, remembering it for the fork handler.
    fn register(client: Client) -> NativeClient {
        let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|c| c.upgrade().is_some());
        clients.push(client.downgrade());
        let running = RunningCalls::new(client.lane_count());
        NativeClient {
            client,
            hooks: OnceLock::new(),
            callback_dispatcher: OnceLock::new(),
            running,
        }
    }
}

#[pymethods]
impl NativeClient {
    #[staticmethod]
    #[pyo3(signature = (jar, *, java=None, java_source=None, classpath=Vec::new(), jvm_options=Vec::new(), lanes=4, slot_size=1<<20, startup_timeout=30.0, arena_memory=None, doorbell="adaptive", callback_lanes=2, verify_utf8=false))]
    #[allow(clippy::too_many_arguments)]
    fn launch(
        py: Python<'_>,
        jar: PathBuf,
        java: Option<PathBuf>,
        java_source: Option<String>,
        classpath: Vec<String>,
        jvm_options: Vec<String>,
        lanes: usize,
        slot_size: usize,
        startup_timeout: f64,
        arena_memory: Option<usize>,
        doorbell: &str,
        callback_lanes: usize,
        verify_utf8: bool,
    ) -> PyResult<NativeClient> {
        let doorbell = doorbell.parse().map_err(PyValueError::new_err)?;
        let startup_timeout = positive_seconds("startup_timeout", startup_timeout)?;
        let opts = ClientOptions {
            java,
            java_source,
            jar,
            classpath,
            jvm_options,
            lanes,
            callback_lanes,
            slot_size,
            startup_timeout,
            arena: arena_sizing(arena_memory),
            doorbell,
            verify_utf8,
        };
        let client = py
            .detach(|| Client::launch(&opts))
            .map_err(|e| to_py(py, e))?;
        Ok(NativeClient::register(client))
    }

    /// Connects to a server another JVM hosts (`GatunServer.startHosted`):
    /// our segments are handed over as files in a private directory, and
    /// closing the client ends only this session.
    #[staticmethod]
    #[pyo3(signature = (socket_path, token, *, lanes=4, slot_size=1<<20, timeout=30.0, arena_memory=None, doorbell="adaptive", callback_lanes=2, verify_utf8=false))]
    #[allow(clippy::too_many_arguments)]
    fn attach(
        py: Python<'_>,
        socket_path: PathBuf,
        token: &str,
        lanes: usize,
        slot_size: usize,
        timeout: f64,
        arena_memory: Option<usize>,
        doorbell: &str,
        callback_lanes: usize,
        verify_utf8: bool,
    ) -> PyResult<NativeClient> {
        let doorbell = doorbell.parse().map_err(PyValueError::new_err)?;
        let timeout = positive_seconds("timeout", timeout)?;
        let token = parse_token(token).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut opts = AttachOptions::new(socket_path, token);
        opts.lanes = lanes;
        opts.callback_lanes = callback_lanes;
        opts.slot_size = slot_size;
        opts.timeout = timeout;
        opts.arena = arena_sizing(arena_memory);
        opts.doorbell = doorbell;
        opts.verify_utf8 = verify_utf8;
        let client = py
            .detach(|| Client::attach(&opts))
            .map_err(|e| to_py(py, e))?;
        Ok(NativeClient::register(client))
    }

    /// Whether this client attached to a hosted server rather than
    /// launching its own JVM.
    #[getter]
    fn attached(&self) -> bool {
        self.client.is_attached()
    }

    /// Sets the function that runs callbacks (once; later calls are ignored).
    fn set_callback_dispatcher(&self, dispatch: Py<PyAny>) {
        let _ = self.callback_dispatcher.set(dispatch);
    }

    /// Serves callback lane `index` on this thread until the session ends.
    fn serve_callbacks(&self, py: Python<'_>, index: usize) -> PyResult<()> {
        let hooks = self.hooks()?;
        let mut callbacks = PyCallbacks::new(hooks, self.callback_dispatcher.get());
        let client = &self.client;
        let cbs = &mut callbacks;
        let result = py.detach(move || client.serve_callback_lane(index, cbs, &mut || false));
        drop(callbacks);
        match result {
            Ok(()) | Err(BridgeError::Closed(_)) => Ok(()),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// Indices of the lanes that carry callbacks fired on other Java threads.
    #[getter]
    fn callback_lanes(&self) -> Vec<usize> {
        self.client.callback_lanes().collect()
    }

    #[pyo3(signature = (make_object, make_list, make_array, convert_argument, is_java_array, make_reader=None))]
    fn set_factories(
        &self,
        make_object: Py<PyAny>,
        make_list: Py<PyAny>,
        make_array: Py<PyAny>,
        convert_argument: Py<PyAny>,
        is_java_array: Py<PyAny>,
        make_reader: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        self.hooks
            .set(Hooks {
                make_object,
                make_list,
                make_array,
                convert_argument,
                is_java_array,
                make_reader,
                client: self.client.clone(),
            })
            .map_err(|_| PyValueError::new_err("factories are already set"))
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (action_number, object_id=0, class_name=None, name=None, args=None, return_object_ref=false))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        action_number: u8,
        object_id: i64,
        class_name: Option<&str>,
        name: Option<&str>,
        args: Option<Bound<'py, PyAny>>,
        return_object_ref: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hooks = self.hooks()?;
        let head = request_head(
            action_number,
            object_id,
            class_name,
            name,
            return_object_ref,
        )?;
        let mut scratch = self.client.scratch();
        let mut scalars = [Scalar::Null; MAX_SCALAR_ARGS];
        if let Some(n) = scalar_args(args.as_ref(), &mut scalars) {
            // Releases waiting go with a request built in full, which carries them.
            if !self.client.releases_waiting() && scratch.scalar_request(&head, &scalars[..n]) {
                self.exchange_assembled(py, &mut scratch)?;
                return Self::decode_response(py, &scratch, hooks);
            }
        }
        let mut keep = Vec::new();
        let releases = self.encode_call(&mut scratch, &head, args.as_ref(), &mut keep)?;
        self.send_and_decode(py, &mut scratch, releases, hooks)
    }

    /// The blocking calls in flight: `(id, thread ident, action, target,
    /// started)` tuples, oldest first.
    fn running_calls(&self) -> Vec<(u64, u64, &'static str, String, f64)> {
        self.running
            .snapshot()
            .into_iter()
            .map(|c| (c.id, c.thread, c.action, c.target, c.started))
            .collect()
    }

    /// Cancels blocking call `request_id`: true if it was in flight (its
    /// wait then sends the JVM a cancel and raises `CancelledException`).
    fn cancel(&self, request_id: u64) -> bool {
        self.running.cancel(request_id)
    }

    /// A fresh request id, from the same counter as the blocking calls'
    /// (the async client numbers its event-loop calls with it).
    fn next_request_id(&self) -> u64 {
        self.running.next_id()
    }

    /// The event-loop form of `request`: lends a free lane to the caller's
    /// loop, sends the request and returns the `PendingCall` to poll; `None`
    /// when no lane can be lent now. Raises `CallNeedsThread` when an
    /// argument needs a blocking Java call to convert.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (action_number, object_id=0, class_name=None, name=None, args=None, return_object_ref=false))]
    fn begin<'py>(
        slf: &Bound<'py, Self>,
        action_number: u8,
        object_id: i64,
        class_name: Option<&str>,
        name: Option<&str>,
        args: Option<Bound<'py, PyAny>>,
        return_object_ref: bool,
    ) -> PyResult<Option<crate::loop_call::PendingCall>> {
        let head = request_head(
            action_number,
            object_id,
            class_name,
            name,
            return_object_ref,
        )?;
        crate::loop_call::PendingCall::begin(slf, &head, args.as_ref())
    }

    /// Sends every batch of an Arrow producer: a Java `VectorSchemaRoot`
    /// reference for one batch, one `BridgeArrowReader` for several batches
    /// or dictionary-encoded columns.
    fn send_arrow<'py>(
        &self,
        py: Python<'py>,
        data: pyo3_arrow::input::AnyRecordBatch,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.send_arrow_batches(py, data)
    }

    /// Sends one batch into a Java `BridgeArrowReader` (`reader` 0 opens a
    /// new one and returns its reference; -1 is the reader whose pull
    /// callback is running); `end` marks the stream's last batch.
    #[pyo3(signature = (batch, reader, end))]
    fn stream_batch<'py>(
        &self,
        py: Python<'py>,
        batch: pyo3_arrow::PyRecordBatch,
        reader: i64,
        end: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.stream_one(py, batch.into_inner(), reader, end)
    }

    /// A writable buffer of `nbytes` in the payload arena (zero-copy path).
    fn arena_allocate(
        &self,
        py: Python<'_>,
        nbytes: usize,
    ) -> PyResult<crate::arena_buffer::ArenaBuffer> {
        crate::arena_buffer::ArenaBuffer::allocate(&self.client, nbytes).map_err(|e| to_py(py, e))
    }

    /// Counters of the Arrow plane so far: the send path's `batches`,
    /// `bytes_copied` and `bytes_in_place`; the receive path's
    /// `jvm_regions_held`, `jvm_releases_sent`, `bytes_copied_out` and
    /// `bytes_handed_back`.
    fn arrow_stats(&self) -> std::collections::HashMap<&'static str, u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.client.arrow().stats();
        [
            ("batches", s.batches.load(Relaxed)),
            ("bytes_copied", s.bytes_copied.load(Relaxed)),
            ("bytes_in_place", s.bytes_in_place.load(Relaxed)),
            ("jvm_regions_held", s.jvm_regions_held.load(Relaxed)),
            ("jvm_releases_sent", s.jvm_releases_sent.load(Relaxed)),
            ("bytes_copied_out", s.bytes_copied_out.load(Relaxed)),
            ("bytes_handed_back", s.bytes_handed_back.load(Relaxed)),
        ]
        .into()
    }

    #[getter]
    fn arena_bytes_in_use(&self) -> usize {
        self.arena_bytes()
    }

    #[getter]
    fn arena_regions_in_use(&self) -> usize {
        self.arena_regions()
    }

    fn flush_releases(&self, py: Python<'_>) -> PyResult<usize> {
        let client = &self.client;
        py.detach(|| client.flush_releases())
            .map_err(|e| to_py(py, e))
    }

    #[getter]
    fn pending_releases(&self) -> usize {
        self.client.object_releases().len()
    }

    #[getter]
    fn jvm_pid(&self) -> u32 {
        self.client.jvm_pid()
    }

    /// Each call lane's JVM worker thread id (`None`: not known yet).
    fn _lane_worker_tids(&self) -> Vec<Option<i32>> {
        self.client.lane_worker_tids()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    #[getter]
    fn lanes(&self) -> usize {
        self.client.lane_count()
    }

    /// The last 64 KiB the JVM wrote to stderr (for diagnostics).
    fn jvm_stderr(&self) -> String {
        self.client.jvm_stderr()
    }

    /// A reader of the launched JVM's stdout and stderr (`None` when
    /// attached). It keeps only the output alive, not the session.
    fn output_reader(&self) -> Option<JvmOutputReader> {
        self.client.jvm_output().map(JvmOutputReader::new)
    }

    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) {
        let client = &self.client;
        let timeout = Duration::from_secs_f64(timeout.max(0.0));
        py.detach(|| client.close(timeout));
    }
}
