//! The xm member's path to xend.
//!
//! Starting an inactive domain is xend's work (libvirt's xm driver created it on xend from the
//! config), and only xend knows which configs run (a running domain is not listed as defined,
//! as libvirt's xm driver checked). A driver's operations see only their own connection: the
//! core offers no call from one stack member to another. So the xm member links the xend
//! member's logic library and opens its own connection to the same daemon — the same URI, minus
//! the xm member's own parameters — and calls the xend member's operations on it: the create is
//! the xend member's `op=create`, with its conversions and its checks, not a second client.

use virtkit_driver::{DomainIdent, Driver, Error, ErrorCode, Result};
use virtkit_xen_xend_driver::{XendConn, XendDriver};

use crate::settings::{CONFIG_DIR_PARAM, XEN_CAPS_PARAM};

/// The URI the xend member gets: `uri` without the xm member's parameters.
pub fn xend_uri(uri: &str) -> String {
    let Some((base, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split_once('=').map_or(*p, |(k, _)| k);
            key != CONFIG_DIR_PARAM && key != XEN_CAPS_PARAM
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A connection to xend through the xend member's code, or why there is none.
pub enum Xend {
    /// The daemon answered.
    Open(XendConn),
    /// No daemon (or an offline URI): why.
    Absent(String),
}

impl Xend {
    /// Opens the xend member's connection for `uri`.
    pub fn open(uri: &str, read_only: bool) -> Xend {
        match XendDriver::open(&xend_uri(uri), read_only) {
            Ok(Some(c)) if c.has_daemon() => Xend::Open(c),
            Ok(Some(_)) => Xend::Absent("the URI asks for no daemon (offline=1)".into()),
            Ok(None) => Xend::Absent("the URI names no xend".into()),
            Err(e) => Xend::Absent(e.message),
        }
    }

    /// The daemon's xend config version, if one answered.
    pub fn config_version(&self) -> Option<u32> {
        match self {
            Xend::Open(c) => Some(c.config_version()),
            Xend::Absent(_) => None,
        }
    }

    fn conn(&self, what: &str) -> Result<&XendConn> {
        match self {
            Xend::Open(c) => Ok(c),
            Xend::Absent(why) => Err(Error::new(
                ErrorCode::NoConnect,
                format!("no connection to xend, which {what}: {why}"),
            )),
        }
    }

    /// The names of the domains xend runs.
    pub fn running_names(&self) -> Result<Vec<String>> {
        let Xend::Open(c) = self else {
            return Ok(Vec::new());
        };
        let ops = &<XendDriver as Driver>::OPS;
        let (Some(list), Some(by_id)) = (ops.list_domains, ops.domain_lookup_by_id) else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        list(c, &mut |id| ids.push(id))?;
        let mut names = Vec::new();
        for id in ids {
            match by_id(c, id, &mut |d| names.push(d.name.to_owned())) {
                Ok(()) => {}
                // Gone between the two requests.
                Err(e) if e.code == ErrorCode::NoDomain => {}
                Err(e) => return Err(e),
            }
        }
        Ok(names)
    }

    /// Creates and starts the domain `xml` describes on xend (`op=create`, then xend's
    /// `wait_for_devices` and `unpause`, as libvirt did).
    pub fn create(&self, xml: &str) -> Result<DomainIdent> {
        let c = self.conn("starts domains")?;
        let create = <XendDriver as Driver>::OPS
            .domain_create_xml
            .ok_or_else(|| {
                Error::no_support("the xend member cannot create domains (virDomainCreateXML)")
            })?;
        create(c, xml, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xend_uri_loses_only_the_xm_parameters() {
        assert_eq!(xend_uri("xen:///"), "xen:///");
        assert_eq!(
            xend_uri("xen:///?xm_config_dir=/x&xen_caps=xen-3.0-x86_64"),
            "xen:///"
        );
        assert_eq!(
            xend_uri("xen:///?xm_config_dir=/x&offline=1&xend_config_format=2"),
            "xen:///?offline=1&xend_config_format=2"
        );
        assert_eq!(
            xend_uri("/var/lib/xend/xend-socket"),
            "/var/lib/xend/xend-socket"
        );
    }
}
