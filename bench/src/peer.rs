//! The peer: libvirt 9.0's own test driver, driven through `/usr/bin/python3` and its libvirt
//! bindings by a script written at run time, which reads a JSON request and prints JSON timings.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The only interpreter on these machines that has the libvirt bindings.
pub const PYTHON: &str = "/usr/bin/python3";

/// The script. Every timing is taken inside Python with `perf_counter_ns` around the loop, so
/// interpreter start-up is not counted; the per-call cost of the bindings is (and is reported
/// on its own by the `calls` mode).
const SCRIPT: &str = r#"
import json, sys, time, uuid
import libvirt

# libvirt prints every error on stderr by default; the script reports them itself.
libvirt.registerErrorHandler(lambda ctx, err: None, None)
now = time.perf_counter_ns
req = json.load(open(sys.argv[1]))
out = {}

def fresh():
    conn = libvirt.open("test:///default")
    if conn.numOfDefinedDomains() != 0 or conn.numOfDomains() != 1:
        raise SystemExit("test:///default is not fresh")
    return conn

if req["mode"] == "domains":
    tmpl = req["template"]
    names = req["names"]
    uuids = req["uuids"]
    n = len(names)
    xmls = [tmpl.replace("@NAME@", a).replace("@UUID@", b) for a, b in zip(names, uuids)]
    order = req["order"]
    by_name = [names[i] for i in order]
    by_uuid = [uuid.UUID(uuids[i]).bytes for i in order]
    out = {"define": [], "list": [], "lookup_name": [], "lookup_uuid": []}
    for rep in range(req["reps"]):
        conn = fresh()
        define = conn.defineXML
        t = now()
        for x in xmls:
            define(x)
        out["define"].append((now() - t) / n)
        for _ in range(req["list_reps"]):
            t = now()
            ids = conn.listDomainsID()
            defined = conn.listDefinedDomains()
            out["list"].append(now() - t)
        if len(ids) + len(defined) != n + 1:
            raise SystemExit("list returned %d domains, expected %d" % (len(ids) + len(defined), n + 1))
        look = conn.lookupByName
        t = now()
        for a in by_name:
            look(a)
        out["lookup_name"].append((now() - t) / n)
        look = conn.lookupByUUID
        t = now()
        for b in by_uuid:
            look(b)
        out["lookup_uuid"].append((now() - t) / n)
        del define, look
        conn.close()

elif req["mode"] == "xml":
    conn = fresh()
    accepted, refused = [], []
    for path, text in req["files"]:
        try:
            d = conn.defineXML(text)
            d.XMLDesc(0)
            d.undefine()
            accepted.append(text)
        except libvirt.libvirtError as e:
            refused.append([path, str(e)])
    rounds = []
    for _ in range(req["rounds"]):
        t = now()
        for text in accepted:
            d = conn.defineXML(text)
            d.XMLDesc(0)
            d.undefine()
        rounds.append((now() - t) / max(1, len(accepted)))
    out = {"accepted": len(accepted), "refused": refused, "per_doc": rounds}
    conn.close()

elif req["mode"] == "calls":
    conn = fresh()
    m = req["iterations"]
    out = {"get_version": [], "num_of_domains": []}
    for _ in range(req["reps"]):
        f = conn.getVersion
        t = now()
        for _ in range(m):
            f()
        out["get_version"].append((now() - t) / m)
        f = conn.numOfDomains
        t = now()
        for _ in range(m):
            f()
        out["num_of_domains"].append((now() - t) / m)
    conn.close()

json.dump(out, sys.stdout)
"#;

/// A runnable peer: the interpreter and the script written into a temporary directory.
pub struct Peer {
    script: PathBuf,
    dir: PathBuf,
}

impl Peer {
    /// Checks that `/usr/bin/python3` exists and imports `libvirt`, and writes the script.
    pub fn new(tmp: &Path) -> Result<Peer, String> {
        if !Path::new(PYTHON).exists() {
            return Err(format!(
                "{PYTHON} not found: install python3-libvirt with scripts/install-test-deps.sh"
            ));
        }
        let probe = Command::new(PYTHON)
            .args(["-c", "import libvirt"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
        if !probe.status.success() {
            return Err(format!(
                "{PYTHON} cannot import libvirt: install python3-libvirt with scripts/install-test-deps.sh"
            ));
        }
        let script = tmp.join("libvirt_peer.py");
        std::fs::write(&script, SCRIPT)
            .map_err(|e| format!("cannot write the peer script: {e}"))?;
        Ok(Peer {
            script,
            dir: tmp.to_path_buf(),
        })
    }

    /// Runs one request and returns the script's JSON answer.
    pub fn run(&self, request: &Value) -> Result<Value, String> {
        let req = self.dir.join("request.json");
        std::fs::write(&req, request.to_string())
            .map_err(|e| format!("cannot write the peer request: {e}"))?;
        let out = Command::new(PYTHON)
            .arg(&self.script)
            .arg(&req)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "libvirt peer failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("libvirt peer's JSON: {e}"))
    }
}

/// The samples of `key` in a peer answer.
pub fn samples(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}
