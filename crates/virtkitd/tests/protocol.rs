//! The daemon's behaviour on the wire, with a client written on virtkit-rpc: unknown
//! procedures and programs get libvirt's error replies on a connection that stays usable, a
//! malformed message closes only its own client, keepalive pings are answered, many clients
//! with many calls in flight lose nothing, a client that stops reading does not hold up the
//! others, and `max_clients` is kept.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use virtkit_rpc::xdr::{Decoder, Encoder};
use virtkit_rpc::{
    Header, KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM, Message, MessageType,
    Status,
};

fn lookup_test(c: &mut RpcClient) -> virtkit_rpc::WireDomain {
    let reply = c
        .call(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test"))
        .expect("lookup");
    let mut d = Decoder::new(&reply);
    let dom = virtkit_rpc::WireDomain::decode(&mut d).unwrap();
    d.finish().unwrap();
    dom
}

#[test]
fn an_unknown_procedure_gets_libvirts_unsupported_error_and_the_connection_stays() {
    let d = Virtkitd::start();
    let mut c = RpcClient::connect(&d.socket);
    c.open("test:///default");
    let err = c.call(9999, &[]).unwrap_err();
    assert_eq!(err.code, virtkit::ErrorCode::NoSupport as i32);
    assert_eq!(
        err.message.as_deref(),
        Some("this function is not supported by the connection driver: unknown procedure: 9999")
    );
    // The next call works.
    assert_eq!(lookup_test(&mut c).name, "test");
    // A call of another program is refused the same way, without closing.
    let h = Header {
        program: 0x1234_5678,
        version: 1,
        procedure: 1,
        message_type: MessageType::Call,
        serial: 77,
        status: Status::Ok,
    };
    c.stream
        .write_all(&Message::encode(&h, &[]).unwrap())
        .unwrap();
    let m = c.recv().expect("a reply");
    assert_eq!((m.header.serial, m.header.status), (77, Status::Error));
    let e = virtkit_rpc::RemoteError::decode(&mut Decoder::new(&m.payload)).unwrap();
    assert!(e.message.unwrap().contains("cannot find program"));
    assert_eq!(lookup_test(&mut c).id, 1);
    // Arguments that do not decode: an error reply, the connection stays.
    let err = c
        .call(PROC_DOMAIN_LOOKUP_BY_NAME, &[0, 0, 0, 9, b'x'])
        .unwrap_err();
    assert!(
        err.message
            .as_deref()
            .unwrap_or("")
            .contains("Unable to decode message payload"),
        "{err:?}"
    );
    assert_eq!(lookup_test(&mut c).name, "test");
    // A second CONNECT_OPEN is refused; the first connection stays.
    let mut e = Encoder::new();
    e.opt_string(Some("test:///default")).u32(0);
    let err = c.call(PROC_CONNECT_OPEN, &e.into_bytes()).unwrap_err();
    assert!(err.message.unwrap().contains("already open"));
    assert_eq!(lookup_test(&mut c).name, "test");
    // A call before CONNECT_OPEN.
    let mut fresh = RpcClient::connect(&d.socket);
    let err = fresh
        .call(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test"))
        .unwrap_err();
    assert!(err.message.unwrap().contains("connection not open"));
}

#[test]
fn a_malformed_message_closes_only_its_client_with_a_log_line() {
    let mut d = Virtkitd::start();
    let mut good = RpcClient::connect(&d.socket);
    good.open("test:///default");
    for garbage in [
        vec![0xff, 0xff, 0xff, 0xff], // 4 GiB length
        vec![0, 0, 0, 8, 1, 2, 3, 4], // shorter than a header
        {
            // a header with message type 9
            let mut m = Message::encode(
                &Header {
                    program: virtkit_rpc::REMOTE_PROGRAM,
                    version: 1,
                    procedure: 1,
                    message_type: MessageType::Call,
                    serial: 1,
                    status: Status::Ok,
                },
                &[],
            )
            .unwrap();
            m[19] = 9;
            m
        },
        {
            // a reply sent by a client
            Message::encode(
                &Header {
                    program: virtkit_rpc::REMOTE_PROGRAM,
                    version: 1,
                    procedure: 1,
                    message_type: MessageType::Reply,
                    serial: 1,
                    status: Status::Ok,
                },
                &[],
            )
            .unwrap()
        },
    ] {
        let mut bad = RpcClient::connect(&d.socket);
        bad.stream.write_all(&garbage).unwrap();
        assert!(
            bad.recv().is_none(),
            "the daemon closes a client that sent {garbage:?}"
        );
        assert_eq!(lookup_test(&mut good).name, "test");
    }
    assert!(d.running());
    let log = d.log_text();
    for needle in [
        "exceeds the limit",
        "shorter than a header",
        "unknown message type 9",
        "a client sends calls",
    ] {
        assert!(log.contains(needle), "no log line with '{needle}':\n{log}");
    }
}

#[test]
fn keepalive_pings_are_answered_with_pongs() {
    let d = Virtkitd::start();
    let mut c = RpcClient::connect(&d.socket);
    let ping = Header {
        program: KEEPALIVE_PROGRAM,
        version: 1,
        procedure: KEEPALIVE_PROC_PING,
        message_type: MessageType::Message,
        serial: 0,
        status: Status::Ok,
    };
    c.stream
        .write_all(&Message::encode(&ping, &[]).unwrap())
        .unwrap();
    let m = c.recv().expect("a pong");
    assert_eq!(m.header.program, KEEPALIVE_PROGRAM);
    assert_eq!(m.header.procedure, KEEPALIVE_PROC_PONG);
    assert_eq!(m.header.message_type, MessageType::Message);
    assert!(m.payload.is_empty());
}

/// 100 clients, each with 1000 calls and up to 8 in flight at once (more than the daemon's
/// per-client limit of 5, so its back-pressure is exercised): every call gets its own reply,
/// matched by serial, with the right content.
#[test]
fn a_hundred_clients_with_a_thousand_calls_each_lose_nothing() {
    const CLIENTS: usize = 100;
    const CALLS: u32 = 1000;
    const IN_FLIGHT: u32 = 8;
    let d = Virtkitd::start();
    let socket = d.socket.clone();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = RpcClient::connect(&socket);
                c.open("test:///default");
                let mut pending = std::collections::HashSet::new();
                let mut sent = 0;
                let mut answered = 0;
                while answered < CALLS {
                    while sent < CALLS && pending.len() < IN_FLIGHT as usize {
                        pending.insert(c.send(PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test")));
                        sent += 1;
                    }
                    let m = c.recv().expect("a reply");
                    assert_eq!(m.header.status, Status::Ok);
                    assert!(
                        pending.remove(&m.header.serial),
                        "unexpected serial {}",
                        m.header.serial
                    );
                    let dom =
                        virtkit_rpc::WireDomain::decode(&mut Decoder::new(&m.payload)).unwrap();
                    assert_eq!((dom.name.as_str(), dom.id), ("test", 1));
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let total: u32 = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .sum();
    assert_eq!(total, CLIENTS as u32 * CALLS);
}

/// A client that sends calls with large replies and never reads them fills its socket; the
/// daemon stops reading it (its queue is bounded) while everyone else is served.
#[test]
fn a_client_that_stops_reading_does_not_block_the_others() {
    let d = Virtkitd::start();
    let mut stalled = RpcClient::connect(&d.socket);
    stalled.open("test:///default");
    stalled
        .stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Capabilities replies are a few KiB each: a few thousand fill every buffer on the way.
    let mut blocked = false;
    for _ in 0..20_000 {
        let mut e = Encoder::new();
        e.u32(0);
        let h = Header {
            program: virtkit_rpc::REMOTE_PROGRAM,
            version: 1,
            procedure: PROC_CONNECT_GET_CAPABILITIES,
            message_type: MessageType::Call,
            serial: 1,
            status: Status::Ok,
        };
        if stalled
            .stream
            .write_all(&Message::encode(&h, &[]).unwrap())
            .is_err()
        {
            blocked = true;
            break;
        }
    }
    assert!(
        blocked,
        "the daemon kept reading a client that never reads its replies"
    );
    // The stalled client is still connected, and others are served meanwhile.
    for _ in 0..10 {
        let mut c = RpcClient::connect(&d.socket);
        c.open("test:///default");
        for _ in 0..100 {
            assert_eq!(lookup_test(&mut c).name, "test");
        }
    }
    drop(stalled);
}

#[test]
fn max_clients_from_the_config_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("virtkitd.conf");
    std::fs::write(
        &conf,
        "max_clients = 2\nmax_client_requests = 2\nlisten_tls = 1\n",
    )
    .unwrap();
    let d = Virtkitd::start_with(&["--config", conf.to_str().unwrap()]);
    // The start-up probe was a client too: wait until the daemon has seen it leave.
    let started = std::time::Instant::now();
    while !d.log_text().contains("client 1: disconnected") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut a = RpcClient::connect(&d.socket);
    a.open("test:///default");
    let mut b = RpcClient::connect(&d.socket);
    b.open("test:///default");
    let mut third = RpcClient::connect(&d.socket);
    assert!(third.recv().is_none(), "a third client is closed at once");
    assert!(d.log_text().contains("max_clients"), "{}", d.log_text());
    assert!(
        d.log_text().contains("'listen_tls' is not supported yet"),
        "{}",
        d.log_text()
    );
    drop(a);
    // Once one leaves, a new client is served.
    let mut served = false;
    for _ in 0..100 {
        let mut c = RpcClient::connect(&d.socket);
        let mut e = Encoder::new();
        e.opt_string(Some("test:///default")).u32(0);
        // A client accepted before the daemon saw `a` leave is closed at once: its write may
        // fail (EPIPE), and then the next try comes.
        if c.try_send(PROC_CONNECT_OPEN, &e.into_bytes()).is_ok() && c.recv().is_some() {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(served);
    assert_eq!(lookup_test(&mut b).name, "test");
}

/// `virtkitd --stdio` serves one client on standard input and output (the form an ssh
/// transport runs), and exits when the client hangs up.
#[test]
fn stdio_serves_one_client_and_exits() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_virtkitd"))
        .arg("--stdio")
        .env(
            "VIRTKIT_DRIVER_DIR",
            virtkit_test_support::plugin_dir("test"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("virtkitd --stdio starts");
    let mut input = child.stdin.take().unwrap();
    let mut output = child.stdout.take().unwrap();
    let call = |serial: u32, procedure: i32, payload: &[u8]| {
        Message::encode(
            &Header {
                program: virtkit_rpc::REMOTE_PROGRAM,
                version: 1,
                procedure,
                message_type: MessageType::Call,
                serial,
                status: Status::Ok,
            },
            payload,
        )
        .unwrap()
    };
    let mut e = Encoder::new();
    e.opt_string(Some("test:///default")).u32(0);
    input
        .write_all(&call(1, PROC_CONNECT_OPEN, &e.into_bytes()))
        .unwrap();
    input
        .write_all(&call(2, PROC_DOMAIN_LOOKUP_BY_NAME, &string_arg("test")))
        .unwrap();
    let mut replies = Vec::new();
    for _ in 0..2 {
        let bytes = virtkit_rpc::read_message(&mut output)
            .unwrap()
            .expect("a reply");
        replies.push(Message::decode(&bytes).unwrap());
    }
    replies.sort_by_key(|m| m.header.serial);
    assert_eq!(replies[0].header.status, Status::Ok);
    let dom = virtkit_rpc::WireDomain::decode(&mut Decoder::new(&replies[1].payload)).unwrap();
    assert_eq!((dom.name.as_str(), dom.id), ("test", 1));
    drop(input);
    let mut rest = Vec::new();
    output.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(child.wait().unwrap().success());
}

/// The older registrations (before `VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK`, which libvirt 9's
/// clients no longer use): `CONNECT_DOMAIN_EVENT_REGISTER_ANY` for lifecycle events brings
/// `DOMAIN_EVENT_LIFECYCLE` messages (no callback id), once per client; other event ids and
/// a second registration are refused; after `_DEREGISTER_ANY` no event comes.
#[test]
fn legacy_event_registration_brings_lifecycle_messages() {
    use virtkit_rpc::Procedure as P;
    let d = Virtkitd::start();
    let mut c = RpcClient::connect(&d.socket);
    c.open("test:///default");
    let mut e = Encoder::new();
    e.i32(virtkit_rpc::DOMAIN_EVENT_ID_LIFECYCLE);
    let lifecycle = e.into_bytes();
    c.call(P::ConnectDomainEventRegisterAny.number(), &lifecycle)
        .expect("registered");
    let again = c
        .call(P::ConnectDomainEventRegisterAny.number(), &lifecycle)
        .unwrap_err();
    assert!(
        again
            .message
            .as_deref()
            .unwrap_or("")
            .contains("already registered"),
        "{again:?}"
    );
    let mut e = Encoder::new();
    e.i32(1); // VIR_DOMAIN_EVENT_ID_REBOOT
    let reboot = c
        .call(P::ConnectDomainEventRegisterAny.number(), &e.into_bytes())
        .unwrap_err();
    assert_eq!(
        reboot.code,
        virtkit::ErrorCode::NoSupport as i32,
        "{reboot:?}"
    );
    let dom = lookup_test(&mut c);
    let mut e = Encoder::new();
    dom.encode(&mut e);
    let arg = e.into_bytes();
    // The event and the reply both come, in either order.
    let serial = c.send(P::DomainSuspend.number(), &arg);
    let mut event = None;
    let mut replied = false;
    while event.is_none() || !replied {
        let m = c.recv().expect("a message");
        match m.header.message_type {
            MessageType::Reply => {
                assert_eq!((m.header.serial, m.header.status), (serial, Status::Ok));
                replied = true;
            }
            MessageType::Message => {
                assert_eq!(m.header.procedure, virtkit_rpc::PROC_DOMAIN_EVENT_LIFECYCLE);
                let mut d = Decoder::new(&m.payload);
                let w = virtkit_rpc::WireDomain::decode(&mut d).unwrap();
                let ev = (d.i32().unwrap(), d.i32().unwrap());
                d.finish().unwrap();
                event = Some((w.name, ev));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // VIR_DOMAIN_EVENT_SUSPENDED, _PAUSED.
    assert_eq!(event, Some(("test".to_string(), (3, 0))));
    c.call(P::ConnectDomainEventDeregisterAny.number(), &lifecycle)
        .expect("deregistered");
    // Resumed without a listener: the next message is the reply.
    let serial = c.send(P::DomainResume.number(), &arg);
    let m = c.recv().expect("the reply");
    assert_eq!(
        (m.header.message_type, m.header.serial),
        (MessageType::Reply, serial)
    );
}
