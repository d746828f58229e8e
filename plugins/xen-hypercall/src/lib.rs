//! The `xen-hypercall` member of the Xen stack: the hypervisor itself, through the privcmd device
//! (libvirt 0.4.6's `xen_internal.c`), for the Xen 4.17 hypercall interface.
//!
//! * [`layout`]: the structures' sizes and offsets, declared once as data (checked against Xen's
//!   headers by `tests/probe.rs`).
//! * [`codec`]: requests and replies to and from bytes, no I/O.
//! * [`Hypervisor`]: three calls — `xen_version`, `sysctl`, `domctl` — over which everything is
//!   built; [`privcmd`] implements it with ioctls on `/dev/xen/privcmd` (or
//!   `/proc/xen/privcmd`), [`sim`] with a simulated host that decodes the same bytes.
//!
//! It serves the version, node info (physinfo), the active domains (getdomaininfolist), their
//! info, OS type and maximum memory, pause/unpause/destroy, max memory, VCPU info and pinning.
//! The hypervisor knows no names: like libvirt, lookups ask the store for `/local/domain/<id>/name`.
//! On a host without Xen it declines to open with one line saying why.
#![deny(unsafe_code)]

pub mod codec;
pub mod layout;
#[allow(unsafe_code)]
pub mod privcmd;
pub mod sim;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use virtkit_driver::{
    DomainInfo, DomainRef, DomainState, Driver, DriverInfo, Error, ErrorCode, NodeInfo, Ops,
    Result, Uuid, VcpuInfo, VcpuState, abi,
};
use virtkit_xen_stack::Member;
use virtkit_xen_store_driver::Client;

use codec::{DomInfo, DomctlBuf, SysctlBuf};

/// This member of the Xen stack: first for ordinary calls, after the daemons for suspend,
/// resume, destroy and setvcpus (`virtkit-xen-stack`'s table).
pub const MEMBER: Member = Member::Hypercall;

