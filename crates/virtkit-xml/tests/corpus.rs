//! Every XML file of the shared conformance corpus parses, and re-formats to a document that
//! parses back to the same model, in both output styles. Where the corpus holds libvirt
//! 0.4.6's own output, the legacy style reproduces it byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use virtkit_xml::{
    Capabilities, DomainDef, FormatOptions, FormatStyle, NetworkDef, NodeDef,
    equivalent_capabilities, equivalent_domains, equivalent_networks, model_difference,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn corpus_xml_files() -> Vec<PathBuf> {
    let root = Path::new(CORPUS);
    assert!(
        root.is_dir(),
        "the shared corpus is missing at {}",
        root.display()
    );
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The root element's name, found without this crate's parser (comments skipped).
fn root_name(xml: &str) -> String {
    let mut rest = xml;
    loop {
        let i = rest.find('<').expect("no element");
        rest = &rest[i..];
        if rest.starts_with("<?") {
            rest = &rest[rest.find("?>").unwrap() + 2..];
        } else if rest.starts_with("<!--") {
            rest = &rest[rest.find("-->").unwrap() + 3..];
        } else {
            let end = rest[1..]
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap()
                + 1;
            return rest[1..end].to_owned();
        }
    }
}

fn all_styles() -> Vec<FormatOptions> {
    let mut v = Vec::new();
    for style in [FormatStyle::Current, FormatStyle::Legacy] {
        v.push(FormatOptions {
            style,
            inactive: false,
            secure: true,
        });
    }
    v
}

fn check_file(path: &Path) -> Result<&'static str, String> {
    let xml = fs::read_to_string(path).map_err(|e| e.to_string())?;
    match root_name(&xml).as_str() {
        "domain" => {
            let def = DomainDef::parse(&xml).map_err(|e| format!("parse: {e}"))?;
            for opts in all_styles() {
                let out = def.to_xml(&opts);
                let again = DomainDef::parse(&out)
                    .map_err(|e| format!("re-parse ({:?}): {e}\n{out}", opts.style))?;
                if let Some(diff) = model_difference(&def, &again) {
                    return Err(format!(
                        "round trip ({:?}) changed the model:\n{diff}",
                        opts.style
                    ));
                }
                if !equivalent_domains(&xml, &out).map_err(|e| e.to_string())? {
                    return Err("equivalent_domains says the re-formatted document differs".into());
                }
                let twice = again.to_xml(&opts);
                if twice != out {
                    return Err("formatting is not stable".into());
                }
            }
            Ok("domain")
        }
        "network" => {
            let def = NetworkDef::parse(&xml).map_err(|e| format!("parse: {e}"))?;
            for opts in all_styles() {
                let out = def.to_xml(&opts);
                let again = NetworkDef::parse(&out).map_err(|e| format!("re-parse: {e}"))?;
                if let Some(diff) = model_difference(&def, &again) {
                    return Err(format!("round trip changed the model:\n{diff}"));
                }
                if !equivalent_networks(&xml, &out).map_err(|e| e.to_string())? {
                    return Err("equivalent_networks says the re-formatted document differs".into());
                }
            }
            Ok("network")
        }
        "capabilities" => {
            let caps = Capabilities::parse(&xml).map_err(|e| format!("parse: {e}"))?;
            for opts in all_styles() {
                let out = caps.to_xml_with(&opts);
                let again = Capabilities::parse(&out).map_err(|e| format!("re-parse: {e}"))?;
                if let Some(diff) = model_difference(&caps, &again) {
                    return Err(format!("round trip changed the model:\n{diff}"));
                }
                if !equivalent_capabilities(&xml, &out).map_err(|e| e.to_string())? {
                    return Err(
                        "equivalent_capabilities says the re-formatted document differs".into(),
                    );
                }
            }
            Ok("capabilities")
        }
        "node" => {
            let node = NodeDef::parse(&xml, path.parent()).map_err(|e| format!("parse: {e}"))?;
            for opts in all_styles() {
                let out = node.to_xml(&opts);
                let again = NodeDef::parse(&out, None).map_err(|e| format!("re-parse: {e}"))?;
                if let Some(diff) = model_difference(&node, &again) {
                    return Err(format!("round trip changed the model:\n{diff}"));
                }
            }
            Ok("node")
        }
        other => Err(format!("unexpected root element <{other}>")),
    }
}

