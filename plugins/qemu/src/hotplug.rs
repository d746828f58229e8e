//! Device hot-plug on a running guest: disks (`blockdev-add` + `device_add`) and interfaces
//! (`netdev_add` + `device_add`), and their removal (`device_del`, then QEMU's
//! `DEVICE_DELETED` event, then the back end).
//!
//! QEMU ids follow the command line's: a disk is device `<target>` on block node
//! `drive-<target>`; an interface is device `net<n>` on netdev `hostnet<n>`, with the first `n`
//! free (ids of interfaces removed earlier are not reused while QEMU knows them).

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;
use virtkit_driver::{Error, ErrorCode, Result};
use virtkit_xml::{
    DiskBus, DiskDef, DiskDevice, DiskType, HostdevDef, HostdevSource, InterfaceDef,
    InterfaceSource, MacAddr,
};

use crate::QemuConn;
use crate::argv::{self, disk_bus, opt_escape};
use crate::qmp::{Qmp, QmpError};
use crate::store::RunState;

/// How long a detach waits for the guest to release the device (libvirt waits 5 s too).
pub(crate) const UNPLUG_TIMEOUT: Duration = Duration::from_secs(5);

fn qmp_failed(name: &str, e: QmpError) -> Error {
    Error::new(ErrorCode::OperationFailed, format!("domain '{name}': {e}"))
}

fn cannot(msg: String) -> Error {
    Error::new(
        ErrorCode::ConfigUnsupported,
        format!("unsupported configuration: {msg}"),
    )
}

/// The ids of the devices the user added (`-device ...,id=` and `device_add`).
fn peripherals(q: &mut Qmp, name: &str) -> Result<Vec<String>> {
    let v = q
        .execute("qom-list", Some(json!({ "path": "/machine/peripheral" })))
        .map_err(|e| qmp_failed(name, e))?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter(|p| {
                    p.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.starts_with("child<"))
                })
                .filter_map(|p| p.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Plugs `disk` into the running guest and returns it as the live XML should record it.
pub(crate) fn attach_disk(c: &QemuConn, s: &RunState, q: &mut Qmp, disk: &DiskDef) -> Result<()> {
    let name = &s.name;
    if s.def
        .devices
        .disks
        .iter()
        .any(|d| d.target_dev == disk.target_dev)
    {
        return Err(Error::operation_invalid(format!(
            "domain '{name}' already has a disk with target '{}'",
            disk.target_dev
        )));
    }
    if !disk.target_dev.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::new(
            ErrorCode::XmlError,
            format!("invalid disk target '{}'", disk.target_dev),
        ));
    }
    let bus = disk_bus(disk);
    let idx = argv::disk_index(&disk.target_dev).ok_or_else(|| {
        cannot(format!(
            "cannot tell the disk index of target '{}'",
            disk.target_dev
        ))
    })?;
    let cdrom = disk.device == DiskDevice::Cdrom;
    let Some(source) = disk.source.as_deref().filter(|p| !p.is_empty()) else {
        return Err(cannot(format!(
            "disk '{}' has no source: only a disk with a medium can be hot-plugged",
            disk.target_dev
        )));
    };
    let node = format!("drive-{}", disk.target_dev);
    let mut device = match bus {
        DiskBus::Virtio if disk.device == DiskDevice::Disk => {
            json!({ "driver": "virtio-blk-pci" })
        }
        DiskBus::Scsi => {
            ensure_scsi_controller(c, s, q)?;
            json!({
                "driver": if cdrom { "scsi-cd" } else { "scsi-hd" },
                "bus": "scsi0.0", "channel": 0, "scsi-id": idx, "lun": 0,
            })
        }
        DiskBus::Usb => json!({ "driver": "usb-storage" }),
        other => {
            return Err(cannot(format!(
                "a {} on the {} bus cannot be hot-plugged (virtio, scsi and usb disks can)",
                disk.device.as_str(),
                other.as_str()
            )));
        }
    };
    device["drive"] = json!(node);
    device["id"] = json!(disk.target_dev);
    if disk.shareable {
        device["share-rw"] = json!(true);
    }
    let format = disk.driver_type.as_deref().unwrap_or("raw").to_string();
    if !matches!(
        format.as_str(),
        "raw"
            | "qcow2"
            | "qcow"
            | "vmdk"
            | "vdi"
            | "vpc"
            | "vhdx"
            | "qed"
            | "cloop"
            | "dmg"
            | "bochs"
    ) {
        return Err(cannot(format!("disk format '{format}'")));
    }
    let protocol = match disk.disk_type {
        DiskType::Block => "host_device",
        _ => "file",
    };
    let read_only = disk.readonly || cdrom;
    let mut file = json!({ "driver": protocol, "filename": source });
    if let Some(cache) = disk.driver_cache.as_deref() {
        // cache=none and directsync bypass the host page cache.
        if matches!(cache, "none" | "off" | "directsync") {
            file["cache"] = json!({ "direct": true });
        }
    }
    if let Some(u) = crate::guest_user::load(&c.store.paths, c.privileged)? {
        c.store.give_files(name, &u, &[source.to_string()])?;
    }
    q.execute(
        "blockdev-add",
        Some(json!({ "driver": format, "node-name": node, "read-only": read_only, "file": file })),
    )
    .map_err(|e| {
        c.store.restore_owners(name, Some(source));
        qmp_failed(name, e)
    })?;
    if let Err(e) = q.execute("device_add", Some(device)) {
        let _ = q.execute("blockdev-del", Some(json!({ "node-name": node })));
        c.store.restore_owners(name, Some(source));
        return Err(qmp_failed(name, e));
    }
    Ok(())
}

