//! The hypercall structures the driver reads and writes, declared once as data: per interface
//! version, the size of each structure and the offset and width of each field it uses. The
//! encoders in [`crate::codec`] use nothing else, and `tests/probe.rs` compiles a C program
//! against Xen's public headers (`/usr/include/xen/{xen,sysctl,domctl}.h`, `-D__XEN_TOOLS__`)
//! that prints every one of these numbers, and compares.

/// One field: the C structure and member it mirrors, its offset and its width in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// `struct name`.
    pub c_struct: &'static str,
    /// The member's name.
    pub member: &'static str,
    /// Offset within the structure.
    pub offset: usize,
    /// Width.
    pub size: usize,
}

/// One structure's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// `struct name`.
    pub c_struct: &'static str,
    /// `sizeof`.
    pub size: usize,
}

const fn f(c_struct: &'static str, member: &'static str, offset: usize, size: usize) -> Field {
    Field {
        c_struct,
        member,
        offset,
        size,
    }
}

/// The hypercall interface of Xen 4.17 (Debian 12's `libxen-dev`), x86-64.
pub mod v4_17 {
    use super::{Field, Size, f};

    /// `XEN_SYSCTL_INTERFACE_VERSION`.
    pub const SYSCTL_VERSION: u32 = 0x15;
    /// `XEN_DOMCTL_INTERFACE_VERSION`.
    pub const DOMCTL_VERSION: u32 = 0x15;

    /// `struct xen_sysctl`.
    pub const SYSCTL: Size = Size {
        c_struct: "xen_sysctl",
        size: 136,
    };
    /// `xen_sysctl.cmd`.
    pub const SYSCTL_CMD: Field = f("xen_sysctl", "cmd", 0, 4);
    /// `xen_sysctl.interface_version`.
    pub const SYSCTL_IFV: Field = f("xen_sysctl", "interface_version", 4, 4);
    /// `xen_sysctl.u` (the command's own structure starts here).
    pub const SYSCTL_U: Field = f("xen_sysctl", "u", 8, 128);

    /// `struct xen_sysctl_getdomaininfolist`.
    pub const INFOLIST: Size = Size {
        c_struct: "xen_sysctl_getdomaininfolist",
        size: 24,
    };
    /// `.first_domain`.
    pub const INFOLIST_FIRST: Field = f("xen_sysctl_getdomaininfolist", "first_domain", 0, 2);
    /// `.max_domains`.
    pub const INFOLIST_MAX: Field = f("xen_sysctl_getdomaininfolist", "max_domains", 4, 4);
    /// `.buffer` (a 64-bit guest handle).
    pub const INFOLIST_BUFFER: Field = f("xen_sysctl_getdomaininfolist", "buffer", 8, 8);
    /// `.num_domains`.
    pub const INFOLIST_NUM: Field = f("xen_sysctl_getdomaininfolist", "num_domains", 16, 4);

    /// `struct xen_sysctl_physinfo`.
    pub const PHYSINFO: Size = Size {
        c_struct: "xen_sysctl_physinfo",
        size: 112,
    };
    /// `.threads_per_core`.
    pub const PHYS_THREADS: Field = f("xen_sysctl_physinfo", "threads_per_core", 0, 4);
    /// `.cores_per_socket`.
    pub const PHYS_CORES: Field = f("xen_sysctl_physinfo", "cores_per_socket", 4, 4);
    /// `.nr_cpus`.
    pub const PHYS_NR_CPUS: Field = f("xen_sysctl_physinfo", "nr_cpus", 8, 4);
    /// `.nr_nodes`.
    pub const PHYS_NR_NODES: Field = f("xen_sysctl_physinfo", "nr_nodes", 16, 4);
    /// `.cpu_khz`.
    pub const PHYS_CPU_KHZ: Field = f("xen_sysctl_physinfo", "cpu_khz", 24, 4);
    /// `.total_pages`.
    pub const PHYS_TOTAL_PAGES: Field = f("xen_sysctl_physinfo", "total_pages", 40, 8);

