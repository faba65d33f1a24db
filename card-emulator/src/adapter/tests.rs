//! Transport rules of [`Adapter`]: 61xx / GET RESPONSE, 6Cxx, direct data, chaining.

use super::*;
use crate::card::{Application, Selected};
use crate::eid::parse_eid;
use crate::state::CardState;

const EID: &str = "89001012012341234012345678901224";
const ECASD: &str = "A0000005591010FFFFFFFF8900000200";

fn adapter() -> Adapter {
    Adapter::new(Card::new(CardState::new(Some(parse_eid(EID).unwrap()))))
}

fn send(a: &mut Adapter, c_apdu: &str) -> String {
    hex::encode_upper(a.transmit(&hex::decode(c_apdu).unwrap()))
}

fn fci() -> String {
    hex::encode_upper(Application::Ecasd.fci())
}

#[test]
fn case_3_with_data_gives_61xx_then_get_response() {
    let mut a = adapter();
    let fci = fci();
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "00C000001A"), format!("{fci}9000"));
    // Nothing left.
    assert_eq!(send(&mut a, "00C000001A"), "6985");
}

#[test]
fn get_response_with_the_proprietary_class_of_the_command_fetches_pending_data() {
    let mut a = adapter();
    let isd_r = "A0000005591010FFFFFFFF8900000100";
    assert_eq!(send(&mut a, &format!("00A4040010{isd_r}")), "611A");
    // INITIALIZE UPDATE (case 4, no Le, as under T=0): 61xx, then `80 C0` as pySim sends it.
    let r = send(&mut a, "8050300008B3822789244343D0");
    assert!(r.starts_with("61"), "{r}");
    let r = send(&mut a, &format!("80C00000{}", &r[2..]));
    assert!(r.ends_with("9000") && r.len() > 4, "{r}");
    // The CLA of a secured command (84) repeated: the fetch too.
    let r = send(&mut a, "8450300008B3822789244343D0");
    assert!(r.starts_with("61") || r.len() == 4, "{r}");
    if let Some(len) = r.strip_prefix("61") {
        let r = send(&mut a, &format!("84C00000{len}"));
        assert!(r.ends_with("9000"), "{r}");
    }
    // With nothing pending, `80 C0` goes to the application, which does not know it.
    assert_eq!(send(&mut a, "80C0000000"), "6D00");
}

#[test]
fn case_4_ending_with_a_warning_announces_it_then_6cxx_gives_the_length() {
    // ETSI TS 102 221 §7.3.1.1.4, 4b: data with 6310 (GET STATUS, more to come).
    let mut slot = ChannelTransport::default();
    let class = Class::parse(0x80).unwrap();
    let get = |le| CommandApdu::new(0x80, 0xC0, 0, 0).with_le(le);
    let data = vec![0xE3, 0x02, 0x4F, 0x00];
    let r = deliver(
        &mut slot,
        ResponseApdu::new(data.clone(), StatusWord::MoreDataAvailable),
        None,
    );
    assert_eq!((r.data.len(), r.sw), (0, StatusWord::MoreDataAvailable));
    // The terminal's GET RESPONSE with Le 00: 6C04; again with Le 04: the data and 6310.
    let r = get_response(&mut slot, class, &get(256));
    assert_eq!(r.sw, StatusWord::WrongLe(4));
    let r = get_response(&mut slot, class, &get(4));
    assert_eq!((r.data, r.sw), (data, StatusWord::MoreDataAvailable));
    assert!(slot.pending.is_none());
}

#[test]
fn get_response_in_pieces() {
    let mut a = adapter();
    let fci = fci();
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "00C0000010"), format!("{}610A", &fci[..32]));
    assert_eq!(send(&mut a, "00C0000000"), format!("{}9000", &fci[32..]));
}

#[test]
fn case_4_with_enough_le_gets_the_data_directly() {
    let mut a = adapter();
    let fci = fci();
    assert_eq!(
        send(&mut a, &format!("00A4040010{ECASD}00")),
        format!("{fci}9000")
    );
    assert_eq!(
        send(&mut a, &format!("00A4040010{ECASD}1A")),
        format!("{fci}9000")
    );
    assert_eq!(send(&mut a, "80CA005A00"), format!("5A10{EID}9000"));
    // Extended Le.
    assert_eq!(send(&mut a, "80CA005A000100"), format!("5A10{EID}9000"));
}

