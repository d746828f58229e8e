//! Owned, safe views of the three information records that cross the boundary
//! ([`VkDomainInfo`], [`VkNodeInfo`], [`VkVcpuInfo`]).
//!
//! The SDK builds the C records from these (driver side) and the core reads them back (host side).
//! Keeping both conversions here means the encoding — the NUL-padded 32-byte CPU model, the state
//! numbers, the cpumap passed beside the record — is written down exactly once.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{VkDomainInfo, VkDomainState, VkNodeInfo, VkVcpuInfo, VkVcpuState};

impl VkDomainState {
    /// The name virsh prints for the state (`running`, `paused`, `shut off`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            VkDomainState::NoState => "no state",
            VkDomainState::Running => "running",
            VkDomainState::Blocked => "idle",
            VkDomainState::Paused => "paused",
            VkDomainState::Shutdown => "in shutdown",
            VkDomainState::Shutoff => "shut off",
            VkDomainState::Crashed => "crashed",
        }
    }
}

impl VkVcpuState {
    /// Converts a raw value; unknown values map to `Offline`.
    pub const fn from_raw(v: i32) -> VkVcpuState {
        match v {
            1 => VkVcpuState::Running,
            2 => VkVcpuState::Blocked,
            _ => VkVcpuState::Offline,
        }
    }
}

/// Domain information (libvirt's `virDomainInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    /// State.
    pub state: VkDomainState,
    /// Maximum memory, KiB.
    pub max_mem_kib: u64,
    /// Current memory, KiB.
    pub memory_kib: u64,
    /// Number of vCPUs.
    pub nr_virt_cpu: u32,
    /// CPU time used, ns.
    pub cpu_time_ns: u64,
}

impl DomainInfo {
    /// Reads a C record; an unknown state number reads as `NoState`.
    pub const fn from_raw(r: VkDomainInfo) -> DomainInfo {
        DomainInfo {
            state: VkDomainState::from_raw(r.state),
            max_mem_kib: r.max_mem_kib,
            memory_kib: r.memory_kib,
            nr_virt_cpu: r.nr_virt_cpu,
            cpu_time_ns: r.cpu_time_ns,
        }
    }

    /// The C record.
    pub const fn to_raw(&self) -> VkDomainInfo {
        VkDomainInfo {
            state: self.state as u32,
            nr_virt_cpu: self.nr_virt_cpu,
            max_mem_kib: self.max_mem_kib,
            memory_kib: self.memory_kib,
            cpu_time_ns: self.cpu_time_ns,
        }
    }

    /// The state as virsh names it.
    pub const fn state_name(&self) -> &'static str {
        self.state.name()
    }
}

/// Node information (libvirt's `virNodeInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// CPU model; at most 31 bytes cross the boundary (cut at a character boundary).
    pub model: String,
    /// Memory, KiB.
    pub memory_kib: u64,
    /// Active CPUs.
    pub cpus: u32,
    /// MHz.
    pub mhz: u32,
    /// NUMA cells.
    pub nodes: u32,
    /// Sockets per cell.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

impl NodeInfo {
    /// Reads a C record: the model ends at its first NUL (or after 32 bytes); bytes that are not
    /// UTF-8 are replaced.
    pub fn from_raw(r: &VkNodeInfo) -> NodeInfo {
        let end = r
            .model
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(r.model.len());
        NodeInfo {
            model: String::from_utf8_lossy(&r.model[..end]).into_owned(),
            memory_kib: r.memory_kib,
            cpus: r.cpus,
            mhz: r.mhz,
            nodes: r.nodes,
            sockets: r.sockets,
            cores: r.cores,
            threads: r.threads,
        }
    }

    /// The C record: the model is cut to 31 bytes at a character boundary and NUL-padded.
    pub fn to_raw(&self) -> VkNodeInfo {
        let mut model = [0u8; 32];
        let mut len = self.model.len().min(model.len() - 1);
        while !self.model.is_char_boundary(len) {
            len -= 1;
        }
        model[..len].copy_from_slice(&self.model.as_bytes()[..len]);
        VkNodeInfo {
            model,
            memory_kib: self.memory_kib,
            cpus: self.cpus,
            mhz: self.mhz,
            nodes: self.nodes,
            sockets: self.sockets,
            cores: self.cores,
            threads: self.threads,
        }
    }
}

