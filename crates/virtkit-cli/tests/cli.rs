//! The CLI's own behaviour, with the test driver loaded from its plugin file: what is not a
//! comparison with virsh (see `virsh_compat.rs`) or where the two test drivers word things
//! differently.

mod common;

use std::path::Path;

use common::*;

const URI: &str = "test:///default";

#[test]
fn the_plugin_file_serves_the_run() {
    let r = virtkit(&["-c", URI, "drivers"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let so = plugin_dir().join("libvirtkit_driver_test.so");
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with(" test "))
        .unwrap_or_else(|| panic!("no test driver row:\n{}", r.stdout));
    assert!(
        row.ends_with(so.to_str().unwrap()),
        "the test driver did not come from {}:\n{}",
        so.display(),
        r.stdout
    );
    assert!(!r.stdout.contains("(built in)"), "{}", r.stdout);
    // The columns are as wide as the longest driver name of the build tree.
    assert_eq!(
        r.stdout
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["Name", "Version", "ABI", "Schemes", "Operations", "Origin"],
        "{}",
        r.stdout
    );
    // -q drops the header.
    let q = virtkit(&["-q", "drivers"]);
    assert!(
        q.stdout.lines().any(|l| l.starts_with(" test ")),
        "{}",
        q.stdout
    );
}

#[test]
fn the_built_in_driver_serves_when_no_plugin_is_found() {
    let empty = tempfile::tempdir().unwrap();
    let r = virtkit_with(
        &["-c", URI, "drivers; list"],
        None,
        &[("VIRTKIT_DRIVER_DIR", empty.path().to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(built in)"), "{}", r.stdout);
    assert!(r.stdout.contains(" 1    test   running\n"), "{}", r.stdout);
}

#[test]
fn chained_commands_keep_state_and_report_the_last_status() {
    let r = virtkit(&[
        "-c",
        URI,
        "suspend test; domstate test; resume test; domstate test",
    ]);
    assert_eq!(
        r.stdout,
        "Domain 'test' suspended\n\npaused\n\nDomain 'test' resumed\n\nrunning\n\n"
    );
    assert_eq!((r.stderr.as_str(), r.code), ("", 0));
    let r = virtkit(&["-c", URI, "suspend test; suspend test; domstate test"]);
    assert_eq!(r.stdout, "Domain 'test' suspended\n\n\npaused\n\n");
    assert!(
        r.stderr
            .starts_with("error: Failed to suspend domain 'test'\nerror: "),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 0, "the last command succeeded");
    let r = virtkit(&["-c", URI, "domstate test; suspend nosuch"]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("error: failed to get domain 'nosuch'\n", 1)
    );
}

#[test]
fn multi_word_argv_is_one_command() {
    let r = virtkit(&["-c", URI, "list", "--all"]);
    assert_eq!(
        r.stdout,
        " Id   Name   State\n----------------------\n 1    test   running\n\n"
    );
    let r = virtkit(&["-c", URI, "domstate", "test;", "domstate"]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("error: unexpected data 'domstate'\n", 1)
    );
}

#[test]
fn read_only_connections_refuse_changes() {
    let r = virtkit(&[
        "-r",
        "-c",
        URI,
        "suspend test; setmem test 1024; domstate test",
    ]);
    assert_eq!(
        r.stderr,
        "error: Failed to suspend domain 'test'\n\
         error: operation forbidden: read only access prevents virDomainSuspend\n\
         error: operation forbidden: read only access prevents virDomainSetMemory\n"
    );
    assert_eq!((r.stdout.as_str(), r.code), ("\n\nrunning\n\n", 0));
    let r = virtkit(&["--readonly", "-c", URI, "destroy test"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .ends_with("read only access prevents virDomainDestroy\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn exit_status_and_error_shapes() {
    let r = virtkit(&["-c", URI, "bogus"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("", "error: unknown command: 'bogus'\n", 1)
    );
    let r = virtkit(&["-c", URI, "dominfo"]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("error: command 'dominfo' requires <domain> option\n", 1)
    );
    let r = virtkit(&["-c", URI, "dominfo nosuch"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("\n", "error: failed to get domain 'nosuch'\n", 1)
    );
    let r = virtkit(&["-c", "nosuch:///x", "list"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: failed to connect to the hypervisor\nerror: "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("libvirtkit_driver_nosuch.so"),
        "{}",
        r.stderr
    );
    let r = virtkit(&["--bogus-option"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn bad_files_give_clear_errors() {
    let r = virtkit(&["-c", URI, "define /nonexistent"]);
    assert_eq!(
        r.stderr,
        "error: Failed to open file '/nonexistent': No such file or directory\n"
    );
    assert_eq!(r.code, 1);
    let dir = tempfile::tempdir().unwrap();
    let junk = write_file(dir.path(), "junk.xml", "this is not XML\n");
    let r = virtkit(&["-c", URI, &format!("define {junk}")]);
    assert!(
        r.stderr.starts_with(&format!(
            "error: Failed to define domain from {junk}\nerror: "
        )),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 1);
    let r = virtkit(&["-c", URI, &format!("define {}", dir.path().display())]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: Failed to read file"),
        "{}",
        r.stderr
    );
    let r = virtkit(&["-c", URI, "restore /nonexistent/image"]);
    assert!(
        r.stderr
            .starts_with("error: Failed to restore domain from /nonexistent/image\nerror: "),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn lifecycle_on_a_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(dir.path(), "vm1.xml", DOMAIN_XML);
    let r = virtkit(&[
        "-c",
        URI,
        &format!(
            "define {f}; domstate vm1; start vm1; domid vm1; destroy vm1; domstate vm1; undefine vm1; list --all"
        ),
    ]);
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        format!(
            "Domain 'vm1' defined from {f}\n\nshut off\n\nDomain 'vm1' started\n\n2\n\nDomain 'vm1' destroyed\n\n\
             shut off\n\nDomain 'vm1' has been undefined\n\n Id   Name   State\n----------------------\n 1    test   running\n\n"
        )
    );
    let r = virtkit(&["-c", URI, &format!("define {f}; dumpxml vm1")]);
    assert!(
        r.stdout.contains("<name>vm1</name>")
            && r.stdout.contains("11111111-2222-3333-4444-555555555555"),
        "{}",
        r.stdout
    );
}

#[test]
fn dumpxml_gives_back_the_defined_domain() {
    // A domain from the shared corpus (libvirt's own test data), defined, started and dumped
    // through the CLI: the two documents are the same domain as models, whatever the formatting,
    // except for what libvirt's test driver also changes: a new definition keeps no runtime
    // data (the console's pty path) and its unnamed interface is named testnet0; the running
    // domain has an id.
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/testdriver/testdomfc4.xml");
    let text = std::fs::read_to_string(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Renamed (and given another UUID) so as not to clash with anything the node already has.
    let xml = text
        .replace("<name>fc4</name>", "<name>fc4-copy</name>")
        .replace(
            "EF86180145B911CB88E3AFBFE5370493",
            "EF86180145B911CB88E3AFBFE5370494",
        );
    let f = dir.path().join("fc4.xml");
    std::fs::write(&f, &xml).unwrap();
    let r = virtkit(&[
        "-q",
        "-c",
        URI,
        &format!("define {}; start fc4-copy; dumpxml fc4-copy", f.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dumped = &r.stdout[r.stdout.find("<domain").expect("dumpxml printed a domain")..];
    let source = virtkit_xml::DomainDef::parse(&xml).unwrap();
    let mut running = virtkit_xml::DomainDef::parse(dumped).unwrap();
    assert!(running.id.is_some(), "{dumped}");
    running.id = None;
    let nic = &mut running.devices.interfaces[0];
    assert_eq!(nic.target_dev.as_deref(), Some("testnet0"), "{dumped}");
    nic.target_dev = source.devices.interfaces[0].target_dev.clone();
    let console = &mut running.devices.consoles[0];
    assert_eq!(
        console.source,
        virtkit_xml::ChardevSource::Pty { path: None },
        "{dumped}"
    );
    console.source = source.devices.consoles[0].source.clone();
    let dumped = running.to_xml(&virtkit_xml::FormatOptions::default());
    assert!(
        virtkit_xml::equivalent_domains(&xml, &dumped).unwrap(),
        "{}",
        virtkit_xml::model_difference(&source, &running).unwrap_or_default()
    );
}

#[test]
fn vcpupin_and_vcpuinfo() {
    let r = virtkit(&[
        "-c",
        URI,
        "vcpupin test 0 1-3; vcpupin test; vcpupin test --vcpu 0; vcpuinfo test --pretty",
    ]);
    assert_eq!(r.stderr, "");
    assert!(
        r.stdout.starts_with(
            "\n VCPU   CPU Affinity\n----------------------\n 0      1-3\n 1      0-15\n\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("CPU Affinity:   1-3 (out of 16)\n"),
        "{}",
        r.stdout
    );
    let r = virtkit(&["-c", URI, "vcpupin test 0 abc"]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("error: Invalid cpulist 'abc'\n", 1)
    );
}

#[test]
fn network_commands() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(dir.path(), "net1.xml", NETWORK_XML);
    let r = virtkit(&[
        "-c",
        URI,
        &format!(
            "net-define {f}; net-start net1; net-uuid net1; net-name aaaaaaaa-2222-3333-4444-555555555555; net-dumpxml net1"
        ),
    ]);
    assert_eq!(r.stderr, "");
    assert!(r.stdout.starts_with(&format!(
        "Network net1 defined from {f}\n\nNetwork net1 started\n\naaaaaaaa-2222-3333-4444-555555555555\n\nnet1\n\n<network"
    )));
    // A transient network is told from a persistent one.
    let r = virtkit(&["-q", "-c", URI, &format!("net-create {f}; net-list")]);
    assert_eq!(
        r.stdout,
        " default   active   no   yes\n net1      active   no   no\n"
    );
    // Read-only connections read persistence through virNetworkIsPersistent, as virsh does.
    let r = virtkit(&["-q", "-r", "-c", URI, "net-info default"]);
    assert!(r.stdout.contains("Persistent:     yes\n"), "{}", r.stdout);
}

#[test]
fn native_conversions_report_the_driver_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(dir.path(), "vm1.xml", DOMAIN_XML);
    let r = virtkit(&["-c", URI, &format!("domxml-from-native xen-xm {f}")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: this function is not supported by the connection driver: virConnectDomainXMLFromNative"), "{}", r.stderr);
    let r = virtkit(&[
        "-c",
        URI,
        &format!("domxml-to-native xen-xm {f}; domxml-to-native xen-xm --domain test"),
    ]);
    assert_eq!(
        r.stderr.matches("virConnectDomainXMLToNative").count(),
        2,
        "{}",
        r.stderr
    );
    let r = virtkit(&["-c", URI, "domxml-to-native xen-xm"]);
    assert_eq!(
        r.stderr,
        "error: Either --domain or --xml must be specified\n"
    );
}

#[test]
fn help_lists_every_command_and_explains_one() {
    let r = virtkit(&["help"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .starts_with("Grouped commands:\n\n Domain Management (help keyword 'domain'):\n"),
        "{}",
        r.stdout
    );
    for cmd in [
        "list",
        "dominfo",
        "domstate",
        "domid",
        "domname",
        "domuuid",
        "dumpxml",
        "define",
        "undefine",
        "create",
        "start",
        "shutdown",
        "reboot",
        "destroy",
        "suspend",
        "resume",
        "capabilities",
        "nodeinfo",
        "version",
        "hostname",
        "uri",
        "drivers",
        "save",
        "restore",
        "dump",
        "setmem",
        "setmaxmem",
        "setvcpus",
        "vcpuinfo",
        "vcpupin",
        "autostart",
        "attach-device",
        "detach-device",
        "domxml-from-native",
        "domxml-to-native",
        "net-list",
        "net-define",
        "net-undefine",
        "net-start",
        "net-destroy",
        "net-dumpxml",
        "net-autostart",
        "net-name",
        "net-uuid",
        "net-create",
        "net-info",
        "connect",
        "help",
        "quit",
        "exit",
    ] {
        assert!(
            r.stdout.contains(&format!("\n    {cmd:<30} ")),
            "help does not list {cmd}"
        );
    }
    assert!(!r.stdout.contains("_gen-docs"));
    let r = virtkit(&["help", "network"]);
    assert!(
        r.stdout
            .starts_with(" Networking (help keyword 'network'):\n    net-autostart "),
        "{}",
        r.stdout
    );
    let r = virtkit(&["-h"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("-c, --connect <URI>") && r.stdout.contains("Domain Monitoring"),
        "{}",
        r.stdout
    );
}

#[test]
fn versions() {
    let r = virtkit(&["-v"]);
    assert_eq!((r.stdout.as_str(), r.code), ("0.1.0\n", 0));
    let r = virtkit(&["-V"]);
    assert!(
        r.stdout
            .starts_with("Virtkit command line tool of virtkit 0.1.0\n")
            && r.stdout.contains("test"),
        "{}",
        r.stdout
    );
    let r = virtkit(&["-c", URI, "version"]);
    assert_eq!(
        r.stdout,
        "Compiled against library: virtkit 0.1.0\nUsing library: virtkit 0.1.0\nUsing API: TEST 0.1.0\n\
         Running hypervisor: TEST 0.0.2\n\n"
    );
}

#[test]
fn quiet_mode() {
    let r = virtkit(&[
        "-q",
        "-c",
        URI,
        "list --all; suspend test; domstate test; nodeinfo",
    ]);
    assert!(
        r.stdout
            .starts_with(" 1   test   running\npaused\nCPU model:"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("\n\n"));
}

#[test]
fn default_uri_order() {
    // VIRTKIT_DEFAULT_URI, then LIBVIRT_DEFAULT_URI, when neither -c nor VIRSH_DEFAULT_CONNECT_URI is given.
    let r = virtkit_with(
        &["uri"],
        None,
        &[("LIBVIRT_DEFAULT_URI", "test:///default")],
    );
    assert_eq!(r.stdout, "test:///default\n\n");
    let r = virtkit_with(
        &["uri"],
        None,
        &[
            ("VIRTKIT_DEFAULT_URI", "test:///default"),
            ("LIBVIRT_DEFAULT_URI", "nosuch:///"),
        ],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("test:///default\n\n", 0),
        "{}",
        r.stderr
    );
    let r = virtkit_with(
        &["uri"],
        None,
        &[
            ("VIRSH_DEFAULT_CONNECT_URI", "test:///default"),
            ("VIRTKIT_DEFAULT_URI", "nosuch:///"),
        ],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("test:///default\n\n", 0),
        "{}",
        r.stderr
    );
    let r = virtkit_with(
        &["-c", "test:///default", "uri"],
        None,
        &[("VIRSH_DEFAULT_CONNECT_URI", "nosuch:///")],
    );
    assert_eq!(r.stdout, "test:///default\n\n");
    // Without -c, a command that needs no connection works even when the default cannot be opened.
    let r = virtkit_with(
        &["help quit; uri"],
        None,
        &[("VIRTKIT_DEFAULT_URI", "nosuch:///")],
    );
    assert!(r.stdout.starts_with("  NAME\n    quit"), "{}", r.stdout);
    assert!(
        r.stderr
            .starts_with("error: failed to connect to the hypervisor\n"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 1);
}

#[test]
fn interactive_shell_from_stdin() {
    let r = virtkit_with(
        &["-c", URI],
        Some("suspend test\ndomstate test\nconnect --readonly\nresume test\nexit\nlist\n"),
        &[],
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .starts_with("Welcome to virtkit, the virtualization interactive terminal.\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "virtkit # suspend test\nDomain 'test' suspended\n\nvirtkit # domstate test\npaused\n\n"
        ),
        "{}",
        r.stdout
    );
    // After connect --readonly the prompt says so.
    assert!(
        r.stdout.contains(
            "virtkit # connect --readonly\n\nvirtkit > resume test\n\nvirtkit > exit\n\n"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("virtkit > list"), "exit ends the shell");
    assert!(
        r.stderr
            .contains("read only access prevents virDomainResume"),
        "{}",
        r.stderr
    );
}

#[test]
fn capabilities_hostname_uri() {
    let r = virtkit(&["-c", URI, "capabilities; hostname; uri"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("<capabilities>"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("\n\ntest:///default\n\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn drivers_reports_refused_plugin_files() {
    let dir = tempfile::tempdir().unwrap();
    let so = plugin_dir().join("libvirtkit_driver_test.so");
    std::fs::copy(&so, dir.path().join("libvirtkit_driver_test.so")).unwrap();
    let junk = write_file(dir.path(), "libvirtkit_driver_junk.so", "not a library\n");
    let r = virtkit_with(
        &["drivers"],
        None,
        &[("VIRTKIT_DRIVER_DIR", dir.path().to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\nRefused plugin files:\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!(" {junk}: ")), "{}", r.stdout);
    // The refused file does not stop the good one from serving.
    let r = virtkit_with(
        &["-c", URI, "domstate test"],
        None,
        &[("VIRTKIT_DRIVER_DIR", dir.path().to_str().unwrap())],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("running\n\n", 0),
        "{}",
        r.stderr
    );
}

/// Counts and sizes from the command line are range-checked where they enter the API, before
/// any driver allocates by them: `setvcpus test 2147483648` passed the test driver's check
/// through a cast to i32, and the next `vcpuinfo` aborted on a 96 GiB allocation.
#[test]
fn untrusted_numbers_are_refused_where_they_enter() {
    for (command, want) in [
        (
            "setvcpus test 2147483648",
            "error: invalid argument: vCPU count 2147483648 is out of range: at most 65535\n",
        ),
        (
            "setvcpus test 4294967295",
            "error: invalid argument: vCPU count 4294967295 is out of range: at most 65535\n",
        ),
        (
            "setvcpus test 65535",
            "error: invalid argument: requested vcpus 65535 is greater than the maximum 32\n",
        ),
    ] {
        let r = virtkit(&["-c", URI, &format!("{command}; vcpuinfo test")]);
        assert!(r.stderr.starts_with(want), "{command}: {}", r.stderr);
        assert_eq!(
            r.stdout.matches("VCPU:").count(),
            2,
            "{command}: the domain keeps its 2 vCPUs: {}",
            r.stdout
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for (vcpu, want) in [
        (
            "<vcpu>4294967295</vcpu>",
            "<vcpu> value 4294967295 is more than the maximum 65535",
        ),
        (
            "<vcpu cpuset='0-4294967295'>1</vcpu>",
            "names CPU 4294967295: CPUs are numbered below 16384",
        ),
    ] {
        let xml = write_file(
            dir.path(),
            "big.xml",
            &format!(
                "<domain type='test'><name>big</name><memory>1024</memory>{vcpu}<os><type>hvm</type></os></domain>"
            ),
        );
        let r = virtkit(&["-c", URI, &format!("create {xml}")]);
        assert!(r.stderr.contains(want), "{vcpu}: {}", r.stderr);
        assert_eq!(r.code, 1);
    }
}
