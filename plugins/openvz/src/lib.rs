//! The OpenVZ driver: containers managed through `vzctl` and `vzlist`, as libvirt's openvz
//! driver managed them.
//!
//! * `openvz:///system` (see [`Settings`] for the tools, directories and sandbox roots);
//!   opening fails with one line naming the reason when the host has no OpenVZ kernel (no
//!   `/proc/vz`) or no tools.
//! * A domain is a container: `vzlist -a -H -o<id>,status` says which exist and which run,
//!   `<confdir>/<CTID>.conf` ([`VzConfig`]) what they are; its name is the config's `NAME`
//!   (or the CTID), its UUID a `#UUID:` comment in the config, as libvirt kept it.
//! * Every change is a `vzctl` command ([`Tools`]): create (`vzctl create CTID --ostemplate
//!   T`, then `vzctl set CTID ... --save`, undone by `vzctl destroy` when a step fails), start,
//!   stop, restart, destroy, `chkpnt --suspend/--resume`, set. The driver keeps one fact of its
//!   own: which containers it paused (`<rundir>/<CTID>.paused`), since `vzlist` shows a frozen
//!   container as running.
#![forbid(unsafe_code)]

mod config;
mod container;
mod domain;
mod netif;
mod settings;
mod tools;

use virtkit_driver::{Driver, DriverInfo, Error, ErrorCode, NodeInfo, Ops, Result, abi};
use virtkit_xml::{Capabilities, CapsDomain, CapsGuest, CapsGuestArch};

pub use config::{UNLIMITED_32, VzConfig, barrier_limit};
pub use container::{Host, check_def, domain_def, set_options};
pub use domain::parse_vestat;
pub use netif::{NetIf, format_netif, interfaces, parse_ip_addresses, parse_netif};
pub use settings::{ROOT_ENV, Settings};
pub use tools::{
    MAX_CTID, Status, Tools, check_device, check_name, check_template, parse_ctid, parse_list,
    parse_version,
};

/// `VIR_DOMAIN_XML_INACTIVE`.
const XML_INACTIVE: u32 = 2;

/// libvirt's answer to virConnectGetMaxVcpus for OpenVZ ("no limitation").
const MAX_VCPUS: i32 = 1028;

/// The OpenVZ driver.
pub struct OpenvzDriver;

/// A connection: the settings of one `openvz:///system` URI. All state is the host's.
pub struct OpenvzConn {
    settings: Settings,
    tools: Tools,
    read_only: bool,
    /// vzctl's version (`major * 1_000_000 + minor * 1_000 + micro`).
    version: u64,
}

impl OpenvzConn {
    /// Opens `uri`; declines what is not a local `openvz:` URI, and fails with one line when
    /// this host cannot serve it.
    pub fn open(uri: &str, read_only: bool) -> Result<Option<OpenvzConn>> {
        let Some(settings) = Settings::from_uri(uri)? else {
            return Ok(None);
        };
        if let Some(why) = settings.unusable() {
            return Err(Error::new(
                ErrorCode::NoConnect,
                format!("no connection driver available for {uri}: {why}"),
            ));
        }
        let tools = Tools::new(&settings);
        let version = tools.version()?;
        let conn = OpenvzConn {
            settings,
            tools,
            read_only,
            version,
        };
        if !read_only {
            conn.assign_uuids()?;
        }
        Ok(Some(conn))
    }

    /// The settings of this connection.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// vzlist's name of the container ID column: `ctid` from vzctl 4 on, `vpsid` before (the
    /// column libvirt's early driver asked for).
    pub fn id_field(&self) -> &'static str {
        if self.version >= 4_000_000 {
            "ctid"
        } else {
            "vpsid"
        }
    }

    /// Gives every container config without a `#UUID:` comment one, as libvirt did when it
    /// opened (the UUID derived from the CTID, so read-only connections that saw it before
    /// agree). `0.conf` is the host's and is skipped.
    fn assign_uuids(&self) -> Result<()> {
        let Ok(rd) = std::fs::read_dir(&self.settings.confdir) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(ctid) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".conf"))
                .and_then(parse_ctid)
            else {
                continue;
            };
            if let Some(mut conf) = self.read_conf(ctid)?
                && conf.uuid().is_none()
            {
                conf.set_uuid(&domain::derived_uuid(ctid).to_string());
                self.write_conf(ctid, &conf)?;
            }
        }
        Ok(())
    }
}

