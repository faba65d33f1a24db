//! The TLS test PKI and the mutual-TLS configurations of the services.
//!
//! SGP.02 has the off-card entities (MNO, EUM, SM-DP, SM-SR) authenticate each other on their
//! interfaces (ES1–ES4, ES7); we do that with mutually authenticated TLS (RFC 8446: the server
//! sends a CertificateRequest, §4.3.2, and a client without an acceptable certificate is refused
//! with `certificate_required`, §4.4.2.4), HTTP/1.1 negotiated by ALPN (RFC 7301).
//!
//! - [`init_pki`] writes a throw-away X.509 PKI (RFC 5280) beside the GlobalPlatform-format one
//!   of `smsr pki init`: a self-signed P-256 CA and one leaf per [`Role`]; [`issue`] adds leaves.
//!   This PKI is separate from the SGP.02 CI that signs the `7F21` certificates used on the card.
//! - A leaf names its holder in the subject: CN = the entity's name, OU = its [`Role`],
//!   O = [`ORGANIZATION`]; SANs DNS `localhost` and IP `127.0.0.1`; key usage digitalSignature
//!   (§4.2.1.3); extended key usage serverAuth and clientAuth (§4.2.1.12), since every service is
//!   both a server and a client of the others.
//! - [`server_config`] and [`client_config`] trust the CA file only and present the holder's
//!   certificate; both use the `ring` provider explicitly, so nothing depends on a process-wide
//!   default provider.
//! - [`peer_identity`] reads who is on the other end from the peer's end-entity certificate.
//!
//! ```text
//! DIR/tls-ca.crt.pem   DIR/tls-ca.key.pem (0600)     the CA
//! DIR/NAME.tls.crt.pem DIR/NAME.tls.key.pem (0600)   a leaf (sm-dp, sm-sr, mno, eum, or issued)
//! ```

mod config;
#[cfg(test)]
mod handshake_tests;
mod identity;
mod pki;
#[cfg(test)]
mod tests;

pub use config::{client_config, provider, server_config};
pub use identity::{describe_certificate, peer_identity, CertificateSummary};
pub use pki::{init_pki, issue, pki_paths};

use serde::Serialize;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use thiserror::Error;

/// The subject O of every certificate of the TLS test PKI.
pub const ORGANIZATION: &str = "smsr test PKI";

/// The CA certificate's file name in a PKI directory.
pub const CA_CERT_FILE: &str = "tls-ca.crt.pem";

/// The CA private key's file name in a PKI directory.
pub const CA_KEY_FILE: &str = "tls-ca.key.pem";

/// The role a TLS certificate gives its holder; written in the certificate subject's OU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Subscription Manager Data Preparation.
    SmDp,
    /// Subscription Manager Secure Routing.
    SmSr,
    /// Mobile Network Operator.
    Mno,
    /// eUICC Manufacturer.
    Eum,
}

impl Role {
    /// Every role, in the order `init_pki` writes their leaves.
    pub const ALL: [Role; 4] = [Role::SmDp, Role::SmSr, Role::Mno, Role::Eum];

    /// The role's name, as written in the OU and as the leaf's default name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SmDp => "sm-dp",
            Role::SmSr => "sm-sr",
            Role::Mno => "mno",
            Role::Eum => "eum",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected sm-dp, sm-sr, mno or eum"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is on the other end of a mutually authenticated connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerIdentity {
    /// From the subject OU.
    pub role: Role,
    /// The subject CN.
    pub name: String,
    /// The certificate's serial number, uppercase hex.
    pub serial: String,
}

/// Why the TLS PKI or a TLS configuration cannot be made; each message names the file and how
/// to fix it.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A private key file group or others can read.
    #[error("{detail}")]
    LooseKey { detail: String },
    /// A file cannot be read.
    #[error("cannot read {path}: {source} (make the TLS PKI with `smsr pki init --dir DIR`, or give the right path)")]
    Read { path: PathBuf, source: io::Error },
    /// A file or directory cannot be written.
    #[error("cannot write {path}: {source} (check that the directory is writable)")]
    Write { path: PathBuf, source: io::Error },
    /// Writing would replace a file.
    #[error("{path} already exists (use --force to replace it)")]
    Exists { path: PathBuf },
    /// A file is not the PEM it should be.
    #[error("{path}: {detail} (expected {what} in PEM form, as `smsr pki init` or `smsr pki issue` writes it)")]
    Pem {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    /// The CA's key is not the one of its certificate.
    #[error("{key} is not the private key of {cert} (run `smsr pki init --dir DIR --force` for a fresh CA)")]
    CaKeyMismatch { cert: PathBuf, key: PathBuf },
    /// A leaf name that cannot be a file name.
    #[error("invalid name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")]
    BadName { name: String },
    /// rcgen could not make a key or certificate.
    #[error("cannot make {what}: {source}")]
    Generate { what: String, source: rcgen::Error },
    /// rustls refuses a certificate, key or CA.
    #[error("{path}: {source} (use the files `smsr pki init` or `smsr pki issue` wrote, a certificate with its own key)")]
    Rustls {
        path: PathBuf,
        source: rustls::Error,
    },
    /// The client certificate verifier cannot be built from the CA file.
    #[error("{path}: cannot verify client certificates with it: {source} (it should be tls-ca.crt.pem from `smsr pki init`)")]
    Verifier {
        path: PathBuf,
        source: rustls::server::VerifierBuilderError,
    },
    /// The peer sent no certificate.
    #[error("the peer presented no certificate (mutual TLS needs one issued by the test CA)")]
    NoPeerCertificate,
    /// A certificate is not X.509 DER.
    #[error("{origin}: not an X.509 certificate: {detail}")]
    Certificate { origin: String, detail: String },
    /// The certificate's subject has no OU naming a role.
    #[error("{origin}: the subject has no OU naming a role (sm-dp, sm-sr, mno, eum); issue the certificate with `smsr pki issue`")]
    NoRole { origin: String },
    /// The certificate's subject OU is not a role.
    #[error("{origin}: the subject OU {ou:?} is not a role (sm-dp, sm-sr, mno, eum); issue the certificate with `smsr pki issue`")]
    UnknownRole { origin: String, ou: String },
    /// The certificate's subject has no CN.
    #[error("{origin}: the subject has no CN; issue the certificate with `smsr pki issue`")]
    NoName { origin: String },
}

/// The three files one party of the TLS PKI needs: the CA to trust, its certificate, its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate (PEM): the only one trusted.
    pub ca: PathBuf,
    /// The party's certificate (PEM; the leaf first, then any intermediates).
    pub cert: PathBuf,
    /// The party's private key (PEM, PKCS#8).
    pub key: PathBuf,
}

impl TlsFiles {
    /// `DIR/tls-ca.crt.pem`, `DIR/NAME.tls.crt.pem`, `DIR/NAME.tls.key.pem`.
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            ca: dir.join(CA_CERT_FILE),
            cert: dir.join(format!("{name}.tls.crt.pem")),
            key: dir.join(format!("{name}.tls.key.pem")),
        }
    }

    /// `cert` and `key` as given, the CA defaulting to `tls-ca.crt.pem` beside the certificate.
    pub fn beside(cert: &Path, key: &Path, ca: Option<&Path>) -> Self {
        let ca = match ca {
            Some(ca) => ca.to_owned(),
            None => cert
                .parent()
                .unwrap_or_else(|| Path::new(""))
                .join(CA_CERT_FILE),
        };
        Self {
            ca,
            cert: cert.to_owned(),
            key: key.to_owned(),
        }
    }
}
