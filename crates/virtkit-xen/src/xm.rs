//! Domain descriptions between Xen's XM config files (`/etc/xen/<name>`, virsh's `xen-xm`
//! format) and libvirt's domain XML, through `virtkit-xml`'s [`DomainDef`] and
//! `virtkit-conf`'s [`Conf`].
//!
//! As libvirt 0.4.6 (`xenXMDomainConfigParse` / `xenXMDomainConfigFormat`), per xend config
//! version:
//!
//! | | 1 | 2 | 3 | 4 |
//! |---|---|---|---|---|
//! | HVM cdrom | `cdrom = "PATH"` (`hdc`) | a `disk` entry `…,hdc:cdrom,r` | same | same |
//! | HVM disk names | `ioemu:hda` | `hda` | same | same |
//! | PV graphics | `vnc = 1`, `vncunused`, … | same | `vfb = [ "type=vnc,…" ]` | same |
//! | HVM graphics | `vnc = 1`, … | same | same | `vfb = [ … ]` |
//! | HVM vif | `…,type=ioemu` | same | same | no `type` |
//!
//! Reading is tolerant where xm is (either graphics layout, integers written as strings,
//! `ioemu:` prefixes) and strict where a value would be misread: a missing name or UUID, an
//! unparsable number, MAC or IP address, an unknown lifecycle action, disk mode, character
//! device or sound model is an error naming the setting. Writing refuses what an XM config
//! cannot hold (a `,` inside a disk path, a second graphics device, a virtual-network
//! interface, HVM direct kernel boot, floppies) instead of dropping it, and checks that the
//! text it produces reads back to the same settings.
//!
//! Where libvirt 0.4.6 had a bug rather than a behaviour, virtkit does what xm means: every
//! letter of `boot` counts (libvirt repeated the first), a `vfb` is read for HVM guests too
//! (libvirt wrote it at config version 4 but read it only for PV guests), a `disk` or `vif`
//! entry that cannot be read is an error rather than silently dropped, a shared disk is written
//! `w!` (xm's spelling), and `localtime` is kept for PV guests.

use std::net::IpAddr;

use virtkit_conf::{Conf, Value};
use virtkit_xml::{
    BootDevice, ChardevDef, ChardevSource, ClockOffset, DiskBus, DiskDef, DiskDevice, DiskType,
    DomainDef, FormatOptions, GraphicsDef, InputBus, InputDef, InputType, InterfaceDef,
    InterfaceSource, LifecycleAction, MacAddr, SdlGraphics, VncGraphics, parse_uuid,
};

use crate::error::{Error, Result};
use crate::sxpr::{
    check_version, disk_order, ensure_representable, format_chardev, normalize_cpuset,
    parse_chardev, parse_sound,
};

/// The memory (MiB) of a config that gives none: twice xen's minimum guest size, as libvirt.
pub const XM_DEFAULT_MEMORY_MIB: u64 = 128;

/// The architecture written into `<os><type arch=… machine=…>` for guests read from XM
/// configs: libvirt took the first guest of the host's capabilities; a config file does not
/// say. `None` leaves both attributes out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmGuestArch {
    /// `i686`, `x86_64`, `ia64`, `ppc64`.
    pub arch: String,
}

impl XmGuestArch {
    /// The architecture Xen guests of this build's host get by default (`x86` → `i686`).
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86" => "i686",
            "powerpc64" => "ppc64",
            other => other,
        };
        XmGuestArch {
            arch: arch.to_owned(),
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidXm(message.into())
}

fn unsupported(message: impl Into<String>) -> Error {
    Error::Unsupported(message.into())
}

/// Converts XM config text to domain XML written with `opts`. libvirt 0.4.6's
/// `domxml-from-native xen-xm` is `FormatOptions::legacy()` with the VNC password shown.
pub fn xm_to_domain_xml(
    text: &str,
    config_version: u32,
    arch: Option<&XmGuestArch>,
    opts: &FormatOptions,
) -> Result<String> {
    let conf = Conf::parse(text)?;
    Ok(xm_to_domain(&conf, config_version, arch)?.to_xml(opts))
}

/// Converts domain XML to the XM config text libvirt writes for it.
pub fn domain_xml_to_xm(xml: &str, config_version: u32) -> Result<String> {
    let def = DomainDef::parse(xml)?;
    Ok(domain_to_xm(&def, config_version)?.to_string())
}

fn get_str<'a>(conf: &'a Conf, name: &str) -> Result<Option<&'a str>> {
    conf.get_str(name).map_err(invalid)
}

/// An integer setting; xm (Python) also takes a string holding one.
fn get_int(conf: &Conf, name: &str) -> Result<Option<i128>> {
    match conf.get(name) {
        None => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(Value::Str(s)) => s
            .trim()
            .parse::<i128>()
            .map(Some)
            .map_err(|_| invalid(format!("{name}: '{s}' is not an integer"))),
        Some(Value::List(_)) => Err(invalid(format!("{name}: expected an integer, not a list"))),
    }
}

