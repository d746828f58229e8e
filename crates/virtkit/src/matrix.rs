//! The hypervisor support matrix: which driver implements which API, since which ABI version.

use virtkit_abi::{OPS, VK_ABI_MAJOR};

use crate::connect::DriverSummary;

/// The support matrix of `drivers` as a Markdown table: one row per API (every slot of the
/// driver table, in slot order), one column per driver (sorted by name), each cell the ABI
/// version that added the slot when the driver implements it (`1.0`, `1.1`, ...), blank when the
/// slot is NULL. Columns are padded so that the table also reads well in a terminal.
///
/// `cargo xtask hvsupport` writes it into `docs/hvsupport.md` for the in-tree plugins, and
/// `virtkit drivers --matrix` prints it for the plugins installed on the machine.
pub fn support_matrix(drivers: &[DriverSummary]) -> String {
    let mut columns: Vec<&DriverSummary> = drivers.iter().collect();
    columns.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.origin.cmp(&b.origin)));

    let mut rows: Vec<Vec<String>> = Vec::with_capacity(OPS.len() + 1);
    let mut header = vec!["API".to_string()];
    header.extend(columns.iter().map(|d| d.name.clone()));
    rows.push(header);
    for info in OPS {
        let mut row = vec![info.api.to_string()];
        for d in &columns {
            let implemented = d.supported.iter().any(|op| *op as usize == info.index);
            row.push(if implemented {
                format!("{VK_ABI_MAJOR}.{}", info.since_minor)
            } else {
                String::new()
            });
        }
        rows.push(row);
    }

    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&rows[0]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtkit_abi::Op;

    fn summary(name: &str, supported: &[Op]) -> DriverSummary {
        DriverSummary {
            name: name.into(),
            version: "1.0.0".into(),
            abi: (1, 1),
            schemes: vec![name.into()],
            origin: format!("/x/libvirtkit_driver_{name}.so"),
            supported: supported.to_vec(),
        }
    }

    #[test]
    fn one_row_per_api_one_column_per_driver_sorted() {
        let t = support_matrix(&[
            summary("zeta", &[Op::Open, Op::Close, Op::DomainGetState]),
            summary("alpha", &[Op::Open, Op::Close, Op::GetType]),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), OPS.len() + 2, "{t}");
        assert!(
            lines[0].starts_with("| API") && lines[0].contains("| alpha | zeta"),
            "{t}"
        );
        assert!(lines[1].starts_with("| ---"), "{t}");
        let row = |api: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("| {api} ")))
                .copied()
                .unwrap()
        };
        let cells = |api: &str| -> Vec<String> {
            row(api)
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        };
        assert_eq!(cells("virConnectOpen"), ["virConnectOpen", "1.0", "1.0"]);
        assert_eq!(cells("virConnectGetType"), ["virConnectGetType", "1.0", ""]);
        assert_eq!(cells("virDomainGetState"), ["virDomainGetState", "", "1.1"]);
        assert_eq!(cells("virDomainSuspend"), ["virDomainSuspend", "", ""]);
    }

    #[test]
    fn every_line_is_a_table_row_without_trailing_spaces() {
        let t = support_matrix(&[summary("test", &[Op::Open])]);
        for l in t.lines() {
            assert!(l.starts_with('|') && l.ends_with('|'), "{l:?}");
            assert!(!l.ends_with(" "), "{l:?}");
        }
        // No driver at all still gives the API column.
        assert_eq!(support_matrix(&[]).lines().count(), OPS.len() + 2);
    }
}
