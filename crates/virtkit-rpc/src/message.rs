//! One RPC message: the length word, the header and the payload, and the types every program
//! shares (the error record, domain and network references).

use std::io::Read;

use crate::xdr::{Decoder, Encoder};
use crate::{Error, Result};

/// The largest message, length word included: libvirt's `VIR_NET_MESSAGE_MAX` (32 MiB).
pub const MESSAGE_MAX: usize = 32 * 1024 * 1024;
/// The length word and the header: the smallest valid message.
pub const HEADER_LEN: usize = 4 + 24;
/// The longest string the REMOTE program carries (`REMOTE_STRING_MAX`, 4 MiB).
pub const STRING_MAX: usize = 4 * 1024 * 1024;
/// Longest lists of domain ids, domain names and network names (`REMOTE_*_LIST_MAX`).
pub const LIST_MAX: usize = 16384;
/// Longest CPU map of one vCPU (`REMOTE_CPUMAP_MAX`).
pub const CPUMAP_MAX: usize = 256;
/// Most vCPU records in one reply (`REMOTE_VCPUINFO_MAX`).
pub const VCPUINFO_MAX: usize = 16384;
/// Longest CPU maps of all vCPUs together (`REMOTE_CPUMAPS_MAX`).
pub const CPUMAPS_MAX: usize = 8_388_608;
/// Longest security model and DOI (`VIR_SECURITY_MODEL_BUFLEN`, `VIR_SECURITY_DOI_BUFLEN`).
pub const SECURITY_MODEL_MAX: usize = 257;
/// Longest security label (`VIR_SECURITY_LABEL_BUFLEN`).
pub const SECURITY_LABEL_MAX: usize = 4097;
/// Most messages of one domain (`REMOTE_DOMAIN_MESSAGES_MAX`).
pub const MESSAGES_MAX: usize = 2048;
/// Most authentication types in an AUTH_LIST reply.
pub const AUTH_TYPE_LIST_MAX: usize = 20;

/// libvirt's error domain for the RPC layer (`VIR_FROM_RPC`).
pub const ERROR_DOMAIN_RPC: i32 = 7;
/// The error level every reply carries (`VIR_ERR_ERROR`).
pub const ERROR_LEVEL_ERROR: i32 = 2;

/// The kind of a message (`virNetMessageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// Client → server: a call.
    Call,
    /// Server → client: the reply to a call.
    Reply,
    /// Either way: an asynchronous message (events, keepalive).
    Message,
    /// Stream data.
    Stream,
    /// A call with passed file descriptors.
    CallWithFds,
    /// A reply with passed file descriptors.
    ReplyWithFds,
}

impl MessageType {
    /// The wire number.
    pub fn raw(self) -> u32 {
        match self {
            MessageType::Call => 0,
            MessageType::Reply => 1,
            MessageType::Message => 2,
            MessageType::Stream => 3,
            MessageType::CallWithFds => 4,
            MessageType::ReplyWithFds => 5,
        }
    }

    /// From the wire number.
    pub fn from_raw(v: u32) -> Option<MessageType> {
        Some(match v {
            0 => MessageType::Call,
            1 => MessageType::Reply,
            2 => MessageType::Message,
            3 => MessageType::Stream,
            4 => MessageType::CallWithFds,
            5 => MessageType::ReplyWithFds,
            _ => return None,
        })
    }
}

/// The status of a message (`virNetMessageStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success (always, for calls).
    Ok,
    /// A failed call: a [`RemoteError`] is the payload.
    Error,
    /// More stream data follows.
    Continue,
}

impl Status {
    /// The wire number.
    pub fn raw(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::Error => 1,
            Status::Continue => 2,
        }
    }

    /// From the wire number.
    pub fn from_raw(v: u32) -> Option<Status> {
        Some(match v {
            0 => Status::Ok,
            1 => Status::Error,
            2 => Status::Continue,
            _ => return None,
        })
    }
}

/// The message header (`virNetMessageHeader`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The program (REMOTE, keepalive, ...).
    pub program: u32,
    /// The program's version.
    pub version: u32,
    /// The procedure within the program.
    pub procedure: i32,
    /// Call, reply, message, ...
    pub message_type: MessageType,
    /// Set by the caller; a reply carries its call's serial.
    pub serial: u32,
    /// Ok, error or continue.
    pub status: Status,
}

impl Header {
    /// The header of the reply to this call.
    pub fn reply(&self, status: Status) -> Header {
        Header {
            message_type: MessageType::Reply,
            status,
            ..*self
        }
    }

    fn encode(&self, e: &mut Encoder) {
        e.u32(self.program)
            .u32(self.version)
            .i32(self.procedure)
            .u32(self.message_type.raw())
            .u32(self.serial)
            .u32(self.status.raw());
    }
}

