//! An OpenSSH server for one test: `sshd` on a free loopback port with its own config file, host
//! key and authorized key, all made by the test in a temporary directory, stopped and reaped
//! when dropped.
//!
//! * Only the invoking user may log in (`AllowUsers`), only with the test's key (no passwords,
//!   no keyboard-interactive, no PAM), only from loopback.
//! * Sessions run the command the client asks for (no `ForceCommand`), with `PATH` set by the
//!   server (`SetEnv PATH=...`): this is how a node's administrator puts a non-standard prefix
//!   on the path of ssh sessions, and how the test puts the build directory (with `virtkitd`)
//!   there. A package installs `virtkitd` in `/usr/bin`, which needs nothing.
//! * `StrictModes no`: the key files live in a 0700 directory under the system's temporary
//!   directory, whose sticky, world-writable ancestor `/tmp` StrictModes refuses for
//!   `AuthorizedKeysFile`. The files themselves are made 0600 by `ssh-keygen` and this code.
//! * The client side gets a `known_hosts` file naming the server's host key for
//!   `[127.0.0.1]:PORT`, so host keys are verified for real (and one naming another key, for
//!   the failure), and a key that is not authorized.
//! * Running as root, sshd runs in a private mount namespace with a tmpfs on `/run`, holding its
//!   privilege-separation directory `/run/sshd` (which a service manager makes at boot) and,
//!   when asked, `/run/libvirt/libvirt-sock`: a symlink to a test's libvirtd socket, where
//!   libvirt's remote-side relays (`virt-ssh-helper`, `nc -U`) look for the system daemon. So
//!   nothing on the host changes. (Not as root, sshd runs as is: only that user may log in.)

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running test sshd.
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

