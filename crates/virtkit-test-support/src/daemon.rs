//! Daemons a test starts (virtkitd, libvirtd, peers): waiting until one listens, and stopping it.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Waits until something accepts connections on the unix socket `path`; panics, with the
/// daemon's `log` when there is one, if `child` exits first or nothing listens within 30 s (the
/// child is then killed and reaped).
pub fn wait_for_socket(path: &Path, child: &mut Child, what: &str, log: Option<&Path>) {
    let log_text = || {
        log.and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default()
    };
    let started = Instant::now();
    while UnixStream::connect(path).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {}:\n{}",
                path.display(),
                log_text()
            );
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on {} within 30 s:\n{}",
                path.display(),
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops `child` as a service manager would: SIGTERM (through the `kill` program), `grace` to
/// exit, then SIGKILL; always reaped.
pub fn stop(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    let started = Instant::now();
    while matches!(child.try_wait(), Ok(None)) {
        if started.elapsed() > grace {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.wait();
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's pick), for a
/// daemon a test starts on loopback.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    l.local_addr().expect("its address").port()
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; panics as
/// [`wait_for_socket`] does if `child` exits first or nothing listens within 30 s.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str, log: Option<&Path>) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log_text = || {
            log.and_then(|l| std::fs::read_to_string(l).ok())
                .unwrap_or_default()
        };
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on port {port}:\n{}",
                log_text()
            );
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on port {port} within 30 s:\n{}",
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
