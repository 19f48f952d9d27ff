//! Python callbacks: runs the callback calls Java sends on a lane.
//!
//! Java's proxy sends a `CallbackCall` (callback id, method, arguments); the
//! handler takes the GIL, converts the arguments, calls the Python layer's
//! dispatcher (`gatun.client._dispatch_callback`, which finds the function),
//! and encodes the result or the exception as a `CallbackReply`. Calls the
//! function makes go back on the same lane (see
//! [`gatun_bridge::CallbackHandler`]).

use flatbuffers::FlatBufferBuilder;
use gatun_bridge::protocol::encode_callback_error;
use gatun_bridge::protocol::{self as fb, Action};
use gatun_bridge::{CallbackHandler, CallbackOutcome};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{self, Hooks};

/// Runs callback calls with the Python dispatcher.
pub struct PyCallbacks<'a> {
    hooks: &'a Hooks,
    dispatcher: Option<&'a Py<PyAny>>,
    /// A `KeyboardInterrupt` or `SystemExit` raised by a callback: the call
    /// it belongs to is abandoned and this is raised in its place.
    pub stopped: Option<PyErr>,
    /// Objects made while encoding the last reply; kept until Java has read
    /// it (it answers before anything else happens on the lane).
    keep: Vec<Py<PyAny>>,
}

impl<'a> PyCallbacks<'a> {
    /// A handler calling `dispatcher(callback_id, method, interface, args)`.
    pub fn new(hooks: &'a Hooks, dispatcher: Option<&'a Py<PyAny>>) -> Self {
        PyCallbacks {
            hooks,
            dispatcher,
            stopped: None,
            keep: Vec::new(),
        }
    }

    fn run(&mut self, py: Python<'_>, call: &[u8]) -> CallbackOutcome {
        self.keep.clear();
        let call = match fb::read_response(call)
            .ok()
            .and_then(|response| response.callback())
        {
            Some(call) => call,
            None => return refuse("ProtocolError", "a malformed callback call"),
        };
        let Some(dispatcher) = self.dispatcher else {
            return refuse(
                "RuntimeError",
                "no callback is registered on this client (register_callback was never called)",
            );
        };
        let result = decode_args(py, &call, self.hooks).and_then(|args| {
            dispatcher.bind(py).call1((
                call.callback_id(),
                call.method().unwrap_or_default(),
                call.interface_name().unwrap_or_default(),
                args,
            ))
        });
        match result {
            Ok(value) => encode_reply(py, &value, self.hooks, &mut self.keep),
            Err(err) => {
                let outcome = encode_failure(py, &err);
                if outcome.interrupt {
                    self.stopped = Some(err);
                }
                outcome
            }
        }
    }
}

/// `(callback_id, method, interface, args)` of the callback call `call` (a
/// raw `Response` with `callback` set).
pub fn decode_call<'py>(
    py: Python<'py>,
    call: &[u8],
    hooks: &Hooks,
) -> PyResult<(i64, String, String, Bound<'py, PyTuple>)> {
    let call = fb::read_response(call)
        .ok()
        .and_then(|response| response.callback())
        .ok_or_else(|| {
            crate::errors::gatun_error(py, "ProtocolError", "a malformed callback call".into())
        })?;
    let args = decode_args(py, &call, hooks)?;
    Ok((
        call.callback_id(),
        call.method().unwrap_or_default().to_owned(),
        call.interface_name().unwrap_or_default().to_owned(),
        args,
    ))
}

/// The `CallbackReply` carrying `value`, or a `TypeError` reply if it cannot
/// be passed to Java. Objects made while encoding go to `keep`: they must
/// live until Java has read the reply.
pub fn encode_reply(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    hooks: &Hooks,
    keep: &mut Vec<Py<PyAny>>,
) -> CallbackOutcome {
    keep.clear();
    let mut fbb = FlatBufferBuilder::with_capacity(1024);
    let mut made = Vec::new();
    let encoded = convert::encode(&mut fbb, value, hooks, 0, &mut made);
    keep.extend(made.into_iter().map(Bound::unbind));
    let offset = match encoded {
        Ok(offset) => offset,
        Err(err) => {
            let type_name = value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            let message = format!(
                "the callback's result (a Python {type_name}) cannot be passed to Java: {}",
                err.value(py)
            );
            return refuse("TypeError", &message);
        }
    };
    let args = fbb.create_vector(&[offset]);
    let req = fb::Request::create(
        &mut fbb,
        &fb::RequestArgs {
            action: Action::CallbackReply,
            args: Some(args),
            ..Default::default()
        },
    );
    fbb.finish(req, None);
    CallbackOutcome {
        reply: fbb.finished_data().to_vec(),
        interrupt: false,
    }
}

/// The reply for a callback that raised `err` (qualified type name, message,
/// traceback). `interrupt` is set for a `BaseException` that is not an
/// `Exception` (`KeyboardInterrupt`, `SystemExit`, `CancelledError`): the
/// Python call the callback belongs to is abandoned and `err` raised from it.
pub fn encode_failure(py: Python<'_>, err: &PyErr) -> CallbackOutcome {
    let value = err.value(py);
    let class_name = qualified_type_name(value.get_type().as_any());
    let message = value.str().map(|s| s.to_string()).unwrap_or_default();
    let trace = py
        .import("traceback")
        .and_then(|tb| {
            tb.getattr("format_exception")?
                .call1((value.get_type(), value, err.traceback(py)))
        })
        .and_then(|lines| {
            Ok(lines
                .try_iter()?
                .filter_map(|l| l.ok()?.extract::<String>().ok())
                .collect::<String>())
        })
        .unwrap_or_default();
    CallbackOutcome {
        reply: encode_callback_error(&class_name, &message, &trace),
        interrupt: !err.is_instance_of::<PyException>(py),
    }
}

impl Drop for PyCallbacks<'_> {
    fn drop(&mut self) {
        if !self.keep.is_empty() {
            let keep = std::mem::take(&mut self.keep);
            Python::attach(|_| drop(keep));
        }
    }
}

impl CallbackHandler for PyCallbacks<'_> {
    fn handle(&mut self, call: &[u8]) -> CallbackOutcome {
        Python::attach(|py| self.run(py, call))
    }
}

fn refuse(class_name: &str, message: &str) -> CallbackOutcome {
    CallbackOutcome {
        reply: encode_callback_error(class_name, message, ""),
        interrupt: false,
    }
}

fn decode_args<'py>(
    py: Python<'py>,
    call: &fb::CallbackCall<'_>,
    hooks: &Hooks,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut args = Vec::new();
    for v in call.args().into_iter().flatten() {
        args.push(convert::decode(py, v, hooks, 0)?);
    }
    PyTuple::new(py, args)
}

/// `ValueError`, `mypkg.errors.Custom`: builtins without their module.
fn qualified_type_name(t: &Bound<'_, PyAny>) -> String {
    let name = t
        .getattr("__qualname__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "Exception".into());
    match t.getattr("__module__").and_then(|m| m.extract::<String>()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}
