//! Where a crashed JVM wrote its fatal-error report (`hs_err_pid<pid>.log`),
//! so the error a caller gets when the JVM dies can name the file.
//!
//! HotSpot writes the report to `-XX:ErrorFile` (the last one given; `%p` is
//! the pid, `%%` a percent sign), else to `hs_err_pid<pid>.log` in its working
//! directory, else in the temporary directory. The Python launcher points
//! `-XX:ErrorFile` at gatun's cache directory.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The files a JVM with `jvm_options` and `pid`, running in `cwd`, may have
/// written its report to, most likely first.
pub fn candidates(jvm_options: &[String], pid: u32, cwd: &Path) -> Vec<PathBuf> {
    let default = format!("hs_err_pid{pid}.log");
    let mut out = Vec::new();
    if let Some(pattern) = jvm_options
        .iter()
        .rev()
        .find_map(|o| o.strip_prefix("-XX:ErrorFile="))
    {
        out.push(cwd.join(expand(pattern, pid)));
    }
    out.push(cwd.join(&default));
    out.push(std::env::temp_dir().join(default));
    out
}

/// The first of `candidates` written since `since` (an older file of the same
/// name is another process's, whose pid was reused).
pub fn find(candidates: &[PathBuf], since: SystemTime) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .cloned()
}

/// HotSpot's `%p` (pid) and `%%` (percent) in an `ErrorFile` pattern.
fn expand(pattern: &str, pid: u32) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('p') => out.push_str(&pid.to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_file_option_comes_first_with_the_pid_in_it() {
        let opts = [
            "-XX:ErrorFile=/a/hs_%p.log".to_owned(),
            "-Xmx1g".to_owned(),
            "-XX:ErrorFile=/b/x%%_%p.log".to_owned(),
        ];
        let c = candidates(&opts, 42, Path::new("/w"));
        assert_eq!(c[0], PathBuf::from("/b/x%_42.log"));
        assert_eq!(c[1], PathBuf::from("/w/hs_err_pid42.log"));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_relative_error_file_is_in_the_jvm_working_directory() {
        let c = candidates(&["-XX:ErrorFile=crash.log".to_owned()], 7, Path::new("/w"));
        assert_eq!(c[0], PathBuf::from("/w/crash.log"));
    }

    #[test]
    fn only_a_file_written_since_the_launch_is_found() {
        let dir = std::env::temp_dir();
        let file = dir.join(format!(
            "gatun-crash-report-test-{}.log",
            std::process::id()
        ));
        std::fs::write(&file, "report").unwrap();
        let written = std::fs::metadata(&file).unwrap().modified().unwrap();
        let list = [
            dir.join("gatun-crash-report-test-missing.log"),
            file.clone(),
        ];
        assert_eq!(find(&list, written), Some(file.clone()));
        let later = written + std::time::Duration::from_secs(60);
        assert_eq!(find(&list, later), None);
        std::fs::remove_file(&file).unwrap();
    }
}
