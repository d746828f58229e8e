//! Feeds arbitrary bytes to libvirt's configuration-file parser (XM configs, libvirtd.conf).
//! It may refuse, never panic or overflow the stack; whatever parses writes back to text that
//! parses to the same entries whenever the format can carry them (`Conf::is_writable`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_conf::Conf;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(conf) = Conf::parse(text) else { return };
    if !conf.is_writable() {
        return;
    }
    let written = conf.to_string();
    let again = Conf::parse(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(again, conf, "write/read round trip:\n{written}");
});
