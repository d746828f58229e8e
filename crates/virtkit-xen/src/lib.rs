//! Xen's formats, without I/O: xend's S-expressions ([`Sexpr`], [`SexprWriter`]).
//!
//! This crate is pure: it reads and writes text and never touches a file, a socket or a
//! process, so the xend driver, its peer server, the CLI's conversions and the fuzz targets
//! share one implementation.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod sexpr;
mod sxpr;

pub use error::{Error, Result};
pub use sexpr::{MAX_DEPTH, Sexpr, SexprWriter};
pub use sxpr::{
    LiveInfo, MAX_CONFIG_VERSION, device_to_sexpr, domain_to_sexpr, domain_to_sexpr_with_networks,
    domain_xml_to_sexpr, format_chardev, parse_chardev, sexpr_to_domain, sexpr_to_domain_xml,
};
