//! The virtkit CLI through the remote plugin, against virtkitd and against Debian's libvirtd:
//! `virtkit -c 'test+unix:///default?socket=...'` prints what the same CLI prints in-process
//! (through virtkitd, the same test driver) and what virsh prints (through libvirtd).

use std::path::Path;
use std::process::{Command, Stdio};

use virtkit_test_support::daemon::Daemon;

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
    let d = Daemon::virtkitd("test");
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
    let r = run(&cli, &["-c", "test+libssh2://localhost/default", "list"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("'libssh2' transport"), "{r:?}");
}

#[test]
fn the_cli_through_libvirtd_prints_what_virsh_prints() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let Some(d) = Daemon::libvirtd() else { return };
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
