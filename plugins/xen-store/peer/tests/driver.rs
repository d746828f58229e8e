//! The xen-store member's client and queries against the peer: the real protocol on a real
//! socket, both sides ours here; the peer itself is proved against Xen's tools in
//! `xenstore_utils.rs`.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::Duration;

use virtkit_xen_store_driver::client::{Client, ClientError};
use virtkit_xen_store_driver::domain;
use virtkit_xen_store_driver::wire::{Access, Perm};
use virtkit_xen_store_driver::{StoreConn, StoreDriver};

use virtkit_test_support::xen;

/// A xenstore peer and a client connected to it.
struct Peer(xen::Peer);

impl Peer {
    fn start(guests: u32) -> Peer {
        Peer(xen::Peer::store(guests, &[]))
    }

    fn client(&self) -> Client {
        Client::connect(self.0.socket(), Duration::from_secs(10)).unwrap()
    }
}

#[test]
fn every_request_kind() {
    let p = Peer::start(0);
    let mut c = p.client();
    assert_eq!(c.get_domain_path(3).unwrap(), "/local/domain/3");
    c.write(0, "/t/a", "1").unwrap();
    c.mkdir(0, "/t/dir").unwrap();
    assert_eq!(c.read(0, "/t/a").unwrap().as_deref(), Some("1"));
    assert_eq!(c.read(0, "/t/dir").unwrap().as_deref(), Some(""));
    assert_eq!(c.read(0, "/t/none").unwrap(), None);
    assert_eq!(c.directory(0, "/t").unwrap().unwrap(), ["a", "dir"]);
    assert_eq!(c.directory(0, "/none").unwrap(), None);
    let perms = [
        Perm {
            access: Access::None,
            domid: 0,
        },
        Perm {
            access: Access::Read,
            domid: 5,
        },
    ];
    c.set_perms(0, "/t/a", &perms).unwrap();
    assert_eq!(c.get_perms(0, "/t/a").unwrap(), perms);
    let e = c.get_perms(0, "/t/none").unwrap_err();
    assert_eq!(e.errno(), Some("ENOENT"));
    assert_eq!(e.to_string(), "xenstore GET_PERMS /t/none: ENOENT");

    // Watches: the first event at once, later ones per change, none after UNWATCH.
    c.watch("/t", "tok").unwrap();
    assert_eq!(c.next_event().unwrap(), ("/t".into(), "tok".into()));
    assert_eq!(c.watch("/t", "tok").unwrap_err().errno(), Some("EEXIST"));
    let mut other = p.client();
    other.write(0, "/t/b", "2").unwrap();
    assert_eq!(c.next_event().unwrap(), ("/t/b".into(), "tok".into()));
    c.unwatch("/t", "tok").unwrap();
    assert_eq!(c.unwatch("/t", "tok").unwrap_err().errno(), Some("ENOENT"));

    // Transactions: invisible until committed; a commit that lost a race gets EAGAIN.
    let tx = c.transaction_start().unwrap();
    c.write(tx, "/t/c", "3").unwrap();
    assert_eq!(other.read(0, "/t/c").unwrap(), None);
    c.transaction_end(tx, true).unwrap();
    assert_eq!(other.read(0, "/t/c").unwrap().as_deref(), Some("3"));
    let tx = c.transaction_start().unwrap();
    c.write(tx, "/t/c", "4").unwrap();
    other.write(0, "/t/d", "5").unwrap();
    assert_eq!(
        c.transaction_end(tx, true).unwrap_err().errno(),
        Some("EAGAIN")
    );
    assert_eq!(c.read(0, "/t/c").unwrap().as_deref(), Some("3"));

    c.rm(0, "/t").unwrap();
    assert_eq!(c.read(0, "/t/a").unwrap(), None);
    // A value over the protocol's limit never leaves the client.
    let big = "x".repeat(5000);
    assert!(matches!(
        c.write(0, "/big", &big),
        Err(ClientError::Wire { .. })
    ));
}

#[test]
fn domain_queries_as_libvirt_made_them() {
    let p = Peer::start(3);
    let mut c = p.client();
    assert_eq!(domain::domain_ids(&mut c).unwrap(), [0, 1, 2, 3]);
    let k = domain::by_name(&mut c, "guest-2").unwrap().unwrap();
    assert_eq!(k.id, 2);
    assert_eq!(k.uuid.to_string(), "5eed0002-0000-4000-8000-000000000002");
    assert_eq!(domain::by_id(&mut c, 0).unwrap().unwrap().name, "Domain-0");
    assert_eq!(domain::by_id(&mut c, 9).unwrap(), None);
    assert_eq!(domain::by_name(&mut c, "nope").unwrap(), None);
    assert_eq!(
        domain::os_type(&mut c, 1).unwrap().as_deref(),
        Some("linux")
    );
    assert_eq!(domain::memory_target(&mut c, 1).unwrap(), Some(262_144));
    let info = domain::info(&mut c, 1).unwrap().unwrap();
    assert_eq!((info.nr_virt_cpu, info.memory_kib), (1, 262_144));
    assert_eq!(info.state, virtkit_driver::DomainState::Running);
    assert_eq!(domain::info(&mut c, 0).unwrap().unwrap().nr_virt_cpu, 2);
    assert_eq!(
        domain::console_tty(&mut c, 3).unwrap().as_deref(),
        Some("/dev/pts/3")
    );
    assert_eq!(domain::vnc_port(&mut c, 3).unwrap(), Some(5903));
    assert_eq!(
        domain::network_id(&mut c, 1, "00:16:3E:00:00:01")
            .unwrap()
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        domain::network_id(&mut c, 1, "00:16:3e:00:00:09").unwrap(),
        None
    );
    assert_eq!(
        domain::disk_id(&mut c, 2, "xvda").unwrap().as_deref(),
        Some("51712")
    );
    assert_eq!(domain::disk_id(&mut c, 2, "xvdb").unwrap(), None);
    // An HVM guest as xend recorded it.
    c.write(
        0,
        &format!("{}/image/ostype", k.vm.as_deref().unwrap()),
        "hvm",
    )
    .unwrap();
    assert_eq!(domain::os_type(&mut c, 2).unwrap().as_deref(), Some("hvm"));
}

