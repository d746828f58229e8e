//! The public API on the test driver loaded from its plugin: N domains defined, listed and
//! looked up, and the cost of one call at each layer between a program and the driver.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use virtkit::{Connect, Registry};

use crate::stats::{self, Summary};

/// The domain every benchmark defines: libvirt's test domain (the test driver's data file, the
/// one copy in the tree) with its name, UUID and disk made per domain (`@NAME@`, `@UUID@`) and
/// its fixed MAC address and interface name dropped; the same text for virtkit and for libvirt.
pub fn template() -> String {
    const DEFAULT: &str = include_str!("../../plugins/test/data/default-domain.xml");
    let mut t: String = DEFAULT
        .lines()
        .filter(|l| !l.contains("<mac address=") && !l.contains("<target dev='testnet"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (from, to) in [
        ("<name>test</name>", "<name>@NAME@</name>"),
        (
            "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>",
            "<uuid>@UUID@</uuid>",
        ),
        ("/guest/diskimage1", "/guest/@NAME@.img"),
    ] {
        assert!(t.contains(from), "the test domain no longer has {from}");
        t = t.replace(from, to);
    }
    t
}

/// N domains to define, and the order in which to look them up.
pub struct Workload {
    pub names: Vec<String>,
    pub uuids: Vec<String>,
    pub order: Vec<usize>,
}

impl Workload {
    pub fn new(n: usize) -> Workload {
        Workload {
            names: (0..n).map(|i| format!("bench-{i:05}")).collect(),
            uuids: (0..n)
                .map(|i| format!("b3c5e0a1-0000-4000-8000-{i:012x}"))
                .collect(),
            order: stats::shuffled(n),
        }
    }

    pub fn xmls(&self) -> Vec<String> {
        let template = template();
        self.names
            .iter()
            .zip(&self.uuids)
            .map(|(n, u)| template.replace("@NAME@", n).replace("@UUID@", u))
            .collect()
    }

    /// The request for the libvirt peer's `domains` mode.
    pub fn peer_request(&self, reps: usize, list_reps: usize) -> serde_json::Value {
        serde_json::json!({
            "mode": "domains",
            "template": template(),
            "names": self.names,
            "uuids": self.uuids,
            "order": self.order,
            "reps": reps,
            "list_reps": list_reps,
        })
    }
}

/// Per-operation times of one side (nanoseconds; one sample per repetition, or per list call).
#[derive(Default)]
pub struct DomainTimes {
    pub define: Vec<f64>,
    pub list: Vec<f64>,
    pub lookup_name: Vec<f64>,
    pub lookup_uuid: Vec<f64>,
}

fn fresh(registry: &Registry) -> Result<Connect, String> {
    let conn = Connect::open_with(Some("test:///default"), false, registry)
        .map_err(|e| format!("cannot open test:///default: {e}"))?;
    let (active, defined) = (
        conn.num_of_domains().map_err(|e| e.to_string())?,
        conn.num_of_defined_domains().map_err(|e| e.to_string())?,
    );
    if active != 1 || defined != 0 {
        return Err(format!(
            "test:///default is not fresh ({active} active, {defined} defined domains)"
        ));
    }
    Ok(conn)
}

/// Defines the workload's domains in a fresh `test:///default`, lists them `list_reps` times,
/// looks each up by name and by UUID; `reps` times, each on a fresh node.
pub fn virtkit_domains(
    registry: &Registry,
    w: &Workload,
    reps: usize,
    list_reps: usize,
) -> Result<DomainTimes, String> {
    let xmls = w.xmls();
    let n = xmls.len() as f64;
    let by_name: Vec<&str> = w.order.iter().map(|&i| w.names[i].as_str()).collect();
    let by_uuid: Vec<uuid::Uuid> = w
        .order
        .iter()
        .map(|&i| uuid::Uuid::parse_str(&w.uuids[i]).expect("well-formed UUID"))
        .collect();
    let mut out = DomainTimes::default();
    for _ in 0..reps {
        let conn = fresh(registry)?;
        let t = Instant::now();
        for x in &xmls {
            black_box(
                conn.define_domain_xml(x)
                    .map_err(|e| format!("define: {e}"))?,
            );
        }
        out.define.push(stats::ns(t.elapsed()) / n);
        let mut count = 0;
        for _ in 0..list_reps {
            let t = Instant::now();
            let ids = conn.list_domains().map_err(|e| e.to_string())?;
            let names = conn.list_defined_domains().map_err(|e| e.to_string())?;
            out.list.push(stats::ns(t.elapsed()));
            count = ids.len() + names.len();
            black_box((ids, names));
        }
        if count != xmls.len() + 1 {
            return Err(format!(
                "list returned {count} domains, expected {}",
                xmls.len() + 1
            ));
        }
        let t = Instant::now();
        for name in &by_name {
            black_box(
                conn.lookup_domain_by_name(black_box(name))
                    .map_err(|e| format!("lookup by name: {e}"))?,
            );
        }
        out.lookup_name.push(stats::ns(t.elapsed()) / n);
        let t = Instant::now();
        for u in &by_uuid {
            black_box(
                conn.lookup_domain_by_uuid(black_box(u))
                    .map_err(|e| format!("lookup by uuid: {e}"))?,
            );
        }
        out.lookup_uuid.push(stats::ns(t.elapsed()) / n);
    }
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    /// The template is libvirt's test domain made per domain: it parses, with the placeholders
    /// filled, and carries no fixed MAC address.
    #[test]
    fn the_template_is_the_test_domain_per_domain() {
        let t = super::template();
        assert!(!t.contains("<mac "), "{t}");
        let xml = t
            .replace("@NAME@", "b1")
            .replace("@UUID@", "b3c5e0a1-0000-4000-8000-000000000001");
        let def = virtkit_xml::DomainDef::parse(&xml).unwrap();
        assert_eq!(def.name, "b1");
        assert_eq!(def.memory_kib, 8388608);
    }
}
