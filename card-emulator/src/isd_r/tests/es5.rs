//! SGP.02 ES5 on the ISD-R, driven through SCP03 by smsr-proto's host side with the very
//! commands the SM-SR builds (`Install::create_isd_p`, `Es5Command`, `Delete::object`); the
//! plain C-APDUs are also pinned as hex, so the host can be written against them.

use super::*;
use crate::isd_p::parse_iccid;
use smsr_proto::gp::install::ForInstall;
use smsr_proto::gp::{Install, Privileges};
use smsr_proto::sgp02::codings::{
    ISD_P_MAX, POL1_DELETE_NOT_ALLOWED, POL1_DELETE_WHEN_DISABLED, POL1_DISABLE_NOT_ALLOWED,
};
use smsr_proto::sgp02::{
    parse_confirmation_response, Es5Command, Notification, NotificationType, ProfileAttributes,
};

/// Plain C-APDUs (before SCP03 wrapping: the session sets CLA `84` and appends the C-MAC).
const CREATE_ISD_P_10: &str = "80E60C003F10A0000005591010FFFFFFFF8900000D0010A0000005591010FFFFFFFF8900000E0010A0000005591010FFFFFFFF890000100003 80C000 06C90481020370 00 00";
const ENABLE_11: &str = "80E2880015 3A0312 4F10A0000005591010FFFFFFFF8900001100";
const DISABLE_11: &str = "80E2880015 3A0412 4F10A0000005591010FFFFFFFF8900001100";
const READ_NOTIFICATION: &str = "80CA00E100";
const CONFIRM_0002: &str = "80E2890007 3A0804 4E020002 00";
const DELETE_11: &str = "80E4000012 4F10A0000005591010FFFFFFFF8900001100 00";

/// whty's CreateISDP unit test APDU (SGP02.md §2.1): AID `…1300`, no Le.
const WHTY_CREATE: &str = "80E60C003F10A0000005591010FFFFFFFF8900000D0010A0000005591010FFFFFFFF8900000E0010A0000005591010FFFFFFFF890000130003 80C000 06C90481020370 00";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// A C-APDU from hex with spaces.
fn apdu(s: &str) -> CommandApdu {
    CommandApdu::parse(&h(s)).unwrap()
}

