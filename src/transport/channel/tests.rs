use super::*;
use crate::transport::fake_card::{big_data, FakeCard, AID, BIG_TAG, EID};
use crate::transport::fault::{Fault, FaultInjector};

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn select(cla: u8) -> Vec<u8> {
    let mut c = vec![cla, 0xA4, 0x04, 0x00, 0x08];
    c.extend_from_slice(&AID);
    c
}

fn eid_response() -> Vec<u8> {
    let mut r = vec![0x5A, 0x10];
    r.extend_from_slice(&EID);
    r.extend_from_slice(&[0x90, 0x00]);
    r
}

fn assembler() -> ResponseAssembler<FakeCard> {
    ResponseAssembler::new(FakeCard::new())
}

#[test]
fn direct_response_is_one_exchange() {
    let mut t = assembler();
    t.transmit(&select(0x00)).unwrap();
    assert_eq!(t.transmit(&hex("80CA005A12")).unwrap(), eid_response());
    // The SELECT's FCI came with GET RESPONSE; the GET DATA with Le needed nothing more.
    assert_eq!(t.inner().log_hex()[2..], ["80CA005A12"]);
}

#[test]
fn response_61xx_fetched_with_get_response() {
    let mut t = assembler();
    let fci = t.transmit(&select(0x00)).unwrap();
    assert_eq!(fci[..4], [0x6F, 0x0A, 0x84, 0x08]);
    assert_eq!(t.transmit(&hex("80CA005A")).unwrap(), eid_response());
    let hexes = t.inner().log_hex();
    assert_eq!(hexes[1], "00C000000C", "the FCI came with GET RESPONSE");
    assert_eq!(hexes[2..], ["80CA005A", "00C0000012"]);
}

#[test]
fn get_response_keeps_the_logical_channel_and_drops_secure_messaging() {
    // (class of the command, class of its GET RESPONSE)
    for (cla, expected) in [
        (0x01u8, 0x01u8),
        (0x83, 0x03),
        (0x84, 0x00),
        (0x87, 0x03),
        (0xC1, 0x41),
        (0xEF, 0x4F),
        (0x40, 0x40),
    ] {
        let mut t = assembler();
        t.transmit(&select(cla_with_channel(0x00, channel_of(cla)).unwrap()))
            .unwrap();
        let get_data = [cla, 0xCA, 0x00, 0x5A];
        assert_eq!(t.transmit(&get_data).unwrap(), eid_response(), "{cla:02X}");
        let last = t.inner().log.last().unwrap().clone();
        assert_eq!(last, [expected, 0xC0, 0x00, 0x00, 0x12], "CLA {cla:02X}");
    }
}

#[test]
fn chain_of_61xx_concatenates_every_part() {
    let mut t = assembler();
    t.transmit(&select(0x00)).unwrap();
    let before = t.inner().log.len();
    let r = t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]).unwrap();
    let mut expected = big_data();
    expected.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(r, expected);
    // 600 bytes: 256 + 256 + 88.
    assert_eq!(
        t.inner().log_hex()[before..],
        ["80CA00FF", "00C0000000", "00C0000000", "00C0000058"]
    );
}

#[test]
fn wrong_le_6cxx_resent_in_the_same_form() {
    let mut t = assembler();
    t.transmit(&select(0x00)).unwrap();
    assert_eq!(t.transmit(&hex("80CA005A05")).unwrap(), eid_response());
    assert_eq!(t.inner().log_hex()[2..], ["80CA005A05", "80CA005A12"]);
    // Extended Le stays extended.
    assert_eq!(t.transmit(&hex("80CA005A000005")).unwrap(), eid_response());
    assert_eq!(
        t.inner().log_hex()[4..],
        ["80CA005A000005", "80CA005A000012"]
    );
}

#[test]
fn get_response_answered_6cxx_is_resent() {
    let mut t = assembler();
    t.inner_mut().answer_next(hex("6110"));
    t.inner_mut().answer_next(hex("6C08"));
    t.inner_mut().answer_next(hex("01020304050607089000"));
    let r = t.transmit(&hex("00B00000")).unwrap();
    assert_eq!(r, hex("01020304050607089000"));
    assert_eq!(
        t.inner().log_hex(),
        ["00B00000", "00C0000010", "00C0000008"]
    );
}

#[test]
fn repeated_6cxx_for_the_same_le_is_returned() {
    let mut t = assembler();
    t.inner_mut().answer_always(hex("6C12"));
    assert_eq!(t.transmit(&hex("80CA005A05")).unwrap(), hex("6C12"));
    assert_eq!(t.inner().log_hex(), ["80CA005A05", "80CA005A12"]);
    // A 6Cxx to something that is not an APDU cannot be resent.
    assert_eq!(t.transmit(&hex("80CA00")).unwrap(), hex("6C12"));
}

