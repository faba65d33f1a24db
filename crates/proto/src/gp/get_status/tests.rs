use super::*;
use crate::gp::testdata::{h, hex_field, section};
use crate::gp::Privilege;

fn fixture_p(entry: &serde_json::Value, field: &str) -> Option<u8> {
    let text = entry.get(field)?.as_str()?;
    u8::from_str_radix(text.get(..2)?, 16).ok()
}

#[test]
fn fixtures_get_status_e3() {
    let entries = section("get_status_E3");
    if entries.is_empty() {
        return;
    }
    assert_eq!(entries.len(), 4);

    // GlobalPlatformPro TestParseTags.java: ISD with every optional object.
    let e = &entries[0];
    assert!(e["source"].as_str().unwrap().contains("TestParseTags"));
    assert_eq!(fixture_p(e, "p1"), Some(0x80));
    let data = hex_field(e, "data");
    let list = RegistryEntry::parse_tlv_list(&data).unwrap();
    assert_eq!(list.len(), 1);
    let isd = &list[0];
    assert_eq!(isd.aid.to_string(), "A000000003000000");
    assert_eq!(isd.life_cycle, 0x01);
    let scope = StatusScope::from_p1(0x80).unwrap();
    assert_eq!(isd.life_cycle_name(scope), Some("OP_READY"));
    assert_eq!(isd.privileges.unwrap().bytes(), [0x9E, 0xFE, 0x80]);
    assert!(isd
        .privileges
        .unwrap()
        .contains(Privilege::ReceiptGeneration));
    // Implicit selection on channels 0-3, contact (40..43) and contactless (80..83).
    assert_eq!(isd.implicit_selection, h("4041424380818283"));
    assert_eq!(
        isd.load_file.as_ref().unwrap().to_string(),
        "D276000005AAFFCAFE0001"
    );
    assert_eq!(isd.version, Some(h("0001")));
    assert_eq!(
        isd.associated_sd.as_ref().unwrap().to_string(),
        "A000000003000000"
    );
    assert!(isd.modules.is_empty() && isd.other.is_empty());
    assert_eq!(isd.to_tlv(), data);

    // Same file: one-byte privileges and an unknown EA template.
    let e = &entries[1];
    assert!(e["source"].as_str().unwrap().contains("TestParseTags"));
    let data = hex_field(e, "data");
    let list = RegistryEntry::parse_tlv_list(&data).unwrap();
    assert_eq!(list.len(), 1);
    let isd = &list[0];
    assert_eq!(isd.aid.to_string(), "A0000001510000");
    assert_eq!(isd.life_cycle_name(scope), Some("INITIALIZED"));
    let p = isd.privileges.unwrap();
    assert!(p.is_one_byte());
    assert_eq!(p.list(), vec![Privilege::SecurityDomain]);
    assert_eq!(isd.other, vec![Tlv::new(0xEAu8, h("8000"))]);
    assert_eq!(isd.to_tlv(), data);

    // Samsung/OpenSCP-Java OutputTestData.java: legacy P2=00 format, ISD.
    let e = &entries[2];
    assert!(e["source"].as_str().unwrap().contains("OpenSCP"));
    assert_eq!(
        (fixture_p(e, "p1"), fixture_p(e, "p2")),
        (Some(0x80), Some(0))
    );
    let cmd = GetStatus {
        format: ResponseFormat::Legacy,
        ..GetStatus::new(StatusScope::IssuerSecurityDomain)
    };
    let data = hex_field(e, "data");
    let list = cmd.parse_response(&data).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].aid.to_string(), "A000000151000000");
    assert_eq!(list[0].life_cycle_name(cmd.scope), Some("SECURED"));
    assert_eq!(list[0].privileges, Some(Privileges::one_byte(0x9E)));
    assert_eq!(cmd.encode_entry(&list[0]), data);

    // Samsung OutputTestData.java: legacy P2=00, P1=20 load files. The data holds the first two
    // records of the four the note lists.
    let e = &entries[3];
    assert!(e["source"].as_str().unwrap().contains("P1=20"));
    assert_eq!(
        (fixture_p(e, "p1"), fixture_p(e, "p2")),
        (Some(0x20), Some(0))
    );
    let cmd = GetStatus {
        format: ResponseFormat::Legacy,
        ..GetStatus::new(StatusScope::LoadFiles)
    };
    let data = hex_field(e, "data");
    let list = cmd.parse_response(&data).unwrap();
    let aids: Vec<String> = list.iter().map(|x| x.aid.to_string()).collect();
    assert_eq!(
        aids,
        vec!["A00000015141434C", "A0000002202003010101000000000006"]
    );
    for x in &list {
        assert_eq!(x.life_cycle_name(cmd.scope), Some("LOADED"));
        assert_eq!(x.privileges, Some(Privileges::one_byte(0)));
    }
    let again: Vec<u8> = list.iter().flat_map(|x| cmd.encode_entry(x)).collect();
    assert_eq!(again, data);
}

