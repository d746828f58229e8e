//! The daemons the tests talk to (virtkitd built from this tree, and Debian's libvirtd as the
//! peer), a real virsh, and a small RPC client written with virtkit-rpc.
#![allow(dead_code)]
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtkit_rpc::xdr::{Decoder, Encoder};
use virtkit_rpc::{Header, Message, MessageType, REMOTE_PROGRAM, RemoteError, Status};

/// What one virsh run printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// A virtkitd of this tree on sockets in a temporary directory, killed (by its pid) and reaped
/// when dropped.
pub struct Virtkitd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub ro_socket: PathBuf,
    pub log: PathBuf,
}

impl Virtkitd {
    pub fn start() -> Virtkitd {
        Virtkitd::start_with(&[])
    }

    /// With extra arguments (e.g. `--config FILE`).
    pub fn start_with(args: &[&str]) -> Virtkitd {
        Virtkitd::start_serving("test", args, &[])
    }

    /// Serving the build directory's plugins (`driver`'s must be built), with extra arguments
    /// and environment variables (e.g. `VIRTKIT_QEMU_ROOT`, read by the plugin in the daemon).
    pub fn start_serving(driver: &str, args: &[&str], env: &[(&str, &Path)]) -> Virtkitd {
        let plugins = virtkit_test_support::plugin_dir(driver);
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("virtkit-sock");
        let ro_socket = dir.path().join("virtkit-sock-ro");
        let log = dir.path().join("virtkitd.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_virtkitd"))
            .arg("--socket")
            .arg(&socket)
            .arg("--verbose")
            .args(args)
            .env("VIRTKIT_DRIVER_DIR", plugins)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("virtkitd starts");
        virtkit_test_support::daemon::wait_for_socket(&socket, &mut child, "virtkitd", Some(&log));
        Virtkitd {
            child,
            dir,
            socket,
            ro_socket,
            log,
        }
    }

    /// What the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the daemon still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn uri(&self, path: &str) -> String {
        format!("test+unix://{path}?socket={}", self.socket.display())
    }

    pub fn ro_uri(&self, path: &str) -> String {
        format!("test+unix://{path}?socket={}", self.ro_socket.display())
    }
}

impl Drop for Virtkitd {
    fn drop(&mut self) {
        virtkit_test_support::daemon::stop(&mut self.child, Duration::from_secs(5));
    }
}

/// Debian's libvirtd with its test driver on sockets of its own, in a private mount namespace:
/// `virtkit_test_support::daemon::Daemon::libvirtd` (one start-up for every test that compares
/// with it), with the URIs these tests use. Stopped and reaped when dropped.
pub struct Libvirtd(virtkit_test_support::daemon::Daemon);

impl std::ops::Deref for Libvirtd {
    type Target = virtkit_test_support::daemon::Daemon;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Libvirtd {
    /// The daemon, or `None` after reporting why the test is skipped (not root, no libvirtd;
    /// both fail under CI).
    pub fn start() -> Option<Libvirtd> {
        virtkit_test_support::daemon::Daemon::libvirtd().map(Libvirtd)
    }

    pub fn uri(&self, path: &str) -> String {
        format!("test+unix://{path}?socket={}", self.socket.display())
    }

    pub fn ro_uri(&self, path: &str) -> String {
        format!("test+unix://{path}?socket={}", self.ro_socket.display())
    }
}

/// Runs a program to completion with the C locale, no default URI and the test plugin's
/// directory (for the virtkit CLI), killing it after 60 s.
pub fn run(program: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(program);
    c.env(
        "VIRTKIT_DRIVER_DIR",
        virtkit_test_support::plugin_dir("test"),
    );
    for v in [
        "VIRTKIT_DEFAULT_URI",
        "LIBVIRT_DEFAULT_URI",
        "VIRSH_DEFAULT_CONNECT_URI",
    ] {
        c.env_remove(v);
    }
    c.env("LC_ALL", "C")
        .env("LANG", "C")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not finish within 60 s", program.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        code: status.code().unwrap_or(-1),
    }
}

/// A minimal client of the REMOTE program, for what virsh cannot send (malformed messages,
/// unknown procedures, many calls in flight).
pub struct RpcClient {
    pub stream: UnixStream,
    serial: u32,
}

