//! Deterministic XML output: two-space indentation, single-quoted attributes, libvirt's escapes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes text and attribute values as libvirt does (`<`, `>`, `&`, `'`, `"`), plus the
/// whitespace characters that an XML reader would otherwise normalise in attribute values.
pub(crate) fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => {
                let mut tmp = [0u8; 4];
                escape(c.encode_utf8(&mut tmp), out);
            }
        }
    }
}

/// An element's start tag being built: name and attributes in output order.
pub(crate) struct Tag {
    name: Cow<'static, str>,
    attrs: Vec<(&'static str, String)>,
}

impl Tag {
    pub(crate) fn new(name: &'static str) -> Self {
        Tag {
            name: Cow::Borrowed(name),
            attrs: Vec::new(),
        }
    }

    /// A tag whose name comes from data (open-ended flag lists such as CPU features).
    pub(crate) fn named(name: &str) -> Self {
        Tag {
            name: Cow::Owned(name.to_owned()),
            attrs: Vec::new(),
        }
    }

    pub(crate) fn attr(mut self, key: &'static str, value: impl std::fmt::Display) -> Self {
        self.attrs.push((key, value.to_string()));
        self
    }

    pub(crate) fn opt(self, key: &'static str, value: Option<impl std::fmt::Display>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    fn write_start(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}='");
            escape_attr(v, out);
            out.push('\'');
        }
    }
}

/// Accumulates indented output.
pub(crate) struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer {
            out: String::new(),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// `<tag .../>`
    pub(crate) fn empty(&mut self, tag: Tag) {
        self.indent();
        tag.write_start(&mut self.out);
        self.out.push_str("/>\n");
    }

    /// `<tag ...>text</tag>`
    pub(crate) fn text(&mut self, tag: Tag, text: &str) {
        self.indent();
        tag.write_start(&mut self.out);
        self.out.push('>');
        escape(text, &mut self.out);
        self.out.push_str("</");
        self.out.push_str(&tag.name);
        self.out.push_str(">\n");
    }

    /// `<name>text</name>` when the value is present and not empty.
    pub(crate) fn opt_text(&mut self, name: &'static str, text: Option<&str>) {
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            self.text(Tag::new(name), t);
        }
    }

    /// `<tag ...>` children `</tag>`, always with a separate closing tag.
    pub(crate) fn open_close(&mut self, tag: Tag, body: impl FnOnce(&mut Writer)) {
        self.indent();
        tag.write_start(&mut self.out);
        self.out.push_str(">\n");
        let name = tag.name.clone();
        self.depth += 1;
        body(self);
        self.depth -= 1;
        self.indent();
        self.out.push_str("</");
        self.out.push_str(&name);
        self.out.push_str(">\n");
    }

    /// Like [`Writer::open_close`], but writes `<tag .../>` when the body writes nothing.
    pub(crate) fn element(&mut self, tag: Tag, body: impl FnOnce(&mut Writer)) {
        let mut inner = Writer {
            out: String::new(),
            depth: self.depth + 1,
        };
        body(&mut inner);
        if inner.out.is_empty() {
            self.empty(tag);
        } else {
            self.indent();
            tag.write_start(&mut self.out);
            self.out.push_str(">\n");
            self.out.push_str(&inner.out);
            self.indent();
            self.out.push_str("</");
            self.out.push_str(&tag.name);
            self.out.push_str(">\n");
        }
    }

    /// An empty line (capabilities documents separate their sections with one).
    pub(crate) fn blank_line(&mut self) {
        self.out.push('\n');
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_output() {
        let mut w = Writer::new();
        w.open_close(Tag::new("a").attr("x", "it's"), |w| {
            w.text(Tag::new("b"), "1 < 2 & 3");
            w.element(Tag::new("c"), |_| {});
            w.element(Tag::new("d"), |w| w.empty(Tag::new("e").attr("v", "a\nb")));
        });
        assert_eq!(
            w.finish(),
            "<a x='it&apos;s'>\n  <b>1 &lt; 2 &amp; 3</b>\n  <c/>\n  <d>\n    <e v='a&#10;b'/>\n  </d>\n</a>\n"
        );
    }
}
