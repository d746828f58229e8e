//! Virtual networks through the plugin: definitions always; starting one (a host bridge) only as
//! root with permission to change the host's network, which is asked for explicitly.

mod common;

use common::{Sandbox, exists, registry};
use virtkit::{Connect, ErrorCode};

/// libvirt's `default` network (the test driver's data file, the one copy in the tree).
const DEFAULT_NET: &str = include_str!("../../test/data/default-network.xml");

#[test]
fn the_default_network_definition() {
    let sb = Sandbox::new();
    let c = sb.open();
    assert!(c.list_networks().unwrap().is_empty() && c.list_defined_networks().unwrap().is_empty());
    let n = c.define_network_xml(DEFAULT_NET).unwrap();
    assert_eq!(
        c.list_defined_networks().unwrap(),
        vec!["default".to_string()]
    );
    assert_eq!(c.num_of_defined_networks().unwrap(), 1);
    assert!(c.list_networks().unwrap().is_empty());
    assert!(exists(&sb.config_dir().join("networks/default.xml")));
    let xml = n.xml_desc(0).unwrap();
    assert!(
        xml.contains("<name>default</name>") && xml.contains("192.168.122.1"),
        "{xml}"
    );
    assert_eq!(n.bridge_name().unwrap(), "virbr0");
    assert!(!n.is_active().unwrap() && n.is_persistent().unwrap());
    assert_eq!(
        c.lookup_network_by_uuid_str("dd8fe884-6c02-601e-7551-cca97df1c5df")
            .unwrap()
            .name(),
        "default"
    );
    // Another process sees it.
    assert_eq!(
        sb.open().lookup_network_by_name("default").unwrap().uuid(),
        n.uuid()
    );
    // The same name with another UUID clashes.
    let clash = DEFAULT_NET.replace("dd8fe884", "aaaaaaaa");
    assert_eq!(
        c.define_network_xml(&clash).unwrap_err().code,
        ErrorCode::NetworkExist
    );
    n.set_autostart(true).unwrap();
    assert!(n.autostart().unwrap());
    n.set_autostart(false).unwrap();
    // Starting it would change the host: a sandbox refuses unless allowed.
    let e = n.create().unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationDenied);
    assert!(
        e.message.contains("hostnet=yes") || e.message.contains("root"),
        "{e}"
    );
    assert_eq!(n.destroy().unwrap_err().code, ErrorCode::OperationInvalid);
    n.undefine().unwrap();
    assert_eq!(
        c.lookup_network_by_name("default").unwrap_err().code,
        ErrorCode::NoNetwork
    );
    // A bridge name is given to a network that has none.
    let anon = c
        .define_network_xml("<network><name>anon</name></network>")
        .unwrap();
    assert!(anon.bridge_name().unwrap().starts_with("virbr"));
    anon.undefine().unwrap();
}

/// A connection to the sandbox that may change the host's network (`hostnet=yes`).
fn host_net(sb: &Sandbox) -> Connect {
    Connect::open_with(
        Some(&format!("{}&hostnet=yes", sb.uri())),
        false,
        &registry(),
    )
    .unwrap()
}

/// Starts `n`; says why and returns `false` when this host does not allow creating bridges
/// (a failure instead under `CI` or with `VIRTKIT_REQUIRE_HOSTNET=1`).
fn start_or_skip(n: &virtkit::Network) -> bool {
    match n.create() {
        Ok(()) => true,
        Err(e) if e.message.contains("Operation not permitted") => {
            virtkit_test_support::skip_host(
                "HOSTNET",
                &format!("this host does not allow creating bridges: {e}"),
            );
            false
        }
        Err(e) => panic!("{e}"),
    }
}

