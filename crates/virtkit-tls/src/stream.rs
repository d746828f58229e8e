//! A rustls connection over a non-blocking TCP socket.
//!
//! Reads and writes wait in `poll(2)` against a deadline (none: wait as long as it takes).
//! The connection sits behind a mutex that a reader holds only while it moves bytes, never
//! while it waits, so one thread can wait for the peer's next message while others write
//! replies (the daemon's reader and worker threads). A writer holds the lock until its whole
//! message has left, within its deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ClientConnection, Connection, ServerConfig};

use crate::{Error, Result};

/// A TLS connection; clones share it.
#[derive(Clone)]
pub struct TlsStream {
    inner: Arc<Mutex<Inner>>,
    /// The same socket, for waiting and shutting down without the lock.
    sock: Arc<TcpStream>,
}

struct Inner {
    conn: Connection,
    sock: TcpStream,
}

fn wait(fd: BorrowedFd<'_>, writable: bool, deadline: Option<Instant>) -> io::Result<()> {
    let events = if writable {
        PollFlags::POLLOUT
    } else {
        PollFlags::POLLIN
    };
    loop {
        let slice = match deadline {
            None => Duration::from_secs(60),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the peer did not answer in time",
                    ));
                }
                left.min(Duration::from_secs(60))
            }
        };
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, PollTimeout::from(slice.as_millis().max(1) as u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// libvirt's words for a certificate the client refuses.
fn handshake_error(e: rustls::Error, host: Option<&str>) -> Error {
    use rustls::Error as E;
    let text = match &e {
        E::InvalidCertificate(CertificateError::NotValidForName)
        | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            format!(
                "Certificate's owner does not match the hostname {}",
                host.unwrap_or("?")
            )
        }
        E::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "Certificate failed validation: The certificate hasn't got a known issuer".into()
        }
        E::InvalidCertificate(CertificateError::BadSignature) => {
            "Certificate failed validation: The certificate is not trusted".into()
        }
        E::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "Certificate failed validation: The certificate has expired".into(),
        E::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "Certificate failed validation: The certificate is not yet activated".into(),
        E::InvalidCertificate(c) => format!("Certificate failed validation: {c:?}"),
        E::NoCertificatesPresented => "The client did not present a certificate".into(),
        other => format!("TLS handshake failed: {other}"),
    };
    Error::Handshake(text)
}

impl Inner {
    /// Sends everything rustls has queued, waiting until `deadline`.
    fn flush(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(self.sock.as_fd(), true, deadline)?
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends what can leave now without waiting (an alert, a key update).
    fn flush_now(&mut self) {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock).is_err() {
                break;
            }
        }
    }

    fn handshake(&mut self, deadline: Instant, host: Option<&str>) -> Result<()> {
        while self.conn.is_handshaking() {
            self.flush(Some(deadline))?;
            if !self.conn.wants_read() {
                if self.conn.wants_write() {
                    continue;
                }
                break;
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(Error::Handshake(
                        "TLS handshake failed: the peer closed the connection".into(),
                    ));
                }
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        self.flush_now();
                        return Err(handshake_error(e, host));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(self.sock.as_fd(), false, Some(deadline))?
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.flush(Some(deadline))?;
        Ok(())
    }
}

impl TlsStream {
    fn new(conn: Connection, sock: TcpStream) -> io::Result<TlsStream> {
        sock.set_nonblocking(true)?;
        let waiter = sock.try_clone()?;
        Ok(TlsStream {
            inner: Arc::new(Mutex::new(Inner { conn, sock })),
            sock: Arc::new(waiter),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client's side: the TLS handshake with `host` (whose name the server's certificate
    /// must carry, unless the configuration verifies nothing), then libvirt's confirmation
    /// byte, all by `deadline`.
    pub fn connect(
        config: Arc<ClientConfig>,
        host: &str,
        sock: TcpStream,
        deadline: Instant,
    ) -> Result<TlsStream> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Error::Handshake(format!("'{host}' is not a host name: {e}")))?;
        let conn = ClientConnection::new(config, name)
            .map_err(|e| Error::Handshake(format!("TLS handshake failed: {e}")))?;
        let s = TlsStream::new(conn.into(), sock)?;
        s.lock().handshake(deadline, Some(host))?;
        // The server checks our certificate (TLS 1.3 finishes the handshake before it has),
        // then sends one byte 1; a refusal arrives as an alert or the end of the stream.
        let mut b = [0u8; 1];
        match s.read(&mut b, Some(deadline)) {
            Ok(1) if b[0] == 1 => Ok(s),
            Ok(1) => Err(Error::NotConfirmed(format!(": confirmation byte {}", b[0]))),
            Ok(_) => Err(Error::NotConfirmed(String::new())),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err(Error::NotConfirmed(format!(": {e}")))
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(e.into()),
            Err(e) => Err(Error::NotConfirmed(format!(": {e}"))),
        }
    }

    /// The server's side: the TLS handshake (the client's certificate verified as the
    /// configuration says), then libvirt's confirmation byte, all by `deadline`.
    pub fn accept(
        config: Arc<ServerConfig>,
        sock: TcpStream,
        deadline: Instant,
    ) -> Result<TlsStream> {
        let conn = rustls::ServerConnection::new(config)
            .map_err(|e| Error::Handshake(format!("TLS handshake failed: {e}")))?;
        let s = TlsStream::new(conn.into(), sock)?;
        s.lock().handshake(deadline, None)?;
        s.write_all(&[1], Some(deadline))?;
        Ok(s)
    }

    /// Reads decrypted bytes, waiting until `deadline` (`None`: as long as it takes): the
    /// count, `0` at the end of the stream, `TimedOut` at the deadline, `InvalidData` for a TLS
    /// error or an alert from the peer.
    pub fn read(&self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        loop {
            {
                let mut g = self.lock();
                let g = &mut *g;
                match g.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed the socket without a close_notify alert.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                match g.conn.read_tls(&mut g.sock) {
                    Ok(_) => {
                        // Ok(0) marks the end of the stream; the reader reports it next.
                        if let Err(e) = g.conn.process_new_packets() {
                            g.flush_now();
                            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                        }
                        g.flush_now();
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            wait(self.sock.as_fd(), false, deadline)?;
        }
    }

    /// Writes all of `buf` by `deadline` (`None`: as long as it takes).
    pub fn write_all(&self, mut buf: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let mut g = self.lock();
        while !buf.is_empty() {
            let n = g.conn.writer().write(buf)?;
            buf = &buf[n..];
            g.flush(deadline)?;
        }
        g.flush(deadline)
    }

    /// Ends the connection both ways; a reader waiting for data sees the end of the stream.
    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// The peer's address, for log lines.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.sock.peer_addr().ok()
    }
}
