//! What the remote plugin's tests share: running a client (the virtkit CLI with the remote
//! plugin, or virsh) as a process and comparing its output.

use std::path::Path;
use std::process::{Command, Stdio};

/// A finished client run.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `program` with `args` in the C locale, with the remote plugin's directory and no
/// default URIs from the environment.
pub fn run(program: &Path, args: &[&str]) -> Run {
    let out = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .env(
            "VIRTKIT_DRIVER_DIR",
            virtkit_test_support::plugin_dir("remote"),
        )
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRTKIT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// `r` without dominfo's "CPU time:" line (it moves between two runs).
pub fn without_cpu_time(mut r: Run) -> Run {
    r.stdout = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with("CPU time:"))
        .map(|l| format!("{l}\n"))
        .collect();
    r
}
