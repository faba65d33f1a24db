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
//!   [`notification`]: the queue of notifications to the SM-SR; [`isd_p::sd`]: a personalized
//!   ISD-P as a selectable Security Domain with SCP03 sessions.
//! - [`registry`]: the GlobalPlatform Registry; [`keyset`]: the ISD-R's SCP03 key sets and the
//!   keystore document for `smsr --keystore`.
//! - [`state`]: the non-volatile [`CardState`] and its atomic, versioned file.
//! - [`ota`]: SCP80 on the card (SMS-PP download ENVELOPE to the ISD-R, PoR, FETCH), and the
//!   proactive session of SCP81 ([`admin_agent`]: BIP channel, PSK-TLS client, GP Amendment B).
//! - [`eum`]: the EUM's personalization (ECASD key and certificate, SCP80 keys) and the EIS.
//! - [`test_installer`]: a profile into an ISD-P without ES8 (`profile-add`).
//! - [`usim`]: the SAIP profile package installer and the enabled profile's files and USIM
//!   (SELECT by AID/FID/path, STATUS, READ BINARY/RECORD, AUTHENTICATE).
//! - [`vpcd`]: the vsmartcard virtual reader link.

pub mod adapter;
pub mod admin_agent;
pub mod atr;
pub mod card;
pub mod class;
pub mod ecasd;
pub mod eid;
mod emulator;
mod error;
pub mod eum;
pub mod fs;
pub mod isd_p;
pub mod isd_r;
pub mod keyset;
pub mod notification;
pub mod nv;
pub mod ota;
pub mod registry;
pub mod state;
pub mod test_installer;
pub mod usim;
pub mod vpcd;

pub use emulator::Emulator;
pub use error::EmulatorError;
pub use state::{CardState, Durability, StateError, StateLock};

/// The default ATR ([`atr::default_atr`]): T=0 only, UICC global interface bytes, historical
/// bytes, TCK. A card's state may name another (`euicc-emulator init --atr/--protocols`).
pub const ATR: [u8; 21] = [
    0x3B, 0x8F, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xE0, 0x73, 0xFE, 0x21, 0x1B, 0x63, 0x3A, 0x20, 0x4E,
    0x83, 0x00, 0x90, 0x00, 0x15,
];
