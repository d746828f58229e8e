//! Completion, as virsh 9.0 completes: command names, the options of the command being typed,
//! and the values of its arguments (domain and network names from the live connection, filtered
//! by the state the command accepts; file paths). One function answers both the interactive
//! shell's Tab and `virtkit complete -- WORDS`, which the bash, zsh and fish scripts call.
//!
//! The rules follow virsh's behaviour (checked against virsh 9.0 in the CLI tests):
//! * the first word completes to visible command names, in help order;
//! * after a command, an empty word or one starting with `-` completes to the options not given
//!   yet (`--name`), in the command's order;
//! * a word that is the value of an option (`--domain te`, or a positional word such as
//!   `dominfo te`) completes to that option's values: domains for `domain`, networks for
//!   `network`, UUIDs for the UUID-to-name commands, files for `file` (the shell lists them; in
//!   `complete`, as in virsh, files are left to the calling shell);
//! * `help` completes its argument to command names.
//!
//! Completion never reports an error: a connection that cannot be opened, or a driver call that
//! fails, gives no candidates.

use std::sync::mpsc;
use std::time::Duration;

use virtkit::{Connect, DomainState};

use crate::commands::{CmdDef, OptKind, find_command};

/// What the word being completed is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// Fixed candidates (commands, options).
    Words(Vec<String>),
    /// Domains in the states a command accepts.
    Domains(DomainFilter),
    /// The UUIDs of every domain (`domname`).
    DomainUuids,
    /// Networks in the states a command accepts.
    Networks(NetworkFilter),
    /// The UUIDs of every network (`net-name`).
    NetworkUuids,
    /// File paths.
    Files,
    /// Nothing to offer.
    Nothing,
}

/// Which domains a command's `domain` argument offers (virsh's completer flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DomainFilter {
    All,
    Active,
    Inactive,
    Running,
    Paused,
    Persistent,
}

/// Which networks a command's `network` argument offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NetworkFilter {
    All,
    Active,
    Inactive,
    Persistent,
}

/// The domains a command accepts, as virsh 9.0 offers them.
fn domain_filter(cmd: &str) -> DomainFilter {
    match cmd {
        "start" => DomainFilter::Inactive,
        "suspend" => DomainFilter::Running,
        "resume" => DomainFilter::Paused,
        "destroy" | "domdisplay" | "domid" | "dump" | "reboot" | "save" | "shutdown"
        | "ttyconsole" | "vncdisplay" => DomainFilter::Active,
        "autostart" | "undefine" => DomainFilter::Persistent,
        _ => DomainFilter::All,
    }
}

/// The networks a command accepts.
fn network_filter(cmd: &str) -> NetworkFilter {
    match cmd {
        "net-start" => NetworkFilter::Inactive,
        "net-destroy" => NetworkFilter::Active,
        "net-autostart" | "net-undefine" => NetworkFilter::Persistent,
        _ => NetworkFilter::All,
    }
}

/// What completes the value of option `opt` of `cmd`.
fn value_want(cmd: &CmdDef, opt: &str) -> Want {
    match (cmd.name, opt) {
        ("domname", "domain") => Want::DomainUuids,
        ("net-name", "network") => Want::NetworkUuids,
        ("help", "command") => Want::Words(
            crate::commands::all()
                .filter(|c| !c.hidden)
                .map(|c| c.name.to_string())
                .collect(),
        ),
        (_, "domain") => Want::Domains(domain_filter(cmd.name)),
        (_, "network") => Want::Networks(network_filter(cmd.name)),
        (_, "file") => Want::Files,
        _ => Want::Nothing,
    }
}

