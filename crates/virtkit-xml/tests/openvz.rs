//! libvirt's OpenVZ domain format: a container with an init program, a template filesystem and
//! bridged interfaces that name their device inside the container (`<guest dev>`).

use virtkit_xml::{DomainDef, FilesystemType, FormatOptions, FormatStyle, InterfaceSource};

const SIMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/openvz/domain-openvz-simple.xml"
);

#[test]
fn the_corpus_container_round_trips() {
    let text = std::fs::read_to_string(SIMPLE).expect("the shared corpus is beside the repository");
    let def = DomainDef::parse(&text).unwrap();
    assert_eq!(def.domain_type, "openvz");
    assert_eq!(def.os.os_type, "exe");
    assert_eq!(def.os.init.as_deref(), Some("/sbin/init"));
    let fs = &def.devices.filesystems;
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].fs_type, FilesystemType::Template);
    assert_eq!(fs[0].source, "debian");
    assert_eq!(fs[0].target_dir, "/");
    assert_eq!(fs[0].space_hard_limit, Some(1_153_024));
    let mt = def.memtune.as_ref().expect("memtune");
    assert_eq!(mt.hard_limit_kib, Some(278_528));
    for style in [FormatStyle::Current, FormatStyle::Legacy] {
        let opts = FormatOptions {
            style,
            ..FormatOptions::default()
        };
        let out = def.to_xml(&opts);
        assert_eq!(DomainDef::parse(&out).unwrap(), def, "{style:?}:\n{out}");
    }
    // The file is libvirt's 2012 output; 9.0 writes the same document but for the vCPU
    // placement and the unit of the space limits.
    let now = def
        .to_xml(&FormatOptions::default())
        .replace("<vcpu placement='static'>", "<vcpu>")
        .replace(" unit='bytes'>", ">");
    assert_eq!(now, text);
}

#[test]
fn guest_device_names_round_trip() {
    let xml = "<domain type='openvz'>
  <name>101</name>
  <uuid>7109d234-f5a8-30a6-5dd2-39ca85ce3958</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type>exe</type>
    <init>/sbin/init</init>
  </os>
  <devices>
    <interface type='bridge'>
      <mac address='00:18:51:c1:05:ee'/>
      <source bridge='br0'/>
      <target dev='veth101.0'/>
      <guest dev='eth0'/>
    </interface>
  </devices>
</domain>
";
    let def = DomainDef::parse(xml).unwrap();
    let nic = &def.devices.interfaces[0];
    assert_eq!(nic.guest_dev.as_deref(), Some("eth0"));
    assert_eq!(nic.target_dev.as_deref(), Some("veth101.0"));
    assert_eq!(
        nic.source,
        InterfaceSource::Bridge {
            bridge: "br0".into()
        }
    );
    let out = def.to_xml(&FormatOptions::default());
    assert!(
        out.contains("<target dev='veth101.0'/>\n      <guest dev='eth0'/>"),
        "{out}"
    );
    assert_eq!(DomainDef::parse(&out).unwrap(), def);
    let e = DomainDef::parse(&xml.replace("<guest dev='eth0'/>", "<guest/>")).unwrap_err();
    assert!(e.to_string().contains("dev"), "{e}");
}
