//! The `extern "C"` shims between the C table and a driver's safe functions.
//!
//! Every shim: checks its pointers, converts arguments to safe types, calls the driver's
//! function inside `catch_unwind`, hands results to the host's sinks, and reports errors
//! (including panics) through the error sink. A shim is installed in a slot only when the
//! corresponding [`Ops`](crate::Ops) field is `Some`, and the capability bits are computed from
//! the slots afterwards, so bits and entries always agree.

use std::any::TypeId;
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock};

use uuid::Uuid;
use virtkit_abi::{
    VK_ABI_MAJOR, VK_CAP_WORDS, VK_DECLINED, VK_MAGIC, VK_OK, VK_OPEN_READ_ONLY, VkConn,
    VkDomainInfo, VkDomainRef, VkDomainSink, VkDriverHeader, VkDriverTable, VkErrorCode,
    VkErrorSink, VkIntSink, VkNetworkRef, VkNetworkSink, VkNodeInfo, VkOpRank, VkStr, VkStrSink,
    VkVcpuSink,
};

use crate::Driver;
use crate::types::{
    DomainIdent, DomainInfo, DomainRef, DomainState, Error, NetworkIdent, NetworkRef, NodeInfo,
    Result, VcpuInfo,
};

/// Runs `f`, turning errors and panics into a status code and an error-sink call.
pub(crate) fn guard(err: *const VkErrorSink, f: impl FnOnce() -> Result<()>) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".into());
        Err(Error::internal(format!("driver panicked: {what}")))
    });
    match outcome {
        Ok(()) => VK_OK,
        Err(e) => {
            if !err.is_null() {
                // SAFETY: a non-NULL error sink is valid for the duration of the call.
                let sink = unsafe { &*err };
                // SAFETY: the sink copies the message before returning.
                unsafe { (sink.set)(sink.ctx, e.code as i32, VkStr::new(&e.message)) };
            }
            e.code as i32
        }
    }
}

fn bad(what: &str) -> Error {
    Error::invalid_arg(format!("{what} is NULL or not UTF-8"))
}

/// # Safety
/// `conn` must be a handle returned by `shim_open::<D>` and not yet closed.
pub(crate) unsafe fn conn_ref<'a, D: Driver>(conn: VkConn) -> Result<&'a D::Conn> {
    if conn.is_null() {
        return Err(Error::new(
            VkErrorCode::InvalidConn,
            "connection handle is NULL",
        ));
    }
    // SAFETY: guaranteed by the caller: the handle is a live Box<D::Conn>.
    Ok(unsafe { &*(conn as *const D::Conn) })
}

/// # Safety
/// `s` must describe memory valid for the call.
pub(crate) unsafe fn in_str<'a>(s: VkStr, what: &str) -> Result<&'a str> {
    if s.len > 0 && s.ptr.is_null() {
        return Err(bad(what));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { s.as_str() }.ok_or_else(|| bad(what))
}

/// Borrows a host sink for the call.
///
/// # Safety
/// `p` must be NULL or point at a sink valid for the call.
unsafe fn sink<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: guaranteed by the caller.
    unsafe { p.as_ref() }.ok_or_else(|| bad(what))
}

