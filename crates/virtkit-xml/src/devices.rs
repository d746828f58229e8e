//! The `<devices>` of a domain: one struct per device kind, parsing, formatting and matching.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::options::FormatOptions;
use crate::tree::{Element, once, parse_document};
use crate::values::{
    MacAddr, keyword_attr, keyword_enum, mac_attr, parse_hex_or_dec, parse_i32, parse_u32,
    parse_yes_no, scaled_bytes, yes_no,
};
use crate::writer::{Tag, Writer};

keyword_enum! {
    /// Where a disk's data lives (`<disk type=...>`).
    pub enum DiskType {
        /// A file on the host: `<source file=...>`.
        File = "file",
        /// A block device on the host: `<source dev=...>`.
        Block = "block",
    }
}

keyword_enum! {
    /// How the guest sees a disk (`<disk device=...>`).
    pub enum DiskDevice {
        /// A hard disk.
        Disk = "disk",
        /// A CD-ROM drive; always read-only.
        Cdrom = "cdrom",
        /// A floppy drive.
        Floppy = "floppy",
    }
}

keyword_enum! {
    /// The bus a disk is attached to (`<target bus=...>`).
    pub enum DiskBus {
        /// IDE.
        Ide = "ide",
        /// Floppy controller.
        Fdc = "fdc",
        /// SCSI.
        Scsi = "scsi",
        /// virtio-blk.
        Virtio = "virtio",
        /// Xen paravirtual block device.
        Xen = "xen",
        /// USB mass storage.
        Usb = "usb",
        /// User-mode Linux.
        Uml = "uml",
        /// SATA.
        Sata = "sata",
    }
}

/// A PCI address, as used by `<address type='pci'>` and PCI host devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PciAddress {
    /// PCI domain (0..=0xffff).
    pub domain: u32,
    /// Bus (0..=0xff).
    pub bus: u32,
    /// Slot (0..=0x1f).
    pub slot: u32,
    /// Function (0..=7).
    pub function: u32,
    /// `multifunction='on|off'` when given.
    pub multifunction: Option<bool>,
}

/// Where a device sits on the guest's buses (`<address>`), as libvirt 9.0 writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceAddress {
    /// `<address type='pci' domain bus slot function/>`
    Pci(PciAddress),
    /// `<address type='drive' controller bus target unit/>`
    Drive {
        /// Controller index.
        controller: u32,
        /// Bus on the controller.
        bus: u32,
        /// Target on the bus.
        target: u32,
        /// Unit on the target.
        unit: u32,
    },
    /// `<address type='usb' bus port/>`
    Usb {
        /// USB bus.
        bus: u32,
        /// Port path such as `1` or `1.2`.
        port: String,
    },
}

/// A disk (`<disk>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDef {
    /// File or block device.
    pub disk_type: DiskType,
    /// Disk, cdrom or floppy.
    pub device: DiskDevice,
    /// `<driver name=...>`: the back-end (`file`, `tap`, `phy`, `qemu`, ...).
    pub driver_name: Option<String>,
    /// `<driver type=...>`: the format or sub-driver (`aio`, `raw`, `qcow2`, ...).
    pub driver_type: Option<String>,
    /// `<driver cache=...>`: one of [`DISK_CACHE_MODES`].
    pub driver_cache: Option<String>,
    /// The host path (`<source file>` or `<source dev>`); `None` for an empty cdrom or floppy.
    pub source: Option<String>,
    /// The guest device name (`<target dev>`), for example `hda`, `xvda`, `vdb`. Kept as written,
    /// including old prefixes such as `ioemu:` or suffixes such as `:disk`.
    pub target_dev: String,
    /// `<target bus>`.
    pub target_bus: Option<DiskBus>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// The kind-specific part of a network interface (`<interface type=...>` and its `<source>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceSource {
    /// `type='bridge'`, `<source bridge=...>`.
    Bridge {
        /// Host bridge name.
        bridge: String,
    },
    /// `type='network'`, `<source network=...>`.
    Network {
        /// Virtual network name.
        network: String,
    },
    /// `type='user'`: user-mode networking, no source.
    User,
    /// `type='ethernet'`, optionally `<source dev=...>`.
    Ethernet {
        /// Host device.
        dev: Option<String>,
    },
    /// `type='mcast'`, `<source address port>`.
    Mcast {
        /// Multicast address.
        address: String,
        /// Port.
        port: u16,
    },
    /// `type='server'`, `<source [address] port>`.
    Server {
        /// Listen address.
        address: Option<String>,
        /// Port.
        port: u16,
    },
    /// `type='client'`, `<source address port>`.
    Client {
        /// Server address.
        address: String,
        /// Port.
        port: u16,
    },
}

impl InterfaceSource {
    /// The `type` attribute for this source.
    pub fn type_name(&self) -> &'static str {
        match self {
            InterfaceSource::Bridge { .. } => "bridge",
            InterfaceSource::Network { .. } => "network",
            InterfaceSource::User => "user",
            InterfaceSource::Ethernet { .. } => "ethernet",
            InterfaceSource::Mcast { .. } => "mcast",
            InterfaceSource::Server { .. } => "server",
            InterfaceSource::Client { .. } => "client",
        }
    }
}

/// A network interface (`<interface>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDef {
    /// Type and source.
    pub source: InterfaceSource,
    /// `<mac address>`; drivers generate one when it is absent.
    pub mac: Option<MacAddr>,
    /// `<ip address>`.
    pub ip: Option<IpAddr>,
    /// `<script path>`.
    pub script: Option<String>,
    /// `<target dev>`: the host-side device name.
    pub target_dev: Option<String>,
    /// `<guest dev>`: the device name inside a container (OpenVZ's `ifname`, `eth0`).
    pub guest_dev: Option<String>,
    /// `<model type>`: the emulated NIC (`e1000`, `virtio`, `rtl8139`, ...).
    pub model: Option<String>,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

keyword_enum! {
    /// The mode of a socket character device source.
    pub enum ChardevMode {
        /// Listen.
        Bind = "bind",
        /// Connect out.
        Connect = "connect",
    }
}

keyword_enum! {
    /// The wire protocol of a TCP character device (`<protocol type>`).
    pub enum ChardevProtocol {
        /// Raw bytes.
        Raw = "raw",
        /// Telnet.
        Telnet = "telnet",
    }
}

/// What a serial, parallel or console device is connected to on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChardevSource {
    /// `type='null'`.
    Null,
    /// `type='vc'`: a virtual console.
    Vc,
    /// `type='pty'`; `path` is the allocated pty of a running guest (`tty=`/`<source path>`).
    Pty {
        /// The pty path, known once the guest runs.
        path: Option<String>,
    },
    /// `type='dev'`: a host device.
    Dev {
        /// Host device path.
        path: String,
    },
    /// `type='file'`: output to a file.
    File {
        /// File path.
        path: String,
    },
    /// `type='pipe'`: a named pipe.
    Pipe {
        /// Pipe path.
        path: String,
    },
    /// `type='stdio'`.
    Stdio,
    /// `type='udp'`: bind and connect ends.
    Udp {
        /// Local host to bind.
        bind_host: Option<String>,
        /// Local service to bind.
        bind_service: Option<String>,
        /// Remote host.
        connect_host: Option<String>,
        /// Remote service.
        connect_service: String,
    },
    /// `type='tcp'`.
    Tcp {
        /// Listen or connect.
        mode: ChardevMode,
        /// Host.
        host: String,
        /// Service (port).
        service: String,
        /// Raw or telnet.
        protocol: ChardevProtocol,
    },
    /// `type='unix'`.
    Unix {
        /// Listen or connect.
        mode: ChardevMode,
        /// Socket path.
        path: String,
    },
}

impl ChardevSource {
    /// The `type` attribute for this source.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChardevSource::Null => "null",
            ChardevSource::Vc => "vc",
            ChardevSource::Pty { .. } => "pty",
            ChardevSource::Dev { .. } => "dev",
            ChardevSource::File { .. } => "file",
            ChardevSource::Pipe { .. } => "pipe",
            ChardevSource::Stdio => "stdio",
            ChardevSource::Udp { .. } => "udp",
            ChardevSource::Tcp { .. } => "tcp",
            ChardevSource::Unix { .. } => "unix",
        }
    }
}

/// A serial port, parallel port or console (`<serial>`, `<parallel>`, `<console>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChardevDef {
    /// Host side.
    pub source: ChardevSource,
    /// `<target port>`.
    pub target_port: Option<u32>,
    /// `<target type>` (consoles: `serial`, `virtio`, `xen`, ...).
    pub target_type: Option<String>,
}

keyword_enum! {
    /// Input device kind.
    pub enum InputType {
        /// A relative pointer.
        Mouse = "mouse",
        /// An absolute pointer.
        Tablet = "tablet",
        /// A keyboard.
        Keyboard = "keyboard",
    }
}

keyword_enum! {
    /// Input device bus.
    pub enum InputBus {
        /// PS/2.
        Ps2 = "ps2",
        /// USB.
        Usb = "usb",
        /// Xen paravirtual framebuffer input.
        Xen = "xen",
        /// virtio-input.
        Virtio = "virtio",
    }
}

