//! The QEMU/KVM driver: real `qemu-system-*` guests driven through QMP, with no daemon.
//!
//! libvirt keeps its QEMU guests' state in a daemon. virtkit is a library, so this driver keeps
//! it on disk instead, and any process that opens the same URI sees the same guests:
//!
//! * a persistent definition is `<config>/<name>.xml`;
//! * a running guest is a QEMU (`-S`) in a process group of its own, which outlives the process
//!   that started it, with a pidfile, a QMP socket and a state file (id, pid, live XML) in
//!   `<run>`; a guest whose QEMU died is reported shut off and its runtime files are removed by
//!   whoever notices first;
//! * actions on one guest are serialized by a lock file, and changes to the set of guests by a
//!   driver-wide lock file, across processes.
//!
//! URIs: `qemu:///system` (root; `/etc/virtkit/qemu`, `/run/virtkit/qemu`) and
//! `qemu:///session` (any user; XDG directories). `?root=DIR` or `VIRTKIT_QEMU_ROOT=DIR` moves
//! both under `DIR` (see [`Paths`]).
//!
//! The command line is built by the pure [`build_command`] for today's QEMU (10.x).
#![forbid(unsafe_code)]

mod argv;
mod argv_parse;
pub mod bench;
mod domain;
mod emulator;
mod host;
mod network;
mod paths;
mod process;
mod qemu10;
mod qmp;
mod store;

use virtkit_driver::{Driver, DriverInfo, Error, ErrorCode, NodeInfo, Ops, Result, abi};

pub use argv::{
    ArgvContext, QemuCommand, build_command, disk_index, format_utc, opt_escape, tap_name,
};
pub use argv_parse::{parse_argv, split_words};
pub use emulator::{
    find_emulator, kvm_usable, parse_deprecated_machines, parse_machines, parse_version,
};
pub use host::parse_cpuinfo;
pub use paths::{Paths, ROOT_ENV, UriKind};
pub use qmp::{Qmp, QmpError};

/// Entry points for the fuzz targets in `fuzz/` (parsers of outside input that are otherwise
/// reached only through a path that starts QEMU). Not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads a save image's header exactly as `restore` does, and stops there: the offset of the
    /// migration stream and the name of the domain it holds.
    pub fn read_save_header(path: &std::path::Path) -> Result<(u64, String), String> {
        crate::domain::read_save_header(path)
            .map(|(offset, def)| (offset, def.name))
            .map_err(|e| e.to_string())
    }
}

use store::{Store, write_atomic};

/// The environment variable that lets a sandboxed instance change the host's network.
pub const HOST_NETWORK_ENV: &str = "VIRTKIT_QEMU_HOST_NETWORK";

/// The QEMU driver.
pub struct QemuDriver;

/// A connection: the directories of one driver instance. All state lives on disk.
pub struct QemuConn {
    store: Store,
    /// The process runs as root (taps, bridges, system URI).
    privileged: bool,
    /// A sandboxed instance may change the host's network.
    host_network: bool,
}

fn truthy(v: &str) -> bool {
    matches!(v, "1" | "yes" | "true" | "on")
}

impl QemuConn {
    /// Opens `uri` (see the crate documentation); declines URIs that are not local `qemu:`
    /// URIs.
    pub fn open(uri: &str, read_only: bool) -> Result<Option<QemuConn>> {
        let Some(paths) = Paths::from_uri(uri)? else {
            return Ok(None);
        };
        let privileged = nix::unistd::geteuid().is_root();
        if paths.kind == UriKind::System && !paths.rooted && !privileged && !read_only {
            return Err(Error::new(
                ErrorCode::OperationDenied,
                "operation forbidden: qemu:///system needs root privileges; use qemu:///session, or a read-only connection",
            ));
        }
        let host_network = std::env::var(HOST_NETWORK_ENV).is_ok_and(|v| truthy(&v))
            || uri.split_once('?').is_some_and(|(_, q)| {
                q.split('&').any(|p| {
                    p.split_once('=')
                        .is_some_and(|(k, v)| k == "hostnet" && truthy(v))
                })
            });
        let conn = QemuConn {
            store: Store::new(paths),
            privileged,
            host_network,
        };
        if read_only {
            conn.store.paths.check_existing()?;
        } else {
            conn.store.paths.create()?;
            conn.autostart();
        }
        Ok(Some(conn))
    }

    /// The directories this connection works in.
    pub fn paths(&self) -> &Paths {
        &self.store.paths
    }

    /// Starts the autostart networks and domains, once per host boot (the boot id is recorded in
    /// the runtime directory).
    fn autostart(&self) {
        let boot_id =
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        let marker = self.store.paths.run.join(".autostart.boot");
        let done = || store::read_own(&marker).is_ok_and(|m| m.as_deref() == Some(&boot_id));
        if done() {
            return;
        }
        let Ok(_driver) = self.store.lock_driver() else {
            return;
        };
        if done() {
            return;
        }
        self.autostart_networks();
        self.autostart_domains();
        let _ = write_atomic(&marker, boot_id.as_bytes(), false);
    }
}

fn get_type(_: &QemuConn) -> Result<String> {
    Ok("QEMU".into())
}

