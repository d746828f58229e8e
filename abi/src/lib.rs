//! The C-compatible contract between the virtkit core and its hypervisor drivers.
//!
//! A driver plugin is a shared object that exports one symbol,
//! [`VIRTKIT_DRIVER_ENTRY`] (`virtkit_driver_entry`), a function returning a pointer to a
//! static [`VkDriverTable`]. The table starts with a fixed [`VkDriverHeader`] and continues with
//! one nullable function pointer per operation. A NULL slot means the driver does not implement
//! that operation; the core then answers "not supported" on its behalf.
//!
//! # Compatibility rule
//!
//! * The header layout is frozen for the whole major version 1.
//! * The list of operation slots is **append-only**: a slot is never removed, reordered or retyped.
//!   A new operation is added at the end of the table and the ABI minor version is bumped. Each
//!   operation records the minor version that introduced it ([`OpInfo::since_minor`]).
//! * A plugin built against ABI `1.m` loads into any core `1.n`. When `m < n` the plugin's table is
//!   shorter (`header.struct_size` says how long); the loader copies what is there and every slot
//!   past the plugin's `struct_size` reads as NULL. When `m > n` the core ignores the slots it does
//!   not know (their capability bits may be set, for slots that lie within the plugin's
//!   `struct_size`).
//! * A plugin of another major version is refused.
//! * Capability bit `i` ([`VkDriverHeader::caps`]) is set exactly when slot `i` is non-NULL.
//!
//! Nothing allocated on one side of the boundary is freed on the other: results flow back
//! through sinks ([`VkStrSink`], [`VkIntSink`], ...) that the host provides and owns. Strings are
//! UTF-8 `(pointer, length)` pairs ([`VkStr`]) and are only valid for the duration of the call.
//! Domain and network definitions cross as XML text.
//!
//! # Slot conventions
//!
//! * Every entry but `close` takes a host-provided [`VkErrorSink`] last; sink and output pointers
//!   the host passes are never NULL. An entry returns [`VK_OK`] or a [`VkErrorCode`] value, and on
//!   failure calls the error sink once with the same code and a message.
//! * `get_version` writes libvirt's encoding, `major * 1_000_000 + minor * 1_000 + release`.
//! * `list_domains` pushes domain ids (which fit in an `i32`) through a [`VkIntSink`].
//! * `node_get_security_model` pushes exactly two strings into its [`VkStrSink`]: the model, then
//!   the DOI; an empty model means no security driver is active.
//! * `domain_get_state` writes a [`VkDomainState`] value and libvirt's per-state reason code
//!   (0 = unknown) as `int`s, as `virDomainGetState` does.
//!
//! The hand-written C header `include/virtkit/driver.h` describes the same layout for C authors;
//! a test compiles it and compares every size and offset with this crate.
#![deny(missing_docs)]
#![no_std]

extern crate alloc;

use core::ffi::c_void;

mod host;
mod info;
mod uri;
pub use host::{
    VK_HOST_PARSE_NEW_DEFINITION, VK_HOST_XML_INACTIVE, VK_HOST_XML_SECURE, VkDiskView,
    VkDomainEdit, VkDomainView, VkDomainVisitFn, VkHostInitFn, VkHostServices, VkInterfaceView,
    VkNetworkIpView, VkNetworkView, VkNetworkVisitFn, VkUriParam, VkUriView, VkUriVisitFn,
};
pub use info::{DomainInfo, MAX_HOST_CPUS, MAX_MEMORY_KIB, MAX_VCPUS, NodeInfo, VcpuInfo};
pub use uri::{ConnUri, URI_MAX_LEN, URI_MAX_PARAMS, UriError};

/// Magic number at the start of every driver table: the bytes `VKDR` read as a little-endian u32.
pub const VK_MAGIC: u32 = 0x5244_4B56;
/// The ABI major version this crate describes.
pub const VK_ABI_MAJOR: u16 = 1;
/// The ABI minor version this crate describes.
pub const VK_ABI_MINOR: u16 = 3;
/// Which virtkit release first loads which ABI minor: a packaging fact about the ABI, not part
/// of the C contract (the header does not carry it).
pub mod releases {
    /// The virtkit release whose core first loads each ABI minor of the current major: entry
    /// `m` is the oldest core version that accepts a table of minor `m`. A distribution package
    /// of a driver built for minor `m` depends on `virtkit (>= CORE_VERSION_FOR_MINOR[m])`
    /// (`cargo xtask dist` computes it from the plugin's own table). Append an entry whenever
    /// [`VK_ABI_MINOR`](crate::VK_ABI_MINOR) grows.
    pub const CORE_VERSION_FOR_MINOR: &[&str] = &["0.1.0", "0.1.0", "0.1.0", "0.1.0"];
}

/// Name of the exported entry symbol, NUL-terminated for `dlsym`.
pub const VIRTKIT_DRIVER_ENTRY: &[u8] = b"virtkit_driver_entry\0";
/// Number of 64-bit words in the capability bitset.
pub const VK_CAP_WORDS: usize = 4;
/// Number of operations the capability bitset can describe.
pub const VK_MAX_OPS: usize = VK_CAP_WORDS * 64;

/// Driver flag: every entry may be called from several threads at once.
pub const VK_DRIVER_THREAD_SAFE: u32 = 1 << 0;
/// Driver flag: the driver needs root privileges for its system URIs.
pub const VK_DRIVER_NEEDS_ROOT: u32 = 1 << 1;
/// Driver flag: the driver is one member of a stack of drivers serving the same scheme.
pub const VK_DRIVER_STACK_MEMBER: u32 = 1 << 2;

/// Open flag: the connection is read-only. The core already refuses mutating calls; drivers may
/// use the flag to open their back end read-only.
pub const VK_OPEN_READ_ONLY: u32 = 1 << 0;

/// Status returned by `open` when the driver does not serve the URI (libvirt's
/// `VIR_DRV_OPEN_DECLINED`). Any other non-zero status is an error code.
pub const VK_DECLINED: i32 = -1;
/// Status returned by every entry on success.
pub const VK_OK: i32 = 0;

// libvirt's flag bits for the `flags` arguments, with libvirt's values (`VIR_` becomes `VK_`).
// Declared once here; the SDK and the core re-export them.

