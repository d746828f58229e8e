//! Domains: the ones that exist (read-only connection), then the life cycle of one the suite
//! defines, following libvirt's state rules.

use std::time::{Duration, Instant};

use virtkit::{Connect, Domain, DomainState, ErrorCode, Op};
use virtkit_xml::{DomainDef, OS_TYPES, equivalent_domains};

use crate::guest::MEMORY_KIB;
use crate::suite::{Ctx, Step, Verdict, describe, ensure, expect_err, is_panic, ok};

use virtkit::VK_DOMAIN_XML_INACTIVE as XML_INACTIVE;
/// At most this many existing domains are examined one by one.
const EXAMINE_AT_MOST: usize = 64;
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

/// The existing domains: names of the active ones (by id) and of the defined ones.
pub(crate) fn existing_domains(c: &Ctx, conn: &Connect) -> Step<Vec<Domain>> {
    let mut out = Vec::new();
    if c.has(Op::ListDomains) && c.has(Op::DomainLookupById) {
        for id in ok("virConnectListDomains", conn.list_domains())?
            .into_iter()
            .take(EXAMINE_AT_MOST)
        {
            out.push(ok(
                format!("virDomainLookupByID({id})"),
                conn.lookup_domain_by_id(id),
            )?);
        }
    }
    if c.has(Op::ListDefinedDomains) && c.has(Op::DomainLookupByName) {
        for n in ok("virConnectListDefinedDomains", conn.list_defined_domains())?
            .into_iter()
            .take(EXAMINE_AT_MOST)
        {
            out.push(ok(
                format!("virDomainLookupByName({n:?})"),
                conn.lookup_domain_by_name(&n),
            )?);
        }
    }
    Ok(out)
}

/// When the sandbox starts empty, gives the checks of existing domains something to examine: a
/// running domain and a defined one (removed at the end with everything the suite creates).
pub(crate) fn samples(ctx: &mut Ctx) {
    let (Some(rw), Ok(g)) = (ctx.rw.clone(), ctx.guest()) else {
        return;
    };
    if !ctx.has(Op::DomainDefineXml) {
        return;
    }
    let active =
        !ctx.has(Op::ListDomains) || rw.list_domains().map(|v| !v.is_empty()).unwrap_or(true);
    let defined = !ctx.has(Op::ListDefinedDomains)
        || rw
            .list_defined_domains()
            .map(|v| !v.is_empty())
            .unwrap_or(true);
    if !active && ctx.has(Op::DomainCreate) {
        let name = ctx.unique("sample-running");
        let uuid = uuid::Uuid::new_v4();
        if let Ok(d) = rw.define_domain_xml(&g.xml(&name, uuid)) {
            ctx.created_domains.push((uuid, name));
            let _ = d.create();
        }
    }
    if !defined {
        let name = ctx.unique("sample-defined");
        let uuid = uuid::Uuid::new_v4();
        if rw.define_domain_xml(&g.xml(&name, uuid)).is_ok() {
            ctx.created_domains.push((uuid, name));
        }
    }
}

