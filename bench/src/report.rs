//! The table of results: printed on the terminal, or written into `docs/benchmarks.md`.

use std::path::Path;

use crate::machine::Machine;
use crate::stats;

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Which group the row belongs to (printed once, above its first row).
    pub group: &'static str,
    pub name: String,
    pub virtkit: String,
    pub peer: String,
    /// virtkit ÷ peer, in the row's unit (time or memory: lower is better).
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
    /// The ratio the target asks for, when the target is a ratio (drawn on the plot).
    pub target_ratio: Option<f64>,
}

impl Row {
    /// A row without a target.
    pub fn info(
        group: &'static str,
        name: impl Into<String>,
        virtkit: impl Into<String>,
        peer: impl Into<String>,
        ratio: Option<f64>,
    ) -> Row {
        Row {
            group,
            name: name.into(),
            virtkit: virtkit.into(),
            peer: peer.into(),
            ratio,
            target: "—".into(),
            met: None,
            target_ratio: None,
        }
    }

    /// A row whose target is `ratio ≤ max`.
    pub fn ratio_target(mut self, max: f64, text: impl Into<String>) -> Row {
        self.target = text.into();
        self.met = self.ratio.map(|r| r <= max);
        self.target_ratio = Some(max);
        self
    }

    /// A row whose target is an absolute bound on virtkit's own figure.
    pub fn absolute_target(mut self, met: bool, text: impl Into<String>) -> Row {
        self.target = text.into();
        self.met = Some(met);
        self
    }
}

/// Everything one run measured.
pub struct Report {
    pub machine: Machine,
    pub command: String,
    pub rows: Vec<Row>,
    /// "skipped: ..." lines: what could not be measured, and why.
    pub skipped: Vec<String>,
    /// Remarks on how figures were obtained (counts of refused files, fallbacks...).
    pub notes: Vec<String>,
    /// File name of the plot written next to the Markdown file, if any.
    pub svg: Option<String>,
}

const HEADERS: [&str; 6] = ["benchmark", "virtkit", "peer", "ratio", "target", "met?"];

