//! Child processes owned from the instant they exist.
//!
//! A program that starts a long-lived child (a QEMU) and records it in a file can be killed
//! between the fork and the record. The child is then still found: before forking, the owner
//! takes an exclusive `flock` on a *mark* file and gives the child a descriptor of that same
//! open file (its stdout and stderr, typically a log), so the lock is shared by the owner and
//! the child and stays held while either lives, whatever instant the owner dies at. The next
//! owner, holding the object's own lock, sees the mark still held and finds the survivors by an
//! argument unique to them ([`processes_with_arg`]).

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::{Error, OpenMode, Result, flock_nonblock, open_nofollow};

/// A held lock on a mark file (see the module documentation). Dropping it closes this
/// process's descriptor only: a child given [`Mark::share`] keeps the lock.
#[derive(Debug)]
pub struct Mark {
    file: File,
    path: PathBuf,
}

impl Mark {
    /// Opens the mark file at `path` for appending (created with `mode` when missing, never
    /// through a symbolic link) and locks it. `Ok(None)` when another process holds the lock.
    pub fn take(path: &Path, mode: u32) -> Result<Option<Mark>> {
        let file = open_nofollow(path, OpenMode::Append, mode)?;
        match flock_nonblock(&file, true) {
            Ok(()) => Ok(Some(Mark {
                file,
                path: path.to_path_buf(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(Error::Io {
                action: "lock",
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// A descriptor of the same open file, to give to a child: the lock stays held while the
    /// child keeps it open.
    pub fn share(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::Io {
            action: "duplicate",
            path: self.path.clone(),
            source: e,
        })
    }

    /// The open mark file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Whether a process holds the mark at `path` (a missing file is not held).
pub fn mark_held(path: &Path) -> bool {
    match open_nofollow(path, OpenMode::Read, 0o600) {
        Ok(f) => flock_nonblock(&f, true).is_err(),
        Err(_) => false,
    }
}

/// Whether `pid` is a live process (not a zombie) with an argument exactly equal to `arg`.
pub fn process_has_arg(pid: i32, arg: &OsStr) -> bool {
    if pid <= 0 {
        return false;
    }
    let alive = std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s
            .iter()
            .rposition(|b| *b == b')')
            .and_then(|i| s.get(i + 2).copied());
        !matches!(state, Some(b'Z' | b'X' | b'x') | None)
    });
    alive
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
}

/// The live processes with an argument exactly equal to `arg` (a path unique to one object,
/// such as a pidfile or socket path), this process excluded.
pub fn processes_with_arg(arg: &OsStr) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<i32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me && process_has_arg(*pid, arg))
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn a_child_keeps_the_mark_after_its_owner_lets_go_and_is_found_by_its_argument() {
        let d = tempfile::tempdir().unwrap();
        let mark_path = d.path().join("child.log");
        let unique = d.path().join("unique-marker");
        let mark = Mark::take(&mark_path, 0o600).unwrap().unwrap();
        // A second owner cannot take it while the first holds it.
        assert!(Mark::take(&mark_path, 0o600).unwrap().is_none());
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("read x")
            .arg(&unique)
            // `read` blocks on the pipe: a child that forks nothing.
            .stdin(Stdio::piped())
            .stdout(mark.share().unwrap())
            .stderr(mark.share().unwrap())
            .spawn()
            .unwrap();
        drop(mark);
        // The owner is gone: the child still holds the mark.
        assert!(mark_held(&mark_path));
        assert!(Mark::take(&mark_path, 0o600).unwrap().is_none());
        let pid = child.id() as i32;
        // `spawn` returns at the exec's point of no return, a moment before the kernel shows
        // the new command line.
        let t = Instant::now();
        while !process_has_arg(pid, unique.as_os_str()) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(process_has_arg(pid, unique.as_os_str()));
        assert_eq!(processes_with_arg(unique.as_os_str()), vec![pid]);
        assert!(!process_has_arg(pid, OsStr::new("unique-marke")));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(processes_with_arg(unique.as_os_str()).is_empty());
        let t = Instant::now();
        while mark_held(&mark_path) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!mark_held(&mark_path));
        assert!(Mark::take(&mark_path, 0o600).unwrap().is_some());
        // Never through a symbolic link.
        let link = d.path().join("link.log");
        std::os::unix::fs::symlink(&mark_path, &link).unwrap();
        assert!(Mark::take(&link, 0o600).is_err());
        assert!(!mark_held(&d.path().join("missing")));
    }
}
