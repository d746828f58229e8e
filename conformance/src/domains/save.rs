//! Phase 6, save and restore: saving stops the guest and writes the image, restoring runs it
//! again (or, without virDomainRestore, starting it does).

use virtkit::{DomainState, ErrorCode, Op};

use super::{INACTIVE, LifeDomain, refreshed, running};
use crate::suite::{Ctx, ensure, expect_err, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
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
}
