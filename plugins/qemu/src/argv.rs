//! Domain XML → the command line of today's QEMU (10.x).
//!
//! [`build_command`] is a pure function of the definition and an [`ArgvContext`] (emulator path,
//! runtime file paths, bridges of active networks). It writes the modern spelling of every
//! device (`-drive if=none` + `-device`, `-netdev` + `-device`, `-chardev` + `-device`,
//! `-audiodev`), never the options QEMU 10 removed (`-no-acpi`, `-soundhw`, `-net nic,vlan=`,
//! `-usbdevice`).
//!
//! Stable ids make the command line readable and let the driver address devices over QMP: a disk
//! is `-drive ...,id=drive-<target>` + `-device ...,id=<target>`, a NIC is `hostnet<i>` / `net<i>`,
//! a serial port `charserial<i>` / `serial<i>`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{
    BootDevice, ChardevMode, ChardevProtocol, ChardevSource, ClockOffset, DiskBus, DiskDef,
    DiskDevice, DomainDef, GraphicsDef, HostdevSource, InputBus, InputType, InterfaceSource,
    LifecycleAction, SoundModel,
};

/// What the command line depends on besides the definition.
#[derive(Clone, Debug, Default)]
pub struct ArgvContext {
    /// argv\[0\]: the emulator binary.
    pub emulator: String,
    /// The QMP socket QEMU listens on (`-chardev socket,...,server=on` + `-mon mode=control`).
    pub qmp_socket: Option<PathBuf>,
    /// `-pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `-daemonize`.
    pub daemonize: bool,
    /// `-incoming defer`: the guest state comes from a migration stream (restore).
    pub incoming: bool,
    /// Bridge device of each active virtual network, by network name.
    pub network_bridges: BTreeMap<String, String>,
    /// The driver runs as root: `network`/`bridge` interfaces get a tap device that the driver
    /// adds to the bridge itself (otherwise QEMU's bridge helper does it).
    pub privileged: bool,
    /// Seconds since the epoch, for `<clock offset='variable'>`.
    pub now_epoch: Option<i64>,
}

/// A QEMU invocation: environment additions and argv.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QemuCommand {
    /// Variables to set (`TZ` for a timezone clock, `DISPLAY`/`XAUTHORITY` for SDL).
    pub env: Vec<(String, String)>,
    /// argv, starting with the emulator.
    pub argv: Vec<String>,
    /// Tap devices to add to bridges once QEMU runs: (tap, bridge).
    pub taps: Vec<(String, String)>,
}

impl QemuCommand {
    /// The command as one shell-like line: `VAR=value ... /usr/bin/qemu-system-x86_64 -name ...`
    /// (what `domxml-to-native qemu-argv` prints). Arguments with spaces or quotes are quoted.
    pub fn to_line(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        parts.extend(self.argv.iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,:/+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Escapes a value for QEMU's `key=value,key=value` option syntax (a comma is doubled).
pub fn opt_escape(s: &str) -> String {
    s.replace(',', ",,")
}

/// The tap device of a guest's `i`th bridged interface without `<target dev>`: `vk` + the first
/// 8 hex digits of its UUID + `n<i>` (at most 15 bytes, as the kernel allows).
pub fn tap_name(def: &DomainDef, i: usize) -> String {
    format!("vk{}n{i}", &def.uuid.simple().to_string()[..8])
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!("unsupported configuration: {}", msg.into()),
    )
}

/// The index a disk target name stands for, as libvirt counts: `hda`/`sda`/`vda`/`fda`/`xvda` → 0,
/// `hdz` → 25, `hdaa` → 26.
pub fn disk_index(target: &str) -> Option<u32> {
    let letters = ["xvd", "hd", "sd", "vd", "fd", "ub"]
        .iter()
        .find_map(|p| target.strip_prefix(p))?;
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut idx: u32 = 0;
    for (i, b) in letters.bytes().enumerate() {
        let v = u32::from(b - b'a');
        idx = if i == 0 {
            v
        } else {
            idx.checked_add(1)?.checked_mul(26)?.checked_add(v)?
        };
    }
    Some(idx)
}

/// The bus a disk is on: its `<target bus>`, else what its target name implies.
pub fn disk_bus(d: &DiskDef) -> DiskBus {
    if let Some(b) = d.target_bus {
        return b;
    }
    if d.device == DiskDevice::Floppy {
        return DiskBus::Fdc;
    }
    let t = d.target_dev.as_str();
    if t.starts_with("xvd") {
        DiskBus::Xen
    } else if t.starts_with("sd") {
        DiskBus::Scsi
    } else if t.starts_with("vd") {
        DiskBus::Virtio
    } else if t.starts_with("fd") {
        DiskBus::Fdc
    } else if t.starts_with("ub") {
        DiskBus::Usb
    } else {
        DiskBus::Ide
    }
}

/// What QEMU 10 cannot run, refused when the guest is defined (`config-unsupported`, with the
/// reason) rather than left to fail at start: see [`crate::qemu10`]. The checks that ask the
/// emulator run only when the definition's emulator exists (a missing one fails the start, naming
/// it).
pub fn check_definable(def: &DomainDef) -> Result<()> {
    crate::qemu10::check_definable(def)?;
    if let Ok(bin) = crate::emulator::emulator_for(def) {
        crate::qemu10::check_with_emulator(def, &bin)?;
    }
    Ok(())
}

fn is_q35(machine: &str) -> bool {
    machine == "q35" || machine.starts_with("pc-q35")
}

/// The default machine type for an architecture, when `<type machine>` is absent.
pub fn default_machine(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" | "i686" | "i386" => Some("pc"),
        "aarch64" | "armv7l" | "arm" => Some("virt"),
        "riscv64" | "riscv32" => Some("virt"),
        "s390x" => Some("s390-ccw-virtio"),
        "ppc64" | "ppc64le" => Some("pseries"),
        _ => None,
    }
}

/// The QEMU architecture name (`qemu-system-<name>`) of a libvirt architecture.
pub fn qemu_arch(arch: &str) -> &str {
    match arch {
        "i686" | "i586" | "i486" => "i386",
        "armv7l" | "armv6l" => "arm",
        "ppc64le" => "ppc64",
        other => other,
    }
}

/// The architecture of this host, as libvirt names it.
pub fn host_arch() -> &'static str {
    virtkit_driver::host::host_arch()
}