/// Deletes a bridge when dropped (so a failing test leaves the host as it was).
struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn an_isolated_network_is_a_host_bridge() {
    if !nix::unistd::geteuid().is_root() {
        virtkit_test_support::skip_host("HOSTNET", "starting a network needs root");
        return;
    }
    let sb = Sandbox::new();
    let c = host_net(&sb);
    // A name no one else uses: the process id keeps parallel runs apart.
    let br = format!("vkt{}", std::process::id() % 100_000);
    let _guard = (BridgeGuard(br.clone()), BridgeGuard(format!("{br}d")));
    let xml = format!(
        "<network><name>iso</name><bridge name='{br}'/><ip address='10.213.{}.1' prefix='24'/></network>",
        std::process::id() % 250
    );
    let n = c.define_network_xml(&xml).unwrap();
    if !start_or_skip(&n) {
        return;
    }
    assert!(std::path::Path::new("/sys/class/net").join(&br).exists());
    assert_eq!(c.list_networks().unwrap(), vec!["iso".to_string()]);
    assert!(n.is_active().unwrap());
    assert_eq!(n.create().unwrap_err().code, ErrorCode::OperationInvalid);
    let twin = xml.replace("<name>iso</name>", "<name>twin</name>");
    assert!(
        c.define_network_xml(&twin)
            .unwrap_err()
            .message
            .contains("already used")
    );
    // A guest on it gets a tap device in the bridge (QEMU is needed for that part).
    if virtkit_qemu_driver::find_emulator("x86_64").is_some() {
        let g = c
            .create_domain_xml(
                &common::guest_xml("netguest").replace("</os>", "</os><devices><interface type='network'><source network='iso'/></interface></devices>"),
                0,
            )
            .unwrap();
        let def = virtkit_xml::DomainDef::parse(&g.xml_desc(0).unwrap()).unwrap();
        let tap = virtkit_qemu_driver::tap_name(&def, 0);
        let master = std::fs::read_link(format!("/sys/class/net/{tap}/master")).unwrap();
        assert!(master.ends_with(&br), "{}", master.display());
        g.destroy().unwrap();
    }
    n.destroy().unwrap();
    assert!(!std::path::Path::new("/sys/class/net").join(&br).exists());
    assert_eq!(c.list_defined_networks().unwrap(), vec!["iso".to_string()]);
    // DHCP needs dnsmasq: without it the error says so and nothing is left behind.
    if !["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        let net = std::process::id() % 250;
        let dhcp = format!(
            "<network><name>dhcp</name><bridge name='{br}d'/><ip address='10.213.{net}.1' prefix='24'>\
             <dhcp><range start='10.213.{net}.2' end='10.213.{net}.9'/></dhcp></ip></network>"
        );
        let d = c.define_network_xml(&dhcp).unwrap();
        let e = d.create().unwrap_err();
        assert!(e.message.contains("dnsmasq"), "{e}");
        assert!(
            !std::path::Path::new("/sys/class/net")
                .join(format!("{br}d"))
                .exists()
        );
    }
}

/// What a NAT network with DHCP needs on the host: root, and the tools (each a skip with the
/// reason when missing, or a failure when `CI` or `VIRTKIT_REQUIRE_<TOOL>` is set).
#[track_caller]
fn nat_dhcp_tools() -> bool {
    use virtkit_test_support::{BUSYBOX, DNSMASQ, IPTABLES, find};
    if !nix::unistd::geteuid().is_root() {
        virtkit_test_support::skip_host("HOSTNET", "starting a network needs root");
        return false;
    }
    [DNSMASQ, IPTABLES, BUSYBOX]
        .iter()
        .all(|tool| find(tool).is_some())
}

