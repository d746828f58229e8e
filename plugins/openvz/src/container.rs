//! A container's configuration as a libvirt domain definition, and a definition as the
//! `vzctl set` arguments that make a container match it.
//!
//! | XML | configuration | `vzctl set` |
//! |---|---|---|
//! | `<memory>`, `<currentMemory>` | `PHYSPAGES` limit × page size | `--physpages 0:PAGES` |
//! | `<memtune><min_guarantee>` | `VMGUARPAGES` barrier | `--vmguarpages PAGES` |
//! | `<memtune><soft_limit>`/`<hard_limit>` | `PRIVVMPAGES` barrier/limit | `--privvmpages B:L` |
//! | `<vcpu>` | `CPUS` (absent: the host's CPUs) | `--cpus N` |
//! | `<filesystem type='template'>` | `OSTEMPLATE`, `DISKSPACE` (KiB) | `create --ostemplate`, `--diskspace S:H` |
//! | `<interface type='ethernet'><ip>` | `IP_ADDRESS` | `--ipadd IP` |
//! | `<interface type='bridge'>` | `NETIF` | `--netif_add IF,MAC,HOSTIF,HOSTMAC,BRIDGE` |

use virtkit_driver::{Error, ErrorCode, Result, Uuid};
use virtkit_xml::{
    DomainDef, FilesystemDef, FilesystemType, InterfaceDef, InterfaceSource, LifecycleAction,
    MacAddr, MemTune,
};

use crate::config::{VzConfig, barrier_limit};
use crate::netif;
use crate::tools::{check_device, check_template};

/// Facts about the host the mapping needs.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    /// CPUs (a container without `CPUS` may use them all).
    pub cpus: u32,
    /// KiB per memory page (beancounters count pages).
    pub kib_per_page: u64,
}

fn unsupported(msg: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!("unsupported configuration: {msg}"),
    )
}

fn internal(msg: String) -> Error {
    Error::internal(msg)
}

/// The domain definition of container `ctid` called `name` from its configuration.
pub fn domain_def(name: &str, uuid: Uuid, conf: &VzConfig, host: &Host) -> Result<DomainDef> {
    let mut def = DomainDef::new("openvz", name, "exe");
    def.uuid = uuid;
    def.os.init = Some("/sbin/init".into());
    def.on_reboot = LifecycleAction::Destroy;
    let pages = |key: &str| -> Result<Option<(Option<u64>, Option<u64>)>> {
        conf.get(key)
            .map(|v| {
                barrier_limit(v).ok_or_else(|| {
                    internal(format!(
                        "could not parse '{key}' value '{v}' of the container config"
                    ))
                })
            })
            .transpose()
    };
    let kib = |p: Option<u64>| p.map(|p| p.saturating_mul(host.kib_per_page));
    if let Some((_, limit)) = pages("PHYSPAGES")? {
        def.memory_kib = kib(limit).unwrap_or(0);
        def.current_memory_kib = def.memory_kib;
    }
    let mut mt = MemTune::default();
    if let Some((barrier, _)) = pages("VMGUARPAGES")? {
        mt.min_guarantee_kib = kib(barrier);
    }
    if let Some((barrier, limit)) = pages("PRIVVMPAGES")? {
        mt.soft_limit_kib = kib(barrier);
        mt.hard_limit_kib = kib(limit);
    }
    if mt != MemTune::default() {
        def.memtune = Some(mt);
    }
    def.vcpus = conf
        .get("CPUS")
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| *c > 0)
        .unwrap_or(host.cpus.max(1));
    let space = match conf.get("DISKSPACE") {
        Some(v) => barrier_limit(v).ok_or_else(|| {
            internal(format!(
                "could not parse 'DISKSPACE' value '{v}' of the container config"
            ))
        })?,
        None => (None, None),
    };
    let bytes = |k: Option<u64>| k.map(|k| k.saturating_mul(1024));
    let fs = match (conf.get("OSTEMPLATE"), conf.get("VE_PRIVATE")) {
        (Some(t), _) => {
            check_template(t).map_err(|e| {
                internal(format!("OSTEMPLATE of the container config: {}", e.message))
            })?;
            Some((FilesystemType::Template, t.to_string()))
        }
        // Booted from a private area directly: libvirt showed it as a mount.
        (None, Some(p)) => {
            if p.chars().any(char::is_control) {
                return Err(internal(format!(
                    "VE_PRIVATE {p:?} of the container config is not a path"
                )));
            }
            Some((FilesystemType::Mount, p.to_string()))
        }
        (None, None) => None,
    };
    if let Some((fs_type, source)) = fs {
        def.devices.filesystems.push(FilesystemDef {
            fs_type,
            access_mode: None,
            source,
            target_dir: "/".into(),
            readonly: false,
            space_hard_limit: bytes(space.1),
            space_soft_limit: bytes(space.0),
        });
    }
    def.devices.interfaces =
        netif::interfaces(conf.get("IP_ADDRESS"), conf.get("NETIF")).map_err(internal)?;
    Ok(def)
}

