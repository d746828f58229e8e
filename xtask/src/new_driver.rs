//! `cargo xtask new-driver NAME [--c] [--dir PARENT]`: an out-of-tree driver skeleton that
//! builds, loads and passes the conformance suite as generated.
//!
//! The skeleton (Rust with the SDK, or C against `<virtkit/driver.h>`) serves `NAME:///`,
//! declares the domain type `NAME` in its capabilities and describes an empty hypervisor. The
//! templates live in `xtask/templates/`; the list of the slots a skeleton leaves NULL is written
//! into it from the ABI's operation list, so it names every slot the author has left to fill.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use virtkit_abi::OPS;

use crate::{Result, root};

/// The slots both skeletons fill; every other slot is NULL.
pub(crate) const IMPLEMENTED: &[&str] = &[
    "open",
    "close",
    "get_type",
    "get_version",
    "get_capabilities",
    "list_domains",
    "num_of_domains",
    "list_defined_domains",
    "num_of_defined_domains",
    "domain_lookup_by_id",
    "domain_lookup_by_uuid",
    "domain_lookup_by_name",
];

const RUST: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
];
const C: &[(&str, &str)] = &[
    ("Makefile", include_str!("../templates/c/Makefile")),
    ("driver.c", include_str!("../templates/c/driver.c")),
];

/// Longest driver name accepted.
const NAME_MAX: usize = 31;

/// A driver name is also its URI scheme, its domain type and part of its file name: a
/// lower-case letter, then lower-case letters and digits.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid driver name {name:?}: it is the URI scheme, the domain type and part of the \
             file name, so it must be a lower-case letter, then up to {} lower-case letters or \
             digits (e.g. toyhv)",
            NAME_MAX - 1
        ))
    }
}

