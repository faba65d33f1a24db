//! The GlobalPlatform Registry of the eUICC (GlobalPlatform Card Specification v2.3.1 §5.1, §6.7;
//! GSMA SGP.02 §2.2.1): the entries GET STATUS lists and DELETE removes, kept in the state file.
//!
//! A new card holds:
//!
//! | entry | AID | life cycle | privileges | associated SD |
//! |---|---|---|---|---|
//! | ISD-R (the card's ISD, SGP.02 §2.2.1.1) | `…8900000100` | `0F` SECURED | [`ISD_R_PRIVILEGE_LIST`] | itself |
//! | ECASD (SGP.02 §2.2.1.3) | `…8900000200` | `0F` PERSONALIZED | Security Domain | ISD-R |
//! | ISD-P Executable Load File (SGP.02 Annex H) | `…8900000D00` | `01` LOADED | — | ISD-R |
//!
//! with the ISD-P Executable Module `…8900000E00` listed under the load file. ISD-Ps created later
//! are Security Domains associated with the ISD-R; only they can be deleted (the ISD-R, the
//! ECASD and the ISD-P load file are part of the platform).

use crate::isd_p::IsdP;
use smsr_proto::gp::get_status::{RegistryEntry, StatusScope};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::{Aid, Privilege, Privileges};

/// The ISD-R's privileges (SGP.02 §2.2.1.1): Security Domain, Trusted Path, Authorized
/// Management, Token Verification, Global Delete, Global Lock, Global Registry, Final
/// Application and Receipt Generation.
pub const ISD_R_PRIVILEGE_LIST: [Privilege; 9] = [
    Privilege::SecurityDomain,
    Privilege::TrustedPath,
    Privilege::AuthorizedManagement,
    Privilege::TokenManagement,
    Privilege::GlobalDelete,
    Privilege::GlobalLock,
    Privilege::GlobalRegistry,
    Privilege::FinalApplication,
    Privilege::ReceiptGeneration,
];

/// [`ISD_R_PRIVILEGE_LIST`] coded: `80 FE 80`.
pub fn isd_r_privileges() -> Privileges {
    Privileges::from_list(&ISD_R_PRIVILEGE_LIST)
}

/// What a registry entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// The Issuer Security Domain (the ISD-R): listed by GET STATUS P1 `80`.
    IssuerSecurityDomain,
    /// An application or Supplementary Security Domain (ECASD, ISD-Ps): P1 `40`.
    Application,
    /// An Executable Load File (with its modules): P1 `20` and `10`.
    LoadFile,
}

impl EntryKind {
    /// The name used in the state file.
    pub fn name(self) -> &'static str {
        match self {
            Self::IssuerSecurityDomain => "isd",
            Self::Application => "application",
            Self::LoadFile => "load_file",
        }
    }

    /// The kind named `name` in the state file.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::IssuerSecurityDomain,
            Self::Application,
            Self::LoadFile,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// One registry entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRecord {
    pub kind: EntryKind,
    pub aid: Aid,
    /// Life-cycle state (GPCS §11.1.1, [`life_cycle`]).
    pub life_cycle: u8,
    /// Privileges (none for load files).
    pub privileges: Option<Privileges>,
    /// The associated Security Domain.
    pub associated_sd: Option<Aid>,
    /// A load file's Executable Modules.
    pub modules: Vec<Aid>,
    /// An ISD-P's SGP.02 data (`Some` for every ISD-P, `None` for the other entries).
    pub isd_p: Option<IsdP>,
}

impl RegistryRecord {
    /// The entry as GET STATUS reports it under `scope`.
    pub fn to_entry(&self, scope: StatusScope) -> RegistryEntry {
        let mut entry = RegistryEntry::new(self.aid.clone(), self.life_cycle, self.privileges);
        entry.associated_sd = self.associated_sd.clone();
        if scope == StatusScope::LoadFilesAndModules {
            entry.modules = self.modules.clone();
        }
        if let Some(isd_p) = &self.isd_p {
            entry.other.push(isd_p.attributes().to_tlv());
        }
        entry
    }

