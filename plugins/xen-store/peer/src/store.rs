//! The tree a xenstore peer holds, and the requests it answers, following xenstored's documented
//! behaviour (docs/misc/xenstore.txt): nodes with a value, children and permissions; parents
//! made on demand; `RM` of a missing node whose parent exists succeeds; transactions work on a
//! copy of the tree and fail to commit with `EAGAIN` when the tree changed meanwhile (the
//! original C daemon's rule); watches fire once when set and for every change at or below them.
//! Clients on the unix sockets are domain 0, which permissions do not restrict; the read-only
//! socket refuses every change with `EROFS`.

use std::collections::HashMap;

use virtkit_xen_store_driver::wire::{Access, Message, MsgType, PAYLOAD_MAX, Perm, valid_path};

/// The most nodes the peer holds (a quota, as xenstored has).
pub const MAX_NODES: usize = 200_000;
/// The most watches one connection may hold (xenstored's default quota).
pub const MAX_WATCHES: usize = 128;
/// The most transactions one connection may have open (xenstored's default quota).
pub const MAX_TRANSACTIONS: usize = 10;

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its name within its parent.
    pub name: String,
    /// Its value.
    pub value: Vec<u8>,
    /// Owner and others' access first, then per-domain grants.
    pub perms: Vec<Perm>,
    /// Children, in the order they were made (xenstored lists them so).
    pub children: Vec<Node>,
}

impl Node {
    fn new(name: &str, perms: Vec<Perm>) -> Node {
        Node {
            name: name.to_string(),
            value: Vec::new(),
            perms,
            children: Vec::new(),
        }
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }
}

/// The whole tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    /// The root node `/`.
    pub root: Node,
    nodes: usize,
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// Why a request failed: an errno name from xs_wire.h's table.
pub type Errno = &'static str;

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            root: Node::new(
                "",
                vec![Perm {
                    access: Access::None,
                    domid: 0,
                }],
            ),
            nodes: 1,
        }
    }
}

impl Tree {
    /// The node at an absolute path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        let mut n = &self.root;
        for c in components(path) {
            n = n.child(c)?;
        }
        Some(n)
    }

    fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let mut n = &mut self.root;
        for c in components(path) {
            n = n.child_mut(c)?;
        }
        Some(n)
    }

    /// The node at `path`, made with its missing parents (empty values, the parent's
    /// permissions) when absent. Returns whether anything was made.
    fn make(&mut self, path: &str) -> Result<bool, Errno> {
        let missing = {
            let mut n = &self.root;
            let mut missing = 0;
            for c in components(path) {
                match n.child(c) {
                    Some(ch) => n = ch,
                    None => {
                        missing = components(path).count();
                        break;
                    }
                }
            }
            missing
        };
        if missing > 0 && self.nodes + missing > MAX_NODES {
            return Err("ENOSPC");
        }
        let mut n = &mut self.root;
        let mut made = 0;
        for c in components(path) {
            if n.child(c).is_none() {
                let perms = n.perms.clone();
                n.children.push(Node::new(c, perms));
                made += 1;
            }
            n = n.child_mut(c).expect("child just checked or made");
        }
        self.nodes += made;
        Ok(made > 0)
    }

    /// Writes a value, making the node and its parents.
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), Errno> {
        self.make(path)?;
        self.get_mut(path).ok_or("ENOENT")?.value = value.to_vec();
        Ok(())
    }

    /// Makes a node (and parents) with an empty value; an existing node is left alone.
    pub fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        self.make(path).map(|_| ())
    }

    /// Removes a node and what is beneath it; a missing node whose parent exists is no error.
    pub fn rm(&mut self, path: &str) -> Result<(), Errno> {
        let comps: Vec<&str> = components(path).collect();
        let Some((last, parents)) = comps.split_last() else {
            return Err("EINVAL");
        };
        let parent = parents.join("/");
        let Some(p) = self.get_mut(&format!("/{parent}")) else {
            return Err("ENOENT");
        };
        if let Some(i) = p.children.iter().position(|c| c.name == *last) {
            let gone = p.children.remove(i).count();
            self.nodes -= gone;
        }
        Ok(())
    }

    /// Sets a node's permissions.
    pub fn set_perms(&mut self, path: &str, perms: Vec<Perm>) -> Result<(), Errno> {
        self.get_mut(path).ok_or("ENOENT")?.perms = perms;
        Ok(())
    }
}

