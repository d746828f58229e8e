//! Domains and the plain data types that describe them.

use std::sync::{Arc, RwLock};

use virtkit_abi::slots;
use virtkit_loader::DomainIdent;

use crate::connect::{Connect, non_empty_path, non_empty_xml};
use crate::error::{Error, Result};

pub use virtkit_abi::{DomainInfo, MAX_HOST_CPUS, MAX_MEMORY_KIB, MAX_VCPUS, NodeInfo, VcpuInfo};
pub use virtkit_abi::{VkDomainState as DomainState, VkVcpuState as VcpuState};

/// The flags of `virDomainGetXMLDesc` that a read-only connection may not use: libvirt's
/// `VIR_DOMAIN_XML_SECURE` (1, passwords and other secrets) and `VIR_DOMAIN_XML_MIGRATABLE` (8,
/// which includes them).
const XML_PRIVILEGED_FLAGS: u32 = 1 | 8;

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

    /// The identity the core passes to drivers. Public for the conformance suite, which calls
    /// every operation through [`Connect::call`].
    #[doc(hidden)]
    pub fn host_ident(&self) -> DomainIdent {
        self.ident()
    }

    /// Re-reads the id after a lifecycle change (best effort: a driver without UUID lookup keeps
    /// the old value).
    fn refresh(&self) {
        let bytes = self.ident().uuid;
        if let Ok(d) = self.conn.call::<slots::DomainLookupByUuid>((&bytes,)) {
            *self.ident.write().unwrap_or_else(|p| p.into_inner()) = d;
        }
    }

    /// Re-reads the id after a successful lifecycle change.
    fn refreshed(&self, r: Result<()>) -> Result<()> {
        r?;
        self.refresh();
        Ok(())
    }

    /// Starts an inactive persistent domain (virDomainCreate).
    pub fn create(&self) -> Result<()> {
        self.refreshed(self.conn.call::<slots::DomainCreate>((&self.ident(),)))
    }
    /// Asks the guest to shut down.
    pub fn shutdown(&self) -> Result<()> {
        self.refreshed(self.conn.call::<slots::DomainShutdown>((&self.ident(),)))
    }
    /// Asks the guest to reboot.
    pub fn reboot(&self, flags: u32) -> Result<()> {
        self.conn
            .call::<slots::DomainReboot>((&self.ident(), flags))
    }
    /// Stops the domain immediately.
    pub fn destroy(&self) -> Result<()> {
        self.refreshed(self.conn.call::<slots::DomainDestroy>((&self.ident(),)))
    }
    /// Pauses a running domain.
    pub fn suspend(&self) -> Result<()> {
        self.conn.call::<slots::DomainSuspend>((&self.ident(),))
    }
    /// Resumes a paused domain.
    pub fn resume(&self) -> Result<()> {
        self.conn.call::<slots::DomainResume>((&self.ident(),))
    }
    /// Removes the persistent definition (a running domain becomes transient).
    pub fn undefine(&self) -> Result<()> {
        self.conn.call::<slots::DomainUndefine>((&self.ident(),))
    }
    /// Saves the domain's state to `path` and stops it.
    pub fn save(&self, path: &str) -> Result<()> {
        non_empty_path(path)?;
        self.refreshed(self.conn.call::<slots::DomainSave>((&self.ident(), path)))
    }
    /// Dumps the domain's memory to `path`.
    pub fn core_dump(&self, path: &str, flags: u32) -> Result<()> {
        non_empty_path(path)?;
        self.conn
            .call::<slots::DomainCoreDump>((&self.ident(), path, flags))
    }
    /// State, memory, vCPUs and CPU time.
    pub fn info(&self) -> Result<DomainInfo> {
        self.conn
            .call::<slots::DomainGetInfo>((&self.ident(),))
            .map(DomainInfo::from_raw)
    }
    /// The XML description. On a read-only connection the flags that reveal secrets
    /// (`VIR_DOMAIN_XML_SECURE`, and `VIR_DOMAIN_XML_MIGRATABLE`, which implies it) are refused
    /// with `OPERATION_DENIED` before any driver code runs, as libvirt refuses them.
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        if self.conn.is_read_only() && flags & XML_PRIVILEGED_FLAGS != 0 {
            return Err(Error::denied("virDomainGetXMLDesc with secure flag"));
        }
        self.conn
            .call::<slots::DomainGetXmlDesc>((&self.ident(), flags))
    }
    /// The OS type (`hvm`, `linux`, ...).
    pub fn os_type(&self) -> Result<String> {
        self.conn.call::<slots::DomainGetOsType>((&self.ident(),))
    }
    /// Maximum memory, KiB.
    pub fn max_memory(&self) -> Result<u64> {
        self.conn
            .call::<slots::DomainGetMaxMemory>((&self.ident(),))
    }
    /// Sets the maximum memory, KiB (1 to [`MAX_MEMORY_KIB`]).
    pub fn set_max_memory(&self, kib: u64) -> Result<()> {
        check_memory(kib)?;
        self.conn
            .call::<slots::DomainSetMaxMemory>((&self.ident(), kib))
    }
    /// Sets the current memory, KiB (1 to [`MAX_MEMORY_KIB`]).
    pub fn set_memory(&self, kib: u64) -> Result<()> {
        check_memory(kib)?;
        self.conn
            .call::<slots::DomainSetMemory>((&self.ident(), kib))
    }
    /// Sets the memory, KiB, of the running guest, of its persistent definition or of both, as
    /// `flags` says (`VK_DOMAIN_AFFECT_*`; with `VK_DOMAIN_MEM_MAXIMUM`, the maximum memory):
    /// libvirt's `virDomainSetMemoryFlags`.
    pub fn set_memory_flags(&self, kib: u64, flags: u32) -> Result<()> {
        check_memory(kib)?;
        self.conn
            .call::<slots::DomainSetMemoryFlags>((&self.ident(), kib, flags))
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
        self.conn.call::<slots::DomainSetVcpus>((&self.ident(), n))
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
        self.conn
            .call::<slots::DomainPinVcpu>((&self.ident(), vcpu, cpumap))
    }
    /// Per-vCPU information.
    pub fn vcpus(&self) -> Result<Vec<VcpuInfo>> {
        let raw = self.conn.call::<slots::DomainGetVcpus>((&self.ident(),))?;
        Ok(raw
            .into_iter()
            .map(|v| VcpuInfo::from_raw(&v.info, v.cpumap))
            .collect())
    }
    /// Whether the domain starts when the host (or driver) starts.
    pub fn autostart(&self) -> Result<bool> {
        self.conn
            .call::<slots::DomainGetAutostart>((&self.ident(),))
    }
    /// Sets autostart.
    pub fn set_autostart(&self, on: bool) -> Result<()> {
        self.conn
            .call::<slots::DomainSetAutostart>((&self.ident(), on))
    }
    /// Attaches a device described by XML.
    pub fn attach_device(&self, xml: &str) -> Result<()> {
        non_empty_xml(xml)?;
        self.conn
            .call::<slots::DomainAttachDevice>((&self.ident(), xml))
    }
    /// Detaches a device described by XML.
    pub fn detach_device(&self, xml: &str) -> Result<()> {
        non_empty_xml(xml)?;
        self.conn
            .call::<slots::DomainDetachDevice>((&self.ident(), xml))
    }
    /// Whether the domain has a persistent definition.
    pub fn is_persistent(&self) -> Result<bool> {
        self.conn
            .call::<slots::DomainIsPersistent>((&self.ident(),))
    }
    /// Whether a managed save image exists.
    pub fn has_managed_save_image(&self) -> Result<bool> {
        self.conn
            .call::<slots::DomainHasManagedSaveImage>((&self.ident(), 0))
    }
    /// The security label and whether it is enforcing.
    pub fn security_label(&self) -> Result<(String, bool)> {
        self.conn
            .call::<slots::DomainGetSecurityLabel>((&self.ident(),))
    }
    /// The domain's messages, as libvirt's `virDomainGetMessages` words them: its taints
    /// (`tainted: ...`), then the deprecated configuration it uses (`deprecated configuration:
    /// ...`). `flags` selects the kinds (`VK_DOMAIN_MESSAGE_TAINTING`,
    /// `VK_DOMAIN_MESSAGE_DEPRECATION`; 0: both); no message is an empty list.
    pub fn messages(&self, flags: u32) -> Result<Vec<String>> {
        self.conn
            .call::<slots::DomainGetMessages>((&self.ident(), flags))
    }
    /// State and reason code (libvirt's per-state reason enums). Drivers without
    /// `virDomainGetState` answer from [`info`](Self::info), with reason 0.
    pub fn state(&self) -> Result<(DomainState, i32)> {
        match self.conn.call::<slots::DomainGetState>((&self.ident(),)) {
            Ok((s, r)) => Ok((DomainState::from_raw(s as u32), r)),
            Err(e) if e.code == crate::ErrorCode::NoSupport => Ok((self.info()?.state, 0)),
            // In a stack, the members that implement GetState may all not know a domain that a
            // member without GetState serves (the Xen store member knows running guests, the
            // xm member only configs): then virDomainGetInfo answers, as it does when no member
            // has GetState at all.
            Err(e) if e.code == crate::ErrorCode::NoDomain => match self.info() {
                Ok(info) => Ok((info.state, 0)),
                Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}
