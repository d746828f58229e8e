//! Feeds arbitrary bytes to the S-expression parsers (strict and lenient). None may panic or
//! overflow the stack, and whatever parses must write back (canonical and libvirt-compact
//! layouts) to text that parses to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen::Sexpr;

fuzz_target!(|data: &[u8]| {
    let strict = Sexpr::parse_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(strict.is_err());
        return;
    };
    let lenient = Sexpr::parse_lenient(text);
    if let Ok(v) = &strict {
        assert_eq!(lenient.as_ref().ok(), Some(v), "lenient must accept what strict accepts");
    }
    for v in [strict.ok(), lenient.ok()].into_iter().flatten() {
        let canonical = v.to_string();
        let again = Sexpr::parse(&canonical).unwrap_or_else(|e| panic!("{e}\n{canonical}"));
        assert_eq!(again, v, "canonical round trip:\n{canonical}");
        let compact = v.to_compact_string();
        let again = Sexpr::parse(&compact).unwrap_or_else(|e| panic!("{e}\n{compact}"));
        assert_eq!(again, v, "compact round trip:\n{compact}");
        // Lookups on any shape never panic.
        let _ = v.node("domain/image/hvm/kernel");
        let _ = v.lookup("domain/device/vbd");
        let _ = v.node_u64("domain/memory");
    }
});
