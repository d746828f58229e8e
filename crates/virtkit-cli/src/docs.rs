//! The clap definition of the interface: the top-level options parsed at run time, and the same
//! options plus one subcommand per command for the man page and the shell completions.
//!
//! The generated files are committed under `docs/` (`virtkit.1`, `completions/`); a test checks
//! they are fresh. Regenerate them with `cargo run -p virtkit-cli -- _gen-docs docs` from the
//! workspace root.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::VIRSH_DEFAULT_URI_ENV;
use crate::commands::{self, CmdDef, Group, OptKind};

const ABOUT: &str = "virtualization management shell (virsh-compatible)";

const LONG_ABOUT: &str = "virtkit manages the domains (virtual machines) and networks of one node through \
the virtkit driver plugins, with virsh's commands and output. With a command (a single argument may \
chain several commands with ';'), it runs them and exits with the status of the last one; without a \
command it starts an interactive shell. Errors are printed to standard error as 'error: ...'.";

const COMMAND_HELP: &str =
    "a command with its arguments, or one argument holding commands separated by ';'";

/// Top-level options of one run.
pub(crate) struct TopOpts {
    pub connect: Option<String>,
    pub readonly: bool,
    pub quiet: bool,
    /// `-d NUM`.
    pub debug: Option<u8>,
    pub command: Vec<String>,
}

/// What the top-level options ask for.
pub(crate) enum TopLevel {
    Run(TopOpts),
    /// Print this text and exit with this status (help, version).
    Exit(String, i32),
}

fn version_string() -> String {
    commands::version_text(virtkit::library_version())
}

/// The top-level options shared by the run-time parser and the documentation.
fn base_command() -> Command {
    Command::new("virtkit")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .long_about(LONG_ABOUT)
        .disable_version_flag(true)
        .arg(
            Arg::new("connect")
                .short('c')
                .long("connect")
                .value_name("URI")
                .env(VIRSH_DEFAULT_URI_ENV)
                .hide_env_values(true)
                .help("hypervisor connection URI (default: VIRTKIT_DEFAULT_URI, then LIBVIRT_DEFAULT_URI)"),
        )
        .arg(Arg::new("readonly").short('r').long("readonly").action(ArgAction::SetTrue).help("connect readonly"))
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("quiet mode: no table headers, status messages or empty lines between outputs"),
        )
        .arg(
            Arg::new("debug")
                .short('d')
                .long("debug")
                .value_name("NUM")
                .value_parser(clap::value_parser!(u8).range(0..=4))
                .help("debug level [0-4]: 0 and 1 print, when a connection opens, which drivers of the URI's stack serve it and why the others do not"),
        )
        .arg(Arg::new("short-version").short('v').action(ArgAction::SetTrue).help("short version"))
        .arg(Arg::new("long-version").short('V').action(ArgAction::SetTrue).help("long version"))
        .arg(
            Arg::new("version")
                .long("version")
                .value_name("TYPE")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("short")
                .value_parser(["short", "long"])
                .help("version, TYPE is short or long (default short)"),
        )
}

/// The run-time parser: options, then everything from the first non-option word on is the
/// command.
fn runtime_command() -> Command {
    base_command()
        .arg(
            Arg::new("command")
                .value_name("COMMAND")
                .num_args(1..)
                .trailing_var_arg(true)
                .help(COMMAND_HELP),
        )
        .after_help(format!("Commands:\n\n{}", commands::grouped_listing()))
}

fn clap_arg(o: &commands::OptDef) -> Arg {
    let a = Arg::new(o.name).help(o.help);
    match (o.kind, o.positional) {
        (OptKind::Bool, _) => a.long(o.name).action(ArgAction::SetTrue),
        (kind, true) => a
            .value_name(o.name.to_uppercase())
            .required(o.required)
            .value_hint(if kind == OptKind::Number {
                clap::ValueHint::Other
            } else {
                hint_for(o.name)
            })
            .long_help(format!(
                "{} (also --{} {})",
                o.help,
                o.name,
                o.name.to_uppercase()
            )),
        (_, false) => a
            .long(o.name)
            .value_name(o.name.to_uppercase())
            .required(o.required),
    }
}

fn hint_for(name: &str) -> clap::ValueHint {
    match name {
        "file" | "config" | "xml" => clap::ValueHint::FilePath,
        "dir" => clap::ValueHint::DirPath,
        "name" => clap::ValueHint::Url,
        _ => clap::ValueHint::Other,
    }
}

fn clap_subcommand(c: &CmdDef) -> Command {
    let mut sc = Command::new(c.name).about(c.help);
    if !c.desc.is_empty() {
        sc = sc.long_about(c.desc);
    }
    sc.args(c.opts.iter().map(clap_arg))
}

