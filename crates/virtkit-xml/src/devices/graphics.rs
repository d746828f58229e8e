//! Graphical consoles (`<graphics>`, VNC and SDL): the structs, their parser, writer and
//! detach-device matching rule.

use crate::error::Result;
use crate::options::FormatOptions;
use crate::tree::{Element, once};
use crate::values::{parse_i32, parse_yes_no, yes_no};
use crate::writer::{Tag, Writer};

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

/// detach-device's rule: a graphical console is identified by its type (VNC or SDL).
pub(super) fn same_graphics(want: &GraphicsDef, have: &GraphicsDef) -> bool {
    matches!(
        (want, have),
        (GraphicsDef::Vnc(_), GraphicsDef::Vnc(_)) | (GraphicsDef::Sdl(_), GraphicsDef::Sdl(_))
    )
}

pub(super) fn parse_graphics(el: &Element) -> Result<GraphicsDef> {
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

pub(super) fn write_graphics(w: &mut Writer, g: &GraphicsDef, opts: &FormatOptions) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Device;
    use crate::devices::tests::roundtrip;

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
}
