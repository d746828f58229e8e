//! `virtkit-vzctl-standin`: vzctl's commands on the stand-in host (see the crate docs).
//!
//! `vzctl [--quiet|--verbose] COMMAND CTID [options]` with COMMAND one of create, start, stop,
//! restart, destroy (delete), set, chkpnt, status; `vzctl --version`, `vzctl --help`.

use std::process::ExitCode;

use virtkit_openvz_driver::{NetIf, VzConfig, format_netif, parse_netif};
use virtkit_openvz_standins::{Failure, Host, RunState, check_name, code, generated_mac};

struct Out {
    quiet: bool,
    text: String,
}

impl Out {
    fn say(&mut self, line: impl AsRef<str>) {
        if !self.quiet {
            self.text.push_str(line.as_ref());
            self.text.push('\n');
        }
    }
}

fn version() -> String {
    Host::from_env("vzctl").map_or_else(|_| "4.9.4".into(), |h| h.version())
}

fn usage() -> String {
    format!(
        "vzctl version {}\nCopyright (C) 2000-2012, Parallels, Inc.\nThis program may be distributed under the terms of the GNU GPL License.\n\nUsage: vzctl [options] <command> <ctid> [parameters]\nvzctl create <ctid> [--ostemplate <name>] [--config <name>] [--name <name>]\nvzctl start <ctid> [--wait] [--force]\nvzctl stop <ctid> [--fast]\nvzctl restart <ctid> [--wait] [--force] [--fast]\nvzctl destroy | delete | status <ctid>\nvzctl chkpnt <ctid> [--suspend | --resume]\nvzctl set <ctid> [--save] [--onboot yes|no] [--name <name>] [--cpus <num>] [--physpages P] ...\n",
        version()
    )
}

/// Splits `--opt value` pairs and flags; `with_value` names the options that take one.
fn options<'a>(
    args: &'a [String],
    with_value: &[&str],
    flags: &[&str],
) -> Result<Vec<(&'a str, Option<&'a str>)>, Failure> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let Some(name) = a.strip_prefix("--") else {
            return Err((
                code::SYNTAX,
                format!("non-option ARGV-elements: {}", args[i..].join(" ")),
            ));
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (name, None),
        };
        if flags.contains(&name) && inline.is_none() {
            out.push((name, None));
            i += 1;
        } else if with_value.contains(&name) {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i).map(String::as_str).ok_or_else(|| {
                        (
                            code::VALUE,
                            format!("vzctl: option '--{name}' requires an argument"),
                        )
                    })?
                }
            };
            out.push((name, Some(v)));
            i += 1;
        } else {
            return Err((
                code::VALUE,
                format!("vzctl: unrecognized option '--{name}'"),
            ));
        }
    }
    Ok(out)
}

fn bad(opt: &str, v: &str) -> Failure {
    (code::VALUE, format!("Bad parameter for --{opt}: {v}"))
}

/// A beancounter `barrier[:limit]`, each a number or `unlimited`, as vzctl saves it.
fn ub(opt: &str, v: &str) -> Result<String, Failure> {
    let ok = |s: &str| {
        s == "unlimited"
            || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 20)
    };
    let norm = |s: &str| {
        if s == "unlimited" {
            "9223372036854775807".to_string()
        } else {
            s.to_string()
        }
    };
    match v.split_once(':') {
        Some((b, l)) if ok(b) && ok(l) => Ok(format!("{}:{}", norm(b), norm(l))),
        None if ok(v) => Ok(format!("{}:{}", norm(v), norm(v))),
        _ => Err(bad(opt, v)),
    }
}

fn valid_ip(v: &str) -> bool {
    let ip = v.split_once('/').map_or(v, |(ip, _)| ip);
    ip.parse::<std::net::IpAddr>().is_ok()
}

fn need_config(h: &Host, ctid: u32) -> Result<VzConfig, Failure> {
    h.config(ctid).ok_or_else(|| {
        (
            code::NOVECONFIG,
            format!(
                "Container configuration file {} not found",
                h.conf_path(ctid).display()
            ),
        )
    })
}

