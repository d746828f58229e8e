//! ABI evolution: a plugin built against the ABI as it was at 1.0 (the frozen copy of the 1.0
//! header in abi/tests/fixtures, and the toy driver's source as it was then, in
//! tests/fixtures/toy-abi-1.0.c) loads in the current core; its table is shorter and every later
//! entry reads as NULL, which the core answers with "not supported".

mod common;

use virtkit::{Connect, DomainState, ErrorCode, OPS, Op, Registry};
use virtkit_abi::{VK_ABI_MINOR, VK_TABLE_SIZE};
use virtkit_conformance::{Options, Outcome, run};

#[test]
fn a_plugin_built_against_abi_1_0_loads_with_later_entries_null() {
    const { assert!(VK_ABI_MINOR >= 1, "the test needs a core newer than 1.0") };
    let (_dir, plugin) =
        common::build_c_toy_abi_1_0(&common::root().join("abi/tests/fixtures/abi-1.0"));
    let d = Registry::load_file(&plugin).expect("a 1.0 plugin loads");
    assert_eq!(d.abi_version(), (1, 0));
    assert!(
        (d.struct_size() as usize) < VK_TABLE_SIZE,
        "struct_size {} is not shorter",
        d.struct_size()
    );
    let later: Vec<Op> = OPS
        .iter()
        .filter(|o| o.since_minor > 0)
        .map(|o| Op::ALL[o.index])
        .collect();
    assert!(!later.is_empty());
    for op in &later {
        assert!(!d.supports(*op), "{op:?} was added after 1.0");
    }
    assert!(d.supports(Op::DomainSuspend) && d.supports(Op::DomainGetInfo));

    // `virtkit drivers` counts its operations against the slots its 1.0 table has.
    let (summaries, refused) =
        virtkit::installed_drivers(&Registry::with_files(vec![plugin.clone()]));
    assert!(refused.is_empty(), "{refused:?}");
    let s = summaries
        .iter()
        .find(|s| s.name == "toy-c")
        .expect("the toy");
    let slots_1_0 = OPS.iter().filter(|o| o.since_minor == 0).count();
    assert_eq!(s.table_slots(), slots_1_0);
    assert!(s.table_slots() < OPS.len());
    assert!(s.supported.len() <= s.table_slots());

    // Through the core API: the 1.1 calls answer "not supported", naming the API.
    let conn = Connect::open_with(
        Some("toy:///default"),
        false,
        &Registry::with_files(vec![plugin.clone()]),
    )
    .unwrap();
    let dom = conn.lookup_domain_by_name("toy1").unwrap();
    let no_support = |r: virtkit::Result<()>, api: &str| {
        let e = r.expect_err(api);
        assert_eq!(e.code, ErrorCode::NoSupport, "{api}: {e}");
        assert!(e.message.contains(api), "{api}: {}", e.message);
    };
    no_support(dom.is_persistent().map(drop), "virDomainIsPersistent");
    no_support(
        dom.has_managed_save_image().map(drop),
        "virDomainHasManagedSaveImage",
    );
    no_support(dom.security_label().map(drop), "virDomainGetSecurityLabel");
    no_support(conn.security_model().map(drop), "virNodeGetSecurityModel");
    no_support(
        conn.domain_xml_from_native("xen-xm", "").map(drop),
        "virConnectDomainXMLFromNative",
    );
    no_support(
        conn.domain_xml_to_native("xen-xm", "<domain/>").map(drop),
        "virConnectDomainXMLToNative",
    );
    // virDomainGetState is answered by the core from virDomainGetInfo.
    assert_eq!(dom.state().unwrap().0, DomainState::Running);

    // And the suite agrees: the header of a 1.0 table is right, every 1.1 entry is NULL.
    let r = run(
        &plugin,
        &Options {
            uri: Some("toy:///default".into()),
            ..Options::default()
        },
    );
    for c in r
        .checks
        .iter()
        .filter(|c| c.name.starts_with("header/") && c.name != "header/sandbox-uri")
    {
        assert_eq!(
            c.outcome,
            Outcome::Passed,
            "{}\n{}",
            c.name,
            common::show(&r)
        );
    }
    for op in later {
        let name = format!("not-supported/{}", op.info().field);
        assert_eq!(
            r.check(&name).map(|c| &c.outcome),
            Some(&Outcome::Passed),
            "{name}\n{}",
            common::show(&r)
        );
    }
}
