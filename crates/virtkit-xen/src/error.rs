//! The crate's single error type.

/// Result alias used by every fallible function of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while reading or converting a Xen document.
///
/// The variants are the stable part: match on them, never on message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a well-formed S-expression.
    #[error("S-expression error at line {line}, column {column} (byte {offset}): {message}")]
    Sexpr {
        /// 1-based line of the error.
        line: u32,
        /// 1-based column, counted in characters.
        column: u32,
        /// 0-based byte offset of the error in the input.
        offset: usize,
        /// What was wrong.
        message: String,
    },
    /// The text is not a well-formed XM config file (libvirt's conf format).
    #[error("XM config error at line {line}, column {column}: {message}")]
    Conf {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// The XM config is well formed but a setting is missing, has the wrong type or a value
    /// that cannot be read; the message names the setting.
    #[error("Invalid XM config: {0}")]
    InvalidXm(String),
    /// The S-expression is well formed but is not a domain description xend would send or accept:
    /// a mandatory node is missing or a value is out of range.
    #[error("Invalid xend S-expression: {0}")]
    Invalid(String),
    /// The domain XML cannot be expressed for xend at this config version.
    #[error("Unsupported for xend: {0}")]
    Unsupported(String),
    /// The xend config format version is not 1, 2 or 3 (or higher).
    #[error("Unknown xend config version {0}")]
    ConfigVersion(u32),
    /// A host file could not be read (it is not a regular file, too large, not text, or the
    /// system refused); the message names the file.
    #[error("{0}")]
    Host(String),
    /// The domain or capabilities XML was rejected by the XML model.
    #[error(transparent)]
    Xml(#[from] virtkit_xml::Error),
}

impl From<virtkit_conf::Error> for Error {
    fn from(e: virtkit_conf::Error) -> Self {
        Error::Conf {
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}
