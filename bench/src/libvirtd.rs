//! libvirt's own QEMU driver beside virtkit's: Debian's `libvirtd` 9.0 (with
//! `libvirt-daemon-driver-qemu`) started by the bench in a private mount namespace, and the same
//! TCG guests started, listed, queried and destroyed through `virsh` and through the `virtkit`
//! CLI, one process per command on both sides, interleaved so both see the same load.
//!
//! The daemon runs as root (it must: `qemu:///system`) under `unshare -m`, with tmpfs over
//! `/run/libvirt`, `/var/lib/libvirt`, `/var/log/libvirt`, `/var/cache/libvirt` and
//! `/etc/libvirt` (where its `qemu.conf` goes: `user`/`group` root, `security_driver = "none"`,
//! no cgroups), a private `/etc/passwd`/`/etc/group` with a `libvirt-qemu` user when the host has
//! none (libvirtd resolves it before reading `qemu.conf`), `virtlogd` beside it, and its sockets
//! in this run's temporary directory (`unix_sock_dir`, `auth_unix_rw = "none"`). Nothing of it is
//! visible outside the namespace, and the namespace goes with its last process: at the end the
//! guests are destroyed, both daemons get SIGTERM (SIGKILL after 10 s), the namespace's shell
//! reaps them, and any QEMU whose command line still names this run's guests is killed by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Run;
use crate::report::Row;
use crate::stats::{self, Summary};

const LIBVIRTD: &str = "/usr/sbin/libvirtd";
const VIRTLOGD: &str = "/usr/sbin/virtlogd";
const VIRSH: &str = "/usr/bin/virsh";
const QEMU_MODULE: &str =
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so";
const GROUP: &str = "QEMU: libvirtd 9.0's QEMU driver (virsh) vs virtkit CLI, whole process";

/// What the group measured, for the caller to merge into its report.
#[derive(Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
}

/// The guest both sides run: 64 MiB, TCG, no disk. ACPI is on because libvirt 9.0 spells "off"
/// as `-no-acpi`, which QEMU 10 no longer has.
fn guest_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os><features><acpi/></features></domain>"
    )
}

/// The shell run as the namespace's first process: private directories, then both daemons in
/// the background (their pids written at once), then `wait`, so the shell reaps them.
const NAMESPACE_SCRIPT: &str = r#"set -eu
D=$1
for d in /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt; do
  mkdir -p "$d"
  mount -t tmpfs -o mode=0755 vkb-libvirt "$d"
done
cp "$D/qemu.conf" /etc/libvirt/qemu.conf
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt/qemu
if ! getent passwd libvirt-qemu >/dev/null; then
  cp /etc/passwd "$D/passwd"
  echo "libvirt-qemu:x:64055:64055:libvirt QEMU:/var/lib/libvirt:/usr/sbin/nologin" >> "$D/passwd"
  cp /etc/group "$D/group"
  getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >> "$D/group"
  getent group kvm >/dev/null || echo "kvm:x:64056:" >> "$D/group"
  mount --bind "$D/passwd" /etc/passwd
  mount --bind "$D/group" /etc/group
fi
/usr/sbin/virtlogd -p "$D/virtlogd.pid" &
echo $! > "$D/virtlogd.child"
/usr/sbin/libvirtd --config "$D/libvirtd.conf" --pid-file "$D/libvirtd.pid" &
echo $! > "$D/libvirtd.child"
wait
"#;

/// A running libvirtd in its own mount namespace. Dropping it stops everything it started.
struct Daemon {
    dir: PathBuf,
    shell: Option<Child>,
    pids: Vec<i32>,
    /// Guest names start with it: leftovers are found by it.
    prefix: String,
}

