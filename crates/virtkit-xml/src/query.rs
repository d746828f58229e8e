//! A read-only view of any well-formed XML document, for tools that read a few values from XML
//! they do not model — the way virsh reads a domain's XML with XPath (`domblklist`,
//! `vncdisplay`, ...). No validation beyond well-formedness: what a driver adds that this crate
//! does not know is still there to read.

use crate::error::Result;
use crate::tree::{Element, parse_document};

/// A parsed document.
#[derive(Debug, Clone)]
pub struct XmlDocument {
    root: Element,
}

impl XmlDocument {
    /// Parses a document (well-formedness only).
    pub fn parse(xml: &str) -> Result<XmlDocument> {
        Ok(XmlDocument {
            root: parse_document(xml)?,
        })
    }

    /// The root element.
    pub fn root(&self) -> XmlNode<'_> {
        XmlNode(&self.root)
    }
}

/// The value of attribute `attr` of the root element, when the root element is named `element`,
/// read without parsing the rest of the document: what comes after the root's start tag is not
/// looked at, so a document malformed further on still answers. `None` when the prolog is
/// malformed, the root has another name or the attribute is absent or badly escaped.
pub fn root_attribute(xml: &str, element: &str, attr: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                if e.name().as_ref() != element.as_bytes() {
                    return None;
                }
                return e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == attr.as_bytes())
                    .and_then(|a| a.unescape_value().ok())
                    .map(|v| v.into_owned());
            }
            Event::Eof => return None,
            // The XML declaration, comments, processing instructions, a doctype, white space.
            _ => {}
        }
    }
}

/// One element of an [`XmlDocument`].
#[derive(Debug, Clone, Copy)]
pub struct XmlNode<'a>(&'a Element);

impl<'a> XmlNode<'a> {
    /// The element's name.
    pub fn name(self) -> &'a str {
        &self.0.name
    }

    /// An attribute's value.
    pub fn attr(self, name: &str) -> Option<&'a str> {
        self.0
            .attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text directly inside the element.
    pub fn text(self) -> &'a str {
        &self.0.text
    }

    /// Child elements named `name`, in document order.
    pub fn children(self, name: &'a str) -> impl Iterator<Item = XmlNode<'a>> + 'a {
        self.0
            .children
            .iter()
            .filter(move |c| c.name == name)
            .map(XmlNode)
    }

    /// The first child element named `name`.
    pub fn child(self, name: &'a str) -> Option<XmlNode<'a>> {
        self.children(name).next()
    }

    /// The elements reached by following `path` (child names) from this element, in document
    /// order: `["devices", "disk"]` is XPath's `./devices/disk`.
    pub fn select(self, path: &[&'a str]) -> Vec<XmlNode<'a>> {
        let mut nodes = vec![self];
        for name in path {
            nodes = nodes.into_iter().flat_map(|n| n.children(name)).collect();
        }
        nodes
    }

    /// The first value, in document order, of any of `attrs` on the first child `child` that
    /// has one: XPath's `string(./child/@a|./child/@b)` when elements carry one of them each.
    pub fn child_attr(self, child: &'a str, attrs: &[&str]) -> Option<&'a str> {
        self.children(child).find_map(|c| {
            c.0.attrs
                .iter()
                .find(|(k, _)| attrs.contains(&k.as_str()))
                .map(|(_, v)| v.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_attribute_is_read_from_the_start_tag_alone() {
        let head = "<?xml version='1.0'?>\n<!-- a guest -->\n<domain type='kvm&amp;x' id='1'>";
        assert_eq!(
            root_attribute(head, "domain", "type").as_deref(),
            Some("kvm&x")
        );
        // What follows the start tag is not read, however broken.
        let broken = format!("{head}<name>a</nam");
        assert_eq!(
            root_attribute(&broken, "domain", "id").as_deref(),
            Some("1")
        );
        assert_eq!(root_attribute("<domain/>", "domain", "type"), None);
        assert_eq!(
            root_attribute("<network type='x'/>", "domain", "type"),
            None
        );
        assert_eq!(root_attribute("<domain type='a", "domain", "type"), None);
        assert_eq!(root_attribute("", "domain", "type"), None);
        assert_eq!(
            root_attribute("<domain type='&bogus;'/>", "domain", "type"),
            None
        );
    }

    #[test]
    fn paths_attributes_and_unknown_elements() {
        let doc = XmlDocument::parse(
            "<domain><devices><disk type='file'><source file='/a'/><target dev='vda'/></disk>\
             <future-device x='1'/><disk type='block'><source dev='/dev/b'/></disk></devices>\
             <name>n</name></domain>",
        )
        .unwrap();
        let root = doc.root();
        assert_eq!(root.name(), "domain");
        assert_eq!(root.child("name").map(|n| n.text()), Some("n"));
        let disks = root.select(&["devices", "disk"]);
        assert_eq!(disks.len(), 2);
        assert_eq!(
            disks[1].child_attr("source", &["file", "dev"]),
            Some("/dev/b")
        );
        assert_eq!(disks[1].child_attr("target", &["dev"]), None);
        assert_eq!(
            root.select(&["devices", "future-device"])[0].attr("x"),
            Some("1")
        );
        assert!(XmlDocument::parse("<a><b></a>").is_err());
    }
}
