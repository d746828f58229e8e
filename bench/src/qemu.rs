//! QEMU: a guest's start → running beside a bare `qemu-system-x86_64 -S` exec → QMP greeting,
//! and `list` with N guests running.
//!
//! The driver's own measurement functions (`virtkit_qemu_driver::bench`) give the main figures
//! (driver called directly). This module adds the same start measured through the public API on
//! the installed plugin (loader and core included), and makes sure no QEMU process outlives the
//! run: guests it starts are destroyed by a guard, and at the end any process still running
//! whose command line names this run's private directory is killed by its pid.

use std::path::Path;
use std::time::{Duration, Instant};

use virtkit::{Connect, Domain, DomainState, Registry};
use virtkit_qemu_driver::bench;

use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_median_time, min_ratio, progress};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What was measured, in nanoseconds.
pub struct QemuTimes {
    pub bare: Summary,
    /// Bare QEMU exec → greeting → `qmp_capabilities` → `cont` answered: running, no driver.
    pub bare_running: Summary,
    pub driver: Summary,
    /// Through the public API on the plugin, when the plugin is built.
    pub api: Option<Result<Summary, String>>,
    pub list: Result<bench::ListTimes, String>,
}

/// `qemu-system-x86_64`, or why there is none.
pub fn binary() -> Result<String, String> {
    bench::qemu_binary()
}

/// Runs everything under `dir`: `runs` interleaved rounds of bare greeting / driver start /
/// (plugin start), then listing with `guests` guests running.
pub fn measure(
    release: &Path,
    dir: &Path,
    runs: usize,
    guests: usize,
    list_reps: usize,
) -> Result<QemuTimes, String> {
    let root = dir.join("driver");
    let api_root = dir.join("api");
    for d in [&root, &api_root] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let plugin = release.join("libvirtkit_driver_qemu.so");
    let api_conn = plugin.exists().then(|| open_plugin(release, &api_root));
    // One untimed round warms the page cache for QEMU and its firmware.
    bench::bare_qemu()?;
    let (mut bare, mut driver, mut api) = (Vec::new(), Vec::new(), Vec::new());
    let mut bare_running = Vec::new();
    let mut api_err = None;
    for i in 0..runs {
        let b = bench::bare_qemu()?;
        bare.push(stats::ns(b.greeting));
        bare_running.push(stats::ns(b.running));
        driver.push(stats::ns(bench::start_to_running(&root)?));
        if let (Some(Ok(conn)), None) = (&api_conn, &api_err) {
            match start_through_api(conn, i) {
                Ok(t) => api.push(t),
                Err(e) => api_err = Some(e),
            }
        }
    }
    let api = api_conn.map(|c| match (c, api_err) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        (Ok(_), None) => Summary::of(&api).ok_or_else(|| "no runs".into()),
    });
    let list = bench::list_with_n_guests(&root, guests, list_reps);
    Ok(QemuTimes {
        bare: Summary::of(&bare).ok_or("no runs")?,
        bare_running: Summary::of(&bare_running).ok_or("no runs")?,
        driver: Summary::of(&driver).ok_or("no runs")?,
        api,
        list,
    })
}

fn open_plugin(release: &Path, root: &Path) -> Result<Connect, String> {
    let registry = Registry::with_dirs(vec![release.to_path_buf()]).without_static();
    let uri = format!("qemu:///session?root={}", root.display());
    Connect::open_with(Some(&uri), false, &registry).map_err(|e| format!("cannot open {uri}: {e}"))
}

/// Destroys and undefines a guest on drop.
struct Guest(Domain);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.destroy();
        let _ = self.0.undefine();
    }
}

/// Defines a guest through the public API, then times `create` until the guest reports running.
fn start_through_api(conn: &Connect, i: usize) -> Result<f64, String> {
    let d = conn
        .define_domain_xml(&bench::guest_xml(&format!("bench-api-{i}")))
        .map_err(|e| format!("define: {e}"))?;
    let g = Guest(d);
    let t = Instant::now();
    g.0.create().map_err(|e| format!("start: {e}"))?;
    loop {
        match g.0.state() {
            Ok((DomainState::Running, _)) => break,
            Ok(_) if t.elapsed() < START_TIMEOUT => std::thread::sleep(Duration::from_micros(100)),
            Ok((s, _)) => return Err(format!("guest is {s:?} 30 s after start")),
            Err(e) => return Err(format!("state: {e}")),
        }
    }
    Ok(stats::ns(t.elapsed()))
}

