//! The domains that exist before the suite: seen on the read-only connection, they must list,
//! count, look up and describe themselves consistently.

use virtkit::{Connect, Domain, ErrorCode, Op};

use super::{ACTIVE, INACTIVE, info_matches, parse, same_by_name_and_uuid};
use crate::suite::{Ctx, Step, Verdict, ensure, expect_err, ok};

/// At most this many existing domains are examined one by one.
const EXAMINE_AT_MOST: usize = 64;

/// The existing domains: names of the active ones (by id) and of the defined ones.
pub(crate) fn existing_domains(c: &Ctx, conn: &Connect) -> Step<Vec<Domain>> {
    let mut out = Vec::new();
    if c.has(Op::ListDomains) && c.has(Op::DomainLookupById) {
        for id in ok("virConnectListDomains", conn.list_domains())?
            .into_iter()
            .take(EXAMINE_AT_MOST)
        {
            out.push(ok(
                format!("virDomainLookupByID({id})"),
                conn.lookup_domain_by_id(id),
            )?);
        }
    }
    if c.has(Op::ListDefinedDomains) && c.has(Op::DomainLookupByName) {
        for n in ok("virConnectListDefinedDomains", conn.list_defined_domains())?
            .into_iter()
            .take(EXAMINE_AT_MOST)
        {
            out.push(ok(
                format!("virDomainLookupByName({n:?})"),
                conn.lookup_domain_by_name(&n),
            )?);
        }
    }
    Ok(out)
}

/// When the sandbox starts empty, gives the checks of existing domains something to examine: a
/// running domain and a defined one (removed at the end with everything the suite creates).
pub(crate) fn samples(ctx: &mut Ctx) {
    let (Some(rw), Ok(g)) = (ctx.rw.clone(), ctx.guest()) else {
        return;
    };
    if !ctx.has(Op::DomainDefineXml) {
        return;
    }
    let active =
        !ctx.has(Op::ListDomains) || rw.list_domains().map(|v| !v.is_empty()).unwrap_or(true);
    let defined = !ctx.has(Op::ListDefinedDomains)
        || rw
            .list_defined_domains()
            .map(|v| !v.is_empty())
            .unwrap_or(true);
    if !active && ctx.has(Op::DomainCreate) {
        let name = ctx.unique("sample-running");
        let uuid = uuid::Uuid::new_v4();
        if let Ok(d) = rw.define_domain_xml(&g.xml(&name, uuid)) {
            ctx.created_domains.push((uuid, name));
            let _ = d.create();
        }
    }
    if !defined {
        let name = ctx.unique("sample-defined");
        let uuid = uuid::Uuid::new_v4();
        if rw.define_domain_xml(&g.xml(&name, uuid)).is_ok() {
            ctx.created_domains.push((uuid, name));
        }
    }
}

