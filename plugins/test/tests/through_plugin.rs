//! The test driver loaded as a real plugin file (`libvirtkit_driver_test.so` from the build
//! directory) and driven through the public API.

use std::path::PathBuf;

use virtkit::{Connect, DomainState, ErrorCode, Registry};

/// The build directory that holds the plugin (`target/<profile>`), found from this test binary.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let so = dir.join("libvirtkit_driver_test.so");
    assert!(
        so.exists(),
        "{} is missing: run `cargo xtask build-plugins` first",
        so.display()
    );
    dir
}

fn registry() -> Registry {
    Registry::with_dirs(vec![plugin_dir()]).without_static()
}

fn open(uri: &str) -> Connect {
    Connect::open_with(Some(uri), false, &registry()).unwrap()
}

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/testdriver"
    ))
}

const XML: &str = "<domain type='test'><name>NAME</name><memory>65536</memory><vcpu>2</vcpu>\
    <os><type>hvm</type></os></domain>";

#[test]
fn the_default_node_is_libvirts() {
    let c = open("test:///default");
    let d = &c.drivers()[0];
    assert!(
        d.origin.ends_with("libvirtkit_driver_test.so"),
        "served by {}",
        d.origin
    );
    assert_eq!(c.get_type().unwrap(), "TEST");
    assert_eq!(c.version().unwrap(), 2);
    let dom = c.lookup_domain_by_id(1).unwrap();
    assert_eq!(dom.name(), "test");
    assert_eq!(dom.uuid_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    let info = dom.info().unwrap();
    assert_eq!(
        (
            info.state,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu
        ),
        (DomainState::Running, 8388608, 2097152, 2)
    );
    let n = c.node_info().unwrap();
    assert_eq!(
        (
            n.model.as_str(),
            n.cpus,
            n.mhz,
            n.nodes,
            n.sockets,
            n.cores,
            n.threads,
            n.memory_kib
        ),
        ("i686", 16, 1400, 2, 2, 2, 2, 3145728)
    );
    assert_eq!(c.list_networks().unwrap(), vec!["default".to_string()]);
    let caps = c.capabilities().unwrap();
    assert!(caps.contains("<domain type='test'/>"), "{caps}");
}

#[test]
fn state_rules_follow_libvirt() {
    let c = open("test:///default");
    let name = "rules-vm";
    let dom = c.define_domain_xml(&XML.replace("NAME", name)).unwrap();
    assert_eq!(dom.id(), -1);
    assert!(
        c.list_defined_domains()
            .unwrap()
            .contains(&name.to_string())
    );
    // Wrong-state operations fail with operation-invalid.
    for (what, r) in [
        ("suspend", dom.suspend()),
        ("resume", dom.resume()),
        ("destroy", dom.destroy()),
        ("shutdown", dom.shutdown()),
    ] {
        assert_eq!(
            r.unwrap_err().code,
            ErrorCode::OperationInvalid,
            "{what} of an inactive domain"
        );
    }
    dom.create().unwrap();
    assert!(dom.id() > 0, "start assigns an id");
    assert_eq!(dom.create().unwrap_err().code, ErrorCode::OperationInvalid);
    dom.suspend().unwrap();
    assert_eq!(dom.info().unwrap().state, DomainState::Paused);
    assert_eq!(dom.suspend().unwrap_err().code, ErrorCode::OperationInvalid);
    dom.resume().unwrap();
    assert_eq!(dom.info().unwrap().state, DomainState::Running);
    // Undefining a running domain makes it transient; stopping it then removes it.
    dom.undefine().unwrap();
    assert!(!dom.is_persistent().unwrap());
    dom.destroy().unwrap();
    assert_eq!(
        c.lookup_domain_by_name(name).unwrap_err().code,
        ErrorCode::NoDomain
    );
}

#[test]
fn state_is_shared_by_connections_to_the_same_uri() {
    let a = open("test:///default");
    let b = open("test:///default");
    let name = "shared-vm";
    a.define_domain_xml(&XML.replace("NAME", name)).unwrap();
    let seen = b.lookup_domain_by_name(name).unwrap();
    seen.undefine().unwrap();
    assert_eq!(
        a.lookup_domain_by_name(name).unwrap_err().code,
        ErrorCode::NoDomain
    );
}

#[test]
fn a_node_file_from_the_corpus() {
    let path = corpus().join("testnode.xml");
    let c = open(&format!("test://{}", path.display()));
    assert_eq!(c.list_domains().unwrap(), vec![1, 2]);
    let fc4 = c.lookup_domain_by_id(2).unwrap();
    assert_eq!(fc4.name(), "fc4");
    assert_eq!(fc4.uuid_string(), "ef861801-45b9-11cb-88e3-afbfe5370493");
    let by_uuid = c
        .lookup_domain_by_uuid_str("EF86180145B911CB88E3AFBFE5370493")
        .unwrap();
    assert_eq!(by_uuid.name(), "fc4");
    let n = c.node_info().unwrap();
    assert_eq!(
        (n.cpus, n.mhz, n.model.as_str(), n.memory_kib),
        (50, 6000, "i986", 8192000)
    );
    let mut nets = c.list_networks().unwrap();
    nets.sort();
    assert_eq!(nets, vec!["default".to_string(), "private".to_string()]);
}

#[test]
fn bad_uris_and_files_give_clear_errors() {
    let e =
        Connect::open_with(Some("test:///nonexistent/node.xml"), false, &registry()).unwrap_err();
    assert!(e.message.contains("/nonexistent/node.xml"), "{}", e.message);
    let e = Connect::open_with(Some("test:///"), false, &registry()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let c = open("test:///default");
    let e = c
        .define_domain_xml("<domain type='test'><name>x</name>")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::XmlError);
    let e = c.define_domain_xml("<domain type='test'><name>a/b</name><memory>1</memory><os><type>hvm</type></os></domain>").unwrap_err();
    assert_eq!(e.code, ErrorCode::XmlError, "{}", e.message);
}

#[test]
fn read_only_connections_refuse_changes_before_the_driver() {
    let c = Connect::open_with(Some("test:///default"), true, &registry()).unwrap();
    let dom = c.lookup_domain_by_name("test").unwrap();
    let e = dom.suspend().unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationDenied);
    assert_eq!(
        e.message,
        "operation forbidden: read only access prevents virDomainSuspend"
    );
    assert_eq!(
        c.define_domain_xml(XML).unwrap_err().code,
        ErrorCode::OperationDenied
    );
    // Reads still work.
    assert_eq!(dom.info().unwrap().state, DomainState::Running);
}

