//! A guest's life: starting it (QEMU spawned, set up through QMP), stopping it, pausing and
//! resuming it, saving it to an image and restoring it, dumping its memory; and the operations
//! that do so (`virDomainCreate`, `virDomainCreateXML`, `virDomainShutdown`, ...). The
//! definitions, lookups and settings are in the parent module.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use virtkit_driver::{
    DomainIdent, DomainRef, DomainState, Error, Result, VK_DOMAIN_START_PAUSED, VK_DUMP_CRASH,
};
use virtkit_xml::{ChardevSource, DomainDef, FormatOptions, GraphicsDef};

use super::{
    active_state, check_taint, fill_macs, map_status, not_running, now_epoch, parse_cpuset,
    parse_def, qmp_error, set_affinity,
};
use crate::QemuConn;
use crate::argv::{self, ArgvContext, QemuCommand};
use crate::emulator;
use crate::guest_user;
use crate::listing;
use crate::process::{self, SpawnError};
use crate::qmp::Qmp;
use crate::store::{FILE_MODE, Lock, RunState, host_error};

/// Time allowed for QEMU to set a guest up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Time allowed for a save, restore or core dump.
const STREAM_TIMEOUT: Duration = Duration::from_secs(600);

/// Magic at the start of a saved image.
const SAVE_MAGIC: &str = "VirtkitQemuSave1\n";

/// The largest definition a save image may hold. Definitions are read under the CLI's 10 MiB
/// cap, and formatting can make them larger (default attributes written out), so the bound is
/// wider; it keeps a crafted header from asking for an allocation of any size.
const MAX_SAVED_XML: usize = 64 << 20;

/// Save images put the migration stream at a multiple of this.
const SAVE_ALIGN: u64 = 4096;

/// What a save image's header says: where the definition is and where the stream starts.
#[derive(Debug, PartialEq, Eq)]
struct SaveHeader {
    /// Where QEMU's migration stream starts.
    offset: u64,
    /// Where the definition starts.
    xml_start: usize,
    /// Its length.
    xml_len: usize,
}

/// Reads the header at the start of a save image (its first 64 bytes suffice): the magic, the
/// stream offset and the definition's length, each line checked against what `save` writes
/// (the offset is the first multiple of 4 KiB past the definition), so that no number from the
/// file is used as a size before it is bounded.
fn parse_save_header(head: &[u8]) -> Option<SaveHeader> {
    let rest = head.strip_prefix(SAVE_MAGIC.as_bytes())?;
    let mut lines = rest.splitn(3, |&b| b == b'\n');
    let mut number = || -> Option<u64> {
        let line = lines.next()?;
        if line.is_empty() || line.len() > 20 || !line.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(line).ok()?.parse().ok()
    };
    let offset = number()?;
    let xml_len = usize::try_from(number()?)
        .ok()
        .filter(|&n| n <= MAX_SAVED_XML)?;
    let xml_start = SAVE_MAGIC.len() + format!("{offset}\n{xml_len}\n").len();
    let end = u64::try_from(xml_start + xml_len).ok()?;
    if offset % SAVE_ALIGN != 0 || offset < end || offset - end >= SAVE_ALIGN {
        return None;
    }
    Some(SaveHeader {
        offset,
        xml_start,
        xml_len,
    })
}

/// Where a save image's migration stream starts, and the definition it holds. Only a regular
/// file is opened, and the header is bounded before anything is allocated for it.
pub(crate) fn read_save_header(path: &Path) -> Result<(u64, DomainDef)> {
    use std::io::Read;
    let (mut f, md) = virtkit_hostio::open_regular(path).map_err(host_error)?;
    let bad = || {
        Error::invalid_arg(format!(
            "'{}' is not a saved QEMU domain image",
            path.display()
        ))
    };
    let mut head = Vec::with_capacity(64);
    (&mut f)
        .take(64)
        .read_to_end(&mut head)
        .map_err(|e| Error::system(format!("cannot read '{}'", path.display()), &e))?;
    let h = parse_save_header(&head).ok_or_else(bad)?;
    if h.offset > md.len() {
        return Err(bad());
    }
    // Only the definition is read; the header bounded its length.
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(h.xml_start as u64))
        .map_err(|e| Error::system("cannot read the image", &e))?;
    let mut buf = Vec::with_capacity(h.xml_len);
    (&mut f)
        .take(h.xml_len as u64)
        .read_to_end(&mut buf)
        .map_err(|e| Error::system(format!("cannot read '{}'", path.display()), &e))?;
    if buf.len() != h.xml_len {
        return Err(bad());
    }
    let xml = std::str::from_utf8(&buf).map_err(|_| bad())?;
    Ok((h.offset, parse_def(xml)?))
}