/// `VIR_DOMAIN_XML_SECURE` (virDomainGetXMLDesc): include security-sensitive data.
pub const VK_DOMAIN_XML_SECURE: u32 = 1 << 0;
/// `VIR_DOMAIN_XML_INACTIVE` (virDomainGetXMLDesc): the persistent definition, not the live one.
pub const VK_DOMAIN_XML_INACTIVE: u32 = 1 << 1;
/// `VIR_DOMAIN_START_PAUSED` (virDomainCreateXML): leave the new guest paused.
pub const VK_DOMAIN_START_PAUSED: u32 = 1 << 0;
/// `VIR_DUMP_CRASH` (virDomainCoreDump): stop the guest after the dump.
pub const VK_DUMP_CRASH: u32 = 1 << 0;
/// `VIR_NETWORK_XML_INACTIVE` (virNetworkGetXMLDesc): the persistent definition.
pub const VK_NETWORK_XML_INACTIVE: u32 = 1 << 0;
/// `VIR_DOMAIN_AFFECT_CURRENT`: the live guest when it runs, else its persistent definition.
pub const VK_DOMAIN_AFFECT_CURRENT: u32 = 0;
/// `VIR_DOMAIN_AFFECT_LIVE`: the running guest.
pub const VK_DOMAIN_AFFECT_LIVE: u32 = 1 << 0;
/// `VIR_DOMAIN_AFFECT_CONFIG`: the persistent definition.
pub const VK_DOMAIN_AFFECT_CONFIG: u32 = 1 << 1;
/// `VIR_DOMAIN_MEM_MAXIMUM` (virDomainSetMemoryFlags): set the maximum memory, not the current.
pub const VK_DOMAIN_MEM_MAXIMUM: u32 = 1 << 2;
/// `VIR_DOMAIN_MESSAGE_DEPRECATION` (virDomainGetMessages): the deprecated configuration in use.
pub const VK_DOMAIN_MESSAGE_DEPRECATION: u32 = 1 << 0;
/// `VIR_DOMAIN_MESSAGE_TAINTING` (virDomainGetMessages): the taints (no flag: both kinds).
pub const VK_DOMAIN_MESSAGE_TAINTING: u32 = 1 << 1;

/// A borrowed UTF-8 string: pointer and length in bytes, no terminator required.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkStr {
    /// First byte; may be NULL only when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

// SAFETY: a VkStr is a read-only view: nothing is ever written through it. Those in a driver
// table point at static data; the others live for one call, during which the lender keeps them
// alive and unchanged, whichever thread reads them.
unsafe impl Sync for VkStr {}
// SAFETY: see above.
unsafe impl Send for VkStr {}

impl VkStr {
    /// The empty string.
    pub const EMPTY: VkStr = VkStr {
        ptr: core::ptr::null(),
        len: 0,
    };

    /// Borrows a Rust string.
    pub const fn new(s: &str) -> VkStr {
        VkStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Views the bytes.
    ///
    /// # Safety
    /// `ptr` must point at `len` readable bytes that stay valid and unchanged for `'a`
    /// (or `len` must be 0).
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            &[]
        } else {
            // SAFETY: guaranteed by the caller.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    /// Views the string, or `None` when it is not UTF-8.
    ///
    /// # Safety
    /// As for [`VkStr::as_bytes`].
    pub unsafe fn as_str<'a>(&self) -> Option<&'a str> {
        // SAFETY: forwarded to the caller.
        core::str::from_utf8(unsafe { self.as_bytes() }).ok()
    }
}

/// Host-provided sink for strings. For single-string results the driver pushes the text (it
/// may push it in several pieces, which the host concatenates); for lists it pushes one item per
/// call.
#[repr(C)]
pub struct VkStrSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Receives one string; the host copies it before returning.
    pub push: unsafe extern "C" fn(ctx: *mut c_void, s: VkStr),
}

/// Host-provided sink for integers (domain ids).
#[repr(C)]
pub struct VkIntSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Receives one integer.
    pub push: unsafe extern "C" fn(ctx: *mut c_void, value: i64),
}

/// Host-provided sink for a domain identity (result of a lookup, create or define).
#[repr(C)]
pub struct VkDomainSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Receives the domain: its id (-1 when inactive), UUID and name.
    pub put: unsafe extern "C" fn(ctx: *mut c_void, id: i32, uuid: *const [u8; 16], name: VkStr),
}

/// Host-provided sink for a network identity.
#[repr(C)]
pub struct VkNetworkSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Receives the network: its UUID and name.
    pub put: unsafe extern "C" fn(ctx: *mut c_void, uuid: *const [u8; 16], name: VkStr),
}

/// Host-provided sink for per-vCPU information.
#[repr(C)]
pub struct VkVcpuSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Receives one vCPU and its affinity map (one bit per host CPU, `cpumap_len` bytes).
    pub push: unsafe extern "C" fn(
        ctx: *mut c_void,
        info: *const VkVcpuInfo,
        cpumap: *const u8,
        cpumap_len: usize,
    ),
}

/// Host-provided error sink. A failing entry calls `set` once and returns the same code (should a
/// driver call it more than once, the host keeps the last call).
#[repr(C)]
pub struct VkErrorSink {
    /// Host context, passed back unchanged.
    pub ctx: *mut c_void,
    /// Records the error code ([`VkErrorCode`]) and a message.
    pub set: unsafe extern "C" fn(ctx: *mut c_void, code: i32, message: VkStr),
}

/// A domain as the core names it when it calls a driver entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkDomainRef {
    /// The id the core last saw (-1 when inactive); informational, drivers should key on `uuid`.
    pub id: i32,
    /// The domain's UUID.
    pub uuid: [u8; 16],
    /// The domain's name.
    pub name: VkStr,
}

/// A network as the core names it when it calls a driver entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkNetworkRef {
    /// The network's UUID.
    pub uuid: [u8; 16],
    /// The network's name.
    pub name: VkStr,
}

/// Domain information, as libvirt's `virDomainInfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VkDomainInfo {
    /// A [`VkDomainState`] value.
    pub state: u32,
    /// Number of virtual CPUs.
    pub nr_virt_cpu: u32,
    /// Maximum memory in KiB.
    pub max_mem_kib: u64,
    /// Current memory in KiB.
    pub memory_kib: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_time_ns: u64,
}

/// Node information, as libvirt's `virNodeInfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VkNodeInfo {
    /// CPU model, NUL-padded UTF-8.
    pub model: [u8; 32],
    /// Memory size in KiB.
    pub memory_kib: u64,
    /// Number of active CPUs.
    pub cpus: u32,
    /// Expected CPU frequency in MHz.
    pub mhz: u32,
    /// Number of NUMA cells.
    pub nodes: u32,
    /// Number of CPU sockets per cell.
    pub sockets: u32,
    /// Number of cores per socket.
    pub cores: u32,
    /// Number of threads per core.
    pub threads: u32,
}

/// Per-vCPU information, as libvirt's `virVcpuInfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VkVcpuInfo {
    /// Virtual CPU number.
    pub number: u32,
    /// A [`VkVcpuState`] value.
    pub state: i32,
    /// CPU time used, in nanoseconds.
    pub cpu_time_ns: u64,
    /// Host CPU the vCPU runs on, or -1.
    pub cpu: i32,
    /// Always 0.
    pub reserved: u32,
}

