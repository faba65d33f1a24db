//! Host-side replays of every recorded session (exact APDUs out, exact plaintext back) and the
//! handshake's error paths.

use super::*;
use crate::scp03::test_fixtures::{from_vectors, published, Session};
use crate::scp03::testdata::{h, scp03_vectors};

fn options(s: &Session) -> HostOptions {
    HostOptions {
        kvn: s.kvn(),
        mode: s.mode,
        ..HostOptions::default()
    }
}

fn authenticate(s: &Session) -> CardAuthenticated {
    let host = Scp03Host::from_values(s.keys.clone(), options(s), s.host_challenge()).unwrap();
    assert_eq!(
        host.initialize_update_command()
            .unwrap()
            .to_bytes()
            .unwrap(),
        s.init_update_cmd,
        "{}",
        s.name
    );
    host.on_initialize_update_response(&ResponseApdu::parse(&s.init_update_rsp).unwrap())
        .unwrap()
}

fn establish(s: &Session) -> Established {
    let (ea, waiting) = authenticate(s)
        .external_authenticate_command(s.level)
        .unwrap();
    assert_eq!(ea.to_bytes().unwrap(), s.ext_auth_cmd, "{}", s.name);
    waiting
        .on_external_authenticate_response(&ResponseApdu::status(StatusWord::Success))
        .unwrap()
}

fn replay(s: &Session) {
    let auth = authenticate(s);
    assert_eq!(auth.info().kvn, s.keys.kvn());
    assert_eq!(auth.info().scp_id, 0x03);
    if let Some(aid) = &s.sd_aid {
        assert_eq!(
            auth.pseudo_random_challenge_matches(aid),
            Some(true),
            "{}",
            s.name
        );
    }
    let mut est = establish(s);
    assert_eq!(est.level(), Some(s.level));
    for (n, step) in s.steps.iter().enumerate() {
        let plain = CommandApdu::parse(&step.plain_cmd).unwrap();
        let wrapped = est.wrap_command(plain).unwrap();
        assert_eq!(
            wrapped.to_bytes().unwrap(),
            step.wrapped_cmd,
            "{} step {n}",
            s.name
        );
        assert_eq!(est.counter(), Some(u128::try_from(n + 1).unwrap()));
        if let Some((plain, recorded)) = &step.response {
            let r = est
                .unwrap_response(ResponseApdu::parse(recorded).unwrap())
                .unwrap();
            assert_eq!(&r.data, plain, "{} step {n}", s.name);
            assert_eq!(r.sw, StatusWord::Success);
        }
    }
    assert!(!est.is_terminated());
}

#[test]
fn replays_vector_file_sessions() {
    let Some(v) = scp03_vectors() else { return };
    let sessions = from_vectors(&v);
    assert_eq!(sessions.len(), 4);
    sessions.iter().for_each(replay);
}

#[test]
fn replays_published_aes192_aes256_and_s16_sessions() {
    let sessions = published();
    assert_eq!(sessions.len(), 11);
    sessions.iter().for_each(replay);
}

/// The Samsung sessions' card challenges are not derived pseudo-randomly (hosts need not
/// check, and do not).
#[test]
fn samsung_challenges_are_not_pseudo_random() {
    let s = published()
        .into_iter()
        .find(|s| s.name.contains("AES128_S16"))
        .unwrap();
    let auth = authenticate(&s);
    assert_eq!(auth.info().sequence_counter_value(), Some(0x082A));
    assert_eq!(
        auth.pseudo_random_challenge_matches(&h("A000000151000000")),
        Some(false)
    );
}

fn aes256_33() -> Session {
    published()
        .into_iter()
        .find(|s| s.name.ends_with("AES256_33"))
        .unwrap()
}

