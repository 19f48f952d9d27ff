//! `PendingCall`: a call whose wait an asyncio event loop drives (see
//! [`gatun_bridge::LoopCall`]). `NativeClient.begin` lends it a free lane and
//! sends the request; `gatun.async_client` watches `fileno()` with
//! `add_reader` and calls `poll()` when it is readable. Nothing here blocks
//! or spins, so the loop's thread stays free.

use std::cell::Cell;

use gatun_bridge::protocol::java_error;
use gatun_bridge::protocol::{self as fb};
use gatun_bridge::{LoopCall, RequestHead};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::callbacks::{decode_call, encode_failure, encode_reply};
use crate::client::NativeClient;
use crate::convert;
use crate::errors::to_py;

pyo3::create_exception!(
    _native,
    CallNeedsThread,
    PyException,
    "Raised by NativeClient.begin when converting an argument needs a blocking \
     Java call (a datetime, a Decimal, an Arrow table): run the call on a \
     worker thread instead."
);

thread_local! {
    /// Set while `begin` encodes arguments on an event loop's thread.
    static NO_BLOCKING_CALLS: Cell<bool> = const { Cell::new(false) };
}

/// True while a blocking call on this thread must not take a lane (it would
/// block the event loop, possibly forever); see [`CallNeedsThread`].
pub fn blocking_calls_forbidden() -> bool {
    NO_BLOCKING_CALLS.with(Cell::get)
}

/// Runs `f` with blocking calls on this thread refused.
fn without_blocking_calls<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_BLOCKING_CALLS.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(NO_BLOCKING_CALLS.with(|flag| flag.replace(true)));
    f()
}

/// What [`PendingCall::poll`] found: the `POLL_*` codes of
/// `schemas/layout.toml`, which `gatun._layout` gives the Python side.
use gatun_bridge::layout::{
    POLL_ANSWER as ANSWER, POLL_CALLBACK as CALLBACK, POLL_NOT_YET as NOT_YET,
};

/// A call in flight on a lane lent to an event loop.
#[pyclass(module = "gatun._native")]
pub struct PendingCall {
    native: Py<NativeClient>,
    call: LoopCall,
    /// The answer, copied out of the response slot before the lane went back.
    response: Vec<u8>,
    /// Objects made for the request or a callback reply: alive until Java
    /// has answered (dropping one queues a release of its id).
    keep: Vec<Py<PyAny>>,
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.call.acknowledge(); // never decoded: the JVM's holds go back all the same
    }
}

impl PendingCall {
    fn decode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let hooks = self.native.get().hooks()?;
        let response = fb::read_response(&self.response).map_err(|e| to_py(py, e))?;
        if let Some(error) = response.error() {
            return Err(to_py(py, java_error(error)));
        }
        NativeClient::decode_value(py, response.value(), hooks)
    }

    /// Encodes the request (with blocking calls refused: a conversion that
    /// needs one raises [`CallNeedsThread`]) and sends it on `call`.
    fn start<'py>(
        native: &Bound<'py, NativeClient>,
        call: LoopCall,
        head: &RequestHead<'_>,
        args: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PendingCall> {
        let this = native.get();
        let mut scratch = this.client().scratch();
        let mut keep = Vec::new();
        let releases =
            without_blocking_calls(|| this.encode_call(&mut scratch, head, args, &mut keep))?;
        Self::send_encoded(native, call, scratch.request(), releases, keep)
    }

    /// Sends an encoded request on `call`; one too large to send gives its
    /// piggybacked releases back to the queue.
    fn send_encoded<'py>(
        native: &Bound<'py, NativeClient>,
        mut call: LoopCall,
        request: &[u8],
        releases: gatun_bridge::TakenReleases,
        keep: convert::KeepAlive<'py>,
    ) -> PyResult<PendingCall> {
        if let Err(e) = call.send(request) {
            native
                .get()
                .object_releases()
                .restore_if_unsent(&e, releases);
            return Err(to_py(native.py(), e));
        }
        Ok(PendingCall {
            native: native.clone().unbind(),
            call,
            response: Vec::new(),
            keep: keep.into_iter().map(Bound::unbind).collect(),
        })
    }

    /// `NativeClient.begin`: `None` when no lane can be lent right now.
    pub fn begin<'py>(
        native: &Bound<'py, NativeClient>,
        head: &RequestHead<'_>,
        args: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<PendingCall>> {
        let py = native.py();
        let lent = native
            .get()
            .client()
            .try_lend_lane()
            .map_err(|e| to_py(py, e))?;
        match lent {
            // On failure the LoopCall's drop gives the lane back.
            Some(call) => Self::start(native, call, head, args).map(Some),
            None => Ok(None),
        }
    }
}

#[pymethods]
impl PendingCall {
    /// The lane socket, for `loop.add_reader`.
    fn fileno(&self) -> i32 {
        self.call.socket_fd()
    }

    /// Index of the lane.
    #[getter]
    fn lane(&self) -> usize {
        self.call.lane_index()
    }

