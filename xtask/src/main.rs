//! Project automation: `cargo xtask <command>`.
//!
//! * `build-plugins [--release]` — builds the workspace: the `virtkit` CLI and every driver plugin
//!   (`target/<profile>/libvirtkit_driver_<name>.so`).
//! * `test` — installs what the tests need (when it can), builds the plugins, runs every test of
//!   the workspace, then the conformance suite on every built plugin and the out-of-tree examples.
//! * `run -- ARGS` — builds, then runs `virtkit ARGS` from the build tree.
//! * `conformance` — runs the conformance suite on every built plugin.
//! * `codegen` — regenerates what tests check for freshness: the man page, the shell completions
//!   and `docs/hvsupport.md`.
//! * `bench [--quick]` — benchmarks in release mode, beside libvirt measured in the same run.
//! * `dist [--out DIR]` — release build, then Debian packages (core, one per driver plugin, Xen
//!   meta-package, -dev, conformance, -dbgsym) in `DIR` (default `target/dist`); see
//!   docs/packaging.md.
//! * `packaging-check` — `dist`, then the packages installed with dpkg into a throwaway root
//!   and used there (core + one driver, partial upgrade, removal); part of `test`.
//! * `hvsupport [--check]` — regenerates (or checks) `docs/hvsupport.md` from the in-tree plugins.
//! * `new-driver NAME [--c] [--dir PARENT]` — an out-of-tree driver skeleton (Rust, or C) that
//!   builds, loads and passes the conformance suite as generated.
//! * `install-headers --prefix PREFIX` — installs `<virtkit/driver.h>`, `<virtkit/host.h>` and
//!   the pkg-config file `virtkit-driver.pc` for C driver authors.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod conformance;
mod dist;
mod hvsupport;
mod new_driver;
mod packaging;
mod sdk;

type Result<T> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command) -> Result<()> {
    eprintln!("xtask: running {:?}", c);
    let status = c
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed with {status}", c.get_program()))
    }
}

fn profile_dir(release: bool) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join(if release { "release" } else { "debug" })
}

fn build_plugins(release: bool) -> Result<Vec<PathBuf>> {
    let mut c = cargo();
    c.args(["build", "--workspace"]);
    if release {
        c.arg("--release");
    }
    run(c)?;
    let dir = profile_dir(release);
    let mut plugins: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libvirtkit_driver_") && n.ends_with(".so"))
        })
        .collect();
    plugins.sort();
    for p in &plugins {
        eprintln!("xtask: plugin {}", p.display());
    }
    if plugins.is_empty() {
        return Err(format!("no plugin was built in {}", dir.display()));
    }
    Ok(plugins)
}

fn install_deps() -> Result<()> {
    let mut c = Command::new("bash");
    c.arg(root().join("scripts/install-test-deps.sh"));
    run(c)
}

/// Every test: each phase runs even when an earlier one failed, so one run shows every failure.
fn test() -> Result<()> {
    install_deps()?;
    let plugins = build_plugins(false)?;
    let mut failed = Vec::new();
    let mut c = cargo();
    c.args(["test", "--workspace", "--no-fail-fast"]);
    if std::env::var_os("CI").is_some() {
        // In CI the peers are installed by the step above: a missing one is a failure there,
        // not a skip.
        c.env("VIRTKIT_REQUIRE_LIBVIRT", "1");
    }
    if let Err(e) = run(c) {
        failed.push(e);
    }
    if let Err(e) = conformance::plugins(&plugins) {
        failed.push(e);
    }
    if let Err(e) = conformance::examples() {
        failed.push(e);
    }
    // Release build, Debian packages, and their installation into a throwaway root.
    if let Err(e) = packaging::run_check() {
        failed.push(e);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Benchmarks, in release mode, beside libvirt measured in the same run.
fn bench(rest: &[String]) -> Result<()> {
    let mut c = cargo();
    c.args(["build", "--release", "--workspace"]);
    run(c)?;
    let mut b = Command::new(profile_dir(true).join("virtkit-bench"));
    b.arg("--root").arg(root()).args(rest);
    run(b)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins(release).map(|_| ()),
        Some("test") => test(),
        Some("conformance") => build_plugins(false).and_then(|p| conformance::plugins(&p)),
        Some("hvsupport") => build_plugins(false)
            .and_then(|_| hvsupport::run_hvsupport(args.iter().any(|a| a == "--check"))),
        Some("run") => build_plugins(false).and_then(|_| {
            let rest: Vec<&String> = args.iter().skip(1).skip_while(|a| *a == "--").collect();
            let mut c = Command::new(profile_dir(false).join("virtkit"));
            c.args(rest);
            let status = c.status().map_err(|e| format!("cannot run virtkit: {e}"))?;
            std::process::exit(status.code().unwrap_or(1));
        }),
        Some("bench") => bench(&args[1..]),
        Some("new-driver") => new_driver::run(&args[1..]),
        Some("install-headers") => sdk::run(&args[1..]),
        Some("dist") => {
            let out = args
                .iter()
                .position(|a| a == "--out")
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("target/dist"));
            dist::dist(&out).map(|_| ())
        }
        Some("packaging-check") => packaging::run_check(),
        Some("codegen") => build_plugins(false).and_then(|_| {
            let mut c = Command::new(profile_dir(false).join("virtkit"));
            c.current_dir(root()).args(["_gen-docs", "docs"]);
            run(c)?;
            hvsupport::run_hvsupport(false)
        }),
        _ => Err(
            "usage: cargo xtask <build-plugins [--release] | test | run -- ARGS | conformance | hvsupport [--check] | bench [--quick] | codegen | dist [--out DIR] | packaging-check | new-driver NAME [--c] [--dir PARENT] | install-headers --prefix PREFIX>"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
