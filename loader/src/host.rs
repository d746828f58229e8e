//! The host services table handed to drivers (ABI 1.2): URI parsing, domain and network XML
//! parsed and validated by `virtkit-xml` into stable C views, domain XML formatted back, and
//! errors worded the way the core words them. See `virtkit_abi::VkHostServices`.
//!
//! Every service builds its view on its own stack and heap, calls the driver's `visit` once, and
//! frees what it built when `visit` returns: nothing crosses to be freed by the other side.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use virtkit_abi::{
    ConnUri, VK_ABI_MAJOR, VK_ABI_MINOR, VK_HOST_PARSE_NEW_DEFINITION, VK_HOST_XML_INACTIVE,
    VK_HOST_XML_SECURE, VK_OK, VkDiskView, VkDomainEdit, VkDomainView, VkDomainVisitFn,
    VkErrorCode, VkErrorSink, VkHostServices, VkInterfaceView, VkNetworkIpView, VkNetworkView,
    VkNetworkVisitFn, VkStr, VkStrSink, VkUriParam, VkUriView, VkUriVisitFn,
};
use virtkit_xml::{DomainDef, FormatOptions, InterfaceSource, NetworkDef};

/// The one host services table of this process.
pub static HOST_SERVICES: VkHostServices = VkHostServices {
    struct_size: std::mem::size_of::<VkHostServices>() as u32,
    abi_major: VK_ABI_MAJOR,
    abi_minor: VK_ABI_MINOR,
    report_error,
    parse_uri,
    parse_domain,
    format_domain,
    parse_network,
};

/// A failure of a service: code and full message.
struct Failure(VkErrorCode, String);

/// libvirt's wording for the start of a message with `code` (its `virErrorMsg`), for the codes
/// drivers report most; other codes get no prefix.
fn prefix(code: VkErrorCode) -> &'static str {
    match code {
        VkErrorCode::InternalError => "internal error: ",
        VkErrorCode::NoSupport => "this function is not supported by the connection driver: ",
        VkErrorCode::InvalidArg => "invalid argument: ",
        VkErrorCode::OperationFailed | VkErrorCode::DomExist | VkErrorCode::NetworkExist => {
            "operation failed: "
        }
        VkErrorCode::XmlError => "XML error: ",
        VkErrorCode::OperationDenied => "operation forbidden: ",
        VkErrorCode::NoDomain => "Domain not found: ",
        VkErrorCode::NoNetwork => "Network not found: ",
        VkErrorCode::OperationInvalid => "Requested operation is not valid: ",
        VkErrorCode::ConfigUnsupported => "unsupported configuration: ",
        _ => "",
    }
}

/// Calls the driver's error sink.
///
/// # Safety
/// `err` must be NULL or a valid sink.
unsafe fn set_error(err: *const VkErrorSink, code: VkErrorCode, message: &str) -> i32 {
    // SAFETY: guaranteed by the caller.
    if let Some(sink) = unsafe { err.as_ref() } {
        // SAFETY: the sink copies the message before returning.
        unsafe { (sink.set)(sink.ctx, code as i32, VkStr::new(message)) };
    }
    code as i32
}

/// Runs a service body: a panic in the host (never expected) or a failure becomes an error code
/// and an error-sink call.
///
/// # Safety
/// `err` must be NULL or a valid sink.
unsafe fn serve(err: *const VkErrorSink, f: impl FnOnce() -> Result<(), Failure>) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Failure(
            VkErrorCode::InternalError,
            "internal error: a host service panicked".into(),
        ))
    });
    match outcome {
        Ok(()) => VK_OK,
        // SAFETY: forwarded to the caller.
        Err(Failure(code, msg)) => unsafe { set_error(err, code, &msg) },
    }
}

