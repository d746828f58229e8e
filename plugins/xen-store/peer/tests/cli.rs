//! The `virtkit` command on `xen:///` served by the xen-store plugin against the peer: the CLI,
//! the loader and the plugin's table together. The driver directory holds only the store
//! member: these tests are about that member, and the other Xen members of the build tree would
//! join the stack (the xm member reads the host's /etc/xen).

use std::process::{Command, Output};

use virtkit_test_support::xen;

struct Peer(xen::Peer);

impl Peer {
    fn start(guests: u32) -> Peer {
        Peer(xen::Peer::store(guests, &[]))
    }

    fn cmd(&self, args: &[&str]) -> Command {
        store_only(self.0.socket(), args)
    }

    fn virtkit(&self, args: &[&str]) -> Output {
        xen::output(&mut self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        xen::succeeds(&mut self.cmd(args))
    }
}

/// `virtkit -c xen:/// ARGS` with only the store member, the store at `socket`.
fn store_only(socket: &std::path::Path, args: &[&str]) -> Command {
    let mut c = xen::virtkit(&xen::members_dir(&["store"]));
    c.env("XENSTORED_PATH", socket)
        .args(["-c", "xen:///"])
        .args(args);
    c
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
    let err = xen::fails(&mut store_only(&dir.path().join("none"), &["list"]));
    assert!(
        err.contains("xen-store does not serve this host: cannot connect to xenstored"),
        "{err}"
    );
}
