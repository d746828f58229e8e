//! `virtkitd`: serves virtkit's API over libvirt's RPC protocol on a unix socket and its
//! read-only twin, and optionally over TLS and (loopback) TCP, so virsh, libvirt-python and other libvirt clients manage a virtkit node
//! unchanged (`test+unix:///default?socket=/run/virtkit/virtkit-sock`). It runs in the
//! foreground; see docs/remote.md.
#![forbid(unsafe_code)]
// A call's error is the wire record it becomes (`RemoteError`, ~200 bytes) on the cold path;
// boxing it would only add an allocation to every failed call.
#![allow(clippy::result_large_err)]

mod activation;
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
use server::{Daemon, Listener, SocketFiles, Transport};

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
    /// log_level, listen_tcp, listen_tls, listen_addr, tcp_port, tls_port, ca_file, cert_file,
    /// key_file, crl_file, tls_no_verify_certificate, auth_tcp, auth_tls).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also serve plain TCP clients on ADDR[:PORT] (port 16509 by default). Plain TCP has no
    /// encryption and no authentication: anyone who can reach the port has full read-write
    /// access, so only loopback addresses are accepted unless --insecure-tcp.
    #[arg(long, value_name = "ADDR[:PORT]")]
    listen: Option<String>,
    /// Also serve TLS clients, on ADDR[:PORT] when given, else on the config file's
    /// listen_addr (every address by default) and tls_port (16514). Clients must present an
    /// x509 certificate signed by the CA (ca_file, /etc/pki/CA/cacert.pem by default).
    #[arg(long, value_name = "ADDR[:PORT]", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    tls: Option<String>,
    /// Allow plain TCP (--listen, listen_tcp) on addresses other than loopback. DANGEROUS:
    /// every host that can reach the port gets full, unauthenticated access to every driver.
    #[arg(long)]
    insecure_tcp: bool,
    /// Serve one read-write client on standard input and output, then exit.
    #[arg(long, conflicts_with_all = ["socket", "ro_socket", "listen", "tls"])]
    stdio: bool,
    /// Log every call (log_level 1).
    #[arg(short, long)]
    verbose: bool,
}

