//! The ISD-P and profile life cycle on the card state (GSMA SGP.02 §4.1.1: CreateISDP,
//! EnableProfile, DisableProfile, SetFallbackAttribute, DeleteProfile, notifications), shared
//! by the ES5 commands of the ISD-R and by the test installer.
//!
//! Rules:
//! - At most one ISD-P is ENABLED. EnableProfile takes a DISABLED ISD-P (one holding a profile)
//!   and disables the enabled one, unless that one's POL1 forbids disabling.
//! - DisableProfile takes the ENABLED ISD-P and enables the fallback profile; the fallback
//!   profile itself cannot be disabled (only replaced by enabling another).
//! - The fallback profile and the enabled profile cannot be deleted; POL1 can forbid deletion,
//!   or ask for it when the profile gets disabled (done when the SM-SR confirms the
//!   notification of that change).
//! - Each Enable/Disable queues a notification and marks both ISD-Ps "pending until reset".
//!
//! Status words and codings: [`smsr_proto::sgp02::codings`].

use super::{CardState, NON_VOLATILE_MEMORY, VOLATILE_MEMORY};
use crate::isd_p::{IsdP, Profile, ICCID_LEN};
use crate::notification::Notifications;
use crate::registry::{Deletion, RegistryRecord};
use smsr_proto::gp::life_cycle::{self, EntityKind};
use smsr_proto::gp::Aid;
use smsr_proto::sgp02::codings::{
    ISD_P_MAX, SW_AID_PRESENT, SW_FALLBACK, SW_MEMORY, SW_POL1, SW_PROFILE_STATE, SW_UNKNOWN_ISD_P,
    SW_WRONG_INSTALL_DATA,
};
use smsr_proto::sgp02::NotificationType;
use smsr_proto::StatusWord;

/// Why a profile function is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("no ISD-P {0} on the card")]
    UnknownIsdP(Aid),
    #[error("{0} is not an ISD-P instance AID (A0000005591010FFFFFFFF89 00 nnnn 00)")]
    NotIsdPAid(Aid),
    #[error("AID {0} is already in the registry")]
    AidPresent(Aid),
    #[error("not enough memory for another ISD-P")]
    Memory,
    #[error("{0} belongs to the platform")]
    Platform(Aid),
    #[error("ISD-P {aid} is {}, {expected} was expected", life_cycle::describe(EntityKind::IsdP, *life_cycle))]
    WrongState {
        aid: Aid,
        life_cycle: u8,
        expected: &'static str,
    },
    #[error("ISD-P {0} holds the fallback profile")]
    Fallback(Aid),
    #[error("no profile has the Fallback Attribute to take over")]
    NoFallback,
    #[error("POL1 of the profile in ISD-P {0} forbids this")]
    Pol1(Aid),
    #[error("no notification with sequence number {0:04X}")]
    UnknownNotification(u16),
}

impl ProfileError {
    /// The status word the ISD-R answers.
    pub fn status_word(&self) -> StatusWord {
        match self {
            Self::UnknownIsdP(_) | Self::UnknownNotification(_) => SW_UNKNOWN_ISD_P,
            Self::NotIsdPAid(_) => SW_WRONG_INSTALL_DATA,
            Self::AidPresent(_) => SW_AID_PRESENT,
            Self::Memory => SW_MEMORY,
            Self::Platform(_) | Self::WrongState { .. } => SW_PROFILE_STATE,
            Self::Fallback(_) | Self::NoFallback => SW_FALLBACK,
            Self::Pol1(_) => SW_POL1,
        }
    }
}

impl CardState {
    /// The notifications not yet confirmed by the SM-SR.
    pub fn notifications(&self) -> &Notifications {
        &self.notifications
    }

    /// Free non-volatile memory: the card's total less personalization data and, for each
    /// ISD-P, its non-volatile quota or, when its installed profile takes more (an ISD-P
    /// created without a quota), the profile's size ([`IsdP::non_volatile_used`]).
    pub fn free_non_volatile_memory(&self) -> u32 {
        let used = u32::try_from(self.personalization_len()).unwrap_or(u32::MAX);
        let quotas =
            self.quotas(|p| Some(p.non_volatile_quota.unwrap_or(0).max(p.non_volatile_used())));
        NON_VOLATILE_MEMORY
            .saturating_sub(used)
            .saturating_sub(quotas)
    }

    /// Free volatile memory: the card's total less the ISD-Ps' volatile quotas.
    pub fn free_volatile_memory(&self) -> u32 {
        VOLATILE_MEMORY.saturating_sub(self.quotas(|p| p.volatile_quota))
    }

