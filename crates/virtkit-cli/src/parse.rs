//! virsh's command language: splitting a command string into commands and words, and matching
//! words against a command's options.
//!
//! A command string is split like virsh does: commands end at `;` or a newline, words at blanks;
//! `'...'` quotes literally, `"..."` quotes with `\` escapes, `\` escapes one character outside
//! single quotes, `\` + newline is removed, and a word starting with `#` comments out the rest
//! of the line. Options are `--name value`, `--name=value` or, for the options that allow it,
//! positional; `--` makes every later word positional.

use crate::commands::{CmdDef, OptDef, OptKind, find_command};

/// The options given to one command.
#[derive(Debug, Default)]
pub(crate) struct Args {
    set: Vec<(&'static str, Option<String>)>,
}

impl Args {
    /// The value of a string or number option.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.set
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether a boolean option was given.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.set.iter().any(|(n, _)| *n == name)
    }

    /// Every value given to an option that takes the remaining words.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.set
            .iter()
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.set.iter().any(|(n, _)| *n == name)
    }
}

/// A parsed command, ready to run.
pub(crate) struct Invocation {
    pub def: &'static CmdDef,
    pub args: Args,
}

/// Splits a command string into commands (each a list of words). Empty commands are dropped.
pub(crate) fn split_string(text: &str) -> Result<Vec<Vec<String>>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut cmds = Vec::new();
    let mut words: Vec<String> = Vec::new();
    loop {
        // Skip blanks and backslash-newline.
        while i < chars.len() {
            match chars[i] {
                ' ' | '\t' => i += 1,
                '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
                _ => break,
            }
        }
        if i >= chars.len() {
            break;
        }
        match chars[i] {
            ';' | '\n' => {
                i += 1;
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let mut word = String::new();
        let (mut single, mut double) = (false, false);
        while i < chars.len() {
            let c = chars[i];
            if !single && !double && matches!(c, ' ' | '\t' | ';' | '\n') {
                break;
            }
            if !double && c == '\'' {
                single = !single;
                i += 1;
                continue;
            }
            if !single && c == '"' {
                double = !double;
                i += 1;
                continue;
            }
            if !single && c == '\\' {
                i += 1;
                match chars.get(i) {
                    None => return Err("dangling \\".into()),
                    Some('\n') => {
                        i += 1;
                        continue;
                    }
                    Some(&e) => {
                        word.push(e);
                        i += 1;
                        continue;
                    }
                }
            }
            word.push(c);
            i += 1;
        }
        if double {
            return Err("missing \"".into());
        }
        words.push(word);
    }
    if !words.is_empty() {
        cmds.push(words);
    }
    Ok(cmds)
}

/// Parses a whole command string; any error means nothing runs.
pub(crate) fn parse_string(text: &str) -> Result<Vec<Invocation>, String> {
    split_string(text)?
        .iter()
        .map(|words| parse_words(words))
        .collect()
}

/// Parses one command given as separate process arguments.
pub(crate) fn parse_argv(argv: &[String]) -> Result<Invocation, String> {
    parse_words(argv)
}

fn value_type(o: &OptDef) -> &'static str {
    match o.kind {
        OptKind::Number => "number",
        _ => "string",
    }
}

/// Matches the words of one command (the first is its name) against its options.
pub(crate) fn parse_words(words: &[String]) -> Result<Invocation, String> {
    let Some(name) = words.first() else {
        return Err("missing command".into());
    };
    let def = find_command(name).ok_or_else(|| format!("unknown command: '{name}'"))?;
    let mut args = Args::default();
    let mut data_only = false;
    let mut rest = words[1..].iter();
    while let Some(w) = rest.next() {
        if !data_only && w == "--" {
            data_only = true;
            continue;
        }
        if !data_only && w.len() > 2 && w.starts_with("--") {
            let (oname, inline) = match w[2..].split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (&w[2..], None),
            };
            let opt = def.opts.iter().find(|o| o.name == oname).ok_or_else(|| {
                format!("command '{}' doesn't support option --{oname}", def.name)
            })?;
            if args.has(opt.name) {
                return Err(format!("option --{} already seen", opt.name));
            }
            if opt.kind == OptKind::Bool {
                if inline.is_some() {
                    return Err(format!("invalid '=' after option --{}", opt.name));
                }
                args.set.push((opt.name, None));
            } else {
                let v = match inline {
                    Some(v) => v,
                    None => rest.next().cloned().ok_or_else(|| {
                        format!("expected syntax: --{} <{}>", opt.name, value_type(opt))
                    })?,
                };
                args.set.push((opt.name, Some(v)));
            }
            continue;
        }
        let slot = def
            .opts
            .iter()
            .find(|o| o.positional && (o.kind == OptKind::Argv || !args.has(o.name)))
            .ok_or_else(|| format!("unexpected data '{w}'"))?;
        args.set.push((slot.name, Some(w.clone())));
    }
    if let Some(o) = def.opts.iter().find(|o| o.required && !args.has(o.name)) {
        return Err(if o.positional {
            format!("command '{}' requires <{}> option", def.name, o.name)
        } else {
            format!("command '{}' requires --{} option", def.name, o.name)
        });
    }
    Ok(Invocation { def, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<Vec<String>> {
        split_string(s).unwrap()
    }

    #[test]
    fn splits_commands_and_words() {
        assert_eq!(
            split("suspend test; domstate test"),
            vec![vec!["suspend", "test"], vec!["domstate", "test"]]
        );
        assert_eq!(split("a;;b\n c "), vec![vec!["a"], vec!["b"], vec!["c"]]);
        assert_eq!(split("  "), Vec::<Vec<String>>::new());
    }

    #[test]
    fn quotes_escapes_and_comments() {
        assert_eq!(
            split(r#"x "te st" 'a;b' c\ d"#),
            vec![vec!["x", "te st", "a;b", "c d"]]
        );
        assert_eq!(split(r#"x "a\"b" 'a\b'"#), vec![vec!["x", "a\"b", "a\\b"]]);
        assert_eq!(
            split("x y # comment; z\nw"),
            vec![vec!["x", "y"], vec!["w"]]
        );
        assert_eq!(split("x \\\ny"), vec![vec!["x", "y"]]);
        assert_eq!(split("x 'unclosed"), vec![vec!["x", "unclosed"]]);
        assert_eq!(split_string("x \"open").unwrap_err(), "missing \"");
        assert_eq!(split_string("x y\\").unwrap_err(), "dangling \\");
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_positional_and_named() {
        let inv = parse_words(&words("domstate test --reason")).unwrap();
        assert_eq!(inv.args.get("domain"), Some("test"));
        assert!(inv.args.flag("reason"));
        let inv = parse_words(&words("domstate --domain=test")).unwrap();
        assert_eq!(inv.args.get("domain"), Some("test"));
        let inv = parse_words(&words("domstate -- --odd")).unwrap();
        assert_eq!(inv.args.get("domain"), Some("--odd"));
    }

    #[test]
    fn option_errors_use_virsh_wording() {
        let e = |s: &str| parse_words(&words(s)).err().unwrap();
        assert_eq!(e("bogus"), "unknown command: 'bogus'");
        assert_eq!(e("dominfo"), "command 'dominfo' requires <domain> option");
        assert_eq!(
            e("list --bogus"),
            "command 'list' doesn't support option --bogus"
        );
        assert_eq!(e("dominfo test extra"), "unexpected data 'extra'");
        assert_eq!(e("domstate --domain"), "expected syntax: --domain <string>");
        assert_eq!(e("list --all --all"), "option --all already seen");
        assert_eq!(e("list --all=x"), "invalid '=' after option --all");
    }
}
