//! The test driver's network operations, with libvirt's state rules.

use uuid::Uuid;
use virtkit_driver::{Error, ErrorCode, NetworkIdent, NetworkRef, Result};
use virtkit_xml::{FormatOptions, NetworkDef};

use crate::node::{Net, Node, TestConn};

fn net_ref(n: &Net) -> NetworkRef<'_> {
    NetworkRef {
        uuid: n.def.uuid,
        name: &n.def.name,
    }
}

fn net_index(node: &Node, r: &NetworkRef<'_>) -> Result<usize> {
    node.net_uuid(&r.uuid).ok_or_else(|| {
        Error::no_network(format!(
            "no network with matching uuid '{}' ({})",
            r.uuid, r.name
        ))
    })
}

fn parse_network(xml: &str) -> Result<NetworkDef> {
    NetworkDef::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))
}

pub(crate) fn list_networks(c: &TestConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    c.lock()
        .networks
        .iter()
        .filter(|n| n.active)
        .for_each(|n| out(&n.def.name));
    Ok(())
}

pub(crate) fn num_of_networks(c: &TestConn) -> Result<i32> {
    Ok(c.lock().networks.iter().filter(|n| n.active).count() as i32)
}

pub(crate) fn list_defined_networks(c: &TestConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    c.lock()
        .networks
        .iter()
        .filter(|n| !n.active)
        .for_each(|n| out(&n.def.name));
    Ok(())
}

pub(crate) fn num_of_defined_networks(c: &TestConn) -> Result<i32> {
    Ok(c.lock().networks.iter().filter(|n| !n.active).count() as i32)
}

pub(crate) fn lookup_by_uuid(
    c: &TestConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(NetworkRef<'_>),
) -> Result<()> {
    let node = c.lock();
    let i = node
        .net_uuid(uuid)
        .ok_or_else(|| Error::no_network(format!("no network with matching uuid '{uuid}'")))?;
    out(net_ref(&node.networks[i]));
    Ok(())
}

pub(crate) fn lookup_by_name(
    c: &TestConn,
    name: &str,
    out: &mut dyn FnMut(NetworkRef<'_>),
) -> Result<()> {
    let node = c.lock();
    let i = node
        .net_name(name)
        .ok_or_else(|| Error::no_network(format!("no network with matching name '{name}'")))?;
    out(net_ref(&node.networks[i]));
    Ok(())
}

fn check_clash(node: &Node, def: &NetworkDef) -> Result<Option<usize>> {
    if let Some(i) = node.net_name(&def.name) {
        if node.networks[i].def.uuid != def.uuid {
            return Err(Error::network_exist(format!(
                "network '{}' already exists with uuid {}",
                def.name, node.networks[i].def.uuid
            )));
        }
        return Ok(Some(i));
    }
    if let Some(i) = node.net_uuid(&def.uuid) {
        return Err(Error::network_exist(format!(
            "network '{}' is already defined with uuid {}",
            node.networks[i].def.name, def.uuid
        )));
    }
    Ok(None)
}

pub(crate) fn create_xml(c: &TestConn, xml: &str) -> Result<NetworkIdent> {
    let def = parse_network(xml)?;
    let mut node = c.lock();
    if let Some(i) = check_clash(&node, &def)? {
        if node.networks[i].active {
            return Err(Error::operation_invalid(format!(
                "network '{}' is already active",
                def.name
            )));
        }
        node.networks.remove(i);
    }
    node.networks.push(Net {
        def,
        active: true,
        persistent: false,
        autostart: false,
    });
    Ok(net_ref(node.networks.last().expect("just pushed")).into())
}

pub(crate) fn define_xml(c: &TestConn, xml: &str) -> Result<NetworkIdent> {
    let def = parse_network(xml)?;
    let mut node = c.lock();
    match check_clash(&node, &def)? {
        Some(i) => {
            let n = &mut node.networks[i];
            n.def = def;
            n.persistent = true;
            Ok(net_ref(n).into())
        }
        None => {
            node.networks.push(Net {
                def,
                active: false,
                persistent: true,
                autostart: false,
            });
            Ok(net_ref(node.networks.last().expect("just pushed")).into())
        }
    }
}

pub(crate) fn undefine(c: &TestConn, r: &NetworkRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = net_index(&node, r)?;
    if node.networks[i].active {
        node.networks[i].persistent = false;
    } else {
        node.networks.remove(i);
    }
    Ok(())
}

pub(crate) fn start(c: &TestConn, r: &NetworkRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = net_index(&node, r)?;
    let n = &mut node.networks[i];
    if n.active {
        return Err(Error::operation_invalid(format!(
            "network '{}' is already active",
            n.def.name
        )));
    }
    n.active = true;
    Ok(())
}

pub(crate) fn destroy(c: &TestConn, r: &NetworkRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = net_index(&node, r)?;
    if !node.networks[i].active {
        return Err(Error::operation_invalid(format!(
            "network '{}' is not active",
            r.name
        )));
    }
    if node.networks[i].persistent {
        node.networks[i].active = false;
    } else {
        node.networks.remove(i);
    }
    Ok(())
}

pub(crate) fn get_xml_desc(c: &TestConn, r: &NetworkRef<'_>, _flags: u32) -> Result<String> {
    let node = c.lock();
    Ok(node.networks[net_index(&node, r)?]
        .def
        .to_xml(&FormatOptions::default()))
}

pub(crate) fn get_bridge_name(c: &TestConn, r: &NetworkRef<'_>) -> Result<String> {
    let node = c.lock();
    let n = &node.networks[net_index(&node, r)?];
    n.def.bridge.clone().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidNetwork,
            format!("network '{}' does not have a bridge name", n.def.name),
        )
    })
}

pub(crate) fn get_autostart(c: &TestConn, r: &NetworkRef<'_>) -> Result<bool> {
    let node = c.lock();
    Ok(node.networks[net_index(&node, r)?].autostart)
}

pub(crate) fn set_autostart(c: &TestConn, r: &NetworkRef<'_>, on: bool) -> Result<()> {
    let mut node = c.lock();
    let i = net_index(&node, r)?;
    let n = &mut node.networks[i];
    if !n.persistent {
        return Err(Error::operation_invalid(
            "cannot set autostart for transient network",
        ));
    }
    n.autostart = on;
    Ok(())
}

pub(crate) fn is_active(c: &TestConn, r: &NetworkRef<'_>) -> Result<bool> {
    let node = c.lock();
    Ok(node.networks[net_index(&node, r)?].active)
}

pub(crate) fn is_persistent(c: &TestConn, r: &NetworkRef<'_>) -> Result<bool> {
    let node = c.lock();
    Ok(node.networks[net_index(&node, r)?].persistent)
}
