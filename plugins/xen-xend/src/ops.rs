//! The operations: each one request (or two) to xend, answered from its S-expressions.

use virtkit_driver::{
    DomainIdent, DomainInfo, DomainRef, DomainState, Error, ErrorCode, NodeInfo, Ops, Result, Uuid,
    VcpuInfo,
};
use virtkit_xen::Sexpr;

use crate::conv;
use crate::domain::{DomainFacts, facts, vcpus};
use crate::http::{Client, Endpoint, HttpError, Response, path_encode};
use crate::uri::{self, Target};

/// Xen 3's limit on vCPUs per guest (`MAX_VIRT_CPUS`).
const MAX_VIRT_CPUS: i32 = 32;
/// libvirt's `VIR_DUMP_CRASH` and `VIR_DUMP_LIVE`.
const DUMP_CRASH: u32 = 1;
const DUMP_LIVE: u32 = 2;
/// The longest domain name looked up in xend (its request line holds it percent-encoded).
const MAX_NAME: usize = 4096;
/// The native format this member converts.
pub const NATIVE_FORMAT: &str = "xen-sxpr";

/// One connection: the daemon's address and what it said when the connection opened.
pub struct XendConn {
    /// `None` for an offline (conversions only) connection.
    client: Option<Client>,
    read_only: bool,
    /// xend's `xend_config_format`: 1 and 2 keep no inactive domains; 3 does (`op=new`).
    config_version: u32,
    /// Xen's version in libvirt's encoding.
    version: u64,
}

impl XendConn {
    /// Opens a connection for `uri`; `Ok(None)` when the URI is not one for xend.
    pub fn open(uri: &str, read_only: bool) -> Result<Option<XendConn>> {
        let Some(target) = uri::parse(uri)? else {
            return Ok(None);
        };
        let endpoint = match target {
            Target::Offline { config_version } => {
                return Ok(Some(XendConn {
                    client: None,
                    read_only,
                    config_version,
                    version: 0,
                }));
            }
            Target::Daemon(e) => e,
        };
        if let Endpoint::Tcp { .. } = &endpoint {
            eprintln!(
                "virtkit: warning: the connection to xend at {endpoint} is neither encrypted nor authenticated"
            );
        }
        let client = Client::new(endpoint);
        let mut conn = XendConn {
            client: Some(client),
            read_only,
            config_version: 1,
            version: 0,
        };
        let node = conn.node().map_err(|e| {
            if e.code == ErrorCode::NoConnect {
                e
            } else {
                Error::new(ErrorCode::NoConnect, e.message)
            }
        })?;
        // libvirt: a daemon that does not say its config format speaks the first one.
        conn.config_version = match node
            .node_u64("node/xend_config_format")
            .map_err(|e| get_failed(format!("bad node description: {e}")))?
        {
            None => 1,
            Some(v) => u32::try_from(v).map_err(|_| get_failed("bad xend_config_format"))?,
        };
        conn.version = xen_version(&node);
        Ok(Some(conn))
    }

    fn client(&self) -> Result<&Client> {
        self.client.as_ref().ok_or_else(|| {
            Error::no_support(
                "the xend member is open for conversions only (offline=1); no daemon is contacted",
            )
        })
    }

    fn get(&self, path: &str) -> Result<Response> {
        self.client()?.get(path).map_err(|e| transport(e, "GET"))
    }

    /// `GET path`, the reply parsed; 404 is `not_found`.
    fn get_sexpr(&self, path: &str, not_found: impl FnOnce() -> Error) -> Result<Sexpr> {
        let r = self.get(path)?;
        match r.status {
            200..=299 => parse_reply(&r.body, "GET", path),
            404 => Err(not_found()),
            _ => Err(get_failed(format!(
                "xend_get: error from xen daemon: HTTP {}: {}",
                r.status,
                body_text(&r.body)
            ))),
        }
    }