/// The whole interface as clap sees it: the top-level options and one subcommand per command
/// (positional options as positional arguments). The man page and completions come from it.
pub fn cli_command() -> Command {
    base_command()
        .subcommand_value_name("COMMAND")
        .subcommand_help_heading("Commands")
        .disable_help_subcommand(true)
        .subcommands(
            commands::all()
                .iter()
                .filter(|c| !c.hidden)
                .map(clap_subcommand),
        )
}

/// Parses the top-level options (virsh's getopt options stop at the first command word).
pub(crate) fn parse_top_level(args: Vec<std::ffi::OsString>) -> Result<TopLevel, String> {
    let m = match runtime_command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(TopLevel::Exit(e.render().to_string(), 0))
                }
                _ => Err(e.render().to_string()),
            };
        }
    };
    let long =
        m.get_flag("long-version") || m.get_one::<String>("version").is_some_and(|v| v == "long");
    if long {
        return Ok(TopLevel::Exit(long_version(), 0));
    }
    if m.get_flag("short-version") || m.get_one::<String>("version").is_some() {
        return Ok(TopLevel::Exit(format!("{}\n", version_string()), 0));
    }
    Ok(TopLevel::Run(TopOpts {
        connect: m
            .get_one::<String>("connect")
            .filter(|s| !s.trim().is_empty())
            .cloned(),
        readonly: m.get_flag("readonly"),
        quiet: m.get_flag("quiet"),
        debug: m.get_one::<u8>("debug").copied(),
        command: m
            .get_many::<String>("command")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
    }))
}

fn long_version() -> String {
    let (drivers, _) = virtkit::installed_drivers(&virtkit::Registry::with_dirs(Vec::new()));
    let built_in: Vec<String> = drivers.iter().map(|d| d.name.clone()).collect();
    format!(
        "Virtkit command line tool of virtkit {}\n\nCompiled with support for:\n Built-in drivers: {}\n \
         Plugin drivers: loaded from VIRTKIT_DRIVER_DIR, or <exe>/../lib/virtkit/drivers then the executable's directory\n",
        version_string(),
        if built_in.is_empty() {
            "none".to_string()
        } else {
            built_in.join(" ")
        }
    )
}

/// The `COMMANDS` section of the man page, from the clap subcommands, in virsh's groups.
fn commands_section(cmd: &Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    roff.text([roman(
        "Options of a command may be given in any order; the ones shown as arguments may also be given \
         by name (dominfo test is dominfo --domain test). A domain is named by id, UUID or name, tried in \
         that order.",
    )]);
    for g in Group::ALL {
        roff.control(
            "SS",
            [format!("{} (help keyword '{}')", g.title(), g.keyword()).as_str()],
        );
        for c in commands::in_group(g) {
            let Some(sc) = cmd.find_subcommand(c.name) else {
                continue;
            };
            let mut line = vec![bold(sc.get_name())];
            for a in sc.get_arguments().filter(|a| !a.is_hide_set()) {
                line.push(roman(" "));
                let value = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string());
                let text = match (a.get_long(), value, a.is_required_set()) {
                    (Some(l), None, _) => format!("[--{l}]"),
                    (Some(l), Some(v), true) => format!("--{l} {v}"),
                    (Some(l), Some(v), false) => format!("[--{l} {v}]"),
                    (None, Some(v), true) => v,
                    (None, Some(v), false) => format!("[{v}]"),
                    (None, None, _) => continue,
                };
                line.push(italic(text));
            }
            roff.control("TP", []);
            roff.text(line);
            let mut about = sc.get_about().map(|s| s.to_string()).unwrap_or_default();
            if let Some(long) = sc.get_long_about() {
                about = format!("{about}. {long}");
            }
            roff.text([roman(about)]);
            let args: Vec<&Arg> = sc.get_arguments().filter(|a| !a.is_hide_set()).collect();
            if !args.is_empty() {
                roff.control("RS", []);
                for a in args {
                    let label = match a.get_long() {
                        Some(l) => format!("--{l}"),
                        None => a
                            .get_value_names()
                            .and_then(|v| v.first())
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                    };
                    roff.control("TP", []);
                    roff.text([italic(label)]);
                    let help = a
                        .get_long_help()
                        .or(a.get_help())
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    roff.text([roman(help)]);
                }
                roff.control("RE", []);
            }
        }
    }
    roff
}

fn environment_section() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    let vars = [
        (
            VIRSH_DEFAULT_URI_ENV,
            "the URI to connect to when -c is not given; like -c, it is connected to before the first command",
        ),
        (
            "VIRTKIT_DEFAULT_URI",
            "the URI used when neither -c nor VIRSH_DEFAULT_CONNECT_URI is given",
        ),
        (
            "LIBVIRT_DEFAULT_URI",
            "the URI used when none of the above is set",
        ),
        (
            "VIRTKIT_DRIVER_DIR",
            "colon-separated directories searched for driver plugins (libvirtkit_driver_<scheme>.so) instead of <exe>/../lib/virtkit/drivers and the executable's directory",
        ),
    ];
    for (name, text) in vars {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(text)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 when the last command succeeded, 1 when it failed, when a command string does not parse, or when \
         the connection named by -c cannot be opened. The interactive shell exits with 0.",
    )]);
    roff
}

