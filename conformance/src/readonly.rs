//! A read-only connection: every mutating operation the driver declares (and every privileged
//! one, such as the native-format conversions) is refused by the core, before dispatch, and
//! nothing changes in the driver.

use virtkit::{Domain, ErrorCode, Network, OPS, Op, OpKind, error_domain};

use crate::calls::Args;
use crate::op_calls::via_core;
use crate::report::Outcome;
use crate::robustness::Snapshot;
use crate::suite::{Ctx, Step, Verdict, describe, ensure, ok};

/// What the target objects look like, to prove that nothing changed.
#[derive(Debug, PartialEq)]
struct ObjectState {
    domain: Option<(String, Option<String>, Option<bool>)>,
    network: Option<(String, Option<String>, Option<bool>)>,
}

fn object_state(c: &Ctx, dom: Option<&Domain>, net: Option<&Network>) -> ObjectState {
    let domain = dom.map(|d| {
        (
            // Everything but the CPU time, which moves on its own.
            format!(
                "{:?}",
                if c.has(Op::DomainGetInfo) {
                    d.info()
                        .ok()
                        .map(|i| (i.state, i.max_mem_kib, i.memory_kib, i.nr_virt_cpu))
                } else {
                    None
                }
            ),
            if c.has(Op::DomainGetXmlDesc) {
                d.xml_desc(0).ok()
            } else {
                None
            },
            if c.has(Op::DomainGetAutostart) {
                d.autostart().ok()
            } else {
                None
            },
        )
    });
    let network = net.map(|n| {
        (
            n.name().to_string(),
            if c.has(Op::NetworkGetXmlDesc) {
                n.xml_desc(0).ok()
            } else {
                None
            },
            if c.has(Op::NetworkGetAutostart) {
                n.autostart().ok()
            } else {
                None
            },
        )
    });
    ObjectState { domain, network }
}

/// A domain named through the read-only connection: one the suite defines for the purpose, else
/// an existing one.
fn target_domain(c: &mut Ctx) -> Option<Domain> {
    let ro = c.ro.clone()?;
    let make = c.has(Op::DomainDefineXml) && c.has(Op::DomainLookupByUuid);
    if let (true, Ok(g), Some(rw)) = (make, c.guest(), c.rw.clone()) {
        let name = c.unique("read-only");
        let uuid = uuid::Uuid::new_v4();
        if rw.define_domain_xml(&g.xml(&name, uuid)).is_ok() {
            c.created_domains.push((uuid, name.clone()));
            if let Ok(d) = ro.lookup_domain_by_uuid(&uuid) {
                return Some(d);
            }
        }
    }
    if c.has(Op::ListDomains)
        && c.has(Op::DomainLookupById)
        && let Some(id) = ro.list_domains().ok()?.first()
    {
        return ro.lookup_domain_by_id(*id).ok();
    }
    if c.has(Op::ListDefinedDomains)
        && c.has(Op::DomainLookupByName)
        && let Some(n) = ro.list_defined_domains().ok()?.first()
    {
        return ro.lookup_domain_by_name(n).ok();
    }
    None
}

fn target_network(c: &mut Ctx) -> Option<Network> {
    let ro = c.ro.clone()?;
    let make = c.has(Op::NetworkDefineXml) && c.has(Op::NetworkLookupByUuid);
    if let (true, Some(rw)) = (make, c.rw.clone()) {
        let name = c.unique("read-only-net");
        let uuid = uuid::Uuid::new_v4();
        if rw
            .define_network_xml(&crate::guest::network_xml(&name, uuid))
            .is_ok()
        {
            c.created_networks.push((uuid, name.clone()));
            if let Ok(n) = ro.lookup_network_by_uuid(&uuid) {
                return Some(n);
            }
        }
    }
    if c.has(Op::NetworkLookupByName) {
        let mut names = Vec::new();
        if c.has(Op::ListNetworks) {
            names.extend(ro.list_networks().unwrap_or_default());
        }
        if c.has(Op::ListDefinedNetworks) {
            names.extend(ro.list_defined_networks().unwrap_or_default());
        }
        if let Some(n) = names.first() {
            return ro.lookup_network_by_name(n).ok();
        }
    }
    None
}

