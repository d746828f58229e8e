//! Connection URIs, as libvirt spells them.
//!
//! * `scheme:///path` — a local driver: `test:///default`, `test:///abs/node.xml`,
//!   `qemu:///system`, `qemu:///session`, `xen:///`, `openvz:///system`.
//! * `scheme+transport://host/path` or `scheme://host/path` — a remote node; routed to the
//!   `remote` driver.
//! * The legacy forms libvirt's Xen driver accepted: `xen`, `http://host[:port]/` (xend over
//!   TCP) and an absolute path (a xend unix socket). They are routed to the `xen` scheme and the
//!   original text is passed to the driver, which interprets it.

use crate::error::{Error, ErrorCode, Result};

/// Legacy URI forms and the scheme that serves them: (form, exact match or prefix, scheme).
const LEGACY_FORMS: &[(&str, bool, &str)] = &[
    ("xen", true, "xen"),
    ("http://", false, "xen"),
    ("/", false, "xen"),
];

/// A parsed connection URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectUri {
    /// The text handed to the driver's open.
    pub uri: String,
    /// The scheme whose drivers serve it.
    pub scheme: String,
    /// The host part, when the URI names one (then `scheme` is `remote`).
    pub host: Option<String>,
    /// The path part (`/default`, `/system`, ...).
    pub path: String,
}

/// Parses a URI the way libvirt does for local and legacy forms.
pub fn parse_uri(text: &str) -> Result<ConnectUri> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid_arg("empty connection URI"));
    }
    for (form, exact, scheme) in LEGACY_FORMS {
        let hit = if *exact {
            text == *form
        } else {
            text.starts_with(form)
        };
        if hit {
            return Ok(ConnectUri {
                uri: text.to_string(),
                scheme: scheme.to_string(),
                host: None,
                path: if text.starts_with('/') {
                    text.to_string()
                } else {
                    "/".into()
                },
            });
        }
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(Error::new(
            ErrorCode::InvalidArg,
            format!("invalid argument: no URI scheme in '{text}' (expected e.g. test:///default)"),
        ));
    };
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(Error::invalid_arg(format!(
            "invalid URI scheme in '{text}'"
        )));
    }
    let scheme_lc = scheme.to_ascii_lowercase();
    let (host, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            let path = path.split('?').next().unwrap_or("").to_string();
            let host = authority.rsplit('@').next().unwrap_or("").to_string();
            ((!host.is_empty()).then_some(host), path)
        }
        None => (None, rest.split('?').next().unwrap_or("").to_string()),
    };
    // A transport (`qemu+ssh`) or a host name means a remote node (libvirt's rule).
    let routed = if scheme_lc.contains('+') || host.is_some() {
        "remote".to_string()
    } else {
        scheme_lc
    };
    Ok(ConnectUri {
        uri: text.to_string(),
        scheme: routed,
        host,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_uris() {
        let u = parse_uri("test:///default").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.path.as_str(), u.host),
            ("test", "/default", None)
        );
        let u = parse_uri("qemu:///session").unwrap();
        assert_eq!((u.scheme.as_str(), u.path.as_str()), ("qemu", "/session"));
        let u = parse_uri("test:///tmp/dir/node.xml").unwrap();
        assert_eq!(u.path, "/tmp/dir/node.xml");
        assert_eq!(parse_uri("xen:///").unwrap().scheme, "xen");
        assert_eq!(parse_uri("openvz:///system").unwrap().scheme, "openvz");
    }

    #[test]
    fn legacy_forms_route_to_xen() {
        for t in ["xen", "http://localhost:8000/", "/var/run/xend/xend-socket"] {
            let u = parse_uri(t).unwrap();
            assert_eq!(u.scheme, "xen", "{t}");
            assert_eq!(u.uri, t);
        }
    }

    #[test]
    fn remote_forms() {
        assert_eq!(
            parse_uri("qemu+ssh://host/system").unwrap().scheme,
            "remote"
        );
        let u = parse_uri("test+unix:///default").unwrap();
        assert_eq!(u.scheme, "remote");
        let u = parse_uri("xen://root@node1/").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_deref()),
            ("remote", Some("node1"))
        );
    }

    #[test]
    fn bad_uris() {
        assert!(parse_uri("").is_err());
        assert!(parse_uri("nocolon").is_err());
        assert!(parse_uri("1abc:///").is_err());
        assert!(parse_uri("a b:///").is_err());
    }
}
