//! `drivers`: what this program can load, and from where. virtkit's own command (virsh has none).
//! It fails (exit status 1) when it lists plugin files that were refused.
//!
//! The summary table is one view of [`virtkit::installed_drivers`]; further views (such as a
//! per-operation support matrix) belong here as options of their own, each a function from the
//! same driver list to text.

use virtkit::DriverSummary;

use super::{CmdDef, CmdResult, Failure, Group, OptDef, flag};
use crate::ctl::Ctl;
use crate::parse::Args;
use crate::table::Table;

/// The options of `drivers`.
pub(super) const OPTS: &[OptDef] = &[
    flag(
        "matrix",
        "print the support matrix instead: one row per API, one column per driver, each cell the ABI version since which the driver implements it",
    ),
    flag(
        "connection",
        "print the drivers serving the connection instead: the members of the URI's stack that opened, in stack order, then those that did not open and why",
    ),
];

/// One row per driver: name, version, ABI, schemes, implemented operations out of the slots its
/// table has (a 1.0 plugin's out of 1.0's slots), and where it was loaded from.
fn summary_table(drivers: &[DriverSummary]) -> Table {
    let mut t = Table::new(&["Name", "Version", "ABI", "Schemes", "Operations", "Origin"]);
    for d in drivers {
        t.row(vec![
            d.name.clone(),
            d.version.clone(),
            format!("{}.{}", d.abi.0, d.abi.1),
            d.schemes.join(","),
            format!("{}/{}", d.supported.len(), d.table_slots()),
            d.origin.clone(),
        ]);
    }
    t
}

/// The members serving the connection and those that did not open, with the reason.
fn connection_table(conn: &virtkit::Connect) -> Table {
    let mut t = Table::new(&["Name", "Status", "Origin"]);
    for d in conn.drivers() {
        t.row(vec![d.name, "serving".into(), d.origin]);
    }
    for s in conn.skipped_drivers() {
        t.row(vec![
            s.name.clone(),
            format!("not open: {}", s.reason),
            String::new(),
        ]);
    }
    t
}

pub(super) fn drivers(ctl: &mut Ctl, args: &Args) -> CmdResult {
    if args.flag("connection") {
        let conn = ctl.conn()?;
        let text = connection_table(&conn).render(!ctl.quiet);
        ctl.print(&text);
        return Ok(());
    }
    let (drivers, refused) = virtkit::installed_drivers(&ctl.registry);
    let text = if args.flag("matrix") {
        virtkit::support_matrix(&drivers)
    } else {
        summary_table(&drivers).render(!ctl.quiet)
    };
    ctl.print(&text);
    if !refused.is_empty() {
        let mut s = String::new();
        if !ctl.quiet {
            s.push_str("\nRefused plugin files:\n");
        }
        for r in &refused {
            s.push_str(&format!(" {r}\n"));
        }
        ctl.print(&s);
        // Scripts must notice: a refused file is a broken installation.
        return Err(Failure::msg(format!(
            "{} plugin file{} refused (see above)",
            refused.len(),
            if refused.len() == 1 { " was" } else { "s were" }
        )));
    }
    Ok(())
}

/// `drivers`, a command of virtkit's own "Virtkit itself" group (listed by that group's table in
/// `session.rs`).
pub(super) const DRIVERS: CmdDef = CmdDef {
    name: "drivers",
    group: Group::Virtkit,
    help: "list the installed drivers",
    desc: "List every driver this program can use: plugin files found in the driver directories \
           (VIRTKIT_DRIVER_DIR, or <exe>/../lib/virtkit/drivers then the executable's directory) and \
           drivers built into the program, with version, ABI, URI schemes, origin and the number of \
           operations implemented; then the plugin files that were refused and why.",
    opts: OPTS,
    no_connect: true,
    hidden: false,
    run: drivers,
};
