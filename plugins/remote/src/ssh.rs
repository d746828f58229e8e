//! The `+ssh` transport's command line: the system `ssh` (or `?command=`) with libvirt's
//! options, and what it runs on the remote host.
//!
//! The options are those libvirt 9.0's remote driver gives `ssh` (checked against Debian's
//! virsh in `tests/through_ssh.rs`): `-p PORT`, `-l USER`, `-i KEYFILE` (`?keyfile=`),
//! `-T -e none` always, `-o BatchMode=yes` for `?no_tty=1`, `-o StrictHostKeyChecking=no` for
//! `?no_verify=1`, then `--`, the host and one command line for the remote shell. virtkit adds
//! `?known_hosts=FILE` (`-o UserKnownHostsFile=FILE`) and `?known_hosts_verify=`
//! (`normal`, `auto`: `accept-new`, `ignore`: `no`), which libvirt's libssh transports take and
//! its `+ssh` ignores.
//!
//! The remote command (`?proxy=`, libvirt's names plus virtkit's own):
//!
//! * `virtkitd`: `virtkitd --stdio`, virtkit's daemon serving this one connection on its
//!   standard input and output (found in the remote login's `PATH`).
//! * `native`: libvirt's `virt-ssh-helper URI` (`-r` for read-only), which relays to the
//!   remote libvirt daemon.
//! * `netcat`: libvirt's `nc -U SOCKET` (with its `-q` probe) to `?socket=` (default
//!   `/var/run/libvirt/libvirt-sock`, `-ro` for read-only), `?netcat=` naming `nc`.
//! * `auto` (the default): `virtkitd --stdio` when the remote host has `virtkitd`, else
//!   what libvirt's `auto` runs — `virt-ssh-helper` when the host has it, else `nc`. As in
//!   libvirt, `?socket=` or `?netcat=` without `?proxy=` mean `netcat`.
//!
//! Values placed into the remote command are quoted for the remote shell twice, as libvirt
//! does (the login shell runs `sh -c '...'`, which runs the command), and may hold no control
//! characters.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use virtkit_driver::{Error, ErrorCode, Result, Uri};
use virtkit_hostio::Tunnel;

use crate::transport::{Transport, read_fd, set_nonblocking, write_all_fd};

/// How much of ssh's error output is kept for messages (its last bytes).
const STDERR_CAP: usize = 4096;
/// How long ssh may take to exit by itself once the connection ends, before SIGTERM (and as
/// long again before SIGKILL).
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The socket `nc` connects to on the remote host when none is named: libvirt's system daemon.
pub const REMOTE_SOCKET: &str = "/var/run/libvirt/libvirt-sock";

/// What runs on the remote host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// virtkitd when installed, else libvirt's helper, else netcat.
    Auto,
    /// `nc -U SOCKET`.
    Netcat,
    /// `virt-ssh-helper URI`.
    Native,
    /// `virtkitd --stdio`.
    Virtkitd,
}

/// The program to run and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshCommand {
    /// `ssh`, or `?command=`.
    pub program: String,
    /// Everything after the program.
    pub args: Vec<String>,
}

/// libvirt's `virBufferEscapeShell`: a word as it is when it holds nothing special, else in
/// single quotes with each `'` written `'\''`.
fn escape_shell(s: &str) -> String {
    const SPECIAL: &str = "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~";
    if !s.is_empty() && !s.contains(|c| SPECIAL.contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Quoted for the login shell and again for the `sh -c` it runs.
fn double_escape(s: &str) -> String {
    escape_shell(&escape_shell(s))
}

/// A URI parameter read as libvirt reads its flags: an integer, true when not zero.
fn flag(u: &Uri, name: &str) -> Result<bool> {
    match u.param(name) {
        None => Ok(false),
        Some(v) => v.trim().parse::<i64>().map(|n| n != 0).map_err(|_| {
            Error::invalid_arg(format!("Failed to parse value of URI component {name}"))
        }),
    }
}

/// A value that goes into the remote command line: no control characters (a newline would
/// end the command early on any shell).
fn remote_value<'a>(what: &str, v: &'a str) -> Result<&'a str> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(Error::invalid_arg(format!(
            "{what} '{}' is empty or holds control characters",
            v.escape_debug()
        )));
    }
    Ok(v)
}