fn get_u64(conf: &Conf, name: &str, max: u64) -> Result<Option<u64>> {
    match get_int(conf, name)? {
        None => Ok(None),
        Some(i) => u64::try_from(i)
            .ok()
            .filter(|&v| v <= max)
            .map(Some)
            .ok_or_else(|| invalid(format!("{name}: {i} is out of range (0 to {max})"))),
    }
}

fn get_bool(conf: &Conf, name: &str) -> Result<Option<bool>> {
    Ok(get_int(conf, name)?.map(|i| i != 0))
}

/// A list of strings; a lone string counts as a list of one, as xm allows.
fn get_list<'a>(conf: &'a Conf, name: &str) -> Result<Vec<&'a str>> {
    Ok(conf
        .get_str_list(name)
        .map_err(invalid)?
        .unwrap_or_default())
}

fn lifecycle(conf: &Conf, name: &str, default: LifecycleAction) -> Result<LifecycleAction> {
    match get_str(conf, name)? {
        None => Ok(default),
        Some(value) => LifecycleAction::from_name(value)
            .ok_or_else(|| invalid(format!("{name}: unknown lifecycle action '{value}'"))),
    }
}

/// Reads an XM config into a domain definition (an inactive one: no id).
pub fn xm_to_domain(
    conf: &Conf,
    config_version: u32,
    arch: Option<&XmGuestArch>,
) -> Result<DomainDef> {
    check_version(config_version)?;
    let name = get_str(conf, "name")?.ok_or_else(|| invalid("missing name"))?;
    if name.is_empty() || name.contains('/') {
        return Err(invalid(format!(
            "name: '{name}' is not a valid domain name"
        )));
    }
    let uuid_text = get_str(conf, "uuid")?.ok_or_else(|| invalid("missing uuid"))?;
    let uuid = parse_uuid(uuid_text)
        .ok_or_else(|| invalid(format!("uuid: '{uuid_text}' is not a UUID")))?;

    let hvm = get_str(conf, "builder")? == Some("hvm");
    let mut def = DomainDef::new("xen", name, if hvm { "hvm" } else { "xen" });
    def.uuid = uuid;
    if let Some(arch) = arch {
        def.os.arch = Some(arch.arch.clone());
        def.os.machine = Some(if hvm { "xenfv" } else { "xenpv" }.to_owned());
    }

    let owned =
        |name: &str| -> Result<Option<String>> { Ok(get_str(conf, name)?.map(str::to_owned)) };
    if hvm {
        def.os.loader = owned("kernel")?;
        let boot = get_str(conf, "boot")?.unwrap_or("c");
        for c in boot.chars() {
            let dev = match c {
                'a' => BootDevice::Floppy,
                'c' => BootDevice::HardDisk,
                'd' => BootDevice::Cdrom,
                'n' => BootDevice::Network,
                other => return Err(invalid(format!("boot: unknown boot device '{other}'"))),
            };
            if def.os.boot.len() < 4 {
                def.os.boot.push(dev);
            }
        }
    } else {
        def.bootloader = owned("bootloader")?;
        def.bootloader_args = owned("bootargs")?;
        def.os.kernel = owned("kernel")?;
        def.os.initrd = owned("ramdisk")?;
        def.os.cmdline = owned("extra")?;
        def.os.root = owned("root")?;
    }

    // Memory in MiB; the model keeps KiB.
    const MAX_MIB: u64 = u64::MAX / 1024;
    let memory = get_u64(conf, "memory", MAX_MIB)?.unwrap_or(XM_DEFAULT_MEMORY_MIB);
    let maxmem = get_u64(conf, "maxmem", MAX_MIB)?.unwrap_or(memory);
    def.memory_kib = maxmem.max(memory) * 1024;
    def.current_memory_kib = memory * 1024;
    if let Some(vcpus) = get_u64(conf, "vcpus", u64::from(u32::MAX))? {
        if vcpus == 0 {
            return Err(invalid("vcpus: a domain needs at least one vCPU"));
        }
        def.vcpus = vcpus as u32;
    }
    if let Some(cpus) = get_str(conf, "cpus")?.filter(|c| !c.is_empty()) {
        def.cpuset = Some(normalize_cpuset(cpus).map_err(|e| invalid(format!("cpus: {e}")))?);
    }

    def.on_poweroff = lifecycle(conf, "on_poweroff", LifecycleAction::Destroy)?;
    def.on_reboot = lifecycle(conf, "on_reboot", LifecycleAction::Restart)?;
    def.on_crash = lifecycle(conf, "on_crash", LifecycleAction::Restart)?;

    if hvm {
        def.features.pae = get_bool(conf, "pae")?.unwrap_or(false);
        def.features.acpi = get_bool(conf, "acpi")?.unwrap_or(false);
        def.features.apic = get_bool(conf, "apic")?.unwrap_or(false);
    }
    if get_bool(conf, "localtime")?.unwrap_or(false) {
        def.clock.offset = ClockOffset::Localtime;
    }
    def.devices.emulator = owned("device_model")?;

    for entry in get_list(conf, "disk")? {
        let disk = parse_disk(entry, hvm, config_version)
            .map_err(|e| invalid(format!("disk entry '{entry}': {e}")))?;
        def.devices.disks.push(disk);
    }
    if hvm
        && config_version == 1
        && let Some(cdrom) = get_str(conf, "cdrom")?.filter(|s| !s.is_empty())
    {
        def.devices.disks.push(DiskDef {
            disk_type: DiskType::File,
            device: DiskDevice::Cdrom,
            driver_name: Some("file".to_owned()),
            driver_type: None,
            driver_cache: None,
            source: Some(cdrom.to_owned()),
            target_dev: "hdc".to_owned(),
            target_bus: Some(DiskBus::Ide),
            readonly: true,
            shareable: false,
            address: None,
        });
    }
    // libvirt keeps disks sorted by bus and target (a stable sort keeps equal keys in order).
    def.devices.disks.sort_by_key(disk_order);

    for entry in get_list(conf, "vif")? {
        let net = parse_vif(entry).map_err(|e| invalid(format!("vif entry '{entry}': {e}")))?;
        def.devices.interfaces.push(net);
    }

    if hvm && let Some(usb) = get_str(conf, "usbdevice")? {
        let input_type = match usb {
            "tablet" => Some(InputType::Tablet),
            "mouse" => Some(InputType::Mouse),
            // Host devices passed through (host:…) are not inputs.
            _ => None,
        };
        if let Some(input_type) = input_type {
            def.devices.inputs.push(InputDef {
                input_type,
                bus: Some(InputBus::Usb),
                address: None,
            });
        }
    }

    read_graphics(conf, &mut def, hvm)?;
    // With graphics there is an implicit mouse, which libvirt lists after the USB ones.
    if !def.devices.graphics.is_empty() {
        def.devices.inputs.push(InputDef {
            input_type: InputType::Mouse,
            bus: Some(if hvm { InputBus::Ps2 } else { InputBus::Xen }),
            address: None,
        });
    }

    if hvm {
        if let Some(parallel) = get_str(conf, "parallel")?.filter(|s| *s != "none") {
            let chr =
                parse_chardev(parallel, None).map_err(|e| invalid(format!("parallel: {e}")))?;
            def.devices.parallels.push(chr);
        }
        if let Some(serial) = get_str(conf, "serial")?.filter(|s| *s != "none") {
            let chr = parse_chardev(serial, None).map_err(|e| invalid(format!("serial: {e}")))?;
            // libvirt shows an HVM guest's first serial port as its console too.
            def.devices.consoles.push(chr.clone());
            def.devices.serials.push(chr);
        }
        if let Some(sound) = get_str(conf, "soundhw")?.filter(|s| !s.is_empty()) {
            def.devices.sounds = parse_sound(sound).map_err(|e| match e {
                Error::Invalid(m) => invalid(m),
                other => other,
            })?;
        }
    } else {
        // A PV guest always has its console.
        def.devices.consoles.push(ChardevDef {
            source: ChardevSource::Pty { path: None },
            target_port: Some(0),
            target_type: None,
        });
    }
    ensure_representable(&def).map_err(|e| match e {
        Error::Invalid(m) => invalid(m),
        other => other,
    })?;
    Ok(def)
}

