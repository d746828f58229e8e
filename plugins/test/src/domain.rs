//! The test driver's domain operations, with libvirt's state rules.

use uuid::Uuid;
use virtkit_driver::{
    Affect, DomainIdent, DomainInfo, DomainRef, DomainState, Error, ErrorCode, Result, Taints,
    VK_DOMAIN_AFFECT_CONFIG, VK_DOMAIN_AFFECT_LIVE, VK_DOMAIN_MEM_MAXIMUM,
    VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING, VK_DOMAIN_XML_INACTIVE,
    VK_DOMAIN_XML_SECURE, VcpuInfo, VcpuState, check_flags,
};
use virtkit_xml::{Device, DomainDef, FormatOptions, LifecycleAction};

use crate::node::{Dom, LIBVIRT_MAC_PREFIX, Node, TestConn, full_cpumap, now_ns, reason};

/// Magic at the start of files written by save and core dump (libvirt's test driver uses the
/// same idea: a marker, then the domain XML).
const SAVE_MAGIC: &str = "TestGuestMagic\n";

/// The test driver's vCPU limit, as libvirt's.
const MAX_VCPUS: i32 = 32;

/// Finds the domain a call names (by UUID, as drivers should).
fn dom_index(node: &Node, r: &DomainRef<'_>) -> Result<usize> {
    node.find_uuid(&r.uuid).ok_or_else(|| {
        Error::no_domain(format!(
            "no domain with matching uuid '{}' ({})",
            r.uuid, r.name
        ))
    })
}

fn parse_domain(xml: &str) -> Result<DomainDef> {
    DomainDef::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))
}

/// A definition given to define or create: as libvirt's test driver, interface names a hypervisor
/// generated are forgotten and every unnamed interface gets the first free `testnetN`.
fn new_domain(xml: &str) -> Result<DomainDef> {
    let mut def = parse_domain(xml)?;
    def.forget_live_state();
    def.name_interfaces("testnet");
    def.assign_macs(LIBVIRT_MAC_PREFIX);
    Ok(def)
}

/// Refuses a definition whose name or UUID clashes with another domain; returns the index of the
/// domain it redefines, if any.
fn check_clash(node: &Node, def: &DomainDef) -> Result<Option<usize>> {
    if let Some(i) = node.find_name(&def.name) {
        let d = &node.domains[i];
        if d.def.uuid != def.uuid {
            return Err(Error::dom_exist(format!(
                "domain '{}' already exists with uuid {}",
                def.name, d.def.uuid
            )));
        }
        return Ok(Some(i));
    }
    if let Some(i) = node.find_uuid(&def.uuid) {
        return Err(Error::dom_exist(format!(
            "domain '{}' is already defined with uuid {}",
            node.domains[i].def.name, def.uuid
        )));
    }
    Ok(None)
}

fn not_running(d: &Dom) -> Error {
    Error::operation_invalid(format!("domain '{}' is not running", d.def.name))
}

/// Stops a domain for `why` (a shut-off [`reason`]): transient domains disappear, persistent
/// ones become inactive.
fn stop(node: &mut Node, i: usize, why: i32) {
    node.stop_dom(i, why);
    if !node.domains[i].persistent {
        node.remove_dom(i);
    }
}

pub(crate) fn get_max_vcpus(_: &TestConn, _ty: &str) -> Result<i32> {
    Ok(MAX_VCPUS)
}

pub(crate) fn list_domains(c: &TestConn, out: &mut dyn FnMut(i32)) -> Result<()> {
    c.lock().active_ids().for_each(out);
    Ok(())
}

pub(crate) fn num_of_domains(c: &TestConn) -> Result<i32> {
    Ok(c.lock().num_active() as i32)
}

pub(crate) fn list_defined_domains(c: &TestConn, out: &mut dyn FnMut(&str)) -> Result<()> {
    c.lock().inactive_names().for_each(out);
    Ok(())
}

