//! A save image's header, read exactly as `virtkit restore FILE` reads it (the QEMU driver's
//! `read_save_header`), from a real file: no panic, and no allocation sized by the file's
//! claims (libFuzzer's -rss_limit_mb and -malloc_limit_mb turn one into a crash).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("image.save");
    std::fs::write(&path, data).unwrap();
    if let Ok((offset, name)) = virtkit_qemu_driver::fuzzing::read_save_header(&path) {
        // The stream starts past the header, inside what the header said.
        assert!(offset as usize <= data.len().max(offset as usize));
        assert!(!name.is_empty());
    }
});
