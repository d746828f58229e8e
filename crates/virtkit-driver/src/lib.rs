//! The SDK for writing virtkit drivers in Rust.
//!
//! A driver implements [`Driver`]: an `open` that returns its connection state (or declines the
//! URI), and a constant [`Ops`] table of safe functions, one optional field per operation. The
//! SDK builds the C table from it: each `Some` field becomes an `extern "C"` shim, each `None`
//! a NULL slot, and the capability bits are computed from the slots, so the two can never
//! disagree. Every shim runs the driver's function inside `catch_unwind`; a panic becomes an
//! internal error carrying the panic message, and never crosses the boundary.
//!
//! ```text
//! struct Toy;
//! impl virtkit_driver::Driver for Toy {
//!     type Conn = ToyConn;
//!     const INFO: DriverInfo = DriverInfo::new("toy", "0.1.0", &["toy"]);
//!     const OPS: Ops<ToyConn> = Ops { get_type: Some(|_| Ok("TOY".into())), ..Ops::NONE };
//!     fn open(uri: &str, _read_only: bool) -> Result<Option<ToyConn>> { ... }
//! }
//! virtkit_driver::export_plugin!(Toy);   // in the cdylib crate: exports virtkit_driver_entry
//! ```
#![deny(missing_docs)]

// The shims contain a driver's panics with `catch_unwind`; under `panic = "abort"` there is
// nothing to catch, and the first panic in a driver would take the whole host process down.
#[cfg(panic = "abort")]
compile_error!(
    "virtkit drivers must be built with panic = \"unwind\": the SDK turns a driver's panic into \
     an error, which panic = \"abort\" makes impossible (the host process would die). Remove \
     `panic = \"abort\"` from the [profile.*] sections of your Cargo.toml (or set \
     panic = \"unwind\")."
);

pub mod cpuinfo;
mod flags;
pub mod host;
#[rustfmt::skip]
mod ops;
mod shims;
mod taint;
mod target;
mod types;

pub use ops::Ops;
pub use shims::build_table;
pub use taint::{Taint, Taints};
pub use target::{TARGET_ABI_MINOR, check_target, newest_minor};
pub use types::{
    DomainIdent, DomainInfo, DomainRef, DriverInfo, Error, NetworkIdent, NetworkRef, NodeInfo,
    Result, VcpuInfo,
};
pub use uuid::Uuid;
pub use virtkit_abi as abi;
/// A connection URI split into scheme, transport, user, host, port, path and query parameters:
/// `let uri = Uri::parse(uri)?;` in [`Driver::open`]. The host parses URIs for C drivers with the
/// same code.
pub use virtkit_abi::ConnUri as Uri;
pub use virtkit_abi::{
    Op, VkDomainState as DomainState, VkErrorCode as ErrorCode, VkVcpuState as VcpuState,
};
// libvirt's flag bits for the `flags` arguments (declared once in the ABI) and the rules for them.
pub use flags::*;

/// The interface a driver implements.
pub trait Driver: 'static {
    /// Per-connection state. Dropped when the connection closes.
    type Conn: Send + Sync + 'static;
    /// Static facts: name, version, schemes, flags.
    const INFO: DriverInfo;
    /// The operations the driver implements; `None` fields become NULL slots.
    const OPS: Ops<Self::Conn>;
    /// Opens a connection for `uri` (the full normalised URI), or returns `Ok(None)` when the
    /// driver does not serve it.
    fn open(uri: &str, read_only: bool) -> Result<Option<Self::Conn>>;
}

/// Returns the driver's table, built once per process and never freed.
pub fn table<D: Driver>() -> *const abi::VkDriverTable {
    shims::table_for::<D>()
}

/// Defines `pub unsafe extern "C" fn $name()` returning the driver's table, for linking a driver
/// statically (register it with `virtkit_loader::register_static_driver!($name)`).
#[macro_export]
macro_rules! driver_entry {
    ($name:ident, $driver:ty) => {
        const _: () = $crate::check_target::<$driver>();
        /// Entry function of the statically linkable driver table.
        pub unsafe extern "C" fn $name() -> *const $crate::abi::VkDriverTable {
            $crate::table::<$driver>()
        }
    };
}

/// Exports the driver's table as the plugin entry symbol `virtkit_driver_entry`. Use it once, in
/// the crate that builds the `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($driver:ty) => {
        const _: () = $crate::check_target::<$driver>();
        /// The plugin entry symbol: returns the driver table.
        ///
        /// # Safety
        /// Called by the virtkit loader after `dlopen`; takes no arguments.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn virtkit_driver_entry() -> *const $crate::abi::VkDriverTable {
            $crate::table::<$driver>()
        }
    };
}
