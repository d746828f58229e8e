//! Domain and network lifecycle events: libvirt's event callbacks, served by the daemon.
//!
//! Clients register callbacks (`CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY`, the older
//! `CONNECT_DOMAIN_EVENT_REGISTER_ANY` / `_REGISTER`, `CONNECT_NETWORK_EVENT_REGISTER_ANY`) for
//! the node their connection opened (its URI). Events come from two places:
//!
//! * a change made through this daemon (define, undefine, start, suspend, resume, destroy, ...)
//!   is announced as soon as the call succeeded, with libvirt's event and detail for that call;
//! * while a node has callbacks, a watcher thread reads its domains and networks every
//!   [`WATCH_INTERVAL`] and announces what changed otherwise (another process, a guest that
//!   powered itself off). It sees states, not causes: its details are the usual cause of such a
//!   change (a domain that stopped is `STOPPED_SHUTDOWN`, one that started `STARTED_BOOTED`),
//!   and a change undone within one interval is not seen.
//!
//! Each client's events go through a bounded queue to a writer thread of its own, so a client
//! that does not read its events never holds up the call that caused them; when its queue is
//! full it is disconnected, with a log line.

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use virtkit::{Connect, DomainState};
use virtkit_rpc::xdr::Encoder;
use virtkit_rpc::{
    Header, Message, MessageType, PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
    PROC_DOMAIN_EVENT_LIFECYCLE, PROC_NETWORK_EVENT_LIFECYCLE, REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION, Status, WireDomain, WireNetwork,
};

use crate::config::LogLevel;
use crate::log;

/// How often a watched node is read for changes made outside this daemon.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// Events one client may have waiting to be written before it is disconnected.
pub const EVENT_QUEUE: usize = 4096;

/// libvirt's `virDomainEventType` and the details virtkitd sends.
pub mod domain_event {
    /// `VIR_DOMAIN_EVENT_DEFINED` (details: `_ADDED` 0, `_UPDATED` 1).
    pub const DEFINED: i32 = 0;
    /// `VIR_DOMAIN_EVENT_UNDEFINED` (detail `_REMOVED` 0).
    pub const UNDEFINED: i32 = 1;
    /// `VIR_DOMAIN_EVENT_STARTED` (detail `_BOOTED` 0).
    pub const STARTED: i32 = 2;
    /// `VIR_DOMAIN_EVENT_SUSPENDED` (detail `_PAUSED` 0).
    pub const SUSPENDED: i32 = 3;
    /// `VIR_DOMAIN_EVENT_RESUMED` (detail `_UNPAUSED` 0).
    pub const RESUMED: i32 = 4;
    /// `VIR_DOMAIN_EVENT_STOPPED` (details `_SHUTDOWN` 0, `_DESTROYED` 1, `_CRASHED` 2,
    /// `_SAVED` 4).
    pub const STOPPED: i32 = 5;
    /// `VIR_DOMAIN_EVENT_DEFINED_ADDED`.
    pub const DEFINED_ADDED: i32 = 0;
    /// `VIR_DOMAIN_EVENT_DEFINED_UPDATED`.
    pub const DEFINED_UPDATED: i32 = 1;
    /// `VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN`.
    pub const STOPPED_SHUTDOWN: i32 = 0;
    /// `VIR_DOMAIN_EVENT_STOPPED_DESTROYED`.
    pub const STOPPED_DESTROYED: i32 = 1;
    /// `VIR_DOMAIN_EVENT_STOPPED_CRASHED`.
    pub const STOPPED_CRASHED: i32 = 2;
    /// `VIR_DOMAIN_EVENT_STOPPED_SAVED`.
    pub const STOPPED_SAVED: i32 = 4;
}

