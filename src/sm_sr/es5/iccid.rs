//! One ICCID, one profile on a card: CreateISDP for a profile whose ICCID the card already
//! holds is refused before anything is sent (SGP.02 reason code 3.3 "already in use"),
//! [`Es5Error::IccidInUse`].
//!
//! The registry says which ISD-P holds a profile: one in state `disabled` or `enabled`, or one
//! with a download pending (the card may have the profile, whatever the state recorded). ISD-Ps
//! left half-provisioned (`creating`, `created`, `personalized`, no download pending) hold no
//! profile: the provisioning flow deletes those of its ICCID before it creates a new one
//! ([`crate::sm_dp::provision`]).

use super::Es5Error;
use crate::sm_sr::registry::{IsdpRecord, Registry};
use smsr_proto::gp::get_data::Eid;

/// The ISD-P among `isdps` that holds the profile `iccid`, if one does.
pub fn iccid_holder<'a>(isdps: &'a [IsdpRecord], iccid: &str) -> Option<&'a IsdpRecord> {
    isdps.iter().find(|r| {
        r.iccid
            .as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case(iccid))
            && (r.state.holds_profile() || r.pending.as_deref() == Some("download"))
    })
}

/// Refuses `iccid` if the registry has it on the card `eid` in an ISD-P holding a profile
/// ([`iccid_holder`]): [`Es5Error::IccidInUse`] naming that ISD-P.
pub fn check_iccid_free(registry: &Registry, eid: &Eid, iccid: &str) -> Result<(), Es5Error> {
    match iccid_holder(&registry.isdps(eid)?, iccid) {
        Some(r) => Err(Es5Error::IccidInUse {
            eid: *eid,
            iccid: iccid.to_owned(),
            aid: r.aid.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ICCID: &str = "89882800000000000011";
    const EID: &str = "89001999000010000000000000000022";

    fn rec(n: u8, iccid: Option<&str>, state: &str, pending: Option<&str>) -> IsdpRecord {
        IsdpRecord {
            aid: format!("A0000005591010FFFFFFFF890000{n:02X}00")
                .parse()
                .unwrap(),
            iccid: iccid.map(str::to_owned),
            state: state.parse().unwrap(),
            fallback: false,
            pol2: "[]".into(),
            memory: None,
            pending: pending.map(str::to_owned),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_profile_holds_its_iccid_a_leftover_does_not() {
        for (state, pending, held) in [
            ("disabled", None, true),
            ("enabled", None, true),
            ("enabled", Some("disable"), true),
            ("personalized", Some("download"), true),
            ("created", Some("download"), true),
            ("creating", Some("create"), false),
            ("created", None, false),
            ("personalized", None, false),
            ("created", Some("establish-keys"), false),
        ] {
            let isdps = [rec(0x10, Some(ICCID), state, pending)];
            assert_eq!(
                iccid_holder(&isdps, ICCID).is_some(),
                held,
                "{state} {pending:?}"
            );
        }
        // Another ICCID, or none, is not this one.
        let isdps = [
            rec(0x10, Some("89882800000000000029"), "enabled", None),
            rec(0x11, None, "disabled", None),
            rec(0x12, Some(ICCID), "created", None),
            rec(0x13, Some(ICCID), "disabled", None),
        ];
        assert_eq!(iccid_holder(&isdps, ICCID).unwrap().aid, isdps[3].aid);
        assert!(iccid_holder(&isdps[..3], ICCID).is_none());
    }

    #[test]
    fn the_refusal_names_the_isdp_and_the_fixes() {
        let e = Es5Error::IccidInUse {
            eid: EID.parse().unwrap(),
            iccid: ICCID.into(),
            aid: "A0000005591010FFFFFFFF8900001000".parse().unwrap(),
        };
        let text = e.to_string();
        for part in [
            ICCID,
            "A0000005591010FFFFFFFF8900001000",
            "nothing was sent",
            "smsr profile delete",
            "smsr audit",
        ] {
            assert!(text.contains(part), "no {part:?} in {text}");
        }
    }
}
