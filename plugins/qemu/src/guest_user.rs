//! The user and group that `qemu:///system` guests run as, and libvirt's dynamic ownership of
//! their disk images.
//!
//! Settings come from `qemu.conf` (libvirt's syntax, parsed by `virtkit-conf`):
//! `/etc/virtkit/qemu.conf`, or `<root>/qemu.conf` for a connection with a root directory.
//!
//! ```text
//! user = "virtkit-qemu"      # a name or "+UID"; "root" keeps guests as root
//! group = "virtkit-qemu"     # a name or "+GID"
//! dynamic_ownership = 1      # give the guest's disk images to that user while it runs
//! seccomp_sandbox = 1        # QEMU's -sandbox on,obsolete=deny
//! ```

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use virtkit_driver::{Error, Result};

use crate::paths::{Paths, UriKind};
use crate::store::{Store, read_own, write_atomic};

/// The default user and group of system guests.
pub const DEFAULT_GUEST_USER: &str = "virtkit-qemu";

/// Who system guests run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GuestUser {
    /// The configured user (for messages).
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// Disk images are given to the user while the guest runs.
    pub dynamic_ownership: bool,
    /// `-sandbox on,obsolete=deny`.
    pub sandbox: bool,
}

/// Where the settings of `paths` live.
pub(crate) fn conf_path(paths: &Paths) -> PathBuf {
    if paths.rooted
        && let Some(root) = paths.config.parent().and_then(Path::parent)
    {
        return root.join("qemu.conf");
    }
    PathBuf::from("/etc/virtkit/qemu.conf")
}

/// Who a guest of this connection runs as: `None` for session guests (the invoking user), for
/// an unprivileged process, and for `user = "root"`.
pub(crate) fn load(paths: &Paths, privileged: bool) -> Result<Option<GuestUser>> {
    if paths.kind != UriKind::System || !privileged {
        return Ok(None);
    }
    let path = conf_path(paths);
    let conf = match virtkit_hostio::read_string_capped(&path, 1 << 20) {
        Ok(text) => virtkit_conf::Conf::parse(&text).map_err(|e| {
            Error::operation_failed(format!("cannot read '{}': {e}", path.display()))
        })?,
        Err(e) if e.errno() == Some(nix::libc::ENOENT) => virtkit_conf::Conf::new(),
        Err(e) => {
            return Err(Error::operation_failed(format!(
                "cannot read '{}': {e}",
                path.display()
            )));
        }
    };
    let bad = |e: String| Error::operation_failed(format!("'{}': {e}", path.display()));
    let user = conf
        .get_str("user")
        .map_err(bad)?
        .unwrap_or(DEFAULT_GUEST_USER)
        .to_string();
    let group = conf
        .get_str("group")
        .map_err(bad)?
        .unwrap_or(DEFAULT_GUEST_USER)
        .to_string();
    let flag =
        |key: &str| -> Result<bool> { Ok(conf.get_int(key).map_err(bad)?.is_none_or(|v| v != 0)) };
    let dynamic_ownership = flag("dynamic_ownership")?;
    let sandbox = flag("seccomp_sandbox")?;
    if user == "root" || user == "+0" {
        return Ok(None);
    }
    let missing = |what: &str, name: &str| {
        Error::operation_failed(format!(
            "the {what} '{name}' that system guests run as does not exist: create it (useradd --system \
             --no-create-home --shell /usr/sbin/nologin {DEFAULT_GUEST_USER}) or set {what} = \"...\" in '{}'",
            path.display()
        ))
    };
    let uid = match user.strip_prefix('+') {
        Some(n) => n
            .parse::<u32>()
            .map_err(|_| bad(format!("invalid user '{user}'")))?,
        None => nix::unistd::User::from_name(&user)
            .ok()
            .flatten()
            .ok_or_else(|| missing("user", &user))?
            .uid
            .as_raw(),
    };
    let gid = match group.strip_prefix('+') {
        Some(n) => n
            .parse::<u32>()
            .map_err(|_| bad(format!("invalid group '{group}'")))?,
        None => nix::unistd::Group::from_name(&group)
            .ok()
            .flatten()
            .ok_or_else(|| missing("group", &group))?
            .gid
            .as_raw(),
    };
    if uid == 0 {
        return Ok(None);
    }
    Ok(Some(GuestUser {
        user,
        uid,
        gid,
        dynamic_ownership,
        sandbox,
    }))
}

