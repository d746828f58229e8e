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
use crate::types::{DomainRef, Error, NetworkRef, Result};

/// Runs `f`, turning errors and panics into a status code and an error-sink call.
fn guard(err: *const VkErrorSink, f: impl FnOnce() -> Result<()>) -> i32 {
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
unsafe fn conn_ref<'a, D: Driver>(conn: VkConn) -> Result<&'a D::Conn> {
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
unsafe fn in_str<'a>(s: VkStr, what: &str) -> Result<&'a str> {
    if s.len > 0 && s.ptr.is_null() {
        return Err(bad(what));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { s.as_str() }.ok_or_else(|| bad(what))
}

/// # Safety
/// `r` must be NULL or valid for the call.
unsafe fn dom_ref<'a>(r: *const VkDomainRef) -> Result<DomainRef<'a>> {
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
/// `r` must be NULL or valid for the call.
unsafe fn net_ref<'a>(r: *const VkNetworkRef) -> Result<NetworkRef<'a>> {
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

/// Borrows a host sink for the call.
///
/// # Safety
/// `p` must be NULL or point at a sink valid for the call.
unsafe fn sink<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: guaranteed by the caller.
    unsafe { p.as_ref() }.ok_or_else(|| bad(what))
}

/// # Safety
/// `out` must be NULL or a valid sink.
unsafe fn push_str(out: *const VkStrSink, s: &str) -> Result<()> {
    if out.is_null() {
        return Err(bad("output sink"));
    }
    // SAFETY: guaranteed by the caller; the host copies the string.
    unsafe { ((*out).push)((*out).ctx, VkStr::new(s)) };
    Ok(())
}

/// # Safety
/// `out` must be NULL or a valid pointer to writable `T`.
unsafe fn write_out<T>(out: *mut T, v: T) -> Result<()> {
    if out.is_null() {
        return Err(bad("output pointer"));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { out.write(v) };
    Ok(())
}

/// # Safety
/// `out` must be NULL or a valid sink.
unsafe fn put_domain(out: *const VkDomainSink, d: DomainRef<'_>) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "domain sink") }?;
    // SAFETY: the sink is valid for the call; the host copies what it is given.
    unsafe { (out.put)(out.ctx, d.id, d.uuid.as_bytes(), VkStr::new(d.name)) };
    Ok(())
}

/// # Safety
/// `out` must be NULL or a valid sink.
unsafe fn put_network(out: *const VkNetworkSink, n: NetworkRef<'_>) -> Result<()> {
    // SAFETY: guaranteed by the caller.
    let out = unsafe { sink(out, "network sink") }?;
    // SAFETY: the sink is valid for the call; the host copies what it is given.
    unsafe { (out.put)(out.ctx, n.uuid.as_bytes(), VkStr::new(n.name)) };
    Ok(())
}

/// Runs a domain lookup, which answers through a callback: the answer goes straight into the
/// host's sink, borrowed from the driver's state and copied once, by the host. Success without an
/// answer is a bug of the driver, reported as an internal error.
///
/// # Safety
/// `out` must be NULL or a valid sink.
unsafe fn found_domain(
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

/// [`found_domain`] for networks.
///
/// # Safety
/// `out` must be NULL or a valid sink.
unsafe fn found_network(
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
/// `p` must be NULL or point at 16 readable bytes.
unsafe fn in_uuid(p: *const [u8; 16]) -> Result<Uuid> {
    if p.is_null() {
        return Err(bad("UUID"));
    }
    // SAFETY: guaranteed by the caller.
    Ok(Uuid::from_bytes(unsafe { *p }))
}

fn missing(field: &str) -> Error {
    Error::no_support(format!("{field} is not implemented"))
}

/// Defines a shim for one `Ops` field: `$name<D>(conn, args..., err)`; `$f` is the driver's
/// function and `$c` its connection state inside `$body`.
macro_rules! shim {
    ($name:ident, $field:ident, ($($arg:ident : $ty:ty),*), |$f:ident, $c:ident| $body:block) => {
        unsafe extern "C" fn $name<D: Driver>(conn: VkConn, $($arg: $ty,)* err: *const VkErrorSink) -> i32 {
            guard(err, || {
                let Some($f) = D::OPS.$field else { return Err(missing(stringify!($field))) };
                // SAFETY: the core only passes handles returned by this driver's open.
                let $c = unsafe { conn_ref::<D>(conn) }?;
                $body
            })
        }
    };
}

/// A shim returning one string.
macro_rules! str_shim {
    ($name:ident, $field:ident) => {
        shim!($name, $field, (out: *const VkStrSink), |f, c| {
            let s = f(c)?;
            // SAFETY: the host's sink is valid for the call.
            unsafe { push_str(out, &s) }
        });
    };
}

/// A shim for a list of names: each name the driver pushes goes straight into the host's sink.
macro_rules! list_shim {
    ($name:ident, $field:ident) => {
        shim!($name, $field, (out: *const VkStrSink), |f, c| {
            // SAFETY: the host's sink is valid for the call.
            let out = unsafe { sink(out, "output sink") }?;
            f(c, &mut |s: &str| {
                // SAFETY: the sink is valid for the call and copies the string before returning.
                unsafe { (out.push)(out.ctx, VkStr::new(s)) }
            })
        });
    };
}

/// A shim returning a count.
macro_rules! count_shim {
    ($name:ident, $field:ident) => {
        shim!($name, $field, (out: *mut i32), |f, c| {
            let n = f(c)?;
            // SAFETY: the host's output pointer is valid for the call.
            unsafe { write_out(out, n) }
        });
    };
}

/// A shim for a domain action with no other argument.
macro_rules! dom_action_shim {
    ($name:ident, $field:ident) => {
        shim!($name, $field, (dom: *const VkDomainRef), |f, c| {
            // SAFETY: the host's reference is valid for the call.
            let d = unsafe { dom_ref(dom) }?;
            f(c, &d)
        });
    };
}

/// A shim for a network action with no other argument.
macro_rules! net_action_shim {
    ($name:ident, $field:ident) => {
        shim!($name, $field, (net: *const VkNetworkRef), |f, c| {
            // SAFETY: the host's reference is valid for the call.
            let n = unsafe { net_ref(net) }?;
            f(c, &n)
        });
    };
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

str_shim!(shim_get_type, get_type);
str_shim!(shim_get_hostname, get_hostname);
str_shim!(shim_get_capabilities, get_capabilities);
list_shim!(shim_list_defined_domains, list_defined_domains);
list_shim!(shim_list_networks, list_networks);
list_shim!(shim_list_defined_networks, list_defined_networks);
count_shim!(shim_num_of_domains, num_of_domains);
count_shim!(shim_num_of_defined_domains, num_of_defined_domains);
count_shim!(shim_num_of_networks, num_of_networks);
count_shim!(shim_num_of_defined_networks, num_of_defined_networks);
dom_action_shim!(shim_domain_undefine, domain_undefine);
dom_action_shim!(shim_domain_create, domain_create);
dom_action_shim!(shim_domain_shutdown, domain_shutdown);
dom_action_shim!(shim_domain_destroy, domain_destroy);
dom_action_shim!(shim_domain_suspend, domain_suspend);
dom_action_shim!(shim_domain_resume, domain_resume);
net_action_shim!(shim_network_undefine, network_undefine);
net_action_shim!(shim_network_create, network_create);
net_action_shim!(shim_network_destroy, network_destroy);

shim!(shim_get_version, get_version, (out: *mut u64), |f, c| {
    let v = f(c)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v) }
});
shim!(shim_node_get_info, node_get_info, (out: *mut VkNodeInfo), |f, c| {
    let raw = f(c)?.to_raw();
    // SAFETY: valid output pointer.
    unsafe { write_out(out, raw) }
});
shim!(shim_get_max_vcpus, get_max_vcpus, (ty: VkStr, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let ty = unsafe { in_str(ty, "domain type") }?;
    let n = f(c, ty)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, n) }
});
shim!(shim_list_domains, list_domains, (out: *const VkIntSink), |f, c| {
    // SAFETY: the host's sink is valid for the call.
    let out = unsafe { sink(out, "output sink") }?;
    f(c, &mut |id| {
        // SAFETY: the sink is valid for the call.
        unsafe { (out.push)(out.ctx, i64::from(id)) }
    })
});
shim!(shim_domain_lookup_by_id, domain_lookup_by_id, (id: i32, out: *const VkDomainSink), |f, c| {
    // SAFETY: valid sink.
    unsafe { found_domain(out, "domain_lookup_by_id", |put| f(c, id, put)) }
});
shim!(shim_domain_lookup_by_uuid, domain_lookup_by_uuid, (uuid: *const [u8; 16], out: *const VkDomainSink), |f, c| {
    // SAFETY: valid for the call.
    let u = unsafe { in_uuid(uuid) }?;
    // SAFETY: valid sink.
    unsafe { found_domain(out, "domain_lookup_by_uuid", |put| f(c, &u, put)) }
});
shim!(shim_domain_lookup_by_name, domain_lookup_by_name, (name: VkStr, out: *const VkDomainSink), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { in_str(name, "domain name") }?;
    // SAFETY: valid sink.
    unsafe { found_domain(out, "domain_lookup_by_name", |put| f(c, n, put)) }
});
shim!(shim_domain_create_xml, domain_create_xml, (xml: VkStr, flags: u32, out: *const VkDomainSink), |f, c| {
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    let d = f(c, x, flags)?;
    // SAFETY: valid sink.
    unsafe { put_domain(out, (&d).into()) }
});
shim!(shim_domain_define_xml, domain_define_xml, (xml: VkStr, out: *const VkDomainSink), |f, c| {
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    let d = f(c, x)?;
    // SAFETY: valid sink.
    unsafe { put_domain(out, (&d).into()) }
});
shim!(shim_domain_reboot, domain_reboot, (dom: *const VkDomainRef, flags: u32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    f(c, &d, flags)
});
shim!(shim_domain_save, domain_save, (dom: *const VkDomainRef, path: VkStr), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    // SAFETY: valid for the call.
    let p = unsafe { in_str(path, "path") }?;
    f(c, &d, p)
});
shim!(shim_domain_restore, domain_restore, (path: VkStr), |f, c| {
    // SAFETY: valid for the call.
    let p = unsafe { in_str(path, "path") }?;
    f(c, p)
});
shim!(shim_domain_core_dump, domain_core_dump, (dom: *const VkDomainRef, path: VkStr, flags: u32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    // SAFETY: valid for the call.
    let p = unsafe { in_str(path, "path") }?;
    f(c, &d, p, flags)
});
shim!(shim_domain_get_info, domain_get_info, (dom: *const VkDomainRef, out: *mut VkDomainInfo), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let raw = f(c, &d)?.to_raw();
    // SAFETY: valid output pointer.
    unsafe { write_out(out, raw) }
});
shim!(shim_domain_get_xml_desc, domain_get_xml_desc, (dom: *const VkDomainRef, flags: u32, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let s = f(c, &d, flags)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});
shim!(shim_domain_get_os_type, domain_get_os_type, (dom: *const VkDomainRef, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let s = f(c, &d)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});
shim!(shim_domain_get_max_memory, domain_get_max_memory, (dom: *const VkDomainRef, out: *mut u64), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let v = f(c, &d)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v) }
});
shim!(shim_domain_set_max_memory, domain_set_max_memory, (dom: *const VkDomainRef, kib: u64), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    f(c, &d, kib)
});
shim!(shim_domain_set_memory, domain_set_memory, (dom: *const VkDomainRef, kib: u64), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    f(c, &d, kib)
});
shim!(shim_domain_set_vcpus, domain_set_vcpus, (dom: *const VkDomainRef, n: u32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    f(c, &d, n)
});
shim!(shim_domain_pin_vcpu, domain_pin_vcpu, (dom: *const VkDomainRef, vcpu: u32, map: *const u8, len: usize), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    if map.is_null() && len > 0 {
        return Err(bad("CPU map"));
    }
    let cpumap = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the host passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(map, len) }
    };
    f(c, &d, vcpu, cpumap)
});
shim!(shim_domain_get_vcpus, domain_get_vcpus, (dom: *const VkDomainRef, out: *const VkVcpuSink), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    if out.is_null() {
        return Err(bad("vCPU sink"));
    }
    for v in f(c, &d)? {
        let raw = v.to_raw();
        // SAFETY: the host's sink is valid and copies what it is given.
        unsafe { ((*out).push)((*out).ctx, &raw, v.cpumap.as_ptr(), v.cpumap.len()) };
    }
    Ok(())
});
shim!(shim_domain_get_autostart, domain_get_autostart, (dom: *const VkDomainRef, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let v = f(c, &d)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});
shim!(shim_domain_set_autostart, domain_set_autostart, (dom: *const VkDomainRef, on: i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    f(c, &d, on != 0)
});
shim!(shim_domain_attach_device, domain_attach_device, (dom: *const VkDomainRef, xml: VkStr), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    f(c, &d, x)
});
shim!(shim_domain_detach_device, domain_detach_device, (dom: *const VkDomainRef, xml: VkStr), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    f(c, &d, x)
});
shim!(shim_network_lookup_by_uuid, network_lookup_by_uuid, (uuid: *const [u8; 16], out: *const VkNetworkSink), |f, c| {
    // SAFETY: valid for the call.
    let u = unsafe { in_uuid(uuid) }?;
    // SAFETY: valid sink.
    unsafe { found_network(out, "network_lookup_by_uuid", |put| f(c, &u, put)) }
});
shim!(shim_network_lookup_by_name, network_lookup_by_name, (name: VkStr, out: *const VkNetworkSink), |f, c| {
    // SAFETY: valid for the call.
    let s = unsafe { in_str(name, "network name") }?;
    // SAFETY: valid sink.
    unsafe { found_network(out, "network_lookup_by_name", |put| f(c, s, put)) }
});
shim!(shim_network_create_xml, network_create_xml, (xml: VkStr, out: *const VkNetworkSink), |f, c| {
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    let n = f(c, x)?;
    // SAFETY: valid sink.
    unsafe { put_network(out, (&n).into()) }
});
shim!(shim_network_define_xml, network_define_xml, (xml: VkStr, out: *const VkNetworkSink), |f, c| {
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    let n = f(c, x)?;
    // SAFETY: valid sink.
    unsafe { put_network(out, (&n).into()) }
});
shim!(shim_network_get_xml_desc, network_get_xml_desc, (net: *const VkNetworkRef, flags: u32, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    let s = f(c, &n, flags)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});
shim!(shim_network_get_bridge_name, network_get_bridge_name, (net: *const VkNetworkRef, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    let s = f(c, &n)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});
shim!(shim_network_get_autostart, network_get_autostart, (net: *const VkNetworkRef, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    let v = f(c, &n)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});
shim!(shim_network_set_autostart, network_set_autostart, (net: *const VkNetworkRef, on: i32), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    f(c, &n, on != 0)
});

