//! Feeds arbitrary bytes to the xen-xend driver's HTTP reply reader, as a hostile xend (or
//! anything listening on its socket) could send them. It may refuse them, never panic, and what
//! it accepts respects the cap and carries a real status code.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_xen_xend_driver::http::{MAX_HEAD, read_response};

/// A small cap, so that the fuzzer reaches "too large" with small inputs.
const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(r) = read_response(&mut input, CAP) {
        assert!(r.body.len() <= CAP, "body of {} bytes passed a cap of {CAP}", r.body.len());
        assert!((100..600).contains(&r.status), "status {}", r.status);
        assert!(data.len() >= r.body.len(), "more body than input");
    }
    let _ = MAX_HEAD;
});
