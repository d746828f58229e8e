//! A real QEMU guest through Debian's virsh and virtkitd: `virsh -c
//! 'qemu+unix:///session?socket=…'` defines, starts (TCG, 64 MiB, no disk), queries, destroys
//! and undefines a guest of the qemu driver that virtkitd opens for it, on a session root of
//! the test's own (`VIRTKIT_QEMU_ROOT` in the daemon's environment, as the qemu driver's tests
//! sandbox `qemu:///session`). The guest's QEMU is checked in /proc while it runs and after it
//! is destroyed; whatever happens, no QEMU of the sandbox outlives the test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

const NAME: &str = "vkd-session1";

/// The session root; dropping it kills any QEMU whose command line names it (a failed
/// assertion must not leak a guest), then removes it.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        // Short: QMP sockets live under it (unix socket paths are limited to 107 bytes).
        Root {
            dir: tempfile::Builder::new()
                .prefix("vkds")
                .tempdir_in("/tmp")
                .expect("temp dir"),
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("session/run")
    }

    /// The pid QEMU wrote for the guest.
    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_dir().join(format!("{NAME}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// QEMU processes whose command line names this root.
    fn qemus(&self) -> Vec<i32> {
        let marker = self.dir.path().display().to_string();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains("qemu-system") && cmd.contains(&marker) && alive(pid) {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        for pid in self.qemus() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            wait_gone(pid, Duration::from_secs(5));
        }
    }
}

/// Whether `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !matches!(
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(_) => false,
    }
}

fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let t = Instant::now();
    while alive(pid) {
        if t.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn a_session_guest_is_started_and_destroyed_through_virsh_and_virtkitd() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    if virtkit_test_support::find(&virtkit_test_support::QEMU).is_none() {
        return;
    }
    let root = Root::new();
    let daemon = Virtkitd::start_serving("qemu", &[], &[("VIRTKIT_QEMU_ROOT", root.dir.path())]);
    let uri = format!("qemu+unix:///session?socket={}", daemon.socket.display());
    let virsh = |args: &[&str]| -> Run {
        let mut all = vec!["-c", uri.as_str()];
        all.extend_from_slice(args);
        run(&virsh, &all)
    };
    let ok = |args: &[&str]| -> String {
        let r = virsh(args);
        assert_eq!(
            r.code,
            0,
            "virsh {args:?} failed: {}{}\nvirtkitd's log:\n{}",
            r.stdout,
            r.stderr,
            daemon.log_text()
        );
        r.stdout
    };

    let xml = root.dir.path().join("guest.xml");
    std::fs::write(
        &xml,
        format!(
            "<domain type='qemu'><name>{NAME}</name><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
        ),
    )
    .unwrap();
    let xml = xml.display().to_string();
    assert_eq!(
        ok(&["define", &xml]),
        format!("Domain '{NAME}' defined from {xml}\n\n")
    );
    assert!(
        root.dir
            .path()
            .join(format!("session/config/{NAME}.xml"))
            .is_file(),
        "the definition is kept under the sandboxed session root"
    );
    assert_eq!(ok(&["domstate", NAME]), "shut off\n\n");
    assert_eq!(ok(&["start", NAME]), format!("Domain '{NAME}' started\n\n"));
    assert_eq!(ok(&["domstate", NAME]), "running\n\n");

    // A real QEMU runs the guest, under TCG, with the sandbox's paths.
    let pid = root.pid().expect("QEMU wrote its pidfile");
    assert!(alive(pid), "QEMU {pid} runs");
    let cmdline =
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
            .replace('\0', " ");
    assert!(
        cmdline.contains("qemu-system-x86_64") && cmdline.contains(NAME),
        "{cmdline}"
    );
    assert_eq!(root.qemus(), vec![pid]);
    let listed = ok(&["list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(NAME) && l.trim_end().ends_with("running")),
        "{listed}"
    );
    let info = ok(&["dominfo", NAME]);
    assert!(info.contains("State:          running"), "{info}");
    assert!(info.contains("Max memory:     65536 KiB"), "{info}");

    assert_eq!(
        ok(&["destroy", NAME]),
        format!("Domain '{NAME}' destroyed\n\n")
    );
    assert!(
        wait_gone(pid, Duration::from_secs(10)),
        "QEMU {pid} is gone after destroy"
    );
    assert_eq!(ok(&["domstate", NAME]), "shut off\n\n");
    assert_eq!(
        ok(&["undefine", NAME]),
        format!("Domain '{NAME}' has been undefined\n\n")
    );
    assert!(!ok(&["list", "--all"]).contains(NAME));
    let gone = virsh(&["domstate", NAME]);
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr
            .contains(&format!("failed to get domain '{NAME}'")),
        "{}",
        gone.stderr
    );
    assert!(root.qemus().is_empty(), "no QEMU of the sandbox is left");
    assert!(
        !Path::new(&root.run_dir().join(format!("{NAME}.pid"))).exists(),
        "the guest's pidfile is removed"
    );
}
