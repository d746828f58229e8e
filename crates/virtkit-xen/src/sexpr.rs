//! xend's S-expressions: the value type, a parser with positioned errors, path lookups in the
//! manner of libvirt's `sexpr_node`/`sexpr_lookup`, and two writers.
//!
//! The grammar is the one xend speaks and libvirt 0.4.6 read (`sexpr.c`):
//!
//! - an expression is a list `( … )` of expressions separated by white space, or an atom;
//! - an atom is either bare — a run of characters up to white space, `(` or `)` — or quoted,
//!   starting with `'` or `"` and running to the same quote character. Inside quotes a backslash
//!   escapes the next character as Python's `repr` (which xend uses to print strings) writes it:
//!   `\\`, `\'`, `\"`, `\n`, `\t`, `\r` and `\xHH` for an ASCII byte; any other backslash is kept
//!   as it is.
//!
//! Unlike libvirt, which accepted anything (an unclosed list ended at the end of the text, text
//! after the expression was ignored), [`Sexpr::parse`] is strict: the text is one expression
//! with optional white space around it, every list is closed, every quoted atom ends, and lists
//! nest at most [`MAX_DEPTH`] deep. Errors carry the line, column and byte offset where the
//! problem is. The parser is iterative and linear in its input.
//!
//! ```
//! use virtkit_xen::Sexpr;
//!
//! let root = Sexpr::parse("(domain (domid 3) (name 'fv test') (image (linux (kernel /boot/vmlinuz))))")?;
//! assert_eq!(root.node("domain/name"), Some("fv test"));
//! assert_eq!(root.node("domain/image/linux/kernel"), Some("/boot/vmlinuz"));
//! assert!(root.has("domain/image/linux"));
//! assert_eq!(root.node("domain/image/hvm/kernel"), None);
//! // The canonical writer separates items by one space and quotes only where it must.
//! assert_eq!(
//!     root.to_string(),
//!     "(domain (domid 3) (name 'fv test') (image (linux (kernel /boot/vmlinuz))))"
//! );
//! # Ok::<(), virtkit_xen::Error>(())
//! ```

use std::fmt::{self, Write as _};

use crate::error::{Error, Result};

/// How deep lists may nest in a parsed S-expression. xend's domain descriptions nest five deep
/// (`domain/image/hvm/…`, `domain/device/vbd/…`); the cap stops hostile input from building a
/// value whose recursive traversal would exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// One S-expression: an atom (a string) or a list of S-expressions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Sexpr {
    /// A string; quoting in the source text is not kept.
    Atom(String),
    /// A list, possibly empty.
    List(Vec<Sexpr>),
}

impl Sexpr {
    /// An atom.
    pub fn atom(value: impl Into<String>) -> Sexpr {
        Sexpr::Atom(value.into())
    }

    /// A list of the given items.
    pub fn list(items: impl IntoIterator<Item = Sexpr>) -> Sexpr {
        Sexpr::List(items.into_iter().collect())
    }

    /// The two-item list `(key value)`, the shape of almost every xend field.
    pub fn pair(key: impl Into<String>, value: impl Into<String>) -> Sexpr {
        Sexpr::List(vec![Sexpr::atom(key), Sexpr::atom(value)])
    }

    /// Parses text holding exactly one S-expression (white space around it is allowed).
    pub fn parse(text: &str) -> Result<Sexpr> {
        Parser {
            text,
            pos: 0,
            lenient: false,
        }
        .parse_document()
    }

    /// Parses as [`Sexpr::parse`], but forgives unbalanced parentheses the way libvirt's parser
    /// did, for hand-written domain descriptions: lists still open at the end of the text are
    /// closed there, and `)` characters after the expression are ignored. Everything else
    /// (other text after the expression, an unterminated string, a `)` before any `(`, too deep a
    /// nesting) is still an error.
    pub fn parse_lenient(text: &str) -> Result<Sexpr> {
        Parser {
            text,
            pos: 0,
            lenient: true,
        }
        .parse_document()
    }

