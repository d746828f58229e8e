//! Character devices: serial ports, parallel ports and consoles (`<serial>`, `<parallel>`,
//! `<console>`), one struct for the three, its parser, writer and detach-device matching rule.

use crate::error::Result;
use crate::options::FormatOptions;
use crate::tree::{Element, once};
use crate::values::{keyword_attr, keyword_enum, parse_u32};
use crate::writer::{Tag, Writer};

keyword_enum! {
    /// The mode of a socket character device source.
    pub enum ChardevMode {
        /// Listen.
        Bind = "bind",
        /// Connect out.
        Connect = "connect",
    }
}

keyword_enum! {
    /// The wire protocol of a TCP character device (`<protocol type>`).
    pub enum ChardevProtocol {
        /// Raw bytes.
        Raw = "raw",
        /// Telnet.
        Telnet = "telnet",
    }
}

/// What a serial, parallel or console device is connected to on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChardevSource {
    /// `type='null'`.
    Null,
    /// `type='vc'`: a virtual console.
    Vc,
    /// `type='pty'`; `path` is the allocated pty of a running guest (`tty=`/`<source path>`).
    Pty {
        /// The pty path, known once the guest runs.
        path: Option<String>,
    },
    /// `type='dev'`: a host device.
    Dev {
        /// Host device path.
        path: String,
    },
    /// `type='file'`: output to a file.
    File {
        /// File path.
        path: String,
    },
    /// `type='pipe'`: a named pipe.
    Pipe {
        /// Pipe path.
        path: String,
    },
    /// `type='stdio'`.
    Stdio,
    /// `type='udp'`: bind and connect ends.
    Udp {
        /// Local host to bind.
        bind_host: Option<String>,
        /// Local service to bind.
        bind_service: Option<String>,
        /// Remote host.
        connect_host: Option<String>,
        /// Remote service.
        connect_service: String,
    },
    /// `type='tcp'`.
    Tcp {
        /// Listen or connect.
        mode: ChardevMode,
        /// Host.
        host: String,
        /// Service (port).
        service: String,
        /// Raw or telnet.
        protocol: ChardevProtocol,
    },
    /// `type='unix'`.
    Unix {
        /// Listen or connect.
        mode: ChardevMode,
        /// Socket path.
        path: String,
    },
}

impl ChardevSource {
    /// The `type` attribute for this source.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChardevSource::Null => "null",
            ChardevSource::Vc => "vc",
            ChardevSource::Pty { .. } => "pty",
            ChardevSource::Dev { .. } => "dev",
            ChardevSource::File { .. } => "file",
            ChardevSource::Pipe { .. } => "pipe",
            ChardevSource::Stdio => "stdio",
            ChardevSource::Udp { .. } => "udp",
            ChardevSource::Tcp { .. } => "tcp",
            ChardevSource::Unix { .. } => "unix",
        }
    }
}

/// A serial port, parallel port or console (`<serial>`, `<parallel>`, `<console>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChardevDef {
    /// Host side.
    pub source: ChardevSource,
    /// `<target port>`.
    pub target_port: Option<u32>,
    /// `<target type>` (consoles: `serial`, `virtio`, `xen`, ...).
    pub target_type: Option<String>,
}

/// detach-device's rule: a character device is identified by its target port, or without one by
/// all of its settings.
pub(super) fn same_chardev(want: &ChardevDef, have: &ChardevDef) -> bool {
    match want.target_port {
        Some(port) => have.target_port == Some(port),
        None => want == have,
    }
}

