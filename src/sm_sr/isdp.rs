//! The life-cycle state of an ISD-P as the SM-SR registry records it: the SGP.02 profile
//! states (`created`, `personalized`, `disabled`, `enabled`, coded on the card as the
//! GlobalPlatform life-cycle bytes `07`, `0F`, `1F`, `3F`: GPCS v2.3.1 §11.1.1,
//! `shared/protocol/SGP02.md` §5), the registry's own `creating` (intent recorded, the card's
//! answer not yet), and what an audit may read from a card that reports something else.
//!
//! The text form is the registry's TEXT column and the `state` of every JSON output; it does
//! not change with this type.

use serde::{Deserialize, Serialize};
use smsr_proto::gp::life_cycle;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The state of an ISD-P.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsdpState {
    /// CreateISDP recorded, the card's answer not yet (pending `create`).
    Creating,
    /// `07` SELECTABLE: created, no key set yet.
    Created,
    /// `0F` PERSONALIZED: the ISD-P key set is established, no profile yet.
    Personalized,
    /// `1F` DISABLED: holds a profile, not the enabled one.
    Disabled,
    /// `3F` ENABLED: holds the enabled profile.
    Enabled,
    /// `03` INSTALLED: not selectable (a card's answer; SGP.02 has no such ISD-P state).
    Installed,
    /// Any other life-cycle byte a card reports.
    Unknown,
}

/// A registry text that names no ISD-P state.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{0:?} is not an ISD-P state (creating, created, personalized, disabled, enabled, installed, unknown)")]
pub struct UnknownIsdpState(pub String);

impl IsdpState {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::Creating,
        Self::Created,
        Self::Personalized,
        Self::Disabled,
        Self::Enabled,
        Self::Installed,
        Self::Unknown,
    ];

    /// The registry's (and the JSON outputs') name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Created => "created",
            Self::Personalized => "personalized",
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::Installed => "installed",
            Self::Unknown => "unknown",
        }
    }

    /// The state a card reports with the GlobalPlatform life-cycle byte `byte` (GET STATUS
    /// `9F70`).
    pub fn from_life_cycle(byte: u8) -> Self {
        match byte {
            life_cycle::SELECTABLE => Self::Created,
            life_cycle::PERSONALIZED => Self::Personalized,
            life_cycle::ISD_P_DISABLED => Self::Disabled,
            life_cycle::ISD_P_ENABLED => Self::Enabled,
            life_cycle::INSTALLED => Self::Installed,
            _ => Self::Unknown,
        }
    }

    /// Whether the ISD-P holds a profile: disabled or enabled.
    pub fn holds_profile(self) -> bool {
        matches!(self, Self::Disabled | Self::Enabled)
    }

    /// Whether the ISD-P was left on the way to a profile: creating, created or personalized
    /// (a provisioning that stopped before its download).
    pub fn is_half_provisioned(self) -> bool {
        matches!(self, Self::Creating | Self::Created | Self::Personalized)
    }
}

impl fmt::Display for IsdpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registry's names, exactly (lower case).
impl FromStr for IsdpState {
    type Err = UnknownIsdpState;
    fn from_str(s: &str) -> Result<Self, UnknownIsdpState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownIsdpState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_text_and_json() {
        let names = [
            "creating",
            "created",
            "personalized",
            "disabled",
            "enabled",
            "installed",
            "unknown",
        ];
        for (state, name) in IsdpState::ALL.into_iter().zip(names) {
            assert_eq!(state.as_str(), name);
            assert_eq!(state.to_string(), name);
            assert_eq!(name.parse::<IsdpState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<IsdpState>(&json).unwrap(), state);
        }
        for bad in ["", "Enabled", "ENABLED", " enabled", "deleted"] {
            assert_eq!(
                bad.parse::<IsdpState>(),
                Err(UnknownIsdpState(bad.to_owned()))
            );
        }
        assert!(serde_json::from_str::<IsdpState>("\"Enabled\"").is_err());
        let err = "deleted".parse::<IsdpState>().unwrap_err().to_string();
        assert!(
            err.contains("\"deleted\"") && err.contains("personalized"),
            "{err}"
        );
    }

    #[test]
    fn life_cycle_bytes_map_to_states() {
        for (byte, state) in [
            (0x07, IsdpState::Created),
            (0x0F, IsdpState::Personalized),
            (0x1F, IsdpState::Disabled),
            (0x3F, IsdpState::Enabled),
            (0x03, IsdpState::Installed),
            (0x00, IsdpState::Unknown),
            (0x01, IsdpState::Unknown),
            (0x87, IsdpState::Unknown),
            (0xFF, IsdpState::Unknown),
        ] {
            assert_eq!(IsdpState::from_life_cycle(byte), state, "{byte:02X}");
        }
        // No byte gives the registry's own state.
        assert!((0..=u8::MAX).all(|b| IsdpState::from_life_cycle(b) != IsdpState::Creating));
    }

    #[test]
    fn predicates() {
        use IsdpState::*;
        let holds: Vec<IsdpState> = IsdpState::ALL
            .into_iter()
            .filter(|s| s.holds_profile())
            .collect();
        assert_eq!(holds, [Disabled, Enabled]);
        let half: Vec<IsdpState> = IsdpState::ALL
            .into_iter()
            .filter(|s| s.is_half_provisioned())
            .collect();
        assert_eq!(half, [Creating, Created, Personalized]);
        // Installed and unknown are neither: the audit reports them, nobody acts on them.
        for s in [Installed, Unknown] {
            assert!(!s.holds_profile() && !s.is_half_provisioned());
        }
    }
}
