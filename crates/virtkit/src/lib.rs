//! The virtkit API: one stable interface to the domains and networks of one node, whatever
//! hypervisor runs them.
//!
//! [`Connect::open`] resolves a libvirt-style URI (`test:///default`, `qemu:///system`,
//! `xen:///`, ...) to the driver plugin(s) that serve its scheme, loads only those, and returns a
//! connection. Every call is validated here first (arguments, read-only access), then dispatched
//! to the driver. An operation the driver does not implement fails with
//! [`ErrorCode::NoSupport`], naming the operation and the driver.
//!
//! ```no_run
//! let conn = virtkit::Connect::open(Some("test:///default"))?;
//! for id in conn.list_domains()? {
//!     let dom = conn.lookup_domain_by_id(id)?;
//!     println!("{} {}", dom.id(), dom.name());
//! }
//! # Ok::<(), virtkit::Error>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod connect;
mod domain;
mod domain_types;
mod error;
mod matrix;
mod network;
mod uri;

pub use connect::{Connect, DEBUG_ENV, DriverSummary, SkippedMember, installed_drivers, set_debug};
pub use domain::{
    Domain, DomainInfo, DomainState, MAX_HOST_CPUS, MAX_MEMORY_KIB, MAX_VCPUS, NodeInfo, VcpuInfo,
    VcpuState, state_name,
};
pub use error::{Error, ErrorCode, Result};
pub use matrix::support_matrix;
pub use network::Network;
pub use uri::{ConnectUri, parse_uri};
pub use virtkit_abi::{OPS, Op, OpKind, error_domain, slots};
// libvirt's flag bits, declared once in the ABI.
pub use virtkit_abi::{
    VK_DOMAIN_AFFECT_CONFIG, VK_DOMAIN_AFFECT_CURRENT, VK_DOMAIN_AFFECT_LIVE,
    VK_DOMAIN_MEM_MAXIMUM, VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING,
    VK_DOMAIN_START_PAUSED, VK_DOMAIN_XML_INACTIVE, VK_DOMAIN_XML_SECURE, VK_DUMP_CRASH,
    VK_NETWORK_XML_INACTIVE,
};
pub use virtkit_loader::{Registry, StackMember, register_static_driver, stack_order};

/// virtkit's own version, encoded as libvirt encodes versions: `major * 1_000_000 + minor * 1_000 + micro`.
pub fn library_version() -> u64 {
    let v = |s: &str| s.parse::<u64>().unwrap_or(0);
    v(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + v(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + v(env!("CARGO_PKG_VERSION_PATCH"))
}