    /// `struct xen_domctl_getdomaininfo` (one record of the list).
    pub const DOMINFO: Size = Size {
        c_struct: "xen_domctl_getdomaininfo",
        size: 112,
    };
    /// `.domain`.
    pub const DI_DOMAIN: Field = f("xen_domctl_getdomaininfo", "domain", 0, 2);
    /// `.flags` (`XEN_DOMINF_*`).
    pub const DI_FLAGS: Field = f("xen_domctl_getdomaininfo", "flags", 4, 4);
    /// `.tot_pages`.
    pub const DI_TOT_PAGES: Field = f("xen_domctl_getdomaininfo", "tot_pages", 8, 8);
    /// `.max_pages`.
    pub const DI_MAX_PAGES: Field = f("xen_domctl_getdomaininfo", "max_pages", 16, 8);
    /// `.cpu_time` (ns).
    pub const DI_CPU_TIME: Field = f("xen_domctl_getdomaininfo", "cpu_time", 56, 8);
    /// `.nr_online_vcpus`.
    pub const DI_ONLINE_VCPUS: Field = f("xen_domctl_getdomaininfo", "nr_online_vcpus", 64, 4);
    /// `.max_vcpu_id`.
    pub const DI_MAX_VCPU_ID: Field = f("xen_domctl_getdomaininfo", "max_vcpu_id", 68, 4);
    /// `.handle` (the UUID).
    pub const DI_HANDLE: Field = f("xen_domctl_getdomaininfo", "handle", 76, 16);

    /// `struct xen_domctl`.
    pub const DOMCTL: Size = Size {
        c_struct: "xen_domctl",
        size: 144,
    };
    /// `xen_domctl.cmd`.
    pub const DOMCTL_CMD: Field = f("xen_domctl", "cmd", 0, 4);
    /// `xen_domctl.interface_version`.
    pub const DOMCTL_IFV: Field = f("xen_domctl", "interface_version", 4, 4);
    /// `xen_domctl.domain`.
    pub const DOMCTL_DOMAIN: Field = f("xen_domctl", "domain", 8, 2);
    /// `xen_domctl.u`.
    pub const DOMCTL_U: Field = f("xen_domctl", "u", 16, 128);

    /// `.max` of `struct xen_domctl_max_vcpus`.
    pub const MAX_VCPUS_MAX: Field = f("xen_domctl_max_vcpus", "max", 0, 4);

    /// `.max_memkb` of `struct xen_domctl_max_mem`.
    pub const MAX_MEM_KB: Field = f("xen_domctl_max_mem", "max_memkb", 0, 8);

    /// `struct xen_domctl_getvcpuinfo`.
    pub const VCPUINFO: Size = Size {
        c_struct: "xen_domctl_getvcpuinfo",
        size: 24,
    };
    /// `.vcpu`.
    pub const VI_VCPU: Field = f("xen_domctl_getvcpuinfo", "vcpu", 0, 4);
    /// `.online`.
    pub const VI_ONLINE: Field = f("xen_domctl_getvcpuinfo", "online", 4, 1);
    /// `.blocked`.
    pub const VI_BLOCKED: Field = f("xen_domctl_getvcpuinfo", "blocked", 5, 1);
    /// `.running`.
    pub const VI_RUNNING: Field = f("xen_domctl_getvcpuinfo", "running", 6, 1);
    /// `.cpu_time`.
    pub const VI_CPU_TIME: Field = f("xen_domctl_getvcpuinfo", "cpu_time", 8, 8);
    /// `.cpu`.
    pub const VI_CPU: Field = f("xen_domctl_getvcpuinfo", "cpu", 16, 4);

