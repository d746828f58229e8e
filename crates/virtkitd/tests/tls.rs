//! virtkitd over TLS and plain TCP on loopback, with credentials made by the test: Debian's
//! real virsh connects with `test+tls://localhost:PORT/default?pkipath=DIR` and prints what it
//! prints over the unix socket; clients without a valid certificate are refused while the
//! daemon keeps serving others; plain TCP serves on loopback and is refused elsewhere.

mod common;

use common::*;

use virtkit_test_support::pki::Pki;

const DOMAIN_XML: &str = "<domain type='test'>
  <name>vm1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory>65536</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
";

/// A virtkitd with a TLS listener on 127.0.0.1 (and whatever else `extra` asks for), with the
/// server credentials of `pki` named in its config file.
fn tls_daemon(dir: &std::path::Path, pki: &Pki, extra_conf: &str) -> (Virtkitd, u16) {
    let port = virtkit_test_support::daemon::free_port();
    let conf = dir.join("virtkitd.conf");
    std::fs::write(
        &conf,
        format!(
            "ca_file = \"{0}/cacert.pem\"\ncert_file = \"{0}/servercert.pem\"\nkey_file = \"{0}/serverkey.pem\"\n{extra_conf}",
            pki.server_dir.display()
        ),
    )
    .unwrap();
    let d = Virtkitd::start_with(&[
        "--config",
        conf.to_str().unwrap(),
        &format!("--tls=127.0.0.1:{port}"),
    ]);
    (d, port)
}

#[test]
fn virsh_over_tls_prints_what_it_prints_over_the_unix_socket() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (d, port) = tls_daemon(dir.path(), &pki, "");
    let xml = dir.path().join("vm1.xml");
    std::fs::write(&xml, DOMAIN_XML).unwrap();
    let tls = format!(
        "test+tls://localhost:{port}/default?pkipath={}",
        pki.client_dir.display()
    );
    let chain = format!(
        "list --all; dominfo test; domstate test; define {}; list --all; dominfo vm1; \
         undefine vm1; list --all; dominfo vm1",
        xml.display()
    );
    let over_tls = run(&virsh, &["-c", &tls, &chain]);
    let over_unix = run(&virsh, &["-c", &d.uri("/default"), &chain]);
    let cpu = |r: Run| Run {
        stdout: r
            .stdout
            .lines()
            .filter(|l| !l.starts_with("CPU time:"))
            .map(|l| format!("{l}\n"))
            .collect(),
        ..r
    };
    let (over_tls, over_unix) = (cpu(over_tls), cpu(over_unix));
    assert_eq!(
        over_tls,
        over_unix,
        "virsh over TLS (left) and over the unix socket (right)\n{}",
        d.log_text()
    );
    assert!(
        over_tls.stdout.contains("Domain 'vm1' defined"),
        "{over_tls:?}"
    );
    // The connection is encrypted: virsh's `uri` names it, and the daemon logged a TLS client.
    let r = run(&virsh, &["-c", &tls, "uri"]);
    assert_eq!(r.stdout.trim(), tls, "{r:?}");
    assert!(d.log_text().contains("over TLS"), "{}", d.log_text());
}

#[test]
fn clients_without_a_valid_certificate_are_refused_and_others_served() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (mut d, port) = tls_daemon(dir.path(), &pki, "");
    let uri = |p: &std::path::Path| {
        format!(
            "test+tls://localhost:{port}/default?pkipath={}",
            p.display()
        )
    };
    // A good client holds a connection open across the refusals.
    let mut good = std::process::Command::new(&virsh)
        .args(["-c", &uri(&pki.client_dir)])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // virsh refuses to use a certificate its CA did not sign before it connects; the daemon's
    // own check is shown by a client that does send one (rustls, through virtkit-tls).
    let config =
        virtkit_tls::client_config(&virtkit_tls::Pki::client_in(&pki.rogue_client_dir), true)
            .unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let e = virtkit_tls::TlsStream::connect(config, "localhost", sock, deadline)
        .err()
        .expect("a certificate of another CA is refused");
    assert!(
        e.to_string()
            .starts_with("server verification (of our certificate or IP address) failed"),
        "{e}"
    );
    for (who, dir) in [
        ("signed by another CA", &pki.rogue_client_dir),
        ("without a certificate", &pki.anonymous_client_dir),
    ] {
        let r = run(&virsh, &["-c", &uri(dir), "list --all"]);
        assert_ne!(r.code, 0, "a client {who} was let in: {r:?}");
        assert!(
            r.stderr.contains("failed to connect to the hypervisor"),
            "{who}: {r:?}"
        );
        assert!(!r.stdout.contains("test"), "{who}: {r:?}");
    }
    assert!(d.running());
    let log = d.log_text();
    assert!(
        log.contains(
            "refused: Certificate failed validation: The certificate hasn't got a known issuer"
        ),
        "{log}"
    );
    assert!(
        log.contains("refused: The client did not present a certificate"),
        "{log}"
    );
    // The good client and a new one are still served.
    {
        use std::io::Write;
        let mut stdin = good.stdin.take().unwrap();
        stdin.write_all(b"list --all\nquit\n").unwrap();
    }
    let out = good.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 1    test   running"), "{text}");
    let r = run(&virsh, &["-c", &uri(&pki.client_dir), "domstate test"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "running\n\n"), "{r:?}");
}

