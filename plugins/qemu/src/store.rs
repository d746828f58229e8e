//! The driver's state on disk, shared by every process that opens the same URI.
//!
//! ```text
//! config/<name>.xml                 persistent definition (written atomically, fsync'ed)
//! config/autostart/<name>.xml       symlink to ../<name>.xml when autostart is on
//! config/networks/[autostart/]<name>.xml
//! run/<name>.state                  a running guest: JSON {name, uuid, id, pid, reason, xml}
//! run/<name>.pid, run/<name>.qmp    QEMU's pidfile and monitor socket
//! run/<name>.log                    QEMU's stdout and stderr, and the mark QEMU holds while it lives
//! run/<name>.events                 what QEMU's write-only event monitor writes (src/listing.rs)
//! run/.qmp-negotiate                that monitor's input: `qmp_capabilities`
//! run/.emulator-<hash>            an emulator's deprecated machine types, keyed by its file
//! run/<name>.shutoff                why the guest last stopped (libvirt's reason code)
//! run/<name>.owners                 system guests: the disk images given to the guest's user and
//!                                   their owners before (restored when the runtime is cleared)
//! run/lock/<name>.lock              serializes actions on one guest
//! run/lock/.driver.lock             serializes changes to the set of guests (define, create)
//! run/lock/.next-id.lock, run/.next-id   the next domain id
//! run/.autostart.boot               the boot id autostart last ran for
//! ```
//!
//! Readers take no lock: every file is replaced by rename, so a reader sees the old or the new
//! version, never a mix.
//!
//! Object names never start with `.` and files of one object differ from another's by their
//! suffix, so the driver's own files (dotfiles) and the temp files of atomic writes
//! (`.<file>.XXXXXX.tmp`, see [`virtkit_hostio::TempBeside`]) are out of reach of every name.
//! Every file is 0600 and every directory 0700, checked to be owned by this user or root and
//! not writable by others before use.
//!
//! A start is recorded before QEMU exists: the state file is written with `starting` set, QEMU
//! is spawned holding the lock of its log ([`virtkit_hostio::Mark`]), its pid is recorded, and
//! `starting` is cleared when the guest is set up. A process killed at any instant of a start
//! leaves a `starting` state file and, if QEMU exists, a held log: whoever next takes the
//! guest's lock kills that QEMU ([`Store::reap`]) and records the start as failed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{Value, json};
use uuid::Uuid;
use virtkit_driver::{Error, Result, Taint, Taints};
use virtkit_hostio::OpenMode;
use virtkit_xml::{DomainDef, FormatOptions};

use crate::paths::Paths;

/// How long an action waits for another process's action on the same guest.
const LOCK_WAIT: Duration = Duration::from_secs(120);
/// How long the processes of an abandoned start may take to die.
const REAP_WAIT: Duration = Duration::from_secs(10);

/// A held lock file; released when dropped.
pub struct Lock {
    _flock: Flock<File>,
    path: PathBuf,
}

thread_local! {
    /// The lock files this thread holds: a thread that asks whether a lock is free (to tell a
    /// dead starter from a live one) must not mistake its own lock for someone else's.
    static HELD: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Lock {
    fn new(flock: Flock<File>, path: PathBuf) -> Lock {
        HELD.with(|h| h.borrow_mut().push(path.clone()));
        Lock {
            _flock: flock,
            path,
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().position(|p| *p == self.path) {
                h.swap_remove(i);
            }
        });
    }
}

/// Whether this thread holds the lock at `path`.
fn held_here(path: &Path) -> bool {
    HELD.with(|h| h.borrow().iter().any(|p| p == path))
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
    /// The start has not finished: recorded before QEMU exists, cleared once it is set up.
    pub starting: bool,
    /// The live definition (with id, allocated VNC port, pty paths).
    pub def: DomainDef,
    /// The guest's taints and deprecations (virDomainGetMessages), recorded when it started;
    /// they go when it stops, as libvirt's QEMU driver resets them.
    pub taints: Taints,
}

/// The taints and deprecations a state file records (libvirt's taint names; unknown ones, from
/// a newer driver, are skipped).
fn read_taints(v: &Value) -> Taints {
    let mut t = Taints::new();
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    for name in strings("taints") {
        if let Some(taint) = Taint::from_name(&name) {
            t.taint(taint);
        }
    }
    for d in strings("deprecations") {
        t.deprecate(d);
    }
    t
}

/// Mode of every file the driver writes: definitions and state may hold VNC passwords.
pub const FILE_MODE: u32 = 0o600;

/// The largest definition or state file read back (the XML input cap is 10 MiB).
pub const MAX_STATE_BYTES: u64 = 16 << 20;