fn init_response(
    s: &Session,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Result<CardAuthenticated, ScpError> {
    let mut rsp = s.init_update_rsp.clone();
    edit(&mut rsp);
    Scp03Host::from_values(s.keys.clone(), options(s), s.host_challenge())
        .unwrap()
        .on_initialize_update_response(&ResponseApdu::parse(&rsp).unwrap())
}

#[test]
fn initialize_update_errors_are_distinguished() {
    let s = aes256_33();
    // Wrong key: the card cryptogram does not verify.
    let wrong = Scp03Host::from_values(
        StaticKeys::single(0x32, &[0x40; 32]).unwrap(),
        options(&s),
        s.host_challenge(),
    )
    .unwrap()
    .on_initialize_update_response(&ResponseApdu::parse(&s.init_update_rsp).unwrap())
    .unwrap_err();
    assert_eq!(wrong, ScpError::CardCryptogramMismatch { kvn: 0x32 });
    assert!(wrong
        .to_string()
        .contains("no EXTERNAL AUTHENTICATE was sent"));
    // A flipped cryptogram byte.
    let err = init_response(&s, |r| r[25] ^= 1).unwrap_err();
    assert_eq!(err, ScpError::CardCryptogramMismatch { kvn: 0x32 });
    // Another KVN than requested.
    let err = init_response(&s, |r| r[10] = 0x33).unwrap_err();
    assert_eq!(
        err,
        ScpError::KvnMismatch {
            requested: 0x32,
            returned: 0x33
        }
    );
    // Another SCP.
    let err = init_response(&s, |r| r[11] = 0x02).unwrap_err();
    assert_eq!(err, ScpError::ScpIdMismatch(0x02));
    // Bad length.
    let err = init_response(&s, |r| {
        r.remove(r.len() - 3);
    })
    .unwrap_err();
    assert_eq!(err, ScpError::BadInitializeUpdateResponseLength(31));
    // Error status.
    let err = init_response(&s, |r| *r = h("6A88")).unwrap_err();
    assert!(err.to_string().contains("no key set"), "{err}");
    // An S16 card answering an S8 host.
    let s16 = published()
        .into_iter()
        .find(|s| s.name.ends_with("AES256_S16"))
        .unwrap();
    let err = Scp03Host::from_values(s16.keys.clone(), options(&aes256_33()), &[0; 8])
        .unwrap()
        .on_initialize_update_response(&ResponseApdu::parse(&s16.init_update_rsp).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        ScpError::ModeMismatch {
            requested: ScpMode::S8,
            card: ScpMode::S16
        }
    );
    // The challenge must fit the mode.
    assert_eq!(
        Scp03Host::from_values(s.keys.clone(), options(&s16), &[0; 8]).unwrap_err(),
        ScpError::BadChallengeLength {
            expected: 16,
            got: 8
        }
    );
}

#[test]
fn random_host_challenges_differ() {
    let keys = StaticKeys::single(0x30, &[0x40; 16]).unwrap();
    let opts = HostOptions {
        mode: ScpMode::S16,
        ..HostOptions::default()
    };
    let a = Scp03Host::new(keys.clone(), opts.clone()).unwrap();
    let b = Scp03Host::new(keys, opts).unwrap();
    assert_eq!(a.host_challenge().len(), 16);
    assert_ne!(a.host_challenge(), b.host_challenge());
}

#[test]
fn external_authenticate_refused() {
    let s = aes256_33();
    let (_, waiting) = authenticate(&s)
        .external_authenticate_command(s.level)
        .unwrap();
    let err = waiting
        .on_external_authenticate_response(&ResponseApdu::status(StatusWord::AuthenticationFailed))
        .unwrap_err();
    assert_eq!(
        err,
        ScpError::ExternalAuthenticateRefused {
            sw: StatusWord::AuthenticationFailed
        }
    );
    assert!(err.to_string().contains("host cryptogram"));
    let (_, waiting) = authenticate(&s)
        .external_authenticate_command(s.level)
        .unwrap();
    assert_eq!(
        waiting
            .on_external_authenticate_response(&ResponseApdu::success(vec![1]))
            .unwrap_err(),
        ScpError::UnexpectedResponseData("EXTERNAL AUTHENTICATE")
    );
}

/// Flipping an R-MAC byte of a recorded response ends the session and wipes its keys.
#[test]
fn tampered_rmac_terminates_the_session() {
    for flip in [0usize, 33, 39] {
        let s = aes256_33();
        let mut est = establish(&s);
        let step = &s.steps[0];
        est.wrap_command(CommandApdu::parse(&step.plain_cmd).unwrap())
            .unwrap();
        let mut recorded = step.response.clone().unwrap().1;
        recorded[flip] ^= 0x01;
        let err = est
            .unwrap_response(ResponseApdu::parse(&recorded).unwrap())
            .unwrap_err();
        assert_eq!(err, ScpError::RMacMismatch, "byte {flip}");
        assert!(est.is_terminated());
        assert_eq!(est.level(), None);
        assert_eq!(est.card_keys().unwrap_err(), ScpError::SessionTerminated);
        assert_eq!(
            est.wrap_command(CommandApdu::new(0x80, 0xCA, 0, 0x66)),
            Err(ScpError::SessionTerminated)
        );
        assert_eq!(
            est.unwrap_response(ResponseApdu::status(StatusWord::Success)),
            Err(ScpError::SessionTerminated)
        );
    }
}

#[test]
fn missing_rmac_terminates_the_session() {
    let s = aes256_33();
    let mut est = establish(&s);
    est.wrap_command(CommandApdu::parse(&s.steps[0].plain_cmd).unwrap())
        .unwrap();
    assert_eq!(
        est.unwrap_response(ResponseApdu::success(vec![0; 7])),
        Err(ScpError::RMacMissing(8))
    );
    assert!(est.is_terminated());
}

#[test]
fn command_errors_leave_the_session_open() {
    let s = aes256_33();
    let mut est = establish(&s);
    assert_eq!(
        est.wrap_command(CommandApdu::new(0x81, 0xCA, 0, 0x66)),
        Err(ScpError::ChannelMismatch {
            session: 0,
            command: 1
        })
    );
    assert_eq!(
        est.wrap_command(CommandApdu::new(0x80, 0xE2, 0x91, 0).with_data(vec![0; 250])),
        Err(ScpError::LcTooLong(264))
    );
    assert!(!est.is_terminated());
    assert_eq!(est.counter(), Some(0));
    // The recorded session continues as if nothing happened.
    let w = est
        .wrap_command(CommandApdu::parse(&s.steps[0].plain_cmd).unwrap())
        .unwrap();
    assert_eq!(w.to_bytes().unwrap(), s.steps[0].wrapped_cmd);
}