/// A per-operation rank override for drivers in a stack (see [`VkDriverHeader::op_ranks`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VkOpRank {
    /// The operation index ([`Op`]).
    pub op: u32,
    /// The rank of this driver for that operation; lower ranks are tried first.
    pub rank: u32,
}

/// The fixed header at the start of every driver table. Frozen for ABI major 1.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VkDriverHeader {
    /// [`VK_MAGIC`].
    pub magic: u32,
    /// [`VK_ABI_MAJOR`] as the plugin was built.
    pub abi_major: u16,
    /// [`VK_ABI_MINOR`] as the plugin was built.
    pub abi_minor: u16,
    /// `sizeof(VkDriverTable)` as the plugin was built; tells the loader how many slots exist.
    pub struct_size: u32,
    /// `VK_DRIVER_*` flags.
    pub flags: u32,
    /// Driver name, e.g. `test`, `qemu`, `xen-xend`.
    pub name: VkStr,
    /// Driver version, a semantic version such as `1.2.0`.
    pub version: VkStr,
    /// URI schemes the driver serves, e.g. `test`.
    pub schemes: *const VkStr,
    /// Number of entries in `schemes`.
    pub n_schemes: usize,
    /// libvirt-style error domain number reported with this driver's errors (see [`error_domain`]).
    pub error_domain: u32,
    /// Default rank of this driver within a stack serving the same scheme; lower ranks are tried
    /// first.
    pub stack_rank: u32,
    /// Per-operation rank overrides (may be NULL when `n_op_ranks` is 0).
    pub op_ranks: *const VkOpRank,
    /// Number of entries in `op_ranks`.
    pub n_op_ranks: usize,
    /// A URI at which the conformance suite can open a disposable instance of the driver.
    /// `{tmpdir}` in it is replaced by a fresh empty directory. Empty: the suite cannot sandbox
    /// the driver and skips its mutating checks.
    pub sandbox_uri: VkStr,
    /// One bit per operation: bit `i` of word `i / 64` is set exactly when slot `i` is non-NULL.
    pub caps: [u64; VK_CAP_WORDS],
    /// Since ABI 1.2 (the first of the words reserved in 1.0): called once by the core, after it
    /// validated the table and before the first `open`, with the host services
    /// ([`VkHostServices`]), which stay valid for the life of the process. May be NULL. Must be
    /// NULL in a table that declares ABI 1.0 or 1.1, for which this word was reserved.
    pub host_init: Option<VkHostInitFn>,
    /// Reserved for later header fields; must be zero.
    pub reserved: [u64; 3],
}

// The header is frozen for major 1: host_init took the place of reserved word 0.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<VkDriverHeader>() == 168);

// SAFETY: a header lives in a static table of pointers to static, immutable data.
unsafe impl Sync for VkDriverHeader {}
// SAFETY: see above.
unsafe impl Send for VkDriverHeader {}

impl VkDriverHeader {
    /// Whether capability bit `op` is set.
    pub const fn has_cap(&self, op: usize) -> bool {
        op < VK_MAX_OPS && self.caps[op / 64] & (1u64 << (op % 64)) != 0
    }
}

/// The type of the exported entry symbol.
pub type VkEntryFn = unsafe extern "C" fn() -> *const VkDriverTable;

/// Opaque connection handle owned by the driver.
pub type VkConn = *mut c_void;

/// Signature shared by domain actions that take no argument but the domain.
pub type VkDomainActionFn =
    unsafe extern "C" fn(conn: VkConn, dom: *const VkDomainRef, err: *const VkErrorSink) -> i32;
/// Signature shared by network actions that take no argument but the network.
pub type VkNetworkActionFn =
    unsafe extern "C" fn(conn: VkConn, net: *const VkNetworkRef, err: *const VkErrorSink) -> i32;
/// Signature shared by entries returning one string for the connection.
pub type VkConnStrFn =
    unsafe extern "C" fn(conn: VkConn, out: *const VkStrSink, err: *const VkErrorSink) -> i32;
/// Signature shared by entries returning one integer count for the connection.
pub type VkConnCountFn =
    unsafe extern "C" fn(conn: VkConn, out: *mut i32, err: *const VkErrorSink) -> i32;

/// How an operation relates to a connection's access mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Opening or closing the connection.
    Connection,
    /// Reads state; allowed on read-only connections.
    Read,
    /// Changes state; refused on read-only connections.
    Mutate,
    /// Changes nothing, but is refused on read-only connections all the same, as libvirt refuses
    /// it (`virCheckReadOnly` on a call that only converts or reveals): the native-format
    /// conversions, which hand out a configuration a read-only client has no business building.
    Privileged,
}

impl OpKind {
    /// Whether a read-only connection refuses every call of this kind (before dispatch).
    pub const fn refused_read_only(self) -> bool {
        matches!(self, OpKind::Mutate | OpKind::Privileged)
    }
}

/// How one argument of an operation crosses the boundary. Each shape is one C parameter, except
/// [`ArgShape::Bytes`], which is two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgShape {
    /// A domain the core names: `const vk_domain_ref *`, valid for the call.
    Domain,
    /// A network the core names: `const vk_network_ref *`, valid for the call.
    Network,
    /// A UTF-8 string (name, XML, path, format): a `vk_str` valid for the call.
    Str,
    /// A 16-byte UUID: `const uint8_t[16]`, valid for the call.
    Uuid,
    /// A signed 32-bit number (domain id).
    I32,
    /// An unsigned 32-bit number (vCPU number or count).
    U32,
    /// An unsigned 64-bit number (memory in KiB).
    U64,
    /// libvirt flag bits (`uint32_t`, see the `VK_DOMAIN_*`/`VK_NETWORK_*` flag constants).
    Flags,
    /// A boolean as `int32_t` 0 or 1.
    Bool,
    /// A byte buffer (CPU map): `const uint8_t *` and its length (`size_t`), valid for the call.
    Bytes,
}

/// One argument of an operation: its name (as in the C header) and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgInfo {
    /// Parameter name in the C header and in the generated Rust code.
    pub name: &'static str,
    /// How it crosses.
    pub shape: ArgShape,
}

