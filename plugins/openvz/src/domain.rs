//! The domain operations: every answer comes from `vzlist` and the container configs, every
//! change is made by `vzctl`.

use std::path::PathBuf;

use virtkit_driver::{
    DomainIdent, DomainInfo, DomainRef, DomainState, Error, ErrorCode, Result, Uuid,
};
use virtkit_xml::{DomainDef, FormatOptions};

use crate::OpenvzConn;
use crate::config::VzConfig;
use crate::container::{self, Host};
use crate::tools::{Status, check_name, parse_ctid};

/// Serializes the choice of a new CTID and its creation within the process.
static DEFINE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Largest container config read.
const CONFIG_CAP: u64 = 1 << 20;

/// One container as the driver sees it.
pub(crate) struct Ct {
    pub ctid: u32,
    pub status: Status,
    pub paused: bool,
    pub name: String,
    pub uuid: Uuid,
    pub conf: VzConfig,
}

impl Ct {
    fn active(&self) -> bool {
        self.status == Status::Running
    }
    fn id(&self) -> i32 {
        if self.active() { self.ctid as i32 } else { -1 }
    }
    fn as_ref(&self) -> DomainRef<'_> {
        DomainRef {
            id: self.id(),
            uuid: self.uuid,
            name: &self.name,
        }
    }
    fn state(&self) -> (DomainState, i32) {
        // Reasons as libvirt numbers them: running/booted 1, paused/user 1, shutoff/unknown 0.
        match (self.status, self.paused) {
            (Status::Running, true) => (DomainState::Paused, 1),
            (Status::Running, false) => (DomainState::Running, 1),
            _ => (DomainState::Shutoff, 0),
        }
    }
    fn ctid_arg(&self) -> String {
        self.ctid.to_string()
    }
}

/// The UUID of a container whose config has none: derived from its CTID, so that every
/// connection agrees on it (libvirt wrote a random one into the config when it opened).
pub(crate) fn derived_uuid(ctid: u32) -> Uuid {
    Uuid::from_fields(ctid, 0x6f76, 0x7a00, b"virtkit\0")
}

impl OpenvzConn {
    pub(crate) fn conf_path(&self, ctid: u32) -> PathBuf {
        self.settings.confdir.join(format!("{ctid}.conf"))
    }

    fn paused_path(&self, ctid: u32) -> PathBuf {
        self.settings.rundir.join(format!("{ctid}.paused"))
    }

    pub(crate) fn read_conf(&self, ctid: u32) -> Result<Option<VzConfig>> {
        let path = self.conf_path(ctid);
        match virtkit_hostio::read_string_capped(&path, CONFIG_CAP) {
            Ok(text) => Ok(Some(VzConfig::parse(&text))),
            Err(e) if e.errno() == Some(nix::libc::ENOENT) => Ok(None),
            Err(e) => Err(Error::new(
                ErrorCode::ReadFailed,
                format!("cannot read container config: {e}"),
            )),
        }
    }

    pub(crate) fn write_conf(&self, ctid: u32, conf: &VzConfig) -> Result<()> {
        virtkit_hostio::check_trusted_dir(&self.settings.confdir)
            .and_then(|()| {
                virtkit_hostio::write_atomic(
                    &self.conf_path(ctid),
                    conf.to_text().as_bytes(),
                    0o644,
                )
            })
            .map_err(|e| {
                Error::new(
                    ErrorCode::WriteFailed,
                    format!("cannot write container config: {e}"),
                )
            })
    }

    /// The host facts the mapping needs.
    pub(crate) fn host(&self) -> Host {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .filter(|p| *p >= 1024)
            .unwrap_or(4096) as u64;
        Host {
            cpus: virtkit_driver::host::node_info().cpus.max(1),
            kib_per_page: page / 1024,
        }
    }

