//! The daemon's state: domains kept as the S-expressions xend describes them by, and every
//! operation applied with xend's semantics.
//!
//! * Ids are assigned when a domain starts, from a counter that only grows (Domain-0 is 0).
//! * `op=create` makes a running domain that xend forgets when it stops; `op=new` (config
//!   version 3 and later) keeps a managed domain, inactive until `op=start`. A managed domain
//!   that stops loses its id and state and stays; a transient one goes.
//! * xend creates domains paused (`xm create` unpauses them); `op=start` starts them running.
//! * Reboot gives the domain a new id, as Xen does.
//! * Errors are what xend sent: `(xend.err 'message')` with status 200, 404 for an unknown
//!   domain, 501 for an unknown operation, 406 when `op` is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use virtkit_xen::Sexpr;

/// The reply to one request.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
        }
    }
    fn status(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
        }
    }
    /// xend's error: status 200 and `(xend.err 'message')`.
    fn err(message: impl Into<String>) -> Reply {
        Reply::ok(Sexpr::list([Sexpr::atom("xend.err"), Sexpr::atom(message.into())]).to_string())
    }
    fn not_found() -> Reply {
        Reply::status(404, "Not found")
    }
}

/// One domain.
#[derive(Clone, Debug)]
struct Dom {
    /// `(domain …)` without the run-time fields (domid, state, cpu_time, …).
    config: Sexpr,
    /// The id while running.
    id: Option<u32>,
    paused: bool,
    /// Managed (`op=new`): kept when stopped.
    managed: bool,
    /// Per-vCPU affinity (host CPU numbers); empty means all.
    pins: BTreeMap<u32, Vec<u32>>,
    cpu_time: f64,
    /// The state flags a seed came with (`-b----`), until its state changes.
    seed_state: Option<String>,
}

/// Fields that only a running domain has; they are not part of the configuration.
const RUNTIME_FIELDS: &[&str] = &[
    "domid",
    "state",
    "cpu_time",
    "online_vcpus",
    "up_time",
    "start_time",
    "store_mfn",
    "console_mfn",
    "shutdown_reason",
    "status",
];

/// The first value of form field `k`.
fn get<'a>(args: &'a [(String, String)], k: &str) -> Option<&'a str> {
    args.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn field<'a>(s: &'a Sexpr, k: &str) -> Option<&'a str> {
    s.child(k)
        .and_then(|c| c.rest().first())
        .and_then(Sexpr::as_atom)
}

fn set_field(s: &mut Sexpr, k: &str, v: &str) {
    if let Sexpr::List(items) = s {
        match items.iter_mut().find(|i| i.is_named(k)) {
            Some(f) => *f = Sexpr::pair(k, v),
            None => items.push(Sexpr::pair(k, v)),
        }
    }
}

fn remove_fields(s: &mut Sexpr, keys: &[&str]) {
    if let Sexpr::List(items) = s {
        items.retain(|i| !keys.iter().any(|k| i.is_named(k)));
    }
}

