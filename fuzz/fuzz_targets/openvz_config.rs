//! Feeds arbitrary text to the OpenVZ container config parser and what reads it (NETIF,
//! IP_ADDRESS, the domain definition). Nothing may panic; a parsed config writes back to a text
//! that parses to the same config; a setting reads back as set; a definition made from a config
//! formats to XML that parses back to the same definition.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_openvz_driver::{Host, VzConfig, domain_def, interfaces, parse_netif};
use virtkit_xml::{DomainDef, FormatOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let conf = VzConfig::parse(&text);
    let again = VzConfig::parse(&conf.to_text());
    assert_eq!(again, conf, "write-back changed the config");
    for key in conf.keys() {
        let v = conf.get(key).expect("a listed key has a value");
        assert!(!v.is_empty() && !v.contains(['"', '\t', '\n']), "{key}={v:?}");
    }
    if let Some(n) = conf.get("NETIF") {
        let _ = parse_netif(n);
    }
    let _ = interfaces(conf.get("IP_ADDRESS"), conf.get("NETIF"));
    let mut edited = conf.clone();
    edited.set("CPUS", "3");
    assert_eq!(VzConfig::parse(&edited.to_text()).get("CPUS"), Some("3"));
    let host = Host { cpus: 2, kib_per_page: 4 };
    let uuid = virtkit_driver::Uuid::from_u128(0x7109d234_f5a8_30a6_5dd2_39ca85ce3958);
    if let Ok(def) = domain_def("101", uuid, &conf, &host) {
        let xml = def.to_xml(&FormatOptions::default());
        let parsed = DomainDef::parse(&xml).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{xml}"));
        assert_eq!(parsed, def, "round trip changed the definition:\n{xml}");
    }
});
