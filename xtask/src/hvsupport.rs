//! `cargo xtask hvsupport [--check]`: regenerates `docs/hvsupport.md` from the tables of the
//! in-tree plugins (every `plugins/*/plugin` crate, all of which must be built and load), or with
//! `--check` only verifies it. The work is done by the `virtkit-hvsupport` binary of the
//! conformance crate, which links the loader; the test `conformance/tests/hvsupport.rs` makes the
//! same comparison under `cargo test`.

use std::process::Command;

use crate::{Result, profile_dir, root, run};

pub(crate) fn run_hvsupport(check: bool) -> Result<()> {
    let exe = profile_dir(false).join("virtkit-hvsupport");
    if !exe.exists() {
        return Err(format!(
            "{} is not built: run `cargo xtask build-plugins`",
            exe.display()
        ));
    }
    let mut c = Command::new(exe);
    c.arg("--root")
        .arg(root())
        .arg("--profile-dir")
        .arg(profile_dir(false));
    if check {
        c.arg("--check");
    }
    run(c)
}