pub(crate) fn existing(ctx: &mut Ctx) {
    ctx.check(
        "domains/list-num-agree",
        &[Op::ListDomains, Op::NumOfDomains],
        |c| {
            let conn = c.ro()?;
            let ids = ok("virConnectListDomains", conn.list_domains())?;
            let n = ok("virConnectNumOfDomains", conn.num_of_domains())?;
            ensure!(
                ids.len() == n as usize,
                "virConnectListDomains gives {} ids, virConnectNumOfDomains {n}",
                ids.len()
            );
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            ensure!(sorted.len() == ids.len(), "an id is listed twice: {ids:?}");
            ensure!(
                ids.iter().all(|id| *id >= 0),
                "a negative id is listed: {ids:?}"
            );
            Ok(())
        },
    );
    ctx.check(
        "domains/defined-list-num-agree",
        &[Op::ListDefinedDomains, Op::NumOfDefinedDomains],
        |c| {
            let conn = c.ro()?;
            let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
            let n = ok(
                "virConnectNumOfDefinedDomains",
                conn.num_of_defined_domains(),
            )?;
            ensure!(
                names.len() == n as usize,
                "virConnectListDefinedDomains gives {} names, virConnectNumOfDefinedDomains {n}",
                names.len()
            );
            Ok(())
        },
    );
    ctx.check(
        "domains/lookup-by-id-agrees",
        &[Op::ListDomains, Op::DomainLookupById],
        |c| {
            let conn = c.ro()?;
            for id in ok("virConnectListDomains", conn.list_domains())?
                .into_iter()
                .take(EXAMINE_AT_MOST)
            {
                let d = ok(
                    format!("virDomainLookupByID({id}) of a listed id"),
                    conn.lookup_domain_by_id(id),
                )?;
                ensure!(
                    d.id() == id,
                    "virDomainLookupByID({id}) gives a domain of id {}",
                    d.id()
                );
                same_by_name_and_uuid(c, &conn, &d)?;
            }
            Ok(())
        },
    );
    ctx.check(
        "domains/lookup-defined-agrees",
        &[Op::ListDefinedDomains, Op::DomainLookupByName],
        |c| {
            let conn = c.ro()?;
            for n in ok("virConnectListDefinedDomains", conn.list_defined_domains())?
                .into_iter()
                .take(EXAMINE_AT_MOST)
            {
                let d = ok(
                    format!("virDomainLookupByName({n:?}) of a listed name"),
                    conn.lookup_domain_by_name(&n),
                )?;
                ensure!(
                    d.name() == n,
                    "virDomainLookupByName({n:?}) gives {:?}",
                    d.name()
                );
                ensure!(
                    d.id() == -1,
                    "the defined (inactive) domain {n:?} has id {}",
                    d.id()
                );
                same_by_name_and_uuid(c, &conn, &d)?;
            }
            Ok(())
        },
    );
    ctx.check("domains/unknown-name", &[Op::DomainLookupByName], |c| {
        let name = c.unique("no-such-domain");
        expect_err(
            format!("virDomainLookupByName({name:?})"),
            c.ro()?.lookup_domain_by_name(&name),
            ErrorCode::NoDomain,
        )
    });
    ctx.check("domains/unknown-uuid", &[Op::DomainLookupByUuid], |c| {
        let u = uuid::Uuid::new_v4();
        expect_err(
            format!("virDomainLookupByUUID({u})"),
            c.ro()?.lookup_domain_by_uuid(&u),
            ErrorCode::NoDomain,
        )
    });
    ctx.check("domains/unknown-id", &[Op::DomainLookupById], |c| {
        let conn = c.ro()?;
        let taken = if c.has(Op::ListDomains) {
            ok("virConnectListDomains", conn.list_domains())?
        } else {
            Vec::new()
        };
        let id = (1..)
            .map(|k| i32::MAX - k)
            .find(|i| !taken.contains(i))
            .unwrap_or(i32::MAX);
        expect_err(
            format!("virDomainLookupByID({id})"),
            conn.lookup_domain_by_id(id),
            ErrorCode::NoDomain,
        )
    });
    ctx.check(
        "domains/xml-describes-domain",
        &[Op::DomainGetXmlDesc],
        |c| {
            let conn = c.ro()?;
            let doms = existing_domains(c, &conn)?;
            if doms.is_empty() {
                return Err(Verdict::Skip("no existing domain to describe".into()));
            }
            for d in &doms {
                let xml = ok(
                    format!("virDomainGetXMLDesc({:?})", d.name()),
                    d.xml_desc(0),
                )?;
                let def = parse(&xml).map_err(|v| prefix(v, &d.name()))?;
                ensure!(
                    def.name == d.name(),
                    "the XML of {:?} names {:?}",
                    d.name(),
                    def.name
                );
                ensure!(
                    def.uuid == d.uuid(),
                    "the XML of {:?} has UUID {}, the lookup {}",
                    d.name(),
                    def.uuid,
                    d.uuid()
                );
                if d.id() >= 0 {
                    ensure!(
                        def.id == Some(d.id()),
                        "the XML of running {:?} has id {:?}, expected {}",
                        d.name(),
                        def.id,
                        d.id()
                    );
                }
            }
            Ok(())
        },
    );
    ctx.check(
        "domains/info-matches-xml",
        &[Op::DomainGetInfo, Op::DomainGetXmlDesc],
        |c| {
            let conn = c.ro()?;
            let doms = existing_domains(c, &conn)?;
            if doms.is_empty() {
                return Err(Verdict::Skip("no existing domain to examine".into()));
            }
            for d in &doms {
                let def = parse(&ok("virDomainGetXMLDesc", d.xml_desc(0))?)
                    .map_err(|v| prefix(v, &d.name()))?;
                let info = ok(format!("virDomainGetInfo({:?})", d.name()), d.info())?;
                info_matches(&d.name(), &def, &info)?;
                let want = if d.id() >= 0 { ACTIVE } else { INACTIVE };
                ensure!(
                    want.contains(&info.state),
                    "{:?} (id {}) is {:?}, expected {}",
                    d.name(),
                    d.id(),
                    info.state,
                    crate::suite::states(want)
                );
            }
            Ok(())
        },
    );
}