fn aid(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

fn iccid(n: u16) -> [u8; 10] {
    parse_iccid(&format!("894944000000000{n:04}")).unwrap()
}

/// Profiles in 10 (fallback, enabled, changes applied) and 11 (disabled, `pol1`); the
/// declaration notification confirmed, so the queue is empty.
fn card_with_profiles(pol1: u8) -> Card {
    let mut st = state();
    st.install_test_profile(&aid(0x10), iccid(0x10), true, 0)
        .unwrap();
    st.install_test_profile(&aid(0x11), iccid(0x11), false, pol1)
        .unwrap();
    st.enable_profile(&aid(0x10)).unwrap();
    let pending: Vec<u16> = st.notifications().pending().map(|n| n.sequence).collect();
    for seq in pending {
        st.confirm_notification(seq).unwrap();
    }
    // Card::new is a power-on: the pending enable is applied.
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    c
}

fn es5(c: &mut Card, s: &mut Established, f: Es5Command) -> ResponseApdu {
    send(c, s, f.to_apdu().unwrap())
}

/// Life cycle and attributes of an ISD-P as GET STATUS reports them.
fn status_of(c: &mut Card, s: &mut Established, n: u16) -> Option<(u8, ProfileAttributes)> {
    let gs = GetStatus {
        aid_prefix: aid(n).as_bytes().to_vec(),
        ..get_status(StatusScope::Applications, ResponseFormat::Tlv)
    };
    let r = send(c, s, gs.to_apdu().unwrap());
    if r.sw == StatusWord::ReferencedDataNotFound {
        return None;
    }
    let entries = gs.parse_response(&r.into_success().unwrap()).unwrap();
    let [entry] = entries.as_slice() else {
        panic!("one entry expected: {entries:?}");
    };
    assert_eq!(entry.privileges, Some(Privileges::ISD_P));
    assert_eq!(entry.associated_sd, Some(Aid::isd_r()));
    Some((
        entry.life_cycle,
        ProfileAttributes::from_entry(entry).unwrap().unwrap(),
    ))
}

fn read_notification(c: &mut Card, s: &mut Established) -> Option<Notification> {
    let r = send(c, s, apdu(READ_NOTIFICATION));
    if r.sw == StatusWord::ReferencedDataNotFound {
        return None;
    }
    Some(Notification::parse(&r.into_success().unwrap()).unwrap())
}

fn attrs(fallback: bool, pending_reset: bool) -> ProfileAttributes {
    ProfileAttributes {
        fallback,
        pending_reset,
        other: 0,
    }
}

#[test]
fn the_pinned_apdus_are_what_smsr_proto_builds() {
    let create = Install::create_isd_p(aid(0x10), None).to_apdu().unwrap();
    assert_eq!(create.to_bytes().unwrap(), h(CREATE_ISD_P_10));
    let enable = Es5Command::EnableProfile(aid(0x11)).to_apdu().unwrap();
    assert_eq!(enable.to_bytes().unwrap(), h(ENABLE_11));
    let disable = Es5Command::DisableProfile(aid(0x11)).to_apdu().unwrap();
    assert_eq!(disable.to_bytes().unwrap(), h(DISABLE_11));
    let confirm = Es5Command::NotificationConfirmation(2).to_apdu().unwrap();
    assert_eq!(confirm.to_bytes().unwrap(), h(CONFIRM_0002));
    let delete = Delete::object(aid(0x11)).to_apdu().unwrap();
    assert_eq!(delete.to_bytes().unwrap(), h(DELETE_11));
    let read = GetData::new(0x00E1).to_apdu().unwrap();
    assert_eq!(read.to_bytes().unwrap(), h(READ_NOTIFICATION));
}

#[test]
fn create_isd_p_as_smsr_and_whty_send_it() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMacRMac);
    let r = send(&mut c, &mut s, apdu(CREATE_ISD_P_10));
    assert_eq!(r.into_success().unwrap(), vec![0x00]);
    assert_eq!(
        status_of(&mut c, &mut s, 0x10),
        Some((life_cycle::SELECTABLE, attrs(false, false)))
    );
    // With a non-volatile quota (EF { C8 }), at the highest level.
    let mut s = open(&mut c, SecurityLevel::CDecREncCMacRMac);
    let cmd = Install::create_isd_p(aid(0x11), Some(100_000))
        .to_apdu()
        .unwrap();
    assert_eq!(send(&mut c, &mut s, cmd).into_success().unwrap(), vec![0]);
    let (_, data) = c.state().registry().isd_p(aid(0x11).as_bytes()).unwrap();
    assert_eq!(
        (data.scp03_i, data.non_volatile_quota, data.volatile_quota),
        (0x70, Some(100_000), None)
    );
    // whty's public APDU, without Le.
    let r = send(&mut c, &mut s, apdu(WHTY_CREATE));
    assert_eq!(r.into_success().unwrap(), vec![0x00]);
    assert!(c.state().registry().isd_p(aid(0x13).as_bytes()).is_some());
    // FF21 shows the quota taken.
    let r = send(
        &mut c,
        &mut s,
        GetData::new(tags::EXTENDED_CARD_RESOURCES)
            .to_apdu()
            .unwrap(),
    );
    let res = ExtendedCardResources::parse(&r.into_success().unwrap()).unwrap();
    assert_eq!(
        res.free_non_volatile_memory,
        Some(crate::state::NON_VOLATILE_MEMORY - 100_000)
    );
    // Without a session, or with a session but no C-MAC: 6982.
    let mut c = card();
    let r = c.handle(&apdu(CREATE_ISD_P_10));
    assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
    let mut s = open(&mut c, SecurityLevel::NoSecureMessaging);
    let r = send(&mut c, &mut s, apdu(CREATE_ISD_P_10));
    assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
    assert!(c.state().registry().isd_p(aid(0x10).as_bytes()).is_none());
}

