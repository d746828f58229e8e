//! Xen lookups: by name and by id, through the xen-store member (against
//! `virtkit-xenstore-peer`) and through the xen-xend member (against `virtkit-xend-peer`), each
//! peer holding about a thousand domains, in one run.
//!
//! The store member finds its socket through `XENSTORED_PATH`, as Xen's tools do, so the
//! measurements run in a child process of the benchmark (`__xenlookups`) started with that
//! variable; both members are loaded from the release directory through the public API there,
//! so they are measured the same way. Each connection's registry holds that one member's plugin
//! file only: a xen-xend figure is never the store answering (on the socket-path URI the store
//! would open beside xend), nor a xen-store figure another member's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtkit::{Connect, Registry};

use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_median_time, min_ratio, progress};

/// Per-lookup times, in nanoseconds.
pub struct LookupTimes {
    /// Domains the store peer held.
    pub store_domains: usize,
    /// Domains the xend peer held (None when the xend member or its peer is not built).
    pub xend_domains: Option<usize>,
    /// By name through xen-store.
    pub store_name: Summary,
    /// By id through xen-store.
    pub store_id: Summary,
    /// By name through xen-xend.
    pub xend_name: Option<Summary>,
    /// By id through xen-xend.
    pub xend_id: Option<Summary>,
}

