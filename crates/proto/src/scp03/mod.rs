//! GlobalPlatform Secure Channel Protocol '03' (GP Card Specification v2.3 Amendment D v1.2,
//! which includes v1.1.1 and adds the S16 mode), sans I/O, for both ends of the channel.
//!
//! - [`kdf`]: AES-CMAC (NIST SP 800-38B) and the SP 800-108 counter-mode KDF in the GP layout
//!   (Amendment D §4.1.5).
//! - [`cipher`]: AES-ECB/CBC and the `80 00…` padding (GPCS v2.3.1 §B.2.1, §B.2.3).
//! - [`keys`]: static and session keys, key check values (Amendment D §6.1, §6.2.1).
//! - [`put_key`]: PUT KEY key data with the static Key-DEK (GPCS §11.8, Amendment D §6.2.8).
//! - [`diversify`]: master-key diversification templates used with SCP03 key sets.
//! - [`cryptogram`]: i parameter, security level, challenges and cryptograms (§5.1, §6.2.2, §7.1.2.3).
//! - [`initialize_update`]: the INITIALIZE UPDATE command and response (§7.1.1).
//! - [`wrap`]: the session engine both sides share: C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION
//!   (§6.2.3–§6.2.7).
//! - [`host`]: the off-card entity's handshake as typed states (§5.2).
//! - [`card`]: the Security Domain's side (§5.5, §5.6, §7.1); [`card_channel`] routes one
//!   logical channel's commands through it.
//! - [`observer`]: a passive decoder of recorded exchanges for trace decryption.

pub mod card;
pub mod card_channel;
pub mod cipher;
pub mod cryptogram;
pub mod diversify;
pub mod host;
pub mod initialize_update;
pub mod kdf;
pub mod keys;
pub mod observer;
pub mod put_key;
pub mod wrap;

#[cfg(test)]
mod pair_tests;
#[cfg(test)]
mod test_fixtures;

pub use card::{CardKeySet, CardPending, CardSession, Rejection, Scp03Card};
pub use card_channel::{CardChannel, CardStep};
pub use cryptogram::{ScpMode, ScpOptions, SecurityLevel};
pub use diversify::Diversification;
pub use host::{
    AwaitingExternalAuthenticate, CardAuthenticated, Established, HostOptions, Scp03Host,
};
pub use initialize_update::{InitializeUpdate, InitializeUpdateResponse};
pub use keys::{AesKey, KeyLength, SessionKeys, StaticKeys};
pub use observer::{ExchangeKind, LoggedSession, ObservedExchange, Observer};

use crate::apdu::ApduError;
use crate::status::StatusWord;
use thiserror::Error;

/// The Secure Channel Protocol identifier returned in INITIALIZE UPDATE (Amendment D §7.1.1.6).
pub const SCP03_ID: u8 = 0x03;

