//! A stand-in OpenVZ host in a temporary directory, and a connection to it.
#![allow(dead_code)]

use std::path::Path;

use virtkit::{Connect, Registry};
use virtkit_openvz_standins::Host;

virtkit::register_static_driver!(virtkit_openvz_driver::openvz_driver_entry);

pub const VZCTL: &str = env!("CARGO_BIN_EXE_virtkit-vzctl-standin");
pub const VZLIST: &str = env!("CARGO_BIN_EXE_virtkit-vzlist-standin");

/// The templates of every sandbox's cache; the first is the default.
pub const TEMPLATES: &[&str] = &["debian-7.0-x86_64", "centos-6-x86_64", "debian"];

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("vkvz").tempdir().unwrap();
        Host::init(dir.path(), TEMPLATES[0], TEMPLATES).unwrap();
        Sandbox { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn uri(&self) -> String {
        format!(
            "openvz:///system?root={}&vzctl={VZCTL}&vzlist={VZLIST}",
            self.root().display()
        )
    }

    pub fn open(&self) -> Connect {
        Connect::open_with(Some(&self.uri()), false, &Registry::with_dirs(Vec::new())).unwrap()
    }

    pub fn open_read_only(&self) -> Connect {
        Connect::open_with(Some(&self.uri()), true, &Registry::with_dirs(Vec::new())).unwrap()
    }

    pub fn conf(&self, ctid: u32) -> Option<String> {
        std::fs::read_to_string(self.root().join(format!("etc/vz/conf/{ctid}.conf"))).ok()
    }
}

/// A container definition.
pub fn container_xml(name: &str, template: Option<&str>, devices: &str) -> String {
    let fs = template
        .map(|t| {
            format!(
                "<filesystem type='template'><source name='{t}'/><target dir='/'/></filesystem>"
            )
        })
        .unwrap_or_default();
    format!(
        "<domain type='openvz'><name>{name}</name><memory unit='KiB'>262144</memory><vcpu>2</vcpu>\
         <os><type>exe</type><init>/sbin/init</init></os><devices>{fs}{devices}</devices></domain>"
    )
}
