//! Networks: the ones that exist, then the life cycle of one the suite defines.

use virtkit::{Connect, ErrorCode, Network, Op};
use virtkit_xml::{NetworkDef, equivalent_networks};

use crate::suite::{Ctx, Step, Verdict, ensure, expect_err, ok};

fn parse(xml: &str) -> Step<NetworkDef> {
    NetworkDef::parse(xml)
        .map_err(|e| Verdict::Fail(format!("the network XML does not parse: {e}")))
}

fn all_networks(c: &Ctx, conn: &Connect) -> Step<Vec<Network>> {
    let mut names = Vec::new();
    if c.has(Op::ListNetworks) {
        names.extend(ok("virConnectListNetworks", conn.list_networks())?);
    }
    if c.has(Op::ListDefinedNetworks) {
        names.extend(ok(
            "virConnectListDefinedNetworks",
            conn.list_defined_networks(),
        )?);
    }
    names
        .iter()
        .take(64)
        .map(|n| {
            ok(
                format!("virNetworkLookupByName({n:?}) of a listed name"),
                conn.lookup_network_by_name(n),
            )
        })
        .collect()
}

/// When the sandbox has no network, defines one (inactive) for the checks of existing networks.
pub(crate) fn samples(ctx: &mut Ctx) {
    let Some(rw) = ctx.rw.clone() else { return };
    if !ctx.has(Op::NetworkDefineXml) {
        return;
    }
    let mut any = false;
    if ctx.has(Op::ListNetworks) {
        any |= rw.list_networks().map(|v| !v.is_empty()).unwrap_or(true);
    }
    if ctx.has(Op::ListDefinedNetworks) {
        any |= rw
            .list_defined_networks()
            .map(|v| !v.is_empty())
            .unwrap_or(true);
    }
    if !any {
        let name = ctx.unique("sample-net");
        let uuid = uuid::Uuid::new_v4();
        if rw
            .define_network_xml(&crate::guest::network_xml(&name, uuid))
            .is_ok()
        {
            ctx.created_networks.push((uuid, name));
        }
    }
}