/// Builds the QEMU command for `def`.
pub fn build_command(def: &DomainDef, ctx: &ArgvContext) -> Result<QemuCommand> {
    let mut b = Builder {
        cmd: QemuCommand::default(),
        usb: false,
        machine_props: Vec::new(),
    };
    b.cmd.argv.push(ctx.emulator.clone());
    b.build(def, ctx)?;
    Ok(b.cmd)
}

struct Builder {
    cmd: QemuCommand,
    /// A USB controller is needed (`-usb`).
    usb: bool,
    /// Extra `-machine` properties found while walking the devices (`pcspk-audiodev`).
    machine_props: Vec<String>,
}

impl Builder {
    fn arg(&mut self, a: impl Into<String>) {
        self.cmd.argv.push(a.into());
    }

    fn opt(&mut self, name: &str, value: impl Into<String>) {
        self.arg(name);
        self.arg(value);
    }

    fn build(&mut self, def: &DomainDef, ctx: &ArgvContext) -> Result<()> {
        let arch = def
            .os
            .arch
            .clone()
            .unwrap_or_else(|| host_arch().to_string());
        let machine = def
            .os
            .machine
            .clone()
            .or_else(|| default_machine(&arch).map(str::to_string));
        let accel = match def.domain_type.as_str() {
            "qemu" | "kqemu" => "tcg",
            "kvm" => "kvm",
            other => {
                return Err(unsupported(format!(
                    "domain type '{other}' is not served by the QEMU driver"
                )));
            }
        };

        self.opt(
            "-name",
            format!("guest={},debug-threads=on", opt_escape(&def.name)),
        );
        self.arg("-S");
        // The -machine option is written last-but-known: device walking may add properties.
        let machine_at = self.cmd.argv.len();
        self.opt("-m", format!("size={}k", def.memory_kib.max(1024)));
        let smp = match def.vcpu_current.filter(|c| *c < def.vcpus) {
            Some(cur) => format!("{cur},maxcpus={}", def.vcpus),
            None => def.vcpus.max(1).to_string(),
        };
        self.opt("-smp", smp);
        self.opt("-uuid", def.uuid.hyphenated().to_string());
        self.arg("-no-user-config");
        self.arg("-nodefaults");
        if let Some(sock) = &ctx.qmp_socket {
            self.opt(
                "-chardev",
                format!(
                    "socket,id=charmonitor,path={},server=on,wait=off",
                    opt_escape(&sock.display().to_string())
                ),
            );
            self.opt("-mon", "chardev=charmonitor,id=monitor,mode=control");
        }
        self.clock(def, ctx)?;
        if def.on_reboot == LifecycleAction::Destroy {
            self.arg("-no-reboot");
        }
        if def.on_poweroff == LifecycleAction::Preserve {
            self.arg("-no-shutdown");
        }
        self.boot(def);
        let q35 = machine.as_deref().is_some_and(is_q35);
        self.disks(def, q35)?;
        self.filesystems(def)?;
        self.interfaces(def, ctx)?;
        self.chardevs(def)?;
        self.inputs(def);
        self.graphics(def)?;
        self.sounds(def);
        self.hostdevs(def);
        self.balloon(def);
        if self.usb {
            // The on-board USB controller of the machine; it must come before USB devices, so
            // it is spelled as a machine property.
            self.machine_props.push("usb=on".into());
        }
        if ctx.daemonize {
            self.arg("-daemonize");
        }
        if let Some(p) = &ctx.pidfile {
            self.opt("-pidfile", p.display().to_string());
        }
        if ctx.incoming {
            self.opt("-incoming", "defer");
        }

        let mut m = Vec::new();
        if let Some(name) = &machine {
            m.push(opt_escape(name));
        }
        m.push(format!("accel={accel}"));
        if !def.features.acpi && def.is_hvm() && arch_has_acpi(&arch) {
            m.push("acpi=off".into());
        }
        m.append(&mut self.machine_props);
        self.cmd.argv.splice(
            machine_at..machine_at,
            ["-machine".to_string(), m.join(",")],
        );
        Ok(())
    }

    fn clock(&mut self, def: &DomainDef, ctx: &ArgvContext) -> Result<()> {
        let base = match &def.clock.offset {
            ClockOffset::Utc => "utc".to_string(),
            ClockOffset::Localtime => "localtime".to_string(),
            ClockOffset::Timezone(tz) => {
                self.cmd.env.push(("TZ".into(), tz.clone()));
                "localtime".to_string()
            }
            ClockOffset::Variable {
                adjustment: 0,
                basis,
            } if basis.as_deref() == Some("localtime") => "localtime".to_string(),
            // The adjustment is applied to UTC (a localtime basis with an adjustment is taken as
            // UTC too: the host's offset is not known to a pure function).
            ClockOffset::Variable { adjustment, .. } => {
                format_utc(ctx.now_epoch.unwrap_or(0).saturating_add(*adjustment))
            }
        };
        let mut rtc = format!("base={base}");
        for t in &def.clock.timers {
            match (t.name.as_str(), t.tickpolicy.as_deref(), t.present) {
                ("rtc", Some("catchup"), _) => rtc.push_str(",driftfix=slew"),
                ("hpet", _, Some(false)) => self.machine_props.push("hpet=off".into()),
                ("pit", Some("delay"), _) if def.domain_type == "kvm" => {
                    self.opt("-global", "kvm-pit.lost_tick_policy=delay");
                }
                _ => {}
            }
        }
        self.opt("-rtc", rtc);
        Ok(())
    }

