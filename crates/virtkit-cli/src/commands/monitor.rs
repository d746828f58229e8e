//! Domain monitoring commands: `dominfo`, `domstate`, `list`, `domblklist`, `domiflist`.

use virtkit::{Domain, DomainState, ErrorCode};
use virtkit_xml::XmlDocument;

use super::{
    BY_ANY, CmdDef, CmdResult, DOMAIN_HELP, Failure, Group, XML_INACTIVE, data, domain_arg, flag,
    xml_document,
};
use crate::ctl::Ctl;
use crate::parse::Args;
use crate::table::Table;

/// The state names virsh prints.
pub(crate) use virtkit::state_name as state_text;

/// The reason names virsh prints for each state (libvirt's per-state reason enums).
fn reason_text(s: DomainState, reason: i32) -> &'static str {
    let names: &[&str] = match s {
        DomainState::NoState | DomainState::Blocked => &["unknown"],
        DomainState::Running => &[
            "unknown",
            "booted",
            "migrated",
            "restored",
            "from snapshot",
            "unpaused",
            "migration canceled",
            "save canceled",
            "event wakeup",
            "crashed",
            "post-copy",
            "post-copy failed",
        ],
        DomainState::Paused => &[
            "unknown",
            "user",
            "migrating",
            "saving",
            "dumping",
            "I/O error",
            "watchdog",
            "from snapshot",
            "shutting down",
            "creating snapshot",
            "crashed",
            "starting up",
            "post-copy",
            "post-copy failed",
            "api error",
        ],
        DomainState::Shutdown => &["unknown", "user"],
        DomainState::Shutoff => &[
            "unknown",
            "shutdown",
            "destroyed",
            "crashed",
            "migrated",
            "saved",
            "failed",
            "from snapshot",
            "daemon",
        ],
        DomainState::Crashed => &["unknown", "panicked"],
    };
    usize::try_from(reason)
        .ok()
        .and_then(|r| names.get(r))
        .copied()
        .unwrap_or("unknown")
}

/// libvirt's "no limit" marker for the maximum memory.
const NO_MEMORY_LIMIT: u64 = u32::MAX as u64;

