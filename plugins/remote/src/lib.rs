//! The remote driver: virtkit as a client of libvirt's RPC protocol, so that `virtkit -c
//! 'test+unix:///default?socket=/run/virtkit/virtkit-sock'` manages a node served by virtkitd
//! or by libvirt's own libvirtd.
//!
//! The core routes every URI with a transport (`+unix`, `+tcp`, `+tls`, `+ssh`) or a host name
//! to this driver (`libvirtkit_driver_remote.so`). [`plan`] reads the URI into a [`Route`] and the URI
//! to open on the daemon (without its transport, host and client-side parameters:
//! `test:///default`); [`connect`] opens the transport (`transport/`): the socket named by
//! `?socket=` (libvirt's `/run/libvirt/libvirt-sock`, or its `-ro` twin for a read-only
//! connection, when none is given), TCP to `host:16509`, TLS to `host:16514` with the x509
//! files of `?pkipath=` or libvirt's default locations (the server's certificate verified and
//! its name checked unless `no_verify=1`), or the system's ssh client, which runs
//! `virtkitd --stdio`, libvirt's `virt-ssh-helper` or `nc` on the remote host ([`ssh`]). The driver then checks that the daemon asks for no
//! authentication (`AUTH_LIST`) and opens the URI there (`CONNECT_OPEN`). Each operation is
//! one call of the REMOTE program, with the procedure numbers of virtkit-rpc's list; the
//! daemon's errors come back with their libvirt codes and messages.
#![forbid(unsafe_code)]

mod client;
mod ops;
pub mod ssh;
pub mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// libvirt's TCP port (`+tcp`).
pub const TCP_PORT: u16 = 16509;
/// libvirt's TLS port (`+tls`, and a host name without a transport).
pub const TLS_PORT: u16 = 16514;
/// How long connecting and the TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A unix socket (`+unix`, `?socket=`).
    Unix {
        /// The socket.
        socket: PathBuf,
    },
    /// Plain TCP (`+tcp`): neither encrypted nor authenticated.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// TLS over TCP (`+tls`, or a host without a transport), with x509 certificates.
    Tls {
        /// Host name or address; the server's certificate must name it.
        host: String,
        /// Port.
        port: u16,
        /// The CA certificate, the client certificate and key.
        pki: virtkit_tls::Pki,
        /// Whether the server's certificate is verified (`no_verify=1` turns it off).
        verify: bool,
    },
    /// Through the system's ssh client (`+ssh`).
    Ssh {
        /// The host, as the ssh client is given it (for messages).
        host: String,
        /// The ssh client and its arguments.
        command: ssh::SshCommand,
    },
}

/// Where to connect, and the URI to open there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// How to reach the daemon.
    pub route: Route,
    /// The URI sent in CONNECT_OPEN: without transport, host and client-side parameters.
    pub name: String,
}