    /// `struct xen_domctl_vcpuaffinity`.
    pub const AFFINITY: Size = Size {
        c_struct: "xen_domctl_vcpuaffinity",
        size: 40,
    };
    /// `.vcpu`.
    pub const AF_VCPU: Field = f("xen_domctl_vcpuaffinity", "vcpu", 0, 4);
    /// `.flags` (`XEN_VCPUAFFINITY_HARD` = 1).
    pub const AF_FLAGS: Field = f("xen_domctl_vcpuaffinity", "flags", 4, 4);
    /// `.cpumap_hard` (a `struct xenctl_bitmap`).
    pub const AF_HARD: Field = f("xen_domctl_vcpuaffinity", "cpumap_hard", 8, 16);
    /// `.bitmap` of `struct xenctl_bitmap` (a 64-bit guest handle).
    pub const BM_BITMAP: Field = f("xenctl_bitmap", "bitmap", 0, 8);
    /// `.nr_bits` of `struct xenctl_bitmap`.
    pub const BM_NR_BITS: Field = f("xenctl_bitmap", "nr_bits", 8, 4);

    /// Every size the driver relies on.
    pub const SIZES: &[Size] = &[
        SYSCTL, INFOLIST, PHYSINFO, DOMINFO, DOMCTL, VCPUINFO, AFFINITY,
    ];

    /// Every field the driver reads or writes.
    pub const FIELDS: &[Field] = &[
        SYSCTL_CMD,
        SYSCTL_IFV,
        SYSCTL_U,
        INFOLIST_FIRST,
        INFOLIST_MAX,
        INFOLIST_BUFFER,
        INFOLIST_NUM,
        PHYS_THREADS,
        PHYS_CORES,
        PHYS_NR_CPUS,
        PHYS_NR_NODES,
        PHYS_CPU_KHZ,
        PHYS_TOTAL_PAGES,
        DI_DOMAIN,
        DI_FLAGS,
        DI_TOT_PAGES,
        DI_MAX_PAGES,
        DI_CPU_TIME,
        DI_ONLINE_VCPUS,
        DI_MAX_VCPU_ID,
        DI_HANDLE,
        DOMCTL_CMD,
        DOMCTL_IFV,
        DOMCTL_DOMAIN,
        DOMCTL_U,
        MAX_MEM_KB,
        MAX_VCPUS_MAX,
        VI_VCPU,
        VI_ONLINE,
        VI_BLOCKED,
        VI_RUNNING,
        VI_CPU_TIME,
        VI_CPU,
        AF_VCPU,
        AF_FLAGS,
        AF_HARD,
        BM_BITMAP,
        BM_NR_BITS,
    ];

    /// Constants the driver sends, by their C names (the probe checks them too).
    pub const CONSTANTS: &[(&str, u64)] = &[
        ("XEN_SYSCTL_INTERFACE_VERSION", SYSCTL_VERSION as u64),
        ("XEN_DOMCTL_INTERFACE_VERSION", DOMCTL_VERSION as u64),
        ("XEN_SYSCTL_physinfo", super::SYSCTL_PHYSINFO as u64),
        (
            "XEN_SYSCTL_getdomaininfolist",
            super::SYSCTL_GETDOMAININFOLIST as u64,
        ),
        ("XEN_DOMCTL_destroydomain", super::DOMCTL_DESTROY as u64),
        ("XEN_DOMCTL_pausedomain", super::DOMCTL_PAUSE as u64),
        ("XEN_DOMCTL_unpausedomain", super::DOMCTL_UNPAUSE as u64),
        (
            "XEN_DOMCTL_setvcpuaffinity",
            super::DOMCTL_SETVCPUAFFINITY as u64,
        ),
        (
            "XEN_DOMCTL_getvcpuaffinity",
            super::DOMCTL_GETVCPUAFFINITY as u64,
        ),
        ("XEN_DOMCTL_max_mem", super::DOMCTL_MAX_MEM as u64),
        ("XEN_DOMCTL_max_vcpus", super::DOMCTL_MAX_VCPUS as u64),
        ("XEN_DOMCTL_getvcpuinfo", super::DOMCTL_GETVCPUINFO as u64),
        ("XEN_DOMINF_dying", super::DOMINF_DYING as u64),
        ("XEN_DOMINF_hvm_guest", super::DOMINF_HVM as u64),
        ("XEN_DOMINF_shutdown", super::DOMINF_SHUTDOWN as u64),
        ("XEN_DOMINF_paused", super::DOMINF_PAUSED as u64),
        ("XEN_DOMINF_blocked", super::DOMINF_BLOCKED as u64),
        ("XEN_DOMINF_running", super::DOMINF_RUNNING as u64),
        (
            "XEN_DOMINF_shutdownshift",
            super::DOMINF_SHUTDOWN_SHIFT as u64,
        ),
        ("XEN_VCPUAFFINITY_HARD", super::VCPUAFFINITY_HARD as u64),
        ("__HYPERVISOR_xen_version", super::HYPERVISOR_XEN_VERSION),
        ("__HYPERVISOR_sysctl", super::HYPERVISOR_SYSCTL),
        ("__HYPERVISOR_domctl", super::HYPERVISOR_DOMCTL),
        ("SHUTDOWN_crash", super::SHUTDOWN_CRASH as u64),
    ];
}

