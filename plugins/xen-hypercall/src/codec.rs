//! Encoding requests and decoding replies in the byte layouts of [`crate::layout`]; no I/O.
//! Every decoder takes bytes that came from outside (the hypervisor, or a test's fixture) and
//! checks their length first.

use crate::layout::{self, Field, v4_17 as l};

/// What is wrong with a reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the structure.
    #[error("hypercall reply of {got} bytes is shorter than struct {c_struct} ({want} bytes)")]
    Short {
        /// The structure.
        c_struct: &'static str,
        /// Bytes present.
        got: usize,
        /// Bytes needed.
        want: usize,
    },
    /// A count larger than the request allowed.
    #[error("the hypervisor returned {got} domains where at most {max} were asked for")]
    TooMany {
        /// Count returned.
        got: u32,
        /// Count asked for.
        max: u32,
    },
}

fn get(b: &[u8], base: usize, fl: Field) -> u64 {
    let s = &b[base + fl.offset..base + fl.offset + fl.size];
    let mut w = [0u8; 8];
    w[..fl.size].copy_from_slice(s);
    u64::from_ne_bytes(w)
}

fn put(b: &mut [u8], base: usize, fl: Field, v: u64) {
    let bytes = v.to_ne_bytes();
    b[base + fl.offset..base + fl.offset + fl.size].copy_from_slice(&bytes[..fl.size]);
}

/// A `struct xen_sysctl`.
pub type SysctlBuf = [u8; l::SYSCTL.size];
/// A `struct xen_domctl`.
pub type DomctlBuf = [u8; l::DOMCTL.size];

/// The offset of a command's own structure inside `xen_sysctl`.
pub const SYSCTL_ARG: usize = l::SYSCTL_U.offset;
/// The offset of a command's own structure inside `xen_domctl`.
pub const DOMCTL_ARG: usize = l::DOMCTL_U.offset;

/// Where, in a sysctl or domctl, the driver's extra buffer's address goes.
pub const INFOLIST_HANDLE: usize = SYSCTL_ARG + l::INFOLIST_BUFFER.offset;
/// Where the hard-affinity bitmap's address goes in a setvcpuaffinity domctl.
pub const AFFINITY_HANDLE: usize = DOMCTL_ARG + l::AF_HARD.offset + l::BM_BITMAP.offset;

fn sysctl(cmd: u32) -> SysctlBuf {
    let mut b = [0u8; l::SYSCTL.size];
    put(&mut b, 0, l::SYSCTL_CMD, cmd.into());
    put(&mut b, 0, l::SYSCTL_IFV, l::SYSCTL_VERSION.into());
    b
}

/// `XEN_SYSCTL_physinfo`.
pub fn physinfo_request() -> SysctlBuf {
    sysctl(layout::SYSCTL_PHYSINFO)
}

/// `XEN_SYSCTL_getdomaininfolist` from `first`, at most `max` records (the buffer's address is
/// the transport's to fill in at [`INFOLIST_HANDLE`]).
pub fn infolist_request(first: u16, max: u32) -> SysctlBuf {
    let mut b = sysctl(layout::SYSCTL_GETDOMAININFOLIST);
    put(&mut b, SYSCTL_ARG, l::INFOLIST_FIRST, first.into());
    put(&mut b, SYSCTL_ARG, l::INFOLIST_MAX, max.into());
    b
}

/// The host as physinfo describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysInfo {
    /// Threads per core.
    pub threads_per_core: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// CPUs online.
    pub nr_cpus: u32,
    /// NUMA nodes online.
    pub nr_nodes: u32,
    /// CPU frequency, kHz.
    pub cpu_khz: u32,
    /// Memory, in 4 KiB pages.
    pub total_pages: u64,
}

/// Reads the physinfo reply.
pub fn physinfo_reply(b: &[u8]) -> Result<PhysInfo, DecodeError> {
    need(b, l::SYSCTL.c_struct, l::SYSCTL.size)?;
    let g = |fl| get(b, SYSCTL_ARG, fl);
    Ok(PhysInfo {
        threads_per_core: g(l::PHYS_THREADS) as u32,
        cores_per_socket: g(l::PHYS_CORES) as u32,
        nr_cpus: g(l::PHYS_NR_CPUS) as u32,
        nr_nodes: g(l::PHYS_NR_NODES) as u32,
        cpu_khz: g(l::PHYS_CPU_KHZ) as u32,
        total_pages: g(l::PHYS_TOTAL_PAGES),
    })
}