/// A watch one connection set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The path as the client gave it (relative paths are reported back relative).
    pub path: String,
    /// The client's token.
    pub token: String,
}

/// The absolute form of a path a domain-0 client gave.
pub fn absolute(path: &str) -> String {
    if path.starts_with('/') || path.starts_with('@') {
        path.to_string()
    } else {
        format!("/local/domain/0/{path}")
    }
}

/// Whether a change at absolute path `changed` fires a watch on absolute path `watched`: the
/// same node, or one beneath it; a removal also fires watches beneath the removed node.
pub fn fires(watched: &str, changed: &str, removal: bool) -> bool {
    let under = |a: &str, b: &str| {
        a == b || b == "/" || (a.starts_with(b) && a.as_bytes().get(b.len()) == Some(&b'/'))
    };
    under(changed, watched) || (removal && under(watched, changed))
}

/// A change to report to watches: the absolute path and whether it was a removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The node changed.
    pub path: String,
    /// Whether it was removed.
    pub removal: bool,
}

/// An open transaction: its copy of the tree, the generation it started from, its changes.
struct Transaction {
    tree: Tree,
    generation: u64,
    changes: Vec<Change>,
}

/// The store: the tree, its generation (bumped at every change), open transactions.
pub struct Store {
    /// The committed tree.
    pub tree: Tree,
    generation: u64,
    transactions: HashMap<u32, (u64, Transaction)>,
    next_tx: u32,
}

/// What one request did: the reply, and the changes to report to watches.
pub struct Outcome {
    /// The reply payload (or error).
    pub reply: Result<Vec<u8>, Errno>,
    /// Changes committed by this request.
    pub changes: Vec<Change>,
}

fn ok() -> Result<Vec<u8>, Errno> {
    Ok(b"OK\0".to_vec())
}

impl Store {
    /// A store holding `tree`.
    pub fn new(tree: Tree) -> Store {
        Store {
            tree,
            generation: 0,
            transactions: HashMap::new(),
            next_tx: 1,
        }
    }

    /// Transactions the connection `conn` has open.
    fn open_count(&self, conn: u64) -> usize {
        self.transactions
            .values()
            .filter(|(c, _)| *c == conn)
            .count()
    }

    /// Drops the transactions of a connection that went away.
    pub fn forget(&mut self, conn: u64) {
        self.transactions.retain(|_, (c, _)| *c != conn);
    }

    /// Answers a request of connection `conn` (watches are the server's business).
    pub fn handle(&mut self, conn: u64, writable: bool, m: &Message) -> Outcome {
        let mut changes = Vec::new();
        let reply = self.answer(conn, writable, m, &mut changes);
        Outcome { reply, changes }
    }

