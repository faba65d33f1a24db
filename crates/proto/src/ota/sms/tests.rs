use super::*;
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// pySim test_ota.py SmsOtaTestCase "3DES-SJA5-CIPHERED-CC": command packet and its TPDU.
const PYSIM_PACKET: &str = "00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f";
const PYSIM_TPDU: &str = "400881214365877ff6227052000000000302700000201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f";

#[test]
fn pysim_tpdu() {
    let scts: [u8; 7] = h("22705200000000").try_into().unwrap();
    let msgs =
        command_packet_messages(&h(PYSIM_PACKET), &Address::unknown("12345678"), scts, 0).unwrap();
    assert_eq!(msgs.len(), 1);
    let ours = msgs[0].to_bytes().unwrap();
    let theirs = h(PYSIM_TPDU);
    // pySim's test sets TP-UDL to 3 by hand; the right value is 3 + 34 octets = 0x25. Every
    // other byte agrees.
    let udl_at = 1 + 6 + 2 + 7;
    assert_eq!(theirs[udl_at], 0x03);
    assert_eq!(ours[udl_at], 0x25);
    assert_eq!(ours[..udl_at], theirs[..udl_at]);
    assert_eq!(ours[udl_at + 1..], theirs[udl_at + 1..]);
    let back = SmsDeliver::parse(&ours).unwrap();
    assert_eq!(back, msgs[0]);
    assert_eq!(back.originator.digits, "12345678");
    assert_eq!(
        Reassembler::new().push(&back).unwrap(),
        Some(h(PYSIM_PACKET))
    );
}

/// asterix SecurePacket.py test_SPI1531: the ENVELOPE a test tool (SCOUT) sent to a real card,
/// no service centre address, TP-MMS set.
#[test]
fn asterix_real_envelope() {
    let apdu = h("80C200003C D13A820283818B3444038119F07FF6151124135822042502700000201115351515C000004D5C2C7F43D3E774316C66CE8E1D5045755BACEF5DC83203");
    let cmd = CommandApdu::parse(&apdu).unwrap();
    let dl = SmsPpDownload::from_apdu(&cmd).unwrap();
    assert_eq!(dl.service_centre, None);
    let t = &dl.tpdu;
    assert!(t.no_more_messages);
    assert_eq!(t.originator, Address::unknown("910"));
    assert_eq!((t.pid, t.dcs), (0x7F, 0xF6));
    let packet = Reassembler::new().push(t).unwrap().unwrap();
    assert_eq!(
        packet,
        h("00201115351515C000004D5C2C7F43D3E774316C66CE8E1D5045755BACEF5DC83203")
    );
    // And back: the same message gives the same APDU.
    let mut m = command_packet_messages(&packet, &t.originator, t.scts, 0).unwrap();
    m[0].no_more_messages = true;
    assert_eq!(
        sms_pp_download(&m[0], None).unwrap().to_bytes().unwrap(),
        apdu
    );
}

#[test]
fn envelope_with_address_round_trip() {
    let sc = Address::international("447700900123");
    let m = SmsDeliver::data_download(Address::unknown("1234"), [0; 7], b"hi".to_vec());
    let cmd = sms_pp_download(&m, Some(&sc)).unwrap();
    assert_eq!(cmd.data[..2], h("D1 20")[..]);
    assert_eq!(cmd.data[2..6], h("82028381")[..]);
    assert_eq!(cmd.data[6..15], h("06 07 91 447700091032")[..]);
    let back = SmsPpDownload::from_apdu(&cmd).unwrap();
    assert_eq!(back.service_centre, Some(sc));
    assert_eq!(back.tpdu, m);
    // Odd digit count: filler F.
    assert_eq!(
        Address::international("123").to_cat_value().unwrap(),
        h("91 21F3")
    );
    assert_eq!(
        Address::unknown("123").to_tp_bytes().unwrap(),
        h("03 81 21F3")
    );
}

