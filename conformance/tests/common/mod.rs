//! What the conformance tests share: where things are, and building the C example.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The build directory with the plugins, built from the current sources (`virtkit_test_support`).
pub fn profile_dir() -> PathBuf {
    virtkit_test_support::build_dir().to_path_buf()
}

/// A file the build puts in the build directory.
pub fn built(file: &str) -> PathBuf {
    virtkit_test_support::built(file)
}

/// Compiles the out-of-tree C example (`toyhv:///`) against the header in `include` into a fresh
/// directory, under the name the loader looks for, with the C compiler `cc`.
pub fn build_c_toy(cc: &Path, include: &Path) -> (tempfile::TempDir, PathBuf) {
    build_c_plugin(
        cc,
        &root().join("examples/out-of-tree-c/toy.c"),
        include,
        "libvirtkit_driver_toyhv_c.so",
    )
}

/// Compiles the frozen ABI 1.0-era toy (`toy:///default`, tests/fixtures/toy-abi-1.0.c) against
/// the header in `include`.
pub fn build_c_toy_abi_1_0(cc: &Path, include: &Path) -> (tempfile::TempDir, PathBuf) {
    build_c_plugin(
        cc,
        &root().join("conformance/tests/fixtures/toy-abi-1.0.c"),
        include,
        "libvirtkit_driver_toy_c.so",
    )
}

/// Compiles one C plugin source against the header in `include` into a fresh directory as
/// `file`, with the C compiler `cc`.
pub fn build_c_plugin(
    cc: &Path,
    source: &Path,
    include: &Path,
    file: &str,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(file);
    let o = Command::new(cc)
        .args([
            "-std=c99",
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fvisibility=hidden",
            "-pthread",
        ])
        .arg("-I")
        .arg(include)
        .arg("-o")
        .arg(&out)
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", cc.display()));
    assert!(
        o.status.success(),
        "{} failed: {}",
        cc.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    (dir, out)
}

/// The report, printed when an assertion fails.
pub fn show(r: &virtkit_conformance::Report) -> String {
    r.to_text()
}