/// The file a save or a core dump writes for the user: a temp file created exclusively beside
/// the destination, renamed onto it once complete. The destination must be a regular file or a
/// new name, in a directory owned by this user or root and not writable by others (or a
/// root-owned sticky directory such as `/tmp`): a device, FIFO, socket or symbolic link is
/// refused, and a failure leaves the old file as it was.
fn user_output(path: &str) -> Result<virtkit_hostio::TempBeside> {
    let path = absolute(path)?;
    virtkit_hostio::check_destination(&path).map_err(host_error)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    virtkit_hostio::check_destination_dir(dir).map_err(host_error)?;
    let tmp = virtkit_hostio::TempBeside::new(&path, FILE_MODE).map_err(host_error)?;
    // QEMU is given the path in QMP's JSON (a structured migration channel, a dump's
    // `file:PATH`), where any UTF-8 text, commas included, stays one value.
    if tmp.path().to_str().is_none() {
        return Err(Error::invalid_arg(format!(
            "the path '{}' must be UTF-8",
            path.display()
        )));
    }
    Ok(tmp)
}

fn absolute(path: &str) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::system(format!("bad path '{path}'"), &e))
}

/// How a starting guest gets its state.
struct Incoming {
    channels: serde_json::Value,
}

/// The migration channel of a save image: QMP's structured form, so that the path reaches QEMU
/// as one value whatever it holds (the `file:PATH,offset=N` URI form would read a `,offset=` in
/// the path as the option).
fn file_channel(path: &Path, offset: u64) -> serde_json::Value {
    json!([{
        "channel-type": "main",
        "addr": { "transport": "file", "filename": path.display().to_string(), "offset": offset },
    }])
}

/// Waits for an outgoing (`incoming` false) or incoming migration to finish.
fn wait_migration(q: &mut Qmp, name: &str, incoming: bool) -> Result<()> {
    let deadline = Instant::now() + STREAM_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let v = q
            .execute("query-migrate", None)
            .map_err(|e| qmp_error(name, e))?;
        let status = v.get("status").and_then(Value::as_str).unwrap_or("");
        match status {
            "completed" => return Ok(()),
            "failed" | "cancelled" => {
                let why = v
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or(status);
                return Err(Error::operation_failed(format!(
                    "migration of domain '{name}' failed: {why}"
                )));
            }
            _ => {}
        }
        if incoming && q.status().map_err(|e| qmp_error(name, e))? != "inmigrate" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::operation_failed(format!(
                "migration of domain '{name}' timed out"
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn write_log_line(log: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = virtkit_hostio::open_nofollow(log, virtkit_hostio::OpenMode::Append, FILE_MODE)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    writeln!(f, "{line}")
}

/// The error of a failed spawn.
fn spawn_error(name: &str, cmd: &QemuCommand, e: SpawnError) -> Error {
    match e {
        SpawnError::Exec(e) => Error::system(format!("cannot run '{}'", cmd.argv[0]), &e),
        SpawnError::Failed(msg) => {
            Error::operation_failed(format!("QEMU could not start domain '{name}': {msg}"))
        }
        SpawnError::Timeout => Error::operation_failed(format!(
            "QEMU did not set domain '{name}' up within {}s",
            START_TIMEOUT.as_secs()
        )),
    }
}

pub(crate) fn create_xml(c: &QemuConn, xml: &str, flags: u32) -> Result<DomainIdent> {
    let mut def = parse_def(xml)?;
    def.forget_live_state();
    fill_macs(&mut def);
    let _driver = c.store.lock_driver()?;
    let lock = c.store.lock_domain(&def.name)?;
    if c.check_clash(&def)?.is_some_and(|e| e.active()) {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already active",
            def.name
        )));
    }
    let s = c.start_guest(def, &lock, flags & VK_DOMAIN_START_PAUSED != 0, None)?;
    Ok(DomainIdent {
        id: s.id,
        uuid: s.uuid,
        name: s.name,
    })
}

pub(crate) fn start(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    c.with_domain(r, |lock, e| {
        if e.active() {
            return Err(Error::operation_invalid(format!(
                "domain '{}' is already running",
                e.name
            )));
        }
        let def = e.config.ok_or_else(|| not_running(&e.name))?;
        c.start_guest(def, lock, false, None).map(|_| ())
    })
}

