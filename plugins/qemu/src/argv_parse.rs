//! `domxml-from-native qemu-argv`: a QEMU command line back to a domain definition, as
//! libvirt's old QEMU argv parser did.
//!
//! Two dialects are read: the command line this driver builds for QEMU 10 (`-machine`,
//! `-drive if=none` + `-device`, `-netdev` + `-device`, `-chardev` + `-device isa-serial`, ...;
//! what `domxml-to-native qemu-argv` prints), and the 2008 one of libvirt 0.4's corpus (`-M`,
//! `-hda`, `-cdrom`, `-drive if=ide,index=`, `-net nic` + `-net user`, `-serial pty`,
//! `-usbdevice`, `-soundhw`, `-localtime`, `-no-acpi`). The line may start with `VAR=value`
//! words (`TZ`, `DISPLAY`, `XAUTHORITY` are kept); words are split as a POSIX shell would for
//! single and double quotes and backslashes. What the driver adds on its own (the QMP monitor,
//! `-nodefaults`, `-daemonize`, `-pidfile`, `-audiodev`) carries nothing back. An option this
//! parser does not know is an error naming it, never silently dropped.
//!
//! The result is written as XML and read back by the XML model, so it passes the same checks as
//! any definition. A line without `-name` gives the guest libvirt's name for it, `unnamed`;
//! without `-uuid` the model gives it a fresh UUID.

use std::collections::HashMap;
use std::fmt::Write as _;

use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{DomainDef, FormatOptions};

/// Longest command line read (the driver's own lines are a few KiB).
const MAX_LINE: usize = 1 << 20;

fn bad(msg: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!("unsupported configuration: {}", msg.into()),
    )
}

