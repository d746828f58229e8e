//! The interactive shell (`virtkit` with no command): a prompt, line editing and history on a
//! terminal; on any other standard input, commands read line by line, each echoed after the
//! prompt as virsh's readline does, so a piped session reads like a terminal one.

use std::io::BufRead;
use std::path::PathBuf;

use crate::ctl::Ctl;

const BANNER: &str = "Welcome to virtkit, the virtualization interactive terminal.\n\n\
                      Type:  'help' for help with commands\n       'quit' to quit\n\n";

fn prompt(ctl: &Ctl) -> &'static str {
    if ctl.readonly {
        "virtkit > "
    } else {
        "virtkit # "
    }
}

/// Runs one line of the shell. A line that does not parse runs nothing; the session goes on.
fn run_line(ctl: &mut Ctl, line: &str) {
    if !line.trim().is_empty() {
        ctl.run_string(line);
    }
}

/// Commands from a non-terminal standard input. The exit status is 0, as virsh's shell.
pub(crate) fn piped(ctl: &mut Ctl, mut input: impl BufRead) -> i32 {
    ctl.print_extra(BANNER);
    loop {
        let p = prompt(ctl);
        ctl.print(p);
        let mut raw = Vec::new();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.strip_suffix('\n').unwrap_or(&text);
        ctl.print(&format!("{line}\n"));
        run_line(ctl, line);
        if !ctl.imode {
            break;
        }
    }
    ctl.print("\n");
    ctl.out.flush();
    0
}

/// Where the shell keeps its history: `$XDG_CACHE_HOME/virtkit/history`, else
/// `~/.cache/virtkit/history`.
fn history_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("virtkit").join("history"))
}

/// The shell on a terminal, with line editing and history.
pub(crate) fn interactive(ctl: &mut Ctl) -> i32 {
    use rustyline::error::ReadlineError;
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        // No usable terminal after all: fall back to plain line reading.
        Err(_) => return piped(ctl, std::io::stdin().lock()),
    };
    let history = history_file();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    ctl.print_extra(BANNER);
    ctl.out.flush();
    loop {
        match editor.readline(prompt(ctl)) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                run_line(ctl, &line);
                if !ctl.imode {
                    break;
                }
            }
            // Ctrl-C abandons the line being typed, as in virsh.
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    ctl.print("\n");
    ctl.out.flush();
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::Output;
    use std::cell::RefCell;
    use std::io::Write;
    use std::rc::Rc;

    #[derive(Clone, Default)]
    struct Buf(Rc<RefCell<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn session(input: &str, quiet: bool) -> (String, String) {
        let (out, err) = (Buf::default(), Buf::default());
        let mut ctl = Ctl::new(
            Output::new(Box::new(out.clone()), Box::new(err.clone())),
            quiet,
            false,
            None,
        );
        assert_eq!(piped(&mut ctl, input.as_bytes()), 0);
        let s = |b: &Buf| String::from_utf8(b.0.borrow().clone()).unwrap();
        (s(&out), s(&err))
    }

    #[test]
    fn piped_session_echoes_and_ends_with_newline() {
        let (out, err) = session("help quit\nbogus\nquit\nhelp\n", false);
        assert_eq!(
            out,
            format!(
                "{BANNER}virtkit # help quit\n  NAME\n    quit - quit this interactive terminal\n\n  SYNOPSIS\n    quit\n\n\n\
                 virtkit # bogus\nvirtkit # quit\n\n"
            )
        );
        assert_eq!(err, "error: unknown command: 'bogus'\n");
    }

    #[test]
    fn piped_session_quiet_at_eof() {
        let (out, _) = session("\n", true);
        assert_eq!(out, "virtkit # \nvirtkit # \n");
    }
}
