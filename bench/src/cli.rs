//! The `cli` group: one whole `virtkit -c test:///default list --all` process beside `virsh`'s
//! (wall time and peak RSS).

use std::path::Path;

use crate::procs::{self, Cmd, Timer};
use crate::report::Row;
use crate::stats::{self, Summary};
use crate::{INSTALL, Run, progress};

impl Run<'_> {
    /// The `cli` group: `virtkit -c test:///default list --all` vs `virsh`, whole process.
    pub(crate) fn cli(&mut self) {
        const G: &str = "CLI: `-c test:///default list --all`, whole process";
        progress("whole process: virtkit list --all vs virsh");
        let virtkit = Cmd::new(
            self.o.release.join("virtkit"),
            &["-c", "test:///default", "list", "--all"],
        );
        let virsh = Cmd::new(
            "/usr/bin/virsh",
            &["-c", "test:///default", "list", "--all"],
        );
        let works = |c: &Cmd| -> Result<(), String> {
            if !procs::is_executable(&c.program) {
                return Err(format!("{} not found", c.program.display()));
            }
            let out = c.output()?;
            if out.contains("test") && out.contains("running") {
                Ok(())
            } else {
                Err(format!(
                    "`{}` does not list the test domain (output: {:?})",
                    c.shell_words(),
                    out.trim()
                ))
            }
        };
        let v_ok = works(&virtkit);
        let p_ok = works(&virsh).map_err(|e| {
            if !Path::new("/usr/bin/virsh").exists() {
                format!("virsh not found: {INSTALL}")
            } else {
                e
            }
        });
        if let Err(e) = &v_ok {
            self.skip(format!(
                "virtkit CLI: {e} (build it with `cargo build --release --workspace`)"
            ));
        }
        if let Err(e) = &p_ok {
            self.skip(format!("virsh: {e}"));
        }
        let timer = match procs::which("hyperfine") {
            Some(h) => Timer::Hyperfine(h),
            None => {
                let m = format!(
                    "hyperfine not found: {INSTALL}; whole-process times taken with the built-in timer"
                );
                progress(&m);
                self.notes.push(m);
                Timer::Plain
            }
        };
        let mut cmds = Vec::new();
        if v_ok.is_ok() {
            cmds.push(&virtkit);
        }
        if p_ok.is_ok() {
            cmds.push(&virsh);
        }
        if cmds.is_empty() {
            return;
        }
        let times = procs::time_commands(
            &timer,
            &cmds,
            self.s.cli_warmup,
            self.s.cli_runs,
            self.tmp.path(),
        );
        let times = match times {
            Ok(t) => t,
            Err(e) => {
                self.skip(format!("whole-process timing: {e}"));
                return;
            }
        };
        let (vt, pt) = match (v_ok.is_ok(), p_ok.is_ok()) {
            (true, true) => (Some(times[0]), Some(times[1])),
            (true, false) => (Some(times[0]), None),
            _ => (None, Some(times[0])),
        };
        let show = |s: Option<Summary>, f: fn(&Summary) -> f64| {
            s.map(|s| stats::time(f(&s)))
                .unwrap_or_else(|| "skipped".into())
        };
        let ratio = |f: fn(&Summary) -> f64| match (vt, pt) {
            (Some(a), Some(b)) => Some(f(&a) / f(&b)),
            _ => None,
        };
        let runs = self.s.cli_runs;
        self.rows.push(
            Row::info(
                G,
                format!("wall time, min of {runs} runs"),
                show(vt, |s| s.min),
                show(pt, |s| s.min),
                ratio(|s| s.min),
            )
            .ratio_target(0.2, "≤ 0.2×"),
        );
        self.rows.push(Row::info(
            G,
            format!("wall time, median of {runs} runs"),
            show(vt, |s| s.median),
            show(pt, |s| s.median),
            ratio(|s| s.median),
        ));

        let rss = |c: &Cmd, ok: bool| ok.then(|| procs::peak_rss_kib(c, self.s.rss_runs));
        let vr = rss(&virtkit, v_ok.is_ok());
        let pr = rss(&virsh, p_ok.is_ok());
        let cell = |r: &Option<Result<Summary, String>>| match r {
            Some(Ok(s)) => stats::kib(s.median),
            Some(Err(_)) | None => "skipped".into(),
        };
        let ratio = match (&vr, &pr) {
            (Some(Ok(a)), Some(Ok(b))) => Some(a.median / b.median),
            _ => None,
        };
        for r in [&vr, &pr].into_iter().flatten() {
            if let Err(e) = r {
                self.skipped.push(format!("peak RSS: {e}"));
            }
        }
        self.rows.push(Row::info(
            G,
            "peak RSS (ru_maxrss of the child)",
            cell(&vr),
            cell(&pr),
            ratio,
        ));
    }
}