/// Splits a shell-like line into words (single quotes, double quotes, backslashes).
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(bad("unterminated single quote in the command line")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => {
                                return Err(bad("unterminated double quote in the command line"));
                            }
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(bad("unterminated double quote in the command line")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(ch) => {
                    in_word = true;
                    cur.push(ch);
                }
                None => return Err(bad("the command line ends with a backslash")),
            },
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// QEMU's `a,key=value,key=value` syntax (`,,` is a comma inside a value). The first item may
/// be a bare value; it is returned under the key `""`.
fn parse_opts(s: &str) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == ',' {
            if it.peek() == Some(&',') {
                it.next();
                cur.push(',');
            } else {
                items.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    items.push(cur);
    items
        .into_iter()
        .enumerate()
        .filter(|(_, i)| !i.is_empty())
        .map(|(n, i)| match i.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None if n == 0 => (String::new(), i),
            None => (i, "on".to_string()),
        })
        .collect()
}

fn get<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// XML text escaping for attribute values and text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

#[derive(Default)]
struct Disk {
    source: Option<String>,
    format: Option<String>,
    cache: Option<String>,
    readonly: bool,
    shareable: bool,
    device: &'static str,
    bus: &'static str,
    target: String,
}

#[derive(Default)]
struct Nic {
    backend: String,
    mac: Option<String>,
    model: Option<String>,
}

/// A character device: its `<serial>`-style XML body (type attribute and children).
struct Chardev {
    kind: String,
    inner: String,
}

#[derive(Default)]
struct Parsed {
    emulator: String,
    env: HashMap<String, String>,
    name: Option<String>,
    uuid: Option<String>,
    kvm: bool,
    machine: Option<String>,
    acpi: bool,
    memory_kib: u64,
    vcpus: u32,
    current_vcpus: Option<u32>,
    boot: Vec<&'static str>,
    kernel: Option<String>,
    initrd: Option<String>,
    append: Option<String>,
    clock: String,
    rtc_catchup: bool,
    hpet_off: bool,
    pit_delay: bool,
    no_reboot: bool,
    no_shutdown: bool,
    disks: Vec<Disk>,
    /// `-drive if=none` by id, waiting for their `-device`.
    drives: HashMap<String, Disk>,
    nics: Vec<Nic>,
    netdevs: HashMap<String, String>,
    /// 2008 `-net` by vlan: NIC and back end.
    vlans: Vec<(String, Option<Nic>, Option<String>)>,
    chardevs: HashMap<String, Chardev>,
    serials: Vec<Chardev>,
    parallels: Vec<Chardev>,
    consoles: Vec<Chardev>,
    inputs: Vec<(&'static str, &'static str)>,
    graphics: Vec<String>,
    sdl: bool,
    full_screen: bool,
    keymap: Option<String>,
    videos: Vec<&'static str>,
    sounds: Vec<&'static str>,
    hostdevs: Vec<String>,
    filesystems: Vec<String>,
    fsdevs: HashMap<String, (String, String, bool)>,
    balloon: bool,
}

/// Letters of a disk index: 0 → `a`, 25 → `z`, 26 → `aa`.
fn index_letters(mut i: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn disk_type(source: &str) -> &'static str {
    if source.starts_with("/dev/") {
        "block"
    } else {
        "file"
    }
}

/// A 2008 `-serial`/`-parallel` value: `pty`, `file:P`, `tcp:H:P[,server][,nowait]`, ...
fn legacy_chardev(v: &str) -> Result<Option<Chardev>> {
    let simple = |kind: &str| Chardev {
        kind: kind.into(),
        inner: String::new(),
    };
    let (proto, rest) = v.split_once(':').unwrap_or((v, ""));
    Ok(Some(match proto {
        "none" => return Ok(None),
        "null" | "vc" | "pty" | "stdio" => simple(proto),
        "file" | "pipe" => Chardev {
            kind: proto.into(),
            inner: format!("<source path='{}'/>", esc(rest)),
        },
        "unix" => {
            let mut parts = rest.split(',');
            let path = parts.next().unwrap_or("");
            let server = parts.any(|p| p == "server" || p == "listen");
            Chardev {
                kind: "unix".into(),
                inner: format!(
                    "<source mode='{}' path='{}'/>",
                    if server { "bind" } else { "connect" },
                    esc(path)
                ),
            }
        }
        "tcp" | "telnet" => {
            let mut parts = rest.split(',');
            let hp = parts.next().unwrap_or("");
            let server = parts.any(|p| p == "server" || p == "listen");
            let (host, port) = hp
                .rsplit_once(':')
                .ok_or_else(|| bad(format!("'{v}' has no port")))?;
            Chardev {
                kind: "tcp".into(),
                inner: format!(
                    "<source mode='{}' host='{}' service='{}'/><protocol type='{}'/>",
                    if server { "bind" } else { "connect" },
                    esc(host),
                    esc(port),
                    if proto == "telnet" { "telnet" } else { "raw" }
                ),
            }
        }
        "udp" => {
            let (remote, local) = match rest.split_once('@') {
                Some((r, l)) => (r, Some(l)),
                None => (rest, None),
            };
            let (rh, rp) = remote.rsplit_once(':').unwrap_or(("", remote));
            let mut inner = String::new();
            let source = |mode: &str, h: &str, p: &str| {
                let host = if h.is_empty() {
                    String::new()
                } else {
                    format!(" host='{}'", esc(h))
                };
                format!("<source mode='{mode}'{host} service='{}'/>", esc(p))
            };
            if let Some(l) = local {
                let (lh, lp) = l.rsplit_once(':').unwrap_or(("", l));
                inner.push_str(&source("bind", lh, lp));
            }
            inner.push_str(&source("connect", rh, rp));
            Chardev {
                kind: "udp".into(),
                inner,
            }
        }
        _ if v.starts_with('/') => Chardev {
            kind: "dev".into(),
            inner: format!("<source path='{}'/>", esc(v)),
        },
        _ => return Err(bad(format!("unknown character device '{v}'"))),
    }))
}

/// A modern `-chardev BACKEND,id=...,...`; returns (id, device).
fn modern_chardev(v: &str) -> Result<(String, Option<Chardev>)> {
    let o = parse_opts(v);
    let id = get(&o, "id").unwrap_or("").to_string();
    let backend = get(&o, "").unwrap_or("");
    let path = || format!("<source path='{}'/>", esc(get(&o, "path").unwrap_or("")));
    let server = get(&o, "server") == Some("on");
    let dev = match backend {
        "null" | "vc" | "pty" | "stdio" => Chardev {
            kind: backend.into(),
            inner: String::new(),
        },
        "file" | "pipe" => Chardev {
            kind: backend.into(),
            inner: path(),
        },
        "serial" | "parallel" | "tty" => Chardev {
            kind: "dev".into(),
            inner: path(),
        },
        "socket" if get(&o, "path").is_some() => Chardev {
            kind: "unix".into(),
            inner: format!(
                "<source mode='{}' path='{}'/>",
                if server { "bind" } else { "connect" },
                esc(get(&o, "path").unwrap_or(""))
            ),
        },
        "socket" => Chardev {
            kind: "tcp".into(),
            inner: format!(
                "<source mode='{}' host='{}' service='{}'/><protocol type='{}'/>",
                if server { "bind" } else { "connect" },
                esc(get(&o, "host").unwrap_or("")),
                esc(get(&o, "port").unwrap_or("")),
                if get(&o, "telnet") == Some("on") {
                    "telnet"
                } else {
                    "raw"
                }
            ),
        },
        "udp" => {
            let mut inner = String::new();
            if get(&o, "localaddr").is_some() || get(&o, "localport").is_some() {
                inner.push_str("<source mode='bind'");
                if let Some(h) = get(&o, "localaddr") {
                    let _ = write!(inner, " host='{}'", esc(h));
                }
                if let Some(p) = get(&o, "localport") {
                    let _ = write!(inner, " service='{}'", esc(p));
                }
                inner.push_str("/>");
            }
            let _ = write!(
                inner,
                "<source mode='connect' host='{}' service='{}'/>",
                esc(get(&o, "host").unwrap_or("")),
                esc(get(&o, "port").unwrap_or(""))
            );
            Chardev {
                kind: "udp".into(),
                inner,
            }
        }
        other => return Err(bad(format!("unknown -chardev back end '{other}'"))),
    };
    Ok((id, Some(dev)))
}

fn disk_from_device(dev: &str, o: &[(String, String)], mut d: Disk) -> Result<Disk> {
    let (device, bus) = match dev {
        "ide-hd" | "ide-cd" => {
            let sata = get(o, "bus").is_some_and(|b| b.starts_with("sata"));
            (
                if dev == "ide-cd" { "cdrom" } else { "disk" },
                if sata { "sata" } else { "ide" },
            )
        }
        "scsi-hd" => ("disk", "scsi"),
        "scsi-cd" => ("cdrom", "scsi"),
        "virtio-blk-pci" | "virtio-blk" => ("disk", "virtio"),
        "floppy" => ("floppy", "fdc"),
        "usb-storage" => ("disk", "usb"),
        _ => return Err(bad(format!("unknown disk device '{dev}'"))),
    };
    d.device = device;
    d.bus = bus;
    d.target = get(o, "id")
        .map(str::to_string)
        .ok_or_else(|| bad(format!("-device {dev} has no id (the disk's target)")))?;
    d.shareable = get(o, "share-rw") == Some("on");
    // The driver marks every CD-ROM read-only; XML says so only when it was asked.
    if device == "cdrom" {
        d.readonly = false;
    }
    Ok(d)
}

impl Parsed {
    fn nic_backend(&self, o: &[(String, String)], kind: &str) -> Result<String> {
        Ok(match kind {
            "user" => "<interface type='user'>".into(),
            "tap" => {
                let mut s = String::from("<interface type='ethernet'>");
                if let Some(t) = get(o, "ifname") {
                    let _ = write!(s, "<target dev='{}'/>", esc(t));
                }
                if let Some(sc) = get(o, "script").filter(|s| *s != "no") {
                    let _ = write!(s, "<script path='{}'/>", esc(sc));
                }
                s
            }
            "bridge" => format!(
                "<interface type='bridge'><source bridge='{}'/>",
                esc(get(o, "br").unwrap_or("br0"))
            ),
            "socket" => {
                let (mode, v) = if let Some(v) = get(o, "mcast") {
                    ("mcast", v)
                } else if let Some(v) = get(o, "listen") {
                    ("server", v)
                } else if let Some(v) = get(o, "connect") {
                    ("client", v)
                } else {
                    return Err(bad("-netdev socket without mcast, listen or connect"));
                };
                let (addr, port) = v.rsplit_once(':').unwrap_or(("", v));
                let addr = if addr.is_empty() {
                    String::new()
                } else {
                    format!(" address='{}'", esc(addr))
                };
                format!(
                    "<interface type='{mode}'><source{addr} port='{}'/>",
                    esc(port)
                )
            }
            other => return Err(bad(format!("unknown network back end '{other}'"))),
        })
    }

    fn option(&mut self, opt: &str, val: Option<&str>) -> Result<()> {
        let need = || val.ok_or_else(|| bad(format!("{opt} needs a value")));
        match opt {
            "-S" | "-no-user-config" | "-nodefaults" | "-daemonize" | "-usb" | "-enable-kvm" => {
                if opt == "-enable-kvm" {
                    self.kvm = true;
                }
            }
            "-nographic" => self.graphics.clear(),
            "-no-acpi" => self.acpi = false,
            "-localtime" => self.clock = "localtime".into(),
            "-no-reboot" => self.no_reboot = true,
            "-no-shutdown" => self.no_shutdown = true,
            "-full-screen" => self.full_screen = true,
            "-pidfile" | "-incoming" | "-mon" | "-audiodev" | "-monitor" => {
                need()?;
            }
            "-name" => {
                let o = parse_opts(need()?);
                self.name = get(&o, "guest").or(get(&o, "")).map(str::to_string);
            }
            "-uuid" => self.uuid = Some(need()?.to_string()),
            "-M" => self.machine = Some(need()?.to_string()),
            "-machine" => {
                for (k, v) in parse_opts(need()?) {
                    match k.as_str() {
                        "" | "type" => self.machine = Some(v),
                        "accel" => self.kvm = v.split(':').next() == Some("kvm"),
                        "acpi" => self.acpi = v != "off",
                        "hpet" => self.hpet_off = v == "off",
                        "pcspk-audiodev" => self.sounds.push("pcspk"),
                        "usb" => {}
                        other => return Err(bad(format!("unknown -machine property '{other}'"))),
                    }
                }
            }
            "-m" => {
                let v = need()?;
                let o = parse_opts(v);
                let size = get(&o, "size").or(get(&o, "")).unwrap_or(v);
                let (num, mult) = match size.as_bytes().last() {
                    Some(b'k' | b'K') => (&size[..size.len() - 1], 1),
                    Some(b'M' | b'm') => (&size[..size.len() - 1], 1024),
                    Some(b'G' | b'g') => (&size[..size.len() - 1], 1024 * 1024),
                    _ => (size, 1024),
                };
                let n: u64 = num
                    .parse()
                    .map_err(|_| bad(format!("-m '{v}' is not a size")))?;
                self.memory_kib = n
                    .checked_mul(mult)
                    .ok_or_else(|| bad(format!("-m '{v}' is too large")))?;
            }
            "-smp" => {
                let o = parse_opts(need()?);
                let n: u32 = get(&o, "")
                    .or(get(&o, "cpus"))
                    .unwrap_or("1")
                    .parse()
                    .map_err(|_| bad("-smp is not a number"))?;
                match get(&o, "maxcpus") {
                    Some(m) => {
                        self.vcpus = m.parse().map_err(|_| bad("-smp maxcpus is not a number"))?;
                        self.current_vcpus = Some(n);
                    }
                    None => self.vcpus = n,
                }
            }
            "-boot" => {
                let o = parse_opts(need()?);
                let order = get(&o, "order").or(get(&o, "")).unwrap_or("c");
                self.boot.clear();
                for c in order.chars() {
                    self.boot.push(match c {
                        'a' => "fd",
                        'c' => "hd",
                        'd' => "cdrom",
                        'n' => "network",
                        _ => return Err(bad(format!("unknown boot device '{c}'"))),
                    });
                }
            }
            "-kernel" => self.kernel = Some(need()?.to_string()),
            "-initrd" => self.initrd = Some(need()?.to_string()),
            "-append" => self.append = Some(need()?.to_string()),
            "-rtc" => {
                let o = parse_opts(need()?);
                match get(&o, "base") {
                    Some("utc") | None => self.clock = "utc".into(),
                    Some("localtime") => self.clock = "localtime".into(),
                    Some(date) => {
                        return Err(bad(format!(
                            "-rtc base={date}: a fixed start date has no libvirt clock offset"
                        )));
                    }
                }
                self.rtc_catchup = get(&o, "driftfix") == Some("slew");
            }
            "-global" => match need()? {
                "kvm-pit.lost_tick_policy=delay" => self.pit_delay = true,
                other => return Err(bad(format!("unknown -global '{other}'"))),
            },
            "-hda" | "-hdb" | "-hdc" | "-hdd" | "-cdrom" | "-fda" | "-fdb" => {
                let src = need()?.to_string();
                let (target, device, bus) = match opt {
                    "-cdrom" => ("hdc".to_string(), "cdrom", "ide"),
                    "-fda" | "-fdb" => (opt[1..].to_string(), "floppy", "fdc"),
                    _ => (opt[1..].to_string(), "disk", "ide"),
                };
                self.disks.push(Disk {
                    source: Some(src).filter(|s| !s.is_empty()),
                    device,
                    bus,
                    target,
                    ..Default::default()
                });
            }
            "-drive" => {
                let o = parse_opts(need()?);
                let mut d = Disk {
                    source: get(&o, "file")
                        .map(str::to_string)
                        .filter(|s| !s.is_empty()),
                    format: get(&o, "format").map(str::to_string),
                    // QEMU 0.9 spelled O_DIRECT `cache=off` and its default `cache=on`.
                    cache: get(&o, "cache").map(|c| match c {
                        "off" => "none".to_string(),
                        "on" => "writethrough".to_string(),
                        c => c.to_string(),
                    }),
                    readonly: get(&o, "readonly") == Some("on"),
                    ..Default::default()
                };
                match get(&o, "if").unwrap_or("ide") {
                    "none" => {
                        let id = get(&o, "id")
                            .ok_or_else(|| bad("-drive if=none has no id"))?
                            .to_string();
                        self.drives.insert(id, d);
                    }
                    bus @ ("ide" | "virtio" | "scsi" | "floppy") => {
                        let num = |k: &str| -> Result<Option<u32>> {
                            get(&o, k)
                                .map(|v| {
                                    v.parse()
                                        .map_err(|_| bad(format!("-drive {k}={v} is not a number")))
                                })
                                .transpose()
                        };
                        // `index=`, or `bus=` and `unit=` (two units per IDE bus).
                        let index = match (num("index")?, num("bus")?, num("unit")?) {
                            (Some(i), _, _) => i,
                            (None, b, u) => {
                                let per_bus = if bus == "ide" { 2 } else { 1 };
                                b.unwrap_or(0)
                                    .saturating_mul(per_bus)
                                    .saturating_add(u.unwrap_or(0))
                            }
                        };
                        let cdrom = get(&o, "media") == Some("cdrom");
                        let (prefix, b) = match bus {
                            "ide" => ("hd", "ide"),
                            "virtio" => ("vd", "virtio"),
                            "scsi" => ("sd", "scsi"),
                            _ => ("fd", "fdc"),
                        };
                        d.target = format!("{prefix}{}", index_letters(index));
                        d.bus = b;
                        d.device = if cdrom {
                            "cdrom"
                        } else if bus == "floppy" {
                            "floppy"
                        } else {
                            "disk"
                        };
                        self.disks.push(d);
                    }
                    "xen" => {
                        return Err(bad(
                            "-drive if=xen is a Xen paravirtual disk, which QEMU 10 offers only as a Xen device model",
                        ));
                    }
                    other => return Err(bad(format!("unknown -drive interface '{other}'"))),
                }
            }
            "-netdev" => {
                let o = parse_opts(need()?);
                let kind = get(&o, "").unwrap_or("");
                let id = get(&o, "id")
                    .ok_or_else(|| bad("-netdev has no id"))?
                    .to_string();
                let backend = self.nic_backend(&o, kind)?;
                self.netdevs.insert(id, backend);
            }
            "-net" => {
                let o = parse_opts(need()?);
                let kind = get(&o, "").unwrap_or("");
                let vlan = get(&o, "vlan").unwrap_or("0").to_string();
                if kind == "none" {
                    return Ok(());
                }
                let pos = match self.vlans.iter().position(|(v, _, _)| *v == vlan) {
                    Some(p) => p,
                    None => {
                        self.vlans.push((vlan, None, None));
                        self.vlans.len() - 1
                    }
                };
                if kind == "nic" {
                    self.vlans[pos].1 = Some(Nic {
                        backend: String::new(),
                        mac: get(&o, "macaddr").map(str::to_string),
                        model: get(&o, "model").map(str::to_string),
                    });
                } else {
                    let b = self.nic_backend(&o, kind)?;
                    self.vlans[pos].2 = Some(b);
                }
            }
            "-chardev" => {
                let (id, dev) = modern_chardev(need()?)?;
                if let Some(dev) = dev
                    && id != "charmonitor"
                {
                    self.chardevs.insert(id, dev);
                }
            }
            "-serial" => {
                if let Some(c) = legacy_chardev(need()?)? {
                    self.serials.push(c);
                }
            }
            "-parallel" => {
                if let Some(c) = legacy_chardev(need()?)? {
                    self.parallels.push(c);
                }
            }
            "-usbdevice" => {
                let v = need()?;
                match v {
                    "mouse" => self.inputs.push(("mouse", "usb")),
                    "tablet" => self.inputs.push(("tablet", "usb")),
                    "keyboard" => self.inputs.push(("keyboard", "usb")),
                    _ => {
                        let h = v
                            .strip_prefix("host:")
                            .ok_or_else(|| bad(format!("unknown -usbdevice '{v}'")))?;
                        let xml = if let Some((b, d)) = h.split_once('.') {
                            let b: u32 = b
                                .parse()
                                .map_err(|_| bad(format!("bad USB bus in '{v}'")))?;
                            let d: u32 = d
                                .parse()
                                .map_err(|_| bad(format!("bad USB device in '{v}'")))?;
                            format!("<address bus='{b}' device='{d}'/>")
                        } else if let Some((ven, prod)) = h.split_once(':') {
                            format!(
                                "<vendor id='0x{}'/><product id='0x{}'/>",
                                esc(ven),
                                esc(prod)
                            )
                        } else {
                            return Err(bad(format!("unknown -usbdevice '{v}'")));
                        };
                        self.hostdevs.push(format!(
                            "<hostdev mode='subsystem' type='usb'><source>{xml}</source></hostdev>"
                        ));
                    }
                }
            }
            "-soundhw" => {
                for m in need()?.split(',') {
                    self.sounds.push(match m {
                        "sb16" => "sb16",
                        "es1370" => "es1370",
                        "pcspk" => "pcspk",
                        "ac97" => "ac97",
                        "hda" => "ich6",
                        _ => return Err(bad(format!("unknown sound card '{m}'"))),
                    });
                }
            }
            "-vnc" => {
                let o = parse_opts(need()?);
                let addr = get(&o, "").unwrap_or(":0");
                let (listen, display) = match addr.rsplit_once(':') {
                    Some((l, d)) => (l.trim_start_matches('[').trim_end_matches(']'), d),
                    None => ("", addr),
                };
                let display: u32 = display
                    .parse()
                    .map_err(|_| bad(format!("-vnc '{addr}' has no display number")))?;
                let mut g = if get(&o, "to").is_some() {
                    "<graphics type='vnc' port='-1' autoport='yes'".to_string()
                } else {
                    format!("<graphics type='vnc' port='{}'", 5900 + display)
                };
                if !listen.is_empty() {
                    let _ = write!(g, " listen='{}'", esc(listen));
                }
                self.graphics.push(g);
            }
            "-k" => self.keymap = Some(need()?.to_string()),
            "-display" => {
                let o = parse_opts(need()?);
                match get(&o, "").unwrap_or("") {
                    "sdl" => self.sdl = true,
                    "none" => {}
                    other => return Err(bad(format!("unknown display '{other}'"))),
                }
            }
            "-fsdev" => {
                let o = parse_opts(need()?);
                let id = get(&o, "id").ok_or_else(|| bad("-fsdev has no id"))?;
                let model = match get(&o, "security_model").unwrap_or("passthrough") {
                    "none" => "squash",
                    "mapped-xattr" => "mapped",
                    m => m,
                };
                self.fsdevs.insert(
                    id.to_string(),
                    (
                        get(&o, "path").unwrap_or("").to_string(),
                        model.to_string(),
                        get(&o, "readonly") == Some("on"),
                    ),
                );
            }
            "-device" => self.device(need()?)?,
            other => return Err(bad(format!("unknown QEMU option '{other}'"))),
        }
        Ok(())
    }

    fn device(&mut self, v: &str) -> Result<()> {
        let o = parse_opts(v);
        let dev = get(&o, "").unwrap_or("");
        match dev {
            "ide-hd" | "ide-cd" | "scsi-hd" | "scsi-cd" | "virtio-blk-pci" | "virtio-blk"
            | "floppy" | "usb-storage" => {
                let drive =
                    get(&o, "drive").ok_or_else(|| bad(format!("-device {dev} has no drive")))?;
                let d = self.drives.remove(drive).ok_or_else(|| {
                    bad(format!(
                        "-device {dev} names drive '{drive}', which no -drive defines"
                    ))
                })?;
                let d = disk_from_device(dev, &o, d)?;
                self.disks.push(d);
            }
            "virtio-scsi-pci" | "lsi" | "mptsas1068" | "megasas" | "ahci" | "isa-fdc"
            | "virtio-serial-pci" | "hda-duplex" => {}
            "isa-serial" | "isa-parallel" | "virtconsole" => {
                let id = get(&o, "chardev")
                    .ok_or_else(|| bad(format!("-device {dev} has no chardev")))?;
                let c = self.chardevs.remove(id).ok_or_else(|| {
                    bad(format!(
                        "-device {dev} names chardev '{id}', which no -chardev defines"
                    ))
                })?;
                match dev {
                    "isa-serial" => self.serials.push(c),
                    "isa-parallel" => self.parallels.push(c),
                    _ => self.consoles.push(c),
                }
            }
            "usb-mouse" => self.inputs.push(("mouse", "usb")),
            "usb-tablet" => self.inputs.push(("tablet", "usb")),
            "usb-kbd" => self.inputs.push(("keyboard", "usb")),
            "virtio-mouse-pci" => self.inputs.push(("mouse", "virtio")),
            "virtio-tablet-pci" => self.inputs.push(("tablet", "virtio")),
            "virtio-keyboard-pci" => self.inputs.push(("keyboard", "virtio")),
            "VGA" | "isa-vga" => self.videos.push("vga"),
            "cirrus-vga" | "isa-cirrus-vga" => self.videos.push("cirrus"),
            "vmware-svga" => self.videos.push("vmvga"),
            "qxl-vga" => self.videos.push("qxl"),
            "virtio-vga" => self.videos.push("virtio"),
            "bochs-display" => self.videos.push("bochs"),
            "ramfb" => self.videos.push("ramfb"),
            "sb16" => self.sounds.push("sb16"),
            "ES1370" => self.sounds.push("es1370"),
            "AC97" => self.sounds.push("ac97"),
            "intel-hda" => self.sounds.push("ich6"),
            "ich9-intel-hda" => self.sounds.push("ich9"),
            "usb-audio" => self.sounds.push("usb"),
            "virtio-balloon-pci" | "virtio-balloon" => self.balloon = true,
            "usb-host" => {
                let src = match (get(&o, "hostbus"), get(&o, "hostaddr")) {
                    (Some(b), Some(d)) => {
                        format!("<address bus='{}' device='{}'/>", esc(b), esc(d))
                    }
                    _ => format!(
                        "<vendor id='{}'/><product id='{}'/>",
                        esc(get(&o, "vendorid").unwrap_or("")),
                        esc(get(&o, "productid").unwrap_or(""))
                    ),
                };
                self.hostdevs.push(format!(
                    "<hostdev mode='subsystem' type='usb'><source>{src}</source></hostdev>"
                ));
            }
            "vfio-pci" => {
                let host = get(&o, "host").ok_or_else(|| bad("-device vfio-pci has no host"))?;
                let (dom, rest) = host
                    .split_once(':')
                    .ok_or_else(|| bad(format!("bad PCI address '{host}'")))?;
                let (bus, rest) = rest
                    .split_once(':')
                    .ok_or_else(|| bad(format!("bad PCI address '{host}'")))?;
                let (slot, func) = rest
                    .split_once('.')
                    .ok_or_else(|| bad(format!("bad PCI address '{host}'")))?;
                self.hostdevs.push(format!(
                    "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x{}' bus='0x{}' slot='0x{}' function='0x{}'/></source></hostdev>",
                    esc(dom), esc(bus), esc(slot), esc(func)
                ));
            }
            "virtio-9p-pci" => {
                let id =
                    get(&o, "fsdev").ok_or_else(|| bad("-device virtio-9p-pci has no fsdev"))?;
                let (path, model, ro) = self.fsdevs.remove(id).ok_or_else(|| {
                    bad(format!(
                        "-device virtio-9p-pci names fsdev '{id}', which no -fsdev defines"
                    ))
                })?;
                self.filesystems.push(format!(
                    "<filesystem type='mount' accessmode='{}'><source dir='{}'/><target dir='{}'/>{}</filesystem>",
                    esc(&model),
                    esc(&path),
                    esc(get(&o, "mount_tag").unwrap_or("")),
                    if ro { "<readonly/>" } else { "" }
                ));
            }
            _ => {
                // A NIC: any device attached to a -netdev.
                if let Some(nd) = get(&o, "netdev") {
                    let backend = self.netdevs.get(nd).cloned().ok_or_else(|| {
                        bad(format!(
                            "-device {dev} names netdev '{nd}', which no -netdev defines"
                        ))
                    })?;
                    self.nics.push(Nic {
                        backend,
                        mac: get(&o, "mac").map(str::to_string),
                        model: Some(match dev {
                            "virtio-net-pci" | "virtio-net" => "virtio".to_string(),
                            m => m.to_string(),
                        }),
                    });
                } else {
                    return Err(bad(format!("unknown QEMU device '{dev}'")));
                }
            }
        }
        Ok(())
    }

    fn to_xml(&self) -> String {
        let mut x = String::new();
        let dtype = if self.kvm { "kvm" } else { "qemu" };
        let _ = write!(x, "<domain type='{dtype}'>");
        let _ = write!(
            x,
            "<name>{}</name>",
            esc(self.name.as_deref().unwrap_or("unnamed"))
        );
        if let Some(u) = &self.uuid {
            let _ = write!(x, "<uuid>{}</uuid>", esc(u));
        }
        let mem = if self.memory_kib == 0 {
            128 * 1024
        } else {
            self.memory_kib
        };
        let _ = write!(
            x,
            "<memory unit='KiB'>{mem}</memory><currentMemory unit='KiB'>{mem}</currentMemory>"
        );
        match self.current_vcpus {
            Some(c) => {
                let _ = write!(x, "<vcpu current='{c}'>{}</vcpu>", self.vcpus.max(1));
            }
            None => {
                let _ = write!(x, "<vcpu>{}</vcpu>", self.vcpus.max(1));
            }
        }
        x.push_str("<os><type");
        if let Some(arch) = self
            .emulator
            .rsplit('/')
            .next()
            .and_then(|b| b.strip_prefix("qemu-system-"))
        {
            let arch = match arch {
                "i386" => "i686",
                "arm" => "armv7l",
                a => a,
            };
            let _ = write!(x, " arch='{}'", esc(arch));
        }
        if let Some(m) = &self.machine {
            let _ = write!(x, " machine='{}'", esc(m));
        }
        x.push_str(">hvm</type>");
        if let Some(k) = &self.kernel {
            let _ = write!(x, "<kernel>{}</kernel>", esc(k));
            if let Some(i) = &self.initrd {
                let _ = write!(x, "<initrd>{}</initrd>", esc(i));
            }
            if let Some(a) = &self.append {
                let _ = write!(x, "<cmdline>{}</cmdline>", esc(a));
            }
        } else {
            for b in &self.boot {
                let _ = write!(x, "<boot dev='{b}'/>");
            }
        }
        x.push_str("</os>");
        if self.acpi {
            x.push_str("<features><acpi/></features>");
        }
        let clock = if self.clock.is_empty() {
            "utc"
        } else {
            &self.clock
        };
        let _ = write!(x, "<clock offset='{clock}'>");
        if self.rtc_catchup {
            x.push_str("<timer name='rtc' tickpolicy='catchup'/>");
        }
        if self.pit_delay {
            x.push_str("<timer name='pit' tickpolicy='delay'/>");
        }
        if self.hpet_off {
            x.push_str("<timer name='hpet' present='no'/>");
        }
        x.push_str("</clock>");
        if self.no_shutdown {
            x.push_str("<on_poweroff>preserve</on_poweroff>");
        }
        if self.no_reboot {
            x.push_str("<on_reboot>destroy</on_reboot>");
        }
        x.push_str("<devices>");
        let _ = write!(x, "<emulator>{}</emulator>", esc(&self.emulator));
        for d in &self.disks {
            let src = d.source.as_deref();
            let kind = src.map(disk_type).unwrap_or("file");
            let _ = write!(x, "<disk type='{kind}' device='{}'>", d.device);
            if d.format.is_some() || d.cache.is_some() {
                x.push_str("<driver name='qemu'");
                if let Some(f) = &d.format {
                    let _ = write!(x, " type='{}'", esc(f));
                }
                if let Some(c) = &d.cache {
                    let _ = write!(x, " cache='{}'", esc(c));
                }
                x.push_str("/>");
            }
            if let Some(s) = src {
                let attr = if kind == "block" { "dev" } else { "file" };
                let _ = write!(x, "<source {attr}='{}'/>", esc(s));
            }
            let _ = write!(x, "<target dev='{}' bus='{}'/>", esc(&d.target), d.bus);
            if d.readonly {
                x.push_str("<readonly/>");
            }
            if d.shareable {
                x.push_str("<shareable/>");
            }
            x.push_str("</disk>");
        }
        x.extend(self.filesystems.iter().map(String::as_str));
        let legacy = self
            .vlans
            .iter()
            .filter_map(|(_, nic, backend)| {
                nic.as_ref().map(|n| Nic {
                    backend: backend
                        .clone()
                        .unwrap_or_else(|| "<interface type='user'>".into()),
                    mac: n.mac.clone(),
                    model: n.model.clone(),
                })
            })
            .collect::<Vec<_>>();
        for n in self.nics.iter().chain(&legacy) {
            x.push_str(&n.backend);
            if let Some(m) = &n.mac {
                let _ = write!(x, "<mac address='{}'/>", esc(m));
            }
            if let Some(m) = n.model.as_deref().filter(|m| *m != "rtl8139") {
                let _ = write!(x, "<model type='{}'/>", esc(m));
            }
            x.push_str("</interface>");
        }
        for (tag, list) in [("serial", &self.serials), ("parallel", &self.parallels)] {
            for (i, c) in list.iter().enumerate() {
                let _ = write!(
                    x,
                    "<{tag} type='{}'>{}<target port='{i}'/></{tag}>",
                    c.kind, c.inner
                );
            }
        }
        for (i, c) in self.consoles.iter().enumerate() {
            let _ = write!(
                x,
                "<console type='{}'>{}<target type='virtio' port='{i}'/></console>",
                c.kind, c.inner
            );
        }
        for (t, b) in &self.inputs {
            let _ = write!(x, "<input type='{t}' bus='{b}'/>");
        }
        for g in &self.graphics {
            x.push_str(g);
            if let Some(k) = &self.keymap {
                let _ = write!(x, " keymap='{}'", esc(k));
            }
            x.push_str("/>");
        }
        if self.sdl {
            x.push_str("<graphics type='sdl'");
            if let Some(d) = self.env.get("DISPLAY") {
                let _ = write!(x, " display='{}'", esc(d));
            }
            if let Some(a) = self.env.get("XAUTHORITY") {
                let _ = write!(x, " xauth='{}'", esc(a));
            }
            if self.full_screen {
                x.push_str(" fullscreen='yes'");
            }
            x.push_str("/>");
        }
        for s in &self.sounds {
            let _ = write!(x, "<sound model='{s}'/>");
        }
        for v in &self.videos {
            let _ = write!(x, "<video><model type='{v}'/></video>");
        }
        x.extend(self.hostdevs.iter().map(String::as_str));
        if !self.balloon {
            x.push_str("<memballoon model='none'/>");
        }
        x.push_str("</devices></domain>");
        x
    }
}

/// Reads a QEMU command line (either dialect) into a domain definition.
pub fn parse_argv(line: &str) -> Result<DomainDef> {
    if line.len() > MAX_LINE {
        return Err(bad(format!(
            "the command line is {} bytes, more than the {MAX_LINE} read",
            line.len()
        )));
    }
    let words = split_words(line)?;
    let mut p = Parsed {
        acpi: true,
        vcpus: 1,
        ..Default::default()
    };
    let mut it = words.iter().peekable();
    // VAR=value words before the program.
    while let Some(w) = it.peek() {
        match w.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                p.env.insert(k.to_string(), v.to_string());
                it.next();
            }
            _ => break,
        }
    }
    p.emulator = it
        .next()
        .ok_or_else(|| bad("the command line is empty"))?
        .clone();
    if p.emulator.starts_with('-') {
        return Err(bad(format!(
            "the command line starts with the option '{}', not the emulator",
            p.emulator
        )));
    }
    let base = p.emulator.rsplit('/').next().unwrap_or("");
    if !(base.starts_with("qemu") || base.contains("kvm") || base == "xenner") {
        return Err(bad(format!(
            "'{}' is not a QEMU binary (the command line must start with qemu, qemu-system-*, or kvm)",
            p.emulator
        )));
    }
    if base.contains("kvm") {
        p.kvm = true;
    }
    if base == "xenner" {
        return Err(bad(
            "'xenner' guests ran Xen kernels under QEMU; QEMU 10 has no xenner",
        ));
    }
    // The 2008 QEMU opened an SDL window unless told otherwise.
    let legacy = words
        .iter()
        .any(|w| w == "-M" || w == "-hda" || w == "-net")
        && !words
            .iter()
            .any(|w| w == "-nographic" || w == "-vnc" || w == "-display");
    if legacy {
        p.sdl = true;
    }
    const NO_VALUE: &[&str] = &[
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-daemonize",
        "-usb",
        "-enable-kvm",
        "-nographic",
        "-no-acpi",
        "-localtime",
        "-no-reboot",
        "-no-shutdown",
        "-full-screen",
    ];
    while let Some(opt) = it.next() {
        if !opt.starts_with('-') {
            return Err(bad(format!("'{opt}' is not an option")));
        }
        // `--opt` is QEMU's spelling of `-opt` too.
        let opt = if opt.starts_with("--") {
            &opt[1..]
        } else {
            opt.as_str()
        };
        let val = if NO_VALUE.contains(&opt) {
            None
        } else {
            it.next().map(String::as_str)
        };
        p.option(opt, val)?;
    }
    if let Some(id) = p.drives.keys().next() {
        return Err(bad(format!("-drive '{id}' is attached to no -device")));
    }
    if let Some(tz) = p.env.get("TZ").cloned() {
        p.clock = format!("timezone' timezone='{}", esc(&tz));
    }
    let xml = p.to_xml();
    DomainDef::parse(&xml).map_err(|e| {
        Error::new(
            ErrorCode::XmlError,
            format!("XML error: the command line gives an invalid definition: {e}"),
        )
    })
}