/// libvirt's `virNetworkEventLifecycleType` (every detail is 0).
pub mod network_event {
    /// `VIR_NETWORK_EVENT_DEFINED`.
    pub const DEFINED: i32 = 0;
    /// `VIR_NETWORK_EVENT_UNDEFINED`.
    pub const UNDEFINED: i32 = 1;
    /// `VIR_NETWORK_EVENT_STARTED`.
    pub const STARTED: i32 = 2;
    /// `VIR_NETWORK_EVENT_STOPPED`.
    pub const STOPPED: i32 = 3;
}

/// What a callback is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Domain lifecycle events, sent as `DOMAIN_EVENT_CALLBACK_LIFECYCLE` with the callback's
    /// id, optionally for one domain (by UUID).
    Domain { only: Option<[u8; 16]> },
    /// Domain lifecycle events the old way (`DOMAIN_EVENT_LIFECYCLE`, no id, no filter): one per
    /// client, as libvirtd allows.
    DomainLegacy,
    /// Network lifecycle events, optionally for one network.
    Network { only: Option<[u8; 16]> },
}

/// Where a client's events go: a queue drained by the client's event writer thread, and the
/// way to disconnect it.
#[derive(Clone)]
pub struct Sink {
    queue: SyncSender<Vec<u8>>,
    close: Arc<dyn Fn() + Send + Sync>,
}

impl Sink {
    /// Starts the writer thread of a client: it writes each queued event with `send` until the
    /// queue's senders are all gone or a write fails (then it disconnects the client).
    pub fn start(
        client: u64,
        writer: Arc<Mutex<Box<dyn Write + Send>>>,
        close: Arc<dyn Fn() + Send + Sync>,
    ) -> std::io::Result<Sink> {
        let (queue, rx): (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) = sync_channel(EVENT_QUEUE);
        let c = Arc::clone(&close);
        std::thread::Builder::new()
            .name(format!("client-{client}-events"))
            .stack_size(128 * 1024)
            .spawn(move || {
                for bytes in rx {
                    if let Err(e) = crate::server::send(&writer, &bytes) {
                        log(
                            LogLevel::Warning,
                            &format!("client {client}: closed: cannot send an event: {e}"),
                        );
                        c();
                        return;
                    }
                }
            })?;
        Ok(Sink { queue, close })
    }
}

struct Callback {
    client: u64,
    id: i32,
    kind: Kind,
    sink: Sink,
}

/// What the watcher knows of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DomSeen {
    wire: WireDomain,
    state: DomainState,
    persistent: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct NetSeen {
    wire: WireNetwork,
    active: bool,
    persistent: bool,
}

#[derive(Default)]
struct Snapshot {
    domains: HashMap<[u8; 16], DomSeen>,
    networks: HashMap<[u8; 16], NetSeen>,
}

/// One watched node (a URI with callbacks).
struct Node {
    conn: Connect,
    callbacks: Vec<Callback>,
    seen: Snapshot,
    /// Calls through the daemon that may change this node, running now.
    inflight: usize,
    /// Bumped by each such call when it ends: a watcher read that overlapped one is dropped.
    generation: u64,
    /// Set when the node has no callbacks left: its watcher ends.
    stopped: bool,
}

/// A watched node and the condition its watcher waits on (to end at once when stopped).
type SharedNode = Arc<(Mutex<Node>, Condvar)>;

/// Every callback of every client, by node.
pub struct EventHub {
    nodes: Mutex<HashMap<String, SharedNode>>,
    next_id: Mutex<i32>,
}

/// A lifecycle event of one domain or network, caused by a call through the daemon.
#[derive(Clone, Debug)]
pub enum Change {
    /// A domain's event and detail.
    Domain(WireDomain, i32, i32),
    /// A domain defined: `DEFINED_ADDED`, or `_UPDATED` when it was already persistent.
    DomainDefined(WireDomain),
    /// A network's event.
    Network(WireNetwork, i32),
}

