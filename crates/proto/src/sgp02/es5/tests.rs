use super::*;
use crate::gp::life_cycle;
use crate::gp::{GetStatus, Privileges, StatusScope};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn isd_p(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

#[test]
fn commands_match_njiwa_bytes() {
    // njiwa EnableProfile / DisableProfile (SGP02.md §4, fact 9).
    let cases = [
        (
            Es5Command::EnableProfile(isd_p(0x10)),
            "80E2880015 3A0312 4F10A0000005591010FFFFFFFF8900001000",
        ),
        (
            Es5Command::DisableProfile(isd_p(0x11)),
            "80E2880015 3A0412 4F10A0000005591010FFFFFFFF8900001100",
        ),
        (
            Es5Command::SetFallbackAttribute(isd_p(0x12)),
            "80E2880015 3A0512 4F10A0000005591010FFFFFFFF8900001200",
        ),
        // njiwa HandleNotificationConfirmation: P1 89, Le 00.
        (
            Es5Command::NotificationConfirmation(0x0102),
            "80E2890007 3A0804 4E020102 00",
        ),
    ];
    for (command, bytes) in cases {
        let apdu = command.to_apdu().unwrap();
        assert_eq!(apdu.to_bytes().unwrap(), h(bytes), "{command:?}");
        let parsed = CommandApdu::parse(&h(bytes)).unwrap();
        assert_eq!(Es5Command::from_apdu(&parsed).unwrap(), command);
    }
}

#[test]
fn malformed_functions_are_rejected() {
    let bad = [
        // Trailing byte after the AID object.
        "80E2880016 3A0313 4F10A0000005591010FFFFFFFF8900001000 00",
        // Another tag than 4F.
        "80E2880015 3A0312 4E10A0000005591010FFFFFFFF8900001000",
        // AID of 4 bytes.
        "80E2880009 3A0306 4F04A0000005",
        // Sequence number of one byte.
        "80E2890006 3A08 03 4E0101 00",
        // Not the last block / BER-TLV structure / unknown DGI.
        "80E2080015 3A0312 4F10A0000005591010FFFFFFFF8900001000",
        "80E2900015 3A0312 4F10A0000005591010FFFFFFFF8900001000",
        "80E2880015 3A0612 4F10A0000005591010FFFFFFFF8900001000",
        // DGI length runs past the data.
        "80E2880014 3A0312 4F10A0000005591010FFFFFFFF89000010",
    ];
    for b in bad {
        let apdu = CommandApdu::parse(&h(b)).unwrap();
        assert!(Es5Command::from_apdu(&apdu).is_err(), "{b}");
    }
    assert_eq!(
        Es5Command::from_dgi(&Dgi::new(0x0070, h("4201AA"))).unwrap(),
        None
    );
}

#[test]
fn confirmation_response_round_trip() {
    assert_eq!(confirmation_response(&[]), h("8000"));
    assert_eq!(parse_confirmation_response(&h("8000")).unwrap(), vec![]);
    assert_eq!(parse_confirmation_response(&[]).unwrap(), vec![]);
    let two = [isd_p(0x10), isd_p(0x1234)];
    let bytes = confirmation_response(&two);
    assert_eq!(
        bytes,
        h("8024 4F10A0000005591010FFFFFFFF8900001000 4F10A0000005591010FFFFFFFF8900123400")
    );
    assert_eq!(parse_confirmation_response(&bytes).unwrap(), two);
    for bad in [
        "8001",
        "81024F00",
        "8003 4E0101",
        "8000 00",
        "8006 4F04A0000005",
    ] {
        assert!(parse_confirmation_response(&h(bad)).is_err(), "{bad}");
    }
}

#[test]
fn profile_attributes_in_a_get_status_entry() {
    let a = ProfileAttributes {
        fallback: true,
        pending_reset: false,
        other: 0,
    };
    assert_eq!(a.to_byte(), 0x01);
    assert_eq!(ProfileAttributes::from_byte(0x81).to_byte(), 0x81);
    assert_eq!(ProfileAttributes::from_byte(0x42).other, 0x42);
    // An E3 entry as an ISD-P answers it: 4F, 9F70, C5, CC, then 53 (njiwa AuditEIS order of
    // the SGP.02 objects after the GP ones).
    let mut entry = RegistryEntry::new(
        isd_p(0x10),
        life_cycle::ISD_P_DISABLED,
        Some(Privileges::ISD_P),
    );
    entry.other.push(a.to_tlv());
    let gs = GetStatus::new(StatusScope::Applications);
    let page = gs.response_pages(&[entry], 255).remove(0);
    let back = gs.parse_response(&page).unwrap();
    assert_eq!(ProfileAttributes::from_entry(&back[0]).unwrap(), Some(a));
    assert!(page.ends_with(&h("530101")));
    let mut twice = back[0].clone();
    twice.other.push(a.to_tlv());
    assert!(ProfileAttributes::from_entry(&twice).is_err());
    let mut long = back[0].clone();
    long.other = vec![Tlv::new(0x53u8, vec![1, 2])];
    assert!(ProfileAttributes::from_entry(&long).is_err());
    long.other.clear();
    assert_eq!(ProfileAttributes::from_entry(&long).unwrap(), None);
}
