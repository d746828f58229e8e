//! Domain descriptions between xend's S-expressions and libvirt's domain XML (virsh's
//! `xen-sxpr` format), through `virtkit-xml`'s [`DomainDef`].
//!
//! Two directions, each parameterised by the xend config format version that xend reports as
//! `xend_config_format` (1 for Xen ≤ 3.0.2, which has no such field; 2 for Xen 3.0.3; 3 for
//! Xen 3.0.4 to 3.0.x; 4 for Xen 3.1 and later):
//!
//! - [`sexpr_to_domain`] reads what xend answers to `GET /xend/domain/<name>?detail=1`, as libvirt
//!   0.4.6 did (`xenDaemonParseSxpr`). What only xenstore knows about a running guest (its VNC
//!   port and console pty) comes in a [`LiveInfo`]; without it the VNC port is the one the
//!   S-expression gives or, for config version 1, 5900 + the domain id, as libvirt guessed.
//! - [`domain_to_sexpr`] writes what libvirt sent to xend to create (`POST /xend/domain/create`)
//!   or define (`POST /xend/domain/new`) a domain (`xenDaemonFormatSxpr`), in libvirt's compact
//!   layout, so the output is byte for byte libvirt's.
//!
//! What each config version changes:
//!
//! | | 1 | 2 | 3 | 4 |
//! |---|---|---|---|---|
//! | domain id in a description | mandatory | mandatory | optional (inactive domains) | optional |
//! | HVM cdrom | `image/hvm/cdrom` (`hdc`) | a `(vbd (dev 'hdc:cdrom'))` | same | same |
//! | HVM disk names | `ioemu:hda` | `hda:disk` | same | same |
//! | PV `device_model` | not sent | not sent | sent | sent |
//! | PV graphics | `image/linux/vnc` | same | a `(device (vfb …))` | same |
//! | HVM graphics | `image/hvm/vnc` | same | same | a `(device (vfb …))` |
//! | VNC display (`vncunused`, `vncdisplay`, …) | not sent | sent | sent | sent |
//! | HVM `(type ioemu)` on a vif | sent | sent | sent | not sent |
//!
//! Reading is tolerant where xend is (either layout of graphics, `(device (tap …))` or
//! `(device (vbd …))` disks, a `vfb` that says `(vnc 1)` instead of `(type vnc)`), and strict
//! where a value would be misread: a missing name or UUID, an unparsable number, MAC or IP
//! address, an unknown lifecycle action, character device or sound model is an error naming the
//! field. Every value placed into an S-expression goes through [`SexprWriter`], which quotes and
//! escapes it, so no value from a domain XML can change the structure of what xend receives.
//!
//! Where libvirt 0.4.6 had a bug rather than a behaviour, virtkit does what xend means: an HVM
//! floppy is sent as `image/hvm/fda` (libvirt dropped it), the config-version-1 cdrom is the
//! `hdc` cdrom device (libvirt compared a disk's type with a device kind), a vif whose script is
//! not `vif-bridge` keeps its script, and a vif with neither bridge nor MAC leaves both to xend.

use std::collections::BTreeSet;
use std::net::IpAddr;

use virtkit_xml::{
    BootDevice, ChardevDef, ChardevMode, ChardevProtocol, ChardevSource, ClockOffset, Device,
    DiskBus, DiskDef, DiskDevice, DiskType, DomainDef, FormatOptions, GraphicsDef, InputBus,
    InputDef, InputType, InterfaceDef, InterfaceSource, LifecycleAction, MacAddr, SdlGraphics,
    SoundDef, SoundModel, VncGraphics, parse_uuid,
};

use crate::error::{Error, Result};
use crate::sexpr::{Sexpr, SexprWriter};

/// The newest xend config format version (Xen 3.1 and later report 4).
pub const MAX_CONFIG_VERSION: u32 = 4;

/// What xenstore knows about a running domain that its S-expression does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveInfo {
    /// The VNC server's TCP port (`/local/domain/<id>/console/vnc-port`).
    pub vnc_port: Option<u16>,
    /// The console pty (`/local/domain/<id>/console/tty`).
    pub console_tty: Option<String>,
}

