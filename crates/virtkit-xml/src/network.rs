//! `<network>`: a virtual network definition.

use std::net::{IpAddr, Ipv4Addr};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::options::FormatOptions;
use crate::tree::{Element, expect_root, once, parse_document};
use crate::values::{
    MacAddr, check_name, keyword_attr, keyword_enum, mac_attr, on_off, parse_on_off, parse_u32,
    uuid_element,
};
use crate::writer::{Tag, Writer};

keyword_enum! {
    /// How a network reaches the outside (`<forward mode>`).
    pub enum ForwardMode {
        /// Masquerade (the default when `<forward>` has no mode).
        Nat = "nat",
        /// Route without NAT.
        Route = "route",
        /// Open routing without firewall rules.
        Open = "open",
        /// Use an existing host bridge.
        Bridge = "bridge",
        /// macvtap private mode.
        Private = "private",
        /// macvtap VEPA mode.
        Vepa = "vepa",
        /// macvtap passthrough mode.
        Passthrough = "passthrough",
    }
}

/// `<forward>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkForward {
    /// The mode.
    pub mode: ForwardMode,
    /// `dev`: restrict forwarding to this host device.
    pub dev: Option<String>,
}

/// A DHCP address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpRange {
    /// First address.
    pub start: IpAddr,
    /// Last address.
    pub end: IpAddr,
}

/// A static DHCP lease (`<host mac name ip>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpHost {
    /// Client MAC.
    pub mac: Option<MacAddr>,
    /// Client host name.
    pub name: Option<String>,
    /// Address handed out.
    pub ip: IpAddr,
}

/// `<ip>`: an address of the network's bridge, with optional DHCP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkIp {
    /// The bridge's address.
    pub address: IpAddr,
    /// `netmask` (IPv4).
    pub netmask: Option<Ipv4Addr>,
    /// `prefix` length.
    pub prefix: Option<u32>,
    /// `<dhcp>` ranges.
    pub dhcp_ranges: Vec<DhcpRange>,
    /// `<dhcp>` static hosts.
    pub dhcp_hosts: Vec<DhcpHost>,
}

/// A virtual network (`<network>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDef {
    /// `<name>`: not empty, no `/`.
    pub name: String,
    /// `<uuid>`; generated when absent.
    pub uuid: Uuid,
    /// `<bridge name>`: the host bridge device.
    pub bridge: Option<String>,
    /// `<bridge stp>`; on unless `stp='off'`.
    pub stp: bool,
    /// `<bridge delay>`: forward delay in seconds.
    pub delay: u32,
    /// `<forward>`; `None` for an isolated network.
    pub forward: Option<NetworkForward>,
    /// `<mac address>` of the bridge.
    pub mac: Option<MacAddr>,
    /// `<domain name>`: the DNS domain for DHCP clients.
    pub domain_name: Option<String>,
    /// `<ip>` blocks.
    pub ips: Vec<NetworkIp>,
}

impl NetworkDef {
    /// A minimal isolated network with a random UUID.
    pub fn new(name: &str) -> Self {
        NetworkDef {
            name: name.to_owned(),
            uuid: Uuid::new_v4(),
            bridge: None,
            stp: true,
            delay: 0,
            forward: None,
            mac: None,
            domain_name: None,
            ips: Vec::new(),
        }
    }

    /// Parses and validates a `<network>` document.
    pub fn parse(xml: &str) -> Result<NetworkDef> {
        Ok(parse_network(&parse_document(xml)?)?.0)
    }

    /// Writes the network as XML.
    pub fn to_xml(&self, opts: &FormatOptions) -> String {
        let mut w = Writer::new();
        write_network(&mut w, self, opts);
        w.finish()
    }
}

impl std::str::FromStr for NetworkDef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        NetworkDef::parse(s)
    }
}

