//! `console`: the terminal attached to a running guest's pty console, as `virsh console` does.
//!
//! virtkit has no daemon to relay the console through, so the CLI opens the pty that the live
//! XML names (`<console>`/`<serial>` with `type='pty'`) itself. One client at a time holds it:
//! the client takes an exclusive `flock` on the pty; `--force` asks the holder (found in
//! `/proc/locks`) to let go with SIGTERM, which it handles like the escape key. The user's
//! terminal is put in raw mode for the session and restored when it ends, however it ends
//! (escape, end of input, guest gone, a signal, an error).

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use super::{
    BY_ANY, CmdDef, CmdResult, DOMAIN_HELP, Failure, Group, data, domain_arg, flag, named,
    xml_document,
};
use crate::ctl::Ctl;
use crate::parse::Args;

/// virsh's escape: Ctrl + ].
const ESCAPE: u8 = 0x1d;

/// How long `--force` waits for the holder to let go.
const TAKEOVER_WAIT: Duration = Duration::from_secs(10);

/// The pty of the device `devname` (`console0`, `serial1`, `parallel0`), or of the first
/// console (else the first serial port) without one.
fn pty_path(doc: &virtkit_xml::XmlDocument, devname: Option<&str>) -> Result<String, Failure> {
    let list = |kind: &'static str| doc.root().select(&["devices", kind]);
    let (label, dev) = match devname {
        Some(name) => {
            let split = name
                .find(|c: char| c.is_ascii_digit())
                .map(|i| name.split_at(i));
            let found = split.and_then(|(kind, n)| {
                let n: usize = n.parse().ok()?;
                let kind = match kind {
                    "console" => "console",
                    "serial" => "serial",
                    "parallel" => "parallel",
                    _ => return None,
                };
                list(kind).into_iter().nth(n)
            });
            let dev = found.ok_or_else(|| {
                Failure::msg(format!(
                    "internal error: character device {name} is not found"
                ))
            })?;
            (name.to_string(), dev)
        }
        None => {
            let dev = list("console")
                .into_iter()
                .next()
                .map(|d| ("console0", d))
                .or_else(|| list("serial").into_iter().next().map(|d| ("serial0", d)));
            let (label, dev) = dev.ok_or_else(|| {
                Failure::msg("internal error: cannot find a default console device")
            })?;
            (label.to_string(), dev)
        }
    };
    if dev.attr("type") != Some("pty") {
        return Err(Failure::msg(format!(
            "operation failed: character device {label} is not using a PTY"
        )));
    }
    let path = dev
        .child("source")
        .and_then(|s| s.attr("path"))
        .or_else(|| dev.attr("tty"))
        .filter(|p| !p.is_empty());
    path.map(str::to_string).ok_or_else(|| {
        Failure::msg(format!(
            "operation failed: character device {label} has no PTY allocated"
        ))
    })
}

/// Opens the pty: a character device that is a terminal, nothing else (the path comes from a
/// domain's XML), without becoming its controlling terminal.
fn open_pty(path: &str) -> Result<File, Failure> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc_flags())
        .open(path)
        .map_err(|e| {
            Failure::msg(format!(
                "operation failed: cannot open console {path}: {}",
                super::os_error_text(&e)
            ))
        })?;
    let is_char = f.metadata().is_ok_and(|m| m.file_type().is_char_device());
    if !is_char || !f.is_terminal() {
        return Err(Failure::msg(format!(
            "operation failed: console {path} is not a terminal"
        )));
    }
    Ok(f)
}

fn libc_flags() -> i32 {
    (nix::fcntl::OFlag::O_NOCTTY
        | nix::fcntl::OFlag::O_NOFOLLOW
        | nix::fcntl::OFlag::O_CLOEXEC
        | nix::fcntl::OFlag::O_NONBLOCK)
        .bits()
}

/// The pids that hold a `flock` on the file (device, inode) of `f`, from `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 00:19:3 0 EOF`).
fn lock_holders(f: &File) -> Vec<i32> {
    let Ok(m) = f.metadata() else {
        return Vec::new();
    };
    let dev = m.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{}", m.ino());
    let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("FLOCK"))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let at = w.iter().position(|x| *x == "FLOCK")?;
            let pid = w.get(at + 3)?.parse::<i32>().ok()?;
            let id = w.get(at + 4)?;
            // The kernel prints the major and minor in hex without a fixed width.
            let same = id
                .split(':')
                .map(|p| p.trim_start_matches('0'))
                .eq(want.split(':').map(|p| p.trim_start_matches('0')));
            same.then_some(pid)
        })
        .collect()
}

