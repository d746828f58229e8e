//! The HTTP side of xend's protocol: one request per connection, over a unix socket or TCP, with
//! timeouts on every step and a cap on what is read.
//!
//! xend answers `GET` for reads and `POST` with an `application/x-www-form-urlencoded` body for
//! operations (`op=pause`, `op=create&config=(vm …)`). libvirt 0.4.6 opened one connection per
//! request and read the reply by its `Content-Length`; so does this client. The reply reader
//! ([`read_response`]) is a pure function over any byte stream, so it can be fuzzed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The largest reply body accepted (a list of a thousand domains in detail is about 2 MB).
pub const MAX_BODY: usize = 8 << 20;
/// The largest status line plus headers accepted.
pub const MAX_HEAD: usize = 64 << 10;
/// The default time allowed for one request, from connecting to the end of the reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The environment variable that overrides the timeout, in milliseconds.
pub const TIMEOUT_ENV: &str = "VIRTKIT_XEND_TIMEOUT_MS";

/// Where xend listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket (`/var/lib/xend/xend-socket`).
    Unix(PathBuf),
    /// A TCP address (`http://host:8000/`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp { host, port } => write!(f, "http://{host}:{port}/"),
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// The daemon could not be reached.
    #[error("cannot connect to xend at {endpoint}: {reason}")]
    Connect {
        /// Where.
        endpoint: String,
        /// The system's reason.
        reason: String,
    },
    /// The request or reply timed out.
    #[error("xend at {0} did not answer in time")]
    Timeout(String),
    /// Reading or writing failed.
    #[error("connection to xend failed: {0}")]
    Io(String),
    /// The daemon closed the connection before a complete reply.
    #[error("xend closed the connection before a complete reply")]
    Closed,
    /// The reply is not HTTP as xend speaks it.
    #[error("malformed reply from xend: {0}")]
    Malformed(String),
    /// The reply is larger than [`MAX_BODY`].
    #[error("reply from xend is larger than {} MiB", MAX_BODY >> 20)]
    TooLarge,
}

/// A reply: its status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

/// Reads one HTTP/1.x reply: the status line, headers up to an empty line, then the body by its
/// `Content-Length`, or to the end of the stream when there is none. Linear in its input; reads
/// at most `MAX_HEAD + cap` bytes.
pub fn read_response(r: &mut impl BufRead, cap: usize) -> Result<Response, HttpError> {
    let mut head_used = 0usize;
    let status_line = read_line(r, &mut head_used)?.ok_or(HttpError::Closed)?;
    let status = parse_status(&status_line)?;
    let mut length: Option<usize> = None;
    loop {
        let line = read_line(r, &mut head_used)?.ok_or(HttpError::Closed)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!(
                "header line without a colon: {}",
                shorten(&line)
            )));
        };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().map_err(|_| {
                HttpError::Malformed(format!("bad Content-Length '{}'", shorten(value)))
            })?;
            if n > cap as u64 {
                return Err(HttpError::TooLarge);
            }
            if length.is_some_and(|l| l as u64 != n) {
                return Err(HttpError::Malformed(
                    "conflicting Content-Length headers".into(),
                ));
            }
            length = Some(n as usize);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && !value.eq_ignore_ascii_case("identity")
        {
            return Err(HttpError::Malformed(format!(
                "unsupported Transfer-Encoding '{}'",
                shorten(value)
            )));
        }
    }
    let body = match length {
        Some(n) => {
            let mut body = vec![0u8; n];
            r.read_exact(&mut body).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => HttpError::Closed,
                _ => io_error(&e),
            })?;
            body
        }
        None => {
            let mut body = Vec::new();
            r.take(cap as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|e| io_error(&e))?;
            if body.len() > cap {
                return Err(HttpError::TooLarge);
            }
            body
        }
    };
    Ok(Response { status, body })
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

fn io_error(e: &std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            HttpError::Timeout("the socket".into())
        }
        _ => HttpError::Io(e.to_string()),
    }
}

/// One line of the head without its `\r\n` (or `\n`); `None` at the end of the stream.
fn read_line(r: &mut impl BufRead, used: &mut usize) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    let budget = (MAX_HEAD - *used) as u64;
    let n = r
        .take(budget)
        .read_until(b'\n', &mut line)
        .map_err(|e| io_error(&e))?;
    *used += n;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return if *used >= MAX_HEAD {
            Err(HttpError::Malformed(format!(
                "reply head longer than {} KiB",
                MAX_HEAD >> 10
            )))
        } else {
            Err(HttpError::Closed)
        };
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| HttpError::Malformed("reply head is not UTF-8".into()))
}

