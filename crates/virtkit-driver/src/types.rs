//! Safe types a driver works with.

use uuid::Uuid;
use virtkit_abi::{Op, VkDomainState, VkErrorCode};

// The information records are the ABI crate's safe views, shared with the core.
pub use virtkit_abi::{DomainInfo, NodeInfo, VcpuInfo};

type DomainState = VkDomainState;

/// An error a driver returns: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The stable code.
    pub code: VkErrorCode,
    /// A short message for the user.
    pub message: String,
}

/// Result of a driver function.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: VkErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
    // The constructors below prefix the message the way libvirt's virErrorMsg does for the code,
    // so that users see the same wording as with libvirt.

    /// `NO_DOMAIN`.
    pub fn no_domain(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::NoDomain,
            format!("Domain not found: {}", message.into()),
        )
    }
    /// `NO_NETWORK`.
    pub fn no_network(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::NoNetwork,
            format!("Network not found: {}", message.into()),
        )
    }
    /// `INVALID_ARG`.
    pub fn invalid_arg(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::InvalidArg,
            format!("invalid argument: {}", message.into()),
        )
    }
    /// `OPERATION_INVALID`: the object is in the wrong state.
    pub fn operation_invalid(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::OperationInvalid,
            format!("Requested operation is not valid: {}", message.into()),
        )
    }
    /// `OPERATION_FAILED`.
    pub fn operation_failed(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::OperationFailed,
            format!("operation failed: {}", message.into()),
        )
    }
    /// `XML_ERROR`, with libvirt's "XML error: " prefix. A `virtkit_xml::Error` already reads
    /// "XML error at line ..": pass it on as `Error::new(ErrorCode::XmlError, e.to_string())`.
    pub fn xml(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::XmlError,
            format!("XML error: {}", message.into()),
        )
    }
    /// `INTERNAL_ERROR`.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::InternalError,
            format!("internal error: {}", message.into()),
        )
    }
    /// `NO_SUPPORT`.
    pub fn no_support(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::NoSupport,
            format!(
                "this function is not supported by the connection driver: {}",
                message.into()
            ),
        )
    }
    /// `SYSTEM_ERROR`, from an I/O error with context.
    pub fn system(context: impl std::fmt::Display, err: &std::io::Error) -> Error {
        Error::new(VkErrorCode::SystemError, format!("{context}: {err}"))
    }
    /// `DOM_EXIST`.
    pub fn dom_exist(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::DomExist,
            format!("operation failed: {}", message.into()),
        )
    }
    /// `NETWORK_EXIST`.
    pub fn network_exist(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::NetworkExist,
            format!("operation failed: {}", message.into()),
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<virtkit_abi::UriError> for Error {
    /// A URI that does not parse is an invalid argument.
    fn from(e: virtkit_abi::UriError) -> Error {
        Error::new(VkErrorCode::InvalidArg, format!("invalid argument: {e}"))
    }
}

/// Static facts about a driver, written into the table header.
#[derive(Clone, Copy, Debug)]
pub struct DriverInfo {
    /// Driver name: non-empty lower-case ASCII letters, digits, `-` or `_` (what the loader
    /// accepts), e.g. `xen-xend`, `toyhv_rs`.
    pub name: &'static str,
    /// Semantic version.
    pub version: &'static str,
    /// URI schemes served.
    pub schemes: &'static [&'static str],
    /// `VK_DRIVER_*` flags.
    pub flags: u32,
    /// libvirt-style error domain (`virtkit_abi::error_domain`).
    pub error_domain: u32,
    /// Default rank within a stack serving one scheme (lower first).
    pub stack_rank: u32,
    /// Per-operation rank overrides.
    pub op_ranks: &'static [(Op, u32)],
    /// URI of a disposable instance for the conformance suite (`{tmpdir}` placeholder), or "".
    pub sandbox_uri: &'static str,
}

impl DriverInfo {
    /// Facts with no flags, error domain 0, rank 0, no overrides and no sandbox URI.
    pub const fn new(
        name: &'static str,
        version: &'static str,
        schemes: &'static [&'static str],
    ) -> DriverInfo {
        DriverInfo {
            name,
            version,
            schemes,
            flags: 0,
            error_domain: 0,
            stack_rank: 0,
            op_ranks: &[],
            sandbox_uri: "",
        }
    }
}