/// A call that may change a node, begun with [`EventHub::begin`].
pub struct Pending {
    node: Option<SharedNode>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn message(procedure: i32, payload: &[u8]) -> Option<Vec<u8>> {
    let h = Header {
        program: REMOTE_PROGRAM,
        version: REMOTE_PROTOCOL_VERSION,
        procedure,
        message_type: MessageType::Message,
        serial: 1,
        status: Status::Ok,
    };
    Message::encode(&h, payload).ok()
}

fn is_active(s: DomainState) -> bool {
    !matches!(s, DomainState::Shutoff | DomainState::Crashed)
}

impl Node {
    fn deliver(&mut self, f: impl Fn(&Callback) -> Option<Vec<u8>>) {
        let mut full = Vec::new();
        for cb in &self.callbacks {
            let Some(bytes) = f(cb) else { continue };
            match cb.sink.queue.try_send(bytes) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => full.push(cb.client),
            }
        }
        for client in full {
            log(
                LogLevel::Warning,
                &format!(
                    "client {client}: closed: {EVENT_QUEUE} events wait to be read (it does not read)"
                ),
            );
            if let Some(cb) = self.callbacks.iter().find(|c| c.client == client) {
                (cb.sink.close)();
            }
            self.callbacks.retain(|c| c.client != client);
        }
    }

    fn domain_event(&mut self, dom: &WireDomain, event: i32, detail: i32) {
        log(
            LogLevel::Debug,
            &format!("event: domain {} lifecycle {event} {detail}", dom.name),
        );
        self.deliver(|cb| match &cb.kind {
            Kind::Domain { only } if only.is_none_or(|u| u == dom.uuid) => {
                let mut e = Encoder::new();
                e.i32(cb.id);
                dom.encode(&mut e);
                e.i32(event).i32(detail);
                message(PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, &e.into_bytes())
            }
            Kind::DomainLegacy => {
                let mut e = Encoder::new();
                dom.encode(&mut e);
                e.i32(event).i32(detail);
                message(PROC_DOMAIN_EVENT_LIFECYCLE, &e.into_bytes())
            }
            _ => None,
        });
    }

    fn network_event(&mut self, net: &WireNetwork, event: i32) {
        log(
            LogLevel::Debug,
            &format!("event: network {} lifecycle {event}", net.name),
        );
        self.deliver(|cb| match &cb.kind {
            Kind::Network { only } if only.is_none_or(|u| u == net.uuid) => {
                let mut e = Encoder::new();
                e.i32(cb.id);
                net.encode(&mut e);
                e.i32(event).i32(0);
                message(PROC_NETWORK_EVENT_LIFECYCLE, &e.into_bytes())
            }
            _ => None,
        });
    }

    /// Re-reads one domain into the snapshot (gone: removed), without announcing anything.
    fn refresh_domain(&mut self, uuid: [u8; 16]) {
        match read_domain(&self.conn, uuid) {
            Some(d) => {
                self.seen.domains.insert(uuid, d);
            }
            None => {
                self.seen.domains.remove(&uuid);
            }
        }
    }

    fn refresh_network(&mut self, uuid: [u8; 16]) {
        match read_network(&self.conn, uuid) {
            Some(n) => {
                self.seen.networks.insert(uuid, n);
            }
            None => {
                self.seen.networks.remove(&uuid);
            }
        }
    }

    /// Announces the differences between the snapshot and `now`, then keeps `now`.
    fn announce_differences(&mut self, now: Snapshot) {
        for ev in differences(&self.seen, &now) {
            match ev {
                Seen::Domain(w, event, detail) => self.domain_event(&w, event, detail),
                Seen::Network(w, event) => self.network_event(&w, event),
            }
        }
        self.seen = now;
    }
}

/// An event the watcher derives from two readings of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Domain(WireDomain, i32, i32),
    Network(WireNetwork, i32),
}

