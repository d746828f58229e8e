//! What the tests of the workspace share, as a dev-dependency:
//!
//! * [`build_dir`]: the build directory (`target/<profile>`) with the driver plugins and the
//!   `virtkit` binary the tests load, built by the first call in each test process (`cargo build`
//!   of exactly those packages, a no-op when they are fresh). So plain `cargo test --workspace`
//!   works on a clean checkout, and no test ever loads a plugin older than its sources (`cargo
//!   test` alone does not build or relink `cdylib`s).
//! * [`registry`]: a registry over that directory only (no statically linked drivers), so a test
//!   of "the plugin" is one.
//! * [`require!`]: the real tool a test needs (a C compiler, virsh, QEMU, dnsmasq, ...). When it
//!   is missing the test prints `SKIPPED <test>: <why>` on the real stderr (the harness captures
//!   `eprintln!` of passing tests) and returns; when `CI` is set, or `VIRTKIT_REQUIRE_<TOOL>`
//!   asks for that tool, a missing tool fails the test instead. A tool the user named explicitly
//!   (`CC=/path`) that does not work always fails.
//! * `xen` (feature `xen`): what the Xen members' tests share — their peer servers started
//!   for one test, driver directories holding only some members, and libvirt's Xen corpus read
//!   from its `cases.tsv`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use virtkit_loader::Registry;

pub mod daemon;
#[cfg(feature = "pki")]
pub mod pki;
pub mod sshd;
#[cfg(feature = "xen")]
pub mod xen;

/// The packages whose artifacts tests load from the build directory, besides every in-tree
/// plugin crate (`plugins/*/plugin`).
const BUILT_PACKAGES: &[&str] = &["virtkit-fixture-faulty", "virtkit-cli", "virtkitd"];

/// The package names of the in-tree plugin crates (`plugins/*/plugin/Cargo.toml`).
fn plugin_packages(root: &Path) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        package: Package,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
    }
    let dir = root.join("plugins");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let manifest = e.path().join("plugin/Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let m: Manifest =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        out.push(m.package.name);
    }
    out.sort();
    Ok(out)
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// `target/<profile>` of the running test binary (which lives in `target/<profile>/deps`).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not in target/<profile>/deps", exe.display()))
}

/// `cargo build` of `packages` into the running test binary's target directory and profile.
fn build_packages<'a>(packages: impl IntoIterator<Item = &'a str>) -> Result<PathBuf, String> {
    let dir = profile_dir()?;
    let (Some(profile), Some(target_dir)) =
        (dir.file_name().and_then(|n| n.to_str()), dir.parent())
    else {
        return Err(format!("cannot tell the profile of {}", dir.display()));
    };
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut c = Command::new(&cargo);
    c.current_dir(workspace_root())
        .args(["build", "--quiet", "--profile", profile, "--target-dir"])
        .arg(target_dir);
    for p in packages {
        c.args(["-p", p]);
    }
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {c:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building what the tests load failed ({}): {c:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir)
}

fn build() -> Result<PathBuf, String> {
    let plugins = plugin_packages(&workspace_root())?;
    build_packages(
        plugins
            .iter()
            .map(String::as_str)
            .chain(BUILT_PACKAGES.iter().copied()),
    )
}

/// The build directory holding the driver plugins and the `virtkit` binary, built (once per
/// test process) from the current sources.
pub fn build_dir() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    }
}

/// A file of the build directory (`libvirtkit_driver_test.so`, `virtkit`, ...), which must exist.
pub fn built(file: &str) -> PathBuf {
    let p = build_dir().join(file);
    assert!(
        p.exists(),
        "{} is missing although the plugins and {BUILT_PACKAGES:?} were just built; is it one of theirs?",
        p.display()
    );
    p
}

/// The directory of the plugins, with `libvirtkit_driver_<name>.so` checked to be there.
pub fn plugin_dir(name: &str) -> &'static Path {
    built(&format!("libvirtkit_driver_{name}.so"));
    build_dir()
}

/// A registry over the build directory's plugins only (no driver linked into the test binary).
pub fn registry() -> Registry {
    Registry::with_dirs(vec![build_dir().to_path_buf()]).without_static()
}

/// Whether the tests run as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        .unwrap_or(false)
}

