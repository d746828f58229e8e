//! Connection URIs: the core's parser (which picks the plugin files to open) and the QEMU
//! driver's (query parameters, percent-decoding, the sandbox root). No panic; a parsed URI
//! parses again to the same thing, and its scheme can never name a file outside the driver
//! directories.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = virtkit::parse_uri(text) {
        assert!(!u.scheme.is_empty(), "{text:?}");
        let file = virtkit_loader::plugin_file_name(&u.scheme);
        assert!(
            !file.contains('/') && !file.contains('\0'),
            "{text:?} names {file:?}"
        );
        let again =
            virtkit::parse_uri(&u.uri).unwrap_or_else(|e| panic!("{text:?}: re-parse: {e}"));
        assert_eq!(again, u);
    }
    let _ = virtkit_qemu_driver::Paths::from_uri(text);
});