/// `SOURCE,TARGET[:cdrom|:disk],MODE` — e.g. `phy:/dev/vg/guest,xvda,w`,
/// `tap:aio:/img,hda,w`, `file:/boot.iso,hdc:cdrom,r`, `,hdc:cdrom,r` (an empty cdrom).
fn parse_disk(entry: &str, hvm: bool, config_version: u32) -> std::result::Result<DiskDef, String> {
    let mut parts = entry.splitn(3, ',');
    let src = parts.next().unwrap_or("").trim();
    let dst = parts.next().ok_or("expected SOURCE,TARGET,MODE")?.trim();
    let mode = parts.next().ok_or("expected SOURCE,TARGET,MODE")?.trim();

    let mut disk = DiskDef {
        disk_type: DiskType::Block,
        device: DiskDevice::Disk,
        driver_name: Some("phy".to_owned()),
        driver_type: None,
        driver_cache: None,
        source: None,
        target_dev: String::new(),
        target_bus: None,
        readonly: false,
        shareable: false,
        address: None,
    };
    if !src.is_empty() {
        // A bare path is a block device, as xm reads it.
        let (driver, rest) = src.split_once(':').unwrap_or(("phy", src));
        let path = if driver == "tap" {
            let (kind, path) = rest
                .split_once(':')
                .ok_or_else(|| format!("'{src}' has no tap driver type (tap:aio:PATH)"))?;
            disk.driver_type = Some(kind.to_owned());
            path
        } else {
            rest
        };
        if driver.is_empty() {
            return Err(format!("'{src}' has an empty driver name"));
        }
        disk.driver_name = Some(driver.to_owned());
        disk.disk_type = if driver == "phy" {
            DiskType::Block
        } else {
            DiskType::File
        };
        disk.source = Some(path.to_owned()).filter(|p| !p.is_empty());
    }

    let dst = dst.strip_prefix("ioemu:").unwrap_or(dst);
    let dst = match dst.split_once(':') {
        Some((name, kind)) => {
            match kind {
                "cdrom" => disk.device = DiskDevice::Cdrom,
                "disk" => {}
                other => return Err(format!("unknown device kind ':{other}'")),
            }
            name
        }
        None => dst,
    };
    if dst.is_empty() {
        return Err("empty target device".to_owned());
    }
    let _ = config_version;
    disk.target_bus = Some(if dst.starts_with("xvd") || !hvm {
        DiskBus::Xen
    } else if dst.starts_with("sd") {
        DiskBus::Scsi
    } else {
        DiskBus::Ide
    });
    disk.target_dev = dst.to_owned();
    match mode {
        "r" | "ro" => disk.readonly = true,
        "w!" | "!" => disk.shareable = true,
        "w" | "rw" => {}
        other => return Err(format!("unknown mode '{other}' (r, w or w!)")),
    }
    // A cdrom is read-only whatever its mode says (the XML model holds it so).
    disk.readonly |= disk.device == DiskDevice::Cdrom;
    if disk.source.is_none() && disk.device == DiskDevice::Disk {
        return Err("a disk needs a source (only a cdrom may be empty)".to_owned());
    }
    Ok(disk)
}

