//! `virtkit console` against a real TCG guest. The guest is a 512-byte boot sector that prints
//! `login: ` on COM1 (QEMU drops it when no one has the pty open yet, so the test does not count
//! on it) and then echoes every byte it receives there, so both directions go
//! through QEMU's own pty. The user's terminal is a pty pair the test holds: its slave is the
//! console's stdin, stdout and stderr. Without QEMU each test reports a skip (a failure
//! under CI) and returns.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, guest_xml, have_qemu, virtkit};
use nix::sys::termios::{LocalFlags, tcgetattr};

/// Real-mode x86, loaded by the BIOS at 0x7c00 (assembled with GNU as from):
/// ```text
///   xor %ax,%ax; mov %ax,%ds; mov $0x7c21,%si; mov $0x3f8,%dx
/// 1: lodsb; or %al,%al; jz 2f; out %al,%dx; jmp 1b          # print "login: "
/// 2: mov $0x3fd,%dx
/// 3: in %dx,%al; test $1,%al; jz 3b                          # wait for a received byte
///   mov $0x3f8,%dx; in %dx,%al; out %al,%dx; jmp 2b          # echo it
/// msg: .asciz "login: "
/// ```
const ECHO_BOOT_SECTOR: &[u8] = &[
    0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x21, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x08, 0xc0, 0x74, 0x03, 0xee,
    0xeb, 0xf8, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0xba, 0xf8, 0x03, 0xec, 0xee, 0xeb,
    0xf1, b'l', b'o', b'g', b'i', b'n', b':', b' ', 0x00,
];

/// A pty pair; the master is non-blocking.
struct Terminal {
    master: std::fs::File,
    slave: std::fs::File,
    seen: Vec<u8>,
}

impl Terminal {
    fn new() -> Terminal {
        let p = nix::pty::openpty(None, None).expect("openpty");
        let master = std::fs::File::from(p.master);
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        Terminal {
            master,
            slave: std::fs::File::from(p.slave),
            seen: Vec::new(),
        }
    }

    /// Reads until `what` has appeared (a hang guard, not a timing check).
    fn expect(&mut self, what: &str) {
        assert!(
            self.seen_within(what, Duration::from_secs(60)),
            "never saw {what:?}; saw {:?}",
            String::from_utf8_lossy(&self.seen)
        );
    }

    /// Reads until `what` has appeared or `limit` has passed.
    fn seen_within(&mut self, what: &str, limit: Duration) -> bool {
        let what = what.as_bytes();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(i) = self.seen.windows(what.len()).position(|w| w == what) {
                self.seen.drain(..i + what.len());
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.seen.extend_from_slice(&buf[..n]),
                _ => {
                    let mut fds = [nix::poll::PollFd::new(
                        self.master.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
                }
            }
        }
    }

    /// Reads and drops whatever the terminal has to read now.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while matches!(self.master.read(&mut buf), Ok(n) if n > 0) {}
        self.seen.clear();
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Canonical mode with echo: what a shell leaves a terminal in.
    fn cooked(&self) -> bool {
        tcgetattr(self.slave.as_fd())
            .unwrap()
            .local_flags
            .contains(LocalFlags::ECHO | LocalFlags::ICANON)
    }
}

/// `virtkit console NAME EXTRA...` on the terminal `t`.
struct Console(Child);

impl Console {
    fn start(sb: &Sandbox, t: &Terminal, extra: &[&str]) -> Console {
        let mut args = vec!["console", "echo"];
        args.extend_from_slice(extra);
        let child = virtkit(&sb.uri(), &args)
            .stdin(Stdio::from(t.slave.try_clone().unwrap()))
            .stdout(Stdio::from(t.slave.try_clone().unwrap()))
            .stderr(Stdio::from(t.slave.try_clone().unwrap()))
            .spawn()
            .expect("spawn virtkit console");
        Console(child)
    }

