//! A gateway: a JVM started to host a server that any number of clients,
//! in this process or others, attach to (upstream Gatun's `launch_gateway`).
//! Unlike `Client::launch`'s JVM it outlives each session, and stops when
//! stopped or when this process dies (the launcher's parent-death signal and
//! stdin watch). It writes a connection file (socket and token, mode 0600)
//! once it listens; clients attach with that.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{BridgeError, Result};
use crate::jvm_output::JvmOutput;
use crate::launcher::{self, JvmProcess, ServerCommand};

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// `java` to use; else `JAVA_HOME`, else `PATH`.
    pub java: Option<PathBuf>,
    /// Where `java` was named, for errors about it (default "the java argument").
    pub java_source: Option<String>,
    /// The server jar.
    pub jar: PathBuf,
    /// Extra classpath entries.
    pub classpath: Vec<String>,
    /// Extra JVM options.
    pub jvm_options: Vec<String>,
    /// The socket the server binds (must not exist).
    pub socket: PathBuf,
    /// Where the server writes its socket and token.
    pub connection_file: PathBuf,
    /// How long the JVM may take to listen.
    pub startup_timeout: Duration,
}

/// A running gateway JVM.
#[derive(Debug)]
pub struct Gateway {
    jvm: JvmProcess,
}

impl Gateway {
    /// Starts the JVM and waits until its connection file exists.
    pub fn launch(opts: &GatewayOptions) -> Result<Gateway> {
        let java = launcher::find_java_within(
            opts.java.as_deref(),
            opts.java_source.as_deref().unwrap_or("the java argument"),
            opts.startup_timeout,
        )?;
        let token: [u8; 16] = rand::random();
        let token_hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let mut jvm = launcher::spawn_server(
            &ServerCommand {
                java,
                jar: opts.jar.clone(),
                classpath: opts.classpath.clone(),
                jvm_options: opts.jvm_options.clone(),
                socket: opts.socket.clone(),
                exit_on_close: false,
                connection_file: Some(opts.connection_file.clone()),
            },
            &token_hex,
        )?;
        let deadline = Instant::now() + opts.startup_timeout;
        while !opts.connection_file.exists() {
            if let Some(status) = jvm.try_wait() {
                std::thread::sleep(Duration::from_millis(50)); // the last stderr lines
                return Err(BridgeError::Startup(format!(
                    "the gateway JVM exited ({status}) before listening\nJVM stderr:\n{}",
                    jvm.stderr_tail()
                )));
            }
            if Instant::now() >= deadline {
                let tail = jvm.stderr_tail();
                jvm.abandon();
                return Err(BridgeError::Startup(format!(
                    "the gateway JVM did not listen at {} within the start-up timeout\nJVM stderr:\n{tail}",
                    opts.socket.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Gateway { jvm })
    }

    /// The JVM's pid.
    pub fn pid(&self) -> u32 {
        self.jvm.pid()
    }

    /// Whether the JVM still runs.
    pub fn is_running(&mut self) -> bool {
        self.jvm.try_wait().is_none()
    }

    /// The JVM's stdout and stderr.
    pub fn output(&self) -> Arc<JvmOutput> {
        self.jvm.output()
    }

    /// Stops the JVM (stdin closed, killed after `timeout`).
    pub fn stop(&mut self, timeout: Duration) {
        self.jvm.stop(timeout);
    }
}
