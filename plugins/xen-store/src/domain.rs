//! What the store says about domains, read where Xen 3.x/4.x keep it (and where libvirt's
//! `xs_internal.c` looked):
//!
//! | fact | node |
//! |---|---|
//! | active domains | the numeric children of `/local/domain` |
//! | name | `/local/domain/<id>/name` |
//! | UUID | `<vm>/uuid`, `<vm>` being `/local/domain/<id>/vm` (`/vm/<uuid>`) |
//! | OS type | `<vm>/image/ostype` (`linux` when absent, as libvirt answered) |
//! | memory target (KiB) | `/local/domain/<id>/memory/target` |
//! | vcpus | the children of `/local/domain/<id>/cpu` |
//! | running | `/local/domain/<id>/running` = `1` |
//! | console tty, VNC port | `/local/domain/<id>/console/{tty,vnc-port}` |
//! | NIC / disk ids | `device/vif/<n>/mac`, `device/vbd/<n>` whose backend's `dev` names the disk |
//! | shutdown, reboot | write `halt` / `reboot` to `/local/domain/<id>/control/shutdown` |

use virtkit_driver::{DomainInfo, DomainRef, DomainState, Error, Ops, Result, Uuid};

use crate::StoreConn;
use crate::client::{Client, Result as StoreResult};

/// The highest domain id Xen hands out (`DOMID_FIRST_RESERVED - 1`).
pub const MAX_DOMID: u32 = 0x7fef;

/// The home of domain `id`.
pub fn home(id: u32) -> String {
    format!("/local/domain/{id}")
}

/// Reads a domain id as the store writes it: decimal digits, within Xen's range.
pub fn parse_domid(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&id| id <= MAX_DOMID)
}

/// The ids of the active domains, ascending.
pub fn domain_ids(c: &mut Client) -> StoreResult<Vec<u32>> {
    let mut ids: Vec<u32> = c
        .directory(0, "/local/domain")?
        .unwrap_or_default()
        .iter()
        .filter_map(|s| parse_domid(s))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// One domain's identity as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// The domain id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its UUID (nil when the store has none).
    pub uuid: Uuid,
    /// Its `/vm/…` path, when the store has one.
    pub vm: Option<String>,
}

/// The UUID in a `vm` path: `<vm>/uuid`, else the path's last component (`/vm/<uuid>` or
/// `/vm/<uuid>-<n>` after a rename).
fn vm_uuid(c: &mut Client, vm: &str) -> StoreResult<Uuid> {
    if let Some(u) = c.read(0, &format!("{vm}/uuid"))?
        && let Ok(u) = Uuid::parse_str(u.trim())
    {
        return Ok(u);
    }
    let last = vm.rsplit('/').next().unwrap_or("");
    Ok(last
        .get(..36)
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or(Uuid::nil()))
}

/// Domain `id`, if the store has it.
pub fn by_id(c: &mut Client, id: u32) -> StoreResult<Option<Known>> {
    let home = home(id);
    let Some(name) = c.read(0, &format!("{home}/name"))? else {
        return Ok(None);
    };
    let vm = c.read(0, &format!("{home}/vm"))?;
    let uuid = match &vm {
        Some(v) => vm_uuid(c, v)?,
        None => Uuid::nil(),
    };
    Ok(Some(Known { id, name, uuid, vm }))
}

/// The active domain named `name`, if any.
pub fn by_name(c: &mut Client, name: &str) -> StoreResult<Option<Known>> {
    for id in domain_ids(c)? {
        if c.read(0, &format!("{}/name", home(id)))?.as_deref() == Some(name) {
            return by_id(c, id);
        }
    }
    Ok(None)
}

/// A value below a domain's home.
pub fn query(c: &mut Client, id: u32, rel: &str) -> StoreResult<Option<String>> {
    c.read(0, &format!("{}/{rel}", home(id)))
}

/// The console tty of domain `id` (`console/tty`).
pub fn console_tty(c: &mut Client, id: u32) -> StoreResult<Option<String>> {
    query(c, id, "console/tty")
}

/// The VNC port of domain `id` (`console/vnc-port`), when it has a valid one.
pub fn vnc_port(c: &mut Client, id: u32) -> StoreResult<Option<u16>> {
    Ok(query(c, id, "console/vnc-port")?.and_then(|p| p.trim().parse().ok()))
}

