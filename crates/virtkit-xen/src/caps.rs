//! The capabilities document of a Xen host, built as libvirt built it (`xen_internal.c`) from
//! two texts: the hypervisor's capability string (`/sys/hypervisor/properties/capabilities`,
//! or xend's `xen_caps` node field), such as `xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p`,
//! and `/proc/cpuinfo`, whose `flags` lines tell hardware virtualisation (`vmx` on Intel, `svm`
//! on AMD) and `pae`.
//!
//! - Each token `TYPE-VERSION-ARCH[SUFFIX]` of the first line is a guest: TYPE `xen`
//!   (paravirtualised, machine `xenpv`) or `hvm` (fully virtualised, machine `xenfv`, with the
//!   `hvmloader` firmware); ARCH `x86_32` (`i686`, 32 bits; suffix `p` = PAE, none = non-PAE),
//!   `x86_64`, `ia64` (suffix `be` = big-endian) or `powerpc64` (`ppc64`). Tokens naming the same
//!   type and architecture are merged, keeping every positive flag; other tokens are ignored.
//! - Every guest runs `qemu-dm` from `/usr/lib64/xen/bin` on an `x86_64` host and from
//!   `/usr/lib/xen/bin` otherwise, in a `xen` domain.
//! - HVM guests have the `acpi` and `apic` toggles, on by default; from Xen 3.3 `hap`, from 3.4
//!   `viridian` (off by default), and from 3.1 on an `apic` that cannot be turned off — when the
//!   hypervisor's version is known.
//! - The host reports `vmx`/`svm`, or `pae` — as in libvirt, a `flags` line that shows `vmx` or
//!   `svm` is not also looked at for `pae` — and live migration over the `xenmigr` transport.
//!
//! The capability string and cpuinfo may be missing (no hypervisor, another OS): then there are no
//! guests or no host features, as in libvirt.

use std::path::Path;

use virtkit_xml::{
    Capabilities, CapsDomain, CapsGuest, CapsGuestArch, CapsGuestFeature, CapsHost, CapsHostCpu,
    CapsMachine, MigrationFeatures,
};

use crate::error::{Error, Result};

/// Where a Xen host keeps its capability string.
pub const HYPERVISOR_CAPS_PATH: &str = "/sys/hypervisor/properties/capabilities";
/// Where Linux describes the host CPUs.
pub const CPUINFO_PATH: &str = "/proc/cpuinfo";
/// The most read from either file; /proc/cpuinfo of a 1024-CPU host is about 1.5 MB.
const READ_CAP: u64 = 16 << 20;

/// The hypervisor's version, when known: it decides the `apic`, `hap` and `viridian` features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct XenVersion {
    /// Major version (3 for Xen 3.x).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GuestArch {
    arch: &'static str,
    wordsize: u32,
    hvm: bool,
    pae: bool,
    nonpae: bool,
    ia64_be: bool,
}

/// One token of the capability string: (hvm, arch, wordsize, pae, nonpae, ia64_be).
fn parse_token(token: &str) -> Option<GuestArch> {
    let mut parts = token.splitn(3, '-');
    let hvm = match parts.next()? {
        "xen" => false,
        "hvm" => true,
        _ => return None,
    };
    let version = parts.next()?;
    let (major, minor) = version.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    let arch = parts.next()?;
    let mut guest = GuestArch {
        arch: "",
        wordsize: 64,
        hvm,
        pae: false,
        nonpae: false,
        ia64_be: false,
    };
    if let Some(suffix) = arch.strip_prefix("x86_32") {
        guest.arch = "i686";
        guest.wordsize = 32;
        if suffix.starts_with('p') {
            guest.pae = true;
        } else {
            guest.nonpae = true;
        }
    } else if arch.starts_with("x86_64") {
        guest.arch = "x86_64";
    } else if let Some(suffix) = arch.strip_prefix("ia64") {
        guest.arch = "ia64";
        guest.ia64_be = suffix.starts_with("be");
    } else if arch.starts_with("powerpc64") {
        guest.arch = "ppc64";
    } else {
        return None;
    }
    Some(guest)
}

