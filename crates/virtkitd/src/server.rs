//! Sockets, clients and their threads.
//!
//! Each client has a reader thread and a few worker threads of its own (`max_client_requests`,
//! at most `max_workers`). A read (a lookup, information, a listing) that arrives while none of
//! the client's calls is in flight runs on the reader itself, with no hand-over between threads;
//! every other call is handed to the workers through a bounded queue, so a
//! client has at most that many calls queued plus that many running, and when it sends more the
//! reader simply stops reading it. Replies are written under the client's own lock with a write
//! timeout, so a client that stops reading blocks only its own threads, and is dropped when the
//! timeout passes. Nothing is shared between clients but the plugin registry and the count of
//! clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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

/// The stack of a thread that runs calls (a client's reader runs CONNECT_OPEN and the reads that
/// arrive while nothing else of its client is in flight, its workers the rest, the event watcher
/// reads the node): a call goes through the core, a plugin and a driver (the QEMU driver's
/// needs more than 256 KiB), deeper in a debug build. Address space only: the pages used are
/// what counts.
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
    /// Whether the channel is secure (CONNECT_IS_SECURE): a unix socket or TLS, not plain TCP.
    pub secure: bool,
}

/// How long a TLS client has to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A listening socket and what its clients get.
pub enum Listener {
    /// A unix socket: read-write or read-only.
    Unix {
        /// The socket.
        listener: UnixListener,
        /// Whether its clients are read-only.
        read_only: bool,
    },
    /// Plain TCP: no encryption, no authentication.
    Tcp(TcpListener),
    /// TLS: clients present a certificate the configuration verifies.
    Tls(TcpListener, Arc<virtkit_tls::ServerConfig>),
}

/// An accepted connection before its transport is set up (in the client's own thread, so a
/// slow TLS handshake holds up nobody else).
enum Accepted {
    Unix(UnixStream),
    Tcp(TcpStream, SocketAddr),
    Tls(TcpStream, SocketAddr, Arc<virtkit_tls::ServerConfig>),
}

impl Listener {
    fn kind(&self) -> &'static str {
        match self {
            Listener::Unix {
                read_only: true, ..
            } => "read-only socket",
            Listener::Unix { .. } => "read-write socket",
            Listener::Tcp(_) => "TCP listener",
            Listener::Tls(..) => "TLS listener",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Listener::Unix {
                read_only: true,
                ..
            }
        )
    }

    fn accept(&self) -> std::io::Result<Accepted> {
        Ok(match self {
            Listener::Unix { listener, .. } => Accepted::Unix(listener.accept()?.0),
            Listener::Tcp(l) => {
                let (s, a) = l.accept()?;
                Accepted::Tcp(s, a)
            }
            Listener::Tls(l, config) => {
                let (s, a) = l.accept()?;
                Accepted::Tls(s, a, Arc::clone(config))
            }
        })
    }
}

impl Accepted {
    fn into_transport(self) -> Result<Transport, String> {
        match self {
            Accepted::Unix(s) => Transport::unix(s).map_err(|e| e.to_string()),
            Accepted::Tcp(s, a) => Transport::tcp(s, a).map_err(|e| e.to_string()),
            Accepted::Tls(s, a, config) => {
                Transport::tls(s, a, config).map_err(|e| format!("{a}: refused: {e}"))
            }
        }
    }
}

/// A TLS stream's reading side, waiting as long as it takes.
struct TlsReader(virtkit_tls::TlsStream);

impl Read for TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf, None)
    }
}