fn name_in_use(h: &Host, name: &str, me: u32) -> Result<(), Failure> {
    if check_name(name).is_err() {
        return Err(bad("name", name));
    }
    match h.ctids().into_iter().find(|c| {
        *c != me
            && h.config(*c)
                .is_some_and(|conf| conf.get("NAME") == Some(name))
    }) {
        Some(other) => Err((
            code::SET_NAME,
            format!("Name {name} is in use by CT {other}"),
        )),
        None => Ok(()),
    }
}

fn create(h: &Host, ctid: u32, args: &[String], out: &mut Out) -> Result<(), Failure> {
    let opts = options(
        args,
        &[
            "ostemplate",
            "config",
            "private",
            "root",
            "ipadd",
            "hostname",
            "name",
            "description",
            "layout",
            "diskspace",
        ],
        &[],
    )?;
    let get = |k: &str| {
        opts.iter()
            .rev()
            .find(|(n, _)| *n == k)
            .and_then(|(_, v)| *v)
    };
    let private = h.private(ctid);
    if h.conf_path(ctid).exists() || private.exists() {
        return Err((
            code::PRVT_EXIST,
            format!("Private area already exists in {}", private.display()),
        ));
    }
    let global = h.global();
    let Some(template) = get("ostemplate").or(global.get("DEF_OSTEMPLATE")) else {
        return Err((
            code::OSTEMPLATE_NOTSET,
            "OS template is not specified".into(),
        ));
    };
    if template.is_empty() || template.contains('/') || template.starts_with('.') {
        return Err(bad("ostemplate", template));
    }
    let cache = h.cache(template);
    if !cache.is_file() {
        return Err((
            code::OSTEMPLATE_NOT_FOUND,
            format!("Cache file {} not found", cache.display()),
        ));
    }
    let mut conf = match get("config").or(global.get("CONFIGFILE")) {
        Some(sample) => {
            let path = h.confdir().join(format!("ve-{sample}.conf-sample"));
            match std::fs::read_to_string(&path) {
                Ok(t) => VzConfig::parse(&t),
                Err(_) if get("config").is_none() => VzConfig::default(),
                Err(e) => {
                    return Err((
                        code::CP_CONFIG,
                        format!("Unable to open {}: {e}", path.display()),
                    ));
                }
            }
        }
        None => VzConfig::default(),
    };
    if let Some(n) = get("name") {
        name_in_use(h, n, ctid)?;
        conf.set("NAME", n);
    }
    if let Some(ip) = get("ipadd") {
        if !valid_ip(ip) {
            return Err(bad("ipadd", ip));
        }
        conf.set("IP_ADDRESS", ip);
    }
    if let Some(hn) = get("hostname") {
        conf.set("HOSTNAME", hn);
    }
    conf.set("VE_ROOT", "/vz/root/$VEID");
    conf.set("VE_PRIVATE", "/vz/private/$VEID");
    conf.set("OSTEMPLATE", template);
    out.say(format!("Creating container private area ({template})"));
    std::fs::create_dir_all(&private)
        .map_err(|e| (48, format!("Unable to create {}: {e}", private.display())))?;
    if let Err(e) = h.save(ctid, &conf) {
        let _ = std::fs::remove_dir_all(&private);
        return Err(e);
    }
    out.say("Performing postcreate actions");
    out.say(format!(
        "CT configuration saved to {}",
        h.conf_path(ctid).display()
    ));
    out.say("Container private area was created");
    Ok(())
}

fn start(h: &Host, ctid: u32, out: &mut Out) -> Result<(), Failure> {
    let conf = need_config(h, ctid)?;
    if conf.get("DISABLED") == Some("yes") {
        return Err((code::START_DISABLED, "Container start disabled".into()));
    }
    if h.state(ctid) != RunState::Stopped {
        return Err((code::RUNNING, "Container is already running".into()));
    }
    let private = h.private(ctid);
    if !private.is_dir() {
        return Err((
            code::NOPRVT,
            format!(
                "Container private area {} does not exist",
                private.display()
            ),
        ));
    }
    out.say("Starting container...");
    out.say("Container is mounted");
    h.set_state(ctid, RunState::Running)?;
    out.say("Container start in progress...");
    Ok(())
}

