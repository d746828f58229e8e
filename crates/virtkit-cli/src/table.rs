//! virsh's table layout (`list`, `net-list`, `vcpupin`): each cell is preceded by one space and
//! padded to its column's width plus two (three spaces between columns), the last cell is not
//! padded, the dashed line under the header is each column's width plus three. Without a header
//! (`-q`) the widths come from the rows alone. Control characters are shown as `\xNN`, as virsh
//! does, so they cannot break the alignment.

pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn encode(cell: &str) -> (String, usize) {
    let mut out = String::new();
    let mut width = 0;
    let bytes: Vec<char> = cell.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        let literal_hex = *c == '\\' && bytes.get(i + 1) == Some(&'x');
        if c.is_control() || literal_hex {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
                width += 4;
            }
        } else {
            out.push(*c);
            width += 1;
        }
    }
    (out, width)
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// Renders the table; `header` false (quiet mode) leaves out the header and its line.
    pub(crate) fn render(&self, header: bool) -> String {
        let mut encoded: Vec<Vec<(String, usize)>> = Vec::new();
        if header {
            encoded.push(self.header.iter().map(|c| encode(c)).collect());
        }
        for r in &self.rows {
            encoded.push(r.iter().map(|c| encode(c)).collect());
        }
        let mut widths = vec![0usize; self.header.len()];
        for r in &encoded {
            for (j, (_, w)) in r.iter().enumerate() {
                widths[j] = widths[j].max(*w);
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, r: &[(String, usize)]| {
            for (j, (text, w)) in r.iter().enumerate() {
                out.push(' ');
                out.push_str(text);
                if j + 1 < r.len() {
                    out.push_str(&" ".repeat(widths[j] - w + 2));
                }
            }
            out.push('\n');
        };
        let mut iter = encoded.iter();
        if header {
            if let Some(h) = iter.next() {
                line(&mut out, h);
            }
            out.push_str(&"-".repeat(widths.iter().map(|w| w + 3).sum()));
            out.push('\n');
        }
        for r in iter {
            line(&mut out, r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_list_layout() {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.row(vec!["1".into(), "test".into(), "running".into()]);
        t.row(vec!["-".into(), "vm1".into(), "shut off".into()]);
        assert_eq!(
            t.render(true),
            " Id   Name   State\n-----------------------\n 1    test   running\n -    vm1    shut off\n"
        );
        assert_eq!(
            t.render(false),
            " 1   test   running\n -   vm1    shut off\n"
        );
    }

    #[test]
    fn empty_table_is_header_and_line() {
        let t = Table::new(&["Id", "Name", "State"]);
        assert_eq!(t.render(true), " Id   Name   State\n--------------------\n");
        assert_eq!(t.render(false), "");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x\ty".into(), "z".into()]);
        assert_eq!(t.render(false), " x\\x09y   z\n");
    }
}
