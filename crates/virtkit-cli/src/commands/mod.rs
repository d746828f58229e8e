//! The command table: every command's name, group, help, options and handler, in virsh's
//! groups and order. Help text, the parser, the man page and the completions all read it.

mod domain;
mod drivers;
mod host;
mod monitor;
mod network;
mod session;

use virtkit::{Connect, Domain, Network};

pub(crate) use session::grouped_listing;

use crate::ctl::Ctl;
use crate::parse::Args;

/// A command failure: the `error: ...` lines to report (virsh's own message first, then the
/// API's message when there is one).
#[derive(Debug)]
pub(crate) struct Failure(pub Vec<String>);

impl Failure {
    pub(crate) fn msg(s: impl Into<String>) -> Failure {
        Failure(vec![s.into()])
    }
    pub(crate) fn lines(v: Vec<String>) -> Failure {
        Failure(v)
    }
    /// `context` then the API error.
    pub(crate) fn ctx(context: impl Into<String>, e: virtkit::Error) -> Failure {
        Failure(vec![context.into(), e.message])
    }
}

impl From<virtkit::Error> for Failure {
    fn from(e: virtkit::Error) -> Failure {
        Failure(vec![e.message])
    }
}

pub(crate) type CmdResult = Result<(), Failure>;

/// How an option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OptKind {
    Bool,
    String,
    Number,
    /// Every remaining word (`complete [<string>]...`).
    Argv,
}

/// One option of a command.
#[derive(Debug)]
pub(crate) struct OptDef {
    pub name: &'static str,
    pub kind: OptKind,
    pub help: &'static str,
    pub required: bool,
    /// May be given without `--name`, filling positional words in option order.
    pub positional: bool,
}

const fn opt(
    name: &'static str,
    kind: OptKind,
    required: bool,
    positional: bool,
    help: &'static str,
) -> OptDef {
    OptDef {
        name,
        kind,
        help,
        required,
        positional,
    }
}
/// A required positional string (`<domain>`).
pub(crate) const fn data(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::String, true, true, help)
}
/// An optional positional string (`[--name <string>]`).
pub(crate) const fn opt_data(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::String, false, true, help)
}
/// An optional positional number.
pub(crate) const fn opt_number(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::Number, false, true, help)
}
/// A string option that must be named (`--domain <string>`).
pub(crate) const fn named(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::String, false, false, help)
}
/// The remaining words, all of them (`[<string>]...`).
pub(crate) const fn argv(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::Argv, false, true, help)
}
/// A boolean option.
pub(crate) const fn flag(name: &'static str, help: &'static str) -> OptDef {
    opt(name, OptKind::Bool, false, false, help)
}

/// virsh's command groups, in help order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    Domain,
    Monitor,
    Host,
    Network,
    Virtkit,
}

impl Group {
    pub(crate) const ALL: [Group; 5] = [
        Group::Domain,
        Group::Monitor,
        Group::Host,
        Group::Network,
        Group::Virtkit,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Group::Domain => "Domain Management",
            Group::Monitor => "Domain Monitoring",
            Group::Host => "Host and Hypervisor",
            Group::Network => "Networking",
            Group::Virtkit => "Virtkit itself",
        }
    }

    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Group::Domain => "domain",
            Group::Monitor => "monitor",
            Group::Host => "host",
            Group::Network => "network",
            Group::Virtkit => "virtkit",
        }
    }
}

pub(crate) type Handler = fn(&mut Ctl, &Args) -> CmdResult;

/// One command.
pub(crate) struct CmdDef {
    pub name: &'static str,
    pub group: Group,
    /// One line, shown in the command list.
    pub help: &'static str,
    /// A paragraph, shown by `help <command>` (may be empty).
    pub desc: &'static str,
    pub opts: &'static [OptDef],
    /// Runs without opening a connection first.
    pub no_connect: bool,
    /// Left out of help, the man page and completions.
    pub hidden: bool,
    pub run: Handler,
}

impl CmdDef {
    pub(crate) fn needs_connection(&self) -> bool {
        !self.no_connect
    }

