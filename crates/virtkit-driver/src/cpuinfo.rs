//! Linux's `/proc/cpuinfo`, read once for every driver that needs host facts from it: node info
//! the way libvirt 0.4 computed it, and the CPU flags a capabilities document reports.
//!
//! The text is a series of `key : value` lines, one block per logical CPU; lines without a colon
//! are ignored. Both readers below go through [`fields`], so they agree on what a line is.

use crate::NodeInfo;

/// The `(key, value)` pairs of a cpuinfo text, trimmed, in order.
pub fn fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let (k, v) = line.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}

/// Node info from a `/proc/cpuinfo` text alone, the way libvirt 0.4 read it: CPUs are the
/// `processor` entries, MHz the first `cpu MHz`, sockets the distinct `physical id`s, cores the
/// `cpu cores` value, threads `siblings / cpu cores`, one NUMA node. `model` is the node's
/// architecture name (cpuinfo does not say it); memory is left at 0 (it is in /proc/meminfo).
pub fn parse_cpuinfo(text: &str, model: &str) -> NodeInfo {
    let mut cpus = 0u32;
    let mut mhz = None;
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores = None;
    let mut siblings = None;
    for (k, v) in fields(text) {
        match k {
            "processor" => cpus = cpus.saturating_add(1),
            "cpu MHz" if mhz.is_none() => {
                mhz = v.split('.').next().and_then(|m| m.parse::<u32>().ok())
            }
            "physical id" => {
                sockets.insert(v);
            }
            "cpu cores" if cores.is_none() => cores = v.parse::<u32>().ok().filter(|c| *c > 0),
            "siblings" if siblings.is_none() => siblings = v.parse::<u32>().ok().filter(|s| *s > 0),
            _ => {}
        }
    }
    let cores_n = cores.unwrap_or(1);
    NodeInfo {
        model: model.to_owned(),
        memory_kib: 0,
        cpus,
        mhz: mhz.unwrap_or(0),
        nodes: 1,
        sockets: u32::try_from(sockets.len()).unwrap_or(u32::MAX).max(1),
        cores: cores_n,
        threads: siblings.map(|s| (s / cores_n).max(1)).unwrap_or(1),
    }
}

/// The flags of each `flags` line (one per logical CPU on x86), in order.
pub fn flag_lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    fields(text)
        .filter(|(k, _)| *k == "flags")
        .map(|(_, v)| v.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_and_flags() {
        let text = "processor\t: 0\ncpu MHz\t\t: 2393.998\nphysical id\t: 0\nsiblings\t: 4\n\
                    cpu cores\t: 2\nflags\t\t: fpu pae vmx\n\nprocessor\t: 1\nphysical id\t: 0\n\
                    flags\t\t: fpu pae vmx\nno colon here\n";
        let info = parse_cpuinfo(text, "x86_64");
        assert_eq!(
            (info.cpus, info.mhz, info.sockets, info.cores, info.threads),
            (2, 2393, 1, 2, 2)
        );
        assert_eq!(info.model, "x86_64");
        let flags: Vec<_> = flag_lines(text).collect();
        assert_eq!(flags, vec![vec!["fpu", "pae", "vmx"]; 2]);
        assert_eq!(parse_cpuinfo("", "i686").cpus, 0);
    }
}

#[cfg(test)]
mod corpus {
    use super::parse_cpuinfo;

    /// libvirt 0.4.6's nodeinfo corpus: `/proc/cpuinfo` → `CPUs: .., MHz: .., ...`.
    #[test]
    fn nodeinfo_corpus() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/nodeinfo"
        ));
        let cases = std::fs::read_to_string(dir.join("cases.tsv")).expect("the shared corpus");
        let mut n = 0;
        for line in cases
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let info = parse_cpuinfo(&std::fs::read_to_string(dir.join(cols[0])).unwrap(), "");
            let got = format!(
                "CPUs: {}, MHz: {}, Nodes: {}, Sockets: {}, Cores: {}, Threads: {}\n",
                info.cpus, info.mhz, info.nodes, info.sockets, info.cores, info.threads
            );
            let want = std::fs::read_to_string(dir.join(cols[1])).unwrap();
            assert_eq!(got, want, "{}", cols[0]);
            n += 1;
        }
        assert!(n >= 3, "only {n} nodeinfo cases");
    }
}
