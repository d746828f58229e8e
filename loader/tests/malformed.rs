//! Every kind of malformed or untrusted plugin file the loader knows of, each refused with one
//! line that names the file and the reason, and none of them able to stop the process: bad
//! tables (built from the C fixture with one thing wrong), broken ELF files, files that are not
//! regular files (a FIFO must not block), and files or directories that someone else could
//! have written (refused before `dlopen`: their constructor never runs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use virtkit_loader::{LoadError, Registry};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const PLUGIN: &str = "libvirtkit_driver_fixture.so";

/// Compiles the fixture with `defines` (and extra `cc` arguments) to `out`.
fn cc(out: &Path, defines: &[&str], extra: &[&str]) {
    let mut c = Command::new("cc");
    c.args([
        "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
    ])
    .arg(root().join("abi/include"))
    .arg(root().join("loader/tests/fixtures/plugin.c"))
    .arg("-o")
    .arg(out)
    .args(extra);
    for d in defines {
        c.arg(format!("-D{d}"));
    }
    let o = c
        .output()
        .expect("cc is needed to build the fixture plugins");
    assert!(
        o.status.success(),
        "cc {defines:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The constructor marker the untrusted cases build in: its existence means the file ran.
fn marker(dir: &Path) -> PathBuf {
    dir.join("constructor-ran")
}

/// A valid plugin with a constructor that leaves a marker in `marker_dir`.
fn trusted_build(out: &Path, marker_dir: &Path) {
    let m = format!("FX_CONSTRUCTOR_MARKER=\"{}\"", marker(marker_dir).display());
    cc(out, &[&m], &[]);
}

/// What a case makes in its own directory: the path to hand to the loader.
type Make = Box<dyn Fn(&Path) -> PathBuf>;

struct Case {
    what: &'static str,
    make: Make,
    /// The refusal line must contain this.
    reason: &'static str,
    /// The file must be refused before `dlopen` (its constructor, if any, must not run).
    before_dlopen: bool,
}

fn table(what: &'static str, defines: &'static [&'static str], reason: &'static str) -> Case {
    Case {
        what,
        make: Box::new(move |dir| {
            let p = dir.join(PLUGIN);
            cc(&p, defines, &[]);
            p
        }),
        reason,
        before_dlopen: false,
    }
}

/// A valid build with bytes patched at `offset`.
fn patched(what: &'static str, offset: usize, bytes: &'static [u8], reason: &'static str) -> Case {
    Case {
        what,
        make: Box::new(move |dir| {
            let p = dir.join(PLUGIN);
            cc(&p, &[], &[]);
            let mut b = std::fs::read(&p).unwrap();
            b[offset..offset + bytes.len()].copy_from_slice(bytes);
            std::fs::write(&p, b).unwrap();
            p
        }),
        reason,
        before_dlopen: true,
    }
}

fn untrusted(what: &'static str, make: Make, reason: &'static str) -> Case {
    Case {
        what,
        make,
        reason,
        before_dlopen: true,
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        // ---- the table ----
        table(
            "wrong magic",
            &["FX_MAGIC=0x12345678u"],
            "bad magic 0x12345678",
        ),
        table("a newer major", &["FX_MAJOR=2"], "major versions differ"),
        table("major 0", &["FX_MAJOR=0"], "major versions differ"),
        table(
            "a NULL table",
            &["FX_RETURN_NULL"],
            "the entry function returned NULL",
        ),
        table(
            "a misaligned table",
            &["FX_MISALIGNED"],
            "the table is misaligned",
        ),
        table(
            "a tiny struct_size",
            &["FX_STRUCT_SIZE=8"],
            "smaller than the header",
        ),
        table(
            "a struct_size between slots",
            &["FX_STRUCT_SIZE=sizeof(vk_driver_table)-3"],
            "not the header plus a whole number of slots",
        ),
        table(
            "a struct_size past this minor's table",
            &["FX_STRUCT_SIZE=sizeof(vk_driver_table)+8"],
            "does not match ABI 1.",
        ),
        table("an empty name", &["FX_NAME=\"\""], "must be non-empty"),
        table(
            "a name with capitals and a space",
            &["FX_NAME=\"Bad Name\""],
            "driver name \"Bad Name\"",
        ),
        table(
            "an overlong name",
            &["FX_NAME_LEN=5000"],
            "driver name is 5000 bytes long",
        ),
        table(
            "a NULL name",
            &["FX_NAME_NULL"],
            "driver name has a NULL pointer",
        ),
        table(
            "a name that is not UTF-8",
            &["FX_NAME=\"\\xff\""],
            "driver name is not UTF-8",
        ),
        table(
            "a version that is not semver",
            &["FX_VERSION=\"one\""],
            "is not a semantic version",
        ),
        table(
            "an empty version",
            &["FX_VERSION=\"\""],
            "is not a semantic version",
        ),
        table(
            "a NULL version",
            &["FX_VERSION_NULL"],
            "driver version has a NULL pointer",
        ),
        table("no scheme", &["FX_N_SCHEMES=0"], "declares no URI scheme"),
        table(
            "a NULL scheme list",
            &["FX_SCHEMES_NULL"],
            "declares no URI scheme",
        ),
        table(
            "65 schemes",
            &["FX_N_SCHEMES=65"],
            "65 URI schemes (at most 64)",
        ),
        table(
            "a scheme with a space",
            &["FX_SCHEME=\"bad scheme\""],
            "is not a valid URI scheme",
        ),
        table(
            "an empty scheme",
            &["FX_SCHEME=\"\""],
            "is not a valid URI scheme",
        ),
        table(
            "a rank count without a list",
            &["FX_N_OP_RANKS=1"],
            "rank list is malformed",
        ),
        table(
            "more ranks than operations",
            &["FX_OP_RANK_GET_TYPE=0", "FX_N_OP_RANKS=100000"],
            "rank list is malformed",
        ),
        table(
            "a sandbox URI that is not UTF-8",
            &["FX_SANDBOX=\"\\xfe\""],
            "sandbox URI is not UTF-8",
        ),
        table(
            "no open entry",
            &["FX_NO_OPEN"],
            "open and close must both be present",
        ),
        table(
            "no close entry",
            &["FX_NO_CLOSE"],
            "open and close must both be present",
        ),
        table(
            "a capability bit without its entry",
            &["FX_BIT_WITHOUT_ENTRY"],
            "capability bit 22 (domain_suspend) is set but its entry is NULL",
        ),
        table(
            "an entry without its capability bit",
            &["FX_ENTRY_WITHOUT_BIT"],
            "entry domain_suspend is present but capability bit 22 is not set",
        ),
        table(
            "a capability bit past a short table",
            &[
                "FX_MINOR=0",
                "FX_STRUCT_SIZE=offsetof(vk_driver_table,domain_is_persistent)",
                "FX_SET_BIT=VK_OP_DOMAIN_IS_PERSISTENT",
            ],
            "capability bit 55 (domain_is_persistent) is set but the table has no such slot",
        ),
        table(
            "a capability bit naming no operation",
            &["FX_SET_BIT=VK_OP_COUNT"],
            "names no operation of ABI 1.",
        ),
        table(
            "no entry symbol",
            &["FX_NO_ENTRY"],
            "no virtkit_driver_entry symbol",
        ),
        table(
            "an undefined data symbol",
            &["FX_NEEDS_DATA=fx_defined_nowhere"],
            "fx_defined_nowhere",
        ),
        Case {
            what: "a missing library dependency",
            make: Box::new(|dir| {
                let helper = dir.join("libfxhelper.so");
                let src = dir.join("helper.c");
                std::fs::write(&src, "int fx_helper(void) { return 1; }\n").unwrap();
                let o = Command::new("cc")
                    .args(["-shared", "-fPIC", "-o"])
                    .arg(&helper)
                    .arg(&src)
                    .output()
                    .unwrap();
                assert!(o.status.success());
                let p = dir.join(PLUGIN);
                let l = format!("-L{}", dir.display());
                cc(&p, &["FX_NEEDS_LIB"], &[&l, "-lfxhelper"]);
                std::fs::remove_file(helper).unwrap();
                p
            }),
            reason: "libfxhelper.so: cannot open shared object file",
            before_dlopen: false,
        },
        // ---- the ELF file ----
        Case {
            what: "an empty file",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                std::fs::write(&p, b"").unwrap();
                p
            }),
            reason: "not an ELF file",
            before_dlopen: true,
        },
        Case {
            what: "a shell script",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                std::fs::write(&p, "#!/bin/sh\necho not a library\n").unwrap();
                p
            }),
            reason: "not an ELF file",
            before_dlopen: true,
        },
        Case {
            what: "a truncated library",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                cc(&p, &[], &[]);
                let b = std::fs::read(&p).unwrap();
                std::fs::write(&p, &b[..b.len() / 3]).unwrap();
                p
            }),
            reason: "truncated file",
            before_dlopen: true,
        },
        patched("an unknown ELF class", 4, &[9], "unknown ELF class 9"),
        patched(
            "an unknown data encoding",
            5,
            &[9],
            "unknown ELF data encoding 9",
        ),
        patched(
            "no program headers",
            56,
            &[0, 0],
            "the program headers end at byte",
        ),
        patched(
            "program headers past the end",
            32,
            &[0, 0, 0, 0, 0, 0, 0, 0x10],
            "the program headers end at byte",
        ),
        // ---- not a regular file ----
        Case {
            what: "a directory",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                std::fs::create_dir(&p).unwrap();
                p
            }),
            reason: "it is a directory, not a regular file",
            before_dlopen: true,
        },
        Case {
            what: "a FIFO",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
                p
            }),
            reason: "it is a FIFO, not a regular file",
            before_dlopen: true,
        },
        Case {
            what: "a socket",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                // The listener is dropped, the socket file stays.
                drop(std::os::unix::net::UnixListener::bind(&p).unwrap());
                p
            }),
            reason: "it is a socket, not a regular file",
            before_dlopen: true,
        },
        Case {
            what: "a link to a device",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
                p
            }),
            reason: "it is a character device, not a regular file",
            before_dlopen: true,
        },
        Case {
            what: "a dangling link",
            make: Box::new(|dir| {
                let p = dir.join(PLUGIN);
                std::os::unix::fs::symlink(dir.join("nowhere.so"), &p).unwrap();
                p
            }),
            reason: "cannot resolve",
            before_dlopen: true,
        },
        // ---- written by someone else, or writable by others ----
        untrusted(
            "a world-writable file",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(&p, 0o666);
                p
            }),
            "it is writable by others (mode 0666)",
        ),
        untrusted(
            "a group-writable file",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(&p, 0o775);
                p
            }),
            "it is writable by its group (mode 0775)",
        ),
        untrusted(
            "a world-writable directory",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(dir, 0o777);
                p
            }),
            "it is writable by others (mode 0777)",
        ),
        untrusted(
            "a group-writable directory",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(dir, 0o775);
                p
            }),
            "it is writable by its group (mode 0775)",
        ),
        untrusted(
            "a sticky world-writable directory (like /tmp) holding the plugin",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(dir, 0o1777);
                p
            }),
            "it is writable by others (mode 1777)",
        ),
        untrusted(
            "a world-writable ancestor directory",
            Box::new(|dir| {
                let sub = dir.join("lib/virtkit");
                std::fs::create_dir_all(&sub).unwrap();
                let p = sub.join(PLUGIN);
                trusted_build(&p, dir);
                chmod(&dir.join("lib"), 0o777);
                p
            }),
            "/lib': it is writable by others (mode 0777)",
        ),
        untrusted(
            "a link in a trusted directory to a file in a world-writable one",
            Box::new(|dir| {
                let open = dir.join("open");
                let safe = dir.join("safe");
                std::fs::create_dir(&open).unwrap();
                std::fs::create_dir(&safe).unwrap();
                trusted_build(&open.join("real.so"), dir);
                chmod(&open, 0o777);
                let p = safe.join(PLUGIN);
                std::os::unix::fs::symlink(open.join("real.so"), &p).unwrap();
                p
            }),
            "/open': it is writable by others (mode 0777)",
        ),
        untrusted(
            "a link in a world-writable directory to a trusted file",
            Box::new(|dir| {
                let open = dir.join("open");
                let safe = dir.join("safe");
                std::fs::create_dir(&open).unwrap();
                std::fs::create_dir(&safe).unwrap();
                trusted_build(&safe.join("real.so"), dir);
                chmod(&open, 0o777);
                let p = open.join(PLUGIN);
                std::os::unix::fs::symlink(safe.join("real.so"), &p).unwrap();
                p
            }),
            "/open': it is writable by others (mode 0777)",
        ),
    ];
    if is_root() {
        v.push(untrusted(
            "a file owned by another user",
            Box::new(|dir| {
                let p = dir.join(PLUGIN);
                trusted_build(&p, dir);
                nix::unistd::chown(&p, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
                p
            }),
            "it is owned by uid 65534, not by uid 0 or root",
        ));
        v.push(untrusted(
            "a directory owned by another user",
            Box::new(|dir| {
                let sub = dir.join("theirs");
                std::fs::create_dir(&sub).unwrap();
                let p = sub.join(PLUGIN);
                trusted_build(&p, dir);
                nix::unistd::chown(&sub, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
                p
            }),
            "/theirs': it is owned by uid 65534",
        ));
    } else {
        virtkit_test_support::skip_host(
            "ROOT",
            "the two other-owner cases need root to give files to another user",
        );
    }
    v
}

/// Loads `path` on another thread, so that a loader that blocks (on a FIFO, say) fails the
/// test instead of hanging it.
fn load_with_deadline(path: &Path) -> Result<(), LoadError> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(Registry::load_file(&p).map(|_| ()));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("loading {} blocked", path.display()))
}