    /// Parses bytes (as read from a socket or a file): invalid UTF-8 is an error at its offset.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Sexpr> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Sexpr::parse(text),
            Err(e) => {
                let valid = e.valid_up_to();
                // The prefix up to `valid` is UTF-8, so positions can be counted in it.
                let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
                Err(position_error(prefix, valid, "invalid UTF-8".into()))
            }
        }
    }

    /// The string, when this is an atom.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Sexpr::Atom(s) => Some(s),
            Sexpr::List(_) => None,
        }
    }

    /// The items, when this is a list.
    pub fn as_list(&self) -> Option<&[Sexpr]> {
        match self {
            Sexpr::List(items) => Some(items),
            Sexpr::Atom(_) => None,
        }
    }

    /// The name of a list: its first item when that is an atom (`vbd` for `(vbd (dev hda) …)`).
    pub fn name(&self) -> Option<&str> {
        self.as_list()?.first()?.as_atom()
    }

    /// Whether this is a list named `name`.
    pub fn is_named(&self, name: &str) -> bool {
        self.name() == Some(name)
    }

    /// The items of a list after its first one (empty for an atom or an empty list).
    pub fn rest(&self) -> &[Sexpr] {
        match self {
            Sexpr::List(items) if !items.is_empty() => &items[1..],
            _ => &[],
        }
    }

    /// The lists among [`Sexpr::rest`] whose name is `name`, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sexpr> + 'a {
        self.rest().iter().filter(move |child| child.is_named(name))
    }

    /// The first list among [`Sexpr::rest`] named `name`.
    pub fn child(&self, name: &str) -> Option<&Sexpr> {
        self.rest().iter().find(|child| child.is_named(name))
    }

    /// Finds the list a `/`-separated path leads to, as libvirt's `sexpr_lookup_key`: the first
    /// component must be this list's name, and each following one names the first child list
    /// with that name. `root.lookup_key("domain/image/hvm")` is the `(hvm …)` list.
    pub fn lookup_key(&self, path: &str) -> Option<&Sexpr> {
        let mut parts = path.split('/');
        let first = parts.next()?;
        if !self.is_named(first) {
            return None;
        }
        let mut node = self;
        for part in parts {
            node = node.child(part)?;
        }
        Some(node)
    }

    /// The values after the key a path leads to, as libvirt's `sexpr_lookup`: for `(kernel /boot/x)`
    /// that is `[/boot/x]`. A key with no value gives `None`, as in libvirt.
    pub fn lookup(&self, path: &str) -> Option<&[Sexpr]> {
        let rest = self.lookup_key(path)?.rest();
        (!rest.is_empty()).then_some(rest)
    }

    /// Whether the path leads to a list, even one with no value (libvirt's `sexpr_has`).
    pub fn has(&self, path: &str) -> bool {
        self.lookup_key(path).is_some()
    }

    /// The first value after the key a path leads to, when it is an atom (libvirt's `sexpr_node`).
    pub fn node(&self, path: &str) -> Option<&str> {
        self.lookup(path)?.first()?.as_atom()
    }

    /// The value at `path` as an unsigned integer; `Ok(None)` when absent, an error naming the
    /// path when present but not a number (libvirt read these with `strtol` and took garbage as 0;
    /// virtkit refuses it).
    pub fn node_u64(&self, path: &str) -> Result<Option<u64>> {
        match self.node(path) {
            None => Ok(None),
            Some(text) => parse_number(text)
                .map(Some)
                .ok_or_else(|| Error::Invalid(format!("{path}: '{text}' is not a number"))),
        }
    }

    /// The value at `path` as a signed integer (see [`Sexpr::node_u64`]).
    pub fn node_i64(&self, path: &str) -> Result<Option<i64>> {
        match self.node(path) {
            None => Ok(None),
            Some(text) => {
                let text = text.trim();
                let parsed = match text.strip_prefix('-') {
                    Some(digits) => parse_number(digits)
                        .and_then(|n| i64::try_from(n).ok())
                        .map(|n| -n),
                    None => parse_number(text).and_then(|n| i64::try_from(n).ok()),
                };
                parsed
                    .map(Some)
                    .ok_or_else(|| Error::Invalid(format!("{path}: '{text}' is not a number")))
            }
        }
    }

    /// The value at `path` as a floating-point number (xend's `cpu_time` is one).
    pub fn node_f64(&self, path: &str) -> Result<Option<f64>> {
        match self.node(path) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| Error::Invalid(format!("{path}: '{text}' is not a number"))),
        }
    }

    /// Writes this expression as libvirt wrote the S-expressions it sent to xend: no space between
    /// two adjacent lists, atoms bare when they can be. See [`SexprWriter`].
    pub fn to_compact_string(&self) -> String {
        let mut w = SexprWriter::new();
        w.value(self);
        w.finish()
    }
}

