//! A client of the xenstore daemon on its unix socket: one request at a time, each with a
//! deadline; watch events that arrive while a reply is awaited are kept for [`Client::next_event`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::wire::{HEADER_LEN, Header, Message, MsgType, Perm, WireError};

/// The daemon's socket on current systems.
pub const SOCKET: &str = "/run/xenstored/socket";
/// The daemon's socket on older systems.
pub const OLD_SOCKET: &str = "/var/run/xenstored/socket";
/// The environment variable that names the socket for Xen's own client tools (and for us).
pub const PATH_ENV: &str = "XENSTORED_PATH";
/// Overrides the request deadline, in milliseconds.
pub const TIMEOUT_ENV: &str = "VIRTKIT_XENSTORE_TIMEOUT_MS";
/// Default request deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("cannot connect to xenstored at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading or writing the socket failed (a deadline passing is one).
    #[error("xenstore {op} request failed: {source}")]
    Io {
        /// The request.
        op: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The reply broke the protocol.
    #[error("xenstore {op} request: {source}")]
    Wire {
        /// The request.
        op: &'static str,
        /// How.
        source: WireError,
    },
    /// The reply answers another request or is of the wrong type.
    #[error("xenstore {op} request: unexpected {got} reply")]
    Unexpected {
        /// The request.
        op: &'static str,
        /// The reply's type.
        got: &'static str,
    },
    /// The store refused: its errno name.
    #[error("xenstore {op} {path}: {errno}")]
    Store {
        /// The request.
        op: &'static str,
        /// The path asked about.
        path: String,
        /// The errno name (`ENOENT`, `EACCES`, …).
        errno: String,
    },
}

impl ClientError {
    /// The store's errno name, when the store refused.
    pub fn errno(&self) -> Option<&str> {
        match self {
            ClientError::Store { errno, .. } => Some(errno),
            _ => None,
        }
    }
}

/// A result of a store request.
pub type Result<T> = std::result::Result<T, ClientError>;

/// The socket a client should use: `XENSTORED_PATH` when set, else the current path when it
/// exists, else the older one. `read_only` picks the `_ro` socket beside it, as Xen's tools did.
pub fn socket_path(env: Option<&str>, read_only: bool, exists: impl Fn(&Path) -> bool) -> PathBuf {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = if exists(Path::new(SOCKET)) || !exists(Path::new(OLD_SOCKET)) {
        SOCKET
    } else {
        OLD_SOCKET
    };
    if read_only {
        let ro = PathBuf::from(format!("{base}_ro"));
        if exists(&ro) {
            return ro;
        }
    }
    PathBuf::from(base)
}

/// A connection to the store.
pub struct Client {
    stream: UnixStream,
    next_req: u32,
    events: VecDeque<(String, String)>,
}

