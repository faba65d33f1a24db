//! smsr: the SM-SR and SM-DP of GSMA SGP.02 at APDU level, talking to eUICCs through PC/SC or
//! to the bundled emulator linked in.
//!
//! - [`transport`]: the card link (PC/SC, in-process emulator) and its decorators (response
//!   assembly, trace recording, fault injection).
//! - [`trace`]: the JSON Lines trace format, its reader and its readable listing.
//! - [`names`]: names of instructions and AIDs for listings.
//! - [`keys`], [`secure`]: SCP03 keys (command line, environment, keystore) and the SCP03
//!   secure channel as a transport; [`gp`]: GlobalPlatform card management over a channel.
//! - [`eis`], [`registry`], [`es5`], [`pol2`]: the SM-SR: eUICC Information Sets, its SQLite
//!   registry, the ES5 functions on the card's ISD-R, and the policy rules it enforces itself.
//! - [`cli`], [`commands`]: the `smsr` command line.

pub mod cli;
pub mod commands;
pub mod eis;
pub mod es5;
pub mod es8;
pub mod exit_code;
pub mod gp;
pub mod hexfmt;
pub mod keys;
pub mod names;
pub mod pol2;
pub mod registry;
pub mod secure;
pub mod sensitive;
pub mod trace;
pub mod transport;
