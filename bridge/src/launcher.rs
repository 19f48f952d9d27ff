//! Finding Java and starting the JVM.
//!
//! The JVM must never outlive Python, however Python dies: it is spawned from
//! one long-lived launcher thread with `PR_SET_PDEATHSIG` set before exec
//! (the signal follows the *thread* that forked, hence a thread that never
//! exits), its stdin is a pipe whose EOF makes the server halt, and the lane
//! sockets reach EOF too. The session token travels through that stdin pipe,
//! never on the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::class_archive::ClassArchive;
use crate::error::{BridgeError, Result};
use crate::jvm_output::{JvmOutput, Stream};

/// Oldest Java the server runs on.
pub const MIN_JAVA_VERSION: u32 = 17;

/// Flags the server always needs: Arrow's memory module reads
/// `java.nio.Buffer.address`, and `get_field` reads non-public fields of
/// `java.lang` classes as upstream's does (its README reads a
/// `StringBuilder`'s `count`). Nothing else of `java.base` is opened. What an
/// open `java.lang` would also allow is refused by the class policy:
/// `setAccessible` on any JDK member (the way to `Shutdown.halt0`),
/// `java.lang.invoke` (private lookups), writing a non-public JDK field.
pub const REQUIRED_JVM_FLAGS: [&str; 2] = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
];

/// First Java without the dynamic class archives this launcher records.
const AOT_CACHE_JAVA: u32 = 24;
/// First Java that warns about `sun.misc.Unsafe` memory access (and has the
/// option that allows it quietly).
const UNSAFE_WARNING_JAVA: u32 = 24;

/// The server's initial heap when nobody chose a heap size. The JVM's own
/// default is 1/64 of the machine's memory (384 MiB on a 24 GiB machine),
/// which G1 fills with young objects before collecting: the server's RSS
/// grew to that size within the first calls although its live heap stays
/// under 10 MiB. From 64 MiB the heap still grows as the JVM code needs,
/// up to the JVM's default maximum (raised to 64 MiB if that is smaller).
pub const DEFAULT_INITIAL_HEAP: &str = "-Xms64m";

/// Options that size the heap: if the user (or `JAVA_TOOL_OPTIONS` and the
/// like) gives one, [`DEFAULT_INITIAL_HEAP`] is left out so it can never
/// conflict with it (a smaller `-Xmx`, say).
const HEAP_SIZE_OPTIONS: [&str; 13] = [
    "-Xms",
    "-Xmx",
    "-XX:InitialHeapSize",
    "-XX:MaxHeapSize",
    "-XX:MinHeapSize",
    "-XX:InitialRAMPercentage",
    "-XX:MaxRAMPercentage",
    "-XX:MinRAMPercentage",
    "-XX:InitialRAMFraction",
    "-XX:MaxRAMFraction",
    "-XX:MinRAMFraction",
    "-XX:MaxRAM",
    "-XX:ErgoHeapSizeLimit",
];

/// Environment variables the JVM reads options from.
const JVM_OPTION_VARIABLES: [&str; 3] = ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"];

