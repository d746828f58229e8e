//! Expected failures: each `tests/data/invalid/<kind>-<case>.xml` must be rejected with exactly
//! the message in the `.err` file beside it. The kind prefix (`domain`, `network`, `caps`,
//! `node`, `device`) picks the parser. Paths inside messages are written as `<DATA>/...`.
//!
//! `VIRTKIT_BLESS=1 cargo test -p virtkit-xml --test invalid` rewrites the `.err` files; review
//! the diff before keeping it.

use std::fs;
use std::path::Path;

use virtkit_xml::{Capabilities, Device, DomainDef, Error, NetworkDef, NodeDef};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/invalid");

fn parse(kind: &str, xml: &str) -> Result<(), Error> {
    let dir = Path::new(DATA);
    match kind {
        "domain" => DomainDef::parse(xml).map(drop),
        "network" => NetworkDef::parse(xml).map(drop),
        "caps" => Capabilities::parse(xml).map(drop),
        "node" => NodeDef::parse(xml, Some(dir)).map(drop),
        "device" => Device::parse(xml).map(drop),
        other => panic!("unknown kind prefix '{other}'"),
    }
}

#[test]
fn invalid_documents_give_the_expected_errors() {
    let bless = std::env::var_os("VIRTKIT_BLESS").is_some();
    let mut entries: Vec<_> = fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 80, "only {} cases", entries.len());
    let mut failures = Vec::new();
    for path in &entries {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let kind = stem.split('-').next().unwrap();
        let xml = fs::read_to_string(path).unwrap();
        let err = match parse(kind, &xml) {
            Ok(()) => {
                failures.push(format!("{stem}: was accepted"));
                continue;
            }
            Err(e) => e,
        };
        match &err {
            Error::Xml { .. } | Error::InFile { .. } => {
                assert!(
                    err.line().is_some() && err.column().is_some(),
                    "{stem}: no position in {err:?}"
                );
            }
            Error::Io { .. } => {}
            other => failures.push(format!("{stem}: unexpected error kind {other:?}")),
        }
        let message = err.to_string().replace(DATA, "<DATA>");
        let expected_path = path.with_extension("err");
        if bless {
            fs::write(&expected_path, format!("{message}\n")).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != message {
            failures.push(format!(
                "{stem}:\n  expected: {}\n  got:      {message}",
                expected.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
