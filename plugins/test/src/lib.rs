//! libvirt's mock `test` driver: a node that lives in memory.
//!
//! * `test:///default` is the built-in node: one running domain `test` (id 1), the `default`
//!   network, and the node info of libvirt's own test driver.
//! * `test:///abs/path/node.xml` loads a node description (`<node>` with `<domain>` and
//!   `<network>` children, inline or by `file=`, plus `<cpu>` and `<memory>`); its domains are
//!   running with ids 1, 2, ... in file order.
//!
//! All connections to the same URI in one process share the node; it is discarded when the
//! last of them closes, as in libvirt. Every ABI 1.0 operation is implemented, with libvirt's
//! state rules.
//!
//! The operations are in `domain.rs` and `network.rs`, under the names the qemu driver gives
//! them (`domain::start` is `virDomainCreate`, `network::start` is `virNetworkCreate`); the
//! host's (type, version, capabilities, node info, security model) and the table are here.
#![forbid(unsafe_code)]

mod domain;
mod index;
mod network;
mod node;

use virtkit_driver::{Driver, DriverInfo, Error, NodeInfo, Ops, Result, abi};
use virtkit_xml::{
    Capabilities, CapsDomain, CapsGuest, CapsGuestArch, CapsGuestFeature, CapsHost, CapsHostCpu,
    CellCpu, NumaCell, SecModel,
};

pub use node::TestConn;

fn get_type(_: &TestConn) -> Result<String> {
    Ok("TEST".into())
}

fn get_version(_: &TestConn) -> Result<u64> {
    Ok(2)
}

fn get_hostname(_: &TestConn) -> Result<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::system("cannot read the host name", &e))
}

fn get_capabilities(c: &TestConn) -> Result<String> {
    let info = c.lock().info.clone();
    Ok(capabilities(&info).to_xml())
}

