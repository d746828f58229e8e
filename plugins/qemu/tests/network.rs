//! Virtual networks through the plugin: definitions always; starting one (a host bridge) only as
//! root with permission to change the host's network, which is asked for explicitly.

mod common;

use common::{Sandbox, exists, registry};
use virtkit::{Connect, ErrorCode};

/// libvirt's `default` network.
const DEFAULT_NET: &str = "<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>";

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

/// Deletes a bridge when dropped (so a failing test leaves the host as it was).
struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

#[test]
fn an_isolated_network_is_a_host_bridge() {
    if !nix::unistd::geteuid().is_root() {
        common::report(
            "an_isolated_network_is_a_host_bridge: skipped: starting a network needs root",
        );
        return;
    }
    let sb = Sandbox::new();
    let c = Connect::open_with(
        Some(&format!("{}&hostnet=yes", sb.uri())),
        false,
        &registry(),
    )
    .unwrap();
    // A name no one else uses: the process id keeps parallel runs apart.
    let br = format!("vkt{}", std::process::id() % 100_000);
    let _guard = (BridgeGuard(br.clone()), BridgeGuard(format!("{br}d")));
    let xml = format!(
        "<network><name>iso</name><bridge name='{br}'/><ip address='10.213.{}.1' prefix='24'/></network>",
        std::process::id() % 250
    );
    let n = c.define_network_xml(&xml).unwrap();
    match n.create() {
        Ok(()) => {}
        Err(e) if e.message.contains("Operation not permitted") => {
            common::report(&format!(
                "an_isolated_network_is_a_host_bridge: skipped: this host does not allow creating bridges: {e}"
            ));
            return;
        }
        Err(e) => panic!("{e}"),
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
