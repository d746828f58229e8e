//! Phase 4, suspend and resume: paused and running again, each refused twice in a row.

use virtkit::{DomainState, ErrorCode, Op};

use super::{LifeDomain, running};
use crate::suite::{Ctx, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
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
}