impl Client {
    /// Connects to the socket at `path`; every request must be answered within `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let set = |s: &UnixStream| {
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))
        };
        set(&stream).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Client {
            stream,
            next_req: 1,
            events: VecDeque::new(),
        })
    }

    fn op_name(kind: MsgType) -> &'static str {
        crate::wire::kind_name(kind)
    }

    /// Reads one message, checking its header before reading its payload.
    fn read_message(&mut self, op: &'static str) -> Result<Message> {
        let mut head = [0u8; HEADER_LEN];
        self.stream
            .read_exact(&mut head)
            .map_err(|source| ClientError::Io { op, source })?;
        let h = Header::decode(&head).map_err(|source| ClientError::Wire { op, source })?;
        let mut payload = vec![0u8; h.len as usize];
        self.stream
            .read_exact(&mut payload)
            .map_err(|source| ClientError::Io { op, source })?;
        Ok(Message {
            kind: h.kind,
            req_id: h.req_id,
            tx_id: h.tx_id,
            payload,
        })
    }

    /// Sends one request and waits for its reply (keeping watch events that come first).
    pub fn request(
        &mut self,
        kind: MsgType,
        tx: u32,
        fields: &[&str],
        tail: Option<&[u8]>,
    ) -> Result<Message> {
        let op = Client::op_name(kind);
        let req_id = self.next_req;
        self.next_req = self.next_req.wrapping_add(1).max(1);
        let msg = Message::request(kind, req_id, tx, fields, tail)
            .map_err(|source| ClientError::Wire { op, source })?;
        self.stream
            .write_all(&msg.encode())
            .map_err(|source| ClientError::Io { op, source })?;
        loop {
            let reply = self.read_message(op)?;
            if reply.kind == MsgType::WatchEvent {
                let f = reply
                    .fields()
                    .map_err(|source| ClientError::Wire { op, source })?;
                if f.len() < 2 {
                    return Err(ClientError::Wire {
                        op,
                        source: WireError::Malformed("WATCH_EVENT"),
                    });
                }
                self.events.push_back((f[0].to_string(), f[1].to_string()));
                continue;
            }
            if reply.req_id != req_id {
                return Err(ClientError::Unexpected {
                    op,
                    got: "mismatched request id",
                });
            }
            if let Some(errno) = reply.error_name() {
                return Err(ClientError::Store {
                    op,
                    path: fields.first().copied().unwrap_or("").to_string(),
                    errno: errno.to_string(),
                });
            }
            if reply.kind != kind {
                return Err(ClientError::Unexpected {
                    op,
                    got: crate::wire::kind_name(reply.kind),
                });
            }
            return Ok(reply);
        }
    }

    fn expect_ok(
        &mut self,
        kind: MsgType,
        tx: u32,
        fields: &[&str],
        tail: Option<&[u8]>,
    ) -> Result<()> {
        let r = self.request(kind, tx, fields, tail)?;
        if r.payload != b"OK\0" {
            return Err(ClientError::Wire {
                op: Client::op_name(kind),
                source: WireError::Malformed(Client::op_name(kind)),
            });
        }
        Ok(())
    }

    /// A node's value; `Ok(None)` when it does not exist.
    pub fn read(&mut self, tx: u32, path: &str) -> Result<Option<String>> {
        match self.request(MsgType::Read, tx, &[path], None) {
            Ok(m) => m
                .text()
                .map(|s| Some(s.to_string()))
                .map_err(|source| ClientError::Wire { op: "READ", source }),
            Err(e) if e.errno() == Some("ENOENT") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a node's value (creating it and its parents).
    pub fn write(&mut self, tx: u32, path: &str, value: &str) -> Result<()> {
        self.expect_ok(MsgType::Write, tx, &[path], Some(value.as_bytes()))
    }

    /// Creates a node (and its parents) with an empty value.
    pub fn mkdir(&mut self, tx: u32, path: &str) -> Result<()> {
        self.expect_ok(MsgType::Mkdir, tx, &[path], None)
    }

    /// Removes a node and everything beneath it.
    pub fn rm(&mut self, tx: u32, path: &str) -> Result<()> {
        self.expect_ok(MsgType::Rm, tx, &[path], None)
    }

    /// A node's children; `Ok(None)` when it does not exist.
    pub fn directory(&mut self, tx: u32, path: &str) -> Result<Option<Vec<String>>> {
        match self.request(MsgType::Directory, tx, &[path], None) {
            Ok(m) => Ok(Some(
                m.fields()
                    .map_err(|source| ClientError::Wire {
                        op: "DIRECTORY",
                        source,
                    })?
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            )),
            Err(e) if e.errno() == Some("ENOENT") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A node's permissions.
    pub fn get_perms(&mut self, tx: u32, path: &str) -> Result<Vec<Perm>> {
        let m = self.request(MsgType::GetPerms, tx, &[path], None)?;
        let fields = m.fields().map_err(|source| ClientError::Wire {
            op: "GET_PERMS",
            source,
        })?;
        fields
            .iter()
            .map(|f| Perm::parse(f))
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
            .ok_or(ClientError::Wire {
                op: "GET_PERMS",
                source: WireError::Malformed("GET_PERMS"),
            })
    }

    /// Sets a node's permissions.
    pub fn set_perms(&mut self, tx: u32, path: &str, perms: &[Perm]) -> Result<()> {
        let strs: Vec<String> = perms.iter().map(Perm::to_string).collect();
        let mut fields = vec![path];
        fields.extend(strs.iter().map(String::as_str));
        self.expect_ok(MsgType::SetPerms, tx, &fields, None)
    }

    /// Watches `path` (and what is beneath it); events carry `token`.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<()> {
        self.expect_ok(MsgType::Watch, 0, &[path, token], None)
    }

    /// Stops watching.
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<()> {
        self.expect_ok(MsgType::Unwatch, 0, &[path, token], None)
    }

    /// The next watch event (path, token), waiting up to the request deadline.
    pub fn next_event(&mut self) -> Result<(String, String)> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        let m = self.read_message("WATCH_EVENT")?;
        if m.kind != MsgType::WatchEvent {
            return Err(ClientError::Unexpected {
                op: "WATCH_EVENT",
                got: crate::wire::kind_name(m.kind),
            });
        }
        let f = m.fields().map_err(|source| ClientError::Wire {
            op: "WATCH_EVENT",
            source,
        })?;
        match f.as_slice() {
            [p, t, ..] => Ok((p.to_string(), t.to_string())),
            _ => Err(ClientError::Wire {
                op: "WATCH_EVENT",
                source: WireError::Malformed("WATCH_EVENT"),
            }),
        }
    }

    /// Starts a transaction; returns its id.
    pub fn transaction_start(&mut self) -> Result<u32> {
        let m = self.request(MsgType::TransactionStart, 0, &[""], None)?;
        let f = m.fields().map_err(|source| ClientError::Wire {
            op: "TRANSACTION_START",
            source,
        })?;
        f.first()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|&id| id != 0)
            .ok_or(ClientError::Wire {
                op: "TRANSACTION_START",
                source: WireError::Malformed("TRANSACTION_START"),
            })
    }

    /// Ends a transaction: commits when `commit`, else aborts. A commit that lost a race fails
    /// with `EAGAIN`.
    pub fn transaction_end(&mut self, tx: u32, commit: bool) -> Result<()> {
        self.expect_ok(
            MsgType::TransactionEnd,
            tx,
            &[if commit { "T" } else { "F" }],
            None,
        )
    }

    /// The home path of domain `domid` (`/local/domain/<id>`).
    pub fn get_domain_path(&mut self, domid: u32) -> Result<String> {
        let id = domid.to_string();
        let m = self.request(MsgType::GetDomainPath, 0, &[&id], None)?;
        let f = m.fields().map_err(|source| ClientError::Wire {
            op: "GET_DOMAIN_PATH",
            source,
        })?;
        f.first().map(|s| s.to_string()).ok_or(ClientError::Wire {
            op: "GET_DOMAIN_PATH",
            source: WireError::Malformed("GET_DOMAIN_PATH"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_choice() {
        assert_eq!(
            socket_path(Some("/tmp/s"), true, |_| true),
            PathBuf::from("/tmp/s")
        );
        assert_eq!(socket_path(None, false, |_| false), PathBuf::from(SOCKET));
        assert_eq!(
            socket_path(None, false, |p| p == Path::new(OLD_SOCKET)),
            PathBuf::from(OLD_SOCKET)
        );
        assert_eq!(
            socket_path(None, true, |_| true),
            PathBuf::from(format!("{SOCKET}_ro"))
        );
        assert_eq!(
            socket_path(None, true, |p| p == Path::new(SOCKET)),
            PathBuf::from(SOCKET)
        );
    }
}
