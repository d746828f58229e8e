//! `domxml-from-native qemu-argv` through the plugin: for every qemuxml2argv corpus domain the
//! driver accepts, XML → `domxml-to-native` → `domxml-from-native` → XML gives the same model,
//! up to what a command line cannot say or the driver fills in on its own (listed in
//! [`normalize`]). Every 2008 `.args` line of the corpus is read too, and gives the model of
//! its corpus XML under the same rules plus what a 2008 line never had (a name, a UUID).

mod common;

use common::Sandbox;
use virtkit::ErrorCode;
use virtkit_xml::{ChardevSource, DiskBus, DiskDevice, DomainDef, FormatOptions, InputBus};

fn corpus() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/qemuxml2argv"
    ))
}

fn cases() -> Vec<(String, String)> {
    std::fs::read_to_string(corpus().join("cases.tsv"))
        .expect("the shared corpus has qemuxml2argv/cases.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect()
}

/// What a command line cannot carry, or the driver decides by itself, made equal on both sides:
/// the emulator path (a missing `<emulator>` becomes `qemu-system-<arch>`), `currentMemory`
/// (set by the balloon after start), the default NIC model `rtl8139` given or not, `on_crash`, a MAC the driver generated, the `raw` format
/// and `qemu` driver name it writes, CD-ROMs being read-only, the bus a target name implies, a
/// PS/2 mouse (built into the PC), the VGA card added for graphics, the serial console (serial
/// port 0), port numbers of character devices, SATA and IDE on q35 (one AHCI controller), the default boot device, and the order of
/// sound cards (`pcspk` is a machine property).
fn normalize(d: &mut DomainDef, macs_from: Option<&DomainDef>) {
    d.devices.emulator = None;
    d.os.arch = None;
    d.current_memory_kib = d.memory_kib;
    d.on_crash = virtkit_xml::LifecycleAction::Destroy;
    for n in &mut d.devices.interfaces {
        if n.model.as_deref() == Some("rtl8139") {
            n.model = None;
        }
    }
    if let Some(other) = macs_from {
        for (n, o) in d
            .devices
            .interfaces
            .iter_mut()
            .zip(&other.devices.interfaces)
        {
            if n.mac.is_none() {
                n.mac = o.mac;
            }
        }
    }
    let q35 = d.os.machine.as_deref().is_some_and(|m| m.contains("q35"));
    for disk in &mut d.devices.disks {
        // q35's IDE is its AHCI controller: the two buses are one there.
        if q35 && disk.target_bus == Some(DiskBus::Sata) {
            disk.target_bus = Some(DiskBus::Ide);
        }
        if disk.source.is_some() && disk.driver_type.is_none() {
            disk.driver_type = Some("raw".into());
        }
        if disk.driver_name.as_deref() == Some("qemu") {
            disk.driver_name = None;
        }
        if disk.device == DiskDevice::Cdrom {
            disk.readonly = true;
        }
        if disk.target_bus.is_none() {
            let t = disk.target_dev.as_str();
            disk.target_bus = Some(
                if disk.device == DiskDevice::Floppy || t.starts_with("fd") {
                    DiskBus::Fdc
                } else if t.starts_with("sd") {
                    DiskBus::Scsi
                } else if t.starts_with("vd") {
                    DiskBus::Virtio
                } else if t.starts_with("ub") {
                    DiskBus::Usb
                } else {
                    DiskBus::Ide
                },
            );
        }
    }
    d.devices.inputs.retain(|i| {
        !(i.bus == Some(InputBus::Ps2) && i.input_type == virtkit_xml::InputType::Mouse)
    });
    if !d.devices.graphics.is_empty() && d.devices.videos.is_empty() {
        let vga = DomainDef::parse(
            "<domain type='qemu'><name>v</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices><video><model type='vga'/></video></devices></domain>",
        )
        .unwrap();
        d.devices.videos = vga.devices.videos;
    }
    if d.devices.serials.is_empty()
        && let Some(i) = d
            .devices
            .consoles
            .iter()
            .position(|c| matches!(c.target_type.as_deref(), None | Some("serial")))
    {
        let c = d.devices.consoles.remove(i);
        d.devices.serials.push(c);
    }
    d.devices
        .consoles
        .retain(|c| !matches!(c.target_type.as_deref(), None | Some("serial")));
    for c in d
        .devices
        .serials
        .iter_mut()
        .chain(&mut d.devices.parallels)
        .chain(&mut d.devices.consoles)
    {
        c.target_port = None;
        c.target_type = None;
        if let ChardevSource::Pty { path } = &mut c.source {
            *path = None;
        }
    }
    if d.os.boot.is_empty() && d.os.kernel.is_none() {
        d.os.boot = vec![virtkit_xml::BootDevice::HardDisk];
    }
    d.devices.sounds.sort_by_key(|s| s.model.as_str());
}

fn xml(d: &DomainDef) -> String {
    d.to_xml(&FormatOptions::default())
}

#[test]
fn xml_to_argv_to_xml_is_the_same_model_for_every_accepted_corpus_case() {
    let sb = Sandbox::new();
    let conn = sb.open();
    let (mut same, mut refused) = (0, 0);
    for (file, _) in cases() {
        let text = std::fs::read_to_string(corpus().join(&file)).unwrap();
        let argv = match conn.domain_xml_to_native("qemu-argv", &text) {
            Ok(a) => a,
            Err(e) => {
                assert!(
                    matches!(e.code, ErrorCode::ConfigUnsupported | ErrorCode::OsType),
                    "{file}: {e:?}"
                );
                refused += 1;
                continue;
            }
        };
        let back = conn
            .domain_xml_from_native("qemu-argv", &argv)
            .unwrap_or_else(|e| {
                panic!("{file}: cannot read back its own command line: {e}\n{argv}")
            });
        let mut a = DomainDef::parse(&text).unwrap();
        let mut b = DomainDef::parse(&back).unwrap();
        normalize(&mut b, None);
        normalize(&mut a, Some(&b));
        assert_eq!(
            xml(&a),
            xml(&b),
            "{file}: the round trip changed the model\n{argv}"
        );
        same += 1;
    }
    common::report(&format!(
        "argv_roundtrip: {same} corpus domains round-trip XML → argv → XML, {refused} refused at to-native"
    ));
    assert!(same > 0);
}

#[test]
fn the_2008_command_lines_of_the_corpus_read_back_to_their_xml() {
    let sb = Sandbox::new();
    let conn = sb.open();
    let (mut same, mut refused) = (0, 0);
    for (file, args) in cases() {
        let line = std::fs::read_to_string(corpus().join(&args)).unwrap();
        let text = std::fs::read_to_string(corpus().join(&file)).unwrap();
        let back = match conn.domain_xml_from_native("qemu-argv", line.trim()) {
            Ok(x) => x,
            Err(e) => {
                // Only what QEMU 10 cannot run is refused (the xenner guest).
                assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{args}: {e:?}");
                assert!(e.message.contains("xenner"), "{args}: {e}");
                refused += 1;
                continue;
            }
        };
        let mut a = DomainDef::parse(&text).unwrap();
        let mut b = DomainDef::parse(&back).unwrap();
        assert_eq!(b.name, "unnamed", "{args}: a 2008 line has no -name");
        // A 2008 line has no name or UUID, gives memory in MiB (libvirt 0.4 rounded down) and
        // knew no balloon.
        b.name = a.name.clone();
        b.uuid = a.uuid;
        a.memory_kib = a.memory_kib / 1024 * 1024;
        b.devices.memballoon = a.devices.memballoon.clone();
        normalize(&mut b, None);
        normalize(&mut a, Some(&b));
        assert_eq!(
            xml(&a),
            xml(&b),
            "{args}: reads back to another model\n{line}"
        );
        same += 1;
    }
    common::report(&format!(
        "argv_roundtrip: {same} 2008 command lines read back to their corpus XML, {refused} refused"
    ));
    assert!(same > 0);
}

#[test]
fn from_native_is_refused_on_read_only_connections_and_for_other_formats() {
    let sb = Sandbox::new();
    let conn = sb.open();
    let e = conn
        .domain_xml_from_native("xen-xm", "/usr/bin/qemu -m 64")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg, "{e:?}");
    let e = conn
        .domain_xml_from_native("qemu-argv", "/usr/bin/qemu -bogus")
        .unwrap_err();
    assert!(e.message.contains("unknown QEMU option '-bogus'"), "{e}");
    let ro = virtkit::Connect::open_with(Some(&sb.uri()), true, &common::registry()).unwrap();
    let e = ro
        .domain_xml_from_native("qemu-argv", "/usr/bin/qemu -m 64")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationDenied, "{e:?}");
}