/// Writes a physinfo reply (the simulated hypervisor's side).
pub fn physinfo_encode(b: &mut [u8], p: &PhysInfo) {
    put(b, SYSCTL_ARG, l::PHYS_THREADS, p.threads_per_core.into());
    put(b, SYSCTL_ARG, l::PHYS_CORES, p.cores_per_socket.into());
    put(b, SYSCTL_ARG, l::PHYS_NR_CPUS, p.nr_cpus.into());
    put(b, SYSCTL_ARG, l::PHYS_NR_NODES, p.nr_nodes.into());
    put(b, SYSCTL_ARG, l::PHYS_CPU_KHZ, p.cpu_khz.into());
    put(b, SYSCTL_ARG, l::PHYS_TOTAL_PAGES, p.total_pages);
}

/// One domain as getdomaininfo describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomInfo {
    /// Domain id.
    pub domid: u16,
    /// `XEN_DOMINF_*` flags.
    pub flags: u32,
    /// Pages held.
    pub tot_pages: u64,
    /// Page limit.
    pub max_pages: u64,
    /// CPU time, ns.
    pub cpu_time: u64,
    /// VCPUs online.
    pub nr_online_vcpus: u32,
    /// Highest VCPU id.
    pub max_vcpu_id: u32,
    /// The UUID.
    pub handle: [u8; 16],
}

/// The number of records the list reply says it holds, checked against what was asked.
pub fn infolist_count(b: &[u8], max: u32) -> Result<u32, DecodeError> {
    need(b, l::SYSCTL.c_struct, l::SYSCTL.size)?;
    let n = get(b, SYSCTL_ARG, l::INFOLIST_NUM) as u32;
    if n > max {
        return Err(DecodeError::TooMany { got: n, max });
    }
    Ok(n)
}

/// Sets the list reply's count (the simulated hypervisor's side).
pub fn infolist_set_count(b: &mut [u8], n: u32) {
    put(b, SYSCTL_ARG, l::INFOLIST_NUM, n.into());
}

/// What a list request asked: first domain and most records.
pub fn infolist_args(b: &[u8]) -> (u16, u32) {
    (
        get(b, SYSCTL_ARG, l::INFOLIST_FIRST) as u16,
        get(b, SYSCTL_ARG, l::INFOLIST_MAX) as u32,
    )
}

/// Reads `n` records from a list buffer.
pub fn dominfo_records(buf: &[u8], n: u32) -> Result<Vec<DomInfo>, DecodeError> {
    let want = l::DOMINFO.size * n as usize;
    need(buf, l::DOMINFO.c_struct, want)?;
    Ok((0..n as usize)
        .map(|i| {
            let base = i * l::DOMINFO.size;
            let g = |fl| get(buf, base, fl);
            let mut handle = [0u8; 16];
            handle
                .copy_from_slice(&buf[base + l::DI_HANDLE.offset..base + l::DI_HANDLE.offset + 16]);
            DomInfo {
                domid: g(l::DI_DOMAIN) as u16,
                flags: g(l::DI_FLAGS) as u32,
                tot_pages: g(l::DI_TOT_PAGES),
                max_pages: g(l::DI_MAX_PAGES),
                cpu_time: g(l::DI_CPU_TIME),
                nr_online_vcpus: g(l::DI_ONLINE_VCPUS) as u32,
                max_vcpu_id: g(l::DI_MAX_VCPU_ID) as u32,
                handle,
            }
        })
        .collect())
}

/// Writes record `i` of a list buffer (the simulated hypervisor's side).
pub fn dominfo_encode(buf: &mut [u8], i: usize, d: &DomInfo) {
    let base = i * l::DOMINFO.size;
    put(buf, base, l::DI_DOMAIN, d.domid.into());
    put(buf, base, l::DI_FLAGS, d.flags.into());
    put(buf, base, l::DI_TOT_PAGES, d.tot_pages);
    put(buf, base, l::DI_MAX_PAGES, d.max_pages);
    put(buf, base, l::DI_CPU_TIME, d.cpu_time);
    put(buf, base, l::DI_ONLINE_VCPUS, d.nr_online_vcpus.into());
    put(buf, base, l::DI_MAX_VCPU_ID, d.max_vcpu_id.into());
    buf[base + l::DI_HANDLE.offset..base + l::DI_HANDLE.offset + 16].copy_from_slice(&d.handle);
}

/// Size of a list buffer for `n` records.
pub fn infolist_buffer_len(n: u32) -> usize {
    l::DOMINFO.size * n as usize
}

/// A domctl `cmd` on domain `domid`.
pub fn domctl(cmd: u32, domid: u16) -> DomctlBuf {
    let mut b = [0u8; l::DOMCTL.size];
    put(&mut b, 0, l::DOMCTL_CMD, cmd.into());
    put(&mut b, 0, l::DOMCTL_IFV, l::DOMCTL_VERSION.into());
    put(&mut b, 0, l::DOMCTL_DOMAIN, domid.into());
    b
}

