//! The shell completion scripts in docs/completions, run by the real shells: bash and fish
//! complete domain names, command names and top-level options through `virtkit complete`;
//! zsh's script is checked for syntax only (driving zsh's completion system needs its zpty
//! module and a full `compinit`, which this test does not set up).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/completions")
        .join(name)
}

/// A shell command with `virtkit` first on PATH and the test plugin's directory.
fn shell(program: &std::path::Path) -> Command {
    let mut c = base_command(program);
    let bin = virtkit_bin().parent().unwrap().to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(dirs).unwrap())
        .env("VIRTKIT_DRIVER_DIR", plugin_dir());
    c
}

fn bash_complete(bash: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _virtkit; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script("virtkit.bash").display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = shell(bash)
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_through_virtkit_complete() {
    let bash = virtkit_test_support::require!(virtkit_test_support::BASH);
    assert_eq!(
        bash_complete(
            &bash,
            &["virtkit", "-c", "test:///default", "dominfo", "te"]
        ),
        ["test"]
    );
    assert_eq!(
        bash_complete(
            &bash,
            &[
                "virtkit",
                "-c",
                "test:///default",
                "net-info",
                "--network",
                ""
            ]
        ),
        ["default"]
    );
    // `start` offers inactive domains only: the test node's one domain runs.
    assert!(
        bash_complete(
            &bash,
            &["virtkit", "-c", "test:///default", "start", "--domain", ""]
        )
        .is_empty()
    );
    let cmds = bash_complete(&bash, &["virtkit", "-q", "domi"]);
    for c in ["domid", "domiflist", "dominfo"] {
        assert!(cmds.iter().any(|x| x == c), "{c} missing from {cmds:?}");
    }
    assert_eq!(bash_complete(&bash, &["virtkit", "--conn"]), ["--connect"]);
    // The URI after -c is not completed as a command.
    assert!(bash_complete(&bash, &["virtkit", "-c", ""]).is_empty());
}

#[test]
fn fish_completes_through_virtkit_complete() {
    let fish = virtkit_test_support::require!(virtkit_test_support::FISH);
    let run = |line: &str| -> Vec<String> {
        let program = format!(
            "source '{}'; complete -C '{line}'",
            script("virtkit.fish").display()
        );
        let out = shell(&fish)
            .args(["--no-config", "-c", &program])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(run("virtkit -c test:///default dominfo te"), ["test"]);
    assert_eq!(
        run("virtkit -c test:///default suspend --domain "),
        ["test"]
    );
    let cmds = run("virtkit -q domi");
    assert!(cmds.iter().any(|c| c == "dominfo"), "{cmds:?}");
}

#[test]
fn zsh_script_is_valid_zsh() {
    let zsh = virtkit_test_support::require!(virtkit_test_support::ZSH);
    let out = Command::new(zsh)
        .arg("-n")
        .arg(script("_virtkit"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