/// Prints a line on the real stderr, past the test harness's capture, so that it stays visible
/// for a passing (skipped) test.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The running test's name (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("this test")
        .to_string()
}

/// Whether a missing `VIRTKIT_REQUIRE_<env>` thing must fail rather than skip, and why.
fn required(env: &str, ci_too: bool) -> Option<String> {
    let var = format!("VIRTKIT_REQUIRE_{env}");
    if std::env::var_os(&var).is_some_and(|v| !v.is_empty() && v != "0") {
        return Some(format!("{var} is set"));
    }
    if ci_too && std::env::var_os("CI").is_some() {
        return Some("CI is set".into());
    }
    None
}

/// Why a tool cannot be used.
pub enum Missing {
    /// Not installed: a skip, unless it is required.
    NotInstalled(String),
    /// Named by the user (e.g. through `CC`) or installed, but it does not work: a failure.
    Broken(String),
}

/// An external tool a test needs.
pub struct Tool {
    /// What messages call it.
    pub name: &'static str,
    /// `<TOOL>` in `VIRTKIT_REQUIRE_<TOOL>`.
    pub env: &'static str,
    /// The Debian package `scripts/install-test-deps.sh` installs it from.
    pub package: &'static str,
    /// Finds it: the program to run.
    pub probe: fn() -> Result<PathBuf, Missing>,
}

/// Finds `program` in `PATH` (then `/usr/sbin` and `/sbin`, which a user's `PATH` may lack).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn in_path(program: &str) -> Result<PathBuf, Missing> {
    which(program).ok_or_else(|| Missing::NotInstalled(format!("`{program}` is not in PATH")))
}

/// A compiler named by `var` (or `default`), which must answer `--version`. A compiler the user
/// named that does not run is a failure, not a skip.
fn compiler(var: &str, default: &str) -> Result<PathBuf, Missing> {
    compiler_from(
        std::env::var_os(var).filter(|v| !v.is_empty()),
        var,
        default,
    )
}

fn compiler_from(
    named: Option<std::ffi::OsString>,
    var: &str,
    default: &str,
) -> Result<PathBuf, Missing> {
    let program = named.clone().unwrap_or_else(|| default.into());
    let shown = Path::new(&program).display().to_string();
    match Command::new(&program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(PathBuf::from(program)),
        Ok(s) => Err(Missing::Broken(format!("`{shown} --version` failed ({s})"))),
        Err(e) if named.is_some() => Err(Missing::Broken(format!("{var}={shown} cannot run: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Missing::NotInstalled(format!(
            "no `{shown}` ({e}); set {var} to use another"
        ))),
        Err(e) => Err(Missing::Broken(format!("`{shown}` cannot run: {e}"))),
    }
}

