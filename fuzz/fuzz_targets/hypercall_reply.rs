//! Feeds arbitrary bytes to the xen-hypercall member's reply decoders, as if the hypervisor had
//! written them: the sysctl reply (physinfo, the domain list's count), the domain-list buffer
//! and the getvcpuinfo reply. Nothing may panic; a count over what was asked is refused; a
//! decoded domain record encodes back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen_hypercall_driver::codec;
use virtkit_xen_hypercall_driver::state_of;

fuzz_target!(|data: &[u8]| {
    let _ = codec::physinfo_reply(data);
    let _ = codec::vcpuinfo_reply(data);
    let max = data.first().copied().unwrap_or(0) as u32;
    if let Ok(n) = codec::infolist_count(data, max) {
        assert!(n <= max);
    }
    let n = (data.len() / codec::infolist_buffer_len(1)) as u32;
    if let Ok(recs) = codec::dominfo_records(data, n) {
        assert_eq!(recs.len(), n as usize);
        let mut back = vec![0u8; codec::infolist_buffer_len(n)];
        for (i, r) in recs.iter().enumerate() {
            let _ = state_of(r.flags);
            codec::dominfo_encode(&mut back, i, r);
        }
        let again = codec::dominfo_records(&back, n).expect("re-encoded records decode");
        assert_eq!(again, recs);
    }
});
