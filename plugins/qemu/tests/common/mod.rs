//! Shared pieces of the tests that run real QEMU through the plugin.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use virtkit::{Connect, Registry};

/// Prints on the real stderr, past the test harness's capture.
#[allow(unused_imports)] // not every test binary that shares this module prints
pub use virtkit_test_support::report;

/// Whether QEMU is installed; says why the test is skipped when it is not (and fails instead
/// when `CI` or `VIRTKIT_REQUIRE_QEMU` is set).
#[track_caller]
pub fn have_qemu() -> bool {
    virtkit_test_support::find(&virtkit_test_support::QEMU).is_some()
}

/// The build directory with the qemu plugin and the `virtkit` binary, built from the current
/// sources (`virtkit_test_support`).
pub fn plugin_dir() -> PathBuf {
    virtkit_test_support::built("virtkit");
    virtkit_test_support::plugin_dir("qemu").to_path_buf()
}

pub fn registry() -> Registry {
    plugin_dir();
    virtkit_test_support::registry()
}

/// A temporary driver root. Dropping it kills every QEMU it started (whatever the test did),
/// then removes the directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        // Short paths: QMP sockets live under it and unix socket paths are limited to 107 bytes.
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("vkq")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    pub fn uri(&self) -> String {
        format!("qemu:///session?root={}", self.dir.path().display())
    }

    pub fn open(&self) -> Connect {
        Connect::open_with(Some(&self.uri()), false, &registry()).unwrap()
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("session/run")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("session/config")
    }

    /// The pid QEMU wrote for `name`.
    pub fn pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.run_dir().join(format!("{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Every QEMU pid recorded under the root (pidfiles and state files).
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.run_dir()) {
            for e in rd.flatten() {
                let p = e.path();
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                match p.extension().and_then(|x| x.to_str()) {
                    Some("pid") => out.extend(text.trim().parse::<i32>().ok()),
                    Some("state") => {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                            out.extend(v["pid"].as_i64().map(|p| p as i32));
                        }
                    }
                    _ => {}
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let marker = self.run_dir().display().to_string();
        for pid in self.pids() {
            if is_our_process(pid, &marker) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_gone(pid, Duration::from_secs(5));
            }
        }
    }
}

/// Whether `pid` is alive and its command line mentions `marker`.
pub fn is_our_process(pid: i32, marker: &str) -> bool {
    alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
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

pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let t = std::time::Instant::now();
    while alive(pid) {
        if t.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The `virtkit` CLI of the build tree (built by `cargo xtask build-plugins`).
#[allow(dead_code)]
pub fn cli() -> PathBuf {
    let exe = plugin_dir().join("virtkit");
    assert!(
        exe.exists(),
        "{} is missing: run `cargo xtask build-plugins` first (it builds the CLI, crate virtkit-cli)",
        exe.display()
    );
    exe
}

/// `virtkit -c URI ARGS...` as a separate process, loading plugins from the build tree.
#[allow(dead_code)]
pub fn virtkit(uri: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(cli());
    c.arg("-c")
        .arg(uri)
        .args(args)
        .env("VIRTKIT_DRIVER_DIR", plugin_dir());
    c
}

/// A tiny TCG guest: 64 MiB, no disk.
pub fn guest_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os></domain>"
    )
}

pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
