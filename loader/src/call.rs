//! The host side of every call: sinks, error collection and one safe shim per operation.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use virtkit_abi::{
    MAX_HOST_CPUS, MAX_VCPUS, Op, VK_DECLINED, VK_OK, VkConn, VkDomainInfo, VkDomainRef,
    VkDomainSink, VkErrorCode, VkErrorSink, VkIntSink, VkNetworkRef, VkNetworkSink, VkNodeInfo,
    VkStr, VkStrSink, VkVcpuInfo, VkVcpuSink,
};

use crate::validate::Driver;

/// An error returned by a driver entry, or "not supported" for a NULL slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// The stable error code.
    pub code: VkErrorCode,
    /// The driver's message (or a generic one when the driver gave none).
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// Result of a driver call.
pub type CallResult<T> = Result<T, CallError>;

/// A domain as a driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainIdent {
    /// Id, or -1 when inactive.
    pub id: i32,
    /// UUID bytes.
    pub uuid: [u8; 16],
    /// Name.
    pub name: String,
}

/// A network as a driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkIdent {
    /// UUID bytes.
    pub uuid: [u8; 16],
    /// Name.
    pub name: String,
}

/// One vCPU and its affinity map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuEntry {
    /// The vCPU's information.
    pub info: VkVcpuInfo,
    /// One bit per host CPU.
    pub cpumap: Vec<u8>,
}

/// The answer of a driver's `open`.
pub enum Opened {
    /// The driver serves the URI.
    Conn(DriverConn),
    /// The driver does not serve the URI (libvirt's "declined").
    Declined,
}

/// An open connection of one driver. Closing happens on drop.
pub struct DriverConn {
    driver: Arc<Driver>,
    handle: VkConn,
    /// Serialises calls for drivers that are not thread-safe.
    serial: Option<Mutex<()>>,
}

// SAFETY: the handle is only used through the driver's entries; drivers that do not declare
// VK_DRIVER_THREAD_SAFE get every call serialised by `serial`, so the handle is never used by
// two threads at once unless the driver allows it.
unsafe impl Send for DriverConn {}
// SAFETY: see above.
unsafe impl Sync for DriverConn {}

impl Drop for DriverConn {
    fn drop(&mut self) {
        if let Some(close) = self.driver.table.close {
            let _guard = self.lock();
            // SAFETY: the handle came from this driver's open and is closed exactly once.
            unsafe { close(self.handle) };
        }
    }
}

struct ErrSlot {
    code: i32,
    message: Option<String>,
}

/// Copies a string a driver hands over. The ABI says it is UTF-8; a driver that breaks the rule
/// gets its invalid bytes replaced rather than trusted. Names are nearly always ASCII, which is
/// checked in a few instructions; the general validation costs more than the copy itself for the
/// short names that lists and lookups carry.
fn owned(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return unsafe { String::from_utf8_unchecked(bytes.to_vec()) };
    }
    String::from_utf8_lossy(bytes).into_owned()
}

unsafe extern "C" fn err_set(ctx: *mut c_void, code: i32, message: VkStr) {
    // SAFETY: ctx is the &mut ErrSlot we passed for the duration of the call.
    let slot = unsafe { &mut *(ctx as *mut ErrSlot) };
    slot.code = code;
    // SAFETY: the driver passes a string valid for this call.
    slot.message = Some(owned(unsafe { message.as_bytes() }));
}

unsafe extern "C" fn str_push(ctx: *mut c_void, s: VkStr) {
    // SAFETY: ctx is the &mut Vec<String> we passed for the duration of the call.
    let v = unsafe { &mut *(ctx as *mut Vec<String>) };
    // SAFETY: the driver passes a string valid for this call.
    v.push(owned(unsafe { s.as_bytes() }));
}

/// Receives domain ids, which the ABI guarantees fit in an `i32`.
unsafe extern "C" fn id_push(ctx: *mut c_void, value: i64) {
    // SAFETY: ctx is the &mut Vec<i32> we passed.
    unsafe { &mut *(ctx as *mut Vec<i32>) }.push(value as i32);
}

