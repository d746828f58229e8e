//! A container's network configuration: `NETIF` (veth devices, `;`-separated entries of
//! `ifname=..,mac=..,host_ifname=..,host_mac=..,bridge=..`) and `IP_ADDRESS` (venet addresses,
//! separated by blanks), turned into `<interface>` definitions and back.

use std::net::IpAddr;

use virtkit_xml::{InterfaceDef, InterfaceSource, MacAddr};

/// One veth device of `NETIF`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetIf {
    /// `ifname`: the device inside the container.
    pub ifname: Option<String>,
    /// `mac`: its MAC address.
    pub mac: Option<MacAddr>,
    /// `host_ifname`: the host side of the pair.
    pub host_ifname: Option<String>,
    /// `host_mac`.
    pub host_mac: Option<MacAddr>,
    /// `bridge`: the host bridge the host side joins.
    pub bridge: Option<String>,
}

/// Longest device name libvirt accepted from `NETIF` (its buffer was 16 bytes).
const MAX_DEV: usize = 16;

fn mac(value: &str) -> Result<MacAddr, String> {
    if value.len() != 17 {
        return Err(format!("wrong length MAC address '{value}' in NETIF"));
    }
    value
        .parse()
        .map_err(|_| format!("wrong MAC address '{value}' in NETIF"))
}

fn dev(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > MAX_DEV {
        return Err(format!("{what} '{value}' in NETIF is empty or too long"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b",;=".contains(&b))
    {
        return Err(format!(
            "{what} {value:?} in NETIF has characters a device name cannot have"
        ));
    }
    Ok(value.to_string())
}

/// Parses a `NETIF` value. Unknown `key=value` pairs (`mac_filter`, ...) are skipped.
pub fn parse_netif(value: &str) -> Result<Vec<NetIf>, String> {
    let mut out = Vec::new();
    for entry in value.split(';').filter(|e| !e.trim().is_empty()) {
        let mut n = NetIf::default();
        for pair in entry.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k.trim() {
                "ifname" => n.ifname = Some(dev(v, "device name")?),
                "host_ifname" => n.host_ifname = Some(dev(v, "host device name")?),
                "bridge" => n.bridge = Some(dev(v, "bridge name")?),
                "mac" => n.mac = Some(mac(v)?),
                "host_mac" => n.host_mac = Some(mac(v)?),
                _ => {}
            }
        }
        out.push(n);
    }
    Ok(out)
}

/// Writes `NETIF` entries as vzctl saves them.
pub fn format_netif(ifs: &[NetIf]) -> String {
    ifs.iter()
        .map(|n| {
            let mut parts = Vec::new();
            let mut add = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    parts.push(format!("{k}={v}"));
                }
            };
            add("ifname", n.ifname.clone());
            add("mac", n.mac.map(|m| m.to_string().to_uppercase()));
            add("host_ifname", n.host_ifname.clone());
            add("host_mac", n.host_mac.map(|m| m.to_string().to_uppercase()));
            add("bridge", n.bridge.clone());
            parts.join(",")
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The addresses of `IP_ADDRESS` (blank-separated; a `/prefix` that vzctl 4 allows is dropped).
pub fn parse_ip_addresses(value: &str) -> Result<Vec<IpAddr>, String> {
    value
        .split_whitespace()
        .map(|a| {
            let ip = a.split_once('/').map_or(a, |(ip, _)| ip);
            ip.parse()
                .map_err(|_| format!("'{a}' in IP_ADDRESS is not an IP address"))
        })
        .collect()
}

/// The interfaces of a container: one `ethernet` interface per venet address, then one per
/// veth device (`bridge` when it names a bridge, `ethernet` otherwise), as libvirt read them.
pub fn interfaces(
    ip_address: Option<&str>,
    netif: Option<&str>,
) -> Result<Vec<InterfaceDef>, String> {
    let mut out = Vec::new();
    for ip in parse_ip_addresses(ip_address.unwrap_or(""))? {
        out.push(InterfaceDef {
            source: InterfaceSource::Ethernet { dev: None },
            mac: None,
            ip: Some(ip),
            script: None,
            target_dev: None,
            guest_dev: None,
            model: None,
            address: None,
        });
    }
    for n in parse_netif(netif.unwrap_or(""))? {
        out.push(InterfaceDef {
            source: match n.bridge {
                Some(bridge) => InterfaceSource::Bridge { bridge },
                None => InterfaceSource::Ethernet { dev: None },
            },
            mac: n.mac,
            ip: None,
            script: None,
            target_dev: n.host_ifname,
            guest_dev: n.ifname,
            model: None,
            address: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VzConfig;
    use virtkit_xml::{DomainDef, FormatOptions};

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/openvz/openvzutilstest.conf"
    );

    /// The corpus file's network configuration as `<interface>` XML.
    #[test]
    fn corpus_interfaces() {
        let conf = VzConfig::parse(&std::fs::read_to_string(CORPUS).unwrap());
        let nics = interfaces(conf.get("IP_ADDRESS"), conf.get("NETIF")).unwrap();
        let mut def = DomainDef::new("openvz", "105", "exe");
        def.devices.interfaces = nics;
        let xml = def.to_xml(&FormatOptions::default());
        assert!(
            xml.contains(
                "    <interface type='ethernet'>\n      <ip address='194.44.18.88' family='ipv4'/>\n    </interface>\n    <interface type='ethernet'>\n      <mac address='00:18:51:c1:05:ee'/>\n      <target dev='veth105.10'/>\n      <guest dev='eth10'/>\n    </interface>\n"
            ),
            "{xml}"
        );
        assert_eq!(DomainDef::parse(&xml).unwrap(), def);
    }

    #[test]
    fn netif_round_trip() {
        let text = "ifname=eth0,mac=00:18:51:C1:05:EE,host_ifname=veth101.0,host_mac=00:18:51:8F:D9:F3,bridge=br0;ifname=eth1,mac=00:18:51:C1:05:EF,host_ifname=veth101.1,host_mac=00:18:51:8F:D9:F4";
        let ifs = parse_netif(text).unwrap();
        assert_eq!(ifs.len(), 2);
        assert_eq!(ifs[0].bridge.as_deref(), Some("br0"));
        assert_eq!(ifs[1].bridge, None);
        assert_eq!(format_netif(&ifs), text);
        let nics = interfaces(None, Some(text)).unwrap();
        assert_eq!(
            nics[0].source,
            InterfaceSource::Bridge {
                bridge: "br0".into()
            }
        );
    }

    #[test]
    fn bad_network_values_are_errors() {
        assert!(parse_netif("mac=00:18:51").unwrap_err().contains("length"));
        assert!(
            parse_netif("mac=zz:18:51:C1:05:EE")
                .unwrap_err()
                .contains("wrong MAC")
        );
        assert!(parse_netif("host_ifname=a-very-long-device-name").is_err());
        assert!(parse_netif("bridge=br\u{1c}0").is_err());
        assert!(parse_ip_addresses("10.0.0.1 nonsense").is_err());
        assert_eq!(
            parse_ip_addresses(" 10.0.0.1  10.0.0.2/24 ").unwrap().len(),
            2
        );
    }
}
