//! One connection to a daemon speaking libvirt's RPC protocol: calls of the REMOTE program, one
//! at a time, each answered by the reply with its serial; keepalive pings are answered on the way.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_rpc::xdr::Decoder;
use virtkit_rpc::{
    Header, KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM,
    KEEPALIVE_PROTOCOL_VERSION, Message, MessageType, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION,
    RemoteError, Status, read_message,
};

use crate::transport::{ReadBy, Transport};

/// How long a reply may take before the connection counts as broken.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection to a daemon.
pub struct Client {
    inner: Mutex<Inner>,
}

struct Inner {
    stream: Box<dyn Transport>,
    serial: u32,
    broken: Option<String>,
}

fn rpc_error(message: String) -> Error {
    Error::new(
        ErrorCode::InternalError,
        format!("internal error: {message}"),
    )
}

/// A daemon's error reply as the error the core passes on: libvirt's code and message as sent.
fn from_remote(e: RemoteError) -> Error {
    Error::new(
        ErrorCode::from_raw(e.code),
        e.message
            .unwrap_or_else(|| "unknown error from the daemon".into()),
    )
}

impl Client {
    /// A client over a connected transport.
    pub fn new(stream: Box<dyn Transport>) -> Client {
        Client {
            inner: Mutex::new(Inner {
                stream,
                serial: 0,
                broken: None,
            }),
        }
    }

    /// Calls `procedure` with an encoded argument record; the reply's payload, or the daemon's
    /// error. A connection that failed once stays failed.
    pub fn call(&self, procedure: i32, args: &[u8]) -> Result<Vec<u8>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = &inner.broken {
            return Err(rpc_error(format!(
                "the connection to the daemon is broken: {why}"
            )));
        }
        match inner.call(procedure, args) {
            Ok(r) => r,
            Err(why) => {
                inner.broken = Some(why.clone());
                inner.stream.shutdown();
                Err(rpc_error(why))
            }
        }
    }
}

impl Inner {
    /// The outer error is the connection's failure; the inner result is the call's.
    fn call(
        &mut self,
        procedure: i32,
        args: &[u8],
    ) -> std::result::Result<Result<Vec<u8>>, String> {
        self.serial = self.serial.wrapping_add(1);
        let serial = self.serial;
        let header = Header {
            program: REMOTE_PROGRAM,
            version: REMOTE_PROTOCOL_VERSION,
            procedure,
            message_type: MessageType::Call,
            serial,
            status: Status::Ok,
        };
        let bytes = Message::encode(&header, args).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        self.stream
            .write_all(&bytes, deadline)
            .map_err(|e| format!("cannot send a call: {e}"))?;
        loop {
            let mut r = ReadBy {
                transport: &mut *self.stream,
                deadline,
            };
            let bytes = read_message(&mut r)
                .map_err(|e| format!("cannot read a reply: {e}"))?
                .ok_or_else(|| "the daemon closed the connection".to_string())?;
            let m = Message::decode(&bytes).map_err(|e| e.to_string())?;
            let h = m.header;
            if h.program == KEEPALIVE_PROGRAM {
                if h.procedure == KEEPALIVE_PROC_PING {
                    let pong = Header {
                        program: KEEPALIVE_PROGRAM,
                        version: KEEPALIVE_PROTOCOL_VERSION,
                        procedure: KEEPALIVE_PROC_PONG,
                        message_type: MessageType::Message,
                        serial: 0,
                        status: Status::Ok,
                    };
                    let b = Message::encode(&pong, &[]).map_err(|e| e.to_string())?;
                    self.stream
                        .write_all(&b, deadline)
                        .map_err(|e| format!("cannot answer a keepalive: {e}"))?;
                }
                continue;
            }
            if h.program != REMOTE_PROGRAM || h.message_type != MessageType::Reply {
                // Events and streams are not asked for; anything else is skipped.
                continue;
            }
            if h.serial != serial || h.procedure != procedure {
                return Err(format!(
                    "reply for serial {} procedure {} while waiting for serial {serial} procedure {procedure}",
                    h.serial, h.procedure
                ));
            }
            return Ok(match h.status {
                Status::Ok => Ok(m.payload),
                Status::Error => {
                    let mut d = Decoder::new(&m.payload);
                    let e = RemoteError::decode(&mut d).map_err(|e| e.to_string())?;
                    Err(from_remote(e))
                }
                Status::Continue => return Err("a stream reply to a call".into()),
            });
        }
    }
}
