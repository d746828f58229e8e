//! A toy hypervisor as a virtkit driver, built outside the virtkit workspace.
//!
//! It serves `toyhv:///default` (and `toyhv:///`): guests that live in this process's memory, shared by every
//! connection, starting with one running domain, `toy1`. Domains are defined from XML, started,
//! paused, resumed, destroyed and undefined with libvirt's state rules. Every operation not in
//! [`OPS`] is a NULL slot: virtkit answers "not supported" for it.
//!
//! The toy is a hypervisor of its own kind: its guests are `<domain type='toyhv'>`. It declares
//! the type in its capabilities (`<guest><arch><domain type='toyhv'/>`), which is how the core
//! knows to accept such documents on its connections and how the conformance suite knows what to
//! define.
#![forbid(unsafe_code)]

use std::sync::{Mutex, MutexGuard, OnceLock};

use virtkit_abi::VK_DRIVER_THREAD_SAFE;
use virtkit_driver::{
    DomainIdent, DomainInfo, DomainRef, DomainState, Driver, DriverInfo, Error, ErrorCode, Ops,
    Result, Uri, Uuid,
};
use virtkit_xml::{
    Capabilities, CapsDomain, CapsGuest, CapsGuestArch, CapsHost, CapsHostCpu, DomainDef,
    FormatOptions,
};

/// The URI the toy serves (`toyhv:///` is the same node).
const URI: &str = "toyhv:///default";
/// The domain type of the toy's guests, declared in its capabilities.
const DOMAIN_TYPE: &str = "toyhv";
/// The toy's `toy1`, running when the driver starts.
const TOY1: &str = "<domain type='toyhv'>
  <name>toy1</name>
  <uuid>9a1b7c4e-2f3d-4e5a-8b6c-0d1e2f3a4b5c</uuid>
  <memory unit='KiB'>524288</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>";

/// One guest.
struct Guest {
    def: DomainDef,
    /// Id while active, -1 when shut off.
    id: i32,
    state: DomainState,
    persistent: bool,
}

impl Guest {
    fn active(&self) -> bool {
        self.id >= 0
    }

    /// The guest's identity, borrowed (what lookups answer).
    fn dom_ref(&self) -> DomainRef<'_> {
        DomainRef {
            id: self.id,
            uuid: self.def.uuid,
            name: &self.def.name,
        }
    }

    /// The guest's identity, owned (what define returns).
    fn ident(&self) -> DomainIdent {
        self.dom_ref().into()
    }
}

/// The whole hypervisor.
struct Hypervisor {
    guests: Vec<Guest>,
    next_id: i32,
}

fn hypervisor() -> MutexGuard<'static, Hypervisor> {
    static HV: OnceLock<Mutex<Hypervisor>> = OnceLock::new();
    HV.get_or_init(|| {
        let mut def = DomainDef::parse(TOY1).expect("the built-in domain is valid");
        def.id = Some(1);
        Mutex::new(Hypervisor {
            guests: vec![Guest {
                def,
                id: 1,
                state: DomainState::Running,
                persistent: true,
            }],
            next_id: 2,
        })
    })
    .lock()
    .unwrap_or_else(|p| p.into_inner())
}

impl Hypervisor {
    /// The guest a call names, keyed on its UUID.
    fn find(&mut self, r: &DomainRef<'_>) -> Result<&mut Guest> {
        self.guests
            .iter_mut()
            .find(|g| g.def.uuid == r.uuid)
            .ok_or_else(|| {
                Error::no_domain(format!(
                    "no domain with matching uuid '{}' ({})",
                    r.uuid, r.name
                ))
            })
    }
}

/// A connection holds nothing: every connection shares the one hypervisor.
pub struct ToyConn;

/// The toy driver.
pub struct Toy;

fn get_type(_: &ToyConn) -> Result<String> {
    Ok("TOYHV".into())
}

fn get_version(_: &ToyConn) -> Result<u64> {
    Ok(1_000)
}

