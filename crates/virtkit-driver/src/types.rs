//! Safe types a driver works with.

use uuid::Uuid;
use virtkit_abi::{Op, VkDomainState, VkErrorCode};

// The information records are the ABI crate's safe views, shared with the core.
pub use virtkit_abi::{DomainInfo, NodeInfo, VcpuInfo};

pub(crate) type DomainState = VkDomainState;

/// An error a driver returns: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
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
    /// An error with `code` and libvirt's message for it around `detail` (its `virErrorMsg`
    /// table, `VkErrorCode::message_with`), so that users see the same wording as with libvirt.
    pub fn with_detail(code: VkErrorCode, detail: impl Into<String>) -> Error {
        Error::new(code, code.message_with(&detail.into()))
    }
    /// `NO_DOMAIN`.
    pub fn no_domain(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::NoDomain, message)
    }
    /// `NO_NETWORK`.
    pub fn no_network(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::NoNetwork, message)
    }
    /// `INVALID_ARG`.
    pub fn invalid_arg(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::InvalidArg, message)
    }
    /// `OPERATION_INVALID`: the object is in the wrong state.
    pub fn operation_invalid(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::OperationInvalid, message)
    }
    /// `OPERATION_FAILED`.
    pub fn operation_failed(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::OperationFailed, message)
    }
    /// `XML_ERROR`, with libvirt's "XML error: " prefix. A `virtkit_xml::Error` already reads
    /// "XML error at line ..": pass it on as `Error::new(ErrorCode::XmlError, e.to_string())`.
    pub fn xml(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::XmlError, message)
    }
    /// `INTERNAL_ERROR`.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::InternalError, message)
    }
    /// `NO_SUPPORT`.
    pub fn no_support(message: impl Into<String>) -> Error {
        Error::with_detail(VkErrorCode::NoSupport, message)
    }
    /// `SYSTEM_ERROR`, from an I/O error with context.
    pub fn system(context: impl std::fmt::Display, err: &std::io::Error) -> Error {
        Error::new(VkErrorCode::SystemError, format!("{context}: {err}"))
    }
    /// `DOM_EXIST`.
    pub fn dom_exist(message: impl Into<String>) -> Error {
        // libvirt's drivers word it as a failed operation, with the DOM_EXIST code.
        Error::new(
            VkErrorCode::DomExist,
            VkErrorCode::OperationFailed.message_with(&message.into()),
        )
    }
    /// `NETWORK_EXIST`.
    pub fn network_exist(message: impl Into<String>) -> Error {
        Error::new(
            VkErrorCode::NetworkExist,
            VkErrorCode::OperationFailed.message_with(&message.into()),
        )
    }
}

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