    /// `POST path` with form fields. Refused on a read-only connection before anything is sent.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Result<Option<Sexpr>> {
        if self.read_only {
            return Err(Error::new(
                ErrorCode::OperationDenied,
                "operation forbidden: read only access prevents changes through xend",
            ));
        }
        let r = self
            .client()?
            .post(path, fields)
            .map_err(|e| transport(e, "POST"))?;
        let text = String::from_utf8_lossy(&r.body);
        match r.status {
            404 => Err(Error::no_domain(format!("xend has no {path}"))),
            200..=202 if !text.contains("xend.err") => {
                if text.trim().is_empty() {
                    Ok(None)
                } else {
                    // Some answers are S-expressions (create, restore), others plain text.
                    Ok(Sexpr::parse(&text).ok())
                }
            }
            200..=202 => Err(xend_err(&r.body)),
            _ => Err(post_failed(format!(
                "xend_post: error from xen daemon: HTTP {}: {}",
                r.status,
                body_text(&r.body)
            ))),
        }
    }

    fn node(&self) -> Result<Sexpr> {
        let n = self.get_sexpr("/xend/node/", || get_failed("xend has no /xend/node/"))?;
        if !n.is_named("node") {
            return Err(get_failed("the reply to /xend/node/ is not (node …)"));
        }
        Ok(n)
    }

    /// A domain's S-expression by name, id or UUID (xend looks all three up).
    fn domain_sexpr(&self, key: &str) -> Result<Sexpr> {
        // xend's HTTP server takes no request line this long: no such domain can exist.
        if key.len() > MAX_NAME {
            return Err(Error::no_domain(format!(
                "no domain with a {}-byte name in xend",
                key.len()
            )));
        }
        let path = format!("/xend/domain/{}?detail=1", path_encode(key));
        self.get_sexpr(&path, || {
            Error::no_domain(format!("no domain '{key}' in xend"))
        })
    }

    fn domain(&self, d: &DomainRef<'_>) -> Result<(Sexpr, DomainFacts)> {
        let s = self.domain_sexpr(d.name)?;
        let f = facts(&s)?;
        if f.uuid != d.uuid {
            return Err(Error::no_domain(format!(
                "no domain '{}' with UUID {} in xend",
                d.name, d.uuid
            )));
        }
        Ok((s, f))
    }

    fn domain_facts(&self, d: &DomainRef<'_>) -> Result<DomainFacts> {
        self.domain(d).map(|(_, f)| f)
    }

    fn active(&self, d: &DomainRef<'_>) -> Result<DomainFacts> {
        let f = self.domain_facts(d)?;
        if !f.active() {
            return Err(Error::operation_invalid(format!(
                "domain '{}' is not running",
                d.name
            )));
        }
        Ok(f)
    }

    fn domain_op(&self, d: &DomainRef<'_>, fields: &[(&str, &str)]) -> Result<Option<Sexpr>> {
        self.post(&format!("/xend/domain/{}", path_encode(d.name)), fields)
    }

    fn running_domains(&self) -> Result<Vec<DomainFacts>> {
        let list = self.get_sexpr("/xend/domain?detail=1", || {
            get_failed("xend has no /xend/domain")
        })?;
        let items = list
            .as_list()
            .ok_or_else(|| get_failed("the domain list is not a list"))?;
        // `(domain …)` alone is one domain, not a list of them.
        if list.is_named("domain") {
            return Ok(vec![facts(&list)?]);
        }
        items.iter().map(facts).collect()
    }

    fn halted_names(&self) -> Result<Vec<String>> {
        if self.config_version < 3 {
            return Ok(Vec::new());
        }
        let list = self.get_sexpr("/xend/domain?state=halted", || {
            get_failed("xend has no /xend/domain")
        })?;
        let items = list
            .as_list()
            .ok_or_else(|| get_failed("the list of halted domains is not a list"))?;
        items
            .iter()
            .map(|i| {
                i.as_atom()
                    .map(str::to_string)
                    .ok_or_else(|| get_failed("the list of halted domains holds a list"))
            })
            .collect()
    }

    fn needs_managed(&self, what: &str) -> Result<()> {
        if self.config_version < 3 {
            return Err(Error::no_support(format!(
                "{what}: xend config version {} keeps no inactive domains (3 or later does)",
                self.config_version
            )));
        }
        Ok(())
    }

    fn ident(f: &DomainFacts) -> DomainIdent {
        DomainIdent {
            id: f.id,
            uuid: f.uuid,
            name: f.name.clone(),
        }
    }
}

