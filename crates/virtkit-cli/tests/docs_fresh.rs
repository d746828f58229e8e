//! The committed man page and shell completions are what the code generates now.

use std::path::PathBuf;

#[test]
fn committed_docs_are_fresh() {
    let docs = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"));
    let mut stale = Vec::new();
    for f in virtkit_cli::generated_docs() {
        let path = docs.join(&f.path);
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == f.content => {}
            Ok(_) => stale.push(format!(
                "docs/{} differs from what the code generates",
                f.path.display()
            )),
            Err(e) => stale.push(format!("docs/{} cannot be read: {e}", f.path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with: cargo run -p virtkit-cli -- _gen-docs docs   (from the workspace root), then commit",
        stale.join("\n")
    );
}