pub(super) fn parse_chardev(el: &Element) -> Result<ChardevDef> {
    el.expect_no_text()?;
    const TYPES: &[&str] = &[
        "null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix",
    ];
    // An element without a type is a pty, as in libvirt 0.4 (`<console tty='/dev/pts/4'/>`).
    let ty = el.attr("type").map(str::trim).unwrap_or("pty");
    if !TYPES.contains(&ty) {
        return Err(el.bad_attr("type", ty, &format!("one of {}", TYPES.join(", "))));
    }
    let mut sources: Vec<&Element> = Vec::new();
    let (mut protocol, mut target) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "source" => {
                child.expect_empty()?;
                sources.push(child);
            }
            "protocol" => once(&mut protocol, child, el)?,
            "target" => once(&mut target, child, el)?,
            _ => return Err(el.unexpected(child, &["source", "protocol", "target"])),
        }
    }
    let max_sources = if ty == "udp" { 2 } else { 1 };
    if sources.len() > max_sources {
        return Err(sources[max_sources].error(format!(
            "Too many <source> elements in <{} type='{ty}'>",
            el.name
        )));
    }
    let first = sources.first().copied();
    let path_of = |what: &str| -> Result<String> {
        let s = first.ok_or_else(|| {
            el.error(format!(
                "Missing <source> with 'path' in <{} type='{what}'>",
                el.name
            ))
        })?;
        Ok(s.required_nonempty_attr("path")?.to_owned())
    };
    let mode_of = |s: &Element| -> Result<ChardevMode> {
        Ok(
            keyword_attr(s, "mode", ChardevMode::NAMES, ChardevMode::from_name)?
                .unwrap_or(ChardevMode::Connect),
        )
    };
    let mut protocol_value = None;
    if let Some(p) = protocol {
        p.expect_empty()?;
        if ty != "tcp" {
            return Err(p.error(format!(
                "Unexpected <protocol> in <{} type='{ty}'>: only tcp has one",
                el.name
            )));
        }
        protocol_value = keyword_attr(
            p,
            "type",
            ChardevProtocol::NAMES,
            ChardevProtocol::from_name,
        )?;
    }
    let source = match ty {
        "null" => ChardevSource::Null,
        "vc" => ChardevSource::Vc,
        "stdio" => ChardevSource::Stdio,
        "pty" => {
            let path = first
                .and_then(|s| s.nonempty_attr("path"))
                .or_else(|| el.nonempty_attr("tty"));
            ChardevSource::Pty {
                path: path.map(str::to_owned),
            }
        }
        "dev" => ChardevSource::Dev { path: path_of(ty)? },
        "file" => ChardevSource::File { path: path_of(ty)? },
        "pipe" => ChardevSource::Pipe { path: path_of(ty)? },
        "unix" => {
            let s = first.ok_or_else(|| {
                el.error(format!("Missing <source> in <{} type='unix'>", el.name))
            })?;
            ChardevSource::Unix {
                mode: mode_of(s)?,
                path: s.required_nonempty_attr("path")?.to_owned(),
            }
        }
        "tcp" => {
            let s = first
                .ok_or_else(|| el.error(format!("Missing <source> in <{} type='tcp'>", el.name)))?;
            // libvirt 0.4 also read the protocol from a `wiremode` attribute of <source>.
            let wiremode = keyword_attr(
                s,
                "wiremode",
                ChardevProtocol::NAMES,
                ChardevProtocol::from_name,
            )?;
            ChardevSource::Tcp {
                mode: mode_of(s)?,
                host: s.required_nonempty_attr("host")?.to_owned(),
                service: s.required_nonempty_attr("service")?.to_owned(),
                protocol: protocol_value.or(wiremode).unwrap_or(ChardevProtocol::Raw),
            }
        }
        _ => {
            let (mut bind, mut connect) = (None, None);
            for s in &sources {
                match mode_of(s)? {
                    ChardevMode::Bind => once(&mut bind, s, el)?,
                    ChardevMode::Connect => once(&mut connect, s, el)?,
                }
            }
            let connect = connect.ok_or_else(|| {
                el.error(format!(
                    "Missing <source mode='connect'> in <{} type='udp'>",
                    el.name
                ))
            })?;
            let owned = |s: Option<&Element>, k: &str| {
                s.and_then(|s| s.nonempty_attr(k)).map(str::to_owned)
            };
            ChardevSource::Udp {
                bind_host: owned(bind, "host"),
                bind_service: owned(bind, "service"),
                connect_host: owned(Some(connect), "host"),
                connect_service: connect.required_nonempty_attr("service")?.to_owned(),
            }
        }
    };
    let (target_port, target_type) = match target {
        Some(t) => {
            t.expect_empty()?;
            (
                t.parsed_attr("port", "a non-negative integer", parse_u32)?,
                t.nonempty_attr("type").map(str::to_owned),
            )
        }
        None => (None, None),
    };
    Ok(ChardevDef {
        source,
        target_port,
        target_type,
    })
}

