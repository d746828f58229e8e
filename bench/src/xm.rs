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

use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_median_time, min_ratio, progress};

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

impl Run<'_> {
    /// The `xm` group: listing 1000 XM configs, cold and warm cache.
    pub(crate) fn xm(&mut self) {
        const G: &str = "Xen xm member: `list --all` of 1000 XM configs";
        const N: usize = 1000;
        progress("xm: listing 1000 XM configs, cold and warm cache");
        let dir = self.tmp.path().join("xm");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.skip(format!("xm: {}: {e}", dir.display()));
            return;
        }
        let rounds = self.s.list_reps.max(3);
        let t = match measure(&self.o.release, &dir, N, rounds) {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("xm: {e}"));
                return;
            }
        };
        self.rows.push(Row::info(
            G,
            "cold cache (new connection: read + parse every file) vs readdir + stat of the files",
            min_median_time(&t.cold),
            min_median_time(&t.stat),
            min_ratio(&t.cold, &t.stat),
        ));
        self.rows.push(
            Row::info(
                G,
                "warm cache (stat every file, parse none) vs readdir + stat of the files",
                min_median_time(&t.warm),
                min_median_time(&t.stat),
                min_ratio(&t.warm, &t.stat),
            )
            .ratio_target(2.0, "≤ 2×"),
        );
        match &t.api {
            Some(Ok((cold, warm))) => {
                self.rows.push(Row::info(
                    G,
                    "through the public API + plugin: open + list (cold) vs readdir + stat",
                    min_median_time(cold),
                    min_median_time(&t.stat),
                    min_ratio(cold, &t.stat),
                ));
                self.rows.push(Row::info(
                    G,
                    "through the public API + plugin: list again (warm) vs readdir + stat",
                    min_median_time(warm),
                    min_median_time(&t.stat),
                    min_ratio(warm, &t.stat),
                ));
            }
            Some(Err(e)) => self.skip(format!("xm listing through the plugin: {e}")),
            None => self.skip(format!(
                "xm listing through the plugin: {} is not built",
                self.o.release.join("libvirtkit_driver_xen_xm.so").display()
            )),
        }
        self.notes.push(
            "xm rows: the xm member's own `bench` functions (driver called directly), the floor \
             (readdir + stat of the same 1000 files) measured in the same rounds, interleaved; \
             the API rows go through the loader and the release plugin. No libvirt xm driver \
             runs here, so the peer column is the stat floor."
                .into(),
        );
    }
}
