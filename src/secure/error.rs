//! Secure channel errors: each message names the cause and what to do.

use super::SessionInfo;
use crate::transport::TransportError;
use smsr_proto::scp03::ScpError;
use smsr_proto::StatusWord;
use thiserror::Error;

/// Why a secure channel could not be opened or used.
#[derive(Debug, Error)]
pub enum SecureError {
    /// The card link failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The keys cannot be used (length, template).
    #[error("{0}")]
    Keys(String),
    /// A command could not be built.
    #[error("cannot build the command: {0}")]
    BadCommand(String),
    /// SELECT of the Security Domain failed.
    #[error("SELECT of the Security Domain {aid} failed with {sw}: {}", select_hint(*.sw))]
    SelectFailed { aid: String, sw: StatusWord },
    /// INITIALIZE UPDATE: no key set with that KVN ('6A88').
    #[error(
        "the card has no key set with key version '{kvn:02X}' (INITIALIZE UPDATE answered 6A88): \
         check --kvn (or the keyset's \"kvn\"); 00 asks for the card's first key set, and GET \
         DATA 'E0' lists the card's key sets"
    )]
    KvnNotFound { kvn: u8 },
    /// INITIALIZE UPDATE refused for security reasons ('6982'/'6983').
    #[error(
        "INITIALIZE UPDATE refused with {sw}: the Security Domain is locked, or its keys are \
         blocked after too many failed authentications; the card issuer must unlock it — \
         retrying will not help"
    )]
    InitializeUpdateBlocked { sw: StatusWord },
    /// The card's answer does not fit SCP03, or another protocol step failed.
    #[error("{error}{hint}", error = .0, hint = handshake_hint(.0))]
    Handshake(ScpError),
    /// The card cryptogram does not verify: the keys are not the card's.
    #[error(
        "the card cryptogram does not match for key version '{}' ({}, diversification {}, KDD \
         {}): wrong key, wrong KVN, or the card's keys are diversified from a master key (try \
         --key with --kdf emv, visa2 or kdf3). No EXTERNAL AUTHENTICATE was sent, so the \
         card's retry counter was not spent; do not try guessed keys with tools that send it \
         anyway — cards lock after a few failures",
        info.kvn, info.keys, info.diversification, info.kdd
    )]
    CardCryptogramMismatch { info: Box<SessionInfo> },
    /// The requested level needs response protection the card does not offer.
    #[error(
        "security level '{level:02X}' needs R-MAC/R-ENCRYPTION, which the card's \"i\" \
         parameter '{i:02X}' does not offer: use --level auto (or cmac-cdec); no EXTERNAL \
         AUTHENTICATE was sent"
    )]
    LevelNotSupported { level: u8, i: u8 },
    /// EXTERNAL AUTHENTICATE refused.
    #[error("EXTERNAL AUTHENTICATE refused with {sw}: {}", external_authenticate_hint(*.sw))]
    ExternalAuthenticateRefused { sw: StatusWord },
    /// The session ended earlier.
    #[error("the secure channel session has ended: {why}; open a new session")]
    SessionEnded { why: String },
    /// A response failed R-MAC verification or decryption: the session is over.
    #[error(
        "the card's response is not authentic ({0}): it may have been altered between card and \
         host; the session was ended and its keys wiped — open a new session, and if this \
         repeats check the reader and the trace"
    )]
    ResponseNotAuthentic(ScpError),
    /// A `61xx`/`6Cxx` reached the secure channel.
    #[error(
        "the card answered {sw} inside the secure channel, which needs whole responses: put the \
         response assembler (61xx/6Cxx handling) below the secure channel; the session was ended"
    )]
    UnassembledResponse { sw: StatusWord },
    /// A command that cannot be protected (too long, wrong class or channel); the session is
    /// kept.
    #[error("cannot protect this command: {0}")]
    Protect(ScpError),
    /// PUT KEY needs Key-DEK.
    #[error(
        "PUT KEY needs the card's Key-DEK, which was not given: add --key-dek (or \"dek\" to the \
         keyset) and open the session again"
    )]
    NoDek,
    /// PUT KEY refused.
    #[error("PUT KEY of key version '{kvn:02X}' refused with {sw}: {}", put_key_hint(*.sw, *.replace))]
    PutKeyRefused {
        sw: StatusWord,
        kvn: u8,
        replace: Option<u8>,
    },
    /// The PUT KEY response is malformed or its KCVs differ from ours.
    #[error(
        "PUT KEY response check failed ({0}): the card may hold other keys than intended; \
         check with keys-check before relying on the new key set"
    )]
    PutKeyCheck(ScpError),
}