/// Converts an error of the file layer, keeping the OS error where there is one.
pub fn host_error(e: virtkit_hostio::Error) -> Error {
    match &e {
        virtkit_hostio::Error::Io { source, .. } => {
            let msg = e.to_string();
            let msg = msg
                .strip_suffix(&format!(": {source}"))
                .map(str::to_string)
                .unwrap_or_else(|| msg.clone());
            Error::system(msg, source)
        }
        _ => Error::operation_failed(e.to_string()),
    }
}

/// Writes `data` to `path` through an exclusively created temp file and a rename (only onto a
/// regular file or a new name), mode 0600; with `durable`, the file and its directory are
/// fsync'ed so the change survives a crash.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    match durable {
        true => virtkit_hostio::write_atomic(path, data, FILE_MODE),
        false => virtkit_hostio::write_atomic_unsynced(path, data, FILE_MODE),
    }
    .map_err(host_error)
}

/// Reads a file of the driver's own directories: `Ok(None)` when it does not exist.
pub fn read_own(path: &Path) -> Result<Option<String>> {
    match virtkit_hostio::read_string_capped(path, MAX_STATE_BYTES) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.errno() == Some(nix::libc::ENOENT) => Ok(None),
        Err(e) => Err(host_error(e)),
    }
}

/// The longest name stored as a file (`<name>.state` must fit the 255-byte limit of a file
/// name component).
pub const MAX_NAME_BYTES: usize = 200;

/// Whether `name` can name the files of a domain or network: 1 to [`MAX_NAME_BYTES`] bytes,
/// without `/` (libvirt refuses it), a newline (libvirt refuses it) or NUL, and not starting
/// with `.` (the driver's own files and temp files do; `.` and `..` are directories). Other names
/// cannot exist, so lookups of them find nothing.
pub fn storable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.contains(['/', '\n', '\0'])
        && !name.starts_with('.')
}

