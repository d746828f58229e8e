//! Whole processes: finding tools, timing commands (hyperfine, or a plain timer), peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stats::{self, Summary};

/// A command line to run.
#[derive(Clone, Debug)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Cmd {
        Cmd {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }

    /// The command as a shell would read it (each word single-quoted when needed).
    pub fn shell_words(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .map(|w| quote(&w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the command once and returns its standard output, or a one-line reason.
    pub fn output(&self) -> Result<String, String> {
        let out = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "`{}` failed ({}): {}",
                self.shell_words(),
                out.status,
                err.lines().next().unwrap_or("").trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The first executable `name` in `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How whole-process times were measured.
pub enum Timer {
    Hyperfine(PathBuf),
    /// No hyperfine: spawn and wait, timed with a monotonic clock.
    Plain,
}

/// Wall-clock time of each command (nanoseconds): `runs` runs after `warmup` unmeasured ones.
pub fn time_commands(
    timer: &Timer,
    cmds: &[&Cmd],
    warmup: usize,
    runs: usize,
    tmp: &Path,
) -> Result<Vec<Summary>, String> {
    match timer {
        Timer::Hyperfine(h) => {
            let json = tmp.join("hyperfine.json");
            let mut c = Command::new(h);
            c.args(["-N", "--style", "none", "--warmup"])
                .arg(warmup.to_string())
                .arg("--runs")
                .arg(runs.to_string())
                .arg("--export-json")
                .arg(&json);
            for cmd in cmds {
                c.arg(cmd.shell_words());
            }
            let out = c
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run hyperfine: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "hyperfine failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let text = std::fs::read_to_string(&json)
                .map_err(|e| format!("cannot read hyperfine's JSON: {e}"))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("hyperfine JSON: {e}"))?;
            let results = v["results"]
                .as_array()
                .ok_or("hyperfine JSON has no results")?;
            results
                .iter()
                .map(|r| {
                    let times: Vec<f64> = r["times"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|t| t.as_f64())
                                .map(|s| s * 1e9)
                                .collect()
                        })
                        .unwrap_or_default();
                    Summary::of(&times).ok_or_else(|| "hyperfine reported no times".to_string())
                })
                .collect()
        }
        Timer::Plain => cmds
            .iter()
            .map(|cmd| {
                let mut times = Vec::with_capacity(runs);
                for i in 0..warmup + runs {
                    let t = Instant::now();
                    let st = cmd
                        .command()
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .map_err(|e| format!("cannot run {}: {e}", cmd.program.display()))?;
                    let dt = t.elapsed();
                    if !st.success() {
                        return Err(format!("`{}` failed: {st}", cmd.shell_words()));
                    }
                    if i >= warmup {
                        times.push(stats::ns(dt));
                    }
                }
                Summary::of(&times).ok_or_else(|| "no runs".to_string())
            })
            .collect(),
    }
}

/// Peak resident set (KiB) of `cmd`, measured `runs` times: each time this binary is re-run as
/// a small wrapper (`__maxrss`) whose only child is `cmd`, so that the wrapper's
/// `getrusage(RUSAGE_CHILDREN).ru_maxrss` is exactly the child's peak.
pub fn peak_rss_kib(cmd: &Cmd, runs: usize) -> Result<Summary, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let mut args = vec!["__maxrss".to_string(), cmd.program.display().to_string()];
        args.extend(cmd.args.iter().cloned());
        let out = Command::new(&me)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run the RSS wrapper: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let kib: f64 = text.trim().parse().map_err(|_| {
            format!(
                "RSS wrapper: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        samples.push(kib);
    }
    Summary::of(&samples).ok_or_else(|| "no runs".into())
}

/// The `__maxrss PROGRAM ARGS...` wrapper: runs the command (output discarded) and prints its
/// peak RSS in KiB.
pub fn maxrss_main(args: &[String]) -> i32 {
    use nix::sys::resource::{UsageWho, getrusage};
    let Some((prog, rest)) = args.split_first() else {
        eprintln!("usage: virtkit-bench __maxrss PROGRAM [ARGS...]");
        return 2;
    };
    let status = Command::new(prog)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("{prog} failed: {s}");
            return 1;
        }
        Err(e) => {
            eprintln!("cannot run {prog}: {e}");
            return 1;
        }
    }
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        // Linux reports ru_maxrss in KiB.
        Ok(u) => {
            println!("{}", u.max_rss());
            0
        }
        Err(e) => {
            eprintln!("getrusage: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("list"), "list");
        assert_eq!(quote("test:///default"), "test:///default");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
