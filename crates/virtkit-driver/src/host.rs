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

/// The drive names of the host's CD-ROM drives (`sr0`, `hdc`, ...), from the kernel's CD-ROM
/// driver table (`/proc/sys/dev/cdrom/info`, its `drive name:` row; empty without the driver).
pub fn cdrom_drive_names(info: &str) -> Vec<String> {
    info.lines()
        .find_map(|l| l.strip_prefix("drive name:"))
        .map(|names| names.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Whether `path` is a host CD-ROM drive: a block device (symbolic links followed, as an open
/// does) that the kernel's CD-ROM driver serves. libvirt asks the same of the device with the
/// CD-ROM status ioctl (`virFileIsCDROM`); the driver's table answers it without opening the
/// drive (which can spin it up) and without unsafe code.
pub fn is_cdrom_drive(path: &std::path::Path) -> bool {
    let Some(name) = block_device_name(path) else {
        return false;
    };
    read("/proc/sys/dev/cdrom/info").is_some_and(|info| cdrom_drive_names(&info).contains(&name))
}

/// The kernel's name of the block device at `path` (`sr0`, `loop0`), symbolic links followed;
/// `None` for anything else.
fn block_device_name(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    // Major and minor as glibc splits a dev_t; sysfs links each block device by them.
    let rdev = meta.rdev();
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xffff_f000);
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xffff_ff00);
    let uevent = read(&format!("/sys/dev/block/{major}:{minor}/uevent"))?;
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(str::to_string)
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
    fn cdrom_drives_come_from_the_cdrom_drivers_table() {
        let info = "CD-ROM information, Id: cdrom.c 3.20 2003/12/17\n\n\
                    drive name:\t\tsr1\tsr0\ndrive speed:\t\t1\t24\n";
        assert_eq!(cdrom_drive_names(info), ["sr1", "sr0"]);
        assert!(cdrom_drive_names("").is_empty());
        // Not block devices (or absent): never CD-ROM drives.
        assert!(!is_cdrom_drive(std::path::Path::new("/dev/null")));
        assert!(!is_cdrom_drive(std::path::Path::new("/")));
        assert!(!is_cdrom_drive(std::path::Path::new("/no/such/device")));
        // A block device that is not a CD-ROM drive, where the host has one.
        let loop0 = std::path::Path::new("/dev/loop0");
        if block_device_name(loop0).is_some() {
            assert_eq!(block_device_name(loop0).as_deref(), Some("loop0"));
            assert!(!is_cdrom_drive(loop0));
        }
    }

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
