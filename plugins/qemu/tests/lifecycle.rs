//! Real QEMU guests (TCG, 64 MiB, no disk) driven through the public API and the real plugin
//! file. Without QEMU each test prints a `skipped:` line and returns.

mod common;

use std::time::Duration;

use common::{Sandbox, alive, exists, guest_xml, have_qemu, registry, virtkit, wait_gone};
use virtkit::{Connect, DomainState, ErrorCode};

/// Runs `virtkit -c <sandbox> ARGS` as a second process (the real CLI, one process per
/// command, as a user at another terminal would) and returns its output.
fn other_process(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    virtkit(&sb.uri(), args).output().unwrap()
}

#[test]
fn the_whole_lifecycle() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.define_domain_xml(&guest_xml("life")).unwrap();
    assert_eq!(d.id(), -1);
    assert_eq!(c.list_defined_domains().unwrap(), vec!["life".to_string()]);
    assert!(c.list_domains().unwrap().is_empty());
    assert!(exists(&sb.config_dir().join("life.xml")));
    // Wrong-state actions fail as libvirt's do.
    for (what, r) in [
        ("suspend", d.suspend()),
        ("resume", d.resume()),
        ("destroy", d.destroy()),
        ("shutdown", d.shutdown()),
    ] {
        assert_eq!(
            r.unwrap_err().code,
            ErrorCode::OperationInvalid,
            "{what} of an inactive domain"
        );
    }
    assert_eq!(d.info().unwrap().state, DomainState::Shutoff);

    d.create().unwrap();
    let id = d.id();
    assert!(id > 0, "start gives an id");
    assert_eq!(c.list_domains().unwrap(), vec![id]);
    assert!(c.list_defined_domains().unwrap().is_empty());
    let info = d.info().unwrap();
    assert_eq!(
        (info.state, info.max_mem_kib, info.nr_virt_cpu),
        (DomainState::Running, 65536, 1)
    );
    assert_eq!(
        d.state().unwrap(),
        (DomainState::Running, 1),
        "running, booted"
    );
    assert_eq!(d.create().unwrap_err().code, ErrorCode::OperationInvalid);
    let pid = sb.pid("life").expect("QEMU wrote its pidfile");
    assert!(alive(pid));
    let sock = sb.run_dir().join("life.qmp");
    assert!(exists(&sock));

    d.suspend().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Paused);
    assert_eq!(d.suspend().unwrap_err().code, ErrorCode::OperationInvalid);
    d.resume().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Running);
    assert_eq!(d.resume().unwrap_err().code, ErrorCode::OperationInvalid);

    let xml = d.xml_desc(0).unwrap();
    assert!(
        xml.starts_with(&format!("<domain type='qemu' id='{id}'>")),
        "{xml}"
    );
    assert!(
        !d.xml_desc(2).unwrap().contains(" id="),
        "the inactive XML has no id"
    );
    assert!(c.lookup_domain_by_id(id).unwrap().name() == "life");

    // The balloon, vCPU threads and CPU time come from the live process.
    d.set_memory(32768).unwrap();
    // virDomainSetMemoryFlags on a running guest: LIVE goes through the balloon, CONFIG
    // changes only the definition of the next start, and the maximum cannot change live.
    d.set_memory_flags(30000, virtkit::VK_DOMAIN_AFFECT_LIVE)
        .unwrap();
    d.set_memory_flags(40000, virtkit::VK_DOMAIN_AFFECT_CONFIG)
        .unwrap();
    let inactive = d.xml_desc(virtkit::VK_DOMAIN_XML_INACTIVE).unwrap();
    assert!(inactive.contains(">40000</currentMemory>"), "{inactive}");
    let live = d.xml_desc(0).unwrap();
    assert!(!live.contains(">40000</currentMemory>"), "{live}");
    assert_eq!(
        d.set_memory_flags(
            131072,
            virtkit::VK_DOMAIN_AFFECT_LIVE | virtkit::VK_DOMAIN_MEM_MAXIMUM
        )
        .unwrap_err()
        .code,
        ErrorCode::OperationInvalid
    );
    let v = d.vcpus().unwrap();
    assert_eq!(v.len(), 1);
    assert!(!v[0].cpumap.is_empty());
    assert!(d.info().unwrap().cpu_time_ns > 0);
    d.shutdown().unwrap(); // accepted; a guest without an OS ignores the ACPI request
    d.reboot(0).unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Running);

    d.destroy().unwrap();
    assert!(
        wait_gone(pid, Duration::from_secs(1)),
        "QEMU is gone after destroy"
    );
    assert!(!exists(&sock), "the QMP socket is gone");
    assert!(!exists(&sb.run_dir().join("life.state")));
    assert_eq!(d.id(), -1);
    assert_eq!(d.info().unwrap().state, DomainState::Shutoff);
    assert_eq!(
        d.state().unwrap(),
        (DomainState::Shutoff, 2),
        "shut off, destroyed"
    );
    d.undefine().unwrap();
    assert_eq!(
        c.lookup_domain_by_name("life").unwrap_err().code,
        ErrorCode::NoDomain
    );
    assert!(!exists(&sb.config_dir().join("life.xml")));
}

