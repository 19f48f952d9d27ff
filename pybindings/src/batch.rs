//! `NativeBatch` and `BatchResult`: the engine of `client.batch()`.
//!
//! A command is encoded when it is queued ([`BatchEncoder`]), so only the
//! Python objects whose Java ids it carries are kept. Running the batch sends
//! the commands in as few round trips as the lane slot allows and decodes every
//! reply into one store inside the batch, returned objects first (their
//! proxies own the ids from then on). A `BatchResult` is a handle, the batch
//! and a position, that reads the store. Handles are left out of Python's
//! cyclic GC, except the batch's spare (see [`NativeBatch::handle`]): a handle
//! points to its batch, and nothing in the batch points back but the spare.

use std::mem;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatun_bridge::batch::{Scalar, HEADER_BYTES, MAX_SCALAR_ARGS};
use gatun_bridge::client::Scratch;
use gatun_bridge::protocol::java_error;
use gatun_bridge::protocol::{self as fb, Action, ValueKind};
use gatun_bridge::{BatchEncoder, BridgeError, RequestHead};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::client::{request_head, NativeClient};
use crate::convert::{self, Hooks};
use crate::errors::{gatun_error, to_py};
use crate::object_ref::ObjectRef;

/// What one command came to.
enum Outcome {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Any other value, decoded when its reply arrived: a returned object's
    /// proxy exists from then on, so its id is released when the proxy dies.
    Value(Py<PyAny>),
    /// The command's exception.
    Error(Py<PyAny>),
}

impl Outcome {
    /// The outcome of one reply, and whether Java reported a failure (with
    /// `stop_on_error`, Java skipped every later command). A value that
    /// fails to decode becomes this command's error.
    fn of(py: Python<'_>, reply: fb::Response<'_>, hooks: &Hooks) -> (Outcome, bool) {
        if let Some(error) = reply.error() {
            let exception = to_py(py, java_error(error)).into_value(py).into_any();
            return (Outcome::Error(exception), true);
        }
        let decoded = match reply.value() {
            None => Ok(Outcome::Null),
            Some(v) => match v.kind() {
                ValueKind::Null => Ok(Outcome::Null),
                ValueKind::Bool => Ok(Outcome::Bool(v.b())),
                ValueKind::Int => Ok(Outcome::Int(v.i())),
                ValueKind::Double => Ok(Outcome::Double(v.d())),
                _ => convert::decode(py, v, hooks, 0).map(|o| Outcome::Value(o.unbind())),
            },
        };
        let outcome = decoded.unwrap_or_else(|e| Outcome::Error(e.into_value(py).into_any()));
        (outcome, false)
    }

    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Outcome::Null => py.None(),
            Outcome::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
            Outcome::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
            Outcome::Double(d) => PyFloat::new(py, *d).into_any().unbind(),
            Outcome::Value(v) => v.clone_ref(py),
            Outcome::Error(e) => return Err(PyErr::from_value(e.bind(py).clone())),
        })
    }

    fn python_object(&self) -> Option<&Py<PyAny>> {
        match self {
            Outcome::Value(v) | Outcome::Error(v) => Some(v),
            _ => None,
        }
    }
}

/// Where a batch is in its life.
enum State {
    /// Taking commands.
    Queuing,
    /// Being sent (its commands are out of the batch meanwhile).
    Sending,
    /// Sent: the outcomes of the commands answered, in order; the commands
    /// after them were skipped (`stop_on_error`, or a failed round trip).
    Ran(Vec<Outcome>),
    /// Sending failed before any reply; the run raised the error.
    Failed,
}

/// Commands queued for one round trip (or as few as the lane slot allows);
/// the base of `gatun.BatchContext`.
#[pyclass(subclass, module = "gatun._native")]
pub struct NativeBatch {
    native: Py<NativeClient>,
    stop_on_error: bool,
    encoder: BatchEncoder,
    /// Proxies and converted arguments whose ids the queued commands carry,
    /// held until the commands are sent.
    keep: Vec<Py<PyAny>>,
    /// Scratch space for the offsets of one command's arguments.
    offsets: Vec<flatbuffers::WIPOffset<fb::Value<'static>>>,
    queued: usize,
    state: State,
    /// The handle returned for the latest command, reused for the next one
    /// if nobody else holds it by then.
    spare: Option<Py<BatchResult>>,
    /// Why the commands after the answered ones were skipped, for `get()`.
    skip_reason: String,
}

