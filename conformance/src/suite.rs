//! The run: load, connect, then every group of checks in turn, cleaning up at the end.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use virtkit::{Connect, Domain, DomainState, ErrorCode, Network, Op, Registry};
use virtkit_loader::{Driver, Opened};

use crate::guest::Guest;
use crate::report::{DriverFacts, Outcome, Report};

/// How to run the suite.
#[derive(Clone, Debug)]
pub struct Options {
    /// Connect here instead of the driver's sandbox URI (`{tmpdir}` is replaced as well). The
    /// suite creates and removes domains and networks there.
    pub uri: Option<String>,
    /// Threads for the concurrency check.
    pub threads: usize,
    /// Other members of the plugin's stack, loaded beside it (`--with`): the checks then judge
    /// the stack's connection — an operation is supported when a member implements it, and the
    /// not-supported checks cover the entries no member implements.
    pub with: Vec<std::path::PathBuf>,
    /// Members of the stack loaded beside it that must not open on this host (`--declining`):
    /// each must be among the connection's members that did not open, with its reason, and the
    /// checks judge the stack without it (what it implements does not count as supported).
    pub declining: Vec<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            with: Vec::new(),
            declining: Vec::new(),
            uri: None,
            threads: 8,
        }
    }
}

/// Why a check did not pass.
pub(crate) enum Verdict {
    Fail(String),
    Skip(String),
}

/// The result of a check's body.
pub(crate) type Step<T = ()> = std::result::Result<T, Verdict>;

/// Fails the check with a formatted reason unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::suite::Verdict::Fail(format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure;

/// `operation-invalid (55)`: an error code as the suite prints it.
pub(crate) fn code_name(code: ErrorCode) -> String {
    let debug = format!("{code:?}");
    let mut out = String::new();
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    format!("{out} ({})", code as i32)
}

/// An error as the suite prints it: code, number and message.
pub(crate) fn describe(e: &virtkit::Error) -> String {
    format!("{}: {}", code_name(e.code), e.message)
}

/// Whether an error is a driver panic caught by the SDK's shim.
pub(crate) fn is_panic(e: &virtkit::Error) -> bool {
    e.code == ErrorCode::InternalError && e.message.contains("panicked")
}

/// The value of a call that must succeed.
///
/// `no-connect` means the back end the driver needs is missing on this machine (a hypervisor
/// binary, a daemon): the check cannot run here and is skipped with the driver's message.
pub(crate) fn ok<T>(what: impl Display, r: virtkit::Result<T>) -> Step<T> {
    r.map_err(|e| {
        unavailable(&e).unwrap_or_else(|| Verdict::Fail(format!("{what} failed: {}", describe(&e))))
    })
}

/// The skip for an error that says the back end is missing on this machine.
fn unavailable(e: &virtkit::Error) -> Option<Verdict> {
    (e.code == ErrorCode::NoConnect).then(|| {
        Verdict::Skip(format!(
            "the driver's back end is not available here: {}",
            e.message
        ))
    })
}

/// A call that must fail with `want`.
pub(crate) fn expect_err<T>(what: impl Display, r: virtkit::Result<T>, want: ErrorCode) -> Step {
    match r {
        Ok(_) => Err(Verdict::Fail(format!(
            "{what}: expected {}, got success",
            code_name(want)
        ))),
        Err(e) if e.code == want => Ok(()),
        Err(e) => Err(unavailable(&e).unwrap_or_else(|| {
            Verdict::Fail(format!(
                "{what}: expected {}, got {}",
                code_name(want),
                describe(&e)
            ))
        })),
    }
}

pub(crate) fn api(op: Op) -> &'static str {
    op.info().api
}

/// Everything a check may need.
pub(crate) struct Ctx {
    pub report: Report,
    pub driver: Arc<Driver>,
    pub registry: Registry,
    pub opts: Options,
    /// The URI the connection checks use.
    pub uri: Option<String>,
    /// Whether the suite may create and remove objects (a sandbox or `--uri`).
    pub rw: Option<Connect>,
    pub ro: Option<Connect>,
    /// Scratch files (save images, core dumps).
    pub scratch: tempfile::TempDir,
    /// Kept alive for the run: the `{tmpdir}` of the sandbox URI.
    pub _sandbox_dir: Option<tempfile::TempDir>,
    /// Prefix of every name the suite creates.
    pub tag: String,
    seq: usize,
    /// The guest the suite defines, chosen from the capabilities (or why there is none).
    pub guest: Option<std::result::Result<Guest, String>>,
    /// Objects the suite created, removed at the end whatever happened.
    pub created_domains: Vec<(uuid::Uuid, String)>,
    pub created_networks: Vec<(uuid::Uuid, String)>,
    /// What existed before the suite touched anything.
    pub baseline: Option<crate::robustness::Snapshot>,
    /// The persistent domain of the life-cycle checks, while it exists.
    pub life: Option<Domain>,
    /// A network of the suite's own, when the driver can define one.
    pub life_net: Option<Network>,
    /// The other stack members loaded with `--with`.
    pub others: Vec<std::sync::Arc<Driver>>,
    /// The stack members loaded with `--declining` (they must not open).
    pub declining: Vec<std::sync::Arc<Driver>>,
}