#[test]
fn a_killed_guest_is_shut_off_and_cleaned_up() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.define_domain_xml(&guest_xml("victim")).unwrap();
    d.create().unwrap();
    let pid = sb.pid("victim").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_gone(pid, Duration::from_secs(5)));
    // A fresh connection (as another process would) and the old one agree: shut off.
    let again = sb.open();
    assert!(again.list_domains().unwrap().is_empty());
    assert_eq!(
        c.lookup_domain_by_name("victim")
            .unwrap()
            .info()
            .unwrap()
            .state,
        DomainState::Shutoff
    );
    assert_eq!(
        d.state().unwrap(),
        (DomainState::Shutoff, 3),
        "shut off, crashed"
    );
    for f in ["victim.state", "victim.pid", "victim.qmp"] {
        assert!(!exists(&sb.run_dir().join(f)), "{f} was cleaned up");
    }
    assert_eq!(
        c.list_defined_domains().unwrap(),
        vec!["victim".to_string()]
    );
    // It starts again.
    d.create().unwrap();
    assert_eq!(d.info().unwrap().state, DomainState::Running);
    d.destroy().unwrap();

    // A transient guest that dies disappears altogether.
    let t = c.create_domain_xml(&guest_xml("ephemeral"), 0).unwrap();
    assert!(!t.is_persistent().unwrap());
    let pid = sb.pid("ephemeral").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_gone(pid, Duration::from_secs(5)));
    assert_eq!(
        c.lookup_domain_by_name("ephemeral").unwrap_err().code,
        ErrorCode::NoDomain
    );
}

#[test]
fn a_second_process_sees_and_acts_on_the_guests_of_the_first() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let a = c.define_domain_xml(&guest_xml("first")).unwrap();
    a.create().unwrap();
    let b = c.create_domain_xml(&guest_xml("second"), 0).unwrap();
    b.suspend().unwrap();
    let out = other_process(&sb, &["-q", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `virtkit -q list`: one row per active guest, "id name state".
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace();
            let (id, name) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
            format!("{name}:{id}:{}", w.collect::<Vec<_>>().join(" "))
        })
        .collect();
    got.sort();
    let mut want = vec![
        format!("first:{}:running", a.id()),
        format!("second:{}:paused", b.id()),
    ];
    want.sort();
    assert_eq!(got, want);
    // The other process stops a guest this one started.
    let pid = sb.pid("first").unwrap();
    let out = other_process(&sb, &["destroy", "first"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!alive(pid));
    assert_eq!(a.info().unwrap().state, DomainState::Shutoff);
    b.destroy().unwrap();
    assert!(c.list_domains().unwrap().is_empty());
}

#[test]
fn defining_one_name_at_once_in_several_processes_gives_one_success() {
    let sb = Sandbox::new();
    let files = tempfile::tempdir().unwrap();
    // Each process defines `race` with its own UUID: one wins, the others clash.
    let uuids: Vec<String> = (0..4)
        .map(|i| format!("5ace0000-0000-4000-8000-00000000000{i}"))
        .collect();
    let runs: Vec<Vec<String>> = uuids
        .iter()
        .map(|u| {
            let f = files.path().join(format!("{u}.xml"));
            let xml = guest_xml("race").replace("<name>", &format!("<uuid>{u}</uuid><name>"));
            std::fs::write(&f, xml).unwrap();
            vec!["define".into(), f.to_str().unwrap().into()]
        })
        .collect();
    let results = race(&sb.uri(), &runs);
    let winners: Vec<usize> = (0..4).filter(|i| results[*i].status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one define succeeds: {results:?}");
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            let err = String::from_utf8_lossy(&r.stderr);
            assert!(
                err.contains("already exists"),
                "the losers clash with the winner: {err}"
            );
        }
    }
    let c = sb.open();
    assert_eq!(
        c.lookup_domain_by_name("race").unwrap().uuid_string(),
        uuids[winners[0]]
    );
}

