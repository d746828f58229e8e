//! What QEMU's monitor says, as the QEMU driver reads it: arbitrary bytes from a real QMP peer
//! on a unix socket, through the greeting, the negotiation and a batch of commands
//! (`Qmp::query`, which the driver uses for its state queries), and through the greeting reader
//! alone. No panic, no hang: every input ends in answers or an error.

#![no_main]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use virtkit_qemu_driver::Qmp;

/// One listening socket for the whole run, in a private directory.
fn listener() -> &'static (tempfile::TempDir, UnixListener) {
    static L: OnceLock<(tempfile::TempDir, UnixListener)> = OnceLock::new();
    L.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let l = UnixListener::bind(dir.path().join("qmp.sock")).unwrap();
        (dir, l)
    })
}

/// Plays QEMU: sends `data`, closes its sending side, then reads whatever the client writes
/// until the client hangs up (so the client never writes into a closed socket).
fn serve(mut s: UnixStream, data: Vec<u8>) {
    let _ = s.write_all(&data);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 4096];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
}

fuzz_target!(|data: &[u8]| {
    let (dir, l) = listener();
    let path = dir.path().join("qmp.sock");
    let peer = {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            serve(s, data);
        })
    };
    let timeout = Duration::from_secs(10);
    if let Ok(answers) = Qmp::query(
        &path,
        timeout,
        &["query-status", "query-cpus-fast", "query-balloon"],
    ) {
        assert_eq!(answers.len(), 3);
    }
    peer.join().unwrap();

    let (ours, theirs) = UnixStream::pair().unwrap();
    let data = data.to_vec();
    let peer = std::thread::spawn(move || serve(theirs, data));
    let _ = Qmp::read_greeting(ours, timeout);
    peer.join().unwrap();
});
