use super::*;
use crate::apdu::ResponseApdu;
use crate::status::StatusWord;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// CreateISDP INSTALL as sent by the WHTY SM-SR unit test (quoted in SGP02.md §2.1).
const CREATE_ISDP: &str = "80E60C003F10A0000005591010FFFFFFFF8900000D0010A0000005591010FFFFFFFF8900000E0010A0000005591010FFFFFFFF89000013000380C00006C9048102037000";

#[test]
fn definite_script_bytes() {
    let c = CommandApdu::parse(&h(CREATE_ISDP)).unwrap();
    let s = CommandScript::of_apdus([c.clone()]);
    let bytes = s.to_bytes().unwrap();
    // AA 46 { 22 44 <68-byte APDU> }
    assert_eq!(bytes[..4], h("AA462244"));
    assert_eq!(bytes[4..], h(CREATE_ISDP));
    assert_eq!(CommandScript::parse(&bytes).unwrap(), s);
}

#[test]
fn indefinite_script_with_chaining_and_scp03t() {
    let s = CommandScript::indefinite()
        .raw(Tlv::new(0x84u8, h("3000 0102030405060708")))
        .chained(ScriptChaining::FirstKeepOnReset);
    let bytes = s.to_bytes().unwrap();
    assert_eq!(bytes, h("AE80 830111 840A30000102030405060708 0000"));
    let back = CommandScript::parse(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.chaining(), Some(ScriptChaining::FirstKeepOnReset));
}

#[test]
fn long_definite_script() {
    let c = CommandApdu::new(0x80, 0xE2, 0x88, 0x00).with_data(vec![0x5A; 200]);
    let s = CommandScript::of_apdus([c.clone(), c]);
    let bytes = s.to_bytes().unwrap();
    assert_eq!(bytes[..4], h("AA8201A0"));
    assert_eq!(CommandScript::parse(&bytes).unwrap(), s);
}

#[test]
fn strict_command_parsing() {
    // Unknown tag.
    assert!(matches!(
        CommandScript::parse(&h("AA03 870100")),
        Err(ScriptError::UnknownTag { offset: 2, .. })
    ));
    // C-APDU with a wrong Lc.
    assert!(matches!(
        CommandScript::parse(&h("AA08 2206 80E288000200")),
        Err(ScriptError::BadCommandApdu { offset: 4, .. })
    ));
    // Trailing bytes after the template.
    assert!(matches!(
        CommandScript::parse(&h("AA00 00")),
        Err(ScriptError::Tlv(TlvError::TrailingBytes { .. }))
    ));
    // Indefinite without end-of-contents, or with bytes after it.
    assert_eq!(
        CommandScript::parse(&h("AE80 830101")),
        Err(ScriptError::MissingEndOfContents)
    );
    assert!(matches!(
        CommandScript::parse(&h("AE80 830101 0000 830102 0000")),
        Err(ScriptError::Tlv(TlvError::TrailingBytes { offset: 5, .. }))
    ));
    assert_eq!(
        CommandScript::parse(&h("AE05 8301010000")),
        Err(ScriptError::NotIndefinite { tag: 0xAE })
    );
    // Bad chaining values and lengths, duplicates.
    assert_eq!(
        CommandScript::parse(&h("AA03 830104")),
        Err(ScriptError::BadChaining(0x04))
    );
    assert!(matches!(
        CommandScript::parse(&h("AA04 83020101")),
        Err(ScriptError::WrongLength { expected: 1, .. })
    ));
    assert_eq!(
        CommandScript::parse(&h("AA06 830101 830103")),
        Err(ScriptError::DuplicateChaining(5))
    );
    // A response template where a command one is expected.
    assert!(matches!(
        CommandScript::parse(&h("AB00")),
        Err(ScriptError::NotATemplate { found: 0xAB, .. })
    ));
}