/// How the result of an operation comes back to the host: the C out-parameters that follow the
/// arguments (before the error sink) and what they mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetShape {
    /// Nothing but the status.
    Unit,
    /// One string through a `vk_str_sink` (possibly pushed in pieces, concatenated).
    Str,
    /// A list of strings (names, messages) through a `vk_str_sink`, one push per string.
    Names,
    /// A list of domain ids through a `vk_int_sink`, one push per id.
    Ids,
    /// An `int32_t` written into host storage (a count, a number).
    I32,
    /// A `uint64_t` written into host storage.
    U64,
    /// An `int32_t` 0 or 1 written into host storage.
    Bool,
    /// A `vk_node_info` written into host storage.
    NodeInfo,
    /// A `vk_domain_info` written into host storage.
    DomainInfo,
    /// vCPUs through a `vk_vcpu_sink`, one push per vCPU.
    Vcpus,
    /// A lookup: the domain found, put once into a `vk_domain_sink`.
    DomainFound,
    /// A create or define: the new domain, put once into a `vk_domain_sink`.
    NewDomain,
    /// A lookup: the network found, put once into a `vk_network_sink`.
    NetworkFound,
    /// A create or define: the new network, put once into a `vk_network_sink`.
    NewNetwork,
    /// Exactly two strings through a `vk_str_sink` (security model, then DOI).
    StrPair,
    /// A string through a `vk_str_sink`, then an `int32_t` 0/1 flag (security label, enforcing).
    Label,
    /// Two `int32_t`s: a [`VkDomainState`] and libvirt's reason code for it.
    State,
}

/// Static facts about one operation slot.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    /// Slot index, which is also the capability bit.
    pub index: usize,
    /// The slot's field name in [`VkDriverTable`] and in the C header.
    pub field: &'static str,
    /// The libvirt API the operation corresponds to (used in "not supported" errors).
    pub api: &'static str,
    /// ABI minor version that added the slot.
    pub since_minor: u16,
    /// Access kind.
    pub kind: OpKind,
    /// The arguments after the connection handle, in order (empty for open and close, whose
    /// signatures are their own).
    pub args: &'static [ArgInfo],
    /// How the result comes back (after the arguments, before the error sink).
    pub ret: RetShape,
}

/// A typed handle on one operation: its [`Op`] and its slot, paired once, by [`define_ops!`]'s
/// expansion. Code that takes an `S: Slot` cannot name one operation and call another's slot.
/// The markers are the unit structs in [`slots`].
pub trait Slot: Copy + 'static {
    /// The operation.
    const OP: Op;
    /// The slot's function pointer type.
    type Fn: Copy;
    /// The slot of `table` (NULL: `None`).
    fn get(table: &VkDriverTable) -> Option<Self::Fn>;
}

/// The C type of a slot, from the shapes of its arguments and result: the connection handle,
/// the arguments, the result's out-parameters, the error sink. (Each step appends the C types
/// of one shape; [`ArgShape::Bytes`] and the two-part results append two.)
macro_rules! c_slot {
    ([$($p:ty,)*] () -> $ret:ident) => { c_slot!(@ret [$($p,)*] $ret) };
    ([$($p:ty,)*] (Domain $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* *const VkDomainRef,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Network $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* *const VkNetworkRef,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Str $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* VkStr,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Uuid $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* *const [u8; 16],] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (I32 $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* i32,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (U32 $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* u32,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (U64 $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* u64,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Flags $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* u32,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Bool $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* i32,] ($($rest),*) -> $ret) };
    ([$($p:ty,)*] (Bytes $(, $rest:ident)*) -> $ret:ident) => { c_slot!([$($p,)* *const u8, usize,] ($($rest),*) -> $ret) };
    (@ret [$($p:ty,)*] Unit) => { c_slot!(@fn [$($p,)*]) };
    (@ret [$($p:ty,)*] Str) => { c_slot!(@fn [$($p,)* *const VkStrSink,]) };
    (@ret [$($p:ty,)*] Names) => { c_slot!(@fn [$($p,)* *const VkStrSink,]) };
    (@ret [$($p:ty,)*] StrPair) => { c_slot!(@fn [$($p,)* *const VkStrSink,]) };
    (@ret [$($p:ty,)*] Ids) => { c_slot!(@fn [$($p,)* *const VkIntSink,]) };
    (@ret [$($p:ty,)*] I32) => { c_slot!(@fn [$($p,)* *mut i32,]) };
    (@ret [$($p:ty,)*] Bool) => { c_slot!(@fn [$($p,)* *mut i32,]) };
    (@ret [$($p:ty,)*] U64) => { c_slot!(@fn [$($p,)* *mut u64,]) };
    (@ret [$($p:ty,)*] NodeInfo) => { c_slot!(@fn [$($p,)* *mut VkNodeInfo,]) };
    (@ret [$($p:ty,)*] DomainInfo) => { c_slot!(@fn [$($p,)* *mut VkDomainInfo,]) };
    (@ret [$($p:ty,)*] Vcpus) => { c_slot!(@fn [$($p,)* *const VkVcpuSink,]) };
    (@ret [$($p:ty,)*] DomainFound) => { c_slot!(@fn [$($p,)* *const VkDomainSink,]) };
    (@ret [$($p:ty,)*] NewDomain) => { c_slot!(@fn [$($p,)* *const VkDomainSink,]) };
    (@ret [$($p:ty,)*] NetworkFound) => { c_slot!(@fn [$($p,)* *const VkNetworkSink,]) };
    (@ret [$($p:ty,)*] NewNetwork) => { c_slot!(@fn [$($p,)* *const VkNetworkSink,]) };
    (@ret [$($p:ty,)*] Label) => { c_slot!(@fn [$($p,)* *const VkStrSink, *mut i32,]) };
    (@ret [$($p:ty,)*] State) => { c_slot!(@fn [$($p,)* *mut i32, *mut i32,]) };
    (@fn [$($p:ty,)*]) => { unsafe extern "C" fn(VkConn, $($p,)* *const VkErrorSink) -> i32 };
}

/// Builds everything that follows from the operation list: [`Op`], [`OPS`], [`VkDriverTable`]
/// with one slot per operation (its C type derived from the shapes by `c_slot!`), and the
/// [`slots`] markers. The loader's host methods, the SDK's `Ops` and shims and the conformance
/// suite's per-operation calls are generated from [`OPS`] by `cargo xtask codegen`.
macro_rules! define_ops {
    (
        open: $open_ty:ty;
        close: $close_ty:ty;
        $( $idx:literal $variant:ident $field:ident $api:literal $since:literal $kind:ident
            ( $($arg:ident : $shape:ident),* ) -> $ret:ident; )*
    ) => {
        /// Operation indices: slot positions and capability bits.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            /// `open` (virConnectOpen)
            Open = 0,
            /// `close` (virConnectClose)
            Close = 1,
            $(
                #[doc = concat!("`", stringify!($field), "` (", $api, ")")]
                $variant = $idx,
            )*
        }

        /// Facts about every operation, indexed by [`Op`].
        pub const OPS: &[OpInfo] = &[
            OpInfo { index: 0, field: "open", api: "virConnectOpen", since_minor: 0, kind: OpKind::Connection, args: &[], ret: RetShape::Unit },
            OpInfo { index: 1, field: "close", api: "virConnectClose", since_minor: 0, kind: OpKind::Connection, args: &[], ret: RetShape::Unit },
            $( OpInfo {
                index: $idx,
                field: stringify!($field),
                api: $api,
                since_minor: $since,
                kind: OpKind::$kind,
                args: &[ $( ArgInfo { name: stringify!($arg), shape: ArgShape::$shape }, )* ],
                ret: RetShape::$ret,
            }, )*
        ];

        /// Number of operation slots in this version of the ABI.
        pub const OP_COUNT: usize = OPS.len();
        const _: () = assert!(OP_COUNT <= VK_MAX_OPS, "the capability set is too small");

        /// The driver table: the header followed by one nullable entry per operation.
        #[repr(C)]
        #[derive(Clone, Copy)]
        pub struct VkDriverTable {
            /// The fixed header.
            pub header: VkDriverHeader,
            /// virConnectOpen (since ABI 1.0).
            pub open: Option<$open_ty>,
            /// virConnectClose (since ABI 1.0).
            pub close: Option<$close_ty>,
            $(
                #[doc = concat!($api, " (since ABI 1.", stringify!($since), ").")]
                pub $field: Option<c_slot!([] ($($shape),*) -> $ret)>,
            )*
        }

        impl VkDriverTable {
            /// A table with the given header and every slot NULL.
            pub const fn empty(header: VkDriverHeader) -> VkDriverTable {
                VkDriverTable { header, open: None, close: None, $( $field: None, )* }
            }

            /// Whether each slot is non-NULL, in slot order.
            pub fn present_slots(&self) -> [bool; OP_COUNT] {
                [ self.open.is_some(), self.close.is_some(), $( self.$field.is_some(), )* ]
            }

            /// Byte offset of each slot in the table, in slot order.
            pub const SLOT_OFFSETS: [usize; OP_COUNT] = [
                core::mem::offset_of!(VkDriverTable, open),
                core::mem::offset_of!(VkDriverTable, close),
                $( core::mem::offset_of!(VkDriverTable, $field), )*
            ];

            /// The Rust type of each slot, as `core::any::type_name` spells it (for the C header
            /// test, which compares each with the header's declaration).
            #[doc(hidden)]
            pub fn slot_type_names() -> [&'static str; OP_COUNT] {
                [
                    core::any::type_name::<$open_ty>(),
                    core::any::type_name::<$close_ty>(),
                    $( core::any::type_name::<c_slot!([] ($($shape),*) -> $ret)>(), )*
                ]
            }
        }

        impl Op {
            /// All operations in slot order.
            pub const ALL: [Op; OP_COUNT] = [ Op::Open, Op::Close, $( Op::$variant, )* ];
        }

        /// One marker type per operation (open and close excepted), implementing [`Slot`].
        pub mod slots {
            use super::*;
            $(
                #[doc = concat!("The `", stringify!($field), "` slot (", $api, ").")]
                #[derive(Clone, Copy, Debug, Default)]
                pub struct $variant;
                impl Slot for $variant {
                    const OP: Op = Op::$variant;
                    type Fn = c_slot!([] ($($shape),*) -> $ret);
                    #[inline]
                    fn get(table: &VkDriverTable) -> Option<Self::Fn> {
                        table.$field
                    }
                }
            )*
        }
    };
}

