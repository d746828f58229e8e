//! Container configuration files (`<confdir>/<CTID>.conf`): shell-style `KEY="value"` lines.
//!
//! The reading rules are the ones libvirt's OpenVZ driver applied, so the values are the ones it
//! read: a parameter is a line that starts with `KEY=` (no leading blank); its value is the first
//! run of characters after the `=` that contains no double quote, tab or newline (so quotes are
//! optional, and an unterminated quote still gives the value); a line whose value is empty
//! (`KEY=""`) does not count; when a key is repeated, the last line with a value wins. Lines
//! starting with `#` are comments, except that `#UUID: <uuid>` carries the container's libvirt
//! UUID (a comment, so the OpenVZ tools ignore it).
//!
//! Parsing is linear in the input and never fails: a line that is not a parameter is kept as
//! text and skipped, like a comment.

/// One line of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    /// `KEY=...`: the key and the value read from it (`None` when empty).
    Param(String, Option<String>, String),
    /// Anything else, kept as written.
    Other(String),
}

/// A parsed configuration file; it can be edited and written back line for line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VzConfig {
    lines: Vec<Line>,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The value libvirt read from the text after `=`: the first token between `"`, tab and newline.
fn token(rest: &str) -> Option<&str> {
    rest.split(['"', '\t', '\n']).find(|t| !t.is_empty())
}

impl VzConfig {
    /// Parses a configuration file's text.
    pub fn parse(text: &str) -> VzConfig {
        let lines = text
            .split_inclusive('\n')
            .map(|raw| {
                let line = raw.strip_suffix('\n').unwrap_or(raw);
                let key_len = line.find(|c: char| !is_key_char(c)).unwrap_or(line.len());
                match line[key_len..].strip_prefix('=') {
                    Some(rest) if key_len > 0 => Line::Param(
                        line[..key_len].to_string(),
                        token(rest).map(str::to_string),
                        line.to_string(),
                    ),
                    _ => Line::Other(line.to_string()),
                }
            })
            .collect();
        VzConfig { lines }
    }

    /// The value of `key`: the last non-empty one, as libvirt read it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|l| match l {
            Line::Param(k, Some(v), _) if k == key => Some(v.as_str()),
            _ => None,
        })
    }

    /// Every key with a value, in file order, each once (its effective value).
    pub fn keys(&self) -> Vec<&str> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for l in &self.lines {
            if let Line::Param(k, Some(_), _) = l
                && seen.insert(k.as_str())
            {
                out.push(k.as_str());
            }
        }
        out
    }

    /// The `#UUID:` comment's text (the rest of the first such line), if any.
    pub fn uuid(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Other(t) => {
                let (iden, rest) = t.split_once(' ')?;
                (iden == "#UUID:").then(|| rest.trim())
            }
            _ => None,
        })
    }

    /// Sets `key` to `value` the way vzctl and libvirt save a parameter: every line of the key
    /// goes, and `KEY="value"` is appended.
    pub fn set(&mut self, key: &str, value: &str) {
        self.remove(key);
        self.lines.push(Line::Param(
            key.to_string(),
            Some(value.to_string()).filter(|v| !v.is_empty()),
            format!("{key}=\"{value}\""),
        ));
    }

    /// Removes every line of `key`.
    pub fn remove(&mut self, key: &str) {
        self.lines
            .retain(|l| !matches!(l, Line::Param(k, _, _) if k == key));
    }

    /// Appends the `#UUID:` comment (after an empty line, as libvirt wrote it).
    pub fn set_uuid(&mut self, uuid: &str) {
        self.lines.push(Line::Other(String::new()));
        self.lines.push(Line::Other(format!("#UUID: {uuid}")));
    }

    /// The file's text: the lines as read, edited ones as written by [`set`](Self::set).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Param(_, _, raw) | Line::Other(raw) => out.push_str(raw),
            }
            out.push('\n');
        }
        out
    }
}

