//! Handing a file to another user for a while and back (libvirt's dynamic ownership of disk
//! images): the owner is changed through an open descriptor, so the file whose previous owner
//! is returned is exactly the file given away, and it is given back only while the path still
//! names that same file (device and inode), never to whatever was put there meanwhile.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::{Error, Result, kind_name};

/// A file given away, and whom it belonged to before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOwner {
    /// The device of the file.
    pub dev: u64,
    /// Its inode.
    pub ino: u64,
    /// Its owner before.
    pub uid: u32,
    /// Its group before.
    pub gid: u32,
}

/// Opens `path` (symbolic links followed: the user named the file, as the program that gets
/// it will open it) without blocking and without becoming a controlling terminal; only a
/// regular file or a block device is accepted.
fn open_image(path: &Path) -> Result<(File, std::fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let md = file.metadata().map_err(|e| Error::io("inspect", path, e))?;
    if !md.is_file() && !md.file_type().is_block_device() {
        return Err(Error::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(md.file_type()),
        });
    }
    Ok((file, md))
}

/// The identity and owner of the regular file or block device at `path`, to record before
/// [`give_file`].
pub fn file_owner(path: &Path) -> Result<FileOwner> {
    let (_, md) = open_image(path)?;
    Ok(FileOwner {
        dev: md.dev(),
        ino: md.ino(),
        uid: md.uid(),
        gid: md.gid(),
    })
}

/// Gives the file at `path` to `uid`:`gid` when it is still the file `before` describes (its
/// identity recorded by [`file_owner`]); a file replaced since is refused.
pub fn give_file(path: &Path, before: &FileOwner, uid: u32, gid: u32) -> Result<()> {
    let (file, md) = open_image(path)?;
    if (md.dev(), md.ino()) != (before.dev, before.ino) {
        return Err(Error::UntrustedFile {
            path: path.to_path_buf(),
            reason: "it was replaced by another file".into(),
        });
    }
    std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(|e| Error::io("chown", path, e))
}

/// Gives the file at `path` back to the owner `before` recorded, when the path still names that
/// file: `Ok(false)` when it is gone or is another file now (nothing is changed then).
pub fn give_back(path: &Path, before: &FileOwner) -> Result<bool> {
    let (file, md) = match open_image(path) {
        Ok(x) => x,
        Err(e) if e.errno() == Some(nix::libc::ENOENT) => return Ok(false),
        Err(Error::NotRegular { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    if (md.dev(), md.ino()) != (before.dev, before.ino) {
        return Ok(false);
    }
    std::os::unix::fs::fchown(&file, Some(before.uid), Some(before.gid))
        .map_err(|e| Error::io("chown", path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uid and gid this process may give files to: another user's as root, its own otherwise.
    fn other() -> (u32, u32) {
        if nix::unistd::geteuid().is_root() {
            (65534, 65534)
        } else {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        }
    }

    #[test]
    fn a_file_goes_and_comes_back_only_while_it_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        std::fs::write(&img, b"x").unwrap();
        let before = file_owner(&img).unwrap();
        let md = std::fs::metadata(&img).unwrap();
        assert_eq!((before.uid, before.gid), (md.uid(), md.gid()));
        let (uid, gid) = other();
        give_file(&img, &before, uid, gid).unwrap();
        let md = std::fs::metadata(&img).unwrap();
        assert_eq!((md.uid(), md.gid()), (uid, gid));
        assert!(give_back(&img, &before).unwrap());
        let md = std::fs::metadata(&img).unwrap();
        assert_eq!((md.uid(), md.gid()), (before.uid, before.gid));

        // Replaced by another file: neither given nor given back.
        let other_file = dir.path().join("other");
        std::fs::write(&other_file, b"y").unwrap();
        std::fs::rename(&other_file, &img).unwrap();
        assert!(matches!(
            give_file(&img, &before, uid, gid),
            Err(Error::UntrustedFile { .. })
        ));
        assert!(!give_back(&img, &before).unwrap());
        std::fs::remove_file(&img).unwrap();
        assert!(!give_back(&img, &before).unwrap());
    }

    #[test]
    fn only_regular_files_and_block_devices_are_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            file_owner(dir.path()),
            Err(Error::NotRegular { .. })
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(file_owner(&fifo), Err(Error::NotRegular { .. })));
        assert!(matches!(
            file_owner(Path::new("/dev/null")),
            Err(Error::NotRegular { .. })
        ));
    }
}
