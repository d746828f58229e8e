//! The privcmd device: hypercalls through `ioctl(IOCTL_PRIVCMD_HYPERCALL)`. The only `unsafe`
//! of the plugin lives here.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::Hypervisor;
use crate::codec::{DomctlBuf, SysctlBuf};
use crate::layout;

/// Where the device is on current kernels.
pub const DEVICE: &str = "/dev/xen/privcmd";
/// Where older kernels put it.
pub const OLD_DEVICE: &str = "/proc/xen/privcmd";

/// `struct privcmd_hypercall` of `<xen/privcmd.h>`.
#[repr(C)]
struct PrivcmdHypercall {
    op: u64,
    arg: [u64; 5],
}

// IOCTL_PRIVCMD_HYPERCALL: _IOC(_IOC_NONE, 'P', 0, sizeof(privcmd_hypercall_t)).
nix::ioctl_readwrite_bad!(
    privcmd_hypercall,
    (std::mem::size_of::<PrivcmdHypercall>() << 16) | ((b'P' as usize) << 8),
    PrivcmdHypercall
);

/// The device that exists, or why none does.
pub fn find(exists: impl Fn(&Path) -> bool) -> Result<PathBuf, String> {
    for p in [DEVICE, OLD_DEVICE] {
        if exists(Path::new(p)) {
            return Ok(PathBuf::from(p));
        }
    }
    Err(format!(
        "neither {DEVICE} nor {OLD_DEVICE} exists (this host does not run on Xen as its control domain)"
    ))
}

/// An open privcmd device.
pub struct Privcmd {
    file: File,
}

impl Privcmd {
    /// Opens the device at `path`.
    pub fn open(path: &Path) -> io::Result<Privcmd> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Privcmd { file })
    }

    /// One hypercall with `args`, the buffers the arguments point to held locked in memory for
    /// its duration (the hypervisor reads and writes them by address).
    fn call(&self, op: u64, args: [u64; 5], locked: &mut [&mut [u8]]) -> io::Result<i64> {
        let mut guards = Vec::new();
        for b in locked.iter_mut() {
            if b.is_empty() {
                continue;
            }
            let Some(ptr) = std::ptr::NonNull::new(b.as_mut_ptr().cast::<std::ffi::c_void>())
            else {
                continue;
            };
            // SAFETY: `ptr` and `b.len()` describe a live, exclusively borrowed buffer that
            // outlives the hypercall; it is unlocked (munlock) before the borrow ends.
            unsafe { nix::sys::mman::mlock(ptr, b.len()) }.map_err(io::Error::from)?;
            guards.push((ptr, b.len()));
        }
        let mut call = PrivcmdHypercall { op, arg: args };
        // SAFETY: the fd is an open privcmd device; `call` is a valid `privcmd_hypercall` for
        // the duration of the ioctl; every address in `args` points into a buffer in `locked`,
        // which stays borrowed (and locked) until the ioctl returns.
        let r = unsafe { privcmd_hypercall(self.file.as_raw_fd(), &mut call) };
        for (ptr, len) in guards {
            // SAFETY: the same region locked above, still borrowed.
            let _ = unsafe { nix::sys::mman::munlock(ptr, len) };
        }
        r.map(i64::from).map_err(io::Error::from)
    }
}

fn with_handle(req: &mut [u8], at: usize, buf: &mut [u8]) {
    let addr = buf.as_mut_ptr() as u64;
    req[at..at + 8].copy_from_slice(&addr.to_ne_bytes());
}

impl Hypervisor for Privcmd {
    fn xen_version(&self) -> io::Result<u32> {
        let r = self.call(
            layout::HYPERVISOR_XEN_VERSION,
            [layout::XENVER_VERSION, 0, 0, 0, 0],
            &mut [],
        )?;
        Ok(r as u32)
    }

    fn sysctl(&self, req: &mut SysctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()> {
        let mut bufs: Vec<&mut [u8]> = Vec::new();
        if let Some((b, at)) = buf {
            with_handle(req, at, b);
            bufs.push(b);
        }
        let addr = req.as_mut_ptr() as u64;
        bufs.push(req);
        self.call(layout::HYPERVISOR_SYSCTL, [addr, 0, 0, 0, 0], &mut bufs)
            .map(|_| ())
    }

    fn domctl(&self, req: &mut DomctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()> {
        let mut bufs: Vec<&mut [u8]> = Vec::new();
        if let Some((b, at)) = buf {
            with_handle(req, at, b);
            bufs.push(b);
        }
        let addr = req.as_mut_ptr() as u64;
        bufs.push(req);
        self.call(layout::HYPERVISOR_DOMCTL, [addr, 0, 0, 0, 0], &mut bufs)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choice() {
        assert_eq!(find(|_| true).unwrap(), PathBuf::from(DEVICE));
        assert_eq!(
            find(|p| p == Path::new(OLD_DEVICE)).unwrap(),
            PathBuf::from(OLD_DEVICE)
        );
        let e = find(|_| false).unwrap_err();
        assert!(e.contains("/dev/xen/privcmd") && !e.contains('\n'));
        assert_eq!(
            std::mem::size_of::<PrivcmdHypercall>(),
            48,
            "struct privcmd_hypercall"
        );
    }
}