/// Runs `virtkit -c URI ARGS` once per argument list, all at once, and returns each outcome
/// (in the order given) once every process has ended.
fn race(uri: &str, runs: &[Vec<String>]) -> Vec<std::process::Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            virtkit(uri, &args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn defining_one_uuid_under_several_names_at_once_gives_one_success() {
    let sb = Sandbox::new();
    let files = tempfile::tempdir().unwrap();
    const UUID: &str = "5ace0000-0000-4000-8000-0000000000aa";
    // Four processes define four names that share one UUID: one wins, and no second domain
    // with that UUID exists afterwards, whoever the winner is.
    let runs: Vec<Vec<String>> = (0..4)
        .map(|i| {
            let f = files.path().join(format!("twin{i}.xml"));
            let xml = guest_xml(&format!("twin{i}"))
                .replace("<name>", &format!("<uuid>{UUID}</uuid><name>"));
            std::fs::write(&f, xml).unwrap();
            vec!["define".into(), f.to_str().unwrap().into()]
        })
        .collect();
    let results = race(&sb.uri(), &runs);
    let winners: Vec<usize> = (0..4).filter(|i| results[*i].status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one define succeeds: {results:?}");
    let winner = format!("twin{}", winners[0]);
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            let err = String::from_utf8_lossy(&r.stderr);
            assert!(
                err.contains(&format!(
                    "domain '{winner}' is already defined with uuid {UUID}"
                )),
                "loser {i} names the winner and the UUID: {err}"
            );
        }
    }
    let c = sb.open();
    let mut defined = c.list_defined_domains().unwrap();
    defined.sort();
    assert_eq!(defined, vec![winner.clone()]);
    assert_eq!(c.lookup_domain_by_uuid_str(UUID).unwrap().name(), winner);
}

#[test]
fn starting_one_guest_from_two_threads_starts_it_once() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    c.define_domain_xml(&guest_xml("once")).unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let conn = sb.open();
                s.spawn(move || conn.lookup_domain_by_name("once").unwrap().create())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().find_map(|r| r.as_ref().err()).unwrap().code,
        ErrorCode::OperationInvalid
    );
    assert_eq!(c.list_domains().unwrap().len(), 1);
    c.lookup_domain_by_name("once").unwrap().destroy().unwrap();
}

/// A save path that reads as migration options in QEMU's `file:PATH,offset=N` URI form: the
/// stream goes through QMP's structured channel, so the path stays one value.
#[test]
fn save_and_restore_through_a_path_with_commas() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.create_domain_xml(&guest_xml("commas"), 0).unwrap();
    let img = sb.dir.path().join("c,offset=0,x.img");
    d.save(img.to_str().unwrap()).unwrap();
    assert!(std::fs::metadata(&img).unwrap().len() > 4096);
    assert!(
        !sb.dir.path().join("c").exists(),
        "nothing was written under the part before the comma"
    );
    c.restore_domain(img.to_str().unwrap()).unwrap();
    let back = c.lookup_domain_by_name("commas").unwrap();
    assert_eq!(back.state().unwrap(), (DomainState::Running, 3));
    // A dump's `file:PATH` is not option syntax either.
    let dump = sb.dir.path().join("d,paging=on.core");
    back.core_dump(dump.to_str().unwrap(), 0).unwrap();
    assert!(std::fs::read(&dump).unwrap().starts_with(b"\x7fELF"));
    back.destroy().unwrap();
}

