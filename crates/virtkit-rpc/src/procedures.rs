//! The procedures of libvirt's REMOTE program that virtkit serves: one list, with the published
//! procedure numbers (facts of `remote_protocol.x`, append-only upstream) and, for each, the
//! operations of the ABI's list (`virtkit_abi::OPS`) it is served by.
//!
//! The daemon's dispatch matches on [`Procedure`]; the coverage table of docs/remote.md is
//! generated from [`PROCEDURES`]; a test checks that every ABI operation is served by a
//! procedure or is named in [`LOCAL_ONLY`] with the reason.

use virtkit_abi::Op;

/// How a procedure is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    /// The RPC layer itself (authentication, opening and closing the connection, features).
    Protocol,
    /// Through these operations of the ABI's list (through the virtkit API).
    Ops(&'static [Op]),
}

/// One procedure of the REMOTE program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcedureInfo {
    /// The procedure.
    pub procedure: Procedure,
    /// Its number on the wire.
    pub number: i32,
    /// Its name in `remote_protocol.x` (`REMOTE_PROC_<name>`).
    pub name: &'static str,
    /// What serves it.
    pub serves: Serves,
    /// What a user should know about how it is served (empty when nothing).
    pub note: &'static str,
}

macro_rules! procedures {
    ($( $variant:ident = $num:literal $name:literal => $serves:expr, $note:literal; )*) => {
        /// A procedure of the REMOTE program that virtkitd serves.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Procedure {
            $(
                #[doc = concat!("`REMOTE_PROC_", $name, "` (", stringify!($num), ")")]
                $variant,
            )*
        }

        /// Every procedure served, in the order of the list.
        pub const PROCEDURES: &[ProcedureInfo] = &[
            $( ProcedureInfo {
                procedure: Procedure::$variant,
                number: $num,
                name: $name,
                serves: $serves,
                note: $note,
            }, )*
        ];

        impl Procedure {
            /// The procedure with this wire number, if virtkitd serves it.
            pub fn from_number(n: i32) -> Option<Procedure> {
                match n {
                    $( $num => Some(Procedure::$variant), )*
                    _ => None,
                }
            }
            /// Its wire number.
            pub fn number(self) -> i32 {
                match self {
                    $( Procedure::$variant => $num, )*
                }
            }
            /// Facts about it.
            pub fn info(self) -> &'static ProcedureInfo {
                PROCEDURES
                    .iter()
                    .find(|p| p.procedure == self)
                    .expect("every procedure is in the list")
            }
        }
    };
}

use Serves::Protocol;

const fn ops(o: &'static [Op]) -> Serves {
    Serves::Ops(o)
}

