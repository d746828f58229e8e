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
    /// Plain TCP (`listen_tcp`, or `--listen ADDR[:PORT]`): where; only loopback addresses
    /// unless [`Settings::insecure_tcp`].
    pub tcp: Option<Listen>,
    /// TLS (`listen_tls`, or `--tls[=ADDR[:PORT]]`): where.
    pub tls: Option<Listen>,
    /// `listen_addr`: the address `listen_tcp` and `listen_tls` use (all addresses when unset,
    /// as libvirtd).
    pub listen_addr: Option<String>,
    /// `tcp_port` (16509).
    pub tcp_port: u16,
    /// `tls_port` (16514).
    pub tls_port: u16,
    /// `ca_file`, `cert_file`, `key_file`: the daemon's x509 files (libvirt's pki layout).
    pub pki: virtkit_tls::Pki,
    /// `crl_file`: the CA's revocation list (libvirt's `/etc/pki/CA/cacrl.pem` when it exists).
    pub crl_file: Option<PathBuf>,
    /// `tls_no_verify_certificate = 1`: TLS clients need no valid certificate.
    pub tls_no_verify_certificate: bool,
    /// `--insecure-tcp`: plain TCP may listen on addresses other than loopback.
    pub insecure_tcp: bool,
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
            tcp: None,
            tls: None,
            listen_addr: None,
            tcp_port: TCP_PORT,
            tls_port: TLS_PORT,
            pki: virtkit_tls::Pki::server_system(),
            crl_file: None,
            tls_no_verify_certificate: false,
            insecure_tcp: false,
            not_supported: Vec::new(),
        }
    }
}

/// libvirt's TCP port.
pub const TCP_PORT: u16 = 16509;
/// libvirt's TLS port.
pub const TLS_PORT: u16 = 16514;

/// Where a network listener listens: a host name or address, and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// A host name or address; `None` for every address (libvirtd's default `listen_addr`).
    pub addr: Option<String>,
    /// The port.
    pub port: u16,
}

impl Listen {
    /// Reads `ADDR`, `ADDR:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address, with `port` when
    /// none is given.
    pub fn parse(text: &str, port: u16) -> Result<Listen, String> {
        let bad = || format!("'{text}' is not ADDR[:PORT]");
        let port_of = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("'{text}': port '{p}' is not a number from 1 to 65535"))
        };
        let (addr, port) = if let Some(rest) = text.strip_prefix('[') {
            let (a, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (a, port),
                p => (a, port_of(p.strip_prefix(':').ok_or_else(bad)?)?),
            }
        } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
            (text, port)
        } else {
            match text.rsplit_once(':') {
                Some((a, p)) => (a, port_of(p)?),
                None => (text, port),
            }
        };
        if addr.is_empty() || addr.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(bad());
        }
        Ok(Listen {
            addr: Some(addr.to_string()),
            port,
        })
    }

    /// The socket addresses to bind: every address the name resolves to, or every address of
    /// the host (`0.0.0.0` and `::`) when no name is set.
    pub fn resolve(&self) -> Result<Vec<std::net::SocketAddr>, String> {
        use std::net::ToSocketAddrs;
        match &self.addr {
            None => Ok(vec![std::net::SocketAddr::from(([0u8; 16], self.port))]),
            Some(a) => {
                let mut v: Vec<_> = (a.as_str(), self.port)
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve '{a}': {e}"))?
                    .collect();
                v.sort();
                v.dedup();
                if v.is_empty() {
                    return Err(format!("'{a}' resolves to no address"));
                }
                Ok(v)
            }
        }
    }

    /// `ADDR:PORT` for log lines.
    pub fn describe(&self) -> String {
        match &self.addr {
            None => format!("*:{}", self.port),
            Some(a) if a.contains(':') => format!("[{a}]:{}", self.port),
            Some(a) => format!("{a}:{}", self.port),
        }
    }
}

/// The keys of libvirtd.conf virtkitd reads but does not act on: reported at start.
const NOT_YET: &[&str] = &["tls_priority", "mdns_adv", "mdns_name"];

/// Keys that would restrict who may connect; virtkitd cannot honour them, and ignoring them
/// would let in clients the administrator meant to keep out, so a file setting them is refused.
const REFUSED: &[(&str, &str)] = &[
    (
        "tls_allowed_dn_list",
        "virtkitd cannot restrict TLS clients by distinguished name; every client with a certificate of the CA is accepted",
    ),
    (
        "sasl_allowed_username_list",
        "virtkitd has no SASL authentication",
    ),
];

fn port(conf: &virtkit_conf::Conf, key: &str) -> Result<Option<u16>, String> {
    // libvirtd.conf writes ports as strings ("16509"); a number is accepted too.
    let v = match conf.get(key) {
        None => return Ok(None),
        Some(virtkit_conf::Value::Str(s)) => s.parse::<i128>().ok(),
        Some(virtkit_conf::Value::Int(i)) => Some(*i),
        Some(_) => None,
    };
    match v {
        Some(p @ 1..=65535) => Ok(Some(p as u16)),
        _ => Err(format!("'{key}' must be a port number from 1 to 65535")),
    }
}

fn switch(conf: &virtkit_conf::Conf, key: &str) -> Result<Option<bool>, String> {
    match conf.get_int(key)? {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(v) => Err(format!("'{key}' = {v}: expected 0 or 1")),
    }
}