    fn wait(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s.success();
            }
            assert!(Instant::now() < deadline, "virtkit console did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn echo_guest(sb: &Sandbox) {
    let img = sb.dir.path().join("boot.img");
    let mut sector = vec![0u8; 512];
    sector[..ECHO_BOOT_SECTOR.len()].copy_from_slice(ECHO_BOOT_SECTOR);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    std::fs::write(&img, &sector).unwrap();
    let xml = guest_xml("echo").replace(
        "</os>",
        &format!(
            "<boot dev='hd'/></os><devices><disk type='file' device='disk'><source file='{}'/>\
             <target dev='hda' bus='ide'/></disk><serial type='pty'><target port='0'/></serial>\
             <console type='pty'><target type='serial' port='0'/></console></devices>",
            img.display()
        ),
    );
    let xml_path = sb.dir.path().join("echo.xml");
    std::fs::write(&xml_path, xml).unwrap();
    let out = virtkit(&sb.uri(), &["create", xml_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn console_reaches_the_guest_and_back() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    echo_guest(&sb);

    let mut user = Terminal::new();
    assert!(user.cooked());
    let mut con = Console::start(&sb, &user, &[]);
    user.expect("Connected to domain 'echo'");
    user.expect("Escape character is ^] (Ctrl + ])");
    // QEMU drops what the guest writes while no one has the pty open, and the guest may still be
    // in its BIOS: a probe byte goes out until the guest echoes one back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        user.send(b".");
        if user.seen_within(".", Duration::from_millis(300)) {
            break;
        }
        assert!(Instant::now() < deadline, "the guest never echoed");
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = user.seen_within("\u{0}", Duration::from_millis(100));
    user.seen.clear();
    assert!(!user.cooked(), "the terminal is raw while connected");
    // User → guest → user: the guest echoes, the terminal does not (raw), CR stays CR.
    user.send(b"root\r");
    user.expect("root\r");
    user.send(b"\x1d");
    assert!(con.wait(), "^] ends the session successfully");
    assert!(user.cooked(), "the terminal mode is restored after ^]");

    // Typed before the session is set up (the terminal still cooked): nothing is lost when the
    // terminal goes raw, so the escape ends it (an earlier version flushed such input, and a
    // user's ^] sent right after the greeting was dropped now and then).
    user.send(b"\x1d");
    let mut early = Console::start(&sb, &user, &[]);
    assert!(early.wait(), "a ^] typed ahead ends the session");
    assert!(user.cooked());
    // Everything it printed is read and dropped (it has exited), so that the next session's
    // greeting is not mistaken for its.
    user.drain();

    // Another client holds the console: refused, then taken over with --force.
    let mut first_user = Terminal::new();
    let mut first = Console::start(&sb, &first_user, &[]);
    first_user.expect("Escape character");
    let mut second_user = Terminal::new();
    let mut second = Console::start(&sb, &second_user, &[]);
    second_user.expect("Active console session exists for this domain");
    assert!(!second.wait());
    assert!(second_user.cooked());
    let mut third = Console::start(&sb, &second_user, &["--force"]);
    second_user.expect("Escape character");
    assert!(first.wait());
    first_user.expect("Console taken over by another client");
    assert!(
        first_user.cooked(),
        "the displaced client restored its terminal"
    );
    second_user.send(b"hi");
    second_user.expect("hi");
    second_user.send(b"\x1d");
    assert!(third.wait());

    // The guest going away ends the session too, and the terminal is restored.
    let mut last = Console::start(&sb, &user, &[]);
    user.expect("Escape character");
    let out = virtkit(&sb.uri(), &["destroy", "echo"]).output().unwrap();
    assert!(out.status.success());
    let ended = last.wait();
    let _ = user.seen_within("\u{0}", Duration::from_millis(200));
    assert!(
        ended,
        "the guest's end ends the session successfully; the terminal showed {:?}",
        String::from_utf8_lossy(&user.seen)
    );
    assert!(user.cooked());
}
