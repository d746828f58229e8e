//! Facts about the host from /proc and sysfs: node info, CPU topology, NUMA cells.
//!
//! Every driver that reports the node it runs on (`virNodeGetInfo`, the host part of its
//! capabilities) reads it here; the `/proc/cpuinfo` text goes through [`crate::cpuinfo`], the
//! one parser of it.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::NodeInfo;

const SYS_CPU: &str = "/sys/devices/system/cpu";
const SYS_NODE: &str = "/sys/devices/system/node";

/// The host's architecture as libvirt names it (`x86_64`, `i686`, `aarch64`, `armv7l`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" => "ppc64",
        other => other,
    }
}

/// Parses a CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    out.extend(a..=b.min(a.saturating_add(65_535)));
                }
            }
            None => {
                if let Ok(v) = part.trim().parse() {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Node info from a `/proc/cpuinfo` text alone (the SDK's one reader,
/// [`crate::cpuinfo::parse_cpuinfo`]), with this host's architecture as the model.
pub fn parse_cpuinfo(text: &str) -> NodeInfo {
    crate::cpuinfo::parse_cpuinfo(text, host_arch())
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The online CPUs.
pub fn online_cpus() -> Vec<u32> {
    read(&format!("{SYS_CPU}/online"))
        .map(|s| parse_cpu_list(&s))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            (0..parse_cpuinfo(&read("/proc/cpuinfo").unwrap_or_default())
                .cpus
                .max(1))
                .collect()
        })
}

/// Per online CPU: (socket id, core id, thread siblings list).
pub fn cpu_topology() -> BTreeMap<u32, (u32, u32, String)> {
    online_cpus()
        .into_iter()
        .filter_map(|c| {
            let t = |f: &str| read(&format!("{SYS_CPU}/cpu{c}/topology/{f}"));
            let socket = t("physical_package_id")?.trim().parse().ok()?;
            let core = t("core_id")?.trim().parse().ok()?;
            let siblings = t("thread_siblings_list")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| c.to_string());
            Some((c, (socket, core, siblings)))
        })
        .collect()
}

/// NUMA cells: (id, memory KiB, CPUs). One cell with every CPU when sysfs has none.
pub fn numa_cells() -> Vec<(u32, Option<u64>, Vec<u32>)> {
    let mut cells: Vec<(u32, Option<u64>, Vec<u32>)> = std::fs::read_dir(SYS_NODE)
        .map(|rd| {
            rd.filter_map(|e| {
                let n = e.ok()?.file_name().into_string().ok()?;
                let id: u32 = n.strip_prefix("node")?.parse().ok()?;
                let cpus = read(&format!("{SYS_NODE}/node{id}/cpulist"))
                    .map(|s| parse_cpu_list(&s))
                    .unwrap_or_default();
                let mem = read(&format!("{SYS_NODE}/node{id}/meminfo")).and_then(|m| {
                    m.lines()
                        .find(|l| l.contains("MemTotal:"))
                        .and_then(|l| l.split_whitespace().rev().nth(1)?.parse().ok())
                });
                Some((id, mem, cpus))
            })
            .collect()
        })
        .unwrap_or_default();
    cells.sort_by_key(|c| c.0);
    if cells.is_empty() {
        cells.push((0, Some(memory_kib()), online_cpus()));
    }
    cells
}

/// Total memory in KiB (`MemTotal`).
pub fn memory_kib() -> u64 {
    read("/proc/meminfo")
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The host's node info: CPUs online, MHz, NUMA nodes, and the topology per node from sysfs
/// (when the numbers do not multiply out, libvirt's fallback: one socket of `cpus` cores).
pub fn node_info() -> NodeInfo {
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let legacy = parse_cpuinfo(&cpuinfo);
    let online = online_cpus();
    let cpus = online.len() as u32;
    let mhz = if legacy.mhz > 0 {
        legacy.mhz
    } else {
        read(&format!("{SYS_CPU}/cpu0/cpufreq/cpuinfo_max_freq"))
            .and_then(|f| f.trim().parse::<u32>().ok())
            .map(|k| k / 1000)
            .unwrap_or(0)
    };
    let nodes = (numa_cells().len() as u32).max(1);
    let topo = cpu_topology();
    let (mut sockets, mut cores, mut threads) = if topo.is_empty() {
        (legacy.sockets, legacy.cores, legacy.threads)
    } else {
        let packages: BTreeSet<u32> = topo.values().map(|t| t.0).collect();
        let core_ids: BTreeSet<(u32, u32)> = topo.values().map(|t| (t.0, t.1)).collect();
        let threads = topo
            .values()
            .map(|t| parse_cpu_list(&t.2).len() as u32)
            .max()
            .unwrap_or(1)
            .max(1);
        let sockets = (packages.len() as u32).max(1);
        (
            sockets.div_ceil(nodes).max(1),
            (core_ids.len() as u32 / sockets).max(1),
            threads,
        )
    };
    if nodes * sockets * cores * threads != cpus {
        (sockets, cores, threads) = (1, cpus.max(1), 1);
    }
    NodeInfo {
        model: host_arch().to_string(),
        memory_kib: memory_kib(),
        cpus,
        mhz,
        nodes,
        sockets,
        cores,
        threads,
    }
}

/// The host's UUID from the firmware (SMBIOS), when readable.
pub fn host_uuid() -> Option<Uuid> {
    read("/sys/class/dmi/id/product_uuid")
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .filter(|u| !u.is_nil())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
    }

    #[test]
    fn this_host_adds_up() {
        let n = node_info();
        assert!(n.cpus >= 1 && n.memory_kib > 0);
        assert_eq!(n.nodes * n.sockets * n.cores * n.threads, n.cpus, "{n:?}");
    }
}
