//! Feeds arbitrary bytes as domain XML to the XML → S-expression conversion, for every config
//! version: it may refuse, never panic, and what it writes parses strictly as an S-expression
//! whose name, UUID and memory are the definition's (no value escapes its atom).

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen::{Sexpr, domain_to_sexpr};
use virtkit_xml::DomainDef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(def) = DomainDef::parse(text) else { return };
    for version in 1..=4 {
        let Ok(sexpr) = domain_to_sexpr(&def, version) else { continue };
        let v = Sexpr::parse(&sexpr).unwrap_or_else(|e| panic!("{e}\n{sexpr}"));
        assert_eq!(v.node("vm/name"), Some(def.name.as_str()), "{sexpr}");
        assert_eq!(v.node("vm/uuid"), Some(def.uuid.hyphenated().to_string().as_str()));
        let maxmem = (def.memory_kib / 1024).to_string();
        assert_eq!(v.node("vm/maxmem"), Some(maxmem.as_str()));
    }
});
