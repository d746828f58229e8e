//! Where the driver meets `virtkit-xen`'s conversions (S-expression ↔ domain XML, capabilities),
//! and the one thing it reads from device XML itself: which device a detach names.

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xen::{LiveInfo, Sexpr, XenVersion};
use virtkit_xml::{Capabilities, Device, DomainDef, FormatOptions, XmlDocument};

/// A conversion error: the XML model's errors are XML errors, the rest unsupported
/// configurations.
fn conv_error(e: virtkit_xen::Error) -> Error {
    match e {
        virtkit_xen::Error::Xml(x) => Error::xml(x.to_string()),
        other => Error::new(
            ErrorCode::ConfigUnsupported,
            format!("unsupported configuration: {other}"),
        ),
    }
}

/// A domain's XML from its xend S-expression (the run-time id included when it runs).
pub fn sexpr_to_xml(s: &Sexpr, config_version: u32) -> Result<String> {
    let def = virtkit_xen::sexpr_to_domain(s, config_version, &LiveInfo::default())
        .map_err(conv_error)?;
    Ok(def.to_xml(&FormatOptions::default()))
}

/// The domain XML of a native `xen-sxpr` text, as `domxml-from-native` gives it.
pub fn native_to_xml(text: &str, config_version: u32) -> Result<String> {
    virtkit_xen::sexpr_to_domain_xml(text, config_version, &FormatOptions::default())
        .map_err(conv_error)
}

/// A domain XML's name and the S-expression xend takes for it (`op=create`/`op=new`).
pub fn xml_to_sexpr(xml: &str, config_version: u32) -> Result<(String, String)> {
    let def = parse_domain(xml)?;
    let sexpr = def_to_sexpr(&def, config_version)?;
    Ok((def.name.clone(), sexpr))
}

/// Parses a domain XML.
pub fn parse_domain(xml: &str) -> Result<DomainDef> {
    DomainDef::parse(xml).map_err(|e| Error::xml(e.to_string()))
}

/// The S-expression xend takes for a definition.
pub fn def_to_sexpr(def: &DomainDef, config_version: u32) -> Result<String> {
    virtkit_xen::domain_to_sexpr(def, config_version).map_err(conv_error)
}

/// The firmware an HVM guest of `arch` gets when its definition names none: the `<loader>` the
/// host's capabilities give for it (libvirt's define-time default from the capabilities).
pub fn default_loader(node: &Sexpr, arch: Option<&str>) -> Option<String> {
    let caps = capabilities_doc(node);
    let hvm = caps.guests.iter().filter(|g| g.os_type == "hvm");
    let mut matching = hvm
        .clone()
        .filter(|g| arch.is_none_or(|a| g.arch.name == a));
    matching
        .next()
        .or_else(|| arch.is_none().then(|| hvm.clone().next()).flatten())
        .and_then(|g| g.arch.loader.clone())
}

/// One device's S-expression for `op=device_create`.
pub fn device_to_sexpr(xml: &str, hvm: bool, config_version: u32) -> Result<String> {
    let dev = Device::parse(xml).map_err(|e| Error::xml(e.to_string()))?;
    virtkit_xen::device_to_sexpr(&dev, hvm, config_version).map_err(conv_error)
}

/// The capabilities XML from xend's node description: its `machine`, `xen_caps` and version, and
/// the CPU flags its `hw_caps` words say (Xen's feature words: 0 is CPUID 1 EDX, 4 is CPUID 1
/// ECX, 6 is CPUID 0x80000001 ECX), built by `virtkit-xen` as for a local host.
pub fn capabilities(node: &Sexpr) -> Result<String> {
    Ok(capabilities_doc(node).to_xml())
}

fn capabilities_doc(node: &Sexpr) -> Capabilities {
    let machine = node.node("node/machine").unwrap_or("");
    let caps = node.node("node/xen_caps").unwrap_or("");
    let words: Vec<u32> = node
        .node("node/hw_caps")
        .unwrap_or("")
        .split(':')
        .map(|w| u32::from_str_radix(w.trim(), 16).unwrap_or(0))
        .collect();
    let bit = |word: usize, bit: u32| words.get(word).is_some_and(|w| w & (1 << bit) != 0);
    let mut flags = Vec::new();
    if bit(0, 6) {
        flags.push("pae");
    }
    if bit(4, 5) {
        flags.push("vmx");
    }
    if bit(6, 2) {
        flags.push("svm");
    }
    let cpuinfo = format!("processor\t: 0\nflags\t\t: {}\n", flags.join(" "));
    let version = match (
        node.node_u64("node/xen_major").ok().flatten(),
        node.node_u64("node/xen_minor").ok().flatten(),
    ) {
        (Some(major), Some(minor)) => Some(XenVersion {
            major: u32::try_from(major).unwrap_or(u32::MAX),
            minor: u32::try_from(minor).unwrap_or(u32::MAX),
        }),
        _ => None,
    };
    virtkit_xen::xen_capabilities(machine, caps, &cpuinfo, version)
}

/// The device class and id `op=device_destroy` takes for a device XML: a disk by its target
/// (`vbd`, or `tap` for blktap disks), an interface by its MAC address (`vif`).
pub fn device_id(xml: &str) -> Result<(&'static str, String)> {
    let doc = XmlDocument::parse(xml).map_err(|e| Error::xml(e.to_string()))?;
    let root = doc.root();
    match root.name() {
        "disk" => {
            let dev = root.child_attr("target", &["dev"]).ok_or_else(|| {
                Error::new(
                    ErrorCode::NoTarget,
                    "missing target device: the disk has no <target dev=…>",
                )
            })?;
            let class = if root.child_attr("driver", &["name"]) == Some("tap") {
                "tap"
            } else {
                "vbd"
            };
            Ok((class, dev.to_string()))
        }
        "interface" => {
            let mac = root.child_attr("mac", &["address"]).ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidMac,
                    "xend detaches an interface by its MAC address: the interface has no <mac address=…>",
                )
            })?;
            Ok(("vif", mac.to_ascii_lowercase()))
        }
        other => Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!("xend cannot detach a <{other}> device (only disks and interfaces)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids() {
        assert_eq!(
            device_id("<disk type='file'><source file='/x'/><target dev='xvdb'/></disk>").unwrap(),
            ("vbd", "xvdb".into())
        );
        assert_eq!(
            device_id(
                "<disk type='file'><driver name='tap' type='aio'/><target dev='xvdc'/></disk>"
            )
            .unwrap(),
            ("tap", "xvdc".into())
        );
        assert_eq!(
            device_id("<interface type='bridge'><mac address='00:16:3E:00:00:01'/></interface>")
                .unwrap(),
            ("vif", "00:16:3e:00:00:01".into())
        );
        assert!(device_id("<disk type='file'/>").is_err());
        assert!(device_id("<interface type='bridge'/>").is_err());
        assert!(device_id("<sound model='es1370'/>").is_err());
        assert!(device_id("<disk").is_err());
    }
}
