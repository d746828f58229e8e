//! Every domain of the qemuxml2argv corpus that the driver accepts starts on this host (QEMU 10,
//! TCG), up to `prelaunch`, through the plugin in a sandboxed `qemu:///session?root=...`; or it
//! fails for a reason of the host that the error names. What QEMU 10 cannot do is refused at
//! define, with the reason.
//!
//! Three passes over the corpus:
//! 1. the XML as written (its `/usr/bin/qemu` of 2008, `/dev/HostVG/...` disks, fixed ports):
//!    a define refusal must say why, a start failure must name the missing host resource;
//! 2. the same with this host's QEMU (no `<emulator>`): now the missing disks are named;
//! 3. the same XML pointed at this host: no `<emulator>` (the driver finds QEMU), disks as
//!    images in their declared format, character devices at temporary files and sockets (with a
//!    listener for the ones that connect), VNC on a free port, 64 MiB of memory. What still
//!    fails must be a host reason (an X display for SDL, a USB device that is not plugged in, a
//!    host network change in a sandbox).
//!
//! Each started guest is checked paused (`domstate`) with QEMU's `query-status` answering
//! `prelaunch`, then destroyed. The counts are printed.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Sandbox, have_qemu, report};
use virtkit::{DomainState, ErrorCode, VK_DOMAIN_START_PAUSED};
use virtkit_qemu_driver::Qmp;
use virtkit_xml::{ChardevMode, ChardevSource, DomainDef, FormatOptions, GraphicsDef};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/qemuxml2argv"
    ))
}

