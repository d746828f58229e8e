//! The peer against Debian's real `xenstore-utils` (libxenstore's client): every tool pointed at
//! the peer with `XENSTORED_PATH`, its output checked. Skips (and fails under `CI`) when the
//! tools are missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use virtkit_test_support::xen;

/// A peer with a read-only socket and a state file beside it (in `files`, or `state` when
/// given).
struct Peer {
    peer: xen::Peer,
    _files: tempfile::TempDir,
    ro: PathBuf,
    state: PathBuf,
}

impl Peer {
    fn start(guests: u32, state: Option<&Path>) -> Peer {
        let files = tempfile::tempdir().unwrap();
        let ro = files.path().join("socket_ro");
        let state = state.map_or_else(|| files.path().join("state"), Path::to_path_buf);
        let peer = xen::Peer::store(
            guests,
            &[
                "--ro-socket",
                ro.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ],
        );
        Peer {
            peer,
            _files: files,
            ro,
            state,
        }
    }

    fn tool(&self, ro: bool, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env(
                "XENSTORED_PATH",
                if ro { &self.ro } else { self.peer.socket() },
            )
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

/// Whether the tools are installed: a skip with the reason when they are not (a failure under
/// `CI`); a package that has `xenstore-read` but lacks another of them fails.
fn tools_present() -> bool {
    if virtkit_test_support::find(&virtkit_test_support::XENSTORE).is_none() {
        return false;
    }
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| virtkit_test_support::which(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "xenstore-utils is installed but lacks {missing:?}"
    );
    true
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
        .env("XENSTORED_PATH", p.peer.socket())
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
