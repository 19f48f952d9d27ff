//! `gatun._native.NativeGateway`: a JVM hosting a server for many clients
//! (`gatun.launch_gateway`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use gatun_bridge::gateway::{Gateway, GatewayOptions};
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::jvm_output::JvmOutputReader;

/// A running gateway JVM.
#[pyclass(module = "gatun._native", frozen)]
pub struct NativeGateway {
    gateway: Mutex<Gateway>,
}

#[pymethods]
impl NativeGateway {
    /// Starts the JVM; returns once it has written `connection_file`.
    #[staticmethod]
    #[pyo3(signature = (jar, socket_path, connection_file, *, java=None, java_source=None, classpath=Vec::new(), jvm_options=Vec::new(), startup_timeout=30.0))]
    #[allow(clippy::too_many_arguments)]
    fn launch(
        py: Python<'_>,
        jar: PathBuf,
        socket_path: PathBuf,
        connection_file: PathBuf,
        java: Option<PathBuf>,
        java_source: Option<String>,
        classpath: Vec<String>,
        jvm_options: Vec<String>,
        startup_timeout: f64,
    ) -> PyResult<NativeGateway> {
        let startup_timeout = crate::client::positive_seconds("startup_timeout", startup_timeout)?;
        let opts = GatewayOptions {
            java,
            java_source,
            jar,
            classpath,
            jvm_options,
            socket: socket_path,
            connection_file,
            startup_timeout,
        };
        let gateway = py
            .detach(|| Gateway::launch(&opts))
            .map_err(|e| to_py(py, e))?;
        Ok(NativeGateway {
            gateway: Mutex::new(gateway),
        })
    }

    /// The JVM's pid.
    #[getter]
    fn pid(&self) -> u32 {
        self.lock().pid()
    }

    /// Whether the JVM still runs.
    #[getter]
    fn running(&self) -> bool {
        self.lock().is_running()
    }

    /// A reader of the JVM's stdout and stderr.
    fn output_reader(&self) -> JvmOutputReader {
        JvmOutputReader::new(self.lock().output())
    }

    /// Stops the JVM: stdin closed (it exits), killed after `timeout` s.
    #[pyo3(signature = (timeout=2.0))]
    fn stop(&self, py: Python<'_>, timeout: f64) {
        let timeout = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
        py.detach(|| self.lock().stop(timeout));
    }
}

impl NativeGateway {
    fn lock(&self) -> std::sync::MutexGuard<'_, Gateway> {
        self.gateway.lock().unwrap_or_else(|e| e.into_inner())
    }
}
