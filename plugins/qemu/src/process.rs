//! QEMU processes: spawning a daemonizing QEMU, telling whether a pid is still our QEMU, stopping
//! it, and reading its CPU time from /proc.

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use virtkit_hostio::{Mark, OpenMode};

use crate::argv::QemuCommand;
use crate::qmp::{DEFAULT_TIMEOUT, Qmp, QmpError};

/// The fields of `/proc/<pid>/stat` after the command name (which may contain spaces and
/// parentheses, so it is skipped up to the last `)`): index 0 is the state (field 3).
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    pid > 0
        && stat_fields(&format!("/proc/{pid}/stat"))
            .is_some_and(|f| !matches!(f.first().map(String::as_str), Some("Z" | "X" | "x")))
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64
}

/// CPU time (user + system) of a process or thread from a `stat` file, in nanoseconds, and the
/// CPU it last ran on.
fn cpu_of(path: &str) -> Option<(u64, i32)> {
    let f = stat_fields(path)?;
    // Fields 14 and 15 (utime, stime) are at 11 and 12 here; field 39 (processor) at 36.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let cpu = f.get(36).and_then(|c| c.parse().ok()).unwrap_or(-1);
    Some((ticks.saturating_mul(1_000_000_000) / clock_ticks(), cpu))
}

/// CPU time of a whole process, in nanoseconds.
pub fn process_cpu_ns(pid: i32) -> u64 {
    cpu_of(&format!("/proc/{pid}/stat"))
        .map(|c| c.0)
        .unwrap_or(0)
}

/// CPU time and last CPU of one thread of a process.
pub fn thread_cpu(pid: i32, tid: i32) -> (u64, i32) {
    cpu_of(&format!("/proc/{pid}/task/{tid}/stat")).unwrap_or((0, -1))
}

/// Thread ids of a process.
pub fn threads(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The binary could not be executed.
    #[error("cannot run QEMU: {0}")]
    Exec(#[source] std::io::Error),
    /// QEMU exited (or closed its monitor) during set-up; the message is the end of its log.
    #[error("QEMU stopped while setting the guest up: {0}")]
    Failed(String),
    /// QEMU did not finish setting up in time (it was killed).
    #[error("QEMU did not set the guest up in time")]
    Timeout,
}

/// Writes the command line to the log (held as `mark`), and returns the log's length after it.
fn log_command(cmd: &QemuCommand, mark: &Mark) -> std::io::Result<u64> {
    use std::io::Write;
    let mut file = mark.file();
    writeln!(file, "{}", cmd.to_line())?;
    file.seek(SeekFrom::End(0))
}

/// Starts QEMU as a child of this process in a process group of its own (so that a terminal's
/// signals to this process do not reach it, and it keeps running when this process exits).
/// Its stdout and stderr are the log held as `mark`, after a line with the command: QEMU shares
/// the log's lock from the instant it exists, so a QEMU whose starter dies before recording it
/// is still known to exist (see [`virtkit_hostio::Mark`]).
///
/// The returned guard kills QEMU when dropped; [`StartingGuest::started`] lets it run.
pub fn spawn(cmd: &QemuCommand, mark: &Mark) -> Result<(StartingGuest, u64), SpawnError> {
    let start_len = log_command(cmd, mark).map_err(SpawnError::Exec)?;
    let out = mark
        .share()
        .map_err(|e| SpawnError::Exec(std::io::Error::other(e.to_string())))?;
    let err = mark
        .share()
        .map_err(|e| SpawnError::Exec(std::io::Error::other(e.to_string())))?;
    let mut c = Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let child = c.spawn().map_err(SpawnError::Exec)?;
    Ok((StartingGuest::new(child), start_len))
}

/// Waits until the QMP monitor of a spawned QEMU answers (greeting and capability
/// negotiation), which QEMU does once the guest is set up. On failure the guest is killed.
pub fn wait_monitor(
    guest: &mut StartingGuest,
    log: &Path,
    start_len: u64,
    qmp: &Path,
    timeout: Duration,
) -> Result<Qmp, SpawnError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    let Some(child) = guest.0.as_mut() else {
        return Err(SpawnError::Failed("QEMU is gone".into()));
    };
    let failed = |child: &mut Child| {
        let _ = child.kill();
        let _ = child.wait();
        SpawnError::Failed(log_since(log, start_len))
    };
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return Err(SpawnError::Failed(log_since(log, start_len)));
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        match Qmp::connect(qmp, left) {
            Ok(mut q) => {
                if q.set_timeout(DEFAULT_TIMEOUT).is_err() {
                    return Err(failed(child));
                }
                return Ok(q);
            }
            // Not listening yet.
            Err(QmpError::Io(e))
                if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {}
            Err(QmpError::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpawnError::Timeout);
            }
            // QEMU closed the monitor during set-up: it is failing.
            Err(_) => {
                let _ = child.wait_timeout_quiet(Duration::from_secs(2));
                return Err(failed(child));
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SpawnError::Timeout);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_micros(250));
    }
}

