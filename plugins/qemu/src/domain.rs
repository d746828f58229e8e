//! Domain operations, with libvirt's state rules, on the shared on-disk state.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use serde_json::{Value, json};
use uuid::Uuid;
use virtkit_driver::{
    Affect, DomainIdent, DomainInfo, DomainRef, DomainState, Error, ErrorCode, Result, Taint,
    Taints, VK_DOMAIN_AFFECT_CONFIG, VK_DOMAIN_AFFECT_LIVE, VK_DOMAIN_MEM_MAXIMUM,
    VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING, VK_DOMAIN_START_PAUSED,
    VK_DOMAIN_XML_INACTIVE, VK_DOMAIN_XML_SECURE, VK_DUMP_CRASH, VcpuInfo, VcpuState, check_flags,
};
use virtkit_xml::{
    ChardevSource, Device, DiskDevice, DiskType, DomainDef, FormatOptions, GraphicsDef,
    MAX_CPUSET_CPUS, MacAddr,
};

use crate::QemuConn;
use crate::argv::{self, ArgvContext, QemuCommand};
use crate::emulator;
use crate::host;
use crate::process::{self, SpawnError};
use crate::qmp::{DEFAULT_TIMEOUT, Qmp, QmpError};
use crate::store::{FILE_MODE, Lock, RunState, host_error};

/// The largest guest QEMU's `pc` machine takes.
const MAX_VCPUS: i32 = 255;
/// Time allowed for QEMU to set a guest up.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for a save, restore or core dump.
const STREAM_TIMEOUT: Duration = Duration::from_secs(600);
/// Magic at the start of a saved image.
const SAVE_MAGIC: &str = "VirtkitQemuSave1\n";

/// A domain as the files describe it.
pub(crate) struct Entry {
    pub name: String,
    /// The persistent definition, when the domain is persistent.
    pub config: Option<DomainDef>,
    /// The running guest, when active.
    pub live: Option<RunState>,
}

impl Entry {
    pub fn uuid(&self) -> Uuid {
        self.live
            .as_ref()
            .map(|l| l.uuid)
            .or(self.config.as_ref().map(|c| c.uuid))
            .unwrap_or_default()
    }
    pub fn active(&self) -> bool {
        self.live.is_some()
    }
    pub fn id(&self) -> i32 {
        self.live.as_ref().map(|l| l.id).unwrap_or(-1)
    }
    /// The definition in force: the live one while running.
    pub fn def(&self) -> &DomainDef {
        match (&self.live, &self.config) {
            (Some(l), _) => &l.def,
            (None, Some(c)) => c,
            (None, None) => unreachable!("an entry has a definition or a live state"),
        }
    }
    pub fn dom_ref(&self) -> DomainRef<'_> {
        DomainRef {
            id: self.id(),
            uuid: self.uuid(),
            name: &self.name,
        }
    }
}

fn not_running(name: &str) -> Error {
    Error::operation_invalid(format!("domain '{name}' is not running"))
}

fn qmp_error(name: &str, e: QmpError) -> Error {
    match e {
        QmpError::Command { .. } => Error::operation_failed(format!("domain '{name}': {e}")),
        other => Error::operation_failed(format!(
            "cannot talk to the QEMU monitor of domain '{name}': {other}"
        )),
    }
}

fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parses and checks a definition for this driver.
pub(crate) fn parse_def(xml: &str) -> Result<DomainDef> {
    let def = DomainDef::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))?;
    crate::store::check_name(&def.name)?;
    if !matches!(def.domain_type.as_str(), "qemu" | "kqemu" | "kvm") {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: domain type '{}' is not served by the QEMU driver (use qemu, kqemu or kvm)",
                def.domain_type
            ),
        ));
    }
    if def.vcpus > MAX_VCPUS.unsigned_abs() {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: {} vCPUs is more than the maximum {MAX_VCPUS} of this driver",
                def.vcpus
            ),
        ));
    }
    if !def.is_hvm() {
        return Err(Error::new(
            ErrorCode::OsType,
            format!(
                "unsupported OS type: '{}' (QEMU guests are 'hvm'{})",
                def.os.os_type,
                if def.os.os_type == "xen" {
                    "; Xen guests ran under xenner, which QEMU 10 does not have"
                } else {
                    ""
                }
            ),
        ));
    }
    argv::check_definable(&def)?;
    Ok(def)
}

/// Gives every interface without a MAC one in QEMU's range `52:54:00`, as libvirt does.
fn fill_macs(def: &mut DomainDef) {
    for n in &mut def.devices.interfaces {
        if n.mac.is_none() {
            let r = Uuid::new_v4();
            let b = r.as_bytes();
            n.mac = Some(MacAddr([0x52, 0x54, 0x00, b[0], b[1], b[2]]));
        }
    }
}