#[test]
fn gsm_9fxx_for_uicc_classes_only() {
    let mut t = assembler();
    t.inner_mut().gsm = true;
    t.transmit(&select(0x00)).unwrap();
    assert_eq!(t.transmit(&hex("A0CA005A")).unwrap(), eid_response());
    assert_eq!(t.inner().log_hex().last().unwrap(), "A0C0000012");
    t.inner_mut().answer_next(hex("9F05"));
    t.inner_mut().answer_next(hex("01020304059000"));
    assert_eq!(t.transmit(&hex("00B20104")).unwrap(), hex("01020304059000"));
    assert_eq!(t.inner().log_hex().last().unwrap(), "00C0000005");
    // GlobalPlatform class: 9Fxx passed through untouched.
    t.inner_mut().answer_next(hex("9F05"));
    assert_eq!(t.transmit(&hex("80F24000")).unwrap(), hex("9F05"));
    assert_eq!(t.inner().log_hex().last().unwrap(), "80F24000");
}

#[test]
fn endless_61xx_is_cut_off() {
    let mut t = assembler();
    t.inner_mut().answer_always(hex("AA6101"));
    match t.transmit(&hex("80CA005A")) {
        Err(TransportError::ResponseNeverEnds { rounds, .. }) => assert_eq!(rounds, MAX_ROUNDS),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.inner().log.len(), MAX_ROUNDS);
}

#[test]
fn short_response_is_an_error() {
    let mut t = assembler();
    t.inner_mut().answer_next(vec![0x90]);
    assert!(matches!(
        t.transmit(&hex("80CA005A")),
        Err(TransportError::ResponseTooShort { len: 1, .. })
    ));
}

#[test]
fn reset_in_the_middle_of_a_chain() {
    let mut t = ResponseAssembler::new(FaultInjector::new(FakeCard::new()));
    t.transmit(&select(0x00)).unwrap();
    // Transmits: 1 SELECT, 2 GET RESPONSE (FCI), 3 GET DATA, 4 GET RESPONSE, 5 GET RESPONSE.
    t.inner_mut().schedule(5, Fault::ResetCard);
    assert!(matches!(
        t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]),
        Err(TransportError::CardReset { .. })
    ));
    assert_eq!(t.inner().inner().resets, 1);
    // The session state went with the reset: the application is no longer selected.
    assert_eq!(
        t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]).unwrap(),
        hex("6A88")
    );
    // A new session works and gets the whole response.
    t.transmit(&select(0x00)).unwrap();
    let r = t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]).unwrap();
    assert_eq!(r.len(), 602);
    assert_eq!(r[..600], big_data()[..]);
}

#[test]
fn response_lost_in_the_middle_of_a_chain() {
    let mut t = ResponseAssembler::new(FaultInjector::new(FakeCard::new()));
    t.transmit(&select(0x00)).unwrap();
    t.inner_mut().schedule(4, Fault::DropResponse);
    assert!(matches!(
        t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]),
        Err(TransportError::ResponseLost { .. })
    ));
    // The card moved on (it sent a part nobody saw): asking again starts over.
    let r = t.transmit(&[0x80, 0xCA, 0x00, BIG_TAG]).unwrap();
    assert_eq!(r[..600], big_data()[..]);
}

#[test]
fn corrupted_status_word_reaches_the_caller() {
    let mut t = ResponseAssembler::new(FaultInjector::new(FakeCard::new()));
    t.transmit(&select(0x00)).unwrap();
    // The GET RESPONSE's 9000 arrives as 9001: the caller sees exactly what came.
    t.inner_mut().schedule(
        4,
        Fault::CorruptResponse {
            offset: 99,
            mask: 0x01,
        },
    );
    let r = t.transmit(&hex("80CA005A")).unwrap();
    assert_eq!(r[r.len() - 2..], [0x90, 0x01]);
    assert_eq!(r[..r.len() - 2], eid_response()[..18]);
}

#[test]
fn get_response_command_bytes() {
    assert_eq!(get_response(0x00, 0x12), hex("00C0000012"));
    assert_eq!(get_response(0x84, 0x00), hex("00C0000000"));
    assert_eq!(get_response(0xE3, 0x10), hex("43C0000010"));
    assert_eq!(get_response(0xA0, 0x10), hex("A0C0000010"));
}

#[test]
fn a_warning_alone_to_a_case_4_command_is_followed_by_get_response() {
    // ETSI TS 102 221 §7.3.1.1.4, 4b: 6310 announces data; GET RESPONSE 00 gets 6C04.
    let mut card = FakeCard::new();
    card.answer_next(hex("6310"));
    card.answer_next(hex("6C04"));
    card.answer_next(hex("E3024F006310"));
    let mut t = ResponseAssembler::new(card);
    assert_eq!(
        t.transmit(&hex("80F24002024F00")).unwrap(),
        hex("E3024F006310")
    );
    assert_eq!(
        t.inner().log_hex(),
        ["80F24002024F00", "00C0000000", "00C0000004"]
    );
    // A card with nothing behind the warning: the warning is the answer.
    let mut card = FakeCard::new();
    card.answer_next(hex("6310"));
    card.answer_next(hex("6985"));
    let mut t = ResponseAssembler::new(card);
    assert_eq!(t.transmit(&hex("80F24002024F00")).unwrap(), hex("6310"));
    // A command without data (case 1 or 2): a warning is only a warning.
    let mut card = FakeCard::new();
    card.answer_next(hex("6283"));
    let mut t = ResponseAssembler::new(card);
    assert_eq!(t.transmit(&hex("00A40000")).unwrap(), hex("6283"));
    assert_eq!(t.inner().log_hex().len(), 1);
}
