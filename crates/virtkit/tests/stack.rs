//! A stack of three members serving one scheme, linked into this test binary: the core skips
//! the member that does not open (keeping its reason), orders the others by their ranks, passes
//! "no such domain" and "not supported" on, merges defined lists, and offers the union of the
//! members' operations.

use virtkit::{Connect, ErrorCode, Registry};
use virtkit_driver::{
    DomainRef, Driver, DriverInfo, Error, Op, Ops, Result, Uuid, abi, driver_entry,
};

const SCHEME: &str = "stk";

fn dom(id: i32, name: &str, out: &mut dyn FnMut(DomainRef<'_>)) {
    out(DomainRef {
        id,
        uuid: Uuid::from_u128(id as u128),
        name,
    });
}

/// Fails to open: its daemon is not there.
struct Down;
impl Driver for Down {
    type Conn = ();
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_STACK_MEMBER,
        stack_rank: 10,
        ..DriverInfo::new("stk-down", "0.1.0", &[SCHEME])
    };
    const OPS: Ops<()> = Ops {
        get_type: Some(|_| Ok("down".into())),
        ..Ops::NONE
    };
    fn open(_: &str, _: bool) -> Result<Option<()>> {
        Err(Error::new(
            abi::VkErrorCode::NoConnect,
            "cannot connect to the daemon: no socket",
        ))
    }
}

/// Knows `both` (id 1); its lookups come first except by UUID.
struct First;
impl Driver for First {
    type Conn = ();
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_STACK_MEMBER,
        stack_rank: 20,
        op_ranks: &[(Op::DomainLookupByUuid, 40)],
        ..DriverInfo::new("stk-first", "0.1.0", &[SCHEME])
    };
    const OPS: Ops<()> = Ops {
        domain_lookup_by_name: Some(|_, name, out| match name {
            "both" => {
                dom(1, "both", out);
                Ok(())
            }
            _ => Err(Error::no_domain(name.to_string())),
        }),
        domain_lookup_by_uuid: Some(|_, _, out| {
            dom(1, "both", out);
            Ok(())
        }),
        list_defined_domains: Some(|_, out| {
            out("x");
            out("y");
            Ok(())
        }),
        domain_xml_to_native: Some(|_, format, _, _| {
            Err(Error::new(
                abi::VkErrorCode::ConfigUnsupported,
                format!("format {format}"),
            ))
        }),
        ..Ops::NONE
    };
    fn open(_: &str, _: bool) -> Result<Option<()>> {
        Ok(Some(()))
    }
}

/// Knows `both` (as id 2) and `only-second`; the only one with a type.
struct Second;
impl Driver for Second {
    type Conn = ();
    const INFO: DriverInfo = DriverInfo {
        flags: abi::VK_DRIVER_STACK_MEMBER,
        stack_rank: 30,
        ..DriverInfo::new("stk-second", "0.1.0", &[SCHEME])
    };
    const OPS: Ops<()> = Ops {
        get_type: Some(|_| Ok("second".into())),
        domain_lookup_by_name: Some(|_, name, out| match name {
            "both" | "only-second" => {
                dom(2, name, out);
                Ok(())
            }
            _ => Err(Error::no_domain(name.to_string())),
        }),
        domain_lookup_by_uuid: Some(|_, _, out| {
            dom(2, "both", out);
            Ok(())
        }),
        list_defined_domains: Some(|_, out| {
            out("y");
            out("z");
            Ok(())
        }),
        domain_xml_to_native: Some(|_, _, _, _| Ok("(native)".into())),
        ..Ops::NONE
    };
    fn open(_: &str, _: bool) -> Result<Option<()>> {
        Ok(Some(()))
    }
}

driver_entry!(down_entry, Down);
driver_entry!(first_entry, First);
driver_entry!(second_entry, Second);
virtkit::register_static_driver!(down_entry);
virtkit::register_static_driver!(first_entry);
virtkit::register_static_driver!(second_entry);

fn open() -> Connect {
    Connect::open_with(Some("stk:///"), false, &Registry::with_dirs(Vec::new())).unwrap()
}

#[test]
fn a_stack_opens_without_its_down_member_and_says_why() {
    let c = open();
    let serving: Vec<String> = c.drivers().into_iter().map(|d| d.name).collect();
    assert_eq!(serving, ["stk-first", "stk-second"]);
    let skipped = c.skipped_drivers();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].name, "stk-down");
    assert!(skipped[0].reason.contains("no socket"), "{:?}", skipped[0]);
}

#[test]
fn calls_go_by_rank_and_pass_on() {
    let c = open();
    // First success wins, by rank.
    assert_eq!(c.lookup_domain_by_name("both").unwrap().id(), 1);
    // "No such domain" passes on to the next member.
    assert_eq!(c.lookup_domain_by_name("only-second").unwrap().id(), 2);
    // A per-operation rank puts the second member first.
    assert_eq!(
        c.lookup_domain_by_uuid(&uuid::Uuid::from_u128(7))
            .unwrap()
            .id(),
        2
    );
    // Nobody knows it: the last member's answer.
    let e = c.lookup_domain_by_name("nowhere").unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomain);
    // "Unsupported configuration" passes on too.
    assert_eq!(
        c.domain_xml_to_native("fmt", "<domain/>").unwrap(),
        "(native)"
    );
}

#[test]
fn lists_merge_and_operations_are_the_union() {
    let c = open();
    assert_eq!(c.list_defined_domains().unwrap(), ["x", "y", "z"]);
    assert_eq!(c.num_of_defined_domains().unwrap(), 3);
    // Only the second member has a type; the down member's does not count.
    assert_eq!(c.get_type().unwrap(), "second");
    // Nobody implements it: NO_SUPPORT naming the API.
    let e = c.hostname().unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSupport);
    assert!(e.message.contains("virConnectGetHostname"), "{}", e.message);
}
