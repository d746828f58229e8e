//! Phase 3, start: the domain runs, with an id listed and looked up alike; a second start is
//! refused; the running domain's XML, vCPUs and pinning agree, and bad device XML is refused.

use virtkit::{DomainState, ErrorCode, Op};

use super::{LifeDomain, info_matches, life, parse, refreshed, running};
use crate::suite::{Ctx, Verdict, ensure, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
    let start_also = [
        Op::DomainLookupByUuid,
        Op::ListDomains,
        Op::DomainLookupById,
        Op::ListDefinedDomains,
    ];
    ctx.check_also(
        "lifecycle/start",
        &[Op::DomainDefineXml, Op::DomainCreate],
        &start_also,
        |c| {
            let d = life(c)?;
            let conn = c.rw()?;
            ok("virDomainCreate", d.create())?;
            c.expect_state(&d, &[DomainState::Running], "after virDomainCreate")?;
            let now = refreshed(c, &d)?;
            if c.has(Op::DomainLookupByUuid) {
                ensure!(now.id() > 0, "a started domain has id {}", now.id());
            }
            if c.has(Op::ListDomains) && c.has(Op::DomainLookupByUuid) {
                let ids = ok("virConnectListDomains", conn.list_domains())?;
                ensure!(
                    ids.contains(&now.id()),
                    "the started domain's id {} is not listed in {ids:?}",
                    now.id()
                );
            }
            if c.has(Op::DomainLookupById) && c.has(Op::DomainLookupByUuid) {
                let by_id = ok(
                    format!("virDomainLookupByID({})", now.id()),
                    conn.lookup_domain_by_id(now.id()),
                )?;
                ensure!(
                    by_id.uuid() == d.uuid(),
                    "id {} belongs to {}, not to the started domain",
                    now.id(),
                    by_id.uuid()
                );
            }
            if c.has(Op::ListDefinedDomains) {
                let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
                ensure!(
                    !names.contains(&d.name()),
                    "the running domain is still listed as defined (inactive)"
                );
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/start-twice",
        &[Op::DomainDefineXml, Op::DomainCreate],
        |c| {
            let d = running(c)?;
            expect_err(
                "starting a running domain",
                d.create(),
                ErrorCode::OperationInvalid,
            )?;
            c.expect_state(&d, &[DomainState::Running], "after a refused second start")
        },
    );
    ctx.check(
        "lifecycle/running-xml",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainGetXmlDesc],
        |c| {
            let d = refreshed(c, &running(c)?)?;
            let def = parse(&ok("virDomainGetXMLDesc", d.xml_desc(0))?)?;
            if c.has(Op::DomainLookupByUuid) {
                ensure!(
                    def.id == Some(d.id()),
                    "the XML of the running domain has id {:?}, expected {}",
                    def.id,
                    d.id()
                );
            }
            if c.has(Op::DomainGetInfo) {
                info_matches(&d.name(), &def, &ok("virDomainGetInfo", d.info())?)?;
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/vcpus",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainGetVcpus],
        |c| {
            let d = running(c)?;
            let v = ok("virDomainGetVcpus", d.vcpus())?;
            let g = c.guest()?;
            ensure!(
                v.len() == g.vcpus as usize,
                "virDomainGetVcpus lists {} vCPUs, the domain has {}",
                v.len(),
                g.vcpus
            );
            for (i, x) in v.iter().enumerate() {
                ensure!(
                    x.number as usize == i,
                    "vCPU #{i} says it is number {}",
                    x.number
                );
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/pin-vcpu",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainPinVcpu],
        |c| {
            let d = running(c)?;
            ok("virDomainPinVcpu(0, CPU 0)", d.pin_vcpu(0, &[1]))?;
            if c.has(Op::DomainGetVcpus) {
                let v = ok("virDomainGetVcpus", d.vcpus())?;
                let map = v.first().map(|x| x.cpumap.clone()).unwrap_or_default();
                ensure!(
                    map.first() == Some(&1) && map.iter().skip(1).all(|b| *b == 0),
                    "vCPU 0 pinned to CPU 0 has the affinity map {map:?}"
                );
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/device-bad-xml",
        &[Op::DomainDefineXml, Op::DomainCreate],
        |c| {
            let d = running(c)?;
            let mut tried = 0;
            for (op, r) in [
                (
                    Op::DomainAttachDevice,
                    c.has(Op::DomainAttachDevice)
                        .then(|| d.attach_device("<disk type='file'")),
                ),
                (
                    Op::DomainDetachDevice,
                    c.has(Op::DomainDetachDevice)
                        .then(|| d.detach_device("<disk type='file'")),
                ),
            ] {
                if let Some(r) = r {
                    tried += 1;
                    expect_err(
                        format!("{} with XML cut short", op.info().api),
                        r,
                        ErrorCode::XmlError,
                    )?;
                }
            }
            if tried == 0 {
                return Err(Verdict::Skip(
                    "the driver implements neither attach nor detach".into(),
                ));
            }
            Ok(())
        },
    );
}
