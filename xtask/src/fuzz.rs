//! `cargo xtask fuzz [--time S] [--target NAME]... [--replay]`: every fuzz target in `fuzz/`.
//!
//! Installs `cargo-fuzz` when it is missing (it needs the nightly toolchain, which must be
//! there), seeds each target's corpus (`fuzz/corpus/<target>`, ignored by git) from the shared
//! corpus and the committed seeds (`fuzz/seeds/<target>`), then runs each target for `S`
//! seconds (default 60) under `nice`, one after the other. Prints one line per target:
//! executions, and crash files left in `fuzz/artifacts/<target>`. Fails when any target
//! crashed.
//!
//! `--replay` runs only the regression inputs (`fuzz/regressions/<target>`: every crash found
//! so far, kept) once each: the quick check that every kept crash stays fixed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, root, run};

fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// `cargo +nightly fuzz ...` in `fuzz/`, under `nice` so the machine stays usable.
fn cargo_fuzz() -> Command {
    let mut c = Command::new("nice");
    c.args(["-n", "10", "cargo", "+nightly", "fuzz"]);
    c.current_dir(fuzz_dir());
    // The xtask runs under stable cargo: let rustup pick the toolchain from `+nightly`.
    c.env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO");
    c
}

fn ensure_tools() -> Result<()> {
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if !nightly.status.success() {
        return Err(
            "fuzzing needs the nightly toolchain (rustup toolchain install nightly --profile minimal)"
                .into(),
        );
    }
    let have = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("xtask: cargo-fuzz is missing; installing it (about 3 minutes)");
        let mut c = Command::new("cargo");
        c.args(["install", "cargo-fuzz", "--locked"]);
        run(c)?;
    }
    Ok(())
}

