//! The daemon's settings: defaults, then a config file in libvirtd.conf format (read with
//! `virtkit-conf`, the one parser of libvirt's conf format), then the command line.

use std::path::{Path, PathBuf};

/// The default read-write socket.
pub const DEFAULT_SOCKET: &str = "/run/virtkit/virtkit-sock";
/// The largest config file read.
const CONFIG_CAP: u64 = 1024 * 1024;

/// How much the daemon logs: libvirt's `log_level` (1 debug, 2 info, 3 warning, 4 error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Every call.
    Debug = 1,
    /// Clients coming and going.
    Info = 2,
    /// Refusals and malformed input.
    Warning = 3,
    /// Failures only.
    Error = 4,
}

/// Everything the daemon runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The read-write socket.
    pub socket: PathBuf,
    /// The read-only socket.
    pub ro_socket: PathBuf,
    /// Group owning the sockets (`unix_sock_group`).
    pub sock_group: Option<String>,
    /// Mode of the read-only socket (`unix_sock_ro_perms`).
    pub ro_perms: u32,
    /// Mode of the read-write socket (`unix_sock_rw_perms`).
    pub rw_perms: u32,
    /// Most clients at once (`max_clients`).
    pub max_clients: usize,
    /// Most calls one client has running at once (`max_client_requests`, at most
    /// `max_workers`).
    pub max_client_requests: usize,
    /// Most worker threads per client (`max_workers`).
    pub max_workers: usize,
    /// Log level.
    pub log_level: LogLevel,
    /// Settings of the file that are read but not acted on yet, with why (printed at start).
    pub not_supported: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            socket: PathBuf::from(DEFAULT_SOCKET),
            ro_socket: PathBuf::from(format!("{DEFAULT_SOCKET}-ro")),
            sock_group: None,
            ro_perms: 0o777,
            rw_perms: 0o700,
            max_clients: 5000,
            max_client_requests: 5,
            max_workers: 20,
            log_level: LogLevel::Warning,
            not_supported: Vec::new(),
        }
    }
}

/// The keys of libvirtd.conf that name network listeners, TLS and authentication schemes
/// virtkitd does not offer yet: read, and reported at start.
const NOT_YET: &[&str] = &[
    "listen_tls",
    "listen_tcp",
    "tls_port",
    "tcp_port",
    "listen_addr",
    "key_file",
    "cert_file",
    "ca_file",
    "crl_file",
    "tls_no_verify_certificate",
    "tls_allowed_dn_list",
    "tls_priority",
    "auth_tcp",
    "auth_tls",
    "sasl_allowed_username_list",
    "mdns_adv",
    "mdns_name",
];

