//! What a hostile local user or a careless admin can do to the driver's files and processes
//! (issue 18): the `virtkit` CLI killed at any instant, names that reach the driver's own files,
//! directories prepared by someone else, destinations that are not regular files, sandboxes and
//! the host's network. Each test prints one summary line (tried, refused, leaked) on stderr.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Sandbox, have_qemu, report, virtkit};
use virtkit::Connect;

/// Runs `virtkit -c URI ARGS` and returns (success, stdout, stderr).
fn run(uri: &str, args: &[&str]) -> (bool, String, String) {
    let out = virtkit(uri, args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(uri: &str, args: &[&str]) -> String {
    let (success, out, err) = run(uri, args);
    assert!(success, "virtkit {args:?} failed:\n{out}\n{err}");
    out
}

/// A small pseudo-random sequence (xorshift), seeded from the clock; the seed is printed so
/// that a failing run can be repeated with `VIRTKIT_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn new(test: &str) -> Rng {
        let seed = std::env::var("VIRTKIT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        report(&format!("{test}: seed {seed}"));
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `virtkit ARGS` and kills it with SIGKILL after `delay` (if it is still running).
fn kill_after(uri: &str, args: &[&str], delay: Duration) {
    let mut child = virtkit(uri, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 18, item 1: the CLI killed at a random instant of `start` (0–120 ms; a start takes
/// about 50 ms here), 100 times. After each kill, the next call — start, domstate, list,
/// dominfo or destroy in turn — sees the truth: a guest reported running has exactly one QEMU,
/// a guest reported shut off has none, and there are never two QEMUs for the guest.
#[test]
fn a_start_killed_at_any_instant_leaves_no_orphan_and_never_two_qemus() {
    const TEST: &str = "a_start_killed_at_any_instant_leaves_no_orphan_and_never_two_qemus";
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let uri = sb.uri();
    let xml = sb.dir.path().join("g.xml");
    std::fs::write(&xml, common::guest_xml("g")).unwrap();
    ok(&uri, &["define", xml.to_str().unwrap()]);
    let pidfile = sb.run_dir().join("g.pid");
    let qemus = || virtkit_hostio::processes_with_arg(pidfile.as_os_str());
    let mut rng = Rng::new(TEST);
    let (mut completed, mut abandoned) = (0, 0);
    const KILLS: usize = 100;
    for i in 0..KILLS {
        let delay = Duration::from_micros(rng.below(120_000));
        kill_after(&uri, &["start", "g"], delay);
        let next: &[&str] = match i % 5 {
            0 => &["start", "g"],
            1 => &["domstate", "g"],
            2 => &["list", "--all"],
            3 => &["dominfo", "g"],
            _ => &["destroy", "g"],
        };
        let _ = run(&uri, next);
        let found = qemus();
        assert!(
            found.len() <= 1,
            "kill {i} after {delay:?}, then {next:?}: two QEMUs for one guest: {found:?}"
        );
        let state = ok(&uri, &["domstate", "g"]).trim().to_string();
        let found = qemus();
        match state.as_str() {
            "running" | "paused" => {
                assert_eq!(
                    found.len(),
                    1,
                    "kill {i} after {delay:?}, then {next:?}: reported {state} with QEMUs {found:?}"
                );
                completed += 1;
                ok(&uri, &["destroy", "g"]);
            }
            "shut off" => {
                assert!(
                    found.is_empty(),
                    "kill {i} after {delay:?}, then {next:?}: reported shut off, QEMU {found:?} left running"
                );
                abandoned += 1;
            }
            other => panic!("kill {i}: unexpected state {other:?}"),
        }
        assert!(qemus().is_empty(), "kill {i}: a QEMU survived destroy");
    }
    report(&format!(
        "{TEST}: {KILLS} kills of `start` at 0-120 ms: {completed} starts were complete (one QEMU, destroyed), \
         {abandoned} were abandoned or undone (no QEMU); 0 orphans, never two QEMUs"
    ));
}

/// Kill -9 during define, 40 times at random instants of its run, with a definition large
/// enough (1 MiB) that writing it takes a while: the definition on disk is always the old or the
/// new one, never a mix, and the temp files killed writers leave (some of the kills, plus one
/// planted as a killed writer leaves it, so the check never depends on luck) are removed by the
/// next connection.
#[test]
fn a_define_killed_midway_never_leaves_a_corrupt_config_and_its_temp_files_are_removed() {
    const TEST: &str =
        "a_define_killed_midway_never_leaves_a_corrupt_config_and_its_temp_files_are_removed";
    let sb = Sandbox::new();
    let uri = sb.uri();
    let xml = sb.dir.path().join("big.xml");
    let big = common::guest_xml("big").replace(
        "<memory",
        &format!(
            "<uuid>6b3f1c2e-1b5e-4a8e-9a3c-2d6f0e1a7b90</uuid><description>{}</description><memory",
            "x".repeat(1 << 20)
        ),
    );
    std::fs::write(&xml, &big).unwrap();
    let t = std::time::Instant::now();
    ok(&uri, &["define", xml.to_str().unwrap()]);
    let one_define = t.elapsed().as_micros() as u64;
    let config = sb.config_dir().join("big.xml");
    let temps = || {
        std::fs::read_dir(sb.config_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_str()
                    .is_some_and(virtkit_hostio::is_temp_name)
            })
            .count()
    };
    let mut rng = Rng::new(TEST);
    const KILLS: usize = 40;
    let (mut left_by_kills, mut seen) = (0, 0);
    for i in 0..KILLS {
        // Half of the kills anywhere, half in the last part of a define, where it writes.
        let delay = match i % 2 {
            0 => rng.below(one_define * 11 / 10 + 1),
            _ => one_define * 6 / 10 + rng.below(one_define / 2 + 1),
        };
        kill_after(
            &uri,
            &["define", xml.to_str().unwrap()],
            Duration::from_micros(delay),
        );
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(
            virtkit_xml::DomainDef::parse(&text).is_ok(),
            "kill {i}: the definition on disk does not parse"
        );
        // (Each connection removes the stale ones older than 2 s: count the new ones.)
        let now = temps();
        left_by_kills += now.saturating_sub(seen);
        seen = now;
    }
    // What a writer killed between creating its temp file and renaming it leaves.
    std::fs::write(sb.config_dir().join(".big.xml.Kil1ed.tmp"), &big[..1000]).unwrap();
    // Temp files untouched for the driver's 2 s threshold, and no longer locked by a writer,
    // are removed when a connection opens.
    std::thread::sleep(Duration::from_millis(2100));
    ok(&uri, &["list", "--all"]);
    assert_eq!(temps(), 0, "temp files of killed writers are left");
    let mode = std::fs::metadata(&config).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "definitions may hold VNC passwords");
    report(&format!(
        "{TEST}: {KILLS} kills of `define` (1 MiB definition): 0 corrupt definitions; {left_by_kills} temp files left by killed writers (+1 planted), 0 after the next connection"
    ));
}

/// Issue 18, item 5: names that would reach the driver's own files are refused, and a domain
/// named like an internal file works like any other (no hang on the driver-wide lock).
#[test]
fn names_never_reach_the_drivers_own_files() {
    let sb = Sandbox::new();
    let c = sb.open();
    let mut refused = 0;
    for bad in [
        ".hidden",
        ".",
        "..",
        "a/b",
        "../escape",
        "line\nbreak",
        ".driver",
        ".next-id",
    ] {
        let xml = common::guest_xml("PLACEHOLDER").replace(
            "<name>PLACEHOLDER</name>",
            &format!("<name>{}</name>", bad.replace('\n', "&#10;")),
        );
        let e = c
            .define_domain_xml(&xml)
            .expect_err(&format!("{bad:?} was accepted"));
        assert_eq!(e.code, virtkit::ErrorCode::XmlError, "{bad:?}: {e}");
        assert!(e.message.contains("name"), "{bad:?}: {e}");
        refused += 1;
    }
    // Names equal to the driver's files of old: each an ordinary domain.
    let names = [
        "driver",
        "next-id",
        "autostart",
        "lock",
        "networks",
        "g.lock",
    ];
    for name in names {
        c.define_domain_xml(&common::guest_xml(name)).unwrap();
    }
    let mut listed = c.list_defined_domains().unwrap();
    listed.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    // Each takes its own lock and the driver-wide one in turn (a domain named `driver` once
    // waited 120 s on the driver-wide lock it held itself).
    for name in names {
        let d = c.lookup_domain_by_name(name).unwrap();
        d.set_autostart(true).unwrap();
        d.undefine().unwrap();
    }
    assert!(c.list_defined_domains().unwrap().is_empty());
    let entries: Vec<String> = std::fs::read_dir(sb.run_dir().join("lock"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        entries.iter().any(|n| n == ".driver.lock"),
        "the driver-wide lock is a dotfile: {entries:?}"
    );
    report(&format!(
        "names_never_reach_the_drivers_own_files: {refused} names refused with XML_ERROR, {} internal-looking names defined and undefined without a hang",
        names.len()
    ));
}

/// Issue 18, item 3: a sandbox root (or any directory the driver writes into) owned by another
/// user or writable by others is refused before anything is written; what the driver creates is
/// 0700 (directories) and 0600 (files).
#[test]
fn directories_prepared_by_someone_else_are_refused() {
    let registry = common::registry();
    let open = |root: &Path| Connect::open_with(Some(&root_uri(root)), false, &registry);
    let base = tempfile::Builder::new()
        .prefix("vkq")
        .tempdir_in("/tmp")
        .unwrap();
    let mut refused = 0;
    // World-writable root.
    let wide = base.path().join("wide");
    std::fs::create_dir(&wide).unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = open(&wide).expect_err("a 0777 root was used");
    assert!(e.message.contains("writable by others"), "{e}");
    assert!(!wide.join("session").exists(), "nothing is created in it");
    refused += 1;
    // A state directory inside our root, but made group-writable.
    let mine = base.path().join("mine");
    open(&mine).unwrap();
    let run = mine.join("session/run");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o770)).unwrap();
    let e = open(&mine).expect_err("a group-writable run directory was used");
    assert!(e.message.contains("writable by its group"), "{e}");
    let e = Connect::open_with(Some(&root_uri(&mine)), true, &registry)
        .expect_err("a group-writable run directory was read");
    assert!(e.message.contains("writable by its group"), "{e}");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    refused += 1;
    // Owned by another user (only root can arrange that).
    if nix::unistd::geteuid().is_root() {
        let theirs = base.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let e = open(&theirs).expect_err("a root owned by nobody was used");
        assert!(e.message.contains("owned by uid 65534"), "{e}");
        refused += 1;
        // And a config directory planted by that user inside ours.
        let planted = base.path().join("planted");
        std::fs::create_dir_all(planted.join("session")).unwrap();
        std::fs::create_dir(planted.join("session/config")).unwrap();
        nix::unistd::chown(
            &planted.join("session/config"),
            Some(nix::unistd::Uid::from_raw(65534)),
            None,
        )
        .unwrap();
        let e = open(&planted).expect_err("a config directory owned by nobody was used");
        assert!(e.message.contains("owned by uid 65534"), "{e}");
        refused += 1;
    } else {
        report(
            "directories_prepared_by_someone_else_are_refused: the other-owner cases need root, skipped",
        );
    }
    // What the driver creates is private.
    let c = open(&mine).unwrap();
    c.define_domain_xml(&common::guest_xml("priv")).unwrap();
    for d in [
        "session",
        "session/config",
        "session/run",
        "session/run/lock",
    ] {
        let m = std::fs::metadata(mine.join(d)).unwrap().mode() & 0o777;
        assert_eq!(m, 0o700, "{d}");
    }
    let m = std::fs::metadata(mine.join("session/config/priv.xml"))
        .unwrap()
        .mode()
        & 0o777;
    assert_eq!(m, 0o600);
    report(&format!(
        "directories_prepared_by_someone_else_are_refused: {refused} untrusted directories refused before use"
    ));
}

fn root_uri(root: &Path) -> String {
    format!("qemu:///session?root={}", root.display())
}

/// Issue 18, items 2 and 3: save and dump never replace a destination that is not a regular
/// file, never follow a symbolic link planted as the guest's log, and a failed save leaves the
/// old file.
#[test]
fn save_and_dump_refuse_destinations_that_are_not_regular_files() {
    const TEST: &str = "save_and_dump_refuse_destinations_that_are_not_regular_files";
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    let d = c.create_domain_xml(&common::guest_xml("dst"), 0).unwrap();
    // What held: the runtime directory is private, and the monitor socket lives in it.
    use std::os::unix::fs::FileTypeExt;
    assert_eq!(
        std::fs::metadata(sb.run_dir()).unwrap().mode() & 0o777,
        0o700
    );
    assert!(
        std::fs::symlink_metadata(sb.run_dir().join("dst.qmp"))
            .unwrap()
            .file_type()
            .is_socket()
    );
    for f in ["dst.state", "dst.log"] {
        let m = std::fs::metadata(sb.run_dir().join(f)).unwrap().mode() & 0o777;
        assert_eq!(m, 0o600, "{f}");
    }
    let dir = sb.dir.path();
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let target = dir.join("precious");
    std::fs::write(&target, b"precious").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let sub = dir.join("subdir");
    std::fs::create_dir(&sub).unwrap();
    let mut refused = 0;
    for (what, path) in [
        ("a FIFO", fifo.clone()),
        ("a symbolic link", link.clone()),
        ("a directory", sub.clone()),
        ("a character device", "/dev/null".into()),
    ] {
        for op in ["save", "dump"] {
            let p = path.to_str().unwrap();
            let e = match op {
                "save" => d.save(p),
                _ => d.core_dump(p, 0),
            }
            .expect_err(&format!("{op} onto {what} was accepted"));
            assert!(e.message.contains(what), "{op} {what}: {e}");
            refused += 1;
        }
    }
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo_like()
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    assert!(std::fs::metadata("/dev/null").unwrap().mode() & 0o170000 == 0o020000);
    // A directory writable by others is refused as a destination's directory.
    let open_dir = dir.join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = d
        .save(open_dir.join("x.sav").to_str().unwrap())
        .unwrap_err();
    assert!(e.message.contains("writable by others"), "{e}");
    refused += 1;
    // The guest still runs after every refusal, and a real save onto an old regular file works.
    assert_eq!(d.state().unwrap().0, virtkit::DomainState::Running);
    let img = dir.join("img.sav");
    std::fs::write(&img, b"old image").unwrap();
    d.save(img.to_str().unwrap()).unwrap();
    assert!(std::fs::metadata(&img).unwrap().len() > 4096);
    assert_eq!(std::fs::metadata(&img).unwrap().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| virtkit_hostio::is_temp_name(n))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    report(&format!(
        "{TEST}: {refused} save/dump destinations refused (FIFO, symlink, directory, device, untrusted directory), none replaced"
    ));
}

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for std::fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}

/// Issue 18, item 8: `restore` reads only a regular file, and only a bounded header of it.
#[test]
fn restore_reads_only_a_bounded_header_of_a_regular_file() {
    let sb = Sandbox::new();
    let c = sb.open();
    for (path, what) in [("/dev/zero", "a character device"), ("/tmp", "a directory")] {
        let e = c.restore_domain(path).unwrap_err();
        assert!(e.message.contains(what), "{path}: {e}");
    }
    let fifo = sb.dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Would block forever on open without the check.
    let e = c.restore_domain(fifo.to_str().unwrap()).unwrap_err();
    assert!(e.message.contains("a FIFO"), "{e}");
    // A header claiming a 1 TiB definition is refused without allocating it.
    let crafted = sb.dir.path().join("crafted.sav");
    std::fs::write(&crafted, "VirtkitQemuSave1\n1099511627776\n10\n<domain/>").unwrap();
    let e = c.restore_domain(crafted.to_str().unwrap()).unwrap_err();
    assert!(e.message.contains("not a saved QEMU domain image"), "{e}");
}

/// Issue 18, item 4: a sandboxed connection does not touch the host's network: a guest with a
/// bridge, network or ethernet interface is refused before any tap, bridge port or script.
#[test]
fn a_sandboxed_guest_may_not_touch_the_hosts_network() {
    let sb = Sandbox::new();
    let c = sb.open();
    let mut refused = 0;
    for iface in [
        "<interface type='bridge'><source bridge='virbr9'/></interface>",
        "<interface type='network'><source network='default'/></interface>",
        "<interface type='ethernet'><target dev='vktap0'/><script path='/bin/true'/></interface>",
    ] {
        let xml =
            common::guest_xml("net").replace("</os>", &format!("</os><devices>{iface}</devices>"));
        let e = c.create_domain_xml(&xml, 0).unwrap_err();
        assert_eq!(e.code, virtkit::ErrorCode::OperationDenied, "{iface}: {e}");
        assert!(e.message.contains("sandboxed"), "{e}");
        c.define_domain_xml(&xml).unwrap();
        let d = c.lookup_domain_by_name("net").unwrap();
        let e = d.create().unwrap_err();
        assert_eq!(e.code, virtkit::ErrorCode::OperationDenied, "{iface}: {e}");
        assert_eq!(d.state().unwrap().0, virtkit::DomainState::Shutoff);
        d.undefine().unwrap();
        refused += 2;
    }
    assert!(!Path::new("/sys/class/net/vktap0").exists());
    report(&format!(
        "a_sandboxed_guest_may_not_touch_the_hosts_network: {refused} starts refused (bridge, network, ethernet; create and start)"
    ));
}

/// The class of item 1 for networks: `net-start` (a bridge, dnsmasq, NAT rules) killed at 30
/// random instants of its run. After each kill, the next call — net-start, net-list, net-info in
/// turn — sees the truth: an active network has its bridge and one dnsmasq, an inactive one has
/// no bridge, no dnsmasq and no firewall rule left.
#[test]
fn a_network_start_killed_midway_is_undone_by_the_next_call() {
    const TEST: &str = "a_network_start_killed_midway_is_undone_by_the_next_call";
    if !nix::unistd::geteuid().is_root() {
        virtkit_test_support::skip_host("HOSTNET", "starting a network needs root");
        return;
    }
    for tool in [
        virtkit_test_support::DNSMASQ,
        virtkit_test_support::IPTABLES,
    ] {
        if virtkit_test_support::find(&tool).is_none() {
            return;
        }
    }
    let sb = Sandbox::new();
    let uri = format!("{}&hostnet=yes", sb.uri());
    let br = format!("vkk{}", std::process::id() % 100_000);
    let _guard = BridgeGuard(br.clone());
    let net = 100 + std::process::id() % 100;
    let xml = sb.dir.path().join("kn.xml");
    std::fs::write(
        &xml,
        format!(
            "<network><name>kn</name><forward mode='nat'/><bridge name='{br}'/>\
             <ip address='10.218.{net}.1' prefix='24'><dhcp>\
             <range start='10.218.{net}.2' end='10.218.{net}.9'/></dhcp></ip></network>"
        ),
    )
    .unwrap();
    ok(&uri, &["net-define", xml.to_str().unwrap()]);
    let t = std::time::Instant::now();
    let (started, _, err) = run(&uri, &["net-start", "kn"]);
    if !started && err.contains("Operation not permitted") {
        report(&format!(
            "{TEST}: skipped: this host does not allow creating bridges: {err}"
        ));
        return;
    }
    assert!(started, "{err}");
    let one_start = t.elapsed().as_micros() as u64;
    ok(&uri, &["net-destroy", "kn"]);
    let pidfile = sb.run_dir().join("networks/kn.dnsmasq.pid");
    let dnsmasqs =
        || virtkit_hostio::processes_with_arg(format!("--pid-file={}", pidfile.display()).as_ref());
    let bridge = || Path::new("/sys/class/net").join(&br).exists();
    let rules = || {
        let out = std::process::Command::new("/usr/sbin/iptables")
            .arg("-S")
            .output()
            .unwrap();
        let nat = std::process::Command::new("/usr/sbin/iptables")
            .args(["-t", "nat", "-S"])
            .output()
            .unwrap();
        let subnet = format!("10.218.{net}.0/24");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&nat.stdout).lines())
            .filter(|l| l.contains(&br) || l.contains(&subnet))
            .count()
    };
    let mut rng = Rng::new(TEST);
    let (mut active, mut undone) = (0, 0);
    const KILLS: usize = 30;
    for i in 0..KILLS {
        let delay = Duration::from_micros(rng.below(one_start * 12 / 10 + 1));
        kill_after(&uri, &["net-start", "kn"], delay);
        let next: &[&str] = match i % 3 {
            0 => &["net-start", "kn"],
            1 => &["net-list", "--all"],
            _ => &["net-info", "kn"],
        };
        let _ = run(&uri, next);
        let info = ok(&uri, &["net-info", "kn"]);
        let is_active = info
            .lines()
            .any(|l| l.starts_with("Active:") && l.ends_with("yes"));
        if is_active {
            assert!(
                bridge(),
                "kill {i} after {delay:?}, then {next:?}: active without its bridge"
            );
            let d = dnsmasqs();
            assert_eq!(
                d.len(),
                1,
                "kill {i} after {delay:?}, then {next:?}: dnsmasqs {d:?}"
            );
            active += 1;
            ok(&uri, &["net-destroy", "kn"]);
        } else {
            undone += 1;
        }
        assert!(
            !bridge(),
            "kill {i} after {delay:?}, then {next:?}: bridge {br} left"
        );
        assert!(
            dnsmasqs().is_empty(),
            "kill {i} after {delay:?}, then {next:?}: dnsmasq left"
        );
        assert_eq!(
            rules(),
            0,
            "kill {i} after {delay:?}, then {next:?}: firewall rules left"
        );
    }
    report(&format!(
        "{TEST}: {KILLS} kills of `net-start` (bridge, dnsmasq, NAT): {active} starts complete (destroyed), {undone} undone; 0 bridges, dnsmasqs or rules left"
    ));
}

struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}
