//! Network commands.

use virtkit::{Connect, ErrorCode, Network};

use super::{
    BY_NAME, BY_UUID, CmdDef, CmdResult, Failure, Group, data, flag, network_arg, read_file,
};
use crate::ctl::Ctl;
use crate::parse::Args;
use crate::table::Table;

use virtkit::VK_NETWORK_XML_INACTIVE as NET_XML_INACTIVE;

/// Whether a network is active (`virNetworkIsActive`; for a driver without it, whether the
/// network is among the active ones).
fn is_active(conn: &Connect, net: &Network) -> virtkit::Result<bool> {
    match net.is_active() {
        Err(e) if e.code == ErrorCode::NoSupport => {
            Ok(conn.list_networks()?.iter().any(|n| n == net.name()))
        }
        r => r,
    }
}

/// Whether a network is persistent (`virNetworkIsPersistent`), or `None` when it cannot be told.
/// For a driver without it, an inactive network is persistent by definition (a transient network
/// disappears when it stops) and an active one is unknown.
fn is_persistent(net: &Network, active: bool) -> Option<bool> {
    match net.is_persistent() {
        Ok(p) => Some(p),
        Err(e) if e.code == ErrorCode::NoSupport => (!active).then_some(true),
        Err(_) => None,
    }
}

fn file_arg(args: &Args) -> String {
    args.get("file").unwrap_or_default().to_string()
}

pub(super) fn define(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let file = file_arg(args);
    let xml = read_file(&file)?;
    let conn = ctl.conn()?;
    let net = conn
        .define_network_xml(&xml)
        .map_err(|e| Failure::ctx(format!("Failed to define network from {file}"), e))?;
    ctl.print_extra(&format!("Network {} defined from {file}\n", net.name()));
    Ok(())
}

pub(super) fn create(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let file = file_arg(args);
    let xml = read_file(&file)?;
    let conn = ctl.conn()?;
    let net = conn
        .create_network_xml(&xml)
        .map_err(|e| Failure::ctx(format!("Failed to create network from {file}"), e))?;
    ctl.print_extra(&format!("Network {} created from {file}\n", net.name()));
    Ok(())
}

fn simple(
    ctl: &mut Ctl,
    args: &Args,
    verb: &str,
    done: &str,
    f: fn(&Network) -> virtkit::Result<()>,
) -> CmdResult {
    let (net, name) = network_arg(ctl, args, "network", BY_UUID | BY_NAME)?;
    f(&net).map_err(|e| Failure::ctx(format!("Failed to {verb} network {name}"), e))?;
    ctl.print_extra(&format!("Network {name} {done}\n"));
    Ok(())
}

pub(super) fn start(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "start", "started", Network::create)
}

pub(super) fn destroy(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "destroy", "destroyed", Network::destroy)
}

pub(super) fn undefine(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(
        ctl,
        args,
        "undefine",
        "has been undefined",
        Network::undefine,
    )
}

pub(super) fn autostart(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (net, name) = network_arg(ctl, args, "network", BY_UUID | BY_NAME)?;
    let on = !args.flag("disable");
    if let Err(e) = net.set_autostart(on) {
        let what = if on { "mark" } else { "unmark" };
        return Err(Failure::ctx(
            format!("failed to {what} network {name} as autostarted"),
            e,
        ));
    }
    let what = if on { "marked" } else { "unmarked" };
    ctl.print_extra(&format!("Network {name} {what} as autostarted\n"));
    Ok(())
}

pub(super) fn dumpxml(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (net, _) = network_arg(ctl, args, "network", BY_UUID | BY_NAME)?;
    let flags = if args.flag("inactive") {
        NET_XML_INACTIVE
    } else {
        0
    };
    let xml = net.xml_desc(flags)?;
    ctl.print(&xml);
    Ok(())
}

pub(super) fn name(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (net, _) = network_arg(ctl, args, "network", BY_UUID)?;
    ctl.print(&format!("{}\n", net.name()));
    Ok(())
}

pub(super) fn uuid(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (net, _) = network_arg(ctl, args, "network", BY_NAME)?;
    ctl.print(&format!("{}\n", net.uuid_string()));
    Ok(())
}

pub(super) fn info(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (net, _) = network_arg(ctl, args, "network", BY_UUID | BY_NAME)?;
    let conn = ctl.conn()?;
    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut s = line("Name:", net.name());
    s.push_str(&line("UUID:", &net.uuid_string()));
    let active = is_active(&conn, &net);
    if let Ok(a) = active {
        s.push_str(&line("Active:", yes_no(a)));
    }
    match active.ok().and_then(|a| is_persistent(&net, a)) {
        Some(p) => s.push_str(&line("Persistent:", yes_no(p))),
        None => s.push_str(&line("Persistent:", "unknown")),
    }
    match net.autostart() {
        Ok(a) => s.push_str(&line("Autostart:", yes_no(a))),
        Err(_) => s.push_str(&line("Autostart:", "no autostart")),
    }
    if let Ok(bridge) = net.bridge_name() {
        s.push_str(&line("Bridge:", &bridge));
    }
    ctl.print(&s);
    Ok(())
}

