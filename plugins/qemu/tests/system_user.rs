//! `qemu:///system` guests as an unprivileged user (as root only): a system user and group made
//! for the test (useradd, removed at the end) are set in the sandbox root's `qemu.conf`; the
//! guest's QEMU runs as them, its disk image is given to them while it runs and back after,
//! and its QEMU cannot open another guest's image. Without root or QEMU the test reports a
//! skip (a failure under CI) and returns.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{guest_xml, have_qemu, is_our_process, registry, report, virtkit, wait_gone};
use serde_json::json;
use virtkit::{Connect, ErrorCode};
use virtkit_qemu_driver::Qmp;

/// A system user and group for the test, removed on drop.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl TestUser {
    fn create() -> Option<TestUser> {
        let name = format!("vkq{}", std::process::id());
        let ok = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let u = nix::unistd::User::from_name(&name).ok().flatten()?;
        Some(TestUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        })
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
        // userdel removes the user's own group; this is for a user whose removal failed halfway.
        let _ = Command::new("groupdel")
            .arg(&self.name)
            .stderr(Stdio::null())
            .status();
    }
}

/// A system-mode root; dropping it kills any QEMU left under it.
struct SystemRoot {
    dir: tempfile::TempDir,
}

impl SystemRoot {
    fn uri(&self) -> String {
        format!("qemu:///system?root={}", self.dir.path().display())
    }
    fn run(&self) -> PathBuf {
        self.dir.path().join("system/run")
    }
    fn pid(&self, name: &str) -> i32 {
        std::fs::read_to_string(self.run().join(format!("{name}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for SystemRoot {
    fn drop(&mut self) {
        let marker = self.run().display().to_string();
        for e in std::fs::read_dir(self.run())
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "pid")
                && let Some(pid) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                && is_our_process(pid, &marker)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_gone(pid, Duration::from_secs(5));
            }
        }
    }
}

fn status_ids(pid: i32, field: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect()
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap();
    (m.uid(), m.gid())
}

fn disk_guest(name: &str, img: &Path) -> String {
    guest_xml(name).replace(
        "</os>",
        &format!(
            "</os><devices><disk type='file' device='disk'><source file='{}'/>\
             <target dev='vda' bus='virtio'/></disk></devices>",
            img.display()
        ),
    )
}

#[test]
fn system_guests_run_as_the_configured_user() {
    if !nix::unistd::geteuid().is_root() {
        virtkit_test_support::skip_host("ROOT", "needs root (useradd, chown)");
        return;
    }
    if !have_qemu() {
        return;
    }
    let root = SystemRoot {
        dir: tempfile::Builder::new()
            .prefix("vks")
            .tempdir_in("/tmp")
            .unwrap(),
    };
    // Images in a directory the guest user may traverse (as an images directory is).
    let images = tempfile::Builder::new()
        .prefix("vki")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(images.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let mine = images.path().join("mine.img");
    let other = images.path().join("other.img");
    for p in [&mine, &other] {
        std::fs::File::create(p).unwrap().set_len(1 << 20).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(owner(&mine), (0, 0));

    // Without the user: a clear error naming it.
    let c = Connect::open_with(Some(&root.uri()), false, &registry()).unwrap();
    std::fs::write(
        root.dir.path().join("qemu.conf"),
        "user = \"vkq-no-such-user\"\ngroup = \"vkq-no-such-user\"\n",
    )
    .unwrap();
    let e = c
        .create_domain_xml(&disk_guest("g1", &mine), 0)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed, "{e}");
    assert!(
        e.message.contains("user 'vkq-no-such-user'") && e.message.contains("does not exist"),
        "{e}"
    );
    assert_eq!(owner(&mine), (0, 0));

    let Some(user) = TestUser::create() else {
        panic!("useradd failed (the test runs as root)");
    };
    std::fs::write(
        root.dir.path().join("qemu.conf"),
        format!("user = \"{0}\"\ngroup = \"{0}\"\n", user.name),
    )
    .unwrap();
    let d = c.create_domain_xml(&disk_guest("g1", &mine), 0).unwrap();
    let pid = root.pid("g1");
    // Every uid and gid of QEMU is the configured user's, and it keeps no other groups.
    assert_eq!(status_ids(pid, "Uid"), vec![user.uid; 4]);
    assert_eq!(status_ids(pid, "Gid"), vec![user.gid; 4]);
    assert!(status_ids(pid, "Groups").iter().all(|g| *g == user.gid));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.windows(8).any(|w| w == b"-sandbox"));
    // Its image is the user's while it runs.
    assert_eq!(owner(&mine), (user.uid, user.gid));
    assert_eq!(owner(&other), (0, 0));

    // QEMU, now unprivileged, opens its own image again but not the other guest's.
    let mut q = Qmp::connect(&root.run().join("g1.qmp"), Duration::from_secs(30)).unwrap();
    let open = |q: &mut Qmp, node: &str, p: &Path| {
        q.execute(
            "blockdev-add",
            Some(json!({ "driver": "raw", "node-name": node, "read-only": true,
                "file": { "driver": "file", "filename": p.display().to_string(), "locking": "off" } })),
        )
    };
    open(&mut q, "probe-mine", &mine).expect("QEMU reads its own image");
    let e = open(&mut q, "probe-other", &other).unwrap_err();
    assert!(e.to_string().contains("Permission denied"), "{e}");
    drop(q);

    // A hot-plugged disk is given to the user too, and back when unplugged.
    let hot = images.path().join("hot.img");
    std::fs::File::create(&hot)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    std::fs::set_permissions(&hot, std::fs::Permissions::from_mode(0o600)).unwrap();
    let hot_xml = format!(
        "<disk type='file' device='disk'><source file='{}'/><target dev='sda' bus='usb'/></disk>",
        hot.display()
    );
    let e = d.attach_device(&hot_xml).unwrap_err();
    // This guest has no USB bus: QEMU refuses, and the image goes back at once.
    assert_eq!(e.code, ErrorCode::OperationFailed, "{e}");
    assert_eq!(owner(&hot), (0, 0));

    // After destroy the image is root's again.
    d.destroy().unwrap();
    assert_eq!(owner(&mine), (0, 0));
    assert!(!root.run().join("g1.owners").exists());

    // After a kill -9 of QEMU (and of nobody else), the next look at the guest restores it.
    let d = c.create_domain_xml(&disk_guest("g2", &mine), 0).unwrap();
    assert_eq!(owner(&mine), (user.uid, user.gid));
    let pid = root.pid("g2");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_gone(pid, Duration::from_secs(10)));
    drop(d);
    let c2 = Connect::open_with(Some(&root.uri()), false, &registry()).unwrap();
    assert!(c2.list_domains().unwrap().is_empty());
    assert_eq!(owner(&mine), (0, 0));

