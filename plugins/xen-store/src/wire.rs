//! The xenstore wire protocol (Xen's `xs_wire.h`), without I/O.
//!
//! Every message is a 16-byte header — type, request id, transaction id, payload length, each a
//! 32-bit integer in the host's byte order (the store and its clients share a machine) — followed
//! by at most [`PAYLOAD_MAX`] bytes of payload. Payload fields are NUL-terminated strings, except
//! a written value and a read reply, which run to the end of the payload. A failed request is
//! answered with an [`MsgType::Error`] message carrying an errno name (`ENOENT\0`).

use std::fmt;

/// Size of the message header.
pub const HEADER_LEN: usize = 16;
/// The protocol's limit on a payload (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = 4096;
/// The longest absolute path (`XENSTORE_ABS_PATH_MAX`).
pub const ABS_PATH_MAX: usize = 3072;
/// The longest relative path (`XENSTORE_REL_PATH_MAX`).
pub const REL_PATH_MAX: usize = 2048;

/// Message types, numbered as in `xs_wire.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MsgType {
    /// `XS_CONTROL` (formerly `XS_DEBUG`).
    Control = 0,
    /// `XS_DIRECTORY`: the children of a node.
    Directory = 1,
    /// `XS_READ`: a node's value.
    Read = 2,
    /// `XS_GET_PERMS`.
    GetPerms = 3,
    /// `XS_WATCH`: path and token.
    Watch = 4,
    /// `XS_UNWATCH`.
    Unwatch = 5,
    /// `XS_TRANSACTION_START`.
    TransactionStart = 6,
    /// `XS_TRANSACTION_END`: `T` commits, `F` aborts.
    TransactionEnd = 7,
    /// `XS_INTRODUCE`.
    Introduce = 8,
    /// `XS_RELEASE`.
    Release = 9,
    /// `XS_GET_DOMAIN_PATH`.
    GetDomainPath = 10,
    /// `XS_WRITE`: path and value.
    Write = 11,
    /// `XS_MKDIR`.
    Mkdir = 12,
    /// `XS_RM`.
    Rm = 13,
    /// `XS_SET_PERMS`.
    SetPerms = 14,
    /// `XS_WATCH_EVENT`: path and token, sent unasked.
    WatchEvent = 15,
    /// `XS_ERROR`: an errno name.
    Error = 16,
    /// `XS_IS_DOMAIN_INTRODUCED`.
    IsDomainIntroduced = 17,
    /// `XS_RESUME`.
    Resume = 18,
    /// `XS_SET_TARGET`.
    SetTarget = 19,
    /// `XS_RESET_WATCHES` (was `XS_RESTRICT`).
    ResetWatches = 21,
    /// `XS_DIRECTORY_PART`.
    DirectoryPart = 22,
}

impl MsgType {
    /// The type numbered `v`, if the protocol has one.
    pub fn from_raw(v: u32) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Control,
            1 => Directory,
            2 => Read,
            3 => GetPerms,
            4 => Watch,
            5 => Unwatch,
            6 => TransactionStart,
            7 => TransactionEnd,
            8 => Introduce,
            9 => Release,
            10 => GetDomainPath,
            11 => Write,
            12 => Mkdir,
            13 => Rm,
            14 => SetPerms,
            15 => WatchEvent,
            16 => Error,
            17 => IsDomainIntroduced,
            18 => Resume,
            19 => SetTarget,
            21 => ResetWatches,
            22 => DirectoryPart,
            _ => return None,
        })
    }
}

/// The errno names a store answers with (`xsd_errors`), in xs_wire.h's order.
pub const ERRNO_NAMES: &[&str] = &[
    "EINVAL",
    "EACCES",
    "EEXIST",
    "EISDIR",
    "ENOENT",
    "ENOMEM",
    "ENOSPC",
    "EIO",
    "ENOTEMPTY",
    "ENOSYS",
    "EROFS",
    "EBUSY",
    "EAGAIN",
    "EISCONN",
    "E2BIG",
    "EPERM",
];

