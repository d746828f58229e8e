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

/// The build directory of this profile (`target/<profile>`), found from the test binary.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A file the workspace build puts in the profile directory.
pub fn built(file: &str) -> PathBuf {
    let p = profile_dir().join(file);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-plugins` first",
        p.display()
    );
    p
}

/// Compiles the out-of-tree C example (`toyhv:///`) against the header in `include` into a fresh
/// directory, under the name the loader looks for.
pub fn build_c_toy(include: &Path) -> (tempfile::TempDir, PathBuf) {
    build_c_plugin(
        &root().join("examples/out-of-tree-c/toy.c"),
        include,
        "libvirtkit_driver_toyhv_c.so",
    )
}

/// Compiles the frozen ABI 1.0-era toy (`toy:///default`, tests/fixtures/toy-abi-1.0.c) against
/// the header in `include`.
pub fn build_c_toy_abi_1_0(include: &Path) -> (tempfile::TempDir, PathBuf) {
    build_c_plugin(
        &root().join("conformance/tests/fixtures/toy-abi-1.0.c"),
        include,
        "libvirtkit_driver_toy_c.so",
    )
}

/// Compiles one C plugin source against the header in `include` into a fresh directory as
/// `file`.
pub fn build_c_plugin(source: &Path, include: &Path, file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(file);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc)
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
        .unwrap_or_else(|e| panic!("{cc} is needed to build the C example: {e}"));
    assert!(
        o.status.success(),
        "{cc} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (dir, out)
}

/// The report, printed when an assertion fails.
pub fn show(r: &virtkit_conformance::Report) -> String {
    r.to_text()
}
