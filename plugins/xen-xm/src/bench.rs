//! The xm member's own measurements, for `cargo xtask bench`: listing a directory of N configs
//! with a cold cache (a new connection) and a warm one (nothing changed since the last call),
//! beside the floor any listing pays — reading the directory and `stat`ing each file — measured
//! in the same rounds, interleaved.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use virtkit_xen::XmGuestArch;

use crate::store::Store;

/// One round's times.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// `readdir` + `stat` of every entry, nothing parsed.
    pub stat: Duration,
    /// A new store (cold cache): every file read and parsed, then the names listed.
    pub cold: Duration,
    /// The same store again (warm cache): every file `stat`ed, nothing parsed.
    pub warm: Duration,
}

/// Writes `n` distinct XM configs (HVM and PV, as in libvirt's test data) into `dir`.
pub fn populate(dir: &Path, n: usize) -> std::io::Result<()> {
    for i in 0..n {
        let name = format!("guest{i:05}");
        let text = if i % 2 == 0 {
            format!(
                "name = \"{name}\"\nuuid = \"c7a5fdb2-cdaf-9455-926a-{i:012x}\"\nmaxmem = 579\nmemory = 394\n\
                 vcpus = 1\nbuilder = \"hvm\"\nkernel = \"/usr/lib/xen/boot/hvmloader\"\nboot = \"d\"\n\
                 pae = 1\nacpi = 1\napic = 1\nlocaltime = 0\non_poweroff = \"destroy\"\n\
                 on_reboot = \"restart\"\non_crash = \"restart\"\ndevice_model = \"/usr/lib/xen/bin/qemu-dm\"\n\
                 sdl = 0\nvnc = 1\nvncunused = 1\nvnclisten = \"127.0.0.1\"\n\
                 disk = [ \"phy:/dev/HostVG/{name},hda,w\", \"file:/root/boot.iso,hdc:cdrom,r\" ]\n\
                 vif = [ \"mac=00:16:3e:{:02x}:{:02x}:{:02x},bridge=xenbr1,type=ioemu\" ]\n\
                 parallel = \"none\"\nserial = \"pty\"\n",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            )
        } else {
            format!(
                "name = \"{name}\"\nuuid = \"c7a5fdb0-cdaf-9455-926a-{i:012x}\"\nmaxmem = 579\nmemory = 394\n\
                 vcpus = 1\nbootloader = \"/usr/bin/pygrub\"\non_poweroff = \"destroy\"\n\
                 on_reboot = \"restart\"\non_crash = \"restart\"\n\
                 vfb = [ \"type=vnc,vncunused=1,vnclisten=127.0.0.1\" ]\n\
                 disk = [ \"phy:/dev/HostVG/{name},xvda,w\" ]\n\
                 vif = [ \"mac=00:16:3e:{:02x}:{:02x}:{:02x},bridge=br0\" ]\n",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            )
        };
        std::fs::write(dir.join(&name), text)?;
    }
    Ok(())
}

/// The floor: read the directory and `stat` every entry.
fn stat_all(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let m = std::fs::metadata(e?.path())?;
        n += usize::from(m.size() > 0);
    }
    Ok(n)
}

/// `rounds` interleaved rounds over `dir` (which [`populate`] filled with `expected` configs).
pub fn measure(dir: &Path, expected: usize, rounds: usize) -> Result<Vec<Round>, String> {
    let version = 2;
    let arch = XmGuestArch::host();
    let mut warm_store = Store::new(dir.to_path_buf(), version, arch.clone());
    warm_store.refresh().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let n = stat_all(dir).map_err(|e| e.to_string())?;
        let stat = t.elapsed();
        if n != expected {
            return Err(format!(
                "{n} files in {}, expected {expected}",
                dir.display()
            ));
        }

        let t = Instant::now();
        let mut cold_store = Store::new(dir.to_path_buf(), version, arch.clone());
        cold_store.refresh().map_err(|e| e.to_string())?;
        let listed = cold_store.configs().len();
        let cold = t.elapsed();
        if listed != expected {
            return Err(format!(
                "cold listing gave {listed} domains, expected {expected}"
            ));
        }

        let before = warm_store.parses();
        let t = Instant::now();
        warm_store.refresh().map_err(|e| e.to_string())?;
        let listed = warm_store.configs().len();
        let warm = t.elapsed();
        if listed != expected || warm_store.parses() != before {
            return Err("the warm listing re-parsed files or lost some".into());
        }
        out.push(Round { stat, cold, warm });
    }
    Ok(out)
}
