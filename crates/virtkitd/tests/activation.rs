//! Socket activation: virtkitd started as systemd starts a socket-activated service, with the
//! listening sockets already bound and open at fds 3 and 4, `LISTEN_FDS=2` and `LISTEN_PID` its
//! own pid. The sockets are made by the test and handed over as systemd does (inherited across
//! exec, `sh` putting them at 3 and 4 and setting `LISTEN_PID=$$` before it execs the daemon,
//! so the pid is the daemon's). The daemon must serve on them, know which one is read-only
//! from the path each is bound to, not rebind or remove them, and refuse a socket bound
//! elsewhere.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use virtkit_rpc::xdr::Decoder;

/// Starts virtkitd with `first` at fd 3 and `second` at fd 4 (passed as the shell's standard
/// input and output, moved there by the shell), `LISTEN_FDS=2` and `LISTEN_PID` the daemon's.
fn activated(dir: &Path, first: UnixListener, second: UnixListener, args: &[&str]) -> Child {
    let log = dir.join("virtkitd.log");
    let script = r#"exec 3<&0 4>&1 0</dev/null 1>/dev/null
LISTEN_FDS=2 LISTEN_PID=$$
export LISTEN_FDS LISTEN_PID
exec "$@""#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_virtkitd"))
        .args(args)
        .arg("--verbose")
        .env(
            "VIRTKIT_DRIVER_DIR",
            virtkit_test_support::plugin_dir("test"),
        )
        .stdin(Stdio::from(OwnedFd::from(first)))
        .stdout(Stdio::from(OwnedFd::from(second)))
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("sh starts")
}

fn inode(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).expect("the socket file").ino()
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("virtkitd.log")).unwrap_or_default()
}

#[test]
fn the_daemon_serves_on_the_sockets_the_service_manager_passed() {
    let dir = tempfile::tempdir().unwrap();
    let rw_path = dir.path().join("virtkit-sock");
    let ro_path = dir.path().join("virtkit-sock-ro");
    let rw = UnixListener::bind(&rw_path).unwrap();
    let ro = UnixListener::bind(&ro_path).unwrap();
    let (rw_ino, ro_ino) = (inode(&rw_path), inode(&ro_path));
    // Passed in the other order than the daemon's own: roles come from the bound paths.
    let mut child = activated(dir.path(), ro, rw, &["--socket", rw_path.to_str().unwrap()]);
    virtkit_test_support::daemon::wait_for_socket(
        &rw_path,
        &mut child,
        "virtkitd",
        Some(&dir.path().join("virtkitd.log")),
    );

    // The read-write socket: calls work, a mutation too.
    let mut c = RpcClient::connect(&rw_path);
    c.open("test:///default");
    let reply = c
        .call(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test"))
        .expect("lookup through the passed read-write socket");
    let dom = virtkit_rpc::WireDomain::decode(&mut Decoder::new(&reply)).unwrap();
    assert_eq!(dom.name, "test");
    let suspend = virtkit_rpc::Procedure::DomainSuspend.number();
    let resume = virtkit_rpc::Procedure::DomainResume.number();
    c.call(suspend, &reply)
        .expect("suspend on the read-write socket");
    c.call(resume, &reply)
        .expect("resume on the read-write socket");

    // The read-only socket: reads work, a mutation is refused.
    let mut r = RpcClient::connect(&ro_path);
    r.open("test:///default");
    let reply = r
        .call(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test"))
        .expect("lookup through the passed read-only socket");
    let err = r.call(suspend, &reply).unwrap_err();
    assert_eq!(err.code, virtkit::ErrorCode::OperationDenied as i32);
    assert!(
        err.message.as_deref().unwrap_or("").contains("read only"),
        "{err:?}"
    );
    drop((c, r));

    let log = log_of(dir.path());
    assert!(
        log.contains("passed by the service manager (socket activation)"),
        "{log}"
    );
    // Served on the very sockets passed: not rebound, and left in place at the end.
    assert_eq!((inode(&rw_path), inode(&ro_path)), (rw_ino, ro_ino));
    virtkit_test_support::daemon::stop(&mut child, Duration::from_secs(5));
    assert!(
        rw_path.exists() && ro_path.exists(),
        "the manager's sockets are not removed"
    );
    assert_eq!((inode(&rw_path), inode(&ro_path)), (rw_ino, ro_ino));
}

#[test]
fn a_passed_socket_bound_elsewhere_is_refused_with_its_fd_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let rw_path = dir.path().join("virtkit-sock");
    let stray_path = dir.path().join("stray");
    let rw = UnixListener::bind(&rw_path).unwrap();
    let stray = UnixListener::bind(&stray_path).unwrap();
    let mut child = activated(
        dir.path(),
        rw,
        stray,
        &["--socket", rw_path.to_str().unwrap()],
    );
    let status = {
        let started = std::time::Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(30) {
                virtkit_test_support::daemon::stop(&mut child, Duration::from_secs(5));
                panic!(
                    "virtkitd kept running with a stray socket: {}",
                    log_of(dir.path())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert!(!status.success());
    let log = log_of(dir.path());
    assert!(
        log.contains("socket activation: fd 4 is bound to")
            && log.contains(&stray_path.display().to_string()),
        "{log}"
    );
    assert!(rw_path.exists(), "the passed socket is left alone");
}

#[test]
fn sockets_passed_to_another_process_are_not_taken() {
    // LISTEN_PID names another process (the variables were inherited): the daemon binds its own
    // sockets, and fd 3 (here: nothing the daemon may touch) is ignored.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("virtkit-sock");
    let log = dir.path().join("virtkitd.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_virtkitd"))
        .arg("--socket")
        .arg(&socket)
        .arg("--verbose")
        .env("LISTEN_FDS", "2")
        .env("LISTEN_PID", "1")
        .env(
            "VIRTKIT_DRIVER_DIR",
            virtkit_test_support::plugin_dir("test"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    virtkit_test_support::daemon::wait_for_socket(&socket, &mut child, "virtkitd", Some(&log));
    let mut c = RpcClient::connect(&socket);
    c.open("test:///default");
    c.call(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test"))
        .expect("lookup");
    drop(c);
    virtkit_test_support::daemon::stop(&mut child, Duration::from_secs(5));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("socket activation"), "{text}");
    assert!(
        !socket.exists(),
        "the daemon's own socket is removed at the end"
    );
}
