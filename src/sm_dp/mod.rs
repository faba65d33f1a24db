//! The SM-DP role (SGP.02 §3, §5.3): profile preparation and download.
//!
//! - [`es8`]: ES8 through the SM-SR — key establishment on a new ISD-P, the SCP03t download,
//!   and the check that the downloaded profile's credentials work.
//!
//! ES8 runs over any [`crate::sm_sr::es5::Es5Link`]: the SM-SR's own link to the card when one
//! process plays both roles (`smsr provision`), or ES3.SendData to an SM-SR service.

pub mod es3_link;
pub mod es8;
pub mod provision;
pub mod stock;