fn host(tool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace holding one end of a veth pair, the other end plugged into a bridge: a
/// stand-in for a guest's NIC. Removed (with both ends) when dropped.
struct Client {
    ns: String,
    veth: String,
}

impl Client {
    fn plug(bridge: &str, tag: &str) -> Client {
        let c = Client {
            ns: format!("vkns{tag}"),
            veth: format!("vkv{tag}"),
        };
        host("ip", &["netns", "add", &c.ns]);
        let peer = format!("{}p", c.veth);
        host(
            "ip",
            &[
                "link", "add", &c.veth, "type", "veth", "peer", "name", &peer,
            ],
        );
        host("ip", &["link", "set", &peer, "netns", &c.ns]);
        host("ip", &["link", "set", &c.veth, "master", bridge, "up"]);
        host("ip", &["-n", &c.ns, "link", "set", &peer, "up"]);
        c
    }

    /// Asks for a DHCP lease (busybox udhcpc), retrying while the bridge port is still in STP's
    /// listening and learning states. Returns the leased address.
    fn lease(&self) -> String {
        let peer = format!("{}p", self.veth);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", &self.ns, "busybox", "udhcpc", "-i", &peer])
                .args(["-n", "-q", "-f", "-s", "/bin/true", "-t", "3", "-T", "1"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            if let Some(addr) = text
                .lines()
                .find_map(|l| l.split("lease of ").nth(1))
                .and_then(|r| r.split_whitespace().next())
            {
                return addr.to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no DHCP lease within 20 s:\n{text}"
            );
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.veth])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The iptables rules (nat and filter tables) that mention `subnet`.
fn rules_for(subnet: &str) -> Vec<String> {
    let mut rules = Vec::new();
    for table in ["nat", "filter"] {
        rules.extend(
            host("iptables", &["-t", table, "-S"])
                .lines()
                .filter(|l| l.contains(subnet))
                .map(str::to_string),
        );
    }
    rules
}

/// The dnsmasq serving `pidfile`, if it runs.
fn dnsmasq_pid(pidfile: &std::path::Path) -> Option<i32> {
    let pid = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    common::is_our_process(pid, &pidfile.display().to_string()).then_some(pid)
}

#[test]
fn a_nat_network_leases_addresses_and_forwards() {
    if !nat_dhcp_tools() {
        return;
    }
    let sb = Sandbox::new();
    let c = host_net(&sb);
    let tag = std::process::id() % 100_000;
    let br = format!("vkn{tag}");
    let _guard = BridgeGuard(br.clone());
    let net = 10 + std::process::id() % 240;
    let subnet = format!("10.215.{net}.0/24");
    let n = c
        .define_network_xml(&format!(
            "<network><name>natnet</name><forward mode='nat'/><bridge name='{br}'/>\
             <ip address='10.215.{net}.1' netmask='255.255.255.0'><dhcp>\
             <range start='10.215.{net}.100' end='10.215.{net}.109'/></dhcp></ip></network>"
        ))
        .unwrap();
    if !start_or_skip(&n) {
        return;
    }
    // The host side: the bridge with its address, dnsmasq serving it, the NAT and forward rules.
    let addr = host("ip", &["-o", "-4", "addr", "show", "dev", &br]);
    assert!(addr.contains(&format!("10.215.{net}.1/24")), "{addr}");
    let pidfile = sb.run_dir().join("networks/natnet.dnsmasq.pid");
    let pid = dnsmasq_pid(&pidfile).expect("dnsmasq runs for the network");
    let rules = rules_for(&subnet);
    assert!(rules.iter().any(|r| r.contains("MASQUERADE")), "{rules:#?}");
    assert_eq!(rules.len(), 3, "{rules:#?}");
    // A client on the bridge gets an address from the range, and dnsmasq records the lease.
    let client = Client::plug(&br, &tag.to_string());
    let leased = client.lease();
    let last: u32 = leased
        .strip_prefix(&format!("10.215.{net}."))
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("leased {leased}, outside 10.215.{net}.0/24"));
    assert!((100..=109).contains(&last), "{leased}");
    let leases = std::fs::read_to_string(sb.run_dir().join("networks/natnet.leases")).unwrap();
    assert!(leases.contains(&leased), "{leases}");
    drop(client);
    // Stopping undoes all of it.
    n.destroy().unwrap();
    assert!(common::wait_gone(pid, std::time::Duration::from_secs(5)));
    assert!(!std::path::Path::new("/sys/class/net").join(&br).exists());
    assert_eq!(rules_for(&subnet), Vec::<String>::new());
    n.undefine().unwrap();
}

#[test]
fn a_network_that_fails_to_start_leaves_nothing_behind() {
    if !nat_dhcp_tools() {
        return;
    }
    // The last step (the NAT rules) fails: an `iptables` first on PATH that refuses everything.
    // Everything done before it (bridge, address, dnsmasq) must be undone.
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("iptables");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'iptables: refused by the test' >&2\nexit 4\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tag = std::process::id() % 100_000;
    let br = format!("vkf{tag}");
    let _guard = BridgeGuard(br.clone());
    let net = 10 + std::process::id() % 240;
    let xml = sb.dir.path().join("net.xml");
    std::fs::write(
        &xml,
        format!(
            "<network><name>failnet</name><forward mode='nat'/><bridge name='{br}'/>\
             <ip address='10.216.{net}.1' prefix='24'><dhcp>\
             <range start='10.216.{net}.2' end='10.216.{net}.9'/></dhcp></ip></network>"
        ),
    )
    .unwrap();
    let uri = format!("{}&hostnet=yes", sb.uri());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        common::virtkit(&uri, args)
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    assert!(run(&["net-define", xml.to_str().unwrap()]).status.success());
    let out = run(&["net-start", "failnet"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused by the test"), "{err}");
    assert!(!std::path::Path::new("/sys/class/net").join(&br).exists());
    let pidfile = sb.run_dir().join("networks/failnet.dnsmasq.pid");
    // No dnsmasq of this network survives (its pid file names the sandbox, so any match is ours).
    let marker = pidfile.display().to_string();
    let survivors: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| common::is_our_process(*pid, &marker))
        .collect();
    assert_eq!(survivors, Vec::<i32>::new());
    let listed = run(&["net-list", "--all"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("failnet") && listed.contains("inactive"),
        "{listed}"
    );
}

/// Four processes define four networks at once, all naming one bridge: one wins, the others are
/// told which network has it. Then four networks without a bridge name, at once: each gets its
/// own `virbrN`.
#[test]
fn defining_networks_on_one_bridge_at_once_gives_one_success() {
    let sb = Sandbox::new();
    let files = tempfile::tempdir().unwrap();
    let define_all = |xmls: Vec<String>| -> Vec<std::process::Output> {
        let children: Vec<_> = xmls
            .iter()
            .enumerate()
            .map(|(i, xml)| {
                let f = files.path().join(format!("n{i}-{}.xml", xml.len()));
                std::fs::write(&f, xml).unwrap();
                common::virtkit(&sb.uri(), &["net-define", f.to_str().unwrap()])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    };
    let results = define_all(
        (0..4)
            .map(|i| format!("<network><name>shared{i}</name><bridge name='vkrace0'/></network>"))
            .collect(),
    );
    let winners: Vec<usize> = (0..4).filter(|i| results[*i].status.success()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one net-define succeeds: {results:?}"
    );
    let winner = format!("shared{}", winners[0]);
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            let err = String::from_utf8_lossy(&r.stderr);
            assert!(
                err.contains(&format!(
                    "bridge name 'vkrace0' is already used by network '{winner}'"
                )),
                "loser {i} names the network holding the bridge: {err}"
            );
        }
    }
    let c = sb.open();
    assert_eq!(c.list_defined_networks().unwrap(), vec![winner.clone()]);
    assert_eq!(
        c.lookup_network_by_name(&winner)
            .unwrap()
            .bridge_name()
            .unwrap(),
        "vkrace0"
    );

    let results = define_all(
        (0..4)
            .map(|i| format!("<network><name>auto{i}</name></network>"))
            .collect(),
    );
    assert!(results.iter().all(|r| r.status.success()), "{results:?}");
    let mut bridges: Vec<String> = (0..4)
        .map(|i| {
            c.lookup_network_by_name(&format!("auto{i}"))
                .unwrap()
                .bridge_name()
                .unwrap()
        })
        .collect();
    bridges.sort();
    bridges.dedup();
    assert_eq!(
        bridges.len(),
        4,
        "every network has a bridge of its own: {bridges:?}"
    );
}
