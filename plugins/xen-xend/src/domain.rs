//! What a domain's S-expression (`GET /xend/domain/NAME?detail=1`) says, read the way libvirt
//! read it.

use virtkit_driver::{DomainInfo, DomainState, Error, Result, Uuid, VcpuInfo, VcpuState};
use virtkit_xen::Sexpr;

/// The facts of one domain that the driver answers from.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainFacts {
    /// The id, or -1 when the domain is not running.
    pub id: i32,
    /// The UUID.
    pub uuid: Uuid,
    /// The name.
    pub name: String,
    /// The state.
    pub state: DomainState,
    /// Current memory in KiB.
    pub memory_kib: u64,
    /// Maximum memory in KiB.
    pub max_memory_kib: u64,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// CPU time used, in nanoseconds.
    pub cpu_time_ns: u64,
    /// `hvm` or `linux`.
    pub os_type: &'static str,
}

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        virtkit_driver::ErrorCode::GetFailed,
        format!("GET operation failed: xend reply has a bad {what}: {e}"),
    )
}

/// Reads the `(domain …)` S-expression.
pub fn facts(root: &Sexpr) -> Result<DomainFacts> {
    if !root.is_named("domain") {
        return Err(bad(
            "domain description",
            format!("expected (domain …), got {}", head(root)),
        ));
    }
    let name = root
        .node("domain/name")
        .ok_or_else(|| bad("domain description", "no name"))?
        .to_string();
    let uuid_text = root
        .node("domain/uuid")
        .ok_or_else(|| bad("domain description", format!("domain '{name}' has no uuid")))?;
    let uuid = Uuid::parse_str(uuid_text).map_err(|e| bad("uuid", e))?;
    let domid = root.node_i64("domain/domid").map_err(|e| bad("domid", e))?;
    let id = match domid {
        Some(d) if d >= 0 => i32::try_from(d).map_err(|_| bad("domid", d))?,
        _ => -1,
    };
    let flags = root.node("domain/state").unwrap_or("");
    let state = if id < 0 {
        DomainState::Shutoff
    } else if flags.contains('c') {
        DomainState::Crashed
    } else if flags.contains('s') || flags.contains('d') {
        DomainState::Shutdown
    } else if flags.contains('p') {
        DomainState::Paused
    } else if flags.contains('b') {
        DomainState::Blocked
    } else if flags.contains('r') {
        DomainState::Running
    } else {
        DomainState::NoState
    };
    let mb = |path: &str| -> Result<u64> {
        Ok(root
            .node_u64(path)
            .map_err(|e| bad("memory size", e))?
            .unwrap_or(0)
            .saturating_mul(1024))
    };
    let memory_kib = mb("domain/memory")?;
    let max_memory_kib = match mb("domain/maxmem")? {
        0 => memory_kib,
        m => m,
    };
    let vcpus = root
        .node_u64("domain/vcpus")
        .map_err(|e| bad("vcpus", e))?
        .unwrap_or(1);
    let vcpus = u32::try_from(vcpus).map_err(|_| bad("vcpus", vcpus))?;
    let cpu_time = root
        .node_f64("domain/cpu_time")
        .map_err(|e| bad("cpu_time", e))?
        .unwrap_or(0.0);
    let os_type = if root.has("domain/image/hvm") {
        "hvm"
    } else {
        "linux"
    };
    Ok(DomainFacts {
        id,
        uuid,
        name,
        state,
        memory_kib,
        max_memory_kib,
        vcpus,
        cpu_time_ns: seconds_to_ns(cpu_time),
        os_type,
    })
}

fn seconds_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9).min(u64::MAX as f64) as u64
    } else {
        0
    }
}