/// The heap flags the server gets before the user's options: none when the
/// user's options or `environment` (the JVM's option variables) size the heap.
pub fn default_heap_flags(
    jvm_options: &[String],
    environment: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let from_env: Vec<String> = JVM_OPTION_VARIABLES
        .iter()
        .filter_map(|name| environment(name))
        .flat_map(|value| {
            value
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let sizes_heap = jvm_options.iter().chain(&from_env).any(|option| {
        HEAP_SIZE_OPTIONS
            .iter()
            .any(|flag| option.starts_with(flag))
    });
    if sizes_heap {
        Vec::new()
    } else {
        vec![DEFAULT_INITIAL_HEAP.to_owned()]
    }
}

/// Main class of the bundled server jar.
pub const SERVER_MAIN_CLASS: &str = "gatun.server.GatunServer";

/// A Java installation that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaInstall {
    /// The `java` executable.
    pub executable: PathBuf,
    /// Feature version (17, 21, ...).
    pub major: u32,
}

/// How long a `java -version` probe may take when the caller has no
/// deadline of its own (`python -m gatun doctor`): a JVM answers in well
/// under a second.
pub const JAVA_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds `java` as [`find_java_within`] does, the explicit one named as
/// "the java argument", waiting at most [`JAVA_PROBE_TIMEOUT`] for it.
pub fn find_java(explicit: Option<&Path>) -> Result<JavaInstall> {
    find_java_within(explicit, "the java argument", JAVA_PROBE_TIMEOUT)
}

/// Finds `java`: `explicit` if given (a path, a command name looked up on
/// `PATH`, or a JDK home directory, whose `bin/java` is used; `source` says
/// where it was named, for messages), else `$JAVA_HOME/bin/java`, else
/// `java` on `PATH`; it must be [`MIN_JAVA_VERSION`] or newer. A `java`
/// whose version must be asked for gets `timeout` to answer, then is killed
/// (with whatever it started): a hung one fails the search, never hangs it.
pub fn find_java_within(
    explicit: Option<&Path>,
    source: &str,
    timeout: Duration,
) -> Result<JavaInstall> {
    let (executable, source) = if let Some(path) = explicit {
        (resolve_explicit(path, source)?, source)
    } else if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        (PathBuf::from(home).join("bin/java"), "JAVA_HOME")
    } else {
        match search_path("java") {
            Some(p) => (p, "PATH"),
            None => {
                return Err(BridgeError::JavaNotFound(format!(
                    "no Java found: JAVA_HOME is unset and no `java` is on PATH; install Java {MIN_JAVA_VERSION} or newer"
                )))
            }
        }
    };
    if !executable.is_file() {
        return Err(BridgeError::JavaNotFound(format!(
            "{} (from {source}) does not exist; Java {MIN_JAVA_VERSION} or newer is needed",
            executable.display()
        )));
    }
    let major = java_major_version(&executable, source, timeout)?;
    if major < MIN_JAVA_VERSION {
        return Err(BridgeError::JavaNotFound(format!(
            "{} (from {source}) is Java {major}; Java {MIN_JAVA_VERSION} or newer is needed (set JAVA_HOME)",
            executable.display()
        )));
    }
    Ok(JavaInstall { executable, major })
}

/// The executable an explicit `java` names: a bare command name is looked
/// up on `PATH` (as a shell would), a JDK home means its `bin/java`.
fn resolve_explicit(path: &Path, source: &str) -> Result<PathBuf> {
    let bare = path.components().count() == 1 && !path.is_absolute();
    if bare {
        let name = path.to_string_lossy();
        return search_path(&name).ok_or_else(|| {
            BridgeError::JavaNotFound(format!(
                "`{name}` (from {source}) is not on PATH; Java {MIN_JAVA_VERSION} or newer is needed"
            ))
        });
    }
    if path.is_dir() {
        let java = path.join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
        return Err(BridgeError::JavaNotFound(format!(
            "{} (from {source}) is a directory without bin/java; pass the java executable, \
             or a JDK home directory (the one containing bin/java)",
            path.display()
        )));
    }
    Ok(path.to_path_buf())
}

fn search_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Reads the version from the installation's `release` file (cheap), falling
/// back to running `java -version` for at most `timeout`.
fn java_major_version(executable: &Path, source: &str, timeout: Duration) -> Result<u32> {
    if let Ok(real) = std::fs::canonicalize(executable) {
        if let Some(home) = real.parent().and_then(Path::parent) {
            if let Ok(text) = std::fs::read_to_string(home.join("release")) {
                if let Some(v) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("JAVA_VERSION="))
                    .and_then(|v| parse_major(v.trim_matches('"')))
                {
                    return Ok(v);
                }
            }
        }
    }
    crate::java_probe::major_version(executable, source, timeout)
}

/// "17.0.15" -> 17, "1.8.0_392" -> 8, "21" -> 21.
pub fn parse_major(version: &str) -> Option<u32> {
    let mut parts = version.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// A running JVM started by [`spawn_server`].
#[derive(Debug)]
pub struct JvmProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<JvmOutput>,
    /// Disconnects when the stdout and stderr readers have closed their pipes.
    output_done: Option<mpsc::Receiver<()>>,
    archive: ClassArchive,
    /// Where a crash report may appear, and when the JVM started.
    crash_reports: (Vec<PathBuf>, std::time::SystemTime),
}

/// How long `stop` waits for the output readers to see EOF once the JVM has
/// exited (a child the JVM started may still hold the pipe; then the reader
/// ends with it).
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// How much longer `stop` waits for a JVM that records the class archive as
/// it exits (about a second on the 2-core VM measured).
const RECORDING_GRACE: Duration = Duration::from_secs(10);

/// How long [`JvmProcess::abandon`] waits for the output readers (a child
/// the JVM, or a wrapper script, started may hold the pipes).
const ABANDON_DRAIN: Duration = Duration::from_millis(100);

