//! The Xen stack with every subset of the members built here: xen-xend against its peer,
//! xen-store against its peer, xen-hypercall declining (no Xen on these machines). Each subset
//! opens when one member opens, answers follow the declared order (a member that does not know
//! a domain passes the lookup on), and `drivers --connection` names who serves.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
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
        "{} is missing: run `cargo xtask build-plugins` (or `cargo build --workspace`) first",
        p.display()
    );
    p
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(exe: &Path, socket: &Path, args: &[&str]) -> Proc {
    let mut p = Proc(
        Command::new(exe)
            .arg("--socket")
            .arg(socket)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(
            p.0.try_wait().unwrap().is_none(),
            "{} exited",
            exe.display()
        );
        assert!(
            Instant::now() < deadline,
            "{} does not listen",
            exe.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

const MEMBERS: [(&str, &str); 3] = [
    ("hypercall", "libvirtkit_driver_xen_hypercall.so"),
    ("xend", "libvirtkit_driver_xen_xend.so"),
    ("store", "libvirtkit_driver_xen_store.so"),
];

struct Host {
    _dir: tempfile::TempDir,
    xend_sock: PathBuf,
    store_sock: PathBuf,
    _peers: (Proc, Proc),
    root: PathBuf,
}

impl Host {
    fn start() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let xend_sock = dir.path().join("xend-socket");
        let store_sock = dir.path().join("xenstored");
        let corpus =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpus/sexpr2xml");
        let seed = corpus.to_string_lossy().into_owned();
        let xend = spawn(&built("virtkit-xend-peer"), &xend_sock, &["--seed", &seed]);
        let store = spawn(
            &built("virtkit-xenstore-peer"),
            &store_sock,
            &["--guests", "3"],
        );
        let root = dir.path().to_path_buf();
        Host {
            _dir: dir,
            xend_sock,
            store_sock,
            _peers: (xend, store),
            root,
        }
    }

    /// A plugin directory holding only `members`.
    fn plugins(&self, members: &[&str]) -> PathBuf {
        let d = self.root.join(format!("plugins-{}", members.join("-")));
        if !d.exists() {
            std::fs::create_dir(&d).unwrap();
            for (m, file) in MEMBERS {
                if members.contains(&m) {
                    symlink(built(file), d.join(file)).unwrap();
                }
            }
        }
        d
    }

    fn virtkit(&self, members: &[&str], args: &[&str]) -> Output {
        Command::new(built("virtkit"))
            .env("VIRTKIT_DRIVER_DIR", self.plugins(members))
            .env("XENSTORED_PATH", &self.store_sock)
            .env_remove("VIRTKIT_DEBUG")
            // The legacy socket-path URI: xend there, the local store beside it, as libvirt.
            .arg("-c")
            .arg(&self.xend_sock)
            .args(args)
            .output()
            .unwrap()
    }
}

fn ids(list: &str) -> Vec<String> {
    list.lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn every_subset_of_the_members() {
    let h = Host::start();
    let subsets: [&[&str]; 7] = [
        &["hypercall"],
        &["xend"],
        &["store"],
        &["hypercall", "xend"],
        &["hypercall", "store"],
        &["xend", "store"],
        &["hypercall", "xend", "store"],
    ];
    let store_ids = ["0", "1", "2", "3"];
    for s in subsets {
        let out = h.virtkit(s, &["list"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let has = |m: &str| s.contains(&m);
        if !has("xend") && !has("store") {
            assert!(!out.status.success(), "{s:?} opened: {stdout}");
            assert!(
                stderr.contains("xen-hypercall does not serve this host"),
                "{s:?}: {stderr}"
            );
            continue;
        }
        assert!(out.status.success(), "{s:?}: {stderr}");
        let got = ids(&stdout);
        if has("xend") {
            // xend ranks before the store: its list answers.
            assert!(
                !got.is_empty() && got.iter().any(|i| i == "0"),
                "{s:?}: {stdout}"
            );
            assert_ne!(
                got, store_ids,
                "{s:?}: the store answered before xend: {stdout}"
            );
        } else {
            assert_eq!(got, store_ids, "{s:?}: {stdout}");
        }
        // Only the store knows guest-2: with xend first, xend's "no domain" passes it on.
        let info = h.virtkit(s, &["domid", "guest-2"]);
        if has("store") {
            assert!(
                info.status.success(),
                "{s:?}: {}",
                String::from_utf8_lossy(&info.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), "2");
        } else {
            assert!(!info.status.success(), "{s:?}");
        }
        // Who serves: every member that opened, the others with their reason.
        let table = h.virtkit(s, &["drivers", "--connection"]);
        let table = String::from_utf8_lossy(&table.stdout);
        for (m, _) in MEMBERS {
            if !has(m) {
                continue;
            }
            let name = format!("xen-{m}");
            let row = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{s:?}: no row for {name}:\n{table}"));
            let serving = m != "hypercall";
            assert_eq!(row.contains("serving"), serving, "{s:?}: {row}");
        }
    }
}