/// The three hypercalls the driver makes.
pub trait Hypervisor: Send + Sync {
    /// `xen_version(XENVER_version)`: `major << 16 | minor`.
    fn xen_version(&self) -> io::Result<u32>;
    /// A sysctl; `buf` is an extra buffer whose address goes at the given offset of `req`.
    fn sysctl(&self, req: &mut SysctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()>;
    /// A domctl, likewise.
    fn domctl(&self, req: &mut DomctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()>;
}

/// A connection: the hypervisor, the store for names, where the capabilities come from.
pub struct HypercallConn {
    hv: Box<dyn Hypervisor>,
    store: Option<Mutex<Client>>,
    caps_path: PathBuf,
    cpuinfo_path: PathBuf,
}

/// Records asked for per getdomaininfolist call.
const CHUNK: u32 = 256;

fn hv_error(what: &str, e: &io::Error) -> Error {
    Error::operation_failed(format!("hypercall {what} failed: {e}"))
}

impl HypercallConn {
    /// A connection over `hv`, naming domains through `store` when there is one.
    pub fn new(hv: Box<dyn Hypervisor>, store: Option<Client>) -> HypercallConn {
        HypercallConn {
            hv,
            store: store.map(Mutex::new),
            caps_path: PathBuf::from(virtkit_xen::HYPERVISOR_CAPS_PATH),
            cpuinfo_path: PathBuf::from(virtkit_xen::CPUINFO_PATH),
        }
    }

    /// Reads the capability string and cpuinfo from other files (tests).
    pub fn with_caps_files(mut self, caps: &Path, cpuinfo: &Path) -> HypercallConn {
        self.caps_path = caps.to_path_buf();
        self.cpuinfo_path = cpuinfo.to_path_buf();
        self
    }

    /// Opens a local `xen:` URI on this host's privcmd device; declines other URIs and fails
    /// with one line when there is no device.
    pub fn open(uri: &str) -> Result<Option<HypercallConn>> {
        if !virtkit_xen_store_driver::serves(uri) {
            return Ok(None);
        }
        let no = |why: String| {
            Error::new(
                ErrorCode::NoConnect,
                format!("xen-hypercall does not serve this host: {why}"),
            )
        };
        let path = privcmd::find(|p| p.exists()).map_err(no)?;
        let dev = privcmd::Privcmd::open(&path)
            .map_err(|e| no(format!("cannot open {}: {e}", path.display())))?;
        let env = std::env::var(virtkit_xen_store_driver::client::PATH_ENV).ok();
        let sock =
            virtkit_xen_store_driver::client::socket_path(env.as_deref(), true, |p| p.exists());
        let store = Client::connect(&sock, Duration::from_secs(10)).ok();
        Ok(Some(HypercallConn::new(Box::new(dev), store)))
    }

    /// Every active domain, ascending by id.
    pub fn domains(&self) -> Result<Vec<DomInfo>> {
        let mut out = Vec::new();
        let mut first: u32 = 0;
        loop {
            let mut req = codec::infolist_request(first as u16, CHUNK);
            let mut buf = vec![0u8; codec::infolist_buffer_len(CHUNK)];
            self.hv
                .sysctl(&mut req, Some((&mut buf, codec::INFOLIST_HANDLE)))
                .map_err(|e| hv_error("getdomaininfolist", &e))?;
            let n = codec::infolist_count(&req, CHUNK)
                .map_err(|e| Error::operation_failed(e.to_string()))?;
            let recs = codec::dominfo_records(&buf, n)
                .map_err(|e| Error::operation_failed(e.to_string()))?;
            let last = recs.last().map(|d| u32::from(d.domid));
            out.extend(recs);
            match last {
                Some(l) if n == CHUNK && l < u32::from(u16::MAX) => first = l + 1,
                _ => break,
            }
        }
        Ok(out)
    }

    fn domain(&self, id: i32) -> Result<DomInfo> {
        let missing = || Error::no_domain(format!("no domain with matching id {id}"));
        let id = u16::try_from(id).map_err(|_| missing())?;
        let mut req = codec::infolist_request(id, 1);
        let mut buf = vec![0u8; codec::infolist_buffer_len(1)];
        self.hv
            .sysctl(&mut req, Some((&mut buf, codec::INFOLIST_HANDLE)))
            .map_err(|e| hv_error("getdomaininfolist", &e))?;
        let n =
            codec::infolist_count(&req, 1).map_err(|e| Error::operation_failed(e.to_string()))?;
        codec::dominfo_records(&buf, n)
            .map_err(|e| Error::operation_failed(e.to_string()))?
            .into_iter()
            .find(|d| d.domid == id)
            .ok_or_else(missing)
    }

    fn name_of(&self, id: u16) -> Result<String> {
        let Some(store) = &self.store else {
            return Err(Error::operation_failed(format!(
                "cannot name domain {id}: the hypervisor knows no names and xenstore does not answer"
            )));
        };
        let mut c = store
            .lock()
            .map_err(|_| Error::internal("xenstore connection poisoned"))?;
        c.read(0, &format!("/local/domain/{id}/name"))
            .map_err(virtkit_xen_store_driver::store_error)?
            .ok_or_else(|| Error::no_domain(format!("domain {id} has no name in xenstore")))
    }

    fn domctl(&self, what: &str, mut req: DomctlBuf) -> Result<DomctlBuf> {
        self.hv.domctl(&mut req, None).map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ESRCH) {
                Error::no_domain(format!("{what}: no such domain"))
            } else {
                hv_error(what, &e)
            }
        })?;
        Ok(req)
    }
}

/// libvirt's state for getdomaininfo's flags.
pub fn state_of(flags: u32) -> DomainState {
    use layout::*;
    if flags & DOMINF_DYING != 0 {
        DomainState::Shutdown
    } else if flags & DOMINF_SHUTDOWN != 0 {
        if (flags >> DOMINF_SHUTDOWN_SHIFT) & 0xff == SHUTDOWN_CRASH {
            DomainState::Crashed
        } else {
            DomainState::Shutoff
        }
    } else if flags & DOMINF_PAUSED != 0 {
        DomainState::Paused
    } else if flags & DOMINF_BLOCKED != 0 {
        DomainState::Blocked
    } else if flags & DOMINF_RUNNING != 0 {
        DomainState::Running
    } else {
        DomainState::NoState
    }
}