#[test]
fn save_and_restore_through_a_file() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.create_domain_xml(&guest_xml("saver"), 0).unwrap();
    let img = sb.dir.path().join("saver.img");
    d.save(img.to_str().unwrap()).unwrap();
    assert_eq!(
        c.lookup_domain_by_name("saver").unwrap_err().code,
        ErrorCode::NoDomain,
        "a saved transient guest is gone"
    );
    assert!(std::fs::metadata(&img).unwrap().len() > 4096);
    c.restore_domain(img.to_str().unwrap()).unwrap();
    let back = c.lookup_domain_by_name("saver").unwrap();
    assert_eq!(
        back.state().unwrap(),
        (DomainState::Running, 3),
        "running, restored"
    );
    assert_eq!(back.uuid(), d.uuid());
    assert_eq!(
        c.restore_domain(img.to_str().unwrap()).unwrap_err().code,
        ErrorCode::OperationInvalid,
        "already running"
    );
    let dump = sb.dir.path().join("saver.core");
    back.core_dump(dump.to_str().unwrap(), 0).unwrap();
    assert!(std::fs::read(&dump).unwrap().starts_with(b"\x7fELF"));
    back.destroy().unwrap();
    let bogus = sb.dir.path().join("bogus.img");
    std::fs::write(&bogus, "not an image").unwrap();
    assert_eq!(
        c.restore_domain(bogus.to_str().unwrap()).unwrap_err().code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn autostart_runs_on_the_first_open_after_boot() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.define_domain_xml(&guest_xml("early")).unwrap();
    d.set_autostart(true).unwrap();
    assert!(d.autostart().unwrap());
    assert!(exists(&sb.config_dir().join("autostart/early.xml")));
    assert!(
        c.list_domains().unwrap().is_empty(),
        "nothing starts before the next boot"
    );
    // Pretend the host rebooted since autostart last ran.
    std::fs::write(sb.run_dir().join(".autostart.boot"), "an-earlier-boot\n").unwrap();
    let after = sb.open();
    assert_eq!(
        after
            .lookup_domain_by_name("early")
            .unwrap()
            .info()
            .unwrap()
            .state,
        DomainState::Running
    );
    // Only the first open does it.
    after
        .lookup_domain_by_name("early")
        .unwrap()
        .destroy()
        .unwrap();
    let _third = sb.open();
    assert!(c.list_domains().unwrap().is_empty());
    d.set_autostart(false).unwrap();
    assert!(!exists(&sb.config_dir().join("autostart/early.xml")));
    let t = c.create_domain_xml(&guest_xml("fleeting"), 0).unwrap();
    assert_eq!(
        t.set_autostart(true).unwrap_err().code,
        ErrorCode::OperationInvalid
    );
    t.destroy().unwrap();
}

#[test]
fn kvm_guests_run_or_are_refused_clearly() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let xml = guest_xml("fast").replace("type='qemu'", "type='kvm'");
    match c.create_domain_xml(&xml, 0) {
        Ok(d) => {
            assert!(virtkit_qemu_driver::kvm_usable());
            assert_eq!(d.info().unwrap().state, DomainState::Running);
            d.destroy().unwrap();
        }
        Err(e) => {
            assert!(!virtkit_qemu_driver::kvm_usable(), "{e}");
            assert_eq!(e.code, ErrorCode::ConfigUnsupported);
            assert!(e.message.contains("/dev/kvm"), "{e}");
        }
    }
    // kqemu is emulated like qemu.
    let d = c
        .create_domain_xml(&guest_xml("old").replace("type='qemu'", "type='kqemu'"), 0)
        .unwrap();
    d.destroy().unwrap();
}

#[test]
fn start_failures_leave_nothing_behind() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    // QEMU refuses the disk: the error carries QEMU's message.
    let xml = guest_xml("broken").replace(
        "</os>",
        "</os><devices><disk type='file' device='disk'><source file='/nonexistent/disk.img'/><target dev='vda'/></disk></devices>",
    );
    let d = c.define_domain_xml(&xml).unwrap();
    let e = d.create().unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(e.message.contains("/nonexistent/disk.img"), "{e}");
    assert_eq!(d.info().unwrap().state, DomainState::Shutoff);
    assert!(sb.pids().is_empty());
    for f in ["broken.state", "broken.pid", "broken.qmp"] {
        assert!(!exists(&sb.run_dir().join(f)), "{f}");
    }
    assert_eq!(
        d.state().unwrap(),
        (DomainState::Shutoff, 6),
        "shut off, failed"
    );
    // A missing emulator is named.
    let xml = guest_xml("noemu").replace(
        "</os>",
        "</os><devices><emulator>/nonexistent/qemu</emulator></devices>",
    );
    let e = c.create_domain_xml(&xml, 0).unwrap_err();
    assert!(e.message.contains("/nonexistent/qemu"), "{e}");
    assert_eq!(
        c.lookup_domain_by_name("noemu").unwrap_err().code,
        ErrorCode::NoDomain
    );
}