    /// The synopsis line of `help <command>`.
    pub(crate) fn synopsis(&self) -> String {
        let mut s = self.name.to_string();
        for o in self.opts {
            let ty = if o.kind == OptKind::Number {
                "number"
            } else {
                "string"
            };
            match (o.kind, o.required, o.positional) {
                (OptKind::Bool, _, _) => s.push_str(&format!(" [--{}]", o.name)),
                (OptKind::Argv, _, _) => s.push_str(&format!(" [<{}>]...", o.name)),
                (_, true, true) => s.push_str(&format!(" <{}>", o.name)),
                (_, true, false) => s.push_str(&format!(" --{} <{ty}>", o.name)),
                (_, false, _) => s.push_str(&format!(" [--{} <{ty}>]", o.name)),
            }
        }
        s
    }

    /// The option column of `help <command>`.
    pub(crate) fn option_label(o: &OptDef) -> String {
        let ty = if o.kind == OptKind::Number {
            "number"
        } else {
            "string"
        };
        match (o.kind, o.required && o.positional) {
            (OptKind::Bool, _) => format!("--{}", o.name),
            (OptKind::Argv, _) => format!("<{}>", o.name),
            (_, true) => format!("[--{}] <{ty}>", o.name),
            (_, false) => format!("--{} <{ty}>", o.name),
        }
    }
}

/// Every command, in help order within each group.
pub(crate) fn all() -> &'static [CmdDef] {
    COMMANDS
}

/// The visible commands of a group.
pub(crate) fn in_group(g: Group) -> impl Iterator<Item = &'static CmdDef> {
    COMMANDS.iter().filter(move |c| c.group == g && !c.hidden)
}

pub(crate) fn find_command(name: &str) -> Option<&'static CmdDef> {
    COMMANDS.iter().find(|c| c.name == name)
}

// ---- helpers shared by the handlers ----

/// How a domain argument may be resolved (virsh's VIRSH_BYID/BYUUID/BYNAME).
pub(crate) const BY_ID: u8 = 1;
pub(crate) const BY_UUID: u8 = 2;
pub(crate) const BY_NAME: u8 = 4;
pub(crate) const BY_ANY: u8 = BY_ID | BY_UUID | BY_NAME;

/// Length of a UUID in text form: virsh only tries a UUID lookup for strings of this length.
const UUID_TEXT_LEN: usize = 36;

/// Parses an integer as C's strtol in base 10 with the whole string consumed (leading blanks and
/// a sign allowed), which is how virsh decides that a domain argument is an id.
fn parse_c_int(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.starts_with('+') {
        return None;
    }
    t.parse::<i64>().ok()
}

/// Resolves the domain named by option `opt` as virsh does: an id if the text is a
/// non-negative number, then a UUID if it has a UUID's length, then a name. Returns the domain
/// and the text as given (what virsh's messages quote).
pub(crate) fn domain_arg(
    ctl: &mut Ctl,
    args: &Args,
    opt: &str,
    by: u8,
) -> Result<(Domain, String), Failure> {
    let conn = ctl.conn()?;
    let text = args.get(opt).unwrap_or_default().to_string();
    let mut found = None;
    let id = parse_c_int(&text)
        .filter(|i| *i >= 0)
        .and_then(|i| i32::try_from(i).ok());
    if let (true, Some(id)) = (by & BY_ID != 0, id) {
        found = conn.lookup_domain_by_id(id).ok();
    }
    if found.is_none() && by & BY_UUID != 0 && text.len() == UUID_TEXT_LEN {
        found = conn.lookup_domain_by_uuid_str(&text).ok();
    }
    if found.is_none() && by & BY_NAME != 0 {
        found = conn.lookup_domain_by_name(&text).ok();
    }
    // virsh discards the lookup errors and says only which argument failed.
    found
        .map(|d| (d, text.clone()))
        .ok_or_else(|| Failure::msg(format!("failed to get domain '{text}'")))
}

/// libvirt's `VIR_DOMAIN_XML_SECURE` and `VIR_DOMAIN_XML_INACTIVE`, from the ABI.
pub(crate) use virtkit::{
    VK_DOMAIN_XML_INACTIVE as XML_INACTIVE, VK_DOMAIN_XML_SECURE as XML_SECURE,
};

/// A domain's XML as a document to query, as virsh queries it with XPath (any driver's XML:
/// nothing beyond well-formedness is checked).
pub(crate) fn xml_document(dom: &Domain, flags: u32) -> Result<virtkit_xml::XmlDocument, Failure> {
    // virsh's helper prints its own line first, then the API's error (a read-only connection
    // asking for the secure form, say).
    let xml = dom
        .xml_desc(flags)
        .map_err(|e| Failure::ctx("Failed to get domain description xml", e))?;
    virtkit_xml::XmlDocument::parse(&xml)
        .map_err(|e| Failure::msg(format!("the domain's XML cannot be read: {e}")))
}

