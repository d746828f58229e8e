//! virsh's device convenience commands: `attach-disk`, `detach-disk`, `attach-interface`,
//! `detach-interface`, `change-media`. Each builds the device XML and goes through the
//! attach/detach operations, with virsh 9's `--live` / `--config` / `--persistent` /
//! `--current`.
//!
//! The ABI's attach and detach operations have no flags: on a running guest they change the
//! guest and, when it is persistent, its definition; on a shut-off one, the definition. A
//! change of the definition alone (`--config` on a running guest) is made here by editing the
//! inactive XML and defining it again.

use virtkit::{Domain, DomainState};
use virtkit_xml::{Device, DiskDevice, DomainDef, FormatOptions};

use super::{
    BY_ANY, CmdDef, CmdResult, DOMAIN_HELP, Failure, Group, XML_INACTIVE, data, domain_arg, flag,
    named, opt_data,
};
use crate::ctl::Ctl;
use crate::parse::Args;

/// What a change affects, from virsh's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affect {
    live: bool,
    config: bool,
}

fn affect(args: &Args, dom: &Domain) -> Result<Affect, Failure> {
    let current = args.flag("current");
    let (live, config, persistent) = (
        args.flag("live"),
        args.flag("config"),
        args.flag("persistent"),
    );
    if current && (live || config || persistent) {
        return Err(Failure::msg(
            "Options --current and --live/--config/--persistent are mutually exclusive",
        ));
    }
    let running = !matches!(dom.state()?.0, DomainState::Shutoff);
    let persistent_dom = dom.is_persistent()?;
    let a = if persistent {
        // --persistent: the running guest if there is one, and the definition.
        Affect {
            live: running,
            config: true,
        }
    } else if live || config {
        Affect { live, config }
    } else {
        // --current (the default): the guest if it runs, else its definition.
        Affect {
            live: running,
            config: !running,
        }
    };
    if a.live && !running {
        return Err(Failure::msg(
            "Requested operation is not valid: domain is not running",
        ));
    }
    if a.config && !persistent_dom {
        return Err(Failure::msg(
            "Requested operation is not valid: cannot change persistent config of a transient domain",
        ));
    }
    Ok(a)
}

/// Changes the definition alone: the inactive XML edited and defined again.
fn change_definition(
    ctl: &mut Ctl,
    dom: &Domain,
    f: impl FnOnce(&mut DomainDef) -> Result<(), String>,
) -> Result<(), Failure> {
    let xml = dom.xml_desc(XML_INACTIVE)?;
    let mut def = DomainDef::parse(&xml)
        .map_err(|e| Failure::msg(format!("the domain's XML cannot be read: {e}")))?;
    f(&mut def).map_err(Failure::msg)?;
    let opts = FormatOptions {
        inactive: true,
        secure: true,
        ..FormatOptions::legacy()
    };
    ctl.conn()?.define_domain_xml(&def.to_xml(&opts))?;
    Ok(())
}

/// Attaches or detaches `device` as `a` says.
fn apply(ctl: &mut Ctl, dom: &Domain, a: Affect, device: &Device, attach: bool) -> CmdResult {
    let xml = device.to_xml(&FormatOptions::legacy());
    if a.live {
        // The operation changes the definition of a persistent guest too.
        if attach {
            dom.attach_device(&xml)?;
        } else {
            dom.detach_device(&xml)?;
        }
        return Ok(());
    }
    let running = !matches!(dom.state()?.0, DomainState::Shutoff);
    if !running {
        return if attach {
            Ok(dom.attach_device(&xml)?)
        } else {
            Ok(dom.detach_device(&xml)?)
        };
    }
    let device = device.clone();
    change_definition(ctl, dom, |def| {
        if attach {
            def.attach_device(device).map_err(|e| e.to_string())
        } else {
            def.detach_device(&device)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
}

/// Escapes text for an XML attribute value.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn parse_device(xml: &str) -> Result<Device, Failure> {
    Device::parse(xml).map_err(|e| Failure::msg(format!("XML error: {e}")))
}

fn print_xml(ctl: &mut Ctl, device: &Device) -> CmdResult {
    ctl.print(&device.to_xml(&FormatOptions::legacy()));
    Ok(())
}

pub(super) fn attach_disk(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let source = args.get("source").unwrap_or_default();
    let target = args.get("target").unwrap_or_default();
    let device = args.get("type").unwrap_or("disk");
    if !matches!(device, "disk" | "cdrom" | "floppy") {
        return Err(Failure::msg(format!(
            "No support for {device} in command 'attach-disk'"
        )));
    }
    let source_type = match args.get("sourcetype") {
        Some(t @ ("file" | "block")) => t,
        Some(t) => return Err(Failure::msg(format!("Unknown source type: '{t}'"))),
        None if std::fs::metadata(source)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type())) =>
        {
            "block"
        }
        None => "file",
    };
    let mut xml = format!("<disk type='{source_type}' device='{device}'>");
    if args.get("driver").is_some()
        || args.get("subdriver").is_some()
        || args.get("cache").is_some()
    {
        xml.push_str("<driver");
        for (attr, opt) in [
            ("name", "driver"),
            ("type", "subdriver"),
            ("cache", "cache"),
        ] {
            if let Some(v) = args.get(opt) {
                xml.push_str(&format!(" {attr}='{}'", esc(v)));
            }
        }
        xml.push_str("/>");
    }
    if !source.is_empty() {
        let attr = if source_type == "block" {
            "dev"
        } else {
            "file"
        };
        xml.push_str(&format!("<source {attr}='{}'/>", esc(source)));
    }
    xml.push_str(&format!("<target dev='{}'", esc(target)));
    if let Some(bus) = args.get("targetbus") {
        xml.push_str(&format!(" bus='{}'", esc(bus)));
    }
    xml.push_str("/>");
    match args.get("mode") {
        None => {}
        Some("readonly") => xml.push_str("<readonly/>"),
        Some("shareable") => xml.push_str("<shareable/>"),
        Some(m) => {
            return Err(Failure::msg(format!(
                "No support for {m} in command 'attach-disk'"
            )));
        }
    }
    xml.push_str("</disk>");
    let disk = parse_device(&xml)?;
    if args.flag("print-xml") {
        return print_xml(ctl, &disk);
    }
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let a = affect(args, &dom)?;
    apply(ctl, &dom, a, &disk, true)
        .map_err(|f| Failure::lines(with_first("Failed to attach disk", f)))?;
    ctl.print_extra("Disk attached successfully\n");
    Ok(())
}

