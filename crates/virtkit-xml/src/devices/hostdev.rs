//! Host devices passed through to the guest (`<hostdev>`): the struct, its parser, writer and
//! detach-device matching rule.

use super::address::{parse_address, parse_pci_attrs, write_address, write_pci_attrs};
use super::{DeviceAddress, PciAddress};
use crate::error::Result;
use crate::options::FormatOptions;
use crate::tree::{Element, once};
use crate::values::{parse_hex_or_dec, parse_yes_no, yes_no};
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: a host device is identified by its source.
pub(super) fn same_hostdev(want: &HostdevDef, have: &HostdevDef) -> bool {
    want.source == have.source
}

fn parse_hex_id(el: &Element) -> Result<u16> {
    el.expect_empty()?;
    let v = el.required_attr("id")?;
    parse_hex_or_dec(v.trim())
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| el.bad_attr("id", v, "a 16-bit id such as 0x1d6b"))
}

pub(super) fn parse_hostdev(el: &Element) -> Result<HostdevDef> {
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

pub(super) fn write_hostdev(w: &mut Writer, h: &HostdevDef, opts: &FormatOptions) {
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

#[cfg(test)]
mod tests {
    use crate::devices::Device;
    use crate::devices::tests::roundtrip;

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
}
