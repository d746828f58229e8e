//! The QEMU binaries of this host: where they are, their version, their machine types, and the
//! capabilities document built from them. Answers that need running a binary are cached per
//! process and binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{
    Capabilities, CapsDomain, CapsGuest, CapsGuestArch, CapsGuestFeature, CapsHost, CapsHostCpu,
    CapsMachine, CellCpu, CpuTopology, DomainDef, MigrationFeatures, NumaCell,
};

use crate::argv::{host_arch, qemu_arch};
use crate::host;

fn search_path() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .filter(|p| p.is_absolute())
        .collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds a program on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    search_path()
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

/// The emulator for a libvirt architecture: `qemu-system-<arch>` on `PATH` (an i686 guest may
/// also run on `qemu-system-x86_64`).
pub fn find_emulator(arch: &str) -> Option<PathBuf> {
    which(&format!("qemu-system-{}", qemu_arch(arch))).or_else(|| {
        matches!(arch, "i686" | "i586" | "i486" | "i386")
            .then(|| which("qemu-system-x86_64"))
            .flatten()
    })
}

/// The emulator a definition runs on: its `<emulator>`, else the one found for its architecture.
pub fn emulator_for(def: &DomainDef) -> Result<String> {
    if let Some(e) = def.devices.emulator.as_deref().filter(|e| !e.is_empty()) {
        if !is_executable(Path::new(e)) {
            return Err(Error::new(
                ErrorCode::OperationFailed,
                format!(
                    "operation failed: the emulator '{e}' of domain '{}' does not exist or is not executable",
                    def.name
                ),
            ));
        }
        return Ok(e.to_string());
    }
    let arch = def.os.arch.as_deref().unwrap_or(host_arch());
    find_emulator(arch).map(|p| p.display().to_string()).ok_or_else(|| {
        Error::new(
            ErrorCode::OperationFailed,
            format!(
                "operation failed: no emulator for architecture '{arch}': qemu-system-{} is not on PATH \
                 (install QEMU, or give the binary in <emulator>)",
                qemu_arch(arch)
            ),
        )
    })
}

/// Whether `/dev/kvm` can be opened for reading and writing by this process.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Refuses a `kvm` domain when KVM is not usable.
pub fn check_domain_type(def: &DomainDef) -> Result<()> {
    if def.domain_type == "kvm" && !kvm_usable() {
        let why = match std::fs::metadata("/dev/kvm") {
            Err(_) => {
                "/dev/kvm does not exist (is the kvm module loaded and virtualization enabled?)"
                    .to_string()
            }
            Ok(_) => "/dev/kvm cannot be opened for reading and writing by this user".to_string(),
        };
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: domain '{}' requires KVM, but {why}; use <domain type='qemu'> for emulation",
                def.name
            ),
        ));
    }
    Ok(())
}