pub(crate) fn num_of_defined_domains(c: &TestConn) -> Result<i32> {
    Ok(c.lock().num_inactive() as i32)
}

pub(crate) fn lookup_by_id(
    c: &TestConn,
    id: i32,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let node = c.lock();
    let i = node
        .find_id(id)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching id {id}")))?;
    out(node.ident(i));
    Ok(())
}

pub(crate) fn lookup_by_uuid(
    c: &TestConn,
    uuid: &Uuid,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let node = c.lock();
    let i = node
        .find_uuid(uuid)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    out(node.ident(i));
    Ok(())
}

pub(crate) fn lookup_by_name(
    c: &TestConn,
    name: &str,
    out: &mut dyn FnMut(DomainRef<'_>),
) -> Result<()> {
    let node = c.lock();
    let i = node
        .find_name(name)
        .ok_or_else(|| Error::no_domain(format!("no domain with matching name '{name}'")))?;
    out(node.ident(i));
    Ok(())
}

pub(crate) fn create_xml(c: &TestConn, xml: &str, flags: u32) -> Result<DomainIdent> {
    // libvirt's test driver starts no domain paused either.
    check_flags(flags, 0, "testDomainCreateXML")?;
    let def = new_domain(xml)?;
    let mut node = c.lock();
    if let Some(i) = check_clash(&node, &def)? {
        if node.domains[i].active() {
            return Err(Error::operation_invalid(format!(
                "domain '{}' is already active",
                def.name
            )));
        }
        // Starting a transient copy of an inactive persistent domain: replace its live state
        // (the domain object, and its taints, stay).
        let taints = node.remove_dom(i).taints;
        let j = node.add_running(def, true, reason::BOOTED);
        node.domains[j].taints = taints;
        return Ok(node.ident(j).into());
    }
    let i = node.add_running(def, false, reason::BOOTED);
    Ok(node.ident(i).into())
}

pub(crate) fn define_xml(c: &TestConn, xml: &str) -> Result<DomainIdent> {
    let mut def = new_domain(xml)?;
    let mut node = c.lock();
    match check_clash(&node, &def)? {
        Some(i) => {
            // Same name and UUID (check_clash made sure): the identity stays as it is.
            let d = &mut node.domains[i];
            def.id = d.def.id;
            d.def = def;
            d.persistent = true;
            Ok(node.ident(i).into())
        }
        None => {
            let i = node.push_dom(def, true);
            Ok(node.ident(i).into())
        }
    }
}

pub(crate) fn undefine(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if node.domains[i].active() {
        node.domains[i].persistent = false;
    } else {
        node.remove_dom(i);
    }
    Ok(())
}

pub(crate) fn start(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if node.domains[i].active() {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is already running",
            r.name
        )));
    }
    node.start_dom(i, reason::BOOTED);
    Ok(())
}

pub(crate) fn shutdown(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if !node.domains[i].active() {
        return Err(not_running(&node.domains[i]));
    }
    stop(&mut node, i, reason::SHUTDOWN);
    Ok(())
}

pub(crate) fn reboot(c: &TestConn, r: &DomainRef<'_>, _flags: u32) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if !node.domains[i].active() {
        return Err(not_running(&node.domains[i]));
    }
    // The guest goes down and comes back up: what happens next is the domain's on_reboot action.
    if node.domains[i].def.on_reboot == LifecycleAction::Destroy {
        stop(&mut node, i, reason::SHUTDOWN);
    } else {
        node.domains[i].state = DomainState::Running;
        node.domains[i].reason = reason::BOOTED;
    }
    Ok(())
}

pub(crate) fn destroy(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if !node.domains[i].active() {
        return Err(not_running(&node.domains[i]));
    }
    stop(&mut node, i, reason::DESTROYED);
    Ok(())
}

pub(crate) fn suspend(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    if d.state != DomainState::Running {
        return Err(not_running(d));
    }
    d.state = DomainState::Paused;
    d.reason = reason::PAUSED_USER;
    Ok(())
}

