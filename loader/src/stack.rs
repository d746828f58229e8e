//! The order of a stack's members for one operation, from the ranks they declare.
//!
//! Several drivers may serve one scheme (libvirt's Xen "unified" driver was four). Each declares
//! a default `stack_rank` and per-operation overrides (`op_ranks`); for every call the core tries
//! the members that implement the operation, lowest rank first, and keeps declaration order
//! between equal ranks. This module is that rule, written once: the core's dispatch uses it, and
//! tests of a stack's declared ranks use it to check the order they produce.

use virtkit_abi::Op;

use crate::call::DriverConn;
use crate::validate::Driver;

/// What the ordering needs to know about a member.
pub trait StackMember {
    /// The member's rank for `op` (lower first).
    fn rank_for(&self, op: Op) -> u32;
    /// Whether the member implements `op` at all.
    fn supports(&self, op: Op) -> bool;
}

impl StackMember for Driver {
    fn rank_for(&self, op: Op) -> u32 {
        Driver::rank_for(self, op)
    }
    fn supports(&self, op: Op) -> bool {
        Driver::supports(self, op)
    }
}

impl StackMember for DriverConn {
    fn rank_for(&self, op: Op) -> u32 {
        self.driver().rank_for(op)
    }
    fn supports(&self, op: Op) -> bool {
        self.driver().supports(op)
    }
}

impl<T: StackMember + ?Sized> StackMember for &T {
    fn rank_for(&self, op: Op) -> u32 {
        (**self).rank_for(op)
    }
    fn supports(&self, op: Op) -> bool {
        (**self).supports(op)
    }
}

impl<T: StackMember + ?Sized> StackMember for std::sync::Arc<T> {
    fn rank_for(&self, op: Op) -> u32 {
        (**self).rank_for(op)
    }
    fn supports(&self, op: Op) -> bool {
        (**self).supports(op)
    }
}

/// The members that take part in `op`, in the order the core tries them: only those that
/// implement it, by ascending rank, ties kept in the given order.
pub fn stack_order<M: StackMember>(op: Op, members: &[M]) -> Vec<&M> {
    let mut out: Vec<&M> = members.iter().filter(|m| m.supports(op)).collect();
    out.sort_by_key(|m| m.rank_for(op));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct M(&'static str, u32, &'static [(Op, u32)], &'static [Op]);
    impl StackMember for M {
        fn rank_for(&self, op: Op) -> u32 {
            self.2
                .iter()
                .find(|(o, _)| *o == op)
                .map_or(self.1, |(_, r)| *r)
        }
        fn supports(&self, op: Op) -> bool {
            self.3.contains(&op)
        }
    }

    #[test]
    fn ranks_overrides_and_support() {
        let all = &[Op::DomainSuspend, Op::DomainGetInfo];
        let ms = [
            M("b", 20, &[], all),
            M("a", 10, &[(Op::DomainSuspend, 30)], all),
            M("c", 20, &[], &[Op::DomainGetInfo]),
        ];
        let names = |op| stack_order(op, &ms).iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(names(Op::DomainGetInfo), ["a", "b", "c"]);
        assert_eq!(names(Op::DomainSuspend), ["b", "a"]);
        assert!(names(Op::DomainSave).is_empty());
    }
}