unsafe extern "C" fn dom_put(ctx: *mut c_void, id: i32, uuid: *const [u8; 16], name: VkStr) {
    // SAFETY: ctx is the &mut Option<DomainIdent> we passed.
    let out = unsafe { &mut *(ctx as *mut Option<DomainIdent>) };
    let uuid = if uuid.is_null() {
        [0; 16]
    } else {
        // SAFETY: a non-NULL uuid points at 16 bytes.
        unsafe { *uuid }
    };
    // SAFETY: the driver passes a string valid for this call.
    let name = owned(unsafe { name.as_bytes() });
    *out = Some(DomainIdent { id, uuid, name });
}

unsafe extern "C" fn net_put(ctx: *mut c_void, uuid: *const [u8; 16], name: VkStr) {
    // SAFETY: ctx is the &mut Option<NetworkIdent> we passed.
    let out = unsafe { &mut *(ctx as *mut Option<NetworkIdent>) };
    let uuid = if uuid.is_null() {
        [0; 16]
    } else {
        // SAFETY: a non-NULL uuid points at 16 bytes.
        unsafe { *uuid }
    };
    // SAFETY: the driver passes a string valid for this call.
    let name = owned(unsafe { name.as_bytes() });
    *out = Some(NetworkIdent { uuid, name });
}

/// What the vCPU sink collects: at most [`MAX_VCPUS`] entries with maps of at most
/// [`MAX_CPUMAP_BYTES`]; a driver that pushes more is refused rather than believed.
struct VcpuOut {
    entries: Vec<VcpuEntry>,
    too_many: bool,
}

/// The longest CPU map a driver may return: one bit per host CPU, [`MAX_HOST_CPUS`] CPUs.
const MAX_CPUMAP_BYTES: usize = (MAX_HOST_CPUS / 8) as usize;

unsafe extern "C" fn vcpu_push(
    ctx: *mut c_void,
    info: *const VkVcpuInfo,
    map: *const u8,
    len: usize,
) {
    // SAFETY: ctx is the &mut VcpuOut we passed.
    let out = unsafe { &mut *(ctx as *mut VcpuOut) };
    if info.is_null() {
        return;
    }
    if out.entries.len() >= MAX_VCPUS as usize || len > MAX_CPUMAP_BYTES {
        out.too_many = true;
        return;
    }
    let v = &mut out.entries;
    let cpumap = if map.is_null() || len == 0 {
        Vec::new()
    } else {
        // SAFETY: the driver passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(map, len) }.to_vec()
    };
    // SAFETY: non-NULL info points at a VkVcpuInfo.
    let info = unsafe { *info };
    v.push(VcpuEntry { info, cpumap });
}

fn generic_message(code: VkErrorCode) -> &'static str {
    match code {
        VkErrorCode::NoSupport => "this function is not supported by the connection driver",
        VkErrorCode::NoDomain => "Domain not found",
        VkErrorCode::NoNetwork => "Network not found",
        VkErrorCode::InvalidArg => "invalid argument",
        VkErrorCode::OperationInvalid => "Requested operation is not valid",
        VkErrorCode::OperationDenied => "operation forbidden",
        VkErrorCode::XmlError => "XML description is invalid or not well formed",
        _ => "operation failed",
    }
}

fn dref(id: i32, uuid: &[u8; 16], name: &str) -> VkDomainRef {
    VkDomainRef {
        id,
        uuid: *uuid,
        name: VkStr::new(name),
    }
}

fn nref(uuid: &[u8; 16], name: &str) -> VkNetworkRef {
    VkNetworkRef {
        uuid: *uuid,
        name: VkStr::new(name),
    }
}

