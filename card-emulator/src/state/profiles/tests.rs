//! The profile rules on [`CardState`] directly (the ISD-R tests drive the same rules through
//! SCP03 and the APDUs).

use super::*;
use crate::isd_p::parse_iccid;
use smsr_proto::sgp02::codings::{
    NOTIFICATION_QUEUE_MAX, POL1_DELETE_NOT_ALLOWED, POL1_DELETE_WHEN_DISABLED,
    POL1_DISABLE_NOT_ALLOWED,
};

fn aid(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

fn iccid(n: u16) -> [u8; ICCID_LEN] {
    parse_iccid(&format!("894944000000000{n:04}")).unwrap()
}

fn lcs(state: &CardState, n: u16) -> u8 {
    state.registry().find(aid(n).as_bytes()).unwrap().life_cycle
}

/// A card with profiles in 10 (fallback, enabled) and 11 (disabled, POL1 as given).
fn two_profiles(pol1: u8) -> CardState {
    let mut st = CardState::new(None);
    st.install_test_profile(&aid(0x10), iccid(0x10), true, 0)
        .unwrap();
    st.install_test_profile(&aid(0x11), iccid(0x11), false, pol1)
        .unwrap();
    st.enable_profile(&aid(0x10)).unwrap();
    st.clear_reset_pending();
    st
}

#[test]
fn a_new_card_declares_itself() {
    let st = CardState::new(None);
    let n = st.notifications().oldest().unwrap();
    assert_eq!(
        (n.sequence, n.kind, n.isd_p.clone()),
        (1, NotificationType::EuiccDeclaration, None)
    );
}

#[test]
fn create_checks() {
    let mut st = CardState::new(None);
    st.create_isd_p(aid(0x10), IsdP::created(0x70, Some(1000), None))
        .unwrap();
    assert_eq!(lcs(&st, 0x10), life_cycle::SELECTABLE);
    let cases = [
        (aid(0x10), ProfileError::AidPresent(aid(0x10))),
        (Aid::ecasd(), ProfileError::NotIsdPAid(Aid::ecasd())),
    ];
    for (a, e) in cases {
        assert_eq!(st.create_isd_p(a, IsdP::created(0x70, None, None)), Err(e));
    }
    let free = st.free_non_volatile_memory();
    assert_eq!(free, NON_VOLATILE_MEMORY - 1000);
    assert_eq!(
        st.create_isd_p(aid(0x11), IsdP::created(0x70, Some(free + 1), None)),
        Err(ProfileError::Memory)
    );
    assert_eq!(
        st.create_isd_p(
            aid(0x11),
            IsdP::created(0x70, None, Some(VOLATILE_MEMORY + 1))
        ),
        Err(ProfileError::Memory)
    );
    for n in 0x11..0x10 + u16::try_from(ISD_P_MAX).unwrap() {
        st.create_isd_p(aid(n), IsdP::created(0x70, None, None))
            .unwrap();
    }
    let beyond = aid(0x10 + u16::try_from(ISD_P_MAX).unwrap());
    assert_eq!(
        st.create_isd_p(beyond, IsdP::created(0x70, None, None)),
        Err(ProfileError::Memory)
    );
    assert_eq!(
        ProfileError::Memory.status_word(),
        StatusWord::NotEnoughMemory
    );
}

#[test]
fn enable_disable_and_fallback() {
    let mut st = two_profiles(0);
    assert_eq!(lcs(&st, 0x10), life_cycle::ISD_P_ENABLED);
    // The fallback profile cannot be disabled, only replaced.
    assert_eq!(
        st.disable_profile(&aid(0x10)),
        Err(ProfileError::Fallback(aid(0x10)))
    );
    // Enabling 11 disables 10.
    let seq = st.enable_profile(&aid(0x11)).unwrap();
    assert_eq!(
        (lcs(&st, 0x10), lcs(&st, 0x11)),
        (life_cycle::ISD_P_DISABLED, life_cycle::ISD_P_ENABLED)
    );
    assert!(st.reset_pending());
    let n = st.notifications().pending().last().unwrap().clone();
    assert_eq!(n.sequence, seq);
    assert_eq!(n.kind, NotificationType::ProfileChangeSucceeded);
    assert_eq!((n.isd_p, n.disabled), (Some(aid(0x11)), Some(aid(0x10))));
    // Enabling the enabled one again, or one without a profile: 6985.
    let e = st.enable_profile(&aid(0x11)).unwrap_err();
    assert_eq!(e.status_word(), StatusWord::ConditionsOfUseNotSatisfied);
    st.create_isd_p(aid(0x12), IsdP::created(0x70, None, None))
        .unwrap();
    assert!(matches!(
        st.enable_profile(&aid(0x12)),
        Err(ProfileError::WrongState { .. })
    ));
    assert_eq!(
        st.enable_profile(&aid(0x99)),
        Err(ProfileError::UnknownIsdP(aid(0x99)))
    );
    // Disabling 11: the fallback takes over.
    st.disable_profile(&aid(0x11)).unwrap();
    assert_eq!(
        (lcs(&st, 0x10), lcs(&st, 0x11)),
        (life_cycle::ISD_P_ENABLED, life_cycle::ISD_P_DISABLED)
    );
    let n = st.notifications().pending().last().unwrap();
    assert_eq!(n.kind, NotificationType::ProfileChangeAfterFallback);
    assert_eq!(n.isd_p, Some(aid(0x10)));
    // Disabling a disabled profile: 6985.
    assert!(matches!(
        st.disable_profile(&aid(0x11)),
        Err(ProfileError::WrongState { .. })
    ));
    st.clear_reset_pending();
    assert!(!st.reset_pending());
}

#[test]
fn disable_without_fallback_is_refused() {
    let mut st = CardState::new(None);
    st.install_test_profile(&aid(0x10), iccid(0x10), false, 0)
        .unwrap();
    st.enable_profile(&aid(0x10)).unwrap();
    assert_eq!(
        st.disable_profile(&aid(0x10)),
        Err(ProfileError::NoFallback)
    );
    assert_eq!(
        ProfileError::NoFallback.status_word(),
        StatusWord::ConditionsOfUseNotSatisfied
    );
}

#[test]
fn set_fallback_moves_the_attribute() {
    let mut st = two_profiles(0);
    st.set_fallback_attribute(&aid(0x11)).unwrap();
    assert_eq!(st.registry().fallback_isd_p().unwrap().aid, aid(0x11));
    assert_eq!(
        st.registry()
            .isd_ps()
            .filter(|e| e.isd_p.as_ref().unwrap().is_fallback())
            .count(),
        1
    );
    st.create_isd_p(aid(0x12), IsdP::created(0x70, None, None))
        .unwrap();
    assert!(matches!(
        st.set_fallback_attribute(&aid(0x12)),
        Err(ProfileError::WrongState { .. })
    ));
    // 10 (enabled) lost the attribute: now it can be disabled, 11 takes over.
    st.disable_profile(&aid(0x10)).unwrap();
    assert_eq!(lcs(&st, 0x11), life_cycle::ISD_P_ENABLED);
}

#[test]
fn pol1_rules() {
    // Disabling not allowed: neither Disable nor Enable of another profile.
    let mut st = two_profiles(POL1_DISABLE_NOT_ALLOWED);
    st.enable_profile(&aid(0x11)).unwrap();
    assert_eq!(
        st.disable_profile(&aid(0x11)),
        Err(ProfileError::Pol1(aid(0x11)))
    );
    assert_eq!(
        st.enable_profile(&aid(0x10)),
        Err(ProfileError::Pol1(aid(0x11)))
    );
    assert_eq!(
        ProfileError::Pol1(aid(0x11)).status_word(),
        StatusWord::Pol1Refused
    );
    // Deletion not allowed.
    let mut st = two_profiles(POL1_DELETE_NOT_ALLOWED);
    assert_eq!(
        st.delete_isd_p(&aid(0x11)),
        Err(ProfileError::Pol1(aid(0x11)))
    );
    // Delete when disabled: on confirmation of the change that disabled it.
    let mut st = two_profiles(POL1_DELETE_WHEN_DISABLED);
    let enabled = st.enable_profile(&aid(0x11)).unwrap();
    assert_eq!(st.confirm_notification(enabled), Ok(vec![]));
    let disabled = st.disable_profile(&aid(0x11)).unwrap();
    assert_eq!(st.confirm_notification(disabled), Ok(vec![aid(0x11)]));
    assert!(st.registry().find(aid(0x11).as_bytes()).is_none());
    assert_eq!(
        st.confirm_notification(disabled),
        Err(ProfileError::UnknownNotification(disabled))
    );
}

#[test]
fn delete_rules() {
    let mut st = two_profiles(0);
    assert!(matches!(
        st.delete_isd_p(&aid(0x10)),
        Err(ProfileError::WrongState { .. })
    ));
    st.enable_profile(&aid(0x11)).unwrap();
    // 10 is disabled now but still the fallback.
    assert_eq!(
        st.delete_isd_p(&aid(0x10)),
        Err(ProfileError::Fallback(aid(0x10)))
    );
    assert_eq!(
        st.delete_isd_p(&Aid::ecasd()),
        Err(ProfileError::Platform(Aid::ecasd()))
    );
    st.set_fallback_attribute(&aid(0x11)).unwrap();
    st.delete_isd_p(&aid(0x10)).unwrap();
    assert_eq!(
        st.delete_isd_p(&aid(0x10)),
        Err(ProfileError::UnknownIsdP(aid(0x10)))
    );
    // The notification that disabled 10 no longer names it for deletion.
    assert!(st.notifications().pending().all(|n| n.disabled.is_none()));
}

#[test]
fn test_installer_rules() {
    let mut st = two_profiles(0);
    assert!(matches!(
        st.install_test_profile(&aid(0x11), iccid(1), false, 0),
        Err(ProfileError::WrongState { .. })
    ));
    assert_eq!(
        st.install_test_profile(&Aid::ecasd(), iccid(1), false, 0),
        Err(ProfileError::Platform(Aid::ecasd()))
    );
    st.install_test_profile(&aid(0x12), iccid(0x12), true, 0)
        .unwrap();
    assert_eq!(st.registry().fallback_isd_p().unwrap().aid, aid(0x12));
    assert_eq!(lcs(&st, 0x12), life_cycle::ISD_P_DISABLED);
}

#[test]
fn the_queue_keeps_the_newest() {
    let mut st = two_profiles(0);
    for _ in 0..NOTIFICATION_QUEUE_MAX {
        st.enable_profile(&aid(0x11)).unwrap();
        st.enable_profile(&aid(0x10)).unwrap();
    }
    assert_eq!(st.notifications().pending().count(), NOTIFICATION_QUEUE_MAX);
}

mod invariants {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Create(u16),
        Install(u16, bool, u8),
        Enable(u16),
        Disable(u16),
        Fallback(u16),
        Delete(u16),
        ConfirmOldest,
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        let n = 0x10u16..0x15;
        prop_oneof![
            n.clone().prop_map(Op::Create),
            (n.clone(), any::<bool>(), 0u8..8).prop_map(|(n, f, p)| Op::Install(n, f, p)),
            n.clone().prop_map(Op::Enable),
            n.clone().prop_map(Op::Disable),
            n.clone().prop_map(Op::Fallback),
            n.prop_map(Op::Delete),
            Just(Op::ConfirmOldest),
            Just(Op::Reset),
        ]
    }

    proptest! {
        /// Whatever the SM-SR sends: at most one ISD-P enabled, at most one fallback, a
        /// profile exactly in the DISABLED/ENABLED states, a refused function changes nothing,
        /// and the state survives its file.
        #[test]
        fn profile_rules_keep_the_card_consistent(ops in proptest::collection::vec(op(), 1..40)) {
            let mut st = CardState::new(None);
            for op in ops {
                let before = st.clone();
                let result = match op {
                    Op::Create(n) => st.create_isd_p(aid(n), IsdP::created(0x70, None, None)),
                    Op::Install(n, f, p) => st.install_test_profile(&aid(n), iccid(n), f, p),
                    Op::Enable(n) => st.enable_profile(&aid(n)).map(|_| ()),
                    Op::Disable(n) => st.disable_profile(&aid(n)).map(|_| ()),
                    Op::Fallback(n) => st.set_fallback_attribute(&aid(n)),
                    Op::Delete(n) => st.delete_isd_p(&aid(n)),
                    Op::ConfirmOldest => match st.notifications().oldest().map(|n| n.sequence) {
                        Some(seq) => st.confirm_notification(seq).map(|_| ()),
                        None => Ok(()),
                    },
                    Op::Reset => {
                        st.clear_reset_pending();
                        Ok(())
                    }
                };
                if result.is_err() {
                    prop_assert_eq!(&st, &before);
                }
                let r = st.registry();
                prop_assert!(r.isd_ps().filter(|e| e.life_cycle == life_cycle::ISD_P_ENABLED).count() <= 1);
                prop_assert!(r.isd_ps().filter(|e| e.isd_p.as_ref().unwrap().is_fallback()).count() <= 1);
                let back = CardState::from_json(&st.to_json());
                prop_assert!(back.is_ok(), "{:?}", back.err());
                prop_assert_eq!(back.unwrap(), st.clone());
            }
        }
    }
}
