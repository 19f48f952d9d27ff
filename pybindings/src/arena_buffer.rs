//! `ArenaBuffer`: a writable region of the payload arena, exposed through the
//! Python buffer protocol so numpy and pyarrow wrap it without copying.
//!
//! Arrow data built on these buffers crosses to the JVM with no copy at all:
//! the send path finds the buffers inside the arena and references them in
//! place. The region lives while this object (and anything wrapping it, such
//! as a numpy array or a pyarrow buffer) or the JVM references it.

use std::os::raw::c_int;

use gatun_arena::Region;
use gatun_bridge::Client;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A region of the shared-memory payload arena.
#[pyclass(frozen, module = "gatun._native")]
pub struct ArenaBuffer {
    region: Region,
    len: usize,
    client: Client,
}

impl ArenaBuffer {
    /// Allocates `len` bytes (zero-filled only if the region is new).
    pub fn allocate(client: &Client, len: usize) -> gatun_bridge::Result<ArenaBuffer> {
        if client.is_closed() {
            // The arena itself refuses too, but as "arena full".
            return Err(gatun_bridge::BridgeError::Closed(
                "the client is closed; its payload arena takes no new buffers".into(),
            ));
        }
        let region = client.arrow().allocate_local(len)?;
        Ok(ArenaBuffer {
            region,
            len,
            client: client.clone(),
        })
    }
}

#[pymethods]
impl ArenaBuffer {
    /// Size in bytes.
    fn __len__(&self) -> usize {
        self.len
    }

    /// Size in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.len
    }

    /// Address of the first byte (for diagnostics and zero-copy checks).
    #[getter]
    fn address(&self) -> usize {
        self.region.ptr as usize
    }

    /// # Safety
    /// Called by CPython with a valid `view`; the exported memory stays valid
    /// while the exporter (`slf`, referenced by the view) is alive.
    unsafe fn __getbuffer__(
        slf: PyRef<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("null view"));
        }
        let (ptr, len) = (slf.region.ptr, slf.len);
        // SAFETY: `view` is valid (checked above); PyBuffer_FillInfo takes a
        // new reference to `slf`, keeping the region alive for the view.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                ptr.cast(),
                len as ffi::Py_ssize_t,
                0,
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    /// # Safety
    /// Nothing to release: the memory belongs to the region.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

impl Drop for ArenaBuffer {
    fn drop(&mut self) {
        self.client
            .arrow()
            .arena()
            .release_local(self.region.handle);
    }
}
