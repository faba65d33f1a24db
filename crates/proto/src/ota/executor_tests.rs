use super::*;
use crate::ota::script::{ResponseTlv, TAG_C_APDU};
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn apdu(ins: u8) -> CommandApdu {
    CommandApdu::new(0x80, ins, 0, 0)
}

/// A target answering by INS: `CA` → data, `E4` → 6A88, anything else → 9000.
fn target(seen: &mut Vec<u8>) -> impl FnMut(&CommandApdu) -> ResponseApdu + '_ {
    move |c| {
        seen.push(c.ins);
        match c.ins {
            0xCA => ResponseApdu::success(h("5A01AA")),
            0xE4 => ResponseApdu::status(StatusWord::ReferencedDataNotFound),
            0xF0 => ResponseApdu::status(StatusWord::from_u16(0x6310)),
            0xF1 => ResponseApdu::status(StatusWord::ProactiveCommandPending(0x10)),
            _ => ResponseApdu::success(vec![]),
        }
    }
}

#[test]
fn status_word_rule() {
    for ok in [0x9000, 0x9110, 0x9200, 0x6110, 0x9F20, 0x6283, 0x63C2] {
        assert!(continues_script(StatusWord::from_u16(ok)), "{ok:04X}");
    }
    for bad in [
        0x6A88, 0x6985, 0x6D00, 0x6400, 0x9001, 0x6C10, 0x9300, 0x69E1,
    ] {
        assert!(!continues_script(StatusWord::from_u16(bad)), "{bad:04X}");
    }
}

#[test]
fn stops_at_first_error() {
    let script = CommandScript::of_apdus([apdu(0xCA), apdu(0xF0), apdu(0xE4), apdu(0xE2)])
        .chained(ScriptChaining::Last);
    let mut seen = Vec::new();
    let ex = execute(&script, &mut target(&mut seen));
    assert_eq!(seen, vec![0xCA, 0xF0, 0xE4]);
    assert!(!ex.completed);
    assert_eq!(ex.chaining, Some(ScriptChaining::Last));
    assert_eq!(ex.response.executed, 3);
    assert_eq!(
        ex.response.to_bytes(),
        h("AB12 800103 23055A01AA9000 23026310 23026A88")
    );
}

#[test]
fn completes_and_keeps_form() {
    let mut script = CommandScript::of_apdus([apdu(0xF1), apdu(0xE2)]);
    script.form = LengthForm::Indefinite;
    let mut seen = Vec::new();
    let ex = execute(&script, &mut target(&mut seen));
    assert!(ex.completed);
    assert_eq!(
        ex.response.to_bytes(),
        h("AF80 800102 23029110 23029000 0000")
    );
}

#[test]
fn error_action_is_reported_for_the_failing_command() {
    let script = CommandScript {
        form: LengthForm::Definite,
        items: vec![
            CommandTlv::ErrorAction(vec![0x01]),
            CommandTlv::Apdu(apdu(0xE2)),
            CommandTlv::ErrorAction(vec![0x02]),
            CommandTlv::Apdu(apdu(0xE4)),
        ],
    };
    let mut seen = Vec::new();
    let ex = execute(&script, &mut target(&mut seen));
    assert_eq!(ex.error_action, Some(vec![0x02]));
    assert_eq!(ex.response.executed, 2);
}

struct Scp03tCard {
    log: Vec<u32>,
}

impl ScriptTarget for Scp03tCard {
    fn apdu(&mut self, _c: &CommandApdu) -> ResponseApdu {
        ResponseApdu::success(vec![])
    }
    fn raw(&mut self, t: &Tlv) -> RawOutcome {
        self.log.push(t.tag.value());
        match t.tag.value() {
            0x85 => RawOutcome::Continue(Tlv::new(0x85u8, vec![])),
            0x86 if t.value.is_empty() => RawOutcome::Stop(Tlv::new(0x9F46u16, vec![0x01])),
            0x86 => RawOutcome::Continue(Tlv::new(0x86u8, vec![])),
            _ => RawOutcome::Unsupported,
        }
    }
    fn immediate_action(&mut self, v: &[u8]) -> Option<Vec<u8>> {
        Some(v.to_vec())
    }
}

