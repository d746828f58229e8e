//! The out-of-tree C driver, built here with `cc` against the current header, passes the suite
//! for what it declares. (The out-of-tree Rust driver is a cargo project of its own; `cargo xtask
//! test` builds it and runs the suite on it.)

mod common;

use virtkit_conformance::{Options, run};

#[test]
fn the_c_example_passes() {
    let cc = virtkit_test_support::require!(virtkit_test_support::CC);
    let (_dir, plugin) = common::build_c_toy(&cc, &common::root().join("abi/include"));
    // The toy declares no sandbox URI; its hypervisor lives in this process, so the suite may
    // use its one URI.
    let r = run(
        &plugin,
        &Options {
            uri: Some("toy:///default".into()),
            ..Options::default()
        },
    );
    assert!(r.success(), "{}", common::show(&r));
}
