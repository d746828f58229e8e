//! x509 credentials made for a test (with rcgen): a CA, a server certificate for `localhost`
//! and `127.0.0.1`, a client certificate, and the wrong credentials a daemon must refuse (a
//! client certificate signed by another CA, a client without one), laid out in directories as
//! libvirt's `pkipath` expects them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, date_time_ymd,
};

/// The directories of one test's credentials.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The server's: `cacert.pem`, `servercert.pem`, `serverkey.pem` (libvirtd's `ca_file`,
    /// `cert_file`, `key_file`; virtkitd's too).
    pub server_dir: PathBuf,
    /// A good client's `pkipath`: `cacert.pem`, `clientcert.pem`, `clientkey.pem`.
    pub client_dir: PathBuf,
    /// A client whose certificate another CA signed (its `cacert.pem` is the right one).
    pub rogue_client_dir: PathBuf,
    /// A client with the CA's certificate and no certificate of its own.
    pub anonymous_client_dir: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("a key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    p.distinguished_name.push(DnType::CommonName, name);
    p.distinguished_name
        .push(DnType::OrganizationName, "virtkit tests");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2045, 1, 1);
    let pem = p.self_signed(&key).expect("a self-signed CA").pem();
    (p, key, pem)
}

fn leaf(
    cn: &str,
    names: &[&str],
    purpose: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, &KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().expect("a key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("parameters");
    for n in names {
        p.subject_alt_names.push(match n.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().expect("a DNS name")),
        });
    }
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "virtkit tests");
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![purpose];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2045, 1, 1);
    let cert = p.signed_by(&key, issuer).expect("a signed certificate");
    (cert.pem(), key.serialize_pem())
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl Pki {
    /// Makes the credentials under `dir` (which the caller owns, e.g. a `tempfile` directory).
    pub fn new(dir: &Path) -> Pki {
        let (ca_params, ca_key, ca_pem) = ca("virtkit test CA");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let (other_params, other_key, _) = ca("another CA");
        let other = Issuer::from_params(&other_params, &other_key);
        let pki = Pki {
            server_dir: dir.join("server"),
            client_dir: dir.join("client"),
            rogue_client_dir: dir.join("rogue-client"),
            anonymous_client_dir: dir.join("anonymous-client"),
        };
        for d in [
            &pki.server_dir,
            &pki.client_dir,
            &pki.rogue_client_dir,
            &pki.anonymous_client_dir,
        ] {
            std::fs::create_dir_all(d).expect("a pki directory");
            write(&d.join("cacert.pem"), &ca_pem, 0o644);
        }
        let (cert, key) = leaf(
            "localhost",
            &["localhost", "127.0.0.1", "::1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        );
        write(&pki.server_dir.join("servercert.pem"), &cert, 0o644);
        write(&pki.server_dir.join("serverkey.pem"), &key, 0o600);
        let (cert, key) = leaf("client", &[], ExtendedKeyUsagePurpose::ClientAuth, &issuer);
        write(&pki.client_dir.join("clientcert.pem"), &cert, 0o644);
        write(&pki.client_dir.join("clientkey.pem"), &key, 0o600);
        let (cert, key) = leaf("rogue", &[], ExtendedKeyUsagePurpose::ClientAuth, &other);
        write(&pki.rogue_client_dir.join("clientcert.pem"), &cert, 0o644);
        write(&pki.rogue_client_dir.join("clientkey.pem"), &key, 0o600);
        pki
    }
}
