//! Hostile XML values given to the real QEMU: each must reach it as one value. Values with
//! commas in a name, a disk path and a character device path are started, and QEMU's own
//! answers (QMP `query-name`, `query-block`, the file it creates) show the whole value; values
//! QEMU cannot use (a VNC listen address, a multicast address, a chardev host with an option
//! appended) make it exit with an error that quotes the whole value, instead of taking the part
//! after the comma as an option.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtkit_qemu_driver::{ArgvContext, Qmp, build_command, find_emulator};
use virtkit_xml::DomainDef;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// QEMU's path, or `None` after reporting the skip (a failure under CI).
fn qemu_or_skip(test: &str) -> Option<std::path::PathBuf> {
    match find_emulator("x86_64") {
        Some(q) => Some(q),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: qemu-system-x86_64 not found and CI is set")
        }
        None => {
            report(&format!(
                "{test}: skipped: qemu-system-x86_64 not found (install it with scripts/install-test-deps.sh)"
            ));
            None
        }
    }
}

/// Kills the QEMU it holds when dropped.
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn domain(name: &str, devices: &str) -> DomainDef {
    DomainDef::parse(&format!(
        "<domain type='qemu'><name>{name}</name><memory>65536</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}</devices></domain>"
    ))
    .unwrap()
}

fn spawn(def: &DomainDef, dir: &Path, qemu: &Path) -> (Guest, std::path::PathBuf) {
    let sock = dir.join("m.qmp");
    let ctx = ArgvContext {
        emulator: qemu.display().to_string(),
        qmp_socket: Some(sock.clone()),
        ..Default::default()
    };
    let cmd = build_command(def, &ctx).unwrap();
    let log = dir.join("qemu.log");
    let child = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (Guest(child), log)
}

#[test]
fn values_with_commas_reach_qemu_whole() {
    let Some(qemu) = qemu_or_skip("values_with_commas_reach_qemu_whole") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("vkinj")
        .tempdir_in("/tmp")
        .unwrap();
    let disk = dir.path().join("d,format=qcow2,readonly=on.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let serial = dir.path().join("s,append=on,logfile=x.log");
    let name = "vm,debug-threads=off,process=evil";
    let def = domain(
        name,
        &format!(
            "<disk type='file'><source file='{}'/><target dev='vda'/></disk>\
             <serial type='file'><source path='{}'/></serial>",
            disk.display(),
            serial.display()
        ),
    );
    let (mut guest, log) = spawn(&def, dir.path(), &qemu);
    let sock = dir.path().join("m.qmp");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut q = loop {
        if let Some(status) = guest.0.try_wait().unwrap() {
            panic!(
                "QEMU exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        match Qmp::connect(&sock, Duration::from_secs(10)) {
            Ok(q) => break q,
            Err(e) if Instant::now() > deadline => panic!("no QMP: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let got = q.execute("query-name", None).unwrap();
    assert_eq!(got["name"], name, "{got}");
    let blocks = q.execute("query-block", None).unwrap();
    let files: Vec<&str> = blocks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["inserted"]["file"].as_str())
        .collect();
    assert_eq!(files, [disk.to_str().unwrap()], "{blocks}");
    assert!(
        serial.exists(),
        "QEMU created the serial log under its whole name"
    );
    let _ = q.execute("quit", None);
    let status = guest.0.wait().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}

#[test]
fn values_qemu_cannot_use_are_refused_whole() {
    let Some(qemu) = qemu_or_skip("values_qemu_cannot_use_are_refused_whole") else {
        return;
    };
    // (devices, QEMU's diagnosis of the whole hostile value: not the echo of the option that
    // starts each of its error lines, but what it says it failed to use)
    let cases = [
        (
            "<graphics type='vnc' listen='127.0.0.1,to=99'/>",
            "address resolution failed for 127.0.0.1,to=99:5900",
        ),
        (
            "<interface type='mcast'><source address='239.0.0.1,fd=3' port='5558'/></interface>",
            "host address '239.0.0.1,fd=3' is not a valid IPv4 address",
        ),
        (
            "<serial type='tcp'><source mode='bind' host='127.0.0.1,server=off' service='4555'/></serial>",
            "address resolution failed for 127.0.0.1,server=off:4555",
        ),
    ];
    for (devices, whole) in cases {
        let dir = tempfile::Builder::new()
            .prefix("vkinj")
            .tempdir_in("/tmp")
            .unwrap();
        let (mut guest, log) = spawn(&domain("g", devices), dir.path(), &qemu);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = guest.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{devices}: QEMU still runs: the value was taken apart"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let err = std::fs::read_to_string(&log).unwrap();
        assert!(!status.success(), "{devices}: {status}");
        assert!(
            err.contains(whole),
            "{devices}: QEMU did not fail on the whole value ({whole:?}): {err}"
        );
    }
}