/// The `key=value` items of a vif or vfb string, separated by commas (blanks after a comma
/// are skipped, as xm does).
fn key_values(entry: &str) -> std::result::Result<Vec<(&str, &str)>, String> {
    entry
        .split(',')
        .map(|item| item.trim_start_matches([' ', '\t']))
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.split_once('=')
                .ok_or_else(|| format!("'{item}' is not key=value"))
        })
        .collect()
}

/// `mac=00:16:3e:…,bridge=xenbr0,script=vif-bridge,ip=…,model=e1000,vifname=…,type=ioemu`.
fn parse_vif(entry: &str) -> std::result::Result<InterfaceDef, String> {
    let (mut mac, mut bridge, mut script, mut ip, mut model, mut vifname) =
        (None, None, None, None, None, None);
    for (key, value) in key_values(entry)? {
        match key {
            "mac" => {
                mac = Some(
                    value
                        .parse::<MacAddr>()
                        .map_err(|_| format!("malformed mac address '{value}'"))?,
                )
            }
            "bridge" => bridge = Some(value),
            "script" => script = Some(value),
            "ip" => {
                ip = Some(
                    value
                        .parse::<IpAddr>()
                        .map_err(|_| format!("malformed ip address '{value}'"))?,
                )
            }
            "model" => model = Some(value),
            "vifname" => vifname = Some(value),
            // type=ioemu|netfront, rate, backend, …: xend's business.
            _ => {}
        }
    }
    let source = match bridge.filter(|b| !b.is_empty()) {
        Some(bridge) => InterfaceSource::Bridge {
            bridge: bridge.to_owned(),
        },
        None => InterfaceSource::Ethernet { dev: None },
    };
    Ok(InterfaceDef {
        source,
        mac,
        ip,
        script: script.map(str::to_owned),
        target_dev: vifname.map(str::to_owned),
        guest_dev: None,
        model: model.map(str::to_owned),
        address: None,
    })
}

