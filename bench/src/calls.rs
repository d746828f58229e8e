//! The `calls` group: the cost of one call at each layer between a program and the test driver
//! (the driver's function, the plugin's table slot, the loader's shim, the public API), beside
//! libvirt's through its Python bindings.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use virtkit::{Connect, Registry};

use crate::peer;
use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_ratio, progress};

/// Nanoseconds per call of `f`, `iters` calls per sample, `reps` samples.
fn per_call(iters: u64, reps: usize, mut f: impl FnMut()) -> Summary {
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        v.push(stats::ns(t.elapsed()) / iters as f64);
    }
    Summary::of(&v).expect("reps > 0")
}

/// Time per call of one operation at each layer.
pub struct CallCosts {
    pub op: &'static str,
    /// The driver's Rust function, called directly (the compiler may inline it).
    pub direct: Summary,
    /// The same function through an opaque function pointer (an indirect call, no inlining).
    pub direct_indirect: Summary,
    /// The plugin's C table slot (the SDK's `extern "C"` shim: argument checks, `catch_unwind`,
    /// result written for the host).
    pub slot: Summary,
    /// `virtkit_loader::DriverConn` (host shim: error sink, slot check, result conversion).
    pub loader: Summary,
    /// `virtkit::Connect` (read-only check, driver stack dispatch).
    pub api: Summary,
}

/// Measures `get_version` (no driver state touched) and `num_of_domains` (takes the node lock)
/// at every layer, on the plugin at `plugin`.
pub fn call_costs(plugin: &Path, iters: u64, reps: usize) -> Result<Vec<CallCosts>, String> {
    use virtkit_driver::Driver as _;
    use virtkit_test_driver::TestDriver;

    let canonical = plugin
        .canonicalize()
        .map_err(|e| format!("{}: {e}", plugin.display()))?;
    let driver = Registry::load_file(&canonical).map_err(|e| e.to_string())?;
    let dconn = match driver.open("test:///default", 0) {
        Ok(virtkit_loader::Opened::Conn(c)) => c,
        Ok(virtkit_loader::Opened::Declined) => return Err("the test plugin declined".into()),
        Err(e) => return Err(e.to_string()),
    };
    // The bare slot call, with no host-side shim (the loader holds the `unsafe`).
    let raw = virtkit_loader::RawConn::open(&driver, "test:///default")?;
    let registry = Registry::with_files(vec![canonical.clone()]);
    let api =
        Connect::open_with(Some("test:///default"), false, &registry).map_err(|e| e.to_string())?;
    // The statically linked copy of the driver logic (its own node, separate from the plugin's).
    let direct = TestDriver::open("test:///default", false)
        .map_err(|e| e.message.clone())?
        .ok_or("the test driver declined")?;
    let ops = <TestDriver as virtkit_driver::Driver>::OPS;
    let version = ops.get_version.ok_or("no get_version")?;
    let count = ops.num_of_domains.ok_or("no num_of_domains")?;

    let mut out = Vec::new();
    let v_opaque = black_box(version);
    out.push(CallCosts {
        op: "get_version",
        direct: per_call(iters, reps, || {
            let _ = black_box(version(black_box(&direct)));
        }),
        direct_indirect: per_call(iters, reps, || {
            let _ = black_box(v_opaque(black_box(&direct)));
        }),
        slot: per_call(iters, reps, || {
            black_box(raw.get_version());
        }),
        loader: per_call(iters, reps, || {
            let _ = black_box(dconn.get_version());
        }),
        api: per_call(iters, reps, || {
            let _ = black_box(api.version());
        }),
    });
    let c_opaque = black_box(count);
    out.push(CallCosts {
        op: "num_of_domains",
        direct: per_call(iters, reps, || {
            let _ = black_box(count(black_box(&direct)));
        }),
        direct_indirect: per_call(iters, reps, || {
            let _ = black_box(c_opaque(black_box(&direct)));
        }),
        slot: per_call(iters, reps, || {
            black_box(raw.num_of_domains());
        }),
        loader: per_call(iters, reps, || {
            let _ = black_box(dconn.num_of_domains());
        }),
        api: per_call(iters, reps, || {
            let _ = black_box(api.num_of_domains());
        }),
    });
    Ok(out)
}

impl Run<'_> {
    /// The `calls` group: the cost of one call at each layer.
    pub(crate) fn calls(&mut self) {
        const G: &str = "one call, per layer (ns/call; peer = the driver function called directly)";
        progress("cost of one call at each layer");
        let plugin = match self.test_plugin() {
            Ok(p) => p,
            Err(e) => {
                self.skip(format!("call cost: {e}"));
                return;
            }
        };
        let costs = match call_costs(&plugin, self.s.call_iters, self.s.call_reps) {
            Ok(c) => c,
            Err(e) => {
                self.skip(format!("call cost: {e}"));
                return;
            }
        };
        let python = match &self.peer {
            Ok(p) => p
                .run(&serde_json::json!({
                    "mode": "calls",
                    "iterations": self.s.python_call_iters,
                    "reps": self.s.call_reps,
                }))
                .ok(),
            Err(_) => None,
        };
        for c in &costs {
            let t = |s: &Summary| stats::time(s.min);
            let direct = &c.direct_indirect;
            let layers = [
                ("plugin table slot (bare C call)", &c.slot),
                ("loader shim (DriverConn)", &c.loader),
                ("public API (Connect)", &c.api),
            ];
            self.rows.push(Row::info(
                G,
                format!("{}: direct Rust call, inlinable", c.op),
                t(&c.direct),
                t(direct),
                min_ratio(&c.direct, direct),
            ));
            for (name, s) in layers {
                self.rows.push(Row::info(
                    G,
                    format!("{}: {name}", c.op),
                    t(s),
                    t(direct),
                    min_ratio(s, direct),
                ));
            }
            let py_key = match c.op {
                "get_version" => "get_version",
                _ => "num_of_domains",
            };
            if let Some(py) = python
                .as_ref()
                .and_then(|j| Summary::of(&peer::samples(j, py_key)))
            {
                self.rows.push(Row::info(
                    G,
                    format!("{}: public API vs libvirt via Python", c.op),
                    t(&c.api),
                    t(&py),
                    min_ratio(&c.api, &py),
                ));
            }
        }
        self.notes.push(
            "Call rows: the peer column is the test driver's own Rust function called through an \
             opaque function pointer (statically linked copy), except in the `vs libvirt via \
             Python` rows, where it is virConnectGetVersion / virConnectNumOfDomains through \
             /usr/bin/python3's bindings (mostly the interpreter's cost)."
                .into(),
        );
    }
}
