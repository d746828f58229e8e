//! Measurements for `cargo xtask bench`: the driver's start latency beside the bare QEMU it
//! runs, and listing with many running guests. Each function cleans up the guests it started.
//!
//! All guests are tiny TCG guests with no disk (`-S`, 64 MiB). The driver is called directly
//! (no plugin loading), so the figures are the driver's own cost plus QEMU's.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use virtkit_driver::{DomainIdent, DomainRef, DomainState};

use crate::qmp::DEFAULT_TIMEOUT;
use crate::{QemuConn, domain, emulator};

/// The guest every measurement uses: 64 MiB, one vCPU, no disk, no balloon (so that it matches
/// the bare QEMU it is compared with).
pub fn guest_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os><devices><memballoon model='none'/></devices></domain>"
    )
}

fn open(root: &Path) -> Result<QemuConn, String> {
    let uri = format!("qemu:///session?root={}", root.display());
    QemuConn::open(&uri, false)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the driver declined the URI".to_string())
}

fn dref(d: &DomainIdent) -> DomainRef<'_> {
    DomainRef {
        id: d.id,
        uuid: d.uuid,
        name: &d.name,
    }
}

/// Destroys and undefines what a measurement created, also on early return.
struct Cleanup<'a> {
    conn: &'a QemuConn,
    doms: Vec<DomainIdent>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for d in &self.doms {
            let _ = domain::destroy(self.conn, &dref(d));
            let _ = domain::undefine(self.conn, &dref(d));
        }
        // Whatever the driver did, no QEMU recorded under the root outlives the measurement.
        for name in self.conn.store.state_names() {
            if let Some(s) = self
                .conn
                .store
                .read_state(&name)
                .filter(|s| self.conn.store.is_running(s))
            {
                crate::process::terminate(s.pid, Duration::from_secs(2));
            }
        }
    }
}

/// `qemu-system-x86_64` on this host, or why not.
pub fn qemu_binary() -> Result<String, String> {
    emulator::find_emulator("x86_64")
        .map(|p| p.display().to_string())
        .ok_or_else(|| {
            "qemu-system-x86_64 not found (install it with scripts/install-test-deps.sh)"
                .to_string()
        })
}

/// What a bare QEMU takes, from exec: to its QMP greeting, and to having run `cont` (the
/// least any start through QMP must wait for).
#[derive(Clone, Copy, Debug)]
pub struct BareQemu {
    /// exec → QMP greeting.
    pub greeting: Duration,
    /// exec → `qmp_capabilities` and `cont` answered. QEMU sends the greeting from its monitor
    /// thread while the main thread is still finishing its set-up, so this is some 15 ms later.
    pub running: Duration,
}

/// Runs a bare `qemu-system-x86_64 -S` (same machine and memory as the driver's guest, QMP on a
/// unix socket, no driver) and times its greeting and its first commands.
pub fn bare_qemu() -> Result<BareQemu, String> {
    let bin = qemu_binary()?;
    let dir = tempfile::Builder::new()
        .prefix("vkbench")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let sock = dir.path().join("m.qmp");
    let mut cmd = Command::new(&bin);
    cmd.args([
        "-machine",
        "pc,accel=tcg",
        "-m",
        "64",
        "-nodefaults",
        "-display",
        "none",
        "-S",
        "-qmp",
    ])
    .arg(format!("unix:{},server=on,wait=off", sock.display()));
    run_bare(cmd, &sock)
}

/// Runs `argv` (a whole QEMU command line, `argv[0]` the binary: for example the one the driver
/// gave a running guest, with its files moved elsewhere) with no driver, its QMP monitor on the
/// unix socket `sock` that the command line names, and times it like [`bare_qemu`].
pub fn bare_qemu_argv(argv: &[String], sock: &Path) -> Result<BareQemu, String> {
    let (bin, args) = argv.split_first().ok_or("an empty command line")?;
    let mut cmd = Command::new(bin);
    cmd.args(args);
    run_bare(cmd, sock)
}

