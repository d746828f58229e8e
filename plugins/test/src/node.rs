//! The in-memory node and how connections find it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;
use virtkit_driver::{DomainRef, DomainState, Error, NodeInfo, Result, Taint, Taints};
use virtkit_xml::{DiskDevice, DiskType, DomainDef, NetworkDef, NodeDef};

use crate::index::Idents;

/// libvirt's built-in test domain (`data/default-domain.xml`, the one copy in the tree).
const DEFAULT_DOMAIN: &str = include_str!("../data/default-domain.xml");

/// libvirt's built-in test network, which is also libvirt's `default` network
/// (`data/default-network.xml`, the one copy in the tree).
const DEFAULT_NETWORK: &str = include_str!("../data/default-network.xml");

/// libvirt's built-in test node: i686, 2 cells x 2 sockets x 2 cores x 2 threads at 1400 MHz,
/// 3 GiB.
fn default_node_info() -> NodeInfo {
    NodeInfo {
        model: "i686".into(),
        memory_kib: 3 * 1024 * 1024,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    }
}

/// The MAC prefix libvirt's drivers give interfaces defined without a MAC (QEMU's OUI).
pub(crate) const LIBVIRT_MAC_PREFIX: [u8; 3] = [0x52, 0x54, 0x00];

/// libvirt's state reasons (`virDomainRunningReason`, `virDomainPausedReason`,
/// `virDomainShutoffReason`), the ones the test driver gives.
pub(crate) mod reason {
    /// Any state: no reason known (how libvirt's test driver loads a node's domains).
    pub const UNKNOWN: i32 = 0;
    /// Running: started (`VIR_DOMAIN_RUNNING_BOOTED`).
    pub const BOOTED: i32 = 1;
    /// Running: restored from a save image.
    pub const RESTORED: i32 = 3;
    /// Running: resumed after a pause.
    pub const UNPAUSED: i32 = 5;
    /// Paused: by the user.
    pub const PAUSED_USER: i32 = 1;
    /// Shut off: shut down by the guest.
    pub const SHUTDOWN: i32 = 1;
    /// Shut off: destroyed.
    pub const DESTROYED: i32 = 2;
    /// Shut off: saved to a file.
    pub const SAVED: i32 = 5;
}

/// One domain of the node. Its name, UUID and id change only through [`Node`]'s methods, which
/// keep the [`Idents`] in step.
pub(crate) struct Dom {
    pub def: DomainDef,
    pub state: DomainState,
    /// Why the domain is in its state, as libvirt's `virDomainGetState` reports it (the reason
    /// enums of [`reason`]).
    pub reason: i32,
    id: i32,
    pub persistent: bool,
    pub autostart: bool,
    /// Affinity map per vCPU, set by pin_vcpu; a vCPU without one (past the end) may run on
    /// every host CPU.
    pub pins: Vec<Vec<u8>>,
    /// What virDomainGetMessages reports. libvirt's test driver taints only the domains of a
    /// node file, when it loads them ([`check_taint`]); the taints stay with the domain object
    /// (through stops, starts, redefinitions, saves) until it goes away.
    pub taints: Taints,
}

/// libvirt 9.0's test driver's taint rules (`testDomainObjCheckTaint`), for what the XML model
/// can hold: a `<script>` on any interface taints with shell scripts, a CD-ROM backed by a host
/// block device with cdrom passthrough. (Its other rules need `rawio`, SCSI host devices, a
/// custom CPU model or a device tree blob, which the model refuses.)
pub(crate) fn check_taint(def: &DomainDef, taints: &mut Taints) {
    for disk in &def.devices.disks {
        if disk.device == DiskDevice::Cdrom
            && disk.disk_type == DiskType::Block
            && disk.source.is_some()
        {
            taints.taint(Taint::CdromPassthrough);
        }
    }
    if def.devices.interfaces.iter().any(|n| n.script.is_some()) {
        taints.taint(Taint::ShellScripts);
    }
}

impl Dom {
    pub fn active(&self) -> bool {
        self.id >= 0
    }
}

/// One network of the node.
pub(crate) struct Net {
    pub def: NetworkDef,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
}