/// Resolves the network named by option `opt`: a UUID if the text has a UUID's length, then a
/// name. Unlike domains, virsh reports the lookup's own error after its message.
pub(crate) fn network_arg(
    ctl: &mut Ctl,
    args: &Args,
    opt: &str,
    by: u8,
) -> Result<(Network, String), Failure> {
    let conn = ctl.conn()?;
    let text = args.get(opt).unwrap_or_default().to_string();
    let mut last_error = None;
    if by & BY_UUID != 0 && text.len() == UUID_TEXT_LEN {
        match conn.lookup_network_by_uuid_str(&text) {
            Ok(n) => return Ok((n, text)),
            Err(e) => last_error = Some(e),
        }
    }
    if by & BY_NAME != 0 {
        match conn.lookup_network_by_name(&text) {
            Ok(n) => return Ok((n, text)),
            Err(e) => last_error = Some(e),
        }
    }
    let mut lines = vec![format!("failed to get network '{text}'")];
    lines.extend(last_error.map(|e| e.message));
    Err(Failure::lines(lines))
}

/// The largest file virsh reads as XML.
const MAX_XML_FILE: u64 = 10 * 1024 * 1024;

/// An OS error's text without Rust's " (os error N)" suffix, as `strerror` prints it.
pub(crate) fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads an XML file given on the command line, with virsh's error wording.
///
/// What can be read: a regular file, and the streams a shell hands over (a pipe or FIFO such as
/// `/dev/stdin` or `<(command)`, a character device such as `/dev/stdin` on a terminal), always
/// capped at [`MAX_XML_FILE`]. A block device or a socket is refused by kind before any read. The open never blocks: a FIFO without a writer reads as empty instead of waiting
/// for one forever.
pub(crate) fn read_file(path: &str) -> Result<String, Failure> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let open_error = |e: std::io::Error| {
        Failure::msg(format!(
            "Failed to open file '{path}': {}",
            os_error_text(&e)
        ))
    };
    let (file, kind) =
        virtkit_hostio::open_input(std::path::Path::new(path)).map_err(open_error)?;
    // A directory goes on to the read, which fails with virsh's "Is a directory".
    if !(kind.is_file() || kind.is_fifo() || kind.is_char_device() || kind.is_dir()) {
        return Err(Failure::msg(format!(
            "Failed to read file '{path}': it is {}, not a file",
            virtkit_hostio::kind_name(kind)
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_XML_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Failure::msg(format!(
                "Failed to read file '{path}': {}",
                os_error_text(&e)
            ))
        })?;
    if bytes.len() as u64 > MAX_XML_FILE {
        return Err(Failure::msg(format!(
            "File '{path}' is too large (more than {MAX_XML_FILE} bytes)"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| Failure::msg(format!("File '{path}' is not valid UTF-8 text")))
}

/// `major.minor.micro` of a version encoded as libvirt encodes it.
pub(crate) fn version_text(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1_000) % 1_000, v % 1_000)
}

/// The number of host CPUs an affinity map covers: virsh falls back to the node's
/// nodes × sockets × cores × threads when the driver has no CPU map call.
pub(crate) fn host_cpu_count(conn: &Connect) -> Result<usize, Failure> {
    let n = conn.node_info()?;
    // The product of what a driver reports, bounded: it sizes the CPU maps built here.
    let count = [n.nodes, n.sockets, n.cores, n.threads]
        .iter()
        .fold(1u64, |acc, &x| acc.saturating_mul(u64::from(x.max(1))));
    Ok(count.min(u64::from(virtkit::MAX_HOST_CPUS)) as usize)
}

/// Whether bit `i` of an affinity map is set.
pub(crate) fn cpu_used(map: &[u8], i: usize) -> bool {
    map.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Formats the set bits below `max` as libvirt formats bitmaps: `0-3,5,7-8`.
pub(crate) fn format_cpu_set(map: &[u8], max: usize) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < max {
        if cpu_used(map, i) {
            let start = i;
            while i + 1 < max && cpu_used(map, i + 1) {
                i += 1;
            }
            parts.push(if start == i {
                start.to_string()
            } else {
                format!("{start}-{i}")
            });
        }
        i += 1;
    }
    parts.join(",")
}

/// Parses a CPU list (`1-3,5,^2`) into an affinity map of `max` CPUs.
pub(crate) fn parse_cpu_list(text: &str, max: usize) -> Option<Vec<u8>> {
    let mut map = vec![0u8; max.max(1).div_ceil(8)];
    let mut any_positive = false;
    for part in text.split(',') {
        let part = part.trim();
        let (neg, body) = match part.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, part),
        };
        let (a, b) = match body.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let n = body.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if a > b || b >= max || (neg && a != b) {
            return None;
        }
        for i in a..=b {
            if neg {
                map[i / 8] &= !(1 << (i % 8));
            } else {
                map[i / 8] |= 1 << (i % 8);
                any_positive = true;
            }
        }
    }
    any_positive.then_some(map)
}

