//! XML throughput on the corpus: virtkit's parse + format, and define + dumpxml through the test
//! driver, beside libvirt's define + dumpxml of the same files on its own test driver.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use virtkit::{Connect, Registry};
use virtkit_xml::{DomainDef, FormatOptions};

use crate::peer;
use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{Run, min_of, min_ratio, progress, size_label};

/// One corpus document.
pub struct Doc {
    pub path: PathBuf,
    pub text: String,
}

/// The name of the first element of an XML document (after the prolog and comments).
fn root_element(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>")? + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->")? + 3..];
        } else if let Some(r) = rest.strip_prefix("<!") {
            rest = &r[r.find('>')? + 1..];
        } else {
            let r = rest.strip_prefix('<')?;
            let end = r
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(r.len());
            return Some(&r[..end]);
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "xml") {
            out.push(p);
        }
    }
}

/// Every `<domain>` document under `corpus`, in path order.
pub fn corpus_domains(corpus: &Path) -> Vec<Doc> {
    let mut paths = Vec::new();
    walk(corpus, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            (root_element(&text) == Some("domain")).then_some(Doc { path, text })
        })
        .collect()
}

/// For each document, `None` when virtkit's parser accepts it, else the reason.
pub fn library_refusals(docs: &[Doc]) -> Vec<Option<String>> {
    docs.iter()
        .map(|d| DomainDef::parse(&d.text).err().map(|e| e.to_string()))
        .collect()
}

/// `DomainDef::parse` then `to_xml` (libvirt 9.0 style) of every document; nanoseconds per
/// document, one sample per round.
pub fn time_library(texts: &[&str], rounds: usize) -> Result<Vec<f64>, String> {
    let opts = FormatOptions::default();
    let mut per_doc = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for text in texts {
            let def = DomainDef::parse(black_box(text)).map_err(|e| e.to_string())?;
            black_box(def.to_xml(&opts));
        }
        per_doc.push(stats::ns(t.elapsed()) / texts.len().max(1) as f64);
    }
    Ok(per_doc)
}

/// Parse alone, then format alone, of every document; nanoseconds per document (min over
/// rounds) for each.
pub fn time_parse_and_format(
    texts: &[&str],
    rounds: usize,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let defs: Vec<DomainDef> = texts
        .iter()
        .map(|t| DomainDef::parse(t).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let opts = FormatOptions::default();
    let n = texts.len().max(1) as f64;
    let (mut parse, mut format) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        for text in texts {
            black_box(DomainDef::parse(black_box(text)).map_err(|e| e.to_string())?);
        }
        parse.push(stats::ns(t.elapsed()) / n);
        let t = Instant::now();
        for d in &defs {
            black_box(black_box(d).to_xml(&opts));
        }
        format.push(stats::ns(t.elapsed()) / n);
    }
    Ok((parse, format))
}

/// Define, XML description and undefine of one document (what the libvirt peer does).
fn cycle(conn: &Connect, text: &str) -> virtkit::Result<()> {
    let d = conn.define_domain_xml(text)?;
    black_box(d.xml_desc(0)?);
    d.undefine()
}

fn open(registry: &Registry) -> Result<Connect, String> {
    Connect::open_with(Some("test:///default"), false, registry)
        .map_err(|e| format!("cannot open test:///default: {e}"))
}

/// For each document, `None` when the test driver defines, describes and undefines it, else the
/// reason.
pub fn driver_refusals(registry: &Registry, docs: &[Doc]) -> Result<Vec<Option<String>>, String> {
    let conn = open(registry)?;
    Ok(docs
        .iter()
        .map(|d| cycle(&conn, &d.text).err().map(|e| e.to_string()))
        .collect())
}

/// Define + dumpxml + undefine of every document through the public API on the test plugin;
/// nanoseconds per document, one sample per round.
pub fn time_driver(registry: &Registry, texts: &[&str], rounds: usize) -> Result<Vec<f64>, String> {
    let conn = open(registry)?;
    let mut per_doc = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for text in texts {
            cycle(&conn, text).map_err(|e| format!("define/dumpxml/undefine: {e}"))?;
        }
        per_doc.push(stats::ns(t.elapsed()) / texts.len().max(1) as f64);
    }
    Ok(per_doc)
}