fn read_graphics(conf: &Conf, def: &mut DomainDef, hvm: bool) -> Result<()> {
    // The new layout (PV from Xen 3.0.4, HVM from 3.1): the first vfb entry.
    if let Some(vfb) = get_list(conf, "vfb")?.first() {
        let items = key_values(vfb).map_err(|e| invalid(format!("vfb entry '{vfb}': {e}")))?;
        let field = |name: &str| items.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let sdl =
            field("type") == Some("sdl") || (field("type").is_none() && field("sdl") == Some("1"));
        let graphics = if sdl {
            GraphicsDef::Sdl(SdlGraphics {
                display: field("display").map(str::to_owned),
                xauth: field("xauthority").map(str::to_owned),
                fullscreen: false,
            })
        } else {
            let display = field("vncdisplay")
                .map(|d| {
                    d.parse::<u16>()
                        .ok()
                        .filter(|&n| n <= u16::MAX - 5900)
                        .ok_or_else(|| invalid(format!("vfb: vncdisplay '{d}' is out of range")))
                })
                .transpose()?;
            vnc_graphics(field("vncunused").map(|v| v != "0"), display, |name| {
                field(name).map(str::to_owned)
            })
        };
        def.devices.graphics.push(graphics);
        return Ok(());
    }
    // The old layout, top-level settings.
    if get_bool(conf, "vnc")?.unwrap_or(false) {
        let display = get_u64(conf, "vncdisplay", u64::from(u16::MAX - 5900))?.map(|d| d as u16);
        let mut strings = Vec::new();
        for name in ["vnclisten", "vncpasswd", "keymap"] {
            strings.push((name, get_str(conf, name)?.map(str::to_owned)));
        }
        let graphics = vnc_graphics(get_bool(conf, "vncunused")?, display, |name| {
            strings
                .iter()
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.clone())
        });
        def.devices.graphics.push(graphics);
    } else if get_bool(conf, "sdl")?.unwrap_or(false) {
        def.devices.graphics.push(GraphicsDef::Sdl(SdlGraphics {
            display: get_str(conf, "display")?.map(str::to_owned),
            xauth: get_str(conf, "xauthority")?.map(str::to_owned),
            fullscreen: false,
        }));
    }
    let _ = hvm;
    Ok(())
}

/// A VNC display: automatic port unless `vncunused` is 0 (xm's default is 1); a fixed one is
/// 5900 + `vncdisplay`.
fn vnc_graphics(
    vncunused: Option<bool>,
    display: Option<u16>,
    field: impl Fn(&str) -> Option<String>,
) -> GraphicsDef {
    let autoport = vncunused.unwrap_or(display.is_none());
    GraphicsDef::Vnc(VncGraphics {
        port: if autoport {
            None
        } else {
            Some(5900 + display.unwrap_or(0))
        },
        autoport,
        listen: field("vnclisten"),
        keymap: field("keymap"),
        passwd: field("vncpasswd"),
    })
}

/// Refuses a value that would change the structure of a comma-separated XM entry.
fn plain(what: &str, value: &str) -> Result<()> {
    if value.contains(',') {
        return Err(unsupported(format!(
            "{what} '{value}': an XM config entry cannot hold ','"
        )));
    }
    Ok(())
}

