//! The `Current` style against its reference: libvirt 9.0 itself. Each document in
//! `tests/data/peer` is defined in libvirt's in-process test driver (`virsh -c test:///default`),
//! libvirt's own output is read back with this crate and re-formatted, and the result must be
//! byte for byte what libvirt wrote.
//!
//! Needs `virsh` (Debian: libvirt-clients). Without it the test says SKIPPED and why; with `CI`
//! or `VIRTKIT_REQUIRE_VIRSH=1` set, a missing virsh is a failure (`virtkit_test_support`).

use std::fs;
use std::path::Path;
use std::process::Command;

use virtkit_test_support::{VIRSH, require};
use virtkit_xml::{Capabilities, DomainDef, FormatOptions, NetworkDef};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/peer");

fn virsh(program: &Path, commands: &str) -> String {
    let out = Command::new(program)
        .args(["-q", "-c", "test:///default", commands])
        .output()
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", program.display()));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "virsh '{commands}' failed:\n{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The document virsh printed after the definition commands (virsh adds a trailing blank line).
fn last_document(output: &str, root: &str) -> String {
    let start = output
        .rfind(&format!("<{root}"))
        .unwrap_or_else(|| panic!("no <{root}> in:\n{output}"));
    output[start..].trim_end().to_owned() + "\n"
}

fn name_of(xml: &str) -> String {
    let start = xml.find("<name>").unwrap() + "<name>".len();
    xml[start..start + xml[start..].find("</name>").unwrap()].to_owned()
}

fn peer_files(prefix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn domains_format_like_libvirt_9() {
    let virsh_bin = require!(VIRSH);
    let files = peer_files("domain-");
    assert!(files.len() >= 3);
    for path in files {
        let xml = fs::read_to_string(&path).unwrap();
        // Our own parse of the input must succeed too.
        DomainDef::parse(&xml).unwrap();
        let name = name_of(&xml);
        let p = path.display();
        for (dump, opts) in [
            (
                "dumpxml --inactive --security-info",
                FormatOptions::default()
                    .with_inactive(true)
                    .with_secure(true),
            ),
            (
                "dumpxml --inactive",
                FormatOptions::default().with_inactive(true),
            ),
        ] {
            let out = virsh(&virsh_bin, &format!("define {p}; {dump} {name}"));
            let theirs = last_document(&out, "domain");
            let def = DomainDef::parse(&theirs)
                .unwrap_or_else(|e| panic!("{p}: libvirt's output does not parse: {e}\n{theirs}"));
            assert_eq!(def.to_xml(&opts), theirs, "{p} with {dump}");
        }
        // The running form (with id) too.
        let out = virsh(
            &virsh_bin,
            &format!("define {p}; start {name}; dumpxml {name}"),
        );
        let theirs = last_document(&out, "domain");
        let def = DomainDef::parse(&theirs).unwrap();
        assert!(def.id.is_some());
        assert_eq!(def.to_xml(&FormatOptions::default()), theirs, "{p} running");
    }
}

#[test]
fn networks_format_like_libvirt_9() {
    let virsh_bin = require!(VIRSH);
    for path in peer_files("network-") {
        let xml = fs::read_to_string(&path).unwrap();
        NetworkDef::parse(&xml).unwrap();
        let p = path.display();
        let out = virsh(
            &virsh_bin,
            &format!("net-define {p}; net-dumpxml {}", name_of(&xml)),
        );
        let theirs = last_document(&out, "network");
        let def = NetworkDef::parse(&theirs).unwrap();
        assert_eq!(def.to_xml(&FormatOptions::default()), theirs, "{p}");
    }
    // The test driver's built-in network.
    let out = virsh(&virsh_bin, "net-dumpxml default");
    let theirs = last_document(&out, "network");
    assert_eq!(
        NetworkDef::parse(&theirs)
            .unwrap()
            .to_xml(&FormatOptions::default()),
        theirs
    );
}

#[test]
fn capabilities_and_builtin_domain_format_like_libvirt_9() {
    let virsh_bin = require!(VIRSH);
    let out = virsh(&virsh_bin, "capabilities");
    let theirs = last_document(&out, "capabilities");
    assert_eq!(Capabilities::parse(&theirs).unwrap().to_xml(), theirs);
    let out = virsh(&virsh_bin, "dumpxml test");
    let theirs = last_document(&out, "domain");
    let def = DomainDef::parse(&theirs).unwrap();
    assert_eq!(def.id, Some(1));
    assert_eq!(def.to_xml(&FormatOptions::default()), theirs);
    assert!(Path::new(DATA).is_dir());
}
