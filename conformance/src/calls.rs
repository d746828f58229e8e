//! One call per operation, with harmless arguments: through the public API (to prove what the
//! core does before dispatching) or through the loader's host shims (to reach a slot the public
//! API cannot name an object for).

use virtkit::{Connect, Domain, Network, Op};
use virtkit_loader::{CallResult, DomainIdent, DriverConn, NetworkIdent};

/// What the calls act on.
pub(crate) struct Args<'a> {
    /// The domain for domain operations (none: those are not callable through the core).
    pub dom: Option<&'a Domain>,
    /// The network for network operations.
    pub net: Option<&'a Network>,
    /// A domain definition (for define, create, to-native), of a name that must not exist after.
    pub domain_xml: &'a str,
    /// A network definition, of a name that must not exist after.
    pub network_xml: &'a str,
    /// A file path that must not exist after (save, restore, core dump).
    pub path: &'a str,
}

/// A device the domain does not have, for attach and detach.
pub(crate) const DEVICE_XML: &str = "<disk type='file' device='disk'><source file='/nonexistent/virtkit-conformance.img'/><target dev='vdz' bus='virtio'/></disk>";

/// Calls `op` through `conn`. `None` when the public API cannot make that call: open and close,
/// or an object operation without an object in `a`.
pub(crate) fn via_core(op: Op, conn: &Connect, a: &Args<'_>) -> Option<virtkit::Result<()>> {
    fn unit<T>(r: virtkit::Result<T>) -> virtkit::Result<()> {
        r.map(|_| ())
    }
    let random = uuid::Uuid::new_v4();
    Some(match op {
        Op::Open | Op::Close => return None,
        Op::GetType => unit(conn.get_type()),
        Op::GetVersion => unit(conn.version()),
        Op::GetHostname => unit(conn.hostname()),
        Op::GetCapabilities => unit(conn.capabilities()),
        Op::NodeGetInfo => unit(conn.node_info()),
        Op::GetMaxVcpus => unit(conn.max_vcpus("")),
        Op::ListDomains => unit(conn.list_domains()),
        Op::NumOfDomains => unit(conn.num_of_domains()),
        Op::ListDefinedDomains => unit(conn.list_defined_domains()),
        Op::NumOfDefinedDomains => unit(conn.num_of_defined_domains()),
        Op::DomainLookupById => unit(conn.lookup_domain_by_id(i32::MAX - 7)),
        Op::DomainLookupByUuid => unit(conn.lookup_domain_by_uuid(&random)),
        Op::DomainLookupByName => {
            unit(conn.lookup_domain_by_name("virtkit-conformance-no-such-domain"))
        }
        Op::DomainCreateXml => unit(conn.create_domain_xml(a.domain_xml, 0)),
        Op::DomainDefineXml => unit(conn.define_domain_xml(a.domain_xml)),
        Op::DomainRestore => conn.restore_domain(a.path),
        Op::ListNetworks => unit(conn.list_networks()),
        Op::NumOfNetworks => unit(conn.num_of_networks()),
        Op::ListDefinedNetworks => unit(conn.list_defined_networks()),
        Op::NumOfDefinedNetworks => unit(conn.num_of_defined_networks()),
        Op::NetworkLookupByUuid => unit(conn.lookup_network_by_uuid(&random)),
        Op::NetworkLookupByName => {
            unit(conn.lookup_network_by_name("virtkit-conformance-no-such-network"))
        }
        Op::NetworkCreateXml => unit(conn.create_network_xml(a.network_xml)),
        Op::NetworkDefineXml => unit(conn.define_network_xml(a.network_xml)),
        Op::NodeGetSecurityModel => unit(conn.security_model()),
        Op::DomainXmlFromNative => {
            unit(conn.domain_xml_from_native("virtkit-conformance-format", ""))
        }
        Op::DomainXmlToNative => {
            unit(conn.domain_xml_to_native("virtkit-conformance-format", a.domain_xml))
        }
        Op::DomainUndefine
        | Op::DomainCreate
        | Op::DomainShutdown
        | Op::DomainReboot
        | Op::DomainDestroy
        | Op::DomainSuspend
        | Op::DomainResume
        | Op::DomainSave
        | Op::DomainCoreDump
        | Op::DomainGetInfo
        | Op::DomainGetXmlDesc
        | Op::DomainGetOsType
        | Op::DomainGetMaxMemory
        | Op::DomainSetMaxMemory
        | Op::DomainSetMemory
        | Op::DomainSetVcpus
        | Op::DomainPinVcpu
        | Op::DomainGetVcpus
        | Op::DomainGetAutostart
        | Op::DomainSetAutostart
        | Op::DomainAttachDevice
        | Op::DomainDetachDevice
        | Op::DomainIsPersistent
        | Op::DomainHasManagedSaveImage
        | Op::DomainGetSecurityLabel
        | Op::DomainGetState => {
            let d = a.dom?;
            match op {
                Op::DomainUndefine => d.undefine(),
                Op::DomainCreate => d.create(),
                Op::DomainShutdown => d.shutdown(),
                Op::DomainReboot => d.reboot(0),
                Op::DomainDestroy => d.destroy(),
                Op::DomainSuspend => d.suspend(),
                Op::DomainResume => d.resume(),
                Op::DomainSave => d.save(a.path),
                Op::DomainCoreDump => d.core_dump(a.path, 0),
                Op::DomainGetInfo => unit(d.info()),
                Op::DomainGetXmlDesc => unit(d.xml_desc(0)),
                Op::DomainGetOsType => unit(d.os_type()),
                Op::DomainGetMaxMemory => unit(d.max_memory()),
                Op::DomainSetMaxMemory => d.set_max_memory(crate::guest::MEMORY_KIB * 2),
                Op::DomainSetMemory => d.set_memory(crate::guest::MEMORY_KIB / 2),
                Op::DomainSetVcpus => d.set_vcpus(1),
                Op::DomainPinVcpu => d.pin_vcpu(0, &[1]),
                Op::DomainGetVcpus => unit(d.vcpus()),
                Op::DomainGetAutostart => unit(d.autostart()),
                Op::DomainSetAutostart => d.set_autostart(true),
                Op::DomainAttachDevice => d.attach_device(DEVICE_XML),
                Op::DomainDetachDevice => d.detach_device(DEVICE_XML),
                Op::DomainIsPersistent => unit(d.is_persistent()),
                Op::DomainHasManagedSaveImage => unit(d.has_managed_save_image()),
                Op::DomainGetSecurityLabel => unit(d.security_label()),
                _ => unit(d.state()),
            }
        }
        Op::NetworkUndefine
        | Op::NetworkCreate
        | Op::NetworkDestroy
        | Op::NetworkGetXmlDesc
        | Op::NetworkGetBridgeName
        | Op::NetworkGetAutostart
        | Op::NetworkSetAutostart
        | Op::NetworkIsActive
        | Op::NetworkIsPersistent => {
            let n = a.net?;
            match op {
                Op::NetworkIsActive => unit(n.is_active()),
                Op::NetworkIsPersistent => unit(n.is_persistent()),
                Op::NetworkUndefine => n.undefine(),
                Op::NetworkCreate => n.create(),
                Op::NetworkDestroy => n.destroy(),
                Op::NetworkGetXmlDesc => unit(n.xml_desc(0)),
                Op::NetworkGetBridgeName => unit(n.bridge_name()),
                Op::NetworkGetAutostart => unit(n.autostart()),
                _ => n.set_autostart(true),
            }
        }
    })
}

