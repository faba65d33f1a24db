//! POL2: the profile policy rules the SM-SR enforces itself (SGP.02 §2.4.x, "Policy Rules"),
//! checked before any command reaches the card. POL1 lives on the card and the card refuses
//! with `69E1`; POL2 never lets the command leave the SM-SR.
//!
//! The registry keeps a profile's POL2 as a JSON array of rule names:
//! `["disable-not-allowed", "delete-not-allowed", "enable-not-allowed", "auto-delete"]`.
//! SGP.02 names the rules ("disabling not allowed", "deletion not allowed", "profile deletion
//! is mandatory when it is disabled"); the coding in the registry is this tool's.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One POL2 rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// EnableProfile of this profile is refused.
    EnableNotAllowed,
    /// DisableProfile of this profile (and enabling another while it is enabled) is refused.
    DisableNotAllowed,
    /// DeleteProfile of this profile is refused.
    DeleteNotAllowed,
    /// When the profile becomes disabled, the SM-SR deletes it.
    AutoDelete,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Self::EnableNotAllowed => "enable-not-allowed",
            Self::DisableNotAllowed => "disable-not-allowed",
            Self::DeleteNotAllowed => "delete-not-allowed",
            Self::AutoDelete => "auto-delete",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile's POL2.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pol2(Vec<Rule>);

impl Pol2 {
    pub fn new(rules: &[Rule]) -> Self {
        let mut v = rules.to_vec();
        v.sort_by_key(|r| r.name());
        v.dedup();
        Self(v)
    }

    /// From the registry's JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str::<Vec<Rule>>(text)
            .map(|r| Self::new(&r))
            .map_err(|e| format!("POL2 {text:?} in the registry is not a list of rules: {e}"))
    }

    /// The registry's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn has(&self, rule: Rule) -> bool {
        self.0.contains(&rule)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_errors() {
        let p = Pol2::new(&[Rule::AutoDelete, Rule::DeleteNotAllowed, Rule::AutoDelete]);
        assert_eq!(p.to_json(), r#"["auto-delete","delete-not-allowed"]"#);
        assert_eq!(Pol2::from_json(&p.to_json()).unwrap(), p);
        assert!(p.has(Rule::AutoDelete) && !p.has(Rule::EnableNotAllowed));
        assert_eq!(Pol2::from_json("[]").unwrap(), Pol2::default());
        assert!(Pol2::from_json(r#"["never"]"#).is_err());
        assert!(Pol2::from_json("{").is_err());
    }
}
