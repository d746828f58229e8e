//! Listing many guests cheaply: the questions `list` asks of every guest (is it running, what is
//! its id, what state is it in) answered from the head of its state file — name, UUID, id, pid,
//! reason, starting; the live XML is not parsed — and, for the state, from QEMU's own record of
//! its run-state events, else one pipelined QMP `query-status`.
//!
//! Every QEMU the driver starts has a second QMP monitor that only writes: its output is the file
//! `run/<name>.events`, its input the driver's fixed `run/.qmp-negotiate` (`qmp_capabilities`),
//! so QEMU appends every event to the file as it happens. QEMU enters the running state only
//! through `vm_start`, which sends `RESUME`, and leaves it only through `vm_stop`, which sends
//! `STOP` (a pause by the guest's own doing — I/O error, watchdog, panic, power-off with
//! `-no-shutdown` — and a `stop` from any QMP client alike). So a guest whose QEMU lives and whose
//! last run-state event is `RESUME` is running, without a monitor round trip (each costs QEMU
//! about half a millisecond of CPU here); any other case — `STOP` last, no event yet, a file
//! rotated away — asks QEMU with `query-status`, which also gives the reason of a pause.
//!
//! Nothing is cached that could go stale: a guest is running when its recorded QEMU lives
//! (checked in `/proc` each time) and its state is what QEMU wrote or answered. The only memory
//! kept is which name an id was last seen under ([`IdHints`]), a hint that is checked against the
//! state file on every use.
//!
//! Whatever does not fit the cheap path — no state file, a start in progress, a QEMU that died
//! and must be cleaned up, another UUID under the name, a QMP error — goes to the full path in
//! `domain.rs` ([`Store::live`] and the per-domain calls), which decides and tidies up as before.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use uuid::Uuid;
use virtkit_driver::{DomainIdent, DomainRef, DomainState, Error, Result};

use crate::QemuConn;
use crate::argv::opt_escape;
use crate::qmp::{DEFAULT_TIMEOUT, Qmp};
use crate::store::{FILE_MODE, RunState, Store, host_error, read_own, storable_name, write_atomic};

/// What the event monitor reads: the negotiation that makes QEMU send it events.
const NEGOTIATE: &str = "{\"execute\":\"qmp_capabilities\"}\n";
/// How much of the end of an events file is read for the last run-state event.
const EVENTS_TAIL: u64 = 16 << 10;
/// An events file past this size is emptied (the next state query then asks QEMU).
const EVENTS_MAX: u64 = 1 << 20;

/// What `list` needs of a guest's state file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunHead {
    pub name: String,
    pub uuid: Uuid,
    pub id: i32,
    pub pid: i32,
    /// The running reason recorded at start (libvirt's).
    pub reason: i32,
    pub starting: bool,
}

impl From<&RunState> for RunHead {
    fn from(s: &RunState) -> RunHead {
        RunHead {
            name: s.name.clone(),
            uuid: s.uuid,
            id: s.id,
            pid: s.pid,
            reason: s.reason,
            starting: s.starting,
        }
    }
}