fn domid_of(d: &DomainRef<'_>) -> Result<u16> {
    u16::try_from(d.id).map_err(|_| Error::no_domain(format!("domain '{}' is not running", d.name)))
}

fn get_version(c: &HypercallConn) -> Result<u64> {
    let v =
        c.hv.xen_version()
            .map_err(|e| hv_error("xen_version", &e))?;
    Ok(u64::from(v >> 16) * 1_000_000 + u64::from(v & 0xffff) * 1_000)
}

/// What libvirt answered for the most VCPUs of a Xen guest (`MAX_VIRT_CPUS`).
pub const MAX_VIRT_CPUS: i32 = 32;

fn get_max_vcpus(_: &HypercallConn, domain_type: &str) -> Result<i32> {
    if domain_type.is_empty() || domain_type.eq_ignore_ascii_case("xen") {
        Ok(MAX_VIRT_CPUS)
    } else {
        Err(Error::invalid_arg(format!("unknown type '{domain_type}'")))
    }
}

/// The capabilities as libvirt built them, from the hypervisor's capability string and cpuinfo
/// (`virtkit-xen`'s builder), with the hypervisor's version.
fn get_capabilities(c: &HypercallConn) -> Result<String> {
    let v =
        c.hv.xen_version()
            .map_err(|e| hv_error("xen_version", &e))?;
    let version = virtkit_xen::XenVersion {
        major: v >> 16,
        minor: v & 0xffff,
    };
    virtkit_xen::xen_capabilities_from_files(
        virtkit_driver::host::host_arch(),
        &c.caps_path,
        &c.cpuinfo_path,
        Some(version),
    )
    .map(|caps| caps.to_xml())
    .map_err(|e| Error::operation_failed(e.to_string()))
}

fn set_vcpus(c: &HypercallConn, d: &DomainRef<'_>, n: u32) -> Result<()> {
    let id = domid_of(d)?;
    if n == 0 || n > MAX_VIRT_CPUS as u32 {
        return Err(Error::invalid_arg(format!(
            "{n} VCPUs: 1 to {MAX_VIRT_CPUS} allowed"
        )));
    }
    c.domctl("max_vcpus", codec::max_vcpus_request(id, n))
        .map(|_| ())
}

fn node_get_info(c: &HypercallConn) -> Result<NodeInfo> {
    let mut req = codec::physinfo_request();
    c.hv.sysctl(&mut req, None)
        .map_err(|e| hv_error("physinfo", &e))?;
    let p = codec::physinfo_reply(&req).map_err(|e| Error::operation_failed(e.to_string()))?;
    let mut n = NodeInfo::default();
    n.model = virtkit_driver::host::host_arch().to_string();
    n.memory_kib = p.total_pages * 4;
    n.cpus = p.nr_cpus;
    n.mhz = p.cpu_khz / 1000;
    n.nodes = p.nr_nodes.max(1);
    n.threads = p.threads_per_core.max(1);
    n.cores = p.cores_per_socket.max(1);
    n.sockets = (p.nr_cpus / (n.nodes * n.cores * n.threads)).max(1);
    Ok(n)
}

fn list_domains(c: &HypercallConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    for d in c.domains()? {
        out(i32::from(d.domid));
    }
    Ok(())
}

fn num_of_domains(c: &HypercallConn) -> Result<i32> {
    Ok(c.domains()?.len() as i32)
}

fn lookup_by_id(c: &HypercallConn, id: i32, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let d = c.domain(id)?;
    let name = c.name_of(d.domid)?;
    out(DomainRef {
        id: i32::from(d.domid),
        uuid: Uuid::from_bytes(d.handle),
        name: &name,
    });
    Ok(())
}

