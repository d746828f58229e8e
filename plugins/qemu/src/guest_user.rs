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
//! seccomp_sandbox = 1        # QEMU's -sandbox on,obsolete=deny (left out, and the guest's log
//!                            # says so, when the binary was built without seccomp)
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
    let conf = match read_conf(&path) {
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

/// The largest `qemu.conf` read.
const MAX_CONF_BYTES: u64 = 1 << 20;

/// Reads `qemu.conf`: it says whom guests run as, so only a regular file owned by root (or this
/// user) and writable by no one else is believed.
fn read_conf(path: &Path) -> virtkit_hostio::Result<String> {
    use std::io::Read;
    let (file, md) = virtkit_hostio::open_regular(path)?;
    virtkit_hostio::check_trusted_file(path, &md)?;
    let mut text = String::new();
    file.take(MAX_CONF_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| virtkit_hostio::Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source: e,
        })?;
    if text.len() as u64 > MAX_CONF_BYTES {
        return Err(virtkit_hostio::Error::TooLarge {
            path: path.to_path_buf(),
            cap: MAX_CONF_BYTES,
        });
    }
    Ok(text)
}

/// The arguments that drop QEMU's privileges once it has opened what it opens at start (its
/// monitor socket, pidfile and disks, as root), and its seccomp filter when the settings ask
/// for it and the binary has one (`has_sandbox`).
pub(crate) fn qemu_args(u: &GuestUser, has_sandbox: bool) -> Vec<String> {
    let mut out = vec!["-run-with".to_string(), format!("user={}:{}", u.uid, u.gid)];
    if u.sandbox && has_sandbox {
        out.push("-sandbox".into());
        out.push("on,obsolete=deny".into());
    }
    out
}

/// One file given to a guest's user: its path and [`virtkit_hostio::FileOwner`].
type Given = (String, virtkit_hostio::FileOwner);

impl Store {
    /// `run/<name>.owners`: the original owners of the files given to a guest's user (a file
    /// of the guest's, told from its other files by the suffix like them, so no name reaches
    /// another guest's or the driver's own).
    pub fn owners_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.owners"))
    }

    fn owners(&self, name: &str) -> Vec<Given> {
        let entry = |e: &Value| -> Option<Given> {
            let n = |k: &str| e.get(k)?.as_u64();
            Some((
                e.get("path")?.as_str()?.to_string(),
                virtkit_hostio::FileOwner {
                    dev: n("dev")?,
                    ino: n("ino")?,
                    uid: u32::try_from(n("uid")?).ok()?,
                    gid: u32::try_from(n("gid")?).ok()?,
                },
            ))
        };
        read_own(&self.owners_file(name))
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.as_array().map(|a| a.iter().filter_map(entry).collect()))
            .unwrap_or_default()
    }

    fn write_owners(&self, name: &str, list: &[Given]) -> Result<()> {
        let v: Vec<Value> = list
            .iter()
            .map(|(p, o)| json!({ "path": p, "dev": o.dev, "ino": o.ino, "uid": o.uid, "gid": o.gid }))
            .collect();
        write_atomic(
            &self.owners_file(name),
            Value::Array(v).to_string().as_bytes(),
            true,
        )
    }

    /// Gives `files` to the guest's user, recording each one's identity and owner first
    /// (durably, before the change: a caller killed in between leaves what the next stop needs
    /// to undo). The owner changes through the file's descriptor, only on the file recorded.
    pub(crate) fn give_files(&self, name: &str, u: &GuestUser, files: &[String]) -> Result<()> {
        if !u.dynamic_ownership {
            return Ok(());
        }
        let mut list = self.owners(name);
        for f in files {
            if list.iter().any(|(p, _)| p == f) {
                continue;
            }
            let cannot = |e: virtkit_hostio::Error| {
                Error::operation_failed(format!("cannot give disk image to user '{}': {e}", u.user))
            };
            let before = virtkit_hostio::file_owner(Path::new(f)).map_err(cannot)?;
            list.push((f.clone(), before));
            self.write_owners(name, &list)?;
            virtkit_hostio::give_file(Path::new(f), &before, u.uid, u.gid).map_err(cannot)?;
        }
        Ok(())
    }

    /// Gives back the files of `name` (all of them, or only `only`) to their recorded owners. A
    /// path that is gone or names another file now is left alone.
    pub(crate) fn restore_owners(&self, name: &str, only: Option<&str>) {
        let list = self.owners(name);
        if list.is_empty() {
            return;
        }
        let mut kept = Vec::new();
        for (p, before) in list {
            if only.is_some_and(|o| o != p) {
                kept.push((p, before));
                continue;
            }
            // Kept for the next try when the OS refuses (an I/O error, say).
            if virtkit_hostio::give_back(Path::new(&p), &before).is_err() {
                kept.push((p, before));
            }
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
