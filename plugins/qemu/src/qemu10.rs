//! What QEMU 10 on this host can run.
//!
//! A definition the driver accepts must start, or fail only for a reason of the host that the
//! error names (a missing file or device, no display, no KVM). So everything QEMU 10 itself
//! cannot do is refused when the guest is defined, with the reason, instead of producing a
//! command line that QEMU rejects at start: disks on the Xen bus, Xen framebuffer inputs and
//! consoles, image formats QEMU removed, keymaps it does not have, machine types it no longer
//! offers, devices the machine has no bus for (`isapc` has no PCI), more ISA ports than a PC has,
//! device models the emulator does not know.
//!
//! [`check_definable`] needs nothing but the definition; [`check_with_emulator`] asks the
//! emulator (`-machine help`, `-device help`, each run once per process and binary) and runs
//! only when the definition's emulator exists; [`check_host`] runs at start, for what the host
//! lacks (an X display for SDL).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{
    DiskBus, DiskDevice, DomainDef, GraphicsDef, HostdevSource, InputBus, SoundModel,
};

use crate::argv::{disk_bus, disk_index, host_arch};

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!("unsupported configuration: {}", msg.into()),
    )
}

/// The kind of board a machine type is, as far as the command line cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Board {
    /// `pc`, `pc-i440fx-*`: PCI, two IDE buses, a floppy controller.
    I440fx,
    /// `q35`, `pc-q35-*`: PCIe, six AHCI ports as `ide.N`, no floppy controller.
    Q35,
    /// `isapc`: ISA only, no PCI bus (so no USB and no PCI devices).
    Isa,
    /// Anything else (other architectures' boards).
    Other,
}

/// The machine type a definition runs on: its `<type machine>`, else the architecture's default.
pub(crate) fn machine(def: &DomainDef) -> Option<String> {
    let arch = def.os.arch.as_deref().unwrap_or(host_arch());
    def.os
        .machine
        .clone()
        .or_else(|| crate::argv::default_machine(arch).map(str::to_string))
}

pub(crate) fn board(def: &DomainDef) -> Board {
    match machine(def).as_deref() {
        Some(m) if m == "q35" || m.starts_with("pc-q35") => Board::Q35,
        Some("isapc") => Board::Isa,
        Some(m) if m == "pc" || m.starts_with("pc-i440fx") || m.starts_with("pc-") => Board::I440fx,
        _ => Board::Other,
    }
}

/// The image formats QEMU 10 opens (`format=`), as libvirt names them; `iso` is libvirt's name
/// for a raw CD image.
pub(crate) fn qemu_format(t: &str) -> Option<&'static str> {
    Some(match t {
        "raw" | "iso" => "raw",
        "qcow2" => "qcow2",
        "qcow" => "qcow",
        "qed" => "qed",
        "vmdk" => "vmdk",
        "vdi" => "vdi",
        "vpc" => "vpc",
        "vhdx" => "vhdx",
        "cloop" => "cloop",
        "dmg" => "dmg",
        "bochs" => "bochs",
        "parallels" => "parallels",
        "luks" => "luks",
        _ => return None,
    })
}

/// The keymaps QEMU 10 ships (`-k`; `share/qemu/keymaps`).
const KEYMAPS: &[&str] = &[
    "ar", "bepo", "cz", "da", "de", "de-ch", "en-gb", "en-us", "es", "et", "fi", "fo", "fr",
    "fr-be", "fr-ca", "fr-ch", "hr", "hu", "is", "it", "ja", "lt", "lv", "mk", "nl", "no", "pl",
    "pt", "pt-br", "ru", "sl", "sv", "th", "tr",
];