fn cases() -> Vec<String> {
    let tsv = std::fs::read_to_string(corpus().join("cases.tsv"))
        .expect("the shared corpus has qemuxml2argv/cases.tsv");
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// Wording of errors that name something this host lacks or refuses, rather than something the
/// driver or QEMU 10 cannot do.
const HOST_REASONS: &[(&str, &str)] = &[
    ("does not exist or is not executable", "emulator missing"),
    ("No such file or directory", "file or device missing"),
    ("/dev/kvm", "no KVM"),
    ("need an X display", "no X display"),
    (
        "Display 'sdl' is not available",
        "QEMU's SDL module missing",
    ),
    (
        "failed to find host usb device",
        "USB device not plugged in",
    ),
    ("Connection refused", "nothing listening"),
    ("Address already in use", "port taken"),
    (
        "changes the host's network",
        "sandbox: no host network change",
    ),
    ("Permission denied", "permission"),
    ("Cannot allocate memory", "memory"),
];

fn host_reason(msg: &str) -> Option<&'static str> {
    HOST_REASONS
        .iter()
        .find(|(w, _)| msg.contains(w))
        .map(|(_, class)| *class)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Points the host resources of a corpus definition at things that exist here. Returns the
/// listeners that must stay open while QEMU connects to them.
fn localize(def: &mut DomainDef, dir: &Path) -> Vec<Box<dyn std::any::Any>> {
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    def.devices.emulator = None;
    def.memory_kib = 64 * 1024;
    def.current_memory_kib = 64 * 1024;
    for d in &mut def.devices.disks {
        if d.source.as_deref().is_some_and(|s| !s.is_empty()) {
            let p = dir.join(format!("{}.img", d.target_dev));
            let format = match d.driver_type.as_deref() {
                None | Some("iso") => "raw",
                Some(f) => f,
            };
            let out = std::process::Command::new("qemu-img")
                .args(["create", "-q", "-f", format])
                .arg(&p)
                .arg("1M")
                .output()
                .expect("qemu-img runs");
            assert!(
                out.status.success(),
                "qemu-img create -f {format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            d.source = Some(p.display().to_string());
        }
    }
    let chardevs = def
        .devices
        .serials
        .iter_mut()
        .chain(def.devices.parallels.iter_mut())
        .chain(def.devices.consoles.iter_mut());
    for (i, c) in chardevs.enumerate() {
        match &mut c.source {
            ChardevSource::File { path } | ChardevSource::Pipe { path } => {
                *path = dir.join(format!("chr{i}.log")).display().to_string()
            }
            ChardevSource::Dev { path } => {
                // A terminal of our own stands for the host's serial device.
                let pty = nix::pty::openpty(None, None).unwrap();
                let name = std::fs::read_link(format!("/proc/self/fd/{}", {
                    use std::os::fd::AsRawFd;
                    pty.slave.as_raw_fd()
                }))
                .unwrap();
                *path = name.display().to_string();
                keep.push(Box::new(pty));
            }
            ChardevSource::Unix { mode, path } => {
                let p = dir.join(format!("chr{i}.sock"));
                if *mode == ChardevMode::Connect {
                    keep.push(Box::new(UnixListener::bind(&p).unwrap()));
                }
                *path = p.display().to_string();
            }
            ChardevSource::Tcp {
                mode,
                host,
                service,
                ..
            } => {
                *host = "127.0.0.1".into();
                if *mode == ChardevMode::Connect {
                    let l = TcpListener::bind("127.0.0.1:0").unwrap();
                    *service = l.local_addr().unwrap().port().to_string();
                    keep.push(Box::new(l));
                } else {
                    *service = free_port().to_string();
                }
            }
            ChardevSource::Udp {
                connect_service,
                bind_host,
                bind_service,
                ..
            } => {
                *connect_service = free_port().to_string();
                if bind_service.is_some() {
                    *bind_host = Some("127.0.0.1".into());
                    *bind_service = Some(free_port().to_string());
                }
            }
            _ => {}
        }
    }
    for g in &mut def.devices.graphics {
        if let GraphicsDef::Vnc(v) = g {
            v.port = None;
            v.autoport = true;
            v.listen = Some("127.0.0.1".into());
        }
    }
    keep
}

#[derive(Default)]
struct Counts {
    cases: usize,
    accepted: usize,
    started: usize,
    refused: BTreeMap<String, Vec<String>>,
    host: BTreeMap<&'static str, Vec<String>>,
}

impl Counts {
    fn print(&self, pass: &str) {
        let refused: usize = self.refused.values().map(Vec::len).sum();
        let host: usize = self.host.values().map(Vec::len).sum();
        let mut s = format!(
            "corpus_start [{pass}]: {} cases: {} accepted at define, {} started to prelaunch, \
             {refused} refused at define, {host} failed at start for a host reason",
            self.cases, self.accepted, self.started
        );
        for (why, files) in &self.refused {
            s.push_str(&format!(
                "\n  refused ({}): {why}: {}",
                files.len(),
                files.join(" ")
            ));
        }
        for (why, files) in &self.host {
            s.push_str(&format!(
                "\n  host ({}): {why}: {}",
                files.len(),
                files.join(" ")
            ));
        }
        report(&s);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Pass {
    AsWritten,
    HostEmulator,
    Localized,
}

fn run_pass(sb: &Sandbox, pass: Pass) -> Counts {
    let conn = sb.open();
    let mut counts = Counts::default();
    for file in cases() {
        counts.cases += 1;
        let text = std::fs::read_to_string(corpus().join(&file)).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("vkc")
            .tempdir_in("/tmp")
            .unwrap();
        let (xml, _keep) = match pass {
            Pass::AsWritten => (text, Vec::new()),
            Pass::HostEmulator => {
                let mut def = DomainDef::parse(&text).unwrap();
                def.devices.emulator = None;
                (def.to_xml(&FormatOptions::default()), Vec::new())
            }
            Pass::Localized => {
                let mut def = DomainDef::parse(&text).unwrap();
                let keep = localize(&mut def, dir.path());
                (def.to_xml(&FormatOptions::default()), keep)
            }
        };

        match conn.define_domain_xml(&xml) {
            Err(e) => {
                assert!(
                    matches!(
                        e.code,
                        ErrorCode::ConfigUnsupported | ErrorCode::OsType | ErrorCode::XmlError
                    ),
                    "{file}: a define refusal must be config-unsupported, os-type or xml-error: {e:?}"
                );
                // The reason follows the error class: "unsupported configuration: <why>".
                let why = e
                    .message
                    .split_once(": ")
                    .map_or(e.message.as_str(), |(_, w)| w);
                assert!(
                    why.len() > 20,
                    "{file}: a define refusal must give its reason: {e:?}"
                );
                counts
                    .refused
                    .entry(why.chars().take(90).collect())
                    .or_default()
                    .push(file);
                continue;
            }
            Ok(d) => d.undefine().unwrap(),
        }
        counts.accepted += 1;

        match conn.create_domain_xml(&xml, VK_DOMAIN_START_PAUSED) {
            Ok(d) => {
                let (state, _) = d.state().unwrap();
                assert_eq!(state, DomainState::Paused, "{file}");
                let sock = sb.run_dir().join(format!("{}.qmp", d.name()));
                let answers =
                    Qmp::query(&sock, Duration::from_secs(10), &["query-status"]).unwrap();
                let status = answers
                    .into_iter()
                    .next()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{file}: query-status: {e}"));
                assert_eq!(status["status"], "prelaunch", "{file}: {status}");
                d.destroy().unwrap();
                counts.started += 1;
            }
            Err(e) => {
                let class = host_reason(&e.message).unwrap_or_else(|| {
                    panic!(
                        "{file} ({}): accepted at define, but its start failed for a reason that is not the host's: {e:?}",
                        pass.name()
                    )
                });
                counts.host.entry(class).or_default().push(file.clone());
            }
        }
        assert!(
            sb.pids().iter().all(|p| !common::alive(*p)),
            "{file}: a QEMU is left after destroy"
        );
    }
    counts
}

impl Pass {
    fn name(self) -> &'static str {
        match self {
            Pass::AsWritten => "as written",
            Pass::HostEmulator => "with this host's QEMU",
            Pass::Localized => "pointed at this host",
        }
    }
}

#[test]
fn every_accepted_corpus_domain_starts_or_names_a_host_reason() {
    if !have_qemu() {
        return;
    }
    virtkit_test_support::require!(virtkit_test_support::QEMU_IMG);
    let sb = Sandbox::new();
    let as_written = run_pass(&sb, Pass::AsWritten);
    as_written.print(Pass::AsWritten.name());
    let emulator = run_pass(&sb, Pass::HostEmulator);
    emulator.print(Pass::HostEmulator.name());
    assert!(
        !emulator.host.contains_key("emulator missing"),
        "with no <emulator>, the driver finds this host's QEMU"
    );
    let here = run_pass(&sb, Pass::Localized);
    here.print(Pass::Localized.name());

    assert_eq!(
        as_written.accepted, here.accepted,
        "localizing changed what define accepts"
    );
    assert!(here.started > 0, "no corpus domain started");
    // Pointed at this host, only what the host really lacks may fail: no emulator or disk is
    // missing any more.
    for class in ["emulator missing", "file or device missing"] {
        assert!(
            !here.host.contains_key(class),
            "pointed at this host, some guests still fail with '{class}': {:?}",
            here.host[class]
        );
    }
}

/// Definitions beyond the corpus that the command line once got wrong for QEMU 10: each must
/// start to `prelaunch`.
#[test]
fn definitions_qemu_10_once_refused_now_start() {
    if !have_qemu() {
        return;
    }
    virtkit_test_support::require!(virtkit_test_support::QEMU_IMG);
    let sb = Sandbox::new();
    let conn = sb.open();
    let dir = tempfile::Builder::new()
        .prefix("vkc")
        .tempdir_in("/tmp")
        .unwrap();
    let img = dir.path().join("a.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let img = img.display();
    let share = dir.path().display();
    let cases = [
        // q35 has no floppy controller of its own: the driver adds one.
        (
            "q35-floppy",
            " machine='q35'",
            format!(
                "<disk type='file' device='floppy'><source file='{img}'/><target dev='fda'/></disk>"
            ),
        ),
        // isapc has no PCI bus: no balloon, an ISA NIC and VGA.
        (
            "isapc",
            " machine='isapc'",
            "<interface type='user'/><graphics type='vnc' port='-1'/>\
            <sound model='sb16'/><serial type='null'/>"
                .to_string(),
        ),
        // A boot device given twice: QEMU refuses 'order=cc'.
        (
            "boot-twice",
            "",
            "<disk type='file' device='cdrom'><driver name='qemu' type='iso'/>\
            <source file='IMG'/><target dev='hdc'/></disk>"
                .replace("IMG", &img.to_string()),
        ),
        // libvirt's 'squash' access mode is QEMU's security_model=none.
        (
            "fs-squash",
            "",
            format!(
                "<filesystem type='mount' accessmode='squash'><source dir='{share}'/><target dir='share'/></filesystem>"
            ),
        ),
    ];
    for (name, os, devices) in cases {
        let boot = if name == "boot-twice" {
            "<boot dev='cdrom'/><boot dev='hd'/><boot dev='cdrom'/>"
        } else {
            ""
        };
        let xml = format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64'{os}>hvm</type>{boot}</os><devices>{devices}</devices></domain>"
        );
        let d = conn
            .create_domain_xml(&xml, VK_DOMAIN_START_PAUSED)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let sock = sb.run_dir().join(format!("{name}.qmp"));
        let status = Qmp::query(&sock, Duration::from_secs(10), &["query-status"]).unwrap();
        assert_eq!(
            status.into_iter().next().unwrap().unwrap()["status"],
            "prelaunch",
            "{name}"
        );
        d.destroy().unwrap();
    }
}
