//! The xm member's operations: inactive domains as XM config files.

use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;
use virtkit_conf::Value;
use virtkit_driver::{
    DomainIdent, DomainInfo, DomainRef, DomainState, Error, ErrorCode, Ops, Result,
};
use virtkit_xen::XmGuestArch;
use virtkit_xml::{Capabilities, DomainDef, FormatOptions};

use crate::settings::Settings;
use crate::store::{Config, Store, check_file_name};
use crate::xend_link::Xend;

/// libvirt's `VIR_DOMAIN_XML_SECURE`.
const XML_SECURE: u32 = 1;
/// Xen 3's limit on a guest's vCPUs (`MAX_VIRT_CPUS`).
pub const MAX_VCPUS: u32 = 32;
/// The smallest memory (KiB) libvirt let a Xen guest have.
pub const MIN_MEMORY_KIB: u64 = 4096;
/// virsh's native format name for XM configs.
pub const XM_FORMAT: &str = "xen-xm";
/// virsh's native format name for xend S-expressions.
pub const SXPR_FORMAT: &str = "xen-sxpr";

/// One connection: the settings and the directory's cache.
pub struct XmConn {
    pub(crate) settings: Settings,
    store: Mutex<Store>,
    xend: Xend,
}

impl XmConn {
    /// A connection over `store`.
    pub(crate) fn new(settings: Settings, store: Store, xend: Xend) -> XmConn {
        XmConn {
            settings,
            store: Mutex::new(store),
            xend,
        }
    }

    /// The store, brought up to date with the directory.
    pub fn fresh(&self) -> Result<MutexGuard<'_, Store>> {
        let mut s = self.lock();
        s.refresh()?;
        Ok(s)
    }

    /// The store as cached.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The host's uname machine, as libvirt's capabilities name it.
fn host_machine() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::env::consts::ARCH.to_owned())
}

/// The Xen capabilities of this host: the hypervisor's capability string (from the URI's
/// `xen_caps`, else `/sys/hypervisor/properties/capabilities`; none on a host without Xen)
/// and `/proc/cpuinfo`.
pub(crate) fn capabilities(settings: &Settings) -> Result<Capabilities> {
    let machine = host_machine();
    match &settings.xen_caps {
        Some(caps) => {
            let cpuinfo = virtkit_hostio::read_string_capped(
                std::path::Path::new(virtkit_xen::CPUINFO_PATH),
                1 << 22,
            )
            .unwrap_or_default();
            Ok(virtkit_xen::xen_capabilities(
                &machine, caps, &cpuinfo, None,
            ))
        }
        None => virtkit_xen::xen_capabilities_from_files(
            &machine,
            std::path::Path::new(virtkit_xen::HYPERVISOR_CAPS_PATH),
            std::path::Path::new(virtkit_xen::CPUINFO_PATH),
            None,
        )
        .map_err(|e| Error::internal(e.to_string())),
    }
}

/// The architecture guests read from configs get: the first Xen guest of the host's
/// capabilities (as libvirt took the default guest), else the host's own.
pub(crate) fn guest_arch(settings: &Settings) -> XmGuestArch {
    capabilities(settings)
        .ok()
        .and_then(|caps| caps.guests.first().map(|g| g.arch.name.clone()))
        .map(|arch| XmGuestArch { arch })
        .unwrap_or_else(XmGuestArch::host)
}

fn get_capabilities(c: &XmConn) -> Result<String> {
    Ok(capabilities(&c.settings)?.to_xml())
}

fn conv_error(e: virtkit_xen::Error) -> Error {
    match e {
        virtkit_xen::Error::Xml(x) => Error::xml(x.to_string()),
        virtkit_xen::Error::Conf { .. } => Error::new(
            ErrorCode::ConfSyntax,
            format!("configuration file syntax error: {e}"),
        ),
        other => Error::new(
            ErrorCode::ConfigUnsupported,
            format!("unsupported configuration: {other}"),
        ),
    }
}

fn no_domain(r: &DomainRef<'_>) -> Error {
    Error::no_domain(format!(
        "no XM config for domain '{}' (uuid {})",
        r.name, r.uuid
    ))
}

/// The config a call names: by UUID, as drivers should.
fn find(store: &Store, r: &DomainRef<'_>) -> Result<Arc<Config>> {
    store.by_uuid(&r.uuid).ok_or_else(|| no_domain(r))
}

/// The up-to-date config a call names.
fn config(c: &XmConn, r: &DomainRef<'_>) -> Result<Arc<Config>> {
    let store = c.fresh()?;
    find(&store, r)
}

