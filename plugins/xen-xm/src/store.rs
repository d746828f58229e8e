//! The config directory: which files are XM configs, a cache of the parsed ones validated by
//! each file's identity (modification and change times, size, inode), and the writes.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;
use virtkit_conf::Conf;
use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xen::XmGuestArch;
use virtkit_xml::DomainDef;

/// The largest config file read (a real one is a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Permissions of the configs virtkit writes (they may hold a VNC password).
pub const CONFIG_MODE: u32 = 0o600;
/// The subdirectory Xen's init script (`xendomains`) starts domains from.
pub const AUTO_DIR: &str = "auto";

/// Why a directory entry is not an XM config, or `None` when it may be one (by its name).
/// libvirt skipped the same names; virtkit adds the backups package managers leave.
pub fn skip_reason(name: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 4] = [
        ("xend-config.sxp", "xend's own configuration"),
        ("xend-pci-", "xend's PCI configuration"),
        ("xmexample", "an example config"),
        ("qemu-ifup", "a network script"),
    ];
    const SUFFIXES: [(&str, &str); 9] = [
        ("~", "an editor backup"),
        (".sxp", "an S-expression file"),
        (".bak", "a backup"),
        (".orig", "a backup"),
        (".swp", "an editor swap file"),
        (".rpmsave", "a package manager backup"),
        (".rpmnew", "a package manager backup"),
        (".dpkg-old", "a package manager backup"),
        (".dpkg-dist", "a package manager backup"),
    ];
    if name.starts_with('.') {
        return Some("a hidden file");
    }
    if name.starts_with('#') {
        return Some("an editor backup");
    }
    if name == AUTO_DIR || name == "scripts" {
        return Some("a directory of Xen's tools");
    }
    for (p, why) in PREFIXES {
        if name.starts_with(p) {
            return Some(why);
        }
    }
    for (s, why) in SUFFIXES {
        if name.ends_with(s) {
            return Some(why);
        }
    }
    None
}

/// Checks a domain name before it names a file: no `/`, no NUL, not empty, not `.`/`..` or
/// hidden, and not a name the directory scan skips.
pub fn check_file_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_arg("a domain name must not be empty"));
    }
    if name.contains('/') || name.contains('\0') || name.starts_with('.') {
        return Err(Error::invalid_arg(format!(
            "domain name '{}' cannot name a file in the XM config directory ('/', NUL and a leading '.' are refused)",
            name.escape_debug()
        )));
    }
    if name.len() > 255 {
        return Err(Error::invalid_arg(format!(
            "domain name '{name}' is longer than a file name may be"
        )));
    }
    if let Some(why) = skip_reason(name) {
        return Err(Error::invalid_arg(format!(
            "domain name '{name}' cannot be an XM config file name: it would be skipped as {why}"
        )));
    }
    Ok(())
}

/// What identifies one version of a file: an edit changes at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime: (i64, i64),
    ctime: (i64, i64),
    size: u64,
    ino: u64,
    dev: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            size: m.size(),
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

/// A parsed config.
#[derive(Debug)]
pub struct Config {
    /// The file name inside the directory.
    pub file: String,
    /// The settings as written (kept so that edits keep the admin's comments and settings).
    pub conf: Conf,
    /// The domain.
    pub def: DomainDef,
}

#[derive(Debug)]
struct Entry {
    stamp: Stamp,
    parsed: std::result::Result<Arc<Config>, String>,
}

/// The directory and its cache.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    config_version: u32,
    arch: XmGuestArch,
    cache: BTreeMap<String, Entry>,
    /// The problem of each file that does not parse (printed once per version of the file).
    reports: BTreeMap<String, String>,
    /// How many files were parsed since the store was made (for tests and benchmarks).
    parses: u64,
}

impl Store {
    /// A store for `dir`, converting at `config_version`, guests getting `arch`.
    pub fn new(dir: PathBuf, config_version: u32, arch: XmGuestArch) -> Store {
        Store {
            dir,
            config_version,
            arch,
            cache: BTreeMap::new(),
            reports: BTreeMap::new(),
            parses: 0,
        }
    }

    /// The config directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The xend config version configs are read and written for.
    pub fn config_version(&self) -> u32 {
        self.config_version
    }

    /// The guest architecture configs are read with.
    pub fn arch(&self) -> &XmGuestArch {
        &self.arch
    }

    /// How many files were parsed so far.
    pub fn parses(&self) -> u64 {
        self.parses
    }

    /// The problems found in files that do not parse, one line each (file: error), by file name.
    pub fn problems(&self) -> Vec<&str> {
        self.reports.values().map(String::as_str).collect()
    }

