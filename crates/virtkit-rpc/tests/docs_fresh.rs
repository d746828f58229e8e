//! docs/remote.md's procedure table is the one `cargo xtask codegen` writes from the list.

#[test]
fn the_procedure_table_of_docs_remote_md_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/remote.md");
    let doc = std::fs::read_to_string(&path).expect("docs/remote.md");
    let fresh = virtkit_rpc::with_fresh_coverage(&doc)
        .expect("docs/remote.md has the procedure table's begin and end lines");
    assert!(
        fresh == doc,
        "docs/remote.md's procedure table is stale: run `cargo xtask codegen`"
    );
}
