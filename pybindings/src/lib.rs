//! `gatun._native`: the Rust core of the `gatun` Python package.
//!
//! The Python layer (`pybindings/python/gatun`) is the public API; this module
//! launches the JVM, runs calls over the shared-memory lanes, and converts
//! values. Its contract is `gatun/_native.pyi`.

mod alloc_count;
mod arena_buffer;
mod arrow;
mod batch;
mod callbacks;
mod client;
mod columns;
mod convert;
mod errors;
mod gateway;
mod java_install;
mod jvm_output;
mod loop_call;
mod object_ref;
mod running_calls;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use gatun_bridge::protocol::{Action, PROTOCOL_VERSION};

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<client::NativeClient>()?;
    m.add_class::<jvm_output::JvmOutputReader>()?;
    m.add_class::<gateway::NativeGateway>()?;
    m.add_class::<batch::NativeBatch>()?;
    m.add_class::<batch::BatchResult>()?;
    m.add_class::<object_ref::ObjectRef>()?;
    m.add_class::<arena_buffer::ArenaBuffer>()?;
    m.add_class::<loop_call::PendingCall>()?;
    m.add(
        "CallNeedsThread",
        py.get_type::<loop_call::CallNeedsThread>(),
    )?;
    m.add_function(wrap_pyfunction!(client::_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(alloc_count::rust_allocations, m)?)?;
    m.add_function(wrap_pyfunction!(columns::record_batches, m)?)?;
    m.add_function(wrap_pyfunction!(java_install::find_java, m)?)?;
    m.add("DEFAULT_COLUMN", columns::DEFAULT_COLUMN)?;
    m.add("PROTOCOL_VERSION", PROTOCOL_VERSION)?;
    let actions = PyDict::new(py);
    for action in Action::ENUM_VALUES {
        if let Some(name) = action.variant_name() {
            actions.set_item(name, action.0)?;
        }
    }
    m.add("ACTIONS", actions)?;
    let element_types = PyDict::new(py);
    for (name, t) in convert::ELEMENT_TYPES {
        element_types.set_item(name, t.0)?;
    }
    m.add("ELEMENT_TYPES", element_types)?;
    // A forked child must not use (or tear down) the parent's session.
    py.import("os")?.getattr("register_at_fork")?.call(
        (),
        Some(&[("after_in_child", m.getattr("_after_fork_in_child")?)].into_py_dict(py)?),
    )?;
    Ok(())
}

use pyo3::types::IntoPyDict;
