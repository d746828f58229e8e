//! The byte streams a [`Client`](crate::Client) talks over: a unix socket, a TCP socket, TLS
//! over TCP, or a child process's stdin/stdout pair (ssh).
//!
//! Every transport reads and writes against a deadline rather than through a socket's
//! `SO_RCVTIMEO`: the descriptors are non-blocking and a call that would block waits in
//! `poll(2)` until the descriptor is ready or the deadline passes ([`read_fd`],
//! [`write_all_fd`]). That works alike for sockets and pipes, so a pipe pair fits the same
//! trait, and TLS (rustls over a non-blocking TCP stream) waits the same way.
//!
//! A new transport is a module beside this one (`transport/tls.rs`, `transport/ssh.rs`) with a
//! type implementing [`Transport`]; [`crate::connect`] picks it from the URI's [`Route`](crate::Route) and hands it to
//! [`Client::new`](crate::Client::new) boxed.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use virtkit_driver::{Error, ErrorCode, Result};

pub mod tls;

/// A connected byte stream to a daemon.
pub trait Transport: Send {
    /// Reads some bytes into `buf`, waiting until `deadline` at most: the count read, `0` at
    /// the end of the stream, an error of kind `TimedOut` when the deadline passes first.
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize>;
    /// Writes all of `buf` (and flushes it) by `deadline`.
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()>;
    /// Ends the connection in both directions, best effort (a later read sees the end).
    fn shutdown(&mut self);
}

/// Makes `fd` non-blocking, as [`read_fd`] and [`write_all_fd`] need.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// Waits until `fd` is readable (or writable) or `deadline` passes (`TimedOut`). A hang-up
/// or error condition counts as ready: the next read or write reports it.
pub fn wait_fd(fd: BorrowedFd<'_>, writable: bool, deadline: Instant) -> io::Result<()> {
    let events = if writable {
        PollFlags::POLLOUT
    } else {
        PollFlags::POLLIN
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer from the daemon in time",
            ));
        }
        // At most a minute per poll: the loop re-checks the deadline.
        let ms = left.min(Duration::from_secs(60)).as_millis().max(1) as u16;
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads from a non-blocking descriptor, waiting in `poll(2)` until `deadline`.
pub fn read_fd<S: Read + AsFd>(s: &mut S, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        match s.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_fd(s.as_fd(), false, deadline)?,
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `buf` to a non-blocking descriptor, waiting in `poll(2)` until `deadline`.
pub fn write_all_fd<S: Write + AsFd>(
    s: &mut S,
    mut buf: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_fd(s.as_fd(), true, deadline)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A unix-socket connection (`+unix`).
pub struct UnixTransport(UnixStream);

impl UnixTransport {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<UnixTransport> {
        let stream = UnixStream::connect(path).map_err(|e| {
            Error::new(
                ErrorCode::NoConnect,
                format!("Failed to connect socket to '{}': {e}", path.display()),
            )
        })?;
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::system("socket mode", &e))?;
        Ok(UnixTransport(stream))
    }
}

impl Transport for UnixTransport {
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        read_fd(&mut self.0, buf, deadline)
    }
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        write_all_fd(&mut self.0, buf, deadline)
    }
    fn shutdown(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// Connects a TCP stream to `host:port` (every address the name resolves to, in turn), within
/// `timeout` per address; the stream is non-blocking. Errors are worded as libvirt's.
pub fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(
                ErrorCode::NoConnect,
                format!("Unable to resolve address '{host}' service '{port}': {e}"),
            )
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_nonblocking(true)
                    .and_then(|_| s.set_nodelay(true))
                    .map_err(|e| Error::system("socket mode", &e))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
    Err(Error::new(
        ErrorCode::NoConnect,
        format!("unable to connect to server at '{host}:{port}': {why}"),
    ))
}

/// A plain TCP connection (`+tcp`): no encryption, no authentication.
pub struct TcpTransport(TcpStream);

impl TcpTransport {
    /// Connects to `host:port`.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpTransport> {
        tcp_connect(host, port, timeout).map(TcpTransport)
    }
}

impl Transport for TcpTransport {
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        read_fd(&mut self.0, buf, deadline)
    }
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        write_all_fd(&mut self.0, buf, deadline)
    }
    fn shutdown(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// A transport read as `std::io::Read` until one deadline (for `virtkit_rpc::read_message`).
pub(crate) struct ReadBy<'a> {
    pub(crate) transport: &'a mut dyn Transport,
    pub(crate) deadline: Instant,
}

impl Read for ReadBy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.transport.read(buf, self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_pair_reads_and_writes_against_a_deadline() {
        // The pair a child process's stdin/stdout gives, as an ssh transport would hold it.
        let (mut r, mut w) = std::io::pipe().unwrap();
        set_nonblocking(r.as_fd()).unwrap();
        set_nonblocking(w.as_fd()).unwrap();
        let soon = Instant::now() + Duration::from_millis(50);
        let mut buf = [0u8; 8];
        let e = read_fd(&mut r, &mut buf, soon).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        write_all_fd(&mut w, b"abc", Instant::now() + Duration::from_secs(5)).unwrap();
        let n = read_fd(&mut r, &mut buf, Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(&buf[..n], b"abc");
        drop(w);
        let n = read_fd(&mut r, &mut buf, Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(n, 0, "the end of the stream");
    }

    #[test]
    fn a_refused_tcp_connection_says_where() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = match TcpTransport::connect("127.0.0.1", port, Duration::from_secs(5)) {
            Err(e) => e,
            Ok(_) => panic!("connected to a closed port"),
        };
        assert!(
            e.message.starts_with(&format!(
                "unable to connect to server at '127.0.0.1:{port}'"
            )),
            "{e}"
        );
    }
}
