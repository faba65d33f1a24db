//! ES8 EstablishISDPKeySet: elliptic-curve key agreement (ECKA-EG, BSI TR-03111 §4.3.2) between
//! the SM-DP and a new ISD-P, per SGP.02 §3.1.x / §4.1.3.x and GP Card Specification Amendment E
//! scenario #3 (facts and sources: shared/protocol/SGP02.md §3).
//!
//! 1. The SM-DP sends CERT.DP.ECDSA in DGI `3A01`; the card checks it with PK.CI.ECDSA and
//!    answers a random challenge RC.
//! 2. The SM-DP sends DGI `3A02` (the `A6` control reference template), its ephemeral public key
//!    ePK.DP.ECKA (`7F49`) and an SK.DP.ECDSA signature (`5F37`) over both and RC.
//! 3. Both compute Z = ECDH(eSK.DP.ECKA, PK.ECASD.ECKA), KeyData = X9.63-KDF-SHA-256(Z,
//!    SharedInfo), split it into a receipt key and the key set; the card answers DR and a
//!    receipt (AES-CMAC) that the SM-DP recomputes.
//!
//! - [`kdf`]: the X9.63 KDF with SHA-256.
//! - [`crt`]: the `A6` template.
//! - [`variant`]: every reading of an open point, in one place, with the default marked.
//! - [`messages`]: the STORE DATA data fields and responses.
//! - [`host`], [`card`]: the two sides as typed states.

pub mod card;
pub mod crt;
pub mod host;
pub mod kdf;
pub mod messages;
pub mod variant;

#[cfg(test)]
mod pair_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod scp03_tests;

pub use card::{CardConfig, CardKeySet, CertificateAccepted, KeySetCard};
pub use crt::ControlReferenceTemplate;
pub use host::{AwaitingReceipt, EstablishIsdpKeySet, EstablishedKeySet, HostConfig};
pub use kdf::x963_kdf;
pub use messages::KeyParameters;
pub use variant::{BlockLength, EckaVariant, KeyCount, ReceiptInput, ReceiptKeyPosition};

use crate::gp::GpError;
use crate::pki::{EntityType, PkiError};
use crate::scp03::ScpError;
use crate::tlv::{Tag, TlvError};
use thiserror::Error;

/// Why key establishment failed, on either side.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EckaError {
    /// Bytes that are not valid BER-TLV.
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// A malformed key, certificate or signature field.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A DGI or STORE DATA coding problem.
    #[error(transparent)]
    Gp(#[from] GpError),
    /// A key set that SCP03 cannot hold.
    #[error(transparent)]
    Scp(#[from] ScpError),
    /// The STORE DATA data field is not laid out as expected.
    #[error("key establishment data at offset {offset}: {reason}")]
    Layout { offset: usize, reason: &'static str },
    /// A malformed `A6` template.
    #[error("A6 template, tag {tag}: {reason}")]
    BadCrt { tag: Tag, reason: &'static str },
    /// A valid request this implementation does not support.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The card refused the off-card entity certificate.
    #[error("CERT.DP.ECDSA refused: {0}")]
    CertificateRejected(PkiError),
    /// The certificate is for another role than the one expected.
    #[error("certificate role {found:?} where {expected:?} is required")]
    WrongEntity {
        expected: EntityType,
        found: Option<EntityType>,
    },
    /// The key parameters' signature does not verify with PK.DP.ECDSA.
    #[error("the 3A02 signature does not verify with the certificate's key")]
    SignatureInvalid,
    /// The host's private key is not the one in its certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// A card response of the wrong form.
    #[error("bad card response: {0}")]
    BadResponse(&'static str),
    /// The card's receipt differs from the one computed.
    #[error("receipt mismatch: the card derived different keys")]
    ReceiptMismatch,
    /// The operating system's random source failed.
    #[error("the operating system random source failed")]
    Random,
}