#[test]
fn commands_round_trip() {
    let isd_p = Aid::isd_p(0x10).unwrap();
    let cases = [
        (
            GetStatus::new(StatusScope::Applications),
            "80F24002024F0000",
        ),
        (
            GetStatus::new(StatusScope::IssuerSecurityDomain),
            "80F28002024F0000",
        ),
        (
            GetStatus::new(StatusScope::LoadFilesAndModules),
            "80F21002024F0000",
        ),
        // njiwa AuditEIS: one ISD-P by AID.
        (
            GetStatus::new(StatusScope::Applications).with_aid_prefix(isd_p.as_bytes()),
            "80F24002124F10A0000005591010FFFFFFFF890000100000",
        ),
        (
            GetStatus::new(StatusScope::Applications).with_tag_list(&[
                Tag::new(0x4F),
                Tag::new(0x9F70),
                Tag::new(0xC5),
            ]),
            "80F24002084F005C044F9F70C500",
        ),
    ];
    for (cmd, bytes) in cases {
        let apdu = cmd.to_apdu().unwrap();
        assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
        assert_eq!(GetStatus::from_apdu(&apdu).unwrap(), cmd);
    }
    let mut with_criteria =
        GetStatus::new(StatusScope::LoadFiles).with_aid_prefix(&h("A000000151"));
    with_criteria.criteria.push(Tlv::new(0x9F70u16, vec![0x01]));
    with_criteria.next = true;
    let apdu = with_criteria.to_apdu().unwrap();
    assert_eq!(apdu.p2, 0x03);
    assert_eq!(GetStatus::from_apdu(&apdu).unwrap(), with_criteria);
    assert!(with_criteria.matches(&Aid::gp_isd()));
    assert!(!with_criteria.matches(&Aid::isd_r()));
}

#[test]
fn paging_and_fallback() {
    let cmd = GetStatus::new(StatusScope::Applications);
    let next = cmd.follow_up(StatusWord::MoreDataAvailable).unwrap();
    assert_eq!(next.to_apdu().unwrap().p2, 0x03);
    let legacy = cmd.follow_up(StatusWord::IncorrectP1P2).unwrap();
    assert_eq!(legacy.to_apdu().unwrap().p2, 0x00);
    assert_eq!(legacy.follow_up(StatusWord::IncorrectP1P2), None);
    assert_eq!(next.follow_up(StatusWord::IncorrectP1P2), None);
    assert_eq!(cmd.follow_up(StatusWord::Success), None);
    assert_eq!(
        legacy
            .follow_up(StatusWord::MoreDataAvailable)
            .unwrap()
            .p2(),
        0x01
    );

    // Twenty ISD-Ps, each E3 of 29 bytes: eight per 256-byte page.
    let entries: Vec<RegistryEntry> = (0x10..0x24)
        .map(|n| {
            RegistryEntry::new(
                Aid::isd_p(n).unwrap(),
                life_cycle::ISD_P_DISABLED,
                Some(Privileges::ISD_P),
            )
        })
        .collect();
    assert_eq!(entries[0].to_tlv().len(), 29);
    let pages = cmd.response_pages(&entries, MAX_RESPONSE_DATA);
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![232, 232, 116]
    );
    let back: Vec<RegistryEntry> = pages
        .iter()
        .flat_map(|p| cmd.parse_response(p).unwrap())
        .collect();
    assert_eq!(back, entries);
    assert_eq!(back[0].kind(cmd.scope), EntityKind::IsdP);
    assert_eq!(back[0].life_cycle_name(cmd.scope), Some("DISABLED"));
    assert_eq!(
        cmd.response_pages(&[], MAX_RESPONSE_DATA),
        vec![Vec::<u8>::new()]
    );
}