/// A decoded message: its header and its payload (still XDR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The payload bytes after the header.
    pub payload: Vec<u8>,
}

impl Message {
    /// Decodes one whole message, length word included. The length word must match the
    /// buffer's length and lie within [`HEADER_LEN`]..=[`MESSAGE_MAX`]; the header's type and
    /// status must be known values.
    pub fn decode(bytes: &[u8]) -> Result<Message> {
        let mut d = Decoder::new(bytes);
        let len = d.u32()? as usize;
        check_length(len)?;
        if len != bytes.len() {
            return Err(Error::Malformed(format!(
                "length word says {len} bytes, the message has {}",
                bytes.len()
            )));
        }
        let program = d.u32()?;
        let version = d.u32()?;
        let procedure = d.i32()?;
        let raw_type = d.u32()?;
        let message_type = MessageType::from_raw(raw_type)
            .ok_or_else(|| Error::Malformed(format!("unknown message type {raw_type}")))?;
        let serial = d.u32()?;
        let raw_status = d.u32()?;
        let status = Status::from_raw(raw_status)
            .ok_or_else(|| Error::Malformed(format!("unknown message status {raw_status}")))?;
        Ok(Message {
            header: Header {
                program,
                version,
                procedure,
                message_type,
                serial,
                status,
            },
            payload: bytes[HEADER_LEN..].to_vec(),
        })
    }

    /// Encodes a message: the length word, the header and `payload`. Fails when the result
    /// would exceed [`MESSAGE_MAX`].
    pub fn encode(header: &Header, payload: &[u8]) -> Result<Vec<u8>> {
        let len = HEADER_LEN + payload.len();
        if len > MESSAGE_MAX {
            return Err(Error::TooLarge(len));
        }
        let mut e = Encoder::with_buffer(Vec::with_capacity(len));
        e.u32(len as u32);
        header.encode(&mut e);
        let mut out = e.into_bytes();
        out.extend_from_slice(payload);
        Ok(out)
    }
}

fn check_length(len: usize) -> Result<()> {
    if len < HEADER_LEN {
        return Err(Error::Malformed(format!(
            "length word {len} is shorter than a header ({HEADER_LEN} bytes)"
        )));
    }
    if len > MESSAGE_MAX {
        return Err(Error::TooLarge(len));
    }
    Ok(())
}

/// Reads one message from a stream: the length word (checked before anything is allocated),
/// then exactly that many bytes. `Ok(None)` at a clean end of stream before a message starts.
pub fn read_message(r: &mut impl Read) -> Result<Option<Vec<u8>>> {
    let mut word = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut word[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(Error::Malformed(
                    "end of stream inside a length word".into(),
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    let len = u32::from_be_bytes(word) as usize;
    check_length(len)?;
    let mut buf = vec![0u8; len];
    buf[..4].copy_from_slice(&word);
    r.read_exact(&mut buf[4..]).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Malformed(format!("end of stream inside a message of {len} bytes"))
        } else {
            Error::Io(e)
        }
    })?;
    Ok(Some(buf))
}

/// A domain reference on the wire (`remote_nonnull_domain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireDomain {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: [u8; 16],
    /// Id, or -1.
    pub id: i32,
}

impl WireDomain {
    /// Encodes it.
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.name).opaque_fixed(&self.uuid).i32(self.id);
    }
    /// Decodes it.
    pub fn decode(d: &mut Decoder<'_>) -> Result<WireDomain> {
        Ok(WireDomain {
            name: d.string(STRING_MAX)?,
            uuid: d.opaque_fixed::<16>()?,
            id: d.i32()?,
        })
    }
    /// The fewest bytes one takes on the wire.
    pub const MIN_WIRE_LEN: usize = 4 + 16 + 4;
}

/// A network reference on the wire (`remote_nonnull_network`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireNetwork {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: [u8; 16],
}

impl WireNetwork {
    /// Encodes it.
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.name).opaque_fixed(&self.uuid);
    }
    /// Decodes it.
    pub fn decode(d: &mut Decoder<'_>) -> Result<WireNetwork> {
        Ok(WireNetwork {
            name: d.string(STRING_MAX)?,
            uuid: d.opaque_fixed::<16>()?,
        })
    }
    /// The fewest bytes one takes on the wire.
    pub const MIN_WIRE_LEN: usize = 4 + 16;
}

