//! Connections: opening a URI through the driver stack that serves it, and dispatching calls.

use std::sync::{Arc, OnceLock};

use virtkit_abi::{Op, VK_OPEN_READ_ONLY, VkErrorCode, error_domain, slots};
use virtkit_loader::{
    CallError, DomainIdent, Driver, DriverConn, HostCall, LoadError, NetworkIdent, Opened, Origin,
    Registry, plugin_file_name, stack_order,
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
            return Err(no_driver(&text, &parsed.scheme, registry, &refused));
        }
        // The connection opens without the refused files: say which, and what serves instead.
        for r in &refused {
            let instead = r
                .path()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .and_then(|n| {
                    drivers.iter().find(|d| {
                        matches!(d.origin(), Origin::Static) && plugin_file_name(d.name()) == n
                    })
                });
            match instead {
                Some(d) => eprintln!(
                    "virtkit: warning: {r}; the built-in '{}' driver serves '{}' instead",
                    d.name(),
                    parsed.scheme
                ),
                None => eprintln!("virtkit: warning: {r}"),
            }
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

    /// Calls operation `O` on the members that implement it, in [`stack_order`]: the first
    /// success wins; "no such domain/network", "not supported" and "unsupported configuration"
    /// pass on to the next member (the last member's error is the answer); any other error
    /// stops. Read-only connections refuse mutating operations here, before any driver runs.
    ///
    /// `O` is the operation's marker (`virtkit_abi::slots`): it names the operation checked and
    /// the slot called at once, so the two cannot disagree. Public for the conformance suite,
    /// which calls every operation this way; programs use the methods.
    #[doc(hidden)]
    pub fn call<O: HostCall>(&self, args: O::Args<'_>) -> Result<O::Output> {
        let op = O::OP;
        if self.inner.read_only && op.info().kind.refused_read_only() {
            return Err(Error::read_only(op));
        }
        // The common case, one driver: no ordering to do.
        if let [only] = self.inner.members.as_slice()
            && only.driver().supports(op)
        {
            return O::call(only, args)
                .map_err(|e| Error::from_call(e, only.driver().error_domain()));
        }
        let members = stack_order(op, &self.inner.members);
        if members.is_empty() {
            let names: Vec<&str> = self
                .inner
                .members
                .iter()
                .map(|m| m.driver().name())
                .collect();
            return Err(Error::from_call(
                CallError::unsupported(op, &names),
                error_domain::NONE,
            ));
        }
        let mut not_found = None;
        for m in members {
            match O::call(m, args) {
                Ok(v) => return Ok(v),
                Err(e) if passes_on(e.code) => {
                    not_found = Some(Error::from_call(e, m.driver().error_domain()));
                }
                Err(e) => return Err(Error::from_call(e, m.driver().error_domain())),
            }
        }
        Err(not_found.unwrap_or_else(|| Error::new(ErrorCode::InternalError, "no driver answered")))
    }

    /// Like [`call`](Self::call) for name lists, but merges the answers of every member
    /// (a stack's members may each know different inactive objects).
    fn merge_names<O: for<'a> HostCall<Args<'a> = (), Output = Vec<String>>>(
        &self,
    ) -> Result<Vec<String>> {
        if self.inner.members.len() == 1 {
            return self.call::<O>(());
        }
        let mut out: Vec<String> = Vec::new();
        let mut any = false;
        for m in stack_order(O::OP, &self.inner.members) {
            any = true;
            for n in O::call(m, ()).map_err(|e| Error::from_call(e, m.driver().error_domain()))? {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        if !any {
            return self.call::<O>(());
        }
        Ok(out)
    }

    // ---- node ----

    /// The hypervisor type name (e.g. `Test`, `QEMU`, `Xen`).
    pub fn get_type(&self) -> Result<String> {
        self.call::<slots::GetType>(())
    }
    /// The hypervisor version, encoded as `major * 1_000_000 + minor * 1_000 + micro`.
    pub fn version(&self) -> Result<u64> {
        self.call::<slots::GetVersion>(())
    }
    /// The node's host name.
    pub fn hostname(&self) -> Result<String> {
        self.call::<slots::GetHostname>(())
    }
    /// The capabilities XML document.
    pub fn capabilities(&self) -> Result<String> {
        self.call::<slots::GetCapabilities>(())
    }
    /// Node information.
    pub fn node_info(&self) -> Result<NodeInfo> {
        self.call::<slots::NodeGetInfo>(())
            .map(|r| NodeInfo::from_raw(&r))
    }
    /// Maximum vCPUs for a domain of `domain_type` (empty: the driver's default).
    pub fn max_vcpus(&self, domain_type: &str) -> Result<i32> {
        self.call::<slots::GetMaxVcpus>((domain_type,))
    }

    // ---- domains ----

    /// Ids of the active domains.
    pub fn list_domains(&self) -> Result<Vec<i32>> {
        self.call::<slots::ListDomains>(())
    }
    /// Number of active domains.
    pub fn num_of_domains(&self) -> Result<i32> {
        self.call::<slots::NumOfDomains>(())
    }
    /// Names of the inactive persistent domains.
    pub fn list_defined_domains(&self) -> Result<Vec<String>> {
        self.merge_names::<slots::ListDefinedDomains>()
    }
    /// Number of inactive persistent domains (in a stack: of the merged list).
    pub fn num_of_defined_domains(&self) -> Result<i32> {
        if self.inner.members.len() > 1 {
            let n = self.list_defined_domains()?.len();
            return Ok(i32::try_from(n).unwrap_or(i32::MAX));
        }
        self.call::<slots::NumOfDefinedDomains>(())
    }
    fn domain(&self, ident: DomainIdent) -> Domain {
        Domain::new(self.clone(), ident)
    }
    /// A handle on a domain from its identity as a peer sent it (libvirt's `virGetDomain`):
    /// nothing is looked up, so a domain that does not exist fails on its first call, with the
    /// driver's "no such domain". The daemon builds the domains of incoming calls this way.
    pub fn domain_handle(&self, name: &str, uuid: [u8; 16], id: i32) -> Domain {
        self.domain(DomainIdent {
            id,
            uuid,
            name: name.to_string(),
        })
    }
    /// A handle on a network from its identity as a peer sent it (libvirt's `virGetNetwork`),
    /// without a lookup.
    pub fn network_handle(&self, name: &str, uuid: [u8; 16]) -> Network {
        self.network(NetworkIdent {
            uuid,
            name: name.to_string(),
        })
    }
    /// Finds an active domain by id.
    pub fn lookup_domain_by_id(&self, id: i32) -> Result<Domain> {
        if id < 0 {
            return Err(Error::invalid_arg(format!(
                "domain id {id} must not be negative"
            )));
        }
        self.call::<slots::DomainLookupById>((id,))
            .map(|d| self.domain(d))
    }
    /// Finds a domain by name.
    pub fn lookup_domain_by_name(&self, name: &str) -> Result<Domain> {
        if name.is_empty() {
            return Err(Error::invalid_arg("domain name must not be empty"));
        }
        self.call::<slots::DomainLookupByName>((name,))
            .map(|d| self.domain(d))
    }
    /// Finds a domain by UUID.
    pub fn lookup_domain_by_uuid(&self, uuid: &uuid::Uuid) -> Result<Domain> {
        let bytes = *uuid.as_bytes();
        self.call::<slots::DomainLookupByUuid>((&bytes,))
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
        self.call::<slots::DomainCreateXml>((xml, flags))
            .map(|d| self.domain(d))
    }
    /// Defines (or redefines) a persistent domain from XML.
    pub fn define_domain_xml(&self, xml: &str) -> Result<Domain> {
        non_empty_xml(xml)?;
        self.check_domain_type(xml, Op::DomainDefineXml)?;
        self.call::<slots::DomainDefineXml>((xml,))
            .map(|d| self.domain(d))
    }
    /// Restores a domain saved with [`Domain::save`].
    pub fn restore_domain(&self, path: &str) -> Result<()> {
        non_empty_path(path)?;
        self.call::<slots::DomainRestore>((path,))
    }

    // ---- networks ----

    /// Names of the active networks.
    pub fn list_networks(&self) -> Result<Vec<String>> {
        self.merge_names::<slots::ListNetworks>()
    }
    /// Number of active networks.
    pub fn num_of_networks(&self) -> Result<i32> {
        self.call::<slots::NumOfNetworks>(())
    }
    /// Names of the inactive networks.
    pub fn list_defined_networks(&self) -> Result<Vec<String>> {
        self.merge_names::<slots::ListDefinedNetworks>()
    }
    /// Number of inactive networks.
    pub fn num_of_defined_networks(&self) -> Result<i32> {
        self.call::<slots::NumOfDefinedNetworks>(())
    }
    fn network(&self, ident: NetworkIdent) -> Network {
        Network::new(self.clone(), ident)
    }
    /// Finds a network by name.
    pub fn lookup_network_by_name(&self, name: &str) -> Result<Network> {
        if name.is_empty() {
            return Err(Error::invalid_arg("network name must not be empty"));
        }
        self.call::<slots::NetworkLookupByName>((name,))
            .map(|n| self.network(n))
    }
    /// Finds a network by UUID.
    pub fn lookup_network_by_uuid(&self, uuid: &uuid::Uuid) -> Result<Network> {
        let bytes = *uuid.as_bytes();
        self.call::<slots::NetworkLookupByUuid>((&bytes,))
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
        self.call::<slots::NetworkCreateXml>((xml,))
            .map(|n| self.network(n))
    }
    /// Defines a persistent network from XML.
    pub fn define_network_xml(&self, xml: &str) -> Result<Network> {
        non_empty_xml(xml)?;
        self.call::<slots::NetworkDefineXml>((xml,))
            .map(|n| self.network(n))
    }

    /// The node's security model and DOI (empty model: none active).
    pub fn security_model(&self) -> Result<(String, String)> {
        self.call::<slots::NodeGetSecurityModel>(())
    }
    /// Converts a native configuration (e.g. `xen-xm`, `xen-sxpr`) to domain XML.
    pub fn domain_xml_from_native(&self, format: &str, config: &str) -> Result<String> {
        if format.is_empty() {
            return Err(Error::invalid_arg("native format must not be empty"));
        }
        self.call::<slots::DomainXmlFromNative>((format, config, 0))
    }
    /// Converts domain XML to a native configuration.
    pub fn domain_xml_to_native(&self, format: &str, xml: &str) -> Result<String> {
        if format.is_empty() {
            return Err(Error::invalid_arg("native format must not be empty"));
        }
        non_empty_xml(xml)?;
        self.call::<slots::DomainXmlToNative>((format, xml, 0))
    }
}

/// The error of a URI no driver serves. A plugin file that exists but was refused is the news:
/// its refusal comes first, and the "not installed" advice only when no file was found at all.
fn no_driver(text: &str, scheme: &str, registry: &Registry, refused: &[LoadError]) -> Error {
    if !refused.is_empty() {
        let lines: Vec<String> = refused.iter().map(ToString::to_string).collect();
        return Error::new(
            ErrorCode::NoConnect,
            format!(
                "no connection driver available for URI '{text}': {}",
                lines.join("; ")
            ),
        );
    }
    let dirs: Vec<String> = registry
        .dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    Error::new(
        ErrorCode::NoConnect,
        format!(
            "no connection driver available for URI '{text}': the driver plugin {} is not installed \
             (install the package virtkit-driver-{scheme}); searched: {}",
            plugin_file_name(scheme),
            if dirs.is_empty() {
                "(no directory)".to_string()
            } else {
                dirs.join(", ")
            }
        ),
    )
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
