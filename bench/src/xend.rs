//! xend: the xen-xend member against `virtkit-xend-peer` holding a thousand domains, and one
//! call beside a bare HTTP request to the same socket.
//!
//! The peer is a separate process (a real HTTP server on a unix socket), seeded with the
//! corpus's xend outputs and `--populate`d with copies; the driver is the release plugin loaded
//! through the public API. The bare request is what any client of xend pays: connect, write a
//! GET, read the whole reply. The driver's call does the same and also parses the S-expression
//! and answers through the loader; the ratio is what the driver adds.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtkit::{Connect, Registry};

use crate::stats::{self, Summary};

/// What was measured, in nanoseconds.
pub struct XendTimes {
    /// Number of domains the peer held.
    pub domains: usize,
    /// `list --all` through the API: ids + defined names.
    pub list_all: Summary,
    /// `list --all` then `dominfo` (lookup by name + info) of every domain.
    pub list_and_info: Summary,
    /// `virtkit -c SOCKET list --all`, whole process.
    pub cli_list: Summary,
    /// One `virDomainGetInfo` through the API.
    pub one_call: Summary,
    /// One bare `GET /xend/domain/NAME?detail=1` on the socket.
    pub bare: Summary,
}

/// The peer process; killed on drop.
struct PeerProcess(Child);

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_peer(
    release: &Path,
    corpus: &Path,
    dir: &Path,
    populate: usize,
) -> Result<(PeerProcess, PathBuf), String> {
    let exe = release.join("virtkit-xend-peer");
    if !exe.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release --workspace`",
            exe.display()
        ));
    }
    let socket = dir.join("xend-socket");
    let child = Command::new(&exe)
        .arg("--socket")
        .arg(&socket)
        .arg("--seed")
        .arg(corpus.join("sexpr2xml"))
        .args(["--populate", &populate.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let mut peer = PeerProcess(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        if let Ok(Some(s)) = peer.0.try_wait() {
            return Err(format!("the peer exited: {s}"));
        }
        if Instant::now() > deadline {
            return Err("the peer does not listen".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((peer, socket))
}

/// One bare request: connect, GET, read to the end (the peer closes after each reply).
fn bare_get(socket: &Path, path: &str) -> Result<usize, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost:8000\r\nAccept-Encoding: identity\r\n\r\n")
            .as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(4096);
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "bare GET {path}: {}",
            String::from_utf8_lossy(&buf[..buf.len().min(80)])
        ));
    }
    Ok(buf.len())
}

fn time<T>(f: impl FnOnce() -> Result<T, String>) -> Result<f64, String> {
    let t = Instant::now();
    f()?;
    Ok(stats::ns(t.elapsed()))
}

/// Runs everything: `reps` rounds of the list rows, `calls` interleaved single calls.
pub fn measure(
    release: &Path,
    corpus: &Path,
    dir: &Path,
    populate: usize,
    reps: usize,
    calls: usize,
) -> Result<XendTimes, String> {
    let (_peer, socket) = start_peer(release, corpus, dir, populate)?;
    let uri = socket.display().to_string();
    let registry = Registry::with_dirs(vec![release.to_path_buf()]).without_static();
    let conn = Connect::open_with(Some(&uri), false, &registry).map_err(|e| e.to_string())?;
    let e = |e: virtkit::Error| e.to_string();
    let ids = conn.list_domains().map_err(e)?;
    let domains = ids.len() + conn.list_defined_domains().map_err(e)?.len();
    let (mut list_all, mut list_and_info, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        list_all.push(time(|| {
            conn.list_domains().map_err(e)?;
            conn.list_defined_domains().map_err(e)
        })?);
        list_and_info.push(time(|| {
            let mut names = Vec::new();
            for id in conn.list_domains().map_err(e)? {
                names.push(conn.lookup_domain_by_id(id).map_err(e)?.name().to_string());
            }
            names.extend(conn.list_defined_domains().map_err(e)?);
            for n in &names {
                conn.lookup_domain_by_name(n)
                    .map_err(e)?
                    .info()
                    .map_err(e)?;
            }
            Ok(())
        })?);
        cli.push(time(|| {
            let out = Command::new(release.join("virtkit"))
                .env("VIRTKIT_DRIVER_DIR", release)
                .args(["-c", &uri, "list", "--all"])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        })?);
    }
    let dom = conn.lookup_domain_by_name("rhel5").map_err(e)?;
    let bare_path = "/xend/domain/rhel5?detail=1";
    let (mut one, mut bare) = (Vec::new(), Vec::new());
    // Interleaved, so both see the same load.
    for _ in 0..calls {
        one.push(time(|| dom.info().map_err(e))?);
        bare.push(time(|| bare_get(&socket, bare_path))?);
    }
    let s = |v: &[f64]| Summary::of(v).ok_or_else(|| "no samples".to_string());
    Ok(XendTimes {
        domains,
        list_all: s(&list_all)?,
        list_and_info: s(&list_and_info)?,
        cli_list: s(&cli)?,
        one_call: s(&one)?,
        bare: s(&bare)?,
    })
}