// The operation list. One line per slot, append-only:
//   <index> <Op variant> <slot field> "<libvirt API>" <since minor> <kind> (<arg>: <shape>, ...) -> <result shape>;
// See abi/README.md, "Adding an operation".
define_ops! {
    open: unsafe extern "C" fn(uri: VkStr, flags: u32, conn_out: *mut VkConn, err: *const VkErrorSink) -> i32;
    close: unsafe extern "C" fn(conn: VkConn) -> i32;
    2  GetType                get_type                "virConnectGetType"               0 Read () -> Str;
    3  GetVersion             get_version             "virConnectGetVersion"            0 Read () -> U64;
    4  GetHostname            get_hostname            "virConnectGetHostname"           0 Read () -> Str;
    5  GetCapabilities        get_capabilities        "virConnectGetCapabilities"       0 Read () -> Str;
    6  NodeGetInfo            node_get_info           "virNodeGetInfo"                  0 Read () -> NodeInfo;
    7  GetMaxVcpus            get_max_vcpus           "virConnectGetMaxVcpus"           0 Read (domain_type: Str) -> I32;
    8  ListDomains            list_domains            "virConnectListDomains"           0 Read () -> Ids;
    9  NumOfDomains           num_of_domains          "virConnectNumOfDomains"          0 Read () -> I32;
    10 ListDefinedDomains     list_defined_domains    "virConnectListDefinedDomains"    0 Read () -> Names;
    11 NumOfDefinedDomains    num_of_defined_domains  "virConnectNumOfDefinedDomains"   0 Read () -> I32;
    12 DomainLookupById       domain_lookup_by_id     "virDomainLookupByID"             0 Read (id: I32) -> DomainFound;
    13 DomainLookupByUuid     domain_lookup_by_uuid   "virDomainLookupByUUID"           0 Read (uuid: Uuid) -> DomainFound;
    14 DomainLookupByName     domain_lookup_by_name   "virDomainLookupByName"           0 Read (name: Str) -> DomainFound;
    15 DomainCreateXml        domain_create_xml       "virDomainCreateXML"              0 Mutate (xml: Str, flags: Flags) -> NewDomain;
    16 DomainDefineXml        domain_define_xml       "virDomainDefineXML"              0 Mutate (xml: Str) -> NewDomain;
    17 DomainUndefine         domain_undefine         "virDomainUndefine"               0 Mutate (dom: Domain) -> Unit;
    18 DomainCreate           domain_create           "virDomainCreate"                 0 Mutate (dom: Domain) -> Unit;
    19 DomainShutdown         domain_shutdown         "virDomainShutdown"               0 Mutate (dom: Domain) -> Unit;
    20 DomainReboot           domain_reboot           "virDomainReboot"                 0 Mutate (dom: Domain, flags: Flags) -> Unit;
    21 DomainDestroy          domain_destroy          "virDomainDestroy"                0 Mutate (dom: Domain) -> Unit;
    22 DomainSuspend          domain_suspend          "virDomainSuspend"                0 Mutate (dom: Domain) -> Unit;
    23 DomainResume           domain_resume           "virDomainResume"                 0 Mutate (dom: Domain) -> Unit;
    24 DomainSave             domain_save             "virDomainSave"                   0 Mutate (dom: Domain, path: Str) -> Unit;
    25 DomainRestore          domain_restore          "virDomainRestore"                0 Mutate (path: Str) -> Unit;
    26 DomainCoreDump         domain_core_dump        "virDomainCoreDump"               0 Mutate (dom: Domain, path: Str, flags: Flags) -> Unit;
    27 DomainGetInfo          domain_get_info         "virDomainGetInfo"                0 Read (dom: Domain) -> DomainInfo;
    28 DomainGetXmlDesc       domain_get_xml_desc     "virDomainGetXMLDesc"             0 Read (dom: Domain, flags: Flags) -> Str;
    29 DomainGetOsType        domain_get_os_type      "virDomainGetOSType"              0 Read (dom: Domain) -> Str;
    30 DomainGetMaxMemory     domain_get_max_memory   "virDomainGetMaxMemory"           0 Read (dom: Domain) -> U64;
    31 DomainSetMaxMemory     domain_set_max_memory   "virDomainSetMaxMemory"           0 Mutate (dom: Domain, kib: U64) -> Unit;
    32 DomainSetMemory        domain_set_memory       "virDomainSetMemory"              0 Mutate (dom: Domain, kib: U64) -> Unit;
    33 DomainSetVcpus         domain_set_vcpus        "virDomainSetVcpus"               0 Mutate (dom: Domain, nvcpus: U32) -> Unit;
    34 DomainPinVcpu          domain_pin_vcpu         "virDomainPinVcpu"                0 Mutate (dom: Domain, vcpu: U32, cpumap: Bytes) -> Unit;
    35 DomainGetVcpus         domain_get_vcpus        "virDomainGetVcpus"               0 Read (dom: Domain) -> Vcpus;
    36 DomainGetAutostart     domain_get_autostart    "virDomainGetAutostart"           0 Read (dom: Domain) -> Bool;
    37 DomainSetAutostart     domain_set_autostart    "virDomainSetAutostart"           0 Mutate (dom: Domain, autostart: Bool) -> Unit;
    38 DomainAttachDevice     domain_attach_device    "virDomainAttachDevice"           0 Mutate (dom: Domain, xml: Str) -> Unit;
    39 DomainDetachDevice     domain_detach_device    "virDomainDetachDevice"           0 Mutate (dom: Domain, xml: Str) -> Unit;
    40 ListNetworks           list_networks           "virConnectListNetworks"          0 Read () -> Names;
    41 NumOfNetworks          num_of_networks         "virConnectNumOfNetworks"         0 Read () -> I32;
    42 ListDefinedNetworks    list_defined_networks   "virConnectListDefinedNetworks"   0 Read () -> Names;
    43 NumOfDefinedNetworks   num_of_defined_networks "virConnectNumOfDefinedNetworks"  0 Read () -> I32;
    44 NetworkLookupByUuid    network_lookup_by_uuid  "virNetworkLookupByUUID"          0 Read (uuid: Uuid) -> NetworkFound;
    45 NetworkLookupByName    network_lookup_by_name  "virNetworkLookupByName"          0 Read (name: Str) -> NetworkFound;
    46 NetworkCreateXml       network_create_xml      "virNetworkCreateXML"             0 Mutate (xml: Str) -> NewNetwork;
    47 NetworkDefineXml       network_define_xml      "virNetworkDefineXML"             0 Mutate (xml: Str) -> NewNetwork;
    48 NetworkUndefine        network_undefine        "virNetworkUndefine"              0 Mutate (net: Network) -> Unit;
    49 NetworkCreate          network_create          "virNetworkCreate"                0 Mutate (net: Network) -> Unit;
    50 NetworkDestroy         network_destroy         "virNetworkDestroy"               0 Mutate (net: Network) -> Unit;
    51 NetworkGetXmlDesc      network_get_xml_desc    "virNetworkGetXMLDesc"            0 Read (net: Network, flags: Flags) -> Str;
    52 NetworkGetBridgeName   network_get_bridge_name "virNetworkGetBridgeName"         0 Read (net: Network) -> Str;
    53 NetworkGetAutostart    network_get_autostart   "virNetworkGetAutostart"          0 Read (net: Network) -> Bool;
    54 NetworkSetAutostart    network_set_autostart   "virNetworkSetAutostart"          0 Mutate (net: Network, autostart: Bool) -> Unit;
    // ---- ABI 1.1: what virsh 9.0's dominfo/domstate/net-list read, and native conversions ----
    55 DomainIsPersistent     domain_is_persistent    "virDomainIsPersistent"           1 Read (dom: Domain) -> Bool;
    56 DomainHasManagedSaveImage domain_has_managed_save_image "virDomainHasManagedSaveImage" 1 Read (dom: Domain, flags: Flags) -> Bool;
    57 NodeGetSecurityModel   node_get_security_model "virNodeGetSecurityModel"         1 Read () -> StrPair;
    58 DomainGetSecurityLabel domain_get_security_label "virDomainGetSecurityLabel"     1 Read (dom: Domain) -> Label;
    59 DomainGetState         domain_get_state        "virDomainGetState"               1 Read (dom: Domain) -> State;
    60 DomainXmlFromNative    domain_xml_from_native  "virConnectDomainXMLFromNative"   1 Privileged (format: Str, config: Str, flags: Flags) -> Str;
    61 DomainXmlToNative      domain_xml_to_native    "virConnectDomainXMLToNative"     1 Privileged (format: Str, xml: Str, flags: Flags) -> Str;
    62 NetworkIsActive        network_is_active       "virNetworkIsActive"              1 Read (net: Network) -> Bool;
    63 NetworkIsPersistent    network_is_persistent   "virNetworkIsPersistent"          1 Read (net: Network) -> Bool;
    // ---- ABI 1.2 ----
    64 DomainSetMemoryFlags   domain_set_memory_flags "virDomainSetMemoryFlags"         2 Mutate (dom: Domain, kib: U64, flags: Flags) -> Unit;
    // ---- ABI 1.3: what virsh 9.0's dominfo shows as Messages ----
    65 DomainGetMessages      domain_get_messages     "virDomainGetMessages"            3 Read (dom: Domain, flags: Flags) -> Names;
}

