//! Acting on files and directories on a user's behalf, the way a program running as root must.
//!
//! virtkit often runs as root and acts on paths that users name (save files, sandbox roots, node
//! files, plugin directories). Every driver and the core use these few functions instead of
//! `std::fs` directly where the path or the directory comes from outside:
//!
//! * [`check_trusted_dir`] / [`ensure_private_dir`]: a directory is written into only when it is
//!   owned by the effective user or root and not writable by group or others (a root-owned sticky
//!   directory such as `/tmp` is accepted as an *ancestor*, never as the directory itself).
//! * [`read_capped`] / [`read_string_capped`]: a file from outside is read only when it is a
//!   regular file no larger than a cap; the type is checked on the open descriptor, and opening
//!   does not block on a FIFO.
//! * [`write_atomic`]: a temp file with an unpredictable name, created exclusively beside the
//!   destination, written, synced and renamed — only onto a regular file or a new name; a
//!   failure leaves the old file as it was ([`write_atomic_unsynced`]: the same without the
//!   syncs, for runtime state).
//! * [`open_nofollow`]: open (or create exclusively) a file without following a symlink in its
//!   last component.
//! * [`TempBeside`] / [`remove_stale_temps`]: the temp file of an atomic write, usable by a
//!   helper process before the rename, and the clean-up of those a killed writer left.
//! * [`Mark`] / [`processes_with_arg`]: a child process owned from the instant it exists, found
//!   again whenever its owner died.
//! * [`run_bounded`]: run a helper program shell-free, in its own process group, with a
//!   timeout and capped output; nothing it started outlives the call.
//! * [`Tunnel`]: a long-running helper (`ssh host command`) that carries a connection on its
//!   standard input and output, with its error output kept (capped) for messages, stopped
//!   and reaped when the connection ends.
//! * [`file_owner`] / [`give_file`] / [`give_back`]: hand a disk image to another user for a
//!   while and back, through its descriptor, only while the path names the same file.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod handover;
mod owner;

pub use handover::{FileOwner, file_owner, give_back, give_file};
pub use owner::{Mark, mark_held, process_has_arg, processes_with_arg};

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

mod process;
mod tunnel;
pub use process::{Captured, run_bounded};
pub use tunnel::Tunnel;

/// What went wrong, always naming the path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused.
    #[error("cannot {action} '{path}': {source}")]
    Io {
        /// What was being done (`open`, `read`, `create`, ...).
        action: &'static str,
        /// The path acted on.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A directory is owned by someone else or writable by others.
    #[error("refusing to use directory '{path}': {reason}")]
    UntrustedDir {
        /// The directory.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },
    /// A file is owned by someone else or writable by others.
    #[error("refusing to use '{path}': {reason}")]
    UntrustedFile {
        /// The file.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },
    /// The path exists and is not a regular file.
    #[error("'{path}' is {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a directory", "a FIFO", "a symbolic link", ...).
        kind: &'static str,
    },
    /// The file is larger than the cap.
    #[error("'{path}' is too large (more than {cap} bytes)")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The cap in bytes.
        cap: u64,
    },
    /// The file is not UTF-8 text.
    #[error("'{path}' is not valid UTF-8 text")]
    NotText {
        /// The path.
        path: PathBuf,
    },
    /// A program run by [`run_bounded`] did not exit in time (it was killed).
    #[error("'{program}' did not finish within {timeout:?} and was killed")]
    TimedOut {
        /// The program.
        program: PathBuf,
        /// How long it was given.
        timeout: std::time::Duration,
    },
}

