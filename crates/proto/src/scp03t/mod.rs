//! SCP03t: the protection of the profile download from the SM-DP to the ISD-P (SGP.02
//! §2.5.2 "SCP03t", §2.5.3 segmentation; GP Card Specification Amendment D for the crypto),
//! sans I/O, both ends.
//!
//! SCP03t is SCP03 carried in the command TLVs of an ETSI TS 102 226 remote script (see
//! [`crate::ota::script`], which passes `84`/`85`/`86` through) instead of APDUs:
//!
//! | command TLV | APDU equivalent | value |
//! |---|---|---|
//! | `84` | INITIALIZE UPDATE | KVN ‖ key identifier ‖ host challenge (8), L = `0A` |
//! | `85` | EXTERNAL AUTHENTICATE | security level `33` ‖ host cryptogram (8) ‖ C-MAC (8), L = `11` |
//! | `86` | the profile package, segment by segment | AES-CBC(S-ENC, segment ‖ `80 00…`) ‖ C-MAC (8) |
//!
//! | response TLV | meaning |
//! |---|---|
//! | `84 20` | the INITIALIZE UPDATE response data: KDD (10) ‖ KVN ‖ `03` ‖ i = `70` ‖ card challenge (8) ‖ card cryptogram (8) ‖ sequence counter (3) |
//! | `85 00` | authenticated (no data, no R-MAC) |
//! | `86 00` | segment accepted, nothing to say |
//! | `86 L` enc ‖ R-MAC | data for the host: here the DER [`EuiccResponse`] after the last segment |
//! | `9F44 01 xx`, `9F45 01 xx`, `9F46 01 xx` | error on `84`, `85`, `86`: `01` structure, `02` security, `03` referenced data (key set) not found |
//!
//! There are no status words: the errors are the `9F4x` response TLVs, and the R-MAC covers the
//! response TLV instead of data ‖ SW. Crypto (`shared/protocol/SGP02.md` §4.3):
//! - session keys, card and host cryptograms and the pseudo-random card challenge (i = `70`:
//!   KDF(Key-ENC, `02`, sequence counter ‖ ISD-P AID)) are exactly SCP03's ([`crate::scp03`]);
//!   the SM-DP can therefore compute `84` and `85` offline and send them in one script;
//! - C-MAC = the first 8 bytes of CMAC(S-MAC, MCV ‖ tag ‖ L ‖ value without MAC), where L is the
//!   final BER length *including* the 8 MAC bytes; the MCV starts at 16 × `00` for `85` and is
//!   then the full CMAC of the previous command ([`mac_input_length`]);
//! - C-DECRYPTION: encryption counter 1 for the first `86`, ICV = AES(S-ENC, counter block),
//!   `80 00…` padding, encrypt then MAC;
//! - R-MAC = the first 8 bytes of CMAC(S-RMAC, MCV of the command ‖ `86` ‖ L ‖ encrypted data),
//!   R-ENC ICV = AES(S-ENC, counter block with its first byte `80`), as in SCP03.
//!
//! - [`host`]: the SM-DP side: builds every command TLV offline, then checks the answers.
//! - [`card`]: the ISD-P side: a stateful receiver that rebuilds the package and hands it over.

pub mod card;
pub mod host;
pub mod observer;

#[cfg(test)]
mod tests;

pub use card::Scp03tCard;
pub use host::{DownloadOutcome, HostEvent, ProtectedDownload, ResponseChecker, Scp03tHost};
pub use observer::{Scp03tObserver, TlvCheck};

use crate::saip::SaipError;
use crate::scp03::cipher::ecb_encrypt_block;
use crate::scp03::kdf::aes_cmac;
use crate::scp03::{AesKey, ScpError, SessionKeys};
use crate::tlv::{encode_length, Tag, TlvError};
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

/// `84`: the INITIALIZE UPDATE equivalent (command and response).
pub const TAG_INITIALIZE_UPDATE: u32 = 0x84;
/// `85`: the EXTERNAL AUTHENTICATE equivalent (command and response).
pub const TAG_EXTERNAL_AUTHENTICATE: u32 = 0x85;
/// `86`: a profile package segment (command), its acknowledgement or data (response).
pub const TAG_PROFILE_DATA: u32 = 0x86;

/// The security level SGP.02 uses: C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION.
pub const SECURITY_LEVEL: u8 = 0x33;
/// Host and card challenges (S8 mode).
pub const CHALLENGE_LEN: usize = 8;
/// C-MAC and R-MAC length (S8 mode).
pub const MAC_LEN: usize = 8;