/// An input device (`<input>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDef {
    /// Mouse, tablet or keyboard.
    pub input_type: InputType,
    /// The bus; domain parsing fills in libvirt's default (`ps2` for an HVM mouse, `usb` for
    /// other HVM inputs, `xen` otherwise) when the document leaves it out.
    pub bus: Option<InputBus>,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// VNC display settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VncGraphics {
    /// The TCP port (5900 + display); `None` until one is allocated when `autoport` is set.
    pub port: Option<u16>,
    /// Allocate the port when the guest starts (`port='-1'` or `autoport='yes'`).
    pub autoport: bool,
    /// Listen address.
    pub listen: Option<String>,
    /// Keyboard map, for example `en-us`.
    pub keymap: Option<String>,
    /// Password; written only with [`FormatOptions::secure`].
    pub passwd: Option<String>,
}

/// SDL display settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdlGraphics {
    /// X display, for example `:0.0`.
    pub display: Option<String>,
    /// Xauthority file.
    pub xauth: Option<String>,
    /// Start full screen.
    pub fullscreen: bool,
}

/// A graphical console (`<graphics>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphicsDef {
    /// `type='vnc'`.
    Vnc(VncGraphics),
    /// `type='sdl'`.
    Sdl(SdlGraphics),
}

keyword_enum! {
    /// Emulated sound card models.
    pub enum SoundModel {
        /// Sound Blaster 16.
        Sb16 = "sb16",
        /// Ensoniq ES1370.
        Es1370 = "es1370",
        /// PC speaker.
        Pcspk = "pcspk",
        /// AC'97.
        Ac97 = "ac97",
        /// Intel HDA (ICH6).
        Ich6 = "ich6",
        /// Intel HDA (ICH9).
        Ich9 = "ich9",
        /// USB audio.
        Usb = "usb",
    }
}

/// A sound card (`<sound>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundDef {
    /// The model.
    pub model: SoundModel,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// Which host device is passed through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostdevSource {
    /// A USB device, by vendor/product id, by bus/device address, or both.
    Usb {
        /// `<vendor id>`.
        vendor: Option<u16>,
        /// `<product id>`.
        product: Option<u16>,
        /// `<address bus>`.
        bus: Option<u32>,
        /// `<address device>`.
        device: Option<u32>,
    },
    /// A PCI device by address.
    Pci(PciAddress),
}

/// A host device passed through to the guest (`<hostdev mode='subsystem'>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostdevDef {
    /// libvirt detaches the device from the host driver itself (`managed='yes'`).
    pub managed: bool,
    /// The host device.
    pub source: HostdevSource,
    /// Guest-side `<address>`.
    pub address: Option<DeviceAddress>,
}

keyword_enum! {
    /// `<filesystem type>`.
    pub enum FilesystemType {
        /// A host directory (`<source dir>`).
        Mount = "mount",
        /// A block device (`<source dev>`).
        Block = "block",
        /// An image file (`<source file>`).
        File = "file",
        /// An OpenVZ template (`<source name>`).
        Template = "template",
    }
}

