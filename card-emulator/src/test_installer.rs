//! The test installer: puts a profile into an ISD-P without ES8 (SGP.02 §3.1 download by the
//! SM-DP is not implemented yet), for `euicc-emulator profile-add` and tests. It only records
//! what SGP.02 ES5 needs (ICCID, Fallback Attribute, POL1); no file system is built. The
//! ISD-P is created if it does not exist and ends DISABLED (`1F`), as after a download.
//!
//! Rules: [`CardState::install_test_profile`].

use crate::isd_p::{iccid_to_string, parse_iccid, ICCID_LEN};
use crate::{CardState, EmulatorError};
use smsr_proto::gp::Aid;
use std::path::Path;

/// What `profile-add` puts on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestProfile {
    pub isd_p: Aid,
    pub iccid: [u8; ICCID_LEN],
    pub fallback: bool,
    pub pol1: u8,
}

impl TestProfile {
    /// From the command line's text: an ISD-P instance AID in hex, 19 or 20 ICCID digits, POL1
    /// as one hex byte.
    pub fn parse(
        isd_p: &str,
        iccid: &str,
        fallback: bool,
        pol1: &str,
    ) -> Result<Self, EmulatorError> {
        let invalid =
            |what: &'static str, input: &str, reason: &str| EmulatorError::InvalidArgument {
                what,
                input: input.to_owned(),
                reason: reason.to_owned(),
            };
        let aid = hex::decode(isd_p)
            .ok()
            .and_then(|b| Aid::new(&b).ok())
            .filter(Aid::is_isd_p)
            .ok_or_else(|| {
                invalid(
                    "--isdp",
                    isd_p,
                    "an ISD-P instance AID is A0000005591010FFFFFFFF89 00 nnnn 00 with nnnn from 0010",
                )
            })?;
        let iccid_bytes = parse_iccid(iccid)
            .ok_or_else(|| invalid("--iccid", iccid, "an ICCID is 19 or 20 decimal digits"))?;
        let pol1_byte = match hex::decode(pol1).as_deref() {
            Ok([b]) => *b,
            _ => {
                return Err(invalid(
                    "--pol1",
                    pol1,
                    "POL1 is one byte in hex, e.g. 00 or 04",
                ))
            }
        };
        Ok(Self {
            isd_p: aid,
            iccid: iccid_bytes,
            fallback,
            pol1: pol1_byte,
        })
    }

    /// The ICCID's digits.
    pub fn iccid_digits(&self) -> String {
        iccid_to_string(&self.iccid)
    }
}

/// Loads the card in `path`, installs `profile` and writes the card back.
pub fn add_profile(path: &Path, profile: &TestProfile) -> Result<CardState, EmulatorError> {
    let mut card = CardState::load(path)?;
    card.install_test_profile(
        &profile.isd_p,
        profile.iccid,
        profile.fallback,
        profile.pol1,
    )?;
    card.save(path)?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let p = TestProfile::parse(
            "A0000005591010FFFFFFFF8900001000",
            "8949449999999990023",
            true,
            "04",
        )
        .unwrap();
        assert_eq!(p.isd_p, Aid::isd_p(0x10).unwrap());
        assert_eq!(p.iccid_digits(), "8949449999999990023");
        assert_eq!((p.fallback, p.pol1), (true, 4));
        let bad = [
            (
                "A0000005591010FFFFFFFF8900000200",
                "8949449999999990023",
                "00",
                "--isdp",
            ),
            ("A000000559", "8949449999999990023", "00", "--isdp"),
            ("zz", "8949449999999990023", "00", "--isdp"),
            (
                "A0000005591010FFFFFFFF8900001000",
                "89494499",
                "00",
                "--iccid",
            ),
            (
                "A0000005591010FFFFFFFF8900001000",
                "8949449999999990023",
                "0404",
                "--pol1",
            ),
            (
                "A0000005591010FFFFFFFF8900001000",
                "8949449999999990023",
                "x",
                "--pol1",
            ),
        ];
        for (aid, iccid, pol1, what) in bad {
            let e = TestProfile::parse(aid, iccid, false, pol1).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
    }
}
