//! `cargo xtask packaging-check`: the Debian packages of `cargo xtask dist`, installed with the
//! real `dpkg` into a throwaway root, used as a packager's user would use them.
//!
//! What it proves (each step fails the run when it does not hold):
//! 1. lintian reports no error on any package.
//! 2. A driver package refuses to install without the core (its `Depends`).
//! 3. Core + one driver (qemu): the installed `virtkit` runs that driver's URI (a sandboxed
//!    session root), another driver's URI fails naming the package to install, and `virtkit
//!    drivers` lists exactly what is installed, from the installed directory.
//! 4. Partial upgrade: a driver built against the frozen ABI 1.0 header, packaged with the
//!    dependency computed from its table, installs beside the newer core, serves its URI and
//!    passes the installed conformance suite. A driver built for a newer ABI major is refused
//!    with a message naming both versions.
//!    The daemon package (`virtkitd`) also refuses to install without the core; beside core +
//!    qemu (with the remote driver's package) it installs its unit and its conffile, and the
//!    installed daemon, started with the installed config, serves the installed qemu driver to
//!    the installed `virtkit` through `qemu+unix:///session?socket=…`.
//! 5. Removing the driver package leaves the core working.
//! 6. Figures for docs/packaging.md: installed size of core + one driver against everything,
//!    and the peak RSS of `list` with one driver installed against all.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dist::{self, tempdir};
use crate::{Result, root};

/// A command's output, or an error with everything it printed.
fn output(c: &mut Command) -> Result<std::process::Output> {
    c.output()
        .map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One proof step: prints `what` when it holds; fails with `what` and `detail` when not.
fn check(cond: bool, what: impl Into<String>, detail: impl Into<String>) -> Result<()> {
    let what = what.into();
    if cond {
        eprintln!("xtask: packaging: ok: {what}");
        Ok(())
    } else {
        Err(format!("packaging: not so: {what}\n{}", detail.into()))
    }
}

/// A dpkg database in `root` that knows the host's libc6 (the installed binaries run on the
/// host's C library), and nothing else.
fn make_root(root: &Path) -> Result<()> {
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
    }
    let host = std::fs::read_to_string("/var/lib/dpkg/status").map_err(|e| e.to_string())?;
    let libc: String = host
        .split("\n\n")
        .filter(|stanza| {
            stanza
                .lines()
                .any(|l| l == "Package: libc6" || l == "Package: libgcc-s1")
        })
        .map(|s| format!("{}\n\n", s.trim_end()))
        .collect();
    std::fs::write(root.join("var/lib/dpkg/status"), libc).map_err(|e| e.to_string())?;
    std::fs::write(root.join("var/lib/dpkg/available"), "").map_err(|e| e.to_string())?;
    Ok(())
}

fn dpkg(root: &Path, args: &[&str]) -> Result<std::process::Output> {
    let mut c = Command::new("dpkg");
    c.arg(format!("--root={}", root.display()))
        .arg("--log=/dev/null")
        .args(args);
    output(&mut c)
}

fn deb<'a>(debs: &'a [PathBuf], package: &str) -> Result<&'a Path> {
    debs.iter()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")))
        })
        .map(PathBuf::as_path)
        .ok_or_else(|| format!("no package {package} was built"))
}

/// The installed virtkit, run with nothing from the build tree in its environment.
fn installed(root: &Path, args: &[&str]) -> Result<std::process::Output> {
    let mut c = Command::new(root.join("usr/bin/virtkit"));
    for v in [
        "VIRTKIT_DRIVER_DIR",
        "VIRTKIT_DEFAULT_URI",
        "LIBVIRT_DEFAULT_URI",
    ] {
        c.env_remove(v);
    }
    c.args(args);
    output(&mut c)
}

/// Peak RSS in KiB of `virtkit ARGS`, measured by GNU time.
fn peak_rss(root: &Path, args: &[&str]) -> Result<u64> {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M"])
        .arg(root.join("usr/bin/virtkit"))
        .args(args)
        .env_remove("VIRTKIT_DRIVER_DIR");
    let o = output(&mut c)?;
    let err = String::from_utf8_lossy(&o.stderr);
    err.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("GNU time printed no RSS: {err}"))
}

fn installed_size(debs: &[&Path]) -> Result<u64> {
    let mut total = 0;
    for d in debs {
        let o = output(
            Command::new("dpkg-deb")
                .args(["-f"])
                .arg(d)
                .arg("Installed-Size"),
        )?;
        total += String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("{} has no Installed-Size", d.display()))?;
    }
    Ok(total)
}

