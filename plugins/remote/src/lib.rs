//! The remote driver: virtkit as a client of libvirt's RPC protocol, so that `virtkit -c
//! 'test+unix:///default?socket=/run/virtkit/virtkit-sock'` manages a node served by virtkitd
//! or by libvirt's own libvirtd.
//!
//! The core routes every URI with a transport (`+unix`, `+ssh`) or a host name to this driver
//! (`libvirtkit_driver_remote.so`). With `+unix` it connects to the socket named by `?socket=`
//! (libvirt's `/run/libvirt/libvirt-sock`, or its `-ro` twin for a read-only connection, when
//! none is given); with `+ssh` it runs the system's ssh client, which runs `virtkitd --stdio`,
//! libvirt's `virt-ssh-helper` or `nc` on the remote host ([`ssh`]). Over either, it checks that
//! the daemon asks for no authentication (`AUTH_LIST`), and opens the URI without its
//! transport and the client-side parameters (`test:///default`) on the daemon
//! (`CONNECT_OPEN`). Each operation is then one call of the REMOTE program, with the procedure
//! numbers of virtkit-rpc's list; the daemon's errors come back with their libvirt codes and
//! messages. `+tcp`, `+tls` and host names without a transport are refused as not supported
//! yet.
#![forbid(unsafe_code)]

mod client;
mod ops;
pub mod ssh;
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

/// How a remote URI is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A unix socket on this host (`+unix`).
    Unix(std::path::PathBuf),
    /// Through the system's ssh client (`+ssh`), to `host`.
    Ssh {
        /// The host, as the ssh client is given it.
        host: String,
        /// The ssh client and its arguments.
        command: ssh::SshCommand,
    },
}

/// The URI opened on the daemon: the remote URI without its transport, host and the
/// client-side parameters (`test:///default`), or `?name=` when given.
fn remote_name(u: &Uri) -> String {
    if let Some(n) = u.param("name") {
        return n.to_string();
    }
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

/// How to reach the daemon and what to open there, from a remote URI; `None` for a URI this
/// driver does not serve (no transport and no host).
pub fn plan(uri: &str, read_only: bool) -> Result<Option<(Route, String)>> {
    let u = Uri::parse(uri)?;
    let name = remote_name(&u);
    match (u.transport.as_deref(), u.host.as_deref()) {
        (None, None) => Ok(None),
        (Some("unix"), Some(_)) => Err(Error::invalid_arg(
            "a +unix URI names no host: the socket is local",
        )),
        (Some("unix"), None) => {
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
            Ok(Some((Route::Unix(socket), name)))
        }
        (Some("ssh"), host) => {
            // libvirt 9.0's client gives its helper the same URI as the daemon.
            let command = ssh::command(&u, &name, read_only)?;
            let host = host.unwrap_or("localhost").to_string();
            Ok(Some((Route::Ssh { host, command }, name)))
        }
        (Some(t), _) => Err(Error::no_support(format!(
            "the remote driver does not support the '{t}' transport yet (only unix and ssh)"
        ))),
        (None, Some(h)) => Err(Error::no_support(format!(
            "the remote driver does not support TLS connections to '{h}' yet (only unix and ssh)"
        ))),
    }
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
        let Some((route, name)) = plan(uri, read_only)? else {
            return Ok(None);
        };
        let stream: Box<dyn transport::Transport> = match route {
            Route::Unix(socket) => Box::new(transport::UnixTransport::connect(&socket)?),
            Route::Ssh { host, command } => Box::new(ssh::SshTransport::spawn(&command, &host)?),
        };
        let client = Client::new(stream);
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
        let unix = |p: &str| Route::Unix(p.into());
        assert_eq!(
            plan("test+unix:///default?socket=/tmp/s", false).unwrap(),
            Some((unix("/tmp/s"), "test:///default".into()))
        );
        assert_eq!(
            plan("qemu+unix:///system", true).unwrap(),
            Some((
                unix(&format!("{DEFAULT_SOCKET}-ro")),
                "qemu:///system".into()
            ))
        );
        assert_eq!(
            plan("test+unix:///default?socket=/s&mode=legacy&x=1", false).unwrap(),
            Some((unix("/s"), "test:///default?x=1".into()))
        );
        let Some((Route::Ssh { host, command }, name)) = plan(
            "test+ssh://u@node1:22/default?keyfile=/k&x=1&no_tty=1",
            false,
        )
        .unwrap() else {
            panic!("an ssh URI goes through ssh")
        };
        assert_eq!(
            (host.as_str(), name.as_str()),
            ("node1", "test:///default?x=1")
        );
        assert_eq!(command.program, "ssh");
        assert!(command.args.contains(&"node1".to_string()), "{command:?}");
        assert_eq!(plan("test:///default", false).unwrap(), None);
        for (uri, needle) in [
            ("test+tls://host/default", "'tls' transport"),
            ("test+tcp://host/default", "'tcp' transport"),
            ("test+ssh://host/default?proxy=x", "Unknown proxy type"),
            ("xen://node1/", "TLS connections to 'node1'"),
            ("test+unix:///default?socket=rel", "absolute"),
        ] {
            let e = plan(uri, false).unwrap_err();
            assert!(e.message.contains(needle), "{uri}: {e}");
        }
    }
}