#[test]
fn plain_tcp_serves_on_loopback_only() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let port = virtkit_test_support::daemon::free_port();
    let d = Virtkitd::start_with(&["--listen", &format!("127.0.0.1:{port}")]);
    let tcp = format!("test+tcp://127.0.0.1:{port}/default");
    let chain = "list --all; dominfo test; domstate test";
    let over_tcp = run(&virsh, &["-c", &tcp, chain]);
    let over_unix = run(&virsh, &["-c", &d.uri("/default"), chain]);
    assert_eq!(
        over_tcp
            .stdout
            .lines()
            .filter(|l| !l.starts_with("CPU time"))
            .collect::<Vec<_>>(),
        over_unix
            .stdout
            .lines()
            .filter(|l| !l.starts_with("CPU time"))
            .collect::<Vec<_>>()
    );
    assert_eq!((over_tcp.code, over_tcp.stderr.as_str()), (0, ""));
    assert!(d.log_text().contains("over TCP (not authenticated)"));
    // Any address that is not loopback is refused for plain TCP before anything listens.
    for addr in ["0.0.0.0", "[::]"] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_virtkitd"))
            .arg("--socket")
            .arg(dir.path().join("s"))
            .args(["--listen", &format!("{addr}:{port}")])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("refusing plain TCP"), "{err}");
        assert!(!dir.path().join("s").exists());
    }
}

#[test]
fn bad_tls_settings_stop_the_start_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let missing = dir.path().join("nosuch.pem");
    for (conf, needle) in [
        (
            format!(
                "ca_file = \"{0}/cacert.pem\"\ncert_file = \"{0}/servercert.pem\"\nkey_file = \"{1}\"\n",
                pki.server_dir.display(),
                missing.display()
            ),
            format!(
                "Cannot read private key '{}': No such file or directory",
                missing.display()
            ),
        ),
        (
            format!(
                "ca_file = \"{0}/servercert.pem\"\ncert_file = \"{0}/serverkey.pem\"\nkey_file = \"{0}/serverkey.pem\"\n",
                pki.server_dir.display()
            ),
            "Unable to import certificate".to_string(),
        ),
        (
            "auth_tls = \"sasl\"\n".to_string(),
            "'auth_tls' = \"sasl\" is not supported".to_string(),
        ),
        (
            "tls_allowed_dn_list = [\"CN=client\"]\n".to_string(),
            "'tls_allowed_dn_list' is not supported".to_string(),
        ),
    ] {
        let f = dir.path().join("bad.conf");
        std::fs::write(&f, conf).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_virtkitd"))
            .arg("--socket")
            .arg(dir.path().join("s"))
            .arg("--config")
            .arg(&f)
            .arg("--tls=127.0.0.1:1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert!(err.contains(&needle), "{needle}: {err}");
        assert!(!dir.path().join("s").exists());
    }
}

/// A TLS client written with virtkit-tls, read and written as a byte stream.
struct TlsClient(virtkit_tls::TlsStream);

fn minute() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(60)
}

impl std::io::Read for TlsClient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf, Some(minute()))
    }
}

impl std::io::Write for TlsClient {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf, Some(minute()))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tls_client(pki: &Pki, port: u16) -> TlsClient {
    let config =
        virtkit_tls::client_config(&virtkit_tls::Pki::client_in(&pki.client_dir), true).unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    TlsClient(virtkit_tls::TlsStream::connect(config, "localhost", sock, minute()).unwrap())
}

