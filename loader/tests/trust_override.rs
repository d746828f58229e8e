//! The development override: with `VIRTKIT_ALLOW_UNTRUSTED_PLUGINS=1` a plugin in a directory
//! others can write loads (with a warning), but a file that is not a regular file is still
//! refused. Its own test binary, because it sets the variable for the whole process.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use virtkit_loader::{OVERRIDE_ENV, Registry};

#[test]
fn the_override_loads_untrusted_files_but_never_non_regular_ones() {
    // SAFETY: this binary has this one test; nothing else reads or writes the environment
    // while it runs.
    unsafe { std::env::set_var(OVERRIDE_ENV, "1") };
    let holder = tempfile::tempdir().unwrap();
    let dir = holder.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    let p = dir.join("libvirtkit_driver_fixture.so");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Command::new("cc")
        .args(["-shared", "-fPIC", "-std=c11", "-I"])
        .arg(root.join("abi/include"))
        .arg(root.join("loader/tests/fixtures/plugin.c"))
        .arg("-o")
        .arg(&p)
        .output()
        .expect("cc is needed to build the fixture plugins");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let d = Registry::load_file(&p).expect("the override loads an untrusted plugin");
    assert_eq!(d.name(), "fixture");

    let fifo = dir.join("libvirtkit_driver_fifo.so");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let e = Registry::load_file(&fifo).unwrap_err().to_string();
    assert!(e.contains("it is a FIFO, not a regular file"), "{e}");
}
