//! Running `vzctl` and `vzlist`: shell-free, bounded in time and output, every value checked
//! against its allowed set before it reaches an argument vector, and every failure an error
//! that names the command.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use virtkit_driver::{Error, Result};

use crate::settings::{ROOT_ENV, Settings};

/// How long `vzctl` may take (starting a container runs its init scripts).
const VZCTL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `vzlist` may take.
const VZLIST_TIMEOUT: Duration = Duration::from_secs(60);
/// Output kept from one run.
const OUTPUT_CAP: usize = 1 << 20;

/// The highest container ID vzctl accepts.
pub const MAX_CTID: u32 = 2_147_483_644;

/// A container's state as `vzlist` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `running`.
    Running,
    /// `stopped`.
    Stopped,
    /// `mounted`: the private area is mounted, nothing runs.
    Mounted,
    /// `suspended`: checkpointed to a dump file (vzctl 4's `suspend`).
    Suspended,
}

impl Status {
    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "running" => Status::Running,
            "stopped" => Status::Stopped,
            "mounted" => Status::Mounted,
            "suspended" => Status::Suspended,
            _ => return None,
        })
    }
}

/// A checked value for a tool's argument vector.
fn allowed(value: &str, what: &str, max: usize, extra: &[char]) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_arg(format!(
            "{what} '{value}' is not allowed: up to {max} letters, digits or {}, not starting with '-'",
            extra
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(" ")
        )))
    }
}

/// A container name vzctl accepts (`--name`).
pub fn check_name(name: &str) -> Result<()> {
    allowed(name, "container name", 64, &['-', '_', '.'])
}

/// An OS template name (`--ostemplate`).
pub fn check_template(t: &str) -> Result<()> {
    allowed(t, "OS template", 128, &['-', '_', '.'])
}

/// A network device or bridge name (at most 15 bytes, no `,`, `;` or `=`, which `NETIF` uses).
pub fn check_device(d: &str, what: &str) -> Result<()> {
    allowed(d, what, 15, &['-', '_', '.'])
}

/// A numeric container ID in vzctl's range (0 is the host).
pub fn parse_ctid(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0')
    {
        return None;
    }
    s.parse().ok().filter(|n| (1..=MAX_CTID).contains(n))
}

/// The two tools of one connection.
#[derive(Clone, Debug)]
pub struct Tools {
    vzctl: PathBuf,
    vzlist: PathBuf,
    root: Option<PathBuf>,
}