    fn quotas(&self, quota: impl Fn(&IsdP) -> Option<u32>) -> u32 {
        self.registry
            .isd_ps()
            .filter_map(|e| e.isd_p.as_ref().and_then(&quota))
            .fold(0, u32::saturating_add)
    }

    /// CreateISDP: a new SELECTABLE ISD-P associated with the ISD-R.
    pub fn create_isd_p(&mut self, aid: Aid, data: IsdP) -> Result<(), ProfileError> {
        if !aid.is_isd_p() {
            return Err(ProfileError::NotIsdPAid(aid));
        }
        if self.registry.find(aid.as_bytes()).is_some() {
            return Err(ProfileError::AidPresent(aid));
        }
        if self.registry.isd_ps().count() >= ISD_P_MAX
            || data.non_volatile_quota.unwrap_or(0) > self.free_non_volatile_memory()
            || data.volatile_quota.unwrap_or(0) > self.free_volatile_memory()
        {
            return Err(ProfileError::Memory);
        }
        self.registry
            .add(RegistryRecord::isd_p(aid.clone(), data))
            .map_err(|_| ProfileError::AidPresent(aid))
    }

    /// Places a profile in an ISD-P without ES8 (tests): the ISD-P (created first if it does
    /// not exist, with SCP03 "i" `70` and no quota) becomes DISABLED with a profile of this
    /// ICCID and POL1; with `fallback` it takes the Fallback Attribute from any other profile.
    /// An ISD-P that already holds a profile is refused.
    pub fn install_test_profile(
        &mut self,
        aid: &Aid,
        iccid: [u8; ICCID_LEN],
        fallback: bool,
        pol1: u8,
    ) -> Result<(), ProfileError> {
        if self.registry.find(aid.as_bytes()).is_none() {
            self.create_isd_p(aid.clone(), IsdP::created(0x70, None, None))?;
        }
        let (entry, data) = self
            .registry
            .isd_p(aid.as_bytes())
            .ok_or_else(|| ProfileError::Platform(aid.clone()))?;
        if data.profile.is_some() {
            return Err(wrong_state(entry, "an ISD-P without a profile"));
        }
        if fallback {
            self.take_fallback_attribute();
        }
        let (entry, data) = self.isd_p_mut(aid)?;
        *entry = life_cycle::ISD_P_DISABLED;
        data.profile = Some(Profile {
            iccid,
            fallback,
            pol1,
        });
        Ok(())
    }

    /// Drops the notification `sequence` from the queue (a change made at manufacture, which
    /// the SM-SR learns from the EIS).
    pub(crate) fn forget_notification(&mut self, sequence: u16) {
        self.notifications.confirm(sequence);
    }

    /// EnableProfile: the DISABLED ISD-P `aid` becomes ENABLED, the enabled one (if any)
    /// DISABLED; a "profile change succeeded" notification is queued. Returns its number.
    pub fn enable_profile(&mut self, aid: &Aid) -> Result<u16, ProfileError> {
        let (entry, _) = self.isd_p(aid)?;
        if entry.life_cycle != life_cycle::ISD_P_DISABLED {
            return Err(wrong_state(entry, "DISABLED (a profile)"));
        }
        let previous = self.registry.enabled_isd_p().map(|e| e.aid.clone());
        if let Some(previous) = &previous {
            if self.isd_p(previous)?.1.disable_forbidden() {
                return Err(ProfileError::Pol1(previous.clone()));
            }
            self.switch(previous, life_cycle::ISD_P_DISABLED)?;
        }
        self.switch(aid, life_cycle::ISD_P_ENABLED)?;
        Ok(self.notifications.push(
            NotificationType::ProfileChangeSucceeded,
            Some(aid.clone()),
            previous,
        ))
    }

    /// DisableProfile: the ENABLED ISD-P `aid` becomes DISABLED and the fallback profile
    /// ENABLED; a "profile change after fallback" notification is queued. Returns its number.
    pub fn disable_profile(&mut self, aid: &Aid) -> Result<u16, ProfileError> {
        let (entry, data) = self.isd_p(aid)?;
        if entry.life_cycle != life_cycle::ISD_P_ENABLED {
            return Err(wrong_state(entry, "ENABLED"));
        }
        if data.is_fallback() {
            return Err(ProfileError::Fallback(aid.clone()));
        }
        if data.disable_forbidden() {
            return Err(ProfileError::Pol1(aid.clone()));
        }
        let fallback = self
            .registry
            .fallback_isd_p()
            .map(|e| e.aid.clone())
            .ok_or(ProfileError::NoFallback)?;
        self.switch(aid, life_cycle::ISD_P_DISABLED)?;
        self.switch(&fallback, life_cycle::ISD_P_ENABLED)?;
        Ok(self.notifications.push(
            NotificationType::ProfileChangeAfterFallback,
            Some(fallback),
            Some(aid.clone()),
        ))
    }