#[test]
fn concatenation_and_reassembly() {
    let packet: Vec<u8> = (0..=255u8).cycle().take(400).collect();
    let msgs = command_packet_messages(&packet, &Address::unknown("99"), [0; 7], 0x42).unwrap();
    assert_eq!(msgs.len(), 3); // 132 + 134 + 134
    assert_eq!(encode_udh(&msgs[0].udh).unwrap(), h("07 7000 0003420301"));
    assert_eq!(encode_udh(&msgs[2].udh).unwrap(), h("05 0003420303"));
    assert!(msgs
        .iter()
        .all(|m| m.to_bytes().unwrap().len() <= 1 + 3 + 2 + 7 + 1 + 140));
    assert!(msgs[2].no_more_messages && !msgs[0].no_more_messages);
    // Out of order arrival.
    let mut r = Reassembler::new();
    assert_eq!(r.push(&msgs[2]).unwrap(), None);
    assert_eq!(r.push(&msgs[0]).unwrap(), None);
    assert_eq!(r.pending(), 1);
    assert_eq!(r.push(&msgs[1]).unwrap(), Some(packet.clone()));
    assert_eq!(r.pending(), 0);
    // Through the TPDU bytes too.
    let mut r = Reassembler::new();
    let mut out = None;
    for m in &msgs {
        out = r
            .push(&SmsDeliver::parse(&m.to_bytes().unwrap()).unwrap())
            .unwrap();
    }
    assert_eq!(out, Some(packet));
}

#[test]
fn reassembly_errors() {
    let plain = SmsDeliver::data_download(Address::unknown("1"), [0; 7], b"x".to_vec());
    assert_eq!(
        Reassembler::new().push(&plain),
        Err(SmsError::NoCommandPacket)
    );
    let mut bad = plain.clone();
    bad.udh = vec![InformationElement {
        iei: 0,
        data: vec![1, 2, 3],
    }];
    assert!(matches!(
        Reassembler::new().push(&bad),
        Err(SmsError::BadConcatenation(_))
    ));
    bad.udh = vec![InformationElement {
        iei: 0,
        data: vec![1, 2],
    }];
    assert!(Reassembler::new().push(&bad).is_err());
    // Two parts, no CPI in the first.
    let mut a = plain.clone();
    a.udh = vec![InformationElement {
        iei: 0,
        data: vec![7, 2, 1],
    }];
    let mut b = plain.clone();
    b.udh = vec![InformationElement {
        iei: 0,
        data: vec![7, 2, 2],
    }];
    let mut r = Reassembler::new();
    assert_eq!(r.push(&a).unwrap(), None);
    assert_eq!(r.push(&b), Err(SmsError::NoCommandPacket));
    // 16-bit reference, CPI after the concatenation IE.
    a.udh = vec![
        InformationElement {
            iei: 8,
            data: vec![1, 0, 2, 1],
        },
        InformationElement {
            iei: 0x70,
            data: vec![],
        },
    ];
    b.udh = vec![InformationElement {
        iei: 8,
        data: vec![1, 0, 2, 2],
    }];
    let mut r = Reassembler::new();
    assert_eq!(r.push(&b).unwrap(), None);
    assert_eq!(r.push(&a).unwrap(), Some(b"xx".to_vec()));
}

#[test]
fn strict_tpdu_parsing() {
    let good = h(PYSIM_TPDU);
    // SMS-SUBMIT MTI.
    let mut t = good.clone();
    t[0] |= 1;
    assert_eq!(SmsDeliver::parse(&t), Err(SmsError::NotDeliver(1)));
    // 7-bit DCS.
    let mut t = good.clone();
    t[8] = 0x00;
    assert_eq!(SmsDeliver::parse(&t), Err(SmsError::Not8Bit(0)));
    // UDL 3 with 37 octets: trailing bytes (pySim's vector as is).
    assert_eq!(SmsDeliver::parse(&good), Err(SmsError::TrailingBytes(34)));
    // Truncated.
    assert!(matches!(
        SmsDeliver::parse(&good[..12]),
        Err(SmsError::Truncated { .. })
    ));
    assert!(parse_udh(&h("03 7001")).is_err());
    assert!(parse_udh(&h("05 70 00 00")).is_err());
    assert!(is_8bit(0xF6) && is_8bit(0x16) && is_8bit(0x04));
    assert!(!is_8bit(0xF2) && !is_8bit(0x08) && !is_8bit(0x24) && !is_8bit(0xC4));
}

