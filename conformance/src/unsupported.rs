//! Every NULL entry answers "not supported", naming its libvirt API.

use virtkit::{Domain, ErrorCode, Network, Op};
use virtkit_loader::Opened;

use crate::calls::Args;
use crate::op_calls::{via_core, via_loader};
use crate::report::Outcome;
use crate::suite::{Ctx, code_name, describe};

/// A domain the core can name: an existing one, else one the suite defines (and removes).
fn some_domain(c: &mut Ctx) -> (Option<Domain>, bool) {
    let Some(rw) = c.rw.clone() else {
        return (None, false);
    };
    let active = (c.has(Op::ListDomains) && c.has(Op::DomainLookupById))
        .then(|| rw.list_domains().ok()?.first().copied())
        .flatten()
        .and_then(|id| rw.lookup_domain_by_id(id).ok());
    if active.is_some() {
        return (active, false);
    }
    let defined = (c.has(Op::ListDefinedDomains) && c.has(Op::DomainLookupByName))
        .then(|| rw.list_defined_domains().ok()?.first().cloned())
        .flatten()
        .and_then(|n| rw.lookup_domain_by_name(&n).ok());
    if defined.is_some() {
        return (defined, false);
    }
    if let (true, Ok(g)) = (c.has(Op::DomainDefineXml), c.guest()) {
        let name = c.unique("not-supported");
        let uuid = uuid::Uuid::new_v4();
        if let Ok(d) = rw.define_domain_xml(&g.xml(&name, uuid)) {
            c.created_domains.push((uuid, name.clone()));
            return (Some(d), true);
        }
    }
    (None, false)
}

fn some_network(c: &Ctx) -> Option<Network> {
    let rw = c.rw.clone()?;
    if !c.has(Op::NetworkLookupByName) {
        return None;
    }
    let mut names = Vec::new();
    if c.has(Op::ListNetworks) {
        names.extend(rw.list_networks().unwrap_or_default());
    }
    if c.has(Op::ListDefinedNetworks) {
        names.extend(rw.list_defined_networks().unwrap_or_default());
    }
    names
        .first()
        .and_then(|n| rw.lookup_network_by_name(n).ok())
}

pub(crate) fn checks(ctx: &mut Ctx) {
    let null: Vec<Op> = Op::ALL
        .iter()
        .copied()
        .filter(|op| !ctx.has(*op) && !matches!(op, Op::Open | Op::Close))
        .collect();
    if null.is_empty() {
        ctx.skip(
            "not-supported/none",
            &[],
            "the driver implements every operation",
        );
        return;
    }
    let Some(rw) = ctx.rw.clone() else {
        ctx.skip(
            "not-supported/all",
            &[],
            "no read-write connection (see connect/open)",
        );
        return;
    };
    let (dom, made) = some_domain(ctx);
    let net = some_network(ctx);
    let domain_xml = ctx
        .guest()
        .map(|g| g.xml(&format!("{}-never", ctx.tag), uuid::Uuid::new_v4()))
        .unwrap_or_else(|_| {
            "<domain type='test'><name>never</name><os><type>hvm</type></os></domain>".into()
        });
    let network_xml =
        crate::guest::network_xml(&format!("{}-never", ctx.tag), uuid::Uuid::new_v4());
    let path = ctx.scratch_path("not-supported");
    let args = Args {
        dom: dom.as_ref(),
        net: net.as_ref(),
        domain_xml: &domain_xml,
        network_xml: &network_xml,
        path: &path,
    };
    let uri = ctx.uri.clone().unwrap_or_default();
    let direct = match ctx.driver.open(&uri, 0) {
        Ok(Opened::Conn(c)) => Some(c),
        _ => None,
    };

    for op in null {
        let api = op.info().api;
        let name = format!("not-supported/{}", op.info().field);
        let judge = |code: ErrorCode, message: &str, how: &str| -> Outcome {
            if code != ErrorCode::NoSupport {
                Outcome::Failed(format!(
                    "{api} of a NULL entry {how} gives {}: {message}, not no-support",
                    code_name(code)
                ))
            } else if !message.contains(api) {
                Outcome::Failed(format!(
                    "the no-support error {how} does not name {api}: {message}"
                ))
            } else {
                Outcome::Passed
            }
        };
        let outcome = match via_core(op, &rw, &args) {
            Some(Ok(())) => Outcome::Failed(format!("{api} succeeded although its entry is NULL")),
            Some(Err(e)) => judge(e.code, &e.message, "through the core API"),
            None => match direct.as_ref().and_then(|c| via_loader(op, c, &args)) {
                Some(Ok(())) => Outcome::Failed(format!(
                    "{api} succeeded through the loader although its entry is NULL"
                )),
                Some(Err(e)) => judge(
                    e.code,
                    &e.message,
                    "through the loader (the core API cannot name an object here)",
                ),
                None => Outcome::Skipped("no connection through the loader".into()),
            },
        };
        ctx.report.push(&name, &[op.info().field], outcome);
    }
    drop(direct);
    // `Domain::state` answers from virDomainGetInfo when the driver lacks virDomainGetState.
    if let (false, true, Some(d)) = (
        ctx.has(Op::DomainGetState),
        ctx.has(Op::DomainGetInfo),
        dom.as_ref(),
    ) {
        let outcome = match (d.state(), d.info()) {
            (Ok((s, 0)), Ok(i)) if s == i.state => Outcome::Passed,
            (s, i) => Outcome::Failed(format!(
                "the core's virDomainGetState {s:?} disagrees with virDomainGetInfo {i:?}"
            )),
        };
        ctx.report.push(
            "not-supported/state-from-info",
            &["domain_get_info"],
            outcome,
        );
    }
    let made = if made && ctx.has(Op::DomainUndefine) {
        dom
    } else {
        None
    };
    if let Some(Err(e)) = made.map(|d| d.undefine()) {
        ctx.report.push(
            "not-supported/cleanup",
            &["domain_undefine"],
            Outcome::Failed(describe(&e)),
        );
    }
}