/// Decides what the last of `words` (the word being typed, possibly empty) completes to.
/// `words` are the words of the command being typed, the command name first.
pub(crate) fn want(words: &[String]) -> Want {
    let empty = String::new();
    let partial = words.last().unwrap_or(&empty);
    if words.len() <= 1 {
        return Want::Words(
            crate::commands::all()
                .filter(|c| !c.hidden)
                .map(|c| c.name.to_string())
                .collect(),
        );
    }
    let Some(cmd) = find_command(&words[0]) else {
        return Want::Nothing;
    };
    // Walk the complete words as the parser would.
    let mut used: Vec<&str> = Vec::new();
    let mut pending_value: Option<&str> = None;
    let mut data_only = false;
    for w in &words[1..words.len() - 1] {
        if let Some(o) = pending_value.take() {
            let _ = o;
            continue;
        }
        if !data_only && w == "--" {
            data_only = true;
            continue;
        }
        if !data_only && w.len() > 2 && w.starts_with("--") {
            let (name, inline) = match w[2..].split_once('=') {
                Some((n, _)) => (n, true),
                None => (&w[2..], false),
            };
            if let Some(o) = cmd.opts.iter().find(|o| o.name == name) {
                used.push(o.name);
                if o.kind != OptKind::Bool && !inline {
                    pending_value = Some(o.name);
                }
            }
            continue;
        }
        if let Some(o) = cmd
            .opts
            .iter()
            .find(|o| o.positional && o.kind != OptKind::Bool && !used.contains(&o.name))
        {
            used.push(o.name);
        }
    }
    if let Some(o) = pending_value {
        return value_want(cmd, o);
    }
    let unused_options = || {
        Want::Words(
            cmd.opts
                .iter()
                .filter(|o| !used.contains(&o.name))
                .map(|o| format!("--{}", o.name))
                .collect(),
        )
    };
    if !data_only && (partial.is_empty() || partial.starts_with('-')) {
        return unused_options();
    }
    match cmd
        .opts
        .iter()
        .find(|o| o.positional && o.kind != OptKind::Bool && !used.contains(&o.name))
    {
        Some(o) => value_want(cmd, o.name),
        None => Want::Nothing,
    }
}

/// The names (or UUIDs) that `want` asks of the connection, unfiltered by prefix.
fn names_from(conn: &Connect, want: &Want) -> Vec<String> {
    match want {
        Want::Domains(filter) => domains(conn, *filter, false),
        Want::DomainUuids => domains(conn, DomainFilter::All, true),
        Want::Networks(filter) => networks(conn, *filter, false),
        Want::NetworkUuids => networks(conn, NetworkFilter::All, true),
        _ => Vec::new(),
    }
}

fn domains(conn: &Connect, filter: DomainFilter, uuids: bool) -> Vec<String> {
    let mut doms = Vec::new();
    for id in conn.list_domains().unwrap_or_default() {
        if let Ok(d) = conn.lookup_domain_by_id(id) {
            doms.push(d);
        }
    }
    for name in conn.list_defined_domains().unwrap_or_default() {
        if let Ok(d) = conn.lookup_domain_by_name(&name) {
            doms.push(d);
        }
    }
    doms.into_iter()
        .filter(|d| {
            let state = d.state().map(|(s, _)| s).ok();
            let active = d.id() >= 0 && !matches!(state, Some(DomainState::Shutoff));
            match filter {
                DomainFilter::All => true,
                DomainFilter::Active => active,
                DomainFilter::Inactive => !active,
                DomainFilter::Running => {
                    active && matches!(state, Some(DomainState::Running | DomainState::Blocked))
                }
                DomainFilter::Paused => matches!(state, Some(DomainState::Paused)),
                DomainFilter::Persistent => d.is_persistent().unwrap_or(true),
            }
        })
        .map(|d| if uuids { d.uuid_string() } else { d.name() })
        .collect()
}

fn networks(conn: &Connect, filter: NetworkFilter, uuids: bool) -> Vec<String> {
    let active = conn.list_networks().unwrap_or_default();
    let inactive = conn.list_defined_networks().unwrap_or_default();
    let names: Vec<(String, bool)> = active
        .into_iter()
        .map(|n| (n, true))
        .chain(inactive.into_iter().map(|n| (n, false)))
        .collect();
    names
        .into_iter()
        .filter(|(name, is_active)| match filter {
            NetworkFilter::All => true,
            NetworkFilter::Active => *is_active,
            NetworkFilter::Inactive => !*is_active,
            NetworkFilter::Persistent => conn
                .lookup_network_by_name(name)
                .and_then(|n| n.is_persistent())
                .unwrap_or(true),
        })
        .filter_map(|(name, _)| {
            if uuids {
                conn.lookup_network_by_name(&name)
                    .ok()
                    .map(|n| n.uuid_string())
            } else {
                Some(name)
            }
        })
        .collect()
}

/// How long completion waits for the driver before offering nothing (the answer is dropped).
pub(crate) const DRIVER_WAIT: Duration = Duration::from_millis(700);

