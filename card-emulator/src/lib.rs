//! An SGP.02 eUICC emulator: the card logic (no I/O), its persistent state, the ISO 7816-3 T=0
//! adapter (61xx / 6Cxx / GET RESPONSE, command chaining) and the vpcd link to pcscd.
//!
//! [`Emulator`] is the whole card as a terminal sees it; `smsr` links it in-process for tests and
//! the `euicc-emulator` binary connects it to pcscd through vsmartcard's virtual reader.
//!
//! - [`card`]: [`card::Card::handle`], whole command in, whole response out; SELECT, MANAGE
//!   CHANNEL and routing to the applications ([`ecasd`], [`isd_r`], the MF in [`fs`]).
//! - [`adapter`]: what a T=0 or T=1 terminal sees (61xx, 6Cxx, GET RESPONSE, chaining).
//! - [`isd_r`]: the ISD-R, a GlobalPlatform Security Domain with SCP03 sessions per channel,
//!   and the SGP.02 ES5 functions (CreateISDP, Enable/Disable/Delete profile, fallback,
//!   notifications); [`isd_p`]: what the card keeps about each ISD-P and its profile;
//!   [`notification`]: the queue of notifications to the SM-SR; [`isd_p_sd`]: a personalized
//!   ISD-P as a selectable Security Domain with SCP03 sessions.
//! - [`registry`]: the GlobalPlatform Registry; [`keyset`]: the ISD-R's SCP03 key sets and the
//!   keystore document for `smsr --keystore`.
//! - [`state`]: the non-volatile [`CardState`] and its atomic, versioned file.
//! - [`ota`]: SCP80 on the card (SMS-PP download ENVELOPE to the ISD-R, PoR, FETCH).
//! - [`eum`]: the EUM's personalization (ECASD key and certificate, SCP80 keys) and the EIS.
//! - [`test_installer`]: a profile into an ISD-P without ES8 (`profile-add`).
//! - [`usim`]: the SAIP profile package installer and the enabled profile's files and USIM
//!   (SELECT by AID/FID/path, STATUS, READ BINARY/RECORD, AUTHENTICATE).
//! - [`vpcd`]: the vsmartcard virtual reader link.

pub mod adapter;
pub mod atr;
pub mod card;
pub mod class;
pub mod ecasd;
pub mod eid;
mod emulator;
pub mod eum;
pub mod fs;
pub mod isd_p;
pub mod isd_p_sd;
pub mod isd_r;
pub mod keyset;
pub mod notification;
pub mod ota;
pub mod registry;
pub mod state;
pub mod test_installer;
pub mod usim;
pub mod vpcd;

pub use emulator::Emulator;
pub use state::{CardState, Durability, StateError, StateLock};

use std::path::PathBuf;

/// The default ATR ([`atr::default_atr`]): T=0 only, UICC global interface bytes, historical
/// bytes, TCK. A card's state may name another (`euicc-emulator init --atr/--protocols`).
pub const ATR: [u8; 21] = [
    0x3B, 0x8F, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xE0, 0x73, 0xFE, 0x21, 0x1B, 0x63, 0x3A, 0x20, 0x4E,
    0x83, 0x00, 0x90, 0x00, 0x15,
];

/// Errors of the emulator's runtime (state file, network).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The state file cannot be read or written.
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The state file's content is not a card state this emulator reads.
    #[error("state file {path}: {source}")]
    State { path: PathBuf, source: StateError },
    /// Another process serves the card of this state file (it holds `<state file>.lock`,
    /// [`state::lock`]); `pid` is the holder's process id when it could be read.
    #[error(
        "card in use: {} serves the card state {} (stop that process, or use another state \
         file)",
        pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}")),
        path.display()
    )]
    InUse { path: PathBuf, pid: Option<u32> },
    /// `init` would replace an existing card.
    #[error("state file {path} already exists (a card lives there; remove it or use --force)")]
    StateExists { path: PathBuf },
    /// An EID given by the user is not valid.
    #[error("invalid EID {input:?}: {source}")]
    InvalidEid {
        input: String,
        source: eid::EidError,
    },
    /// The OS random number generator gave no keys for a new card.
    #[error(transparent)]
    KeyGeneration(#[from] keyset::KeyGenerationError),
    /// A command-line value that is not what it should be.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidArgument {
        what: &'static str,
        input: String,
        reason: String,
    },
    /// The card refuses a profile function (the test installer).
    #[error(transparent)]
    Profile(#[from] state::ProfileError),
    /// The PKI directory cannot be read, or the EUM cannot sign the ECASD certificate.
    #[error("PKI: {0}")]
    Pki(String),
    /// The card refuses a profile package (the test installer); `response` is the
    /// EUICCResponse in hex DER.
    #[error("the card refused the profile package: {reason} (EUICCResponse {response})")]
    PackageRefused { response: String, reason: String },
    /// The vpcd address is unusable.
    #[error("vpcd address {addr:?}: {reason}")]
    VpcdAddress { addr: String, reason: String },
}