/// Parses libvirt's cpuset syntax (`1-4,^3,6`) into CPU numbers, in increasing order. CPUs are
/// numbered below [`MAX_CPUSET_CPUS`] (libvirt's bound); the set is a bitmap of that many CPUs,
/// so any list costs time linear in its length and a bounded allocation.
pub(crate) fn parse_cpuset(s: &str) -> Result<Vec<u32>> {
    let invalid = || Error::invalid_arg(format!("invalid cpuset '{s}'"));
    let cpu = |t: &str| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|&c| c < MAX_CPUSET_CPUS)
    };
    // Each range adds one at its start and takes one away past its end; a running sum over the
    // CPUs then says how many ranges cover each, in one pass whatever the ranges' widths.
    let n = MAX_CPUSET_CPUS as usize;
    let mut on = vec![0i64; n + 1];
    let mut off = vec![0i64; n + 1];
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (marks, body) = match part.strip_prefix('^') {
            Some(b) => (&mut off, b),
            None => (&mut on, part),
        };
        let (a, b) = match body.split_once('-') {
            Some((a, b)) => (cpu(a).ok_or_else(invalid)?, cpu(b).ok_or_else(invalid)?),
            None => {
                let c = cpu(body).ok_or_else(invalid)?;
                (c, c)
            }
        };
        if a > b {
            return Err(invalid());
        }
        marks[a as usize] += 1;
        marks[b as usize + 1] -= 1;
    }
    let (mut in_on, mut in_off) = (0i64, 0i64);
    let mut cpus = Vec::new();
    for c in 0..n {
        in_on += on[c];
        in_off += off[c];
        if in_on > 0 && in_off == 0 {
            cpus.push(c as u32);
        }
    }
    Ok(cpus)
}

fn set_affinity(tid: i32, cpus: &[u32]) -> Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c as usize)
            .map_err(|e| Error::invalid_arg(format!("CPU {c}: {e}")))?;
    }
    sched_setaffinity(Pid::from_raw(tid), &set).map_err(|e| {
        Error::system(
            format!("cannot set the CPU affinity of thread {tid}"),
            &std::io::Error::from(e),
        )
    })
}

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

/// libvirt's state (and reason) for a QEMU run state.
fn map_status(status: &str, running_reason: i32) -> (DomainState, i32) {
    match status {
        "running" => (DomainState::Running, running_reason),
        "paused" => (DomainState::Paused, 1),
        "inmigrate" | "postmigrate" | "finish-migrate" => (DomainState::Paused, 2),
        "save-vm" => (DomainState::Paused, 3),
        "io-error" => (DomainState::Paused, 5),
        "watchdog" => (DomainState::Paused, 6),
        "shutdown" => (DomainState::Shutdown, 1),
        "guest-panicked" => (DomainState::Crashed, 1),
        "internal-error" => (DomainState::Paused, 0),
        _ => (DomainState::Paused, 0),
    }
}

impl QemuConn {
    // ---- finding domains ----

    pub(crate) fn entry(&self, name: &str, held: Option<&Lock>) -> Result<Option<Entry>> {
        let live = self.store.live(name, held);
        let config = self.store.read_config(name)?;
        if live.is_none() && config.is_none() {
            return Ok(None);
        }
        Ok(Some(Entry {
            name: name.to_string(),
            config,
            live,
        }))
    }