    // A QEMU built without seccomp (a wrapper that refuses `-sandbox` as such a binary does):
    // the guest runs as the user without the filter, and its log says why.
    let wrapper = images.path().join("qemu-no-seccomp");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nif [ \"$1\" = -sandbox ]; then echo '-sandbox is not supported by this QEMU binary' >&2; exit 1; fi\nexec qemu-system-x86_64 \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let xml = guest_xml("g4").replace(
        "</os>",
        &format!(
            "</os><devices><emulator>{}</emulator></devices>",
            wrapper.display()
        ),
    );
    let d = c.create_domain_xml(&xml, 0).unwrap();
    let pid = root.pid("g4");
    assert_eq!(status_ids(pid, "Uid"), vec![user.uid; 4]);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.windows(9).any(|w| w == b"-run-with"));
    assert!(!cmdline.windows(8).any(|w| w == b"-sandbox"));
    let log = std::fs::read_to_string(root.run().join("g4.log")).unwrap();
    assert!(
        log.contains(
            "was built without seccomp (-sandbox): domain 'g4' runs without QEMU's sandbox"
        ),
        "{log}"
    );
    d.destroy().unwrap();

    // `virtkit start` killed at instants spread over a start (0-420 ms): after the next call,
    // the image is the user's exactly when the guest runs.
    let xml = root.dir.path().join("g3.xml");
    std::fs::write(&xml, disk_guest("g3", &mine)).unwrap();
    let uri = root.uri();
    let out = virtkit(&uri, &["define", xml.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut running, mut undone) = (0, 0);
    for i in 0..15u64 {
        let mut child = virtkit(&uri, &["start", "g3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(i * 30));
        let _ = child.kill();
        let _ = child.wait();
        let out = virtkit(&uri, &["domstate", "g3"]).output().unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match state.as_str() {
            "running" | "paused" => {
                assert_eq!(owner(&mine), (user.uid, user.gid), "kill {i}: {state}");
                running += 1;
                let out = virtkit(&uri, &["destroy", "g3"]).output().unwrap();
                assert!(out.status.success());
            }
            "shut off" => undone += 1,
            other => panic!("kill {i}: unexpected state {other:?}"),
        }
        assert_eq!(
            owner(&mine),
            (0, 0),
            "kill {i}: the image's owner after {state}"
        );
    }
    report(&format!(
        "system_guests_run_as_the_configured_user: 15 kills of `start`: {running} complete, {undone} undone; \
         the image's owner right after each"
    ));
}
