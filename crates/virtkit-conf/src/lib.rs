//! libvirt's configuration-file format: the subset of Python assignments that Xen's XM domain
//! configs, `libvirtd.conf` and `qemu.conf` are written in.
//!
//! ```text
//! # a comment line
//! name = "a string"        # a comment after the value
//! other = 'single quotes'
//! count = 128
//! list = [ "a", 'b',
//!          [ 1, 2 ], ]     # lists may span lines, nest, and end with a comma
//! ```
//!
//! The rules are libvirt's (`virconf.c`): a name starts with an ASCII letter and goes on with
//! letters, digits and `_`; a value is a string in double quotes, single quotes or Python's
//! triple double quotes (the only form that may span lines; there are no escapes), an integer
//! with an optional sign, or a list of values; statements end at a newline or `;`. Comment
//! lines and comments after a value are kept, so [`Conf::to_string`] writes a file back the way
//! libvirt does: `name = value`, strings in double quotes (single quotes when the string holds a
//! `"`, triple quotes when it holds both or a newline), lists as `[ a, b ]`. Blank lines are not
//! kept, as in libvirt. Unlike libvirt, comments between the items of a multi-line list are
//! accepted (and dropped), an integer that does not fit 64 bits is an error rather than
//! wrapping, and lists nest at most [`MAX_DEPTH`] deep.
//!
//! The parser is linear in its input and every error carries its line and column.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;

/// How deep lists may nest.
pub const MAX_DEPTH: usize = 32;

/// A syntax error, with where it is (1-based line and column, counted in characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct Error {
    /// The line of the error.
    pub line: usize,
    /// The column of the error.
    pub column: usize,
    /// What was expected or wrong, in libvirt's words where libvirt has them.
    pub message: String,
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// A value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer (libvirt keeps whether it was written with a minus sign; the value tells).
    Int(i128),
    /// A string.
    Str(String),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The list, when this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Whether the writer can write this value so that it reads back unchanged. The format
    /// has no escapes: a string on one line needs a quote it does not hold, and a string
    /// spanning lines (or holding both quotes) is written in triple quotes, so it must not hold
    /// `"""` nor end with `"`.
    pub fn is_writable(&self) -> bool {
        match self {
            Value::Int(_) => true,
            Value::Str(s) => {
                let one_line = !s.contains(['\n', '\r']);
                one_line && (!s.contains('"') || !s.contains('\''))
                    || (!s.contains("\"\"\"") && !s.ends_with('"'))
            }
            Value::List(items) => items.iter().all(Value::is_writable),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => {
                if s.contains(['\n', '\r']) {
                    write!(f, "\"\"\"{s}\"\"\"")
                } else if !s.contains('"') {
                    write!(f, "\"{s}\"")
                } else if !s.contains('\'') {
                    write!(f, "'{s}'")
                } else {
                    write!(f, "\"\"\"{s}\"\"\"")
                }
            }
            Value::List(items) => {
                f.write_str("[ ")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(" ]")
            }
        }
    }
}

/// One line of a file: an assignment (with the comment after it, if any) or a comment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `name = value #comment`.
    Setting {
        /// The name.
        name: String,
        /// The value.
        value: Value,
        /// The text after `#` on the same line, if any.
        comment: Option<String>,
    },
    /// `#comment` on a line of its own (the text after `#`).
    Comment(String),
}

/// A parsed file: its entries in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conf {
    entries: Vec<Entry>,
}

impl Conf {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a whole file.
    pub fn parse(text: &str) -> Result<Self> {
        Parser::new(text).parse()
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The value of the first setting named `name` (libvirt reads the first one).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find_map(|e| match e {
            Entry::Setting { name: n, value, .. } if n == name => Some(value),
            _ => None,
        })
    }