/// What is wrong with bytes that claim to be a xenstore message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer than [`HEADER_LEN`] bytes.
    #[error("short xenstore header ({0} of 16 bytes)")]
    ShortHeader(usize),
    /// The header names a type the protocol does not have.
    #[error("unknown xenstore message type {0}")]
    UnknownType(u32),
    /// The header's length is over [`PAYLOAD_MAX`].
    #[error("xenstore payload of {0} bytes is over the protocol's limit of 4096")]
    TooLong(u32),
    /// The payload is shorter than the header says.
    #[error("xenstore payload cut short ({got} of {want} bytes)")]
    ShortPayload {
        /// Bytes present.
        got: usize,
        /// Bytes announced.
        want: usize,
    },
    /// A field is not NUL-terminated, not UTF-8, or missing.
    #[error("malformed xenstore {0} message")]
    Malformed(&'static str),
}

/// A message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The message type.
    pub kind: MsgType,
    /// The request id, echoed in the reply (0 for watch events).
    pub req_id: u32,
    /// The transaction id, 0 outside a transaction.
    pub tx_id: u32,
    /// The payload's length (at most [`PAYLOAD_MAX`]).
    pub len: u32,
}

impl Header {
    /// Reads a header; its length is checked against [`PAYLOAD_MAX`] before anything is
    /// allocated for the payload.
    pub fn decode(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError::ShortHeader(b.len()));
        }
        let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let raw = word(0);
        let kind = MsgType::from_raw(raw).ok_or(WireError::UnknownType(raw))?;
        let len = word(12);
        if len as usize > PAYLOAD_MAX {
            return Err(WireError::TooLong(len));
        }
        Ok(Header {
            kind,
            req_id: word(4),
            tx_id: word(8),
            len,
        })
    }

    /// The header's 16 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&(self.kind as u32).to_ne_bytes());
        out[4..8].copy_from_slice(&self.req_id.to_ne_bytes());
        out[8..12].copy_from_slice(&self.tx_id.to_ne_bytes());
        out[12..16].copy_from_slice(&self.len.to_ne_bytes());
        out
    }
}

/// A whole message: header fields and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub kind: MsgType,
    /// The request id.
    pub req_id: u32,
    /// The transaction id.
    pub tx_id: u32,
    /// The payload (at most [`PAYLOAD_MAX`] bytes).
    pub payload: Vec<u8>,
}

impl Message {
    /// A message; fails when the payload is over the protocol's limit.
    pub fn new(
        kind: MsgType,
        req_id: u32,
        tx_id: u32,
        payload: Vec<u8>,
    ) -> Result<Message, WireError> {
        if payload.len() > PAYLOAD_MAX {
            return Err(WireError::TooLong(
                u32::try_from(payload.len()).unwrap_or(u32::MAX),
            ));
        }
        Ok(Message {
            kind,
            req_id,
            tx_id,
            payload,
        })
    }

    /// A request whose payload is the given NUL-terminated fields followed by `tail` (a written
    /// value, not terminated).
    pub fn request(
        kind: MsgType,
        req_id: u32,
        tx_id: u32,
        fields: &[&str],
        tail: Option<&[u8]>,
    ) -> Result<Message, WireError> {
        let mut payload = Vec::new();
        for f in fields {
            if f.as_bytes().contains(&0) {
                return Err(WireError::Malformed("request (NUL inside a field)"));
            }
            payload.extend_from_slice(f.as_bytes());
            payload.push(0);
        }
        if let Some(t) = tail {
            payload.extend_from_slice(t);
        }
        Message::new(kind, req_id, tx_id, payload)
    }

