//! The launcher's own Java discovery, for `python -m gatun doctor`: what it
//! reports is what `connect()` would run.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors;

/// `(executable, major version)` of the Java a launch would use: `java` if
/// given, else `$JAVA_HOME/bin/java`, else `java` on `PATH`.
#[pyfunction]
#[pyo3(signature = (java=None))]
pub fn find_java(py: Python<'_>, java: Option<PathBuf>) -> PyResult<(String, u32)> {
    gatun_bridge::launcher::find_java(java.as_deref())
        .map(|found| (found.executable.display().to_string(), found.major))
        .map_err(|e| errors::to_py(py, e))
}