    /// Every container: `vzlist`, then each one's config.
    pub(crate) fn scan(&self) -> Result<Vec<Ct>> {
        let mut out = Vec::new();
        for (ctid, status) in self.tools.list(self.id_field())? {
            if ctid == 0 {
                continue;
            }
            // Listed but gone since (destroyed meanwhile): not there.
            let Some(conf) = self.read_conf(ctid)? else {
                continue;
            };
            let uuid = match conf.uuid() {
                Some(u) => Uuid::parse_str(u).map_err(|_| {
                    Error::internal(format!(
                        "UUID in config file {} malformed",
                        self.conf_path(ctid).display()
                    ))
                })?,
                None => derived_uuid(ctid),
            };
            let name = conf
                .get("NAME")
                .filter(|n| check_name(n).is_ok())
                .map_or_else(|| ctid.to_string(), str::to_string);
            let marker = self.paused_path(ctid);
            let mut paused = marker.exists();
            if paused && status != Status::Running {
                // Stopped since it was paused (by vzctl directly, or the host rebooted).
                if !self.read_only {
                    let _ = std::fs::remove_file(&marker);
                }
                paused = false;
            }
            out.push(Ct {
                ctid,
                status,
                paused,
                name,
                uuid,
                conf,
            });
        }
        Ok(out)
    }

    /// The container `d` names (by UUID, as the core keys domains).
    pub(crate) fn find(&self, d: &DomainRef<'_>) -> Result<Ct> {
        self.scan()?
            .into_iter()
            .find(|c| c.uuid == d.uuid)
            .ok_or_else(|| {
                Error::no_domain(format!(
                    "no domain with matching uuid '{}' ({})",
                    d.uuid, d.name
                ))
            })
    }

    fn set_paused(&self, ctid: u32, paused: bool) -> Result<()> {
        let path = self.paused_path(ctid);
        let r = if paused {
            virtkit_hostio::ensure_private_dir(&self.settings.rundir, 0o700)
                .and_then(|()| virtkit_hostio::write_atomic(&path, b"paused\n", 0o600))
        } else {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::system(
                        format!("cannot remove {}", path.display()),
                        &e,
                    ));
                }
                _ => Ok(()),
            }
        };
        r.map_err(|e| {
            Error::new(
                ErrorCode::WriteFailed,
                format!("cannot record the paused state: {e}"),
            )
        })
    }

    fn vzctl(&self, args: &[&str]) -> Result<String> {
        let args: Vec<String> = std::iter::once("--quiet")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        self.tools.vzctl(&args)
    }
}

fn not_running(ct: &Ct) -> Error {
    Error::operation_invalid(format!("domain '{}' is not running", ct.name))
}

pub(crate) fn list_domains(c: &OpenvzConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    for ct in c.scan()?.iter().filter(|ct| ct.active()) {
        out(ct.ctid as i32);
    }
    Ok(())
}

pub(crate) fn num_of_domains(c: &OpenvzConn) -> Result<i32> {
    Ok(c.scan()?.iter().filter(|ct| ct.active()).count() as i32)
}

pub(crate) fn list_defined_domains(c: &OpenvzConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    for ct in c.scan()?.iter().filter(|ct| !ct.active()) {
        out(&ct.name);
    }
    Ok(())
}

pub(crate) fn num_of_defined_domains(c: &OpenvzConn) -> Result<i32> {
    Ok(c.scan()?.iter().filter(|ct| !ct.active()).count() as i32)
}

pub(crate) fn lookup_by_id(
    c: &OpenvzConn,
    id: i32,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let cts = c.scan()?;
    let ct = cts
        .iter()
        .find(|ct| ct.active() && ct.ctid as i32 == id)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching id {id}")))?;
    out(ct.as_ref());
    Ok(())
}

pub(crate) fn lookup_by_uuid(
    c: &OpenvzConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let cts = c.scan()?;
    let ct = cts
        .iter()
        .find(|ct| ct.uuid == *uuid)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    out(ct.as_ref());
    Ok(())
}

pub(crate) fn lookup_by_name(
    c: &OpenvzConn,
    name: &str,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let cts = c.scan()?;
    let ct = cts
        .iter()
        .find(|ct| ct.name == name)
        .or_else(|| cts.iter().find(|ct| ct.ctid.to_string() == name))
        .ok_or_else(|| Error::no_domain(format!("no domain with matching name '{name}'")))?;
    out(ct.as_ref());
    Ok(())
}