fn is_loopback(addr: &str) -> bool {
    addr == "localhost"
        || addr
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
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
    if let Some(l) = &cli.listen {
        match config::Listen::parse(l, settings.tcp_port) {
            Ok(l) => settings.tcp = Some(l),
            Err(e) => {
                eprintln!("virtkitd: error: --listen: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(t) = &cli.tls {
        let listen = if t.is_empty() {
            Ok(config::Listen {
                addr: settings.listen_addr.clone(),
                port: settings.tls_port,
            })
        } else {
            config::Listen::parse(t, settings.tls_port)
        };
        match listen {
            Ok(l) => settings.tls = Some(l),
            Err(e) => {
                eprintln!("virtkitd: error: --tls: {e}");
                return ExitCode::from(2);
            }
        }
    }
    settings.insecure_tcp |= cli.insecure_tcp;
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
            secure: true,
        };
        daemon.serve(t, false, 0);
        return ExitCode::SUCCESS;
    }
    if settings.socket == settings.ro_socket {
        eprintln!("virtkitd: error: the read-write and read-only sockets must differ");
        return ExitCode::from(2);
    }
    // Sockets a service manager passed (LISTEN_FDS), taken before any thread starts.
    let inherited = match activation::take(&settings.socket, &settings.ro_socket) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("virtkitd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SIGINT and SIGTERM are taken by one thread, which removes the sockets and exits.
    let mut signals = nix::sys::signal::SigSet::empty();
    signals.add(nix::sys::signal::Signal::SIGINT);
    signals.add(nix::sys::signal::Signal::SIGTERM);
    if let Err(e) = signals.thread_block() {
        eprintln!("virtkitd: error: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    // Network listeners first: a bad certificate or a refused address ends the start before
    // any socket file is made.
    let mut network = Vec::new();
    if let Some(l) = &settings.tcp {
        match server::bind_tcp(l, false, settings.insecure_tcp) {
            Ok(ls) => {
                if settings.insecure_tcp && l.addr.as_deref().is_none_or(|a| !is_loopback(a)) {
                    log(
                        LogLevel::Warning,
                        &format!(
                            "plain TCP on {} (--insecure-tcp): no encryption, no authentication; anyone who reaches it has full access",
                            l.describe()
                        ),
                    );
                }
                log(
                    LogLevel::Info,
                    &format!("listening for TCP on {} (not authenticated)", l.describe()),
                );
                network.extend(ls.into_iter().map(Listener::Tcp));
            }
            Err(e) => {
                eprintln!("virtkitd: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(l) = &settings.tls {
        let crl = settings.crl();
        let config = match virtkit_tls::server_config(
            &settings.pki,
            crl.as_deref(),
            !settings.tls_no_verify_certificate,
        ) {
            Ok((config, warnings)) => {
                for w in warnings {
                    log(LogLevel::Warning, &w);
                }
                config
            }
            Err(e) => {
                eprintln!("virtkitd: error: {e}");
                return ExitCode::FAILURE;
            }
        };
        if settings.tls_no_verify_certificate {
            log(
                LogLevel::Warning,
                "tls_no_verify_certificate = 1: TLS clients are not authenticated",
            );
        }
        match server::bind_tcp(l, true, false) {
            Ok(ls) => {
                log(
                    LogLevel::Info,
                    &format!("listening for TLS on {}", l.describe()),
                );
                network.extend(
                    ls.into_iter()
                        .map(|l| Listener::Tls(l, std::sync::Arc::clone(&config))),
                );
            }
            Err(e) => {
                eprintln!("virtkitd: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // A peer that vanishes mid-reply is an error on that write (EPIPE: Rust's runtime ignores
    // SIGPIPE), not the daemon's end.
    let group = settings.sock_group.clone();
    // Only the sockets bound here are removed at the end: passed ones belong to the manager.
    let mut own = SocketFiles(Vec::new());
    let mut listener = |passed: Option<std::os::unix::net::UnixListener>,
                        path: &std::path::Path,
                        mode: u32|
     -> Result<std::os::unix::net::UnixListener, String> {
        if let Some(l) = passed {
            log(
                LogLevel::Info,
                &format!(
                    "{}: passed by the service manager (socket activation)",
                    path.display()
                ),
            );
            return Ok(l);
        }
        let l = server::bind(path, mode, group.as_deref())?;
        own.0.push(path.to_path_buf());
        Ok(l)
    };
    let rw = match listener(inherited.rw, &settings.socket, settings.rw_perms) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("virtkitd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ro = match listener(inherited.ro, &settings.ro_socket, settings.ro_perms) {
        Ok(l) => l,
        Err(e) => {
            own.remove();
            eprintln!("virtkitd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = own;
    log(
        LogLevel::Info,
        &format!(
            "listening on {} and {} (read-only)",
            settings.socket.display(),
            settings.ro_socket.display()
        ),
    );
    let daemon = Daemon::new(settings, registry);
    let mut listeners = vec![
        Listener::Unix {
            listener: ro,
            read_only: true,
        },
        Listener::Unix {
            listener: rw,
            read_only: false,
        },
    ];
    listeners.extend(network);
    for (n, l) in listeners.into_iter().enumerate() {
        let d = std::sync::Arc::clone(&daemon);
        let spawned = std::thread::Builder::new()
            .name(format!("accept-{n}"))
            .spawn(move || d.accept_loop(l));
        if let Err(e) = spawned {
            files.remove();
            eprintln!("virtkitd: error: no thread: {e}");
            return ExitCode::FAILURE;
        }
    }
    let sig = signals.wait();
    files.remove();
    log(
        LogLevel::Info,
        &format!("{}: stopping", sig.map(|s| s.as_str()).unwrap_or("signal")),
    );
    ExitCode::SUCCESS
}