#[test]
fn save_restore_and_devices() {
    let c = open("test:///default");
    let dir = tempfile::tempdir().unwrap();
    let dom = c
        .create_domain_xml(&XML.replace("NAME", "saver"), 0)
        .unwrap();
    let img = dir.path().join("saver.img");
    dom.save(img.to_str().unwrap()).unwrap();
    assert_eq!(
        c.lookup_domain_by_name("saver").unwrap_err().code,
        ErrorCode::NoDomain,
        "a saved transient domain is gone"
    );
    c.restore_domain(img.to_str().unwrap()).unwrap();
    let back = c.lookup_domain_by_name("saver").unwrap();
    assert_eq!(back.info().unwrap().state, DomainState::Running);
    back.attach_device(
        "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='hdb'/></disk>",
    )
    .unwrap();
    assert!(back.xml_desc(0).unwrap().contains("/tmp/x.img"));
    back.detach_device(
        "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='hdb'/></disk>",
    )
    .unwrap();
    assert!(!back.xml_desc(0).unwrap().contains("/tmp/x.img"));
    back.destroy().unwrap();
}

#[test]
fn a_missing_plugin_names_the_file_and_the_directories() {
    let empty = tempfile::tempdir().unwrap();
    let reg = Registry::with_dirs(vec![empty.path().to_path_buf()]).without_static();
    let e = Connect::open_with(Some("qemu:///system"), false, &reg).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert!(
        e.message.contains("libvirtkit_driver_qemu.so"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(&empty.path().display().to_string()),
        "{}",
        e.message
    );
    assert!(e.message.contains("virtkit-driver-qemu"), "{}", e.message);
}

/// The API range-checks counts and sizes before a driver sees them: vCPU counts past libvirt's
/// unsigned short, memory sizes a definition could not hold (accepted once, the definition
/// would no longer parse), vCPU numbers and CPU maps past libvirt's limits.
#[test]
fn the_api_bounds_counts_and_sizes() {
    // The XML model and the API hold the same limits.
    assert_eq!(virtkit_xml::MAX_VCPUS, virtkit::MAX_VCPUS);
    assert_eq!(virtkit_xml::MAX_CPUSET_CPUS, virtkit::MAX_HOST_CPUS);
    let c = open("test:///default");
    // A guest of its own: the default node is shared by the tests of this process.
    let d = c
        .create_domain_xml(&XML.replace("NAME", "bounds"), 0)
        .unwrap();
    let before = d.xml_desc(0).unwrap();
    let refused = |r: virtkit::Result<()>, what: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg, "{what}: {e}");
        assert!(
            e.message.contains("out of range") || e.message.contains("longer than"),
            "{what}: {e}"
        );
    };
    refused(d.set_vcpus(65_536), "65536 vCPUs");
    refused(d.set_vcpus(2_147_483_648), "2^31 vCPUs");
    refused(d.set_vcpus(u32::MAX), "u32::MAX vCPUs");
    refused(
        d.set_max_memory(virtkit::MAX_MEMORY_KIB + 1),
        "max memory past the XML",
    );
    refused(d.set_max_memory(u64::MAX), "u64::MAX KiB");
    refused(d.set_memory(u64::MAX), "memory u64::MAX KiB");
    refused(d.pin_vcpu(virtkit::MAX_VCPUS, &[1]), "vCPU 65535");
    refused(d.pin_vcpu(0, &vec![1u8; 2049]), "a map of 16392 CPUs");
    assert_eq!(d.xml_desc(0).unwrap(), before, "nothing changed");
    // The largest memory the API takes is one the definition still holds.
    d.set_max_memory(virtkit::MAX_MEMORY_KIB).unwrap();
    let xml = d.xml_desc(0).unwrap();
    let back = virtkit_xml::DomainDef::parse(&xml).unwrap();
    assert_eq!(back.memory_kib, virtkit::MAX_MEMORY_KIB);
    // The driver's own limit (32, as libvirt's test driver) applies below the API's.
    let e = d.set_vcpus(33).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg, "{e}");
    assert_eq!(d.vcpus().unwrap().len(), 2);
    d.destroy().unwrap();
}

