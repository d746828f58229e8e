//! The error type of the API.

pub use virtkit_abi::VkErrorCode as ErrorCode;
use virtkit_abi::{Op, error_domain};
use virtkit_loader::CallError;

/// An error: a stable code (libvirt's `virErrorNumber`), a domain (libvirt's `virErrorDomain`:
/// which component raised it) and a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The stable code users match on.
    pub code: ErrorCode,
    /// The component that raised it (`virtkit_abi::error_domain`).
    pub domain: u32,
    /// The message.
    pub message: String,
}

/// Result of an API call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            domain: error_domain::NONE,
            message: message.into(),
        }
    }

    pub(crate) fn from_call(e: CallError, domain: u32) -> Error {
        Error {
            code: e.code,
            domain,
            message: e.message,
        }
    }

    pub(crate) fn invalid_arg(message: impl Into<String>) -> Error {
        Error::new(
            ErrorCode::InvalidArg,
            ErrorCode::InvalidArg.message_with(&message.into()),
        )
    }

    /// libvirt's `OPERATION_DENIED` with its "operation forbidden: " prefix.
    pub(crate) fn denied(what: &str) -> Error {
        Error::new(
            ErrorCode::OperationDenied,
            ErrorCode::OperationDenied.message_with(what),
        )
    }

    pub(crate) fn read_only(op: Op) -> Error {
        Error::denied(&format!("read only access prevents {}", op.info().api))
    }
}