fn ident(def: &DomainDef) -> DomainIdent {
    DomainIdent {
        id: -1,
        uuid: def.uuid,
        name: def.name.clone(),
    }
}

/// xm knows no running domain: the other members list them (xm ranks last).
fn list_domains(_: &XmConn, _sink: &mut dyn FnMut(i32)) -> Result<()> {
    Ok(())
}

fn num_domains(_: &XmConn) -> Result<i32> {
    Ok(0)
}

/// The configs of domains that do not run (a config whose domain xend runs is that running
/// domain, as libvirt's xm driver listed it).
fn defined(c: &XmConn) -> Result<Vec<Arc<Config>>> {
    let running = c.xend.running_names()?;
    let configs = c.fresh()?.configs();
    Ok(configs
        .into_iter()
        .filter(|cfg| !running.contains(&cfg.def.name))
        .collect())
}

fn list_defined(c: &XmConn, sink: &mut dyn FnMut(&str)) -> Result<()> {
    for cfg in defined(c)? {
        sink(&cfg.def.name);
    }
    Ok(())
}

fn num_defined(c: &XmConn) -> Result<i32> {
    Ok(i32::try_from(defined(c)?.len()).unwrap_or(i32::MAX))
}

/// The calls that need a running domain, for a domain that has a config here and does not run:
/// "not running" (libvirt's answer for a defined, inactive domain), not "no such domain". A
/// running domain is xend's, and the call passes on.
fn inactive_only(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    let cfg = config(c, r)?;
    if r.id >= 0 || c.xend.running_names()?.contains(&cfg.def.name) {
        return Err(no_domain(r));
    }
    Err(Error::operation_invalid(format!(
        "domain '{}' is not running",
        cfg.def.name
    )))
}

fn suspend(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    inactive_only(c, r)
}

fn resume(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    inactive_only(c, r)
}

fn shutdown(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    inactive_only(c, r)
}

fn reboot(c: &XmConn, r: &DomainRef<'_>, _flags: u32) -> Result<()> {
    inactive_only(c, r)
}

fn destroy(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    inactive_only(c, r)
}

fn save(c: &XmConn, r: &DomainRef<'_>, _path: &str) -> Result<()> {
    inactive_only(c, r)
}

fn core_dump(c: &XmConn, r: &DomainRef<'_>, _path: &str, _flags: u32) -> Result<()> {
    inactive_only(c, r)
}

/// Starts the domain of a config: xend creates it from the config (the xend member's
/// `op=create`, `wait_for_devices`, `unpause`); the config stays where it is.
fn start(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    let cfg = config(c, r)?;
    if c.xend.running_names()?.contains(&cfg.def.name) {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already running",
            cfg.def.name
        )));
    }
    let xml = cfg.def.to_xml(
        &FormatOptions::default()
            .with_inactive(true)
            .with_secure(true),
    );
    c.xend.create(&xml).map(drop)
}

fn lookup_by_name(c: &XmConn, name: &str, sink: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let cfg = c
        .fresh()?
        .by_name(name)
        .ok_or_else(|| Error::no_domain(format!("no XM config for domain '{name}'")))?;
    sink(DomainRef {
        id: -1,
        uuid: cfg.def.uuid,
        name: &cfg.def.name,
    });
    Ok(())
}

fn lookup_by_uuid(c: &XmConn, uuid: &Uuid, sink: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let cfg = c
        .fresh()?
        .by_uuid(uuid)
        .ok_or_else(|| Error::no_domain(format!("no XM config for uuid {uuid}")))?;
    sink(DomainRef {
        id: -1,
        uuid: cfg.def.uuid,
        name: &cfg.def.name,
    });
    Ok(())
}

fn get_info(c: &XmConn, r: &DomainRef<'_>) -> Result<DomainInfo> {
    let cfg = config(c, r)?;
    Ok(DomainInfo {
        state: DomainState::Shutoff,
        max_mem_kib: cfg.def.memory_kib,
        memory_kib: cfg.def.current_memory_kib,
        nr_virt_cpu: cfg.def.vcpus,
        cpu_time_ns: 0,
    })
}

fn get_state(c: &XmConn, r: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    config(c, r)?;
    // VIR_DOMAIN_SHUTOFF_UNKNOWN: a config file says nothing of how the guest stopped.
    Ok((DomainState::Shutoff, 0))
}

