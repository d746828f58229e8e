//! Filesystems shared with a container or guest (`<filesystem>`): the struct, its parser,
//! writer and detach-device matching rule.

use crate::error::Result;
use crate::options::FormatOptions;
use crate::tree::{Element, once};
use crate::values::{keyword_attr, keyword_enum, scaled_bytes};
use crate::writer::{Tag, Writer};

keyword_enum! {
    /// `<filesystem type>`.
    pub enum FilesystemType {
        /// A host directory (`<source dir>`).
        Mount = "mount",
        /// A block device (`<source dev>`).
        Block = "block",
        /// An image file (`<source file>`).
        File = "file",
        /// An OpenVZ template (`<source name>`).
        Template = "template",
    }
}

/// A filesystem shared with a container or guest (`<filesystem>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemDef {
    /// The kind of source.
    pub fs_type: FilesystemType,
    /// `accessmode` (`passthrough`, `mapped`, `squash`).
    pub access_mode: Option<String>,
    /// The source directory, device, file or template name.
    pub source: String,
    /// `<target dir>` inside the guest.
    pub target_dir: String,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<space_hard_limit>` in bytes.
    pub space_hard_limit: Option<u64>,
    /// `<space_soft_limit>` in bytes.
    pub space_soft_limit: Option<u64>,
}

/// detach-device's rule: a filesystem is identified by its target dir.
pub(super) fn same_filesystem(want: &FilesystemDef, have: &FilesystemDef) -> bool {
    want.target_dir == have.target_dir
}

pub(super) fn parse_filesystem(el: &Element) -> Result<FilesystemDef> {
    el.expect_no_text()?;
    let fs_type = keyword_attr(el, "type", FilesystemType::NAMES, FilesystemType::from_name)?
        .unwrap_or(FilesystemType::Mount);
    const ACCESS: &[&str] = &["passthrough", "mapped", "squash"];
    let access_mode = match el.attr("accessmode") {
        Some(a) if ACCESS.contains(&a) => Some(a.to_owned()),
        Some(a) => {
            return Err(el.bad_attr("accessmode", a, &format!("one of {}", ACCESS.join(", "))));
        }
        None => None,
    };
    let (mut source, mut target, mut readonly, mut hard, mut soft) = (None, None, None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "source" => once(&mut source, child, el)?,
            "target" => once(&mut target, child, el)?,
            "readonly" => once(&mut readonly, child, el)?,
            "space_hard_limit" => once(&mut hard, child, el)?,
            "space_soft_limit" => once(&mut soft, child, el)?,
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "source",
                        "target",
                        "readonly",
                        "space_hard_limit",
                        "space_soft_limit",
                    ],
                ));
            }
        }
    }
    let source = source.ok_or_else(|| el.missing("source"))?;
    source.expect_empty()?;
    let key = filesystem_source_key(fs_type);
    let target = target.ok_or_else(|| el.missing("target"))?;
    target.expect_empty()?;
    if let Some(r) = readonly {
        r.expect_empty()?;
    }
    Ok(FilesystemDef {
        fs_type,
        access_mode,
        source: source.required_nonempty_attr(key)?.to_owned(),
        target_dir: target.required_nonempty_attr("dir")?.to_owned(),
        readonly: readonly.is_some(),
        space_hard_limit: hard.map(|h| scaled_bytes(h, 1)).transpose()?,
        space_soft_limit: soft.map(|s| scaled_bytes(s, 1)).transpose()?,
    })
}

fn filesystem_source_key(t: FilesystemType) -> &'static str {
    match t {
        FilesystemType::Mount => "dir",
        FilesystemType::Block => "dev",
        FilesystemType::File => "file",
        FilesystemType::Template => "name",
    }
}

pub(super) fn write_filesystem(w: &mut Writer, f: &FilesystemDef, opts: &FormatOptions) {
    let tag = Tag::new("filesystem")
        .attr("type", f.fs_type)
        .opt("accessmode", f.access_mode.as_deref());
    w.open_close(tag, |w| {
        w.empty(Tag::new("source").attr(filesystem_source_key(f.fs_type), &f.source));
        w.empty(Tag::new("target").attr("dir", &f.target_dir));
        if f.readonly {
            w.empty(Tag::new("readonly"));
        }
        for (name, value) in [
            ("space_hard_limit", f.space_hard_limit),
            ("space_soft_limit", f.space_soft_limit),
        ] {
            if let Some(v) = value {
                let tag = if opts.legacy_style() {
                    Tag::new(name)
                } else {
                    Tag::new(name).attr("unit", "bytes")
                };
                w.text(tag, &v.to_string());
            }
        }
    });
}