#[test]
fn through_the_driver_table() {
    use virtkit_driver::Driver;
    let p = Peer::start(2);
    let conn = StoreConn::open_at(p.0.socket(), false, Duration::from_secs(10)).unwrap();
    let ops = StoreDriver::OPS;
    let mut ids = Vec::new();
    (ops.list_domains.unwrap())(&conn, &mut |id| ids.push(id)).unwrap();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!((ops.num_of_domains.unwrap())(&conn).unwrap(), 3);
    let mut found = None;
    (ops.domain_lookup_by_name.unwrap())(&conn, "guest-1", &mut |d| {
        found = Some(virtkit_driver::DomainIdent::from(d))
    })
    .unwrap();
    let d = found.unwrap();
    assert_eq!(d.id, 1);
    let r = virtkit_driver::DomainRef::from(&d);
    (ops.domain_shutdown.unwrap())(&conn, &r).unwrap();
    (ops.domain_set_memory.unwrap())(&conn, &r, 131_072).unwrap();
    let mut c = p.client();
    assert_eq!(
        c.read(0, "/local/domain/1/control/shutdown")
            .unwrap()
            .as_deref(),
        Some("halt")
    );
    assert_eq!(domain::memory_target(&mut c, 1).unwrap(), Some(131_072));
    (ops.domain_reboot.unwrap())(&conn, &r, 0).unwrap();
    assert_eq!(
        c.read(0, "/local/domain/1/control/shutdown")
            .unwrap()
            .as_deref(),
        Some("reboot")
    );
    assert_eq!(
        (ops.domain_get_max_memory.unwrap())(&conn, &r).unwrap(),
        131_072
    );
    assert!((ops.domain_set_memory.unwrap())(&conn, &r, 10).is_err());
    // A domain that went away.
    c.rm(0, "/local/domain/1").unwrap();
    let e = (ops.domain_shutdown.unwrap())(&conn, &r).unwrap_err();
    assert_eq!(e.code, virtkit_driver::ErrorCode::NoDomain);
    assert!(c.read(0, "/local/domain/1").unwrap().is_none());
    let e = (ops.domain_lookup_by_id.unwrap())(&conn, 1, &mut |_| panic!("found")).unwrap_err();
    assert_eq!(e.message, "Domain not found: no domain with matching id 1");
    let e = (ops.domain_lookup_by_name.unwrap())(&conn, "guest-1", &mut |_| panic!("found"))
        .unwrap_err();
    assert_eq!(e.code, virtkit_driver::ErrorCode::NoDomain);
}

/// A "store" that answers with a reply over the limit, with garbage, or not at all.
fn bad_store(reply: Option<Vec<u8>>) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad");
    let l = UnixListener::bind(&path).unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut head = [0u8; 16];
        let _ = s.read_exact(&mut head);
        let mut rest = vec![0u8; u32::from_ne_bytes(head[12..16].try_into().unwrap()) as usize];
        let _ = s.read_exact(&mut rest);
        match reply {
            Some(r) => {
                let _ = s.write_all(&r);
            }
            None => std::thread::sleep(Duration::from_millis(800)),
        }
    });
    (dir, path, h)
}

#[test]
fn oversized_malformed_and_silent_replies_are_errors() {
    let mut over = Vec::new();
    over.extend_from_slice(&2u32.to_ne_bytes());
    over.extend_from_slice(&1u32.to_ne_bytes());
    over.extend_from_slice(&0u32.to_ne_bytes());
    over.extend_from_slice(&5000u32.to_ne_bytes());
    let (_d, path, h) = bad_store(Some(over));
    let mut c = Client::connect(&path, Duration::from_secs(5)).unwrap();
    let e = c.read(0, "/x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "xenstore READ request: xenstore payload of 5000 bytes is over the protocol's limit of 4096"
    );
    h.join().unwrap();

    let mut garbage = vec![99u8, 0, 0, 0];
    garbage.extend_from_slice(&[0; 12]);
    let (_d, path, h) = bad_store(Some(garbage));
    let mut c = Client::connect(&path, Duration::from_secs(5)).unwrap();
    assert!(
        c.read(0, "/x")
            .unwrap_err()
            .to_string()
            .contains("unknown xenstore message type 99")
    );
    h.join().unwrap();

    let (_d, path, h) = bad_store(None);
    let mut c = Client::connect(&path, Duration::from_millis(100)).unwrap();
    let e = c.read(0, "/x").unwrap_err();
    assert!(matches!(e, ClientError::Io { .. }), "{e}");
    h.join().unwrap();

    // Nothing listening: opening declines with one line.
    let dir = tempfile::tempdir().unwrap();
    let Err(e) = StoreConn::open_at(&dir.path().join("none"), false, Duration::from_secs(1)) else {
        panic!("opened without a store");
    };
    assert!(
        e.message
            .starts_with("xen-store does not serve this host: cannot connect to xenstored at"),
        "{}",
        e.message
    );
    assert!(!e.message.contains('\n'));
}
