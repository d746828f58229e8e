//! Robustness (threads, odd names, panics) and cleanup.

use virtkit::{Connect, ErrorCode, Op};

use crate::report::Outcome;
use crate::suite::{Ctx, Step, Verdict, describe, ensure, expect_err, is_panic, ok};

/// What one thread of the concurrency check saw: its errors, and the domains it defined.
type ThreadOutcome = (Vec<String>, Vec<(uuid::Uuid, String)>);

/// Threads of the concurrency check run this many rounds of reads.
const ROUNDS: usize = 20;
/// And define/undefine this many domains each.
const CYCLES: usize = 3;

/// The objects that exist, as the lists show them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    active_ids: Option<Vec<i32>>,
    defined: Option<Vec<String>>,
    networks: Option<Vec<String>>,
    defined_networks: Option<Vec<String>>,
}

impl Snapshot {
    pub fn take(c: &Ctx) -> Step<Snapshot> {
        let conn =
            c.rw.clone()
                .or_else(|| c.ro.clone())
                .ok_or_else(|| Verdict::Skip("no connection".into()))?;
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        Ok(Snapshot {
            active_ids: if c.has(Op::ListDomains) {
                let mut ids = ok("virConnectListDomains", conn.list_domains())?;
                ids.sort_unstable();
                Some(ids)
            } else {
                None
            },
            defined: if c.has(Op::ListDefinedDomains) {
                Some(sorted(ok(
                    "virConnectListDefinedDomains",
                    conn.list_defined_domains(),
                )?))
            } else {
                None
            },
            networks: if c.has(Op::ListNetworks) {
                Some(sorted(ok("virConnectListNetworks", conn.list_networks())?))
            } else {
                None
            },
            defined_networks: if c.has(Op::ListDefinedNetworks) {
                Some(sorted(ok(
                    "virConnectListDefinedNetworks",
                    conn.list_defined_networks(),
                )?))
            } else {
                None
            },
        })
    }

    /// What differs, for a failure message.
    pub fn difference(&self, after: &Snapshot) -> String {
        let mut out = Vec::new();
        if self.active_ids != after.active_ids {
            out.push(format!(
                "active domain ids {:?} became {:?}",
                self.active_ids, after.active_ids
            ));
        }
        if self.defined != after.defined {
            out.push(format!(
                "defined domains {:?} became {:?}",
                self.defined, after.defined
            ));
        }
        if self.networks != after.networks {
            out.push(format!(
                "active networks {:?} became {:?}",
                self.networks, after.networks
            ));
        }
        if self.defined_networks != after.defined_networks {
            out.push(format!(
                "defined networks {:?} became {:?}",
                self.defined_networks, after.defined_networks
            ));
        }
        out.join("; ")
    }
}

/// Defines a domain called `name`; on success the name must come back exactly, everywhere.
/// A clean refusal (an error that is not a panic) is allowed: drivers may limit names.
fn name_round_trip(c: &mut Ctx, name: &str, what: &str) -> Step {
    let g = c.guest()?;
    let conn = c.rw()?;
    let uuid = uuid::Uuid::new_v4();
    let d = match conn.define_domain_xml(&g.xml(name, uuid)) {
        Err(e) if is_panic(&e) => {
            return Err(Verdict::Fail(format!(
                "defining a domain with {what}: {}",
                describe(&e)
            )));
        }
        Err(_) => {
            if c.has(Op::DomainLookupByUuid) {
                expect_err(
                    format!("looking up the refused domain with {what}"),
                    conn.lookup_domain_by_uuid(&uuid),
                    ErrorCode::NoDomain,
                )?;
            }
            return Ok(());
        }
        Ok(d) => d,
    };
    c.created_domains.push((uuid, name.to_string()));
    ensure!(
        d.name() == name,
        "a domain defined with {what} came back as {:?}",
        d.name()
    );
    if c.has(Op::DomainLookupByName) {
        let by_name = ok(
            format!("looking up {what}"),
            conn.lookup_domain_by_name(name),
        )?;
        ensure!(
            by_name.uuid() == uuid && by_name.name() == name,
            "looking up {what} found {:?}",
            by_name.name()
        );
    }
    if c.has(Op::ListDefinedDomains) {
        let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
        ensure!(
            names.iter().any(|n| n == name),
            "{what} is not listed exactly among the defined domains"
        );
    }
    if c.has(Op::DomainGetXmlDesc) {
        let xml = ok("virDomainGetXMLDesc", d.xml_desc(0))?;
        let def = virtkit_xml::DomainDef::parse(&xml).map_err(|e| {
            Verdict::Fail(format!(
                "the XML of the domain with {what} does not parse: {e}"
            ))
        })?;
        ensure!(
            def.name == name,
            "the XML of the domain with {what} names it {:?}",
            def.name
        );
    }
    if c.has(Op::DomainUndefine) {
        ok(format!("undefining the domain with {what}"), d.undefine())?;
    }
    Ok(())
}

