//! libvirt's read-only rule, enforced by the core whatever the driver does: a read-only
//! connection may read a domain's XML but not its secrets (`VIR_DOMAIN_XML_SECURE`,
//! `VIR_DOMAIN_XML_MIGRATABLE`), and may not use the native-format conversions at all. The
//! fixture driver answers every one of these calls, so each refusal here is the core's.

use std::path::Path;
use std::process::Command;

use virtkit::{Connect, ErrorCode, Registry, error_domain};

fn build(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = Command::new("cc")
        .args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-I"])
        .arg(root.join("abi/include"))
        .arg(root.join("loader/tests/fixtures/plugin.c"))
        .args(["-DFX_XML", "-DFX_KNOWS=\"x\"", "-o"])
        .arg(dir.join("libvirtkit_driver_fixture.so"))
        .output()
        .expect("cc is needed to build the fixture plugins");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn open(dir: &Path, read_only: bool) -> Connect {
    let reg = Registry::with_dirs(vec![dir.to_path_buf()]).without_static();
    Connect::open_with(Some("fixture:///"), read_only, &reg).unwrap()
}

fn assert_denied(r: virtkit::Result<String>, message: &str) {
    let e = r.expect_err("a read-only connection must refuse this");
    assert_eq!(e.code, ErrorCode::OperationDenied, "{e}");
    assert_eq!(e.domain, error_domain::NONE, "refused by the core: {e}");
    assert_eq!(e.message, message);
}

#[test]
fn secure_xml_and_native_conversions_are_refused_read_only() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());

    let ro = open(dir.path(), true);
    let dom = ro.lookup_domain_by_name("x").unwrap();
    // The plain description is a read.
    let plain = dom.xml_desc(0).unwrap();
    assert!(!plain.contains("secret"), "{plain}");
    // INACTIVE (2) and UPDATE_CPU (4) reveal nothing.
    dom.xml_desc(2 | 4).unwrap();
    for flags in [1, 8, 1 | 2, 8 | 4, 1 | 8] {
        assert_denied(
            dom.xml_desc(flags),
            "operation forbidden: virDomainGetXMLDesc with secure flag",
        );
    }
    assert_denied(
        ro.domain_xml_to_native(
            "fixture-argv",
            "<domain type='test'><name>x</name></domain>",
        ),
        "operation forbidden: read only access prevents virConnectDomainXMLToNative",
    );
    assert_denied(
        ro.domain_xml_from_native("fixture-argv", "native config"),
        "operation forbidden: read only access prevents virConnectDomainXMLFromNative",
    );

    // The same calls on a read-write connection reach the driver and succeed.
    let rw = open(dir.path(), false);
    let dom = rw.lookup_domain_by_name("x").unwrap();
    assert!(dom.xml_desc(1).unwrap().contains("passwd='secret'"));
    dom.xml_desc(8).unwrap();
    assert_eq!(
        rw.domain_xml_to_native("fixture-argv", "<domain/>")
            .unwrap(),
        "native config"
    );
    assert!(
        rw.domain_xml_from_native("fixture-argv", "native config")
            .unwrap()
            .contains("native")
    );
}