fn stop(h: &Host, ctid: u32, out: &mut Out, err: &mut String) -> Result<(), Failure> {
    need_config(h, ctid)?;
    if h.state(ctid) == RunState::Stopped {
        err.push_str("Unable to stop: container is not running\n");
        return Ok(());
    }
    out.say("Stopping container ...");
    h.set_state(ctid, RunState::Stopped)?;
    out.say("Container was stopped");
    out.say("Container is unmounted");
    Ok(())
}

fn destroy(h: &Host, ctid: u32, out: &mut Out) -> Result<(), Failure> {
    need_config(h, ctid)?;
    if h.state(ctid) != RunState::Stopped {
        return Err((
            code::RUNNING,
            "Container is currently running. Stop it first.".into(),
        ));
    }
    let private = h.private(ctid);
    out.say(format!(
        "Destroying container private area: {}",
        private.display()
    ));
    if private.exists() {
        std::fs::remove_dir_all(&private)
            .map_err(|e| (52, format!("Unable to delete {}: {e}", private.display())))?;
    }
    let conf = h.conf_path(ctid);
    let mut gone = conf.clone().into_os_string();
    gone.push(".destroyed");
    std::fs::rename(&conf, &gone).map_err(|e| {
        (
            code::SYSTEM,
            format!("Unable to move {}: {e}", conf.display()),
        )
    })?;
    out.say("Container private area was destroyed");
    Ok(())
}

fn chkpnt(h: &Host, ctid: u32, args: &[String], out: &mut Out) -> Result<(), Failure> {
    let opts = options(
        args,
        &["dumpfile", "context", "flags"],
        &["dump", "suspend", "resume", "kill", "skip_arpdetect"],
    )?;
    let subs: Vec<&str> = opts
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| ["dump", "suspend", "resume", "kill"].contains(n))
        .collect();
    if subs.len() > 1 {
        return Err((
            code::SYNTAX,
            "Invalid syntax: only one sub command may be used".into(),
        ));
    }
    need_config(h, ctid)?;
    let state = h.state(ctid);
    if state == RunState::Stopped {
        return Err((
            code::NOT_RUNNING,
            "Unable to setup checkpointing: container is not running".into(),
        ));
    }
    match subs.first().copied() {
        Some("suspend") => {
            out.say("Setting up checkpoint...");
            out.say("\tsuspend...");
            if state == RunState::Frozen {
                return Err((
                    code::CHKPNT,
                    "Can not suspend container: Device or resource busy".into(),
                ));
            }
            h.set_state(ctid, RunState::Frozen)?;
            out.say("Checkpointing completed successfully");
        }
        Some("resume") => {
            out.say("Resuming...");
            if state != RunState::Frozen {
                return Err((
                    code::CHKPNT,
                    "Can not resume container: Invalid argument".into(),
                ));
            }
            h.set_state(ctid, RunState::Running)?;
        }
        _ => {
            return Err((
                code::CHKPNT,
                "Checkpointing to a dump file is not implemented by this stand-in (only --suspend and --resume)".into(),
            ));
        }
    }
    Ok(())
}

