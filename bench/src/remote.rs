//! The `remote` group: existing libvirt clients through virtkitd beside the same clients through
//! libvirt's own daemon, both started by the bench and serving a test driver.
//!
//! * `/usr/bin/python3` with python3-libvirt: `lookupByName("test")` + `info()` in a loop, with 1
//!   and with 8 client threads, each thread on a connection of its own
//!   (`test+unix:///default?socket=…`). Throughput is the pairs of calls all threads finished
//!   divided by the wall time from a common start to the last thread's end; p50 and p99 are over
//!   every pair's latency (each pair is two RPC calls). Rounds alternate between the daemons.
//! * `virsh -c 'test+unix:///default?socket=…' list --all`, one process per run, spawn to exit,
//!   alternating between the daemons.
//!
//! virtkitd is this build's release binary with the release directory's plugins (its test
//! driver), on a socket in the run's temporary directory, at its default log level. libvirtd is
//! Debian's 9.0, run as root in a private mount namespace (`unshare -m`, tmpfs over `/run`,
//! `/var/lib`, `/var/cache` and `/var/log`; a private `/etc/passwd`/`/etc/group` naming the
//! `libvirt-qemu` user its QEMU module resolves at start) with its own config (socket directory,
//! `auth_unix_rw = "none"`) and pid file, as `crates/virtkitd/tests` start it; it serves its own
//! test driver. Both get SIGTERM at the end (SIGKILL after 10 s) and are reaped; the namespace
//! goes with libvirtd.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::peer::PYTHON;
use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, progress};

const LIBVIRTD: &str = "/usr/sbin/libvirtd";
const VIRSH: &str = "/usr/bin/virsh";
const GROUP: &str = "remote: libvirt clients through virtkitd vs libvirtd 9.0 (test drivers)";

/// The client: one connection per thread, a barrier, then `calls` pairs each.
const SCRIPT: &str = r#"
import json, sys, threading, time
import libvirt

libvirt.registerErrorHandler(lambda ctx, err: None, None)
now = time.perf_counter_ns
req = json.load(open(sys.argv[1]))
uri, name, threads, calls = req["uri"], req["name"], req["threads"], req["calls"]
conns = [libvirt.open(uri) for _ in range(threads)]
for c in conns:
    d = c.lookupByName(name)
    if d.info()[0] != libvirt.VIR_DOMAIN_RUNNING:
        raise SystemExit("%s is not running on %s" % (name, uri))
    for _ in range(50):
        c.lookupByName(name).info()
lat = [None] * threads
start = threading.Barrier(threads + 1)

def client(i):
    look = conns[i].lookupByName
    out = []
    start.wait()
    for _ in range(calls):
        t = now()
        look(name).info()
        out.append(now() - t)
    lat[i] = out

ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
start.wait()
t0 = now()
c0 = time.process_time_ns()
for t in ts:
    t.join()
wall = now() - t0
cpu = time.process_time_ns() - c0
for c in conns:
    c.close()