    fn boot(&mut self, def: &DomainDef) {
        if !def.is_hvm() || def.os.kernel.is_some() {
            if let Some(k) = &def.os.kernel {
                self.opt("-kernel", k.clone());
                if let Some(i) = &def.os.initrd {
                    self.opt("-initrd", i.clone());
                }
                if let Some(c) = &def.os.cmdline {
                    self.opt("-append", c.clone());
                }
            }
            return;
        }
        let order: String = if def.os.boot.is_empty() {
            "c".into()
        } else {
            def.os
                .boot
                .iter()
                .map(|b| match b {
                    BootDevice::Floppy => 'a',
                    BootDevice::HardDisk => 'c',
                    BootDevice::Cdrom => 'd',
                    BootDevice::Network => 'n',
                })
                // QEMU refuses a device given twice; the first place counts.
                .fold(String::new(), |mut o, c| {
                    if !o.contains(c) {
                        o.push(c);
                    }
                    o
                })
        };
        self.opt("-boot", format!("order={order}"));
    }

    fn disks(&mut self, def: &DomainDef, q35: bool) -> Result<()> {
        let mut scsi_controller = false;
        let mut ahci = false;
        let mut fdc = false;
        let scsi_model = def
            .devices
            .controllers
            .iter()
            .find(|c| c.controller_type == "scsi")
            .and_then(|c| c.model.clone())
            .unwrap_or_else(|| "virtio-scsi".into());
        for d in &def.devices.disks {
            let bus = disk_bus(d);
            let idx = disk_index(&d.target_dev).ok_or_else(|| {
                unsupported(format!(
                    "cannot tell the disk index of target '{}'",
                    d.target_dev
                ))
            })?;
            let cdrom = d.device == DiskDevice::Cdrom;
            let target = opt_escape(&d.target_dev);
            let drive_id = format!("drive-{target}");
            let mut drive = Vec::new();
            match d.source.as_deref().filter(|s| !s.is_empty()) {
                Some(src) => {
                    drive.push(format!("file={}", opt_escape(src)));
                    let format = match d.driver_type.as_deref() {
                        None => "raw",
                        Some(t) => crate::qemu10::qemu_format(t).ok_or_else(|| {
                            unsupported(format!(
                                "disk '{}' has an image format QEMU 10 lacks, '{t}'",
                                d.target_dev
                            ))
                        })?,
                    };
                    drive.push(format!("format={format}"));
                }
                None if d.device == DiskDevice::Disk => {
                    return Err(unsupported(format!(
                        "disk '{}' has no source",
                        d.target_dev
                    )));
                }
                None => {}
            }
            drive.push("if=none".into());
            drive.push(format!("id={drive_id}"));
            if d.readonly || cdrom {
                drive.push("readonly=on".into());
            }
            match d.driver_cache.as_deref() {
                None | Some("default") => {}
                Some(c @ ("none" | "writethrough" | "writeback" | "directsync" | "unsafe")) => {
                    drive.push(format!("cache={c}"))
                }
                Some(other) => {
                    return Err(unsupported(format!(
                        "disk '{}' has an unknown cache mode '{other}'",
                        d.target_dev
                    )));
                }
            }
            self.opt("-drive", drive.join(","));
            let share = if d.shareable { ",share-rw=on" } else { "" };
            let id = format!("drive={drive_id},id={target}{share}");
            let dev = match bus {
                DiskBus::Ide => {
                    let kind = if cdrom { "ide-cd" } else { "ide-hd" };
                    if q35 {
                        if idx > 5 {
                            return Err(unsupported(format!(
                                "IDE/SATA target '{}' is past the 6 ports of q35",
                                d.target_dev
                            )));
                        }
                        format!("{kind},bus=ide.{idx},{id}")
                    } else {
                        if idx > 3 {
                            return Err(unsupported(format!(
                                "IDE target '{}' is past hdd",
                                d.target_dev
                            )));
                        }
                        format!("{kind},bus=ide.{},unit={},{id}", idx / 2, idx % 2)
                    }
                }
                DiskBus::Sata => {
                    let kind = if cdrom { "ide-cd" } else { "ide-hd" };
                    if q35 {
                        format!("{kind},bus=ide.{idx},{id}")
                    } else {
                        if !ahci {
                            self.opt("-device", "ahci,id=sata0");
                            ahci = true;
                        }
                        format!("{kind},bus=sata0.{idx},{id}")
                    }
                }
                DiskBus::Fdc => {
                    if idx > 1 {
                        return Err(unsupported(format!(
                            "floppy target '{}' is past fdb",
                            d.target_dev
                        )));
                    }
                    // q35 has no floppy controller of its own.
                    if q35 && !fdc {
                        self.opt("-device", "isa-fdc,id=fdc0");
                        fdc = true;
                    }
                    let bus = if q35 { "bus=fdc0.0," } else { "" };
                    format!("floppy,{bus}unit={idx},{id}")
                }
                DiskBus::Scsi => {
                    if !scsi_controller {
                        let model = match scsi_model.as_str() {
                            "lsilogic" => "lsi",
                            "lsisas1068" => "mptsas1068",
                            "lsisas1078" => "megasas",
                            _ => "virtio-scsi-pci",
                        };
                        self.opt("-device", format!("{model},id=scsi0"));
                        scsi_controller = true;
                    }
                    let kind = if cdrom { "scsi-cd" } else { "scsi-hd" };
                    format!("{kind},bus=scsi0.0,channel=0,scsi-id={idx},lun=0,{id}")
                }
                DiskBus::Virtio => {
                    if d.device != DiskDevice::Disk {
                        return Err(unsupported(format!(
                            "a {} cannot be on the virtio bus ('{}')",
                            d.device.as_str(),
                            d.target_dev
                        )));
                    }
                    format!("virtio-blk-pci,{id}")
                }
                DiskBus::Usb => {
                    self.usb = true;
                    format!("usb-storage,{id}")
                }
                DiskBus::Xen => format!("xen-disk,vdev={target},{id}"),
                DiskBus::Uml => {
                    return Err(unsupported(format!(
                        "the uml bus of '{}' is not available in QEMU",
                        d.target_dev
                    )));
                }
            };
            self.opt("-device", dev);
        }
        Ok(())
    }

