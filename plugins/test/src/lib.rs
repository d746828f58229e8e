//! libvirt's mock `test` driver: a node that lives in memory.
//!
//! * `test:///default` is the built-in node: one running domain `test` (id 1), the `default`
//!   network, and the node info of libvirt's own test driver.
//! * `test:///abs/path/node.xml` loads a node description (`<node>` with `<domain>` and
//!   `<network>` children, inline or by `file=`, plus `<cpu>` and `<memory>`); its domains are
//!   running with ids 1, 2, ... in file order.
//!
//! All connections to the same URI in one process share the node; it is discarded when the
//! last of them closes, as in libvirt. Every ABI 1.0 operation is implemented, with libvirt's
//! state rules.
#![forbid(unsafe_code)]

mod index;
mod node;
mod ops;

use virtkit_driver::{Driver, DriverInfo, Ops, Result, abi};

pub use node::TestConn;

/// The test driver.
pub struct TestDriver;

impl Driver for TestDriver {
    type Conn = TestConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE,
        error_domain: abi::error_domain::TEST,
        sandbox_uri: "test:///default",
        ..DriverInfo::new("test", env!("CARGO_PKG_VERSION"), &["test"])
    };
    const OPS: Ops<TestConn> = ops::OPS;

    fn open(uri: &str, _read_only: bool) -> Result<Option<TestConn>> {
        TestConn::open(uri)
    }
}

virtkit_driver::driver_entry!(test_driver_entry, TestDriver);