    /// The header and payload as sent.
    pub fn encode(&self) -> Vec<u8> {
        let h = Header {
            kind: self.kind,
            req_id: self.req_id,
            tx_id: self.tx_id,
            len: self.payload.len() as u32,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Reads one whole message from the front of `b`; returns it and the bytes it used.
    pub fn decode(b: &[u8]) -> Result<(Message, usize), WireError> {
        let h = Header::decode(b)?;
        let want = h.len as usize;
        let rest = &b[HEADER_LEN..];
        if rest.len() < want {
            return Err(WireError::ShortPayload {
                got: rest.len(),
                want,
            });
        }
        Ok((
            Message {
                kind: h.kind,
                req_id: h.req_id,
                tx_id: h.tx_id,
                payload: rest[..want].to_vec(),
            },
            HEADER_LEN + want,
        ))
    }

    /// The payload split into its NUL-terminated fields (a trailing part with no NUL is
    /// malformed).
    pub fn fields(&self) -> Result<Vec<&str>, WireError> {
        split_fields(&self.payload, self.kind)
    }

    /// The payload as one string with no terminator (a read reply).
    pub fn text(&self) -> Result<&str, WireError> {
        std::str::from_utf8(&self.payload).map_err(|_| WireError::Malformed(kind_name(self.kind)))
    }

    /// For an error reply, its errno name (any trailing NUL removed).
    pub fn error_name(&self) -> Option<&str> {
        if self.kind != MsgType::Error {
            return None;
        }
        let p = self.payload.strip_suffix(&[0]).unwrap_or(&self.payload);
        std::str::from_utf8(p).ok()
    }
}

/// Splits a payload of NUL-terminated strings.
pub fn split_fields(payload: &[u8], kind: MsgType) -> Result<Vec<&str>, WireError> {
    if payload.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = payload.strip_suffix(&[0]) else {
        return Err(WireError::Malformed(kind_name(kind)));
    };
    body.split(|&c| c == 0)
        .map(|f| std::str::from_utf8(f).map_err(|_| WireError::Malformed(kind_name(kind))))
        .collect()
}

/// The protocol's name for a message type, for messages.
pub fn kind_name(kind: MsgType) -> &'static str {
    use MsgType::*;
    match kind {
        Control => "CONTROL",
        Directory => "DIRECTORY",
        Read => "READ",
        GetPerms => "GET_PERMS",
        Watch => "WATCH",
        Unwatch => "UNWATCH",
        TransactionStart => "TRANSACTION_START",
        TransactionEnd => "TRANSACTION_END",
        Introduce => "INTRODUCE",
        Release => "RELEASE",
        GetDomainPath => "GET_DOMAIN_PATH",
        Write => "WRITE",
        Mkdir => "MKDIR",
        Rm => "RM",
        SetPerms => "SET_PERMS",
        WatchEvent => "WATCH_EVENT",
        Error => "ERROR",
        IsDomainIntroduced => "IS_DOMAIN_INTRODUCED",
        Resume => "RESUME",
        SetTarget => "SET_TARGET",
        ResetWatches => "RESET_WATCHES",
        DirectoryPart => "DIRECTORY_PART",
    }
}

/// Who may do what with a node: `n` none, `r` read, `w` write, `b` both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `n`.
    None,
    /// `r`.
    Read,
    /// `w`.
    Write,
    /// `b`.
    Both,
}

/// One entry of a node's permissions: the first names the owner and what everyone else may do,
/// the others grant one domain more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    /// The access granted.
    pub access: Access,
    /// The domain.
    pub domid: u32,
}

impl Perm {
    /// Reads `r1`, `n0`, ….
    pub fn parse(s: &str) -> Option<Perm> {
        let mut c = s.chars();
        let access = match c.next()? {
            'n' => Access::None,
            'r' => Access::Read,
            'w' => Access::Write,
            'b' => Access::Both,
            _ => return None,
        };
        let digits = c.as_str();
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Perm {
            access,
            domid: digits.parse().ok()?,
        })
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self.access {
            Access::None => 'n',
            Access::Read => 'r',
            Access::Write => 'w',
            Access::Both => 'b',
        };
        write!(f, "{c}{}", self.domid)
    }
}