#[test]
fn every_corpus_xml_file_parses_and_round_trips() {
    let files = corpus_xml_files();
    assert!(
        files.len() >= 80,
        "only {} XML files found in the corpus",
        files.len()
    );
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for path in &files {
        match check_file(path) {
            Ok(kind) => *counts.entry(kind).or_insert(0) += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    eprintln!("corpus: {counts:?}");
    assert!(counts.contains_key("domain") && counts.contains_key("network"));
    assert!(counts.contains_key("capabilities") && counts.contains_key("node"));
}

/// Rows of a category's cases.tsv: (input, expected, parameters, status).
fn cases(category: &str) -> Vec<[String; 4]> {
    let text = fs::read_to_string(Path::new(CORPUS).join(category).join("cases.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t').map(str::to_owned);
            std::array::from_fn(|_| cols.next().unwrap_or_default())
        })
        .collect()
}

/// The sexpr2xml and xmconfig expected XML are libvirt 0.4.6 output (xmconfig with the secure
/// flag); parsing and re-formatting them in the legacy style must give the same bytes.
#[test]
fn legacy_style_reproduces_libvirt_046_domain_output() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (category, column) in [("sexpr2xml", 1), ("xmconfig", 1)] {
        for row in cases(category) {
            let libvirt_output = row[3] == "tested" || row[3].starts_with("cfg->xml");
            if !libvirt_output || !row[column].ends_with(".xml") {
                continue;
            }
            let path = Path::new(CORPUS).join(category).join(&row[column]);
            let xml = fs::read_to_string(&path).unwrap();
            let def = DomainDef::parse(&xml).unwrap();
            let out = def.to_xml(&FormatOptions::legacy().with_secure(true));
            checked += 1;
            if out != xml {
                failures.push(format!(
                    "{}:\n--- expected\n{xml}--- got\n{out}",
                    path.display()
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The qemuxml2argv inputs were written in 0.4.6's own layout; those that 0.4.6 would print
/// unchanged come out byte for byte. The rest differ only where libvirt normalises: a cdrom
/// written without `<readonly/>` gains it.
#[test]
fn legacy_style_reproduces_canonical_qemu_inputs() {
    let dir = Path::new(CORPUS).join("qemuxml2argv");
    let mut exact = 0;
    let mut normalised = Vec::new();
    for row in cases("qemuxml2argv") {
        let path = dir.join(&row[0]);
        let xml = fs::read_to_string(&path).unwrap();
        let def = DomainDef::parse(&xml).unwrap();
        let out = def.to_xml(
            &FormatOptions::legacy()
                .with_inactive(true)
                .with_secure(true),
        );
        if out == xml || out == xml.trim_end().to_owned() + "\n" {
            exact += 1;
        } else {
            assert!(equivalent_domains(&xml, &out).unwrap());
            normalised.push(row[0].clone());
        }
    }
    eprintln!("qemuxml2argv: {exact} byte-exact, normalised: {normalised:?}");
    for name in &normalised {
        let xml = fs::read_to_string(dir.join(name)).unwrap();
        let cdroms = xml.matches("device='cdrom'").count();
        assert!(
            cdroms > xml.matches("<readonly/>").count(),
            "{name} differs for another reason"
        );
    }
    assert!(exact >= 15);
}

/// The xencaps expected documents are libvirt 0.4.6 capabilities output.
#[test]
fn legacy_style_reproduces_xen_capabilities() {
    let dir = Path::new(CORPUS).join("xencaps");
    let mut checked = 0;
    for row in cases("xencaps") {
        let path = dir.join(&row[1]);
        let xml = fs::read_to_string(&path).unwrap();
        let caps = Capabilities::parse(&xml).unwrap();
        assert_eq!(
            caps.to_xml_with(&FormatOptions::legacy()),
            xml,
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn test_node_reads_referenced_files() {
    let path = Path::new(CORPUS).join("testdriver/testnode.xml");
    let node = NodeDef::parse_file(&path).unwrap();
    let names: Vec<&str> = node.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["fv0", "fc4"]);
    let nets: Vec<&str> = node.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nets, ["private", "default"]);
    let fc4 = &node.domains[1];
    // domuuid-fc4.txt holds the expected virsh output for this UUID.
    let expected =
        fs::read_to_string(Path::new(CORPUS).join("testdriver/domuuid-fc4.txt")).unwrap();
    assert_eq!(fc4.uuid.hyphenated().to_string(), expected.trim());
    assert_eq!(fc4.memory_kib, 261072);
    assert_eq!(fc4.current_memory_kib, 131072);
    assert_eq!(fc4.os.os_type, "xen");
    assert_eq!(node.cpu.mhz, Some(6000));
    assert_eq!(node.cpu.model.as_deref(), Some("i986"));
    assert_eq!(node.cpu.active, Some(50));
    assert_eq!(
        (
            node.cpu.nodes,
            node.cpu.sockets,
            node.cpu.cores,
            node.cpu.threads
        ),
        (Some(4), Some(4), Some(4), Some(2))
    );
    assert_eq!(node.memory_kib, Some(8192000));
    assert_eq!(node.networks[1].bridge.as_deref(), Some("brdefault"));
    assert_eq!(
        node.networks[1]
            .forward
            .as_ref()
            .and_then(|f| f.dev.as_deref()),
        Some("eth0")
    );

    // The same node given with a relative base directory and through NodeDef::parse.
    let xml = fs::read_to_string(&path).unwrap();
    assert_eq!(NodeDef::parse(&xml, path.parent()).unwrap(), node);
}
