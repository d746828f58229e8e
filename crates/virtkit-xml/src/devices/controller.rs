//! Device controllers (`<controller>`): the struct, its parser, writer and detach-device
//! matching rule.

use super::DeviceAddress;
use super::address::{only_address, write_address};
use crate::error::Result;
use crate::tree::Element;
use crate::values::parse_u32;
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: a controller is identified by its type and index.
pub(super) fn same_controller(want: &ControllerDef, have: &ControllerDef) -> bool {
    want.controller_type == have.controller_type && want.index == have.index
}

pub(super) fn parse_controller(el: &Element) -> Result<ControllerDef> {
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

pub(super) fn write_controller(w: &mut Writer, c: &ControllerDef) {
    let tag = Tag::new("controller")
        .attr("type", &c.controller_type)
        .attr("index", c.index)
        .opt("model", c.model.as_deref());
    w.element(tag, |w| write_address(w, &c.address));
}