/// The most vCPUs a domain may have. libvirt's `virDomainInfo.nrVirtCpu` is an `unsigned short`
/// and its drivers refuse a vCPU count that does not fit one ("argument out of range"); the core
/// refuses larger counts before a driver sees them, and the host keeps no more vCPU records than
/// this from a driver.
pub const MAX_VCPUS: u32 = 65_535;

/// The most host CPUs a CPU map may describe: libvirt's `VIR_DOMAIN_CPUMASK_LEN` (libvirt 9.0
/// accepts CPU 16383 in a cpuset and refuses 16384). A CPU map is at most
/// `MAX_HOST_CPUS / 8` bytes.
pub const MAX_HOST_CPUS: u32 = 16_384;

/// The largest memory size, in KiB, a domain may be given: the largest whose size in bytes
/// fits 64 bits, which is what the domain XML can carry (`<memory unit='KiB'>` is read back in
/// bytes). A larger size would be accepted once and make the definition unreadable.
pub const MAX_MEMORY_KIB: u64 = u64::MAX / 1024;

/// One virtual CPU (libvirt's `virVcpuInfo` and its row of the CPU map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuInfo {
    /// vCPU number.
    pub number: u32,
    /// State.
    pub state: VkVcpuState,
    /// CPU time, ns.
    pub cpu_time_ns: u64,
    /// Host CPU it runs on, or -1.
    pub cpu: i32,
    /// Affinity: one bit per host CPU, CPU 0 in the lowest bit of byte 0.
    pub cpumap: Vec<u8>,
}

impl VcpuInfo {
    /// Reads a C record and the CPU map passed beside it.
    pub fn from_raw(r: &VkVcpuInfo, cpumap: Vec<u8>) -> VcpuInfo {
        VcpuInfo {
            number: r.number,
            state: VkVcpuState::from_raw(r.state),
            cpu_time_ns: r.cpu_time_ns,
            cpu: r.cpu,
            cpumap,
        }
    }

    /// The C record (the CPU map travels beside it, as [`VcpuInfo::cpumap`]).
    pub const fn to_raw(&self) -> VkVcpuInfo {
        VkVcpuInfo {
            number: self.number,
            state: self.state as i32,
            cpu_time_ns: self.cpu_time_ns,
            cpu: self.cpu,
            reserved: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    #[test]
    fn node_model_is_cut_at_a_character_boundary_and_read_back() {
        // 30 ASCII bytes then a 2-byte character: 32 bytes, cut to 30, not to 31.
        let n = NodeInfo {
            model: format!("{}é", "x".repeat(30)),
            cpus: 4,
            ..NodeInfo::default()
        };
        let raw = n.to_raw();
        assert_eq!(&raw.model[..30], "x".repeat(30).as_bytes());
        assert_eq!(raw.model[30..], [0, 0]);
        let back = NodeInfo::from_raw(&raw);
        assert_eq!(back.model, "x".repeat(30));
        assert_eq!(back.cpus, 4);
        // A model that fills all 32 bytes with no NUL is still read (a C driver may do that).
        let full = VkNodeInfo {
            model: [b'm'; 32],
            ..VkNodeInfo::default()
        };
        assert_eq!(NodeInfo::from_raw(&full).model, "m".repeat(32));
    }

    #[test]
    fn domain_and_vcpu_records_round_trip() {
        let d = DomainInfo {
            state: VkDomainState::Paused,
            max_mem_kib: 1 << 20,
            memory_kib: 1 << 19,
            nr_virt_cpu: 2,
            cpu_time_ns: 123,
        };
        assert_eq!(DomainInfo::from_raw(d.to_raw()), d);
        assert_eq!(d.state_name(), "paused");
        let unknown = VkDomainInfo {
            state: 99,
            ..d.to_raw()
        };
        assert_eq!(DomainInfo::from_raw(unknown).state, VkDomainState::NoState);
        let v = VcpuInfo {
            number: 1,
            state: VkVcpuState::Blocked,
            cpu_time_ns: 7,
            cpu: -1,
            cpumap: vec![0b11],
        };
        assert_eq!(VcpuInfo::from_raw(&v.to_raw(), vec![0b11]), v);
        let mut raw = v.to_raw();
        raw.state = -5;
        assert_eq!(VcpuInfo::from_raw(&raw, vec![]).state, VkVcpuState::Offline);
    }
}