fn get_type(_: &OpenvzConn) -> Result<String> {
    Ok("OpenVZ".into())
}

fn get_version(c: &OpenvzConn) -> Result<u64> {
    Ok(c.version)
}

fn get_hostname(_: &OpenvzConn) -> Result<String> {
    nix::unistd::gethostname()
        .map_err(|e| Error::system("cannot read the host name", &std::io::Error::from(e)))
        .map(|h| h.to_string_lossy().into_owned())
}

/// The host's architecture and one guest: `exe` containers of domain type `openvz`.
pub fn capabilities() -> Capabilities {
    let arch = virtkit_driver::host::host_arch().to_string();
    let mut caps = Capabilities::default();
    caps.host.cpu.arch = arch.clone();
    caps.host.uuid = virtkit_driver::host::host_uuid();
    caps.guests.push(CapsGuest {
        os_type: "exe".into(),
        arch: CapsGuestArch {
            name: arch,
            wordsize: Some(usize::BITS),
            domains: vec![CapsDomain {
                domain_type: "openvz".into(),
                emulator: None,
                machines: Vec::new(),
            }],
            ..CapsGuestArch::default()
        },
        features: Vec::new(),
    });
    caps
}

fn get_capabilities(_: &OpenvzConn) -> Result<String> {
    Ok(capabilities().to_xml())
}

fn node_get_info(_: &OpenvzConn) -> Result<NodeInfo> {
    Ok(virtkit_driver::host::node_info())
}

fn get_max_vcpus(_: &OpenvzConn, domain_type: &str) -> Result<i32> {
    if domain_type.is_empty() || domain_type.eq_ignore_ascii_case("openvz") {
        Ok(MAX_VCPUS)
    } else {
        Err(Error::invalid_arg(format!("unknown type '{domain_type}'")))
    }
}

fn security_model(_: &OpenvzConn) -> Result<(String, String)> {
    Ok((String::new(), String::new()))
}

const OPS: Ops<OpenvzConn> = Ops {
    get_type: Some(get_type),
    get_version: Some(get_version),
    get_hostname: Some(get_hostname),
    get_capabilities: Some(get_capabilities),
    node_get_info: Some(node_get_info),
    get_max_vcpus: Some(get_max_vcpus),
    list_domains: Some(domain::list_domains),
    num_of_domains: Some(domain::num_of_domains),
    list_defined_domains: Some(domain::list_defined_domains),
    num_of_defined_domains: Some(domain::num_of_defined_domains),
    domain_lookup_by_id: Some(domain::lookup_by_id),
    domain_lookup_by_uuid: Some(domain::lookup_by_uuid),
    domain_lookup_by_name: Some(domain::lookup_by_name),
    domain_define_xml: Some(domain::define_xml),
    domain_undefine: Some(domain::undefine),
    domain_create: Some(domain::start),
    domain_shutdown: Some(domain::shutdown),
    domain_reboot: Some(domain::reboot),
    domain_destroy: Some(domain::destroy),
    domain_suspend: Some(domain::suspend),
    domain_resume: Some(domain::resume),
    domain_get_info: Some(domain::get_info),
    domain_get_xml_desc: Some(domain::get_xml_desc),
    domain_get_os_type: Some(domain::get_os_type),
    domain_get_max_memory: Some(domain::get_max_memory),
    domain_set_max_memory: Some(domain::set_max_memory),
    domain_set_memory: Some(domain::set_memory),
    domain_set_vcpus: Some(domain::set_vcpus),
    domain_get_autostart: Some(domain::get_autostart),
    domain_set_autostart: Some(domain::set_autostart),
    domain_is_persistent: Some(domain::is_persistent),
    node_get_security_model: Some(security_model),
    domain_get_state: Some(domain::get_state),
    ..Ops::NONE
};

impl Driver for OpenvzDriver {
    type Conn = OpenvzConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE,
        error_domain: abi::error_domain::OPENVZ,
        sandbox_uri: "openvz:///system?root={tmpdir}",
        ..DriverInfo::new("openvz", env!("CARGO_PKG_VERSION"), &["openvz"])
    };
    const OPS: Ops<OpenvzConn> = OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<OpenvzConn>> {
        OpenvzConn::open(uri, read_only)
    }
}

virtkit_driver::driver_entry!(openvz_driver_entry, OpenvzDriver);