all_lat = sorted(x for l in lat for x in l)
n = len(all_lat)
json.dump({"pairs": n, "wall_ns": wall, "cpu_ns": cpu,
           "p50": all_lat[n // 2], "p99": all_lat[min(n - 1, (n * 99) // 100)]}, sys.stdout)
"#;

/// A daemon the bench started: its process (the daemon itself: `unshare` and `sh` exec it) and
/// its read-write socket. Stopped and reaped on drop.
struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// CPU time (user + system, every thread) the daemon has used so far, in nanoseconds.
    fn cpu_ns(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(ticks * 1e9 / clock_ticks())
    }

    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }

    /// Waits until the socket accepts a connection.
    fn wait(mut self, what: &str) -> Result<Daemon, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(&self.socket).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!(
                    "{what} exited ({status}) before listening: {}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what} did not listen within 30 s: {}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(self)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    fn virtkitd(release: &Path, dir: &Path) -> Result<Daemon, String> {
        let socket = dir.join("virtkit-sock");
        let log = dir.join("virtkitd.log");
        let child = Command::new(release.join("virtkitd"))
            .arg("--socket")
            .arg(&socket)
            .env("VIRTKIT_DRIVER_DIR", release)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run virtkitd: {e}"))?;
        Daemon {
            child: Some(child),
            socket,
            log,
        }
        .wait("virtkitd")
    }

    fn libvirtd(dir: &Path) -> Result<Daemon, String> {
        let conf = dir.join("libvirtd.conf");
        let log = dir.join("libvirtd.stderr");
        let write =
            |p: &Path, t: &str| std::fs::write(p, t).map_err(|e| format!("{}: {e}", p.display()));
        write(
            &conf,
            &format!(
                "unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 log_outputs = \"3:file:{}\"\n",
                dir.display(),
                dir.join("libvirtd.log").display()
            ),
        )?;
        let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut group = std::fs::read_to_string("/etc/group").unwrap_or_default();
        if !passwd.lines().any(|l| l.starts_with("libvirt-qemu:")) {
            passwd.push_str("libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin\n");
        }
        for g in ["libvirt-qemu:x:64055:", "kvm:x:64056:"] {
            let name = g.split(':').next().unwrap_or_default();
            if !group.lines().any(|l| l.starts_with(&format!("{name}:"))) {
                group.push_str(g);
                group.push('\n');
            }
        }
        write(&dir.join("passwd"), &passwd)?;
        write(&dir.join("group"), &group)?;
        let script = format!(
            "set -e; for m in /run /var/lib /var/cache /var/log; do mount -t tmpfs none $m; done; \
             mount --bind '{d}/passwd' /etc/passwd; mount --bind '{d}/group' /etc/group; \
             exec {LIBVIRTD} --config '{conf}' --pid-file '{d}/libvirtd.pid'",
            d = dir.display(),
            conf = conf.display()
        );
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        Daemon {
            child: Some(child),
            socket: dir.join("libvirt-sock"),
            log,
        }
        .wait("libvirtd")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        if matches!(child.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }
}

fn why_not(release: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("libvirtd runs in a private mount namespace, which needs root".into());
    }
    for (p, pkg) in [
        (LIBVIRTD, "libvirt-daemon"),
        (VIRSH, "libvirt-clients"),
        (PYTHON, "python3-libvirt"),
    ] {
        if !Path::new(p).exists() {
            return Some(format!(
                "{p} is missing (package {pkg}; install it with scripts/install-test-deps.sh)"
            ));
        }
    }
    if crate::procs::which("unshare").is_none() {
        return Some("unshare (util-linux) is not on PATH".into());
    }
    for f in ["virtkitd", "libvirtkit_driver_test.so"] {
        if !release.join(f).exists() {
            return Some(format!(
                "{} is not built (cargo build --release --workspace)",
                release.join(f).display()
            ));
        }
    }
    None
}

/// One round of the Python client against `uri`.
struct Round {
    per_s: f64,
    /// The client's own CPU time per pair (every thread).
    client_cpu: f64,
    p50: f64,
    p99: f64,
}

fn python_round(
    script: &Path,
    dir: &Path,
    uri: &str,
    threads: usize,
    calls: usize,
) -> Result<Round, String> {
    let req = dir.join("remote-request.json");
    let body = json!({"uri": uri, "name": "test", "threads": threads, "calls": calls});
    std::fs::write(&req, body.to_string()).map_err(|e| e.to_string())?;
    let out = Command::new(PYTHON)
        .arg(script)
        .arg(&req)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the python3-libvirt client failed against {uri} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("client's JSON: {e}"))?;
    let num = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("client's JSON has no {k}"))
    };
    let (pairs, wall) = (num("pairs")?, num("wall_ns")?);
    if pairs != (threads * calls) as f64 || wall <= 0.0 {
        return Err(format!(
            "the client made {pairs} pairs, expected {}",
            threads * calls
        ));
    }
    Ok(Round {
        per_s: pairs / (wall / 1e9),
        client_cpu: num("cpu_ns")? / pairs,
        p50: num("p50")?,
        p99: num("p99")?,
    })
}

