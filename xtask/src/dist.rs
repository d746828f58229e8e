//! `cargo xtask dist [--out DIR]`: release binaries, a staged install tree per package, and
//! Debian packages built with `dpkg-deb`: the core, the daemon (`virtkitd`), one package per
//! driver plugin, the Xen meta-package, -dev, the conformance suite, and their -dbgsym.
//!
//! Why `dpkg-deb` and not cargo-deb: the split is one core package, one package per driver
//! plugin (each depending on the core version that first loads the ABI minor the plugin was
//! built for, read from the plugin's own table), a Xen meta-package, a -dev package with the C
//! header, and a `-dbgsym` package per binary package. cargo-deb builds one package per Cargo
//! crate from its metadata; it does not compute dependencies from a plugin's ABI, and would need a
//! hand-kept manifest per package. Staging the trees here and calling `dpkg-deb` keeps every
//! rule in one file.
//!
//! Shipped ELF files are stripped; their debug information goes to
//! `/usr/lib/debug/.build-id/xx/yyyy.debug` in the `-dbgsym` package, as Debian's own tooling
//! lays it out, with a `.gnu_debuglink` in the stripped file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, cargo, profile_dir, root, run};

/// Debian's name for what virtkit is built for.
pub(crate) fn architecture() -> Result<String> {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .map_err(|e| format!("cannot run dpkg (is this a Debian system?): {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The workspace version, as a Debian version with revision 1.
pub(crate) fn deb_version() -> String {
    format!("{}-1", env!("CARGO_PKG_VERSION"))
}

const MAINTAINER: &str = "virtkit developers <virtkit-devel@lists.example.invalid>";

/// One binary package being staged.
pub(crate) struct Package {
    name: String,
    section: &'static str,
    summary: String,
    description: String,
    depends: Vec<String>,
    /// Staging root (the future `/`).
    root: PathBuf,
    /// ELF files shipped (paths inside `root`), stripped before packaging.
    elf: Vec<PathBuf>,
    /// Extra control fields.
    extra: Vec<(String, String)>,
}

impl Package {
    fn new(
        stage: &Path,
        name: &str,
        section: &'static str,
        summary: &str,
        description: &str,
    ) -> Package {
        Package {
            name: name.to_string(),
            section,
            summary: summary.to_string(),
            description: description.to_string(),
            depends: Vec::new(),
            root: stage.join(name),
            elf: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Installs `src` at `dest` (absolute inside the package) with `mode`.
    fn install(&mut self, src: &Path, dest: &str, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let to = self.root.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap())
            .map_err(|e| format!("{}: {e}", to.display()))?;
        std::fs::copy(src, &to)
            .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), to.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn install_elf(&mut self, src: &Path, dest: &str, mode: u32) -> Result<()> {
        self.install(src, dest, mode)?;
        self.elf.push(PathBuf::from(dest.trim_start_matches('/')));
        Ok(())
    }

    fn write(&mut self, dest: &str, content: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let to = self.root.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap())
            .map_err(|e| format!("{}: {e}", to.display()))?;
        std::fs::write(&to, content).map_err(|e| format!("{}: {e}", to.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn mkdir(&mut self, dest: &str) -> Result<()> {
        let to = self.root.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))
    }

    /// A `-dbgsym` package's documentation directory: a link to its package's, as Debian's own
    /// debug packages have it.
    fn link_doc_dir(&mut self, to: &str) -> Result<()> {
        let dir = self.root.join("usr/share/doc");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::os::unix::fs::symlink(to, dir.join(&self.name)).map_err(|e| e.to_string())
    }

    /// The copyright file and changelog every package carries.
    fn add_doc_files(&mut self) -> Result<()> {
        let name = self.name.clone();
        self.write(
            &format!("/usr/share/doc/{name}/copyright"),
            copyright().as_bytes(),
            0o644,
        )?;
        let changelog = format!(
            "virtkit ({}) unstable; urgency=medium\n\n  * Built by cargo xtask dist from the virtkit workspace.\n\n -- {MAINTAINER}  Fri, 04 Dec 2026 00:00:00 +0000\n",
            deb_version()
        );
        let gz = gzip(changelog.as_bytes())?;
        self.write(
            &format!("/usr/share/doc/{name}/changelog.Debian.gz"),
            &gz,
            0o644,
        )
    }
}

fn copyright() -> String {
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
     Upstream-Name: virtkit\n\
     Source: the virtkit workspace\n\
     \n\
     Files: *\n\
     Copyright: 2026 the virtkit developers\n\
     License: LGPL-2.1+\n\
     \x20This library is free software; you can redistribute it and/or modify it under the terms\n\
     \x20of the GNU Lesser General Public License as published by the Free Software Foundation;\n\
     \x20either version 2.1 of the License, or (at your option) any later version.\n\
     \x20.\n\
     \x20On Debian systems, the complete text of the GNU Lesser General Public License version\n\
     \x202.1 can be found in \"/usr/share/common-licenses/LGPL-2.1\".\n"
        .to_string()
}

/// gzip -9n of `data` (no name, no time stamp: reproducible).
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("gzip failed".into());
    }
    Ok(out.stdout)
}

fn output_of(c: &mut Command) -> Result<String> {
    let out = c
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            c,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The GNU build id of an ELF file.
fn build_id(file: &Path) -> Result<String> {
    let notes = output_of(Command::new("readelf").arg("-n").arg(file))?;
    notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .ok_or_else(|| format!("{} has no build id", file.display()))
}

/// `libc6 (>= X)` for the newest glibc symbol version `files` use, as dpkg-shlibdeps derives it.
fn libc_dependency(files: &[PathBuf]) -> Result<Option<String>> {
    let mut newest: Option<Vec<u32>> = None;
    for f in files {
        let syms = output_of(Command::new("objdump").arg("-T").arg(f))?;
        for word in syms.split_whitespace() {
            let Some(v) = word
                .trim_matches(|c| c == '(' || c == ')')
                .strip_prefix("GLIBC_")
            else {
                continue;
            };
            let Ok(parts) = v
                .split('.')
                .map(str::parse)
                .collect::<std::result::Result<Vec<u32>, _>>()
            else {
                continue;
            };
            if newest.as_ref().is_none_or(|n| parts > *n) {
                newest = Some(parts);
            }
        }
    }
    Ok(newest.map(|v| {
        let text: Vec<String> = v.iter().map(u32::to_string).collect();
        format!("libc6 (>= {})", text.join("."))
    }))
}

/// Strips the package's ELF files; their debug information goes into a `-dbgsym` package.
fn split_debug(pkg: &mut Package, stage: &Path) -> Result<Option<Package>> {
    if pkg.elf.is_empty() {
        return Ok(None);
    }
    let mut dbg = Package::new(
        stage,
        &format!("{}-dbgsym", pkg.name),
        "debug",
        &format!("debug symbols for {}", pkg.name),
        &format!(
            "The debug information stripped from the files of {}, under /usr/lib/debug/.build-id/, \
             where gdb and other debuggers find it by the files' build ids.",
            pkg.name
        ),
    );
    dbg.depends
        .push(format!("{} (= {})", pkg.name, deb_version()));
    dbg.extra
        .push(("Auto-Built-Package".into(), "debug-symbols".into()));
    let mut ids = Vec::new();
    for rel in pkg.elf.clone() {
        let file = pkg.root.join(&rel);
        let id = build_id(&file)?;
        let dest = dbg.root.join(format!(
            "usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        ));
        std::fs::create_dir_all(dest.parent().unwrap()).map_err(|e| e.to_string())?;
        run_quiet(
            Command::new("objcopy")
                .arg("--only-keep-debug")
                .arg("--compress-debug-sections")
                .arg(&file)
                .arg(&dest),
        )?;
        run_quiet(Command::new("chmod").arg("0644").arg(&dest))?;
        run_quiet(
            Command::new("strip")
                .args(["--strip-unneeded", "--remove-section=.comment"])
                .arg(&file),
        )?;
        run_quiet(
            Command::new("objcopy")
                .arg(format!("--add-gnu-debuglink={}", dest.display()))
                .arg(&file),
        )?;
        ids.push(id);
    }
    dbg.extra.push(("Build-Ids".into(), ids.join(" ")));
    let main = pkg.name.clone();
    dbg.link_doc_dir(&main)?;
    Ok(Some(dbg))
}

fn run_quiet(c: &mut Command) -> Result<()> {
    output_of(c).map(|_| ())
}

/// Installed-Size (KiB) of a staged tree.
fn installed_size(dir: &Path) -> Result<u64> {
    let out = output_of(
        Command::new("du")
            .args(["-sk", "--apparent-size", "--exclude=DEBIAN"])
            .arg(dir),
    )?;
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("du gave no size for {}", dir.display()))
}

/// Every regular file under `dir` (not DEBIAN/), relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                if p != base.join("DEBIAN") {
                    walk(base, &p, out);
                }
            } else if ft.is_file() {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Writes DEBIAN/control and DEBIAN/md5sums and builds the .deb into `out`.
fn build_deb(pkg: &Package, arch: &str, out: &Path) -> Result<PathBuf> {
    let debian = pkg.root.join("DEBIAN");
    std::fs::create_dir_all(&debian).map_err(|e| e.to_string())?;
    // Every file under /etc is a conffile (as debhelper marks them): dpkg keeps a user's
    // changes on upgrade and asks before replacing them. dpkg keeps their sums itself.
    let files = files_under(&pkg.root);
    let conffiles: Vec<&PathBuf> = files.iter().filter(|f| f.starts_with("etc")).collect();
    if !conffiles.is_empty() {
        let list: String = conffiles
            .iter()
            .map(|f| format!("/{}\n", f.display()))
            .collect();
        std::fs::write(debian.join("conffiles"), list).map_err(|e| e.to_string())?;
    }
    let mut md5 = String::new();
    for f in files.iter().filter(|f| !f.starts_with("etc")) {
        let sum = output_of(Command::new("md5sum").arg(pkg.root.join(f)))?;
        let hash = sum.split_whitespace().next().unwrap_or_default();
        md5.push_str(&format!("{hash}  {}\n", f.display()));
    }
    let pkg_arch = if pkg.elf.is_empty() && pkg.section != "debug" {
        "all"
    } else {
        arch
    };
    let mut control = format!(
        "Package: {}\nSource: virtkit\nVersion: {}\nArchitecture: {pkg_arch}\nMaintainer: {MAINTAINER}\n\
         Installed-Size: {}\n",
        pkg.name,
        deb_version(),
        installed_size(&pkg.root)?
    );
    if !pkg.depends.is_empty() {
        control.push_str(&format!("Depends: {}\n", pkg.depends.join(", ")));
    }
    control.push_str(&format!("Section: {}\nPriority: optional\n", pkg.section));
    for (k, v) in &pkg.extra {
        control.push_str(&format!("{k}: {v}\n"));
    }
    control.push_str(&format!("Description: {}\n", pkg.summary));
    for line in wrap(&pkg.description, 72) {
        control.push_str(&format!(" {line}\n"));
    }
    std::fs::write(debian.join("control"), control).map_err(|e| e.to_string())?;
    if !md5.is_empty() {
        std::fs::write(debian.join("md5sums"), md5).map_err(|e| e.to_string())?;
    }
    // Directories 0755, as dpkg-deb expects.
    run_quiet(
        Command::new("find")
            .arg(&pkg.root)
            .args(["-type", "d", "-exec", "chmod", "0755", "{}", "+"]),
    )?;
    let file = out.join(format!("{}_{}_{pkg_arch}.deb", pkg.name, deb_version()));
    run_quiet(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&pkg.root)
            .arg(&file),
    )?;
    eprintln!("xtask: built {}", file.display());
    Ok(file)
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// What a plugin's own table declares: (driver name, ABI major, ABI minor), read by loading it
/// with the release `virtkit` binary from a directory holding only that plugin.
pub(crate) fn plugin_abi(virtkit: &Path, plugin: &Path) -> Result<(String, u16, u16)> {
    let dir = tempdir()?;
    let name = plugin.file_name().ok_or("plugin without a file name")?;
    std::fs::copy(plugin, dir.join(name)).map_err(|e| e.to_string())?;
    let text = output_of(
        Command::new(virtkit)
            .env("VIRTKIT_DRIVER_DIR", &dir)
            .args(["-q", "drivers"]),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let text = text?;
    let dir_text = dir.display().to_string();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() >= 6 && cols[5].starts_with(&dir_text) {
            let (major, minor) = cols[2].split_once('.').ok_or("bad ABI column")?;
            return Ok((
                cols[0].to_string(),
                major.parse().map_err(|_| "bad ABI major")?,
                minor.parse().map_err(|_| "bad ABI minor")?,
            ));
        }
    }
    Err(format!(
        "virtkit did not load {}:\n{text}",
        plugin.display()
    ))
}

/// A fresh private directory under the system temp dir.
pub(crate) fn tempdir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for n in 0..1000u32 {
        let p = std::env::temp_dir().join(format!("virtkit-dist-{}-{n}", std::process::id()));
        if std::fs::DirBuilder::new().mode(0o700).create(&p).is_ok() {
            return Ok(p);
        }
    }
    Err("cannot create a temporary directory".into())
}

/// The package of a driver plugin built for `abi_minor`: the plugin and the dependency on the
/// first core that loads that minor.
pub(crate) fn driver_package(
    stage: &Path,
    virtkit: &Path,
    plugin: &Path,
    package_name: Option<&str>,
) -> Result<(Package, String)> {
    let (driver, major, minor) = plugin_abi(virtkit, plugin)?;
    if major != virtkit_abi::VK_ABI_MAJOR {
        return Err(format!(
            "{} is built for ABI {major}.{minor}; this core speaks ABI {}.x",
            plugin.display(),
            virtkit_abi::VK_ABI_MAJOR
        ));
    }
    let core = virtkit_abi::releases::CORE_VERSION_FOR_MINOR
        .get(usize::from(minor))
        .ok_or_else(|| {
            format!(
                "{}: ABI minor {minor} is newer than this core",
                plugin.display()
            )
        })?;
    let file = plugin.file_name().unwrap().to_string_lossy().into_owned();
    let member = file
        .strip_prefix("libvirtkit_driver_")
        .and_then(|f| f.strip_suffix(".so"))
        .ok_or_else(|| format!("{file} is not named libvirtkit_driver_<name>.so"))?
        .replace('_', "-");
    let name = package_name
        .map(str::to_string)
        .unwrap_or(format!("virtkit-driver-{member}"));
    let mut pkg = Package::new(
        stage,
        &name,
        "admin",
        &format!("virtkit driver plugin: {driver}"),
        &format!(
            "The '{driver}' hypervisor driver for virtkit, loaded by the virtkit core from \
             /usr/lib/virtkit/drivers when a connection URI names it. Built for driver ABI \
             {major}.{minor}, so it needs a core that loads that ABI (virtkit {core} or newer)."
        ),
    );
    pkg.install_elf(plugin, &format!("/usr/lib/virtkit/drivers/{file}"), 0o644)?;
    pkg.depends.push(format!("virtkit (>= {core})"));
    Ok((pkg, member))
}

/// Builds every package into `out`; returns the .deb files.
pub(crate) fn dist(out: &Path) -> Result<Vec<PathBuf>> {
    let mut c = cargo();
    c.args(["build", "--release", "--workspace"]);
    run(c)?;
    let rel = profile_dir(true);
    let arch = architecture()?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let stage = out.join("stage");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).map_err(|e| e.to_string())?;
    let virtkit = rel.join("virtkit");
    let docs = root().join("docs");

    let mut packages = Vec::new();

    // The core: the CLI with the test driver linked in, the man page, completions, and the
    // driver directory the CLI searches (<exe>/../lib/virtkit/drivers).
    let mut core = Package::new(
        &stage,
        "virtkit",
        "admin",
        "virtualization management core and virsh-compatible shell",
        "virtkit manages the domains (virtual machines) and networks of one node through one \
         stable API, whatever hypervisor runs them, with virsh's commands and output. This \
         package holds the core and the virtkit command with the built-in test driver; each \
         hypervisor driver is a package of its own (virtkit-driver-*), loaded from \
         /usr/lib/virtkit/drivers.",
    );
    core.install_elf(&virtkit, "/usr/bin/virtkit", 0o755)?;
    let man = std::fs::read(docs.join("virtkit.1")).map_err(|e| e.to_string())?;
    core.write("/usr/share/man/man1/virtkit.1.gz", &gzip(&man)?, 0o644)?;
    core.install(
        &docs.join("completions/virtkit.bash"),
        "/usr/share/bash-completion/completions/virtkit",
        0o644,
    )?;
    core.install(
        &docs.join("completions/_virtkit"),
        "/usr/share/zsh/vendor-completions/_virtkit",
        0o644,
    )?;
    core.install(
        &docs.join("completions/virtkit.fish"),
        "/usr/share/fish/vendor_completions.d/virtkit.fish",
        0o644,
    )?;
    core.mkdir("/usr/lib/virtkit/drivers")?;
    packages.push(core);

    // The daemon: libvirt's RPC protocol for libvirt's own clients (docs/remote.md), with its
    // systemd units (the service and its two sockets) and its configuration (a conffile). It carries its own copy of the core's
    // loader and opens the drivers installed in /usr/lib/virtkit/drivers (<exe>/../lib/...),
    // so it depends on the core of the same build: both load the same drivers the same way.
    let mut daemon = Package::new(
        &stage,
        "virtkitd",
        "admin",
        "virtkit daemon for libvirt's clients (libvirt RPC protocol)",
        "virtkitd serves the virtkit API over libvirt's own RPC protocol on a unix socket and \
         its read-only twin, so virsh, libvirt-python and other programs built on libvirt's \
         client library manage a virtkit node unchanged \
         (test+unix:///default?socket=/run/virtkit/virtkit-sock). Each connection opens its URI \
         through the virtkit core and the installed driver packages. The package holds the \
         daemon, its systemd units (the service, and the two sockets for socket activation) and its configuration file /etc/virtkit/virtkitd.conf.",
    );
    daemon.install_elf(&rel.join("virtkitd"), "/usr/sbin/virtkitd", 0o755)?;
    for unit in ["virtkitd.service", "virtkitd.socket", "virtkitd-ro.socket"] {
        daemon.install(
            &docs.join("systemd").join(unit),
            &format!("/lib/systemd/system/{unit}"),
            0o644,
        )?;
    }
    daemon.install(
        &docs.join("systemd/virtkitd.conf"),
        "/etc/virtkit/virtkitd.conf",
        0o644,
    )?;
    daemon.install(
        &docs.join("remote.md"),
        "/usr/share/doc/virtkitd/remote.md",
        0o644,
    )?;
    daemon
        .depends
        .push(format!("virtkit (= {})", deb_version()));
    packages.push(daemon);

    // One package per driver plugin.
    let mut plugins: Vec<PathBuf> = std::fs::read_dir(&rel)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libvirtkit_driver_") && n.ends_with(".so"))
        })
        .collect();
    plugins.sort();
    let mut xen_members = Vec::new();
    for p in &plugins {
        let (pkg, member) = driver_package(&stage, &virtkit, p, None)?;
        if member.starts_with("xen-") {
            xen_members.push(pkg.name.clone());
        }
        packages.push(pkg);
    }
    if !xen_members.is_empty() {
        let mut meta = Package::new(
            &stage,
            "virtkit-driver-xen",
            "metapackages",
            "virtkit drivers for Xen (all members of the stack)",
            &format!(
                "Installs every member of virtkit's Xen driver stack that exists: {}. The \
                 members are separate plugins and may also be installed one by one.",
                xen_members.join(", ")
            ),
        );
        meta.depends = xen_members;
        packages.push(meta);
    }

    // For driver authors: the C header, the guide, the C example.
    let mut dev = Package::new(
        &stage,
        "virtkit-dev",
        "libdevel",
        "virtkit driver ABI: C header, driver guide and example",
        "What a third party needs to build a virtkit driver plugin outside the virtkit tree: \
         the C headers <virtkit/driver.h> (the versioned, append-only driver table) and \
         <virtkit/host.h> (the core's host services), the pkg-config file virtkit-driver.pc, the \
         driver guide, and an example driver in C.",
    );
    let include = root().join("abi/include/virtkit");
    for f in files_under(&include) {
        dev.install(
            &include.join(&f),
            &format!("/usr/include/virtkit/{}", f.display()),
            0o644,
        )?;
    }
    // `pkg-config --cflags virtkit-driver` (the headers are architecture-independent).
    dev.write(
        "/usr/share/pkgconfig/virtkit-driver.pc",
        crate::sdk::pc_file("/usr").as_bytes(),
        0o644,
    )?;
    dev.install(
        &docs.join("driver-guide.md"),
        "/usr/share/doc/virtkit-dev/driver-guide.md",
        0o644,
    )?;
    let example = root().join("examples/out-of-tree-c");
    for f in ["Makefile", "README.md", "toy.c"] {
        dev.install(
            &example.join(f),
            &format!("/usr/share/doc/virtkit-dev/examples/out-of-tree-c/{f}"),
            0o644,
        )?;
    }
    packages.push(dev);

    // The conformance suite, for testing drivers against an installed core.
    let mut suite = Package::new(
        &stage,
        "virtkit-conformance",
        "devel",
        "virtkit driver conformance suite",
        "virtkit-conformance loads a driver plugin file and checks that it behaves as a virtkit \
         driver must: its table, read-only refusals, unsupported operations, lifecycle, \
         networks and robustness. Every in-tree driver passes it; third-party driver authors \
         run it on their own plugin.",
    );
    suite.install_elf(
        &rel.join("virtkit-conformance"),
        "/usr/bin/virtkit-conformance",
        0o755,
    )?;
    let man = std::fs::read(docs.join("virtkit-conformance.1")).map_err(|e| e.to_string())?;
    suite.write(
        "/usr/share/man/man1/virtkit-conformance.1.gz",
        &gzip(&man)?,
        0o644,
    )?;
    packages.push(suite);

    let mut debs = Vec::new();
    for pkg in packages {
        debs.extend(finalize(pkg, &stage, &arch, out)?);
    }
    Ok(debs)
}

/// Completes a staged package: the libc dependency its ELF files need, the split of their debug
/// information into `NAME-dbgsym`, the documentation files, then both .deb files in `out` (the
/// package's own first).
pub(crate) fn finalize(
    mut pkg: Package,
    stage: &Path,
    arch: &str,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let elf: Vec<PathBuf> = pkg.elf.iter().map(|f| pkg.root.join(f)).collect();
    if let Some(libc) = libc_dependency(&elf)? {
        pkg.depends.insert(0, libc);
    }
    let dbg = split_debug(&mut pkg, stage)?;
    pkg.add_doc_files()?;
    let mut debs = vec![build_deb(&pkg, arch, out)?];
    if let Some(d) = dbg {
        debs.push(build_deb(&d, arch, out)?);
    }
    Ok(debs)
}
