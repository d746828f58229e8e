//! Plugin load time: `dlopen` + ELF check + handshake + table validation, once per process (a
//! plugin is never loaded twice in one process), so each sample is a fresh process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use virtkit::Registry;

use crate::stats::{self, Summary};

/// The installed plugin files in `dir`.
pub fn installed(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libvirtkit_driver_") && n.ends_with(".so"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Builds the repository's out-of-tree C example driver (`examples/out-of-tree-c/toy.c`, no
/// Rust, about 1,000 lines) into `out`: a floor for the load of a virtkit plugin on this machine,
/// loaded by the same loader. `None` with the reason when it cannot be built.
pub fn build_c_reference(root: &Path, out: &Path) -> Result<PathBuf, String> {
    let src = root.join("examples/out-of-tree-c/toy.c");
    let include = root.join("abi/include");
    if !src.exists() {
        return Err(format!("{} not found", src.display()));
    }
    let cc = crate::procs::which("cc")
        .or_else(|| crate::procs::which("gcc"))
        .ok_or("no C compiler (cc) found")?;
    let so = out.join("libvirtkit_driver_toyhv_c.so");
    let st = Command::new(cc)
        .args([
            "-std=c99",
            "-shared",
            "-fPIC",
            "-O2",
            "-fvisibility=hidden",
            "-pthread",
        ])
        .arg("-I")
        .arg(&include)
        .arg("-o")
        .arg(&so)
        .arg(&src)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if st.success() {
        Ok(so)
    } else {
        Err(format!("cc failed on {}: {st}", src.display()))
    }
}

/// Loads `path` in `runs` fresh processes; nanoseconds per load.
pub fn load_times(path: &Path, runs: usize) -> Result<Summary, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let out = Command::new(&me)
            .arg("__load")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run the load probe: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: f64 = text.trim().parse().map_err(|_| {
            format!(
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        samples.push(v);
    }
    Summary::of(&samples).ok_or_else(|| "no runs".into())
}

/// The `__load PATH` probe: loads one plugin through the registry and prints the nanoseconds it
/// took.
pub fn load_main(args: &[String]) -> i32 {
    let Some(path) = args.first() else {
        eprintln!("usage: virtkit-bench __load PLUGIN");
        return 2;
    };
    let t = Instant::now();
    let r = Registry::load_file(Path::new(path));
    let dt = t.elapsed();
    match r {
        Ok(_) => {
            println!("{}", stats::ns(dt));
            0
        }
        Err(e) => {
            eprintln!("refused: {e}");
            1
        }
    }
}
