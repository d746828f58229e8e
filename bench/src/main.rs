//! `virtkit-bench`: virtkit's benchmarks, each printed beside its peer (libvirt 9.0: `virsh`,
//! and libvirt's test driver through `/usr/bin/python3`'s bindings) measured in the same run.
//!
//! ```text
//! virtkit-bench [--root DIR] [--release-dir DIR] [--corpus DIR] [--quick]
//!               [--markdown FILE] [--only cli,api,calls,plugins,xml,qemu,xend,xm,xenlookup,libvirtd] [--no-peer]
//! ```
//!
//! It installs nothing: a missing tool is named, with the script that installs it, and the
//! benchmarks that need it are reported as skipped.

#![forbid(unsafe_code)]
mod api;
mod libvirtd;
mod machine;
mod peer;
mod plugins;
mod procs;
mod qemu;
mod report;
mod stats;
mod xend;
mod xenlookup;
mod xm;
mod xml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use virtkit::Registry;

use crate::peer::Peer;
use crate::procs::{Cmd, Timer};
use crate::report::{Report, Row};
use crate::stats::Summary;

const INSTALL: &str = "install it with scripts/install-test-deps.sh";
const GROUPS: [&str; 10] = [
    "cli",
    "api",
    "calls",
    "plugins",
    "xml",
    "qemu",
    "xend",
    "xm",
    "xenlookup",
    "libvirtd",
];

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
                qemu_guests: 20,
            }
        }
    }
}

