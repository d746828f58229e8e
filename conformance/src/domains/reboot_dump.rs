//! Phase 5, reboot and core dump: both leave the guest active; the dump is written.

use virtkit::Op;

use super::{ACTIVE, LifeDomain, running};
use crate::suite::{Ctx, ensure, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
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
}