struct PeerProcess(Child);

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(exe: &Path, socket: &Path, args: &[&str]) -> Result<PeerProcess, String> {
    let child = Command::new(exe)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let mut p = PeerProcess(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        if let Ok(Some(s)) = p.0.try_wait() {
            return Err(format!("{} exited: {s}", exe.display()));
        }
        if Instant::now() > deadline {
            return Err(format!("{} does not listen", exe.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(p)
}

/// Starts the peers, runs the child, reads its samples.
pub fn measure(
    release: &Path,
    corpus: &Path,
    dir: &Path,
    domains: usize,
    picks: usize,
    reps: usize,
) -> Result<LookupTimes, String> {
    let store_exe = release.join("virtkit-xenstore-peer");
    if !store_exe.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release --workspace`",
            store_exe.display()
        ));
    }
    let store_sock = dir.join("xenstored-socket");
    let _store = start(&store_exe, &store_sock, &["--guests", &domains.to_string()])?;
    let xend_exe = release.join("virtkit-xend-peer");
    let xend_sock = dir.join("xend-socket");
    let _xend = if xend_exe.exists() && release.join("libvirtkit_driver_xen_xend.so").exists() {
        let seed = corpus.join("sexpr2xml");
        let seed = seed.to_string_lossy().into_owned();
        Some(start(
            &xend_exe,
            &xend_sock,
            &["--seed", &seed, "--populate", &domains.to_string()],
        )?)
    } else {
        None
    };
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(me)
        .arg("__xenlookups")
        .arg(release)
        .arg(if _xend.is_some() {
            xend_sock.display().to_string()
        } else {
            "-".into()
        })
        .arg(picks.to_string())
        .arg(reps.to_string())
        .env("XENSTORED_PATH", &store_sock)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the lookup child failed ({})", out.status));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("the lookup child: {e}"))?;
    let samples = |k: &str| -> Option<Summary> {
        let a: Vec<f64> = v
            .get(k)?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_f64())
            .collect();
        Summary::of(&a)
    };
    Ok(LookupTimes {
        store_domains: v["store_domains"].as_u64().unwrap_or(0) as usize,
        xend_domains: v["xend_domains"].as_u64().map(|n| n as usize),
        store_name: samples("store_name").ok_or("no xen-store samples")?,
        store_id: samples("store_id").ok_or("no xen-store samples")?,
        xend_name: samples("xend_name"),
        xend_id: samples("xend_id"),
    })
}

/// Per-lookup times of `picks` domains spread over the list, `reps` rounds.
fn rounds(
    conn: &Connect,
    picks: usize,
    reps: usize,
) -> Result<(usize, Vec<f64>, Vec<f64>), String> {
    let e = |e: virtkit::Error| e.to_string();
    let ids = conn.list_domains().map_err(e)?;
    if ids.is_empty() {
        return Err("no domains".into());
    }
    let step = (ids.len() / picks.max(1)).max(1);
    let chosen: Vec<i32> = ids.iter().copied().step_by(step).take(picks).collect();
    let mut names = Vec::new();
    for id in &chosen {
        names.push(conn.lookup_domain_by_id(*id).map_err(e)?.name().to_string());
    }
    // Each lookup finds the domain asked for (a fast wrong answer would be no figure at all).
    for (id, name) in chosen.iter().zip(&names) {
        let by_name = conn.lookup_domain_by_name(name).map_err(e)?;
        let by_id = conn.lookup_domain_by_id(*id).map_err(e)?;
        if by_name.id() != *id || by_id.name() != name.as_str() {
            return Err(format!(
                "lookups disagree: '{name}' is domain {}, domain {id} is '{}'",
                by_name.id(),
                by_id.name()
            ));
        }
    }
    let (mut by_name, mut by_id) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        for n in &names {
            conn.lookup_domain_by_name(n).map_err(e)?;
        }
        by_name.push(stats::ns(t.elapsed()) / names.len() as f64);
        let t = Instant::now();
        for id in &chosen {
            conn.lookup_domain_by_id(*id).map_err(e)?;
        }
        by_id.push(stats::ns(t.elapsed()) / chosen.len() as f64);
    }
    Ok((ids.len(), by_name, by_id))
}

/// The child: `__xenlookups RELEASE XEND_SOCKET|- PICKS REPS`, printing JSON.
pub fn child_main(args: &[String]) -> i32 {
    let run = || -> Result<serde_json::Value, String> {
        let [release, xend, picks, reps] = args else {
            return Err("usage: __xenlookups RELEASE XEND_SOCKET|- PICKS REPS".into());
        };
        let picks: usize = picks.parse().map_err(|_| "bad PICKS")?;
        let reps: usize = reps.parse().map_err(|_| "bad REPS")?;
        let only = |file: &str| Registry::with_files(vec![PathBuf::from(release).join(file)]);
        let open = |uri: &str, file: &str| -> Result<Connect, String> {
            let c = Connect::open_with(Some(uri), false, &only(file)).map_err(|e| e.to_string())?;
            let served: Vec<String> = c.drivers().iter().map(|d| d.name.clone()).collect();
            if served.len() != 1 {
                return Err(format!(
                    "{uri} is served by {served:?}, not by {file} alone"
                ));
            }
            Ok(c)
        };
        let store = open("xen:///", "libvirtkit_driver_xen_store.so")?;
        let (n, name, id) = rounds(&store, picks, reps)?;
        let mut v = serde_json::json!({"store_domains": n, "store_name": name, "store_id": id});
        if xend != "-" {
            let x = open(xend, "libvirtkit_driver_xen_xend.so")?;
            let (n, name, id) = rounds(&x, picks, reps)?;
            v["xend_domains"] = n.into();
            v["xend_name"] = name.into();
            v["xend_id"] = id.into();
        }
        Ok(v)
    };
    match run() {
        Ok(v) => {
            println!("{v}");
            0
        }
        Err(e) => {
            eprintln!("virtkit-bench __xenlookups: {e}");
            1
        }
    }
}

impl Run<'_> {
    /// The `xenlookup` group: lookups by name and by id through xen-store and xen-xend.
    pub(crate) fn xenlookup(&mut self) {
        const G: &str = "xenlookup: xen-store vs xen-xend, lookups against their peers";
        let domains = 1000;
        let (picks, reps) = if self.o.quick { (10, 3) } else { (50, 10) };
        progress(
            "xenlookup: lookup by name and by id through xen-store and xen-xend, 1000 domains",
        );
        let dir = match tempfile::Builder::new()
            .prefix("vkb-xen-")
            .tempdir_in("/tmp")
        {
            Ok(d) => d,
            Err(e) => {
                self.skip(format!("xenlookup: cannot make a temporary directory: {e}"));
                return;
            }
        };
        let t = match measure(
            &self.o.release,
            &self.o.corpus,
            dir.path(),
            domains,
            picks,
            reps,
        ) {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("xenlookup: {e}"));
                return;
            }
        };
        let n = t.store_domains;
        let xend_n = t.xend_domains.map_or("—".to_string(), |x| x.to_string());
        for (what, store, xend) in [
            ("by name", &t.store_name, &t.xend_name),
            ("by id", &t.store_id, &t.xend_id),
        ] {
            self.rows.push(Row::info(
                G,
                format!(
                    "one lookup {what} (xen-store, {n} domains) vs xen-xend ({xend_n} domains)"
                ),
                min_median_time(store),
                xend.as_ref()
                    .map_or("not built".to_string(), min_median_time),
                xend.as_ref().and_then(|x| min_ratio(store, x)),
            ));
        }
        if t.xend_name.is_none() {
            self.skip(
                "xenlookup: the xen-xend member or its peer is not built; xen-store measured alone",
            );
        }
        self.notes.push(format!(
            "xenlookup rows: the release xen-store and xen-xend plugins through the public API in one child process, against `virtkit-xenstore-peer --guests {domains}` and `virtkit-xend-peer --populate {domains}` (separate processes on unix sockets); {picks} domains spread over the list, {reps} rounds, time per lookup. The store answers a lookup by name by reading each `/local/domain/<id>/name` in turn, as libvirt did, so its cost grows with the number of domains; by id it reads one node."
        ));
    }
}
