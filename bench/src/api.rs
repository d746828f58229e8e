//! The public API on the test driver loaded from its plugin: N domains defined, listed and
//! looked up, and the cost of one call at each layer between a program and the driver.

use std::hint::black_box;
use std::time::Instant;

use virtkit::{Connect, Registry};

use crate::peer;
use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_ratio, progress};

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

impl Run<'_> {
    /// The `api` group: define, list and look up N domains through the public API vs libvirt's
    /// test driver through its Python bindings.
    pub(crate) fn api(&mut self) {
        const G: &str =
            "API on the test driver (plugin) vs libvirt's test driver (Python bindings)";
        if let Err(e) = self.test_plugin() {
            self.skip(format!("API benchmarks: {e}"));
            return;
        }
        let registry = self.registry();
        for n in self.s.domain_counts.clone() {
            progress(&format!("API: define, list, lookup with {n} domains"));
            let w = Workload::new(n);
            let v = virtkit_domains(&registry, &w, self.s.domain_reps, self.s.list_reps);
            let p = match &self.peer {
                Ok(peer) => peer
                    .run(&w.peer_request(self.s.domain_reps, self.s.list_reps))
                    .map(|j| DomainTimes {
                        define: peer::samples(&j, "define"),
                        list: peer::samples(&j, "list"),
                        lookup_name: peer::samples(&j, "lookup_name"),
                        lookup_uuid: peer::samples(&j, "lookup_uuid"),
                    }),
                Err(e) => Err(e.clone()),
            };
            let v = match v {
                Ok(v) => Some(v),
                Err(e) => {
                    self.skip(format!("virtkit API with {n} domains: {e}"));
                    None
                }
            };
            let p = match p {
                Ok(p) => Some(p),
                Err(e) => {
                    self.skip(format!("libvirt peer with {n} domains: {e}"));
                    None
                }
            };
            let k = if n >= 1000 && n % 1000 == 0 {
                format!("{}k", n / 1000)
            } else {
                n.to_string()
            };
            type Pick = fn(&DomainTimes) -> &Vec<f64>;
            let pick =
                |t: &Option<DomainTimes>, f: Pick| t.as_ref().and_then(|t| Summary::of(f(t)));
            let row = |name: String, f: Pick, per_op: bool| -> Row {
                let (a, b) = (pick(&v, f), pick(&p, f));
                let cell = |s: &Option<Summary>| match s {
                    Some(s) if per_op => format!("{}/op", stats::time(s.min)),
                    Some(s) => stats::time(s.min),
                    None => "skipped".into(),
                };
                Row::info(
                    G,
                    name,
                    cell(&a),
                    cell(&b),
                    a.as_ref()
                        .zip(b.as_ref())
                        .and_then(|(a, b)| min_ratio(a, b)),
                )
            };
            let define = row(format!("define {k} domains"), |t| &t.define, true)
                .ratio_target(0.1, "≥ 10× throughput (≤ 0.1×)");
            let list = row(
                format!("list all of {k} (ids + defined names)"),
                |t| &t.list,
                false,
            );
            let list = if n >= 10_000 {
                list.ratio_target(0.1, "≤ 0.1×")
            } else {
                list
            };
            let by_name = row(
                format!("lookup by name among {k}"),
                |t| &t.lookup_name,
                true,
            );
            let by_uuid = row(
                format!("lookup by UUID among {k}"),
                |t| &t.lookup_uuid,
                true,
            );
            let lookup_target = |r: Row, f: Pick| -> Row {
                match pick(&v, f) {
                    Some(s) => r.absolute_target(s.min <= 500.0, "≤ 0.5 µs"),
                    None => r,
                }
            };
            let by_name = lookup_target(by_name, |t| &t.lookup_name);
            let by_uuid = lookup_target(by_uuid, |t| &t.lookup_uuid);
            self.rows.extend([define, list, by_name, by_uuid]);
        }
        self.notes.push(format!(
            "API rows: min over {} fresh node(s) per size (list: min of {} calls per node); lookups \
             visit every domain in the same shuffled order on both sides; libvirt's figures are \
             timed inside Python and so include the bindings' own cost per call (see `calls`).",
            self.s.domain_reps,
            self.s.list_reps * self.s.domain_reps
        ));
    }
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
