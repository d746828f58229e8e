//! Domain management commands.

use virtkit::{Domain, DomainState, VcpuState};
use virtkit_xml::XmlNode;

use super::{
    BY_ANY, BY_ID, BY_NAME, BY_UUID, CmdDef, CmdResult, DOMAIN_HELP, Failure, Group, OptKind,
    XML_INACTIVE, XML_SECURE, cpu_used, data, domain_arg, flag, format_cpu_set, host_cpu_count,
    named, opt, opt_data, opt_number, parse_cpu_list, parse_number, parse_scaled_kib, read_file,
    xml_document,
};
use crate::ctl::Ctl;
use crate::parse::Args;
use crate::table::Table;

fn file_arg(args: &Args) -> String {
    args.get("file").unwrap_or_default().to_string()
}

/// A domain action that prints `Domain '<name>' <done>` on success and
/// `Failed to <verb> domain '<name>'` before the API error.
fn simple(
    ctl: &mut Ctl,
    args: &Args,
    verb: &str,
    done: &str,
    f: fn(&Domain) -> virtkit::Result<()>,
) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_ANY)?;
    f(&dom).map_err(|e| Failure::ctx(format!("Failed to {verb} domain '{name}'"), e))?;
    ctl.print_extra(&format!("Domain '{name}' {done}\n"));
    Ok(())
}

pub(super) fn suspend(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "suspend", "suspended", Domain::suspend)
}

pub(super) fn resume(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "resume", "resumed", Domain::resume)
}

pub(super) fn destroy(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "destroy", "destroyed", Domain::destroy)
}

pub(super) fn shutdown(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "shutdown", "is being shutdown", Domain::shutdown)
}

pub(super) fn reboot(ctl: &mut Ctl, args: &Args) -> CmdResult {
    simple(ctl, args, "reboot", "is being rebooted", |d| d.reboot(0))
}

pub(super) fn undefine(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_NAME | BY_UUID)?;
    dom.undefine()
        .map_err(|e| Failure::ctx(format!("Failed to undefine domain '{name}'"), e))?;
    ctl.print_extra(&format!("Domain '{name}' has been undefined\n"));
    Ok(())
}

pub(super) fn start(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_NAME | BY_UUID)?;
    if dom.id() != -1 {
        return Err(Failure::msg("Domain is already active"));
    }
    dom.create()
        .map_err(|e| Failure::ctx(format!("Failed to start domain '{name}'"), e))?;
    ctl.print_extra(&format!("Domain '{name}' started\n"));
    Ok(())
}

pub(super) fn define(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let file = file_arg(args);
    let xml = read_file(&file)?;
    let conn = ctl.conn()?;
    let dom = conn
        .define_domain_xml(&xml)
        .map_err(|e| Failure::ctx(format!("Failed to define domain from {file}"), e))?;
    ctl.print_extra(&format!("Domain '{}' defined from {file}\n", dom.name()));
    Ok(())
}

pub(super) fn create(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let file = file_arg(args);
    let xml = read_file(&file)?;
    let conn = ctl.conn()?;
    let dom = conn
        .create_domain_xml(&xml, 0)
        .map_err(|e| Failure::ctx(format!("Failed to create domain from {file}"), e))?;
    ctl.print_extra(&format!("Domain '{}' created from {file}\n", dom.name()));
    Ok(())
}

pub(super) fn save(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let file = file_arg(args);
    dom.save(&file)
        .map_err(|e| Failure::ctx(format!("Failed to save domain '{name}' to {file}"), e))?;
    // virsh's job watcher leaves an empty line before the message.
    ctl.print_extra(&format!("\nDomain '{name}' saved to {file}\n"));
    Ok(())
}

pub(super) fn restore(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let file = file_arg(args);
    let conn = ctl.conn()?;
    conn.restore_domain(&file)
        .map_err(|e| Failure::ctx(format!("Failed to restore domain from {file}"), e))?;
    ctl.print_extra(&format!("Domain restored from {file}\n"));
    Ok(())
}

