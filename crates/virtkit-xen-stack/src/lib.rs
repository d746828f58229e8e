//! The order of the Xen stack, written once as data.
//!
//! libvirt 0.4.6 served `xen:///` with one "unified" driver that called four sub-drivers
//! (hypercall, xend, xenstore, xm) in an order fixed per call. virtkit ships each member as its
//! own plugin (`libvirtkit_driver_xen_hypercall.so`, `_xen_xend`, `_xen_store`, `_xen_xm`), and
//! the core knows nothing of Xen: it tries a stack's members by the ranks they declare (see
//! `virtkit_loader::stack_order`). This crate is where those ranks live. Each Xen plugin puts
//! [`Member::stack_rank`] and [`Member::op_ranks`] of its own member into its `DriverInfo`, so
//! the order is the same whichever members a host has installed.
//!
//! The order (docs/xen.md has the table; this crate's tests check it):
//!
//! * ordinary calls: hypercall → xend → xenstore → xm, first success wins;
//! * suspend, resume, destroy, setvcpus: the daemons first, the hypercall last;
//! * lookups: by id hypercall → xend → xenstore; by UUID hypercall → xend → xm; by name xend → xenstore → xm
//!   (which members take part is which members implement the slot);
//! * an inactive domain's XML: xend, then xm when xend does not know the domain (config < 3);
//! * defined domains: the lists of every member are merged (the core's rule for lists).
//!
//! [`Member::ops`] lists the operations each member serves (libvirt 0.4.6's sub-driver's, where
//! the plugin does not say otherwise): the slots its plugin fills. `tests/slots.rs` loads every
//! built Xen plugin and fails when its filled slots or its ranks differ from these declarations,
//! so the order test, which takes the members from here, describes the plugins as built.
#![deny(missing_docs)]
#![no_std]

use virtkit_abi::Op;

/// One member of the Xen stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member {
    /// Hypercalls through `/dev/xen/privcmd` (`xen-hypercall`).
    Hypercall,
    /// The Xen daemon's HTTP interface (`xen-xend`).
    Xend,
    /// The Xen store (`xen-store`).
    Store,
    /// The `/etc/xen` configuration files (`xen-xm`).
    Xm,
}

/// Rank of the hypercall member for the calls where libvirt tried it after the daemons.
const LAST: u32 = 50;

/// The operations for which the daemons are tried before the hypercall (libvirt's unified
/// driver: "try non-hypervisor methods first, then hypervisor direct method as a last resort").
const DAEMONS_FIRST: [(Op, u32); 4] = [
    (Op::DomainSuspend, LAST),
    (Op::DomainResume, LAST),
    (Op::DomainDestroy, LAST),
    (Op::DomainSetVcpus, LAST),
];

impl Member {
    /// Every member, in default stack order.
    pub const ALL: [Member; 4] = [Member::Hypercall, Member::Xend, Member::Store, Member::Xm];

