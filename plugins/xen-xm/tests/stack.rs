//! The Xen stack of the xend member and the xm member against a `virtkit-xend-peer` (xend
//! config version 2: xend keeps no inactive domains, the case the xm member is for), through
//! the `virtkit` command, each step a separate process: define (an XM config) → start (xend
//! creates it from the config) → running, listed once → destroy → shut off again (the config)
//! → undefine (the file removed). Needs the workspace built (`cargo xtask build-plugins`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    for f in [
        "libvirtkit_driver_xen_xm.so",
        "libvirtkit_driver_xen_xend.so",
        "virtkit",
        "virtkit-xend-peer",
    ] {
        assert!(
            dir.join(f).exists(),
            "{} is missing: run `cargo xtask build-plugins` first",
            dir.join(f).display()
        );
    }
    dir
}

/// The peer, killed and reaped on drop.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_peer(dir: &Path, socket: &Path) -> Peer {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sexpr2xml");
    let child = Command::new(dir.join("virtkit-xend-peer"))
        .arg("--socket")
        .arg(socket)
        .args(["--config-version", "2", "--seed"])
        .arg(corpus)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = Peer(child);
    for _ in 0..500 {
        if socket.exists() {
            return peer;
        }
        if let Ok(Some(s)) = peer.0.try_wait() {
            panic!("virtkit-xend-peer exited with {s}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("virtkit-xend-peer does not listen on {}", socket.display());
}

#[test]
fn define_start_destroy_undefine_through_the_stack() {
    let dir = build_dir();
    let tmp = tempfile::Builder::new().prefix("vkxs").tempdir().unwrap();
    let socket = tmp.path().join("xend-socket");
    let configs = tmp.path().join("xm");
    std::fs::create_dir(&configs).unwrap();
    let _peer = start_peer(&dir, &socket);
    let run = |args: &[&str]| -> String {
        let out = Command::new(dir.join("virtkit"))
            .arg("-c")
            .arg(&socket)
            .args(args)
            .env("VIRTKIT_DRIVER_DIR", &dir)
            .env("VIRTKIT_XM_CONFIG_DIR", &configs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "virtkit {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rows = |list: &str| -> Vec<String> {
        list.lines()
            .filter(|l| l.contains("stackvm"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let xml = tmp.path().join("g.xml");
    std::fs::write(
        &xml,
        "<domain type='xen'><name>stackvm</name><uuid>5f1d9a3e-8a3c-4a57-9c3e-2b6c1e0d9f42</uuid>\
         <memory>262144</memory><vcpu>1</vcpu>\
         <os><type>linux</type><kernel>/boot/vmlinuz-xen</kernel></os></domain>",
    )
    .unwrap();

    // Both members serve the connection.
    let drivers = run(&["drivers"]);
    assert!(
        drivers.contains("xen-xm") && drivers.contains("xen-xend"),
        "{drivers}"
    );

    run(&["define", xml.to_str().unwrap()]);
    let cfg = configs.join("stackvm");
    assert!(
        cfg.exists(),
        "xend (config version 2) keeps no inactive domains: xm has it"
    );
    assert_eq!(rows(&run(&["list", "--all"])), ["- stackvm shut off"]);

    run(&["start", "stackvm"]);
    let list = run(&["list", "--all"]);
    let r = rows(&list);
    assert_eq!(r.len(), 1, "a running domain is listed once:\n{list}");
    assert!(
        r[0].ends_with("stackvm running") && !r[0].starts_with('-'),
        "{list}"
    );
    let info = run(&["dominfo", "stackvm"]);
    assert!(info.contains("running"), "{info}");

    run(&["destroy", "stackvm"]);
    assert_eq!(rows(&run(&["list", "--all"])), ["- stackvm shut off"]);
    assert!(cfg.exists(), "the config outlives the run");

    run(&["undefine", "stackvm"]);
    assert!(!cfg.exists());
    assert!(rows(&run(&["list", "--all"])).is_empty());

    // The conversions are served on the stack too: xen-xm by the xm member (the xend member
    // passes it on), xen-sxpr by the xend member.
    let cfg_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/xmconfig/test-paravirt-net-e1000.cfg");
    let from = run(&["domxml-from-native", "xen-xm", cfg_in.to_str().unwrap()]);
    assert!(from.contains("<model type='e1000'/>"), "{from}");
    let sxpr = run(&["domxml-to-native", "xen-sxpr", xml.to_str().unwrap()]);
    assert!(sxpr.starts_with("(vm (name 'stackvm')"), "{sxpr}");
}
