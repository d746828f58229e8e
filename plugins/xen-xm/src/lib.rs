//! The xen-xm member of virtkit's Xen stack (`libvirtkit_driver_xen_xm.so`): inactive Xen
//! domains kept as XM config files, as libvirt 0.4.6's xm driver kept them in `/etc/xen`
//! before xend could (config version < 3).
//!
//! * The config directory is `/etc/xen`, or the URI's `xm_config_dir`, or
//!   `VIRTKIT_XM_CONFIG_DIR` / `LIBVIRT_XM_CONFIG_DIR` (not in setuid programs).
//! * Files that are not configs (editor and package backups, `xend-config.sxp`, `*.sxp`,
//!   examples, scripts, subdirectories, `auto/`) are skipped; a config that does not parse is
//!   reported once (file and line) and the others still list.
//! * A cache of parsed files is validated on each call by each file's times, size and inode,
//!   so an unchanged directory is not re-parsed and an edit by hand is seen at once.
//! * Define writes atomically (temp file, fsync, rename) through `virtkit-hostio`; settings
//!   changed on an inactive domain (memory, max memory, vCPUs) are changed in the file in place,
//!   keeping the admin's comments and other settings; autostart is a link in `auto/`.
//! * The conversions `xen-xm` and `xen-sxpr` (`virtkit-xen`) work with no Xen on the host.
//!
//! The member's ranks in the stack are the Xen stack's table (`virtkit-xen-stack`, member
//! [`MEMBER`]). Starting a domain and knowing which configs run are xend's: the member reaches
//! xend through the xend member's code (`xend_link`).
#![forbid(unsafe_code)]

pub mod bench;
mod ops;
mod settings;
mod store;
mod xend_link;

use virtkit_driver::{Driver, DriverInfo, Ops, Result, abi};
use virtkit_xen::XmGuestArch;
use virtkit_xen_stack::Member;

pub use ops::{MAX_VCPUS, SXPR_FORMAT, XM_FORMAT, XmConn};
pub use settings::{
    CONFIG_DIR_ENV, CONFIG_DIR_PARAM, CONFIG_VERSION_PARAM, DEFAULT_CONFIG_DIR,
    DEFAULT_CONFIG_VERSION, LIBVIRT_CONFIG_DIR_ENV, Settings, XEN_CAPS_PARAM,
};
pub use store::{AUTO_DIR, Store, check_file_name, skip_reason};

/// This member of the Xen stack.
pub const MEMBER: Member = Member::Xm;

/// The xm member.
pub struct XmDriver;

impl Driver for XmDriver {
    type Conn = XmConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE | abi::VK_DRIVER_STACK_MEMBER,
        error_domain: abi::error_domain::XENXM,
        stack_rank: MEMBER.stack_rank(),
        op_ranks: MEMBER.op_ranks(),
        sandbox_uri: "xen:///?xm_config_dir={tmpdir}&xen_caps=xen-3.0-x86_64",
        ..DriverInfo::new(MEMBER.driver_name(), env!("CARGO_PKG_VERSION"), &["xen"])
    };
    const OPS: Ops<XmConn> = ops::OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<XmConn>> {
        let Some(settings) = Settings::from_uri(uri)? else {
            return Ok(None);
        };
        let xend = xend_link::Xend::open(uri, read_only);
        // The URI's version, else the daemon's, else the default.
        let version = settings
            .config_version
            .or_else(|| xend.config_version())
            .unwrap_or(DEFAULT_CONFIG_VERSION);
        let arch = ops::guest_arch(&settings);
        let store = Store::new(settings.dir.clone(), version, arch);
        Ok(Some(XmConn::new(settings, store, xend)))
    }
}

/// The guest architecture of a host with no hypervisor to ask.
pub fn host_arch() -> XmGuestArch {
    XmGuestArch::host()
}

virtkit_driver::driver_entry!(xen_xm_driver_entry, XmDriver);
