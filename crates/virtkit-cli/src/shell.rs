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

/// The largest history file read back.
const MAX_HISTORY: u64 = 4 << 20;

/// Whether the history file may be read and replaced: its directory (created 0700) is the
/// user's own and not writable by others, and the file is missing or a regular file under
/// [`MAX_HISTORY`] (a symbolic link or FIFO planted there is never followed or read).
fn history_usable(h: &std::path::Path) -> bool {
    let Some(dir) = h.parent() else {
        return false;
    };
    virtkit_hostio::ensure_private_dir(dir, 0o700).is_ok()
        && virtkit_hostio::check_destination(h).is_ok()
        && std::fs::symlink_metadata(h).map_or(true, |m| m.len() <= MAX_HISTORY)
}

/// Saves the history (rustyline writes it 0600) when [`history_usable`]: in a private directory
/// nobody else can plant a link in, onto a regular file or a new name.
fn save_history(
    editor: &mut rustyline::Editor<ShellHelper, rustyline::history::FileHistory>,
    h: &std::path::Path,
) {
    if history_usable(h) {
        let _ = editor.save_history(h);
    }
}

/// The shell's line-editor helper: Tab completion through [`crate::complete`], with file names
/// from rustyline's own completer. It holds a clone of the session's connection, refreshed before
/// each prompt.
struct ShellHelper {
    conn: Option<virtkit::Connect>,
    files: rustyline::completion::FilenameCompleter,
}

impl rustyline::completion::Completer for ShellHelper {
    type Candidate = rustyline::completion::Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Self::Candidate>)> {
        use crate::complete::{Want, names_bounded, split_for_completion, want};
        let (words, start) = split_for_completion(&line[..pos]);
        let partial = words.last().cloned().unwrap_or_default();
        let list = match want(&words) {
            Want::Files => return self.files.complete(line, pos, ctx),
            Want::Words(w) => w,
            Want::Nothing => Vec::new(),
            names => match &self.conn {
                Some(c) => names_bounded(c, &names),
                None => Vec::new(),
            },
        };
        Ok((
            start,
            list.into_iter()
                .filter(|c| c.starts_with(partial.as_str()))
                .map(|c| rustyline::completion::Pair {
                    display: c.clone(),
                    replacement: escape_word(&c),
                })
                .collect(),
        ))
    }
}

/// A completed word as the shell's parser reads it back (blanks and quotes escaped).
fn escape_word(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        if matches!(c, ' ' | '\t' | '\'' | '"' | '\\' | ';' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl rustyline::hint::Hinter for ShellHelper {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for ShellHelper {}
impl rustyline::validate::Validator for ShellHelper {}
impl rustyline::Helper for ShellHelper {}

/// The shell on a terminal, with line editing, history and Tab completion (a list on the second
/// Tab, as virsh's readline shows it).
pub(crate) fn interactive(ctl: &mut Ctl) -> i32 {
    use rustyline::error::ReadlineError;
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor: rustyline::Editor<ShellHelper, rustyline::history::FileHistory> =
        match rustyline::Editor::with_config(config) {
            Ok(e) => e,
            // No usable terminal after all: fall back to plain line reading.
            Err(_) => return piped(ctl, std::io::stdin().lock()),
        };
    // Names complete from the first prompt on, as in virsh, whose shell connects at start; a
    // connection that fails here is reported by the first command that needs it.
    let _ = ctl.conn();
    editor.set_helper(Some(ShellHelper {
        conn: ctl.current_conn(),
        files: rustyline::completion::FilenameCompleter::new(),
    }));
    let history = history_file();
    if let Some(h) = history.as_deref().filter(|h| history_usable(h)) {
        let _ = editor.load_history(h);
    }
    ctl.print_extra(BANNER);
    ctl.out.flush();
    loop {
        if let Some(h) = editor.helper_mut() {
            h.conn = ctl.current_conn();
        }
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
        save_history(&mut editor, h);
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

    #[test]
    fn the_history_file_is_never_followed_or_read_from_an_untrusted_place() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("virtkit");
        let h = dir.join("history");
        assert!(history_usable(&h), "a new private directory");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::write(&h, "list\n").unwrap();
        assert!(history_usable(&h));
        std::fs::remove_file(&h).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &h).unwrap();
        assert!(!history_usable(&h), "a planted symbolic link");
        std::fs::remove_file(&h).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!history_usable(&h), "a directory writable by others");
    }

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
