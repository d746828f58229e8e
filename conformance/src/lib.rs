//! The conformance suite: what makes a shared object a virtkit driver.
//!
//! [`run`] loads one plugin file through the real loader (`Registry::with_files`), then judges
//! it through the public API (`virtkit::Connect`), driven by what its header declares:
//!
//! * **header** (`header/*`): the loader accepted it (magic, ABI major, capability bits exactly
//!   matching the non-NULL entries, open and close present), the table size is the one of the
//!   ABI minor it claims, the name, semantic version and URI schemes are valid, the file is
//!   named so that the loader finds it for its scheme, the sandbox URI is served by the driver.
//! * **contracts** of every declared operation, on a connection to the driver's sandbox
//!   (`sandbox_uri` in the header, `{tmpdir}` replaced by a fresh directory) or to `--uri`:
//!   node information (`node/*`), lookups by id, name and UUID agree with each other and with the
//!   lists, `list`/`num` agree, unknown objects give `no-domain`/`no-network`, XML descriptions
//!   parse with `virtkit-xml` and agree with `info` (`domains/*`, `networks/*`); the life cycle
//!   of a domain and of a network the suite defines, following libvirt's state rules: every
//!   operation in the wrong state fails with `operation-invalid`, XML round-trips, bad XML gives
//!   `xml-error` (`lifecycle/*`, `network-lifecycle/*`).
//! * **read-only** (`read-only/*`): on a read-only connection every declared mutating operation
//!   is refused with `operation-denied` by the core, and nothing changed in the driver.
//! * **not supported** (`not-supported/*`): every NULL entry answers `no-support`, naming its
//!   libvirt API, through the core API (or through the loader when the core cannot name an
//!   object of the driver).
//! * **robustness** (`robustness/*`): 8 threads at once (thread-safe drivers), very long and
//!   non-ASCII names, and no entry panicked during the run. A panic inside a Rust driver built
//!   with the SDK is caught by the SDK's shim and reported as `internal-error`; the suite reports
//!   it as a failure and carries on (the test with the `faulty` fixture plugin proves it).
//! * **cleanup** (`cleanup/*`): the suite removed everything it created (sandboxes such as
//!   `test:///default` are shared by every connection of the process).
//!
//! Checks that cannot run say why (`skipped`): an operation the driver does not declare, no
//! sandbox URI and no `--uri`, or a real component missing on the machine: when the driver
//! answers `no-connect` (to `open` of the sandbox or to any later call), when its capabilities
//! list no guest, or when the sandbox refuses to start a network on the host
//! (`operation-denied`), the checks that need it are skipped with the driver's message.
//!
//! # JSON
//!
//! [`Report::to_json`] (`virtkit-conformance --format json`) writes one object:
//!
//! ```json
//! {
//!   "plugin": "target/debug/libvirtkit_driver_test.so",
//!   "driver": { "name": "test", "version": "0.1.0", "abi": "1.1", "schemes": ["test"],
//!               "thread_safe": true, "sandbox_uri": "test:///default",
//!               "supported": ["open", "close", "get_type", "..."] },
//!   "uri": "test:///default",
//!   "checks": [
//!     { "name": "header/load", "ops": ["open", "close"], "outcome": "passed" },
//!     { "name": "lifecycle/start", "ops": ["domain_create"], "outcome": "failed",
//!       "reason": "..." },
//!     { "name": "robustness/threads", "ops": [], "outcome": "skipped", "reason": "..." }
//!   ],
//!   "summary": { "passed": 80, "failed": 1, "skipped": 1 }
//! }
//! ```
//!
//! `driver` is `null` when the file did not load, `uri` when there was nothing to connect to.
//! `ops` are the slot names (`OPS[i].field`) a check exercises.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod calls;
mod domains;
mod guest;
mod header;
pub mod hvsupport;
mod messages;
mod networks;
mod node;
#[rustfmt::skip]
mod op_calls;
mod readonly;
mod report;
mod robustness;
mod suite;
mod unsupported;

pub use report::{Check, DriverFacts, Outcome, Report, Summary};
pub use suite::{Options, run};