/// # Safety
/// `s` must describe memory valid for the call.
unsafe fn in_str<'a>(s: VkStr, what: &str) -> Result<&'a str, Failure> {
    if s.len > 0 && s.ptr.is_null() {
        return Err(Failure(
            VkErrorCode::InvalidArg,
            format!("invalid argument: {what} has a NULL pointer"),
        ));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { s.as_str() }.ok_or_else(|| {
        Failure(
            VkErrorCode::InvalidArg,
            format!("invalid argument: {what} is not UTF-8"),
        )
    })
}

fn opt(s: &Option<String>) -> VkStr {
    s.as_deref().map(VkStr::new).unwrap_or(VkStr::EMPTY)
}

fn xml_failure(e: virtkit_xml::Error) -> Failure {
    // virtkit-xml's messages already start with "XML error".
    Failure(VkErrorCode::XmlError, e.to_string())
}

unsafe extern "C" fn report_error(err: *const VkErrorSink, code: i32, message: VkStr) -> i32 {
    let code = VkErrorCode::from_raw(code);
    // SAFETY: the message is valid for the call (the driver's own string).
    let text = unsafe { message.as_bytes() };
    let text = String::from_utf8_lossy(text);
    // SAFETY: the driver passes the sink its entry received.
    unsafe { set_error(err, code, &format!("{}{text}", prefix(code))) }
}

unsafe extern "C" fn parse_uri(
    uri: VkStr,
    visit: VkUriVisitFn,
    ctx: *mut c_void,
    err: *const VkErrorSink,
) -> i32 {
    // SAFETY: err is the driver's sink (or NULL).
    unsafe {
        serve(err, || {
            let text = in_str(uri, "the URI")?;
            let u = ConnUri::parse(text)
                .map_err(|e| Failure(VkErrorCode::InvalidArg, format!("invalid argument: {e}")))?;
            let params: Vec<VkUriParam> = u
                .params
                .iter()
                .map(|(n, v)| VkUriParam {
                    name: VkStr::new(n),
                    value: VkStr::new(v),
                })
                .collect();
            let view = VkUriView {
                struct_size: std::mem::size_of::<VkUriView>() as u32,
                port: u.port.map(i32::from).unwrap_or(-1),
                scheme: VkStr::new(&u.scheme),
                transport: opt(&u.transport),
                user: opt(&u.user),
                host: opt(&u.host),
                path: VkStr::new(&u.path),
                params: if params.is_empty() {
                    std::ptr::null()
                } else {
                    params.as_ptr()
                },
                n_params: params.len(),
            };
            // SAFETY: the view and what it points at live until visit returns.
            visit(ctx, &view);
            Ok(())
        })
    }
}

unsafe extern "C" fn parse_domain(
    xml: VkStr,
    flags: u32,
    visit: VkDomainVisitFn,
    ctx: *mut c_void,
    err: *const VkErrorSink,
) -> i32 {
    // SAFETY: err is the driver's sink (or NULL).
    unsafe {
        serve(err, || {
            if flags & !VK_HOST_PARSE_NEW_DEFINITION != 0 {
                return Err(Failure(
                    VkErrorCode::InvalidArg,
                    format!("invalid argument: unsupported parse flags {flags:#x}"),
                ));
            }
            let text = in_str(xml, "the domain XML")?;
            let mut def = DomainDef::parse(text).map_err(xml_failure)?;
            if flags & VK_HOST_PARSE_NEW_DEFINITION != 0 {
                def.forget_live_state();
            }
            let canonical = def.to_xml(&FormatOptions::default().with_inactive(true));
            let disks: Vec<VkDiskView> = def
                .devices
                .disks
                .iter()
                .map(|d| VkDiskView {
                    disk_type: VkStr::new(d.disk_type.as_str()),
                    device: VkStr::new(d.device.as_str()),
                    driver_name: opt(&d.driver_name),
                    driver_type: opt(&d.driver_type),
                    source: opt(&d.source),
                    target_dev: VkStr::new(&d.target_dev),
                    target_bus: d
                        .target_bus
                        .map(|b| VkStr::new(b.as_str()))
                        .unwrap_or(VkStr::EMPTY),
                    readonly: d.readonly.into(),
                    shareable: d.shareable.into(),
                })
                .collect();
            let macs: Vec<Option<String>> = def
                .devices
                .interfaces
                .iter()
                .map(|i| i.mac.as_ref().map(|m| m.to_string()))
                .collect();
            let interfaces: Vec<VkInterfaceView> = def
                .devices
                .interfaces
                .iter()
                .zip(&macs)
                .map(|(i, mac)| VkInterfaceView {
                    if_type: VkStr::new(i.source.type_name()),
                    source: match &i.source {
                        InterfaceSource::Bridge { bridge } => VkStr::new(bridge),
                        InterfaceSource::Network { network } => VkStr::new(network),
                        InterfaceSource::Ethernet { dev } => opt(dev),
                        _ => VkStr::EMPTY,
                    },
                    mac: opt(mac),
                    model: opt(&i.model),
                    target_dev: opt(&i.target_dev),
                })
                .collect();
            let view = VkDomainView {
                struct_size: std::mem::size_of::<VkDomainView>() as u32,
                id: def.id.unwrap_or(-1),
                domain_type: VkStr::new(&def.domain_type),
                name: VkStr::new(&def.name),
                uuid: *def.uuid.as_bytes(),
                memory_kib: def.memory_kib,
                current_memory_kib: def.current_memory_kib,
                vcpus: def.vcpus,
                reserved: 0,
                os_type: VkStr::new(&def.os.os_type),
                arch: opt(&def.os.arch),
                kernel: opt(&def.os.kernel),
                initrd: opt(&def.os.initrd),
                cmdline: opt(&def.os.cmdline),
                disks: if disks.is_empty() {
                    std::ptr::null()
                } else {
                    disks.as_ptr()
                },
                n_disks: disks.len(),
                interfaces: if interfaces.is_empty() {
                    std::ptr::null()
                } else {
                    interfaces.as_ptr()
                },
                n_interfaces: interfaces.len(),
                xml: VkStr::new(&canonical),
            };
            // SAFETY: the view and what it points at live until visit returns.
            visit(ctx, &view);
            Ok(())
        })
    }
}

unsafe extern "C" fn format_domain(
    xml: VkStr,
    edit: *const VkDomainEdit,
    flags: u32,
    out: *const VkStrSink,
    err: *const VkErrorSink,
) -> i32 {
    // SAFETY: err is the driver's sink (or NULL).
    unsafe {
        serve(err, || {
            if flags & !(VK_HOST_XML_SECURE | VK_HOST_XML_INACTIVE) != 0 {
                return Err(Failure(
                    VkErrorCode::InvalidArg,
                    format!("invalid argument: unsupported format flags {flags:#x}"),
                ));
            }
            let Some(out) = out.as_ref() else {
                return Err(Failure(
                    VkErrorCode::InvalidArg,
                    "invalid argument: the output sink is NULL".into(),
                ));
            };
            let text = in_str(xml, "the domain XML")?;
            let mut def = DomainDef::parse(text).map_err(xml_failure)?;
            if let Some(e) = edit.as_ref() {
                // Read only what the driver's struct has (it may be an older, shorter one).
                if (e.struct_size as usize) < std::mem::size_of::<VkDomainEdit>() {
                    return Err(Failure(
                        VkErrorCode::InvalidArg,
                        format!(
                            "invalid argument: VkDomainEdit.struct_size {} is smaller than {}",
                            e.struct_size,
                            std::mem::size_of::<VkDomainEdit>()
                        ),
                    ));
                }
                def.id = (e.id >= 0).then_some(e.id);
                if e.memory_kib != 0 {
                    def.memory_kib = e.memory_kib;
                }
                if e.current_memory_kib != 0 {
                    def.current_memory_kib = e.current_memory_kib;
                }
                if e.vcpus != 0 {
                    def.vcpus = e.vcpus;
                }
            }
            let inactive = flags & VK_HOST_XML_INACTIVE != 0 || def.id.is_none();
            let s = def.to_xml(
                &FormatOptions::default()
                    .with_inactive(inactive)
                    .with_secure(flags & VK_HOST_XML_SECURE != 0),
            );
            // SAFETY: the sink copies the string before returning.
            (out.push)(out.ctx, VkStr::new(&s));
            Ok(())
        })
    }
}

unsafe extern "C" fn parse_network(
    xml: VkStr,
    visit: VkNetworkVisitFn,
    ctx: *mut c_void,
    err: *const VkErrorSink,
) -> i32 {
    // SAFETY: err is the driver's sink (or NULL).
    unsafe {
        serve(err, || {
            let text = in_str(xml, "the network XML")?;
            let def = NetworkDef::parse(text).map_err(xml_failure)?;
            let canonical = def.to_xml(&FormatOptions::default());
            let texts: Vec<[Option<String>; 4]> = def
                .ips
                .iter()
                .map(|ip| {
                    let range = ip.dhcp_ranges.first();
                    [
                        Some(ip.address.to_string()),
                        ip.netmask.map(|m| m.to_string()),
                        range.map(|r| r.start.to_string()),
                        range.map(|r| r.end.to_string()),
                    ]
                })
                .collect();
            let ips: Vec<VkNetworkIpView> = def
                .ips
                .iter()
                .zip(&texts)
                .map(|(ip, t)| VkNetworkIpView {
                    address: opt(&t[0]),
                    netmask: opt(&t[1]),
                    prefix: ip.prefix.unwrap_or(0),
                    reserved: 0,
                    dhcp_start: opt(&t[2]),
                    dhcp_end: opt(&t[3]),
                })
                .collect();
            let view = VkNetworkView {
                struct_size: std::mem::size_of::<VkNetworkView>() as u32,
                reserved: 0,
                name: VkStr::new(&def.name),
                uuid: *def.uuid.as_bytes(),
                bridge: opt(&def.bridge),
                forward_mode: def
                    .forward
                    .as_ref()
                    .map(|f| VkStr::new(f.mode.as_str()))
                    .unwrap_or(VkStr::EMPTY),
                forward_dev: def
                    .forward
                    .as_ref()
                    .map(|f| opt(&f.dev))
                    .unwrap_or(VkStr::EMPTY),
                ips: if ips.is_empty() {
                    std::ptr::null()
                } else {
                    ips.as_ptr()
                },
                n_ips: ips.len(),
                xml: VkStr::new(&canonical),
            };
            // SAFETY: the view and what it points at live until visit returns.
            visit(ctx, &view);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Got {
        code: i32,
        message: String,
        text: String,
        seen: Vec<String>,
    }

    unsafe extern "C" fn set(ctx: *mut c_void, code: i32, m: VkStr) {
        // SAFETY: ctx is the test's Got; the message is valid for the call.
        let g = unsafe { &mut *(ctx as *mut Got) };
        g.code = code;
        // SAFETY: the message is valid for the call.
        g.message = unsafe { m.as_str() }.unwrap().to_string();
    }
    unsafe extern "C" fn push(ctx: *mut c_void, s: VkStr) {
        // SAFETY: as above.
        let g = unsafe { &mut *(ctx as *mut Got) };
        // SAFETY: the string is valid for the call.
        g.text.push_str(unsafe { s.as_str() }.unwrap());
    }
    fn s(v: VkStr) -> String {
        // SAFETY: views are valid during visit.
        unsafe { v.as_str() }.unwrap().to_string()
    }
    unsafe extern "C" fn see_uri(ctx: *mut c_void, u: *const VkUriView) {
        // SAFETY: as above.
        let (g, u) = unsafe { (&mut *(ctx as *mut Got), &*u) };
        g.seen = vec![s(u.scheme), s(u.host), u.port.to_string(), s(u.path)];
        for i in 0..u.n_params {
            // SAFETY: n_params entries.
            let p = unsafe { &*u.params.add(i) };
            g.seen.push(format!("{}={}", s(p.name), s(p.value)));
        }
    }
    unsafe extern "C" fn see_dom(ctx: *mut c_void, d: *const VkDomainView) {
        // SAFETY: as above.
        let (g, d) = unsafe { (&mut *(ctx as *mut Got), &*d) };
        g.seen = vec![
            s(d.domain_type),
            s(d.name),
            d.memory_kib.to_string(),
            d.vcpus.to_string(),
            s(d.os_type),
            d.n_disks.to_string(),
            d.n_interfaces.to_string(),
        ];
        if d.n_disks > 0 {
            // SAFETY: n_disks entries.
            let disk = unsafe { &*d.disks };
            g.seen.push(s(disk.source));
            g.seen.push(s(disk.target_dev));
        }
        if d.n_interfaces > 0 {
            // SAFETY: n_interfaces entries.
            let i = unsafe { &*d.interfaces };
            g.seen.push(s(i.if_type));
            g.seen.push(s(i.source));
            g.seen.push(s(i.mac));
        }
        g.text = s(d.xml);
    }
    unsafe extern "C" fn see_net(ctx: *mut c_void, n: *const VkNetworkView) {
        // SAFETY: as above.
        let (g, n) = unsafe { (&mut *(ctx as *mut Got), &*n) };
        g.seen = vec![
            s(n.name),
            s(n.bridge),
            s(n.forward_mode),
            n.n_ips.to_string(),
        ];
        if n.n_ips > 0 {
            // SAFETY: n_ips entries.
            let ip = unsafe { &*n.ips };
            g.seen.extend([
                s(ip.address),
                s(ip.netmask),
                s(ip.dhcp_start),
                s(ip.dhcp_end),
            ]);
        }
    }

    fn got() -> Got {
        Got {
            code: 0,
            message: String::new(),
            text: String::new(),
            seen: Vec::new(),
        }
    }
    fn sink(g: &mut Got) -> VkErrorSink {
        VkErrorSink {
            ctx: g as *mut Got as *mut c_void,
            set,
        }
    }

    const DOM: &str = "<domain type='toyhv' id='3'><name>vm</name><memory>65536</memory><vcpu>2</vcpu>\
        <os><type>hvm</type></os><devices>\
        <disk type='file' device='disk'><source file='/img/vm.raw'/><target dev='vda' bus='virtio'/></disk>\
        <interface type='bridge'><source bridge='br0'/><mac address='52:54:00:12:34:56'/></interface>\
        </devices></domain>";

    #[test]
    fn a_domain_is_parsed_into_a_view_and_formatted_back_with_edits() {
        let mut g = got();
        let e = sink(&mut g);
        let ctx = &mut g as *mut Got as *mut c_void;
        // SAFETY: all pointers are valid for the calls.
        let rc = unsafe { (HOST_SERVICES.parse_domain)(VkStr::new(DOM), 0, see_dom, ctx, &e) };
        assert_eq!(rc, VK_OK);
        assert_eq!(
            g.seen,
            [
                "toyhv",
                "vm",
                "65536",
                "2",
                "hvm",
                "1",
                "1",
                "/img/vm.raw",
                "vda",
                "bridge",
                "br0",
                "52:54:00:12:34:56"
            ]
        );
        assert!(!g.text.contains("id="), "{}", g.text);
        let canonical = std::mem::take(&mut g.text);
        let edit = VkDomainEdit {
            struct_size: std::mem::size_of::<VkDomainEdit>() as u32,
            id: 7,
            vcpus: 4,
            ..Default::default()
        };
        let out = VkStrSink { ctx, push };
        // SAFETY: as above.
        let rc =
            unsafe { (HOST_SERVICES.format_domain)(VkStr::new(&canonical), &edit, 0, &out, &e) };
        assert_eq!(rc, VK_OK);
        let back = DomainDef::parse(&g.text).unwrap();
        assert_eq!((back.id, back.vcpus, back.memory_kib), (Some(7), 4, 65536));
        g.text.clear();
        // SAFETY: as above.
        let rc = unsafe {
            (HOST_SERVICES.format_domain)(
                VkStr::new(&canonical),
                &edit,
                VK_HOST_XML_INACTIVE,
                &out,
                &e,
            )
        };
        assert_eq!(rc, VK_OK);
        assert_eq!(DomainDef::parse(&g.text).unwrap().id, None);
    }

    #[test]
    fn bad_documents_and_arguments_are_errors_through_the_sink() {
        let mut g = got();
        let e = sink(&mut g);
        let ctx = &mut g as *mut Got as *mut c_void;
        // SAFETY: as above.
        let rc =
            unsafe { (HOST_SERVICES.parse_domain)(VkStr::new("<domain"), 0, see_dom, ctx, &e) };
        assert_eq!(rc, VkErrorCode::XmlError as i32);
        assert_eq!(g.code, rc);
        assert!(g.message.starts_with("XML error at line"), "{}", g.message);
        assert!(!g.message.contains("XML error: XML error"));
        // SAFETY: as above.
        let rc = unsafe { (HOST_SERVICES.parse_domain)(VkStr::new(DOM), 0x80, see_dom, ctx, &e) };
        assert_eq!(rc, VkErrorCode::InvalidArg as i32);
        let bad = VkStr {
            ptr: b"\xff".as_ptr(),
            len: 1,
        };
        // SAFETY: as above.
        let rc = unsafe { (HOST_SERVICES.parse_uri)(bad, see_uri, ctx, &e) };
        assert_eq!(rc, VkErrorCode::InvalidArg as i32);
        assert!(g.message.contains("UTF-8"), "{}", g.message);
        // SAFETY: as above.
        let rc = unsafe {
            (HOST_SERVICES.report_error)(&e, VkErrorCode::NoDomain as i32, VkStr::new("no 'x'"))
        };
        assert_eq!(rc, VkErrorCode::NoDomain as i32);
        assert_eq!(g.message, "Domain not found: no 'x'");
    }

    #[test]
    fn uris_and_networks_are_parsed_into_views() {
        let mut g = got();
        let e = sink(&mut g);
        let ctx = &mut g as *mut Got as *mut c_void;
        // SAFETY: as above.
        let rc = unsafe {
            (HOST_SERVICES.parse_uri)(VkStr::new("toyhv://h:99/x?a=1&b=%2F"), see_uri, ctx, &e)
        };
        assert_eq!(rc, VK_OK);
        assert_eq!(g.seen, ["toyhv", "h", "99", "/x", "a=1", "b=/"]);
        let net = "<network><name>n</name><bridge name='vkbr0'/><forward mode='nat'/>\
            <ip address='192.168.9.1' netmask='255.255.255.0'><dhcp><range start='192.168.9.2' end='192.168.9.9'/></dhcp></ip></network>";
        // SAFETY: as above.
        let rc = unsafe { (HOST_SERVICES.parse_network)(VkStr::new(net), see_net, ctx, &e) };
        assert_eq!(rc, VK_OK, "{}", g.message);
        assert_eq!(
            g.seen,
            [
                "n",
                "vkbr0",
                "nat",
                "1",
                "192.168.9.1",
                "255.255.255.0",
                "192.168.9.2",
                "192.168.9.9"
            ]
        );
    }
}
