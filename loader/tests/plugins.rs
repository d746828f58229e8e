//! The loader against real plugin files: a C driver built here with `cc`, broken in one way per
//! case, loaded from its own directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use virtkit_abi::{OPS, Op, VK_ABI_MINOR, VK_HEADER_SIZE, VK_SLOT_SIZE, VkErrorCode};
use virtkit_loader::{Driver, LoadError, Opened, Registry};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Compiles the fixture driver with `defines` into a fresh directory as
/// `libvirtkit_driver_<file_stem>.so`.
fn build(file_stem: &str, defines: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("libvirtkit_driver_{file_stem}.so"));
    let mut c = Command::new("cc");
    c.args([
        "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
    ])
    .arg(root().join("abi/include"))
    .arg(root().join("loader/tests/fixtures/plugin.c"))
    .arg("-o")
    .arg(&out);
    for d in defines {
        c.arg(format!("-D{d}"));
    }
    let o = c
        .output()
        .expect("cc is needed to build the fixture plugins");
    assert!(
        o.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (dir, out)
}

fn load(
    defines: &[&str],
) -> (
    tempfile::TempDir,
    PathBuf,
    Result<std::sync::Arc<Driver>, LoadError>,
) {
    let (dir, path) = build("fixture", defines);
    let r = Registry::load_file(&path);
    (dir, path, r)
}

fn refusal(defines: &[&str]) -> (PathBuf, String) {
    let (_dir, path, r) = load(defines);
    let e = r.expect_err("the plugin should have been refused");
    let line = e.to_string();
    assert!(!line.contains('\n'), "a refusal is one line: {line:?}");
    assert!(
        line.contains(&path.display().to_string()),
        "the refusal names the file: {line}"
    );
    (path, line)
}

#[test]
fn a_valid_plugin_loads_and_answers() {
    let (dir, _path) = build("fixture", &[]);
    let reg = Registry::with_dirs(vec![dir.path().to_path_buf()]).without_static();
    let (drivers, refused) = reg.drivers_for_scheme("fixture");
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(drivers.len(), 1);
    let d = &drivers[0];
    assert_eq!(d.name(), "fixture");
    assert_eq!(d.version().to_string(), "1.0.0");
    assert_eq!(d.capability_count(), 5);
    let Opened::Conn(c) = d.open("fixture:///", 0).unwrap() else {
        panic!("declined")
    };
    assert_eq!(c.get_type().unwrap(), "FIXTURE");
    assert_eq!(c.get_version().unwrap(), 42);
    let e = c.get_hostname().unwrap_err();
    assert_eq!(e.code, VkErrorCode::InternalError);
    assert_eq!(e.message, "internal error: the fixture has no host name");
    let e = c.num_of_domains().unwrap_err();
    assert_eq!(e.code, VkErrorCode::NoSupport);
    assert!(
        e.message.contains("virConnectNumOfDomains") && e.message.contains("'fixture'"),
        "{}",
        e.message
    );
    assert!(matches!(d.open("other:///", 0).unwrap(), Opened::Declined));
}

#[test]
fn only_files_named_for_the_scheme_are_candidates() {
    let (dir, _) = build("fixture", &[]);
    std::fs::write(
        dir.path().join("libvirtkit_driver_fixturex.so"),
        b"not for this scheme",
    )
    .unwrap();
    std::fs::write(dir.path().join("libvirtkit_driver_other.so"), b"junk").unwrap();
    let reg = Registry::with_dirs(vec![dir.path().to_path_buf()]).without_static();
    let c = reg.candidate_files("fixture");
    assert_eq!(c.len(), 1, "{c:?}");
    // The junk files were never opened: asking for the scheme reports no refusal.
    let (drivers, refused) = reg.drivers_for_scheme("fixture");
    assert_eq!((drivers.len(), refused.len()), (1, 0));
}

#[test]
fn wrong_magic_is_refused() {
    let (_, line) = refusal(&["FX_MAGIC=0x12345678u"]);
    assert!(line.contains("bad magic 0x12345678"), "{line}");
}

#[test]
fn another_major_is_refused() {
    let (_, line) = refusal(&["FX_MAJOR=2"]);
    assert!(line.contains("built for ABI 2."), "{line}");
    assert!(line.contains("major versions differ"), "{line}");
}

#[test]
fn a_newer_minor_loads_and_its_unknown_slot_is_ignored() {
    let minor = format!("FX_MINOR={}", VK_ABI_MINOR + 1);
    let (_dir, _path, r) = load(&["FX_NEWER_MINOR", &minor]);
    let d = r.expect("a newer minor must load");
    assert_eq!(d.abi_version(), (1, VK_ABI_MINOR + 1));
    assert!(d.supports(Op::GetVersion));
}