    /// The string setting `name`: `Ok(None)` when absent, an error naming the setting when it
    /// has another type.
    pub fn get_str(&self, name: &str) -> std::result::Result<Option<&str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(format!("expected a string for '{name}' parameter")),
        }
    }

    /// The integer setting `name`: `Ok(None)` when absent, an error when it has another type.
    pub fn get_int(&self, name: &str) -> std::result::Result<Option<i128>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(_) => Err(format!("expected an integer for '{name}' parameter")),
        }
    }

    /// The list of strings `name` (a lone string counts as a list of one, as XM configs allow):
    /// `Ok(None)` when absent, an error when an item is not a string.
    pub fn get_str_list(&self, name: &str) -> std::result::Result<Option<Vec<&str>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(vec![s.as_str()])),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| format!("expected a string list for '{name}' parameter"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Some),
            Some(Value::Int(_)) => Err(format!(
                "expected a string or string list for '{name}' parameter"
            )),
        }
    }

    /// Sets `name` to `value`: the first setting of that name changes (keeping its comment),
    /// or a new one is appended. Fails when `name` is not a valid setting name.
    pub fn set(&mut self, name: &str, value: Value) -> std::result::Result<(), String> {
        if !valid_name(name) {
            return Err(format!("'{name}' is not a valid setting name"));
        }
        for e in &mut self.entries {
            if let Entry::Setting {
                name: n, value: v, ..
            } = e
                && n == name
            {
                *v = value;
                return Ok(());
            }
        }
        self.entries.push(Entry::Setting {
            name: name.to_string(),
            value,
            comment: None,
        });
        Ok(())
    }

    /// Whether [`Conf::to_string`] reads back to these entries: every value
    /// [`is_writable`](Value::is_writable), and no comment holds a line break.
    pub fn is_writable(&self) -> bool {
        self.entries.iter().all(|e| match e {
            Entry::Setting { value, comment, .. } => {
                value.is_writable() && comment.as_deref().is_none_or(|c| !c.contains(['\n', '\r']))
            }
            Entry::Comment(c) => !c.contains(['\n', '\r']),
        })
    }

    /// Removes every setting named `name`; says whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|e| !matches!(e, Entry::Setting { name: n, .. } if n == name));
        before != self.entries.len()
    }
}

impl fmt::Display for Conf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            match e {
                Entry::Setting {
                    name,
                    value,
                    comment,
                } => {
                    write!(f, "{name} = {value}")?;
                    if let Some(c) = comment {
                        write!(f, " #{c}")?;
                    }
                }
                Entry::Comment(c) => write!(f, "#{c}")?,
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}