/// The lifecycle events that lead from reading `old` to reading `now`, in libvirt's order for
/// each object (defined, started, stopped, suspended or resumed, undefined). Causes are not
/// seen: a domain that stopped is `STOPPED_SHUTDOWN` (or `_CRASHED` when it says so), one that
/// started `STARTED_BOOTED`.
fn differences(old: &Snapshot, now: &Snapshot) -> Vec<Seen> {
    use domain_event as E;
    use network_event as N;
    let mut out = Vec::new();
    let mut dom = |w: &WireDomain, e: i32, d: i32| out.push(Seen::Domain(w.clone(), e, d));
    let mut uuids: Vec<&[u8; 16]> = now.domains.keys().collect();
    uuids.sort_by_key(|u| (&now.domains[*u].wire.name, **u));
    for uuid in uuids {
        let d = &now.domains[uuid];
        let before = old.domains.get(uuid);
        let was_persistent = before.is_some_and(|b| b.persistent);
        let was_active = before.is_some_and(|b| is_active(b.state));
        let was_paused = before.is_some_and(|b| b.state == DomainState::Paused);
        if d.persistent && !was_persistent {
            dom(&d.wire, E::DEFINED, E::DEFINED_ADDED);
        }
        if is_active(d.state) && !was_active {
            dom(&d.wire, E::STARTED, 0);
        }
        if !is_active(d.state) && was_active {
            let detail = if d.state == DomainState::Crashed {
                E::STOPPED_CRASHED
            } else {
                E::STOPPED_SHUTDOWN
            };
            dom(&d.wire, E::STOPPED, detail);
        }
        if d.state == DomainState::Paused && !was_paused {
            dom(&d.wire, E::SUSPENDED, 0);
        } else if was_paused && was_active && d.state != DomainState::Paused && is_active(d.state) {
            dom(&d.wire, E::RESUMED, 0);
        }
        if was_persistent && !d.persistent {
            dom(&d.wire, E::UNDEFINED, 0);
        }
    }
    let mut gone: Vec<&DomSeen> = old
        .domains
        .iter()
        .filter(|(u, _)| !now.domains.contains_key(*u))
        .map(|(_, d)| d)
        .collect();
    gone.sort_by_key(|d| (&d.wire.name, d.wire.uuid));
    for b in gone {
        if is_active(b.state) {
            dom(&b.wire, E::STOPPED, E::STOPPED_SHUTDOWN);
        }
        if b.persistent {
            dom(&b.wire, E::UNDEFINED, 0);
        }
    }
    let mut net = |w: &WireNetwork, e: i32| out.push(Seen::Network(w.clone(), e));
    let mut uuids: Vec<&[u8; 16]> = now.networks.keys().collect();
    uuids.sort_by_key(|u| (&now.networks[*u].wire.name, **u));
    for uuid in uuids {
        let n = &now.networks[uuid];
        let before = old.networks.get(uuid);
        let was_persistent = before.is_some_and(|b| b.persistent);
        let was_active = before.is_some_and(|b| b.active);
        if n.persistent && !was_persistent {
            net(&n.wire, N::DEFINED);
        }
        if n.active && !was_active {
            net(&n.wire, N::STARTED);
        } else if !n.active && was_active {
            net(&n.wire, N::STOPPED);
        }
        if was_persistent && !n.persistent {
            net(&n.wire, N::UNDEFINED);
        }
    }
    let mut gone: Vec<&NetSeen> = old
        .networks
        .iter()
        .filter(|(u, _)| !now.networks.contains_key(*u))
        .map(|(_, n)| n)
        .collect();
    gone.sort_by_key(|n| (&n.wire.name, n.wire.uuid));
    for b in gone {
        if b.active {
            net(&b.wire, N::STOPPED);
        }
        if b.persistent {
            net(&b.wire, N::UNDEFINED);
        }
    }
    out
}