fn with_first(first: &str, f: Failure) -> Vec<String> {
    let mut v = vec![first.to_string()];
    v.extend(f.0);
    v
}

/// The devices of the XML that `a` looks at (the live XML when it affects the guest).
fn domain_def(dom: &Domain, a: Affect) -> Result<DomainDef, Failure> {
    let xml = dom.xml_desc(if a.live { 0 } else { XML_INACTIVE })?;
    DomainDef::parse(&xml)
        .map_err(|e| Failure::msg(format!("the domain's XML cannot be read: {e}")))
}

pub(super) fn detach_disk(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let target = args.get("target").unwrap_or_default();
    let a = affect(args, &dom)?;
    let def = domain_def(&dom, a)?;
    let disk = def
        .devices
        .disks
        .iter()
        .find(|d| d.target_dev == target || d.source.as_deref() == Some(target))
        .cloned()
        .ok_or_else(|| {
            Failure::msg(format!(
                "No disk found whose source path or target is {target}"
            ))
        })?;
    let disk = Device::Disk(disk);
    if args.flag("print-xml") {
        return print_xml(ctl, &disk);
    }
    apply(ctl, &dom, a, &disk, false)
        .map_err(|f| Failure::lines(with_first("Failed to detach disk", f)))?;
    ctl.print_extra("Disk detached successfully\n");
    Ok(())
}

pub(super) fn attach_interface(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let kind = args.get("type").unwrap_or_default();
    let source = args.get("source");
    let mut xml = format!("<interface type='{}'>", esc(kind));
    match (kind, source) {
        ("network", Some(s)) => xml.push_str(&format!("<source network='{}'/>", esc(s))),
        ("bridge", Some(s)) => xml.push_str(&format!("<source bridge='{}'/>", esc(s))),
        ("user" | "ethernet", _) => {}
        ("network" | "bridge", None) => {
            return Err(Failure::msg(format!(
                "No source given for an interface of type '{kind}'"
            )));
        }
        _ => {
            return Err(Failure::msg(format!(
                "No support for {kind} in command 'attach-interface'"
            )));
        }
    }
    if let Some(t) = args.get("target") {
        xml.push_str(&format!("<target dev='{}'/>", esc(t)));
    }
    if let Some(m) = args.get("mac") {
        xml.push_str(&format!("<mac address='{}'/>", esc(m)));
    }
    if let Some(s) = args.get("script") {
        xml.push_str(&format!("<script path='{}'/>", esc(s)));
    }
    if let Some(m) = args.get("model") {
        xml.push_str(&format!("<model type='{}'/>", esc(m)));
    }
    xml.push_str("</interface>");
    let mut nic = parse_device(&xml)?;
    if args.flag("print-xml") {
        return print_xml(ctl, &nic);
    }
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let a = affect(args, &dom)?;
    // One MAC for the guest and its definition alike.
    if let Device::Interface(n) = &mut nic
        && n.mac.is_none()
    {
        let r = uuid_bytes();
        n.mac = Some(virtkit_xml::MacAddr([0x52, 0x54, 0x00, r[0], r[1], r[2]]));
    }
    apply(ctl, &dom, a, &nic, true)
        .map_err(|f| Failure::lines(with_first("Failed to attach interface", f)))?;
    ctl.print_extra("Interface attached successfully\n");
    Ok(())
}

