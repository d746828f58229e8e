//! Network interfaces (`<interface>`): the struct, its parser, writer and detach-device
//! matching rule.

use std::net::IpAddr;

use super::DeviceAddress;
use super::address::{parse_address, write_address};
use crate::error::Result;
use crate::options::FormatOptions;
use crate::tree::{Element, once};
use crate::values::{MacAddr, mac_attr};
use crate::writer::{Tag, Writer};

/// The kind-specific part of a network interface (`<interface type=...>` and its `<source>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceSource {
    /// `type='bridge'`, `<source bridge=...>`.
    Bridge {
        /// Host bridge name.
        bridge: String,
    },
    /// `type='network'`, `<source network=...>`.
    Network {
        /// Virtual network name.
        network: String,
    },
    /// `type='user'`: user-mode networking, no source.
    User,
    /// `type='ethernet'`, optionally `<source dev=...>`.
    Ethernet {
        /// Host device.
        dev: Option<String>,
    },
    /// `type='mcast'`, `<source address port>`.
    Mcast {
        /// Multicast address.
        address: String,
        /// Port.
        port: u16,
    },
    /// `type='server'`, `<source [address] port>`.
    Server {
        /// Listen address.
        address: Option<String>,
        /// Port.
        port: u16,
    },
    /// `type='client'`, `<source address port>`.
    Client {
        /// Server address.
        address: String,
        /// Port.
        port: u16,
    },
}

impl InterfaceSource {
    /// The `type` attribute for this source.
    pub fn type_name(&self) -> &'static str {
        match self {
            InterfaceSource::Bridge { .. } => "bridge",
            InterfaceSource::Network { .. } => "network",
            InterfaceSource::User => "user",
            InterfaceSource::Ethernet { .. } => "ethernet",
            InterfaceSource::Mcast { .. } => "mcast",
            InterfaceSource::Server { .. } => "server",
            InterfaceSource::Client { .. } => "client",
        }
    }
}

/// A network interface (`<interface>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDef {
    /// Type and source.
    pub source: InterfaceSource,
    /// `<mac address>`; drivers generate one when it is absent.
    pub mac: Option<MacAddr>,
    /// `<ip address>`.
    pub ip: Option<IpAddr>,
    /// `<script path>`.
    pub script: Option<String>,
    /// `<target dev>`: the host-side device name.
    pub target_dev: Option<String>,
    /// `<guest dev>`: the device name inside a container (OpenVZ's `ifname`, `eth0`).
    pub guest_dev: Option<String>,
    /// `<model type>`: the emulated NIC (`e1000`, `virtio`, `rtl8139`, ...).
    pub model: Option<String>,
    /// `<address>`.
    pub address: Option<DeviceAddress>,
}

/// detach-device's rule: an interface is identified by its MAC, or without one by its source.
pub(super) fn same_interface(want: &InterfaceDef, have: &InterfaceDef) -> bool {
    match want.mac {
        Some(mac) => have.mac == Some(mac),
        None => want.source == have.source,
    }
}

fn parse_port(el: &Element) -> Result<u16> {
    let v = el.required_attr("port")?;
    v.trim()
        .parse::<u16>()
        .map_err(|_| el.bad_attr("port", v, "a port number from 0 to 65535"))
}

pub(super) fn parse_interface(el: &Element) -> Result<InterfaceDef> {
    el.expect_no_text()?;
    let ty = el.required_attr("type")?;
    const TYPES: &[&str] = &[
        "bridge", "network", "user", "ethernet", "mcast", "server", "client",
    ];
    if !TYPES.contains(&ty) {
        return Err(el.bad_attr("type", ty, &format!("one of {}", TYPES.join(", "))));
    }
    let (mut mac, mut source, mut ip, mut script, mut target, mut model, mut address) =
        (None, None, None, None, None, None, None);
    let mut guest = None;
    for child in &el.children {
        match child.name.as_str() {
            "mac" => once(&mut mac, child, el)?,
            "source" => once(&mut source, child, el)?,
            "ip" => once(&mut ip, child, el)?,
            "script" => once(&mut script, child, el)?,
            "target" => once(&mut target, child, el)?,
            "guest" => once(&mut guest, child, el)?,
            "model" => once(&mut model, child, el)?,
            "address" => once(&mut address, child, el)?,
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "mac", "source", "ip", "script", "target", "guest", "model", "address",
                    ],
                ));
            }
        }
    }
    for c in [mac, source, ip, script, target, guest, model]
        .into_iter()
        .flatten()
    {
        c.expect_empty()?;
    }
    let need_source = |what: &str| -> Result<&Element> {
        source.ok_or_else(|| {
            el.error(format!(
                "Missing <source> with '{what}' in <interface type='{ty}'>"
            ))
        })
    };
    let source = match ty {
        "bridge" => InterfaceSource::Bridge {
            bridge: need_source("bridge")?
                .required_nonempty_attr("bridge")?
                .to_owned(),
        },
        "network" => InterfaceSource::Network {
            network: need_source("network")?
                .required_nonempty_attr("network")?
                .to_owned(),
        },
        "user" => {
            if let Some(s) = source {
                return Err(s.error("Unexpected <source> in <interface type='user'>"));
            }
            InterfaceSource::User
        }
        "ethernet" => InterfaceSource::Ethernet {
            dev: source
                .and_then(|s| s.nonempty_attr("dev"))
                .map(str::to_owned),
        },
        "server" => {
            let s = need_source("port")?;
            InterfaceSource::Server {
                address: s.nonempty_attr("address").map(str::to_owned),
                port: parse_port(s)?,
            }
        }
        _ => {
            let s = need_source("address")?;
            let address = s.required_nonempty_attr("address")?.to_owned();
            let port = parse_port(s)?;
            if ty == "mcast" {
                InterfaceSource::Mcast { address, port }
            } else {
                InterfaceSource::Client { address, port }
            }
        }
    };
    let ip = match ip {
        Some(i) => {
            let v = i.required_attr("address")?;
            Some(
                v.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| i.bad_attr("address", v, "an IPv4 or IPv6 address"))?,
            )
        }
        None => None,
    };
    let model = match model {
        Some(m) => {
            let v = m.required_nonempty_attr("type")?;
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(m.bad_attr("type", v, "a model name of letters, digits, '-' and '_'"));
            }
            Some(v.to_owned())
        }
        None => None,
    };
    Ok(InterfaceDef {
        source,
        mac: mac.map(|m| mac_attr(m, "address")).transpose()?,
        ip,
        script: script
            .map(|s| s.required_nonempty_attr("path").map(str::to_owned))
            .transpose()?,
        target_dev: target
            .map(|t| t.required_nonempty_attr("dev").map(str::to_owned))
            .transpose()?,
        guest_dev: guest
            .map(|g| g.required_nonempty_attr("dev").map(str::to_owned))
            .transpose()?,
        model,
        address: address.map(parse_address).transpose()?,
    })
}