/// xend's words for "the domain is in the wrong state" (its `VMBadState` and restore errors).
const WRONG_STATE: &[&str] = &[
    "already exists",
    "already running",
    "is not running",
    "not halted",
    "still running",
];

/// A `(xend.err '…')` reply: a state error when xend says the domain is in the wrong state,
/// else libvirt's POST failure with xend's text.
fn xend_err(body: &[u8]) -> Error {
    let text = body_text(body);
    let said = Sexpr::parse(&text)
        .ok()
        .and_then(|s| {
            s.rest()
                .first()
                .and_then(Sexpr::as_atom)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.clone());
    if WRONG_STATE.iter().any(|w| said.contains(w)) {
        return Error::operation_invalid(format!("xend: {said}"));
    }
    post_failed(format!("xend_post: error from xen daemon: {text}"))
}

fn get_failed(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::GetFailed, format!("GET operation failed: {msg}"))
}

fn post_failed(msg: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::PostFailed,
        format!("POST operation failed: {msg}"),
    )
}

fn transport(e: HttpError, method: &str) -> Error {
    match e {
        HttpError::Connect { .. } => Error::new(ErrorCode::NoConnect, e.to_string()),
        HttpError::Timeout(_) => {
            Error::new(ErrorCode::OperationFailed, format!("operation failed: {e}"))
        }
        _ if method == "GET" => get_failed(e),
        _ => post_failed(e),
    }
}

fn body_text(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b);
    let t = t.trim();
    let mut out: String = t.chars().take(300).collect();
    if out.len() < t.len() {
        out.push('…');
    }
    out
}

fn parse_reply(body: &[u8], method: &str, path: &str) -> Result<Sexpr> {
    Sexpr::parse_bytes(body).map_err(|e| {
        let msg = format!("xend's reply to {path} is not an S-expression: {e}");
        if method == "GET" {
            get_failed(msg)
        } else {
            post_failed(msg)
        }
    })
}

/// Xen's version from `xen_major`, `xen_minor` and the digits that start `xen_extra` (`.4-1`).
fn xen_version(node: &Sexpr) -> u64 {
    let n = |k: &str| node.node_u64(k).ok().flatten().unwrap_or(0);
    let extra: u64 = node
        .node("node/xen_extra")
        .unwrap_or("")
        .trim_start_matches('.')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    n("node/xen_major") * 1_000_000 + n("node/xen_minor").min(999) * 1_000 + extra.min(999)
}

fn mib(kib: u64) -> String {
    (kib / 1024).to_string()
}

// ---- the operations ----

fn get_type(_: &XendConn) -> Result<String> {
    Ok("Xen".into())
}

fn get_version(c: &XendConn) -> Result<u64> {
    c.client()?;
    Ok(c.version)
}

fn get_hostname(c: &XendConn) -> Result<String> {
    c.node()?
        .node("node/host")
        .map(str::to_string)
        .ok_or_else(|| get_failed("the node description has no host"))
}

fn get_capabilities(c: &XendConn) -> Result<String> {
    conv::capabilities(&c.node()?)
}