    fn filesystems(&mut self, def: &DomainDef) -> Result<()> {
        for (i, fs) in def.devices.filesystems.iter().enumerate() {
            if fs.fs_type != virtkit_xml::FilesystemType::Mount {
                return Err(unsupported(format!(
                    "filesystem type '{}' (only 'mount' is shared with 9p)",
                    fs.fs_type.as_str()
                )));
            }
            // libvirt's `squash` is QEMU's `none` (passthrough without failing on chown).
            let model = match fs.access_mode.as_deref() {
                None => "passthrough",
                Some("squash") => "none",
                Some(m) => m,
            };
            let ro = if fs.readonly { ",readonly=on" } else { "" };
            self.opt(
                "-fsdev",
                format!(
                    "local,id=fsdev-fs{i},path={},security_model={}{ro}",
                    opt_escape(&fs.source),
                    opt_escape(model)
                ),
            );
            self.opt(
                "-device",
                format!(
                    "virtio-9p-pci,id=fs{i},fsdev=fsdev-fs{i},mount_tag={}",
                    opt_escape(&fs.target_dir)
                ),
            );
        }
        Ok(())
    }

    fn interfaces(&mut self, def: &DomainDef, ctx: &ArgvContext) -> Result<()> {
        for (i, n) in def.devices.interfaces.iter().enumerate() {
            let netdev = format!("hostnet{i}");
            // Tap names are host-wide: the guest's UUID keeps them apart across roots.
            let tap_name = || n.target_dev.clone().unwrap_or_else(|| tap_name(def, i));
            let backend = match &n.source {
                InterfaceSource::User => format!("user,id={netdev}"),
                InterfaceSource::Network { network } => {
                    let br = ctx.network_bridges.get(network).ok_or_else(|| {
                        Error::operation_invalid(format!("network '{network}' is not active"))
                    })?;
                    self.bridge_backend(&netdev, br, ctx, tap_name())
                }
                InterfaceSource::Bridge { bridge } => {
                    self.bridge_backend(&netdev, bridge, ctx, tap_name())
                }
                InterfaceSource::Ethernet { .. } => {
                    let script = n
                        .script
                        .as_deref()
                        .map(opt_escape)
                        .unwrap_or_else(|| "no".into());
                    let ifname = n
                        .target_dev
                        .as_deref()
                        .map(|t| format!(",ifname={}", opt_escape(t)))
                        .unwrap_or_default();
                    format!("tap,id={netdev}{ifname},script={script},downscript=no")
                }
                InterfaceSource::Mcast { address, port } => {
                    format!("socket,id={netdev},mcast={}:{port}", opt_escape(address))
                }
                InterfaceSource::Server { address, port } => {
                    format!(
                        "socket,id={netdev},listen={}:{port}",
                        opt_escape(address.as_deref().unwrap_or(""))
                    )
                }
                InterfaceSource::Client { address, port } => {
                    format!("socket,id={netdev},connect={}:{port}", opt_escape(address))
                }
            };
            self.opt("-netdev", backend);
            let model = crate::qemu10::nic_device(n.model.as_deref(), crate::qemu10::board(def));
            let mac = n.mac.map(|m| format!(",mac={m}")).unwrap_or_default();
            self.opt(
                "-device",
                format!("{},netdev={netdev},id=net{i}{mac}", opt_escape(model)),
            );
        }
        Ok(())
    }

    fn bridge_backend(
        &mut self,
        netdev: &str,
        bridge: &str,
        ctx: &ArgvContext,
        tap: String,
    ) -> String {
        if ctx.privileged {
            self.cmd.taps.push((tap.clone(), bridge.to_string()));
            format!(
                "tap,id={netdev},ifname={},script=no,downscript=no",
                opt_escape(&tap)
            )
        } else {
            format!("bridge,id={netdev},br={}", opt_escape(bridge))
        }
    }

