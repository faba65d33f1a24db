//! The SM-SR role (SGP.02 §3, §5.4–5.5): what it knows of each card and what it does to it.
//!
//! - [`eis`]: the eUICC Information Set (ES1.RegisterEIS input, ES3/ES4 GetEIS output).
//! - [`isdp`]: the life-cycle state of an ISD-P ([`isdp::IsdpState`]).
//! - [`registry`]: the SQLite registry of cards, ISD-Ps, SCP80 counters, history and
//!   notifications, crash-safe (intent before each card command, outcome after).
//! - [`es5`]: the ES5 link to the ISD-R (SCP80 or SCP03) and the platform-management
//!   functions on it: CreateISDP, Enable/Disable/Delete, SetFallbackAttribute, AuditEIS,
//!   notifications.
//! - [`pol2`]: the policy rules the SM-SR checks before it sends anything.
//! - [`link`]: reading the EID and opening the ES5 link to a card.
//! - [`relay`]: ES3.SendData (the SM-DP's ES8 scripts relayed to the card) and
//!   ProfileDownloadCompleted.
//!
//! The CLI (`smsr eis|isdp|profile|audit|notifications`) and the SM-SR service (ES1, ES3, ES4)
//! call these same functions.

pub mod admin;
pub mod eis;
pub mod es5;
pub mod isdp;
pub mod link;
pub mod pol2;
pub mod registry;
pub mod relay;
