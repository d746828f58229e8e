//! The lifecycle of a real QEMU guest through the `virtkit` command (virsh's commands), each step
//! a separate process: define, start, list, dominfo, suspend, resume, dumpxml, destroy,
//! undefine. Needs the CLI built beside the plugin (`cargo xtask build-plugins`).

mod common;

use std::time::Duration;

use common::{Sandbox, alive, have_qemu, virtkit, wait_gone};

/// Runs `virtkit -c URI ARGS` and returns its stdout, failing on a non-zero exit.
fn run(sb: &Sandbox, args: &[&str]) -> String {
    let out = virtkit(&sb.uri(), args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "virtkit {} failed ({}):\n{stdout}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn state_line(dominfo: &str) -> String {
    dominfo
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or_else(|| panic!("no State: line in\n{dominfo}"))
        .trim()
        .to_string()
}

#[test]
fn the_lifecycle_through_the_cli() {
    if !have_qemu() {
        return;
    }
    let sb = Sandbox::new();
    let xml = sb.dir.path().join("guest.xml");
    std::fs::write(&xml, common::guest_xml("clivm")).unwrap();
    run(&sb, &["define", xml.to_str().unwrap()]);
    assert!(run(&sb, &["list", "--all"]).contains("clivm"));
    run(&sb, &["start", "clivm"]);
    let list = run(&sb, &["list"]);
    let row = list
        .lines()
        .find(|l| l.contains("clivm"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("running"), "{list}");
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "running");
    run(&sb, &["suspend", "clivm"]);
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "paused");
    run(&sb, &["resume", "clivm"]);
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "running");
    let dump = run(&sb, &["dumpxml", "clivm"]);
    assert!(dump.starts_with("<domain type='qemu' id='"), "{dump}");
    let pid = sb.pid("clivm").unwrap();
    assert!(alive(pid));
    run(&sb, &["destroy", "clivm"]);
    assert!(wait_gone(pid, Duration::from_secs(1)), "QEMU is gone");
    assert!(
        !sb.run_dir().join("clivm.qmp").exists(),
        "the socket is gone"
    );
    assert_eq!(state_line(&run(&sb, &["dominfo", "clivm"])), "shut off");
    run(&sb, &["undefine", "clivm"]);
    assert!(!run(&sb, &["list", "--all"]).contains("clivm"));
}

/// What a user looks up about a running guest, each answer checked against the guest itself:
/// the VNC display QEMU chose (a VNC server answers there), the pty of the console (a terminal
/// device), the disks and interfaces.
#[test]
fn displays_consoles_and_devices_of_a_running_guest() {
    if !have_qemu() {
        return;
    }
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let sb = Sandbox::new();
    let disk = sb.dir.path().join("disk.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let xml = sb.dir.path().join("guest.xml");
    std::fs::write(
        &xml,
        common::guest_xml("looks").replace(
            "</os>",
            &format!(
                "</os><devices>\
                 <disk type='file' device='disk'><source file='{}'/><target dev='vda' bus='virtio'/></disk>\
                 <interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>\
                 <serial type='pty'/><console type='pty'/>\
                 <graphics type='vnc' port='-1' listen='127.0.0.1'/>\
                 </devices>",
                disk.display()
            ),
        ),
    )
    .unwrap();
    run(&sb, &["define", xml.to_str().unwrap()]);
    // Not running yet: virsh's answer.
    let out = virtkit(&sb.uri(), &["vncdisplay", "looks"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: Domain is not running\n"
    );
    run(&sb, &["start", "looks"]);

    let display = run(&sb, &["vncdisplay", "looks"]);
    let n: u16 = display
        .trim_end()
        .strip_prefix("127.0.0.1:")
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("vncdisplay printed {display:?}"));
    let mut banner = [0u8; 4];
    std::net::TcpStream::connect(("127.0.0.1", 5900 + n))
        .and_then(|mut s| s.read_exact(&mut banner))
        .unwrap_or_else(|e| panic!("no VNC server on port {}: {e}", 5900 + n));
    assert_eq!(&banner, b"RFB ");
    assert_eq!(
        run(&sb, &["-q", "domdisplay", "looks"]),
        format!("vnc://127.0.0.1:{n}")
    );

    let tty = run(&sb, &["ttyconsole", "looks"]);
    let tty = tty.trim_end();
    assert!(tty.starts_with("/dev/pts/"), "{tty}");
    assert!(
        std::fs::metadata(tty).unwrap().file_type().is_char_device(),
        "{tty}"
    );

    let blk = run(&sb, &["-q", "domblklist", "--details", "looks"]);
    let disk_path = disk.display().to_string();
    let row: Vec<&str> = blk.split_whitespace().collect();
    assert_eq!(row, ["file", "disk", "vda", disk_path.as_str()], "{blk}");
    let nics = run(&sb, &["-q", "domiflist", "looks"]);
    let row: Vec<&str> = nics.split_whitespace().collect();
    assert_eq!(
        row,
        ["-", "user", "-", "virtio", "52:54:00:aa:bb:01"],
        "{nics}"
    );
    run(&sb, &["destroy", "looks"]);
    run(&sb, &["undefine", "looks"]);
}