/// Builds the ABI 1.0-era toy driver (`conformance/tests/fixtures/toy-abi-1.0.c`, the C example
/// as it was written for 1.0: `toy:///default`) against `include` into `out`. (The current
/// example uses the 1.2 host services and cannot build against an old header.)
fn build_c_toy(include: &Path, out: &Path) -> Result<PathBuf> {
    let src = root().join("conformance/tests/fixtures/toy-abi-1.0.c");
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let so = out.join("libvirtkit_driver_toy_c.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = output(
        Command::new(&cc)
            .args([
                "-std=c99",
                "-shared",
                "-fPIC",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fvisibility=hidden",
                "-pthread",
                "-I",
            ])
            .arg(include)
            .arg("-o")
            .arg(&so)
            .arg(&src),
    )?;
    if !o.status.success() {
        return Err(format!(
            "building the ABI 1.0 toy against {}: {}",
            include.display(),
            text(&o)
        ));
    }
    Ok(so)
}

pub(crate) fn run_check() -> Result<()> {
    let work = tempdir()?;
    let result = check_in(&work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn check_in(work: &Path) -> Result<()> {
    let out = work.join("debs");
    let debs = dist::dist(&out)?;

    // 1. lintian: no errors.
    let mut c = Command::new("lintian");
    c.args(["--tag-display-limit", "0", "--allow-root"])
        .args(&debs);
    let o = output(&mut c)?;
    let report = text(&o);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    eprint!("{report}");
    check(
        errors.is_empty(),
        "lintian reports no error",
        errors.join("\n"),
    )?;

    let root = work.join("root");
    make_root(&root)?;

    // 2. The dependency on the core is real.
    let qemu = deb(&debs, "virtkit-driver-qemu")?;
    let o = dpkg(&root, &["-i", qemu.to_str().unwrap()])?;
    check(
        !o.status.success() && text(&o).contains("depends on virtkit"),
        "virtkit-driver-qemu does not install without the core",
        text(&o),
    )?;
    let _ = dpkg(&root, &["--purge", "virtkit-driver-qemu"]);
    let daemon_deb = deb(&debs, "virtkitd")?;
    let o = dpkg(&root, &["-i", daemon_deb.to_str().unwrap()])?;
    check(
        !o.status.success() && text(&o).contains("depends on virtkit"),
        "virtkitd does not install without the core",
        text(&o),
    )?;
    let _ = dpkg(&root, &["--purge", "virtkitd"]);

    // 3. Core + one driver.
    let core = deb(&debs, "virtkit")?;
    let o = dpkg(
        &root,
        &["-i", core.to_str().unwrap(), qemu.to_str().unwrap()],
    )?;
    check(o.status.success(), "core + qemu install", text(&o))?;
    let sandbox = work.join("sandbox");
    std::fs::create_dir(&sandbox).map_err(|e| e.to_string())?;
    let uri = format!("qemu:///session?root={}", sandbox.display());
    let o = installed(&root, &["-c", &uri, "list", "--all"])?;
    check(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(" Id   Name   State"),
        format!("the installed virtkit lists {uri}"),
        text(&o),
    )?;
    let o = installed(&root, &["-c", "openvz:///system", "list"])?;
    check(
        !o.status.success() && text(&o).contains("install the package virtkit-driver-openvz"),
        "openvz:/// names the package to install",
        text(&o),
    )?;
    let o = installed(&root, &["-c", "xen:///", "list"])?;
    check(
        !o.status.success() && text(&o).contains("virtkit-driver-xen"),
        "xen:/// names virtkit-driver-xen",
        text(&o),
    )?;
    let drivers_dir = root.join("usr/lib/virtkit/drivers");
    let o = installed(&root, &["-q", "drivers"])?;
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    let plugin_rows: Vec<&str> = listing.lines().filter(|l| l.contains(".so")).collect();
    let origin = plugin_rows
        .first()
        .and_then(|r| r.split_whitespace().last())
        .and_then(|p| std::fs::canonicalize(p).ok());
    check(
        o.status.success()
            && plugin_rows.len() == 1
            && plugin_rows[0].trim_start().starts_with("qemu ")
            && origin == std::fs::canonicalize(drivers_dir.join("libvirtkit_driver_qemu.so")).ok(),
        "`virtkit drivers` lists exactly the installed qemu plugin",
        listing.clone(),
    )?;

    let one_driver_rss = peak_rss(&root, &["-c", &uri, "list", "--all"])?;
    let core_and_one = installed_size(&[core, qemu])?;

    // 3b. The daemon beside them, used by libvirt's URI form through the remote driver.
    daemon_step(&root, &debs, work, &sandbox)?;

    // 4. Partial upgrade: an ABI 1.0 driver beside this core.
    let frozen = root_path("abi/tests/fixtures/abi-1.0");
    let toy_out = work.join("toy10");
    let toy = build_c_toy(&frozen, &toy_out)?;
    let stage = work.join("stage-toy");
    let virtkit_bin = crate::profile_dir(true).join("virtkit");
    let (pkg, _) = dist::driver_package(&stage, &virtkit_bin, &toy, Some("virtkit-driver-toy-c"))?;
    let toy_debs = dist::finalize(pkg, &stage, &dist::architecture()?, &work.join("toydeb"))?;
    let toy_deb = toy_debs[0].clone();
    let depends = output(
        Command::new("dpkg-deb")
            .args(["-f"])
            .arg(&toy_deb)
            .arg("Depends"),
    )?;
    let depends = String::from_utf8_lossy(&depends.stdout).trim().to_string();
    check(
        depends.contains(&format!(
            "virtkit (>= {})",
            virtkit_abi::releases::CORE_VERSION_FOR_MINOR[0]
        )),
        format!("the ABI 1.0 driver depends on the first core that loads 1.0 ({depends})"),
        "",
    )?;
    let o = dpkg(&root, &["-i", toy_deb.to_str().unwrap()])?;
    check(o.status.success(), "the ABI 1.0 driver installs", text(&o))?;
    let o = installed(&root, &["-c", "toy:///default", "list", "--all"])?;
    check(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("toy1"),
        "the installed core runs the ABI 1.0 driver",
        text(&o),
    )?;
    let suite_deb = deb(&debs, "virtkit-conformance")?;
    let o = dpkg(&root, &["-i", suite_deb.to_str().unwrap()])?;
    check(o.status.success(), "virtkit-conformance installs", text(&o))?;
    let o = output(
        Command::new(root.join("usr/bin/virtkit-conformance"))
            .arg(drivers_dir.join("libvirtkit_driver_toy_c.so"))
            .args(["--uri", "toy:///default"]),
    )?;
    let summary = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    check(
        o.status.success(),
        format!("the installed suite passes the ABI 1.0 driver ({summary})"),
        text(&o),
    )?;

    // A driver for ABI 2.x: refused, naming both versions.
    let major2 = work.join("abi-2.0");
    std::fs::create_dir_all(major2.join("virtkit")).map_err(|e| e.to_string())?;
    let header =
        std::fs::read_to_string(frozen.join("virtkit/driver.h")).map_err(|e| e.to_string())?;
    let bumped = header.replace("#define VK_ABI_MAJOR 1", "#define VK_ABI_MAJOR 2");
    check(
        bumped != header,
        "the frozen header defines VK_ABI_MAJOR 1",
        "",
    )?;
    std::fs::write(major2.join("virtkit/driver.h"), bumped).map_err(|e| e.to_string())?;
    let toy2 = build_c_toy(&major2, &work.join("toy2"))?;
    let newer = drivers_dir.join("libvirtkit_driver_toy_next.so");
    std::fs::copy(&toy2, &newer).map_err(|e| e.to_string())?;
    let o = installed(&root, &["drivers"])?;
    let all = text(&o);
    check(
        all.contains("libvirtkit_driver_toy_next.so")
            && all.contains("built for ABI 2.0")
            && all.contains(&format!(
                "ABI {}.{}",
                virtkit_abi::VK_ABI_MAJOR,
                virtkit_abi::VK_ABI_MINOR
            )),
        "a plugin for ABI 2.0 is refused naming both versions",
        all.clone(),
    )?;
    std::fs::remove_file(&newer).map_err(|e| e.to_string())?;

    // 5. Removing the driver leaves the core working.
    let o = dpkg(&root, &["-r", "virtkit-driver-qemu"])?;
    check(o.status.success(), "virtkit-driver-qemu removes", text(&o))?;
    check(
        !drivers_dir.join("libvirtkit_driver_qemu.so").exists(),
        "the qemu plugin file is gone",
        "",
    )?;
    let o = installed(&root, &["-c", "test:///default", "list"])?;
    check(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("test"),
        "the core still runs test:///default",
        text(&o),
    )?;
    let o = installed(&root, &["-c", &uri, "list"])?;
    check(
        !o.status.success() && text(&o).contains("install the package virtkit-driver-qemu"),
        "qemu:/// now names its package",
        text(&o),
    )?;

    // 6. Everything installed: sizes and RSS.
    let mut rest: Vec<&str> = Vec::new();
    for d in &debs {
        let name = d.file_name().unwrap().to_string_lossy();
        if !name.contains("-dbgsym_") {
            rest.push(d.to_str().unwrap());
        }
    }
    let mut args = vec!["-i"];
    args.extend(rest.iter().copied());
    let o = dpkg(&root, &args)?;
    check(
        o.status.success(),
        "every package installs together",
        text(&o),
    )?;
    let all_rss = peak_rss(&root, &["-c", &uri, "list", "--all"])?;
    let all_debs: Vec<&Path> = debs
        .iter()
        .filter(|d| !d.to_string_lossy().contains("-dbgsym_"))
        .map(PathBuf::as_path)
        .collect();
    let everything = installed_size(&all_debs)?;
    let dbg: Vec<&Path> = debs
        .iter()
        .filter(|d| d.to_string_lossy().contains("-dbgsym_"))
        .map(PathBuf::as_path)
        .collect();
    let debug_size = installed_size(&dbg)?;
    println!("packaging figures:");
    println!("  installed size, core + qemu driver:      {core_and_one} KiB");
    println!("  installed size, every package (no dbg):  {everything} KiB");
    println!("  installed size of the -dbgsym packages:  {debug_size} KiB");
    println!("  peak RSS of `list --all` (qemu sandbox), core + qemu only:   {one_driver_rss} KiB");
    println!("  peak RSS of `list --all` (qemu sandbox), every driver installed: {all_rss} KiB");
    Ok(())
}

fn root_path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// The installed `virtkitd` (with the installed config file and the installed drivers) on a
/// socket of the check's own, reached by the installed `virtkit` through the installed remote
/// driver: `qemu+unix:///session?socket=…&root=SANDBOX` lists the sandbox's guests.
fn daemon_step(root: &Path, debs: &[PathBuf], work: &Path, sandbox: &Path) -> Result<()> {
    let daemon = deb(debs, "virtkitd")?;
    let remote = deb(debs, "virtkit-driver-remote")?;
    let o = dpkg(
        root,
        &["-i", daemon.to_str().unwrap(), remote.to_str().unwrap()],
    )?;
    check(
        o.status.success(),
        "virtkitd + virtkit-driver-remote install beside the core",
        text(&o),
    )?;
    let o = dpkg(root, &["-s", "virtkitd"])?;
    check(
        text(&o).contains("/etc/virtkit/virtkitd.conf"),
        "/etc/virtkit/virtkitd.conf is a conffile of virtkitd",
        text(&o),
    )?;
    let unit = root.join("lib/systemd/system/virtkitd.service");
    let unit_text = std::fs::read_to_string(&unit).unwrap_or_default();
    check(
        unit_text.contains("ExecStart=/usr/sbin/virtkitd"),
        "the systemd unit is installed and runs /usr/sbin/virtkitd",
        unit_text.clone(),
    )?;
    // The three units as systemd reads them (when systemd-analyze is here), the service's
    // ExecStart pointed at the installed binary.
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let units = work.join("units");
        std::fs::create_dir_all(&units).map_err(|e| e.to_string())?;
        let mut args = vec!["verify".to_string()];
        for u in ["virtkitd.service", "virtkitd.socket", "virtkitd-ro.socket"] {
            let t = std::fs::read_to_string(root.join("lib/systemd/system").join(u))
                .map_err(|e| format!("{u} is not installed: {e}"))?;
            let t = t.replace(
                "/usr/sbin/virtkitd",
                &root.join("usr/sbin/virtkitd").display().to_string(),
            );
            std::fs::write(units.join(u), t).map_err(|e| e.to_string())?;
            args.push(units.join(u).display().to_string());
        }
        let o = output(Command::new("/usr/bin/systemd-analyze").args(&args))?;
        check(
            o.status.success() && text(&o).trim().is_empty(),
            "systemd-analyze verify finds nothing wrong with the service and its two sockets",
            text(&o),
        )?;
    }
    let sockdir = work.join("virtkitd");
    std::fs::create_dir(&sockdir).map_err(|e| e.to_string())?;
    let socket = sockdir.join("sock");
    let log = sockdir.join("log");
    let mut child = Command::new(root.join("usr/sbin/virtkitd"))
        .arg("--config")
        .arg(root.join("etc/virtkit/virtkitd.conf"))
        .arg("--socket")
        .arg(&socket)
        .env_remove("VIRTKIT_DRIVER_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run the installed virtkitd: {e}"))?;
    let result = (|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(s)) = child.try_wait() {
                return Err(format!(
                    "the installed virtkitd exited ({s}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            if std::time::Instant::now() > deadline {
                return Err("the installed virtkitd does not listen".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let uri = format!(
            "qemu+unix:///session?socket={}&root={}",
            socket.display(),
            sandbox.display()
        );
        let o = installed(root, &["-c", &uri, "list", "--all"])?;
        check(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(" Id   Name   State"),
            format!("the installed virtkit lists {uri} through the installed virtkitd"),
            format!(
                "{}\nvirtkitd: {}",
                text(&o),
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        )
    })();
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.wait();
    result
}
