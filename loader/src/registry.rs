//! Where drivers come from: plugin directories and the statically linked set.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use virtkit_abi::{VIRTKIT_DRIVER_ENTRY, VkEntryFn};

use crate::validate::{Driver, LoadError};

/// A driver linked into the current binary; submit one with
/// [`register_static_driver!`](crate::register_static_driver).
pub struct StaticDriver {
    /// The driver's entry function.
    pub entry: VkEntryFn,
}

inventory::collect!(StaticDriver);

/// Where a driver table came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A plugin file.
    Plugin(PathBuf),
    /// Linked statically into the running binary.
    Static,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Plugin(p) => write!(f, "{}", p.display()),
            Origin::Static => f.write_str("(built in)"),
        }
    }
}

/// The file name of the plugin for a driver or scheme name: `libvirtkit_driver_<name>.so`, with
/// `-` written as `_` (`xen-xend` lives in `libvirtkit_driver_xen_xend.so`).
pub fn plugin_file_name(name: &str) -> String {
    format!("libvirtkit_driver_{}.so", name.replace('-', "_"))
}

const PREFIX: &str = "libvirtkit_driver_";

/// Every plugin file loaded by this process, by canonical path. Plugins are never unloaded: the
/// library handle is leaked on purpose (unloading a Rust cdylib that used thread-locals is unsound).
fn loaded() -> &'static Mutex<HashMap<PathBuf, Arc<Driver>>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Driver>>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

fn statics() -> &'static Vec<Arc<Driver>> {
    static STATICS: OnceLock<Vec<Arc<Driver>>> = OnceLock::new();
    STATICS.get_or_init(|| {
        let mut out = Vec::new();
        for s in inventory::iter::<StaticDriver> {
            // SAFETY: statically linked entries come from the SDK's entry macro, which returns a
            // pointer to a table with 'static lifetime built by the same ABI crate.
            let table = unsafe { (s.entry)() };
            // SAFETY: see above: the table is static and well-formed by construction.
            match unsafe { Driver::from_raw(table, Origin::Static) } {
                Ok(d) => out.push(Arc::new(d)),
                Err(e) => eprintln!("virtkit: warning: {e}"),
            }
        }
        out
    })
}

/// Finds and loads drivers.
#[derive(Clone, Debug)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    /// Plugin files named explicitly (any file name); always candidates for every scheme.
    files: Vec<PathBuf>,
    use_static: bool,
}

impl Registry {
    /// The registry the environment asks for: the directories in `VIRTKIT_DRIVER_DIR`
    /// (colon-separated) when it is set, else `<exe>/../lib/virtkit/drivers` then the directory
    /// of the executable.
    pub fn from_env() -> Registry {
        if let Some(v) = std::env::var_os("VIRTKIT_DRIVER_DIR") {
            let dirs = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            return Registry {
                dirs,
                files: Vec::new(),
                use_static: true,
            };
        }
        let mut dirs = Vec::new();
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .as_deref()
            .and_then(Path::parent)
        {
            dirs.push(exe_dir.join("../lib/virtkit/drivers"));
            dirs.push(exe_dir.to_path_buf());
        }
        Registry {
            dirs,
            files: Vec::new(),
            use_static: true,
        }
    }

    /// A registry searching exactly `dirs`, plus the statically linked drivers.
    pub fn with_dirs(dirs: Vec<PathBuf>) -> Registry {
        Registry {
            dirs,
            files: Vec::new(),
            use_static: true,
        }
    }

    /// A registry of exactly these plugin files, whatever their names, and no statically linked
    /// driver (how the conformance suite loads the one file it judges).
    pub fn with_files(files: Vec<PathBuf>) -> Registry {
        Registry {
            dirs: Vec::new(),
            files,
            use_static: false,
        }
    }

    /// Ignore drivers linked into the binary (used by tests of plugin files).
    pub fn without_static(mut self) -> Registry {
        self.use_static = false;
        self
    }

