//! `virtkit-xend-peer`: a xend for tests and benchmarks.
//!
//! A real HTTP server on a unix socket (and optionally a loopback TCP port) that speaks xend's
//! protocol as xend documented and behaved: S-expression replies, `op=` form posts, xend's error
//! replies. It keeps domains as S-expressions and seeds itself from xend's real outputs (the
//! `.sexpr` files of a directory, read at start). The xen-xend driver does not know it is talking
//! to it.
//!
//! ```text
//! virtkit-xend-peer --socket /tmp/xend.sock --seed ../shared/corpus/sexpr2xml &
//! virtkit -c /tmp/xend.sock list --all
//! ```
#![forbid(unsafe_code)]

mod state;
mod wire;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use state::Xend;

/// How the peer misbehaves, for tests of the driver's error paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Fault {
    /// Close the connection after reading the request, without a reply.
    Drop,
    /// Answer `500 Internal Server Error`.
    Status500,
    /// Answer 200 with a body that is not an S-expression.
    Garbage,
    /// Wait 30 seconds before answering.
    Slow,
    /// Answer 200 with a 10 MB body.
    Huge,
}

#[derive(Parser, Debug)]
#[command(
    name = "virtkit-xend-peer",
    version,
    about = "A xend peer: xend's HTTP/S-expression protocol on a unix socket"
)]
struct Args {
    /// The unix socket to listen on (a stale socket there is replaced; any other file refused).
    #[arg(long)]
    socket: PathBuf,
    /// Also listen on this loopback TCP address (e.g. 127.0.0.1:8000).
    #[arg(long)]
    tcp: Option<SocketAddr>,
    /// The xend config format to announce (1, 2: no managed domains; 3, 4: `op=new`).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=4))]
    config_version: u32,
    /// Keep managed domains in this directory (created if missing) and load them at start.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Seed with every `*.sexpr` file of this directory (xend's own domain descriptions).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Add this many running copies of the first seed domain.
    #[arg(long, default_value_t = 0)]
    populate: usize,
    /// Misbehave on every request whose path starts with --fault-path.
    #[arg(long, value_enum)]
    fault: Option<Fault>,
    /// The path prefix the fault applies to.
    #[arg(long, default_value = "/")]
    fault_path: String,
}

struct Shared {
    xend: Mutex<Xend>,
    fault: Option<Fault>,
    fault_path: String,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("virtkit-xend-peer: {e}");
        std::process::exit(1);
    }
}

/// Largest seed file read.
const MAX_SEED: u64 = 1 << 20;

fn run(args: Args) -> Result<(), String> {
    if let Some(dir) = &args.state {
        virtkit_hostio::ensure_private_dir(dir, 0o700)
            .map_err(|e| format!("state directory {}: {e}", dir.display()))?;
    }
    let mut xend = Xend::new(args.config_version, args.state.clone());
    let loaded = xend.load_state()?;
    if let Some(dir) = &args.seed {
        let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sexpr"))
            .collect();
        files.sort();
        for f in files {
            let text = virtkit_hostio::read_string_capped(&f, MAX_SEED)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("copy");
            let variant = stem.strip_prefix("sexpr2xml-").unwrap_or(stem);
            if let Err(e) = xend.seed(&text, variant) {
                eprintln!("virtkit-xend-peer: not seeding {}: {e}", f.display());
            }
        }
    }
    xend.populate(args.populate)?;
    if loaded > 0 {
        eprintln!("virtkit-xend-peer: {loaded} managed domains loaded from the state directory");
    }
    let shared = Arc::new(Shared {
        xend: Mutex::new(xend),
        fault: args.fault,
        fault_path: args.fault_path,
    });
    let unix = bind_unix(&args.socket)?;
    if let Some(addr) = args.tcp {
        if !addr.ip().is_loopback() {
            return Err(format!("--tcp {addr}: only loopback addresses are served"));
        }
        let tcp = TcpListener::bind(addr).map_err(|e| format!("--tcp {addr}: {e}"))?;
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in tcp.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve_tcp(conn, &s));
            }
        });
    }
    eprintln!(
        "virtkit-xend-peer: listening on {}{}",
        args.socket.display(),
        args.tcp
            .map(|a| format!(" and http://{a}/"))
            .unwrap_or_default()
    );
    for conn in unix.incoming() {
        match conn {
            Ok(c) => {
                let s = shared.clone();
                std::thread::spawn(move || serve_unix(c, &s));
            }
            Err(e) => eprintln!("virtkit-xend-peer: accept: {e}"),
        }
    }
    Ok(())
}

fn bind_unix(path: &PathBuf) -> Result<UnixListener, String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        Ok(m) => {
            return Err(format!(
                "{} exists and is a {}, not a socket: refusing to replace it",
                path.display(),
                virtkit_hostio::kind_name(m.file_type())
            ));
        }
        Err(_) => {}
    }
    UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn serve_unix(c: UnixStream, s: &Shared) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(r) = c.try_clone() else { return };
    serve(BufReader::new(r), c, s);
}

fn serve_tcp(c: TcpStream, s: &Shared) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = c.set_nodelay(true);
    let Ok(r) = c.try_clone() else { return };
    serve(BufReader::new(r), c, s);
}

fn serve(mut r: impl std::io::BufRead, mut w: impl Write, s: &Shared) {
    let req = match wire::read_request(&mut r) {
        Ok(req) => req,
        Err((status, msg)) => {
            let _ = wire::respond(&mut w, status, "text/plain", msg.as_bytes());
            return;
        }
    };
    if let Some(f) = s.fault
        && req.path.starts_with(&s.fault_path)
    {
        match f {
            Fault::Drop => return,
            Fault::Status500 => {
                let _ = wire::respond(&mut w, 500, "text/plain", b"Internal Server Error");
                return;
            }
            Fault::Garbage => {
                let _ = wire::respond(
                    &mut w,
                    200,
                    "application/sxp",
                    b"<html>\x00\xff not (an s-expr",
                );
                return;
            }
            Fault::Slow => {
                std::thread::sleep(Duration::from_secs(30));
            }
            Fault::Huge => {
                let mut body = vec![b'a'; 10_000_000];
                body[0] = b'(';
                let _ = wire::respond(&mut w, 200, "application/sxp", &body);
                return;
            }
        }
    }
    let reply = {
        let mut x = s.xend.lock().unwrap_or_else(|p| p.into_inner());
        x.handle(&req.method, &req.path, &req.args)
    };
    let _ = wire::respond(
        &mut w,
        reply.status,
        "application/sxp",
        reply.body.as_bytes(),
    );
}