/// The QEMU device of a `<video>` model, `None` for `none`; an error names a model QEMU lacks.
pub(crate) fn video_device(model: &str, board: Board) -> Result<Option<&'static str>> {
    Ok(Some(match (model, board) {
        ("none", _) => return Ok(None),
        ("vga", Board::Isa) => "isa-vga",
        ("cirrus", Board::Isa) => "isa-cirrus-vga",
        (_, Board::Isa) => {
            return Err(unsupported(format!(
                "video model '{model}' is a PCI card and machine 'isapc' has no PCI bus (use 'vga' or 'cirrus')"
            )));
        }
        ("vga", _) => "VGA",
        ("cirrus", _) => "cirrus-vga",
        ("vmvga", _) => "vmware-svga",
        ("qxl", _) => "qxl-vga",
        ("virtio", _) => "virtio-vga",
        ("bochs", _) => "bochs-display",
        ("ramfb", _) => "ramfb",
        _ => {
            return Err(unsupported(format!(
                "video model '{model}' has no QEMU device (it belongs to another hypervisor)"
            )));
        }
    }))
}

/// The QEMU device of an interface's `<model type>` (default `rtl8139`, or `ne2k_isa` on
/// `isapc`).
pub(crate) fn nic_device(model: Option<&str>, board: Board) -> &str {
    match model {
        None if board == Board::Isa => "ne2k_isa",
        None => "rtl8139",
        Some("virtio") => "virtio-net-pci",
        Some(m) => m,
    }
}

/// Machine types that no QEMU 10 runs: libvirt 0.4's Xen-in-QEMU guests and boards that need
/// devices this driver cannot describe.
fn machine_refusal(m: &str) -> Option<String> {
    match m {
        "xenner" | "xenpv" | "xenfv" => Some(format!(
            "machine type '{m}' runs only under Xen (xenner was never part of QEMU, and QEMU 10 offers \
             xenpv/xenfv only as a Xen device model); use 'pc' or 'q35'"
        )),
        "microvm" => Some(
            "machine type 'microvm' has no PCI, IDE or floppy bus for this driver's devices; use 'pc' or 'q35'"
                .into(),
        ),
        "none" | "x-remote" => Some(format!(
            "machine type '{m}' is not a guest board (use 'pc' or 'q35')"
        )),
        _ => None,
    }
}

