//! A xend peer started for one test, and the `virtkit` command pointed at it. Both binaries and
//! the plugin come from the build tree (`cargo xtask build-plugins`, or `cargo build` of the
//! three packages).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>`, found from this test binary.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn built(name: &str) -> PathBuf {
    let p = build_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo build -p virtkit-cli -p virtkit-driver-xen-xend -p virtkit-xend-peer`) first",
        p.display()
    );
    p
}

/// The corpus of xend outputs the peer seeds itself with.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sexpr2xml")
}

/// A running peer; killed and its directory removed on drop.
pub struct Peer {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Peer {
    /// A peer seeded from the corpus, with extra arguments.
    pub fn start(extra: &[&str]) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("xend-socket");
        let mut c = Command::new(built("virtkit-xend-peer"));
        c.arg("--socket")
            .arg(&socket)
            .arg("--seed")
            .arg(corpus())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the peer exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "the peer does not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Peer { child, dir, socket }
    }

    /// The URI of the peer (the legacy socket-path form).
    pub fn uri(&self) -> String {
        self.socket.display().to_string()
    }

    /// `virtkit -c URI ARGS` (with `-r` first when `ro`).
    pub fn virtkit(&self, ro: bool, args: &[&str]) -> Output {
        virtkit_at(&self.uri(), ro, args, &[])
    }

    /// Runs and returns stdout; fails the test when the command fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.virtkit(false, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "virtkit {} failed ({}):\n{stdout}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs, expects failure, returns stderr.
    pub fn fails(&self, ro: bool, args: &[&str]) -> String {
        let out = self.virtkit(ro, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "virtkit {} succeeded:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `virtkit [-r] -c URI ARGS` with only the build tree's plugins, and extra environment.
pub fn virtkit_at(uri: &str, ro: bool, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(built("virtkit"));
    c.env("VIRTKIT_DRIVER_DIR", build_dir())
        .env_remove("VIRTKIT_DEBUG")
        .env_remove("VIRTKIT_XEND_TIMEOUT_MS");
    for (k, v) in env {
        c.env(k, v);
    }
    if ro {
        c.arg("-r");
    }
    c.args(["-c", uri]).args(args);
    built("libvirtkit_driver_xen_xend.so");
    c.output().unwrap()
}