/// Checks a path as xenstored does: absolute (`/…`) or relative to the domain's home, or one of
/// the special `@` watch paths; printable ASCII letters, digits and `-/_@`; no `//`, no trailing
/// `/` except the root; within the length limits.
pub fn valid_path(p: &str) -> bool {
    if p.is_empty() {
        return false;
    }
    if let Some(special) = p.strip_prefix('@') {
        return p.len() <= ABS_PATH_MAX
            && special
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_@".contains(&b));
    }
    let max = if p.starts_with('/') {
        ABS_PATH_MAX
    } else {
        REL_PATH_MAX
    };
    if p.len() > max {
        return false;
    }
    if p != "/" && p.ends_with('/') || p.contains("//") {
        return false;
    }
    p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-/_@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A READ of `/local/domain/0/name` as libxenstore sends it, on a little-endian host.
    const READ_FIXTURE: &[u8] = b"\x02\0\0\0\x07\0\0\0\0\0\0\0\x15\0\0\0/local/domain/0/name\0";

    #[test]
    fn read_request_bytes() {
        if cfg!(target_endian = "big") {
            return;
        }
        let m = Message::request(MsgType::Read, 7, 0, &["/local/domain/0/name"], None).unwrap();
        assert_eq!(m.encode(), READ_FIXTURE.to_vec());
        let (back, used) = Message::decode(READ_FIXTURE).unwrap();
        assert_eq!(used, READ_FIXTURE.len());
        assert_eq!(back, m);
        assert_eq!(back.fields().unwrap(), ["/local/domain/0/name"]);
    }

    #[test]
    fn write_request_keeps_the_value_unterminated() {
        let m = Message::request(MsgType::Write, 1, 5, &["/a"], Some(b"x y")).unwrap();
        assert_eq!(&m.encode()[HEADER_LEN..], b"/a\0x y");
        assert_eq!(Header::decode(&m.encode()).unwrap().tx_id, 5);
    }

    #[test]
    fn header_limits() {
        let mut h = Header {
            kind: MsgType::Read,
            req_id: 0,
            tx_id: 0,
            len: 4096,
        }
        .encode();
        assert!(Header::decode(&h).is_ok());
        h[12..16].copy_from_slice(&4097u32.to_ne_bytes());
        assert_eq!(Header::decode(&h), Err(WireError::TooLong(4097)));
        h[0..4].copy_from_slice(&20u32.to_ne_bytes());
        assert_eq!(Header::decode(&h), Err(WireError::UnknownType(20)));
        assert_eq!(Header::decode(&h[..3]), Err(WireError::ShortHeader(3)));
        assert!(Message::new(MsgType::Write, 0, 0, vec![b'a'; 4097]).is_err());
    }

    #[test]
    fn short_payload_and_bad_fields() {
        let m = Message::request(MsgType::Directory, 1, 0, &["a", "b"], None).unwrap();
        let bytes = m.encode();
        assert!(matches!(
            Message::decode(&bytes[..bytes.len() - 1]),
            Err(WireError::ShortPayload { .. })
        ));
        let bad = Message::new(MsgType::Directory, 1, 0, b"a\0b".to_vec()).unwrap();
        assert_eq!(bad.fields(), Err(WireError::Malformed("DIRECTORY")));
        let bad = Message::new(MsgType::Directory, 1, 0, b"\xff\0".to_vec()).unwrap();
        assert!(bad.fields().is_err());
        assert!(Message::request(MsgType::Read, 1, 0, &["a\0b"], None).is_err());
    }

    #[test]
    fn error_names_and_perms() {
        let e = Message::new(MsgType::Error, 1, 0, b"ENOENT\0".to_vec()).unwrap();
        assert_eq!(e.error_name(), Some("ENOENT"));
        assert_eq!(ERRNO_NAMES.len(), 16);
        assert_eq!(Perm::parse("r12").unwrap().to_string(), "r12");
        assert_eq!(Perm::parse("n0").unwrap().access, Access::None);
        for bad in ["", "x1", "r", "r-1", "r1a", "r99999999999"] {
            assert_eq!(Perm::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths() {
        for ok in [
            "/",
            "/local/domain/0",
            "device/vbd",
            "@releaseDomain",
            "/vm/a-b_c",
        ] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in ["", "/a/", "/a//b", "/a b", "/a\u{e9}"] {
            assert!(!valid_path(bad), "{bad}");
        }
        assert!(!valid_path(&format!("/{}", "a".repeat(ABS_PATH_MAX))));
    }
}