fn path(conf: &virtkit_conf::Conf, key: &str) -> Result<Option<PathBuf>, String> {
    match conf.get_str(key)? {
        None => Ok(None),
        Some(p) if p.starts_with('/') => Ok(Some(PathBuf::from(p))),
        Some(p) => Err(format!("'{key}' = \"{p}\" is not an absolute path")),
    }
}

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
        if let Some(p) = port(&conf, "tcp_port")? {
            self.tcp_port = p;
        }
        if let Some(p) = port(&conf, "tls_port")? {
            self.tls_port = p;
        }
        if let Some(a) = conf.get_str("listen_addr")? {
            Listen::parse(a, 1).map_err(|e| format!("'listen_addr': {e}"))?;
            self.listen_addr = Some(a.to_string());
        }
        if let Some(p) = path(&conf, "ca_file")? {
            self.pki.ca = p;
        }
        if let Some(p) = path(&conf, "cert_file")? {
            self.pki.cert = p;
        }
        if let Some(p) = path(&conf, "key_file")? {
            self.pki.key = p;
        }
        self.crl_file = path(&conf, "crl_file")?;
        if let Some(v) = switch(&conf, "tls_no_verify_certificate")? {
            self.tls_no_verify_certificate = v;
        }
        for (key, listener) in [("auth_tcp", "TCP"), ("auth_tls", "TLS")] {
            match conf.get_str(key)? {
                None | Some("none") => {}
                Some(v) => {
                    return Err(format!(
                        "'{key}' = \"{v}\" is not supported: virtkitd offers no SASL or polkit; {listener} clients are authenticated by {}",
                        if listener == "TLS" {
                            "their x509 certificates (auth_tls = \"none\")"
                        } else {
                            "nothing (auth_tcp = \"none\", loopback only)"
                        }
                    ));
                }
            }
        }
        // The listeners, after the address and ports they use.
        let at = |port| Listen {
            addr: self.listen_addr.clone(),
            port,
        };
        if let Some(on) = switch(&conf, "listen_tcp")? {
            self.tcp = on.then(|| at(self.tcp_port));
        }
        if let Some(on) = switch(&conf, "listen_tls")? {
            self.tls = on.then(|| at(self.tls_port));
        }
        for (key, why) in REFUSED {
            if conf.get(key).is_some() {
                return Err(format!("'{key}' is not supported: {why}; remove it"));
            }
        }
        for key in NOT_YET {
            if conf.get(key).is_some() {
                self.not_supported
                    .push(format!("'{key}' is not supported; ignored"));
            }
        }
        Ok(())
    }

    /// The CA revocation list to use: `crl_file`, else libvirt's default when it exists.
    pub fn crl(&self) -> Option<PathBuf> {
        self.crl_file.clone().or_else(|| {
            let p = Path::new(virtkit_tls::SYSTEM_CRL);
            p.exists().then(|| p.to_path_buf())
        })
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
             log_level = 1\nlisten_tcp = 1\nlisten_tls = 0\nsomething_else = \"x\"\nmdns_adv = 1\n",
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
        assert!(s.not_supported[0].contains("mdns_adv"));
        assert_eq!(
            s.tcp,
            Some(Listen {
                addr: None,
                port: 16509
            })
        );
        assert_eq!(s.tls, None);
    }

    #[test]
    fn the_network_keys_are_read() {
        let mut s = Settings::default();
        s.apply_text(
            "listen_tls = 1\nlisten_tcp = 1\nlisten_addr = \"127.0.0.1\"\ntcp_port = \"1234\"\n\
             tls_port = 2345\nca_file = \"/p/ca.pem\"\ncert_file = \"/p/c.pem\"\nkey_file = \"/p/k.pem\"\n\
             crl_file = \"/p/crl.pem\"\ntls_no_verify_certificate = 1\nauth_tls = \"none\"\nauth_tcp = \"none\"\n",
        )
        .unwrap();
        let at = |port| {
            Some(Listen {
                addr: Some("127.0.0.1".into()),
                port,
            })
        };
        assert_eq!((s.tcp.clone(), s.tls.clone()), (at(1234), at(2345)));
        assert_eq!(
            s.pki,
            virtkit_tls::Pki {
                ca: "/p/ca.pem".into(),
                cert: "/p/c.pem".into(),
                key: "/p/k.pem".into()
            }
        );
        assert_eq!(s.crl(), Some(PathBuf::from("/p/crl.pem")));
        assert!(s.tls_no_verify_certificate);
        assert_eq!(Settings::default().pki, virtkit_tls::Pki::server_system());
    }

    #[test]
    fn listen_addresses() {
        for (text, addr, port) in [
            ("127.0.0.1", "127.0.0.1", 7),
            ("127.0.0.1:99", "127.0.0.1", 99),
            ("localhost:99", "localhost", 99),
            ("::1", "::1", 7),
            ("[::1]", "::1", 7),
            ("[::1]:99", "::1", 99),
        ] {
            assert_eq!(
                Listen::parse(text, 7).unwrap(),
                Listen {
                    addr: Some(addr.into()),
                    port
                },
                "{text}"
            );
        }
        for bad in ["", ":5", "a:0", "a:x", "[::1", "[::1]x", "a b"] {
            assert!(Listen::parse(bad, 7).is_err(), "{bad}");
        }
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
            ("tcp_port = \"0\"", "tcp_port"),
            ("tls_port = \"x\"", "tls_port"),
            ("listen_tls = 2", "listen_tls"),
            ("key_file = \"k.pem\"", "key_file"),
            ("auth_tls = \"sasl\"", "auth_tls"),
            ("auth_tcp = \"sasl\"", "auth_tcp"),
            ("tls_allowed_dn_list = [\"C=GB,*\"]", "tls_allowed_dn_list"),
        ] {
            let err = Settings::default().apply_text(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