    /// The directories searched, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Loads and validates one plugin file (once per process; later calls return the same driver).
    pub fn load_file(path: &Path) -> Result<Arc<Driver>, LoadError> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut map = loaded().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = map.get(&canonical) {
            return Ok(d.clone());
        }
        crate::elf::check(&canonical).map_err(|reason| LoadError::Dlopen {
            path: path.to_path_buf(),
            reason,
        })?;
        // SAFETY: loading a library runs its initialisers. Plugin files are trusted code by
        // installation (the same trust as any shared library the binary links).
        let lib =
            unsafe { libloading::Library::new(&canonical) }.map_err(|e| LoadError::Dlopen {
                path: path.to_path_buf(),
                reason: dl_reason(&e),
            })?;
        // SAFETY: the symbol, when present, has the documented entry type.
        let entry: VkEntryFn = match unsafe { lib.get::<VkEntryFn>(VIRTKIT_DRIVER_ENTRY) } {
            Ok(sym) => *sym,
            Err(_) => {
                return Err(LoadError::NoEntry {
                    path: path.to_path_buf(),
                });
            }
        };
        // Never unload: the library stays mapped for the life of the process.
        std::mem::forget(lib);
        // SAFETY: calling the entry is the documented handshake; it returns a static table.
        let table = unsafe { entry() };
        // SAFETY: the table lives in the (never unloaded) library.
        let driver = unsafe { Driver::from_raw(table, Origin::Plugin(path.to_path_buf())) }?;
        let driver = Arc::new(driver);
        map.insert(canonical, driver.clone());
        Ok(driver)
    }

    /// The plugin files in the search directories whose names say they may serve `scheme`:
    /// `libvirtkit_driver_<scheme>.so` and `libvirtkit_driver_<scheme>_<member>.so`. When a file
    /// name appears in several directories, the first directory wins.
    pub fn candidate_files(&self, scheme: &str) -> Vec<PathBuf> {
        let stem = format!("{PREFIX}{}", scheme.replace('-', "_"));
        let mut out = self.files.clone();
        out.extend(self.dir_files().into_iter().filter(|p| {
            let n = file_name(p);
            let rest = n.strip_suffix(".so").unwrap_or("");
            rest == stem || rest.strip_prefix(&stem).is_some_and(|m| m.starts_with('_'))
        }));
        out
    }

    /// The explicit files, then every file named `libvirtkit_driver_*.so` in the search
    /// directories (first directory wins).
    pub fn plugin_files(&self) -> Vec<PathBuf> {
        let mut out = self.files.clone();
        out.extend(self.dir_files());
        out
    }

    fn dir_files(&self) -> Vec<PathBuf> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for dir in &self.dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            names.sort();
            for p in names {
                let n = file_name(&p).to_string();
                if n.starts_with(PREFIX) && n.ends_with(".so") && seen.insert(n, ()).is_none() {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The drivers that serve `scheme`, sorted by stack rank, plus the files refused on the way.
    /// Plugin files win over statically linked drivers of the same name.
    pub fn drivers_for_scheme(&self, scheme: &str) -> (Vec<Arc<Driver>>, Vec<LoadError>) {
        let mut drivers: Vec<Arc<Driver>> = Vec::new();
        let mut refused = Vec::new();
        for path in self.candidate_files(scheme) {
            match Registry::load_file(&path) {
                Ok(d) if d.serves(scheme) => drivers.push(d),
                Ok(_) => {}
                Err(e) => refused.push(e),
            }
        }
        if self.use_static {
            for d in statics() {
                if d.serves(scheme) && !drivers.iter().any(|p| p.name() == d.name()) {
                    drivers.push(d.clone());
                }
            }
        }
        // Open every member in its default stack order.
        drivers.sort_by_key(|d| d.rank_for(virtkit_abi::Op::Open));
        (drivers, refused)
    }

    /// Every driver available: each plugin file in the search directories, then the statically
    /// linked drivers not shadowed by a plugin. Also returns the refusals.
    pub fn all(&self) -> (Vec<Arc<Driver>>, Vec<LoadError>) {
        let mut drivers: Vec<Arc<Driver>> = Vec::new();
        let mut refused = Vec::new();
        for path in self.plugin_files() {
            match Registry::load_file(&path) {
                Ok(d) => {
                    if !drivers.iter().any(|x| x.name() == d.name()) {
                        drivers.push(d)
                    }
                }
                Err(e) => refused.push(e),
            }
        }
        if self.use_static {
            for d in statics() {
                if !drivers.iter().any(|p| p.name() == d.name()) {
                    drivers.push(d.clone());
                }
            }
        }
        (drivers, refused)
    }
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn dl_reason(e: &libloading::Error) -> String {
    // libloading wraps dlerror(); keep just its text, which already names the problem.
    let s = e.to_string();
    match s.split_once(": ") {
        Some((_, rest)) if s.starts_with("dlopen") || s.starts_with("DlOpen") => rest.to_string(),
        _ => s,
    }
}
