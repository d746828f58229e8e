//! libvirt's configuration-file format (XM domain configs, libvirtd.conf): no panic; whatever
//! parses is written back to text that parses to the same entries (comments included), and writing that again
//! gives the same text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_conf::Conf;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(conf) = Conf::parse(text) {
        let out = conf.to_string();
        let again = Conf::parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e}\n{out}"));
        assert_eq!(again, conf, "{out}");
        assert_eq!(again.to_string(), out);
    }
});