/// The man page, `docs/virtkit.1`.
pub fn man_page() -> String {
    let cmd = cli_command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out: Vec<u8> = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let _ = commands_section(&cmd).to_writer(&mut out);
    let _ = environment_section().to_writer(&mut out);
    let _ = man.render_version_section(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One generated file: its path under `docs/` and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocFile {
    /// Path relative to the `docs/` directory.
    pub path: PathBuf,
    /// The text the code generates.
    pub content: String,
}

/// The top-level options as shells offer them: (short, long, takes a value, help).
fn top_level_options() -> Vec<(Option<char>, Option<String>, bool, String)> {
    base_command()
        .get_arguments()
        .map(|a| {
            let takes_value = !matches!(a.get_action(), ArgAction::SetTrue);
            (
                a.get_short(),
                a.get_long().map(str::to_string),
                takes_value,
                a.get_help().map(|h| h.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

/// Every spelling of the top-level options, for the word lists of the scripts.
fn top_level_words() -> String {
    let mut words = Vec::new();
    for (short, long, _, _) in top_level_options() {
        words.extend(short.map(|c| format!("-{c}")));
        words.extend(long.map(|l| format!("--{l}")));
    }
    words.join(" ")
}

/// The bash completion: top-level options from the definition above, everything after the
/// command from `virtkit complete` (command names, options, domain and network names from the
/// connection the command line names), files when it offers nothing.
fn bash_completion() -> String {
    format!(
        r#"# bash completion for virtkit. Generated by `virtkit _gen-docs`; do not edit.
# Command names, options and domain/network names come from `virtkit complete`, which asks the
# connection named on the command line (-c URI, -r), as virsh's completion does.
_virtkit() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} i=1
    local -a conn words
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case "${{COMP_WORDS[i]}}" in
            -c|--connect) conn+=(-c "${{COMP_WORDS[i+1]}}"); i=$((i + 2)); continue ;;
            --connect=*) conn+=(-c "${{COMP_WORDS[i]#--connect=}}") ;;
            -r|--readonly) conn+=(-r) ;;
            --version|--version=*|-*) ;;
            *) break ;;
        esac
        i=$((i + 1))
    done
    # The word is the value of -c: a URI.
    [ "$i" -gt "$COMP_CWORD" ] && return 0
    if [ "$i" -eq "$COMP_CWORD" ] && [[ "$cur" == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "{top}" -- "$cur")
        return 0
    fi
    words=("${{COMP_WORDS[@]:i:COMP_CWORD-i}}" "$cur")
    mapfile -t COMPREPLY < <(command virtkit "${{conn[@]}}" -q complete -- "${{words[@]}}" 2>/dev/null)
    return 0
}}
complete -o default -o filenames -F _virtkit virtkit
"#,
        top = top_level_words()
    )
}

/// The zsh completion, with the same division of work as [`bash_completion`].
fn zsh_completion() -> String {
    format!(
        r#"#compdef virtkit
# zsh completion for virtkit. Generated by `virtkit _gen-docs`; do not edit.
# Command names, options and domain/network names come from `virtkit complete`.
local -a conn cands
local i=2
while (( i < CURRENT )); do
  case ${{words[i]}} in
    -c|--connect) conn+=(-c ${{words[i+1]}}); (( i += 2 )); continue ;;
    --connect=*) conn+=(-c ${{words[i]#--connect=}}) ;;
    -r|--readonly) conn+=(-r) ;;
    -*) ;;
    *) break ;;
  esac
  (( i++ ))
done
# The word is the value of -c: a URI.
(( i > CURRENT )) && return 0
if (( i == CURRENT )) && [[ ${{words[CURRENT]}} == -* ]]; then
  compadd -- {top}
  return 0