fn cells(r: &Row) -> [String; 6] {
    [
        r.name.clone(),
        r.virtkit.clone(),
        r.peer.clone(),
        r.ratio.map(stats::ratio).unwrap_or_else(|| "—".into()),
        r.target.clone(),
        match r.met {
            Some(true) => "yes".into(),
            Some(false) => "NO".into(),
            None => "—".into(),
        },
    ]
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

impl Report {
    /// The table as plain text, for the terminal.
    pub fn to_text(&self) -> String {
        let mut widths = HEADERS.map(width);
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(cells(r)) {
                *w = (*w).max(width(&c));
            }
        }
        let line = |cols: &[String]| -> String {
            let parts: Vec<String> = cols.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
            parts.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = String::new();
        out.push_str(&self.machine.to_text());
        out.push('\n');
        out.push_str(&line(&HEADERS.map(String::from)));
        let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        out.push_str(&"-".repeat(total));
        out.push('\n');
        let mut group = "";
        for r in &self.rows {
            if r.group != group {
                group = r.group;
                out.push_str(&format!("[{group}]\n"));
            }
            out.push_str(&line(&cells(r)));
        }
        out.push_str(
            "\nratio = virtkit ÷ peer (time per operation, or memory): lower is better.\n",
        );
        for s in &self.skipped {
            out.push_str(&format!("skipped: {s}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }

    /// The generated part of `docs/benchmarks.md`, between its markers.
    pub fn to_markdown_block(&self) -> String {
        let mut out = String::new();
        out.push_str(BEGIN);
        out.push_str("\n\n");
        out.push_str(&format!(
            "Produced by `{}`; `cargo xtask bench` runs the same after \
             `cargo build --release --workspace`.\n\n",
            self.command
        ));
        out.push_str(&self.machine.to_markdown());
        out.push('\n');
        out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
        out.push_str("|---|---:|---:|---:|---|---|\n");
        let mut group = "";
        for r in &self.rows {
            if r.group != group {
                group = r.group;
                out.push_str(&format!("| **{group}** | | | | | |\n"));
            }
            let c = cells(r).map(|c| c.replace('|', "\\|"));
            out.push_str(&format!("| {} |\n", c.join(" | ")));
        }
        out.push_str(
            "\nratio = virtkit ÷ peer, in the row's unit (time per operation, or memory): lower is better.\n",
        );
        if let Some(svg) = &self.svg {
            out.push_str(&format!("\n![every ratio, with its target]({svg})\n"));
        }
        if !self.skipped.is_empty() {
            out.push('\n');
            for s in &self.skipped {
                out.push_str(&format!("- skipped: {s}\n"));
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out.push('\n');
        out.push_str(END);
        out.push('\n');
        out
    }

    /// Writes the table into `path`: between the markers when the file has them (the text around
    /// them, the analysis, is kept), else as a new file.
    pub fn write_markdown(&self, path: &Path) -> std::io::Result<()> {
        let block = self.to_markdown_block();
        let text = match std::fs::read_to_string(path) {
            Ok(old) => match (old.find(BEGIN), old.find(END)) {
                (Some(b), Some(e)) if b < e => {
                    let after = &old[e + END.len()..];
                    let after = after.strip_prefix('\n').unwrap_or(after);
                    format!("{}{block}{after}", &old[..b])
                }
                _ => fresh_document(&block),
            },
            Err(_) => fresh_document(&block),
        };
        std::fs::write(path, text)
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Report {
    /// A horizontal bar chart of every ratio (log scale, 1× in the middle; left of it virtkit is
    /// faster or smaller): green when the row's target is met, red when missed, grey without a
    /// target; a target that is a ratio is drawn as a black tick.
    pub fn to_svg(&self) -> String {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.ratio.is_some()).collect();
        let (label_w, plot_w, row_h, top) = (520.0, 420.0, 20.0, 46.0);
        let (lo, hi) = (-3.0_f64, 2.0_f64);
        let x = |r: f64| label_w + (r.log10().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
        let height = top + row_h * rows.len() as f64 + 30.0;
        let width = label_w + plot_w + 80.0;
        let mut o = format!(
            "<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' \
             font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n\
             <text x='10' y='18' font-size='13'>virtkit ÷ peer (log scale; left of 1× virtkit is faster or smaller)</text>\n\
             <text x='10' y='34' fill='#555'>{}</text>\n",
            xml_escape(&format!(
                "{} ({} cores), {}",
                self.machine.cpu, self.machine.cores, self.machine.date
            ))
        );
        for p in -3..=2 {
            let px = x(10f64.powi(p));
            let label = match p {
                -3 => "0.001×".to_string(),
                -2 => "0.01×".into(),
                -1 => "0.1×".into(),
                0 => "1×".into(),
                1 => "10×".into(),
                _ => "100×".into(),
            };
            o.push_str(&format!(
                "<line x1='{px:.1}' y1='{top}' x2='{px:.1}' y2='{:.1}' stroke='{}'/>\n\
                 <text x='{px:.1}' y='{:.1}' text-anchor='middle' fill='#555'>{label}</text>\n",
                height - 26.0,
                if p == 0 { "#000" } else { "#ddd" },
                height - 12.0
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            let y = top + row_h * i as f64;
            let ratio = r.ratio.unwrap_or(1.0);
            let (a, b) = (x(1.0).min(x(ratio)), x(1.0).max(x(ratio)));
            let color = match r.met {
                Some(true) => "#3a3",
                Some(false) => "#d33",
                None => "#99a",
            };
            let group = r.group.split([':', '(']).next().unwrap_or("").trim();
            let mut name = format!("{group} · {}", r.name);
            if name.chars().count() > 80 {
                name = name.chars().take(78).collect::<String>() + "…";
            }
            o.push_str(&format!(
                "<text x='{:.1}' y='{:.1}' text-anchor='end'>{}</text>\n\
                 <rect x='{a:.1}' y='{:.1}' width='{:.1}' height='{:.1}' fill='{color}'/>\n\
                 <text x='{:.1}' y='{:.1}' fill='#333'>{}</text>\n",
                label_w - 8.0,
                y + 14.0,
                xml_escape(&name),
                y + 4.0,
                (b - a).max(1.0),
                row_h - 8.0,
                b + 4.0,
                y + 14.0,
                stats::ratio(ratio)
            ));
            if let Some(t) = r.target_ratio {
                let tx = x(t);
                o.push_str(&format!(
                    "<line x1='{tx:.1}' y1='{:.1}' x2='{tx:.1}' y2='{:.1}' stroke='#000' stroke-width='2'/>\n",
                    y + 1.0,
                    y + row_h - 1.0
                ));
            }
        }
        o.push_str("</svg>\n");
        o
    }
}

const BEGIN: &str = "<!-- virtkit-bench:begin (generated by virtkit-bench --markdown; edit outside the markers) -->";
const END: &str = "<!-- virtkit-bench:end -->";

fn fresh_document(block: &str) -> String {
    format!(
        "# Benchmarks\n\n`cargo xtask bench` builds the workspace in release mode and runs \
         `target/release/virtkit-bench`, which measures virtkit and libvirt 9.0 (virsh, and the \
         Python bindings on libvirt's own test driver) in the same run.\n\n{block}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            machine: Machine::fixed(),
            command: "virtkit-bench".into(),
            rows: vec![
                Row::info("g", "a", "1 ms", "10 ms", Some(0.1)).ratio_target(0.2, "≤ 0.2×"),
                Row::info("g", "b", "1 ms", "—", None),
            ],
            skipped: vec!["qemu: no".into()],
            notes: vec![],
            svg: None,
        }
    }

    #[test]
    fn text_has_every_row_and_the_verdict() {
        let t = report().to_text();
        assert!(t.contains("benchmark"));
        assert!(t.contains("yes"));
        assert!(t.contains("skipped: qemu: no"));
    }

    #[test]
    fn svg_has_one_bar_per_ratio() {
        let svg = report().to_svg();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn markdown_keeps_the_text_around_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.md");
        std::fs::write(&p, format!("# T\nbefore\n{BEGIN}\nold\n{END}\nafter\n")).unwrap();
        report().write_markdown(&p).unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.starts_with("# T\nbefore\n"));
        assert!(t.ends_with(&format!("{END}\nafter\n")));
        assert!(!t.contains("\nold\n"));
        assert!(t.contains("| a | 1 ms | 10 ms |"));
    }
}
