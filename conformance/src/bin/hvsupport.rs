//! `virtkit-hvsupport [--check] [--root DIR] [--profile-dir DIR]`: writes (or, with `--check`,
//! verifies) `docs/hvsupport.md` from the in-tree plugins built in the profile directory (by
//! default the directory of this executable). `cargo xtask hvsupport` runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use virtkit_conformance::hvsupport::{DOC_PATH, document, load_in_tree};

/// Generates the hypervisor support matrix from the in-tree plugins.
#[derive(Parser, Debug)]
#[command(name = "virtkit-hvsupport")]
struct Cli {
    /// Only check that the committed file is up to date.
    #[arg(long)]
    check: bool,
    /// The workspace root.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
    /// Where the plugins were built (`target/<profile>`); default: this executable's directory.
    #[arg(long)]
    profile_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let profile = cli
        .profile_dir
        .or_else(|| std::env::current_exe().ok()?.parent().map(PathBuf::from));
    let Some(profile) = profile else {
        eprintln!(
            "virtkit-hvsupport: cannot tell where the plugins were built; pass --profile-dir"
        );
        return ExitCode::from(2);
    };
    let drivers = match load_in_tree(&cli.root, &profile) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("virtkit-hvsupport: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = document(&drivers);
    let path = cli.root.join(DOC_PATH);
    if cli.check {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            println!("{} is up to date", path.display());
            return ExitCode::SUCCESS;
        }
        eprintln!("{} is stale: run `cargo xtask hvsupport`", path.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("virtkit-hvsupport: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let names: Vec<&str> = drivers.iter().map(|d| d.name.as_str()).collect();
    println!("wrote {} ({})", path.display(), names.join(", "));
    ExitCode::SUCCESS
}