fn prefix(v: Verdict, name: &str) -> Verdict {
    match v {
        Verdict::Fail(m) => Verdict::Fail(format!("{name:?}: {m}")),
        other => other,
    }
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

pub(crate) fn lifecycle(ctx: &mut Ctx) {
    let name = ctx.unique("life");
    let uuid = uuid::Uuid::new_v4();

    ctx.check("lifecycle/define", &[Op::DomainDefineXml], |c| {
        let g = c.guest()?;
        let conn = c.rw()?;
        let xml = g.xml(&name, uuid);
        let d = ok(format!("defining {name:?}"), conn.define_domain_xml(&xml))?;
        c.created_domains.push((uuid, name.clone()));
        c.life = Some(d.clone());
        ensure!(
            d.name() == name,
            "the defined domain is called {:?}, not {name:?}",
            d.name()
        );
        ensure!(
            d.uuid() == uuid,
            "the defined domain has UUID {}, not {uuid}",
            d.uuid()
        );
        ensure!(
            d.id() == -1,
            "a defined domain is inactive, but it has id {}",
            d.id()
        );
        Ok(())
    });

    ctx.check(
        "lifecycle/define-listed",
        &[Op::DomainDefineXml, Op::ListDefinedDomains],
        |c| {
            let d = life(c)?;
            let conn = c.rw()?;
            let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
            ensure!(
                names.contains(&d.name()),
                "{:?} is not among the defined domains {names:?}",
                d.name()
            );
            if c.has(Op::NumOfDefinedDomains) {
                let n = ok(
                    "virConnectNumOfDefinedDomains",
                    conn.num_of_defined_domains(),
                )?;
                ensure!(
                    n as usize == names.len(),
                    "{} defined domains are listed, {n} counted",
                    names.len()
                );
            }
            Ok(())
        },
    );

    ctx.check(
        "lifecycle/lookups-agree",
        &[
            Op::DomainDefineXml,
            Op::DomainLookupByName,
            Op::DomainLookupByUuid,
        ],
        |c| {
            let d = life(c)?;
            same_by_name_and_uuid(c, &c.rw()?, &d)
        },
    );

    ctx.check_also(
        "lifecycle/inactive-state",
        &[Op::DomainDefineXml],
        &[Op::DomainGetInfo, Op::DomainGetState],
        |c| {
            let d = life(c)?;
            if !c.has(Op::DomainGetInfo) && !c.has(Op::DomainGetState) {
                return Err(Verdict::Skip(
                    "the driver implements neither virDomainGetInfo nor virDomainGetState".into(),
                ));
            }
            c.expect_state(&d, &[DomainState::Shutoff], "after define")?;
            if c.has(Op::DomainGetInfo) && c.has(Op::DomainGetState) {
                let info = ok("virDomainGetInfo", d.info())?;
                let (s, _) = ok("virDomainGetState", d.state())?;
                ensure!(
                    info.state == s,
                    "virDomainGetInfo says {:?}, virDomainGetState {s:?}",
                    info.state
                );
            }
            Ok(())
        },
    );

    ctx.check(
        "lifecycle/info-matches-xml",
        &[Op::DomainDefineXml, Op::DomainGetInfo, Op::DomainGetXmlDesc],
        |c| {
            let d = life(c)?;
            let g = c.guest()?;
            let def = parse(&ok("virDomainGetXMLDesc", d.xml_desc(0))?)?;
            ensure!(
                def.name == d.name() && def.uuid == uuid,
                "the XML names {:?} {}, not {:?} {uuid}",
                def.name,
                def.uuid,
                d.name()
            );
            ensure!(
                def.memory_kib == MEMORY_KIB,
                "the XML has {} KiB of memory, the definition {MEMORY_KIB}",
                def.memory_kib
            );
            ensure!(
                def.vcpus == g.vcpus,
                "the XML has {} vCPUs, the definition {}",
                def.vcpus,
                g.vcpus
            );
            ensure!(
                def.id.is_none(),
                "the XML of an inactive domain has id {:?}",
                def.id
            );
            let info = ok("virDomainGetInfo", d.info())?;
            info_matches(&d.name(), &def, &info)
        },
    );

    ctx.check(
        "lifecycle/xml-round-trip",
        &[Op::DomainDefineXml, Op::DomainGetXmlDesc],
        |c| {
            let d = life(c)?;
            let conn = c.rw()?;
            let first = ok("virDomainGetXMLDesc", d.xml_desc(0))?;
            parse(&first)?;
            let again = ok(
                "redefining the domain from its own XML",
                conn.define_domain_xml(&first),
            )?;
            ensure!(
                again.uuid() == d.uuid(),
                "redefining from its own XML gave UUID {}, not {}",
                again.uuid(),
                d.uuid()
            );
            let second = ok("virDomainGetXMLDesc after redefining", d.xml_desc(0))?;
            let same = equivalent_domains(&first, &second).map_err(|e| {
                Verdict::Fail(format!("the XML after redefining does not parse: {e}"))
            })?;
            ensure!(
                same,
                "the XML changed when the domain was redefined from it:\n{first}\n---\n{second}"
            );
            let inactive = ok(
                "virDomainGetXMLDesc(VIR_DOMAIN_XML_INACTIVE)",
                d.xml_desc(XML_INACTIVE),
            )?;
            parse(&inactive)?;
            Ok(())
        },
    );

    ctx.check_also(
        "lifecycle/bad-xml",
        &[Op::DomainDefineXml],
        &[Op::DomainLookupByName],
        |c| {
            let conn = c.rw()?;
            let g = c.guest().unwrap_or_else(|_| crate::guest::Guest {
                domain_type: "test".into(),
                os_type: "hvm".into(),
                arch: None,
                vcpus: 1,
            });
            let victim = c.unique("bad-xml");
            let good = g.xml(&victim, uuid::Uuid::new_v4());
            let truncated = &good[..good.find("</name>").unwrap_or(good.len() / 2)];
            for (what, xml) in [
                ("XML cut short", truncated),
                ("text that is not XML", "this is not XML <<<"),
            ] {
                expect_err(
                    format!("defining {what}"),
                    conn.define_domain_xml(xml),
                    ErrorCode::XmlError,
                )?;
            }
            if c.has(Op::DomainLookupByName) {
                expect_err(
                    "looking up the name of the refused definition",
                    conn.lookup_domain_by_name(&victim),
                    ErrorCode::NoDomain,
                )?;
            }
            Ok(())
        },
    );

    ctx.check(
        "lifecycle/inactive-wrong-state",
        &[Op::DomainDefineXml],
        |c| {
            let d = life(c)?;
            wrong_state(
                c,
                &d,
                &[
                    Op::DomainSuspend,
                    Op::DomainResume,
                    Op::DomainDestroy,
                    Op::DomainShutdown,
                    Op::DomainReboot,
                    Op::DomainSave,
                    Op::DomainCoreDump,
                ],
                &[DomainState::Shutoff],
                "shut off",
            )
        },
    );

    ctx.check(
        "lifecycle/persistent",
        &[Op::DomainDefineXml, Op::DomainIsPersistent],
        |c| {
            let d = life(c)?;
            ensure!(
                ok("virDomainIsPersistent", d.is_persistent())?,
                "a defined domain is not persistent"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/managed-save",
        &[Op::DomainDefineXml, Op::DomainHasManagedSaveImage],
        |c| {
            let d = life(c)?;
            ensure!(
                !ok("virDomainHasManagedSaveImage", d.has_managed_save_image())?,
                "a new domain has a managed save image"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/os-type",
        &[Op::DomainDefineXml, Op::DomainGetOsType],
        |c| {
            let d = life(c)?;
            let t = ok("virDomainGetOSType", d.os_type())?;
            ensure!(
                OS_TYPES.contains(&t.as_str()),
                "OS type {t:?} is not one of {}",
                OS_TYPES.join(", ")
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/max-memory",
        &[Op::DomainDefineXml, Op::DomainGetMaxMemory],
        |c| {
            let d = life(c)?;
            let m = ok("virDomainGetMaxMemory", d.max_memory())?;
            ensure!(
                m == MEMORY_KIB,
                "virDomainGetMaxMemory says {m} KiB, the definition {MEMORY_KIB} KiB"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/set-max-memory",
        &[Op::DomainDefineXml, Op::DomainSetMaxMemory],
        |c| {
            let d = life(c)?;
            match d.set_max_memory(MEMORY_KIB * 2) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetMaxMemory", r)?,
            }
            if c.has(Op::DomainGetMaxMemory) {
                let m = ok("virDomainGetMaxMemory", d.max_memory())?;
                ensure!(
                    m == MEMORY_KIB * 2,
                    "after setting {} KiB, virDomainGetMaxMemory says {m}",
                    MEMORY_KIB * 2
                );
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.max_mem_kib == MEMORY_KIB * 2,
                    "after setting {} KiB, virDomainGetInfo says {}",
                    MEMORY_KIB * 2,
                    i.max_mem_kib
                );
            }
            ok(
                "setting the maximum memory back",
                d.set_max_memory(MEMORY_KIB),
            )
        },
    );
    ctx.check(
        "lifecycle/set-memory",
        &[Op::DomainDefineXml, Op::DomainSetMemory],
        |c| {
            let d = life(c)?;
            match d.set_memory(MEMORY_KIB / 2) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetMemory", r)?,
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.memory_kib == MEMORY_KIB / 2,
                    "after setting {} KiB, virDomainGetInfo says {}",
                    MEMORY_KIB / 2,
                    i.memory_kib
                );
            }
            ok("setting the memory back", d.set_memory(MEMORY_KIB))
        },
    );
    ctx.check(
        "lifecycle/set-vcpus",
        &[Op::DomainDefineXml, Op::DomainSetVcpus],
        |c| {
            let d = life(c)?;
            let g = c.guest()?;
            match d.set_vcpus(1) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetVcpus", r)?,
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.nr_virt_cpu == 1,
                    "after setting 1 vCPU, virDomainGetInfo says {}",
                    i.nr_virt_cpu
                );
            }
            ok("setting the vCPUs back", d.set_vcpus(g.vcpus))
        },
    );
    ctx.check(
        "lifecycle/autostart",
        &[
            Op::DomainDefineXml,
            Op::DomainGetAutostart,
            Op::DomainSetAutostart,
        ],
        |c| {
            let d = life(c)?;
            for on in [true, false] {
                ok(format!("virDomainSetAutostart({on})"), d.set_autostart(on))?;
                let got = ok("virDomainGetAutostart", d.autostart())?;
                ensure!(got == on, "autostart set to {on} reads back as {got}");
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/security-label",
        &[Op::DomainDefineXml, Op::DomainGetSecurityLabel],
        |c| {
            let d = life(c)?;
            ok("virDomainGetSecurityLabel", d.security_label())?;
            Ok(())
        },
    );

    // ---- running ----
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
    let running = |c: &Ctx| -> Step<Domain> {
        let d = life(c)?;
        match c.is_active(&d)? {
            Some(false) => Err(Verdict::Skip(
                "the suite's domain is not running (see lifecycle/start)".into(),
            )),
            _ => Ok(d),
        }
    };
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
    ctx.check(
        "lifecycle/suspend",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainSuspend],
        |c| {
            let d = running(c)?;
            ok("virDomainSuspend", d.suspend())?;
            c.expect_state(&d, &[DomainState::Paused], "after virDomainSuspend")?;
            expect_err(
                "suspending a paused domain",
                d.suspend(),
                ErrorCode::OperationInvalid,
            )?;
            c.expect_state(&d, &[DomainState::Paused], "after a refused second suspend")?;
            if c.has(Op::DomainCreate) {
                expect_err(
                    "starting a paused domain",
                    d.create(),
                    ErrorCode::OperationInvalid,
                )?;
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/resume",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainResume],
        |c| {
            let d = running(c)?;
            if c.state_of(&d)? == Some(DomainState::Paused) {
                ok("virDomainResume", d.resume())?;
                c.expect_state(&d, &[DomainState::Running], "after virDomainResume")?;
            }
            expect_err(
                "resuming a running domain",
                d.resume(),
                ErrorCode::OperationInvalid,
            )?;
            c.expect_state(&d, &[DomainState::Running], "after a refused resume")
        },
    );
    ctx.check(
        "lifecycle/reboot",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainReboot],
        |c| {
            let d = running(c)?;
            ok("virDomainReboot", d.reboot(0))?;
            c.expect_state(&d, ACTIVE, "after virDomainReboot (on_reboot is restart)")
        },
    );
    ctx.check(
        "lifecycle/core-dump",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainCoreDump],
        |c| {
            let d = running(c)?;
            let path = c.scratch_path("core");
            ok("virDomainCoreDump", d.core_dump(&path, 0))?;
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            ensure!(
                len > 0,
                "virDomainCoreDump succeeded but {path} is missing or empty"
            );
            c.expect_state(&d, ACTIVE, "after virDomainCoreDump")
        },
    );
    ctx.check(
        "lifecycle/save-restore",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainSave],
        |c| {
            let d = running(c)?;
            let path = c.scratch_path("save");
            ok("virDomainSave", d.save(&path))?;
            ensure!(
                std::path::Path::new(&path).exists(),
                "virDomainSave succeeded but wrote no {path}"
            );
            c.expect_state(&d, INACTIVE, "after virDomainSave")?;
            if c.has(Op::DomainRestore) {
                ok("virDomainRestore", c.rw()?.restore_domain(&path))?;
                let now = refreshed(c, &d)?;
                if c.has(Op::DomainLookupByUuid) {
                    ensure!(now.id() > 0, "the restored domain has id {}", now.id());
                }
                c.expect_state(&d, &[DomainState::Running], "after virDomainRestore")?;
                expect_err(
                    "restoring the image of a running domain",
                    c.rw()?.restore_domain(&path),
                    ErrorCode::OperationInvalid,
                )?;
            } else {
                ok("starting the saved domain again", d.create())?;
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/shutdown",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainShutdown],
        |c| {
            let d = running(c)?;
            ok("virDomainShutdown", d.shutdown())?;
            // A guest stops when it honours the request; a guest without an OS never does.
            let start = Instant::now();
            while c.is_active(&d)? == Some(true) && start.elapsed() < SHUTDOWN_GRACE {
                std::thread::sleep(Duration::from_millis(100));
            }
            if c.is_active(&d)? == Some(false) {
                c.expect_state(&d, INACTIVE, "after the guest shut down")?;
                expect_err(
                    "shutting down a shut-off domain",
                    d.shutdown(),
                    ErrorCode::OperationInvalid,
                )?;
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/destroy",
        &[Op::DomainDefineXml, Op::DomainCreate, Op::DomainDestroy],
        |c| {
            let d = life(c)?;
            let conn = c.rw()?;
            if c.is_active(&d)? == Some(false) {
                ok("starting the domain again", d.create())?;
            }
            ok("virDomainDestroy", d.destroy())?;
            c.expect_state(&d, &[DomainState::Shutoff], "after virDomainDestroy")?;
            let now = refreshed(c, &d)?;
            if c.has(Op::DomainLookupByUuid) {
                ensure!(now.id() == -1, "a destroyed domain has id {}", now.id());
            }
            if c.has(Op::DomainLookupByName) {
                ok(
                    "looking up a destroyed persistent domain",
                    conn.lookup_domain_by_name(&d.name()),
                )?;
            }
            if c.has(Op::ListDefinedDomains) {
                let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
                ensure!(
                    names.contains(&d.name()),
                    "the destroyed persistent domain is not listed as defined"
                );
            }
            expect_err(
                "destroying a shut-off domain",
                d.destroy(),
                ErrorCode::OperationInvalid,
            )
        },
    );
    let undefine_also = [
        Op::DomainLookupByName,
        Op::DomainLookupByUuid,
        Op::ListDefinedDomains,
        Op::DomainGetInfo,
    ];
    ctx.check_also(
        "lifecycle/undefine",
        &[Op::DomainDefineXml, Op::DomainUndefine],
        &undefine_also,
        |c| {
            let d = life(c)?;
            let conn = c.rw()?;
            if c.is_active(&d)? == Some(true) && c.has(Op::DomainDestroy) {
                ok("virDomainDestroy", d.destroy())?;
            }
            ok("virDomainUndefine", d.undefine())?;
            c.life = None;
            if c.has(Op::DomainLookupByName) {
                expect_err(
                    "looking up an undefined domain by name",
                    conn.lookup_domain_by_name(&d.name()),
                    ErrorCode::NoDomain,
                )?;
            }
            if c.has(Op::DomainLookupByUuid) {
                expect_err(
                    "looking up an undefined domain by UUID",
                    conn.lookup_domain_by_uuid(&d.uuid()),
                    ErrorCode::NoDomain,
                )?;
            }
            if c.has(Op::ListDefinedDomains) {
                let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
                ensure!(
                    !names.contains(&d.name()),
                    "the undefined domain is still listed"
                );
            }
            expect_err(
                "undefining an undefined domain",
                d.undefine(),
                ErrorCode::NoDomain,
            )?;
            if c.has(Op::DomainGetInfo) {
                expect_err(
                    "virDomainGetInfo of an undefined domain",
                    d.info(),
                    ErrorCode::NoDomain,
                )?;
            }
            Ok(())
        },
    );
}

/// A transient domain: created running, gone once stopped.
pub(crate) fn transient(ctx: &mut Ctx) {
    let also = [
        Op::DomainIsPersistent,
        Op::ListDefinedDomains,
        Op::DomainLookupByName,
        Op::DomainLookupByUuid,
    ];
    ctx.check_also(
        "lifecycle/create-transient",
        &[Op::DomainCreateXml, Op::DomainDestroy],
        &also,
        |c| {
            let g = c.guest()?;
            let conn = c.rw()?;
            let name = c.unique("transient");
            let uuid = uuid::Uuid::new_v4();
            let d = ok(
                "virDomainCreateXML",
                conn.create_domain_xml(&g.xml(&name, uuid), 0),
            )?;
            c.created_domains.push((uuid, name.clone()));
            ensure!(
                d.name() == name && d.uuid() == uuid,
                "virDomainCreateXML gave {:?} {}",
                d.name(),
                d.uuid()
            );
            ensure!(
                d.id() > 0,
                "a created domain runs, but its id is {}",
                d.id()
            );
            c.expect_state(&d, &[DomainState::Running], "after virDomainCreateXML")?;
            if c.has(Op::DomainIsPersistent) {
                ensure!(
                    !ok("virDomainIsPersistent", d.is_persistent())?,
                    "a domain created from XML is persistent"
                );
            }
            if c.has(Op::ListDefinedDomains) {
                let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
                ensure!(
                    !names.contains(&name),
                    "the transient domain is listed as defined"
                );
            }
            expect_err(
                "creating a second domain of the same name and UUID",
                conn.create_domain_xml(&g.xml(&name, uuid), 0),
                ErrorCode::OperationInvalid,
            )
            .or_else(|v| match v {
                // libvirt's drivers differ here: operation-invalid (already active) or dom-exist.
                Verdict::Fail(m) if m.contains("dom-exist") => Ok(()),
                other => Err(other),
            })?;
            ok("virDomainDestroy", d.destroy())?;
            if c.has(Op::DomainLookupByName) {
                expect_err(
                    "looking up a destroyed transient domain",
                    conn.lookup_domain_by_name(&name),
                    ErrorCode::NoDomain,
                )?;
            }
            if c.has(Op::DomainLookupByUuid) {
                expect_err(
                    "looking up a destroyed transient domain by UUID",
                    conn.lookup_domain_by_uuid(&uuid),
                    ErrorCode::NoDomain,
                )?;
            }
            Ok(())
        },
    );
    ctx.check("lifecycle/create-bad-xml", &[Op::DomainCreateXml], |c| {
        let conn = c.rw()?;
        let r = conn.create_domain_xml("<domain type='test'><name>cut-short", 0);
        if let Err(e) = &r
            && is_panic(e)
        {
            return Err(Verdict::Fail(describe(e)));
        }
        expect_err(
            "virDomainCreateXML with XML cut short",
            r,
            ErrorCode::XmlError,
        )
    });
}
