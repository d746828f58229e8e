//! Hot-plug on a running TCG guest (no OS): every device is checked in QEMU itself through
//! QMP (`query-block`, `query-pci`, `info network`) and in the live XML, after attach and after
//! detach. Without QEMU each test reports a skip (a failure under CI) and returns.

mod common;

use std::time::Duration;

use common::{Sandbox, guest_xml, have_qemu};
use serde_json::{Value, json};
use virtkit::ErrorCode;
use virtkit_qemu_driver::Qmp;

/// `VIR_DOMAIN_XML_INACTIVE`: the persistent definition.
const INACTIVE: u32 = 2;

/// One QMP session of the test's own (the driver's sessions are closed between calls).
fn qmp(sb: &Sandbox, name: &str, command: &str, args: Option<Value>) -> Value {
    let mut q = Qmp::connect(
        &sb.run_dir().join(format!("{name}.qmp")),
        Duration::from_secs(30),
    )
    .unwrap();
    q.execute(command, args).unwrap()
}

/// The qdev ids of the block devices QEMU has (`query-block`: the device id, or the
/// `/machine/peripheral/<id>/...` path of a `blockdev-add` disk).
fn block_ids(sb: &Sandbox, name: &str) -> Vec<String> {
    let v = qmp(sb, name, "query-block", None);
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|b| {
            let qdev = b.get("qdev")?.as_str()?;
            let id = qdev.strip_prefix("/machine/peripheral/").unwrap_or(qdev);
            Some(id.split('/').next()?.to_string())
        })
        .collect()
}

/// The qdev ids of the devices on the PCI buses (`query-pci`).
fn pci_ids(sb: &Sandbox, name: &str) -> Vec<String> {
    let v = qmp(sb, name, "query-pci", None);
    let mut out = Vec::new();
    for bus in v.as_array().unwrap() {
        for d in bus["devices"].as_array().unwrap() {
            if let Some(id) = d["qdev_id"].as_str().filter(|s| !s.is_empty()) {
                out.push(id.to_string());
            }
        }
    }
    out
}

fn info_network(sb: &Sandbox, name: &str) -> String {
    qmp(
        sb,
        name,
        "human-monitor-command",
        Some(json!({ "command-line": "info network" })),
    )
    .as_str()
    .unwrap()
    .to_string()
}

fn image(sb: &Sandbox, file: &str) -> String {
    let p = sb.dir.path().join(file);
    std::fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
    p.display().to_string()
}