fn lookup_by_uuid(
    c: &HypercallConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let d = c
        .domains()?
        .into_iter()
        .find(|d| d.handle == *uuid.as_bytes())
        .ok_or_else(|| Error::no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    let name = c.name_of(d.domid)?;
    out(DomainRef {
        id: i32::from(d.domid),
        uuid: *uuid,
        name: &name,
    });
    Ok(())
}

fn simple(c: &HypercallConn, d: &DomainRef<'_>, cmd: u32, what: &str) -> Result<()> {
    let id = domid_of(d)?;
    if id == 0 {
        return Err(Error::operation_invalid(format!("cannot {what} domain 0")));
    }
    c.domctl(what, codec::domctl(cmd, id)).map(|_| ())
}

fn suspend(c: &HypercallConn, d: &DomainRef<'_>) -> Result<()> {
    simple(c, d, layout::DOMCTL_PAUSE, "pause")
}

fn resume(c: &HypercallConn, d: &DomainRef<'_>) -> Result<()> {
    simple(c, d, layout::DOMCTL_UNPAUSE, "unpause")
}

fn destroy(c: &HypercallConn, d: &DomainRef<'_>) -> Result<()> {
    simple(c, d, layout::DOMCTL_DESTROY, "destroy")
}

fn get_info(c: &HypercallConn, d: &DomainRef<'_>) -> Result<DomainInfo> {
    let i = c.domain(d.id)?;
    Ok(DomainInfo {
        state: state_of(i.flags),
        nr_virt_cpu: i.nr_online_vcpus,
        max_mem_kib: i.max_pages * 4,
        memory_kib: i.tot_pages * 4,
        cpu_time_ns: i.cpu_time,
    })
}

fn get_os_type(c: &HypercallConn, d: &DomainRef<'_>) -> Result<String> {
    let i = c.domain(d.id)?;
    Ok(if i.flags & layout::DOMINF_HVM != 0 {
        "hvm"
    } else {
        "linux"
    }
    .into())
}

fn get_max_memory(c: &HypercallConn, d: &DomainRef<'_>) -> Result<u64> {
    Ok(c.domain(d.id)?.max_pages * 4)
}

fn set_max_memory(c: &HypercallConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    let id = domid_of(d)?;
    c.domctl("max_mem", codec::max_mem_request(id, kib))
        .map(|_| ())
}

fn get_vcpus(c: &HypercallConn, d: &DomainRef<'_>) -> Result<Vec<VcpuInfo>> {
    let id = domid_of(d)?;
    let info = c.domain(d.id)?;
    let map_len = (node_get_info(c)?.cpus as usize).div_ceil(8).clamp(1, 512);
    let mut out = Vec::new();
    for v in 0..=info.max_vcpu_id.min(4095) {
        let r = c.domctl("getvcpuinfo", codec::vcpuinfo_request(id, v))?;
        let vi = codec::vcpuinfo_reply(&r).map_err(|e| Error::operation_failed(e.to_string()))?;
        let state = if !vi.online {
            VcpuState::Offline
        } else if vi.running {
            VcpuState::Running
        } else {
            VcpuState::Blocked
        };
        let mut req = codec::affinity_request(id, v, (map_len * 8) as u32);
        codec::set_domctl_cmd(&mut req, layout::DOMCTL_GETVCPUAFFINITY);
        let mut cpumap = vec![0u8; map_len];
        c.hv.domctl(&mut req, Some((&mut cpumap, codec::AFFINITY_HANDLE)))
            .map_err(|e| hv_error("getvcpuaffinity", &e))?;
        out.push(VcpuInfo {
            number: v,
            state,
            cpu_time_ns: vi.cpu_time,
            cpu: if vi.online { vi.cpu as i32 } else { -1 },
            cpumap,
        });
    }
    Ok(out)
}

fn pin_vcpu(c: &HypercallConn, d: &DomainRef<'_>, vcpu: u32, map: &[u8]) -> Result<()> {
    let id = domid_of(d)?;
    if map.is_empty() || map.len() > 512 {
        return Err(Error::invalid_arg(format!(
            "a CPU map of {} bytes (1 to 512 allowed)",
            map.len()
        )));
    }
    let mut req = codec::affinity_request(id, vcpu, (map.len() * 8) as u32);
    let mut buf = map.to_vec();
    c.hv.domctl(&mut req, Some((&mut buf, codec::AFFINITY_HANDLE)))
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ESRCH) {
                Error::no_domain(format!("domain {id}: no such domain"))
            } else {
                hv_error("setvcpuaffinity", &e)
            }
        })
}