/// The payload of an error reply (`remote_error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// libvirt's `virErrorNumber`.
    pub code: i32,
    /// libvirt's `virErrorDomain`.
    pub domain: i32,
    /// The message, shown by clients as it is.
    pub message: Option<String>,
    /// `VIR_ERR_ERROR` (2) or `VIR_ERR_WARNING` (1).
    pub level: i32,
    /// The domain concerned (unused by libvirt's clients).
    pub dom: Option<WireDomain>,
    /// Extra strings.
    pub str1: Option<String>,
    /// Extra strings.
    pub str2: Option<String>,
    /// Extra strings.
    pub str3: Option<String>,
    /// Extra integers.
    pub int1: i32,
    /// Extra integers.
    pub int2: i32,
    /// The network concerned (unused by libvirt's clients).
    pub net: Option<WireNetwork>,
}

impl RemoteError {
    /// An error with a code, a domain and a message, the rest empty.
    pub fn new(code: i32, domain: i32, message: impl Into<String>) -> RemoteError {
        RemoteError {
            code,
            domain,
            message: Some(message.into()),
            level: ERROR_LEVEL_ERROR,
            dom: None,
            str1: None,
            str2: None,
            str3: None,
            int1: 0,
            int2: 0,
            net: None,
        }
    }

    /// Encodes it.
    pub fn encode(&self, e: &mut Encoder) {
        e.i32(self.code).i32(self.domain);
        e.opt_string(self.message.as_deref());
        e.i32(self.level);
        match &self.dom {
            Some(d) => {
                e.bool(true);
                d.encode(e);
            }
            None => {
                e.bool(false);
            }
        }
        e.opt_string(self.str1.as_deref())
            .opt_string(self.str2.as_deref())
            .opt_string(self.str3.as_deref())
            .i32(self.int1)
            .i32(self.int2);
        match &self.net {
            Some(n) => {
                e.bool(true);
                n.encode(e);
            }
            None => {
                e.bool(false);
            }
        }
    }

    /// Decodes it.
    pub fn decode(d: &mut Decoder<'_>) -> Result<RemoteError> {
        let code = d.i32()?;
        let domain = d.i32()?;
        let message = d.opt_string(STRING_MAX)?;
        let level = d.i32()?;
        let dom = if d.bool()? {
            Some(WireDomain::decode(d)?)
        } else {
            None
        };
        let str1 = d.opt_string(STRING_MAX)?;
        let str2 = d.opt_string(STRING_MAX)?;
        let str3 = d.opt_string(STRING_MAX)?;
        let int1 = d.i32()?;
        let int2 = d.i32()?;
        let net = if d.bool()? {
            Some(WireNetwork::decode(d)?)
        } else {
            None
        };
        Ok(RemoteError {
            code,
            domain,
            message,
            level,
            dom,
            str1,
            str2,
            str3,
            int1,
            int2,
            net,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            program: crate::REMOTE_PROGRAM,
            version: 1,
            procedure: 1,
            message_type: MessageType::Call,
            serial: 7,
            status: Status::Ok,
        }
    }

    #[test]
    fn a_message_round_trips() {
        let bytes = Message::encode(&header(), &[0, 0, 0, 5]).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 4);
        assert_eq!(&bytes[..4], &(32u32).to_be_bytes());
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.header, header());
        assert_eq!(m.payload, vec![0, 0, 0, 5]);
        let again = read_message(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn lengths_types_and_statuses_are_checked() {
        let mut bytes = Message::encode(&header(), &[]).unwrap();
        assert!(Message::decode(&bytes[..20]).is_err());
        bytes[19] = 9; // message type
        assert!(
            Message::decode(&bytes)
                .unwrap_err()
                .to_string()
                .contains("type 9")
        );
        let too_big = ((MESSAGE_MAX + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_message(&mut &too_big[..]),
            Err(Error::TooLarge(_))
        ));
        let too_small = 3u32.to_be_bytes();
        assert!(read_message(&mut &too_small[..]).is_err());
        assert!(read_message(&mut &[][..]).unwrap().is_none());
        assert!(read_message(&mut &[0u8, 0][..]).is_err());
        let short = {
            let mut b = Message::encode(&header(), &[1, 2, 3, 4]).unwrap();
            b.truncate(30);
            b
        };
        assert!(read_message(&mut &short[..]).is_err());
    }

    #[test]
    fn an_error_round_trips() {
        let mut err = RemoteError::new(3, ERROR_DOMAIN_RPC, "unknown procedure: 9999");
        err.dom = Some(WireDomain {
            name: "d".into(),
            uuid: [1; 16],
            id: -1,
        });
        let mut e = Encoder::new();
        err.encode(&mut e);
        let bytes = e.into_bytes();
        let mut d = Decoder::new(&bytes);
        assert_eq!(RemoteError::decode(&mut d).unwrap(), err);
        d.finish().unwrap();
    }
}