/// A domain's identity, borrowed: how the core names a domain in a call, and how a driver answers
/// a lookup (from its own state, without copying the name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainRef<'a> {
    /// The id the core last saw (-1 when inactive). Key on `uuid`.
    pub id: i32,
    /// UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: &'a str,
}

/// A network's identity, borrowed: how the core names a network in a call, and how a driver
/// answers a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkRef<'a> {
    /// UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: &'a str,
}

/// A domain identity, owned: what create and define return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainIdent {
    /// Id, or -1 when inactive.
    pub id: i32,
    /// UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
}

/// A network identity, owned: what create and define return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkIdent {
    /// UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
}

impl<'a> From<&'a DomainIdent> for DomainRef<'a> {
    fn from(d: &'a DomainIdent) -> DomainRef<'a> {
        DomainRef {
            id: d.id,
            uuid: d.uuid,
            name: &d.name,
        }
    }
}

impl From<DomainRef<'_>> for DomainIdent {
    fn from(d: DomainRef<'_>) -> DomainIdent {
        DomainIdent {
            id: d.id,
            uuid: d.uuid,
            name: d.name.to_string(),
        }
    }
}

impl<'a> From<&'a NetworkIdent> for NetworkRef<'a> {
    fn from(n: &'a NetworkIdent) -> NetworkRef<'a> {
        NetworkRef {
            uuid: n.uuid,
            name: &n.name,
        }
    }
}

impl From<NetworkRef<'_>> for NetworkIdent {
    fn from(n: NetworkRef<'_>) -> NetworkIdent {
        NetworkIdent {
            uuid: n.uuid,
            name: n.name.to_string(),
        }
    }
}