/// Decimal digits only (surrounding white space allowed), as xend prints integers.
fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether an atom can be written without quotes and read back unchanged.
fn is_bare(value: &str) -> bool {
    !value.is_empty()
        && !value.bytes().any(|b| {
            is_space(b) || matches!(b, b'(' | b')' | b'\'' | b'"' | b'\\') || b.is_ascii_control()
        })
}

/// Appends `value` in single quotes, escaping what the parser unescapes.
fn push_quoted(out: &mut String, value: &str) {
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn push_atom(out: &mut String, value: &str) {
    if is_bare(value) {
        out.push_str(value);
    } else {
        push_quoted(out, value);
    }
}

/// The canonical form: items separated by one space, atoms quoted only where they must be.
impl fmt::Display for Sexpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_canonical(self, &mut out);
        f.write_str(&out)
    }
}

fn write_canonical(value: &Sexpr, out: &mut String) {
    match value {
        Sexpr::Atom(a) => push_atom(out, a),
        Sexpr::List(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_canonical(item, out);
            }
            out.push(')');
        }
    }
}

/// A streaming writer for the S-expressions libvirt sent to xend (`xenDaemonFormatSxpr`):
/// `(vm (name 'fvtest')(memory 400)(image (hvm (kernel '/usr/lib/xen/boot/hvmloader'))))`.
///
/// An item is preceded by a space unless it opens a list right after a list closed, or it is the
/// first item of its list. [`SexprWriter::quoted`] always quotes (libvirt quoted names, paths and
/// most strings); [`SexprWriter::atom`] quotes only when the value could not be read back bare.
/// Either way the value is escaped, so no value can change the structure of the output.
#[derive(Debug, Default)]
pub struct SexprWriter {
    out: String,
    /// Whether the last thing written at the current position was a closed list (`Some(true)`),
    /// anything else (`Some(false)`), or nothing yet in this list (`None`).
    last: Option<bool>,
    depth: usize,
}

impl SexprWriter {
    /// An empty writer.
    pub fn new() -> SexprWriter {
        SexprWriter::default()
    }

    fn separate(&mut self, opening_list: bool) {
        match self.last {
            None => {}
            Some(true) if opening_list => {}
            Some(_) => self.out.push(' '),
        }
    }

