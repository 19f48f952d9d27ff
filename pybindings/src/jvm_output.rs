//! The launched JVM's stdout and stderr as Python reads them.

use std::time::Duration;

use pyo3::prelude::*;

/// The launched JVM's stdout and stderr, read by Python's forwarding thread.
#[pyclass(module = "gatun._native", frozen)]
pub struct JvmOutputReader {
    output: std::sync::Arc<gatun_bridge::jvm_output::JvmOutput>,
}

impl JvmOutputReader {
    /// A reader of `output`.
    pub fn new(output: std::sync::Arc<gatun_bridge::jvm_output::JvmOutput>) -> Self {
        JvmOutputReader { output }
    }
}

#[pymethods]
impl JvmOutputReader {
    /// The next chunk, waiting up to `timeout` seconds with the GIL
    /// released: `(1, bytes)` for stdout, `(2, bytes)` for stderr, `0` if
    /// nothing came, `None` once both streams have ended.
    #[pyo3(signature = (timeout=0.5))]
    fn next<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        use gatun_bridge::jvm_output::Next;
        let output = &self.output;
        let timeout = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
        match py.detach(|| output.next(timeout)) {
            Next::Chunk(stream, bytes) => Ok((stream as u8, pyo3::types::PyBytes::new(py, &bytes))
                .into_pyobject(py)?
                .into_any()),
            Next::Idle => Ok(0u8.into_pyobject(py)?.into_any()),
            Next::Ended => Ok(py.None().into_bound(py)),
        }
    }

    /// Bytes of output dropped because they were not read in time.
    #[getter]
    fn dropped(&self) -> u64 {
        self.output.dropped()
    }
}