impl Daemon {
    fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.dir.join("sock/libvirt-sock").display()
        )
    }

    fn start(dir: &Path) -> Result<Daemon, String> {
        let sock = dir.join("sock");
        std::fs::create_dir_all(&sock).map_err(|e| format!("{}: {e}", sock.display()))?;
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        write(
            "libvirtd.conf",
            format!(
                "unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 unix_sock_group = \"root\"\nunix_sock_rw_perms = \"0700\"\nlog_outputs = \"3:stderr\"\n",
                sock.display()
            ),
        )?;
        write(
            "qemu.conf",
            "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nsecurity_driver = \"none\"\n\
             cgroup_controllers = [ ]\n"
                .into(),
        )?;
        write("ns.sh", NAMESPACE_SCRIPT.into())?;
        let log = std::fs::File::create(dir.join("daemon.log")).map_err(|e| e.to_string())?;
        let shell = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh"])
            .arg(dir.join("ns.sh"))
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let prefix = format!(
            "vkb{}-",
            dir.file_name()
                .map(|n| n
                    .to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), ""))
                .unwrap_or_default()
        );
        let mut d = Daemon {
            dir: dir.to_path_buf(),
            shell: Some(shell),
            pids: Vec::new(),
            prefix,
        };
        // Ready when virsh gets an answer from the qemu driver.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            d.read_pids();
            if let Some(status) = d.shell.as_mut().and_then(|s| s.try_wait().ok().flatten()) {
                d.shell = None;
                return Err(format!(
                    "libvirtd's namespace exited with {status}: {}",
                    d.log_tail()
                ));
            }
            if d.dir.join("sock/libvirt-sock").exists() && d.virsh(&["uri"]).is_ok() {
                return Ok(d);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "libvirtd did not answer within 60 s: {}",
                    d.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn read_pids(&mut self) {
        for f in ["virtlogd.child", "libvirtd.child"] {
            if let Some(p) = std::fs::read_to_string(self.dir.join(f))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                && !self.pids.contains(&p)
            {
                self.pids.push(p);
            }
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    fn virsh(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new(VIRSH).arg("-c").arg(self.uri()).args(args))
    }

    fn stop(&mut self) {
        let Some(mut shell) = self.shell.take() else {
            return;
        };
        self.read_pids();
        for p in &self.pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while shell.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                for p in &self.pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(*p),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = shell.kill();
                let _ = shell.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        crate::qemu::kill_leftovers(Path::new(&format!("guest={}", self.prefix)));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a command to its end; its standard output, or a one-line reason.
fn run(c: &mut Command) -> Result<String, String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{:?} {:?} failed ({}): {}",
            c.get_program(),
            c.get_args().collect::<Vec<_>>(),
            out.status,
            err.trim().lines().last().unwrap_or("")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs and times a command (spawn → exit).
fn timed(c: &mut Command) -> Result<(f64, String), String> {
    let t = Instant::now();
    let out = run(c)?;
    Ok((stats::ns(t.elapsed()), out))
}

fn why_not() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "libvirtd's QEMU driver needs root (qemu:///system); run the bench as root".into(),
        );
    }
    for (p, pkg) in [
        (LIBVIRTD, "libvirt-daemon"),
        (VIRTLOGD, "libvirt-daemon"),
        (QEMU_MODULE, "libvirt-daemon-driver-qemu"),
        (VIRSH, "libvirt-clients"),
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
    None
}

fn min_median(s: &Summary) -> String {
    format!("{} (median {})", stats::time(s.min), stats::time(s.median))
}

/// Measures both sides with `guests` guests each, `reps` rounds of the queries.
pub fn run_group(release: &Path, guests: usize, reps: usize) -> Outcome {
    let mut o = Outcome::default();
    if let Some(why) = why_not() {
        o.skipped.push(format!("libvirtd QEMU peer: {why}"));
        return o;
    }
    let cli = release.join("virtkit");
    if !cli.exists() || !release.join("libvirtkit_driver_qemu.so").exists() {
        o.skipped.push(format!(
            "libvirtd QEMU peer: {} or the qemu plugin is not built (cargo build --release --workspace)",
            cli.display()
        ));
        return o;
    }
    if let Err(e) = crate::qemu::binary() {
        o.skipped.push(format!("libvirtd QEMU peer: {e}"));
        return o;
    }
    let dir = match tempfile::Builder::new().prefix("vkb-lv").tempdir_in("/tmp") {
        Ok(d) => d,
        Err(e) => {
            o.skipped
                .push(format!("libvirtd QEMU peer: no temporary directory: {e}"));
            return o;
        }
    };
    // libvirtd keeps its state on tmpfs (the namespace's mounts over /run/libvirt, /etc/libvirt
    // and the rest): virtkit's root goes on tmpfs too, where the host has one at /dev/shm, so
    // both sides' state files cost the same (on this machine's ext4 each rename over a state
    // file waits for its data, ~0.5 ms).
    let shm = tmpfs_dir();
    let vdir = shm.as_ref().map_or(dir.path(), |d| d.path());
    if shm.is_none() {
        o.notes.push(
            "libvirtd QEMU peer: /dev/shm is not a tmpfs here, so virtkit's state is on the disk while libvirtd's is on tmpfs".into(),
        );
    }
    let result = measure(&cli, dir.path(), vdir, guests.max(1), reps.max(1));
    let leftovers = crate::qemu::kill_leftovers(dir.path()) + crate::qemu::kill_leftovers(vdir);
    if leftovers > 0 {
        o.notes.push(format!(
            "libvirtd QEMU peer: {leftovers} process(es) of this run were still running at the end and were killed"
        ));
    }
    match result {
        Ok(t) => {
            let n = t.guests;
            let row = |name: String, v: &Summary, p: &Summary| {
                Row::info(
                    GROUP,
                    name,
                    min_median(v),
                    min_median(p),
                    (p.min > 0.0).then(|| v.min / p.min),
                )
            };
            o.rows.push(
                row(
                    format!("`start` → running, 64 MiB TCG guest ({n} starts each)"),
                    &t.start.0,
                    &t.start.1,
                )
                .ratio_target(0.1, "≤ 0.1×"),
            );
            o.rows.push(row(
                format!(
                    "floor: bare QEMU, virtkit's command line, exec → `cont` answered, vs libvirtd's `start` ({n} each)"
                ),
                &t.floor,
                &t.start.1,
            ));
            o.rows.push(Row::info(
                GROUP,
                format!("`start` → running (virtkit, whole process) vs that floor ({n} each)"),
                min_median(&t.start.0),
                min_median(&t.floor),
                (t.floor.min > 0.0).then(|| t.start.0.min / t.floor.min),
            ));
            o.rows.push(row(
                format!("`list --all` with {n} guests running ({} runs)", t.reps),
                &t.list.0,
                &t.list.1,
            ));
            o.rows.push(row(
                format!("`dominfo` of a running guest ({} runs)", t.reps),
                &t.dominfo.0,
                &t.dominfo.1,
            ));
            o.rows.push(row(
                format!("`destroy` of a running guest ({n} each)"),
                &t.destroy.0,
                &t.destroy.1,
            ));
            o.notes.push(String::from(
                "libvirtd rows: Debian's libvirtd 9.0 with its QEMU driver, started by the bench as root in a private mount namespace (tmpfs over /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt, /etc/libvirt; qemu.conf user/group root, security_driver none, no cgroups; virtlogd beside it), reached by `virsh -c qemu+unix:///system?socket=…`, against `virtkit -c qemu:///session?root=…` with that root on tmpfs (/dev/shm) as libvirtd's state is; both the same XML (64 MiB, 1 vCPU, TCG, no disk, ACPI on: libvirt 9.0 turns ACPI off with `-no-acpi`, which QEMU 10 removed); one process per command, timed from spawn to exit, virtkit and virsh alternating; both guests are running when `start` returns. Stopped after: guests destroyed, daemons SIGTERM'd and reaped, namespace gone. virsh's connection set-up to the daemon is part of its time, as the plugin's loading is part of virtkit's. The floor row runs, after each pair of starts, the very command line virtkit gave that guest's QEMU (from /proc/PID/cmdline, its monitor socket, pid file and event log moved aside) with no driver at all, exec → `qmp_capabilities` and `cont` answered, while the same guests run: no driver of this QEMU can start that guest faster, so floor ÷ libvirtd is the lowest start ratio reachable here."
            ));
        }
        Err(e) => o.skipped.push(format!("libvirtd QEMU peer: {e}")),
    }
    o
}

/// A command line of one side (virtkit or virsh) with its connection URI.
type Side<'a> = dyn Fn(&[&str]) -> Command + 'a;

struct Times {
    guests: usize,
    reps: usize,
    start: (Summary, Summary),
    /// Bare QEMU with virtkit's command line for the guest, exec → `cont` answered (no driver).
    floor: Summary,
    list: (Summary, Summary),
    dominfo: (Summary, Summary),
    destroy: (Summary, Summary),
}

fn summary(v: &[f64]) -> Result<Summary, String> {
    Summary::of(v).ok_or_else(|| "no samples".to_string())
}

/// A temporary directory on tmpfs (`/dev/shm`), if the host has one there.
fn tmpfs_dir() -> Option<tempfile::TempDir> {
    let st = nix::sys::statfs::statfs("/dev/shm").ok()?;
    if st.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return None;
    }
    tempfile::Builder::new()
        .prefix("vkb-lv")
        .tempdir_in("/dev/shm")
        .ok()
}