impl Ctx {
    /// Whether the driver implements `op`.
    pub fn has(&self, op: Op) -> bool {
        self.driver.supports(op) || self.others.iter().any(|d| d.supports(op))
    }

    /// Runs one check: skipped unless the driver implements every op in `ops`.
    pub fn check(&mut self, name: &str, ops: &[Op], body: impl FnOnce(&mut Ctx) -> Step) {
        self.check_also(name, ops, &[], body)
    }

    /// Like [`check`](Self::check); the check also exercises those of `also` that the driver
    /// implements.
    pub fn check_also(
        &mut self,
        name: &str,
        ops: &[Op],
        also: &[Op],
        body: impl FnOnce(&mut Ctx) -> Step,
    ) {
        let mut fields: Vec<&'static str> = ops.iter().map(|op| op.info().field).collect();
        fields.extend(
            also.iter()
                .filter(|op| self.has(**op))
                .map(|op| op.info().field),
        );
        if let Some(missing) = ops.iter().find(|op| !self.has(**op)) {
            let reason = format!(
                "the driver does not implement {} ({})",
                missing.info().field,
                api(*missing)
            );
            self.report.push(name, &fields, Outcome::Skipped(reason));
            return;
        }
        let outcome = match body(self) {
            Ok(()) => Outcome::Passed,
            Err(Verdict::Fail(m)) => Outcome::Failed(m),
            Err(Verdict::Skip(m)) => Outcome::Skipped(m),
        };
        self.report.push(name, &fields, outcome);
    }

    /// Records a check that cannot run at all.
    pub fn skip(&mut self, name: &str, ops: &[Op], reason: &str) {
        let fields: Vec<&'static str> = ops.iter().map(|op| op.info().field).collect();
        self.report
            .push(name, &fields, Outcome::Skipped(reason.to_string()));
    }

    /// A fresh name for an object the suite creates.
    pub fn unique(&mut self, label: &str) -> String {
        self.seq += 1;
        format!("{}-{}-{label}", self.tag, self.seq)
    }

    /// A path in the scratch directory.
    pub fn scratch_path(&mut self, label: &str) -> String {
        self.seq += 1;
        self.scratch
            .path()
            .join(format!("{label}-{}", self.seq))
            .display()
            .to_string()
    }

    /// The read-write connection, or the reason there is none.
    pub fn rw(&self) -> Step<Connect> {
        self.rw.clone().ok_or_else(|| {
            Verdict::Skip(
                "no connection on which the suite may create objects (see connect/open)".into(),
            )
        })
    }

    /// The read-only connection, or the reason there is none.
    pub fn ro(&self) -> Step<Connect> {
        self.ro.clone().ok_or_else(|| {
            Verdict::Skip("no read-only connection (see connect/open-read-only)".into())
        })
    }

    /// The guest to define, or why the suite cannot define one.
    pub fn guest(&self) -> Step<Guest> {
        match &self.guest {
            Some(Ok(g)) => Ok(g.clone()),
            Some(Err(reason)) => Err(Verdict::Skip(reason.clone())),
            None => Err(Verdict::Skip("no connection".into())),
        }
    }

    /// The state of a domain, through `virDomainGetInfo` or `virDomainGetState`, when the
    /// driver implements either.
    pub fn state_of(&self, dom: &Domain) -> Step<Option<DomainState>> {
        if self.has(Op::DomainGetInfo) {
            return ok("virDomainGetInfo", dom.info()).map(|i| Some(i.state));
        }
        if self.has(Op::DomainGetState) {
            return ok("virDomainGetState", dom.state()).map(|(s, _)| Some(s));
        }
        Ok(None)
    }