    /// True for a call made from a coroutine callback on its lane.
    #[getter]
    fn nested(&self) -> bool {
        !self.call.owns_lane()
    }

    /// Never blocks: 0 = not yet (wait until `fileno()` is readable), 1 = the
    /// answer arrived (the lane is given back; `result()` decodes it), 2 = a
    /// callback call arrived (`callback_call()`, then `reply` or
    /// `reply_error`). Raises `BridgeClosedError` once the JVM is gone.
    fn poll(&mut self, py: Python<'_>) -> PyResult<u8> {
        let call = &mut self.call;
        if !call.poll().map_err(|e| to_py(py, e))? {
            return Ok(NOT_YET);
        }
        if call.holds_callback_call().map_err(|e| to_py(py, e))? {
            return Ok(CALLBACK);
        }
        let response = &mut self.response;
        response.clear();
        call.with_response(|bytes| response.extend_from_slice(bytes))
            .map_err(|e| to_py(py, e))?;
        call.finish();
        self.keep.clear();
        Ok(ANSWER)
    }

    /// The answer's value; a Java exception is raised as in the sync client.
    fn result<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let decoded = self.decode(py);
        self.call.acknowledge(); // decoded: what the JVM held for us may go
        decoded
    }

    /// `(callback_id, method, interface, args)` of the callback call that
    /// arrived.
    fn callback_call<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(i64, String, String, Bound<'py, PyTuple>)> {
        let hooks = self.native.get().hooks()?;
        let bytes = self
            .call
            .with_response(<[u8]>::to_vec)
            .map_err(|e| to_py(py, e))?;
        decode_call(py, &bytes, hooks)
    }

    /// `f(*args)` with the lane held by this thread: blocking calls that `f`
    /// makes go back on this lane (a synchronous callback's nested calls).
    fn call_held<'py>(
        &mut self,
        py: Python<'py>,
        f: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call
            .run_holding(|| f.call1(args))
            .map_err(|e| to_py(py, e))?
    }

    /// Answers the callback call with `value` (a value Java cannot take
    /// becomes a `TypeError` in Java); then poll again.
    fn reply(&mut self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<()> {
        let native = self.native.clone_ref(py);
        let hooks = native.get().hooks()?;
        let mut keep = Vec::new();
        // Converting the value may call Java: on this lane, like the callback.
        let outcome = self
            .call
            .run_holding(|| encode_reply(py, &value, hooks, &mut keep))
            .map_err(|e| to_py(py, e))?;
        self.keep = keep;
        self.call.send(&outcome.reply).map_err(|e| to_py(py, e))
    }

    /// Answers the callback call with the exception `error` (thrown in Java
    /// as `gatun.server.PythonException`). Returns True when `error` is not
    /// an `Exception` (`CancelledError`, `KeyboardInterrupt`, ...): the call
    /// is then abandoned and the lane given back; the caller re-raises it.
    fn reply_error(&mut self, py: Python<'_>, error: Bound<'_, PyAny>) -> PyResult<bool> {
        let outcome = encode_failure(py, &PyErr::from_value(error));
        self.call.send(&outcome.reply).map_err(|e| to_py(py, e))?;
        if outcome.interrupt {
            self.call.abandon().map_err(|e| to_py(py, e))?;
        }
        Ok(outcome.interrupt)
    }

    /// Starts a call on this lane while the callback call that arrived here
    /// is being run by a coroutine: the JVM thread waiting for the callback
    /// serves it. One at a time; it must be answered before `reply`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (action_number, object_id=0, class_name=None, name=None, args=None, return_object_ref=false))]
    fn begin_nested<'py>(
        &mut self,
        py: Python<'py>,
        action_number: u8,
        object_id: i64,
        class_name: Option<&str>,
        name: Option<&str>,
        args: Option<Bound<'py, PyAny>>,
        return_object_ref: bool,
    ) -> PyResult<PendingCall> {
        let head = crate::client::request_head(
            action_number,
            object_id,
            class_name,
            name,
            return_object_ref,
        )?;
        let nested = self.call.nested().map_err(|e| to_py(py, e))?;
        let native = self.native.bind(py).clone();
        // Encode while this (outer) handle holds the lane, so conversions'
        // blocking calls go on it; then hand the lane to the nested handle.
        let mut scratch = native.get().client().scratch();
        let mut keep = Vec::new();
        let this = native.get();
        let releases = self
            .call
            .run_holding(|| this.encode_call(&mut scratch, &head, args.as_ref(), &mut keep))
            .map_err(|e| to_py(py, e))??;
        Self::send_encoded(&native, nested, scratch.request(), releases, keep)
    }

    /// Stops waiting: a request in flight is cancelled and its late answer
    /// dropped by the lane when it comes; the lane goes back to the pool.
    /// Idempotent.
    fn abandon(&mut self, py: Python<'_>) -> PyResult<()> {
        self.keep.clear();
        self.call.abandon().map_err(|e| to_py(py, e))
    }

    fn __repr__(&self) -> String {
        format!("<PendingCall {:?}>", self.call)
    }
}
