//! The interactive shell on a real pseudo-terminal, typed at as a user types: Tab completes
//! command names (a list on the second Tab), domain names from the live connection, options and
//! file paths, and the completed line runs.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A shell running on the slave side of a pty; the test holds the master.
struct Shell {
    child: Child,
    master: std::fs::File,
    seen: String,
}

impl Shell {
    fn start(uri: &str) -> Shell {
        let size = nix::pty::Winsize {
            ws_row: 40,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let mut c = base_command(&virtkit_bin());
        c.env("VIRTKIT_DRIVER_DIR", plugin_dir())
            .env("TERM", "xterm")
            .env("HOME", std::env::temp_dir())
            .env("XDG_CACHE_HOME", tempfile::tempdir().unwrap().keep())
            .args(["-c", uri])
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        let child = c.spawn().expect("spawn virtkit");
        let master = std::fs::File::from(pty.master);
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut s = Shell {
            child,
            master,
            seen: String::new(),
        };
        s.expect("virtkit # ");
        s
    }

    fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Reads until `what` has appeared in the output since the last expectation; panics with
    /// what was seen if the shell stops producing it (a hang guard, not a timing assertion).
    fn expect(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.seen.find(what) {
                let upto = self.seen[..i + what.len()].to_string();
                self.seen.drain(..i + what.len());
                return upto;
            }
            assert!(
                Instant::now() < deadline,
                "the shell never printed {what:?}; it printed:\n{:?}",
                self.seen
            );
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let fd = self.master.as_fd();
                    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
                    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
                }
                // EIO: the slave side is closed (the shell exited).
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tab_completes_commands_names_options_and_files() {
    let mut sh = Shell::start("test:///default");

    // A unique prefix completes in place, and the completed line runs.
    sh.send("dominfo te\t");
    sh.expect("dominfo test");
    sh.send("\r");
    let out = sh.expect("virtkit # ");
    assert!(out.contains("Name:           test"), "{out}");

    // An ambiguous prefix: the first Tab completes nothing more, the second lists the commands.
    sh.send("domi\t\t");
    // The list, then the prompt and the line again.
    let out = sh.expect("domid");
    let out = out + &sh.expect("virtkit # domi");
    for c in ["domid", "domiflist", "dominfo"] {
        assert!(out.contains(c), "{c} not listed: {out:?}");
    }
    assert!(!out.contains("domstate"), "{out:?}");
    sh.send("\x15"); // kill the line

    // `suspend` offers running domains, and the option names complete.
    sh.send("suspend t\t");
    sh.expect("suspend test");
    sh.send("\x15list --ina\t");
    sh.expect("list --inactive");
    sh.send("\x15");

    // File arguments complete to paths.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guest-one.xml"), DOMAIN_XML).unwrap();
    let typed = format!("define {}/guest-o\t", dir.path().display());
    sh.send(&typed);
    sh.expect("guest-one.xml");
    sh.send("\r");
    let out = sh.expect("virtkit # ");
    assert!(out.contains("Domain 'vm1' defined from"), "{out}");

    // The newly defined, inactive domain is what `start` offers now.
    sh.send("start v\t");
    sh.expect("start vm1");
    sh.send("\r");
    let out = sh.expect("virtkit # ");
    assert!(out.contains("Domain 'vm1' started"), "{out}");

    sh.send("quit\r");
    let status = sh.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