fi
cands=(${{(f)"$(command virtkit $conn -q complete -- "${{(@)words[i,CURRENT]}}" 2>/dev/null)"}})
if (( ${{#cands}} )); then
  compadd -- $cands
else
  _files
fi
"#,
        top = top_level_words()
    )
}

/// The fish completion, with the same division of work as [`bash_completion`].
fn fish_completion() -> String {
    let mut s = String::from(
        "# fish completion for virtkit. Generated by `virtkit _gen-docs`; do not edit.\n\
         # Command names, options and domain/network names come from `virtkit complete`.\n\
         function __virtkit_complete\n\
         \x20   set -l tokens (commandline -opc)\n\
         \x20   set -l cur (commandline -ct)\n\
         \x20   set -e tokens[1]\n\
         \x20   set -l conn\n\
         \x20   while set -q tokens[1]\n\
         \x20       switch $tokens[1]\n\
         \x20           case -c --connect\n\
         \x20               set conn $conn -c $tokens[2]\n\
         \x20               set -e tokens[1]\n\
         \x20           case '--connect=*'\n\
         \x20               set conn $conn -c (string replace -- --connect= '' $tokens[1])\n\
         \x20           case -r --readonly\n\
         \x20               set conn $conn -r\n\
         \x20           case '-*'\n\
         \x20           case '*'\n\
         \x20               break\n\
         \x20       end\n\
         \x20       set -e tokens[1]\n\
         \x20   end\n\
         \x20   if not set -q tokens[1]; and string match -q -- '-*' $cur\n\
         \x20       return\n\
         \x20   end\n\
         \x20   set -l out (command virtkit $conn -q complete -- $tokens $cur 2>/dev/null)\n\
         \x20   if set -q out[1]\n\
         \x20       printf '%s\\n' $out\n\
         \x20   else\n\
         \x20       __fish_complete_path $cur\n\
         \x20   end\n\
         end\n\
         complete -c virtkit -f -a '(__virtkit_complete)'\n",
    );
    for (short, long, takes_value, help) in top_level_options() {
        s.push_str("complete -c virtkit -n '__fish_use_subcommand'");
        if let Some(c) = short {
            s.push_str(&format!(" -s {c}"));
        }
        if let Some(l) = long {
            s.push_str(&format!(" -l {l}"));
        }
        if takes_value {
            s.push_str(" -r");
        }
        s.push_str(&format!(" -d '{}'\n", help.replace('\'', "\\'")));
    }
    s
}

/// Every generated documentation file: the man page and the bash, zsh and fish completions.
pub fn generated_docs() -> Vec<DocFile> {
    vec![
        DocFile {
            path: PathBuf::from("virtkit.1"),
            content: man_page(),
        },
        DocFile {
            path: PathBuf::from("completions/virtkit.bash"),
            content: bash_completion(),
        },
        DocFile {
            path: PathBuf::from("completions/_virtkit"),
            content: zsh_completion(),
        },
        DocFile {
            path: PathBuf::from("completions/virtkit.fish"),
            content: fish_completion(),
        },
    ]
}

/// Writes the generated files under `docs_dir`; returns the paths written.
pub fn write_docs(docs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in generated_docs() {
        let p = docs_dir.join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Never onto a device, FIFO or symbolic link planted at the name; all or nothing.
        virtkit_hostio::write_atomic(&p, f.content.as_bytes(), 0o644)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_docs_never_replace_what_is_not_a_regular_file() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("precious");
        std::fs::write(&target, "precious").unwrap();
        std::os::unix::fs::symlink(&target, d.path().join("virtkit.1")).unwrap();
        let e = write_docs(d.path()).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(
            d.path()
                .join("virtkit.1")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn clap_definitions_are_consistent() {
        cli_command().debug_assert();
        runtime_command().debug_assert();
    }

    fn top(args: &[&str]) -> TopLevel {
        parse_top_level(args.iter().map(|s| s.into()).collect()).unwrap()
    }

    #[test]
    fn options_stop_at_the_command() {
        let TopLevel::Run(o) = top(&[
            "virtkit",
            "-c",
            "test:///default",
            "-q",
            "list",
            "--all",
            "-r",
        ]) else {
            panic!("expected a run")
        };
        assert_eq!(o.connect.as_deref(), Some("test:///default"));
        assert!(o.quiet && !o.readonly);
        assert_eq!(o.command, vec!["list", "--all", "-r"]);
    }

    #[test]
    fn versions() {
        let v = format!("{}\n", env!("CARGO_PKG_VERSION"));
        for args in [
            &["virtkit", "-v"][..],
            &["virtkit", "--version"],
            &["virtkit", "--version=short"],
        ] {
            let TopLevel::Exit(text, 0) = top(args) else {
                panic!("expected version")
            };
            assert_eq!(text, v);
        }
        let TopLevel::Exit(text, 0) = top(&["virtkit", "-V"]) else {
            panic!("expected version")
        };
        assert!(
            text.starts_with("Virtkit command line tool of virtkit "),
            "{text}"
        );
    }

    #[test]
    fn man_page_documents_every_visible_command() {
        let page = man_page();
        for c in commands::all().iter().filter(|c| !c.hidden) {
            assert!(
                page.contains(&format!("\\fB{}\\fR", c.name.replace('-', "\\-"))),
                "{} missing",
                c.name
            );
        }
        assert!(!page.contains("_gen"));
    }
}
