//! Every ```xml example in docs/format.md parses and round-trips, so the documentation cannot
//! drift from the parser.

use std::fs;
use std::path::PathBuf;

use virtkit_xml::{Capabilities, DomainDef, FormatOptions, FormatStyle, NetworkDef, NodeDef};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/format.md");

fn xml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```xml" => current = Some(String::new()),
            Some(block) if line.trim_start() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn styles() -> [FormatOptions; 2] {
    [FormatStyle::Current, FormatStyle::Legacy].map(|style| FormatOptions {
        style,
        inactive: false,
        secure: true,
    })
}

#[test]
fn documented_examples_parse_and_round_trip() {
    let doc = fs::read_to_string(DOC).expect("docs/format.md");
    let blocks = xml_blocks(&doc);
    let domains: Vec<&String> = blocks.iter().filter(|b| b.starts_with("<domain")).collect();
    let networks: Vec<&String> = blocks
        .iter()
        .filter(|b| b.starts_with("<network"))
        .collect();
    assert!(
        domains.len() >= 6,
        "expected the Xen PV, Xen HVM, KVM and QEMU examples"
    );
    assert!(!networks.is_empty());

    // The node example refers to guests/web.xml and networks/lab.xml: provide them.
    let dir: PathBuf = std::env::temp_dir().join(format!("virtkit-xml-doc-{}", std::process::id()));
    fs::create_dir_all(dir.join("guests")).unwrap();
    fs::create_dir_all(dir.join("networks")).unwrap();
    fs::write(dir.join("guests/web.xml"), domains[0]).unwrap();
    fs::write(dir.join("networks/lab.xml"), networks[0]).unwrap();

    let mut checked = 0;
    for block in &blocks {
        if block.starts_with("<domain") {
            let d = DomainDef::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            for opts in styles() {
                assert_eq!(DomainDef::parse(&d.to_xml(&opts)).unwrap(), d);
            }
        } else if block.starts_with("<network") {
            let n = NetworkDef::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            for opts in styles() {
                assert_eq!(NetworkDef::parse(&n.to_xml(&opts)).unwrap(), n);
            }
        } else if block.starts_with("<capabilities") {
            let c = Capabilities::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            for opts in styles() {
                assert_eq!(Capabilities::parse(&c.to_xml_with(&opts)).unwrap(), c);
            }
        } else if block.starts_with("<node") {
            let n = NodeDef::parse(block, Some(&dir)).unwrap_or_else(|e| panic!("{e}\n{block}"));
            assert_eq!(n.domains.len(), 2);
            assert_eq!(n.networks.len(), 1);
            for opts in styles() {
                assert_eq!(NodeDef::parse(&n.to_xml(&opts), None).unwrap(), n);
            }
        } else {
            panic!("unknown example:\n{block}");
        }
        checked += 1;
    }
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(checked, blocks.len());
}
