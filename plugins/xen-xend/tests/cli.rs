//! Every operation of the xen-xend member through the `virtkit` command, each a separate
//! process, against a xend peer seeded with the corpus's xend outputs: lists, details and
//! lookups, the life cycle of a seeded domain, save/restore/dump files, memory, vCPUs, pinning,
//! autostart, read-only refusals, the config versions, and each fault of the peer.

mod common;

use common::{Peer, virtkit_at};

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} line in\n{text}"))
        .trim()
}

#[test]
fn lists_details_and_lookups() {
    let p = Peer::start(&[]);
    let list = p.ok(&["list", "--all"]);
    for (id, name) in [
        ("0", "Domain-0"),
        ("5", "rhel5"),
        ("6", "pvtest"),
        ("1", "s10u4"),
    ] {
        assert!(
            list.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&id) && cells.get(1) == Some(&name)
            }),
            "{name} with id {id} in\n{list}"
        );
    }
    // The corpus's rhel5: 175 MiB of 385 MiB, one vCPU, 137.19 s of CPU.
    let info = p.ok(&["dominfo", "rhel5"]);
    assert_eq!(field(&info, "Id:"), "5");
    assert_eq!(
        field(&info, "UUID:"),
        "4f77abd2-3019-58e8-3bab-6fbf2118f880"
    );
    assert_eq!(field(&info, "OS Type:"), "linux");
    assert_eq!(field(&info, "Max memory:"), "394240 KiB");
    assert_eq!(field(&info, "Used memory:"), "179200 KiB");
    assert_eq!(field(&info, "CPU(s):"), "1");
    assert_eq!(field(&info, "CPU time:"), "137.2s");
    assert_eq!(field(&info, "State:"), "idle");
    // xend has no virDomainGetMessages (a NULL slot): like virsh when the call is unsupported,
    // dominfo prints no Messages line, even for a guest whose interface runs a script.
    let names = p.ok(&["list", "--all", "--name"]);
    let scripted = names
        .lines()
        .filter(|n| !n.is_empty())
        .find(|n| p.ok(&["dumpxml", n]).contains("<script "))
        .expect("a seeded guest with an interface script");
    let info = p.ok(&["dominfo", scripted]);
    assert!(info.contains("Managed save:"), "{info}");
    assert!(!info.contains("Messages:"), "{info}");
    // The same domain by id and by UUID.
    assert_eq!(p.ok(&["domname", "5"]).trim(), "rhel5");
    assert_eq!(p.ok(&["domid", "rhel5"]).trim(), "5");
    assert_eq!(
        p.ok(&["domname", "4f77abd2-3019-58e8-3bab-6fbf2118f880"])
            .trim(),
        "rhel5"
    );
    assert_eq!(
        p.ok(&["domuuid", "rhel5"]).trim(),
        "4f77abd2-3019-58e8-3bab-6fbf2118f880"
    );
    // An HVM guest of the corpus.
    assert_eq!(field(&p.ok(&["dominfo", "fvtest"]), "OS Type:"), "hvm");
    // Unknown domains are libvirt's "no domain" whichever way they are named.
    for key in ["nosuch", "4242", "11111111-2222-3333-4444-555555555555"] {
        let err = p.fails(false, &["dominfo", key]);
        assert!(err.contains("failed to get domain"), "{key}: {err}");
    }
    let node = p.ok(&["nodeinfo"]);
    assert_eq!(field(&node, "CPU(s):"), "4");
    assert_eq!(field(&node, "CPU frequency:"), "2400 MHz");
    assert_eq!(field(&node, "Memory size:"), "16777216 KiB");
    let version = p.ok(&["version"]);
    assert!(version.contains("hypervisor: Xen 3.1.0"), "{version}");
    let vcpus = p.ok(&["vcpuinfo", "rhel5"]);
    assert_eq!(field(&vcpus, "VCPU:"), "0");
    assert_eq!(field(&vcpus, "CPU Affinity:"), "yyyy");
    assert!(!p.ok(&["hostname"]).trim().is_empty());
}

