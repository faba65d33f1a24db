//! The SGP.02 public key infrastructure: GlobalPlatform-style certificates (tag `7F21`) on NIST
//! P-256, as used for CERT.CI.ECDSA, CERT.EUM.ECDSA, CERT.DP.ECDSA, CERT.SR.ECDSA and
//! CERT.ECASD.ECKA (SGP.02 §2.3.2 and Tables 76–78, coding from GP Card Specification
//! Amendment A/E).
//!
//! Trust chain: the CI signs the EUM, SM-DP and SM-SR certificates; the EUM signs the ECASD
//! certificate (CERT.ECASD.ECKA, delivered to the SM-SR in the EIS). The eUICC holds PK.CI.ECDSA
//! in its ECASD and checks CERT.DP.ECDSA with it before ES8 key establishment ([`crate::ecka`]).
//!
//! - [`keys`]: P-256 private and public keys, the `7F49` public key template, plain `r‖s` ECDSA
//!   signatures and ECDH.
//! - [`cert`]: the `7F21` certificate: typed fields, strict decoding, signing and verification.
//! - [`test_pki`]: a complete throw-away PKI for tests and the emulator; [`Issuers`], its four
//!   issuing parties.
//! - [`dir`]: the PKI directory, the on-disk form of [`Issuers`] (certificates and PEM keys).
//! - [`x509`]: the P-256 public key and signature of an X.509 certificate (SGP.26 test
//!   certificates), enough to check our ECDSA against certificates made elsewhere.

pub mod cert;
pub mod dir;
pub mod keys;
pub mod test_pki;
pub mod x509;

#[cfg(test)]
mod prop_tests;

pub use cert::{BcdDate, Certificate, CertificateBody, EntityType, KeyUsage};
pub use dir::PkiDirError;
pub use keys::{EcdsaSignature, PrivateKey, PublicKey, KEY_PARAMETER_P256};
pub use test_pki::{Issuers, TestPki};

use crate::tlv::{Tag, TlvError};
use thiserror::Error;

/// Why a key, certificate or signature is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PkiError {
    /// Bytes that are not valid BER-TLV.
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// A field in the wrong place, repeated, unknown, or a required one absent.
    #[error("certificate field at offset {offset}: {reason} (tag {tag})")]
    Layout {
        offset: usize,
        tag: Tag,
        reason: &'static str,
    },
    /// A field whose value is malformed.
    #[error("bad value in tag {tag}: {reason}")]
    BadValue { tag: Tag, reason: &'static str },
    /// A key parameter reference other than `00` (NIST P-256).
    #[error(
        "key parameter reference '{0:02X}' is not NIST P-256 ('00'), the only curve supported"
    )]
    UnsupportedCurve(u8),
    /// A public key that is not an uncompressed P-256 point.
    #[error("bad public key: {0}")]
    BadPublicKey(&'static str),
    /// A private key that is not a valid P-256 scalar or PEM.
    #[error("bad private key: {0}")]
    BadPrivateKey(&'static str),
    /// The ECDSA signature does not verify.
    #[error("ECDSA signature does not verify")]
    SignatureInvalid,
    /// The certificate has a key usage other than the one its role needs.
    #[error("certificate key usage {found} where {expected} is required")]
    WrongKeyUsage { expected: KeyUsage, found: KeyUsage },
    /// The operating system's random source failed.
    #[error("the operating system random source failed")]
    Random,
    /// An X.509 structure this module cannot read.
    #[error("X.509: {0}")]
    X509(&'static str),
}
