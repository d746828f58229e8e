//! The test driver's node file (`test:///abs/path/node.xml`): arbitrary bytes written to a file
//! and opened through the driver, so the file read, the node XML parser and the driver's
//! building of its node (domains, networks, ids) are all exercised. No panic. The file lies in
//! a private directory beside a domain and a network file it may reference by relative name.

#![no_main]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("dom.xml"),
            "<domain type='test'><name>fz</name><memory>65536</memory><os><type>hvm</type></os></domain>",
        )
        .unwrap();
        std::fs::write(
            d.path().join("net.xml"),
            "<network><name>fznet</name><bridge name='fzbr0'/></network>",
        )
        .unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    // A fresh name per input: the driver keeps one node per path for the life of the process.
    static N: AtomicU64 = AtomicU64::new(0);
    let path = dir()
        .path()
        .join(format!("node{}.xml", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, data).unwrap();
    let uri = format!("test://{}", path.display());
    let _ = virtkit_test_driver::TestConn::open(&uri);
    let _ = std::fs::remove_file(&path);
});
