//! The `xen-xend` member of the Xen stack: the Xen daemon's HTTP interface, which carries
//! S-expressions (libvirt 0.4.6's `xend_internal.c`).
//!
//! * Transport ([`http`]): one request per connection on xend's unix socket
//!   (`/var/lib/xend/xend-socket`) or over TCP (`http://host:8000/`), with a deadline for every
//!   request and a cap on every reply.
//! * Requests: `GET /xend/node/`, `GET /xend/domain?detail=1`, `GET /xend/domain?state=halted`,
//!   `GET /xend/domain/NAME?detail=1`, `GET /xend/domain/NAME?op=vcpuinfo`; `POST /xend/domain/`
//!   with `op=create|new|restore`; `POST /xend/domain/NAME` with `op=start|pause|unpause|
//!   shutdown|destroy|save|dump|delete|mem_target_set|maxmem_set|set_vcpus|pincpu|
//!   device_create|device_destroy|wait_for_devices`.
//! * Conversions between the S-expressions and domain XML are `virtkit-xen`'s; this crate only
//!   moves them.
//!
//! A read-only connection never sends a `POST` (the core refuses mutating calls first; the
//! client refuses them again). `xen:///?offline=1` opens the member with no daemon, for the
//! `xen-sxpr` conversions only.
#![forbid(unsafe_code)]

mod conv;
mod domain;
pub mod http;
mod ops;
pub mod uri;

use virtkit_driver::{Driver, DriverInfo, Ops, Result, abi};
use virtkit_xen_stack::Member;

pub use ops::XendConn;

/// This member of the Xen stack.
pub const MEMBER: Member = Member::Xend;

/// The xend driver.
pub struct XendDriver;

impl Driver for XendDriver {
    type Conn = XendConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE | abi::VK_DRIVER_STACK_MEMBER,
        error_domain: abi::error_domain::XEND,
        stack_rank: MEMBER.stack_rank(),
        op_ranks: MEMBER.op_ranks(),
        sandbox_uri: "",
        ..DriverInfo::new(MEMBER.driver_name(), env!("CARGO_PKG_VERSION"), &["xen"])
    };
    const OPS: Ops<XendConn> = ops::OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<XendConn>> {
        XendConn::open(uri, read_only)
    }
}

virtkit_driver::driver_entry!(xen_xend_driver_entry, XendDriver);
