//! The out-of-tree C driver, built here with `cc` against the current header, passes the suite
//! for what it declares. (The out-of-tree Rust driver is a cargo project of its own; `cargo xtask
//! test` builds it and runs the suite on it.)

mod common;

use virtkit_conformance::{Options, run};

#[test]
fn the_c_example_passes() {
    let (_dir, plugin) = common::build_c_toy(&common::root().join("abi/include"));
    // The toy declares no sandbox URI; its hypervisor lives in this process, so the suite may
    // use its one URI.
    let r = run(
        &plugin,
        &Options {
            uri: Some("toyhv:///".into()),
            ..Options::default()
        },
    );
    assert!(r.success(), "{}", common::show(&r));
}

/// The C toy brings its own domain type: the core accepts `<domain type='toyhv'>` on its
/// connection because the toy declares the type in its capabilities, the toy defines, starts and
/// dumps such a domain through the host services, and a type nobody declares is refused by the
/// core with the list of accepted ones.
#[test]
fn the_c_example_runs_its_own_domain_type() {
    use virtkit::{Connect, ErrorCode, Registry};
    let (_dir, plugin) = common::build_c_toy(&common::root().join("abi/include"));
    let conn = Connect::open_with(
        Some("toyhv:///"),
        false,
        &Registry::with_files(vec![plugin.clone()]),
    )
    .expect("toyhv:/// opens");
    assert_eq!(conn.declared_domain_types(), ["toyhv"]);
    let xml = "<domain type='toyhv'><name>own-type</name><memory unit='MiB'>64</memory>\
        <vcpu>3</vcpu><os><type>hvm</type></os><devices><disk type='file' device='disk'>\
        <source file='/img/own.raw'/><target dev='vda'/></disk></devices></domain>";
    let dom = conn.define_domain_xml(xml).expect("a toyhv domain defines");
    dom.create().expect("and starts");
    let dumped = dom.xml_desc(0).expect("and dumps");
    let def = virtkit_xml::DomainDef::parse(&dumped).unwrap();
    assert_eq!(def.domain_type, "toyhv", "{dumped}");
    assert_eq!(def.name, "own-type");
    assert_eq!((def.memory_kib, def.vcpus), (65536, 3), "{dumped}");
    assert!(def.id.is_some(), "a running domain has an id: {dumped}");
    assert_eq!(def.devices.disks[0].source.as_deref(), Some("/img/own.raw"));
    dom.destroy().unwrap();
    dom.undefine().unwrap();

    let e = conn
        .define_domain_xml(&xml.replace("toyhv", "toyhv2"))
        .expect_err("an undeclared type is refused");
    assert_eq!(e.code, ErrorCode::InvalidArg, "{e}");
    assert!(
        e.message.contains("unknown domain type 'toyhv2'") && e.message.contains("declare toyhv"),
        "{e}"
    );
    // A libvirt type is the driver's to judge: the toy refuses it itself.
    let e = conn
        .define_domain_xml(&xml.replace("toyhv", "kvm"))
        .expect_err("the toy runs toyhv guests only");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");
    // The host parses for the toy: an XML error comes back once, with its position.
    let e = conn.define_domain_xml("<domain type='toyhv'>").unwrap_err();
    assert!(e.message.starts_with("XML error at line"), "{e}");
}
