//! `<domain>`: the top-level guest definition.

use std::collections::HashSet;

use uuid::Uuid;

use crate::devices::{
    ChardevSource, Device, Devices, GraphicsDef, InputBus, InputDef, InputType, parse_devices,
    write_devices,
};
use crate::error::{Error, Result};
use crate::options::FormatOptions;
use crate::tree::{Element, expect_root, once, parse_document};
use crate::values::{
    check_name, keyword_enum, keyword_text, parse_decimal_u64, parse_i32, parse_u32, scaled_kib,
    uuid_element,
};
use crate::writer::{Tag, Writer};

/// libvirt's own domain types (`<domain type=...>`). The model accepts any well-formed type name
/// ([`is_domain_type_name`]): a driver for a new hypervisor brings its own type and declares it in
/// its capabilities, and the core checks a document's type against what the drivers of the
/// connection declare (see `docs/driver-guide.md`).
pub const DOMAIN_TYPES: &[&str] = &[
    "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox",
    "phyp", "bhyve", "vz",
];

/// Longest domain type name accepted.
pub const DOMAIN_TYPE_MAX_LEN: usize = 32;

/// Whether `s` is a well-formed domain type name: 1 to [`DOMAIN_TYPE_MAX_LEN`] bytes, a lower-case
/// ASCII letter first, then lower-case letters, digits, `-` or `_` (every libvirt type is one).
pub fn is_domain_type_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= DOMAIN_TYPE_MAX_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// OS types (`<os><type>`) this crate accepts. For Xen domains `linux` is read as `xen` and
/// `xen` is written back as `linux`, as libvirt does.
pub const OS_TYPES: &[&str] = &["hvm", "xen", "linux", "exe", "uml"];

/// The largest `<vcpu>` count accepted. libvirt's API carries a domain's vCPU count as an
/// `unsigned short` (`virDomainInfo.nrVirtCpu`) and its drivers refuse counts beyond it; a larger
/// count could only make the drivers allocate per-vCPU records without bound.
pub const MAX_VCPUS: u32 = 65_535;

/// `<vcpu cpuset>` names host CPUs below this number: libvirt's `VIR_DOMAIN_CPUMASK_LEN`
/// (libvirt 9.0 accepts CPU 16383 and refuses 16384).
pub const MAX_CPUSET_CPUS: u32 = 16_384;

/// Architectures (`<os><type arch>`) this crate accepts: libvirt's names.
pub const ARCHITECTURES: &[&str] = &[
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
];

keyword_enum! {
    /// A boot device (`<boot dev=...>`).
    pub enum BootDevice {
        /// Floppy.
        Floppy = "fd",
        /// Hard disk.
        HardDisk = "hd",
        /// CD-ROM.
        Cdrom = "cdrom",
        /// Network (PXE).
        Network = "network",
    }
}

/// The `<os>` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsDef {
    /// `hvm`, `xen` (paravirtualised Xen; written as `linux` for Xen domains), `linux`, `exe`, `uml`.
    pub os_type: String,
    /// `<type arch>`: one of [`ARCHITECTURES`].
    pub arch: Option<String>,
    /// `<type machine>`.
    pub machine: Option<String>,
    /// `<loader>`: the firmware (`hvmloader` for Xen HVM).
    pub loader: Option<String>,
    /// `<loader type>`: `rom` or `pflash`.
    pub loader_type: Option<String>,
    /// `<loader readonly='yes|no'>`.
    pub loader_readonly: Option<bool>,
    /// `<kernel>`.
    pub kernel: Option<String>,
    /// `<initrd>`.
    pub initrd: Option<String>,
    /// `<cmdline>`, kept byte for byte (leading and trailing spaces included).
    pub cmdline: Option<String>,
    /// `<root>`: the root device of a paravirtualised guest.
    pub root: Option<String>,
    /// `<init>`: the init program of a container (`exe`).
    pub init: Option<String>,
    /// `<boot dev>` entries in order.
    pub boot: Vec<BootDevice>,
}

keyword_enum! {
    /// What to do when the guest powers off, reboots or crashes.
    pub enum LifecycleAction {
        /// Stop the domain.
        Destroy = "destroy",
        /// Restart it.
        Restart = "restart",
        /// Keep it in place for inspection.
        Preserve = "preserve",
        /// Rename the old domain and start a new one.
        RenameRestart = "rename-restart",
        /// Dump core, then destroy (on_crash only).
        CoredumpDestroy = "coredump-destroy",
        /// Dump core, then restart (on_crash only).
        CoredumpRestart = "coredump-restart",
    }
}

/// Hypervisor features (`<features>`); all off by default. Written in libvirt's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features {
    /// `<acpi/>`.
    pub acpi: bool,
    /// `<apic/>`.
    pub apic: bool,
    /// `<pae/>`.
    pub pae: bool,
    /// `<hap/>`: hardware-assisted paging (Xen).
    pub hap: bool,
    /// `<viridian/>`: Hyper-V enlightenments (Xen).
    pub viridian: bool,
    /// `<privnet/>`: private network namespace (containers).
    pub privnet: bool,
}

const FEATURE_NAMES: &[&str] = &["acpi", "apic", "pae", "hap", "viridian", "privnet"];

impl Features {
    fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "acpi" => &mut self.acpi,
            "apic" => &mut self.apic,
            "pae" => &mut self.pae,
            "hap" => &mut self.hap,
            "viridian" => &mut self.viridian,
            "privnet" => &mut self.privnet,
            _ => return None,
        })
    }

    fn flags(&self) -> [(&'static str, bool); 6] {
        [
            ("acpi", self.acpi),
            ("apic", self.apic),
            ("pae", self.pae),
            ("hap", self.hap),
            ("viridian", self.viridian),
            ("privnet", self.privnet),
        ]
    }
}