/// The largest `86` command TLV, tag and length included (SGP.02 §2.5.3, as summarised in
/// `shared/protocol/SGP02.md` §4.3).
pub const MAX_SEGMENT_TLV: usize = 1024;

/// The largest plaintext segment that fits [`MAX_SEGMENT_TLV`]: 1024 − tag (1) − length
/// `82 hh ll` (3) leaves 1020 value bytes; minus the 8-byte C-MAC, 1012, rounded down to whole
/// AES blocks, 1008 bytes of ciphertext; padding always adds at least one byte, so 1007.
pub const MAX_SEGMENT_PLAINTEXT: usize = 1007;

/// The largest package a card accepts before the End PE (a guard against unbounded buffering;
/// the TS.48 packages are about 12 KiB).
pub const MAX_PACKAGE_LEN: usize = 1 << 20;

/// Which command an error TLV answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorTag {
    /// `9F44`: on `84`.
    InitializeUpdate,
    /// `9F45`: on `85`.
    ExternalAuthenticate,
    /// `9F46`: on `86`.
    ProfileData,
}

impl ErrorTag {
    /// The response tag.
    pub fn tag(self) -> u32 {
        match self {
            Self::InitializeUpdate => 0x9F44,
            Self::ExternalAuthenticate => 0x9F45,
            Self::ProfileData => 0x9F46,
        }
    }

    /// The error tag answering a command tag.
    pub fn for_command(tag: u32) -> Option<Self> {
        match tag {
            TAG_INITIALIZE_UPDATE => Some(Self::InitializeUpdate),
            TAG_EXTERNAL_AUTHENTICATE => Some(Self::ExternalAuthenticate),
            TAG_PROFILE_DATA => Some(Self::ProfileData),
            _ => None,
        }
    }

    /// The error tag of a response tag.
    pub fn from_tag(tag: u32) -> Option<Self> {
        [
            Self::InitializeUpdate,
            Self::ExternalAuthenticate,
            Self::ProfileData,
        ]
        .into_iter()
        .find(|e| e.tag() == tag)
    }
}

/// The one-byte reason in a `9F4x 01 xx` error TLV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReason {
    /// `01`: wrong length or structure.
    Structure,
    /// `02`: a cryptogram, MAC or decryption failed.
    Security,
    /// `03`: the referenced key set does not exist.
    ReferencedDataNotFound,
    /// Any other value, kept.
    Other(u8),
}

impl ErrorReason {
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Structure => 0x01,
            Self::Security => 0x02,
            Self::ReferencedDataNotFound => 0x03,
            Self::Other(b) => b,
        }
    }

    pub fn from_byte(b: u8) -> Self {
        match b {
            0x01 => Self::Structure,
            0x02 => Self::Security,
            0x03 => Self::ReferencedDataNotFound,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Structure => write!(f, "'01' (length or structure)"),
            Self::Security => write!(f, "'02' (security: cryptogram, MAC or decryption)"),
            Self::ReferencedDataNotFound => write!(f, "'03' (referenced key set not found)"),
            Self::Other(b) => write!(f, "'{b:02X}'"),
        }
    }
}

