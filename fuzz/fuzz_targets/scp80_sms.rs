//! SCP80 over SMS-PP: SMS TPDUs and addresses (3GPP TS 23.040), SEND SHORT MESSAGE proactive
//! commands, SCP80 command packets and PoRs (ETSI TS 102 225 / 3GPP TS 31.115), compact
//! remote responses, and the card's whole ENVELOPE (SMS-PP download) path.
//!
//! The first byte selects the parser, the rest is its input. The key sets are fixed test keys
//! (AES, two-key and three-key triple DES), so only unsecured packets and packets with a bad
//! RC/CC go further than the security checks. None of it may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::ota::card::OtaCard;
use smsr_proto::ota::compact::CompactResponse;
use smsr_proto::ota::scp80::{
    CommandHeader, CommandPacket, KeyIndicator, KeySet, MinimumSecurityLevel, PorStatus,
    ReceivingEntity, Reception, ResponsePacket, Spi,
};
use smsr_proto::ota::sms::{
    parse_udh, Address, Reassembler, SendShortMessage, SmsDeliver, SmsSubmit,
};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

fn keysets() -> Vec<KeySet> {
    vec![
        KeySet::aes(1, &[0x11; 16], &[0x12; 16]),
        KeySet::triple_des(2, &[0x21; 16], &[0x22; 16]),
        KeySet::triple_des(3, &[0x31; 24], &[0x32; 24]),
    ]
}

fn entity(tar: [u8; 3]) -> ReceivingEntity {
    ReceivingEntity {
        keysets: keysets(),
        tars: vec![
            (tar, MinimumSecurityLevel::NONE),
            (
                [0x00, 0x00, 0x01],
                MinimumSecurityLevel::CC_CIPHERED_COUNTER,
            ),
        ],
    }
}

fn sms(d: &[u8]) {
    if let Ok(m) = SmsDeliver::parse(d) {
        let mut r = Reassembler::new();
        let _ = r.push(&m);
        let _ = r.push(&m);
    }
    if let Ok(s) = SmsSubmit::parse(d) {
        let _ = s.user_data();
    }
    let _ = SendShortMessage::parse(d);
    let _ = parse_udh(d);
    let _ = Address::parse_tp(d);
    let _ = Address::from_cat_value(d);
    let _ = CompactResponse::parse(d);
}

fn packets(d: &[u8]) {
    let keysets = keysets();
    let _ = CommandPacket::peek(d);
    let _ = CommandPacket::decode(d, &keysets);
    let _ = ResponsePacket::decode_unsecured(d);
    // A PoR answering a command whose SPI, KIc and KID are the first four bytes.
    if let [s1, s2, kic, kid, por @ ..] = d {
        if let Ok(spi) = Spi::parse([*s1, *s2]) {
            let header = CommandHeader {
                spi,
                kic: KeyIndicator(*kic),
                kid: KeyIndicator(*kid),
                tar: [0xB0, 0x00, 0x00],
                counter: 1,
            };
            let _ = ResponsePacket::decode(por, &header, &keysets);
        }
    }
}

fn receive(d: &[u8]) {
    // The TAR of the packet itself is served without a minimum security level.
    let tar = match d {
        [_, _, _, _, _, _, _, a, b, c, ..] => [*a, *b, *c],
        _ => [0; 3],
    };
    let mut e = entity(tar);
    if let Reception::Accepted(cmd) = e.receive(d) {
        let _ = e.por(&cmd.header, PorStatus::Ok, &cmd.data);
        let _ = e.por(&cmd.header, PorStatus::RcCcDsFailed, &[]);
    }
}

fn envelopes(d: &[u8]) {
    let mut card = OtaCard::new(entity([0xB0, 0x00, 0x00]));
    let mut target = |c: &CommandApdu| ResponseApdu::new(c.data.clone(), StatusWord::Success);
    let mut rest = d;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        if let Ok(cmd) = CommandApdu::parse(apdu) {
            let _ = card.envelope(&cmd, &mut target);
        }
        rest = next;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => sms(rest),
        1 => packets(rest),
        2 => receive(rest),
        _ => envelopes(rest),
    }
});
