//! Host and card halves together: a script goes out as an SCP80 packet in SMS-PP download
//! ENVELOPEs, the card reassembles, verifies, runs it and answers with a PoR that the host
//! opens. The halves were written together, so the independent vectors live next to each part;
//! this checks that they also agree with each other, including on tampering and replay.

use super::executor::execute_bytes;
use super::scp80::{
    CommandHeader, CommandPacket, KeySet, MinimumSecurityLevel, PorStatus, ReceivingEntity,
    Reception, ResponsePacket, Spi,
};
use super::script::{CommandScript, ResponseScript, ScriptChaining};
use super::sms::{command_packet_messages, sms_pp_download, Address, Reassembler, SmsPpDownload};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;

const ISD_R_TAR: [u8; 3] = [0x00, 0x00, 0x01];

fn keyset() -> KeySet {
    KeySet::aes(
        1,
        &hex::decode("404142434445464748494A4B4C4D4E4F").unwrap(),
        &hex::decode("505152535455565758595A5B5C5D5E5F").unwrap(),
    )
}

struct Card {
    re: ReceivingEntity,
    sms: Reassembler,
    executed: Vec<u8>,
}

impl Card {
    fn new() -> Self {
        Self {
            re: ReceivingEntity {
                keysets: vec![keyset()],
                tars: vec![(ISD_R_TAR, MinimumSecurityLevel::CC_CIPHERED_COUNTER)],
            },
            sms: Reassembler::new(),
            executed: Vec::new(),
        }
    }

    /// One ENVELOPE in, its response out.
    fn envelope(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        let Ok(dl) = SmsPpDownload::from_apdu(cmd) else {
            return ResponseApdu::status(StatusWord::IncorrectData);
        };
        let packet = match self.sms.push(&dl.tpdu) {
            Ok(Some(p)) => p,
            Ok(None) => return ResponseApdu::success(vec![]),
            Err(_) => return ResponseApdu::status(StatusWord::IncorrectData),
        };
        match self.re.receive(&packet) {
            Reception::Accepted(c) => {
                let executed = &mut self.executed;
                let mut isd_r = |a: &CommandApdu| {
                    executed.push(a.ins);
                    if a.ins == 0xE4 {
                        ResponseApdu::status(StatusWord::ReferencedDataNotFound)
                    } else {
                        ResponseApdu::success(vec![0x00])
                    }
                };
                let answer = match execute_bytes(&c.data, &mut isd_r) {
                    Ok(ex) => ex.response.to_bytes(),
                    Err(_) => Vec::new(),
                };
                let por = self.re.por(&c.header, PorStatus::Ok, &answer).unwrap();
                ResponseApdu::success(por.unwrap_or_default())
            }
            Reception::Rejected { por, .. } => ResponseApdu::success(por.unwrap_or_default()),
            Reception::Dropped(_) => ResponseApdu::status(StatusWord::IncorrectData),
        }
    }
}

fn header(counter: u64) -> CommandHeader {
    let k = keyset();
    CommandHeader {
        spi: Spi::SECURE,
        kic: k.kic_indicator(),
        kid: k.kid_indicator(),
        tar: ISD_R_TAR,
        counter,
    }
}

/// Sends `script` and returns the PoR the host reads.
fn round(card: &mut Card, script: &CommandScript, counter: u64, tamper: bool) -> ResponsePacket {
    let h = header(counter);
    let mut packet = CommandPacket::encode(&h, &[keyset()], &script.to_bytes().unwrap()).unwrap();
    if tamper {
        *packet.last_mut().unwrap() ^= 0x80;
    }
    let msgs = command_packet_messages(&packet, &Address::unknown("123"), [0; 7], 9).unwrap();
    let mut last = None;
    for m in &msgs {
        last = Some(card.envelope(&sms_pp_download(m, None).unwrap()));
    }
    let r = last.unwrap();
    assert_eq!(r.sw, StatusWord::Success);
    ResponsePacket::decode(&r.data, &h, &[keyset()]).unwrap()
}

#[test]
fn script_over_sms_round_trip() {
    let mut card = Card::new();
    // A script long enough for three concatenated messages.
    let install = CommandApdu::new(0x80, 0xE6, 0x0C, 0x00).with_data(vec![0x10; 150]);
    let script = CommandScript::of_apdus([
        install.clone(),
        install,
        CommandApdu::new(0x80, 0xE4, 0, 0x40),
    ])
    .chained(ScriptChaining::FirstDeleteOnReset);
    let por = round(&mut card, &script, 1, false);
    assert_eq!(por.status, PorStatus::Ok);
    assert_eq!(por.counter, 1);
    let answer = ResponseScript::parse(&por.data).unwrap();
    assert_eq!(answer.executed, 3);
    let sws: Vec<_> = answer.response_apdus().map(|r| r.sw).collect();
    assert_eq!(
        sws,
        vec![
            StatusWord::Success,
            StatusWord::Success,
            StatusWord::ReferencedDataNotFound
        ]
    );
    assert_eq!(card.executed, vec![0xE6, 0xE6, 0xE4]);

    // Replay: counter low, nothing runs.
    let por = round(&mut card, &script, 1, false);
    assert_eq!(por.status, PorStatus::CounterLow);
    assert_eq!(card.executed.len(), 3);

    // Tampered: RC/CC/DS failed, unsecured PoR, nothing runs, counter not moved.
    let por = round(&mut card, &script, 2, true);
    assert_eq!(por.status, PorStatus::RcCcDsFailed);
    assert_eq!(card.executed.len(), 3);
    assert_eq!(card.re.keysets[0].counter, 1);

    // The next counter works.
    let por = round(
        &mut card,
        &CommandScript::of_apdus([CommandApdu::new(0x80, 0xCA, 0, 0x66)]),
        2,
        false,
    );
    assert_eq!(por.status, PorStatus::Ok);
    assert_eq!(card.executed.len(), 4);
}