/// A filesystem shared with a container or guest (`<filesystem>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemDef {
    /// The kind of source.
    pub fs_type: FilesystemType,
    /// `accessmode` (`passthrough`, `mapped`, `squash`).
    pub access_mode: Option<String>,
    /// The source directory, device, file or template name.
    pub source: String,
    /// `<target dir>` inside the guest.
    pub target_dir: String,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<space_hard_limit>` in bytes.
    pub space_hard_limit: Option<u64>,
    /// `<space_soft_limit>` in bytes.
    pub space_soft_limit: Option<u64>,
}

/// A device controller (`<controller>`), as libvirt 9.0 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerDef {
    /// `type`: one of [`CONTROLLER_TYPES`].
    pub controller_type: String,
    /// `index` among controllers of this type.
    pub index: u32,
    /// `model`, for example `piix3-uhci` or `pci-root`.
    pub model: Option<String>,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// Controller types accepted in `<controller type>`.
pub const CONTROLLER_TYPES: &[&str] = &[
    "ide",
    "fdc",
    "scsi",
    "sata",
    "virtio-serial",
    "ccid",
    "usb",
    "pci",
    "xenbus",
    "isa",
];

/// Cache modes accepted in `<disk><driver cache>`: libvirt's set.
pub const DISK_CACHE_MODES: &[&str] = &[
    "default",
    "none",
    "writethrough",
    "writeback",
    "directsync",
    "unsafe",
];

/// Video models accepted in `<video><model type>`.
pub const VIDEO_MODELS: &[&str] = &[
    "vga",
    "cirrus",
    "vmvga",
    "xen",
    "vbox",
    "qxl",
    "parallels",
    "virtio",
    "gop",
    "bochs",
    "ramfb",
    "none",
];

/// A video card (`<video><model>`), as libvirt 9.0 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoDef {
    /// `<model type>`: one of [`VIDEO_MODELS`].
    pub model: String,
    /// `<model vram>` in KiB.
    pub vram_kib: Option<u32>,
    /// `<model heads>`.
    pub heads: Option<u32>,
    /// `<model primary='yes'>`.
    pub primary: bool,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// The memory balloon (`<memballoon model>`), as libvirt 9.0 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemballoonDef {
    /// `virtio`, `xen` or `none`.
    pub model: String,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// All devices of a domain, grouped by kind. Formatting writes the kinds in libvirt's order;
/// within a kind the document order is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// `<emulator>`: the device model binary.
    pub emulator: Option<String>,
    /// `<disk>`s.
    pub disks: Vec<DiskDef>,
    /// `<controller>`s.
    pub controllers: Vec<ControllerDef>,
    /// `<filesystem>`s.
    pub filesystems: Vec<FilesystemDef>,
    /// `<interface>`s.
    pub interfaces: Vec<InterfaceDef>,
    /// `<serial>`s.
    pub serials: Vec<ChardevDef>,
    /// `<parallel>`s.
    pub parallels: Vec<ChardevDef>,
    /// `<console>`s.
    pub consoles: Vec<ChardevDef>,
    /// `<input>`s.
    pub inputs: Vec<InputDef>,
    /// `<graphics>`.
    pub graphics: Vec<GraphicsDef>,
    /// `<sound>`s.
    pub sounds: Vec<SoundDef>,
    /// `<video>`s.
    pub videos: Vec<VideoDef>,
    /// `<hostdev>`s.
    pub hostdevs: Vec<HostdevDef>,
    /// `<memballoon>`.
    pub memballoon: Option<MemballoonDef>,
}

/// One device, as given to attach-device / detach-device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Device {
    /// `<disk>`
    Disk(DiskDef),
    /// `<controller>`
    Controller(ControllerDef),
    /// `<filesystem>`
    Filesystem(FilesystemDef),
    /// `<interface>`
    Interface(InterfaceDef),
    /// `<serial>`
    Serial(ChardevDef),
    /// `<parallel>`
    Parallel(ChardevDef),
    /// `<console>`
    Console(ChardevDef),
    /// `<input>`
    Input(InputDef),
    /// `<graphics>`
    Graphics(GraphicsDef),
    /// `<sound>`
    Sound(SoundDef),
    /// `<video>`
    Video(VideoDef),
    /// `<hostdev>`
    Hostdev(HostdevDef),
}

/// Element names of the devices [`Device::parse`] accepts.
const DEVICE_NAMES: &[&str] = &[
    "disk",
    "controller",
    "filesystem",
    "interface",
    "serial",
    "parallel",
    "console",
    "input",
    "graphics",
    "sound",
    "video",
    "hostdev",
];

impl Device {
    /// Parses a single device element such as `<disk>...</disk>` or `<interface>...</interface>`.
    pub fn parse(xml: &str) -> Result<Device> {
        let root = parse_document(xml)?;
        if !DEVICE_NAMES.contains(&root.name.as_str()) {
            let list: Vec<String> = DEVICE_NAMES.iter().map(|n| format!("<{n}>")).collect();
            return Err(root.error(format!(
                "Unexpected element <{}>: expected a device, one of {}",
                root.name,
                list.join(", ")
            )));
        }
        parse_device(&root)
    }

    /// The device's element name (`disk`, `interface`, ...).
    pub fn element_name(&self) -> &'static str {
        match self {
            Device::Disk(_) => "disk",
            Device::Controller(_) => "controller",
            Device::Filesystem(_) => "filesystem",
            Device::Interface(_) => "interface",
            Device::Serial(_) => "serial",
            Device::Parallel(_) => "parallel",
            Device::Console(_) => "console",
            Device::Input(_) => "input",
            Device::Graphics(_) => "graphics",
            Device::Sound(_) => "sound",
            Device::Video(_) => "video",
            Device::Hostdev(_) => "hostdev",
        }
    }

    /// Writes the device element alone, without indentation.
    pub fn to_xml(&self, opts: &FormatOptions) -> String {
        let mut w = Writer::new();
        match self {
            Device::Disk(d) => write_disk(&mut w, d),
            Device::Controller(c) => write_controller(&mut w, c),
            Device::Filesystem(f) => write_filesystem(&mut w, f, opts),
            Device::Interface(i) => write_interface(&mut w, i, opts),
            Device::Serial(c) => write_chardev(&mut w, "serial", c, opts),
            Device::Parallel(c) => write_chardev(&mut w, "parallel", c, opts),
            Device::Console(c) => write_chardev(&mut w, "console", c, opts),
            Device::Input(i) => write_input(&mut w, i),
            Device::Graphics(g) => write_graphics(&mut w, g, opts),
            Device::Sound(s) => write_sound(&mut w, s),
            Device::Video(v) => write_video(&mut w, v),
            Device::Hostdev(h) => write_hostdev(&mut w, h, opts),
        }
        w.finish()
    }

    /// Whether `self` identifies the same device as `other`, the rule detach-device uses: a disk
    /// by target dev, an interface by MAC (or, without one, by its source), a filesystem by
    /// target dir, a character device by target port, a host device by its source; other
    /// devices must be equal.
    pub fn identifies(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Disk(a), Device::Disk(b)) => same_disk(a, b),
            (Device::Controller(a), Device::Controller(b)) => same_controller(a, b),
            (Device::Video(a), Device::Video(b)) => a == b,
            (Device::Interface(a), Device::Interface(b)) => same_interface(a, b),
            (Device::Filesystem(a), Device::Filesystem(b)) => same_filesystem(a, b),
            (Device::Serial(a), Device::Serial(b))
            | (Device::Parallel(a), Device::Parallel(b))
            | (Device::Console(a), Device::Console(b)) => same_chardev(a, b),
            (Device::Input(a), Device::Input(b)) => same_input(a, b),
            (Device::Graphics(a), Device::Graphics(b)) => same_graphics(a, b),
            (Device::Sound(a), Device::Sound(b)) => same_sound(a, b),
            (Device::Hostdev(a), Device::Hostdev(b)) => a.source == b.source,
            _ => false,
        }
    }

    /// A short description for messages: `disk 'hda'`, `interface 52:54:00:...`.
    pub fn describe(&self) -> String {
        match self {
            Device::Disk(d) => format!("disk '{}'", d.target_dev),
            Device::Interface(i) => match i.mac {
                Some(m) => format!("interface {m}"),
                None => format!("interface of type '{}'", i.source.type_name()),
            },
            Device::Filesystem(f) => format!("filesystem '{}'", f.target_dir),
            Device::Serial(c) | Device::Parallel(c) | Device::Console(c) => match c.target_port {
                Some(p) => format!("{} port {p}", self.element_name()),
                None => self.element_name().to_owned(),
            },
            Device::Input(i) => format!("input '{}'", i.input_type),
            Device::Graphics(GraphicsDef::Vnc(_)) => "graphics 'vnc'".to_owned(),
            Device::Graphics(GraphicsDef::Sdl(_)) => "graphics 'sdl'".to_owned(),
            Device::Sound(s) => format!("sound '{}'", s.model),
            Device::Controller(c) => {
                format!("controller '{}' index {}", c.controller_type, c.index)
            }
            Device::Video(v) => format!("video '{}'", v.model),
            Device::Hostdev(_) => "hostdev".to_owned(),
        }
    }
}

// Matching rules of detach-device: `want` is the device given by the caller, `have` one of the
// domain's devices.

fn same_disk(want: &DiskDef, have: &DiskDef) -> bool {
    want.target_dev == have.target_dev
}

fn same_controller(want: &ControllerDef, have: &ControllerDef) -> bool {
    want.controller_type == have.controller_type && want.index == have.index
}

fn same_filesystem(want: &FilesystemDef, have: &FilesystemDef) -> bool {
    want.target_dir == have.target_dir
}

fn same_interface(want: &InterfaceDef, have: &InterfaceDef) -> bool {
    match want.mac {
        Some(mac) => have.mac == Some(mac),
        None => want.source == have.source,
    }
}

fn same_chardev(want: &ChardevDef, have: &ChardevDef) -> bool {
    match want.target_port {
        Some(port) => have.target_port == Some(port),
        None => want == have,
    }
}

fn same_input(want: &InputDef, have: &InputDef) -> bool {
    want.input_type == have.input_type && (want.bus.is_none() || want.bus == have.bus)
}

fn same_graphics(want: &GraphicsDef, have: &GraphicsDef) -> bool {
    matches!(
        (want, have),
        (GraphicsDef::Vnc(_), GraphicsDef::Vnc(_)) | (GraphicsDef::Sdl(_), GraphicsDef::Sdl(_))
    )
}

fn same_sound(want: &SoundDef, have: &SoundDef) -> bool {
    want.model == have.model && (want.address.is_none() || want.address == have.address)
}

impl Devices {
    /// Adds a device. Disks must have distinct target devs and interfaces distinct MACs.
    pub fn attach(&mut self, device: Device) -> Result<()> {
        match &device {
            Device::Disk(d) if self.disks.iter().any(|x| x.target_dev == d.target_dev) => {
                return Err(Error::DeviceExists(device.describe()));
            }
            Device::Interface(InterfaceDef { mac: Some(m), .. })
                if self.interfaces.iter().any(|x| x.mac == Some(*m)) =>
            {
                return Err(Error::DeviceExists(device.describe()));
            }
            _ => {}
        }
        match device {
            Device::Disk(d) => self.disks.push(d),
            Device::Controller(c) => self.controllers.push(c),
            Device::Filesystem(f) => self.filesystems.push(f),
            Device::Interface(i) => self.interfaces.push(i),
            Device::Serial(c) => self.serials.push(c),
            Device::Parallel(c) => self.parallels.push(c),
            Device::Console(c) => self.consoles.push(c),
            Device::Input(i) => self.inputs.push(i),
            Device::Graphics(g) => self.graphics.push(g),
            Device::Sound(s) => self.sounds.push(s),
            Device::Video(v) => self.videos.push(v),
            Device::Hostdev(h) => self.hostdevs.push(h),
        }
        Ok(())
    }

    /// Index of the first device of the same kind that `device` identifies (see [`Device::identifies`]).
    pub fn find(&self, device: &Device) -> Option<usize> {
        fn pos<T>(v: &[T], same: impl Fn(&T) -> bool) -> Option<usize> {
            v.iter().position(same)
        }
        match device {
            Device::Disk(w) => pos(&self.disks, |d| same_disk(w, d)),
            Device::Controller(w) => pos(&self.controllers, |d| same_controller(w, d)),
            Device::Video(w) => pos(&self.videos, |d| w == d),
            Device::Filesystem(w) => pos(&self.filesystems, |d| same_filesystem(w, d)),
            Device::Interface(w) => pos(&self.interfaces, |d| same_interface(w, d)),
            Device::Serial(w) => pos(&self.serials, |d| same_chardev(w, d)),
            Device::Parallel(w) => pos(&self.parallels, |d| same_chardev(w, d)),
            Device::Console(w) => pos(&self.consoles, |d| same_chardev(w, d)),
            Device::Input(w) => pos(&self.inputs, |d| same_input(w, d)),
            Device::Graphics(w) => pos(&self.graphics, |d| same_graphics(w, d)),
            Device::Sound(w) => pos(&self.sounds, |d| same_sound(w, d)),
            Device::Hostdev(w) => pos(&self.hostdevs, |d| w.source == d.source),
        }
    }

    /// Removes and returns the device that `device` identifies.
    pub fn detach(&mut self, device: &Device) -> Result<Device> {
        let idx = self
            .find(device)
            .ok_or_else(|| Error::DeviceNotFound(device.describe()))?;
        Ok(match device {
            Device::Disk(_) => Device::Disk(self.disks.remove(idx)),
            Device::Controller(_) => Device::Controller(self.controllers.remove(idx)),
            Device::Video(_) => Device::Video(self.videos.remove(idx)),
            Device::Filesystem(_) => Device::Filesystem(self.filesystems.remove(idx)),
            Device::Interface(_) => Device::Interface(self.interfaces.remove(idx)),
            Device::Serial(_) => Device::Serial(self.serials.remove(idx)),
            Device::Parallel(_) => Device::Parallel(self.parallels.remove(idx)),
            Device::Console(_) => Device::Console(self.consoles.remove(idx)),
            Device::Input(_) => Device::Input(self.inputs.remove(idx)),
            Device::Graphics(_) => Device::Graphics(self.graphics.remove(idx)),
            Device::Sound(_) => Device::Sound(self.sounds.remove(idx)),
            Device::Hostdev(_) => Device::Hostdev(self.hostdevs.remove(idx)),
        })
    }

    /// The disk with this target dev.
    pub fn disk(&self, target_dev: &str) -> Option<&DiskDef> {
        self.disks.iter().find(|d| d.target_dev == target_dev)
    }

    /// The interface with this MAC address.
    pub fn interface(&self, mac: &MacAddr) -> Option<&InterfaceDef> {
        self.interfaces.iter().find(|i| i.mac.as_ref() == Some(mac))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

pub(crate) fn parse_device(el: &Element) -> Result<Device> {
    Ok(match el.name.as_str() {
        "disk" => Device::Disk(parse_disk(el)?),
        "controller" => Device::Controller(parse_controller(el)?),
        "video" => Device::Video(parse_video(el)?),
        "filesystem" => Device::Filesystem(parse_filesystem(el)?),
        "interface" => Device::Interface(parse_interface(el)?),
        "serial" => Device::Serial(parse_chardev(el)?),
        "parallel" => Device::Parallel(parse_chardev(el)?),
        "console" => Device::Console(parse_chardev(el)?),
        "input" => Device::Input(parse_input(el)?),
        "graphics" => Device::Graphics(parse_graphics(el)?),
        "sound" => Device::Sound(parse_sound(el)?),
        "hostdev" => Device::Hostdev(parse_hostdev(el)?),
        _ => {
            return Err(el.error(format!(
                "Unexpected element <{}>: expected a device",
                el.name
            )));
        }
    })
}

const DEVICES_CHILDREN: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "filesystem",
    "interface",
    "serial",
    "parallel",
    "console",
    "input",
    "graphics",
    "sound",
    "video",
    "hostdev",
    "memballoon",
];

pub(crate) fn parse_devices(el: &Element) -> Result<Devices> {
    el.expect_no_text()?;
    let mut devices = Devices::default();
    let mut emulator = None;
    let mut memballoon = None;
    for child in &el.children {
        match child.name.as_str() {
            "emulator" => once(&mut emulator, child, el)?,
            "memballoon" => once(&mut memballoon, child, el)?,
            name if DEVICE_NAMES.contains(&name) => devices.attach_parsed(parse_device(child)?),
            _ => return Err(el.unexpected(child, DEVICES_CHILDREN)),
        }
    }
    if let Some(e) = emulator {
        devices.emulator = Some(e.nonempty_text()?.to_owned());
    }
    if let Some(m) = memballoon {
        devices.memballoon = Some(parse_memballoon(m)?);
    }
    Ok(devices)
}

impl Devices {
    /// Adds a parsed device without uniqueness checks (libvirt accepts duplicates in a document).
    fn attach_parsed(&mut self, device: Device) {
        match device {
            Device::Disk(d) => self.disks.push(d),
            Device::Controller(c) => self.controllers.push(c),
            Device::Filesystem(f) => self.filesystems.push(f),
            Device::Interface(i) => self.interfaces.push(i),
            Device::Serial(c) => self.serials.push(c),
            Device::Parallel(c) => self.parallels.push(c),
            Device::Console(c) => self.consoles.push(c),
            Device::Input(i) => self.inputs.push(i),
            Device::Graphics(g) => self.graphics.push(g),
            Device::Sound(s) => self.sounds.push(s),
            Device::Video(v) => self.videos.push(v),
            Device::Hostdev(h) => self.hostdevs.push(h),
        }
    }
}

fn parse_pci_attrs(el: &Element) -> Result<PciAddress> {
    let field = |name: &str, max: u32| -> Result<u32> {
        let v = el
            .parsed_attr(name, "a hex (0x..) or decimal number", parse_hex_or_dec)?
            .unwrap_or(0);
        if v > max {
            return Err(el.bad_attr(
                name,
                el.attr(name).unwrap_or(""),
                &format!("at most {max:#x}"),
            ));
        }
        Ok(v)
    };
    Ok(PciAddress {
        domain: field("domain", 0xffff)?,
        bus: field("bus", 0xff)?,
        slot: field("slot", 0x1f)?,
        function: field("function", 7)?,
        multifunction: el.parsed_attr("multifunction", "on or off", crate::values::parse_on_off)?,
    })
}

fn write_pci_attrs(tag: Tag, a: &PciAddress) -> Tag {
    tag.attr("domain", format!("{:#06x}", a.domain))
        .attr("bus", format!("{:#04x}", a.bus))
        .attr("slot", format!("{:#04x}", a.slot))
        .attr("function", format!("{:#x}", a.function))
        .opt("multifunction", a.multifunction.map(crate::values::on_off))
}

fn parse_address(el: &Element) -> Result<DeviceAddress> {
    el.expect_empty()?;
    let ty = el.required_attr("type")?;
    let num = |name: &str| -> Result<u32> {
        Ok(el
            .parsed_attr(name, "a decimal number", parse_hex_or_dec)?
            .unwrap_or(0))
    };
    match ty {
        "pci" => Ok(DeviceAddress::Pci(parse_pci_attrs(el)?)),
        "drive" => Ok(DeviceAddress::Drive {
            controller: num("controller")?,
            bus: num("bus")?,
            target: num("target")?,
            unit: num("unit")?,
        }),
        "usb" => {
            let port = el.required_nonempty_attr("port")?;
            if !port.split('.').all(|p| parse_u32(p).is_some()) {
                return Err(el.bad_attr("port", port, "a port path such as 1 or 1.2"));
            }
            Ok(DeviceAddress::Usb {
                bus: num("bus")?,
                port: port.to_owned(),
            })
        }
        other => Err(el.bad_attr("type", other, "one of pci, drive, usb")),
    }
}

fn write_address(w: &mut Writer, a: &Option<DeviceAddress>) {
    match a {
        None => {}
        Some(DeviceAddress::Pci(p)) => {
            w.empty(write_pci_attrs(Tag::new("address").attr("type", "pci"), p))
        }
        Some(DeviceAddress::Drive {
            controller,
            bus,
            target,
            unit,
        }) => w.empty(
            Tag::new("address")
                .attr("type", "drive")
                .attr("controller", controller)
                .attr("bus", bus)
                .attr("target", target)
                .attr("unit", unit),
        ),
        Some(DeviceAddress::Usb { bus, port }) => w.empty(
            Tag::new("address")
                .attr("type", "usb")
                .attr("bus", bus)
                .attr("port", port),
        ),
    }
}

fn parse_disk(el: &Element) -> Result<DiskDef> {
    el.expect_no_text()?;
    let disk_type =
        keyword_attr(el, "type", DiskType::NAMES, DiskType::from_name)?.unwrap_or(DiskType::File);
    let device = keyword_attr(el, "device", DiskDevice::NAMES, DiskDevice::from_name)?
        .unwrap_or(DiskDevice::Disk);
    let (mut driver, mut source, mut target, mut readonly, mut shareable, mut address) =
        (None, None, None, None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "driver" => once(&mut driver, child, el)?,
            "source" => once(&mut source, child, el)?,
            "target" => once(&mut target, child, el)?,
            "readonly" => once(&mut readonly, child, el)?,
            "shareable" => once(&mut shareable, child, el)?,
            "address" => once(&mut address, child, el)?,
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "driver",
                        "source",
                        "target",
                        "readonly",
                        "shareable",
                        "address",
                    ],
                ));
            }
        }
    }
    let (driver_name, driver_type, driver_cache) = match driver {
        Some(d) => {
            d.expect_empty()?;
            (
                d.nonempty_attr("name").map(str::to_owned),
                d.nonempty_attr("type").map(str::to_owned),
                match d.nonempty_attr("cache") {
                    Some(c) if DISK_CACHE_MODES.contains(&c) => Some(c.to_owned()),
                    Some(c) => {
                        return Err(d.bad_attr(
                            "cache",
                            c,
                            &format!("one of {}", DISK_CACHE_MODES.join(", ")),
                        ));
                    }
                    None => None,
                },
            )
        }
        None => (None, None, None),
    };
    let source = match source {
        Some(s) => {
            s.expect_empty()?;
            let (want, other) = match disk_type {
                DiskType::File => ("file", "dev"),
                DiskType::Block => ("dev", "file"),
            };
            if s.attr(want).is_none() && s.attr(other).is_some() {
                return Err(s.error(format!(
                    "<source> of a disk of type '{disk_type}' needs attribute '{want}', not '{other}'"
                )));
            }
            s.nonempty_attr(want).map(str::to_owned)
        }
        None => None,
    };
    let target = target.ok_or_else(|| el.missing("target"))?;
    target.expect_empty()?;
    let target_dev = target.required_nonempty_attr("dev")?.to_owned();
    let target_bus = keyword_attr(target, "bus", DiskBus::NAMES, DiskBus::from_name)?;
    if source.is_none() && device == DiskDevice::Disk {
        return Err(el.error(format!(
            "Missing <source> for disk '{target_dev}': only a cdrom or floppy may be empty"
        )));
    }
    for flag in [readonly, shareable].into_iter().flatten() {
        flag.expect_empty()?;
    }
    Ok(DiskDef {
        disk_type,
        device,
        driver_name,
        driver_type,
        driver_cache,
        source,
        target_dev,
        target_bus,
        // libvirt always treats a cdrom as read-only.
        readonly: readonly.is_some() || device == DiskDevice::Cdrom,
        shareable: shareable.is_some(),
        address: address.map(parse_address).transpose()?,
    })
}

fn write_disk(w: &mut Writer, d: &DiskDef) {
    let tag = Tag::new("disk")
        .attr("type", d.disk_type)
        .attr("device", d.device);
    w.open_close(tag, |w| {
        if d.driver_name.is_some() || d.driver_type.is_some() || d.driver_cache.is_some() {
            w.empty(
                Tag::new("driver")
                    .opt("name", d.driver_name.as_deref())
                    .opt("type", d.driver_type.as_deref())
                    .opt("cache", d.driver_cache.as_deref()),
            );
        }
        if let Some(src) = &d.source {
            let key = match d.disk_type {
                DiskType::File => "file",
                DiskType::Block => "dev",
            };
            w.empty(Tag::new("source").attr(key, src));
        }
        w.empty(
            Tag::new("target")
                .attr("dev", &d.target_dev)
                .opt("bus", d.target_bus),
        );
        if d.readonly {
            w.empty(Tag::new("readonly"));
        }
        if d.shareable {
            w.empty(Tag::new("shareable"));
        }
        write_address(w, &d.address);
    });
}

fn parse_port(el: &Element) -> Result<u16> {
    let v = el.required_attr("port")?;
    v.trim()
        .parse::<u16>()
        .map_err(|_| el.bad_attr("port", v, "a port number from 0 to 65535"))
}

fn parse_interface(el: &Element) -> Result<InterfaceDef> {
    el.expect_no_text()?;
    let ty = el.required_attr("type")?;
    const TYPES: &[&str] = &[
        "bridge", "network", "user", "ethernet", "mcast", "server", "client",
    ];
    if !TYPES.contains(&ty) {
        return Err(el.bad_attr("type", ty, &format!("one of {}", TYPES.join(", "))));
    }
    let (mut mac, mut source, mut ip, mut script, mut target, mut model, mut address) =
        (None, None, None, None, None, None, None);
    let mut guest = None;
    for child in &el.children {
        match child.name.as_str() {
            "mac" => once(&mut mac, child, el)?,
            "source" => once(&mut source, child, el)?,
            "ip" => once(&mut ip, child, el)?,
            "script" => once(&mut script, child, el)?,
            "target" => once(&mut target, child, el)?,
            "guest" => once(&mut guest, child, el)?,
            "model" => once(&mut model, child, el)?,
            "address" => once(&mut address, child, el)?,
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "mac", "source", "ip", "script", "target", "guest", "model", "address",
                    ],
                ));
            }
        }
    }
    for c in [mac, source, ip, script, target, guest, model]
        .into_iter()
        .flatten()
    {
        c.expect_empty()?;
    }
    let need_source = |what: &str| -> Result<&Element> {
        source.ok_or_else(|| {
            el.error(format!(
                "Missing <source> with '{what}' in <interface type='{ty}'>"
            ))
        })
    };
    let source = match ty {
        "bridge" => InterfaceSource::Bridge {
            bridge: need_source("bridge")?
                .required_nonempty_attr("bridge")?
                .to_owned(),
        },
        "network" => InterfaceSource::Network {
            network: need_source("network")?
                .required_nonempty_attr("network")?
                .to_owned(),
        },
        "user" => {
            if let Some(s) = source {
                return Err(s.error("Unexpected <source> in <interface type='user'>"));
            }
            InterfaceSource::User
        }
        "ethernet" => InterfaceSource::Ethernet {
            dev: source
                .and_then(|s| s.nonempty_attr("dev"))
                .map(str::to_owned),
        },
        "server" => {
            let s = need_source("port")?;
            InterfaceSource::Server {
                address: s.nonempty_attr("address").map(str::to_owned),
                port: parse_port(s)?,
            }
        }
        _ => {
            let s = need_source("address")?;
            let address = s.required_nonempty_attr("address")?.to_owned();
            let port = parse_port(s)?;
            if ty == "mcast" {
                InterfaceSource::Mcast { address, port }
            } else {
                InterfaceSource::Client { address, port }
            }
        }
    };
    let ip = match ip {
        Some(i) => {
            let v = i.required_attr("address")?;
            Some(
                v.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| i.bad_attr("address", v, "an IPv4 or IPv6 address"))?,
            )
        }
        None => None,
    };
    let model = match model {
        Some(m) => {
            let v = m.required_nonempty_attr("type")?;
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(m.bad_attr("type", v, "a model name of letters, digits, '-' and '_'"));
            }
            Some(v.to_owned())
        }
        None => None,
    };
    Ok(InterfaceDef {
        source,
        mac: mac.map(|m| mac_attr(m, "address")).transpose()?,
        ip,
        script: script
            .map(|s| s.required_nonempty_attr("path").map(str::to_owned))
            .transpose()?,
        target_dev: target
            .map(|t| t.required_nonempty_attr("dev").map(str::to_owned))
            .transpose()?,
        guest_dev: guest
            .map(|g| g.required_nonempty_attr("dev").map(str::to_owned))
            .transpose()?,
        model,
        address: address.map(parse_address).transpose()?,
    })
}

fn write_interface(w: &mut Writer, i: &InterfaceDef, opts: &FormatOptions) {
    w.open_close(
        Tag::new("interface").attr("type", i.source.type_name()),
        |w| {
            if let Some(mac) = &i.mac {
                w.empty(Tag::new("mac").attr("address", mac));
            }
            match &i.source {
                InterfaceSource::Bridge { bridge } => {
                    w.empty(Tag::new("source").attr("bridge", bridge))
                }
                InterfaceSource::Network { network } => {
                    w.empty(Tag::new("source").attr("network", network))
                }
                InterfaceSource::User => {}
                InterfaceSource::Ethernet { dev } => {
                    if let Some(dev) = dev {
                        w.empty(Tag::new("source").attr("dev", dev));
                    }
                }
                InterfaceSource::Mcast { address, port }
                | InterfaceSource::Client { address, port } => w.empty(
                    Tag::new("source")
                        .attr("address", address)
                        .attr("port", port),
                ),
                InterfaceSource::Server { address, port } => w.empty(
                    Tag::new("source")
                        .opt("address", address.as_deref())
                        .attr("port", port),
                ),
            }
            if let Some(ip) = &i.ip {
                let family = match (opts.legacy_style(), ip) {
                    (true, _) => None,
                    (false, IpAddr::V4(_)) => Some("ipv4"),
                    (false, IpAddr::V6(_)) => Some("ipv6"),
                };
                w.empty(Tag::new("ip").attr("address", ip).opt("family", family));
            }
            if let Some(script) = &i.script {
                w.empty(Tag::new("script").attr("path", script));
            }
            if let Some(dev) = &i.target_dev {
                w.empty(Tag::new("target").attr("dev", dev));
            }
            if let Some(dev) = &i.guest_dev {
                w.empty(Tag::new("guest").attr("dev", dev));
            }
            if let Some(model) = &i.model {
                w.empty(Tag::new("model").attr("type", model));
            }
            write_address(w, &i.address);
        },
    );
}

fn parse_chardev(el: &Element) -> Result<ChardevDef> {
    el.expect_no_text()?;
    const TYPES: &[&str] = &[
        "null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix",
    ];
    // An element without a type is a pty, as in libvirt 0.4 (`<console tty='/dev/pts/4'/>`).
    let ty = el.attr("type").map(str::trim).unwrap_or("pty");
    if !TYPES.contains(&ty) {
        return Err(el.bad_attr("type", ty, &format!("one of {}", TYPES.join(", "))));
    }
    let mut sources: Vec<&Element> = Vec::new();
    let (mut protocol, mut target) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "source" => {
                child.expect_empty()?;
                sources.push(child);
            }
            "protocol" => once(&mut protocol, child, el)?,
            "target" => once(&mut target, child, el)?,
            _ => return Err(el.unexpected(child, &["source", "protocol", "target"])),
        }
    }
    let max_sources = if ty == "udp" { 2 } else { 1 };
    if sources.len() > max_sources {
        return Err(sources[max_sources].error(format!(
            "Too many <source> elements in <{} type='{ty}'>",
            el.name
        )));
    }
    let first = sources.first().copied();
    let path_of = |what: &str| -> Result<String> {
        let s = first.ok_or_else(|| {
            el.error(format!(
                "Missing <source> with 'path' in <{} type='{what}'>",
                el.name
            ))
        })?;
        Ok(s.required_nonempty_attr("path")?.to_owned())
    };
    let mode_of = |s: &Element| -> Result<ChardevMode> {
        Ok(
            keyword_attr(s, "mode", ChardevMode::NAMES, ChardevMode::from_name)?
                .unwrap_or(ChardevMode::Connect),
        )
    };
    let mut protocol_value = None;
    if let Some(p) = protocol {
        p.expect_empty()?;
        if ty != "tcp" {
            return Err(p.error(format!(
                "Unexpected <protocol> in <{} type='{ty}'>: only tcp has one",
                el.name
            )));
        }
        protocol_value = keyword_attr(
            p,
            "type",
            ChardevProtocol::NAMES,
            ChardevProtocol::from_name,
        )?;
    }
    let source = match ty {
        "null" => ChardevSource::Null,
        "vc" => ChardevSource::Vc,
        "stdio" => ChardevSource::Stdio,
        "pty" => {
            let path = first
                .and_then(|s| s.nonempty_attr("path"))
                .or_else(|| el.nonempty_attr("tty"));
            ChardevSource::Pty {
                path: path.map(str::to_owned),
            }
        }
        "dev" => ChardevSource::Dev { path: path_of(ty)? },
        "file" => ChardevSource::File { path: path_of(ty)? },
        "pipe" => ChardevSource::Pipe { path: path_of(ty)? },
        "unix" => {
            let s = first.ok_or_else(|| {
                el.error(format!("Missing <source> in <{} type='unix'>", el.name))
            })?;
            ChardevSource::Unix {
                mode: mode_of(s)?,
                path: s.required_nonempty_attr("path")?.to_owned(),
            }
        }
        "tcp" => {
            let s = first
                .ok_or_else(|| el.error(format!("Missing <source> in <{} type='tcp'>", el.name)))?;
            // libvirt 0.4 also read the protocol from a `wiremode` attribute of <source>.
            let wiremode = keyword_attr(
                s,
                "wiremode",
                ChardevProtocol::NAMES,
                ChardevProtocol::from_name,
            )?;
            ChardevSource::Tcp {
                mode: mode_of(s)?,
                host: s.required_nonempty_attr("host")?.to_owned(),
                service: s.required_nonempty_attr("service")?.to_owned(),
                protocol: protocol_value.or(wiremode).unwrap_or(ChardevProtocol::Raw),
            }
        }
        _ => {
            let (mut bind, mut connect) = (None, None);
            for s in &sources {
                match mode_of(s)? {
                    ChardevMode::Bind => once(&mut bind, s, el)?,
                    ChardevMode::Connect => once(&mut connect, s, el)?,
                }
            }
            let connect = connect.ok_or_else(|| {
                el.error(format!(
                    "Missing <source mode='connect'> in <{} type='udp'>",
                    el.name
                ))
            })?;
            let owned = |s: Option<&Element>, k: &str| {
                s.and_then(|s| s.nonempty_attr(k)).map(str::to_owned)
            };
            ChardevSource::Udp {
                bind_host: owned(bind, "host"),
                bind_service: owned(bind, "service"),
                connect_host: owned(Some(connect), "host"),
                connect_service: connect.required_nonempty_attr("service")?.to_owned(),
            }
        }
    };
    let (target_port, target_type) = match target {
        Some(t) => {
            t.expect_empty()?;
            (
                t.parsed_attr("port", "a non-negative integer", parse_u32)?,
                t.nonempty_attr("type").map(str::to_owned),
            )
        }
        None => (None, None),
    };
    Ok(ChardevDef {
        source,
        target_port,
        target_type,
    })
}

fn write_chardev(w: &mut Writer, name: &'static str, c: &ChardevDef, opts: &FormatOptions) {
    let mut tag = Tag::new(name).attr("type", c.source.type_name());
    let live_pty = match &c.source {
        ChardevSource::Pty { path: Some(p) } if !opts.inactive => Some(p.as_str()),
        _ => None,
    };
    tag = tag.opt("tty", live_pty);
    w.element(tag, |w| {
        match &c.source {
            ChardevSource::Null
            | ChardevSource::Vc
            | ChardevSource::Stdio
            | ChardevSource::Pty { .. } => {
                if let Some(p) = live_pty {
                    w.empty(Tag::new("source").attr("path", p));
                }
            }
            ChardevSource::Dev { path }
            | ChardevSource::File { path }
            | ChardevSource::Pipe { path } => {
                w.empty(Tag::new("source").attr("path", path));
            }
            ChardevSource::Udp {
                bind_host,
                bind_service,
                connect_host,
                connect_service,
            } => {
                if bind_host.is_some() || bind_service.is_some() {
                    w.empty(
                        Tag::new("source")
                            .attr("mode", "bind")
                            .opt("host", bind_host.as_deref())
                            .opt("service", bind_service.as_deref()),
                    );
                }
                w.empty(
                    Tag::new("source")
                        .attr("mode", "connect")
                        .opt("host", connect_host.as_deref())
                        .attr("service", connect_service),
                );
            }
            ChardevSource::Tcp {
                mode,
                host,
                service,
                protocol,
            } => {
                w.empty(
                    Tag::new("source")
                        .attr("mode", mode)
                        .attr("host", host)
                        .attr("service", service),
                );
                w.empty(Tag::new("protocol").attr("type", protocol));
            }
            ChardevSource::Unix { mode, path } => {
                w.empty(Tag::new("source").attr("mode", mode).attr("path", path));
            }
        }
        if c.target_port.is_some() || c.target_type.is_some() {
            w.empty(
                Tag::new("target")
                    .opt("type", c.target_type.as_deref())
                    .opt("port", c.target_port),
            );
        }
    });
}

fn parse_input(el: &Element) -> Result<InputDef> {
    el.expect_no_text()?;
    let input_type = keyword_attr(el, "type", InputType::NAMES, InputType::from_name)?
        .ok_or_else(|| el.error("Missing attribute 'type' on <input>"))?;
    let bus = keyword_attr(el, "bus", InputBus::NAMES, InputBus::from_name)?;
    if bus == Some(InputBus::Ps2) && input_type == InputType::Tablet {
        return Err(el.error("The ps2 bus does not support a tablet"));
    }
    let mut address = None;
    for child in &el.children {
        match child.name.as_str() {
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["address"])),
        }
    }
    Ok(InputDef {
        input_type,
        bus,
        address: address.map(parse_address).transpose()?,
    })
}

fn write_input(w: &mut Writer, i: &InputDef) {
    w.element(
        Tag::new("input")
            .attr("type", i.input_type)
            .opt("bus", i.bus),
        |w| write_address(w, &i.address),
    );
}

fn parse_graphics(el: &Element) -> Result<GraphicsDef> {
    el.expect_no_text()?;
    let ty = el.required_attr("type")?;
    match ty {
        "vnc" => {
            let mut listen_child = None;
            for child in &el.children {
                match child.name.as_str() {
                    "listen" => once(&mut listen_child, child, el)?,
                    _ => return Err(el.unexpected(child, &["listen"])),
                }
            }
            let port = el.parsed_attr("port", "a port number, or -1 for automatic", |s| {
                parse_i32(s).filter(|p| (-1..=65535).contains(p))
            })?;
            let explicit_auto = el.parsed_attr("autoport", "yes or no", parse_yes_no)?;
            let port = port.and_then(|p| u16::try_from(p).ok());
            let autoport = port.is_none() || explicit_auto == Some(true);
            let mut listen = el.nonempty_attr("listen").map(str::to_owned);
            if let Some(l) = listen_child {
                l.expect_empty()?;
                let lt = l.attr("type").unwrap_or("address");
                if lt != "address" {
                    return Err(l.bad_attr("type", lt, "address"));
                }
                if let Some(addr) = l.nonempty_attr("address") {
                    match &listen {
                        Some(existing) if existing != addr => {
                            return Err(l.error(format!(
                                "<listen address='{addr}'> does not match listen='{existing}' of <graphics>"
                            )));
                        }
                        _ => listen = Some(addr.to_owned()),
                    }
                }
            }
            Ok(GraphicsDef::Vnc(VncGraphics {
                port,
                autoport,
                listen,
                keymap: el.nonempty_attr("keymap").map(str::to_owned),
                passwd: el.attr("passwd").map(str::to_owned),
            }))
        }
        "sdl" => {
            el.expect_empty()?;
            Ok(GraphicsDef::Sdl(SdlGraphics {
                display: el.nonempty_attr("display").map(str::to_owned),
                xauth: el.nonempty_attr("xauth").map(str::to_owned),
                fullscreen: el
                    .parsed_attr("fullscreen", "yes or no", parse_yes_no)?
                    .unwrap_or(false),
            }))
        }
        other => Err(el.bad_attr("type", other, "one of vnc, sdl")),
    }
}

fn write_graphics(w: &mut Writer, g: &GraphicsDef, opts: &FormatOptions) {
    match g {
        GraphicsDef::Vnc(v) => {
            let port = match v.port {
                Some(p) if !v.autoport || !opts.inactive => i32::from(p),
                _ => -1,
            };
            let tag = Tag::new("graphics")
                .attr("type", "vnc")
                .attr("port", port)
                .attr("autoport", yes_no(v.autoport))
                .opt("listen", v.listen.as_deref())
                .opt("keymap", v.keymap.as_deref())
                .opt("passwd", v.passwd.as_deref().filter(|_| opts.secure));
            w.element(tag, |w| {
                // libvirt 9.0 always repeats the listen setting as a child element.
                if !opts.legacy_style() {
                    w.empty(
                        Tag::new("listen")
                            .attr("type", "address")
                            .opt("address", v.listen.as_deref()),
                    );
                }
            });
        }
        GraphicsDef::Sdl(s) => w.empty(
            Tag::new("graphics")
                .attr("type", "sdl")
                .opt("display", s.display.as_deref())
                .opt("xauth", s.xauth.as_deref())
                .opt("fullscreen", s.fullscreen.then_some("yes")),
        ),
    }
}

fn parse_sound(el: &Element) -> Result<SoundDef> {
    el.expect_no_text()?;
    let model = keyword_attr(el, "model", SoundModel::NAMES, SoundModel::from_name)?
        .ok_or_else(|| el.error("Missing attribute 'model' on <sound>"))?;
    let mut address = None;
    for child in &el.children {
        match child.name.as_str() {
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["address"])),
        }
    }
    Ok(SoundDef {
        model,
        address: address.map(parse_address).transpose()?,
    })
}

fn write_sound(w: &mut Writer, s: &SoundDef) {
    w.element(Tag::new("sound").attr("model", s.model), |w| {
        write_address(w, &s.address)
    });
}

fn parse_hex_id(el: &Element) -> Result<u16> {
    el.expect_empty()?;
    let v = el.required_attr("id")?;
    parse_hex_or_dec(v.trim())
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| el.bad_attr("id", v, "a 16-bit id such as 0x1d6b"))
}

fn parse_hostdev(el: &Element) -> Result<HostdevDef> {
    el.expect_no_text()?;
    let mode = el.attr("mode").unwrap_or("subsystem");
    if mode != "subsystem" {
        return Err(el.bad_attr("mode", mode, "subsystem"));
    }
    let ty = el.required_attr("type")?;
    if ty != "usb" && ty != "pci" {
        return Err(el.bad_attr("type", ty, "one of usb, pci"));
    }
    let managed = el
        .parsed_attr("managed", "yes or no", parse_yes_no)?
        .unwrap_or(false);
    let (mut source, mut address) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "source" => once(&mut source, child, el)?,
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["source", "address"])),
        }
    }
    let src = source.ok_or_else(|| el.missing("source"))?;
    src.expect_no_text()?;
    let (mut vendor, mut product, mut addr) = (None, None, None);
    for child in &src.children {
        match child.name.as_str() {
            "vendor" if ty == "usb" => once(&mut vendor, child, src)?,
            "product" if ty == "usb" => once(&mut product, child, src)?,
            "address" => once(&mut addr, child, src)?,
            _ if ty == "usb" => {
                return Err(src.unexpected(child, &["vendor", "product", "address"]));
            }
            _ => return Err(src.unexpected(child, &["address"])),
        }
    }
    let source = if ty == "usb" {
        let vendor = vendor.map(parse_hex_id).transpose()?;
        let product = product.map(parse_hex_id).transpose()?;
        if vendor.is_some() != product.is_some() {
            return Err(src.error("A USB <source> needs both <vendor> and <product>, or neither"));
        }
        let (bus, device) = match addr {
            Some(a) => {
                a.expect_empty()?;
                let bus = a
                    .parsed_attr("bus", "a bus number", parse_hex_or_dec)?
                    .ok_or_else(|| a.error("Missing attribute 'bus' on <address>"))?;
                let dev = a
                    .parsed_attr("device", "a device number", parse_hex_or_dec)?
                    .ok_or_else(|| a.error("Missing attribute 'device' on <address>"))?;
                (Some(bus), Some(dev))
            }
            None => (None, None),
        };
        if vendor.is_none() && bus.is_none() {
            return Err(
                src.error("A USB <source> needs <vendor> and <product>, or <address bus device>")
            );
        }
        HostdevSource::Usb {
            vendor,
            product,
            bus,
            device,
        }
    } else {
        let a = addr.ok_or_else(|| src.missing("address"))?;
        a.expect_empty()?;
        HostdevSource::Pci(parse_pci_attrs(a)?)
    };
    Ok(HostdevDef {
        managed,
        source,
        address: address.map(parse_address).transpose()?,
    })
}

fn write_hostdev(w: &mut Writer, h: &HostdevDef, opts: &FormatOptions) {
    let ty = match h.source {
        HostdevSource::Usb { .. } => "usb",
        HostdevSource::Pci(_) => "pci",
    };
    let managed = if opts.legacy_style() {
        h.managed.then_some("yes")
    } else {
        Some(yes_no(h.managed))
    };
    let tag = Tag::new("hostdev")
        .attr("mode", "subsystem")
        .attr("type", ty)
        .opt("managed", managed);
    w.open_close(tag, |w| {
        w.open_close(Tag::new("source"), |w| match &h.source {
            HostdevSource::Usb {
                vendor,
                product,
                bus,
                device,
            } => {
                if let (Some(v), Some(p)) = (vendor, product) {
                    w.empty(Tag::new("vendor").attr("id", format!("{v:#06x}")));
                    w.empty(Tag::new("product").attr("id", format!("{p:#06x}")));
                }
                if let (Some(b), Some(d)) = (bus, device) {
                    w.empty(Tag::new("address").attr("bus", b).attr("device", d));
                }
            }
            HostdevSource::Pci(a) => w.empty(write_pci_attrs(Tag::new("address"), a)),
        });
        write_address(w, &h.address);
    });
}

fn parse_filesystem(el: &Element) -> Result<FilesystemDef> {
    el.expect_no_text()?;
    let fs_type = keyword_attr(el, "type", FilesystemType::NAMES, FilesystemType::from_name)?
        .unwrap_or(FilesystemType::Mount);
    const ACCESS: &[&str] = &["passthrough", "mapped", "squash"];
    let access_mode = match el.attr("accessmode") {
        Some(a) if ACCESS.contains(&a) => Some(a.to_owned()),
        Some(a) => {
            return Err(el.bad_attr("accessmode", a, &format!("one of {}", ACCESS.join(", "))));
        }
        None => None,
    };
    let (mut source, mut target, mut readonly, mut hard, mut soft) = (None, None, None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "source" => once(&mut source, child, el)?,
            "target" => once(&mut target, child, el)?,
            "readonly" => once(&mut readonly, child, el)?,
            "space_hard_limit" => once(&mut hard, child, el)?,
            "space_soft_limit" => once(&mut soft, child, el)?,
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "source",
                        "target",
                        "readonly",
                        "space_hard_limit",
                        "space_soft_limit",
                    ],
                ));
            }
        }
    }
    let source = source.ok_or_else(|| el.missing("source"))?;
    source.expect_empty()?;
    let key = filesystem_source_key(fs_type);
    let target = target.ok_or_else(|| el.missing("target"))?;
    target.expect_empty()?;
    if let Some(r) = readonly {
        r.expect_empty()?;
    }
    Ok(FilesystemDef {
        fs_type,
        access_mode,
        source: source.required_nonempty_attr(key)?.to_owned(),
        target_dir: target.required_nonempty_attr("dir")?.to_owned(),
        readonly: readonly.is_some(),
        space_hard_limit: hard.map(|h| scaled_bytes(h, 1)).transpose()?,
        space_soft_limit: soft.map(|s| scaled_bytes(s, 1)).transpose()?,
    })
}

fn filesystem_source_key(t: FilesystemType) -> &'static str {
    match t {
        FilesystemType::Mount => "dir",
        FilesystemType::Block => "dev",
        FilesystemType::File => "file",
        FilesystemType::Template => "name",
    }
}

fn write_filesystem(w: &mut Writer, f: &FilesystemDef, opts: &FormatOptions) {
    let tag = Tag::new("filesystem")
        .attr("type", f.fs_type)
        .opt("accessmode", f.access_mode.as_deref());
    w.open_close(tag, |w| {
        w.empty(Tag::new("source").attr(filesystem_source_key(f.fs_type), &f.source));
        w.empty(Tag::new("target").attr("dir", &f.target_dir));
        if f.readonly {
            w.empty(Tag::new("readonly"));
        }
        for (name, value) in [
            ("space_hard_limit", f.space_hard_limit),
            ("space_soft_limit", f.space_soft_limit),
        ] {
            if let Some(v) = value {
                let tag = if opts.legacy_style() {
                    Tag::new(name)
                } else {
                    Tag::new(name).attr("unit", "bytes")
                };
                w.text(tag, &v.to_string());
            }
        }
    });
}

fn only_address(el: &Element) -> Result<Option<DeviceAddress>> {
    let mut address = None;
    for child in &el.children {
        match child.name.as_str() {
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["address"])),
        }
    }
    address.map(parse_address).transpose()
}

fn parse_controller(el: &Element) -> Result<ControllerDef> {
    el.expect_no_text()?;
    let ty = el.required_attr("type")?;
    if !CONTROLLER_TYPES.contains(&ty) {
        return Err(el.bad_attr(
            "type",
            ty,
            &format!("one of {}", CONTROLLER_TYPES.join(", ")),
        ));
    }
    Ok(ControllerDef {
        controller_type: ty.to_owned(),
        index: el
            .parsed_attr("index", "a non-negative integer", parse_u32)?
            .unwrap_or(0),
        model: el.nonempty_attr("model").map(str::to_owned),
        address: only_address(el)?,
    })
}

fn write_controller(w: &mut Writer, c: &ControllerDef) {
    let tag = Tag::new("controller")
        .attr("type", &c.controller_type)
        .attr("index", c.index)
        .opt("model", c.model.as_deref());
    w.element(tag, |w| write_address(w, &c.address));
}

fn parse_video(el: &Element) -> Result<VideoDef> {
    el.expect_no_text()?;
    let (mut model, mut address) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "model" => once(&mut model, child, el)?,
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["model", "address"])),
        }
    }
    let model = model.ok_or_else(|| el.missing("model"))?;
    model.expect_empty()?;
    let ty = model.required_attr("type")?;
    if !VIDEO_MODELS.contains(&ty) {
        return Err(model.bad_attr("type", ty, &format!("one of {}", VIDEO_MODELS.join(", "))));
    }
    Ok(VideoDef {
        model: ty.to_owned(),
        vram_kib: model.parsed_attr("vram", "a size in KiB", parse_u32)?,
        heads: model.parsed_attr("heads", "a number of heads", parse_u32)?,
        primary: model
            .parsed_attr("primary", "yes or no", parse_yes_no)?
            .unwrap_or(false),
        address: address.map(parse_address).transpose()?,
    })
}

fn write_video(w: &mut Writer, v: &VideoDef) {
    w.open_close(Tag::new("video"), |w| {
        w.empty(
            Tag::new("model")
                .attr("type", &v.model)
                .opt("vram", v.vram_kib)
                .opt("heads", v.heads)
                .opt("primary", v.primary.then_some("yes")),
        );
        write_address(w, &v.address);
    });
}

fn parse_memballoon(el: &Element) -> Result<MemballoonDef> {
    el.expect_no_text()?;
    const MODELS: &[&str] = &["virtio", "xen", "none"];
    let model = el.required_attr("model")?;
    if !MODELS.contains(&model) {
        return Err(el.bad_attr("model", model, &format!("one of {}", MODELS.join(", "))));
    }
    let mut address = None;
    for child in &el.children {
        match child.name.as_str() {
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["address"])),
        }
    }
    Ok(MemballoonDef {
        model: model.to_owned(),
        address: address.map(parse_address).transpose()?,
    })
}

/// Writes the `<devices>` block.
pub(crate) fn write_devices(w: &mut Writer, d: &Devices, opts: &FormatOptions) {
    w.element(Tag::new("devices"), |w| {
        w.opt_text("emulator", d.emulator.as_deref());
        d.disks.iter().for_each(|x| write_disk(w, x));
        d.controllers.iter().for_each(|x| write_controller(w, x));
        d.filesystems
            .iter()
            .for_each(|x| write_filesystem(w, x, opts));
        d.interfaces
            .iter()
            .for_each(|x| write_interface(w, x, opts));
        d.serials
            .iter()
            .for_each(|x| write_chardev(w, "serial", x, opts));
        d.parallels
            .iter()
            .for_each(|x| write_chardev(w, "parallel", x, opts));
        d.consoles
            .iter()
            .for_each(|x| write_chardev(w, "console", x, opts));
        d.inputs.iter().for_each(|x| write_input(w, x));
        d.graphics.iter().for_each(|x| write_graphics(w, x, opts));
        d.sounds.iter().for_each(|x| write_sound(w, x));
        d.videos.iter().for_each(|x| write_video(w, x));
        d.hostdevs.iter().for_each(|x| write_hostdev(w, x, opts));
        if let Some(m) = &d.memballoon {
            w.element(Tag::new("memballoon").attr("model", &m.model), |w| {
                write_address(w, &m.address)
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(xml: &str) -> Device {
        let dev = Device::parse(xml).unwrap();
        let opts = FormatOptions::default().with_secure(true);
        let again = Device::parse(&dev.to_xml(&opts)).unwrap();
        assert_eq!(dev, again);
        dev
    }

    #[test]
    fn disk_defaults_and_cdrom_readonly() {
        let Device::Disk(d) = roundtrip("<disk device='cdrom'><target dev='hdc'/></disk>") else {
            panic!()
        };
        assert_eq!(d.disk_type, DiskType::File);
        assert!(d.readonly);
        assert_eq!(d.source, None);
        let err = Device::parse("<disk type='file'><target dev='hda'/></disk>").unwrap_err();
        assert!(err.to_string().contains("Missing <source>"), "{err}");
        let err = Device::parse("<disk type='block'><source file='/x'/><target dev='hda'/></disk>")
            .unwrap_err();
        assert!(err.to_string().contains("needs attribute 'dev'"), "{err}");
    }

    #[test]
    fn interface_kinds() {
        let Device::Interface(i) = roundtrip(
            "<interface type='mcast'><mac address='52:54:00:AA:bb:cc'/><source address='230.0.0.1' port='5558'/></interface>",
        ) else {
            panic!()
        };
        assert_eq!(i.mac.unwrap().to_string(), "52:54:00:aa:bb:cc");
        assert_eq!(
            i.source,
            InterfaceSource::Mcast {
                address: "230.0.0.1".into(),
                port: 5558
            }
        );
        roundtrip("<interface type='server'><source port='5558'/></interface>");
        roundtrip(
            "<interface type='client'><source address='192.168.0.1' port='5558'/></interface>",
        );
        roundtrip(
            "<interface type='network'><source network='default'/><model type='virtio'/></interface>",
        );
        roundtrip(
            "<interface type='ethernet'><ip address='10.0.0.2'/><script path='/etc/qemu-ifup'/><target dev='tap0'/></interface>",
        );
        assert!(Device::parse("<interface type='bridge'/>").is_err());
        assert!(
            Device::parse("<interface type='user'><mac address='zz:00:00:00:00:00'/></interface>")
                .is_err()
        );
        assert!(Device::parse("<interface type='wifi'/>").is_err());
    }

    #[test]
    fn chardevs() {
        let Device::Console(c) = roundtrip("<console tty='/dev/pts/4'/>") else {
            panic!()
        };
        assert_eq!(
            c.source,
            ChardevSource::Pty {
                path: Some("/dev/pts/4".into())
            }
        );
        let Device::Serial(s) = roundtrip(
            "<serial type='tcp'><source mode='bind' host='localhost' service='9999' wiremode='telnet'/><target port='0'/></serial>",
        ) else {
            panic!()
        };
        assert!(matches!(
            s.source,
            ChardevSource::Tcp {
                protocol: ChardevProtocol::Telnet,
                mode: ChardevMode::Bind,
                ..
            }
        ));
        roundtrip(
            "<serial type='udp'><source mode='connect' host='a' service='1'/><source mode='bind' service='2'/></serial>",
        );
        roundtrip("<parallel type='unix'><source mode='bind' path='/tmp/s'/></parallel>");
        roundtrip("<serial type='file'><source path='/tmp/log'/><target port='1'/></serial>");
        assert!(Device::parse("<serial type='file'/>").is_err());
        assert!(
            Device::parse("<serial type='udp'><source mode='bind' service='2'/></serial>").is_err()
        );
        assert!(Device::parse("<serial type='pty'><protocol type='raw'/></serial>").is_err());
    }

    #[test]
    fn vnc_port_rules() {
        let Device::Graphics(GraphicsDef::Vnc(v)) = roundtrip("<graphics type='vnc' port='-1'/>")
        else {
            panic!()
        };
        assert!(v.autoport);
        assert_eq!(v.port, None);
        let Device::Graphics(GraphicsDef::Vnc(v)) =
            roundtrip("<graphics type='vnc' port='5901' autoport='no'/>")
        else {
            panic!()
        };
        assert!(!v.autoport);
        assert_eq!(v.port, Some(5901));
        let live =
            Device::parse("<graphics type='vnc' port='5904' autoport='yes' passwd='s'/>").unwrap();
        assert_eq!(
            live.to_xml(&FormatOptions::legacy().with_inactive(true)),
            "<graphics type='vnc' port='-1' autoport='yes'/>\n"
        );
        assert_eq!(
            live.to_xml(&FormatOptions::legacy().with_secure(true)),
            "<graphics type='vnc' port='5904' autoport='yes' passwd='s'/>\n"
        );
        assert!(Device::parse("<graphics type='vnc' port='70000'/>").is_err());
        assert!(Device::parse("<graphics type='spice'/>").is_err());
    }

    #[test]
    fn hostdevs() {
        roundtrip(
            "<hostdev mode='subsystem' type='usb'><source><vendor id='0x0204'/><product id='0x6025'/></source></hostdev>",
        );
        roundtrip(
            "<hostdev mode='subsystem' type='usb'><source><address bus='14' device='6'/></source></hostdev>",
        );
        roundtrip(
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>",
        );
        assert!(Device::parse("<hostdev mode='subsystem' type='usb'><source/></hostdev>").is_err());
        assert!(Device::parse("<hostdev mode='subsystem' type='usb'><source><vendor id='0x0204'/></source></hostdev>").is_err());
    }

    #[test]
    fn attach_detach() {
        let mut devs = Devices::default();
        let disk = Device::parse("<disk type='file'><source file='/a'/><target dev='vda'/></disk>")
            .unwrap();
        devs.attach(disk.clone()).unwrap();
        assert!(matches!(devs.attach(disk), Err(Error::DeviceExists(_))));
        let probe =
            Device::parse("<disk type='file'><source file='/other'/><target dev='vda'/></disk>")
                .unwrap();
        assert!(devs.detach(&probe).is_ok());
        assert!(matches!(devs.detach(&probe), Err(Error::DeviceNotFound(_))));
        let nic =
            Device::parse("<interface type='user'><mac address='52:54:00:00:00:01'/></interface>")
                .unwrap();
        devs.attach(nic).unwrap();
        let mac: MacAddr = "52:54:00:00:00:01".parse().unwrap();
        assert!(devs.interface(&mac).is_some());
        let probe = Device::parse("<interface type='network'><mac address='52:54:00:00:00:01'/><source network='x'/></interface>").unwrap();
        assert!(devs.detach(&probe).is_ok());
        assert!(devs.interfaces.is_empty());
    }
}
