//! The one mapping from [`BridgeError`] to Python exceptions.
//!
//! The exception classes live in `gatun.exceptions` (pure Python, so users can
//! read and subclass them); Java exceptions are built by its
//! `java_exception(class, message, stack_trace)`, which picks the closest
//! Python subclass.

use gatun_bridge::BridgeError;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyModule;

fn exceptions(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("gatun.exceptions")
}

/// An instance of `gatun.exceptions.<class_name>(message)`.
pub fn gatun_error(py: Python<'_>, class_name: &str, message: String) -> PyErr {
    match exceptions(py)
        .and_then(|m| m.getattr(class_name))
        .and_then(|cls| cls.call1((message.clone(),)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// `gatun.exceptions.CancelledException(request_id)`: the call was cancelled
/// by its id ("Request N was cancelled").
pub fn cancelled(py: Python<'_>, request_id: u64) -> PyErr {
    match exceptions(py)
        .and_then(|m| m.getattr("CancelledException"))
        .and_then(|cls| cls.call1((request_id,)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// Converts a bridge error into the Python exception users catch.
pub fn to_py(py: Python<'_>, err: BridgeError) -> PyErr {
    match err {
        BridgeError::Java(e) => {
            let built = exceptions(py).and_then(|m| {
                m.getattr("java_exception")?
                    .call1((e.class_name, e.message, e.stack_trace))
            });
            match built {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        }
        BridgeError::Closed(_) => gatun_error(py, "BridgeClosedError", err.to_string()),
        BridgeError::JavaNotFound(_) => gatun_error(py, "JavaNotFoundError", err.to_string()),
        BridgeError::Startup(_) | BridgeError::Handshake(_) => {
            gatun_error(py, "BridgeStartupError", err.to_string())
        }
        BridgeError::Protocol(_) => gatun_error(py, "ProtocolError", err.to_string()),
        BridgeError::TooLarge { .. } => gatun_error(py, "PayloadTooLargeError", err.to_string()),
        BridgeError::UnsupportedArrowType(m) => gatun_error(py, "UnsupportedArrowTypeError", m),
        BridgeError::ArenaFull(m) => gatun_error(py, "PayloadTooLargeError", m),
        BridgeError::Value(m) if m.contains("does not fit") => PyOverflowError::new_err(m),
        BridgeError::Value(m) => PyTypeError::new_err(m),
        BridgeError::Interrupted => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err("call interrupted")
        }
        BridgeError::Io { .. } => gatun_error(py, "BridgeClosedError", err.to_string()),
        BridgeError::WouldDeadlock(m) => gatun_error(py, "ReentrancyError", m),
    }
}