/// Whether `n` can name a host network device: what the kernel accepts (1 to 15 bytes, not `.`
/// or `..`, no `/`, `:` or white space), without `,`, which lists devices in the DHCP server's
/// options.
fn is_interface_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n
            .chars()
            .any(|c| c == '/' || c == ':' || c == ',' || c.is_whitespace() || c.is_control())
}

fn ip_attr(el: &Element, name: &str) -> Result<IpAddr> {
    let v = el.required_attr(name)?;
    v.trim()
        .parse()
        .map_err(|_| el.bad_attr(name, v, "an IPv4 or IPv6 address"))
}

/// Parses a `<network>` element; the flag says whether it had a `<uuid>`.
pub(crate) fn parse_network(el: &Element) -> Result<(NetworkDef, bool)> {
    expect_root(el, "network")?;
    el.expect_no_text()?;
    const NAMES: &[&str] = &["name", "uuid", "bridge", "forward", "mac", "domain", "ip"];
    let mut slots: [Option<&Element>; 6] = [None; 6];
    let mut ip_els = Vec::new();
    for child in &el.children {
        match NAMES.iter().position(|n| *n == child.name) {
            Some(6) => ip_els.push(child),
            Some(i) => once(&mut slots[i], child, el)?,
            None => return Err(el.unexpected(child, NAMES)),
        }
    }
    let name_el = slots[0].ok_or_else(|| el.missing("name"))?;
    let name = name_el.trimmed_text()?.to_owned();
    check_name(name_el, &name)?;
    let uuid = slots[1].map(uuid_element).transpose()?;
    let (bridge, stp, delay) = match slots[2] {
        Some(b) => {
            b.expect_empty()?;
            if let Some(n) = b.nonempty_attr("name")
                && !is_interface_name(n)
            {
                return Err(b.bad_attr(
                    "name",
                    n,
                    "a network interface name: 1 to 15 bytes, not '.' or '..', without '/', ':', ',' or spaces",
                ));
            }
            (
                b.nonempty_attr("name").map(str::to_owned),
                b.parsed_attr("stp", "on or off", parse_on_off)?
                    .unwrap_or(true),
                b.parsed_attr("delay", "a non-negative integer", parse_u32)?
                    .unwrap_or(0),
            )
        }
        None => (None, true, 0),
    };
    let forward = match slots[3] {
        Some(f) => {
            f.expect_no_text()?;
            let mut dev = f.nonempty_attr("dev").map(str::to_owned);
            // libvirt 9.0 repeats `dev` as an <interface dev> child; one such device is supported.
            for child in &f.children {
                if child.name != "interface" {
                    return Err(f.unexpected(child, &["interface"]));
                }
                child.expect_empty()?;
                let d = child.required_nonempty_attr("dev")?;
                match &dev {
                    None => dev = Some(d.to_owned()),
                    Some(existing) if existing == d => {}
                    Some(existing) => {
                        return Err(child.error(format!(
                            "<interface dev='{d}'> differs from the forward device '{existing}'; only one is supported"
                        )));
                    }
                }
            }
            Some(NetworkForward {
                mode: keyword_attr(f, "mode", ForwardMode::NAMES, ForwardMode::from_name)?
                    .unwrap_or(ForwardMode::Nat),
                dev,
            })
        }
        None => None,
    };
    let mac = match slots[4] {
        Some(m) => {
            m.expect_empty()?;
            Some(mac_attr(m, "address")?)
        }
        None => None,
    };
    let domain_name = match slots[5] {
        Some(d) => {
            d.expect_empty()?;
            Some(d.required_nonempty_attr("name")?.to_owned())
        }
        None => None,
    };
    let ips = ip_els
        .into_iter()
        .map(parse_ip)
        .collect::<Result<Vec<_>>>()?;
    let def = NetworkDef {
        name,
        uuid: uuid.unwrap_or_else(Uuid::new_v4),
        bridge,
        stp,
        delay,
        forward,
        mac,
        domain_name,
        ips,
    };
    Ok((def, uuid.is_some()))
}