/// Everything that can go wrong in SCP03t, on either side.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Scp03tError {
    #[error(transparent)]
    Scp(#[from] ScpError),
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// A TLV of the wrong length for its tag.
    #[error("SCP03t {tag} of {got} bytes where {expected} are required")]
    BadLength {
        tag: Tag,
        expected: &'static str,
        got: usize,
    },
    /// A TLV where another was expected in the protocol's order.
    #[error("SCP03t: {got} received where {expected} was expected")]
    UnexpectedTag { expected: &'static str, got: Tag },
    /// The security level byte of `85` is not `33`.
    #[error("SCP03t security level '{0:02X}' is not '33'")]
    SecurityLevel(u8),
    /// The key identifier in `84` names no key of the set.
    #[error("SCP03t key identifier '{0:02X}' is not '00' or '01'")]
    KeyIdentifier(u8),
    /// The card answered with an error TLV.
    #[error("the card answered {} with reason {reason}", tag_name(*tag))]
    CardError { tag: ErrorTag, reason: ErrorReason },
    /// The card's `84` answer does not match what the host computed offline.
    #[error("card {what} in the 84 response does not match the offline computation (wrong keys, wrong ISD-P AID or wrong sequence counter)")]
    InitializeMismatch { what: &'static str },
    /// The host cryptogram in `85` does not verify.
    #[error("host cryptogram mismatch")]
    HostCryptogramMismatch,
    /// A C-MAC does not verify.
    #[error("C-MAC verification failed")]
    CMacMismatch,
    /// An R-MAC does not verify.
    #[error("R-MAC verification failed")]
    RMacMismatch,
    /// Decryption did not end in `80 00…`.
    #[error("decrypted data does not end with the 80 00… padding")]
    BadPadding,
    /// A command arrives in a state where it is not allowed.
    #[error("SCP03t {0}")]
    OutOfOrder(&'static str),
    /// The package is malformed as a sequence of PEs or too large.
    #[error("profile package: {0}")]
    Package(String),
    /// The session ended after an earlier failure or after the package was complete.
    #[error("the SCP03t session is closed; start again with 84")]
    SessionClosed,
    /// A segment size outside 1..=[`MAX_SEGMENT_PLAINTEXT`].
    #[error("segment size {0} outside 1..=1007 bytes of plaintext")]
    SegmentSize(usize),
    /// The response script reports a bad format (ETSI TS 102 226 `90`).
    #[error("the response script reports bad format '{0:02X}'")]
    BadScript(u8),
    /// The `EUICCResponse` does not decode.
    #[error("EUICCResponse: {0}")]
    EuiccResponse(#[from] SaipError),
}

fn tag_name(tag: ErrorTag) -> &'static str {
    match tag {
        ErrorTag::InitializeUpdate => "9F44 (84 refused)",
        ErrorTag::ExternalAuthenticate => "9F45 (85 refused)",
        ErrorTag::ProfileData => "9F46 (86 refused)",
    }
}

impl Scp03tError {
    /// The reason code a card reports for this error.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::HostCryptogramMismatch
            | Self::CMacMismatch
            | Self::RMacMismatch
            | Self::BadPadding
            | Self::InitializeMismatch { .. } => ErrorReason::Security,
            Self::KeyIdentifier(_) | Self::Scp(ScpError::KeySetNotFound(_)) => {
                ErrorReason::ReferencedDataNotFound
            }
            Self::CardError { reason, .. } => *reason,
            _ => ErrorReason::Structure,
        }
    }
}

/// An open session (after `85`), the same state on both ends: session keys, the MAC chaining
/// value and the encryption counter of the last command.
#[derive(Clone)]
pub(crate) struct Session {
    keys: SessionKeys,
    mcv: Zeroizing<[u8; 16]>,
    counter: u32,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// After a verified `85` whose full C-MAC is `mcv`.
    pub(crate) fn new(keys: SessionKeys, mcv: [u8; 16]) -> Self {
        Self {
            keys,
            mcv: Zeroizing::new(mcv),
            counter: 0,
        }
    }

    pub(crate) fn next_counter(&mut self) -> Result<u32, Scp03tError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(ScpError::CounterExhausted)?;
        Ok(self.counter)
    }
}

/// The final BER length of a MACed TLV, as it goes into the MAC input: the value without MAC
/// plus the 8 MAC bytes (SGP.02 §2.5.2, `shared/protocol/SGP02.md` §4.3). The R-MAC uses the
/// same framing as the C-MAC; this is the one place both are defined.
pub fn mac_input_length(value_without_mac: usize) -> Vec<u8> {
    encode_length(value_without_mac + MAC_LEN)
}

/// Full CMAC over MCV ‖ tag ‖ final length ‖ value without MAC.
pub(crate) fn tlv_mac(key: &AesKey, mcv: &[u8; 16], tag: u32, value: &[u8]) -> [u8; 16] {
    aes_cmac(
        key,
        &[
            mcv,
            &Tag::new(tag).to_bytes(),
            &mac_input_length(value.len()),
            value,
        ],
    )
}

/// ICV of the `86` command with encryption counter `counter`.
pub(crate) fn command_icv(s_enc: &AesKey, counter: u32) -> [u8; 16] {
    ecb_encrypt_block(s_enc, u128::from(counter).to_be_bytes())
}

/// ICV of the `86` response to the command with encryption counter `counter`.
pub(crate) fn response_icv(s_enc: &AesKey, counter: u32) -> [u8; 16] {
    let mut block = u128::from(counter).to_be_bytes();
    block[0] = 0x80;
    ecb_encrypt_block(s_enc, block)
}
