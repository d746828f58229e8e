//! Listing many guests cheaply: the questions `list` asks of every guest (is it running, what is
//! its id, what state is it in) answered from the head of its state file — name, UUID, id, pid,
//! reason, starting; the live XML is not parsed — and, for the state, one pipelined QMP
//! `query-status`. Nothing is cached that could go stale: a guest is running when its recorded
//! QEMU lives (checked in `/proc` each time), and its state is QEMU's answer of the moment. The
//! only memory kept is which name an id was last seen under ([`IdHints`]), a hint that is checked
//! against the state file on every use.
//!
//! Whatever does not fit the cheap path — no state file, a start in progress, a QEMU that died
//! and must be cleaned up, another UUID under the name, a QMP error — goes to the full path in
//! `domain.rs` ([`Store::live`] and the per-domain calls), which decides and tidies up as before.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use uuid::Uuid;
use virtkit_driver::{DomainIdent, DomainRef, DomainState, Error, Result};

use crate::QemuConn;
use crate::qmp::{DEFAULT_TIMEOUT, Qmp};
use crate::store::{RunState, Store, read_own, storable_name};

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
/// and UUID and its QEMU answers `query-status`: `None` sends the call to the full path (not
/// running, renamed, starting, dead, or a QMP error to report).
pub(crate) fn quick_state(c: &QemuConn, r: &DomainRef<'_>) -> Option<(DomainState, i32)> {
    let h = c
        .store
        .head_if_running(r.name)
        .filter(|h| h.uuid == r.uuid)?;
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