// The list. `<Variant> = <number> "<REMOTE_PROC_ name>" => <what serves it>, "<note>";`
procedures! {
    ConnectOpen = 1 "CONNECT_OPEN" => ops(&[Op::Open]), "opens the URI through the core and the plugins";
    ConnectClose = 2 "CONNECT_CLOSE" => ops(&[Op::Close]), "";
    ConnectGetType = 3 "CONNECT_GET_TYPE" => ops(&[Op::GetType]), "";
    ConnectGetVersion = 4 "CONNECT_GET_VERSION" => ops(&[Op::GetVersion]), "";
    ConnectGetMaxVcpus = 5 "CONNECT_GET_MAX_VCPUS" => ops(&[Op::GetMaxVcpus]), "";
    NodeGetInfo = 6 "NODE_GET_INFO" => ops(&[Op::NodeGetInfo]), "";
    ConnectGetCapabilities = 7 "CONNECT_GET_CAPABILITIES" => ops(&[Op::GetCapabilities]), "";
    DomainAttachDevice = 8 "DOMAIN_ATTACH_DEVICE" => ops(&[Op::DomainAttachDevice]), "";
    DomainCreate = 9 "DOMAIN_CREATE" => ops(&[Op::DomainCreate]), "";
    DomainCreateXml = 10 "DOMAIN_CREATE_XML" => ops(&[Op::DomainCreateXml]), "";
    DomainDefineXml = 11 "DOMAIN_DEFINE_XML" => ops(&[Op::DomainDefineXml]), "";
    DomainDestroy = 12 "DOMAIN_DESTROY" => ops(&[Op::DomainDestroy]), "";
    DomainDetachDevice = 13 "DOMAIN_DETACH_DEVICE" => ops(&[Op::DomainDetachDevice]), "";
    DomainGetXmlDesc = 14 "DOMAIN_GET_XML_DESC" => ops(&[Op::DomainGetXmlDesc]), "";
    DomainGetAutostart = 15 "DOMAIN_GET_AUTOSTART" => ops(&[Op::DomainGetAutostart]), "";
    DomainGetInfo = 16 "DOMAIN_GET_INFO" => ops(&[Op::DomainGetInfo]), "";
    DomainGetMaxMemory = 17 "DOMAIN_GET_MAX_MEMORY" => ops(&[Op::DomainGetMaxMemory]), "";
    DomainGetOsType = 19 "DOMAIN_GET_OS_TYPE" => ops(&[Op::DomainGetOsType]), "";
    DomainGetVcpus = 20 "DOMAIN_GET_VCPUS" => ops(&[Op::DomainGetVcpus]), "";
    ConnectListDefinedDomains = 21 "CONNECT_LIST_DEFINED_DOMAINS" => ops(&[Op::ListDefinedDomains]), "";
    DomainLookupById = 22 "DOMAIN_LOOKUP_BY_ID" => ops(&[Op::DomainLookupById]), "";
    DomainLookupByName = 23 "DOMAIN_LOOKUP_BY_NAME" => ops(&[Op::DomainLookupByName]), "";
    DomainLookupByUuid = 24 "DOMAIN_LOOKUP_BY_UUID" => ops(&[Op::DomainLookupByUuid]), "";
    ConnectNumOfDefinedDomains = 25 "CONNECT_NUM_OF_DEFINED_DOMAINS" => ops(&[Op::NumOfDefinedDomains]), "";
    DomainPinVcpu = 26 "DOMAIN_PIN_VCPU" => ops(&[Op::DomainPinVcpu]), "";
    DomainReboot = 27 "DOMAIN_REBOOT" => ops(&[Op::DomainReboot]), "";
    DomainResume = 28 "DOMAIN_RESUME" => ops(&[Op::DomainResume]), "";
    DomainSetAutostart = 29 "DOMAIN_SET_AUTOSTART" => ops(&[Op::DomainSetAutostart]), "";
    DomainSetMaxMemory = 30 "DOMAIN_SET_MAX_MEMORY" => ops(&[Op::DomainSetMaxMemory]), "";
    DomainSetMemory = 31 "DOMAIN_SET_MEMORY" => ops(&[Op::DomainSetMemory]), "";
    DomainSetVcpus = 32 "DOMAIN_SET_VCPUS" => ops(&[Op::DomainSetVcpus]), "";
    DomainShutdown = 33 "DOMAIN_SHUTDOWN" => ops(&[Op::DomainShutdown]), "";
    DomainSuspend = 34 "DOMAIN_SUSPEND" => ops(&[Op::DomainSuspend]), "";
    DomainUndefine = 35 "DOMAIN_UNDEFINE" => ops(&[Op::DomainUndefine]), "";
    ConnectListDefinedNetworks = 36 "CONNECT_LIST_DEFINED_NETWORKS" => ops(&[Op::ListDefinedNetworks]), "";
    ConnectListDomains = 37 "CONNECT_LIST_DOMAINS" => ops(&[Op::ListDomains]), "";
    ConnectListNetworks = 38 "CONNECT_LIST_NETWORKS" => ops(&[Op::ListNetworks]), "";
    NetworkCreate = 39 "NETWORK_CREATE" => ops(&[Op::NetworkCreate]), "";
    NetworkCreateXml = 40 "NETWORK_CREATE_XML" => ops(&[Op::NetworkCreateXml]), "";
    NetworkDefineXml = 41 "NETWORK_DEFINE_XML" => ops(&[Op::NetworkDefineXml]), "";
    NetworkDestroy = 42 "NETWORK_DESTROY" => ops(&[Op::NetworkDestroy]), "";
    NetworkGetXmlDesc = 43 "NETWORK_GET_XML_DESC" => ops(&[Op::NetworkGetXmlDesc]), "";
    NetworkGetAutostart = 44 "NETWORK_GET_AUTOSTART" => ops(&[Op::NetworkGetAutostart]), "";
    NetworkGetBridgeName = 45 "NETWORK_GET_BRIDGE_NAME" => ops(&[Op::NetworkGetBridgeName]), "";
    NetworkLookupByName = 46 "NETWORK_LOOKUP_BY_NAME" => ops(&[Op::NetworkLookupByName]), "";
    NetworkLookupByUuid = 47 "NETWORK_LOOKUP_BY_UUID" => ops(&[Op::NetworkLookupByUuid]), "";
    NetworkSetAutostart = 48 "NETWORK_SET_AUTOSTART" => ops(&[Op::NetworkSetAutostart]), "";
    NetworkUndefine = 49 "NETWORK_UNDEFINE" => ops(&[Op::NetworkUndefine]), "";
    ConnectNumOfDefinedNetworks = 50 "CONNECT_NUM_OF_DEFINED_NETWORKS" => ops(&[Op::NumOfDefinedNetworks]), "";
    ConnectNumOfDomains = 51 "CONNECT_NUM_OF_DOMAINS" => ops(&[Op::NumOfDomains]), "";
    ConnectNumOfNetworks = 52 "CONNECT_NUM_OF_NETWORKS" => ops(&[Op::NumOfNetworks]), "";
    DomainCoreDump = 53 "DOMAIN_CORE_DUMP" => ops(&[Op::DomainCoreDump]), "the path is on the daemon's host";
    DomainRestore = 54 "DOMAIN_RESTORE" => ops(&[Op::DomainRestore]), "the path is on the daemon's host";
    DomainSave = 55 "DOMAIN_SAVE" => ops(&[Op::DomainSave]), "the path is on the daemon's host";
    ConnectGetHostname = 59 "CONNECT_GET_HOSTNAME" => ops(&[Op::GetHostname]), "";
    ConnectSupportsFeature = 60 "CONNECT_SUPPORTS_FEATURE" => Protocol, "announces the keepalive program and server-side event filtering (`VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK`)";
    AuthList = 66 "AUTH_LIST" => Protocol, "answers `none`: unix-socket peers are identified by SO_PEERCRED";
    ConnectDomainEventRegister = 105 "CONNECT_DOMAIN_EVENT_REGISTER" => Protocol, "domain lifecycle events, the oldest way (`DOMAIN_EVENT_LIFECYCLE` messages)";
    ConnectDomainEventDeregister = 106 "CONNECT_DOMAIN_EVENT_DEREGISTER" => Protocol, "";
    ConnectGetUri = 110 "CONNECT_GET_URI" => Protocol, "the URI the connection was opened with";
    DomainGetSecurityLabel = 121 "DOMAIN_GET_SECURITY_LABEL" => ops(&[Op::DomainGetSecurityLabel]), "";
    NodeGetSecurityModel = 122 "NODE_GET_SECURITY_MODEL" => ops(&[Op::NodeGetSecurityModel]), "";
    ConnectDomainXmlFromNative = 135 "CONNECT_DOMAIN_XML_FROM_NATIVE" => ops(&[Op::DomainXmlFromNative]), "";
    ConnectDomainXmlToNative = 136 "CONNECT_DOMAIN_XML_TO_NATIVE" => ops(&[Op::DomainXmlToNative]), "";
    ConnectIsSecure = 149 "CONNECT_IS_SECURE" => Protocol, "a unix socket is secure";
    DomainIsActive = 150 "DOMAIN_IS_ACTIVE" => ops(&[Op::DomainLookupByUuid]), "active when the driver reports an id";
    DomainIsPersistent = 151 "DOMAIN_IS_PERSISTENT" => ops(&[Op::DomainIsPersistent]), "";
    NetworkIsActive = 152 "NETWORK_IS_ACTIVE" => ops(&[Op::NetworkIsActive]), "";
    NetworkIsPersistent = 153 "NETWORK_IS_PERSISTENT" => ops(&[Op::NetworkIsPersistent]), "";
    ConnectGetLibVersion = 157 "CONNECT_GET_LIB_VERSION" => Protocol, "virtkit's own version";
    ConnectDomainEventRegisterAny = 167 "CONNECT_DOMAIN_EVENT_REGISTER_ANY" => Protocol, "lifecycle events only (`DOMAIN_EVENT_LIFECYCLE` messages); other event ids are refused";
    ConnectDomainEventDeregisterAny = 168 "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY" => Protocol, "";
    DomainHasManagedSaveImage = 183 "DOMAIN_HAS_MANAGED_SAVE_IMAGE" => ops(&[Op::DomainHasManagedSaveImage]), "";
    DomainCreateWithFlags = 196 "DOMAIN_CREATE_WITH_FLAGS" => ops(&[Op::DomainCreate]), "flags must be 0";
    DomainSetMemoryFlags = 204 "DOMAIN_SET_MEMORY_FLAGS" => ops(&[Op::DomainSetMemoryFlags]), "";
    DomainGetState = 212 "DOMAIN_GET_STATE" => ops(&[Op::DomainGetState, Op::DomainGetInfo]), "";
    DomainUndefineFlags = 231 "DOMAIN_UNDEFINE_FLAGS" => ops(&[Op::DomainUndefine]), "flags must be 0";
    DomainDestroyFlags = 234 "DOMAIN_DESTROY_FLAGS" => ops(&[Op::DomainDestroy]), "flags must be 0";
    ConnectListAllDomains = 273 "CONNECT_LIST_ALL_DOMAINS" => ops(&[Op::ListDomains, Op::ListDefinedDomains, Op::DomainLookupById, Op::DomainLookupByName]), "filtered by the daemon";
    ConnectListAllNetworks = 283 "CONNECT_LIST_ALL_NETWORKS" => ops(&[Op::ListNetworks, Op::ListDefinedNetworks, Op::NetworkLookupByName]), "filtered by the daemon";
    ConnectNetworkEventRegisterAny = 313 "CONNECT_NETWORK_EVENT_REGISTER_ANY" => Protocol, "lifecycle events (`NETWORK_EVENT_LIFECYCLE` messages)";
    ConnectNetworkEventDeregisterAny = 314 "CONNECT_NETWORK_EVENT_DEREGISTER_ANY" => Protocol, "";
    ConnectDomainEventCallbackRegisterAny = 316 "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY" => Protocol, "lifecycle events only (`DOMAIN_EVENT_CALLBACK_LIFECYCLE` messages); other event ids are refused";
    ConnectDomainEventCallbackDeregisterAny = 317 "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY" => Protocol, "";
    DomainDefineXmlFlags = 350 "DOMAIN_DEFINE_XML_FLAGS" => ops(&[Op::DomainDefineXml]), "flags must be 0";
    DomainGetMessages = 426 "DOMAIN_GET_MESSAGES" => ops(&[Op::DomainGetMessages]), "";
}

