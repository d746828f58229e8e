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
