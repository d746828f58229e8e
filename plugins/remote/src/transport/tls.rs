//! TLS over TCP (`+tls`): virtkit-tls's stream (rustls) with libvirt's x509 files.

use std::io;
use std::time::{Duration, Instant};

use virtkit_driver::{Error, ErrorCode, Result};

use super::{Transport, tcp_connect};

/// A TLS connection to a daemon.
pub struct TlsTransport(virtkit_tls::TlsStream);

fn tls_error(e: virtkit_tls::Error) -> Error {
    let code = match &e {
        virtkit_tls::Error::Io(_) => ErrorCode::NoConnect,
        _ => ErrorCode::SystemError,
    };
    Error::new(code, e.to_string())
}

impl TlsTransport {
    /// Connects to `host:port` and completes the handshake with the credentials of `pki`:
    /// the server's certificate must be signed by the CA and name `host` (unless `verify` is
    /// false), and the server must accept the client's certificate.
    pub fn connect(
        host: &str,
        port: u16,
        pki: &virtkit_tls::Pki,
        verify: bool,
        timeout: Duration,
    ) -> Result<TlsTransport> {
        let config = virtkit_tls::client_config(pki, verify).map_err(tls_error)?;
        let deadline = Instant::now() + timeout;
        let sock = tcp_connect(host, port, timeout)?;
        virtkit_tls::TlsStream::connect(config, host, sock, deadline)
            .map(TlsTransport)
            .map_err(|e| match e {
                virtkit_tls::Error::Io(io) => Error::new(
                    ErrorCode::NoConnect,
                    format!("TLS handshake with '{host}:{port}' failed: {io}"),
                ),
                other => tls_error(other),
            })
    }
}

impl Transport for TlsTransport {
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        self.0.read(buf, Some(deadline))
    }
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        self.0.write_all(buf, Some(deadline))
    }
    fn shutdown(&mut self) {
        self.0.shutdown();
    }
}