pub const PROC_CONNECT_OPEN: i32 = 1;
pub const PROC_DOMAIN_LOOKUP_BY_NAME: i32 = 23;
pub const PROC_CONNECT_GET_CAPABILITIES: i32 = 7;

impl RpcClient {
    pub fn connect(path: &Path) -> RpcClient {
        let stream = UnixStream::connect(path).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        RpcClient { stream, serial: 0 }
    }

    /// Sends a call; its serial, or the error of a connection the daemon already closed.
    pub fn try_send(&mut self, procedure: i32, payload: &[u8]) -> std::io::Result<u32> {
        self.serial += 1;
        let h = Header {
            program: REMOTE_PROGRAM,
            version: 1,
            procedure,
            message_type: MessageType::Call,
            serial: self.serial,
            status: Status::Ok,
        };
        self.stream
            .write_all(&Message::encode(&h, payload).unwrap())
            .map(|()| self.serial)
    }

    /// Sends a call; returns its serial.
    pub fn send(&mut self, procedure: i32, payload: &[u8]) -> u32 {
        self.serial += 1;
        let h = Header {
            program: REMOTE_PROGRAM,
            version: 1,
            procedure,
            message_type: MessageType::Call,
            serial: self.serial,
            status: Status::Ok,
        };
        self.stream
            .write_all(&Message::encode(&h, payload).unwrap())
            .expect("send");
        self.serial
    }

    /// Reads one message.
    pub fn recv(&mut self) -> Option<Message> {
        let bytes = virtkit_rpc::read_message(&mut self.stream).ok()??;
        Some(Message::decode(&bytes).expect("a valid reply"))
    }

    /// A call and its reply: the payload, or the error.
    pub fn call(&mut self, procedure: i32, payload: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let serial = self.send(procedure, payload);
        let m = self.recv().expect("a reply");
        assert_eq!(m.header.serial, serial);
        assert_eq!(m.header.procedure, procedure);
        assert_eq!(m.header.message_type, MessageType::Reply);
        match m.header.status {
            Status::Ok => Ok(m.payload),
            _ => {
                let mut d = Decoder::new(&m.payload);
                Err(RemoteError::decode(&mut d).expect("an error record"))
            }
        }
    }

    /// CONNECT_OPEN of `uri`.
    pub fn open(&mut self, uri: &str) {
        let mut e = Encoder::new();
        e.opt_string(Some(uri)).u32(0);
        self.call(PROC_CONNECT_OPEN, &e.into_bytes())
            .expect("CONNECT_OPEN");
    }
}

/// The payload of a call naming one string.
pub fn string_arg(s: &str) -> Vec<u8> {
    let mut e = Encoder::new();
    e.string(s);
    e.into_bytes()
}

/// A recording proxy in front of a daemon's socket: it forwards every byte both ways and
/// records the procedure number of every REMOTE call a client sends. Each accepted client gets
/// its own pair of threads; the proxy ends when dropped (its listener is closed by a last
/// connection to itself).
pub struct RecordingProxy {
    pub socket: PathBuf,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<i32>>>,
    _dir: tempfile::TempDir,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl RecordingProxy {
    pub fn new(target: &Path) -> RecordingProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("proxy-sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let target = target.to_path_buf();
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = UnixStream::connect(&target) else {
                    continue;
                };
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_in, mut c_out) = (server, client);
                let seen = Arc::clone(&seen2);
                std::thread::spawn(move || {
                    while let Ok(Some(bytes)) = virtkit_rpc::read_message(&mut c_in) {
                        if let Ok(m) = Message::decode(&bytes)
                            && m.header.program == REMOTE_PROGRAM
                            && m.header.message_type == MessageType::Call
                        {
                            seen.lock().unwrap().push(m.header.procedure);
                        }
                        if s_out.write_all(&bytes).is_err() {
                            break;
                        }
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        RecordingProxy {
            socket,
            seen,
            _dir: dir,
            stop,
            accept: Some(accept),
        }
    }

    /// The procedures recorded so far, emptied.
    pub fn take(&self) -> Vec<i32> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = UnixStream::connect(&self.socket);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}
