//! docs/hvsupport.md is generated from the in-tree plugins and must be fresh.

mod common;

use virtkit_conformance::hvsupport::{DOC_PATH, document, load_in_tree};

#[test]
fn the_support_matrix_is_fresh() {
    let root = common::root();
    let drivers = load_in_tree(&root, &common::profile_dir()).unwrap_or_else(|e| {
        panic!("the support matrix needs every in-tree plugin built and loadable:\n{e}")
    });
    let want = document(&drivers);
    let path = root.join(DOC_PATH);
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `cargo xtask hvsupport`",
        path.display()
    );
}
