//! Launching the JVM and connecting to it: the options, the session
//! directory holding the server socket, the control segment's header, the
//! handshake on every lane, and the [`Client`] they make up.

use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gatun_arena::Segment;

use super::{Client, ControlMemory, Shared};
use crate::arrow_plane::{ArenaSizing, ArrowPlane};
use crate::control::{self, ControlSegment, HeaderFields};
use crate::error::{BridgeError, Result};
use crate::handshake::{self, HelloFields};
use crate::lane::{Lane, LaneRole, WaitStrategy};
use crate::launcher::{self, JvmProcess, ServerCommand};
use crate::object_releases::ObjectReleases;

/// How to launch and connect.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `java` to use; else `JAVA_HOME`, else `PATH`.
    pub java: Option<PathBuf>,
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
        let segment = ControlSegment::new(opts.lanes + opts.callback_lanes, opts.slot_size)
            .map_err(BridgeError::Value)?;
        let java = launcher::find_java(opts.java.as_deref())?;
        let dir = SessionDir::create()?;
        let mut control = Segment::create("control", segment.total_size(), dir.path())?;
        let pid = std::process::id();
        // SAFETY: the segment is at least 64 bytes and nobody else maps it yet.
        let header =
            unsafe { std::slice::from_raw_parts_mut(control.as_ptr(), control::header::SIZE) };
        control::write_header(
            header,
            &HeaderFields {
                lanes: segment.lanes as u32,
                slot_size: segment.slot_size as u32,
                py_pid: pid,
                jvm_pid: 0,
                py_start: process_start_time(),
                jvm_start: 0,
                state: crate::layout::STATE_CREATED,
            },
        );
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
            },
            &token_hex,
        )?;
        let deadline = Instant::now() + opts.startup_timeout;
        let (control_fd, control_path) = match control.locator() {
            gatun_arena::SegmentLocator::Memfd { fd, .. } => (*fd, None),
            gatun_arena::SegmentLocator::File(p) => (-1, Some(p.display().to_string())),
        };
        let mut hello = HelloFields {
            token: &token,
            pid,
            start_time: process_start_time(),
            lane_index: 0,
            lane_count: segment.lanes as u32,
            control_fd,
            control_path: control_path.as_deref(),
            control_size: segment.total_size() as u64,
            session_id: 0,
            callback_lanes: opts.callback_lanes as u32,
        };
        let mut sockets = Vec::with_capacity(segment.lanes);
        let mut jvm_pid = 0;
        for index in 0..segment.lanes {
            let mut socket = connect_when_ready(&socket_path, &mut jvm, deadline)?;
            hello.lane_index = index as u32;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let accepted = handshake::greet(&mut socket, &hello, remaining)
                .map_err(|e| with_stderr(e, &jvm))?;
            if index == 0 {
                hello.session_id = accepted.session_id;
                jvm_pid = accepted.pid;
            }
            sockets.push(socket);
        }
        // Every lane is connected: nothing needs the socket name any more, so
        // nothing is left behind even if this process is killed now.
        drop(dir);
        control
            .unlink_backing_file()
            .map_err(BridgeError::io("unlinking the control file"))?;

        let base = control.as_ptr();
        let socket_fds = Mutex::new(sockets.iter().map(|s| s.as_raw_fd()).collect());
        let lanes = sockets
            .into_iter()
            .enumerate()
            // SAFETY: `control` is moved into `Shared` below and outlives every lane.
            .map(|(i, s)| {
                // SAFETY: as above.
                let mut lane = unsafe { Lane::new(i, base, &segment, s) }?;
                lane.set_strategy(opts.doorbell);
                lane.set_peer_pid(jvm_pid);
                if i >= opts.lanes {
                    lane.set_role(LaneRole::Callback);
                }
                Ok(Mutex::new(lane))
            })
            .collect::<Result<Vec<_>>>()?;
        let lane_total = segment.lanes;
        let client = Client {
            shared: Arc::new(Shared {
                segment,
                call_lanes: opts.lanes,
                free: Mutex::new((0..opts.lanes).rev().collect()),
                lanes,
                lane_freed: Condvar::new(),
                scratch: Mutex::new(Vec::new()),
                releases: Arc::new(ObjectReleases::default()),
                closed: AtomicBool::new(false),
                close_reason: Mutex::new(String::new()),
                jvm: Mutex::new(Some(jvm)),
                jvm_pid,
                socket_fds,
                open_lanes: AtomicUsize::new(lane_total),
                releasing: AtomicBool::new(false),
                loop_lanes: Mutex::new(Vec::new()),
                // SAFETY: `control` moves into the same `Shared` and outlives the plane.
                arrow: unsafe { ArrowPlane::new(base, opts.arena, std::env::temp_dir()) },
                control: Mutex::new(ControlMemory::Mapped(control)),
            }),
        };
        client.shared.arrow.set_jvm_pid(jvm_pid);
        client.shared.arrow.set_verify_utf8(opts.verify_utf8);
        Ok(client)
    }
}

fn with_stderr(err: BridgeError, jvm: &JvmProcess) -> BridgeError {
    let stderr = jvm.stderr_tail();
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

/// A private (0700) directory for the server socket; removed on drop.
struct SessionDir(PathBuf);

impl SessionDir {
    fn create() -> Result<SessionDir> {
        let base = std::env::temp_dir();
        sweep_stale_dirs(&base);
        let path = base.join(format!(
            "gatun-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(BridgeError::io(format!("creating {}", path.display())))?;
        Ok(SessionDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SessionDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes session directories whose creating process is dead (it was
/// killed between creating one and connecting).
fn sweep_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("gatun-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
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