    /// Fails unless the domain's state (when readable) is one of `want`.
    pub fn expect_state(&self, dom: &Domain, want: &[DomainState], when: &str) -> Step {
        if let Some(s) = self.state_of(dom)? {
            ensure!(
                want.contains(&s),
                "{when}: the domain is {s:?}, expected {}",
                states(want)
            );
        }
        Ok(())
    }

    /// Whether the domain is active, from its id (refreshed by a UUID lookup) or its state.
    pub fn is_active(&self, dom: &Domain) -> Step<Option<bool>> {
        if self.has(Op::DomainLookupByUuid) {
            let conn = self.rw()?;
            let d = ok(
                "virDomainLookupByUUID",
                conn.lookup_domain_by_uuid(&dom.uuid()),
            )?;
            return Ok(Some(d.id() >= 0));
        }
        Ok(self
            .state_of(dom)?
            .map(|s| !matches!(s, DomainState::Shutoff | DomainState::Crashed)))
    }
}

pub(crate) fn states(s: &[DomainState]) -> String {
    s.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Runs the whole suite on one plugin file.
pub fn run(plugin: &Path, opts: &Options) -> Report {
    let mut report = Report::new(plugin.display().to_string());
    let driver = match Registry::load_file(plugin) {
        Ok(d) => {
            report.push("header/load", &["open", "close"], Outcome::Passed);
            d
        }
        Err(e) => {
            report.push(
                "header/load",
                &[],
                Outcome::Failed(format!("the loader refused the file: {e}")),
            );
            return report;
        }
    };
    report.driver = Some(DriverFacts {
        name: driver.name().to_string(),
        version: driver.version().to_string(),
        abi: format!("{}.{}", driver.abi_version().0, driver.abi_version().1),
        schemes: driver.schemes().to_vec(),
        thread_safe: driver.thread_safe(),
        sandbox_uri: driver.sandbox_uri().unwrap_or("").to_string(),
        supported: Op::ALL
            .iter()
            .filter(|op| driver.supports(**op))
            .map(|op| op.info().field)
            .collect(),
    });
    let scratch = match tempfile::Builder::new()
        .prefix("virtkit-conformance-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            report.push(
                "suite/scratch",
                &[],
                Outcome::Failed(format!("cannot create a temporary directory: {e}")),
            );
            return report;
        }
    };
    let tag = format!(
        "vkconf-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let mut ctx = Ctx {
        report,
        registry: Registry::with_files(
            std::iter::once(plugin.to_path_buf())
                .chain(opts.with.iter().cloned())
                .chain(opts.declining.iter().cloned())
                .collect(),
        ),
        driver,
        opts: opts.clone(),
        uri: None,
        rw: None,
        ro: None,
        scratch,
        _sandbox_dir: None,
        tag,
        seq: 0,
        guest: None,
        created_domains: Vec::new(),
        created_networks: Vec::new(),
        baseline: None,
        life: None,
        life_net: None,
        others: Vec::new(),
        declining: Vec::new(),
    };
    let members = opts
        .with
        .iter()
        .map(|p| (p, false))
        .chain(opts.declining.iter().map(|p| (p, true)));
    for (other, declines) in members {
        match Registry::load_file(other) {
            Ok(d) if declines => ctx.declining.push(d),
            Ok(d) => ctx.others.push(d),
            Err(e) => {
                ctx.report.push(
                    "header/load-with",
                    &[],
                    Outcome::Failed(format!("the loader refused {}: {e}", other.display())),
                );
                return ctx.report;
            }
        }
    }

    crate::header::checks(&mut ctx);
    if connect(&mut ctx) {
        ctx.baseline = crate::robustness::Snapshot::take(&ctx).ok();
        crate::guest::choose(&mut ctx);
        crate::node::checks(&mut ctx);
        crate::domains::samples(&mut ctx);
        crate::networks::samples(&mut ctx);
        crate::domains::existing(&mut ctx);
        crate::messages::checks(&mut ctx);
        crate::networks::existing(&mut ctx);
        crate::domains::lifecycle(&mut ctx);
        crate::domains::transient(&mut ctx);
        crate::networks::lifecycle(&mut ctx);
        crate::readonly::checks(&mut ctx);
        crate::unsupported::checks(&mut ctx);
        crate::robustness::checks(&mut ctx);
        crate::robustness::cleanup(&mut ctx);
    }
    crate::robustness::no_panics(&mut ctx);
    coverage(&mut ctx);
    ctx.report
}

