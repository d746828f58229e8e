//! Domains and the plain data types that describe them.

use std::sync::{Arc, RwLock};

use virtkit_abi::Op;
use virtkit_loader::DomainIdent;

use crate::connect::{Connect, non_empty_path, non_empty_xml};
use crate::error::{Error, Result};

pub use virtkit_abi::{DomainInfo, MAX_HOST_CPUS, MAX_MEMORY_KIB, MAX_VCPUS, NodeInfo, VcpuInfo};
pub use virtkit_abi::{VkDomainState as DomainState, VkVcpuState as VcpuState};

/// Memory sizes the API passes on: not zero, and within what a definition can hold.
fn check_memory(kib: u64) -> Result<()> {
    if kib == 0 {
        return Err(Error::invalid_arg("memory size must be greater than zero"));
    }
    if kib > MAX_MEMORY_KIB {
        return Err(Error::invalid_arg(format!(
            "memory size {kib} KiB is out of range: at most {MAX_MEMORY_KIB} KiB"
        )));
    }
    Ok(())
}

/// The name virsh prints for a domain state (`running`, `paused`, `shut off`, ...).
pub fn state_name(s: DomainState) -> &'static str {
    s.name()
}

/// A domain (virtual machine) of a connection.
#[derive(Clone)]
pub struct Domain {
    conn: Connect,
    ident: Arc<RwLock<DomainIdent>>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.ident();
        f.debug_struct("Domain")
            .field("id", &i.id)
            .field("name", &i.name)
            .finish()
    }
}

impl Domain {
    pub(crate) fn new(conn: Connect, ident: DomainIdent) -> Domain {
        Domain {
            conn,
            ident: Arc::new(RwLock::new(ident)),
        }
    }