#[test]
fn short_le_gives_6cxx_and_the_resend_works() {
    let mut a = adapter();
    send(&mut a, &format!("00A4040C10{ECASD}"));
    assert_eq!(send(&mut a, "80CA005A05"), "6C12");
    assert_eq!(send(&mut a, "80CA005A12"), format!("5A10{EID}9000"));
    // 6Cxx leaves nothing pending.
    assert_eq!(send(&mut a, "00C0000012"), "6985");
}

#[test]
fn other_commands_discard_pending_data() {
    let mut a = adapter();
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "80CA005A"), "6112");
    assert_eq!(send(&mut a, "00C0000000"), format!("5A10{EID}9000"));
    assert_eq!(send(&mut a, "80CA005A"), "6112");
    assert_eq!(send(&mut a, "00120000"), "6D00");
    assert_eq!(send(&mut a, "00C0000000"), "6985");
}

#[test]
fn get_response_is_per_channel() {
    let mut a = adapter();
    assert_eq!(send(&mut a, "0070000001"), "019000");
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    // Channel 1 has nothing pending; channel 2 is closed; channel 0 still has its data.
    assert_eq!(send(&mut a, "01C000001A"), "6985");
    assert_eq!(send(&mut a, "02C000001A"), "6881");
    assert_eq!(send(&mut a, "00C000001A"), format!("{}9000", fci()));
    // MANAGE CHANNEL without Le is a case 1: the channel number comes through GET RESPONSE.
    assert_eq!(send(&mut a, "00700000"), "6101");
    assert_eq!(send(&mut a, "00C0000001"), "029000");
    assert_eq!(send(&mut a, &format!("02A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "02C0000000"), format!("{}9000", fci()));
    // The fetch may repeat the command's GP class (as pcsc-lite and pySim do).
    assert_eq!(send(&mut a, "80CA005A"), "6112");
    assert_eq!(send(&mut a, "80C0000012"), format!("5A10{EID}9000"));
    assert_eq!(send(&mut a, "00C0000012"), "6985");
}

#[test]
fn get_response_errors() {
    let mut a = adapter();
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "00C0010000"), "6A86");
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "04C0000000"), "6882");
    // Case 1 GET RESPONSE counts as Le 256.
    assert_eq!(send(&mut a, &format!("00A4040010{ECASD}")), "611A");
    assert_eq!(send(&mut a, "00C00000"), format!("{}9000", fci()));
}

/// A card answer longer than 256 bytes, made by a card whose state is unchanged: the adapter
/// logic is independent of where the data comes from, so long data is injected through
/// `deliver` directly.
#[test]
fn long_data_chains_61xx_beyond_256() {
    let data: Vec<u8> = (0..600u16)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let mut slot = ChannelTransport::default();
    // Case 3: 6100 (256 or more).
    let r = deliver(&mut slot, ResponseApdu::success(data.clone()), None);
    assert_eq!(r, ResponseApdu::status(StatusWord::BytesAvailable(0)));
    let get = |le| CommandApdu::new(0, 0xC0, 0, 0).with_le(le);
    let class = Class::parse(0).unwrap();
    let r1 = get_response(&mut slot, class, &get(256));
    assert_eq!(r1.data, data[..256]);
    assert_eq!(r1.sw, StatusWord::BytesAvailable(0)); // 344 left
    let r2 = get_response(&mut slot, class, &get(256));
    assert_eq!(r2.data, data[256..512]);
    assert_eq!(r2.sw, StatusWord::BytesAvailable(88));
    let r3 = get_response(&mut slot, class, &get(256));
    assert_eq!(r3.data, data[512..]);
    assert_eq!(r3.sw, StatusWord::Success);
    assert!(slot.pending.is_none());

    // Short Le 00 (256) on 600 bytes: the first 256 and 61xx for the rest.
    let r = deliver(&mut slot, ResponseApdu::success(data.clone()), Some(256));
    assert_eq!(r.data, data[..256]);
    assert_eq!(r.sw, StatusWord::BytesAvailable(0));
    let r = get_response(&mut slot, class, &get(0x58));
    assert_eq!(r.data, data[256..344]);
    assert_eq!(r.sw, StatusWord::BytesAvailable(0));
    // Extended Le covering everything: all at once.
    let r = deliver(&mut slot, ResponseApdu::success(data.clone()), Some(65536));
    assert_eq!(r.data, data);
    // A warning status word is kept for the end of the data; without Le (T=0, case 4) the
    // warning itself announces the data (ETSI TS 102 221 §7.3.1.1.4, 4b).
    let r = deliver(
        &mut slot,
        ResponseApdu::new(data.clone(), StatusWord::MoreDataAvailable),
        None,
    );
    assert_eq!(r.sw, StatusWord::MoreDataAvailable);
    assert!(r.data.is_empty());
    let sws: Vec<_> = (0..3)
        .map(|_| get_response(&mut slot, class, &get(256)).sw)
        .collect();
    assert_eq!(
        sws,
        [
            StatusWord::BytesAvailable(0),
            StatusWord::BytesAvailable(88),
            StatusWord::MoreDataAvailable
        ]
    );
}