/// A SCSI disk needs the `scsi0` controller that a start creates for the first SCSI disk.
fn ensure_scsi_controller(c: &QemuConn, s: &RunState, q: &mut Qmp) -> Result<()> {
    let _ = c;
    if peripherals(q, &s.name)?.iter().any(|p| p == "scsi0") {
        return Ok(());
    }
    let model = s
        .def
        .devices
        .controllers
        .iter()
        .find(|c| c.controller_type == "scsi")
        .and_then(|c| c.model.as_deref())
        .map(|m| match m {
            "lsilogic" => "lsi",
            "lsisas1068" => "mptsas1068",
            "lsisas1078" => "megasas",
            _ => "virtio-scsi-pci",
        })
        .unwrap_or("virtio-scsi-pci");
    q.execute(
        "device_add",
        Some(json!({ "driver": model, "id": "scsi0" })),
    )
    .map_err(|e| qmp_failed(&s.name, e))?;
    Ok(())
}

/// Removes a hot-pluggable disk: `device_del`, waits for `DEVICE_DELETED`, then removes its
/// block node (a disk from the command line has its drive removed with it by QEMU).
pub(crate) fn detach_disk(c: &QemuConn, s: &RunState, q: &mut Qmp, disk: &DiskDef) -> Result<()> {
    if !matches!(
        disk_bus(disk),
        DiskBus::Virtio | DiskBus::Scsi | DiskBus::Usb
    ) {
        return Err(cannot(format!(
            "disk '{}' on the {} bus cannot be hot-unplugged (virtio, scsi and usb disks can)",
            disk.target_dev,
            disk_bus(disk).as_str()
        )));
    }
    unplug(s, q, &disk.target_dev)?;
    if let Some(src) = disk.source.as_deref() {
        c.store.restore_owners(&s.name, Some(src));
    }
    match q.execute(
        "blockdev-del",
        Some(json!({ "node-name": format!("drive-{}", disk.target_dev) })),
    ) {
        Ok(_) => Ok(()),
        // A -drive of the command line went with its device.
        Err(QmpError::Command { .. }) => Ok(()),
        Err(e) => Err(qmp_failed(&s.name, e)),
    }
}

/// `device_del` and the wait for the guest to let the device go. A device QEMU no longer has
/// (released after an earlier detach timed out) counts as gone.
fn unplug(s: &RunState, q: &mut Qmp, id: &str) -> Result<()> {
    match q.execute("device_del", Some(json!({ "id": id }))) {
        Ok(_) => {}
        Err(QmpError::Command { class, .. }) if class == "DeviceNotFound" => return Ok(()),
        Err(e) => return Err(qmp_failed(&s.name, e)),
    }
    let path = format!("/machine/peripheral/{id}");
    let gone = q
        .wait_event(
            "DEVICE_DELETED",
            |d| {
                d.get("device").and_then(Value::as_str) == Some(id)
                    || d.get("path").and_then(Value::as_str) == Some(path.as_str())
            },
            UNPLUG_TIMEOUT,
        )
        .map_err(|e| qmp_failed(&s.name, e))?;
    if gone.is_none() {
        return Err(Error::new(
            ErrorCode::OperationFailed,
            format!(
                "domain '{}' did not release device '{id}' within {} s (a PCI device needs a guest OS that \
                 handles hot-unplug); the request stays with QEMU and the device stays in the domain's XML until \
                 it is gone: detach it again later",
                s.name,
                UNPLUG_TIMEOUT.as_secs()
            ),
        ));
    }
    Ok(())
}

