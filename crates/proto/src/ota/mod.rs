//! ES5 over-the-air transport for the ISD-R: the remote command script layer and its SMS
//! carrier.
//!
//! - [`script`]: ETSI TS 102 226 §5.2 expanded remote command format: command scripts
//!   (`AA`/`AE`) with C-APDU, immediate action, error action, script chaining and the SCP03t
//!   command TLVs of SGP.02 §2.5; [`response`]: response scripts (`AB`/`AF`).
//! - [`executor`]: the card side of a script: run it against an application, build the answer.
//! - [`compact`]: the compact remote response (TS 102 226 §5.1.2) seen in PoRs of SIM RFM.
//! - [`scp80`]: ETSI TS 102 225 / 3GPP TS 31.115 secured packets and Proofs of Receipt.
//! - [`sms`]: 3GPP TS 23.040 SMS-DELIVER/SMS-SUBMIT, the SMS-PP data download ENVELOPE
//!   (TS 31.111) with concatenation and reassembly, and SEND SHORT MESSAGE for the PoR.
//! - [`host`], [`card`]: both ends put together: script → SCP80 → ENVELOPEs → PoR → script.
//!
//! Everything is sans I/O: the host builds bytes and parses answers, the card emulator parses
//! the same bytes and builds the answers with the same code.

pub mod card;
pub mod compact;
pub mod executor;
pub mod host;
pub mod response;
pub mod scp80;
pub mod script;
pub mod sms;

use thiserror::Error;

/// Any error of the OTA layers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OtaError {
    #[error(transparent)]
    Script(#[from] script::ScriptError),
    #[error(transparent)]
    Scp80(#[from] scp80::Scp80Error),
    #[error(transparent)]
    Sms(#[from] sms::SmsError),
}

#[cfg(test)]
mod pair_tests;