/// Parses a size with an optional unit (default KiB) into KiB, rounding up, as virsh's
/// scaled integers: `b`, `k`/`KiB`, `KB` (1000), `M`/`MiB`, `MB`, `G`, `T`, `P`, `E`.
pub(crate) fn parse_scaled_kib(text: &str, opt: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::msg(format!(
            "Scaled numeric value '{text}' for <{opt}> option is malformed or out of range"
        ))
    };
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let unit_lc = unit.to_ascii_lowercase();
    let power = |c: char| "bkmgtpe".find(c);
    let scale: u64 = if unit.is_empty() {
        1024
    } else {
        let first = unit_lc.chars().next().ok_or_else(bad)?;
        let p = power(first).ok_or_else(bad)? as u32;
        let rest = &unit_lc[1..];
        match (first, rest) {
            ('b', "" | "yte" | "ytes") => 1,
            (_, "" | "ib") if first != 'b' => 1024u64.checked_pow(p).ok_or_else(bad)?,
            (_, "b") if first != 'b' => 1000u64.checked_pow(p).ok_or_else(bad)?,
            _ => return Err(bad()),
        }
    };
    let bytes = n.checked_mul(scale).ok_or_else(bad)?;
    Ok(bytes.div_ceil(1024))
}

/// Parses an unsigned number option, with virsh's wording.
pub(crate) fn parse_number(text: &str, opt: &str) -> Result<u32, Failure> {
    text.trim_start().parse::<u32>().map_err(|_| {
        Failure::msg(format!(
            "Numeric value '{text}' for <{opt}> option is malformed or out of range"
        ))
    })
}

const DOMAIN_HELP: &str = "domain name, id or uuid";

