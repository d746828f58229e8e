//! virConnectListAllDomains and virConnectListAllNetworks over the API's older listing calls,
//! with libvirt's filter flags: within each group (active/inactive, persistent/transient, ...)
//! a set bit keeps the objects that have that property, and neither or both bits keep all.

use virtkit::{Connect, Domain, DomainState, ErrorCode, Network, Result};

/// `VIR_CONNECT_LIST_DOMAINS_*`.
mod dom_flags {
    pub const ACTIVE: u32 = 1;
    pub const INACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const RUNNING: u32 = 16;
    pub const PAUSED: u32 = 32;
    pub const SHUTOFF: u32 = 64;
    pub const OTHER: u32 = 128;
    pub const MANAGEDSAVE: u32 = 256;
    pub const NO_MANAGEDSAVE: u32 = 512;
    pub const AUTOSTART: u32 = 1024;
    pub const NO_AUTOSTART: u32 = 2048;
    pub const HAS_SNAPSHOT: u32 = 4096;
    pub const NO_SNAPSHOT: u32 = 8192;
    pub const HAS_CHECKPOINT: u32 = 16384;
    pub const NO_CHECKPOINT: u32 = 32768;
    pub const ALL: u32 = 65535;
}

/// `VIR_CONNECT_LIST_NETWORKS_*`.
mod net_flags {
    pub const INACTIVE: u32 = 1;
    pub const ACTIVE: u32 = 2;
    pub const PERSISTENT: u32 = 4;
    pub const TRANSIENT: u32 = 8;
    pub const AUTOSTART: u32 = 16;
    pub const NO_AUTOSTART: u32 = 32;
    pub const ALL: u32 = 63;
}

/// Whether a two-bit group filters, and if so whether it wants the property.
fn group(flags: u32, yes: u32, no: u32) -> Option<bool> {
    match (flags & yes != 0, flags & no != 0) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

fn bad_flags(flags: u32, all: u32, api: &str) -> Result<()> {
    if flags & !all != 0 {
        // libvirt's virCheckFlags words it without the code's "invalid argument: ".
        return Err(virtkit::Error {
            code: ErrorCode::InvalidArg,
            domain: 0,
            message: format!("unsupported flags (0x{:x}) in function {api}", flags & !all),
        });
    }
    Ok(())
}

/// Passes over domains that vanished between the listing and the lookup.
fn gone(e: &virtkit::Error) -> bool {
    e.code == ErrorCode::NoDomain || e.code == ErrorCode::NoNetwork
}

/// Every domain of the connection that `flags` keeps: the active ones by id, then the inactive
/// ones by name.
pub fn all_domains(conn: &Connect, flags: u32) -> Result<Vec<Domain>> {
    use dom_flags::*;
    bad_flags(flags, ALL, "virConnectListAllDomains")?;
    let want_active = group(flags, ACTIVE, INACTIVE);
    let mut found = Vec::new();
    if want_active != Some(false) {
        for id in conn.list_domains()? {
            match conn.lookup_domain_by_id(id) {
                Ok(d) => found.push(d),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    if want_active != Some(true) {
        for name in conn.list_defined_domains()? {
            match conn.lookup_domain_by_name(&name) {
                Ok(d) if d.id() < 0 => found.push(d),
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let states = flags & (RUNNING | PAUSED | SHUTOFF | OTHER);
    let mut out = Vec::new();
    for d in found {
        if let Some(want) = group(flags, PERSISTENT, TRANSIENT)
            && d.is_persistent()? != want
        {
            continue;
        }
        if states != 0 && states != RUNNING | PAUSED | SHUTOFF | OTHER {
            let bit = match d.state()?.0 {
                DomainState::Running => RUNNING,
                DomainState::Paused => PAUSED,
                DomainState::Shutoff => SHUTOFF,
                _ => OTHER,
            };
            if states & bit == 0 {
                continue;
            }
        }
        if let Some(want) = group(flags, MANAGEDSAVE, NO_MANAGEDSAVE)
            && d.has_managed_save_image()? != want
        {
            continue;
        }
        if let Some(want) = group(flags, AUTOSTART, NO_AUTOSTART)
            && d.autostart()? != want
        {
            continue;
        }
        // virtkit keeps no snapshots or checkpoints.
        if group(flags, HAS_SNAPSHOT, NO_SNAPSHOT) == Some(true)
            || group(flags, HAS_CHECKPOINT, NO_CHECKPOINT) == Some(true)
        {
            continue;
        }
        out.push(d);
    }
    Ok(out)
}

/// Every network of the connection that `flags` keeps.
pub fn all_networks(conn: &Connect, flags: u32) -> Result<Vec<Network>> {
    use net_flags::*;
    bad_flags(flags, ALL, "virConnectListAllNetworks")?;
    let want_active = group(flags, ACTIVE, INACTIVE);
    let mut names = Vec::new();
    if want_active != Some(false) {
        names.extend(conn.list_networks()?);
    }
    if want_active != Some(true) {
        for n in conn.list_defined_networks()? {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mut out = Vec::new();
    for name in names {
        let n = match conn.lookup_network_by_name(&name) {
            Ok(n) => n,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if let Some(want) = group(flags, PERSISTENT, TRANSIENT)
            && n.is_persistent()? != want
        {
            continue;
        }
        if let Some(want) = group(flags, AUTOSTART, NO_AUTOSTART)
            && n.autostart()? != want
        {
            continue;
        }
        out.push(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn a_group_filters_only_with_one_bit() {
        assert_eq!(group(0, 1, 2), None);
        assert_eq!(group(3, 1, 2), None);
        assert_eq!(group(1, 1, 2), Some(true));
        assert_eq!(group(2, 1, 2), Some(false));
    }
}