/// Definitions with every kind of device the command line carries round-trip too. (A `bridge`
/// or `network` interface does not when the driver runs as root: it opens the tap itself and
/// adds it to the bridge, so the command line names only the tap, and reads back as `ethernet`.
/// As a user it is `-netdev bridge,br=`, which reads back as the bridge: a unit test.)
#[test]
fn every_kind_of_device_round_trips() {
    let sb = Sandbox::new();
    let conn = sb.open();
    let cases = [
        (
            "",
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>\
             <source file='/var/a,b.img'/><target dev='vda' bus='virtio'/><shareable/></disk>\
             <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sdb' bus='scsi'/><readonly/></disk>\
             <disk type='block' device='floppy'><source dev='/dev/fd0'/><target dev='fda' bus='fdc'/></disk>\
             <disk type='file' device='disk'><source file='/u.img'/><target dev='sda' bus='usb'/></disk>\
             <disk type='file' device='disk'><source file='/s.img'/><target dev='hdd' bus='sata'/></disk>",
        ),
        (
            "",
            "<interface type='user'><mac address='52:54:00:11:22:33'/><model type='virtio'/></interface>\
             <interface type='mcast'><mac address='52:54:00:11:22:34'/><source address='230.0.0.1' port='5558'/><model type='e1000'/></interface>\
             <interface type='server'><mac address='52:54:00:11:22:35'/><source address='127.0.0.1' port='5559'/></interface>\
             <interface type='client'><mac address='52:54:00:11:22:36'/><source address='127.0.0.1' port='5560'/></interface>\
             <interface type='ethernet'><mac address='52:54:00:11:22:37'/><target dev='tap7'/><script path='/etc/qemu-ifup'/></interface>",
        ),
        (
            "",
            "<serial type='vc'/><serial type='null'/><serial type='file'><source path='/tmp/s.log'/></serial>\
             <serial type='udp'><source mode='bind' host='127.0.0.1' service='9999'/><source mode='connect' host='127.0.0.1' service='9998'/></serial>\
             <parallel type='tcp'><source mode='bind' host='127.0.0.1' service='9997'/><protocol type='telnet'/></parallel>\
             <parallel type='unix'><source mode='connect' path='/tmp/p.sock'/></parallel>\
             <parallel type='dev'><source path='/dev/parport0'/></parallel>\
             <console type='pty'><target type='virtio'/></console>",
        ),
        (
            "<features><acpi/></features><clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/>\
             <timer name='hpet' present='no'/></clock><on_poweroff>preserve</on_poweroff><on_reboot>destroy</on_reboot>",
            "<input type='tablet' bus='usb'/><input type='keyboard' bus='virtio'/>\
             <graphics type='vnc' port='5905' listen='0.0.0.0' keymap='de'/><graphics type='sdl' display=':1' fullscreen='yes'/>\
             <video><model type='cirrus'/></video><sound model='ac97'/><sound model='ich9'/><sound model='pcspk'/>\
             <hostdev mode='subsystem' type='usb'><source><vendor id='0x0204'/><product id='0x6025'/></source></hostdev>\
             <filesystem type='mount' accessmode='mapped'><source dir='/srv/share'/><target dir='tag0'/><readonly/></filesystem>\
             <memballoon model='none'/>",
        ),
    ];
    for (i, (extra, devices)) in cases.iter().enumerate() {
        let text = format!(
            "<domain type='qemu'><name>rt{i}</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db18{i:02}</uuid>\
             <memory unit='MiB'>96</memory><vcpu current='1'>2</vcpu>\
             <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>\
             {extra}<devices>{devices}</devices></domain>"
        );
        let argv = conn
            .domain_xml_to_native("qemu-argv", &text)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        let back = conn
            .domain_xml_from_native("qemu-argv", &argv)
            .unwrap_or_else(|e| panic!("case {i}: cannot read back: {e}\n{argv}"));
        let mut a = DomainDef::parse(&text).unwrap();
        let mut b = DomainDef::parse(&back).unwrap();
        normalize(&mut b, None);
        normalize(&mut a, Some(&b));
        assert_eq!(
            xml(&a),
            xml(&b),
            "case {i}: the round trip changed the model\n{argv}"
        );
    }
}