pub(super) fn dump(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let file = file_arg(args);
    dom.core_dump(&file, 0)
        .map_err(|e| Failure::ctx(format!("Failed to core dump domain '{name}' to {file}"), e))?;
    ctl.print_extra(&format!("\nDomain '{name}' dumped to {file}\n"));
    Ok(())
}

pub(super) fn dumpxml(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let mut flags = 0;
    if args.flag("inactive") {
        flags |= XML_INACTIVE;
    }
    if args.flag("security-info") {
        flags |= XML_SECURE;
    }
    let xml = dom.xml_desc(flags)?;
    ctl.print(&xml);
    Ok(())
}

pub(super) fn domid(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_NAME | BY_UUID)?;
    let id = dom.id();
    ctl.print(&if id == -1 {
        "-\n".to_string()
    } else {
        format!("{id}\n")
    });
    Ok(())
}

pub(super) fn domname(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ID | BY_UUID)?;
    ctl.print(&format!("{}\n", dom.name()));
    Ok(())
}

pub(super) fn domuuid(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ID | BY_NAME)?;
    ctl.print(&format!("{}\n", dom.uuid_string()));
    Ok(())
}

pub(super) fn autostart(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, name) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let on = !args.flag("disable");
    if let Err(e) = dom.set_autostart(on) {
        let what = if on { "mark" } else { "unmark" };
        return Err(Failure::ctx(
            format!("Failed to {what} domain '{name}' as autostarted"),
            e,
        ));
    }
    let what = if on { "marked" } else { "unmarked" };
    ctl.print_extra(&format!("Domain '{name}' {what} as autostarted\n"));
    Ok(())
}

pub(super) fn attach_device(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let file = file_arg(args);
    let xml = read_file(&file)?;
    dom.attach_device(&xml)
        .map_err(|e| Failure::ctx(format!("Failed to attach device from {file}"), e))?;
    ctl.print_extra("Device attached successfully\n");
    Ok(())
}

pub(super) fn detach_device(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let file = file_arg(args);
    let xml = read_file(&file)?;
    dom.detach_device(&xml)
        .map_err(|e| Failure::ctx(format!("Failed to detach device from {file}"), e))?;
    ctl.print_extra("Device detached successfully\n");
    Ok(())
}

/// virsh's `--config`, `--live` and `--current`: `None` when none is given (the call without
/// flags), else the `VK_DOMAIN_AFFECT_*` bits.
fn affect_flags(args: &Args) -> Result<Option<u32>, Failure> {
    let (config, live, current) = (args.flag("config"), args.flag("live"), args.flag("current"));
    for (other, set) in [("live", live), ("config", config)] {
        if current && set {
            return Err(Failure::msg(format!(
                "Options --current and --{other} are mutually exclusive"
            )));
        }
    }
    if !(config || live || current) {
        return Ok(None);
    }
    let mut flags = virtkit::VK_DOMAIN_AFFECT_CURRENT;
    if config {
        flags |= virtkit::VK_DOMAIN_AFFECT_CONFIG;
    }
    if live {
        flags |= virtkit::VK_DOMAIN_AFFECT_LIVE;
    }
    Ok(Some(flags))
}

pub(super) fn setmem(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let flags = affect_flags(args)?;
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let kib = parse_scaled_kib(args.get("size").unwrap_or_default(), "size")?;
    match flags {
        None => dom.set_memory(kib)?,
        Some(flags) => dom.set_memory_flags(kib, flags)?,
    }
    Ok(())
}

pub(super) fn setmaxmem(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let flags = affect_flags(args)?;
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let kib = parse_scaled_kib(args.get("size").unwrap_or_default(), "size")?;
    match flags {
        None => dom.set_max_memory(kib),
        Some(flags) => dom.set_memory_flags(kib, flags | virtkit::VK_DOMAIN_MEM_MAXIMUM),
    }
    .map_err(|e| Failure::ctx("Unable to change MaxMemorySize", e))?;
    Ok(())
}

pub(super) fn setvcpus(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let count = parse_number(args.get("count").unwrap_or_default(), "count")?;
    if count == 0 {
        return Err(Failure::msg("Can't set 0 processors for a VM"));
    }
    dom.set_vcpus(count)?;
    Ok(())
}