/// `XEN_DOMCTL_max_mem`.
pub fn max_mem_request(domid: u16, kib: u64) -> DomctlBuf {
    let mut b = domctl(layout::DOMCTL_MAX_MEM, domid);
    put(&mut b, DOMCTL_ARG, l::MAX_MEM_KB, kib);
    b
}

/// `XEN_DOMCTL_max_vcpus`.
pub fn max_vcpus_request(domid: u16, max: u32) -> DomctlBuf {
    let mut b = domctl(layout::DOMCTL_MAX_VCPUS, domid);
    put(&mut b, DOMCTL_ARG, l::MAX_VCPUS_MAX, max.into());
    b
}

/// The max_vcpus argument.
pub fn max_vcpus_arg(b: &[u8]) -> u32 {
    get(b, DOMCTL_ARG, l::MAX_VCPUS_MAX) as u32
}

/// `XEN_DOMCTL_getvcpuinfo`.
pub fn vcpuinfo_request(domid: u16, vcpu: u32) -> DomctlBuf {
    let mut b = domctl(layout::DOMCTL_GETVCPUINFO, domid);
    put(&mut b, DOMCTL_ARG, l::VI_VCPU, vcpu.into());
    b
}

/// `XEN_DOMCTL_setvcpuaffinity` (hard affinity) over a bitmap of `nr_bits` bits.
pub fn affinity_request(domid: u16, vcpu: u32, nr_bits: u32) -> DomctlBuf {
    let mut b = domctl(layout::DOMCTL_SETVCPUAFFINITY, domid);
    put(&mut b, DOMCTL_ARG, l::AF_VCPU, vcpu.into());
    put(
        &mut b,
        DOMCTL_ARG,
        l::AF_FLAGS,
        layout::VCPUAFFINITY_HARD.into(),
    );
    put(
        &mut b,
        DOMCTL_ARG + l::AF_HARD.offset,
        l::BM_NR_BITS,
        nr_bits.into(),
    );
    b
}

/// Changes a domctl's command (getvcpuaffinity shares setvcpuaffinity's structure).
pub fn set_domctl_cmd(b: &mut DomctlBuf, cmd: u32) {
    put(b, 0, l::DOMCTL_CMD, cmd.into());
}

/// A domctl's header fields: command, interface version, domain.
pub fn domctl_header(b: &[u8]) -> (u32, u32, u16) {
    (
        get(b, 0, l::DOMCTL_CMD) as u32,
        get(b, 0, l::DOMCTL_IFV) as u32,
        get(b, 0, l::DOMCTL_DOMAIN) as u16,
    )
}

/// A sysctl's header fields: command, interface version.
pub fn sysctl_header(b: &[u8]) -> (u32, u32) {
    (
        get(b, 0, l::SYSCTL_CMD) as u32,
        get(b, 0, l::SYSCTL_IFV) as u32,
    )
}

/// The max_mem argument.
pub fn max_mem_arg(b: &[u8]) -> u64 {
    get(b, DOMCTL_ARG, l::MAX_MEM_KB)
}

/// The affinity arguments: vcpu, flags, bits.
pub fn affinity_args(b: &[u8]) -> (u32, u32, u32) {
    (
        get(b, DOMCTL_ARG, l::AF_VCPU) as u32,
        get(b, DOMCTL_ARG, l::AF_FLAGS) as u32,
        get(b, DOMCTL_ARG + l::AF_HARD.offset, l::BM_NR_BITS) as u32,
    )
}

/// One VCPU as getvcpuinfo describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuInfo {
    /// VCPU number.
    pub vcpu: u32,
    /// Online.
    pub online: bool,
    /// Blocked.
    pub blocked: bool,
    /// Running.
    pub running: bool,
    /// CPU time, ns.
    pub cpu_time: u64,
    /// The physical CPU it is on.
    pub cpu: u32,
}

/// Reads a getvcpuinfo reply.
pub fn vcpuinfo_reply(b: &[u8]) -> Result<VcpuInfo, DecodeError> {
    need(b, l::DOMCTL.c_struct, l::DOMCTL.size)?;
    let g = |fl| get(b, DOMCTL_ARG, fl);
    Ok(VcpuInfo {
        vcpu: g(l::VI_VCPU) as u32,
        online: g(l::VI_ONLINE) != 0,
        blocked: g(l::VI_BLOCKED) != 0,
        running: g(l::VI_RUNNING) != 0,
        cpu_time: g(l::VI_CPU_TIME),
        cpu: g(l::VI_CPU) as u32,
    })
}

/// Writes a getvcpuinfo reply (the simulated hypervisor's side).
pub fn vcpuinfo_encode(b: &mut [u8], v: &VcpuInfo) {
    put(b, DOMCTL_ARG, l::VI_VCPU, v.vcpu.into());
    put(b, DOMCTL_ARG, l::VI_ONLINE, v.online.into());
    put(b, DOMCTL_ARG, l::VI_BLOCKED, v.blocked.into());
    put(b, DOMCTL_ARG, l::VI_RUNNING, v.running.into());
    put(b, DOMCTL_ARG, l::VI_CPU_TIME, v.cpu_time);
    put(b, DOMCTL_ARG, l::VI_CPU, v.cpu.into());
}