pub(crate) fn get_info(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<DomainInfo> {
    let ct = c.find(d)?;
    let def = container::domain_def(&ct.name, ct.uuid, &ct.conf, &c.host())?;
    Ok(DomainInfo {
        state: ct.state().0,
        max_mem_kib: def.memory_kib,
        memory_kib: def.current_memory_kib,
        nr_virt_cpu: def.vcpus,
        cpu_time_ns: if ct.active() { c.cpu_time(ct.ctid) } else { 0 },
    })
}

pub(crate) fn get_state(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    Ok(c.find(d)?.state())
}

pub(crate) fn get_xml_desc(c: &OpenvzConn, d: &DomainRef<'_>, flags: u32) -> Result<String> {
    let ct = c.find(d)?;
    let mut def = container::domain_def(&ct.name, ct.uuid, &ct.conf, &c.host())?;
    let inactive = flags & crate::XML_INACTIVE != 0;
    if ct.active() && !inactive {
        def.id = Some(ct.ctid as i32);
    }
    Ok(def.to_xml(&FormatOptions::default().with_inactive(inactive)))
}

pub(crate) fn get_os_type(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<String> {
    c.find(d)?;
    Ok("exe".into())
}

pub(crate) fn get_max_memory(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<u64> {
    let ct = c.find(d)?;
    Ok(container::domain_def(&ct.name, ct.uuid, &ct.conf, &c.host())?.memory_kib)
}

fn set_physpages(c: &OpenvzConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    let ct = c.find(d)?;
    if kib == 0 {
        return Err(Error::invalid_arg("memory must be at least 1 KiB"));
    }
    let host = c.host();
    let pages = kib.div_ceil(host.kib_per_page);
    c.vzctl(&[
        "set",
        &ct.ctid_arg(),
        "--physpages",
        &format!("0:{pages}"),
        "--save",
    ])?;
    Ok(())
}

/// A container's memory is one limit: setting the maximum and the current amount are the same.
pub(crate) fn set_memory(c: &OpenvzConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    set_physpages(c, d, kib)
}

pub(crate) fn set_max_memory(c: &OpenvzConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    set_physpages(c, d, kib)
}

pub(crate) fn set_vcpus(c: &OpenvzConn, d: &DomainRef<'_>, n: u32) -> Result<()> {
    let ct = c.find(d)?;
    if n == 0 || n > crate::MAX_VCPUS as u32 {
        return Err(Error::invalid_arg(format!(
            "vCPUs must be between 1 and {}, not {n}",
            crate::MAX_VCPUS
        )));
    }
    c.vzctl(&["set", &ct.ctid_arg(), "--cpus", &n.to_string(), "--save"])?;
    Ok(())
}

pub(crate) fn get_autostart(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<bool> {
    Ok(c.find(d)?.conf.get("ONBOOT") == Some("yes"))
}

pub(crate) fn set_autostart(c: &OpenvzConn, d: &DomainRef<'_>, on: bool) -> Result<()> {
    let ct = c.find(d)?;
    c.vzctl(&[
        "set",
        &ct.ctid_arg(),
        "--onboot",
        if on { "yes" } else { "no" },
        "--save",
    ])?;
    Ok(())
}

pub(crate) fn is_persistent(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<bool> {
    // OpenVZ has no transient containers.
    c.find(d)?;
    Ok(true)
}

pub(crate) fn start(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    let ct = c.find(d)?;
    if ct.status != Status::Stopped {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already active",
            ct.name
        )));
    }
    c.vzctl(&["start", &ct.ctid_arg()])?;
    Ok(())
}

/// Shutdown and destroy both stop the container (`vzctl stop`), as libvirt's driver did; a
/// paused container is resumed by the stop.
fn stop(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    let ct = c.find(d)?;
    if !ct.active() {
        return Err(not_running(&ct));
    }
    c.vzctl(&["stop", &ct.ctid_arg()])?;
    c.set_paused(ct.ctid, false)
}

pub(crate) fn shutdown(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    stop(c, d)
}

pub(crate) fn destroy(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    stop(c, d)
}

pub(crate) fn reboot(c: &OpenvzConn, d: &DomainRef<'_>, _flags: u32) -> Result<()> {
    let ct = c.find(d)?;
    if !ct.active() || ct.paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not in running state",
            ct.name
        )));
    }
    c.vzctl(&["restart", &ct.ctid_arg()])?;
    Ok(())
}

