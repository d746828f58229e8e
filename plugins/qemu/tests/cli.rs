//! The lifecycle of a real QEMU guest through the `virtkit` command (virsh's commands), each step
//! a separate process: define, start, list, dominfo, suspend, resume, dumpxml, destroy,
//! undefine. Needs the CLI built beside the plugin (`cargo xtask build-plugins`).

mod common;

use std::time::Duration;

use common::{Sandbox, alive, have_qemu, virtkit, wait_gone};

/// Runs `virtkit -c URI ARGS` and returns its stdout, failing on a non-zero exit.
fn run(sb: &Sandbox, args: &[&str]) -> String {
    let out = virtkit(&sb.uri(), args).output().unwrap();
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

fn state_line(dominfo: &str) -> String {
    dominfo
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or_else(|| panic!("no State: line in\n{dominfo}"))
        .trim()
        .to_string()
}

#[test]
fn the_lifecycle_through_the_cli() {
    if !have_qemu("the_lifecycle_through_the_cli") {
        return;
    }
    let sb = Sandbox::new();
    let xml = sb.dir.path().join("guest.xml");
    std::fs::write(&xml, common::guest_xml("clivm")).unwrap();
    run(&sb, &["define", xml.to_str().unwrap()]);
    assert!(run(&sb, &["list", "--all"]).contains("clivm"));
    run(&sb, &["start", "clivm"]);
    let list = run(&sb, &["list"]);
    let row = list
        .lines()
        .find(|l| l.contains("clivm"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("running"), "{list}");
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "running");
    run(&sb, &["suspend", "clivm"]);
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "paused");
    run(&sb, &["resume", "clivm"]);
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "running");
    let dump = run(&sb, &["dumpxml", "clivm"]);
    assert!(dump.starts_with("<domain type='qemu' id='"), "{dump}");
    let pid = sb.pid("clivm").unwrap();
    assert!(alive(pid));
    run(&sb, &["destroy", "clivm"]);
    assert!(wait_gone(pid, Duration::from_secs(1)), "QEMU is gone");
    assert!(
        !sb.run_dir().join("clivm.qmp").exists(),
        "the socket is gone"
    );
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "shut off");
    run(&sb, &["undefine", "clivm"]);
    assert!(!run(&sb, &["list", "--all"]).contains("clivm"));
}
