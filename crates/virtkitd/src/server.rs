//! Sockets, clients and their threads.
//!
//! Each client has a reader thread and a few worker threads of its own (`max_client_requests`,
//! at most `max_workers`): the reader hands calls to the workers through a bounded queue, so a
//! client has at most that many calls queued plus that many running, and when it sends more the
//! reader simply stops reading it. Replies are written under the client's own lock with a write
//! timeout, so a client that stops reading blocks only its own threads, and is dropped when the
//! timeout passes. Nothing is shared between clients but the plugin registry and the count of
//! clients.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use virtkit::Registry;
use virtkit_rpc::xdr::Encoder;
use virtkit_rpc::{
    Header, KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM,
    KEEPALIVE_PROTOCOL_VERSION, Message, MessageType, Procedure, REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION, RemoteError, Status, read_message,
};

use crate::config::{LogLevel, Settings};
use crate::dispatch::{Outbox, Session, unknown_procedure, unknown_program};
use crate::events::EventHub;
use crate::log;

/// The stack of a thread that runs calls (a client's reader runs CONNECT_OPEN, its workers the
/// rest, the event watcher reads the node): a call goes through the core, a plugin and a
/// driver, deeper in a debug build. Address space only: the pages used are what counts.
pub const CALL_STACK: usize = 2 * 1024 * 1024;

/// How long a reply may wait for a client that does not read before the client is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The daemon: settings, the registry every connection opens through, the client count.
pub struct Daemon {
    settings: Settings,
    registry: Arc<Registry>,
    clients: AtomicUsize,
    next_id: AtomicU64,
    hub: Arc<EventHub>,
}

/// A client's byte streams: reading, writing, and a way to end both.
pub struct Transport {
    /// Where calls come from.
    pub reader: Box<dyn Read + Send>,
    /// Where replies go.
    pub writer: Box<dyn Write + Send>,
    /// Ends the connection (unblocks the reader).
    pub close: Box<dyn Fn() + Send + Sync>,
    /// Who is on the other side, for log lines.
    pub peer: String,
}

impl Transport {
    /// A unix-socket client, identified by SO_PEERCRED.
    pub fn unix(stream: UnixStream) -> std::io::Result<Transport> {
        let peer =
            match nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
            {
                Ok(c) => format!("pid {} uid {} gid {}", c.pid(), c.uid(), c.gid()),
                Err(e) => format!("unknown peer ({e})"),
            };
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let reader = stream.try_clone()?;
        let writer = stream.try_clone()?;
        Ok(Transport {
            reader: Box::new(reader),
            writer: Box::new(writer),
            close: Box::new(move || {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }),
            peer,
        })
    }
}

/// Refuses to replace anything at a socket path but a stale socket nobody listens on.
fn clear_stale_socket(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
        Ok(md) if md.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "{}: another daemon is listening on this socket",
                    path.display()
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("{}: cannot remove the stale socket: {e}", path.display()))
        }
        Ok(md) => Err(format!(
            "{}: exists and is a {}, not a socket; refusing to replace it",
            path.display(),
            virtkit_hostio::kind_name(md.file_type())
        )),
    }
}

/// Binds a socket with its mode and group.
pub fn bind(path: &Path, mode: u32, group: Option<&str>) -> Result<UnixListener, String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| format!("{}: no directory", path.display()))?;
    virtkit_hostio::ensure_private_dir(dir, 0o755).map_err(|e| e.to_string())?;
    clear_stale_socket(path)?;
    let l =
        UnixListener::bind(path).map_err(|e| format!("{}: cannot listen: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: cannot set mode {mode:o}: {e}", path.display()))?;
    if let Some(g) = group {
        let gid = nix::unistd::Group::from_name(g)
            .map_err(|e| format!("unix_sock_group '{g}': {e}"))?
            .ok_or_else(|| format!("unix_sock_group '{g}': no such group"))?
            .gid;
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| format!("{}: cannot give it to group '{g}': {e}", path.display()))?;
    }
    Ok(l)
}

impl Daemon {
    /// A daemon with these settings, opening connections through `registry`.
    pub fn new(settings: Settings, registry: Registry) -> Arc<Daemon> {
        Arc::new(Daemon {
            settings,
            registry: Arc::new(registry),
            clients: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            hub: Arc::new(EventHub::new()),
        })
    }