/// `__HYPERVISOR_xen_version`.
pub const HYPERVISOR_XEN_VERSION: u64 = 17;
/// `__HYPERVISOR_sysctl`.
pub const HYPERVISOR_SYSCTL: u64 = 35;
/// `__HYPERVISOR_domctl`.
pub const HYPERVISOR_DOMCTL: u64 = 36;
/// `XEN_SYSCTL_physinfo`.
pub const SYSCTL_PHYSINFO: u32 = 3;
/// `XEN_SYSCTL_getdomaininfolist`.
pub const SYSCTL_GETDOMAININFOLIST: u32 = 6;
/// `XEN_DOMCTL_destroydomain`.
pub const DOMCTL_DESTROY: u32 = 2;
/// `XEN_DOMCTL_pausedomain`.
pub const DOMCTL_PAUSE: u32 = 3;
/// `XEN_DOMCTL_unpausedomain`.
pub const DOMCTL_UNPAUSE: u32 = 4;
/// `XEN_DOMCTL_setvcpuaffinity`.
pub const DOMCTL_SETVCPUAFFINITY: u32 = 9;
/// `XEN_DOMCTL_getvcpuaffinity`.
pub const DOMCTL_GETVCPUAFFINITY: u32 = 25;
/// `XEN_DOMCTL_max_mem`.
pub const DOMCTL_MAX_MEM: u32 = 11;
/// `XEN_DOMCTL_getvcpuinfo`.
pub const DOMCTL_GETVCPUINFO: u32 = 14;
/// `XEN_DOMCTL_max_vcpus`.
pub const DOMCTL_MAX_VCPUS: u32 = 15;
/// `XEN_DOMINF_dying`.
pub const DOMINF_DYING: u32 = 1 << 0;
/// `XEN_DOMINF_shutdown`.
pub const DOMINF_SHUTDOWN: u32 = 1 << 2;
/// `XEN_DOMINF_paused`.
pub const DOMINF_PAUSED: u32 = 1 << 3;
/// `XEN_DOMINF_blocked`.
pub const DOMINF_BLOCKED: u32 = 1 << 4;
/// `XEN_DOMINF_running`.
pub const DOMINF_RUNNING: u32 = 1 << 5;
/// `XEN_DOMINF_shutdownshift`.
pub const DOMINF_SHUTDOWN_SHIFT: u32 = 16;
/// `SHUTDOWN_crash`.
pub const SHUTDOWN_CRASH: u32 = 3;
/// `XEN_VCPUAFFINITY_HARD`.
pub const VCPUAFFINITY_HARD: u32 = 1;
/// `XENVER_version`.
pub const XENVER_VERSION: u64 = 0;
/// `XEN_DOMINF_hvm_guest`.
pub const DOMINF_HVM: u32 = 1 << 1;