    fn chardevs(&mut self, def: &DomainDef) -> Result<()> {
        let mut serials: Vec<&virtkit_xml::ChardevDef> = def.devices.serials.iter().collect();
        let mut virtio_consoles = Vec::new();
        for c in &def.devices.consoles {
            match c.target_type.as_deref() {
                Some("virtio") => virtio_consoles.push(c),
                // A serial console is serial port 0: with no <serial>, it creates one.
                None | Some("serial") if def.is_hvm() && serials.is_empty() => serials.push(c),
                _ => {}
            }
        }
        for (i, s) in serials.iter().enumerate() {
            let backend = chardev_backend(&s.source, false)?;
            self.opt("-chardev", format!("{backend},id=charserial{i}"));
            self.opt(
                "-device",
                format!("isa-serial,chardev=charserial{i},id=serial{i}"),
            );
        }
        for (i, p) in def.devices.parallels.iter().enumerate() {
            let backend = chardev_backend(&p.source, true)?;
            self.opt("-chardev", format!("{backend},id=charparallel{i}"));
            self.opt(
                "-device",
                format!("isa-parallel,chardev=charparallel{i},id=parallel{i}"),
            );
        }
        if !virtio_consoles.is_empty() {
            self.opt("-device", "virtio-serial-pci,id=virtio-serial0");
            for (i, c) in virtio_consoles.iter().enumerate() {
                let backend = chardev_backend(&c.source, false)?;
                self.opt("-chardev", format!("{backend},id=charconsole{i}"));
                self.opt(
                    "-device",
                    format!("virtconsole,chardev=charconsole{i},id=console{i}"),
                );
            }
        }
        Ok(())
    }

    fn inputs(&mut self, def: &DomainDef) {
        for (i, inp) in def.devices.inputs.iter().enumerate() {
            let kind = match inp.input_type {
                InputType::Mouse => "mouse",
                InputType::Tablet => "tablet",
                InputType::Keyboard => "kbd",
            };
            match inp.bus {
                Some(InputBus::Usb) => {
                    self.usb = true;
                    self.opt("-device", format!("usb-{kind},id=input{i}"));
                }
                Some(InputBus::Virtio) => {
                    let kind = if kind == "kbd" { "keyboard" } else { kind };
                    self.opt("-device", format!("virtio-{kind}-pci,id=input{i}"));
                }
                // PS/2 devices are part of the PC; Xen inputs belong to a Xen framebuffer.
                _ => {}
            }
        }
    }

    fn graphics(&mut self, def: &DomainDef) -> Result<()> {
        let mut any = false;
        for g in &def.devices.graphics {
            match g {
                GraphicsDef::Vnc(v) => {
                    any = true;
                    let listen = v
                        .listen
                        .as_deref()
                        .filter(|l| !l.is_empty())
                        .unwrap_or("127.0.0.1");
                    let listen = if listen.contains(':') {
                        format!("[{}]", opt_escape(listen))
                    } else {
                        opt_escape(listen)
                    };
                    let mut spec = match v.port.filter(|p| *p >= 5900 && !v.autoport) {
                        Some(p) => format!("{listen}:{}", p - 5900),
                        // QEMU takes the first free display from :0 up to `to`.
                        None => format!("{listen}:0,to=100"),
                    };
                    if v.passwd.is_some() {
                        spec.push_str(",password=on");
                    }
                    self.opt("-vnc", spec);
                    if let Some(k) = &v.keymap {
                        self.opt("-k", k.clone());
                    }
                }
                GraphicsDef::Sdl(s) => {
                    any = true;
                    if let Some(d) = &s.display {
                        self.cmd.env.push(("DISPLAY".into(), d.clone()));
                    }
                    if let Some(x) = &s.xauth {
                        self.cmd.env.push(("XAUTHORITY".into(), x.clone()));
                    }
                    self.opt("-display", "sdl");
                    if s.fullscreen {
                        self.arg("-full-screen");
                    }
                }
            }
        }
        // VNC is a server beside the display; without SDL there is no local window.
        if !def
            .devices
            .graphics
            .iter()
            .any(|g| matches!(g, GraphicsDef::Sdl(_)))
        {
            self.opt("-display", "none");
        }
        let board = crate::qemu10::board(def);
        if def.devices.videos.is_empty() {
            if any {
                let vga = crate::qemu10::video_device("vga", board)?.unwrap_or("VGA");
                self.opt("-device", format!("{vga},id=video0"));
            }
        } else {
            for (i, v) in def.devices.videos.iter().enumerate() {
                if let Some(dev) = crate::qemu10::video_device(&v.model, board)? {
                    self.opt("-device", format!("{dev},id=video{i}"));
                }
            }
        }
        Ok(())
    }

    fn sounds(&mut self, def: &DomainDef) {
        if def.devices.sounds.is_empty() {
            return;
        }
        self.opt("-audiodev", "none,id=audio0");
        for (i, s) in def.devices.sounds.iter().enumerate() {
            match s.model {
                SoundModel::Pcspk => self.machine_props.push("pcspk-audiodev=audio0".into()),
                SoundModel::Sb16 => {
                    self.opt("-device", format!("sb16,audiodev=audio0,id=sound{i}"))
                }
                SoundModel::Es1370 => {
                    self.opt("-device", format!("ES1370,audiodev=audio0,id=sound{i}"))
                }
                SoundModel::Ac97 => {
                    self.opt("-device", format!("AC97,audiodev=audio0,id=sound{i}"))
                }
                SoundModel::Ich6 | SoundModel::Ich9 => {
                    let hda = if s.model == SoundModel::Ich6 {
                        "intel-hda"
                    } else {
                        "ich9-intel-hda"
                    };
                    self.opt("-device", format!("{hda},id=sound{i}"));
                    self.opt(
                        "-device",
                        format!("hda-duplex,bus=sound{i}.0,audiodev=audio0,id=sound{i}-codec0"),
                    );
                }
                SoundModel::Usb => {
                    self.usb = true;
                    self.opt("-device", format!("usb-audio,audiodev=audio0,id=sound{i}"));
                }
            }
        }
    }

