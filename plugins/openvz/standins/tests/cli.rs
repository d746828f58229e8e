//! The openvz plugin through the `virtkit` command, each step a separate process (virsh's
//! commands), against the stand-in tools. Needs the CLI and the plugin built
//! (`cargo xtask build-plugins`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, container_xml};

/// `target/<profile>`, holding the CLI and the plugin, checked to be newer than their sources.
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let so = dir.join("libvirtkit_driver_openvz.so");
    for needed in [&so, &dir.join("virtkit")] {
        assert!(
            needed.exists(),
            "{} is missing: run `cargo xtask build-plugins` first",
            needed.display()
        );
    }
    // `cargo test` does not relink the cdylib: refuse a plugin older than its sources.
    let built = std::fs::metadata(&so).and_then(|m| m.modified()).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for d in [src.join("src"), src.join("plugin/src")] {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.metadata().and_then(|m| m.modified()).unwrap();
            assert!(
                t <= built,
                "{} is older than {}: run `cargo xtask build-plugins` (or `cargo build -p virtkit-driver-openvz`) first",
                so.display(),
                e.path().display()
            );
        }
    }
    dir
}

fn virtkit(uri: &str, args: &[&str]) -> std::process::Output {
    let dir = build_dir();
    Command::new(dir.join("virtkit"))
        .arg("-c")
        .arg(uri)
        .args(args)
        .env("VIRTKIT_DRIVER_DIR", &dir)
        .output()
        .unwrap()
}

fn run(sb: &Sandbox, args: &[&str]) -> String {
    let out = virtkit(&sb.uri(), args);
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

fn field(dominfo: &str, name: &str) -> String {
    dominfo
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} line in\n{dominfo}"))
        .trim()
        .to_string()
}

#[test]
fn a_container_through_the_cli() {
    let sb = Sandbox::new();
    let xml = sb.root().join("ct.xml");
    std::fs::write(
        &xml,
        container_xml(
            "cli",
            Some("centos-6-x86_64"),
            "<interface type='bridge'><source bridge='br0'/></interface>",
        ),
    )
    .unwrap();
    assert!(run(&sb, &["define", xml.to_str().unwrap()]).contains("Domain 'cli' defined"));
    let list = run(&sb, &["list", "--all"]);
    assert!(
        list.lines()
            .any(|l| l.contains("cli") && l.contains("shut off")),
        "{list}"
    );
    run(&sb, &["start", "cli"]);
    let info = run(&sb, &["dominfo", "cli"]);
    assert_eq!(field(&info, "State:"), "running");
    assert_eq!(field(&info, "Id:"), "101");
    assert_eq!(field(&info, "OS Type:"), "exe");
    assert_eq!(field(&info, "Max memory:"), "262144 KiB");
    run(&sb, &["suspend", "cli"]);
    assert_eq!(field(&run(&sb, &["dominfo", "cli"]), "State:"), "paused");
    run(&sb, &["resume", "cli"]);
    assert_eq!(field(&run(&sb, &["domstate", "cli"]), ""), "running");
    let dump = run(&sb, &["dumpxml", "cli"]);
    assert!(
        dump.starts_with("<domain type='openvz' id='101'>"),
        "{dump}"
    );
    assert!(
        dump.contains("<source name='centos-6-x86_64'/>") && dump.contains("<guest dev='eth0'/>"),
        "{dump}"
    );
    run(&sb, &["setvcpus", "cli", "1"]);
    run(&sb, &["setmem", "cli", "131072"]);
    let info = run(&sb, &["dominfo", "cli"]);
    assert_eq!(field(&info, "CPU(s):"), "1");
    assert_eq!(field(&info, "Used memory:"), "131072 KiB");
    run(&sb, &["autostart", "cli"]);
    assert_eq!(
        field(&run(&sb, &["dominfo", "cli"]), "Autostart:"),
        "enable"
    );
    run(&sb, &["destroy", "cli"]);
    assert_eq!(field(&run(&sb, &["dominfo", "cli"]), "State:"), "shut off");
    run(&sb, &["undefine", "cli"]);
    assert!(!run(&sb, &["list", "--all"]).contains("cli"));
}

#[test]
fn a_host_without_openvz_is_one_line() {
    let sb = Sandbox::new();
    std::fs::remove_dir_all(sb.root().join("proc/vz")).unwrap();
    let out = virtkit(&sb.uri(), &["list", "--all"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OpenVZ control file") && err.contains("does not exist"),
        "{err}"
    );
    // A defined container that the tools refuse to start: the CLI shows the command and why.
    let sb = Sandbox::new();
    let xml = sb.root().join("ct.xml");
    std::fs::write(&xml, container_xml("broken", None, "")).unwrap();
    run(&sb, &["define", xml.to_str().unwrap()]);
    std::fs::remove_dir_all(sb.root().join("vz/private/101")).unwrap();
    let out = virtkit(&sb.uri(), &["start", "broken"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--quiet start 101' failed with exit status 43")
            && err.contains("private area"),
        "{err}"
    );
}
