//! Phase 7, stop: a shutdown request (honoured or not within the grace time), then destroy,
//! after which the persistent domain is shut off and still defined.

use std::time::{Duration, Instant};

use virtkit::{DomainState, ErrorCode, Op};

use super::{INACTIVE, LifeDomain, SHUTDOWN_GRACE, life, refreshed, running};
use crate::suite::{Ctx, ensure, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
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
}