pub(crate) fn shutdown(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    c.with_domain(r, |_, e| {
        active_state(&e)?;
        c.qmp(&e.name)?
            .execute("system_powerdown", None)
            .map_err(|err| qmp_error(&e.name, err))?;
        Ok(())
    })
}

pub(crate) fn reboot(c: &QemuConn, r: &DomainRef<'_>, _flags: u32) -> Result<()> {
    c.with_domain(r, |_, e| {
        active_state(&e)?;
        c.qmp(&e.name)?
            .execute("system_reset", None)
            .map_err(|err| qmp_error(&e.name, err))?;
        Ok(())
    })
}

pub(crate) fn destroy(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    c.with_domain(r, |_, e| {
        let s = active_state(&e)?;
        c.stop_guest(s, 2);
        if !c.store.is_running(s) {
            return Ok(());
        }
        Err(Error::operation_failed(format!(
            "QEMU of domain '{}' (pid {}) did not stop",
            e.name, s.pid
        )))
    })
}

pub(crate) fn suspend(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    c.with_domain(r, |_, e| {
        active_state(&e)?;
        let mut q = c.qmp(&e.name)?;
        if q.status().map_err(|err| qmp_error(&e.name, err))? != "running" {
            return Err(not_running(&e.name));
        }
        q.execute("stop", None)
            .map_err(|err| qmp_error(&e.name, err))?;
        Ok(())
    })
}

pub(crate) fn resume(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    c.with_domain(r, |_, e| {
        let s = active_state(&e)?;
        let mut q = c.qmp(&e.name)?;
        let st = q.status().map_err(|err| qmp_error(&e.name, err))?;
        if map_status(&st, 1).0 != DomainState::Paused {
            return Err(Error::operation_invalid(format!(
                "domain '{}' is not paused",
                e.name
            )));
        }
        q.execute("cont", None)
            .map_err(|err| qmp_error(&e.name, err))?;
        let mut s = s.clone();
        s.reason = 5;
        c.store.write_state(&s)
    })
}

pub(crate) fn save(c: &QemuConn, r: &DomainRef<'_>, path: &str) -> Result<()> {
    use std::io::Write;
    let mut out = user_output(path)?;
    c.with_domain(r, |_, e| {
        let s = active_state(&e)?;
        let xml = s.def.to_xml(
            &FormatOptions::default()
                .with_inactive(true)
                .with_secure(true),
        );
        // Header, definition, zero padding to a 4 KiB boundary, then QEMU's migration stream.
        let mut offset = 4096u64;
        while (SAVE_MAGIC.len() + format!("{offset}\n{}\n", xml.len()).len() + xml.len()) as u64
            > offset
        {
            offset += 4096;
        }
        let mut head = format!("{SAVE_MAGIC}{offset}\n{}\n{xml}", xml.len()).into_bytes();
        head.resize(offset as usize, 0);
        out.file()
            .write_all(&head)
            .map_err(|err| Error::system(format!("cannot write '{path}'"), &err))?;
        let result = (|| {
            let mut q = c.qmp(&e.name)?;
            if q.status().map_err(|err| qmp_error(&e.name, err))? == "running" {
                q.execute("stop", None)
                    .map_err(|err| qmp_error(&e.name, err))?;
            }
            q.execute(
                "migrate",
                Some(json!({ "channels": file_channel(out.path(), offset) })),
            )
            .map_err(|err| qmp_error(&e.name, err))?;
            wait_migration(&mut q, &e.name, false)?;
            out.commit(true).map_err(host_error)
        })();
        if let Err(err) = result {
            if let Ok(mut q) = c.qmp(&e.name) {
                let _ = q.execute("cont", None);
            }
            return Err(err);
        }
        c.stop_guest(s, 5);
        Ok(())
    })
}

pub(crate) fn restore(c: &QemuConn, path: &str) -> Result<()> {
    let path = absolute(path)?;
    let (offset, def) = read_save_header(&path)?;
    let _driver = c.store.lock_driver()?;
    let lock = c.store.lock_domain(&def.name)?;
    if c.check_clash(&def)?.is_some_and(|e| e.active()) {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already active",
            def.name
        )));
    }
    let channels = file_channel(&path, offset);
    c.start_guest(def, &lock, false, Some(Incoming { channels }))
        .map(|_| ())
}