/// A path handed to `ssh -o`: absolute, and free of what ssh would split or expand there.
fn ssh_option_path<'a>(what: &str, v: &'a str) -> Result<&'a str> {
    if !v.starts_with('/')
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'%\\".contains(c))
    {
        return Err(Error::invalid_arg(format!(
            "{what} '{}' must be an absolute path without spaces, quotes, '%' or '\\'",
            v.escape_debug()
        )));
    }
    Ok(v)
}

/// The proxy a URI asks for.
fn proxy(u: &Uri) -> Result<Proxy> {
    let netcat_or_socket = u.param("netcat").is_some() || u.param("socket").is_some();
    Ok(match u.param("proxy") {
        None if netcat_or_socket => Proxy::Netcat,
        None => Proxy::Auto,
        // libvirt: a netcat path given with `auto` means the netcat proxy.
        Some("auto") if u.param("netcat").is_some() => Proxy::Netcat,
        Some("auto") => Proxy::Auto,
        Some("netcat") => Proxy::Netcat,
        Some("native") => {
            if u.param("netcat").is_some() {
                return Err(Error::invalid_arg(
                    "netcat path not valid with native proxy mode",
                ));
            }
            Proxy::Native
        }
        Some("virtkitd") => {
            if netcat_or_socket {
                return Err(Error::invalid_arg(
                    "socket and netcat are not used with proxy=virtkitd (virtkitd --stdio serves the connection itself)",
                ));
            }
            Proxy::Virtkitd
        }
        Some(p) => {
            return Err(Error::invalid_arg(format!(
                "Unknown proxy type '{p}' (auto, netcat, native or virtkitd)"
            )));
        }
    })
}

/// The `ssh` command for an `+ssh` URI `u`. libvirt's `virt-ssh-helper` is given `helper_uri`
/// (virtkitd and netcat need no URI: the client opens it through the protocol).
pub fn command(u: &Uri, helper_uri: &str, read_only: bool) -> Result<SshCommand> {
    match u.param("mode") {
        None | Some("auto") | Some("legacy") => {}
        Some("direct") => {
            return Err(Error::new(
                ErrorCode::NoSupport,
                "Operation not supported: Cannot use direct socket mode for ssh transport",
            ));
        }
        Some(m) => {
            return Err(Error::invalid_arg(format!(
                "Unknown remote mode '{m}' (auto, legacy or direct)"
            )));
        }
    }
    let proxy = proxy(u)?;
    let program = u.param("command").unwrap_or("ssh").to_string();
    if program.is_empty() {
        return Err(Error::invalid_arg("command= names no program"));
    }
    let mut args = Vec::new();
    if let Some(port) = u.port {
        args.extend(["-p".to_string(), port.to_string()]);
    }
    if let Some(user) = &u.user {
        args.extend(["-l".to_string(), user.clone()]);
    }
    if let Some(key) = u.param("keyfile") {
        args.extend(["-i".to_string(), key.to_string()]);
    }
    args.extend(["-T", "-e", "none"].map(String::from));
    if flag(u, "no_tty")? {
        args.extend(["-o", "BatchMode=yes"].map(String::from));
    }
    if flag(u, "no_verify")? {
        args.extend(["-o", "StrictHostKeyChecking=no"].map(String::from));
    }
    if let Some(file) = u.param("known_hosts") {
        let file = ssh_option_path("known_hosts", file)?;
        args.extend(["-o".to_string(), format!("UserKnownHostsFile={file}")]);
    }
    match u.param("known_hosts_verify") {
        None | Some("normal") => {}
        Some("auto") => args.extend(["-o", "StrictHostKeyChecking=accept-new"].map(String::from)),
        Some("ignore") => args.extend(["-o", "StrictHostKeyChecking=no"].map(String::from)),
        Some(v) => {
            return Err(Error::invalid_arg(format!(
                "Invalid host key verification method: '{v}' (normal, auto or ignore)"
            )));
        }
    }
    args.push("--".into());
    args.push(u.host.clone().unwrap_or_else(|| "localhost".into()));
    args.push(remote_command(u, proxy, helper_uri, read_only)?);
    Ok(SshCommand { program, args })
}