/// The operations a driver implements, one optional function per slot of the C table
/// (open and close come from [`Driver`](crate::Driver) itself). Start from [`Ops::NONE`].
///
/// Most functions return their result. Lists and lookups instead answer through the callback
/// they are given (`out`): a list calls it once per item, a lookup exactly once when it finds
/// the object. The host copies what it receives before the callback returns, so a driver hands
/// over names borrowed from its own state, typically while it holds its lock, and nothing is
/// copied twice on the way to the caller.
#[allow(clippy::type_complexity)]
pub struct Ops<C> {
    /// virConnectGetType.
    pub get_type: Option<fn(&C) -> Result<String>>,
    /// virConnectGetVersion.
    pub get_version: Option<fn(&C) -> Result<u64>>,
    /// virConnectGetHostname.
    pub get_hostname: Option<fn(&C) -> Result<String>>,
    /// virConnectGetCapabilities.
    pub get_capabilities: Option<fn(&C) -> Result<String>>,
    /// virNodeGetInfo.
    pub node_get_info: Option<fn(&C) -> Result<NodeInfo>>,
    /// virConnectGetMaxVcpus (domain type, possibly empty).
    pub get_max_vcpus: Option<fn(&C, &str) -> Result<i32>>,
    /// virConnectListDomains: `out(id)` for each active domain.
    pub list_domains: Option<fn(&C, &mut dyn FnMut(i32)) -> Result<()>>,
    /// virConnectNumOfDomains.
    pub num_of_domains: Option<fn(&C) -> Result<i32>>,
    /// virConnectListDefinedDomains: `out(name)` for each inactive persistent domain.
    pub list_defined_domains: Option<fn(&C, &mut dyn FnMut(&str)) -> Result<()>>,
    /// virConnectNumOfDefinedDomains.
    pub num_of_defined_domains: Option<fn(&C) -> Result<i32>>,
    /// virDomainLookupByID: `out(domain)` once, when found.
    pub domain_lookup_by_id: Option<fn(&C, i32, &mut dyn FnMut(DomainRef<'_>)) -> Result<()>>,
    /// virDomainLookupByUUID: `out(domain)` once, when found.
    pub domain_lookup_by_uuid: Option<fn(&C, &Uuid, &mut dyn FnMut(DomainRef<'_>)) -> Result<()>>,
    /// virDomainLookupByName: `out(domain)` once, when found.
    pub domain_lookup_by_name: Option<fn(&C, &str, &mut dyn FnMut(DomainRef<'_>)) -> Result<()>>,
    /// virDomainCreateXML (xml, flags).
    pub domain_create_xml: Option<fn(&C, &str, u32) -> Result<DomainIdent>>,
    /// virDomainDefineXML.
    pub domain_define_xml: Option<fn(&C, &str) -> Result<DomainIdent>>,
    /// virDomainUndefine.
    pub domain_undefine: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainCreate.
    pub domain_create: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainShutdown.
    pub domain_shutdown: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainReboot.
    pub domain_reboot: Option<fn(&C, &DomainRef<'_>, u32) -> Result<()>>,
    /// virDomainDestroy.
    pub domain_destroy: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainSuspend.
    pub domain_suspend: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainResume.
    pub domain_resume: Option<fn(&C, &DomainRef<'_>) -> Result<()>>,
    /// virDomainSave (path).
    pub domain_save: Option<fn(&C, &DomainRef<'_>, &str) -> Result<()>>,
    /// virDomainRestore (path).
    pub domain_restore: Option<fn(&C, &str) -> Result<()>>,
    /// virDomainCoreDump (path, flags).
    pub domain_core_dump: Option<fn(&C, &DomainRef<'_>, &str, u32) -> Result<()>>,
    /// virDomainGetInfo.
    pub domain_get_info: Option<fn(&C, &DomainRef<'_>) -> Result<DomainInfo>>,
    /// virDomainGetXMLDesc (flags).
    pub domain_get_xml_desc: Option<fn(&C, &DomainRef<'_>, u32) -> Result<String>>,
    /// virDomainGetOSType.
    pub domain_get_os_type: Option<fn(&C, &DomainRef<'_>) -> Result<String>>,
    /// virDomainGetMaxMemory (KiB).
    pub domain_get_max_memory: Option<fn(&C, &DomainRef<'_>) -> Result<u64>>,
    /// virDomainSetMaxMemory (KiB).
    pub domain_set_max_memory: Option<fn(&C, &DomainRef<'_>, u64) -> Result<()>>,
    /// virDomainSetMemory (KiB).
    pub domain_set_memory: Option<fn(&C, &DomainRef<'_>, u64) -> Result<()>>,
    /// virDomainSetVcpus.
    pub domain_set_vcpus: Option<fn(&C, &DomainRef<'_>, u32) -> Result<()>>,
    /// virDomainPinVcpu (vcpu, cpumap).
    pub domain_pin_vcpu: Option<fn(&C, &DomainRef<'_>, u32, &[u8]) -> Result<()>>,
    /// virDomainGetVcpus.
    pub domain_get_vcpus: Option<fn(&C, &DomainRef<'_>) -> Result<Vec<VcpuInfo>>>,
    /// virDomainGetAutostart.
    pub domain_get_autostart: Option<fn(&C, &DomainRef<'_>) -> Result<bool>>,
    /// virDomainSetAutostart.
    pub domain_set_autostart: Option<fn(&C, &DomainRef<'_>, bool) -> Result<()>>,
    /// virDomainAttachDevice (device XML).
    pub domain_attach_device: Option<fn(&C, &DomainRef<'_>, &str) -> Result<()>>,
    /// virDomainDetachDevice (device XML).
    pub domain_detach_device: Option<fn(&C, &DomainRef<'_>, &str) -> Result<()>>,
    /// virConnectListNetworks: `out(name)` for each active network.
    pub list_networks: Option<fn(&C, &mut dyn FnMut(&str)) -> Result<()>>,
    /// virConnectNumOfNetworks.
    pub num_of_networks: Option<fn(&C) -> Result<i32>>,
    /// virConnectListDefinedNetworks: `out(name)` for each inactive network.
    pub list_defined_networks: Option<fn(&C, &mut dyn FnMut(&str)) -> Result<()>>,
    /// virConnectNumOfDefinedNetworks.
    pub num_of_defined_networks: Option<fn(&C) -> Result<i32>>,
    /// virNetworkLookupByUUID: `out(network)` once, when found.
    pub network_lookup_by_uuid: Option<fn(&C, &Uuid, &mut dyn FnMut(NetworkRef<'_>)) -> Result<()>>,
    /// virNetworkLookupByName: `out(network)` once, when found.
    pub network_lookup_by_name: Option<fn(&C, &str, &mut dyn FnMut(NetworkRef<'_>)) -> Result<()>>,
    /// virNetworkCreateXML.
    pub network_create_xml: Option<fn(&C, &str) -> Result<NetworkIdent>>,
    /// virNetworkDefineXML.
    pub network_define_xml: Option<fn(&C, &str) -> Result<NetworkIdent>>,
    /// virNetworkUndefine.
    pub network_undefine: Option<fn(&C, &NetworkRef<'_>) -> Result<()>>,
    /// virNetworkCreate.
    pub network_create: Option<fn(&C, &NetworkRef<'_>) -> Result<()>>,
    /// virNetworkDestroy.
    pub network_destroy: Option<fn(&C, &NetworkRef<'_>) -> Result<()>>,
    /// virNetworkGetXMLDesc (flags).
    pub network_get_xml_desc: Option<fn(&C, &NetworkRef<'_>, u32) -> Result<String>>,
    /// virNetworkGetBridgeName.
    pub network_get_bridge_name: Option<fn(&C, &NetworkRef<'_>) -> Result<String>>,
    /// virNetworkGetAutostart.
    pub network_get_autostart: Option<fn(&C, &NetworkRef<'_>) -> Result<bool>>,
    /// virNetworkSetAutostart.
    pub network_set_autostart: Option<fn(&C, &NetworkRef<'_>, bool) -> Result<()>>,
    /// virDomainIsPersistent (ABI 1.1).
    pub domain_is_persistent: Option<fn(&C, &DomainRef<'_>) -> Result<bool>>,
    /// virDomainHasManagedSaveImage (flags) (ABI 1.1).
    pub domain_has_managed_save_image: Option<fn(&C, &DomainRef<'_>, u32) -> Result<bool>>,
    /// virNodeGetSecurityModel: (model, DOI); an empty model means none (ABI 1.1).
    pub node_get_security_model: Option<fn(&C) -> Result<(String, String)>>,
    /// virDomainGetSecurityLabel: (label, enforcing) (ABI 1.1).
    pub domain_get_security_label: Option<fn(&C, &DomainRef<'_>) -> Result<(String, bool)>>,
    /// virDomainGetState: (state, reason) (ABI 1.1).
    pub domain_get_state: Option<fn(&C, &DomainRef<'_>) -> Result<(DomainState, i32)>>,
    /// virConnectDomainXMLFromNative (format, config, flags) (ABI 1.1).
    pub domain_xml_from_native: Option<fn(&C, &str, &str, u32) -> Result<String>>,
    /// virConnectDomainXMLToNative (format, xml, flags) (ABI 1.1).
    pub domain_xml_to_native: Option<fn(&C, &str, &str, u32) -> Result<String>>,
    /// virNetworkIsActive (ABI 1.1).
    pub network_is_active: Option<fn(&C, &NetworkRef<'_>) -> Result<bool>>,
    /// virNetworkIsPersistent (ABI 1.1).
    pub network_is_persistent: Option<fn(&C, &NetworkRef<'_>) -> Result<bool>>,
}

impl<C> Ops<C> {
    /// No operation implemented.
    pub const NONE: Ops<C> = Ops {
        get_type: None,
        get_version: None,
        get_hostname: None,
        get_capabilities: None,
        node_get_info: None,
        get_max_vcpus: None,
        list_domains: None,
        num_of_domains: None,
        list_defined_domains: None,
        num_of_defined_domains: None,
        domain_lookup_by_id: None,
        domain_lookup_by_uuid: None,
        domain_lookup_by_name: None,
        domain_create_xml: None,
        domain_define_xml: None,
        domain_undefine: None,
        domain_create: None,
        domain_shutdown: None,
        domain_reboot: None,
        domain_destroy: None,
        domain_suspend: None,
        domain_resume: None,
        domain_save: None,
        domain_restore: None,
        domain_core_dump: None,
        domain_get_info: None,
        domain_get_xml_desc: None,
        domain_get_os_type: None,
        domain_get_max_memory: None,
        domain_set_max_memory: None,
        domain_set_memory: None,
        domain_set_vcpus: None,
        domain_pin_vcpu: None,
        domain_get_vcpus: None,
        domain_get_autostart: None,
        domain_set_autostart: None,
        domain_attach_device: None,
        domain_detach_device: None,
        list_networks: None,
        num_of_networks: None,
        list_defined_networks: None,
        num_of_defined_networks: None,
        network_lookup_by_uuid: None,
        network_lookup_by_name: None,
        network_create_xml: None,
        network_define_xml: None,
        network_undefine: None,
        network_create: None,
        network_destroy: None,
        network_get_xml_desc: None,
        network_get_bridge_name: None,
        network_get_autostart: None,
        network_set_autostart: None,
        domain_is_persistent: None,
        domain_has_managed_save_image: None,
        node_get_security_model: None,
        domain_get_security_label: None,
        domain_get_state: None,
        domain_xml_from_native: None,
        domain_xml_to_native: None,
        network_is_active: None,
        network_is_persistent: None,
    };
}