fn parse_ip(el: &Element) -> Result<NetworkIp> {
    el.expect_no_text()?;
    let address = ip_attr(el, "address")?;
    let netmask = match el.attr("netmask") {
        Some(v) => Some(
            v.trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| el.bad_attr("netmask", v, "an IPv4 netmask"))?,
        ),
        None => None,
    };
    let max_prefix = if address.is_ipv4() { 32 } else { 128 };
    let prefix = el.parsed_attr("prefix", "a prefix length", |s| {
        parse_u32(s).filter(|&p| p <= max_prefix)
    })?;
    match (el.attr("family"), address) {
        (None, _) | (Some("ipv4"), IpAddr::V4(_)) | (Some("ipv6"), IpAddr::V6(_)) => {}
        (Some(f), _) => return Err(el.bad_attr("family", f, &format!("the family of {address}"))),
    }
    if let (IpAddr::V6(_), Some(_)) = (address, netmask) {
        return Err(el.error("A netmask applies to IPv4 only; use prefix for IPv6"));
    }
    let mut dhcp_el = None;
    for child in &el.children {
        match child.name.as_str() {
            "dhcp" => once(&mut dhcp_el, child, el)?,
            _ => return Err(el.unexpected(child, &["dhcp"])),
        }
    }
    let mut ip = NetworkIp {
        address,
        netmask,
        prefix,
        dhcp_ranges: Vec::new(),
        dhcp_hosts: Vec::new(),
    };
    if let Some(d) = dhcp_el {
        d.expect_no_text()?;
        for child in &d.children {
            child.expect_empty()?;
            match child.name.as_str() {
                "range" => {
                    let start = ip_attr(child, "start")?;
                    let end = ip_attr(child, "end")?;
                    if start.is_ipv4() != end.is_ipv4() || start > end {
                        return Err(child.error(format!("Invalid DHCP range {start} - {end}")));
                    }
                    ip.dhcp_ranges.push(DhcpRange { start, end });
                }
                "host" => {
                    let mac = if child.attr("mac").is_some() {
                        Some(mac_attr(child, "mac")?)
                    } else {
                        None
                    };
                    let name = child.nonempty_attr("name").map(str::to_owned);
                    // A host name, as libvirt requires (a letter first), of the characters host
                    // names have: it is handed to the DHCP server in its comma-separated syntax.
                    if let Some(n) = &name
                        && !(n.starts_with(|c: char| c.is_ascii_alphabetic())
                            && n.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                    {
                        return Err(child.bad_attr(
                            "name",
                            n,
                            "a host name: a letter, then letters, digits, '-' and '.'",
                        ));
                    }
                    if mac.is_none() && name.is_none() {
                        return Err(child.error("A DHCP <host> needs 'mac' or 'name'"));
                    }
                    ip.dhcp_hosts.push(DhcpHost {
                        mac,
                        name,
                        ip: ip_attr(child, "ip")?,
                    });
                }
                _ => return Err(d.unexpected(child, &["range", "host"])),
            }
        }
    }
    Ok(ip)
}