fn head(s: &Sexpr) -> String {
    let text = s.to_string();
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

impl DomainFacts {
    /// virDomainGetInfo's record.
    pub fn info(&self) -> DomainInfo {
        DomainInfo {
            state: self.state,
            max_mem_kib: self.max_memory_kib,
            memory_kib: self.memory_kib,
            nr_virt_cpu: self.vcpus,
            cpu_time_ns: self.cpu_time_ns,
        }
    }

    /// Whether the domain runs (has an id).
    pub fn active(&self) -> bool {
        self.id >= 0
    }
}

/// Reads the reply of `GET /xend/domain/NAME?op=vcpuinfo`: a list of `(vcpu (number N) (online
/// 1) (blocked 0) (running 1) (cpu_time 1.5) (cpu 0) (cpumap (0 1)))`.
pub fn vcpus(root: &Sexpr, host_cpus: u32) -> Result<Vec<VcpuInfo>> {
    let items = root
        .as_list()
        .ok_or_else(|| bad("vcpu list", "not a list"))?;
    let mut out = Vec::new();
    let map_len = host_cpus.div_ceil(8).max(1) as usize;
    for v in items.iter().filter(|v| v.is_named("vcpu")) {
        let num = |k: &str| -> Result<u64> {
            Ok(v.node_u64(&format!("vcpu/{k}"))
                .map_err(|e| bad("vcpu entry", e))?
                .unwrap_or(0))
        };
        let number = u32::try_from(num("number")?).map_err(|_| bad("vcpu number", "too large"))?;
        let state = if num("online")? == 0 {
            VcpuState::Offline
        } else if num("blocked")? != 0 {
            VcpuState::Blocked
        } else {
            VcpuState::Running
        };
        let cpu_time = v
            .node_f64("vcpu/cpu_time")
            .map_err(|e| bad("vcpu cpu_time", e))?
            .unwrap_or(0.0);
        let cpu = v.node_i64("vcpu/cpu").map_err(|e| bad("vcpu cpu", e))?;
        let mut map = vec![0u8; map_len];
        if let Some(list) = v.lookup_key("vcpu/cpumap") {
            for c in list.rest().iter().flat_map(|c| match c {
                Sexpr::List(items) => items.clone(),
                atom => vec![atom.clone()],
            }) {
                let Some(n) = c.as_atom().and_then(|a| a.trim().parse::<u32>().ok()) else {
                    return Err(bad("vcpu cpumap", c.to_string()));
                };
                if n < host_cpus {
                    map[(n / 8) as usize] |= 1 << (n % 8);
                }
            }
        }
        out.push(VcpuInfo {
            number,
            state,
            cpu_time_ns: seconds_to_ns(cpu_time),
            cpu: cpu.and_then(|c| i32::try_from(c).ok()).unwrap_or(-1),
            cpumap: map,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_running_domain() {
        let s = Sexpr::parse(
            "(domain (domid 5) (uuid 4f77abd2-3019-58e8-3bab-6fbf2118f880) (vcpus 2) \
             (memory 175) (maxmem 385) (name rhel5) (image (linux (kernel /k))) \
             (state -b----) (cpu_time 137.5))",
        )
        .unwrap();
        let f = facts(&s).unwrap();
        assert_eq!(
            (
                f.id,
                f.name.as_str(),
                f.state,
                f.memory_kib,
                f.max_memory_kib,
                f.vcpus
            ),
            (5, "rhel5", DomainState::Blocked, 179200, 394240, 2)
        );
        assert_eq!((f.cpu_time_ns, f.os_type), (137_500_000_000, "linux"));
    }

    #[test]
    fn reads_an_inactive_hvm_domain() {
        let s = Sexpr::parse(
            "(domain (uuid 4f77abd2301958e83bab6fbf2118f880) (memory 64) (name x) \
             (image (hvm (kernel /usr/lib/xen/boot/hvmloader))) (state ------))",
        )
        .unwrap();
        let f = facts(&s).unwrap();
        assert_eq!(
            (f.id, f.state, f.os_type),
            (-1, DomainState::Shutoff, "hvm")
        );
        assert_eq!(f.max_memory_kib, 65536);
    }

    #[test]
    fn refuses_bad_descriptions() {
        for t in [
            "(vm (name x))",
            "(domain (name x))",
            "(domain (name x) (uuid nope))",
            "(domain (name x) (uuid 4f77abd2-3019-58e8-3bab-6fbf2118f880) (memory lots))",
            "(domain (name x) (uuid 4f77abd2-3019-58e8-3bab-6fbf2118f880) (domid 99999999999))",
        ] {
            assert!(facts(&Sexpr::parse(t).unwrap()).is_err(), "{t}");
        }
    }

    #[test]
    fn reads_vcpus() {
        let s = Sexpr::parse(
            "((vcpu (number 0) (online 1) (blocked 0) (running 1) (cpu_time 1.5) (cpu 1) (cpumap (0 1))) \
              (vcpu (number 1) (online 0) (blocked 0) (running 0) (cpu_time 0) (cpu -1) (cpumap (9))))",
        )
        .unwrap();
        let v = vcpus(&s, 4).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].state, v[0].cpu, v[0].cpumap.clone()),
            (VcpuState::Running, 1, vec![0b11])
        );
        assert_eq!(
            (v[1].state, v[1].cpu, v[1].cpumap.clone()),
            (VcpuState::Offline, -1, vec![0])
        );
    }
}