/// Everything that can go wrong in SCP03, on either side of the channel.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ScpError {
    /// A key of a length AES does not have.
    #[error("AES key of {0} bytes: SCP03 keys are 16, 24 or 32 bytes long")]
    BadKeyLength(usize),
    /// Key-ENC, Key-MAC and Key-DEK differ in length.
    #[error(
        "Key-ENC, Key-MAC and Key-DEK must have the same length (got {enc}, {mac} and {dek} bytes)"
    )]
    KeyLengthMismatch { enc: usize, mac: usize, dek: usize },
    /// A challenge of the wrong length for the mode.
    #[error("challenge of {got} bytes where {expected} are needed")]
    BadChallengeLength { expected: usize, got: usize },
    /// A Security Domain AID outside 5..=16 bytes.
    #[error("Security Domain AID of {0} bytes: an AID has 5 to 16 bytes")]
    BadAidLength(usize),
    /// An EXTERNAL AUTHENTICATE P1 that Amendment D Table 7-6 does not define.
    #[error(
        "security level '{0:02X}' is not one of 00, 01, 03, 11, 13, 33 (Amendment D Table 7-6)"
    )]
    InvalidSecurityLevel(u8),
    /// An "i" parameter with RFU bits set or R-ENCRYPTION without R-MAC.
    #[error("SCP03 \"i\" parameter '{0:02X}' uses reserved bits or combinations (Amendment D Table 5-1)")]
    InvalidScpOptions(u8),
    /// The card answered for another secure channel protocol.
    #[error(
        "card answered INITIALIZE UPDATE for SCP '{0:02X}', not SCP03 — no EXTERNAL AUTHENTICATE was sent"
    )]
    ScpIdMismatch(u8),
    /// The INITIALIZE UPDATE response has a length SCP03 never uses.
    #[error(
        "INITIALIZE UPDATE response of {0} bytes: SCP03 answers 29 or 32 (S8) or 45 or 48 (S16) bytes — no EXTERNAL AUTHENTICATE was sent"
    )]
    BadInitializeUpdateResponseLength(usize),
    /// The response length contradicts the "i" parameter it carries.
    #[error(
        "INITIALIZE UPDATE response of {len} bytes does not match its \"i\" parameter '{i:02X}' — no EXTERNAL AUTHENTICATE was sent"
    )]
    InitializeUpdateLengthMismatch { len: usize, i: u8 },
    /// The card runs the other S8/S16 mode than the host asked for.
    #[error(
        "card answered in {card} mode but the host challenge was for {requested} — no EXTERNAL AUTHENTICATE was sent"
    )]
    ModeMismatch {
        requested: cryptogram::ScpMode,
        card: cryptogram::ScpMode,
    },
    /// The card used another key set than the one requested.
    #[error(
        "card used key version '{returned:02X}' but '{requested:02X}' was requested — no EXTERNAL AUTHENTICATE was sent"
    )]
    KvnMismatch { requested: u8, returned: u8 },
    /// The card cryptogram does not verify with the host's keys.
    #[error(
        "card cryptogram mismatch for key version '{kvn:02X}': wrong keys, wrong KVN, or the card needs key diversification — no EXTERNAL AUTHENTICATE was sent"
    )]
    CardCryptogramMismatch { kvn: u8 },
    /// INITIALIZE UPDATE failed with a status word.
    #[error("INITIALIZE UPDATE refused with {sw}: {}", initialize_update_hint(*.sw))]
    InitializeUpdateRefused { sw: StatusWord },
    /// EXTERNAL AUTHENTICATE failed with a status word.
    #[error("EXTERNAL AUTHENTICATE refused with {sw}: {}", external_authenticate_hint(*.sw))]
    ExternalAuthenticateRefused { sw: StatusWord },
    /// A response carried data where none is defined.
    #[error("{0} response carries unexpected data")]
    UnexpectedResponseData(&'static str),
    /// The security level asks for response protection the card does not offer.
    #[error(
        "security level '{level:02X}' needs R-MAC/R-ENCRYPTION but the card's \"i\" parameter '{i:02X}' does not support it"
    )]
    LevelNotSupported { level: u8, i: u8 },
    /// A command for another logical channel than the session's.
    #[error("command for logical channel {command} in a session on channel {session}")]
    ChannelMismatch { session: u8, command: u8 },
    /// An earlier failure ended the session; its keys are gone.
    #[error(
        "the secure channel session was terminated after an earlier failure; open a new one with INITIALIZE UPDATE"
    )]
    SessionTerminated,
    /// The command MAC does not verify.
    #[error("C-MAC verification failed")]
    CMacMismatch,
    /// A command too short to hold its MAC.
    #[error("command has no room for a {0}-byte C-MAC")]
    CMacMissing(usize),
    /// A command without secure messaging where the session's level requires it.
    #[error(
        "command CLA '{0:02X}' has no secure messaging but the session's security level requires a C-MAC"
    )]
    BelowSecurityLevel(u8),
    /// The response MAC does not verify.
    #[error("R-MAC verification failed")]
    RMacMismatch,
    /// A protected response too short to hold its MAC.
    #[error("response has no room for a {0}-byte R-MAC")]
    RMacMissing(usize),
    /// Decrypted data does not end in `80 00…`.
    #[error("decrypted data does not end with the 80 00… padding")]
    BadPadding,
    /// CBC input whose length is not a non-zero multiple of 16.
    #[error("encrypted data of {0} bytes is not a non-zero multiple of the AES block size")]
    NotBlockAligned(usize),
    /// The wrapped command no longer fits a short Lc.
    #[error(
        "wrapped command data of {0} bytes exceeds the short Lc limit of 255: use extended length APDUs or split the command"
    )]
    LcTooLong(usize),
    /// ISO command chaining (CLA b5) is not wrapped.
    #[error("CLA '{0:02X}' uses ISO command chaining, which this SCP03 layer does not wrap")]
    CommandChaining(u8),
    /// A command already marked as secured.
    #[error("CLA '{0:02X}' already indicates secure messaging")]
    AlreadySecured(u8),
    /// A class byte that is neither interindustry form.
    #[error("CLA '{0:02X}' is not a class SCP03 can protect")]
    BadClass(u8),
    /// The encryption counter ran out.
    #[error("encryption counter exhausted: open a new session")]
    CounterExhausted,
    /// The card's pseudo-random sequence counter reached its maximum (Amendment D §6.2.2.1).
    #[error("sequence counter of key version '{0:02X}' exhausted")]
    SequenceCounterExhausted(u8),
    /// No key set with that version.
    #[error("no key set with key version '{0:02X}'")]
    KeySetNotFound(u8),
    /// A malformed command for this step of the protocol.
    #[error("bad {command} command: {reason}")]
    BadCommand {
        command: &'static str,
        reason: &'static str,
    },
    /// The host cryptogram does not verify (card side).
    #[error("host cryptogram mismatch")]
    HostCryptogramMismatch,
    /// Malformed PUT KEY data or response.
    #[error("bad PUT KEY {0}")]
    BadKeyData(&'static str),
    /// A key type other than AES in a PUT KEY key data field.
    #[error("PUT KEY key type '{0:02X}' is not AES ('88')")]
    UnsupportedKeyType(u8),
    /// A key check value does not match its key.
    #[error("key check value of key {index} does not match")]
    KcvMismatch { index: usize },
    /// A diversification name this crate does not implement for AES.
    #[error("{0}")]
    UnsupportedDiversification(String),
    /// The OS random number generator failed.
    #[error("OS random number generator failed: {0}")]
    Rng(String),
    /// An APDU could not be built or parsed.
    #[error(transparent)]
    Apdu(#[from] ApduError),
}

fn initialize_update_hint(sw: StatusWord) -> &'static str {
    match sw.to_u16() {
        0x6A88 => "the card has no key set with that key version",
        0x6700 => "wrong length: the card may run the other S8/S16 mode",
        0x6982 | 0x6983 => "the Security Domain may be locked or its keys blocked",
        0x6985 => "the pseudo-random sequence counter may be exhausted",
        0x6D00 => "the selected application does not handle INITIALIZE UPDATE: select the Security Domain first",
        _ => "no secure channel was opened",
    }
}

