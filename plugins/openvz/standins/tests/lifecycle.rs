//! The openvz driver through the virtkit API, against the stand-in tools: every step is a real
//! `vzctl`/`vzlist` process acting on the sandbox's files.

mod common;

use common::{Sandbox, container_xml};
use virtkit::{DomainState, ErrorCode};
use virtkit_xml::{DomainDef, InterfaceSource};

const BRIDGED: &str = "<interface type='bridge'><source bridge='br0'/></interface><interface type='ethernet'><ip address='10.1.2.3'/></interface>";

#[test]
fn a_container_from_definition_to_undefinition() {
    let sb = Sandbox::new();
    let c = sb.open();
    assert_eq!(c.get_type().unwrap(), "OpenVZ");
    assert_eq!(c.version().unwrap(), 4_009_004);
    assert!(c.list_defined_domains().unwrap().is_empty());

    let d = c
        .define_domain_xml(&container_xml("web", Some("centos-6-x86_64"), BRIDGED))
        .unwrap();
    assert_eq!((d.name(), d.id()), ("web".to_string(), -1));
    assert_eq!(c.list_defined_domains().unwrap(), vec!["web".to_string()]);
    // The first free CTID above the reserved ones, and the config vzctl wrote.
    let conf = sb.conf(101).expect("101.conf");
    for want in [
        "NAME=\"web\"",
        "OSTEMPLATE=\"centos-6-x86_64\"",
        "CPUS=\"2\"",
        "PHYSPAGES=\"0:65536\"",
        "IP_ADDRESS=\"10.1.2.3\"",
        &format!("#UUID: {}", d.uuid()),
    ] {
        assert!(conf.contains(want), "{want} not in\n{conf}");
    }
    let def = DomainDef::parse(&d.xml_desc(0).unwrap()).unwrap();
    assert_eq!(def.domain_type, "openvz");
    assert_eq!(def.memory_kib, 262_144);
    assert_eq!(def.vcpus, 2);
    assert_eq!(def.devices.filesystems[0].source, "centos-6-x86_64");
    let ifs = &def.devices.interfaces;
    assert_eq!(ifs.len(), 2);
    let bridged = ifs
        .iter()
        .find(|i| matches!(i.source, InterfaceSource::Bridge { .. }))
        .unwrap();
    assert_eq!(bridged.guest_dev.as_deref(), Some("eth0"));
    assert_eq!(bridged.target_dev.as_deref(), Some("veth101.0"));
    assert!(bridged.mac.is_some());

    // Redefining from its own XML changes nothing.
    let again = c.define_domain_xml(&d.xml_desc(0).unwrap()).unwrap();
    assert_eq!(again.uuid(), d.uuid());
    assert_eq!(DomainDef::parse(&d.xml_desc(0).unwrap()).unwrap(), def);

    d.create().unwrap();
    let d = c.lookup_domain_by_name("web").unwrap();
    assert_eq!(d.id(), 101);
    assert_eq!(c.list_domains().unwrap(), vec![101]);
    assert_eq!(c.lookup_domain_by_id(101).unwrap().name(), "web");
    assert_eq!(c.lookup_domain_by_uuid(&d.uuid()).unwrap().name(), "web");
    assert_eq!(d.state().unwrap().0, DomainState::Running);
    assert_eq!(d.create().unwrap_err().code, ErrorCode::OperationInvalid);

    d.suspend().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Paused);
    // Another connection (another process would do the same) sees the pause.
    assert_eq!(
        sb.open_read_only()
            .lookup_domain_by_name("web")
            .unwrap()
            .state()
            .unwrap()
            .0,
        DomainState::Paused
    );
    assert_eq!(d.suspend().unwrap_err().code, ErrorCode::OperationInvalid);
    d.resume().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Running);
    d.reboot(0).unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Running);

    d.set_memory(524_288).unwrap();
    assert_eq!(d.max_memory().unwrap(), 524_288);
    d.set_vcpus(1).unwrap();
    assert_eq!(d.info().unwrap().nr_virt_cpu, 1);
    assert!(!d.autostart().unwrap());
    d.set_autostart(true).unwrap();
    assert!(d.autostart().unwrap());
    assert!(sb.conf(101).unwrap().contains("ONBOOT=\"yes\""));

    assert_eq!(d.undefine().unwrap_err().code, ErrorCode::OperationInvalid);
    d.destroy().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Shutoff);
    assert_eq!(d.destroy().unwrap_err().code, ErrorCode::OperationInvalid);
    d.undefine().unwrap();
    assert_eq!(
        c.lookup_domain_by_name("web").unwrap_err().code,
        ErrorCode::NoDomain
    );
    assert!(sb.conf(101).is_none());
    assert!(
        sb.root().join("etc/vz/conf/101.conf.destroyed").exists(),
        "vzctl destroy keeps the old config"
    );
}

