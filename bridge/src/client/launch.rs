//! Launching the JVM: the options, the server command, and connecting to
//! the socket of the JVM we started (the handshake itself is shared with
//! attaching, in [`super::establish`]).

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatun_arena::SegmentPlace;

use super::establish::{self, Plan, Tuning};
use super::private_dir::PrivateDir;
use super::Client;
use crate::arrow_plane::ArenaSizing;
use crate::error::{BridgeError, Result};
use crate::lane::WaitStrategy;
use crate::launcher::{self, JvmProcess, ServerCommand};

/// How to launch and connect.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `java` to use; else `JAVA_HOME`, else `PATH`.
    pub java: Option<PathBuf>,
    /// Where `java` was named, for error messages (default: "the java argument").
    pub java_source: Option<String>,
    /// The server jar.
    pub jar: PathBuf,
    /// Extra classpath entries.
    pub classpath: Vec<String>,
    /// Extra JVM options.
    pub jvm_options: Vec<String>,
    /// Lanes (concurrent calls).
    pub lanes: usize,
    /// Extra lanes for callbacks that Java fires on threads other than the
    /// one serving a Python call (see [`Client::serve_callback_lane`]).
    pub callback_lanes: usize,
    /// Bytes per request slot and per response slot.
    pub slot_size: usize,
    /// How long the JVM may take to become ready.
    pub startup_timeout: Duration,
    /// The payload arena for Arrow data sent to the JVM.
    pub arena: ArenaSizing,
    /// How waits spin before blocking.
    pub doorbell: WaitStrategy,
    /// Check string columns from the JVM for UTF-8 on arrival (see
    /// [`Imported`](crate::arrow_plane::Imported)); off by default.
    pub verify_utf8: bool,
}

impl ClientOptions {
    /// Defaults with the given server jar: 4 lanes, 1 MiB slots, 30 s start-up.
    pub fn with_jar(jar: impl Into<PathBuf>) -> Self {
        ClientOptions {
            java: None,
            java_source: None,
            jar: jar.into(),
            classpath: Vec::new(),
            jvm_options: Vec::new(),
            lanes: 4,
            callback_lanes: 2,
            slot_size: 1 << 20,
            startup_timeout: Duration::from_secs(30),
            arena: ArenaSizing::default(),
            doorbell: WaitStrategy::default(),
            verify_utf8: false,
        }
    }
}

/// The JVM options to launch with: the user's, plus the cap of the JVM's
/// own `Arena` (`ArrowBridge.allocator()`), which `memory` sizes like
/// Python's unless the user set it.
fn jvm_options(opts: &ClientOptions) -> Vec<String> {
    const CAP: &str = "-Dgatun.arrow.allocator.maxBytes=";
    let mut out = opts.jvm_options.clone();
    if !out.iter().any(|o| o.starts_with(CAP)) {
        out.push(format!("{CAP}{}", opts.arena.max_memory));
    }
    out
}

impl Client {
    /// Starts a JVM with the server jar and connects every lane.
    pub fn launch(opts: &ClientOptions) -> Result<Client> {
        if opts.lanes == 0 {
            return Err(BridgeError::Value("lanes must be at least 1".into()));
        }
        // One deadline for everything: asking java its version, starting
        // the JVM, the handshake.
        let deadline = Instant::now() + opts.startup_timeout;
        let source = opts.java_source.as_deref().unwrap_or("the java argument");
        let java = launcher::find_java_within(opts.java.as_deref(), source, opts.startup_timeout)?;
        let dir = PrivateDir::create(&std::env::temp_dir(), "gatun")?;
        let token: [u8; 16] = rand::random();
        let token_hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let socket_path = dir.path().join("s");
        let mut jvm = launcher::spawn_server(
            &ServerCommand {
                java,
                jar: opts.jar.clone(),
                classpath: opts.classpath.clone(),
                jvm_options: jvm_options(opts),
                socket: socket_path.clone(),
                exit_on_close: true,
                connection_file: None,
            },
            &token_hex,
        )?;
        // Our child: it may open our memfds through /proc/<pid>/fd.
        let place = SegmentPlace::Memfd {
            fallback_dir: dir.path().to_path_buf(),
        };
        let plan = Plan {
            lanes: opts.lanes,
            callback_lanes: opts.callback_lanes,
            slot_size: opts.slot_size,
            token: &token,
            place: &place,
            deadline,
        };
        let output = jvm.output();
        let annotate = move |e| with_stderr(e, &output.stderr_tail());
        let handshaken = establish::handshake(
            &plan,
            &mut || connect_when_ready(&socket_path, &mut jvm, plan.deadline),
            &annotate,
        );
        let mut handshaken = match handshaken {
            Ok(h) => h,
            Err(e) => {
                jvm.abandon();
                return Err(e);
            }
        };
        // Every lane is connected: nothing needs the socket name any more, so
        // nothing is left behind even if this process is killed now.
        drop(dir);
        handshaken.unlink_control_file()?;
        // Payload segments the file fallback creates live in the temporary
        // directory, as before the socket directory went.
        let place = SegmentPlace::Memfd {
            fallback_dir: std::env::temp_dir(),
        };
        let plan = Plan {
            place: &place,
            ..plan
        };
        let tuning = Tuning {
            arena: opts.arena,
            doorbell: opts.doorbell,
            verify_utf8: opts.verify_utf8,
        };
        establish::assemble(handshaken, &plan, &tuning, Some(jvm), None)
    }
}

fn with_stderr(err: BridgeError, stderr: &str) -> BridgeError {
    if stderr.trim().is_empty() {
        return err;
    }
    match err {
        BridgeError::Handshake(m) => BridgeError::Handshake(format!("{m}\nJVM stderr:\n{stderr}")),
        BridgeError::Startup(m) => BridgeError::Startup(format!("{m}\nJVM stderr:\n{stderr}")),
        other => other,
    }
}

/// Connects to the server socket, retrying until it listens, the JVM exits, or
/// the deadline passes.
fn connect_when_ready(path: &Path, jvm: &mut JvmProcess, deadline: Instant) -> Result<UnixStream> {
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if let Some(status) = jvm.try_wait() {
                    // Let the stderr reader catch up with the last lines.
                    std::thread::sleep(Duration::from_millis(50));
                    return Err(BridgeError::Startup(format!(
                        "the JVM exited ({status}) before accepting connections\nJVM stderr:\n{}",
                        jvm.stderr_tail()
                    )));
                }
                if Instant::now() >= deadline {
                    return Err(BridgeError::Startup(format!(
                        "the JVM did not accept connections at {} within the start-up timeout ({e})\nJVM stderr:\n{}",
                        path.display(),
                        jvm.stderr_tail()
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// This process's start time in clock ticks since boot (`/proc/self/stat`
/// field 22), or 0 where unavailable. With the pid it names a process
/// unambiguously.
pub fn process_start_time() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after_comm = s.rsplit_once(')')?.1;
            after_comm.split_whitespace().nth(19)?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_read() {
        assert!(process_start_time() > 0);
    }
}
