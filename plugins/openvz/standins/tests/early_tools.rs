//! With vzctl 3 (before the `ctid` column name), the driver lists containers with the column
//! libvirt's early driver asked for: `vzlist -a -ovpsid,status -H`. The stand-in behaves as the
//! version its `standin.conf` names.

mod common;

use common::{Sandbox, container_xml};

#[test]
fn vzctl_3_is_listed_by_vpsid() {
    let sb = Sandbox::new();
    std::fs::write(sb.root().join("standin.conf"), "VERSION=\"3.0.29\"\n").unwrap();
    // This vzlist knows no `ctid` column: asking for it would fail.
    let out = std::process::Command::new(common::VZLIST)
        .args(["-a", "-H", "-octid,status"])
        .env("VIRTKIT_OPENVZ_ROOT", sb.root())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Unknown field: ctid\n"
    );
    let c = sb.open();
    assert_eq!(c.version().unwrap(), 3_000_029);
    let d = c
        .define_domain_xml(&container_xml("120", None, ""))
        .unwrap();
    d.create().unwrap();
    assert_eq!(c.list_domains().unwrap(), vec![120]);
    d.destroy().unwrap();
    assert_eq!(c.list_defined_domains().unwrap(), vec!["120".to_string()]);
}
