//! Virtual networks: definitions on disk, and starting one as a host bridge (with dnsmasq for
//! DHCP and iptables for NAT when the network asks for them).
//!
//! Starting a network changes the host (it creates a bridge device), so it needs root. An
//! instance under another root (`root=` or `VIRTKIT_QEMU_ROOT`) is a sandbox and does not touch
//! the host's network unless `hostnet=yes` is in the URI or `VIRTKIT_QEMU_HOST_NETWORK=1` in the
//! environment.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use uuid::Uuid;
use virtkit_driver::{Error, ErrorCode, NetworkIdent, NetworkRef, Result, VK_NETWORK_XML_INACTIVE};
use virtkit_xml::{FormatOptions, ForwardMode, NetworkDef};

use crate::QemuConn;
use crate::emulator::which;
use crate::store::write_atomic;
use virtkit_hostio::Mark;

/// Runs `ip` with `args`.
pub(crate) fn run_ip(args: &[&str]) -> Result<()> {
    run_tool("ip", args, None)
}

/// Runs `tool` with `args`; with `mark`, the tool holds that mark (as its stdin) while it runs.
fn run_tool(tool: &str, args: &[&str], mark: Option<&Mark>) -> Result<()> {
    let bin = which(tool)
        .or_else(|| {
            ["/usr/sbin", "/sbin"]
                .iter()
                .map(|d| PathBuf::from(d).join(tool))
                .find(|p| p.exists())
        })
        .ok_or_else(|| Error::operation_failed(format!("'{tool}' is not installed")))?;
    let stdin = match mark {
        Some(m) => Stdio::from(m.share().map_err(crate::store::host_error)?),
        None => Stdio::null(),
    };
    let out = Command::new(&bin)
        .args(args)
        .stdin(stdin)
        .output()
        .map_err(|e| Error::system(format!("cannot run '{}'", bin.display()), &e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::operation_failed(format!(
        "'{tool} {}' failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn bridge_exists(br: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(br).exists()
}

struct NetEntry {
    config: Option<NetworkDef>,
    /// The running network's definition and state.
    live: Option<(NetworkDef, Value)>,
}

impl NetEntry {
    fn def(&self) -> &NetworkDef {
        match (&self.live, &self.config) {
            (Some((d, _)), _) => d,
            (None, Some(c)) => c,
            (None, None) => unreachable!("a network entry has a definition"),
        }
    }
    fn net_ref(&self) -> NetworkRef<'_> {
        NetworkRef {
            uuid: self.def().uuid,
            name: &self.def().name,
        }
    }
}

fn prefix_of(ip: &virtkit_xml::NetworkIp) -> u32 {
    ip.prefix
        .or_else(|| ip.netmask.map(|m| u32::from(m).count_ones()))
        .unwrap_or(if ip.address.is_ipv4() { 24 } else { 64 })
}

fn network_address(ip: &virtkit_xml::NetworkIp) -> Option<String> {
    let IpAddr::V4(a) = ip.address else {
        return None;
    };
    let p = prefix_of(ip);
    let mask = if p == 0 {
        0
    } else {
        u32::MAX << (32 - p.min(32))
    };
    Some(format!("{}/{p}", Ipv4Addr::from(u32::from(a) & mask)))
}

impl QemuConn {
    fn net_config_file(&self, name: &str) -> PathBuf {
        self.store
            .paths
            .config
            .join("networks")
            .join(format!("{name}.xml"))
    }
    fn net_autostart_link(&self, name: &str) -> PathBuf {
        self.store
            .paths
            .config
            .join("networks/autostart")
            .join(format!("{name}.xml"))
    }
    /// `run/networks/<name>.lock`: held by the helpers of a start while they run.
    fn net_mark_file(&self, name: &str) -> PathBuf {
        self.store
            .paths
            .run
            .join("networks")
            .join(format!("{name}.lock"))
    }
    fn net_state_file(&self, name: &str) -> PathBuf {
        self.store
            .paths
            .run
            .join("networks")
            .join(format!("{name}.state"))
    }

    fn net_names(&self, dir: PathBuf, ext: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| {
                    let n = e.ok()?.file_name().into_string().ok()?;
                    (!n.starts_with('.')).then(|| n.strip_suffix(ext).map(str::to_string))?
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn net_config(&self, name: &str) -> Result<Option<NetworkDef>> {
        if !crate::store::storable_name(name) {
            return Ok(None);
        }
        let path = self.net_config_file(name);
        match crate::store::read_own(&path)? {
            Some(t) => NetworkDef::parse(&t).map(Some).map_err(|e| {
                Error::internal(format!(
                    "corrupt network definition '{}': {e}",
                    path.display()
                ))
            }),
            None => Ok(None),
        }
    }

    /// The running network `name`: its state file, when its bridge still exists.
    fn net_live(&self, name: &str) -> Option<(NetworkDef, Value)> {
        if !crate::store::storable_name(name) {
            return None;
        }
        let path = self.net_state_file(name);
        let read = || -> Option<Value> {
            serde_json::from_str(&crate::store::read_own(&path).ok()??).ok()
        };
        let starting = |v: &Value| v.get("starting").and_then(Value::as_bool) == Some(true);
        let mut v = read()?;
        if starting(&v) {
            // Being started — or abandoned by a starter killed midway, which only a holder of
            // the driver-wide lock (that every start holds) can tell.
            let _guard = self.store.driver_lock_free()?;
            v = read()?;
            if starting(&v) {
                teardown(&v, &self.net_mark_file(name));
                let _ = std::fs::remove_file(&path);
                return None;
            }
        }
        let def = NetworkDef::parse(v.get("xml")?.as_str()?).ok()?;
        let br = v.get("bridge")?.as_str()?;
        if !bridge_exists(br) {
            let _ = std::fs::remove_file(self.net_state_file(name));
            return None;
        }
        Some((def, v))
    }

    fn net_entry(&self, name: &str) -> Result<Option<NetEntry>> {
        let live = self.net_live(name);
        let config = self.net_config(name)?;
        Ok((live.is_some() || config.is_some()).then_some(NetEntry { config, live }))
    }

    fn net_all(&self) -> Vec<String> {
        let mut names = self.net_names(self.store.paths.config.join("networks"), ".xml");
        for n in self.net_names(self.store.paths.run.join("networks"), ".state") {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.sort();
        names
    }

    fn net_find_uuid(&self, uuid: &Uuid) -> Result<Option<NetEntry>> {
        for n in self.net_all() {
            match self.net_entry(&n)? {
                Some(e) if e.def().uuid == *uuid => return Ok(Some(e)),
                _ => {}
            }
        }
        Ok(None)
    }

    fn net_find(&self, r: &NetworkRef<'_>) -> Result<NetEntry> {
        match self.net_entry(r.name)? {
            Some(e) if e.def().uuid == r.uuid => return Ok(e),
            _ => {}
        }
        self.net_find_uuid(&r.uuid)?.ok_or_else(|| {
            Error::no_network(format!(
                "no network with matching uuid '{}' ({})",
                r.uuid, r.name
            ))
        })
    }

    fn net_check_clash(&self, def: &NetworkDef) -> Result<Option<NetEntry>> {
        if let Some(e) = self.net_entry(&def.name)? {
            if e.def().uuid != def.uuid {
                return Err(Error::network_exist(format!(
                    "network '{}' already exists with uuid {}",
                    def.name,
                    e.def().uuid
                )));
            }
            return Ok(Some(e));
        }
        if let Some(e) = self.net_find_uuid(&def.uuid)? {
            return Err(Error::network_exist(format!(
                "network '{}' is already defined with uuid {}",
                e.def().name,
                def.uuid
            )));
        }
        Ok(None)
    }

    /// Gives a network without a bridge name the first free `virbrN`; refuses a bridge name
    /// another network uses.
    fn assign_bridge(&self, def: &mut NetworkDef) -> Result<()> {
        let used: Vec<(String, String)> = self
            .net_all()
            .iter()
            .filter(|n| **n != def.name)
            .filter_map(|n| self.net_entry(n).ok().flatten())
            .filter_map(|e| Some((e.def().bridge.clone()?, e.def().name.clone())))
            .collect();
        if let Some(br) = &def.bridge {
            if let Some((_, other)) = used.iter().find(|(b, _)| b == br) {
                return Err(Error::operation_failed(format!(
                    "bridge name '{br}' is already used by network '{other}'"
                )));
            }
            return Ok(());
        }
        let used: Vec<String> = used.into_iter().map(|(b, _)| b).collect();
        let free = (0..256)
            .map(|i| format!("virbr{i}"))
            .find(|b| !used.contains(b) && !bridge_exists(b));
        def.bridge = Some(
            free.ok_or_else(|| Error::operation_failed("no free bridge name virbr0..virbr255"))?,
        );
        Ok(())
    }

    /// Bridge of every active network, by name (what `<interface type='network'>` connects to).
    pub(crate) fn network_bridges(&self) -> BTreeMap<String, String> {
        self.net_names(self.store.paths.run.join("networks"), ".state")
            .into_iter()
            .filter_map(|n| {
                let (_, v) = self.net_live(&n)?;
                Some((n, v.get("bridge")?.as_str()?.to_string()))
            })
            .collect()
    }

    fn may_touch_host_network(&self) -> Result<()> {
        if !self.privileged {
            return Err(Error::new(
                ErrorCode::OperationDenied,
                "operation forbidden: starting a virtual network creates a host bridge, which needs root privileges",
            ));
        }
        if self.store.paths.rooted && !self.host_network {
            return Err(Error::new(
                ErrorCode::OperationDenied,
                "operation forbidden: this connection is sandboxed under a root directory and does not change the host's \
                 network (add hostnet=yes to the URI or set VIRTKIT_QEMU_HOST_NETWORK=1 to allow it)",
            ));
        }
        Ok(())
    }

    /// Refuses, on a sandboxed connection that may not change the host's network, a guest whose
    /// interfaces would: a `bridge`, `network` or `ethernet` interface creates a tap device,
    /// enslaves it to a bridge, or runs an interface script.
    pub(crate) fn check_host_network(&self, def: &virtkit_xml::DomainDef) -> Result<()> {
        if !self.store.paths.rooted || self.host_network {
            return Ok(());
        }
        use virtkit_xml::InterfaceSource;
        for n in &def.devices.interfaces {
            let kind = match &n.source {
                InterfaceSource::Bridge { .. } => "bridge",
                InterfaceSource::Network { .. } => "network",
                InterfaceSource::Ethernet { .. } => "ethernet",
                _ => continue,
            };
            return Err(Error::new(
                ErrorCode::OperationDenied,
                format!(
                    "operation forbidden: domain '{}' has a '{kind}' interface, which changes the host's network (a tap \
                     device, a bridge port or an interface script), and this connection is sandboxed under a root \
                     directory (add hostnet=yes to the URI or set VIRTKIT_QEMU_HOST_NETWORK=1 to allow it)",
                    def.name
                ),
            ));
        }
        Ok(())
    }

    /// Creates the network's bridge, addresses, DHCP server and NAT rules, then records it.
    fn start_network(&self, def: &NetworkDef) -> Result<()> {
        self.may_touch_host_network()?;
        let br = def
            .bridge
            .clone()
            .ok_or_else(|| Error::internal("network without a bridge name"))?;
        if bridge_exists(&br) {
            return Err(Error::operation_failed(format!(
                "bridge '{br}' already exists on the host"
            )));
        }
        let dhcp = def
            .ips
            .iter()
            .any(|ip| !ip.dhcp_ranges.is_empty() || !ip.dhcp_hosts.is_empty());
        let dnsmasq = match dhcp {
            true => Some(which("dnsmasq").or_else(|| ["/usr/sbin/dnsmasq", "/sbin/dnsmasq"].iter().map(PathBuf::from).find(|p| p.exists())).ok_or_else(|| {
                Error::operation_failed(format!("network '{}' serves DHCP, which needs dnsmasq, and dnsmasq is not installed", def.name))
            })?),
            false => None,
        };
        let mode = def.forward.as_ref().map(|f| f.mode);
        let nat = mode == Some(ForwardMode::Nat);
        if nat && which("iptables").is_none() && !PathBuf::from("/usr/sbin/iptables").exists() {
            return Err(Error::operation_failed(format!(
                "network '{}' forwards with NAT, which needs iptables, and iptables is not installed",
                def.name
            )));
        }
        // The state file, written before each change to the host (the bridge, dnsmasq) or right
        // after it (each firewall rule) with `starting` set: a failure at any step undoes exactly
        // what is recorded so far, as a stop does, and so does the next caller that finds the
        // record of a starter that was killed midway (see `net_live`).
        let state_file = self.net_state_file(&def.name);
        // Every helper run below holds this mark from its fork on, so that whoever undoes an
        // abandoned start can wait for the helpers a killed starter left running.
        let mark_file = self.net_mark_file(&def.name);
        let mark = Mark::take(&mark_file, crate::store::FILE_MODE)
            .map_err(crate::store::host_error)?
            .ok_or_else(|| {
                Error::operation_failed(format!(
                    "helpers of an earlier start of network '{}' are still running",
                    def.name
                ))
            })?;
        let run_ip = |args: &[&str]| run_tool("ip", args, Some(&mark));
        let record = |done: &Value| write_atomic(&state_file, done.to_string().as_bytes(), false);
        let mut done = json!({
            "bridge": Value::Null,
            "dnsmasq_pidfile": Value::Null,
            "iptables_undo": [],
            "starting": true,
            "xml": def.to_xml(&FormatOptions::default()),
        });
        let result = (|| -> Result<()> {
            // The name was free a moment ago (checked above, under the driver-wide lock).
            done["bridge"] = json!(br);
            record(&done)?;
            run_ip(&["link", "add", &br, "type", "bridge"])?;
            let stp = if def.stp { "1" } else { "0" };
            let delay = (def.delay * 100).to_string();
            run_ip(&[
                "link",
                "set",
                &br,
                "type",
                "bridge",
                "stp_state",
                stp,
                "forward_delay",
                &delay,
            ])?;
            if let Some(mac) = def.mac {
                run_ip(&["link", "set", &br, "address", &mac.to_string()])?;
            }
            for ip in &def.ips {
                run_ip(&[
                    "addr",
                    "add",
                    &format!("{}/{}", ip.address, prefix_of(ip)),
                    "dev",
                    &br,
                ])?;
            }
            run_ip(&["link", "set", &br, "up"])?;
            if let Some(bin) = &dnsmasq {
                let pidfile = self
                    .store
                    .paths
                    .run
                    .join("networks")
                    .join(format!("{}.dnsmasq.pid", def.name));
                let leases = self
                    .store
                    .paths
                    .run
                    .join("networks")
                    .join(format!("{}.leases", def.name));
                let mut args = vec![
                    "--conf-file=".to_string(),
                    format!("--pid-file={}", pidfile.display()),
                    "--strict-order".into(),
                    "--bind-interfaces".into(),
                    "--except-interface=lo".into(),
                    format!("--interface={br}"),
                    format!("--dhcp-leasefile={}", leases.display()),
                    "--dhcp-no-override".into(),
                ];
                for ip in &def.ips {
                    args.push(format!("--listen-address={}", ip.address));
                    for r in &ip.dhcp_ranges {
                        args.push(format!("--dhcp-range={},{}", r.start, r.end));
                    }
                    for h in &ip.dhcp_hosts {
                        let mut spec: Vec<String> = Vec::new();
                        if let Some(m) = h.mac {
                            spec.push(m.to_string());
                        }
                        spec.push(h.ip.to_string());
                        if let Some(n) = &h.name {
                            spec.push(n.clone());
                        }
                        args.push(format!("--dhcp-host={}", spec.join(",")));
                    }
                }
                done["dnsmasq_pidfile"] = json!(pidfile.display().to_string());
                record(&done)?;
                let status = Command::new(bin)
                    .args(&args)
                    .stdin(mark.share().map_err(crate::store::host_error)?)
                    .status()
                    .map_err(|e| Error::system(format!("cannot run '{}'", bin.display()), &e))?;
                if !status.success() {
                    return Err(Error::operation_failed(format!(
                        "dnsmasq for network '{}' failed with {status}",
                        def.name
                    )));
                }
            }
            if nat || mode == Some(ForwardMode::Route) {
                std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
                    .map_err(|e| Error::system("cannot enable IPv4 forwarding", &e))?;
            }
            if nat {
                for net in def.ips.iter().filter_map(network_address) {
                    for rule in [
                        vec![
                            "-t",
                            "nat",
                            "POSTROUTING",
                            "-s",
                            &net,
                            "!",
                            "-d",
                            &net,
                            "-j",
                            "MASQUERADE",
                        ],
                        vec![
                            "-t",
                            "filter",
                            "FORWARD",
                            "-d",
                            &net,
                            "-o",
                            &br,
                            "-m",
                            "conntrack",
                            "--ctstate",
                            "ESTABLISHED,RELATED",
                            "-j",
                            "ACCEPT",
                        ],
                        vec![
                            "-t", "filter", "FORWARD", "-s", &net, "-i", &br, "-j", "ACCEPT",
                        ],
                    ] {
                        let mut add: Vec<&str> = vec![rule[0], rule[1], "-A"];
                        add.extend(&rule[2..]);
                        let mut del: Vec<&str> = vec![rule[0], rule[1], "-D"];
                        del.extend(&rule[2..]);
                        // Recorded before: undoing a rule never added fails harmlessly (each
                        // names this network's bridge or subnet).
                        if let Some(undo) = done["iptables_undo"].as_array_mut() {
                            undo.push(json!(del));
                        }
                        record(&done)?;
                        run_tool("iptables", &add, Some(&mark))?;
                    }
                }
            }
            Ok(())
        })();
        let recorded = result.and_then(|()| {
            done["starting"] = json!(false);
            record(&done)
        });
        drop(mark);
        if recorded.is_err() {
            teardown(&done, &mark_file);
            let _ = std::fs::remove_file(&state_file);
        }
        recorded
    }

    /// Starts the autostart networks that are not running.
    pub(crate) fn autostart_networks(&self) {
        for name in self.net_names(self.store.paths.config.join("networks/autostart"), ".xml") {
            if self.net_live(&name).is_some() {
                continue;
            }
            if let Ok(Some(def)) = self.net_config(&name) {
                let _ = self.start_network(&def);
            }
        }
    }
}

/// Undoes what start_network did (recorded in `state`).
fn teardown(state: &Value, mark_file: &Path) {
    // A starter killed midway may have left a helper running (`ip link add`, `iptables -A`,
    // dnsmasq before it daemonizes), which would change the host after the undo: wait for those
    // (they hold the start's mark) to finish first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while virtkit_hostio::mark_held(mark_file) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    if let Some(rules) = state.get("iptables_undo").and_then(Value::as_array) {
        for r in rules {
            let args: Vec<&str> = r
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = run_tool("iptables", &args, None);
        }
    }
    if let Some(pidfile) = state.get("dnsmasq_pidfile").and_then(Value::as_str) {
        // The dnsmasq of this network is the one with its pid file argument: the pid in the
        // file, when it still names it, and any other (one whose pid file is not written yet).
        let arg = std::ffi::OsString::from(format!("--pid-file={pidfile}"));
        let mut pids = virtkit_hostio::processes_with_arg(&arg);
        pids.extend(
            crate::store::read_own(std::path::Path::new(pidfile))
                .ok()
                .flatten()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .filter(|pid| virtkit_hostio::process_has_arg(*pid, &arg)),
        );
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            crate::process::terminate(pid, std::time::Duration::from_secs(3));
        }
        let _ = std::fs::remove_file(pidfile);
    }
    if let Some(br) = state.get("bridge").and_then(Value::as_str) {
        let _ = run_ip(&["link", "del", br]);
    }
}

fn parse_net(xml: &str) -> Result<NetworkDef> {
    let def = NetworkDef::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))?;
    crate::store::check_name(&def.name)?;
    Ok(def)
}

/// Names of the active networks.
fn active_names(c: &QemuConn) -> Vec<String> {
    c.net_all()
        .into_iter()
        .filter(|n| c.net_live(n).is_some())
        .collect()
}

/// Names of the defined networks that are not active.
fn defined_names(c: &QemuConn) -> Vec<String> {
    c.net_names(c.store.paths.config.join("networks"), ".xml")
        .into_iter()
        .filter(|n| c.net_live(n).is_none())
        .collect()
}

pub(crate) fn list_networks(c: &QemuConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    active_names(c).iter().for_each(|n| out(n));
    Ok(())
}

pub(crate) fn num_of_networks(c: &QemuConn) -> Result<i32> {
    Ok(active_names(c).len() as i32)
}

pub(crate) fn list_defined_networks(c: &QemuConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    defined_names(c).iter().for_each(|n| out(n));
    Ok(())
}

pub(crate) fn num_of_defined_networks(c: &QemuConn) -> Result<i32> {
    Ok(defined_names(c).len() as i32)
}

pub(crate) fn lookup_by_uuid(
    c: &QemuConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(NetworkRef<'_>),
) -> Result<()> {
    let e = c
        .net_find_uuid(uuid)?
        .ok_or_else(|| Error::no_network(format!("no network with matching uuid '{uuid}'")))?;
    out(e.net_ref());
    Ok(())
}

pub(crate) fn lookup_by_name(
    c: &QemuConn,
    name: &str,
    out: &mut dyn FnMut(NetworkRef<'_>),
) -> Result<()> {
    let e = c
        .net_entry(name)?
        .ok_or_else(|| Error::no_network(format!("no network with matching name '{name}'")))?;
    out(e.net_ref());
    Ok(())
}

pub(crate) fn define_xml(c: &QemuConn, xml: &str) -> Result<NetworkIdent> {
    let mut def = parse_net(xml)?;
    let _driver = c.store.lock_driver()?;
    c.net_check_clash(&def)?;
    c.assign_bridge(&mut def)?;
    write_atomic(
        &c.net_config_file(&def.name),
        def.to_xml(&FormatOptions::default()).as_bytes(),
        true,
    )?;
    Ok(NetworkIdent {
        uuid: def.uuid,
        name: def.name,
    })
}

pub(crate) fn create_xml(c: &QemuConn, xml: &str) -> Result<NetworkIdent> {
    let mut def = parse_net(xml)?;
    let _driver = c.store.lock_driver()?;
    if c.net_check_clash(&def)?.is_some_and(|e| e.live.is_some()) {
        return Err(Error::operation_invalid(format!(
            "network '{}' is already active",
            def.name
        )));
    }
    c.assign_bridge(&mut def)?;
    c.start_network(&def)?;
    Ok(NetworkIdent {
        uuid: def.uuid,
        name: def.name,
    })
}

pub(crate) fn undefine(c: &QemuConn, r: &NetworkRef<'_>) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.net_find(r)?;
    let name = e.def().name.clone();
    if e.config.is_none() {
        return Err(Error::operation_invalid(format!(
            "cannot undefine transient network '{name}'"
        )));
    }
    let _ = std::fs::remove_file(c.net_autostart_link(&name));
    std::fs::remove_file(c.net_config_file(&name))
        .map_err(|err| Error::system(format!("cannot undefine network '{name}'"), &err))
}

pub(crate) fn start(c: &QemuConn, r: &NetworkRef<'_>) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.net_find(r)?;
    if e.live.is_some() {
        return Err(Error::operation_invalid(format!(
            "network '{}' is already active",
            r.name
        )));
    }
    let def = e
        .config
        .ok_or_else(|| Error::internal("inactive network without definition"))?;
    c.start_network(&def)
}

pub(crate) fn destroy(c: &QemuConn, r: &NetworkRef<'_>) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.net_find(r)?;
    let Some((def, state)) = &e.live else {
        return Err(Error::operation_invalid(format!(
            "network '{}' is not active",
            r.name
        )));
    };
    teardown(state, &c.net_mark_file(&def.name));
    let _ = std::fs::remove_file(c.net_state_file(&def.name));
    Ok(())
}

pub(crate) fn get_xml_desc(c: &QemuConn, r: &NetworkRef<'_>, flags: u32) -> Result<String> {
    let e = c.net_find(r)?;
    let def = match (&e.config, flags & VK_NETWORK_XML_INACTIVE != 0) {
        (Some(cfg), true) => cfg,
        _ => e.def(),
    };
    Ok(def.to_xml(&FormatOptions::default()))
}

pub(crate) fn get_bridge_name(c: &QemuConn, r: &NetworkRef<'_>) -> Result<String> {
    let e = c.net_find(r)?;
    e.def().bridge.clone().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidNetwork,
            format!("network '{}' does not have a bridge name", e.def().name),
        )
    })
}

pub(crate) fn is_active(c: &QemuConn, r: &NetworkRef<'_>) -> Result<bool> {
    Ok(c.net_find(r)?.live.is_some())
}

pub(crate) fn is_persistent(c: &QemuConn, r: &NetworkRef<'_>) -> Result<bool> {
    Ok(c.net_find(r)?.config.is_some())
}

pub(crate) fn get_autostart(c: &QemuConn, r: &NetworkRef<'_>) -> Result<bool> {
    let e = c.net_find(r)?;
    Ok(e.config.is_some()
        && c.net_autostart_link(&e.def().name)
            .symlink_metadata()
            .is_ok())
}

pub(crate) fn set_autostart(c: &QemuConn, r: &NetworkRef<'_>, on: bool) -> Result<()> {
    let _driver = c.store.lock_driver()?;
    let e = c.net_find(r)?;
    let name = e.def().name.clone();
    if e.config.is_none() {
        return Err(Error::operation_invalid(
            "cannot set autostart for transient network",
        ));
    }
    let link = c.net_autostart_link(&name);
    if on {
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(format!("../{name}.xml"), &link).map_err(|err| {
                Error::system(format!("cannot create '{}'", link.display()), &err)
            })?;
        }
    } else {
        let _ = std::fs::remove_file(&link);
    }
    Ok(())
}
