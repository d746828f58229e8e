//! The test-driver cases of the shared corpus (`shared/corpus/testdriver/cases.tsv`), run through
//! `virtkit` instead of `virsh`.
//!
//! The expected files come from the virsh 0.4 era. `domid`, `domname` and `domuuid` print the
//! same today, so those are compared with the files. `list` and `nodeinfo` changed format in
//! virsh 9.0 (dynamic table columns; `KiB` instead of `kB`), which is the format virtkit follows:
//! those cases are compared with the live virsh 9.0 running the same command instead.

mod common;

use std::path::PathBuf;

use common::*;

fn corpus_dir() -> PathBuf {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/testdriver"
    ));
    assert!(
        d.is_dir(),
        "the shared corpus is missing at {}",
        d.display()
    );
    d.canonicalize().expect("canonical corpus path")
}

struct Case {
    line: usize,
    args: Vec<String>,
    expected: PathBuf,
}

fn cases() -> Vec<Case> {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let abs = dir.to_str().expect("UTF-8 corpus path");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 2, "cases.tsv line {}: too few columns", i + 1);
        let input = cols[0].replace("<ABS_DIR>", abs);
        let mut words: Vec<String> = input.split_whitespace().map(str::to_string).collect();
        assert_eq!(
            words.first().map(String::as_str),
            Some("virsh"),
            "cases.tsv line {}",
            i + 1
        );
        words.remove(0);
        out.push(Case {
            line: i + 1,
            args: words,
            expected: dir.join(cols[1]),
        });
    }
    out
}

fn command_of(c: &Case) -> &str {
    // The command is the first word after the options (`--connect URI`).
    let mut it = c.args.iter();
    while let Some(w) = it.next() {
        if w == "--connect" || w == "-c" {
            it.next();
        } else if !w.starts_with('-') {
            return w;
        }
    }
    ""
}

#[test]
fn unchanged_commands_match_the_corpus_files() {
    let mut n = 0;
    for c in cases()
        .iter()
        .filter(|c| matches!(command_of(c), "domid" | "domname" | "domuuid"))
    {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let r = virtkit(&args);
        let expected = std::fs::read_to_string(&c.expected).expect("expected file");
        assert_eq!(
            r.stdout,
            expected,
            "cases.tsv line {}: virtkit {}",
            c.line,
            args.join(" ")
        );
        assert_eq!(
            (r.stderr.as_str(), r.code),
            ("", 0),
            "cases.tsv line {}",
            c.line
        );
        n += 1;
    }
    assert!(
        n >= 6,
        "expected the domid/domname/domuuid cases, found {n}"
    );
}

#[test]
fn reformatted_commands_match_live_virsh() {
    let Some(v) = virsh_or_skip() else {
        return;
    };
    let mut n = 0;
    for c in cases()
        .iter()
        .filter(|c| matches!(command_of(c), "list" | "nodeinfo"))
    {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let theirs = virsh(&v, &args, None);
        let ours = virtkit(&args);
        assert_same(&format!("cases.tsv line {}", c.line), &theirs, &ours);
        n += 1;
    }
    assert!(n >= 2, "expected the list/nodeinfo cases, found {n}");
}
