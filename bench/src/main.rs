//! `virtkit-bench`: virtkit's benchmarks, each printed beside its peer (libvirt 9.0: `virsh`,
//! and libvirt's test driver through `/usr/bin/python3`'s bindings) measured in the same run.
//!
//! ```text
//! virtkit-bench [--root DIR] [--release-dir DIR] [--corpus DIR] [--quick]
//!               [--markdown FILE] [--only cli,api,calls,plugins,xml,xend,xenlookup,qemu,xm,libvirtd,remote] [--no-peer]
//! ```
//!
//! It installs nothing: a missing tool is named, with the script that installs it, and the
//! benchmarks that need it are reported as skipped.
//!
//! Each benchmark group lives in its own file as a method of [`Run`] that measures and pushes
//! its rows; [`GROUPS`] lists them in the order they run. A new group is a new file and one line
//! there.

#![forbid(unsafe_code)]
mod api;
mod calls;
mod cli;
mod libvirtd;
mod machine;
mod peer;
mod plugins;
mod procs;
mod qemu;
mod remote;
mod report;
mod stats;
mod xend;
mod xenlookup;
mod xm;
mod xml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use virtkit::Registry;

use crate::peer::Peer;
use crate::report::{Report, Row};
use crate::stats::Summary;

const INSTALL: &str = "install it with scripts/install-test-deps.sh";

/// A benchmark group: measures and pushes its rows (a method of [`Run`] in the group's file).
type Group = fn(&mut Run<'_>);

/// The benchmark groups in the order they run, each with the name `--only` takes.
const GROUPS: &[(&str, Group)] = &[
    ("cli", |r| r.cli()),
    ("api", |r| r.api()),
    ("calls", |r| r.calls()),
    ("plugins", |r| r.plugins()),
    ("xml", |r| r.xml()),
    ("xend", |r| r.xend()),
    ("xenlookup", |r| r.xenlookup()),
    ("qemu", |r| r.qemu()),
    ("xm", |r| r.xm()),
    ("libvirtd", |r| r.libvirtd()),
    ("remote", |r| r.remote()),
];

/// Runs virtkit's benchmarks, each beside its peer measured in the same run.
#[derive(Parser, Debug)]
#[command(name = "virtkit-bench", version, args_override_self = true)]
struct Cli {
    /// The repository (default: found from this binary, else the current directory).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where `virtkit` and the plugins are (default: this binary's directory if it holds them,
    /// else ROOT/target/release).
    #[arg(long = "release-dir", value_name = "DIR")]
    release_dir: Option<PathBuf>,
    /// XML corpus (default: ROOT/../shared/corpus).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Small sizes and few runs: a smoke test.
    #[arg(long)]
    quick: bool,
    /// Also write the table into FILE (between its generated-section markers).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Run only these groups (comma-separated: cli, api, calls, plugins, xml, xend, xenlookup,
    /// qemu, xm, libvirtd, remote).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = group_name)]
    only: Vec<String>,
    /// Measure virtkit only (for profiling: `perf record -g virtkit-bench --only api --no-peer`).
    #[arg(long)]
    no_peer: bool,
}

/// A group name of `--only` (an empty one, as in `cli,,api`, is ignored).
fn group_name(g: &str) -> Result<String, String> {
    if g.is_empty() || GROUPS.iter().any(|(name, _)| *name == g) {
        Ok(g.to_string())
    } else {
        let names: Vec<&str> = GROUPS.iter().map(|(name, _)| *name).collect();
        Err(format!(
            "unknown group '{g}' (groups: {})",
            names.join(", ")
        ))
    }
}

struct Options {
    root: PathBuf,
    release: PathBuf,
    corpus: PathBuf,
    quick: bool,
    markdown: Option<PathBuf>,
    only: Vec<String>,
    no_peer: bool,
}

/// How much of everything to do.
struct Sizes {
    cli_runs: usize,
    cli_warmup: usize,
    rss_runs: usize,
    domain_counts: Vec<usize>,
    domain_reps: usize,
    list_reps: usize,
    call_iters: u64,
    call_reps: usize,
    python_call_iters: u64,
    load_runs: usize,
    xml_rounds: usize,
    qemu_runs: usize,
    qemu_guests: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                cli_runs: 5,
                cli_warmup: 1,
                rss_runs: 2,
                domain_counts: vec![100, 1000],
                domain_reps: 1,
                list_reps: 3,
                call_iters: 200_000,
                call_reps: 3,
                python_call_iters: 20_000,
                load_runs: 3,
                xml_rounds: 3,
                qemu_runs: 2,
                qemu_guests: 3,
            }
        } else {
            Sizes {
                cli_runs: 50,
                cli_warmup: 3,
                rss_runs: 5,
                domain_counts: vec![1000, 10_000],
                domain_reps: 5,
                list_reps: 20,
                call_iters: 5_000_000,
                call_reps: 5,
                python_call_iters: 300_000,
                load_runs: 30,
                xml_rounds: 100,
                qemu_runs: 15,
                qemu_guests: 50,
            }
        }
    }
}