fn set(h: &Host, ctid: u32, args: &[String], out: &mut Out) -> Result<(), Failure> {
    const UB: &[(&str, &str)] = &[
        ("physpages", "PHYSPAGES"),
        ("privvmpages", "PRIVVMPAGES"),
        ("vmguarpages", "VMGUARPAGES"),
        ("kmemsize", "KMEMSIZE"),
        ("numproc", "NUMPROC"),
        ("swappages", "SWAPPAGES"),
        ("oomguarpages", "OOMGUARPAGES"),
        ("lockedpages", "LOCKEDPAGES"),
        ("shmpages", "SHMPAGES"),
        ("diskspace", "DISKSPACE"),
        ("diskinodes", "DISKINODES"),
    ];
    let mut with_value: Vec<&str> = UB.iter().map(|(o, _)| *o).collect();
    with_value.extend([
        "cpus",
        "cpuunits",
        "cpulimit",
        "onboot",
        "name",
        "hostname",
        "description",
        "ipadd",
        "ip",
        "ipdel",
        "netif_add",
        "netif_del",
        "setmode",
        "disabled",
        "nameserver",
        "searchdomain",
    ]);
    let opts = options(args, &with_value, &["save", "force", "reset_ub"])?;
    let mut conf = need_config(h, ctid)?;
    let save = opts.iter().any(|(n, _)| *n == "save");
    for (name, value) in &opts {
        let Some(v) = *value else { continue };
        if let Some((_, key)) = UB.iter().find(|(o, _)| o == name) {
            conf.set(key, &ub(name, v)?);
            continue;
        }
        match *name {
            "cpus" | "cpuunits" | "cpulimit" => {
                if v.is_empty()
                    || v.len() > 9
                    || !v.bytes().all(|b| b.is_ascii_digit())
                    || (*name == "cpus" && v == "0")
                {
                    return Err(bad(name, v));
                }
                conf.set(&name.to_uppercase(), v);
            }
            "onboot" | "disabled" => {
                if v != "yes" && v != "no" {
                    return Err(bad(name, v));
                }
                conf.set(&name.to_uppercase(), v);
            }
            "name" => {
                name_in_use(h, v, ctid)?;
                conf.set("NAME", v);
            }
            "hostname" => conf.set("HOSTNAME", v),
            "description" => conf.set("DESCRIPTION", v),
            "nameserver" => conf.set("NAMESERVER", v),
            "searchdomain" => conf.set("SEARCHDOMAIN", v),
            "setmode" if v == "restart" || v == "ignore" => {}
            "setmode" => return Err(bad(name, v)),
            "ipadd" | "ip" => {
                if !valid_ip(v) {
                    return Err(bad(name, v));
                }
                let mut ips: Vec<String> = conf
                    .get("IP_ADDRESS")
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                if !ips.iter().any(|i| i == v) {
                    ips.push(v.to_string());
                }
                conf.set("IP_ADDRESS", &ips.join(" "));
            }
            "ipdel" => {
                let ips: Vec<String> = if v == "all" {
                    Vec::new()
                } else {
                    if !valid_ip(v) {
                        return Err(bad(name, v));
                    }
                    conf.get("IP_ADDRESS")
                        .unwrap_or("")
                        .split_whitespace()
                        .filter(|i| *i != v)
                        .map(str::to_string)
                        .collect()
                };
                conf.set("IP_ADDRESS", &ips.join(" "));
            }
            "netif_add" => {
                let mut ifs =
                    parse_netif(conf.get("NETIF").unwrap_or("")).map_err(|e| (code::VALUE, e))?;
                let f: Vec<&str> = v.split(',').collect();
                if f.len() > 5 || f[0].is_empty() {
                    return Err(bad(name, v));
                }
                let field = |i: usize| f.get(i).copied().filter(|s| !s.is_empty());
                if ifs.iter().any(|n| n.ifname.as_deref() == Some(f[0])) {
                    return Err((130, format!("Network interface {} already exists", f[0])));
                }
                let mac = |s: Option<&str>| -> Result<String, Failure> {
                    Ok(s.map_or_else(|| generated_mac(v), str::to_string))
                };
                let entry = format!(
                    "ifname={},mac={},host_ifname={},host_mac={}{}",
                    f[0],
                    mac(field(1))?,
                    field(2).map_or_else(|| format!("veth{ctid}.{}", ifs.len()), str::to_string),
                    mac(field(3))?,
                    field(4).map_or_else(String::new, |b| format!(",bridge={b}")),
                );
                let mut new = parse_netif(&entry).map_err(|_| bad(name, v))?;
                ifs.append(&mut new);
                conf.set("NETIF", &format_netif(&ifs));
            }
            "netif_del" => {
                let ifs: Vec<NetIf> = if v == "all" {
                    Vec::new()
                } else {
                    let ifs = parse_netif(conf.get("NETIF").unwrap_or(""))
                        .map_err(|e| (code::VALUE, e))?;
                    if !ifs.iter().any(|n| n.ifname.as_deref() == Some(v)) {
                        return Err((130, format!("Network interface {v} not found")));
                    }
                    ifs.into_iter()
                        .filter(|n| n.ifname.as_deref() != Some(v))
                        .collect()
                };
                conf.set("NETIF", &format_netif(&ifs));
            }
            _ => {
                return Err((
                    code::VALUE,
                    format!("vzctl: unrecognized option '--{name}'"),
                ));
            }
        }
    }
    if save {
        h.save(ctid, &conf)?;
        out.say(format!("Saved parameters for CT {ctid}"));
    } else if h.state(ctid) == RunState::Stopped {
        out.say("WARNING: Settings were not saved and will be reset to original values on next start (use --save flag)");
    }
    Ok(())
}

