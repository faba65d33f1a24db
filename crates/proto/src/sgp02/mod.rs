//! GSMA SGP.02 (M2M remote SIM provisioning) ES5 functions of the ISD-R at byte level, for the
//! SM-SR (smsr) and the eUICC (euicc-emulator) alike.
//!
//! - [`codings`]: the one table of codings SGP.02's public record leaves open (DGIs, POL1
//!   bits, tags, status words, notification types), each with its reasoning.
//! - [`es5`]: EnableProfile / DisableProfile / SetFallbackAttribute /
//!   HandleNotificationConfirmation STORE DATA commands (§4.1.1.2–§4.1.1.12), the confirmation
//!   response, and the profile attributes byte of an ISD-P's GET STATUS entry.
//! - [`notification`]: the `E1` notification message (§4.1.1.11).
//!
//! CreateISDP is a GP INSTALL: [`crate::gp::Install::create_isd_p`]; DeleteProfile a GP DELETE:
//! [`crate::gp::Delete::object`].

pub mod codings;
pub mod es5;
pub mod notification;

pub use es5::{confirmation_response, parse_confirmation_response, Es5Command, ProfileAttributes};
pub use notification::{Notification, NotificationType};
