//! The command line against libvirt 0.4.6's qemuxml2argv corpus.
//!
//! The corpus `.args` files are what the 2008 driver gave QEMU 0.9. QEMU 10 has removed most of
//! those options, so the comparison is not textual: the facts each old command line states (name,
//! memory, vCPUs, disks with their targets and media, NIC MACs and back ends, boot order, display
//! and VNC port, serial and parallel ports, sound cards, USB devices, clock, ACPI, reboot policy)
//! are read from both command lines and must agree. The cases come from `cases.tsv`, so the
//! held-back half of the corpus runs the same way when it is put in place.

use std::collections::BTreeSet;
use std::path::PathBuf;

use virtkit_qemu_driver::{ArgvContext, build_command};
use virtkit_xml::DomainDef;

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/qemuxml2argv"
    ))
}

/// What a command line says about a guest.
#[derive(Debug, Default, PartialEq, Eq)]
struct Facts {
    emulator: String,
    name: Option<String>,
    memory_mib: u64,
    vcpus: u32,
    /// (target, medium kind, path).
    disks: Vec<(String, String, String)>,
    macs: Vec<String>,
    /// NIC back ends: user, tap (bridge and network too), socket.
    net_backends: Vec<String>,
    /// NIC models, when the old line names one.
    nic_models: Vec<Option<String>>,
    boot: String,
    /// vnc, sdl or none.
    display: String,
    vnc_port: Option<u16>,
    serials: Vec<String>,
    parallels: Vec<String>,
    sounds: BTreeSet<String>,
    usb_devices: Vec<String>,
    localtime: bool,
    acpi: bool,
    no_reboot: bool,
    kernel: Option<String>,
    initrd: Option<String>,
}

/// Splits a `key=value,key=value` option, honouring QEMU's doubled-comma escape.
fn opts(s: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                parts.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p, String::new()),
        })
        .collect()
}

fn get<'a>(o: &'a [(String, String)], k: &str) -> Option<&'a str> {
    o.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

fn target_name(bus: &str, index: u32) -> String {
    let prefix = match bus {
        "ide" => "hd",
        "scsi" => "sd",
        "virtio" => "vd",
        "floppy" => "fd",
        "xen" => "xvd",
        other => panic!("unknown old bus {other}"),
    };
    let mut letters = String::new();
    let mut i = index as i64;
    loop {
        letters.insert(0, (b'a' + (i % 26) as u8) as char);
        i = i / 26 - 1;
        if i < 0 {
            break;
        }
    }
    format!("{prefix}{letters}")
}

/// Canonical form of a character device in the 2008 syntax (`pty`, `file:/x`, `tcp:h:p,server`).
fn old_chardev(s: &str) -> String {
    if let Some(rest) = s.strip_prefix("udp:") {
        return format!("udp:{}", rest.split('@').next().unwrap_or(rest));
    }
    s.replace(",listen", ",server")
}

/// The same canonical form from a modern `-chardev`.
fn new_chardev(s: &str) -> (String, String) {
    let o = opts(s);
    let backend = o[0].0.clone();
    let id = get(&o, "id").unwrap_or("").to_string();
    let server = if get(&o, "server") == Some("on") {
        ",server"
    } else {
        ""
    };
    let canon = match backend.as_str() {
        "serial" | "parallel" | "tty" | "parport" => get(&o, "path").unwrap().to_string(),
        "file" | "pipe" => format!("{backend}:{}", get(&o, "path").unwrap()),
        "udp" => format!(
            "udp:{}:{}",
            get(&o, "host").unwrap_or(""),
            get(&o, "port").unwrap_or("")
        ),
        "socket" => match get(&o, "path") {
            Some(p) => format!("unix:{p}{server}"),
            None => {
                let kind = if get(&o, "telnet") == Some("on") {
                    "telnet"
                } else {
                    "tcp"
                };
                format!(
                    "{kind}:{}:{}{server}",
                    get(&o, "host").unwrap_or(""),
                    get(&o, "port").unwrap_or("")
                )
            }
        },
        other => other.to_string(),
    };
    (id, canon)
}

