//! libvirt's RPC protocol on the wire, without I/O policy: XDR ([`xdr`]), messages (a length
//! word, a header with program, version, procedure, type, serial and status, then the payload),
//! error replies ([`RemoteError`]), the procedures of the REMOTE program that virtkit serves
//! ([`PROCEDURES`], one list with the published numbers) and the keepalive program.
//!
//! Facts (program numbers, procedure numbers, limits, the layout of each record) are libvirt's
//! published protocol definitions (`remote_protocol.x`, `virnetprotocol.x`,
//! `virkeepaliveprotocol.x`); the code is virtkit's own.
//!
//! Decoding never trusts a length: messages are capped at [`MESSAGE_MAX`] before any buffer is
//! allocated, strings and arrays at their protocol bounds and at the bytes that remain.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod message;
mod procedures;
pub mod xdr;

pub use message::{
    AUTH_TYPE_LIST_MAX, CPUMAP_MAX, CPUMAPS_MAX, ERROR_DOMAIN_RPC, ERROR_LEVEL_ERROR, HEADER_LEN,
    Header, LIST_MAX, MESSAGE_MAX, MESSAGES_MAX, Message, MessageType, RemoteError,
    SECURITY_LABEL_MAX, SECURITY_MODEL_MAX, STRING_MAX, Status, VCPUINFO_MAX, WireDomain,
    WireNetwork, read_message,
};
pub use procedures::{
    COVERAGE_BEGIN, COVERAGE_END, FLAGS, Flags, FlagsInfo, LOCAL_ONLY, PROCEDURES, Procedure,
    ProcedureInfo, Serves, coverage_table, flags_of, procedure_for, refused_flags,
    with_fresh_coverage,
};

/// The REMOTE program (`REMOTE_PROGRAM`).
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
/// Its version (`REMOTE_PROTOCOL_VERSION`).
pub const REMOTE_PROTOCOL_VERSION: u32 = 1;
/// The keepalive program (`KEEPALIVE_PROGRAM`, "keep" in ASCII).
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
/// Its version.
pub const KEEPALIVE_PROTOCOL_VERSION: u32 = 1;
/// Keepalive: "are you there?" (a message, no payload).
pub const KEEPALIVE_PROC_PING: i32 = 1;
/// Keepalive: the answer to a ping.
pub const KEEPALIVE_PROC_PONG: i32 = 2;

/// `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`: the feature a client asks about before it sends pings.
pub const FEATURE_PROGRAM_KEEPALIVE: i32 = 10;
/// `VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK`: the server filters events by callback id, so
/// clients register with `CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY`.
pub const FEATURE_REMOTE_EVENT_CALLBACK: i32 = 14;
/// `REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE`: the server's message for a domain lifecycle event to
/// a callback registered the old way (no callback id).
pub const PROC_DOMAIN_EVENT_LIFECYCLE: i32 = 107;
/// `REMOTE_PROC_NETWORK_EVENT_LIFECYCLE`: a network lifecycle event (with its callback id).
pub const PROC_NETWORK_EVENT_LIFECYCLE: i32 = 315;
/// `REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE`: a domain lifecycle event with its callback id.
pub const PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE: i32 = 318;
/// `VIR_DOMAIN_EVENT_ID_LIFECYCLE`: the one domain event id virtkitd sends.
pub const DOMAIN_EVENT_ID_LIFECYCLE: i32 = 0;
/// `VIR_NETWORK_EVENT_ID_LIFECYCLE`: the one network event id virtkitd sends.
pub const NETWORK_EVENT_ID_LIFECYCLE: i32 = 0;
/// `VIR_CONNECT_RO`: the read-only flag of CONNECT_OPEN.
pub const CONNECT_RO: u32 = 1;
/// `REMOTE_AUTH_NONE`.
pub const AUTH_NONE: i32 = 0;

/// What can go wrong reading a message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a valid message or payload.
    #[error("Malformed message: {0}")]
    Malformed(String),
    /// A message longer than the protocol allows.
    #[error("Message of {0} bytes exceeds the limit of {MESSAGE_MAX} bytes")]
    TooLarge(usize),
    /// Reading failed.
    #[error("Read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
