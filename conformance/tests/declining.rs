//! `--with` and `--declining` on the Xen stack (xend and xenstore peers, no hypervisor here):
//! the members given must be exactly those that serve, and a member given as declining must be
//! among those that did not open, with its reason. The passing run is `cargo xtask
//! conformance`'s (the whole suite on the stack); here, that a wrong description of the stack
//! fails at `connect/open`.

use std::process::{Command, Output};

use virtkit_test_support::xen::{self, Peer};

fn suite(xend: &Peer, store: &Peer, members: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_virtkit-conformance"));
    c.arg(virtkit_test_support::built(&xen::member_file("xend")));
    for (flag, member) in members {
        c.arg(flag)
            .arg(virtkit_test_support::built(&xen::member_file(member)));
    }
    c.args(["--uri", &xend.uri()])
        .env("XENSTORED_PATH", store.socket());
    xen::output(&mut c)
}

fn connect_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("connect/open:") || l.ends_with("connect/open"))
        .unwrap_or_else(|| panic!("no connect/open line:\n{text}"))
        .to_string()
}

#[test]
fn a_wrong_description_of_the_stack_fails_at_connect() {
    let xend = Peer::xend(&[]);
    let store = Peer::store(2, &[]);
    // The store serves: giving it as declining is wrong, and the connection is served by one
    // member more than given.
    let out = suite(
        &xend,
        &store,
        &[("--declining", "store"), ("--with", "hypercall")],
    );
    assert!(!out.status.success());
    let line = connect_line(&out);
    assert!(
        line.starts_with("failed") && line.contains("served by"),
        "{line}"
    );
    // The hypercall member does not open here: given with `--with`, the check fails.
    let out = suite(
        &xend,
        &store,
        &[("--with", "store"), ("--with", "hypercall")],
    );
    assert!(!out.status.success());
    let line = connect_line(&out);
    assert!(line.starts_with("failed"), "{line}");
    // Described as it is, the connection opens (the rest of the suite is xtask's run).
    let out = suite(
        &xend,
        &store,
        &[("--with", "store"), ("--declining", "hypercall")],
    );
    let line = connect_line(&out);
    assert!(line.starts_with("passed"), "{line}");
}