/// # Safety
/// `out` must be NULL or valid for writing one `T` for the call.
unsafe fn write_out<T>(out: *mut T, v: T) -> Result<()> {
    if out.is_null() {
        return Err(bad("output pointer"));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { out.write(v) };
    Ok(())
}

/// Fails unless `out` is non-NULL, before the driver runs: a call the host cannot receive the
/// answer of must not change anything.
fn non_null<T>(out: *const T, what: &str) -> Result<()> {
    if out.is_null() {
        Err(bad(what))
    } else {
        Ok(())
    }
}

// ---- arguments (one per `virtkit_abi::ArgShape` that needs converting) ----

/// # Safety
/// `r` must be NULL or point at a `VkDomainRef` whose name is valid for the call.
pub(crate) unsafe fn in_domain<'a>(r: *const VkDomainRef) -> Result<DomainRef<'a>> {
    if r.is_null() {
        return Err(Error::new(
            VkErrorCode::InvalidDomain,
            "domain reference is NULL",
        ));
    }
    // SAFETY: guaranteed by the caller.
    let r = unsafe { &*r };
    // SAFETY: the name is valid for the call.
    let name = unsafe { in_str(r.name, "domain name") }?;
    Ok(DomainRef {
        id: r.id,
        uuid: Uuid::from_bytes(r.uuid),
        name,
    })
}

/// # Safety
/// `r` must be NULL or point at a `VkNetworkRef` whose name is valid for the call.
pub(crate) unsafe fn in_network<'a>(r: *const VkNetworkRef) -> Result<NetworkRef<'a>> {
    if r.is_null() {
        return Err(Error::new(
            VkErrorCode::InvalidNetwork,
            "network reference is NULL",
        ));
    }
    // SAFETY: guaranteed by the caller.
    let r = unsafe { &*r };
    // SAFETY: the name is valid for the call.
    let name = unsafe { in_str(r.name, "network name") }?;
    Ok(NetworkRef {
        uuid: Uuid::from_bytes(r.uuid),
        name,
    })
}

/// # Safety
/// `p` must be NULL or point at 16 readable bytes.
pub(crate) unsafe fn in_uuid(p: *const [u8; 16]) -> Result<Uuid> {
    if p.is_null() {
        return Err(bad("UUID"));
    }
    // SAFETY: guaranteed by the caller.
    Ok(Uuid::from_bytes(unsafe { *p }))
}

/// # Safety
/// `p` must be NULL or point at `len` bytes readable for the call.
pub(crate) unsafe fn in_bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(bad("byte buffer"));
    }
    // SAFETY: guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

// ---- results (one per `virtkit_abi::RetShape`) ----
// Each takes the host's out-parameters and the driver's function, checks the out-parameters
// before the driver runs, and hands the answer over.

pub(crate) fn out_unit(run: impl FnOnce() -> Result<()>) -> Result<()> {
    run()
}

/// # Safety
/// `out` must be NULL or a string sink valid for the call.
pub(crate) unsafe fn out_str(
    out: *const VkStrSink,
    run: impl FnOnce() -> Result<String>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "output sink") }?;
    let s = run()?;
    // SAFETY: the sink is valid for the call and copies the string before returning.
    unsafe { (out.push)(out.ctx, VkStr::new(&s)) };
    Ok(())
}

/// # Safety
/// `out` must be NULL or a string sink valid for the call.
pub(crate) unsafe fn out_str_pair(
    out: *const VkStrSink,
    run: impl FnOnce() -> Result<(String, String)>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "output sink") }?;
    let (a, b) = run()?;
    // SAFETY: the sink is valid for the call and copies each string before returning.
    unsafe {
        (out.push)(out.ctx, VkStr::new(&a));
        (out.push)(out.ctx, VkStr::new(&b));
    }
    Ok(())
}

/// A list of names: each name the driver pushes goes straight into the host's sink.
///
/// # Safety
/// `out` must be NULL or a string sink valid for the call.
pub(crate) unsafe fn out_names(
    out: *const VkStrSink,
    run: impl FnOnce(&mut dyn FnMut(&str)) -> Result<()>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "output sink") }?;
    run(&mut |s: &str| {
        // SAFETY: the sink is valid for the call and copies the string before returning.
        unsafe { (out.push)(out.ctx, VkStr::new(s)) }
    })
}

/// # Safety
/// `out` must be NULL or an integer sink valid for the call.
pub(crate) unsafe fn out_ids(
    out: *const VkIntSink,
    run: impl FnOnce(&mut dyn FnMut(i32)) -> Result<()>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "output sink") }?;
    run(&mut |id| {
        // SAFETY: the sink is valid for the call.
        unsafe { (out.push)(out.ctx, i64::from(id)) }
    })
}

/// # Safety
/// `out` must be NULL or writable for one `i32` for the call.
pub(crate) unsafe fn out_i32(out: *mut i32, run: impl FnOnce() -> Result<i32>) -> Result<()> {
    non_null(out, "output pointer")?;
    let v = run()?;
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(out, v) }
}

/// # Safety
/// `out` must be NULL or writable for one `u64` for the call.
pub(crate) unsafe fn out_u64(out: *mut u64, run: impl FnOnce() -> Result<u64>) -> Result<()> {
    non_null(out, "output pointer")?;
    let v = run()?;
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(out, v) }
}