/// The operations of the hypercall member (libvirt 0.4.6's hypervisor sub-driver, plus node
/// info from physinfo).
pub const OPS: Ops<HypercallConn> = Ops {
    get_version: Some(get_version),
    get_max_vcpus: Some(get_max_vcpus),
    get_capabilities: Some(get_capabilities),
    node_get_info: Some(node_get_info),
    list_domains: Some(list_domains),
    num_of_domains: Some(num_of_domains),
    domain_lookup_by_id: Some(lookup_by_id),
    domain_lookup_by_uuid: Some(lookup_by_uuid),
    domain_suspend: Some(suspend),
    domain_resume: Some(resume),
    domain_destroy: Some(destroy),
    domain_get_os_type: Some(get_os_type),
    domain_get_max_memory: Some(get_max_memory),
    domain_set_max_memory: Some(set_max_memory),
    domain_get_info: Some(get_info),
    domain_set_vcpus: Some(set_vcpus),
    domain_pin_vcpu: Some(pin_vcpu),
    domain_get_vcpus: Some(get_vcpus),
    ..Ops::NONE
};

/// The hypercall driver.
pub struct HypercallDriver;

impl Driver for HypercallDriver {
    type Conn = HypercallConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE | abi::VK_DRIVER_STACK_MEMBER,
        error_domain: abi::error_domain::XEN,
        stack_rank: MEMBER.stack_rank(),
        op_ranks: MEMBER.op_ranks(),
        sandbox_uri: "",
        ..DriverInfo::new(MEMBER.driver_name(), env!("CARGO_PKG_VERSION"), &["xen"])
    };
    const OPS: Ops<HypercallConn> = OPS;

    fn open(uri: &str, _read_only: bool) -> Result<Option<HypercallConn>> {
        HypercallConn::open(uri)
    }
}

virtkit_driver::driver_entry!(xen_hypercall_driver_entry, HypercallDriver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        use layout::*;
        assert_eq!(state_of(DOMINF_RUNNING), DomainState::Running);
        assert_eq!(
            state_of(DOMINF_PAUSED | DOMINF_RUNNING),
            DomainState::Paused
        );
        assert_eq!(state_of(DOMINF_BLOCKED), DomainState::Blocked);
        assert_eq!(
            state_of(DOMINF_DYING | DOMINF_RUNNING),
            DomainState::Shutdown
        );
        assert_eq!(state_of(DOMINF_SHUTDOWN), DomainState::Shutoff);
        assert_eq!(
            state_of(DOMINF_SHUTDOWN | (SHUTDOWN_CRASH << DOMINF_SHUTDOWN_SHIFT)),
            DomainState::Crashed
        );
        assert_eq!(state_of(0), DomainState::NoState);
    }

    #[test]
    fn declines_without_privcmd_here() {
        if std::path::Path::new(privcmd::DEVICE).exists()
            || std::path::Path::new(privcmd::OLD_DEVICE).exists()
        {
            eprintln!("skipped: this host has a privcmd device");
            return;
        }
        let Err(e) = HypercallConn::open("xen:///") else {
            panic!("opened without Xen");
        };
        assert_eq!(e.code, ErrorCode::NoConnect);
        assert!(
            e.message
                .starts_with("xen-hypercall does not serve this host: neither /dev/xen/privcmd")
        );
        assert!(!e.message.contains('\n'));
        assert!(HypercallConn::open("qemu:///system").unwrap().is_none());
    }
}