/// The `domain_xml_from_native` slot: `qemu-argv` only.
pub(crate) fn xml_from_native(
    _c: &crate::QemuConn,
    format: &str,
    config: &str,
    _flags: u32,
) -> Result<String> {
    if format != "qemu-argv" {
        return Err(Error::invalid_arg(format!(
            "unsupported config type {format} (the QEMU driver knows qemu-argv)"
        )));
    }
    Ok(parse_argv(config)?.to_xml(&FormatOptions::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_options() {
        assert_eq!(
            split_words(r#"A=1 /q 'a b' "c\"d" e\ f"#).unwrap(),
            ["A=1", "/q", "a b", "c\"d", "e f"]
        );
        assert!(split_words("'open").is_err());
        assert_eq!(
            parse_opts("file=/a,,b,if=none,readonly"),
            [
                ("file".to_string(), "/a,b".to_string()),
                ("if".into(), "none".into()),
                ("readonly".into(), "on".into())
            ]
        );
        assert_eq!(index_letters(0), "a");
        assert_eq!(index_letters(25), "z");
        assert_eq!(index_letters(26), "aa");
    }

    #[test]
    fn bad_lines_are_refused_with_the_reason() {
        for (line, why) in [
            ("", "empty"),
            ("-S", "not the emulator"),
            ("vm", "not a QEMU binary"),
            (
                "/usr/bin/qemu -frobnicate",
                "unknown QEMU option '-frobnicate'",
            ),
            ("/usr/bin/qemu -m", "-m needs a value"),
            ("/usr/bin/qemu -m lots", "not a size"),
            ("/usr/bin/xenner -M xenner", "xenner"),
            (
                "/usr/bin/qemu -device ide-hd,drive=x,id=hda",
                "no -drive defines",
            ),
            (
                "/usr/bin/qemu -drive file=/a,if=none,id=d",
                "attached to no -device",
            ),
        ] {
            let e = parse_argv(line).unwrap_err();
            assert!(e.message.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn a_bridge_through_qemus_helper() {
        let d = parse_argv(
            "/usr/bin/qemu-system-x86_64 -m size=65536k -netdev bridge,id=hostnet0,br=virbr0 \
             -device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01",
        )
        .unwrap();
        let n = &d.devices.interfaces[0];
        assert!(
            matches!(&n.source, virtkit_xml::InterfaceSource::Bridge { bridge } if bridge == "virbr0"),
            "{:?}",
            n.source
        );
        assert_eq!(n.model.as_deref(), Some("virtio"));
    }

    #[test]
    fn a_2008_line() {
        let d = parse_argv(
            "/usr/bin/qemu -S -M pc -m 214 -smp 1 -nographic -monitor pty -no-acpi -boot c \
             -hda /dev/HostVG/QEMUGuest1 -net nic,macaddr=00:11:22:33:44:55,vlan=0 -net user,vlan=0 \
             -serial pty -parallel none -usb -soundhw pcspk,es1370",
        )
        .unwrap();
        assert_eq!(d.name, "unnamed");
        assert_eq!(d.memory_kib, 214 * 1024);
        assert!(!d.features.acpi);
        assert_eq!(d.devices.disks[0].target_dev, "hda");
        assert_eq!(
            d.devices.disks[0].source.as_deref(),
            Some("/dev/HostVG/QEMUGuest1")
        );
        assert_eq!(
            d.devices.interfaces[0]
                .mac
                .map(|m| m.to_string())
                .as_deref(),
            Some("00:11:22:33:44:55")
        );
        assert_eq!(d.devices.serials.len(), 1);
        assert_eq!(d.devices.sounds.len(), 2);
    }
}