/// Refuses what a container cannot be: another domain or OS type, a kernel, disks, devices of
/// a machine, more than one filesystem.
pub fn check_def(def: &DomainDef) -> Result<()> {
    if def.domain_type != "openvz" {
        return Err(unsupported(format!(
            "domain type '{}' is not an OpenVZ container; use <domain type='openvz'>",
            def.domain_type
        )));
    }
    if def.os.os_type != "exe" {
        return Err(unsupported(format!(
            "OS type '{}' cannot run in a container; OpenVZ containers run <type>exe</type>",
            def.os.os_type
        )));
    }
    for (what, set) in [
        ("<kernel>", def.os.kernel.is_some()),
        ("<initrd>", def.os.initrd.is_some()),
        ("<cmdline>", def.os.cmdline.is_some()),
        ("<loader>", def.os.loader.is_some()),
        ("<bootloader>", def.bootloader.is_some()),
        ("<boot>", !def.os.boot.is_empty()),
    ] {
        if set {
            return Err(unsupported(format!(
                "an OpenVZ container shares the host's kernel: {what} is not allowed"
            )));
        }
    }
    if let Some(init) = &def.os.init
        && init != "/sbin/init"
    {
        return Err(unsupported(format!(
            "OpenVZ starts /sbin/init in a container, not '{init}'"
        )));
    }
    let d = &def.devices;
    if !d.disks.is_empty() {
        return Err(unsupported(
            "an OpenVZ container has no disks: give its root as <filesystem type='template'>",
        ));
    }
    for (what, n) in [
        ("<hostdev>", d.hostdevs.len()),
        ("<graphics>", d.graphics.len()),
        ("<sound>", d.sounds.len()),
        ("<video>", d.videos.len()),
        ("<serial>", d.serials.len()),
        ("<parallel>", d.parallels.len()),
    ] {
        if n > 0 {
            return Err(unsupported(format!(
                "{what} devices are not supported by OpenVZ containers"
            )));
        }
    }
    if d.filesystems.len() > 1 {
        return Err(unsupported("only one filesystem supported"));
    }
    if let Some(fs) = d.filesystems.first() {
        if fs.fs_type != FilesystemType::Template {
            return Err(unsupported(format!(
                "filesystem is of type '{}'; the OpenVZ driver creates containers from templates only (<filesystem type='template'>)",
                fs.fs_type.as_str()
            )));
        }
        if fs.target_dir != "/" {
            return Err(unsupported(format!(
                "the template filesystem is the container's root: its target must be '/', not '{}'",
                fs.target_dir
            )));
        }
        check_template(&fs.source)?;
    }
    if def.vcpu_current.is_some_and(|c| c != def.vcpus) {
        return Err(unsupported("current vcpu count must equal maximum"));
    }
    for nic in &d.interfaces {
        match &nic.source {
            InterfaceSource::Bridge { bridge } => check_device(bridge, "bridge name")?,
            InterfaceSource::Ethernet { dev: None } => {}
            other => {
                return Err(unsupported(format!(
                    "interface type '{}' is not supported by OpenVZ containers (use 'bridge' or 'ethernet')",
                    other.type_name()
                )));
            }
        }
        if let Some(t) = &nic.target_dev {
            check_device(t, "host device name")?;
        }
        if let Some(g) = &nic.guest_dev {
            check_device(g, "container device name")?;
        }
        if nic.ip.is_some() && nic.source != (InterfaceSource::Ethernet { dev: None }) {
            return Err(unsupported(
                "an <ip> address is a venet address: give it on an <interface type='ethernet'>",
            ));
        }
    }
    Ok(())
}

/// The template a definition asks for.
pub fn template(def: &DomainDef) -> Option<&str> {
    def.devices.filesystems.first().map(|f| f.source.as_str())
}

fn pages(kib: u64, host: &Host) -> u64 {
    kib.div_ceil(host.kib_per_page)
}

/// A random MAC address with libvirt's prefix 52:54:00.
pub fn random_mac() -> MacAddr {
    let b = Uuid::new_v4().into_bytes();
    MacAddr([0x52, 0x54, 0x00, b[0], b[1], b[2]])
}

