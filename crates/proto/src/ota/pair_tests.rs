//! Host and card halves together: a script goes out as an SCP80 packet in SMS-PP download
//! ENVELOPEs, the card reassembles, verifies, runs it and answers with a PoR that the host
//! opens. The halves were written together, so the independent vectors live next to each part;
//! this checks that they also agree with each other, including on tampering and replay.

use super::card::OtaCard;
use super::host::{open_por, script_envelopes, SmsParameters};
use super::scp80::{
    CommandHeader, KeySet, MinimumSecurityLevel, PorStatus, ReceivingEntity, ResponsePacket, Spi,
};
use super::script::{CommandScript, ScriptChaining};
use super::sms::{fetch, SendShortMessage};
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

fn card() -> OtaCard {
    OtaCard::new(ReceivingEntity {
        keysets: vec![keyset()],
        tars: vec![(ISD_R_TAR, MinimumSecurityLevel::CC_CIPHERED_COUNTER)],
    })
}

/// The ISD-R: `E4` (DELETE) fails with 6A88, everything else answers `00 9000`.
fn isd_r(log: &mut Vec<u8>) -> impl FnMut(&CommandApdu) -> ResponseApdu + '_ {
    move |a| {
        log.push(a.ins);
        if a.ins == 0xE4 {
            ResponseApdu::status(StatusWord::ReferencedDataNotFound)
        } else {
            ResponseApdu::success(vec![0x00])
        }
    }
}

fn header(spi: Spi, counter: u64) -> CommandHeader {
    let k = keyset();
    CommandHeader {
        spi,
        kic: k.kic_indicator(),
        kid: k.kid_indicator(),
        tar: ISD_R_TAR,
        counter,
    }
}