/// Takes the pty's lock; with `force`, asks its holder to go first.
fn lock_pty(f: File, force: bool) -> Result<Flock<File>, Failure> {
    let busy = || Failure::msg("operation failed: Active console session exists for this domain");
    let mut f = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => return Ok(l),
        Err((f, Errno::EWOULDBLOCK)) if force => f,
        Err((_, Errno::EWOULDBLOCK)) => return Err(busy()),
        Err((_, e)) => {
            return Err(Failure::msg(format!(
                "operation failed: cannot lock the console: {}",
                e.desc()
            )));
        }
    };
    let me = std::process::id() as i32;
    for pid in lock_holders(&f).into_iter().filter(|p| *p != me) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + TAKEOVER_WAIT;
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(l),
            Err((back, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                f = back;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return Err(busy()),
        }
    }
}

/// Puts a terminal in raw mode and puts the old mode back when dropped.
struct RawMode<'a> {
    fd: std::os::fd::BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    fn enter(fd: std::os::fd::BorrowedFd<'a>) -> nix::Result<RawMode<'a>> {
        let saved = tcgetattr(fd)?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        // TCSANOW, not TCSAFLUSH: input already typed is kept for the relay.
        tcsetattr(fd, SetArg::TCSANOW, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        // Output is drained first; input the relay did not read is left to the shell.
        let _ = tcsetattr(self.fd, SetArg::TCSADRAIN, &self.saved);
    }
}

/// Why a session ended.
enum End {
    Escape,
    Input,
    Guest,
    Signal(Signal),
}

pub(super) fn console(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_ANY)?;
    if matches!(dom.state()?.0, virtkit::DomainState::Shutoff) {
        return Err(Failure::msg("The domain is not running"));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::msg(
            "Cannot run interactive console without a controlling TTY",
        ));
    }
    let doc = xml_document(&dom, 0)?;
    let path = pty_path(&doc, args.get("devname"))?;
    // Signals that end the session arrive as data, so the terminal is always restored. They
    // are blocked before the pty's lock is taken: from then on a `--force` of another client
    // may send SIGTERM, which must not kill this one with the terminal raw.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| Failure::msg(format!("cannot block signals: {}", e.desc())))?;
    let end = session(&name, &path, args.flag("force"), &mask);
    let _ = mask.thread_unblock();
    match end? {
        End::Signal(Signal::SIGTERM) => {
            ctl.print_extra("Console taken over by another client or stopped\n");
            Ok(())
        }
        End::Escape | End::Input | End::Guest | End::Signal(_) => Ok(()),
    }
}

/// One session on the pty `path`, with the signals of `mask` blocked.
fn session(name: &str, path: &str, force: bool, mask: &SigSet) -> Result<End, Failure> {
    let sigfd = SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Failure::msg(format!("cannot watch signals: {}", e.desc())))?;
    let pty = lock_pty(open_pty(path)?, force)?;
    // The guest's side of the relay is raw too: no echo, no line editing, no CR/LF mapping.
    let mut guest_mode = tcgetattr(pty.as_fd())
        .map_err(|e| Failure::msg(format!("operation failed: console {path}: {}", e.desc())))?;
    cfmakeraw(&mut guest_mode);
    tcsetattr(pty.as_fd(), SetArg::TCSANOW, &guest_mode)
        .map_err(|e| Failure::msg(format!("operation failed: console {path}: {}", e.desc())))?;
    let stdin = std::io::stdin();
    // Raw before the greeting, and without discarding input: whatever the user types once the
    // greeting is on the screen (the escape key too) reaches the relay.
    let raw = RawMode::enter(stdin.as_fd())
        .map_err(|e| Failure::msg(format!("cannot set the terminal to raw mode: {}", e.desc())))?;
    let mut out = std::io::stdout().lock();
    // virsh's greeting (the terminal is raw: lines end in CR LF).
    let _ = write!(
        out,
        "Connected to domain '{name}'\r\nEscape character is ^] (Ctrl + ])\r\n"
    );
    let _ = out.flush();
    let end = relay(&pty, &sigfd, &mut out);
    drop(raw);
    let _ = writeln!(out);
    let _ = out.flush();
    end
}