pub(crate) fn check_version(config_version: u32) -> Result<()> {
    if (1..=MAX_CONFIG_VERSION).contains(&config_version) {
        Ok(())
    } else {
        Err(Error::ConfigVersion(config_version))
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

fn unsupported(message: impl Into<String>) -> Error {
    Error::Unsupported(message.into())
}

/// Converts xend S-expression text to domain XML written with `opts` (its style, whether the
/// id of a running domain and the VNC password are included). libvirt 0.4.6's `domxml-from-native`
/// is `FormatOptions::legacy()`.
///
/// The text is read with [`Sexpr::parse_lenient`], as libvirt read such files: hand-written
/// descriptions with a missing or extra closing parenthesis at the end still convert.
pub fn sexpr_to_domain_xml(
    text: &str,
    config_version: u32,
    opts: &FormatOptions,
) -> Result<String> {
    let root = Sexpr::parse_lenient(text)?;
    let def = sexpr_to_domain(&root, config_version, &LiveInfo::default())?;
    Ok(def.to_xml(opts))
}

/// Converts domain XML to the S-expression libvirt sends to xend to create or define it.
pub fn domain_xml_to_sexpr(xml: &str, config_version: u32) -> Result<String> {
    let def = DomainDef::parse(xml)?;
    domain_to_sexpr(&def, config_version)
}

/// Reads a xend domain description (`(domain …)`) into a domain definition.
pub fn sexpr_to_domain(root: &Sexpr, config_version: u32, live: &LiveInfo) -> Result<DomainDef> {
    check_version(config_version)?;
    if !root.is_named("domain") {
        return Err(invalid(match root.name() {
            Some(name) => format!("expected a (domain ...) description, not ({name} ...)"),
            None => "expected a (domain ...) description".to_owned(),
        }));
    }
    let id = match root.node_i64("domain/domid")? {
        Some(id) => Some(
            i32::try_from(id)
                .ok()
                .filter(|&i| i >= -1)
                .ok_or_else(|| invalid(format!("domain/domid: {id} is out of range")))?,
        ),
        None if config_version < 3 => {
            return Err(invalid("domain information incomplete, missing domid"));
        }
        None => None,
    }
    .filter(|&i| i >= 0);

    let name = root
        .node("domain/name")
        .ok_or_else(|| invalid("domain information incomplete, missing name"))?;
    if name.is_empty() || name.contains('/') {
        return Err(invalid(format!(
            "domain/name: '{name}' is not a valid domain name"
        )));
    }
    let uuid_text = root
        .node("domain/uuid")
        .ok_or_else(|| invalid("domain information incomplete, missing uuid"))?;
    let uuid = parse_uuid(uuid_text)
        .ok_or_else(|| invalid(format!("domain/uuid: '{uuid_text}' is not a UUID")))?;

    let hvm = root.has("domain/image/hvm");
    let mut def = DomainDef::new("xen", name, if hvm { "hvm" } else { "xen" });
    def.id = id;
    def.uuid = uuid;

    // A PV guest may boot through a bootloader; `(bootloader )` means xend's default one.
    let mut has_bootloader = false;
    if !hvm && root.has("domain/bootloader") {
        has_bootloader = true;
        def.bootloader = root.node("domain/bootloader").map(str::to_owned);
        def.bootloader_args = root.node("domain/bootloader_args").map(str::to_owned);
    }

    if id != Some(0) && root.has("domain/image") {
        read_os(root, &mut def, hvm, has_bootloader)?;
    }

    let kib = |path: &str| -> Result<u64> {
        let mib = root.node_u64(path)?.unwrap_or(0);
        mib.checked_mul(1024)
            .ok_or_else(|| invalid(format!("{path}: {mib} MiB is out of range")))
    };
    let maxmem = kib("domain/maxmem")?;
    let memory = kib("domain/memory")?;
    def.memory_kib = maxmem.max(memory);
    def.current_memory_kib = if memory == 0 { def.memory_kib } else { memory };

    if let Some(vcpus) = root.node_u64("domain/vcpus")? {
        def.vcpus = u32::try_from(vcpus)
            .map_err(|_| invalid(format!("domain/vcpus: {vcpus} is out of range")))?
            .max(1);
    }
    if let Some(cpus) = root.node("domain/cpus").filter(|c| !c.is_empty()) {
        def.cpuset = Some(normalize_cpuset(cpus)?);
    }

    def.on_poweroff = lifecycle(root, "domain/on_poweroff", LifecycleAction::Destroy)?;
    def.on_reboot = lifecycle(root, "domain/on_reboot", LifecycleAction::Restart)?;
    def.on_crash = lifecycle(root, "domain/on_crash", LifecycleAction::Destroy)?;

    let image = if hvm {
        "domain/image/hvm"
    } else {
        "domain/image/linux"
    };
    if hvm {
        let flag = |name: &str| -> Result<bool> {
            Ok(root.node_i64(&format!("{image}/{name}"))?.unwrap_or(0) != 0)
        };
        def.features.acpi = flag("acpi")?;
        def.features.apic = flag("apic")?;
        def.features.pae = flag("pae")?;
        if flag("localtime")? {
            def.clock.offset = ClockOffset::Localtime;
        }
    }
    def.devices.emulator = root
        .node(&format!("{image}/device_model"))
        .map(str::to_owned);

    read_disks(root, &mut def, hvm, config_version)?;
    read_interfaces(root, &mut def)?;
    read_graphics(root, &mut def, hvm, config_version, live)?;

    if hvm
        && config_version == 1
        && let Some(cdrom) = root
            .node("domain/image/hvm/cdrom")
            .filter(|s| !s.is_empty())
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
    if hvm {
        for fd in ["fda", "fdb"] {
            if let Some(path) = root
                .node(&format!("domain/image/hvm/{fd}"))
                .filter(|s| !s.is_empty())
            {
                def.devices.disks.push(DiskDef {
                    disk_type: DiskType::File,
                    device: DiskDevice::Floppy,
                    driver_name: Some("file".to_owned()),
                    driver_type: None,
                    driver_cache: None,
                    source: Some(path.to_owned()),
                    target_dev: fd.to_owned(),
                    target_bus: Some(DiskBus::Fdc),
                    readonly: false,
                    shareable: false,
                    address: None,
                });
            }
        }
        if let Some(hvm_image) = root.lookup_key("domain/image/hvm") {
            for usb in hvm_image.children_named("usbdevice") {
                let input_type = match usb.rest().first().and_then(Sexpr::as_atom) {
                    Some("tablet") => InputType::Tablet,
                    Some("mouse") => InputType::Mouse,
                    // Other USB devices (host pass-through, ...) are not inputs.
                    _ => continue,
                };
                def.devices.inputs.push(InputDef {
                    input_type,
                    bus: Some(InputBus::Usb),
                    address: None,
                });
            }
        }
    }
    // With graphics there is an implicit mouse, which libvirt lists after the USB ones.
    if !def.devices.graphics.is_empty() {
        def.devices.inputs.push(InputDef {
            input_type: InputType::Mouse,
            bus: Some(if hvm { InputBus::Ps2 } else { InputBus::Xen }),
            address: None,
        });
    }

    let tty = live.console_tty.as_deref();
    if hvm {
        if let Some(serial) = root
            .node("domain/image/hvm/serial")
            .filter(|s| *s != "none")
        {
            let serial = parse_chardev(serial, tty)
                .map_err(|e| invalid(format!("domain/image/hvm/serial: {e}")))?;
            // libvirt shows an HVM guest's first serial port as its console too.
            def.devices.consoles.push(serial.clone());
            def.devices.serials.push(serial);
        }
        if let Some(parallel) = root
            .node("domain/image/hvm/parallel")
            .filter(|s| *s != "none")
        {
            let parallel = parse_chardev(parallel, None)
                .map_err(|e| invalid(format!("domain/image/hvm/parallel: {e}")))?;
            def.devices.parallels.push(parallel);
        }
        if let Some(sound) = root
            .node("domain/image/hvm/soundhw")
            .filter(|s| !s.is_empty())
        {
            def.devices.sounds = parse_sound(sound)?;
        }
    } else {
        // A PV guest always has its console; the S-expression does not mention it.
        def.devices.consoles.push(ChardevDef {
            source: ChardevSource::Pty {
                path: tty.map(str::to_owned),
            },
            target_port: Some(0),
            target_type: None,
        });
    }
    ensure_representable(&def)?;
    Ok(def)
}

/// Refuses a definition that domain XML cannot carry (a value with characters XML 1.0 forbids,
/// a combination the XML model rejects): what this function returns always writes as XML that
/// reads back to the same definition.
pub(crate) fn ensure_representable(def: &DomainDef) -> Result<()> {
    let xml = def.to_xml(&FormatOptions::default().with_secure(true));
    match DomainDef::parse(&xml) {
        Ok(back) if back == *def => Ok(()),
        Ok(_) => Err(invalid(
            "the description has values that domain XML cannot carry unchanged",
        )),
        Err(e) => Err(invalid(format!(
            "the description cannot be expressed as domain XML: {e}"
        ))),
    }
}

fn lifecycle(root: &Sexpr, path: &str, default: LifecycleAction) -> Result<LifecycleAction> {
    match root.node(path) {
        None => Ok(default),
        Some(name) => LifecycleAction::from_name(name)
            .ok_or_else(|| invalid(format!("{path}: unknown lifecycle action '{name}'"))),
    }
}

fn read_os(root: &Sexpr, def: &mut DomainDef, hvm: bool, has_bootloader: bool) -> Result<()> {
    let node = |path: &str| root.node(path).map(str::to_owned);
    let os = &mut def.os;
    if hvm {
        os.loader = node("domain/image/hvm/loader");
        if os.loader.is_none() {
            // Old xend: the firmware is the HVM "kernel".
            os.loader = Some(
                node("domain/image/hvm/kernel")
                    .ok_or_else(|| invalid("domain information incomplete, missing HVM loader"))?,
            );
        } else {
            os.kernel = node("domain/image/hvm/kernel");
            os.initrd = node("domain/image/hvm/ramdisk");
            os.cmdline = node("domain/image/hvm/args");
            os.root = node("domain/image/hvm/root");
        }
        if os.kernel.is_some() && os.kernel == os.loader {
            os.kernel = None;
        }
        if os.kernel.is_none()
            && let Some(boot) = root.node("domain/image/hvm/boot")
        {
            for c in boot.chars() {
                let dev = match c {
                    'a' => BootDevice::Floppy,
                    'c' => BootDevice::HardDisk,
                    'd' => BootDevice::Cdrom,
                    'n' => BootDevice::Network,
                    _ => continue,
                };
                if os.boot.len() < 4 {
                    os.boot.push(dev);
                }
            }
        }
    } else {
        os.kernel = node("domain/image/linux/kernel");
        os.initrd = node("domain/image/linux/ramdisk");
        os.cmdline = node("domain/image/linux/args");
        os.root = node("domain/image/linux/root");
        if os.kernel.is_none() && !has_bootloader {
            return Err(invalid(
                "domain information incomplete, missing kernel and bootloader",
            ));
        }
    }
    Ok(())
}

/// The devices of one class (`vbd`, `vif`, ...) in document order: each `(device (class …))`
/// whose class list holds at least one field.
fn devices<'a>(root: &'a Sexpr, class: &'a str) -> impl Iterator<Item = &'a Sexpr> + 'a {
    root.children_named("device")
        .filter_map(move |device| device.child(class).filter(|c| !c.rest().is_empty()))
}

fn read_disks(root: &Sexpr, def: &mut DomainDef, hvm: bool, config_version: u32) -> Result<()> {
    for device in root.children_named("device") {
        // blktap disks come as (device (tap ...)) rather than (device (vbd ...)).
        let Some(vbd) = ["vbd", "tap"]
            .iter()
            .find_map(|class| device.child(class).filter(|c| !c.rest().is_empty()))
        else {
            continue;
        };
        let class = vbd.name().unwrap_or("vbd");
        let field = |name: &str| vbd.node(&format!("{class}/{name}"));
        let dst =
            field("dev").ok_or_else(|| invalid("domain information incomplete, vbd has no dev"))?;
        let src = field("uname");
        let mode = field("mode");

        let mut disk = DiskDef {
            disk_type: DiskType::File,
            device: DiskDevice::Disk,
            driver_name: None,
            driver_type: None,
            driver_cache: None,
            source: None,
            target_dev: String::new(),
            target_bus: None,
            readonly: false,
            shareable: false,
            address: None,
        };
        match src {
            None => {
                // Only an HVM cdrom drive may be empty.
                if !hvm || !dst.ends_with(":cdrom") {
                    return Err(invalid(format!(
                        "domain information incomplete, vbd '{dst}' has no uname"
                    )));
                }
            }
            Some(src) => {
                let (driver, rest) = src.split_once(':').ok_or_else(|| {
                    invalid(format!(
                        "cannot parse vbd uname '{src}': missing driver name"
                    ))
                })?;
                let path = if driver == "tap" {
                    let (kind, path) = rest.split_once(':').ok_or_else(|| {
                        invalid(format!(
                            "cannot parse vbd uname '{src}': missing tap driver type"
                        ))
                    })?;
                    disk.driver_type = Some(kind.to_owned());
                    path
                } else {
                    rest
                };
                disk.disk_type = match driver {
                    "tap" | "file" => DiskType::File,
                    _ => DiskType::Block,
                };
                disk.driver_name = Some(driver.to_owned());
                disk.source = Some(path.to_owned()).filter(|p| !p.is_empty());
            }
        }

        let mut dst = dst.strip_prefix("ioemu:").unwrap_or(dst);
        if config_version > 1
            && let Some((name, kind)) = dst.rsplit_once(':')
        {
            if kind == "cdrom" {
                disk.device = DiskDevice::Cdrom;
            }
            dst = name;
        }
        if dst.is_empty() {
            return Err(invalid("vbd has an empty dev"));
        }
        disk.target_bus = Some(if dst.starts_with("xvd") {
            DiskBus::Xen
        } else if dst.starts_with("sd") {
            DiskBus::Scsi
        } else {
            DiskBus::Ide
        });
        disk.target_dev = dst.to_owned();
        if let Some(mode) = mode {
            disk.readonly = mode.contains('r');
            disk.shareable = mode.contains('!');
        }
        // A cdrom is read-only whatever its mode says (the XML model holds it so).
        disk.readonly |= disk.device == DiskDevice::Cdrom;
        if disk.source.is_none() && disk.device == DiskDevice::Disk {
            return Err(invalid(format!("vbd '{dst}' has no source")));
        }
        def.devices.disks.push(disk);
    }
    Ok(())
}

fn read_interfaces(root: &Sexpr, def: &mut DomainDef) -> Result<()> {
    let domid = def.id.unwrap_or(-1);
    for (index, vif) in devices(root, "vif").enumerate() {
        let field = |name: &str| vif.node(&format!("vif/{name}"));
        let script = field("script");
        let source = match field("bridge") {
            Some(bridge) if !bridge.is_empty() => InterfaceSource::Bridge {
                bridge: bridge.to_owned(),
            },
            _ => InterfaceSource::Ethernet { dev: None },
        };
        let bridged = matches!(source, InterfaceSource::Bridge { .. });
        let mac = field("mac")
            .map(|m| {
                m.parse::<MacAddr>()
                    .map_err(|_| invalid(format!("vif: malformed mac address '{m}'")))
            })
            .transpose()?;
        let ip = field("ip")
            .map(|a| {
                a.parse::<IpAddr>()
                    .map_err(|_| invalid(format!("vif: malformed ip address '{a}'")))
            })
            .transpose()?;
        let target_dev = Some(
            field("vifname")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("vif{domid}.{index}")),
        );
        def.devices.interfaces.push(InterfaceDef {
            source,
            mac,
            ip,
            // A bridged vif's script is xend's default; other scripts say how it is wired.
            script: script
                .filter(|s| !bridged || *s != "vif-bridge")
                .map(str::to_owned),
            target_dev,
            guest_dev: None,
            model: field("model").map(str::to_owned),
            address: None,
        });
    }
    Ok(())
}