#[test]
fn disks_and_interfaces_plug_and_unplug() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let c = sb.open();
    // A USB tablet gives the guest a USB bus for usb-storage and usb-net.
    let xml = guest_xml("hp").replace(
        "</os>",
        "</os><features><acpi/></features><devices><input type='tablet' bus='usb'/></devices>",
    );
    let d = c.define_domain_xml(&xml).unwrap();
    d.create().unwrap();

    // SCSI and USB disks: plugged, seen by QEMU and the XML, unplugged (QEMU releases them
    // without the guest's help).
    for (target, bus) in [("sda", "scsi"), ("sdb", "usb")] {
        let img = image(&sb, &format!("{target}.img"));
        let disk = format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{img}'/>\
             <target dev='{target}' bus='{bus}'/></disk>"
        );
        d.attach_device(&disk).unwrap();
        assert!(
            block_ids(&sb, "hp").contains(&target.to_string()),
            "{target}: {:?}",
            block_ids(&sb, "hp")
        );
        let live = d.xml_desc(0).unwrap();
        assert!(
            live.contains(&format!("<target dev='{target}' bus='{bus}'/>")),
            "{live}"
        );
        assert!(live.contains(&img), "{live}");
        // Live and config: the definition has it too.
        let inactive = d.xml_desc(INACTIVE).unwrap();
        assert!(inactive.contains(&img), "{inactive}");
        // The same target twice is refused and changes nothing.
        let e = d.attach_device(&disk).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid, "{e}");

        d.detach_device(&disk).unwrap();
        assert!(!block_ids(&sb, "hp").contains(&target.to_string()));
        assert!(!d.xml_desc(0).unwrap().contains(&img));
        assert!(!d.xml_desc(INACTIVE).unwrap().contains(&img));
    }
    // The SCSI controller plugged for the first SCSI disk is a PCI device and stays.
    assert!(pci_ids(&sb, "hp").contains(&"scsi0".to_string()));

    // A virtio disk is a PCI device: plugged at once, but its removal needs the guest OS
    // (ACPI hot-unplug), which this guest does not have: the detach says so and the XML keeps
    // the disk.
    let img = image(&sb, "vdb.img");
    let vdb = format!(
        "<disk type='file' device='disk'><source file='{img}'/><target dev='vdb' bus='virtio'/></disk>"
    );
    d.attach_device(&vdb).unwrap();
    assert!(pci_ids(&sb, "hp").contains(&"vdb".to_string()));
    assert!(block_ids(&sb, "hp").contains(&"vdb".to_string()));
    assert!(d.xml_desc(0).unwrap().contains(&img));
    let e = d.detach_device(&vdb).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed, "{e}");
    assert!(e.message.contains("did not release device 'vdb'"), "{e}");
    assert!(d.xml_desc(0).unwrap().contains(&img));

    // Interfaces: a user-mode NIC on USB (released at once) and one on PCI.
    let mac = "52:54:00:aa:bb:01";
    d.attach_device(&format!(
        "<interface type='user'><mac address='{mac}'/><model type='usb-net'/></interface>"
    ))
    .unwrap();
    let net = info_network(&sb, "hp");
    assert!(net.contains(&format!("macaddr={mac}")), "{net}");
    assert!(d.xml_desc(0).unwrap().contains(mac));
    d.attach_device("<interface type='user'><model type='virtio'/></interface>")
        .unwrap();
    let live = d.xml_desc(0).unwrap();
    assert_eq!(live.matches("<interface type='user'>").count(), 2, "{live}");
    assert!(pci_ids(&sb, "hp").iter().any(|id| id.starts_with("net")));
    assert!(info_network(&sb, "hp").contains("virtio-net-pci"));
    d.detach_device(&format!(
        "<interface type='user'><mac address='{mac}'/></interface>"
    ))
    .unwrap();
    let net = info_network(&sb, "hp");
    assert!(!net.contains(&format!("macaddr={mac}")), "{net}");
    assert!(!d.xml_desc(0).unwrap().contains(mac));
    assert!(!d.xml_desc(INACTIVE).unwrap().contains(mac));

    // A USB host device: this host has no USB, so the device names one that is absent; QEMU's
    // usb-host takes it and would claim it when it appeared, and it is removed at once.
    let usb = "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1d6b'/>\
               <product id='0x0104'/></source></hostdev>";
    d.attach_device(usb).unwrap();
    let hostdevs = |sb: &Sandbox| -> Vec<(u64, u64)> {
        let mut q = Qmp::connect(&sb.run_dir().join("hp.qmp"), Duration::from_secs(30)).unwrap();
        let list = q
            .execute("qom-list", Some(json!({ "path": "/machine/peripheral" })))
            .unwrap();
        let mut out = Vec::new();
        for p in list.as_array().unwrap() {
            let path = format!("/machine/peripheral/{}", p["name"].as_str().unwrap());
            let ty = q.execute("qom-get", Some(json!({ "path": path, "property": "type" })));
            if ty.ok().as_ref().and_then(Value::as_str) == Some("usb-host") {
                let get = |q: &mut Qmp, k: &str| {
                    q.execute("qom-get", Some(json!({ "path": path, "property": k })))
                        .unwrap()
                        .as_u64()
                        .unwrap()
                };
                out.push((get(&mut q, "vendorid"), get(&mut q, "productid")));
            }
        }
        out
    };
    assert_eq!(hostdevs(&sb), vec![(0x1d6b, 0x0104)]);
    let live = d.xml_desc(0).unwrap();
    assert!(live.contains("<vendor id='0x1d6b'/>"), "{live}");
    d.detach_device(usb).unwrap();
    assert!(hostdevs(&sb).is_empty());
    assert!(!d.xml_desc(0).unwrap().contains("0x1d6b"));
    let e = d
        .attach_device(
            "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x00' \
             slot='0x1f' function='0x0'/></source></hostdev>",
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");

    // What cannot be hot-plugged is refused clearly, and so is a sandboxed bridge.
    let e = d
        .attach_device(&format!(
            "<disk type='file' device='disk'><source file='{img}'/><target dev='hdb' bus='ide'/></disk>"
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e}");
    let e = d
        .attach_device("<interface type='bridge'><source bridge='br0'/></interface>")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationDenied, "{e}");
    d.destroy().unwrap();
}

