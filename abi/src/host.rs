//! Host services (since ABI 1.2): what the core does for drivers so that no driver parses XML or
//! URIs itself.
//!
//! The core hands a driver one [`VkHostServices`] table, once, through the header's
//! [`VkDriverHeader::host_init`](crate::VkDriverHeader::host_init) entry, right after it validated
//! the table and before the first `open`. The table lives as long as the process. A plugin built
//! against ABI 1.0 or 1.1 has zero in that header word and is never handed anything; a plugin
//! built against 1.2 loaded by an older core is never called either, so a driver keeps working
//! (with its own fallbacks) when `host_init` has not run.
//!
//! The table is append-only, like the driver table: a field is never removed, reordered or
//! retyped; [`VkHostServices::struct_size`] says how many the host has, and a driver checks it
//! before using a field added after 1.2 (`VK_HOST_HAS` in C).
//!
//! Results come back the way every result crosses the boundary: through a callback the driver
//! passes (`visit`), called once with a view that is valid only during the call — the driver
//! copies what it keeps — or through a host [`VkStrSink`]. Nothing one side allocates is freed by
//! the other. Every service returns [`VK_OK`](crate::VK_OK) or an error code, and on error calls
//! the error sink the driver passed (usually the one its own entry received) with the message the
//! user will see.

use core::ffi::c_void;

use crate::{VkErrorSink, VkStr, VkStrSink};

/// Format flag for [`VkHostServices::format_domain`] and `format_network`: libvirt's
/// `VIR_DOMAIN_XML_SECURE` (include secrets).
pub const VK_HOST_XML_SECURE: u32 = 1 << 0;
/// Format flag: libvirt's `VIR_DOMAIN_XML_INACTIVE` (the persistent definition: no `id`, no
/// live-only state).
pub const VK_HOST_XML_INACTIVE: u32 = 1 << 1;
/// Parse flag for [`VkHostServices::parse_domain`]: the document is a new definition; drop
/// what only a running guest had (generated interface names, pty paths, autoport VNC ports),
/// as libvirt does when it reads a definition to define or create.
pub const VK_HOST_PARSE_NEW_DEFINITION: u32 = 1 << 0;

/// One query parameter of a URI.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkUriParam {
    /// Name, percent-decoded.
    pub name: VkStr,
    /// Value, percent-decoded (empty for `?flag`).
    pub value: VkStr,
}

/// A parsed connection URI. Absent parts are empty strings; `port` is -1 when absent.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkUriView {
    /// `sizeof(VkUriView)` as the host built it.
    pub struct_size: u32,
    /// The port, or -1.
    pub port: i32,
    /// Scheme without transport, lower-cased: `qemu` in `qemu+ssh://h/system`.
    pub scheme: VkStr,
    /// Transport after `+`: `ssh`.
    pub transport: VkStr,
    /// User before `@`.
    pub user: VkStr,
    /// Host (an IPv6 address without its brackets).
    pub host: VkStr,
    /// Path, percent-decoded: `/system`.
    pub path: VkStr,
    /// Query parameters in order.
    pub params: *const VkUriParam,
    /// Number of entries in `params`.
    pub n_params: usize,
}

/// One `<disk>` of a domain. Empty strings for what the document does not say.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkDiskView {
    /// `file` or `block`.
    pub disk_type: VkStr,
    /// `disk`, `cdrom` or `floppy`.
    pub device: VkStr,
    /// `<driver name>`.
    pub driver_name: VkStr,
    /// `<driver type>` (format).
    pub driver_type: VkStr,
    /// Host path (`<source file|dev>`).
    pub source: VkStr,
    /// Guest device (`<target dev>`).
    pub target_dev: VkStr,
    /// `<target bus>`.
    pub target_bus: VkStr,
    /// 1 when `<readonly/>`.
    pub readonly: u32,
    /// 1 when `<shareable/>`.
    pub shareable: u32,
}

/// One `<interface>` of a domain.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkInterfaceView {
    /// `bridge`, `network`, `user`, `ethernet`, ...
    pub if_type: VkStr,
    /// The bridge, network or device name of `<source>`, when it has one.
    pub source: VkStr,
    /// `<mac address>` (`52:54:00:..`).
    pub mac: VkStr,
    /// `<model type>`.
    pub model: VkStr,
    /// `<target dev>`.
    pub target_dev: VkStr,
}

/// A validated domain definition, as a driver needs it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkDomainView {
    /// `sizeof(VkDomainView)` as the host built it.
    pub struct_size: u32,
    /// The `id` attribute, or -1.
    pub id: i32,
    /// `type`: the domain type (a type the connection accepts).
    pub domain_type: VkStr,
    /// `<name>`.
    pub name: VkStr,
    /// `<uuid>` (generated when the document has none).
    pub uuid: [u8; 16],
    /// `<memory>`, KiB.
    pub memory_kib: u64,
    /// `<currentMemory>`, KiB.
    pub current_memory_kib: u64,
    /// `<vcpu>`.
    pub vcpus: u32,
    /// Always 0.
    pub reserved: u32,
    /// `<os><type>`: `hvm`, `xen`, `linux`, `exe`, ...
    pub os_type: VkStr,
    /// `<os><type arch>`.
    pub arch: VkStr,
    /// `<os><kernel>`.
    pub kernel: VkStr,
    /// `<os><initrd>`.
    pub initrd: VkStr,
    /// `<os><cmdline>`.
    pub cmdline: VkStr,
    /// `<disk>`s.
    pub disks: *const VkDiskView,
    /// Number of entries in `disks`.
    pub n_disks: usize,
    /// `<interface>`s.
    pub interfaces: *const VkInterfaceView,
    /// Number of entries in `interfaces`.
    pub n_interfaces: usize,
    /// The whole definition, formatted by the host (inactive form): what a driver stores and
    /// later hands to `format_domain`.
    pub xml: VkStr,
}