/// Three random bytes for a MAC (from the kernel's UUID generator, as the driver's MACs).
fn uuid_bytes() -> [u8; 3] {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).take(6).collect();
    let val = |i: usize| {
        hex.get(i)
            .and_then(|c| (*c as char).to_digit(16))
            .unwrap_or(0) as u8
    };
    [
        val(0) << 4 | val(1),
        val(2) << 4 | val(3),
        val(4) << 4 | val(5),
    ]
}

pub(super) fn detach_interface(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let kind = args.get("type").unwrap_or_default();
    let mac = args.get("mac");
    let a = affect(args, &dom)?;
    let def = domain_def(&dom, a)?;
    let found: Vec<_> = def
        .devices
        .interfaces
        .iter()
        .filter(|n| n.source.type_name() == kind)
        .filter(|n| {
            mac.is_none_or(|m| n.mac.is_some_and(|x| x.to_string().eq_ignore_ascii_case(m)))
        })
        .cloned()
        .collect();
    let nic = match (found.as_slice(), mac) {
        ([one], _) => Device::Interface(one.clone()),
        ([], Some(m)) => {
            return Err(Failure::msg(format!(
                "No interface found whose type is {kind} and MAC address is {m}"
            )));
        }
        ([], None) => {
            return Err(Failure::msg(format!(
                "No interface found whose type is {kind}"
            )));
        }
        (many, _) => {
            return Err(Failure::msg(format!(
                "Domain has {} interfaces. Please specify which one to detach using --mac",
                many.len()
            )));
        }
    };
    if args.flag("print-xml") {
        return print_xml(ctl, &nic);
    }
    apply(ctl, &dom, a, &nic, false)
        .map_err(|f| Failure::lines(with_first("Failed to detach interface", f)))?;
    ctl.print_extra("Interface detached successfully\n");
    Ok(())
}

pub(super) fn change_media(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let (dom, _) = domain_arg(ctl, args, "domain", BY_ANY)?;
    let path = args.get("path").unwrap_or_default();
    let source = args.get("source");
    let picked: Vec<&str> = ["eject", "insert", "update"]
        .into_iter()
        .filter(|f| args.flag(f))
        .collect();
    let action = match (picked.as_slice(), source) {
        ([], None) | (["eject"], _) => "eject",
        ([], Some(_)) => "update",
        ([one], _) => *one,
        _ => {
            return Err(Failure::msg(
                "Options --eject, --insert and --update are mutually exclusive",
            ));
        }
    };
    if action != "eject" && source.is_none() {
        return Err(Failure::msg("No source is specified for inserting media"));
    }
    if action == "eject" && source.is_some() {
        return Err(Failure::msg(
            "The source path must not be given for ejecting media",
        ));
    }
    let a = affect(args, &dom)?;
    let def = domain_def(&dom, a)?;
    let Some(mut disk) = def
        .devices
        .disks
        .iter()
        .find(|d| d.target_dev == path || d.source.as_deref() == Some(path))
        .cloned()
    else {
        return Err(Failure::msg(format!(
            "No disk found whose source path or target is {path}"
        )));
    };
    if !matches!(disk.device, DiskDevice::Cdrom | DiskDevice::Floppy) {
        return Err(Failure::msg(format!(
            "The disk device '{}' is not removable",
            disk.target_dev
        )));
    }
    let had = disk.source.as_deref().is_some_and(|s| !s.is_empty());
    if action == "insert" && had {
        return Err(Failure::msg(format!(
            "The disk device '{}' already has media",
            disk.target_dev
        )));
    }
    disk.source = source.map(str::to_string);
    let device = Device::Disk(disk.clone());
    if args.flag("print-xml") {
        return print_xml(ctl, &device);
    }
    let fail = |f: Failure| {
        Failure::lines(with_first(
            &format!("Failed to complete action {action} on media"),
            f,
        ))
    };
    if a.live {
        // A running guest's CD-ROM or floppy: the operations change only its medium.
        let xml = device.to_xml(&FormatOptions::legacy());
        if action == "eject" {
            dom.detach_device(&xml).map_err(|e| fail(e.into()))?;
        } else {
            dom.attach_device(&xml).map_err(|e| fail(e.into()))?;
        }
    }
    if a.config {
        let target = disk.target_dev.clone();
        change_definition(ctl, &dom, |def| {
            let d = def
                .devices
                .disks
                .iter_mut()
                .find(|d| d.target_dev == target)
                .ok_or_else(|| format!("the definition has no disk '{target}'"))?;
            d.source = disk.source.clone();
            Ok(())
        })
        .map_err(fail)?;
    }
    ctl.print_extra(match action {
        "eject" => "Successfully ejected media.\n",
        "insert" => "Successfully inserted media.\n",
        _ => "Successfully updated media.\n",
    });
    Ok(())
}

