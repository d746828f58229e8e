//! The conformance suite on every built plugin, and on the out-of-tree examples.
//!
//! * [`plugins`]: `virtkit-conformance` on every `libvirtkit_driver_*.so` of the build tree; the
//!   openvz plugin on a stand-in OpenVZ host (a temporary root served by the stand-in tools); the
//!   xen-xend member against a `virtkit-xend-peer` seeded with the corpus's xend outputs; the
//!   xen-xm member alone (its sandbox) and as a stack with xen-xend against the peer; the
//!   xen-store member against a `virtkit-xenstore-peer`; xen-xend and xen-store as one stack
//!   against both peers, with xen-hypercall loaded and declining; the xen-hypercall member finds
//!   no Xen here and is judged on what needs no connection; the remote plugin against a
//!   virtkitd of the build tree (its test driver through `test+unix:///default?socket=…`).
//! * [`examples`]: builds `examples/out-of-tree-c` (with its Makefile) and
//!   `examples/out-of-tree-rust` (with its own cargo workspace), each into its own `target/`
//!   directory, runs the suite on each plugin, and has the `virtkit` CLI of the build tree load
//!   each from its directory (`VIRTKIT_DRIVER_DIR`) and list the toy's domains.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, cargo, profile_dir, root, run};

/// The URI both toy examples serve (their hypervisor type and domain type are `toyhv`).
const TOY_URI: &str = "toyhv:///";

fn suite() -> Result<PathBuf> {
    let exe = profile_dir(false).join("virtkit-conformance");
    if exe.exists() {
        Ok(exe)
    } else {
        Err(format!(
            "the conformance suite is not built ({}): run `cargo xtask build-plugins`",
            exe.display()
        ))
    }
}

/// Runs the suite on one plugin file; `uri` overrides its sandbox URI.
fn judge(exe: &Path, plugin: &Path, uri: Option<&str>) -> Result<()> {
    let mut c = Command::new(exe);
    c.arg(plugin);
    if let Some(u) = uri {
        c.args(["--uri", u]);
    }
    run(c)
}

/// A xenstore peer (`virtkit-xenstore-peer`, three guests besides domain 0) in a temporary
/// directory; killed and its directory removed on drop.
struct StorePeer {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl StorePeer {
    fn start() -> Result<StorePeer> {
        let dir = tempfile::Builder::new()
            .prefix("virtkit-xenstore-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let socket = dir.path().join("socket");
        let exe = profile_dir(false).join("virtkit-xenstore-peer");
        let child = Command::new(&exe)
            .arg("--socket")
            .arg(&socket)
            .args(["--guests", "3"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let mut peer = StorePeer { child, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !socket.exists() {
            if let Ok(Some(s)) = peer.child.try_wait() {
                return Err(format!("virtkit-xenstore-peer exited: {s}"));
            }
            if std::time::Instant::now() > deadline {
                return Err("virtkit-xenstore-peer does not listen".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(peer)
    }

    /// The socket, for `XENSTORED_PATH` (as Xen's own tools are given it).
    fn socket(&self) -> PathBuf {
        self.dir.path().join("socket")
    }
}

impl Drop for StorePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The xen-store member against a xenstore peer on `xen:///`, the suite given the peer's socket
/// through `XENSTORED_PATH`.
fn judge_xen_store(exe: &Path, plugin: &Path) -> Result<()> {
    let peer = StorePeer::start()?;
    let mut c = Command::new(exe);
    c.arg(plugin)
        .args(["--uri", "xen:///"])
        .env("XENSTORED_PATH", peer.socket());
    run(c)
}

/// The Xen stack as a host without a hypervisor has it: the xend member against a xend peer
/// with the store member against a xenstore peer beside it (`--with`), and the hypercall member
/// loaded too, which must decline (`--declining`: no privcmd device here). The URI is xend's
/// socket, the store found through `XENSTORED_PATH`, as libvirt's legacy socket-path URI.
fn judge_xen_stack(exe: &Path, xend: &Path) -> Result<()> {
    let member = |file: &str| -> Result<PathBuf> {
        let p = xend.with_file_name(file);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!("{} is not built", p.display()))
        }
    };
    let store = member("libvirtkit_driver_xen_store.so")?;
    let hypercall = member("libvirtkit_driver_xen_hypercall.so")?;
    let xend_peer = XendPeer::start()?;
    let store_peer = StorePeer::start()?;
    let mut c = Command::new(exe);
    c.arg(xend)
        .arg("--with")
        .arg(&store)
        .arg("--declining")
        .arg(&hypercall)
        .args(["--uri", &xend_peer.uri()])
        .env("XENSTORED_PATH", store_peer.socket());
    run(c)
}

/// The templates of the stand-in OpenVZ host (the first is its default).
const OPENVZ_TEMPLATES: &[&str] = &["debian-7.0-x86_64", "centos-6-x86_64"];

/// The openvz plugin on a stand-in OpenVZ host: no OpenVZ kernel runs here, so the suite
/// connects to a temporary root laid out as one, served by the stand-in `vzctl`/`vzlist` of
/// the build tree (`plugins/openvz/standins`).
fn judge_openvz(exe: &Path, plugin: &Path) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("virtkit-openvz-")
        .tempdir()
        .map_err(|e| format!("cannot create the stand-in OpenVZ root: {e}"))?;
    virtkit_openvz_standins::Host::init(dir.path(), OPENVZ_TEMPLATES[0], OPENVZ_TEMPLATES)
        .map_err(|e| format!("cannot lay out the stand-in OpenVZ root: {e}"))?;
    let bin = profile_dir(false);
    let tool = |name: &str| -> Result<PathBuf> {
        let p = bin.join(name);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "{} is not built: run `cargo xtask build-plugins`",
                p.display()
            ))
        }
    };
    let uri = format!(
        "openvz:///system?root={}&vzctl={}&vzlist={}",
        dir.path().display(),
        tool("virtkit-vzctl-standin")?.display(),
        tool("virtkit-vzlist-standin")?.display()
    );
    judge(exe, plugin, Some(&uri))
}

/// A xend peer (`virtkit-xend-peer`) for judging the xen-xend member: seeded with the corpus's
/// xend outputs, in a directory of its own under the build tree; stopped and removed on drop.
struct XendPeer {
    child: std::process::Child,
    dir: PathBuf,
}

impl XendPeer {
    fn start() -> Result<XendPeer> {
        XendPeer::start_with(&[])
    }

