//! `virtkit-conformance PLUGIN [--with PLUGIN]... [--declining PLUGIN]... [--uri URI]
//! [--format text|json]`: runs the conformance suite on one plugin file (with other members of
//! its stack, some of which may have to decline). Exits 0 when no check failed, 1 when one did, 2 on a usage error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs the virtkit conformance suite on a driver plugin.
#[derive(Parser, Debug)]
#[command(name = "virtkit-conformance", version)]
struct Cli {
    /// The plugin file (libvirtkit_driver_<scheme>.so), loaded through the real loader.
    plugin: PathBuf,
    /// Connect here instead of the driver's sandbox URI; the suite creates and removes
    /// domains and networks there. `{tmpdir}` is replaced by a fresh directory.
    #[arg(long)]
    uri: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Threads of the concurrency check.
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Another member of the plugin's stack (same scheme), loaded beside it; repeatable. The
    /// checks then judge the stack's connection.
    #[arg(long = "with", value_name = "PLUGIN")]
    with: Vec<PathBuf>,
    /// A member of the plugin's stack that must not open on this host (it declines the URI or
    /// fails to open); loaded beside it, it must be listed among the members that did not open,
    /// with its reason, and the checks judge the stack without it. Repeatable.
    #[arg(long = "declining", value_name = "PLUGIN")]
    declining: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = virtkit_conformance::Options {
        uri: cli.uri,
        threads: cli.threads,
        with: cli.with,
        declining: cli.declining,
    };
    let report = virtkit_conformance::run(&cli.plugin, &opts);
    let text = match cli.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json() + "\n",
    };
    // A closed pipe (`| head`) is not an error of the suite.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