/// Runs `virsh list --all` once; its time, after checking it listed the test domain.
fn virsh_list(uri: &str) -> Result<f64, String> {
    let t = Instant::now();
    let out = Command::new(VIRSH)
        .args(["-c", uri, "list", "--all"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run virsh: {e}"))?;
    let ns = stats::ns(t.elapsed());
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || !text
            .lines()
            .any(|l| l.contains(" test ") && l.contains("running"))
    {
        return Err(format!(
            "virsh -c {uri} list --all failed or does not list 'test': {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(ns)
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Median of the rounds' values.
fn median(v: &[f64]) -> f64 {
    Summary::of(v).map(|s| s.median).unwrap_or(f64::NAN)
}

fn best_median_rate(v: &[f64]) -> String {
    let best = v.iter().copied().fold(0.0, f64::max);
    format!("{} (median {})", stats::rate(best), stats::rate(median(v)))
}

impl Run<'_> {
    /// The `remote` group. It is all comparison with libvirtd, so `--no-peer` leaves it out.
    pub(crate) fn remote(&mut self) {
        if self.o.no_peer {
            return;
        }
        if let Some(why) = why_not(&self.o.release) {
            self.skip(format!("remote: {why}"));
            return;
        }
        let (rounds, calls1, calls8, virsh_runs) = if self.o.quick {
            (1, 500, 200, 3)
        } else {
            (5, 10_000, 2_500, 30)
        };
        let load_start = load_average();
        match self.measure_remote(rounds, calls1, calls8, virsh_runs) {
            Ok(()) => self.notes.push(format!(
                "remote rows: virtkitd (this build, release, default log level) and Debian's libvirtd 9.0 (root, private mount namespace, its own config and socket directory, auth none), both serving their test driver's `test:///default` and started by the bench in the same run, stopped after. Python: `/usr/bin/python3` + python3-libvirt, `lookupByName('test').info()` pairs (2 RPC calls each), one connection per client thread, {rounds} round(s) per thread count of {calls1} pairs (1 thread) and {calls8} pairs per thread (8 threads), the daemons alternating; throughput = all pairs ÷ wall time from a common start, p50/p99 over every pair's latency; daemon CPU time = the daemon's user + system time (/proc/PID/stat, every thread) over a round ÷ its pairs, the clients' connection set-up and 50 warm-up pairs per thread included; the throughput rows' ratio is virtkitd's time per pair ÷ libvirtd's (= libvirtd's throughput ÷ virtkitd's), so the goal virtkitd ≥ 2× libvirtd's throughput is ratio ≤ 0.5×. virsh: one process per `list --all`, spawn to exit, alternating. 1-minute load average {load_start} when the group started, {} when it ended.",
                load_average()
            )),
            Err(e) => self.skip(format!("remote: {e}")),
        }
    }

    fn measure_remote(
        &mut self,
        rounds: usize,
        calls1: usize,
        calls8: usize,
        virsh_runs: usize,
    ) -> Result<(), String> {
        let dir = self.tmp.path().join("remote");
        let (vdir, ldir) = (dir.join("virtkitd"), dir.join("libvirtd"));
        for d in [&vdir, &ldir] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let script = dir.join("remote_client.py");
        std::fs::write(&script, SCRIPT).map_err(|e| e.to_string())?;
        progress("remote: starting virtkitd and libvirtd");
        let vk = Daemon::virtkitd(&self.o.release, &vdir)?;
        let lv = Daemon::libvirtd(&ldir)?;
        let sides = [vk.uri(), lv.uri()];
        let daemons = [&vk, &lv];

        for (threads, calls) in [(1usize, calls1), (8, calls8)] {
            progress(&format!("remote: python3-libvirt, {threads} thread(s)"));
            let mut rate = [Vec::new(), Vec::new()];
            let mut p50 = [Vec::new(), Vec::new()];
            let mut p99 = [Vec::new(), Vec::new()];
            let mut cpu = [Vec::new(), Vec::new()];
            let mut client = [Vec::new(), Vec::new()];
            for _ in 0..rounds {
                for (i, uri) in sides.iter().enumerate() {
                    let before = daemons[i].cpu_ns();
                    let r = python_round(&script, &dir, uri, threads, calls)?;
                    if let (Some(a), Some(b)) = (before, daemons[i].cpu_ns()) {
                        cpu[i].push((b - a) / (threads * calls) as f64);
                    }
                    rate[i].push(r.per_s);
                    client[i].push(r.client_cpu);
                    p50[i].push(r.p50);
                    p99[i].push(r.p99);
                }
            }
            let (vr, lr) = (median(&rate[0]), median(&rate[1]));
            let tput = vr / lr;
            self.rows.push(
                Row::info(
                    GROUP,
                    format!(
                        "python3-libvirt lookupByName + info, {threads} thread(s): pairs/s (virtkitd {} libvirtd's throughput)",
                        stats::ratio(tput)
                    ),
                    best_median_rate(&rate[0]),
                    best_median_rate(&rate[1]),
                    (vr > 0.0).then(|| lr / vr),
                )
                .ratio_target(0.5, "≥ 2× throughput (≤ 0.5×)"),
            );
            if !cpu[0].is_empty() && !cpu[1].is_empty() {
                let (a, b) = (median(&cpu[0]), median(&cpu[1]));
                self.rows.push(Row::info(
                    GROUP,
                    format!("python3-libvirt lookupByName + info, {threads} thread(s): daemon CPU time per pair (median of rounds)"),
                    stats::time(a),
                    stats::time(b),
                    (b > 0.0).then(|| a / b),
                ));
            }
            let (a, b) = (median(&client[0]), median(&client[1]));
            self.rows.push(Row::info(
                GROUP,
                format!("python3-libvirt lookupByName + info, {threads} thread(s): the client's own CPU time per pair (median of rounds)"),
                stats::time(a),
                stats::time(b),
                (b > 0.0).then(|| a / b),
            ));
            for (what, v) in [("p50", &p50), ("p99", &p99)] {
                let (a, b) = (median(&v[0]), median(&v[1]));
                self.rows.push(Row::info(
                    GROUP,
                    format!("python3-libvirt lookupByName + info, {threads} thread(s): {what} latency (median of rounds)"),
                    stats::time(a),
                    stats::time(b),
                    (b > 0.0).then(|| a / b),
                ));
            }
            progress(&format!(
                "remote: {threads} thread(s): virtkitd {} libvirtd {} ({} libvirtd's throughput)",
                stats::rate(vr),
                stats::rate(lr),
                stats::ratio(tput)
            ));
        }

        progress("remote: virsh list --all");
        let mut times = [Vec::new(), Vec::new()];
        for uri in &sides {
            virsh_list(uri)?; // warm-up (page cache)
        }
        for _ in 0..virsh_runs {
            for (i, uri) in sides.iter().enumerate() {
                times[i].push(virsh_list(uri)?);
            }
        }
        let (v, l) = (
            Summary::of(&times[0]).ok_or("no samples")?,
            Summary::of(&times[1]).ok_or("no samples")?,
        );
        self.rows.push(Row::info(
            GROUP,
            format!("`virsh -c test+unix:///default?socket=… list --all`, whole process, median of {virsh_runs}"),
            format!("{} (min {})", stats::time(v.median), stats::time(v.min)),
            format!("{} (min {})", stats::time(l.median), stats::time(l.min)),
            (l.median > 0.0).then(|| v.median / l.median),
        ));
        drop(vk);
        drop(lv);
        Ok(())
    }
}
