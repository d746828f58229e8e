//! What the tests of the Xen members share (feature `xen`):
//!
//! * [`Peer`]: `virtkit-xend-peer` or `virtkit-xenstore-peer` started for one test, on a socket
//!   in a directory of its own, killed and reaped when dropped. The peers are built (once per
//!   test process, a no-op when fresh) into the test binary's build directory, like the plugins
//!   of [`build_dir`](crate::build_dir).
//! * [`members_dir`]: a driver directory holding only some of the build tree's Xen members, so
//!   a test of "the stack with only xen-xend installed" is one whatever else the tree holds.
//! * [`virtkit`]: the build tree's `virtkit` command on such a directory.
//! * [`Corpus`]: one category of libvirt's Xen test data (`../shared/corpus/<category>`), its
//!   `cases.tsv` rows, and [`Failures`], which collects what went wrong over the rows and fails
//!   the test once with all of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The packages of the two peer servers.
const PEER_PACKAGES: &[&str] = &["virtkit-xend-peer", "virtkit-xenstore-peer"];

/// The build directory with the peers (and, through [`build_dir`](crate::build_dir), the
/// plugins and the `virtkit` command) built from the current sources.
fn peers_built() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    crate::build_dir();
    match BUILT.get_or_init(|| crate::build_packages(PEER_PACKAGES.iter().copied())) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    }
}

/// `../shared/corpus/<category>` (libvirt's own test data, beside the workspace); a missing
/// corpus fails the test.
pub fn corpus_dir(category: &str) -> PathBuf {
    let dir = crate::workspace_root()
        .join("../shared/corpus")
        .join(category);
    assert!(
        dir.is_dir(),
        "the shared corpus is missing at {}",
        dir.display()
    );
    dir
}

/// Which peer server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    /// `virtkit-xend-peer`, seeded from the corpus's xend outputs (`sexpr2xml`).
    Xend,
    /// `virtkit-xenstore-peer`.
    Store,
}