pub(crate) fn existing(ctx: &mut Ctx) {
    ctx.check(
        "networks/list-num-agree",
        &[Op::ListNetworks, Op::NumOfNetworks],
        |c| {
            let conn = c.ro()?;
            let names = ok("virConnectListNetworks", conn.list_networks())?;
            let n = ok("virConnectNumOfNetworks", conn.num_of_networks())?;
            ensure!(
                names.len() == n as usize,
                "virConnectListNetworks gives {} names, virConnectNumOfNetworks {n}",
                names.len()
            );
            Ok(())
        },
    );
    ctx.check(
        "networks/defined-list-num-agree",
        &[Op::ListDefinedNetworks, Op::NumOfDefinedNetworks],
        |c| {
            let conn = c.ro()?;
            let names = ok(
                "virConnectListDefinedNetworks",
                conn.list_defined_networks(),
            )?;
            let n = ok(
                "virConnectNumOfDefinedNetworks",
                conn.num_of_defined_networks(),
            )?;
            ensure!(
                names.len() == n as usize,
                "virConnectListDefinedNetworks gives {} names, virConnectNumOfDefinedNetworks {n}",
                names.len()
            );
            Ok(())
        },
    );
    ctx.check_also(
        "networks/lookups-agree",
        &[Op::NetworkLookupByName],
        &[
            Op::NetworkLookupByUuid,
            Op::ListNetworks,
            Op::ListDefinedNetworks,
        ],
        |c| {
            let conn = c.ro()?;
            let nets = all_networks(c, &conn)?;
            if nets.is_empty() {
                return Err(Verdict::Skip("no existing network to look up".into()));
            }
            for n in &nets {
                same_by_uuid(c, &conn, n)?;
            }
            Ok(())
        },
    );
    ctx.check("networks/unknown-name", &[Op::NetworkLookupByName], |c| {
        let name = c.unique("no-such-network");
        expect_err(
            format!("virNetworkLookupByName({name:?})"),
            c.ro()?.lookup_network_by_name(&name),
            ErrorCode::NoNetwork,
        )
    });
    ctx.check("networks/unknown-uuid", &[Op::NetworkLookupByUuid], |c| {
        let u = uuid::Uuid::new_v4();
        expect_err(
            format!("virNetworkLookupByUUID({u})"),
            c.ro()?.lookup_network_by_uuid(&u),
            ErrorCode::NoNetwork,
        )
    });
    ctx.check_also(
        "networks/xml-describes-network",
        &[Op::NetworkLookupByName, Op::NetworkGetXmlDesc],
        &[Op::NetworkGetBridgeName],
        |c| {
            let conn = c.ro()?;
            let nets = all_networks(c, &conn)?;
            if nets.is_empty() {
                return Err(Verdict::Skip("no existing network to describe".into()));
            }
            for n in &nets {
                describes(c, n)?;
            }
            Ok(())
        },
    );
    ctx.check(
        "networks/is-active-agrees-with-lists",
        &[
            Op::NetworkLookupByName,
            Op::NetworkIsActive,
            Op::ListNetworks,
        ],
        |c| {
            let conn = c.ro()?;
            let active = ok("virConnectListNetworks", conn.list_networks())?;
            let nets = all_networks(c, &conn)?;
            if nets.is_empty() {
                return Err(Verdict::Skip("no existing network".into()));
            }
            for n in &nets {
                let is = ok(format!("virNetworkIsActive({:?})", n.name()), n.is_active())?;
                let listed = active.iter().any(|a| a == n.name());
                ensure!(
                    is == listed,
                    "{:?}: virNetworkIsActive says {is}, but it is {}among the active networks",
                    n.name(),
                    if listed { "" } else { "not " }
                );
            }
            Ok(())
        },
    );
    ctx.check(
        "networks/is-persistent-readable",
        &[Op::NetworkLookupByName, Op::NetworkIsPersistent],
        |c| {
            let conn = c.ro()?;
            let nets = all_networks(c, &conn)?;
            if nets.is_empty() {
                return Err(Verdict::Skip("no existing network".into()));
            }
            let defined = conn.list_defined_networks().unwrap_or_default();
            for n in &nets {
                let p = ok(format!("virNetworkIsPersistent({:?})", n.name()), n.is_persistent())?;
                let inactive = defined.iter().any(|d| d == n.name());
                ensure!(
                    p || !inactive,
                    "{:?}: an inactive network must be persistent (a transient one disappears when stopped)",
                    n.name()
                );
            }
            Ok(())
        },
    );
    ctx.check(
        "networks/autostart-readable",
        &[Op::NetworkLookupByName, Op::NetworkGetAutostart],
        |c| {
            let conn = c.ro()?;
            let nets = all_networks(c, &conn)?;
            if nets.is_empty() {
                return Err(Verdict::Skip("no existing network".into()));
            }
            for n in &nets {
                ok(
                    format!("virNetworkGetAutostart({:?})", n.name()),
                    n.autostart(),
                )?;
            }
            Ok(())
        },
    );
}

fn same_by_uuid(c: &Ctx, conn: &Connect, n: &Network) -> Step {
    if c.has(Op::NetworkLookupByUuid) {
        let by_uuid = ok(
            format!("virNetworkLookupByUUID({})", n.uuid()),
            conn.lookup_network_by_uuid(&n.uuid()),
        )?;
        ensure!(
            by_uuid.name() == n.name(),
            "{}: by UUID it is {:?}, by name {:?}",
            n.uuid(),
            by_uuid.name(),
            n.name()
        );
    }
    Ok(())
}

/// The network's XML names it, and agrees with its bridge name.
fn describes(c: &Ctx, n: &Network) -> Step<NetworkDef> {
    let def = parse(&ok(
        format!("virNetworkGetXMLDesc({:?})", n.name()),
        n.xml_desc(0),
    )?)?;
    ensure!(
        def.name == n.name() && def.uuid == n.uuid(),
        "the XML of {:?} {} names {:?} {}",
        n.name(),
        n.uuid(),
        def.name,
        def.uuid
    );
    if c.has(Op::NetworkGetBridgeName) {
        match (&def.bridge, n.bridge_name()) {
            (Some(b), Ok(got)) => ensure!(
                *b == got,
                "{:?}: the XML's bridge is {b:?}, virNetworkGetBridgeName {got:?}",
                n.name()
            ),
            (Some(b), Err(e)) => {
                return Err(Verdict::Fail(format!(
                    "{:?}: the XML's bridge is {b:?} but virNetworkGetBridgeName failed: {}",
                    n.name(),
                    crate::suite::describe(&e)
                )));
            }
            (None, _) => {}
        }
    }
    Ok(def)
}

