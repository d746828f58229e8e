//! What an `openvz:///system` URI names: the tools, the configuration directory, the kernel's
//! control file and the driver's own state directory.
//!
//! | setting | default | URI parameter | environment |
//! |---|---|---|---|
//! | `vzctl` | `/usr/sbin/vzctl` | `vzctl=PATH` | `VIRTKIT_OPENVZ_VZCTL` |
//! | `vzlist` | `/usr/sbin/vzlist` | `vzlist=PATH` | `VIRTKIT_OPENVZ_VZLIST` |
//! | container configs | `/etc/vz/conf` | `confdir=DIR` | `VIRTKIT_OPENVZ_CONFDIR` |
//! | kernel control file | `/proc/vz` | `procvz=PATH` | `VIRTKIT_OPENVZ_PROCVZ` |
//! | driver state | `/run/virtkit/openvz` | `rundir=DIR` | `VIRTKIT_OPENVZ_RUNDIR` |
//! | all three directories under a root | — | `root=DIR` | `VIRTKIT_OPENVZ_ROOT` |
//!
//! A URI parameter wins over the environment; `root=DIR` moves the defaults of the three paths
//! to `DIR/etc/vz/conf`, `DIR/proc/vz` and `DIR/run/virtkit/openvz` (a sandbox), and is handed
//! to the tools in their environment as `VIRTKIT_OPENVZ_ROOT` (the stand-in tools keep their
//! state there; the real ones ignore it).

use std::path::{Path, PathBuf};

use virtkit_driver::{Error, ErrorCode, Result};

/// The environment variable naming a sandbox root.
pub const ROOT_ENV: &str = "VIRTKIT_OPENVZ_ROOT";

/// The settings of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `vzctl`.
    pub vzctl: PathBuf,
    /// `vzlist`.
    pub vzlist: PathBuf,
    /// Container configuration files.
    pub confdir: PathBuf,
    /// The kernel's control file; its absence means no OpenVZ kernel.
    pub procvz: PathBuf,
    /// The driver's own state (which containers it paused).
    pub rundir: PathBuf,
    /// The sandbox root, when there is one.
    pub root: Option<PathBuf>,
}

fn decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let v = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::invalid_arg(format!("bad percent escape in URI parameter '{s}'"))
                })?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid_arg(format!("URI parameter '{s}' is not UTF-8")))
}

fn absolute(what: &str, v: String) -> Result<PathBuf> {
    let p = PathBuf::from(&v);
    if !p.is_absolute() || v.contains('\0') {
        return Err(Error::invalid_arg(format!(
            "the OpenVZ {what} '{v}' must be an absolute path"
        )));
    }
    Ok(p)
}

