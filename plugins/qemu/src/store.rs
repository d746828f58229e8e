//! The driver's state on disk, shared by every process that opens the same URI.
//!
//! ```text
//! config/<name>.xml                 persistent definition (written atomically, fsync'ed)
//! config/autostart/<name>.xml       symlink to ../<name>.xml when autostart is on
//! config/networks/[autostart/]<name>.xml
//! run/<name>.state                  a running guest: JSON {name, uuid, id, pid, reason, xml}
//! run/<name>.pid, run/<name>.qmp    QEMU's pidfile and monitor socket
//! run/<name>.log                    QEMU's stderr
//! run/<name>.shutoff                why the guest last stopped (libvirt's reason code)
//! run/lock/<name>.lock              serializes actions on one guest
//! run/lock/driver.lock              serializes changes to the set of guests (define, create)
//! run/next-id                       the next domain id
//! run/autostart.boot                the boot id autostart last ran for
//! ```
//!
//! Readers take no lock: every file is replaced by rename, so a reader sees the old or the new
//! version, never a mix.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{Value, json};
use uuid::Uuid;
use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{DomainDef, FormatOptions};

use crate::paths::Paths;
use crate::process;

/// How long an action waits for another process's action on the same guest.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// A held lock file; released when dropped.
pub struct Lock {
    _flock: Flock<File>,
}

/// A running guest as the state file records it.
#[derive(Clone, Debug)]
pub struct RunState {
    /// Domain name.
    pub name: String,
    /// Domain UUID.
    pub uuid: Uuid,
    /// Domain id.
    pub id: i32,
    /// QEMU's pid.
    pub pid: i32,
    /// libvirt's running-state reason: 1 booted, 3 restored.
    pub reason: i32,
    /// The live definition (with id, allocated VNC port, pty paths).
    pub def: DomainDef,
}

/// Writes `data` to `path` atomically with `virtkit_hostio` (an exclusive temp file with an
/// unpredictable name beside it, renamed only onto a regular file or a new name; a failure leaves
/// the old file as it was). With `durable`, the file and its directory are synced so that the
/// change survives a crash. Mode 0644: read-only connections of other users read the state.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    const MODE: u32 = 0o644;
    let written = if durable {
        virtkit_hostio::write_atomic(path, data, MODE)
    } else {
        virtkit_hostio::write_atomic_unsynced(path, data, MODE)
    };
    written.map_err(|e| Error::new(ErrorCode::SystemError, e.to_string()))
}

/// The longest name stored as a file (`<name>.state` must fit the 255-byte limit of a file
/// name component).
pub const MAX_NAME_BYTES: usize = 200;

/// Whether `name` can name the files of a domain or network: not empty, no `/` or NUL, not `.`
/// or `..`, at most [`MAX_NAME_BYTES`]. Other names cannot exist, so lookups of them find
/// nothing.
pub fn storable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.contains(['/', '\0'])
        && name != "."
        && name != ".."
}

/// Refuses a name [`storable_name`] rejects, for definitions.
pub fn check_name(name: &str) -> Result<()> {
    if storable_name(name) {
        return Ok(());
    }
    Err(Error::xml(format!(
        "name '{}' cannot be stored: it must be 1 to {MAX_NAME_BYTES} bytes, without '/' or NUL, and not '.' or '..'",
        name.chars().take(40).collect::<String>()
    )))
}

fn remove_quiet(p: &Path) {
    let _ = std::fs::remove_file(p);
}

