//! What the card keeps about each ISD-P (GSMA SGP.02 §2.2.1.2, §4.1.1): the parameters
//! CreateISDP gave it, and the profile it holds with its policy rules (POL1) and Fallback
//! Attribute. The life cycle (SELECTABLE `07` after CreateISDP, PERSONALIZED `0F` after key
//! establishment, DISABLED `1F` / ENABLED `3F` with a profile) is the registry entry's.
//!
//! The rules that move an ISD-P through its life cycle are in [`crate::state`]'s profile
//! functions; the codings SGP.02 leaves open are in [`smsr_proto::sgp02::codings`].
//!
//! Under the ISD-P: [`sd`], the ISD-P as a Security Domain selected by the terminal (SCP03
//! with the keys ES8 gave it), and [`download`], the ES8 profile download it runs (SCP03t
//! scripts, whichever ES5 transport brought them, and the installer behind the last `86`).

use crate::usim::StoredProfile;
use smsr_proto::sgp02::codings::{
    POL1_DELETE_NOT_ALLOWED, POL1_DELETE_WHEN_DISABLED, POL1_DISABLE_NOT_ALLOWED,
};
use smsr_proto::sgp02::ProfileAttributes;

/// Length of an ICCID as stored in EF_ICCID: 10 bytes, BCD with swapped nibbles.
pub const ICCID_LEN: usize = 10;

/// An ISD-P's SGP.02 data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsdP {
    /// The SCP03 "i" parameter from the install parameters `C9 { 81 02 03 i }`.
    pub scp03_i: u8,
    /// Non-volatile memory quota (`EF { C8 }`), if CreateISDP gave one.
    pub non_volatile_quota: Option<u32>,
    /// Volatile memory quota (`EF { C7 }`), if CreateISDP gave one.
    pub volatile_quota: Option<u32>,
    /// The profile in the ISD-P, once one was placed there (ES8 download or
    /// [`crate::CardState::install_test_profile`]).
    pub profile: Option<Profile>,
    /// An enable or disable of this ISD-P waits for the next reset (the REFRESH of a real card).
    pub pending_reset: bool,
    /// The profile package installed with [`crate::CardState::install_package`] and what the
    /// card built from it (file system, PINs, AKA); `None` for a profile without one.
    pub installed: Option<Box<StoredProfile>>,
}

impl IsdP {
    /// The non-volatile memory the installed profile takes: the size of its package as
    /// installed (the measure the emulator charges; 0 without a profile package).
    pub fn non_volatile_used(&self) -> u32 {
        self.installed.as_ref().map_or(0, |p| {
            u32::try_from(p.installed_der().len()).unwrap_or(u32::MAX)
        })
    }

    /// The data of an ISD-P just created with SCP03 option `scp03_i` and these quotas.
    pub fn created(
        scp03_i: u8,
        non_volatile_quota: Option<u32>,
        volatile_quota: Option<u32>,
    ) -> Self {
        Self {
            scp03_i,
            non_volatile_quota,
            volatile_quota,
            profile: None,
            pending_reset: false,
            installed: None,
        }
    }

    /// Whether the profile has the Fallback Attribute.
    pub fn is_fallback(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| p.fallback)
    }

    /// The POL1 byte of the profile (`00` without a profile).
    pub fn pol1(&self) -> u8 {
        self.profile.as_ref().map_or(0, |p| p.pol1)
    }

    /// Whether POL1 forbids disabling the profile.
    pub fn disable_forbidden(&self) -> bool {
        self.pol1() & POL1_DISABLE_NOT_ALLOWED != 0
    }

    /// Whether POL1 forbids deleting the profile.
    pub fn delete_forbidden(&self) -> bool {
        self.pol1() & POL1_DELETE_NOT_ALLOWED != 0
    }

    /// Whether POL1 asks for the profile's deletion once it is disabled.
    pub fn delete_when_disabled(&self) -> bool {
        self.pol1() & POL1_DELETE_WHEN_DISABLED != 0
    }

    /// The profile attributes of GET STATUS (the `53` object, see
    /// [`smsr_proto::sgp02::codings::TAG_PROFILE_ATTRIBUTES`]).
    pub fn attributes(&self) -> ProfileAttributes {
        ProfileAttributes {
            fallback: self.is_fallback(),
            pending_reset: self.pending_reset,
            other: 0,
        }
    }
}

/// A profile held by an ISD-P.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The ICCID, as EF_ICCID holds it.
    pub iccid: [u8; ICCID_LEN],
    /// The Fallback Attribute (at most one profile of the card has it).
    pub fallback: bool,
    /// POL1, the profile's policy rules (bits in [`smsr_proto::sgp02::codings`]).
    pub pol1: u8,
}

/// An ICCID from its 19 or 20 printed digits (a 19-digit one is padded with `F`), stored with
/// swapped nibbles as in EF_ICCID; `None` for anything else.
pub fn parse_iccid(digits: &str) -> Option<[u8; ICCID_LEN]> {
    let bytes = digits.as_bytes();
    if !(19..=20).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nibbles = bytes.iter().map(|d| d - b'0').chain(std::iter::once(0x0F));
    let mut out = [0u8; ICCID_LEN];
    for byte in &mut out {
        let low = nibbles.next()?;
        let high = nibbles.next().unwrap_or(0x0F);
        *byte = (high << 4) | low;
    }
    Some(out)
}

/// The printed digits of a stored ICCID (a trailing `F` pad is dropped).
pub fn iccid_to_string(iccid: &[u8; ICCID_LEN]) -> String {
    iccid
        .iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .take_while(|&n| n <= 9)
        .map(|n| char::from(b'0' + n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_digits_round_trip() {
        let iccid = parse_iccid("8949449999999990023").unwrap();
        assert_eq!(hex::encode_upper(iccid), "989444999999990920F3");
        assert_eq!(iccid_to_string(&iccid), "8949449999999990023");
        let twenty = parse_iccid("89014103211118510720").unwrap();
        assert_eq!(hex::encode_upper(twenty), "98101430121181157002");
        assert_eq!(iccid_to_string(&twenty), "89014103211118510720");
        assert_eq!(parse_iccid("894944999999999002"), None);
        assert_eq!(parse_iccid("89494499999999900234X"), None);
        assert_eq!(parse_iccid("894944999999999002A"), None);
    }

    #[test]
    fn pol1_and_attributes() {
        let mut p = IsdP::created(0x70, None, None);
        assert_eq!((p.pol1(), p.attributes().to_byte()), (0, 0));
        p.profile = Some(Profile {
            iccid: [0; ICCID_LEN],
            fallback: true,
            pol1: POL1_DELETE_WHEN_DISABLED,
        });
        p.pending_reset = true;
        assert!(p.delete_when_disabled() && !p.delete_forbidden() && !p.disable_forbidden());
        assert_eq!(p.attributes().to_byte(), 0x81);
    }
}

pub mod download;
pub mod sd;
