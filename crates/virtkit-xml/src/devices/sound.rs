//! Sound cards (`<sound>`): the struct, its parser, writer and detach-device matching rule.

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::tree::{Element, once};
use crate::values::{keyword_attr, keyword_enum};
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: a sound card is identified by its model, and by its address when the
/// caller gives one.
pub(super) fn same_sound(want: &SoundDef, have: &SoundDef) -> bool {
    want.model == have.model && (want.address.is_none() || want.address == have.address)
}

pub(super) fn parse_sound(el: &Element) -> Result<SoundDef> {
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

pub(super) fn write_sound(w: &mut Writer, s: &SoundDef) {
    w.element(Tag::new("sound").attr("model", s.model), |w| {
        write_address(w, &s.address)
    });
}
