//! A transient domain: created running, gone once stopped; bad XML creates nothing.

use virtkit::{DomainState, ErrorCode, Op};

use crate::suite::{Ctx, Verdict, describe, ensure, expect_err, is_panic, ok};

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
