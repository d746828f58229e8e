//! Which domain types (`<domain type=...>`) a connection accepts.
//!
//! A driver declares the domain types it runs where libvirt drivers do: in its capabilities XML,
//! one `<guest><arch><domain type='...'/>` per type. The core reads the capabilities of every
//! member of the connection once, on the first definition whose type is not libvirt's, and then
//! accepts:
//!
//! * a type some member declares (so a driver for a new hypervisor brings its own type, e.g.
//!   `toyhv`, without any change to the XML model), and
//! * libvirt's own types ([`virtkit_xml::DOMAIN_TYPES`]): those stay the driver's decision, as
//!   in libvirt, where the XML parser knows the fixed list and each driver checks its own
//!   capabilities (the qemu driver, for one, explains why `kvm` is not usable here).
//!
//! Any other type is refused before a driver sees the document, with the list of what the
//! connection accepts. A document that does not parse, or has no `type`, is left to the driver,
//! whose XML error names the position.

use virtkit_abi::Op;
use virtkit_xml::{Capabilities, DOMAIN_TYPES};

use crate::error::{Error, Result};

/// The types the members of a connection declare in their capabilities, in order of first
/// appearance. A member without capabilities, or whose capabilities fail or do not parse,
/// declares nothing.
pub(crate) fn declared_types(caps: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for xml in caps.into_iter().flatten() {
        let Ok(caps) = Capabilities::parse(&xml) else {
            continue;
        };
        for g in &caps.guests {
            for d in &g.arch.domains {
                if !out.contains(&d.domain_type) {
                    out.push(d.domain_type.clone());
                }
            }
        }
    }
    out
}

/// The `type` of a `<domain>` document, when its root element is `domain` and has one.
fn document_type(xml: &str) -> Option<String> {
    // Only the root's start tag is read: the driver parses the whole document anyway, and a
    // second full parse here doubled the cost of a define.
    virtkit_xml::root_attribute(xml, "domain", "type").map(|t| t.trim().to_string())
}

/// Refuses a domain document whose type neither a member declares nor libvirt knows.
/// `declared` is only called for a type that is not libvirt's, so a connection whose documents
/// all have libvirt's types never reads its drivers' capabilities for this.
pub(crate) fn check<'a>(xml: &str, declared: impl FnOnce() -> &'a [String], op: Op) -> Result<()> {
    let Some(ty) = document_type(xml) else {
        return Ok(());
    };
    if DOMAIN_TYPES.contains(&ty.as_str()) {
        return Ok(());
    }
    let declared = declared();
    if declared.contains(&ty) {
        return Ok(());
    }
    let declared = if declared.is_empty() {
        "none (no driver of this connection lists a domain type in its capabilities)".to_string()
    } else {
        declared.join(", ")
    };
    Err(Error::invalid_arg(format!(
        "{}: unknown domain type '{ty}': the drivers of this connection declare {declared}; \
         libvirt's own types ({}) are left to the driver",
        op.info().api,
        DOMAIN_TYPES.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: &str = "<capabilities><host><cpu><arch>x86_64</arch></cpu></host>\
        <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='toyhv'/></arch></guest>\
        </capabilities>";

    fn dom(ty: &str) -> String {
        format!(
            "<domain type='{ty}'><name>a</name><memory>1024</memory><os><type>hvm</type></os></domain>"
        )
    }

    #[test]
    fn declared_types_come_from_every_members_capabilities() {
        let other = CAPS.replace("toyhv", "other");
        let t = declared_types([Some(CAPS.into()), None, Some("<junk".into()), Some(other)]);
        assert_eq!(t, ["toyhv", "other"]);
    }

    #[test]
    fn a_declared_type_and_libvirts_types_pass_others_are_refused_with_the_list() {
        let declared = declared_types([Some(CAPS.into())]);
        check(&dom("toyhv"), || &declared, Op::DomainDefineXml).unwrap();
        // libvirt's types pass without the capabilities being read.
        check(&dom("kvm"), || unreachable!(), Op::DomainDefineXml).unwrap();
        let e = check(&dom("toyhv2"), || &declared, Op::DomainDefineXml).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidArg);
        assert!(e.message.contains("unknown domain type 'toyhv2'"), "{e}");
        assert!(e.message.contains("declare toyhv;"), "{e}");
        assert!(e.message.contains("virDomainDefineXML"), "{e}");
        let e = check(&dom("toyhv"), || &[], Op::DomainCreateXml).unwrap_err();
        assert!(e.message.contains("declare none"), "{e}");
    }

    #[test]
    fn documents_the_driver_must_judge_are_passed_on() {
        for xml in [
            "<domain",
            "<network type='x'/>",
            "<domain><name>a</name></domain>",
        ] {
            check(xml, || unreachable!(), Op::DomainDefineXml).unwrap();
        }
    }
}