/// A TLS stream's writing side: each write has [`WRITE_TIMEOUT`].
struct TlsWriter(virtkit_tls::TlsStream);

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .write_all(buf, Some(std::time::Instant::now() + WRITE_TIMEOUT))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
            secure: true,
        })
    }

    /// A plain TCP client: its address is all that is known of it.
    pub fn tcp(stream: TcpStream, addr: SocketAddr) -> std::io::Result<Transport> {
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let writer = stream.try_clone()?;
        Ok(Transport {
            reader: Box::new(reader),
            writer: Box::new(writer),
            close: Box::new(move || {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }),
            peer: format!("{addr} over TCP (not authenticated)"),
            secure: false,
        })
    }

    /// A TLS client: the handshake (within [`HANDSHAKE_TIMEOUT`]) verifies its certificate as
    /// `config` says, then libvirt's confirmation byte is sent.
    pub fn tls(
        stream: TcpStream,
        addr: SocketAddr,
        config: Arc<virtkit_tls::ServerConfig>,
    ) -> Result<Transport, virtkit_tls::Error> {
        let _ = stream.set_nodelay(true);
        let tls = virtkit_tls::TlsStream::accept(
            config,
            stream,
            std::time::Instant::now() + HANDSHAKE_TIMEOUT,
        )?;
        let closer = tls.clone();
        Ok(Transport {
            reader: Box::new(TlsReader(tls.clone())),
            writer: Box::new(TlsWriter(tls)),
            close: Box::new(move || closer.shutdown()),
            peer: format!("{addr} over TLS"),
            secure: true,
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

/// Binds the TCP listeners of `listen`: one per address its name resolves to. Plain TCP
/// (`tls` false) refuses any address that is not loopback unless `insecure`.
pub fn bind_tcp(
    listen: &crate::config::Listen,
    tls: bool,
    insecure: bool,
) -> Result<Vec<TcpListener>, String> {
    let what = if tls { "TLS" } else { "TCP" };
    let addrs = listen
        .resolve()
        .map_err(|e| format!("{what} listen address: {e}"))?;
    if !tls
        && !insecure
        && let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback())
    {
        return Err(format!(
            "refusing plain TCP on {} ({}): it has neither encryption nor authentication, so anyone who can reach it gets full access; listen on 127.0.0.1 or ::1, use TLS, or pass --insecure-tcp",
            listen.describe(),
            a.ip()
        ));
    }
    let mut bound = Vec::new();
    let mut errors = Vec::new();
    for a in &addrs {
        match TcpListener::bind(a) {
            Ok(l) => bound.push(l),
            // Every address of the host: "::" where IPv6 exists (it takes IPv4 too), else
            // 0.0.0.0.
            Err(_) if listen.addr.is_none() => {
                match TcpListener::bind(SocketAddr::from(([0u8; 4], listen.port))) {
                    Ok(l) => bound.push(l),
                    Err(e) => errors.push(format!("{}: {e}", listen.describe())),
                }
            }
            Err(e) => errors.push(format!("{a}: {e}")),
        }
    }
    if bound.is_empty() {
        return Err(format!("cannot listen for {what}: {}", errors.join("; ")));
    }
    for e in errors {
        log(
            LogLevel::Warning,
            &format!("cannot listen for {what} on {e}"),
        );
    }
    Ok(bound)
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

    /// Accepts clients on `listener` until it fails; each client runs on threads of its own
    /// (a TLS client's handshake too).
    pub fn accept_loop(self: &Arc<Daemon>, listener: Listener) {
        let kind = listener.kind();
        let read_only = listener.read_only();
        loop {
            let accepted = match listener.accept() {
                Ok(a) => a,
                Err(e) => {
                    log(
                        LogLevel::Error,
                        &format!("accept on the {kind} failed: {e}"),
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
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name(format!("client-{id}"))
                .stack_size(CALL_STACK)
                .spawn(move || {
                    match accepted.into_transport() {
                        Ok(transport) => {
                            log(
                                LogLevel::Info,
                                &format!(
                                    "client {id}: connected on the {kind}: {}",
                                    transport.peer
                                ),
                            );
                            me.serve(transport, read_only, id);
                        }
                        Err(e) => log(LogLevel::Warning, &format!("client {id}: {e}")),
                    }
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
            t.secure,
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
        // Calls handed to the workers and not yet answered.
        let in_flight = Arc::new(AtomicUsize::new(0));
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::new();
        for w in 0..workers {
            let rx = Arc::clone(&rx);
            let session = Arc::clone(&session);
            let writer = Arc::clone(&writer);
            let close = Arc::clone(&close);
            let in_flight = Arc::clone(&in_flight);
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
                        let sent = send(&writer, &reply);
                        in_flight.fetch_sub(1, Ordering::AcqRel);
                        if let Err(e) = sent {
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
            // A read while nothing else of this client is in flight runs here, on the reader:
            // a client that waits for each reply (most do) then costs one read, the call and
            // one write, with no hand-over to another thread. Anything else goes to a worker,
            // so that a long call (a start, a save) never stops this thread from reading the
            // client's other calls and its keepalive pings.
            if in_flight.load(Ordering::Acquire) == 0 && runs_on_reader(h.procedure) {
                if send(&writer, &call(&session, &msg, id)).is_err() {
                    break;
                }
                continue;
            }
            in_flight.fetch_add(1, Ordering::AcqRel);
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

/// Whether a call may run on the client's reader thread: one the RPC layer answers itself, an
/// unknown procedure (an error reply), or one made only of reads (lookups, information,
/// listings), which return promptly in every driver. Mutations, which may start or stop a guest,
/// and the connection's own operations go to the workers.
fn runs_on_reader(number: i32) -> bool {
    let Some(p) = Procedure::from_number(number) else {
        return true;
    };
    match p.info().serves {
        virtkit_rpc::Serves::Protocol => true,
        virtkit_rpc::Serves::Ops(ops) => {
            ops.iter().all(|op| op.info().kind == virtkit::OpKind::Read)
        }
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

#[cfg(test)]
mod tests {
    use super::runs_on_reader;
    use virtkit_rpc::Procedure as P;

    #[test]
    fn only_reads_and_the_protocols_own_answers_run_on_the_reader() {
        for p in [
            P::DomainLookupByName,
            P::DomainGetInfo,
            P::DomainGetState,
            P::ConnectListAllDomains,
            P::DomainGetXmlDesc,
            P::AuthList,
            P::ConnectGetUri,
        ] {
            assert!(runs_on_reader(p.number()), "{p:?}");
        }
        for p in [
            P::DomainCreate,
            P::DomainCreateXml,
            P::DomainDestroy,
            P::DomainSave,
            P::DomainDefineXml,
            P::NetworkCreate,
            P::ConnectClose,
            P::ConnectDomainXmlFromNative,
        ] {
            assert!(!runs_on_reader(p.number()), "{p:?}");
        }
        // An unknown procedure only gets an error reply.
        assert!(runs_on_reader(9999));
    }
}