/// CreateISDP for `aid(0x20)` with one field changed.
fn create_with(change: impl FnOnce(&mut ForInstall)) -> CommandApdu {
    let Install::ForInstall { mut data, .. } = Install::create_isd_p(aid(0x20), None) else {
        unreachable!()
    };
    change(&mut data);
    Install::ForInstall {
        data,
        make_selectable: true,
    }
    .to_apdu()
    .unwrap()
}

#[test]
fn create_isd_p_errors() {
    let params = |p: &str| {
        let bytes = h(p);
        move |d: &mut ForInstall| d.parameters = bytes
    };
    let cases: Vec<(CommandApdu, StatusWord, &str)> = vec![
        (
            create_with(|d| d.load_file = Some(Aid::ecasd())),
            StatusWord::ReferencedDataNotFound,
            "load file",
        ),
        (
            create_with(|d| d.module = Some(Aid::isd_p_load_file())),
            StatusWord::ReferencedDataNotFound,
            "module",
        ),
        (
            create_with(|d| d.application = Aid::ecasd()),
            StatusWord::IncorrectData,
            "not an ISD-P AID",
        ),
        (
            create_with(|d| d.application = Aid::new(&h("A0000005591010FFFFFFFF8900000F00")).unwrap()),
            StatusWord::IncorrectData,
            "ISD-P number below 0010",
        ),
        (
            create_with(|d| d.privileges = Privileges::new([0x80, 0x80, 0x00])),
            StatusWord::IncorrectData,
            "privileges",
        ),
        (
            create_with(params("C9048102027 0".replace(' ', "").as_str())),
            StatusWord::IncorrectData,
            "SCP02",
        ),
        (
            create_with(params("C904810203FF")),
            StatusWord::IncorrectData,
            "reserved i bits",
        ),
        (
            create_with(params("C900")),
            StatusWord::IncorrectData,
            "no SCP parameter",
        ),
        (
            create_with(params("C9078102037082010 0".replace(' ', "").as_str())),
            StatusWord::IncorrectData,
            "another object in C9",
        ),
        (
            create_with(params("C90481020370 EF04C6020100")),
            StatusWord::IncorrectData,
            "code minimum in EF",
        ),
        (
            create_with(params("C90481020370 EF08C8020100C8020200")),
            StatusWord::IncorrectData,
            "quota twice",
        ),
        (
            create_with(params("C90481020370 EA00")),
            StatusWord::IncorrectData,
            "UICC template",
        ),
        (
            create_with(params("C90481020370 EF04C8020100 83020100")),
            StatusWord::IncorrectData,
            "njiwa's 83 memory object outside EF",
        ),
        (
            create_with(|d| d.token = vec![0xAA; 8]),
            StatusWord::IncorrectData,
            "token",
        ),
        (
            create_with(params("C90481020370 EF06C80400100000")),
            StatusWord::NotEnoughMemory,
            "1 MiB quota",
        ),
        (
            create_with(params("C90481020370 EF04C7027FFF")),
            StatusWord::NotEnoughMemory,
            "32 KiB volatile quota",
        ),
        (
            Install::create_isd_p(aid(0x10), None).to_apdu().unwrap(),
            StatusWord::IncorrectData,
            "AID present",
        ),
        (
            apdu("80E604003F10A0000005591010FFFFFFFF8900000D0010A0000005591010FFFFFFFF8900000E0010A0000005591010FFFFFFFF89000020000380C00006C9048102037000"),
            StatusWord::FunctionNotSupported,
            "install without make selectable",
        ),
        (
            // ES8 key establishment (isd_r/es8.rs): this card's ECASD has no key.
            apdu("80E62000160000 10A0000005591010FFFFFFFF8900001000 000000"),
            StatusWord::ConditionsOfUseNotSatisfied,
            "install for personalization",
        ),
        (
            apdu("80E68C0000"),
            StatusWord::IncorrectP1P2,
            "chained",
        ),
        (
            apdu("80E60C0003010203"),
            StatusWord::IncorrectData,
            "truncated data",
        ),
    ];
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert!(send(&mut c, &mut s, apdu(CREATE_ISD_P_10))
        .into_success()
        .is_ok());
    let before = c.state().clone();
    for (cmd, sw, what) in cases {
        assert_eq!(send(&mut c, &mut s, cmd).sw, sw, "{what}");
        assert!(!s.is_terminated(), "{what}");
    }
    assert_eq!(c.state(), &before, "no refused command changed the card");
}