fn vcpu_state_text(s: VcpuState) -> &'static str {
    match s {
        VcpuState::Offline => "offline",
        VcpuState::Running => "running",
        VcpuState::Blocked => "blocked",
    }
}

/// Affinity maps per vCPU: from the driver for a running domain; for a shut-off one (where
/// there is no per-vCPU state) every host CPU, which is what an unpinned definition allows.
fn affinity_maps(dom: &Domain, ncpus: u32, maxcpu: usize) -> virtkit::Result<Vec<Vec<u8>>> {
    match dom.vcpus() {
        Ok(v) => Ok(v.into_iter().map(|v| v.cpumap).collect()),
        Err(e) => {
            if dom.info()?.state != DomainState::Shutoff {
                return Err(e);
            }
            let mut all = vec![0u8; maxcpu.max(1).div_ceil(8)];
            for i in 0..maxcpu {
                all[i / 8] |= 1 << (i % 8);
            }
            Ok(vec![all; ncpus as usize])
        }
    }
}

fn print_affinity(ctl: &mut Ctl, map: &[u8], maxcpu: usize, pretty: bool) {
    if pretty {
        ctl.print(&format!(
            "{:<15} {} (out of {maxcpu})\n",
            "CPU Affinity:",
            format_cpu_set(map, maxcpu)
        ));
    } else {
        let bits: String = (0..maxcpu)
            .map(|i| if cpu_used(map, i) { 'y' } else { '-' })
            .collect();
        ctl.print(&format!("{:<15} {bits}\n", "CPU Affinity:"));
    }
}

pub(super) fn vcpuinfo(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let pretty = args.flag("pretty");
    let conn = ctl.conn()?;
    let maxcpu = host_cpu_count(&conn)?;
    let info = dom.info()?;
    match dom.vcpus() {
        Ok(vcpus) => {
            let n = vcpus.len();
            for (i, v) in vcpus.iter().enumerate() {
                ctl.print(&format!("{:<15} {i}\n", "VCPU:"));
                ctl.print(&format!("{:<15} {}\n", "CPU:", v.cpu));
                ctl.print(&format!("{:<15} {}\n", "State:", vcpu_state_text(v.state)));
                if v.cpu_time_ns != 0 {
                    ctl.print(&format!(
                        "{:<15} {:.1}s\n",
                        "CPU time:",
                        v.cpu_time_ns as f64 / 1e9
                    ));
                }
                print_affinity(ctl, &v.cpumap, maxcpu, pretty);
                if i + 1 < n {
                    ctl.print("\n");
                }
            }
        }
        Err(e) if info.state != DomainState::Shutoff => return Err(e.into()),
        Err(_) => {
            // A shut-off domain has no per-vCPU state: virsh shows N/A and the affinity.
            let maps = affinity_maps(&dom, info.nr_virt_cpu, maxcpu)?;
            let n = maps.len();
            for (i, map) in maps.iter().enumerate() {
                ctl.print(&format!("{:<15} {i}\n", "VCPU:"));
                ctl.print(&format!("{:<15} N/A\n", "CPU:"));
                ctl.print(&format!("{:<15} N/A\n", "State:"));
                // virsh 9.0 prints this label without its colon.
                ctl.print(&format!("{:<15} N/A\n", "CPU time"));
                print_affinity(ctl, map, maxcpu, pretty);
                if i + 1 < n {
                    ctl.print("\n");
                }
            }
        }
    }
    Ok(())
}