pub(crate) fn resume(c: &TestConn, r: &DomainRef<'_>) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    if d.state != DomainState::Paused {
        return Err(Error::operation_invalid(format!(
            "domain '{}' is not paused",
            d.def.name
        )));
    }
    d.state = DomainState::Running;
    d.reason = reason::UNPAUSED;
    Ok(())
}

/// The largest save image read back (a definition under the XML input cap, and the magic).
const MAX_IMAGE: u64 = 10 << 20;

fn file_error(e: virtkit_hostio::Error) -> Error {
    match &e {
        virtkit_hostio::Error::Io { source, .. } => Error::system(e.to_string(), source),
        _ => Error::operation_failed(e.to_string()),
    }
}

/// Writes a save image or core dump for the user: only onto a regular file or a new name, in a
/// directory owned by this user or root and not writable by others (or a root-owned sticky
/// directory such as `/tmp`), through a temp file renamed once complete (a failure leaves the
/// old file).
fn write_image(path: &str, d: &Dom) -> Result<()> {
    let xml = d.def.to_xml(
        &FormatOptions::default()
            .with_inactive(true)
            .with_secure(true),
    );
    let path =
        std::path::absolute(path).map_err(|e| Error::system(format!("bad path '{path}'"), &e))?;
    virtkit_hostio::check_destination(&path).map_err(file_error)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("/"));
    virtkit_hostio::check_destination_dir(dir).map_err(file_error)?;
    virtkit_hostio::write_atomic(&path, format!("{SAVE_MAGIC}{xml}").as_bytes(), 0o600)
        .map_err(file_error)
}

pub(crate) fn save(c: &TestConn, r: &DomainRef<'_>, path: &str) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if !node.domains[i].active() {
        return Err(not_running(&node.domains[i]));
    }
    write_image(path, &node.domains[i])?;
    stop(&mut node, i, reason::SAVED);
    Ok(())
}

pub(crate) fn restore(c: &TestConn, path: &str) -> Result<()> {
    let text = virtkit_hostio::read_string_capped(std::path::Path::new(path), MAX_IMAGE)
        .map_err(file_error)?;
    let xml = text
        .strip_prefix(SAVE_MAGIC)
        .ok_or_else(|| Error::invalid_arg(format!("'{path}' is not a saved test domain image")))?;
    let def = parse_domain(xml)?;
    let mut node = c.lock();
    let (persistent, taints) = match check_clash(&node, &def)? {
        Some(i) if node.domains[i].active() => {
            return Err(Error::operation_invalid(format!(
                "domain '{}' is already active",
                def.name
            )));
        }
        // The inactive domain object is reused, with its taints.
        Some(i) => (true, node.remove_dom(i).taints),
        None => (false, Taints::new()),
    };
    let i = node.add_running(def, persistent, reason::RESTORED);
    node.domains[i].taints = taints;
    Ok(())
}

pub(crate) fn core_dump(c: &TestConn, r: &DomainRef<'_>, path: &str, _flags: u32) -> Result<()> {
    let node = c.lock();
    let i = dom_index(&node, r)?;
    if !node.domains[i].active() {
        return Err(not_running(&node.domains[i]));
    }
    write_image(path, &node.domains[i])
}

pub(crate) fn get_info(c: &TestConn, r: &DomainRef<'_>) -> Result<DomainInfo> {
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    Ok(DomainInfo {
        state: d.state,
        max_mem_kib: d.def.memory_kib,
        memory_kib: d.def.current_memory_kib,
        nr_virt_cpu: d.def.vcpus,
        cpu_time_ns: now_ns(),
    })
}

pub(crate) fn get_xml_desc(c: &TestConn, r: &DomainRef<'_>, flags: u32) -> Result<String> {
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    let opts = FormatOptions::default()
        .with_inactive(flags & VK_DOMAIN_XML_INACTIVE != 0 || !d.active())
        .with_secure(flags & VK_DOMAIN_XML_SECURE != 0);
    Ok(d.def.to_xml(&opts))
}

