//! libvirt 0.4.6's xencaps corpus: capability string + cpuinfo + host machine → capabilities
//! XML, byte for byte in the 0.4.6 style, read from the files through the path-taking builder.

use virtkit_test_support::xen::{Corpus, Failures};
use virtkit_xen::{xen_capabilities, xen_capabilities_from_files};
use virtkit_xml::{Capabilities, FormatOptions};

#[test]
fn xencaps_corpus() {
    let corpus = Corpus::open("xencaps");
    let dir = &corpus.dir;
    let mut n = 0;
    let mut failures = Failures::new("xencaps cases", corpus.cases.len());
    for case in &corpus.cases {
        let (caps_file, cpuinfo_file) = case
            .input
            .split_once(" + ")
            .unwrap_or_else(|| panic!("bad input column: {case:?}"));
        let arch = case
            .params
            .strip_prefix("host_machine=")
            .unwrap_or_else(|| panic!("bad parameters: {case:?}"));
        let expected = corpus.read(&case.expected);
        let caps =
            xen_capabilities_from_files(arch, &dir.join(caps_file), &dir.join(cpuinfo_file), None)
                .unwrap();
        let got = caps.to_xml_with(&FormatOptions::legacy());
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                case.expected
            ));
        }
        // The same document as the model reads it, and the text-taking builder agrees.
        assert_eq!(
            Capabilities::parse(&expected).unwrap(),
            caps,
            "{}",
            case.expected
        );
        let text = |f: &str| corpus.read(f);
        assert_eq!(
            xen_capabilities(arch, &text(caps_file), &text(cpuinfo_file), None),
            caps
        );
        n += 1;
    }
    failures.assert_none();
    assert!(n >= 5, "only {n} xencaps cases");
}
