//! Xen's formats, without a hypervisor: what the Xen stack's members (xen-xend, xen-store,
//! xen-hypercall, xen-xm), the xend peer server and the CLI's `xen-sxpr` conversions share.
//!
//! - [`Sexpr`]: xend's S-expressions — a strict parser with positioned errors (and a lenient one
//!   for libvirt's hand-written files), path lookups as libvirt's `sexpr_node`, and writers.
//! - [`sexpr_to_domain`] / [`domain_to_sexpr`] (and the text-to-text [`sexpr_to_domain_xml`] /
//!   [`domain_xml_to_sexpr`]): xend domain descriptions ↔ domain XML, per xend config version,
//!   through `virtkit-xml`'s `DomainDef`.
//! - [`xen_capabilities`]: the capabilities document of a Xen host from the hypervisor's
//!   capability string and `/proc/cpuinfo`.
//!
//! Everything here works on text; the one function that reads files,
//! [`xen_capabilities_from_files`], goes through `virtkit-hostio` (regular files only, capped).
//! docs/xen.md describes the formats.
//!
//! ```
//! use virtkit_xml::FormatOptions;
//!
//! let sexpr = "(domain (domid 6)(name 'pvtest')(memory 420)(maxmem 420)(vcpus 2)\
//!              (uuid '596a5d2171f48fb2e068e2386a5c413e')\
//!              (image (linux (kernel '/boot/vmlinuz')))\
//!              (device (vbd (dev 'xvda')(uname 'file:/root/some.img')(mode 'w'))))";
//! let xml = virtkit_xen::sexpr_to_domain_xml(sexpr, 2, &FormatOptions::legacy())?;
//! assert!(xml.contains("<target dev='xvda' bus='xen'/>"));
//! let back = virtkit_xen::domain_xml_to_sexpr(&xml, 2)?;
//! assert!(back.starts_with("(vm (name 'pvtest')(memory 420)(maxmem 420)(vcpus 2)"));
//! # Ok::<(), virtkit_xen::Error>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod caps;
mod error;
mod sexpr;
mod sxpr;
mod xm;

pub use caps::{
    CPUINFO_PATH, HYPERVISOR_CAPS_PATH, XenVersion, xen_capabilities, xen_capabilities_from_files,
};
pub use error::{Error, Result};
pub use sexpr::{MAX_DEPTH, Sexpr, SexprWriter};
pub use sxpr::{
    LiveInfo, MAX_CONFIG_VERSION, device_to_sexpr, domain_to_sexpr, domain_to_sexpr_with_networks,
    domain_xml_to_sexpr, format_chardev, parse_chardev, sexpr_to_domain, sexpr_to_domain_xml,
};
pub use xm::{
    XM_DEFAULT_MEMORY_MIB, XmGuestArch, domain_to_xm, domain_xml_to_xm, xm_to_domain,
    xm_to_domain_xml,
};