impl NativeBatch {
    /// Encodes one command; `target` is the proxy `head.object_id` came from.
    fn queue<'py>(
        &mut self,
        py: Python<'py>,
        head: &RequestHead<'_>,
        target: Option<&Bound<'py, PyAny>>,
        args: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<usize> {
        if !matches!(self.state, State::Queuing) {
            return Err(gatun_error(
                py,
                "GatunError",
                "this batch has already run; start a new client.batch()".into(),
            ));
        }
        let native = self.native.get();
        let mut keep = convert::KeepAlive::new();
        let mut scalars = [Scalar::Null; MAX_SCALAR_ARGS];
        let size = match scalar_args(args, &mut scalars) {
            Some(n) => self.encoder.push_scalars(head, &scalars[..n]),
            None => None,
        };
        let size = match size {
            Some(size) => size,
            None => {
                let hooks = native.hooks()?;
                let offsets = &mut self.offsets;
                self.encoder.push(head, |fbb| {
                    args.map(|a| NativeClient::encode_args_with(fbb, a, hooks, &mut keep, offsets))
                        .transpose()
                })?
            }
        };
        // A command larger than the slot is sent in a request of its own,
        // which spills into the arena; only one no message can hold fails.
        let limit = gatun_bridge::spill::MAX_MESSAGE;
        if size + HEADER_BYTES + 4 > limit {
            self.encoder.pop();
            let message = format!(
                "a batch command of {size} bytes exceeds the largest message ({limit} bytes, one \
                 arena segment); send bulk data as Arrow batches or split it into several calls"
            );
            return Err(to_py(py, BridgeError::ArenaFull(message)));
        }
        if let Some(target) = target.filter(|t| t.is_instance_of::<ObjectRef>()) {
            // Many commands in a row call the same object: hold it once.
            if !self.keep.last().is_some_and(|k| k.is(target)) {
                self.keep.push(target.clone().unbind());
            }
        }
        self.keep.extend(keep.into_iter().map(Bound::unbind));
        self.queued += 1;
        Ok(self.queued - 1)
    }

    /// Sends every command, appending each reply's outcome to `outcomes`.
    fn send(
        py: Python<'_>,
        native: &NativeClient,
        encoder: &BatchEncoder,
        stop_on_error: bool,
        outcomes: &mut Vec<Outcome>,
    ) -> PyResult<()> {
        let hooks = native.hooks()?;
        let client = native.client();
        let limit = client.slot_size();
        let releases = client.object_releases();
        let mut scratch = client.scratch();
        let mut start = 0;
        while start < encoder.len() {
            let s: &mut Scratch = &mut scratch;
            let (run, taken) = encoder.next_request(
                start,
                limit,
                &releases,
                stop_on_error,
                &mut s.builder,
                &mut s.assembled,
            );
            if let Err(e) = native.exchange_assembled(py, &mut scratch) {
                native.restore_unsent(&e, py, taken);
                return Err(e);
            }
            let response = scratch.response().map_err(|e| to_py(py, e))?;
            if let Some(error) = response.error() {
                return Err(to_py(py, java_error(error)));
            }
            // Java may answer fewer than were sent: it stops before its
            // replies outgrow half the slot, and the rest are sent again.
            let replies = response.batch();
            let count = replies.map_or(0, |r| r.len());
            if count == 0 || count > run.len() {
                let message = format!("batch of {} commands got {count} replies", run.len());
                return Err(to_py(py, BridgeError::Protocol(message)));
            }
            for reply in replies.into_iter().flatten() {
                let (outcome, failed) = Outcome::of(py, reply, hooks);
                outcomes.push(outcome);
                if failed && stop_on_error {
                    // Java skipped every later command: the replies left
                    // are notices, holding no objects.
                    return Ok(());
                }
            }
            start = run.start + count;
        }
        Ok(())
    }