const OLD_WITH_VALUE: &[&str] = &[
    "-M",
    "-m",
    "-smp",
    "-monitor",
    "-boot",
    "-hda",
    "-hdb",
    "-hdc",
    "-hdd",
    "-cdrom",
    "-fda",
    "-fdb",
    "-drive",
    "-net",
    "-serial",
    "-parallel",
    "-usbdevice",
    "-soundhw",
    "-vnc",
    "-name",
    "-kernel",
    "-initrd",
    "-append",
    "-bootloader",
    "-uuid",
    "-k",
    "-domid",
];

fn old_facts(line: &str, hvm: bool) -> Facts {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut f = Facts {
        emulator: words[0].to_string(),
        acpi: true,
        display: "sdl".into(),
        ..Default::default()
    };
    let mut i = 1;
    let mut nographic = false;
    while i < words.len() {
        let opt = words[i];
        if !OLD_WITH_VALUE.contains(&opt) {
            match opt {
                "-no-acpi" => f.acpi = false,
                "-localtime" => f.localtime = true,
                "-nographic" => nographic = true,
                "-no-reboot" => f.no_reboot = true,
                _ => {}
            }
            i += 1;
            continue;
        }
        let mut val = words.get(i + 1).copied().unwrap_or("").to_string();
        i += 2;
        if opt == "-append" {
            // The kernel command line may contain spaces: it runs up to the next option.
            while i < words.len()
                && !(words[i].starts_with('-') && OLD_WITH_VALUE.contains(&words[i]))
            {
                val.push(' ');
                val.push_str(words[i]);
                i += 1;
            }
        }
        match opt {
            "-name" => f.name = Some(val),
            "-m" => f.memory_mib = val.parse().unwrap(),
            "-smp" => f.vcpus = val.parse().unwrap(),
            "-boot" => f.boot = val,
            "-hda" | "-hdb" | "-hdc" | "-hdd" => {
                f.disks.push((opt[1..].to_string(), "disk".into(), val))
            }
            "-cdrom" => f.disks.push(("hdc".into(), "cdrom".into(), val)),
            "-fda" | "-fdb" => f.disks.push((opt[1..].to_string(), "floppy".into(), val)),
            "-drive" => {
                let o = opts(&val);
                let bus = get(&o, "if").unwrap_or("ide");
                let idx: u32 = get(&o, "index").unwrap_or("0").parse().unwrap();
                let kind = match (get(&o, "media"), bus) {
                    (Some("cdrom"), _) => "cdrom",
                    (_, "floppy") => "floppy",
                    _ => "disk",
                };
                f.disks.push((
                    target_name(bus, idx),
                    kind.into(),
                    get(&o, "file").unwrap_or("").to_string(),
                ));
            }
            "-net" => {
                let o = opts(&val);
                match o[0].0.as_str() {
                    "nic" => {
                        if let Some(m) = get(&o, "macaddr") {
                            f.macs.push(m.to_lowercase());
                        }
                        f.nic_models.push(get(&o, "model").map(str::to_string));
                    }
                    "none" => {}
                    other => f.net_backends.push(other.to_string()),
                }
            }
            "-serial" if val != "none" => f.serials.push(old_chardev(&val)),
            "-parallel" if val != "none" => f.parallels.push(old_chardev(&val)),
            "-soundhw" => f.sounds.extend(val.split(',').map(str::to_string)),
            "-usbdevice" => f.usb_devices.push(match val.strip_prefix("host:") {
                Some(h) if h.contains('.') => {
                    let (b, d) = h.split_once('.').unwrap();
                    format!(
                        "host:bus={},addr={}",
                        b.parse::<u32>().unwrap(),
                        d.parse::<u32>().unwrap()
                    )
                }
                Some(h) => {
                    let (v, p) = h.split_once(':').unwrap();
                    format!(
                        "host:vendor=0x{},product=0x{}",
                        v.to_lowercase(),
                        p.to_lowercase()
                    )
                }
                None => val,
            }),
            "-vnc" => {
                f.display = "vnc".into();
                let d: u16 = val.rsplit(':').next().unwrap().parse().unwrap();
                f.vnc_port = Some(5900 + d);
            }
            "-kernel" => f.kernel = Some(val),
            "-initrd" => f.initrd = Some(val),
            _ => {}
        }
    }
    if nographic && f.display == "sdl" {
        f.display = "none".into();
    }
    if !hvm {
        f.acpi = true;
    }
    f
}