/// The ABI operations no REMOTE procedure serves, and why. Empty today: every operation of the
/// list has its procedure. An operation added to the ABI must be given a procedure above or a
/// line here (a test fails otherwise).
pub const LOCAL_ONLY: &[(Op, &str)] = &[];

/// What a procedure does with its `flags` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flags {
    /// Passed to the virtkit API, whose driver honours or refuses each bit.
    ToDriver,
    /// Checked by the daemon against the bits it honours (the API call has no flags, or the
    /// drivers honour only these); any other bit is refused with libvirt's `unsupported flags
    /// (0x...) in function <api>` (`VIR_ERR_INVALID_ARG`), naming only the refused bits.
    Honoured(u32),
}

/// One procedure's flags: the policy, the libvirt API named in refusals, and what the honoured
/// bits are (for the coverage table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagsInfo {
    /// The procedure.
    pub procedure: Procedure,
    /// Its libvirt API, as refusals name it.
    pub api: &'static str,
    /// The policy.
    pub flags: Flags,
    /// The honoured bits by name, and their conditions.
    pub note: &'static str,
}

const fn flags(
    procedure: Procedure,
    api: &'static str,
    flags: Flags,
    note: &'static str,
) -> FlagsInfo {
    FlagsInfo {
        procedure,
        api,
        flags,
        note,
    }
}