    fn hostdevs(&mut self, def: &DomainDef) {
        for (i, h) in def.devices.hostdevs.iter().enumerate() {
            match &h.source {
                HostdevSource::Usb {
                    vendor,
                    product,
                    bus,
                    device,
                } => {
                    self.usb = true;
                    let mut spec = String::from("usb-host");
                    if let (Some(b), Some(d)) = (bus, device) {
                        spec.push_str(&format!(",hostbus={b},hostaddr={d}"));
                    }
                    if let (Some(v), Some(p)) = (vendor, product) {
                        spec.push_str(&format!(",vendorid=0x{v:04x},productid=0x{p:04x}"));
                    }
                    self.opt("-device", format!("{spec},id=hostdev{i}"));
                }
                HostdevSource::Pci(a) => {
                    self.opt(
                        "-device",
                        format!(
                            "vfio-pci,host={:04x}:{:02x}:{:02x}.{:x},id=hostdev{i}",
                            a.domain, a.bus, a.slot, a.function
                        ),
                    );
                }
            }
        }
    }

    fn balloon(&mut self, def: &DomainDef) {
        if has_balloon(def) {
            self.opt("-device", "virtio-balloon-pci,id=balloon0");
        }
    }
}

/// Whether the guest gets a virtio memory balloon: unless `<memballoon model='none'/>` (libvirt
/// adds a virtio one when the definition has none).
pub fn has_balloon(def: &DomainDef) -> bool {
    def.is_hvm()
        && crate::qemu10::board(def) != crate::qemu10::Board::Isa
        && def
            .devices
            .memballoon
            .as_ref()
            .is_none_or(|m| m.model == "virtio")
}

fn arch_has_acpi(arch: &str) -> bool {
    matches!(arch, "x86_64" | "i686" | "i386" | "aarch64")
}