    fn ident(&self) -> DomainIdent {
        self.ident.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The connection this domain belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }
    /// Name.
    pub fn name(&self) -> String {
        self.ident().name
    }
    /// Id, or -1 when inactive (as of the last lookup or lifecycle call).
    pub fn id(&self) -> i32 {
        self.ident().id
    }
    /// UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.ident().uuid)
    }
    /// UUID as text (8-4-4-4-12, lower case).
    pub fn uuid_string(&self) -> String {
        self.uuid().hyphenated().to_string()
    }

    /// Re-reads the id after a lifecycle change (best effort: a driver without UUID lookup keeps
    /// the old value).
    fn refresh(&self) {
        let bytes = self.ident().uuid;
        if let Ok(d) = self
            .conn
            .dispatch(Op::DomainLookupByUuid, |m| m.domain_lookup_by_uuid(&bytes))
        {
            *self.ident.write().unwrap_or_else(|p| p.into_inner()) = d;
        }
    }

    fn act(
        &self,
        op: Op,
        f: impl Fn(&virtkit_loader::DriverConn, &DomainIdent) -> virtkit_loader::CallResult<()>,
    ) -> Result<()> {
        let d = self.ident();
        self.conn.dispatch(op, |m| f(m, &d))
    }

    fn act_and_refresh(
        &self,
        op: Op,
        f: impl Fn(&virtkit_loader::DriverConn, &DomainIdent) -> virtkit_loader::CallResult<()>,
    ) -> Result<()> {
        self.act(op, f)?;
        self.refresh();
        Ok(())
    }

    /// Starts an inactive persistent domain (virDomainCreate).
    pub fn create(&self) -> Result<()> {
        self.act_and_refresh(Op::DomainCreate, |m, d| m.domain_create(d))
    }
    /// Asks the guest to shut down.
    pub fn shutdown(&self) -> Result<()> {
        self.act_and_refresh(Op::DomainShutdown, |m, d| m.domain_shutdown(d))
    }
    /// Asks the guest to reboot.
    pub fn reboot(&self, flags: u32) -> Result<()> {
        self.act(Op::DomainReboot, |m, d| m.domain_reboot(d, flags))
    }
    /// Stops the domain immediately.
    pub fn destroy(&self) -> Result<()> {
        self.act_and_refresh(Op::DomainDestroy, |m, d| m.domain_destroy(d))
    }
    /// Pauses a running domain.
    pub fn suspend(&self) -> Result<()> {
        self.act(Op::DomainSuspend, |m, d| m.domain_suspend(d))
    }
    /// Resumes a paused domain.
    pub fn resume(&self) -> Result<()> {
        self.act(Op::DomainResume, |m, d| m.domain_resume(d))
    }
    /// Removes the persistent definition (a running domain becomes transient).
    pub fn undefine(&self) -> Result<()> {
        self.act(Op::DomainUndefine, |m, d| m.domain_undefine(d))
    }
    /// Saves the domain's state to `path` and stops it.
    pub fn save(&self, path: &str) -> Result<()> {
        non_empty_path(path)?;
        self.act_and_refresh(Op::DomainSave, |m, d| m.domain_save(d, path))
    }
    /// Dumps the domain's memory to `path`.
    pub fn core_dump(&self, path: &str, flags: u32) -> Result<()> {
        non_empty_path(path)?;
        self.act(Op::DomainCoreDump, |m, d| {
            m.domain_core_dump(d, path, flags)
        })
    }
    /// State, memory, vCPUs and CPU time.
    pub fn info(&self) -> Result<DomainInfo> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainGetInfo, |m| m.domain_get_info(&d))
            .map(DomainInfo::from_raw)
    }
    /// The XML description.
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainGetXmlDesc, |m| m.domain_get_xml_desc(&d, flags))
    }
    /// The OS type (`hvm`, `linux`, ...).
    pub fn os_type(&self) -> Result<String> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainGetOsType, |m| m.domain_get_os_type(&d))
    }
    /// Maximum memory, KiB.
    pub fn max_memory(&self) -> Result<u64> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainGetMaxMemory, |m| m.domain_get_max_memory(&d))
    }
    /// Sets the maximum memory, KiB (1 to [`MAX_MEMORY_KIB`]).
    pub fn set_max_memory(&self, kib: u64) -> Result<()> {
        check_memory(kib)?;
        self.act(Op::DomainSetMaxMemory, |m, d| {
            m.domain_set_max_memory(d, kib)
        })
    }
    /// Sets the current memory, KiB (1 to [`MAX_MEMORY_KIB`]).
    pub fn set_memory(&self, kib: u64) -> Result<()> {
        check_memory(kib)?;
        self.act(Op::DomainSetMemory, |m, d| m.domain_set_memory(d, kib))
    }
    /// Sets the number of vCPUs (1 to [`MAX_VCPUS`]; the driver may allow fewer).
    pub fn set_vcpus(&self, n: u32) -> Result<()> {
        if n == 0 {
            return Err(Error::invalid_arg("vCPU count must be greater than zero"));
        }
        if n > MAX_VCPUS {
            return Err(Error::invalid_arg(format!(
                "vCPU count {n} is out of range: at most {MAX_VCPUS}"
            )));
        }
        self.act(Op::DomainSetVcpus, |m, d| m.domain_set_vcpus(d, n))
    }
    /// Pins a vCPU (below [`MAX_VCPUS`]) to the host CPUs set in `cpumap` (one bit per host
    /// CPU, at most [`MAX_HOST_CPUS`] CPUs).
    pub fn pin_vcpu(&self, vcpu: u32, cpumap: &[u8]) -> Result<()> {
        if cpumap.is_empty() {
            return Err(Error::invalid_arg("CPU map must not be empty"));
        }
        if vcpu >= MAX_VCPUS {
            return Err(Error::invalid_arg(format!(
                "vCPU number {vcpu} is out of range: below {MAX_VCPUS}"
            )));
        }
        if cpumap.len() > (MAX_HOST_CPUS / 8) as usize {
            return Err(Error::invalid_arg(format!(
                "CPU map of {} bytes is longer than the {} bytes of {MAX_HOST_CPUS} host CPUs",
                cpumap.len(),
                MAX_HOST_CPUS / 8
            )));
        }
        self.act(Op::DomainPinVcpu, |m, d| m.domain_pin_vcpu(d, vcpu, cpumap))
    }
    /// Per-vCPU information.
    pub fn vcpus(&self) -> Result<Vec<VcpuInfo>> {
        let d = self.ident();
        let raw = self
            .conn
            .dispatch(Op::DomainGetVcpus, |m| m.domain_get_vcpus(&d))?;
        Ok(raw
            .into_iter()
            .map(|v| VcpuInfo::from_raw(&v.info, v.cpumap))
            .collect())
    }
    /// Whether the domain starts when the host (or driver) starts.
    pub fn autostart(&self) -> Result<bool> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainGetAutostart, |m| m.domain_get_autostart(&d))
    }
    /// Sets autostart.
    pub fn set_autostart(&self, on: bool) -> Result<()> {
        self.act(Op::DomainSetAutostart, |m, d| m.domain_set_autostart(d, on))
    }
    /// Attaches a device described by XML.
    pub fn attach_device(&self, xml: &str) -> Result<()> {
        non_empty_xml(xml)?;
        self.act(Op::DomainAttachDevice, |m, d| {
            m.domain_attach_device(d, xml)
        })
    }
    /// Detaches a device described by XML.
    pub fn detach_device(&self, xml: &str) -> Result<()> {
        non_empty_xml(xml)?;
        self.act(Op::DomainDetachDevice, |m, d| {
            m.domain_detach_device(d, xml)
        })
    }
    /// Whether the domain has a persistent definition.
    pub fn is_persistent(&self) -> Result<bool> {
        let d = self.ident();
        self.conn
            .dispatch(Op::DomainIsPersistent, |m| m.domain_is_persistent(&d))
    }
    /// Whether a managed save image exists.
    pub fn has_managed_save_image(&self) -> Result<bool> {
        let d = self.ident();
        self.conn.dispatch(Op::DomainHasManagedSaveImage, |m| {
            m.domain_has_managed_save_image(&d, 0)
        })
    }
    /// The security label and whether it is enforcing.
    pub fn security_label(&self) -> Result<(String, bool)> {
        let d = self.ident();
        self.conn.dispatch(Op::DomainGetSecurityLabel, |m| {
            m.domain_get_security_label(&d)
        })
    }
    /// State and reason code (libvirt's per-state reason enums). Drivers without
    /// `virDomainGetState` answer from [`info`](Self::info), with reason 0.
    pub fn state(&self) -> Result<(DomainState, i32)> {
        let d = self.ident();
        match self
            .conn
            .dispatch(Op::DomainGetState, |m| m.domain_get_state(&d))
        {
            Ok((s, r)) => Ok((DomainState::from_raw(s as u32), r)),
            Err(e) if e.code == crate::ErrorCode::NoSupport => Ok((self.info()?.state, 0)),
            Err(e) => Err(e),
        }
    }
}
