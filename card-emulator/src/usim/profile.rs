//! An installed profile: the package as installed (kept for the state file) and what the card
//! built from it: the file system, the PINs and the AKA context of each ADF.

use super::install::install;
use super::sqn::SqnState;
use super::tree::{FileId, FileSystem};
use smsr_proto::saip::aka::ProfileAlgorithm;
use smsr_proto::saip::{Package, ProfileElement};

/// The AKA context of one ADF.
#[derive(Clone, Debug)]
pub struct AkaContext {
    pub adf: FileId,
    /// Index of the akaParameter PE in the package (its `sqnInit` keeps the SQN array).
    pub element: usize,
    pub algorithm: ProfileAlgorithm,
    pub sqn: SqnState,
}

/// A PIN or PUK of the profile (PINs are kept, not verified: see [`super`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The DF whose PIN context holds it.
    pub df: FileId,
    pub key_reference: u8,
    pub puk: bool,
    pub retries: u8,
}

/// An installed profile: its package and what the card built from it.
#[derive(Clone, Debug)]
pub struct InstalledProfile {
    pub(super) package: Package,
    pub fs: FileSystem,
    pub aka: Vec<AkaContext>,
    pub pins: Vec<Pin>,
    /// The ICCID from the header, as EF_ICCID holds it.
    pub iccid: [u8; 10],
}

impl PartialEq for InstalledProfile {
    fn eq(&self, other: &Self) -> bool {
        self.to_der() == other.to_der()
    }
}

impl Eq for InstalledProfile {}

impl InstalledProfile {
    /// The package, with each akaParameter's `sqnInit` holding the SQN array as it is now:
    /// what the state file keeps.
    pub fn to_der(&self) -> Vec<u8> {
        let mut package = self.package.clone();
        for a in &self.aka {
            if let Some(ProfileElement::AkaParameter(pe)) =
                package.elements.get_mut(a.element).map(|e| &mut e.element)
            {
                pe.sqn_init = a.sqn.sqn_init();
            }
        }
        package.to_der()
    }

    /// Rebuilds an installed profile from what [`InstalledProfile::to_der`] wrote.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let outcome = install(der);
        match outcome.profile {
            Some(p) => Ok(p),
            None => Err(outcome
                .response
                .status_message
                .unwrap_or_else(|| "not installable".into())),
        }
    }

    /// The AKA context of an ADF.
    pub fn aka_mut(&mut self, adf: FileId) -> Option<&mut AkaContext> {
        self.aka.iter_mut().find(|a| a.adf == adf)
    }

    /// The ADF with this AID prefix that follows `after` (SELECT first / next occurrence).
    pub fn find_adf(&self, prefix: &[u8], after: Option<FileId>) -> Option<FileId> {
        self.fs
            .adfs()
            .filter(|(id, _)| after.map_or(true, |a| *id > a))
            .find(|(_, aid)| aid.starts_with(prefix))
            .map(|(id, _)| id)
    }
}
