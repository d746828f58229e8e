//! The xm member's place in the Xen stack, as data (issue 10's order; libvirt's xen_unified):
//! ordinary calls go hypercall → xend → xenstore → xm, so xm answers last — for the inactive
//! domains only it knows, lookups by UUID and name, an inactive domain's XML when xend cannot
//! give it; the defined lists are merged by the core.

use virtkit_driver::Op;

/// The member's default rank (hypercall 10, xend 20, xenstore 30, xm 40).
pub const STACK_RANK: u32 = 40;

/// Per-operation ranks that differ from [`STACK_RANK`]: none.
pub const OP_RANKS: &[(Op, u32)] = &[];
