//! SCP80 to the emulated card with smsr-proto's host side (`ota::host::script_envelopes`,
//! `open_por`): ES5 and ES8 scripts in SMS-PP download ENVELOPEs through [`Card::handle`], the
//! PoR in the ENVELOPE response or by FETCH, counters persisted, replay and tamper refused.

use crate::card::Card;
use crate::eid::parse_eid;
use crate::eum::{personalize_with_key, SCP80_KVN};
use crate::CardState;
use smsr_proto::ecka::{EstablishIsdpKeySet, HostConfig};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::{Aid, Install};
use smsr_proto::ota::host::{open_por, script_envelopes, SmsParameters};
use smsr_proto::ota::response::ResponseScript;
use smsr_proto::ota::scp80::{CommandHeader, KeySet, PorStatus, Spi};
use smsr_proto::ota::script::{CommandScript, ScriptChaining};
use smsr_proto::ota::sms::{fetch, SendShortMessage};
use smsr_proto::pki::TestPki;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

const EID: &str = "89044011112233441122334411223321";

fn keyset() -> KeySet {
    KeySet::aes(SCP80_KVN, &[0x11; 16], &[0x22; 16])
}

/// A card personalized by the EUM of `pki`, with the SCP80 key set [`keyset`].
fn card(pki: &TestPki) -> Card {
    let mut st = CardState::new(Some(parse_eid(EID).unwrap()));
    personalize_with_key(&mut st, &pki.issuers(), pki.ecasd.key.clone()).unwrap();
    st.scp80_keysets_mut().push(keyset());
    Card::new(st)
}

fn pki() -> TestPki {
    TestPki::generate(&parse_eid(EID).unwrap()).unwrap()
}

fn header(spi: Spi, counter: u64, keys: &KeySet, tar: [u8; 3]) -> CommandHeader {
    CommandHeader {
        spi,
        kic: keys.kic_indicator(),
        kid: keys.kid_indicator(),
        tar,
        counter,
    }
}

/// Sends `script` to the ISD-R's TAR and returns the PoR's status and response script (`None`
/// without data).
fn run(
    c: &mut Card,
    script: &CommandScript,
    spi: Spi,
    counter: u64,
    keys: &KeySet,
) -> (PorStatus, Option<ResponseScript>) {
    run_to(c, script, spi, counter, keys, [0x00, 0x00, 0x01])
}

/// Sends `script` to `tar`, as [`run`].
fn run_to(
    c: &mut Card,
    script: &CommandScript,
    spi: Spi,
    counter: u64,
    keys: &KeySet,
    tar: [u8; 3],
) -> (PorStatus, Option<ResponseScript>) {
    let h = header(spi, counter, keys, tar);
    let envelopes = script_envelopes(
        script,
        &h,
        std::slice::from_ref(keys),
        &SmsParameters::default(),
    )
    .unwrap();
    let mut last = None;
    for e in &envelopes {
        assert_eq!(&e.to_bytes().unwrap()[..2], &[0x80, 0xC2]);
        last = Some(c.handle(e));
    }
    let last: ResponseApdu = last.unwrap();
    let ud = match last.sw {
        StatusWord::Success => last.data,
        StatusWord::ProactiveCommandPending(n) => {
            let fetched = c.handle(&fetch(n));
            assert_eq!(fetched.sw, StatusWord::Success);
            let command = SendShortMessage::parse(&fetched.data).unwrap();
            let tr = c.handle(&command.terminal_response_ok());
            assert_eq!(tr.sw, StatusWord::Success);
            command.tpdu.user_data().unwrap()
        }
        other => panic!("ENVELOPE answered {other:?}"),
    };
    let (por, script) = open_por(&ud, &h, std::slice::from_ref(keys)).unwrap();
    (por.status, script)
}

fn sws(script: &ResponseScript) -> Vec<StatusWord> {
    script.response_apdus().map(|r| r.sw).collect()
}

