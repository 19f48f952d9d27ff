//! Class-data sharing for the server JVM (AppCDS).
//!
//! Starting the server, and above all the first Arrow transfer, is mostly
//! class loading: parsing and verifying the classes of the server, Arrow
//! Java and Jackson took ~0.6 s of a first `send_arrow` on the 2-core VM
//! measured. HotSpot can instead map classes it saved before. The first
//! session for a given Java and classpath records them as its JVM exits
//! (`-XX:ArchiveClassesAtExit`, about a second added to that one `close()`);
//! later sessions map the archive (`-XX:SharedArchiveFile`). HotSpot checks
//! an archive against the running JVM and classpath and ignores one that
//! does not match, so a stale archive costs only the time it would have
//! saved.
//!
//! Archives live in `$GATUN_CDS_DIR`, else `$XDG_CACHE_HOME/gatun-rs/cds`,
//! else `~/.cache/gatun-rs/cds`, one per (Java executable, classpath jars,
//! JVM options), named by a hash of those with their sizes and modification
//! times. `GATUN_CDS=0` turns the feature off. One process records at a time
//! (a lock file); a partial recording is only renamed into place once its
//! JVM exited cleanly. When a new one is recorded, archives unused for
//! `UNUSED_FOR` are removed, and so is every archive beyond the
//! `MAX_ARCHIVES` most recently used (each is ~11 MB, and every distinct set
//! of JVM options makes one).

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A lock older than this belongs to a recording that never finished (its
/// process died): it is taken over.
const LOCK_STALE: Duration = Duration::from_secs(600);
/// Archives not used for this long are removed when a new one is recorded
/// (every jar rebuild makes a new one).
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Archives kept at most (the most recently used): the cache stays under
/// ~200 MB however many option sets a user's programs launch with.
const MAX_ARCHIVES: usize = 16;

/// Options that show the user manages class-data sharing themselves.
const USER_CDS_OPTIONS: [&str; 6] = [
    "Xshare",
    "SharedArchiveFile",
    "ArchiveClassesAtExit",
    "AutoCreateSharedArchive",
    "DumpLoadedClassList",
    "SharedClassListFile",
];

/// What one launch does about the archive: the JVM flags to add, and, for
/// the session that records it, what to do once its JVM has exited.
#[derive(Debug, Default)]
pub struct ClassArchive {
    flags: Vec<String>,
    recording: Option<Recording>,
}

#[derive(Debug)]
struct Recording {
    partial: PathBuf,
    archive: PathBuf,
    lock: PathBuf,
}

impl ClassArchive {
    /// Decides for a JVM about to run `java` with `classpath` and
    /// `jvm_options`, using the cache directory from the environment. Never
    /// fails: anything unexpected means a launch without an archive.
    pub fn plan(java: &Path, classpath: &[PathBuf], jvm_options: &[String]) -> ClassArchive {
        let off = std::env::var("GATUN_CDS").is_ok_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "0" | "off" | "false" | "no"
            )
        });
        match cache_dir() {
            Some(dir) if !off => Self::plan_in(&dir, java, classpath, jvm_options),
            _ => ClassArchive::default(),
        }
    }

    /// [`ClassArchive::plan`] with an explicit cache directory.
    pub fn plan_in(
        dir: &Path,
        java: &Path,
        classpath: &[PathBuf],
        jvm_options: &[String],
    ) -> ClassArchive {
        let user_manages_cds = jvm_options
            .iter()
            .any(|o| USER_CDS_OPTIONS.iter().any(|name| o.contains(name)));
        // HotSpot refuses to record (and exits) with a non-empty directory
        // on the classpath.
        let all_jars = classpath.iter().all(|p| p.is_file());
        if user_manages_cds || !all_jars || fs::create_dir_all(dir).is_err() {
            return ClassArchive::default();
        }
        let Some(key) = archive_key(java, classpath, jvm_options) else {
            return ClassArchive::default();
        };
        let archive = dir.join(format!("{key}.jsa"));
        if fs::metadata(&archive).is_ok_and(|m| m.len() > 0) {
            mark_used(&archive);
            return ClassArchive {
                flags: vec![format!("-XX:SharedArchiveFile={}", archive.display())],
                recording: None,
            };
        }
        let lock = dir.join(format!("{key}.lock"));
        if !take_lock(&lock) {
            return ClassArchive::default(); // another session is recording it
        }
        remove_unused(dir);
        let partial = dir.join(format!("{key}.{}.partial", std::process::id()));
        ClassArchive {
            // The server waits for its Arrow warm-up before exiting, so the
            // archive holds those classes even after a short session.
            flags: vec![
                format!("-XX:ArchiveClassesAtExit={}", partial.display()),
                "-Dgatun.cds.recording=true".into(),
                // Recording warns on stdout about every class it skips (JFR
                // events, patched modules): noise in the user's stdout now
                // that the JVM's output reaches Python.
                "-Xlog:cds=off,cds+dynamic=off".into(),
            ],
            recording: Some(Recording {
                partial,
                archive,
                lock,
            }),
        }
    }

    /// JVM options to add before the main class.
    pub fn flags(&self) -> &[String] {
        &self.flags
    }

    /// True for the session that records the archive as its JVM exits.
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Called once the JVM has exited: a recording made by a JVM that
    /// exited cleanly becomes the archive; any other is discarded.
    pub fn finish(&mut self, exited_cleanly: bool) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let recorded = fs::metadata(&r.partial).is_ok_and(|m| m.len() > 0);
        if !(exited_cleanly && recorded && fs::rename(&r.partial, &r.archive).is_ok()) {
            let _ = fs::remove_file(&r.partial);
        }
        let _ = fs::remove_file(&r.lock);
    }
}