/// Refuses a name [`storable_name`] rejects, for definitions (libvirt's XML error).
pub fn check_name(name: &str) -> Result<()> {
    if storable_name(name) {
        return Ok(());
    }
    let shown: String = name.chars().take(40).collect();
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.contains('/') {
        "it contains '/'".to_string()
    } else if name.contains('\n') {
        "it contains a newline".to_string()
    } else if name.contains('\0') {
        "it contains NUL".to_string()
    } else if name.starts_with('.') {
        "it starts with '.'".to_string()
    } else {
        format!("it is longer than {MAX_NAME_BYTES} bytes")
    };
    Err(Error::xml(format!("name '{shown}' cannot be used: {why}")))
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
    /// What the driver remembers of the emulator `bin` across processes (its deprecated
    /// machine types): a dotfile no domain name can reach, one per emulator path.
    pub fn emulator_cache(&self, bin: &str) -> PathBuf {
        // FNV-1a: a stable name per path, whatever characters the path holds.
        let hash = bin.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        self.paths.run.join(format!(".emulator-{hash:016x}"))
    }

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
        let mut f = virtkit_hostio::open_nofollow(&path, OpenMode::Append, FILE_MODE)
            .map_err(host_error)?;
        loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(Lock::new(l, path)),
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
        let f = virtkit_hostio::open_nofollow(&path, OpenMode::Append, FILE_MODE).ok()?;
        Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .ok()
            .map(|l| Lock::new(l, path))
    }

    /// The lock on the set of guests (define, undefine, create, restore) and networks.
    pub fn lock_driver(&self) -> Result<Lock> {
        self.lock_file(".driver.lock")
    }

    /// For a caller that found work a starter abandoned: `Some` when no other process or thread
    /// holds the driver-wide lock — it is taken (`Some(Some)`), or this thread holds it already
    /// (`Some(None)`) — and `None` when another holds it (a start may be in progress).
    pub fn driver_lock_free(&self) -> Option<Option<Lock>> {
        if held_here(&self.paths.run.join("lock/.driver.lock")) {
            return Some(None);
        }
        self.try_lock_file(".driver.lock").map(Some)
    }

    /// The lock on one guest's lifecycle.
    pub fn lock_domain(&self, name: &str) -> Result<Lock> {
        self.lock_file(&format!("{name}.lock"))
    }

    /// Takes the next domain id (1, 2, ...; ids count from 1 again when the runtime directory is
    /// new, as after a reboot).
    pub fn alloc_id(&self) -> Result<i32> {
        let _l = self.lock_file(".next-id.lock")?;
        let path = self.paths.run.join(".next-id");
        let id = read_own(&path)
            .ok()
            .flatten()
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
        match read_own(&path)? {
            Some(text) => DomainDef::parse(&text).map(Some).map_err(|e| {
                Error::internal(format!("corrupt definition '{}': {e}", path.display()))
            }),
            None => Ok(None),
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
        let text = read_own(&self.state_file(name)).ok()??;
        let v: Value = serde_json::from_str(&text).ok()?;
        let def = DomainDef::parse(v.get("xml")?.as_str()?).ok()?;
        Some(RunState {
            name: v.get("name")?.as_str()?.to_string(),
            uuid: Uuid::parse_str(v.get("uuid")?.as_str()?).ok()?,
            id: i32::try_from(v.get("id")?.as_i64()?).ok()?,
            pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
            reason: v.get("reason").and_then(Value::as_i64).unwrap_or(1) as i32,
            starting: v.get("starting").and_then(Value::as_bool).unwrap_or(false),
            def,
            taints: read_taints(&v),
        })
    }

    /// Writes a state file (runtime data: atomic, not fsync'ed).
    pub fn write_state(&self, s: &RunState) -> Result<()> {
        let v = json!({
            "name": s.name,
            "uuid": s.uuid.hyphenated().to_string(),
            "id": s.id,
            "pid": s.pid,
            "reason": s.reason,
            "starting": s.starting,
            "taints": s.taints.taints().map(Taint::name).collect::<Vec<_>>(),
            "deprecations": s.taints.deprecations(),
            "xml": s.def.to_xml(&FormatOptions::default().with_secure(true)),
        });
        write_atomic(&self.state_file(&s.name), v.to_string().as_bytes(), false)
    }

    /// Whether the process a state file names is still that guest's QEMU.
    pub fn is_running(&self, s: &RunState) -> bool {
        virtkit_hostio::process_has_arg(s.pid, self.pidfile(&s.name).as_os_str())
    }

    /// The running guest called `name`: its state when its QEMU lives and its start finished.
    /// A state file whose QEMU died, or whose start was abandoned (the starting process was
    /// killed), is cleaned up — any QEMU of it killed — when `held` says the caller holds the
    /// guest's lock or the lock is free, and `None` is returned: a dead or half-started guest is
    /// never reported running, and never left running unrecorded.
    pub fn live(&self, name: &str, held: Option<&Lock>) -> Option<RunState> {
        let s = self.read_state(name)?;
        if !s.starting && self.is_running(&s) {
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
            Some(again) if !again.starting && self.is_running(&again) => Some(again),
            Some(again) => {
                // QEMU removes its pidfile when it exits normally; one left behind means it was
                // killed. A start nobody finished failed.
                let reason = if again.starting {
                    6
                } else if self.pidfile(name).exists() {
                    3
                } else {
                    1
                };
                // Files stay when a QEMU cannot be stopped, so that the next call tries again.
                if self.reap(name).is_ok() {
                    self.clear_runtime(name, Some(reason));
                }
                None
            }
            None => None,
        }
    }

    /// Kills every process left of an earlier start of `name` (the caller holds the guest's
    /// lock, so no start of it is in progress): the QEMUs with its pidfile argument, while its
    /// log is still held (see [`virtkit_hostio::Mark`]; a process between fork and exec does not
    /// show its arguments yet, so the search repeats until the log is free).
    pub fn reap(&self, name: &str) -> Result<()> {
        let pidfile = self.pidfile(name);
        let log = self.log_file(name);
        let deadline = Instant::now() + REAP_WAIT;
        let mut pause = Duration::from_micros(200);
        loop {
            // Every process of a start holds the log from its fork on (its descriptor table is
            // a copy of its starter's): a free log means nothing of an earlier start lives.
            if !virtkit_hostio::mark_held(&log) {
                return Ok(());
            }
            let pids = virtkit_hostio::processes_with_arg(pidfile.as_os_str());
            for pid in &pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if Instant::now() >= deadline {
                return Err(Error::operation_failed(format!(
                    "a QEMU of an earlier start of domain '{name}' (pids {pids:?}, log '{}') does not stop",
                    log.display()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    fn try_lock_domain(&self, name: &str) -> Option<Lock> {
        self.try_lock_file(&format!("{name}.lock"))
    }

    /// Removes a guest's runtime files and records why it stopped (libvirt's shutoff reason:
    /// 1 shutdown, 2 destroyed, 3 crashed, 5 saved, 6 failed).
    pub fn clear_runtime(&self, name: &str, reason: Option<i32>) {
        // The guest's files go back to their owners once its QEMU is gone.
        self.restore_owners(name, None);
        remove_quiet(&self.state_file(name));
        remove_quiet(&self.pidfile(name));
        remove_quiet(&self.qmp_socket(name));
        remove_quiet(&self.events_file(name));
        match reason {
            Some(r) => {
                let _ = write_atomic(&self.shutoff_file(name), r.to_string().as_bytes(), false);
            }
            None => remove_quiet(&self.shutoff_file(name)),
        }
    }

    /// Why `name` last stopped (0 when unknown).
    pub fn shutoff_reason(&self, name: &str) -> i32 {
        read_own(&self.shutoff_file(name))
            .ok()
            .flatten()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Forgets the stop reason (the guest is undefined).
    pub fn forget(&self, name: &str) {
        remove_quiet(&self.shutoff_file(name));
    }
}
