//! Feeds arbitrary bytes to the xenstore message decoder (what the xen-store member reads from
//! the daemon's socket). Nothing may panic; a decoded message encodes back to the bytes it was
//! read from; its fields, errno name and permissions read without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen_store_driver::wire::{Message, Perm, valid_path};

fuzz_target!(|data: &[u8]| {
    if let Ok((m, used)) = Message::decode(data) {
        assert!(used <= data.len());
        assert_eq!(m.encode(), data[..used], "re-encoding changed the message");
        if let Ok(fields) = m.fields() {
            for f in fields {
                let _ = valid_path(f);
                if let Some(p) = Perm::parse(f) {
                    assert_eq!(Perm::parse(&p.to_string()), Some(p));
                }
            }
        }
        let _ = m.text();
        let _ = m.error_name();
    }
});