/// Builds the capabilities of a Xen host from the texts of the capability string and of
/// `/proc/cpuinfo` (see the module documentation). `host_arch` is the host's machine name as
/// `uname -m` gives it (`i686`, `x86_64`, `ia64`).
pub fn xen_capabilities(
    host_arch: &str,
    hypervisor_caps: &str,
    cpuinfo: &str,
    version: Option<XenVersion>,
) -> Capabilities {
    let mut hvm_flag: Option<&str> = None;
    let mut host_pae = false;
    for flags in virtkit_driver::cpuinfo::flag_lines(cpuinfo) {
        match flags.iter().rev().find(|f| **f == "vmx" || **f == "svm") {
            Some(f) => hvm_flag = Some(f),
            None if flags.contains(&"pae") => host_pae = true,
            None => {}
        }
    }

    let mut guests: Vec<GuestArch> = Vec::new();
    let first_line = hypervisor_caps.lines().next().unwrap_or("");
    for token in first_line.split_whitespace() {
        let Some(g) = parse_token(token) else {
            continue;
        };
        if let Some(e) = guests
            .iter_mut()
            .find(|e| e.arch == g.arch && e.hvm == g.hvm)
        {
            e.pae |= g.pae;
            e.nonpae |= g.nonpae;
            e.ia64_be |= g.ia64_be;
        } else if guests.len() < 32 {
            // libvirt kept at most 32 flavours.
            guests.push(g);
        }
    }

    let mut flags = Vec::new();
    if let Some(f) = hvm_flag {
        flags.push(f.to_owned());
    }
    if host_pae {
        flags.push("pae".to_owned());
    }
    let emulator = if host_arch == "x86_64" {
        "/usr/lib64/xen/bin/qemu-dm"
    } else {
        "/usr/lib/xen/bin/qemu-dm"
    };
    let at_least =
        |major: u32, minor: u32| version.is_some_and(|v| v >= XenVersion { major, minor });
    let feature = |name: &str, default_on: Option<bool>, toggle: Option<bool>| CapsGuestFeature {
        name: name.to_owned(),
        default_on,
        toggle,
    };
    Capabilities {
        host: CapsHost {
            cpu: CapsHostCpu {
                arch: host_arch.to_owned(),
                flags,
                ..CapsHostCpu::default()
            },
            migration: Some(MigrationFeatures {
                live: true,
                uri_transports: vec!["xenmigr".to_owned()],
            }),
            ..CapsHost::default()
        },
        guests: guests
            .into_iter()
            .map(|g| {
                let mut features = Vec::new();
                for (on, name) in [(g.pae, "pae"), (g.nonpae, "nonpae"), (g.ia64_be, "ia64_be")] {
                    if on {
                        features.push(feature(name, None, None));
                    }
                }
                if g.hvm {
                    features.push(feature("acpi", Some(true), Some(true)));
                    // libvirt's test: APIC cannot be turned off from Xen 3.1 (major > 3 && minor > 0).
                    let apic_fixed = version.is_some_and(|v| v.major > 3 && v.minor > 0);
                    features.push(feature("apic", Some(true), Some(!apic_fixed)));
                    if at_least(3, 3) {
                        features.push(feature("hap", Some(true), Some(true)));
                    }
                    if at_least(3, 4) {
                        features.push(feature("viridian", Some(false), Some(true)));
                    }
                }
                CapsGuest {
                    os_type: if g.hvm { "hvm" } else { "xen" }.to_owned(),
                    arch: CapsGuestArch {
                        name: g.arch.to_owned(),
                        wordsize: Some(g.wordsize),
                        emulator: Some(emulator.to_owned()),
                        loader: g.hvm.then(|| "/usr/lib/xen/boot/hvmloader".to_owned()),
                        machines: vec![CapsMachine {
                            name: if g.hvm { "xenfv" } else { "xenpv" }.to_owned(),
                            ..CapsMachine::default()
                        }],
                        domains: vec![CapsDomain {
                            domain_type: "xen".to_owned(),
                            ..CapsDomain::default()
                        }],
                    },
                    features,
                }
            })
            .collect(),
    }
}

