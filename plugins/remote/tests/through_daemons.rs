//! The virtkit CLI through the remote plugin, against virtkitd and against Debian's libvirtd:
//! `virtkit -c 'test+unix:///default?socket=...'` prints what the same CLI prints in-process
//! (through virtkitd, the same test driver) and what virsh prints (through libvirtd).

use std::path::Path;

use virtkit_test_support::daemon::Daemon;

mod common;
use common::{run, without_cpu_time};

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

/// The credentials of one test and a virtkitd serving TLS on 127.0.0.1 with them, and plain
/// TCP on another loopback port.
struct Tls {
    _dir: tempfile::TempDir,
    pki: virtkit_test_support::pki::Pki,
    _daemon: Daemon,
    tls_port: u16,
    tcp_port: u16,
}

fn virtkitd_tls() -> Tls {
    virtkitd_tls_with(false)
}

/// With the server certificate that names `node1.example` only when `misnamed`.
fn virtkitd_tls_with(misnamed: bool) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(dir.path());
    let conf = dir.path().join("virtkitd.conf");
    let server = if misnamed {
        &pki.misnamed_server_dir
    } else {
        &pki.server_dir
    };
    std::fs::write(
        &conf,
        format!(
            "ca_file = \"{0}/cacert.pem\"\ncert_file = \"{0}/servercert.pem\"\nkey_file = \"{0}/serverkey.pem\"\n",
            server.display()
        ),
    )
    .unwrap();
    let tls_port = virtkit_test_support::daemon::free_port();
    let tcp_port = virtkit_test_support::daemon::free_port();
    let daemon = Daemon::virtkitd_with(
        "test",
        &[
            "--config",
            conf.to_str().unwrap(),
            &format!("--tls=localhost:{tls_port}"),
            "--listen",
            &format!("127.0.0.1:{tcp_port}"),
        ],
    );
    Tls {
        _dir: dir,
        pki,
        _daemon: daemon,
        tls_port,
        tcp_port,
    }
}

#[test]
fn the_cli_over_tls_and_tcp_to_virtkitd_prints_what_it_prints_in_process() {
    let t = virtkitd_tls();
    let cli = virtkit_test_support::built("virtkit");
    let local = without_cpu_time(run(&cli, &["-c", "test:///default", CHAIN]));
    for uri in [
        format!(
            "test+tls://localhost:{}/default?pkipath={}",
            t.tls_port,
            t.pki.client_dir.display()
        ),
        format!("test+tcp://127.0.0.1:{}/default", t.tcp_port),
        format!("test+tcp://localhost:{}/default", t.tcp_port),
    ] {
        let remote = without_cpu_time(run(&cli, &["-c", &uri, CHAIN]));
        assert_eq!(remote, local, "{uri} (left), in-process (right)");
    }
}

#[test]
fn tls_refusals_are_worded_as_libvirts() {
    let t = virtkitd_tls();
    let cli = virtkit_test_support::built("virtkit");
    let uri = |host: &str, port: u16, dir: &Path, extra: &str| {
        format!(
            "test+tls://{host}:{port}/default?pkipath={}{extra}",
            dir.display()
        )
    };
    let closed = virtkit_test_support::daemon::free_port();
    let nowhere = Path::new("/nonexistent-pki");
    for (u, needle) in [
        (
            uri("localhost", t.tls_port, nowhere, ""),
            "Cannot read CA certificate '/nonexistent-pki/cacert.pem': No such file or directory"
                .to_string(),
        ),
        (
            uri("localhost", t.tls_port, &t.pki.rogue_client_dir, ""),
            "server verification (of our certificate or IP address) failed".to_string(),
        ),
        (
            uri("localhost", t.tls_port, &t.pki.anonymous_client_dir, ""),
            "server verification (of our certificate or IP address) failed".to_string(),
        ),
        (
            uri("localhost", closed, &t.pki.client_dir, ""),
            format!("unable to connect to server at 'localhost:{closed}': Connection refused"),
        ),
    ] {
        let r = run(&cli, &["-c", &u, "list --all"]);
        assert_ne!(r.code, 0, "{u}: {r:?}");
        assert!(r.stderr.contains(&needle), "{u}: {needle}: {r:?}");
    }
    // A server whose certificate names another host is refused, unless no_verify=1.
    let m = virtkitd_tls_with(true);
    let u = uri("localhost", m.tls_port, &m.pki.client_dir, "");
    let r = run(&cli, &["-c", &u, "domstate test"]);
    assert_ne!(r.code, 0, "{u}: {r:?}");
    assert!(
        r.stderr
            .contains("Certificate's owner does not match the hostname localhost"),
        "{r:?}"
    );
    let u = uri("localhost", m.tls_port, &m.pki.client_dir, "&no_verify=1");
    let r = run(&cli, &["-c", &u, "domstate test"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "running\n\n"),
        "{u}: {r:?}"
    );
}

#[test]
fn the_cli_over_tls_and_tcp_to_libvirtd_prints_what_virsh_prints() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(pki_dir.path());
    let tls_port = virtkit_test_support::daemon::free_port();
    let tcp_port = virtkit_test_support::daemon::free_port();
    let conf = format!(
        "listen_tls = 1\nlisten_tcp = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{tls_port}\"\n\
         tcp_port = \"{tcp_port}\"\nauth_tls = \"none\"\nauth_tcp = \"none\"\n\
         ca_file = \"{0}/cacert.pem\"\ncert_file = \"{0}/servercert.pem\"\nkey_file = \"{0}/serverkey.pem\"\n",
        pki.server_dir.display()
    );
    let Some(mut d) = Daemon::libvirtd_with(&conf, &["--listen"]) else {
        return;
    };
    d.wait_for_port(tls_port, "libvirtd (TLS)");
    let cli = virtkit_test_support::built("virtkit");
    for uri in [
        format!(
            "test+tls://localhost:{tls_port}/default?pkipath={}",
            pki.client_dir.display()
        ),
        format!("test+tcp://127.0.0.1:{tcp_port}/default"),
    ] {
        for chain in [
            "list --all; domstate test; domid test; domuuid test",
            "dominfo test; nodeinfo; hostname",
            "suspend test; domstate test; resume test; destroy test; list --all; start test; list",
            "net-list --all; net-info default",
        ] {
            let ours = without_cpu_time(run(&cli, &["-c", &uri, chain]));
            let theirs = without_cpu_time(run(&virsh, &["-c", &uri, chain]));
            assert_eq!(
                ours, theirs,
                "{uri} '{chain}': virtkit (left) and virsh (right) through libvirtd"
            );
            assert_eq!(ours.code, 0, "{ours:?}");
        }
    }
    // libvirtd refuses a client certificate of another CA too.
    let uri = format!(
        "test+tls://localhost:{tls_port}/default?pkipath={}",
        pki.rogue_client_dir.display()
    );
    let r = run(&cli, &["-c", &uri, "list"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("server verification (of our certificate or IP address) failed"),
        "{r:?}"
    );
}
