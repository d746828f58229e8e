//! The remote driver: virtkit as a client of libvirt's RPC protocol, so that `virtkit -c
//! 'test+unix:///default?socket=/run/virtkit/virtkit-sock'` manages a node served by virtkitd
//! or by libvirt's own libvirtd.
//!
//! The core routes every URI with a transport (`+unix`) or a host name to this driver
//! (`libvirtkit_driver_remote.so`). It connects to the socket named by `?socket=` (libvirt's
//! `/run/libvirt/libvirt-sock`, or its `-ro` twin for a read-only connection, when none is
//! given), checks that the daemon asks for no authentication (`AUTH_LIST`), and opens the URI
//! without its transport and the client-side parameters (`test:///default`) on the daemon
//! (`CONNECT_OPEN`). Each operation is then one call of the REMOTE program, with the procedure
//! numbers of virtkit-rpc's list; the daemon's errors come back with their libvirt codes and
//! messages. Only the `unix` transport exists today: `+tcp`, `+tls`, `+ssh` and host names are
//! refused as not supported yet.
#![forbid(unsafe_code)]

mod client;
mod ops;
pub mod transport;

use virtkit_driver::{Driver, DriverInfo, Error, ErrorCode, Ops, Result, Uri, abi};

pub use client::Client;

/// libvirt's default socket of the system daemon.
pub const DEFAULT_SOCKET: &str = "/run/libvirt/libvirt-sock";

/// The query parameters libvirt's remote driver consumes itself (not sent to the daemon).
const CLIENT_PARAMS: &[&str] = &[
    "name",
    "socket",
    "command",
    "netcat",
    "keyfile",
    "sshauth",
    "no_verify",
    "no_tty",
    "pkipath",
    "known_hosts",
    "known_hosts_verify",
    "mode",
    "proxy",
    "tls_priority",
];

/// The remote driver.
pub struct RemoteDriver;

/// An open connection: the daemon's socket, with the URI opened there.
pub struct RemoteConn {
    client: Client,
}

impl Drop for RemoteConn {
    fn drop(&mut self) {
        let _ = self
            .client
            .call(virtkit_rpc::Procedure::ConnectClose.number(), &[]);
    }
}

/// Where to connect and what to open there, from a remote URI; `None` for a URI this driver
/// does not serve (no transport and no host).
pub fn plan(uri: &str, read_only: bool) -> Result<Option<(std::path::PathBuf, String)>> {
    let u = Uri::parse(uri)?;
    match (u.transport.as_deref(), u.host.as_deref()) {
        (None, None) => return Ok(None),
        (Some("unix"), _) => {}
        (Some(t), _) => {
            return Err(Error::no_support(format!(
                "the remote driver does not support the '{t}' transport yet (only unix)"
            )));
        }
        (None, Some(h)) => {
            return Err(Error::no_support(format!(
                "the remote driver does not support TLS connections to '{h}' yet (only unix)"
            )));
        }
    }
    if u.host.is_some() {
        return Err(Error::invalid_arg(
            "a +unix URI names no host: the socket is local",
        ));
    }
    let socket = match u.param("socket") {
        Some(s) if s.starts_with('/') => std::path::PathBuf::from(s),
        Some(s) => {
            return Err(Error::invalid_arg(format!(
                "socket '{s}' is not an absolute path"
            )));
        }
        None if read_only => std::path::PathBuf::from(format!("{DEFAULT_SOCKET}-ro")),
        None => std::path::PathBuf::from(DEFAULT_SOCKET),
    };
    let name = match u.param("name") {
        Some(n) => n.to_string(),
        None => {
            let rest: Vec<String> = u
                .params
                .iter()
                .filter(|(k, _)| !CLIENT_PARAMS.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let path = if u.path.is_empty() { "/" } else { &u.path };
            let mut n = format!("{}://{path}", u.scheme);
            if !rest.is_empty() {
                n.push('?');
                n.push_str(&rest.join("&"));
            }
            n
        }
    };
    Ok(Some((socket, name)))
}

impl Driver for RemoteDriver {
    type Conn = RemoteConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE,
        error_domain: abi::error_domain::REMOTE,
        ..DriverInfo::new("remote", env!("CARGO_PKG_VERSION"), &["remote"])
    };
    const OPS: Ops<RemoteConn> = ops::OPS;

    fn open(uri: &str, read_only: bool) -> Result<Option<RemoteConn>> {
        let Some((socket, name)) = plan(uri, read_only)? else {
            return Ok(None);
        };
        let client = Client::new(Box::new(transport::UnixTransport::connect(&socket)?));
        ops::authenticate(&client)?;
        ops::open_remote(&client, &name, read_only)?;
        Ok(Some(RemoteConn { client }))
    }
}

fn bad_reply(e: virtkit_rpc::Error) -> Error {
    Error::new(
        ErrorCode::InternalError,
        format!("internal error: unexpected reply from the daemon: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_uris_name_a_socket_and_what_to_open_there() {
        assert_eq!(
            plan("test+unix:///default?socket=/tmp/s", false).unwrap(),
            Some(("/tmp/s".into(), "test:///default".into()))
        );
        assert_eq!(
            plan("qemu+unix:///system", true).unwrap(),
            Some((
                format!("{DEFAULT_SOCKET}-ro").into(),
                "qemu:///system".into()
            ))
        );
        assert_eq!(
            plan("test+unix:///default?socket=/s&mode=legacy&x=1", false).unwrap(),
            Some(("/s".into(), "test:///default?x=1".into()))
        );
        assert_eq!(plan("test:///default", false).unwrap(), None);
        for (uri, needle) in [
            ("test+tls://host/default", "'tls' transport"),
            ("test+ssh://host/default", "'ssh' transport"),
            ("xen://node1/", "TLS connections to 'node1'"),
            ("test+unix:///default?socket=rel", "absolute"),
        ] {
            let e = plan(uri, false).unwrap_err();
            assert!(e.message.contains(needle), "{uri}: {e}");
        }
    }
}