#[test]
fn chained_select_is_reassembled() {
    let mut a = adapter();
    let (head, tail) = ECASD.split_at(10);
    assert_eq!(send(&mut a, &format!("10A4040C05{head}")), "9000");
    assert_eq!(a.card().selected(0), Some(Selected::Mf));
    assert_eq!(send(&mut a, &format!("00A4040C0B{tail}")), "9000");
    assert_eq!(
        a.card().selected(0),
        Some(Selected::Application(Application::Ecasd))
    );
    // Three pieces, the last with Le: the response comes directly.
    let (a1, rest) = ECASD.split_at(8);
    let (a2, a3) = rest.split_at(8);
    assert_eq!(send(&mut a, &format!("10A4040004{a1}")), "9000");
    assert_eq!(send(&mut a, &format!("10A4040004{a2}")), "9000");
    assert_eq!(
        send(&mut a, &format!("00A4040008{a3}00")),
        format!("{}9000", fci())
    );
}

#[test]
fn chain_errors() {
    let mut a = adapter();
    let (head, tail) = ECASD.split_at(10);
    // Different P2 in the last command.
    assert_eq!(send(&mut a, &format!("10A4040C05{head}")), "9000");
    assert_eq!(send(&mut a, &format!("00A404000B{tail}")), "6883");
    // The chain is gone: the same last command alone is an (unknown) partial AID.
    assert_eq!(send(&mut a, &format!("00A4040C0B{tail}")), "6A82");
    // Different INS in a middle command.
    assert_eq!(send(&mut a, &format!("10A4040C05{head}")), "9000");
    assert_eq!(send(&mut a, "10CA005A0100"), "6883");
    // GET RESPONSE does not interrupt a chain silently.
    assert_eq!(send(&mut a, &format!("10A4040C05{head}")), "9000");
    assert_eq!(send(&mut a, "00C0000000"), "6883");
    // Chains on different channels are independent.
    assert_eq!(send(&mut a, "0070000001"), "019000");
    assert_eq!(send(&mut a, &format!("10A4040C05{head}")), "9000");
    assert_eq!(send(&mut a, &format!("11A4040C05{head}")), "9000");
    assert_eq!(send(&mut a, &format!("01A4040C0B{tail}")), "9000");
    assert_eq!(send(&mut a, &format!("00A4040C0B{tail}")), "9000");
    assert_eq!(
        a.card().selected(1),
        Some(Selected::Application(Application::Ecasd))
    );
}

#[test]
fn chain_longer_than_65535_is_6700() {
    let mut a = adapter();
    let block = "AB".repeat(255);
    let piece = format!("10E20000FF{block}");
    for _ in 0..257 {
        assert_eq!(send(&mut a, &piece), "9000");
    }
    // 257 * 255 = 65535 bytes accepted; one more byte is too much.
    assert_eq!(send(&mut a, "10E200000101"), "6700");
    // After the failure a new chain starts from scratch and reaches the card (MF: 6D00).
    assert_eq!(send(&mut a, "10E200000101"), "9000");
    assert_eq!(send(&mut a, "00E200000101"), "6D00");
}

#[test]
fn malformed_commands() {
    let mut a = adapter();
    assert_eq!(send(&mut a, ""), "6700");
    assert_eq!(send(&mut a, "00A4"), "6700");
    assert_eq!(send(&mut a, "00A4040005AA"), "6700");
    assert_eq!(send(&mut a, "FFA40400"), "6E00");
    assert_eq!(send(&mut a, "03A40400"), "6881");
}
