//! The `+ssh` transport with real processes on loopback: an OpenSSH server started by the test
//! (virtkit_test_support::sshd), the virtkit CLI through the remote plugin and the system's ssh
//! client, and on the remote side `virtkitd --stdio` (virtkit's default when the host has it),
//! libvirt's `nc -U` relay to a libvirtd, and Debian's virsh as a client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use virtkit_test_support::daemon::Daemon;
use virtkit_test_support::sshd::Sshd;

mod common;
use common::{Run, run, without_cpu_time};

/// The sshd of a test whose sessions find this tree's `virtkitd` (and the plugins beside it)
/// in their PATH, or `None` after reporting the skip.
fn sshd_with_virtkitd() -> Option<Sshd> {
    let build = virtkit_test_support::build_dir();
    virtkit_test_support::built("virtkitd");
    Sshd::start(&[build])
}

fn ssh_uri(s: &Sshd, path: &str, extra: &str) -> String {
    format!(
        "test+ssh://{}@127.0.0.1:{}{path}?{}{extra}",
        s.user(),
        s.port(),
        s.uri_params()
    )
}

/// Asserts that no ssh client started with `key` is left — the virtkit CLI reaps its ssh
/// before it exits — and that the server's sessions (and what they ran) are all gone.
fn assert_nothing_left(s: &Sshd, key: &Path) {
    let ssh = virtkit_hostio::processes_with_arg(key.as_os_str());
    assert!(ssh.is_empty(), "ssh clients left: {ssh:?}");
    let sessions = s.wait_idle(Duration::from_secs(20));
    assert!(sessions.is_empty(), "sshd sessions left: {sessions:?}");
}

