//! A scheme served by a stack of two plugin files, ordered by the ranks they declare.

use std::path::{Path, PathBuf};
use std::process::Command;

use virtkit::{Connect, ErrorCode, Registry};
use virtkit_test_support::{CC, require};

fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../loader/tests/fixtures/plugin.c")
}

fn build(cc: &Path, dir: &Path, file: &str, defines: &[String]) {
    let mut c = Command::new(cc);
    c.args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-I"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../abi/include"))
        .arg(fixture_source())
        .arg("-o")
        .arg(dir.join(file));
    for d in defines {
        c.arg(format!("-D{d}"));
    }
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", cc.display()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn member(cc: &Path, dir: &Path, name: &str, rank: u32, knows: &str, extra: &[&str]) {
    let mut d = vec![
        "FX_SCHEME=\"stk\"".to_string(),
        format!("FX_NAME=\"stk-{name}\""),
        format!("FX_TYPE=\"{}\"", name.to_uppercase()),
        format!("FX_RANK={rank}"),
        format!("FX_KNOWS=\"{knows}\""),
    ];
    d.extend(extra.iter().map(|s| s.to_string()));
    build(cc, dir, &format!("libvirtkit_driver_stk_{name}.so"), &d);
}

#[test]
fn members_are_tried_by_rank_and_not_found_passes_on() {
    let cc = require!(CC);
    let dir = tempfile::tempdir().unwrap();
    member(&cc, dir.path(), "low", 1, "alpha", &[]);
    member(
        &cc,
        dir.path(),
        "high",
        2,
        "beta",
        &["FX_OP_RANK_GET_TYPE=0"],
    );
    let reg = Registry::with_dirs(vec![dir.path().to_path_buf()]).without_static();
    let c = Connect::open_with(Some("stk:///"), false, &reg).unwrap();
    let names: Vec<String> = c.drivers().into_iter().map(|d| d.name).collect();
    assert_eq!(
        names,
        ["stk-low", "stk-high"],
        "members in stack-rank order"
    );

    // Ordinary calls go to the lowest rank first; "beta" is unknown there and passes on.
    assert_eq!(c.lookup_domain_by_name("alpha").unwrap().name(), "alpha");
    assert_eq!(c.lookup_domain_by_name("beta").unwrap().name(), "beta");
    let e = c.lookup_domain_by_name("gamma").unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomain);

    // The per-operation rank the high member declares for get_type puts it first for that call.
    assert_eq!(c.get_type().unwrap(), "HIGH");

    // Lists of defined domains are merged across members.
    let mut defined = c.list_defined_domains().unwrap();
    defined.sort();
    assert_eq!(defined, ["alpha", "beta"]);

    // An operation no member implements is "not supported", naming every member.
    let e = c.num_of_domains().unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSupport);
    assert!(
        e.message.contains("virConnectNumOfDomains") && e.message.contains("stk-low"),
        "{}",
        e.message
    );
}