#[test]
fn response_script_round_trip() {
    let r = ResponseScript {
        form: LengthForm::Indefinite,
        executed: 2,
        items: vec![
            ResponseTlv::Apdu(ResponseApdu::success(vec![0x00])),
            ResponseTlv::Apdu(ResponseApdu::status(StatusWord::ReferencedDataNotFound)),
        ],
    };
    let bytes = r.to_bytes();
    assert_eq!(bytes, h("AF80 800102 2303009000 23026A88 0000"));
    let back = ResponseScript::parse(&bytes).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.response_apdus().count(), 2);
    assert_eq!(back.bad_format(), None);

    let scp03t = ResponseScript::parse(&h("AB0C 800101 9F460102 860400112233")).unwrap_err();
    // 86 claims 4 bytes but has 4: fine; the template length is wrong instead.
    assert!(matches!(scp03t, ScriptError::Tlv(_)));
    let ok = ResponseScript::parse(&h("AB0D 800102 860100 9F460102 900101")).unwrap();
    assert_eq!(ok.items.len(), 3);
    assert_eq!(ok.bad_format(), Some(BadFormat::UnknownTag));
}

#[test]
fn strict_response_parsing() {
    assert_eq!(
        ResponseScript::parse(&h("AB03 2301 90")),
        Err(ScriptError::MissingExecutedCount)
    );
    assert!(matches!(
        ResponseScript::parse(&h("AB06 800101 230190")),
        Err(ScriptError::BadResponseApdu { len: 1, .. })
    ));
    assert!(matches!(
        ResponseScript::parse(&h("AB06 800101 220100")),
        Err(ScriptError::UnknownTag { .. })
    ));
    assert!(matches!(
        ResponseScript::parse(&h("AB04 80020101")),
        Err(ScriptError::WrongLength { .. })
    ));
}

#[test]
fn bad_format_mapping() {
    let unknown = CommandScript::parse(&h("AA03 870100")).unwrap_err();
    assert_eq!(BadFormat::for_error(&unknown), BadFormat::UnknownTag);
    let truncated_value = CommandScript::parse(&h("AA03 220500")).unwrap_err();
    assert_eq!(
        BadFormat::for_error(&truncated_value),
        BadFormat::WrongLength
    );
    let no_length = CommandScript::parse(&h("AA01 22")).unwrap_err();
    assert_eq!(BadFormat::for_error(&no_length), BadFormat::LengthNotFound);
    for b in 0..=255u8 {
        assert_eq!(BadFormat::from_byte(b).to_byte(), b);
    }
}

fn arb_apdu() -> impl Strategy<Value = CommandApdu> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..300),
        prop::option::of(1usize..=256),
    )
        .prop_map(|(cla, ins, p1, p2, data, le)| {
            let mut c = CommandApdu::new(cla, ins, p1, p2).with_data(data);
            c.le = le;
            c
        })
}

proptest! {
    #[test]
    fn command_parse_never_panics(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = CommandScript::parse(&b);
        let _ = ResponseScript::parse(&b);
        let mut with_tag = vec![0xAE, 0x80];
        with_tag.extend_from_slice(&b);
        let _ = CommandScript::parse(&with_tag);
    }

    #[test]
    fn command_round_trip(apdus in prop::collection::vec(arb_apdu(), 0..4), indefinite: bool,
                          chain in prop::option::of(prop::sample::select(vec![
                              ScriptChaining::FirstDeleteOnReset, ScriptChaining::FirstKeepOnReset,
                              ScriptChaining::Subsequent, ScriptChaining::Last]))) {
        let mut s = CommandScript::of_apdus(apdus);
        if indefinite { s.form = LengthForm::Indefinite; }
        if let Some(c) = chain { s = s.chained(c); }
        let bytes = s.to_bytes().unwrap();
        prop_assert_eq!(CommandScript::parse(&bytes).unwrap(), s);
    }

    #[test]
    fn response_round_trip(rs in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..300), any::<u16>()), 0..4),
                           indefinite: bool) {
        let r = ResponseScript {
            form: if indefinite { LengthForm::Indefinite } else { LengthForm::Definite },
            executed: u8::try_from(rs.len()).unwrap(),
            items: rs.into_iter().map(|(d, sw)| ResponseTlv::Apdu(ResponseApdu::new(d, StatusWord::from_u16(sw)))).collect(),
        };
        prop_assert_eq!(ResponseScript::parse(&r.to_bytes()).unwrap(), r);
    }
}
