//! XM config ↔ domain XML against libvirt 0.4.6's own test data (../shared/corpus/xmconfig),
//! driven by its cases.tsv: `cfg->xml` rows are read, converted and compared byte for byte in
//! the 0.4.6 style (with the VNC password, as libvirt's test formatted them) and as models
//! through the default style; `xml->cfg` rows are compared byte for byte and as parsed
//! settings. Rows upstream did not run must give their model with at least one config version.

use virtkit_conf::Conf;
use virtkit_test_support::xen::{
    Case, Corpus, Failures, domain_matches, same_meaning_then_bytes, versions_where,
};
use virtkit_xen::{XmGuestArch, domain_to_xm, domain_xml_to_xm, xm_to_domain, xm_to_domain_xml};
use virtkit_xml::{DomainDef, FormatOptions, model_difference};

/// The host libvirt's test ran on: an i686 Xen host.
fn arch() -> XmGuestArch {
    XmGuestArch {
        arch: "i686".into(),
    }
}

/// Which way a row converts: `cfg->xml`, `xml->cfg`, or a row upstream did not run.
fn direction(case: &Case) -> &'static str {
    if case.status.starts_with("cfg->xml") {
        "cfg->xml"
    } else if case.status.starts_with("xml->cfg") {
        "xml->cfg"
    } else {
        "not-run"
    }
}

/// XM config → XML: libvirt's document byte for byte in the 0.4.6 style (with the VNC
/// password, as libvirt's test formatted it), and its model through the default style.
fn check_cfg2xml(cfg: &str, expected: &str, version: u32) -> Result<(), String> {
    let opts = FormatOptions::legacy().with_secure(true);
    let legacy = xm_to_domain_xml(cfg, version, Some(&arch()), &opts)
        .map_err(|e| format!("conversion failed: {e}"))?;
    let conf = Conf::parse(cfg).map_err(|e| e.to_string())?;
    let def = xm_to_domain(&conf, version, Some(&arch())).map_err(|e| e.to_string())?;
    domain_matches(&def, &legacy, expected, true)
}

/// XML → XM config: libvirt's settings once both are parsed, then byte for byte.
fn check_xml2cfg(xml: &str, expected: &str, version: u32) -> Result<(), String> {
    let got = domain_xml_to_xm(xml, version).map_err(|e| format!("conversion failed: {e}"))?;
    same_meaning_then_bytes(&got, expected, "settings", Conf::parse)
}

#[test]
fn xmconfig_corpus() {
    let corpus = Corpus::open("xmconfig");
    let all = &corpus.cases;
    assert!(all.len() >= 25, "only {} xmconfig cases", all.len());
    let mut failures = Failures::new("xmconfig cases", all.len());
    let mut counts = (0, 0, 0);
    for case in all {
        let expected = corpus.read(&case.expected);
        match (direction(case), case.config_version()) {
            ("cfg->xml", Some(v)) => {
                counts.0 += 1;
                failures.check(
                    format!("{} (version {v})", case.input),
                    check_cfg2xml(&corpus.read(&case.input), &expected, v),
                );
            }
            ("xml->cfg", Some(v)) => {
                counts.1 += 1;
                failures.check(
                    format!("{} (version {v})", case.input),
                    check_xml2cfg(&corpus.read(&case.input), &expected, v),
                );
            }
            _ => {
                // An orphan expected XML (no config upstream): it must at least be a definition
                // the XM writer accepts for some version, and read back to the same guest.
                counts.2 += 1;
                let def = DomainDef::parse(&expected).expect("orphan XML parses");
                let ok = versions_where(|v| {
                    domain_to_xm(&def, v)
                        .and_then(|conf| xm_to_domain(&conf, v, None))
                        .is_ok_and(|back| back.name == def.name && back.uuid == def.uuid)
                });
                eprintln!(
                    "{} (not run upstream): writes and reads back with versions {ok:?}",
                    case.expected
                );
                if ok.is_empty() {
                    failures.push(format!("{}: no config version writes it", case.expected));
                }
            }
        }
    }
    failures.assert_none();
    eprintln!(
        "xmconfig: {} cfg->xml and {} xml->cfg cases byte-exact, {} not-run rows checked",
        counts.0, counts.1, counts.2
    );
}

/// Both directions invert each other on every config of the corpus, at every version that can
/// express it: cfg → model → cfg → model gives the same model.
#[test]
fn xm_round_trips() {
    let corpus = Corpus::open("xmconfig");
    for case in corpus.cases.iter().filter(|c| direction(c) == "cfg->xml") {
        let conf = Conf::parse(&corpus.read(&case.input)).unwrap();
        let v = case.config_version().unwrap();
        let def = xm_to_domain(&conf, v, None).unwrap();
        let back = domain_to_xm(&def, v).unwrap();
        let again = xm_to_domain(&back, v, None).unwrap();
        if let Some(diff) = model_difference(&def, &again) {
            panic!("{}: round trip changed the model:\n{diff}", case.input);
        }
    }
}
