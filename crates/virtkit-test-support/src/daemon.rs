//! Daemons a test starts (virtkitd, libvirtd, peers): starting virtkitd and libvirtd on
//! sockets of their own, waiting until one listens, and stopping it.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until something accepts connections on the unix socket `path`; panics, with the
/// daemon's `log` when there is one, if `child` exits first or nothing listens within 30 s (the
/// child is then killed and reaped).
pub fn wait_for_socket(path: &Path, child: &mut Child, what: &str, log: Option<&Path>) {
    let log_text = || {
        log.and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default()
    };
    let started = Instant::now();
    while UnixStream::connect(path).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {}:\n{}",
                path.display(),
                log_text()
            );
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on {} within 30 s:\n{}",
                path.display(),
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops `child` as a service manager would: SIGTERM (through the `kill` program), `grace` to
/// exit, then SIGKILL; always reaped.
pub fn stop(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    let started = Instant::now();
    while matches!(child.try_wait(), Ok(None)) {
        if started.elapsed() > grace {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.wait();
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's pick), for a
/// daemon a test starts on loopback.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    l.local_addr().expect("its address").port()
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; panics as
/// [`wait_for_socket`] does if `child` exits first or nothing listens within 30 s.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str, log: Option<&Path>) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log_text = || {
            log.and_then(|l| std::fs::read_to_string(l).ok())
                .unwrap_or_default()
        };
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on port {port}:\n{}",
                log_text()
            );
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on port {port} within 30 s:\n{}",
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A daemon a test started on sockets in a temporary directory of its own: stopped (SIGTERM,
/// then SIGKILL) and reaped when dropped, and the directory removed.
pub struct Daemon {
    child: Child,
    /// The daemon's directory (config, sockets, logs).
    pub dir: tempfile::TempDir,
    /// The read-write socket.
    pub socket: PathBuf,
    /// The read-only socket.
    pub ro_socket: PathBuf,
    /// Where the daemon's standard error goes.
    pub log: PathBuf,
}

impl Daemon {
    /// virtkitd of this tree on `DIR/virtkit-sock` (and `-ro`), with the plugins of the build
    /// directory (which holds `libvirtkit_driver_<driver>.so`).
    pub fn virtkitd(driver: &str) -> Daemon {
        Daemon::virtkitd_with(driver, &[])
    }

    /// [`Daemon::virtkitd`] with more arguments (`--config FILE`, `--tls=...`, `--listen ...`).
    pub fn virtkitd_with(driver: &str, args: &[&str]) -> Daemon {
        let plugins = crate::plugin_dir(driver);
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("virtkit-sock");
        let log = dir.path().join("virtkitd.log");
        let mut child = Command::new(crate::built("virtkitd"))
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env("VIRTKIT_DRIVER_DIR", plugins)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("virtkitd starts");
        wait_for_socket(&socket, &mut child, "virtkitd", Some(&log));
        Daemon {
            child,
            ro_socket: dir.path().join("virtkit-sock-ro"),
            dir,
            socket,
            log,
        }
    }

    /// Debian's libvirtd with its own config file, sockets (`DIR/libvirt-sock`, `-ro`) and the
    /// test driver, in a private mount namespace (tmpfs on /run, /var/lib, /var/cache and
    /// /var/log; a private /etc/passwd naming the `libvirt-qemu` user it resolves at start).
    /// `None` after reporting why the test is skipped (no libvirtd, not root; both fail under
    /// CI).
    pub fn libvirtd() -> Option<Daemon> {
        Daemon::libvirtd_with("", &[])
    }

    /// [`Daemon::libvirtd`] with more lines in its config file (`listen_tls = 1`, ...) and more
    /// arguments (`--listen`).
    pub fn libvirtd_with(extra_conf: &str, args: &[&str]) -> Option<Daemon> {
        let libvirtd = crate::find(&crate::LIBVIRTD)?;
        if !crate::is_root() {
            crate::skip_host(
                "ROOT",
                "libvirtd needs root here (a private mount namespace)",
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let conf = d.join("libvirtd.conf");
        std::fs::write(
            &conf,
            format!(
                "unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 log_outputs = \"3:file:{}\"\n{extra_conf}",
                d.display(),
                d.join("libvirtd.log").display()
            ),
        )
        .expect("libvirtd.conf");
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
        std::fs::write(d.join("passwd"), passwd).expect("passwd");
        std::fs::write(d.join("group"), group).expect("group");
        let script = format!(
            "set -e; for m in /run /var/lib /var/cache /var/log; do mount -t tmpfs none $m; done; \
             mount --bind {d}/passwd /etc/passwd; mount --bind {d}/group /etc/group; \
             exec {libvirtd} --config {conf} --pid-file {d}/libvirtd.pid {args}",
            d = d.display(),
            libvirtd = libvirtd.display(),
            conf = conf.display(),
            args = args.join(" ")
        );
        let log = d.join("stderr");
        // `unshare` and `sh` both exec: the child's pid is libvirtd's.
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("unshare starts");
        let socket = d.join("libvirt-sock");
        wait_for_socket(&socket, &mut child, "libvirtd", Some(&log));
        Some(Daemon {
            child,
            socket,
            ro_socket: d.join("libvirt-sock-ro"),
            log,
            dir,
        })
    }

    /// What the daemon wrote on its standard error so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the daemon accepts TCP connections on 127.0.0.1:`port` (see
    /// [`wait_for_port`]).
    pub fn wait_for_port(&mut self, port: u16, what: &str) {
        wait_for_port(port, &mut self.child, what, Some(&self.log));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child, Duration::from_secs(10));
    }
}

/// The process ids of every live descendant of `pid` (children, their children, ...), read
/// from /proc; zombies are counted too (they are not reaped yet).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}