    /// SetFallbackAttribute: the profile in `aid` gets the Fallback Attribute, the profile that
    /// had it loses it.
    pub fn set_fallback_attribute(&mut self, aid: &Aid) -> Result<(), ProfileError> {
        let (entry, data) = self.isd_p(aid)?;
        if data.profile.is_none() {
            return Err(wrong_state(entry, "DISABLED or ENABLED (a profile)"));
        }
        self.take_fallback_attribute();
        if let (
            _,
            IsdP {
                profile: Some(p), ..
            },
        ) = self.isd_p_mut(aid)?
        {
            p.fallback = true;
        }
        Ok(())
    }

    /// DeleteProfile (GP DELETE of an ISD-P): removes the ISD-P with its profile.
    pub fn delete_isd_p(&mut self, aid: &Aid) -> Result<(), ProfileError> {
        let entry = self
            .registry
            .find(aid.as_bytes())
            .ok_or_else(|| ProfileError::UnknownIsdP(aid.clone()))?;
        match entry.deletion() {
            Deletion::Allowed => {}
            Deletion::Platform => return Err(ProfileError::Platform(aid.clone())),
            Deletion::Enabled => return Err(wrong_state(entry, "not ENABLED")),
            Deletion::Fallback => return Err(ProfileError::Fallback(aid.clone())),
            Deletion::Pol1 => return Err(ProfileError::Pol1(aid.clone())),
        }
        self.registry.remove(aid.as_bytes());
        self.notifications.forget_disabled(aid);
        Ok(())
    }

    /// HandleNotificationConfirmation: removes the notification `sequence`; if the change it
    /// reported disabled a profile whose POL1 says "delete when disabled" (and does not forbid
    /// deletion), that ISD-P is deleted. Returns the deleted ISD-Ps.
    pub fn confirm_notification(&mut self, sequence: u16) -> Result<Vec<Aid>, ProfileError> {
        let n = self
            .notifications
            .confirm(sequence)
            .ok_or(ProfileError::UnknownNotification(sequence))?;
        let Some(disabled) = n.disabled else {
            return Ok(Vec::new());
        };
        let doomed = self.isd_p(&disabled).is_ok_and(|(e, d)| {
            e.life_cycle == life_cycle::ISD_P_DISABLED
                && d.delete_when_disabled()
                && e.deletion() == Deletion::Allowed
        });
        if !doomed {
            return Ok(Vec::new());
        }
        self.delete_isd_p(&disabled)?;
        Ok(vec![disabled])
    }

    /// Whether an enable or disable waits for a reset.
    pub fn reset_pending(&self) -> bool {
        self.registry
            .isd_ps()
            .any(|e| e.isd_p.as_ref().is_some_and(|p| p.pending_reset))
    }

    /// The reset (standing for the REFRESH of a real eUICC) applies the pending changes.
    pub(crate) fn clear_reset_pending(&mut self) {
        for e in self.registry.isd_ps_mut() {
            if let Some(p) = e.isd_p.as_mut() {
                p.pending_reset = false;
            }
        }
    }

    fn isd_p(&self, aid: &Aid) -> Result<(&RegistryRecord, &IsdP), ProfileError> {
        self.registry
            .isd_p(aid.as_bytes())
            .ok_or_else(|| ProfileError::UnknownIsdP(aid.clone()))
    }

    fn isd_p_mut(&mut self, aid: &Aid) -> Result<(&mut u8, &mut IsdP), ProfileError> {
        let entry = self
            .registry
            .find_mut(aid.as_bytes())
            .filter(|e| e.is_isd_p())
            .ok_or_else(|| ProfileError::UnknownIsdP(aid.clone()))?;
        match entry.isd_p.as_mut() {
            Some(data) => Ok((&mut entry.life_cycle, data)),
            None => Err(ProfileError::UnknownIsdP(aid.clone())),
        }
    }

    fn switch(&mut self, aid: &Aid, to: u8) -> Result<(), ProfileError> {
        let (life_cycle, data) = self.isd_p_mut(aid)?;
        *life_cycle = to;
        data.pending_reset = true;
        Ok(())
    }

    fn take_fallback_attribute(&mut self) {
        for e in self.registry.isd_ps_mut() {
            if let Some(p) = e.isd_p.as_mut().and_then(|d| d.profile.as_mut()) {
                p.fallback = false;
            }
        }
    }
}

fn wrong_state(entry: &RegistryRecord, expected: &'static str) -> ProfileError {
    ProfileError::WrongState {
        aid: entry.aid.clone(),
        life_cycle: entry.life_cycle,
        expected,
    }
}

#[cfg(test)]
mod tests;