/// The test node's capabilities: an i686 host with the node's NUMA cells, and hvm and xen guests
/// of domain type `test`, as libvirt's test driver describes them.
fn capabilities(info: &NodeInfo) -> Capabilities {
    let cells = info.nodes.max(1);
    let per_cell = (info.cpus / cells).max(1);
    let cell_mem = info.memory_kib / u64::from(cells);
    let host = CapsHost {
        cpu: CapsHostCpu {
            arch: "i686".into(),
            features: vec!["pae".into(), "nonpae".into()],
            ..Default::default()
        },
        cells: Some(
            (0..cells)
                .map(|id| NumaCell {
                    id,
                    memory_kib: Some(cell_mem),
                    pages: Vec::new(),
                    cpus: (0..per_cell)
                        .map(|i| CellCpu {
                            id: id * per_cell + i,
                            ..Default::default()
                        })
                        .collect(),
                })
                .collect(),
        ),
        secmodels: vec![SecModel {
            model: "testSecurity".into(),
            doi: String::new(),
            base_labels: Vec::new(),
        }],
        ..Default::default()
    };
    let guest = |os: &str| CapsGuest {
        os_type: os.into(),
        arch: CapsGuestArch {
            name: "i686".into(),
            wordsize: Some(32),
            emulator: Some("/usr/bin/test-hv".into()),
            domains: vec![CapsDomain {
                domain_type: "test".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        features: ["pae", "nonpae"]
            .iter()
            .map(|f| CapsGuestFeature {
                name: (*f).into(),
                ..Default::default()
            })
            .collect(),
    };
    Capabilities {
        host,
        guests: vec![guest("hvm"), guest("xen")],
    }
}

fn node_get_info(c: &TestConn) -> Result<NodeInfo> {
    Ok(c.lock().info.clone())
}

fn security_model(_: &TestConn) -> Result<(String, String)> {
    Ok(("testSecurity".into(), String::new()))
}

/// Every operation but the native-format conversions (the test driver has no
/// native format).
const OPS: Ops<TestConn> = Ops {
    get_type: Some(get_type),
    get_version: Some(get_version),
    get_hostname: Some(get_hostname),
    get_capabilities: Some(get_capabilities),
    node_get_info: Some(node_get_info),
    get_max_vcpus: Some(domain::get_max_vcpus),
    list_domains: Some(domain::list_domains),
    num_of_domains: Some(domain::num_of_domains),
    list_defined_domains: Some(domain::list_defined_domains),
    num_of_defined_domains: Some(domain::num_of_defined_domains),
    domain_lookup_by_id: Some(domain::lookup_by_id),
    domain_lookup_by_uuid: Some(domain::lookup_by_uuid),
    domain_lookup_by_name: Some(domain::lookup_by_name),
    domain_create_xml: Some(domain::create_xml),
    domain_define_xml: Some(domain::define_xml),
    domain_undefine: Some(domain::undefine),
    domain_create: Some(domain::start),
    domain_shutdown: Some(domain::shutdown),
    domain_reboot: Some(domain::reboot),
    domain_destroy: Some(domain::destroy),
    domain_suspend: Some(domain::suspend),
    domain_resume: Some(domain::resume),
    domain_save: Some(domain::save),
    domain_restore: Some(domain::restore),
    domain_core_dump: Some(domain::core_dump),
    domain_get_info: Some(domain::get_info),
    domain_get_xml_desc: Some(domain::get_xml_desc),
    domain_get_os_type: Some(domain::get_os_type),
    domain_get_max_memory: Some(domain::get_max_memory),
    domain_set_max_memory: Some(domain::set_max_memory),
    domain_set_memory: Some(domain::set_memory),
    domain_set_memory_flags: Some(domain::set_memory_flags),
    domain_set_vcpus: Some(domain::set_vcpus),
    domain_pin_vcpu: Some(domain::pin_vcpu),
    domain_get_vcpus: Some(domain::get_vcpus),
    domain_get_autostart: Some(domain::get_autostart),
    domain_set_autostart: Some(domain::set_autostart),
    domain_attach_device: Some(domain::attach_device),
    domain_detach_device: Some(domain::detach_device),
    list_networks: Some(network::list_networks),
    num_of_networks: Some(network::num_of_networks),
    list_defined_networks: Some(network::list_defined_networks),
    num_of_defined_networks: Some(network::num_of_defined_networks),
    network_lookup_by_uuid: Some(network::lookup_by_uuid),
    network_lookup_by_name: Some(network::lookup_by_name),
    network_create_xml: Some(network::create_xml),
    network_define_xml: Some(network::define_xml),
    network_undefine: Some(network::undefine),
    network_create: Some(network::start),
    network_destroy: Some(network::destroy),
    network_get_xml_desc: Some(network::get_xml_desc),
    network_get_bridge_name: Some(network::get_bridge_name),
    network_get_autostart: Some(network::get_autostart),
    network_set_autostart: Some(network::set_autostart),
    domain_is_persistent: Some(domain::is_persistent),
    domain_has_managed_save_image: Some(domain::has_managed_save_image),
    node_get_security_model: Some(security_model),
    domain_get_security_label: Some(domain::security_label),
    domain_get_state: Some(domain::get_state),
    domain_get_messages: Some(domain::get_messages),
    network_is_active: Some(network::is_active),
    network_is_persistent: Some(network::is_persistent),
    ..Ops::NONE
};

/// The test driver.
pub struct TestDriver;

impl Driver for TestDriver {
    type Conn = TestConn;
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_THREAD_SAFE,
        error_domain: abi::error_domain::TEST,
        sandbox_uri: "test:///default",
        ..DriverInfo::new("test", env!("CARGO_PKG_VERSION"), &["test"])
    };
    const OPS: Ops<TestConn> = OPS;

    fn open(uri: &str, _read_only: bool) -> Result<Option<TestConn>> {
        TestConn::open(uri)
    }
}

virtkit_driver::driver_entry!(test_driver_entry, TestDriver);
