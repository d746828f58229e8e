//! `cargo xtask install-headers --prefix PREFIX`: installs what a C driver author builds
//! against — `PREFIX/include/virtkit/{driver.h,host.h}` and the pkg-config file
//! `PREFIX/lib/pkgconfig/virtkit-driver.pc` — so that
//! `cc $(pkg-config --cflags virtkit-driver) ...` finds `<virtkit/driver.h>`.

use std::path::{Path, PathBuf};

use virtkit_abi::{VK_ABI_MAJOR, VK_ABI_MINOR};

use crate::{Result, root};

/// The headers, relative to `abi/include`.
const HEADERS: &[&str] = &["virtkit/driver.h", "virtkit/host.h"];

/// The pkg-config file for `prefix` (also installed by the `virtkit-dev` package).
pub(crate) fn pc_file(prefix: &str) -> String {
    format!(
        "prefix={prefix}\n\
         includedir=${{prefix}}/include\n\
         abi_major={VK_ABI_MAJOR}\n\
         abi_minor={VK_ABI_MINOR}\n\
         \n\
         Name: virtkit-driver\n\
         Description: Headers for virtkit driver plugins in C (ABI {VK_ABI_MAJOR}.{VK_ABI_MINOR}); \
         define VK_TARGET_ABI_MINOR to build for an older core\n\
         Version: {}\n\
         Cflags: -I${{includedir}}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Writes `text` to `path`, replacing a regular file but nothing else (a symlink, a device or
/// a directory at the destination is refused).
fn write_file(path: &Path, text: &[u8]) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => {
            return Err(format!(
                "{} exists and is not a regular file: not replacing it",
                path.display()
            ));
        }
        _ => {}
    }
    let dir = path.parent().ok_or("a file has a directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.xtask-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot install {}: {e}", path.display())
    })
}

/// Installs the headers and the pkg-config file under `prefix`; returns the `.pc` path.
pub(crate) fn install(prefix: &Path) -> Result<PathBuf> {
    let prefix_text = prefix
        .to_str()
        .filter(|s| prefix.is_absolute() && !s.contains(['\n', '"', ' ', '$']))
        .ok_or_else(|| {
            format!(
                "the prefix {} must be an absolute UTF-8 path without spaces, quotes or '$'",
                prefix.display()
            )
        })?;
    let include = root().join("abi/include");
    for h in HEADERS {
        let src = include.join(h);
        let text =
            std::fs::read(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        write_file(&prefix.join("include").join(h), &text)?;
    }
    let pc = prefix.join("lib/pkgconfig/virtkit-driver.pc");
    write_file(&pc, pc_file(prefix_text).as_bytes())?;
    Ok(pc)
}

/// The command: `install-headers --prefix PREFIX`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask install-headers --prefix PREFIX";
    let prefix = match args {
        [flag, p] if flag == "--prefix" => PathBuf::from(p),
        _ => return Err(usage.into()),
    };
    let pc = install(&prefix)?;
    eprintln!(
        "xtask: installed <virtkit/driver.h>, <virtkit/host.h> and {}\n  \
         PKG_CONFIG_PATH={} pkg-config --cflags virtkit-driver",
        pc.display(),
        pc.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn pkg_config_finds_the_installed_headers_and_a_skeleton_builds_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("usr");
        let pc = install(&prefix).unwrap();
        for h in HEADERS {
            assert_eq!(
                std::fs::read(prefix.join("include").join(h)).unwrap(),
                std::fs::read(root().join("abi/include").join(h)).unwrap()
            );
        }
        // Installing twice replaces the files; a symlink in the way is refused.
        install(&prefix).unwrap();
        let link = dir.path().join("other/lib/pkgconfig/virtkit-driver.pc");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&pc, &link).unwrap();
        let e = install(&dir.path().join("other")).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");

        let cflags = match Command::new("pkg-config")
            .args(["--cflags", "virtkit-driver"])
            .env("PKG_CONFIG_PATH", pc.parent().unwrap())
            .output()
        {
            Ok(o) => {
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                String::from_utf8(o.stdout).unwrap().trim().to_string()
            }
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "pkg-config: {e}, and CI is set"
                );
                eprintln!("skipped: pkg-config is not installed ({e})");
                return;
            }
        };
        assert_eq!(cflags, format!("-I{}", prefix.join("include").display()));

        // The C skeleton, built against the installed headers only.
        let project = crate::new_driver::generate("pcskel", true, dir.path()).unwrap();
        let out = match Command::new("make")
            .current_dir(&project)
            .arg(format!("VIRTKIT_CFLAGS={cflags}"))
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "make: {e}, and CI is set");
                eprintln!("skipped: make is not installed ({e})");
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(project.join("build/libvirtkit_driver_pcskel.so").exists());
    }
}
