//! Input devices (`<input>`): the struct, its parser, writer and detach-device matching rule.

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::tree::{Element, once};
use crate::values::{keyword_attr, keyword_enum};
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: an input is identified by its type, and by its bus when the caller
/// gives one.
pub(super) fn same_input(want: &InputDef, have: &InputDef) -> bool {
    want.input_type == have.input_type && (want.bus.is_none() || want.bus == have.bus)
}

pub(super) fn parse_input(el: &Element) -> Result<InputDef> {
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

pub(super) fn write_input(w: &mut Writer, i: &InputDef) {
    w.element(
        Tag::new("input")
            .attr("type", i.input_type)
            .opt("bus", i.bus),
        |w| write_address(w, &i.address),
    );
}