impl Driver {
    /// Calls the driver's `open` for `uri`.
    pub fn open(self: &Arc<Self>, uri: &str, flags: u32) -> CallResult<Opened> {
        let open = self.table.open.ok_or_else(|| unsupported(self, Op::Open))?;
        let mut handle: VkConn = std::ptr::null_mut();
        let mut slot = ErrSlot {
            code: 0,
            message: None,
        };
        let sink = VkErrorSink {
            ctx: (&mut slot as *mut ErrSlot).cast(),
            set: err_set,
        };
        // SAFETY: all pointers are valid for the call; the driver writes the handle on success.
        let rc = unsafe { open(VkStr::new(uri), flags, &mut handle, &sink) };
        match rc {
            VK_OK => {
                let serial = (!self.thread_safe()).then(|| Mutex::new(()));
                Ok(Opened::Conn(DriverConn {
                    driver: self.clone(),
                    handle,
                    serial,
                }))
            }
            VK_DECLINED => Ok(Opened::Declined),
            _ => Err(to_error(rc, slot)),
        }
    }
}

fn unsupported(driver: &Driver, op: Op) -> CallError {
    CallError {
        code: VkErrorCode::NoSupport,
        message: format!(
            "this function is not supported by the connection driver: {} (driver '{}')",
            op.info().api,
            driver.name()
        ),
    }
}

fn to_error(rc: i32, slot: ErrSlot) -> CallError {
    let code = VkErrorCode::from_raw(if slot.code != 0 { slot.code } else { rc });
    let message = slot
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| generic_message(code).to_string());
    CallError { code, message }
}

macro_rules! slot {
    ($self:ident, $field:ident, $op:ident) => {
        $self
            .driver
            .table
            .$field
            .ok_or_else(|| unsupported(&$self.driver, Op::$op))?
    };
}

impl DriverConn {
    /// The driver behind this connection.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.serial
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs one driver call with an error sink and the serialisation lock.
    fn invoke(&self, f: impl FnOnce(VkConn, *const VkErrorSink) -> i32) -> CallResult<()> {
        let mut slot = ErrSlot {
            code: 0,
            message: None,
        };
        let sink = VkErrorSink {
            ctx: (&mut slot as *mut ErrSlot).cast(),
            set: err_set,
        };
        let rc = {
            let _guard = self.lock();
            f(self.handle, &sink)
        };
        if rc == VK_OK {
            Ok(())
        } else {
            Err(to_error(rc, slot))
        }
    }