fn parse_status(line: &str) -> Result<u16, HttpError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(HttpError::Malformed(format!(
            "not an HTTP status line: {}",
            shorten(line)
        )));
    }
    code.parse()
        .ok()
        .filter(|c| (100..600).contains(c))
        .ok_or_else(|| HttpError::Malformed(format!("bad status code '{}'", shorten(code))))
}

/// Percent-encodes a form value (`application/x-www-form-urlencoded`).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes one path segment (a domain name in `/xend/domain/NAME`).
pub fn path_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A stream to xend, whichever transport.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// A reader that gives up when the request's deadline has passed, whatever the peer sends
/// (a peer trickling one byte per second cannot hold the caller beyond the deadline).
struct Deadlined<'a> {
    stream: &'a mut Stream,
    deadline: Instant,
}

impl Deadlined<'_> {
    fn arm(&mut self) -> std::io::Result<()> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut))?;
        match self.stream {
            Stream::Unix(s) => s.set_read_timeout(Some(left)),
            Stream::Tcp(s) => s.set_read_timeout(Some(left)),
        }
    }
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm()?;
        self.stream.read(buf)
    }
}

/// A client for one xend endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Client {
    /// A client with the timeout of [`TIMEOUT_ENV`] or [`DEFAULT_TIMEOUT`].
    pub fn new(endpoint: Endpoint) -> Client {
        let timeout = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        Client { endpoint, timeout }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn connect(&self, deadline: Instant) -> Result<Stream, HttpError> {
        let fail = |e: std::io::Error| HttpError::Connect {
            endpoint: self.endpoint.to_string(),
            reason: e.to_string(),
        };
        let stream = match &self.endpoint {
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(fail)?),
            Endpoint::Tcp { host, port } => {
                let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(fail)?
                    .collect();
                let mut last = None;
                let mut found = None;
                for a in addrs {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(HttpError::Timeout(self.endpoint.to_string()));
                    }
                    match TcpStream::connect_timeout(&a, left) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let s = found.ok_or_else(|| {
                    fail(last.unwrap_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
                    }))
                })?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let set = match &stream {
            Stream::Unix(s) => s.set_write_timeout(Some(left.max(Duration::from_millis(1)))),
            Stream::Tcp(s) => s.set_write_timeout(Some(left.max(Duration::from_millis(1)))),
        };
        set.map_err(|e| HttpError::Io(e.to_string()))?;
        Ok(stream)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.request("GET", path, None)
    }

    /// `POST path` with form fields.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Result<Response, HttpError> {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        self.request("POST", path, Some(body.join("&")))
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<Response, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let mut stream = self.connect(deadline)?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost:8000\r\nAccept-Encoding: identity\r\n"
        );
        if let Some(b) = &body {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        let timed_out = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                HttpError::Timeout(self.endpoint.to_string())
            }
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                HttpError::Closed
            }
            _ => HttpError::Io(e.to_string()),
        };
        stream.write_all(req.as_bytes()).map_err(timed_out)?;
        let mut reader = BufReader::new(Deadlined {
            stream: &mut stream,
            deadline,
        });
        read_response(&mut reader, MAX_BODY).map_err(|e| match e {
            HttpError::Timeout(_) => HttpError::Timeout(self.endpoint.to_string()),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &[u8]) -> Result<Response, HttpError> {
        read_response(&mut &s[..], 1024)
    }

    #[test]
    fn replies() {
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n(a b)").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"(a b)"[..]));
        let r = read(b"HTTP/1.0 404 Not Found\r\n\r\nno such thing").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"no such thing"[..]));
        let r = read(b"HTTP/1.1 202 Accepted\ncontent-length: 0\n\n").unwrap();
        assert_eq!(r.status, 202);
    }

    #[test]
    fn bad_replies() {
        assert_eq!(read(b""), Err(HttpError::Closed));
        assert_eq!(read(b"HTTP/1.1 200 OK\r\n"), Err(HttpError::Closed));
        assert_eq!(
            read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            Err(HttpError::Closed)
        );
        assert_eq!(
            read(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"),
            Err(HttpError::TooLarge)
        );
        assert_eq!(
            read(&[b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 2000]].concat()),
            Err(HttpError::TooLarge)
        );
        assert!(matches!(
            read(b"garbage\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            read(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            read(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        let long_head = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
        assert!(matches!(read(&long_head), Err(HttpError::Malformed(_))));
    }

    #[test]
    fn encodings() {
        assert_eq!(
            form_encode("(vm (name 'a b'))"),
            "%28vm+%28name+%27a+b%27%29%29"
        );
        assert_eq!(path_encode("a b/c"), "a%20b%2Fc");
    }
}
