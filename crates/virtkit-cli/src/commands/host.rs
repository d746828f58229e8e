//! Host and hypervisor commands.

use super::{CmdDef, CmdResult, Failure, Group, version_text};
use crate::ctl::Ctl;
use crate::parse::Args;

pub(super) fn capabilities(ctl: &mut Ctl, _: &Args) -> CmdResult {
    let conn = ctl.conn()?;
    let caps = conn
        .capabilities()
        .map_err(|e| Failure::ctx("failed to get capabilities", e))?;
    ctl.print(&format!("{caps}\n"));
    Ok(())
}

pub(super) fn hostname(ctl: &mut Ctl, _: &Args) -> CmdResult {
    let conn = ctl.conn()?;
    let name = conn
        .hostname()
        .map_err(|e| Failure::ctx("failed to get hostname", e))?;
    ctl.print(&format!("{name}\n"));
    Ok(())
}

pub(super) fn uri(ctl: &mut Ctl, _: &Args) -> CmdResult {
    let conn = ctl.conn()?;
    ctl.print(&format!("{}\n", conn.uri()));
    Ok(())
}

pub(super) fn nodeinfo(ctl: &mut Ctl, _: &Args) -> CmdResult {
    let conn = ctl.conn()?;
    let n = conn
        .node_info()
        .map_err(|e| Failure::ctx("failed to get node information", e))?;
    let mut s = String::new();
    let mut line = |label: &str, value: String| s.push_str(&format!("{label:<20} {value}\n"));
    line("CPU model:", n.model.clone());
    line("CPU(s):", n.cpus.to_string());
    if n.mhz != 0 {
        line("CPU frequency:", format!("{} MHz", n.mhz));
    }
    line("CPU socket(s):", n.sockets.to_string());
    line("Core(s) per socket:", n.cores.to_string());
    line("Thread(s) per core:", n.threads.to_string());
    line("NUMA cell(s):", n.nodes.to_string());
    line("Memory size:", format!("{} KiB", n.memory_kib));
    ctl.print(&s);
    Ok(())
}

/// virsh's shape with virtkit's own version where virsh names libvirt's.
pub(super) fn version(ctl: &mut Ctl, _: &Args) -> CmdResult {
    let conn = ctl.conn()?;
    let lib = version_text(virtkit::library_version());
    ctl.print(&format!("Compiled against library: virtkit {lib}\n"));
    ctl.print(&format!("Using library: virtkit {lib}\n"));
    let hv_type = conn
        .get_type()
        .map_err(|e| Failure::ctx("failed to get hypervisor type", e))?;
    ctl.print(&format!("Using API: {hv_type} {lib}\n"));
    let hv = conn
        .version()
        .map_err(|e| Failure::ctx("failed to get the hypervisor version", e))?;
    if hv == 0 {
        ctl.print(&format!(
            "Cannot extract running {hv_type} hypervisor version\n"
        ));
    } else {
        ctl.print(&format!(
            "Running hypervisor: {hv_type} {}\n",
            version_text(hv)
        ));
    }
    Ok(())
}

/// The commands of virsh's "Host and Hypervisor" group, in help order: their names, options and
/// help, each with its handler in this file.
pub(super) const COMMANDS: &[CmdDef] = &[
    CmdDef {
        name: "capabilities",
        group: Group::Host,
        help: "capabilities",
        desc: "Returns capabilities of hypervisor/driver.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: capabilities,
    },
    CmdDef {
        name: "hostname",
        group: Group::Host,
        help: "print the hypervisor hostname",
        desc: "",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: hostname,
    },
    CmdDef {
        name: "nodeinfo",
        group: Group::Host,
        help: "node information",
        desc: "Returns basic information about the node.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: nodeinfo,
    },
    CmdDef {
        name: "uri",
        group: Group::Host,
        help: "print the hypervisor canonical URI",
        desc: "",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: uri,
    },
    CmdDef {
        name: "version",
        group: Group::Host,
        help: "show version",
        desc: "Display the library version, the API and the hypervisor version.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: version,
    },
];