/// Writes the XM config libvirt writes for `def` at the given xend config version.
pub fn domain_to_xm(def: &DomainDef, config_version: u32) -> Result<Conf> {
    check_version(config_version)?;
    if def.domain_type != "xen" {
        return Err(unsupported(format!(
            "domain type '{}': XM configs describe only type 'xen' domains",
            def.domain_type
        )));
    }
    let hvm = match (def.os.os_type.as_str(), def.bootloader.is_some()) {
        ("hvm", false) => true,
        ("xen" | "linux", _) => false,
        ("hvm", true) => {
            return Err(unsupported(
                "a bootloader is for paravirtualised guests only",
            ));
        }
        (other, _) => return Err(unsupported(format!("OS type '{other}'"))),
    };
    if def.devices.graphics.len() > 1 {
        return Err(unsupported("more than one graphics device"));
    }
    let mut conf = Conf::new();
    let mut set = |name: &str, value: Value| {
        conf.set(name, value)
            .expect("the setting names written here are valid");
    };
    let s = |v: &str| Value::Str(v.to_owned());
    let int = |v: u64| Value::Int(i128::from(v));

    set("name", s(&def.name));
    set("uuid", s(&def.uuid.hyphenated().to_string()));
    set("maxmem", int(def.memory_kib.div_ceil(1024)));
    set("memory", int(def.current_memory_kib.div_ceil(1024)));
    set("vcpus", int(u64::from(def.vcpus)));
    if let Some(cpuset) = &def.cpuset {
        set("cpus", s(&normalize_cpuset(cpuset)?));
    }
    let os = &def.os;
    if hvm {
        if os.kernel.is_some() {
            return Err(unsupported(
                "an HVM guest booting a kernel directly cannot be written as an XM config",
            ));
        }
        set("builder", s("hvm"));
        if let Some(loader) = &os.loader {
            set("kernel", s(loader));
        }
        let boot: String = if os.boot.is_empty() {
            "c".to_owned()
        } else {
            os.boot
                .iter()
                .map(|b| match b {
                    BootDevice::Floppy => 'a',
                    BootDevice::HardDisk => 'c',
                    BootDevice::Cdrom => 'd',
                    BootDevice::Network => 'n',
                })
                .collect()
        };
        set("boot", s(&boot));
        set("pae", int(u64::from(def.features.pae)));
        set("acpi", int(u64::from(def.features.acpi)));
        set("apic", int(u64::from(def.features.apic)));
    } else {
        if let Some(bootloader) = &def.bootloader {
            set("bootloader", s(bootloader));
        }
        if let Some(args) = &def.bootloader_args {
            set("bootargs", s(args));
        }
        if let Some(kernel) = &os.kernel {
            set("kernel", s(kernel));
        }
        if let Some(initrd) = &os.initrd {
            set("ramdisk", s(initrd));
        }
        if let Some(cmdline) = &os.cmdline {
            set("extra", s(cmdline));
        }
        if let Some(root) = &os.root {
            set("root", s(root));
        }
    }
    match &def.clock.offset {
        ClockOffset::Utc => {
            if hvm {
                set("localtime", int(0));
            }
        }
        ClockOffset::Localtime => set("localtime", int(1)),
        other => {
            return Err(unsupported(format!(
                "clock offset {other:?}: XM configs know only utc and localtime"
            )));
        }
    }
    if hvm
        && config_version == 1
        && let Some(src) = def
            .devices
            .disks
            .iter()
            .filter(|d| d.device == DiskDevice::Cdrom && d.target_dev == "hdc")
            .find_map(|d| d.source.as_deref())
    {
        set("cdrom", s(src));
    }
    set("on_poweroff", s(def.on_poweroff.as_str()));
    set("on_reboot", s(def.on_reboot.as_str()));
    set("on_crash", s(def.on_crash.as_str()));

    if let Some(emulator) = &def.devices.emulator {
        set("device_model", s(emulator));
    }
    if hvm
        && let Some(input) = def
            .devices
            .inputs
            .iter()
            .find(|i| i.bus == Some(InputBus::Usb))
    {
        set("usb", int(1));
        let kind = match input.input_type {
            InputType::Mouse => "mouse",
            InputType::Tablet => "tablet",
            InputType::Keyboard => return Err(unsupported("a USB keyboard in an XM config")),
        };
        set("usbdevice", s(kind));
    }

    if let Some(g) = def.devices.graphics.first() {
        let new_layout = config_version >= if hvm { 4 } else { 3 };
        if new_layout {
            let mut vfb = String::new();
            match g {
                GraphicsDef::Sdl(sdl) => {
                    vfb.push_str("type=sdl");
                    for (key, value) in [("display", &sdl.display), ("xauthority", &sdl.xauth)] {
                        if let Some(v) = value {
                            plain(key, v)?;
                            vfb.push_str(&format!(",{key}={v}"));
                        }
                    }
                }
                GraphicsDef::Vnc(v) => {
                    vfb.push_str("type=vnc");
                    match vnc_display(v)? {
                        None => vfb.push_str(",vncunused=1"),
                        Some(d) => vfb.push_str(&format!(",vncunused=0,vncdisplay={d}")),
                    }
                    for (key, value) in [
                        ("vnclisten", &v.listen),
                        ("vncpasswd", &v.passwd),
                        ("keymap", &v.keymap),
                    ] {
                        if let Some(val) = value {
                            plain(key, val)?;
                            vfb.push_str(&format!(",{key}={val}"));
                        }
                    }
                }
            }
            set("vfb", Value::List(vec![Value::Str(vfb)]));
        } else {
            match g {
                GraphicsDef::Sdl(sdl) => {
                    set("sdl", int(1));
                    set("vnc", int(0));
                    if let Some(d) = &sdl.display {
                        set("display", s(d));
                    }
                    if let Some(x) = &sdl.xauth {
                        set("xauthority", s(x));
                    }
                }
                GraphicsDef::Vnc(v) => {
                    set("sdl", int(0));
                    set("vnc", int(1));
                    match vnc_display(v)? {
                        None => set("vncunused", int(1)),
                        Some(d) => {
                            set("vncunused", int(0));
                            set("vncdisplay", int(u64::from(d)));
                        }
                    }
                    if let Some(l) = &v.listen {
                        set("vnclisten", s(l));
                    }
                    if let Some(p) = &v.passwd {
                        set("vncpasswd", s(p));
                    }
                    if let Some(k) = &v.keymap {
                        set("keymap", s(k));
                    }
                }
            }
        }
    }

    let mut disks = Vec::new();
    let mut sorted: Vec<&DiskDef> = def.devices.disks.iter().collect();
    sorted.sort_by_key(|d| disk_order(d));
    for disk in sorted {
        if hvm
            && config_version == 1
            && disk.device == DiskDevice::Cdrom
            && disk.target_dev == "hdc"
        {
            continue;
        }
        if disk.device == DiskDevice::Floppy {
            return Err(unsupported(format!(
                "floppy '{}': XM configs have no floppy drives",
                disk.target_dev
            )));
        }
        disks.push(Value::Str(format_disk(disk, hvm, config_version)?));
    }
    if !disks.is_empty() {
        set("disk", Value::List(disks));
    }
    let mut vifs = Vec::new();
    for net in &def.devices.interfaces {
        vifs.push(Value::Str(format_vif(net, hvm, config_version)?));
    }
    if !vifs.is_empty() {
        set("vif", Value::List(vifs));
    }

    if hvm {
        match def.devices.parallels.first() {
            Some(p) => set("parallel", s(&format_chardev(p)?)),
            None => set("parallel", s("none")),
        }
        match def.devices.serials.first().or(def.devices.consoles.first()) {
            Some(c) => set("serial", s(&format_chardev(c)?)),
            None => set("serial", s("none")),
        }
        if !def.devices.sounds.is_empty() {
            let mut models: Vec<&str> = Vec::new();
            for sound in &def.devices.sounds {
                if !models.contains(&sound.model.as_str()) {
                    models.push(sound.model.as_str());
                }
            }
            set("soundhw", s(&models.join(",")));
        }
    }

    // The text must read back to these settings (no value may break the file's syntax).
    let text = conf.to_string();
    match Conf::parse(&text) {
        Ok(back) if back == conf => Ok(conf),
        _ => Err(unsupported(
            "a value cannot be written in an XM config (it would not read back unchanged)",
        )),
    }
}

