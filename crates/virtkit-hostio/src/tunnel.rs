//! A long-running helper program that carries a connection on its standard input and output
//! (`ssh host command`, `nc -U socket`): one end of a socket pair is the child's stdin and
//! stdout, the other is the caller's stream; its stderr is kept, capped, for error messages.

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Error, Result};

/// What the stderr reader has kept: the last `cap` bytes, and whether it reached the end.
#[derive(Default)]
struct Kept {
    bytes: VecDeque<u8>,
    dropped: bool,
    done: bool,
}

type Shared = Arc<(Mutex<Kept>, Condvar)>;

/// A child program whose standard input and output are one end of a socket pair.
///
/// The child is owned from the moment it exists: [`Tunnel::stop`] (and dropping the tunnel)
/// ends the caller's end of the stream, gives the child a grace period to exit on its own
/// (it sees end-of-file, as `ssh` does when its session is over), then sends SIGTERM and at
/// last SIGKILL, and always reaps it. If the caller's process dies instead, the kernel closes
/// the socket pair and the child sees end-of-file just the same. The child stays in the
/// caller's process group, so that a program such as `ssh` can still ask for a password on
/// the terminal.
pub struct Tunnel {
    program: PathBuf,
    child: Child,
    status: Option<ExitStatus>,
    stream: Option<UnixStream>,
    stderr: Shared,
}

impl Tunnel {
    /// Starts `cmd` (no shell: the program and its argv as given) with one end of a new socket
    /// pair as its standard input and output, and its standard error read into a buffer that
    /// keeps the last `stderr_cap` bytes (the rest is read and dropped, so the child never
    /// blocks on it).
    pub fn spawn(cmd: &mut Command, stderr_cap: usize) -> Result<Tunnel> {
        let program = PathBuf::from(cmd.get_program());
        let io = |e| Error::io("run", &program, e);
        let (ours, theirs) = UnixStream::pair().map_err(io)?;
        let theirs_out: OwnedFd = theirs.try_clone().map_err(io)?.into();
        let theirs_in: OwnedFd = theirs.into();
        let mut child = cmd
            .stdin(Stdio::from(theirs_in))
            .stdout(Stdio::from(theirs_out))
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io)?;
        // `cmd` still holds the child's ends until it is dropped or reused: the caller's
        // Command is left with fresh null descriptors so that ours is the only one kept.
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let stderr: Shared = Arc::default();
        if let Some(pipe) = child.stderr.take() {
            let shared = Arc::clone(&stderr);
            let spawned = std::thread::Builder::new()
                .name("tunnel-stderr".into())
                .spawn(move || keep_tail(pipe, stderr_cap, &shared));
            if let Err(e) = spawned {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::io("watch the error output of", &program, e));
            }
        }
        Ok(Tunnel {
            program,
            child,
            status: None,
            stream: Some(ours),
            stderr,
        })
    }

    /// The caller's end of the stream, until [`Tunnel::stop`].
    pub fn stream(&self) -> Option<&UnixStream> {
        self.stream.as_ref()
    }

    /// The program's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The program's name as it was started.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// How the program exited, once it has (reaped on the way); `None` while it runs.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits at most `timeout` for the program to exit by itself; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if started.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the program wrote on its standard error so far (the last bytes up to the cap,
    /// lossily decoded, trimmed), after waiting at most `timeout` for it to close its standard
    /// error (it does when it exits).
    pub fn stderr_text(&self, timeout: Duration) -> String {
        let (lock, ready) = &*self.stderr;
        let mut kept = lock.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + timeout;
        while !kept.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            kept = ready
                .wait_timeout(kept, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let (a, b) = kept.bytes.as_slices();
        let mut text = String::from_utf8_lossy(&[a, b].concat()).trim().to_string();
        if kept.dropped {
            text.insert_str(0, "... ");
        }
        text
    }

    /// Ends the caller's end of the stream, gives the program `grace` to exit, then SIGTERM
    /// and `grace` again, then SIGKILL; reaps it. Its exit status (`None` only when waiting
    /// failed). Calling it again answers the same.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(s) = self.wait_exit(grace) {
            return Some(s);
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        if let Some(s) = self.wait_exit(grace) {
            return Some(s);
        }
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.status
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

/// Reads `pipe` to its end, keeping the last `cap` bytes in `shared`.
fn keep_tail(mut pipe: impl Read, cap: usize, shared: &Shared) {
    let (lock, ready) = &**shared;
    let mut buf = [0u8; 4096];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut kept = lock.lock().unwrap_or_else(|p| p.into_inner());
        kept.bytes.extend(&buf[..n]);
        if kept.bytes.len() > cap {
            let extra = kept.bytes.len() - cap;
            kept.bytes.drain(..extra);
            kept.dropped = true;
        }
    }
    lock.lock().unwrap_or_else(|p| p.into_inner()).done = true;
    ready.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn alive(pid: u32) -> bool {
        // A reaped child's /proc entry is gone; a zombie's says state Z.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }

    #[test]
    fn the_stream_reaches_the_program_and_back() {
        let mut t = Tunnel::spawn(Command::new("cat").arg("-u"), 100).unwrap();
        let mut s = t.stream().unwrap().try_clone().unwrap();
        s.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        drop(s);
        let pid = t.id();
        // cat exits on end-of-file, within the grace period.
        let status = t.stop(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "{status}");
        assert!(!alive(pid));
    }

    #[test]
    fn stderr_is_kept_capped_to_its_last_bytes() {
        let mut t = Tunnel::spawn(
            Command::new("sh").args(["-c", "head -c 10000 /dev/zero | tr '\\0' x >&2; echo 'Permission denied (publickey).' >&2; exit 255"]),
            64,
        )
        .unwrap();
        let status = t.wait_exit(Duration::from_secs(20)).unwrap();
        assert_eq!(status.code(), Some(255));
        let text = t.stderr_text(Duration::from_secs(10));
        assert!(text.starts_with("... "), "{text}");
        assert!(text.ends_with("Permission denied (publickey)."), "{text}");
        assert!(text.len() <= 64 + 4, "{}", text.len());
    }

    #[test]
    fn a_program_that_ignores_end_of_file_is_terminated_and_reaped() {
        // `sleep` never reads its input: only SIGTERM ends it.
        let mut t = Tunnel::spawn(Command::new("sleep").arg("60"), 100).unwrap();
        let pid = t.id();
        let status = t.stop(Duration::from_millis(100)).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(15)
        );
        assert!(!alive(pid));
    }

    #[test]
    fn a_program_that_ignores_sigterm_is_killed() {
        // An ignored signal stays ignored across exec: this sleep outlives SIGTERM.
        let mut t = Tunnel::spawn(
            Command::new("sh").args(["-c", "trap '' TERM; exec sleep 60"]),
            100,
        )
        .unwrap();
        let pid = t.id();
        let status = t.stop(Duration::from_millis(100)).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(!alive(pid));
    }

    #[test]
    fn dropping_the_tunnel_reaps_the_program() {
        let t = Tunnel::spawn(&mut Command::new("cat"), 100).unwrap();
        let pid = t.id();
        assert!(alive(pid));
        drop(t);
        assert!(!alive(pid));
    }

    #[test]
    fn a_missing_program_names_itself() {
        let e = Tunnel::spawn(&mut Command::new("/nonexistent/virtkit-ssh"), 100)
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/virtkit-ssh"), "{e}");
    }
}