pub(crate) fn suspend(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    let ct = c.find(d)?;
    if !ct.active() {
        return Err(not_running(&ct));
    }
    if ct.paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already paused",
            ct.name
        )));
    }
    c.vzctl(&["chkpnt", &ct.ctid_arg(), "--suspend"])?;
    if let Err(e) = c.set_paused(ct.ctid, true) {
        // Not recorded: undo, so that the state stays what the driver reports.
        let _ = c.vzctl(&["chkpnt", &ct.ctid_arg(), "--resume"]);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn resume(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    let ct = c.find(d)?;
    if !ct.active() || !ct.paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not paused",
            ct.name
        )));
    }
    c.vzctl(&["chkpnt", &ct.ctid_arg(), "--resume"])?;
    c.set_paused(ct.ctid, false)
}

pub(crate) fn undefine(c: &OpenvzConn, d: &DomainRef<'_>) -> Result<()> {
    let ct = c.find(d)?;
    if ct.active() {
        return Err(Error::operation_invalid(format!(
            "cannot delete active domain '{}'",
            ct.name
        )));
    }
    c.vzctl(&["destroy", &ct.ctid_arg()])?;
    Ok(())
}

/// The CTID for a new container called `name`: the name itself when it is a CTID, else the
/// next one after the highest in use (container IDs up to 100 are reserved).
fn choose_ctid(c: &OpenvzConn, name: &str, cts: &[Ct]) -> Result<u32> {
    if let Some(n) = parse_ctid(name) {
        if c.conf_path(n).exists() || cts.iter().any(|ct| ct.ctid == n) {
            return Err(Error::dom_exist(format!("container {n} already exists")));
        }
        return Ok(n);
    }
    check_name(name)?;
    let mut n = cts.iter().map(|ct| ct.ctid).max().unwrap_or(100).max(100) + 1;
    while c.conf_path(n).exists() {
        n += 1;
    }
    if n > crate::tools::MAX_CTID {
        return Err(Error::operation_failed("no container ID is free"));
    }
    Ok(n)
}