    /// Every domain name with a definition or a running guest.
    pub(crate) fn all_names(&self) -> Vec<String> {
        let mut names = self.store.config_names();
        for n in self.store.state_names() {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.sort();
        names
    }

    fn find_uuid(&self, uuid: &Uuid) -> Result<Option<Entry>> {
        for n in self.all_names() {
            match self.entry(&n, None)? {
                Some(e) if e.uuid() == *uuid => return Ok(Some(e)),
                _ => {}
            }
        }
        Ok(None)
    }

    /// The domain a call names: by name when its UUID matches, else by UUID.
    fn find(&self, r: &DomainRef<'_>) -> Result<Entry> {
        match self.entry(r.name, None)? {
            Some(e) if e.uuid() == r.uuid => return Ok(e),
            _ => {}
        }
        self.find_uuid(&r.uuid)?.ok_or_else(|| {
            Error::no_domain(format!(
                "no domain with matching uuid '{}' ({})",
                r.uuid, r.name
            ))
        })
    }

    /// Runs `f` on the domain `r` names, holding its lock.
    fn with_domain<T>(
        &self,
        r: &DomainRef<'_>,
        f: impl FnOnce(&Lock, Entry) -> Result<T>,
    ) -> Result<T> {
        let name = self.find(r)?.name;
        let lock = self.store.lock_domain(&name)?;
        let e = self
            .entry(&name, Some(&lock))?
            .filter(|e| e.uuid() == r.uuid)
            .ok_or_else(|| {
                Error::no_domain(format!(
                    "no domain with matching uuid '{}' ({})",
                    r.uuid, r.name
                ))
            })?;
        f(&lock, e)
    }

    /// Refuses a definition whose name or UUID belongs to another domain; returns the domain of
    /// the same name and UUID, if any.
    fn check_clash(&self, def: &DomainDef) -> Result<Option<Entry>> {
        if let Some(e) = self.entry(&def.name, None)? {
            if e.uuid() != def.uuid {
                return Err(Error::dom_exist(format!(
                    "domain '{}' already exists with uuid {}",
                    def.name,
                    e.uuid()
                )));
            }
            return Ok(Some(e));
        }
        if let Some(e) = self.find_uuid(&def.uuid)? {
            return Err(Error::dom_exist(format!(
                "domain '{}' is already defined with uuid {}",
                e.name, def.uuid
            )));
        }
        Ok(None)
    }

    fn qmp(&self, name: &str) -> Result<Qmp> {
        Qmp::connect(&self.store.qmp_socket(name), DEFAULT_TIMEOUT).map_err(|e| qmp_error(name, e))
    }

    // ---- starting and stopping guests ----

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
        let deprecated = emulator::deprecated_machines(&emulator).unwrap_or_default();
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
        let cmd = argv::build_command(&def, &ctx)?;
        def.id = Some(id);
        let taints = check_taint(&def, self.privileged, &deprecated);
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

/// libvirt 9.0's QEMU taint rules (`qemuDomainObjCheckTaint`) for what virtkit's guests can
/// have: QEMU running as root (virtkit runs it as the user that starts it), a machine type the
/// emulator marks deprecated (`deprecated`, with libvirt's deprecation message), a `<script>` on
/// an interface, a block CD-ROM whose source is a host CD-ROM drive. (The rest need
/// `qemu:commandline`, a `<cpu>`, a device tree blob, `rawio`, hook scripts or monitor
/// passthrough, none of which virtkit has.)
pub(crate) fn check_taint(def: &DomainDef, privileged: bool, deprecated: &[String]) -> Taints {
    let mut t = Taints::new();
    if privileged {
        t.taint(Taint::HighPrivileges);
    }
    if let Some(m) = def
        .os
        .machine
        .as_deref()
        .filter(|m| deprecated.iter().any(|d| d == m))
    {
        t.taint(Taint::DeprecatedConfig);
        t.deprecate(format!("machine type '{m}'"));
    }
    for disk in &def.devices.disks {
        if disk.device == DiskDevice::Cdrom
            && disk.disk_type == DiskType::Block
            && disk
                .source
                .as_deref()
                .is_some_and(|s| !s.is_empty() && host::is_cdrom_drive(Path::new(s)))
        {
            t.taint(Taint::CdromPassthrough);
        }
    }
    if def.devices.interfaces.iter().any(|n| n.script.is_some()) {
        t.taint(Taint::ShellScripts);
    }
    t
}

/// virDomainGetMessages: a running guest's taints and deprecations (none once it stopped).
pub(crate) fn get_messages(
    c: &QemuConn,
    r: &DomainRef<'_>,
    flags: u32,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    const FUNCTION: &str = "qemuDomainGetMessages";
    check_flags(
        flags,
        VK_DOMAIN_MESSAGE_DEPRECATION | VK_DOMAIN_MESSAGE_TAINTING,
        FUNCTION,
    )?;
    let none = Taints::new();
    let e = c.find(r)?;
    let taints = e.live.as_ref().map_or(&none, |s| &s.taints);
    taints
        .messages(flags, FUNCTION)?
        .iter()
        .for_each(|m| out(m));
    Ok(())
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

// ---- the operations ----

pub(crate) fn get_max_vcpus(_: &QemuConn, ty: &str) -> Result<i32> {
    match ty {
        "" | "qemu" | "kqemu" | "kvm" => Ok(MAX_VCPUS),
        other => Err(Error::invalid_arg(format!("unknown domain type '{other}'"))),
    }
}

/// Ids of the running guests, in increasing order.
pub(crate) fn active_ids(c: &QemuConn) -> Vec<i32> {
    let mut ids: Vec<i32> = c
        .store
        .state_names()
        .iter()
        .filter_map(|n| c.store.live(n, None))
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

pub(crate) fn list_domains(c: &QemuConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    active_ids(c).into_iter().for_each(out);
    Ok(())
}

pub(crate) fn num_of_domains(c: &QemuConn) -> Result<i32> {
    Ok(active_ids(c).len() as i32)
}

/// Names of the guests that are defined and not running.
fn defined_names(c: &QemuConn) -> Vec<String> {
    c.store
        .config_names()
        .into_iter()
        .filter(|n| c.store.live(n, None).is_none())
        .collect()
}

pub(crate) fn list_defined_domains(c: &QemuConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    defined_names(c).iter().for_each(|n| out(n));
    Ok(())
}

pub(crate) fn num_of_defined_domains(c: &QemuConn) -> Result<i32> {
    Ok(defined_names(c).len() as i32)
}

/// The running guest with id `id`.
pub(crate) fn find_id(c: &QemuConn, id: i32) -> Result<DomainIdent> {
    // Only the state file that records `id` is parsed in full and checked for a live QEMU.
    for n in c.store.state_names() {
        if c.store.state_id(&n) != Some(id) {
            continue;
        }
        if let Some(s) = c.store.live(&n, None).filter(|s| s.id == id) {
            return Ok(DomainIdent {
                id,
                uuid: s.uuid,
                name: s.name,
            });
        }
    }
    Err(Error::no_domain(format!("no domain with matching id {id}")))
}

pub(crate) fn lookup_by_id(
    c: &QemuConn,
    id: i32,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    out((&find_id(c, id)?).into());
    Ok(())
}

pub(crate) fn lookup_by_uuid(
    c: &QemuConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let e = c
        .find_uuid(uuid)?
        .ok_or_else(|| Error::no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    out(e.dom_ref());
    Ok(())
}

pub(crate) fn lookup_by_name(
    c: &QemuConn,
    name: &str,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let e = c
        .entry(name, None)?
        .ok_or_else(|| Error::no_domain(format!("no domain with matching name '{name}'")))?;
    out(e.dom_ref());
    Ok(())
}

pub(crate) fn define_xml(c: &QemuConn, xml: &str) -> Result<DomainIdent> {
    let mut def = parse_def(xml)?;
    def.forget_live_state();
    let _driver = c.store.lock_driver()?;
    let _dom = c.store.lock_domain(&def.name)?;
    let existing = c.check_clash(&def)?;
    // MACs are chosen once, here, so that they stay the same across starts (as libvirt does).
    fill_macs(&mut def);
    c.store.write_config(&def)?;
    let id = existing.map(|e| e.id()).unwrap_or(-1);
    Ok(DomainIdent {
        id,
        uuid: def.uuid,
        name: def.name,
    })
}

pub(crate) fn undefine(c: &QemuConn, r: &DomainRef<'_>) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.find(r)?;
    let _dom = c.store.lock_domain(&e.name)?;
    if e.config.is_none() {
        return Err(Error::operation_invalid(format!(
            "cannot undefine transient domain '{}'",
            e.name
        )));
    }
    c.store.remove_config(&e.name)?;
    if !e.active() {
        c.store.forget(&e.name);
    }
    Ok(())
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

fn active_state(e: &Entry) -> Result<&RunState> {
    e.live.as_ref().ok_or_else(|| not_running(&e.name))
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

/// Live facts from QEMU in one QMP round trip: state and reason, and with `sizes` also the
/// balloon size (KiB) and the vCPU count (else those of the live definition).
fn live_facts(c: &QemuConn, s: &RunState, sizes: bool) -> Result<(DomainState, i32, u64, u32)> {
    let balloon = sizes && argv::has_balloon(&s.def);
    let mut commands = vec!["query-status"];
    if sizes {
        commands.push("query-cpus-fast");
    }
    if balloon {
        commands.push("query-balloon");
    }
    let mut answers = Qmp::query(&c.store.qmp_socket(&s.name), DEFAULT_TIMEOUT, &commands)
        .map_err(|e| qmp_error(&s.name, e))?
        .into_iter();
    let status = answers
        .next()
        .unwrap_or_else(|| Err(QmpError::Protocol("no answer to query-status".into())))
        .map_err(|e| qmp_error(&s.name, e))?;
    let st = status
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            qmp_error(
                &s.name,
                QmpError::Protocol(format!("query-status gave {status}")),
            )
        })?;
    let (state, reason) = map_status(st, s.reason);
    let vcpus = answers
        .next()
        .and_then(|r| r.ok())
        .and_then(|v| v.as_array().map(|a| a.len() as u32))
        .filter(|n| *n > 0)
        .unwrap_or(s.def.vcpus);
    let mem = answers
        .next()
        .and_then(|r| r.ok())
        .and_then(|b| b.get("actual").and_then(Value::as_u64))
        .map(|a| a / 1024)
        .unwrap_or(s.def.current_memory_kib);
    Ok((state, reason, mem, vcpus))
}

pub(crate) fn get_info(c: &QemuConn, r: &DomainRef<'_>) -> Result<DomainInfo> {
    let e = c.find(r)?;
    if let Some(s) = &e.live {
        match live_facts(c, s, true) {
            Ok((state, _, mem, vcpus)) => {
                return Ok(DomainInfo {
                    state,
                    max_mem_kib: s.def.memory_kib,
                    memory_kib: mem,
                    nr_virt_cpu: vcpus,
                    cpu_time_ns: process::process_cpu_ns(s.pid),
                });
            }
            // The guest may have died in between: then it is simply off.
            Err(err) if c.store.live(&e.name, None).is_some() => return Err(err),
            Err(_) => {}
        }
    }
    let Some(def) = c.store.read_config(&e.name)? else {
        return Err(Error::no_domain(format!("domain '{}' is gone", e.name)));
    };
    Ok(DomainInfo {
        state: DomainState::Shutoff,
        max_mem_kib: def.memory_kib,
        memory_kib: def.current_memory_kib,
        nr_virt_cpu: def.vcpus,
        cpu_time_ns: 0,
    })
}

pub(crate) fn get_state(c: &QemuConn, r: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    let e = c.find(r)?;
    if let Some(s) = &e.live {
        match live_facts(c, s, false) {
            Ok((state, reason, _, _)) => return Ok((state, reason)),
            Err(err) if c.store.live(&e.name, None).is_some() => return Err(err),
            Err(_) => {}
        }
    }
    Ok((DomainState::Shutoff, c.store.shutoff_reason(&e.name)))
}

pub(crate) fn get_xml_desc(c: &QemuConn, r: &DomainRef<'_>, flags: u32) -> Result<String> {
    let e = c.find(r)?;
    let inactive = flags & VK_DOMAIN_XML_INACTIVE != 0 || !e.active();
    let def = match (&e.config, inactive) {
        (Some(cfg), true) => cfg,
        _ => e.def(),
    };
    let opts = FormatOptions::default()
        .with_inactive(inactive)
        .with_secure(flags & VK_DOMAIN_XML_SECURE != 0);
    Ok(def.to_xml(&opts))
}

pub(crate) fn get_os_type(c: &QemuConn, r: &DomainRef<'_>) -> Result<String> {
    Ok(c.find(r)?.def().os.os_type.clone())
}

pub(crate) fn get_max_memory(c: &QemuConn, r: &DomainRef<'_>) -> Result<u64> {
    Ok(c.find(r)?.def().memory_kib)
}

/// Applies a change to the persistent definition of an inactive domain.
fn change_config(
    c: &QemuConn,
    e: &Entry,
    what: &str,
    f: impl FnOnce(&mut DomainDef) -> Result<()>,
) -> Result<()> {
    if e.active() {
        return Err(Error::operation_invalid(format!(
            "cannot {what} of an active domain ('{}')",
            e.name
        )));
    }
    let mut def = e.config.clone().ok_or_else(|| not_running(&e.name))?;
    f(&mut def)?;
    c.store.write_config(&def)
}

pub(crate) fn set_max_memory(c: &QemuConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib == 0 {
        return Err(Error::invalid_arg("memory size must be greater than zero"));
    }
    c.with_domain(r, |_, e| {
        change_config(c, &e, "set the maximum memory", |d| {
            d.memory_kib = kib;
            if d.current_memory_kib > kib {
                d.current_memory_kib = kib;
            }
            Ok(())
        })
    })
}

pub(crate) fn set_memory(c: &QemuConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    c.with_domain(r, |_, e| {
        if kib > e.def().memory_kib {
            return Err(Error::invalid_arg(
                "cannot set memory higher than max memory",
            ));
        }
        if kib == 0 {
            return Err(Error::invalid_arg("memory size must be greater than zero"));
        }
        match &e.live {
            Some(s) => balloon(c, &e.name, s, kib),
            None => change_config(c, &e, "set the memory", |d| {
                d.current_memory_kib = kib;
                Ok(())
            }),
        }
    })
}

/// Sets a running guest's memory through its balloon and records it in the state file.
fn balloon(c: &QemuConn, name: &str, s: &RunState, kib: u64) -> Result<()> {
    if !argv::has_balloon(&s.def) {
        return Err(Error::operation_invalid(format!(
            "domain '{name}' has no memory balloon, so its memory cannot change while it runs"
        )));
    }
    c.qmp(name)?
        .execute("balloon", Some(json!({ "value": kib * 1024 })))
        .map_err(|err| qmp_error(name, err))?;
    let mut s = s.clone();
    s.def.current_memory_kib = kib;
    c.store.write_state(&s)
}

/// virDomainSetMemoryFlags: the running guest (through its balloon), the persistent definition
/// (for the next start) or both; with `VK_DOMAIN_MEM_MAXIMUM`, the maximum, which only the
/// definition can change. Both sides are checked before either changes.
pub(crate) fn set_memory_flags(
    c: &QemuConn,
    r: &DomainRef<'_>,
    kib: u64,
    flags: u32,
) -> Result<()> {
    check_flags(
        flags,
        VK_DOMAIN_AFFECT_LIVE | VK_DOMAIN_AFFECT_CONFIG | VK_DOMAIN_MEM_MAXIMUM,
        "qemuDomainSetMemoryFlags",
    )?;
    if kib == 0 {
        return Err(Error::invalid_arg("memory size must be greater than zero"));
    }
    let maximum = flags & VK_DOMAIN_MEM_MAXIMUM != 0;
    c.with_domain(r, |_, e| {
        let affect = Affect::resolve(flags, e.active(), e.config.is_some())?;
        if maximum && affect.live {
            return Err(Error::operation_invalid(
                "cannot resize the maximum memory on an active domain",
            ));
        }
        let too_big = |d: &DomainDef| !maximum && kib > d.memory_kib;
        let live = e.live.as_ref().filter(|_| affect.live);
        let config = e.config.as_ref().filter(|_| affect.config);
        if live.is_some_and(|s| too_big(&s.def)) || config.is_some_and(too_big) {
            return Err(Error::invalid_arg(
                "cannot set memory higher than max memory",
            ));
        }
        if let Some(s) = live {
            balloon(c, &e.name, s, kib)?;
        }
        if let Some(def) = config {
            let mut def = def.clone();
            if maximum {
                def.memory_kib = kib;
                def.current_memory_kib = def.current_memory_kib.min(kib);
            } else {
                def.current_memory_kib = kib;
            }
            c.store.write_config(&def)?;
        }
        Ok(())
    })
}

pub(crate) fn set_vcpus(c: &QemuConn, r: &DomainRef<'_>, n: u32) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid_arg("a domain needs at least one vcpu"));
    }
    if n > MAX_VCPUS.unsigned_abs() {
        return Err(Error::invalid_arg(format!(
            "requested vcpus {n} is greater than the maximum {MAX_VCPUS}"
        )));
    }
    c.with_domain(r, |_, e| {
        change_config(c, &e, "change the vcpu count", |d| {
            d.vcpus = n;
            d.vcpu_current = None;
            Ok(())
        })
    })
}

/// vCPU number → QEMU thread id.
fn vcpu_threads(c: &QemuConn, s: &RunState) -> Result<Vec<(u32, i32)>> {
    let v = c
        .qmp(&s.name)?
        .execute("query-cpus-fast", None)
        .map_err(|e| qmp_error(&s.name, e))?;
    let mut out: Vec<(u32, i32)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|cpu| {
                    Some((
                        cpu.get("cpu-index")?.as_u64()? as u32,
                        cpu.get("thread-id")?.as_i64()? as i32,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    Ok(out)
}

fn host_cpu_count() -> usize {
    host::online_cpus()
        .iter()
        .max()
        .map(|m| *m as usize + 1)
        .unwrap_or(1)
}

pub(crate) fn pin_vcpu(c: &QemuConn, r: &DomainRef<'_>, vcpu: u32, map: &[u8]) -> Result<()> {
    c.with_domain(r, |_, e| {
        let s = active_state(&e)?;
        let threads = vcpu_threads(c, s)?;
        let Some((_, tid)) = threads.iter().find(|(n, _)| *n == vcpu) else {
            return Err(Error::invalid_arg(format!(
                "requested vcpu {vcpu} is not less than the number of vcpus {}",
                threads.len()
            )));
        };
        let cpus: Vec<u32> = (0..host_cpu_count())
            .filter(|c| map.get(c / 8).is_some_and(|b| b & (1 << (c % 8)) != 0))
            .map(|c| c as u32)
            .collect();
        if cpus.is_empty() {
            return Err(Error::invalid_arg("the CPU map selects no host CPU"));
        }
        set_affinity(*tid, &cpus)
    })
}

pub(crate) fn get_vcpus(c: &QemuConn, r: &DomainRef<'_>) -> Result<Vec<VcpuInfo>> {
    let e = c.find(r)?;
    let Some(s) = &e.live else {
        return Err(Error::operation_invalid(format!(
            "cannot list vcpus for an inactive domain '{}'",
            e.name
        )));
    };
    let ncpus = host_cpu_count();
    Ok(vcpu_threads(c, s)?
        .into_iter()
        .map(|(number, tid)| {
            let (cpu_time_ns, cpu) = process::thread_cpu(s.pid, tid);
            let mut cpumap = vec![0u8; ncpus.div_ceil(8)];
            if let Ok(set) = sched_getaffinity(Pid::from_raw(tid)) {
                for i in 0..ncpus {
                    if set.is_set(i).unwrap_or(false) {
                        cpumap[i / 8] |= 1 << (i % 8);
                    }
                }
            }
            VcpuInfo {
                number,
                state: VcpuState::Running,
                cpu_time_ns,
                cpu,
                cpumap,
            }
        })
        .collect())
}

pub(crate) fn get_autostart(c: &QemuConn, r: &DomainRef<'_>) -> Result<bool> {
    let e = c.find(r)?;
    Ok(e.config.is_some() && c.store.autostart(&e.name))
}

pub(crate) fn set_autostart(c: &QemuConn, r: &DomainRef<'_>, on: bool) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.find(r)?;
    if e.config.is_none() {
        return Err(Error::operation_invalid(
            "cannot set autostart for transient domain",
        ));
    }
    c.store.set_autostart(&e.name, on)
}

fn parse_device(xml: &str) -> Result<Device> {
    Device::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))
}

/// On a running guest only removable media change (libvirt's `change` of a CD-ROM or floppy):
/// `present` is the medium to insert, `None` ejects.
fn change_media(c: &QemuConn, s: &RunState, dev: &Device, insert: bool) -> Result<()> {
    let Device::Disk(disk) = dev else {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is running: only CD-ROM and floppy media can change on a running guest",
            s.name
        )));
    };
    let Some(current) = s
        .def
        .devices
        .disks
        .iter()
        .position(|d| d.target_dev == disk.target_dev)
    else {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is running and has no disk '{}': disks cannot be hot-plugged",
            s.name, disk.target_dev
        )));
    };
    if !matches!(
        s.def.devices.disks[current].device,
        DiskDevice::Cdrom | DiskDevice::Floppy
    ) {
        return Err(Error::operation_invalid(format!(
            "disk '{}' of running domain '{}' is not removable",
            disk.target_dev, s.name
        )));
    }
    let mut q = c.qmp(&s.name)?;
    let source = disk.source.clone().filter(|p| insert && !p.is_empty());
    match &source {
        Some(p) => {
            let format = disk.driver_type.clone().unwrap_or_else(|| "raw".into());
            q.execute(
                "blockdev-change-medium",
                Some(json!({ "id": disk.target_dev, "filename": p, "format": format, "read-only-mode": "retain" })),
            )
        }
        None => q.execute("eject", Some(json!({ "id": disk.target_dev, "force": true }))),
    }
    .map_err(|e| qmp_error(&s.name, e))?;
    let mut s = s.clone();
    s.def.devices.disks[current].source = source;
    c.store.write_state(&s)
}