/// The flags of every served procedure that takes them (libvirt's `unsigned int flags`).
pub const FLAGS: &[FlagsInfo] = &[
    flags(
        Procedure::DomainCreateXml,
        "virDomainCreateXML",
        Flags::Honoured(0x11),
        "`VIR_DOMAIN_START_PAUSED` (to the driver: the qemu driver honours it, the test driver refuses it as libvirt's does), `_VALIDATE` (virtkit's parser always refuses what its model does not know)",
    ),
    flags(
        Procedure::DomainGetXmlDesc,
        "virDomainGetXMLDesc",
        Flags::Honoured(0x3),
        "`VIR_DOMAIN_XML_SECURE`, `VIR_DOMAIN_XML_INACTIVE` (the two virtkit's drivers honour); `_UPDATE_CPU` and `_MIGRATABLE` are refused",
    ),
    flags(
        Procedure::DomainReboot,
        "virDomainReboot",
        Flags::ToDriver,
        "",
    ),
    flags(
        Procedure::NetworkGetXmlDesc,
        "virNetworkGetXMLDesc",
        Flags::ToDriver,
        "",
    ),
    flags(
        Procedure::DomainCoreDump,
        "virDomainCoreDump",
        Flags::ToDriver,
        "",
    ),
    flags(
        Procedure::ConnectDomainXmlFromNative,
        "virConnectDomainXMLFromNative",
        Flags::Honoured(0),
        "",
    ),
    flags(
        Procedure::ConnectDomainXmlToNative,
        "virConnectDomainXMLToNative",
        Flags::Honoured(0),
        "",
    ),
    flags(
        Procedure::DomainHasManagedSaveImage,
        "virDomainHasManagedSaveImage",
        Flags::Honoured(0),
        "",
    ),
    flags(
        Procedure::DomainCreateWithFlags,
        "virDomainCreateWithFlags",
        Flags::Honoured(0x8),
        "`VIR_DOMAIN_START_FORCE_BOOT`, only without a managed save image (where it changes nothing); `_PAUSED`, `_AUTODESTROY`, `_BYPASS_CACHE`, `_VALIDATE`, `_RESET_NVRAM` are refused",
    ),
    flags(
        Procedure::DomainSetMemoryFlags,
        "virDomainSetMemoryFlags",
        Flags::ToDriver,
        "",
    ),
    flags(
        Procedure::DomainGetState,
        "virDomainGetState",
        Flags::Honoured(0),
        "",
    ),
    flags(
        Procedure::DomainUndefineFlags,
        "virDomainUndefineFlags",
        Flags::Honoured(0x13),
        "`VIR_DOMAIN_UNDEFINE_MANAGED_SAVE` (refused when an image exists: virtkit cannot remove it), `_SNAPSHOTS_METADATA`, `_CHECKPOINTS_METADATA` (virtkit keeps none); without `_MANAGED_SAVE` a domain with an image is refused, as libvirt does",
    ),
    flags(
        Procedure::DomainDestroyFlags,
        "virDomainDestroyFlags",
        Flags::Honoured(0),
        "`_GRACEFUL` and `_REMOVE_LOGS` are refused: virtkit's destroy has neither form",
    ),
    flags(
        Procedure::ConnectListAllDomains,
        "virConnectListAllDomains",
        Flags::Honoured(0xffff),
        "every filter bit of libvirt 9.0, applied by the daemon",
    ),
    flags(
        Procedure::ConnectListAllNetworks,
        "virConnectListAllNetworks",
        Flags::Honoured(0x3f),
        "every filter bit, applied by the daemon",
    ),
    flags(
        Procedure::DomainDefineXmlFlags,
        "virDomainDefineXMLFlags",
        Flags::Honoured(0x1),
        "`VIR_DOMAIN_DEFINE_VALIDATE`: virtkit's parser always refuses what its model does not know",
    ),
    flags(
        Procedure::DomainGetMessages,
        "virDomainGetMessages",
        Flags::ToDriver,
        "",
    ),
];

