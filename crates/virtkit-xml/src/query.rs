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
