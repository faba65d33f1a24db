//! Card-side replays of every recorded session (the card reproduces the recorded INITIALIZE
//! UPDATE response, accepts the recorded commands, and wraps the plain responses into the
//! recorded bytes), the card's handshake errors, and tamper tests.

use super::*;
use crate::scp03::host::{HostOptions, Scp03Host};
use crate::scp03::test_fixtures::{from_vectors, published, Session};
use crate::scp03::testdata::{h, scp03_vectors};

/// A card configured like the one that produced `s`.
fn card_for(s: &Session) -> (Scp03Card, Option<Vec<u8>>) {
    let rsp = ResponseApdu::parse(&s.init_update_rsp).unwrap();
    let info = InitializeUpdateResponse::parse(&rsp.data).unwrap();
    let aid = s.sd_aid.clone().unwrap_or_else(|| h("A000000151000000"));
    let mut card = Scp03Card::new(&aid, info.options, info.kdd).unwrap();
    let seq = info.sequence_counter_value().unwrap_or(1);
    card.add_keyset(StaticKeys::single(0x01, &[0x11; 16]).unwrap(), 0);
    card.add_keyset(s.keys.clone(), seq - 1);
    // Cards whose challenges are not derived get the recorded one injected.
    let injected = s.sd_aid.is_none().then(|| info.card_challenge.clone());
    (card, injected)
}

fn replay(s: &Session) {
    let (mut card, injected) = card_for(s);
    let iu = CommandApdu::parse(&s.init_update_cmd).unwrap();
    let (resp, pending) = card
        .initialize_update_from_values(&iu, injected.as_deref())
        .unwrap();
    assert_eq!(resp.to_bytes(), s.init_update_rsp, "{}", s.name);
    let seq = InitializeUpdateResponse::parse(&resp.data)
        .unwrap()
        .sequence_counter_value();
    assert_eq!(card.sequence_counter(s.keys.kvn()), seq);
    let (resp, mut session) = pending
        .external_authenticate(&CommandApdu::parse(&s.ext_auth_cmd).unwrap())
        .unwrap();
    assert_eq!(resp.to_bytes(), h("9000"));
    assert_eq!(session.level(), Some(s.level));
    // A host in step, to read back responses the card pads differently from the recording.
    let mut host = {
        let opts = HostOptions {
            kvn: s.kvn(),
            mode: s.mode,
            ..HostOptions::default()
        };
        let h = Scp03Host::from_values(s.keys.clone(), opts, s.host_challenge()).unwrap();
        let a = h
            .on_initialize_update_response(&ResponseApdu::parse(&s.init_update_rsp).unwrap())
            .unwrap();
        let (_, w) = a.external_authenticate_command(s.level).unwrap();
        w.on_external_authenticate_response(&ResponseApdu::status(StatusWord::Success))
            .unwrap()
    };
    for (n, step) in s.steps.iter().enumerate() {
        let recorded = CommandApdu::parse(&step.wrapped_cmd).unwrap();
        let plain = session.unwrap_command(&recorded).unwrap();
        assert_eq!(
            plain,
            CommandApdu::parse(&step.plain_cmd).unwrap(),
            "{} step {n}",
            s.name
        );
        host.wrap_command(plain).unwrap();
        let Some((plain_rsp, recorded_rsp)) = &step.response else {
            continue;
        };
        let wrapped = session.wrap_response(ResponseApdu::success(plain_rsp.clone()));
        if wrapped.to_bytes().len() == recorded_rsp.len() {
            assert_eq!(&wrapped.to_bytes(), recorded_rsp, "{} step {n}", s.name);
        } else {
            // The recording pads past one block; ours is the minimal padding.
            assert!(recorded_rsp.len() > wrapped.to_bytes().len());
            assert_eq!((recorded_rsp.len() - wrapped.to_bytes().len()) % 16, 0);
        }
        assert_eq!(host.unwrap_response(wrapped).unwrap().data, *plain_rsp);
    }
    assert!(!session.is_aborted());
}

#[test]
fn replays_vector_file_sessions() {
    let Some(v) = scp03_vectors() else { return };
    from_vectors(&v).iter().for_each(replay);
}

#[test]
fn replays_published_aes192_aes256_and_s16_sessions() {
    published().iter().for_each(replay);
}

fn default_card(i: u8) -> Scp03Card {
    let mut card = Scp03Card::new(
        &h("A000000151000000"),
        ScpOptions::from_i(i).unwrap(),
        [7; 10],
    )
    .unwrap();
    card.add_keyset(
        StaticKeys::single(0x30, &h("404142434445464748494A4B4C4D4E4F")).unwrap(),
        0,
    );
    card
}

fn init_update(challenge: &[u8], kvn: u8) -> CommandApdu {
    CommandApdu::new(0x80, 0x50, kvn, 0)
        .with_data(challenge.to_vec())
        .with_le(256)
}