/// Starting a network may change the host outside the sandbox (bridges, addresses): a sandbox
/// may refuse it with operation-denied, and then the check cannot run here.
fn started<T>(what: &str, r: virtkit::Result<T>) -> Step<T> {
    match r {
        Err(e) if e.code == ErrorCode::OperationDenied => Err(Verdict::Skip(format!(
            "the sandbox does not allow {what}: {}",
            e.message
        ))),
        r => ok(what, r),
    }
}

fn life(c: &Ctx) -> Step<Network> {
    c.life_net.clone().ok_or_else(|| {
        Verdict::Skip(
            "the suite's network could not be defined (see network-lifecycle/define)".into(),
        )
    })
}

fn listed(c: &Ctx, name: &str) -> Step<(Option<bool>, Option<bool>)> {
    let conn = c.rw()?;
    let active = if c.has(Op::ListNetworks) {
        Some(
            ok("virConnectListNetworks", conn.list_networks())?
                .iter()
                .any(|n| n == name),
        )
    } else {
        None
    };
    let defined = if c.has(Op::ListDefinedNetworks) {
        Some(
            ok(
                "virConnectListDefinedNetworks",
                conn.list_defined_networks(),
            )?
            .iter()
            .any(|n| n == name),
        )
    } else {
        None
    };
    Ok((active, defined))
}

