//! `virtkit list --all` with several running guests: the states come from QEMU at the moment of
//! the listing (the CLI asks for them concurrently), so a guest paused behind the driver's back —
//! `stop` sent over QMP by another client, as QEMU itself does on a disk error — shows paused, and
//! running again once it continues. Needs the CLI built beside the plugin
//! (`cargo xtask build-plugins`).

mod common;

use std::time::Duration;

use common::{Sandbox, have_qemu, virtkit};
use virtkit_qemu_driver::Qmp;

/// `virtkit -c URI list ARGS` as (name, state) rows.
fn rows(sb: &Sandbox, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    let out = virtkit(&sb.uri(), &all).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "virtkit list failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 3, "odd row {l:?} in\n{text}");
            (f[1].to_string(), f[2..].join(" "))
        })
        .collect()
}

/// Sends one QMP command to `name`'s monitor, as another client would.
fn qmp(sb: &Sandbox, name: &str, command: &str) {
    let sock = sb.run_dir().join(format!("{name}.qmp"));
    let answers = Qmp::query(&sock, Duration::from_secs(10), &[command]).unwrap();
    assert_eq!(answers.len(), 1);
    for a in answers {
        a.unwrap_or_else(|e| panic!("{command} on {name}: {e}"));
    }
}

#[test]
fn list_all_shows_each_guest_state_as_qemu_has_it() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let conn = sb.open();
    const N: usize = 6;
    let names: Vec<String> = (0..N).map(|i| format!("ls{i}")).collect();
    for n in &names {
        let d = conn.define_domain_xml(&common::guest_xml(n)).unwrap();
        d.create().unwrap();
    }
    conn.define_domain_xml(&common::guest_xml("lsoff")).unwrap();

    let expect = |paused: &[&str]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = names
            .iter()
            .map(|n| {
                let st = if paused.contains(&n.as_str()) {
                    "paused"
                } else {
                    "running"
                };
                (n.clone(), st.to_string())
            })
            .collect();
        v.push(("lsoff".into(), "shut off".into()));
        v
    };
    assert_eq!(rows(&sb, &["--all"]), expect(&[]));

    // Paused behind the driver's back: the next listing says so, for exactly those guests.
    qmp(&sb, "ls1", "stop");
    qmp(&sb, "ls4", "stop");
    assert_eq!(rows(&sb, &["--all"]), expect(&["ls1", "ls4"]));
    let paused: Vec<String> = rows(&sb, &["--state-paused"])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(paused, ["ls1", "ls4"]);
    let running = rows(&sb, &["--state-running"]);
    assert_eq!(running.len(), N - 2, "{running:?}");

    // And running again once another client continues it: nothing was cached.
    qmp(&sb, "ls4", "cont");
    assert_eq!(rows(&sb, &["--all"]), expect(&["ls1"]));

    for n in &names {
        conn.lookup_domain_by_name(n).unwrap().destroy().unwrap();
    }
    assert_eq!(
        rows(&sb, &["--all"])
            .iter()
            .filter(|(_, s)| s == "shut off")
            .count(),
        N + 1
    );
}
