//! `virtkit-xenstore-peer`: a xenstore daemon on a unix socket, for tests and benchmarks. It speaks
//! xenstored's wire protocol to any client — Xen's own `xenstore-*` tools included — over a tree
//! laid out as Xen 3.x/4.x did (see [`store`]).
//!
//! ```text
//! virtkit-xenstore-peer --socket PATH [--ro-socket PATH] [--state FILE] [--guests N]
//! ```
//!
//! `--state FILE` loads the tree from FILE when it exists and saves it there (atomically) after
//! every committed change; otherwise the tree starts as domain 0 plus `--guests` guests.
#![forbid(unsafe_code)]

mod state;
mod store;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use virtkit_xen_store_driver::wire::{HEADER_LEN, Header, Message, MsgType, valid_path};

use store::{Change, Store, Watch, absolute, fires};

/// A xenstore peer for tests: xenstored's protocol on a unix socket.
#[derive(Parser)]
#[command(name = "virtkit-xenstore-peer", version)]
struct Args {
    /// The read-write socket (what XENSTORED_PATH names).
    #[arg(long)]
    socket: PathBuf,
    /// A read-only socket (xenstored's socket_ro).
    #[arg(long)]
    ro_socket: Option<PathBuf>,
    /// Where the tree is kept between runs.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Guests to lay out besides domain 0 when the tree starts empty.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=30000))]
    guests: u32,
}

/// What all connections share.
struct Shared {
    store: Store,
    watches: HashMap<u64, (Arc<Mutex<UnixStream>>, Vec<Watch>)>,
    state: Option<PathBuf>,
}

type SharedRef = Arc<Mutex<Shared>>;

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("virtkit-xenstore-peer: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let tree = match &args.state {
        Some(p) if p.exists() => state::load(p)?,
        _ => store::xen_layout(args.guests),
    };
    if let Some(p) = &args.state {
        state::save(p, &tree)?;
    }
    let shared = Arc::new(Mutex::new(Shared {
        store: Store::new(tree),
        watches: HashMap::new(),
        state: args.state.clone(),
    }));
    // Bound under a private name and renamed into place once listening, so that a client that
    // sees the socket can connect.
    let bind = |p: &PathBuf| {
        if p.symlink_metadata().is_ok() {
            return Err(format!(
                "cannot listen on {}: it already exists",
                p.display()
            ));
        }
        let mut tmp = p.clone().into_os_string();
        tmp.push(format!(".{}.binding", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let l = UnixListener::bind(&tmp)
            .map_err(|e| format!("cannot listen on {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, p).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot listen on {}: {e}", p.display())
        })?;
        Ok::<_, String>(l)
    };
    // The read-only socket first, so that a client that sees the main one finds both.
    let ro = args.ro_socket.as_ref().map(bind).transpose()?;
    let rw = bind(&args.socket)?;
    let next = Arc::new(Mutex::new(1u64));
    if let Some(ro) = ro {
        let (shared, next) = (shared.clone(), next.clone());
        std::thread::spawn(move || accept(ro, false, shared, next));
    }
    accept(rw, true, shared, next);
    Ok(())
}