const USAGE: &str = "usage: virtkit-bench [--root DIR] [--release-dir DIR] [--corpus DIR] [--quick] \
[--markdown FILE] [--only cli,api,calls,plugins,xml,qemu,xend,xm,xenlookup,libvirtd] [--no-peer]

  --root DIR         the repository (default: found from this binary, else the current directory)
  --release-dir DIR  where `virtkit` and the plugins are (default: this binary's directory if it
                     holds them, else ROOT/target/release)
  --corpus DIR       XML corpus (default: ROOT/../shared/corpus)
  --quick            small sizes and few runs: a smoke test
  --markdown FILE    also write the table into FILE (between its generated-section markers)
  --only LIST        run only these groups
  --no-peer          measure virtkit only (for profiling: `perf record -g virtkit-bench --only api --no-peer`)";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut root = None;
    let mut release = None;
    let mut corpus = None;
    let mut quick = false;
    let mut markdown = None;
    let mut only = Vec::new();
    let mut no_peer = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--release-dir" => release = Some(PathBuf::from(value("--release-dir")?)),
            "--corpus" => corpus = Some(PathBuf::from(value("--corpus")?)),
            "--markdown" => markdown = Some(PathBuf::from(value("--markdown")?)),
            "--only" => {
                for g in value("--only")?.split(',').filter(|g| !g.is_empty()) {
                    if !GROUPS.contains(&g) {
                        return Err(format!(
                            "unknown group '{g}' (groups: {})",
                            GROUPS.join(", ")
                        ));
                    }
                    only.push(g.to_string());
                }
            }
            "--quick" => quick = true,
            "--no-peer" => no_peer = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
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
    Ok(Options {
        root,
        release,
        corpus,
        quick,
        markdown,
        only,
        no_peer,
    })
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

    // ---- whole process: virtkit list --all vs virsh ----

    fn cli(&mut self) {
        const G: &str = "CLI: `-c test:///default list --all`, whole process";
        progress("whole process: virtkit list --all vs virsh");
        let virtkit = Cmd::new(
            self.o.release.join("virtkit"),
            &["-c", "test:///default", "list", "--all"],
        );
        let virsh = Cmd::new(
            "/usr/bin/virsh",
            &["-c", "test:///default", "list", "--all"],
        );
        let works = |c: &Cmd| -> Result<(), String> {
            if !procs::is_executable(&c.program) {
                return Err(format!("{} not found", c.program.display()));
            }
            let out = c.output()?;
            if out.contains("test") && out.contains("running") {
                Ok(())
            } else {
                Err(format!(
                    "`{}` does not list the test domain (output: {:?})",
                    c.shell_words(),
                    out.trim()
                ))
            }
        };
        let v_ok = works(&virtkit);
        let p_ok = works(&virsh).map_err(|e| {
            if !Path::new("/usr/bin/virsh").exists() {
                format!("virsh not found: {INSTALL}")
            } else {
                e
            }
        });
        if let Err(e) = &v_ok {
            self.skip(format!(
                "virtkit CLI: {e} (build it with `cargo build --release --workspace`)"
            ));
        }
        if let Err(e) = &p_ok {
            self.skip(format!("virsh: {e}"));
        }
        let timer = match procs::which("hyperfine") {
            Some(h) => Timer::Hyperfine(h),
            None => {
                let m = format!(
                    "hyperfine not found: {INSTALL}; whole-process times taken with the built-in timer"
                );
                progress(&m);
                self.notes.push(m);
                Timer::Plain
            }
        };
        let mut cmds = Vec::new();
        if v_ok.is_ok() {
            cmds.push(&virtkit);
        }
        if p_ok.is_ok() {
            cmds.push(&virsh);
        }
        if cmds.is_empty() {
            return;
        }
        let times = procs::time_commands(
            &timer,
            &cmds,
            self.s.cli_warmup,
            self.s.cli_runs,
            self.tmp.path(),
        );
        let times = match times {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("whole-process timing: {e}"));
                return;
            }
        };
        let (vt, pt) = match (v_ok.is_ok(), p_ok.is_ok()) {
            (true, true) => (Some(times[0]), Some(times[1])),
            (true, false) => (Some(times[0]), None),
            _ => (None, Some(times[0])),
        };
        let show = |s: Option<Summary>, f: fn(&Summary) -> f64| {
            s.map(|s| stats::time(f(&s)))
                .unwrap_or_else(|| "skipped".into())
        };
        let ratio = |f: fn(&Summary) -> f64| match (vt, pt) {
            (Some(a), Some(b)) => Some(f(&a) / f(&b)),
            _ => None,
        };
        let runs = self.s.cli_runs;
        self.rows.push(
            Row::info(
                G,
                format!("wall time, min of {runs} runs"),
                show(vt, |s| s.min),
                show(pt, |s| s.min),
                ratio(|s| s.min),
            )
            .ratio_target(0.2, "≤ 0.2×"),
        );
        self.rows.push(Row::info(
            G,
            format!("wall time, median of {runs} runs"),
            show(vt, |s| s.median),
            show(pt, |s| s.median),
            ratio(|s| s.median),
        ));

        let rss = |c: &Cmd, ok: bool| ok.then(|| procs::peak_rss_kib(c, self.s.rss_runs));
        let vr = rss(&virtkit, v_ok.is_ok());
        let pr = rss(&virsh, p_ok.is_ok());
        let cell = |r: &Option<Result<Summary, String>>| match r {
            Some(Ok(s)) => stats::kib(s.median),
            Some(Err(_)) | None => "skipped".into(),
        };
        let ratio = match (&vr, &pr) {
            (Some(Ok(a)), Some(Ok(b))) => Some(a.median / b.median),
            _ => None,
        };
        for r in [&vr, &pr].into_iter().flatten() {
            if let Err(e) = r {
                self.skipped.push(format!("peak RSS: {e}"));
            }
        }
        self.rows.push(Row::info(
            G,
            "peak RSS (ru_maxrss of the child)",
            cell(&vr),
            cell(&pr),
            ratio,
        ));
    }

    // ---- the API at scale ----

    fn api(&mut self) {
        const G: &str =
            "API on the test driver (plugin) vs libvirt's test driver (Python bindings)";
        if let Err(e) = self.test_plugin() {
            self.skip(format!("API benchmarks: {e}"));
            return;
        }
        let registry = self.registry();
        for n in self.s.domain_counts.clone() {
            progress(&format!("API: define, list, lookup with {n} domains"));
            let w = api::Workload::new(n);
            let v = api::virtkit_domains(&registry, &w, self.s.domain_reps, self.s.list_reps);
            let p = match &self.peer {
                Ok(peer) => peer
                    .run(&w.peer_request(self.s.domain_reps, self.s.list_reps))
                    .map(|j| api::DomainTimes {
                        define: peer::samples(&j, "define"),
                        list: peer::samples(&j, "list"),
                        lookup_name: peer::samples(&j, "lookup_name"),
                        lookup_uuid: peer::samples(&j, "lookup_uuid"),
                    }),
                Err(e) => Err(e.clone()),
            };
            let v = match v {
                Ok(v) => Some(v),
                Err(e) => {
                    self.skip(format!("virtkit API with {n} domains: {e}"));
                    None
                }
            };
            let p = match p {
                Ok(p) => Some(p),
                Err(e) => {
                    self.skip(format!("libvirt peer with {n} domains: {e}"));
                    None
                }
            };
            let k = if n >= 1000 && n % 1000 == 0 {
                format!("{}k", n / 1000)
            } else {
                n.to_string()
            };
            type Pick = fn(&api::DomainTimes) -> &Vec<f64>;
            let pick =
                |t: &Option<api::DomainTimes>, f: Pick| t.as_ref().and_then(|t| Summary::of(f(t)));
            let row = |name: String, f: Pick, per_op: bool| -> Row {
                let (a, b) = (pick(&v, f), pick(&p, f));
                let cell = |s: &Option<Summary>| match s {
                    Some(s) if per_op => format!("{}/op", stats::time(s.min)),
                    Some(s) => stats::time(s.min),
                    None => "skipped".into(),
                };
                Row::info(
                    G,
                    name,
                    cell(&a),
                    cell(&b),
                    a.as_ref()
                        .zip(b.as_ref())
                        .and_then(|(a, b)| min_ratio(a, b)),
                )
            };
            let define = row(format!("define {k} domains"), |t| &t.define, true)
                .ratio_target(0.1, "≥ 10× throughput (≤ 0.1×)");
            let list = row(
                format!("list all of {k} (ids + defined names)"),
                |t| &t.list,
                false,
            );
            let list = if n >= 10_000 {
                list.ratio_target(0.1, "≤ 0.1×")
            } else {
                list
            };
            let by_name = row(
                format!("lookup by name among {k}"),
                |t| &t.lookup_name,
                true,
            );
            let by_uuid = row(
                format!("lookup by UUID among {k}"),
                |t| &t.lookup_uuid,
                true,
            );
            let lookup_target = |r: Row, f: Pick| -> Row {
                match pick(&v, f) {
                    Some(s) => r.absolute_target(s.min <= 500.0, "≤ 0.5 µs"),
                    None => r,
                }
            };
            let by_name = lookup_target(by_name, |t| &t.lookup_name);
            let by_uuid = lookup_target(by_uuid, |t| &t.lookup_uuid);
            self.rows.extend([define, list, by_name, by_uuid]);
        }
        self.notes.push(format!(
            "API rows: min over {} fresh node(s) per size (list: min of {} calls per node); lookups \
             visit every domain in the same shuffled order on both sides; libvirt's figures are \
             timed inside Python and so include the bindings' own cost per call (see `calls`).",
            self.s.domain_reps,
            self.s.list_reps * self.s.domain_reps
        ));
    }

    // ---- call cost at each layer ----

    fn calls(&mut self) {
        const G: &str = "one call, per layer (ns/call; peer = the driver function called directly)";
        progress("cost of one call at each layer");
        let plugin = match self.test_plugin() {
            Ok(p) => p,
            Err(e) => {
                self.skip(format!("call cost: {e}"));
                return;
            }
        };
        let costs = match api::call_costs(&plugin, self.s.call_iters, self.s.call_reps) {
            Ok(c) => c,
            Err(e) => {
                self.skip(format!("call cost: {e}"));
                return;
            }
        };
        let python = match &self.peer {
            Ok(p) => p
                .run(&serde_json::json!({
                    "mode": "calls",
                    "iterations": self.s.python_call_iters,
                    "reps": self.s.call_reps,
                }))
                .ok(),
            Err(_) => None,
        };
        for c in &costs {
            let t = |s: &Summary| stats::time(s.min);
            let direct = &c.direct_indirect;
            let layers = [
                ("plugin table slot (bare C call)", &c.slot),
                ("loader shim (DriverConn)", &c.loader),
                ("public API (Connect)", &c.api),
            ];
            self.rows.push(Row::info(
                G,
                format!("{}: direct Rust call, inlinable", c.op),
                t(&c.direct),
                t(direct),
                min_ratio(&c.direct, direct),
            ));
            for (name, s) in layers {
                self.rows.push(Row::info(
                    G,
                    format!("{}: {name}", c.op),
                    t(s),
                    t(direct),
                    min_ratio(s, direct),
                ));
            }
            let py_key = match c.op {
                "get_version" => "get_version",
                _ => "num_of_domains",
            };
            if let Some(py) = python
                .as_ref()
                .and_then(|j| Summary::of(&peer::samples(j, py_key)))
            {
                self.rows.push(Row::info(
                    G,
                    format!("{}: public API vs libvirt via Python", c.op),
                    t(&c.api),
                    t(&py),
                    min_ratio(&c.api, &py),
                ));
            }
        }
        self.notes.push(
            "Call rows: the peer column is the test driver's own Rust function called through an \
             opaque function pointer (statically linked copy), except in the `vs libvirt via \
             Python` rows, where it is virConnectGetVersion / virConnectNumOfDomains through \
             /usr/bin/python3's bindings (mostly the interpreter's cost)."
                .into(),
        );
    }

    // ---- plugin load ----

    fn plugins(&mut self) {
        const G: &str =
            "plugin load in a fresh process (dlopen + ELF check + handshake + validation)";
        progress("plugin load");
        let files = plugins::installed(&self.o.release);
        if files.is_empty() {
            self.skip(format!(
                "plugin load: no libvirtkit_driver_*.so in {}",
                self.o.release.display()
            ));
            return;
        }
        let reference = plugins::build_c_reference(&self.o.root, self.tmp.path())
            .and_then(|so| plugins::load_times(&so, self.s.load_runs));
        let peer_cell = match &reference {
            Ok(s) => format!("{} (C example plugin)", min_median_time(s)),
            Err(e) => {
                self.notes
                    .push(format!("plugin load: no C reference plugin: {e}"));
                "—".into()
            }
        };
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match plugins::load_times(&f, self.s.load_runs) {
                Ok(s) => {
                    let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
                    self.rows.push(Row::info(
                        G,
                        format!("{name} ({:.1} MB file)", size as f64 / 1e6),
                        min_median_time(&s),
                        peer_cell.clone(),
                        reference.as_ref().ok().and_then(|r| min_ratio(&s, r)),
                    ))
                }
                Err(e) => self.skip(format!("load {name}: {e}")),
            }
        }
        self.notes.push(format!(
            "Plugin load rows: {} fresh processes per plugin, each timing one \
             `Registry::load_file`; the peer column is the repository's C example driver \
             (examples/out-of-tree-c/toy.c) built at run time and loaded the same way: the floor \
             of dlopen + validation on this machine.",
            self.s.load_runs
        ));
    }

    // ---- XML: large documents, time per MB ----

    /// Time per MB of documents of 1 KB to 10 MB made of one repeated part: flat when parsing
    /// and validating are linear. The ratio column is the largest growth of the time per MB
    /// from one size to the next (10× larger): a quadratic pass makes every such step about 10×;
    /// linear work grows only where the document's tree outgrows the CPU caches.
    fn xml_large(&mut self) {
        const G: &str = "XML: large documents, time per MB from 1 KB to 10 MB";
        progress("XML large documents");
        let rounds = if self.o.quick { 1 } else { 3 };
        let registry = self.registry();
        let driver = self.test_plugin();
        if let Err(e) = &driver {
            self.skip(format!("XML large documents through the test driver: {e}"));
        }
        for kind in xml::LARGE_KINDS {
            let docs: Vec<String> = xml::LARGE_SIZES
                .iter()
                .map(|&n| xml::large_domain(kind, n))
                .collect();
            let mut lines: Vec<(&str, Result<Vec<f64>, String>)> = vec![(
                "parse + validate",
                docs.iter()
                    .map(|d| xml::time_large_parse(d, rounds).map(|v| min_of(&v)))
                    .collect(),
            )];
            if driver.is_ok() {
                lines.push((
                    "define + undefine, test driver",
                    docs.iter()
                        .map(|d| xml::time_large_define(&registry, d, rounds).map(|v| min_of(&v)))
                        .collect(),
                ));
            }
            for (what, per_mb) in lines {
                match per_mb {
                    Ok(v) => {
                        let cells: Vec<String> = xml::LARGE_SIZES
                            .iter()
                            .zip(&v)
                            .map(|(n, t)| format!("{}: {}", size_label(*n), stats::time(*t)))
                            .collect();
                        let spread = v
                            .windows(2)
                            .map(|w| w[1] / w[0])
                            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
                        self.rows.push(
                            Row::info(
                                G,
                                format!("{kind}: {what} (time per MB)"),
                                cells.join(" · "),
                                "—",
                                spread,
                            )
                            .ratio_target(5.0, "largest 10× step ≤ 5 (n²: 10)"),
                        );
                    }
                    Err(e) => self.skip(format!("XML large {kind}, {what}: {e}")),
                }
            }
        }
    }

    // ---- XML ----

    fn xml(&mut self) {
        const G: &str = "XML: corpus `<domain>` documents";
        progress("XML corpus throughput");
        let docs = xml::corpus_domains(&self.o.corpus);
        if docs.is_empty() {
            self.skip(format!(
                "XML: no `<domain>` documents under {}",
                self.o.corpus.display()
            ));
            return;
        }
        let rounds = self.s.xml_rounds;
        let registry = self.registry();
        // Who refuses what: virtkit's parser, virtkit's test driver, libvirt's test driver.
        let lib_refused = xml::library_refusals(&docs);
        let drv_refused = match self.test_plugin() {
            Ok(_) => xml::driver_refusals(&registry, &docs),
            Err(e) => Err(e),
        };
        let all: Vec<&xml::Doc> = docs.iter().collect();
        let peer_refused: Result<Vec<Option<String>>, String> = match &self.peer {
            Ok(p) => p.run(&xml::peer_request(&all, 0)).map(|j| {
                let refused: Vec<(String, String)> = j["refused"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                (
                                    x[0].as_str().unwrap_or("").to_string(),
                                    x[1].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                docs.iter()
                    .map(|d| {
                        let p = d.path.display().to_string();
                        refused
                            .iter()
                            .find(|(q, _)| *q == p)
                            .map(|(_, m)| m.clone())
                    })
                    .collect()
            }),
            Err(e) => Err(e.clone()),
        };
        // Every side is timed on the same documents: those that no side refuses.
        let ok = |v: &Result<Vec<Option<String>>, String>, i: usize| {
            v.as_ref().map(|v| v[i].is_none()).unwrap_or(true)
        };
        let common: Vec<&xml::Doc> = docs
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                lib_refused[*i].is_none() && ok(&drv_refused, *i) && ok(&peer_refused, *i)
            })
            .map(|(_, d)| d)
            .collect();
        let texts: Vec<&str> = common.iter().map(|d| d.text.as_str()).collect();
        let lib = xml::time_library(&texts, rounds);
        let drv = match &drv_refused {
            Ok(_) => xml::time_driver(&registry, &texts, rounds),
            Err(e) => Err(e.clone()),
        };
        let peer = match (&self.peer, &peer_refused) {
            (Ok(p), Ok(_)) => p.run(&xml::peer_request(&common, rounds)).and_then(|j| {
                if j["accepted"].as_u64() == Some(common.len() as u64) {
                    Ok(peer::samples(&j, "per_doc"))
                } else {
                    Err(format!(
                        "libvirt refused {} documents it accepted before",
                        j["refused"]
                    ))
                }
            }),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        let per_doc = |s: &Summary| {
            format!(
                "{}/doc ({} docs/s)",
                stats::time(s.min),
                stats::rate(1e9 / s.min)
                    .trim_end_matches(" /s")
                    .trim_end_matches("/s")
            )
        };
        let summary = |r: &Result<Vec<f64>, String>| r.as_ref().ok().and_then(|v| Summary::of(v));
        let (lib_s, drv_s, peer_s) = (summary(&lib), summary(&drv), summary(&peer));
        for (what, r) in [
            ("virtkit parse + format", &lib),
            ("virtkit test driver", &drv),
            ("libvirt", &peer),
        ] {
            if let Err(e) = r {
                self.skip(format!("XML, {what}: {e}"));
            }
        }
        let cell =
            |s: &Option<Summary>| s.as_ref().map(per_doc).unwrap_or_else(|| "skipped".into());
        let n = common.len();
        self.rows.push(Row::info(
            G,
            format!("parse + format ({n} docs) vs libvirt define + dumpxml + undefine"),
            cell(&lib_s),
            cell(&peer_s),
            lib_s
                .as_ref()
                .zip(peer_s.as_ref())
                .and_then(|(a, b)| min_ratio(a, b)),
        ));
        match xml::time_parse_and_format(&texts, rounds) {
            Ok((p, f)) => {
                for (what, v) in [("parse alone", p), ("format alone", f)] {
                    if let Some(s) = Summary::of(&v) {
                        self.rows.push(Row::info(
                            G,
                            format!("{what} ({n} docs)"),
                            per_doc(&s),
                            "—",
                            None,
                        ));
                    }
                }
            }
            Err(e) => self.skip(format!("XML parse/format split: {e}")),
        }
        self.rows.push(Row::info(
            G,
            format!("define + dumpxml + undefine on the test driver ({n} docs), both sides"),
            cell(&drv_s),
            cell(&peer_s),
            drv_s
                .as_ref()
                .zip(peer_s.as_ref())
                .and_then(|(a, b)| min_ratio(a, b)),
        ));
        let rel = |p: &Path| {
            p.strip_prefix(&self.o.corpus)
                .unwrap_or(p)
                .display()
                .to_string()
        };
        let describe = |v: &[Option<String>]| -> String {
            let r: Vec<String> = docs
                .iter()
                .zip(v)
                .filter_map(|(d, m)| m.as_ref().map(|m| format!("`{}` ({m})", rel(&d.path))))
                .collect();
            if r.is_empty() {
                "0".into()
            } else {
                format!("{}: {}", r.len(), r.join("; "))
            }
        };
        let mut note = format!(
            "XML: {} `<domain>` documents in the corpus, {n} timed on every side (min per-document \
             time over {rounds} rounds); virtkit's parser refused {}",
            docs.len(),
            describe(&lib_refused)
        );
        if let Ok(v) = &drv_refused {
            note.push_str(&format!("; virtkit's test driver refused {}", describe(v)));
        }
        if let Ok(v) = &peer_refused {
            note.push_str(&format!("; libvirt refused {}", describe(v)));
        }
        self.notes.push(note);
    }

    // ---- xend ----

    fn xend(&mut self) {
        const G: &str = "xend: xen-xend member vs a bare HTTP request, peer `virtkit-xend-peer`";
        let populate = 1000;
        progress("xend: list and dominfo of 1000 domains, one call beside a bare request");
        let dir = match tempfile::Builder::new()
            .prefix("vkb-xend-")
            .tempdir_in("/tmp")
        {
            Ok(d) => d,
            Err(e) => {
                self.skip(format!("xend: cannot make a temporary directory: {e}"));
                return;
            }
        };
        let (reps, calls) = if self.o.quick { (3, 300) } else { (10, 3000) };
        let t = match xend::measure(
            &self.o.release,
            &self.o.corpus,
            dir.path(),
            populate,
            reps,
            calls,
        ) {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("xend: {e}"));
                return;
            }
        };
        let n = t.domains;
        self.rows.push(Row::info(
            G,
            format!("list --all of {n} domains (API: ids + defined names)"),
            min_median_time(&t.list_all),
            "—",
            None,
        ));
        self.rows.push(Row::info(
            G,
            format!("list --all + dominfo (lookup + info) of each of {n} domains (API)"),
            min_median_time(&t.list_and_info),
            "—",
            None,
        ));
        self.rows.push(Row::info(
            G,
            format!("`virtkit -c SOCKET list --all` of {n} domains, whole process"),
            min_median_time(&t.cli_list),
            "—",
            None,
        ));
        self.rows.push(
            Row::info(
                G,
                format!(
                    "one virDomainGetInfo vs a bare GET of the same domain, {calls} interleaved"
                ),
                min_median_time(&t.one_call),
                min_median_time(&t.bare),
                min_ratio(&t.one_call, &t.bare),
            )
            .ratio_target(1.5, "≤ 1.5×"),
        );
        self.notes.push(
            "xend rows: the release xen-xend plugin through the public API against `virtkit-xend-peer` (a separate process serving xend's protocol on a unix socket), seeded with the corpus's xend outputs plus 1000 copies. The bare request connects, sends the same GET and reads the whole reply; the driver also parses the S-expression and answers through the loader. No real xend exists on these machines, so the peer is the only server."
                .into(),
        );
    }

    // ---- Xen lookups ----

    fn xenlookup(&mut self) {
        const G: &str = "xenlookup: xen-store vs xen-xend, lookups against their peers";
        let domains = 1000;
        let (picks, reps) = if self.o.quick { (10, 3) } else { (50, 10) };
        progress(
            "xenlookup: lookup by name and by id through xen-store and xen-xend, 1000 domains",
        );
        let dir = match tempfile::Builder::new()
            .prefix("vkb-xen-")
            .tempdir_in("/tmp")
        {
            Ok(d) => d,
            Err(e) => {
                self.skip(format!("xenlookup: cannot make a temporary directory: {e}"));
                return;
            }
        };
        let t = match xenlookup::measure(
            &self.o.release,
            &self.o.corpus,
            dir.path(),
            domains,
            picks,
            reps,
        ) {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("xenlookup: {e}"));
                return;
            }
        };
        let n = t.store_domains;
        let xend_n = t.xend_domains.map_or("—".to_string(), |x| x.to_string());
        for (what, store, xend) in [
            ("by name", &t.store_name, &t.xend_name),
            ("by id", &t.store_id, &t.xend_id),
        ] {
            self.rows.push(Row::info(
                G,
                format!(
                    "one lookup {what} (xen-store, {n} domains) vs xen-xend ({xend_n} domains)"
                ),
                min_median_time(store),
                xend.as_ref()
                    .map_or("not built".to_string(), min_median_time),
                xend.as_ref().and_then(|x| min_ratio(store, x)),
            ));
        }
        if t.xend_name.is_none() {
            self.skip(
                "xenlookup: the xen-xend member or its peer is not built; xen-store measured alone",
            );
        }
        self.notes.push(format!(
            "xenlookup rows: the release xen-store and xen-xend plugins through the public API in one child process, against `virtkit-xenstore-peer --guests {domains}` and `virtkit-xend-peer --populate {domains}` (separate processes on unix sockets); {picks} domains spread over the list, {reps} rounds, time per lookup. The store answers a lookup by name by reading each `/local/domain/<id>/name` in turn, as libvirt did, so its cost grows with the number of domains; by id it reads one node."
        ));
    }

    // ---- QEMU ----

    fn qemu(&mut self) {
        const G: &str = "QEMU (TCG guests: 64 MiB, no disk, -S)";
        progress("QEMU: start latency and list with running guests");
        if let Err(e) = qemu::binary() {
            self.skip(format!("QEMU: {e}"));
            return;
        }
        let dir = match tempfile::Builder::new()
            .prefix("vkb-qemu-")
            .tempdir_in("/tmp")
        {
            Ok(d) => d,
            Err(e) => {
                self.skip(format!("QEMU: cannot make a temporary directory: {e}"));
                return;
            }
        };
        let t = qemu::measure(
            &self.o.release,
            dir.path(),
            self.s.qemu_runs,
            self.s.qemu_guests,
            self.s.list_reps,
        );
        let leftovers = qemu::kill_leftovers(dir.path());
        if leftovers > 0 {
            self.notes.push(format!(
                "QEMU: {leftovers} QEMU process(es) of this run were still running at the end and were killed"
            ));
        }
        let t = match t {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("QEMU: {e}"));
                return;
            }
        };
        let runs = self.s.qemu_runs;
        self.rows.push(
            Row::info(
                G,
                format!(
                    "start → running (driver) vs bare `qemu -S` exec → QMP greeting, {runs} runs"
                ),
                min_median_time(&t.driver),
                min_median_time(&t.bare),
                min_ratio(&t.driver, &t.bare),
            )
            .ratio_target(1.2, "≤ 1.2×"),
        );
        self.rows.push(Row::info(
            G,
            "start → running (driver) vs bare QEMU exec → `cont` answered (no driver)",
            min_median_time(&t.driver),
            min_median_time(&t.bare_running),
            min_ratio(&t.driver, &t.bare_running),
        ));
        // The same ratio with no driver at all: what any start through QMP is bound by.
        self.rows.push(Row::info(
            G,
            "floor, no driver: bare QEMU exec → `cont` answered vs exec → QMP greeting",
            min_median_time(&t.bare_running),
            min_median_time(&t.bare),
            min_ratio(&t.bare_running, &t.bare),
        ));
        match &t.api {
            Some(Ok(a)) => self.rows.push(Row::info(
                G,
                "start → running through the public API + plugin vs bare greeting",
                min_median_time(a),
                min_median_time(&t.bare),
                min_ratio(a, &t.bare),
            )),
            Some(Err(e)) => self.skip(format!("QEMU start through the plugin: {e}")),
            None => self.skip(format!(
                "QEMU start through the plugin: {} is not built",
                self.o.release.join("libvirtkit_driver_qemu.so").display()
            )),
        }
        match &t.list {
            Ok(l) => {
                self.rows.push(Row::info(
                    G,
                    format!("list ids with {} guests running (median)", l.guests),
                    stats::time(stats::ns(l.list_ids)),
                    "—",
                    None,
                ));
                self.rows.push(Row::info(
                    G,
                    format!(
                        "list ids + name + state of each, {} guests (median)",
                        l.guests
                    ),
                    stats::time(stats::ns(l.list_with_states)),
                    "—",
                    None,
                ));
            }
            Err(e) => self.skip(format!("QEMU list with {} guests: {e}", self.s.qemu_guests)),
        }
        self.notes.push(
            "QEMU rows: the qemu driver's own `bench` functions (driver called directly, bare \
             QEMU measured in the same rounds, interleaved, so both see the same load); the \
             public-API row goes through the loader and the plugin. QEMU sends its QMP greeting \
             from the monitor thread before its main loop runs and answers the first command \
             only later, so bare exec → `cont` answered is the floor of any start through QMP. \
             libvirtd's QEMU driver is measured beside the virtkit CLI in the `libvirtd` group."
                .into(),
        );
    }

    // ---- Xen xm member: listing 1000 XM configs ----

    fn xm(&mut self) {
        const G: &str = "Xen xm member: `list --all` of 1000 XM configs";
        const N: usize = 1000;
        progress("xm: listing 1000 XM configs, cold and warm cache");
        let dir = self.tmp.path().join("xm");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.skip(format!("xm: {}: {e}", dir.display()));
            return;
        }
        let rounds = self.s.list_reps.max(3);
        let t = match xm::measure(&self.o.release, &dir, N, rounds) {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("xm: {e}"));
                return;
            }
        };
        self.rows.push(Row::info(
            G,
            "cold cache (new connection: read + parse every file) vs readdir + stat of the files",
            min_median_time(&t.cold),
            min_median_time(&t.stat),
            min_ratio(&t.cold, &t.stat),
        ));
        self.rows.push(
            Row::info(
                G,
                "warm cache (stat every file, parse none) vs readdir + stat of the files",
                min_median_time(&t.warm),
                min_median_time(&t.stat),
                min_ratio(&t.warm, &t.stat),
            )
            .ratio_target(2.0, "≤ 2×"),
        );
        match &t.api {
            Some(Ok((cold, warm))) => {
                self.rows.push(Row::info(
                    G,
                    "through the public API + plugin: open + list (cold) vs readdir + stat",
                    min_median_time(cold),
                    min_median_time(&t.stat),
                    min_ratio(cold, &t.stat),
                ));
                self.rows.push(Row::info(
                    G,
                    "through the public API + plugin: list again (warm) vs readdir + stat",
                    min_median_time(warm),
                    min_median_time(&t.stat),
                    min_ratio(warm, &t.stat),
                ));
            }
            Some(Err(e)) => self.skip(format!("xm listing through the plugin: {e}")),
            None => self.skip(format!(
                "xm listing through the plugin: {} is not built",
                self.o.release.join("libvirtkit_driver_xen_xm.so").display()
            )),
        }
        self.notes.push(
            "xm rows: the xm member's own `bench` functions (driver called directly), the floor \
             (readdir + stat of the same 1000 files) measured in the same rounds, interleaved; \
             the API rows go through the loader and the release plugin. No libvirt xm driver \
             runs here, so the peer column is the stat floor."
                .into(),
        );
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
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
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
    if run.wants("cli") {
        run.cli();
    }
    if run.wants("api") {
        run.api();
    }
    if run.wants("calls") {
        run.calls();
    }
    if run.wants("plugins") {
        run.plugins();
    }
    if run.wants("xml") {
        run.xml();
        run.xml_large();
    }
    if run.wants("xend") {
        run.xend();
    }
    if run.wants("xenlookup") {
        run.xenlookup();
    }
    if run.wants("qemu") {
        run.qemu();
    }
    if run.wants("xm") {
        run.xm();
    }
    if run.wants("libvirtd") && !o.no_peer {
        let out = libvirtd::run_group(&o.release, run.s.qemu_guests, run.s.list_reps);
        run.rows.extend(out.rows);
        out.skipped.into_iter().for_each(|s| run.skip(s));
        run.notes.extend(out.notes);
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
