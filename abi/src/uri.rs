//! Connection URIs as drivers read them: one parser for the host (which offers it to C drivers
//! as a host service, [`crate::VkHostServices::parse_uri`]) and the Rust SDK (`Uri`), so every
//! driver splits `scheme+transport://user@host:port/path?name=value` the same way.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Longest URI accepted, in bytes.
pub const URI_MAX_LEN: usize = 4096;
/// Most query parameters accepted.
pub const URI_MAX_PARAMS: usize = 64;

/// A connection URI split into its parts. Query names and values, the user and the path are
/// percent-decoded; the scheme is lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnUri {
    /// The text as given.
    pub text: String,
    /// The scheme without its transport: `qemu` in `qemu+ssh://host/system`.
    pub scheme: String,
    /// The transport after `+`, if any: `ssh` in `qemu+ssh://host/system`.
    pub transport: Option<String>,
    /// The user before `@`, if any.
    pub user: Option<String>,
    /// The host, if the URI names one (`qemu:///system` names none).
    pub host: Option<String>,
    /// The port, if any.
    pub port: Option<u16>,
    /// The path: `/system`, `/default`, `/` or empty.
    pub path: String,
    /// The query parameters, in order (`?socket=/run/x&mode=legacy`).
    pub params: Vec<(String, String)>,
}

/// Why a URI does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(text: &str, why: &str) -> UriError {
    let shown: String = text.chars().take(200).collect();
    UriError(alloc::format!("invalid URI '{shown}': {why}"))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s`; the result must be UTF-8 without NUL.
fn decode(text: &str, s: &str, what: &str) -> Result<String, UriError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(err(
                    text,
                    &alloc::format!("bad percent escape in the {what}"),
                ));
            };
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return Err(err(text, &alloc::format!("the {what} contains a NUL byte")));
    }
    String::from_utf8(out).map_err(|_| err(text, &alloc::format!("the {what} is not UTF-8")))
}

impl ConnUri {
    /// Parses `scheme[+transport]:[//[user@]host[:port]]path[?query]`. A fragment (`#...`) is
    /// refused; a host in brackets (`[::1]`) is an IPv6 address.
    pub fn parse(text: &str) -> Result<ConnUri, UriError> {
        let text = text.trim();
        if text.len() > URI_MAX_LEN {
            return Err(UriError(alloc::format!(
                "invalid URI: {} bytes long (at most {URI_MAX_LEN})",
                text.len()
            )));
        }
        if text.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err(text, "it contains spaces or control characters"));
        }
        if text.contains('#') {
            return Err(err(text, "connection URIs have no fragment ('#')"));
        }
        let Some((scheme_part, rest)) = text.split_once(':') else {
            return Err(err(text, "no scheme (expected e.g. test:///default)"));
        };
        if scheme_part.is_empty()
            || !scheme_part.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme_part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(err(
                text,
                "the scheme is not letters, digits, '+', '-' or '.'",
            ));
        }
        let scheme_lc = scheme_part.to_ascii_lowercase();
        let (scheme, transport) = match scheme_lc.split_once('+') {
            Some((s, t)) if !s.is_empty() && !t.is_empty() => (s.to_string(), Some(t.to_string())),
            Some(_) => return Err(err(text, "empty scheme or transport around '+'")),
            None => (scheme_lc.clone(), None),
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (mut user, mut host, mut port) = (None, None, None);
        let path_raw = if let Some(after) = before_query.strip_prefix("//") {
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            let hostport = match authority.rsplit_once('@') {
                Some((u, h)) => {
                    user = Some(decode(text, u, "user")?);
                    h
                }
                None => authority,
            };
            let (h, p) = if let Some(v6) = hostport.strip_prefix('[') {
                let Some((addr, tail)) = v6.split_once(']') else {
                    return Err(err(text, "unclosed '[' in the host"));
                };
                match tail {
                    "" => (addr, None),
                    t => match t.strip_prefix(':') {
                        Some(p) => (addr, Some(p)),
                        None => return Err(err(text, "junk after ']' in the host")),
                    },
                }
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (hostport, None),
                }
            };
            if !h.is_empty() {
                host = Some(decode(text, h, "host")?);
            }
            if let Some(p) = p.filter(|p| !p.is_empty()) {
                port = Some(
                    p.parse::<u16>()
                        .map_err(|_| err(text, "the port is not a number from 0 to 65535"))?,
                );
            }
            path
        } else {
            before_query
        };
        let path = decode(text, path_raw, "path")?;
        let mut params = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            if params.len() == URI_MAX_PARAMS {
                return Err(err(
                    text,
                    &alloc::format!("more than {URI_MAX_PARAMS} query parameters"),
                ));
            }
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode(text, n, "query")?, decode(text, v, "query")?));
        }
        Ok(ConnUri {
            text: text.to_string(),
            scheme,
            transport,
            user,
            host,
            port,
            path,
            params,
        })
    }

    /// The value of the last query parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_remote_and_query_forms() {
        let u = ConnUri::parse("toyhv:///").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host, u.path.as_str()),
            ("toyhv", None, "/")
        );
        let u =
            ConnUri::parse("QEMU+ssh://root@node1:2222/system?socket=/run/x%20y&keyfile=k&mode")
                .unwrap();
        assert_eq!(u.scheme, "qemu");
        assert_eq!(u.transport.as_deref(), Some("ssh"));
        assert_eq!(u.user.as_deref(), Some("root"));
        assert_eq!(u.host.as_deref(), Some("node1"));
        assert_eq!(u.port, Some(2222));
        assert_eq!(u.path, "/system");
        assert_eq!(u.param("socket"), Some("/run/x y"));
        assert_eq!(u.param("mode"), Some(""));
        assert_eq!(u.param("nope"), None);
        let u = ConnUri::parse("test://[::1]:16509/default").unwrap();
        assert_eq!((u.host.as_deref(), u.port), (Some("::1"), Some(16509)));
        let u = ConnUri::parse("xen:").unwrap();
        assert_eq!((u.scheme.as_str(), u.path.as_str()), ("xen", ""));
    }

    #[test]
    fn malformed_uris_are_refused_with_the_reason() {
        for (bad, why) in [
            ("", "no scheme"),
            ("default", "no scheme"),
            ("1x:///", "scheme"),
            ("test:///a#b", "fragment"),
            ("test://h:99999/", "port"),
            ("test:///%zz", "percent"),
            ("test:///%00", "NUL"),
            ("test:///a b", "spaces"),
            ("+ssh://h/", "scheme"),
            ("qemu+://h/", "'+'"),
            ("test://[::1/", "'['"),
        ] {
            let e = ConnUri::parse(bad).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
        let long = alloc::format!("test:///{}", "a".repeat(URI_MAX_LEN));
        assert!(ConnUri::parse(&long).unwrap_err().0.contains("at most"));
        let many: Vec<String> = (0..=URI_MAX_PARAMS)
            .map(|i| alloc::format!("p{i}=1"))
            .collect();
        let e = ConnUri::parse(&alloc::format!("test:///?{}", many.join("&"))).unwrap_err();
        assert!(e.0.contains("query parameters"), "{e}");
    }
}
