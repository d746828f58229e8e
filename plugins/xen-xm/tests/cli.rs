//! The xm member through the `virtkit` command, each step a separate process, with the config
//! directory in a temporary folder (`xen:///?xm_config_dir=DIR`). The test support builds the
//! CLI and the plugins first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// libvirt's XM configs.
fn corpus() -> PathBuf {
    virtkit_test_support::xen::corpus_dir("xmconfig")
}

/// The build directory holding the plugins and the CLI, built from the current sources.
fn build_dir() -> PathBuf {
    virtkit_test_support::build_dir().to_path_buf()
}

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::Builder::new().prefix("vkxm").tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn uri(&self) -> String {
        format!("xen:///?xm_config_dir={}", self.path().display())
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let dir = build_dir();
        let mut c = Command::new(dir.join("virtkit"));
        c.arg("-c")
            .arg(self.uri())
            .args(args)
            .env("VIRTKIT_DRIVER_DIR", &dir)
            .env_remove("VIRTKIT_XM_CONFIG_DIR")
            .env_remove("LIBVIRT_XM_CONFIG_DIR");
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and returns stdout, failing on a non-zero exit.
    fn run(&self, args: &[&str]) -> String {
        let out = self.out(args);
        assert!(
            out.status.success(),
            "virtkit {} failed ({}):\n{}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs, expecting failure; returns stderr.
    fn fail(&self, args: &[&str]) -> String {
        let out = self.out(args);
        assert!(
            !out.status.success(),
            "virtkit {} succeeded:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn copy(&self, corpus_file: &str, name: &str) {
        std::fs::copy(corpus().join(corpus_file), self.path().join(name)).unwrap();
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn names(list: &str) -> Vec<String> {
    list.lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

fn line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} line in\n{text}"))
        .trim()
}

const PV_XML: &str = "<domain type='xen'><name>{NAME}</name><uuid>{UUID}</uuid>\
    <memory>524288</memory><currentMemory>262144</currentMemory><vcpu>2</vcpu>\
    <os><type>linux</type><kernel>/boot/vmlinuz-xen</kernel><initrd>/boot/initrd-xen</initrd>\
    <cmdline>console=hvc0</cmdline></os>\
    <devices><disk type='file' device='disk'><driver name='tap' type='aio'/>\
    <source file='/var/lib/xen/images/{NAME}.img'/><target dev='xvda' bus='xen'/></disk>\
    <interface type='bridge'><mac address='00:16:3e:00:00:01'/><source bridge='xenbr0'/></interface>\
    <graphics type='vnc' port='-1' autoport='yes'/></devices></domain>";

fn pv_xml(name: &str, uuid: &str) -> String {
    PV_XML.replace("{NAME}", name).replace("{UUID}", uuid)
}

#[test]
fn lists_configs_and_skips_what_is_not_one() {
    let d = Dir::new();
    d.copy("test-paravirt-net-e1000.cfg", "XenGuest1");
    d.copy("test-fullvirt-sound.cfg", "XenGuest2");
    d.write("broken", "name = \"broken\"\nmemory = [ 1,\n");
    d.write("xend-config.sxp", "(xend-http-server yes)\n");
    d.write("XenGuest1~", "name = \"backup\"\n");
    d.write("#XenGuest1#", "name = \"backup2\"\n");
    d.write("xmexample1", "name = \"example\"\n");
    d.write("network.sxp", "(x)\n");
    let script = d.write("vif-custom", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir(d.path().join("scripts")).unwrap();
    std::fs::create_dir(d.path().join("auto")).unwrap();

    let out = d.out(&["list", "--all"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(names(&stdout), ["XenGuest1", "XenGuest2"], "{stdout}");
    assert!(stdout.contains("shut off"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The broken config is reported once, with its file and line.
    let broken = d.path().join("broken").display().to_string();
    assert_eq!(stderr.matches(&broken).count(), 1, "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(!stderr.contains("xend-config"), "{stderr}");

    assert_eq!(
        d.run(&["list", "--name", "--inactive"]).trim(),
        "XenGuest1\nXenGuest2"
    );
    let info = d.run(&["dominfo", "XenGuest2"]);
    assert_eq!(line(&info, "State:"), "shut off");
    assert_eq!(line(&info, "Max memory:"), "592896 KiB");
    assert_eq!(line(&info, "OS Type:"), "hvm");
    let by_uuid = d.run(&["domname", "c7a5fdb0-cdaf-9455-926a-d65c16db1809"]);
    assert_eq!(by_uuid.trim(), "XenGuest1");
    let xml = d.run(&["dumpxml", "XenGuest1"]);
    assert!(xml.contains("<model type='e1000'/>"), "{xml}");
    assert!(
        !xml.contains("123poi"),
        "the VNC password is shown only with --security-info"
    );
    assert!(
        d.run(&["dumpxml", "--security-info", "XenGuest1"])
            .contains("passwd='123poi'")
    );
    let err = d.fail(&["dominfo", "nosuch"]);
    assert!(err.contains("failed to get domain 'nosuch'"), "{err}");
}

#[test]
fn a_missing_directory_holds_no_domains_and_conversions_still_work() {
    let d = Dir::new();
    let gone = d.path().join("no-such-dir");
    let uri = format!("xen:///?xm_config_dir={}", gone.display());
    let dir = build_dir();
    let run = |args: &[&str]| {
        let out = Command::new(dir.join("virtkit"))
            .arg("-c")
            .arg(&uri)
            .args(args)
            .env("VIRTKIT_DRIVER_DIR", &dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(names(&run(&["list", "--all"])).is_empty());
    let cfg = corpus().join("test-fullvirt-serial-tcp.cfg");
    let xml = run(&["domxml-from-native", "xen-xm", cfg.to_str().unwrap()]);
    assert!(xml.contains("<serial type='tcp'>"), "{xml}");
    let xml_file = d.write("g.xml", &xml);
    let back = run(&["domxml-to-native", "xen-xm", xml_file.to_str().unwrap()]);
    assert!(back.contains("serial = \"tcp:127.0.0.1:7777\""), "{back}");
    assert!(back.contains("builder = \"hvm\""), "{back}");
    // xen-sxpr too, on the same connection.
    let sxpr = run(&["domxml-to-native", "xen-sxpr", xml_file.to_str().unwrap()]);
    assert!(sxpr.starts_with("(vm (name 'XenGuest2')"), "{sxpr}");
    assert!(!gone.exists(), "a conversion created the config directory");
}

#[test]
fn conversions_follow_the_config_version() {
    let d = Dir::new();
    let xml = d.write(
        "pv.xml",
        &pv_xml("pvguest", "11111111-2222-3333-4444-555555555555"),
    );
    let dir = build_dir();
    let to_native = |version: u32| {
        let out = Command::new(dir.join("virtkit"))
            .arg("-c")
            .arg(format!(
                "xen:///?xm_config_dir={}&xend_config_format={version}",
                d.path().display()
            ))
            .args(["domxml-to-native", "xen-xm", xml.to_str().unwrap()])
            .env("VIRTKIT_DRIVER_DIR", &dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let v2 = to_native(2);
    assert!(v2.contains("vnc = 1\n") && !v2.contains("vfb"), "{v2}");
    let v3 = to_native(3);
    assert!(v3.contains("vfb = [ \"type=vnc,vncunused=1\" ]"), "{v3}");
    let bad = d.write("bad.cfg", "name = \"x\"\nuuid = \"nope\"\n");
    let err = d.fail(&["domxml-from-native", "xen-xm", bad.to_str().unwrap()]);
    assert!(err.contains("uuid"), "{err}");
    let err = d.fail(&["domxml-from-native", "xen-foo", bad.to_str().unwrap()]);
    assert!(err.contains("xen-foo"), "{err}");
}

#[test]
fn define_edit_autostart_undefine() {
    let d = Dir::new();
    let uuid = "5f1d9a3e-8a3c-4a57-9c3e-2b6c1e0d9f11";
    let xml = d.write("g.xml", &pv_xml("webvm", uuid));
    d.run(&["define", xml.to_str().unwrap()]);
    let cfg = d.path().join("webvm");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.starts_with("name = \"webvm\"\n"), "{text}");
    assert!(
        text.contains("disk = [ \"tap:aio:/var/lib/xen/images/webvm.img,xvda,w\" ]"),
        "{text}"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cfg).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(names(&d.run(&["list", "--all"])), ["webvm"]);

    // Redefining with the same UUID replaces it; another UUID under the name is refused; the
    // same UUID under another name too.
    d.run(&["define", xml.to_str().unwrap()]);
    let other = d.write(
        "o.xml",
        &pv_xml("webvm", "00000000-0000-0000-0000-0000000000aa"),
    );
    let err = d.fail(&["define", other.to_str().unwrap()]);
    assert!(err.contains("already exists with uuid"), "{err}");
    let renamed = d.write("r.xml", &pv_xml("webvm2", uuid));
    let err = d.fail(&["define", renamed.to_str().unwrap()]);
    assert!(err.contains("already defined with uuid"), "{err}");
    assert!(!d.path().join("webvm2").exists());

    // An admin's comment survives setmem / setmaxmem / setvcpus, which edit the file in place.
    let with_comment = format!("# kept by hand\n{}", std::fs::read_to_string(&cfg).unwrap());
    std::fs::write(&cfg, with_comment).unwrap();
    d.run(&["setmaxmem", "webvm", "1048576"]);
    d.run(&["setmem", "webvm", "786432"]);
    d.run(&["setvcpus", "webvm", "4"]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.starts_with("# kept by hand\n"), "{text}");
    assert!(
        text.contains("maxmem = 1024\n") && text.contains("memory = 768\n"),
        "{text}"
    );
    assert!(text.contains("vcpus = 4\n"), "{text}");
    let info = d.run(&["dominfo", "webvm"]);
    assert_eq!(line(&info, "Used memory:"), "786432 KiB");
    assert_eq!(line(&info, "CPU(s):"), "4");
    let err = d.fail(&["setmem", "webvm", "4194304"]);
    assert!(err.contains("higher than the maximum"), "{err}");

    // An edit by hand is seen by the next call.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("memory = 768", "memory = 700");
    std::fs::write(&cfg, text).unwrap();
    assert_eq!(
        line(&d.run(&["dominfo", "webvm"]), "Used memory:"),
        "716800 KiB"
    );

    d.run(&["autostart", "webvm"]);
    let link = d.path().join("auto/webvm");
    assert_eq!(std::fs::read_link(&link).unwrap(), cfg);
    assert_eq!(line(&d.run(&["dominfo", "webvm"]), "Autostart:"), "enable");
    d.run(&["autostart", "--disable", "webvm"]);
    assert!(link.symlink_metadata().is_err());
    d.run(&["autostart", "webvm"]);

    d.run(&["undefine", "webvm"]);
    assert!(!cfg.exists() && link.symlink_metadata().is_err());
    assert!(names(&d.run(&["list", "--all"])).is_empty());
}

#[test]
fn names_that_would_escape_are_refused_before_any_file_is_touched() {
    let d = Dir::new();
    let before = d.files();
    for (i, bad) in [
        "../escape",
        "a/b",
        ".hidden",
        "..",
        "xend-config.sxp",
        "guest~",
    ]
    .iter()
    .enumerate()
    {
        let name = bad.replace('&', "&amp;");
        let xml = d.write(
            &format!("x{i}.xml"),
            &pv_xml(&name, "6f1d9a3e-8a3c-4a57-9c3e-2b6c1e0d9f11"),
        );
        let out = d.out(&["define", xml.to_str().unwrap()]);
        assert!(!out.status.success(), "{bad}: {out:?}");
    }
    let after: Vec<String> = d
        .files()
        .into_iter()
        .filter(|f| !f.ends_with(".xml"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|f| !f.ends_with(".xml"))
        .collect();
    assert_eq!(before, after);
    assert!(!d.path().parent().unwrap().join("escape").exists());
}

#[test]
fn kill_during_define_never_leaves_a_truncated_config() {
    let d = Dir::new();
    // A config large enough that writing it takes a while: many disks.
    let mut disks = String::new();
    for i in 0..1200 {
        disks.push_str(&format!(
            "<disk type='file' device='disk'><source file='/images/disk-{i:05}-{}.img'/>\
             <target dev='xvd{}' bus='xen'/></disk>",
            "x".repeat(40),
            letters(i)
        ));
    }
    let xml = format!(
        "<domain type='xen'><name>big</name><uuid>7f1d9a3e-8a3c-4a57-9c3e-2b6c1e0d9f11</uuid>\
         <memory>262144</memory><vcpu>1</vcpu><os><type>linux</type><kernel>/k</kernel></os>\
         <devices>{disks}</devices></domain>"
    );
    let xml_file = d.write("big.xml", &xml);
    let cfg = d.path().join("big");
    // One define to completion, timed: the kills below land all along that span.
    let start = std::time::Instant::now();
    d.run(&["define", xml_file.to_str().unwrap()]);
    let span = start.elapsed();
    let check = |round: u32| {
        let text = std::fs::read_to_string(&cfg).unwrap();
        let conf = virtkit_conf::Conf::parse(&text)
            .unwrap_or_else(|e| panic!("round {round}: truncated config: {e}"));
        let def = virtkit_xen::xm_to_domain(&conf, 4, None).unwrap();
        assert_eq!(def.devices.disks.len(), 1200, "round {round}");
    };
    check(0);
    let rounds = 20u32;
    let mut killed = 0;
    let mut replaced = 0;
    for round in 1..=rounds {
        // Half the rounds redefine over the existing config, half define it anew.
        if round % 2 == 0 && cfg.exists() {
            std::fs::remove_file(&cfg).unwrap();
        }
        let had_config = cfg.exists();
        let mut child = d
            .cmd(&["define", xml_file.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(span * round / rounds);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        if !child.wait().unwrap().success() {
            killed += 1;
        }
        // The config is either absent (a new define killed early) or complete.
        if cfg.exists() {
            check(round);
            replaced += u32::from(!had_config);
        } else {
            assert!(!had_config, "round {round}: a kill removed the old config");
        }
        // Whatever happened, the directory still lists (a temp file left behind is hidden).
        let list = d.run(&["list", "--all"]);
        assert!(names(&list).iter().all(|n| n == "big"), "{list}");
    }
    eprintln!(
        "kill -9 during define: {killed} of {rounds} runs killed (one define takes {span:?}), {replaced} new configs written; no truncated config"
    );
}

/// `a`, `b`, … `z`, `aa`, … (virDiskNameToIndex's inverse).
fn letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}