/// Issue 18, items 2 and 8: save and dump never replace what is not a regular file, and a node
/// file or save image is read only when it is a regular file under the cap.
#[test]
fn files_from_and_for_the_user_are_type_checked_and_capped() {
    use std::os::unix::fs::FileTypeExt;
    // `test:///dev/zero` once read 4.5 GB before failing.
    let e = Connect::open_with(Some("test:///dev/zero"), false, &registry()).unwrap_err();
    assert!(e.message.contains("a character device"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix_mkfifo(&fifo);
    let e = Connect::open_with(
        Some(&format!("test://{}", fifo.display())),
        false,
        &registry(),
    )
    .unwrap_err();
    assert!(e.message.contains("a FIFO"), "{e}");
    let big = dir.path().join("big.xml");
    std::fs::write(&big, vec![b' '; (10 << 20) + 1]).unwrap();
    let e = Connect::open_with(
        Some(&format!("test://{}", big.display())),
        false,
        &registry(),
    )
    .unwrap_err();
    assert!(e.message.contains("too large"), "{e}");
    // A node file referencing a device.
    let node = dir.path().join("node.xml");
    std::fs::write(&node, "<node><domain file='/dev/zero'/></node>").unwrap();
    let e = Connect::open_with(
        Some(&format!("test://{}", node.display())),
        false,
        &registry(),
    )
    .unwrap_err();
    assert!(e.message.contains("a character device"), "{e}");

    let c = open("test:///default");
    let dom = c.create_domain_xml(&XML.replace("NAME", "dst"), 0).unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"precious").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut refused = 0;
    for (path, what) in [
        (fifo.clone(), "a FIFO"),
        (link.clone(), "a symbolic link"),
        ("/dev/null".into(), "a character device"),
        (dir.path().to_path_buf(), "a directory"),
    ] {
        let p = path.to_str().unwrap();
        let e = dom.save(p).unwrap_err();
        assert!(e.message.contains(what), "save {p}: {e}");
        let e = dom.core_dump(p, 0).unwrap_err();
        assert!(e.message.contains(what), "dump {p}: {e}");
        refused += 2;
    }
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    assert_eq!(dom.info().unwrap().state, DomainState::Running);
    // restore reads only regular files.
    for (path, what) in [("/dev/zero", "a character device"), ("/", "a directory")] {
        let e = c.restore_domain(path).unwrap_err();
        assert!(e.message.contains(what), "{e}");
    }
    let e = c.restore_domain(fifo.to_str().unwrap()).unwrap_err();
    assert!(e.message.contains("a FIFO"), "{e}");
    // A dump onto an old regular file replaces it, 0600.
    let img = dir.path().join("dump.img");
    std::fs::write(&img, b"old").unwrap();
    dom.core_dump(img.to_str().unwrap(), 0).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&img).unwrap().permissions().mode() & 0o777,
        0o600
    );
    dom.destroy().unwrap();
    eprintln!(
        "files_from_and_for_the_user_are_type_checked_and_capped: 4 node files and {refused} save/dump destinations refused"
    );
}

fn nix_mkfifo(p: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(status.success());
}