/// A peer server started for one test; killed, reaped and its directory removed on drop.
pub struct Peer {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Peer {
    /// Starts a peer on `<its directory>/socket` with `args` after `--socket PATH` (and, for
    /// xend, `--seed` of the corpus), and waits until it listens.
    pub fn start(kind: PeerKind, args: &[&str]) -> Peer {
        let dir = tempfile::Builder::new()
            .prefix("virtkit-xen-peer-")
            .tempdir()
            .expect("a temporary directory for the peer");
        let socket = dir.path().join("socket");
        let exe = peers_built().join(match kind {
            PeerKind::Xend => "virtkit-xend-peer",
            PeerKind::Store => "virtkit-xenstore-peer",
        });
        let mut c = Command::new(&exe);
        c.arg("--socket").arg(&socket);
        if kind == PeerKind::Xend {
            c.arg("--seed").arg(corpus_dir("sexpr2xml"));
        }
        let child = c
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let mut peer = Peer { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !peer.socket.exists() {
            if let Ok(Some(status)) = peer.child.try_wait() {
                panic!("{} exited before listening: {status}", exe.display());
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on {}",
                exe.display(),
                peer.socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        peer
    }

    /// A xend peer seeded from the corpus, with `args`.
    pub fn xend(args: &[&str]) -> Peer {
        Peer::start(PeerKind::Xend, args)
    }

    /// A xenstore peer holding domain 0 and `guests` guests, with `args`.
    pub fn store(guests: u32, args: &[&str]) -> Peer {
        let guests = guests.to_string();
        let all: Vec<&str> = ["--guests", guests.as_str()]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        Peer::start(PeerKind::Store, &all)
    }

    /// The peer's socket (a xend peer's URI in the legacy socket-path form; a store peer's
    /// `XENSTORED_PATH`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The socket path as a string: a xend peer's URI.
    pub fn uri(&self) -> String {
        self.socket.display().to_string()
    }

    /// The peer's own directory (removed on drop), for its other files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plugin file of a Xen member: `xend` → `libvirtkit_driver_xen_xend.so`.
pub fn member_file(member: &str) -> String {
    format!("libvirtkit_driver_xen_{member}.so")
}

/// A driver directory of the build tree holding only the Xen `members` (`"xend"`, `"store"`,
/// `"hypercall"`, `"xm"`), as links to the build tree's plugins: the stack as a host with only
/// those members installed has it. Made once and kept in the build tree.
pub fn members_dir(members: &[&str]) -> PathBuf {
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let dir = crate::build_dir().join(format!("xen-drivers-{}", sorted.join("-")));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for m in sorted {
        let file = member_file(m);
        let link = dir.join(&file);
        match std::os::unix::fs::symlink(crate::built(&file), &link) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("{}: {e}", link.display()),
        }
    }
    dir
}

/// The build tree's `virtkit` command loading drivers from `drivers` only, without the debug,
/// timeout and xenstore variables of the caller's environment.
pub fn virtkit(drivers: &Path) -> Command {
    let mut c = Command::new(crate::built("virtkit"));
    c.env("VIRTKIT_DRIVER_DIR", drivers)
        .env_remove("VIRTKIT_DEBUG")
        .env_remove("VIRTKIT_XEND_TIMEOUT_MS")
        .env_remove("VIRTKIT_XENSTORE_TIMEOUT_MS")
        .env_remove("XENSTORED_PATH")
        .stdin(Stdio::null());
    c
}

/// Runs `c` and returns its stdout; fails the test (with both outputs) when it fails.
pub fn succeeds(c: &mut Command) -> String {
    let out = output(c);
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `c`, expecting it to fail, and returns its stderr.
pub fn fails(c: &mut Command) -> String {
    let out = output(c);
    assert!(
        !out.status.success(),
        "{c:?} succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `c` and returns what it did.
pub fn output(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

/// One row of a corpus's `cases.tsv`: input file, expected file, parameters, status.
#[derive(Clone, Debug)]
pub struct Case {
    /// The input file (or files) of the row.
    pub input: String,
    /// The expected output file.
    pub expected: String,
    /// The parameters column (`xendConfigVersion=2`, `host_machine=i686`, ...).
    pub params: String,
    /// The status column (`tested`, `cfg->xml`, ...).
    pub status: String,
}

impl Case {
    /// The xend config version of a `xendConfigVersion=N` row; `None` for `?` (a row upstream
    /// did not run). Another parameters column fails the test.
    pub fn config_version(&self) -> Option<u32> {
        self.params
            .strip_prefix("xendConfigVersion=")
            .unwrap_or_else(|| panic!("{}: bad parameters {:?}", self.input, self.params))
            .parse()
            .ok()
    }

    /// The row's name in messages: its input file.
    pub fn name(&self) -> &str {
        &self.input
    }
}

/// One category of the shared Xen corpus and its rows.
pub struct Corpus {
    /// `../shared/corpus/<category>`.
    pub dir: PathBuf,
    /// The rows of its `cases.tsv` (comments and blank lines left out).
    pub cases: Vec<Case>,
}

impl Corpus {
    /// Reads `../shared/corpus/<category>/cases.tsv`; a missing corpus or a row of fewer than
    /// four columns fails the test.
    pub fn open(category: &str) -> Corpus {
        let dir = corpus_dir(category);
        let path = dir.join("cases.tsv");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let cases = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                assert!(cols.len() >= 4, "bad row in {}: {l}", path.display());
                Case {
                    input: cols[0].to_owned(),
                    expected: cols[1].to_owned(),
                    params: cols[2].to_owned(),
                    status: cols[3].to_owned(),
                }
            })
            .collect();
        Corpus { dir, cases }
    }

    /// A file of the category, as text.
    pub fn read(&self, name: &str) -> String {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}

/// The xend config versions (1 to 4) for which `check` holds: how the rows upstream did not run
/// (`xendConfigVersion=?`) are judged.
pub fn versions_where(check: impl Fn(u32) -> bool) -> Vec<u32> {
    (1..=4).filter(|v| check(*v)).collect()
}

/// What went wrong over the rows of a corpus, reported at once at the end.
pub struct Failures {
    what: String,
    total: usize,
    list: Vec<String>,
}

impl Failures {
    /// For `total` rows of `what` (`"sexpr2xml cases"`).
    pub fn new(what: &str, total: usize) -> Failures {
        Failures {
            what: what.to_owned(),
            total,
            list: Vec::new(),
        }
    }

    /// Keeps the error of a row's check, named `name`.
    pub fn check(&mut self, name: impl std::fmt::Display, result: Result<(), String>) {
        if let Err(e) = result {
            self.list.push(format!("{name}: {e}"));
        }
    }

    /// Keeps a failure.
    pub fn push(&mut self, failure: String) {
        self.list.push(failure);
    }

    /// Fails the test with every failure kept, if any.
    #[track_caller]
    pub fn assert_none(self) {
        assert!(
            self.list.is_empty(),
            "{} of {} {} failed:\n{}",
            self.list.len(),
            self.total,
            self.what,
            self.list.join("\n\n")
        );
    }
}

/// A converter's text output against the expected text: first equal once both are read by
/// `parse` (a difference there is one of meaning, named `what`), then byte for byte.
pub fn same_meaning_then_bytes<T: PartialEq + std::fmt::Debug, E: std::fmt::Display>(
    got: &str,
    expected: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<(), String> {
    let want = parse(expected).map_err(|e| format!("expected output: {e}"))?;
    let parsed = parse(got).map_err(|e| format!("output does not parse: {e}\n{got}"))?;
    if parsed != want {
        return Err(format!(
            "{what} differ:\n--- expected\n{expected}\n--- got\n{got}"
        ));
    }
    if got != expected {
        return Err(format!(
            "bytes differ:\n--- expected\n{expected}\n--- got\n{got}"
        ));
    }
    Ok(())
}

/// A conversion to domain XML against libvirt's expected document: `def` written in the
/// default style reads back to the expected document's model, and `legacy` (the same conversion
/// written in the 0.4.6 style, with `secure` deciding whether secrets are written) is the
/// expected document byte for byte.
pub fn domain_matches(
    def: &virtkit_xml::DomainDef,
    legacy: &str,
    expected: &str,
    secure: bool,
) -> Result<(), String> {
    use virtkit_xml::{DomainDef, FormatOptions, model_difference};
    let want = DomainDef::parse(expected).map_err(|e| format!("expected XML: {e}"))?;
    let current = def.to_xml(&FormatOptions::default().with_secure(secure));
    let again = DomainDef::parse(&current).map_err(|e| format!("re-parse: {e}\n{current}"))?;
    if let Some(diff) = model_difference(&want, &again) {
        return Err(format!("model differs (default style):\n{diff}"));
    }
    if legacy != expected {
        return Err(format!(
            "0.4.6-style output differs:\n--- expected\n{expected}--- got\n{legacy}"
        ));
    }
    Ok(())
}