fn node_get_info(c: &XendConn) -> Result<NodeInfo> {
    let node = c.node()?;
    let n = |k: &str| -> Result<u32> {
        let v = node
            .node_u64(&format!("node/{k}"))
            .map_err(|e| get_failed(format!("bad node description: {e}")))?
            .unwrap_or(0);
        u32::try_from(v).map_err(|_| get_failed(format!("node/{k} is out of range")))
    };
    let memory_mb = node
        .node_u64("node/total_memory")
        .map_err(|e| get_failed(format!("bad node description: {e}")))?
        .unwrap_or(0);
    let cpus = n("nr_cpus")?;
    let nodes = n("nr_nodes")?.max(1);
    let threads = n("threads_per_core")?.max(1);
    let cores = n("cores_per_socket")?.max(1);
    // xend 3.0 has no sockets_per_node: derive it as libvirt did.
    let sockets = match n("sockets_per_node")? {
        0 => (cpus / (nodes * cores * threads)).max(1),
        s => s,
    };
    Ok(NodeInfo {
        model: node.node("node/machine").unwrap_or("").to_string(),
        memory_kib: memory_mb.saturating_mul(1024),
        cpus,
        mhz: n("cpu_mhz")?,
        nodes,
        sockets,
        cores,
        threads,
    })
}

fn get_max_vcpus(c: &XendConn, kind: &str) -> Result<i32> {
    c.client()?;
    match kind {
        "" | "xen" | "Xen" => Ok(MAX_VIRT_CPUS),
        other => Err(Error::invalid_arg(format!(
            "unknown domain type '{other}' (xend serves 'xen')"
        ))),
    }
}

fn list_domains(c: &XendConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    for d in c.running_domains()? {
        if d.active() {
            out(d.id);
        }
    }
    Ok(())
}

fn num_of_domains(c: &XendConn) -> Result<i32> {
    let n = c.running_domains()?.iter().filter(|d| d.active()).count();
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

fn list_defined_domains(c: &XendConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    for n in c.halted_names()? {
        out(&n);
    }
    Ok(())
}

fn num_of_defined_domains(c: &XendConn) -> Result<i32> {
    Ok(i32::try_from(c.halted_names()?.len()).unwrap_or(i32::MAX))
}

fn lookup_by_id(c: &XendConn, id: i32, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let f = facts(&c.domain_sexpr(&id.to_string())?)?;
    // xend looks names up first: a domain named "5" is not domain 5.
    if f.id != id {
        return Err(Error::no_domain(format!("no domain with id {id}")));
    }
    out(DomainRef {
        id: f.id,
        uuid: f.uuid,
        name: &f.name,
    });
    Ok(())
}

fn lookup_by_uuid(c: &XendConn, uuid: &Uuid, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let text = uuid.hyphenated().to_string();
    let f = facts(&c.domain_sexpr(&text)?)?;
    if f.uuid != *uuid {
        return Err(Error::no_domain(format!("no domain with UUID {text}")));
    }
    out(DomainRef {
        id: f.id,
        uuid: f.uuid,
        name: &f.name,
    });
    Ok(())
}

fn lookup_by_name(c: &XendConn, name: &str, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let f = facts(&c.domain_sexpr(name)?)?;
    if f.name != name {
        return Err(Error::no_domain(format!("no domain named '{name}'")));
    }
    out(DomainRef {
        id: f.id,
        uuid: f.uuid,
        name: &f.name,
    });
    Ok(())
}

fn by_name(c: &XendConn, name: &str) -> Result<DomainFacts> {
    facts(&c.domain_sexpr(name)?)
}

/// A definition's name and S-expression, with libvirt's define-time default: an HVM guest that
/// names no firmware gets the one the host's capabilities give for its architecture.
fn definition(c: &XendConn, xml: &str) -> Result<(String, String)> {
    let mut def = conv::parse_domain(xml)?;
    if def.os.os_type == "hvm" && def.os.loader.is_none() {
        def.os.loader = conv::default_loader(&c.node()?, def.os.arch.as_deref());
    }
    let sexpr = conv::def_to_sexpr(&def, c.config_version)?;
    Ok((def.name, sexpr))
}

fn create_xml(c: &XendConn, xml: &str, _flags: u32) -> Result<DomainIdent> {
    c.client()?;
    let (name, sexpr) = definition(c, xml)?;
    if let Ok(existing) = by_name(c, &name) {
        return Err(Error::dom_exist(format!(
            "domain '{}' already exists with uuid {}",
            existing.name, existing.uuid
        )));
    }
    c.post("/xend/domain/", &[("op", "create"), ("config", &sexpr)])?;
    // xend creates the domain paused, as `xm create` expects; libvirt waited for its devices
    // and unpaused it.
    let f = by_name(c, &name)?;
    let ident = XendConn::ident(&f);
    let d = DomainRef::from(&ident);
    c.domain_op(&d, &[("op", "wait_for_devices")])?;
    c.domain_op(&d, &[("op", "unpause")])?;
    let f = by_name(c, &name)?;
    Ok(XendConn::ident(&f))
}

fn define_xml(c: &XendConn, xml: &str) -> Result<DomainIdent> {
    c.client()?;
    c.needs_managed("virDomainDefineXML")?;
    let (name, sexpr) = definition(c, xml)?;
    c.post("/xend/domain/", &[("op", "new"), ("config", &sexpr)])?;
    Ok(XendConn::ident(&by_name(c, &name)?))
}

fn undefine(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    c.needs_managed("virDomainUndefine")?;
    let f = c.domain_facts(d)?;
    if f.active() {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is running; xend deletes only halted domains",
            d.name
        )));
    }
    c.domain_op(d, &[("op", "delete")]).map(drop)
}