    /// The handle on command `index`'s result. The handle returned for the
    /// command before is reused when the batch holds the only reference to
    /// it, as CPython's `zip` and `enumerate` reuse their result tuples: a
    /// loop that drops every handle then makes none, and making and freeing
    /// one was a fifth of the cost of queueing a call. Nobody can tell: a
    /// handle has no state of its own but its position, and no weak references.
    ///
    /// The spare points to the batch and the batch to it, a cycle that
    /// sending the batch (or `_drop_spare`) breaks; for a batch dropped
    /// unsent, the spare stays tracked by the cyclic GC, which collects both.
    fn handle<'py>(slf: &Bound<'py, Self>, index: usize) -> PyResult<Bound<'py, BatchResult>> {
        let py = slf.py();
        if let Some(spare) = &slf.try_borrow()?.spare {
            let spare = spare.bind(py);
            // SAFETY: `spare` is a live object; reading its count is all.
            if unsafe { pyo3::ffi::Py_REFCNT(spare.as_ptr()) } == 1 {
                spare.get().index.store(index, Ordering::Relaxed);
                return Ok(spare.clone());
            }
        }
        // Made with the batch not borrowed, so a collection it starts can traverse the batch.
        let fresh = Bound::new(py, BatchResult::at(slf, index))?;
        let replaced = slf.try_borrow_mut()?.spare.replace(fresh.clone().unbind());
        if let Some(kept) = replaced {
            // The caller keeps it and the batch lets go: no cycle passes through it now.
            BatchResult::untrack(kept.bind(py));
        }
        Ok(fresh)
    }

    /// Lets go of the spare handle; whoever else holds it keeps an untracked handle.
    fn drop_spare(&mut self, py: Python<'_>) {
        if let Some(spare) = self.spare.take() {
            BatchResult::untrack(spare.bind(py));
        }
    }

    /// Runs `f` on this command's outcome (`None`: skipped); an error if the
    /// batch has not run.
    fn with_outcome<R>(
        &self,
        index: usize,
        f: impl FnOnce(Option<&Outcome>) -> PyResult<R>,
    ) -> PyResult<R> {
        match &self.state {
            State::Ran(outcomes) => f(outcomes.get(index)),
            State::Failed => Err(PyRuntimeError::new_err(
                "the batch failed before any reply came back (its run raised the error)",
            )),
            State::Queuing | State::Sending => Err(PyRuntimeError::new_err(
                "the batch has not run yet; leave its with-block first",
            )),
        }
    }
}

/// The arguments as [`Scalar`]s, when they are a tuple of at most
/// [`MAX_SCALAR_ARGS`] `None`, `bool`, `int` (within a long) and `float`
/// (exact types: subclasses take the general path, as do ints that overflow,
/// which it reports); their count is returned.
pub(crate) fn scalar_args(
    args: Option<&Bound<'_, PyAny>>,
    out: &mut [Scalar; MAX_SCALAR_ARGS],
) -> Option<usize> {
    let Some(args) = args else {
        return Some(0);
    };
    let tuple = args.cast_exact::<PyTuple>().ok()?;
    if tuple.len() > MAX_SCALAR_ARGS {
        return None;
    }
    for (slot, arg) in out.iter_mut().zip(tuple.iter_borrowed()) {
        *slot = if arg.is_none() {
            Scalar::Null
        } else if let Ok(b) = arg.cast_exact::<PyBool>() {
            Scalar::Bool(b.is_true())
        } else if arg.is_exact_instance_of::<PyInt>() {
            Scalar::Int(arg.extract().ok()?)
        } else if let Ok(f) = arg.cast_exact::<PyFloat>() {
            Scalar::Double(f.value())
        } else {
            return None;
        };
    }
    Some(tuple.len())
}

/// The id of a command's target: a proxy or a bare id.
fn target_id(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(r) = obj.cast::<ObjectRef>() {
        return Ok(r.get().object_id());
    }
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract();
    }
    Err(PyTypeError::new_err(format!(
        "expected a JavaObject or an object id, not {}",
        obj.get_type().name()?
    )))
}

#[pymethods]
impl NativeBatch {
    #[new]
    #[pyo3(signature = (native, stop_on_error=false, kind=0))]
    fn new(native: Py<NativeClient>, stop_on_error: bool, kind: u8) -> PyResult<Self> {
        // The JVM counts `invoke_methods` and `create_objects` against their own limits.
        let kind = match kind {
            0 => fb::BatchKind::Items,
            1 => fb::BatchKind::MethodCalls,
            2 => fb::BatchKind::CreateObjects,
            _ => {
                return Err(PyValueError::new_err(format!(
                "batch kind must be 0 (items), 1 (method calls) or 2 (constructions), got {kind}"
            )))
            }
        };
        let mut encoder = BatchEncoder::new();
        encoder.set_kind(kind);
        Ok(NativeBatch {
            native,
            stop_on_error,
            encoder,
            keep: Vec::new(),
            offsets: Vec::new(),
            queued: 0,
            state: State::Queuing,
            spare: None,
            skip_reason: String::new(),
        })
    }

