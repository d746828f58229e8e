//! libvirt 0.4.6's xencaps corpus: capability string + cpuinfo + host machine → capabilities
//! XML, byte for byte in the 0.4.6 style, read from the files through the path-taking builder.

use std::fs;
use std::path::Path;

use virtkit_xen::{xen_capabilities, xen_capabilities_from_files};
use virtkit_xml::{Capabilities, FormatOptions};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/xencaps"
);

#[test]
fn xencaps_corpus() {
    let dir = Path::new(CORPUS);
    let cases = fs::read_to_string(dir.join("cases.tsv")).expect("the shared corpus is missing");
    let mut n = 0;
    let mut failures = Vec::new();
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (caps_file, cpuinfo_file) = cols[0]
            .split_once(" + ")
            .unwrap_or_else(|| panic!("bad input column: {line}"));
        let arch = cols[2]
            .strip_prefix("host_machine=")
            .unwrap_or_else(|| panic!("bad parameters: {line}"));
        let expected = fs::read_to_string(dir.join(cols[1])).unwrap();
        let caps =
            xen_capabilities_from_files(arch, &dir.join(caps_file), &dir.join(cpuinfo_file), None)
                .unwrap();
        let got = caps.to_xml_with(&FormatOptions::legacy());
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                cols[1]
            ));
        }
        // The same document as the model reads it, and the text-taking builder agrees.
        assert_eq!(Capabilities::parse(&expected).unwrap(), caps, "{}", cols[1]);
        let text = |f: &str| fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(
            xen_capabilities(arch, &text(caps_file), &text(cpuinfo_file), None),
            caps
        );
        n += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(n >= 5, "only {n} xencaps cases");
}
