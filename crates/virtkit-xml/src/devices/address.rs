//! Where a device sits on the guest's buses (`<address>`), and PCI addresses, which host
//! devices use too.

use crate::error::Result;
use crate::tree::{Element, once};
use crate::values::{parse_hex_or_dec, parse_u32};
use crate::writer::{Tag, Writer};

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

pub(super) fn parse_pci_attrs(el: &Element) -> Result<PciAddress> {
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

pub(super) fn write_pci_attrs(tag: Tag, a: &PciAddress) -> Tag {
    tag.attr("domain", format!("{:#06x}", a.domain))
        .attr("bus", format!("{:#04x}", a.bus))
        .attr("slot", format!("{:#04x}", a.slot))
        .attr("function", format!("{:#x}", a.function))
        .opt("multifunction", a.multifunction.map(crate::values::on_off))
}

pub(super) fn parse_address(el: &Element) -> Result<DeviceAddress> {
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

pub(super) fn write_address(w: &mut Writer, a: &Option<DeviceAddress>) {
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

pub(super) fn only_address(el: &Element) -> Result<Option<DeviceAddress>> {
    let mut address = None;
    for child in &el.children {
        match child.name.as_str() {
            "address" => once(&mut address, child, el)?,
            _ => return Err(el.unexpected(child, &["address"])),
        }
    }
    address.map(parse_address).transpose()
}