impl Store {
    /// `run/<name>.events`: what QEMU's write-only event monitor writes (greeting, events).
    pub(crate) fn events_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.events"))
    }

    /// `run/.qmp-negotiate`: the event monitors' input (the driver's own file).
    fn negotiate_file(&self) -> PathBuf {
        self.paths.run.join(".qmp-negotiate")
    }

    /// The head of `name`'s state file, without parsing its live definition or checking the
    /// process.
    pub(crate) fn head(&self, name: &str) -> Option<RunHead> {
        if !storable_name(name) {
            return None;
        }
        let text = read_own(&self.state_file(name)).ok()??;
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(RunHead {
            name: v.get("name")?.as_str()?.to_string(),
            uuid: Uuid::parse_str(v.get("uuid")?.as_str()?).ok()?,
            id: i32::try_from(v.get("id")?.as_i64()?).ok()?,
            pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
            reason: v
                .get("reason")
                .and_then(Value::as_i64)
                .and_then(|r| i32::try_from(r).ok())
                .unwrap_or(1),
            starting: v.get("starting").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The head of a guest whose start finished and whose QEMU lives (the check of
    /// [`Store::is_running`]).
    fn head_if_running(&self, name: &str) -> Option<RunHead> {
        self.head(name).filter(|h| {
            !h.starting
                && h.name == name
                && virtkit_hostio::process_has_arg(h.pid, self.pidfile(name).as_os_str())
        })
    }

    /// The running guest called `name`, as [`Store::live`] decides it: the cheap check when
    /// the guest runs, else the full one (which cleans up a dead or abandoned start).
    pub(crate) fn running_head(&self, name: &str) -> Option<RunHead> {
        self.head_if_running(name)
            .or_else(|| self.live(name, None).map(|s| RunHead::from(&s)))
    }
}

/// Which name each domain id was last seen under, so that looking up every id of a listing
/// reads one state file each instead of all of them. Only a hint: every use reads that name's
/// state file and checks the id and the process.
#[derive(Debug, Default)]
pub(crate) struct IdHints(Mutex<HashMap<i32, String>>);

impl IdHints {
    fn get(&self, id: i32) -> Option<String> {
        self.0.lock().ok()?.get(&id).cloned()
    }

    fn replace(&self, seen: impl IntoIterator<Item = (i32, String)>) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
            m.extend(seen);
        }
    }
}

/// The running guests, by head, in increasing id order; remembers their ids.
pub(crate) fn running(c: &QemuConn) -> Vec<RunHead> {
    let mut heads: Vec<RunHead> = c
        .store
        .state_names()
        .iter()
        .filter_map(|n| c.store.running_head(n))
        .collect();
    heads.sort_unstable_by_key(|h| h.id);
    c.id_hints
        .replace(heads.iter().map(|h| (h.id, h.name.clone())));
    heads
}

/// Ids of the running guests, in increasing order.
pub(crate) fn active_ids(c: &QemuConn) -> Vec<i32> {
    running(c).into_iter().map(|h| h.id).collect()
}

/// The running guest with id `id`: the name the id was last seen under first, else every
/// state file.
pub(crate) fn find_id(c: &QemuConn, id: i32) -> Result<DomainIdent> {
    let ident = |h: RunHead| DomainIdent {
        id: h.id,
        uuid: h.uuid,
        name: h.name,
    };
    if let Some(h) = c
        .id_hints
        .get(id)
        .and_then(|n| c.store.running_head(&n))
        .filter(|h| h.id == id)
    {
        return Ok(ident(h));
    }
    running(c)
        .into_iter()
        .find(|h| h.id == id)
        .map(ident)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching id {id}")))
}

/// Names of the guests that are defined and not running.
pub(crate) fn defined_names(c: &QemuConn) -> Vec<String> {
    c.store
        .config_names()
        .into_iter()
        .filter(|n| c.store.running_head(n).is_none())
        .collect()
}

/// The state of the running guest `r` names, when its state file says it runs under that name
/// and UUID: running when QEMU's last run-state event is `RESUME`, else QEMU's answer to
/// `query-status`. `None` sends the call to the full path (not running, renamed, starting, dead,
/// or a QMP error to report).
pub(crate) fn quick_state(c: &QemuConn, r: &DomainRef<'_>) -> Option<(DomainState, i32)> {
    let h = c
        .store
        .head_if_running(r.name)
        .filter(|h| h.uuid == r.uuid)?;
    if last_run_event(&c.store, r.name) == Some(true) {
        return Some((DomainState::Running, h.reason));
    }
    let answer = Qmp::query(
        &c.store.qmp_socket(r.name),
        DEFAULT_TIMEOUT,
        &["query-status"],
    )
    .ok()?
    .into_iter()
    .next()?
    .ok()?;
    let status = answer.get("status")?.as_str()?;
    Some(crate::domain::map_status(status, h.reason))
}

/// The arguments of a guest's event monitor (see the module documentation); its events file is
/// removed with the guest's other runtime files before each start.
pub(crate) fn event_monitor_args(store: &Store, name: &str) -> Result<Vec<String>> {
    let input = store.negotiate_file();
    if read_own(&input)?.as_deref() != Some(NEGOTIATE) {
        write_atomic(&input, NEGOTIATE.as_bytes(), false)?;
    }
    Ok(vec![
        "-chardev".into(),
        format!(
            "file,id=charevents,path={},input-path={},append=on",
            opt_escape(&store.events_file(name).display().to_string()),
            opt_escape(&input.display().to_string())
        ),
        "-mon".into(),
        "chardev=charevents,id=events,mode=control".into(),
    ])
}

/// Whether the last run-state event QEMU wrote for `name` is `RESUME` (`Some(true)`) or `STOP`
/// (`Some(false)`); `None` when there is none in the end of the file (or no file). A line QEMU is
/// still writing does not parse and is passed over.
fn last_run_event(store: &Store, name: &str) -> Option<bool> {
    let path = store.events_file(name);
    let mut f = virtkit_hostio::open_nofollow(&path, virtkit_hostio::OpenMode::Read, FILE_MODE)
        .map_err(host_error)
        .ok()?;
    let len = f.metadata().ok()?.len();
    if len > EVENTS_MAX {
        // Emptied (QEMU appends, so its next event starts the file again); until a RESUME comes,
        // states are asked of QEMU.
        if let Ok(w) =
            virtkit_hostio::open_nofollow(&path, virtkit_hostio::OpenMode::Append, FILE_MODE)
        {
            let _ = w.set_len(0);
        }
        return None;
    }
    f.seek(SeekFrom::Start(len.saturating_sub(EVENTS_TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    f.take(EVENTS_TAIL).read_to_end(&mut tail).ok()?;
    tail.split(|b| *b == b'\n').rev().find_map(|line| {
        let v: Value = serde_json::from_slice(line).ok()?;
        match v.get("event")?.as_str()? {
            "RESUME" => Some(true),
            "STOP" => Some(false),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    #[test]
    fn the_last_run_state_event_decides_and_a_torn_line_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("qemu:///session?root={}", dir.path().display());
        let paths = Paths::from_uri(&uri).unwrap().unwrap();
        paths.create().unwrap();
        let store = Store::new(paths);
        assert_eq!(last_run_event(&store, "g"), None, "no file");
        let greeting =
            "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n{\"return\": {}}\r\n";
        let ev = |name: &str| {
            format!(
                "{{\"timestamp\": {{\"seconds\": 1, \"microseconds\": 2}}, \"event\": \"{name}\"}}\r\n"
            )
        };
        let write = |text: &str| std::fs::write(store.events_file("g"), text).unwrap();
        write(greeting);
        assert_eq!(last_run_event(&store, "g"), None, "no run-state event yet");
        write(&format!("{greeting}{}", ev("RESUME")));
        assert_eq!(last_run_event(&store, "g"), Some(true));
        write(&format!(
            "{greeting}{}{}{}",
            ev("RESUME"),
            ev("STOP"),
            ev("RTC_CHANGE")
        ));
        assert_eq!(
            last_run_event(&store, "g"),
            Some(false),
            "STOP, then another event"
        );
        write(&format!(
            "{greeting}{}{}{{\"timestamp\": {{\"sec",
            ev("STOP"),
            ev("RESUME")
        ));
        assert_eq!(
            last_run_event(&store, "g"),
            Some(true),
            "a line being written"
        );
        // Past the cap the file is emptied and QEMU is asked instead.
        let big = format!("{greeting}{}", ev("RTC_CHANGE").repeat(20_000)) + &ev("RESUME");
        write(&big);
        assert_eq!(last_run_event(&store, "g"), None);
        assert_eq!(std::fs::metadata(store.events_file("g")).unwrap().len(), 0);
    }
}