    /// Opens a list whose first item is the bare atom `name`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.separate(true);
        self.out.push('(');
        push_atom(&mut self.out, name);
        self.last = Some(false);
        self.depth += 1;
        self
    }

    /// Closes the innermost open list (does nothing when none is open).
    pub fn close(&mut self) -> &mut Self {
        if self.depth > 0 {
            self.out.push(')');
            self.depth -= 1;
            self.last = Some(true);
        }
        self
    }

    /// Writes an atom, bare when it can be read back bare.
    pub fn atom(&mut self, value: &str) -> &mut Self {
        self.separate(false);
        push_atom(&mut self.out, value);
        self.last = Some(false);
        self
    }

    /// Writes an atom in single quotes.
    pub fn quoted(&mut self, value: &str) -> &mut Self {
        self.separate(false);
        push_quoted(&mut self.out, value);
        self.last = Some(false);
        self
    }

    /// Writes `(key value)` with a bare-when-possible value.
    pub fn field(&mut self, key: &str, value: &str) -> &mut Self {
        self.open(key).atom(value).close()
    }

    /// Writes `(key 'value')`.
    pub fn field_quoted(&mut self, key: &str, value: &str) -> &mut Self {
        self.open(key).quoted(value).close()
    }

    /// Writes a whole value (atoms bare when they can be).
    pub fn value(&mut self, value: &Sexpr) -> &mut Self {
        match value {
            Sexpr::Atom(a) => {
                self.atom(a);
            }
            Sexpr::List(items) => {
                self.separate(true);
                self.out.push('(');
                self.last = None;
                self.depth += 1;
                for item in items {
                    self.value(item);
                }
                self.close();
            }
        }
        self
    }

    /// The text, with every list still open closed.
    pub fn finish(mut self) -> String {
        while self.depth > 0 {
            self.close();
        }
        self.out
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Builds a positioned error; `consumed` is the text before the error.
fn position_error(consumed: &str, offset: usize, message: String) -> Error {
    let line = consumed.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = consumed.rfind('\n').map_or(0, |i| i + 1);
    let column = consumed[line_start..].chars().count() + 1;
    Error::Sexpr {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        offset,
        message,
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    lenient: bool,
}

impl Parser<'_> {
    fn error_at(&self, offset: usize, message: impl Into<String>) -> Error {
        position_error(&self.text[..offset], offset, message.into())
    }

    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && is_space(bytes[self.pos]) {
            self.pos += 1;
        }
    }

    fn parse_document(mut self) -> Result<Sexpr> {
        self.skip_space();
        if self.pos == self.text.len() {
            return Err(self.error_at(self.pos, "empty input: expected an S-expression"));
        }
        let value = self.parse_value()?;
        self.skip_space();
        if self.lenient {
            while self.text.as_bytes().get(self.pos) == Some(&b')') {
                self.pos += 1;
                self.skip_space();
            }
        }
        if self.pos != self.text.len() {
            return Err(self.error_at(self.pos, "unexpected text after the S-expression"));
        }
        Ok(value)
    }

    /// One value, iteratively: `stack` holds the open lists and where each began.
    fn parse_value(&mut self) -> Result<Sexpr> {
        let bytes = self.text.as_bytes();
        let mut stack: Vec<(usize, Vec<Sexpr>)> = Vec::new();
        loop {
            self.skip_space();
            let Some(&b) = bytes.get(self.pos) else {
                if self.lenient
                    && let Some((_, items)) = stack.pop()
                {
                    let mut value = Sexpr::List(items);
                    while let Some((_, mut outer)) = stack.pop() {
                        outer.push(value);
                        value = Sexpr::List(outer);
                    }
                    return Ok(value);
                }
                let (start, _) = stack
                    .last()
                    .map_or((self.pos, &[][..]), |(s, v)| (*s, &v[..]));
                return Err(self.error_at(
                    self.text.len(),
                    format!(
                        "unexpected end of input: the list opened at byte {start} is not closed"
                    ),
                ));
            };
            let finished = match b {
                b'(' => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error_at(
                            self.pos,
                            format!("lists nest deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    stack.push((self.pos, Vec::new()));
                    self.pos += 1;
                    continue;
                }
                b')' => {
                    let Some((_, items)) = stack.pop() else {
                        return Err(self.error_at(self.pos, "')' without a matching '('"));
                    };
                    self.pos += 1;
                    Sexpr::List(items)
                }
                b'\'' | b'"' => Sexpr::Atom(self.quoted_atom(b)?),
                _ => {
                    let start = self.pos;
                    while self.pos < bytes.len()
                        && !is_space(bytes[self.pos])
                        && bytes[self.pos] != b'('
                        && bytes[self.pos] != b')'
                    {
                        self.pos += 1;
                    }
                    Sexpr::Atom(self.text[start..self.pos].to_owned())
                }
            };
            match stack.last_mut() {
                Some((_, items)) => items.push(finished),
                None => return Ok(finished),
            }
        }
    }

    /// A quoted atom starting at `self.pos` (on the quote character).
    fn quoted_atom(&mut self, quote: u8) -> Result<String> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        self.pos += 1;
        let mut value = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(self.error_at(
                    start,
                    format!("the string starting here has no closing {}", quote as char),
                ));
            };
            if b == quote {
                value.push_str(&self.text[run_start..self.pos]);
                self.pos += 1;
                return Ok(value);
            }
            if b != b'\\' {
                self.pos += 1;
                continue;
            }
            value.push_str(&self.text[run_start..self.pos]);
            let escaped = bytes.get(self.pos + 1).copied();
            let (replacement, len) = match escaped {
                Some(b'\\') => (Some('\\'), 2),
                Some(b'\'') => (Some('\''), 2),
                Some(b'"') => (Some('"'), 2),
                Some(b'n') => (Some('\n'), 2),
                Some(b't') => (Some('\t'), 2),
                Some(b'r') => (Some('\r'), 2),
                Some(b'x') => {
                    let hex = self.text.get(self.pos + 2..self.pos + 4);
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(byte) if byte.is_ascii() => (Some(byte as char), 4),
                        _ => (None, 1),
                    }
                }
                _ => (None, 1),
            };
            match replacement {
                Some(c) => value.push(c),
                None => value.push('\\'),
            }
            self.pos += len;
            run_start = self.pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (u32, u32, usize, String) {
        match Sexpr::parse(text) {
            Err(Error::Sexpr {
                line,
                column,
                offset,
                message,
            }) => (line, column, offset, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_xend_domain() {
        let text = "(domain (domid 3)(name 'fvtest')(memory 400)(uuid 'b5d70dd2')\n\
                    (image (hvm (kernel '/usr/lib/xen/boot/hvmloader')(boot c)))\n\
                    (device (vbd (dev 'ioemu:hda')(uname 'file:/root/foo.img')))\n\
                    (device (vif (mac '00:16:3e:1b:b1:47'))))\n";
        let root = Sexpr::parse(text).unwrap();
        assert_eq!(root.name(), Some("domain"));
        assert_eq!(root.node("domain/domid"), Some("3"));
        assert_eq!(root.node_u64("domain/memory").unwrap(), Some(400));
        assert_eq!(
            root.node("domain/image/hvm/kernel"),
            Some("/usr/lib/xen/boot/hvmloader")
        );
        assert_eq!(root.node("domain/image/hvm/boot"), Some("c"));
        assert_eq!(root.node("domain/image/linux/kernel"), None);
        assert_eq!(
            root.node("vm/name"),
            None,
            "the first component names the root"
        );
        let devices: Vec<_> = root.children_named("device").collect();
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].node("device/vbd/dev"), Some("ioemu:hda"));
        assert_eq!(devices[1].node("device/vif/mac"), Some("00:16:3e:1b:b1:47"));
        assert_eq!(
            root.node("domain"),
            None,
            "the root's first value is a list"
        );
    }

    #[test]
    fn lookup_follows_libvirt() {
        let root = Sexpr::parse("(a (b) (c 1 2) (c 3) (d (e x)) (f (g)))").unwrap();
        // A key with no value: has, but no lookup and no node.
        assert!(root.has("a/b"));
        assert_eq!(root.lookup("a/b"), None);
        assert_eq!(root.node("a/b"), None);
        // The first match wins; lookup gives every value after the key.
        assert_eq!(
            root.lookup("a/c").unwrap(),
            &[Sexpr::atom("1"), Sexpr::atom("2")]
        );
        assert_eq!(root.node("a/c"), Some("1"));
        // A list value is found by lookup but is not a node.
        assert_eq!(root.node("a/d"), None);
        assert_eq!(root.node("a/d/e"), Some("x"));
        assert!(root.has("a/f/g"));
        assert!(!root.has("a/x"));
        assert!(!root.has("a/d/e/x"));
        assert!(root.has("a"));
        assert_eq!(root.lookup_key("a"), Some(&root));
        assert_eq!(Sexpr::atom("a").node("a"), None);
    }

    #[test]
    fn quoting_and_escapes() {
        let root =
            Sexpr::parse(r#"(x 'a b' "c'd" 'e\'f' 'g\\h' 'i\qj' 'tab\there' '' 'hex\x41' bare'q)"#)
                .unwrap();
        let atoms: Vec<_> = root.rest().iter().map(|a| a.as_atom().unwrap()).collect();
        assert_eq!(
            atoms,
            [
                "a b",
                "c'd",
                "e'f",
                "g\\h",
                "i\\qj",
                "tab\there",
                "",
                "hexA",
                "bare'q"
            ]
        );
        // The canonical writer reads back to the same value.
        let written = root.to_string();
        assert_eq!(Sexpr::parse(&written).unwrap(), root);
        assert_eq!(
            written,
            r"(x 'a b' 'c\'d' 'e\'f' 'g\\h' 'i\\qj' 'tab\there' '' hexA 'bare\'q')"
        );
    }

    #[test]
    fn compact_writer_matches_libvirt_layout() {
        let mut w = SexprWriter::new();
        w.open("vm")
            .field_quoted("name", "fv test")
            .field("memory", "400");
        w.open("image")
            .open("hvm")
            .field_quoted("kernel", "/k")
            .field("boot", "c");
        w.close().close();
        w.open("device").open("vif").field("type", "ioemu");
        assert_eq!(
            w.finish(),
            "(vm (name 'fv test')(memory 400)(image (hvm (kernel '/k')(boot c)))(device (vif (type ioemu))))"
        );
        // Values that would change the structure are quoted and escaped.
        let mut w = SexprWriter::new();
        w.open("x").atom("a) (b").atom("").quoted("it's");
        let text = w.finish();
        assert_eq!(text, r"(x 'a) (b' '' 'it\'s')");
        let back = Sexpr::parse(&text).unwrap();
        assert_eq!(
            back.rest(),
            &[Sexpr::atom("a) (b"), Sexpr::atom(""), Sexpr::atom("it's")]
        );
        let v = Sexpr::parse("(a (b c)(d) e ())").unwrap();
        assert_eq!(v.to_compact_string(), "(a (b c)(d) e ())");
    }

    #[test]
    fn positioned_errors() {
        assert_eq!(err("").3, "empty input: expected an S-expression");
        let (line, column, offset, msg) = err("(domain\n  (name x)\n  (memory 4)");
        assert_eq!((line, column, offset), (3, 13, 31));
        assert!(msg.contains("not closed"), "{msg}");
        let (line, column, offset, msg) = err("(a b))");
        assert_eq!((line, column, offset), (1, 6, 5));
        assert!(msg.contains("after"), "{msg}");
        let (line, column, offset, _) = err(")");
        assert_eq!((line, column, offset), (1, 1, 0));
        let (line, column, offset, msg) = err("(a\n (é 'unterminated)");
        assert_eq!((line, column, offset), (2, 5, 8));
        assert!(msg.contains("no closing '"), "{msg}");
        match Sexpr::parse_bytes(b"(a \xff)") {
            Err(Error::Sexpr {
                offset: 3,
                column: 4,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Sexpr::parse("(a)").unwrap().node_u64("a"),
            Ok(None)
        ));
        assert!(
            Sexpr::parse("(a (m 12x))")
                .unwrap()
                .node_u64("a/m")
                .is_err()
        );
        assert_eq!(
            Sexpr::parse("(a (m -12))")
                .unwrap()
                .node_i64("a/m")
                .unwrap(),
            Some(-12)
        );
        assert_eq!(
            Sexpr::parse("(a (t 1.5))")
                .unwrap()
                .node_f64("a/t")
                .unwrap(),
            Some(1.5)
        );
    }

    #[test]
    fn lenient_parsing_forgives_only_parenthesis_balance() {
        let want = Sexpr::parse("(a (b c) (d))").unwrap();
        assert_eq!(Sexpr::parse_lenient("(a (b c) (d").unwrap(), want);
        assert_eq!(Sexpr::parse_lenient("(a (b c) (d)))\n").unwrap(), want);
        assert_eq!(Sexpr::parse_lenient("(a (b c) (d)) ) )").unwrap(), want);
        assert!(Sexpr::parse("(a (b c) (d").is_err());
        assert!(Sexpr::parse("(a (b c) (d)))").is_err());
        for bad in ["", ")", "(a) (b)", "(a 'open", "(a) x"] {
            assert!(Sexpr::parse_lenient(bad).is_err(), "{bad}");
        }
        let deep = "(".repeat(MAX_DEPTH + 1);
        assert!(Sexpr::parse_lenient(&deep).is_err());
    }

    #[test]
    fn depth_is_capped_without_recursion() {
        let ok = format!("{}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Sexpr::parse(&ok).is_ok());
        let deep = format!("{}{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        let (_, _, offset, msg) = err(&deep);
        assert_eq!(offset, MAX_DEPTH);
        assert!(msg.contains("deeper"), "{msg}");
        // A million open parentheses is an error, not a stack overflow.
        let (_, _, offset, _) = err(&"(".repeat(1_000_000));
        assert_eq!(offset, MAX_DEPTH);
    }

    #[test]
    fn long_flat_input_parses() {
        let mut text = String::from("(l");
        for i in 0..100_000 {
            text.push_str(&format!(" (k{i} 'v {i}')"));
        }
        text.push(')');
        let v = Sexpr::parse(&text).unwrap();
        assert_eq!(v.rest().len(), 100_000);
        assert_eq!(v.node("l/k99999"), Some("v 99999"));
        assert_eq!(Sexpr::parse(&v.to_string()).unwrap(), v);
    }
}
