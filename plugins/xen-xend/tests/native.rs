//! `domxml-from-native xen-sxpr` and `domxml-to-native xen-sxpr` on a `xen:///?offline=1`
//! connection (no xend anywhere), with the config version chosen by the URI; and domains
//! created, defined and given devices through the peer (the conversions on a live daemon).

mod common;

use std::path::PathBuf;

use common::{Peer, virtkit_at};

fn corpus(dir: &str, file: &str) -> PathBuf {
    common::corpus_file(dir, file)
}

fn run_ok(uri: &str, args: &[&str]) -> String {
    let out = virtkit_at(uri, false, args, &[]);
    assert!(
        out.status.success(),
        "virtkit -c {uri} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn conversions_work_with_no_daemon() {
    // Every xml2sexpr case of the corpus, as its config version, byte for byte.
    let corpus_x = virtkit_test_support::xen::Corpus::open("xml2sexpr");
    let mut n = 0;
    for case in corpus_x.cases.iter().filter(|c| c.status == "tested") {
        let Some(version) = case.config_version() else {
            continue;
        };
        let uri = format!("xen:///?offline=1&xend_config_format={version}");
        let input = corpus_x.dir.join(&case.input);
        let got = run_ok(
            &uri,
            &["domxml-to-native", "xen-sxpr", input.to_str().unwrap()],
        );
        let want = corpus_x.read(&case.expected);
        assert_eq!(got.trim_end(), want.trim_end(), "{}", case.input);
        n += 1;
    }
    assert!(n >= 10, "only {n} cases ran");
    // S-expression to XML: the corpus's rhel5 as config version 2.
    let xml = run_ok(
        "xen:///?offline=1&xend_config_format=2",
        &[
            "domxml-from-native",
            "xen-sxpr",
            corpus("sexpr2xml", "sexpr2xml-curmem.sexpr")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(xml.contains("<name>rhel5</name>"), "{xml}");
    assert!(
        xml.contains("<currentMemory unit='KiB'>179200</currentMemory>"),
        "{xml}"
    );
    // An offline connection converts and does nothing else.
    let out = virtkit_at("xen:///?offline=1", false, &["list"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("conversions only"));
    // Unknown formats and bad input are clear errors.
    let out = virtkit_at(
        "xen:///?offline=1",
        false,
        &[
            "domxml-to-native",
            "xen-xm",
            corpus("xml2sexpr", "xml2sexpr-disk-file.xml")
                .to_str()
                .unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("native format 'xen-xm'"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sexpr");
    std::fs::write(&bad, "(domain (name x").unwrap();
    let out = virtkit_at(
        "xen:///?offline=1",
        false,
        &["domxml-from-native", "xen-sxpr", bad.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

const GUEST: &str = "<domain type='xen'>
  <name>newguest</name>
  <uuid>8f07fe28-753f-2729-d76d-bdbd892f949a</uuid>
  <memory>131072</memory>
  <vcpu>1</vcpu>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd</initrd></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/xen/newguest.img'/>
      <target dev='xvda' bus='xen'/>
    </disk>
  </devices>
</domain>";

const DISK: &str = "<disk type='file' device='disk'>
  <source file='/var/lib/xen/extra.img'/>
  <target dev='xvdb' bus='xen'/>
</disk>";

const NIC: &str = "<interface type='bridge'>
  <mac address='00:16:3e:12:34:56'/>
  <source bridge='xenbr0'/>
</interface>";

#[test]
fn define_create_and_devices_through_the_daemon() {
    let p = Peer::start(&[]);
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let f = files.path().join(name);
        std::fs::write(&f, text).unwrap();
        f.to_str().unwrap().to_string()
    };
    let guest = write("guest.xml", GUEST);
    p.ok(&["define", &guest]);
    assert!(p.ok(&["list", "--inactive"]).contains("newguest"));
    let xml = p.ok(&["dumpxml", "newguest"]);
    assert!(xml.contains("<kernel>/boot/vmlinuz</kernel>"), "{xml}");
    assert!(
        xml.contains("8f07fe28-753f-2729-d76d-bdbd892f949a"),
        "{xml}"
    );
    p.ok(&["start", "newguest"]);
    let xml = p.ok(&["dumpxml", "newguest"]);
    assert!(xml.starts_with("<domain type='xen' id='"), "{xml}");
    // Devices, by the same XML a user gives virsh.
    p.ok(&["attach-device", "newguest", &write("disk.xml", DISK)]);
    p.ok(&["attach-device", "newguest", &write("nic.xml", NIC)]);
    let xml = p.ok(&["dumpxml", "newguest"]);
    assert!(xml.contains("<target dev='xvdb' bus='xen'/>"), "{xml}");
    assert!(xml.contains("00:16:3e:12:34:56"), "{xml}");
    p.ok(&["detach-device", "newguest", &write("disk2.xml", DISK)]);
    p.ok(&["detach-device", "newguest", &write("nic2.xml", NIC)]);
    let xml = p.ok(&["dumpxml", "newguest"]);
    assert!(!xml.contains("xvdb"), "{xml}");
    assert!(!xml.contains("00:16:3e:12:34:56"), "{xml}");
    let err = p.fails(
        false,
        &["detach-device", "newguest", &write("disk3.xml", DISK)],
    );
    assert!(err.contains("not connected"), "{err}");
    // Defining the same name with another UUID is refused by xend.
    let other = write("other.xml", &GUEST.replace("8f07fe28", "9f07fe28"));
    let err = p.fails(false, &["define", &other]);
    assert!(err.contains("already exists"), "{err}");
    p.ok(&["destroy", "newguest"]);
    p.ok(&["undefine", "newguest"]);
    assert!(!p.ok(&["list", "--all"]).contains("newguest"));
    // A transient domain: created running, gone when destroyed.
    let transient = write(
        "t.xml",
        &GUEST
            .replace("newguest", "transient")
            .replace("8f07fe28", "7f07fe28"),
    );
    p.ok(&["create", &transient]);
    let info = p.ok(&["dominfo", "transient"]);
    assert!(info.contains("running"), "{info}");
    p.ok(&["destroy", "transient"]);
    assert!(!p.ok(&["list", "--all"]).contains("transient"));
    // Broken XML is an XML error, not a request to xend.
    let err = p.fails(
        false,
        &["define", &write("bad.xml", "<domain type='xen'><name>x")],
    );
    assert!(err.contains("XML"), "{err}");
}

#[test]
fn config_version_2_has_no_define() {
    let p = Peer::start(&["--config-version", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("guest.xml");
    std::fs::write(&f, GUEST).unwrap();
    let err = p.fails(false, &["define", f.to_str().unwrap()]);
    assert!(err.contains("keeps no inactive domains"), "{err}");
    // create works on every version.
    p.ok(&["create", f.to_str().unwrap()]);
    assert!(p.ok(&["list"]).contains("newguest"));
}
