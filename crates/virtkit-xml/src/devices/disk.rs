//! Disks (`<disk>`): the struct, its parser, writer and detach-device matching rule.

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::tree::{Element, once};
use crate::values::{keyword_attr, keyword_enum};
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

/// Cache modes accepted in `<disk><driver cache>`: libvirt's set.
pub const DISK_CACHE_MODES: &[&str] = &[
    "default",
    "none",
    "writethrough",
    "writeback",
    "directsync",
    "unsafe",
];

/// detach-device's rule: a disk is identified by its target dev.
pub(super) fn same_disk(want: &DiskDef, have: &DiskDef) -> bool {
    want.target_dev == have.target_dev
}

pub(super) fn parse_disk(el: &Element) -> Result<DiskDef> {
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

pub(super) fn write_disk(w: &mut Writer, d: &DiskDef) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Device;
    use crate::devices::tests::roundtrip;

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
}