impl Error {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The OS error number, when the error came from the OS.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// A file type's name for messages.
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else {
        "a regular file"
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Checks one directory's own metadata: owned by the effective user or root, not writable by
/// group or others. With `as_ancestor`, a root-owned sticky directory (such as `/tmp`) is
/// accepted even when world-writable, since nobody else can rename or remove what lies in it.
fn check_one(path: &Path, md: &std::fs::Metadata, as_ancestor: bool) -> Result<()> {
    if !md.is_dir() {
        return Err(Error::UntrustedDir {
            path: path.to_path_buf(),
            reason: format!("it is {}", kind_name(md.file_type())),
        });
    }
    let uid = md.uid();
    if uid != 0 && uid != euid() {
        return Err(Error::UntrustedDir {
            path: path.to_path_buf(),
            reason: format!("it is owned by uid {uid}, not by uid {} or root", euid()),
        });
    }
    let mode = md.mode();
    if mode & 0o022 != 0 {
        let sticky_root = mode & 0o1000 != 0 && uid == 0;
        if !(as_ancestor && sticky_root) {
            return Err(Error::UntrustedDir {
                path: path.to_path_buf(),
                reason: format!(
                    "it is writable by {} (mode {:04o})",
                    if mode & 0o002 != 0 {
                        "others"
                    } else {
                        "its group"
                    },
                    mode & 0o7777
                ),
            });
        }
    }
    Ok(())
}

/// Checks that a file may be trusted as code or configuration (a plugin, say), from the metadata
/// of its open descriptor `md`: a regular file owned by the effective user or root and not
/// writable by group or others. Its directories are checked apart, with [`check_trusted_dir`].
pub fn check_trusted_file(path: &Path, md: &std::fs::Metadata) -> Result<()> {
    let untrusted = |reason: String| Error::UntrustedFile {
        path: path.to_path_buf(),
        reason,
    };
    if !md.is_file() {
        return Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(md.file_type()),
        });
    }
    let uid = md.uid();
    if uid != 0 && uid != euid() {
        return Err(untrusted(format!(
            "it is owned by uid {uid}, not by uid {} or root",
            euid()
        )));
    }
    let mode = md.mode();
    if mode & 0o022 != 0 {
        return Err(untrusted(format!(
            "it is writable by {} (mode {:04o})",
            if mode & 0o002 != 0 {
                "others"
            } else {
                "its group"
            },
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Checks that `dir` may be written into on a user's behalf: `dir` itself is a directory owned by
/// the effective user or root and not writable by group or others, and so is every ancestor up
/// to `/` (a root-owned sticky ancestor such as `/tmp` is accepted). Symbolic links in the path
/// are resolved first, and the resolved directories are the ones checked.
pub fn check_trusted_dir(dir: &Path) -> Result<()> {
    check_dir_chain(dir, false)
}

/// Checks the directory of a file written for a user (a save image, a core dump), which is
/// created there exclusively under an unpredictable name and renamed onto its destination:
/// as [`check_trusted_dir`], except that the directory itself may also be a root-owned sticky
/// directory such as `/tmp`, where nobody else can rename or remove that file.
pub fn check_destination_dir(dir: &Path) -> Result<()> {
    check_dir_chain(dir, true)
}

fn check_dir_chain(dir: &Path, sticky_self: bool) -> Result<()> {
    let real = std::fs::canonicalize(dir).map_err(|e| Error::io("resolve", dir, e))?;
    let md = std::fs::metadata(&real).map_err(|e| Error::io("inspect", &real, e))?;
    check_one(dir, &md, sticky_self)?;
    let mut cur = real.parent();
    while let Some(p) = cur {
        let md = std::fs::metadata(p).map_err(|e| Error::io("inspect", p, e))?;
        check_one(p, &md, true)?;
        cur = p.parent();
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with `mode` where it does not exist, then
/// [`check_trusted_dir`]s it. An existing directory keeps its mode but must pass the check.
pub fn ensure_private_dir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_err() {
        // Nothing is created under a directory that is not trusted itself.
        let mut existing = dir.parent();
        while let Some(p) = existing {
            if p.as_os_str().is_empty() || std::fs::symlink_metadata(p).is_ok() {
                break;
            }
            existing = p.parent();
        }
        if let Some(p) = existing.filter(|p| !p.as_os_str().is_empty()) {
            check_trusted_dir(p)?;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
            .map_err(|e| Error::io("create directory", dir, e))?;
    }
    check_trusted_dir(dir)
}

/// Opens the regular file at `path` for reading (symbolic links followed: the user named the
/// file) and returns it with its metadata; anything else is refused before a byte is read, and
/// the open does not block on a FIFO.
pub fn open_regular(path: &Path) -> Result<(File, std::fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let md = file.metadata().map_err(|e| Error::io("inspect", path, e))?;
    if !md.is_file() {
        return Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(md.file_type()),
        });
    }
    Ok((file, md))
}

/// Opens what a user named as input on a command line — a regular file, or a stream a shell
/// hands over (a pipe or FIFO such as `/dev/stdin` or `<(command)`, a character device) — and
/// returns it with its kind, for the caller to accept or refuse by kind and to read capped.
/// The open itself never blocks (a FIFO without a writer opens, then reads as empty); reads on
/// the returned file block as usual. Never the controlling terminal of the process.
pub fn open_input(path: &Path) -> std::io::Result<(File, std::fs::FileType)> {
    use std::os::fd::AsRawFd;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )?;
    Ok((file, kind))
}

/// Reads at most `cap` bytes of the regular file at `path` (symbolic links followed: the user
/// named the file). Anything else — a FIFO, a device such as `/dev/zero`, a directory — is
/// refused before a byte is read, and so is a file larger than `cap`. The open does not block
/// on a FIFO.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let (file, md) = open_regular(path)?;
    if md.len() > cap {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(md.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > cap {
        // The file grew while being read.
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok(bytes)
}

/// [`read_capped`], then UTF-8.
pub fn read_string_capped(path: &Path, cap: u64) -> Result<String> {
    String::from_utf8(read_capped(path, cap)?).map_err(|_| Error::NotText {
        path: path.to_path_buf(),
    })
}

/// Refuses a destination that exists and is not a regular file (a symbolic link included).
pub fn check_destination(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_file() => Ok(()),
        Ok(md) => Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(md.file_type()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("inspect", path, e)),
    }
}

/// Writes `data` to `path` atomically with permissions `mode`: a temp file with an
/// unpredictable name is created exclusively in the same directory, written, synced and renamed
/// onto `path`, then the directory is synced. A destination that exists and is not a regular
/// file is refused before anything is written; on any failure the old file is left as it was
/// and the temp file is removed.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_atomic_with(path, mode, |f| f.write_all(data))
}

/// [`write_atomic`] with the content produced by `fill` writing into the temp file.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let mut tmp = TempBeside::new(path, mode)?;
    fill(tmp.file()).map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.commit(true)
}

/// [`write_atomic`] without the syncs: for runtime state that a crash of the host loses anyway
/// (the rename still makes the change all-or-nothing for every reader).
pub fn write_atomic_unsynced(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut tmp = TempBeside::new(path, mode)?;
    tmp.file()
        .write_all(data)
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.commit(false)
}

/// Whether a file name is one of the temp names [`TempBeside`] creates (`.<base>.XXXXXX.tmp`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp") && name.len() > 5
}

#[allow(deprecated)] // `Flock` unlocks on drop, which would release a lock a child still shares.
fn flock_nonblock(file: &File, exclusive: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let arg = if exclusive {
        nix::fcntl::FlockArg::LockExclusiveNonblock
    } else {
        nix::fcntl::FlockArg::LockSharedNonblock
    };
    nix::fcntl::flock(file.as_raw_fd(), arg).map_err(std::io::Error::from)
}

/// A new file that will replace (or create) `dest`: created exclusively beside it with an
/// unpredictable name (see [`is_temp_name`]) and locked while it exists, so that
/// [`remove_stale_temps`] can tell the temp file of a writer that was killed from one being
/// written. Dropping it without [`TempBeside::commit`] removes it.
pub struct TempBeside {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl TempBeside {
    /// Creates the temp file beside `dest` with permissions `mode`; refuses a `dest` that exists
    /// and is not a regular file.
    pub fn new(dest: &Path, mode: u32) -> Result<TempBeside> {
        check_destination(dest)?;
        let dir = parent_of(dest);
        let base = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{base}."))
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(mode))
            .tempfile_in(dir)
            .map_err(|e| Error::io("create a temporary file in", dir, e))?;
        flock_nonblock(tmp.as_file(), true).map_err(|e| Error::io("lock", tmp.path(), e))?;
        Ok(TempBeside {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temp file's path (for a helper process that writes into it by name).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The open temp file.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Renames the temp file onto the destination, which is checked again right before (the
    /// remaining window is the rename itself). With `durable`, the file is synced first and the
    /// directory after.
    pub fn commit(self, durable: bool) -> Result<()> {
        if durable {
            self.tmp
                .as_file()
                .sync_all()
                .map_err(|e| Error::io("sync", self.tmp.path(), e))?;
        }
        check_destination(&self.dest)?;
        let dest = self.dest;
        self.tmp
            .persist(&dest)
            .map_err(|e| Error::io("rename a temporary file onto", &dest, e.error))?;
        if durable && let Ok(d) = File::open(parent_of(&dest)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the temp files ([`is_temp_name`]) in `dir` that writers killed before their rename
/// left behind: a temp file is removed only when no process holds its lock and it has not been
/// modified for `min_age` (which covers the instant between its creation and its locking).
/// Returns how many were removed.
pub fn remove_stale_temps(dir: &Path, min_age: std::time::Duration) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_str().is_some_and(is_temp_name) {
            continue;
        }
        let path = e.path();
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let old = md
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if !md.is_file() || !old {
            continue;
        }
        let Ok(f) = open_nofollow(&path, OpenMode::Read, 0o600) else {
            continue;
        };
        if flock_nonblock(&f, true).is_err() {
            continue;
        }
        // Still the same file under that name (not renamed and replaced meanwhile)?
        let same = f.metadata().ok().zip(std::fs::symlink_metadata(&path).ok());
        if same.is_some_and(|(a, b)| a.dev() == b.dev() && a.ino() == b.ino())
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// How [`open_nofollow`] opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read an existing file.
    Read,
    /// Append to a file, creating it when missing.
    Append,
    /// Create a new file; an existing name (even a dangling symlink) is an error.
    CreateNew,
}

/// Opens `path` without following a symbolic link in its last component, and refuses anything
/// but a regular file. New files get permissions `mode`.
pub fn open_nofollow(path: &Path, how: OpenMode, mode: u32) -> Result<File> {
    let mut o = OpenOptions::new();
    match how {
        OpenMode::Read => o.read(true),
        OpenMode::Append => o.append(true).create(true),
        OpenMode::CreateNew => o.write(true).create_new(true),
    };
    let file = o
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                Error::NotRegular {
                    path: path.to_path_buf(),
                    kind: "a symbolic link",
                }
            } else {
                Error::io("open", path, e)
            }
        })?;
    let md = file.metadata().map_err(|e| Error::io("inspect", path, e))?;
    if !md.is_file() {
        return Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(md.file_type()),
        });
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("hostio").tempdir().unwrap()
    }

    #[test]
    fn read_capped_refuses_devices_fifos_and_large_files() {
        let d = dir();
        let e = read_capped(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{e}"
        );
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Would block forever without O_NONBLOCK: no writer ever opens it.
        let e = read_capped(&fifo, 1024).unwrap_err();
        assert!(matches!(e, Error::NotRegular { kind: "a FIFO", .. }), "{e}");
        let big = d.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let e = read_capped(&big, 1024).unwrap_err();
        assert!(matches!(e, Error::TooLarge { cap: 1024, .. }), "{e}");
        assert_eq!(read_capped(&big, 2048).unwrap().len(), 2048);
        let e = read_capped(d.path(), 1024).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn write_atomic_refuses_non_regular_destinations_and_keeps_them() {
        let d = dir();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = write_atomic(&fifo, b"data", 0o600).unwrap_err();
        assert!(matches!(e, Error::NotRegular { kind: "a FIFO", .. }), "{e}");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo_like()
        );

        let target = d.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        let link = d.path().join("link");
        symlink(&target, &link).unwrap();
        let e = write_atomic(&link, b"data", 0o600).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "a symbolic link",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");

        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(write_atomic(&sub, b"x", 0o600).is_err());
        assert!(sub.is_dir());
        // Nothing left behind by the refusals.
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(left.len(), 4);
    }

    trait FifoLike {
        fn is_fifo_like(&self) -> bool;
    }
    impl FifoLike for std::fs::FileType {
        fn is_fifo_like(&self) -> bool {
            use std::os::unix::fs::FileTypeExt;
            self.is_fifo()
        }
    }

    #[test]
    fn the_unsynced_write_follows_the_same_destination_rules() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("state");
        write_atomic_unsynced(&f, b"one", 0o600).unwrap();
        write_atomic_unsynced(&f, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(matches!(
            write_atomic_unsynced(&link, b"x", 0o600),
            Err(Error::NotRegular { .. })
        ));
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "no temp file is left behind");
    }

    #[test]
    fn write_atomic_replaces_regular_files_and_a_failed_fill_keeps_the_old_one() {
        let d = dir();
        let f = d.path().join("conf");
        write_atomic(&f, b"one", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"one");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        write_atomic(&f, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        let e = write_atomic_with(&f, 0o600, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("conf")]);
    }

    #[test]
    fn untrusted_directories_are_refused() {
        let d = dir();
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_trusted_dir(&open).unwrap_err();
        assert!(e.to_string().contains("writable by others"), "{e}");
        let sticky = d.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        // Sticky but not root's own (it is ours): refused as the directory itself.
        assert!(check_trusted_dir(&sticky).is_err());
        let ok = d.path().join("private");
        ensure_private_dir(&ok, 0o700).unwrap();
        assert_eq!(std::fs::metadata(&ok).unwrap().mode() & 0o777, 0o700);
        // Nothing is created under an untrusted directory.
        assert!(ensure_private_dir(&open.join("new/deeper"), 0o700).is_err());
        assert!(!open.join("new").exists());
        // A root-owned sticky directory may hold a user's output, never the driver's state.
        if std::fs::metadata("/tmp").is_ok_and(|m| m.uid() == 0 && m.mode() & 0o1002 == 0o1002) {
            assert!(check_destination_dir(Path::new("/tmp")).is_ok());
            assert!(check_trusted_dir(Path::new("/tmp")).is_err());
        }
        let inside = open.join("inside");
        std::fs::create_dir(&inside).unwrap();
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A private directory under a world-writable, non-sticky one is not safe.
        assert!(check_trusted_dir(&inside).is_err());
        if nix::unistd::geteuid().is_root() {
            let theirs = d.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let e = check_trusted_dir(&theirs).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        }
    }

    #[test]
    fn untrusted_files_are_refused() {
        let d = dir();
        let f = d.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let check = |mode: u32| {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            check_trusted_file(&f, &std::fs::metadata(&f).unwrap())
        };
        check(0o644).unwrap();
        check(0o755).unwrap();
        let e = check(0o666).unwrap_err().to_string();
        assert!(e.contains("writable by others (mode 0666)"), "{e}");
        let e = check(0o664).unwrap_err().to_string();
        assert!(e.contains("writable by its group (mode 0664)"), "{e}");
        let e = check_trusted_file(d.path(), &std::fs::metadata(d.path()).unwrap()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        if euid() == 0 {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
            nix::unistd::chown(&f, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let e = check_trusted_file(&f, &std::fs::metadata(&f).unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
        }
    }

    #[test]
    fn stale_temps_of_killed_writers_are_removed_and_live_ones_kept() {
        let d = dir();
        let dest = d.path().join("conf.xml");
        // A writer in progress: its temp file is locked.
        let mut live = TempBeside::new(&dest, 0o600).unwrap();
        live.file().write_all(b"new").unwrap();
        // A writer killed before its rename: an unlocked temp file.
        let dead = d.path().join(".conf.xml.AbC123.tmp");
        std::fs::write(&dead, b"half").unwrap();
        // Not ours: other dotfiles, and a temp-looking symlink.
        let internal = d.path().join(".next-id");
        std::fs::write(&internal, b"1").unwrap();
        symlink(&internal, d.path().join(".x.Zz.tmp")).unwrap();
        // Too young to tell from a writer between creating and locking its file.
        assert_eq!(
            remove_stale_temps(d.path(), std::time::Duration::from_secs(3600)),
            0
        );
        assert_eq!(remove_stale_temps(d.path(), std::time::Duration::ZERO), 1);
        assert!(!dead.exists());
        assert!(live.path().exists() && internal.exists());
        live.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert!(is_temp_name(".conf.xml.AbC123.tmp") && !is_temp_name(".next-id"));
    }

    #[test]
    fn open_nofollow_refuses_links() {
        let d = dir();
        let target = d.path().join("log");
        std::fs::write(&target, b"").unwrap();
        let link = d.path().join("link");
        symlink(&target, &link).unwrap();
        let e = open_nofollow(&link, OpenMode::Append, 0o600).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "a symbolic link",
                    ..
                }
            ),
            "{e}"
        );
        open_nofollow(&target, OpenMode::Append, 0o600).unwrap();
        let e = open_nofollow(&target, OpenMode::CreateNew, 0o600).unwrap_err();
        assert!(e.to_string().contains("exists"), "{e}");
    }
}
