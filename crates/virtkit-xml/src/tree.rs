//! A small element tree read with quick-xml, keeping each element's position so that
//! validation errors can say where they are.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::escape::unescape;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};

/// Deepest nesting accepted. The formats nest at most six levels; the limit keeps hostile
/// input from exhausting the stack when the tree is dropped.
const MAX_DEPTH: usize = 32;

/// Up to this many attributes, duplicates are found by scanning the ones already read.
const FEW_ATTRIBUTES: usize = 16;

/// One element: name, attributes, child elements and the concatenated text directly inside it.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// Maps byte offsets of the source to 1-based line and column (columns count characters).
///
/// Every element records its position, in document order, so the index keeps a cursor (offset,
/// its line, where that line starts) and only scans the bytes since the previous element; an
/// offset before the cursor (an error found later) scans from the start.
struct LineIndex<'a> {
    src: &'a str,
    cursor: Cell<Cursor>,
}

#[derive(Clone, Copy)]
struct Cursor {
    offset: usize,
    line: usize,
    line_start: usize,
}

const START: Cursor = Cursor {
    offset: 0,
    line: 1,
    line_start: 0,
};

impl<'a> LineIndex<'a> {
    fn new(src: &'a str) -> Self {
        LineIndex {
            src,
            cursor: Cell::new(START),
        }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.src.len());
        let mut c = self.cursor.get();
        if offset < c.offset {
            c = START;
        }
        let seg = &self.src.as_bytes()[c.offset..offset];
        // Usually one line break, just before the element's indentation: found from the end.
        if let Some(last) = seg.iter().rposition(|&b| b == b'\n') {
            c.line += 1 + seg[..last].iter().filter(|&&b| b == b'\n').count();
            c.line_start = c.offset + last + 1;
        }
        c.offset = offset;
        self.cursor.set(c);
        let column = match self.src.get(c.line_start..offset) {
            Some(s) => s.chars().count(),
            None => offset - c.line_start,
        };
        (clamp_u32(c.line), clamp_u32(column + 1))
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> Error {
        let (line, column) = self.position(offset);
        Error::Xml {
            line,
            column,
            message: message.into(),
        }
    }
}

fn clamp_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn check_chars(s: &str) -> std::result::Result<(), String> {
    match s.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        Some(c) => Err(format!("Invalid character U+{:04X}", u32::from(c))),
        None => Ok(()),
    }
}

/// Whether `name` is an XML name: a letter, `_` or `:` (or any non-ASCII character) first, then
/// also digits, `-` and `.`. Names that break this rule could not be written back.
fn is_xml_name(name: &str) -> bool {
    // The common case, all ASCII, byte by byte.
    let ascii_start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':';
    let ascii_rest = |b: u8| ascii_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.';
    if let [first, rest @ ..] = name.as_bytes()
        && ascii_start(*first)
        && rest.iter().all(|&b| ascii_rest(b))
    {
        return true;
    }
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start_ok = |c: char| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (!c.is_ascii() && !c.is_control())
    };
    start_ok(first) && chars.all(|c| start_ok(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// `part` as a `&str`: the reader hands out names, and values without entities, as slices of the
/// source, which is already valid UTF-8, so only the boundaries need checking (by slicing the
/// source at the same place); anything else is validated.
fn as_str<'a>(src: &'a str, part: &'a [u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
    match src.get(start..start.wrapping_add(part.len())) {
        Some(s) if s.as_ptr() == part.as_ptr() => Some(s),
        _ => std::str::from_utf8(part).ok(),
    }
}

fn start_element(e: &BytesStart<'_>, index: &LineIndex<'_>, offset: usize) -> Result<Element> {
    let name = as_str(index.src, e.name().into_inner())
        .ok_or_else(|| index.error(offset, "Element name is not UTF-8"))?
        .to_owned();
    if !is_xml_name(&name) {
        return Err(index.error(offset, format!("Invalid element name {name:?}")));
    }
    let mut attrs: Vec<(String, String)> = Vec::new();
    // Duplicates are found by scanning while an element has few attributes (every element of
    // the formats), and through a set of the names once it has many, so that one element with
    // a hundred thousand attributes costs linear, not quadratic, time.
    let mut seen: Option<HashSet<&str>> = None;
    let mut keys: Vec<&str> = Vec::new();
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|err| {
            index.error(offset, format!("Malformed attribute in <{name}>: {err}"))
        })?;
        let key = as_str(index.src, attr.key.into_inner()).ok_or_else(|| {
            index.error(offset, format!("Attribute name in <{name}> is not UTF-8"))
        })?;
        if !is_xml_name(key) {
            return Err(index.error(
                offset,
                format!("Invalid attribute name {key:?} in <{name}>"),
            ));
        }
        let bad_escape = |err: &dyn std::fmt::Display| {
            index.error(
                offset,
                format!("Bad escape in attribute '{key}' of <{name}>: {err}"),
            )
        };
        let raw = as_str(index.src, &attr.value).ok_or_else(|| bad_escape(&"not UTF-8"))?;
        let value = unescape(raw).map_err(|err| bad_escape(&err))?.into_owned();
        check_chars(&value)
            .map_err(|m| index.error(offset, format!("{m} in attribute '{key}' of <{name}>")))?;
        let duplicate = match &mut seen {
            Some(set) => !set.insert(key),
            None if keys.len() < FEW_ATTRIBUTES => keys.contains(&key),
            None => {
                let set = seen.insert(keys.drain(..).collect());
                !set.insert(key)
            }
        };
        if seen.is_none() {
            keys.push(key);
        }
        if duplicate {
            return Err(index.error(offset, format!("Duplicate attribute '{key}' in <{name}>")));
        }
        attrs.push((key.to_owned(), value));
    }
    let (line, column) = index.position(offset);
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
        column,
    })
}