/// Names of the files `<name>.<ext>` in `dir`.
fn names_with_ext(dir: &Path, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let n = e.ok()?.file_name().into_string().ok()?;
                let stem = n.strip_suffix(ext)?.strip_suffix('.')?;
                (!stem.is_empty() && !n.starts_with(".")).then(|| stem.to_string())
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The on-disk state of one driver instance.
#[derive(Clone, Debug)]
pub struct Store {
    /// Its directories.
    pub paths: Paths,
}

impl Store {
    /// A store on `paths` (the directories are created by [`Paths::create`]).
    pub fn new(paths: Paths) -> Store {
        Store { paths }
    }

    /// `config/<name>.xml`.
    pub fn config_file(&self, name: &str) -> PathBuf {
        self.paths.config.join(format!("{name}.xml"))
    }
    /// `config/autostart/<name>.xml`.
    pub fn autostart_link(&self, name: &str) -> PathBuf {
        self.paths
            .config
            .join("autostart")
            .join(format!("{name}.xml"))
    }
    /// `run/<name>.state`.
    pub fn state_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.state"))
    }
    /// `run/<name>.pid`.
    pub fn pidfile(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.pid"))
    }
    /// `run/<name>.qmp`.
    pub fn qmp_socket(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.qmp"))
    }
    /// `run/<name>.log`.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.log"))
    }
    fn shutoff_file(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.shutoff"))
    }

    fn lock_file(&self, file: &str) -> Result<Lock> {
        let path = self.paths.run.join("lock").join(file);
        let deadline = Instant::now() + LOCK_WAIT;
        let mut pause = Duration::from_micros(100);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::system(format!("cannot open lock file '{}'", path.display()), &e)
            })?;
        loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(Lock { _flock: l }),
                Err((back, nix::errno::Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    f = back;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(Error::operation_failed(format!(
                        "timed out after {}s waiting for the lock '{}' held by another action",
                        LOCK_WAIT.as_secs(),
                        path.display()
                    )));
                }
                Err((_, e)) => {
                    return Err(Error::system(
                        format!("cannot lock '{}'", path.display()),
                        &std::io::Error::from(e),
                    ));
                }
            }
        }
    }

    fn try_lock_file(&self, file: &str) -> Option<Lock> {
        let path = self.paths.run.join("lock").join(file);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ok()?;
        Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .ok()
            .map(|l| Lock { _flock: l })
    }

    /// The lock on the set of guests (define, undefine, create, restore).
    pub fn lock_driver(&self) -> Result<Lock> {
        self.lock_file("driver.lock")
    }

    /// The lock on one guest's lifecycle.
    pub fn lock_domain(&self, name: &str) -> Result<Lock> {
        self.lock_file(&format!("{name}.lock"))
    }

    /// Takes the next domain id (1, 2, ...; ids count from 1 again when the runtime directory is
    /// new, as after a reboot).
    pub fn alloc_id(&self) -> Result<i32> {
        let _l = self.lock_file("next-id.lock")?;
        let path = self.paths.run.join("next-id");
        let id = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|i| *i > 0)
            .unwrap_or(1);
        let next = if id >= i32::MAX - 1 { 1 } else { id + 1 };
        write_atomic(&path, next.to_string().as_bytes(), false)?;
        Ok(id)
    }

    // ---- persistent definitions ----

    /// Names of the persistent domains.
    pub fn config_names(&self) -> Vec<String> {
        names_with_ext(&self.paths.config, "xml")
    }

    /// The persistent definition of `name`, if any.
    pub fn read_config(&self, name: &str) -> Result<Option<DomainDef>> {
        if !storable_name(name) {
            return Ok(None);
        }
        let path = self.config_file(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => DomainDef::parse(&text).map(Some).map_err(|e| {
                Error::internal(format!("corrupt definition '{}': {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::system(
                format!("cannot read '{}'", path.display()),
                &e,
            )),
        }
    }

    /// Writes a persistent definition (inactive form), durably.
    pub fn write_config(&self, def: &DomainDef) -> Result<()> {
        let xml = def.to_xml(
            &FormatOptions::default()
                .with_inactive(true)
                .with_secure(true),
        );
        write_atomic(&self.config_file(&def.name), xml.as_bytes(), true)
    }

    /// Removes a persistent definition and its autostart link.
    pub fn remove_config(&self, name: &str) -> Result<()> {
        remove_quiet(&self.autostart_link(name));
        let path = self.config_file(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::system(
                format!("cannot remove '{}'", path.display()),
                &e,
            )),
        }
    }

    /// Whether `name` starts when the host boots.
    pub fn autostart(&self, name: &str) -> bool {
        self.autostart_link(name).symlink_metadata().is_ok()
    }

    /// Turns autostart on or off.
    pub fn set_autostart(&self, name: &str, on: bool) -> Result<()> {
        let link = self.autostart_link(name);
        if on {
            if link.symlink_metadata().is_ok() {
                return Ok(());
            }
            std::os::unix::fs::symlink(format!("../{name}.xml"), &link).map_err(|e| {
                Error::system(
                    format!("cannot create autostart link '{}'", link.display()),
                    &e,
                )
            })
        } else {
            match std::fs::remove_file(&link) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::system(
                    format!("cannot remove autostart link '{}'", link.display()),
                    &e,
                )),
            }
        }
    }

    /// Names with autostart on.
    pub fn autostart_names(&self) -> Vec<String> {
        names_with_ext(&self.paths.config.join("autostart"), "xml")
    }

    // ---- running guests ----

    /// Names that have a state file (running, or dead and not yet cleaned up).
    pub fn state_names(&self) -> Vec<String> {
        names_with_ext(&self.paths.run, "state")
    }

    /// Reads a state file without checking the process.
    pub fn read_state(&self, name: &str) -> Option<RunState> {
        if !storable_name(name) {
            return None;
        }
        let text = std::fs::read_to_string(self.state_file(name)).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let def = DomainDef::parse(v.get("xml")?.as_str()?).ok()?;
        Some(RunState {
            name: v.get("name")?.as_str()?.to_string(),
            uuid: Uuid::parse_str(v.get("uuid")?.as_str()?).ok()?,
            id: i32::try_from(v.get("id")?.as_i64()?).ok()?,
            pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
            reason: v.get("reason").and_then(Value::as_i64).unwrap_or(1) as i32,
            def,
        })
    }

    /// The domain id a state file records, without parsing the live definition or checking
    /// the process (a cheap filter before [`Store::live`]).
    pub fn state_id(&self, name: &str) -> Option<i32> {
        if !storable_name(name) {
            return None;
        }
        let text = std::fs::read(self.state_file(name)).ok()?;
        let v: Value = serde_json::from_slice(&text).ok()?;
        i32::try_from(v.get("id")?.as_i64()?).ok()
    }

    /// Writes a state file (runtime data: atomic, not fsync'ed).
    pub fn write_state(&self, s: &RunState) -> Result<()> {
        let v = json!({
            "name": s.name,
            "uuid": s.uuid.hyphenated().to_string(),
            "id": s.id,
            "pid": s.pid,
            "reason": s.reason,
            "xml": s.def.to_xml(&FormatOptions::default().with_secure(true)),
        });
        write_atomic(&self.state_file(&s.name), v.to_string().as_bytes(), false)
    }

    /// Whether the process a state file names is still that guest's QEMU.
    pub fn is_running(&self, s: &RunState) -> bool {
        process::is_our_qemu(s.pid, &self.qmp_socket(&s.name).display().to_string())
    }

    /// The running guest called `name`: its state when its QEMU lives. A state file whose QEMU
    /// died is cleaned up (when `held` says the caller holds the guest's lock, or the lock is
    /// free) and `None` is returned: a dead guest is never reported running.
    pub fn live(&self, name: &str, held: Option<&Lock>) -> Option<RunState> {
        let s = self.read_state(name)?;
        if self.is_running(&s) {
            return Some(s);
        }
        let _guard = match held {
            Some(_) => None,
            None => match self.try_lock_domain(name) {
                Some(l) => Some(l),
                // Someone is acting on the guest (starting or stopping it): report it off now and
                // let them tidy up.
                None => return None,
            },
        };
        // Re-read under the lock: the guest may have been restarted meanwhile.
        match self.read_state(name) {
            Some(again) if self.is_running(&again) => Some(again),
            Some(_) => {
                // QEMU removes its pidfile when it exits normally; one left behind means it was killed.
                let reason = if self.pidfile(name).exists() { 3 } else { 1 };
                self.clear_runtime(name, Some(reason));
                None
            }
            None => None,
        }
    }

    fn try_lock_domain(&self, name: &str) -> Option<Lock> {
        self.try_lock_file(&format!("{name}.lock"))
    }

    /// Removes a guest's runtime files and records why it stopped (libvirt's shutoff reason:
    /// 1 shutdown, 2 destroyed, 3 crashed, 5 saved, 6 failed).
    pub fn clear_runtime(&self, name: &str, reason: Option<i32>) {
        remove_quiet(&self.state_file(name));
        remove_quiet(&self.pidfile(name));
        remove_quiet(&self.qmp_socket(name));
        match reason {
            Some(r) => {
                let _ = write_atomic(&self.shutoff_file(name), r.to_string().as_bytes(), false);
            }
            None => remove_quiet(&self.shutoff_file(name)),
        }
    }

    /// Why `name` last stopped (0 when unknown).
    pub fn shutoff_reason(&self, name: &str) -> i32 {
        std::fs::read_to_string(self.shutoff_file(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Forgets the stop reason (the guest is undefined).
    pub fn forget(&self, name: &str) {
        remove_quiet(&self.shutoff_file(name));
    }
}
