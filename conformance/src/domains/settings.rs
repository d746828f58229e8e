//! Phase 2, settings of the shut-off domain: persistence, managed save, OS type, memory, vCPUs,
//! autostart and security label read back what the definition and the setters said.

use virtkit::{ErrorCode, Op};
use virtkit_xml::OS_TYPES;

use super::{LifeDomain, life};
use crate::guest::MEMORY_KIB;
use crate::suite::{Ctx, ensure, ok};

pub(super) fn checks(ctx: &mut Ctx, _subject: &LifeDomain) {
    ctx.check(
        "lifecycle/persistent",
        &[Op::DomainDefineXml, Op::DomainIsPersistent],
        |c| {
            let d = life(c)?;
            ensure!(
                ok("virDomainIsPersistent", d.is_persistent())?,
                "a defined domain is not persistent"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/managed-save",
        &[Op::DomainDefineXml, Op::DomainHasManagedSaveImage],
        |c| {
            let d = life(c)?;
            ensure!(
                !ok("virDomainHasManagedSaveImage", d.has_managed_save_image())?,
                "a new domain has a managed save image"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/os-type",
        &[Op::DomainDefineXml, Op::DomainGetOsType],
        |c| {
            let d = life(c)?;
            let t = ok("virDomainGetOSType", d.os_type())?;
            ensure!(
                OS_TYPES.contains(&t.as_str()),
                "OS type {t:?} is not one of {}",
                OS_TYPES.join(", ")
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/max-memory",
        &[Op::DomainDefineXml, Op::DomainGetMaxMemory],
        |c| {
            let d = life(c)?;
            let m = ok("virDomainGetMaxMemory", d.max_memory())?;
            ensure!(
                m == MEMORY_KIB,
                "virDomainGetMaxMemory says {m} KiB, the definition {MEMORY_KIB} KiB"
            );
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/set-max-memory",
        &[Op::DomainDefineXml, Op::DomainSetMaxMemory],
        |c| {
            let d = life(c)?;
            match d.set_max_memory(MEMORY_KIB * 2) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetMaxMemory", r)?,
            }
            if c.has(Op::DomainGetMaxMemory) {
                let m = ok("virDomainGetMaxMemory", d.max_memory())?;
                ensure!(
                    m == MEMORY_KIB * 2,
                    "after setting {} KiB, virDomainGetMaxMemory says {m}",
                    MEMORY_KIB * 2
                );
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.max_mem_kib == MEMORY_KIB * 2,
                    "after setting {} KiB, virDomainGetInfo says {}",
                    MEMORY_KIB * 2,
                    i.max_mem_kib
                );
            }
            ok(
                "setting the maximum memory back",
                d.set_max_memory(MEMORY_KIB),
            )
        },
    );
    ctx.check(
        "lifecycle/set-memory",
        &[Op::DomainDefineXml, Op::DomainSetMemory],
        |c| {
            let d = life(c)?;
            match d.set_memory(MEMORY_KIB / 2) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetMemory", r)?,
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.memory_kib == MEMORY_KIB / 2,
                    "after setting {} KiB, virDomainGetInfo says {}",
                    MEMORY_KIB / 2,
                    i.memory_kib
                );
            }
            ok("setting the memory back", d.set_memory(MEMORY_KIB))
        },
    );
    ctx.check(
        "lifecycle/set-vcpus",
        &[Op::DomainDefineXml, Op::DomainSetVcpus],
        |c| {
            let d = life(c)?;
            let g = c.guest()?;
            match d.set_vcpus(1) {
                Err(e) if e.code == ErrorCode::OperationInvalid => return Ok(()),
                r => ok("virDomainSetVcpus", r)?,
            }
            if c.has(Op::DomainGetInfo) {
                let i = ok("virDomainGetInfo", d.info())?;
                ensure!(
                    i.nr_virt_cpu == 1,
                    "after setting 1 vCPU, virDomainGetInfo says {}",
                    i.nr_virt_cpu
                );
            }
            ok("setting the vCPUs back", d.set_vcpus(g.vcpus))
        },
    );
    ctx.check(
        "lifecycle/autostart",
        &[
            Op::DomainDefineXml,
            Op::DomainGetAutostart,
            Op::DomainSetAutostart,
        ],
        |c| {
            let d = life(c)?;
            for on in [true, false] {
                ok(format!("virDomainSetAutostart({on})"), d.set_autostart(on))?;
                let got = ok("virDomainGetAutostart", d.autostart())?;
                ensure!(got == on, "autostart set to {on} reads back as {got}");
            }
            Ok(())
        },
    );
    ctx.check(
        "lifecycle/security-label",
        &[Op::DomainDefineXml, Op::DomainGetSecurityLabel],
        |c| {
            let d = life(c)?;
            ok("virDomainGetSecurityLabel", d.security_label())?;
            Ok(())
        },
    );
}