/// Gives an interface without a MAC one in QEMU's range `52:54:00`, as a define does.
pub(crate) fn fill_mac(n: &mut InterfaceDef) {
    if n.mac.is_none() {
        let r = Uuid::new_v4();
        let b = r.as_bytes();
        n.mac = Some(MacAddr([0x52, 0x54, 0x00, b[0], b[1], b[2]]));
    }
}

/// Plugs an interface (`user`, `network`, `bridge`) into the running guest. `n` has its MAC.
pub(crate) fn attach_interface(
    c: &QemuConn,
    s: &RunState,
    q: &mut Qmp,
    n: &InterfaceDef,
) -> Result<()> {
    let name = &s.name;
    if s.def.devices.interfaces.iter().any(|i| i.mac == n.mac) {
        return Err(Error::operation_invalid(format!(
            "domain '{name}' already has an interface with MAC {}",
            n.mac.map(|m| m.to_string()).unwrap_or_default()
        )));
    }
    let taken = peripherals(q, name)?;
    let i = (s.def.devices.interfaces.len()..)
        .find(|i| !taken.contains(&format!("net{i}")))
        .unwrap_or_default();
    let netdev = format!("hostnet{i}");
    let mut probe = s.def.clone();
    probe.devices.interfaces = vec![n.clone()];
    c.check_host_network(&probe)?;
    let mut tap = None;
    let backend = match &n.source {
        InterfaceSource::User => json!({ "type": "user", "id": netdev }),
        InterfaceSource::Network { .. } | InterfaceSource::Bridge { .. } => {
            let bridge = match &n.source {
                InterfaceSource::Network { network } => {
                    c.network_bridges().get(network).cloned().ok_or_else(|| {
                        Error::operation_invalid(format!("network '{network}' is not active"))
                    })?
                }
                InterfaceSource::Bridge { bridge } => bridge.clone(),
                _ => unreachable!("matched above"),
            };
            if c.privileged {
                let t = n
                    .target_dev
                    .clone()
                    .unwrap_or_else(|| argv::tap_name(&s.def, i));
                tap = Some((t.clone(), bridge));
                json!({ "type": "tap", "id": netdev, "ifname": t, "script": "no", "downscript": "no" })
            } else {
                json!({ "type": "bridge", "id": netdev, "br": bridge })
            }
        }
        other => {
            return Err(cannot(format!(
                "an interface of type '{}' cannot be hot-plugged (user, network and bridge can)",
                other.type_name()
            )));
        }
    };
    let model = match n.model.as_deref() {
        None => "rtl8139".to_string(),
        Some("virtio") => "virtio-net-pci".to_string(),
        Some(m)
            if m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            m.to_string()
        }
        Some(m) => return Err(cannot(format!("interface model '{}'", opt_escape(m)))),
    };
    q.execute("netdev_add", Some(backend))
        .map_err(|e| qmp_failed(name, e))?;
    let undo = |q: &mut Qmp| {
        let _ = q.execute("netdev_del", Some(json!({ "id": netdev })));
    };
    if let Some((t, br)) = &tap
        && let Err(e) = crate::network::run_ip(&["link", "set", t, "master", br, "up"])
    {
        undo(q);
        return Err(e);
    }
    let mut device = json!({ "driver": model, "netdev": netdev, "id": format!("net{i}") });
    if let Some(m) = n.mac {
        device["mac"] = json!(m.to_string());
    }
    if let Err(e) = q.execute("device_add", Some(device)) {
        undo(q);
        return Err(qmp_failed(name, e));
    }
    Ok(())
}