/// The flags entry of a procedure, if it takes flags.
pub fn flags_of(p: Procedure) -> Option<&'static FlagsInfo> {
    FLAGS.iter().find(|f| f.procedure == p)
}

/// The bits of `flags` a procedure does not honour, with the API its refusal names; `None`
/// when every bit is honoured (or the driver decides).
pub fn refused_flags(p: Procedure, flags: u32) -> Option<(u32, &'static str)> {
    let info = flags_of(p)?;
    match info.flags {
        Flags::Honoured(ok) if flags & !ok != 0 => Some((flags & !ok, info.api)),
        _ => None,
    }
}

/// The procedure (the first in the list) serving an ABI operation, if any.
pub fn procedure_for(op: Op) -> Option<&'static ProcedureInfo> {
    PROCEDURES
        .iter()
        .find(|p| matches!(p.serves, Serves::Ops(ops) if ops.first() == Some(&op)))
        .or_else(|| {
            PROCEDURES
                .iter()
                .find(|p| matches!(p.serves, Serves::Ops(ops) if ops.contains(&op)))
        })
}

/// The line before the generated coverage table in docs/remote.md.
pub const COVERAGE_BEGIN: &str = "<!-- procedure table: generated by `cargo xtask codegen` from virtkit-rpc's PROCEDURES; do not edit -->";
/// The line after it.
pub const COVERAGE_END: &str = "<!-- end of procedure table -->";