#[test]
fn modules_and_kinds() {
    let mut elf = RegistryEntry::new(Aid::isd_p_load_file(), life_cycle::LOADED, None);
    elf.modules.push(Aid::isd_p_module());
    elf.version = Some(h("0102"));
    elf.associated_sd = Some(Aid::isd_r());
    let tlv_bytes = elf.to_tlv();
    assert_eq!(
        RegistryEntry::parse_tlv_list(&tlv_bytes).unwrap(),
        vec![elf.clone()]
    );
    assert_eq!(
        elf.kind(StatusScope::LoadFilesAndModules),
        EntityKind::LoadFile
    );
    let legacy = elf.to_legacy(true);
    assert_eq!(
        legacy,
        h("10A0000005591010FFFFFFFF8900000D00 01 00 01 10A0000005591010FFFFFFFF8900000E00")
    );
    let back = RegistryEntry::parse_legacy_list(&legacy, true).unwrap();
    assert_eq!(back[0].modules, elf.modules);
    let app = RegistryEntry::new(Aid::gp_isd(), 0x07, Some(Privileges::NONE));
    assert_eq!(app.kind(StatusScope::Applications), EntityKind::Application);
    let sd = RegistryEntry::new(Aid::isd_r(), 0x0F, Some(Privileges::one_byte(0x80)));
    assert_eq!(
        sd.kind(StatusScope::Applications),
        EntityKind::SecurityDomain
    );
    assert_eq!(
        sd.life_cycle_name(StatusScope::Applications),
        Some("PERSONALIZED")
    );
}

#[test]
fn strictness() {
    let bad_commands = [
        // P1 00.
        "80F20002024F0000",
        // P1 with only RFU bits.
        "80F20F02024F0000",
        // No data.
        "80F2400200",
        // First criterion not 4F.
        "80F2400203C5010000",
        // pySim's deliberately malformed tag list: '5C 05' with 4 bytes.
        "80F240020A4F0212345C054F9F70C500",
        // AID criterion longer than 16 bytes.
        "80F24002134F110102030405060708090A0B0C0D0E0F101100",
    ];
    for bad in bad_commands {
        let apdu = CommandApdu::parse(&h(bad)).unwrap();
        assert!(GetStatus::from_apdu(&apdu).is_err(), "{bad}");
    }
    // E3 without 9F70, with a repeated 4F, with 2-byte LCS, other top-level tag, truncation.
    let bad_responses = [
        ("E3074F05A000000151", 2),
        ("E3124F05A0000001519F7001074F05A000000151", 13),
        ("E30C4F05A0000001519F70020107", 12),
        ("E2074F05A000000151", 0),
    ];
    for (bad, offset) in bad_responses {
        let err = RegistryEntry::parse_tlv_list(&h(bad)).unwrap_err();
        assert!(
            matches!(err, GpError::Invalid { offset: o, .. } if o == offset),
            "{bad}: {err}"
        );
    }
    let err = RegistryEntry::parse_tlv_list(&h("E3094F05A0000001519F70")).unwrap_err();
    assert!(matches!(err, GpError::Tlv(_)), "{err}");
    // Legacy record cut inside the AID / missing privileges / short AID.
    assert!(RegistryEntry::parse_legacy_list(&h("08A000000151"), false).is_err());
    let err = RegistryEntry::parse_legacy_list(&h("05A0000001510F"), false).unwrap_err();
    assert_eq!(
        err,
        GpError::Truncated {
            offset: 7,
            field: "privileges"
        }
    );
    assert!(RegistryEntry::parse_legacy_list(&h("02A0000F00"), false).is_err());
    assert!(RegistryEntry::parse_legacy_list(&h("05A0000001510F0002"), true).is_err());
}