/// Runs the group: libvirtd's files under `dir`, virtkit's root and the floor's files under
/// `vdir` (tmpfs where the host has one).
fn measure(
    cli: &Path,
    dir: &Path,
    vdir: &Path,
    guests: usize,
    reps: usize,
) -> Result<Times, String> {
    let vroot = vdir.join("vk");
    std::fs::create_dir_all(&vroot).map_err(|e| e.to_string())?;
    let vuri = format!("qemu:///session?root={}", vroot.display());
    let vk = |args: &[&str]| {
        let mut c = Command::new(cli);
        c.arg("-c").arg(&vuri).args(args);
        c
    };
    let daemon = Daemon::start(dir)?;
    let lv = |args: &[&str]| {
        let mut c = Command::new(VIRSH);
        c.arg("-c").arg(daemon.uri()).args(args);
        c
    };
    let names: Vec<String> = (0..=guests)
        .map(|i| format!("{}{i}", daemon.prefix))
        .collect();
    // Definitions (untimed); guest 0 is a warm-up (libvirt probes QEMU on first use).
    for n in &names {
        let xml = dir.join(format!("{n}.xml"));
        std::fs::write(&xml, guest_xml(n)).map_err(|e| e.to_string())?;
        let xml = xml.display().to_string();
        run(&mut vk(&["define", &xml]))?;
        run(&mut lv(&["define", &xml]))?;
    }
    let (warm, names) = names.split_first().ok_or("no guests")?;
    let sides: [(&Side<'_>, &str); 2] = [(&vk, "virtkit"), (&lv, "virsh")];
    for (side, _) in sides {
        run(&mut side(&["start", warm]))?;
        run(&mut side(&["destroy", warm]))?;
    }

    let run_dir = vroot.join("session").join("run");
    let floor_dir = vdir.join("floor");
    std::fs::create_dir_all(&floor_dir).map_err(|e| e.to_string())?;
    let mut floor = vec![];
    let (mut start, mut list, mut info, mut destroy) = (
        (vec![], vec![]),
        (vec![], vec![]),
        (vec![], vec![]),
        (vec![], vec![]),
    );
    for n in names {
        start.0.push(timed(&mut vk(&["start", n]))?.0);
        start.1.push(timed(&mut lv(&["start", n]))?.0);
        floor.push(bare_like(&run_dir, n, &floor_dir)?);
    }
    for (side, name) in sides {
        let out = run(&mut side(&["list", "--all"]))?;
        let running = out.lines().filter(|l| l.contains(" running")).count();
        if running != guests {
            return Err(format!(
                "{name} list --all shows {running} running guests, expected {guests}:\n{out}"
            ));
        }
        let st = run(&mut side(&["domstate", &names[0]]))?;
        if st.trim() != "running" {
            return Err(format!("{name} domstate says {:?} after start", st.trim()));
        }
    }
    for _ in 0..reps {
        list.0.push(timed(&mut vk(&["list", "--all"]))?.0);
        list.1.push(timed(&mut lv(&["list", "--all"]))?.0);
        info.0.push(timed(&mut vk(&["dominfo", &names[0]]))?.0);
        info.1.push(timed(&mut lv(&["dominfo", &names[0]]))?.0);
    }
    for n in names {
        destroy.0.push(timed(&mut vk(&["destroy", n]))?.0);
        destroy.1.push(timed(&mut lv(&["destroy", n]))?.0);
    }
    for n in std::iter::once(warm).chain(names) {
        let _ = run(&mut vk(&["undefine", n]));
        let _ = run(&mut lv(&["undefine", n]));
    }
    drop(daemon);
    Ok(Times {
        guests,
        reps,
        start: (summary(&start.0)?, summary(&start.1)?),
        floor: summary(&floor)?,
        list: (summary(&list.0)?, summary(&list.1)?),
        dominfo: (summary(&info.0)?, summary(&info.1)?),
        destroy: (summary(&destroy.0)?, summary(&destroy.1)?),
    })
}

/// The floor of any start of guest `name`: the very command line virtkit gave its running QEMU
/// (read from `/proc/PID/cmdline`), with the guest's own files (`RUN/NAME.*`: monitor socket,
/// pid file, event log) moved to `floor_dir`, run by a bare QEMU with no driver, timed from exec
/// to `cont` answered, while the same guests run as for the starts around it.
fn bare_like(run_dir: &Path, name: &str, floor_dir: &Path) -> Result<f64, String> {
    let pidfile = run_dir.join(format!("{name}.pid"));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .map_err(|e| format!("{}: {e}", pidfile.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: not a process id: {e}", pidfile.display()))?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map_err(|e| format!("the command line of {name}'s QEMU: {e}"))?;
    let own = format!("{}/{name}.", run_dir.display());
    let moved = format!("{}/{name}.", floor_dir.display());
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).replace(&own, &moved))
        .collect();
    let sock = floor_dir.join(format!("{name}.qmp"));
    if !argv.iter().any(|a| a.contains(&*sock.to_string_lossy())) {
        return Err(format!(
            "{name}'s QEMU command line names no monitor socket under {}",
            run_dir.display()
        ));
    }
    let b = virtkit_qemu_driver::bench::bare_qemu_argv(&argv, &sock)?;
    for ext in ["qmp", "pid", "events"] {
        let _ = std::fs::remove_file(floor_dir.join(format!("{name}.{ext}")));
    }
    Ok(stats::ns(b.running))
}

impl Run<'_> {
    /// The `libvirtd` group: libvirtd 9.0's QEMU driver beside virtkit's. It is all peer, so
    /// `--no-peer` leaves it out.
    pub(crate) fn libvirtd(&mut self) {
        if self.o.no_peer {
            return;
        }
        let out = run_group(&self.o.release, self.s.qemu_guests, self.s.list_reps);
        self.rows.extend(out.rows);
        out.skipped.into_iter().for_each(|s| self.skip(s));
        self.notes.extend(out.notes);
    }
}