/// After virsh: libvirt's client signals its ssh as it closes but need not wait for it, so its
/// ssh may outlive virsh for a moment; it must be gone soon, and the server's sessions too.
fn assert_virsh_left_nothing(s: &Sshd, key: &Path) {
    let started = std::time::Instant::now();
    loop {
        let ssh = virtkit_hostio::processes_with_arg(key.as_os_str());
        if ssh.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "virsh's ssh clients left: {ssh:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sessions = s.wait_idle(Duration::from_secs(20));
    assert!(sessions.is_empty(), "sshd sessions left: {sessions:?}");
}

const DOMAIN: &str = "<domain type='test'><name>over-ssh</name><uuid>9b0e3c2a-51f4-4c61-8d1e-2f6a7b8c9d01</uuid><memory>65536</memory>\
    <os><type>hvm</type></os></domain>";

#[test]
fn the_cli_over_ssh_to_virtkitd_prints_what_it_prints_in_process() {
    let Some(s) = sshd_with_virtkitd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("over-ssh.xml");
    std::fs::write(&xml, DOMAIN).unwrap();
    let chain = format!(
        "list --all; dominfo test; domstate test; nodeinfo; hostname; net-list --all; \
         dumpxml test; define {xml}; list --all; dominfo over-ssh; undefine over-ssh; \
         list --all; suspend test; domstate test; resume test; dominfo nosuch",
        xml = xml.display()
    );
    let cli = virtkit_test_support::built("virtkit");
    let uri = ssh_uri(&s, "/default", "");
    let remote = without_cpu_time(run(&cli, &["-c", &uri, &chain]));
    let local = without_cpu_time(run(&cli, &["-c", "test:///default", &chain]));
    assert_eq!(remote, local, "over ssh (left), in-process (right)");
    assert!(
        remote.stdout.contains("Domain 'over-ssh' defined"),
        "{remote:?}"
    );
    assert_nothing_left(&s, &s.key());

    // virtkitd by name, and a read-only connection refused a mutation by its core.
    let uri = ssh_uri(&s, "/default", "&proxy=virtkitd");
    let r = run(&cli, &["-c", &uri, "domstate test"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "running\n\n"), "{r:?}");
    let r = run(&cli, &["-r", "-c", &uri, "suspend test"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("read only access prevents virDomainSuspend"),
        "{r:?}"
    );
    assert_nothing_left(&s, &s.key());
}

#[test]
fn a_key_the_server_refuses_is_a_clear_error_and_leaves_no_ssh() {
    let Some(s) = sshd_with_virtkitd() else {
        return;
    };
    let cli = virtkit_test_support::built("virtkit");
    let uri = format!(
        "test+ssh://{}@127.0.0.1:{}/default?keyfile={}&known_hosts={}&no_tty=1",
        s.user(),
        s.port(),
        s.other_key().display(),
        s.known_hosts().display()
    );
    let r = run(&cli, &["-c", &uri, "list --all"]);
    assert_ne!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("the ssh connection to '127.0.0.1' failed (ssh exited with status 255)")
            && r.stderr.contains("Permission denied (publickey"),
        "{r:?}"
    );
    assert_nothing_left(&s, &s.other_key());
}

#[test]
fn a_host_key_that_does_not_match_known_hosts_is_refused() {
    let Some(s) = sshd_with_virtkitd() else {
        return;
    };
    let cli = virtkit_test_support::built("virtkit");
    let uri = format!(
        "test+ssh://{}@127.0.0.1:{}/default?keyfile={}&known_hosts={}&no_tty=1",
        s.user(),
        s.port(),
        s.key().display(),
        s.wrong_known_hosts().display()
    );
    let r = run(&cli, &["-c", &uri, "list --all"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Host key verification failed."), "{r:?}");
    assert_nothing_left(&s, &s.key());
}

#[test]
fn a_host_without_virtkitd_says_so() {
    // The sessions' PATH lacks the build directory: no virtkitd on that "host".
    let Some(s) = Sshd::start(&[]) else {
        return;
    };
    let cli = virtkit_test_support::built("virtkit");
    let uri = ssh_uri(&s, "/default", "&proxy=virtkitd");
    let r = run(&cli, &["-c", &uri, "list --all"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("(ssh exited with status 127)") && r.stderr.contains("virtkitd"),
        "{r:?}"
    );
    assert!(r.stderr.contains("not found"), "{r:?}");
    assert_nothing_left(&s, &s.key());
}

const LIBVIRTD_CHAINS: &[&str] = &[
    "list --all; list --inactive; domstate test; domid test; domuuid test",
    "dominfo test; nodeinfo; hostname",
    "suspend test; domstate test; resume test; destroy test; list --all; start test; list",
    "net-list --all; net-info default",
];

#[test]
fn the_cli_over_ssh_and_netcat_to_libvirtd_prints_what_virsh_prints_locally() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    if virtkit_test_support::find(&virtkit_test_support::NC).is_none() {
        return;
    }
    let Some(d) = Daemon::libvirtd() else { return };
    let Some(s) = Sshd::start(&[]) else { return };
    let cli = virtkit_test_support::built("virtkit");
    // `socket=` selects libvirt's netcat relay on the remote side, as in libvirt.
    let over_ssh = ssh_uri(&s, "/default", &format!("&socket={}", d.socket.display()));
    let local = format!("test+unix:///default?socket={}", d.socket.display());
    for chain in LIBVIRTD_CHAINS {
        let ours = without_cpu_time(run(&cli, &["-c", &over_ssh, chain]));
        let theirs = without_cpu_time(run(&virsh, &["-c", &local, chain]));
        assert_eq!(
            ours, theirs,
            "'{chain}': virtkit over ssh and nc (left), virsh on the socket (right)"
        );
    }
    assert_nothing_left(&s, &s.key());
}

#[test]
fn virsh_over_ssh_and_netcat_reaches_virtkitd() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    if virtkit_test_support::find(&virtkit_test_support::NC).is_none() {
        return;
    }
    let d = Daemon::virtkitd("test");
    let Some(s) = Sshd::start(&[]) else { return };
    // libvirt's +ssh takes no known_hosts: its `command=` is ssh with this server's.
    let over_ssh = format!(
        "test+ssh://{}@127.0.0.1:{}/default?keyfile={}&no_tty=1&command={}&socket={}",
        s.user(),
        s.port(),
        s.key().display(),
        s.ssh_wrapper().display(),
        d.socket.display()
    );
    let local = format!("test+unix:///default?socket={}", d.socket.display());
    let chain = "list --all; dominfo test; domstate test; nodeinfo; hostname; net-list --all; uri";
    let ours = without_cpu_time(run(&virsh, &["-c", &over_ssh, chain]));
    let theirs = without_cpu_time(run(&virsh, &["-c", &local, chain]));
    assert_eq!(ours.stderr, "", "{ours:?}");
    // `uri` prints what the client was given: the only line that differs.
    let strip_uri = |r: &Run| {
        r.stdout
            .lines()
            .filter(|l| !l.starts_with("test+"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip_uri(&ours), strip_uri(&theirs), "{ours:?}\n{theirs:?}");
    assert!(ours.stdout.contains(&over_ssh), "{ours:?}");
    assert!(ours.stdout.contains(" test "), "{ours:?}");
    assert_virsh_left_nothing(&s, &s.key());
}

/// A stand-in for ssh that writes its arguments, one per line, to `out` and fails.
fn recorder(dir: &Path, out: &Path) -> PathBuf {
    let file = dir.join("record-ssh");
    std::fs::write(
        &file,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}\nexit 1\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    file
}

#[test]
fn the_ssh_command_line_is_libvirts() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("argv");
    let ssh = recorder(dir.path(), &out);
    let cli = virtkit_test_support::built("virtkit");
    let record = |program: &Path, ro: bool, uri: &str| {
        let _ = std::fs::remove_file(&out);
        let mut args = vec!["-c", uri, "list"];
        if ro {
            args.insert(0, "-r");
        }
        let r = run(program, &args);
        assert_ne!(r.code, 0, "{r:?}");
        std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{uri}: no argv ({e}): {r:?}"))
    };
    let c = ssh.display();
    // Every option, and each remote command libvirt's client also runs (virtkit's default
    // differs by design: it tries virtkitd first).
    for (ro, uri) in [
        (
            false,
            format!(
                "qemu+ssh://alice@node1:2222/system?command={c}&keyfile=/k&no_tty=1&no_verify=1&socket=/run/x-sock"
            ),
        ),
        (
            true,
            format!("qemu+ssh://node1/system?command={c}&netcat=/bin/nc"),
        ),
        (
            false,
            format!("qemu+ssh://node1/system?command={c}&proxy=netcat"),
        ),
        (
            true,
            format!("qemu+ssh://node1/system?command={c}&proxy=netcat"),
        ),
        (
            false,
            format!("qemu+ssh://node1/system?command={c}&proxy=native"),
        ),
        (
            true,
            format!("test+ssh://node1/default?command={c}&proxy=native"),
        ),
        (
            false,
            format!("test+ssh://node1/default?command={c}&proxy=native&extra=1"),
        ),
        (
            false,
            format!("qemu+ssh://[::1]:22/system?command={c}&proxy=native"),
        ),
        (
            false,
            format!(
                "test+ssh://node1/default?a=1&command={c}&socket=/s&proxy=native&mode=legacy&b=2"
            ),
        ),
        (
            false,
            format!("qemu+ssh://node1/system?command={c}&proxy=native&name=xen:///"),
        ),
    ] {
        let ours = record(&cli, ro, &uri);
        let theirs = record(&virsh, ro, &uri);
        assert_eq!(
            ours, theirs,
            "{uri} (read-only: {ro}): virtkit (left), virsh (right)"
        );
    }
}

#[test]
fn libvirts_own_relays_reach_libvirtd_over_ssh_for_virtkit_and_virsh() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    if virtkit_test_support::find(&virtkit_test_support::VIRT_SSH_HELPER).is_none()
        || virtkit_test_support::find(&virtkit_test_support::NC).is_none()
    {
        return;
    }
    let Some(d) = Daemon::libvirtd() else { return };
    // The sessions see the test's libvirtd as the system daemon (/run/libvirt/libvirt-sock)
    // and have no virtkitd: what a host with only libvirt looks like.
    let Some(s) = Sshd::start_with(&[], Some(&d.socket)) else {
        return;
    };
    let cli = virtkit_test_support::built("virtkit");
    let local = format!("test+unix:///default?socket={}", d.socket.display());
    let chain = "list --all; dominfo test; domstate test; nodeinfo; hostname; net-list --all";
    let expected = without_cpu_time(run(&virsh, &["-c", &local, chain]));
    assert_eq!(expected.code, 0, "{expected:?}");
    // virtkit's default finds no virtkitd and falls back to virt-ssh-helper, as libvirt's
    // client does; then each relay by name.
    for extra in ["", "&proxy=native", "&proxy=netcat"] {
        let uri = ssh_uri(&s, "/default", extra);
        let ours = without_cpu_time(run(&cli, &["-c", &uri, chain]));
        assert_eq!(
            ours, expected,
            "virtkit over {uri} (left), virsh on the socket (right)"
        );
    }
    assert_nothing_left(&s, &s.key());
    // Debian's virsh over the same ssh, with its own default (virt-ssh-helper).
    let uri = format!(
        "test+ssh://{}@127.0.0.1:{}/default?keyfile={}&no_tty=1&command={}",
        s.user(),
        s.port(),
        s.key().display(),
        s.ssh_wrapper().display(),
    );
    let theirs = without_cpu_time(run(&virsh, &["-c", &uri, chain]));
    assert_eq!(
        theirs, expected,
        "virsh over {uri} (left), on the socket (right)"
    );
    assert_virsh_left_nothing(&s, &s.key());
}