#[test]
fn a_numeric_name_is_the_ctid_and_the_default_template_applies() {
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c
        .define_domain_xml(&container_xml("150", None, ""))
        .unwrap();
    assert_eq!(d.name(), "150");
    let conf = sb.conf(150).unwrap();
    assert!(conf.contains("OSTEMPLATE=\"debian-7.0-x86_64\""), "{conf}");
    assert!(!conf.contains("NAME="), "{conf}");
    let xml = d.xml_desc(0).unwrap();
    assert!(xml.contains("<source name='debian-7.0-x86_64'/>"), "{xml}");
    // The sample config's limits show as memtune.
    assert!(xml.contains("<memtune>"), "{xml}");
    let e = c
        .define_domain_xml(&container_xml("150", None, "").replace(
            "<name>",
            "<uuid>0b1c7a52-5c1d-4cd5-9b60-4f5d8f7f0d11</uuid><name>",
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::DomExist, "{e}");
}

#[test]
fn a_failing_tool_is_an_error_naming_the_command_and_leaves_nothing() {
    let sb = Sandbox::new();
    let c = sb.open();
    // No such template in the cache: vzctl create fails.
    let e = c
        .define_domain_xml(&container_xml("nocache", Some("fedora-99"), ""))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(
        e.message.contains("'virtkit-vzctl-standin --quiet create 101 --ostemplate fedora-99 --name nocache' failed with exit status 91")
            && e.message.contains("Cache file"),
        "{e}"
    );
    assert!(c.list_defined_domains().unwrap().is_empty());
    // Two interfaces with the same device name: create succeeds, `vzctl set` fails, and the
    // container is destroyed again.
    let twice = "<interface type='bridge'><source bridge='br0'/><guest dev='eth0'/></interface><interface type='bridge'><source bridge='br1'/><guest dev='eth0'/></interface>";
    let e = c
        .define_domain_xml(&container_xml("half", None, twice))
        .unwrap_err();
    assert!(
        e.message.contains("--quiet set 101") && e.message.contains("already exists"),
        "{e}"
    );
    assert!(c.list_defined_domains().unwrap().is_empty());
    assert!(sb.conf(101).is_none());
    assert!(!sb.root().join("vz/private/101").exists());
}

#[test]
fn invalid_definitions_are_refused_before_any_tool_runs() {
    let sb = Sandbox::new();
    let c = sb.open();
    let disk = container_xml(
        "d",
        None,
        "<disk type='file' device='disk'><source file='/x.img'/><target dev='hda'/></disk>",
    );
    let e = c.define_domain_xml(&disk).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.message.contains("no disks"), "{e}");
    let kernel =
        container_xml("k", None, "").replace("<init>", "<kernel>/boot/vmlinuz</kernel><init>");
    assert!(
        c.define_domain_xml(&kernel)
            .unwrap_err()
            .message
            .contains("<kernel>")
    );
    let name = container_xml("bad name", None, "");
    assert_eq!(
        c.define_domain_xml(&name).unwrap_err().code,
        ErrorCode::InvalidArg
    );
    assert_eq!(
        c.define_domain_xml("<domain").unwrap_err().code,
        ErrorCode::XmlError
    );
    assert!(
        std::fs::read_dir(sb.root().join("vz/private"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn an_existing_config_reads_as_libvirt_read_it() {
    let sb = Sandbox::new();
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/corpus/openvz/openvzutilstest.conf"
    );
    std::fs::copy(corpus, sb.root().join("etc/vz/conf/105.conf")).unwrap();
    std::fs::create_dir_all(sb.root().join("vz/private/105")).unwrap();
    // A read-only connection writes nothing and derives the UUID; a read-write one records it.
    let ro = sb.open_read_only();
    let d = ro.lookup_domain_by_name("105").unwrap();
    assert!(!sb.conf(105).unwrap().contains("#UUID:"));
    let rw = sb.open();
    assert!(
        sb.conf(105)
            .unwrap()
            .contains(&format!("#UUID: {}", d.uuid()))
    );
    let d = rw.lookup_domain_by_uuid(&d.uuid()).unwrap();
    let def = DomainDef::parse(&d.xml_desc(0).unwrap()).unwrap();
    assert_eq!(def.devices.filesystems[0].source, "rhel-5-lystor");
    assert!(d.autostart().unwrap(), "ONBOOT=\"yes\"");
    let nic = &def.devices.interfaces[1];
    assert_eq!(nic.target_dev.as_deref(), Some("veth105.10"));
    assert_eq!(nic.mac.unwrap().to_string(), "00:18:51:c1:05:ee");
}

#[test]
fn open_says_why_it_cannot() {
    let sb = Sandbox::new();
    std::fs::remove_dir_all(sb.root().join("proc/vz")).unwrap();
    let reg = virtkit::Registry::with_dirs(Vec::new());
    let e = virtkit::Connect::open_with(Some(&sb.uri()), false, &reg).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert!(
        e.message.contains("proc/vz does not exist") && !e.message.contains('\n'),
        "{e}"
    );
    std::fs::create_dir_all(sb.root().join("proc/vz")).unwrap();
    let uri = sb.uri().replace(common::VZCTL, "/nonexistent/vzctl");
    let e = virtkit::Connect::open_with(Some(&uri), false, &reg).unwrap_err();
    assert!(
        e.message
            .contains("vzctl is not installed at /nonexistent/vzctl"),
        "{e}"
    );
}

/// libvirt's sample OpenVZ domain (the schema corpus) defines a container whose XML is the
/// sample again: memory limits, template, disk space. Only `accessmode='passthrough'`, which
/// OpenVZ has no setting for, is not kept.
#[test]
fn the_corpus_domain_defines_and_reads_back() {
    let sb = Sandbox::new();
    let c = sb.open();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/corpus/openvz/domain-openvz-simple.xml"
    );
    let xml = std::fs::read_to_string(path).unwrap();
    let d = c.define_domain_xml(&xml).unwrap();
    assert_eq!(d.name(), "100");
    let conf = sb.conf(100).unwrap();
    for want in [
        "PRIVVMPAGES=\"65536:69632\"",
        "VMGUARPAGES=\"33792:33792\"",
        "DISKSPACE=\"1024:1126\"",
        "OSTEMPLATE=\"debian\"",
    ] {
        assert!(conf.contains(want), "{want} not in\n{conf}");
    }
    let mut want = DomainDef::parse(&xml).unwrap();
    want.devices.filesystems[0].access_mode = None;
    let got = DomainDef::parse(&d.xml_desc(0).unwrap()).unwrap();
    assert_eq!(got, want);
}

/// A tool that answers with something other than its documented output is an error naming the
/// command, never a panic or a guess.
#[test]
fn unexpected_tool_output_is_an_error_naming_the_command() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let fake = sb.root().join("garbage-vzlist");
    std::fs::write(&fake, "#!/bin/sh\necho 'CTID: one hundred and one'\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uri = sb.uri().replace(common::VZLIST, fake.to_str().unwrap());
    let c =
        virtkit::Connect::open_with(Some(&uri), false, &virtkit::Registry::with_dirs(Vec::new()))
            .unwrap();
    let e = c.list_domains().unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(
        e.message
            .contains("failed to parse the output of 'garbage-vzlist -a -octid,status -H'")
            && e.message.contains("CTID: one hundred"),
        "{e}"
    );
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'vzlist: cannot open /proc/vz/veinfo' >&2\nexit 9\n",
    )
    .unwrap();
    let e = c.list_defined_domains().unwrap_err();
    assert!(
        e.message.contains(
            "'garbage-vzlist -a -octid,status -H' failed with exit status 9: vzlist: cannot open"
        ),
        "{e}"
    );
}
