//! Every size, offset and constant the driver uses, checked against Xen's public headers: a C
//! program that prints them is generated from `layout::v4_17`, compiled against
//! `/usr/include/xen/{xen,sysctl,domctl,sched}.h` with `-D__XEN_TOOLS__`, run, and compared.
//! Skips (and fails under `CI`) without the headers (`libxen-dev`) or a C compiler.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use virtkit_xen_hypercall_driver::layout::v4_17;

#[test]
fn layouts_match_xen_4_17_headers() {
    if !Path::new("/usr/include/xen/sysctl.h").exists() {
        virtkit_test_support::skip_host(
            "XEN_HEADERS",
            "no Xen headers (/usr/include/xen/sysctl.h); scripts/install-test-deps.sh installs libxen-dev",
        );
        return;
    }
    let cc = virtkit_test_support::require!(virtkit_test_support::CC);
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <xen/xen.h>\n\
         #include <xen/sched.h>\n#include <xen/domctl.h>\n#include <xen/sysctl.h>\nint main(void) {\n",
    );
    let mut expected = String::new();
    for s in v4_17::SIZES {
        let _ = writeln!(
            c,
            "printf(\"size {0} %zu\\n\", sizeof(struct {0}));",
            s.c_struct
        );
        let _ = writeln!(expected, "size {} {}", s.c_struct, s.size);
    }
    for f in v4_17::FIELDS {
        let _ = writeln!(
            c,
            "printf(\"field {0}.{1} %zu %zu\\n\", offsetof(struct {0}, {1}), sizeof(((struct {0} *)0)->{1}));",
            f.c_struct, f.member
        );
        let _ = writeln!(
            expected,
            "field {}.{} {} {}",
            f.c_struct, f.member, f.offset, f.size
        );
    }
    for (name, v) in v4_17::CONSTANTS {
        let _ = writeln!(
            c,
            "printf(\"const {name} %llu\\n\", (unsigned long long)({name}));"
        );
        let _ = writeln!(expected, "const {name} {v}");
    }
    c.push_str("return 0;\n}\n");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("probe.c");
    let exe = dir.path().join("probe");
    std::fs::write(&src, &c).unwrap();
    let built = Command::new(&cc)
        .args(["-D__XEN_TOOLS__", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "the probe does not compile:\n{}\n{c}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let got = String::from_utf8(out.stdout).unwrap();
    for (g, e) in got.lines().zip(expected.lines()) {
        assert_eq!(
            g, e,
            "the headers (left) and layout::v4_17 (right) disagree"
        );
    }
    assert_eq!(got.lines().count(), expected.lines().count());
    assert!(got.lines().count() > 60, "{got}");
}
