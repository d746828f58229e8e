//! Debian's real virsh against virtkitd and against libvirtd's test driver: the same command
//! chains through `test+unix:///default?socket=...` print the same bytes through both daemons.
//!
//! Each chain runs in one virsh process (one connection), so both daemons start it from a fresh
//! `test:///default` node (libvirt's and virtkit's test drivers both drop the node when its last
//! connection closes). What the two cannot agree on is named where it is taken out: the socket
//! path inside the URI virsh prints, and CPU time (wall-clock based in both drivers).

mod common;

use common::*;

const DOMAIN_XML: &str = "<domain type='test'>
  <name>vm1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory>65536</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
";

const NETWORK_XML: &str = "<network>
  <name>net1</name>
  <uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid>
  <bridge name='virbr5'/>
  <ip address='192.168.5.1' netmask='255.255.255.0'/>
</network>
";

struct Pair {
    virsh: std::path::PathBuf,
    ours: Virtkitd,
    theirs: Libvirtd,
}

fn pair() -> Option<Pair> {
    let virsh = virtkit_test_support::find(&virtkit_test_support::VIRSH)?;
    let theirs = Libvirtd::start()?;
    Some(Pair {
        virsh,
        ours: Virtkitd::start(),
        theirs,
    })
}

/// Drops what depends on the run rather than on the daemon: the socket path, CPU time, and the
/// function an "unsupported flags" error names (libvirt names its driver's internal function,
/// `testDomainUndefineFlags`; virtkitd the API, `virDomainUndefineFlags`).
fn normalize(s: &str, socket: &std::path::Path) -> String {
    let s = s.replace(&socket.display().to_string(), "SOCKET");
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("in function ") {
        let after = &rest[i + "in function ".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        out.push_str(&rest[..i]);
        out.push_str("in function FUNCTION");
        rest = &after[end..];
    }
    out.push_str(rest);
    out.lines()
        .filter(|l| !l.starts_with("CPU time:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

impl Pair {
    /// Runs `chain` through both daemons (read-write or read-only socket) and asserts the same
    /// output and exit status; returns virtkitd's run.
    fn same_on(&self, chain: &str, read_only: bool) -> Run {
        let (our_uri, their_uri) = if read_only {
            (self.ours.ro_uri("/default"), self.theirs.ro_uri("/default"))
        } else {
            (self.ours.uri("/default"), self.theirs.uri("/default"))
        };
        let mut ours = run(&self.virsh, &["-c", &our_uri, chain]);
        let mut theirs = run(&self.virsh, &["-c", &their_uri, chain]);
        let (os, ts) = if read_only {
            (&self.ours.ro_socket, &self.theirs.ro_socket)
        } else {
            (&self.ours.socket, &self.theirs.socket)
        };
        ours.stdout = normalize(&ours.stdout, os);
        ours.stderr = normalize(&ours.stderr, os);
        theirs.stdout = normalize(&theirs.stdout, ts);
        theirs.stderr = normalize(&theirs.stderr, ts);
        assert_eq!(
            ours,
            theirs,
            "virsh '{chain}': virtkitd (left) and libvirtd (right) differ\nvirtkitd's log:\n{}",
            self.ours.log_text()
        );
        ours
    }

    fn same(&self, chain: &str) -> Run {
        self.same_on(chain, false)
    }
}

#[test]
fn node_and_connection_commands_match_libvirtd() {
    let Some(p) = pair() else { return };
    let r = p.same("nodeinfo; hostname; uri; version");
    assert!(r.stdout.contains("CPU model:"), "{}", r.stdout);
    assert!(r.stdout.contains("test+unix:///default?socket=SOCKET"));
}

/// Documents and error texts that are the driver's own (libvirt's test driver adds PCI
/// addresses, a memory balloon and host pages that virtkit's does not, and words some errors
/// differently; the CLI tests do not compare these with virsh either): virsh through virtkitd
/// prints what the virtkit CLI prints in-process with the same plugin, so the daemon carries
/// them unchanged, error codes and messages included.
#[test]
fn driver_documents_cross_the_daemon_unchanged() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let ours = Virtkitd::start();
    let cli = virtkit_test_support::built("virtkit");
    let chain = "capabilities; dumpxml test; dumpxml --inactive test; \
                 dumpxml --security-info --inactive test; net-dumpxml default; \
                 dominfo nosuch; net-info nosuch; suspend test; suspend test; resume test; \
                 resume test; destroy test; destroy test";
    let through = run(&virsh, &["-c", &ours.uri("/default"), chain]);
    let direct = run(&cli, &["-c", "test:///default", chain]);
    assert_eq!(
        through, direct,
        "virsh through virtkitd (left), virtkit (right)"
    );
    assert!(through.stdout.contains("<capabilities>"));
    assert!(through.stdout.contains("<name>test</name>"));
}

#[test]
fn domain_listing_and_reading_match_libvirtd() {
    let Some(p) = pair() else { return };
    let r = p.same(
        "list; list --all; list --inactive; list --name --all; list --uuid --all; list --id; \
         list --persistent; list --transient; list --state-running; list --state-paused; \
         list --autostart; list --no-autostart --all",
    );
    assert!(r.stdout.contains(" 1    test   running"), "{}", r.stdout);
    p.same("dominfo test; dominfo 1; dominfo 6695eb01-f6a4-8304-79aa-97f2502e193f");
    p.same("domstate test; domstate --reason test; domid test; domname 1; domuuid test");
    p.same("dominfo nosuch");
    p.same("domstate 42");
}

#[test]
fn domain_lifecycle_matches_libvirtd() {
    let Some(p) = pair() else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(&f, DOMAIN_XML).unwrap();
    let f = f.display();
    let r = p.same(&format!(
        "define {f}; list --all; dominfo vm1; start vm1; list --all; suspend vm1; domstate vm1; \
         list --all; resume vm1; domstate vm1; destroy vm1; list --inactive; start vm1; \
         destroy vm1; undefine vm1; list --all"
    ));
    assert!(r.stdout.contains("Domain 'vm1' defined"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Domain 'vm1' has been undefined"),
        "{}",
        r.stdout
    );
    p.same(&format!(
        "define {f}; autostart vm1; dominfo vm1; autostart --disable vm1; \
         setmem vm1 32M --config; dominfo vm1; start vm1; start vm1"
    ));
    p.same(&format!("create {f}; list; destroy vm1; list --all"));
}

#[test]
fn network_commands_match_libvirtd() {
    let Some(p) = pair() else { return };
    let r = p.same("net-list; net-list --all; net-info default; net-dumpxml default");
    assert!(r.stdout.contains("virbr0"), "{}", r.stdout);
    p.same("net-destroy default; net-list --all; net-info default; net-start default; net-list");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("net1.xml");
    std::fs::write(&f, NETWORK_XML).unwrap();
    p.same(&format!(
        "net-define {}; net-list --all; net-start net1; net-info net1; net-autostart net1; \
         net-list --autostart; net-destroy net1; net-undefine net1; net-list --all",
        f.display()
    ));
    p.same("net-info nosuch");
}

/// Every mutation through the read-only socket fails, with libvirtd's words; reading works.
#[test]
fn the_read_only_socket_refuses_every_mutation_like_libvirtd() {
    let Some(p) = pair() else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(&f, DOMAIN_XML).unwrap();
    let n = dir.path().join("net1.xml");
    std::fs::write(&n, NETWORK_XML).unwrap();
    let r = p.same_on("list --all; dominfo test; net-list --all", true);
    assert_eq!(r.code, 0, "{r:?}");
    for cmd in [
        format!("define {}", f.display()),
        format!("create {}", f.display()),
        "suspend test".into(),
        "resume test".into(),
        "destroy test".into(),
        "shutdown test".into(),
        "reboot test".into(),
        "undefine test".into(),
        "autostart test".into(),
        "setmem test 1M".into(),
        "setmaxmem test 1G".into(),
        "setvcpus test 1".into(),
        format!("net-define {}", n.display()),
        format!("net-create {}", n.display()),
        "net-start default".into(),
        "net-destroy default".into(),
        "net-undefine default".into(),
        "net-autostart default".into(),
        "dumpxml --security-info test".into(),
    ] {
        let r = p.same_on(&cmd, true);
        assert_ne!(r.code, 0, "{cmd}: {r:?}");
        assert!(
            r.stderr.contains("read only access prevents")
                || r.stderr.contains("operation forbidden"),
            "{cmd}: {r:?}"
        );
    }
    // And nothing changed.
    p.same_on("list --all; net-list --all", true);
}

/// The procedure numbers of virtkit-rpc's list are the ones real libvirt clients send to real
/// libvirtd: virsh runs each chain against libvirtd through a recording proxy, and the calls it
/// sent must include the listed number of each procedure the chain needs. A wrong number in the
/// list would be missing here (and libvirtd, not virtkitd, decides that the chain succeeds).
#[test]
fn the_procedure_numbers_are_those_virsh_sends_to_libvirtd() {
    use virtkit_rpc::Procedure as P;
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let Some(theirs) = Libvirtd::start() else {
        return;
    };
    let proxy = RecordingProxy::new(&theirs.socket);
    let uri = format!("test+unix:///default?socket={}", proxy.socket.display());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(&f, DOMAIN_XML).unwrap();
    let n = dir.path().join("net1.xml");
    std::fs::write(&n, NETWORK_XML).unwrap();
    let img = dir.path().join("test.img");
    let (f, n, img) = (f.display(), n.display(), img.display());
    let checks: Vec<(String, Vec<P>)> = vec![
        ("list --all".into(), vec![P::AuthList, P::ConnectOpen, P::ConnectSupportsFeature, P::ConnectListAllDomains, P::DomainGetState, P::ConnectClose]),
        ("dominfo test".into(), vec![P::DomainLookupByName, P::DomainGetOsType, P::DomainGetInfo, P::DomainIsPersistent, P::DomainGetAutostart, P::DomainHasManagedSaveImage, P::NodeGetSecurityModel, P::DomainGetSecurityLabel, P::DomainGetMessages]),
        ("domname 1; domid 6695eb01-f6a4-8304-79aa-97f2502e193f".into(), vec![P::DomainLookupById, P::DomainLookupByUuid]),
        ("dumpxml test; vcpuinfo test".into(), vec![P::DomainGetXmlDesc, P::DomainGetVcpus]),
        ("nodeinfo; hostname; version; capabilities; maxvcpus".into(), vec![P::NodeGetInfo, P::ConnectGetHostname, P::ConnectGetType, P::ConnectGetVersion, P::ConnectGetCapabilities, P::ConnectGetMaxVcpus]),
        (format!("define {f}; start vm1; suspend vm1; resume vm1; destroy vm1; undefine vm1"), vec![P::DomainDefineXml, P::DomainCreate, P::DomainSuspend, P::DomainResume, P::DomainDestroy, P::DomainUndefineFlags]),
        (format!("create {f}; shutdown vm1; reboot test; autostart test; setmaxmem test 9000000 --config; setmem test 1048576 --config; setvcpus test 1"), vec![P::DomainCreateXml, P::DomainShutdown, P::DomainReboot, P::DomainSetAutostart]),
        (format!("save test {img}; restore {img}"), vec![P::DomainSave, P::DomainRestore]),
        ("net-list --all; net-info default; net-dumpxml default; net-destroy default; net-start default".into(), vec![P::ConnectListAllNetworks, P::NetworkLookupByName, P::NetworkIsActive, P::NetworkIsPersistent, P::NetworkGetAutostart, P::NetworkGetBridgeName, P::NetworkGetXmlDesc, P::NetworkDestroy, P::NetworkCreate]),
        ("event --event lifecycle --timeout 1; net-event --event lifecycle --timeout 1".into(), vec![P::ConnectDomainEventCallbackRegisterAny, P::ConnectDomainEventCallbackDeregisterAny, P::ConnectNetworkEventRegisterAny, P::ConnectNetworkEventDeregisterAny]),
        (format!("define {f}; start --force-boot vm1; destroy --graceful vm1; undefine --managed-save vm1; domstate test"), vec![P::DomainCreateWithFlags, P::DomainDestroyFlags, P::DomainUndefineFlags, P::DomainGetState]),
        (format!("net-define {n}; net-autostart net1; net-undefine net1; net-create {n}; net-uuid net1; net-name aaaaaaaa-2222-3333-4444-555555555555"), vec![P::NetworkDefineXml, P::NetworkSetAutostart, P::NetworkUndefine, P::NetworkCreateXml, P::NetworkLookupByUuid]),
    ];
    let mut checked = std::collections::BTreeSet::new();
    for (chain, expected) in &checks {
        proxy.take();
        let r = run(&virsh, &["-c", &uri, chain]);
        // `virsh event` with a timeout ends with status 1 ("event loop timed out").
        let timed_out = chain.starts_with("event ") && r.stdout.contains("event loop timed out");
        assert!(
            r.code == 0 || timed_out,
            "virsh '{chain}' against libvirtd failed: {r:?}"
        );
        let sent = proxy.take();
        for p in expected {
            assert!(
                sent.contains(&p.number()),
                "virsh '{chain}' did not send REMOTE_PROC_{} = {} to libvirtd; it sent {sent:?}",
                p.info().name,
                p.number()
            );
            checked.insert(p.info().name);
        }
    }
    assert!(
        checked.len() >= 50,
        "only {} procedures checked",
        checked.len()
    );
}

/// virsh options that send flags to the `...Flags` procedures: the bits virtkit honours work,
/// the others are refused with libvirt's "unsupported flags (0x...)" error, as libvirtd's test
/// driver refuses the bits it does not know. Where the two drivers honour different bits, the
/// difference is asserted here, not hidden.
#[test]
fn flags_of_flags_procedures_match_libvirtd() {
    let Some(p) = pair() else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(&f, DOMAIN_XML).unwrap();
    let f = f.display();
    // (chain, whether a bit is refused); the refusals are bits neither test driver knows.
    // virsh retries `undefine --keep-nvram` and `--tpm` without the bit when the daemon
    // refuses it, through both.
    for (chain, refused) in [
        (
            format!("define --validate {f}; list --all; undefine --managed-save vm1; list --all"),
            false,
        ),
        (
            format!("define {f}; undefine --snapshots-metadata --checkpoints-metadata vm1"),
            false,
        ),
        (
            "undefine --managed-save test; list --all --persistent; list --transient".into(),
            false,
        ),
        (
            format!("define {f}; start --force-boot vm1; list --all; destroy vm1"),
            false,
        ),
        (
            "undefine --keep-nvram test; list --all --persistent".into(),
            false,
        ),
        (format!("create --validate {f}; domstate vm1"), false),
        (format!("create --paused {f}"), true),
        (format!("create --autodestroy {f}"), true),
        ("dumpxml --update-cpu test".into(), true),
        ("undefine --nvram test; list --all".into(), true),
        ("undefine --tpm test; list --all".into(), false),
        (
            format!("define {f}; start --autodestroy vm1; domstate vm1"),
            true,
        ),
        (
            format!("define {f}; start --bypass-cache vm1; domstate vm1"),
            true,
        ),
        (
            format!("define {f}; start --reset-nvram vm1; domstate vm1"),
            true,
        ),
    ] {
        let r = p.same(&chain);
        assert_eq!(
            r.stderr.contains("error: unsupported flags (0x"),
            refused,
            "{chain}: {r:?}"
        );
        if !refused {
            assert!(r.stderr.is_empty(), "{chain}: {r:?}");
        }
    }
}

/// Bits libvirt's test driver honours and virtkit does not (no driver implements them): the
/// daemon refuses them with libvirt's error instead of ignoring them.
#[test]
fn flags_virtkit_cannot_honour_are_refused_not_ignored() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let ours = Virtkitd::start();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(&f, DOMAIN_XML).unwrap();
    for (chain, refused) in [
        (
            "destroy --graceful test; domstate test".to_string(),
            "0x1) in function virDomainDestroyFlags",
        ),
        (
            "dumpxml --migratable test".into(),
            "0x8) in function virDomainGetXMLDesc",
        ),
        (
            format!("define {}; start --paused vm1; domstate vm1", f.display()),
            "0x1) in function virDomainCreateWithFlags",
        ),
    ] {
        let r = run(&virsh, &["-c", &ours.uri("/default"), &chain]);
        assert!(
            r.stderr
                .contains(&format!("error: unsupported flags ({refused}")),
            "{chain}: {r:?}"
        );
        // Nothing changed: the domain is as it was.
        assert!(
            r.stdout.contains("running")
                || r.stdout.contains("shut off")
                || r.stdout.trim().is_empty(),
            "{chain}: {r:?}"
        );
    }
}