/// The command line the remote login shell runs.
fn remote_command(u: &Uri, proxy: Proxy, helper_uri: &str, read_only: bool) -> Result<String> {
    let netcat = double_escape(remote_value("netcat", u.param("netcat").unwrap_or("nc"))?);
    let socket = match u.param("socket") {
        Some(s) => remote_value("socket", s)?.to_string(),
        None if read_only => format!("{REMOTE_SOCKET}-ro"),
        None => REMOTE_SOCKET.to_string(),
    };
    let helper_uri = double_escape(remote_value("the URI", helper_uri)?);
    let nc = format!(
        "if '{netcat}' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then \
         ARG=-q0;else ARG=;fi;'{netcat}' $ARG -U {}",
        double_escape(&socket)
    );
    let helper = format!(
        "virt-ssh-helper{}'{helper_uri}'",
        if read_only { " -r " } else { " " }
    );
    let virtkitd = "virtkitd --stdio";
    Ok(match proxy {
        Proxy::Netcat => format!("sh -c '{nc}'"),
        Proxy::Native => format!("sh -c '{helper}'"),
        Proxy::Virtkitd => format!("sh -c 'exec {virtkitd}'"),
        Proxy::Auto => format!(
            "sh -c 'if command -v virtkitd >/dev/null 2>&1; then exec {virtkitd}; \
             elif which virt-ssh-helper 1>/dev/null 2>&1; then {helper}; else {nc}; fi'"
        ),
    })
}

/// Our end of the socket pair. Writes use `send(MSG_NOSIGNAL)`: when ssh has died, a write is
/// an `EPIPE` error, never a SIGPIPE that would kill a host program that does not ignore it.
struct PairEnd(UnixStream);

impl io::Read for PairEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl io::Write for PairEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, send};
        use std::os::fd::AsRawFd;
        send(self.0.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL).map_err(io::Error::from)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for PairEnd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A connection through `ssh`: the stream is one end of a socket pair whose other end is
/// ssh's standard input and output. The ssh process is stopped and reaped when the transport
/// is dropped (see [`Tunnel`]); when the stream ends or breaks because ssh failed, the error
/// says how ssh exited and what it printed ("Permission denied (publickey).", "Host key
/// verification failed.", a remote "virtkitd: not found").
pub struct SshTransport {
    stream: PairEnd,
    tunnel: Tunnel,
    host: String,
}

impl SshTransport {
    /// Starts `command` (normally `ssh ... -- HOST REMOTE-COMMAND`) for a connection to `host`.
    pub fn spawn(command: &SshCommand, host: &str) -> Result<SshTransport> {
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args);
        let tunnel = Tunnel::spawn(&mut cmd, STDERR_CAP).map_err(|e| {
            Error::new(
                ErrorCode::NoConnect,
                format!("Cannot run the ssh client: {e}"),
            )
        })?;
        let stream = tunnel
            .stream()
            .map(UnixStream::try_clone)
            .transpose()
            .and_then(|s| s.ok_or_else(|| io::Error::other("no stream")))
            .and_then(|s| set_nonblocking(s.as_fd()).map(|()| s))
            .map_err(|e| Error::system("the ssh client's socket", &e))?;
        Ok(SshTransport {
            stream: PairEnd(stream),
            tunnel,
            host: host.to_string(),
        })
    }

    /// The process id of ssh.
    pub fn ssh_pid(&self) -> u32 {
        self.tunnel.id()
    }

    /// Why the stream ended: ssh's exit status and error output, when it exited with a failure
    /// or said something; `None` when it ended cleanly and silently.
    fn ended(&mut self) -> Option<io::Error> {
        let status = self.tunnel.wait_exit(EXIT_GRACE);
        let said = self.tunnel.stderr_text(Duration::from_millis(500));
        let failed = status.is_some_and(|s| !s.success());
        if !failed && said.is_empty() {
            return None;
        }
        let how = match status {
            Some(s) => match s.code() {
                Some(c) => format!("ssh exited with status {c}"),
                None => format!("ssh ended: {s}"),
            },
            None => "ssh is still running".to_string(),
        };
        let said = if said.is_empty() {
            "(no error output)".to_string()
        } else {
            said.replace('\n', " / ")
        };
        Some(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the ssh connection to '{}' failed ({how}): {said}",
                self.host
            ),
        ))
    }
}

