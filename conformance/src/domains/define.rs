//! Phase 1, define: the suite defines its domain, finds it listed and looked up alike, shut off,
//! described by XML that round-trips; bad XML defines nothing, and what needs a running guest
//! is refused.

use virtkit::VK_DOMAIN_XML_INACTIVE as XML_INACTIVE;
use virtkit::{DomainState, ErrorCode, Op};
use virtkit_xml::equivalent_domains;

use super::{LifeDomain, info_matches, life, parse, same_by_name_and_uuid, wrong_state};
use crate::guest::MEMORY_KIB;
use crate::suite::{Ctx, Verdict, ensure, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, subject: &LifeDomain) {
    let name = subject.name.clone();
    let uuid = subject.uuid;

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
}
