//! Private (0700) directories a session keeps its names in: the server
//! socket of a launched JVM, and the segment files handed to a JVM that is
//! not our child. Each is removed when dropped; one left behind by a process
//! that was killed is swept by the next session that creates one.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::{BridgeError, Result};

/// A private directory `<base>/<prefix>-<pid>-<random>`, removed on drop.
#[derive(Debug)]
pub struct PrivateDir(PathBuf);

impl PrivateDir {
    /// Creates a fresh directory under `base` after sweeping the ones of
    /// `prefix` whose creating process is dead.
    pub fn create(base: &Path, prefix: &str) -> Result<PrivateDir> {
        sweep_stale_dirs(base, prefix);
        let path = base.join(format!(
            "{prefix}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(BridgeError::io(format!("creating {}", path.display())))?;
        Ok(PrivateDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where segment files for a peer that is not our child go: `/dev/shm`
/// (memory, like a memfd) where it exists, else the temporary directory
/// (macOS: `$TMPDIR`).
pub fn shared_memory_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Removes `<prefix>-<pid>-*` directories under `base` whose process is dead
/// (it was killed before it could remove its own).
fn sweep_stale_dirs(base: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.strip_prefix('-'))
        else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_is_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = PrivateDir::create(&std::env::temp_dir(), "gatun-test").unwrap();
        let path = dir.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_dead_process_dir_is_swept() {
        let base = std::env::temp_dir();
        // pid 0x7fff_fff0 does not exist (above pid_max).
        let stale = base.join(format!("gatun-sweeptest-{}-{:016x}", 0x7fff_fff0, 1));
        std::fs::create_dir_all(&stale).unwrap();
        let live = PrivateDir::create(&base, "gatun-sweeptest").unwrap();
        assert!(!stale.exists(), "the dead process's directory was swept");
        assert!(live.path().exists());
    }
}
