//! The core's order over the Xen members' declared ranks is the table of docs/xen.md, for every
//! operation of the ABI.

use virtkit_abi::{OPS, Op};
use virtkit_loader::{StackMember, stack_order};
use virtkit_xen_stack::Member;

/// A member as the core sees it: the ranks it declares and the slots it implements.
struct Declared(Member);

impl StackMember for Declared {
    fn rank_for(&self, op: Op) -> u32 {
        self.0.rank_for(op)
    }
    fn supports(&self, op: Op) -> bool {
        self.0.ops().contains(&op)
    }
}

/// `| api | member → member |` rows of the "Call order" table in docs/xen.md.
fn documented() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/xen.md");
    let text = std::fs::read_to_string(path).expect("docs/xen.md is readable");
    let table = text
        .split("<!-- order table -->")
        .nth(1)
        .expect("docs/xen.md has the order table between <!-- order table --> markers");
    table
        .lines()
        .filter(|l| l.starts_with("| `vir"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect()
}

fn computed(op: Op) -> String {
    // Declared in reverse, so that the order cannot come from the declaration order.
    let members: Vec<Declared> = Member::ALL.iter().rev().map(|m| Declared(*m)).collect();
    let order: Vec<&str> = stack_order(op, &members)
        .iter()
        .map(|d| d.0.driver_name())
        .collect();
    if order.is_empty() {
        "—".to_string()
    } else {
        order.join(" → ")
    }
}

#[test]
fn the_core_order_is_the_documented_table() {
    let doc = documented();
    let mut expected = String::new();
    for info in OPS.iter().filter(|i| i.index > 1) {
        expected.push_str(&format!(
            "| `{}` | {} |\n",
            info.api,
            computed(Op::ALL[info.index])
        ));
    }
    let got: String = doc
        .iter()
        .map(|(api, order)| format!("| `{api}` | {order} |\n"))
        .collect();
    assert_eq!(
        got, expected,
        "docs/xen.md's order table differs from the order the core computes; the computed table is:\n{expected}"
    );
}

#[test]
fn libvirt_unified_rules() {
    let order = |op| computed(op);
    assert_eq!(
        order(Op::DomainGetInfo),
        "xen-hypercall → xen-xend → xen-store → xen-xm"
    );
    for op in [
        Op::DomainSuspend,
        Op::DomainResume,
        Op::DomainDestroy,
        Op::DomainSetVcpus,
    ] {
        let o = order(op);
        assert!(
            o.find("xen-xend").unwrap() < o.find("xen-hypercall").unwrap(),
            "{op:?}: {o}"
        );
    }
    assert_eq!(
        order(Op::DomainLookupById),
        "xen-hypercall → xen-xend → xen-store"
    );
    assert_eq!(
        order(Op::DomainLookupByUuid),
        "xen-hypercall → xen-xend → xen-xm"
    );
    assert_eq!(
        order(Op::DomainLookupByName),
        "xen-xend → xen-store → xen-xm"
    );
    assert_eq!(order(Op::DomainGetXmlDesc), "xen-xend → xen-xm");
    assert_eq!(order(Op::ListDefinedDomains), "xen-xend → xen-xm");
}