impl JvmProcess {
    /// The JVM's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 64 KiB the JVM wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.output.stderr_tail()
    }

    /// The JVM's stdout and stderr as it writes them (and the stderr tail,
    /// for annotating errors while the process is borrowed elsewhere).
    pub fn output(&self) -> Arc<JvmOutput> {
        self.output.clone()
    }

    /// The fatal-error report (`hs_err_pid<pid>.log`) the JVM wrote if it
    /// crashed.
    pub fn crash_report(&self) -> Option<PathBuf> {
        crate::crash_report::find(&self.crash_reports.0, self.crash_reports.1)
    }

    /// Exit status if the JVM has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Raw descriptor of the stdin pipe (closed in forked children).
    pub fn stdin_fd(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        self.stdin.as_ref().map(|s| s.as_raw_fd())
    }

    /// Closes stdin (the server halts on EOF) and waits up to `timeout`
    /// (plus `RECORDING_GRACE` for a JVM recording the class archive), then
    /// kills the JVM.
    pub fn stop(&mut self, timeout: Duration) {
        self.stdin.take();
        let grace = if self.archive.is_recording() {
            RECORDING_GRACE
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + timeout + grace;
        let status = loop {
            if let Some(status) = self.try_wait() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // So the pipe is closed when `stop` returns (close() gives every
        // descriptor back at once).
        if let Some(done) = self.output_done.take() {
            let _ = done.recv_timeout(STDERR_DRAIN);
        }
        self.archive.finish(status.is_some_and(|s| s.success()));
    }
}

impl JvmProcess {
    /// Kills a JVM that failed to start, at once: no grace for a class
    /// archive recording (a JVM that never served is not recorded, and the
    /// start-up timeout must hold), and only a short wait for its output.
    pub fn abandon(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(done) = self.output_done.take() {
            let _ = done.recv_timeout(ABANDON_DRAIN);
        }
        self.archive.finish(false);
    }
}

impl Drop for JvmProcess {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.stop(Duration::from_secs(2));
        }
    }
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The launcher thread: lives as long as the process, so the JVM's
/// parent-death signal fires exactly when this process dies.
fn launcher() -> &'static Mutex<mpsc::Sender<SpawnJob>> {
    static LAUNCHER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    LAUNCHER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("gatun-launcher".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawning the gatun launcher thread");
        Mutex::new(tx)
    })
}

/// What to launch.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// The Java to run.
    pub java: JavaInstall,
    /// The server jar.
    pub jar: PathBuf,
    /// Extra classpath entries.
    pub classpath: Vec<String>,
    /// Extra JVM options, after [`REQUIRED_JVM_FLAGS`].
    pub jvm_options: Vec<String>,
    /// Socket path the server binds.
    pub socket: PathBuf,
    /// End the JVM when its last session ends (a `connect()` JVM); a
    /// gateway serves sessions until it is stopped.
    pub exit_on_close: bool,
    /// Where a gateway writes its socket and token for other processes.
    pub connection_file: Option<PathBuf>,
}

