//! Running the `virtkit` binary (with the test driver's plugin file) and the real `virsh` as
//! processes, and comparing what they print.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

pub fn virtkit_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_virtkit"))
}

/// The directory holding `libvirtkit_driver_test.so`, built from the current sources (once per
/// test process, by `virtkit_test_support`). The CLI tests are about the plugin path, not the
/// built-in copy.
pub fn plugin_dir() -> PathBuf {
    virtkit_test_support::plugin_dir("test").to_path_buf()
}

pub fn base_command(program: &Path) -> Command {
    let mut c = Command::new(program);
    for v in [
        "VIRTKIT_DEFAULT_URI",
        "LIBVIRT_DEFAULT_URI",
        "VIRSH_DEFAULT_CONNECT_URI",
        "VIRTKIT_DRIVER_DIR",
    ] {
        c.env_remove(v);
    }
    c.env("LC_ALL", "C").env("LANG", "C");
    c
}

/// How long one run of virtkit may take before it counts as hung (a bug).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one run of virsh may take before it is killed and retried.
const VIRSH_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `c` to completion, or kills it after `timeout` and returns `None`.
fn finish(mut c: Command, stdin: Option<&str>, timeout: Duration) -> Option<Run> {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", c.get_program()));
    // Standard input is written from its own thread while the outputs drain: a large input
    // whose answers fill the output pipes would otherwise block both sides.
    let feeder = stdin.map(|text| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let text = text.to_string();
        std::thread::spawn(move || {
            // The child may exit (quit, or a fatal error) before reading everything.
            let _ = pipe.write_all(text.as_bytes());
        })
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    );
    if let Some(f) = feeder {
        f.join().expect("stdin writer");
    }
    status.map(|s| Run {
        stdout,
        stderr,
        code: s.code().unwrap_or(-1),
    })
}

/// Runs `virtkit ARGS` with the plugin directory, no default URI, the C locale.
pub fn virtkit(args: &[&str]) -> Run {
    virtkit_with(args, None, &[])
}

/// Like [`virtkit`], with standard input and extra environment variables.
pub fn virtkit_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut c = base_command(&virtkit_bin());
    c.env("VIRTKIT_DRIVER_DIR", plugin_dir());
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args);
    finish(c, stdin, RUN_TIMEOUT)
        .unwrap_or_else(|| panic!("virtkit {args:?} did not finish within {RUN_TIMEOUT:?}"))
}

/// The real virsh, or `None` after saying why the comparison is skipped (a failure when `CI`
/// or `VIRTKIT_REQUIRE_VIRSH` is set).
#[track_caller]
pub fn virsh_or_skip() -> Option<PathBuf> {
    virtkit_test_support::find(&virtkit_test_support::VIRSH)
}

/// Runs the real virsh with the same arguments. virsh 9.0's job watcher (save, dump) now and
/// then never notices that the job ended and waits forever; such a run is killed and retried.
pub fn virsh(path: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let mut c = base_command(path);
        c.args(args);
        if let Some(run) = finish(c, stdin, VIRSH_TIMEOUT) {
            return run;
        }
        eprintln!("virsh {args:?} hung for {VIRSH_TIMEOUT:?}: killed, trying again");
    }
    panic!("virsh {args:?} hung {ATTEMPTS} times")
}

/// Drops the lines virsh and virtkit cannot agree on because they measure time
/// (`CPU time:` in dominfo and vcpuinfo).
pub fn without_cpu_time(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("CPU time:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Asserts two runs printed the same bytes on both streams and exited alike.
#[track_caller]
pub fn assert_same(what: &str, virsh: &Run, ours: &Run) {
    assert_eq!(
        ours.stdout, virsh.stdout,
        "{what}: stdout differs from virsh's\nvirsh:\n{}\nvirtkit:\n{}",
        virsh.stdout, ours.stdout
    );
    assert_eq!(
        ours.stderr, virsh.stderr,
        "{what}: stderr differs from virsh's"
    );
    assert_eq!(
        ours.code, virsh.code,
        "{what}: exit status differs from virsh's"
    );
}

/// Writes `content` to `name` in `dir` and returns the path as text.
pub fn write_file(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write test file");
    p.to_str().expect("UTF-8 temp path").to_string()
}

/// A small persistent domain for lifecycle tests.
pub const DOMAIN_XML: &str = "<domain type='test'>
  <name>vm1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory>65536</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
";

/// A small network for net-* tests.
pub const NETWORK_XML: &str = "<network>
  <name>net1</name>
  <uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid>
  <bridge name='virbr5'/>
  <ip address='192.168.5.1' netmask='255.255.255.0'/>
</network>
";
