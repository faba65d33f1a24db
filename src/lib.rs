//! smsr: the SM-SR and SM-DP of GSMA SGP.02 at APDU level, talking to eUICCs through PC/SC or
//! to the bundled emulator linked in.
//!
//! - [`transport`]: the card link (PC/SC, in-process emulator) and its decorators (response
//!   assembly, trace recording, fault injection).
//! - [`trace`]: the JSON Lines trace format, its reader and its readable listing.
//! - [`names`]: names of instructions and AIDs for listings.
//! - [`keys`], [`secure`]: SCP03 keys (command line, environment, keystore) and the SCP03
//!   secure channel as a transport; [`gp`]: GlobalPlatform card management over a channel.
//! - [`sm_sr`]: the SM-SR role: eUICC Information Sets, its SQLite registry, the ES5 functions
//!   on the card's ISD-R, and the policy rules it enforces itself.
//! - [`sm_dp`]: the SM-DP role: ES8 key establishment and SCP03t download through an ES5 link.
//! - [`service`]: the SM-SR and the SM-DP as HTTPS services with mutual TLS (ES1, ES2, ES3,
//!   ES4 in our JSON binding), long functions as operations, the cards a service reaches.
//! - [`tls`]: the TLS test PKI (X.509, rcgen) and the mutual-TLS configurations (rustls) of
//!   the services; who the peer of a connection is.
//! - [`report`]: the run report (`report.json`, a self-contained `report.html` with SVG charts)
//!   of `smsr-load` and `smsr provision --report`.
//! - [`cli`], [`commands`]: the `smsr` command line.

pub mod cli;
pub mod commands;
pub mod db;
pub mod exit_code;
pub mod gp;
pub mod hexfmt;
pub mod keylog;
pub mod keys;
pub mod names;
pub mod progress;
pub mod report;
pub mod secret_file;
pub mod secure;
pub mod sensitive;
pub mod service;
pub mod sm_dp;
pub mod sm_sr;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tls;
pub mod trace;
pub mod transport;
