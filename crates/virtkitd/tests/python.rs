//! libvirt's Python bindings (`/usr/bin/python3` with python3-libvirt, Debian's) against
//! virtkitd: the calls a management program makes, checked in the script, and the read-only
//! socket's refusals.

mod common;

use common::*;

const SCRIPT: &str = r#"
import sys, libvirt
uri, ro_uri = sys.argv[1], sys.argv[2]
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(uri)
names = sorted(d.name() for d in c.listAllDomains())
assert names == ['test'], names
d = c.lookupByName('test')
state, maxmem, mem, ncpu, cputime = d.info()
assert (state, maxmem, mem, ncpu) == (libvirt.VIR_DOMAIN_RUNNING, 8388608, 2097152, 2), d.info()
assert d.ID() == 1 and d.UUIDString() == '6695eb01-f6a4-8304-79aa-97f2502e193f'
assert '<name>test</name>' in d.XMLDesc(0)
assert d.state()[0] == libvirt.VIR_DOMAIN_RUNNING, d.state()
assert c.lookupByID(1).name() == 'test'
assert c.lookupByUUIDString('6695eb01-f6a4-8304-79aa-97f2502e193f').name() == 'test'
xml = """<domain type='test'><name>py1</name><uuid>22222222-2222-3333-4444-555555555555</uuid>
<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"""
n = c.defineXML(xml)
assert n.name() == 'py1' and not n.isActive() and n.isPersistent()
assert sorted(x.name() for x in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)) == ['py1']
n.create()
assert n.isActive() and n.ID() > 0 and n.info()[0] == libvirt.VIR_DOMAIN_RUNNING
n.suspend()
assert n.info()[0] == libvirt.VIR_DOMAIN_PAUSED
n.resume()
n.destroy()
assert not n.isActive() and n.info()[0] == libvirt.VIR_DOMAIN_SHUTOFF
n.undefine()
try:
    c.lookupByName('py1')
    raise SystemExit('py1 still exists')
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e.get_error_code()
nets = sorted(x.name() for x in c.listAllNetworks())
assert nets == ['default'], nets
net = c.networkLookupByName('default')
assert net.isActive() and net.bridgeName() == 'virbr0' and '<name>default</name>' in net.XMLDesc(0)
net.destroy()
assert not net.isActive()
net.create()
assert net.isActive()
assert c.getHostname() and c.getInfo()[1] > 0 and c.getType() and c.getVersion() >= 0
assert '<capabilities>' in c.getCapabilities()
assert c.getURI().startswith('test+unix:///default')
c.close()

r = libvirt.openReadOnly(ro_uri)
assert [x.name() for x in r.listAllDomains()] == ['test']
t = r.lookupByName('test')
for f in (t.suspend, t.destroy, lambda: r.defineXML(xml), lambda: r.networkLookupByName('default').destroy()):
    try:
        f()
        raise SystemExit('a mutation through the read-only socket worked')
    except libvirt.libvirtError as e:
        assert e.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED, (e.get_error_code(), str(e))
assert t.info()[0] == libvirt.VIR_DOMAIN_RUNNING
r.close()
print('ok')
"#;

#[test]
fn python_libvirt_manages_domains_and_networks_through_virtkitd() {
    let Some(python) = virtkit_test_support::find(&virtkit_test_support::PYTHON3_LIBVIRT) else {
        return;
    };
    let d = Virtkitd::start();
    let r = run(
        &python,
        &["-c", SCRIPT, &d.uri("/default"), &d.ro_uri("/default")],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "ok\n"),
        "python3-libvirt failed:\n{}\nvirtkitd's log:\n{}",
        r.stderr,
        d.log_text()
    );
}
