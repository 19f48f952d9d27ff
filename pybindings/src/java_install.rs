//! The launcher's own Java discovery, for `python -m gatun doctor`: what it
//! reports is what `connect()` would run.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors;

/// `(executable, major version)` of the Java a launch would use: `java` if
/// given (`source` says where it was named), else `$JAVA_HOME/bin/java`,
/// else `java` on `PATH`; a `java` asked its version gets `timeout` seconds.
#[pyfunction]
#[pyo3(signature = (java=None, *, source=None, timeout=10.0))]
pub fn find_java(
    py: Python<'_>,
    java: Option<PathBuf>,
    source: Option<String>,
    timeout: f64,
) -> PyResult<(String, u32)> {
    let timeout = crate::client::positive_seconds("timeout", timeout)?;
    let source = source.as_deref().unwrap_or("the java argument");
    py.detach(|| gatun_bridge::launcher::find_java_within(java.as_deref(), source, timeout))
        .map(|found| (found.executable.display().to_string(), found.major))
        .map_err(|e| errors::to_py(py, e))
}
