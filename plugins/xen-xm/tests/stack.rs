//! The Xen stack of the xend member and the xm member against a `virtkit-xend-peer` (xend
//! config version 2: xend keeps no inactive domains, the case the xm member is for), through
//! the `virtkit` command, each step a separate process: define (an XM config) → start (xend
//! creates it from the config) → running, listed once → destroy → shut off again (the config)
//! → undefine (the file removed). Only those two members are installed (a driver directory of
//! their own); the test support builds them, the CLI and the peer.

use virtkit_test_support::xen;

#[test]
fn define_start_destroy_undefine_through_the_stack() {
    let tmp = tempfile::Builder::new().prefix("vkxs").tempdir().unwrap();
    let configs = tmp.path().join("xm");
    std::fs::create_dir(&configs).unwrap();
    let peer = xen::Peer::xend(&["--config-version", "2"]);
    let drivers = xen::members_dir(&["xend", "xm"]);
    let run = |args: &[&str]| -> String {
        let mut c = xen::virtkit(&drivers);
        c.arg("-c")
            .arg(peer.socket())
            .args(args)
            .env("VIRTKIT_XM_CONFIG_DIR", &configs);
        xen::succeeds(&mut c)
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
    let cfg_in = xen::corpus_dir("xmconfig").join("test-paravirt-net-e1000.cfg");
    let from = run(&["domxml-from-native", "xen-xm", cfg_in.to_str().unwrap()]);
    assert!(from.contains("<model type='e1000'/>"), "{from}");
    let sxpr = run(&["domxml-to-native", "xen-sxpr", xml.to_str().unwrap()]);
    assert!(sxpr.starts_with("(vm (name 'stackvm')"), "{sxpr}");
}