impl Settings {
    /// Resolves `uri`, reading the environment through `env`. `Ok(None)` when the URI is not a
    /// local `openvz:` URI (the driver declines it).
    pub fn from_uri_with(
        uri: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Settings>> {
        let Some(rest) = uri.strip_prefix("openvz://") else {
            return Ok(None);
        };
        if !rest.starts_with('/') {
            // openvz://host/system is for a remote driver.
            return Ok(None);
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.trim_end_matches('/') != "/system" {
            return Err(Error::new(
                ErrorCode::InvalidArg,
                format!(
                    "invalid argument: unexpected OpenVZ URI path '{path}', try openvz:///system"
                ),
            ));
        }
        let mut params = std::collections::BTreeMap::new();
        for p in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = decode(k)?;
            if !["vzctl", "vzlist", "confdir", "procvz", "rundir", "root"].contains(&k.as_str()) {
                return Err(Error::invalid_arg(format!(
                    "unknown OpenVZ URI parameter '{k}' (known: vzctl, vzlist, confdir, procvz, rundir, root)"
                )));
            }
            params.insert(k, decode(v)?);
        }
        let get = |k: &str| -> Option<String> {
            params
                .get(k)
                .cloned()
                .or_else(|| env(&format!("VIRTKIT_OPENVZ_{}", k.to_uppercase())))
                .filter(|v| !v.is_empty())
        };
        let root = get("root").map(|r| absolute("root", r)).transpose()?;
        let under = |p: &str| match &root {
            Some(r) => r.join(p.trim_start_matches('/')),
            None => PathBuf::from(p),
        };
        let path_of = |k: &str, what: &str, default: PathBuf| -> Result<PathBuf> {
            get(k).map_or(Ok(default), |v| absolute(what, v))
        };
        Ok(Some(Settings {
            vzctl: path_of("vzctl", "vzctl program", PathBuf::from("/usr/sbin/vzctl"))?,
            vzlist: path_of(
                "vzlist",
                "vzlist program",
                PathBuf::from("/usr/sbin/vzlist"),
            )?,
            confdir: path_of("confdir", "configuration directory", under("/etc/vz/conf"))?,
            procvz: path_of("procvz", "control file", under("/proc/vz"))?,
            rundir: path_of("rundir", "state directory", under("/run/virtkit/openvz"))?,
            root,
        }))
    }

    /// [`from_uri_with`](Self::from_uri_with) the process environment.
    pub fn from_uri(uri: &str) -> Result<Option<Settings>> {
        Settings::from_uri_with(uri, &|k| std::env::var(k).ok())
    }

    /// Why this host cannot serve the URI, when it cannot: no OpenVZ kernel (the control file is
    /// missing) or no `vzctl`/`vzlist`. One line, for a connection that declines.
    pub fn unusable(&self) -> Option<String> {
        if std::fs::symlink_metadata(&self.procvz).is_err() {
            return Some(format!(
                "OpenVZ control file {} does not exist: this host does not run an OpenVZ kernel",
                self.procvz.display()
            ));
        }
        for (name, p) in [("vzctl", &self.vzctl), ("vzlist", &self.vzlist)] {
            if !is_executable(p) {
                return Some(format!(
                    "{name} is not installed at {} (install the vzctl package, or name it with ?{name}=PATH)",
                    p.display()
                ));
            }
        }
        None
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let s = Settings::from_uri_with("openvz:///system", &env)
            .unwrap()
            .unwrap();
        assert_eq!(s.vzctl, PathBuf::from("/usr/sbin/vzctl"));
        assert_eq!(s.vzlist, PathBuf::from("/usr/sbin/vzlist"));
        assert_eq!(s.confdir, PathBuf::from("/etc/vz/conf"));
        assert_eq!(s.procvz, PathBuf::from("/proc/vz"));
        assert_eq!(s.root, None);
    }

    #[test]
    fn parameters_and_environment() {
        let e = |k: &str| (k == "VIRTKIT_OPENVZ_VZLIST").then(|| "/opt/vzlist".to_string());
        let s = Settings::from_uri_with("openvz:///system?root=/tmp/r&vzctl=/opt/vz%63tl", &e)
            .unwrap()
            .unwrap();
        assert_eq!(s.vzctl, PathBuf::from("/opt/vzctl"));
        assert_eq!(s.vzlist, PathBuf::from("/opt/vzlist"));
        assert_eq!(s.confdir, PathBuf::from("/tmp/r/etc/vz/conf"));
        assert_eq!(s.procvz, PathBuf::from("/tmp/r/proc/vz"));
        assert_eq!(s.rundir, PathBuf::from("/tmp/r/run/virtkit/openvz"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Settings::from_uri_with("qemu:///system", &env).unwrap(),
            None
        );
        assert_eq!(
            Settings::from_uri_with("openvz://host/system", &env).unwrap(),
            None
        );
        let e = Settings::from_uri_with("openvz:///session", &env).unwrap_err();
        assert!(e.message.contains("try openvz:///system"), "{e}");
        let e = Settings::from_uri_with("openvz:///system?vzctl=vzctl", &env).unwrap_err();
        assert!(e.message.contains("absolute"), "{e}");
        let e = Settings::from_uri_with("openvz:///system?nope=1", &env).unwrap_err();
        assert!(
            e.message.contains("unknown OpenVZ URI parameter 'nope'"),
            "{e}"
        );
    }

    #[test]
    fn a_host_without_openvz_says_why() {
        let s = Settings::from_uri_with("openvz:///system?root=/nonexistent-virtkit", &env)
            .unwrap()
            .unwrap();
        let why = s.unusable().unwrap();
        assert!(
            why.contains("/nonexistent-virtkit/proc/vz") && !why.contains('\n'),
            "{why}"
        );
    }
}