    fn answer(
        &mut self,
        conn: u64,
        writable: bool,
        m: &Message,
        changes: &mut Vec<Change>,
    ) -> Result<Vec<u8>, Errno> {
        use MsgType::*;
        let is_change = matches!(m.kind, Write | Mkdir | Rm | SetPerms);
        if is_change && !writable {
            return Err("EROFS");
        }
        match m.kind {
            TransactionStart => {
                if m.tx_id != 0 {
                    return Err("EBUSY");
                }
                if self.open_count(conn) >= MAX_TRANSACTIONS {
                    return Err("ENOSPC");
                }
                let id = self.next_tx;
                self.next_tx = self.next_tx.wrapping_add(1).max(1);
                self.transactions.insert(
                    id,
                    (
                        conn,
                        Transaction {
                            tree: self.tree.clone(),
                            generation: self.generation,
                            changes: Vec::new(),
                        },
                    ),
                );
                return Ok(format!("{id}\0").into_bytes());
            }
            TransactionEnd => {
                let f = m.fields().map_err(|_| "EINVAL")?;
                let commit = match f.as_slice() {
                    ["T"] => true,
                    ["F"] => false,
                    _ => return Err("EINVAL"),
                };
                let Some((_, t)) = self
                    .transactions
                    .remove(&m.tx_id)
                    .filter(|(c, _)| *c == conn)
                else {
                    return Err("ENOENT");
                };
                if commit {
                    if t.changes.is_empty() {
                        return ok();
                    }
                    if t.generation != self.generation {
                        return Err("EAGAIN");
                    }
                    self.tree = t.tree;
                    self.generation += 1;
                    changes.extend(t.changes);
                }
                return ok();
            }
            GetDomainPath => {
                let f = m.fields().map_err(|_| "EINVAL")?;
                let [id] = f.as_slice() else {
                    return Err("EINVAL");
                };
                let id: u32 = id.parse().map_err(|_| "EINVAL")?;
                return Ok(format!("/local/domain/{id}\0").into_bytes());
            }
            Directory | Read | GetPerms | Write | Mkdir | Rm | SetPerms => {}
            _ => return Err("ENOSYS"),
        }
        let (path, rest) = first_field(&m.payload)?;
        if !valid_path(path) || path.starts_with('@') {
            return Err("EINVAL");
        }
        let abs = absolute(path);
        let in_tx = m.tx_id != 0;
        let (tree, tx_changes) = if in_tx {
            match self.transactions.get_mut(&m.tx_id) {
                Some((c, t)) if *c == conn => (&mut t.tree, Some(&mut t.changes)),
                _ => return Err("ENOENT"),
            }
        } else {
            (&mut self.tree, None)
        };
        let mut changed = None;
        let reply = match m.kind {
            Read => Ok(tree.get(&abs).ok_or("ENOENT")?.value.clone()),
            Directory => {
                let n = tree.get(&abs).ok_or("ENOENT")?;
                let mut out = Vec::new();
                for c in &n.children {
                    out.extend_from_slice(c.name.as_bytes());
                    out.push(0);
                }
                if out.len() > PAYLOAD_MAX {
                    return Err("E2BIG");
                }
                Ok(out)
            }
            GetPerms => {
                let n = tree.get(&abs).ok_or("ENOENT")?;
                let mut out = Vec::new();
                for p in &n.perms {
                    out.extend_from_slice(p.to_string().as_bytes());
                    out.push(0);
                }
                Ok(out)
            }
            Write => {
                tree.write(&abs, rest)?;
                changed = Some(false);
                ok()
            }
            Mkdir => {
                tree.mkdir(&abs)?;
                changed = Some(false);
                ok()
            }
            Rm => {
                if abs == "/" {
                    return Err("EINVAL");
                }
                let existed = tree.get(&abs).is_some();
                tree.rm(&abs)?;
                if existed {
                    changed = Some(true);
                }
                ok()
            }
            SetPerms => {
                let f = virtkit_xen_store_driver::wire::split_fields(rest, MsgType::SetPerms)
                    .map_err(|_| "EINVAL")?;
                let perms = f
                    .iter()
                    .map(|p| Perm::parse(p))
                    .collect::<Option<Vec<_>>>()
                    .filter(|v| !v.is_empty())
                    .ok_or("EINVAL")?;
                tree.set_perms(&abs, perms)?;
                changed = Some(false);
                ok()
            }
            _ => Err("ENOSYS"),
        };
        if let Some(removal) = changed {
            let c = Change { path: abs, removal };
            match tx_changes {
                Some(tc) => tc.push(c),
                None => {
                    self.generation += 1;
                    changes.push(c);
                }
            }
        }
        reply
    }
}

/// The first NUL-terminated field of a payload, and the bytes after it.
fn first_field(payload: &[u8]) -> Result<(&str, &[u8]), Errno> {
    let nul = payload.iter().position(|&b| b == 0).ok_or("EINVAL")?;
    let s = std::str::from_utf8(&payload[..nul]).map_err(|_| "EINVAL")?;
    Ok((s, &payload[nul + 1..]))
}