    /// Accepts clients on `listener` until it fails; each client runs on threads of its own.
    pub fn accept_loop(self: &Arc<Daemon>, listener: UnixListener, read_only: bool) {
        let kind = if read_only { "read-only" } else { "read-write" };
        for conn in listener.incoming() {
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    log(
                        LogLevel::Error,
                        &format!("accept on the {kind} socket failed: {e}"),
                    );
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if self.clients.fetch_add(1, Ordering::SeqCst) >= self.settings.max_clients {
                self.clients.fetch_sub(1, Ordering::SeqCst);
                log(
                    LogLevel::Warning,
                    &format!(
                        "client {id}: refused: {} clients already (max_clients)",
                        self.settings.max_clients
                    ),
                );
                continue;
            }
            let transport = match Transport::unix(stream) {
                Ok(t) => t,
                Err(e) => {
                    self.clients.fetch_sub(1, Ordering::SeqCst);
                    log(LogLevel::Error, &format!("client {id}: {e}"));
                    continue;
                }
            };
            log(
                LogLevel::Info,
                &format!(
                    "client {id}: connected on the {kind} socket: {}",
                    transport.peer
                ),
            );
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name(format!("client-{id}"))
                .stack_size(CALL_STACK)
                .spawn(move || {
                    me.serve(transport, read_only, id);
                    me.clients.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(e) = spawned {
                self.clients.fetch_sub(1, Ordering::SeqCst);
                log(LogLevel::Error, &format!("client {id}: no thread: {e}"));
            }
        }
    }

    /// Serves one client until it leaves, sends something malformed or stops reading.
    pub fn serve(self: &Arc<Daemon>, mut t: Transport, read_only: bool, id: u64) {
        let writer = Arc::new(Mutex::new(t.writer));
        let close: Arc<dyn Fn() + Send + Sync> = Arc::from(t.close);
        let session = Arc::new(Session::new(
            read_only,
            Arc::clone(&self.registry),
            Arc::clone(&self.hub),
            id,
            Outbox {
                writer: Arc::clone(&writer),
                close: Arc::clone(&close),
            },
        ));
        let workers = self.settings.workers_per_client();
        let (tx, rx): (SyncSender<Message>, Receiver<Message>) = sync_channel(workers);
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::new();
        for w in 0..workers {
            let rx = Arc::clone(&rx);
            let session = Arc::clone(&session);
            let writer = Arc::clone(&writer);
            let close = Arc::clone(&close);
            let h = std::thread::Builder::new()
                .name(format!("client-{id}-w{w}"))
                .stack_size(CALL_STACK)
                .spawn(move || {
                    loop {
                        let msg = {
                            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                            match rx.recv() {
                                Ok(m) => m,
                                Err(_) => return,
                            }
                        };
                        let reply = call(&session, &msg, id);
                        if let Err(e) = send(&writer, &reply) {
                            log(
                                LogLevel::Warning,
                                &format!("client {id}: closed: cannot send a reply: {e}"),
                            );
                            close();
                            return;
                        }
                    }
                });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => log(
                    LogLevel::Error,
                    &format!("client {id}: no worker thread: {e}"),
                ),
            }
        }
        if handles.is_empty() {
            close();
            return;
        }
        loop {
            let bytes = match read_message(&mut t.reader) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(virtkit_rpc::Error::Io(e)) => {
                    log(LogLevel::Info, &format!("client {id}: read failed: {e}"));
                    break;
                }
                Err(e) => {
                    log(LogLevel::Warning, &format!("client {id}: closed: {e}"));
                    break;
                }
            };
            let msg = match Message::decode(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    log(LogLevel::Warning, &format!("client {id}: closed: {e}"));
                    break;
                }
            };
            let h = msg.header;
            if h.program == KEEPALIVE_PROGRAM {
                if h.version != KEEPALIVE_PROTOCOL_VERSION || h.message_type != MessageType::Message
                {
                    log(
                        LogLevel::Warning,
                        &format!(
                            "client {id}: closed: keepalive message of version {} type {:?}",
                            h.version, h.message_type
                        ),
                    );
                    break;
                }
                if h.procedure == KEEPALIVE_PROC_PING {
                    let pong = Header {
                        program: KEEPALIVE_PROGRAM,
                        version: KEEPALIVE_PROTOCOL_VERSION,
                        procedure: KEEPALIVE_PROC_PONG,
                        message_type: MessageType::Message,
                        serial: 0,
                        status: Status::Ok,
                    };
                    let bytes = Message::encode(&pong, &[]).expect("an empty message fits");
                    if send(&writer, &bytes).is_err() {
                        break;
                    }
                }
                continue;
            }
            if h.message_type != MessageType::Call || h.status != Status::Ok {
                log(
                    LogLevel::Warning,
                    &format!(
                        "client {id}: closed: a client sends calls, not {:?} with status {:?}",
                        h.message_type, h.status
                    ),
                );
                break;
            }
            if h.program != REMOTE_PROGRAM || h.version != REMOTE_PROTOCOL_VERSION {
                let reply = error_reply(&h, &unknown_program(h.program, h.version));
                if send(&writer, &reply).is_err() {
                    break;
                }
                continue;
            }
            // Opening runs here, before anything after it is read: calls a client pipelines
            // behind CONNECT_OPEN find the connection open.
            if h.procedure == Procedure::ConnectOpen.number() {
                if send(&writer, &call(&session, &msg, id)).is_err() {
                    break;
                }
                continue;
            }
            if tx.send(msg).is_err() {
                break;
            }
        }
        drop(tx);
        close();
        for h in handles {
            let _ = h.join();
        }
        self.hub.remove_client(id);
        log(LogLevel::Info, &format!("client {id}: disconnected"));
    }
}