    /// Queue ``obj.method_name(*args)``; ``obj`` is a ``JavaObject`` or an object id.
    #[pyo3(signature = (obj, method_name, *args))]
    fn call<'py>(
        slf: &Bound<'py, Self>,
        obj: &Bound<'py, PyAny>,
        method_name: &Bound<'py, PyString>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, BatchResult>> {
        let head = RequestHead {
            action: Action::InvokeMethod,
            object_id: target_id(obj)?,
            name: Some(method_name.to_str()?),
            ..Default::default()
        };
        let index = slf
            .try_borrow_mut()?
            .queue(slf.py(), &head, Some(obj), Some(args.as_any()))?;
        Self::handle(slf, index)
    }

    /// Queue any command: ``target`` (a ``JavaObject`` or an id) for
    /// instance actions, ``class_name`` for static ones.
    #[pyo3(name = "_add", signature = (action_number, target=None, class_name=None, name=None, args=None, return_object_ref=false))]
    #[allow(clippy::too_many_arguments)]
    fn add<'py>(
        slf: &Bound<'py, Self>,
        action_number: u8,
        target: Option<&Bound<'py, PyAny>>,
        class_name: Option<&str>,
        name: Option<&str>,
        args: Option<&Bound<'py, PyAny>>,
        return_object_ref: bool,
    ) -> PyResult<Bound<'py, BatchResult>> {
        let object_id = target.map(target_id).transpose()?.unwrap_or(0);
        let head = request_head(
            action_number,
            object_id,
            class_name,
            name,
            return_object_ref,
        )?;
        let index = slf.try_borrow_mut()?.queue(slf.py(), &head, target, args)?;
        Self::handle(slf, index)
    }

    /// Send the queued commands (once; later calls do nothing). Raises what
    /// a round trip raised; replies that came back before stay readable.
    #[pyo3(name = "_run")]
    fn run(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let (native, encoder, keep, stop_on_error) = {
            let mut this = slf.try_borrow_mut()?;
            if !matches!(this.state, State::Queuing) {
                return Ok(());
            }
            this.state = State::Sending;
            this.drop_spare(py);
            (
                this.native.clone_ref(py),
                mem::take(&mut this.encoder),
                mem::take(&mut this.keep),
                this.stop_on_error,
            )
        };
        // No borrow is held while Java runs: callbacks may read results.
        let mut outcomes = Vec::with_capacity(encoder.len());
        let sent = Self::send(py, native.get(), &encoder, stop_on_error, &mut outcomes);
        drop(encoder);
        drop(keep);
        let mut this = slf.try_borrow_mut()?;
        if outcomes.len() < this.queued {
            this.skip_reason = match &sent {
                Err(e) => format!("the batch stopped before it ran (the run raised {e})"),
                Ok(()) => format!(
                    "item {} failed and the batch was made with stop_on_error=True",
                    outcomes.len().saturating_sub(1)
                ),
            };
        }
        this.state = match &sent {
            Err(_) if outcomes.is_empty() && this.queued > 0 => State::Failed,
            _ => State::Ran(outcomes),
        };
        sent
    }

    /// Handles on every command's result, in the order queued.
    #[pyo3(name = "_results")]
    fn results<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let queued = slf.try_borrow()?.queued;
        let list = PyList::empty(slf.py());
        for index in 0..queued {
            list.append(BatchResult::new(slf, index)?)?;
        }
        Ok(list)
    }

    /// Every command's value, in order, once run; raises the first error.
    #[pyo3(name = "_values")]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for index in 0..self.queued {
            let value = self.with_outcome(index, |outcome| {
                outcome.map_or_else(|| Ok(py.None()), |o| o.value(py))
            })?;
            list.append(value)?;
        }
        Ok(list)
    }

    /// Whether the batch was sent (or sending it was attempted).
    #[getter]
    fn ran(&self) -> bool {
        !matches!(self.state, State::Queuing)
    }

    /// Whether commands after a failed one are skipped.
    #[getter]
    fn stop_on_error(&self) -> bool {
        self.stop_on_error
    }

    fn __len__(&self) -> usize {
        self.queued
    }

    /// Lets go of the spare handle (see `handle`), breaking its cycle with
    /// the batch, for a batch that will not be sent.
    fn _drop_spare(&mut self, py: Python<'_>) {
        self.drop_spare(py);
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.native)?;
        if let Some(spare) = &self.spare {
            visit.call(spare)?;
        }
        for kept in &self.keep {
            visit.call(kept)?;
        }
        if let State::Ran(outcomes) = &self.state {
            for object in outcomes.iter().filter_map(Outcome::python_object) {
                visit.call(object)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.spare = None;
        self.keep.clear();
        if let State::Ran(outcomes) = &mut self.state {
            outcomes.clear();
        }
    }
}

