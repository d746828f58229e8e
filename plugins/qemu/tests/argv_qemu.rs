//! The modern command lines of the qemuxml2argv corpus, run by the real QEMU: every case QEMU 10
//! can run on this host must start (`-S`, QMP answers `prelaunch`). Host paths of the corpus are
//! replaced by files, sockets and ports in a temporary directory first; cases that need
//! something this host cannot give (a Xen `xenner` emulator, an X display for SDL) are reported
//! skipped with the reason.

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtkit_qemu_driver::{ArgvContext, Qmp, build_command, find_emulator};
use virtkit_test_support::report;
use virtkit_xml::{ChardevMode, ChardevSource, DomainDef, GraphicsDef};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/qemuxml2argv"
    ))
}

/// Kills the QEMU it holds when dropped.
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    for d in &mut def.devices.disks {
        if d.source.as_deref().is_some_and(|s| !s.is_empty()) {
            let p = dir.join(format!("{}.img", d.target_dev));
            std::fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
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
            ChardevSource::Unix { mode, path } => {
                let p = dir.join(format!("chr{i}.sock"));
                if *mode == ChardevMode::Connect {
                    keep.push(Box::new(UnixListener::bind(&p).unwrap()));
                }
                *path = p.display().to_string();
            }
            ChardevSource::Tcp { mode, service, .. } => {
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
                bind_service,
                ..
            } => {
                *connect_service = free_port().to_string();
                if bind_service.is_some() {
                    *bind_service = Some(free_port().to_string());
                }
            }
            // A host serial device needs a real tty; this host may have none to spare.
            ChardevSource::Dev { .. } => c.source = ChardevSource::Null,
            _ => {}
        }
    }
    for g in &mut def.devices.graphics {
        if let GraphicsDef::Vnc(v) = g {
            v.port = None;
            v.autoport = true;
        }
    }
    keep
}

fn why_not_here(def: &DomainDef) -> Option<String> {
    if !def.is_hvm() {
        return Some(format!(
            "os type '{}' needs the xenner emulator, which QEMU 10 does not have",
            def.os.os_type
        ));
    }
    if def
        .devices
        .graphics
        .iter()
        .any(|g| matches!(g, GraphicsDef::Sdl(_)))
        && std::env::var_os("DISPLAY").is_none()
    {
        return Some("SDL graphics need an X display and DISPLAY is unset".into());
    }
    if def.devices.interfaces.iter().any(|n| {
        matches!(
            n.source,
            virtkit_xml::InterfaceSource::Bridge { .. }
                | virtkit_xml::InterfaceSource::Network { .. }
        )
    }) {
        return Some("bridged interfaces need a host bridge".into());
    }
    if !def.devices.hostdevs.is_empty() {
        return Some("host device passthrough needs that device on this host".into());
    }
    None
}

#[test]
fn qemu_10_runs_the_corpus_command_lines() {
    virtkit_test_support::require!(virtkit_test_support::QEMU);
    let qemu = find_emulator("x86_64").expect("the driver finds the QEMU that is installed");
    let cases = std::fs::read_to_string(corpus().join("cases.tsv")).unwrap();
    let (mut ran, mut skipped) = (0, 0);
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let file = line.split('\t').next().unwrap();
        let mut def =
            DomainDef::parse(&std::fs::read_to_string(corpus().join(file)).unwrap()).unwrap();
        if let Some(why) = why_not_here(&def) {
            report(&format!(
                "qemu_10_runs_the_corpus_command_lines: skipped case {file}: {why}"
            ));
            skipped += 1;
            continue;
        }
        let dir = tempfile::Builder::new()
            .prefix("vkq")
            .tempdir_in("/tmp")
            .unwrap();
        let _keep = localize(&mut def, dir.path());
        let arch = def.os.arch.clone().unwrap_or_else(|| "x86_64".into());
        let emulator = find_emulator(&arch).unwrap_or_else(|| qemu.clone());
        let sock = dir.path().join("m.qmp");
        let ctx = ArgvContext {
            emulator: emulator.display().to_string(),
            qmp_socket: Some(sock.clone()),
            ..Default::default()
        };
        let cmd = build_command(&def, &ctx).unwrap();
        let log = dir.path().join("qemu.log");
        let child = Command::new(&cmd.argv[0])
            .args(&cmd.argv[1..])
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut guest = Guest(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let q = loop {
            if let Some(status) = guest.0.try_wait().unwrap() {
                panic!(
                    "{file}: QEMU exited with {status}: {}\n{}",
                    std::fs::read_to_string(&log).unwrap(),
                    cmd.to_line()
                );
            }
            match Qmp::connect(&sock, Duration::from_secs(10)) {
                Ok(q) => break q,
                Err(e) if Instant::now() > deadline => panic!("{file}: no QMP: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let mut q = q;
        assert_eq!(q.status().unwrap(), "prelaunch", "{file}");
        let _ = q.execute("quit", None);
        let status = guest.0.wait().unwrap();
        assert!(
            status.success(),
            "{file}: {status}: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        ran += 1;
    }
    report(&format!(
        "qemu_10_runs_the_corpus_command_lines: QEMU ran {ran} corpus command lines, skipped {skipped}"
    ));
    assert!(ran > 0);
}