/// Resolves the URI and opens the two connections. False when there is nothing to connect to.
fn connect(ctx: &mut Ctx) -> bool {
    let given = ctx
        .opts
        .uri
        .clone()
        .or_else(|| ctx.driver.sandbox_uri().map(str::to_string));
    let Some(mut uri) = given else {
        ctx.skip(
            "connect/open",
            &[Op::Open],
            "no URI: the driver declares no sandbox URI and --uri was not given; every check that needs a \
             connection (contracts, read-only, not-supported, robustness) is skipped",
        );
        return false;
    };
    if uri.contains("{tmpdir}") {
        match tempfile::Builder::new()
            .prefix("virtkit-sandbox-")
            .tempdir()
        {
            Ok(d) => {
                uri = uri.replace("{tmpdir}", &d.path().display().to_string());
                ctx._sandbox_dir = Some(d);
            }
            Err(e) => {
                ctx.report.push(
                    "connect/open",
                    &["open"],
                    Outcome::Failed(format!("cannot create the sandbox directory: {e}")),
                );
                return false;
            }
        }
    }
    ctx.uri = Some(uri.clone());
    ctx.report.uri = Some(uri.clone());

    // Ask the driver directly first, to tell "declined" and "component missing" apart.
    let direct = ctx.driver.open(&uri, 0);
    match direct {
        Ok(Opened::Conn(_)) => {}
        Ok(Opened::Declined) => {
            ctx.report.push(
                "connect/open",
                &["open"],
                Outcome::Failed(format!("the driver declines {uri}")),
            );
            return false;
        }
        Err(e) if e.code == ErrorCode::NoConnect => {
            ctx.skip(
                "connect/open",
                &[Op::Open],
                &format!(
                    "the driver cannot open {uri} on this machine ({}); every check that needs a connection is skipped",
                    e.message
                ),
            );
            return false;
        }
        Err(e) => {
            ctx.report.push(
                "connect/open",
                &["open"],
                Outcome::Failed(format!(
                    "opening {uri} failed: {} ({})",
                    e.message,
                    code_name(e.code)
                )),
            );
            return false;
        }
    }
    let registry = ctx.registry.clone();
    ctx.check("connect/open", &[Op::Open, Op::Close], |c| {
        let conn = ok(
            format!("opening {uri}"),
            Connect::open_with(Some(&uri), false, &registry),
        )?;
        let served = conn.drivers();
        let expected = 1 + c.others.len();
        ensure!(
            served.len() == expected
                && served.iter().any(|d| d.name == c.driver.name())
                && c.others
                    .iter()
                    .all(|o| served.iter().any(|d| d.name == o.name())),
            "{uri} is served by {:?}, not by this plugin{}",
            served.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            if c.others.is_empty() {
                " alone".to_string()
            } else {
                format!(" and the {} given with it", c.others.len())
            }
        );
        for d in &c.declining {
            let skipped = conn.skipped_drivers().iter().find(|s| s.name == d.name());
            ensure!(
                skipped.is_some_and(|s| !s.reason.trim().is_empty()),
                "{} was given as declining {uri} but {}",
                d.name(),
                if skipped.is_some() {
                    "gives no reason for not opening"
                } else {
                    "is not among the members that did not open"
                }
            );
        }
        c.rw = Some(conn);
        Ok(())
    });
    ctx.check("connect/open-read-only", &[Op::Open, Op::Close], |c| {
        let conn = ok(
            format!("opening {uri} read-only"),
            Connect::open_with(Some(&uri), true, &registry),
        )?;
        ensure!(
            conn.is_read_only(),
            "the connection does not say it is read-only"
        );
        c.ro = Some(conn);
        Ok(())
    });
    ctx.rw.is_some() || ctx.ro.is_some()
}

/// Which declared operations no check exercised (their checks were all skipped).
fn coverage(ctx: &mut Ctx) {
    let mut exercised = std::collections::HashSet::new();
    for c in &ctx.report.checks {
        if !matches!(c.outcome, Outcome::Skipped(_)) {
            exercised.extend(c.ops.iter().copied());
        }
    }
    let missing: Vec<&str> = Op::ALL
        .iter()
        .filter(|op| ctx.has(**op) && !exercised.contains(op.info().field))
        .map(|op| op.info().field)
        .collect();
    let outcome = if missing.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Skipped(format!(
            "declared but not exercised (their checks were skipped): {}",
            missing.join(", ")
        ))
    };
    ctx.report.push("coverage/declared-ops", &[], outcome);
}