/// Kills (by pid) every process whose command line mentions `dir`, this run's private
/// directory: only QEMU processes started for this run can match. Returns how many there were.
pub fn kill_leftovers(dir: &Path) -> usize {
    let needle = dir.display().to_string();
    let me = std::process::id();
    let mut killed = 0;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid as u32 == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(&needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            killed += 1;
        }
    }
    killed
}

impl Run<'_> {
    /// The `qemu` group: a guest's start latency and `list` with guests running.
    pub(crate) fn qemu(&mut self) {
        const G: &str = "QEMU (TCG guests: 64 MiB, no disk, -S)";
        progress("QEMU: start latency and list with running guests");
        if let Err(e) = binary() {
            self.skip(format!("QEMU: {e}"));
            return;
        }
        let dir = match tempfile::Builder::new()
            .prefix("vkb-qemu-")
            .tempdir_in("/tmp")
        {
            Ok(d) => d,
            Err(e) => {
                self.skip(format!("QEMU: cannot make a temporary directory: {e}"));
                return;
            }
        };
        let t = measure(
            &self.o.release,
            dir.path(),
            self.s.qemu_runs,
            self.s.qemu_guests,
            self.s.list_reps,
        );
        let leftovers = kill_leftovers(dir.path());
        if leftovers > 0 {
            self.notes.push(format!(
                "QEMU: {leftovers} QEMU process(es) of this run were still running at the end and were killed"
            ));
        }
        let t = match t {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("QEMU: {e}"));
                return;
            }
        };
        let runs = self.s.qemu_runs;
        self.rows.push(
            Row::info(
                G,
                format!(
                    "start → running (driver) vs bare `qemu -S` exec → QMP greeting, {runs} runs"
                ),
                min_median_time(&t.driver),
                min_median_time(&t.bare),
                min_ratio(&t.driver, &t.bare),
            )
            .ratio_target(1.2, "≤ 1.2×"),
        );
        self.rows.push(Row::info(
            G,
            "start → running (driver) vs bare QEMU exec → `cont` answered (no driver)",
            min_median_time(&t.driver),
            min_median_time(&t.bare_running),
            min_ratio(&t.driver, &t.bare_running),
        ));
        // The same ratio with no driver at all: what any start through QMP is bound by.
        self.rows.push(Row::info(
            G,
            "floor, no driver: bare QEMU exec → `cont` answered vs exec → QMP greeting",
            min_median_time(&t.bare_running),
            min_median_time(&t.bare),
            min_ratio(&t.bare_running, &t.bare),
        ));
        match &t.api {
            Some(Ok(a)) => self.rows.push(Row::info(
                G,
                "start → running through the public API + plugin vs bare greeting",
                min_median_time(a),
                min_median_time(&t.bare),
                min_ratio(a, &t.bare),
            )),
            Some(Err(e)) => self.skip(format!("QEMU start through the plugin: {e}")),
            None => self.skip(format!(
                "QEMU start through the plugin: {} is not built",
                self.o.release.join("libvirtkit_driver_qemu.so").display()
            )),
        }
        match &t.list {
            Ok(l) => {
                self.rows.push(Row::info(
                    G,
                    format!("list ids with {} guests running (median)", l.guests),
                    stats::time(stats::ns(l.list_ids)),
                    "—",
                    None,
                ));
                self.rows.push(Row::info(
                    G,
                    format!(
                        "list ids + name + state of each, {} guests (median)",
                        l.guests
                    ),
                    stats::time(stats::ns(l.list_with_states)),
                    "—",
                    None,
                ));
                self.rows.push(
                    Row::info(
                        G,
                        format!(
                            "`list --all` with {} guests: ids, lookups, states as the CLI asks them (median)",
                            l.guests
                        ),
                        stats::time(stats::ns(l.list_with_states_concurrent)),
                        "—",
                        None,
                    )
                    .absolute_target(
                        l.list_with_states_concurrent <= std::time::Duration::from_millis(10),
                        "≤ 10 ms",
                    ),
                );
            }
            Err(e) => self.skip(format!("QEMU list with {} guests: {e}", self.s.qemu_guests)),
        }
        self.notes.push(
            "QEMU rows: the qemu driver's own `bench` functions (driver called directly, bare \
             QEMU measured in the same rounds, interleaved, so both see the same load); the \
             public-API row goes through the loader and the plugin. QEMU sends its QMP greeting \
             from the monitor thread before its main loop runs and answers the first command \
             only later, so bare exec → `cont` answered is the floor of any start through QMP. \
             libvirtd's QEMU driver is measured beside the virtkit CLI in the `libvirtd` group."
                .into(),
        );
    }
}