/// The guest clock's offset from the host (`<clock offset=...>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClockOffset {
    /// `utc` (the default).
    #[default]
    Utc,
    /// `localtime`.
    Localtime,
    /// `timezone` with `timezone='Europe/Paris'`.
    Timezone(String),
    /// `variable` with `adjustment` seconds and an optional `basis` (`utc` or `localtime`).
    Variable {
        /// Seconds added to the basis.
        adjustment: i64,
        /// `utc` or `localtime`.
        basis: Option<String>,
    },
}

/// A clock timer (`<clock><timer name=...>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// `rtc`, `pit`, `hpet`, `kvmclock`, ...
    pub name: String,
    /// `tickpolicy` (`delay`, `catchup`, `merge`, `discard`).
    pub tickpolicy: Option<String>,
    /// `present='yes|no'`.
    pub present: Option<bool>,
}

/// `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clock {
    /// The offset.
    pub offset: ClockOffset,
    /// Timers in document order.
    pub timers: Vec<Timer>,
}

/// `<maxMemory>`: the ceiling for memory hot-plug. The domain's maximum balloon size is
/// [`DomainDef::memory_kib`], not this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxMemory {
    /// Size in KiB.
    pub kib: u64,
    /// `slots` for hot-plugged DIMMs.
    pub slots: Option<u32>,
}

/// `<memtune>`: memory limits, all in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MemTune {
    /// `<hard_limit>`.
    pub hard_limit_kib: Option<u64>,
    /// `<soft_limit>`.
    pub soft_limit_kib: Option<u64>,
    /// `<min_guarantee>`.
    pub min_guarantee_kib: Option<u64>,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit_kib: Option<u64>,
}

keyword_enum! {
    /// `<vcpu placement>`.
    pub enum VcpuPlacement {
        /// Fixed (`cpuset` or all host CPUs); the default.
        Static = "static",
        /// Chosen by numad.
        Auto = "auto",
    }
}

