//! What the QEMU driver reads from other programs and the host: `qemu-system-* --version`,
//! `-machine help` and `/proc/cpuinfo` text. No panic, and a version is never absurd.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = virtkit_qemu_driver::parse_version(&text);
    let machines = virtkit_qemu_driver::parse_machines(&text);
    assert!(machines.len() <= text.lines().count());
    let _ = virtkit_qemu_driver::parse_cpuinfo(&text);
});