#[test]
fn the_life_of_a_seeded_domain() {
    let p = Peer::start(&[]);
    let state = |d: &str| field(&p.ok(&["dominfo", d]), "State:").to_string();
    p.ok(&["suspend", "pvtest"]);
    assert_eq!(state("pvtest"), "paused");
    let err = p.fails(false, &["suspend", "pvtest"]);
    assert!(err.contains("already paused"), "{err}");
    p.ok(&["resume", "pvtest"]);
    assert_eq!(state("pvtest"), "running");
    // Reboot gives a new id, as Xen does.
    p.ok(&["reboot", "pvtest"]);
    let id: u32 = p.ok(&["domid", "pvtest"]).trim().parse().unwrap();
    assert!(id > 18, "new id {id}");
    // Memory and vCPUs.
    p.ok(&["setmaxmem", "pvtest", "524288"]);
    p.ok(&["setmem", "pvtest", "262144"]);
    let info = p.ok(&["dominfo", "pvtest"]);
    assert_eq!(field(&info, "Max memory:"), "524288 KiB");
    assert_eq!(field(&info, "Used memory:"), "262144 KiB");
    let err = p.fails(false, &["setmem", "pvtest", "1048576"]);
    assert!(err.contains("maximum"), "{err}");
    p.ok(&["setvcpus", "pvtest", "2"]);
    assert_eq!(field(&p.ok(&["dominfo", "pvtest"]), "CPU(s):"), "2");
    p.ok(&["vcpupin", "pvtest", "1", "2-3"]);
    let vcpus = p.ok(&["vcpuinfo", "pvtest"]);
    assert!(vcpus.contains("CPU Affinity:   --yy"), "{vcpus}");
    // Autostart (xend 3's on_xend_start).
    assert_eq!(
        field(&p.ok(&["dominfo", "pvtest"]), "Autostart:"),
        "disable"
    );
    p.ok(&["autostart", "pvtest"]);
    assert_eq!(field(&p.ok(&["dominfo", "pvtest"]), "Autostart:"), "enable");
    p.ok(&["autostart", "--disable", "pvtest"]);
    assert_eq!(
        field(&p.ok(&["dominfo", "pvtest"]), "Autostart:"),
        "disable"
    );
    // Shut down: a managed domain stays, inactive, and starts again with a new id.
    p.ok(&["shutdown", "pvtest"]);
    assert_eq!(state("pvtest"), "shut off");
    assert!(p.ok(&["list", "--inactive"]).contains("pvtest"));
    let err = p.fails(false, &["suspend", "pvtest"]);
    assert!(err.contains("not running"), "{err}");
    p.ok(&["start", "pvtest"]);
    assert_eq!(state("pvtest"), "running");
    let err = p.fails(false, &["start", "pvtest"]);
    assert!(err.contains("already active"), "{err}");
    let err = p.fails(false, &["undefine", "pvtest"]);
    assert!(err.contains("running"), "{err}");
    p.ok(&["destroy", "pvtest"]);
    p.ok(&["undefine", "pvtest"]);
    assert!(!p.ok(&["list", "--all"]).contains("pvtest "));
}

#[test]
fn save_restore_and_core_dump() {
    let p = Peer::start(&[]);
    let image = p.dir().join("rhel5.save");
    let core = p.dir().join("rhel5.core");
    let image_s = image.to_str().unwrap();
    p.ok(&["dump", "rhel5", core.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&core).unwrap().contains("rhel5"));
    p.ok(&["save", "rhel5", image_s]);
    assert_eq!(
        field(&p.ok(&["dominfo", "rhel5"]), "State:"),
        "shut off",
        "a saved managed domain stays defined"
    );
    p.ok(&["restore", image_s]);
    assert_eq!(field(&p.ok(&["dominfo", "rhel5"]), "State:"), "running");
    let err = p.fails(false, &["restore", image_s]);
    assert!(err.contains("already exists"), "{err}");
    let err = p.fails(false, &["save", "rhel5", "relative.save"]);
    assert!(err.contains("absolute"), "{err}");
    // A save image that is not one.
    let bogus = p.dir().join("bogus");
    std::fs::write(&bogus, "not an image").unwrap();
    let err = p.fails(false, &["restore", bogus.to_str().unwrap()]);
    assert!(err.contains("not a save image"), "{err}");
}

#[test]
fn read_only_connections_change_nothing() {
    let p = Peer::start(&[]);
    let image = p.dir().join("x.save");
    let image_s = image.to_str().unwrap();
    for args in [
        vec!["suspend", "rhel5"],
        vec!["destroy", "rhel5"],
        vec!["shutdown", "rhel5"],
        vec!["reboot", "rhel5"],
        vec!["save", "rhel5", image_s],
        vec!["setmem", "rhel5", "102400"],
        vec!["setvcpus", "rhel5", "2"],
        vec!["vcpupin", "rhel5", "0", "1"],
        vec!["autostart", "rhel5"],
        vec!["undefine", "rhel5"],
        vec!["restore", image_s],
    ] {
        let err = p.fails(true, &args);
        assert!(err.contains("read only access prevents"), "{args:?}: {err}");
    }
    // Reads still work, and nothing changed.
    let info = p.ok(&["dominfo", "rhel5"]);
    assert_eq!(field(&info, "State:"), "idle");
    assert_eq!(field(&info, "Used memory:"), "179200 KiB");
    assert!(!image.exists());
    let out = p.virtkit(true, &["list", "--all"]);
    assert!(out.status.success());
}