pub(crate) fn existing(ctx: &mut Ctx) {
    ctx.check(
        "domains/list-num-agree",
        &[Op::ListDomains, Op::NumOfDomains],
        |c| {
            let conn = c.ro()?;
            let ids = ok("virConnectListDomains", conn.list_domains())?;
            let n = ok("virConnectNumOfDomains", conn.num_of_domains())?;
            ensure!(
                ids.len() == n as usize,
                "virConnectListDomains gives {} ids, virConnectNumOfDomains {n}",
                ids.len()
            );
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            ensure!(sorted.len() == ids.len(), "an id is listed twice: {ids:?}");
            ensure!(
                ids.iter().all(|id| *id >= 0),
                "a negative id is listed: {ids:?}"
            );
            Ok(())
        },
    );
    ctx.check(
        "domains/defined-list-num-agree",
        &[Op::ListDefinedDomains, Op::NumOfDefinedDomains],
        |c| {
            let conn = c.ro()?;
            let names = ok("virConnectListDefinedDomains", conn.list_defined_domains())?;
            let n = ok(
                "virConnectNumOfDefinedDomains",
                conn.num_of_defined_domains(),
            )?;
            ensure!(
                names.len() == n as usize,
                "virConnectListDefinedDomains gives {} names, virConnectNumOfDefinedDomains {n}",
                names.len()
            );
            Ok(())
        },
    );
    ctx.check(
        "domains/lookup-by-id-agrees",
        &[Op::ListDomains, Op::DomainLookupById],
        |c| {
            let conn = c.ro()?;
            for id in ok("virConnectListDomains", conn.list_domains())?
                .into_iter()
                .take(EXAMINE_AT_MOST)
            {
                let d = ok(
                    format!("virDomainLookupByID({id}) of a listed id"),
                    conn.lookup_domain_by_id(id),
                )?;
                ensure!(
                    d.id() == id,
                    "virDomainLookupByID({id}) gives a domain of id {}",
                    d.id()
                );
                same_by_name_and_uuid(c, &conn, &d)?;
            }
            Ok(())
        },
    );
    ctx.check(
        "domains/lookup-defined-agrees",
        &[Op::ListDefinedDomains, Op::DomainLookupByName],
        |c| {
            let conn = c.ro()?;
            for n in ok("virConnectListDefinedDomains", conn.list_defined_domains())?
                .into_iter()
                .take(EXAMINE_AT_MOST)
            {
                let d = ok(
                    format!("virDomainLookupByName({n:?}) of a listed name"),
                    conn.lookup_domain_by_name(&n),
                )?;
                ensure!(
                    d.name() == n,
                    "virDomainLookupByName({n:?}) gives {:?}",
                    d.name()
                );
                ensure!(
                    d.id() == -1,
                    "the defined (inactive) domain {n:?} has id {}",
                    d.id()
                );
                same_by_name_and_uuid(c, &conn, &d)?;
            }
            Ok(())
        },
    );
    ctx.check("domains/unknown-name", &[Op::DomainLookupByName], |c| {
        let name = c.unique("no-such-domain");
        expect_err(
            format!("virDomainLookupByName({name:?})"),
            c.ro()?.lookup_domain_by_name(&name),
            ErrorCode::NoDomain,
        )
    });
    ctx.check("domains/unknown-uuid", &[Op::DomainLookupByUuid], |c| {
        let u = uuid::Uuid::new_v4();
        expect_err(
            format!("virDomainLookupByUUID({u})"),
            c.ro()?.lookup_domain_by_uuid(&u),
            ErrorCode::NoDomain,
        )
    });
    ctx.check("domains/unknown-id", &[Op::DomainLookupById], |c| {
        let conn = c.ro()?;
        let taken = if c.has(Op::ListDomains) {
            ok("virConnectListDomains", conn.list_domains())?
        } else {
            Vec::new()
        };
        let id = (1..)
            .map(|k| i32::MAX - k)
            .find(|i| !taken.contains(i))
            .unwrap_or(i32::MAX);
        expect_err(
            format!("virDomainLookupByID({id})"),
            conn.lookup_domain_by_id(id),
            ErrorCode::NoDomain,
        )
    });
    ctx.check(
        "domains/xml-describes-domain",
        &[Op::DomainGetXmlDesc],
        |c| {
            let conn = c.ro()?;
            let doms = existing_domains(c, &conn)?;
            if doms.is_empty() {
                return Err(Verdict::Skip("no existing domain to describe".into()));
            }
            for d in &doms {
                let xml = ok(
                    format!("virDomainGetXMLDesc({:?})", d.name()),
                    d.xml_desc(0),
                )?;
                let def = parse(&xml).map_err(|v| prefix(v, &d.name()))?;
                ensure!(
                    def.name == d.name(),
                    "the XML of {:?} names {:?}",
                    d.name(),
                    def.name
                );
                ensure!(
                    def.uuid == d.uuid(),
                    "the XML of {:?} has UUID {}, the lookup {}",
                    d.name(),
                    def.uuid,
                    d.uuid()
                );
                if d.id() >= 0 {
                    ensure!(
                        def.id == Some(d.id()),
                        "the XML of running {:?} has id {:?}, expected {}",
                        d.name(),
                        def.id,
                        d.id()
                    );
                }
            }
            Ok(())
        },
    );
    ctx.check(
        "domains/info-matches-xml",
        &[Op::DomainGetInfo, Op::DomainGetXmlDesc],
        |c| {
            let conn = c.ro()?;
            let doms = existing_domains(c, &conn)?;
            if doms.is_empty() {
                return Err(Verdict::Skip("no existing domain to examine".into()));
            }
            for d in &doms {
                let def = parse(&ok("virDomainGetXMLDesc", d.xml_desc(0))?)
                    .map_err(|v| prefix(v, &d.name()))?;
                let info = ok(format!("virDomainGetInfo({:?})", d.name()), d.info())?;
                info_matches(&d.name(), &def, &info)?;
                let want = if d.id() >= 0 { ACTIVE } else { INACTIVE };
                ensure!(
                    want.contains(&info.state),
                    "{:?} (id {}) is {:?}, expected {}",
                    d.name(),
                    d.id(),
                    info.state,
                    crate::suite::states(want)
                );
            }
            Ok(())
        },
    );
}

fn prefix(v: Verdict, name: &str) -> Verdict {
    match v {
        Verdict::Fail(m) => Verdict::Fail(format!("{name:?}: {m}")),
        other => other,
    }
}
