//! XM config ↔ domain XML against libvirt 0.4.6's own test data (../shared/corpus/xmconfig),
//! driven by its cases.tsv: `cfg->xml` rows are read, converted and compared byte for byte in
//! the 0.4.6 style (with the VNC password, as libvirt's test formatted them) and as models
//! through the default style; `xml->cfg` rows are compared byte for byte and as parsed
//! settings. Rows upstream did not run must give their model with at least one config version.

use std::fs;
use std::path::{Path, PathBuf};

use virtkit_conf::Conf;
use virtkit_xen::{XmGuestArch, domain_to_xm, domain_xml_to_xm, xm_to_domain, xm_to_domain_xml};
use virtkit_xml::{DomainDef, FormatOptions, model_difference};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/xmconfig"
);

/// The host libvirt's test ran on: an i686 Xen host.
fn arch() -> XmGuestArch {
    XmGuestArch {
        arch: "i686".into(),
    }
}

struct Case {
    input: String,
    expected: String,
    version: Option<u32>,
    direction: &'static str,
}

fn cases() -> (PathBuf, Vec<Case>) {
    let dir = PathBuf::from(CORPUS);
    assert!(
        dir.is_dir(),
        "the shared corpus is missing at {}",
        dir.display()
    );
    let text = fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let cases = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 4, "bad row: {l}");
            let version = cols[2]
                .strip_prefix("xendConfigVersion=")
                .unwrap_or_else(|| panic!("bad parameters: {l}"));
            let direction = if cols[3].starts_with("cfg->xml") {
                "cfg->xml"
            } else if cols[3].starts_with("xml->cfg") {
                "xml->cfg"
            } else {
                "not-run"
            };
            Case {
                input: cols[0].to_owned(),
                expected: cols[1].to_owned(),
                version: version.parse().ok(),
                direction,
            }
        })
        .collect();
    (dir, cases)
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

fn check_cfg2xml(cfg: &str, expected: &str, version: u32) -> Result<(), String> {
    let opts = FormatOptions::legacy().with_secure(true);
    let legacy = xm_to_domain_xml(cfg, version, Some(&arch()), &opts)
        .map_err(|e| format!("conversion failed: {e}"))?;
    let conf = Conf::parse(cfg).map_err(|e| e.to_string())?;
    let def = xm_to_domain(&conf, version, Some(&arch())).map_err(|e| e.to_string())?;
    let want = DomainDef::parse(expected).map_err(|e| format!("expected XML: {e}"))?;
    let current = def.to_xml(&FormatOptions::default().with_secure(true));
    let again = DomainDef::parse(&current).map_err(|e| format!("re-parse: {e}\n{current}"))?;
    if let Some(diff) = model_difference(&want, &again) {
        return Err(format!("model differs (default style):\n{diff}"));
    }
    if legacy != expected {
        return Err(format!(
            "0.4.6-style output differs:\n--- expected\n{expected}--- got\n{legacy}"
        ));
    }
    Ok(())
}

fn check_xml2cfg(xml: &str, expected: &str, version: u32) -> Result<(), String> {
    let got = domain_xml_to_xm(xml, version).map_err(|e| format!("conversion failed: {e}"))?;
    let want = Conf::parse(expected).map_err(|e| format!("expected config: {e}"))?;
    let parsed = Conf::parse(&got).map_err(|e| format!("output does not parse: {e}\n{got}"))?;
    if parsed != want {
        return Err(format!(
            "settings differ:\n--- expected\n{expected}--- got\n{got}"
        ));
    }
    if got != expected {
        return Err(format!(
            "bytes differ:\n--- expected\n{expected}--- got\n{got}"
        ));
    }
    Ok(())
}

#[test]
fn xmconfig_corpus() {
    let (dir, all) = cases();
    assert!(all.len() >= 25, "only {} xmconfig cases", all.len());
    let mut failures = Vec::new();
    let mut counts = (0, 0, 0);
    for case in &all {
        let expected = read(&dir, &case.expected);
        match (case.direction, case.version) {
            ("cfg->xml", Some(v)) => {
                counts.0 += 1;
                if let Err(e) = check_cfg2xml(&read(&dir, &case.input), &expected, v) {
                    failures.push(format!("{} (version {v}): {e}", case.input));
                }
            }
            ("xml->cfg", Some(v)) => {
                counts.1 += 1;
                if let Err(e) = check_xml2cfg(&read(&dir, &case.input), &expected, v) {
                    failures.push(format!("{} (version {v}): {e}", case.input));
                }
            }
            _ => {
                // An orphan expected XML (no config upstream): it must at least be a definition
                // the XM writer accepts for some version, and read back to the same guest.
                counts.2 += 1;
                let def = DomainDef::parse(&expected).expect("orphan XML parses");
                let ok: Vec<u32> = (1..=4)
                    .filter(|&v| {
                        domain_to_xm(&def, v)
                            .and_then(|conf| xm_to_domain(&conf, v, None))
                            .is_ok_and(|back| back.name == def.name && back.uuid == def.uuid)
                    })
                    .collect();
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
    assert!(
        failures.is_empty(),
        "{} of {} xmconfig cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "xmconfig: {} cfg->xml and {} xml->cfg cases byte-exact, {} not-run rows checked",
        counts.0, counts.1, counts.2
    );
}

/// Both directions invert each other on every config of the corpus, at every version that can
/// express it: cfg → model → cfg → model gives the same model.
#[test]
fn xm_round_trips() {
    let (dir, all) = cases();
    for case in all.iter().filter(|c| c.direction == "cfg->xml") {
        let conf = Conf::parse(&read(&dir, &case.input)).unwrap();
        let v = case.version.unwrap();
        let def = xm_to_domain(&conf, v, None).unwrap();
        let back = domain_to_xm(&def, v).unwrap();
        let again = xm_to_domain(&back, v, None).unwrap();
        if let Some(diff) = model_difference(&def, &again) {
            panic!("{}: round trip changed the model:\n{diff}", case.input);
        }
    }
}
