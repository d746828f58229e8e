//! Each Xen plugin, as built, fills exactly the slots this crate declares for its member and
//! declares exactly the member's ranks: an operation the plugin fills that the member's list
//! lacks would be served in no declared order, and one the list (or a per-operation rank) names
//! that the plugin leaves NULL would be an order the stack never follows.

use std::collections::BTreeSet;

use virtkit_abi::Op;
use virtkit_loader::Registry;
use virtkit_xen_stack::Member;

fn plugin_file(m: Member) -> String {
    format!("libvirtkit_driver_{}.so", m.driver_name().replace('-', "_"))
}

fn names(ops: impl IntoIterator<Item = Op>) -> Vec<&'static str> {
    ops.into_iter().map(|op| op.info().api).collect()
}

/// What is wrong between one plugin's slots and ranks and its member's declarations.
fn differences(m: Member) -> Vec<String> {
    let path = virtkit_test_support::built(&plugin_file(m));
    let d = Registry::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    if d.name() != m.driver_name() {
        out.push(format!("it is named {}", d.name()));
    }
    // Open and close are every plugin's (the loader refuses a table without them).
    let filled: BTreeSet<Op> = Op::ALL
        .iter()
        .copied()
        .filter(|op| !matches!(op, Op::Open | Op::Close) && d.supports(*op))
        .collect();
    let declared: BTreeSet<Op> = m.ops().iter().copied().collect();
    let undeclared = names(filled.difference(&declared).copied());
    if !undeclared.is_empty() {
        out.push(format!(
            "fills slots its member does not declare: {undeclared:?}"
        ));
    }
    let unfilled = names(declared.difference(&filled).copied());
    if !unfilled.is_empty() {
        out.push(format!(
            "leaves NULL slots its member declares: {unfilled:?}"
        ));
    }
    let ranked_unfilled = names(
        m.op_ranks()
            .iter()
            .map(|(op, _)| *op)
            .filter(|op| !d.supports(*op)),
    );
    if !ranked_unfilled.is_empty() {
        out.push(format!(
            "has a per-operation rank for slots it leaves NULL: {ranked_unfilled:?}"
        ));
    }
    let wrong_rank: Vec<String> = Op::ALL
        .iter()
        .filter(|op| d.rank_for(**op) != m.rank_for(**op))
        .map(|op| {
            format!(
                "{} ranked {} (declared {})",
                op.info().api,
                d.rank_for(*op),
                m.rank_for(*op)
            )
        })
        .collect();
    if !wrong_rank.is_empty() {
        out.push(format!("declares other ranks: {wrong_rank:?}"));
    }
    out
}

#[test]
fn every_xen_plugin_fills_exactly_its_declared_slots_with_its_declared_ranks() {
    let mut wrong = Vec::new();
    for m in Member::ALL {
        for d in differences(m) {
            wrong.push(format!("{}: {d}", plugin_file(m)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_per_operation_rank_is_for_a_declared_operation() {
    for m in Member::ALL {
        for (op, _) in m.op_ranks() {
            assert!(
                m.ops().contains(op),
                "{}: a rank for {} which it does not serve",
                m.driver_name(),
                op.info().api
            );
        }
    }
}
