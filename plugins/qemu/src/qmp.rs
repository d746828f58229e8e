//! A QMP client: one connection to a guest's monitor socket, line-delimited JSON.
//!
//! QEMU serves one QMP client at a time on a socket; a second client's connection waits in the
//! listen backlog until the first closes. Every read has a timeout, so a hung QEMU turns into an
//! error instead of a hung caller.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The socket could not be reached or broke.
    #[error("{}", io_message(.0))]
    Io(#[from] std::io::Error),
    /// QEMU answered with an error.
    #[error("QEMU refused '{command}': {desc}")]
    Command {
        /// The command.
        command: String,
        /// QMP's `class`.
        class: String,
        /// QMP's `desc`.
        desc: String,
    },
    /// QEMU said something that is not QMP.
    #[error("unexpected answer from the QEMU monitor: {0}")]
    Protocol(String),
}

/// A broken monitor connection, with a timeout said as such.
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "timed out waiting for the QEMU monitor".into()
        }
        _ => format!("QEMU monitor connection failed: {e}"),
    }
}

/// An open QMP session, past capability negotiation.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    /// Events read while waiting for answers, oldest first (see [`Qmp::wait_event`]).
    events: Vec<Value>,
    /// The `QMP` object of the greeting (version, capabilities).
    pub greeting: Value,
}

/// How many unclaimed events a session keeps (the oldest go first).
pub const MAX_KEPT_EVENTS: usize = 256;

/// Default time allowed for one exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Qmp {
    /// Connects, reads the greeting and enters command mode (`qmp_capabilities`).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path)?;
        Qmp::handshake(stream, timeout)
    }

    /// Like [`Qmp::connect`], retrying while the socket is missing or refuses connections,
    /// until `deadline`.
    pub fn connect_until(
        path: &Path,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Qmp, QmpError> {
        let mut pause = Duration::from_micros(200);
        loop {
            match UnixStream::connect(path) {
                Ok(s) => return Qmp::handshake(s, timeout),
                Err(e) if Instant::now() >= deadline => return Err(e.into()),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
            }
        }
    }

    /// Reads only the greeting (no negotiation): what a client sees first.
    pub fn read_greeting(stream: UnixStream, timeout: Duration) -> Result<Value, QmpError> {
        stream.set_read_timeout(Some(timeout))?;
        let mut reader = BufReader::new(stream);
        read_greeting(&mut reader)
    }

    fn handshake(stream: UnixStream, timeout: Duration) -> Result<Qmp, QmpError> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let greeting = read_greeting(&mut reader)?;
        let mut q = Qmp {
            reader,
            writer,
            next_id: 1,
            events: Vec::new(),
            greeting,
        };
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    /// Connects and runs `commands` (without arguments) in one round trip: `qmp_capabilities`
    /// and the commands are written at once, before the greeting is read. QEMU reads a client's
    /// input only after sending its greeting and runs one client's commands in order, so this is
    /// the same exchange as [`Qmp::connect`] followed by [`Qmp::execute`] for each command,
    /// without waiting for each answer before sending the next command. Returns each command's
    /// answer, in order; the session ends with the call (the socket is free again for others).
    pub fn query(
        path: &Path,
        timeout: Duration,
        commands: &[&str],
    ) -> Result<Vec<Result<Value, QmpError>>, QmpError> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        // Id 1 is the negotiation, id i + 2 the i-th command.
        let mut out = json!({ "execute": "qmp_capabilities", "id": 1 }).to_string();
        out.push('\n');
        for (i, c) in commands.iter().enumerate() {
            out.push_str(&json!({ "execute": c, "id": i as u64 + 2 }).to_string());
            out.push('\n');
        }
        writer.write_all(out.as_bytes())?;
        read_greeting(&mut reader)?;
        let mut answers: Vec<Option<Result<Value, QmpError>>> =
            (0..=commands.len()).map(|_| None).collect();
        let mut left = answers.len();
        while left > 0 {
            let v = read_message(&mut reader)?;
            if v.get("event").is_some() {
                continue;
            }
            let Some(i) = v
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| usize::try_from(id.checked_sub(1)?).ok())
                .filter(|i| answers.get(*i).is_some_and(Option::is_none))
            else {
                continue;
            };
            let command = i.checked_sub(1).map_or("qmp_capabilities", |c| commands[c]);
            answers[i] = Some(answer(command, &v));
            left -= 1;
        }
        let mut answers = answers
            .into_iter()
            .map(|a| a.expect("every answer was read"));
        if let Some(Err(e)) = answers.next() {
            return Err(e);
        }
        Ok(answers.collect())
    }

    /// Changes the time allowed for each following exchange.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), QmpError> {
        self.writer.set_read_timeout(Some(timeout))?;
        Ok(())
    }

    /// Runs a command and returns its `return` value. Asynchronous events that arrive meanwhile
    /// are kept (at most [`MAX_KEPT_EVENTS`]) for [`Qmp::wait_event`].
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "execute": command, "id": id });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        loop {
            let v = read_message(&mut self.reader)?;
            if v.get("event").is_some() {
                self.keep_event(v);
                continue;
            }
            if v.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            return answer(command, &v);
        }
    }

    fn keep_event(&mut self, v: Value) {
        if self.events.len() >= MAX_KEPT_EVENTS {
            self.events.remove(0);
        }
        self.events.push(v);
    }

    /// Waits until QEMU sends an event named `event` whose `data` satisfies `matches` (events
    /// already read during earlier commands of this session count), or until `timeout` has
    /// passed (`Ok(None)`). The session's read timeout is restored afterwards.
    pub fn wait_event(
        &mut self,
        event: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Result<Option<Value>, QmpError> {
        let hit = |v: &Value| {
            v.get("event").and_then(Value::as_str) == Some(event)
                && matches(v.get("data").unwrap_or(&Value::Null))
        };
        if let Some(i) = self.events.iter().position(hit) {
            return Ok(Some(self.events.remove(i)));
        }
        let previous = self.writer.read_timeout()?;
        let deadline = Instant::now() + timeout;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Ok(None);
            }
            self.writer.set_read_timeout(Some(left))?;
            match read_message(&mut self.reader) {
                Ok(v) if hit(&v) => break Ok(Some(v)),
                Ok(v) if v.get("event").is_some() => self.keep_event(v),
                Ok(_) => {}
                Err(QmpError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break Ok(None);
                }
                Err(e) => break Err(e),
            }
        };
        self.writer.set_read_timeout(previous)?;
        result
    }

    /// The run state (`running`, `paused`, `prelaunch`, `inmigrate`, `shutdown`, ...).
    pub fn status(&mut self) -> Result<String, QmpError> {
        let v = self.execute("query-status", None)?;
        v.get("status")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| QmpError::Protocol(format!("query-status gave {v}")))
    }
}