/// Calls `op` through the loader's host shim on a driver connection, naming a domain or network
/// that does not exist. `None` for open and close.
pub(crate) fn via_loader(op: Op, c: &DriverConn, a: &Args<'_>) -> Option<CallResult<()>> {
    fn unit<T>(r: CallResult<T>) -> CallResult<()> {
        r.map(|_| ())
    }
    let u = *uuid::Uuid::new_v4().as_bytes();
    let d = DomainIdent {
        id: -1,
        uuid: u,
        name: "virtkit-conformance-nobody".into(),
    };
    let n = NetworkIdent {
        uuid: u,
        name: "virtkit-conformance-nothing".into(),
    };
    Some(match op {
        Op::Open | Op::Close => return None,
        Op::GetType => unit(c.get_type()),
        Op::GetVersion => unit(c.get_version()),
        Op::GetHostname => unit(c.get_hostname()),
        Op::GetCapabilities => unit(c.get_capabilities()),
        Op::NodeGetInfo => unit(c.node_get_info()),
        Op::GetMaxVcpus => unit(c.get_max_vcpus("")),
        Op::ListDomains => unit(c.list_domains()),
        Op::NumOfDomains => unit(c.num_of_domains()),
        Op::ListDefinedDomains => unit(c.list_defined_domains()),
        Op::NumOfDefinedDomains => unit(c.num_of_defined_domains()),
        Op::DomainLookupById => unit(c.domain_lookup_by_id(i32::MAX - 7)),
        Op::DomainLookupByUuid => unit(c.domain_lookup_by_uuid(&u)),
        Op::DomainLookupByName => unit(c.domain_lookup_by_name(&d.name)),
        Op::DomainCreateXml => unit(c.domain_create_xml(a.domain_xml, 0)),
        Op::DomainDefineXml => unit(c.domain_define_xml(a.domain_xml)),
        Op::DomainUndefine => c.domain_undefine(&d),
        Op::DomainCreate => c.domain_create(&d),
        Op::DomainShutdown => c.domain_shutdown(&d),
        Op::DomainReboot => c.domain_reboot(&d, 0),
        Op::DomainDestroy => c.domain_destroy(&d),
        Op::DomainSuspend => c.domain_suspend(&d),
        Op::DomainResume => c.domain_resume(&d),
        Op::DomainSave => c.domain_save(&d, a.path),
        Op::DomainRestore => c.domain_restore(a.path),
        Op::DomainCoreDump => c.domain_core_dump(&d, a.path, 0),
        Op::DomainGetInfo => unit(c.domain_get_info(&d)),
        Op::DomainGetXmlDesc => unit(c.domain_get_xml_desc(&d, 0)),
        Op::DomainGetOsType => unit(c.domain_get_os_type(&d)),
        Op::DomainGetMaxMemory => unit(c.domain_get_max_memory(&d)),
        Op::DomainSetMaxMemory => c.domain_set_max_memory(&d, crate::guest::MEMORY_KIB),
        Op::DomainSetMemory => c.domain_set_memory(&d, crate::guest::MEMORY_KIB),
        Op::DomainSetVcpus => c.domain_set_vcpus(&d, 1),
        Op::DomainPinVcpu => c.domain_pin_vcpu(&d, 0, &[1]),
        Op::DomainGetVcpus => unit(c.domain_get_vcpus(&d)),
        Op::DomainGetAutostart => unit(c.domain_get_autostart(&d)),
        Op::DomainSetAutostart => c.domain_set_autostart(&d, true),
        Op::DomainAttachDevice => c.domain_attach_device(&d, DEVICE_XML),
        Op::DomainDetachDevice => c.domain_detach_device(&d, DEVICE_XML),
        Op::ListNetworks => unit(c.list_networks()),
        Op::NumOfNetworks => unit(c.num_of_networks()),
        Op::ListDefinedNetworks => unit(c.list_defined_networks()),
        Op::NumOfDefinedNetworks => unit(c.num_of_defined_networks()),
        Op::NetworkLookupByUuid => unit(c.network_lookup_by_uuid(&u)),
        Op::NetworkLookupByName => unit(c.network_lookup_by_name(&n.name)),
        Op::NetworkCreateXml => unit(c.network_create_xml(a.network_xml)),
        Op::NetworkDefineXml => unit(c.network_define_xml(a.network_xml)),
        Op::NetworkUndefine => c.network_undefine(&n),
        Op::NetworkCreate => c.network_create(&n),
        Op::NetworkDestroy => c.network_destroy(&n),
        Op::NetworkGetXmlDesc => unit(c.network_get_xml_desc(&n, 0)),
        Op::NetworkGetBridgeName => unit(c.network_get_bridge_name(&n)),
        Op::NetworkGetAutostart => unit(c.network_get_autostart(&n)),
        Op::NetworkSetAutostart => c.network_set_autostart(&n, true),
        Op::NetworkIsActive => unit(c.network_is_active(&n)),
        Op::NetworkIsPersistent => unit(c.network_is_persistent(&n)),
        Op::DomainIsPersistent => unit(c.domain_is_persistent(&d)),
        Op::DomainHasManagedSaveImage => unit(c.domain_has_managed_save_image(&d, 0)),
        Op::NodeGetSecurityModel => unit(c.node_get_security_model()),
        Op::DomainGetSecurityLabel => unit(c.domain_get_security_label(&d)),
        Op::DomainGetState => unit(c.domain_get_state(&d)),
        Op::DomainXmlFromNative => {
            unit(c.domain_xml_from_native("virtkit-conformance-format", "", 0))
        }
        Op::DomainXmlToNative => {
            unit(c.domain_xml_to_native("virtkit-conformance-format", a.domain_xml, 0))
        }
    })
}
