//! `virtkitd`: serves virtkit's API over libvirt's RPC protocol on a unix socket and its
//! read-only twin, so virsh, libvirt-python and other libvirt clients manage a virtkit node
//! unchanged (`test+unix:///default?socket=/run/virtkit/virtkit-sock`). It runs in the
//! foreground; see docs/remote.md.
#![forbid(unsafe_code)]
// A call's error is the wire record it becomes (`RemoteError`, ~200 bytes) on the cold path;
// boxing it would only add an allocation to every failed call.
#![allow(clippy::result_large_err)]

mod config;
mod dispatch;
mod events;
mod listing;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use clap::Parser;

use config::{LogLevel, Settings};
use server::{Daemon, SocketFiles, Transport};

static LOG_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warning as u8);

/// Whether lines of `level` are printed.
pub(crate) fn log_enabled(level: LogLevel) -> bool {
    level as u8 >= LOG_LEVEL.load(Ordering::Relaxed)
}

/// Prints a log line on stderr when `level` is enabled.
pub(crate) fn log(level: LogLevel, line: &str) {
    if log_enabled(level) {
        let l = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        };
        eprintln!("virtkitd: {l}: {line}");
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "virtkitd",
    version,
    about = "Serve virtkit's API to libvirt clients (virsh, libvirt-python) over libvirt's RPC protocol"
)]
struct Cli {
    /// The read-write socket [default: /run/virtkit/virtkit-sock, or virtkit-sock in the
    /// config file's unix_sock_dir].
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The read-only socket [default: the read-write socket's path with "-ro"].
    #[arg(long, value_name = "PATH")]
    ro_socket: Option<PathBuf>,
    /// A config file in libvirtd.conf format (unix_sock_dir, unix_sock_group,
    /// unix_sock_ro_perms, unix_sock_rw_perms, max_clients, max_workers, max_client_requests,
    /// log_level).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve one read-write client on standard input and output, then exit.
    #[arg(long, conflicts_with_all = ["socket", "ro_socket"])]
    stdio: bool,
    /// Log every call (log_level 1).
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = Settings::default();
    if let Some(f) = &cli.config
        && let Err(e) = settings.apply_file(f)
    {
        eprintln!("virtkitd: error: {e}");
        return ExitCode::from(2);
    }
    if let Some(s) = &cli.socket {
        settings.socket = s.clone();
        settings.ro_socket = PathBuf::from(format!("{}-ro", s.display()));
    }
    if let Some(s) = &cli.ro_socket {
        settings.ro_socket = s.clone();
    }
    if cli.verbose {
        settings.log_level = LogLevel::Debug;
    }
    LOG_LEVEL.store(settings.log_level as u8, Ordering::Relaxed);
    for line in &settings.not_supported {
        log(LogLevel::Warning, line);
    }
    let registry = virtkit::Registry::from_env();
    if cli.stdio {
        let daemon = Daemon::new(settings, registry);
        let t = Transport {
            reader: Box::new(std::io::stdin()),
            writer: Box::new(std::io::stdout()),
            close: Box::new(|| {}),
            peer: "standard input".into(),
        };
        daemon.serve(t, false, 0);
        return ExitCode::SUCCESS;
    }
    if settings.socket == settings.ro_socket {
        eprintln!("virtkitd: error: the read-write and read-only sockets must differ");
        return ExitCode::from(2);
    }
    // SIGINT and SIGTERM are taken by one thread, which removes the sockets and exits.
    let mut signals = nix::sys::signal::SigSet::empty();
    signals.add(nix::sys::signal::Signal::SIGINT);
    signals.add(nix::sys::signal::Signal::SIGTERM);
    if let Err(e) = signals.thread_block() {
        eprintln!("virtkitd: error: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    // A peer that vanishes mid-reply is an error on that write (EPIPE: Rust's runtime ignores
    // SIGPIPE), not the daemon's end.
    let group = settings.sock_group.clone();
    let rw = match server::bind(&settings.socket, settings.rw_perms, group.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("virtkitd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ro = match server::bind(&settings.ro_socket, settings.ro_perms, group.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_file(&settings.socket);
            eprintln!("virtkitd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = SocketFiles(vec![settings.socket.clone(), settings.ro_socket.clone()]);
    log(
        LogLevel::Info,
        &format!(
            "listening on {} and {} (read-only)",
            settings.socket.display(),
            settings.ro_socket.display()
        ),
    );
    let daemon = Daemon::new(settings, registry);
    let d = std::sync::Arc::clone(&daemon);
    let ro_thread = std::thread::Builder::new()
        .name("accept-ro".into())
        .spawn(move || d.accept_loop(ro, true));
    if let Err(e) = ro_thread {
        files.remove();
        eprintln!("virtkitd: error: no thread: {e}");
        return ExitCode::FAILURE;
    }
    let d = std::sync::Arc::clone(&daemon);
    let rw_thread = std::thread::Builder::new()
        .name("accept-rw".into())
        .spawn(move || d.accept_loop(rw, false));
    if let Err(e) = rw_thread {
        files.remove();
        eprintln!("virtkitd: error: no thread: {e}");
        return ExitCode::FAILURE;
    }
    let sig = signals.wait();
    files.remove();
    log(
        LogLevel::Info,
        &format!("{}: stopping", sig.map(|s| s.as_str()).unwrap_or("signal")),
    );
    ExitCode::SUCCESS
}
