//! What the suite found: one outcome per check, and the text and JSON renderings.

use std::fmt::Write as _;

use serde::Serialize;

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// The driver met the contract.
    Passed,
    /// The driver broke the contract; the reason says how.
    Failed(String),
    /// The check could not run; the reason says why (an operation the driver does not declare,
    /// no sandbox, a component missing on this machine).
    Skipped(String),
}

impl Outcome {
    /// Whether this is a failure.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier, `group/name`, e.g. `lifecycle/suspend-twice`.
    pub name: String,
    /// The driver-table slots (field names) the check exercises.
    pub ops: Vec<&'static str>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What the suite knows about the driver it judged (from the loaded header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriverFacts {
    /// Driver name.
    pub name: String,
    /// Driver version.
    pub version: String,
    /// ABI version the driver was built against, `major.minor`.
    pub abi: String,
    /// URI schemes served.
    pub schemes: Vec<String>,
    /// Whether the driver declares `VK_DRIVER_THREAD_SAFE`.
    pub thread_safe: bool,
    /// The sandbox URI the header declares (empty: none).
    pub sandbox_uri: String,
    /// The slots the driver implements, in slot order.
    pub supported: Vec<&'static str>,
}

/// Pass, fail and skip counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks passed.
    pub passed: usize,
    /// Checks failed.
    pub failed: usize,
    /// Checks skipped.
    pub skipped: usize,
}

/// The whole result of running the suite on one plugin file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The plugin file judged.
    pub plugin: String,
    /// The driver, when the file loaded.
    pub driver: Option<DriverFacts>,
    /// The URI the connection checks used (sandbox or `--uri`), when there was one.
    pub uri: Option<String>,
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
    /// The counts.
    pub summary: Summary,
}

impl Report {
    pub(crate) fn new(plugin: String) -> Report {
        Report {
            plugin,
            driver: None,
            uri: None,
            checks: Vec::new(),
            summary: Summary::default(),
        }
    }

    pub(crate) fn push(&mut self, name: &str, ops: &[&'static str], outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.summary.passed += 1,
            Outcome::Failed(_) => self.summary.failed += 1,
            Outcome::Skipped(_) => self.summary.skipped += 1,
        }
        self.checks.push(Check {
            name: name.to_string(),
            ops: ops.to_vec(),
            outcome,
        });
    }

    /// Whether every check passed or was skipped.
    pub fn success(&self) -> bool {
        self.summary.failed == 0
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome.is_failure())
    }

    /// The check named `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The summary line: `N passed, N failed, N skipped`.
    pub fn summary_line(&self) -> String {
        let s = self.summary;
        format!(
            "{} passed, {} failed, {} skipped",
            s.passed, s.failed, s.skipped
        )
    }

    /// The human-readable report: a heading, one line per check, the summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "conformance: {}", self.plugin);
        if let Some(d) = &self.driver {
            let _ = writeln!(
                out,
                "driver {} {} (ABI {}), schemes {}, {} of {} operations{}",
                d.name,
                d.version,
                d.abi,
                d.schemes.join(", "),
                d.supported.len(),
                virtkit_abi::OP_COUNT,
                if d.thread_safe { ", thread-safe" } else { "" }
            );
        }
        match &self.uri {
            Some(u) => {
                let _ = writeln!(out, "uri {u}");
            }
            None => {
                let _ = writeln!(out, "uri (none)");
            }
        }
        for c in &self.checks {
            let _ = match &c.outcome {
                Outcome::Passed => writeln!(out, "passed  {}", c.name),
                Outcome::Failed(r) => writeln!(out, "failed  {}: {}", c.name, one_line(r)),
                Outcome::Skipped(r) => writeln!(out, "skipped {}: {}", c.name, one_line(r)),
            };
        }
        let _ = writeln!(out, "{}", self.summary_line());
        out
    }

    /// The machine-readable report (see the crate documentation for the format).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Longest reason the text report prints in full (the JSON report keeps everything).
const REASON_MAX: usize = 600;

/// A reason on one line: whitespace runs become one space, control characters are escaped, and
/// a very long reason (a driver echoing a 100 000-byte name) is cut.
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped: String = joined
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    match escaped.char_indices().nth(REASON_MAX) {
        Some((cut, _)) => format!(
            "{}... ({} more bytes)",
            &escaped[..cut],
            escaped.len() - cut
        ),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("/p/libvirtkit_driver_x.so".into());
        r.uri = Some("x:///".into());
        r.push("header/load", &["open"], Outcome::Passed);
        r.push(
            "lifecycle/start",
            &["domain_create"],
            Outcome::Failed("expected\nrunning".into()),
        );
        r.push(
            "robustness/threads",
            &[],
            Outcome::Skipped("not thread-safe".into()),
        );
        r
    }

    #[test]
    fn text_has_one_line_per_check_and_the_summary() {
        let t = sample().to_text();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "conformance: /p/libvirtkit_driver_x.so");
        assert_eq!(lines[1], "uri x:///");
        assert_eq!(lines[2], "passed  header/load");
        assert_eq!(lines[3], "failed  lifecycle/start: expected running");
        assert_eq!(lines[4], "skipped robustness/threads: not thread-safe");
        assert_eq!(lines[5], "1 passed, 1 failed, 1 skipped");
        assert_eq!(lines.len(), 6);
        assert!(!sample().success());
    }

    #[test]
    fn reasons_are_one_printable_line() {
        assert_eq!(one_line("a\n  b\0c"), "a b\\u{0}c");
        let long = one_line(&"x".repeat(10_000));
        assert!(
            long.len() < 700 && long.ends_with("(9400 more bytes)"),
            "{long}"
        );
    }

    #[test]
    fn json_carries_outcome_and_reason() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["summary"]["failed"], 1);
        assert_eq!(v["checks"][0]["name"], "header/load");
        assert_eq!(v["checks"][0]["outcome"], "passed");
        assert!(v["checks"][0].get("reason").is_none());
        assert_eq!(v["checks"][1]["outcome"], "failed");
        assert_eq!(v["checks"][1]["reason"], "expected\nrunning");
        assert_eq!(v["checks"][1]["ops"][0], "domain_create");
        assert_eq!(v["checks"][2]["outcome"], "skipped");
        assert!(v["driver"].is_null());
    }
}
