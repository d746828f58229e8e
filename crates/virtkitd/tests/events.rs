//! Lifecycle events through virtkitd, with real libvirt clients: python3-libvirt's event loop
//! and `virsh event`, each against virtkitd and against Debian's libvirtd serving its test
//! driver; the two daemons must announce the same events for the same calls.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Registers a domain callback for every domain, one for the domain `test` only and a network
/// callback; makes changes through the same connection; prints every event as it arrives, and
/// ends when the last change's event has come (or after 60 s, printing what it has).
const SCRIPT: &str = r#"
import sys, threading, libvirt
uri = sys.argv[1]
libvirt.registerErrorHandler(lambda ctx, err: None, None)
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(uri)
got = []
done = threading.Event()
def dom_cb(conn, dom, event, detail, tag):
    got.append('%s %s %d %d' % (tag, dom.name(), event, detail))
    if tag == 'only-test' and event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED and len(got) > 20:
        done.set()
def net_cb(conn, net, event, detail, tag):
    got.append('net %s %d %d' % (net.name(), event, detail))
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom_cb, 'all')
test = c.lookupByName('test')
c.domainEventRegisterAny(test, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom_cb, 'only-test')
c.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, net_cb, None)
def loop():
    while not done.is_set():
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
vm = """<domain type='test'><name>ev1</name><uuid>33333333-2222-3333-4444-555555555555</uuid>
<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"""
vm2 = vm.replace('ev1', 'ev2').replace('33333333', '44444444')
net = """<network><name>evnet</name><uuid>55555555-2222-3333-4444-555555555555</uuid>
<bridge name='virbr7'/><ip address='192.168.7.1' netmask='255.255.255.0'/></network>"""
test.suspend(); test.resume(); test.destroy(); test.create()
c.defineXML(test.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
d = c.defineXML(vm); d.create(); d.undefine(); d.destroy()
d2 = c.createXML(vm2, 0); d2.shutdown()
n = c.networkLookupByName('default'); n.destroy(); n.create()
n1 = c.networkDefineXML(net); n1.create(); n1.destroy(); n1.undefine()
try:
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, dom_cb, 'reboot')
    print('reboot events: registered')
except libvirt.libvirtError as e:
    print('reboot events: refused')
test.suspend()
done.wait(60)
for line in got:
    print(line)
"#;

fn events_through(python: &std::path::Path, uri: &str, log: &dyn Fn() -> String) -> String {
    let r = run(python, &["-c", SCRIPT, uri]);
    assert_eq!(
        r.code,
        0,
        "the event script failed against {uri}:\n{}\n{}\nthe daemon's log:\n{}",
        r.stdout,
        r.stderr,
        log()
    );
    r.stdout
}

#[test]
fn python_libvirt_receives_the_lifecycle_events_libvirtd_sends() {
    let Some(python) = virtkit_test_support::find(&virtkit_test_support::PYTHON3_LIBVIRT) else {
        return;
    };
    let Some(theirs) = Libvirtd::start() else {
        return;
    };
    let ours = Virtkitd::start();
    let mine = events_through(&python, &ours.uri("/default"), &|| ours.log_text());
    let libvirtd = events_through(&python, &theirs.uri("/default"), &String::new);
    // libvirt registers reboot events (virtkitd sends lifecycle events only, and says so).
    let mine = mine.replacen("reboot events: refused\n", "", 1);
    let libvirtd = libvirtd.replacen("reboot events: registered\n", "", 1);
    assert_eq!(
        mine,
        libvirtd,
        "events through virtkitd (left) and libvirtd (right) differ\nvirtkitd's log:\n{}",
        ours.log_text()
    );
    assert!(
        mine.contains("all test 3 0\nonly-test test 3 0\n"),
        "{mine}"
    );
    assert!(mine.contains("net evnet 0 0\n"), "{mine}");
    assert!(mine.lines().count() > 20, "{mine}");
}