pub(crate) fn get_os_type(c: &TestConn, r: &DomainRef<'_>) -> Result<String> {
    let node = c.lock();
    dom_index(&node, r)?;
    // libvirt's test driver answers "linux" for every domain.
    Ok("linux".into())
}

pub(crate) fn get_max_memory(c: &TestConn, r: &DomainRef<'_>) -> Result<u64> {
    let node = c.lock();
    Ok(node.domains[dom_index(&node, r)?].def.memory_kib)
}

pub(crate) fn set_max_memory(c: &TestConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    d.def.memory_kib = kib;
    if d.def.current_memory_kib > kib {
        d.def.current_memory_kib = kib;
    }
    Ok(())
}

pub(crate) fn set_memory(c: &TestConn, r: &DomainRef<'_>, kib: u64) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    if kib > d.def.memory_kib {
        return Err(Error::invalid_arg(
            "cannot set memory higher than max memory",
        ));
    }
    d.def.current_memory_kib = kib;
    Ok(())
}

/// virDomainSetMemoryFlags. The test driver keeps one definition per domain, so the live guest
/// and the persistent definition change together; the flags still say which may change, with
/// libvirt's rules (a maximum cannot change on a running domain).
pub(crate) fn set_memory_flags(
    c: &TestConn,
    r: &DomainRef<'_>,
    kib: u64,
    flags: u32,
) -> Result<()> {
    check_flags(
        flags,
        VK_DOMAIN_AFFECT_LIVE | VK_DOMAIN_AFFECT_CONFIG | VK_DOMAIN_MEM_MAXIMUM,
        "testDomainSetMemoryFlags",
    )?;
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    let affect = Affect::resolve(flags, d.active(), d.persistent)?;
    if flags & VK_DOMAIN_MEM_MAXIMUM != 0 {
        if affect.live {
            return Err(Error::operation_invalid(
                "cannot resize the maximum memory on an active domain",
            ));
        }
        d.def.memory_kib = kib;
        d.def.current_memory_kib = d.def.current_memory_kib.min(kib);
    } else {
        if kib > d.def.memory_kib {
            return Err(Error::invalid_arg(
                "cannot set memory higher than max memory",
            ));
        }
        d.def.current_memory_kib = kib;
    }
    Ok(())
}

pub(crate) fn set_vcpus(c: &TestConn, r: &DomainRef<'_>, n: u32) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    if n > MAX_VCPUS.unsigned_abs() {
        return Err(Error::invalid_arg(format!(
            "requested vcpus {n} is greater than the maximum {MAX_VCPUS}"
        )));
    }
    let d = &mut node.domains[i];
    d.def.vcpus = n;
    d.pins.truncate(n as usize);
    Ok(())
}