/// The node's whole state. Domains live in a vector, beside their identities ([`Idents`]: names,
/// UUIDs and ids, indexed), so that defines, lists and lookups stay fast with thousands of
/// domains; every insertion and removal goes through [`Node::push_dom`] and
/// [`Node::remove_dom`], and id changes through [`Node::start_dom`] and [`Node::stop_dom`],
/// which keep the two in step.
pub(crate) struct Node {
    pub info: NodeInfo,
    pub domains: Vec<Dom>,
    /// Entry `i` is the identity of `domains[i]`.
    idents: Idents,
    pub networks: Vec<Net>,
    pub next_id: i32,
}

impl Node {
    fn default_node() -> Result<Node> {
        let def = DomainDef::parse(DEFAULT_DOMAIN)
            .map_err(|e| Error::internal(format!("built-in domain: {e}")))?;
        let net = NetworkDef::parse(DEFAULT_NETWORK)
            .map_err(|e| Error::internal(format!("built-in network: {e}")))?;
        let mut node = Node::empty(default_node_info());
        node.add_running(def, true, reason::UNKNOWN);
        node.networks.push(Net {
            def: net,
            active: true,
            persistent: true,
            autostart: false,
        });
        Ok(node)
    }

    fn from_file(path: &Path) -> Result<Node> {
        // A regular file under the XML input cap: `test:///dev/zero` is refused, not read.
        let text =
            virtkit_hostio::read_string_capped(path, virtkit_xml::MAX_NODE_FILE).map_err(|e| {
                Error::new(
                    virtkit_driver::ErrorCode::OpenFailed,
                    format!("cannot read node file {}: {e}", path.display()),
                )
            })?;
        let parsed = NodeDef::parse(&text, path.parent()).map_err(|e| {
            Error::new(
                virtkit_driver::ErrorCode::XmlError,
                format!("{}: {e}", path.display()),
            )
        })?;
        let d = default_node_info();
        let cpu = &parsed.cpu;
        let info = NodeInfo {
            model: cpu.model.clone().unwrap_or(d.model),
            memory_kib: parsed.memory_kib.unwrap_or(d.memory_kib),
            cpus: cpu.active.unwrap_or(d.cpus),
            mhz: cpu.mhz.unwrap_or(d.mhz),
            nodes: cpu.nodes.unwrap_or(d.nodes),
            sockets: cpu.sockets.unwrap_or(d.sockets),
            cores: cpu.cores.unwrap_or(d.cores),
            threads: cpu.threads.unwrap_or(d.threads),
        };
        let mut node = Node::empty(info);
        for def in parsed.domains {
            if node.find_name(&def.name).is_some() || node.find_uuid(&def.uuid).is_some() {
                return Err(Error::xml(format!(
                    "{}: domain '{}' is defined twice",
                    path.display(),
                    def.name
                )));
            }
            // The define-time rules, as libvirt 9.0's test driver applies them to a node file's
            // domains: no live state kept, unnamed interfaces named testnetN.
            let mut def = def;
            def.forget_live_state();
            def.name_interfaces("testnet");
            def.assign_macs(LIBVIRT_MAC_PREFIX);
            let i = node.add_running(def, true, reason::UNKNOWN);
            let d = &mut node.domains[i];
            check_taint(&d.def, &mut d.taints);
        }
        for def in parsed.networks {
            node.networks.push(Net {
                def,
                active: true,
                persistent: true,
                autostart: false,
            });
        }
        Ok(node)
    }

    fn empty(info: NodeInfo) -> Node {
        Node {
            info,
            domains: Vec::new(),
            idents: Idents::default(),
            networks: Vec::new(),
            next_id: 1,
        }
    }

    /// Adds an inactive domain; returns its index.
    pub fn push_dom(&mut self, mut def: DomainDef, persistent: bool) -> usize {
        def.id = None;
        let i = self.domains.len();
        self.idents.push(&def.name, def.uuid);
        self.domains.push(Dom {
            def,
            state: DomainState::Shutoff,
            reason: reason::UNKNOWN,
            id: -1,
            persistent,
            autostart: false,
            pins: Vec::new(),
            taints: Taints::new(),
        });
        i
    }

    /// Removes domain `i` (the last domain takes its index).
    pub fn remove_dom(&mut self, i: usize) -> Dom {
        self.idents.swap_remove(i);
        self.domains.swap_remove(i)
    }

