//! ES5 over-the-air transport for the ISD-R: the remote command script layer and its SMS
//! carrier.
//!
//! - [`script`]: ETSI TS 102 226 §5.2 expanded remote command format: command scripts
//!   (`AA`/`AE`) with C-APDU, immediate action, error action, script chaining and the SCP03t
//!   command TLVs of SGP.02 §2.5; response scripts (`AB`/`AF`).
//! - [`compact`]: the compact remote response (TS 102 226 §5.1.2) seen in PoRs of SIM RFM.
//! - [`executor`]: the card side of a script: run it against an application, build the answer.
//! - [`scp80`]: ETSI TS 102 225 / 3GPP TS 31.115 secured packets and Proofs of Receipt.
//! - [`sms`]: 3GPP TS 23.040 SMS-DELIVER and the SMS-PP data download ENVELOPE (TS 31.111),
//!   with concatenation and reassembly.
//!
//! Everything is sans I/O: the host builds bytes and parses answers, the card emulator parses
//! the same bytes and builds the answers with the same code.

pub mod compact;
pub mod executor;
pub mod scp80;
pub mod script;
pub mod sms;

#[cfg(test)]
mod pair_tests;