#[test]
fn create_beyond_isd_p_max_is_6a84() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMac);
    let max = u16::try_from(ISD_P_MAX).unwrap();
    for n in 0x10..0x10 + max {
        let cmd = Install::create_isd_p(aid(n), None).to_apdu().unwrap();
        assert!(send(&mut c, &mut s, cmd).into_success().is_ok(), "{n:04X}");
    }
    let cmd = Install::create_isd_p(aid(0x10 + max), None)
        .to_apdu()
        .unwrap();
    assert_eq!(send(&mut c, &mut s, cmd).sw, StatusWord::NotEnoughMemory);
    // Deleting one makes room again.
    let r = send(&mut c, &mut s, Delete::object(aid(0x10)).to_apdu().unwrap());
    assert!(r.into_success().is_ok());
    let cmd = Install::create_isd_p(aid(0x10 + max), None)
        .to_apdu()
        .unwrap();
    assert!(send(&mut c, &mut s, cmd).into_success().is_ok());
}

#[test]
fn enable_disable_fallback_and_notifications() {
    let mut c = card_with_profiles(0);
    let mut s = open(&mut c, SecurityLevel::CMacRMac);
    assert_eq!(read_notification(&mut c, &mut s), None);
    assert_eq!(
        status_of(&mut c, &mut s, 0x10),
        Some((life_cycle::ISD_P_ENABLED, attrs(true, false)))
    );
    assert_eq!(
        status_of(&mut c, &mut s, 0x11),
        Some((life_cycle::ISD_P_DISABLED, attrs(false, false)))
    );
    // The fallback profile cannot be disabled.
    let r = es5(&mut c, &mut s, Es5Command::DisableProfile(aid(0x10)));
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    // Enabling 11 disables 10: 9000 without data, both pending until reset.
    let r = send(&mut c, &mut s, apdu(ENABLE_11));
    assert_eq!(r.into_success().unwrap(), Vec::<u8>::new());
    assert_eq!(
        status_of(&mut c, &mut s, 0x10),
        Some((life_cycle::ISD_P_DISABLED, attrs(true, true)))
    );
    assert_eq!(
        status_of(&mut c, &mut s, 0x11),
        Some((life_cycle::ISD_P_ENABLED, attrs(false, true)))
    );
    let n = read_notification(&mut c, &mut s).unwrap();
    assert_eq!(n.eid.to_vec(), h(EID));
    assert_eq!(n.kind, NotificationType::ProfileChangeSucceeded);
    assert_eq!(n.isd_p, Some(aid(0x11)));
    // Enabling it again, or an unknown ISD-P, or a created one without profile.
    let r = send(&mut c, &mut s, apdu(ENABLE_11));
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    let r = es5(&mut c, &mut s, Es5Command::EnableProfile(aid(0x30)));
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    let r = es5(&mut c, &mut s, Es5Command::EnableProfile(Aid::ecasd()));
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    assert!(send(
        &mut c,
        &mut s,
        apdu(CREATE_ISD_P_10.replace("8900001000", "8900001200").as_str())
    )
    .into_success()
    .is_ok());
    let r = es5(&mut c, &mut s, Es5Command::EnableProfile(aid(0x12)));
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    // Disabling 11: the fallback profile takes over.
    let r = send(&mut c, &mut s, apdu(DISABLE_11));
    assert_eq!(r.into_success().unwrap(), Vec::<u8>::new());
    assert_eq!(
        status_of(&mut c, &mut s, 0x10).unwrap().0,
        life_cycle::ISD_P_ENABLED
    );
    assert_eq!(
        status_of(&mut c, &mut s, 0x11).unwrap().0,
        life_cycle::ISD_P_DISABLED
    );
    // The oldest unconfirmed comes first, until confirmed; then the next one.
    let first = read_notification(&mut c, &mut s).unwrap();
    assert_eq!(first, n);
    // 0001 (declaration) and 0002 (enabling 10) were confirmed when the card was made.
    assert_eq!(first.sequence, 3);
    let confirm = Es5Command::NotificationConfirmation(3);
    let r = es5(&mut c, &mut s, confirm.clone());
    assert_eq!(r.into_success().unwrap(), h("8000"));
    let second = read_notification(&mut c, &mut s).unwrap();
    assert_eq!(second.kind, NotificationType::ProfileChangeAfterFallback);
    assert_eq!((second.sequence, second.isd_p), (4, Some(aid(0x10))));
    // Confirming twice, or with P1 88 (no response data): processed, nothing returned.
    let r = es5(&mut c, &mut s, confirm);
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    let quiet = StoreData::new(
        Es5Command::NotificationConfirmation(4)
            .dgi()
            .to_bytes()
            .unwrap(),
    )
    .dgi();
    let r = send(&mut c, &mut s, quiet.to_apdu().unwrap());
    assert_eq!(r.into_success().unwrap(), Vec::<u8>::new());
    assert_eq!(read_notification(&mut c, &mut s), None);
    // SetFallbackAttribute moves the attribute to 11.
    let r = es5(&mut c, &mut s, Es5Command::SetFallbackAttribute(aid(0x11)));
    assert!(r.into_success().is_ok());
    assert!(status_of(&mut c, &mut s, 0x11).unwrap().1.fallback);
    assert!(!status_of(&mut c, &mut s, 0x10).unwrap().1.fallback);
    let r = es5(&mut c, &mut s, Es5Command::SetFallbackAttribute(aid(0x12)));
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    assert!(!s.is_terminated());
}