/// Spawns `cmd`, waits for its QMP socket at `sock` (polling as the driver does), reads the
/// greeting, runs `qmp_capabilities` and `cont`, then kills and reaps it.
fn run_bare(mut cmd: Command, sock: &Path) -> Result<BareQemu, String> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let result = (|| {
        let deadline = t0 + Duration::from_secs(30);
        let mut pause = Duration::from_micros(100);
        let stream = loop {
            match UnixStream::connect(sock) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    if let Ok(Some(st)) = child.try_wait() {
                        return Err(format!("QEMU exited before its monitor listened: {st}"));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_micros(250));
                }
                Err(e) => return Err(format!("no QMP socket: {e}")),
            }
        };
        stream
            .set_read_timeout(Some(DEFAULT_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let greeting = t0.elapsed();
        for cmd in [
            "{\"execute\":\"qmp_capabilities\"}\n",
            "{\"execute\":\"cont\"}\n",
        ] {
            writer
                .write_all(cmd.as_bytes())
                .map_err(|e| e.to_string())?;
            loop {
                line.clear();
                if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                    return Err("QEMU closed its monitor".into());
                }
                if line.contains("\"return\"") {
                    break;
                }
                if line.contains("\"error\"") {
                    return Err(format!("QEMU refused {}: {}", cmd.trim(), line.trim()));
                }
            }
        }
        Ok(BareQemu {
            greeting,
            running: t0.elapsed(),
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Time the driver takes to start a defined guest until it is running (spawn, QMP negotiation,
/// `cont`, state recorded), under `root`.
pub fn start_to_running(root: &Path) -> Result<Duration, String> {
    qemu_binary()?;
    let conn = open(root)?;
    let d = domain::define_xml(&conn, &guest_xml("bench-start")).map_err(|e| e.to_string())?;
    let mut cleanup = Cleanup {
        conn: &conn,
        doms: vec![d.clone()],
    };
    let t0 = Instant::now();
    domain::start(&conn, &dref(&d)).map_err(|e| e.to_string())?;
    let took = t0.elapsed();
    let (state, _) = domain::get_state(&conn, &dref(&d)).map_err(|e| e.to_string())?;
    if state != DomainState::Running {
        return Err(format!("the guest is {state:?} after start"));
    }
    domain::destroy(&conn, &dref(&d)).map_err(|e| e.to_string())?;
    domain::undefine(&conn, &dref(&d)).map_err(|e| e.to_string())?;
    cleanup.doms.clear();
    Ok(took)
}

/// Listing times with `n` running guests.
#[derive(Clone, Copy, Debug)]
pub struct ListTimes {
    /// Guests running.
    pub guests: usize,
    /// `list_domains` (ids of the running guests, each checked to be alive).
    pub list_ids: Duration,
    /// What `virsh list` does: the ids, then name and state of each guest (a QMP query each),
    /// one guest after the other.
    pub list_with_states: Duration,
    /// What `virtkit list --all` asks of the driver: the ids and the inactive names, each looked
    /// up, then the states asked for concurrently (as many workers as the CLI uses), each a QMP
    /// query of its own.
    pub list_with_states_concurrent: Duration,
}

/// Workers for the concurrent listing (the CLI's `STATE_WORKERS`).
const STATE_WORKERS: usize = 16;

/// The CLI's `CHEAP_STATE`: answers faster than this are asked one after another.
const CHEAP_STATE: Duration = Duration::from_micros(250);

/// What `virtkit list --all` asks of the driver: the ids of the running guests, each looked up
/// by id, the names of the defined guests that do not run, each looked up by name, then the
/// state of every one — in this thread while answers are cheap, `STATE_WORKERS` threads at once
/// from the first answer that took a round trip on; an error unless every guest is running.
fn list_all_as_the_cli_does(conn: &QemuConn) -> Result<(), String> {
    let mut idents = domain::active_ids(conn)
        .into_iter()
        .map(|id| domain::find_id(conn, id).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    for name in domain::defined_names(conn) {
        domain::lookup_by_name(conn, &name, &mut |r| {
            idents.push(DomainIdent {
                id: r.id,
                uuid: r.uuid,
                name: r.name.to_string(),
            })
        })
        .map_err(|e| e.to_string())?;
    }
    let check = |d: &DomainIdent| -> Result<(), String> {
        let (st, _) = domain::get_state(conn, &dref(d)).map_err(|e| e.to_string())?;
        if st != DomainState::Running {
            return Err(format!("guest {} is {st:?}", d.name));
        }
        Ok(())
    };
    let mut done = 0;
    for d in &idents {
        let asked = Instant::now();
        check(d)?;
        done += 1;
        if asked.elapsed() > CHEAP_STATE {
            break;
        }
    }
    let rest = &idents[done..];
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..STATE_WORKERS.min(rest.len()))
            .map(|_| {
                s.spawn(|| -> Result<(), String> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(d) = rest.get(i) else {
                            return Ok(());
                        };
                        check(d)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
    })
}

/// Starts `n` guests under `root`, measures listing them (median of `samples`), and removes them.
pub fn list_with_n_guests(root: &Path, n: usize, samples: usize) -> Result<ListTimes, String> {
    qemu_binary()?;
    let conn = open(root)?;
    let mut cleanup = Cleanup {
        conn: &conn,
        doms: Vec::new(),
    };
    for i in 0..n {
        let d = domain::define_xml(&conn, &guest_xml(&format!("bench-list-{i}")))
            .map_err(|e| e.to_string())?;
        cleanup.doms.push(d.clone());
        domain::start(&conn, &dref(&d)).map_err(|e| e.to_string())?;
    }
    let mut ids_t = Vec::new();
    let mut full_t = Vec::new();
    let mut conc_t = Vec::new();
    for _ in 0..samples.max(1) {
        let t0 = Instant::now();
        let ids = domain::active_ids(&conn);
        ids_t.push(t0.elapsed());
        if ids.len() != n {
            return Err(format!("listed {} guests, started {n}", ids.len()));
        }
        let t0 = Instant::now();
        for id in domain::active_ids(&conn) {
            let d = domain::find_id(&conn, id).map_err(|e| e.to_string())?;
            let (st, _) = domain::get_state(&conn, &dref(&d)).map_err(|e| e.to_string())?;
            if st != DomainState::Running {
                return Err(format!("guest {} is {st:?}", d.name));
            }
        }
        full_t.push(t0.elapsed());
        let t0 = Instant::now();
        list_all_as_the_cli_does(&conn)?;
        conc_t.push(t0.elapsed());
    }
    Ok(ListTimes {
        guests: n,
        list_ids: median(&mut ids_t),
        list_with_states: median(&mut full_t),
        list_with_states_concurrent: median(&mut conc_t),
    })
}

/// The median of some durations.
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs every measurement (`samples` rounds of the start comparison, interleaved so that both
/// see the same machine load) and formats a report with the ratios.
pub fn report(samples: usize) -> Result<String, String> {
    let n = samples.max(1);
    let root = tempfile::Builder::new()
        .prefix("vkb")
        .tempdir_in("/tmp")
        .map_err(|e| e.to_string())?;
    let (mut greeting, mut running, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    // One untimed round warms the page cache for the binary and its firmware.
    bare_qemu()?;
    for _ in 0..n {
        let b = bare_qemu()?;
        greeting.push(b.greeting);
        running.push(b.running);
        ours.push(start_to_running(root.path())?);
    }
    let (g, r, o) = (
        median(&mut greeting),
        median(&mut running),
        median(&mut ours),
    );
    let list = list_with_n_guests(root.path(), 50, n)?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = |a: Duration, b: Duration| ms(a) / ms(b).max(1e-9);
    Ok(format!(
        "qemu: start -> running through the driver: {:.1} ms (median of {n})\n\
         qemu: bare qemu-system-x86_64 -S: exec -> QMP greeting {:.1} ms, exec -> qmp_capabilities + cont answered {:.1} ms\n\
         qemu: ratio to the bare greeting {:.2} (goal <= 1.20); to the bare cont {:.2}\n\
         qemu: list with {} running guests: ids {:.2} ms, ids + state of each {:.2} ms one by one, {:.2} ms as `virtkit list --all` asks (concurrently; goal <= 10 ms)\n",
        ms(o),
        ms(g),
        ms(r),
        ratio(o, g),
        ratio(o, r),
        list.guests,
        ms(list.list_ids),
        ms(list.list_with_states),
        ms(list.list_with_states_concurrent),
    ))
}