/// The procedure coverage table of docs/remote.md (Markdown), from [`PROCEDURES`].
pub fn coverage_table() -> String {
    let mut out = String::from(
        "| procedure | number | served through | flags | note |\n|---|---:|---|---|---|\n",
    );
    for p in PROCEDURES {
        let through = match p.serves {
            Serves::Protocol => "the RPC layer".to_string(),
            Serves::Ops(ops) => ops
                .iter()
                .map(|o| format!("`{}`", o.info().api))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let flags = match flags_of(p.procedure) {
            None => String::new(),
            Some(f) => match f.flags {
                Flags::ToDriver => "to the driver".to_string(),
                Flags::Honoured(0) if f.note.is_empty() => "0 only".to_string(),
                Flags::Honoured(0) => format!("0 only: {}", f.note),
                Flags::Honoured(b) if f.note.is_empty() => format!("0x{b:x}"),
                Flags::Honoured(b) => format!("0x{b:x}: {}", f.note),
            },
        };
        out.push_str(&format!(
            "| `REMOTE_PROC_{}` | {} | {} | {} | {} |\n",
            p.name, p.number, through, flags, p.note
        ));
    }
    out.push_str(&format!(
        "\n{} procedures. Every other procedure number gets libvirt's \"unsupported\" error reply \
         (`VIR_ERR_NO_SUPPORT`, \"unknown procedure: N\") on a connection that stays open.\n",
        PROCEDURES.len()
    ));
    out
}

/// `doc` with the text between [`COVERAGE_BEGIN`] and [`COVERAGE_END`] replaced by
/// [`coverage_table`]; `None` when the markers are missing.
pub fn with_fresh_coverage(doc: &str) -> Option<String> {
    let start = doc.find(COVERAGE_BEGIN)? + COVERAGE_BEGIN.len();
    let end = start + doc[start..].find(COVERAGE_END)?;
    Some(format!(
        "{}\n{}{}",
        &doc[..start],
        coverage_table(),
        &doc[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_abi_operation_has_a_procedure_or_is_marked_local_only() {
        let mut missing = Vec::new();
        for op in Op::ALL {
            let served = procedure_for(op).is_some();
            let local = LOCAL_ONLY.iter().any(|(o, _)| *o == op);
            if served == local {
                missing.push(format!(
                    "{} ({}): {}",
                    op.info().api,
                    op.info().field,
                    if served {
                        "has a procedure and is marked local only"
                    } else {
                        "has neither a REMOTE procedure nor a LOCAL_ONLY line"
                    }
                ));
            }
        }
        assert!(
            missing.is_empty(),
            "crates/virtkit-rpc/src/procedures.rs:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn numbers_and_names_are_unique_and_round_trip() {
        for (i, p) in PROCEDURES.iter().enumerate() {
            assert_eq!(Procedure::from_number(p.number), Some(p.procedure));
            assert_eq!(p.procedure.number(), p.number);
            assert_eq!(p.procedure.info(), p);
            for q in &PROCEDURES[i + 1..] {
                assert_ne!(p.number, q.number, "{} and {}", p.name, q.name);
                assert_ne!(p.name, q.name);
            }
        }
        assert_eq!(Procedure::from_number(9999), None);
    }

    /// The first procedure of each operation is the one named after its libvirt API: the list's
    /// names and the ABI's API names agree (`virDomainGetInfo` ↔ `DOMAIN_GET_INFO`).
    #[test]
    fn each_operation_is_served_by_the_procedure_named_after_its_api() {
        for op in Op::ALL {
            let Some(p) = procedure_for(op) else {
                continue;
            };
            let expected = remote_name(op.info().api);
            assert_eq!(p.name, expected, "{}", op.info().api);
        }
    }

    /// libvirt's naming rule from an API name: `virConnectListDomains` → `CONNECT_LIST_DOMAINS`,
    /// `virDomainGetXMLDesc` → `DOMAIN_GET_XML_DESC`, `virNodeGetInfo` → `NODE_GET_INFO`.
    fn remote_name(api: &str) -> String {
        let s = api.strip_prefix("vir").unwrap_or(api);
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower) {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn the_naming_rule_reads_libvirt_names() {
        assert_eq!(remote_name("virDomainGetXMLDesc"), "DOMAIN_GET_XML_DESC");
        assert_eq!(
            remote_name("virDomainLookupByUUID"),
            "DOMAIN_LOOKUP_BY_UUID"
        );
        assert_eq!(remote_name("virConnectGetType"), "CONNECT_GET_TYPE");
        assert_eq!(
            remote_name("virConnectDomainXMLFromNative"),
            "CONNECT_DOMAIN_XML_FROM_NATIVE"
        );
    }
}