/// Removes an interface, found in QEMU by its MAC: `device_del`, `DEVICE_DELETED`, `netdev_del`.
pub(crate) fn detach_interface(s: &RunState, q: &mut Qmp, n: &InterfaceDef) -> Result<()> {
    let name = &s.name;
    let mac = n.mac.map(|m| m.to_string()).unwrap_or_default();
    let mut found = None;
    for id in peripherals(q, name)? {
        let Ok(m) = q.execute(
            "qom-get",
            Some(json!({ "path": format!("/machine/peripheral/{id}"), "property": "mac" })),
        ) else {
            continue;
        };
        if m.as_str().is_some_and(|m| m.eq_ignore_ascii_case(&mac)) {
            let netdev = q
                .execute(
                    "qom-get",
                    Some(json!({ "path": format!("/machine/peripheral/{id}"), "property": "netdev" })),
                )
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            found = Some((id, netdev));
            break;
        }
    }
    // Not in QEMU any more: released after an earlier detach timed out.
    let Some((id, netdev)) = found else {
        return Ok(());
    };
    unplug(s, q, &id)?;
    if let Some(netdev) = netdev.filter(|n| !n.is_empty()) {
        match q.execute("netdev_del", Some(json!({ "id": netdev }))) {
            Ok(_) | Err(QmpError::Command { .. }) => {}
            Err(e) => return Err(qmp_failed(name, e)),
        }
    }
    Ok(())
}

/// The QEMU properties of a USB host device: (hostbus, hostaddr, vendorid, productid), 0 where
/// the XML leaves them out (QEMU's "any").
fn usb_host_props(h: &HostdevDef) -> Option<[u64; 4]> {
    match &h.source {
        HostdevSource::Usb {
            vendor,
            product,
            bus,
            device,
        } => Some([
            bus.map_or(0, u64::from),
            device.map_or(0, u64::from),
            vendor.map_or(0, u64::from),
            product.map_or(0, u64::from),
        ]),
        HostdevSource::Pci(_) => None,
    }
}

const USB_HOST_PROPS: [&str; 4] = ["hostbus", "hostaddr", "vendorid", "productid"];

/// Plugs a USB host device (`usb-host`, id `hostdev<n>`). QEMU claims the host device when it
/// is present and whenever it appears later, as with `-device usb-host` at start.
pub(crate) fn attach_hostdev(s: &RunState, q: &mut Qmp, h: &HostdevDef) -> Result<()> {
    let name = &s.name;
    let Some(props) = usb_host_props(h) else {
        return Err(cannot(
            "PCI host devices cannot be hot-plugged (USB host devices can)".into(),
        ));
    };
    if props[..2] == [0, 0] && props[2..] == [0, 0] {
        return Err(cannot(
            "a USB host device needs a vendor and product or a bus and device address".into(),
        ));
    }
    if s.def.devices.hostdevs.iter().any(|x| x.source == h.source) {
        return Err(Error::operation_invalid(format!(
            "domain '{name}' already has this USB host device"
        )));
    }
    let taken = peripherals(q, name)?;
    let i = (s.def.devices.hostdevs.len()..)
        .find(|i| !taken.contains(&format!("hostdev{i}")))
        .unwrap_or_default();
    let mut device = json!({ "driver": "usb-host", "id": format!("hostdev{i}") });
    for (k, v) in USB_HOST_PROPS.iter().zip(props) {
        if v != 0 {
            device[*k] = json!(v);
        }
    }
    q.execute("device_add", Some(device))
        .map_err(|e| qmp_failed(name, e))?;
    Ok(())
}

/// Removes a USB host device, found in QEMU by its properties.
pub(crate) fn detach_hostdev(s: &RunState, q: &mut Qmp, h: &HostdevDef) -> Result<()> {
    let name = &s.name;
    let Some(want) = usb_host_props(h) else {
        return Err(cannot(
            "PCI host devices cannot be hot-unplugged (USB host devices can)".into(),
        ));
    };
    for id in peripherals(q, name)? {
        let path = format!("/machine/peripheral/{id}");
        let typ = q
            .execute("qom-get", Some(json!({ "path": path, "property": "type" })))
            .ok();
        if typ.as_ref().and_then(Value::as_str) != Some("usb-host") {
            continue;
        }
        let mut got = [0u64; 4];
        for (slot, k) in got.iter_mut().zip(USB_HOST_PROPS) {
            *slot = q
                .execute("qom-get", Some(json!({ "path": path, "property": k })))
                .ok()
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
        }
        if got == want {
            return unplug(s, q, &id);
        }
    }
    // Not in QEMU any more: released after an earlier detach timed out.
    Ok(())
}
