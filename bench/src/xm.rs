//! Xen's xm member: listing a directory of 1000 XM configs with a cold cache (a new
//! connection, every file parsed) and a warm one (every file `stat`ed, nothing parsed), beside
//! the floor of any listing — `readdir` + `stat` of every file — measured in the same rounds.
//!
//! The driver's own measurement function (`virtkit_xen_xm_driver::bench`) gives the figures
//! with the driver called directly; the same listing is also timed through the public API on
//! the release plugin (loader and core included).

use std::path::Path;
use std::time::Instant;

use virtkit::{Connect, Registry};
use virtkit_xen_xm_driver::bench;

use crate::stats::{self, Summary};

/// What was measured, in nanoseconds.
pub struct XmTimes {
    pub stat: Summary,
    pub cold: Summary,
    pub warm: Summary,
    /// Through the public API on the plugin: (cold, warm), when the plugin is built.
    pub api: Option<Result<(Summary, Summary), String>>,
}

fn summary(v: &[f64]) -> Result<Summary, String> {
    Summary::of(v).ok_or_else(|| "no sample".to_string())
}

/// Fills `dir` with `n` configs and measures `rounds` interleaved rounds.
pub fn measure(release: &Path, dir: &Path, n: usize, rounds: usize) -> Result<XmTimes, String> {
    bench::populate(dir, n).map_err(|e| format!("{}: {e}", dir.display()))?;
    let driver = bench::measure(dir, n, rounds)?;
    let pick = |f: fn(&bench::Round) -> std::time::Duration| -> Vec<f64> {
        driver.iter().map(|r| stats::ns(f(r))).collect()
    };
    let plugin = release.join("libvirtkit_driver_xen_xm.so");
    let api = plugin.exists().then(|| {
        let registry = Registry::with_dirs(vec![release.to_path_buf()]).without_static();
        let uri = format!("xen:///?xm_config_dir={}", dir.display());
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let conn =
                Connect::open_with(Some(&uri), true, &registry).map_err(|e| e.to_string())?;
            let names = conn.list_defined_domains().map_err(|e| e.to_string())?;
            cold.push(stats::ns(t.elapsed()));
            let t = Instant::now();
            let again = conn.list_defined_domains().map_err(|e| e.to_string())?;
            warm.push(stats::ns(t.elapsed()));
            if names.len() != n || again.len() != n {
                return Err(format!(
                    "the plugin listed {} domains, expected {n}",
                    names.len()
                ));
            }
        }
        Ok((summary(&cold)?, summary(&warm)?))
    });
    Ok(XmTimes {
        stat: summary(&pick(|r| r.stat))?,
        cold: summary(&pick(|r| r.cold))?,
        warm: summary(&pick(|r| r.warm))?,
        api,
    })
}