#[test]
fn envelope_errors() {
    let m = SmsDeliver::data_download(Address::unknown("1"), [0; 7], b"x".to_vec());
    let good = sms_pp_download(&m, None).unwrap();
    let mut wrong_ids = good.clone();
    wrong_ids.data[4] = 0x82;
    assert!(SmsPpDownload::from_apdu(&wrong_ids).is_err());
    let mut wrong_tag = good.clone();
    wrong_tag.data[0] = 0xD0;
    assert!(SmsPpDownload::from_apdu(&wrong_tag).is_err());
    let mut wrong_ins = good;
    wrong_ins.ins = 0xC0;
    assert!(SmsPpDownload::from_apdu(&wrong_ins).is_err());
    assert!(matches!(
        command_packet_messages(&vec![0; 40000], &Address::unknown("1"), [0; 7], 0),
        Err(SmsError::TooLong(_))
    ));
}

#[test]
fn envelope_replies() {
    use EnvelopeReply::*;
    let r = |d: &str, sw: u16| ResponseApdu::new(h(d), StatusWord::from_u16(sw));
    assert_eq!(EnvelopeReply::classify(&r("", 0x9000)), Acknowledged);
    assert_eq!(
        EnvelopeReply::classify(&r("027100", 0x9000)),
        Por(h("027100"))
    );
    assert_eq!(EnvelopeReply::classify(&r("", 0x9F1C)), GetResponse(0x1C));
    assert_eq!(EnvelopeReply::classify(&r("", 0x6100)), GetResponse(256));
    assert_eq!(
        EnvelopeReply::classify(&r("", 0x9149)),
        ProactivePending(0x49)
    );
    assert_eq!(EnvelopeReply::classify(&r("", 0x9300)), Busy);
    assert_eq!(
        EnvelopeReply::classify(&r("0271", 0x6F00)),
        Failed(StatusWord::NoPreciseDiagnosis)
    );
    assert!(matches!(
        EnvelopeReply::classify(&r("027100", 0x6200)),
        ErrorWithPor(_, _)
    ));
    assert_eq!(get_response(0x1C).to_bytes().unwrap(), h("00C000001C"));
}

proptest! {
    #[test]
    fn parsers_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = SmsDeliver::parse(&b);
        let _ = parse_udh(&b);
        let _ = Address::parse_tp(&b);
        let _ = Address::from_cat_value(&b);
        let _ = SmsPpDownload::from_apdu(&CommandApdu::new(0x80, 0xC2, 0, 0).with_data(b.clone()));
    }

    #[test]
    fn split_and_reassemble(packet in prop::collection::vec(any::<u8>(), 1..3000), reference: u8) {
        let msgs = command_packet_messages(&packet, &Address::unknown("123"), [0; 7], reference).unwrap();
        let mut r = Reassembler::new();
        let mut out = None;
        for m in msgs.iter().rev() {
            let apdu = sms_pp_download(m, None).unwrap();
            let dl = SmsPpDownload::from_apdu(&apdu).unwrap();
            out = r.push(&dl.tpdu).unwrap();
        }
        prop_assert_eq!(out, Some(packet));
    }

    #[test]
    fn addresses_round_trip(d in "[0-9*#abc]{0,20}", ton in prop::sample::select(vec![0x81u8, 0x91, 0xA1])) {
        let a = Address { ton_npi: ton, digits: d };
        let tp = a.to_tp_bytes().unwrap();
        prop_assert_eq!(Address::parse_tp(&tp).unwrap(), (a.clone(), tp.len()));
        prop_assert_eq!(Address::from_cat_value(&a.to_cat_value().unwrap()).unwrap(), a);
    }
}