impl Transport for SshTransport {
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        match read_fd(&mut self.stream, buf, deadline) {
            Ok(0) if !buf.is_empty() => match self.ended() {
                Some(e) => Err(e),
                None => Ok(0),
            },
            Err(e) if e.kind() != io::ErrorKind::TimedOut => Err(self.ended().unwrap_or(e)),
            r => r,
        }
    }
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        match write_all_fd(&mut self.stream, buf, deadline) {
            Err(e) if e.kind() != io::ErrorKind::TimedOut => Err(self.ended().unwrap_or(e)),
            r => r,
        }
    }
    fn shutdown(&mut self) {
        let _ = self.stream.0.shutdown(std::net::Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(uri: &str, ro: bool) -> Result<SshCommand> {
        let u = Uri::parse(uri).unwrap();
        let name = format!(
            "{}://{}",
            u.scheme,
            if u.path.is_empty() { "/" } else { &u.path }
        );
        command(&u, &name, ro)
    }

    #[test]
    fn libvirts_options_in_libvirts_order() {
        let c = cmd(
            "test+ssh://root@127.0.0.1:2222/default?keyfile=/k&no_tty=1&proxy=virtkitd",
            false,
        )
        .unwrap();
        assert_eq!(c.program, "ssh");
        assert_eq!(
            c.args,
            [
                "-p",
                "2222",
                "-l",
                "root",
                "-i",
                "/k",
                "-T",
                "-e",
                "none",
                "-o",
                "BatchMode=yes",
                "--",
                "127.0.0.1",
                "sh -c 'exec virtkitd --stdio'"
            ]
        );
        let c = cmd(
            "qemu+ssh:///system?command=/opt/ssh&no_verify=1&no_tty=0",
            false,
        )
        .unwrap();
        assert_eq!(c.program, "/opt/ssh");
        assert_eq!(
            c.args[..6],
            ["-T", "-e", "none", "-o", "StrictHostKeyChecking=no", "--"]
        );
        assert_eq!(c.args[6], "localhost");
    }

    #[test]
    fn the_remote_command_is_libvirts_for_netcat_and_native() {
        let last = |uri, ro| cmd(uri, ro).unwrap().args.pop().unwrap();
        assert_eq!(
            last("qemu+ssh://h/system?netcat=/bin/nc", true),
            "sh -c 'if '/bin/nc' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'/bin/nc' $ARG -U /var/run/libvirt/libvirt-sock-ro'"
        );
        assert_eq!(
            last("qemu+ssh://h/system?socket=/x/y", false),
            "sh -c 'if 'nc' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'nc' $ARG -U /x/y'"
        );
        assert_eq!(
            last("qemu+ssh://h/system?proxy=native", true),
            "sh -c 'virt-ssh-helper -r 'qemu:///system''"
        );
        // A URI with shell characters is quoted twice, as libvirt quotes it.
        let u = Uri::parse("qemu+ssh://h/system?proxy=native").unwrap();
        let c = command(&u, "qemu:///system?x=1", false).unwrap();
        assert_eq!(
            c.args.last().unwrap(),
            "sh -c 'virt-ssh-helper '''\\''qemu:///system?x=1'\\'''''"
        );
    }

    #[test]
    fn auto_prefers_virtkitd_then_falls_back_as_libvirt_does() {
        let c = cmd("test+ssh://h/default", false).unwrap();
        let remote = c.args.last().unwrap();
        assert!(
            remote.starts_with(
                "sh -c 'if command -v virtkitd >/dev/null 2>&1; then exec virtkitd --stdio; \
                 elif which virt-ssh-helper 1>/dev/null 2>&1; then virt-ssh-helper 'test:///default'; else if 'nc' -q"
            ),
            "{remote}"
        );
        assert!(
            remote.ends_with("-U /var/run/libvirt/libvirt-sock; fi'"),
            "{remote}"
        );
    }

    #[test]
    fn the_remote_command_runs_through_a_real_shell_as_intended() {
        // The login shell runs the command line; `virt-ssh-helper` is a stand-in that prints
        // the arguments it got.
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("virt-ssh-helper");
        std::fs::write(&helper, "#!/bin/sh\nprintf '%s|' \"$@\"\n").unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let u = Uri::parse("qemu+ssh://h/system?proxy=native").unwrap();
        let c = command(&u, "qemu:///system?x='a b'&y=$HOME", true).unwrap();
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        let out = std::process::Command::new("sh")
            .args(["-c", c.args.last().unwrap()])
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "-r|qemu:///system?x='a b'&y=$HOME|"
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_libvirts_words() {
        for (uri, needle) in [
            (
                "qemu+ssh://h/system?mode=direct",
                "Cannot use direct socket mode",
            ),
            ("qemu+ssh://h/system?mode=x", "Unknown remote mode 'x'"),
            ("qemu+ssh://h/system?proxy=x", "Unknown proxy type 'x'"),
            (
                "qemu+ssh://h/system?proxy=native&netcat=nc",
                "netcat path not valid with native proxy mode",
            ),
            (
                "qemu+ssh://h/system?proxy=virtkitd&socket=/s",
                "proxy=virtkitd",
            ),
            ("qemu+ssh://h/system?no_tty=yes", "URI component no_tty"),
            ("qemu+ssh://h/system?known_hosts=rel", "absolute path"),
            ("qemu+ssh://h/system?known_hosts=/a%20b", "absolute path"),
            (
                "qemu+ssh://h/system?known_hosts_verify=x",
                "verification method",
            ),
            ("qemu+ssh://h/system?socket=/a%0Ab", "control characters"),
            ("qemu+ssh://h/system?command=", "names no program"),
        ] {
            let e = cmd(uri, false).unwrap_err();
            assert!(e.message.contains(needle), "{uri}: {}", e.message);
        }
    }

    fn fake_ssh(script: &str) -> SshTransport {
        let c = SshCommand {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
        };
        SshTransport::spawn(&c, "node1").unwrap()
    }

    fn reaped(pid: u32) -> bool {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_reply_that_never_comes_times_out_and_ssh_is_reaped() {
        // An "ssh" that takes what is sent and never answers.
        let mut t = fake_ssh("cat >/dev/null");
        let pid = t.ssh_pid();
        t.write_all(b"a call", Instant::now() + Duration::from_secs(5))
            .unwrap();
        let mut buf = [0u8; 16];
        let e = t
            .read(&mut buf, Instant::now() + Duration::from_millis(200))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        drop(t);
        assert!(reaped(pid));
    }

    #[test]
    fn a_failed_ssh_is_reported_with_what_it_printed() {
        let mut t = fake_ssh("echo 'Permission denied (publickey).' >&2; exit 255");
        let pid = t.ssh_pid();
        let mut buf = [0u8; 16];
        let e = t
            .read(&mut buf, Instant::now() + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the ssh connection to 'node1' failed (ssh exited with status 255): Permission denied (publickey)."
        );
        // Writing to it now fails the same way, rather than with a bare EPIPE.
        let e = t
            .write_all(&[0; 65536 * 4], Instant::now() + Duration::from_secs(20))
            .unwrap_err();
        assert!(
            e.to_string().contains("Permission denied (publickey)."),
            "{e}"
        );
        drop(t);
        assert!(reaped(pid));
    }

    #[test]
    fn a_clean_silent_end_is_the_end_of_the_stream() {
        let mut t = fake_ssh("exit 0");
        let mut buf = [0u8; 16];
        let n = t
            .read(&mut buf, Instant::now() + Duration::from_secs(20))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_missing_ssh_client_is_a_clear_error() {
        let c = SshCommand {
            program: "/nonexistent/ssh".into(),
            args: vec![],
        };
        let e = SshTransport::spawn(&c, "h").err().unwrap();
        assert!(e.message.contains("/nonexistent/ssh"), "{e}");
    }
}
