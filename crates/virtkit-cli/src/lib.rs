//! The `virtkit` command-line tool: virsh's command language over the virtkit API.
//!
//! The binary (`src/main.rs`) links the test driver statically and calls [`main`]. Everything
//! else lives here so that tests and the documentation generator can reach it:
//!
//! * [`main`] / [`run`]: the top-level options (`-c`, `-r`, `-q`, ...), then one command string
//!   (`'suspend test; domstate test'`), one command given as several arguments
//!   (`list --all`), or the interactive shell when no command is given.
//! * [`cli_command`]: the clap definition of the whole interface (options and every command),
//!   from which the man page and the shell completions are generated ([`generated_docs`]).
//!
//! Output follows virsh 9.0 byte for byte where the same driver state is shown: every command's
//! output is followed by an empty line unless `-q`, errors go to stderr as `error: ...`, and the
//! exit status is the last command's.
#![forbid(unsafe_code)]

mod commands;
mod complete;
mod ctl;
mod docs;
mod parse;
mod shell;
mod table;

use std::ffi::OsString;
use std::io::IsTerminal;

pub use docs::{DocFile, cli_command, generated_docs, write_docs};

use crate::ctl::{Ctl, Output};

/// The environment variable virsh reads for a default URI; like `-c`, a URI given this way is
/// connected to before the first command runs.
pub const VIRSH_DEFAULT_URI_ENV: &str = "VIRSH_DEFAULT_CONNECT_URI";

/// Runs the tool with the process's arguments and standard streams; returns the exit status.
pub fn main() -> i32 {
    run(std::env::args_os().collect())
}

/// Runs the tool with `args` (the first is the program name) on the process's standard streams.
pub fn run(args: Vec<OsString>) -> i32 {
    let opts = match docs::parse_top_level(args) {
        Ok(docs::TopLevel::Run(o)) => o,
        Ok(docs::TopLevel::Exit(text, code)) => {
            let mut out = Output::stdio();
            if code == 0 {
                out.print(&text);
            } else {
                out.eprint(&text);
            }
            out.flush();
            return code;
        }
        Err(e) => {
            let mut out = Output::stdio();
            out.eprint(&e);
            out.flush();
            return 1;
        }
    };
    // virsh's levels: 0 debug, 1 info; both show how the connection was served.
    if opts.debug.is_some_and(|d| d <= 1) {
        virtkit::set_debug(true);
    }
    let mut ctl = Ctl::new(
        Output::stdio(),
        opts.quiet,
        opts.readonly,
        opts.connect.clone(),
    );
    if opts.connect.is_some() && !ctl.connect_now() {
        ctl.out.flush();
        return 1;
    }
    let status = match opts.command.len() {
        0 => {
            if std::io::stdin().is_terminal() {
                shell::interactive(&mut ctl)
            } else {
                shell::piped(&mut ctl, std::io::stdin().lock())
            }
        }
        1 => ctl.run_string(&opts.command[0]),
        _ => ctl.run_argv(&opts.command),
    };
    ctl.out.flush();
    status
}