#[test]
fn a_table_whose_size_does_not_match_its_minor_is_refused() {
    // Declares the current minor but is as short as a table ending before get_version.
    let (_, line) = refusal(&["FX_OLDER_STRUCT"]);
    assert!(
        line.contains(&format!("does not match ABI 1.{VK_ABI_MINOR}")),
        "{line}"
    );
}

#[test]
fn a_plugin_built_for_an_older_minor_with_the_current_header_loads_as_that_minor() {
    for minor in 0..VK_ABI_MINOR {
        let target = format!("VK_TARGET_ABI_MINOR={minor}");
        let (_dir, _path, r) = load(&[&target]);
        let d = r.unwrap_or_else(|e| panic!("a 1.{minor} plugin must load: {e}"));
        assert_eq!(d.abi_version(), (1, minor));
        let slots = OPS.iter().filter(|o| o.since_minor <= minor).count();
        assert_eq!(
            d.struct_size() as usize,
            VK_HEADER_SIZE + slots * VK_SLOT_SIZE
        );
        assert!(d.supports(Op::GetType) && d.supports(Op::GetVersion));
    }
}

#[test]
fn a_reserved_header_word_that_is_not_zero_is_refused() {
    let (_, line) = refusal(&["FX_RESERVED"]);
    assert!(line.contains("reserved words are not zero"), "{line}");
}

#[test]
fn host_init_in_a_table_declaring_an_older_minor_is_refused() {
    let (_, line) = refusal(&["FX_HOST_INIT", "FX_MINOR=1"]);
    assert!(line.contains("host_init is set"), "{line}");
    assert!(line.contains("ABI 1.1"), "{line}");
}

#[test]
fn host_init_hands_the_driver_working_host_services() {
    let (_dir, _path, r) = load(&["FX_HOST_INIT", "FX_NAME=\"fixture-host\""]);
    let d = r.expect("a 1.2 plugin with host_init loads");
    let Opened::Conn(c) = d.open("fixture:///", 0).unwrap() else {
        panic!("declined")
    };
    assert_eq!(c.get_type().unwrap(), "/parsed by the host");
}

#[test]
fn a_capability_bit_without_entry_is_refused() {
    let (_, line) = refusal(&["FX_BIT_WITHOUT_ENTRY"]);
    assert!(
        line.contains("capability bit 22 (domain_suspend) is set but its entry is NULL"),
        "{line}"
    );
}

#[test]
fn an_entry_without_capability_bit_is_refused() {
    let (_, line) = refusal(&["FX_ENTRY_WITHOUT_BIT"]);
    assert!(
        line.contains("entry domain_suspend is present but capability bit 22 is not set"),
        "{line}"
    );
}

#[test]
fn a_missing_required_entry_is_refused() {
    let (_, line) = refusal(&["FX_NO_CLOSE"]);
    assert!(line.contains("open and close"), "{line}");
}

#[test]
fn a_bad_version_or_name_is_refused() {
    let (_, line) = refusal(&["FX_VERSION=\"one\""]);
    assert!(line.contains("not a semantic version"), "{line}");
    let (_, line) = refusal(&["FX_NAME=\"Bad Name\""]);
    assert!(line.contains("driver name"), "{line}");
}

#[test]
fn a_missing_entry_symbol_is_refused() {
    let (_dir, path, r) = load(&["FX_NO_ENTRY"]);
    let e = r.unwrap_err();
    assert!(matches!(e, LoadError::NoEntry { .. }), "{e}");
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(e.to_string().contains("no virtkit_driver_entry symbol"));
}

#[test]
fn truncated_and_non_elf_files_are_refused_and_others_keep_working() {
    let (dir, good) = build("fixture", &[]);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("libvirtkit_driver_fixture_truncated.so");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let text = dir.path().join("libvirtkit_driver_fixture_text.so");
    std::fs::write(&text, "#!/bin/sh\necho this is not a shared object\n").unwrap();

    let reg = Registry::with_dirs(vec![dir.path().to_path_buf()]).without_static();
    let (drivers, refused) = reg.drivers_for_scheme("fixture");
    assert_eq!(drivers.len(), 1, "the valid plugin still loads");
    assert_eq!(refused.len(), 2, "{refused:?}");
    for r in &refused {
        assert!(matches!(r, LoadError::Dlopen { .. }), "{r}");
        let line = r.to_string();
        assert!(!line.contains('\n'));
        assert!(line.contains("cannot load"), "{line}");
    }
    let (all, refused_all) = reg.all();
    assert_eq!((all.len(), refused_all.len()), (1, 2));
}

#[test]
fn plugins_are_loaded_once() {
    let (_dir, path) = build("fixture", &[]);
    let a = Registry::load_file(&path).unwrap();
    let b = Registry::load_file(&path).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}