fn get_xml_desc(c: &XmConn, r: &DomainRef<'_>, flags: u32) -> Result<String> {
    let cfg = config(c, r)?;
    let opts = FormatOptions::default()
        .with_inactive(true)
        .with_secure(flags & XML_SECURE != 0);
    Ok(cfg.def.to_xml(&opts))
}

fn get_os_type(c: &XmConn, r: &DomainRef<'_>) -> Result<String> {
    let cfg = config(c, r)?;
    Ok(if cfg.def.os.os_type == "hvm" {
        "hvm"
    } else {
        "linux"
    }
    .to_owned())
}

fn get_max_memory(c: &XmConn, r: &DomainRef<'_>) -> Result<u64> {
    Ok(config(c, r)?.def.memory_kib)
}

/// A domain with a config is persistent. Before config version 3 xend keeps no inactive
/// domains, so a domain xend runs without a config here is transient; from version 3 xend may
/// keep it, and the question passes on.
fn is_persistent(c: &XmConn, r: &DomainRef<'_>) -> Result<bool> {
    let store = c.fresh()?;
    if store.by_uuid(&r.uuid).is_some() {
        return Ok(true);
    }
    let version = store.config_version();
    drop(store);
    if version < 3 && c.xend.running_names()?.iter().any(|n| n == r.name) {
        return Ok(false);
    }
    Err(no_domain(r))
}

/// Parses a definition given to define.
fn new_definition(xml: &str) -> Result<DomainDef> {
    let mut def = DomainDef::parse(xml).map_err(|e| Error::xml(e.to_string()))?;
    if def.domain_type != "xen" {
        return Err(Error::new(
            ErrorCode::OsType,
            format!(
                "unknown OS type: domain type '{}': XM configs describe type 'xen' domains",
                def.domain_type
            ),
        ));
    }
    def.forget_live_state();
    def.id = None;
    Ok(def)
}

fn define_xml(c: &XmConn, xml: &str) -> Result<DomainIdent> {
    let def = new_definition(xml)?;
    // The name becomes a file name: refused before any file is touched.
    check_file_name(&def.name)?;
    let mut store = c.fresh()?;
    let conf = virtkit_xen::domain_to_xm(&def, store.config_version()).map_err(conv_error)?;
    let file = if let Some(owner) = store.by_name(&def.name) {
        if owner.def.uuid != def.uuid {
            return Err(Error::dom_exist(format!(
                "domain '{}' already exists with uuid {} (in '{}')",
                def.name,
                owner.def.uuid,
                store.dir().join(&owner.file).display()
            )));
        }
        owner.file.clone()
    } else {
        if let Some(other) = store.by_uuid(&def.uuid) {
            return Err(Error::dom_exist(format!(
                "domain '{}' is already defined with uuid {} (in '{}')",
                other.def.name,
                def.uuid,
                store.dir().join(&other.file).display()
            )));
        }
        if store.has_file(&def.name) {
            return Err(Error::operation_failed(format!(
                "'{}' exists and is not a config of domain '{}' (it does not parse, or names another domain)",
                store.dir().join(&def.name).display(),
                def.name
            )));
        }
        def.name.clone()
    };
    store.write(&file, &conf)?;
    Ok(ident(&def))
}

fn undefine(c: &XmConn, r: &DomainRef<'_>) -> Result<()> {
    let mut store = c.fresh()?;
    let cfg = find(&store, r)?;
    store.remove(&cfg.file)
}

