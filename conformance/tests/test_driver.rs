//! The in-tree test driver passes the suite, through its real plugin file.

mod common;

use virtkit_conformance::{Options, Outcome, run};

#[test]
fn the_test_driver_passes() {
    let plugin = common::built("libvirtkit_driver_test.so");
    let r = run(&plugin, &Options::default());
    assert!(r.success(), "{}", common::show(&r));
    assert_eq!(r.uri.as_deref(), Some("test:///default"));
    // Nothing is skipped but the checks of the two operations it leaves NULL.
    for c in &r.checks {
        if let Outcome::Skipped(reason) = &c.outcome {
            assert!(
                reason.contains("domain_xml_from_native")
                    || reason.contains("domain_xml_to_native"),
                "{}: {reason}",
                c.name
            );
        }
    }
    assert!(r.summary.passed > 100, "{}", r.summary_line());
    for name in [
        "lifecycle/start",
        "read-only/domain_destroy",
        "not-supported/domain_xml_to_native",
        "robustness/threads",
        "cleanup/nothing-left",
    ] {
        assert_eq!(
            r.check(name).map(|c| &c.outcome),
            Some(&Outcome::Passed),
            "{name}\n{}",
            common::show(&r)
        );
    }
}

/// The test driver declares `test` in its capabilities: a type of another hypervisor that no
/// driver of the connection declares is refused by the core, naming what is accepted.
#[test]
fn a_domain_type_the_test_driver_does_not_declare_is_refused_by_the_core() {
    use virtkit::{Connect, ErrorCode, Registry};
    let plugin = common::built("libvirtkit_driver_test.so");
    let conn = Connect::open_with(
        Some("test:///default"),
        false,
        &Registry::with_files(vec![plugin]),
    )
    .unwrap();
    let xml = "<domain type='toyhv'><name>vkc-not-declared</name><memory>65536</memory>\
        <os><type>hvm</type></os></domain>";
    let e = conn.define_domain_xml(xml).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg, "{e}");
    assert!(e.message.contains("unknown domain type 'toyhv'"), "{e}");
    assert!(e.message.contains("declare test;"), "{e}");
    assert!(conn.lookup_domain_by_name("vkc-not-declared").is_err());
    assert_eq!(conn.declared_domain_types(), ["test"]);
}
