//! The `virtkit` command on `xen:///` served by the xen-store plugin against the peer: the CLI,
//! the loader and the plugin's table together. The other Xen members of the build tree (if any)
//! find no daemon here and decline; the stack carries on with this one.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn built(name: &str) -> PathBuf {
    let p = build_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo build -p virtkit-cli -p virtkit-driver-xen-store`) first",
        p.display()
    );
    p
}

struct Peer {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Peer {
    fn start(guests: u32) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("socket");
        let mut child = Command::new(env!("CARGO_BIN_EXE_virtkit-xenstore-peer"))
            .arg("--socket")
            .arg(&socket)
            .arg("--guests")
            .arg(guests.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("the peer exited: {st}");
            }
            assert!(Instant::now() < deadline, "the peer does not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Peer {
            child,
            _dir: dir,
            socket,
        }
    }

    fn virtkit(&self, args: &[&str]) -> Output {
        built("libvirtkit_driver_xen_store.so");
        Command::new(built("virtkit"))
            .env("VIRTKIT_DRIVER_DIR", store_only_dir())
            .env("XENSTORED_PATH", &self.socket)
            .env_remove("VIRTKIT_DEBUG")
            .args(["-c", "xen:///"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.virtkit(args);
        assert!(
            o.status.success(),
            "virtkit {args:?}: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn virsh_commands_through_the_store() {
    let p = Peer::start(2);
    let list = p.ok(&["list"]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["0", "Domain-0", "running"],
            vec!["1", "guest-1", "running"],
            vec!["2", "guest-2", "running"]
        ],
        "{list}"
    );
    assert_eq!(p.ok(&["domid", "guest-2"]).trim(), "2");
    assert_eq!(p.ok(&["domname", "1"]).trim(), "guest-1");
    assert_eq!(
        p.ok(&["domuuid", "guest-1"]).trim(),
        "5eed0001-0000-4000-8000-000000000001"
    );
    let info = p.ok(&["dominfo", "guest-1"]);
    assert!(info.contains("OS Type:        linux"), "{info}");
    assert!(info.contains("Max memory:     262144 KiB"), "{info}");
    p.ok(&["setmem", "guest-1", "131072"]);
    let info = p.ok(&["dominfo", "guest-1"]);
    assert!(info.contains("Used memory:    131072 KiB"), "{info}");
    p.ok(&["shutdown", "guest-2"]);
    let o = p.virtkit(&["dominfo", "nope"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("failed to get domain 'nope'"), "{err}");
    let drivers = p.ok(&["drivers"]);
    assert!(drivers.contains("xen-store"), "{drivers}");
}

#[test]
fn no_store_no_connection() {
    let dir = tempfile::tempdir().unwrap();
    built("libvirtkit_driver_xen_store.so");
    let o = Command::new(built("virtkit"))
        .env("VIRTKIT_DRIVER_DIR", store_only_dir())
        .env("XENSTORED_PATH", dir.path().join("none"))
        .args(["-c", "xen:///", "list"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("xen-store does not serve this host: cannot connect to xenstored"),
        "{err}"
    );
}

/// A driver directory holding only the build tree's store member: these tests are about that
/// member, and the other Xen members of the build tree would join the stack (the xm member reads
/// the host's /etc/xen).
fn store_only_dir() -> std::path::PathBuf {
    let dir = build_dir().join("store-only-drivers");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libvirtkit_driver_xen_store.so");
    match std::os::unix::fs::symlink(built("libvirtkit_driver_xen_store.so"), &link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", link.display()),
    }
    dir
}
