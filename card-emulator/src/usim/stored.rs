//! A profile as an ISD-P keeps it: the package as installed (what the state file stores), the
//! SQN arrays, and the file system built from the package on first use. A card loaded from
//! its state file builds only the profiles it uses (the ENABLED one, when the terminal selects
//! it), so loading a card costs the same whatever it holds.

use super::profile::{package_file_name, InstalledProfile};
use smsr_proto::auth::SQN_LEN;
use std::cell::OnceCell;
use std::sync::Arc;

/// The SQN arrays of a profile: (index of the akaParameter PE, the 32 SEQ values as `sqnInit`).
pub type SqnArrays = Vec<(usize, Vec<[u8; SQN_LEN]>)>;

/// An installed profile, built when first needed.
#[derive(Clone, Debug)]
pub struct StoredProfile {
    der: Arc<[u8]>,
    file_name: Arc<str>,
    /// SQN arrays read from the state file, applied when the profile is built.
    pending_sqn: SqnArrays,
    /// The profile built from `der`; `None` inside when the package no longer installs (a
    /// package file changed behind the card's back: logged, and the profile answers nothing).
    built: OnceCell<Option<Box<InstalledProfile>>>,
}

impl StoredProfile {
    /// A profile the installer just built.
    pub fn from_installed(profile: InstalledProfile) -> Self {
        let built = OnceCell::new();
        let (der, file_name) = (profile.der.clone(), profile.file_name.clone());
        let _ = built.set(Some(Box::new(profile)));
        Self {
            der,
            file_name,
            pending_sqn: Vec::new(),
            built,
        }
    }

    /// A profile as the state file keeps it: its package and SQN arrays, built on first use.
    pub fn from_stored(der: Vec<u8>, sqn: SqnArrays) -> Self {
        let file_name = package_file_name(&der);
        Self {
            der: der.into(),
            file_name,
            pending_sqn: sqn,
            built: OnceCell::new(),
        }
    }

    /// A profile as the state file keeps it, built at once: `Err` with the installer's reason
    /// when the package does not install or an SQN array has no akaParameter to go to.
    pub fn built_from_stored(der: Vec<u8>, sqn: SqnArrays) -> Result<Self, String> {
        let stored = Self::from_stored(der, sqn);
        let mut profile = InstalledProfile::from_der(&stored.der)?;
        for (element, init) in &stored.pending_sqn {
            if !profile.set_sqn_array(*element, init) {
                return Err(format!(
                    "sqn element {element}: the package has no akaParameter there"
                ));
            }
        }
        Ok(Self::from_installed(profile))
    }

    /// The package's DER as installed.
    pub fn installed_der(&self) -> &[u8] {
        &self.der
    }

    /// Its name in the state file's package directory (see
    /// [`InstalledProfile::package_file_name`]).
    pub fn package_file_name(&self) -> &str {
        &self.file_name
    }

    fn build(der: &[u8], pending: &SqnArrays) -> Option<Box<InstalledProfile>> {
        match InstalledProfile::from_der(der) {
            Ok(mut p) => {
                for (element, init) in pending {
                    if !p.set_sqn_array(*element, init) {
                        tracing::error!(
                            "stored profile: SQN array for element {element}, which is no akaParameter"
                        );
                    }
                }
                Some(Box::new(p))
            }
            Err(e) => {
                tracing::error!("stored profile package no longer installs: {e}");
                None
            }
        }
    }

    /// The profile, built now if it was not yet.
    pub fn profile(&self) -> Option<&InstalledProfile> {
        self.built
            .get_or_init(|| Self::build(&self.der, &self.pending_sqn))
            .as_deref()
    }

    /// The profile for changes (AUTHENTICATE moves the SQN), built now if it was not yet.
    pub fn profile_mut(&mut self) -> Option<&mut InstalledProfile> {
        let (der, pending) = (&self.der, &self.pending_sqn);
        self.built.get_or_init(|| Self::build(der, pending));
        self.built.get_mut().and_then(|b| b.as_deref_mut())
    }

    /// Whether the file system has been built.
    pub fn is_built(&self) -> bool {
        self.built.get().is_some()
    }

    /// The SQN arrays to store: the built profile's, or those read from the state file.
    pub fn sqn_arrays(&self) -> SqnArrays {
        match self.built.get() {
            Some(Some(p)) => p.sqn_arrays(),
            _ => self.pending_sqn.clone(),
        }
    }

    /// The package with its current SQN arrays in `sqnInit` (see [`InstalledProfile::to_der`]).
    pub fn to_der(&self) -> Vec<u8> {
        self.profile()
            .map_or_else(|| self.der.to_vec(), InstalledProfile::to_der)
    }
}

impl PartialEq for StoredProfile {
    /// The same package and the same SQN arrays.
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der && self.sqn_arrays() == other.sqn_arrays()
    }
}

impl Eq for StoredProfile {}