/// A user-beancounter value `barrier[:limit]` (a single number is both); `unlimited` and the
/// kernel's "no limit" numbers read as `None`.
pub fn barrier_limit(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let one = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s == "unlimited" {
            return Some(None);
        }
        let n: u64 = s.parse().ok()?;
        Some((n < UNLIMITED_32).then_some(n))
    };
    match value.split_once(':') {
        Some((b, l)) => Some((one(b)?, one(l)?)),
        None => {
            let v = one(value)?;
            Some((v, v))
        }
    }
}

/// Beancounter values from this one up mean "no limit" (`LONG_MAX` on 32-bit kernels; 64-bit
/// kernels write `LONG_MAX` of their own, which is larger).
pub const UNLIMITED_32: u64 = 2_147_483_647;

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/openvz");

    /// libvirt's openvzutilstest: the values it read from the real configuration file, as data.
    #[test]
    fn corpus_config_params() {
        let dir = std::path::Path::new(CORPUS);
        let cases = std::fs::read_to_string(dir.join("cases.tsv"))
            .expect("the shared corpus is beside the repository");
        let mut checked = 0;
        for line in cases
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            if !cols[1].ends_with(".tsv") {
                continue;
            }
            let conf = VzConfig::parse(&std::fs::read_to_string(dir.join(cols[0])).unwrap());
            let expected = std::fs::read_to_string(dir.join(cols[1])).unwrap();
            for row in expected
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                let f: Vec<&str> = row.split('\t').collect();
                let (param, value, found) = (f[0], f[1], f[2] == "1");
                assert_eq!(
                    conf.get(param),
                    found.then_some(value),
                    "{} {param}",
                    cols[0]
                );
                checked += 1;
            }
        }
        assert!(checked >= 3, "only {checked} values checked");
    }

    #[test]
    fn quoting_comments_and_repeats() {
        let c = VzConfig::parse(
            "# comment\nA=\"1\"\nB=plain\nC=\"unterminated\nA=\"2\"\nA=\"\"\n D=\"indented\"\nE=\"a b\"\nBAD LINE\nF=\"x\"y\"\nGG=\"\tt\"\n#UUID: 7109d234-f5a8-30a6-5dd2-39ca85ce3958\n",
        );
        assert_eq!(c.get("A"), Some("2"), "the last non-empty value wins");
        assert_eq!(c.get("B"), Some("plain"));
        assert_eq!(c.get("C"), Some("unterminated"));
        assert_eq!(
            c.get("D"),
            None,
            "libvirt matched keys at the start of the line only"
        );
        assert_eq!(c.get("E"), Some("a b"));
        assert_eq!(c.get("F"), Some("x"));
        assert_eq!(c.get("GG"), Some("t"));
        assert_eq!(c.get("G"), None, "a key is matched whole");
        assert_eq!(c.uuid(), Some("7109d234-f5a8-30a6-5dd2-39ca85ce3958"));
        assert_eq!(c.keys(), vec!["A", "B", "C", "E", "F", "GG"]);
    }

    #[test]
    fn edits_keep_other_lines() {
        let text = "# head\nONBOOT=\"no\"\nCPUS=\"2\"\nONBOOT=\"yes\"\n";
        let mut c = VzConfig::parse(text);
        assert_eq!(c.to_text(), text);
        c.set("ONBOOT", "no");
        c.set_uuid("u");
        assert_eq!(
            c.to_text(),
            "# head\nCPUS=\"2\"\nONBOOT=\"no\"\n\n#UUID: u\n"
        );
        assert_eq!(VzConfig::parse(&c.to_text()), c);
        c.remove("CPUS");
        assert_eq!(c.get("CPUS"), None);
    }

    #[test]
    fn beancounters() {
        assert_eq!(barrier_limit("0:2147483647"), Some((Some(0), None)));
        assert_eq!(
            barrier_limit("360000:360000"),
            Some((Some(360000), Some(360000)))
        );
        assert_eq!(barrier_limit("5"), Some((Some(5), Some(5))));
        assert_eq!(barrier_limit("unlimited"), Some((None, None)));
        assert_eq!(
            barrier_limit("9223372036854775807:9223372036854775807"),
            Some((None, None))
        );
        assert_eq!(barrier_limit("x:1"), None);
    }
}
