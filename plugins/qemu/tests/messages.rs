//! virDomainGetMessages on real QEMU guests: the taints libvirt's QEMU driver records when a
//! guest starts (QEMU running as root, a deprecated machine type), in libvirt's wording, through
//! the API and in `virtkit dominfo`; none once the guest stopped. (The same guest under libvirtd
//! 9.0 as root printed the same three lines.) Without QEMU the test prints a `skipped:` line and
//! returns.

mod common;

use common::{Sandbox, guest_xml, have_qemu, virtkit};
use virtkit::{ErrorCode, VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING};

const ROOT: &str = "tainted: running with undesirable elevated privileges";
const DEPRECATED: &str = "tainted: use of deprecated configuration settings";

/// A machine type the emulator marks deprecated, if it has one.
fn deprecated_machine() -> Option<String> {
    let out = std::process::Command::new("qemu-system-x86_64")
        .args(["-machine", "help"])
        .output()
        .ok()?;
    virtkit_qemu_driver::parse_deprecated_machines(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .next()
}

/// `virtkit dominfo NAME` from another process: its `Messages:` lines (the label line and the
/// continuation lines under it).
fn dominfo_messages(sb: &Sandbox, name: &str) -> Vec<String> {
    let out = virtkit(&sb.uri(), &["dominfo", name]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = lines.iter().position(|l| l.starts_with("Messages:")) else {
        return Vec::new();
    };
    lines[first..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn a_running_guest_reports_libvirts_taints() {
    if !have_qemu() {
        return;
    }
    let root = nix::unistd::geteuid().is_root();
    let sb = Sandbox::new();
    let c = sb.open();
    let machine = deprecated_machine();
    if machine.is_none() {
        eprintln!("note: qemu-system-x86_64 lists no deprecated machine type; not checked");
    }
    // A block CD-ROM on a device that is not a CD-ROM drive does not taint (libvirt asks the
    // drive), nor does a CD-ROM without a medium.
    let typed = match &machine {
        Some(m) => format!("<type arch='x86_64' machine='{m}'>"),
        None => "<type arch='x86_64'>".to_string(),
    };
    let xml = guest_xml("tainted")
        .replace("<type arch='x86_64'>", &typed)
        .replace(
            "</os>",
            "</os><devices><disk type='block' device='cdrom'><source dev='/dev/null'/>\
             <target dev='hdc' bus='ide'/></disk>\
             <disk type='file' device='cdrom'><target dev='hdd' bus='ide'/></disk></devices>",
        );
    let d = c.define_domain_xml(&xml).unwrap();
    assert_eq!(
        d.messages(0).unwrap(),
        Vec::<String>::new(),
        "a guest that never ran has no taint"
    );
    d.create().unwrap();
    let deprecations: Vec<String> = machine
        .iter()
        .map(|m| format!("deprecated configuration: machine type '{m}'"))
        .collect();
    let mut taints: Vec<&str> = Vec::new();
    if root {
        // virtkit runs QEMU as the user that starts it: as root, libvirt's high-privileges taint.
        taints.push(ROOT);
    }
    if machine.is_some() {
        taints.push(DEPRECATED);
    }
    let mut expected = taints.clone();
    expected.extend(deprecations.iter().map(String::as_str));
    assert_eq!(d.messages(0).unwrap(), expected);
    assert_eq!(d.messages(VK_DOMAIN_MESSAGE_TAINTING).unwrap(), taints);
    assert_eq!(
        d.messages(VK_DOMAIN_MESSAGE_DEPRECATION).unwrap(),
        deprecations
    );
    let e = d.messages(4).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(
        e.message
            .contains("unsupported flags (0x4) in function qemuDomainGetMessages"),
        "{e}"
    );
    // Another process reads them from the state file, and prints them as virsh 9.0 does.
    let lines: Vec<String> = expected
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{:<15} {m}", if i == 0 { "Messages:" } else { "" }))
        .collect();
    assert_eq!(dominfo_messages(&sb, "tainted"), lines);
    // A read-only connection reads them too.
    let ro = virtkit::Connect::open_with(Some(&sb.uri()), true, &common::registry()).unwrap();
    assert_eq!(
        ro.lookup_domain_by_name("tainted")
            .unwrap()
            .messages(0)
            .unwrap(),
        expected
    );
    // Stopping resets them, as libvirt's QEMU driver does.
    d.destroy().unwrap();
    assert_eq!(d.messages(0).unwrap(), Vec::<String>::new());
    assert_eq!(dominfo_messages(&sb, "tainted"), Vec::<String>::new());

    // A guest with nothing of the kind: only the privileges taint, when running as root.
    let plain = c.create_domain_xml(&guest_xml("plain"), 0).unwrap();
    let expected: Vec<&str> = if root { vec![ROOT] } else { vec![] };
    assert_eq!(plain.messages(0).unwrap(), expected);
    plain.destroy().unwrap();
}