/// A tool's answer.
pub struct Answer {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn describe(program: &std::path::Path, args: &[String]) -> String {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.display().to_string());
    std::iter::once(name)
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Tools {
    /// The tools named by `s`.
    pub fn new(s: &Settings) -> Tools {
        Tools {
            vzctl: s.vzctl.clone(),
            vzlist: s.vzlist.clone(),
            root: s.root.clone(),
        }
    }

    fn run(&self, program: &std::path::Path, args: &[String], timeout: Duration) -> Result<Answer> {
        let mut cmd = Command::new(program);
        cmd.args(args).env("LC_ALL", "C");
        if let Some(r) = &self.root {
            cmd.env(ROOT_ENV, r);
        }
        let out = virtkit_hostio::run_bounded(&mut cmd, timeout, OUTPUT_CAP).map_err(|e| {
            Error::operation_failed(format!("cannot run '{}': {e}", describe(program, args)))
        })?;
        Ok(Answer {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn failed(program: &std::path::Path, args: &[String], a: &Answer) -> Error {
        let why = a
            .stderr
            .lines()
            .chain(a.stdout.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let status = match a.code {
            Some(c) => format!("exit status {c}"),
            None => "a signal".to_string(),
        };
        Error::operation_failed(format!(
            "'{}' failed with {status}{}{}",
            describe(program, args),
            if why.is_empty() { "" } else { ": " },
            why
        ))
    }

    /// Runs `vzctl ARGS`; its standard output on success, an error naming the command
    /// otherwise.
    pub fn vzctl(&self, args: &[String]) -> Result<String> {
        let a = self.run(&self.vzctl, args, VZCTL_TIMEOUT)?;
        if a.code == Some(0) {
            Ok(a.stdout)
        } else {
            Err(Tools::failed(&self.vzctl, args, &a))
        }
    }

    /// vzctl's version as `major * 1_000_000 + minor * 1_000 + micro` (libvirt's encoding),
    /// from `vzctl --version`.
    pub fn version(&self) -> Result<u64> {
        let args = vec!["--version".to_string()];
        let a = self.run(&self.vzctl, &args, VZLIST_TIMEOUT)?;
        parse_version(&a.stdout)
            .or_else(|| parse_version(&a.stderr))
            .ok_or_else(|| {
                Error::operation_failed(format!(
                    "could not extract the vzctl version from the output of '{}'",
                    describe(&self.vzctl, &args)
                ))
            })
    }

    /// Lists every container (`vzlist -a -o<id>,status -H`) as (CTID, status). `id_field` is
    /// `vpsid` (the early tools and libvirt's early driver) or `ctid` (vzctl 4's name).
    pub fn list(&self, id_field: &str) -> Result<Vec<(u32, Status)>> {
        // The order libvirt's driver used: `vzlist -a -ovpsid,status -H`.
        let args: Vec<String> = ["-a", &format!("-o{id_field},status"), "-H"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = self.run(&self.vzlist, &args, VZLIST_TIMEOUT)?;
        if a.code != Some(0) {
            // vzlist says "Container(s) not found" and exits 1 when there is none.
            if a.code == Some(1) && a.stdout.trim().is_empty() && a.stderr.contains("not found") {
                return Ok(Vec::new());
            }
            return Err(Tools::failed(&self.vzlist, &args, &a));
        }
        parse_list(&a.stdout).map_err(|line| {
            Error::operation_failed(format!(
                "failed to parse the output of '{}': unexpected line '{line}'",
                describe(&self.vzlist, &args)
            ))
        })
    }
}

/// Parses `vzlist -H -o<id>,status` output: one `CTID status` line per container.
pub fn parse_list(text: &str) -> std::result::Result<Vec<(u32, Status)>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let parsed = match (f.next(), f.next(), f.next()) {
            (Some(id), Some(st), None) => id.parse::<u32>().ok().zip(Status::parse(st)),
            _ => None,
        };
        match parsed {
            Some(p) => out.push(p),
            None => return Err(line.chars().take(80).collect()),
        }
    }
    Ok(out)
}

/// Parses `vzctl version X.Y.Z` (the first line of `--version` and of `--help`).
pub fn parse_version(text: &str) -> Option<u64> {
    let rest = text.trim_start().strip_prefix("vzctl version ")?;
    let v = rest.split_whitespace().next()?;
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    let micro = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    (minor < 1000 && micro < 1000).then_some(major * 1_000_000 + minor * 1_000 + micro)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output() {
        let text = "       101 running\n       102 stopped\n  103 mounted  \n";
        assert_eq!(
            parse_list(text).unwrap(),
            vec![
                (101, Status::Running),
                (102, Status::Stopped),
                (103, Status::Mounted)
            ]
        );
        assert_eq!(parse_list("").unwrap(), vec![]);
        assert!(parse_list("101 running extra\n").is_err());
        assert!(parse_list("abc running\n").is_err());
        assert!(parse_list("101 exploded\n").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("vzctl version 4.9.4\n"), Some(4_009_004));
        assert_eq!(parse_version("vzctl version 3.0.29.3\n"), Some(3_000_029));
        assert_eq!(parse_version("vzctl version 4.0-rc2\n"), Some(4_000_000));
        assert_eq!(parse_version("usage: vzctl ..."), None);
    }

    #[test]
    fn values_are_checked_before_argv() {
        assert!(check_name("web-1.example_2").is_ok());
        for bad in ["", "-rf", "a b", "a;b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_template("centos-6-x86_64").is_ok());
        assert!(check_template("../etc").is_err());
        assert!(check_device("veth101.0", "device").is_ok());
        assert!(check_device("br,0", "bridge").is_err());
        assert!(check_device("a-very-long-bridge", "bridge").is_err());
        assert_eq!(parse_ctid("101"), Some(101));
        for bad in ["0", "0101", "-1", "2147483645", "1e3", "web"] {
            assert_eq!(parse_ctid(bad), None, "{bad}");
        }
    }
}
