//! Asking a `java` its version (`java -version`) with a deadline.
//!
//! The launcher runs the probe before it starts the server, so a `java`
//! that never answers (a broken wrapper script, a JVM stuck on a lock) would
//! hang `connect()` and `python -m gatun doctor` forever. The probe runs in
//! its own process group so that, on timeout, the wrapper and whatever it
//! started are killed together and the output pipes close.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{BridgeError, Result};

/// How long the output readers may take once the probe exited (a child it
/// left behind may hold the pipes; its output is then not waited for).
const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// The feature version `executable -version` prints, waiting at most
/// `timeout`; `source` says where `executable` was named, for messages.
pub fn major_version(executable: &Path, source: &str, timeout: Duration) -> Result<u32> {
    let name = executable.display();
    let mut child = Command::new(executable)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            BridgeError::JavaNotFound(format!("cannot run {name} (from {source}) -version: {e}"))
        })?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for mut pipe in pipes.into_iter().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            let _ = tx.send(out);
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Err(BridgeError::JavaNotFound(format!(
                "{name} (from {source}) did not answer `-version` within {} s (killed it); \
                 Java {} or newer is needed",
                seconds(timeout),
                crate::launcher::MIN_JAVA_VERSION
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = read_output(&rx);
    text.split('"')
        .nth(1)
        .and_then(crate::launcher::parse_major)
        .ok_or_else(|| {
            BridgeError::JavaNotFound(format!(
                "cannot read the version of {name} (from {source}): {}",
                what_it_did(&text, status)
            ))
        })
}

/// Stderr then stdout of the probe, as far as they arrive within [`OUTPUT_DRAIN`].
fn read_output(rx: &mpsc::Receiver<Vec<u8>>) -> String {
    let until = Instant::now() + OUTPUT_DRAIN;
    let mut text = String::new();
    while let Ok(out) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        text.push_str(&String::from_utf8_lossy(&out));
    }
    text
}

/// "`-version` printed nothing and exited with exit status: 0", or what it printed.
fn what_it_did(text: &str, status: ExitStatus) -> String {
    let text = text.trim();
    if text.is_empty() {
        format!("`-version` printed nothing and exited with {status}")
    } else {
        format!("`-version` exited with {status} and printed:\n{text}")
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group the
    // probe leads (process_group(0) made its pid the group id).
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(name: &str, body: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gatun-probe-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("java");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_java_that_never_answers_is_killed_and_named() {
        let java = script("hang", "sleep 1000");
        let err = major_version(&java, "JAVA_HOME", Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not answer `-version` within 0.3 s"),
            "{err}"
        );
        assert!(err.contains(&java.display().to_string()), "{err}");
    }

    #[test]
    fn the_version_is_read_and_silence_is_explained() {
        let java = script("ok", "echo 'openjdk version \"21.0.2\" 2024-01-16' >&2");
        assert_eq!(
            major_version(&java, "PATH", Duration::from_secs(5)).unwrap(),
            21
        );
        let silent = script("silent", "exit 0");
        let err = major_version(&silent, "PATH", Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("printed nothing and exited with exit status: 0"),
            "{err}"
        );
    }
}