pub(crate) fn core_dump(c: &QemuConn, r: &DomainRef<'_>, path: &str, flags: u32) -> Result<()> {
    let out = user_output(path)?;
    c.with_domain(r, |_, e| {
        let s = active_state(&e)?;
        let mut q = c.qmp(&e.name)?;
        q.set_timeout(STREAM_TIMEOUT)
            .map_err(|err| qmp_error(&e.name, err))?;
        q.execute(
            "dump-guest-memory",
            Some(json!({ "paging": false, "protocol": format!("file:{}", out.path().display()) })),
        )
        .map_err(|err| qmp_error(&e.name, err))?;
        out.commit(true).map_err(host_error)?;
        if flags & VK_DUMP_CRASH != 0 {
            c.stop_guest(s, 3);
        }
        Ok(())
    })
}

impl QemuConn {
    /// Starts `def` as a running guest (the caller holds the guest's lock).
    fn start_guest(
        &self,
        mut def: DomainDef,
        held: &Lock,
        paused: bool,
        incoming: Option<Incoming>,
    ) -> Result<RunState> {
        let name = def.name.clone();
        if self.store.live(&name, Some(held)).is_some() {
            return Err(Error::operation_invalid(format!(
                "domain '{name}' is already running"
            )));
        }
        self.check_host_network(&def)?;
        emulator::check_domain_type(&def)?;
        crate::qemu10::check_host(&def)?;
        let emulator = emulator::emulator_for(&def)?;
        let guest_user = guest_user::load(&self.store.paths, self.privileged)?;
        let sock = self.store.qmp_socket(&name);
        if sock.as_os_str().len() > 107 {
            return Err(Error::operation_failed(format!(
                "the monitor socket path '{}' is longer than the 107 bytes a unix socket allows; use a shorter root directory or domain name",
                sock.display()
            )));
        }
        // Whatever an earlier start of this guest left (its starter killed midway) goes first:
        // never two QEMUs for one guest.
        self.store.reap(&name)?;
        let log = self.store.log_file(&name);
        let mark = virtkit_hostio::Mark::take(&log, FILE_MODE)
            .map_err(host_error)?
            .ok_or_else(|| {
                Error::operation_failed(format!(
                    "the log '{}' of domain '{name}' is held by another process",
                    log.display()
                ))
            })?;
        if mark.file().metadata().is_ok_and(|m| m.len() > 1 << 20) {
            let _ = mark.file().set_len(0);
        }
        self.store.clear_runtime(&name, None);
        let id = self.store.alloc_id()?;
        // Facts unknown (a probe failed) count as "nothing deprecated, -sandbox taken": a QEMU
        // that then refuses `-sandbox` says so in the start's error.
        let facts = emulator::facts_cached(&emulator, &self.store.emulator_cache(&emulator))
            .unwrap_or_else(|_| emulator::EmulatorFacts {
                deprecated: Vec::new(),
                sandbox: true,
            });
        let ctx = ArgvContext {
            emulator,
            qmp_socket: Some(sock.clone()),
            pidfile: Some(self.store.pidfile(&name)),
            daemonize: false,
            incoming: incoming.is_some(),
            network_bridges: self.network_bridges(),
            privileged: self.privileged,
            now_epoch: Some(now_epoch()),
        };
        let mut cmd = argv::build_command(&def, &ctx)?;
        if let Some(u) = &guest_user {
            cmd.argv.extend(guest_user::qemu_args(u, facts.sandbox));
            if u.sandbox && !facts.sandbox {
                // As libvirt does with its default setting: no filter where QEMU has none, and
                // the guest's log says so.
                use std::io::Write;
                let _ = writeln!(
                    mark.file(),
                    "virtkit: {} was built without seccomp (-sandbox): domain '{name}' runs without QEMU's sandbox",
                    cmd.argv.first().map_or("QEMU", String::as_str)
                );
            }
        }
        cmd.argv
            .extend(listing::event_monitor_args(&self.store, &name)?);
        def.id = Some(id);
        let taints = check_taint(&def, self.privileged, &facts.deprecated);
        let mut state = RunState {
            name: name.clone(),
            uuid: def.uuid,
            id,
            pid: 0,
            reason: if incoming.is_some() { 3 } else { 1 },
            starting: true,
            def,
            taints,
        };
        // The start is recorded before QEMU exists, and QEMU holds its log from the instant it
        // exists: a caller killed at any point leaves what the next call needs to clean up.
        self.store.write_state(&state)?;
        let failed = |e: Error| {
            self.store.clear_runtime(&name, Some(6));
            e
        };
        if let Some(u) = &guest_user
            && let Err(e) = self
                .store
                .give_files(&name, u, &guest_user::disk_files(&state.def))
        {
            return Err(failed(e));
        }
        let (mut child, start_len) = match process::spawn(&cmd, &mark) {
            Ok(c) => c,
            Err(e) => return Err(failed(spawn_error(&name, &cmd, e))),
        };
        drop(mark);
        state.pid = child.pid();
        let result = self.store.write_state(&state).and_then(|()| {
            process::wait_monitor(&mut child, &log, start_len, &sock, START_TIMEOUT)
                .map_err(|e| spawn_error(&name, &cmd, e))
        });
        let result = result.and_then(|q| self.finish_start(&mut state, q, &cmd, paused, incoming));
        let result = result.and_then(|()| {
            state.starting = false;
            self.store.write_state(&state)
        });
        match result {
            Ok(()) => {
                child.started();
                Ok(state)
            }
            Err(e) => {
                drop(child);
                Err(failed(e))
            }
        }
    }