fn read_graphics(
    root: &Sexpr,
    def: &mut DomainDef,
    hvm: bool,
    config_version: u32,
    live: &LiveInfo,
) -> Result<()> {
    let live_port = live.vnc_port.map(i64::from);
    // The new layout: (device (vfb ...)), PV from Xen 3.0.4, HVM from 3.0.5.
    let image = if hvm {
        "domain/image/hvm"
    } else {
        "domain/image/linux"
    };
    if let Some(vfb) = devices(root, "vfb").next() {
        // xend keeps the keyboard map (and, for HVM, may keep the VNC settings) with the device
        // model's options in the image; the vfb's own fields come first.
        let field = |name: &str| {
            vfb.node(&format!("vfb/{name}")).or_else(|| match name {
                "keymap" | "vnclisten" | "vncpasswd" => root.node(&format!("{image}/{name}")),
                _ => None,
            })
        };
        let kind = match field("type") {
            Some(kind) => kind,
            None if field("sdl") == Some("1") => "sdl",
            // Later xend writes (vnc 1) or only the VNC fields.
            None => "vnc",
        };
        let graphics = match kind {
            "sdl" => GraphicsDef::Sdl(SdlGraphics {
                display: field("display").map(str::to_owned),
                xauth: field("xauthority").map(str::to_owned),
                fullscreen: false,
            }),
            "vnc" => {
                let mut port = match live_port {
                    Some(p) => p,
                    None => vfb.node_i64("vfb/vncdisplay")?.unwrap_or(0),
                };
                let autoport = field("vncunused") == Some("1") || port == -1;
                if autoport {
                    port = -1;
                }
                if (0..5900).contains(&port) {
                    port += 5900;
                }
                vnc(port, autoport, |name| field(name))?
            }
            other => return Err(invalid(format!("vfb: unknown graphics type '{other}'"))),
        };
        def.devices.graphics.push(graphics);
        return Ok(());
    }
    // The old layout, in the image: HVM up to Xen 3.0.4, PV up to 3.0.3.
    let field = |name: &str| root.node(&format!("{image}/{name}"));
    if field("vnc").is_some_and(|v| v.starts_with('1')) {
        let mut port = live_port.unwrap_or(-1);
        if port == -1 && config_version < 2 {
            port = 5900 + i64::from(def.id.unwrap_or(-1));
        }
        let autoport = field("vncunused") == Some("1") || port == -1;
        def.devices
            .graphics
            .push(vnc(port, autoport, |name| field(name))?);
    } else if field("sdl").is_some_and(|v| v.starts_with('1')) {
        def.devices.graphics.push(GraphicsDef::Sdl(SdlGraphics {
            display: field("display").map(str::to_owned),
            xauth: field("xauthority").map(str::to_owned),
            fullscreen: false,
        }));
    }
    Ok(())
}