#[test]
fn definitions_follow_libvirts_rules() {
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.define_domain_xml(&guest_xml("rules")).unwrap();
    // Same name, other UUID: refused; same name and UUID: a redefinition.
    let other = guest_xml("rules").replace(
        "<name>",
        "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><name>",
    );
    assert_eq!(
        c.define_domain_xml(&other).unwrap_err().code,
        ErrorCode::DomExist
    );
    let again = guest_xml("rules")
        .replace("<name>", &format!("<uuid>{}</uuid><name>", d.uuid_string()))
        .replace(">64<", ">128<");
    c.define_domain_xml(&again).unwrap();
    assert_eq!(d.max_memory().unwrap(), 131072);
    // Same UUID, other name: refused.
    let renamed =
        guest_xml("other").replace("<name>", &format!("<uuid>{}</uuid><name>", d.uuid_string()));
    assert_eq!(
        c.define_domain_xml(&renamed).unwrap_err().code,
        ErrorCode::DomExist
    );
    // Foreign domain types and bad XML.
    let xen = guest_xml("x").replace("type='qemu'", "type='xen'");
    assert_eq!(
        c.define_domain_xml(&xen).unwrap_err().code,
        ErrorCode::ConfigUnsupported
    );
    assert_eq!(
        c.define_domain_xml("<domain type='qemu'><name>x</name>")
            .unwrap_err()
            .code,
        ErrorCode::XmlError
    );
    // The persisted XML parses back, with a generated MAC kept stable.
    let with_nic =
        guest_xml("nic").replace("</os>", "</os><devices><interface type='user'/></devices>");
    let n = c.define_domain_xml(&with_nic).unwrap();
    let x1 = n.xml_desc(0).unwrap();
    assert!(x1.contains("<mac address='52:54:00:"), "{x1}");
    assert_eq!(
        sb.open()
            .lookup_domain_by_name("nic")
            .unwrap()
            .xml_desc(0)
            .unwrap(),
        x1
    );
    // Inactive changes go to the definition.
    n.set_vcpus(2).unwrap();
    n.set_max_memory(100000).unwrap();
    n.set_memory(50000).unwrap();
    let info = n.info().unwrap();
    assert_eq!(
        (info.nr_virt_cpu, info.max_mem_kib, info.memory_kib),
        (2, 100000, 50000)
    );
    // virDomainSetMemoryFlags: an inactive domain has only its definition.
    n.set_memory_flags(
        120000,
        virtkit::VK_DOMAIN_AFFECT_CURRENT | virtkit::VK_DOMAIN_MEM_MAXIMUM,
    )
    .unwrap();
    n.set_memory_flags(60000, virtkit::VK_DOMAIN_AFFECT_CONFIG)
        .unwrap();
    let info = n.info().unwrap();
    assert_eq!((info.max_mem_kib, info.memory_kib), (120000, 60000));
    assert_eq!(
        n.set_memory_flags(60000, virtkit::VK_DOMAIN_AFFECT_LIVE)
            .unwrap_err()
            .code,
        ErrorCode::OperationInvalid
    );
    assert_eq!(
        n.set_memory_flags(130000, virtkit::VK_DOMAIN_AFFECT_CONFIG)
            .unwrap_err()
            .code,
        ErrorCode::InvalidArg
    );
    n.attach_device("<disk type='file' device='cdrom'><target dev='hdc'/></disk>")
        .unwrap();
    assert!(n.xml_desc(0).unwrap().contains("dev='hdc'"));
    n.detach_device("<disk type='file' device='cdrom'><target dev='hdc'/></disk>")
        .unwrap();
    assert_eq!(n.os_type().unwrap(), "hvm");
    assert!(n.is_persistent().unwrap());
    assert!(!n.has_managed_save_image().unwrap());
    n.undefine().unwrap();
    d.undefine().unwrap();
    assert_eq!(d.undefine().unwrap_err().code, ErrorCode::NoDomain);
    assert!(c.list_defined_domains().unwrap().is_empty());
}