pub(super) fn write_interface(w: &mut Writer, i: &InterfaceDef, opts: &FormatOptions) {
    w.open_close(
        Tag::new("interface").attr("type", i.source.type_name()),
        |w| {
            if let Some(mac) = &i.mac {
                w.empty(Tag::new("mac").attr("address", mac));
            }
            match &i.source {
                InterfaceSource::Bridge { bridge } => {
                    w.empty(Tag::new("source").attr("bridge", bridge))
                }
                InterfaceSource::Network { network } => {
                    w.empty(Tag::new("source").attr("network", network))
                }
                InterfaceSource::User => {}
                InterfaceSource::Ethernet { dev } => {
                    if let Some(dev) = dev {
                        w.empty(Tag::new("source").attr("dev", dev));
                    }
                }
                InterfaceSource::Mcast { address, port }
                | InterfaceSource::Client { address, port } => w.empty(
                    Tag::new("source")
                        .attr("address", address)
                        .attr("port", port),
                ),
                InterfaceSource::Server { address, port } => w.empty(
                    Tag::new("source")
                        .opt("address", address.as_deref())
                        .attr("port", port),
                ),
            }
            if let Some(ip) = &i.ip {
                let family = match (opts.legacy_style(), ip) {
                    (true, _) => None,
                    (false, IpAddr::V4(_)) => Some("ipv4"),
                    (false, IpAddr::V6(_)) => Some("ipv6"),
                };
                w.empty(Tag::new("ip").attr("address", ip).opt("family", family));
            }
            if let Some(script) = &i.script {
                w.empty(Tag::new("script").attr("path", script));
            }
            if let Some(dev) = &i.target_dev {
                w.empty(Tag::new("target").attr("dev", dev));
            }
            if let Some(dev) = &i.guest_dev {
                w.empty(Tag::new("guest").attr("dev", dev));
            }
            if let Some(model) = &i.model {
                w.empty(Tag::new("model").attr("type", model));
            }
            write_address(w, &i.address);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Device;
    use crate::devices::tests::roundtrip;

    #[test]
    fn interface_kinds() {
        let Device::Interface(i) = roundtrip(
            "<interface type='mcast'><mac address='52:54:00:AA:bb:cc'/><source address='230.0.0.1' port='5558'/></interface>",
        ) else {
            panic!()
        };
        assert_eq!(i.mac.unwrap().to_string(), "52:54:00:aa:bb:cc");
        assert_eq!(
            i.source,
            InterfaceSource::Mcast {
                address: "230.0.0.1".into(),
                port: 5558
            }
        );
        roundtrip("<interface type='server'><source port='5558'/></interface>");
        roundtrip(
            "<interface type='client'><source address='192.168.0.1' port='5558'/></interface>",
        );
        roundtrip(
            "<interface type='network'><source network='default'/><model type='virtio'/></interface>",
        );
        roundtrip(
            "<interface type='ethernet'><ip address='10.0.0.2'/><script path='/etc/qemu-ifup'/><target dev='tap0'/></interface>",
        );
        assert!(Device::parse("<interface type='bridge'/>").is_err());
        assert!(
            Device::parse("<interface type='user'><mac address='zz:00:00:00:00:00'/></interface>")
                .is_err()
        );
        assert!(Device::parse("<interface type='wifi'/>").is_err());
    }
}