/// The version of the host's `qemu-system-<arch>`; 0 when none is installed (libvirt's answer
/// when the version cannot be found out).
fn get_version(_: &QemuConn) -> Result<u64> {
    match emulator::find_emulator(argv::host_arch()) {
        Some(bin) => emulator::version(&bin.display().to_string()),
        None => Ok(0),
    }
}

fn get_hostname(_: &QemuConn) -> Result<String> {
    nix::unistd::gethostname()
        .map_err(|e| Error::system("cannot read the host name", &std::io::Error::from(e)))
        .map(|h| h.to_string_lossy().into_owned())
}

fn get_capabilities(_: &QemuConn) -> Result<String> {
    Ok(emulator::capabilities().to_xml())
}

fn node_get_info(_: &QemuConn) -> Result<NodeInfo> {
    Ok(host::node_info())
}

fn security_model(_: &QemuConn) -> Result<(String, String)> {
    // No security driver (SELinux/AppArmor labelling) is active.
    Ok((String::new(), String::new()))
}

// Every slot of today's table is filled; `..Ops::NONE` keeps slots that a later ABI minor version
// appends NULL ("unsupported") until this driver implements them.
#[allow(clippy::needless_update)]
const OPS: Ops<QemuConn> = Ops {
    get_type: Some(get_type),
    get_version: Some(get_version),
    get_hostname: Some(get_hostname),
    get_capabilities: Some(get_capabilities),
    node_get_info: Some(node_get_info),
    get_max_vcpus: Some(domain::get_max_vcpus),
    list_domains: Some(domain::list_domains),
    num_of_domains: Some(domain::num_of_domains),
    list_defined_domains: Some(domain::list_defined_domains),
    num_of_defined_domains: Some(domain::num_of_defined_domains),
    domain_lookup_by_id: Some(domain::lookup_by_id),
    domain_lookup_by_uuid: Some(domain::lookup_by_uuid),
    domain_lookup_by_name: Some(domain::lookup_by_name),
    domain_create_xml: Some(domain::create_xml),
    domain_define_xml: Some(domain::define_xml),
    domain_undefine: Some(domain::undefine),
    domain_create: Some(domain::start),
    domain_shutdown: Some(domain::shutdown),
    domain_reboot: Some(domain::reboot),
    domain_destroy: Some(domain::destroy),
    domain_suspend: Some(domain::suspend),
    domain_resume: Some(domain::resume),
    domain_save: Some(domain::save),
    domain_restore: Some(domain::restore),
    domain_core_dump: Some(domain::core_dump),
    domain_get_info: Some(domain::get_info),
    domain_get_xml_desc: Some(domain::get_xml_desc),
    domain_get_os_type: Some(domain::get_os_type),
    domain_get_max_memory: Some(domain::get_max_memory),
    domain_set_max_memory: Some(domain::set_max_memory),
    domain_set_memory: Some(domain::set_memory),
    domain_set_memory_flags: Some(domain::set_memory_flags),
    domain_set_vcpus: Some(domain::set_vcpus),
    domain_pin_vcpu: Some(domain::pin_vcpu),
    domain_get_vcpus: Some(domain::get_vcpus),
    domain_get_autostart: Some(domain::get_autostart),
    domain_set_autostart: Some(domain::set_autostart),
    domain_attach_device: Some(domain::attach_device),
    domain_detach_device: Some(domain::detach_device),
    list_networks: Some(network::list_networks),
    num_of_networks: Some(network::num_of_networks),
    list_defined_networks: Some(network::list_defined_networks),
    num_of_defined_networks: Some(network::num_of_defined_networks),
    network_lookup_by_uuid: Some(network::lookup_by_uuid),
    network_lookup_by_name: Some(network::lookup_by_name),
    network_create_xml: Some(network::create_xml),
    network_define_xml: Some(network::define_xml),
    network_undefine: Some(network::undefine),
    network_create: Some(network::start),
    network_destroy: Some(network::destroy),
    network_get_xml_desc: Some(network::get_xml_desc),
    network_get_bridge_name: Some(network::get_bridge_name),
    network_get_autostart: Some(network::get_autostart),
    network_set_autostart: Some(network::set_autostart),
    domain_is_persistent: Some(domain::is_persistent),
    domain_has_managed_save_image: Some(domain::has_managed_save_image),
    node_get_security_model: Some(security_model),
    domain_get_security_label: Some(domain::security_label),
    domain_get_state: Some(domain::get_state),
    domain_get_messages: Some(domain::get_messages),
    domain_xml_to_native: Some(domain::xml_to_native),
    domain_xml_from_native: Some(argv_parse::xml_from_native),
    network_is_active: Some(network::is_active),
    network_is_persistent: Some(network::is_persistent),
    ..Ops::NONE
};

impl Driver for QemuDriver {
    type Conn = QemuConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE,
        error_domain: abi::error_domain::QEMU,
        sandbox_uri: "qemu:///session?root={tmpdir}",
        ..DriverInfo::new("qemu", env!("CARGO_PKG_VERSION"), &["qemu"])
    };
    const OPS: Ops<QemuConn> = OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<QemuConn>> {
        QemuConn::open(uri, read_only)
    }
}

virtkit_driver::driver_entry!(qemu_driver_entry, QemuDriver);