    /// Starts domain `i` with the next free id, running for `why` (a [`reason`] of the running
    /// state).
    pub fn start_dom(&mut self, i: usize, why: i32) {
        let id = self.next_id;
        self.next_id += 1;
        let d = &mut self.domains[i];
        d.id = id;
        d.def.id = Some(id);
        d.state = DomainState::Running;
        d.reason = why;
        self.idents.set_id(i, id);
    }

    /// Marks domain `i` shut off for `why` (its id is released).
    pub fn stop_dom(&mut self, i: usize, why: i32) {
        let d = &mut self.domains[i];
        d.id = -1;
        d.def.id = None;
        d.state = DomainState::Shutoff;
        d.reason = why;
        self.idents.set_id(i, -1);
    }

    /// Adds a domain and starts it, running for `why`; returns its index.
    pub fn add_running(&mut self, def: DomainDef, persistent: bool, why: i32) -> usize {
        let i = self.push_dom(def, persistent);
        self.start_dom(i, why);
        i
    }

    pub fn find_name(&self, name: &str) -> Option<usize> {
        self.idents.find_name(name)
    }

    pub fn find_uuid(&self, uuid: &Uuid) -> Option<usize> {
        self.idents.find_uuid(uuid)
    }

    pub fn find_id(&self, id: i32) -> Option<usize> {
        self.idents.find_id(id)
    }

    /// The identity of domain `i`, borrowed from the node.
    pub fn ident(&self, i: usize) -> DomainRef<'_> {
        self.idents.get(i)
    }

    /// Ids of the active domains, in increasing order.
    pub fn active_ids(&self) -> impl Iterator<Item = i32> + '_ {
        self.idents.active_ids()
    }

    pub fn num_active(&self) -> usize {
        self.idents.num_active()
    }

    /// Names of the inactive domains (all persistent: a transient domain goes when it stops).
    pub fn inactive_names(&self) -> impl Iterator<Item = &str> {
        self.idents.inactive_names()
    }

    pub fn num_inactive(&self) -> usize {
        self.idents.num_inactive()
    }

    pub fn net_name(&self, name: &str) -> Option<usize> {
        self.networks.iter().position(|n| n.def.name == name)
    }

    pub fn net_uuid(&self, uuid: &Uuid) -> Option<usize> {
        self.networks.iter().position(|n| n.def.uuid == *uuid)
    }
}

/// An affinity map with every host CPU set.
pub(crate) fn full_cpumap(cpus: u32) -> Vec<u8> {
    let n = cpus.max(1) as usize;
    let mut map = vec![0u8; n.div_ceil(8)];
    for i in 0..n {
        map[i / 8] |= 1 << (i % 8);
    }
    map
}

/// Wall-clock nanoseconds, which is what libvirt's test driver reports as CPU time.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

type Shared = Arc<Mutex<Node>>;

fn nodes() -> &'static Mutex<HashMap<String, Weak<Mutex<Node>>>> {
    static NODES: OnceLock<Mutex<HashMap<String, Weak<Mutex<Node>>>>> = OnceLock::new();
    NODES.get_or_init(Default::default)
}

/// A connection: a handle on the shared node of its URI.
pub struct TestConn {
    node: Shared,
}

impl TestConn {
    /// Opens `test:///default` or `test:///abs/path/node.xml`; declines anything else that is
    /// not a local `test` URI.
    pub fn open(uri: &str) -> Result<Option<TestConn>> {
        let Some(rest) = uri.strip_prefix("test://") else {
            return Ok(None);
        };
        if !rest.starts_with('/') {
            // test://host/... names a remote node: not ours.
            return Ok(None);
        }
        let path = rest.split('?').next().unwrap_or(rest);
        let key = if path == "/default" {
            "/default".to_string()
        } else if path == "/" || path.is_empty() {
            return Err(Error::invalid_arg(
                "test driver URI needs a path: use test:///default or test:///abs/path/node.xml",
            ));
        } else {
            std::fs::canonicalize(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.to_string())
        };
        let mut map = nodes().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(node) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(Some(TestConn { node }));
        }
        let node = if key == "/default" {
            Node::default_node()?
        } else {
            Node::from_file(Path::new(&key))?
        };
        let node = Arc::new(Mutex::new(node));
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(key, Arc::downgrade(&node));
        Ok(Some(TestConn { node }))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Node> {
        self.node.lock().unwrap_or_else(|p| p.into_inner())
    }
}