/// What QEMU 10 cannot run, refused when the guest is defined (`config-unsupported` with the
/// reason). Needs only the definition.
pub fn check_definable(def: &DomainDef) -> Result<()> {
    let board = board(def);
    let isa = board == Board::Isa;
    let no_pci = |what: String| -> Error {
        unsupported(format!(
            "{what} needs a PCI bus and machine 'isapc' has none (use machine 'pc')"
        ))
    };
    if let Some(why) = machine(def).as_deref().and_then(machine_refusal) {
        return Err(unsupported(why));
    }

    // Disks: bus, index, format, no two on one slot.
    let mut slots: Vec<(DiskBus, u32, &str)> = Vec::new();
    for d in &def.devices.disks {
        let bus = disk_bus(d);
        let t = d.target_dev.as_str();
        let idx = disk_index(t)
            .ok_or_else(|| unsupported(format!("cannot tell the disk index of target '{t}'")))?;
        match bus {
            DiskBus::Xen => {
                return Err(unsupported(format!(
                    "disk '{t}' is on the xen bus, which QEMU 10 offers only as a Xen device model, not under TCG or KVM (use bus 'virtio', 'ide' or 'scsi')"
                )));
            }
            DiskBus::Uml => {
                return Err(unsupported(format!(
                    "the uml bus of '{t}' is not available in QEMU"
                )));
            }
            DiskBus::Ide if board == Board::Q35 && idx > 5 => {
                return Err(unsupported(format!(
                    "IDE/SATA target '{t}' is past the 6 ports of q35"
                )));
            }
            DiskBus::Ide if board != Board::Q35 && idx > 3 => {
                return Err(unsupported(format!("IDE target '{t}' is past hdd")));
            }
            DiskBus::Fdc if idx > 1 => {
                return Err(unsupported(format!("floppy target '{t}' is past fdb")));
            }
            DiskBus::Virtio if d.device != DiskDevice::Disk => {
                return Err(unsupported(format!(
                    "a {} cannot be on the virtio bus ('{t}')",
                    d.device.as_str()
                )));
            }
            DiskBus::Virtio | DiskBus::Scsi | DiskBus::Sata | DiskBus::Usb if isa => {
                return Err(no_pci(format!("disk '{t}' on the {} bus", bus.as_str())));
            }
            _ => {}
        }
        if d.device == DiskDevice::Floppy && bus != DiskBus::Fdc {
            return Err(unsupported(format!(
                "floppy '{t}' must be on the fdc bus, not '{}'",
                bus.as_str()
            )));
        }
        if d.device != DiskDevice::Floppy && bus == DiskBus::Fdc {
            return Err(unsupported(format!(
                "a {} cannot be on the floppy controller ('{t}')",
                d.device.as_str()
            )));
        }
        // hda..hdd and sda.. number the same slots whatever the letters say.
        let slot_bus = if bus == DiskBus::Sata && board == Board::Q35 {
            DiskBus::Ide
        } else {
            bus
        };
        if let Some((_, _, other)) = slots.iter().find(|(b, i, _)| *b == slot_bus && *i == idx) {
            return Err(unsupported(format!(
                "disks '{other}' and '{t}' are on the same {} slot",
                bus.as_str()
            )));
        }
        slots.push((slot_bus, idx, t));
        if let Some(f) = d.driver_type.as_deref()
            && qemu_format(f).is_none()
        {
            let why = match f {
                "cow" => "QEMU removed the 'cow' format in version 2.0".to_string(),
                _ => format!(
                    "QEMU 10 has no image format '{f}' (raw, qcow2, qcow, qed, vmdk, vdi, vpc, vhdx, cloop, dmg, bochs, parallels, luks)"
                ),
            };
            return Err(unsupported(format!("disk '{t}': {why}")));
        }
    }

    for fs in &def.devices.filesystems {
        if fs.fs_type != virtkit_xml::FilesystemType::Mount {
            return Err(unsupported(format!(
                "filesystem type '{}' (only 'mount' is shared with 9p)",
                fs.fs_type.as_str()
            )));
        }
        if isa {
            return Err(no_pci(format!(
                "filesystem '{}' (virtio-9p)",
                fs.target_dir
            )));
        }
    }

    for n in &def.devices.interfaces {
        if isa && n.model.as_deref() != Some("ne2k_isa") && n.model.is_some() {
            return Err(no_pci(format!(
                "interface model '{}'",
                n.model.as_deref().unwrap_or_default()
            )));
        }
    }

    // PC ports: QEMU has 4 ISA serial and 3 ISA parallel ports.
    let serial_consoles = def.devices.serials.is_empty()
        && def
            .devices
            .consoles
            .iter()
            .any(|c| matches!(c.target_type.as_deref(), None | Some("serial")));
    let serials = def.devices.serials.len() + usize::from(serial_consoles);
    if serials > 4 {
        return Err(unsupported(format!(
            "{serials} serial ports: a PC has 4 (QEMU's isa-serial)"
        )));
    }
    if def.devices.parallels.len() > 3 {
        return Err(unsupported(format!(
            "{} parallel ports: a PC has 3 (QEMU's isa-parallel)",
            def.devices.parallels.len()
        )));
    }
    for c in &def.devices.consoles {
        match c.target_type.as_deref() {
            None | Some("serial") => {}
            Some("virtio") if isa => return Err(no_pci("a virtio console".into())),
            Some("virtio") => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "console target type '{other}' has no QEMU device (use 'serial' or 'virtio')"
                )));
            }
        }
    }

    for i in &def.devices.inputs {
        match i.bus {
            Some(InputBus::Xen) => {
                return Err(unsupported(
                    "input bus 'xen' is the Xen paravirtual framebuffer, which QEMU 10 offers only as a Xen device model (use 'ps2', 'usb' or 'virtio')",
                ));
            }
            Some(InputBus::Usb) if isa => return Err(no_pci("a USB input device".into())),
            Some(InputBus::Virtio) if isa => return Err(no_pci("a virtio input device".into())),
            _ => {}
        }
    }

    for g in &def.devices.graphics {
        if let GraphicsDef::Vnc(v) = g
            && let Some(k) = v.keymap.as_deref()
            && !KEYMAPS.contains(&k)
        {
            return Err(unsupported(format!(
                "QEMU 10 has no keymap '{k}' (one of {})",
                KEYMAPS.join(", ")
            )));
        }
    }
    for v in &def.devices.videos {
        video_device(&v.model, board)?;
    }

    for s in &def.devices.sounds {
        match s.model {
            SoundModel::Pcspk | SoundModel::Sb16 => {}
            _ if isa => {
                return Err(no_pci(format!("sound model '{}'", s.model.as_str())));
            }
            _ => {}
        }
    }
    if isa && !def.devices.hostdevs.is_empty() {
        let what = match def.devices.hostdevs[0].source {
            HostdevSource::Usb { .. } => "a USB host device",
            HostdevSource::Pci(_) => "a PCI host device",
        };
        return Err(no_pci(what.into()));
    }
    Ok(())
}

