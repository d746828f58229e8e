//! The peer's state file: one node a line, `path<TAB>perms<TAB>value`, perms comma-separated,
//! the value in hex (values may hold any byte). Parents come before children, so loading in file
//! order rebuilds the tree with its children's order.

use std::fmt::Write as _;
use std::path::Path;

use virtkit_xen_store_driver::wire::{Perm, valid_path};

use crate::store::{Node, Tree};

/// The largest state file the peer reads.
const MAX_STATE: u64 = 256 << 20;

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn dump(n: &Node, path: &str, out: &mut String) {
    let perms: Vec<String> = n.perms.iter().map(Perm::to_string).collect();
    let _ = writeln!(out, "{path}\t{}\t{}", perms.join(","), hex(&n.value));
    for c in &n.children {
        let p = if path == "/" {
            format!("/{}", c.name)
        } else {
            format!("{path}/{}", c.name)
        };
        dump(c, &p, out);
    }
}

/// Writes the tree to `path` atomically.
pub fn save(path: &Path, t: &Tree) -> Result<(), String> {
    let mut out = String::new();
    dump(&t.root, "/", &mut out);
    virtkit_hostio::write_atomic(path, out.as_bytes(), 0o600)
        .map_err(|e| format!("cannot save the state to {}: {e}", path.display()))
}

/// Reads a tree saved by [`save`].
pub fn load(path: &Path) -> Result<Tree, String> {
    let text = virtkit_hostio::read_string_capped(path, MAX_STATE)
        .map_err(|e| format!("cannot read the state {}: {e}", path.display()))?;
    let mut t = Tree::default();
    for (i, line) in text.lines().enumerate() {
        let bad = || format!("{}:{}: not a state line", path.display(), i + 1);
        let mut parts = line.split('\t');
        let (Some(p), Some(perms), Some(value), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !p.starts_with('/') || !valid_path(p) {
            return Err(bad());
        }
        let perms = perms
            .split(',')
            .map(Perm::parse)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        let value = unhex(value).ok_or_else(bad)?;
        if p != "/" {
            t.write(p, &value).map_err(|e| format!("{}: {e}", bad()))?;
        }
        t.set_perms(p, perms)
            .map_err(|e| format!("{}: {e}", bad()))?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        let mut t = crate::store::xen_layout(2);
        t.write("/bin", b"\x00\xff\t\n").unwrap();
        save(&p, &t).unwrap();
        assert_eq!(load(&p).unwrap(), t);
        std::fs::write(&p, "/a\tn0\tzz\n").unwrap();
        assert!(load(&p).unwrap_err().contains(":1: not a state line"));
    }
}