#[test]
fn es5_dgis_must_come_alone_and_well_formed() {
    let mut c = card_with_profiles(0);
    let mut s = open(&mut c, SecurityLevel::CMac);
    let enable = Es5Command::EnableProfile(aid(0x11)).dgi();
    let both = Dgi::encode_all(&[Dgi::new(0x0070, h("4201AA")), enable.clone()]).unwrap();
    let r = send(
        &mut c,
        &mut s,
        StoreData::new(both).dgi().to_apdu().unwrap(),
    );
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let bad = Dgi::new(0x3A03, h("4F03A00000")).to_bytes().unwrap();
    let r = send(&mut c, &mut s, StoreData::new(bad).dgi().to_apdu().unwrap());
    assert_eq!(r.sw, StatusWord::IncorrectData);
    // In two blocks it still works.
    let whole = StoreData::new(enable.to_bytes().unwrap()).dgi();
    for block in whole.split(10).unwrap() {
        let r = send(&mut c, &mut s, block.to_apdu().unwrap());
        assert!(r.into_success().is_ok());
    }
    assert_eq!(c.state().registry().enabled_isd_p().unwrap().aid, aid(0x11));
    assert!(
        c.state().personalization().is_empty(),
        "ES5 DGIs are not stored"
    );
}

#[test]
fn pol1_rules_give_69e1() {
    // Disabling not allowed: once 11 is enabled, neither disable nor enabling 10.
    let mut c = card_with_profiles(POL1_DISABLE_NOT_ALLOWED);
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert!(send(&mut c, &mut s, apdu(ENABLE_11)).into_success().is_ok());
    assert_eq!(
        send(&mut c, &mut s, apdu(DISABLE_11)).sw,
        StatusWord::Pol1Refused
    );
    let r = es5(&mut c, &mut s, Es5Command::EnableProfile(aid(0x10)));
    assert_eq!(r.sw, StatusWord::Pol1Refused);
    // Deletion not allowed.
    let mut c = card_with_profiles(POL1_DELETE_NOT_ALLOWED);
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert_eq!(
        send(&mut c, &mut s, apdu(DELETE_11)).sw,
        StatusWord::Pol1Refused
    );
    assert!(c.state().registry().isd_p(aid(0x11).as_bytes()).is_some());
}