#[test]
fn a_running_guest_changes_only_removable_media() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let iso = sb.dir.path().join("a.iso");
    std::fs::File::create(&iso)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let xml = guest_xml("media").replace(
        "</os>",
        "</os><devices><disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>\
         <serial type='pty'><target port='0'/></serial><graphics type='vnc' port='-1'/></devices>",
    );
    let d = c.create_domain_xml(&xml, 0).unwrap();
    let live = d.xml_desc(0).unwrap();
    assert!(
        live.contains("/dev/pts/"),
        "the live XML has the serial pty: {live}"
    );
    assert!(
        live.contains("<graphics type='vnc' port='59"),
        "the live XML has the VNC port: {live}"
    );
    let cd = format!(
        "<disk type='file' device='cdrom'><source file='{}'/><target dev='hdc' bus='ide'/></disk>",
        iso.display()
    );
    d.attach_device(&cd).unwrap();
    assert!(d.xml_desc(0).unwrap().contains(&iso.display().to_string()));
    d.detach_device(&cd).unwrap();
    assert!(!d.xml_desc(0).unwrap().contains(&iso.display().to_string()));
    let e = d.attach_device("<interface type='user'/>").unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.destroy().unwrap();
}

#[test]
fn node_capabilities_and_version() {
    let sb = Sandbox::new();
    let c = sb.open();
    assert_eq!(c.get_type().unwrap(), "QEMU");
    assert_eq!(c.drivers()[0].name, "qemu");
    assert!(c.drivers()[0].origin.ends_with("libvirtkit_driver_qemu.so"));
    let n = c.node_info().unwrap();
    assert!(n.cpus >= 1 && n.memory_kib > 0);
    assert_eq!(n.nodes * n.sockets * n.cores * n.threads, n.cpus);
    assert!(!c.hostname().unwrap().is_empty());
    assert_eq!(c.max_vcpus("qemu").unwrap(), 255);
    assert_eq!(
        c.max_vcpus("bogus").unwrap_err().code,
        ErrorCode::InvalidArg
    );
    assert_eq!(c.security_model().unwrap(), (String::new(), String::new()));
    if !have_qemu() {
        return;
    }
    let out = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .unwrap();
    let want = virtkit_qemu_driver::parse_version(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(c.version().unwrap(), want);
    let caps = c.capabilities().unwrap();
    let parsed = virtkit_xml::Capabilities::parse(&caps).unwrap();
    let g = parsed
        .guests
        .iter()
        .find(|g| g.arch.name == "x86_64")
        .unwrap_or_else(|| panic!("{caps}"));
    assert_eq!(g.arch.wordsize, Some(64));
    assert!(g.arch.machines.iter().any(|m| m.name == "pc"), "{caps}");
    assert!(g.arch.domains.iter().any(|d| d.domain_type == "qemu"));
    assert_eq!(
        g.arch.domains.iter().any(|d| d.domain_type == "kvm"),
        virtkit_qemu_driver::kvm_usable()
    );
    let argv = c
        .domain_xml_to_native("qemu-argv", &guest_xml("native"))
        .unwrap();
    assert!(argv.contains("-name guest=native"), "{argv}");
    assert!(argv.contains("-m size=65536k"), "{argv}");
}

#[test]
fn uris_and_read_only_connections() {
    let sb = Sandbox::new();
    // The conformance suite's sandbox URI.
    let (drivers, _) = virtkit::installed_drivers(&registry());
    let qemu = drivers.iter().find(|d| d.name == "qemu").unwrap();
    assert_eq!(qemu.schemes, vec!["qemu".to_string()]);
    let ro = Connect::open_with(Some(&sb.uri()), true, &registry()).unwrap();
    assert!(ro.list_domains().unwrap().is_empty());
    assert_eq!(
        ro.define_domain_xml(&guest_xml("x")).unwrap_err().code,
        ErrorCode::OperationDenied
    );
    let e = Connect::open_with(Some("qemu:///bogus"), false, &registry()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(e.message.contains("qemu:///session"), "{e}");
}
