//! Video cards (`<video>`): the struct, its parser and writer.

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::tree::{Element, once};
use crate::values::{parse_u32, parse_yes_no};
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: a video card is identified by all of its settings.
pub(super) fn same_video(want: &VideoDef, have: &VideoDef) -> bool {
    want == have
}

pub(super) fn parse_video(el: &Element) -> Result<VideoDef> {
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

pub(super) fn write_video(w: &mut Writer, v: &VideoDef) {
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