/// Gives every interface of `def` the names and addresses a container's veth device needs
/// (device inside, host device, MAC), as libvirt did when it defined one: `ethN` with the
/// smallest free N, `veth<CTID>.<N>`, a random MAC.
pub fn complete_interfaces(def: &mut DomainDef, ctid: u32) {
    let mut used: Vec<String> = def
        .devices
        .interfaces
        .iter()
        .filter_map(|n| n.guest_dev.clone())
        .collect();
    for nic in &mut def.devices.interfaces {
        if nic.ip.is_some() {
            continue;
        }
        if nic.guest_dev.is_none() {
            let n = (0..)
                .find(|n| !used.contains(&format!("eth{n}")))
                .unwrap_or(0);
            nic.guest_dev = Some(format!("eth{n}"));
            used.push(format!("eth{n}"));
        }
        if nic.target_dev.is_none() {
            let dev = nic.guest_dev.as_deref().unwrap_or("eth0");
            let n: String = dev.chars().filter(|c| c.is_ascii_digit()).collect();
            nic.target_dev = Some(format!(
                "veth{ctid}.{}",
                if n.is_empty() { "0" } else { &n }
            ));
        }
        if nic.mac.is_none() {
            nic.mac = Some(random_mac());
        }
    }
}

fn same_interfaces(a: &[InterfaceDef], b: &[InterfaceDef]) -> bool {
    let key = |n: &InterfaceDef| {
        (
            n.source.clone(),
            n.mac,
            n.ip,
            n.target_dev.clone(),
            n.guest_dev.clone(),
        )
    };
    let mut ka: Vec<_> = a.iter().map(key).collect();
    let mut kb: Vec<_> = b.iter().map(key).collect();
    ka.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    kb.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    ka == kb
}