pub(crate) fn checks(ctx: &mut Ctx) {
    let mutating: Vec<Op> = OPS
        .iter()
        .filter(|o| o.kind.refused_read_only())
        .map(|o| Op::ALL[o.index])
        .filter(|op| ctx.has(*op))
        .collect();
    let Some(ro) = ctx.ro.clone() else {
        ctx.skip(
            "read-only/refused",
            &[],
            "no read-only connection (see connect/open-read-only)",
        );
        return;
    };
    if mutating.is_empty() {
        ctx.skip(
            "read-only/refused",
            &[],
            "the driver implements no mutating operation",
        );
        return;
    }
    let dom = target_domain(ctx);
    let net = target_network(ctx);
    let before = Snapshot::take(ctx);
    let objects_before = object_state(ctx, dom.as_ref(), net.as_ref());
    let new_domain = ctx.unique("read-only-new");
    let new_network = ctx.unique("read-only-new-net");
    let domain_xml = ctx.guest().map(|g| g.xml(&new_domain, uuid::Uuid::new_v4())).unwrap_or_else(|_| {
        format!("<domain type='test'><name>{new_domain}</name><memory>65536</memory><os><type>hvm</type></os></domain>")
    });
    let network_xml = crate::guest::network_xml(&new_network, uuid::Uuid::new_v4());
    let path = ctx.scratch_path("read-only");
    let args = Args {
        dom: dom.as_ref(),
        net: net.as_ref(),
        domain_xml: &domain_xml,
        network_xml: &network_xml,
        path: &path,
    };

    for op in &mutating {
        let name = format!("read-only/{}", op.info().field);
        let outcome = match via_core(*op, &ro, &args) {
            None => Outcome::Skipped(format!(
                "no {} can be named through the read-only connection",
                if op.info().field.starts_with("network") {
                    "network"
                } else {
                    "domain"
                }
            )),
            Some(Ok(())) => Outcome::Failed(format!(
                "{} succeeded on a read-only connection",
                op.info().api
            )),
            Some(Err(e))
                if e.code == ErrorCode::OperationDenied && e.domain == error_domain::NONE =>
            {
                if e.message.contains(op.info().api) {
                    Outcome::Passed
                } else {
                    Outcome::Failed(format!(
                        "the refusal does not name {}: {}",
                        op.info().api,
                        e.message
                    ))
                }
            }
            Some(Err(e)) => Outcome::Failed(format!(
                "{} on a read-only connection should be refused by the core with operation-denied, got {} (error domain {})",
                op.info().api,
                describe(&e),
                e.domain
            )),
        };
        ctx.report.push(&name, &[op.info().field], outcome);
    }

    ctx.check("read-only/state-unchanged", &[], |c| {
        let after = Snapshot::take(c);
        match (&before, &after) {
            (Ok(b), Ok(a)) => ensure!(
                b == a,
                "the refused calls changed the driver: {}",
                b.difference(a)
            ),
            (_, Err(Verdict::Fail(m))) | (Err(Verdict::Fail(m)), _) => {
                return Err(Verdict::Fail(m.clone()));
            }
            _ => {}
        }
        let objects_after = object_state(c, dom.as_ref(), net.as_ref());
        ensure!(
            objects_before == objects_after,
            "a refused call changed the target objects: {objects_before:?} became {objects_after:?}"
        );
        ensure!(
            !std::path::Path::new(&path).exists(),
            "a refused call wrote {path}"
        );
        let rw = c.rw()?;
        if c.has(Op::DomainLookupByName) {
            ensure!(
                rw.lookup_domain_by_name(&new_domain).is_err(),
                "a refused call defined the domain {new_domain:?}"
            );
        }
        if c.has(Op::NetworkLookupByName) {
            ensure!(
                rw.lookup_network_by_name(&new_network).is_err(),
                "a refused call defined the network {new_network:?}"
            );
        }
        Ok(())
    });

    ctx.check("read-only/reads-allowed", &[], |c| {
        let read: Vec<Op> = OPS
            .iter()
            .filter(|o| o.kind == OpKind::Read)
            .map(|o| Op::ALL[o.index])
            .filter(|op| c.has(*op))
            .collect();
        if read.is_empty() {
            return Err(Verdict::Skip(
                "the driver implements no read operation".into(),
            ));
        }
        for op in read {
            if let Some(Err(e)) = via_core(op, &ro, &args) {
                ensure!(
                    e.code != ErrorCode::OperationDenied,
                    "{} is refused on a read-only connection: {}",
                    op.info().api,
                    e.message
                );
            }
        }
        Ok(())
    });

    // Remove the objects made for the purpose now rather than at the end.
    let cleanup = |c: &Ctx| -> Step {
        let rw = c.rw()?;
        if let Some(d) = &dom
            && c.created_domains.iter().any(|(u, _)| *u == d.uuid())
            && c.has(Op::DomainUndefine)
        {
            let d = ok("lookup", rw.lookup_domain_by_uuid(&d.uuid()))?;
            ok("undefine", d.undefine())?;
        }
        if let Some(n) = &net
            && c.created_networks.iter().any(|(u, _)| *u == n.uuid())
            && c.has(Op::NetworkUndefine)
        {
            let n = ok("lookup", rw.lookup_network_by_uuid(&n.uuid()))?;
            ok("undefine", n.undefine())?;
        }
        Ok(())
    };
    let _ = cleanup(ctx);
}