fn vnc_display(v: &VncGraphics) -> Result<Option<u16>> {
    match (v.autoport, v.port) {
        (false, Some(port)) => port.checked_sub(5900).map(Some).ok_or_else(|| {
            unsupported(format!(
                "VNC port {port}: xm takes a display (port 5900 + N)"
            ))
        }),
        _ => Ok(None),
    }
}

fn format_disk(disk: &DiskDef, hvm: bool, config_version: u32) -> Result<String> {
    let mut out = String::new();
    if let Some(src) = &disk.source {
        plain("path", src)?;
        match disk.driver_name.as_deref() {
            Some("tap") => {
                out.push_str("tap:");
                out.push_str(disk.driver_type.as_deref().unwrap_or("aio"));
                out.push(':');
            }
            Some(driver) => {
                plain("driver", driver)?;
                out.push_str(driver);
                out.push(':');
            }
            None => out.push_str(match disk.disk_type {
                DiskType::File => "file:",
                DiskType::Block => "phy:",
            }),
        }
        out.push_str(src);
    } else if disk.device == DiskDevice::Disk {
        return Err(unsupported(format!(
            "disk '{}' has no source",
            disk.target_dev
        )));
    }
    out.push(',');
    if hvm && config_version == 1 {
        out.push_str("ioemu:");
    }
    let target = disk
        .target_dev
        .strip_prefix("ioemu:")
        .unwrap_or(&disk.target_dev);
    plain("target", target)?;
    out.push_str(target);
    if disk.device == DiskDevice::Cdrom {
        out.push_str(":cdrom");
    }
    out.push_str(if disk.readonly || disk.device == DiskDevice::Cdrom {
        ",r"
    } else if disk.shareable {
        ",w!"
    } else {
        ",w"
    });
    Ok(out)
}