fn new_facts(argv: &[String], hvm: bool) -> Facts {
    let mut f = Facts {
        emulator: argv[0].clone(),
        acpi: true,
        display: "none".into(),
        ..Default::default()
    };
    let mut drives: Vec<(String, String)> = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let opt = argv[i].as_str();
        let val = argv.get(i + 1).map(String::as_str).unwrap_or("");
        let takes_value = !matches!(
            opt,
            "-S" | "-no-user-config"
                | "-nodefaults"
                | "-no-reboot"
                | "-no-shutdown"
                | "-daemonize"
                | "-full-screen"
        );
        match opt {
            "-no-reboot" => f.no_reboot = true,
            "-name" => f.name = get(&opts(val), "guest").map(str::to_string),
            "-machine" => f.acpi = get(&opts(val), "acpi") != Some("off"),
            "-m" => {
                f.memory_mib = val
                    .strip_prefix("size=")
                    .unwrap()
                    .strip_suffix('k')
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    / 1024
            }
            "-smp" => {
                let o = opts(val);
                f.vcpus = get(&o, "maxcpus").unwrap_or(&o[0].0).parse().unwrap();
            }
            "-boot" => f.boot = get(&opts(val), "order").unwrap_or("").to_string(),
            "-rtc" => f.localtime = get(&opts(val), "base") == Some("localtime"),
            "-drive" => {
                let o = opts(val);
                let id = get(&o, "id")
                    .unwrap()
                    .strip_prefix("drive-")
                    .unwrap()
                    .to_string();
                drives.push((id, get(&o, "file").unwrap_or("").to_string()));
            }
            "-device" => {
                let o = opts(val);
                let dev = o[0].0.as_str();
                if let Some(drive) = get(&o, "drive") {
                    let target = drive.strip_prefix("drive-").unwrap();
                    let path = drives
                        .iter()
                        .find(|(t, _)| t == target)
                        .map(|(_, p)| p.clone())
                        .unwrap();
                    let kind = match dev {
                        "ide-cd" | "scsi-cd" => "cdrom",
                        "floppy" => "floppy",
                        _ => "disk",
                    };
                    f.disks.push((target.to_string(), kind.into(), path));
                } else if let Some(mac) = get(&o, "mac") {
                    f.macs.push(mac.to_string());
                    f.nic_models.push(Some(dev.to_string()));
                } else {
                    match dev {
                        "sb16" => drop(f.sounds.insert("sb16".into())),
                        "ES1370" => drop(f.sounds.insert("es1370".into())),
                        "AC97" => drop(f.sounds.insert("ac97".into())),
                        "usb-mouse" => f.usb_devices.push("mouse".into()),
                        "usb-tablet" => f.usb_devices.push("tablet".into()),
                        "usb-host" => {
                            f.usb_devices
                                .push(match (get(&o, "hostbus"), get(&o, "hostaddr")) {
                                    (Some(b), Some(a)) => format!("host:bus={b},addr={a}"),
                                    _ => format!(
                                        "host:vendor={},product={}",
                                        get(&o, "vendorid").unwrap(),
                                        get(&o, "productid").unwrap()
                                    ),
                                })
                        }
                        _ => {}
                    }
                }
            }
            "-netdev" => {
                let kind = opts(val)[0].0.clone();
                f.net_backends
                    .push(if kind == "bridge" { "tap".into() } else { kind });
            }
            "-chardev" => {
                let (id, canon) = new_chardev(val);
                if id.starts_with("charserial") {
                    f.serials.push(canon);
                } else if id.starts_with("charparallel") {
                    f.parallels.push(canon);
                }
            }
            "-vnc" => {
                f.display = "vnc".into();
                let disp = opts(val)[0].0.clone();
                let d: u16 = disp.rsplit(':').next().unwrap().parse().unwrap();
                f.vnc_port = Some(5900 + d);
            }
            "-display" if val.starts_with("sdl") => f.display = "sdl".into(),
            "-kernel" => f.kernel = Some(val.to_string()),
            "-initrd" => f.initrd = Some(val.to_string()),
            _ => {}
        }
        if opt == "-machine" && get(&opts(val), "pcspk-audiodev").is_some() {
            f.sounds.insert("pcspk".into());
        }
        i += if takes_value { 2 } else { 1 };
    }
    if !hvm {
        f.acpi = true;
    }
    f
}

