//! Feeds arbitrary bytes as a xend domain description to the S-expression → domain XML
//! conversion, for every config version. It may refuse, never panic; what it accepts writes as
//! XML (both styles) that reads back to the same definition, and converts back to an
//! S-expression that parses strictly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen::{LiveInfo, Sexpr, domain_to_sexpr, sexpr_to_domain};
use virtkit_xml::{DomainDef, FormatOptions, FormatStyle};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(root) = Sexpr::parse_lenient(text) else { return };
    for version in 1..=4 {
        let Ok(def) = sexpr_to_domain(&root, version, &LiveInfo::default()) else { continue };
        for style in [FormatStyle::Current, FormatStyle::Legacy] {
            let xml = def.to_xml(&FormatOptions::default().with_style(style).with_secure(true));
            let back = DomainDef::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
            assert_eq!(back, def, "XML round trip:\n{xml}");
        }
        if let Ok(sexpr) = domain_to_sexpr(&def, version) {
            Sexpr::parse(&sexpr).unwrap_or_else(|e| panic!("{e}\n{sexpr}"));
        }
    }
});