#[test]
fn pol1_delete_when_disabled_happens_on_confirmation() {
    let mut c = card_with_profiles(POL1_DELETE_WHEN_DISABLED);
    let mut s = open(&mut c, SecurityLevel::CMacRMac);
    assert!(send(&mut c, &mut s, apdu(ENABLE_11)).into_success().is_ok());
    let enabled = read_notification(&mut c, &mut s).unwrap();
    let r = es5(
        &mut c,
        &mut s,
        Es5Command::NotificationConfirmation(enabled.sequence),
    );
    assert_eq!(
        parse_confirmation_response(&r.into_success().unwrap()).unwrap(),
        vec![]
    );
    assert!(send(&mut c, &mut s, apdu(DISABLE_11))
        .into_success()
        .is_ok());
    let disabled = read_notification(&mut c, &mut s).unwrap();
    // Still there until the SM-SR confirms.
    assert!(status_of(&mut c, &mut s, 0x11).is_some());
    let r = es5(
        &mut c,
        &mut s,
        Es5Command::NotificationConfirmation(disabled.sequence),
    );
    let data = r.into_success().unwrap();
    assert_eq!(data, h("8012 4F10A0000005591010FFFFFFFF8900001100"));
    assert_eq!(parse_confirmation_response(&data).unwrap(), vec![aid(0x11)]);
    assert_eq!(status_of(&mut c, &mut s, 0x11), None);
}