static COMMANDS: &[CmdDef] = &[
    // ---- Domain Management ----
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
        run: domain::attach_device,
    },
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
        run: domain::autostart,
    },
    CmdDef {
        name: "create",
        group: Group::Domain,
        help: "create a domain from an XML file",
        desc: "Create and start a transient domain from an XML file.",
        opts: &[data("file", "file containing an XML domain description")],
        no_connect: false,
        hidden: false,
        run: domain::create,
    },
    CmdDef {
        name: "define",
        group: Group::Domain,
        help: "define (but don't start) a domain from an XML file",
        desc: "Define a persistent domain from an XML file, or update the definition of an existing one.",
        opts: &[data("file", "file containing an XML domain description")],
        no_connect: false,
        hidden: false,
        run: domain::define,
    },
    CmdDef {
        name: "destroy",
        group: Group::Domain,
        help: "destroy (stop) a domain",
        desc: "Stop a running domain immediately; a transient domain disappears.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::destroy,
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
        run: domain::detach_device,
    },
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
        run: domain::domdisplay,
    },
    CmdDef {
        name: "domid",
        group: Group::Domain,
        help: "convert a domain name or UUID to domain id",
        desc: "",
        opts: &[data("domain", "domain name or uuid")],
        no_connect: false,
        hidden: false,
        run: domain::domid,
    },
    CmdDef {
        name: "domname",
        group: Group::Domain,
        help: "convert a domain id or UUID to domain name",
        desc: "",
        opts: &[data("domain", "domain id or uuid")],
        no_connect: false,
        hidden: false,
        run: domain::domname,
    },
    CmdDef {
        name: "domuuid",
        group: Group::Domain,
        help: "convert a domain name or id to domain UUID",
        desc: "",
        opts: &[data("domain", "domain id or name")],
        no_connect: false,
        hidden: false,
        run: domain::domuuid,
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
        run: domain::xml_from_native,
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
        run: domain::xml_to_native,
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
        run: domain::dump,
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
        run: domain::dumpxml,
    },
    CmdDef {
        name: "reboot",
        group: Group::Domain,
        help: "reboot a domain",
        desc: "Ask the domain to reboot.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::reboot,
    },
    CmdDef {
        name: "restore",
        group: Group::Domain,
        help: "restore a domain from a saved state in a file",
        desc: "Restore a domain saved with 'save'.",
        opts: &[data("file", "the state to restore")],
        no_connect: false,
        hidden: false,
        run: domain::restore,
    },
    CmdDef {
        name: "resume",
        group: Group::Domain,
        help: "resume a domain",
        desc: "Resume a previously suspended domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::resume,
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
        run: domain::save,
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
        run: domain::setmaxmem,
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
        run: domain::setmem,
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
        run: domain::setvcpus,
    },
    CmdDef {
        name: "shutdown",
        group: Group::Domain,
        help: "gracefully shutdown a domain",
        desc: "Ask the domain to shut down.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::shutdown,
    },
    CmdDef {
        name: "start",
        group: Group::Domain,
        help: "start a (previously defined) inactive domain",
        desc: "Start a domain that was defined but is not running.",
        opts: &[data("domain", "name or uuid of the inactive domain")],
        no_connect: false,
        hidden: false,
        run: domain::start,
    },
    CmdDef {
        name: "suspend",
        group: Group::Domain,
        help: "suspend a domain",
        desc: "Suspend a running domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::suspend,
    },
    CmdDef {
        name: "ttyconsole",
        group: Group::Domain,
        help: "tty console",
        desc: "Output the device for the TTY console.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::ttyconsole,
    },
    CmdDef {
        name: "undefine",
        group: Group::Domain,
        help: "undefine a domain",
        desc: "Remove the persistent definition of a domain; a running domain becomes transient.",
        opts: &[data("domain", "domain name or uuid")],
        no_connect: false,
        hidden: false,
        run: domain::undefine,
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
        run: domain::vcpuinfo,
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
        run: domain::vcpupin,
    },
    CmdDef {
        name: "vncdisplay",
        group: Group::Domain,
        help: "vnc display",
        desc: "Output the IP address and port number for the VNC display.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: domain::vncdisplay,
    },
    // ---- Domain Monitoring ----
    CmdDef {
        name: "domblklist",
        group: Group::Monitor,
        help: "list all domain blocks",
        desc: "Get the summary of block devices for a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("inactive", "get inactive rather than running configuration"),
            flag("details", "additionally display the type and device value"),
        ],
        no_connect: false,
        hidden: false,
        run: monitor::domblklist,
    },
    CmdDef {
        name: "domiflist",
        group: Group::Monitor,
        help: "list all domain virtual interfaces",
        desc: "Get the summary of virtual interfaces for a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("inactive", "get inactive rather than running configuration"),
        ],
        no_connect: false,
        hidden: false,
        run: monitor::domiflist,
    },
    CmdDef {
        name: "dominfo",
        group: Group::Monitor,
        help: "domain information",
        desc: "Returns basic information about the domain.",
        opts: &[data("domain", DOMAIN_HELP)],
        no_connect: false,
        hidden: false,
        run: monitor::dominfo,
    },
    CmdDef {
        name: "domstate",
        group: Group::Monitor,
        help: "domain state",
        desc: "Returns state about a domain.",
        opts: &[
            data("domain", DOMAIN_HELP),
            flag("reason", "also print reason for the state"),
        ],
        no_connect: false,
        hidden: false,
        run: monitor::domstate,
    },
    CmdDef {
        name: "list",
        group: Group::Monitor,
        help: "list domains",
        desc: "Returns list of domains.",
        opts: &[
            flag("inactive", "list inactive domains"),
            flag("all", "list inactive & active domains"),
            flag("transient", "list transient domains"),
            flag("persistent", "list persistent domains"),
            flag("state-running", "list domains in running state"),
            flag("state-paused", "list domains in paused state"),
            flag("state-shutoff", "list domains in shutoff state"),
            flag("state-other", "list domains in other states"),
            flag("autostart", "list domains with autostart enabled"),
            flag("no-autostart", "list domains with autostart disabled"),
            flag("with-managed-save", "list domains with managed save state"),
            flag("without-managed-save", "list domains without managed save"),
            flag("uuid", "list uuid's only"),
            flag("name", "list domain names only"),
            flag("id", "list domain IDs only"),
            flag("table", "list table (default)"),
            flag(
                "managed-save",
                "mark inactive domains with managed save state",
            ),
        ],
        no_connect: false,
        hidden: false,
        run: monitor::list,
    },
    // ---- Host and Hypervisor ----
    CmdDef {
        name: "capabilities",
        group: Group::Host,
        help: "capabilities",
        desc: "Returns capabilities of hypervisor/driver.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: host::capabilities,
    },
    CmdDef {
        name: "hostname",
        group: Group::Host,
        help: "print the hypervisor hostname",
        desc: "",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: host::hostname,
    },
    CmdDef {
        name: "nodeinfo",
        group: Group::Host,
        help: "node information",
        desc: "Returns basic information about the node.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: host::nodeinfo,
    },
    CmdDef {
        name: "uri",
        group: Group::Host,
        help: "print the hypervisor canonical URI",
        desc: "",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: host::uri,
    },
    CmdDef {
        name: "version",
        group: Group::Host,
        help: "show version",
        desc: "Display the library version, the API and the hypervisor version.",
        opts: &[],
        no_connect: false,
        hidden: false,
        run: host::version,
    },
    // ---- Networking ----
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
        run: network::autostart,
    },
    CmdDef {
        name: "net-create",
        group: Group::Network,
        help: "create a network from an XML file",
        desc: "Create and start a transient network from an XML file.",
        opts: &[data("file", "file containing an XML network description")],
        no_connect: false,
        hidden: false,
        run: network::create,
    },
    CmdDef {
        name: "net-define",
        group: Group::Network,
        help: "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
        desc: "Define or modify a persistent virtual network.",
        opts: &[data("file", "file containing an XML network description")],
        no_connect: false,
        hidden: false,
        run: network::define,
    },
    CmdDef {
        name: "net-destroy",
        group: Group::Network,
        help: "destroy (stop) a network",
        desc: "Forcefully stop a given network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: network::destroy,
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
        run: network::dumpxml,
    },
    CmdDef {
        name: "net-info",
        group: Group::Network,
        help: "network information",
        desc: "Returns basic information about the network",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: network::info,
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
        run: network::list,
    },
    CmdDef {
        name: "net-name",
        group: Group::Network,
        help: "convert a network UUID to network name",
        desc: "",
        opts: &[data("network", "network uuid")],
        no_connect: false,
        hidden: false,
        run: network::name,
    },
    CmdDef {
        name: "net-start",
        group: Group::Network,
        help: "start a (previously defined) inactive network",
        desc: "Start a network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: network::start,
    },
    CmdDef {
        name: "net-undefine",
        group: Group::Network,
        help: "undefine a persistent network",
        desc: "Undefine the configuration for a persistent network.",
        opts: &[data("network", "network name or uuid")],
        no_connect: false,
        hidden: false,
        run: network::undefine,
    },
    CmdDef {
        name: "net-uuid",
        group: Group::Network,
        help: "convert a network name to network UUID",
        desc: "",
        opts: &[data("network", "network name")],
        no_connect: false,
        hidden: false,
        run: network::uuid,
    },
    // ---- virtkit itself ----
    CmdDef {
        name: "complete",
        group: Group::Virtkit,
        help: "internal command for autocompletion",
        desc: "Prints the completions of the last word of a partial command line, one per line, as \
               the interactive shell offers them on Tab: command names, options, and domain or \
               network names from the connection. The shell completion scripts call it.",
        opts: &[argv("string", "partial string to autocomplete")],
        no_connect: true,
        hidden: true,
        run: session::complete,
    },
    CmdDef {
        name: "connect",
        group: Group::Virtkit,
        help: "(re)connect to hypervisor",
        desc: "Connect to a hypervisor by URI (default: the -c URI, then VIRTKIT_DEFAULT_URI, then LIBVIRT_DEFAULT_URI).",
        opts: &[
            opt_data("name", "hypervisor connection URI"),
            flag("readonly", "read-only connection"),
        ],
        no_connect: true,
        hidden: false,
        run: session::connect,
    },
    CmdDef {
        name: "drivers",
        group: Group::Virtkit,
        help: "list the installed drivers",
        desc: "List every driver this program can use: plugin files found in the driver directories \
               (VIRTKIT_DRIVER_DIR, or <exe>/../lib/virtkit/drivers then the executable's directory) and \
               drivers built into the program, with version, ABI, URI schemes, origin and the number of \
               operations implemented; then the plugin files that were refused and why.",
        opts: drivers::OPTS,
        no_connect: true,
        hidden: false,
        run: drivers::drivers,
    },
    CmdDef {
        name: "exit",
        group: Group::Virtkit,
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        no_connect: true,
        hidden: false,
        run: session::quit,
    },
    CmdDef {
        name: "help",
        group: Group::Virtkit,
        help: "print help",
        desc: "Prints global help, command specific help, or help for a group of related commands",
        opts: &[opt_data(
            "command",
            "Prints global help, command specific help, or help for a group of related commands",
        )],
        no_connect: true,
        hidden: false,
        run: session::help,
    },
    CmdDef {
        name: "quit",
        group: Group::Virtkit,
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        no_connect: true,
        hidden: false,
        run: session::quit,
    },
    CmdDef {
        name: "_gen-docs",
        group: Group::Virtkit,
        help: "write the man page and shell completions generated from the command definitions",
        desc: "",
        opts: &[data(
            "dir",
            "the docs directory (the man page goes there, completions in completions/)",
        )],
        no_connect: true,
        hidden: true,
        run: session::gen_docs,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_required_positionals_come_first() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(
                COMMANDS[..i].iter().all(|d| d.name != c.name),
                "{} twice",
                c.name
            );
            let mut seen_optional_positional = false;
            for o in c.opts {
                if o.positional && !o.required {
                    seen_optional_positional = true;
                }
                assert!(
                    !(o.positional && o.required && seen_optional_positional),
                    "{}: {}",
                    c.name,
                    o.name
                );
                assert!(
                    !(o.kind == OptKind::Bool && o.positional),
                    "{}: {}",
                    c.name,
                    o.name
                );
            }
        }
    }

    #[test]
    fn synopsis_like_virsh() {
        assert_eq!(
            find_command("domstate").unwrap().synopsis(),
            "domstate <domain> [--reason]"
        );
        assert_eq!(
            find_command("vcpupin").unwrap().synopsis(),
            "vcpupin <domain> [--vcpu <number>] [--cpulist <string>]"
        );
        assert_eq!(
            find_command("connect").unwrap().synopsis(),
            "connect [--name <string>] [--readonly]"
        );
    }

    #[test]
    fn c_style_ids() {
        assert_eq!(parse_c_int("12"), Some(12));
        assert_eq!(parse_c_int(" +3"), Some(3));
        assert_eq!(parse_c_int("-1"), Some(-1));
        assert_eq!(parse_c_int("1a"), None);
        assert_eq!(parse_c_int(""), None);
    }

    #[test]
    fn scaled_sizes() {
        assert_eq!(parse_scaled_kib("1024", "size").unwrap(), 1024);
        assert_eq!(parse_scaled_kib("1M", "size").unwrap(), 1024);
        assert_eq!(parse_scaled_kib("1MiB", "size").unwrap(), 1024);
        assert_eq!(parse_scaled_kib("1MB", "size").unwrap(), 977);
        assert_eq!(parse_scaled_kib("1G", "size").unwrap(), 1024 * 1024);
        assert_eq!(parse_scaled_kib("1500b", "size").unwrap(), 2);
        for bad in ["abc", "-5", "1X", "", "1Mx", "99999999999999999999"] {
            assert_eq!(
                parse_scaled_kib(bad, "size").unwrap_err().0,
                vec![format!(
                    "Scaled numeric value '{bad}' for <size> option is malformed or out of range"
                )]
            );
        }
    }

    #[test]
    fn cpu_sets() {
        let m = parse_cpu_list("1-3", 8).unwrap();
        assert_eq!(format_cpu_set(&m, 8), "1-3");
        let m = parse_cpu_list("0-7,^2,9", 16).unwrap();
        assert_eq!(format_cpu_set(&m, 16), "0-1,3-7,9");
        assert!(parse_cpu_list("abc", 8).is_none());
        assert!(parse_cpu_list("8", 8).is_none());
        assert!(parse_cpu_list("^1", 8).is_none());
        assert_eq!(format_cpu_set(&[0xff, 0xff], 16), "0-15");
    }

    #[test]
    fn versions() {
        assert_eq!(version_text(2), "0.0.2");
        assert_eq!(version_text(9_000_000), "9.0.0");
        assert_eq!(version_text(1_002_003), "1.2.3");
    }
}
