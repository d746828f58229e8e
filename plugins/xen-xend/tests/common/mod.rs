//! A xend peer started for one test and the `virtkit` command pointed at it, over the Xen test
//! support (`virtkit_test_support::xen`), which builds the peer, the plugin and the command.
#![allow(dead_code)]

use std::process::Output;

use virtkit_test_support::xen;

/// A xend peer seeded from the corpus, and the command on its socket.
pub struct Peer(xen::Peer);

impl Peer {
    /// A peer seeded from the corpus, with extra arguments.
    pub fn start(extra: &[&str]) -> Peer {
        Peer(xen::Peer::xend(extra))
    }

    /// The peer's own directory (removed with it).
    pub fn dir(&self) -> &std::path::Path {
        self.0.dir()
    }

    /// The URI of the peer (the legacy socket-path form).
    pub fn uri(&self) -> String {
        self.0.uri()
    }

    /// `virtkit -c URI ARGS` (with `-r` first when `ro`).
    pub fn virtkit(&self, ro: bool, args: &[&str]) -> Output {
        virtkit_at(&self.uri(), ro, args, &[])
    }

    /// Runs and returns stdout; fails the test when the command fails.
    pub fn ok(&self, args: &[&str]) -> String {
        xen::succeeds(&mut command(&self.uri(), false, args))
    }

    /// Runs, expects failure, returns stderr.
    pub fn fails(&self, ro: bool, args: &[&str]) -> String {
        xen::fails(&mut command(&self.uri(), ro, args))
    }
}

/// `virtkit [-r] -c URI ARGS` with only the xend member installed.
fn command(uri: &str, ro: bool, args: &[&str]) -> std::process::Command {
    let mut c = xen::virtkit(&xen::members_dir(&["xend"]));
    if ro {
        c.arg("-r");
    }
    c.args(["-c", uri]).args(args);
    c
}

/// `virtkit [-r] -c URI ARGS` with only the xend member installed, and extra environment.
pub fn virtkit_at(uri: &str, ro: bool, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = command(uri, ro, args);
    c.envs(env.iter().copied());
    xen::output(&mut c)
}

/// libvirt's Xen test data: `../shared/corpus/<category>/<file>`.
pub fn corpus_file(category: &str, file: &str) -> std::path::PathBuf {
    xen::corpus_dir(category).join(file)
}