/// Changes settings of an inactive domain's config in place: the admin's other settings and
/// comments stay, and the result must still read as a domain.
fn edit(
    c: &XmConn,
    r: &DomainRef<'_>,
    change: impl FnOnce(&DomainDef) -> Result<Vec<(&'static str, Value)>>,
) -> Result<()> {
    let mut store = c.fresh()?;
    let cfg = find(&store, r)?;
    let mut conf = cfg.conf.clone();
    for (name, value) in change(&cfg.def)? {
        conf.set(name, value).map_err(Error::internal)?;
    }
    virtkit_xen::xm_to_domain(&conf, store.config_version(), None).map_err(conv_error)?;
    store.write(&cfg.file, &conf)
}

fn mib(kib: u64) -> Value {
    Value::Int(i128::from(kib.div_ceil(1024)))
}

fn set_memory(c: &XmConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib < MIN_MEMORY_KIB {
        return Err(Error::invalid_arg(format!(
            "memory {kib} KiB is below Xen's minimum of {MIN_MEMORY_KIB} KiB"
        )));
    }
    edit(c, r, |def| {
        if kib > def.memory_kib {
            return Err(Error::invalid_arg(format!(
                "cannot set memory ({kib} KiB) higher than the maximum memory ({} KiB)",
                def.memory_kib
            )));
        }
        Ok(vec![("memory", mib(kib))])
    })
}

fn set_max_memory(c: &XmConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib < MIN_MEMORY_KIB {
        return Err(Error::invalid_arg(format!(
            "memory {kib} KiB is below Xen's minimum of {MIN_MEMORY_KIB} KiB"
        )));
    }
    edit(c, r, |def| {
        let mut out = vec![("maxmem", mib(kib))];
        // Lowering the maximum below the current memory lowers the current memory (libvirt).
        if def.current_memory_kib > kib {
            out.push(("memory", mib(kib)));
        }
        Ok(out)
    })
}

fn set_vcpus(c: &XmConn, r: &DomainRef<'_>, n: u32) -> Result<()> {
    if n == 0 || n > MAX_VCPUS {
        return Err(Error::invalid_arg(format!(
            "{n} vCPUs: a Xen guest has 1 to {MAX_VCPUS}"
        )));
    }
    edit(c, r, |_| Ok(vec![("vcpus", Value::Int(i128::from(n)))]))
}

fn get_autostart(c: &XmConn, r: &DomainRef<'_>) -> Result<bool> {
    let store = c.fresh()?;
    let cfg = find(&store, r)?;
    store.autostart(&cfg.file)
}

fn set_autostart(c: &XmConn, r: &DomainRef<'_>, on: bool) -> Result<()> {
    let mut store = c.fresh()?;
    let cfg = find(&store, r)?;
    store.set_autostart(&cfg.file, on)
}

fn xml_from_native(c: &XmConn, format: &str, config: &str, _flags: u32) -> Result<String> {
    let (version, arch) = {
        let s = c.lock();
        (s.config_version(), s.arch().clone())
    };
    // libvirt's domxml-from-native shows what the config says, the VNC password included.
    let opts = FormatOptions::default().with_secure(true);
    match format {
        XM_FORMAT => {
            virtkit_xen::xm_to_domain_xml(config, version, Some(&arch), &opts).map_err(conv_error)
        }
        SXPR_FORMAT => virtkit_xen::sexpr_to_domain_xml(config, version, &opts).map_err(conv_error),
        other => Err(unknown_format(other)),
    }
}

fn xml_to_native(c: &XmConn, format: &str, xml: &str, _flags: u32) -> Result<String> {
    let version = c.lock().config_version();
    match format {
        XM_FORMAT => virtkit_xen::domain_xml_to_xm(xml, version).map_err(conv_error),
        SXPR_FORMAT => virtkit_xen::domain_xml_to_sexpr(xml, version).map_err(conv_error),
        other => Err(unknown_format(other)),
    }
}

fn unknown_format(format: &str) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!(
            "unsupported configuration: native format '{format}' (Xen converts '{XM_FORMAT}' and '{SXPR_FORMAT}')"
        ),
    )
}

pub(crate) const OPS: Ops<XmConn> = Ops {
    get_capabilities: Some(get_capabilities),
    list_domains: Some(list_domains),
    num_of_domains: Some(num_domains),
    list_defined_domains: Some(list_defined),
    num_of_defined_domains: Some(num_defined),
    domain_lookup_by_uuid: Some(lookup_by_uuid),
    domain_lookup_by_name: Some(lookup_by_name),
    domain_define_xml: Some(define_xml),
    domain_undefine: Some(undefine),
    domain_create: Some(start),
    domain_shutdown: Some(shutdown),
    domain_reboot: Some(reboot),
    domain_destroy: Some(destroy),
    domain_suspend: Some(suspend),
    domain_resume: Some(resume),
    domain_save: Some(save),
    domain_core_dump: Some(core_dump),
    domain_get_info: Some(get_info),
    domain_get_xml_desc: Some(get_xml_desc),
    domain_get_os_type: Some(get_os_type),
    domain_get_max_memory: Some(get_max_memory),
    domain_set_max_memory: Some(set_max_memory),
    domain_set_memory: Some(set_memory),
    domain_set_vcpus: Some(set_vcpus),
    domain_get_autostart: Some(get_autostart),
    domain_set_autostart: Some(set_autostart),
    domain_is_persistent: Some(is_persistent),
    domain_get_state: Some(get_state),
    domain_xml_from_native: Some(xml_from_native),
    domain_xml_to_native: Some(xml_to_native),
    ..Ops::NONE
};