fn get_capabilities(_: &ToyConn) -> Result<String> {
    let caps = Capabilities {
        host: CapsHost {
            cpu: CapsHostCpu {
                arch: "x86_64".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        guests: vec![CapsGuest {
            os_type: "hvm".into(),
            arch: CapsGuestArch {
                name: "x86_64".into(),
                wordsize: Some(64),
                domains: vec![CapsDomain {
                    domain_type: DOMAIN_TYPE.into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            features: Vec::new(),
        }],
    };
    Ok(caps.to_xml())
}

// Lists and lookups answer through `out`, with values borrowed from the hypervisor while its
// lock is held: the host copies each one before `out` returns.

fn list_domains(_: &ToyConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    let hv = hypervisor();
    hv.guests
        .iter()
        .filter(|g| g.active())
        .for_each(|g| out(g.id));
    Ok(())
}

fn num_of_domains(_: &ToyConn) -> Result<i32> {
    Ok(hypervisor().guests.iter().filter(|g| g.active()).count() as i32)
}

fn list_defined_domains(_: &ToyConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    let hv = hypervisor();
    hv.guests
        .iter()
        .filter(|g| !g.active())
        .for_each(|g| out(&g.def.name));
    Ok(())
}

fn num_of_defined_domains(_: &ToyConn) -> Result<i32> {
    Ok(hypervisor().guests.iter().filter(|g| !g.active()).count() as i32)
}

fn lookup_by_id(_: &ToyConn, id: i32, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let hv = hypervisor();
    let g = hv
        .guests
        .iter()
        .find(|g| g.active() && g.id == id)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching id {id}")))?;
    out(g.dom_ref());
    Ok(())
}

fn lookup_by_uuid(_: &ToyConn, uuid: &Uuid, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let hv = hypervisor();
    let g = hv
        .guests
        .iter()
        .find(|g| g.def.uuid == *uuid)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    out(g.dom_ref());
    Ok(())
}

fn lookup_by_name(_: &ToyConn, name: &str, out: &mut dyn FnMut(DomainRef<'_>)) -> Result<()> {
    let hv = hypervisor();
    let g = hv
        .guests
        .iter()
        .find(|g| g.def.name == name)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching name '{name}'")))?;
    out(g.dom_ref());
    Ok(())
}

fn define_xml(_: &ToyConn, xml: &str) -> Result<DomainIdent> {
    // virtkit-xml's errors already read "XML error at line ..": no second prefix.
    let mut def =
        DomainDef::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))?;
    if def.domain_type != DOMAIN_TYPE {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            format!(
                "unsupported configuration: the toy runs '{DOMAIN_TYPE}' guests, not '{}'",
                def.domain_type
            ),
        ));
    }
    let mut hv = hypervisor();
    if let Some(g) = hv
        .guests
        .iter()
        .find(|g| g.def.uuid == def.uuid && g.def.name != def.name)
    {
        return Err(Error::dom_exist(format!(
            "domain '{}' already has uuid {}",
            g.def.name, def.uuid
        )));
    }
    match hv.guests.iter_mut().find(|g| g.def.name == def.name) {
        Some(g) if g.def.uuid != def.uuid => Err(Error::dom_exist(format!(
            "domain '{}' already exists with uuid {}",
            g.def.name, g.def.uuid
        ))),
        // A redefinition: the toy keeps one configuration, applied at once.
        Some(g) => {
            def.id = g.def.id;
            g.def = def;
            g.persistent = true;
            Ok(g.ident())
        }
        None => {
            def.id = None;
            let g = Guest {
                def,
                id: -1,
                state: DomainState::Shutoff,
                persistent: true,
            };
            let ident = g.ident();
            hv.guests.push(g);
            Ok(ident)
        }
    }
}

fn undefine(_: &ToyConn, r: &DomainRef<'_>) -> Result<()> {
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    if g.active() {
        // As in libvirt: a running domain loses its definition and goes when it stops.
        g.persistent = false;
    } else {
        let uuid = g.def.uuid;
        hv.guests.retain(|g| g.def.uuid != uuid);
    }
    Ok(())
}

fn start(_: &ToyConn, r: &DomainRef<'_>) -> Result<()> {
    let mut hv = hypervisor();
    let id = hv.next_id;
    let g = hv.find(r)?;
    if g.active() {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already running",
            g.def.name
        )));
    }
    g.id = id;
    g.def.id = Some(id);
    g.state = DomainState::Running;
    hv.next_id += 1;
    Ok(())
}

fn destroy(_: &ToyConn, r: &DomainRef<'_>) -> Result<()> {
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    if !g.active() {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not running",
            g.def.name
        )));
    }
    g.id = -1;
    g.def.id = None;
    g.state = DomainState::Shutoff;
    if !g.persistent {
        let uuid = g.def.uuid;
        hv.guests.retain(|g| g.def.uuid != uuid);
    }
    Ok(())
}

fn suspend(_: &ToyConn, r: &DomainRef<'_>) -> Result<()> {
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    if g.state != DomainState::Running {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not running",
            g.def.name
        )));
    }
    g.state = DomainState::Paused;
    Ok(())
}

fn resume(_: &ToyConn, r: &DomainRef<'_>) -> Result<()> {
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    if g.state != DomainState::Paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not paused",
            g.def.name
        )));
    }
    g.state = DomainState::Running;
    Ok(())
}

fn get_info(_: &ToyConn, r: &DomainRef<'_>) -> Result<DomainInfo> {
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    Ok(DomainInfo {
        state: g.state,
        max_mem_kib: g.def.memory_kib,
        memory_kib: g.def.current_memory_kib,
        nr_virt_cpu: g.def.vcpus,
        cpu_time_ns: 0,
    })
}

fn get_xml_desc(_: &ToyConn, r: &DomainRef<'_>, flags: u32) -> Result<String> {
    /// libvirt's `VIR_DOMAIN_XML_INACTIVE` (to become the SDK's constant, issue 16).
    const XML_INACTIVE: u32 = 2;
    let mut hv = hypervisor();
    let g = hv.find(r)?;
    let inactive = flags & XML_INACTIVE != 0 || !g.active();
    Ok(g.def
        .to_xml(&FormatOptions::default().with_inactive(inactive)))
}