fn isd_p(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

#[test]
fn create_isd_p_by_sms_with_the_por_both_ways_and_counters_kept() {
    let pki = pki();
    let mut c = card(&pki);
    let create = |n| Install::create_isd_p(isd_p(n), None).to_apdu().unwrap();
    let script = CommandScript::of_apdus([create(0x10)]);
    let (status, answer) = run(&mut c, &script, Spi::SECURE, 1, &keyset());
    assert_eq!(status, PorStatus::Ok);
    let answer = answer.unwrap();
    assert_eq!(sws(&answer), vec![StatusWord::Success]);
    assert_eq!(answer.response_apdus().next().unwrap().data, vec![0x00]);
    assert!(c.state().registry().isd_p(isd_p(0x10).as_bytes()).is_some());
    assert_eq!(c.state().scp80_keysets()[0].counter, 1);
    assert!(c.take_dirty());

    // PoR by SMS-SUBMIT: 91xx, FETCH, TERMINAL RESPONSE.
    let submit = Spi {
        por_via_submit: true,
        ..Spi::SECURE
    };
    let script = CommandScript::of_apdus([create(0x11)]);
    let (status, answer) = run(&mut c, &script, submit, 2, &keyset());
    assert_eq!(status, PorStatus::Ok);
    assert_eq!(sws(&answer.unwrap()), vec![StatusWord::Success]);
    assert_eq!(
        c.handle(&fetch(0)).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );

    // Replay (counter not higher): refused, nothing runs.
    let script = CommandScript::of_apdus([create(0x12)]);
    let (status, answer) = run(&mut c, &script, Spi::SECURE, 2, &keyset());
    assert_eq!((status, answer), (PorStatus::CounterLow, None));
    assert!(c.state().registry().isd_p(isd_p(0x12).as_bytes()).is_none());

    // Wrong keys: RC/CC/DS failed; without ciphering: below the TAR's minimum level.
    let wrong = KeySet::aes(SCP80_KVN, &[0x11; 16], &[0x33; 16]);
    let (status, _) = run(&mut c, &script, Spi::SECURE, 3, &wrong);
    assert_eq!(status, PorStatus::RcCcDsFailed);
    let clear = Spi {
        ciphered: false,
        ..Spi::SECURE
    };
    let (status, _) = run(&mut c, &script, clear, 3, &keyset());
    assert_eq!(status, PorStatus::InsufficientSecurityLevel);
    assert!(c.state().registry().isd_p(isd_p(0x12).as_bytes()).is_none());

    // The counter survives the state file and a reset.
    let back = CardState::from_json(&c.state().to_json()).unwrap();
    assert_eq!(back.scp80_keysets()[0].counter, 2);
    let mut c = Card::new(back);
    let (status, _) = run(&mut c, &script, Spi::SECURE, 2, &keyset());
    assert_eq!(status, PorStatus::CounterLow);
    let (status, _) = run(&mut c, &script, Spi::SECURE, 3, &keyset());
    assert_eq!(status, PorStatus::Ok);
}

#[test]
fn es8_key_establishment_in_two_chained_scripts() {
    let pki = pki();
    let mut c = card(&pki);
    let create = Install::create_isd_p(isd_p(0x10), None).to_apdu().unwrap();
    let (status, _) = run(
        &mut c,
        &CommandScript::of_apdus([create]),
        Spi::SECURE,
        1,
        &keyset(),
    );
    assert_eq!(status, PorStatus::Ok);

    let host = EstablishIsdpKeySet::new(
        HostConfig::default(),
        pki.sm_dp.certificate.clone(),
        pki.sm_dp.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap();
    let install = Install::ForPersonalization(isd_p(0x10)).to_apdu().unwrap();
    let certificate = host.certificate_command().unwrap().to_apdu().unwrap();
    let first =
        CommandScript::of_apdus([install, certificate]).chained(ScriptChaining::FirstDeleteOnReset);
    let (status, answer) = run(&mut c, &first, Spi::SECURE, 2, &keyset());
    assert_eq!(status, PorStatus::Ok);
    let answer = answer.unwrap();
    assert_eq!(sws(&answer), vec![StatusWord::Success; 2]);
    let rc = answer.response_apdus().nth(1).unwrap().data.clone();
    let awaiting = host.receive_challenge(&rc).unwrap();

    let second = CommandScript::of_apdus([awaiting.key_parameters_command().to_apdu().unwrap()])
        .chained(ScriptChaining::Last);
    let (status, answer) = run(&mut c, &second, Spi::SECURE, 3, &keyset());
    assert_eq!(status, PorStatus::Ok);
    let receipt = answer.unwrap().response_apdus().next().unwrap().clone();
    assert_eq!(receipt.sw, StatusWord::Success);
    let keys = awaiting.receive_receipt(&receipt.data).unwrap();
    let record = c.state().registry().find(isd_p(0x10).as_bytes()).unwrap();
    assert_eq!(record.life_cycle, life_cycle::PERSONALIZED);
    let stored = c.state().isd_p_scp03(isd_p(0x10).as_bytes()).unwrap();
    assert_eq!(stored.keysets()[0].keys.kcvs(), keys.keys.kcvs());
}

#[test]
fn put_key_is_refused_and_envelopes_on_other_channels_are_not_sms() {
    let pki = pki();
    let mut c = card(&pki);
    let put_key = CommandApdu::new(0x80, 0xD8, 0x00, 0x81).with_data(vec![0x30; 20]);
    let (status, answer) = run(
        &mut c,
        &CommandScript::of_apdus([put_key]),
        Spi::SECURE,
        1,
        &keyset(),
    );
    assert_eq!(status, PorStatus::Ok);
    assert_eq!(
        sws(&answer.unwrap()),
        vec![StatusWord::ConditionsOfUseNotSatisfied]
    );
    // FETCH with nothing pending, and ENVELOPE data that is no SMS-PP download.
    assert_eq!(
        c.handle(&fetch(0x10)).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    let junk = CommandApdu::new(0x80, 0xC2, 0x00, 0x00).with_data(vec![0xD1, 0x01, 0x00]);
    assert_eq!(c.handle(&junk).sw, StatusWord::IncorrectData);
}

mod download;

/// A command packet in the compact format (TS 102 226 §5.1.1, what SIM RFM tools such as
/// pySim's OTA send by default) runs on the ISD-R and gets the compact response: commands
/// executed, the last status word and its data.
#[test]
fn compact_command_packet_gets_a_compact_response() {
    use smsr_proto::ota::compact::CompactResponse;
    use smsr_proto::ota::scp80::{CommandPacket, ResponsePacket};
    use smsr_proto::ota::sms::{command_packet_messages, sms_pp_download};
    let pki = pki();
    let mut c = card(&pki);
    let keys = keyset();
    let h = header(Spi::SECURE, 1, &keys, [0x00, 0x00, 0x01]);
    // GET DATA 'FF21' (extended card resources, P3 = Le), then an instruction the ISD-R does
    // not know, which stops the string.
    let data = hex::decode("80CAFF2100".to_owned() + "80FE000000").unwrap();
    let packet = CommandPacket::encode(&h, std::slice::from_ref(&keys), &data).unwrap();
    let sms = SmsParameters::default();
    let mut last = None;
    for m in command_packet_messages(&packet, &sms.originator, sms.scts, sms.reference).unwrap() {
        last = Some(c.handle(&sms_pp_download(&m, None).unwrap()));
    }
    let last = last.unwrap();
    assert_eq!(last.sw, StatusWord::Success);
    let por = ResponsePacket::decode(&last.data, &h, std::slice::from_ref(&keys)).unwrap();
    assert_eq!(por.status, PorStatus::Ok);
    let r = CompactResponse::parse(&por.data).unwrap();
    assert_eq!(r.executed, 2, "{r:?}");
    assert_eq!(r.sw, StatusWord::InsNotSupported, "{r:?}");
}
