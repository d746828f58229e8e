//! Domains: the ones that exist (read-only connection), then the life cycle of one the suite
//! defines, following libvirt's state rules, then a transient domain.
//!
//! The life cycle is a list of phases, one file each, run in this fixed order ([`LIFECYCLE`]);
//! each starts from the state the one before left the suite's domain in, and a check whose
//! premise is missing (the domain was not defined, or is not running) is skipped with the reason:
//!
//! 1. [`define`]: defined, listed, looked up, shut off, XML round trip, refusals while shut off;
//! 2. [`settings`]: what the shut-off domain reports and accepts (memory, vCPUs, autostart, ...);
//! 3. [`start`]: started and running (ids, XML, vCPUs, pinning, device XML refusals);
//! 4. [`suspend`]: suspended and resumed;
//! 5. [`reboot_dump`]: rebooted and dumped, still active;
//! 6. [`save`]: saved (stopped) and restored (running again);
//! 7. [`stop`]: shut down, then destroyed (shut off, still defined);
//! 8. [`undefine`]: undefined and gone.

mod define;
mod existing;
mod reboot_dump;
mod save;
mod settings;
mod start;
mod stop;
mod suspend;
mod transient;
mod undefine;

pub(crate) use existing::{existing, existing_domains, samples};
pub(crate) use transient::transient;

use std::time::Duration;

use virtkit::{Connect, Domain, DomainState, ErrorCode, Op};
use virtkit_xml::DomainDef;

use crate::suite::{Ctx, Step, Verdict, ensure, expect_err, ok};

/// How long a guest may take to honour a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const ACTIVE: &[DomainState] = &[
    DomainState::Running,
    DomainState::Blocked,
    DomainState::Paused,
];
const INACTIVE: &[DomainState] = &[DomainState::Shutoff, DomainState::Crashed];

fn parse(xml: &str) -> Step<DomainDef> {
    DomainDef::parse(xml).map_err(|e| Verdict::Fail(format!("the domain XML does not parse: {e}")))
}

fn info_matches(name: &str, def: &DomainDef, info: &virtkit::DomainInfo) -> Step {
    ensure!(
        info.max_mem_kib == def.memory_kib,
        "{name:?}: virDomainGetInfo says {} KiB of maximum memory, the XML <memory> {} KiB",
        info.max_mem_kib,
        def.memory_kib
    );
    let vcpus = [Some(def.vcpus), def.vcpu_current];
    ensure!(
        vcpus.contains(&Some(info.nr_virt_cpu)),
        "{name:?}: virDomainGetInfo says {} vCPUs, the XML <vcpu> {}",
        info.nr_virt_cpu,
        def.vcpus
    );
    ensure!(
        info.memory_kib <= info.max_mem_kib,
        "{name:?}: current memory {} KiB exceeds the maximum {} KiB",
        info.memory_kib,
        info.max_mem_kib
    );
    Ok(())
}

/// Looking `d` up by name and by UUID gives the same domain.
fn same_by_name_and_uuid(c: &Ctx, conn: &Connect, d: &Domain) -> Step {
    if c.has(Op::DomainLookupByName) {
        let by_name = ok(
            format!("virDomainLookupByName({:?})", d.name()),
            conn.lookup_domain_by_name(&d.name()),
        )?;
        ensure!(
            by_name.uuid() == d.uuid() && by_name.id() == d.id(),
            "{:?}: by name it is {} (id {}), otherwise {} (id {})",
            d.name(),
            by_name.uuid(),
            by_name.id(),
            d.uuid(),
            d.id()
        );
    }
    if c.has(Op::DomainLookupByUuid) {
        let by_uuid = ok(
            format!("virDomainLookupByUUID({})", d.uuid()),
            conn.lookup_domain_by_uuid(&d.uuid()),
        )?;
        ensure!(
            by_uuid.name() == d.name() && by_uuid.id() == d.id(),
            "{}: by UUID it is {:?} (id {}), otherwise {:?} (id {})",
            d.uuid(),
            by_uuid.name(),
            by_uuid.id(),
            d.name(),
            d.id()
        );
    }
    Ok(())
}

/// The domain of the life-cycle checks, or why it does not exist.
fn life(c: &Ctx) -> Step<Domain> {
    c.life.clone().ok_or_else(|| {
        Verdict::Skip("the suite's domain could not be defined (see lifecycle/define)".into())
    })
}

/// The domain's current identity (id after start/stop), through a UUID lookup when possible.
fn refreshed(c: &Ctx, d: &Domain) -> Step<Domain> {
    if c.has(Op::DomainLookupByUuid) {
        return ok(
            "virDomainLookupByUUID",
            c.rw()?.lookup_domain_by_uuid(&d.uuid()),
        );
    }
    Ok(d.clone())
}

/// The suite's domain when it runs (or its state cannot be told), else a skip.
fn running(c: &Ctx) -> Step<Domain> {
    let d = life(c)?;
    match c.is_active(&d)? {
        Some(false) => Err(Verdict::Skip(
            "the suite's domain is not running (see lifecycle/start)".into(),
        )),
        _ => Ok(d),
    }
}

/// Calls each declared op in `ops` on `d` and expects operation-invalid, the state unchanged.
fn wrong_state(c: &mut Ctx, d: &Domain, ops: &[Op], now: &[DomainState], when: &str) -> Step {
    let mut tried = 0;
    for &op in ops {
        if !c.has(op) {
            continue;
        }
        tried += 1;
        let path = c.scratch_path("wrong-state");
        let r = match op {
            Op::DomainCreate => d.create(),
            Op::DomainSuspend => d.suspend(),
            Op::DomainResume => d.resume(),
            Op::DomainDestroy => d.destroy(),
            Op::DomainShutdown => d.shutdown(),
            Op::DomainReboot => d.reboot(0),
            Op::DomainSave => d.save(&path),
            Op::DomainCoreDump => d.core_dump(&path, 0),
            _ => continue,
        };
        expect_err(
            format!("{} of a domain that is {when}", op.info().api),
            r,
            ErrorCode::OperationInvalid,
        )?;
        c.expect_state(d, now, &format!("after a refused {}", op.info().api))?;
        ensure!(
            !std::path::Path::new(&path).exists(),
            "a refused {} still wrote {path}",
            op.info().api
        );
    }
    if tried == 0 {
        return Err(Verdict::Skip(
            "the driver implements none of the operations concerned".into(),
        ));
    }
    Ok(())
}

/// The suite's own domain of the life-cycle checks: the name and UUID it is defined with.
struct LifeDomain {
    name: String,
    uuid: uuid::Uuid,
}

/// The life-cycle phases in the order they run (see the module's documentation).
const LIFECYCLE: &[fn(&mut Ctx, &LifeDomain)] = &[
    define::checks,
    settings::checks,
    start::checks,
    suspend::checks,
    reboot_dump::checks,
    save::checks,
    stop::checks,
    undefine::checks,
];

/// The life cycle of one domain the suite defines: every phase of [`LIFECYCLE`], in order.
pub(crate) fn lifecycle(ctx: &mut Ctx) {
    let life = LifeDomain {
        name: ctx.unique("life"),
        uuid: uuid::Uuid::new_v4(),
    };
    for phase in LIFECYCLE {
        phase(ctx, &life);
    }
}