fn read_domain(conn: &Connect, uuid: [u8; 16]) -> Option<DomSeen> {
    let d = conn
        .lookup_domain_by_uuid(&uuid::Uuid::from_bytes(uuid))
        .ok()?;
    Some(DomSeen {
        state: d.state().ok()?.0,
        persistent: d.is_persistent().ok()?,
        wire: WireDomain {
            name: d.name(),
            uuid,
            id: d.id(),
        },
    })
}

fn read_network(conn: &Connect, uuid: [u8; 16]) -> Option<NetSeen> {
    let n = conn
        .lookup_network_by_uuid(&uuid::Uuid::from_bytes(uuid))
        .ok()?;
    Some(NetSeen {
        active: n.is_active().ok()?,
        persistent: n.is_persistent().ok()?,
        wire: WireNetwork {
            name: n.name().to_string(),
            uuid,
        },
    })
}

/// The whole node as the watcher sees it; `None` when it cannot be read now (a call failed).
fn read_node(conn: &Connect) -> Option<Snapshot> {
    let mut s = Snapshot::default();
    for d in crate::listing::all_domains(conn, 0).ok()? {
        let uuid = *d.uuid().as_bytes();
        let Ok((state, _)) = d.state() else { continue };
        let Ok(persistent) = d.is_persistent() else {
            continue;
        };
        s.domains.insert(
            uuid,
            DomSeen {
                wire: WireDomain {
                    name: d.name(),
                    uuid,
                    id: d.id(),
                },
                state,
                persistent,
            },
        );
    }
    // A driver without networks has no network events to give.
    if let Ok(nets) = crate::listing::all_networks(conn, 0) {
        for n in nets {
            let uuid = *n.uuid().as_bytes();
            let (Ok(active), Ok(persistent)) = (n.is_active(), n.is_persistent()) else {
                continue;
            };
            s.networks.insert(
                uuid,
                NetSeen {
                    wire: WireNetwork {
                        name: n.name().to_string(),
                        uuid,
                    },
                    active,
                    persistent,
                },
            );
        }
    }
    Some(s)
}

fn watch(node: SharedNode) {
    let (m, cv) = &*node;
    loop {
        let (conn, generation) = {
            let g = lock(m);
            let (g, _) = cv
                .wait_timeout(g, WATCH_INTERVAL)
                .unwrap_or_else(|p| p.into_inner());
            if g.stopped {
                return;
            }
            if g.inflight > 0 {
                continue;
            }
            (g.conn.clone(), g.generation)
        };
        let Some(now) = read_node(&conn) else {
            continue;
        };
        let mut g = lock(m);
        if g.stopped {
            return;
        }
        // A call through the daemon overlapped the read: it announced its own change, and the
        // next round reads again.
        if g.inflight > 0 || g.generation != generation {
            continue;
        }
        g.announce_differences(now);
    }
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new()
    }
}

impl EventHub {
    /// No callbacks yet.
    pub fn new() -> EventHub {
        EventHub {
            nodes: Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
        }
    }

    /// Registers a callback of `client` on `conn`'s node; its id. A node's first callback
    /// starts its watcher (after reading the node, so that only later changes are announced).
    pub fn register(
        &self,
        conn: &Connect,
        client: u64,
        kind: Kind,
        sink: Sink,
    ) -> Result<i32, String> {
        let uri = conn.uri().to_string();
        let mut nodes = lock(&self.nodes);
        if kind == Kind::DomainLegacy
            && nodes.get(&uri).is_some_and(|n| {
                lock(&n.0)
                    .callbacks
                    .iter()
                    .any(|c| c.client == client && c.kind == Kind::DomainLegacy)
            })
        {
            return Err("domain event 0 already registered".into());
        }
        let id = {
            let mut n = lock(&self.next_id);
            let id = *n;
            *n = n.checked_add(1).unwrap_or(1);
            id
        };
        let cb = Callback {
            client,
            id,
            kind,
            sink,
        };
        if let Some(node) = nodes.get(&uri) {
            lock(&node.0).callbacks.push(cb);
            return Ok(id);
        }
        let seen = read_node(conn).unwrap_or_default();
        let node = Arc::new((
            Mutex::new(Node {
                conn: conn.clone(),
                callbacks: vec![cb],
                seen,
                inflight: 0,
                generation: 0,
                stopped: false,
            }),
            Condvar::new(),
        ));
        let n = Arc::clone(&node);
        std::thread::Builder::new()
            .name("event-watch".into())
            .stack_size(crate::server::CALL_STACK)
            .spawn(move || watch(n))
            .map_err(|e| format!("no watcher thread: {e}"))?;
        nodes.insert(uri, node);
        Ok(id)
    }

