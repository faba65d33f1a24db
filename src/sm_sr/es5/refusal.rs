//! Why the ISD-R refused a profile function, told from the SM-SR's registry.
//!
//! The ISD-R answers the same status word, `6985` (conditions of use not satisfied), to every
//! refusal that comes from the profiles' states (SGP.02 §4.1.1 and the fact file's status-word
//! list; [`smsr_proto::sgp02::codings::SW_PROFILE_STATE`] and
//! [`smsr_proto::sgp02::codings::SW_FALLBACK`] are the same word): enabling a profile that is
//! not disabled, disabling one that is not enabled or that has the Fallback Attribute, disabling
//! when no profile has the Fallback Attribute to take over, deleting the enabled profile or the
//! fallback profile. The SM-SR knows the ISD-Ps' states and the Fallback Attribute from its
//! registry, so it names the rule the card most likely applied, and what to do about it.
//!
//! The explanation is the registry's reading, not the card's word: the registry may be out of
//! date (a change made elsewhere), so every explanation ends by pointing at `smsr audit`.

use super::ProfileChange;
use crate::sm_sr::isdp::IsdpState;
use crate::sm_sr::registry::IsdpRecord;
use smsr_proto::sgp02::codings::{SW_FALLBACK, SW_PROFILE_STATE};
use smsr_proto::StatusWord;

/// The hint for a refusal with `sw` of `change` (`None`: DeleteProfile) on `target`, given
/// the card's ISD-Ps as the registry knew them before the command (`known`). `None` when the
/// status word is not a state refusal or the registry sees no rule broken.
pub fn explain(
    sw: StatusWord,
    change: Option<ProfileChange>,
    target: &IsdpRecord,
    known: &[IsdpRecord],
) -> Option<String> {
    if sw != SW_PROFILE_STATE && sw != SW_FALLBACK {
        return None;
    }
    let aid = &target.aid;
    let state = target.state;
    let enabled = state == IsdpState::Enabled;
    let reason = match change {
        Some(ProfileChange::Disable) if !enabled => {
            format!("ISD-P {aid} is {state}: only the enabled profile can be disabled")
        }
        Some(ProfileChange::Disable) if target.fallback => format!(
            "ISD-P {aid} holds the profile with the Fallback Attribute, which SGP.02 does not \
             let be disabled: enable another profile instead, or first give the attribute to \
             another profile (`smsr profile set-fallback`)"
        ),
        Some(ProfileChange::Disable) if !known.iter().any(|r| r.fallback) => format!(
            "no profile has the Fallback Attribute, so none can be enabled in place of ISD-P \
             {aid}: give the attribute to a profile first (`smsr profile set-fallback`), or \
             enable another profile instead"
        ),
        None if enabled || target.fallback => {
            let mut why = Vec::new();
            if enabled {
                why.push("holds the enabled profile (enable another profile first)");
            }
            if target.fallback {
                why.push(
                    "holds the profile with the Fallback Attribute, which SGP.02 does not let \
                     be deleted (first give the attribute to another profile: `smsr profile \
                     set-fallback`)",
                );
            }
            format!("ISD-P {aid} {}", why.join(" and "))
        }
        Some(ProfileChange::Enable) if enabled => {
            format!("ISD-P {aid} is enabled already")
        }
        Some(ProfileChange::Enable | ProfileChange::SetFallback) if !state.holds_profile() => {
            format!("ISD-P {aid} holds no profile ({state})")
        }
        _ => return None,
    };
    Some(format!(
        "; {reason} (the registry's view: `smsr audit` shows the card's)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "A0000005591010FFFFFFFF8900001000";
    const B: &str = "A0000005591010FFFFFFFF8900001100";

    fn rec(aid: &str, state: &str, fallback: bool) -> IsdpRecord {
        IsdpRecord {
            aid: aid.parse().unwrap(),
            iccid: None,
            state: state.parse().unwrap(),
            fallback,
            pol2: "[]".into(),
            memory: None,
            pending: None,
            updated_at: String::new(),
        }
    }

    fn why(change: Option<ProfileChange>, target: &IsdpRecord, known: &[IsdpRecord]) -> String {
        explain(SW_PROFILE_STATE, change, target, known).unwrap_or_default()
    }

    #[test]
    fn the_fallback_profile_is_named_for_disable_and_delete() {
        let known = [rec(A, "disabled", false), rec(B, "enabled", true)];
        for change in [Some(ProfileChange::Disable), None] {
            let text = why(change, &known[1], &known);
            assert!(
                text.contains(B) && text.contains("Fallback Attribute"),
                "{text}"
            );
            assert!(text.contains("set-fallback") && text.contains("smsr audit"));
        }
        // Disabled, but still the fallback: deletion is refused for that reason.
        let known = [rec(A, "enabled", false), rec(B, "disabled", true)];
        assert!(why(None, &known[1], &known).contains("Fallback Attribute"));
    }

    #[test]
    fn the_state_is_named_when_it_is_the_reason() {
        let known = [rec(A, "enabled", false), rec(B, "disabled", true)];
        // The state comes first: a disabled profile cannot be disabled, fallback or not.
        let text = why(Some(ProfileChange::Disable), &known[1], &known);
        assert!(
            text.contains("is disabled") && !text.contains("Fallback"),
            "{text}"
        );
        let text = why(None, &known[0], &known);
        assert!(
            text.contains("enabled profile") && !text.contains("Fallback"),
            "{text}"
        );
        // Both reasons at once for the enabled fallback profile.
        let both = rec(A, "enabled", true);
        let text = why(None, &both, std::slice::from_ref(&both));
        assert!(
            text.contains("enabled profile") && text.contains("Fallback"),
            "{text}"
        );
        assert!(why(Some(ProfileChange::Enable), &known[0], &known).contains("enabled already"));
        let created = rec(B, "created", false);
        for change in [ProfileChange::Enable, ProfileChange::SetFallback] {
            assert!(
                why(Some(change), &created, std::slice::from_ref(&created)).contains("no profile")
            );
        }
    }

    #[test]
    fn disable_without_any_fallback_profile() {
        let known = [rec(A, "enabled", false), rec(B, "disabled", false)];
        let text = why(Some(ProfileChange::Disable), &known[0], &known);
        assert!(
            text.contains("no profile has the Fallback Attribute"),
            "{text}"
        );
    }

    #[test]
    fn nothing_to_say_for_other_words_or_unbroken_rules() {
        let known = [rec(A, "enabled", false), rec(B, "disabled", true)];
        // POL1 has its own status word and hint.
        let pol1 = StatusWord::Pol1Refused;
        assert_eq!(
            explain(pol1, Some(ProfileChange::Disable), &known[1], &known),
            None
        );
        // The registry sees nothing wrong with deleting a disabled, non-fallback profile.
        let known = [rec(A, "enabled", true), rec(B, "disabled", false)];
        assert_eq!(explain(SW_PROFILE_STATE, None, &known[1], &known), None);
    }
}