    fn start_with(args: &[&str]) -> Result<XendPeer> {
        let exe = profile_dir(false).join("virtkit-xend-peer");
        let dir = profile_dir(false).join(format!("xtask-xend-peer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let socket = dir.join("xend-socket");
        let mut c = Command::new(&exe);
        c.arg("--socket")
            .arg(&socket)
            .arg("--seed")
            .arg(root().join("../shared/corpus/sexpr2xml"))
            .args(args)
            .stderr(std::process::Stdio::null());
        let child = c
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let mut peer = XendPeer { child, dir };
        for _ in 0..2000 {
            if socket.exists() {
                return Ok(peer);
            }
            if let Ok(Some(status)) = peer.child.try_wait() {
                return Err(format!("virtkit-xend-peer exited with {status}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err("virtkit-xend-peer does not listen".into())
    }

    fn uri(&self) -> String {
        self.dir.join("xend-socket").display().to_string()
    }
}

impl Drop for XendPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The xm member with the xend member beside it, against a xend peer: the Xen stack as a host
/// without a hypervisor member has it. The configs live in a temporary directory named by the
/// environment (the peer's URI is its socket path, which takes no parameters).
fn judge_xm_stack(exe: &Path, xm: &Path) -> Result<()> {
    let xend = xm.with_file_name("libvirtkit_driver_xen_xend.so");
    if !xend.exists() {
        return Err(format!("{} is not built", xend.display()));
    }
    // xend config version 2: xend keeps no inactive domains, the case the xm member is for.
    let peer = XendPeer::start_with(&["--config-version", "2"])?;
    let configs = tempfile::Builder::new()
        .prefix("virtkit-xm-")
        .tempdir()
        .map_err(|e| format!("cannot create the XM config directory: {e}"))?;
    let mut c = Command::new(exe);
    c.arg(xm)
        .arg("--with")
        .arg(&xend)
        .args(["--uri", &peer.uri()])
        .env("VIRTKIT_XM_CONFIG_DIR", configs.path());
    run(c)
}

/// A virtkitd of the build tree on a socket in a temporary directory, serving the build tree's
/// plugins (its test driver); stopped (SIGTERM, SIGKILL after 10 s), reaped and its directory
/// removed on drop.
struct Virtkitd {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Virtkitd {
    fn start() -> Result<Virtkitd> {
        let dir = tempfile::Builder::new()
            .prefix("virtkit-remote-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let exe = profile_dir(false).join("virtkitd");
        let log = std::fs::File::create(dir.path().join("virtkitd.log"))
            .map_err(|e| format!("cannot create virtkitd's log: {e}"))?;
        let child = Command::new(&exe)
            .arg("--socket")
            .arg(dir.path().join("virtkit-sock"))
            .env("VIRTKIT_DRIVER_DIR", profile_dir(false))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let mut d = Virtkitd { child, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(d.socket()).is_err() {
            if let Ok(Some(s)) = d.child.try_wait() {
                return Err(format!(
                    "virtkitd exited ({s}) before listening: {}",
                    d.log()
                ));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("virtkitd does not listen: {}", d.log()));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(d)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("virtkit-sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("virtkitd.log")).unwrap_or_default()
    }

    /// The suite's sandbox: the daemon's test driver, through its read-write socket.
    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket().display())
    }
}

impl Drop for Virtkitd {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.wait();
    }
}

/// The remote plugin against a live virtkitd of the build tree: the suite connects through
/// `test+unix:///default?socket=…` and judges what the daemon's test driver answers through the
/// plugin (a failure prints the daemon's log).
fn judge_remote(exe: &Path, plugin: &Path) -> Result<()> {
    let daemon = Virtkitd::start()?;
    let result = judge(exe, plugin, Some(&daemon.uri()));
    if result.is_err() {
        eprintln!("xtask: virtkitd's log:\n{}", daemon.log());
    }
    result
}

/// Judges one plugin; the members that need a peer get one (the xend member: alone against a
/// xend peer, then as the stack xend + store against their peers with hypercall declining; the
/// xm member: alone, then as a stack with the xend member against a peer).
fn judge_plugin(exe: &Path, plugin: &Path) -> Result<()> {
    let name = plugin.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name {
        "libvirtkit_driver_openvz.so" => judge_openvz(exe, plugin),
        "libvirtkit_driver_xen_xend.so" => {
            let peer = XendPeer::start()?;
            judge(exe, plugin, Some(&peer.uri()))?;
            drop(peer);
            judge_xen_stack(exe, plugin)
        }
        "libvirtkit_driver_xen_xm.so" => {
            judge(exe, plugin, None)?;
            judge_xm_stack(exe, plugin)
        }
        "libvirtkit_driver_xen_store.so" => judge_xen_store(exe, plugin),
        "libvirtkit_driver_remote.so" => judge_remote(exe, plugin),
        _ => judge(exe, plugin, None),
    }
}

/// The suite on every plugin of the build tree.
pub(crate) fn plugins(plugins: &[PathBuf]) -> Result<()> {
    let exe = suite()?;
    let failed: Vec<String> = plugins
        .iter()
        .filter(|p| {
            judge_plugin(&exe, p)
                .map_err(|e| eprintln!("xtask: {e}"))
                .is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("conformance failed for {}", failed.join(", ")))
    }
}

/// Builds the C example with its Makefile into `examples/out-of-tree-c/target`.
fn build_c() -> Result<PathBuf> {
    let dir = root().join("examples/out-of-tree-c");
    let out = dir.join("target");
    let mut c = Command::new("make");
    c.current_dir(&dir).arg(format!("OUT={}", out.display()));
    run(c)?;
    Ok(out.join("libvirtkit_driver_toyhv_c.so"))
}

/// Builds (and unit-tests) the Rust example with its own workspace into
/// `examples/out-of-tree-rust/target`.
fn build_rust() -> Result<PathBuf> {
    let dir = root().join("examples/out-of-tree-rust");
    let target = dir.join("target");
    for action in ["build", "test"] {
        let mut c = cargo();
        c.current_dir(&dir)
            .args([action, "--manifest-path"])
            .arg(dir.join("Cargo.toml"));
        // Its own target directory, whatever the workspace build uses.
        c.env("CARGO_TARGET_DIR", &target);
        run(c)?;
    }
    Ok(target.join("debug/libvirtkit_driver_toyhv_rs.so"))
}

/// `virtkit -c toyhv:/// list --all` with only the example's directory to search.
fn cli_lists(plugin: &Path, expect: &str) -> Result<()> {
    let exe = profile_dir(false).join("virtkit");
    let dir = plugin.parent().ok_or("the plugin has no directory")?;
    let mut c = Command::new(&exe);
    c.env("VIRTKIT_DRIVER_DIR", dir)
        .args(["-c", TOY_URI, "list", "--all"]);
    eprintln!("xtask: running {c:?}");
    let out = c
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprint!("{stdout}");
    if !out.status.success() {
        return Err(format!(
            "virtkit could not list {TOY_URI} from {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if !stdout.contains(expect) {
        return Err(format!(
            "virtkit -c {TOY_URI} list --all from {} does not show {expect}",
            dir.display()
        ));
    }
    Ok(())
}

/// Both out-of-tree examples: built apart from the workspace, judged by the suite, loaded by the
/// CLI from their own directories.
pub(crate) fn examples() -> Result<()> {
    let exe = suite()?;
    let mut failed = Vec::new();
    // The C toy declares no sandbox URI; its hypervisor lives in the suite's process.
    let builds = [
        ("out-of-tree-c", build_c(), Some(TOY_URI)),
        ("out-of-tree-rust", build_rust(), None),
    ];
    for (name, built, uri) in builds {
        let plugin = match built {
            Ok(p) => p,
            Err(e) => {
                failed.push(format!("{name}: {e}"));
                continue;
            }
        };
        if let Err(e) = judge(&exe, &plugin, uri) {
            failed.push(format!("{name}: {e}"));
        }
        if let Err(e) = cli_lists(&plugin, "toy1") {
            failed.push(format!("{name}: {e}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