fn format_vif(net: &InterfaceDef, hvm: bool, config_version: u32) -> Result<String> {
    let mut items: Vec<String> = Vec::new();
    if let Some(mac) = &net.mac {
        items.push(format!("mac={mac}"));
    }
    match &net.source {
        InterfaceSource::Bridge { bridge } => {
            plain("bridge", bridge)?;
            items.push(format!("bridge={bridge}"));
        }
        InterfaceSource::Ethernet { .. } => {}
        other => {
            return Err(unsupported(format!(
                "interface type '{}': XM configs have bridge and ethernet (routed) vifs",
                other.type_name()
            )));
        }
    }
    if let Some(script) = &net.script {
        plain("script", script)?;
        items.push(format!("script={script}"));
    }
    if let Some(ip) = &net.ip {
        items.push(format!("ip={ip}"));
    }
    if let Some(model) = &net.model {
        plain("model", model)?;
        items.push(format!("model={model}"));
    }
    // type=ioemu breaks paravirtual drivers in HVM guests from Xen 3.1.
    if hvm && config_version < 4 {
        items.push("type=ioemu".to_owned());
    }
    if let Some(name) = &net.target_dev {
        plain("vifname", name)?;
        items.push(format!("vifname={name}"));
    }
    Ok(items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(extra: &str) -> String {
        format!(
            "name = \"g\"\nuuid = \"c7a5fdb0-cdaf-9455-926a-d65c16db1809\"\nkernel = \"/boot/vmlinuz\"\n{extra}"
        )
    }

    fn read(text: &str, version: u32) -> Result<DomainDef> {
        xm_to_domain(&Conf::parse(text)?, version, None)
    }

    #[test]
    fn defaults_follow_xm() {
        let def = read(&pv(""), 2).unwrap();
        assert_eq!(def.current_memory_kib, 128 * 1024);
        assert_eq!(def.memory_kib, 128 * 1024);
        assert_eq!(def.on_crash, LifecycleAction::Restart);
        assert_eq!(def.os.kernel.as_deref(), Some("/boot/vmlinuz"));
        assert_eq!(def.devices.consoles.len(), 1);
    }

    #[test]
    fn bad_settings_are_named() {
        for (extra, needle) in [
            ("memory = \"lots\"\n", "memory"),
            ("memory = -4\n", "memory"),
            ("vcpus = 0\n", "vcpus"),
            ("on_crash = \"explode\"\n", "on_crash"),
            ("disk = [ \"phy:/dev/x\" ]\n", "disk entry"),
            ("disk = [ \"phy:/dev/x,xvda,q\" ]\n", "unknown mode"),
            ("vif = [ \"mac=zz\" ]\n", "mac"),
            ("vif = [ \"bridge\" ]\n", "key=value"),
            ("cpus = \"3-1\"\n", "cpus"),
            ("name = [ 1 ]\n", "name"),
        ] {
            let text = if extra.starts_with("name") {
                extra.to_owned() + "uuid = \"c7a5fdb0-cdaf-9455-926a-d65c16db1809\"\n"
            } else {
                pv(extra)
            };
            let err = read(&text, 2).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra:?}: {err}");
        }
        let err = read("uuid = \"c7a5fdb0-cdaf-9455-926a-d65c16db1809\"\n", 2).unwrap_err();
        assert!(err.to_string().contains("missing name"), "{err}");
        let err = read("name = \"x\"\n", 2).unwrap_err();
        assert!(err.to_string().contains("missing uuid"), "{err}");
        let err = read("name = \"x\n", 2).unwrap_err();
        assert!(matches!(err, Error::Conf { line: 1, .. }), "{err}");
    }

    #[test]
    fn every_boot_letter_counts() {
        let def = read(&pv("builder = \"hvm\"\nboot = \"dcn\"\n"), 2).unwrap();
        assert_eq!(
            def.os.boot,
            [BootDevice::Cdrom, BootDevice::HardDisk, BootDevice::Network]
        );
    }

    #[test]
    fn values_that_break_entries_are_refused() {
        let mut def = read(&pv("disk = [ \"file:/a.img,xvda,w\" ]\n"), 2).unwrap();
        def.devices.disks[0].source = Some("/a,b.img".into());
        let err = domain_to_xm(&def, 2).unwrap_err();
        assert!(err.to_string().contains("','"), "{err}");
    }

    #[test]
    fn round_trip_keeps_tap_shared_localtime_and_vfb_sdl() {
        let text = pv(
            "localtime = 1\nvfb = [ \"type=sdl,display=:0\" ]\ndisk = [ \"tap:aio:/x.img,xvda,w!\" ]\nvif = [ \"script=vif-route,ip=10.0.0.2,vifname=v1\" ]\n",
        );
        let def = read(&text, 3).unwrap();
        assert_eq!(def.devices.disks[0].driver_type.as_deref(), Some("aio"));
        assert!(def.devices.disks[0].shareable);
        let back = domain_to_xm(&def, 3).unwrap();
        let again = xm_to_domain(&back, 3, None).unwrap();
        assert_eq!(again, def);
        let s = back.to_string();
        assert!(s.contains("localtime = 1\n"), "{s}");
        assert!(s.contains("vfb = [ \"type=sdl,display=:0\" ]"), "{s}");
        assert!(s.contains("tap:aio:/x.img,xvda,w!"), "{s}");
    }

    #[test]
    fn v1_cdrom_and_empty_cdrom_round_trip() {
        let hvm = "name = \"h\"\nuuid = \"c7a5fdb2-cdaf-9455-926a-d65c16db1809\"\nbuilder = \"hvm\"\nkernel = \"/usr/lib/xen/boot/hvmloader\"\n";
        let v1 =
            format!("{hvm}cdrom = \"/root/boot.iso\"\ndisk = [ \"phy:/dev/vg/h,ioemu:hda,w\" ]\n");
        let def = read(&v1, 1).unwrap();
        assert_eq!(def.devices.disks.len(), 2);
        assert_eq!(def.devices.disks[1].target_dev, "hdc");
        let text = domain_to_xm(&def, 1).unwrap().to_string();
        assert!(text.contains("cdrom = \"/root/boot.iso\"\n"), "{text}");
        assert!(
            text.contains("disk = [ \"phy:/dev/vg/h,ioemu:hda,w\" ]"),
            "{text}"
        );
        let empty = format!(
            "{hvm}disk = [ \"phy:/dev/vg/h,hda,w\", \",hdc:cdrom,r\" ]\nserial = \"telnet:127.0.0.1:9999,listen\"\n"
        );
        let def = read(&empty, 2).unwrap();
        assert_eq!(def.devices.disks[1].source, None);
        let text = domain_to_xm(&def, 2).unwrap().to_string();
        assert!(text.contains("\",hdc:cdrom,r\""), "{text}");
        assert!(
            text.contains("serial = \"telnet:127.0.0.1:9999,listen\""),
            "{text}"
        );
        assert_eq!(
            xm_to_domain(&Conf::parse(&text).unwrap(), 2, None).unwrap(),
            def
        );
    }
}