/// The device id of the NIC with `mac` (`device/vif/<n>`), compared without case.
pub fn network_id(c: &mut Client, id: u32, mac: &str) -> StoreResult<Option<String>> {
    let dir = format!("{}/device/vif", home(id));
    for n in c.directory(0, &dir)?.unwrap_or_default() {
        if let Some(m) = c.read(0, &format!("{dir}/{n}/mac"))?
            && m.trim().eq_ignore_ascii_case(mac.trim())
        {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// The device id of the disk the guest sees as `dev` (`device/vbd/<n>`, whose backend's `dev`
/// is `dev`, possibly with a `:disk`/`:cdrom` suffix or an `ioemu:` prefix).
pub fn disk_id(c: &mut Client, id: u32, dev: &str) -> StoreResult<Option<String>> {
    let dir = format!("{}/device/vbd", home(id));
    for n in c.directory(0, &dir)?.unwrap_or_default() {
        let Some(backend) = c.read(0, &format!("{dir}/{n}/backend"))? else {
            continue;
        };
        let Some(d) = c.read(0, &format!("{backend}/dev"))? else {
            continue;
        };
        let d = d.strip_prefix("ioemu:").unwrap_or(&d);
        let d = d.split(':').next().unwrap_or(d);
        if d == dev {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// The OS type of domain `id`: `<vm>/image/ostype`, `linux` when the store says none.
pub fn os_type(c: &mut Client, id: u32) -> StoreResult<Option<String>> {
    let Some(k) = by_id(c, id)? else {
        return Ok(None);
    };
    let t = match k.vm {
        Some(vm) => c.read(0, &format!("{vm}/image/ostype"))?,
        None => None,
    };
    Ok(Some(
        t.filter(|t| !t.is_empty())
            .unwrap_or_else(|| "linux".into()),
    ))
}

/// The memory target of domain `id`, in KiB.
pub fn memory_target(c: &mut Client, id: u32) -> StoreResult<Option<u64>> {
    Ok(query(c, id, "memory/target")?.and_then(|m| m.trim().parse().ok()))
}

/// What the store says of domain `id`: state (running when `running` is `1`), vcpus (the
/// children of `cpu`), memory target as both current and maximum memory, no CPU time.
pub fn info(c: &mut Client, id: u32) -> StoreResult<Option<DomainInfo>> {
    if c.read(0, &format!("{}/name", home(id)))?.is_none() {
        return Ok(None);
    }
    let running = query(c, id, "running")?;
    let state = match running.as_deref() {
        Some(r) if r.starts_with('1') => DomainState::Running,
        _ => DomainState::NoState,
    };
    let vcpus = c
        .directory(0, &format!("{}/cpu", home(id)))?
        .map_or(0, |v| v.len() as u32);
    let mem = memory_target(c, id)?.unwrap_or(0);
    Ok(Some(DomainInfo {
        state,
        nr_virt_cpu: vcpus,
        max_mem_kib: mem,
        memory_kib: mem,
        cpu_time_ns: 0,
    }))
}

fn no_domain(d: &DomainRef<'_>) -> Error {
    Error::no_domain(format!(
        "Domain not found: no domain with matching id {}",
        d.id
    ))
}

/// The id of an active domain the core names (the store knows only running domains).
fn active_id(d: &DomainRef<'_>) -> Result<u32> {
    u32::try_from(d.id)
        .ok()
        .filter(|&id| id <= MAX_DOMID)
        .ok_or_else(|| {
            Error::no_domain(format!(
                "Domain not found: domain '{}' is not running",
                d.name
            ))
        })
}

fn list_domains(c: &StoreConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    for id in c.with(domain_ids)? {
        out(id as i32);
    }
    Ok(())
}

fn num_of_domains(c: &StoreConn) -> Result<i32> {
    Ok(c.with(domain_ids)?.len() as i32)
}

fn answer(k: &Known, out: &mut dyn FnMut(DomainRef<'_>)) {
    out(DomainRef {
        id: k.id as i32,
        uuid: k.uuid,
        name: &k.name,
    });
}

fn lookup_by_id(c: &StoreConn, id: i32, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let missing = || Error::no_domain(format!("no domain with matching id {id}"));
    let Some(domid) = u32::try_from(id).ok().filter(|&i| i <= MAX_DOMID) else {
        return Err(missing());
    };
    let k = c.with(|cl| by_id(cl, domid))?.ok_or_else(missing)?;
    answer(&k, out);
    Ok(())
}

fn lookup_by_name(c: &StoreConn, name: &str, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let k = c
        .with(|cl| by_name(cl, name))?
        .ok_or_else(|| Error::no_domain(format!("no domain with matching name '{name}'")))?;
    answer(&k, out);
    Ok(())
}

fn get_os_type(c: &StoreConn, d: &DomainRef<'_>) -> Result<String> {
    let id = active_id(d)?;
    c.with(|cl| os_type(cl, id))?.ok_or_else(|| no_domain(d))
}

fn get_max_memory(c: &StoreConn, d: &DomainRef<'_>) -> Result<u64> {
    let id = active_id(d)?;
    c.with(|cl| memory_target(cl, id))?
        .ok_or_else(|| no_domain(d))
}

fn get_info(c: &StoreConn, d: &DomainRef<'_>) -> Result<DomainInfo> {
    let id = active_id(d)?;
    c.with(|cl| info(cl, id))?.ok_or_else(|| no_domain(d))
}

/// Writes `value` to `rel` below an existing domain's home, in a transaction (retried when it
/// loses a race, as Xen's tools do).
fn write_domain(c: &StoreConn, d: &DomainRef<'_>, rel: &str, value: &str) -> Result<()> {
    let id = active_id(d)?;
    if id == 0 && rel == "control/shutdown" {
        return Err(Error::operation_invalid(
            "domain 0 cannot be shut down through the store",
        ));
    }
    let home = home(id);
    for _ in 0..16 {
        let done = c.with(|cl| {
            let tx = cl.transaction_start()?;
            let exists = cl.read(tx, &format!("{home}/name"))?.is_some();
            if exists {
                cl.write(tx, &format!("{home}/{rel}"), value)?;
            }
            match cl.transaction_end(tx, exists) {
                Ok(()) => Ok(Some(exists)),
                Err(e) if e.errno() == Some("EAGAIN") => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        match done {
            Some(true) => return Ok(()),
            Some(false) => return Err(no_domain(d)),
            None => continue,
        }
    }
    Err(Error::operation_failed(format!(
        "xenstore write of {home}/{rel} kept losing races"
    )))
}

fn shutdown(c: &StoreConn, d: &DomainRef<'_>) -> Result<()> {
    write_domain(c, d, "control/shutdown", "halt")
}

fn reboot(c: &StoreConn, d: &DomainRef<'_>, _flags: u32) -> Result<()> {
    write_domain(c, d, "control/shutdown", "reboot")
}

fn set_memory(c: &StoreConn, d: &DomainRef<'_>, kib: u64) -> Result<()> {
    if kib < 4096 {
        return Err(Error::invalid_arg(format!(
            "memory target of {kib} KiB is below the 4096 KiB libvirt allowed"
        )));
    }
    write_domain(c, d, "memory/target", &kib.to_string())
}

/// The operations of the xen-store member (libvirt 0.4.6's xenstore sub-driver, plus lookup by
/// id, which the store answers from `/local/domain/<id>`).
pub const OPS: Ops<StoreConn> = Ops {
    list_domains: Some(list_domains),
    num_of_domains: Some(num_of_domains),
    domain_lookup_by_id: Some(lookup_by_id),
    domain_lookup_by_name: Some(lookup_by_name),
    domain_shutdown: Some(shutdown),
    domain_reboot: Some(reboot),
    domain_get_os_type: Some(get_os_type),
    domain_get_max_memory: Some(get_max_memory),
    domain_set_memory: Some(set_memory),
    domain_get_info: Some(get_info),
    ..Ops::NONE
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domids() {
        assert_eq!(parse_domid("0"), Some(0));
        assert_eq!(parse_domid("32751"), Some(32751));
        for bad in ["", "-1", "32752", "1x", "999999", " 1"] {
            assert_eq!(parse_domid(bad), None, "{bad}");
        }
    }
}