shim!(shim_domain_is_persistent, domain_is_persistent, (dom: *const VkDomainRef, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let v = f(c, &d)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});
shim!(shim_domain_has_managed_save_image, domain_has_managed_save_image, (dom: *const VkDomainRef, flags: u32, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let v = f(c, &d, flags)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});
shim!(shim_node_get_security_model, node_get_security_model, (out: *const VkStrSink), |f, c| {
    let (model, doi) = f(c)?;
    // SAFETY: the host's sink is valid for the call.
    unsafe { push_str(out, &model) }?;
    // SAFETY: as above.
    unsafe { push_str(out, &doi) }
});
shim!(shim_domain_get_security_label, domain_get_security_label, (dom: *const VkDomainRef, out: *const VkStrSink, enforcing: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let (label, enf) = f(c, &d)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &label) }?;
    // SAFETY: valid output pointer.
    unsafe { write_out(enforcing, enf as i32) }
});
shim!(shim_domain_get_state, domain_get_state, (dom: *const VkDomainRef, state: *mut i32, reason: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let d = unsafe { dom_ref(dom) }?;
    let (s, r) = f(c, &d)?;
    // SAFETY: valid output pointers.
    unsafe { write_out(state, s as i32) }?;
    // SAFETY: as above.
    unsafe { write_out(reason, r) }
});
shim!(shim_domain_xml_from_native, domain_xml_from_native, (format: VkStr, config: VkStr, flags: u32, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let fmt = unsafe { in_str(format, "format") }?;
    // SAFETY: valid for the call.
    let cfg = unsafe { in_str(config, "native config") }?;
    let s = f(c, fmt, cfg, flags)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});
