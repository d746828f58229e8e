//! The crate's single error type.

use std::path::PathBuf;

/// Result alias used by every fallible function of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while reading, validating or editing a document.
///
/// The variants are the stable part: match on them, never on message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not well-formed XML, or it does not follow the format: an unknown element,
    /// a value of the wrong type, a missing mandatory element or attribute.
    #[error("XML error at line {line}, column {column}: {message}")]
    Xml {
        /// 1-based line of the offending element (or of the syntax error).
        line: u32,
        /// 1-based column, counted in characters.
        column: u32,
        /// What was wrong and, where it helps, what was expected.
        message: String,
    },
    /// A document referenced from a node file is invalid.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The referenced file, as resolved against the node file's directory.
        path: PathBuf,
        /// The error found in that file.
        source: Box<Error>,
    },
    /// A file referenced from a node document could not be read.
    #[error("Cannot read {}: {message}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's explanation.
        message: String,
    },
    /// A device operation on a domain definition did not find the device it was asked for.
    #[error("No matching device: {0}")]
    DeviceNotFound(String),
    /// A device operation would give a domain two devices that must be unique.
    #[error("Device already present: {0}")]
    DeviceExists(String),
}

impl Error {
    /// The 1-based line of an XML error (looking through [`Error::InFile`]), if the error has one.
    pub fn line(&self) -> Option<u32> {
        match self {
            Error::Xml { line, .. } => Some(*line),
            Error::InFile { source, .. } => source.line(),
            _ => None,
        }
    }

    /// The 1-based column of an XML error (looking through [`Error::InFile`]), if the error has one.
    pub fn column(&self) -> Option<u32> {
        match self {
            Error::Xml { column, .. } => Some(*column),
            Error::InFile { source, .. } => source.column(),
            _ => None,
        }
    }

    /// The message without position or file name.
    pub fn message(&self) -> String {
        match self {
            Error::Xml { message, .. } => message.clone(),
            Error::InFile { source, .. } => source.message(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_position_and_file() {
        let e = Error::Xml {
            line: 3,
            column: 5,
            message: "Missing <name>".into(),
        };
        assert_eq!(
            e.to_string(),
            "XML error at line 3, column 5: Missing <name>"
        );
        let f = Error::InFile {
            path: "/a/b.xml".into(),
            source: Box::new(e.clone()),
        };
        assert_eq!(
            f.to_string(),
            "/a/b.xml: XML error at line 3, column 5: Missing <name>"
        );
        assert_eq!(f.line(), Some(3));
        assert_eq!(f.column(), Some(5));
        assert_eq!(f.message(), "Missing <name>");
    }
}