/// Whether text is only XML whitespace (space, tab, line feed, carriage return).
fn is_xml_space(text: &[u8]) -> bool {
    text.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// An element being read, with the whitespace read since its last child or text, if any.
///
/// An element's text matters only when it has no child elements (`Element::text` refuses to
/// read it otherwise, and `expect_no_text` looks for anything but whitespace), so whitespace
/// between child elements, the indentation of every document, is kept aside as a slice of the
/// source and dropped when a child arrives, instead of being unescaped and copied into the
/// parent's text.
struct Open<'a> {
    el: Element,
    space: &'a str,
}

impl Open<'_> {
    /// Moves the whitespace kept aside into the text.
    fn flush(&mut self) {
        if !self.space.is_empty() {
            self.el.text.push_str(self.space);
            self.space = "";
        }
    }

    fn push_text(&mut self, text: &str) {
        self.flush();
        self.el.text.push_str(text);
    }

    fn push_child(&mut self, child: Element) {
        self.space = "";
        self.el.children.push(child);
    }
}

/// Reads a whole document and returns its root element.
pub(crate) fn parse_document(xml: &str) -> Result<Element> {
    let index = LineIndex::new(xml);
    let mut reader = Reader::from_str(xml);
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
    }
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(err) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(offset);
                return Err(index.error(at, format!("Malformed XML: {err}")));
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(index.error(offset, "Extra content after the root element"));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(index.error(offset, "Elements nested too deeply"));
                }
                stack.push(Open {
                    el: start_element(&e, &index, offset)?,
                    space: "",
                });
            }
            Event::Empty(e) => {
                let el = start_element(&e, &index, offset)?;
                match stack.last_mut() {
                    Some(parent) => parent.push_child(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(mut open) = stack.pop() else {
                    return Err(index.error(offset, "Unexpected closing tag"));
                };
                if open.el.children.is_empty() {
                    open.flush();
                }
                match stack.last_mut() {
                    Some(parent) => parent.push_child(open.el),
                    None => root = Some(open.el),
                }
            }
            Event::Text(t) => {
                let raw = t.into_inner();
                if let (Some(top), Cow::Borrowed(raw)) = (stack.last_mut(), &raw)
                    && is_xml_space(raw)
                {
                    if !top.el.children.is_empty() {
                        // Between child elements: nothing reads it.
                    } else if top.el.text.is_empty() && top.space.is_empty() {
                        top.space = as_str(xml, raw).unwrap_or_default();
                    } else {
                        top.push_text(as_str(xml, raw).unwrap_or_default());
                    }
                    continue;
                }
                let text = as_str(xml, &raw)
                    .ok_or_else(|| index.error(offset, "Text is not UTF-8"))
                    .and_then(|t| {
                        unescape(t).map_err(|err| {
                            index.error(offset, format!("Bad escape in text: {err}"))
                        })
                    })?;
                check_chars(&text).map_err(|m| index.error(offset, m))?;
                match stack.last_mut() {
                    Some(top) => top.push_text(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(index.error(offset, "Text outside the root element")),
                }
            }
            Event::CData(c) => {
                let text = std::str::from_utf8(&c)
                    .map_err(|_| index.error(offset, "CDATA is not UTF-8"))?;
                check_chars(text).map_err(|m| index.error(offset, m))?;
                match stack.last_mut() {
                    Some(top) => top.push_text(text),
                    None => return Err(index.error(offset, "CDATA outside the root element")),
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(index.error(
            xml.len(),
            format!(
                "Unexpected end of document: <{}> is not closed",
                open.el.name
            ),
        ));
    }
    root.ok_or_else(|| index.error(xml.len(), "Empty document: expected a root element"))
}

impl Element {
    /// An XML error located at this element.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Xml {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn required_attr(&self, name: &str) -> Result<&str> {
        self.attr(name)
            .ok_or_else(|| self.error(format!("Missing attribute '{name}' on <{}>", self.name)))
    }

    /// A required attribute that must not be empty.
    pub(crate) fn required_nonempty_attr(&self, name: &str) -> Result<&str> {
        let v = self.required_attr(name)?;
        if v.is_empty() {
            return Err(self.error(format!("Empty attribute '{name}' on <{}>", self.name)));
        }
        Ok(v)
    }

    /// An optional attribute; an empty value counts as absent (libvirt does the same).
    pub(crate) fn nonempty_attr(&self, name: &str) -> Option<&str> {
        self.attr(name).filter(|v| !v.is_empty())
    }

    /// Parses an optional attribute with `parse`, describing the expected form as `what`.
    pub(crate) fn parsed_attr<T>(
        &self,
        name: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.attr(name) {
            None => Ok(None),
            Some(v) => parse(v.trim())
                .map(Some)
                .ok_or_else(|| self.bad_attr(name, v, what)),
        }
    }

    pub(crate) fn bad_attr(&self, name: &str, value: &str, what: &str) -> Error {
        self.error(format!(
            "Invalid value '{value}' for attribute '{name}' of <{}>: expected {what}",
            self.name
        ))
    }

    /// The text of an element that must not have child elements.
    pub(crate) fn text(&self) -> Result<&str> {
        if let Some(child) = self.children.first() {
            return Err(child.error(format!(
                "Unexpected element <{}> in <{}>: expected text only",
                child.name, self.name
            )));
        }
        Ok(&self.text)
    }

    /// The trimmed text of an element that must not have child elements.
    pub(crate) fn trimmed_text(&self) -> Result<&str> {
        Ok(self.text()?.trim())
    }

    /// The trimmed text; an error if it is empty.
    pub(crate) fn nonempty_text(&self) -> Result<&str> {
        let t = self.trimmed_text()?;
        if t.is_empty() {
            return Err(self.error(format!("Empty <{}>", self.name)));
        }
        Ok(t)
    }

    /// Checks that an element is empty: no child elements and no text other than whitespace.
    pub(crate) fn expect_empty(&self) -> Result<()> {
        if let Some(child) = self.children.first() {
            return Err(child.error(format!(
                "Unexpected element <{}> in <{}>: expected no content",
                child.name, self.name
            )));
        }
        self.expect_no_text()
    }

    /// Checks that an element holding child elements has no text other than whitespace.
    pub(crate) fn expect_no_text(&self) -> Result<()> {
        if !self.text.trim().is_empty() {
            return Err(self.error(format!("Unexpected text in <{}>", self.name)));
        }
        Ok(())
    }

    /// The error for a child element that is not allowed here.
    pub(crate) fn unexpected(&self, child: &Element, expected: &[&str]) -> Error {
        let list: Vec<String> = expected.iter().map(|e| format!("<{e}>")).collect();
        child.error(format!(
            "Unexpected element <{}> in <{}>: expected one of {}",
            child.name,
            self.name,
            list.join(", ")
        ))
    }

    /// The error for a missing mandatory child.
    pub(crate) fn missing(&self, child: &str) -> Error {
        self.error(format!("Missing <{child}> in <{}>", self.name))
    }
}

/// Records a child that may occur at most once.
pub(crate) fn once<'a>(
    slot: &mut Option<&'a Element>,
    child: &'a Element,
    parent: &Element,
) -> Result<()> {
    if slot.is_some() {
        return Err(child.error(format!(
            "Duplicate element <{}> in <{}>",
            child.name, parent.name
        )));
    }
    *slot = Some(child);
    Ok(())
}

/// Checks the root element's name.
pub(crate) fn expect_root(root: &Element, name: &str) -> Result<()> {
    if root.name != name {
        return Err(root.error(format!(
            "Expected root element <{name}>, found <{}>",
            root.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tree_with_positions() {
        let root =
            parse_document("<?xml version='1.0'?>\n<a x=\"1\">\n  <b>t&amp;u</b><c/>\n</a>\n")
                .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!((root.line, root.column), (2, 1));
        assert_eq!(root.attr("x"), Some("1"));
        assert_eq!(root.children[0].text, "t&u");
        assert_eq!((root.children[0].line, root.children[0].column), (3, 3));
        assert_eq!((root.children[1].line, root.children[1].column), (3, 17));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<a x='1' x='2'/>",
            "<a>&foo;</a>",
            "<a>\u{1}</a>",
            "<a><b></a>",
            "<a x=1/>",
            "<a\u{0}b/>",
            "<a b\u{1f}='1'/>",
            "<1a/>",
            "<a><-b/></a>",
        ] {
            let err = parse_document(bad).unwrap_err();
            assert!(matches!(err, Error::Xml { .. }), "{bad:?} gave {err:?}");
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = "<a>".repeat(1000);
        let err = parse_document(&deep).unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }

    #[test]
    fn positions_match_a_plain_count_in_any_order() {
        let src = "<a>\n  <b x='1'/>\r\n\t<c>é\n\nü</c>\n</a>\n";
        let plain = |offset: usize| {
            let before = &src[..offset];
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            (line as u32, before[start..].chars().count() as u32 + 1)
        };
        let index = LineIndex::new(src);
        let offsets: Vec<usize> = (0..=src.len())
            .filter(|&o| src.is_char_boundary(o))
            .collect();
        for &o in offsets.iter().chain(offsets.iter().rev()).chain(&offsets) {
            assert_eq!(index.position(o), plain(o), "offset {o}");
        }
    }

    #[test]
    fn whitespace_is_text_only_in_elements_without_children() {
        let root = parse_document(
            "<a>\n  <b>  </b>\n  <c> x </c>\n  <d> <![CDATA[y]]> <!-- z --> </d>\n  <e>\n    <f/>\n  </e>\n</a>",
        )
        .unwrap();
        let text = |i: usize| root.children[i].text.as_str();
        assert_eq!(text(0), "  ");
        assert_eq!(text(1), " x ");
        assert_eq!(text(2), " y  ");
        assert_eq!(text(3), "");
        assert!(root.text.trim().is_empty());
        root.expect_no_text().unwrap();
        let mixed = parse_document("<a> <b/> x <c/> </a>").unwrap();
        assert!(mixed.expect_no_text().is_err());
    }

    #[test]
    fn escapes_in_attributes_and_text() {
        let root = parse_document("<a v='&lt;&#233;&amp;'>&gt; &#x41;</a>").unwrap();
        assert_eq!(root.attr("v"), Some("<é&"));
        assert_eq!(root.text, "> A");
        for bad in ["<a v='&nope;'/>", "<a>&nope;</a>"] {
            let err = parse_document(bad).unwrap_err().to_string();
            assert!(err.contains("Bad escape"), "{bad}: {err}");
        }
    }

    #[test]
    fn column_counts_characters() {
        let root = parse_document("<a>é<b/></a>").unwrap();
        assert_eq!(root.children[0].column, 5);
    }
}
