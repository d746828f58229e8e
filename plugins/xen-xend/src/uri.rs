//! Which URIs the xend member serves, and what each one names.
//!
//! * `xen:///`, `xen://`, `xen:` and the legacy `xen`: the local daemon on
//!   [`DEFAULT_SOCKET`].
//! * `/path/to/socket` (legacy): the daemon on that unix socket.
//! * `http://host[:port]/` (legacy): the daemon over TCP, port 8000 by default. Neither encrypted
//!   nor authenticated; the driver warns on stderr.
//! * `xen:///?offline=1[&xend_config_format=N]`: no daemon at all; the member opens for the
//!   native-format conversions only (`domxml-from-native xen-sxpr`, `domxml-to-native
//!   xen-sxpr`), as xend config version `N` (1, 2 or 3; default 3).

use std::path::PathBuf;

use virtkit_driver::{Error, Result};

use crate::http::Endpoint;

/// Where xend listens on a Xen host.
pub const DEFAULT_SOCKET: &str = "/var/lib/xend/xend-socket";
/// xend's TCP port when the URI names none.
pub const DEFAULT_PORT: u16 = 8000;
/// The config version assumed by an offline connection that names none.
pub const DEFAULT_OFFLINE_CONFIG_VERSION: u32 = 3;

/// What a URI asks of the xend member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Talk to the daemon there.
    Daemon(Endpoint),
    /// No daemon: conversions only, as this xend config version.
    Offline {
        /// The xend config version the conversions follow.
        config_version: u32,
    },
}

/// Reads a URI; `Ok(None)` when it is not one the xend member serves.
pub fn parse(uri: &str) -> Result<Option<Target>> {
    let uri = uri.trim();
    if uri == "xen" {
        return Ok(Some(Target::Daemon(Endpoint::Unix(DEFAULT_SOCKET.into()))));
    }
    if uri.starts_with('/') {
        return Ok(Some(Target::Daemon(Endpoint::Unix(PathBuf::from(uri)))));
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        return http_target(rest).map(|t| Some(Target::Daemon(t)));
    }
    let Some(rest) = uri.strip_prefix("xen:") else {
        return Ok(None);
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    // A host name means another node, which the remote driver serves.
    let local = matches!(path, "" | "/" | "//" | "///");
    if !local {
        return Ok(None);
    }
    let mut offline = false;
    let mut config_version = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "offline" => {
                offline = match v {
                    "1" | "" => true,
                    "0" => false,
                    _ => {
                        return Err(Error::invalid_arg(format!(
                            "URI parameter offline must be 0 or 1, not '{v}'"
                        )));
                    }
                }
            }
            "xend_config_format" => {
                config_version = Some(match v {
                    "1" => 1,
                    "2" => 2,
                    "3" => 3,
                    "4" => 4,
                    _ => {
                        return Err(Error::invalid_arg(format!(
                            "URI parameter xend_config_format must be 1 to 4, not '{v}'"
                        )));
                    }
                })
            }
            _ => {
                return Err(Error::invalid_arg(format!(
                    "unknown URI parameter '{k}' for the xend member (known: offline, xend_config_format)"
                )));
            }
        }
    }
    if offline {
        return Ok(Some(Target::Offline {
            config_version: config_version.unwrap_or(DEFAULT_OFFLINE_CONFIG_VERSION),
        }));
    }
    if config_version.is_some() {
        return Err(Error::invalid_arg(
            "xend_config_format is only for offline=1 connections; a daemon says its own",
        ));
    }
    Ok(Some(Target::Daemon(Endpoint::Unix(DEFAULT_SOCKET.into()))))
}

fn http_target(rest: &str) -> Result<Endpoint> {
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(Error::invalid_arg(
            "xend's HTTP interface has no users: drop 'user@' from the URI",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| Error::invalid_arg(format!("bad IPv6 address in 'http://{rest}'")))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(Error::invalid_arg(format!("no host in 'http://{rest}'")));
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| Error::invalid_arg(format!("bad port '{p}' in 'http://{rest}'")))?,
    };
    Ok(Endpoint::Tcp { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(p: &str) -> Option<Target> {
        Some(Target::Daemon(Endpoint::Unix(p.into())))
    }

    #[test]
    fn forms() {
        for u in ["xen", "xen:///", "xen://", "xen:", "xen:///?offline=0"] {
            assert_eq!(parse(u).unwrap(), unix(DEFAULT_SOCKET), "{u}");
        }
        assert_eq!(parse("/tmp/x/sock").unwrap(), unix("/tmp/x/sock"));
        assert_eq!(
            parse("http://localhost:8001/").unwrap(),
            Some(Target::Daemon(Endpoint::Tcp {
                host: "localhost".into(),
                port: 8001
            }))
        );
        assert_eq!(
            parse("http://[::1]/").unwrap(),
            Some(Target::Daemon(Endpoint::Tcp {
                host: "::1".into(),
                port: 8000
            }))
        );
        assert_eq!(
            parse("xen:///?offline=1&xend_config_format=2").unwrap(),
            Some(Target::Offline { config_version: 2 })
        );
        assert_eq!(
            parse("xen:///?offline").unwrap(),
            Some(Target::Offline { config_version: 3 })
        );
        assert_eq!(parse("test:///default").unwrap(), None);
        assert_eq!(parse("xen://node1/").unwrap(), None);
    }

    #[test]
    fn bad_forms() {
        for u in [
            "xen:///?offline=yes",
            "xen:///?xend_config_format=9&offline=1",
            "xen:///?xend_config_format=2",
            "xen:///?socket=/x",
            "http://:80/",
            "http://h:99999/",
            "http://u@h/",
        ] {
            assert!(parse(u).is_err(), "{u}");
        }
    }
}