    /// Removes a callback of `client` by id (`Kind::DomainLegacy`: its legacy domain callback);
    /// whether there was one.
    pub fn deregister(&self, client: u64, id: Option<i32>, legacy: bool) -> bool {
        let mut nodes = lock(&self.nodes);
        let mut found = false;
        nodes.retain(|_, node| {
            let mut g = lock(&node.0);
            let before = g.callbacks.len();
            g.callbacks.retain(|c| {
                let matches = c.client == client
                    && if legacy {
                        c.kind == Kind::DomainLegacy
                    } else {
                        Some(c.id) == id && c.kind != Kind::DomainLegacy
                    };
                !matches
            });
            found |= g.callbacks.len() != before;
            Self::keep(&mut g, &node.1)
        });
        found
    }

    /// Removes every callback of a client that left.
    pub fn remove_client(&self, client: u64) {
        let mut nodes = lock(&self.nodes);
        nodes.retain(|_, node| {
            let mut g = lock(&node.0);
            g.callbacks.retain(|c| c.client != client);
            Self::keep(&mut g, &node.1)
        });
    }

    /// Whether a node stays watched; stops its watcher when not.
    fn keep(g: &mut Node, cv: &Condvar) -> bool {
        if g.callbacks.is_empty() {
            g.stopped = true;
            cv.notify_all();
            false
        } else {
            true
        }
    }

    /// Marks the start of a call that may change `conn`'s node (a no-op when nobody watches it).
    pub fn begin(&self, conn: &Connect) -> Pending {
        let node = lock(&self.nodes).get(conn.uri()).cloned();
        if let Some(n) = &node {
            lock(&n.0).inflight += 1;
        }
        Pending { node }
    }

