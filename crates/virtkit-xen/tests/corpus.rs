//! The conversions against libvirt 0.4.6's own test data in ../shared/corpus, driven by each
//! category's cases.tsv, and against this crate's expected-failure data in tests/data.
//!
//! - sexpr2xml: S-expression → XML byte for byte in the 0.4.6 style, and to the same model as
//!   the expected document in the default style.
//! - xml2sexpr: XML → S-expression equal to the expected one once both are parsed, and byte for
//!   byte (every expected file there is libvirt's output).
//! - Rows upstream did not run (`NOT-RUN…`, version `?`) must match for at least one config
//!   version; the test prints which.

use std::path::Path;

use virtkit_test_support::xen::{
    Corpus, Failures, domain_matches, same_meaning_then_bytes, versions_where,
};
use virtkit_xen::{
    LiveInfo, Sexpr, domain_to_sexpr, domain_xml_to_sexpr, sexpr_to_domain, sexpr_to_domain_xml,
};
use virtkit_xml::{DomainDef, FormatOptions};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// S-expression → XML for one version: Ok(()) when byte-exact in the 0.4.6 style and model-equal
/// through the default style.
fn check_sexpr2xml(sexpr: &str, expected: &str, version: u32) -> Result<(), String> {
    let legacy = sexpr_to_domain_xml(sexpr, version, &FormatOptions::legacy())
        .map_err(|e| format!("conversion failed: {e}"))?;
    let root = Sexpr::parse_lenient(sexpr).map_err(|e| e.to_string())?;
    let def = sexpr_to_domain(&root, version, &LiveInfo::default()).map_err(|e| e.to_string())?;
    domain_matches(&def, &legacy, expected, false)
}

#[test]
fn sexpr2xml_corpus() {
    let corpus = Corpus::open("sexpr2xml");
    assert!(
        corpus.cases.len() >= 19,
        "only {} sexpr2xml cases",
        corpus.cases.len()
    );
    let mut failures = Failures::new("sexpr2xml cases", corpus.cases.len());
    let mut checked = 0;
    for case in &corpus.cases {
        let sexpr = corpus.read(&case.input);
        let expected = corpus.read(&case.expected);
        match case.config_version() {
            Some(v) => {
                assert!(
                    case.status == "tested",
                    "{}: a version but not tested",
                    case.input
                );
                checked += 1;
                failures.check(
                    format!("{} (version {v})", case.input),
                    check_sexpr2xml(&sexpr, &expected, v),
                );
            }
            None => {
                let matching = versions_where(|v| check_sexpr2xml(&sexpr, &expected, v).is_ok());
                eprintln!(
                    "{} (not run upstream): matches with versions {matching:?}",
                    case.input
                );
                // Hand-written expected output: model-equal suffices.
                let model = versions_where(|v| {
                    let Ok(root) = Sexpr::parse_lenient(&sexpr) else {
                        return false;
                    };
                    let Ok(def) = sexpr_to_domain(&root, v, &LiveInfo::default()) else {
                        return false;
                    };
                    DomainDef::parse(&expected).is_ok_and(|want| want == def)
                });
                if model.is_empty() {
                    failures.push(format!("{}: no config version gives its model", case.input));
                }
            }
        }
    }
    failures.assert_none();
    eprintln!("sexpr2xml: {checked} tested cases byte-exact and model-equal");
}

/// XML → S-expression: equal to libvirt's as parsed S-expressions, then byte for byte.
fn check_xml2sexpr(xml: &str, expected: &str, version: u32) -> Result<(), String> {
    let got = domain_xml_to_sexpr(xml, version).map_err(|e| format!("conversion failed: {e}"))?;
    same_meaning_then_bytes(&got, expected, "S-expressions", Sexpr::parse)
}

#[test]
fn xml2sexpr_corpus() {
    let corpus = Corpus::open("xml2sexpr");
    assert!(
        corpus.cases.len() >= 18,
        "only {} xml2sexpr cases",
        corpus.cases.len()
    );
    let mut failures = Failures::new("xml2sexpr cases", corpus.cases.len());
    for case in &corpus.cases {
        let xml = corpus.read(&case.input);
        let expected = corpus.read(&case.expected);
        match case.config_version() {
            Some(v) => failures.check(
                format!("{} (version {v})", case.input),
                check_xml2sexpr(&xml, &expected, v),
            ),
            None => {
                let matching = versions_where(|v| check_xml2sexpr(&xml, &expected, v).is_ok());
                eprintln!(
                    "{} (not run upstream): matches with versions {matching:?}",
                    case.input
                );
                if matching.is_empty() {
                    failures.push(format!("{}: no config version gives it", case.input));
                }
            }
        }
    }
    failures.assert_none();
}

/// The converters invert each other on the corpus: XML → S-expression → model is the model the
/// XML gave (up to what xend does not keep), and S-expression → XML → S-expression is stable.
#[test]
fn round_trips_through_xend_format() {
    let corpus = Corpus::open("sexpr2xml");
    for case in &corpus.cases {
        let Some(version) = case.config_version() else {
            continue;
        };
        let sexpr = corpus.read(&case.input);
        let root = Sexpr::parse_lenient(&sexpr).unwrap();
        let def = sexpr_to_domain(&root, version, &LiveInfo::default()).unwrap();
        let once = domain_to_sexpr(&def, version)
            .unwrap_or_else(|e| panic!("{}: back to sexpr: {e}", case.input));
        // What xend would send back for what we sent: same name, uuid, memory and devices.
        let mut back = Sexpr::parse(&once).unwrap();
        if let Sexpr::List(items) = &mut back {
            items[0] = Sexpr::atom("domain");
            if let Some(id) = def.id {
                items.push(Sexpr::pair("domid", id.to_string()));
            }
        }
        let def2 = sexpr_to_domain(&back, version, &LiveInfo::default())
            .unwrap_or_else(|e| panic!("{}: re-read: {e}\n{once}", case.input));
        let twice = domain_to_sexpr(&def2, version).unwrap();
        assert_eq!(once, twice, "{}: not stable", case.input);
    }
}

/// Expected failures are data: tests/data/bad-sexpr/cases.tsv lists S-expressions that must be
/// refused, with the config version and a part of the error message.
#[test]
fn bad_sexpr_cases_fail_clearly() {
    let dir = Path::new(DATA).join("bad-sexpr");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    };
    let text = read("cases.tsv");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, version, want] = cols[..] else {
            panic!("bad row: {line}");
        };
        let input = read(file);
        let version: u32 = version.parse().unwrap();
        match sexpr_to_domain_xml(&input, version, &FormatOptions::legacy()) {
            Ok(xml) => panic!("{file}: accepted:\n{xml}"),
            Err(e) => assert!(
                e.to_string().contains(want),
                "{file}: error '{e}' does not contain '{want}'"
            ),
        }
        n += 1;
    }
    assert!(n >= 5, "only {n} bad-sexpr cases");
}