fn start(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    c.needs_managed("virDomainCreate")?;
    if c.domain_facts(d)?.active() {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already running",
            d.name
        )));
    }
    c.domain_op(d, &[("op", "start")]).map(drop)
}

fn shutdown(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    c.active(d)?;
    c.domain_op(d, &[("op", "shutdown"), ("reason", "halt")])
        .map(drop)
}

fn reboot(c: &XendConn, d: &DomainRef<'_>, _flags: u32) -> Result<()> {
    c.active(d)?;
    c.domain_op(d, &[("op", "shutdown"), ("reason", "reboot")])
        .map(drop)
}

fn destroy(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    c.active(d)?;
    c.domain_op(d, &[("op", "destroy")]).map(drop)
}

fn suspend(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    let f = c.active(d)?;
    if f.state == DomainState::Paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already paused",
            d.name
        )));
    }
    c.domain_op(d, &[("op", "pause")]).map(drop)
}

fn resume(c: &XendConn, d: &DomainRef<'_>) -> Result<()> {
    let f = c.active(d)?;
    if f.state != DomainState::Paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not paused",
            d.name
        )));
    }
    c.domain_op(d, &[("op", "unpause")]).map(drop)
}

fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') {
        return Err(Error::invalid_arg(format!(
            "'{path}' is not an absolute path (xend resolves paths on its own host)"
        )));
    }
    if path.contains('\0') {
        return Err(Error::invalid_arg("the path contains a NUL byte"));
    }
    Ok(())
}

fn save(c: &XendConn, d: &DomainRef<'_>, path: &str) -> Result<()> {
    check_path(path)?;
    c.active(d)?;
    c.domain_op(d, &[("op", "save"), ("file", path)]).map(drop)
}

fn restore(c: &XendConn, path: &str) -> Result<()> {
    check_path(path)?;
    c.post("/xend/domain/", &[("op", "restore"), ("file", path)])
        .map(drop)
}

fn core_dump(c: &XendConn, d: &DomainRef<'_>, path: &str, flags: u32) -> Result<()> {
    check_path(path)?;
    if flags & !(DUMP_CRASH | DUMP_LIVE) != 0 {
        return Err(Error::invalid_arg(format!("unsupported flags {flags:#x}")));
    }
    c.active(d)?;
    let live = if flags & DUMP_LIVE != 0 { "1" } else { "0" };
    let crash = if flags & DUMP_CRASH != 0 { "1" } else { "0" };
    c.domain_op(
        d,
        &[
            ("op", "dump"),
            ("file", path),
            ("live", live),
            ("crash", crash),
        ],
    )
    .map(drop)
}

fn get_info(c: &XendConn, d: &DomainRef<'_>) -> Result<DomainInfo> {
    Ok(c.domain_facts(d)?.info())
}

fn get_xml_desc(c: &XendConn, d: &DomainRef<'_>, _flags: u32) -> Result<String> {
    let (s, _) = c.domain(d)?;
    conv::sexpr_to_xml(&s, c.config_version)
}