fn vnc<'a>(
    port: i64,
    autoport: bool,
    field: impl Fn(&str) -> Option<&'a str>,
) -> Result<GraphicsDef> {
    let port = if port < 0 {
        None
    } else {
        Some(u16::try_from(port).map_err(|_| invalid(format!("VNC port {port} is out of range")))?)
    };
    Ok(GraphicsDef::Vnc(VncGraphics {
        port,
        autoport: autoport || port.is_none(),
        listen: field("vnclisten").map(str::to_owned),
        keymap: field("keymap").map(str::to_owned),
        passwd: field("vncpasswd").map(str::to_owned),
    }))
}

/// Reads a character device as xend and qemu-dm spell it: `pty`, `null`, `vc`, `stdio`,
/// `/dev/ttyS0`, `file:PATH`, `pipe:PATH`, `tcp:HOST:PORT[,listen]`, `telnet:HOST:PORT[,listen]`,
/// `udp:HOST:PORT[@HOST:PORT]`, `unix:PATH[,listen]`.
pub fn parse_chardev(value: &str, tty: Option<&str>) -> std::result::Result<ChardevDef, String> {
    let source = if value.starts_with('/') {
        ChardevSource::Dev {
            path: value.to_owned(),
        }
    } else {
        let (prefix, rest) = value.split_once(':').unwrap_or((value, ""));
        let needs = |what: &str| {
            if rest.is_empty() {
                Err(format!("'{value}' has no {what}"))
            } else {
                Ok(rest.to_owned())
            }
        };
        match prefix {
            "null" => ChardevSource::Null,
            "vc" => ChardevSource::Vc,
            "stdio" => ChardevSource::Stdio,
            "pty" => ChardevSource::Pty {
                path: tty.map(str::to_owned),
            },
            "dev" => ChardevSource::Dev {
                path: needs("path")?,
            },
            "file" => ChardevSource::File {
                path: needs("path")?,
            },
            "pipe" => ChardevSource::Pipe {
                path: needs("path")?,
            },
            "tcp" | "telnet" => {
                let (host, service) = rest
                    .split_once(':')
                    .ok_or_else(|| format!("malformed char device string '{value}'"))?;
                let (service, options) = service.split_once(',').unwrap_or((service, ""));
                if service.is_empty() {
                    return Err(format!("'{value}' has no port"));
                }
                let listen = options.contains("listen");
                let mode = if listen {
                    ChardevMode::Bind
                } else {
                    ChardevMode::Connect
                };
                // No host: qemu listens on every address, or connects to this host.
                let host = match (host, listen) {
                    ("", true) => "0.0.0.0",
                    ("", false) => "localhost",
                    (host, _) => host,
                };
                ChardevSource::Tcp {
                    mode,
                    host: host.to_owned(),
                    service: service.to_owned(),
                    protocol: if prefix == "telnet" {
                        ChardevProtocol::Telnet
                    } else {
                        ChardevProtocol::Raw
                    },
                }
            }
            "udp" => {
                let (connect, bind) = match rest.split_once('@') {
                    Some((connect, bind)) => (connect, Some(bind)),
                    None => (rest, None),
                };
                let (connect_host, connect_service) = connect
                    .split_once(':')
                    .ok_or_else(|| format!("malformed char device string '{value}'"))?;
                if connect_service.is_empty() {
                    return Err(format!("'{value}' has no remote port"));
                }
                let (bind_host, bind_service) = match bind {
                    Some(bind) => {
                        let (h, s) = bind
                            .split_once(':')
                            .ok_or_else(|| format!("malformed char device string '{value}'"))?;
                        (non_empty(h), non_empty(s))
                    }
                    None => (None, None),
                };
                ChardevSource::Udp {
                    bind_host,
                    bind_service,
                    connect_host: non_empty(connect_host),
                    connect_service: connect_service.to_owned(),
                }
            }
            "unix" => {
                let (path, options) = rest.split_once(',').unwrap_or((rest, ""));
                if path.is_empty() {
                    return Err(format!("'{value}' has no path"));
                }
                ChardevSource::Unix {
                    mode: if options.contains("listen") {
                        ChardevMode::Bind
                    } else {
                        ChardevMode::Connect
                    },
                    path: path.to_owned(),
                }
            }
            other => return Err(format!("unknown character device type '{other}'")),
        }
    };
    Ok(ChardevDef {
        source,
        target_port: Some(0),
        target_type: None,
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The models `soundhw 'all'` stands for (qemu-dm's cards in the Xen 3 era).
const ALL_SOUND: [SoundModel; 3] = [SoundModel::Sb16, SoundModel::Es1370, SoundModel::Pcspk];

pub(crate) fn parse_sound(value: &str) -> Result<Vec<SoundDef>> {
    let models: Vec<SoundModel> = if value == "all" {
        ALL_SOUND.to_vec()
    } else {
        value
            .split(',')
            .map(|m| {
                SoundModel::from_name(m)
                    .ok_or_else(|| invalid(format!("soundhw: unknown sound model '{m}'")))
            })
            .collect::<Result<_>>()?
    };
    Ok(models
        .into_iter()
        .map(|model| SoundDef {
            model,
            address: None,
        })
        .collect())
}

/// The largest CPU number a cpuset may name (libvirt's mask length).
const MAX_CPU: u32 = 4095;

/// Reads a CPU list (`0-3,^2,6`) and writes it back in libvirt's canonical form (`0-1,3,6`).
pub(crate) fn normalize_cpuset(text: &str) -> Result<String> {
    let bad = || invalid(format!("'{text}' is not a CPU list such as 0-3,^2,6"));
    let mut set = BTreeSet::new();
    let mut excluded = BTreeSet::new();
    for part in text.split(',') {
        let part = part.trim();
        let (negate, part) = match part.strip_prefix('^') {
            Some(p) => (true, p),
            None => (false, part),
        };
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= MAX_CPU && s.trim().bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(bad)
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) if !negate => (num(a)?, num(b)?),
            Some(_) => return Err(bad()),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        for cpu in lo..=hi {
            if negate {
                excluded.insert(cpu);
            } else {
                set.insert(cpu);
            }
        }
    }
    let cpus: Vec<u32> = set.difference(&excluded).copied().collect();
    if cpus.is_empty() {
        return Err(bad());
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    Ok(out.join(","))
}

/// Writes the S-expression that creates or defines `def` on xend of the given config version.
///
/// Interfaces of type `network` need the network's bridge, which only a connection knows: use
/// [`domain_to_sexpr_with_networks`] for them.
pub fn domain_to_sexpr(def: &DomainDef, config_version: u32) -> Result<String> {
    domain_to_sexpr_with_networks(def, config_version, &|_| None)
}

/// As [`domain_to_sexpr`], with `bridge_of(network)` giving the bridge of a virtual network.
pub fn domain_to_sexpr_with_networks(
    def: &DomainDef,
    config_version: u32,
    bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    check_version(config_version)?;
    if def.domain_type != "xen" {
        return Err(unsupported(format!(
            "domain type '{}': xend runs only type 'xen' domains",
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
    let graphics = def.devices.graphics.first();

    let mut w = SexprWriter::new();
    w.open("vm");
    w.field_quoted("name", &def.name);
    w.field("memory", &(def.current_memory_kib / 1024).to_string());
    w.field("maxmem", &(def.memory_kib / 1024).to_string());
    w.field("vcpus", &def.vcpus.to_string());
    if let Some(cpuset) = &def.cpuset {
        w.field_quoted("cpus", &normalize_cpuset(cpuset)?);
    }
    w.field_quoted("uuid", &def.uuid.hyphenated().to_string());
    if let Some(bootloader) = &def.bootloader {
        if bootloader.is_empty() {
            w.open("bootloader").close();
        } else {
            w.field_quoted("bootloader", bootloader);
        }
        if let Some(args) = &def.bootloader_args {
            w.field_quoted("bootloader_args", args);
        }
    }
    w.field_quoted("on_poweroff", def.on_poweroff.as_str());
    w.field_quoted("on_reboot", def.on_reboot.as_str());
    w.field_quoted("on_crash", def.on_crash.as_str());

    if def.bootloader.is_none() {
        write_image(&mut w, def, hvm, config_version, graphics)?;
    }

    for disk in sorted_disks(def) {
        // HVM floppies live in the image; the config-version-1 cdrom too.
        if hvm && disk.device == DiskDevice::Floppy {
            continue;
        }
        if hvm && disk.device == DiskDevice::Cdrom && config_version == 1 {
            continue;
        }
        w.open("device");
        write_disk(&mut w, disk, hvm, config_version)?;
        w.close();
    }
    for interface in &def.devices.interfaces {
        w.open("device");
        write_interface(&mut w, interface, hvm, config_version, bridge_of)?;
        w.close();
    }
    if let Some(g) = graphics
        && ((config_version >= 3 && !hvm) || (config_version >= 4 && hvm))
    {
        w.open("device").open("vkbd").close().close();
        w.open("device").open("vfb");
        match g {
            GraphicsDef::Sdl(sdl) => {
                w.field("type", "sdl");
                write_sdl(&mut w, sdl);
            }
            GraphicsDef::Vnc(v) => {
                w.field("type", "vnc");
                write_vnc(&mut w, v)?;
            }
        }
        w.close().close();
    }
    Ok(w.finish())
}

/// The disks in libvirt's order: by bus (IDE, floppy, SCSI, virtio, Xen, others), then by the
/// index the target name gives (`hda` < `hdb` < `hdaa`); libvirt's XML parser kept them so, and
/// xend numbers the devices in the order it receives them.
fn sorted_disks(def: &DomainDef) -> Vec<&DiskDef> {
    let mut disks: Vec<&DiskDef> = def.devices.disks.iter().collect();
    disks.sort_by_key(|d| disk_order(d));
    disks
}

/// The key of libvirt's disk order (see [`sorted_disks`]).
pub(crate) fn disk_order(disk: &DiskDef) -> (u8, u64) {
    fn bus_rank(disk: &DiskDef) -> u8 {
        let target = disk
            .target_dev
            .strip_prefix("ioemu:")
            .unwrap_or(&disk.target_dev);
        let bus = disk.target_bus.or_else(|| {
            Some(match () {
                _ if target.starts_with("hd") => DiskBus::Ide,
                _ if target.starts_with("fd") => DiskBus::Fdc,
                _ if target.starts_with("sd") => DiskBus::Scsi,
                _ if target.starts_with("vd") => DiskBus::Virtio,
                _ if target.starts_with("xvd") => DiskBus::Xen,
                _ => return None,
            })
        });
        match bus {
            Some(DiskBus::Ide) => 0,
            Some(DiskBus::Fdc) => 1,
            Some(DiskBus::Scsi) => 2,
            Some(DiskBus::Virtio) => 3,
            Some(DiskBus::Xen) => 4,
            _ => 5,
        }
    }
    (bus_rank(disk), disk_index(&disk.target_dev))
}

/// libvirt's `virDiskNameToIndex`: the letters after the `hd`/`sd`/`vd`/`xvd`/`fd` prefix in
/// base 26 (`hda` = 0, `hdz` = 25, `hdaa` = 26); a name without such letters sorts last.
fn disk_index(target: &str) -> u64 {
    let target = target.strip_prefix("ioemu:").unwrap_or(target);
    let target = target.split(':').next().unwrap_or(target);
    let letters = ["xvd", "hd", "sd", "vd", "fd"]
        .iter()
        .find_map(|p| target.strip_prefix(p))
        .unwrap_or("");
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) || letters.len() > 8 {
        return u64::MAX;
    }
    let mut bytes = letters.bytes();
    let first = bytes.next().map_or(0, |b| u64::from(b - b'a'));
    bytes.fold(first, |idx, b| (idx + 1) * 26 + u64::from(b - b'a'))
}

fn write_image(
    w: &mut SexprWriter,
    def: &DomainDef,
    hvm: bool,
    config_version: u32,
    graphics: Option<&GraphicsDef>,
) -> Result<()> {
    let os = &def.os;
    w.open("image").open(if hvm { "hvm" } else { "linux" });
    if hvm && os.loader.is_none() {
        return Err(unsupported("an HVM domain needs a <loader> (hvmloader)"));
    }
    if let Some(kernel) = &os.kernel {
        w.field_quoted("kernel", kernel);
    }
    if let Some(initrd) = &os.initrd {
        w.field_quoted("ramdisk", initrd);
    }
    if let Some(root) = &os.root {
        w.field_quoted("root", root);
    }
    if let Some(cmdline) = &os.cmdline {
        w.field_quoted("args", cmdline);
    }
    if hvm {
        let loader = os.loader.as_deref().unwrap_or_default();
        w.field_quoted(
            if os.kernel.is_some() {
                "loader"
            } else {
                "kernel"
            },
            loader,
        );
        w.field("vcpus", &def.vcpus.to_string());
        let order: String = if os.boot.is_empty() {
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
        w.field("boot", &order);
        if config_version == 1
            && let Some(src) = def
                .devices
                .disks
                .iter()
                .filter(|d| d.device == DiskDevice::Cdrom && d.target_dev == "hdc")
                .find_map(|d| d.source.as_deref())
        {
            w.field_quoted("cdrom", src);
        }
        for fd in ["fda", "fdb"] {
            if let Some(src) = def
                .devices
                .disks
                .iter()
                .filter(|d| d.device == DiskDevice::Floppy && d.target_dev == fd)
                .find_map(|d| d.source.as_deref())
            {
                w.field_quoted(fd, src);
            }
        }
        let features = &def.features;
        for (name, on) in [
            ("acpi", features.acpi),
            ("apic", features.apic),
            ("pae", features.pae),
        ] {
            if on {
                w.field(name, "1");
            }
        }
        w.field("usb", "1");
        for input in &def.devices.inputs {
            if input.bus != Some(InputBus::Usb) {
                continue;
            }
            let kind = match input.input_type {
                InputType::Mouse => "mouse",
                InputType::Tablet => "tablet",
                InputType::Keyboard => {
                    return Err(unsupported("a USB keyboard on xend"));
                }
            };
            w.field("usbdevice", kind);
        }
        match def.devices.parallels.first() {
            Some(p) => w.field("parallel", &format_chardev(p)?),
            None => w.field("parallel", "none"),
        };
        // An HVM guest's <console> is its first serial port when no <serial> is given.
        match def.devices.serials.first().or(def.devices.consoles.first()) {
            Some(s) => w.field("serial", &format_chardev(s)?),
            None => w.field("serial", "none"),
        };
        match &def.clock.offset {
            ClockOffset::Utc => {}
            ClockOffset::Localtime => {
                w.field("localtime", "1");
            }
            other => {
                return Err(unsupported(format!(
                    "clock offset {other:?}: xend knows only utc and localtime"
                )));
            }
        }
        if !def.devices.sounds.is_empty() {
            // Each model once, as libvirt kept them.
            let mut models: Vec<&str> = Vec::new();
            for sound in &def.devices.sounds {
                if !models.contains(&sound.model.as_str()) {
                    models.push(sound.model.as_str());
                }
            }
            w.field_quoted("soundhw", &models.join(","));
        }
    }
    if let Some(emulator) = &def.devices.emulator
        && (hvm || config_version >= 3)
    {
        w.field_quoted("device_model", emulator);
    }
    // PV graphics up to Xen 3.0.3 and HVM graphics up to 3.0.4 live in the image.
    if let Some(g) = graphics
        && ((!hvm && config_version < 3) || (hvm && config_version < 4))
    {
        match g {
            GraphicsDef::Sdl(sdl) => {
                w.field("sdl", "1");
                write_sdl(w, sdl);
            }
            GraphicsDef::Vnc(v) => {
                w.field("vnc", "1");
                if config_version >= 2 {
                    write_vnc(w, v)?;
                }
            }
        }
    }
    w.close().close();
    Ok(())
}

fn write_sdl(w: &mut SexprWriter, sdl: &SdlGraphics) {
    if let Some(display) = &sdl.display {
        w.field_quoted("display", display);
    }
    if let Some(xauth) = &sdl.xauth {
        w.field_quoted("xauthority", xauth);
    }
}

fn write_vnc(w: &mut SexprWriter, v: &VncGraphics) -> Result<()> {
    match (v.autoport, v.port) {
        (false, Some(port)) => {
            let display = port.checked_sub(5900).ok_or_else(|| {
                unsupported(format!(
                    "VNC port {port}: xend takes a display (port 5900 + N)"
                ))
            })?;
            w.field("vncunused", "0");
            w.field("vncdisplay", &display.to_string());
        }
        _ => {
            w.field("vncunused", "1");
        }
    }
    if let Some(listen) = &v.listen {
        w.field_quoted("vnclisten", listen);
    }
    if let Some(passwd) = &v.passwd {
        w.field_quoted("vncpasswd", passwd);
    }
    if let Some(keymap) = &v.keymap {
        w.field_quoted("keymap", keymap);
    }
    Ok(())
}

/// Writes a character device as xend and qemu-dm spell it (see [`parse_chardev`]).
pub fn format_chardev(def: &ChardevDef) -> Result<String> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    Ok(match &def.source {
        ChardevSource::Null => "null".to_owned(),
        ChardevSource::Vc => "vc".to_owned(),
        ChardevSource::Stdio => "stdio".to_owned(),
        ChardevSource::Pty { .. } => "pty".to_owned(),
        ChardevSource::Dev { path } => path.clone(),
        ChardevSource::File { path } => format!("file:{path}"),
        ChardevSource::Pipe { path } => format!("pipe:{path}"),
        ChardevSource::Tcp {
            mode,
            host,
            service,
            protocol,
        } => format!(
            "{}:{host}:{service}{}",
            match protocol {
                ChardevProtocol::Raw => "tcp",
                ChardevProtocol::Telnet => "telnet",
            },
            if *mode == ChardevMode::Bind {
                ",listen"
            } else {
                ""
            }
        ),
        ChardevSource::Udp {
            bind_host,
            bind_service,
            connect_host,
            connect_service,
        } => {
            let mut s = format!("udp:{}:{connect_service}", opt(connect_host));
            if bind_host.is_some() || bind_service.is_some() {
                s.push_str(&format!("@{}:{}", opt(bind_host), opt(bind_service)));
            }
            s
        }
        ChardevSource::Unix { mode, path } => format!(
            "unix:{path}{}",
            if *mode == ChardevMode::Bind {
                ",listen"
            } else {
                ""
            }
        ),
    })
}

fn write_disk(w: &mut SexprWriter, disk: &DiskDef, hvm: bool, config_version: u32) -> Result<()> {
    let tap = disk.driver_name.as_deref() == Some("tap");
    w.open(if tap { "tap" } else { "vbd" });
    // The old `ioemu:` spelling of a target is the prefix config version 1 wants, not a name.
    let target = disk
        .target_dev
        .strip_prefix("ioemu:")
        .unwrap_or(&disk.target_dev);
    let dev = if !hvm {
        target.to_owned()
    } else if config_version == 1 {
        format!("ioemu:{target}")
    } else {
        let kind = if disk.device == DiskDevice::Cdrom {
            "cdrom"
        } else {
            "disk"
        };
        format!("{target}:{kind}")
    };
    w.field_quoted("dev", &dev);
    if let Some(src) = &disk.source {
        let uname = match disk.driver_name.as_deref() {
            Some("tap") => format!("tap:{}:{src}", disk.driver_type.as_deref().unwrap_or("aio")),
            Some(driver) => format!("{driver}:{src}"),
            None if disk.disk_type == DiskType::File => format!("file:{src}"),
            None if src.starts_with('/') => format!("phy:{src}"),
            None => format!("phy:/dev/{src}"),
        };
        w.field_quoted("uname", &uname);
    } else if disk.device == DiskDevice::Disk {
        return Err(unsupported(format!(
            "disk '{}' has no source",
            disk.target_dev
        )));
    }
    let mode = if disk.readonly || disk.device == DiskDevice::Cdrom {
        "r"
    } else if disk.shareable {
        "w!"
    } else {
        "w"
    };
    w.field_quoted("mode", mode);
    w.close();
    Ok(())
}

fn write_interface(
    w: &mut SexprWriter,
    net: &InterfaceDef,
    hvm: bool,
    config_version: u32,
    bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    w.open("vif");
    if let Some(mac) = &net.mac {
        w.field_quoted("mac", &mac.to_string());
    }
    match &net.source {
        InterfaceSource::Bridge { bridge } => {
            w.field_quoted("bridge", bridge);
            w.field_quoted("script", net.script.as_deref().unwrap_or("vif-bridge"));
        }
        InterfaceSource::Network { network } => {
            let bridge = bridge_of(network).ok_or_else(|| {
                unsupported(format!(
                    "interface on network '{network}': its bridge is not known here"
                ))
            })?;
            w.field_quoted("bridge", &bridge);
            w.field_quoted("script", net.script.as_deref().unwrap_or("vif-bridge"));
        }
        InterfaceSource::Ethernet { .. } => {
            if let Some(script) = &net.script {
                w.field_quoted("script", script);
            }
            if let Some(ip) = &net.ip {
                w.field_quoted("ip", &ip.to_string());
            }
        }
        other => {
            return Err(unsupported(format!(
                "interface type '{}': xend has bridge and ethernet (routed) vifs",
                other.type_name()
            )));
        }
    }
    if let Some(name) = &net.target_dev
        && !name.starts_with("vif")
    {
        w.field_quoted("vifname", name);
    }
    if let Some(model) = &net.model {
        w.field_quoted("model", model);
    }
    // (type ioemu) breaks paravirtual drivers in HVM guests from Xen 3.1.
    if hvm && config_version < 4 {
        w.field("type", "ioemu");
    }
    w.close();
    Ok(())
}

/// The S-expression of one device for xend's `device_create` / `device_configure` (a disk or an
/// interface; `(vbd …)`, `(tap …)` or `(vif …)`), as libvirt's attach-device sent it.
pub fn device_to_sexpr(device: &Device, hvm: bool, config_version: u32) -> Result<String> {
    check_version(config_version)?;
    let mut w = SexprWriter::new();
    match device {
        Device::Disk(disk) => write_disk(&mut w, disk, hvm, config_version)?,
        Device::Interface(net) => write_interface(&mut w, net, hvm, config_version, &|_| None)?,
        other => {
            return Err(unsupported(format!(
                "attaching a <{}> through xend",
                other.element_name()
            )));
        }
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_index_like_libvirt() {
        assert_eq!(disk_index("hda"), 0);
        assert_eq!(disk_index("hdz"), 25);
        assert_eq!(disk_index("hdaa"), 26);
        assert_eq!(disk_index("xvdb"), 1);
        assert_eq!(disk_index("ioemu:hdc"), 2);
        assert_eq!(disk_index("hdc:cdrom"), 2);
        assert_eq!(disk_index("weird"), u64::MAX);
        assert_eq!(disk_index("hdzzzzzzzzzzzz"), u64::MAX);
    }

    #[test]
    fn cpusets_normalise() {
        assert_eq!(normalize_cpuset("0-3,^2,6").unwrap(), "0-1,3,6");
        assert_eq!(normalize_cpuset("5,4,3").unwrap(), "3-5");
        assert!(normalize_cpuset("3-1").is_err());
        assert!(normalize_cpuset("^1").is_err());
        assert!(normalize_cpuset("99999").is_err());
    }

    #[test]
    fn chardevs_round_trip() {
        for text in [
            "pty",
            "null",
            "vc",
            "stdio",
            "/dev/ttyS0",
            "file:/tmp/log",
            "pipe:/tmp/p",
            "tcp:localhost:9999,listen",
            "telnet:example.org:23",
            "udp:localhost:9998@localhost:9999",
            "udp:host:1",
            "unix:/tmp/sock,listen",
            "unix:/tmp/sock",
        ] {
            let def = parse_chardev(text, None).unwrap();
            assert_eq!(format_chardev(&def).unwrap(), text);
        }
        for bad in [
            "bogus:1",
            "tcp:nocolon",
            "tcp:host:",
            "udp:x",
            "file:",
            "unix:",
        ] {
            assert!(parse_chardev(bad, None).is_err(), "{bad}");
        }
        let def = parse_chardev("tcp::7000,listen", None).unwrap();
        assert_eq!(format_chardev(&def).unwrap(), "tcp:0.0.0.0:7000,listen");
    }

    #[test]
    fn structural_errors_name_the_field() {
        let base = "(domain (domid 1)(name x)(uuid 596a5d2171f48fb2e068e2386a5c413e)";
        let cases = [
            ("(vm (name x))", "expected a (domain"),
            (
                "(domain (name x)(uuid 596a5d2171f48fb2e068e2386a5c413e))",
                "missing domid",
            ),
            (
                "(domain (domid 1)(uuid 596a5d2171f48fb2e068e2386a5c413e))",
                "missing name",
            ),
            ("(domain (domid 1)(name x))", "missing uuid"),
            ("(domain (domid 1)(name x)(uuid nope))", "not a UUID"),
            (
                "(domain (domid 1)(name a/b)(uuid 596a5d2171f48fb2e068e2386a5c413e))",
                "valid domain name",
            ),
            (&format!("{base}(memory lots))") as &str, "domain/memory"),
            (&format!("{base}(on_crash explode))"), "unknown lifecycle"),
            (
                &format!("{base}(image (linux (args x))))"),
                "missing kernel",
            ),
            (
                &format!("{base}(image (hvm (boot c))))"),
                "missing HVM loader",
            ),
            (
                &format!("{base}(device (vbd (dev xvda)(uname /x))))"),
                "missing driver name",
            ),
            (
                &format!("{base}(device (vbd (uname file:/x))))"),
                "has no dev",
            ),
            (
                &format!("{base}(device (vif (mac zz:zz))))"),
                "malformed mac",
            ),
            (&format!("{base}(device (vif (ip 1.2.3))))"), "malformed ip"),
            (
                &format!("{base}(image (hvm (kernel /l)(serial bogus:1))))"),
                "serial",
            ),
            (
                &format!("{base}(image (hvm (kernel /l)(soundhw 'sb16,kazoo'))))"),
                "kazoo",
            ),
            (&format!("{base}(device (vfb (type spice))))"), "spice"),
        ];
        for (text, want) in cases {
            let root = Sexpr::parse(text).unwrap();
            match sexpr_to_domain(&root, 2, &LiveInfo::default()) {
                Err(e) => assert!(e.to_string().contains(want), "{text}: {e}"),
                Ok(def) => panic!("{text}: accepted as {def:?}"),
            }
        }
        let root = Sexpr::parse(&format!("{base})")).unwrap();
        assert!(matches!(
            sexpr_to_domain(&root, 0, &LiveInfo::default()),
            Err(Error::ConfigVersion(0))
        ));
        assert!(matches!(
            sexpr_to_domain(&root, 5, &LiveInfo::default()),
            Err(Error::ConfigVersion(5))
        ));
    }

    #[test]
    fn devices_for_attach() {
        let disk = Device::parse(
            "<disk type='file'><driver name='tap' type='qcow'/><source file='/i.qcow'/>\
             <target dev='xvdb'/></disk>",
        )
        .unwrap();
        assert_eq!(
            device_to_sexpr(&disk, false, 3).unwrap(),
            "(tap (dev 'xvdb')(uname 'tap:qcow:/i.qcow')(mode 'w'))"
        );
        assert_eq!(
            device_to_sexpr(&disk, true, 1).unwrap(),
            "(tap (dev 'ioemu:xvdb')(uname 'tap:qcow:/i.qcow')(mode 'w'))"
        );
        let nic = Device::parse(
            "<interface type='bridge'><mac address='00:16:3e:00:00:01'/>\
             <source bridge='xenbr1'/><target dev='guestnet0'/></interface>",
        )
        .unwrap();
        assert_eq!(
            device_to_sexpr(&nic, true, 2).unwrap(),
            "(vif (mac '00:16:3e:00:00:01')(bridge 'xenbr1')(script 'vif-bridge')\
             (vifname 'guestnet0')(type ioemu))"
        );
        let sound = Device::parse("<sound model='sb16'/>").unwrap();
        assert!(matches!(
            device_to_sexpr(&sound, true, 2),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            device_to_sexpr(&nic, true, 9),
            Err(Error::ConfigVersion(9))
        ));
    }

    #[test]
    fn a_writable_cdrom_reads_as_read_only() {
        let text = "(domain (domid 2)(name hvm)(uuid 596a5d2171f48fb2e068e2386a5c413e)\
                    (image (hvm (kernel /usr/lib/xen/boot/hvmloader)))\
                    (device (vbd (dev hdc:cdrom)(uname file:/x.iso)(mode w))))";
        let def = sexpr_to_domain(&Sexpr::parse(text).unwrap(), 2, &LiveInfo::default()).unwrap();
        assert_eq!(def.devices.disks[0].device, DiskDevice::Cdrom);
        assert!(def.devices.disks[0].readonly);
    }

    #[test]
    fn live_info_fills_vnc_port_and_tty() {
        let text = "(domain (domid 7)(name pv)(uuid 596a5d2171f48fb2e068e2386a5c413e)\
                    (image (linux (kernel /k)(vnc 1)))(device (vfb (type vnc))))";
        let live = LiveInfo {
            vnc_port: Some(5907),
            console_tty: Some("/dev/pts/3".into()),
        };
        let def = sexpr_to_domain(&Sexpr::parse(text).unwrap(), 3, &live).unwrap();
        match &def.devices.graphics[..] {
            [GraphicsDef::Vnc(v)] => {
                assert_eq!(v.port, Some(5907));
                assert!(!v.autoport);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            def.devices.consoles[0].source,
            ChardevSource::Pty {
                path: Some("/dev/pts/3".into())
            }
        );
    }

    #[test]
    fn hostile_values_stay_inside_their_atom() {
        let mut def = DomainDef::new("xen", "evil') (bootloader '/bin/sh", "xen");
        def.os.kernel = Some("/k')(x".into());
        def.memory_kib = 1024;
        def.current_memory_kib = 1024;
        let text = domain_to_sexpr(&def, 3).unwrap();
        let root = Sexpr::parse(&text).unwrap();
        assert_eq!(root.node("vm/name"), Some("evil') (bootloader '/bin/sh"));
        assert_eq!(root.node("vm/image/linux/kernel"), Some("/k')(x"));
        assert!(!root.has("vm/bootloader"));
    }

    #[test]
    fn unsupported_definitions_are_refused() {
        let pv = || {
            let mut d = DomainDef::new("xen", "x", "xen");
            d.os.kernel = Some("/k".into());
            d
        };
        let mut kvm = pv();
        kvm.domain_type = "kvm".into();
        assert!(matches!(
            domain_to_sexpr(&kvm, 3),
            Err(Error::Unsupported(_))
        ));
        let mut hvm = pv();
        hvm.os.os_type = "hvm".into();
        hvm.os.kernel = None;
        let e = domain_to_sexpr(&hvm, 3).unwrap_err();
        assert!(e.to_string().contains("loader"), "{e}");
        let mut user = pv();
        user.devices.interfaces.push(InterfaceDef {
            source: InterfaceSource::User,
            mac: None,
            ip: None,
            script: None,
            target_dev: None,
            guest_dev: None,
            model: None,
            address: None,
        });
        assert!(matches!(
            domain_to_sexpr(&user, 3),
            Err(Error::Unsupported(_))
        ));
        let mut net = pv();
        net.devices.interfaces.push(InterfaceDef {
            source: InterfaceSource::Network {
                network: "default".into(),
            },
            mac: None,
            ip: None,
            script: None,
            target_dev: None,
            guest_dev: None,
            model: None,
            address: None,
        });
        assert!(matches!(
            domain_to_sexpr(&net, 3),
            Err(Error::Unsupported(_))
        ));
        let text =
            domain_to_sexpr_with_networks(&net, 3, &|n| (n == "default").then(|| "virbr0".into()))
                .unwrap();
        assert!(
            text.contains("(device (vif (bridge 'virbr0')(script 'vif-bridge')))"),
            "{text}"
        );
    }
}
