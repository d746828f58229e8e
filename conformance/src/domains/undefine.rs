//! Phase 8, undefine: the domain is gone from every lookup and list, and a second undefine is
//! refused.

use virtkit::{ErrorCode, Op};

use super::{LifeDomain, life};
use crate::suite::{Ctx, ensure, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
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
