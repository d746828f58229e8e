//! The header: what the driver declares about itself.
//!
//! The loader has already refused tables with a wrong magic, another ABI major, capability bits
//! that disagree with the entries, a NULL open or close, an invalid name, version or scheme
//! (`header/load` fails with its reason). These checks restate each rule on what the loader
//! decoded, and add the ones the loader does not enforce.

use std::path::Path;

use virtkit::{OPS, Op, parse_uri};
use virtkit_abi::{VK_ABI_MAJOR, VK_ABI_MINOR, VK_HEADER_SIZE, VK_SLOT_SIZE, VK_TABLE_SIZE};
use virtkit_loader::{Origin, plugin_file_name};

use crate::suite::{Ctx, Verdict, ensure};

/// The table size of ABI `1.minor`: the header plus the slots that existed then.
pub(crate) fn table_size_of_minor(minor: u16) -> usize {
    VK_HEADER_SIZE + OPS.iter().filter(|o| o.since_minor <= minor).count() * VK_SLOT_SIZE
}

/// `MAJOR.MINOR.PATCH`, numbers without leading zeros, then an optional `-pre` and `+build`.
fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

pub(crate) fn checks(ctx: &mut Ctx) {
    let d = ctx.driver.clone();
    let (major, minor) = d.abi_version();

    ctx.check("header/abi-version", &[], |_| {
        ensure!(
            major == VK_ABI_MAJOR,
            "ABI {major}.{minor}: this core speaks ABI {VK_ABI_MAJOR}.{VK_ABI_MINOR}"
        );
        Ok(())
    });

    ctx.check("header/struct-size", &[], |_| {
        let size = d.struct_size() as usize;
        if minor <= VK_ABI_MINOR {
            let want = table_size_of_minor(minor);
            ensure!(
                size == want,
                "struct_size is {size} bytes, but a table of ABI 1.{minor} is {want} bytes (the header and {} slots)",
                (want - VK_HEADER_SIZE) / VK_SLOT_SIZE
            );
        } else {
            ensure!(
                size >= VK_TABLE_SIZE,
                "struct_size is {size} bytes, smaller than the {VK_TABLE_SIZE} bytes of ABI 1.{VK_ABI_MINOR} although the table claims ABI 1.{minor}"
            );
        }
        Ok(())
    });

    ctx.check("header/capabilities", &[Op::Open, Op::Close], |c| {
        // Bits and entries: the loader refuses a table where they disagree, so a loaded driver's
        // supports(op) is both. Restate what follows for the slots past the plugin's table.
        for info in OPS.iter().filter(|o| o.since_minor > minor) {
            ensure!(
                !c.driver.supports(Op::ALL[info.index]),
                "{} was added in ABI 1.{} but a table of ABI 1.{minor} claims it",
                info.field,
                info.since_minor
            );
        }
        // This plugin's own table, not its stack's (`--with`).
        let count = Op::ALL.iter().filter(|op| c.driver.supports(**op)).count();
        ensure!(
            count == d.capability_count(),
            "{count} entries are present but the loader counts {} capabilities",
            d.capability_count()
        );
        Ok(())
    });

    ctx.check("header/name", &[], |_| {
        let n = d.name();
        ensure!(
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'_'),
            "name {n:?} must be non-empty lower-case ASCII letters, digits, '-' or '_'"
        );
        Ok(())
    });

    ctx.check("header/version", &[], |_| {
        let v = d.version().to_string();
        ensure!(
            is_semver(&v),
            "version {v:?} is not a semantic version (MAJOR.MINOR.PATCH)"
        );
        Ok(())
    });

    ctx.check("header/schemes", &[], |_| {
        let schemes = d.schemes();
        ensure!(!schemes.is_empty(), "the driver declares no URI scheme");
        for (i, s) in schemes.iter().enumerate() {
            ensure!(!schemes[..i].contains(s), "scheme {s:?} is declared twice");
            let parsed = parse_uri(&format!("{s}:///"))
                .map_err(|e| Verdict::Fail(format!("scheme {s:?}: {e}")))?;
            ensure!(
                parsed.scheme == *s,
                "URIs of scheme {s:?} are routed to scheme {:?}: the driver would never be asked",
                parsed.scheme
            );
        }
        Ok(())
    });

    ctx.check("header/file-name", &[], |_| {
        let Origin::Plugin(path) = d.origin() else {
            return Err(Verdict::Skip("the driver is linked into the binary".into()));
        };
        let file = Path::new(path).file_name().and_then(|f| f.to_str()).unwrap_or("");
        let serves = d.schemes().iter().any(|s| {
            let stem = plugin_file_name(s);
            let stem = stem.trim_end_matches(".so");
            file.strip_suffix(".so")
                .is_some_and(|rest| rest == stem || rest.strip_prefix(stem).is_some_and(|m| m.starts_with('_')))
        });
        ensure!(
            serves,
            "the loader looks for {} (or {}_<member>.so) when a URI names the scheme; {file} would never be found",
            plugin_file_name(&d.schemes()[0]),
            plugin_file_name(&d.schemes()[0]).trim_end_matches(".so")
        );
        Ok(())
    });

    ctx.check("header/sandbox-uri", &[], |_| {
        let Some(uri) = d.sandbox_uri() else {
            return Err(Verdict::Skip(
                "the driver declares no sandbox URI: without --uri the suite cannot connect".into(),
            ));
        };
        let text = uri.replace("{tmpdir}", "/tmp/sandbox");
        let parsed =
            parse_uri(&text).map_err(|e| Verdict::Fail(format!("sandbox URI {uri:?}: {e}")))?;
        ensure!(
            d.serves(&parsed.scheme),
            "sandbox URI {uri:?} has scheme {:?}, which the driver does not serve",
            parsed.scheme
        );
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_versions() {
        for good in ["0.1.0", "1.2.3", "10.0.1-rc.1", "1.0.0+build.5"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["1.0", "01.0.0", "1.0.x", "v1.0.0", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn table_sizes_per_minor() {
        assert_eq!(table_size_of_minor(VK_ABI_MINOR), VK_TABLE_SIZE);
        assert_eq!(table_size_of_minor(0), VK_HEADER_SIZE + 55 * VK_SLOT_SIZE);
    }
}