/// Runs `bin ARGS` once per process and binary, keeping its standard output.
fn help_text(bin: &str, what: &str) -> Result<String> {
    static C: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    let map = C.get_or_init(Default::default);
    let key = (bin.to_string(), what.to_string());
    if let Some(v) = map.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    let text = crate::emulator::run_output(bin, &[what, "help"])?;
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, text.clone());
    Ok(text)
}

/// `-device help`: each device name (and alias) with its bus (`PCI`, `ISA`, ...).
pub(crate) fn parse_devices(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("name \"") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('"') else {
            continue;
        };
        let field = |key: &str| {
            rest.find(key)
                .map(|i| &rest[i + key.len()..])
                .map(|r| r.split([',', '"']).next().unwrap_or("").trim().to_string())
        };
        let bus = field(", bus ").unwrap_or_default();
        if let Some(i) = rest.find("alias \"") {
            let alias = rest[i + 7..].split('"').next().unwrap_or("");
            out.insert(alias.to_string(), bus.clone());
        }
        out.insert(name.to_string(), bus);
    }
    out
}

/// What the definition's emulator does not offer: its machine type (unless it is one every
/// QEMU 10 for the architecture has) and its NIC models.
pub fn check_with_emulator(def: &DomainDef, bin: &str) -> Result<()> {
    let arch = def.os.arch.as_deref().unwrap_or(host_arch());
    let x86 = matches!(arch, "x86_64" | "i686" | "i386" | "i586" | "i486");
    if let Some(m) = def.os.machine.as_deref()
        && !(x86 && matches!(m, "pc" | "q35" | "isapc"))
    {
        let machines = crate::emulator::machines(bin)?;
        if !machines.iter().any(|c| c.name == m) {
            let mut known: Vec<&str> = machines
                .iter()
                .filter(|c| c.canonical.is_some())
                .map(|c| c.name.as_str())
                .collect();
            if known.is_empty() {
                known = machines.iter().take(8).map(|c| c.name.as_str()).collect();
            }
            return Err(unsupported(format!(
                "machine type '{m}' is not offered by '{bin}' (QEMU 10 removed the old versioned types; use {})",
                known.join(", ")
            )));
        }
    }
    let board = board(def);
    let models: Vec<&str> = def
        .devices
        .interfaces
        .iter()
        .filter(|n| n.model.is_some() && n.model.as_deref() != Some("virtio"))
        .map(|n| nic_device(n.model.as_deref(), board))
        .collect();
    if !models.is_empty() {
        let devices = parse_devices(&help_text(bin, "-device")?);
        for m in models {
            match devices.get(m).map(String::as_str) {
                None => {
                    return Err(unsupported(format!(
                        "'{bin}' has no NIC model '{m}' (see '{bin} -device help', network devices)"
                    )));
                }
                Some(bus) if board == Board::Isa && bus != "ISA" => {
                    return Err(unsupported(format!(
                        "NIC model '{m}' is on the {bus} bus and machine 'isapc' has only ISA (use 'ne2k_isa')"
                    )));
                }
                Some("PCI" | "ISA" | "usb-bus") => {}
                Some(bus) => {
                    return Err(unsupported(format!(
                        "NIC model '{m}' is on the {bus} bus, which this driver does not place devices on"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// What the host lacks for this guest, checked when it starts: an X display for SDL graphics.
pub fn check_host(def: &DomainDef) -> Result<()> {
    for g in &def.devices.graphics {
        if let GraphicsDef::Sdl(s) = g
            && s.display.is_none()
            && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty())
        {
            return Err(Error::new(
                ErrorCode::OperationFailed,
                format!(
                    "operation failed: domain '{}' has SDL graphics, which need an X display, and this host has none (DISPLAY is not set and the XML gives no display)",
                    def.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(devices: &str, os: &str) -> DomainDef {
        DomainDef::parse(&format!(
            "<domain type='qemu'><name>t</name><memory>65536</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64'{os}>hvm</type></os><devices>{devices}</devices></domain>"
        ))
        .unwrap()
    }

    fn refused(devices: &str, os: &str, why: &str) {
        let e = check_definable(&def(devices, os)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");
        assert!(e.message.contains(why), "{devices}{os}: {e}");
    }

    #[test]
    fn what_qemu_10_cannot_run_is_refused_with_the_reason() {
        refused("", " machine='xenner'", "runs only under Xen");
        refused("", " machine='microvm'", "microvm");
        refused(
            "<disk type='file'><source file='/a'/><target dev='xvda'/></disk>",
            "",
            "xen bus",
        );
        refused(
            "<disk type='file'><driver name='qemu' type='cow'/><source file='/a'/><target dev='hda'/></disk>",
            "",
            "removed the 'cow' format",
        );
        refused(
            "<disk type='file'><source file='/a'/><target dev='hda'/></disk>\
             <disk type='file'><source file='/b'/><target dev='hda' bus='ide'/></disk>",
            "",
            "same ide slot",
        );
        refused(
            "<disk type='file' device='cdrom'><source file='/a'/><target dev='vda' bus='virtio'/></disk>",
            "",
            "virtio bus",
        );
        refused("<graphics type='vnc' keymap='xx'/>", "", "no keymap 'xx'");
        refused("<video><model type='xen'/></video>", "", "no QEMU device");
        refused(&"<serial type='null'/>".repeat(5), "", "a PC has 4");
        refused(&"<parallel type='null'/>".repeat(4), "", "a PC has 3");
        refused(
            "<console type='pty'><target type='xen'/></console>",
            "",
            "console target type 'xen'",
        );
        refused(
            "<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/></disk>",
            " machine='isapc'",
            "has none",
        );
        refused("<sound model='es1370'/>", " machine='isapc'", "has none");
        refused(
            "<disk type='file' device='floppy'><source file='/a'/><target dev='hda' bus='ide'/></disk>",
            "",
            "fdc bus",
        );
    }

    #[test]
    fn what_qemu_10_runs_is_accepted() {
        for (devices, os) in [
            (
                "<disk type='file'><driver name='qemu' type='qcow2'/><source file='/a'/><target dev='hda'/></disk>\
              <disk type='file' device='cdrom'><driver name='qemu' type='iso'/><source file='/b'/><target dev='hdc'/></disk>\
              <disk type='file' device='floppy'><source file='/c'/><target dev='fda'/></disk>",
                " machine='q35'",
            ),
            (
                "<graphics type='vnc' keymap='de-ch'/><video><model type='cirrus'/></video><sound model='sb16'/>\
              <interface type='user'/><serial type='pty'/>",
                " machine='isapc'",
            ),
            (
                "<serial type='null'/><serial type='null'/><serial type='null'/><serial type='null'/>\
              <console type='pty'/><console type='pty'><target type='virtio'/></console>",
                "",
            ),
        ] {
            check_definable(&def(devices, os)).unwrap_or_else(|e| panic!("{devices}: {e}"));
        }
    }

    #[test]
    fn device_help_is_read_with_buses_and_aliases() {
        let d = parse_devices(
            "Network devices:\nname \"e1000\", bus PCI, alias \"e1000-82540em\", desc \"Intel Gigabit Ethernet\"\n\
             name \"ne2k_isa\", bus ISA\nname \"usb-net\", bus usb-bus\n",
        );
        assert_eq!(d["e1000"], "PCI");
        assert_eq!(d["e1000-82540em"], "PCI");
        assert_eq!(d["ne2k_isa"], "ISA");
        assert_eq!(d["usb-net"], "usb-bus");
    }
}