pub(crate) fn lifecycle(ctx: &mut Ctx) {
    let name = ctx.unique("net");
    let uuid = uuid::Uuid::new_v4();
    let also = [
        Op::ListNetworks,
        Op::ListDefinedNetworks,
        Op::NetworkLookupByName,
        Op::NetworkLookupByUuid,
    ];
    ctx.check_also(
        "network-lifecycle/define",
        &[Op::NetworkDefineXml],
        &also,
        |c| {
            let conn = c.rw()?;
            let n = ok(
                format!("defining network {name:?}"),
                conn.define_network_xml(&crate::guest::network_xml(&name, uuid)),
            )?;
            c.created_networks.push((uuid, name.clone()));
            c.life_net = Some(n.clone());
            ensure!(
                n.name() == name && n.uuid() == uuid,
                "the defined network is {:?} {}",
                n.name(),
                n.uuid()
            );
            let (active, defined) = listed(c, &name)?;
            ensure!(
                active != Some(true),
                "a defined network is listed as active"
            );
            ensure!(
                defined != Some(false),
                "a defined network is not listed as defined"
            );
            if c.has(Op::NetworkLookupByName) {
                let by_name = ok("virNetworkLookupByName", conn.lookup_network_by_name(&name))?;
                ensure!(
                    by_name.uuid() == uuid,
                    "by name the network has UUID {}",
                    by_name.uuid()
                );
                same_by_uuid(c, &conn, &by_name)?;
            }
            Ok(())
        },
    );
    let also = [Op::NetworkGetBridgeName];
    ctx.check_also(
        "network-lifecycle/xml-round-trip",
        &[Op::NetworkDefineXml, Op::NetworkGetXmlDesc],
        &also,
        |c| {
            let n = life(c)?;
            let first = ok("virNetworkGetXMLDesc", n.xml_desc(0))?;
            describes(c, &n)?;
            let again = ok(
                "redefining the network from its own XML",
                c.rw()?.define_network_xml(&first),
            )?;
            ensure!(
                again.uuid() == n.uuid(),
                "redefining gave UUID {}",
                again.uuid()
            );
            let second = ok("virNetworkGetXMLDesc after redefining", n.xml_desc(0))?;
            let same = equivalent_networks(&first, &second)
                .map_err(|e| Verdict::Fail(format!("the XML does not parse: {e}")))?;
            ensure!(
                same,
                "the XML changed when the network was redefined from it:\n{first}\n---\n{second}"
            );
            Ok(())
        },
    );
    ctx.check("network-lifecycle/bad-xml", &[Op::NetworkDefineXml], |c| {
        let conn = c.rw()?;
        expect_err(
            "defining a network from XML cut short",
            conn.define_network_xml("<network><name>cut"),
            ErrorCode::XmlError,
        )?;
        if c.has(Op::NetworkCreateXml) {
            expect_err(
                "creating a network from text that is not XML",
                conn.create_network_xml("not XML <<<"),
                ErrorCode::XmlError,
            )?;
        }
        Ok(())
    });
    ctx.check(
        "network-lifecycle/start-stop",
        &[Op::NetworkDefineXml, Op::NetworkCreate, Op::NetworkDestroy],
        |c| {
            let n = life(c)?;
            expect_err(
                "destroying an inactive network",
                n.destroy(),
                ErrorCode::OperationInvalid,
            )?;
            started("virNetworkCreate", n.create())?;
            let (active, defined) = listed(c, &name)?;
            ensure!(
                active != Some(false) && defined != Some(true),
                "the started network is not listed as active only"
            );
            expect_err(
                "starting an active network",
                n.create(),
                ErrorCode::OperationInvalid,
            )?;
            ok("virNetworkDestroy", n.destroy())?;
            let (active, defined) = listed(c, &name)?;
            ensure!(
                active != Some(true) && defined != Some(false),
                "the stopped persistent network is not listed as defined only"
            );
            expect_err(
                "destroying a stopped network",
                n.destroy(),
                ErrorCode::OperationInvalid,
            )
        },
    );
    ctx.check(
        "network-lifecycle/autostart",
        &[
            Op::NetworkDefineXml,
            Op::NetworkGetAutostart,
            Op::NetworkSetAutostart,
        ],
        |c| {
            let n = life(c)?;
            for on in [true, false] {
                ok(format!("virNetworkSetAutostart({on})"), n.set_autostart(on))?;
                let got = ok("virNetworkGetAutostart", n.autostart())?;
                ensure!(got == on, "autostart set to {on} reads back as {got}");
            }
            Ok(())
        },
    );
    ctx.check(
        "network-lifecycle/undefine",
        &[Op::NetworkDefineXml, Op::NetworkUndefine],
        |c| {
            let n = life(c)?;
            let conn = c.rw()?;
            ok("virNetworkUndefine", n.undefine())?;
            c.life_net = None;
            if c.has(Op::NetworkLookupByName) {
                expect_err(
                    "looking up an undefined network",
                    conn.lookup_network_by_name(&name),
                    ErrorCode::NoNetwork,
                )?;
            }
            let (active, defined) = listed(c, &name)?;
            ensure!(
                active != Some(true) && defined != Some(true),
                "the undefined network is still listed"
            );
            expect_err(
                "undefining an undefined network",
                n.undefine(),
                ErrorCode::NoNetwork,
            )
        },
    );
    ctx.check(
        "network-lifecycle/create-transient",
        &[Op::NetworkCreateXml, Op::NetworkDestroy],
        |c| {
            let conn = c.rw()?;
            let tname = c.unique("tnet");
            let tuuid = uuid::Uuid::new_v4();
            let n = started(
                "virNetworkCreateXML",
                conn.create_network_xml(&crate::guest::network_xml(&tname, tuuid)),
            )?;
            c.created_networks.push((tuuid, tname.clone()));
            let (active, defined) = listed(c, &tname)?;
            ensure!(
                active != Some(false) && defined != Some(true),
                "the created network is not listed as active only"
            );
            ok("virNetworkDestroy", n.destroy())?;
            if c.has(Op::NetworkLookupByName) {
                expect_err(
                    "looking up a destroyed transient network",
                    conn.lookup_network_by_name(&tname),
                    ErrorCode::NoNetwork,
                )?;
            }
            Ok(())
        },
    );
}
