//! Feeds arbitrary bytes as an XM config to the XM → domain XML conversion, for every xend
//! config version. It may refuse, never panic; what it accepts writes as XML (both styles) that
//! reads back to the same definition, and what the XM writer accepts back reads as a domain.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_conf::Conf;
use virtkit_xen::{domain_to_xm, xm_to_domain};
use virtkit_xml::{DomainDef, FormatOptions, FormatStyle};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(conf) = Conf::parse(text) else { return };
    for version in 1..=4 {
        let Ok(def) = xm_to_domain(&conf, version, None) else { continue };
        for style in [FormatStyle::Current, FormatStyle::Legacy] {
            let xml = def.to_xml(&FormatOptions::default().with_style(style).with_secure(true));
            let back = DomainDef::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
            assert_eq!(back, def, "XML round trip:\n{xml}");
        }
        if let Ok(written) = domain_to_xm(&def, version) {
            let text = written.to_string();
            let again = Conf::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            xm_to_domain(&again, version, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }
});