#[test]
fn config_version_2_keeps_no_inactive_domains() {
    let p = Peer::start(&["--config-version", "2"]);
    assert!(
        p.ok(&["list", "--inactive"])
            .lines()
            .all(|l| !l.contains("shut off"))
    );
    let err = p.fails(false, &["autostart", "rhel5"]);
    assert!(err.contains("config version 2"), "{err}");
    // A domain that stops is gone.
    p.ok(&["destroy", "rhel5"]);
    let err = p.fails(false, &["dominfo", "rhel5"]);
    assert!(err.contains("failed to get domain"), "{err}");
}

#[test]
fn faults_become_clear_errors() {
    for (fault, expect) in [
        ("drop", "closed the connection"),
        ("status500", "HTTP 500"),
        ("garbage", "not an S-expression"),
        ("huge", "larger than 8 MiB"),
        ("slow", "did not answer in time"),
    ] {
        // Faults on the domain list only: the connection opens, the list fails.
        let p = Peer::start(&["--fault", fault, "--fault-path", "/xend/domain"]);
        let out = virtkit_at(
            &p.uri(),
            false,
            &["list", "--all"],
            &[("VIRTKIT_XEND_TIMEOUT_MS", "300")],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{fault}: list succeeded");
        assert!(err.contains(expect), "{fault}: {err}");
        assert!(!err.contains("panicked"), "{fault}: {err}");
        // The same fault on the node description: the connection does not open.
        let p = Peer::start(&["--fault", fault, "--fault-path", "/xend/node"]);
        let out = virtkit_at(
            &p.uri(),
            false,
            &["list"],
            &[("VIRTKIT_XEND_TIMEOUT_MS", "300")],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{fault}: open succeeded");
        assert!(
            err.contains("failed to connect to the hypervisor"),
            "{fault}: {err}"
        );
        assert!(err.contains(expect), "{fault}: {err}");
    }
}

#[test]
fn no_daemon_and_bad_uris() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-socket");
    let out = virtkit_at(missing.to_str().unwrap(), false, &["list"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot connect to xend at"), "{err}");
    // The stack names the member and why it did not open.
    let out = virtkit_at(
        missing.to_str().unwrap(),
        false,
        &["list"],
        &[("VIRTKIT_DEBUG", "1")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("xen-xend skipped: cannot connect to xend"),
        "{err}"
    );
    for uri in ["xen:///?bogus=1", "http://localhost:0/"] {
        let out = virtkit_at(uri, false, &["list"], &[]);
        assert!(!out.status.success(), "{uri}");
    }
}

#[test]
fn over_tcp_with_a_warning() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let p = Peer::start(&["--tcp", &addr.to_string()]);
    let uri = format!("http://{addr}/");
    // The peer binds the port after the socket; wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "no TCP listener");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = virtkit_at(&uri, false, &["list"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rhel5"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("neither encrypted nor authenticated"), "{err}");
    drop(p);
}

#[test]
fn state_persists_across_peer_restarts() {
    let state = tempfile::tempdir().unwrap();
    let state_s = state.path().join("xend");
    let args = ["--state", state_s.to_str().unwrap()];
    let p = Peer::start(&args);
    p.ok(&["setmaxmem", "pvtest", "524288"]);
    drop(p);
    let p = Peer::start(&args);
    // The kept configuration wins over the seed; it comes back inactive.
    let info = p.ok(&["dominfo", "pvtest"]);
    assert_eq!(field(&info, "Max memory:"), "524288 KiB");
}

#[test]
fn the_connection_names_its_members() {
    let p = Peer::start(&[]);
    let out = p.ok(&["drivers", "--connection"]);
    let row = out
        .lines()
        .find(|l| l.starts_with(" xen-xend"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("serving"), "{out}");
    assert!(row.contains("libvirtkit_driver_xen_xend.so"), "{out}");
    // virsh's -d: the same on stderr when the connection opens.
    let out = p.virtkit(false, &["-d", "0", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("served by xen-xend"), "{err}");
}
