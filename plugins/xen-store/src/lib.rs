//! The `xen-store` member of the Xen stack: what the Xen store knows about running domains, read
//! over xenstored's unix socket (libvirt 0.4.6's `xs_internal.c`).
//!
//! * [`wire`]: the protocol's messages, without I/O (the fuzz target's subject).
//! * [`client`]: one connection to the daemon, each request with a deadline.
//! * [`domain`]: the store's layout as Xen 3.x/4.x keep it — `/local/domain/<id>/{name,vm,
//!   memory/target,cpu,console/tty,console/vnc-port,device/…}` and `/vm/<uuid>/…` — and the
//!   answers libvirt drew from it: active domains, lookup by id and by name, OS type, memory
//!   target, vcpus, console tty, VNC port, the device ids for attach/detach, shutdown and reboot
//!   requests (`control/shutdown`), the memory target.
//!
//! The member opens on `xen:///` when the daemon's socket answers (`XENSTORED_PATH`, else
//! `/run/xenstored/socket`, else `/var/run/xenstored/socket`; `socket_ro` beside it for
//! read-only connections); otherwise it declines with one line saying why and the stack carries on.
#![forbid(unsafe_code)]

pub mod client;
pub mod domain;
pub mod wire;

use std::sync::Mutex;
use std::time::Duration;

use virtkit_driver::{Driver, DriverInfo, Error, ErrorCode, Ops, Result, abi};
use virtkit_xen_stack::Member;

pub use client::{Client, ClientError};

/// This member of the Xen stack (its rank and name come from `virtkit-xen-stack`'s table).
pub const MEMBER: Member = Member::Store;

/// The xenstore driver.
pub struct StoreDriver;

/// A connection to the store.
pub struct StoreConn {
    client: Mutex<Client>,
    read_only: bool,
}

/// Whether the member serves `uri`: a local Xen URI (`xen:///`, `xen`, or xend's socket path as
/// libvirt took it), not an offline one (which needs no store) nor another host.
pub fn serves(uri: &str) -> bool {
    let uri = uri.trim();
    // The legacy bare name, and the legacy xend socket path: a local host, whose store libvirt's
    // unified driver opened beside xend.
    if uri == "xen" || uri.starts_with('/') {
        return true;
    }
    let Some(rest) = uri.strip_prefix("xen:") else {
        return false;
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let local = matches!(path, "" | "/" | "//" | "///");
    let offline = query.split('&').any(|p| p == "offline" || p == "offline=1");
    local && !offline
}

/// The request deadline: `VIRTKIT_XENSTORE_TIMEOUT_MS` or ten seconds.
fn timeout() -> Result<Duration> {
    match std::env::var(client::TIMEOUT_ENV) {
        Err(_) => Ok(client::DEFAULT_TIMEOUT),
        Ok(v) => match v.parse::<u64>() {
            Ok(ms) if (1..=600_000).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(Error::invalid_arg(format!(
                "{} must be 1 to 600000 milliseconds, not '{v}'",
                client::TIMEOUT_ENV
            ))),
        },
    }
}

impl StoreConn {
    /// Opens `uri`: declines what is not a local Xen URI, fails with one line when the store
    /// does not answer.
    pub fn open(uri: &str, read_only: bool) -> Result<Option<StoreConn>> {
        if !serves(uri) {
            return Ok(None);
        }
        let env = std::env::var(client::PATH_ENV).ok();
        let path = client::socket_path(env.as_deref(), read_only, |p| p.exists());
        StoreConn::open_at(&path, read_only, timeout()?).map(Some)
    }

    /// Connects to the store on `path`, checking that it answers.
    pub fn open_at(
        path: &std::path::Path,
        read_only: bool,
        timeout: Duration,
    ) -> Result<StoreConn> {
        let mut c = Client::connect(path, timeout).map_err(|e| {
            Error::new(
                ErrorCode::NoConnect,
                format!("xen-store does not serve this host: {e}"),
            )
        })?;
        c.get_domain_path(0).map_err(|e| {
            Error::new(
                ErrorCode::NoConnect,
                format!("xen-store does not serve this host: {e}"),
            )
        })?;
        Ok(StoreConn {
            client: Mutex::new(c),
            read_only,
        })
    }

    /// Runs `f` with the connection's client.
    pub fn with<T>(&self, f: impl FnOnce(&mut Client) -> client::Result<T>) -> Result<T> {
        let mut c = self
            .client
            .lock()
            .map_err(|_| Error::internal("xenstore connection poisoned"))?;
        f(&mut c).map_err(store_error)
    }

    /// Whether the connection is read-only.
    pub fn read_only(&self) -> bool {
        self.read_only
    }
}

/// A store failure as a driver error: refusals keep the store's errno name.
pub fn store_error(e: ClientError) -> Error {
    match e.errno() {
        Some("EACCES" | "EPERM" | "EROFS") => Error::new(ErrorCode::OperationDenied, e.to_string()),
        _ => Error::operation_failed(e.to_string()),
    }
}

impl Driver for StoreDriver {
    type Conn = StoreConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE | abi::VK_DRIVER_STACK_MEMBER,
        error_domain: abi::error_domain::XENSTORE,
        stack_rank: MEMBER.stack_rank(),
        op_ranks: MEMBER.op_ranks(),
        sandbox_uri: "",
        ..DriverInfo::new(MEMBER.driver_name(), env!("CARGO_PKG_VERSION"), &["xen"])
    };
    const OPS: Ops<StoreConn> = domain::OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<StoreConn>> {
        StoreConn::open(uri, read_only)
    }
}

virtkit_driver::driver_entry!(xen_store_driver_entry, StoreDriver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for u in [
            "xen",
            "xen:",
            "xen://",
            "xen:///",
            "xen:///?x=1",
            "/var/lib/xend/xend-socket",
        ] {
            assert!(serves(u), "{u}");
        }
        for u in [
            "qemu:///system",
            "xen://host/",
            "xen:///?offline=1",
            "http://host:8000/",
        ] {
            assert!(!serves(u), "{u}");
        }
    }
}