impl Op {
    /// Facts about this operation.
    pub const fn info(self) -> &'static OpInfo {
        &OPS[self as usize]
    }
}

/// The size of the header: a table smaller than this is malformed.
pub const VK_HEADER_SIZE: usize = core::mem::size_of::<VkDriverHeader>();
/// The size of the table in this version of the ABI.
pub const VK_TABLE_SIZE: usize = core::mem::size_of::<VkDriverTable>();
/// Size of one slot: a nullable function pointer.
pub const VK_SLOT_SIZE: usize = core::mem::size_of::<Option<VkDomainActionFn>>();

/// Domain states, as libvirt's `virDomainState`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VkDomainState {
    /// No state.
    NoState = 0,
    /// Running.
    Running = 1,
    /// Blocked on a resource.
    Blocked = 2,
    /// Paused by the user.
    Paused = 3,
    /// Being shut down.
    Shutdown = 4,
    /// Shut off.
    Shutoff = 5,
    /// Crashed.
    Crashed = 6,
}

impl VkDomainState {
    /// Converts a raw value; unknown values map to `NoState`.
    pub const fn from_raw(v: u32) -> VkDomainState {
        match v {
            1 => VkDomainState::Running,
            2 => VkDomainState::Blocked,
            3 => VkDomainState::Paused,
            4 => VkDomainState::Shutdown,
            5 => VkDomainState::Shutoff,
            6 => VkDomainState::Crashed,
            _ => VkDomainState::NoState,
        }
    }
}

