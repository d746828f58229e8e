//! Where the driver meets `virtkit-xen`'s conversions (S-expression ↔ domain XML, capabilities),
//! and the one thing it reads from device XML itself: which device a detach names.

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xen::Sexpr;
use virtkit_xml::XmlDocument;

fn conv_error(e: virtkit_xen::Error) -> Error {
    Error::new(ErrorCode::ConfigUnsupported, e.to_string())
}

// WIP: bound to virtkit-xen's conversions once they land on main.
fn pending() -> Error {
    Error::no_support("S-expression conversions (virtkit-xen) are not merged yet")
}

/// A domain's XML from its xend S-expression.
pub fn sexpr_to_xml(_s: &Sexpr, _config_version: u32) -> Result<String> {
    Err(pending())
}

/// A domain XML's name and the S-expression xend takes for it (`op=create`/`op=new`).
pub fn xml_to_sexpr(_xml: &str, _config_version: u32) -> Result<(String, String)> {
    Err(pending())
}

/// One device's S-expression for `op=device_create`.
pub fn device_to_sexpr(_xml: &str, _hvm: bool, _config_version: u32) -> Result<String> {
    Err(pending())
}

/// The capabilities XML from xend's node description.
pub fn capabilities(_node: &Sexpr) -> Result<String> {
    let _ = conv_error;
    Err(pending())
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