    /// The driver name the member's plugin declares.
    pub const fn driver_name(self) -> &'static str {
        match self {
            Member::Hypercall => "xen-hypercall",
            Member::Xend => "xen-xend",
            Member::Store => "xen-store",
            Member::Xm => "xen-xm",
        }
    }

    /// The member's default rank: ordinary calls go hypercall → xend → xenstore → xm.
    pub const fn stack_rank(self) -> u32 {
        match self {
            Member::Hypercall => 10,
            Member::Xend => 20,
            Member::Store => 30,
            Member::Xm => 40,
        }
    }

    /// The member's per-operation ranks, where they differ from [`Member::stack_rank`].
    pub const fn op_ranks(self) -> &'static [(Op, u32)] {
        match self {
            Member::Hypercall => &DAEMONS_FIRST,
            Member::Xend | Member::Store | Member::Xm => &[],
        }
    }

    /// The member's rank for `op`.
    pub fn rank_for(self, op: Op) -> u32 {
        self.op_ranks()
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(self.stack_rank(), |(_, r)| *r)
    }

    /// The operations the member serves through the stack: exactly the slots its plugin fills
    /// (`tests/slots.rs` checks every built plugin against this list).
    pub const fn ops(self) -> &'static [Op] {
        match self {
            Member::Hypercall => &[
                Op::GetVersion,
                Op::GetMaxVcpus,
                Op::GetCapabilities,
                Op::NodeGetInfo,
                Op::ListDomains,
                Op::NumOfDomains,
                Op::DomainLookupById,
                Op::DomainLookupByUuid,
                Op::DomainSuspend,
                Op::DomainResume,
                Op::DomainDestroy,
                Op::DomainGetOsType,
                Op::DomainGetMaxMemory,
                Op::DomainSetMaxMemory,
                Op::DomainGetInfo,
                Op::DomainSetVcpus,
                Op::DomainPinVcpu,
                Op::DomainGetVcpus,
            ],
            Member::Store => &[
                Op::ListDomains,
                Op::NumOfDomains,
                Op::DomainLookupById,
                Op::DomainLookupByName,
                Op::DomainShutdown,
                Op::DomainReboot,
                Op::DomainGetOsType,
                Op::DomainGetMaxMemory,
                Op::DomainSetMemory,
                Op::DomainGetInfo,
            ],
            // The xm plugin's slots (libvirt 0.4.6's xm driver served these too, and pin,
            // attach and detach, which the plugin leaves to xend; it adds the lists of running
            // domains — none — capabilities, OS type, autostart, persistence, state, and "not
            // running" for the calls that need a running domain).
            Member::Xm => &[
                Op::GetCapabilities,
                Op::ListDomains,
                Op::NumOfDomains,
                Op::ListDefinedDomains,
                Op::NumOfDefinedDomains,
                Op::DomainLookupByUuid,
                Op::DomainLookupByName,
                Op::DomainDefineXml,
                Op::DomainUndefine,
                Op::DomainCreate,
                Op::DomainShutdown,
                Op::DomainReboot,
                Op::DomainDestroy,
                Op::DomainSuspend,
                Op::DomainResume,
                Op::DomainSave,
                Op::DomainCoreDump,
                Op::DomainGetInfo,
                Op::DomainGetXmlDesc,
                Op::DomainGetOsType,
                Op::DomainGetMaxMemory,
                Op::DomainSetMaxMemory,
                Op::DomainSetMemory,
                Op::DomainSetVcpus,
                Op::DomainGetAutostart,
                Op::DomainSetAutostart,
                Op::DomainIsPersistent,
                Op::DomainGetState,
                Op::DomainXmlFromNative,
                Op::DomainXmlToNative,
            ],
            Member::Xend => XEND_OPS,
        }
    }
}

/// What the xend member serves.
const XEND_OPS: &[Op] = &[
    Op::GetType,
    Op::GetVersion,
    Op::GetHostname,
    Op::GetCapabilities,
    Op::NodeGetInfo,
    Op::GetMaxVcpus,
    Op::ListDomains,
    Op::NumOfDomains,
    Op::ListDefinedDomains,
    Op::NumOfDefinedDomains,
    Op::DomainLookupById,
    Op::DomainLookupByUuid,
    Op::DomainLookupByName,
    Op::DomainCreateXml,
    Op::DomainDefineXml,
    Op::DomainUndefine,
    Op::DomainCreate,
    Op::DomainShutdown,
    Op::DomainReboot,
    Op::DomainDestroy,
    Op::DomainSuspend,
    Op::DomainResume,
    Op::DomainSave,
    Op::DomainRestore,
    Op::DomainCoreDump,
    Op::DomainGetInfo,
    Op::DomainGetXmlDesc,
    Op::DomainGetOsType,
    Op::DomainGetMaxMemory,
    Op::DomainSetMaxMemory,
    Op::DomainSetMemory,
    Op::DomainSetVcpus,
    Op::DomainPinVcpu,
    Op::DomainGetVcpus,
    Op::DomainGetAutostart,
    Op::DomainSetAutostart,
    Op::DomainAttachDevice,
    Op::DomainDetachDevice,
    Op::DomainGetState,
    Op::DomainXmlFromNative,
    Op::DomainXmlToNative,
];