pub(crate) fn write_network(w: &mut Writer, n: &NetworkDef, opts: &FormatOptions) {
    w.open_close(Tag::new("network"), |w| {
        w.text(Tag::new("name"), &n.name);
        w.text(Tag::new("uuid"), &n.uuid.hyphenated().to_string());
        if let Some(f) = &n.forward {
            w.element(
                Tag::new("forward")
                    .opt("dev", f.dev.as_deref())
                    .attr("mode", f.mode),
                |w| {
                    if let (Some(dev), false) = (&f.dev, opts.legacy_style()) {
                        w.empty(Tag::new("interface").attr("dev", dev));
                    }
                },
            );
        }
        w.empty(
            Tag::new("bridge")
                .opt("name", n.bridge.as_deref())
                .attr("stp", on_off(n.stp))
                .attr("delay", n.delay),
        );
        if let Some(mac) = &n.mac {
            w.empty(Tag::new("mac").attr("address", mac));
        }
        if let Some(d) = &n.domain_name {
            w.empty(Tag::new("domain").attr("name", d));
        }
        for ip in &n.ips {
            // libvirt 9.0 insists on family='ipv6' for IPv6 and leaves IPv4 implicit.
            let family = (ip.address.is_ipv6() && !opts.legacy_style()).then_some("ipv6");
            let tag = Tag::new("ip")
                .opt("family", family)
                .attr("address", ip.address)
                .opt("netmask", ip.netmask)
                .opt("prefix", ip.prefix);
            // Both libvirt releases close <ip> on its own line even when it is empty.
            w.open_close(tag, |w| {
                if !ip.dhcp_ranges.is_empty() || !ip.dhcp_hosts.is_empty() {
                    w.open_close(Tag::new("dhcp"), |w| {
                        for r in &ip.dhcp_ranges {
                            w.empty(Tag::new("range").attr("start", r.start).attr("end", r.end));
                        }
                        for h in &ip.dhcp_hosts {
                            w.empty(
                                Tag::new("host")
                                    .opt("mac", h.mac)
                                    .opt("name", h.name.as_deref())
                                    .attr("ip", h.ip),
                            );
                        }
                    });
                }
            });
        }
    });
}

/// Parses a network and also reports whether it had a `<uuid>`.
pub(crate) fn parse_network_str(xml: &str) -> Result<(NetworkDef, bool)> {
    parse_network(&parse_document(xml)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let n = NetworkDef::parse(
            "<network><name>default</name><uuid>004b96e12d78c30f5aa5f03c87d21e69</uuid>\
             <bridge name='virbr0'/><forward dev='eth0'/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.122.2' end='192.168.122.254'/>\
             <host mac='00:16:3e:77:e2:ed' name='foo' ip='192.168.122.10'/></dhcp></ip></network>",
        )
        .unwrap();
        assert_eq!(n.bridge.as_deref(), Some("virbr0"));
        assert!(n.stp);
        assert_eq!(n.forward.as_ref().unwrap().mode, ForwardMode::Nat);
        let xml = n.to_xml(&FormatOptions::legacy());
        assert_eq!(
            xml,
            "<network>\n  <name>default</name>\n  <uuid>004b96e1-2d78-c30f-5aa5-f03c87d21e69</uuid>\n  \
             <forward dev='eth0' mode='nat'/>\n  <bridge name='virbr0' stp='on' delay='0'/>\n  \
             <ip address='192.168.122.1' netmask='255.255.255.0'>\n    <dhcp>\n      \
             <range start='192.168.122.2' end='192.168.122.254'/>\n      \
             <host mac='00:16:3e:77:e2:ed' name='foo' ip='192.168.122.10'/>\n    </dhcp>\n  </ip>\n</network>\n"
        );
        assert_eq!(NetworkDef::parse(&xml).unwrap(), n);
    }

    #[test]
    fn errors() {
        for (xml, want) in [
            ("<network/>", "Missing <name>"),
            (
                "<network><name>a</name><ip address='x'/></network>",
                "IPv4 or IPv6",
            ),
            (
                "<network><name>a</name><forward mode='teleport'/></network>",
                "attribute 'mode'",
            ),
            (
                "<network><name>a</name><ip address='10.0.0.1'><dhcp><range start='10.0.0.9' end='10.0.0.2'/></dhcp></ip></network>",
                "Invalid DHCP range",
            ),
            (
                "<network><name>a</name><bridge stp='maybe'/></network>",
                "on or off",
            ),
            (
                "<network><name>a</name><dns/></network>",
                "Unexpected element <dns>",
            ),
        ] {
            let err = NetworkDef::parse(xml).unwrap_err();
            assert!(err.to_string().contains(want), "{xml}: {err}");
        }
    }
}