pub(crate) fn pin_vcpu(c: &TestConn, r: &DomainRef<'_>, vcpu: u32, map: &[u8]) -> Result<()> {
    let mut node = c.lock();
    let host_cpus = node.info.cpus;
    let cpus = host_cpus as usize;
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    if !d.active() {
        return Err(not_running(d));
    }
    if vcpu >= d.def.vcpus {
        return Err(Error::invalid_arg(format!(
            "requested vcpu {vcpu} is not less than the number of vcpus {}",
            d.def.vcpus
        )));
    }
    let mut pinned = vec![0u8; cpus.max(1).div_ceil(8)];
    for cpu in 0..cpus {
        if map.get(cpu / 8).is_some_and(|b| b & (1 << (cpu % 8)) != 0) {
            pinned[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    if pinned.iter().all(|b| *b == 0) {
        return Err(Error::invalid_arg("the CPU map selects no host CPU"));
    }
    let v = vcpu as usize;
    if d.pins.len() <= v {
        d.pins.resize(v + 1, full_cpumap(host_cpus));
    }
    d.pins[v] = pinned;
    Ok(())
}

pub(crate) fn get_vcpus(c: &TestConn, r: &DomainRef<'_>) -> Result<Vec<VcpuInfo>> {
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    if !d.active() {
        return Err(Error::operation_invalid(format!(
            "cannot list vcpus for an inactive domain '{}'",
            d.def.name
        )));
    }
    let now = now_ns();
    Ok((0..d.def.vcpus)
        .map(|v| {
            let map = d
                .pins
                .get(v as usize)
                .cloned()
                .unwrap_or_else(|| full_cpumap(node.info.cpus));
            // The vCPU runs on the first host CPU its affinity allows.
            let cpu = (0..node.info.cpus as usize)
                .find(|c| map.get(c / 8).is_some_and(|b| b & (1 << (c % 8)) != 0))
                .map(|c| c as i32)
                .unwrap_or(-1);
            VcpuInfo {
                number: v,
                state: VcpuState::Running,
                cpu_time_ns: now / u64::from(d.def.vcpus.max(1)),
                cpu,
                cpumap: map,
            }
        })
        .collect())
}

pub(crate) fn get_autostart(c: &TestConn, r: &DomainRef<'_>) -> Result<bool> {
    let node = c.lock();
    Ok(node.domains[dom_index(&node, r)?].autostart)
}

pub(crate) fn set_autostart(c: &TestConn, r: &DomainRef<'_>, on: bool) -> Result<()> {
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    let d = &mut node.domains[i];
    if !d.persistent {
        return Err(Error::operation_invalid(
            "cannot set autostart for transient domain",
        ));
    }
    d.autostart = on;
    Ok(())
}

pub(crate) fn attach_device(c: &TestConn, r: &DomainRef<'_>, xml: &str) -> Result<()> {
    let dev = Device::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))?;
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    node.domains[i]
        .def
        .attach_device(dev)
        .map_err(|e| Error::operation_invalid(e.to_string()))
}

pub(crate) fn detach_device(c: &TestConn, r: &DomainRef<'_>, xml: &str) -> Result<()> {
    let dev = Device::parse(xml).map_err(|e| Error::new(ErrorCode::XmlError, e.to_string()))?;
    let mut node = c.lock();
    let i = dom_index(&node, r)?;
    node.domains[i]
        .def
        .detach_device(&dev)
        .map(|_| ())
        .map_err(|e| Error::operation_invalid(e.to_string()))
}

pub(crate) fn is_persistent(c: &TestConn, r: &DomainRef<'_>) -> Result<bool> {
    let node = c.lock();
    Ok(node.domains[dom_index(&node, r)?].persistent)
}

pub(crate) fn has_managed_save_image(c: &TestConn, r: &DomainRef<'_>, _flags: u32) -> Result<bool> {
    let node = c.lock();
    dom_index(&node, r)?;
    Ok(false)
}

pub(crate) fn security_label(c: &TestConn, r: &DomainRef<'_>) -> Result<(String, bool)> {
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    // Labels exist only while a domain runs, as with libvirt's test security driver.
    Ok(if d.active() {
        ("libvirt-test".into(), true)
    } else {
        (String::new(), false)
    })
}

pub(crate) fn get_state(c: &TestConn, r: &DomainRef<'_>) -> Result<(DomainState, i32)> {
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    Ok((d.state, d.reason))
}

/// virDomainGetMessages: the taints and deprecations of the domain object.
pub(crate) fn get_messages(
    c: &TestConn,
    r: &DomainRef<'_>,
    flags: u32,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    const FUNCTION: &str = "testDomainGetMessages";
    check_flags(
        flags,
        VK_DOMAIN_MESSAGE_DEPRECATION | VK_DOMAIN_MESSAGE_TAINTING,
        FUNCTION,
    )?;
    let node = c.lock();
    let d = &node.domains[dom_index(&node, r)?];
    d.taints
        .messages(flags, FUNCTION)?
        .iter()
        .for_each(|m| out(m));
    Ok(())
}