    /// An ISD-P entry as CreateISDP makes it: SELECTABLE, privileges `80 C0 00`, associated
    /// with the ISD-R.
    pub fn isd_p(aid: Aid, data: IsdP) -> Self {
        Self {
            kind: EntryKind::Application,
            aid,
            life_cycle: life_cycle::SELECTABLE,
            privileges: Some(Privileges::ISD_P),
            associated_sd: Some(Aid::isd_r()),
            modules: Vec::new(),
            isd_p: Some(data),
        }
    }

    /// Whether the scope of GET STATUS P1 lists this entry.
    pub fn in_scope(&self, scope: StatusScope) -> bool {
        match scope {
            StatusScope::IssuerSecurityDomain => self.kind == EntryKind::IssuerSecurityDomain,
            StatusScope::Applications => self.kind == EntryKind::Application,
            StatusScope::LoadFiles | StatusScope::LoadFilesAndModules => {
                self.kind == EntryKind::LoadFile
            }
        }
    }

    /// Whether DELETE may remove this entry: ISD-Ps only (SGP.02 ES5.DeleteProfile), not
    /// while enabled, not the fallback profile, not against POL1.
    pub fn deletion(&self) -> Deletion {
        let Some(isd_p) = self.isd_p.as_ref().filter(|_| self.is_isd_p()) else {
            return Deletion::Platform;
        };
        if self.life_cycle == life_cycle::ISD_P_ENABLED {
            Deletion::Enabled
        } else if isd_p.is_fallback() {
            Deletion::Fallback
        } else if isd_p.delete_forbidden() {
            Deletion::Pol1
        } else {
            Deletion::Allowed
        }
    }

    /// Whether this is an ISD-P (an application entry with an ISD-P AID).
    pub fn is_isd_p(&self) -> bool {
        self.kind == EntryKind::Application && self.aid.is_isd_p()
    }
}

/// Whether an entry can be deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    Allowed,
    /// Part of the platform (ISD-R, ECASD, ISD-P load file).
    Platform,
    /// An enabled ISD-P (SGP.02: disable it first).
    Enabled,
    /// The ISD-P of the profile with the Fallback Attribute.
    Fallback,
    /// POL1 of the profile forbids its deletion.
    Pol1,
}

/// The registry: its entries in GET STATUS order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    entries: Vec<RegistryRecord>,
}

/// Why an entry cannot be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("AID {0} is already in the registry")]
    Duplicate(Aid),
    #[error("the registry has no Issuer Security Domain entry")]
    NoIssuerSecurityDomain,
    #[error("the registry has more than one Issuer Security Domain entry")]
    SeveralIssuerSecurityDomains,
    #[error("ISD-P {0} has no SGP.02 data")]
    IsdPWithoutData(Aid),
    #[error("{0} is not an ISD-P but has ISD-P data")]
    DataWithoutIsdP(Aid),
    #[error("ISD-P {0}: a profile goes with life cycle 1F or 3F, no profile with 03, 07 or 0F")]
    ProfileLifeCycle(Aid),
    #[error("more than one ISD-P is enabled")]
    SeveralEnabled,
    #[error("more than one profile has the Fallback Attribute")]
    SeveralFallbacks,
}

impl Registry {
    /// The registry of a new eUICC (see the module documentation).
    pub fn euicc_default() -> Self {
        let isd_r = Aid::isd_r();
        let entries = vec![
            RegistryRecord {
                kind: EntryKind::IssuerSecurityDomain,
                aid: isd_r.clone(),
                life_cycle: life_cycle::SECURED,
                privileges: Some(isd_r_privileges()),
                associated_sd: Some(isd_r.clone()),
                modules: Vec::new(),
                isd_p: None,
            },
            RegistryRecord {
                kind: EntryKind::Application,
                aid: Aid::ecasd(),
                life_cycle: life_cycle::PERSONALIZED,
                privileges: Some(Privileges::from_list(&[Privilege::SecurityDomain])),
                associated_sd: Some(isd_r.clone()),
                modules: Vec::new(),
                isd_p: None,
            },
            RegistryRecord {
                kind: EntryKind::LoadFile,
                aid: Aid::isd_p_load_file(),
                life_cycle: life_cycle::LOADED,
                privileges: None,
                associated_sd: Some(isd_r),
                modules: vec![Aid::isd_p_module()],
                isd_p: None,
            },
        ];
        Self { entries }
    }