impl Drop for ClassArchive {
    /// A recording whose JVM was never waited for is not trusted.
    fn drop(&mut self) {
        self.finish(false);
    }
}

fn cache_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("GATUN_CDS_DIR")
        .or_else(|| from("XDG_CACHE_HOME").map(|d| d.join("gatun-rs").join("cds")))
        .or_else(|| from("HOME").map(|d| d.join(".cache").join("gatun-rs").join("cds")))
}

/// A hash of what the archive depends on: the Java executable and the jars
/// (paths, sizes, modification times) and the JVM options.
fn archive_key(java: &Path, classpath: &[PathBuf], jvm_options: &[String]) -> Option<String> {
    let mut h = DefaultHasher::new();
    for file in std::iter::once(java).chain(classpath.iter().map(PathBuf::as_path)) {
        let path = fs::canonicalize(file).ok()?;
        let meta = fs::metadata(&path).ok()?;
        path.hash(&mut h);
        meta.len().hash(&mut h);
        meta.modified().ok()?.hash(&mut h);
    }
    // The flags every launch adds count too: an archive recorded without one
    // of them is refused (and, on newer JVMs, complained about) when mapped.
    crate::launcher::REQUIRED_JVM_FLAGS.hash(&mut h);
    jvm_options.hash(&mut h);
    Some(format!("{:016x}", h.finish()))
}

fn take_lock(lock: &Path) -> bool {
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
    };
    if create().is_ok() {
        return true;
    }
    let stale = fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > LOCK_STALE);
    stale && fs::remove_file(lock).is_ok() && create().is_ok()
}

/// Records that the archive was used, for [`remove_unused`].
fn mark_used(archive: &Path) {
    if let Ok(f) = fs::OpenOptions::new().append(true).open(archive) {
        let _ = f.set_modified(SystemTime::now());
    }
}