#[test]
fn every_kind_of_malformed_or_untrusted_plugin_is_refused_by_name() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let holder = tempfile::tempdir().unwrap();
        let dir = holder.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        let path = (case.make)(&dir);
        let verdict = load_with_deadline(&path);
        let line = match verdict {
            Ok(()) => {
                failures.push(format!("{}: loaded", case.what));
                continue;
            }
            Err(e) => e.to_string(),
        };
        if line.contains('\n') || !line.starts_with(&path.display().to_string()) {
            failures.push(format!(
                "{}: not one line starting with the file name: {line:?}",
                case.what
            ));
        }
        if !line.contains(case.reason) {
            failures.push(format!(
                "{}: expected {:?} in {line:?}",
                case.what, case.reason
            ));
        }
        if case.before_dlopen && marker(&dir).exists() {
            failures.push(format!("{}: its constructor ran", case.what));
        }
        // Leave every directory removable.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(holder.path())
            .status();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} kinds of malformed plugin refused by name", cases.len());
    assert!(
        cases.len() >= 36,
        "the issue counted 36 kinds; keep them all"
    );
}

/// The same file, made trusted again, loads: the refusals above are about the file's standing,
/// not its content. Its constructor runs once.
#[test]
fn a_trusted_plugin_with_a_constructor_loads() {
    let holder = tempfile::tempdir().unwrap();
    let dir = holder.path();
    let p = dir.join(PLUGIN);
    trusted_build(&p, dir);
    chmod(&p, 0o755);
    let d = Registry::load_file(&p).unwrap();
    assert_eq!(d.name(), "fixture");
    assert!(
        marker(dir).exists(),
        "the constructor of a loaded plugin ran"
    );
}