/// # Safety
/// `out` must be NULL or writable for one `i32` for the call.
pub(crate) unsafe fn out_bool(out: *mut i32, run: impl FnOnce() -> Result<bool>) -> Result<()> {
    non_null(out, "output pointer")?;
    let v = run()?;
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(out, i32::from(v)) }
}

/// # Safety
/// `out` must be NULL or writable for one `VkNodeInfo` for the call.
pub(crate) unsafe fn out_node_info(
    out: *mut VkNodeInfo,
    run: impl FnOnce() -> Result<NodeInfo>,
) -> Result<()> {
    non_null(out, "output pointer")?;
    let raw = run()?.to_raw();
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(out, raw) }
}

/// # Safety
/// `out` must be NULL or writable for one `VkDomainInfo` for the call.
pub(crate) unsafe fn out_domain_info(
    out: *mut VkDomainInfo,
    run: impl FnOnce() -> Result<DomainInfo>,
) -> Result<()> {
    non_null(out, "output pointer")?;
    let raw = run()?.to_raw();
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(out, raw) }
}

/// # Safety
/// `out` must be NULL or a vCPU sink valid for the call.
pub(crate) unsafe fn out_vcpus(
    out: *const VkVcpuSink,
    run: impl FnOnce() -> Result<Vec<VcpuInfo>>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "vCPU sink") }?;
    for v in run()? {
        let raw = v.to_raw();
        // SAFETY: the sink is valid and copies what it is given before returning.
        unsafe { (out.push)(out.ctx, &raw, v.cpumap.as_ptr(), v.cpumap.len()) };
    }
    Ok(())
}

/// # Safety
/// `out` must be NULL or a domain sink valid for the call.
pub(crate) unsafe fn out_new_domain(
    out: *const VkDomainSink,
    run: impl FnOnce() -> Result<DomainIdent>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "domain sink") }?;
    let d = run()?;
    // SAFETY: the sink is valid for the call; the host copies what it is given.
    unsafe { (out.put)(out.ctx, d.id, d.uuid.as_bytes(), VkStr::new(&d.name)) };
    Ok(())
}

/// # Safety
/// `out` must be NULL or a network sink valid for the call.
pub(crate) unsafe fn out_new_network(
    out: *const VkNetworkSink,
    run: impl FnOnce() -> Result<NetworkIdent>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "network sink") }?;
    let n = run()?;
    // SAFETY: the sink is valid for the call; the host copies what it is given.
    unsafe { (out.put)(out.ctx, n.uuid.as_bytes(), VkStr::new(&n.name)) };
    Ok(())
}

/// A domain lookup, which answers through a callback: the answer goes straight into the
/// host's sink, borrowed from the driver's state and copied once, by the host. Success without
/// an answer is a bug of the driver, reported as an internal error.
///
/// # Safety
/// `out` must be NULL or a domain sink valid for the call.
pub(crate) unsafe fn out_domain_found(
    out: *const VkDomainSink,
    field: &str,
    lookup: impl FnOnce(&mut dyn FnMut(DomainRef<'_>)) -> Result<()>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "domain sink") }?;
    let mut answered = false;
    lookup(&mut |d| {
        answered = true;
        // SAFETY: the sink is valid for the call; the host copies what it is given.
        unsafe { (out.put)(out.ctx, d.id, d.uuid.as_bytes(), VkStr::new(d.name)) };
    })?;
    if answered {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "{field} succeeded without a domain"
        )))
    }
}

/// [`out_domain_found`] for networks.
///
/// # Safety
/// `out` must be NULL or a network sink valid for the call.
pub(crate) unsafe fn out_network_found(
    out: *const VkNetworkSink,
    field: &str,
    lookup: impl FnOnce(&mut dyn FnMut(NetworkRef<'_>)) -> Result<()>,
) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "network sink") }?;
    let mut answered = false;
    lookup(&mut |n| {
        answered = true;
        // SAFETY: the sink is valid for the call; the host copies what it is given.
        unsafe { (out.put)(out.ctx, n.uuid.as_bytes(), VkStr::new(n.name)) };
    })?;
    if answered {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "{field} succeeded without a network"
        )))
    }
}