/// Starts the server and hands it `token_hex` on stdin.
pub fn spawn_server(cmd: &ServerCommand, token_hex: &str) -> Result<JvmProcess> {
    if !cmd.jar.is_file() {
        return Err(BridgeError::Startup(format!(
            "server jar {} not found (build it with `mvn -f java/pom.xml package`, or set GATUN_JAR)",
            cmd.jar.display()
        )));
    }
    let mut classpath = cmd.jar.display().to_string();
    for entry in &cmd.classpath {
        classpath.push(':');
        classpath.push_str(entry);
    }
    let jars: Vec<PathBuf> = std::iter::once(cmd.jar.clone())
        .chain(cmd.classpath.iter().map(PathBuf::from))
        .collect();
    // Java 24+ replaced dynamic archives with the AOT cache (JEP 483), and
    // Java 25's recording crashed the JVM (SIGSEGV in
    // LambdaProxyClassDictionary while the Arrow warm-up ran): no archive there.
    let archive = if cmd.java.major >= AOT_CACHE_JAVA {
        ClassArchive::default()
    } else {
        ClassArchive::plan(&cmd.java.executable, &jars, &cmd.jvm_options)
    };
    let mut command = Command::new(&cmd.java.executable);
    command.args(REQUIRED_JVM_FLAGS);
    if cmd.java.major >= UNSAFE_WARNING_JAVA {
        // Arrow Java reads memory through sun.misc.Unsafe, which Java 24+
        // warns about on stderr (and so in Python) at the first use.
        command.arg("--sun-misc-unsafe-memory-access=allow");
    }
    command
        .args(default_heap_flags(&cmd.jvm_options, |name| {
            std::env::var(name).ok()
        }))
        .args(&cmd.jvm_options)
        .args(archive.flags())
        .arg("-cp")
        .arg(classpath)
        .arg(SERVER_MAIN_CLASS)
        .arg("--socket")
        .arg(&cmd.socket)
        .args(cmd.exit_on_close.then_some("--exit-on-close"))
        .args(
            cmd.connection_file
                .iter()
                .flat_map(|f| [std::ffi::OsStr::new("--connection-file"), f.as_os_str()]),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    set_parent_death_signal(&mut command);

    // A second early: file times are coarser than the clock, and a report
    // is written long after the JVM starts anyway.
    let started = std::time::SystemTime::now() - Duration::from_secs(1);
    let (tx, rx) = mpsc::channel();
    launcher()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, tx))
        .map_err(|_| BridgeError::Startup("the launcher thread is gone".into()))?;
    let mut child = rx
        .recv()
        .map_err(|_| BridgeError::Startup("the launcher thread is gone".into()))?
        .map_err(BridgeError::io(format!(
            "starting {}",
            cmd.java.executable.display()
        )))?;

    let output = Arc::new(JvmOutput::default());
    let (done, output_done) = mpsc::channel::<()>();
    if let Some(stdout) = child.stdout.take() {
        output
            .read_from(Stream::Stdout, stdout, done.clone())
            .map_err(BridgeError::io("starting the stdout reader"))?;
    }
    if let Some(stderr) = child.stderr.take() {
        output
            .read_from(Stream::Stderr, stderr, done)
            .map_err(BridgeError::io("starting the stderr reader"))?;
    }
    let mut stdin = child.stdin.take();
    if let Some(pipe) = stdin.as_mut() {
        pipe.write_all(format!("{token_hex}\n").as_bytes())
            .and_then(|_| pipe.flush())
            .map_err(BridgeError::io("handing the session token to the JVM"))?;
    }
    let crash_reports = crate::crash_report::candidates(
        &cmd.jvm_options,
        child.id(),
        &std::env::current_dir().unwrap_or_default(),
    );
    Ok(JvmProcess {
        child,
        stdin,
        output,
        output_done: Some(output_done),
        archive,
        crash_reports: (crash_reports, started),
    })
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut Command) {
    // macOS has no PDEATHSIG: the stdin-EOF watcher and socket EOF remain.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_major("17.0.15"), Some(17));
        assert_eq!(parse_major("1.8.0_392"), Some(8));
        assert_eq!(parse_major("21"), Some(21));
        assert_eq!(parse_major("25-ea"), Some(25));
        assert_eq!(parse_major("x"), None);
    }

    #[test]
    fn the_default_initial_heap_gives_way_to_any_heap_size_the_user_chose() {
        let none = |_: &str| None;
        let opts = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            default_heap_flags(&opts(&["-Dx=1"]), none),
            vec![DEFAULT_INITIAL_HEAP]
        );
        for chosen in [
            "-Xmx32m",
            "-Xms1g",
            "-XX:MaxRAMPercentage=10",
            "-XX:MaxHeapSize=1g",
        ] {
            assert!(
                default_heap_flags(&opts(&[chosen]), none).is_empty(),
                "{chosen}"
            );
        }
        let tool = |name: &str| (name == "JAVA_TOOL_OPTIONS").then(|| "-Dy=2 -Xmx48m".to_owned());
        assert!(default_heap_flags(&[], tool).is_empty());
    }

    #[test]
    fn a_missing_java_is_named() {
        let err = find_java(Some(Path::new("/nonexistent/java"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/java"), "{err}");
    }

    #[test]
    fn a_java_that_is_too_old_is_named_with_what_is_needed() {
        use std::os::unix::fs::PermissionsExt;
        let home = std::env::temp_dir().join(format!("gatun-fake-jdk8-{}", std::process::id()));
        std::fs::create_dir_all(home.join("bin")).unwrap();
        std::fs::write(home.join("release"), "JAVA_VERSION=\"1.8.0_392\"\n").unwrap();
        let java = home.join("bin/java");
        std::fs::write(&java, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = find_java(Some(&java)).unwrap_err().to_string();
        std::fs::remove_dir_all(&home).unwrap();
        assert!(err.contains("is Java 8"), "{err}");
        assert!(err.contains("Java 17 or newer is needed"), "{err}");
    }

    #[test]
    fn the_installed_java_is_found() {
        if let Ok(java) = find_java(None) {
            assert!(java.major >= MIN_JAVA_VERSION);
        }
    }
}
