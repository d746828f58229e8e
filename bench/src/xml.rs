//! XML throughput on the corpus: virtkit's parse + format, and define + dumpxml through the test
//! driver, beside libvirt's define + dumpxml of the same files on its own test driver.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use virtkit::{Connect, Registry};
use virtkit_xml::{DomainDef, FormatOptions};

use crate::stats;

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
