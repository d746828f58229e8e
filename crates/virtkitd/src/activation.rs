//! Sockets passed by a service manager (systemd's socket activation): the manager binds the
//! sockets of `virtkitd.socket` and `virtkitd-ro.socket`, starts the daemon with them open from
//! fd 3 on, and says so in `LISTEN_FDS` (how many) and `LISTEN_PID` (for which process).
//!
//! The protocol's rule is kept: the fds are used only when `LISTEN_PID` is this process's pid
//! (a variable inherited from a parent is not an invitation). Which socket is which is read from
//! each fd itself: the path it is bound to must be the configured read-write or read-only
//! socket (`unix_sock_dir` or `--socket`/`--ro-socket`), so the daemon and its unit files cannot
//! silently disagree about which socket gives read-only connections. Anything else passed (not
//! a unix stream socket, bound elsewhere, twice the same path) stops the daemon with an error
//! naming the fd. A configured socket the manager did not pass is bound by the daemon as usual.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// The listening sockets the service manager passed, by role.
#[derive(Default)]
pub struct Inherited {
    /// The read-write socket, when passed.
    pub rw: Option<UnixListener>,
    /// The read-only socket, when passed.
    pub ro: Option<UnixListener>,
}

/// Whether `LISTEN_PID` names this process (and `LISTEN_FDS` is set at all).
fn addressed_to_us() -> bool {
    std::env::var_os("LISTEN_FDS").is_some()
        && std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            == Some(std::process::id())
}

/// Takes the sockets passed to this process, matching each to `rw_path` or `ro_path` by the
/// path it is bound to. Must run before any other thread starts (the variables are removed).
pub fn take(rw_path: &Path, ro_path: &Path) -> Result<Inherited, String> {
    let mut out = Inherited::default();
    if !addressed_to_us() {
        return Ok(out);
    }
    let mut fds = listenfd::ListenFd::from_env();
    for idx in 0..fds.len() {
        let fd = 3 + idx;
        let listener = fds
            .take_unix_listener(idx)
            .map_err(|e| format!("socket activation: fd {fd}: {e}"))?
            .ok_or_else(|| format!("socket activation: fd {fd} is not available"))?;
        let path: Option<PathBuf> = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf));
        let slot = match path.as_deref() {
            Some(p) if p == rw_path => &mut out.rw,
            Some(p) if p == ro_path => &mut out.ro,
            Some(p) => {
                return Err(format!(
                    "socket activation: fd {fd} is bound to {}, which is neither the read-write socket {} nor the read-only socket {} (check unix_sock_dir against the .socket units)",
                    p.display(),
                    rw_path.display(),
                    ro_path.display()
                ));
            }
            None => {
                return Err(format!(
                    "socket activation: fd {fd} is a unix socket without a path (abstract or unnamed)"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!(
                "socket activation: two fds are bound to {}",
                path.unwrap_or_default().display()
            ));
        }
        *slot = Some(listener);
    }
    Ok(out)
}
