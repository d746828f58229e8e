//! What the figures were measured on.

use std::process::Command;

/// The machine and toolchain of a run.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
    /// 1-minute load average when the run started (the machine may be shared).
    pub load: String,
    /// The same when it ended.
    pub load_end: String,
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

impl Machine {
    /// Reads `/proc` and asks `rustc` and `date`.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let rustc = first_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into());
        let date =
            first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".into());
        let load = load_average();
        Machine {
            cpu,
            cores,
            kernel,
            rustc,
            date,
            load_end: load.clone(),
            load,
        }
    }

    /// Records the load average at the end of the run.
    pub fn finish(&mut self) {
        self.load_end = load_average();
    }

    /// A fixed machine, for tests.
    #[cfg(test)]
    pub fn fixed() -> Machine {
        Machine {
            cpu: "cpu".into(),
            cores: 2,
            kernel: "6".into(),
            rustc: "rustc".into(),
            date: "today".into(),
            load: "0.00".into(),
            load_end: "0.00".into(),
        }
    }

    pub fn to_text(&self) -> String {
        format!(
            "machine: {} ({} cores), Linux {}, {}, {} (1-minute load average {} at start, {} at end)\n",
            self.cpu, self.cores, self.kernel, self.rustc, self.date, self.load, self.load_end
        )
    }

    pub fn to_markdown(&self) -> String {
        format!(
            "| machine | |\n|---|---|\n| CPU | {} |\n| cores | {} |\n| kernel | Linux {} |\n\
             | compiler | {} |\n| date | {} |\n| 1-minute load average, start / end | {} / {} |\n",
            self.cpu, self.cores, self.kernel, self.rustc, self.date, self.load, self.load_end
        )
    }
}