/// The request for the libvirt peer's `xml` mode.
pub fn peer_request(docs: &[&Doc], rounds: usize) -> serde_json::Value {
    let files: Vec<[String; 2]> = docs
        .iter()
        .map(|d| [d.path.display().to_string(), d.text.clone()])
        .collect();
    serde_json::json!({ "mode": "xml", "files": files, "rounds": rounds })
}

/// The kinds of large document the scaling rows time: one part repeated up to the size.
pub const LARGE_KINDS: [&str; 3] = ["disks", "interfaces", "attributes"];

/// The sizes of the scaling rows, in bytes: 1 KB to 10 MB (under the CLI's 10 MiB cap).
pub const LARGE_SIZES: [usize; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];

fn disk_name(mut i: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
        i -= 1;
    }
    letters.reverse();
    format!("vd{}", String::from_utf8_lossy(&letters))
}

/// A valid test-driver domain of about `size` bytes made of `<disk>`s, unnamed `<interface>`s
/// (the driver names each) or attributes on `<domain>` (ignored, as libvirt ignores them).
pub fn large_domain(kind: &str, size: usize) -> String {
    const HEAD: &str =
        "<domain type='test'><name>large</name><memory>1024</memory><os><type>hvm</type></os>";
    if kind == "attributes" {
        let mut attrs = String::new();
        let mut i = 0;
        while attrs.len() + HEAD.len() < size {
            attrs.push_str(&format!(" a{i}='v'"));
            i += 1;
        }
        return format!(
            "<domain type='test'{attrs}>{}</domain>",
            &HEAD["<domain type='test'>".len()..]
        );
    }
    let mut s = format!("{HEAD}<devices>\n");
    let mut i = 0;
    while s.len() < size {
        let part = match kind {
            "disks" => format!(
                "<disk type='file'><source file='/i/{i}.img'/><target dev='{}' bus='virtio'/></disk>\n",
                disk_name(i)
            ),
            _ => format!(
                "<interface type='network'><source network='default'/><mac address='52:54:00:{:02x}:{:02x}:{:02x}'/></interface>\n",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            ),
        };
        s.push_str(&part);
        i += 1;
    }
    s.push_str("</devices></domain>\n");
    s
}

/// Nanoseconds per MB (10⁶ bytes) of `DomainDef::parse` plus what a driver does to a new
/// definition (forget live state, name interfaces), one sample per round.
pub fn time_large_parse(text: &str, rounds: usize) -> Result<Vec<f64>, String> {
    let mb = text.len() as f64 / 1e6;
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut def = DomainDef::parse(black_box(text)).map_err(|e| e.to_string())?;
        def.forget_live_state();
        def.name_interfaces("testnet");
        black_box(def);
        out.push(stats::ns(t.elapsed()) / mb);
    }
    Ok(out)
}

/// Nanoseconds per MB of define + undefine through the test plugin, one sample per round.
pub fn time_large_define(
    registry: &Registry,
    text: &str,
    rounds: usize,
) -> Result<Vec<f64>, String> {
    let conn = open(registry)?;
    let mb = text.len() as f64 / 1e6;
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let d = conn
            .define_domain_xml(black_box(text))
            .map_err(|e| format!("define: {e}"))?;
        d.undefine().map_err(|e| format!("undefine: {e}"))?;
        out.push(stats::ns(t.elapsed()) / mb);
    }
    Ok(out)
}