/// Sends `script` (optionally with the last ciphertext byte flipped) and returns the PoR user
/// data, fetching it with FETCH when the card sends it by SMS-SUBMIT.
fn round(
    card: &mut OtaCard,
    log: &mut Vec<u8>,
    script: &CommandScript,
    h: &CommandHeader,
    tamper: bool,
) -> Vec<u8> {
    let mut envelopes =
        script_envelopes(script, h, &[keyset()], &SmsParameters::default()).unwrap();
    if tamper {
        let last = envelopes.last_mut().unwrap();
        *last.data.last_mut().unwrap() ^= 0x80;
    }
    let mut outcome = None;
    for e in &envelopes {
        outcome = Some(card.envelope(e, &mut isd_r(log)));
    }
    let outcome = outcome.unwrap();
    match outcome.response.sw {
        StatusWord::Success => outcome.response.data,
        StatusWord::ProactiveCommandPending(n) => {
            let p = outcome.proactive.unwrap();
            assert_eq!(fetch(n).le, Some(p.len()));
            SendShortMessage::parse(&p)
                .unwrap()
                .tpdu
                .user_data()
                .unwrap()
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn script_over_sms_round_trip() {
    let mut card = card();
    let mut log = Vec::new();
    // A script long enough for three concatenated messages.
    let install = CommandApdu::new(0x80, 0xE6, 0x0C, 0x00).with_data(vec![0x10; 150]);
    let script = CommandScript::of_apdus([
        install.clone(),
        install,
        CommandApdu::new(0x80, 0xE4, 0, 0x40),
    ])
    .chained(ScriptChaining::FirstDeleteOnReset);
    let h = header(Spi::SECURE, 1);
    let ud = round(&mut card, &mut log, &script, &h, false);
    let (por, answer) = open_por(&ud, &h, &[keyset()]).unwrap();
    assert_eq!(por.status, PorStatus::Ok);
    assert_eq!(por.counter, 1);
    let answer = answer.unwrap();
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
    assert_eq!(log, vec![0xE6, 0xE6, 0xE4]);

    // Replay: counter low, nothing runs.
    let ud = round(&mut card, &mut log, &script, &h, false);
    assert_eq!(
        open_por(&ud, &h, &[keyset()]).unwrap().0.status,
        PorStatus::CounterLow
    );
    assert_eq!(log.len(), 3);

    // Tampered: RC/CC/DS failed, unsecured PoR, nothing runs, counter not moved.
    let h2 = header(Spi::SECURE, 2);
    let ud = round(&mut card, &mut log, &script, &h2, true);
    assert_eq!(ud[5], 0x0A, "unsecured PoR");
    assert_eq!(
        open_por(&ud, &h2, &[keyset()]).unwrap().0.status,
        PorStatus::RcCcDsFailed
    );
    assert_eq!(log.len(), 3);
    assert_eq!(card.entity.keysets[0].counter, 1);

    // The next counter works, with the PoR by SMS-SUBMIT (SPI 16 39).
    let submit = Spi {
        por_via_submit: true,
        ..Spi::SECURE
    };
    assert_eq!(submit.to_bytes(), [0x16, 0x39]);
    let h3 = header(submit, 2);
    let get_data = CommandScript::of_apdus([CommandApdu::new(0x80, 0xCA, 0, 0x66)]);
    let ud = round(&mut card, &mut log, &get_data, &h3, false);
    let (por, answer) = open_por(&ud, &h3, &[keyset()]).unwrap();
    assert_eq!(
        por,
        ResponsePacket {
            tar: ISD_R_TAR,
            counter: 2,
            status: PorStatus::Ok,
            data: por.data.clone()
        }
    );
    assert_eq!(answer.unwrap().executed, 1);
    assert_eq!(log.len(), 4);
}

#[test]
fn envelope_errors_on_the_card() {
    let mut card = card();
    let mut log = Vec::new();
    let not_sms = CommandApdu::new(0x80, 0xC2, 0, 0).with_data(vec![0xD1, 0x00]);
    assert_eq!(
        card.envelope(&not_sms, &mut isd_r(&mut log)).response.sw,
        StatusWord::IncorrectData
    );
    // No PoR requested: 9000 without data, and the script still runs.
    let quiet = Spi {
        por: super::scp80::PorRequest::None,
        ..Spi::SECURE
    };
    let h = header(quiet, 1);
    let e = script_envelopes(
        &CommandScript::of_apdus([CommandApdu::new(0x80, 0xF2, 0x80, 0)]),
        &h,
        &[keyset()],
        &SmsParameters::default(),
    )
    .unwrap();
    let out = card.envelope(&e[0], &mut isd_r(&mut log));
    assert_eq!(out.response, ResponseApdu::success(vec![]));
    assert_eq!(out.execution.unwrap().response.executed, 1);
    assert_eq!(log, vec![0xF2]);
}

/// A target that records the TAR it is told before each script and the INS it runs.
#[derive(Default)]
struct Recorder {
    log: Vec<([u8; 3], u8)>,
    tar: Option<[u8; 3]>,
}

impl super::executor::ScriptTarget for Recorder {
    fn addressed(&mut self, tar: [u8; 3]) {
        self.tar = Some(tar);
    }

    fn apdu(&mut self, command: &CommandApdu) -> ResponseApdu {
        self.log.push((self.tar.unwrap_or_default(), command.ins));
        ResponseApdu::success(vec![])
    }
}

#[test]
fn the_target_is_told_the_tar_of_each_accepted_packet() {
    const ISD_P_TAR: [u8; 3] = [0x00, 0x00, 0x10];
    let mut card = card();
    card.entity
        .tars
        .push((ISD_P_TAR, MinimumSecurityLevel::CC_CIPHERED_COUNTER));
    let mut target = Recorder::default();
    let mut send = |card: &mut OtaCard, tar, counter, ins| {
        let h = CommandHeader {
            tar,
            ..header(Spi::SECURE, counter)
        };
        let script = CommandScript::of_apdus([CommandApdu::new(0x80, ins, 0, 0)]);
        let envelopes =
            script_envelopes(&script, &h, &[keyset()], &SmsParameters::default()).unwrap();
        let mut status = None;
        for e in &envelopes {
            let outcome = card.envelope(e, &mut target);
            status = Some(outcome.response.data);
        }
        open_por(&status.unwrap(), &h, &[keyset()])
            .unwrap()
            .0
            .status
    };
    assert_eq!(send(&mut card, ISD_P_TAR, 1, 0xCA), PorStatus::Ok);
    assert_eq!(send(&mut card, ISD_R_TAR, 2, 0xF2), PorStatus::Ok);
    // Unknown TAR and replay: refused before the target hears of them.
    assert_eq!(
        send(&mut card, [0x00, 0x00, 0x11], 3, 0xE4),
        PorStatus::TarUnknown
    );
    assert_eq!(send(&mut card, ISD_P_TAR, 2, 0xE4), PorStatus::CounterLow);
    assert_eq!(target.log, vec![(ISD_P_TAR, 0xCA), (ISD_R_TAR, 0xF2)]);
    assert_eq!(target.tar, Some(ISD_R_TAR));
}