/// The options of `vzctl set CTID ... --save` that make a container match `def` (interfaces
/// completed first), given the container's current definition (`None` for a new one): memory,
/// memory limits, vCPUs, disk space, and the network when it differs.
pub fn set_options(def: &DomainDef, current: Option<&DomainDef>, host: &Host) -> Vec<String> {
    let mut o: Vec<String> = Vec::new();
    let mut add = |k: &str, v: String| {
        o.push(k.to_string());
        o.push(v);
    };
    let memory = def.memory_kib.max(def.current_memory_kib);
    if memory > 0 {
        add("--physpages", format!("0:{}", pages(memory, host)));
    }
    if let Some(mt) = &def.memtune {
        if let Some(g) = mt.min_guarantee_kib {
            add("--vmguarpages", pages(g, host).to_string());
        }
        if mt.soft_limit_kib.is_some() || mt.hard_limit_kib.is_some() {
            let p =
                |k: Option<u64>| k.map_or("unlimited".to_string(), |k| pages(k, host).to_string());
            let soft = mt.soft_limit_kib.or(mt.hard_limit_kib);
            add(
                "--privvmpages",
                format!("{}:{}", p(soft), p(mt.hard_limit_kib)),
            );
        }
    }
    add("--cpus", def.vcpus.max(1).to_string());
    if let Some(fs) = def.devices.filesystems.first()
        && (fs.space_soft_limit.is_some() || fs.space_hard_limit.is_some())
    {
        let k =
            |b: Option<u64>| b.map_or("unlimited".to_string(), |b| b.div_ceil(1024).to_string());
        let soft = fs.space_soft_limit.or(fs.space_hard_limit);
        add(
            "--diskspace",
            format!("{}:{}", k(soft), k(fs.space_hard_limit)),
        );
    }
    let nets_changed = match current {
        None => !def.devices.interfaces.is_empty(),
        Some(cur) => !same_interfaces(&cur.devices.interfaces, &def.devices.interfaces),
    };
    if nets_changed {
        if current.is_some_and(|c| !c.devices.interfaces.is_empty()) {
            add("--ipdel", "all".into());
            add("--netif_del", "all".into());
        }
        for nic in &def.devices.interfaces {
            if let Some(ip) = nic.ip {
                add("--ipadd", ip.to_string());
                continue;
            }
            let mut spec = vec![
                nic.guest_dev.clone().unwrap_or_default(),
                nic.mac.map(|m| m.to_string()).unwrap_or_default(),
                nic.target_dev.clone().unwrap_or_default(),
                random_mac().to_string(),
            ];
            if let InterfaceSource::Bridge { bridge } = &nic.source {
                spec.push(bridge.clone());
            }
            add("--netif_add", spec.join(","));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtkit_xml::FormatOptions;

    const HOST: Host = Host {
        cpus: 4,
        kib_per_page: 4,
    };

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/openvz/openvzutilstest.conf"
    );

    #[test]
    fn the_corpus_container_as_xml() {
        let conf = VzConfig::parse(&std::fs::read_to_string(CORPUS).unwrap());
        let uuid = Uuid::parse_str("7109d234-f5a8-30a6-5dd2-39ca85ce3958").unwrap();
        let def = domain_def("105", uuid, &conf, &HOST).unwrap();
        // PHYSPAGES="0:2147483647": no limit.
        assert_eq!(def.memory_kib, 0);
        let mt = def.memtune.unwrap();
        assert_eq!(mt.min_guarantee_kib, Some(360_000 * 4));
        assert_eq!(
            (mt.soft_limit_kib, mt.hard_limit_kib),
            (Some(360_000 * 4), Some(360_000 * 4))
        );
        assert_eq!(def.vcpus, 4, "no CPUS: the host's CPUs");
        let fs = &def.devices.filesystems[0];
        assert_eq!(
            (fs.fs_type, fs.source.as_str()),
            (FilesystemType::Template, "rhel-5-lystor")
        );
        // DISKSPACE="" comes last; libvirt kept the earlier value.
        assert_eq!(fs.space_soft_limit, Some(107_733_379 * 1024));
        assert_eq!(def.devices.interfaces.len(), 2);
        check_def(&def).unwrap();
        let xml = def.to_xml(&FormatOptions::default());
        assert!(
            xml.starts_with("<domain type='openvz'>\n  <name>105</name>"),
            "{xml}"
        );
        assert!(
            xml.contains("<os>\n    <type>exe</type>\n    <init>/sbin/init</init>\n  </os>"),
            "{xml}"
        );
        assert!(xml.contains("<filesystem type='template'>\n      <source name='rhel-5-lystor'/>\n      <target dir='/'/>"), "{xml}");
        assert_eq!(DomainDef::parse(&xml).unwrap(), def);
    }

    #[test]
    fn invalid_combinations_are_refused() {
        let base = "<domain type='openvz'><name>101</name><memory>262144</memory><os><type>exe</type></os>";
        for (xml, says) in [
            ("<domain type='kvm'><name>a</name><memory>1</memory><os><type>hvm</type></os></domain>".to_string(), "type 'kvm'"),
            (format!("{base}<devices><disk type='file' device='disk'><source file='/x.img'/><target dev='hda'/></disk></devices></domain>"), "no disks"),
            (base.replace("<type>exe</type>", "<type>exe</type><kernel>/boot/vmlinuz</kernel>") + "</domain>", "<kernel>"),
            (base.replace("<type>exe</type>", "<type>hvm</type>") + "</domain>", "OS type 'hvm'"),
            (format!("{base}<devices><filesystem type='mount'><source dir='/srv'/><target dir='/'/></filesystem></devices></domain>"), "templates only"),
            (format!("{base}<devices><filesystem type='template'><source name='-x'/><target dir='/'/></filesystem></devices></domain>"), "OS template"),
            (format!("{base}<devices><interface type='network'><source network='default'/></interface></devices></domain>"), "interface type 'network'"),
            (format!("{base}<devices><interface type='bridge'><source bridge='br;0'/></interface></devices></domain>"), "bridge name"),
        ] {
            let def = DomainDef::parse(&xml).unwrap();
            let e = check_def(&def).unwrap_err();
            assert!(e.message.contains(says), "{xml}: {e}");
        }
    }

    #[test]
    fn definition_to_vzctl_options() {
        let mut def = DomainDef::parse(
            "<domain type='openvz'><name>web</name><memory>262144</memory><vcpu>2</vcpu>\
             <os><type>exe</type><init>/sbin/init</init></os><devices>\
             <filesystem type='template'><source name='debian'/><target dir='/'/><space_hard_limit>2097152</space_hard_limit></filesystem>\
             <interface type='ethernet'><ip address='10.0.0.5'/></interface>\
             <interface type='bridge'><mac address='52:54:00:01:02:03'/><source bridge='br0'/></interface>\
             </devices></domain>",
        )
        .unwrap();
        check_def(&def).unwrap();
        complete_interfaces(&mut def, 123);
        let o = set_options(&def, None, &HOST);
        let s = o.join(" ");
        assert!(s.starts_with("--physpages 0:65536 --cpus 2 --diskspace 2048:2048 --ipadd 10.0.0.5 --netif_add eth0,52:54:00:01:02:03,veth123.0,52:54:00:"), "{s}");
        assert!(s.ends_with(",br0"), "{s}");
        // The same definition again changes no network.
        let again = set_options(&def, Some(&def), &HOST).join(" ");
        assert!(!again.contains("netif") && !again.contains("ip"), "{again}");
    }
}