/// Options QEMU 10 no longer has, or that the modern spelling replaces.
const REMOVED: &[&str] = &[
    "-no-acpi",
    "-soundhw",
    "-usbdevice",
    "-net",
    "-hda",
    "-hdb",
    "-hdc",
    "-hdd",
    "-cdrom",
    "-fda",
    "-fdb",
    "-localtime",
    "-monitor",
    "-bootloader",
    "-nographic",
    "-M",
];

#[test]
fn modern_command_lines_carry_the_corpus_facts() {
    let cases = std::fs::read_to_string(corpus().join("cases.tsv"))
        .expect("the shared corpus is beside the repository");
    let mut checked = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let xml = std::fs::read_to_string(corpus().join(cols[0])).unwrap();
        let old = std::fs::read_to_string(corpus().join(cols[1])).unwrap();
        let def = DomainDef::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", cols[0]));
        let ctx = ArgvContext {
            emulator: def
                .devices
                .emulator
                .clone()
                .unwrap_or_else(|| "/usr/bin/qemu-system-x86_64".into()),
            ..Default::default()
        };
        let cmd = build_command(&def, &ctx).unwrap_or_else(|e| panic!("{}: {e}", cols[0]));
        for r in REMOVED {
            assert!(
                !cmd.argv.iter().any(|a| a == r),
                "{}: the modern line has {r}: {:?}",
                cols[0],
                cmd.argv
            );
        }
        let hvm = def.is_hvm();
        let mut want = old_facts(old.trim_end(), hvm);
        let got = new_facts(&cmd.argv, hvm);
        // The old line named the guest only with the NAME capability; the modern one always does.
        assert_eq!(got.name.as_deref(), Some(def.name.as_str()), "{}", cols[0]);
        if want.name.is_none() {
            want.name = got.name.clone();
        }
        // A NIC model is a fact only where the old line gave one.
        for (w, g) in want.nic_models.iter_mut().zip(&got.nic_models) {
            match w.as_deref() {
                None => *w = g.clone(),
                Some("virtio") => *w = Some("virtio-net-pci".into()),
                Some(_) => {}
            }
        }
        assert_eq!(
            got,
            want,
            "{}: facts differ\nold: {}\nnew: {}",
            cols[0],
            old.trim_end(),
            cmd.to_line()
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} cases");
}

#[test]
fn the_facts_readers_agree_on_a_handmade_case() {
    // A check of the checker: a difference in any fact is seen.
    let xml = "<domain type='qemu'><name>g</name><memory>65536</memory><vcpu>2</vcpu>\
        <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os><devices>\
        <emulator>/usr/bin/qemu-system-x86_64</emulator>\
        <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>\
        <disk type='file' device='cdrom'><source file='/b.iso'/><target dev='hdc' bus='ide'/></disk>\
        <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>\
        <graphics type='vnc' port='5901'/></devices></domain>";
    let def = DomainDef::parse(xml).unwrap();
    let cmd = build_command(
        &def,
        &ArgvContext {
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let f = new_facts(&cmd.argv, true);
    assert_eq!(f.vcpus, 2);
    assert_eq!(f.memory_mib, 64);
    assert_eq!(f.boot, "dc");
    assert_eq!(f.vnc_port, Some(5901));
    assert_eq!(
        f.disks,
        vec![
            ("vda".into(), "disk".into(), "/a.img".into()),
            ("hdc".into(), "cdrom".into(), "/b.iso".into())
        ]
    );
    assert_eq!(f.macs, vec!["52:54:00:12:34:56".to_string()]);
    assert_eq!(f.nic_models, vec![Some("virtio-net-pci".to_string())]);
    let old = old_facts(
        "/usr/bin/qemu-system-x86_64 -S -M pc -m 64 -smp 2 -monitor pty -no-acpi -boot dc -drive file=/a.img,if=virtio,index=0 \
         -drive file=/b.iso,if=ide,media=cdrom,index=2 -net nic,macaddr=52:54:00:12:34:56,vlan=0,model=virtio -net user,vlan=0 \
         -serial none -parallel none -usb -vnc 127.0.0.1:1",
        true,
    );
    assert_eq!(old.disks, f.disks);
    assert_eq!(old.vnc_port, f.vnc_port);
    assert!(!old.acpi && !f.acpi);
    assert_eq!(old.macs, f.macs);
    assert_eq!(old.boot, f.boot);
}
