//! Debian's virt-manager against virtkitd, on a virtual X server (`xvfb-run`): it connects
//! through `test+unix:///default?socket=...`, lists the test node's domains and networks, uses
//! lifecycle events, opens a domain's details window, and sees a domain defined and one
//! suspended by another client, without polling. What it reads is its own `--debug` log.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// virt-manager and its X server, in a process group of their own; the group is stopped
/// (SIGTERM, then SIGKILL) and the leader reaped when dropped.
struct Gui {
    child: Child,
    log: std::path::PathBuf,
}

impl Gui {
    fn start(xvfb_run: &Path, virt_manager: &Path, uri: &str, home: &Path) -> Gui {
        let log = home.join("virt-manager.log");
        let child = Command::new(xvfb_run)
            .arg("-a")
            .arg("-f")
            .arg(home.join("Xauthority"))
            .args(["-s", "-screen 0 1024x700x24"])
            .arg(virt_manager)
            .args(["--no-fork", "--debug", "-c", uri])
            .args(["--show-domain-editor", "test"])
            // Its settings and caches go to the test's directory, not the user's.
            .env("HOME", home)
            .env("TMPDIR", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DISPLAY")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("xvfb-run starts");
        Gui { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains every one of `lines` (up to 120 s: virt-manager starts
    /// slowly on a loaded machine); panics with the log otherwise.
    fn wait_for(&mut self, lines: &[&str], daemon: &Virtkitd) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let log = self.log_text();
            if lines.iter().all(|l| log.contains(l)) {
                return;
            }
            let ended = self.child.try_wait().unwrap();
            if ended.is_some() || Instant::now() > deadline {
                let missing: Vec<_> = lines.iter().filter(|l| !log.contains(*l)).collect();
                panic!(
                    "virt-manager ({ended:?}) did not log {missing:?}\nits log:\n{log}\nvirtkitd's log:\n{}",
                    daemon.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Gui {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, killpg};
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

#[test]
fn virt_manager_lists_the_domains_and_follows_their_events() {
    let Some(virt_manager) = virtkit_test_support::find(&virtkit_test_support::VIRT_MANAGER) else {
        return;
    };
    let Some(xvfb_run) = virtkit_test_support::find(&virtkit_test_support::XVFB_RUN) else {
        return;
    };
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let daemon = Virtkitd::start();
    let home = tempfile::tempdir().unwrap();
    let uri = daemon.uri("/default");
    let mut gui = Gui::start(&xvfb_run, &virt_manager, &uri, home.path());
    gui.wait_for(
        &[
            "Using domain events",
            "Using network events",
            "network=default status=Active added",
            "domain=test status=Running added",
            "Showing VM details: <vmmDomain name=test",
        ],
        &daemon,
    );
    // Another client changes the node: virt-manager hears of it by events (it no longer polls
    // for new domains once it uses them).
    let xml = home.path().join("vm1.xml");
    std::fs::write(
        &xml,
        "<domain type='test'><name>vm1</name><memory>65536</memory><vcpu>1</vcpu>\
         <os><type>hvm</type></os></domain>",
    )
    .unwrap();
    let r = run(
        &virsh,
        &[
            "-c",
            &uri,
            &format!("define {}; suspend test", xml.display()),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    gui.wait_for(
        &[
            "domain lifecycle event: domain=vm1 state=VIR_DOMAIN_EVENT_DEFINED reason=VIR_DOMAIN_EVENT_DEFINED_ADDED",
            "domain=vm1 status=Shutoff added",
            "domain lifecycle event: domain=test state=VIR_DOMAIN_EVENT_SUSPENDED reason=VIR_DOMAIN_EVENT_SUSPENDED_PAUSED",
        ],
        &daemon,
    );
    // What it asked for and virtkit's API does not have (storage, node devices, snapshots,
    // domain capabilities, other event kinds) got libvirt's "unsupported" answers, and it went
    // on: the connection was never dropped.
    let log = daemon.log_text();
    assert!(!log.contains("closed:"), "{log}");
    assert!(log.contains(": unknown procedure "), "{log}");
}