fn int_in(
    conf: &virtkit_conf::Conf,
    key: &str,
    lo: i128,
    hi: i128,
) -> Result<Option<i128>, String> {
    match conf.get_int(key)? {
        None => Ok(None),
        Some(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
        Some(v) => Err(format!("'{key}' = {v} is out of range: {lo} to {hi}")),
    }
}

fn perms(conf: &virtkit_conf::Conf, key: &str) -> Result<Option<u32>, String> {
    let Some(s) = conf.get_str(key)? else {
        return Ok(None);
    };
    let digits = s.trim_start_matches('0');
    let v = if digits.is_empty() {
        0
    } else {
        u32::from_str_radix(digits, 8)
            .map_err(|_| format!("'{key}' = \"{s}\" is not an octal mode"))?
    };
    if v > 0o777 {
        return Err(format!("'{key}' = \"{s}\" is not a mode of at most 0777"));
    }
    Ok(Some(v))
}

impl Settings {
    /// Applies the settings of a libvirtd.conf-format file. Keys that do not concern a
    /// unix-socket daemon (TLS, TCP) are recorded in [`Settings::not_supported`]; unknown keys
    /// are ignored, as libvirtd ignores them.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), String> {
        let text = virtkit_hostio::read_string_capped(path, CONFIG_CAP)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.apply_text(&text)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Applies the settings of a config text.
    pub fn apply_text(&mut self, text: &str) -> Result<(), String> {
        let conf = virtkit_conf::Conf::parse(text).map_err(|e| e.to_string())?;
        if let Some(dir) = conf.get_str("unix_sock_dir")? {
            if !dir.starts_with('/') {
                return Err(format!(
                    "'unix_sock_dir' = \"{dir}\" is not an absolute path"
                ));
            }
            self.socket = Path::new(dir).join("virtkit-sock");
            self.ro_socket = Path::new(dir).join("virtkit-sock-ro");
        }
        if let Some(g) = conf.get_str("unix_sock_group")? {
            self.sock_group = Some(g.to_string());
        }
        if let Some(p) = perms(&conf, "unix_sock_ro_perms")? {
            self.ro_perms = p;
        }
        if let Some(p) = perms(&conf, "unix_sock_rw_perms")? {
            self.rw_perms = p;
        }
        if let Some(v) = int_in(&conf, "max_clients", 1, 1_000_000)? {
            self.max_clients = v as usize;
        }
        if let Some(v) = int_in(&conf, "max_workers", 1, 10_000)? {
            self.max_workers = v as usize;
        }
        if let Some(v) = int_in(&conf, "max_client_requests", 1, 10_000)? {
            self.max_client_requests = v as usize;
        }
        if let Some(v) = int_in(&conf, "log_level", 1, 4)? {
            self.log_level = match v {
                1 => LogLevel::Debug,
                2 => LogLevel::Info,
                3 => LogLevel::Warning,
                _ => LogLevel::Error,
            };
        }
        for key in NOT_YET {
            if let Some(v) = conf.get(key) {
                let off = matches!(v, virtkit_conf::Value::Int(0));
                if !off {
                    self.not_supported.push(format!(
                        "'{key}' is not supported yet (virtkitd listens on unix sockets only); ignored"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Calls one client may have running at once.
    pub fn workers_per_client(&self) -> usize {
        self.max_client_requests.min(self.max_workers).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_that_apply_are_read() {
        let mut s = Settings::default();
        s.apply_text(
            "unix_sock_dir = \"/tmp/x\"\nunix_sock_group = \"libvirt\"\nunix_sock_ro_perms = \"0777\"\n\
             unix_sock_rw_perms = \"0770\"\nmax_clients = 10\nmax_workers = 3\nmax_client_requests = 8\n\
             log_level = 1\nlisten_tcp = 1\nlisten_tls = 0\nsomething_else = \"x\"\n",
        )
        .unwrap();
        assert_eq!(s.socket, Path::new("/tmp/x/virtkit-sock"));
        assert_eq!(s.ro_socket, Path::new("/tmp/x/virtkit-sock-ro"));
        assert_eq!(s.sock_group.as_deref(), Some("libvirt"));
        assert_eq!((s.ro_perms, s.rw_perms), (0o777, 0o770));
        assert_eq!(
            (s.max_clients, s.max_workers, s.max_client_requests),
            (10, 3, 8)
        );
        assert_eq!(s.workers_per_client(), 3);
        assert_eq!(s.log_level, LogLevel::Debug);
        assert_eq!(s.not_supported.len(), 1, "{:?}", s.not_supported);
        assert!(s.not_supported[0].contains("listen_tcp"));
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        for (text, needle) in [
            ("max_clients = 0", "max_clients"),
            ("max_clients = \"5\"", "max_clients"),
            ("unix_sock_rw_perms = \"0999\"", "unix_sock_rw_perms"),
            ("unix_sock_rw_perms = \"07777\"", "unix_sock_rw_perms"),
            ("unix_sock_dir = \"relative\"", "unix_sock_dir"),
            ("log_level = 7", "log_level"),
            ("max_workers = ", "1:"),
        ] {
            let err = Settings::default().apply_text(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