shim!(shim_domain_xml_to_native, domain_xml_to_native, (format: VkStr, xml: VkStr, flags: u32, out: *const VkStrSink), |f, c| {
    // SAFETY: valid for the call.
    let fmt = unsafe { in_str(format, "format") }?;
    // SAFETY: valid for the call.
    let x = unsafe { in_str(xml, "XML") }?;
    let s = f(c, fmt, x, flags)?;
    // SAFETY: valid sink.
    unsafe { push_str(out, &s) }
});

shim!(shim_network_is_active, network_is_active, (net: *const VkNetworkRef, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    let v = f(c, &n)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});
shim!(shim_network_is_persistent, network_is_persistent, (net: *const VkNetworkRef, out: *mut i32), |f, c| {
    // SAFETY: valid for the call.
    let n = unsafe { net_ref(net) }?;
    let v = f(c, &n)?;
    // SAFETY: valid output pointer.
    unsafe { write_out(out, v as i32) }
});

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
    let o = &D::OPS;
    let mut t = VkDriverTable::empty(header);
    t.open = Some(shim_open::<D>);
    t.close = Some(shim_close::<D>);
    macro_rules! install {
        ($($field:ident => $shim:ident),* $(,)?) => {
            $( if o.$field.is_some() { t.$field = Some($shim::<D>); } )*
        };
    }
    install! {
        get_type => shim_get_type,
        get_version => shim_get_version,
        get_hostname => shim_get_hostname,
        get_capabilities => shim_get_capabilities,
        node_get_info => shim_node_get_info,
        get_max_vcpus => shim_get_max_vcpus,
        list_domains => shim_list_domains,
        num_of_domains => shim_num_of_domains,
        list_defined_domains => shim_list_defined_domains,
        num_of_defined_domains => shim_num_of_defined_domains,
        domain_lookup_by_id => shim_domain_lookup_by_id,
        domain_lookup_by_uuid => shim_domain_lookup_by_uuid,
        domain_lookup_by_name => shim_domain_lookup_by_name,
        domain_create_xml => shim_domain_create_xml,
        domain_define_xml => shim_domain_define_xml,
        domain_undefine => shim_domain_undefine,
        domain_create => shim_domain_create,
        domain_shutdown => shim_domain_shutdown,
        domain_reboot => shim_domain_reboot,
        domain_destroy => shim_domain_destroy,
        domain_suspend => shim_domain_suspend,
        domain_resume => shim_domain_resume,
        domain_save => shim_domain_save,
        domain_restore => shim_domain_restore,
        domain_core_dump => shim_domain_core_dump,
        domain_get_info => shim_domain_get_info,
        domain_get_xml_desc => shim_domain_get_xml_desc,
        domain_get_os_type => shim_domain_get_os_type,
        domain_get_max_memory => shim_domain_get_max_memory,
        domain_set_max_memory => shim_domain_set_max_memory,
        domain_set_memory => shim_domain_set_memory,
        domain_set_vcpus => shim_domain_set_vcpus,
        domain_pin_vcpu => shim_domain_pin_vcpu,
        domain_get_vcpus => shim_domain_get_vcpus,
        domain_get_autostart => shim_domain_get_autostart,
        domain_set_autostart => shim_domain_set_autostart,
        domain_attach_device => shim_domain_attach_device,
        domain_detach_device => shim_domain_detach_device,
        list_networks => shim_list_networks,
        num_of_networks => shim_num_of_networks,
        list_defined_networks => shim_list_defined_networks,
        num_of_defined_networks => shim_num_of_defined_networks,
        network_lookup_by_uuid => shim_network_lookup_by_uuid,
        network_lookup_by_name => shim_network_lookup_by_name,
        network_create_xml => shim_network_create_xml,
        network_define_xml => shim_network_define_xml,
        network_undefine => shim_network_undefine,
        network_create => shim_network_create,
        network_destroy => shim_network_destroy,
        network_get_xml_desc => shim_network_get_xml_desc,
        network_get_bridge_name => shim_network_get_bridge_name,
        network_get_autostart => shim_network_get_autostart,
        network_set_autostart => shim_network_set_autostart,
        domain_is_persistent => shim_domain_is_persistent,
        domain_has_managed_save_image => shim_domain_has_managed_save_image,
        node_get_security_model => shim_node_get_security_model,
        domain_get_security_label => shim_domain_get_security_label,
        domain_get_state => shim_domain_get_state,
        domain_xml_from_native => shim_domain_xml_from_native,
        domain_xml_to_native => shim_domain_xml_to_native,
        network_is_active => shim_network_is_active,
        network_is_persistent => shim_network_is_persistent,
    }
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
