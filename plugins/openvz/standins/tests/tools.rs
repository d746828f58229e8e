//! The stand-in tools behave as vzctl(8) and vzlist(8) document: syntax, messages, exit codes
//! and output formats, checked by running them as processes.

mod common;

use std::process::Command;

use common::{Sandbox, VZCTL, VZLIST};

fn run(sb: &Sandbox, tool: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tool)
        .args(args)
        .env("VIRTKIT_OPENVZ_ROOT", sb.root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn vzlist_formats_and_empty_hosts() {
    let sb = Sandbox::new();
    let (code, out, err) = run(&sb, VZLIST, &["-a"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "Container(s) not found\n")
    );
    assert_eq!(run(&sb, VZCTL, &["--quiet", "create", "101"]).0, 0);
    assert_eq!(
        run(&sb, VZCTL, &["--quiet", "create", "102", "--name", "db"]).0,
        0
    );
    assert_eq!(run(&sb, VZCTL, &["--quiet", "start", "102"]).0, 0);
    // Running containers only, with the default columns and header.
    let (code, out, _) = run(&sb, VZLIST, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n       102          1 running   -               -\n"
    );
    // The early driver's query, and vzctl 4's column name for the same thing.
    let (_, early, _) = run(&sb, VZLIST, &["-a", "-ovpsid,status", "-H"]);
    assert_eq!(early, "       101 stopped\n       102 running\n");
    let (_, modern, _) = run(&sb, VZLIST, &["-a", "-H", "-o", "ctid,status,name"]);
    assert_eq!(modern, "       101 stopped   -\n       102 running   db\n");
    let (_, stopped, _) = run(&sb, VZLIST, &["-S", "-H", "-octid"]);
    assert_eq!(stopped, "       101\n");
    let (code, _, err) = run(&sb, VZLIST, &["-a", "-onope"]);
    assert_eq!((code, err.as_str()), (1, "Unknown field: nope\n"));
}

#[test]
fn vzctl_codes_and_messages() {
    let sb = Sandbox::new();
    let (code, out, _) = run(
        &sb,
        VZCTL,
        &["create", "101", "--ostemplate", "centos-6-x86_64"],
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Creating container private area (centos-6-x86_64)\n"),
        "{out}"
    );
    let (code, _, err) = run(&sb, VZCTL, &["create", "101"]);
    assert_eq!(code, 44, "{err}");
    let (code, _, err) = run(&sb, VZCTL, &["create", "102", "--ostemplate", "nope"]);
    assert_eq!(code, 91);
    assert!(
        err.contains("Cache file") && err.contains("nope.tar.gz not found"),
        "{err}"
    );
    // Stopping a stopped container says so and succeeds, as vzctl does.
    let (code, _, err) = run(&sb, VZCTL, &["stop", "101"]);
    assert_eq!(
        (code, err.as_str()),
        (0, "Unable to stop: container is not running\n")
    );
    assert_eq!(run(&sb, VZCTL, &["start", "101"]).0, 0);
    let (code, _, err) = run(&sb, VZCTL, &["start", "101"]);
    assert_eq!((code, err.as_str()), (32, "Container is already running\n"));
    let (code, _, err) = run(&sb, VZCTL, &["destroy", "101"]);
    assert_eq!(
        (code, err.as_str()),
        (32, "Container is currently running. Stop it first.\n")
    );
    let (code, _, err) = run(&sb, VZCTL, &["chkpnt", "101", "--resume"]);
    assert_eq!(code, 16, "{err}");
    assert_eq!(run(&sb, VZCTL, &["chkpnt", "101", "--suspend"]).0, 0);
    let (_, out, _) = run(&sb, VZCTL, &["status", "101"]);
    assert_eq!(out, "CTID 101 exist mounted running suspended\n");
    let (code, _, err) = run(&sb, VZCTL, &["chkpnt", "101", "--suspend", "--resume"]);
    assert_eq!(
        (code, err.trim()),
        (20, "Invalid syntax: only one sub command may be used")
    );
    let (code, _, err) = run(&sb, VZCTL, &["set", "101", "--cpus", "two", "--save"]);
    assert_eq!((code, err.trim()), (21, "Bad parameter for --cpus: two"));
    let (code, _, err) = run(&sb, VZCTL, &["set", "101", "--bogus", "1"]);
    assert_eq!(
        (code, err.trim()),
        (21, "vzctl: unrecognized option '--bogus'")
    );
    let (code, out, _) = run(&sb, VZCTL, &["set", "101", "--onboot", "yes", "--save"]);
    assert_eq!((code, out.as_str()), (0, "Saved parameters for CT 101\n"));
    let (code, _, err) = run(&sb, VZCTL, &["start", "999"]);
    assert_eq!(code, 14, "{err}");
    let (_, out, _) = run(&sb, VZCTL, &["--version"]);
    assert_eq!(out, "vzctl version 4.9.4\n");
    let (code, _, err) = run(&sb, VZCTL, &["explode", "101"]);
    assert_eq!((code, err.trim()), (20, "Invalid action: explode"));
}

#[test]
fn without_a_root_the_tools_say_so() {
    let out = Command::new(VZLIST)
        .env_remove("VIRTKIT_OPENVZ_ROOT")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VIRTKIT_OPENVZ_ROOT"));
}
