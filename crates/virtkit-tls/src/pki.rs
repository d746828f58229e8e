//! libvirt's x509 file layout and the rustls configurations made from it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::verify::{AnyClientCert, AnyServerCert};
use crate::{Error, Result, provider};

/// The largest certificate or key file read (a CA bundle of a few hundred certificates fits).
const PEM_CAP: u64 = 1024 * 1024;

/// libvirt's system CA certificate.
pub const SYSTEM_CA: &str = "/etc/pki/CA/cacert.pem";
/// libvirt's directory of certificates.
const SYSTEM_CERT_DIR: &str = "/etc/pki/libvirt";
/// libvirt's directory of private keys.
const SYSTEM_KEY_DIR: &str = "/etc/pki/libvirt/private";

/// Where one side's x509 files are: the CA certificate(s) it trusts, its own certificate and
/// its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pki {
    /// The CA certificate(s), PEM.
    pub ca: PathBuf,
    /// This side's certificate (chain), PEM.
    pub cert: PathBuf,
    /// This side's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Pki {
    /// A server's files in libvirt's system layout.
    pub fn server_system() -> Pki {
        Pki {
            ca: SYSTEM_CA.into(),
            cert: Path::new(SYSTEM_CERT_DIR).join("servercert.pem"),
            key: Path::new(SYSTEM_KEY_DIR).join("serverkey.pem"),
        }
    }

    /// A client's files in libvirt's system layout.
    pub fn client_system() -> Pki {
        Pki {
            ca: SYSTEM_CA.into(),
            cert: Path::new(SYSTEM_CERT_DIR).join("clientcert.pem"),
            key: Path::new(SYSTEM_KEY_DIR).join("clientkey.pem"),
        }
    }

    /// A client's files in a `pkipath` directory: `cacert.pem`, `clientcert.pem`,
    /// `clientkey.pem`.
    pub fn client_in(dir: &Path) -> Pki {
        Pki {
            ca: dir.join("cacert.pem"),
            cert: dir.join("clientcert.pem"),
            key: dir.join("clientkey.pem"),
        }
    }

    /// A server's files in one directory: `cacert.pem`, `servercert.pem`, `serverkey.pem`.
    pub fn server_in(dir: &Path) -> Pki {
        Pki {
            ca: dir.join("cacert.pem"),
            cert: dir.join("servercert.pem"),
            key: dir.join("serverkey.pem"),
        }
    }

    /// A client's files when the URI names no `pkipath`, as libvirt 9.0 locates them: root
    /// uses the system layout; anyone else uses each file of `$HOME/.pki/libvirt`
    /// (`cacert.pem`, `clientcert.pem`, `clientkey.pem`) that exists and the system file for
    /// each that does not.
    pub fn client_default(is_root: bool, home: Option<&Path>) -> Pki {
        let system = Pki::client_system();
        let Some(home) = home.filter(|_| !is_root) else {
            return system;
        };
        let user = Pki::client_in(&home.join(".pki/libvirt"));
        let pick = |mine: PathBuf, theirs: PathBuf| if mine.exists() { mine } else { theirs };
        Pki {
            ca: pick(user.ca, system.ca),
            cert: pick(user.cert, system.cert),
            key: pick(user.key, system.key),
        }
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>> {
    virtkit_hostio::read_capped(path, PEM_CAP).map_err(|e| Error::Read {
        what,
        path: path.to_path_buf(),
        why: match e {
            virtkit_hostio::Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        },
    })
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Import {
            what,
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Import {
            what,
            path: path.to_path_buf(),
            why: "no PEM certificate in the file".into(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read("private key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| Error::Import {
        what: "private key",
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

fn roots(path: &Path) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for c in certificates("CA certificate", path)? {
        store.add(c).map_err(|e| Error::Import {
            what: "CA certificate",
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    }
    Ok(store)
}

/// A warning when a private key file can be read by users other than its owner (libvirt does
/// not check; OpenSSH refuses such keys).
fn key_mode_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "private key '{}' is readable or writable by others (mode {:04o}); make it 0600 or 0400",
            path.display(),
            mode & 0o7777
        )
    })
}

/// The daemon's configuration: its certificate and key, and the CA its clients' certificates
/// must be signed by. With `verify_clients` (libvirt's default) a client must present a valid
/// certificate or the handshake fails; without it (`tls_no_verify_certificate = 1`) any
/// client is accepted, with or without a certificate. Returns warnings to log (a private key
/// readable by others).
pub fn server_config(pki: &Pki, verify_clients: bool) -> Result<(Arc<ServerConfig>, Vec<String>)> {
    let roots = roots(&pki.ca)?;
    let chain = certificates("certificate", &pki.cert)?;
    let key = private_key(&pki.key)?;
    let warnings = key_mode_warning(&pki.key).into_iter().collect();
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?;
    let builder = if verify_clients {
        let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map_err(|e| Error::Config(e.to_string()))?;
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_client_cert_verifier(Arc::new(AnyClientCert::new(provider())))
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| Error::Config(format!("{}: {e}", pki.key.display())))?;
    Ok((Arc::new(config), warnings))
}

/// A client's configuration: the CA the server's certificate must be signed by (unless
/// `verify_server` is false: libvirt's `no_verify=1`), and the client's certificate and key
/// when both exist. A missing client certificate is allowed, as in libvirt (the server then
/// refuses the client if it requires one); a certificate without its key, or a key without
/// its certificate, is an error.
pub fn client_config(pki: &Pki, verify_server: bool) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?;
    let builder = if verify_server {
        builder.with_root_certificates(roots(&pki.ca)?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert::new(provider())))
    };
    let config = match (pki.cert.exists(), pki.key.exists()) {
        (false, false) => builder.with_no_client_auth(),
        (true, false) => {
            return Err(Error::Read {
                what: "private key",
                path: pki.key.clone(),
                why: format!(
                    "No such file or directory (but certificate '{}' exists)",
                    pki.cert.display()
                ),
            });
        }
        (false, true) => {
            return Err(Error::Read {
                what: "certificate",
                path: pki.cert.clone(),
                why: format!(
                    "No such file or directory (but key '{}' exists)",
                    pki.key.display()
                ),
            });
        }
        (true, true) => {
            let chain = certificates("certificate", &pki.cert)?;
            let key = private_key(&pki.key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Config(format!("{}: {e}", pki.key.display())))?
        }
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirts_layout() {
        assert_eq!(
            Pki::server_system(),
            Pki {
                ca: "/etc/pki/CA/cacert.pem".into(),
                cert: "/etc/pki/libvirt/servercert.pem".into(),
                key: "/etc/pki/libvirt/private/serverkey.pem".into(),
            }
        );
        assert_eq!(
            Pki::client_default(true, Some(Path::new("/root"))),
            Pki::client_system()
        );
        let home = tempfile::tempdir().unwrap();
        let user = home.path().join(".pki/libvirt");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("cacert.pem"), "x").unwrap();
        let p = Pki::client_default(false, Some(home.path()));
        assert_eq!(p.ca, user.join("cacert.pem"));
        assert_eq!(p.cert, Path::new("/etc/pki/libvirt/clientcert.pem"));
        assert_eq!(p.key, Path::new("/etc/pki/libvirt/private/clientkey.pem"));
    }

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = client_config(&Pki::client_in(dir.path()), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Cannot read CA certificate '{}': No such file or directory (os error 2)",
                dir.path().join("cacert.pem").display()
            )
        );
        std::fs::write(dir.path().join("cacert.pem"), "not a certificate").unwrap();
        let e = client_config(&Pki::client_in(dir.path()), true).unwrap_err();
        assert!(
            e.to_string().starts_with("Unable to import CA certificate"),
            "{e}"
        );
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let e = server_config(
            &Pki {
                ca: dir.path().join("d"),
                ..Pki::server_in(dir.path())
            },
            true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_made_pki_loads_and_a_loose_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let pki = virtkit_test_support::pki::Pki::new(dir.path());
        let (_, warnings) = server_config(&Pki::server_in(&pki.server_dir), true).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        client_config(&Pki::client_in(&pki.client_dir), true).unwrap();
        let key = pki.server_dir.join("serverkey.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warnings) = server_config(&Pki::server_in(&pki.server_dir), false).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("mode 0644"), "{warnings:?}");
        // A certificate without its key.
        std::fs::remove_file(pki.client_dir.join("clientkey.pem")).unwrap();
        let e = client_config(&Pki::client_in(&pki.client_dir), true).unwrap_err();
        assert!(e.to_string().starts_with("Cannot read private key"), "{e}");
    }
}
