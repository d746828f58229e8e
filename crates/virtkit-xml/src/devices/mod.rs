//! The `<devices>` of a domain: one file per device family (its struct, parser, writer and
//! detach-device matching rule); this module holds the list of devices, the one-device enum
//! given to attach-device / detach-device, and the `<devices>` block's parser and writer.

mod address;
mod chardev;
mod controller;
mod disk;
mod filesystem;
mod graphics;
mod hostdev;
mod input;
mod interface;
mod memballoon;
mod sound;
mod video;

pub use address::{DeviceAddress, PciAddress};
pub use chardev::{ChardevDef, ChardevMode, ChardevProtocol, ChardevSource};
pub use controller::{CONTROLLER_TYPES, ControllerDef};
pub use disk::{DISK_CACHE_MODES, DiskBus, DiskDef, DiskDevice, DiskType};
pub use filesystem::{FilesystemDef, FilesystemType};
pub use graphics::{GraphicsDef, SdlGraphics, VncGraphics};
pub use hostdev::{HostdevDef, HostdevSource};
pub use input::{InputBus, InputDef, InputType};
pub use interface::{InterfaceDef, InterfaceSource};
pub use memballoon::MemballoonDef;
pub use sound::{SoundDef, SoundModel};
pub use video::{VIDEO_MODELS, VideoDef};

use crate::error::{Error, Result};
use crate::options::FormatOptions;
use crate::tree::{Element, once, parse_document};
use crate::values::MacAddr;
use crate::writer::{Tag, Writer};
use chardev::{parse_chardev, same_chardev, write_chardev};
use controller::{parse_controller, same_controller, write_controller};
use disk::{parse_disk, same_disk, write_disk};
use filesystem::{parse_filesystem, same_filesystem, write_filesystem};
use graphics::{parse_graphics, same_graphics, write_graphics};
use hostdev::{parse_hostdev, same_hostdev, write_hostdev};
use input::{parse_input, same_input, write_input};
use interface::{parse_interface, same_interface, write_interface};
use memballoon::{parse_memballoon, write_memballoon};
use sound::{parse_sound, same_sound, write_sound};
use video::{parse_video, same_video, write_video};

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
            (Device::Video(a), Device::Video(b)) => same_video(a, b),
            (Device::Interface(a), Device::Interface(b)) => same_interface(a, b),
            (Device::Filesystem(a), Device::Filesystem(b)) => same_filesystem(a, b),
            (Device::Serial(a), Device::Serial(b))
            | (Device::Parallel(a), Device::Parallel(b))
            | (Device::Console(a), Device::Console(b)) => same_chardev(a, b),
            (Device::Input(a), Device::Input(b)) => same_input(a, b),
            (Device::Graphics(a), Device::Graphics(b)) => same_graphics(a, b),
            (Device::Sound(a), Device::Sound(b)) => same_sound(a, b),
            (Device::Hostdev(a), Device::Hostdev(b)) => same_hostdev(a, b),
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
        self.attach_parsed(device);
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
            Device::Video(w) => pos(&self.videos, |d| same_video(w, d)),
            Device::Filesystem(w) => pos(&self.filesystems, |d| same_filesystem(w, d)),
            Device::Interface(w) => pos(&self.interfaces, |d| same_interface(w, d)),
            Device::Serial(w) => pos(&self.serials, |d| same_chardev(w, d)),
            Device::Parallel(w) => pos(&self.parallels, |d| same_chardev(w, d)),
            Device::Console(w) => pos(&self.consoles, |d| same_chardev(w, d)),
            Device::Input(w) => pos(&self.inputs, |d| same_input(w, d)),
            Device::Graphics(w) => pos(&self.graphics, |d| same_graphics(w, d)),
            Device::Sound(w) => pos(&self.sounds, |d| same_sound(w, d)),
            Device::Hostdev(w) => pos(&self.hostdevs, |d| same_hostdev(w, d)),
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
            write_memballoon(w, m);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn roundtrip(xml: &str) -> Device {
        let dev = Device::parse(xml).unwrap();
        let opts = FormatOptions::default().with_secure(true);
        let again = Device::parse(&dev.to_xml(&opts)).unwrap();
        assert_eq!(dev, again);
        dev
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