fn keygen(keygen: &Path, file: &Path, comment: &str) {
    let out = Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn public_key(file: &Path) -> String {
    let pubfile = PathBuf::from(format!("{}.pub", file.display()));
    std::fs::read_to_string(&pubfile)
        .expect("public key")
        .trim()
        .to_string()
}

/// The name of the effective user (from `id -un`, which reads the user database).
fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Sshd {
    /// Starts an sshd whose sessions have `session_path` (then `/usr/local/bin:/usr/bin:/bin`)
    /// as their `PATH`; `None` after reporting why the test is skipped (sshd, ssh or
    /// ssh-keygen missing; all fail under CI).
    pub fn start(session_path: &[&Path]) -> Option<Sshd> {
        Sshd::start_with(session_path, None)
    }

    /// The same, with `/run/libvirt/libvirt-sock` in the sessions' view a symlink to
    /// `libvirt_socket` (root only: skipped otherwise, a failure under CI).
    pub fn start_with(session_path: &[&Path], libvirt_socket: Option<&Path>) -> Option<Sshd> {
        let sshd = crate::find(&crate::SSHD)?;
        crate::find(&crate::SSH)?;
        let ssh_keygen = crate::which("ssh-keygen").expect("probed with ssh");
        let root = crate::is_root();
        if libvirt_socket.is_some() && !root {
            crate::skip_host("ROOT", "a private /run for sshd needs root");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("virtkit-sshd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        for (file, comment) in [
            ("host_key", "virtkit-test-host"),
            ("other_host_key", "virtkit-test-other-host"),
            ("client_key", "virtkit-test-client"),
            ("other_key", "virtkit-test-other-client"),
        ] {
            keygen(&ssh_keygen, &d.join(file), comment);
        }
        let authorized = d.join("authorized_keys");
        std::fs::write(
            &authorized,
            format!("{}\n", public_key(&d.join("client_key"))),
        )
        .expect("authorized_keys");
        std::fs::set_permissions(
            &authorized,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("chmod authorized_keys");
        let user = user_name();
        let mut path: Vec<String> = session_path
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from));
        // A port that was free a moment ago may be taken meanwhile: a few tries.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "ListenAddress 127.0.0.1:{port}\n\
                     HostKey {d}/host_key\n\
                     PidFile none\n\
                     AuthorizedKeysFile {d}/authorized_keys\n\
                     AllowUsers {user}\n\
                     PermitRootLogin prohibit-password\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     UsePAM no\n\
                     StrictModes no\n\
                     PermitUserEnvironment no\n\
                     SetEnv PATH={path}\n\
                     X11Forwarding no\n\
                     AllowTcpForwarding no\n\
                     AllowAgentForwarding no\n\
                     PrintMotd no\n\
                     UseDNS no\n\
                     LogLevel VERBOSE\n",
                    d = d.display(),
                    path = path.join(":"),
                ),
            )
            .expect("sshd_config");
            let log = d.join("sshd.log");
            let _ = std::fs::remove_file(&log);
            let mut cmd = if root {
                let link = libvirt_socket
                    .map(|s| format!("ln -s '{}' /run/libvirt/libvirt-sock; ", s.display()))
                    .unwrap_or_default();
                // `unshare` and `sh` both exec: the child's pid is sshd's.
                let script = format!(
                    "set -e; mount -t tmpfs -o mode=0755 none /run; \
                     mkdir -m 0755 /run/sshd /run/libvirt; {link}\
                     exec '{}' -D -f '{}' -E '{}'",
                    sshd.display(),
                    config.display(),
                    log.display()
                );
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
                c
            } else {
                let mut c = Command::new(&sshd);
                c.arg("-D").arg("-f").arg(&config).arg("-E").arg(&log);
                c
            };
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join("sshd.stderr")).expect("stderr file"))
                .spawn()
                .expect("sshd starts");
            let logs = || {
                format!(
                    "{}{}",
                    std::fs::read_to_string(d.join("sshd.stderr")).unwrap_or_default(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            };
            let started = Instant::now();
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Sshd {
                        child,
                        dir,
                        port,
                        user,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    last_log = logs();
                    break;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "sshd did not listen on 127.0.0.1:{port} within 30 s:\n{}",
                        logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("sshd did not start:\n{last_log}");
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user who may log in (the one running the test).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The server's process id (its sessions are its descendants).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The authorized private key.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A private key the server does not accept.
    pub fn other_key(&self) -> PathBuf {
        self.dir.path().join("other_key")
    }

    /// A `known_hosts` file naming the server's host key (made on first use).
    pub fn known_hosts(&self) -> PathBuf {
        self.known_hosts_for("known_hosts", "host_key")
    }

    /// A `known_hosts` file naming another key for the server's address (made on first use).
    pub fn wrong_known_hosts(&self) -> PathBuf {
        self.known_hosts_for("wrong_known_hosts", "other_host_key")
    }

    fn known_hosts_for(&self, name: &str, key: &str) -> PathBuf {
        let file = self.dir.path().join(name);
        if !file.exists() {
            let line = format!(
                "[127.0.0.1]:{} {}\n",
                self.port,
                public_key(&self.dir.path().join(key))
            );
            std::fs::write(&file, line).expect("known_hosts");
        }
        file
    }

    /// The client-side parameters of an `+ssh` URI to this server for virtkit: the key, the
    /// known hosts file and `no_tty=1` (ssh's batch mode: never a prompt).
    pub fn uri_params(&self) -> String {
        format!(
            "keyfile={}&known_hosts={}&no_tty=1",
            self.key().display(),
            self.known_hosts().display()
        )
    }

    /// A program to give libvirt's client as `?command=`: the system `ssh` with this
    /// server's `known_hosts` (libvirt's `+ssh` has no parameter for one).
    pub fn ssh_wrapper(&self) -> PathBuf {
        let file = self.dir.path().join("ssh-with-known-hosts");
        if !file.exists() {
            let ssh = crate::which("ssh").expect("probed at start");
            std::fs::write(
                &file,
                format!(
                    "#!/bin/sh\nexec {} -o UserKnownHostsFile={} \"$@\"\n",
                    ssh.display(),
                    self.known_hosts().display()
                ),
            )
            .expect("ssh wrapper");
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .expect("chmod ssh wrapper");
        }
        file
    }

    /// What sshd logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Waits at most `timeout` until sshd has no session processes left (each connection's
    /// sshd and what it ran); the ones still there.
    pub fn wait_idle(&self, timeout: Duration) -> Vec<u32> {
        let started = Instant::now();
        loop {
            let left = crate::daemon::descendants(self.pid());
            if left.is_empty() || started.elapsed() > timeout {
                return left;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        crate::daemon::stop(&mut self.child, Duration::from_secs(10));
    }
}