pub(super) fn vcpupin(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let vcpu = args
        .get("vcpu")
        .map(|v| parse_number(v, "vcpu"))
        .transpose()?;
    let conn = ctl.conn()?;
    let maxcpu = host_cpu_count(&conn)?;
    match args.get("cpulist") {
        None => {
            let info = dom.info()?;
            let maps = affinity_maps(&dom, info.nr_virt_cpu, maxcpu)?;
            if let Some(v) = vcpu.filter(|v| *v as usize >= maps.len()) {
                return Err(Failure::msg(format!(
                    "vcpu {v} is out of range of live cpu count {}",
                    maps.len()
                )));
            }
            let mut t = Table::new(&["VCPU", "CPU Affinity"]);
            for (i, map) in maps.iter().enumerate() {
                if vcpu.is_none_or(|v| v as usize == i) {
                    t.row(vec![i.to_string(), format_cpu_set(map, maxcpu)]);
                }
            }
            let text = t.render(!ctl.quiet);
            ctl.print(&text);
            Ok(())
        }
        Some(list) => {
            let Some(v) = vcpu else {
                return Err(Failure::msg("vcpupin: Missing vCPU number in pin mode."));
            };
            let map = parse_cpu_list(list, maxcpu)
                .ok_or_else(|| Failure::msg(format!("Invalid cpulist '{list}'")))?;
            dom.pin_vcpu(v, &map)?;
            Ok(())
        }
    }
}

pub(super) fn xml_from_native(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let format = args.get("format").unwrap_or_default().to_string();
    let config = read_file(args.get("config").unwrap_or_default())?;
    let conn = ctl.conn()?;
    let xml = conn.domain_xml_from_native(&format, &config)?;
    ctl.print(&xml);
    Ok(())
}

pub(super) fn xml_to_native(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let format = args.get("format").unwrap_or_default().to_string();
    let xml = match (args.get("domain"), args.get("xml")) {
        (Some(_), Some(_)) => {
            return Err(Failure::msg(
                "Options --domain and --xml are mutually exclusive",
            ));
        }
        (Some(_), None) => {
            let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
            dom.xml_desc(0)?
        }
        (None, Some(file)) => read_file(file)?,
        (None, None) => return Err(Failure::msg("Either --domain or --xml must be specified")),
    };
    let conn = ctl.conn()?;
    let native = conn.domain_xml_to_native(&format, &xml)?;
    ctl.print(&native);
    Ok(())
}

// ---- Displays and consoles: read from the domain's XML, as virsh reads them with XPath ----

/// virsh's `virDomainIsActive` check: a running (or paused) domain has an id.
fn require_running(dom: &Domain) -> CmdResult {
    if dom.id() == -1 {
        return Err(Failure::msg("Domain is not running"));
    }
    Ok(())
}

/// `string(/domain/devices/graphics[@type='<kind>']/@<attr>)`: the attribute of the first
/// graphics of that type that has it, empty counting as absent (as `virXPathString`).
fn graphics_attr<'a>(root: XmlNode<'a>, kind: &str, attr: &str) -> Option<&'a str> {
    root.select(&["devices", "graphics"])
        .into_iter()
        .filter(|g| g.attr("type") == Some(kind))
        .find_map(|g| g.attr(attr))
        .filter(|v| !v.is_empty())
}

/// `string(/domain/devices/graphics[@type='<kind>']/listen/@address)`.
fn graphics_listen_address<'a>(root: XmlNode<'a>, kind: &str) -> Option<&'a str> {
    root.select(&["devices", "graphics"])
        .into_iter()
        .filter(|g| g.attr("type") == Some(kind))
        .find_map(|g| g.children("listen").find_map(|l| l.attr("address")))
        .filter(|v| !v.is_empty())
}

/// A port as `virXPathInt` reads it: absent is `None`, not a number is an error.
fn port_of(text: Option<&str>) -> Result<Option<i32>, ()> {
    text.map(|t| t.trim().parse::<i32>().map_err(|_| ()))
        .transpose()
}

pub(super) fn vncdisplay(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    require_running(&dom)?;
    let doc = xml_document(&dom, 0)?;
    let root = doc.root();
    let Ok(Some(port)) = port_of(graphics_attr(root, "vnc", "port")) else {
        return Err(Failure::msg(
            "Failed to get VNC port. Is this domain using VNC?",
        ));
    };
    let display = port - 5900;
    match graphics_attr(root, "vnc", "listen") {
        None | Some("0.0.0.0") => ctl.print(&format!(":{display}\n")),
        Some(addr) => ctl.print(&format!("{addr}:{display}\n")),
    }
    Ok(())
}