fn chardev_backend(src: &ChardevSource, parallel: bool) -> Result<String> {
    Ok(match src {
        ChardevSource::Null => "null".into(),
        ChardevSource::Vc => "vc".into(),
        ChardevSource::Pty { .. } => "pty".into(),
        ChardevSource::Dev { path } if parallel => format!("parallel,path={}", opt_escape(path)),
        ChardevSource::Dev { path } => format!("serial,path={}", opt_escape(path)),
        ChardevSource::File { path } => format!("file,path={}", opt_escape(path)),
        ChardevSource::Pipe { path } => format!("pipe,path={}", opt_escape(path)),
        ChardevSource::Stdio => "stdio".into(),
        ChardevSource::Udp {
            bind_host,
            bind_service,
            connect_host,
            connect_service,
        } => {
            let mut s = format!(
                "udp,host={},port={}",
                opt_escape(connect_host.as_deref().unwrap_or("localhost")),
                opt_escape(connect_service)
            );
            if let Some(h) = bind_host {
                s.push_str(&format!(",localaddr={}", opt_escape(h)));
            }
            if let Some(p) = bind_service {
                s.push_str(&format!(",localport={}", opt_escape(p)));
            }
            s
        }
        ChardevSource::Tcp {
            mode,
            host,
            service,
            protocol,
        } => {
            let mut s = format!(
                "socket,host={},port={}",
                opt_escape(host),
                opt_escape(service)
            );
            if *mode == ChardevMode::Bind {
                s.push_str(",server=on,wait=off");
            }
            if *protocol == ChardevProtocol::Telnet {
                s.push_str(",telnet=on");
            }
            s
        }
        ChardevSource::Unix { mode, path } => {
            let mut s = format!("socket,path={}", opt_escape(path));
            if *mode == ChardevMode::Bind {
                s.push_str(",server=on,wait=off");
            }
            s
        }
    })
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) for seconds since the epoch.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from a day count (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ArgvContext {
        ArgvContext {
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            ..Default::default()
        }
    }

    fn argv(xml: &str) -> Vec<String> {
        build_command(&DomainDef::parse(xml).unwrap(), &ctx())
            .unwrap()
            .argv
    }

    fn has(argv: &[String], pair: (&str, &str)) -> bool {
        argv.windows(2).any(|w| w[0] == pair.0 && w[1] == pair.1)
    }

    const MIN: &str = "<domain type='qemu'><name>vm,1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\
        <memory>65536</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

    #[test]
    fn minimal_guest() {
        let a = argv(MIN);
        assert_eq!(a[0], "/usr/bin/qemu-system-x86_64");
        assert!(has(&a, ("-name", "guest=vm,,1,debug-threads=on")), "{a:?}");
        assert!(has(&a, ("-machine", "pc,accel=tcg,acpi=off")), "{a:?}");
        assert!(has(&a, ("-m", "size=65536k")));
        assert!(has(&a, ("-smp", "2")));
        assert!(has(&a, ("-boot", "order=c")));
        assert!(has(&a, ("-display", "none")));
        assert!(has(&a, ("-rtc", "base=utc")));
        assert!(a.contains(&"-S".to_string()) && a.contains(&"-nodefaults".to_string()));
        assert!(
            !a.iter()
                .any(|x| x == "-no-acpi" || x == "-soundhw" || x == "-usbdevice")
        );
    }

    #[test]
    fn disk_indexes() {
        assert_eq!(disk_index("hda"), Some(0));
        assert_eq!(disk_index("hdd"), Some(3));
        assert_eq!(disk_index("vdg"), Some(6));
        assert_eq!(disk_index("xvdb"), Some(1));
        assert_eq!(disk_index("sdz"), Some(25));
        assert_eq!(disk_index("sdaa"), Some(26));
        assert_eq!(disk_index("sdba"), Some(52));
        assert_eq!(disk_index("eth0"), None);
        assert_eq!(disk_index("hd"), None);
    }

    #[test]
    fn runtime_files_and_kvm() {
        let def = DomainDef::parse(&MIN.replace("type='qemu'", "type='kvm'")).unwrap();
        let c = ArgvContext {
            qmp_socket: Some("/run/x/vm.qmp".into()),
            pidfile: Some("/run/x/vm.pid".into()),
            daemonize: true,
            ..ctx()
        };
        let a = build_command(&def, &c).unwrap().argv;
        assert!(has(&a, ("-machine", "pc,accel=kvm,acpi=off")));
        assert!(has(
            &a,
            (
                "-chardev",
                "socket,id=charmonitor,path=/run/x/vm.qmp,server=on,wait=off"
            )
        ));
        assert!(has(&a, ("-pidfile", "/run/x/vm.pid")));
        assert!(a.contains(&"-daemonize".to_string()));
    }

    #[test]
    fn clock_and_time() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20");
        let xml = MIN.replace(
            "</os>",
            "</os><clock offset='timezone' timezone='Europe/Paris'/>",
        );
        let cmd = build_command(&DomainDef::parse(&xml).unwrap(), &ctx()).unwrap();
        assert_eq!(
            cmd.env,
            vec![("TZ".to_string(), "Europe/Paris".to_string())]
        );
        assert!(has(&cmd.argv, ("-rtc", "base=localtime")));
        assert!(
            cmd.to_line()
                .starts_with("TZ=Europe/Paris /usr/bin/qemu-system-x86_64 -name")
        );
    }

    #[test]
    fn vnc_ports() {
        let a = argv(&MIN.replace("</os>", "</os><devices><graphics type='vnc' port='5905' listen='0.0.0.0' keymap='fr'/></devices>"));
        assert!(has(&a, ("-vnc", "0.0.0.0:5")), "{a:?}");
        assert!(has(&a, ("-k", "fr")));
        assert!(has(&a, ("-device", "VGA,id=video0")));
        let a = argv(&MIN.replace(
            "</os>",
            "</os><devices><graphics type='vnc' port='-1'/></devices>",
        ));
        assert!(has(&a, ("-vnc", "127.0.0.1:0,to=100")), "{a:?}");
    }

    #[test]
    fn networks_need_their_bridge() {
        let xml = MIN.replace("</os>", "</os><devices><interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/></interface></devices>");
        let def = DomainDef::parse(&xml).unwrap();
        let e = build_command(&def, &ctx()).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        let mut c = ctx();
        c.network_bridges.insert("default".into(), "virbr0".into());
        let a = build_command(&def, &c).unwrap().argv;
        assert!(
            has(&a, ("-netdev", "bridge,id=hostnet0,br=virbr0")),
            "{a:?}"
        );
        assert!(has(
            &a,
            (
                "-device",
                "rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01"
            )
        ));
        c.privileged = true;
        let cmd = build_command(&def, &c).unwrap();
        assert!(
            has(
                &cmd.argv,
                (
                    "-netdev",
                    "tap,id=hostnet0,ifname=vkc7a5fdbdn0,script=no,downscript=no"
                )
            ),
            "{:?}",
            cmd.argv
        );
        assert_eq!(
            cmd.taps,
            vec![("vkc7a5fdbdn0".to_string(), "virbr0".to_string())]
        );
    }

    /// Splits a value of QEMU's `key=value,key=value` syntax as QEMU does (`,,` is a comma).
    fn split_qemu_opts(s: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ',' if chars.peek() == Some(&',') => {
                    chars.next();
                    out.last_mut().unwrap().push(',');
                }
                ',' => out.push(String::new()),
                c => out.last_mut().unwrap().push(c),
            }
        }
        out
    }

    /// Hostile values in every free-form field that reaches QEMU's option syntax: each must
    /// arrive as one value (its commas doubled), never as options of its own.
    #[test]
    fn hostile_values_stay_one_value() {
        let doms = |devices: &str, name: &str, machine: &str| {
            format!(
                "<domain type='qemu'><name>{name}</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\
                 <memory>65536</memory><os><type arch='x86_64' machine='{machine}'>hvm</type></os>\
                 <devices>{devices}</devices></domain>"
            )
        };
        // (devices, name, machine, option, the hostile value as QEMU must see it)
        let cases = [
            (
                "<graphics type='vnc' listen='127.0.0.1,to=99'/>",
                "g",
                "pc",
                "-vnc",
                "127.0.0.1,to=99:0",
            ),
            (
                "<graphics type='vnc' port='5901' listen='::1,password=off'/>",
                "g",
                "pc",
                "-vnc",
                "[::1,password=off]:1",
            ),
            (
                "<disk type='file'><source file='/i,format=qcow2,readonly=off'/><target dev='vda'/></disk>",
                "g",
                "pc",
                "-drive",
                "file=/i,format=qcow2,readonly=off",
            ),
            (
                "<disk type='block'><source dev='/dev/sdz,cache=unsafe'/><target dev='hda'/></disk>",
                "g",
                "pc",
                "-drive",
                "file=/dev/sdz,cache=unsafe",
            ),
            (
                "<interface type='mcast'><source address='239.0.0.1,fd=3' port='5558'/></interface>",
                "g",
                "pc",
                "-netdev",
                "mcast=239.0.0.1,fd=3:5558",
            ),
            (
                "<interface type='server'><source address='0.0.0.0,fd=3' port='5558'/></interface>",
                "g",
                "pc",
                "-netdev",
                "listen=0.0.0.0,fd=3:5558",
            ),
            (
                "<interface type='client'><source address='10.0.0.1,fd=4' port='5558'/></interface>",
                "g",
                "pc",
                "-netdev",
                "connect=10.0.0.1,fd=4:5558",
            ),
            (
                "<interface type='ethernet'><script path='/s,downscript=/evil'/><target dev='tap0,vhost=on'/></interface>",
                "g",
                "pc",
                "-netdev",
                "script=/s,downscript=/evil",
            ),
            (
                "<interface type='ethernet'><target dev='tap0,vhost=on'/></interface>",
                "g",
                "pc",
                "-netdev",
                "ifname=tap0,vhost=on",
            ),
            (
                "<interface type='bridge'><source bridge='br0,helper=/evil'/></interface>",
                "g",
                "pc",
                "-netdev",
                "br=br0,helper=/evil",
            ),
            (
                "<serial type='tcp'><source mode='bind' host='127.0.0.1,server=off' service='4555,wait=on'/></serial>",
                "g",
                "pc",
                "-chardev",
                "host=127.0.0.1,server=off",
            ),
            (
                "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555,wait=on'/></serial>",
                "g",
                "pc",
                "-chardev",
                "port=4555,wait=on",
            ),
            (
                "<serial type='udp'><source mode='bind' host='0.0.0.0,ipv6=on' service='1,x=y'/><source mode='connect' host='1.2.3.4,ipv4=off' service='2,y=z'/></serial>",
                "g",
                "pc",
                "-chardev",
                "localaddr=0.0.0.0,ipv6=on",
            ),
            (
                "<serial type='udp'><source mode='connect' host='1.2.3.4,ipv4=off' service='2,y=z'/></serial>",
                "g",
                "pc",
                "-chardev",
                "host=1.2.3.4,ipv4=off",
            ),
            (
                "<serial type='file'><source path='/log,append=on'/></serial>",
                "g",
                "pc",
                "-chardev",
                "path=/log,append=on",
            ),
            (
                "<serial type='unix'><source mode='bind' path='/s,server=off'/></serial>",
                "g",
                "pc",
                "-chardev",
                "path=/s,server=off",
            ),
            (
                "<filesystem type='mount'><source dir='/srv,security_model=none'/><target dir='tag,x=y'/></filesystem>",
                "g",
                "pc",
                "-fsdev",
                "path=/srv,security_model=none",
            ),
            (
                "<filesystem type='mount'><source dir='/srv'/><target dir='tag,x=y'/></filesystem>",
                "g",
                "pc",
                "-device",
                "mount_tag=tag,x=y",
            ),
            (
                "",
                "vm,debug-threads=off",
                "pc",
                "-name",
                "guest=vm,debug-threads=off",
            ),
            ("", "g", "pc,accel=kvm", "-machine", "pc,accel=kvm"),
        ];
        let mut c = ctx();
        c.network_bridges.insert("default".into(), "virbr0".into());
        for (devices, name, machine, option, want) in cases {
            let xml = doms(devices, name, machine);
            let def = DomainDef::parse(&xml).unwrap_or_else(|e| panic!("{devices}: {e}"));
            let argv = build_command(&def, &c).unwrap().argv;
            let values: Vec<&String> = argv
                .windows(2)
                .filter(|w| w[0] == option)
                .map(|w| &w[1])
                .collect();
            assert!(
                values
                    .iter()
                    .any(|v| split_qemu_opts(v).iter().any(|o| o == want)),
                "{devices} {name} {machine}: no {option} holds {want:?} as one value: {values:?}"
            );
        }
    }

    #[test]
    fn enumerations_are_checked_before_the_command_line() {
        // The XML model refuses values outside libvirt's sets...
        for bad in [
            "<disk type='file'><driver name='qemu' cache='none,aio=native'/><source file='/i'/><target dev='vda'/></disk>",
            "<filesystem type='mount' accessmode='mapped,x=y'><source dir='/s'/><target dir='t'/></filesystem>",
            "<interface type='user'><model type='e1000,romfile=/evil'/></interface>",
        ] {
            let xml = MIN.replace("</os>", &format!("</os><devices>{bad}</devices>"));
            assert!(DomainDef::parse(&xml).is_err(), "{bad} was accepted");
        }
        // ...and the builder refuses what a program put into the model itself.
        let mut def = DomainDef::parse(&MIN.replace(
            "</os>",
            "</os><devices><disk type='file'><driver name='qemu' cache='writeback'/><source file='/i'/><target dev='vda'/></disk></devices>",
        ))
        .unwrap();
        assert!(has(
            &build_command(&def, &ctx()).unwrap().argv,
            (
                "-drive",
                "file=/i,format=raw,if=none,id=drive-vda,cache=writeback"
            )
        ));
        def.devices.disks[0].driver_cache = Some("none,aio=native".into());
        let e = build_command(&def, &ctx()).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");
    }

    #[test]
    fn bad_configurations_are_refused() {
        let e = build_command(
            &DomainDef::parse(&MIN.replace("</os>", "</os><devices><disk type='file' device='cdrom'><source file='/x.iso'/><target dev='vdb'/></disk></devices>")).unwrap(),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");
        let e = build_command(
            &DomainDef::parse(&MIN.replace("</os>", "</os><devices><disk type='file'><source file='/x'/><target dev='hde'/></disk></devices>")).unwrap(),
            &ctx(),
        )
        .unwrap_err();
        assert!(e.message.contains("hde"), "{e}");
    }
}