pub(super) fn dominfo(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let conn = ctl.conn()?;
    let mut failure = None;
    let id = dom.id();
    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    ctl.print(&line(
        "Id:",
        &if id == -1 {
            "-".to_string()
        } else {
            id.to_string()
        },
    ));
    ctl.print(&line("Name:", &dom.name()));
    ctl.print(&line("UUID:", &dom.uuid_string()));
    if let Ok(os) = dom.os_type() {
        ctl.print(&line("OS Type:", &os));
    }
    match dom.info() {
        Ok(info) => {
            ctl.print(&line("State:", state_text(info.state)));
            ctl.print(&line("CPU(s):", &info.nr_virt_cpu.to_string()));
            if info.cpu_time_ns != 0 {
                ctl.print(&line(
                    "CPU time:",
                    &format!("{:.1}s", info.cpu_time_ns as f64 / 1e9),
                ));
            }
            if info.max_mem_kib != NO_MEMORY_LIMIT {
                ctl.print(&line("Max memory:", &format!("{} KiB", info.max_mem_kib)));
            } else {
                ctl.print(&line("Max memory:", "no limit"));
            }
            ctl.print(&line("Used memory:", &format!("{} KiB", info.memory_kib)));
        }
        Err(e) => failure = Some(Failure::from(e)),
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    match dom.is_persistent() {
        Ok(p) => ctl.print(&line("Persistent:", yes_no(p))),
        Err(_) => ctl.print(&line("Persistent:", "unknown")),
    }
    if let Ok(a) = dom.autostart() {
        ctl.print(&line("Autostart:", if a { "enable" } else { "disable" }));
    }
    match dom.has_managed_save_image() {
        Ok(m) => ctl.print(&line("Managed save:", yes_no(m))),
        Err(_) => ctl.print(&line("Managed save:", "unknown")),
    }
    match conn.security_model() {
        Err(e) if e.code == ErrorCode::NoSupport => {}
        Err(e) => return Err(e.into()),
        // Only an active security model is shown; labels exist only for running domains.
        Ok((model, doi)) if !model.is_empty() => {
            ctl.print(&line("Security model:", &model));
            ctl.print(&line("Security DOI:", &doi));
            let (label, enforcing) = dom.security_label()?;
            if !label.is_empty() {
                let mode = if enforcing { "enforcing" } else { "permissive" };
                ctl.print(&line("Security label:", &format!("{label} ({mode})")));
            }
        }
        Ok(_) => {}
    }
    // As virsh 9.0: the taints and deprecations, one per line under one label, and nothing
    // when there are none or the call fails (a driver without virDomainGetMessages).
    for (i, m) in dom.messages(0).unwrap_or_default().iter().enumerate() {
        ctl.print(&line(if i == 0 { "Messages:" } else { "" }, m));
    }
    failure.map_or(Ok(()), Err)
}

pub(super) fn domstate(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let (state, reason) = dom.state()?;
    if args.flag("reason") {
        ctl.print(&format!(
            "{} ({})\n",
            state_text(state),
            reason_text(state, reason)
        ));
    } else {
        ctl.print(&format!("{}\n", state_text(state)));
    }
    Ok(())
}

/// Which domains `list` shows, from its options (virsh's filter flags).
struct ListFilter {
    active: bool,
    inactive: bool,
    persistent: bool,
    transient: bool,
    state_running: bool,
    state_paused: bool,
    state_shutoff: bool,
    state_other: bool,
    autostart: bool,
    no_autostart: bool,
    managed_save: bool,
    no_managed_save: bool,
}

impl ListFilter {
    fn from_args(args: &Args) -> ListFilter {
        let (mut active, mut inactive) = (true, false);
        if args.flag("inactive") || args.flag("state-shutoff") {
            (active, inactive) = (false, true);
        }
        if args.flag("all") {
            (active, inactive) = (true, true);
        }
        ListFilter {
            active,
            inactive,
            persistent: args.flag("persistent"),
            transient: args.flag("transient"),
            state_running: args.flag("state-running"),
            state_paused: args.flag("state-paused"),
            state_shutoff: args.flag("state-shutoff"),
            state_other: args.flag("state-other"),
            autostart: args.flag("autostart"),
            no_autostart: args.flag("no-autostart"),
            managed_save: args.flag("with-managed-save"),
            no_managed_save: args.flag("without-managed-save"),
        }
    }

    /// Whether a state filter is given (so every domain's state is needed).
    fn wants_state(&self) -> bool {
        self.state_running || self.state_paused || self.state_shutoff || self.state_other
    }

    /// Whether `dom` passes the persistence, state, autostart and managed-save filters.
    fn keeps(&self, dom: &Domain, state: Option<&StateAnswer>) -> Result<bool, Failure> {
        if self.persistent || self.transient {
            let p = dom
                .is_persistent()
                .map_err(|_| Failure::msg("Failed to get domain persistence info"))?;
            if !((self.persistent && p) || (self.transient && !p)) {
                return Ok(false);
            }
        }
        if self.wants_state() {
            let (s, _) = match state {
                Some(Ok(s)) => *s,
                _ => return Err(Failure::msg("Failed to get domain state")),
            };
            let other = !matches!(
                s,
                DomainState::Running | DomainState::Paused | DomainState::Shutoff
            );
            if !((self.state_running && s == DomainState::Running)
                || (self.state_paused && s == DomainState::Paused)
                || (self.state_shutoff && s == DomainState::Shutoff)
                || (self.state_other && other))
            {
                return Ok(false);
            }
        }
        if self.autostart || self.no_autostart {
            let a = dom
                .autostart()
                .map_err(|_| Failure::msg("Failed to get domain autostart state"))?;
            if !((self.autostart && a) || (self.no_autostart && !a)) {
                return Ok(false);
            }
        }
        if self.managed_save || self.no_managed_save {
            let m = dom
                .has_managed_save_image()
                .map_err(|_| Failure::msg("Failed to check for managed save image"))?;
            if !((self.managed_save && m) || (self.no_managed_save && !m)) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// At most this many state queries run at once.
const STATE_WORKERS: usize = 16;

/// A state answered faster than this came from something local (a state file, the driver's
/// memory), not from a round trip to a monitor: threads would cost more than they hide.
const CHEAP_STATE: std::time::Duration = std::time::Duration::from_micros(250);

/// A domain's state and reason, or why it could not be had.
type StateAnswer = virtkit::Result<(DomainState, i32)>;

/// The current state of each domain. States are asked in this thread while the driver answers
/// them cheaply (the qemu driver reads a running guest's state from files when it can); from
/// the first answer that took a round trip on, the rest are asked `STATE_WORKERS` at a time
/// (for a driver such as qemu each such query is a round trip to a monitor), so listing many
/// guests costs about one round trip per `STATE_WORKERS` guests. Nothing is cached: every state
/// is the driver's answer of this call. Drivers the loader serialises just answer one at a time.
fn states_of(doms: &[Domain]) -> Vec<StateAnswer> {
    let mut out = Vec::with_capacity(doms.len());
    for d in doms {
        let asked = std::time::Instant::now();
        out.push(d.state());
        if asked.elapsed() > CHEAP_STATE {
            break;
        }
    }
    let rest = &doms[out.len()..];
    out.extend(states_at_once(rest));
    out
}

/// [`states_of`] for domains whose states each take a round trip: `STATE_WORKERS` at once.
fn states_at_once(doms: &[Domain]) -> Vec<StateAnswer> {
    let workers = doms.len().min(STATE_WORKERS);
    if workers <= 1 {
        return doms.iter().map(Domain::state).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<StateAnswer>> = (0..doms.len()).map(|_| None).collect();
    let parts: Vec<Vec<(usize, StateAnswer)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(d) = doms.get(i) else { break };
                        got.push((i, d.state()));
                    }
                    got
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in parts.into_iter().flatten() {
        out[i] = Some(r);
    }
    // A worker that panicked left its domains unanswered: ask again, in this thread.
    out.into_iter()
        .zip(doms)
        .map(|(r, d)| r.unwrap_or_else(|| d.state()))
        .collect()
}

/// The domains `list` shows: active ones by id, then inactive ones by name (ASCII
/// case-insensitive), as virsh sorts them.
fn collect_domains(ctl: &mut Ctl, filter: &ListFilter) -> Result<Vec<Domain>, Failure> {
    let conn = ctl.conn()?;
    let mut doms = Vec::new();
    if filter.active {
        let ids = conn
            .list_domains()
            .map_err(|e| Failure::ctx("Failed to list active domains", e))?;
        doms.extend(
            ids.into_iter()
                .filter_map(|id| conn.lookup_domain_by_id(id).ok()),
        );
    }
    if filter.inactive {
        let names = conn
            .list_defined_domains()
            .map_err(|e| Failure::ctx("Failed to list inactive domains", e))?;
        doms.extend(
            names
                .iter()
                .filter_map(|n| conn.lookup_domain_by_name(n).ok()),
        );
    }
    let states = if filter.wants_state() {
        states_of(&doms).into_iter().map(Some).collect()
    } else {
        vec![None; doms.len()]
    };
    let mut kept = Vec::new();
    for (d, st) in doms.into_iter().zip(states) {
        if filter.keeps(&d, st.as_ref())? {
            kept.push(d);
        }
    }
    kept.sort_by(|a, b| {
        let (ia, ib) = (a.id(), b.id());
        match (ia == -1, ib == -1) {
            (false, false) => (ia as u32).cmp(&(ib as u32)),
            (true, true) => a
                .name()
                .to_ascii_lowercase()
                .cmp(&b.name().to_ascii_lowercase()),
            (false, true) => std::cmp::Ordering::Less,
            (true, false) => std::cmp::Ordering::Greater,
        }
    });
    Ok(kept)
}

pub(super) fn list(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (opt_uuid, opt_name, opt_id) = (args.flag("uuid"), args.flag("name"), args.flag("id"));
    let mut opt_table = args.flag("table");
    if opt_table {
        for (given, o) in [(opt_name, "name"), (opt_id, "id"), (opt_uuid, "uuid")] {
            if given {
                return Err(Failure::msg(format!(
                    "Options --table and --{o} are mutually exclusive"
                )));
            }
        }
    }
    if !opt_uuid && !opt_name && !opt_id {
        opt_table = true;
    }
    let filter = ListFilter::from_args(args);
    let doms = collect_domains(ctl, &filter)?;
    let managed = args.flag("managed-save");
    if opt_table {
        let mut t = Table::new(&["Id", "Name", "State"]);
        let states = states_of(&doms);
        for (d, st) in doms.iter().zip(states) {
            let id = d.id();
            // A domain may disappear between the listing and this call: skip it, as virsh does.
            let Ok((state, _)) = st else { continue };
            let state = if managed
                && state == DomainState::Shutoff
                && d.has_managed_save_image().unwrap_or(false)
            {
                "saved"
            } else {
                state_text(state)
            };
            let id = if id == -1 {
                "-".to_string()
            } else {
                id.to_string()
            };
            t.row(vec![id, d.name(), state.to_string()]);
        }
        let text = t.render(!ctl.quiet);
        ctl.print(&text);
        return Ok(());
    }
    for d in &doms {
        let id = d.id();
        if opt_id && id == -1 && !opt_uuid && !opt_name {
            continue;
        }
        let mut parts = Vec::new();
        if opt_uuid {
            parts.push(d.uuid_string());
        }
        if opt_id {
            parts.push(if id == -1 {
                "-".to_string()
            } else {
                id.to_string()
            });
        }
        if opt_name {
            parts.push(d.name());
        }
        ctl.print(&format!("{}\n", parts.join(" ")));
    }
    Ok(())
}

/// The domain's XML (`--inactive`: the persistent definition) as a document to query.
fn xml_for_listing(ctl: &mut Ctl, args: &Args) -> Result<XmlDocument, Failure> {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let flags = if args.flag("inactive") {
        XML_INACTIVE
    } else {
        0
    };
    xml_document(&dom, flags)
}

/// `NULLSTR_MINUS`: an absent or empty value shows as `-`.
fn or_minus(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

pub(super) fn domblklist(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let doc = xml_for_listing(ctl, args)?;
    let details = args.flag("details");
    let mut t = if details {
        Table::new(&["Type", "Device", "Target", "Source"])
    } else {
        Table::new(&["Target", "Source"])
    };
    for disk in doc.root().select(&["devices", "disk"]) {
        let kind = disk.attr("type");
        let device = disk.attr("device");
        let target = disk
            .child_attr("target", &["dev"])
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Failure::msg("unable to query block list"))?;
        let source = match (
            disk.child_attr("source", &["pool"]),
            disk.child_attr("source", &["volume"]),
        ) {
            (Some(pool), Some(vol)) => Some(format!("{pool}/{vol}")),
            _ => disk
                .child_attr("source", &["file", "dev", "dir", "name", "volume"])
                .map(str::to_string),
        };
        let source = or_minus(source.as_deref());
        if details {
            let (Some(kind), Some(device)) = (kind, device) else {
                return Err(Failure::msg("unable to query block list details"));
            };
            t.row(vec![
                kind.to_string(),
                device.to_string(),
                target.to_string(),
                source,
            ]);
        } else {
            t.row(vec![target.to_string(), source]);
        }
    }
    let text = t.render(!ctl.quiet);
    ctl.print(&text);
    Ok(())
}

pub(super) fn domiflist(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let doc = xml_for_listing(ctl, args)?;
    let mut t = Table::new(&["Interface", "Type", "Source", "Model", "MAC"]);
    for nic in doc.root().select(&["devices", "interface"]) {
        t.row(vec![
            or_minus(nic.child_attr("target", &["dev"])),
            nic.attr("type").unwrap_or_default().to_string(),
            or_minus(nic.child_attr("source", &["bridge", "dev", "network", "name", "path"])),
            or_minus(nic.child_attr("model", &["type"])),
            or_minus(nic.child_attr("mac", &["address"])),
        ]);
    }
    let text = t.render(!ctl.quiet);
    ctl.print(&text);
    Ok(())
}

/// The commands of virsh's "Domain Monitoring" group, in help order: their names, options and help,
/// each with its handler in this file.
pub(super) const COMMANDS: &[CmdDef] = &[
    CmdDef {
        name: "domblklist",
        group: Group::Monitor,
        help: "list all domain blocks",
        desc: "Get the summary of block devices for a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("inactive", "get inactive rather than running configuration"),
            flag("details", "additionally display the type and device value"),
        ],
        no_connect: false,
        hidden: false,
        run: domblklist,
    },
    CmdDef {
        name: "domiflist",
        group: Group::Monitor,
        help: "list all domain virtual interfaces",
        desc: "Get the summary of virtual interfaces for a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("inactive", "get inactive rather than running configuration"),
        ],
        no_connect: false,
        hidden: false,
        run: domiflist,
    },
    CmdDef {
        name: "dominfo",
        group: Group::Monitor,
        help: "domain information",
        desc: "Returns basic information about the domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: dominfo,
    },
    CmdDef {
        name: "domstate",
        group: Group::Monitor,
        help: "domain state",
        desc: "Returns state about a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("reason", "also print reason for the state"),
        ],
        no_connect: false,
        hidden: false,
        run: domstate,
    },
    CmdDef {
        name: "list",
        group: Group::Monitor,
        help: "list domains",
        desc: "Returns list of domains.",
        opts: &[
            flag("inactive", "list inactive domains"),
            flag("all", "list inactive & active domains"),
            flag("transient", "list transient domains"),
            flag("persistent", "list persistent domains"),
            flag("state-running", "list domains in running state"),
            flag("state-paused", "list domains in paused state"),
            flag("state-shutoff", "list domains in shutoff state"),
            flag("state-other", "list domains in other states"),
            flag("autostart", "list domains with autostart enabled"),
            flag("no-autostart", "list domains with autostart disabled"),
            flag("with-managed-save", "list domains with managed save state"),
            flag("without-managed-save", "list domains without managed save"),
            flag("uuid", "list uuid's only"),
            flag("name", "list domain names only"),
            flag("id", "list domain IDs only"),
            flag("table", "list table (default)"),
            flag(
                "managed-save",
                "mark inactive domains with managed save state",
            ),
        ],
        no_connect: false,
        hidden: false,
        run: list,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(reason_text(DomainState::Running, 0), "unknown");
        assert_eq!(reason_text(DomainState::Paused, 1), "user");
        assert_eq!(reason_text(DomainState::Shutoff, 2), "destroyed");
        assert_eq!(reason_text(DomainState::Shutoff, 99), "unknown");
        assert_eq!(reason_text(DomainState::Crashed, -1), "unknown");
    }
}