/// At most this much of the user's input waits for the guest to take it; past it, input is
/// not read until the guest catches up.
const PENDING_CAP: usize = 64 << 10;

/// Copies the user's input to the pty (up to the escape byte) and the pty's output to the
/// user's terminal, until one of them ends or a signal comes. The pty is non-blocking, so a
/// guest that takes no input never holds the relay: the escape key, a signal and the guest's
/// end are noticed whatever the guest does.
fn relay(pty: &File, sigfd: &SignalFd, out: &mut impl Write) -> Result<End, Failure> {
    let stdin = std::io::stdin();
    let mut buf = [0u8; 4096];
    // The user's input the guest has not taken yet.
    let mut to_guest: Vec<u8> = Vec::new();
    let io = |e: std::io::Error| Failure::msg(format!("console I/O failed: {e}"));
    loop {
        let want_input = if to_guest.len() < PENDING_CAP {
            PollFlags::POLLIN
        } else {
            PollFlags::empty()
        };
        let guest_wants = if to_guest.is_empty() {
            PollFlags::POLLIN
        } else {
            PollFlags::POLLIN | PollFlags::POLLOUT
        };
        let mut fds = [
            PollFd::new(stdin.as_fd(), want_input),
            PollFd::new(pty.as_fd(), guest_wants),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Failure::msg(format!("console poll failed: {}", e.desc()))),
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let (user, guest, signal) = (ready(0), ready(1), ready(2));
        if signal.contains(PollFlags::POLLIN) {
            let sig = sigfd
                .read_signal()
                .ok()
                .flatten()
                .and_then(|s| Signal::try_from(s.ssi_signo as i32).ok())
                .unwrap_or(Signal::SIGTERM);
            return Ok(End::Signal(sig));
        }
        if guest.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(pty.as_raw_fd(), &mut buf) {
                // 0 or EIO: nothing holds the other side any more (QEMU is gone).
                Ok(0) | Err(Errno::EIO) => return Ok(End::Guest),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(io(e.into())),
                Ok(n) => {
                    out.write_all(&buf[..n]).map_err(io)?;
                    out.flush().map_err(io)?;
                }
            }
        }
        if user.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // Straight from the descriptor: std's buffered stdin could keep bytes that poll
            // then no longer reports.
            match nix::unistd::read(stdin.as_fd().as_raw_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => return Ok(End::Input),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(io(e.into())),
                Ok(n) => {
                    let data = &buf[..n];
                    if let Some(cut) = data.iter().position(|b| *b == ESCAPE) {
                        // What came before the escape still goes, as far as the guest takes it.
                        to_guest.extend_from_slice(&data[..cut]);
                        let _ = write_some(pty, &mut to_guest);
                        return Ok(End::Escape);
                    }
                    to_guest.extend_from_slice(data);
                }
            }
        }
        if !to_guest.is_empty() && write_some(pty, &mut to_guest).map_err(io)? {
            return Ok(End::Guest);
        }
    }
}

/// Writes what the non-blocking pty takes of `pending` and drops it from there; `Ok(true)` when
/// the guest's side is gone.
fn write_some(pty: &File, pending: &mut Vec<u8>) -> std::io::Result<bool> {
    while !pending.is_empty() {
        match nix::unistd::write(pty.as_fd(), pending) {
            Ok(0) | Err(Errno::EAGAIN) => break,
            Ok(n) => {
                pending.drain(..n);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EIO) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// `console`, a command of virsh's "Domain Management" group (listed by that group's table in
/// `domain.rs`).
pub(super) const CONSOLE: CmdDef = CmdDef {
    name: "console",
    group: Group::Domain,
    help: "connect to the guest console",
    desc: "Connect the virtual serial console for the guest",
    opts: &[
        data("domain", DOMAIN_HELP),
        named("devname", "character device name"),
        flag(
            "force",
            "force console connection (disconnect already connected sessions)",
        ),
    ],
    no_connect: false,
    hidden: false,
    run: console,
};