#[test]
fn delete_rules() {
    let mut c = card_with_profiles(0);
    let mut s = open(&mut c, SecurityLevel::CMac);
    // Enabled (and fallback) 10: 6985; after enabling 11, 10 is disabled but still fallback.
    let del = |n: u16| Delete::object(aid(n)).to_apdu().unwrap();
    assert_eq!(
        send(&mut c, &mut s, del(0x10)).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    assert!(send(&mut c, &mut s, apdu(ENABLE_11)).into_success().is_ok());
    assert_eq!(
        send(&mut c, &mut s, del(0x10)).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    assert_eq!(
        send(&mut c, &mut s, apdu(DELETE_11)).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    // Fallback moved to 11 (enabled): 10 can go, with P2 00 or 80.
    assert!(
        es5(&mut c, &mut s, Es5Command::SetFallbackAttribute(aid(0x11)))
            .into_success()
            .is_ok()
    );
    let r = send(
        &mut c,
        &mut s,
        Delete::object_and_related(aid(0x10)).to_apdu().unwrap(),
    );
    assert_eq!(r.into_success().unwrap(), vec![0x00]);
    assert_eq!(
        send(&mut c, &mut s, del(0x10)).sw,
        StatusWord::ReferencedDataNotFound
    );
    // A created ISD-P without profile can go too; njiwa's P2 40 is "delete object".
    assert!(send(&mut c, &mut s, apdu(CREATE_ISD_P_10))
        .into_success()
        .is_ok());
    let njiwa = apdu("80E4004012 4F10A0000005591010FFFFFFFF8900001000 00");
    assert_eq!(
        send(&mut c, &mut s, njiwa).into_success().unwrap(),
        vec![0x00]
    );
    assert!(c.state().registry().isd_p(aid(0x10).as_bytes()).is_none());
}

#[test]
fn notifications_need_the_secure_channel() {
    let mut c = card();
    assert_eq!(
        c.handle(&apdu(READ_NOTIFICATION)).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    let mut s = open(&mut c, SecurityLevel::NoSecureMessaging);
    assert_eq!(
        send(&mut c, &mut s, apdu(READ_NOTIFICATION)).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    // A new card declares itself.
    let mut s = open(&mut c, SecurityLevel::CMac);
    let n = read_notification(&mut c, &mut s).unwrap();
    assert_eq!(
        (n.kind, n.sequence, n.isd_p),
        (NotificationType::EuiccDeclaration, 1, None)
    );
    // With the ISO class the value alone comes back.
    let r = send(&mut c, &mut s, apdu("00CA00E100"));
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(r.data[0], 0x4C);
}

#[test]
fn reset_applies_pending_changes() {
    let mut c = card_with_profiles(0);
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert!(send(&mut c, &mut s, apdu(ENABLE_11)).into_success().is_ok());
    assert!(c.state().reset_pending());
    c.take_dirty();
    c.reset();
    assert!(!c.state().reset_pending());
    assert!(c.take_dirty(), "the cleared flags must be persisted");
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert_eq!(
        status_of(&mut c, &mut s, 0x11),
        Some((life_cycle::ISD_P_ENABLED, attrs(false, false)))
    );
    assert_eq!(
        status_of(&mut c, &mut s, 0x10),
        Some((life_cycle::ISD_P_DISABLED, attrs(true, false)))
    );
    // A reset without pending changes changes nothing.
    c.take_dirty();
    c.reset();
    assert!(!c.take_dirty());
}

#[test]
fn es5_state_persists_across_reopen_and_power_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut st = state();
    st.install_test_profile(&aid(0x10), iccid(0x10), true, 0)
        .unwrap();
    st.install_test_profile(&aid(0x11), iccid(0x11), false, POL1_DELETE_WHEN_DISABLED)
        .unwrap();
    let mut e = Emulator::create(&path, st, false).unwrap();
    let mut s = emulator_session(&mut e, test_keyset(0x30), SecurityLevel::CDecREncCMacRMac);
    let mut run = |e: &mut Emulator, hex: &str| {
        let cmd = s.wrap_command(apdu(hex)).unwrap();
        s.unwrap_response(transmit(e, &cmd)).unwrap()
    };
    assert!(run(
        &mut e,
        CREATE_ISD_P_10.replace("8900001000", "8900001200").as_str()
    )
    .into_success()
    .is_ok());
    assert!(run(&mut e, ENABLE_11).into_success().is_ok());
    drop(e);
    // Reopened: a power-on, so the pending flags are applied and written back.
    let mut e = Emulator::open(&path).unwrap();
    let st = e.state().clone();
    assert_eq!(st.registry().enabled_isd_p().unwrap().aid, aid(0x11));
    assert!(!st.reset_pending());
    assert_eq!(
        st.registry()
            .isd_p(aid(0x12).as_bytes())
            .unwrap()
            .0
            .life_cycle,
        life_cycle::SELECTABLE
    );
    let seqs: Vec<u16> = st.notifications().pending().map(|n| n.sequence).collect();
    assert_eq!(seqs, vec![1, 2]);
    e.power_on();
    assert!(!CardState::load(&path).unwrap().reset_pending());
    let mut s = emulator_session(&mut e, test_keyset(0x30), SecurityLevel::CMacRMac);
    let cmd = s.wrap_command(apdu(CONFIRM_0002)).unwrap();
    let r = s.unwrap_response(transmit(&mut e, &cmd)).unwrap();
    assert_eq!(r.into_success().unwrap(), h("8000"));
    let cmd = s.wrap_command(apdu(DISABLE_11)).unwrap();
    assert!(s
        .unwrap_response(transmit(&mut e, &cmd))
        .unwrap()
        .into_success()
        .is_ok());
    let cmd = s
        .wrap_command(Es5Command::NotificationConfirmation(3).to_apdu().unwrap())
        .unwrap();
    let r = s.unwrap_response(transmit(&mut e, &cmd)).unwrap();
    assert_eq!(
        parse_confirmation_response(&r.into_success().unwrap()).unwrap(),
        vec![aid(0x11)]
    );
    drop(e);
    let st = CardState::load(&path).unwrap();
    assert!(st.registry().isd_p(aid(0x11).as_bytes()).is_none());
    assert_eq!(st.registry().enabled_isd_p().unwrap().aid, aid(0x10));
    assert_eq!(st.notifications().next_sequence(), 4);
    let seqs: Vec<u16> = st.notifications().pending().map(|n| n.sequence).collect();
    assert_eq!(seqs, vec![1]);
}