/// vCPU states, as libvirt's `virVcpuState`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VkVcpuState {
    /// Offline.
    Offline = 0,
    /// Running.
    Running = 1,
    /// Blocked.
    Blocked = 2,
}

/// Error codes that cross the boundary. The numbers are libvirt's `virErrorNumber` values and
/// never change.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VkErrorCode {
    /// Internal error (also: a panic inside a driver).
    InternalError = 1,
    /// Out of memory.
    NoMemory = 2,
    /// The driver does not support the operation.
    NoSupport = 3,
    /// Could not connect to the hypervisor or its back end.
    NoConnect = 5,
    /// Invalid connection object.
    InvalidConn = 6,
    /// Invalid domain object.
    InvalidDomain = 7,
    /// Invalid argument.
    InvalidArg = 8,
    /// The operation failed.
    OperationFailed = 9,
    /// A GET request to a daemon (xend) failed.
    GetFailed = 10,
    /// A POST request to a daemon (xend) failed.
    PostFailed = 11,
    /// A daemon (xend) answered with an unexpected HTTP status.
    HttpError = 12,
    /// Unsupported OS type.
    OsType = 16,
    /// Missing kernel information.
    NoKernel = 17,
    /// Missing root device.
    NoRoot = 18,
    /// Missing source device.
    NoSource = 19,
    /// Missing target device.
    NoTarget = 20,
    /// Missing domain name.
    NoName = 21,
    /// Missing OS information.
    NoOs = 22,
    /// Missing device information.
    NoDevice = 23,
    /// Malformed or invalid XML.
    XmlError = 27,
    /// The domain already exists.
    DomExist = 28,
    /// Operation forbidden (read-only connection, missing privilege).
    OperationDenied = 29,
    /// Failed to open a file.
    OpenFailed = 30,
    /// Failed to read a file.
    ReadFailed = 31,
    /// Failed to parse a file.
    ParseFailed = 32,
    /// Configuration syntax error.
    ConfSyntax = 33,
    /// Failed to write a file.
    WriteFailed = 34,
    /// Invalid network object.
    InvalidNetwork = 36,
    /// The network already exists.
    NetworkExist = 37,
    /// A system call failed.
    SystemError = 38,
    /// No domain with the given name, id or UUID.
    NoDomain = 42,
    /// No network with the given name or UUID.
    NoNetwork = 43,
    /// Invalid MAC address.
    InvalidMac = 44,
    /// The operation is not valid in the object's current state.
    OperationInvalid = 55,
    /// An argument is not supported by the driver.
    ConfigUnsupported = 67,
}

impl VkErrorCode {
    /// Every code, for iteration.
    pub const ALL: [VkErrorCode; 35] = [
        VkErrorCode::InternalError,
        VkErrorCode::NoMemory,
        VkErrorCode::NoSupport,
        VkErrorCode::NoConnect,
        VkErrorCode::InvalidConn,
        VkErrorCode::InvalidDomain,
        VkErrorCode::InvalidArg,
        VkErrorCode::OperationFailed,
        VkErrorCode::GetFailed,
        VkErrorCode::PostFailed,
        VkErrorCode::HttpError,
        VkErrorCode::OsType,
        VkErrorCode::NoKernel,
        VkErrorCode::NoRoot,
        VkErrorCode::NoSource,
        VkErrorCode::NoTarget,
        VkErrorCode::NoName,
        VkErrorCode::NoOs,
        VkErrorCode::NoDevice,
        VkErrorCode::XmlError,
        VkErrorCode::DomExist,
        VkErrorCode::OperationDenied,
        VkErrorCode::OpenFailed,
        VkErrorCode::ReadFailed,
        VkErrorCode::ParseFailed,
        VkErrorCode::ConfSyntax,
        VkErrorCode::WriteFailed,
        VkErrorCode::InvalidNetwork,
        VkErrorCode::NetworkExist,
        VkErrorCode::SystemError,
        VkErrorCode::NoDomain,
        VkErrorCode::NoNetwork,
        VkErrorCode::InvalidMac,
        VkErrorCode::OperationInvalid,
        VkErrorCode::ConfigUnsupported,
    ];