impl Dom {
    fn name(&self) -> &str {
        field(&self.config, "name").unwrap_or("")
    }
    fn uuid(&self) -> &str {
        field(&self.config, "uuid").unwrap_or("")
    }
    fn num(&self, k: &str) -> u64 {
        field(&self.config, k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    fn vcpus(&self) -> u32 {
        u32::try_from(self.num("vcpus")).unwrap_or(1).max(1)
    }

    /// The description xend gives: the configuration plus, while running, the run-time fields.
    fn sxpr(&self) -> Sexpr {
        let mut s = self.config.clone();
        if let Sexpr::List(items) = &mut s {
            match self.id {
                Some(id) => {
                    items.insert(1, Sexpr::pair("domid", id.to_string()));
                    let state = match (&self.seed_state, self.paused) {
                        (_, true) => "--p---",
                        (Some(s), false) => s.as_str(),
                        (None, false) => "r-----",
                    };
                    items.push(Sexpr::pair("state", state));
                    items.push(Sexpr::pair("cpu_time", format!("{:.6}", self.cpu_time)));
                    items.push(Sexpr::pair("online_vcpus", self.vcpus().to_string()));
                }
                None => items.push(Sexpr::pair("state", "------")),
            }
        }
        s
    }
}

/// The whole daemon.
pub struct Xend {
    config_version: u32,
    domains: Vec<Dom>,
    next_id: u32,
    host: String,
    nr_cpus: u32,
    total_memory_mb: u64,
    state_dir: Option<PathBuf>,
}

/// Largest configuration read back from a save image or a state file.
const MAX_IMAGE: u64 = 1 << 20;
/// xend's save images start with this.
const SAVE_MAGIC: &str = "LinuxGuestRecord\n";

impl Xend {
    /// A daemon with Domain-0 only.
    pub fn new(config_version: u32, state_dir: Option<PathBuf>) -> Xend {
        let dom0 = Sexpr::parse(
            "(domain (uuid 00000000-0000-0000-0000-000000000000) (name Domain-0) (vcpus 2) \
             (memory 1024) (maxmem 4096) (on_poweroff destroy) (on_reboot restart) \
             (on_crash restart) (image (linux (kernel ''))))",
        )
        .unwrap_or(Sexpr::List(Vec::new()));
        Xend {
            config_version,
            domains: vec![Dom {
                config: dom0,
                id: Some(0),
                paused: false,
                managed: false,
                pins: BTreeMap::new(),
                cpu_time: 1234.5,
                seed_state: None,
            }],
            next_id: 1,
            host: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into()),
            nr_cpus: 4,
            total_memory_mb: 16384,
            state_dir,
        }
    }

    /// Adds a domain as xend described it (a corpus `.sexpr` file, read leniently as libvirt
    /// read it): running with its own id when
    /// that id is free, else the next one; managed when the daemon keeps managed domains. Several
    /// corpus files describe the same test domain: when the name or UUID is already known, the
    /// copy is named `NAME-VARIANT` and its UUID's last bytes are derived from `variant`.
    pub fn seed(&mut self, text: &str, variant: &str) -> Result<(), String> {
        // Two of libvirt's test files were edited by hand (a list left open, an extra `)`):
        // read seeds as libvirt read them.
        let mut s = Sexpr::parse_lenient(text).map_err(|e| e.to_string())?;
        if !s.is_named("domain") {
            return Err("not a (domain …) description".into());
        }
        let name = field(&s, "name").ok_or("no name")?.to_string();
        let uuid = field(&s, "uuid").ok_or("no uuid")?.to_string();
        if self.find_name(&name).is_some() || self.find_uuid(&uuid).is_some() {
            let mut bytes = *uuid::Uuid::parse_str(&uuid)
                .map_err(|e| format!("bad uuid {uuid}: {e}"))?
                .as_bytes();
            let h = variant.bytes().fold(0x811c_9dc5u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
            bytes[12..16].copy_from_slice(&h.to_be_bytes());
            let (new_name, new_uuid) = (
                format!("{name}-{variant}"),
                uuid::Uuid::from_bytes(bytes).to_string(),
            );
            if self.find_name(&new_name).is_some() || self.find_uuid(&new_uuid).is_some() {
                return Err(format!("domain '{new_name}' is already known"));
            }
            set_field(&mut s, "name", &new_name);
            set_field(&mut s, "uuid", &new_uuid);
        }
        let wanted = field(&s, "domid").and_then(|d| d.parse::<u32>().ok());
        let running = wanted.is_some();
        let paused = field(&s, "state").is_some_and(|st| st.contains('p'));
        let seed_state = field(&s, "state")
            .filter(|st| !st.contains('p'))
            .map(str::to_string);
        let cpu_time = field(&s, "cpu_time")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        let mut config = s;
        remove_fields(&mut config, RUNTIME_FIELDS);
        // xend 3.1 and later describe every domain with its autostart setting.
        if self.config_version >= 3 && field(&config, "on_xend_start").is_none() {
            set_field(&mut config, "on_xend_start", "ignore");
        }
        let id = match wanted {
            Some(w) if w > 0 && !self.domains.iter().any(|d| d.id == Some(w)) => {
                self.next_id = self.next_id.max(w + 1);
                Some(w)
            }
            _ if running => Some(self.take_id()),
            _ => None,
        };
        self.domains.push(Dom {
            config,
            id,
            paused,
            managed: self.config_version >= 3,
            pins: BTreeMap::new(),
            cpu_time,
            seed_state,
        });
        Ok(())
    }

    /// `count` running copies of the first seeded domain, named `NAME-N` (for benchmarks).
    pub fn populate(&mut self, count: usize) -> Result<(), String> {
        let template = self
            .domains
            .get(1)
            .ok_or("populating needs a seed domain to copy")?
            .clone();
        for i in 0..count {
            let mut d = template.clone();
            set_field(&mut d.config, "name", &format!("{}-{i}", template.name()));
            set_field(&mut d.config, "uuid", &uuid::Uuid::new_v4().to_string());
            d.id = Some(self.take_id());
            self.domains.push(d);
        }
        Ok(())
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn find_name(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.name() == name)
    }

    fn find_uuid(&self, uuid: &str) -> Option<usize> {
        let want = uuid::Uuid::parse_str(uuid).ok()?;
        self.domains
            .iter()
            .position(|d| uuid::Uuid::parse_str(d.uuid()).ok() == Some(want))
    }

    /// xend's `domain_lookup_nr`: by name, then by id, then by UUID.
    fn lookup(&self, key: &str) -> Option<usize> {
        self.find_name(key)
            .or_else(|| {
                let id: u32 = key.parse().ok()?;
                self.domains.iter().position(|d| d.id == Some(id))
            })
            .or_else(|| self.find_uuid(key))
    }

    // ---- persistence (--state) ----

    /// Loads the managed domains kept in the state directory; returns how many.
    pub fn load_state(&mut self) -> Result<usize, String> {
        let Some(dir) = self.state_dir.clone() else {
            return Ok(0);
        };
        let mut n = 0;
        let rd = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sexpr"))
            .collect();
        files.sort();
        for f in files {
            let text = virtkit_hostio::read_string_capped(&f, MAX_IMAGE)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            let s = Sexpr::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            if self.find_name(field(&s, "name").unwrap_or("")).is_some() {
                continue;
            }
            self.domains.push(Dom {
                config: s,
                id: None,
                paused: false,
                managed: true,
                pins: BTreeMap::new(),
                cpu_time: 0.0,
                seed_state: None,
            });
            n += 1;
        }
        Ok(n)
    }

    fn persist(&self, i: usize) {
        let (Some(dir), Some(d)) = (&self.state_dir, self.domains.get(i)) else {
            return;
        };
        if !d.managed {
            return;
        }
        let path = dir.join(format!("{}.sexpr", d.uuid()));
        if let Err(e) = virtkit_hostio::write_atomic(&path, d.config.to_string().as_bytes(), 0o600)
        {
            eprintln!("virtkit-xend-peer: cannot keep {}: {e}", path.display());
        }
    }

    fn forget(&self, uuid: &str) {
        if let Some(dir) = &self.state_dir {
            let path = dir.join(format!("{uuid}.sexpr"));
            let _ = std::fs::remove_file(path);
        }
    }

    // ---- requests ----

    /// Answers one request.
    pub fn handle(&mut self, method: &str, path: &str, args: &[(String, String)]) -> Reply {
        let path = path.trim_end_matches('/');
        match (method, path) {
            ("GET", "/xend/node") => Reply::ok(self.node().to_string()),
            ("GET", "/xend/domain") => {
                if get(args, "detail") == Some("1") {
                    let all: Vec<Sexpr> = self
                        .domains
                        .iter()
                        .filter(|d| d.id.is_some())
                        .map(Dom::sxpr)
                        .collect();
                    Reply::ok(Sexpr::List(all).to_string())
                } else {
                    let halted = get(args, "state") == Some("halted");
                    let names: Vec<Sexpr> = self
                        .domains
                        .iter()
                        .filter(|d| d.id.is_none() == halted)
                        .map(|d| Sexpr::atom(d.name()))
                        .collect();
                    Reply::ok(Sexpr::List(names).to_string())
                }
            }
            ("POST", "/xend/domain") => match get(args, "op") {
                None => Reply::status(406, "Invalid request"),
                Some("create") => self.create(get(args, "config"), false),
                Some("new") if self.config_version >= 3 => self.create(get(args, "config"), true),
                Some("restore") => self.restore(get(args, "file")),
                Some(op) => Reply::status(501, format!("Operation not implemented: {op}")),
            },
            (m, p) => {
                let Some(key) = p.strip_prefix("/xend/domain/") else {
                    return Reply::not_found();
                };
                let Some(i) = self.lookup(key) else {
                    return Reply::not_found();
                };
                match (m, get(args, "op")) {
                    ("GET", Some("vcpuinfo")) | ("POST", Some("vcpuinfo")) => self.vcpuinfo(i),
                    ("GET", _) => Reply::ok(self.domains[i].sxpr().to_string()),
                    ("POST", None) => Reply::status(406, "Invalid request"),
                    ("POST", Some(op)) => self.domain_op(i, op, args),
                    _ => Reply::status(400, "Bad request"),
                }
            }
        }
    }

    fn node(&self) -> Sexpr {
        let free = self.total_memory_mb.saturating_sub(
            self.domains
                .iter()
                .filter(|d| d.id.is_some())
                .map(|d| d.num("memory"))
                .sum(),
        );
        let mut items = vec![
            Sexpr::atom("node"),
            Sexpr::pair("host", self.host.clone()),
            Sexpr::pair("release", "2.6.18-xen"),
            Sexpr::pair("version", "#1 SMP"),
            Sexpr::pair("machine", "x86_64"),
            Sexpr::pair("nr_cpus", self.nr_cpus.to_string()),
            Sexpr::pair("nr_nodes", "1"),
            Sexpr::pair("sockets_per_node", "1"),
            Sexpr::pair("cores_per_socket", self.nr_cpus.to_string()),
            Sexpr::pair("threads_per_core", "1"),
            Sexpr::pair("cpu_mhz", "2400"),
            Sexpr::pair(
                "hw_caps",
                "bfebfbff:20100800:00000000:00000140:0000e3bd:00000000:00000001",
            ),
            Sexpr::pair("total_memory", self.total_memory_mb.to_string()),
            Sexpr::pair("free_memory", free.to_string()),
            Sexpr::pair("xen_major", "3"),
            Sexpr::pair(
                "xen_minor",
                if self.config_version >= 3 { "1" } else { "0" },
            ),
            Sexpr::pair("xen_extra", ".0"),
            Sexpr::pair(
                "xen_caps",
                "xen-3.0-x86_64 xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64",
            ),
            Sexpr::pair("platform_params", "virt_start=0xffff800000000000"),
            Sexpr::pair("xen_changeset", "unavailable"),
            Sexpr::pair("cc_compiler", "gcc version 4.1.2"),
        ];
        // The first xend did not say its config format.
        if self.config_version >= 2 {
            items.push(Sexpr::pair(
                "xend_config_format",
                self.config_version.to_string(),
            ));
        }
        Sexpr::List(items)
    }

    /// `op=create` (running, paused, forgotten when it stops) or `op=new` (managed, inactive).
    fn create(&mut self, config: Option<&str>, managed: bool) -> Reply {
        let Some(text) = config else {
            return Reply::err("Invalid configuration: no config");
        };
        let parsed = match Sexpr::parse(text) {
            Ok(s) => s,
            Err(e) => return Reply::err(format!("Invalid configuration {e}")),
        };
        if !parsed.is_named("vm") && !parsed.is_named("domain") {
            return Reply::err("Error creating domain: Invalid configuration: expected (vm …)");
        }
        let Some(name) = field(&parsed, "name").map(str::to_string) else {
            return Reply::err("Error creating domain: Missing domain name");
        };
        if field(&parsed, "memory")
            .and_then(|m| m.parse::<u64>().ok())
            .is_none()
        {
            return Reply::err("Error creating domain: Invalid memory size");
        }
        let mut config = parsed;
        if let Sexpr::List(items) = &mut config {
            items[0] = Sexpr::atom("domain");
        }
        remove_fields(&mut config, RUNTIME_FIELDS);
        let uuid = match field(&config, "uuid") {
            Some(u) => match uuid::Uuid::parse_str(u) {
                Ok(u) => u.hyphenated().to_string(),
                Err(_) => return Reply::err(format!("Error creating domain: Invalid uuid {u}")),
            },
            None => uuid::Uuid::new_v4().to_string(),
        };
        set_field(&mut config, "uuid", &uuid);
        if self.config_version >= 3 && field(&config, "on_xend_start").is_none() {
            set_field(&mut config, "on_xend_start", "ignore");
        }
        let by_name = self.find_name(&name);
        let by_uuid = self.find_uuid(&uuid);
        if managed {
            // op=new redefines a managed domain with the same name and UUID.
            match (by_name, by_uuid) {
                (Some(a), Some(b)) if a == b => {
                    self.domains[a].config = config;
                    self.domains[a].managed = true;
                    self.persist(a);
                    return Reply::ok("");
                }
                (Some(a), _) => {
                    return Reply::err(format!(
                        "Error creating domain: VM name '{name}' already exists with UUID {}",
                        self.domains[a].uuid()
                    ));
                }
                (None, Some(b)) => {
                    return Reply::err(format!(
                        "Error creating domain: VM with UUID {uuid} already exists as '{}'",
                        self.domains[b].name()
                    ));
                }
                (None, None) => {}
            }
            self.domains.push(Dom {
                config,
                id: None,
                paused: false,
                managed: true,
                pins: BTreeMap::new(),
                cpu_time: 0.0,
                seed_state: None,
            });
            self.persist(self.domains.len() - 1);
            return Reply::ok("");
        }
        if let Some(i) = by_name.or(by_uuid) {
            let d = &self.domains[i];
            return Reply::err(format!(
                "Error creating domain: Domain '{}' already exists with ID '{}'",
                d.name(),
                d.id.map_or("None".to_string(), |i| i.to_string())
            ));
        }
        let id = self.take_id();
        let dom = Dom {
            config,
            id: Some(id),
            paused: true,
            managed: false,
            pins: BTreeMap::new(),
            cpu_time: 0.0,
            seed_state: None,
        };
        let body = dom.sxpr().to_string();
        self.domains.push(dom);
        Reply::status(201, body)
    }

    fn restore(&mut self, file: Option<&str>) -> Reply {
        let Some(file) = file else {
            return Reply::err("Missing argument: file");
        };
        let text = match virtkit_hostio::read_string_capped(Path::new(file), MAX_IMAGE) {
            Ok(t) => t,
            Err(e) => return Reply::err(format!("Restore failed: {e}")),
        };
        let Some(body) = text.strip_prefix(SAVE_MAGIC) else {
            return Reply::err(format!("Restore failed: {file} is not a save image"));
        };
        let config = match Sexpr::parse(body) {
            Ok(s) => s,
            Err(e) => return Reply::err(format!("Restore failed: {e}")),
        };
        let name = field(&config, "name").unwrap_or("").to_string();
        let uuid = field(&config, "uuid").unwrap_or("").to_string();
        let existing = self.find_name(&name).or_else(|| self.find_uuid(&uuid));
        let id = self.take_id();
        match existing {
            // A managed domain that was saved comes back as itself.
            Some(i) if self.domains[i].id.is_none() => {
                self.domains[i].id = Some(id);
                self.domains[i].paused = false;
                Reply::status(201, self.domains[i].sxpr().to_string())
            }
            Some(_) => Reply::err(format!("Restore failed: Domain '{name}' already exists")),
            None => {
                let d = Dom {
                    config,
                    id: Some(id),
                    paused: false,
                    managed: false,
                    pins: BTreeMap::new(),
                    cpu_time: 0.0,
                    seed_state: None,
                };
                let body = d.sxpr().to_string();
                self.domains.push(d);
                Reply::status(201, body)
            }
        }
    }

    fn vcpuinfo(&self, i: usize) -> Reply {
        let d = &self.domains[i];
        if d.id.is_none() {
            return Reply::err(format!("Domain '{}' is not running", d.name()));
        }
        let all: Vec<u32> = (0..self.nr_cpus).collect();
        let list: Vec<Sexpr> = (0..d.vcpus())
            .map(|v| {
                let map = d.pins.get(&v).unwrap_or(&all);
                Sexpr::list([
                    Sexpr::atom("vcpu"),
                    Sexpr::pair("number", v.to_string()),
                    Sexpr::pair("online", "1"),
                    Sexpr::pair("blocked", if d.paused { "0" } else { "1" }),
                    Sexpr::pair("running", "0"),
                    Sexpr::pair(
                        "cpu_time",
                        format!("{:.6}", d.cpu_time / f64::from(d.vcpus())),
                    ),
                    Sexpr::pair("cpu", map.first().copied().unwrap_or(0).to_string()),
                    Sexpr::list([
                        Sexpr::atom("cpumap"),
                        Sexpr::list(map.iter().map(|c| Sexpr::atom(c.to_string()))),
                    ]),
                ])
            })
            .collect();
        Reply::ok(Sexpr::List(list).to_string())
    }

    /// Stops domain `i`: a managed domain stays, inactive; a transient one is gone.
    fn stop(&mut self, i: usize) {
        if self.domains[i].managed {
            let d = &mut self.domains[i];
            d.id = None;
            d.paused = false;
            d.pins.clear();
            d.seed_state = None;
        } else {
            self.domains.remove(i);
        }
    }

    fn domain_op(&mut self, i: usize, op: &str, args: &[(String, String)]) -> Reply {
        let running = self.domains[i].id.is_some();
        let name = self.domains[i].name().to_string();
        let not_running = || Reply::err(format!("Domain '{name}' is not running"));
        let accepted = Reply::status(202, "");
        let int_arg = |k: &str| -> Result<u64, Reply> {
            get(args, k)
                .ok_or_else(|| Reply::err(format!("Missing argument: {k}")))?
                .trim()
                .parse::<u64>()
                .map_err(|_| Reply::err(format!("Invalid argument: {k}")))
        };
        match op {
            "pause" | "unpause" => {
                if !running {
                    return not_running();
                }
                self.domains[i].paused = op == "pause";
                self.domains[i].seed_state = None;
                Reply::ok("")
            }
            "shutdown" => {
                if !running {
                    return not_running();
                }
                match get(args, "reason") {
                    Some("halt") | Some("poweroff") => self.stop(i),
                    Some("reboot") => {
                        let id = self.take_id();
                        self.domains[i].id = Some(id);
                        self.domains[i].paused = false;
                        self.domains[i].seed_state = None;
                    }
                    Some(r) => return Reply::err(format!("Invalid reason: {r}")),
                    None => return Reply::err("Missing argument: reason"),
                }
                accepted
            }
            "destroy" => {
                if !running {
                    return not_running();
                }
                self.stop(i);
                accepted
            }
            "start" => {
                if running {
                    return Reply::err("Domain is already running");
                }
                let id = self.take_id();
                self.domains[i].id = Some(id);
                self.domains[i].paused = get(args, "paused") == Some("1");
                accepted
            }
            "delete" => {
                if running {
                    return Reply::err("Domain is not halted.");
                }
                let uuid = self.domains[i].uuid().to_string();
                self.domains.remove(i);
                self.forget(&uuid);
                accepted
            }
            "save" => {
                if !running {
                    return not_running();
                }
                let Some(file) = get(args, "file") else {
                    return Reply::err("Missing argument: file");
                };
                let image = format!("{SAVE_MAGIC}{}", self.domains[i].config);
                if let Err(e) =
                    virtkit_hostio::write_atomic(Path::new(file), image.as_bytes(), 0o600)
                {
                    return Reply::err(format!("Save failed: {e}"));
                }
                self.stop(i);
                accepted
            }
            "dump" => {
                if !running {
                    return not_running();
                }
                let Some(file) = get(args, "file") else {
                    return Reply::err("Missing argument: file");
                };
                let core = format!("XENCORE\n{}\n", self.domains[i].sxpr());
                if let Err(e) =
                    virtkit_hostio::write_atomic(Path::new(file), core.as_bytes(), 0o600)
                {
                    return Reply::err(format!("Failed to dump core: {e}"));
                }
                if get(args, "crash") == Some("1") {
                    self.stop(i);
                }
                accepted
            }
            "mem_target_set" => {
                let target = match int_arg("target") {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                let max = self.domains[i]
                    .num("maxmem")
                    .max(self.domains[i].num("memory"));
                if target > max {
                    return Reply::err(format!(
                        "Target memory {target} MiB is above the domain's maximum {max} MiB"
                    ));
                }
                set_field(&mut self.domains[i].config, "memory", &target.to_string());
                self.persist(i);
                Reply::ok("")
            }
            "maxmem_set" => {
                let max = match int_arg("memory") {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                set_field(&mut self.domains[i].config, "maxmem", &max.to_string());
                if self.domains[i].num("memory") > max {
                    set_field(&mut self.domains[i].config, "memory", &max.to_string());
                }
                self.persist(i);
                Reply::ok("")
            }
            "set_vcpus" => {
                let n = match int_arg("vcpus") {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                if n == 0 || n > 32 {
                    return Reply::err(format!("Invalid number of vcpus: {n}"));
                }
                set_field(&mut self.domains[i].config, "vcpus", &n.to_string());
                self.persist(i);
                Reply::ok("")
            }
            "pincpu" => {
                if !running {
                    return not_running();
                }
                let vcpu = match int_arg("vcpu") {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                let Some(map) = get(args, "cpumap") else {
                    return Reply::err("Missing argument: cpumap");
                };
                let mut cpus = Vec::new();
                for c in map
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                {
                    match c.parse::<u32>() {
                        Ok(n) if n < self.nr_cpus => cpus.push(n),
                        _ => return Reply::err(format!("Invalid cpumap: {map}")),
                    }
                }
                if vcpu >= u64::from(self.domains[i].vcpus()) || cpus.is_empty() {
                    return Reply::err(format!("Invalid vcpu {vcpu} or cpumap {map}"));
                }
                self.domains[i].pins.insert(vcpu as u32, cpus);
                Reply::ok("")
            }
            "device_create" => {
                let Some(text) = get(args, "config") else {
                    return Reply::err("Missing argument: config");
                };
                let dev = match Sexpr::parse(text) {
                    Ok(d) => d,
                    Err(e) => return Reply::err(format!("Invalid device configuration {e}")),
                };
                let Some(class) = dev.name().map(str::to_string) else {
                    return Reply::err("Invalid device configuration: no device class");
                };
                if !matches!(
                    class.as_str(),
                    "vbd" | "tap" | "vif" | "vfb" | "vkbd" | "pci"
                ) {
                    return Reply::err(format!("Unknown device class {class}"));
                }
                if let Sexpr::List(items) = &mut self.domains[i].config {
                    items.push(Sexpr::list([Sexpr::atom("device"), dev]));
                }
                self.persist(i);
                Reply::ok("")
            }
            "device_destroy" => {
                let (Some(class), Some(dev)) = (get(args, "type"), get(args, "dev")) else {
                    return Reply::err("Missing argument: type or dev");
                };
                let matches = |d: &Sexpr| -> bool {
                    let Some(inner) = d.rest().first() else {
                        return false;
                    };
                    inner.is_named(class)
                        && (field(inner, "dev").is_some_and(|v| v.split(':').next() == Some(dev))
                            || field(inner, "mac").is_some_and(|m| m.eq_ignore_ascii_case(dev)))
                };
                let Sexpr::List(items) = &mut self.domains[i].config else {
                    return Reply::err("Broken domain configuration");
                };
                let Some(pos) = items
                    .iter()
                    .position(|d| d.is_named("device") && matches(d))
                else {
                    return Reply::err(format!("Device {dev} not connected"));
                };
                items.remove(pos);
                self.persist(i);
                Reply::ok("")
            }
            "wait_for_devices" => {
                if !running {
                    return not_running();
                }
                accepted
            }
            other => Reply::status(501, format!("Operation not implemented: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn get(x: &mut Xend, path: &str, q: &[(&str, &str)]) -> Reply {
        x.handle("GET", path, &args(q))
    }

    fn post(x: &mut Xend, path: &str, q: &[(&str, &str)]) -> Reply {
        x.handle("POST", path, &args(q))
    }

    const VM: &str = "(vm (name g) (memory 64) (uuid 11111111-2222-3333-4444-555555555555) (image (linux (kernel /k))))";

    #[test]
    fn xends_semantics() {
        let mut x = Xend::new(3, None);
        // op=new keeps an inactive managed domain.
        let r = post(&mut x, "/xend/domain/", &[("op", "new"), ("config", VM)]);
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert_eq!(
            get(&mut x, "/xend/domain", &[("state", "halted")]).body,
            "(g)"
        );
        let d = get(&mut x, "/xend/domain/g", &[("detail", "1")]).body;
        assert!(d.contains("(state ------)") && !d.contains("domid"), "{d}");
        // Starting assigns the next id; a second start is xend's error.
        assert_eq!(
            post(&mut x, "/xend/domain/g", &[("op", "start")]).status,
            202
        );
        let d = get(&mut x, "/xend/domain/1", &[]).body;
        assert!(d.contains("(domid 1)") && d.contains("(name g)"), "{d}");
        let r = post(&mut x, "/xend/domain/g", &[("op", "start")]);
        assert_eq!(r.body, "(xend.err 'Domain is already running')");
        // Reboot gives a new id; destroy keeps the managed domain, inactive.
        post(
            &mut x,
            "/xend/domain/g",
            &[("op", "shutdown"), ("reason", "reboot")],
        );
        assert!(
            get(&mut x, "/xend/domain/g", &[])
                .body
                .contains("(domid 2)")
        );
        post(&mut x, "/xend/domain/g", &[("op", "destroy")]);
        assert!(
            get(&mut x, "/xend/domain/g", &[])
                .body
                .contains("(state ------)")
        );
        // op=create: running, paused, a new id; it already exists by name.
        let r = post(&mut x, "/xend/domain/", &[("op", "create"), ("config", VM)]);
        assert!(r.body.starts_with("(xend.err"), "{}", r.body);
        let t = VM
            .replace("(name g)", "(name t)")
            .replace("11111111", "21111111");
        let r = post(&mut x, "/xend/domain/", &[("op", "create"), ("config", &t)]);
        assert_eq!(r.status, 201);
        assert!(
            r.body.contains("(domid 3)") && r.body.contains("(state --p---)"),
            "{}",
            r.body
        );
        // A transient domain that stops is gone.
        post(&mut x, "/xend/domain/t", &[("op", "destroy")]);
        assert_eq!(get(&mut x, "/xend/domain/t", &[]).status, 404);
        // Unknown and missing operations.
        assert_eq!(post(&mut x, "/xend/domain/g", &[("op", "fly")]).status, 501);
        assert_eq!(post(&mut x, "/xend/domain/g", &[]).status, 406);
        assert_eq!(post(&mut x, "/xend/domain/", &[("op", "fly")]).status, 501);
        // Delete only when halted.
        assert_eq!(
            post(&mut x, "/xend/domain/g", &[("op", "delete")]).status,
            202
        );
        assert_eq!(get(&mut x, "/xend/domain/g", &[]).status, 404);
    }

    #[test]
    fn old_config_versions() {
        let mut x = Xend::new(2, None);
        assert_eq!(
            post(&mut x, "/xend/domain/", &[("op", "new"), ("config", VM)]).status,
            501
        );
        let node = get(&mut x, "/xend/node/", &[]).body;
        assert!(node.contains("(xend_config_format 2)"), "{node}");
        let x1 = Xend::new(1, None).node().to_string();
        assert!(!x1.contains("xend_config_format"), "{x1}");
    }

    #[test]
    fn seeds_and_bad_configs() {
        let mut x = Xend::new(3, None);
        x.seed("(domain (domid 5) (name a) (uuid 11111111-2222-3333-4444-555555555555) (memory 64) (state -b----))", "one")
            .unwrap();
        x.seed(
            "(domain (domid 5) (name a) (uuid 11111111-2222-3333-4444-555555555555) (memory 64))",
            "two",
        )
        .unwrap();
        let d = get(&mut x, "/xend/domain/a-two", &[]).body;
        assert!(
            d.contains("(domid 6)") && !d.contains("11111111-2222-3333-4444-555555555555"),
            "{d}"
        );
        assert!(x.seed("(vm (name b))", "x").is_err());
        assert!(x.seed("(domain (name b)) junk", "x").is_err());
        for bad in ["(vm (name", "(vm (memory 64))", "(vm (name z))", "(other)"] {
            let r = post(
                &mut x,
                "/xend/domain/",
                &[("op", "create"), ("config", bad)],
            );
            assert!(r.body.starts_with("(xend.err"), "{bad}: {}", r.body);
        }
    }
}