/// The options, with the defaults that depend on where this binary is resolved.
fn resolve(cli: Cli) -> Options {
    let Cli {
        root,
        release_dir: release,
        corpus,
        quick,
        markdown,
        only,
        no_peer,
    } = cli;
    let only: Vec<String> = only.into_iter().filter(|g| !g.is_empty()).collect();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let root = root
        .or_else(|| {
            // target/<profile>/virtkit-bench, or target/<dir>/release/virtkit-bench.
            exe_dir
                .as_deref()?
                .ancestors()
                .find(|a| a.join("Cargo.toml").is_file() && a.join("bench").is_dir())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let release = release.unwrap_or_else(|| match &exe_dir {
        Some(d) if d.join("libvirtkit_driver_test.so").exists() => d.clone(),
        _ => root.join("target/release"),
    });
    let corpus = corpus.unwrap_or_else(|| root.join("../shared/corpus"));
    Options {
        root,
        release,
        corpus,
        quick,
        markdown,
        only,
        no_peer,
    }
}

fn progress(what: &str) {
    eprintln!("virtkit-bench: {what}");
}

/// The run: measures, collects rows, skips what cannot run.
struct Run<'a> {
    o: &'a Options,
    s: Sizes,
    tmp: tempfile::TempDir,
    peer: Result<Peer, String>,
    rows: Vec<Row>,
    skipped: Vec<String>,
    notes: Vec<String>,
}

fn min_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// `1 KB`, `10 MB`: a size in decimal units.
fn size_label(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{} MB", n / 1_000_000)
    } else {
        format!("{} KB", n / 1_000)
    }
}

fn min_ratio(a: &Summary, b: &Summary) -> Option<f64> {
    (b.min > 0.0).then(|| a.min / b.min)
}

fn min_median_time(s: &Summary) -> String {
    format!("{} (median {})", stats::time(s.min), stats::time(s.median))
}

impl Run<'_> {
    fn wants(&self, group: &str) -> bool {
        self.o.only.is_empty() || self.o.only.iter().any(|g| g == group)
    }

    fn skip(&mut self, what: impl Into<String>) {
        let what = what.into();
        progress(&format!("skipped: {what}"));
        self.skipped.push(what);
    }

    fn test_plugin(&self) -> Result<PathBuf, String> {
        let p = self.o.release.join("libvirtkit_driver_test.so");
        if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "{} not found: build it with `cargo build --release --workspace`",
                p.display()
            ))
        }
    }

    /// A registry holding only the release directory's plugins (nothing linked in).
    fn registry(&self) -> Registry {
        Registry::with_dirs(vec![self.o.release.clone()]).without_static()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Internal probes, run as child processes of the benchmark itself.
    match args.first().map(String::as_str) {
        Some("__maxrss") => return ExitCode::from(procs::maxrss_main(&args[1..]) as u8),
        Some("__load") => return ExitCode::from(plugins::load_main(&args[1..]) as u8),
        Some("__xenlookups") => return ExitCode::from(xenlookup::child_main(&args[1..]) as u8),
        _ => {}
    }
    let o = resolve(Cli::parse());
    let machine = machine::Machine::detect();
    let tmp = match tempfile::Builder::new().prefix("virtkit-bench-").tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("virtkit-bench: cannot make a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let peer = if o.no_peer {
        Err("not measured (--no-peer)".to_string())
    } else {
        Peer::new(tmp.path())
    };
    let mut run = Run {
        o: &o,
        s: Sizes::new(o.quick),
        tmp,
        peer,
        rows: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    if let Err(e) = &run.peer {
        let e = e.clone();
        run.skip(format!("libvirt peer (Python): {e}"));
    }
    progress(&format!(
        "root {}, binaries and plugins from {}{}",
        o.root.display(),
        o.release.display(),
        if o.quick { ", quick" } else { "" }
    ));
    for (name, group) in GROUPS {
        if run.wants(name) {
            group(&mut run);
        }
    }
    let root = o.root.canonicalize().unwrap_or_else(|_| o.root.clone());
    let exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.strip_prefix(&root).map(Path::to_path_buf).ok())
        .unwrap_or_else(|| PathBuf::from("target/release/virtkit-bench"));
    let mut command = format!("{} --root .", exe.display());
    if o.quick {
        command.push_str(" --quick");
    }
    if !o.only.is_empty() {
        command.push_str(&format!(" --only {}", o.only.join(",")));
    }
    if let Some(m) = &o.markdown {
        let abs = match (
            m.parent().map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            }),
            m.file_name(),
        ) {
            (Some(dir), Some(name)) => dir
                .canonicalize()
                .map(|d| d.join(name))
                .unwrap_or_else(|_| m.clone()),
            _ => m.clone(),
        };
        let shown = abs
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| m.clone());
        command.push_str(&format!(" --markdown {}", shown.display()));
    }
    let svg_path = o.markdown.as_ref().map(|m| m.with_extension("svg"));
    let mut machine = machine;
    machine.finish();
    let report = Report {
        machine,
        command,
        rows: run.rows,
        skipped: run.skipped,
        notes: run.notes,
        svg: svg_path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
    };
    println!("{}", report.to_text());
    if let (Some(m), Some(svg)) = (&o.markdown, &svg_path) {
        let written = std::fs::write(svg, report.to_svg()).and_then(|_| report.write_markdown(m));
        if let Err(e) = written {
            eprintln!("virtkit-bench: cannot write {}: {e}", m.display());
            return ExitCode::FAILURE;
        }
        progress(&format!("wrote {} and {}", m.display(), svg.display()));
    }
    ExitCode::SUCCESS
}
