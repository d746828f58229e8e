//! Which directories a `qemu://` URI names.
//!
//! | URI | configuration | runtime state |
//! |---|---|---|
//! | `qemu:///system` | `/etc/virtkit/qemu` | `/run/virtkit/qemu` |
//! | `qemu:///session` | `$XDG_CONFIG_HOME/virtkit/qemu` (`~/.config/virtkit/qemu`) | `$XDG_RUNTIME_DIR/virtkit/qemu` (`~/.cache/virtkit/qemu/run`) |
//! | either, with `?root=DIR` or `VIRTKIT_QEMU_ROOT=DIR` | `DIR/<system\|session>/config` | `DIR/<system\|session>/run` |

use std::path::PathBuf;

use virtkit_driver::{Error, ErrorCode, Result};

/// The environment variable that moves both URIs under another root.
pub const ROOT_ENV: &str = "VIRTKIT_QEMU_ROOT";

/// `qemu:///system` or `qemu:///session`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriKind {
    /// The host's guests, managed by root.
    System,
    /// One user's guests.
    Session,
}

impl UriKind {
    /// `system` or `session`.
    pub fn as_str(self) -> &'static str {
        match self {
            UriKind::System => "system",
            UriKind::Session => "session",
        }
    }
}

/// The directories of one driver instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Which URI.
    pub kind: UriKind,
    /// Persistent definitions (`<name>.xml`, `autostart/`, `networks/`).
    pub config: PathBuf,
    /// Runtime state: pidfiles, QMP sockets, state files, logs, locks.
    pub run: PathBuf,
    /// Set when the directories come from `root=` or the environment (a sandbox).
    pub rooted: bool,
}

fn decode_percent(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
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

impl Paths {
    /// Resolves `uri`. `Ok(None)` when the URI is not a local `qemu:` URI (the driver declines).
    pub fn from_uri(uri: &str) -> Result<Option<Paths>> {
        let Some(rest) = uri.strip_prefix("qemu://") else {
            return Ok(None);
        };
        if !rest.starts_with('/') {
            // qemu://host/... is a remote node.
            return Ok(None);
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let kind = match path.trim_end_matches('/') {
            "/system" => UriKind::System,
            "/session" => UriKind::Session,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidArg,
                    format!(
                        "invalid argument: unexpected QEMU URI path '{other}', try qemu:///system or qemu:///session"
                    ),
                ));
            }
        };
        let mut root = None;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            if decode_percent(k)? == "root" {
                root = Some(decode_percent(v)?);
            }
        }
        let root = root
            .or_else(|| std::env::var(ROOT_ENV).ok())
            .filter(|r| !r.is_empty());
        if let Some(r) = root {
            let r = PathBuf::from(r);
            if !r.is_absolute() {
                return Err(Error::invalid_arg(format!(
                    "the root '{}' must be an absolute path",
                    r.display()
                )));
            }
            let base = r.join(kind.as_str());
            return Ok(Some(Paths {
                kind,
                config: base.join("config"),
                run: base.join("run"),
                rooted: true,
            }));
        }
        Ok(Some(match kind {
            UriKind::System => Paths {
                kind,
                config: PathBuf::from("/etc/virtkit/qemu"),
                run: PathBuf::from("/run/virtkit/qemu"),
                rooted: false,
            },
            UriKind::Session => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/"));
                let xdg = |var: &str| {
                    std::env::var_os(var)
                        .map(PathBuf::from)
                        .filter(|p| p.is_absolute())
                };
                let config = xdg("XDG_CONFIG_HOME")
                    .unwrap_or_else(|| home.join(".config"))
                    .join("virtkit/qemu");
                let run = match xdg("XDG_RUNTIME_DIR") {
                    Some(r) => r.join("virtkit/qemu"),
                    None => xdg("XDG_CACHE_HOME")
                        .unwrap_or_else(|| home.join(".cache"))
                        .join("virtkit/qemu/run"),
                };
                Paths {
                    kind,
                    config,
                    run,
                    rooted: false,
                }
            }
        }))
    }

    /// The directories the driver writes into.
    fn dirs(&self) -> [PathBuf; 7] {
        [
            self.config.clone(),
            self.config.join("autostart"),
            self.config.join("networks"),
            self.config.join("networks/autostart"),
            self.run.clone(),
            self.run.join("lock"),
            self.run.join("networks"),
        ]
    }

    /// Creates the directories (mode 0700) and checks that each, and every directory above it,
    /// is owned by this user or root and not writable by others (a sandbox root prepared by
    /// another user is refused); then removes the temp files that writers killed before their
    /// rename left behind.
    pub fn create(&self) -> Result<()> {
        for d in self.dirs() {
            virtkit_hostio::ensure_private_dir(&d, 0o700)
                .map_err(|e| Error::operation_failed(e.to_string()))?;
        }
        for d in self.dirs() {
            virtkit_hostio::remove_stale_temps(&d, STALE_TEMP_AGE);
        }
        Ok(())
    }
}

impl Paths {
    /// For a read-only connection: the directories that exist pass the same ownership and mode
    /// check as for writing (a read-only connection still cleans up after dead guests and reads
    /// what is there), and nothing is created.
    pub fn check_existing(&self) -> Result<()> {
        for d in self.dirs() {
            if d.symlink_metadata().is_ok() {
                virtkit_hostio::check_trusted_dir(&d)
                    .map_err(|e| Error::operation_failed(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// A temp file untouched and unlocked for this long belongs to a writer that was killed.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(Paths::from_uri("test:///default").unwrap(), None);
        assert_eq!(Paths::from_uri("qemu://host/system").unwrap(), None);
        let p = Paths::from_uri("qemu:///system?root=/tmp/a%20b")
            .unwrap()
            .unwrap();
        assert_eq!(p.config, PathBuf::from("/tmp/a b/system/config"));
        assert_eq!(p.run, PathBuf::from("/tmp/a b/system/run"));
        assert!(p.rooted);
        let p = Paths::from_uri("qemu:///session/?root=/r")
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.kind, p.run),
            (UriKind::Session, PathBuf::from("/r/session/run"))
        );
        let e = Paths::from_uri("qemu:///nope").unwrap_err();
        assert!(e.message.contains("qemu:///system"), "{e}");
        assert!(Paths::from_uri("qemu:///system?root=relative").is_err());
    }
}
