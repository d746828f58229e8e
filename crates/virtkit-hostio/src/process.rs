//! Running a helper program on a user's behalf: shell-free, bounded in time and in output.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::{Error, Result};

/// What a program run by [`run_bounded`] left behind.
#[derive(Clone, Debug)]
pub struct Captured {
    /// How it exited.
    pub status: ExitStatus,
    /// Standard output, at most the cap.
    pub stdout: Vec<u8>,
    /// Standard error, at most the cap.
    pub stderr: Vec<u8>,
    /// Set when either stream was longer than the cap (the rest was read and dropped).
    pub truncated: bool,
}

fn reader(
    mut stream: impl Read + Send + 'static,
    cap: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        let mut truncated = false;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        (kept, truncated)
    })
}

fn kill_group(child: &Child) {
    // The child leads its own process group: whatever it started goes with it.
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Runs `cmd` (no shell: the program and its argv as given) with standard input closed, in a
/// process group of its own, and waits at most `timeout` for it. Standard output and error are
/// each kept up to `cap` bytes. When the program has not exited in time, its whole process group
/// is killed and reaped, and the answer is [`Error::TimedOut`]; once it has exited, anything it
/// left running in its group is killed too, so nothing outlives the call.
pub fn run_bounded(cmd: &mut Command, timeout: Duration, cap: usize) -> Result<Captured> {
    let program = std::path::PathBuf::from(cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("run", &program, e))?;
    let out = child.stdout.take().map(|s| reader(s, cap));
    let err = child.stderr.take().map(|s| reader(s, cap));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                kill_group(&child);
                let _ = child.wait();
                return Err(Error::io("wait for", &program, e));
            }
        }
    };
    kill_group(&child);
    if status.is_none() {
        let _ = child.wait();
    }
    let collect = |h: Option<std::thread::JoinHandle<(Vec<u8>, bool)>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (stdout, t1) = collect(out);
    let (stderr, t2) = collect(err);
    match status {
        Some(status) => Ok(Captured {
            status,
            stdout,
            stderr,
            truncated: t1 || t2,
        }),
        None => Err(Error::TimedOut { program, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status() {
        let c = run_bounded(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(20),
            1024,
        )
        .unwrap();
        assert_eq!(c.status.code(), Some(3));
        assert_eq!(c.stdout, b"out\n");
        assert_eq!(c.stderr, b"err\n");
        assert!(!c.truncated);
    }

    #[test]
    fn output_is_capped() {
        let c = run_bounded(
            Command::new("sh").args(["-c", "head -c 100000 /dev/zero"]),
            Duration::from_secs(20),
            100,
        )
        .unwrap();
        assert_eq!(c.stdout.len(), 100);
        assert!(c.truncated);
        assert!(c.status.success());
    }

    #[test]
    fn a_hung_program_is_killed_with_its_children() {
        let e = run_bounded(
            Command::new("sh").args(["-c", "sleep 60 & sleep 60"]),
            Duration::from_millis(200),
            100,
        )
        .unwrap_err();
        assert!(matches!(e, Error::TimedOut { .. }), "{e}");
        assert!(e.to_string().contains("sh"), "{e}");
    }

    #[test]
    fn a_missing_program_names_itself() {
        let e = run_bounded(
            &mut Command::new("/nonexistent/virtkit-tool"),
            Duration::from_secs(1),
            100,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/virtkit-tool"), "{e}");
    }
}