trait WaitQuiet {
    fn wait_timeout_quiet(&mut self, t: Duration) -> bool;
}

impl WaitQuiet for Child {
    /// Waits up to `t` for the child to exit on its own.
    fn wait_timeout_quiet(&mut self, t: Duration) -> bool {
        let deadline = Instant::now() + t;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }
}

/// A QEMU being set up. Dropping it (an error, or a panic, before [`StartingGuest::started`])
/// kills and reaps QEMU, so a failed start never leaves a guest that no state file names.
pub struct StartingGuest(Option<Child>);

impl StartingGuest {
    /// Guards `child`.
    pub fn new(child: Child) -> StartingGuest {
        StartingGuest(Some(child))
    }

    /// QEMU's pid.
    pub fn pid(&self) -> i32 {
        self.0.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// The guest is set up and recorded: let it run (reaped in the background).
    pub fn started(mut self) {
        if let Some(child) = self.0.take() {
            reap_in_background(child);
        }
    }
}

impl Drop for StartingGuest {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for a guest's QEMU on a background thread, so that it is reaped when it exits while
/// this process runs (when this process exits first, QEMU carries on and init adopts it).
pub fn reap_in_background(mut child: Child) {
    let spawned = std::thread::Builder::new()
        .name(format!("qemu-{}", child.id()))
        .spawn(move || {
            let _ = child.wait();
        });
    // Without a thread the child is reaped at the next chance the kernel gives: never fatal.
    drop(spawned);
}

/// The text a log gained after `offset`, trimmed, at most 2 KiB from its end.
pub fn log_since(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = virtkit_hostio::open_nofollow(log, OpenMode::Read, 0o600) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(offset.max(len.saturating_sub(64 << 10))));
        let _ = (&mut f).take(64 << 10).read_to_string(&mut text);
    }
    let t = text.trim();
    let start = t.len().saturating_sub(2048);
    let start = (start..t.len())
        .find(|i| t.is_char_boundary(*i))
        .unwrap_or(t.len());
    t[start..].to_string()
}

/// Waits until `pid` is gone (or a zombie), up to `timeout`.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        if !is_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// SIGTERM, then SIGKILL if the process lingers. Returns whether it is gone.
pub fn terminate(pid: i32, grace: Duration) -> bool {
    if !is_alive(pid) {
        return true;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    if wait_gone(pid, grace) {
        return true;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    wait_gone(pid, Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_has_cpu_time() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        assert!(!is_alive(0));
        assert!(!threads(me).is_empty());
        // Burn CPU until the kernel's tick-based counter moves past zero.
        let t = Instant::now();
        let mut x = 0u64;
        while process_cpu_ns(me) == 0 && t.elapsed() < Duration::from_secs(10) {
            for _ in 0..1_000_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
        }
        assert!(x != 1);
        assert!(process_cpu_ns(me) > 0);
    }

    #[test]
    fn a_failing_start_reports_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let sock = dir.path().join("x.qmp");
        let cmd = QemuCommand {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo boom >&2; exit 3".into(),
            ],
            ..Default::default()
        };
        let start = |cmd: &QemuCommand, timeout| {
            let mark = Mark::take(&log, 0o600).unwrap().unwrap();
            let (mut guest, len) = spawn(cmd, &mark).unwrap();
            wait_monitor(&mut guest, &log, len, &sock, timeout).map(|_| ())
        };
        match start(&cmd, Duration::from_secs(10)) {
            Err(SpawnError::Failed(m)) => assert_eq!(m, "boom"),
            other => panic!("{other:?}"),
        }
        let cmd = QemuCommand {
            argv: vec!["/bin/sleep".into(), "5".into()],
            ..Default::default()
        };
        let t = Instant::now();
        assert!(matches!(
            start(&cmd, Duration::from_millis(100)),
            Err(SpawnError::Timeout)
        ));
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "the child was killed, not waited for"
        );
        // Nothing holds the log any more.
        assert!(!virtkit_hostio::mark_held(&log));
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .starts_with("/bin/sh -c 'echo boom")
        );
    }
}
