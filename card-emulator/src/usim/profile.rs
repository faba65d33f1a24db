//! An installed profile: the package as installed (kept for the state file, which stores it
//! once and the SQN arrays apart) and what the card built from it: the file system, the PINs
//! and the AKA context of each ADF.

use super::install::install;
use super::sqn::SqnState;
use super::tree::{FileId, FileSystem};
use smsr_proto::auth::SQN_LEN;
use smsr_proto::saip::aka::ProfileAlgorithm;
use smsr_proto::saip::{Package, ProfileElement};
use std::sync::Arc;

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
    /// The package's DER as installed (`sqnInit` as it came), encoded once.
    pub(super) der: Arc<[u8]>,
    /// [`InstalledProfile::package_file_name`], computed once.
    pub(super) file_name: Arc<str>,
}

/// The package directory's name for a package: the first 16 bytes of its SHA-256 in hex, then
/// `.der`.
pub(super) fn package_file_name(der: &[u8]) -> Arc<str> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(der);
    format!("{}.der", hex::encode_upper(&digest[..16])).into()
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

    /// The package's DER as it was installed (the SQN arrays as they came with it): what the
    /// state file stores once, with [`InstalledProfile::sqn_arrays`] apart.
    pub fn installed_der(&self) -> &[u8] {
        &self.der
    }

    /// The name the state file's package directory gives the installed DER: the first 16 bytes
    /// of its SHA-256 in hex, then `.der` (the same content always has the same name).
    pub fn package_file_name(&self) -> &str {
        &self.file_name
    }

    /// The SQN array of each AKA context that has one other than all zeros: (index of its
    /// akaParameter PE, the array as `sqnInit`).
    pub fn sqn_arrays(&self) -> Vec<(usize, Vec<[u8; SQN_LEN]>)> {
        self.aka
            .iter()
            .filter_map(|a| a.sqn.sqn_init().map(|init| (a.element, init)))
            .collect()
    }

    /// Sets the SQN array of the AKA context of the akaParameter PE at `element`; `false` if
    /// there is none.
    pub fn set_sqn_array(&mut self, element: usize, init: &[[u8; SQN_LEN]]) -> bool {
        match self.aka.iter_mut().find(|a| a.element == element) {
            Some(a) => {
                a.sqn = a.sqn.with_init(init);
                true
            }
            None => false,
        }
    }

    /// Rebuilds an installed profile from what [`InstalledProfile::to_der`] or
    /// [`InstalledProfile::installed_der`] gave.
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
            .filter(|(id, _)| after.is_none_or(|a| *id > a))
            .find(|(_, aid)| aid.starts_with(prefix))
            .map(|(id, _)| id)
    }
}
