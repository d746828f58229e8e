//! Connections: opening a URI through the driver stack that serves it, and dispatching calls.

use std::sync::{Arc, OnceLock};

use virtkit_abi::{Op, OpKind, VK_OPEN_READ_ONLY, VkErrorCode};
use virtkit_loader::{
    CallResult, DomainIdent, Driver, DriverConn, NetworkIdent, Opened, Registry, plugin_file_name,
    stack_order,
};

use crate::domain::{Domain, NodeInfo};
use crate::error::{Error, ErrorCode, Result};
use crate::network::Network;
use crate::uri::parse_uri;

/// A connection to one node through the driver (or stack of drivers) serving its URI.
///
/// Cloning is cheap and shares the connection; it closes when the last clone (and the last
/// [`Domain`]/[`Network`] obtained from it) is dropped.
#[derive(Clone)]
pub struct Connect {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("uri", &self.inner.uri)
            .field("read_only", &self.inner.read_only)
            .finish()
    }
}

struct Inner {
    uri: String,
    read_only: bool,
    /// Open members of the stack serving the URI (one for most schemes).
    members: Vec<DriverConn>,
    /// The domain types the members declare in their capabilities, read on first use.
    domain_types: OnceLock<Vec<String>>,
    /// Members that serve the scheme but did not open, with the reason.
    skipped: Vec<SkippedMember>,
}

/// A driver that serves a connection's scheme but did not open for its URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedMember {
    /// The driver's name.
    pub name: String,
    /// Why it is not serving: its error message, or that it declined the URI.
    pub reason: String,
}

/// Whether an error of one stack member lets the next member try: the member does not know the
/// object, or does not support this request or one of its arguments (a native format another
/// member converts). libvirt's unified driver tried its sub-drivers in turn the same way.
fn passes_on(code: VkErrorCode) -> bool {
    matches!(
        code,
        VkErrorCode::NoDomain
            | VkErrorCode::NoNetwork
            | VkErrorCode::NoSupport
            | VkErrorCode::ConfigUnsupported
    )
}

/// What the `drivers` command shows about one available driver.
#[derive(Clone, Debug)]
pub struct DriverSummary {
    /// Driver name.
    pub name: String,
    /// Driver version.
    pub version: String,
    /// ABI the driver was built against.
    pub abi: (u16, u16),
    /// URI schemes served.
    pub schemes: Vec<String>,
    /// The plugin file, or `(built in)`.
    pub origin: String,
    /// The operations implemented.
    pub supported: Vec<Op>,
}

impl DriverSummary {
    /// The number of slots the driver's table has: those of the ABI minor it was built for (a
    /// 1.0 plugin has 1.0's slots, however many later minors added), or all this core knows for
    /// a newer plugin.
    pub fn table_slots(&self) -> usize {
        virtkit_abi::OPS
            .iter()
            .filter(|o| o.since_minor <= self.abi.1)
            .count()
    }

    fn of(d: &Driver) -> DriverSummary {
        DriverSummary {
            name: d.name().to_string(),
            version: d.version().to_string(),
            abi: d.abi_version(),
            schemes: d.schemes().to_vec(),
            origin: d.origin().to_string(),
            supported: Op::ALL
                .iter()
                .copied()
                .filter(|op| d.supports(*op))
                .collect(),
        }
    }
}

/// Every driver available to this process (plugin files in the search path and drivers linked
/// into the binary), and one line per plugin file that was refused.
pub fn installed_drivers(registry: &Registry) -> (Vec<DriverSummary>, Vec<String>) {
    let (drivers, refused) = registry.all();
    (
        drivers.iter().map(|d| DriverSummary::of(d)).collect(),
        refused.iter().map(|e| e.to_string()).collect(),
    )
}

/// When set (non-empty), opening a connection prints on stderr which members of the scheme's
/// stack serve it and why the others do not.
pub const DEBUG_ENV: &str = "VIRTKIT_DEBUG";

static DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns on, for this process, what [`DEBUG_ENV`] turns on (the `virtkit -d` option).
pub fn set_debug(on: bool) {
    DEBUG.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn debug_on() -> bool {
    DEBUG.load(std::sync::atomic::Ordering::Relaxed)
        || std::env::var_os(DEBUG_ENV).is_some_and(|v| !v.is_empty())
}

fn default_uri() -> Option<String> {
    ["VIRTKIT_DEFAULT_URI", "LIBVIRT_DEFAULT_URI"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
}

impl Connect {
    /// Opens a read-write connection. `None` or an empty string means `VIRTKIT_DEFAULT_URI`,
    /// then `LIBVIRT_DEFAULT_URI`, then the first installed driver that accepts a default
    /// connection.
    pub fn open(uri: Option<&str>) -> Result<Connect> {
        Connect::open_with(uri, false, &Registry::from_env())
    }

    /// Opens a read-only connection: every mutating call is refused before reaching the driver.
    pub fn open_read_only(uri: Option<&str>) -> Result<Connect> {
        Connect::open_with(uri, true, &Registry::from_env())
    }

    /// Opens a connection using an explicit registry (plugin search path).
    pub fn open_with(uri: Option<&str>, read_only: bool, registry: &Registry) -> Result<Connect> {
        let flags = if read_only { VK_OPEN_READ_ONLY } else { 0 };
        let given = uri
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .or_else(default_uri);
        let Some(text) = given else {
            return Connect::probe(read_only, flags, registry);
        };
        let parsed = parse_uri(&text)?;
        let (drivers, refused) = registry.drivers_for_scheme(&parsed.scheme);
        if drivers.is_empty() {
            let dirs: Vec<String> = registry
                .dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            let mut msg = format!(
                "no connection driver available for URI '{text}': the driver plugin {} is not installed \
                 (install the package virtkit-driver-{}); searched: {}",
                plugin_file_name(&parsed.scheme),
                parsed.scheme,
                if dirs.is_empty() {
                    "(no directory)".to_string()
                } else {
                    dirs.join(", ")
                }
            );
            for r in &refused {
                msg.push_str(&format!("; {r}"));
            }
            return Err(Error::new(ErrorCode::NoConnect, msg));
        }
        let mut members = Vec::new();
        let mut skipped = Vec::new();
        let mut first_error = None;
        for d in &drivers {
            let reason = match d.open(&parsed.uri, flags) {
                Ok(Opened::Conn(c)) => {
                    members.push(c);
                    continue;
                }
                Ok(Opened::Declined) => "declined the URI".to_string(),
                Err(e) => {
                    let reason = e.message.clone();
                    first_error.get_or_insert(Error::from_call(e, d.error_domain()));
                    reason
                }
            };
            skipped.push(SkippedMember {
                name: d.name().to_string(),
                reason,
            });
        }
        if debug_on() {
            for m in &members {
                eprintln!(
                    "virtkit: debug: {text}: served by {} ({})",
                    m.driver().name(),
                    m.driver().origin()
                );
            }
            for s in &skipped {
                eprintln!("virtkit: debug: {text}: {} skipped: {}", s.name, s.reason);
            }
        }
        if members.is_empty() {
            let mut err = first_error.unwrap_or_else(|| {
                let names: Vec<&str> = drivers.iter().map(|d| d.name()).collect();
                Error::new(
                    ErrorCode::NoConnect,
                    format!(
                        "no connection driver available for URI '{text}': declined by {}",
                        names.join(", ")
                    ),
                )
            });
            // A stack: say why each member did not open, not only the first.
            if skipped.len() > 1 {
                let why: Vec<String> = skipped
                    .iter()
                    .map(|s| format!("{}: {}", s.name, s.reason))
                    .collect();
                err.message = format!("{} (members: {})", err.message, why.join("; "));
            }
            return Err(err);
        }
        Ok(Connect {
            inner: Arc::new(Inner {
                uri: parsed.uri,
                read_only,
                members,
                domain_types: OnceLock::new(),
                skipped,
            }),
        })
    }

    fn probe(read_only: bool, flags: u32, registry: &Registry) -> Result<Connect> {
        let (drivers, _) = registry.all();
        for d in &drivers {
            if let Ok(Opened::Conn(c)) = d.open("", flags) {
                let uri = format!(
                    "{}:///",
                    d.schemes().first().map(String::as_str).unwrap_or(d.name())
                );
                return Ok(Connect {
                    inner: Arc::new(Inner {
                        uri,
                        read_only,
                        members: vec![c],
                        domain_types: OnceLock::new(),
                        skipped: Vec::new(),
                    }),
                });
            }
        }
        Err(Error::new(
            ErrorCode::NoConnect,
            "no connection URI given, VIRTKIT_DEFAULT_URI and LIBVIRT_DEFAULT_URI are unset, \
             and no installed driver accepts a default connection",
        ))
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// Whether the connection is read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The domain types the drivers of this connection declare in their capabilities
    /// (`<guest><arch><domain type=...>`), read once per connection. Besides these, the core
    /// passes libvirt's own types to the drivers; any other type is refused.
    pub fn declared_domain_types(&self) -> &[String] {
        self.inner.domain_types.get_or_init(|| {
            crate::domain_types::declared_types(self.inner.members.iter().map(|m| {
                m.driver()
                    .supports(Op::GetCapabilities)
                    .then(|| m.get_capabilities().ok())
                    .flatten()
            }))
        })
    }

    /// Refuses a domain document whose type the connection does not accept.
    fn check_domain_type(&self, xml: &str, op: Op) -> Result<()> {
        if self.inner.read_only {
            // dispatch refuses the call anyway, without asking the drivers anything.
            return Ok(());
        }
        crate::domain_types::check(xml, || self.declared_domain_types(), op)
    }

    /// The drivers serving this connection, in stack order.
    pub fn drivers(&self) -> Vec<DriverSummary> {
        self.inner
            .members
            .iter()
            .map(|m| DriverSummary::of(m.driver()))
            .collect()
    }

    /// The members of the scheme's stack that did not open for this URI, and why.
    pub fn skipped_drivers(&self) -> &[SkippedMember] {
        &self.inner.skipped
    }

    /// Calls `f` on the members that implement `op`, in [`stack_order`]: the first success wins,
    /// "no such domain/network", "not supported" and "unsupported configuration" pass on to the
    /// next member (the last member's error is the answer), any other error stops.
    pub(crate) fn dispatch<T>(
        &self,
        op: Op,
        f: impl Fn(&DriverConn) -> CallResult<T>,
    ) -> Result<T> {
        if self.inner.read_only && op.info().kind == OpKind::Mutate {
            return Err(Error::read_only(op));
        }
        // The common case, one driver: no ordering to do.
        if let [only] = self.inner.members.as_slice()
            && only.driver().supports(op)
        {
            return f(only).map_err(|e| Error::from_call(e, only.driver().error_domain()));
        }
        let members = stack_order(op, &self.inner.members);
        if members.is_empty() {
            let names: Vec<&str> = self
                .inner
                .members
                .iter()
                .map(|m| m.driver().name())
                .collect();
            return Err(Error::new(
                ErrorCode::NoSupport,
                format!(
                    "this function is not supported by the connection driver: {} (driver '{}')",
                    op.info().api,
                    names.join("', '")
                ),
            ));
        }
        let mut not_found = None;
        for m in members {
            match f(m) {
                Ok(v) => return Ok(v),
                Err(e) if passes_on(e.code) => {
                    not_found = Some(Error::from_call(e, m.driver().error_domain()));
                }
                Err(e) => return Err(Error::from_call(e, m.driver().error_domain())),
            }
        }
        Err(not_found.unwrap_or_else(|| Error::new(ErrorCode::InternalError, "no driver answered")))
    }

    /// Like [`dispatch`](Self::dispatch) for name lists, but merges the answers of every member
    /// (a stack's members may each know different inactive objects).
    fn merge_names(
        &self,
        op: Op,
        f: impl Fn(&DriverConn) -> CallResult<Vec<String>>,
    ) -> Result<Vec<String>> {
        if self.inner.members.len() == 1 {
            return self.dispatch(op, f);
        }
        let mut out: Vec<String> = Vec::new();
        let mut any = false;
        for m in stack_order(op, &self.inner.members) {
            any = true;
            for n in f(m).map_err(|e| Error::from_call(e, m.driver().error_domain()))? {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        if !any {
            return self.dispatch(op, f);
        }
        Ok(out)
    }

    // ---- node ----

    /// The hypervisor type name (e.g. `Test`, `QEMU`, `Xen`).
    pub fn get_type(&self) -> Result<String> {
        self.dispatch(Op::GetType, |m| m.get_type())
    }
    /// The hypervisor version, encoded as `major * 1_000_000 + minor * 1_000 + micro`.
    pub fn version(&self) -> Result<u64> {
        self.dispatch(Op::GetVersion, |m| m.get_version())
    }
    /// The node's host name.
    pub fn hostname(&self) -> Result<String> {
        self.dispatch(Op::GetHostname, |m| m.get_hostname())
    }
    /// The capabilities XML document.
    pub fn capabilities(&self) -> Result<String> {
        self.dispatch(Op::GetCapabilities, |m| m.get_capabilities())
    }
    /// Node information.
    pub fn node_info(&self) -> Result<NodeInfo> {
        self.dispatch(Op::NodeGetInfo, |m| m.node_get_info())
            .map(|r| NodeInfo::from_raw(&r))
    }
    /// Maximum vCPUs for a domain of `domain_type` (empty: the driver's default).
    pub fn max_vcpus(&self, domain_type: &str) -> Result<i32> {
        self.dispatch(Op::GetMaxVcpus, |m| m.get_max_vcpus(domain_type))
    }

    // ---- domains ----

    /// Ids of the active domains.
    pub fn list_domains(&self) -> Result<Vec<i32>> {
        self.dispatch(Op::ListDomains, |m| m.list_domains())
    }
    /// Number of active domains.
    pub fn num_of_domains(&self) -> Result<i32> {
        self.dispatch(Op::NumOfDomains, |m| m.num_of_domains())
    }
    /// Names of the inactive persistent domains.
    pub fn list_defined_domains(&self) -> Result<Vec<String>> {
        self.merge_names(Op::ListDefinedDomains, |m| m.list_defined_domains())
    }
    /// Number of inactive persistent domains (in a stack: of the merged list).
    pub fn num_of_defined_domains(&self) -> Result<i32> {
        if self.inner.members.len() > 1 {
            let n = self.list_defined_domains()?.len();
            return Ok(i32::try_from(n).unwrap_or(i32::MAX));
        }
        self.dispatch(Op::NumOfDefinedDomains, |m| m.num_of_defined_domains())
    }
    fn domain(&self, ident: DomainIdent) -> Domain {
        Domain::new(self.clone(), ident)
    }
    /// Finds an active domain by id.
    pub fn lookup_domain_by_id(&self, id: i32) -> Result<Domain> {
        if id < 0 {
            return Err(Error::invalid_arg(format!(
                "domain id {id} must not be negative"
            )));
        }
        self.dispatch(Op::DomainLookupById, |m| m.domain_lookup_by_id(id))
            .map(|d| self.domain(d))
    }
    /// Finds a domain by name.
    pub fn lookup_domain_by_name(&self, name: &str) -> Result<Domain> {
        if name.is_empty() {
            return Err(Error::invalid_arg("domain name must not be empty"));
        }
        self.dispatch(Op::DomainLookupByName, |m| m.domain_lookup_by_name(name))
            .map(|d| self.domain(d))
    }
    /// Finds a domain by UUID.
    pub fn lookup_domain_by_uuid(&self, uuid: &uuid::Uuid) -> Result<Domain> {
        let bytes = *uuid.as_bytes();
        self.dispatch(Op::DomainLookupByUuid, |m| m.domain_lookup_by_uuid(&bytes))
            .map(|d| self.domain(d))
    }
    /// Finds a domain by UUID text (with or without dashes).
    pub fn lookup_domain_by_uuid_str(&self, uuid: &str) -> Result<Domain> {
        let u = uuid::Uuid::parse_str(uuid.trim())
            .map_err(|_| Error::invalid_arg(format!("'{uuid}' is not a valid UUID")))?;
        self.lookup_domain_by_uuid(&u)
    }
    /// Creates and starts a transient domain from XML.
    pub fn create_domain_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        non_empty_xml(xml)?;
        self.check_domain_type(xml, Op::DomainCreateXml)?;
        self.dispatch(Op::DomainCreateXml, |m| m.domain_create_xml(xml, flags))
            .map(|d| self.domain(d))
    }
    /// Defines (or redefines) a persistent domain from XML.
    pub fn define_domain_xml(&self, xml: &str) -> Result<Domain> {
        non_empty_xml(xml)?;
        self.check_domain_type(xml, Op::DomainDefineXml)?;
        self.dispatch(Op::DomainDefineXml, |m| m.domain_define_xml(xml))
            .map(|d| self.domain(d))
    }
    /// Restores a domain saved with [`Domain::save`].
    pub fn restore_domain(&self, path: &str) -> Result<()> {
        non_empty_path(path)?;
        self.dispatch(Op::DomainRestore, |m| m.domain_restore(path))
    }

    // ---- networks ----

    /// Names of the active networks.
    pub fn list_networks(&self) -> Result<Vec<String>> {
        self.merge_names(Op::ListNetworks, |m| m.list_networks())
    }
    /// Number of active networks.
    pub fn num_of_networks(&self) -> Result<i32> {
        self.dispatch(Op::NumOfNetworks, |m| m.num_of_networks())
    }
    /// Names of the inactive networks.
    pub fn list_defined_networks(&self) -> Result<Vec<String>> {
        self.merge_names(Op::ListDefinedNetworks, |m| m.list_defined_networks())
    }
    /// Number of inactive networks.
    pub fn num_of_defined_networks(&self) -> Result<i32> {
        self.dispatch(Op::NumOfDefinedNetworks, |m| m.num_of_defined_networks())
    }
    fn network(&self, ident: NetworkIdent) -> Network {
        Network::new(self.clone(), ident)
    }
    /// Finds a network by name.
    pub fn lookup_network_by_name(&self, name: &str) -> Result<Network> {
        if name.is_empty() {
            return Err(Error::invalid_arg("network name must not be empty"));
        }
        self.dispatch(Op::NetworkLookupByName, |m| m.network_lookup_by_name(name))
            .map(|n| self.network(n))
    }
    /// Finds a network by UUID.
    pub fn lookup_network_by_uuid(&self, uuid: &uuid::Uuid) -> Result<Network> {
        let bytes = *uuid.as_bytes();
        self.dispatch(Op::NetworkLookupByUuid, |m| {
            m.network_lookup_by_uuid(&bytes)
        })
        .map(|n| self.network(n))
    }
    /// Finds a network by UUID text.
    pub fn lookup_network_by_uuid_str(&self, uuid: &str) -> Result<Network> {
        let u = uuid::Uuid::parse_str(uuid.trim())
            .map_err(|_| Error::invalid_arg(format!("'{uuid}' is not a valid UUID")))?;
        self.lookup_network_by_uuid(&u)
    }
    /// Creates and starts a transient network from XML.
    pub fn create_network_xml(&self, xml: &str) -> Result<Network> {
        non_empty_xml(xml)?;
        self.dispatch(Op::NetworkCreateXml, |m| m.network_create_xml(xml))
            .map(|n| self.network(n))
    }
    /// Defines a persistent network from XML.
    pub fn define_network_xml(&self, xml: &str) -> Result<Network> {
        non_empty_xml(xml)?;
        self.dispatch(Op::NetworkDefineXml, |m| m.network_define_xml(xml))
            .map(|n| self.network(n))
    }

    /// The node's security model and DOI (empty model: none active).
    pub fn security_model(&self) -> Result<(String, String)> {
        self.dispatch(Op::NodeGetSecurityModel, |m| m.node_get_security_model())
    }
    /// Converts a native configuration (e.g. `xen-xm`, `xen-sxpr`) to domain XML.
    pub fn domain_xml_from_native(&self, format: &str, config: &str) -> Result<String> {
        if format.is_empty() {
            return Err(Error::invalid_arg("native format must not be empty"));
        }
        self.dispatch(Op::DomainXmlFromNative, |m| {
            m.domain_xml_from_native(format, config, 0)
        })
    }
    /// Converts domain XML to a native configuration.
    pub fn domain_xml_to_native(&self, format: &str, xml: &str) -> Result<String> {
        if format.is_empty() {
            return Err(Error::invalid_arg("native format must not be empty"));
        }
        non_empty_xml(xml)?;
        self.dispatch(Op::DomainXmlToNative, |m| {
            m.domain_xml_to_native(format, xml, 0)
        })
    }
}

pub(crate) fn non_empty_xml(xml: &str) -> Result<()> {
    if xml.trim().is_empty() {
        return Err(Error::invalid_arg("XML description must not be empty"));
    }
    Ok(())
}

pub(crate) fn non_empty_path(path: &str) -> Result<()> {
    if path.trim().is_empty() {
        return Err(Error::invalid_arg("file path must not be empty"));
    }
    Ok(())
}
