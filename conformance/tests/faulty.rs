//! The suite catches faults: a driver with four known faults (one entry panics) gets exactly the
//! failures they cause, the panic is reported as an error, and the run carries on to the end.

mod common;

use std::process::Command;

use virtkit_conformance::{Options, Outcome, run};

/// The fixture under the name the loader looks for, in a directory of its own.
fn faulty() -> (tempfile::TempDir, std::path::PathBuf) {
    let src = common::built("libvk_fixture_faulty.so");
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("libvirtkit_driver_faulty.so");
    std::fs::copy(&src, &dst).unwrap();
    (dir, dst)
}

#[test]
fn exactly_the_faults_fail_and_the_run_survives_a_panic() {
    let (_dir, plugin) = faulty();
    let r = run(&plugin, &Options::default());
    let failed: Vec<&str> = r.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(
        failed,
        [
            // get_hostname panics: caught by the SDK's shim, reported as an internal error.
            "node/hostname",
            // num_of_domains counts one too many.
            "domains/list-num-agree",
            // an unknown UUID gives operation-failed instead of no-domain.
            "domains/unknown-uuid",
            // resume of a domain that is not paused succeeds.
            "lifecycle/inactive-wrong-state",
            "lifecycle/resume",
            // an undefined or destroyed domain's UUID gives operation-failed.
            "lifecycle/undefine",
            "lifecycle/create-transient",
            "robustness/panics",
        ],
        "{}",
        common::show(&r)
    );
    let Outcome::Failed(reason) = &r.check("node/hostname").unwrap().outcome else {
        unreachable!()
    };
    assert!(
        reason.contains("internal-error") && reason.contains("driver panicked"),
        "{reason}"
    );
    // Everything after the panic still ran: the suite removed what it created.
    assert_eq!(
        r.check("cleanup/nothing-left").map(|c| &c.outcome),
        Some(&Outcome::Passed),
        "{}",
        common::show(&r)
    );
}

#[test]
fn the_binary_exits_non_zero_and_prints_one_line_per_check() {
    let (_dir, plugin) = faulty();
    let out = Command::new(env!("CARGO_BIN_EXE_virtkit-conformance"))
        .arg(&plugin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.contains(" passed, 8 failed, "), "{last}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("failed  node/hostname: ") && l.contains("panicked")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "passed  header/load"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_virtkit-conformance"))
        .arg(&plugin)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["driver"]["name"], "faulty");
    assert_eq!(v["summary"]["failed"], 8);
    let checks = v["checks"].as_array().unwrap();
    let hostname = checks
        .iter()
        .find(|c| c["name"] == "node/hostname")
        .unwrap();
    assert_eq!(hostname["outcome"], "failed");
    assert_eq!(hostname["ops"][0], "get_hostname");
    assert!(hostname["reason"].as_str().unwrap().contains("panicked"));
}

#[test]
fn a_file_the_loader_refuses_fails_the_first_check() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("libvirtkit_driver_junk.so");
    std::fs::write(&junk, b"not a shared object").unwrap();
    let r = run(&junk, &Options::default());
    assert_eq!(r.checks.len(), 1, "{}", common::show(&r));
    assert!(
        matches!(&r.checks[0].outcome, Outcome::Failed(m) if m.contains("refused") || m.contains("cannot load")),
        "{}",
        common::show(&r)
    );
    assert!(!r.success());
}