/// The NULL slots, one comment line each, with `prefix` before every line.
fn null_slots(prefix: &str) -> String {
    OPS.iter()
        .filter(|o| !IMPLEMENTED.contains(&o.field))
        .map(|o| {
            format!(
                "{prefix}{:<30} {:<32} since 1.{}",
                o.field, o.api, o.since_minor
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fill(template: &str, name: &str, virtkit: &str, c: bool) -> String {
    template
        .replace(
            "@NULL_SLOTS@",
            &null_slots(if c { " *   " } else { "/// " }),
        )
        .replace("@NAME_UPPER@", &name.to_ascii_uppercase())
        .replace("@NAME@", name)
        .replace("@VIRTKIT@", virtkit)
}

/// Writes the skeleton into `parent/virtkit-driver-NAME`, which must not exist yet. Returns the
/// new directory.
pub(crate) fn generate(name: &str, c: bool, parent: &Path) -> Result<PathBuf> {
    check_name(name)?;
    let checkout = root();
    let virtkit = checkout
        .to_str()
        .filter(|s| !s.contains(['"', '\\', '\n', '@']))
        .ok_or_else(|| {
            format!(
                "the checkout's path {} cannot be written into Cargo.toml and a Makefile \
                 (it is not UTF-8 or contains a quote, backslash, newline or '@')",
                checkout.display()
            )
        })?;
    let dest = parent.join(format!("virtkit-driver-{name}"));
    std::fs::create_dir(&dest).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists: new-driver never writes into an existing directory",
                dest.display()
            )
        } else {
            format!("cannot create {}: {e}", dest.display())
        }
    })?;
    for (file, template) in if c { C } else { RUST } {
        let path = dest.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        // create_new: never follow or replace anything that appeared meanwhile.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(fill(template, name, virtkit, c).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dest)
}

/// The command: `new-driver NAME [--c] [--dir PARENT]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask new-driver NAME [--c] [--dir PARENT]";
    let mut name = None;
    let mut c = false;
    let mut parent = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--c" => c = true,
            "--dir" => parent = Some(PathBuf::from(it.next().ok_or(usage)?)),
            s if s.starts_with('-') => return Err(format!("unknown option {s}; {usage}")),
            s if name.is_none() => name = Some(s.to_string()),
            _ => return Err(usage.into()),
        }
    }
    let name = name.ok_or(usage)?;
    let parent = match parent {
        Some(p) => p,
        None => std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?,
    };
    let dest = generate(&name, c, &parent)?;
    let (build, plugin) = if c {
        ("make", format!("build/libvirtkit_driver_{name}.so"))
    } else {
        (
            "cargo build",
            format!("target/debug/libvirtkit_driver_{name}.so"),
        )
    };
    eprintln!(
        "xtask: created {}\n  cd {} && {build}\n  virtkit-conformance {plugin}\n  \
         VIRTKIT_DRIVER_DIR=$(dirname {plugin}) virtkit -c {name}:/// list --all\n\
         Then see docs/driver-guide.md.",
        dest.display(),
        dest.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use virtkit_abi::Op;
    use virtkit_conformance::{Options, run as suite};
    use virtkit_loader::Registry;

    use super::*;

    /// A real C compiler is needed; without one the test says so (and fails in CI).
    fn cc() -> Option<String> {
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        match Command::new(&cc).arg("--version").output() {
            Ok(o) if o.status.success() => Some(cc),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{cc} is missing, and CI is set"
                );
                eprintln!("skipped: no C compiler ({cc}) to build the C skeleton");
                None
            }
        }
    }

    fn judge(plugin: &Path, name: &str) {
        let d = Registry::load_file(plugin).expect("the skeleton loads");
        let supported: Vec<&str> = Op::ALL
            .iter()
            .filter(|o| d.supports(**o))
            .map(|o| o.info().field)
            .collect();
        assert_eq!(
            supported, IMPLEMENTED,
            "the NULL-slot list must match the skeleton"
        );
        let r = suite(plugin, &Options::default());
        assert!(r.success(), "{}", r.to_text());
        assert_eq!(r.uri.as_deref(), Some(format!("{name}:///").as_str()));
    }

    #[test]
    fn names_that_cannot_be_schemes_are_refused_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            "",
            "Toy",
            "9x",
            "a-b",
            "a_b",
            "a.b",
            &"x".repeat(NAME_MAX + 1),
        ] {
            let e = generate(bad, true, dir.path()).unwrap_err();
            assert!(e.contains("invalid driver name"), "{bad}: {e}");
        }
        generate("twice", true, dir.path()).unwrap();
        let e = generate("twice", false, dir.path()).unwrap_err();
        assert!(e.contains("already exists"), "{e}");
        let text =
            std::fs::read_to_string(dir.path().join("virtkit-driver-twice/driver.c")).unwrap();
        assert!(!text.contains('@'), "a placeholder was left: {text}");
        assert!(
            text.contains("domain_define_xml"),
            "the NULL slots are listed"
        );
    }

    #[test]
    fn the_c_skeleton_builds_loads_and_passes_the_suite() {
        let Some(cc) = cc() else { return };
        let dir = tempfile::tempdir().unwrap();
        let project = generate("skelc", true, dir.path()).unwrap();
        let out = Command::new("make")
            .current_dir(&project)
            .env("CC", &cc)
            .output()
            .expect("make is needed to build the C skeleton");
        assert!(
            out.status.success(),
            "make failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        judge(&project.join("build/libvirtkit_driver_skelc.so"), "skelc");
    }

    #[test]
    fn the_rust_skeleton_builds_loads_and_passes_the_suite() {
        let dir = tempfile::tempdir().unwrap();
        let project = generate("skelrs", false, dir.path()).unwrap();
        // One target directory for every run, so the SDK is compiled once, not per run.
        let target = root().join("target/new-driver-skeleton");
        for action in ["build", "test"] {
            let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&project)
                .arg(action)
                .env("CARGO_TARGET_DIR", &target)
                .output()
                .expect("cargo runs");
            assert!(
                out.status.success(),
                "cargo {action} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Copy the plugin out: another run may rebuild the shared target directory.
        let plugin = dir.path().join("libvirtkit_driver_skelrs.so");
        std::fs::copy(target.join("debug/libvirtkit_driver_skelrs.so"), &plugin).unwrap();
        judge(&plugin, "skelrs");

        // Built for the oldest core: the SDK's target-abi-1-0 feature gives a 1.0 table...
        let manifest = project.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let sdk = format!(
            "virtkit-driver = {{ path = \"{}/crates/virtkit-driver\" }}",
            root().display()
        );
        assert!(text.contains(&sdk), "{text}");
        let old = text.replace(
            &sdk,
            &sdk.replace(" }", ", features = [\"target-abi-1-0\"] }"),
        );
        std::fs::write(&manifest, &old).unwrap();
        let build = |expect_ok: bool| {
            let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&project)
                .arg("build")
                .env("CARGO_TARGET_DIR", &target)
                .output()
                .expect("cargo runs");
            assert_eq!(
                out.status.success(),
                expect_ok,
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        build(true);
        let plugin_1_0 = dir.path().join("1.0/libvirtkit_driver_skelrs.so");
        std::fs::create_dir(plugin_1_0.parent().unwrap()).unwrap();
        std::fs::copy(
            target.join("debug/libvirtkit_driver_skelrs.so"),
            &plugin_1_0,
        )
        .unwrap();
        let d = Registry::load_file(&plugin_1_0).expect("the 1.0 skeleton loads");
        assert_eq!(d.abi_version(), (1, 0));
        let slots_1_0 = OPS.iter().filter(|o| o.since_minor == 0).count();
        assert_eq!(
            d.struct_size() as usize,
            virtkit_abi::VK_HEADER_SIZE + slots_1_0 * virtkit_abi::VK_SLOT_SIZE
        );
        assert!(suite(&plugin_1_0, &Options::default()).success());
        // ...and an operation of ABI 1.1 in it does not compile, naming the feature.
        let lib = project.join("src/lib.rs");
        let code = std::fs::read_to_string(&lib).unwrap().replace(
            "    ..Ops::NONE\n};",
            "    domain_is_persistent: Some(|_, _| Ok(true)),\n    ..Ops::NONE\n};",
        );
        std::fs::write(&lib, code).unwrap();
        let stderr = build(false);
        assert!(stderr.contains("target-abi-1-0"), "{stderr}");

        // panic = "abort" would let a driver's panic kill the host: the SDK refuses it.
        std::fs::write(
            &manifest,
            format!("{text}\n[profile.dev]\npanic = \"abort\"\n"),
        )
        .unwrap();
        let stderr = build(false);
        assert!(
            stderr.contains("virtkit drivers must be built with panic = \"unwind\""),
            "{stderr}"
        );
    }
}