pub(super) fn write_chardev(
    w: &mut Writer,
    name: &'static str,
    c: &ChardevDef,
    opts: &FormatOptions,
) {
    let mut tag = Tag::new(name).attr("type", c.source.type_name());
    let live_pty = match &c.source {
        ChardevSource::Pty { path: Some(p) } if !opts.inactive => Some(p.as_str()),
        _ => None,
    };
    tag = tag.opt("tty", live_pty);
    w.element(tag, |w| {
        match &c.source {
            ChardevSource::Null
            | ChardevSource::Vc
            | ChardevSource::Stdio
            | ChardevSource::Pty { .. } => {
                if let Some(p) = live_pty {
                    w.empty(Tag::new("source").attr("path", p));
                }
            }
            ChardevSource::Dev { path }
            | ChardevSource::File { path }
            | ChardevSource::Pipe { path } => {
                w.empty(Tag::new("source").attr("path", path));
            }
            ChardevSource::Udp {
                bind_host,
                bind_service,
                connect_host,
                connect_service,
            } => {
                if bind_host.is_some() || bind_service.is_some() {
                    w.empty(
                        Tag::new("source")
                            .attr("mode", "bind")
                            .opt("host", bind_host.as_deref())
                            .opt("service", bind_service.as_deref()),
                    );
                }
                w.empty(
                    Tag::new("source")
                        .attr("mode", "connect")
                        .opt("host", connect_host.as_deref())
                        .attr("service", connect_service),
                );
            }
            ChardevSource::Tcp {
                mode,
                host,
                service,
                protocol,
            } => {
                w.empty(
                    Tag::new("source")
                        .attr("mode", mode)
                        .attr("host", host)
                        .attr("service", service),
                );
                w.empty(Tag::new("protocol").attr("type", protocol));
            }
            ChardevSource::Unix { mode, path } => {
                w.empty(Tag::new("source").attr("mode", mode).attr("path", path));
            }
        }
        if c.target_port.is_some() || c.target_type.is_some() {
            w.empty(
                Tag::new("target")
                    .opt("type", c.target_type.as_deref())
                    .opt("port", c.target_port),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Device;
    use crate::devices::tests::roundtrip;

    #[test]
    fn chardevs() {
        let Device::Console(c) = roundtrip("<console tty='/dev/pts/4'/>") else {
            panic!()
        };
        assert_eq!(
            c.source,
            ChardevSource::Pty {
                path: Some("/dev/pts/4".into())
            }
        );
        let Device::Serial(s) = roundtrip(
            "<serial type='tcp'><source mode='bind' host='localhost' service='9999' wiremode='telnet'/><target port='0'/></serial>",
        ) else {
            panic!()
        };
        assert!(matches!(
            s.source,
            ChardevSource::Tcp {
                protocol: ChardevProtocol::Telnet,
                mode: ChardevMode::Bind,
                ..
            }
        ));
        roundtrip(
            "<serial type='udp'><source mode='connect' host='a' service='1'/><source mode='bind' service='2'/></serial>",
        );
        roundtrip("<parallel type='unix'><source mode='bind' path='/tmp/s'/></parallel>");
        roundtrip("<serial type='file'><source path='/tmp/log'/><target port='1'/></serial>");
        assert!(Device::parse("<serial type='file'/>").is_err());
        assert!(
            Device::parse("<serial type='udp'><source mode='bind' service='2'/></serial>").is_err()
        );
        assert!(Device::parse("<serial type='pty'><protocol type='raw'/></serial>").is_err());
    }
}
