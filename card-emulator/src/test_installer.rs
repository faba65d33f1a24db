//! The test installer: puts a profile into an ISD-P without ES8 (SGP.02 §3.1 download by the
//! SM-DP), for `euicc-emulator profile-add` and tests. Two ways:
//! - [`TestProfile`]: only what SGP.02 ES5 needs (ICCID, Fallback Attribute, POL1), no file
//!   system ([`CardState::install_test_profile`]);
//! - [`PackageProfile`]: a SAIP profile package, installed as an ES8 download would
//!   ([`crate::usim::install_package`]): file system, USIM, AKA; the card's
//!   `EUICCResponse` tells how each PE went.
//!
//! The ISD-P is created if it does not exist and ends DISABLED (`1F`), as after a download.
//! Both hold the state file's lock ([`StateLock`]) from load to save: a card an emulator serves
//! is refused ([`EmulatorError::InUse`]) rather than changed behind its back.

use crate::isd_p::{iccid_to_string, parse_iccid, ICCID_LEN};
use crate::{CardState, EmulatorError, StateLock};
use smsr_proto::gp::Aid;
use smsr_proto::saip::response::EuiccResponse;
use std::path::Path;

fn invalid(what: &'static str, input: &str, reason: &str) -> EmulatorError {
    EmulatorError::InvalidArgument {
        what,
        input: input.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_isd_p(isd_p: &str) -> Result<Aid, EmulatorError> {
    hex::decode(isd_p)
        .ok()
        .and_then(|b| Aid::new(&b).ok())
        .filter(Aid::is_isd_p)
        .ok_or_else(|| {
            invalid(
                "--isdp",
                isd_p,
                "an ISD-P instance AID is A0000005591010FFFFFFFF89 00 nnnn 00 with nnnn from 0010",
            )
        })
}

fn parse_pol1(pol1: &str) -> Result<u8, EmulatorError> {
    match hex::decode(pol1).as_deref() {
        Ok([b]) => Ok(*b),
        _ => Err(invalid(
            "--pol1",
            pol1,
            "POL1 is one byte in hex, e.g. 00 or 04",
        )),
    }
}

/// What `profile-add --package` puts on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageProfile {
    pub isd_p: Aid,
    /// The SAIP package, DER.
    pub package: Vec<u8>,
    pub fallback: bool,
    pub pol1: u8,
}

impl PackageProfile {
    /// From the command line: ISD-P AID in hex, the package file, POL1 in hex.
    pub fn parse(
        isd_p: &str,
        package: &Path,
        fallback: bool,
        pol1: &str,
    ) -> Result<Self, EmulatorError> {
        let aid = parse_isd_p(isd_p)?;
        let pol1 = parse_pol1(pol1)?;
        let bytes = std::fs::read(package)
            .map_err(|e| invalid("--package", &package.display().to_string(), &e.to_string()))?;
        Ok(Self {
            isd_p: aid,
            package: bytes,
            fallback,
            pol1,
        })
    }
}

/// Loads the card in `path`, installs the package and, when the card accepted it, writes the
/// card back. A refused package leaves the file alone and is an
/// [`EmulatorError::PackageRefused`]; a card another process serves is an
/// [`EmulatorError::InUse`].
pub fn add_package(
    path: &Path,
    profile: &PackageProfile,
) -> Result<(CardState, EuiccResponse), EmulatorError> {
    let _lock = StateLock::acquire(path)?;
    let mut card = CardState::load(path)?;
    let response = crate::usim::install_package(
        &mut card,
        &profile.isd_p,
        &profile.package,
        profile.fallback,
        profile.pol1,
    )?;
    if !response.is_ok() {
        return Err(refused(&response));
    }
    card.save(path)?;
    Ok((card, response))
}

/// The error of a package the card refused, with its `EUICCResponse`.
fn refused(response: &EuiccResponse) -> EmulatorError {
    EmulatorError::PackageRefused {
        response: hex::encode_upper(response.to_der()),
        reason: response
            .status_message
            .clone()
            .unwrap_or_else(|| "a PE was refused".into()),
    }
}

/// Installs `der` as the bootstrap profile, as the EUM does at manufacture: into the first
/// ISD-P (`A0000005591010FFFFFFFF8900001000`), ENABLED, with the Fallback Attribute, no
/// notification queued (nothing changed in the field). Returns the ISD-P's AID. A package the
/// card refuses is an [`EmulatorError::PackageRefused`].
pub fn install_bootstrap(card: &mut CardState, der: &[u8]) -> Result<Aid, EmulatorError> {
    let aid = Aid::isd_p(smsr_proto::gp::aid::FIRST_ISD_P_NUMBER)
        .map_err(|e| invalid("bootstrap ISD-P", "", &e.to_string()))?;
    let response = crate::usim::install_package(card, &aid, der, true, 0)?;
    if !response.is_ok() {
        return Err(refused(&response));
    }
    let sequence = card.enable_profile(&aid)?;
    card.forget_notification(sequence);
    Ok(aid)
}

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
        let aid = parse_isd_p(isd_p)?;
        let iccid_bytes = parse_iccid(iccid)
            .ok_or_else(|| invalid("--iccid", iccid, "an ICCID is 19 or 20 decimal digits"))?;
        let pol1_byte = parse_pol1(pol1)?;
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

/// Loads the card in `path`, installs `profile` and writes the card back (a card another
/// process serves is an [`EmulatorError::InUse`]).
pub fn add_profile(path: &Path, profile: &TestProfile) -> Result<CardState, EmulatorError> {
    let _lock = StateLock::acquire(path)?;
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

    #[test]
    fn package_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        CardState::new(None).save(&path).unwrap();
        let der = smsr_proto::saip::minimal::MinimalProfile::milenage(
            "8949449999999990999",
            "262019876543210",
            [3; 16],
            [4; 16],
        )
        .build()
        .unwrap()
        .to_der();
        let pkg = dir.path().join("p.der");
        std::fs::write(&pkg, &der).unwrap();
        let p =
            PackageProfile::parse("A0000005591010FFFFFFFF8900001000", &pkg, true, "00").unwrap();
        let (_, response) = add_package(&path, &p).unwrap();
        assert!(response.is_ok());
        let card = CardState::load(&path).unwrap();
        let (entry, data) = card.registry().isd_p(p.isd_p.as_bytes()).unwrap();
        assert_eq!(entry.life_cycle, 0x1F);
        assert!(data.is_fallback());
        assert_eq!(
            iccid_to_string(&data.profile.as_ref().unwrap().iccid),
            "8949449999999990999"
        );
        // Loaded from the state file, the profile is built only when first used.
        assert!(!data.installed.as_ref().unwrap().is_built());
        assert_eq!(data.installed.as_ref().unwrap().to_der(), der);
        assert!(data.installed.as_ref().unwrap().is_built());
        // The package is a file of the package directory, named in the state file.
        let name = data
            .installed
            .as_ref()
            .unwrap()
            .package_file_name()
            .to_owned();
        let stored = crate::state::packages_dir(&path).join(&name);
        assert_eq!(std::fs::read(&stored).unwrap(), der);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"package_file\"") && !text.contains("\"package\""));
        // The SQN array is kept apart from the package, which is not written again.
        let mut card = card;
        let mut record = card.registry_mut().remove(p.isd_p.as_bytes()).unwrap();
        let kept = record.isd_p.as_mut().unwrap().installed.as_mut().unwrap();
        let profile = kept.profile_mut().unwrap();
        let element = profile.aka[0].element;
        assert!(profile.set_sqn_array(element, &[[0, 0, 0, 0, 0, 7]; 32]));
        card.registry_mut().add(record).unwrap();
        let written = std::fs::metadata(&stored).unwrap().modified().unwrap();
        card.save(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&stored).unwrap().modified().unwrap(),
            written
        );
        let reloaded = CardState::load(&path).unwrap();
        assert_eq!(reloaded, card);
        let (_, data) = reloaded.registry().isd_p(p.isd_p.as_bytes()).unwrap();
        let arrays = data.installed.as_ref().unwrap().sqn_arrays();
        assert_eq!(arrays, vec![(element, vec![[0, 0, 0, 0, 0, 7]; 32])]);
        // Built, the profile has that array; a package file whose content changed is refused.
        let built = data.installed.as_ref().unwrap().profile().unwrap();
        assert_eq!(built.sqn_arrays(), arrays);
        let original = std::fs::read(&stored).unwrap();
        let mut changed = original.clone();
        changed[20] ^= 1;
        std::fs::write(&stored, &changed).unwrap();
        let e = CardState::load(&path).unwrap_err().to_string();
        assert!(e.contains("not the package installed"), "{e}");
        std::fs::write(&stored, &original).unwrap();
        // A state whose package file is gone is refused with the path named.
        std::fs::rename(&stored, dir.path().join("moved.der")).unwrap();
        let e = CardState::load(&path).unwrap_err().to_string();
        assert!(e.contains(&name), "{e}");
        std::fs::rename(dir.path().join("moved.der"), &stored).unwrap();
        // Without the ISD-P, the next save removes the file.
        let mut card = reloaded;
        card.registry_mut().remove(p.isd_p.as_bytes()).unwrap();
        card.save(&path).unwrap();
        assert!(!stored.exists());
        let (_, _) = add_package(&path, &p).unwrap();
        // A refused package (truncated) leaves the file as it was.
        std::fs::write(&pkg, &der[..40]).unwrap();
        let before = std::fs::read(&path).unwrap();
        let p =
            PackageProfile::parse("A0000005591010FFFFFFFF8900001100", &pkg, false, "00").unwrap();
        let e = add_package(&path, &p).unwrap_err();
        assert!(matches!(e, EmulatorError::PackageRefused { .. }), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let missing = PackageProfile::parse(
            "A0000005591010FFFFFFFF8900001000",
            &dir.path().join("none.der"),
            false,
            "00",
        )
        .unwrap_err();
        assert!(missing.to_string().contains("--package"));
    }
}