/// A guest definition (`<domain>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDef {
    /// `type`: a well-formed type name ([`is_domain_type_name`]); libvirt's are [`DOMAIN_TYPES`].
    pub domain_type: String,
    /// `id` of a running domain; `None` when inactive (or `id='-1'`).
    pub id: Option<i32>,
    /// `<name>`: not empty, no `/`.
    pub name: String,
    /// `<uuid>`; generated (random, v4) when the document has none, as libvirt does.
    pub uuid: Uuid,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<maxMemory>`.
    pub max_memory: Option<MaxMemory>,
    /// `<memory>`: maximum memory in KiB.
    pub memory_kib: u64,
    /// `<currentMemory>` in KiB; equal to `memory_kib` when absent, zero or larger.
    pub current_memory_kib: u64,
    /// `<memtune>`.
    pub memtune: Option<MemTune>,
    /// `<vcpu>`: number of virtual CPUs, 1 when absent.
    pub vcpus: u32,
    /// `<vcpu current>`: CPUs online at boot when fewer than `vcpus`.
    pub vcpu_current: Option<u32>,
    /// `<vcpu placement>`.
    pub vcpu_placement: VcpuPlacement,
    /// `<vcpu cpuset>`, such as `1-4,^3,6`.
    pub cpuset: Option<String>,
    /// `<bootloader>` (for example pygrub).
    pub bootloader: Option<String>,
    /// `<bootloader_args>`.
    pub bootloader_args: Option<String>,
    /// `<os>`.
    pub os: OsDef,
    /// `<features>`.
    pub features: Features,
    /// `<clock>`; UTC when absent.
    pub clock: Clock,
    /// `<on_poweroff>`; `destroy` when absent.
    pub on_poweroff: LifecycleAction,
    /// `<on_reboot>`; `restart` when absent.
    pub on_reboot: LifecycleAction,
    /// `<on_crash>`; `destroy` when absent.
    pub on_crash: LifecycleAction,
    /// `<devices>`.
    pub devices: Devices,
}

const DOMAIN_CHILDREN: &[&str] = &[
    "name",
    "uuid",
    "title",
    "description",
    "maxMemory",
    "memory",
    "currentMemory",
    "memtune",
    "vcpu",
    "bootloader",
    "bootloader_args",
    "os",
    "features",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "devices",
];

impl DomainDef {
    /// A minimal definition: the given type, name and OS type, a random UUID, no memory, one
    /// vCPU, libvirt's default lifecycle actions and no devices.
    pub fn new(domain_type: &str, name: &str, os_type: &str) -> Self {
        DomainDef {
            domain_type: domain_type.to_owned(),
            id: None,
            name: name.to_owned(),
            uuid: Uuid::new_v4(),
            title: None,
            description: None,
            max_memory: None,
            memory_kib: 0,
            current_memory_kib: 0,
            memtune: None,
            vcpus: 1,
            vcpu_current: None,
            vcpu_placement: VcpuPlacement::Static,
            cpuset: None,
            bootloader: None,
            bootloader_args: None,
            os: OsDef {
                os_type: os_type.to_owned(),
                ..OsDef::default()
            },
            features: Features::default(),
            clock: Clock::default(),
            on_poweroff: LifecycleAction::Destroy,
            on_reboot: LifecycleAction::Restart,
            on_crash: LifecycleAction::Destroy,
            devices: Devices::default(),
        }
    }

    /// Parses and validates a `<domain>` document.
    pub fn parse(xml: &str) -> Result<DomainDef> {
        let root = parse_document(xml)?;
        Ok(parse_domain(&root)?.0)
    }

    /// Writes the domain as XML. `id` is written when the domain has one and `opts` is not inactive.
    pub fn to_xml(&self, opts: &FormatOptions) -> String {
        let mut w = Writer::new();
        write_domain(&mut w, self, opts);
        w.finish()
    }

    /// Forgets what only a running guest had, as libvirt does when it reads a new definition
    /// (define, create): interface names a hypervisor generated (`vnet…`, `macvtap…`,
    /// `macvlan…`), the paths of pty character devices, and VNC ports chosen by `autoport`. They
    /// belong to an earlier run and are chosen again at the next start; everything else is the
    /// user's and stays.
    pub fn forget_live_state(&mut self) {
        const GENERATED: [&str; 3] = ["vnet", "macvtap", "macvlan"];
        let d = &mut self.devices;
        for i in &mut d.interfaces {
            if i.target_dev
                .as_deref()
                .is_some_and(|t| GENERATED.iter().any(|p| t.starts_with(p)))
            {
                i.target_dev = None;
            }
        }
        for c in d
            .serials
            .iter_mut()
            .chain(&mut d.parallels)
            .chain(&mut d.consoles)
        {
            if let ChardevSource::Pty { path } = &mut c.source {
                *path = None;
            }
        }
        for g in &mut d.graphics {
            if let GraphicsDef::Vnc(v) = g
                && v.autoport
            {
                v.port = None;
            }
        }
    }

    /// Names every interface that has no target name `{prefix}N`, with the smallest N no
    /// interface of this domain uses yet, in device order (libvirt's test driver: `testnet`).
    pub fn name_interfaces(&mut self, prefix: &str) {
        let ifs = &mut self.devices.interfaces;
        // The names taken, as a set: one look-up per candidate keeps this linear.
        let mut taken: HashSet<String> = ifs.iter().filter_map(|i| i.target_dev.clone()).collect();
        let mut next = 0u64;
        for i in ifs.iter_mut().filter(|i| i.target_dev.is_none()) {
            let name = loop {
                let candidate = format!("{prefix}{next}");
                next += 1;
                if !taken.contains(&candidate) {
                    break candidate;
                }
            };
            taken.insert(name.clone());
            i.target_dev = Some(name);
        }
    }

    /// Gives every interface without a MAC address a random one under `prefix` (libvirt's
    /// drivers use `52:54:00`), different from the MACs the domain already has, as libvirt does
    /// when it reads a definition.
    pub fn assign_macs(&mut self, prefix: [u8; 3]) {
        let mut used: std::collections::HashSet<[u8; 6]> = self
            .devices
            .interfaces
            .iter()
            .filter_map(|i| i.mac.map(|m| m.0))
            .collect();
        for iface in self
            .devices
            .interfaces
            .iter_mut()
            .filter(|i| i.mac.is_none())
        {
            let mac = loop {
                let r = uuid::Uuid::new_v4();
                let b = r.as_bytes();
                let candidate = [prefix[0], prefix[1], prefix[2], b[0], b[1], b[2]];
                if used.insert(candidate) {
                    break candidate;
                }
            };
            iface.mac = Some(crate::MacAddr(mac));
        }
    }

    /// Whether the guest is fully virtualised (`hvm`).
    pub fn is_hvm(&self) -> bool {
        self.os.os_type == "hvm"
    }

    /// Adds a device (attach-device). Fills in the input bus default; refuses a second disk with
    /// the same target dev or a second interface with the same MAC.
    pub fn attach_device(&mut self, mut device: Device) -> Result<()> {
        if let Device::Input(input) = &mut device {
            default_input_bus(input, self.is_hvm());
        }
        self.devices.attach(device)
    }

    /// Removes and returns the device that `device` identifies (detach-device): a disk by target
    /// dev, an interface by MAC, ... (see [`Device::identifies`]).
    pub fn detach_device(&mut self, device: &Device) -> Result<Device> {
        self.devices.detach(device)
    }
}

fn default_input_bus(input: &mut InputDef, hvm: bool) {
    if input.bus.is_none() {
        input.bus = Some(match (hvm, input.input_type) {
            (true, InputType::Mouse) => InputBus::Ps2,
            (true, _) => InputBus::Usb,
            (false, _) => InputBus::Xen,
        });
    }
}

/// Parses a `<domain>` element; the flag says whether the document had a `<uuid>`.
pub(crate) fn parse_domain(el: &Element) -> Result<(DomainDef, bool)> {
    expect_root(el, "domain")?;
    el.expect_no_text()?;
    let domain_type = el.required_attr("type")?.trim();
    if !is_domain_type_name(domain_type) {
        return Err(el.bad_attr(
            "type",
            domain_type,
            &format!(
                "a domain type name (a lower-case letter, then up to {} lower-case letters, digits, '-' or '_')",
                DOMAIN_TYPE_MAX_LEN - 1
            ),
        ));
    }
    let id = el.parsed_attr("id", "an integer (-1 for an inactive domain)", |s| {
        parse_i32(s).filter(|&v| v >= -1)
    })?;
    let id = id.filter(|&v| v >= 0);

    let mut slots: [Option<&Element>; 18] = [None; 18];
    for child in &el.children {
        let Some(idx) = DOMAIN_CHILDREN.iter().position(|n| *n == child.name) else {
            return Err(el.unexpected(child, DOMAIN_CHILDREN));
        };
        once(&mut slots[idx], child, el)?;
    }
    let get = |name: &str| {
        DOMAIN_CHILDREN
            .iter()
            .position(|n| *n == name)
            .and_then(|i| slots[i])
    };

    let name_el = get("name").ok_or_else(|| el.missing("name"))?;
    let name = name_el.trimmed_text()?.to_owned();
    check_name(name_el, &name)?;
    let uuid_el = get("uuid");
    let uuid = match uuid_el {
        Some(u) => uuid_element(u)?,
        None => Uuid::new_v4(),
    };
    let opt_text = |name: &str| -> Result<Option<String>> {
        match get(name) {
            Some(e) => Ok(Some(e.text()?.to_owned()).filter(|t| !t.is_empty())),
            None => Ok(None),
        }
    };
    let opt_trimmed = |name: &str| -> Result<Option<String>> {
        match get(name) {
            Some(e) => Ok(Some(e.trimmed_text()?.to_owned()).filter(|t| !t.is_empty())),
            None => Ok(None),
        }
    };

    let memory_el = get("memory").ok_or_else(|| el.missing("memory"))?;
    let memory_kib = scaled_kib(memory_el, 1024)?;
    let current = get("currentMemory")
        .map(|e| scaled_kib(e, 1024))
        .transpose()?;
    let current_memory_kib = match current {
        Some(c) if c != 0 && c <= memory_kib => c,
        _ => memory_kib,
    };
    let max_memory = match get("maxMemory") {
        Some(m) => Some(MaxMemory {
            kib: scaled_kib(m, 1024)?,
            slots: m.parsed_attr("slots", "a non-negative integer", parse_u32)?,
        }),
        None => None,
    };
    let memtune = get("memtune").map(parse_memtune).transpose()?;

    let (vcpus, vcpu_current, vcpu_placement, cpuset) = match get("vcpu") {
        Some(v) => parse_vcpu(v)?,
        None => (1, None, VcpuPlacement::Static, None),
    };

    let bootloader = opt_trimmed("bootloader")?;
    let bootloader_args = opt_text("bootloader_args")?;
    let os =
        match get("os") {
            Some(o) => parse_os(o, domain_type, bootloader.is_some())?,
            None if bootloader.is_some() => OsDef {
                os_type: "xen".to_owned(),
                ..OsDef::default()
            },
            None => return Err(el.error(
                "Missing <os> in <domain>: the OS type is mandatory unless a <bootloader> is given",
            )),
        };

    let features = match get("features") {
        Some(f) => parse_features(f)?,
        None => Features::default(),
    };
    let clock = match get("clock") {
        Some(c) => parse_clock(c)?,
        None => Clock::default(),
    };
    let action = |name: &str, default: LifecycleAction| -> Result<LifecycleAction> {
        match get(name) {
            Some(e) => {
                let a = keyword_text(e, LifecycleAction::NAMES, LifecycleAction::from_name)?;
                if name != "on_crash"
                    && matches!(
                        a,
                        LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart
                    )
                {
                    return Err(e.error(format!(
                        "<{name}> cannot be '{a}': core dumps apply to on_crash only"
                    )));
                }
                Ok(a)
            }
            None => Ok(default),
        }
    };
    let on_poweroff = action("on_poweroff", LifecycleAction::Destroy)?;
    let on_reboot = action("on_reboot", LifecycleAction::Restart)?;
    let on_crash = action("on_crash", LifecycleAction::Destroy)?;

    let mut devices = match get("devices") {
        Some(d) => parse_devices(d)?,
        None => Devices::default(),
    };
    let hvm = os.os_type == "hvm";
    if let Some(d) = get("devices") {
        check_inputs(d, &mut devices, hvm)?;
    }

    let def = DomainDef {
        domain_type: domain_type.to_owned(),
        id,
        name,
        uuid,
        title: opt_trimmed("title")?,
        description: opt_text("description")?,
        max_memory,
        memory_kib,
        current_memory_kib,
        memtune,
        vcpus,
        vcpu_current,
        vcpu_placement,
        cpuset,
        bootloader,
        bootloader_args,
        os,
        features,
        clock,
        on_poweroff,
        on_reboot,
        on_crash,
        devices,
    };
    Ok((def, uuid_el.is_some()))
}

fn check_inputs(devices_el: &Element, devices: &mut Devices, hvm: bool) -> Result<()> {
    let input_els: Vec<&Element> = devices_el
        .children
        .iter()
        .filter(|c| c.name == "input")
        .collect();
    for (input, el) in devices.inputs.iter_mut().zip(input_els) {
        if hvm && input.bus == Some(InputBus::Xen) {
            return Err(el.error("The xen input bus is only for paravirtualised guests"));
        }
        default_input_bus(input, hvm);
    }
    Ok(())
}

fn parse_memtune(el: &Element) -> Result<MemTune> {
    el.expect_no_text()?;
    const NAMES: &[&str] = &[
        "hard_limit",
        "soft_limit",
        "min_guarantee",
        "swap_hard_limit",
    ];
    let mut slots: [Option<&Element>; 4] = [None; 4];
    for child in &el.children {
        let Some(idx) = NAMES.iter().position(|n| *n == child.name) else {
            return Err(el.unexpected(child, NAMES));
        };
        once(&mut slots[idx], child, el)?;
    }
    let v = |i: usize| slots[i].map(|e| scaled_kib(e, 1024)).transpose();
    Ok(MemTune {
        hard_limit_kib: v(0)?,
        soft_limit_kib: v(1)?,
        min_guarantee_kib: v(2)?,
        swap_hard_limit_kib: v(3)?,
    })
}

fn parse_vcpu(el: &Element) -> Result<(u32, Option<u32>, VcpuPlacement, Option<String>)> {
    let t = el.trimmed_text()?;
    let vcpus = parse_u32(t).filter(|&v| v > 0).ok_or_else(|| {
        el.error(format!(
            "Invalid <vcpu> value '{t}': expected a positive integer"
        ))
    })?;
    if vcpus > MAX_VCPUS {
        return Err(el.error(format!(
            "<vcpu> value {vcpus} is more than the maximum {MAX_VCPUS}"
        )));
    }
    let current = el.parsed_attr("current", "a positive integer", |s| {
        parse_u32(s).filter(|&v| v > 0)
    })?;
    if let Some(c) = current
        && c > vcpus
    {
        return Err(el.error(format!(
            "<vcpu current='{c}'> is larger than the maximum {vcpus}"
        )));
    }
    let placement = crate::values::keyword_attr(
        el,
        "placement",
        VcpuPlacement::NAMES,
        VcpuPlacement::from_name,
    )?
    .unwrap_or(VcpuPlacement::Static);
    let cpuset = match el.attr("cpuset") {
        Some(c) => {
            let ok = !c.is_empty()
                && c.split(',').all(|part| {
                    let p = part.trim().strip_prefix('^').unwrap_or(part.trim());
                    match p.split_once('-') {
                        Some((a, b)) => {
                            parse_decimal_u64(a).is_some() && parse_decimal_u64(b).is_some()
                        }
                        None => parse_decimal_u64(p).is_some(),
                    }
                });
            if !ok {
                return Err(el.bad_attr("cpuset", c, "a CPU list such as 0-3,^2,6"));
            }
            // Each number names a host CPU: bounded as libvirt bounds its CPU masks, so that
            // a driver expanding the list allocates at most MAX_CPUSET_CPUS entries.
            let out_of_range = c
                .split([',', '-', '^'])
                .filter_map(|n| parse_decimal_u64(n.trim()))
                .find(|&n| n >= u64::from(MAX_CPUSET_CPUS));
            if let Some(n) = out_of_range {
                return Err(el.error(format!(
                    "<vcpu cpuset='{c}'> names CPU {n}: CPUs are numbered below {MAX_CPUSET_CPUS}"
                )));
            }
            Some(c.to_owned())
        }
        None => None,
    };
    Ok((vcpus, current, placement, cpuset))
}

fn parse_os(el: &Element, domain_type: &str, has_bootloader: bool) -> Result<OsDef> {
    el.expect_no_text()?;
    const NAMES: &[&str] = &[
        "type", "loader", "kernel", "initrd", "cmdline", "root", "init", "boot",
    ];
    let mut slots: [Option<&Element>; 7] = [None; 7];
    let mut boot = Vec::new();
    for child in &el.children {
        match NAMES.iter().position(|n| *n == child.name) {
            Some(7) => {
                child.expect_empty()?;
                let dev = crate::values::keyword_attr(
                    child,
                    "dev",
                    BootDevice::NAMES,
                    BootDevice::from_name,
                )?
                .ok_or_else(|| child.error("Missing attribute 'dev' on <boot>"))?;
                boot.push(dev);
            }
            Some(idx) => once(&mut slots[idx], child, el)?,
            None => return Err(el.unexpected(child, NAMES)),
        }
    }
    let (os_type, arch, machine) = match slots[0] {
        Some(t) => {
            let value = t.trimmed_text()?;
            if !OS_TYPES.contains(&value) {
                return Err(t.error(format!(
                    "Invalid OS type '{value}': expected one of {}",
                    OS_TYPES.join(", ")
                )));
            }
            let value = if domain_type == "xen" && value == "linux" {
                "xen"
            } else {
                value
            };
            let arch = t.nonempty_attr("arch");
            if let Some(a) = arch
                && !ARCHITECTURES.contains(&a)
            {
                return Err(t.bad_attr("arch", a, &format!("one of {}", ARCHITECTURES.join(", "))));
            }
            (
                value.to_owned(),
                arch.map(str::to_owned),
                t.nonempty_attr("machine").map(str::to_owned),
            )
        }
        None if has_bootloader => ("xen".to_owned(), None, None),
        None => return Err(el.missing("type")),
    };
    let text = |i: usize, trim: bool| -> Result<Option<String>> {
        match slots[i] {
            Some(e) => {
                let t = if trim { e.trimmed_text()? } else { e.text()? };
                Ok(Some(t.to_owned()).filter(|t| !t.is_empty()))
            }
            None => Ok(None),
        }
    };
    let (loader_type, loader_readonly) = match slots[1] {
        Some(l) => (
            match l.attr("type") {
                Some(t @ ("rom" | "pflash")) => Some(t.to_owned()),
                Some(t) => return Err(l.bad_attr("type", t, "rom or pflash")),
                None => None,
            },
            l.parsed_attr("readonly", "yes or no", crate::values::parse_yes_no)?,
        ),
        None => (None, None),
    };
    Ok(OsDef {
        os_type,
        arch,
        machine,
        loader: text(1, true)?,
        loader_type,
        loader_readonly,
        kernel: text(2, true)?,
        initrd: text(3, true)?,
        cmdline: text(4, false)?,
        root: text(5, true)?,
        init: text(6, true)?,
        boot,
    })
}

fn parse_features(el: &Element) -> Result<Features> {
    el.expect_no_text()?;
    let mut f = Features::default();
    for child in &el.children {
        let Some(flag) = f.flag_mut(&child.name) else {
            return Err(el.unexpected(child, FEATURE_NAMES));
        };
        if *flag {
            return Err(child.error(format!("Duplicate element <{}> in <features>", child.name)));
        }
        child.expect_empty()?;
        // libvirt 9.0 writes `<hap state='on'/>`; `state='off'` turns a flag off.
        *flag = child
            .parsed_attr("state", "on or off", crate::values::parse_on_off)?
            .unwrap_or(true);
    }
    Ok(f)
}

fn parse_clock(el: &Element) -> Result<Clock> {
    el.expect_no_text()?;
    // libvirt 0.4 documents wrote `<clock sync='localtime'/>`; later ones `offset`.
    let offset = match (el.attr("offset"), el.attr("sync")) {
        (Some(o), Some(s)) if o != s => {
            return Err(el.error(format!("<clock> has offset='{o}' and sync='{s}'; give one")));
        }
        (Some(o), _) | (None, Some(o)) => o.trim(),
        (None, None) => "utc",
    };
    let offset = match offset {
        "utc" => ClockOffset::Utc,
        "localtime" => ClockOffset::Localtime,
        "timezone" => ClockOffset::Timezone(el.required_nonempty_attr("timezone")?.to_owned()),
        "variable" => ClockOffset::Variable {
            adjustment: el
                .parsed_attr("adjustment", "an integer number of seconds", |s| {
                    s.parse::<i64>().ok()
                })?
                .unwrap_or(0),
            basis: match el.attr("basis") {
                Some(b @ ("utc" | "localtime")) => Some(b.to_owned()),
                Some(b) => return Err(el.bad_attr("basis", b, "utc or localtime")),
                None => None,
            },
        },
        other => {
            let attr = if el.attr("offset").is_some() {
                "offset"
            } else {
                "sync"
            };
            return Err(el.bad_attr(attr, other, "one of utc, localtime, timezone, variable"));
        }
    };
    const TIMERS: &[&str] = &[
        "platform",
        "pit",
        "rtc",
        "hpet",
        "tsc",
        "kvmclock",
        "hypervclock",
        "armvtimer",
    ];
    let mut timers = Vec::new();
    for child in &el.children {
        if child.name != "timer" {
            return Err(el.unexpected(child, &["timer"]));
        }
        child.expect_empty()?;
        let name = child.required_attr("name")?;
        if !TIMERS.contains(&name) {
            return Err(child.bad_attr("name", name, &format!("one of {}", TIMERS.join(", "))));
        }
        const POLICIES: &[&str] = &["delay", "catchup", "merge", "discard"];
        let tickpolicy = match child.attr("tickpolicy") {
            Some(p) if POLICIES.contains(&p) => Some(p.to_owned()),
            Some(p) => {
                return Err(child.bad_attr(
                    "tickpolicy",
                    p,
                    &format!("one of {}", POLICIES.join(", ")),
                ));
            }
            None => None,
        };
        timers.push(Timer {
            name: name.to_owned(),
            tickpolicy,
            present: child.parsed_attr("present", "yes or no", crate::values::parse_yes_no)?,
        });
    }
    Ok(Clock { offset, timers })
}

fn memory_tag(name: &'static str, opts: &FormatOptions) -> Tag {
    if opts.legacy_style() {
        Tag::new(name)
    } else {
        Tag::new(name).attr("unit", "KiB")
    }
}

pub(crate) fn write_domain(w: &mut Writer, d: &DomainDef, opts: &FormatOptions) {
    let tag = Tag::new("domain")
        .attr("type", &d.domain_type)
        .opt("id", d.id.filter(|_| !opts.inactive));
    w.open_close(tag, |w| {
        w.text(Tag::new("name"), &d.name);
        w.text(Tag::new("uuid"), &d.uuid.hyphenated().to_string());
        w.opt_text("title", d.title.as_deref());
        w.opt_text("description", d.description.as_deref());
        if let Some(m) = &d.max_memory {
            w.text(
                Tag::new("maxMemory")
                    .opt("slots", m.slots)
                    .opt("unit", (!opts.legacy_style()).then_some("KiB")),
                &m.kib.to_string(),
            );
        }
        w.text(memory_tag("memory", opts), &d.memory_kib.to_string());
        w.text(
            memory_tag("currentMemory", opts),
            &d.current_memory_kib.to_string(),
        );
        if let Some(mt) = &d.memtune {
            w.element(Tag::new("memtune"), |w| {
                for (name, v) in [
                    ("hard_limit", mt.hard_limit_kib),
                    ("soft_limit", mt.soft_limit_kib),
                    ("min_guarantee", mt.min_guarantee_kib),
                    ("swap_hard_limit", mt.swap_hard_limit_kib),
                ] {
                    if let Some(v) = v {
                        w.text(memory_tag(name, opts), &v.to_string());
                    }
                }
            });
        }
        let placement = match (opts.legacy_style(), d.vcpu_placement) {
            (true, VcpuPlacement::Static) => None,
            (_, p) => Some(p),
        };
        w.text(
            Tag::new("vcpu")
                .opt("placement", placement)
                .opt("cpuset", d.cpuset.as_deref())
                .opt("current", d.vcpu_current),
            &d.vcpus.to_string(),
        );
        w.opt_text("bootloader", d.bootloader.as_deref());
        w.opt_text("bootloader_args", d.bootloader_args.as_deref());
        write_os(w, d, opts);
        if d.features.flags().iter().any(|(_, on)| *on) {
            w.open_close(Tag::new("features"), |w| {
                for (name, on) in d.features.flags() {
                    if on {
                        let state = (name == "hap" && !opts.legacy_style()).then_some("on");
                        w.empty(Tag::new(name).opt("state", state));
                    }
                }
            });
        }
        let clock = match &d.clock.offset {
            ClockOffset::Utc => Tag::new("clock").attr("offset", "utc"),
            ClockOffset::Localtime => Tag::new("clock").attr("offset", "localtime"),
            ClockOffset::Timezone(tz) => Tag::new("clock")
                .attr("offset", "timezone")
                .attr("timezone", tz),
            ClockOffset::Variable { adjustment, basis } => Tag::new("clock")
                .attr("offset", "variable")
                .attr("adjustment", adjustment)
                .opt("basis", basis.as_deref()),
        };
        w.element(clock, |w| {
            for t in &d.clock.timers {
                w.empty(
                    Tag::new("timer")
                        .attr("name", &t.name)
                        .opt("tickpolicy", t.tickpolicy.as_deref())
                        .opt("present", t.present.map(crate::values::yes_no)),
                );
            }
        });
        w.text(Tag::new("on_poweroff"), d.on_poweroff.as_str());
        w.text(Tag::new("on_reboot"), d.on_reboot.as_str());
        w.text(Tag::new("on_crash"), d.on_crash.as_str());
        write_devices(w, &d.devices, opts);
    });
}

fn write_os(w: &mut Writer, d: &DomainDef, opts: &FormatOptions) {
    let os = &d.os;
    w.open_close(Tag::new("os"), |w| {
        let os_type = if d.domain_type == "xen" && os.os_type == "xen" {
            "linux"
        } else {
            os.os_type.as_str()
        };
        w.text(
            Tag::new("type")
                .opt("arch", os.arch.as_deref())
                .opt("machine", os.machine.as_deref()),
            os_type,
        );
        // libvirt 0.4.6 wrote <init> before <loader>; 9.0 after it.
        let loader = |w: &mut Writer| {
            if let Some(l) = os.loader.as_deref().filter(|l| !l.is_empty()) {
                let tag = Tag::new("loader")
                    .opt("readonly", os.loader_readonly.map(crate::values::yes_no))
                    .opt("type", os.loader_type.as_deref());
                w.text(tag, l);
            }
        };
        if opts.legacy_style() {
            w.opt_text("init", os.init.as_deref());
            loader(w);
        } else {
            loader(w);
            w.opt_text("init", os.init.as_deref());
        }
        w.opt_text("kernel", os.kernel.as_deref());
        w.opt_text("initrd", os.initrd.as_deref());
        w.opt_text("cmdline", os.cmdline.as_deref());
        w.opt_text("root", os.root.as_deref());
        for b in &os.boot {
            w.empty(Tag::new("boot").attr("dev", b));
        }
    });
}

/// Parses a domain and also reports whether it had a `<uuid>` (the comparison helper needs it).
pub(crate) fn parse_domain_str(xml: &str) -> Result<(DomainDef, bool)> {
    parse_domain(&parse_document(xml)?)
}

impl std::str::FromStr for DomainDef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DomainDef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::FormatStyle;

    #[test]
    fn live_state_is_forgotten_and_test_names_fill_the_gaps() {
        let nic = |t: Option<&str>| match t {
            Some(t) => format!("<interface type='user'><target dev='{t}'/></interface>"),
            None => "<interface type='user'/>".to_string(),
        };
        let xml = format!(
            "<domain type='test'><name>n</name><memory>1024</memory><os><type>hvm</type></os><devices>{}</devices></domain>",
            [
                None,
                Some("testnet1"),
                Some("vnet7"),
                Some("macvtap0"),
                Some("mytap"),
                None
            ]
            .iter()
            .map(|t| nic(*t))
            .collect::<String>()
        );
        let mut d = DomainDef::parse(&xml).unwrap();
        d.forget_live_state();
        let names = |d: &DomainDef| -> Vec<Option<String>> {
            d.devices
                .interfaces
                .iter()
                .map(|i| i.target_dev.clone())
                .collect()
        };
        assert_eq!(
            names(&d),
            [
                None,
                Some("testnet1".into()),
                None,
                None,
                Some("mytap".into()),
                None
            ]
        );
        d.name_interfaces("testnet");
        let got: Vec<String> = names(&d).into_iter().map(Option::unwrap).collect();
        assert_eq!(
            got,
            [
                "testnet0", "testnet1", "testnet2", "testnet3", "mytap", "testnet4"
            ]
        );
    }

    const PV: &str = "<domain type='xen' id='3'>
  <name>pv</name>
  <uuid>596A5D2171F48FB2E068E2386A5C413E</uuid>
  <memory>430080</memory>
  <vcpu>2</vcpu>
  <os><type>linux</type><kernel>/k</kernel><cmdline> ro </cmdline></os>
  <devices>
    <disk type='file'><source file='/i'/><target dev='xvda'/></disk>
    <graphics type='vnc'/>
    <input type='mouse'/>
  </devices>
</domain>";

    #[test]
    fn minimal_api() {
        let d = DomainDef::parse(PV).unwrap();
        assert_eq!(d.domain_type, "xen");
        assert_eq!(d.id, Some(3));
        assert_eq!(d.uuid.to_string(), "596a5d21-71f4-8fb2-e068-e2386a5c413e");
        assert_eq!(d.os.os_type, "xen");
        assert_eq!(d.current_memory_kib, 430080);
        assert_eq!(d.vcpus, 2);
        assert_eq!(d.os.cmdline.as_deref(), Some(" ro "));
        assert_eq!(d.devices.inputs[0].bus, Some(InputBus::Xen));
        assert_eq!(d.on_reboot, LifecycleAction::Restart);
        let legacy = d.to_xml(&FormatOptions::legacy());
        assert!(
            legacy.starts_with("<domain type='xen' id='3'>\n  <name>pv</name>\n"),
            "{legacy}"
        );
        assert!(legacy.contains("  <memory>430080</memory>\n"));
        assert!(legacy.contains("<type>linux</type>"));
        let modern = d.to_xml(&FormatOptions::default());
        assert!(modern.contains("  <memory unit='KiB'>430080</memory>\n"));
        assert!(modern.contains("<vcpu placement='static'>2</vcpu>"));
        let inactive = d.to_xml(&FormatOptions {
            style: FormatStyle::Current,
            inactive: true,
            secure: false,
        });
        assert!(inactive.starts_with("<domain type='xen'>\n"));
        for s in [legacy, modern, inactive] {
            let mut again = DomainDef::parse(&s).unwrap();
            again.id = d.id;
            assert_eq!(again, d);
        }
    }

    #[test]
    fn units_are_scaled() {
        let xml = |mem: &str| {
            format!(
                "<domain type='kvm'><name>a</name><memory {mem}</memory><os><type>hvm</type></os></domain>"
            )
        };
        for (m, kib) in [
            ("unit='KiB'>1024", 1024),
            ("unit='MiB'>1", 1024),
            ("unit='M'>2", 2048),
            ("unit='G'>1", 1 << 20),
            ("unit='b'>1", 1),
            ("unit='bytes'>2048", 2),
            ("unit='KB'>1000", 977),
            (">5", 5),
        ] {
            assert_eq!(DomainDef::parse(&xml(m)).unwrap().memory_kib, kib, "{m}");
        }
        assert!(DomainDef::parse(&xml("unit='furlong'>1")).is_err());
        assert!(DomainDef::parse(&xml("unit='EiB'>100")).is_err());
        assert!(DomainDef::parse(&xml("unit='b'>18446744073709551615")).is_err());
        let top = DomainDef::parse(&xml("unit='KiB'>18014398509481983")).unwrap();
        assert_eq!(
            DomainDef::parse(&top.to_xml(&FormatOptions::default())).unwrap(),
            top
        );
        assert!(DomainDef::parse(&xml(">-1")).is_err());
    }

    #[test]
    fn validation_errors() {
        let cases = [
            (
                "<domain type='xen'><memory>1</memory><os><type>hvm</type></os></domain>",
                "Missing <name>",
            ),
            (
                "<domain type='xen'><name>a/b</name><memory>1</memory><os><type>hvm</type></os></domain>",
                "must not contain '/'",
            ),
            (
                "<domain type='xen'><name></name><memory>1</memory><os><type>hvm</type></os></domain>",
                "Empty name",
            ),
            (
                "<domain type='xen'><name>a</name><uuid>123</uuid><memory>1</memory><os><type>hvm</type></os></domain>",
                "Invalid UUID",
            ),
            (
                "<domain type='Bogus VM'><name>a</name><memory>1</memory><os><type>hvm</type></os></domain>",
                "attribute 'type'",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory></domain>",
                "OS type is mandatory",
            ),
            (
                "<domain type='xen'><name>a</name><memory>x</memory><os><type>hvm</type></os></domain>",
                "Invalid <memory> value",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><foo/></domain>",
                "Unexpected element <foo> in <domain>",
            ),
            (
                "<domain type='xen'><name>a</name><name>b</name><memory>1</memory><os><type>hvm</type></os></domain>",
                "Duplicate element <name>",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><vcpu>0</vcpu><os><type>hvm</type></os></domain>",
                "positive integer",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><on_reboot>coredump-restart</on_reboot></domain>",
                "on_crash only",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>dos</type></os></domain>",
                "Invalid OS type",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><features><smm/></features></domain>",
                "Unexpected element <smm>",
            ),
            (
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><devices><input type='mouse' bus='xen'/></devices></domain>",
                "only for paravirtualised",
            ),
        ];
        for (xml, want) in cases {
            let err = DomainDef::parse(xml).unwrap_err();
            assert!(err.to_string().contains(want), "{xml}\n gave {err}");
            assert!(err.line().is_some());
        }
    }

    #[test]
    fn feature_state() {
        let xml = |f: &str| {
            format!(
                "<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><features>{f}</features></domain>"
            )
        };
        assert!(
            DomainDef::parse(&xml("<hap state='on'/>"))
                .unwrap()
                .features
                .hap
        );
        assert!(
            !DomainDef::parse(&xml("<hap state='off'/>"))
                .unwrap()
                .features
                .hap
        );
        assert!(DomainDef::parse(&xml("<hap/>")).unwrap().features.hap);
        assert!(DomainDef::parse(&xml("<hap state='maybe'/>")).is_err());
    }

    #[test]
    fn bootloader_implies_xen_os() {
        let d = DomainDef::parse("<domain type='xen'><name>a</name><memory>1</memory><bootloader>/usr/bin/pygrub</bootloader></domain>").unwrap();
        assert_eq!(d.os.os_type, "xen");
    }

    #[test]
    fn clock_sync_alias() {
        let d = DomainDef::parse("<domain type='xen'><name>a</name><memory>1</memory><os><type>hvm</type></os><clock sync='localtime'/></domain>").unwrap();
        assert_eq!(d.clock.offset, ClockOffset::Localtime);
    }

    #[test]
    fn attach_input_fills_bus() {
        let mut d = DomainDef::new("kvm", "g", "hvm");
        d.attach_device(Device::parse("<input type='tablet'/>").unwrap())
            .unwrap();
        assert_eq!(d.devices.inputs[0].bus, Some(InputBus::Usb));
        let removed = d
            .detach_device(&Device::parse("<input type='tablet' bus='usb'/>").unwrap())
            .unwrap();
        assert!(matches!(removed, Device::Input(_)));
    }
}