fn remove_unused(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut archives = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(kind) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if kind != "jsa" && kind != "partial" {
            continue;
        }
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        let unused = modified
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNUSED_FOR);
        if unused {
            let _ = fs::remove_file(path);
        } else if kind == "jsa" {
            archives.push((modified.unwrap_or(SystemTime::UNIX_EPOCH), path));
        }
    }
    // Most recently used first; the rest beyond the cap go.
    archives.sort_by_key(|a| std::cmp::Reverse(a.0));
    for (_, path) in archives.into_iter().skip(MAX_ARCHIVES) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Setup {
        dir: PathBuf,
        java: PathBuf,
        jar: PathBuf,
    }

    fn setup(name: &str) -> Setup {
        let root =
            std::env::temp_dir().join(format!("gatun-cds-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let java = root.join("java");
        let jar = root.join("server.jar");
        fs::write(&java, b"not really java").unwrap();
        fs::write(&jar, b"not really a jar").unwrap();
        Setup {
            dir: root.join("cds"),
            java,
            jar,
        }
    }

    fn plan(s: &Setup, options: &[&str]) -> ClassArchive {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        ClassArchive::plan_in(&s.dir, &s.java, std::slice::from_ref(&s.jar), &options)
    }

    /// The JVM's side of a recording (it writes the file named in the flag),
    /// then the launcher's once that JVM has exited.
    fn record(mut a: ClassArchive, jvm_exited_cleanly: bool) {
        let flag = &a.flags()[0];
        let path = flag.strip_prefix("-XX:ArchiveClassesAtExit=").unwrap();
        fs::write(path, b"archive").unwrap();
        a.finish(jvm_exited_cleanly);
    }

    #[test]
    fn the_first_session_records_and_later_ones_map() {
        let s = setup("cycle");
        let first = plan(&s, &[]);
        assert!(first.is_recording());
        assert!(
            plan(&s, &[]).flags().is_empty(),
            "one recorder at a time: the second launch goes without"
        );
        record(first, true);
        let later = plan(&s, &[]);
        assert!(!later.is_recording());
        assert_eq!(later.flags().len(), 1);
        assert!(later.flags()[0].starts_with("-XX:SharedArchiveFile="));
        let leftovers: Vec<_> = fs::read_dir(&s.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".jsa"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "lock and partial are gone: {leftovers:?}"
        );
    }

    #[test]
    fn a_recording_whose_jvm_failed_is_discarded() {
        let s = setup("failed");
        let first = plan(&s, &[]);
        record(first, false);
        assert!(
            plan(&s, &[]).is_recording(),
            "nothing kept, the next one records"
        );
    }

    #[test]
    fn a_dropped_recording_is_discarded_and_unlocked() {
        let s = setup("dropped");
        drop(plan(&s, &[]));
        assert!(plan(&s, &[]).is_recording());
    }

    #[test]
    fn a_stale_lock_is_taken_over() {
        let s = setup("stale");
        let abandoned = plan(&s, &[]);
        std::mem::forget(abandoned); // its process "died"
        assert!(plan(&s, &[]).flags().is_empty());
        let lock = fs::read_dir(&s.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "lock"))
            .unwrap();
        let old = SystemTime::now() - LOCK_STALE - Duration::from_secs(1);
        fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(plan(&s, &[]).is_recording());
    }

    #[test]
    fn a_changed_jar_or_option_gets_its_own_archive() {
        let s = setup("key");
        let first = plan(&s, &[]);
        record(first, true);
        assert!(plan(&s, &["-Xmx1g"]).is_recording(), "other options");
        fs::write(&s.jar, b"a rebuilt jar, longer than before").unwrap();
        assert!(plan(&s, &[]).is_recording(), "a rebuilt jar");
    }

    #[test]
    fn no_archive_where_hotspot_cannot_use_one_or_the_user_chose() {
        let s = setup("skip");
        fs::create_dir_all(&s.dir).unwrap();
        fs::write(s.dir.join("a.class"), b"").unwrap();
        assert!(plan(&s, &["-Xshare:off"]).flags().is_empty());
        assert!(plan(&s, &["-XX:SharedArchiveFile=/x.jsa"])
            .flags()
            .is_empty());
        let with_dir = ClassArchive::plan_in(&s.dir, &s.java, &[s.jar.clone(), s.dir.clone()], &[]);
        assert!(with_dir.flags().is_empty(), "a directory on the classpath");
    }

    #[test]
    fn only_the_most_recently_used_archives_are_kept() {
        let s = setup("cap");
        fs::create_dir_all(&s.dir).unwrap();
        let now = SystemTime::now();
        for i in 0..MAX_ARCHIVES + 4 {
            let path = s.dir.join(format!("a{i:02}.jsa"));
            fs::write(&path, b"x").unwrap();
            let f = fs::OpenOptions::new().append(true).open(&path).unwrap();
            // a00 is the most recently used, a19 the least.
            f.set_modified(now - Duration::from_secs(60 * i as u64))
                .unwrap();
        }
        fs::write(s.dir.join("notes.txt"), b"not ours").unwrap();
        remove_unused(&s.dir);
        let mut left: Vec<String> = fs::read_dir(&s.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".jsa"))
            .collect();
        left.sort();
        let expected: Vec<String> = (0..MAX_ARCHIVES).map(|i| format!("a{i:02}.jsa")).collect();
        assert_eq!(left, expected);
        assert!(s.dir.join("notes.txt").exists());
    }
}
