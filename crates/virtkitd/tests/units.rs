//! The systemd units in docs/systemd agree with the configuration file beside them: the sockets
//! systemd binds for socket activation are the ones virtkitd.conf names (the daemon tells the
//! read-only one by its path, and refuses a passed socket it does not recognise), with the
//! modes the config gives them, and the service reads that config.

use std::path::PathBuf;

fn doc(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/systemd")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The value of `key=` in a unit file (the first one).
fn unit_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{text}"))
        .trim()
        .to_string()
}

/// The string value of `key = "..."` in the conf file.
fn conf_value(text: &str, key: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in virtkitd.conf"))
}

#[test]
fn the_socket_units_bind_the_sockets_virtkitd_conf_names_with_its_modes() {
    let conf = doc("virtkitd.conf");
    let dir = conf_value(&conf, "unix_sock_dir");
    let rw = doc("virtkitd.socket");
    let ro = doc("virtkitd-ro.socket");
    assert_eq!(
        unit_value(&rw, "ListenStream"),
        format!("{dir}/virtkit-sock")
    );
    assert_eq!(
        unit_value(&ro, "ListenStream"),
        format!("{dir}/virtkit-sock-ro")
    );
    assert_eq!(
        unit_value(&rw, "SocketMode"),
        conf_value(&conf, "unix_sock_rw_perms")
    );
    assert_eq!(
        unit_value(&ro, "SocketMode"),
        conf_value(&conf, "unix_sock_ro_perms")
    );
    for unit in [&rw, &ro] {
        assert_eq!(unit_value(unit, "Service"), "virtkitd.service");
    }
    let service = doc("virtkitd.service");
    assert_eq!(
        unit_value(&service, "ExecStart"),
        "/usr/sbin/virtkitd --config /etc/virtkit/virtkitd.conf"
    );
    // systemd removes a RuntimeDirectory= when the service stops, and with it the sockets the
    // .socket units hold.
    assert!(
        !service
            .lines()
            .any(|l| l.trim_start().starts_with("RuntimeDirectory"))
    );
}