/// `virsh event --loop` in one process sees the changes `virsh` makes in another, through both
/// daemons alike.
#[test]
fn virsh_event_sees_changes_made_by_another_client() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let Some(theirs) = Libvirtd::start() else {
        return;
    };
    let ours = Virtkitd::start();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vm1.xml");
    std::fs::write(
        &f,
        "<domain type='test'><name>vm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
         <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    let chain = format!(
        "suspend test; resume test; define {f}; start vm1; destroy vm1; undefine vm1; \
         destroy test",
        f = f.display()
    );
    let through = |socket: &std::path::Path| {
        // The listener and the changing client are two processes (two connections); the node
        // lives while the listener is connected. The listener goes through a recording proxy,
        // so that the changes start once its registration has been sent.
        let proxy = RecordingProxy::new(socket);
        let mut listener = Listener::start(&virsh, &proxy);
        let uri = format!("test+unix:///default?socket={}", socket.display());
        let r = run(&virsh, &["-c", &uri, &chain]);
        assert_eq!(r.code, 0, "{r:?}");
        listener.lines(7)
    };
    let mine = through(&ours.socket);
    let libvirtd = through(&theirs.socket);
    assert_eq!(
        mine,
        libvirtd,
        "virtkitd (left), libvirtd (right)\n{}",
        ours.log_text()
    );
    assert!(
        mine.contains("event 'lifecycle' for domain 'test': Suspended Paused"),
        "{mine}"
    );
    assert!(
        mine.contains("event 'lifecycle' for domain 'vm1': Undefined Removed"),
        "{mine}"
    );
}

/// A `virsh event --loop --event lifecycle` process and the lines it printed so far; killed
/// and reaped when dropped.
struct Listener {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Listener {
    /// Starts it through `proxy` and returns once it has sent its registration
    /// (CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY).
    fn start(virsh: &std::path::Path, proxy: &RecordingProxy) -> Listener {
        let uri = format!("test+unix:///default?socket={}", proxy.socket.display());
        let mut child = Command::new(virsh)
            .args(["-c", &uri, "event", "--loop", "--event", "lifecycle"])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("virsh event starts");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let l = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        let mut me = Listener { child, lines };
        let register = virtkit_rpc::Procedure::ConnectDomainEventCallbackRegisterAny.number();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while !seen.contains(&register) {
            assert!(
                Instant::now() < deadline && me.child.try_wait().unwrap().is_none(),
                "virsh event did not register (it sent {seen:?})"
            );
            std::thread::sleep(Duration::from_millis(20));
            seen.extend(proxy.take());
        }
        // The reply to the registration is on its way; a call through the same daemon from
        // a process started after this is ordered after it there.
        std::thread::sleep(Duration::from_millis(100));
        me.lines.lock().unwrap().clear();
        me
    }

    /// The first `n` lines it prints (waiting up to 60 s; fewer if they do not come).
    fn lines(&mut self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.lines.lock().unwrap().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A moment for any line beyond the expected ones, which would be a wrong extra event.
        std::thread::sleep(Duration::from_millis(300));
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A domain that comes back without a call saying which (`restore`) is announced by the
/// watcher, which reads the node every few seconds: its detail is the usual one
/// (`Started Booted`), where libvirtd, which restored it itself, says `Started Restored`.
#[test]
fn a_change_no_call_names_is_seen_by_the_watcher() {
    let Some(virsh) = virtkit_test_support::find(&virtkit_test_support::VIRSH) else {
        return;
    };
    let ours = Virtkitd::start();
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("test.img");
    let uri = ours.uri("/default");
    let proxy = RecordingProxy::new(&ours.socket);
    let mut listener = Listener::start(&virsh, &proxy);
    let r = run(
        &virsh,
        &[
            "-c",
            &uri,
            &format!("save test {i}; restore {i}", i = img.display()),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let out = listener.lines(2);
    assert_eq!(
        out,
        "event 'lifecycle' for domain 'test': Stopped Saved\n\
         event 'lifecycle' for domain 'test': Started Booted\n",
        "{}",
        ours.log_text()
    );
}