pub(crate) fn define_xml(c: &OpenvzConn, xml: &str) -> Result<DomainIdent> {
    let mut def = DomainDef::parse(xml).map_err(|e| Error::xml(e.to_string()))?;
    container::check_def(&def)?;
    // One definition at a time in this process (every connection); vzctl refuses a CTID that
    // another process took meanwhile, and the choice is made again.
    let _guard = DEFINE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let cts = c.scan()?;
    let host = c.host();
    if let Some(ct) = cts.iter().find(|ct| ct.name == def.name) {
        if ct.uuid != def.uuid {
            return Err(Error::dom_exist(format!(
                "domain '{}' already exists with uuid {}",
                ct.name, ct.uuid
            )));
        }
        return redefine(c, ct, def, &host);
    }
    if let Some(ct) = cts.iter().find(|ct| ct.uuid == def.uuid) {
        return Err(Error::dom_exist(format!(
            "domain '{}' already exists with uuid {}",
            ct.name, ct.uuid
        )));
    }
    let mut cts = cts;
    let mut tries = 0;
    let ctid = loop {
        let ctid = choose_ctid(c, &def.name, &cts)?;
        let ctid_s = ctid.to_string();
        let mut create = vec!["create", ctid_s.as_str()];
        if let Some(t) = container::template(&def) {
            create.extend(["--ostemplate", t]);
        }
        if parse_ctid(&def.name).is_none() {
            create.extend(["--name", def.name.as_str()]);
        }
        match c.vzctl(&create) {
            Ok(_) => break ctid,
            // Another process took the CTID meanwhile: choose again.
            Err(_)
                if parse_ctid(&def.name).is_none() && c.conf_path(ctid).exists() && tries < 8 =>
            {
                tries += 1;
                cts = c.scan()?;
            }
            Err(e) => return Err(e),
        }
    };
    container::complete_interfaces(&mut def, ctid);
    let ctid_s = ctid.to_string();
    // From here on a failure leaves no half-made container behind.
    let undo = |e: Error| -> Error {
        match c.vzctl(&["destroy", &ctid_s]) {
            Ok(_) => e,
            Err(u) => Error::new(
                e.code,
                format!(
                    "{}; undoing the create failed too: {}",
                    e.message, u.message
                ),
            ),
        }
    };
    let configure = || -> Result<()> {
        let mut conf = c.read_conf(ctid)?.ok_or_else(|| {
            Error::operation_failed(format!(
                "vzctl create {ctid} wrote no config file {}",
                c.conf_path(ctid).display()
            ))
        })?;
        if conf.uuid().is_none() {
            conf.set_uuid(&def.uuid.to_string());
            c.write_conf(ctid, &conf)?;
        }
        let opts = container::set_options(&def, None, &host);
        let mut args = vec!["set", ctid_s.as_str()];
        args.extend(opts.iter().map(String::as_str));
        args.push("--save");
        c.vzctl(&args)?;
        Ok(())
    };
    configure().map_err(undo)?;
    Ok(DomainIdent {
        id: -1,
        uuid: def.uuid,
        name: def.name,
    })
}

/// A definition for an existing container: its settings change, its template cannot.
fn redefine(c: &OpenvzConn, ct: &Ct, mut def: DomainDef, host: &Host) -> Result<DomainIdent> {
    let current = container::domain_def(&ct.name, ct.uuid, &ct.conf, host)?;
    if let (Some(want), Some(have)) = (container::template(&def), container::template(&current))
        && want != have
    {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: container '{}' was created from template '{have}'; its template cannot change to '{want}'",
                ct.name
            ),
        ));
    }
    container::complete_interfaces(&mut def, ct.ctid);
    let opts = container::set_options(&def, Some(&current), host);
    let ctid = ct.ctid_arg();
    let mut args = vec!["set", ctid.as_str()];
    args.extend(opts.iter().map(String::as_str));
    args.push("--save");
    c.vzctl(&args)?;
    Ok(DomainIdent {
        id: ct.id(),
        uuid: ct.uuid,
        name: ct.name.clone(),
    })
}

impl OpenvzConn {
    /// CPU time of a running container from the kernel's `vestat` (user + nice + system
    /// jiffies), 0 when the kernel does not say.
    fn cpu_time(&self, ctid: u32) -> u64 {
        let path = self.settings.procvz.join("vestat");
        let Ok(text) = virtkit_hostio::read_string_capped(&path, 4 << 20) else {
            return 0;
        };
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|h| *h > 0)
            .unwrap_or(100) as u64;
        parse_vestat(&text, ctid).map_or(0, |j| j.saturating_mul(1_000_000_000) / hz)
    }
}

/// The user + nice + system jiffies of `ctid` in `/proc/vz/vestat`.
pub fn parse_vestat(text: &str, ctid: u32) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        if f.next()?.parse::<u32>().ok()? != ctid {
            return None;
        }
        let mut sum = 0u64;
        for _ in 0..3 {
            sum = sum.saturating_add(f.next()?.parse::<u64>().ok()?);
        }
        Some(sum)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vestat() {
        let t = "Version: 2.2\n   VEID     user      nice     system     uptime  idle\n     33       78         0       1330   59454597  1\n    101      178         2       5340   59424597  1\n";
        assert_eq!(parse_vestat(t, 101), Some(5520));
        assert_eq!(parse_vestat(t, 7), None);
    }

    #[test]
    fn derived_uuids_are_stable_and_distinct() {
        assert_eq!(derived_uuid(101), derived_uuid(101));
        assert_ne!(derived_uuid(101), derived_uuid(102));
    }
}