/// The arguments that drop QEMU's privileges once it has opened what it opens at start (its
/// monitor socket, pidfile and disks, as root), and its seccomp filter.
pub(crate) fn qemu_args(u: &GuestUser) -> Vec<String> {
    let mut out = vec!["-run-with".to_string(), format!("user={}:{}", u.uid, u.gid)];
    if u.sandbox {
        out.push("-sandbox".into());
        out.push("on,obsolete=deny".into());
    }
    out
}

impl Store {
    /// `run/<name>.owners`: the original owners of the files given to a guest's user.
    pub fn owners_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.owners"))
    }

    fn owners(&self, name: &str) -> Vec<(String, u32, u32)> {
        read_own(&self.owners_file(name))
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            Some((
                                e.get("path")?.as_str()?.to_string(),
                                u32::try_from(e.get("uid")?.as_u64()?).ok()?,
                                u32::try_from(e.get("gid")?.as_u64()?).ok()?,
                            ))
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    fn write_owners(&self, name: &str, list: &[(String, u32, u32)]) -> Result<()> {
        let v: Vec<Value> = list
            .iter()
            .map(|(p, u, g)| json!({ "path": p, "uid": u, "gid": g }))
            .collect();
        write_atomic(
            &self.owners_file(name),
            Value::Array(v).to_string().as_bytes(),
            true,
        )
    }

    /// Gives `files` to the guest's user, recording each one's owner first (durably, before
    /// the change: a caller killed in between leaves what the next stop needs to undo).
    pub(crate) fn give_files(&self, name: &str, u: &GuestUser, files: &[String]) -> Result<()> {
        if !u.dynamic_ownership {
            return Ok(());
        }
        let mut list = self.owners(name);
        for f in files {
            if list.iter().any(|(p, _, _)| p == f) {
                continue;
            }
            let meta = std::fs::metadata(f).map_err(|e| {
                Error::operation_failed(format!("cannot access disk image '{f}': {e}"))
            })?;
            use std::os::unix::fs::MetadataExt;
            list.push((f.clone(), meta.uid(), meta.gid()));
            self.write_owners(name, &list)?;
            std::os::unix::fs::chown(f, Some(u.uid), Some(u.gid)).map_err(|e| {
                Error::operation_failed(format!("cannot give '{f}' to user '{}': {e}", u.user))
            })?;
        }
        Ok(())
    }

    /// Gives back the files of `name` (all of them, or only `only`) to their recorded owners.
    pub(crate) fn restore_owners(&self, name: &str, only: Option<&str>) {
        let list = self.owners(name);
        if list.is_empty() {
            return;
        }
        let mut kept = Vec::new();
        for (p, uid, gid) in list {
            if only.is_some_and(|o| o != p) {
                kept.push((p, uid, gid));
                continue;
            }
            // A file that is gone has nothing to give back.
            let _ = std::os::unix::fs::chown(&p, Some(uid), Some(gid));
        }
        if kept.is_empty() {
            let _ = std::fs::remove_file(self.owners_file(name));
        } else {
            let _ = self.write_owners(name, &kept);
        }
    }
}

/// The disk images of a definition that QEMU opens (file and block sources).
pub(crate) fn disk_files(def: &virtkit_xml::DomainDef) -> Vec<String> {
    def.devices
        .disks
        .iter()
        .filter_map(|d| d.source.clone())
        .filter(|s| !s.is_empty())
        .collect()
}