    fn strings(
        &self,
        f: impl FnOnce(VkConn, *const VkStrSink, *const VkErrorSink) -> i32,
    ) -> CallResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let sink = VkStrSink {
            ctx: (&mut out as *mut Vec<String>).cast(),
            push: str_push,
        };
        self.invoke(|c, e| f(c, &sink, e))?;
        Ok(out)
    }

    fn string(
        &self,
        f: impl FnOnce(VkConn, *const VkStrSink, *const VkErrorSink) -> i32,
    ) -> CallResult<String> {
        Ok(self.strings(f)?.concat())
    }

    fn domain(
        &self,
        f: impl FnOnce(VkConn, *const VkDomainSink, *const VkErrorSink) -> i32,
    ) -> CallResult<DomainIdent> {
        let mut out: Option<DomainIdent> = None;
        let sink = VkDomainSink {
            ctx: (&mut out as *mut Option<DomainIdent>).cast(),
            put: dom_put,
        };
        self.invoke(|c, e| f(c, &sink, e))?;
        out.ok_or_else(|| CallError {
            code: VkErrorCode::InternalError,
            message: format!(
                "driver '{}' reported success but returned no domain",
                self.driver.name()
            ),
        })
    }

    fn network(
        &self,
        f: impl FnOnce(VkConn, *const VkNetworkSink, *const VkErrorSink) -> i32,
    ) -> CallResult<NetworkIdent> {
        let mut out: Option<NetworkIdent> = None;
        let sink = VkNetworkSink {
            ctx: (&mut out as *mut Option<NetworkIdent>).cast(),
            put: net_put,
        };
        self.invoke(|c, e| f(c, &sink, e))?;
        out.ok_or_else(|| CallError {
            code: VkErrorCode::InternalError,
            message: format!(
                "driver '{}' reported success but returned no network",
                self.driver.name()
            ),
        })
    }

    fn value<T: Default>(
        &self,
        f: impl FnOnce(VkConn, *mut T, *const VkErrorSink) -> i32,
    ) -> CallResult<T> {
        let mut out = T::default();
        self.invoke(|c, e| f(c, &mut out, e))?;
        Ok(out)
    }

    // ---- connection ----

    /// virConnectGetType.
    pub fn get_type(&self) -> CallResult<String> {
        let f = slot!(self, get_type, GetType);
        // SAFETY: sinks and handle are valid for the call (same for every shim below).
        self.string(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectGetVersion.
    pub fn get_version(&self) -> CallResult<u64> {
        let f = slot!(self, get_version, GetVersion);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectGetHostname.
    pub fn get_hostname(&self) -> CallResult<String> {
        let f = slot!(self, get_hostname, GetHostname);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectGetCapabilities.
    pub fn get_capabilities(&self) -> CallResult<String> {
        let f = slot!(self, get_capabilities, GetCapabilities);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virNodeGetInfo.
    pub fn node_get_info(&self) -> CallResult<VkNodeInfo> {
        let f = slot!(self, node_get_info, NodeGetInfo);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectGetMaxVcpus.
    pub fn get_max_vcpus(&self, domain_type: &str) -> CallResult<i32> {
        let f = slot!(self, get_max_vcpus, GetMaxVcpus);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, VkStr::new(domain_type), o, e) })
    }
    /// virConnectListDomains: ids of the active domains.
    pub fn list_domains(&self) -> CallResult<Vec<i32>> {
        let f = slot!(self, list_domains, ListDomains);
        let mut out: Vec<i32> = Vec::new();
        let sink = VkIntSink {
            ctx: (&mut out as *mut Vec<i32>).cast(),
            push: id_push,
        };
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &sink, e) })?;
        Ok(out)
    }
    /// virConnectNumOfDomains.
    pub fn num_of_domains(&self) -> CallResult<i32> {
        let f = slot!(self, num_of_domains, NumOfDomains);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectListDefinedDomains: names of the inactive persistent domains.
    pub fn list_defined_domains(&self) -> CallResult<Vec<String>> {
        let f = slot!(self, list_defined_domains, ListDefinedDomains);
        // SAFETY: see get_type.
        self.strings(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectNumOfDefinedDomains.
    pub fn num_of_defined_domains(&self) -> CallResult<i32> {
        let f = slot!(self, num_of_defined_domains, NumOfDefinedDomains);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }

    // ---- domains ----

    /// virDomainLookupByID.
    pub fn domain_lookup_by_id(&self, id: i32) -> CallResult<DomainIdent> {
        let f = slot!(self, domain_lookup_by_id, DomainLookupById);
        // SAFETY: see get_type.
        self.domain(|c, o, e| unsafe { f(c, id, o, e) })
    }
    /// virDomainLookupByUUID.
    pub fn domain_lookup_by_uuid(&self, uuid: &[u8; 16]) -> CallResult<DomainIdent> {
        let f = slot!(self, domain_lookup_by_uuid, DomainLookupByUuid);
        // SAFETY: see get_type.
        self.domain(|c, o, e| unsafe { f(c, uuid, o, e) })
    }
    /// virDomainLookupByName.
    pub fn domain_lookup_by_name(&self, name: &str) -> CallResult<DomainIdent> {
        let f = slot!(self, domain_lookup_by_name, DomainLookupByName);
        // SAFETY: see get_type.
        self.domain(|c, o, e| unsafe { f(c, VkStr::new(name), o, e) })
    }
    /// virDomainCreateXML: a transient domain, started.
    pub fn domain_create_xml(&self, xml: &str, flags: u32) -> CallResult<DomainIdent> {
        let f = slot!(self, domain_create_xml, DomainCreateXml);
        // SAFETY: see get_type.
        self.domain(|c, o, e| unsafe { f(c, VkStr::new(xml), flags, o, e) })
    }
    /// virDomainDefineXML.
    pub fn domain_define_xml(&self, xml: &str) -> CallResult<DomainIdent> {
        let f = slot!(self, domain_define_xml, DomainDefineXml);
        // SAFETY: see get_type.
        self.domain(|c, o, e| unsafe { f(c, VkStr::new(xml), o, e) })
    }

    fn dom_action(&self, op: Op, d: &DomainIdent) -> CallResult<()> {
        let t = &self.driver.table;
        let f = match op {
            Op::DomainUndefine => t.domain_undefine,
            Op::DomainCreate => t.domain_create,
            Op::DomainShutdown => t.domain_shutdown,
            Op::DomainDestroy => t.domain_destroy,
            Op::DomainSuspend => t.domain_suspend,
            Op::DomainResume => t.domain_resume,
            _ => None,
        }
        .ok_or_else(|| unsupported(&self.driver, op))?;
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, e) })
    }
    /// virDomainUndefine.
    pub fn domain_undefine(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainUndefine, d)
    }
    /// virDomainCreate: start an inactive domain.
    pub fn domain_create(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainCreate, d)
    }
    /// virDomainShutdown.
    pub fn domain_shutdown(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainShutdown, d)
    }
    /// virDomainDestroy.
    pub fn domain_destroy(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainDestroy, d)
    }
    /// virDomainSuspend.
    pub fn domain_suspend(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainSuspend, d)
    }
    /// virDomainResume.
    pub fn domain_resume(&self, d: &DomainIdent) -> CallResult<()> {
        self.dom_action(Op::DomainResume, d)
    }
    /// virDomainReboot.
    pub fn domain_reboot(&self, d: &DomainIdent, flags: u32) -> CallResult<()> {
        let f = slot!(self, domain_reboot, DomainReboot);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, flags, e) })
    }
    /// virDomainSave.
    pub fn domain_save(&self, d: &DomainIdent, path: &str) -> CallResult<()> {
        let f = slot!(self, domain_save, DomainSave);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, VkStr::new(path), e) })
    }
    /// virDomainRestore.
    pub fn domain_restore(&self, path: &str) -> CallResult<()> {
        let f = slot!(self, domain_restore, DomainRestore);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, VkStr::new(path), e) })
    }
    /// virDomainCoreDump.
    pub fn domain_core_dump(&self, d: &DomainIdent, path: &str, flags: u32) -> CallResult<()> {
        let f = slot!(self, domain_core_dump, DomainCoreDump);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, VkStr::new(path), flags, e) })
    }
    /// virDomainGetInfo.
    pub fn domain_get_info(&self, d: &DomainIdent) -> CallResult<VkDomainInfo> {
        let f = slot!(self, domain_get_info, DomainGetInfo);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
    }
    /// virDomainGetXMLDesc.
    pub fn domain_get_xml_desc(&self, d: &DomainIdent, flags: u32) -> CallResult<String> {
        let f = slot!(self, domain_get_xml_desc, DomainGetXmlDesc);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, &r, flags, o, e) })
    }
    /// virDomainGetOSType.
    pub fn domain_get_os_type(&self, d: &DomainIdent) -> CallResult<String> {
        let f = slot!(self, domain_get_os_type, DomainGetOsType);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, &r, o, e) })
    }
    /// virDomainGetMaxMemory (KiB).
    pub fn domain_get_max_memory(&self, d: &DomainIdent) -> CallResult<u64> {
        let f = slot!(self, domain_get_max_memory, DomainGetMaxMemory);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
    }
    /// virDomainSetMaxMemory (KiB).
    pub fn domain_set_max_memory(&self, d: &DomainIdent, kib: u64) -> CallResult<()> {
        let f = slot!(self, domain_set_max_memory, DomainSetMaxMemory);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, kib, e) })
    }
    /// virDomainSetMemory (KiB).
    pub fn domain_set_memory(&self, d: &DomainIdent, kib: u64) -> CallResult<()> {
        let f = slot!(self, domain_set_memory, DomainSetMemory);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, kib, e) })
    }
    /// virDomainSetVcpus.
    pub fn domain_set_vcpus(&self, d: &DomainIdent, n: u32) -> CallResult<()> {
        let f = slot!(self, domain_set_vcpus, DomainSetVcpus);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, n, e) })
    }
    /// virDomainPinVcpu.
    pub fn domain_pin_vcpu(&self, d: &DomainIdent, vcpu: u32, cpumap: &[u8]) -> CallResult<()> {
        let f = slot!(self, domain_pin_vcpu, DomainPinVcpu);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type; cpumap is valid for its length.
        self.invoke(|c, e| unsafe { f(c, &r, vcpu, cpumap.as_ptr(), cpumap.len(), e) })
    }
    /// virDomainGetVcpus.
    pub fn domain_get_vcpus(&self, d: &DomainIdent) -> CallResult<Vec<VcpuEntry>> {
        let f = slot!(self, domain_get_vcpus, DomainGetVcpus);
        let r = dref(d.id, &d.uuid, &d.name);
        let mut out = VcpuOut {
            entries: Vec::new(),
            too_many: false,
        };
        let sink = VkVcpuSink {
            ctx: (&mut out as *mut VcpuOut).cast(),
            push: vcpu_push,
        };
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, &sink, e) })?;
        if out.too_many {
            return Err(CallError {
                code: VkErrorCode::InternalError,
                message: format!(
                    "internal error: driver '{}' returned more than {MAX_VCPUS} vCPUs or a CPU map \
                     longer than {MAX_CPUMAP_BYTES} bytes",
                    self.driver.name()
                ),
            });
        }
        Ok(out.entries)
    }
    /// virDomainGetAutostart.
    pub fn domain_get_autostart(&self, d: &DomainIdent) -> CallResult<bool> {
        let f = slot!(self, domain_get_autostart, DomainGetAutostart);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
            .map(|v: i32| v != 0)
    }
    /// virDomainSetAutostart.
    pub fn domain_set_autostart(&self, d: &DomainIdent, on: bool) -> CallResult<()> {
        let f = slot!(self, domain_set_autostart, DomainSetAutostart);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, on as i32, e) })
    }
    /// virDomainAttachDevice.
    pub fn domain_attach_device(&self, d: &DomainIdent, xml: &str) -> CallResult<()> {
        let f = slot!(self, domain_attach_device, DomainAttachDevice);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, VkStr::new(xml), e) })
    }
    /// virDomainDetachDevice.
    pub fn domain_detach_device(&self, d: &DomainIdent, xml: &str) -> CallResult<()> {
        let f = slot!(self, domain_detach_device, DomainDetachDevice);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, VkStr::new(xml), e) })
    }

    // ---- networks ----

    /// virConnectListNetworks: names of the active networks.
    pub fn list_networks(&self) -> CallResult<Vec<String>> {
        let f = slot!(self, list_networks, ListNetworks);
        // SAFETY: see get_type.
        self.strings(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectNumOfNetworks.
    pub fn num_of_networks(&self) -> CallResult<i32> {
        let f = slot!(self, num_of_networks, NumOfNetworks);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectListDefinedNetworks: names of the inactive networks.
    pub fn list_defined_networks(&self) -> CallResult<Vec<String>> {
        let f = slot!(self, list_defined_networks, ListDefinedNetworks);
        // SAFETY: see get_type.
        self.strings(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virConnectNumOfDefinedNetworks.
    pub fn num_of_defined_networks(&self) -> CallResult<i32> {
        let f = slot!(self, num_of_defined_networks, NumOfDefinedNetworks);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, o, e) })
    }
    /// virNetworkLookupByUUID.
    pub fn network_lookup_by_uuid(&self, uuid: &[u8; 16]) -> CallResult<NetworkIdent> {
        let f = slot!(self, network_lookup_by_uuid, NetworkLookupByUuid);
        // SAFETY: see get_type.
        self.network(|c, o, e| unsafe { f(c, uuid, o, e) })
    }
    /// virNetworkLookupByName.
    pub fn network_lookup_by_name(&self, name: &str) -> CallResult<NetworkIdent> {
        let f = slot!(self, network_lookup_by_name, NetworkLookupByName);
        // SAFETY: see get_type.
        self.network(|c, o, e| unsafe { f(c, VkStr::new(name), o, e) })
    }
    /// virNetworkCreateXML: a transient network, started.
    pub fn network_create_xml(&self, xml: &str) -> CallResult<NetworkIdent> {
        let f = slot!(self, network_create_xml, NetworkCreateXml);
        // SAFETY: see get_type.
        self.network(|c, o, e| unsafe { f(c, VkStr::new(xml), o, e) })
    }
    /// virNetworkDefineXML.
    pub fn network_define_xml(&self, xml: &str) -> CallResult<NetworkIdent> {
        let f = slot!(self, network_define_xml, NetworkDefineXml);
        // SAFETY: see get_type.
        self.network(|c, o, e| unsafe { f(c, VkStr::new(xml), o, e) })
    }
    fn net_action(&self, op: Op, n: &NetworkIdent) -> CallResult<()> {
        let t = &self.driver.table;
        let f = match op {
            Op::NetworkUndefine => t.network_undefine,
            Op::NetworkCreate => t.network_create,
            Op::NetworkDestroy => t.network_destroy,
            _ => None,
        }
        .ok_or_else(|| unsupported(&self.driver, op))?;
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, e) })
    }
    /// virNetworkUndefine.
    pub fn network_undefine(&self, n: &NetworkIdent) -> CallResult<()> {
        self.net_action(Op::NetworkUndefine, n)
    }
    /// virNetworkCreate: start an inactive network.
    pub fn network_create(&self, n: &NetworkIdent) -> CallResult<()> {
        self.net_action(Op::NetworkCreate, n)
    }
    /// virNetworkDestroy.
    pub fn network_destroy(&self, n: &NetworkIdent) -> CallResult<()> {
        self.net_action(Op::NetworkDestroy, n)
    }
    /// virNetworkGetXMLDesc.
    pub fn network_get_xml_desc(&self, n: &NetworkIdent, flags: u32) -> CallResult<String> {
        let f = slot!(self, network_get_xml_desc, NetworkGetXmlDesc);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, &r, flags, o, e) })
    }
    /// virNetworkGetBridgeName.
    pub fn network_get_bridge_name(&self, n: &NetworkIdent) -> CallResult<String> {
        let f = slot!(self, network_get_bridge_name, NetworkGetBridgeName);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, &r, o, e) })
    }
    /// virNetworkGetAutostart.
    pub fn network_get_autostart(&self, n: &NetworkIdent) -> CallResult<bool> {
        let f = slot!(self, network_get_autostart, NetworkGetAutostart);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
            .map(|v: i32| v != 0)
    }
    /// virNetworkSetAutostart.
    pub fn network_set_autostart(&self, n: &NetworkIdent, on: bool) -> CallResult<()> {
        let f = slot!(self, network_set_autostart, NetworkSetAutostart);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.invoke(|c, e| unsafe { f(c, &r, on as i32, e) })
    }
    // ---- ABI 1.1 ----

    /// virDomainIsPersistent.
    pub fn domain_is_persistent(&self, d: &DomainIdent) -> CallResult<bool> {
        let f = slot!(self, domain_is_persistent, DomainIsPersistent);
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
            .map(|v: i32| v != 0)
    }
    /// virDomainHasManagedSaveImage.
    pub fn domain_has_managed_save_image(&self, d: &DomainIdent, flags: u32) -> CallResult<bool> {
        let f = slot!(
            self,
            domain_has_managed_save_image,
            DomainHasManagedSaveImage
        );
        let r = dref(d.id, &d.uuid, &d.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, flags, o, e) })
            .map(|v: i32| v != 0)
    }
    /// virNodeGetSecurityModel: (model, DOI).
    pub fn node_get_security_model(&self) -> CallResult<(String, String)> {
        let f = slot!(self, node_get_security_model, NodeGetSecurityModel);
        // SAFETY: see get_type.
        let mut v = self.strings(|c, o, e| unsafe { f(c, o, e) })?.into_iter();
        Ok((v.next().unwrap_or_default(), v.next().unwrap_or_default()))
    }
    /// virDomainGetSecurityLabel: (label, enforcing).
    pub fn domain_get_security_label(&self, d: &DomainIdent) -> CallResult<(String, bool)> {
        let f = slot!(self, domain_get_security_label, DomainGetSecurityLabel);
        let r = dref(d.id, &d.uuid, &d.name);
        let mut enforcing = 0i32;
        // SAFETY: see get_type; `enforcing` outlives the call.
        let label = self.string(|c, o, e| unsafe { f(c, &r, o, &mut enforcing, e) })?;
        Ok((label, enforcing != 0))
    }
    /// virDomainGetState: (state, reason).
    pub fn domain_get_state(&self, d: &DomainIdent) -> CallResult<(i32, i32)> {
        let f = slot!(self, domain_get_state, DomainGetState);
        let r = dref(d.id, &d.uuid, &d.name);
        let mut reason = 0i32;
        // SAFETY: see get_type; `reason` outlives the call.
        let state = self.value(|c, o, e| unsafe { f(c, &r, o, &mut reason, e) })?;
        Ok((state, reason))
    }
    /// virConnectDomainXMLFromNative.
    pub fn domain_xml_from_native(
        &self,
        format: &str,
        config: &str,
        flags: u32,
    ) -> CallResult<String> {
        let f = slot!(self, domain_xml_from_native, DomainXmlFromNative);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, VkStr::new(format), VkStr::new(config), flags, o, e) })
    }
    /// virConnectDomainXMLToNative.
    pub fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> CallResult<String> {
        let f = slot!(self, domain_xml_to_native, DomainXmlToNative);
        // SAFETY: see get_type.
        self.string(|c, o, e| unsafe { f(c, VkStr::new(format), VkStr::new(xml), flags, o, e) })
    }
    /// virNetworkIsActive.
    pub fn network_is_active(&self, n: &NetworkIdent) -> CallResult<bool> {
        let f = slot!(self, network_is_active, NetworkIsActive);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
            .map(|v: i32| v != 0)
    }
    /// virNetworkIsPersistent.
    pub fn network_is_persistent(&self, n: &NetworkIdent) -> CallResult<bool> {
        let f = slot!(self, network_is_persistent, NetworkIsPersistent);
        let r = nref(&n.uuid, &n.name);
        // SAFETY: see get_type.
        self.value(|c, o, e| unsafe { f(c, &r, o, e) })
            .map(|v: i32| v != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(out: &mut VcpuOut, map: &[u8]) {
        let info = VkVcpuInfo {
            number: out.entries.len() as u32,
            state: 1,
            cpu_time_ns: 0,
            cpu: 0,
            reserved: 0,
        };
        // SAFETY: ctx is a VcpuOut, info and map are valid for the call.
        unsafe { vcpu_push((out as *mut VcpuOut).cast(), &info, map.as_ptr(), map.len()) };
    }

    #[test]
    fn the_vcpu_sink_keeps_what_a_domain_can_have_and_refuses_more() {
        let mut out = VcpuOut {
            entries: Vec::new(),
            too_many: false,
        };
        for _ in 0..MAX_VCPUS {
            push(&mut out, &[0b1]);
        }
        assert_eq!(out.entries.len(), MAX_VCPUS as usize);
        assert!(!out.too_many);
        push(&mut out, &[0b1]);
        assert!(out.too_many, "a vCPU past the limit is refused");
        assert_eq!(out.entries.len(), MAX_VCPUS as usize);

        let mut out = VcpuOut {
            entries: Vec::new(),
            too_many: false,
        };
        push(&mut out, &vec![0xff; MAX_CPUMAP_BYTES]);
        assert!(!out.too_many);
        push(&mut out, &vec![0xff; MAX_CPUMAP_BYTES + 1]);
        assert!(out.too_many, "a map longer than 16384 CPUs is refused");
        assert_eq!(out.entries.len(), 1);
    }
}