/// The outcome of a command from QEMU's answer to it.
fn answer(command: &str, v: &Value) -> Result<Value, QmpError> {
    if let Some(r) = v.get("return") {
        return Ok(r.clone());
    }
    if let Some(e) = v.get("error") {
        return Err(QmpError::Command {
            command: command.to_string(),
            class: e
                .get("class")
                .and_then(Value::as_str)
                .unwrap_or("GenericError")
                .to_string(),
            desc: e
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_string(),
        });
    }
    Err(QmpError::Protocol(v.to_string()))
}

fn read_message(reader: &mut BufReader<UnixStream>) -> Result<Value, QmpError> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            return Err(QmpError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "QEMU closed the monitor connection",
            )));
        }
        if line.trim().is_empty() {
            continue;
        }
        return serde_json::from_str(line.trim())
            .map_err(|e| QmpError::Protocol(format!("{e}: {}", line.trim())));
    }
}

/// Reads up to the greeting. QEMU does not clear a monitor's output when its client goes away,
/// so events queued for the previous client (a `RESET` after `system_reset`, say) can reach the
/// next one before its greeting: they are skipped.
fn read_greeting(reader: &mut BufReader<UnixStream>) -> Result<Value, QmpError> {
    loop {
        let v = read_message(reader)?;
        if let Some(g) = v.get("QMP") {
            return Ok(g.clone());
        }
        if v.get("event").is_none() {
            return Err(QmpError::Protocol(format!("no greeting: {v}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A QMP peer on a real socket that answers like QEMU does (greeting, capabilities, an
    /// event in between, an error for unknown commands).
    #[test]
    fn talks_to_a_qmp_peer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            w.write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}}, \"capabilities\": []}}\r\n").unwrap();
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 0 {
                let v: Value = serde_json::from_str(line.trim()).unwrap();
                let id = v["id"].clone();
                let reply = match v["execute"].as_str().unwrap() {
                    "qmp_capabilities" => json!({"return": {}, "id": id}),
                    "query-status" => {
                        w.write_all(b"{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n").unwrap();
                        json!({"return": {"status": "running", "running": true}, "id": id})
                    }
                    other => {
                        json!({"error": {"class": "CommandNotFound", "desc": format!("The command {other} has not been found")}, "id": id})
                    }
                };
                w.write_all(format!("{reply}\n").as_bytes()).unwrap();
                line.clear();
            }
        });
        let mut q = Qmp::connect(&path, Duration::from_secs(5)).unwrap();
        assert_eq!(q.greeting["version"]["qemu"]["major"], 10);
        assert_eq!(q.status().unwrap(), "running");
        let e = q.execute("bogus", None).unwrap_err();
        assert!(
            matches!(&e, QmpError::Command { class, .. } if class == "CommandNotFound"),
            "{e}"
        );
        assert!(e.to_string().contains("bogus"));
        drop(q);
        server.join().unwrap();
    }

    /// Events left over from an earlier client come before the greeting; anything else there
    /// is a protocol error.
    #[test]
    fn events_before_the_greeting_are_skipped() {
        for (before, ok) in [
            (
                "{\"event\": \"RESET\", \"data\": {\"guest\": true}}\n",
                true,
            ),
            ("{\"return\": {}}\n", false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.sock");
            let listener = UnixListener::bind(&path).unwrap();
            let server = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                // The client may hang up after the first line: write errors are not the test's.
                let _ = s.write_all(before.as_bytes());
                let _ = s.write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}}, \"capabilities\": []}}\n");
                s
            });
            let stream = UnixStream::connect(&path).unwrap();
            let got = Qmp::read_greeting(stream, Duration::from_secs(5));
            assert_eq!(got.is_ok(), ok, "{before}: {got:?}");
            if let Ok(g) = got {
                assert_eq!(g["version"]["qemu"]["major"], 10);
            }
            drop(server.join().unwrap());
        }
    }

    #[test]
    fn a_silent_peer_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let t = Instant::now();
        let e = Qmp::connect(&path, Duration::from_millis(200))
            .err()
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(e.to_string().contains("timed out"), "{e}");
    }
}
