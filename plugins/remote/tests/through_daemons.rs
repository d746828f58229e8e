//! The virtkit CLI through the remote plugin, against virtkitd and against Debian's libvirtd:
//! `virtkit -c 'test+unix:///default?socket=...'` prints what the same CLI prints in-process
//! (through virtkitd, the same test driver) and what virsh prints (through libvirtd).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        virtkit_test_support::daemon::stop(&mut self.child, Duration::from_secs(10));
    }
}

fn virtkitd() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("virtkit-sock");
    let mut child = Command::new(virtkit_test_support::built("virtkitd"))
        .arg("--socket")
        .arg(&socket)
        .env(
            "VIRTKIT_DRIVER_DIR",
            virtkit_test_support::plugin_dir("test"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    virtkit_test_support::daemon::wait_for_socket(&socket, &mut child, "the daemon", None);
    Daemon {
        child,
        _dir: dir,
        socket,
    }
}

/// libvirtd in a private mount namespace (see crates/virtkitd/tests/common), or `None` after
/// saying why not (a failure under CI).
fn libvirtd() -> Option<Daemon> {
    let libvirtd = virtkit_test_support::find(&virtkit_test_support::LIBVIRTD)?;
    if !is_root() {
        virtkit_test_support::skip_host("ROOT", "libvirtd needs root here");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("libvirtd.conf"),
        format!(
            "unix_sock_dir = \"{0}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlog_outputs = \"3:file:{0}/log\"\n",
            d.display()
        ),
    )
    .unwrap();
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    if !passwd.lines().any(|l| l.starts_with("libvirt-qemu:")) {
        passwd.push_str("libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin\n");
    }
    let mut group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    for g in ["libvirt-qemu:x:64055:", "kvm:x:64056:"] {
        if !group
            .lines()
            .any(|l| l.starts_with(&format!("{}:", g.split(':').next().unwrap())))
        {
            group.push_str(g);
            group.push('\n');
        }
    }
    std::fs::write(d.join("passwd"), passwd).unwrap();
    std::fs::write(d.join("group"), group).unwrap();
    let script = format!(
        "set -e; for m in /run /var/lib /var/cache /var/log; do mount -t tmpfs none $m; done; \
         mount --bind {d}/passwd /etc/passwd; mount --bind {d}/group /etc/group; \
         exec {l} --config {d}/libvirtd.conf --pid-file {d}/pid",
        d = d.display(),
        l = libvirtd.display()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = d.join("libvirt-sock");
    virtkit_test_support::daemon::wait_for_socket(&socket, &mut child, "the daemon", None);
    Some(Daemon {
        child,
        _dir: dir,
        socket,
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        .unwrap_or(false)
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(program: &Path, args: &[&str]) -> Run {
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

fn without_cpu_time(mut r: Run) -> Run {
    r.stdout = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with("CPU time:"))
        .map(|l| format!("{l}\n"))
        .collect();
    r
}

const CHAIN: &str = "list --all; dominfo test; domstate test; nodeinfo; hostname; \
    net-list --all; net-info default; net-dumpxml default; dumpxml test; capabilities; \
    suspend test; domstate test; resume test; destroy test; list --all; start test; \
    net-destroy default; net-list --all; net-start default; dominfo nosuch";

#[test]
fn the_cli_through_virtkitd_prints_what_it_prints_in_process() {
    let d = virtkitd();
    let cli = virtkit_test_support::built("virtkit");
    let uri = format!("test+unix:///default?socket={}", d.socket.display());
    let remote = without_cpu_time(run(&cli, &["-c", &uri, CHAIN]));
    let local = without_cpu_time(run(&cli, &["-c", "test:///default", CHAIN]));
    assert_eq!(remote, local, "through virtkitd (left), in-process (right)");
    assert!(remote.stdout.contains(" 1    test   running"), "{remote:?}");
    // Read-only through the read-only socket: refused by virtkitd's core.
    let ro = format!("test+unix:///default?socket={}-ro", d.socket.display());
    let r = run(&cli, &["-c", &ro, "suspend test"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("read only access prevents virDomainSuspend"),
        "{r:?}"
    );
    // A transport the plugin lacks is refused with a clear error.
    let r = run(&cli, &["-c", "test+tls://localhost/default", "list"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("'tls' transport"), "{r:?}");
}

#[test]
fn the_cli_through_libvirtd_prints_what_virsh_prints() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let Some(d) = libvirtd() else { return };
    let cli = virtkit_test_support::built("virtkit");
    let uri = format!("test+unix:///default?socket={}", d.socket.display());
    for chain in [
        "list --all; list --inactive; domstate test; domid test; domuuid test",
        "dominfo test; nodeinfo; hostname",
        "suspend test; domstate test; resume test; destroy test; list --all; start test; list",
        "net-list --all; net-info default; net-destroy default; net-list --all; net-start default",
    ] {
        let ours = without_cpu_time(run(&cli, &["-c", &uri, chain]));
        let theirs = without_cpu_time(run(&virsh, &["-c", &uri, chain]));
        assert_eq!(
            ours, theirs,
            "'{chain}': virtkit (left) and virsh (right) through libvirtd"
        );
    }
}