fn accept(l: UnixListener, writable: bool, shared: SharedRef, next: Arc<Mutex<u64>>) {
    for s in l.incoming() {
        let Ok(s) = s else { continue };
        let id = {
            let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        let shared = shared.clone();
        std::thread::spawn(move || serve(s, id, writable, shared));
    }
}

fn lock(s: &SharedRef) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn send(w: &Arc<Mutex<UnixStream>>, m: &Message) -> std::io::Result<()> {
    let mut s = w.lock().unwrap_or_else(|e| e.into_inner());
    s.write_all(&m.encode())
}

fn event(path: &str, token: &str) -> Option<Message> {
    Message::request(MsgType::WatchEvent, 0, 0, &[path, token], None).ok()
}

/// Tells every watch a change fires.
fn notify(sh: &Shared, changes: &[Change]) {
    for (w, watches) in sh.watches.values() {
        for c in changes {
            for watch in watches {
                if fires(&absolute(&watch.path), &c.path, c.removal) {
                    // Relative watches hear relative paths.
                    let reported = if watch.path.starts_with('/') {
                        c.path.clone()
                    } else {
                        c.path
                            .strip_prefix("/local/domain/0/")
                            .unwrap_or(&c.path)
                            .to_string()
                    };
                    if let Some(m) = event(&reported, &watch.token) {
                        let _ = send(w, &m);
                    }
                }
            }
        }
    }
}

fn serve(stream: UnixStream, id: u64, writable: bool, shared: SharedRef) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let writer = Arc::new(Mutex::new(writer));
    lock(&shared)
        .watches
        .insert(id, (writer.clone(), Vec::new()));
    let mut reader = stream;
    loop {
        let mut head = [0u8; HEADER_LEN];
        if reader.read_exact(&mut head).is_err() {
            break;
        }
        // A header the protocol does not allow ends the connection, as xenstored does.
        let Ok(h) = Header::decode(&head) else {
            break;
        };
        let mut payload = vec![0u8; h.len as usize];
        if reader.read_exact(&mut payload).is_err() {
            break;
        }
        let m = Message {
            kind: h.kind,
            req_id: h.req_id,
            tx_id: h.tx_id,
            payload,
        };
        let mut sh = lock(&shared);
        let (reply, changes, first_event) = match m.kind {
            MsgType::Watch | MsgType::Unwatch | MsgType::ResetWatches => {
                let (r, ev) = watch_request(&mut sh, id, &m);
                (r, Vec::new(), ev)
            }
            _ => {
                let o = sh.store.handle(id, writable, &m);
                (o.reply, o.changes, None)
            }
        };
        let out = match reply {
            Ok(p) => Message::new(m.kind, m.req_id, m.tx_id, p),
            Err(errno) => Message::new(
                MsgType::Error,
                m.req_id,
                m.tx_id,
                format!("{errno}\0").into_bytes(),
            ),
        };
        let Ok(out) = out else { break };
        // Saved before the reply, so that a client told OK finds its change after a restart.
        if !changes.is_empty()
            && let Some(p) = sh.state.clone()
            && let Err(e) = state::save(&p, &sh.store.tree)
        {
            eprintln!("virtkit-xenstore-peer: {e}");
        }
        if send(&writer, &out).is_err() {
            break;
        }
        if let Some(ev) = first_event {
            let _ = send(&writer, &ev);
        }
        if !changes.is_empty() {
            notify(&sh, &changes);
        }
    }
    let mut sh = lock(&shared);
    sh.watches.remove(&id);
    sh.store.forget(id);
}

/// WATCH, UNWATCH and RESET_WATCHES: the reply, and for a new watch its first event.
fn watch_request(
    sh: &mut Shared,
    id: u64,
    m: &Message,
) -> (Result<Vec<u8>, &'static str>, Option<Message>) {
    let Some((_, watches)) = sh.watches.get_mut(&id) else {
        return (Err("EINVAL"), None);
    };
    if m.kind == MsgType::ResetWatches {
        watches.clear();
        return (Ok(b"OK\0".to_vec()), None);
    }
    let Ok(f) = m.fields() else {
        return (Err("EINVAL"), None);
    };
    let [path, token, ..] = f.as_slice() else {
        return (Err("EINVAL"), None);
    };
    if !valid_path(path) {
        return (Err("EINVAL"), None);
    }
    let w = Watch {
        path: path.to_string(),
        token: token.to_string(),
    };
    if m.kind == MsgType::Unwatch {
        return match watches.iter().position(|x| *x == w) {
            Some(i) => {
                watches.remove(i);
                (Ok(b"OK\0".to_vec()), None)
            }
            None => (Err("ENOENT"), None),
        };
    }
    if watches.contains(&w) {
        return (Err("EEXIST"), None);
    }
    if watches.len() >= store::MAX_WATCHES {
        return (Err("E2BIG"), None);
    }
    let ev = event(path, token);
    watches.push(w);
    (Ok(b"OK\0".to_vec()), ev)
}