/// Writes one whole message to a client (replies, pongs and events share the lock).
pub(crate) fn send(writer: &Mutex<Box<dyn Write + Send>>, bytes: &[u8]) -> std::io::Result<()> {
    let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
    w.write_all(bytes)?;
    w.flush()
}

fn error_reply(h: &Header, err: &RemoteError) -> Vec<u8> {
    let mut e = Encoder::new();
    err.encode(&mut e);
    encode_reply(h, Status::Error, &e.into_bytes())
}

fn encode_reply(h: &Header, status: Status, payload: &[u8]) -> Vec<u8> {
    match Message::encode(&h.reply(status), payload) {
        Ok(b) => b,
        Err(e) => {
            let err = RemoteError::new(
                virtkit::ErrorCode::InternalError as i32,
                virtkit_rpc::ERROR_DOMAIN_RPC,
                format!("internal error: the reply is too large to send: {e}"),
            );
            let mut enc = Encoder::new();
            err.encode(&mut enc);
            Message::encode(&h.reply(Status::Error), &enc.into_bytes())
                .expect("a short error fits in a message")
        }
    }
}

/// Runs one call of the REMOTE program and encodes its reply message.
fn call(session: &Session, msg: &Message, id: u64) -> Vec<u8> {
    let h = &msg.header;
    let Some(proc) = Procedure::from_number(h.procedure) else {
        log(
            LogLevel::Info,
            &format!(
                "client {id}: unknown procedure {} (serial {})",
                h.procedure, h.serial
            ),
        );
        return error_reply(h, &unknown_procedure(h.procedure));
    };
    let result = session.call(proc, &msg.payload);
    if crate::log_enabled(LogLevel::Debug) {
        log(
            LogLevel::Debug,
            &format!(
                "client {id}: {} ({}) serial {}: {}",
                proc.info().name,
                h.procedure,
                h.serial,
                match &result {
                    Ok(_) => "ok".to_string(),
                    Err(e) => format!("error {}: {}", e.code, e.message.as_deref().unwrap_or("")),
                }
            ),
        );
    }
    match result {
        Ok(payload) => encode_reply(h, Status::Ok, &payload),
        Err(e) => error_reply(h, &e),
    }
}

/// Removes the socket files when the daemon ends.
pub struct SocketFiles(pub Vec<PathBuf>);

impl SocketFiles {
    /// Removes them (only sockets).
    pub fn remove(&self) {
        for p in &self.0 {
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}