pub(crate) fn checks(ctx: &mut Ctx) {
    ctx.check("robustness/long-name", &[Op::DomainLookupByName], |c| {
        let conn = c.rw().or_else(|_| c.ro())?;
        let huge = "x".repeat(100_000);
        expect_err(
            "looking up a 100 000-byte name",
            conn.lookup_domain_by_name(&huge),
            ErrorCode::NoDomain,
        )?;
        if c.has(Op::DomainDefineXml) && c.guest().is_ok() && c.rw.is_some() {
            let name = format!("{}-{}", c.tag, "long".repeat(250));
            name_round_trip(c, &name, "a 1 000-byte name")?;
        }
        Ok(())
    });
    ctx.check(
        "robustness/non-ascii-name",
        &[Op::DomainLookupByName],
        |c| {
            let conn = c.rw().or_else(|_| c.ro())?;
            let name = format!("{}-çé-名前-🙂", c.tag);
            expect_err(
                "looking up an unknown non-ASCII name",
                conn.lookup_domain_by_name(&name),
                ErrorCode::NoDomain,
            )?;
            if c.has(Op::DomainDefineXml) && c.guest().is_ok() && c.rw.is_some() {
                name_round_trip(c, &name, "a non-ASCII name")?;
            }
            Ok(())
        },
    );
    ctx.check("robustness/embedded-nul", &[Op::DomainLookupByName], |c| {
        // Strings cross as (pointer, length): "name\0junk" is not "name".
        let conn = c.rw().or_else(|_| c.ro())?;
        let existing = match c.has(Op::ListDefinedDomains) {
            true => conn
                .list_defined_domains()
                .ok()
                .and_then(|v| v.into_iter().next()),
            false => None,
        };
        let existing = match existing {
            Some(n) => n,
            None if c.has(Op::ListDomains) && c.has(Op::DomainLookupById) => {
                match ok("virConnectListDomains", conn.list_domains())?.first() {
                    Some(id) => ok("virDomainLookupByID", conn.lookup_domain_by_id(*id))?.name(),
                    None => return Err(Verdict::Skip("no existing domain to misname".into())),
                }
            }
            None => return Err(Verdict::Skip("no existing domain to misname".into())),
        };
        let misnamed = format!("{existing}\0junk");
        expect_err(
            format!("looking up {misnamed:?}"),
            conn.lookup_domain_by_name(&misnamed),
            ErrorCode::NoDomain,
        )
    });
    ctx.check("robustness/threads", &[], threads);
}