fn external_authenticate_hint(sw: StatusWord) -> &'static str {
    match sw.to_u16() {
        0x6300 => {
            "the card rejected the host cryptogram — do not retry blindly, cards count failures"
        }
        0x6982 => "the card rejected the C-MAC",
        0x6A86 => "the card refused the security level",
        _ => "no secure channel was opened",
    }
}

#[cfg(test)]
pub(crate) mod testdata {
    //! Loads `shared/vectors/scp03.json` at test time (never copied into the repository).
    use serde_json::Value;
    use std::path::PathBuf;

    /// The parsed vector file, or `None` (with a note on stderr) when it is absent, unless
    /// `SMSR_REQUIRE_TESTDATA=1` makes that a failure.
    pub fn scp03_vectors() -> Option<Value> {
        let dir = std::env::var_os("SMSR_SHARED").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
            PathBuf::from,
        );
        let path = dir.join("vectors/scp03.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).expect("scp03.json is valid JSON")),
            Err(e) => {
                if std::env::var("SMSR_REQUIRE_TESTDATA").as_deref() == Ok("1") {
                    panic!("{} required but unreadable: {e}", path.display());
                }
                eprintln!("skipped: no ../shared/vectors");
                None
            }
        }
    }

    /// Hex string field → bytes.
    pub fn hex(v: &Value) -> Vec<u8> {
        hex::decode(v.as_str().expect("hex string")).expect("valid hex")
    }

    /// Hex literal → bytes.
    pub fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("valid hex")
    }
}
