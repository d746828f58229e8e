//! The test driver's `<node>` documents: a whole fake host with its domains and networks.

use std::path::{Path, PathBuf};

use crate::domain::{DomainDef, parse_domain, write_domain};
use crate::error::{Error, Result};
use crate::network::{NetworkDef, parse_network, write_network};
use crate::options::FormatOptions;
use crate::tree::{Element, expect_root, once, parse_document};
use crate::values::{parse_u32, scaled_kib};
use crate::writer::{Tag, Writer};

/// `<cpu>` of a node: what `nodeinfo` reports. Every field is optional; the driver supplies defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeCpu {
    /// `<mhz>`.
    pub mhz: Option<u32>,
    /// `<model>`, for example `i686`.
    pub model: Option<String>,
    /// `<active>`: CPUs online.
    pub active: Option<u32>,
    /// `<nodes>`: NUMA nodes.
    pub nodes: Option<u32>,
    /// `<sockets>` per node.
    pub sockets: Option<u32>,
    /// `<cores>` per socket.
    pub cores: Option<u32>,
    /// `<threads>` per core.
    pub threads: Option<u32>,
}

/// A test-driver node (`<node>`): domains and networks (read from referenced files or given
/// inline), CPU information and memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeDef {
    /// Domains in document order (the test driver numbers them 1, 2, ... in this order).
    pub domains: Vec<DomainDef>,
    /// Networks in document order.
    pub networks: Vec<NetworkDef>,
    /// `<cpu>`.
    pub cpu: NodeCpu,
    /// `<memory>` in KiB.
    pub memory_kib: Option<u64>,
}

impl NodeDef {
    /// Parses a node document. `<domain file='...'/>` and `<network file='...'/>` are read
    /// relative to `base_dir` (the node file's directory; the current directory when `None`).
    /// An unreadable or invalid referenced file gives [`Error::Io`] or [`Error::InFile`] naming it.
    pub fn parse(xml: &str, base_dir: Option<&Path>) -> Result<NodeDef> {
        let root = parse_document(xml)?;
        parse_node(&root, base_dir)
    }

    /// Reads and parses a node file, resolving references against its directory.
    pub fn parse_file(path: &Path) -> Result<NodeDef> {
        let xml = read_node_file(path)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        NodeDef::parse(&xml, base).map_err(|e| match e {
            Error::Xml { .. } => Error::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
            other => other,
        })
    }

    /// Writes the node with every domain and network inline.
    pub fn to_xml(&self, opts: &FormatOptions) -> String {
        let mut w = Writer::new();
        w.open_close(Tag::new("node"), |w| {
            for d in &self.domains {
                write_domain(w, d, opts);
            }
            for n in &self.networks {
                write_network(w, n, opts);
            }
            let c = &self.cpu;
            w.element(Tag::new("cpu"), |w| {
                let num = |w: &mut Writer, name: &'static str, v: Option<u32>| {
                    if let Some(v) = v {
                        w.text(Tag::new(name), &v.to_string());
                    }
                };
                num(w, "mhz", c.mhz);
                w.opt_text("model", c.model.as_deref());
                num(w, "active", c.active);
                num(w, "nodes", c.nodes);
                num(w, "sockets", c.sockets);
                num(w, "cores", c.cores);
                num(w, "threads", c.threads);
            });
            if let Some(m) = self.memory_kib {
                let tag = if opts.legacy_style() {
                    Tag::new("memory")
                } else {
                    Tag::new("memory").attr("unit", "KiB")
                };
                w.text(tag, &m.to_string());
            }
        });
        w.finish()
    }
}

/// The largest node file, or file it references, that is read (the XML input cap).
pub const MAX_NODE_FILE: u64 = 10 << 20;

/// Reads a node file or a file it references: a regular file of at most [`MAX_NODE_FILE`]
/// bytes (a device such as `/dev/zero` or a FIFO is refused before a byte is read).
fn read_node_file(path: &Path) -> Result<String> {
    virtkit_hostio::read_string_capped(path, MAX_NODE_FILE).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: match e {
            virtkit_hostio::Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        },
    })
}

fn resolve(base_dir: Option<&Path>, file: &str) -> PathBuf {
    let p = Path::new(file);
    match base_dir {
        Some(base) if p.is_relative() => base.join(p),
        _ => p.to_path_buf(),
    }
}

fn read_referenced<T>(
    el: &Element,
    file: &str,
    base_dir: Option<&Path>,
    parse: impl FnOnce(&Element) -> Result<T>,
) -> Result<T> {
    el.expect_empty()?;
    if file.is_empty() {
        return Err(el.error(format!("Empty attribute 'file' on <{}>", el.name)));
    }
    let path = resolve(base_dir, file);
    let xml = read_node_file(&path)?;
    parse_document(&xml)
        .and_then(|root| parse(&root))
        .map_err(|e| Error::InFile {
            path,
            source: Box::new(e),
        })
}