/// The targets `fuzz/Cargo.toml` declares.
fn targets() -> Result<Vec<String>> {
    let out = cargo_fuzz()
        .arg("list")
        .output()
        .map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn copy_matching(from: &Path, to: &Path, ext: &[&str]) -> std::io::Result<usize> {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(from) else {
        return Ok(0);
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            n += copy_matching(&p, to, ext)?;
        } else if ext.is_empty()
            || p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ext.contains(&x))
        {
            // Flatten the tree: prefix with the parent directory's name to keep names apart.
            let parent = p
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|d| d.to_str())
                .unwrap_or("");
            let name = format!("{parent}-{}", p.file_name().unwrap().to_string_lossy());
            std::fs::copy(&p, to.join(name))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Fills `fuzz/corpus/<target>` with seeds: the committed ones, and for the XML-like targets the
/// shared corpus's files of the matching kind (copied at run time only; never committed).
fn seed(target: &str) -> Result<PathBuf> {
    let corpus = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let shared = std::env::var_os("VIRTKIT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
        .join("corpus");
    let io = |e: std::io::Error| format!("seeding {target}: {e}");
    copy_matching(&fuzz_dir().join("seeds").join(target), &corpus, &[]).map_err(io)?;
    match target {
        "parse_xml" | "node_file" => {
            copy_matching(&shared, &corpus, &["xml"]).map_err(io)?;
            copy_matching(
                &root().join("crates/virtkit-xml/tests/data/invalid"),
                &corpus,
                &["xml"],
            )
            .map_err(io)?;
        }
        "parse_conf" => {
            copy_matching(&shared, &corpus, &["cfg", "conf"]).map_err(io)?;
        }
        // The Xen conversions: xend S-expressions (and the crate's malformed ones) for the
        // S-expression targets, the Xen corpus's domain XML for the other direction.
        "parse_sexpr" | "sexpr_to_xml" => {
            for d in ["sexpr2xml", "xml2sexpr"] {
                copy_matching(&shared.join(d), &corpus, &["sexpr"]).map_err(io)?;
            }
            copy_matching(
                &root().join("crates/virtkit-xen/tests/data/bad-sexpr"),
                &corpus,
                &["sexpr"],
            )
            .map_err(io)?;
        }
        "openvz_config" => {
            copy_matching(&shared.join("openvz"), &corpus, &["conf"]).map_err(io)?;
        }
        "xml_to_sexpr" => {
            for d in ["sexpr2xml", "xml2sexpr"] {
                copy_matching(&shared.join(d), &corpus, &["xml"]).map_err(io)?;
            }
        }
        _ => {}
    }
    Ok(corpus)
}

/// `stat::number_of_executed_units: N` from libFuzzer's final statistics.
fn executions(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|v| v.trim().parse().ok())
}

fn artifacts(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("artifacts").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs the fuzz targets; see the module documentation for the arguments.
pub(crate) fn fuzz(args: &[String]) -> Result<()> {
    let mut time = 60u64;
    let mut only = Vec::new();
    let mut replay = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                time = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|t| *t > 0)
                    .ok_or("--time takes a number of seconds greater than 0")?;
            }
            "--target" => only.push(it.next().ok_or("--target takes a target name")?.clone()),
            "--replay" => replay = true,
            other => return Err(format!("unknown fuzz option '{other}'")),
        }
    }
    ensure_tools()?;
    let all = targets()?;
    for t in &only {
        if !all.contains(t) {
            return Err(format!(
                "no fuzz target '{t}' (targets: {})",
                all.join(", ")
            ));
        }
    }
    let chosen: Vec<&String> = all
        .iter()
        .filter(|t| only.is_empty() || only.contains(t))
        .collect();
    let mut c = cargo_fuzz();
    c.args(["build", "-O"]);
    run(c)?;
    let mut report = Vec::new();
    let mut crashed = Vec::new();
    for t in chosen {
        let regressions = fuzz_dir().join("regressions").join(t);
        let before = artifacts(t).len();
        let mut c = cargo_fuzz();
        c.args(["run", "-O", t]);
        if replay {
            if !regressions.is_dir() {
                report.push(format!("{t:16} no regression inputs"));
                continue;
            }
            c.arg(&regressions);
            c.args(["--", "-runs=0"]);
        } else {
            // The kept crashes are not part of a live run: one not fixed yet would end the run
            // at its first input. `--replay` runs them.
            let corpus = seed(t)?;
            c.arg(&corpus);
            // The XML dictionary serves every XML input, the S-expression one the xend targets.
            let dict = match t.as_str() {
                "parse_xml" | "node_file" | "xml_to_sexpr" => "parse_xml.dict".to_string(),
                "parse_sexpr" | "sexpr_to_xml" => "sexpr.dict".to_string(),
                other => format!("{other}.dict"),
            };
            let dict = Some(fuzz_dir().join(dict)).filter(|d| d.is_file());
            c.arg("--");
            if let Some(dict) = dict {
                c.arg(format!("-dict={}", dict.display()));
            }
            c.args([
                format!("-max_total_time={time}"),
                "-rss_limit_mb=2048".into(),
                "-malloc_limit_mb=1024".into(),
                "-timeout=30".into(),
                "-print_final_stats=1".into(),
            ]);
        }
        eprintln!("xtask: fuzzing {t}");
        let out = c
            .output()
            .map_err(|e| format!("cannot run cargo fuzz run {t}: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let new: Vec<PathBuf> = artifacts(t).into_iter().skip(before).collect();
        let execs = executions(&stderr)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into());
        if !out.status.success() {
            // The crash as libFuzzer and the panic reported it, without cargo-fuzz's own
            // backtrace that follows.
            let report: Vec<&str> = stderr
                .lines()
                .take_while(|l| !l.starts_with("Error: Fuzz target exited"))
                .filter(|l| {
                    let t = l.trim_start();
                    !(t.starts_with("at ")
                        || t.split_once(": ")
                            .is_some_and(|(n, _)| n.parse::<u32>().is_ok()))
                })
                .collect();
            let from = report.len().saturating_sub(40);
            eprintln!("{}", report[from..].join("\n"));
            crashed.push(t.clone());
        }
        report.push(format!(
            "{t:16} {execs:>12} executions  {}{}",
            if out.status.success() {
                "ok"
            } else {
                "CRASHED"
            },
            if new.is_empty() {
                String::new()
            } else {
                format!(
                    "  new artifacts: {}",
                    new.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    eprintln!(
        "xtask: fuzz summary ({}):",
        if replay {
            "replay of the kept crashes".to_string()
        } else {
            format!("{time} s per target")
        }
    );
    for r in &report {
        eprintln!("  {r}");
    }
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets crashed: {} (inputs in fuzz/artifacts/<target>; keep each in \
             fuzz/regressions/<target> and add a test where the code lives)",
            crashed.join(", ")
        ))
    }
}
