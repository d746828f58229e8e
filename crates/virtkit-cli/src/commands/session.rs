//! Commands about the session itself: `connect`, `help`, `quit`/`exit`, and the hidden
//! documentation generator.

use super::{
    CmdDef, CmdResult, Failure, Group, argv, data, find_command, flag, in_group, opt_data,
};
use crate::ctl::Ctl;
use crate::parse::Args;

pub(super) fn connect(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let name = args.get("name").map(str::to_string);
    // Reconnecting without a URI keeps a read-only session read-only, as virsh does.
    let readonly = args.flag("readonly") || (name.is_none() && ctl.readonly);
    let uri = name.clone().or_else(|| ctl.connname.clone());
    // The old connection stays in use when the new one cannot be opened.
    let conn = ctl.open(uri.as_deref(), readonly)?;
    ctl.set_conn(conn, name, readonly);
    Ok(())
}

/// `complete [<string>]...`: the completions of the last word, one per line. Never an error
/// message: without a connection there are just no names; like virsh, the status is 1 when
/// there is no candidate.
pub(super) fn complete(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let mut words: Vec<String> = args.all("string").into_iter().map(str::to_string).collect();
    if words.is_empty() {
        words.push(String::new());
    }
    let found = crate::complete::candidates(&words, || ctl.conn().ok());
    let mut text = String::new();
    for c in found {
        text.push_str(&c);
        text.push('\n');
    }
    if text.is_empty() {
        return Err(Failure::lines(Vec::new()));
    }
    ctl.print(&text);
    Ok(())
}

pub(super) fn quit(ctl: &mut Ctl, _: &Args) -> CmdResult {
    ctl.imode = false;
    Ok(())
}

/// One group's list, as in `help` and `help <group>`.
pub(crate) fn group_listing(g: Group) -> String {
    let mut s = format!(" {} (help keyword '{}'):\n", g.title(), g.keyword());
    for c in in_group(g) {
        s.push_str(&format!("    {:<30} {}\n", c.name, c.help));
    }
    s.push('\n');
    s
}

/// The whole command list, grouped.
pub(crate) fn grouped_listing() -> String {
    let mut s = String::new();
    for g in Group::ALL {
        s.push_str(&group_listing(g));
    }
    s
}

/// `help <command>`.
pub(crate) fn command_help(c: &CmdDef) -> String {
    let mut s = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {}\n\n",
        c.name,
        c.help,
        c.synopsis()
    );
    if !c.desc.is_empty() {
        s.push_str(&format!("  DESCRIPTION\n    {}\n\n", c.desc));
    }
    if !c.opts.is_empty() {
        s.push_str("  OPTIONS\n");
        for o in c.opts {
            s.push_str(&format!(
                "    {:<15}  {}\n",
                CmdDef::option_label(o),
                o.help
            ));
        }
        s.push('\n');
    }
    s
}

pub(super) fn help(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let text = match args.get("command") {
        None => format!("Grouped commands:\n\n{}", grouped_listing()),
        Some(name) => {
            if let Some(g) = Group::ALL.iter().find(|g| g.keyword() == name) {
                group_listing(*g)
            } else {
                match find_command(name).filter(|c| !c.hidden) {
                    Some(c) => command_help(c),
                    None => {
                        return Err(Failure::msg(format!(
                            "command or command group '{name}' doesn't exist"
                        )));
                    }
                }
            }
        }
    };
    if text.is_empty() {
        return Err(Failure::lines(Vec::new()));
    }
    ctl.print(&text);
    Ok(())
}

pub(super) fn gen_docs(ctl: &mut Ctl, args: &Args) -> CmdResult {
    let dir = std::path::PathBuf::from(args.get("dir").unwrap_or_default());
    let written = crate::docs::write_docs(&dir).map_err(|e| {
        Failure::msg(format!(
            "cannot write the docs under {}: {e}",
            dir.display()
        ))
    })?;
    for p in written {
        ctl.print_extra(&format!("wrote {}\n", p.display()));
    }
    Ok(())
}

/// The commands of virtkit's own "Virtkit itself" group, in help order: their names, options and
/// help, each with its handler in this file.
pub(super) const COMMANDS: &[CmdDef] = &[
    CmdDef {
        name: "complete",
        group: Group::Virtkit,
        help: "internal command for autocompletion",
        desc: "Prints the completions of the last word of a partial command line, one per line, as \
               the interactive shell offers them on Tab: command names, options, and domain or \
               network names from the connection. The shell completion scripts call it.",
        opts: &[argv("string", "partial string to autocomplete")],
        no_connect: true,
        hidden: true,
        run: complete,
    },
    CmdDef {
        name: "connect",
        group: Group::Virtkit,
        help: "(re)connect to hypervisor",
        desc: "Connect to a hypervisor by URI (default: the -c URI, then VIRTKIT_DEFAULT_URI, then LIBVIRT_DEFAULT_URI).",
        opts: &[
            opt_data("name", "hypervisor connection URI"),
            flag("readonly", "read-only connection"),
        ],
        no_connect: true,
        hidden: false,
        run: connect,
    },
    super::drivers::DRIVERS,
    CmdDef {
        name: "exit",
        group: Group::Virtkit,
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        no_connect: true,
        hidden: false,
        run: quit,
    },
    CmdDef {
        name: "help",
        group: Group::Virtkit,
        help: "print help",
        desc: "Prints global help, command specific help, or help for a group of related commands",
        opts: &[opt_data(
            "command",
            "Prints global help, command specific help, or help for a group of related commands",
        )],
        no_connect: true,
        hidden: false,
        run: help,
    },
    CmdDef {
        name: "quit",
        group: Group::Virtkit,
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        no_connect: true,
        hidden: false,
        run: quit,
    },
    CmdDef {
        name: "_gen-docs",
        group: Group::Virtkit,
        help: "write the man page and shell completions generated from the command definitions",
        desc: "",
        opts: &[data(
            "dir",
            "the docs directory (the man page goes there, completions in completions/)",
        )],
        no_connect: true,
        hidden: true,
        run: gen_docs,
    },
];