fn send(w: &mut impl std::io::Write, serial: u32, procedure: i32, payload: &[u8]) {
    let h = virtkit_rpc::Header {
        program: virtkit_rpc::REMOTE_PROGRAM,
        version: 1,
        procedure,
        message_type: virtkit_rpc::MessageType::Call,
        serial,
        status: virtkit_rpc::Status::Ok,
    };
    w.write_all(&virtkit_rpc::Message::encode(&h, payload).unwrap())
        .unwrap();
}

fn recv(r: &mut impl std::io::Read) -> virtkit_rpc::Message {
    let bytes = virtkit_rpc::read_message(r).unwrap().expect("a reply");
    virtkit_rpc::Message::decode(&bytes).unwrap()
}

fn open(s: &mut (impl std::io::Read + std::io::Write)) {
    let mut e = virtkit_rpc::xdr::Encoder::new();
    e.opt_string(Some("test:///default")).u32(0);
    send(s, 1, PROC_CONNECT_OPEN, &e.into_bytes());
    assert_eq!(recv(s).header.status, virtkit_rpc::Status::Ok);
}

/// CONNECT_IS_SECURE as the daemon answers it.
fn is_secure(s: &mut (impl std::io::Read + std::io::Write)) -> i32 {
    send(s, 2, 149, &[]);
    let m = recv(s);
    virtkit_rpc::xdr::Decoder::new(&m.payload).i32().unwrap()
}

/// Twenty TLS clients with 300 calls each and 8 in flight (the daemon runs 5 at once per
/// client, so several workers write replies on one TLS stream while its reader waits for the
/// next call): every reply arrives, matched by serial, with the right content; large replies
/// (the capabilities document, several TLS records) interleave with small ones.
#[test]
fn twenty_tls_clients_with_calls_in_flight_lose_nothing() {
    const CLIENTS: usize = 20;
    const CALLS: u32 = 300;
    const IN_FLIGHT: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (d, port) = tls_daemon(dir.path(), &pki, "");
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let pki = pki.clone();
            std::thread::spawn(move || {
                let mut c = tls_client(&pki, port);
                open(&mut c);
                let mut pending = std::collections::HashMap::new();
                let (mut sent, mut answered) = (0u32, 0u32);
                while answered < CALLS {
                    while sent < CALLS && pending.len() < IN_FLIGHT {
                        let serial = 100 + sent;
                        let procedure = if sent % 10 == 0 {
                            PROC_CONNECT_GET_CAPABILITIES
                        } else {
                            PROC_DOMAIN_LOOKUP_BY_NAME
                        };
                        let arg = if procedure == PROC_DOMAIN_LOOKUP_BY_NAME {
                            string_arg("test")
                        } else {
                            Vec::new()
                        };
                        send(&mut c, serial, procedure, &arg);
                        pending.insert(serial, procedure);
                        sent += 1;
                    }
                    let m = recv(&mut c);
                    assert_eq!(m.header.status, virtkit_rpc::Status::Ok);
                    let procedure = pending
                        .remove(&m.header.serial)
                        .unwrap_or_else(|| panic!("unexpected serial {}", m.header.serial));
                    assert_eq!(m.header.procedure, procedure);
                    let mut dec = virtkit_rpc::xdr::Decoder::new(&m.payload);
                    if procedure == PROC_DOMAIN_LOOKUP_BY_NAME {
                        let dom = virtkit_rpc::WireDomain::decode(&mut dec).unwrap();
                        assert_eq!((dom.name.as_str(), dom.id), ("test", 1));
                    } else {
                        let caps = dec.string(virtkit_rpc::STRING_MAX).unwrap();
                        assert!(caps.starts_with("<capabilities>"), "{caps}");
                    }
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let total: u32 = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .sum();
    assert_eq!(total, CLIENTS as u32 * CALLS, "{}", d.log_text());
}

#[test]
fn a_tls_connection_is_secure_and_a_tcp_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (_d, port) = tls_daemon(dir.path(), &pki, "");
    let mut c = tls_client(&pki, port);
    open(&mut c);
    assert_eq!(is_secure(&mut c), 1);
    let tcp_port = virtkit_test_support::daemon::free_port();
    let t = Virtkitd::start_with(&["--listen", &format!("127.0.0.1:{tcp_port}")]);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    open(&mut c);
    assert_eq!(is_secure(&mut c), 0);
    let mut c = RpcClient::connect(&t.socket);
    c.open("test:///default");
    let r = c.call(149, &[]).unwrap();
    assert_eq!(virtkit_rpc::xdr::Decoder::new(&r).i32().unwrap(), 1);
}