impl SecureError {
    /// Whether the keys were found not to be the card's (cryptogram mismatch).
    pub fn is_key_mismatch(&self) -> bool {
        matches!(self, Self::CardCryptogramMismatch { .. })
    }

    /// Whether the error is about secure channel security (keys, MACs), rather than the link
    /// or the input.
    pub fn is_security_failure(&self) -> bool {
        matches!(
            self,
            Self::CardCryptogramMismatch { .. }
                | Self::ExternalAuthenticateRefused { .. }
                | Self::InitializeUpdateBlocked { .. }
                | Self::ResponseNotAuthentic(_)
                | Self::SessionEnded { .. }
                | Self::PutKeyCheck(_)
                | Self::Handshake(ScpError::KvnMismatch { .. })
        )
    }
}

fn select_hint(sw: StatusWord) -> &'static str {
    match sw.to_u16() {
        0x6A82 => {
            "no such application on this card: check the Security Domain AID (the eUICC \
             ISD-R is A0000005591010FFFFFFFF8900000100, a GlobalPlatform card's ISD \
             A000000151000000)"
        }
        0x6A81 => "the card is locked or does not support selection by name",
        0x6999 => "the application refused selection (it may be locked)",
        _ => "no secure channel was opened",
    }
}

fn handshake_hint(e: &ScpError) -> &'static str {
    match e {
        ScpError::ModeMismatch { .. } => {
            "; add or remove --s16 to match the card's mode (its \"i\" parameter b1)"
        }
        ScpError::KvnMismatch { .. } => "; check --kvn or the keyset's \"kvn\"",
        ScpError::ScpIdMismatch(_) => {
            "; this Security Domain does not run SCP03 (SCP02 cards are not supported)"
        }
        ScpError::InitializeUpdateRefused { sw } if sw.to_u16() == 0x6700 => {
            "; add or remove --s16"
        }
        _ => "",
    }
}

fn external_authenticate_hint(sw: StatusWord) -> &'static str {
    match sw.to_u16() {
        0x6300 => {
            "the card rejected the host cryptogram although its own cryptogram matched our \
             keys — this attempt counts against the card's retry counter; do not retry \
             blindly, check the card's SCP03 implementation with a trace"
        }
        0x6982 => {
            "the card rejected the C-MAC of EXTERNAL AUTHENTICATE — this attempt may count \
             against the card's retry counter; do not retry blindly"
        }
        0x6A86 => "the card refused the security level: try --level cmac or --level auto",
        0x6983 => "authentication is blocked on this card: the issuer must unlock it",
        _ => "no secure channel was opened",
    }
}

fn put_key_hint(sw: StatusWord, replace: Option<u8>) -> String {
    match sw.to_u16() {
        0x6A80 => "the card refused the key data: a key set being replaced cannot change key \
                   type or length, and some cards accept only AES-128"
            .to_owned(),
        0x6A84 => "no memory for another key set: replace an existing one instead".to_owned(),
        0x6A88 => match replace {
            Some(kvn) => {
                format!("the card has no key set '{kvn:02X}' to replace: add the key set instead")
            }
            None => "the card refused the new key version".to_owned(),
        },
        0x6982 => "the card computed other key check values, or the session level is too low \
                   for PUT KEY (it needs an authenticated session)"
            .to_owned(),
        0x6985 => "conditions not satisfied: the card may require the key set being replaced \
                   to be the one the session was opened with"
            .to_owned(),
        _ => "the key set was not changed".to_owned(),
    }
}
