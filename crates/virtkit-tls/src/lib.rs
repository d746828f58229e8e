//! TLS for libvirt's RPC transport, on both ends: the daemon (`virtkitd --tls`) and the remote
//! driver (`+tls` URIs).
//!
//! - [`Pki`]: where the x509 files are, in libvirt's layout (`/etc/pki/CA/cacert.pem`,
//!   `/etc/pki/libvirt/servercert.pem`, `/etc/pki/libvirt/private/serverkey.pem`, the client's
//!   `clientcert.pem`/`clientkey.pem`, a `pkipath` directory, `$HOME/.pki/libvirt` for
//!   non-root clients).
//! - [`server_config`] and [`client_config`]: rustls configurations read from those files
//!   (through `virtkit-hostio`'s capped regular-file reads). The server requires and verifies a
//!   client certificate signed by the CA, as libvirtd does by default; the client verifies the
//!   server's certificate and that it names the host it dialled.
//! - [`TlsStream`]: a rustls connection over a non-blocking TCP socket, read and written
//!   against deadlines through `poll(2)`, shareable between one reading thread and writing
//!   threads; it performs libvirt's handshake confirmation (after the TLS handshake the server
//!   sends one byte `1` when it accepts the client).
//!
//! The TLS protocol itself is rustls's (with the ring provider); nothing here parses or
//! builds TLS records.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod pki;
mod stream;
mod verify;

pub use pki::{Pki, client_config, server_config};
pub use stream::TlsStream;

/// What went wrong. Messages follow libvirt's wording where libvirt has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A credential file is missing or unreadable (`Cannot read CA certificate '...': ...`).
    #[error("Cannot read {what} '{path}': {why}")]
    Read {
        /// `CA certificate`, `certificate`, `private key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// A credential file holds nothing usable.
    #[error("Unable to import {what} '{path}': {why}")]
    Import {
        /// `CA certificate`, `certificate`, `private key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// The credentials do not make a TLS configuration (a key that does not match its
    /// certificate, an unusable CA).
    #[error("Unable to set up TLS credentials: {0}")]
    Config(String),
    /// The TLS handshake failed, or the peer's certificate was refused.
    #[error("{0}")]
    Handshake(String),
    /// The server did not confirm the connection after the handshake (libvirt's words).
    #[error("server verification (of our certificate or IP address) failed{0}")]
    NotConfirmed(String),
    /// The socket failed or the deadline passed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// The ring provider every configuration here is built with.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