fn need(b: &[u8], c_struct: &'static str, want: usize) -> Result<(), DecodeError> {
    if b.len() < want {
        return Err(DecodeError::Short {
            c_struct,
            got: b.len(),
            want,
        });
    }
    Ok(())
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn infolist_request_bytes() {
        let b = infolist_request(5, 1024);
        let mut want = [0u8; 136];
        want[0] = 6; // XEN_SYSCTL_getdomaininfolist
        want[4] = 0x15; // XEN_SYSCTL_INTERFACE_VERSION
        want[8] = 5; // first_domain
        want[12..16].copy_from_slice(&1024u32.to_le_bytes()); // max_domains
        assert_eq!(b, want);
        assert_eq!(infolist_args(&b), (5, 1024));
        assert_eq!(INFOLIST_HANDLE, 16);
    }

    #[test]
    fn domctl_bytes() {
        let b = max_mem_request(7, 524_288);
        let mut want = [0u8; 144];
        want[0] = 11;
        want[4] = 0x15;
        want[8] = 7;
        want[16..24].copy_from_slice(&524_288u64.to_le_bytes());
        assert_eq!(b, want);
        assert_eq!(domctl_header(&b), (11, 0x15, 7));
        let a = affinity_request(3, 1, 64);
        assert_eq!(&a[16..20], &1u32.to_le_bytes());
        assert_eq!(&a[20..24], &1u32.to_le_bytes());
        assert_eq!(&a[32..36], &64u32.to_le_bytes());
        assert_eq!(AFFINITY_HANDLE, 24);
    }

    #[test]
    fn dominfo_fixture() {
        // One record as Xen 4.17 lays it out: domain 1, running, 65536 of 65792 pages,
        // 2.5 s of CPU, 2 VCPUs online (max id 1), UUID 00..0f.
        let mut rec = vec![0u8; 112];
        rec[0] = 1;
        rec[4] = 0x20;
        rec[8..16].copy_from_slice(&65536u64.to_le_bytes());
        rec[16..24].copy_from_slice(&65792u64.to_le_bytes());
        rec[56..64].copy_from_slice(&2_500_000_000u64.to_le_bytes());
        rec[64] = 2;
        rec[68] = 1;
        for i in 0..16 {
            rec[76 + i] = i as u8;
        }
        let d = dominfo_records(&rec, 1).unwrap();
        assert_eq!(
            d[0],
            DomInfo {
                domid: 1,
                flags: 0x20,
                tot_pages: 65536,
                max_pages: 65792,
                cpu_time: 2_500_000_000,
                nr_online_vcpus: 2,
                max_vcpu_id: 1,
                handle: core::array::from_fn(|i| i as u8),
            }
        );
        let mut back = vec![0u8; 112];
        dominfo_encode(&mut back, 0, &d[0]);
        assert_eq!(back, rec);
        assert!(matches!(
            dominfo_records(&rec, 2),
            Err(DecodeError::Short { want: 224, .. })
        ));
    }

    #[test]
    fn physinfo_and_vcpu_fixtures() {
        let mut b = physinfo_request();
        assert_eq!(sysctl_header(&b), (3, 0x15));
        let p = PhysInfo {
            threads_per_core: 2,
            cores_per_socket: 4,
            nr_cpus: 8,
            nr_nodes: 1,
            cpu_khz: 2_400_000,
            total_pages: 4_194_304,
        };
        physinfo_encode(&mut b, &p);
        assert_eq!(&b[8..12], &2u32.to_le_bytes());
        assert_eq!(&b[16..20], &8u32.to_le_bytes());
        assert_eq!(&b[32..36], &2_400_000u32.to_le_bytes());
        assert_eq!(&b[48..56], &4_194_304u64.to_le_bytes());
        assert_eq!(physinfo_reply(&b).unwrap(), p);
        assert!(physinfo_reply(&b[..100]).is_err());
        let mut v = vcpuinfo_request(2, 1);
        let info = VcpuInfo {
            vcpu: 1,
            online: true,
            blocked: false,
            running: true,
            cpu_time: 42,
            cpu: 3,
        };
        vcpuinfo_encode(&mut v, &info);
        assert_eq!(&v[20..23], &[1, 0, 1]);
        assert_eq!(vcpuinfo_reply(&v).unwrap(), info);
        let mut c = infolist_request(0, 4);
        infolist_set_count(&mut c, 5);
        assert_eq!(
            infolist_count(&c, 4),
            Err(DecodeError::TooMany { got: 5, max: 4 })
        );
    }
}