/// Runs `bin ARGS` (a probe) and returns its standard output.
pub(crate) fn run_output(bin: &str, args: &[&str]) -> Result<String> {
    // The binary may come from a definition's <emulator>: a probe that hangs, or prints without
    // end, is stopped (with anything it started) rather than holding the caller.
    let out = virtkit_hostio::run_bounded(
        Command::new(bin).args(args),
        PROBE_TIMEOUT,
        PROBE_OUTPUT_CAP,
    )
    .map_err(|e| Error::operation_failed(format!("cannot probe '{bin}': {e}")))?;
    if !out.status.success() {
        return Err(Error::operation_failed(format!(
            "'{bin} {}' failed with {}",
            args.join(" "),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How long one probe of an emulator (`--version`, `-machine help`, ...) may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How much of a probe's output is kept (`-device help` is about 100 KiB).
const PROBE_OUTPUT_CAP: usize = 4 << 20;

/// Parses `QEMU emulator version 10.0.2 (...)` into libvirt's encoding, 10000002.
pub fn parse_version(text: &str) -> Option<u64> {
    let rest = &text[text.find("version ")? + 8..];
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(major * 1_000_000 + minor * 1_000 + micro)
}

fn cache<T: Clone>(
    cell: &'static OnceLock<Mutex<HashMap<String, T>>>,
    key: &str,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let map = cell.get_or_init(Default::default);
    if let Some(v) = map.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
        return Ok(v.clone());
    }
    let v = compute()?;
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.to_string(), v.clone());
    Ok(v)
}

/// The version of an emulator (cached).
pub fn version(bin: &str) -> Result<u64> {
    static C: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    cache(&C, bin, || {
        let out = run_output(bin, &["--version"])?;
        parse_version(&out)
            .ok_or_else(|| Error::internal(format!("cannot read the version in '{}'", out.trim())))
    })
}

/// Parses `-machine help`: machine names, the aliases they stand for, and which is the default
/// (first in the returned list).
pub fn parse_machines(text: &str) -> Vec<CapsMachine> {
    let mut out: Vec<CapsMachine> = Vec::new();
    let mut default = None;
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("Supported machines"))
        .skip(1)
    {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if name == "none" {
            continue;
        }
        let canonical = line
            .find("(alias of ")
            .map(|i| line[i + 10..].trim_end_matches(')').trim().to_string());
        if line.contains("(default)") {
            default = Some(out.len());
        }
        out.push(CapsMachine {
            name: name.to_string(),
            canonical,
            max_cpus: None,
        });
    }
    // The alias of the default goes first, then the default itself (libvirt's order).
    if let Some(d) = default {
        let def_name = out[d].name.clone();
        let m = out.remove(d);
        out.insert(0, m);
        if let Some(a) = out
            .iter()
            .position(|m| m.canonical.as_deref() == Some(def_name.as_str()))
        {
            let alias = out.remove(a);
            out.insert(0, alias);
        }
    }
    out
}

/// The machine types `-machine help` marks deprecated (`(deprecated)` after the description).
pub fn parse_deprecated_machines(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Supported machines"))
        .skip(1)
        .filter(|l| l.trim_end().ends_with("(deprecated)"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// An emulator's `-machine help` text (cached: the machine list and the deprecated machine
/// types both come from it).
fn machine_help(bin: &str) -> Result<String> {
    static C: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    cache(&C, bin, || run_output(bin, &["-machine", "help"]))
}

/// The deprecated machine types of an emulator (cached).
pub fn deprecated_machines(bin: &str) -> Result<Vec<String>> {
    Ok(parse_deprecated_machines(&machine_help(bin)?))
}

/// What a start needs to know of an emulator binary, probed once per binary file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmulatorFacts {
    /// The machine types `-machine help` marks deprecated.
    pub deprecated: Vec<String>,
    /// The binary takes `-sandbox` (QEMU built with seccomp): `-sandbox on -version` exits 0,
    /// where a binary without it stops at the option with "-sandbox is not supported".
    pub sandbox: bool,
}

/// Whether `bin` takes `-sandbox on` (not cached: see [`facts_cached`]).
pub fn supports_sandbox(bin: &str) -> bool {
    run_output(bin, &["-sandbox", "on", "-version"]).is_ok()
}

/// [`EmulatorFacts`], remembered across processes in the file `cache` (a file of the driver's
/// own run directory): every `virtkit start` is a new process, and the probes (`-machine help`,
/// about 20 ms, and `-sandbox on -version`) would otherwise be paid by each, as libvirt avoids
/// with its capabilities cache. The answer is keyed by the emulator file's device, inode, size,
/// mtime and ctime, so a replaced or upgraded binary is probed again. A cache that cannot be read
/// or written, or that another version wrote, only costs the probes.
pub fn facts_cached(bin: &str, cache: &std::path::Path) -> Result<EmulatorFacts> {
    use std::os::unix::fs::MetadataExt;
    let probe = || -> Result<EmulatorFacts> {
        Ok(EmulatorFacts {
            deprecated: deprecated_machines(bin)?,
            sandbox: supports_sandbox(bin),
        })
    };
    let Ok(md) = std::fs::metadata(bin) else {
        return probe();
    };
    let key = format!(
        "emulator-facts 2 {bin:?} dev {} ino {} size {} mtime {}.{} ctime {}.{}",
        md.dev(),
        md.ino(),
        md.size(),
        md.mtime(),
        md.mtime_nsec(),
        md.ctime(),
        md.ctime_nsec()
    );
    if let Ok(Some(text)) = crate::store::read_own(cache) {
        let mut lines = text.lines();
        if lines.next() == Some(key.as_str()) {
            let mut facts = EmulatorFacts::default();
            let mut sandbox = None;
            for l in lines {
                match l.split_once(' ') {
                    Some(("sandbox", v)) => sandbox = Some(v == "yes"),
                    Some(("deprecated", m)) => facts.deprecated.push(m.to_string()),
                    _ => {}
                }
            }
            if let Some(sb) = sandbox {
                facts.sandbox = sb;
                return Ok(facts);
            }
        }
    }
    let facts = probe()?;
    let mut text = key;
    text.push_str(if facts.sandbox {
        "\nsandbox yes"
    } else {
        "\nsandbox no"
    });
    for m in &facts.deprecated {
        text.push_str("\ndeprecated ");
        text.push_str(m);
    }
    text.push('\n');
    let _ = crate::store::write_atomic(cache, text.as_bytes(), false);
    Ok(facts)
}

/// The machine types of an emulator (cached).
pub fn machines(bin: &str) -> Result<Vec<CapsMachine>> {
    static C: OnceLock<Mutex<HashMap<String, Vec<CapsMachine>>>> = OnceLock::new();
    cache(&C, bin, || Ok(parse_machines(&machine_help(bin)?)))
}

/// libvirt's name and word size for a `qemu-system-<x>` suffix.
fn arch_of_binary(suffix: &str) -> Option<(&'static str, u32)> {
    Some(match suffix {
        "x86_64" => ("x86_64", 64),
        "i386" => ("i686", 32),
        "aarch64" => ("aarch64", 64),
        "arm" => ("armv7l", 32),
        "ppc64" => ("ppc64", 64),
        "ppc" => ("ppc", 32),
        "riscv64" => ("riscv64", 64),
        "riscv32" => ("riscv32", 32),
        "s390x" => ("s390x", 64),
        "mips" => ("mips", 32),
        "mipsel" => ("mipsel", 32),
        "mips64" => ("mips64", 64),
        "mips64el" => ("mips64el", 64),
        "sparc" => ("sparc", 32),
        "sparc64" => ("sparc64", 64),
        "alpha" => ("alpha", 64),
        "m68k" => ("m68k", 32),
        "loongarch64" => ("loongarch64", 64),
        _ => return None,
    })
}

/// Every `qemu-system-*` on `PATH`: (libvirt arch, word size, binary), first found per arch.
pub fn emulators() -> Vec<(String, u32, PathBuf)> {
    let mut out: Vec<(String, u32, PathBuf)> = Vec::new();
    for dir in search_path() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for n in names {
            let Some((arch, wordsize)) = n.strip_prefix("qemu-system-").and_then(arch_of_binary)
            else {
                continue;
            };
            let p = dir.join(&n);
            if is_executable(&p) && !out.iter().any(|(a, _, _)| a == arch) {
                out.push((arch.to_string(), wordsize, p));
            }
        }
    }
    out
}

/// Whether KVM can run guests of `arch` on this host.
fn kvm_runs(arch: &str) -> bool {
    let h = host_arch();
    arch == h || (h == "x86_64" && arch == "i686") || (h == "aarch64" && arch == "armv7l")
}

/// The capabilities document: the host (arch, topology, NUMA cells) and one guest per emulator
/// found, with domain type `qemu`, and `kvm` when `/dev/kvm` is usable for that arch.
pub fn capabilities() -> Capabilities {
    let node = host::node_info();
    let cpus = host::cpu_topology();
    let host = CapsHost {
        uuid: host::host_uuid(),
        cpu: CapsHostCpu {
            arch: host_arch().to_string(),
            topology: Some(CpuTopology {
                sockets: node.sockets,
                dies: None,
                cores: node.cores,
                threads: node.threads,
            }),
            ..Default::default()
        },
        migration: Some(MigrationFeatures {
            live: true,
            uri_transports: vec!["tcp".into(), "rdma".into()],
        }),
        cells: Some(
            host::numa_cells()
                .into_iter()
                .map(|(id, memory_kib, cpu_ids)| NumaCell {
                    id,
                    memory_kib,
                    pages: Vec::new(),
                    cpus: cpu_ids
                        .into_iter()
                        .map(|c| {
                            let t = cpus.get(&c);
                            CellCpu {
                                id: c,
                                socket_id: t.map(|t| t.0),
                                die_id: None,
                                core_id: t.map(|t| t.1),
                                siblings: t.map(|t| t.2.clone()),
                            }
                        })
                        .collect(),
                })
                .collect(),
        ),
        ..Default::default()
    };
    let kvm = kvm_usable();
    let guests = emulators()
        .into_iter()
        .map(|(arch, wordsize, bin)| {
            let bin_s = bin.display().to_string();
            let mut domains = vec![CapsDomain {
                domain_type: "qemu".into(),
                ..Default::default()
            }];
            if kvm && kvm_runs(&arch) {
                domains.push(CapsDomain {
                    domain_type: "kvm".into(),
                    ..Default::default()
                });
            }
            let mut features = Vec::new();
            if matches!(arch.as_str(), "x86_64" | "i686") {
                if arch == "i686" {
                    features.push(CapsGuestFeature {
                        name: "pae".into(),
                        ..Default::default()
                    });
                    features.push(CapsGuestFeature {
                        name: "nonpae".into(),
                        ..Default::default()
                    });
                }
                features.push(CapsGuestFeature {
                    name: "acpi".into(),
                    default_on: Some(true),
                    toggle: Some(true),
                });
                features.push(CapsGuestFeature {
                    name: "apic".into(),
                    default_on: Some(true),
                    toggle: Some(false),
                });
            }
            CapsGuest {
                os_type: "hvm".into(),
                arch: CapsGuestArch {
                    name: arch,
                    wordsize: Some(wordsize),
                    emulator: Some(bin_s.clone()),
                    machines: machines(&bin_s).unwrap_or_default(),
                    domains,
                    ..Default::default()
                },
                features,
            }
        })
        .collect();
    Capabilities { host, guests }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_facts_are_remembered_on_disk_per_emulator_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("qemu-system-fake");
        let count = dir.path().join("runs");
        // A QEMU built without seccomp: `-sandbox` stops it with an error.
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\necho x >> '{}'\n[ \"$1\" = -sandbox ] && {{ echo '-sandbox is not supported by this QEMU binary' >&2; exit 1; }}\nprintf 'Supported machines are:\\npc-old   Old PC (deprecated)\\npc       Standard PC\\n'\n",
                count.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o700)).unwrap();
        let bin = bin.to_str().unwrap();
        let cache = dir.path().join(".emulator-cache");
        let runs = || std::fs::read_to_string(&count).map_or(0, |t| t.lines().count());
        let facts = |deprecated: &str, sandbox: bool| EmulatorFacts {
            deprecated: vec![deprecated.to_string()],
            sandbox,
        };

        assert_eq!(facts_cached(bin, &cache).unwrap(), facts("pc-old", false));
        assert_eq!(runs(), 2, "one -machine help, one -sandbox probe");
        let text = std::fs::read_to_string(&cache).unwrap();
        assert!(
            text.starts_with("emulator-facts 2 ")
                && text.ends_with("\nsandbox no\ndeprecated pc-old\n"),
            "{text}"
        );
        // A later process reads the file instead of probing: what the file says is the answer.
        std::fs::write(
            &cache,
            text.replace("\ndeprecated pc-old\n", "\ndeprecated pc-older\n")
                .replace("sandbox no", "sandbox yes"),
        )
        .unwrap();
        assert_eq!(facts_cached(bin, &cache).unwrap(), facts("pc-older", true));
        assert_eq!(runs(), 2);
        // A file of the older format (names only, no sandbox line) is probed again.
        let key = text.lines().next().unwrap().to_string();
        std::fs::write(&cache, format!("{key}\npc-old\n")).unwrap();
        assert_eq!(facts_cached(bin, &cache).unwrap(), facts("pc-old", false));
        // (`-machine help` is also kept per process, by path: only the sandbox probe ran again.)
        assert_eq!(runs(), 3);
        // Another emulator file at that path (here: its mtime changes) is not answered from it.
        let text = std::fs::read_to_string(&cache).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(bin)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(facts_cached(bin, &cache).unwrap(), facts("pc-old", false));
        assert_eq!(runs(), 4);
        let again = std::fs::read_to_string(&cache).unwrap();
        assert!(
            again != text && again.ends_with("\ndeprecated pc-old\n"),
            "{again}"
        );
    }

    #[test]
    fn the_host_qemu_takes_sandbox() {
        // Debian's QEMU is built with seccomp: the probe must say so, or system guests would
        // silently lose their filter.
        let bin = virtkit_test_support::require!(virtkit_test_support::QEMU);
        assert!(supports_sandbox(bin.to_str().unwrap()), "{}", bin.display());
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)\nCopyright"),
            Some(10_000_002)
        );
        assert_eq!(
            parse_version("QEMU PC emulator version 0.9.1, Copyright"),
            Some(9_001)
        );
        assert_eq!(parse_version("nothing"), None);
    }

    #[test]
    fn deprecated_machine_types() {
        let text = "Supported machines are:\n\
            pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-10.0)\n\
            pc-i440fx-10.0       Standard PC (i440FX + PIIX, 1996) (default)\n\
            pc-i440fx-7.0        Standard PC (i440FX + PIIX, 1996) (deprecated)\n\
            pc-q35-6.2           Standard PC (Q35 + ICH9, 2009) (deprecated)\n";
        assert_eq!(
            parse_deprecated_machines(text),
            ["pc-i440fx-7.0", "pc-q35-6.2"]
        );
    }

    #[test]
    fn machine_help() {
        let text = "Supported machines are:\nmicrovm              microvm (i386)\n\
            pc-i440fx-10.0       Standard PC (i440FX + PIIX, 1996) (default)\n\
            pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-10.0)\n\
            q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-10.0)\n\
            pc-q35-10.0          Standard PC (Q35 + ICH9, 2009)\nnone                 empty machine\n";
        let m = parse_machines(text);
        let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["pc", "pc-i440fx-10.0", "microvm", "q35", "pc-q35-10.0"]
        );
        assert_eq!(m[0].canonical.as_deref(), Some("pc-i440fx-10.0"));
    }

    #[test]
    fn kvm_type_is_refused_clearly_without_kvm() {
        let def = DomainDef::parse("<domain type='kvm'><name>k</name><memory>65536</memory><os><type>hvm</type></os></domain>").unwrap();
        match check_domain_type(&def) {
            Ok(()) => assert!(kvm_usable()),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::ConfigUnsupported);
                assert!(e.message.contains("/dev/kvm"), "{e}");
            }
        }
    }
}