pub(crate) fn attach_device(c: &QemuConn, r: &DomainRef<'_>, xml: &str) -> Result<()> {
    let dev = parse_device(xml)?;
    c.with_domain(r, |_, e| match &e.live {
        Some(s) => change_media(c, s, &dev, true),
        None => change_config(c, &e, "attach a device", |d| {
            d.attach_device(dev)
                .map_err(|err| Error::operation_invalid(err.to_string()))
        }),
    })
}

pub(crate) fn detach_device(c: &QemuConn, r: &DomainRef<'_>, xml: &str) -> Result<()> {
    let dev = parse_device(xml)?;
    c.with_domain(r, |_, e| match &e.live {
        Some(s) => change_media(c, s, &dev, false),
        None => change_config(c, &e, "detach a device", |d| {
            d.detach_device(&dev)
                .map(|_| ())
                .map_err(|err| Error::operation_invalid(err.to_string()))
        }),
    })
}

pub(crate) fn is_persistent(c: &QemuConn, r: &DomainRef<'_>) -> Result<bool> {
    Ok(c.find(r)?.config.is_some())
}

pub(crate) fn has_managed_save_image(c: &QemuConn, r: &DomainRef<'_>, _flags: u32) -> Result<bool> {
    c.find(r)?;
    Ok(false)
}