pub(super) fn list(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (opt_uuid, opt_name) = (args.flag("uuid"), args.flag("name"));
    let opt_table = args.flag("table");
    if [opt_uuid, opt_name, opt_table]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        return Err(Failure::msg(
            "Only one argument from --table, --name and --uuid may be specified.",
        ));
    }
    let (mut want_active, mut want_inactive) = (true, false);
    if args.flag("inactive") {
        (want_active, want_inactive) = (false, true);
    }
    if args.flag("all") {
        (want_active, want_inactive) = (true, true);
    }
    let (persistent, transient) = (args.flag("persistent"), args.flag("transient"));
    let (autostart, no_autostart) = (args.flag("autostart"), args.flag("no-autostart"));

    let conn = ctl.conn()?;
    // (network, active, persistent, autostart)
    let mut rows: Vec<(Network, bool, Option<bool>, Option<bool>)> = Vec::new();
    let mut add = |names: Vec<String>, active: bool| {
        for n in names {
            if let Ok(net) = conn.lookup_network_by_name(&n) {
                let p = is_persistent(&net, active);
                let a = net.autostart().ok();
                rows.push((net, active, p, a));
            }
        }
    };
    if want_active {
        add(
            conn.list_networks()
                .map_err(|e| Failure::ctx("Failed to list active networks", e))?,
            true,
        );
    }
    if want_inactive {
        add(
            conn.list_defined_networks()
                .map_err(|e| Failure::ctx("Failed to list inactive networks", e))?,
            false,
        );
    }
    if persistent || transient {
        rows.retain(|(_, _, p, _)| {
            (persistent && *p != Some(false)) || (transient && *p == Some(false))
        });
    }
    if autostart || no_autostart {
        rows.retain(|(_, _, _, a)| {
            (autostart && *a == Some(true)) || (no_autostart && *a != Some(true))
        });
    }
    rows.sort_by_key(|r| r.0.name().to_ascii_lowercase());

    if opt_uuid || opt_name {
        let mut s = String::new();
        for (net, ..) in &rows {
            s.push_str(&if opt_uuid {
                net.uuid_string()
            } else {
                net.name().to_string()
            });
            s.push('\n');
        }
        ctl.print(&s);
        return Ok(());
    }
    let mut t = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    for (net, active, p, a) in &rows {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        t.row(vec![
            net.name().to_string(),
            if *active { "active" } else { "inactive" }.to_string(),
            a.map_or("no autostart", yes_no).to_string(),
            p.map_or("unknown", yes_no).to_string(),
        ]);
    }
    let text = t.render(!ctl.quiet);
    ctl.print(&text);
    Ok(())
}

/// The commands of virsh's "Networking" group, in help order: their names, options and help, each
/// with its handler in this file.
pub(super) const COMMANDS: &[CmdDef] = &[
    CmdDef {
        name: "net-autostart",
        group: Group::Network,
        help: "autostart a network",
        desc: "Configure a network to be automatically started at boot.",
        opts: &[
            data("network", "network name or uuid"),
            flag("disable", "disable autostarting"),
        ],
        no_connect: false,
        hidden: false,
        run: autostart,
    },
    CmdDef {
        name: "net-create",
        group: Group::Network,
        help: "create a network from an XML file",
        desc: "Create and start a transient network from an XML file.",
        opts: &[data("file", "file containing an XML network description")],
        no_connect: false,
        hidden: false,
        run: create,
    },
    CmdDef {
        name: "net-define",
        group: Group::Network,
        help: "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
        desc: "Define or modify a persistent virtual network.",
        opts: &[data("file", "file containing an XML network description")],
        no_connect: false,
        hidden: false,
        run: define,
    },
    CmdDef {
        name: "net-destroy",
        group: Group::Network,
        help: "destroy (stop) a network",
        desc: "Forcefully stop a given network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: destroy,
    },
    CmdDef {
        name: "net-dumpxml",
        group: Group::Network,
        help: "network information in XML",
        desc: "Output the network information as an XML dump to stdout.",
        opts: &[
            data("network", "network name or uuid"),
            flag("inactive", "show inactive defined XML"),
        ],
        no_connect: false,
        hidden: false,
        run: dumpxml,
    },
    CmdDef {
        name: "net-info",
        group: Group::Network,
        help: "network information",
        desc: "Returns basic information about the network",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: info,
    },
    CmdDef {
        name: "net-list",
        group: Group::Network,
        help: "list networks",
        desc: "Returns list of networks.",
        opts: &[
            flag("inactive", "list inactive networks"),
            flag("all", "list inactive & active networks"),
            flag("persistent", "list persistent networks"),
            flag("transient", "list transient networks"),
            flag("autostart", "list networks with autostart enabled"),
            flag("no-autostart", "list networks with autostart disabled"),
            flag("uuid", "list uuid's only"),
            flag("name", "list network names only"),
            flag("table", "list table (default)"),
        ],
        no_connect: false,
        hidden: false,
        run: list,
    },
    CmdDef {
        name: "net-name",
        group: Group::Network,
        help: "convert a network UUID to network name",
        desc: "",
        opts: &[data("network", "network uuid")],
        no_connect: false,
        hidden: false,
        run: name,
    },
    CmdDef {
        name: "net-start",
        group: Group::Network,
        help: "start a (previously defined) inactive network",
        desc: "Start a network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: start,
    },
    CmdDef {
        name: "net-undefine",
        group: Group::Network,
        help: "undefine a persistent network",
        desc: "Undefine the configuration for a persistent network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: undefine,
    },
    CmdDef {
        name: "net-uuid",
        group: Group::Network,
        help: "convert a network name to network UUID",
        desc: "",
        opts: &[data("network", "network name")],
        no_connect: false,
        hidden: false,
        run: uuid,
    },
];