/// `attach-disk`, a command of virsh's "Domain Management" group (listed by that group's table in
/// `domain.rs`).
pub(super) const ATTACH_DISK: CmdDef = CmdDef {
    name: "attach-disk",
    group: Group::Domain,
    help: "attach disk device",
    desc: "Attach new disk device.",
    opts: &[
        data("domain", DOMAIN_HELP),
        data("source", "source of disk device or name of network disk"),
        data("target", "target of disk device"),
        named("targetbus", "target bus of disk device"),
        named("driver", "driver of disk device"),
        named("subdriver", "subdriver of disk device"),
        named("cache", "cache mode of disk device"),
        named("type", "target device type"),
        named("mode", "mode of device reading and writing"),
        named("sourcetype", "type of source (block|file)"),
        flag(
            "print-xml",
            "print XML document rather than attach the disk",
        ),
        flag("persistent", "make live change persistent"),
        flag("config", "affect next boot"),
        flag("live", "affect running domain"),
        flag("current", "affect current domain"),
    ],
    no_connect: false,
    hidden: false,
    run: attach_disk,
};

/// `attach-interface`, a command of virsh's "Domain Management" group (listed by that group's table
/// in `domain.rs`).
pub(super) const ATTACH_INTERFACE: CmdDef = CmdDef {
    name: "attach-interface",
    group: Group::Domain,
    help: "attach network interface",
    desc: "Attach new network interface.",
    opts: &[
        data("domain", DOMAIN_HELP),
        data("type", "network interface type"),
        opt_data("source", "source of network interface"),
        named("target", "target network name"),
        named("mac", "MAC address"),
        named("script", "script used to bridge network interface"),
        named("model", "model type"),
        flag(
            "print-xml",
            "print XML document rather than attach the interface",
        ),
        flag("persistent", "make live change persistent"),
        flag("config", "affect next boot"),
        flag("live", "affect running domain"),
        flag("current", "affect current domain"),
    ],
    no_connect: false,
    hidden: false,
    run: attach_interface,
};

/// `change-media`, a command of virsh's "Domain Management" group (listed by that group's table in
/// `domain.rs`).
pub(super) const CHANGE_MEDIA: CmdDef = CmdDef {
    name: "change-media",
    group: Group::Domain,
    help: "Change media of CD or floppy drive",
    desc: "Change media of CD or floppy drive.",
    opts: &[
        data("domain", DOMAIN_HELP),
        data("path", "Fully-qualified path or target of disk device"),
        opt_data("source", "source of the media"),
        flag("eject", "Eject the media"),
        flag("insert", "Insert the media"),
        flag("update", "Update the media"),
        flag(
            "current",
            "can be either or both of --live and --config, depends on implementation hypervisor driver",
        ),
        flag("live", "alter live configuration of running domain"),
        flag(
            "config",
            "alter persistent configuration, effect observed on next boot",
        ),
        flag("force", "force media changing"),
        flag("print-xml", "print XML document rather than change media"),
    ],
    no_connect: false,
    hidden: false,
    run: change_media,
};

/// `detach-disk`, a command of virsh's "Domain Management" group (listed by that group's table in
/// `domain.rs`).
pub(super) const DETACH_DISK: CmdDef = CmdDef {
    name: "detach-disk",
    group: Group::Domain,
    help: "detach disk device",
    desc: "Detach disk device.",
    opts: &[
        data("domain", DOMAIN_HELP),
        data("target", "target of disk device"),
        flag(
            "print-xml",
            "print XML document rather than detach the disk",
        ),
        flag("persistent", "make live change persistent"),
        flag("config", "affect next boot"),
        flag("live", "affect running domain"),
        flag("current", "affect current domain"),
    ],
    no_connect: false,
    hidden: false,
    run: detach_disk,
};

/// `detach-interface`, a command of virsh's "Domain Management" group (listed by that group's table
/// in `domain.rs`).
pub(super) const DETACH_INTERFACE: CmdDef = CmdDef {
    name: "detach-interface",
    group: Group::Domain,
    help: "detach network interface",
    desc: "Detach network interface.",
    opts: &[
        data("domain", DOMAIN_HELP),
        data("type", "network interface type"),
        named("mac", "MAC address"),
        flag(
            "print-xml",
            "print XML document rather than detach the interface",
        ),
        flag("persistent", "make live change persistent"),
        flag("config", "affect next boot"),
        flag("live", "affect running domain"),
        flag("current", "affect current domain"),
    ],
    no_connect: false,
    hidden: false,
    run: detach_interface,
};