fn parse_node(el: &Element, base_dir: Option<&Path>) -> Result<NodeDef> {
    expect_root(el, "node")?;
    el.expect_no_text()?;
    let mut node = NodeDef::default();
    let (mut cpu, mut memory) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "domain" => {
                let d = match child.attr("file") {
                    Some(f) => {
                        read_referenced(child, f, base_dir, |r| parse_domain(r).map(|(d, _)| d))?
                    }
                    None => parse_domain(child)?.0,
                };
                node.domains.push(d);
            }
            "network" => {
                let n = match child.attr("file") {
                    Some(f) => {
                        read_referenced(child, f, base_dir, |r| parse_network(r).map(|(n, _)| n))?
                    }
                    None => parse_network(child)?.0,
                };
                node.networks.push(n);
            }
            "cpu" => once(&mut cpu, child, el)?,
            "memory" => once(&mut memory, child, el)?,
            _ => return Err(el.unexpected(child, &["domain", "network", "cpu", "memory"])),
        }
    }
    if let Some(c) = cpu {
        c.expect_no_text()?;
        const NAMES: &[&str] = &[
            "mhz", "model", "active", "nodes", "sockets", "cores", "threads",
        ];
        let mut slots: [Option<&Element>; 7] = [None; 7];
        for child in &c.children {
            let Some(i) = NAMES.iter().position(|n| *n == child.name) else {
                return Err(c.unexpected(child, NAMES));
            };
            once(&mut slots[i], child, c)?;
        }
        let num = |i: usize| -> Result<Option<u32>> {
            match slots[i] {
                Some(e) => {
                    let t = e.trimmed_text()?;
                    parse_u32(t).map(Some).ok_or_else(|| {
                        e.error(format!(
                            "Invalid <{}> value '{t}': expected a non-negative integer",
                            e.name
                        ))
                    })
                }
                None => Ok(None),
            }
        };
        // CPU counts size every CPU map built from them: each, and the topology's product,
        // stays within libvirt's CPU mask length.
        let limit = u64::from(crate::domain::MAX_CPUSET_CPUS);
        let mut product = 1u64;
        for i in 2..7 {
            let n = num(i)?.map_or(1, u64::from);
            product = product.saturating_mul(if i == 2 { 1 } else { n.max(1) });
            if n > limit || product > limit {
                let e = slots[i].unwrap_or(c);
                return Err(e.error(format!(
                    "<{}> makes more host CPUs than {limit}, the most a CPU map describes",
                    NAMES[i]
                )));
            }
        }
        node.cpu = NodeCpu {
            mhz: num(0)?,
            model: match slots[1] {
                Some(m) => Some(m.nonempty_text()?.to_owned()),
                None => None,
            },
            active: num(2)?,
            nodes: num(3)?,
            sockets: num(4)?,
            cores: num(5)?,
            threads: num(6)?,
        };
    }
    node.memory_kib = memory.map(|m| scaled_kib(m, 1024)).transpose()?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_node_roundtrip() {
        let xml = "<node>
  <domain type='test'><name>a</name><memory>1024</memory><os><type>hvm</type></os></domain>
  <network><name>n</name></network>
  <cpu><mhz>6000</mhz><model>i986</model><active>50</active></cpu>
  <memory>8192000</memory>
</node>";
        let node = NodeDef::parse(xml, None).unwrap();
        assert_eq!(node.domains[0].name, "a");
        assert_eq!(node.cpu.mhz, Some(6000));
        assert_eq!(node.cpu.threads, None);
        assert_eq!(node.memory_kib, Some(8192000));
        for opts in [FormatOptions::default(), FormatOptions::legacy()] {
            assert_eq!(NodeDef::parse(&node.to_xml(&opts), None).unwrap(), node);
        }
    }

    #[test]
    fn missing_file_names_it() {
        let dir = std::env::temp_dir();
        let err = NodeDef::parse(
            "<node><domain file='no-such-virtkit-file.xml'/></node>",
            Some(&dir),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(
            err.to_string().contains("no-such-virtkit-file.xml"),
            "{err}"
        );
    }

    #[test]
    fn bad_cpu_value() {
        let err = NodeDef::parse("<node><cpu><mhz>fast</mhz></cpu></node>", None).unwrap_err();
        assert!(
            err.to_string().contains("Invalid <mhz> value 'fast'"),
            "{err}"
        );
    }
}