    /// What a start does once QEMU answers on QMP (`q`, past negotiation).
    fn finish_start(
        &self,
        state: &mut RunState,
        mut q: Qmp,
        cmd: &QemuCommand,
        paused: bool,
        incoming: Option<Incoming>,
    ) -> Result<()> {
        let name = state.name.clone();
        if let Some(inc) = incoming {
            q.execute(
                "migrate-incoming",
                Some(json!({ "channels": inc.channels })),
            )
            .map_err(|e| qmp_error(&name, e))?;
            wait_migration(&mut q, &name, true)?;
        }
        for (tap, bridge) in &cmd.taps {
            crate::network::run_ip(&["link", "set", tap, "master", bridge, "up"])?;
        }
        let def = &mut state.def;
        // Facts known only once QEMU runs: the VNC port it picked, the ptys it opened.
        if def
            .devices
            .graphics
            .iter()
            .any(|g| matches!(g, GraphicsDef::Vnc(v) if v.autoport || v.port.is_none()))
        {
            let v = q
                .execute("query-vnc", None)
                .map_err(|e| qmp_error(&name, e))?;
            let port = v
                .get("service")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u16>().ok());
            for g in &mut def.devices.graphics {
                match g {
                    GraphicsDef::Vnc(vnc) if vnc.autoport || vnc.port.is_none() => {
                        vnc.port = port;
                        vnc.autoport = true;
                    }
                    _ => {}
                }
            }
        }
        let wants_pty = |s: &ChardevSource| matches!(s, ChardevSource::Pty { .. });
        let d = &def.devices;
        if d.serials
            .iter()
            .chain(&d.parallels)
            .chain(&d.consoles)
            .any(|c| wants_pty(&c.source))
        {
            let list = q
                .execute("query-chardev", None)
                .map_err(|e| qmp_error(&name, e))?;
            let pty_of = |label: &str| -> Option<String> {
                list.as_array()?
                    .iter()
                    .find(|c| c.get("label").and_then(Value::as_str) == Some(label))?
                    .get("filename")?
                    .as_str()?
                    .strip_prefix("pty:")
                    .map(str::to_string)
            };
            let serial_count = def.devices.serials.len();
            for (i, s) in def.devices.serials.iter_mut().enumerate() {
                if let ChardevSource::Pty { path } = &mut s.source {
                    *path = pty_of(&format!("charserial{i}"));
                }
            }
            for (i, p) in def.devices.parallels.iter_mut().enumerate() {
                if let ChardevSource::Pty { path } = &mut p.source {
                    *path = pty_of(&format!("charparallel{i}"));
                }
            }
            let mut virtio = 0;
            for c in def.devices.consoles.iter_mut() {
                let label = if c.target_type.as_deref() == Some("virtio") {
                    virtio += 1;
                    format!("charconsole{}", virtio - 1)
                } else {
                    // A serial console is serial port 0 (created by the console when there
                    // was no <serial>).
                    let _ = serial_count;
                    "charserial0".to_string()
                };
                if let ChardevSource::Pty { path } = &mut c.source {
                    *path = pty_of(&label);
                }
            }
        }
        let passwords = def.devices.graphics.iter().filter_map(|g| match g {
            GraphicsDef::Vnc(v) => v.passwd.as_ref(),
            _ => None,
        });
        for pw in passwords {
            q.execute(
                "set_password",
                Some(json!({ "protocol": "vnc", "password": pw })),
            )
            .map_err(|e| qmp_error(&name, e))?;
        }
        if argv::has_balloon(def)
            && def.current_memory_kib < def.memory_kib
            && def.current_memory_kib > 0
        {
            q.execute(
                "balloon",
                Some(json!({ "value": def.current_memory_kib * 1024 })),
            )
            .map_err(|e| qmp_error(&name, e))?;
        }
        if let Some(cpuset) = &def.cpuset {
            let cpus = parse_cpuset(cpuset)?;
            for tid in process::threads(state.pid) {
                set_affinity(tid, &cpus)?;
            }
        }
        if !paused {
            q.execute("cont", None).map_err(|e| qmp_error(&name, e))?;
        }
        Ok(())
    }

    /// Stops a guest's QEMU: `quit`, then SIGTERM and SIGKILL if it hangs.
    fn kill_guest(&self, s: &RunState) {
        if !self.store.is_running(s) {
            return;
        }
        if let Ok(mut q) = Qmp::connect(&self.store.qmp_socket(&s.name), Duration::from_secs(2)) {
            let _ = q.execute("quit", None);
        }
        if !process::wait_gone(s.pid, Duration::from_secs(3)) {
            process::terminate(s.pid, Duration::from_secs(3));
        }
    }

    /// Stops an active guest and records why.
    fn stop_guest(&self, s: &RunState, reason: i32) {
        self.kill_guest(s);
        // Anything else of the guest that lives (an interface script's child holding its log)
        // goes too; the files stay when something cannot be stopped, for the next call.
        if self.store.reap(&s.name).is_ok() {
            self.store.clear_runtime(&s.name, Some(reason));
        }
    }

    /// Starts the autostart domains (once per host boot and runtime directory).
    pub(crate) fn autostart_domains(&self) {
        for name in self.store.autostart_names() {
            let Ok(Some(def)) = self.store.read_config(&name) else {
                continue;
            };
            let Ok(lock) = self.store.lock_domain(&name) else {
                continue;
            };
            if self.store.live(&name, Some(&lock)).is_some() {
                continue;
            }
            if let Err(e) = self.start_guest(def, &lock, false, None) {
                let _ = write_log_line(
                    &self.store.log_file(&name),
                    &format!("autostart failed: {e}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use virtkit_driver::ErrorCode;

    use super::*;

    /// libvirt's QEMU taint rules on definitions virtkit can run (the shell-scripts one cannot
    /// be started in a sandbox: an interface script needs a host tap).
    #[test]
    fn save_headers_are_bounded_before_use() {
        let good = format!("{SAVE_MAGIC}4096\n100\n");
        assert_eq!(
            parse_save_header(good.as_bytes()),
            Some(SaveHeader {
                offset: 4096,
                xml_start: good.len(),
                xml_len: 100
            })
        );
        for (offset, len) in [
            // Offsets past what the definition needs: allocated as is before.
            ("18446744073709551615", "100"),
            ("1099511627776", "100"),
            ("8192", "100"),
            // Not aligned, or before the end of the definition.
            ("4097", "100"),
            ("4096", "5000"),
            // Lengths beyond any definition, numbers that are not numbers.
            ("4096", "18446744073709551615"),
            ("68719476736", "68719476000"),
            ("99999999999999999999999", "1"),
            ("-4096", "1"),
            ("+4096", "1"),
            ("", "1"),
        ] {
            let head = format!("{SAVE_MAGIC}{offset}\n{len}\n");
            assert_eq!(parse_save_header(head.as_bytes()), None, "{offset} {len}");
        }
        assert_eq!(parse_save_header(b"VirtkitQemuSave1"), None);
        assert_eq!(parse_save_header(b""), None);
    }

    #[test]
    fn a_crafted_save_image_is_refused_without_allocating_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crafted.img");
        for head in [
            format!("{SAVE_MAGIC}1099511627776\n10\n<domain/>\n"),
            format!("{SAVE_MAGIC}18446744073709551615\n10\n<domain/>\n"),
            format!("{SAVE_MAGIC}4096\n3000\n<domain/>\n"),
        ] {
            std::fs::write(&path, &head).unwrap();
            let e = read_save_header(&path).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{head:?}: {e}");
            assert!(
                e.message.contains("is not a saved QEMU domain image"),
                "{e}"
            );
        }
    }
}
