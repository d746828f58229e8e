//! Whether a plugin file may be loaded at all, decided before `dlopen`.
//!
//! Loading a shared object runs its constructors, so a check after `dlopen` comes too late: the
//! code of a file someone else could have written has already run, with the caller's privileges
//! (often root). As sudo and PAM do for their modules, the file must be a regular file owned by
//! the effective user or root and not writable by group or others, and so must every directory
//! from the file's up to `/` (a root-owned sticky ancestor such as `/tmp` is accepted: nobody
//! else can rename what lies in it). Both the directory the file was found in and, when the name
//! is a symbolic link, the directories of the file it resolves to are checked.
//!
//! [`OVERRIDE_ENV`] turns ownership and mode refusals into warnings, for development trees that
//! live in shared directories; a file that is not a regular file is refused regardless.

use std::fs::File;
use std::path::Path;

use virtkit_hostio::OpenMode;

use crate::validate::LoadError;

/// Set to `1` to load plugin files that fail the ownership and mode checks (with a warning on
/// standard error). For development only: never set it where virtkit runs as root.
pub const OVERRIDE_ENV: &str = "VIRTKIT_ALLOW_UNTRUSTED_PLUGINS";

fn overridden() -> bool {
    std::env::var_os(OVERRIDE_ENV).is_some_and(|v| v == "1")
}

/// The reason of a hostio refusal, phrased for the plugin file's refusal line.
fn reason(e: virtkit_hostio::Error) -> String {
    match e {
        virtkit_hostio::Error::UntrustedDir { path, reason } => {
            format!("its directory '{}': {reason}", path.display())
        }
        virtkit_hostio::Error::UntrustedFile { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Opens the plugin file `given` (resolved to `canonical`) for reading without blocking, and
/// checks its type, ownership and mode and those of its directories. Returns the open file, on
/// which the ELF check reads.
pub(crate) fn open_checked(given: &Path, canonical: &Path) -> Result<File, LoadError> {
    let file =
        virtkit_hostio::open_nofollow(canonical, OpenMode::Read, 0).map_err(|e| match e {
            virtkit_hostio::Error::NotRegular { kind, .. } => LoadError::NotRegular {
                path: given.to_path_buf(),
                kind,
            },
            // Some files cannot even be opened (a socket: ENXIO): say what they are.
            virtkit_hostio::Error::Io { source, .. } => match std::fs::metadata(canonical) {
                Ok(md) if !md.is_file() => LoadError::NotRegular {
                    path: given.to_path_buf(),
                    kind: virtkit_hostio::kind_name(md.file_type()),
                },
                _ => LoadError::Dlopen {
                    path: given.to_path_buf(),
                    reason: format!("cannot open: {source}"),
                },
            },
            other => LoadError::Dlopen {
                path: given.to_path_buf(),
                reason: other.to_string(),
            },
        })?;
    let md = file.metadata().map_err(|e| LoadError::Dlopen {
        path: given.to_path_buf(),
        reason: format!("cannot inspect: {e}"),
    })?;
    let mut dirs = vec![canonical.parent()];
    let given_dir = given.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    if given_dir.and_then(|d| d.canonicalize().ok()).as_deref() != canonical.parent() {
        dirs.push(given_dir);
    }
    let verdict = virtkit_hostio::check_trusted_file(canonical, &md).and_then(|()| {
        dirs.into_iter()
            .flatten()
            .try_for_each(virtkit_hostio::check_trusted_dir)
    });
    match verdict {
        Ok(()) => Ok(file),
        Err(virtkit_hostio::Error::NotRegular { kind, .. }) => Err(LoadError::NotRegular {
            path: given.to_path_buf(),
            kind,
        }),
        Err(e) if overridden() => {
            eprintln!(
                "virtkit: warning: {}: loading an untrusted plugin because {OVERRIDE_ENV}=1: {}",
                given.display(),
                reason(e)
            );
            Ok(file)
        }
        Err(e) => Err(LoadError::Untrusted {
            path: given.to_path_buf(),
            reason: reason(e),
        }),
    }
}
