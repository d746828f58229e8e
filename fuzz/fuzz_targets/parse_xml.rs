//! Feeds arbitrary bytes to every virtkit-xml parser. None may panic, and whatever parses must
//! re-format (in both styles) to a document that parses back to the same model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xml::{Capabilities, Device, DomainDef, FormatOptions, FormatStyle, NetworkDef, NodeDef};

fn styles() -> [FormatOptions; 2] {
    [
        FormatOptions { style: FormatStyle::Current, inactive: false, secure: true },
        FormatOptions { style: FormatStyle::Legacy, inactive: false, secure: true },
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else { return };

    if let Ok(def) = DomainDef::parse(xml) {
        for opts in styles() {
            let out = def.to_xml(&opts);
            let again = DomainDef::parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
            assert_eq!(again, def, "domain round trip changed the model:\n{out}");
            // Inactive output must parse too (it drops run-time details, so it may differ).
            let inactive = def.to_xml(&opts.with_inactive(true).with_secure(false));
            DomainDef::parse(&inactive).unwrap_or_else(|e| panic!("inactive re-parse failed: {e}\n{inactive}"));
        }
    }
    if let Ok(dev) = Device::parse(xml) {
        for opts in styles() {
            let out = dev.to_xml(&opts);
            let again = Device::parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
            assert_eq!(again, dev, "device round trip changed the model:\n{out}");
        }
    }
    if let Ok(net) = NetworkDef::parse(xml) {
        for opts in styles() {
            let out = net.to_xml(&opts);
            let again = NetworkDef::parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
            assert_eq!(again, net, "network round trip changed the model:\n{out}");
        }
    }
    if let Ok(caps) = Capabilities::parse(xml) {
        for opts in styles() {
            let out = caps.to_xml_with(&opts);
            let again = Capabilities::parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
            assert_eq!(again, caps, "capabilities round trip changed the model:\n{out}");
        }
    }
    // Node documents may reference files; only inline ones are fuzzed, so that the fuzzer
    // never reads (or blocks on) arbitrary host paths.
    if !xml.contains("file") {
        if let Ok(node) = NodeDef::parse(xml, None) {
            for opts in styles() {
                let out = node.to_xml(&opts);
                let again = NodeDef::parse(&out, None).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
                assert_eq!(again, node, "node round trip changed the model:\n{out}");
            }
        }
    }
});