fn flag(u: &Uri, key: &str) -> Result<bool> {
    match u.param(key) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(Error::invalid_arg(format!("'{key}={v}': expected 0 or 1"))),
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where to connect and what to open there, from a remote URI; `None` for a URI this driver
/// does not serve (no transport and no host).
pub fn plan(uri: &str, read_only: bool) -> Result<Option<Plan>> {
    let u = Uri::parse(uri)?;
    let host = || u.host.clone().unwrap_or_else(|| "localhost".into());
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
    let route = match (u.transport.as_deref(), u.host.as_deref()) {
        (None, None) => return Ok(None),
        (Some("unix"), Some(_)) => {
            return Err(Error::invalid_arg(
                "a +unix URI names no host: the socket is local",
            ));
        }
        (Some("unix"), None) => {
            let socket = match u.param("socket") {
                Some(s) if s.starts_with('/') => PathBuf::from(s),
                Some(s) => {
                    return Err(Error::invalid_arg(format!(
                        "socket '{s}' is not an absolute path"
                    )));
                }
                None if read_only => PathBuf::from(format!("{DEFAULT_SOCKET}-ro")),
                None => PathBuf::from(DEFAULT_SOCKET),
            };
            Route::Unix { socket }
        }
        (Some("tcp"), _) => Route::Tcp {
            host: host(),
            port: u.port.unwrap_or(TCP_PORT),
        },
        (Some("tls") | None, _) => {
            let pki = match u.param("pkipath") {
                Some(dir) if dir.starts_with('/') => virtkit_tls::Pki::client_in(Path::new(dir)),
                Some(dir) => {
                    return Err(Error::invalid_arg(format!(
                        "pkipath '{dir}' is not an absolute path"
                    )));
                }
                None => virtkit_tls::Pki::client_default(
                    is_root(),
                    std::env::var_os("HOME").as_deref().map(Path::new),
                ),
            };
            Route::Tls {
                host: host(),
                port: u.port.unwrap_or(TLS_PORT),
                pki,
                verify: !flag(&u, "no_verify")?,
            }
        }
        (Some("ssh"), _) => Route::Ssh {
            host: host(),
            // libvirt 9.0's client gives its helper the same URI as the daemon.
            command: ssh::command(&u, &name, read_only)?,
        },
        (Some(t), _) => {
            return Err(Error::no_support(format!(
                "the remote driver does not support the '{t}' transport (unix, tcp, tls, ssh)"
            )));
        }
    };
    Ok(Some(Plan { route, name }))
}

/// Connects a transport along `route`.
pub fn connect(route: &Route) -> Result<Box<dyn transport::Transport>> {
    Ok(match route {
        Route::Unix { socket } => Box::new(transport::UnixTransport::connect(socket)?),
        Route::Tcp { host, port } => Box::new(transport::TcpTransport::connect(
            host,
            *port,
            CONNECT_TIMEOUT,
        )?),
        Route::Tls {
            host,
            port,
            pki,
            verify,
        } => Box::new(transport::tls::TlsTransport::connect(
            host,
            *port,
            pki,
            *verify,
            CONNECT_TIMEOUT,
        )?),
        Route::Ssh { host, command } => Box::new(ssh::SshTransport::spawn(command, host)?),
    })
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
        let Some(plan) = plan(uri, read_only)? else {
            return Ok(None);
        };
        let client = Client::new(connect(&plan.route)?);
        ops::authenticate(&client)?;
        ops::open_remote(&client, &plan.name, read_only)?;
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

    fn unix(socket: &str, name: &str) -> Option<Plan> {
        Some(Plan {
            route: Route::Unix {
                socket: socket.into(),
            },
            name: name.into(),
        })
    }

    #[test]
    fn remote_uris_name_a_socket_and_what_to_open_there() {
        assert_eq!(
            plan("test+unix:///default?socket=/tmp/s", false).unwrap(),
            unix("/tmp/s", "test:///default")
        );
        assert_eq!(
            plan("qemu+unix:///system", true).unwrap(),
            unix(&format!("{DEFAULT_SOCKET}-ro"), "qemu:///system")
        );
        assert_eq!(
            plan("test+unix:///default?socket=/s&mode=legacy&x=1", false).unwrap(),
            unix("/s", "test:///default?x=1")
        );
        assert_eq!(plan("test:///default", false).unwrap(), None);
        for (uri, needle) in [
            ("test+ftp://host/default", "'ftp' transport"),
            ("test+unix://host/default", "names no host"),
            ("test+unix:///default?socket=rel", "absolute"),
            ("test+tls://h/default?pkipath=rel", "absolute"),
            ("test+tls://h/default?no_verify=yes", "expected 0 or 1"),
            ("test+ssh://host/default?proxy=x", "Unknown proxy type"),
        ] {
            let e = plan(uri, false).unwrap_err();
            assert!(e.message.contains(needle), "{uri}: {e}");
        }
    }

    #[test]
    fn tcp_and_tls_uris_name_a_host_a_port_and_credentials() {
        assert_eq!(
            plan("test+tcp://127.0.0.1/default", false)
                .unwrap()
                .unwrap(),
            Plan {
                route: Route::Tcp {
                    host: "127.0.0.1".into(),
                    port: 16509
                },
                name: "test:///default".into()
            }
        );
        assert_eq!(
            plan("qemu+tcp://node1:1234/system", false)
                .unwrap()
                .unwrap()
                .route,
            Route::Tcp {
                host: "node1".into(),
                port: 1234
            }
        );
        let p = plan(
            "test+tls://localhost:555/default?pkipath=/p&no_verify=1",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p,
            Plan {
                route: Route::Tls {
                    host: "localhost".into(),
                    port: 555,
                    pki: virtkit_tls::Pki::client_in(Path::new("/p")),
                    verify: false
                },
                name: "test:///default".into()
            }
        );
        // A host without a transport is TLS on libvirt's port, verified.
        let Route::Tls {
            host, port, verify, ..
        } = plan("xen://node1/", false).unwrap().unwrap().route
        else {
            panic!("not TLS");
        };
        assert_eq!((host.as_str(), port, verify), ("node1", 16514, true));
    }

    #[test]
    fn ssh_uris_run_the_ssh_client_to_the_host() {
        let p = plan(
            "test+ssh://u@node1:22/default?keyfile=/k&x=1&no_tty=1",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.name, "test:///default?x=1");
        let Route::Ssh { host, command } = p.route else {
            panic!("an ssh URI goes through ssh")
        };
        assert_eq!(host, "node1");
        assert_eq!(command.program, "ssh");
        assert_eq!(command.args[..4], ["-p", "22", "-l", "u"]);
        assert!(command.args.contains(&"node1".to_string()), "{command:?}");
    }
}
