//! The profile in an ISD-P as the terminal sees it: the installer that turns a SAIP profile
//! package into a file system with its PINs and AKA credentials ([`install`]), and the
//! commands of the ENABLED profile's files and USIM ([`app`]).
//!
//! - [`template`]: the SAIP templates known here (MF, ADF.USIM mandatory);
//! - [`build`]: one file from its PE description; [`tree`]: the file system and FCPs;
//! - [`sqn`]: the SQN freshness check of AUTHENTICATE.
//!
//! PINs are kept (key reference, retries) but not verified: no VERIFY PIN; PIN1 and local
//! PINs are shown disabled in the PIN status templates and no access condition is enforced.
//! The installed package is kept as DER in the ISD-P's state ([`StoredProfile`]), with the
//! SQN arrays apart; the file system is built from it when the profile is first used after
//! the state is loaded.

pub mod app;
pub mod build;
pub mod install;
pub mod profile;
pub mod sqn;
pub mod stored;
pub mod template;
pub mod tree;

pub use app::FsSelection;
pub use install::{install, Outcome};
pub use profile::InstalledProfile;
pub use stored::StoredProfile;

use crate::state::ProfileError;
use crate::CardState;
use smsr_proto::gp::Aid;
use smsr_proto::saip::response::{EuiccResponse, PeStatus, PeStatusCode};

/// Installs the package `der` into the ISD-P `isd_p` (created if missing, as
/// [`CardState::install_test_profile`] does), which then holds the profile (ICCID from the
/// header, the Fallback Attribute and POL1 given) and is DISABLED. The `EUICCResponse` tells
/// how each PE went; when the installation was aborted the card is left unchanged.
pub fn install_package(
    state: &mut CardState,
    isd_p: &Aid,
    der: &[u8],
    fallback: bool,
    pol1: u8,
) -> Result<EuiccResponse, ProfileError> {
    let outcome = install::install(der);
    let Some(profile) = outcome.profile else {
        return Ok(outcome.response);
    };
    // The package is charged to the ISD-P's quota, or to the card's free memory without one.
    let available = match state.registry().isd_p(isd_p.as_bytes()) {
        Some((_, data)) if data.non_volatile_quota.is_some() => {
            data.non_volatile_quota.unwrap_or(0)
        }
        _ => state.free_non_volatile_memory(),
    };
    let size = profile.installed_der().len();
    if u32::try_from(size).map_or(true, |s| s > available) {
        return Ok(EuiccResponse {
            pe_status: vec![PeStatus::new(PeStatusCode::NotEnoughMemory)],
            profile_installation_aborted: true,
            status_message: Some(format!(
                "the package takes {size} bytes; {available} bytes are available to ISD-P {isd_p}"
            )),
        });
    }
    state.install_test_profile(isd_p, profile.iccid, fallback, pol1)?;
    if let Some(data) = state
        .registry_mut()
        .find_mut(isd_p.as_bytes())
        .and_then(|e| e.isd_p.as_mut())
    {
        data.installed = Some(Box::new(StoredProfile::from_installed(profile)));
    }
    Ok(outcome.response)
}

/// The ENABLED ISD-P's AID and its installed profile, if it has one.
pub fn enabled_profile(state: &CardState) -> Option<(&Aid, &InstalledProfile)> {
    let e = state.registry().enabled_isd_p()?;
    Some((&e.aid, e.isd_p.as_ref()?.installed.as_deref()?.profile()?))
}

/// The installed profile of the ISD-P `aid` if that ISD-P is ENABLED.
pub fn enabled_profile_mut<'a>(
    state: &'a mut CardState,
    aid: &[u8],
) -> Option<&'a mut InstalledProfile> {
    let e = state.registry_mut().find_mut(aid)?;
    if e.life_cycle != smsr_proto::gp::life_cycle::ISD_P_ENABLED {
        return None;
    }
    e.isd_p.as_mut()?.installed.as_deref_mut()?.profile_mut()
}

#[cfg(test)]
mod tests;