fn threads(c: &mut Ctx) -> Step {
    if !c.driver.thread_safe() || c.others.iter().any(|d| !d.thread_safe()) {
        return Err(Verdict::Skip(
            "the driver does not declare VK_DRIVER_THREAD_SAFE: the core serialises the calls of each connection".into(),
        ));
    }
    let rw = c.rw()?;
    let uri = c.uri.clone().unwrap_or_default();
    let registry = c.registry.clone();
    let has = |op| c.has(op);
    // Objects nobody else touches during the check: the existing domains.
    let mut stable = Vec::new();
    if has(Op::ListDefinedDomains) && has(Op::DomainLookupByName) {
        for n in ok("virConnectListDefinedDomains", rw.list_defined_domains())? {
            stable.push(ok("virDomainLookupByName", rw.lookup_domain_by_name(&n))?);
        }
    }
    if has(Op::ListDomains) && has(Op::DomainLookupById) {
        for id in ok("virConnectListDomains", rw.list_domains())? {
            stable.push(ok("virDomainLookupByID", rw.lookup_domain_by_id(id))?);
        }
    }
    let stable: Vec<(String, uuid::Uuid)> = stable.iter().map(|d| (d.name(), d.uuid())).collect();
    let cycle = has(Op::DomainDefineXml) && has(Op::DomainUndefine) && c.guest().is_ok();
    let guest = c.guest().ok();
    let ops: Vec<Op> = Op::ALL.iter().copied().filter(|op| has(*op)).collect();
    let tag = c.tag.clone();
    let n = c.opts.threads.max(2);

    let results: Vec<std::thread::Result<ThreadOutcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let shared = rw.clone();
                let (uri, registry, stable, ops, guest, tag) = (
                    uri.clone(),
                    registry.clone(),
                    stable.clone(),
                    ops.clone(),
                    guest.clone(),
                    tag.clone(),
                );
                s.spawn(move || {
                    let has = |op: Op| ops.contains(&op);
                    let mut errors = Vec::new();
                    let mut made = Vec::new();
                    // Half the threads share one connection, the others open their own.
                    let conn: Connect = if t % 2 == 0 {
                        match Connect::open_with(Some(&uri), false, &registry) {
                            Ok(c) => c,
                            Err(e) => {
                                return (
                                    vec![format!("thread {t}: opening {uri}: {}", describe(&e))],
                                    made,
                                );
                            }
                        }
                    } else {
                        shared
                    };
                    let mut note = |what: String, e: &virtkit::Error| {
                        errors.push(format!("thread {t}: {what}: {}", describe(e)))
                    };
                    for _ in 0..ROUNDS {
                        if has(Op::ListDomains)
                            && let Err(e) = conn.list_domains()
                        {
                            note("virConnectListDomains".into(), &e);
                        }
                        if has(Op::NumOfDomains)
                            && let Err(e) = conn.num_of_domains()
                        {
                            note("virConnectNumOfDomains".into(), &e);
                        }
                        if has(Op::GetType)
                            && let Err(e) = conn.get_type()
                        {
                            note("virConnectGetType".into(), &e);
                        }
                        for (name, uuid) in &stable {
                            if !has(Op::DomainLookupByName) {
                                break;
                            }
                            match conn.lookup_domain_by_name(name) {
                                Ok(d) if d.uuid() != *uuid => note(
                                    format!("looking up {name:?}"),
                                    &virtkit_error(format!("found {}", d.uuid())),
                                ),
                                Ok(d) => {
                                    if has(Op::DomainGetInfo)
                                        && let Err(e) = d.info()
                                    {
                                        note(format!("virDomainGetInfo({name:?})"), &e);
                                    }
                                    if has(Op::DomainGetXmlDesc)
                                        && let Err(e) = d.xml_desc(0)
                                    {
                                        note(format!("virDomainGetXMLDesc({name:?})"), &e);
                                    }
                                }
                                Err(e) => note(format!("looking up {name:?}"), &e),
                            }
                        }
                    }
                    if let (true, Some(g)) = (cycle, guest) {
                        for k in 0..CYCLES {
                            let name = format!("{tag}-thread{t}-{k}");
                            let uuid = uuid::Uuid::new_v4();
                            let d = match conn.define_domain_xml(&g.xml(&name, uuid)) {
                                Ok(d) => d,
                                Err(e) => {
                                    note(format!("defining {name:?}"), &e);
                                    continue;
                                }
                            };
                            made.push((uuid, name.clone()));
                            if has(Op::DomainCreate) && has(Op::DomainDestroy) {
                                match d.create() {
                                    // A component this machine lacks (a hypervisor daemon):
                                    // the suite's rule for no-connect, the start is skipped.
                                    Err(e) if e.code == ErrorCode::NoConnect => {}
                                    Err(e) => note(format!("starting {name:?}"), &e),
                                    Ok(()) => {
                                        if let Err(e) = d.destroy() {
                                            note(format!("destroying {name:?}"), &e);
                                        }
                                    }
                                }
                            }
                            if let Err(e) = d.undefine() {
                                note(format!("undefining {name:?}"), &e);
                            } else if has(Op::DomainLookupByName) {
                                match conn.lookup_domain_by_name(&name) {
                                    Err(e) if e.code == ErrorCode::NoDomain => {}
                                    Err(e) => {
                                        note(format!("looking up the undefined {name:?}"), &e)
                                    }
                                    Ok(_) => note(
                                        format!("looking up the undefined {name:?}"),
                                        &virtkit_error("found it".into()),
                                    ),
                                }
                            }
                        }
                    }
                    (errors, made)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });

    let mut errors = Vec::new();
    for (t, r) in results.into_iter().enumerate() {
        match r {
            Ok((e, made)) => {
                errors.extend(e);
                c.created_domains.extend(made);
            }
            Err(_) => errors.push(format!("thread {t} panicked")),
        }
    }
    ensure!(
        errors.is_empty(),
        "{} of the calls from {n} threads failed; first: {}",
        errors.len(),
        errors
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(())
}

fn virtkit_error(message: String) -> virtkit::Error {
    virtkit::Error {
        code: ErrorCode::InternalError,
        domain: 0,
        message,
    }
}

/// Removes whatever the suite created, then checks that nothing is left.
pub(crate) fn cleanup(ctx: &mut Ctx) {
    let Some(rw) = ctx.rw.clone() else { return };
    let find_dom = |c: &Ctx, uuid: &uuid::Uuid, name: &str| {
        if c.has(Op::DomainLookupByUuid) {
            rw.lookup_domain_by_uuid(uuid).ok()
        } else if c.has(Op::DomainLookupByName) {
            rw.lookup_domain_by_name(name)
                .ok()
                .filter(|d| d.uuid() == *uuid)
        } else {
            None
        }
    };
    let find_net = |c: &Ctx, uuid: &uuid::Uuid, name: &str| {
        if c.has(Op::NetworkLookupByUuid) {
            rw.lookup_network_by_uuid(uuid).ok()
        } else if c.has(Op::NetworkLookupByName) {
            rw.lookup_network_by_name(name)
                .ok()
                .filter(|n| n.uuid() == *uuid)
        } else {
            None
        }
    };
    for (uuid, name) in ctx.created_domains.clone() {
        if let Some(d) = find_dom(ctx, &uuid, &name) {
            if d.id() >= 0 && ctx.has(Op::DomainDestroy) {
                let _ = d.destroy();
            }
            if ctx.has(Op::DomainUndefine) {
                let _ = d.undefine();
            }
        }
    }
    for (uuid, name) in ctx.created_networks.clone() {
        if let Some(n) = find_net(ctx, &uuid, &name) {
            if ctx.has(Op::NetworkDestroy) {
                let _ = n.destroy();
            }
            if ctx.has(Op::NetworkUndefine) {
                let _ = n.undefine();
            }
        }
    }
    ctx.check("cleanup/nothing-left", &[], |c| {
        let left: Vec<String> = c
            .created_domains
            .iter()
            .filter(|(u, n)| find_dom(c, u, n).is_some())
            .map(|(_, n)| format!("domain {n:?}"))
            .chain(
                c.created_networks
                    .iter()
                    .filter(|(u, n)| find_net(c, u, n).is_some())
                    .map(|(_, n)| format!("network {n:?}")),
            )
            .collect();
        ensure!(
            left.is_empty(),
            "the suite could not remove what it created: {}",
            left.join(", ")
        );
        let Some(before) = c.baseline.clone() else {
            return Err(Verdict::Skip(
                "the lists could not be read at the start".into(),
            ));
        };
        let after = Snapshot::take(c)?;
        ensure!(
            before == after,
            "the driver's lists differ from the start of the run: {}",
            before.difference(&after)
        );
        Ok(())
    });
}

/// Whether any entry panicked during the run (caught by the SDK's shims, reported, survived).
pub(crate) fn no_panics(ctx: &mut Ctx) {
    let panics: Vec<String> = ctx
        .report
        .checks
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(r) if r.contains("panicked") => Some(c.name.clone()),
            _ => None,
        })
        .collect();
    let outcome = if panics.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(format!(
            "entries panicked (each was caught and reported as an error; the process survived): {}",
            panics.join(", ")
        ))
    };
    ctx.report.push("robustness/panics", &[], outcome);
}