impl Run<'_> {
    /// The `xml` group: the corpus's documents, then large documents.
    pub(crate) fn xml(&mut self) {
        self.xml_corpus();
        self.xml_large();
    }

    /// XML throughput on the corpus's `<domain>` documents, beside libvirt's.
    fn xml_corpus(&mut self) {
        const G: &str = "XML: corpus `<domain>` documents";
        progress("XML corpus throughput");
        let docs = corpus_domains(&self.o.corpus);
        if docs.is_empty() {
            self.skip(format!(
                "XML: no `<domain>` documents under {}",
                self.o.corpus.display()
            ));
            return;
        }
        let rounds = self.s.xml_rounds;
        let registry = self.registry();
        // Who refuses what: virtkit's parser, virtkit's test driver, libvirt's test driver.
        let lib_refused = library_refusals(&docs);
        let drv_refused = match self.test_plugin() {
            Ok(_) => driver_refusals(&registry, &docs),
            Err(e) => Err(e),
        };
        let all: Vec<&Doc> = docs.iter().collect();
        let peer_refused: Result<Vec<Option<String>>, String> = match &self.peer {
            Ok(p) => p.run(&peer_request(&all, 0)).map(|j| {
                let refused: Vec<(String, String)> = j["refused"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                (
                                    x[0].as_str().unwrap_or("").to_string(),
                                    x[1].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                docs.iter()
                    .map(|d| {
                        let p = d.path.display().to_string();
                        refused
                            .iter()
                            .find(|(q, _)| *q == p)
                            .map(|(_, m)| m.clone())
                    })
                    .collect()
            }),
            Err(e) => Err(e.clone()),
        };
        // Every side is timed on the same documents: those that no side refuses.
        let ok = |v: &Result<Vec<Option<String>>, String>, i: usize| {
            v.as_ref().map(|v| v[i].is_none()).unwrap_or(true)
        };
        let common: Vec<&Doc> = docs
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                lib_refused[*i].is_none() && ok(&drv_refused, *i) && ok(&peer_refused, *i)
            })
            .map(|(_, d)| d)
            .collect();
        let texts: Vec<&str> = common.iter().map(|d| d.text.as_str()).collect();
        let lib = time_library(&texts, rounds);
        let drv = match &drv_refused {
            Ok(_) => time_driver(&registry, &texts, rounds),
            Err(e) => Err(e.clone()),
        };
        let peer = match (&self.peer, &peer_refused) {
            (Ok(p), Ok(_)) => p.run(&peer_request(&common, rounds)).and_then(|j| {
                if j["accepted"].as_u64() == Some(common.len() as u64) {
                    Ok(peer::samples(&j, "per_doc"))
                } else {
                    Err(format!(
                        "libvirt refused {} documents it accepted before",
                        j["refused"]
                    ))
                }
            }),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        let per_doc = |s: &Summary| {
            format!(
                "{}/doc ({} docs/s)",
                stats::time(s.min),
                stats::rate(1e9 / s.min)
                    .trim_end_matches(" /s")
                    .trim_end_matches("/s")
            )
        };
        let summary = |r: &Result<Vec<f64>, String>| r.as_ref().ok().and_then(|v| Summary::of(v));
        let (lib_s, drv_s, peer_s) = (summary(&lib), summary(&drv), summary(&peer));
        for (what, r) in [
            ("virtkit parse + format", &lib),
            ("virtkit test driver", &drv),
            ("libvirt", &peer),
        ] {
            if let Err(e) = r {
                self.skip(format!("XML, {what}: {e}"));
            }
        }
        let cell =
            |s: &Option<Summary>| s.as_ref().map(per_doc).unwrap_or_else(|| "skipped".into());
        let n = common.len();
        self.rows.push(Row::info(
            G,
            format!("parse + format ({n} docs) vs libvirt define + dumpxml + undefine"),
            cell(&lib_s),
            cell(&peer_s),
            lib_s
                .as_ref()
                .zip(peer_s.as_ref())
                .and_then(|(a, b)| min_ratio(a, b)),
        ));
        match time_parse_and_format(&texts, rounds) {
            Ok((p, f)) => {
                for (what, v) in [("parse alone", p), ("format alone", f)] {
                    if let Some(s) = Summary::of(&v) {
                        self.rows.push(Row::info(
                            G,
                            format!("{what} ({n} docs)"),
                            per_doc(&s),
                            "—",
                            None,
                        ));
                    }
                }
            }
            Err(e) => self.skip(format!("XML parse/format split: {e}")),
        }
        self.rows.push(Row::info(
            G,
            format!("define + dumpxml + undefine on the test driver ({n} docs), both sides"),
            cell(&drv_s),
            cell(&peer_s),
            drv_s
                .as_ref()
                .zip(peer_s.as_ref())
                .and_then(|(a, b)| min_ratio(a, b)),
        ));
        let rel = |p: &Path| {
            p.strip_prefix(&self.o.corpus)
                .unwrap_or(p)
                .display()
                .to_string()
        };
        let describe = |v: &[Option<String>]| -> String {
            let r: Vec<String> = docs
                .iter()
                .zip(v)
                .filter_map(|(d, m)| m.as_ref().map(|m| format!("`{}` ({m})", rel(&d.path))))
                .collect();
            if r.is_empty() {
                "0".into()
            } else {
                format!("{}: {}", r.len(), r.join("; "))
            }
        };
        let mut note = format!(
            "XML: {} `<domain>` documents in the corpus, {n} timed on every side (min per-document \
             time over {rounds} rounds); virtkit's parser refused {}",
            docs.len(),
            describe(&lib_refused)
        );
        if let Ok(v) = &drv_refused {
            note.push_str(&format!("; virtkit's test driver refused {}", describe(v)));
        }
        if let Ok(v) = &peer_refused {
            note.push_str(&format!("; libvirt refused {}", describe(v)));
        }
        self.notes.push(note);
    }

    /// Time per MB of documents of 1 KB to 10 MB made of one repeated part: flat when parsing
    /// and validating are linear. The ratio column is the largest growth of the time per MB
    /// from one size to the next (10× larger): a quadratic pass makes every such step about 10×;
    /// linear work grows only where the document's tree outgrows the CPU caches.
    fn xml_large(&mut self) {
        const G: &str = "XML: large documents, time per MB from 1 KB to 10 MB";
        progress("XML large documents");
        let rounds = if self.o.quick { 1 } else { 3 };
        let registry = self.registry();
        let driver = self.test_plugin();
        if let Err(e) = &driver {
            self.skip(format!("XML large documents through the test driver: {e}"));
        }
        for kind in LARGE_KINDS {
            let docs: Vec<String> = LARGE_SIZES.iter().map(|&n| large_domain(kind, n)).collect();
            let mut lines: Vec<(&str, Result<Vec<f64>, String>)> = vec![(
                "parse + validate",
                docs.iter()
                    .map(|d| time_large_parse(d, rounds).map(|v| min_of(&v)))
                    .collect(),
            )];
            if driver.is_ok() {
                lines.push((
                    "define + undefine, test driver",
                    docs.iter()
                        .map(|d| time_large_define(&registry, d, rounds).map(|v| min_of(&v)))
                        .collect(),
                ));
            }
            for (what, per_mb) in lines {
                match per_mb {
                    Ok(v) => {
                        let cells: Vec<String> = LARGE_SIZES
                            .iter()
                            .zip(&v)
                            .map(|(n, t)| format!("{}: {}", size_label(*n), stats::time(*t)))
                            .collect();
                        let spread = v
                            .windows(2)
                            .map(|w| w[1] / w[0])
                            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
                        self.rows.push(
                            Row::info(
                                G,
                                format!("{kind}: {what} (time per MB)"),
                                cells.join(" · "),
                                "—",
                                spread,
                            )
                            .ratio_target(5.0, "largest 10× step ≤ 5 (n²: 10)"),
                        );
                    }
                    Err(e) => self.skip(format!("XML large {kind}, {what}: {e}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_element_skips_prolog_and_comments() {
        assert_eq!(root_element("<domain type='xen'>"), Some("domain"));
        assert_eq!(
            root_element("<?xml version='1.0'?>\n<!-- c -->\n<domain>"),
            Some("domain")
        );
        assert_eq!(root_element("<node>"), Some("node"));
        assert_eq!(root_element("  <capabilities/>"), Some("capabilities"));
        assert_eq!(root_element("(domain)"), None);
    }

    #[test]
    fn large_documents_are_valid_and_near_their_size() {
        for kind in LARGE_KINDS {
            for size in [1_000, 100_000] {
                let doc = large_domain(kind, size);
                assert!(
                    doc.len() >= size && doc.len() < size + 200,
                    "{kind} {size}: {}",
                    doc.len()
                );
                DomainDef::parse(&doc).unwrap_or_else(|e| panic!("{kind} {size}: {e}"));
            }
        }
    }
}
