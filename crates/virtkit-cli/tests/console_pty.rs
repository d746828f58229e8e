//! `virtkit console`'s refusals, on a real pseudo-terminal (the user's terminal is a pty pair
//! whose slave is the console's stdin, stdout and stderr). The test driver forgets pty paths
//! as libvirt's does, so the relay itself is tested against a real QEMU guest in
//! `plugins/qemu/tests/console.rs`.

mod common;

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::termios::{LocalFlags, tcgetattr};

/// A pty pair; `master` is non-blocking.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
    path: String,
}

fn pty() -> Pty {
    let p = nix::pty::openpty(None, None).expect("openpty");
    let master = std::fs::File::from(p.master);
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&master),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let slave = std::fs::File::from(p.slave);
    let path = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&slave)
    ))
    .unwrap()
    .display()
    .to_string();
    Pty {
        master,
        slave,
        path,
    }
}

/// Reads from a pty master until `what` has been seen (a hang guard, not a timing check).
fn expect(master: &mut std::fs::File, seen: &mut Vec<u8>, what: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(i) = seen.windows(what.len()).position(|w| w == what) {
            seen.drain(..i + what.len());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {:?}; saw {:?}",
            String::from_utf8_lossy(what),
            String::from_utf8_lossy(seen)
        );
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => {
                let mut fds = [nix::poll::PollFd::new(
                    master.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            }
        }
    }
}

fn node(dir: &std::path::Path, guest_pty: &str) -> String {
    let xml = format!(
        "<node><domain type='test'><name>con</name><memory>65536</memory>\
         <os><type>hvm</type></os><devices>\
         <serial type='pty'><source path='{guest_pty}'/><target port='0'/></serial>\
         <serial type='null'><target port='1'/></serial>\
         </devices></domain></node>"
    );
    write_file(dir, "node.xml", &xml)
}

/// `virtkit console` on the user pty `user`, for the node file `node`.
fn console(node: &str, user: &Pty, extra: &[&str]) -> Child {
    let mut c = base_command(&virtkit_bin());
    c.env("VIRTKIT_DRIVER_DIR", plugin_dir())
        .args(["-c", &format!("test://{node}"), "console", "con"])
        .args(extra)
        .stdin(Stdio::from(user.slave.try_clone().unwrap()))
        .stdout(Stdio::from(user.slave.try_clone().unwrap()))
        .stderr(Stdio::from(user.slave.try_clone().unwrap()));
    c.spawn().expect("spawn virtkit console")
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("virtkit console did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn echo_on(user: &Pty) -> bool {
    tcgetattr(user.slave.as_fd())
        .unwrap()
        .local_flags
        .contains(LocalFlags::ECHO | LocalFlags::ICANON)
}

#[test]
fn bad_console_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let guest = pty();
    let node = node(dir.path(), &guest.path);
    for (args, msg) in [
        (&[][..], "character device serial0 has no PTY allocated"),
        (
            &["--devname", "serial1"][..],
            "character device serial1 is not using a PTY",
        ),
        (
            &["--devname", "serial7"][..],
            "character device serial7 is not found",
        ),
        (
            &["--devname", "bogus"][..],
            "character device bogus is not found",
        ),
    ] {
        let mut user = pty();
        let mut child = console(&node, &user, args);
        let mut seen = Vec::new();
        expect(&mut user.master, &mut seen, msg.as_bytes());
        assert!(!wait(&mut child).success());
        assert!(
            echo_on(&user),
            "a refused console leaves the terminal as it was"
        );
    }
    // Without a terminal.
    let out = virtkit(&["-c", &format!("test://{node}"), "console", "con"]);
    assert!(
        out.stderr
            .contains("Cannot run interactive console without a controlling TTY"),
        "{}",
        out.stderr
    );
}
