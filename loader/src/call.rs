//! The host side of every call: sinks, error collection and one safe shim per operation.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use virtkit_abi::{
    MAX_HOST_CPUS, MAX_VCPUS, Op, Slot, VK_DECLINED, VK_OK, VkConn, VkDomainInfo, VkDomainRef,
    VkDomainSink, VkErrorCode, VkErrorSink, VkIntSink, VkNetworkRef, VkNetworkSink, VkNodeInfo,
    VkStr, VkStrSink, VkVcpuInfo, VkVcpuSink,
};

use crate::validate::Driver;

/// An error returned by a driver entry, or "not supported" for a NULL slot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// The stable error code.
    pub code: VkErrorCode,
    /// The driver's message (or a generic one when the driver gave none).
    pub message: String,
}

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
    let cpumap = if map.is_null() || len == 0 {
        Vec::new()
    } else {
        // SAFETY: the driver passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(map, len) }.to_vec()
    };
    // SAFETY: non-NULL info points at a VkVcpuInfo.
    let info = unsafe { *info };
    out.entries.push(VcpuEntry { info, cpumap });
}

/// How the core names a domain to a driver; the name is borrowed from `d`.
pub(crate) fn dom_ref(d: &DomainIdent) -> VkDomainRef {
    VkDomainRef {
        id: d.id,
        uuid: d.uuid,
        name: VkStr::new(&d.name),
    }
}

/// How the core names a network to a driver; the name is borrowed from `n`.
pub(crate) fn net_ref(n: &NetworkIdent) -> VkNetworkRef {
    VkNetworkRef {
        uuid: n.uuid,
        name: VkStr::new(&n.name),
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
    CallError::unsupported(op, &[driver.name()])
}

impl CallError {
    /// "Not supported" for `op`, naming the drivers that lack it (libvirt's message, then which
    /// drivers were asked).
    pub fn unsupported(op: Op, drivers: &[&str]) -> CallError {
        let detail = format!("{} (driver '{}')", op.info().api, drivers.join("', '"));
        CallError {
            code: VkErrorCode::NoSupport,
            message: VkErrorCode::NoSupport.message_with(&detail),
        }
    }
}

fn to_error(rc: i32, slot: ErrSlot) -> CallError {
    let code = VkErrorCode::from_raw(if slot.code != 0 { slot.code } else { rc });
    let message = slot
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| code.message().to_string());
    CallError { code, message }
}

/// An operation the host can call on one driver connection: a [`virtkit_abi::slots`] marker
/// with the safe types of its arguments and result. The core dispatches through it, so the
/// operation it checks (read-only, support, stack rank) is, by construction, the slot it calls.
/// Implemented for every marker by the generated `ops.rs`.
pub trait HostCall: Slot {
    /// The arguments, as a tuple of borrowed or copied values.
    type Args<'a>: Copy;
    /// The result.
    type Output;
    /// Calls the operation on `conn`.
    fn call(conn: &DriverConn, args: Self::Args<'_>) -> CallResult<Self::Output>;
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

    /// The slot of operation `S`, or "not supported" naming its API when it is NULL.
    pub(crate) fn slot<S: Slot>(&self) -> CallResult<S::Fn> {
        S::get(&self.driver.table).ok_or_else(|| unsupported(&self.driver, S::OP))
    }

    // One helper per result shape (`virtkit_abi::RetShape`): each provides the out-parameters
    // of that shape, owned here and alive for the call, runs the call through `invoke` and
    // converts what the driver put there.

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

    pub(crate) fn ret_unit(
        &self,
        f: impl FnOnce(VkConn, *const VkErrorSink) -> i32,
    ) -> CallResult<()> {
        self.invoke(f)
    }

    pub(crate) fn ret_names(
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

    pub(crate) fn ret_str(
        &self,
        f: impl FnOnce(VkConn, *const VkStrSink, *const VkErrorSink) -> i32,
    ) -> CallResult<String> {
        Ok(self.ret_names(f)?.concat())
    }

    pub(crate) fn ret_str_pair(
        &self,
        f: impl FnOnce(VkConn, *const VkStrSink, *const VkErrorSink) -> i32,
    ) -> CallResult<(String, String)> {
        let mut v = self.ret_names(f)?.into_iter();
        Ok((v.next().unwrap_or_default(), v.next().unwrap_or_default()))
    }

    pub(crate) fn ret_ids(
        &self,
        f: impl FnOnce(VkConn, *const VkIntSink, *const VkErrorSink) -> i32,
    ) -> CallResult<Vec<i32>> {
        let mut out: Vec<i32> = Vec::new();
        let sink = VkIntSink {
            ctx: (&mut out as *mut Vec<i32>).cast(),
            push: id_push,
        };
        self.invoke(|c, e| f(c, &sink, e))?;
        Ok(out)
    }

    pub(crate) fn ret_domain(
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

    pub(crate) fn ret_network(
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

    pub(crate) fn ret_vcpus(
        &self,
        f: impl FnOnce(VkConn, *const VkVcpuSink, *const VkErrorSink) -> i32,
    ) -> CallResult<Vec<VcpuEntry>> {
        let mut out = VcpuOut {
            entries: Vec::new(),
            too_many: false,
        };
        let sink = VkVcpuSink {
            ctx: (&mut out as *mut VcpuOut).cast(),
            push: vcpu_push,
        };
        self.invoke(|c, e| f(c, &sink, e))?;
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

    fn value<T: Default>(
        &self,
        f: impl FnOnce(VkConn, *mut T, *const VkErrorSink) -> i32,
    ) -> CallResult<T> {
        let mut out = T::default();
        self.invoke(|c, e| f(c, &mut out, e))?;
        Ok(out)
    }

    pub(crate) fn ret_i32(
        &self,
        f: impl FnOnce(VkConn, *mut i32, *const VkErrorSink) -> i32,
    ) -> CallResult<i32> {
        self.value(f)
    }

    pub(crate) fn ret_u64(
        &self,
        f: impl FnOnce(VkConn, *mut u64, *const VkErrorSink) -> i32,
    ) -> CallResult<u64> {
        self.value(f)
    }

    pub(crate) fn ret_bool(
        &self,
        f: impl FnOnce(VkConn, *mut i32, *const VkErrorSink) -> i32,
    ) -> CallResult<bool> {
        Ok(self.value(f)? != 0)
    }

    pub(crate) fn ret_node_info(
        &self,
        f: impl FnOnce(VkConn, *mut VkNodeInfo, *const VkErrorSink) -> i32,
    ) -> CallResult<VkNodeInfo> {
        self.value(f)
    }

    pub(crate) fn ret_domain_info(
        &self,
        f: impl FnOnce(VkConn, *mut VkDomainInfo, *const VkErrorSink) -> i32,
    ) -> CallResult<VkDomainInfo> {
        self.value(f)
    }

    pub(crate) fn ret_label(
        &self,
        f: impl FnOnce(VkConn, *const VkStrSink, *mut i32, *const VkErrorSink) -> i32,
    ) -> CallResult<(String, bool)> {
        let mut enforcing = 0i32;
        let label = self.ret_str(|c, o, e| f(c, o, &mut enforcing, e))?;
        Ok((label, enforcing != 0))
    }

    pub(crate) fn ret_state(
        &self,
        f: impl FnOnce(VkConn, *mut i32, *mut i32, *const VkErrorSink) -> i32,
    ) -> CallResult<(i32, i32)> {
        let mut reason = 0i32;
        let state = self.value(|c, o, e| f(c, o, &mut reason, e))?;
        Ok((state, reason))
    }
}

#[cfg(test)]
mod vcpu_sink_tests {
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