/// The tree Xen 3.x/4.x lay out on a host with domain 0 and `guests` running paravirtual guests
/// (ids 1…, names `guest-<id>`): `/local/domain/<id>/{name,domid,vm,memory/target,cpu/<n>/
/// availability,running,console/{tty,vnc-port},device/{vbd,vif}/…}` with their backends under
/// domain 0, and `/vm/<uuid>/{uuid,name,memory,vcpus,image/ostype,…}`.
pub fn xen_layout(guests: u32) -> Tree {
    let mut t = Tree::default();
    let mut w = |t: &mut Tree, p: &str, v: &str| {
        t.write(p, v.as_bytes()).expect("layout within quota");
    };
    let dom = |t: &mut Tree,
               w: &mut dyn FnMut(&mut Tree, &str, &str),
               id: u32,
               name: &str,
               uuid: &str,
               mem: u64,
               vcpus: u32,
               os: &str| {
        let home = format!("/local/domain/{id}");
        let vm = format!("/vm/{uuid}");
        if id != 0 {
            // A guest owns its home; what it holds inherits that.
            t.mkdir(&home).expect("layout within quota");
            let owner = vec![Perm {
                access: Access::None,
                domid: id,
            }];
            t.set_perms(&home, owner).expect("home exists");
        }
        w(t, &format!("{vm}/uuid"), uuid);
        w(t, &format!("{vm}/name"), name);
        w(t, &format!("{vm}/memory"), &(mem / 1024).to_string());
        w(t, &format!("{vm}/vcpus"), &vcpus.to_string());
        w(t, &format!("{vm}/on_poweroff"), "destroy");
        w(t, &format!("{vm}/on_reboot"), "restart");
        w(t, &format!("{vm}/on_crash"), "restart");
        w(t, &format!("{vm}/image/ostype"), os);
        w(t, &format!("{home}/vm"), &vm);
        w(t, &format!("{home}/name"), name);
        w(t, &format!("{home}/domid"), &id.to_string());
        w(t, &format!("{home}/memory/target"), &mem.to_string());
        for c in 0..vcpus {
            w(t, &format!("{home}/cpu/{c}/availability"), "online");
        }
        w(t, &format!("{home}/running"), "1");
        if id != 0 {
            w(t, &format!("{home}/console/tty"), &format!("/dev/pts/{id}"));
            w(
                t,
                &format!("{home}/console/vnc-port"),
                &(5900 + id).to_string(),
            );
            let back = format!("/local/domain/0/backend/vbd/{id}/51712");
            w(t, &format!("{back}/dev"), "xvda");
            w(
                t,
                &format!("{back}/params"),
                &format!("/var/lib/xen/images/{name}.img"),
            );
            w(t, &format!("{home}/device/vbd/51712/backend"), &back);
            w(t, &format!("{home}/device/vbd/51712/state"), "4");
            let vif = format!("/local/domain/0/backend/vif/{id}/0");
            let mac = format!(
                "00:16:3e:{:02x}:{:02x}:{:02x}",
                (id >> 16) & 0xff,
                (id >> 8) & 0xff,
                id & 0xff
            );
            w(t, &format!("{vif}/mac"), &mac);
            w(t, &format!("{vif}/bridge"), "xenbr0");
            w(t, &format!("{home}/device/vif/0/mac"), &mac);
            w(t, &format!("{home}/device/vif/0/backend"), &vif);
        }
    };
    dom(
        &mut t,
        &mut w,
        0,
        "Domain-0",
        "00000000-0000-0000-0000-000000000000",
        4_194_304,
        2,
        "linux",
    );
    for id in 1..=guests {
        let uuid = format!("{:08x}-0000-4000-8000-{:012x}", 0x5eed_0000u32 + id, id);
        dom(
            &mut t,
            &mut w,
            id,
            &format!("guest-{id}"),
            &uuid,
            262_144,
            1,
            "linux",
        );
    }
    w(&mut t, "/tool/xenstored", "");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: MsgType, tx: u32, fields: &[&str], tail: Option<&[u8]>) -> Message {
        Message::request(kind, 1, tx, fields, tail).unwrap()
    }

    #[test]
    fn write_read_rm() {
        let mut s = Store::new(Tree::default());
        let o = s.handle(1, true, &req(MsgType::Write, 0, &["/a/b/c"], Some(b"v")));
        assert_eq!(o.reply, Ok(b"OK\0".to_vec()));
        assert_eq!(o.changes.len(), 1);
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/a/b/c"], None))
                .reply,
            Ok(b"v".to_vec())
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/a/b"], None))
                .reply,
            Ok(Vec::new())
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/x"], None))
                .reply,
            Err("ENOENT")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Directory, 0, &["/a"], None))
                .reply,
            Ok(b"b\0".to_vec())
        );
        assert_eq!(
            s.handle(1, false, &req(MsgType::Write, 0, &["/a"], Some(b"")))
                .reply,
            Err("EROFS")
        );
        // A missing node whose parent exists: OK; whose parent is missing: ENOENT.
        assert_eq!(
            s.handle(1, true, &req(MsgType::Rm, 0, &["/a/zz"], None))
                .reply,
            Ok(b"OK\0".to_vec())
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Rm, 0, &["/q/zz"], None))
                .reply,
            Err("ENOENT")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Rm, 0, &["/a"], None)).reply,
            Ok(b"OK\0".to_vec())
        );
        assert_eq!(s.tree.get("/a"), None);
        assert_eq!(
            s.handle(1, true, &req(MsgType::Rm, 0, &["/"], None)).reply,
            Err("EINVAL")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/a//b"], None))
                .reply,
            Err("EINVAL")
        );
        // Relative paths are below domain 0's home.
        s.handle(1, true, &req(MsgType::Write, 0, &["rel"], Some(b"1")));
        assert_eq!(s.tree.get("/local/domain/0/rel").unwrap().value, b"1");
    }

    #[test]
    fn perms_inherit_and_set() {
        let mut s = Store::new(xen_layout(1));
        let got = s.handle(
            1,
            true,
            &req(MsgType::GetPerms, 0, &["/local/domain/1/name"], None),
        );
        assert_eq!(got.reply, Ok(b"n1\0".to_vec()));
        let set = s.handle(
            1,
            true,
            &req(
                MsgType::SetPerms,
                0,
                &["/local/domain/1/name", "n0", "r1"],
                None,
            ),
        );
        assert_eq!(set.reply, Ok(b"OK\0".to_vec()));
        let got = s.handle(
            1,
            true,
            &req(MsgType::GetPerms, 0, &["/local/domain/1/name"], None),
        );
        assert_eq!(got.reply, Ok(b"n0\0r1\0".to_vec()));
        let bad = s.handle(
            1,
            true,
            &req(MsgType::SetPerms, 0, &["/local/domain/1/name", "x1"], None),
        );
        assert_eq!(bad.reply, Err("EINVAL"));
    }

    #[test]
    fn transactions_conflict_with_eagain() {
        let mut s = Store::new(Tree::default());
        let id = |o: Outcome| -> u32 {
            String::from_utf8(o.reply.unwrap())
                .unwrap()
                .trim_end_matches('\0')
                .parse()
                .unwrap()
        };
        let t1 = id(s.handle(1, true, &req(MsgType::TransactionStart, 0, &[""], None)));
        s.handle(1, true, &req(MsgType::Write, t1, &["/x"], Some(b"1")));
        // Invisible outside until committed.
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/x"], None))
                .reply,
            Err("ENOENT")
        );
        let end = s.handle(1, true, &req(MsgType::TransactionEnd, t1, &["T"], None));
        assert_eq!(end.reply, Ok(b"OK\0".to_vec()));
        assert_eq!(end.changes.len(), 1);
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/x"], None))
                .reply,
            Ok(b"1".to_vec())
        );
        let t2 = id(s.handle(1, true, &req(MsgType::TransactionStart, 0, &[""], None)));
        s.handle(1, true, &req(MsgType::Write, t2, &["/x"], Some(b"2")));
        s.handle(2, true, &req(MsgType::Write, 0, &["/y"], Some(b"3")));
        assert_eq!(
            s.handle(1, true, &req(MsgType::TransactionEnd, t2, &["T"], None))
                .reply,
            Err("EAGAIN")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::Read, 0, &["/x"], None))
                .reply,
            Ok(b"1".to_vec())
        );
        // Another connection's transaction, an unknown one, a bad argument.
        let t3 = id(s.handle(1, true, &req(MsgType::TransactionStart, 0, &[""], None)));
        assert_eq!(
            s.handle(2, true, &req(MsgType::Read, t3, &["/x"], None))
                .reply,
            Err("ENOENT")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::TransactionEnd, t3, &["X"], None))
                .reply,
            Err("EINVAL")
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::TransactionEnd, t3, &["F"], None))
                .reply,
            Ok(b"OK\0".to_vec())
        );
        assert_eq!(
            s.handle(1, true, &req(MsgType::TransactionEnd, t3, &["F"], None))
                .reply,
            Err("ENOENT")
        );
    }

    #[test]
    fn watch_matching() {
        assert!(fires("/a", "/a/b", false));
        assert!(fires("/a", "/a", false));
        assert!(!fires("/a", "/ab", false));
        assert!(!fires("/a/b", "/a", false));
        assert!(fires("/a/b", "/a", true));
        assert!(fires("/", "/x", false));
    }

    #[test]
    fn layout() {
        let t = xen_layout(3);
        assert_eq!(t.get("/local/domain/0/name").unwrap().value, b"Domain-0");
        assert_eq!(t.get("/local/domain/3/name").unwrap().value, b"guest-3");
        let names: Vec<&str> = t
            .get("/local/domain")
            .unwrap()
            .children
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["0", "1", "2", "3"]);
    }
}