fn get_os_type(c: &XendConn, d: &DomainRef<'_>) -> Result<String> {
    Ok(c.domain_facts(d)?.os_type.to_string())
}

fn get_max_memory(c: &XendConn, d: &DomainRef<'_>) -> Result<u64> {
    Ok(c.domain_facts(d)?.max_memory_kib)
}

fn set_max_memory(c: &XendConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib < 1024 {
        return Err(Error::invalid_arg(
            "xend counts memory in MiB: at least 1024 KiB",
        ));
    }
    c.domain_facts(d)?;
    c.domain_op(d, &[("op", "maxmem_set"), ("memory", &mib(kib))])
        .map(drop)
}

fn set_memory(c: &XendConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib < 1024 {
        return Err(Error::invalid_arg(
            "xend counts memory in MiB: at least 1024 KiB",
        ));
    }
    let f = c.domain_facts(d)?;
    if kib > f.max_memory_kib {
        return Err(Error::invalid_arg(format!(
            "{kib} KiB is more than the domain's maximum, {} KiB",
            f.max_memory_kib
        )));
    }
    c.domain_op(d, &[("op", "mem_target_set"), ("target", &mib(kib))])
        .map(drop)
}

fn set_vcpus(c: &XendConn, d: &DomainRef<'_>, n: u32) -> Result<()> {
    if n == 0 || n > MAX_VIRT_CPUS as u32 {
        return Err(Error::invalid_arg(format!(
            "{n} vCPUs: Xen allows 1 to {MAX_VIRT_CPUS}"
        )));
    }
    c.domain_facts(d)?;
    c.domain_op(d, &[("op", "set_vcpus"), ("vcpus", &n.to_string())])
        .map(drop)
}

fn pin_vcpu(c: &XendConn, d: &DomainRef<'_>, vcpu: u32, map: &[u8]) -> Result<()> {
    let f = c.active(d)?;
    if vcpu >= f.vcpus {
        return Err(Error::invalid_arg(format!(
            "vCPU {vcpu} does not exist (the domain has {})",
            f.vcpus
        )));
    }
    let cpus: Vec<String> = map
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            (0..8)
                .filter(move |bit| b & (1 << bit) != 0)
                .map(move |bit| i * 8 + bit)
        })
        .map(|n| n.to_string())
        .collect();
    if cpus.is_empty() {
        return Err(Error::invalid_arg("the CPU map is empty"));
    }
    let cpumap = format!("[{}]", cpus.join(","));
    c.domain_op(
        d,
        &[
            ("op", "pincpu"),
            ("vcpu", &vcpu.to_string()),
            ("cpumap", &cpumap),
        ],
    )
    .map(drop)
}

fn get_vcpus(c: &XendConn, d: &DomainRef<'_>) -> Result<Vec<VcpuInfo>> {
    c.active(d)?;
    let host = node_get_info(c)?.cpus;
    let path = format!("/xend/domain/{}?op=vcpuinfo", path_encode(d.name));
    let s = c.get_sexpr(&path, || {
        Error::no_domain(format!("no domain '{}' in xend", d.name))
    })?;
    vcpus(&s, host)
}

fn get_autostart(c: &XendConn, d: &DomainRef<'_>) -> Result<bool> {
    let (s, _) = c.domain(d)?;
    Ok(s.node("domain/on_xend_start") == Some("start"))
}

fn set_autostart(c: &XendConn, d: &DomainRef<'_>, on: bool) -> Result<()> {
    c.needs_managed("virDomainSetAutostart")?;
    let (mut s, _) = c.domain(d)?;
    let value = if on { "start" } else { "ignore" };
    // libvirt: change on_xend_start in the domain's own description and give it back with
    // op=new, which updates a managed domain's configuration.
    let Sexpr::List(items) = &mut s else {
        return Err(get_failed("the domain description is not a list"));
    };
    let Some(field) = items.iter_mut().find(|i| i.is_named("on_xend_start")) else {
        return Err(Error::operation_failed(format!(
            "xend's description of '{}' has no on_xend_start: this xend has no autostart",
            d.name
        )));
    };
    *field = Sexpr::pair("on_xend_start", value);
    let text = s.to_string();
    c.post("/xend/domain/", &[("op", "new"), ("config", &text)])
        .map(drop)
}