    /// libvirt's message for the code (its `virErrorMsg` table): `.0` when there is no detail,
    /// `.1` around a detail (`%s`). The one place these texts are written.
    pub const fn messages(self) -> (&'static str, &'static str) {
        match self {
            VkErrorCode::InternalError => ("internal error", "internal error: %s"),
            VkErrorCode::NoMemory => ("out of memory", "out of memory: %s"),
            VkErrorCode::NoSupport => (
                "this function is not supported by the connection driver",
                "this function is not supported by the connection driver: %s",
            ),
            VkErrorCode::NoConnect => (
                "no connection driver available",
                "no connection driver available for %s",
            ),
            VkErrorCode::InvalidConn => (
                "invalid connection pointer in",
                "invalid connection pointer in %s",
            ),
            VkErrorCode::InvalidDomain => {
                ("invalid domain pointer in", "invalid domain pointer in %s")
            }
            VkErrorCode::InvalidArg => ("invalid argument", "invalid argument: %s"),
            VkErrorCode::GetFailed => ("GET operation failed", "GET operation failed: %s"),
            VkErrorCode::PostFailed => ("POST operation failed", "POST operation failed: %s"),
            VkErrorCode::HttpError => (
                "got unknown HTTP error code",
                "got unknown HTTP error code %s",
            ),
            VkErrorCode::OperationFailed => ("operation failed", "operation failed: %s"),
            VkErrorCode::OsType => ("unknown OS type", "unknown OS type %s"),
            VkErrorCode::NoKernel => (
                "missing kernel information",
                "missing kernel information: %s",
            ),
            VkErrorCode::NoRoot => (
                "missing root device information",
                "missing root device information in %s",
            ),
            VkErrorCode::NoSource => (
                "missing source information for device",
                "missing source information for device %s",
            ),
            VkErrorCode::NoTarget => (
                "missing target information for device",
                "missing target information for device %s",
            ),
            VkErrorCode::NoName => ("missing name information", "missing name information in %s"),
            VkErrorCode::NoOs => (
                "missing operating system information",
                "missing operating system information for %s",
            ),
            VkErrorCode::NoDevice => (
                "missing devices information",
                "missing devices information for %s",
            ),
            VkErrorCode::XmlError => (
                "XML description is invalid or not well formed",
                "XML error: %s",
            ),
            VkErrorCode::DomExist => ("this domain exists already", "domain %s exists already"),
            VkErrorCode::OperationDenied => (
                "operation forbidden for read only access",
                "operation forbidden: %s",
            ),
            VkErrorCode::OpenFailed => (
                "failed to open configuration file",
                "failed to open configuration file %s",
            ),
            VkErrorCode::ReadFailed => (
                "failed to read configuration file",
                "failed to read configuration file %s",
            ),
            VkErrorCode::ParseFailed => (
                "failed to parse configuration file",
                "failed to parse configuration file %s",
            ),
            VkErrorCode::ConfSyntax => (
                "configuration file syntax error",
                "configuration file syntax error: %s",
            ),
            VkErrorCode::WriteFailed => (
                "failed to write configuration file",
                "failed to write configuration file: %s",
            ),
            VkErrorCode::InvalidNetwork => (
                "invalid network pointer in",
                "invalid network pointer in %s",
            ),
            VkErrorCode::NetworkExist => {
                ("this network exists already", "network %s exists already")
            }
            VkErrorCode::SystemError => ("system call error", "%s"),
            VkErrorCode::NoDomain => ("Domain not found", "Domain not found: %s"),
            VkErrorCode::NoNetwork => ("Network not found", "Network not found: %s"),
            VkErrorCode::InvalidMac => ("invalid MAC address", "invalid MAC address: %s"),
            VkErrorCode::OperationInvalid => (
                "Requested operation is not valid",
                "Requested operation is not valid: %s",
            ),
            VkErrorCode::ConfigUnsupported => {
                ("unsupported configuration", "unsupported configuration: %s")
            }
        }
    }

    /// libvirt's message for the code alone.
    pub const fn message(self) -> &'static str {
        self.messages().0
    }

    /// libvirt's message for the code around `detail` (the message alone when it is empty).
    pub fn message_with(self, detail: &str) -> alloc::string::String {
        if detail.is_empty() {
            return alloc::string::String::from(self.message());
        }
        self.messages().1.replacen("%s", detail, 1)
    }

    /// Converts a raw code; unknown codes map to `InternalError`.
    pub fn from_raw(code: i32) -> VkErrorCode {
        Self::ALL
            .iter()
            .copied()
            .find(|c| *c as i32 == code)
            .unwrap_or(VkErrorCode::InternalError)
    }
}

/// libvirt-style error domain numbers (`virErrorDomain`) that drivers declare in their header.
pub mod error_domain {
    /// No particular domain (the core itself).
    pub const NONE: u32 = 0;
    /// The Xen hypercall driver.
    pub const XEN: u32 = 1;
    /// The xend driver.
    pub const XEND: u32 = 2;
    /// The xenstore driver.
    pub const XENSTORE: u32 = 3;
    /// The S-expression code.
    pub const SEXPR: u32 = 4;
    /// The XML model.
    pub const XML: u32 = 5;
    /// The domain layer.
    pub const DOM: u32 = 6;
    /// The configuration file code.
    pub const CONF: u32 = 9;
    /// The QEMU driver.
    pub const QEMU: u32 = 10;
    /// The network layer.
    pub const NET: u32 = 11;
    /// The test driver.
    pub const TEST: u32 = 12;
    /// The remote driver.
    pub const REMOTE: u32 = 13;
    /// The OpenVZ driver.
    pub const OPENVZ: u32 = 14;
    /// The XM config driver.
    pub const XENXM: u32 = 15;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_minor_names_the_core_that_first_loads_it() {
        extern crate std;
        use std::vec::Vec;
        assert_eq!(
            releases::CORE_VERSION_FOR_MINOR.len(),
            usize::from(VK_ABI_MINOR) + 1,
            "VK_ABI_MINOR grew: append the core version that ships it to CORE_VERSION_FOR_MINOR"
        );
        let parsed: Vec<Vec<u32>> = releases::CORE_VERSION_FOR_MINOR
            .iter()
            .map(|v| v.split('.').map(|n| n.parse().unwrap()).collect())
            .collect();
        assert!(
            parsed.windows(2).all(|w| w[0] <= w[1]),
            "versions must not go down"
        );
        // The newest minor ships in this very crate's version or an older one.
        let here: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(parsed.last().unwrap() <= &here);
    }

    #[test]
    fn ops_are_dense_and_ordered() {
        for (i, op) in OPS.iter().enumerate() {
            assert_eq!(op.index, i, "{} out of order", op.field);
            assert_eq!(Op::ALL[i] as usize, i);
        }
    }

    #[test]
    fn slots_follow_the_header_contiguously() {
        assert_eq!(VkDriverTable::SLOT_OFFSETS[0], VK_HEADER_SIZE);
        for (i, off) in VkDriverTable::SLOT_OFFSETS.iter().enumerate() {
            assert_eq!(*off, VK_HEADER_SIZE + i * VK_SLOT_SIZE);
        }
        assert_eq!(VK_TABLE_SIZE, VK_HEADER_SIZE + OP_COUNT * VK_SLOT_SIZE);
    }

    #[test]
    fn error_codes_round_trip() {
        for c in VkErrorCode::ALL {
            assert_eq!(VkErrorCode::from_raw(c as i32), c);
        }
        assert_eq!(VkErrorCode::from_raw(9999), VkErrorCode::InternalError);
    }

    #[test]
    fn every_code_has_libvirts_message_with_one_place_for_the_detail() {
        for c in VkErrorCode::ALL {
            let (alone, with) = c.messages();
            assert!(!alone.is_empty(), "{c:?}");
            assert_eq!(with.matches("%s").count(), 1, "{c:?}");
        }
        assert_eq!(
            VkErrorCode::NoSupport.message_with("virDomainSuspend"),
            "this function is not supported by the connection driver: virDomainSuspend"
        );
        assert_eq!(VkErrorCode::XmlError.message_with("bad"), "XML error: bad");
        assert_eq!(VkErrorCode::NoDomain.message_with(""), "Domain not found");
    }

    #[test]
    fn magic_spells_vkdr() {
        assert_eq!(&VK_MAGIC.to_le_bytes(), b"VKDR");
    }
}
