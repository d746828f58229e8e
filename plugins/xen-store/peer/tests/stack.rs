//! The Xen stack with every subset of the members built here: xen-xend against its peer,
//! xen-store against its peer, xen-hypercall declining (no Xen on these machines). Each subset
//! opens when one member opens, answers follow the declared order (a member that does not know
//! a domain passes the lookup on), and `drivers --connection` names who serves.

use std::process::Output;

use virtkit_test_support::xen;

/// The members, by the names `xen::members_dir` takes.
const MEMBERS: [&str; 3] = ["hypercall", "xend", "store"];

/// A host without a hypervisor: xend and xenstore peers.
struct Host {
    xend: xen::Peer,
    store: xen::Peer,
}

impl Host {
    fn start() -> Host {
        Host {
            xend: xen::Peer::xend(&[]),
            store: xen::Peer::store(3, &[]),
        }
    }

    /// `virtkit` with only `members` installed.
    fn virtkit(&self, members: &[&str], args: &[&str]) -> Output {
        let mut c = xen::virtkit(&xen::members_dir(members));
        c.env("XENSTORED_PATH", self.store.socket())
            // The legacy socket-path URI: xend there, the local store beside it, as libvirt.
            .arg("-c")
            .arg(self.xend.socket())
            .args(args);
        xen::output(&mut c)
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
        for m in MEMBERS {
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
