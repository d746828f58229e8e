//! `virtkit-vzlist-standin`: vzlist on the stand-in host (see the crate docs).
//!
//! `vzlist [-a | -S] [-H] [-o FIELD[,FIELD...]] [-1] [-L] [CTID|NAME ...]`. Running containers
//! only by default; `-a` all, `-S` stopped only. Fields: `ctid` (also `veid`, `vpsid`),
//! `status`, `name`, `hostname`, `ip`, `onboot`, `ostemplate`, `numproc`; a stand-in told it
//! is older than 4.0 (`standin.conf`) knows no `ctid`. No container to show
//! is "Container(s) not found" on standard error and exit status 1, as vzlist does.

use std::process::ExitCode;

use virtkit_openvz_standins::{Host, RunState};

/// (field, header, width, right-aligned).
const FIELDS: &[(&str, &str, usize, bool)] = &[
    ("ctid", "CTID", 10, true),
    ("veid", "CTID", 10, true),
    ("vpsid", "CTID", 10, true),
    ("numproc", "NPROC", 10, true),
    ("status", "STATUS", 9, false),
    ("ip", "IP_ADDR", 15, false),
    ("hostname", "HOSTNAME", 10, false),
    ("name", "NAME", 10, false),
    ("onboot", "ONBOOT", 6, false),
    ("ostemplate", "OSTEMPLATE", 10, false),
];

const DEFAULT: &str = "ctid,numproc,status,ip,hostname";

fn value(h: &Host, ctid: u32, field: &str) -> String {
    let conf = h.config(ctid).unwrap_or_default();
    let st = h.state(ctid);
    let get = |k: &str| conf.get(k).unwrap_or("-").to_string();
    match field {
        "ctid" | "veid" | "vpsid" => ctid.to_string(),
        "numproc" => {
            if st == RunState::Stopped {
                "-".into()
            } else {
                "1".into()
            }
        }
        // A frozen container still runs as far as vzlist can tell.
        "status" => {
            if st == RunState::Stopped {
                "stopped".into()
            } else {
                "running".into()
            }
        }
        "ip" => conf.get("IP_ADDRESS").map_or("-".into(), |v| {
            v.split_whitespace().collect::<Vec<_>>().join(" ")
        }),
        "hostname" => get("HOSTNAME"),
        "name" => get("NAME"),
        "onboot" => get("ONBOOT"),
        _ => get("OSTEMPLATE"),
    }
}

fn run(args: &[String]) -> Result<String, (u8, String)> {
    let (mut all, mut stopped, mut header, mut fields) = (false, false, true, DEFAULT.to_string());
    let mut wanted = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-a" | "--all" => all = true,
            "-S" | "--stopped" => stopped = true,
            "-H" | "--no-header" => header = false,
            "-1" => {
                header = false;
                fields = "ctid".into();
            }
            "-L" | "--list" => {
                return Ok(FIELDS
                    .iter()
                    .map(|(f, h, _, _)| format!("{f:<12}{h}\n"))
                    .collect());
            }
            "-o" | "--output" => {
                i += 1;
                fields = args
                    .get(i)
                    .cloned()
                    .ok_or((1, "vzlist: option requires an argument -- 'o'".to_string()))?;
            }
            _ if a.starts_with("-o") => fields = a[2..].to_string(),
            _ if a.starts_with("--output=") => fields = a["--output=".len()..].to_string(),
            _ if a.starts_with('-') => {
                return Err((
                    1,
                    format!("vzlist: invalid option -- '{}'", a.trim_start_matches('-')),
                ));
            }
            _ => wanted.push(a.to_string()),
        }
        i += 1;
    }
    // The stand-in's model of history: `ctid` is vzctl 4's name of the `veid`/`vpsid` column.
    let h = Host::from_env("vzlist")?;
    let old = h.major() < 4;
    let cols: Vec<&(&str, &str, usize, bool)> = fields
        .split(',')
        .map(|f| {
            FIELDS
                .iter()
                .find(|(n, ..)| *n == f && !(old && f == "ctid"))
                .ok_or((1, format!("Unknown field: {f}")))
        })
        .collect::<Result<_, _>>()?;
    let mut ctids = Vec::new();
    if wanted.is_empty() {
        ctids = h.ctids();
    } else {
        for w in &wanted {
            // A name or CTID that is not there is simply not listed.
            if let Ok(c) = h.resolve(w)
                && h.conf_path(c).exists()
            {
                ctids.push(c);
            }
        }
    }
    let ctids: Vec<u32> = ctids
        .into_iter()
        .filter(|c| {
            let running = h.state(*c) != RunState::Stopped;
            if stopped {
                !running
            } else {
                all || running || !wanted.is_empty()
            }
        })
        .collect();
    if ctids.is_empty() {
        return Err((1, "Container(s) not found".into()));
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (j, (cell, (_, _, width, right))) in cells.iter().zip(&cols).enumerate() {
            if j > 0 {
                s.push(' ');
            }
            if *right {
                s.push_str(&format!("{cell:>width$}"));
            } else {
                s.push_str(&format!("{cell:<width$}"));
            }
        }
        format!("{}\n", s.trim_end())
    };
    let mut out = String::new();
    if header {
        out.push_str(&line(
            cols.iter().map(|(_, h, _, _)| h.to_string()).collect(),
        ));
    }
    for c in ctids {
        out.push_str(&line(cols.iter().map(|(f, ..)| value(&h, c, f)).collect()));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err((code, msg)) => {
            eprintln!("{msg}");
            ExitCode::from(code)
        }
    }
}