#[test]
fn initialize_update_errors() {
    let mut card = default_card(0x70);
    let sw = |r: Result<(ResponseApdu, CardPending), Rejection>| r.map(|_| ()).unwrap_err().sw;
    assert_eq!(
        sw(card.initialize_update(&init_update(&[1; 8], 0x31))),
        StatusWord::ReferencedDataNotFound
    );
    assert_eq!(
        sw(card.initialize_update(&init_update(&[1; 16], 0x30))),
        StatusWord::WrongLength
    );
    let mut p2 = init_update(&[1; 8], 0x30);
    p2.p2 = 1;
    assert_eq!(sw(card.initialize_update(&p2)), StatusWord::IncorrectP1P2);
    let mut cla = init_update(&[1; 8], 0x30);
    cla.cla = 0x84;
    assert_eq!(
        sw(card.initialize_update(&cla)),
        StatusWord::ClaNotSupported
    );
    assert_eq!(
        card.sequence_counter(0x30),
        Some(0),
        "refusals do not count"
    );
    // KVN '00' takes the first key set.
    let (resp, pending) = card.initialize_update(&init_update(&[1; 8], 0)).unwrap();
    assert_eq!(pending.kvn(), 0x30);
    assert_eq!(resp.data[10], 0x30);
    assert_eq!(card.sequence_counter(0x30), Some(1));
    // The counter stops at its maximum with '6985'.
    card.add_keyset(card.keyset(0x30).unwrap().clone(), SEQUENCE_COUNTER_MAX - 1);
    assert!(card.initialize_update(&init_update(&[1; 8], 0x30)).is_ok());
    let r = card
        .initialize_update(&init_update(&[1; 8], 0x30))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    assert_eq!(r.reason, ScpError::SequenceCounterExhausted(0x30));
    assert_eq!(card.sequence_counter(0x30), Some(SEQUENCE_COUNTER_MAX));
    // Replacing the set restarts the counter.
    card.replace_keyset(card.keyset(0x30).unwrap().clone());
    assert_eq!(card.sequence_counter(0x30), Some(0));
    assert!(card.remove_keyset(0x30));
    assert!(card.keyset(0x30).is_none());
}

/// A host and a card, INITIALIZE UPDATE done.
fn handshake(i: u8, level: SecurityLevel) -> (CommandApdu, CardPending, Scp03Card) {
    let mut card = default_card(i);
    let mode = ScpOptions::from_i(i).unwrap().mode;
    let opts = HostOptions {
        kvn: 0x30,
        mode,
        ..HostOptions::default()
    };
    let host = Scp03Host::new(card.keyset(0x30).unwrap().clone(), opts).unwrap();
    let (resp, pending) = card
        .initialize_update(&host.initialize_update_command().unwrap())
        .unwrap();
    let auth = host.on_initialize_update_response(&resp).unwrap();
    let (ea, _) = auth.external_authenticate_command(level).unwrap();
    (ea, pending, card)
}

#[test]
fn external_authenticate_errors() {
    let level = SecurityLevel::CMacRMac;
    let reject = |i: u8, edit: fn(&mut CommandApdu)| {
        let (mut ea, pending, _) = handshake(i, level);
        edit(&mut ea);
        pending.external_authenticate(&ea).map(|_| ()).unwrap_err()
    };
    let r = reject(0x70, |c| c.data[0] ^= 1);
    assert_eq!(
        (r.sw, r.reason),
        (
            StatusWord::AuthenticationFailed,
            ScpError::HostCryptogramMismatch
        )
    );
    let r = reject(0x71, |c| c.data[31] ^= 1);
    assert_eq!(
        (r.sw, r.reason),
        (
            StatusWord::SecurityStatusNotSatisfied,
            ScpError::CMacMismatch
        )
    );
    let r = reject(0x70, |c| c.p1 = 0x31);
    assert_eq!(
        (r.sw, r.reason),
        (
            StatusWord::IncorrectP1P2,
            ScpError::InvalidSecurityLevel(0x31)
        )
    );
    let r = reject(0x70, |c| c.cla = 0x80);
    assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
    let r = reject(0x70, |c| {
        c.data.pop();
    });
    assert_eq!(r.sw, StatusWord::WrongLength);
    // A card without R-MAC support refuses level '11' (the host refuses to ask, too).
    let (mut ea, pending, _) = handshake(0x10, SecurityLevel::CMac);
    ea.p1 = 0x11;
    let r = pending.external_authenticate(&ea).map(|_| ()).unwrap_err();
    assert_eq!(r.sw, StatusWord::IncorrectP1P2);
    assert_eq!(
        r.reason,
        ScpError::LevelNotSupported {
            level: 0x11,
            i: 0x10
        }
    );
}