fn attach_device(c: &XendConn, d: &DomainRef<'_>, xml: &str) -> Result<()> {
    let f = c.domain_facts(d)?;
    if !f.active() {
        c.needs_managed("virDomainAttachDevice on a domain that is not running")?;
    }
    let dev = conv::device_to_sexpr(xml, f.os_type == "hvm", c.config_version)?;
    c.domain_op(d, &[("op", "device_create"), ("config", &dev)])
        .map(drop)
}

fn detach_device(c: &XendConn, d: &DomainRef<'_>, xml: &str) -> Result<()> {
    let f = c.domain_facts(d)?;
    if !f.active() {
        c.needs_managed("virDomainDetachDevice on a domain that is not running")?;
    }
    let (class, id) = conv::device_id(xml)?;
    c.domain_op(
        d,
        &[("op", "device_destroy"), ("type", class), ("dev", &id)],
    )
    .map(drop)
}

fn get_state(c: &XendConn, d: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    Ok((c.domain_facts(d)?.state, 0))
}

fn xml_from_native(c: &XendConn, format: &str, config: &str, _flags: u32) -> Result<String> {
    native(format)?;
    conv::native_to_xml(config, c.config_version)
}

fn xml_to_native(c: &XendConn, format: &str, xml: &str, _flags: u32) -> Result<String> {
    native(format)?;
    conv::xml_to_sexpr(xml, c.config_version).map(|(_, s)| s)
}

fn native(format: &str) -> Result<()> {
    if format != NATIVE_FORMAT {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: native format '{format}' (the xend member converts '{NATIVE_FORMAT}')"
            ),
        ));
    }
    Ok(())
}

/// The operation table.
pub const OPS: Ops<XendConn> = Ops {
    get_type: Some(get_type),
    get_version: Some(get_version),
    get_hostname: Some(get_hostname),
    get_capabilities: Some(get_capabilities),
    node_get_info: Some(node_get_info),
    get_max_vcpus: Some(get_max_vcpus),
    list_domains: Some(list_domains),
    num_of_domains: Some(num_of_domains),
    list_defined_domains: Some(list_defined_domains),
    num_of_defined_domains: Some(num_of_defined_domains),
    domain_lookup_by_id: Some(lookup_by_id),
    domain_lookup_by_uuid: Some(lookup_by_uuid),
    domain_lookup_by_name: Some(lookup_by_name),
    domain_create_xml: Some(create_xml),
    domain_define_xml: Some(define_xml),
    domain_undefine: Some(undefine),
    domain_create: Some(start),
    domain_shutdown: Some(shutdown),
    domain_reboot: Some(reboot),
    domain_destroy: Some(destroy),
    domain_suspend: Some(suspend),
    domain_resume: Some(resume),
    domain_save: Some(save),
    domain_restore: Some(restore),
    domain_core_dump: Some(core_dump),
    domain_get_info: Some(get_info),
    domain_get_xml_desc: Some(get_xml_desc),
    domain_get_os_type: Some(get_os_type),
    domain_get_max_memory: Some(get_max_memory),
    domain_set_max_memory: Some(set_max_memory),
    domain_set_memory: Some(set_memory),
    domain_set_vcpus: Some(set_vcpus),
    domain_pin_vcpu: Some(pin_vcpu),
    domain_get_vcpus: Some(get_vcpus),
    domain_get_autostart: Some(get_autostart),
    domain_set_autostart: Some(set_autostart),
    domain_attach_device: Some(attach_device),
    domain_detach_device: Some(detach_device),
    domain_get_state: Some(get_state),
    domain_xml_from_native: Some(xml_from_native),
    domain_xml_to_native: Some(xml_to_native),
    ..Ops::NONE
};