    /// Ends a call begun with [`begin`](Self::begin): announces its change when it succeeded.
    pub fn end(&self, pending: Pending, change: Option<Change>) {
        let Some(node) = pending.node else { return };
        let mut g = lock(&node.0);
        g.inflight = g.inflight.saturating_sub(1);
        g.generation += 1;
        match change {
            Some(Change::Domain(dom, event, detail)) => {
                g.domain_event(&dom, event, detail);
                g.refresh_domain(dom.uuid);
            }
            Some(Change::DomainDefined(dom)) => {
                let updated = g.seen.domains.get(&dom.uuid).is_some_and(|d| d.persistent);
                let detail = if updated {
                    domain_event::DEFINED_UPDATED
                } else {
                    domain_event::DEFINED_ADDED
                };
                g.domain_event(&dom, domain_event::DEFINED, detail);
                g.refresh_domain(dom.uuid);
            }
            Some(Change::Network(net, event)) => {
                g.network_event(&net, event);
                g.refresh_network(net.uuid);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain_event as E;

    fn dom(name: &str, n: u8, state: DomainState, persistent: bool) -> ([u8; 16], DomSeen) {
        let uuid = [n; 16];
        let id = if is_active(state) { i32::from(n) } else { -1 };
        let wire = WireDomain {
            name: name.into(),
            uuid,
            id,
        };
        (
            uuid,
            DomSeen {
                wire,
                state,
                persistent,
            },
        )
    }

    fn node(doms: &[([u8; 16], DomSeen)]) -> Snapshot {
        Snapshot {
            domains: doms.iter().cloned().collect(),
            networks: HashMap::new(),
        }
    }

    fn events(old: &Snapshot, now: &Snapshot) -> Vec<(String, i32, i32)> {
        differences(old, now)
            .into_iter()
            .map(|e| match e {
                Seen::Domain(w, e, d) => (w.name, e, d),
                Seen::Network(w, e) => (format!("net {}", w.name), e, 0),
            })
            .collect()
    }

    #[test]
    fn the_same_reading_gives_no_event() {
        let a = node(&[dom("a", 1, DomainState::Running, true)]);
        assert!(events(&a, &a).is_empty());
    }

    #[test]
    fn each_change_of_state_gives_libvirts_event() {
        use DomainState::*;
        type Case = (DomainState, bool, DomainState, bool, &'static [(i32, i32)]);
        let cases: &[Case] = &[
            (Shutoff, true, Running, true, &[(E::STARTED, 0)]),
            (
                Running,
                true,
                Shutoff,
                true,
                &[(E::STOPPED, E::STOPPED_SHUTDOWN)],
            ),
            (
                Running,
                true,
                Crashed,
                true,
                &[(E::STOPPED, E::STOPPED_CRASHED)],
            ),
            (Running, true, Paused, true, &[(E::SUSPENDED, 0)]),
            (Paused, true, Running, true, &[(E::RESUMED, 0)]),
            (
                Paused,
                true,
                Shutoff,
                true,
                &[(E::STOPPED, E::STOPPED_SHUTDOWN)],
            ),
            (Running, true, Running, false, &[(E::UNDEFINED, 0)]),
            (
                Running,
                false,
                Running,
                true,
                &[(E::DEFINED, E::DEFINED_ADDED)],
            ),
        ];
        for (s0, p0, s1, p1, want) in cases {
            let old = node(&[dom("a", 1, *s0, *p0)]);
            let now = node(&[dom("a", 1, *s1, *p1)]);
            let got: Vec<(i32, i32)> = events(&old, &now).iter().map(|e| (e.1, e.2)).collect();
            assert_eq!(&got, want, "{s0:?}/{p0} -> {s1:?}/{p1}");
        }
    }

    #[test]
    fn objects_that_appear_or_vanish_are_defined_started_stopped_undefined() {
        let empty = node(&[]);
        let both = node(&[
            dom("new", 1, DomainState::Running, true),
            dom("transient", 2, DomainState::Running, false),
            dom("off", 3, DomainState::Shutoff, true),
        ]);
        assert_eq!(
            events(&empty, &both),
            vec![
                ("new".to_string(), E::DEFINED, E::DEFINED_ADDED),
                ("new".to_string(), E::STARTED, 0),
                ("off".to_string(), E::DEFINED, E::DEFINED_ADDED),
                ("transient".to_string(), E::STARTED, 0),
            ]
        );
        assert_eq!(
            events(&both, &empty),
            vec![
                ("new".to_string(), E::STOPPED, E::STOPPED_SHUTDOWN),
                ("new".to_string(), E::UNDEFINED, 0),
                ("off".to_string(), E::UNDEFINED, 0),
                ("transient".to_string(), E::STOPPED, E::STOPPED_SHUTDOWN),
            ]
        );
    }

    #[test]
    fn networks_are_compared_too() {
        let net = |active, persistent| NetSeen {
            wire: WireNetwork {
                name: "n".into(),
                uuid: [9; 16],
            },
            active,
            persistent,
        };
        let mut old = Snapshot::default();
        old.networks.insert([9; 16], net(true, true));
        let mut now = Snapshot::default();
        now.networks.insert([9; 16], net(false, true));
        assert_eq!(
            events(&old, &now),
            vec![("net n".to_string(), network_event::STOPPED, 0)]
        );
        assert_eq!(
            events(&now, &Snapshot::default()),
            vec![("net n".to_string(), network_event::UNDEFINED, 0)]
        );
    }
}