/// The C compiler: `$CC`, else `cc`.
pub const CC: Tool = Tool {
    name: "a C compiler",
    env: "CC",
    package: "gcc",
    probe: || compiler("CC", "cc"),
};
/// The C++ compiler: `$CXX`, else `c++`.
pub const CXX: Tool = Tool {
    name: "a C++ compiler",
    env: "CXX",
    package: "g++",
    probe: || compiler("CXX", "c++"),
};
/// libvirt 9.0's `virsh`, the peer the CLI and the XML model are compared with.
pub const VIRSH: Tool = Tool {
    name: "virsh",
    env: "VIRSH",
    package: "libvirt-clients",
    probe: || in_path("virsh"),
};
/// libvirt 9.0's daemon, the peer virtkitd is compared with.
pub const LIBVIRTD: Tool = Tool {
    name: "libvirtd",
    env: "LIBVIRTD",
    package: "libvirt-daemon",
    probe: || in_path("libvirtd"),
};
/// QEMU for x86_64 guests.
pub const QEMU: Tool = Tool {
    name: "QEMU",
    env: "QEMU",
    package: "qemu-system-x86 (bookworm-backports)",
    probe: || in_path("qemu-system-x86_64"),
};
/// qemu-img, which makes disk images in the formats QEMU opens.
pub const QEMU_IMG: Tool = Tool {
    name: "qemu-img",
    env: "QEMU_IMG",
    package: "qemu-utils",
    probe: || in_path("qemu-img"),
};
/// dnsmasq, which serves DHCP and DNS on NAT networks.
pub const DNSMASQ: Tool = Tool {
    name: "dnsmasq",
    env: "DNSMASQ",
    package: "dnsmasq-base",
    probe: || in_path("dnsmasq"),
};
/// iptables, for the NAT rules of networks.
pub const IPTABLES: Tool = Tool {
    name: "iptables",
    env: "IPTABLES",
    package: "iptables",
    probe: || in_path("iptables"),
};
/// busybox, whose `udhcpc` is the DHCP client of the network tests.
pub const BUSYBOX: Tool = Tool {
    name: "busybox",
    env: "BUSYBOX",
    package: "busybox",
    probe: || in_path("busybox"),
};
/// The real xenstore clients (`xenstore-read`, ...).
pub const XENSTORE: Tool = Tool {
    name: "the xenstore clients",
    env: "XENSTORE",
    package: "xenstore-utils",
    probe: || in_path("xenstore-read"),
};
/// `/usr/bin/python3` with libvirt's Python bindings.
pub const PYTHON3_LIBVIRT: Tool = Tool {
    name: "python3-libvirt",
    env: "PYTHON3_LIBVIRT",
    package: "python3-libvirt",
    probe: || {
        let python = Path::new("/usr/bin/python3");
        match Command::new(python)
            .args(["-c", "import libvirt"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => Ok(python.to_path_buf()),
            Ok(_) => Err(Missing::NotInstalled(
                "/usr/bin/python3 cannot import libvirt".into(),
            )),
            Err(e) => Err(Missing::NotInstalled(format!("/usr/bin/python3: {e}"))),
        }
    },
};
/// OpenSSH's server, which the ssh transport's tests start on a loopback port.
pub const SSHD: Tool = Tool {
    name: "sshd",
    env: "SSHD",
    package: "openssh-server",
    probe: || in_path("sshd"),
};
/// OpenSSH's client and `ssh-keygen`.
pub const SSH: Tool = Tool {
    name: "ssh",
    env: "SSH",
    package: "openssh-client",
    probe: || in_path("ssh").and_then(|p| in_path("ssh-keygen").map(|_| p)),
};
/// netcat with unix sockets (`nc -U`), libvirt's remote-side relay over ssh.
pub const NC: Tool = Tool {
    name: "nc",
    env: "NC",
    package: "netcat-openbsd",
    probe: || in_path("nc"),
};
/// libvirt's `virt-ssh-helper`, its remote-side relay over ssh since libvirt 7.
pub const VIRT_SSH_HELPER: Tool = Tool {
    name: "virt-ssh-helper",
    env: "VIRT_SSH_HELPER",
    package: "libvirt-daemon",
    probe: || in_path("virt-ssh-helper"),
};
/// virt-manager, the graphical libvirt client run against virtkitd.
pub const VIRT_MANAGER: Tool = Tool {
    name: "virt-manager",
    env: "VIRT_MANAGER",
    package: "virt-manager",
    probe: || in_path("virt-manager"),
};
/// `xvfb-run`, which gives a graphical client a virtual X server.
pub const XVFB_RUN: Tool = Tool {
    name: "xvfb-run",
    env: "XVFB_RUN",
    package: "xvfb",
    probe: || in_path("xvfb-run"),
};
/// bash.
pub const BASH: Tool = Tool {
    name: "bash",
    env: "BASH",
    package: "bash",
    probe: || in_path("bash"),
};
/// fish.
pub const FISH: Tool = Tool {
    name: "fish",
    env: "FISH",
    package: "fish",
    probe: || in_path("fish"),
};
/// zsh.
pub const ZSH: Tool = Tool {
    name: "zsh",
    env: "ZSH",
    package: "zsh",
    probe: || in_path("zsh"),
};

/// The program of `tool`, or `None` after printing why the current test is skipped. Panics
/// (fails the test) when the tool is broken, or missing while `CI` or `VIRTKIT_REQUIRE_<TOOL>`
/// is set. Tests use it through [`require!`].
#[track_caller]
pub fn find(tool: &Tool) -> Option<PathBuf> {
    let test = test_name();
    match verdict(tool, (tool.probe)(), required(tool.env, true)) {
        Ok(Some(p)) => Some(p),
        Ok(None) => {
            report(&format!(
                "SKIPPED {test}: {} is missing ({}); scripts/install-test-deps.sh installs {} \
                 (CI or VIRTKIT_REQUIRE_{}=1 make this a failure)",
                tool.name,
                skip_reason(tool),
                tool.package,
                tool.env
            ));
            None
        }
        Err(failure) => panic!("{test}: {failure}"),
    }
}

/// Why `tool` is missing, for the skip line (probed again: only reached on a skip).
fn skip_reason(tool: &Tool) -> String {
    match (tool.probe)() {
        Err(Missing::NotInstalled(why) | Missing::Broken(why)) => why,
        Ok(_) => "it appeared meanwhile".into(),
    }
}

/// What a probe's answer means for the test: the program, a skip (`None`), or a failure.
fn verdict(
    tool: &Tool,
    probed: Result<PathBuf, Missing>,
    required: Option<String>,
) -> Result<Option<PathBuf>, String> {
    match probed {
        Ok(p) => Ok(Some(p)),
        Err(Missing::Broken(why)) => Err(format!("{} does not work: {why}", tool.name)),
        Err(Missing::NotInstalled(why)) => match required {
            Some(reason) => Err(format!(
                "{} is required ({reason}) but missing: {why}; scripts/install-test-deps.sh installs {}",
                tool.name, tool.package
            )),
            None => Ok(None),
        },
    }
}

/// Skips the current test for a reason of this host (no root, no bridges allowed, no headers
/// installed), printing it on the real stderr; fails instead when `CI` or `VIRTKIT_REQUIRE_<what>`
/// is set: CI runs as root on a host that allows all of it, so a skip there would hide a test
/// that never ran.
#[track_caller]
pub fn skip_host(what: &str, why: &str) {
    let test = test_name();
    if let Some(reason) = required(what, true) {
        panic!("{test}: cannot run ({reason}): {why}");
    }
    report(&format!("SKIPPED {test}: {why}"));
}

/// The program of a tool the test needs (see [`Tool`] and the constants of this crate), or a
/// `return` from the test after saying why it is skipped. Fails the test instead when `CI` or
/// `VIRTKIT_REQUIRE_<TOOL>` is set, or when the tool is there but broken.
///
/// ```no_run
/// # fn t() {
/// let cc = virtkit_test_support::require!(virtkit_test_support::CC);
/// # }
/// ```
#[macro_export]
macro_rules! require {
    ($tool:expr) => {
        match $crate::find(&$tool) {
            Some(program) => program,
            None => return,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiler_named_explicitly_that_does_not_run_fails_and_a_missing_default_skips() {
        let named = compiler_from(Some("/nonexistent/virtkit-cc".into()), "CC", "cc");
        assert!(matches!(named, Err(Missing::Broken(m)) if m.contains("CC=/nonexistent")));
        let default = compiler_from(None, "CC", "/nonexistent/virtkit-cc");
        assert!(matches!(default, Err(Missing::NotInstalled(_))));
    }

    #[test]
    fn a_missing_tool_skips_unless_required_and_a_broken_one_always_fails() {
        let gone = || Err(Missing::NotInstalled("not in PATH".into()));
        assert!(matches!(verdict(&QEMU, gone(), None), Ok(None)));
        let e = verdict(&QEMU, gone(), Some("CI is set".into())).unwrap_err();
        assert!(e.contains("QEMU is required (CI is set)"), "{e}");
        let broken = Err(Missing::Broken("CC=/x cannot run".into()));
        assert!(verdict(&CC, broken, None).is_err());
        let found = verdict(&CC, Ok(PathBuf::from("/usr/bin/cc")), None);
        assert_eq!(found, Ok(Some(PathBuf::from("/usr/bin/cc"))));
    }

    #[test]
    fn a_test_is_named_after_its_thread() {
        assert!(
            test_name().ends_with("a_test_is_named_after_its_thread"),
            "{}",
            test_name()
        );
    }

    #[test]
    fn the_build_dir_holds_the_plugins() {
        let packages = plugin_packages(&workspace_root()).unwrap();
        assert!(
            packages.contains(&"virtkit-driver-test".to_string()),
            "{packages:?}"
        );
        for name in ["test", "qemu"] {
            assert!(
                plugin_dir(name)
                    .join(format!("libvirtkit_driver_{name}.so"))
                    .is_file()
            );
        }
        assert!(built("virtkit").is_file());
    }
}