pub(crate) fn security_label(c: &QemuConn, r: &DomainRef<'_>) -> Result<(String, bool)> {
    c.find(r)?;
    Ok((String::new(), false))
}

/// `domxml-to-native qemu-argv`: the command line the driver would run.
pub(crate) fn xml_to_native(c: &QemuConn, format: &str, xml: &str, _flags: u32) -> Result<String> {
    if format != "qemu-argv" {
        return Err(Error::invalid_arg(format!(
            "unsupported config type {format} (the QEMU driver knows qemu-argv)"
        )));
    }
    let mut def = parse_def(xml)?;
    fill_macs(&mut def);
    let emulator = emulator::emulator_for(&def).unwrap_or_else(|_| {
        format!(
            "qemu-system-{}",
            argv::qemu_arch(def.os.arch.as_deref().unwrap_or(argv::host_arch()))
        )
    });
    let ctx = ArgvContext {
        emulator,
        qmp_socket: Some(c.store.qmp_socket(&def.name)),
        pidfile: Some(c.store.pidfile(&def.name)),
        daemonize: false,
        network_bridges: c.network_bridges(),
        privileged: c.privileged,
        now_epoch: Some(now_epoch()),
        ..Default::default()
    };
    Ok(argv::build_command(&def, &ctx)?.to_line())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libvirt's QEMU taint rules on definitions virtkit can run (the shell-scripts one cannot
    /// be started in a sandbox: an interface script needs a host tap).
    #[test]
    fn taints_follow_libvirts_qemu_rules() {
        let deprecated = ["pc-i440fx-7.0".to_string()];
        let msgs = |xml: &str, privileged: bool| {
            check_taint(&DomainDef::parse(xml).unwrap(), privileged, &deprecated)
                .messages(0, "t")
                .unwrap()
        };
        let guest = |devices: &str| {
            format!(
                "<domain type='qemu'><name>g</name><memory>65536</memory>\
                 <os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>"
            )
        };
        let machine = |m: &str| {
            guest("").replace(
                "<type arch='x86_64'>",
                &format!("<type arch='x86_64' machine='{m}'>"),
            )
        };
        // As libvirtd 9.0 reports a deprecated machine type (checked against it here, as root).
        assert_eq!(
            msgs(&machine("pc-i440fx-7.0"), true),
            [
                "tainted: running with undesirable elevated privileges",
                "tainted: use of deprecated configuration settings",
                "deprecated configuration: machine type 'pc-i440fx-7.0'",
            ]
        );
        assert_eq!(msgs(&machine("pc"), false), Vec::<String>::new());
        assert_eq!(msgs(&guest(""), false), Vec::<String>::new());
        assert_eq!(
            msgs(&guest(""), true),
            ["tainted: running with undesirable elevated privileges"]
        );
        // A script on any interface type.
        let all = guest(
            "<interface type='bridge'><source bridge='br0'/><script path='/etc/qemu-ifup'/></interface>\
             <interface type='ethernet'><script path='/etc/qemu-ifup'/></interface>",
        );
        assert_eq!(
            msgs(&all, true),
            [
                "tainted: running with undesirable elevated privileges",
                "tainted: network configuration using opaque shell scripts",
            ]
        );
        // Neither a file CD-ROM, an empty block CD-ROM, a block CD-ROM on a device that is not
        // a CD-ROM drive (libvirt asks the drive) nor a block disk taints.
        let none = guest(
            "<disk type='file' device='cdrom'><source file='/x.iso'/><target dev='hdc' bus='ide'/></disk>\
             <disk type='block' device='cdrom'><target dev='hdd' bus='ide'/></disk>\
             <disk type='block' device='cdrom'><source dev='/dev/null'/><target dev='hdb' bus='ide'/></disk>\
             <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vda' bus='virtio'/></disk>\
             <interface type='user'/>",
        );
        assert_eq!(msgs(&none, false), Vec::<String>::new());
    }

    #[test]
    fn cpusets() {
        assert_eq!(parse_cpuset("1-4,^3,6").unwrap(), vec![1, 2, 4, 6]);
        assert!(parse_cpuset("x").is_err());
        assert_eq!(parse_cpuset("6,1-2,2").unwrap(), vec![1, 2, 6]);
        assert_eq!(parse_cpuset("16383").unwrap(), vec![16383]);
        for bad in ["16384", "0-4294967295", "4-2", "1-", "^x"] {
            assert!(parse_cpuset(bad).is_err(), "{bad}");
        }
        // A long list costs one pass and a bitmap: 2 MB of full ranges.
        let long = vec!["0-16383"; 250_000].join(",");
        assert_eq!(parse_cpuset(&long).unwrap().len(), 16384);
    }

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

    #[test]
    fn qemu_states() {
        assert_eq!(map_status("running", 1), (DomainState::Running, 1));
        assert_eq!(map_status("paused", 1).0, DomainState::Paused);
        assert_eq!(map_status("prelaunch", 1).0, DomainState::Paused);
        assert_eq!(map_status("shutdown", 1).0, DomainState::Shutdown);
        assert_eq!(map_status("guest-panicked", 1).0, DomainState::Crashed);
    }

    #[test]
    fn foreign_types_are_refused() {
        let e = parse_def(
            "<domain type='xen'><name>x</name><memory>1</memory><os><type>hvm</type></os></domain>",
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        let d = parse_def("<domain type='kqemu'><name>x</name><memory>1</memory><os><type>hvm</type></os></domain>").unwrap();
        assert_eq!(d.domain_type, "kqemu");
    }

    #[test]
    fn xen_bus_disks_are_refused_at_define() {
        for target in ["<target dev='xvda'/>", "<target dev='hda' bus='xen'/>"] {
            let e = parse_def(&format!(
                "<domain type='qemu'><name>x</name><memory>1</memory><os><type>hvm</type></os>\
                 <devices><disk type='file' device='disk'><source file='/tmp/x.img'/>{target}</disk></devices></domain>"
            ))
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{target}");
            assert!(e.message.contains("xen bus"), "{}", e.message);
        }
        parse_def(
            "<domain type='qemu'><name>x</name><memory>1</memory><os><type>hvm</type></os>\
             <devices><disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vda'/></disk></devices></domain>",
        )
        .unwrap();
    }
}