/// `virtkit -c <sandbox> ARGS`, which must succeed; returns its stdout.
fn cli_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = common::virtkit(&sb.uri(), args).output().unwrap();
    assert!(
        out.status.success(),
        "virtkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cli_err(sb: &Sandbox, args: &[&str]) -> String {
    let out = common::virtkit(&sb.uri(), args).output().unwrap();
    assert!(!out.status.success(), "virtkit {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn virsh_convenience_commands() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let xml = guest_xml("cv").replace(
        "</os>",
        "</os><features><acpi/></features><devices><input type='tablet' bus='usb'/>\
         <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk></devices>",
    );
    let xml_path = sb.dir.path().join("cv.xml");
    std::fs::write(&xml_path, xml).unwrap();
    cli_ok(&sb, &["define", xml_path.to_str().unwrap()]);
    cli_ok(&sb, &["start", "cv"]);

    // attach-disk / detach-disk, live (the default on a running guest).
    let img = image(&sb, "sda.img");
    let out = cli_ok(
        &sb,
        &[
            "attach-disk",
            "cv",
            &img,
            "sda",
            "--targetbus",
            "scsi",
            "--subdriver",
            "raw",
        ],
    );
    assert!(out.contains("Disk attached successfully"), "{out}");
    assert!(block_ids(&sb, "cv").contains(&"sda".to_string()));
    assert!(cli_ok(&sb, &["dumpxml", "cv"]).contains(&img));
    let out = cli_ok(&sb, &["detach-disk", "cv", "sda"]);
    assert!(out.contains("Disk detached successfully"), "{out}");
    assert!(!block_ids(&sb, "cv").contains(&"sda".to_string()));
    assert!(!cli_ok(&sb, &["dumpxml", "cv"]).contains(&img));
    let e = cli_err(&sb, &["detach-disk", "cv", "sdz"]);
    assert!(
        e.contains("No disk found whose source path or target is sdz"),
        "{e}"
    );

    // --config on a running guest: the definition only.
    let out = cli_ok(
        &sb,
        &[
            "attach-disk",
            "cv",
            &img,
            "sdc",
            "--targetbus",
            "scsi",
            "--config",
        ],
    );
    assert!(out.contains("Disk attached successfully"), "{out}");
    assert!(cli_ok(&sb, &["dumpxml", "cv", "--inactive"]).contains(&img));
    assert!(!cli_ok(&sb, &["dumpxml", "cv"]).contains(&img));
    assert!(!block_ids(&sb, "cv").contains(&"sdc".to_string()));
    cli_ok(&sb, &["detach-disk", "cv", "sdc", "--config"]);
    assert!(!cli_ok(&sb, &["dumpxml", "cv", "--inactive"]).contains(&img));
    let e = cli_err(
        &sb,
        &["attach-disk", "cv", &img, "sdd", "--current", "--live"],
    );
    assert!(e.contains("mutually exclusive"), "{e}");

    // attach-interface / detach-interface.
    let mac = "52:54:00:12:34:56";
    let out = cli_ok(
        &sb,
        &[
            "attach-interface",
            "cv",
            "user",
            "--mac",
            mac,
            "--model",
            "usb-net",
        ],
    );
    assert!(out.contains("Interface attached successfully"), "{out}");
    assert!(info_network(&sb, "cv").contains(&format!("macaddr={mac}")));
    assert!(cli_ok(&sb, &["dumpxml", "cv"]).contains(mac));
    let out = cli_ok(&sb, &["detach-interface", "cv", "user", "--mac", mac]);
    assert!(out.contains("Interface detached successfully"), "{out}");
    assert!(!info_network(&sb, "cv").contains(&format!("macaddr={mac}")));
    assert!(!cli_ok(&sb, &["dumpxml", "cv"]).contains(mac));
    let e = cli_err(&sb, &["detach-interface", "cv", "network"]);
    assert!(
        e.contains("No interface found whose type is network"),
        "{e}"
    );

    // change-media on the CD-ROM: insert, update, eject, seen by QEMU.
    let iso = image(&sb, "a.iso");
    let iso2 = image(&sb, "b.iso");
    let medium = |sb: &Sandbox| -> Option<String> {
        let v = qmp(sb, "cv", "query-block", None);
        v.as_array()?
            .iter()
            .find(|b| {
                b["qdev"].as_str().is_some_and(|q| q.contains("hdc")) || b["device"] == "drive-hdc"
            })?
            .get("inserted")?
            .get("file")?
            .as_str()
            .map(str::to_string)
    };
    let out = cli_ok(&sb, &["change-media", "cv", "hdc", &iso, "--insert"]);
    assert!(out.contains("Successfully inserted media."), "{out}");
    assert_eq!(medium(&sb).as_deref(), Some(iso.as_str()));
    assert!(cli_ok(&sb, &["dumpxml", "cv"]).contains(&iso));
    let e = cli_err(&sb, &["change-media", "cv", "hdc", &iso2, "--insert"]);
    assert!(e.contains("already has media"), "{e}");
    let out = cli_ok(&sb, &["change-media", "cv", "hdc", &iso2, "--update"]);
    assert!(out.contains("Successfully updated media."), "{out}");
    assert_eq!(medium(&sb).as_deref(), Some(iso2.as_str()));
    let out = cli_ok(&sb, &["change-media", "cv", "hdc", "--eject"]);
    assert!(out.contains("Successfully ejected media."), "{out}");
    assert_eq!(medium(&sb), None);
    assert!(!cli_ok(&sb, &["dumpxml", "cv"]).contains(&iso2));
    cli_ok(&sb, &["destroy", "cv"]);
    // Shut off: the definition.
    cli_ok(&sb, &["change-media", "cv", "hdc", &iso, "--insert"]);
    assert!(cli_ok(&sb, &["dumpxml", "cv", "--inactive"]).contains(&iso));
    let e = cli_err(&sb, &["attach-disk", "cv", &img, "sde", "--live"]);
    assert!(e.contains("domain is not running"), "{e}");
}