fn get_state(_: &ToyConn, r: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    Ok((hypervisor().find(r)?.state, 0))
}

fn is_persistent(_: &ToyConn, r: &DomainRef<'_>) -> Result<bool> {
    Ok(hypervisor().find(r)?.persistent)
}

/// What the toy implements; everything else is a NULL slot.
pub const OPS: Ops<ToyConn> = Ops {
    get_type: Some(get_type),
    get_version: Some(get_version),
    get_capabilities: Some(get_capabilities),
    list_domains: Some(list_domains),
    num_of_domains: Some(num_of_domains),
    list_defined_domains: Some(list_defined_domains),
    num_of_defined_domains: Some(num_of_defined_domains),
    domain_lookup_by_id: Some(lookup_by_id),
    domain_lookup_by_uuid: Some(lookup_by_uuid),
    domain_lookup_by_name: Some(lookup_by_name),
    domain_define_xml: Some(define_xml),
    domain_undefine: Some(undefine),
    domain_create: Some(start),
    domain_destroy: Some(destroy),
    domain_suspend: Some(suspend),
    domain_resume: Some(resume),
    domain_get_info: Some(get_info),
    domain_get_xml_desc: Some(get_xml_desc),
    domain_get_state: Some(get_state),
    domain_is_persistent: Some(is_persistent),
    ..Ops::NONE
};

impl Driver for Toy {
    type Conn = ToyConn;
    const INFO: DriverInfo = DriverInfo {
        flags: VK_DRIVER_THREAD_SAFE,
        // The hypervisor lives in the memory of the process that loads the plugin: the suite's
        // process has one of its own, so toy:///default is disposable for it.
        sandbox_uri: URI,
        ..DriverInfo::new("toyhv-rs", env!("CARGO_PKG_VERSION"), &["toyhv"])
    };
    const OPS: Ops<ToyConn> = OPS;

    fn open(uri: &str, _read_only: bool) -> Result<Option<ToyConn>> {
        // The SDK's URI helper: scheme, host, path and query parameters, as the core reads them.
        let uri = Uri::parse(uri)?;
        if uri.scheme != "toyhv" || uri.host.is_some() {
            return Ok(None);
        }
        match uri.path.as_str() {
            "/" | "" | "/default" => Ok(Some(ToyConn)),
            _ => Ok(None),
        }
    }
}

virtkit_driver::export_plugin!(Toy);

#[cfg(test)]
mod tests {
    use super::*;

    fn r(d: &DomainIdent) -> DomainRef<'_> {
        d.into()
    }

    #[test]
    fn a_defined_domain_follows_the_state_rules() {
        let c = Toy::open(URI, false).unwrap().unwrap();
        let xml = "<domain type='toyhv'><name>unit</name><memory>65536</memory><os><type>hvm</type></os></domain>";
        let d = define_xml(&c, xml).unwrap();
        assert_eq!(d.id, -1);
        assert_eq!(
            resume(&c, &r(&d)).unwrap_err().code,
            ErrorCode::OperationInvalid
        );
        start(&c, &r(&d)).unwrap();
        assert_eq!(
            start(&c, &r(&d)).unwrap_err().code,
            ErrorCode::OperationInvalid
        );
        suspend(&c, &r(&d)).unwrap();
        assert_eq!(get_state(&c, &r(&d)).unwrap().0, DomainState::Paused);
        resume(&c, &r(&d)).unwrap();
        destroy(&c, &r(&d)).unwrap();
        let mut defined = Vec::new();
        list_defined_domains(&c, &mut |n| defined.push(n.to_string())).unwrap();
        assert!(defined.contains(&"unit".to_string()), "{defined:?}");
        let mut found = None;
        lookup_by_name(&c, "unit", &mut |g| found = Some(DomainIdent::from(g))).unwrap();
        assert_eq!(found.as_ref(), Some(&d));
        undefine(&c, &r(&d)).unwrap();
        assert_eq!(
            lookup_by_name(&c, "unit", &mut |_| {}).unwrap_err().code,
            ErrorCode::NoDomain
        );
    }

    #[test]
    fn only_its_own_uri_and_domain_type() {
        assert!(Toy::open("toyhv:///other", false).unwrap().is_none());
        assert!(Toy::open("toy:///default", false).unwrap().is_none());
        assert!(Toy::open("toyhv:///", false).unwrap().is_some());
        let c = ToyConn;
        let kvm = "<domain type='kvm'><name>k</name><memory>65536</memory><os><type>hvm</type></os></domain>";
        assert_eq!(
            define_xml(&c, kvm).unwrap_err().code,
            ErrorCode::ConfigUnsupported
        );
        assert_eq!(
            define_xml(&c, "<domain").unwrap_err().code,
            ErrorCode::XmlError
        );
    }
}