/// # Safety
/// `out` must be NULL or a string sink, and `enforcing` NULL or writable for one `i32`, both
/// valid for the call.
pub(crate) unsafe fn out_label(
    out: *const VkStrSink,
    enforcing: *mut i32,
    run: impl FnOnce() -> Result<(String, bool)>,
) -> Result<()> {
    non_null(enforcing, "output pointer")?;
    let mut enf = false;
    // SAFETY: guaranteed by the caller.
    unsafe {
        out_str(out, || {
            let (label, e) = run()?;
            enf = e;
            Ok(label)
        })
    }?;
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(enforcing, i32::from(enf)) }
}

/// # Safety
/// `state` and `reason` must each be NULL or writable for one `i32` for the call.
pub(crate) unsafe fn out_state(
    state: *mut i32,
    reason: *mut i32,
    run: impl FnOnce() -> Result<(DomainState, i32)>,
) -> Result<()> {
    non_null(state, "output pointer")?;
    non_null(reason, "output pointer")?;
    let (s, r) = run()?;
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(state, s as i32) }?;
    // SAFETY: as above.
    unsafe { write_out(reason, r) }
}

pub(crate) fn missing(field: &str) -> Error {
    Error::no_support(format!("{field} is not implemented"))
}

unsafe extern "C" fn shim_open<D: Driver>(
    uri: VkStr,
    flags: u32,
    conn_out: *mut VkConn,
    err: *const VkErrorSink,
) -> i32 {
    let mut declined = false;
    let rc = guard(err, || {
        // SAFETY: the URI is valid for the call.
        let uri = unsafe { in_str(uri, "URI") }?;
        match D::open(uri, flags & VK_OPEN_READ_ONLY != 0)? {
            None => {
                declined = true;
                Ok(())
            }
            Some(conn) => {
                let handle = Box::into_raw(Box::new(conn)).cast::<c_void>();
                // SAFETY: the host's output pointer is valid for the call.
                unsafe { write_out(conn_out, handle) }.inspect_err(|_| {
                    // SAFETY: reclaim the box we just leaked; nobody else saw it.
                    drop(unsafe { Box::from_raw(handle.cast::<D::Conn>()) });
                })
            }
        }
    });
    if rc == VK_OK && declined {
        VK_DECLINED
    } else {
        rc
    }
}

unsafe extern "C" fn shim_close<D: Driver>(conn: VkConn) -> i32 {
    guard(std::ptr::null(), || {
        if !conn.is_null() {
            // SAFETY: the host closes each handle from open exactly once.
            drop(unsafe { Box::from_raw(conn.cast::<D::Conn>()) });
        }
        Ok(())
    })
}

