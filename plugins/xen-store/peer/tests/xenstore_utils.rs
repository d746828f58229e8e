//! The peer against Debian's real `xenstore-utils` (libxenstore's client): every tool pointed at
//! the peer with `XENSTORED_PATH`, its output checked. Skips (and fails under `CI`) when the
//! tools are missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Peer {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
    ro: PathBuf,
    state: PathBuf,
}

impl Peer {
    fn start(guests: u32, state: Option<&Path>) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("socket");
        let ro = dir.path().join("socket_ro");
        let state = state.map_or_else(|| dir.path().join("state"), Path::to_path_buf);
        let mut child = Command::new(env!("CARGO_BIN_EXE_virtkit-xenstore-peer"))
            .arg("--socket")
            .arg(&socket)
            .arg("--ro-socket")
            .arg(&ro)
            .arg("--state")
            .arg(&state)
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
            ro,
            state,
        }
    }

    fn tool(&self, ro: bool, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env("XENSTORED_PATH", if ro { &self.ro } else { &self.socket })
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, tool: &str, args: &[&str]) -> String {
        let o = self.tool(false, tool, args);
        assert!(
            o.status.success(),
            "{tool} {args:?}: {}\n{}",
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

const TOOLS: [&str; 8] = [
    "xenstore-read",
    "xenstore-write",
    "xenstore-ls",
    "xenstore-list",
    "xenstore-rm",
    "xenstore-exists",
    "xenstore-watch",
    "xenstore-chmod",
];

fn tools_present() -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "xenstore-utils missing under CI: {missing:?} (scripts/install-test-deps.sh installs them)"
    );
    eprintln!(
        "skipped: xenstore-utils not installed ({missing:?}); scripts/install-test-deps.sh installs them"
    );
    false
}

#[test]
fn read_write_list_ls_rm_exists() {
    if !tools_present() {
        return;
    }
    let p = Peer::start(2, None);
    assert_eq!(
        p.ok("xenstore-read", &["/local/domain/0/name"]),
        "Domain-0\n"
    );
    assert_eq!(
        p.ok("xenstore-read", &["/local/domain/2/name"]),
        "guest-2\n"
    );
    assert_eq!(p.ok("xenstore-list", &["/local/domain"]), "0\n1\n2\n");
    // xenstore-write wraps its write in a transaction.
    p.ok(
        "xenstore-write",
        &["/test/a", "one", "/test/b", "two words"],
    );
    assert_eq!(
        p.ok("xenstore-read", &["/test/a", "/test/b"]),
        "one\ntwo words\n"
    );
    assert_eq!(
        p.ok("xenstore-ls", &["/test"]),
        "a = \"one\"\nb = \"two words\"\n"
    );
    assert_eq!(
        p.ok("xenstore-ls", &["-f", "/local/domain/1/memory"]),
        "/local/domain/1/memory/target = \"262144\"\n"
    );
    let ls = p.ok("xenstore-ls", &["/local/domain/1"]);
    assert!(ls.contains("name = \"guest-1\"\n"), "{ls}");
    assert!(ls.contains(" target = \"262144\"\n"), "{ls}");
    // Relative paths are below domain 0's home.
    p.ok("xenstore-write", &["rel", "x"]);
    assert_eq!(p.ok("xenstore-read", &["/local/domain/0/rel"]), "x\n");

    assert!(
        p.tool(false, "xenstore-exists", &["/test/a"])
            .status
            .success()
    );
    assert!(
        !p.tool(false, "xenstore-exists", &["/test/zz"])
            .status
            .success()
    );
    p.ok("xenstore-rm", &["/test/a"]);
    assert!(
        !p.tool(false, "xenstore-exists", &["/test/a"])
            .status
            .success()
    );
    let miss = p.tool(false, "xenstore-read", &["/test/a"]);
    assert!(!miss.status.success());
    assert!(String::from_utf8_lossy(&miss.stderr).contains("couldn't read path /test/a"));
    // rm of a missing node under an existing parent succeeds; with a missing parent it fails.
    p.ok("xenstore-rm", &["/test/none"]);
    assert!(
        !p.tool(false, "xenstore-rm", &["/nothing/here"])
            .status
            .success()
    );
}

#[test]
fn chmod_and_permissions_listing() {
    if !tools_present() {
        return;
    }
    let p = Peer::start(1, None);
    p.ok("xenstore-write", &["/perm/x", "1"]);
    p.ok("xenstore-chmod", &["/perm/x", "n0", "r1", "w2"]);
    let ls = p.ok("xenstore-ls", &["-p", "/perm"]);
    assert!(ls.starts_with("x = \"1\""), "{ls}");
    assert!(ls.trim_end().ends_with("(n0,r1,w2)"), "{ls}");
    // Children inherit their parent's permissions.
    p.ok("xenstore-chmod", &["/perm", "b0"]);
    p.ok("xenstore-write", &["/perm/y", "2"]);
    let ls = p.ok("xenstore-ls", &["-p", "/perm"]);
    assert!(ls.lines().nth(1).unwrap().ends_with("(b0)"), "{ls}");
    // A guest's home belongs to the guest.
    let ls = p.ok("xenstore-ls", &["-p", "/local/domain/1/memory"]);
    assert!(ls.trim_end().ends_with("(n1)"), "{ls}");
    // A bad permission is refused.
    assert!(
        !p.tool(false, "xenstore-chmod", &["/perm/x", "q1"])
            .status
            .success()
    );
}

#[test]
fn watch_sees_initial_and_later_events() {
    if !tools_present() {
        return;
    }
    let p = Peer::start(0, None);
    p.ok("xenstore-write", &["/w/base", "0"]);
    let mut watch = Command::new("xenstore-watch")
        .args(["-n", "3", "/w"])
        .env("XENSTORED_PATH", &p.socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The first event fires when the watch is set; wait until the peer has the watch by
    // writing until the tool has seen everything or a deadline passes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    loop {
        if let Ok(Some(_)) = watch.try_wait() {
            break;
        }
        assert!(Instant::now() < deadline, "xenstore-watch did not finish");
        n += 1;
        p.ok("xenstore-write", &[&format!("/w/k{n}"), "v"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = watch.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "/w");
    assert!(
        lines[1].starts_with("/w/k") && lines[2].starts_with("/w/k"),
        "{text}"
    );
}

#[test]
fn read_only_socket_refuses_changes_and_state_survives() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tree");
    {
        let p = Peer::start(1, Some(&state));
        assert_eq!(p.state, state);
        let o = p.tool(true, "xenstore-write", &["/ro/x", "1"]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("could not write path /ro/x"));
        let o = p.tool(true, "xenstore-read", &["/local/domain/1/name"]);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "guest-1\n");
        p.ok("xenstore-write", &["/kept", "yes"]);
    }
    let p = Peer::start(0, Some(&state));
    assert_eq!(p.ok("xenstore-read", &["/kept"]), "yes\n");
    assert_eq!(
        p.ok("xenstore-read", &["/local/domain/1/name"]),
        "guest-1\n"
    );
}
