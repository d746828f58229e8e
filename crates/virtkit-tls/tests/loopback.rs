//! Both ends over loopback TCP with credentials made by the test: libvirt's confirmation byte,
//! data both ways, and the refusals (a client certificate from another CA, no client
//! certificate, a server certificate for another name, a CA the client does not know).

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virtkit_tls::{Error, Pki, TlsStream, client_config, server_config};

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// A server accepting one client with `verify_clients`; its result comes back on the channel.
fn serve_one(
    pki: &virtkit_test_support::pki::Pki,
    verify_clients: bool,
) -> (u16, mpsc::Receiver<Result<Vec<u8>, String>>) {
    let (config, _) = server_config(&Pki::server_in(&pki.server_dir), verify_clients).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (sock, _) = l.accept().unwrap();
        let r = TlsStream::accept(config, sock, soon())
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let mut buf = [0u8; 5];
                let mut got = 0;
                while got < 5 {
                    let n = s
                        .read(&mut buf[got..], Some(soon()))
                        .map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("end of stream".into());
                    }
                    got += n;
                }
                s.write_all(b"world", Some(soon()))
                    .map_err(|e| e.to_string())?;
                Ok(buf.to_vec())
            });
        let _ = tx.send(r);
    });
    (port, rx)
}

fn dial(dir: &std::path::Path, host: &str, port: u16, verify: bool) -> Result<TlsStream, Error> {
    let config = client_config(&virtkit_tls::Pki::client_in(dir), verify)?;
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    TlsStream::connect(config, host, sock, soon())
}

#[test]
fn a_client_with_a_certificate_of_the_ca_talks_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(dir.path());
    for host in ["localhost", "127.0.0.1"] {
        let (port, rx) = serve_one(&pki, true);
        let s = dial(&pki.client_dir, host, port, true).unwrap();
        s.write_all(b"hello", Some(soon())).unwrap();
        let mut buf = [0u8; 5];
        let mut got = 0;
        while got < 5 {
            got += s.read(&mut buf[got..], Some(soon())).unwrap();
        }
        assert_eq!(&buf, b"world");
        assert_eq!(rx.recv().unwrap().unwrap(), b"hello");
    }
}

#[test]
fn clients_without_a_valid_certificate_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(dir.path());
    for client in [&pki.rogue_client_dir, &pki.anonymous_client_dir] {
        let (port, rx) = serve_one(&pki, true);
        let e = match dial(client, "localhost", port, true) {
            Err(e) => e,
            Ok(_) => panic!("{}: accepted", client.display()),
        };
        assert!(
            e.to_string()
                .starts_with("server verification (of our certificate or IP address) failed"),
            "{}: {e}",
            client.display()
        );
        let server = rx.recv().unwrap().unwrap_err();
        assert!(
            server.starts_with("TLS handshake failed") || server.contains("certificate"),
            "{server}"
        );
    }
    // tls_no_verify_certificate = 1: both are let in.
    for client in [&pki.rogue_client_dir, &pki.anonymous_client_dir] {
        let (port, rx) = serve_one(&pki, false);
        let s = dial(client, "localhost", port, true).unwrap();
        s.write_all(b"hello", Some(soon())).unwrap();
        assert_eq!(rx.recv().unwrap().unwrap(), b"hello");
    }
}

#[test]
fn the_client_checks_the_servers_name_and_ca_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(dir.path());
    let (port, _rx) = serve_one(&pki, true);
    let e = dial(&pki.client_dir, "node1.example", port, true)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "Certificate's owner does not match the hostname node1.example"
    );
    // A client trusting another CA only (of the same name: the signature does not match).
    let other = tempfile::tempdir().unwrap();
    let other_pki = virtkit_test_support::pki::Pki::new(other.path());
    for f in ["clientcert.pem", "clientkey.pem"] {
        std::fs::copy(pki.client_dir.join(f), other_pki.client_dir.join(f)).unwrap();
    }
    let (port, _rx) = serve_one(&pki, true);
    let e = dial(&other_pki.client_dir, "localhost", port, true)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "Certificate failed validation: The certificate is not trusted"
    );
    // no_verify=1: both connect.
    let (port, rx) = serve_one(&pki, true);
    let s = dial(&pki.client_dir, "node1.example", port, false).unwrap();
    s.write_all(b"hello", Some(soon())).unwrap();
    assert_eq!(rx.recv().unwrap().unwrap(), b"hello");
}

#[test]
fn a_silent_server_times_the_handshake_out() {
    let dir = tempfile::tempdir().unwrap();
    let pki = virtkit_test_support::pki::Pki::new(dir.path());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let config = client_config(&virtkit_tls::Pki::client_in(&pki.client_dir), true).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let e = TlsStream::connect(
        config,
        "localhost",
        sock,
        Instant::now() + Duration::from_millis(200),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut),
        "{e}"
    );
    drop(l);
}