/// Builds the C table for driver `D`: shims where `D::OPS` has functions, NULL elsewhere, and
/// capability bits computed from the slots.
pub fn build_table<D: Driver>() -> VkDriverTable {
    let info = D::INFO;
    let schemes: &'static [VkStr] = Box::leak(
        info.schemes
            .iter()
            .map(|s| VkStr::new(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let op_ranks: &'static [VkOpRank] = Box::leak(
        info.op_ranks
            .iter()
            .map(|(op, rank)| VkOpRank {
                op: *op as u32,
                rank: *rank,
            })
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let header = VkDriverHeader {
        magic: VK_MAGIC,
        abi_major: VK_ABI_MAJOR,
        // The latest minor, or the older one a target-abi feature asks for (crate::target).
        abi_minor: crate::target::TARGET_ABI_MINOR,
        struct_size: crate::target::target_table_size() as u32,
        flags: info.flags,
        name: VkStr::new(info.name),
        version: VkStr::new(info.version),
        schemes: schemes.as_ptr(),
        n_schemes: schemes.len(),
        error_domain: info.error_domain,
        stack_rank: info.stack_rank,
        op_ranks: if op_ranks.is_empty() {
            std::ptr::null()
        } else {
            op_ranks.as_ptr()
        },
        n_op_ranks: op_ranks.len(),
        sandbox_uri: VkStr::new(info.sandbox_uri),
        caps: [0; VK_CAP_WORDS],
        // Rust drivers have the host services natively: the same URI parser (`Uri`) and the
        // same XML model (virtkit-xml) the host uses for C drivers.
        host_init: None,
        reserved: [0; 3],
    };
    let mut t = VkDriverTable::empty(header);
    t.open = Some(shim_open::<D>);
    t.close = Some(shim_close::<D>);
    crate::ops::install::<D>(&mut t);
    // A slot the declared minor does not have stays out of the table (the export macros refuse
    // to compile such a driver; this keeps a direct caller's table valid too).
    let slots = (crate::target::target_table_size() - virtkit_abi::VK_HEADER_SIZE)
        / virtkit_abi::VK_SLOT_SIZE;
    for (i, present) in t.present_slots().iter().enumerate() {
        if i >= slots && *present {
            // SAFETY: the slot lies inside the table; writing None (all-zero) into a nullable
            // function pointer slot is always valid.
            unsafe {
                let base = (&mut t as *mut VkDriverTable).cast::<u8>();
                base.add(VkDriverTable::SLOT_OFFSETS[i])
                    .cast::<Option<unsafe extern "C" fn()>>()
                    .write(None);
            }
        }
    }
    for (i, present) in t.present_slots().iter().enumerate() {
        if *present {
            t.header.caps[i / 64] |= 1u64 << (i % 64);
        }
    }
    t
}

/// The table for `D`, built on first use and kept for the life of the process.
pub(crate) fn table_for<D: Driver>() -> *const VkDriverTable {
    static TABLES: OnceLock<Mutex<HashMap<TypeId, usize>>> = OnceLock::new();
    let mut map = TABLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let addr = *map.entry(TypeId::of::<D>()).or_insert_with(|| {
        Box::leak(Box::new(build_table::<D>())) as *const VkDriverTable as usize
    });
    addr as *const VkDriverTable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DriverInfo, Ops};

    struct Two;
    impl Driver for Two {
        type Conn = ();
        const INFO: DriverInfo = DriverInfo::new("two", "1.0.0", &["two"]);
        const OPS: Ops<()> = Ops {
            get_type: Some(|_| Ok("TWO".into())),
            domain_suspend: Some(|_, _| panic!("boom")),
            ..Ops::NONE
        };
        fn open(uri: &str, _ro: bool) -> Result<Option<()>> {
            Ok(uri.starts_with("two:").then_some(()))
        }
    }

    #[test]
    fn bits_follow_slots() {
        let t = build_table::<Two>();
        let present = t.present_slots();
        for (i, p) in present.iter().enumerate() {
            assert_eq!(t.header.has_cap(i), *p, "slot {i}");
        }
        assert_eq!(present.iter().filter(|p| **p).count(), 4);
    }

    #[test]
    fn panics_become_internal_errors() {
        let t = build_table::<Two>();
        let mut conn: VkConn = std::ptr::null_mut();
        // SAFETY: test calls with valid pointers.
        let rc =
            unsafe { (t.open.unwrap())(VkStr::new("two:///"), 0, &mut conn, std::ptr::null()) };
        assert_eq!(rc, VK_OK);
        let name = "x";
        let r = VkDomainRef {
            id: 1,
            uuid: [0; 16],
            name: VkStr::new(name),
        };
        let mut got: (i32, String) = (0, String::new());
        unsafe extern "C" fn set(ctx: *mut c_void, code: i32, m: VkStr) {
            // SAFETY: ctx is &mut (i32, String).
            let g = unsafe { &mut *(ctx as *mut (i32, String)) };
            // SAFETY: valid for the call.
            *g = (code, unsafe { m.as_str() }.unwrap_or("").to_string());
        }
        let sink = VkErrorSink {
            ctx: (&mut got as *mut (i32, String)).cast(),
            set,
        };
        // SAFETY: valid pointers.
        let rc = unsafe { (t.domain_suspend.unwrap())(conn, &r, &sink) };
        assert_eq!(rc, VkErrorCode::InternalError as i32);
        assert_eq!(got.0, VkErrorCode::InternalError as i32);
        assert!(got.1.contains("boom"), "{}", got.1);
        // SAFETY: closing the handle we opened.
        unsafe { (t.close.unwrap())(conn) };
    }

    /// A driver whose lists and lookups answer from a static table, and whose lookup by id
    /// forgets to answer.
    struct Lists;
    const NAMES: [&str; 3] = ["a", "bb", "ccc"];
    impl Driver for Lists {
        type Conn = ();
        const INFO: DriverInfo = DriverInfo::new("lists", "1.0.0", &["lists"]);
        const OPS: Ops<()> = Ops {
            list_domains: Some(|_, out| {
                (1..=3).for_each(out);
                Ok(())
            }),
            list_defined_domains: Some(|_, out| {
                NAMES.iter().for_each(|n| out(n));
                Ok(())
            }),
            domain_lookup_by_name: Some(|_, name, out| {
                let id = NAMES.iter().position(|n| *n == name).ok_or_else(|| {
                    Error::no_domain(format!("no domain with matching name '{name}'"))
                })?;
                out(DomainRef {
                    id: id as i32,
                    uuid: Uuid::from_u128(id as u128),
                    name: NAMES[id],
                });
                Ok(())
            }),
            domain_lookup_by_id: Some(|_, _, _| Ok(())),
            ..Ops::NONE
        };
        fn open(_uri: &str, _ro: bool) -> Result<Option<()>> {
            Ok(Some(()))
        }
    }

    unsafe extern "C" fn push_name(ctx: *mut c_void, s: VkStr) {
        // SAFETY: ctx is the &mut Vec<String> of the test; the string is valid for the call.
        unsafe { &mut *(ctx as *mut Vec<String>) }.push(unsafe { s.as_str() }.unwrap().into());
    }
    unsafe extern "C" fn push_id(ctx: *mut c_void, v: i64) {
        // SAFETY: ctx is the &mut Vec<i64> of the test.
        unsafe { &mut *(ctx as *mut Vec<i64>) }.push(v);
    }
    unsafe extern "C" fn put_dom(ctx: *mut c_void, id: i32, uuid: *const [u8; 16], name: VkStr) {
        // SAFETY: ctx is the test's Vec; uuid and name are valid for the call.
        let got = unsafe { &mut *(ctx as *mut Vec<(i32, u128, String)>) };
        // SAFETY: as above.
        let (uuid, name) = unsafe { (u128::from_be_bytes(*uuid), name.as_str().unwrap()) };
        got.push((id, uuid, name.into()));
    }

    #[test]
    fn lists_and_lookups_answer_through_the_host_sinks() {
        let t = build_table::<Lists>();
        let mut conn: VkConn = std::ptr::null_mut();
        let err = std::ptr::null();
        // SAFETY: valid pointers throughout; each sink's ctx is the matching local.
        unsafe {
            assert_eq!(
                (t.open.unwrap())(VkStr::new("lists:///"), 0, &mut conn, err),
                VK_OK
            );
            let mut names: Vec<String> = Vec::new();
            let sink = VkStrSink {
                ctx: (&mut names as *mut Vec<String>).cast(),
                push: push_name,
            };
            assert_eq!((t.list_defined_domains.unwrap())(conn, &sink, err), VK_OK);
            assert_eq!(names, NAMES);
            let mut ids: Vec<i64> = Vec::new();
            let sink = VkIntSink {
                ctx: (&mut ids as *mut Vec<i64>).cast(),
                push: push_id,
            };
            assert_eq!((t.list_domains.unwrap())(conn, &sink, err), VK_OK);
            assert_eq!(ids, [1, 2, 3]);
            let mut got: Vec<(i32, u128, String)> = Vec::new();
            let sink = VkDomainSink {
                ctx: (&mut got as *mut Vec<(i32, u128, String)>).cast(),
                put: put_dom,
            };
            let by_name = t.domain_lookup_by_name.unwrap();
            assert_eq!(by_name(conn, VkStr::new("bb"), &sink, err), VK_OK);
            assert_eq!(got, [(1, 1, "bb".to_string())]);
            let rc = by_name(conn, VkStr::new("zz"), &sink, err);
            assert_eq!(rc, VkErrorCode::NoDomain as i32);
            // Success without an answer is the driver's bug, not a domain.
            let rc = (t.domain_lookup_by_id.unwrap())(conn, 1, &sink, err);
            assert_eq!(rc, VkErrorCode::InternalError as i32);
            assert_eq!(got.len(), 1);
            // A NULL sink is refused before the driver runs.
            let rc = by_name(conn, VkStr::new("a"), std::ptr::null(), err);
            assert_eq!(rc, VkErrorCode::InvalidArg as i32);
            (t.close.unwrap())(conn);
        }
    }

    #[test]
    fn declining_open() {
        let t = build_table::<Two>();
        let mut conn: VkConn = std::ptr::null_mut();
        // SAFETY: valid pointers.
        let rc =
            unsafe { (t.open.unwrap())(VkStr::new("other:///"), 0, &mut conn, std::ptr::null()) };
        assert_eq!(rc, VK_DECLINED);
        assert!(conn.is_null());
    }
}
