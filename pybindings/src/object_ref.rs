//! `ObjectRef`: the native base of `gatun.JavaObject`.
//!
//! Its destructor queues the id for release; the id rides the session's next
//! request (thousands per message). Dropping never blocks, never does I/O and
//! never calls into Python, so collecting 100,000 proxies at once is cheap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gatun_bridge::ObjectReleases;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::client::NativeClient;

/// One reference into the JVM session's object registry.
#[pyclass(subclass, frozen, module = "gatun._native")]
pub struct ObjectRef {
    object_id: i64,
    class_name: Py<PyString>,
    releases: Arc<ObjectReleases>,
    detached: AtomicBool,
}

impl ObjectRef {
    /// The registry id.
    pub fn object_id(&self) -> i64 {
        self.object_id
    }

    /// Whether this object lives in `client`'s session (its id means
    /// another object, or nothing, in any other session).
    pub fn belongs_to(&self, client: &gatun_bridge::Client) -> bool {
        client.owns_releases(&self.releases)
    }
}

#[pymethods]
impl ObjectRef {
    #[new]
    #[pyo3(signature = (native, object_id, class_name, *_args, **_kwargs))]
    fn new(
        native: &NativeClient,
        object_id: i64,
        class_name: Bound<'_, PyString>,
        _args: &Bound<'_, pyo3::types::PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> Self {
        ObjectRef {
            object_id,
            class_name: class_name.unbind(),
            releases: native.object_releases(),
            detached: AtomicBool::new(false),
        }
    }

    /// The registry id.
    #[getter(object_id)]
    fn py_object_id(&self) -> i64 {
        self.object_id
    }

    /// Whether this object lives in ``native``'s session (ids are per session).
    fn _in_session(&self, native: &NativeClient) -> bool {
        self.belongs_to(native.client())
    }

    /// The runtime class of the Java object.
    #[getter]
    fn class_name(&self, py: Python<'_>) -> Py<PyString> {
        self.class_name.clone_ref(py)
    }

    /// Never release this object from Python.
    fn _detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
    }
}

impl Drop for ObjectRef {
    fn drop(&mut self) {
        if !self.detached.load(Ordering::Relaxed) {
            self.releases.push(self.object_id);
        }
    }
}