    /// A registry from entries; exactly one must be the Issuer Security Domain and AIDs must
    /// be unique.
    pub fn from_entries(entries: Vec<RegistryRecord>) -> Result<Self, RegistryError> {
        let mut registry = Self {
            entries: Vec::with_capacity(entries.len()),
        };
        for e in entries {
            registry.add(e)?;
        }
        if let Some(e) = registry
            .entries
            .iter()
            .find(|e| e.is_isd_p() && e.isd_p.is_none())
        {
            return Err(RegistryError::IsdPWithoutData(e.aid.clone()));
        }
        if let Some(e) = registry
            .entries
            .iter()
            .find(|e| !e.is_isd_p() && e.isd_p.is_some())
        {
            return Err(RegistryError::DataWithoutIsdP(e.aid.clone()));
        }
        if let Some(e) = registry.isd_ps().find(|e| {
            let with_profile = e.isd_p.as_ref().is_some_and(|d| d.profile.is_some());
            let profile_state = matches!(
                e.life_cycle,
                life_cycle::ISD_P_DISABLED | life_cycle::ISD_P_ENABLED
            );
            let known = matches!(
                e.life_cycle,
                life_cycle::INSTALLED
                    | life_cycle::SELECTABLE
                    | life_cycle::PERSONALIZED
                    | life_cycle::ISD_P_DISABLED
                    | life_cycle::ISD_P_ENABLED
            );
            !known || with_profile != profile_state
        }) {
            return Err(RegistryError::ProfileLifeCycle(e.aid.clone()));
        }
        if registry
            .isd_ps()
            .filter(|e| e.life_cycle == life_cycle::ISD_P_ENABLED)
            .count()
            > 1
        {
            return Err(RegistryError::SeveralEnabled);
        }
        if registry
            .isd_ps()
            .filter(|e| e.isd_p.as_ref().is_some_and(IsdP::is_fallback))
            .count()
            > 1
        {
            return Err(RegistryError::SeveralFallbacks);
        }
        match registry
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::IssuerSecurityDomain)
            .count()
        {
            0 => Err(RegistryError::NoIssuerSecurityDomain),
            1 => Ok(registry),
            _ => Err(RegistryError::SeveralIssuerSecurityDomains),
        }
    }

    /// The ISD-P entries (those with SGP.02 data), in registry order.
    pub fn isd_ps(&self) -> impl Iterator<Item = &RegistryRecord> {
        self.entries
            .iter()
            .filter(|e| e.is_isd_p() && e.isd_p.is_some())
    }

    /// The ISD-P with this AID and its SGP.02 data.
    pub fn isd_p(&self, aid: &[u8]) -> Option<(&RegistryRecord, &IsdP)> {
        let e = self.find(aid).filter(|e| e.is_isd_p())?;
        Some((e, e.isd_p.as_ref()?))
    }

    /// The enabled ISD-P.
    pub fn enabled_isd_p(&self) -> Option<&RegistryRecord> {
        self.isd_ps()
            .find(|e| e.life_cycle == life_cycle::ISD_P_ENABLED)
    }

    /// The ISD-P of the profile with the Fallback Attribute.
    pub fn fallback_isd_p(&self) -> Option<&RegistryRecord> {
        self.isd_ps()
            .find(|e| e.isd_p.as_ref().is_some_and(IsdP::is_fallback))
    }

    /// Write access to the entry with this AID.
    pub(crate) fn find_mut(&mut self, aid: &[u8]) -> Option<&mut RegistryRecord> {
        self.entries.iter_mut().find(|e| e.aid.as_bytes() == aid)
    }

    /// Write access to the ISD-P entries.
    pub(crate) fn isd_ps_mut(&mut self) -> impl Iterator<Item = &mut RegistryRecord> {
        self.entries
            .iter_mut()
            .filter(|e| e.is_isd_p() && e.isd_p.is_some())
    }

    /// All entries.
    pub fn entries(&self) -> &[RegistryRecord] {
        &self.entries
    }

    /// The entry with this AID.
    pub fn find(&self, aid: &[u8]) -> Option<&RegistryRecord> {
        self.entries.iter().find(|e| e.aid.as_bytes() == aid)
    }

    /// Adds an entry at the end.
    pub fn add(&mut self, record: RegistryRecord) -> Result<(), RegistryError> {
        if self.find(record.aid.as_bytes()).is_some() {
            return Err(RegistryError::Duplicate(record.aid));
        }
        self.entries.push(record);
        Ok(())
    }

    /// Removes the entry with this AID, whatever it is (callers check [`RegistryRecord::deletion`]).
    pub fn remove(&mut self, aid: &[u8]) -> Option<RegistryRecord> {
        let at = self.entries.iter().position(|e| e.aid.as_bytes() == aid)?;
        Some(self.entries.remove(at))
    }

    /// The entries GET STATUS returns for `scope` and an AID prefix, in registry order. P1
    /// `80` ignores the search criteria (GPCS §11.4.2.1: the ISD is always returned).
    pub fn status(&self, scope: StatusScope, aid_prefix: &[u8]) -> Vec<RegistryEntry> {
        self.entries
            .iter()
            .filter(|e| e.in_scope(scope))
            .filter(|e| scope == StatusScope::IssuerSecurityDomain || e.aid.starts_with(aid_prefix))
            .map(|e| e.to_entry(scope))
            .collect()
    }

    /// The number of installed applications and Security Domains other than the ISD (ETSI
    /// TS 102 226 extended card resources).
    pub fn installed_applications(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::Application)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::gp::life_cycle::ISD_P_DISABLED;

    fn isd_p(n: u16, lcs: u8) -> RegistryRecord {
        RegistryRecord {
            life_cycle: lcs,
            ..RegistryRecord::isd_p(Aid::isd_p(n).unwrap(), IsdP::created(0x70, None, None))
        }
    }

    #[test]
    fn default_registry() {
        let r = Registry::euicc_default();
        assert_eq!(isd_r_privileges().bytes(), [0x80, 0xFE, 0x80]);
        let isd = r.status(StatusScope::IssuerSecurityDomain, &[0xFF]);
        assert_eq!(isd.len(), 1);
        assert_eq!(isd[0].aid, Aid::isd_r());
        assert_eq!(isd[0].life_cycle, 0x0F);
        let apps = r.status(StatusScope::Applications, &[]);
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].aid, Aid::ecasd());
        assert_eq!(apps[0].associated_sd, Some(Aid::isd_r()));
        let lf = r.status(StatusScope::LoadFiles, &[]);
        assert_eq!(lf.len(), 1);
        assert!(lf[0].modules.is_empty());
        let lfm = r.status(StatusScope::LoadFilesAndModules, &[]);
        assert_eq!(lfm[0].modules, vec![Aid::isd_p_module()]);
        assert!(r
            .status(StatusScope::Applications, &[0xA0, 0x01])
            .is_empty());
        assert_eq!(r.installed_applications(), 1);
        for e in r.entries() {
            assert_eq!(e.deletion(), Deletion::Platform, "{}", e.aid);
        }
    }

    #[test]
    fn add_find_remove() {
        let mut r = Registry::euicc_default();
        r.add(isd_p(0x10, ISD_P_DISABLED)).unwrap();
        r.add(isd_p(0x11, life_cycle::ISD_P_ENABLED)).unwrap();
        assert_eq!(
            r.add(isd_p(0x10, ISD_P_DISABLED)),
            Err(RegistryError::Duplicate(Aid::isd_p(0x10).unwrap()))
        );
        let first = Aid::isd_p(0x10).unwrap();
        assert_eq!(
            r.find(first.as_bytes()).unwrap().deletion(),
            Deletion::Allowed
        );
        let second = Aid::isd_p(0x11).unwrap();
        assert_eq!(
            r.find(second.as_bytes()).unwrap().deletion(),
            Deletion::Enabled
        );
        assert_eq!(r.status(StatusScope::Applications, &[]).len(), 3);
        assert!(r.remove(first.as_bytes()).is_some());
        assert!(r.remove(first.as_bytes()).is_none());
        assert_eq!(r.installed_applications(), 2);
    }

    #[test]
    fn exactly_one_isd() {
        let mut entries = Registry::euicc_default().entries().to_vec();
        let isd = entries.remove(0);
        assert_eq!(
            Registry::from_entries(entries.clone()),
            Err(RegistryError::NoIssuerSecurityDomain)
        );
        let mut other = isd.clone();
        other.aid = Aid::gp_isd();
        entries.push(isd);
        entries.push(other);
        assert_eq!(
            Registry::from_entries(entries),
            Err(RegistryError::SeveralIssuerSecurityDomains)
        );
    }
}