/// The future result of one command of a batch: a handle on the batch's
/// store of replies. Not tracked by Python's cyclic GC, but for the batch's
/// spare.
#[pyclass(frozen, module = "gatun._native")]
pub struct BatchResult {
    batch: Py<NativeBatch>,
    /// The command's position; changed only while the batch's spare handle
    /// is referenced by nothing else.
    index: AtomicUsize,
}

impl BatchResult {
    fn at(batch: &Bound<'_, NativeBatch>, index: usize) -> Self {
        BatchResult {
            batch: batch.clone().unbind(),
            index: AtomicUsize::new(index),
        }
    }

    /// A handle the cyclic GC does not track.
    fn new<'py>(batch: &Bound<'py, NativeBatch>, index: usize) -> PyResult<Bound<'py, Self>> {
        let handle = Bound::new(batch.py(), Self::at(batch, index))?;
        Self::untrack(&handle);
        Ok(handle)
    }

    /// Takes `handle` out of the cyclic GC: what CPython does for tuples of
    /// atoms. The collector needs not see a handle the batch does not hold:
    /// its only reference is to its batch, so no cycle can pass through it.
    fn untrack(handle: &Bound<'_, Self>) {
        // SAFETY: `handle` is a live object of a GC type. Untracking an
        // untracked object, as deallocation does again, is allowed.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(handle.as_ptr().cast()) };
    }

    fn with_outcome<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(Option<&Outcome>) -> PyResult<R>,
    ) -> PyResult<R> {
        self.batch
            .bind(py)
            .try_borrow()?
            .with_outcome(self.index.load(Ordering::Relaxed), f)
    }
}

#[pymethods]
impl BatchResult {
    /// Seen only for the batch's spare, the one handle the GC tracks.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.batch)
    }

    /// Whether the batch has run.
    #[getter]
    fn done(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(matches!(
            self.batch.bind(py).try_borrow()?.state,
            State::Ran(_)
        ))
    }

    /// True when the command was not run because an earlier one failed.
    #[getter]
    fn skipped(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.done(py)? && self.with_outcome(py, |o| Ok(o.is_none()))?)
    }

    /// Whether the command failed.
    #[getter]
    fn is_error(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(
            self.done(py)?
                && self.with_outcome(py, |o| Ok(matches!(o, Some(Outcome::Error(_)))))?,
        )
    }

    /// The command's exception, if it failed.
    #[getter]
    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if !self.done(py)? {
            return Ok(None);
        }
        self.with_outcome(py, |o| match o {
            Some(Outcome::Error(e)) => Ok(Some(e.clone_ref(py))),
            _ => Ok(None),
        })
    }

    /// The command's value; raises its exception if it failed,
    /// ``RuntimeError`` before the batch has run, and ``BatchSkippedError``
    /// (saying why) if it was skipped: a skipped command has no value, and
    /// ``None`` would read as a Java ``null``.
    fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.with_outcome(py, |o| Ok(o.map(|o| o.value(py))))? {
            Some(value) => value,
            None => {
                let index = self.index.load(Ordering::Relaxed);
                let why = self.batch.bind(py).try_borrow()?.skip_reason.clone();
                Err(gatun_error(
                    py,
                    "BatchSkippedError",
                    format!("batch item {index} was skipped (not run): {why}"),
                ))
            }
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        if !self.done(py)? {
            return Ok("<BatchResult pending>".into());
        }
        self.with_outcome(py, |o| {
            Ok(match o {
                None => "<BatchResult skipped>".into(),
                Some(Outcome::Error(e)) => format!("<BatchResult error={}>", e.bind(py).repr()?),
                Some(o) => format!("<BatchResult value={}>", o.value(py)?.bind(py).repr()?),
            })
        })
    }
}
