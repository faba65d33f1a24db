//! POL2: the profile policy rules the SM-SR enforces itself (SGP.02 §2.4.x, "Policy Rules"),
//! checked before any command reaches the card. POL1 lives on the card and the card refuses
//! with `69E1`; POL2 never lets the command leave the SM-SR.
//!
//! The registry keeps a profile's POL2 as a JSON array of rule names:
//! `["disable-not-allowed", "delete-not-allowed", "enable-not-allowed", "auto-delete"]`.
//! SGP.02 names the rules ("disabling not allowed", "deletion not allowed", "profile deletion
//! is mandatory when it is disabled"); the coding in the registry is this tool's.

use crate::sm_sr::isdp::IsdpState;
use crate::sm_sr::registry::IsdpRecord;
use serde::{Deserialize, Serialize};
use smsr_proto::gp::aid::Aid;
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

/// What the "auto-delete" rule asks of the SM-SR after a profile change: the ISD-Ps that
/// were enabled `before` and are disabled `after`, with the rule, are deleted — except the one
/// with the Fallback Attribute, which SGP.02 does not let be deleted (the eUICC refuses with
/// `6985`). The eUICC's rule wins over POL2: that profile is kept, and reported as kept; the
/// change itself stands.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AutoDelete {
    /// The ISD-Ps to delete.
    pub delete: Vec<IsdpRecord>,
    /// The ISD-Ps kept although their POL2 says auto-delete: they hold the fallback profile.
    pub kept: Vec<Aid>,
}

impl AutoDelete {
    /// From the registry's ISD-Ps before and after the change.
    pub fn after_change(before: &[IsdpRecord], after: &[IsdpRecord]) -> Result<Self, String> {
        let mut out = Self::default();
        for was in before.iter().filter(|r| r.state == IsdpState::Enabled) {
            let Some(now) = after.iter().find(|r| r.aid == was.aid) else {
                continue;
            };
            if now.state != IsdpState::Disabled
                || !Pol2::from_json(&now.pol2)?.has(Rule::AutoDelete)
            {
                continue;
            }
            if now.fallback {
                out.kept.push(now.aid.clone());
            } else {
                out.delete.push(now.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ISD-P `A0000005591010FFFFFFFF8900nn00`.
    fn aid(nn: &str) -> Aid {
        format!("A0000005591010FFFFFFFF890000{nn}00")
            .parse()
            .unwrap()
    }

    fn rec(nn: &str, state: &str, fallback: bool, pol2: &str) -> IsdpRecord {
        IsdpRecord {
            aid: aid(nn),
            iccid: None,
            state: state.parse().unwrap(),
            fallback,
            pol2: pol2.into(),
            memory: None,
            pending: None,
            updated_at: String::new(),
        }
    }

    #[test]
    fn auto_delete_spares_the_fallback_profile() {
        let auto = r#"["auto-delete"]"#;
        // 10 was enabled with auto-delete and is now disabled: deleted.
        let before = [
            rec("10", "enabled", false, auto),
            rec("11", "disabled", true, "[]"),
        ];
        let after = [
            rec("10", "disabled", false, auto),
            rec("11", "enabled", true, "[]"),
        ];
        let a = AutoDelete::after_change(&before, &after).unwrap();
        assert_eq!(a.delete, [after[0].clone()]);
        assert!(a.kept.is_empty());
        // The same with the Fallback Attribute on 10: kept and reported.
        let before = [
            rec("10", "enabled", true, auto),
            rec("11", "disabled", false, "[]"),
        ];
        let after = [
            rec("10", "disabled", true, auto),
            rec("11", "enabled", false, "[]"),
        ];
        let a = AutoDelete::after_change(&before, &after).unwrap();
        assert!(a.delete.is_empty());
        assert_eq!(a.kept, [aid("10")]);
        // No rule, or still enabled, or gone: nothing.
        let none = AutoDelete::after_change(&before, &[rec("10", "enabled", true, auto)]);
        assert_eq!(none.unwrap(), AutoDelete::default());
        let plain = [rec("10", "disabled", false, "[]")];
        assert_eq!(
            AutoDelete::after_change(&before, &plain).unwrap(),
            AutoDelete::default()
        );
        assert_eq!(
            AutoDelete::after_change(&before, &[]).unwrap(),
            AutoDelete::default()
        );
        // A POL2 the registry cannot read is an error, not a silent keep.
        let bad = [rec("10", "disabled", false, "{")];
        assert!(AutoDelete::after_change(&before, &bad).is_err());
    }

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
