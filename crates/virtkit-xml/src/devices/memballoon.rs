//! The memory balloon (`<memballoon>`): the struct, its parser and writer.

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::tree::{Element, once};
use crate::writer::{Tag, Writer};

/// The memory balloon (`<memballoon model>`), as libvirt 9.0 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemballoonDef {
    /// `virtio`, `xen` or `none`.
    pub model: String,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

pub(super) fn parse_memballoon(el: &Element) -> Result<MemballoonDef> {
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

pub(super) fn write_memballoon(w: &mut Writer, m: &MemballoonDef) {
    w.element(Tag::new("memballoon").attr("model", &m.model), |w| {
        write_address(w, &m.address)
    });
}
