//! A domain's messages (virDomainGetMessages): what libvirt guarantees of them whichever driver
//! answers, checked on the existing domains through a read-only connection.

use virtkit::{ErrorCode, Op, VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING};

use crate::domains::existing_domains;
use crate::suite::{Ctx, Verdict, ensure, expect_err, ok};

const TAINTED: &str = "tainted: ";
const DEPRECATED: &str = "deprecated configuration: ";

pub(crate) fn checks(ctx: &mut Ctx) {
    // Every message is a taint or a deprecation in libvirt's words, taints first, each taint
    // once; the flags select the two kinds (none: both); other flag bits are refused.
    ctx.check("domains/messages", &[Op::DomainGetMessages], |c| {
        let conn = c.ro()?;
        let domains = existing_domains(c, &conn)?;
        if domains.is_empty() {
            return Err(Verdict::Skip("no domain to ask".into()));
        }
        for d in &domains {
            let name = d.name();
            let all = ok(
                format!("virDomainGetMessages({name:?}, 0)"),
                d.messages(0),
            )?;
            let taints: Vec<&String> = all.iter().filter(|m| m.starts_with(TAINTED)).collect();
            let deprecations: Vec<&String> =
                all.iter().filter(|m| m.starts_with(DEPRECATED)).collect();
            ensure!(
                taints.len() + deprecations.len() == all.len(),
                "{name:?}: a message is neither {TAINTED:?} nor {DEPRECATED:?}: {all:?}"
            );
            ensure!(
                all.iter()
                    .take(taints.len())
                    .all(|m| m.starts_with(TAINTED)),
                "{name:?}: the taints do not come first: {all:?}"
            );
            let mut unique = taints.clone();
            unique.sort();
            unique.dedup();
            ensure!(
                unique.len() == taints.len(),
                "{name:?}: a taint is reported twice: {all:?}"
            );
            let only_taints = ok(
                format!("virDomainGetMessages({name:?}, TAINTING)"),
                d.messages(VK_DOMAIN_MESSAGE_TAINTING),
            )?;
            ensure!(
                only_taints.iter().eq(taints.iter().copied()),
                "{name:?}: VIR_DOMAIN_MESSAGE_TAINTING gives {only_taints:?}, not the taints of {all:?}"
            );
            let only_deprecations = ok(
                format!("virDomainGetMessages({name:?}, DEPRECATION)"),
                d.messages(VK_DOMAIN_MESSAGE_DEPRECATION),
            )?;
            ensure!(
                only_deprecations.iter().eq(deprecations.iter().copied()),
                "{name:?}: VIR_DOMAIN_MESSAGE_DEPRECATION gives {only_deprecations:?}, not the deprecations of {all:?}"
            );
            let both = ok(
                format!("virDomainGetMessages({name:?}, TAINTING|DEPRECATION)"),
                d.messages(VK_DOMAIN_MESSAGE_TAINTING | VK_DOMAIN_MESSAGE_DEPRECATION),
            )?;
            ensure!(
                both == all,
                "{name:?}: both flags give {both:?}, no flag {all:?}"
            );
            expect_err(
                format!("virDomainGetMessages({name:?}) with an unknown flag bit"),
                d.messages(1 << 30),
                ErrorCode::InvalidArg,
            )?;
        }
        Ok(())
    });
}
