//! Documents just under the CLI's 10 MiB input cap, made of one repeated part: 10 MB of
//! `<disk>`s, of `<interface>`s, of attributes on one element. Before the checks became
//! linear, these took minutes to hours (the attribute case: a scan of the attributes read so
//! far for each new one, ~5·10¹¹ comparisons); now each parses, and each is checked to have
//! been read whole. No assertion is made on time: speed is `cargo xtask bench`'s job (the
//! "large documents" rows print the time per MB from 1 KB to 10 MB); a quadratic regression
//! shows here as a test run that does not end.

use virtkit_xml::{DomainDef, FormatOptions};

/// The document size: under the 10 MiB cap of the CLI.
const SIZE: usize = 10_000_000;

fn disk_name(mut i: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
        i -= 1;
    }
    letters.reverse();
    format!("vd{}", String::from_utf8(letters).unwrap())
}

/// A domain whose `<devices>` repeat `part(i)` until the document reaches `size` bytes; returns
/// the document and the number of parts.
fn with_devices(size: usize, part: impl Fn(usize) -> String) -> (String, usize) {
    let mut s = String::from(
        "<domain type='test'><name>big</name><memory>1024</memory><os><type>hvm</type></os><devices>\n",
    );
    let mut n = 0;
    while s.len() < size {
        s.push_str(&part(n));
        n += 1;
    }
    s.push_str("</devices></domain>\n");
    (s, n)
}

#[test]
fn ten_megabytes_of_disks() {
    let (xml, n) = with_devices(SIZE, |i| {
        format!(
            "<disk type='file'><source file='/i/{i}.img'/><target dev='{}' bus='virtio'/></disk>\n",
            disk_name(i)
        )
    });
    let def = DomainDef::parse(&xml).unwrap();
    assert_eq!(def.devices.disks.len(), n);
    assert_eq!(def.devices.disks[n - 1].target_dev, disk_name(n - 1));
    let out = def.to_xml(&FormatOptions::default());
    assert_eq!(DomainDef::parse(&out).unwrap(), def);
}

#[test]
fn ten_megabytes_of_unnamed_interfaces_get_names() {
    // Unnamed interfaces, as the test driver names them at define: the first free testnetN each.
    let (xml, n) = with_devices(SIZE, |i| {
        let target = if i % 3 == 1 {
            format!("<target dev='testnet{}'/>", i + 1)
        } else {
            String::new()
        };
        format!(
            "<interface type='network'><source network='default'/><mac address='52:54:00:{:02x}:{:02x}:{:02x}'/>{target}</interface>\n",
            (i >> 16) & 0xff,
            (i >> 8) & 0xff,
            i & 0xff
        )
    });
    let mut def = DomainDef::parse(&xml).unwrap();
    assert_eq!(def.devices.interfaces.len(), n);
    def.forget_live_state();
    def.name_interfaces("testnet");
    let mut names: Vec<&str> = def
        .devices
        .interfaces
        .iter()
        .map(|i| i.target_dev.as_deref().unwrap())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "every interface has its own name");
}

#[test]
fn ten_megabytes_of_attributes_on_one_element() {
    let mut attrs = String::new();
    let mut n = 0;
    while attrs.len() < SIZE {
        attrs.push_str(&format!(" a{n}='v'"));
        n += 1;
    }
    let xml = format!(
        "<domain type='test'{attrs}><name>big</name><memory>1024</memory><os><type>hvm</type></os></domain>"
    );
    assert_eq!(DomainDef::parse(&xml).unwrap().name, "big");
    // The duplicate check still sees a duplicate at the very end.
    let dup = format!(
        "<domain type='test'{attrs} a0='w'><name>big</name><memory>1024</memory><os><type>hvm</type></os></domain>"
    );
    let err = DomainDef::parse(&dup).unwrap_err().to_string();
    assert!(err.contains("Duplicate attribute 'a0'"), "{err}");
}
