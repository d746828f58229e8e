//! What a `xen:` URI (and the environment) tells the xm member: where the configs are, which
//! xend config version to write for, and what the host's hypervisor offers.

use std::path::PathBuf;

use virtkit_driver::{Error, Result};

/// The directory libvirt and Xen's tools keep XM configs in.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/xen";
/// The environment variable naming another config directory (ignored in setuid programs).
pub const CONFIG_DIR_ENV: &str = "VIRTKIT_XM_CONFIG_DIR";
/// libvirt's name for the same variable, honoured after virtkit's.
pub const LIBVIRT_CONFIG_DIR_ENV: &str = "LIBVIRT_XM_CONFIG_DIR";
/// The URI parameter naming the config directory.
pub const CONFIG_DIR_PARAM: &str = "xm_config_dir";
/// The URI parameter giving the xend config version (xend's `xend_config_format`) to read and
/// write configs for; the same name as the xend member's.
pub const CONFIG_VERSION_PARAM: &str = "xend_config_format";
/// The URI parameter giving the hypervisor's capability string (`xen-3.0-x86_64 hvm-3.0-x86_32`)
/// instead of reading it from the host.
pub const XEN_CAPS_PARAM: &str = "xen_caps";
/// The xend config version used when neither the URI nor xend says: Xen 3.0.4's, the xend
/// member's default for conversions without a daemon too.
pub const DEFAULT_CONFIG_VERSION: u32 = 3;

/// The settings of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The config directory.
    pub dir: PathBuf,
    /// The xend config version given by the URI, if any.
    pub config_version: Option<u32>,
    /// The hypervisor capability string given by the URI, if any.
    pub xen_caps: Option<String>,
}

fn decode_percent(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            else {
                return Err(Error::invalid_arg(format!(
                    "bad percent escape in URI parameter '{s}'"
                )));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid_arg(format!("URI parameter '{s}' is not UTF-8")))
}

/// Whether the environment may choose directories: not in a setuid or setgid program.
fn env_allowed() -> bool {
    nix::unistd::geteuid() == nix::unistd::getuid()
        && nix::unistd::getegid() == nix::unistd::getgid()
}

impl Settings {
    /// Reads `uri`. `Ok(None)` when the URI does not name the local Xen host (a remote node, or
    /// xend over TCP): the xm member declines, as libvirt's did.
    pub fn from_uri(uri: &str) -> Result<Option<Settings>> {
        let query = if let Some(rest) = uri.strip_prefix("xen://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') && !path.is_empty() {
                // xen://host/: another node.
                return Ok(None);
            }
            if !matches!(path, "" | "/") {
                return Err(Error::invalid_arg(format!(
                    "unexpected Xen URI path '{path}', try xen:///"
                )));
            }
            query
        } else if uri == "xen" || uri.starts_with('/') {
            // The legacy local forms: `xen`, or xend's unix socket path.
            ""
        } else {
            return Ok(None);
        };
        let mut dir = None;
        let mut config_version = None;
        let mut xen_caps = None;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            match decode_percent(k)?.as_str() {
                CONFIG_DIR_PARAM => dir = Some(decode_percent(v)?),
                CONFIG_VERSION_PARAM => {
                    let v = decode_percent(v)?;
                    let n = v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=virtkit_xen::MAX_CONFIG_VERSION).contains(n))
                        .ok_or_else(|| {
                            Error::invalid_arg(format!(
                                "{CONFIG_VERSION_PARAM} '{v}' is not a xend config version (1 to {})",
                                virtkit_xen::MAX_CONFIG_VERSION
                            ))
                        })?;
                    config_version = Some(n);
                }
                XEN_CAPS_PARAM => xen_caps = Some(decode_percent(v)?),
                // Other members' parameters.
                _ => {}
            }
        }
        let dir = match dir {
            Some(d) => d,
            None if env_allowed() => std::env::var(CONFIG_DIR_ENV)
                .ok()
                .or_else(|| std::env::var(LIBVIRT_CONFIG_DIR_ENV).ok())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| DEFAULT_CONFIG_DIR.to_owned()),
            None => DEFAULT_CONFIG_DIR.to_owned(),
        };
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return Err(Error::invalid_arg(format!(
                "the XM config directory '{}' must be an absolute path",
                dir.display()
            )));
        }
        Ok(Some(Settings {
            dir,
            config_version,
            xen_caps,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_uris_open_remote_ones_decline() {
        let s = Settings::from_uri("xen:///?xm_config_dir=/srv/xm%20configs&xend_config_format=2")
            .unwrap()
            .unwrap();
        assert_eq!(s.dir, PathBuf::from("/srv/xm configs"));
        assert_eq!(s.config_version, Some(2));
        assert!(Settings::from_uri("xen").unwrap().is_some());
        assert!(
            Settings::from_uri("/var/lib/xend/xend-socket")
                .unwrap()
                .is_some()
        );
        assert!(Settings::from_uri("xen://node1/").unwrap().is_none());
        assert!(
            Settings::from_uri("http://localhost:8000/")
                .unwrap()
                .is_none()
        );
        assert!(Settings::from_uri("test:///default").unwrap().is_none());
    }

    #[test]
    fn bad_parameters_are_refused() {
        for uri in [
            "xen:///?xm_config_dir=relative",
            "xen:///?xend_config_format=9",
            "xen:///?xend_config_format=x",
            "xen:///?xm_config_dir=%zz",
            "xen:///system",
        ] {
            assert!(Settings::from_uri(uri).is_err(), "{uri}");
        }
    }
}