/// The names `want` asks of `conn`, asked on another thread and waited for at most
/// [`DRIVER_WAIT`]: a slow driver never blocks the shell.
pub(crate) fn names_bounded(conn: &Connect, want: &Want) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    let conn = conn.clone();
    let want = want.clone();
    let spawned = std::thread::Builder::new()
        .name("virtkit-complete".into())
        .spawn(move || {
            let _ = tx.send(names_from(&conn, &want));
        });
    if spawned.is_err() {
        return Vec::new();
    }
    rx.recv_timeout(DRIVER_WAIT).unwrap_or_default()
}

/// The candidates for the last of `words`, prefix-filtered, without files: what `complete`
/// prints. `conn` is asked only when names are wanted.
pub(crate) fn candidates(words: &[String], conn: impl FnOnce() -> Option<Connect>) -> Vec<String> {
    let empty = String::new();
    let partial = words.last().unwrap_or(&empty);
    let list = match want(words) {
        Want::Words(w) => w,
        Want::Nothing | Want::Files => Vec::new(),
        names => match conn() {
            Some(c) => names_bounded(&c, &names),
            None => Vec::new(),
        },
    };
    list.into_iter()
        .filter(|c| c.starts_with(partial.as_str()))
        .collect()
}

/// Splits a shell line up to the cursor into the words of the command being typed (after the
/// last `;`), the last one being the word under the cursor (empty after a blank), and where that
/// word starts in `line`.
pub(crate) fn split_for_completion(line: &str) -> (Vec<String>, usize) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut in_word = false;
    let (mut single, mut double) = (false, false);
    let mut escape = false;
    for (i, c) in line.char_indices() {
        if escape {
            word.push(c);
            escape = false;
            continue;
        }
        if !single && !double && matches!(c, ' ' | '\t' | ';') {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            if c == ';' {
                words.clear();
            }
            continue;
        }
        if !in_word {
            in_word = true;
            start = i;
        }
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => escape = true,
            _ => word.push(c),
        }
    }
    if in_word {
        words.push(word);
    } else {
        words.push(String::new());
        start = line.len();
    }
    (words, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_for_completion(s).0
    }

    #[test]
    fn what_each_position_completes_to() {
        assert!(matches!(want(&w("domi")), Want::Words(v) if v.contains(&"dominfo".to_string())));
        assert_eq!(want(&w("dominfo ")), Want::Words(vec!["--domain".into()]));
        assert_eq!(want(&w("dominfo te")), Want::Domains(DomainFilter::All));
        assert_eq!(
            want(&w("start --domain ")),
            Want::Domains(DomainFilter::Inactive)
        );
        assert_eq!(want(&w("suspend t")), Want::Domains(DomainFilter::Running));
        assert_eq!(want(&w("dominfo test ")), Want::Words(vec![]));
        assert_eq!(want(&w("domname ")), Want::Words(vec!["--domain".into()]));
        assert_eq!(want(&w("domname 6")), Want::DomainUuids);
        assert_eq!(
            want(&w("net-start d")),
            Want::Networks(NetworkFilter::Inactive)
        );
        assert_eq!(want(&w("define --file ")), Want::Files);
        assert_eq!(want(&w("define x")), Want::Files);
        assert_eq!(want(&w("bogus x")), Want::Nothing);
        assert_eq!(
            want(&w("list; dominfo te")),
            Want::Domains(DomainFilter::All)
        );
        // After a positional domain, the options still free, in the command's order.
        let setmem = find_command("setmem").unwrap();
        let rest: Vec<String> = setmem
            .opts
            .iter()
            .filter(|o| o.name != "domain")
            .map(|o| format!("--{}", o.name))
            .collect();
        assert!(!rest.is_empty());
        assert_eq!(want(&w("setmem test ")), Want::Words(rest));
    }

    #[test]
    fn splitting_follows_quotes_and_separators() {
        assert_eq!(
            split_for_completion("dominfo te"),
            (vec!["dominfo".into(), "te".into()], 8)
        );
        assert_eq!(
            split_for_completion("dominfo "),
            (vec!["dominfo".into(), String::new()], 8)
        );
        assert_eq!(split_for_completion(""), (vec![String::new()], 0));
        assert_eq!(
            split_for_completion("list; start 'my d"),
            (vec!["start".into(), "my d".into()], 12)
        );
    }
}