/// Reads one of the two inputs; a missing file is empty, as in libvirt.
fn read_optional(path: &Path) -> Result<String> {
    match virtkit_hostio::read_string_capped(path, READ_CAP) {
        Ok(text) => Ok(text),
        Err(e) if e.errno() == Some(ENOENT) => Ok(String::new()),
        Err(e) => Err(Error::Host(e.to_string())),
    }
}

/// Linux's "no such file or directory".
const ENOENT: i32 = 2;

/// [`xen_capabilities`] from files: the capability string at `hypervisor_caps` (normally
/// [`HYPERVISOR_CAPS_PATH`]) and cpuinfo at `cpuinfo` (normally [`CPUINFO_PATH`]). A missing
/// file counts as empty; a file that is not a regular file, larger than 16 MiB or not UTF-8 is
/// an error.
pub fn xen_capabilities_from_files(
    host_arch: &str,
    hypervisor_caps: &Path,
    cpuinfo: &Path,
    version: Option<XenVersion>,
) -> Result<Capabilities> {
    let caps = read_optional(hypervisor_caps)?;
    let cpuinfo = read_optional(cpuinfo)?;
    Ok(xen_capabilities(host_arch, &caps, &cpuinfo, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let g = parse_token("xen-3.0-x86_32p").unwrap();
        assert_eq!(
            (g.arch, g.wordsize, g.hvm, g.pae, g.nonpae),
            ("i686", 32, false, true, false)
        );
        let g = parse_token("hvm-3.0-x86_32").unwrap();
        assert!(g.hvm && g.nonpae && !g.pae);
        assert!(parse_token("xen-3.0-ia64be").unwrap().ia64_be);
        assert_eq!(parse_token("xen-3.0-powerpc64").unwrap().arch, "ppc64");
        for bad in [
            "",
            "xen",
            "xen-3.0",
            "kvm-3.0-x86_64",
            "xen-3-x86_64",
            "xen-a.b-x86_64",
            "xen-3.0-arm",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn version_features() {
        let caps = xen_capabilities(
            "x86_64",
            "xen-3.0-x86_64 hvm-3.0-x86_64",
            "flags : fpu svm lm\n",
            Some(XenVersion { major: 4, minor: 1 }),
        );
        let hvm = &caps.guests[1];
        let names: Vec<_> = hvm.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["acpi", "apic", "hap", "viridian"]);
        assert_eq!(hvm.features[1].toggle, Some(false));
        assert_eq!(caps.host.cpu.flags, ["svm"]);
        let old = xen_capabilities(
            "i686",
            "hvm-3.0-x86_32",
            "",
            Some(XenVersion { major: 3, minor: 0 }),
        );
        let names: Vec<_> = old.guests[0]
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["nonpae", "acpi", "apic"]);
        assert!(xen_capabilities("i686", "", "", None).guests.is_empty());
    }

    #[test]
    fn files_missing_are_empty_and_odd_files_refused() {
        let dir = std::env::temp_dir().join("virtkit-xen-caps-test-missing-dir");
        let caps = xen_capabilities_from_files("i686", &dir.join("none"), &dir.join("none2"), None)
            .unwrap();
        assert!(caps.guests.is_empty() && caps.host.cpu.flags.is_empty());
        let e =
            xen_capabilities_from_files("i686", Path::new("/"), Path::new("/nonexistent"), None)
                .unwrap_err();
        assert!(matches!(e, Error::Host(_)), "{e}");
    }
}