/// The graphics types `domdisplay` knows, in the order it tries them.
const DISPLAY_SCHEMES: [&str; 4] = ["vnc", "spice", "rdp", "dbus"];

pub(super) fn domdisplay(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    require_running(&dom)?;
    let all = args.flag("all");
    let wanted = args.get("type");
    let flags = if args.flag("include-password") {
        XML_SECURE
    } else {
        0
    };
    let doc = xml_document(&dom, flags)?;
    let root = doc.root();
    let mut found = false;
    for scheme in DISPLAY_SCHEMES {
        if !all && wanted.is_some_and(|w| w != scheme) {
            continue;
        }
        let port = port_of(graphics_attr(root, scheme, "port"))
            .ok()
            .flatten()
            .unwrap_or(0);
        let tls_port = if scheme == "spice" {
            port_of(graphics_attr(root, scheme, "tlsPort"))
                .ok()
                .flatten()
                .unwrap_or(0)
        } else {
            0
        };
        if port == 0 && tls_port == 0 {
            continue;
        }
        let listen =
            graphics_attr(root, scheme, "listen").or_else(|| graphics_listen_address(root, scheme));
        let mut uri = format!("{scheme}://");
        if scheme == "vnc"
            && let Some(pw) = graphics_attr(root, scheme, "passwd")
        {
            uri.push_str(&format!(":{pw}@"));
        }
        match listen {
            None | Some("0.0.0.0") | Some("::") => uri.push_str("localhost"),
            Some(a) if a.contains(':') => uri.push_str(&format!("[{a}]")),
            Some(a) => uri.push_str(a),
        }
        if port != 0 {
            let shown = if scheme == "vnc" { port - 5900 } else { port };
            uri.push_str(&format!(":{shown}"));
        }
        if tls_port != 0 {
            uri.push_str(&format!("?tls-port={tls_port}"));
        }
        // virsh ends the line only between displays of --all.
        ctl.print(&uri);
        found = true;
        if !all {
            break;
        }
        ctl.print("\n");
    }
    match (found, wanted) {
        (true, _) => Ok(()),
        (false, Some(w)) => Err(Failure::msg(format!(
            "No graphical display with type '{w}' found"
        ))),
        (false, None) => Err(Failure::msg("No graphical display found")),
    }
}

pub(super) fn ttyconsole(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let doc = xml_document(&dom, 0)?;
    let tty = doc
        .root()
        .select(&["devices", "console"])
        .into_iter()
        .find_map(|c| c.attr("tty"))
        .filter(|t| !t.is_empty());
    match tty {
        Some(t) => {
            ctl.print(&format!("{t}\n"));
            Ok(())
        }
        // virsh fails without a message when the domain has no console tty.
        None => Err(Failure::lines(Vec::new())),
    }
}