/// Whether `name` can be a setting's name: an ASCII letter, then letters, digits and `_`.
pub fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, message: &str) -> Error {
        Error {
            line: self.line,
            column: self.text[self.line_start..self.pos].chars().count() + 1,
            message: message.to_string(),
        }
    }

    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
            self.line_start = self.pos + 1;
        }
        self.pos += 1;
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Blanks and line ends; with `comments`, `#...` comments too (inside lists).
    fn skip_blanks_and_eol(&mut self, comments: bool) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump(),
                Some(b'#') if comments => {
                    while !matches!(self.peek(), None | Some(b'\n' | b'\r')) {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn rest_of_line(&mut self) -> String {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b'\n' | b'\r')) {
            self.pos += 1;
        }
        self.text[start..self.pos].to_string()
    }

    fn parse(mut self) -> Result<Conf> {
        let mut conf = Conf::new();
        loop {
            self.skip_blanks_and_eol(false);
            if self.peek().is_none() {
                return Ok(conf);
            }
            conf.entries.push(self.statement()?);
            self.separator()?;
        }
    }

    fn statement(&mut self) -> Result<Entry> {
        if self.peek() == Some(b'#') {
            self.pos += 1;
            return Ok(Entry::Comment(self.rest_of_line()));
        }
        let name = self.name()?;
        self.skip_blanks();
        if self.peek() != Some(b'=') {
            return Err(self.error("expecting an assignment"));
        }
        self.pos += 1;
        self.skip_blanks();
        let value = self.value(0)?;
        self.skip_blanks();
        let comment = if self.peek() == Some(b'#') {
            self.pos += 1;
            Some(self.rest_of_line())
        } else {
            None
        };
        Ok(Entry::Setting {
            name,
            value,
            comment,
        })
    }

    fn separator(&mut self) -> Result<()> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some(b'\n' | b'\r') => {
                self.skip_blanks_and_eol(false);
                Ok(())
            }
            Some(b';') => {
                self.pos += 1;
                self.skip_blanks_and_eol(false);
                Ok(())
            }
            Some(_) => Err(self.error("expecting a separator")),
        }
    }

    fn name(&mut self) -> Result<String> {
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(self.error("expecting a name"));
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            None => Err(self.error("expecting a value")),
            Some(b'"' | b'\'') => self.string().map(Value::Str),
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("lists nested too deeply"));
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_blanks_and_eol(true);
                if !matches!(self.peek(), None | Some(b']')) {
                    items.push(self.value(depth + 1)?);
                    self.skip_blanks_and_eol(true);
                }
                while !matches!(self.peek(), None | Some(b']')) {
                    if self.peek() != Some(b',') {
                        return Err(self.error("expecting a separator in list"));
                    }
                    self.pos += 1;
                    self.skip_blanks_and_eol(true);
                    if self.peek() == Some(b']') {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_blanks_and_eol(true);
                }
                if self.peek() != Some(b']') {
                    return Err(self.error("list is not closed with ]"));
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.integer(),
            Some(_) => Err(self.error("expecting a value")),
        }
    }

    fn integer(&mut self) -> Result<Value> {
        let neg = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.error("unterminated number"));
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        let magnitude: i128 = digits.parse::<u64>().map(i128::from).map_err(|_| Error {
            line: self.line,
            column: self.text[self.line_start..start].chars().count() + 1,
            message: "number out of range".into(),
        })?;
        Ok(Value::Int(if neg { -magnitude } else { magnitude }))
    }

    fn string(&mut self) -> Result<String> {
        let rest = &self.text[self.pos..];
        if rest.starts_with("\"\"\"") {
            let start_line = (self.line, self.pos);
            self.pos += 3;
            let body_start = self.pos;
            match self.text[body_start..].find("\"\"\"") {
                Some(len) => {
                    for _ in 0..len {
                        self.bump();
                    }
                    let s = self.text[body_start..body_start + len].to_string();
                    self.pos += 3;
                    Ok(s)
                }
                None => {
                    let (line, pos) = start_line;
                    Err(Error {
                        line,
                        column: self.text[self.line_start.min(pos)..pos].chars().count() + 1,
                        message: "unterminated string".into(),
                    })
                }
            }
        } else {
            let quote = self.peek().expect("called on a quote");
            self.pos += 1;
            let start = self.pos;
            while !matches!(self.peek(), None | Some(b'\n' | b'\r')) && self.peek() != Some(quote) {
                self.pos += 1;
            }
            if self.peek() != Some(quote) {
                return Err(self.error("unterminated string"));
            }
            let s = self.text[start..self.pos].to_string();
            self.pos += 1;
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Error {
        Conf::parse(text).unwrap_err()
    }

    #[test]
    fn values_of_every_kind_and_their_getters() {
        let c = Conf::parse(
            "a = 'x'\nb=\"y\" ; n = -5\nl = [ 'p',\n  # note\n  \"q\", ]\nt = \"\"\"two\nlines\"\"\"\n",
        )
        .unwrap();
        assert_eq!(c.get_str("a"), Ok(Some("x")));
        assert_eq!(c.get_str("b"), Ok(Some("y")));
        assert_eq!(c.get_int("n"), Ok(Some(-5)));
        assert_eq!(c.get_str_list("l"), Ok(Some(vec!["p", "q"])));
        assert_eq!(c.get_str_list("a"), Ok(Some(vec!["x"])));
        assert_eq!(c.get_str("t"), Ok(Some("two\nlines")));
        assert!(c.get_str("n").is_err());
        assert!(c.get_str_list("n").is_err());
        assert_eq!(c.get("missing"), None);
    }

    #[test]
    fn writer_quotes_as_libvirt_does() {
        assert_eq!(Value::Str("plain".into()).to_string(), "\"plain\"");
        assert_eq!(Value::Str("say \"hi\"".into()).to_string(), "'say \"hi\"'");
        assert_eq!(
            Value::Str("it's \"x\"".into()).to_string(),
            "\"\"\"it's \"x\"\"\"\""
        );
        assert_eq!(Value::Str("a\nb".into()).to_string(), "\"\"\"a\nb\"\"\"");
        assert_eq!(Value::List(vec![]).to_string(), "[  ]");
        // Whatever the writer emits parses back to the same value.
        for v in [
            Value::Str("carriage\rreturn \"quoted\" here".into()),
            Value::Str("say \"hi\"".into()),
            Value::Str("a\nb".into()),
            Value::List(vec![Value::Int(-1), Value::List(vec![])]),
        ] {
            let text = format!("k = {v}\n");
            assert!(v.is_writable());
            assert_eq!(Conf::parse(&text).unwrap().get("k"), Some(&v), "{text}");
        }
        // No quoting can carry these: the writer's callers are told.
        for s in [
            "two\nlines \"\"\" inside",
            "ends\nwith \"",
            "both ' and \" and \"\"\"",
        ] {
            assert!(!Value::Str(s.into()).is_writable(), "{s:?}");
        }
    }

    #[test]
    fn errors_are_positioned() {
        assert_eq!(
            err("a = 1\nb 2\n"),
            Error {
                line: 2,
                column: 3,
                message: "expecting an assignment".into()
            }
        );
        assert_eq!(err("a = 'open\n").message, "unterminated string");
        assert_eq!(err("a = [ 1 2 ]").message, "expecting a separator in list");
        assert_eq!(err("a = [ 1, 2").message, "list is not closed with ]");
        assert_eq!(err("a = ").message, "expecting a value");
        assert_eq!(err("a = x").message, "expecting a value");
        assert_eq!(err("1a = 2").message, "expecting a name");
        assert_eq!(err("a = 1 b = 2").message, "expecting a separator");
        assert_eq!(err("a = -").message, "unterminated number");
        assert_eq!(
            err("a = 99999999999999999999999").message,
            "number out of range"
        );
        assert_eq!(err("a = \"\"\"never closed").message, "unterminated string");
        let deep = format!(
            "a = {}{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(err(&deep).message, "lists nested too deeply");
        let ok = format!("a = {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Conf::parse(&ok).is_ok());
    }

    #[test]
    fn set_and_remove_keep_the_rest() {
        let mut c = Conf::parse("# head\nmemory = 128 # enough\nname = \"a\"\n").unwrap();
        c.set("memory", Value::Int(256)).unwrap();
        c.set("vcpus", Value::Int(2)).unwrap();
        assert!(c.set("bad name", Value::Int(1)).is_err());
        assert!(c.remove("name"));
        assert!(!c.remove("name"));
        assert_eq!(c.to_string(), "# head\nmemory = 256 # enough\nvcpus = 2\n");
    }

    #[test]
    fn big_inputs_parse() {
        // 100k list items and 100k settings: both linear.
        let list = format!("l = [ {} ]\n", vec!["'x'"; 100_000].join(", "));
        assert_eq!(
            Conf::parse(&list)
                .unwrap()
                .get_str_list("l")
                .unwrap()
                .unwrap()
                .len(),
            100_000
        );
        let many: String = (0..100_000).map(|i| format!("k{i} = {i}\n")).collect();
        assert_eq!(Conf::parse(&many).unwrap().entries().len(), 100_000);
    }
}