fn status(h: &Host, ctid: u32, out: &mut Out) {
    let exists = h.conf_path(ctid).exists();
    let st = h.state(ctid);
    let mounted = st != RunState::Stopped;
    let line = format!(
        "CTID {ctid} {} {} {}{}",
        if exists { "exist" } else { "deleted" },
        if mounted { "mounted" } else { "unmounted" },
        if mounted { "running" } else { "down" },
        if st == RunState::Frozen {
            " suspended"
        } else {
            ""
        }
    );
    // `status` prints even with --quiet.
    out.text.push_str(&line);
    out.text.push('\n');
}

fn run(args: &[String], out: &mut Out, err: &mut String) -> Result<(), Failure> {
    let mut i = 0;
    while let Some(flag) = args.get(i).map(String::as_str) {
        match flag {
            "--quiet" => out.quiet = true,
            "--verbose" => out.quiet = false,
            "--version" => {
                out.text = format!("vzctl version {}\n", version());
                return Ok(());
            }
            "--help" | "-h" => {
                out.text = usage();
                return Ok(());
            }
            _ => break,
        }
        i += 1;
    }
    let Some(command) = args.get(i) else {
        err.push_str(&usage());
        return Err((code::SYNTAX, String::new()));
    };
    const COMMANDS: &[&str] = &[
        "create", "start", "stop", "restart", "destroy", "delete", "set", "chkpnt", "status",
    ];
    if !COMMANDS.contains(&command.as_str()) {
        return Err((code::SYNTAX, format!("Invalid action: {command}")));
    }
    let Some(ct) = args.get(i + 1) else {
        return Err((code::SYNTAX, "CT ID missing".into()));
    };
    let h = Host::from_env("vzctl")?;
    let ctid = if command == "create" {
        virtkit_openvz_standins::parse_ctid(ct)
            .ok_or_else(|| (code::SYNTAX, format!("Invalid CTID: {ct}")))?
    } else {
        h.resolve(ct)?
    };
    let rest = &args[i + 2..];
    let no_options = |rest: &[String], allowed: &[&str]| options(rest, &[], allowed).map(|_| ());
    match command.as_str() {
        "create" => create(&h, ctid, rest, out),
        "start" => no_options(rest, &["wait", "force", "skip-fsck", "skip-remount"])
            .and_then(|()| start(&h, ctid, out)),
        "stop" => {
            no_options(rest, &["fast", "skip-umount"]).and_then(|()| stop(&h, ctid, out, err))
        }
        "restart" => no_options(rest, &["wait", "force", "fast"]).and_then(|()| {
            out.say("Restarting container");
            if h.state(ctid) != RunState::Stopped {
                stop(&h, ctid, out, err)?;
            }
            start(&h, ctid, out)
        }),
        "destroy" | "delete" => no_options(rest, &[]).and_then(|()| destroy(&h, ctid, out)),
        "set" => set(&h, ctid, rest, out),
        "chkpnt" => chkpnt(&h, ctid, rest, out),
        _ => {
            status(&h, ctid, out);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = Out {
        quiet: false,
        text: String::new(),
    };
    let mut err = String::new();
    let r = run(&args, &mut out, &mut err);
    print!("{}", out.text);
    eprint!("{err}");
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            ExitCode::from(code)
        }
    }
}
