//! The session: output streams, the connection (opened lazily, as virsh does), and running
//! parsed commands.

use std::io::Write;

use virtkit::{Connect, Registry};

use crate::commands::{CmdDef, Failure};
use crate::parse::{self, Invocation};

/// Where output goes. Write errors (a closed pipe) are ignored: the tool never panics on output.
pub(crate) struct Output {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Output {
    pub(crate) fn stdio() -> Output {
        Output {
            out: Box::new(std::io::BufWriter::new(std::io::stdout())),
            err: Box::new(std::io::stderr()),
        }
    }

    #[cfg(test)]
    pub(crate) fn new(out: Box<dyn Write>, err: Box<dyn Write>) -> Output {
        Output { out, err }
    }

    pub(crate) fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    /// Writes to stderr, after flushing stdout so the two streams interleave in order on a terminal.
    pub(crate) fn eprint(&mut self, s: &str) {
        let _ = self.out.flush();
        let _ = self.err.write_all(s.as_bytes());
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}

/// One session of the tool.
pub(crate) struct Ctl {
    pub out: Output,
    /// `-q`: no table headers, no status messages, no empty line after each command.
    pub quiet: bool,
    /// Whether the next connection is opened read-only.
    pub readonly: bool,
    /// The URI named by `-c`, `VIRSH_DEFAULT_CONNECT_URI` or `connect`; `None` means the core's
    /// default (`VIRTKIT_DEFAULT_URI`, then `LIBVIRT_DEFAULT_URI`).
    pub connname: Option<String>,
    conn: Option<Connect>,
    /// Cleared by `quit`/`exit`.
    pub imode: bool,
    pub registry: Registry,
}

impl Ctl {
    pub(crate) fn new(out: Output, quiet: bool, readonly: bool, connname: Option<String>) -> Ctl {
        Ctl {
            out,
            quiet,
            readonly,
            connname,
            conn: None,
            imode: true,
            registry: Registry::from_env(),
        }
    }

    /// Prints command output (always).
    pub(crate) fn print(&mut self, s: &str) {
        self.out.print(s);
    }

    /// Prints status text that `-q` suppresses (virsh's `vshPrintExtra`).
    pub(crate) fn print_extra(&mut self, s: &str) {
        if !self.quiet {
            self.out.print(s);
        }
    }

    /// Reports one `error: ...` line per message.
    pub(crate) fn report(&mut self, lines: &[String]) {
        let mut text = String::new();
        for l in lines {
            text.push_str("error: ");
            text.push_str(l);
            text.push('\n');
        }
        self.out.eprint(&text);
    }

    /// Opens a connection to `uri` (or the default) with the session's access mode.
    pub(crate) fn open(&self, uri: Option<&str>, readonly: bool) -> Result<Connect, Failure> {
        Connect::open_with(uri, readonly, &self.registry).map_err(|e| {
            Failure::lines(vec![
                "failed to connect to the hypervisor".into(),
                e.message,
            ])
        })
    }

    /// Connects now (for `-c`): virsh fails at once when a named URI cannot be opened.
    pub(crate) fn connect_now(&mut self) -> bool {
        match self.open(self.connname.clone().as_deref(), self.readonly) {
            Ok(c) => {
                self.conn = Some(c);
                true
            }
            Err(f) => {
                self.report(&f.0);
                false
            }
        }
    }

    /// The connection, opened on first use.
    pub(crate) fn conn(&mut self) -> Result<Connect, Failure> {
        if let Some(c) = &self.conn {
            return Ok(c.clone());
        }
        let c = self.open(self.connname.clone().as_deref(), self.readonly)?;
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// The connection if one is open (never opens one).
    pub(crate) fn current_conn(&self) -> Option<Connect> {
        self.conn.clone()
    }

    /// Replaces the connection (the `connect` command).
    pub(crate) fn set_conn(&mut self, c: Connect, name: Option<String>, readonly: bool) {
        self.conn = Some(c);
        if name.is_some() {
            self.connname = name;
        }
        self.readonly = readonly;
    }

    /// Runs one command string (`cmd1 args; cmd2 args`). The whole string is parsed first: a
    /// syntax error runs nothing. Returns the exit status of the last command.
    pub(crate) fn run_string(&mut self, text: &str) -> i32 {
        match parse::parse_string(text) {
            Ok(cmds) => self.run_all(cmds),
            Err(msg) => {
                self.report(&[msg]);
                1
            }
        }
    }

    /// Runs one command given as separate arguments (no `;` splitting, no quoting).
    pub(crate) fn run_argv(&mut self, argv: &[String]) -> i32 {
        match parse::parse_argv(argv) {
            Ok(inv) => self.run_all(vec![inv]),
            Err(msg) => {
                self.report(&[msg]);
                1
            }
        }
    }

    fn run_all(&mut self, cmds: Vec<Invocation>) -> i32 {
        let mut ok = true;
        for inv in cmds {
            ok = self.run_one(inv.def, &inv.args);
            if !self.imode {
                break;
            }
        }
        if ok { 0 } else { 1 }
    }

    /// Runs one command, reports its errors, and prints the separating empty line.
    pub(crate) fn run_one(&mut self, def: &'static CmdDef, args: &parse::Args) -> bool {
        let result = if def.needs_connection() {
            self.conn().map(|_| ())
        } else {
            Ok(())
        };
        let result = result.and_then(|()| (def.run)(self, args));
        let ok = match result {
            Ok(()) => true,
            Err(f) => {
                self.report(&f.0);
                false
            }
        };
        // quit/exit end the session without the separating line.
        if self.imode {
            self.print_extra("\n");
        }
        self.out.flush();
        ok
    }
}