/// The commands of virsh's "Domain Management" group, in help order: their names, options and help,
/// each with its handler in this file.
pub(super) const COMMANDS: &[CmdDef] = &[
    CmdDef {
        name: "attach-device",
        group: Group::Domain,
        help: "attach device from an XML file",
        desc: "Attach a device described by an XML file to the domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            data("file", "XML file describing the device"),
        ],
        no_connect: false,
        hidden: false,
        run: attach_device,
    },
    super::hotplug::ATTACH_DISK,
    super::hotplug::ATTACH_INTERFACE,
    CmdDef {
        name: "autostart",
        group: Group::Domain,
        help: "autostart a domain",
        desc: "Configure the domain to be started automatically when the host (or driver) starts.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("disable", "disable autostarting"),
        ],
        no_connect: false,
        hidden: false,
        run: autostart,
    },
    super::hotplug::CHANGE_MEDIA,
    super::console::CONSOLE,
    CmdDef {
        name: "create",
        group: Group::Domain,
        help: "create a domain from an XML file",
        desc: "Create and start a transient domain from an XML file.",
        opts: &[data("file", "file containing an XML domain description")],
        no_connect: false,
        hidden: false,
        run: create,
    },
    CmdDef {
        name: "define",
        group: Group::Domain,
        help: "define (but don't start) a domain from an XML file",
        desc: "Define a persistent domain from an XML file, or update the definition of an existing one.",
        opts: &[data("file", "file containing an XML domain description")],
        no_connect: false,
        hidden: false,
        run: define,
    },
    CmdDef {
        name: "destroy",
        group: Group::Domain,
        help: "destroy (stop) a domain",
        desc: "Stop a running domain immediately; a transient domain disappears.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: destroy,
    },
    CmdDef {
        name: "detach-device",
        group: Group::Domain,
        help: "detach device from an XML file",
        desc: "Detach the device described by an XML file from the domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            data("file", "XML file describing the device"),
        ],
        no_connect: false,
        hidden: false,
        run: detach_device,
    },
    super::hotplug::DETACH_DISK,
    super::hotplug::DETACH_INTERFACE,
    CmdDef {
        name: "domdisplay",
        group: Group::Domain,
        help: "domain display connection URI",
        desc: "Output the IP address and port number for the graphical display.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag(
                "include-password",
                "includes the password into the connection URI if available",
            ),
            named(
                "type",
                "select particular graphical display (e.g. \"vnc\", \"spice\", \"rdp\", \"dbus\")",
            ),
            flag("all", "show all possible graphical displays"),
        ],
        no_connect: false,
        hidden: false,
        run: domdisplay,
    },
    CmdDef {
        name: "domid",
        group: Group::Domain,
        help: "convert a domain name or UUID to domain id",
        desc: "",
        opts: &[data("domain", "domain name or uuid")],
        no_connect: false,
        hidden: false,
        run: domid,
    },
    CmdDef {
        name: "domname",
        group: Group::Domain,
        help: "convert a domain id or UUID to domain name",
        desc: "",
        opts: &[data("domain", "domain id or uuid")],
        no_connect: false,
        hidden: false,
        run: domname,
    },
    CmdDef {
        name: "domuuid",
        group: Group::Domain,
        help: "convert a domain name or id to domain UUID",
        desc: "",
        opts: &[data("domain", "domain id or name")],
        no_connect: false,
        hidden: false,
        run: domuuid,
    },
    CmdDef {
        name: "domxml-from-native",
        group: Group::Domain,
        help: "Convert native config to domain XML",
        desc: "Convert a native guest configuration (e.g. xen-xm, xen-sxpr) to domain XML, through a driver that can.",
        opts: &[
            data("format", "source config data format"),
            data("config", "config data file to import from"),
        ],
        no_connect: false,
        hidden: false,
        run: xml_from_native,
    },
    CmdDef {
        name: "domxml-to-native",
        group: Group::Domain,
        help: "Convert domain XML to native config",
        desc: "Convert domain XML (from a file, or from a domain with --domain) to a native guest configuration.",
        opts: &[
            data("format", "target config data type format"),
            named("domain", "domain name, id or uuid"),
            opt_data("xml", "xml data file to export from"),
        ],
        no_connect: false,
        hidden: false,
        run: xml_to_native,
    },
    CmdDef {
        name: "dump",
        group: Group::Domain,
        help: "dump the core of a domain to a file for analysis",
        desc: "Write the domain's memory to a file.",
        opts: &[
            data("domain", DOMAIN_HELP),
            data("file", "where to dump the core"),
        ],
        no_connect: false,
        hidden: false,
        run: dump,
    },
    CmdDef {
        name: "dumpxml",
        group: Group::Domain,
        help: "domain information in XML",
        desc: "Output the domain information as an XML dump to stdout.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("inactive", "show inactive defined XML"),
            flag(
                "security-info",
                "include security sensitive information in XML dump",
            ),
        ],
        no_connect: false,
        hidden: false,
        run: dumpxml,
    },
    CmdDef {
        name: "reboot",
        group: Group::Domain,
        help: "reboot a domain",
        desc: "Ask the domain to reboot.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: reboot,
    },
    CmdDef {
        name: "restore",
        group: Group::Domain,
        help: "restore a domain from a saved state in a file",
        desc: "Restore a domain saved with 'save'.",
        opts: &[data("file", "the state to restore")],
        no_connect: false,
        hidden: false,
        run: restore,
    },
    CmdDef {
        name: "resume",
        group: Group::Domain,
        help: "resume a domain",
        desc: "Resume a previously suspended domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: resume,
    },
    CmdDef {
        name: "save",
        group: Group::Domain,
        help: "save a domain state to a file",
        desc: "Save the state of a running domain to a file and stop it.",
        opts: &[
            data("domain", DOMAIN_HELP),
            data("file", "where to save the data"),
        ],
        no_connect: false,
        hidden: false,
        run: save,
    },
    CmdDef {
        name: "setmaxmem",
        group: Group::Domain,
        help: "change maximum memory limit",
        desc: "Change the maximum memory allocation limit of the domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            opt(
                "size",
                OptKind::Number,
                true,
                true,
                "new maximum memory size, as scaled integer (default KiB)",
            ),
            flag("config", "affect next boot"),
            flag("live", "affect running domain"),
            flag("current", "affect current domain"),
        ],
        no_connect: false,
        hidden: false,
        run: setmaxmem,
    },
    CmdDef {
        name: "setmem",
        group: Group::Domain,
        help: "change memory allocation",
        desc: "Change the current memory allocation of the domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            opt(
                "size",
                OptKind::Number,
                true,
                true,
                "new memory size, as scaled integer (default KiB)",
            ),
            flag("config", "affect next boot"),
            flag("live", "affect running domain"),
            flag("current", "affect current domain"),
        ],
        no_connect: false,
        hidden: false,
        run: setmem,
    },
    CmdDef {
        name: "setvcpus",
        group: Group::Domain,
        help: "change number of virtual CPUs",
        desc: "Change the number of virtual CPUs of the domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            opt(
                "count",
                OptKind::Number,
                true,
                true,
                "number of virtual CPUs",
            ),
        ],
        no_connect: false,
        hidden: false,
        run: setvcpus,
    },
    CmdDef {
        name: "shutdown",
        group: Group::Domain,
        help: "gracefully shutdown a domain",
        desc: "Ask the domain to shut down.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: shutdown,
    },
    CmdDef {
        name: "start",
        group: Group::Domain,
        help: "start a (previously defined) inactive domain",
        desc: "Start a domain that was defined but is not running.",
        opts: &[data("domain", "name or uuid of the inactive domain")],
        no_connect: false,
        hidden: false,
        run: start,
    },
    CmdDef {
        name: "suspend",
        group: Group::Domain,
        help: "suspend a domain",
        desc: "Suspend a running domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: suspend,
    },
    CmdDef {
        name: "ttyconsole",
        group: Group::Domain,
        help: "tty console",
        desc: "Output the device for the TTY console.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: ttyconsole,
    },
    CmdDef {
        name: "undefine",
        group: Group::Domain,
        help: "undefine a domain",
        desc: "Remove the persistent definition of a domain; a running domain becomes transient.",
        opts: &[data("domain", "domain name or uuid")],
        no_connect: false,
        hidden: false,
        run: undefine,
    },
    CmdDef {
        name: "vcpuinfo",
        group: Group::Domain,
        help: "detailed domain vcpu information",
        desc: "Returns basic information about the domain virtual CPUs.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("pretty", "return human readable output"),
        ],
        no_connect: false,
        hidden: false,
        run: vcpuinfo,
    },
    CmdDef {
        name: "vcpupin",
        group: Group::Domain,
        help: "control or query domain vcpu affinity",
        desc: "Pin domain VCPUs to host physical CPUs.",
        opts: &[
            data("domain", DOMAIN_HELP),
            opt_number("vcpu", "vcpu number"),
            opt_data(
                "cpulist",
                "host cpu number(s) to set, or omit option to query",
            ),
        ],
        no_connect: false,
        hidden: false,
        run: vcpupin,
    },
    CmdDef {
        name: "vncdisplay",
        group: Group::Domain,
        help: "vnc display",
        desc: "Output the IP address and port number for the VNC display.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: vncdisplay,
    },
];