/// Changes applied by [`VkHostServices::format_domain`] before it formats a definition.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VkDomainEdit {
    /// `sizeof(VkDomainEdit)` as the driver built it.
    pub struct_size: u32,
    /// The id to write (a running domain), or -1 for none.
    pub id: i32,
    /// New `<memory>` in KiB, or 0 to keep.
    pub memory_kib: u64,
    /// New `<currentMemory>` in KiB, or 0 to keep.
    pub current_memory_kib: u64,
    /// New `<vcpu>`, or 0 to keep.
    pub vcpus: u32,
    /// Always 0.
    pub reserved: u32,
}

/// One `<ip>` of a network.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkNetworkIpView {
    /// `address`.
    pub address: VkStr,
    /// `netmask` (empty when given as `prefix`).
    pub netmask: VkStr,
    /// `prefix`, or 0.
    pub prefix: u32,
    /// Always 0.
    pub reserved: u32,
    /// First `<dhcp><range start>`, or empty.
    pub dhcp_start: VkStr,
    /// First `<dhcp><range end>`, or empty.
    pub dhcp_end: VkStr,
}

/// A validated network definition.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkNetworkView {
    /// `sizeof(VkNetworkView)` as the host built it.
    pub struct_size: u32,
    /// Always 0.
    pub reserved: u32,
    /// `<name>`.
    pub name: VkStr,
    /// `<uuid>` (generated when absent).
    pub uuid: [u8; 16],
    /// `<bridge name>`.
    pub bridge: VkStr,
    /// `<forward mode>` (`nat`, `route`, ...), empty for an isolated network.
    pub forward_mode: VkStr,
    /// `<forward dev>`.
    pub forward_dev: VkStr,
    /// `<ip>`s.
    pub ips: *const VkNetworkIpView,
    /// Number of entries in `ips`.
    pub n_ips: usize,
    /// The whole definition, formatted by the host.
    pub xml: VkStr,
}

/// Receives a parsed URI; the view is valid only during the call.
pub type VkUriVisitFn = unsafe extern "C" fn(ctx: *mut c_void, uri: *const VkUriView);
/// Receives a parsed domain; the view is valid only during the call.
pub type VkDomainVisitFn = unsafe extern "C" fn(ctx: *mut c_void, dom: *const VkDomainView);
/// Receives a parsed network; the view is valid only during the call.
pub type VkNetworkVisitFn = unsafe extern "C" fn(ctx: *mut c_void, net: *const VkNetworkView);

/// The host services table (ABI 1.2). Append-only; every entry is non-NULL.
#[repr(C)]
pub struct VkHostServices {
    /// `sizeof(VkHostServices)` as the host built it: a field lies within the table when its
    /// offset plus its size is at most this.
    pub struct_size: u32,
    /// The host's ABI major version.
    pub abi_major: u16,
    /// The host's ABI minor version.
    pub abi_minor: u16,
    /// Reports an error through `err` the way the core words it: the message gets libvirt's
    /// prefix for `code` (`Domain not found: `, `invalid argument: `, `XML error: `, ...).
    /// Returns `code`, so an entry can end with `return host->report_error(err, code, msg);`.
    pub report_error:
        unsafe extern "C" fn(err: *const VkErrorSink, code: i32, message: VkStr) -> i32,
    /// Parses a connection URI and calls `visit` once with it.
    pub parse_uri: unsafe extern "C" fn(
        uri: VkStr,
        visit: VkUriVisitFn,
        ctx: *mut c_void,
        err: *const VkErrorSink,
    ) -> i32,
    /// Parses and validates domain XML (flags: `VK_HOST_PARSE_*`) and calls `visit` once.
    pub parse_domain: unsafe extern "C" fn(
        xml: VkStr,
        flags: u32,
        visit: VkDomainVisitFn,
        ctx: *mut c_void,
        err: *const VkErrorSink,
    ) -> i32,
    /// Formats domain XML (typically a view's `xml`) after applying `edit` (may be NULL), with
    /// `VK_HOST_XML_*` flags, into `out`.
    pub format_domain: unsafe extern "C" fn(
        xml: VkStr,
        edit: *const VkDomainEdit,
        flags: u32,
        out: *const VkStrSink,
        err: *const VkErrorSink,
    ) -> i32,
    /// Parses and validates network XML and calls `visit` once.
    pub parse_network: unsafe extern "C" fn(
        xml: VkStr,
        visit: VkNetworkVisitFn,
        ctx: *mut c_void,
        err: *const VkErrorSink,
    ) -> i32,
}

// SAFETY: the table holds only function pointers and plain numbers.
unsafe impl Sync for VkHostServices {}
// SAFETY: see above.
unsafe impl Send for VkHostServices {}

/// The type of the header's `host_init` entry.
pub type VkHostInitFn = unsafe extern "C" fn(host: *const VkHostServices);