    /// Brings the cache up to date with the directory: new and changed files are parsed,
    /// removed ones forgotten, unchanged ones kept. A directory that does not exist holds no
    /// configs.
    pub fn refresh(&mut self) -> Result<()> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.clear();
                return Ok(());
            }
            Err(e) => {
                return Err(Error::system(
                    format!(
                        "cannot read the XM config directory '{}'",
                        self.dir.display()
                    ),
                    &e,
                ));
            }
        };
        let mut seen: Vec<String> = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| {
                Error::system(
                    format!(
                        "cannot read the XM config directory '{}'",
                        self.dir.display()
                    ),
                    &e,
                )
            })?;
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                continue;
            };
            if skip_reason(name).is_some() {
                continue;
            }
            let path = self.dir.join(name);
            // A link to a config kept elsewhere counts, as with xm.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            // Subdirectories, devices, FIFOs; and executables, which are scripts.
            if !meta.is_file() || meta.mode() & 0o111 != 0 {
                continue;
            }
            let stamp = Stamp::of(&meta);
            seen.push(name.to_owned());
            if self.cache.get(name).is_some_and(|e| e.stamp == stamp) {
                continue;
            }
            let parsed = self.parse_file(name, &path);
            match &parsed {
                Err(problem) => {
                    // Reported once per version of the file.
                    eprintln!("warning: xen-xm: skipping {problem}");
                    self.reports.insert(name.to_owned(), problem.clone());
                }
                Ok(_) => {
                    self.reports.remove(name);
                }
            }
            self.cache.insert(name.to_owned(), Entry { stamp, parsed });
        }
        seen.sort_unstable();
        self.cache.retain(|k, _| seen.binary_search(k).is_ok());
        self.reports.retain(|k, _| seen.binary_search(k).is_ok());
        Ok(())
    }

    fn parse_file(&mut self, name: &str, path: &Path) -> std::result::Result<Arc<Config>, String> {
        self.parses += 1;
        let text = virtkit_hostio::read_string_capped(path, MAX_CONFIG_BYTES)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let conf = Conf::parse(&text).map_err(|e| {
            format!(
                "{}: line {}, column {}: {}",
                path.display(),
                e.line,
                e.column,
                e.message
            )
        })?;
        let def = virtkit_xen::xm_to_domain(&conf, self.config_version, Some(&self.arch))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Arc::new(Config {
            file: name.to_owned(),
            conf,
            def,
        }))
    }

    /// The configs that parse, in file-name order; a domain name claimed by two files belongs
    /// to the first (as in libvirt, which kept the first it found).
    pub fn configs(&self) -> Vec<Arc<Config>> {
        let mut names: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.cache.len());
        for entry in self.cache.values() {
            if let Ok(c) = &entry.parsed
                && names.insert(&c.def.name)
            {
                out.push(Arc::clone(c));
            }
        }
        out
    }

    /// The config of the domain named `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<Config>> {
        self.cache
            .values()
            .find_map(|e| e.parsed.as_ref().ok().filter(|c| c.def.name == name))
            .cloned()
    }

    /// The config of the domain with `uuid` (the first file with it).
    pub fn by_uuid(&self, uuid: &Uuid) -> Option<Arc<Config>> {
        let c = self
            .cache
            .values()
            .find_map(|e| e.parsed.as_ref().ok().filter(|c| c.def.uuid == *uuid))?;
        // Only the file that owns the name is the domain.
        self.by_name(&c.def.name).filter(|o| o.file == c.file)
    }

    /// Whether a file named `name` is in the directory (parsed or not).
    pub fn has_file(&self, name: &str) -> bool {
        self.cache.contains_key(name)
    }

    fn check_writable(&self) -> Result<()> {
        if !self.dir.is_dir() {
            return Err(Error::new(
                ErrorCode::OperationFailed,
                format!(
                    "operation failed: the XM config directory '{}' does not exist",
                    self.dir.display()
                ),
            ));
        }
        virtkit_hostio::check_trusted_dir(&self.dir)
            .map_err(|e| Error::new(ErrorCode::OperationFailed, format!("operation failed: {e}")))
    }

    /// Writes `conf` as the file `file` of the directory, atomically (temp file, fsync, rename).
    pub fn write(&mut self, file: &str, conf: &Conf) -> Result<()> {
        check_file_name(file)?;
        self.check_writable()?;
        let path = self.dir.join(file);
        virtkit_hostio::write_atomic(&path, conf.to_string().as_bytes(), CONFIG_MODE)
            .map_err(|e| Error::new(ErrorCode::WriteFailed, format!("failed to write: {e}")))?;
        self.refresh()
    }

    /// Removes the file `file` of the directory, and its autostart link.
    pub fn remove(&mut self, file: &str) -> Result<()> {
        check_file_name(file)?;
        self.check_writable()?;
        if self.autostart(file)? {
            self.set_autostart(file, false)?;
        }
        let path = self.dir.join(file);
        std::fs::remove_file(&path)
            .map_err(|e| Error::system(format!("cannot remove '{}'", path.display()), &e))?;
        self.refresh()
    }

    fn auto_path(&self, file: &str) -> PathBuf {
        self.dir.join(AUTO_DIR).join(file)
    }

    /// Whether `auto/<file>` starts the domain at boot: a link to the config, or a copy.
    pub fn autostart(&self, file: &str) -> Result<bool> {
        let link = self.auto_path(file);
        let Ok(meta) = std::fs::symlink_metadata(&link) else {
            return Ok(false);
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(&link).ok();
            let config = std::fs::canonicalize(self.dir.join(file)).ok();
            return Ok(target.is_some() && target == config);
        }
        Ok(meta.is_file())
    }

    /// Makes `auto/<file>` a link to the config, or removes the link. A file there that is not
    /// a link (an admin's copy) is left alone and the change refused.
    pub fn set_autostart(&mut self, file: &str, on: bool) -> Result<()> {
        check_file_name(file)?;
        self.check_writable()?;
        let auto = self.dir.join(AUTO_DIR);
        let link = self.auto_path(file);
        let existing = std::fs::symlink_metadata(&link).ok();
        if on {
            if self.autostart(file)? {
                return Ok(());
            }
            if existing.is_some() {
                return Err(Error::operation_failed(format!(
                    "'{}' exists and is not a link to the domain's config",
                    link.display()
                )));
            }
            virtkit_hostio::ensure_private_dir(&auto, 0o755).map_err(|e| {
                Error::new(ErrorCode::OperationFailed, format!("operation failed: {e}"))
            })?;
            std::os::unix::fs::symlink(self.dir.join(file), &link).map_err(|e| {
                Error::system(format!("cannot create the link '{}'", link.display()), &e)
            })
        } else {
            match existing {
                None => Ok(()),
                Some(m) if m.file_type().is_symlink() => std::fs::remove_file(&link)
                    .map_err(|e| Error::system(format!("cannot remove '{}'", link.display()), &e)),
                Some(_) => Err(Error::operation_failed(format!(
                    "'{}' is not a link; remove it by hand to stop starting the domain at boot",
                    link.display()
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_or_hide_are_refused() {
        for bad in [
            "",
            "a/b",
            "..",
            ".hidden",
            "x\0y",
            "xend-config.sxp",
            "guest~",
            "auto",
            "g.sxp",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        for good in ["guest", "web-01", "a.b", "XenGuest2&test"] {
            assert!(check_file_name(good).is_ok(), "{good:?}");
        }
    }

    fn config(name: &str, uuid: u8, memory: u32) -> String {
        format!(
            "name = \"{name}\"\nuuid = \"c7a5fdb0-cdaf-9455-926a-d65c16db18{uuid:02x}\"\nmemory = {memory}\nkernel = \"/k\"\n"
        )
    }

    #[test]
    fn the_cache_parses_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5u8 {
            std::fs::write(
                dir.path().join(format!("g{i}")),
                config(&format!("g{i}"), i, 256),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("bad"), "name = [\n").unwrap();
        let mut store = Store::new(dir.path().to_path_buf(), 2, XmGuestArch::host());
        store.refresh().unwrap();
        assert_eq!(store.parses(), 6);
        assert_eq!(store.configs().len(), 5);
        assert_eq!(store.problems().len(), 1, "{:?}", store.problems());
        assert!(
            store.problems()[0].contains("bad: line 2"),
            "{:?}",
            store.problems()
        );
        // Nothing changed: nothing parsed, the problem not reported again.
        store.refresh().unwrap();
        assert_eq!(store.parses(), 6);
        assert_eq!(store.problems().len(), 1);
        // An edit by hand (same size, so only the times tell) is seen.
        std::fs::write(dir.path().join("g3"), config("g3", 3, 512)).unwrap();
        store.refresh().unwrap();
        assert_eq!(store.parses(), 7);
        assert_eq!(
            store.by_name("g3").unwrap().def.current_memory_kib,
            512 * 1024
        );
        // A removed file is forgotten; a fixed bad file lists.
        std::fs::remove_file(dir.path().join("g0")).unwrap();
        std::fs::write(dir.path().join("bad"), config("fixed", 9, 128)).unwrap();
        store.refresh().unwrap();
        assert!(store.by_name("g0").is_none());
        assert!(store.by_name("fixed").is_some());
        assert!(store.problems().is_empty());
        // Two files naming one domain: the first by file name owns it.
        std::fs::write(dir.path().join("zz-copy"), config("g1", 1, 64)).unwrap();
        store.refresh().unwrap();
        assert_eq!(store.by_name("g1").unwrap().file, "g1");
        assert_eq!(
            store
                .configs()
                .iter()
                .filter(|c| c.def.name == "g1")
                .count(),
            1
        );
    }
}