#[test]
fn raw_tlvs_and_immediate_actions() {
    let script = CommandScript::indefinite()
        .raw(Tlv::new(0x85u8, h("33")))
        .raw(Tlv::new(0x86u8, h("AA")))
        .raw(Tlv::new(0x86u8, vec![]))
        .raw(Tlv::new(0x86u8, h("BB")));
    let mut card = Scp03tCard { log: vec![] };
    let ex = execute(&script, &mut card);
    assert_eq!(card.log, vec![0x85, 0x86, 0x86]);
    assert_eq!(
        ex.response.to_bytes(),
        h("AF80 800103 8500 8600 9F460101 0000")
    );

    let script = CommandScript {
        form: LengthForm::Definite,
        items: vec![
            CommandTlv::ImmediateAction(vec![0x01]),
            CommandTlv::Raw(Tlv::new(0x84u8, h("30"))),
            CommandTlv::Apdu(apdu(0xE2)),
        ],
    };
    let ex = execute(&script, &mut Scp03tCard { log: vec![] });
    assert_eq!(ex.response.to_bytes(), h("AB09 800101 810101 900101"));
    assert!(!ex.completed);
}

#[test]
fn bytes_are_read_one_tlv_at_a_time() {
    let mut seen = Vec::new();
    // Second TLV has an unknown tag: the first command has run.
    let ex = execute_bytes(&h("AA0A 220480E20000 87020000"), &mut target(&mut seen)).unwrap();
    assert_eq!(seen, vec![0xE2]);
    assert_eq!(ex.response.to_bytes(), h("AB0A 800101 23029000 900101"));

    // Truncated C-APDU value: wrong length.
    let mut seen = Vec::new();
    let ex = execute_bytes(&h("AE80 220680E200 0000"), &mut target(&mut seen)).unwrap();
    assert!(seen.is_empty());
    assert_eq!(ex.response.to_bytes(), h("AF80 800100 900102 0000"));

    // Indefinite script without end-of-contents: commands run, then length not found.
    let mut seen = Vec::new();
    let ex = execute_bytes(&h("AE80 220480E20000"), &mut target(&mut seen)).unwrap();
    assert_eq!(seen, vec![0xE2]);
    assert_eq!(ex.response.bad_format(), Some(BadFormat::LengthNotFound));

    // Bytes after the end-of-contents.
    let mut seen = Vec::new();
    let ex = execute_bytes(&h("AE80 0000 22"), &mut target(&mut seen)).unwrap();
    assert_eq!(ex.response.bad_format(), Some(BadFormat::WrongLength));

    // Template length past the end.
    let mut seen = Vec::new();
    let ex = execute_bytes(&h("AA10 220480E20000"), &mut target(&mut seen)).unwrap();
    assert!(seen.is_empty());
    assert_eq!(ex.response.bad_format(), Some(BadFormat::WrongLength));

    // Not a command script at all.
    let mut seen = Vec::new();
    assert!(execute_bytes(&h("AB00"), &mut target(&mut seen)).is_err());
    assert!(execute_bytes(&[], &mut target(&mut seen)).is_err());
}

#[test]
fn parsed_and_streamed_agree() {
    let script = CommandScript::of_apdus([apdu(0xCA), apdu(0xE2), apdu(0xE4), apdu(0xCA)])
        .chained(ScriptChaining::FirstDeleteOnReset);
    let bytes = script.to_bytes().unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let one = execute(&script, &mut target(&mut a));
    let two = execute_bytes(&bytes, &mut target(&mut b)).unwrap();
    assert_eq!(one, two);
    assert_eq!(a, b);
    assert!(matches!(one.response.items[0], ResponseTlv::Apdu(_)));
    let _ = TAG_C_APDU;
}

proptest! {
    #[test]
    fn executing_arbitrary_bytes_never_panics(b in prop::collection::vec(any::<u8>(), 0..120)) {
        for tag in [0xAAu8, 0xAE] {
            let mut bytes = vec![tag];
            bytes.extend_from_slice(&b);
            let mut seen = Vec::new();
            let ex = execute_bytes(&bytes, &mut target(&mut seen));
            if let Ok(ex) = ex {
                // The answer always parses back.
                prop_assert_eq!(ResponseScript::parse(&ex.response.to_bytes()).unwrap(), ex.response);
            }
        }
    }
}

#[test]
fn compact_format_runs_and_answers_the_last_command() {
    let mut seen = Vec::new();
    // SELECT (P3 = Lc, 2 bytes of data), then GET DATA (P3 = Le): both run.
    let r = execute_compact(&h("00A40004023F00 80CA00E000"), &mut target(&mut seen));
    assert_eq!(seen, [0xA4, 0xCA]);
    assert_eq!(
        (r.executed, r.sw, r.data),
        (2, StatusWord::Success, h("5A01AA"))
    );
    // A command cut short stops the string after those before it: 6700.
    let mut seen = Vec::new();
    let r = execute_compact(&h("80CA00E000 00A4000402"), &mut target(&mut seen));
    assert_eq!(
        (seen.len(), r.executed, r.sw),
        (1, 1, StatusWord::WrongLength)
    );
    assert_eq!(
        crate::ota::compact::CompactResponse::parse(&r.to_bytes()).unwrap(),
        r
    );
}
