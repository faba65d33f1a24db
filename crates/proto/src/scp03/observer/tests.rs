//! Observer tests on the recorded vector sessions (plaintext and MAC flags), on traces of
//! host ↔ card pair runs, and on tampered, split and interleaved traces.

use super::*;
use crate::scp03::card::Scp03Card;
use crate::scp03::card_channel::{CardChannel, CardStep};
use crate::scp03::cryptogram::ScpOptions;
use crate::scp03::host::{Established, HostOptions, Scp03Host};
use crate::scp03::test_fixtures::{from_vectors, published, Session};
use crate::scp03::testdata::{h, scp03_vectors};

type Trace = Vec<(Vec<u8>, Vec<u8>)>;

fn check_session(s: &Session, seen: &[ObservedExchange]) {
    assert_eq!(seen.len(), 2 + s.steps.len(), "{}", s.name);
    assert_eq!(seen[0].kind, ExchangeKind::InitializeUpdate);
    assert_eq!(seen[0].cryptogram_ok, Some(true), "{}", s.name);
    assert_eq!(seen[1].kind, ExchangeKind::ExternalAuthenticate);
    assert_eq!(seen[1].cryptogram_ok, Some(true), "{}", s.name);
    assert_eq!(seen[1].c_mac_ok, Some(true), "{}", s.name);
    assert_eq!(&seen[1].c_apdu_plain[..3], &[0x80, 0x82, s.level.p1()]);
    for (step, o) in s.steps.iter().zip(&seen[2..]) {
        assert_eq!(o.kind, ExchangeKind::Secured, "{}", s.name);
        assert_eq!(o.c_mac_ok, Some(true), "{} #{}", s.name, o.index);
        assert_eq!(o.c_apdu_plain, step.plain_cmd, "{} #{}", s.name, o.index);
        assert_eq!(o.note, None, "{} #{} {:?}", s.name, o.index, o);
        match &step.response {
            Some((plain, _)) => {
                assert_eq!(&o.r_data_plain, plain, "{} #{}", s.name, o.index);
                assert_eq!(o.r_mac_ok, s.level.r_mac().then_some(true));
                assert_eq!(o.sw, Some(StatusWord::Success));
            }
            None => assert_eq!(o.r_mac_ok, None),
        }
    }
}

fn all_sessions() -> Vec<Session> {
    let mut sessions = published();
    if let Some(v) = scp03_vectors() {
        sessions.extend(from_vectors(&v));
    }
    sessions
}

#[test]
fn decodes_every_recorded_session() {
    for s in all_sessions() {
        let seen = Observer::new(vec![s.keys.clone()]).observe(&s.exchanges());
        check_session(&s, &seen);
    }
}

/// All sessions back to back in one trace, with unrelated key sets to try first; then the
/// same trace starting in the middle of the first session.
#[test]
fn sessions_back_to_back_and_mid_trace_start() {
    let sessions = all_sessions();
    let mut keysets: Vec<StaticKeys> = vec![StaticKeys::single(0x30, &[0x55; 16]).unwrap()];
    keysets.extend(sessions.iter().map(|s| s.keys.clone()));
    let trace: Trace = sessions.iter().flat_map(Session::exchanges).collect();
    let observer = Observer::new(keysets);
    let seen = observer.observe(&trace);
    assert_eq!(seen.len(), trace.len());
    let mut at = 0;
    for s in &sessions {
        let n = 2 + s.steps.len();
        check_session(s, &seen[at..at + n]);
        at += n;
    }
    // Start after the first EXTERNAL AUTHENTICATE: those commands cannot be decoded.
    let seen = observer.observe(&trace[2..]);
    let first = 2 + sessions[0].steps.len() - 2;
    for o in &seen[..first] {
        assert_eq!(o.kind, ExchangeKind::Clear);
        assert_eq!(o.c_mac_ok, None);
        assert!(o.note.as_deref().unwrap().contains("outside a session"));
    }
    check_session(
        &sessions[1],
        &seen[first..first + 2 + sessions[1].steps.len()],
    );
}

fn aes256_33() -> Session {
    published()
        .into_iter()
        .find(|s| s.name.ends_with("AES256_33"))
        .unwrap()
}

#[test]
fn wrong_keys_are_reported() {
    let s = aes256_33();
    let seen =
        Observer::new(vec![StaticKeys::single(0x32, &[1; 32]).unwrap()]).observe(&s.exchanges());
    assert_eq!(seen[0].cryptogram_ok, Some(false));
    assert!(seen[0]
        .note
        .as_deref()
        .unwrap()
        .contains("key version '32'"));
    assert!(seen[2..]
        .iter()
        .all(|o| o.kind == ExchangeKind::Clear && o.c_mac_ok.is_none()));
}

#[test]
fn tampered_cmac_and_rmac() {
    let s = aes256_33();
    let mut trace = s.exchanges();
    // Flip an R-MAC byte of GET EID: reported, the session goes on.
    let rsp = &mut trace[2].1;
    let at = rsp.len() - 3;
    rsp[at] ^= 1;
    // Flip a C-MAC byte of the case 3 command: the card aborts the session.
    let cmd = &mut trace[5].0;
    let at = cmd.len() - 1;
    cmd[at] ^= 1;
    let seen = Observer::new(vec![s.keys.clone()]).observe(&trace);
    assert_eq!(seen[2].r_mac_ok, Some(false));
    assert_eq!(seen[2].c_mac_ok, Some(true));
    assert_eq!(seen[3].c_mac_ok, Some(true));
    assert_eq!(seen[4].c_mac_ok, Some(true));
    assert_eq!(seen[5].c_mac_ok, Some(false));
    assert!(seen[5]
        .note
        .as_deref()
        .unwrap()
        .contains("aborts the session"));
    assert_eq!(seen[6].c_mac_ok, None);
    assert!(seen[6].note.as_deref().unwrap().contains("aborted"));
}

/// The GET EID response of a level '33' session fetched by GET RESPONSE in two pieces.
#[test]
fn get_response_chains_are_reassembled() {
    let s = aes256_33();
    let mut trace = s.exchanges();
    let full = trace[2].1.clone(); // 40 bytes + 9000
    trace[2].1 = h("6128");
    trace.insert(3, (h("00C0000028"), [&full[..16], &h("6118")[..]].concat()));
    trace.insert(4, (h("00C0000018"), full[16..].to_vec()));
    let seen = Observer::new(vec![s.keys.clone()]).observe(&trace);
    assert_eq!(seen.len(), trace.len());
    assert_eq!(seen[2].kind, ExchangeKind::Secured);
    assert_eq!(seen[2].c_mac_ok, Some(true));
    assert_eq!(seen[2].r_mac_ok, None);
    assert_eq!(seen[2].sw, Some(StatusWord::BytesAvailable(0x28)));
    assert_eq!(seen[3].kind, ExchangeKind::GetResponse { command: 2 });
    assert_eq!(seen[3].r_mac_ok, None);
    assert_eq!(seen[4].kind, ExchangeKind::GetResponse { command: 2 });
    assert_eq!(seen[4].r_mac_ok, Some(true));
    assert_eq!(seen[4].r_data_plain, s.steps[0].response.clone().unwrap().0);
    assert_eq!(seen[4].sw, Some(StatusWord::Success));
    // The session continues after the chain.
    assert!(seen[5..].iter().all(|o| o.c_mac_ok == Some(true)));
}

/// A wrapped case 4 command answered '6Cxx' and re-sent with that Le: Le is not MACed, so the
/// re-sent command verifies, and the first one did not advance the session.
#[test]
fn wrong_le_retries_do_not_advance() {
    let s = aes256_33();
    let mut trace = s.exchanges();
    let mut retry = trace[2].0.clone();
    *retry.last_mut().unwrap() = 0x28;
    trace.insert(2, (trace[2].0.clone(), h("6C28")));
    trace[3].0 = retry;
    let seen = Observer::new(vec![s.keys.clone()]).observe(&trace);
    assert_eq!(seen[2].kind, ExchangeKind::WrongLe);
    assert_eq!(seen[3].c_mac_ok, Some(true));
    assert_eq!(seen[3].r_mac_ok, Some(true));
    assert!(seen[4..].iter().all(|o| o.c_mac_ok == Some(true)));
}

/// Records a host ↔ card run through [`CardChannel`] on `channel`.
fn pair_trace(
    keys: &StaticKeys,
    card_keys: &StaticKeys,
    i: u8,
    level: SecurityLevel,
    channel: u8,
    diversification: Diversification,
) -> (Trace, Trace) {
    let mut card = Scp03Card::new(
        &h("A000000151000000"),
        ScpOptions::from_i(i).unwrap(),
        [9; 10],
    )
    .unwrap();
    card.add_keyset(card_keys.clone(), 7);
    let mut ch = CardChannel::default();
    let mut trace = Trace::new();
    let mut send = |ch: &mut CardChannel, card: &mut Scp03Card, c: &CommandApdu, app: &[u8]| {
        let r = match ch.process(card, c) {
            CardStep::Respond(r) => r,
            CardStep::Dispatch(_) => ch.wrap_response(ResponseApdu::success(app.to_vec())),
        };
        trace.push((c.to_bytes().unwrap(), r.to_bytes()));
        r
    };
    let opts = HostOptions {
        kvn: 0x30,
        mode: ScpOptions::from_i(i).unwrap().mode,
        channel,
        diversification,
        ..HostOptions::default()
    };
    let host = Scp03Host::new(keys.clone(), opts).unwrap();
    let r = send(
        &mut ch,
        &mut card,
        &host.initialize_update_command().unwrap(),
        &[],
    );
    let (ea, w) = host
        .on_initialize_update_response(&r)
        .unwrap()
        .external_authenticate_command(level)
        .unwrap();
    let r = send(&mut ch, &mut card, &ea, &[]);
    let mut est: Established = w.on_external_authenticate_response(&r).unwrap();
    let mut plain = Vec::new();
    for n in 0..5u8 {
        let cmd = CommandApdu::new(0x80, 0xE2, 0x91, n)
            .with_data(vec![n; usize::from(n) * 20])
            .with_le(256)
            .with_channel(channel)
            .unwrap();
        let app = vec![0xA0 | n; usize::from(n) * 30];
        let r = send(
            &mut ch,
            &mut card,
            &est.wrap_command(cmd.clone()).unwrap(),
            &app,
        );
        assert_eq!(est.unwrap_response(r).unwrap().data, app);
        plain.push((cmd.to_bytes().unwrap(), app));
    }
    (trace, plain)
}

#[test]
fn decodes_pair_runs_at_every_level_size_and_mode() {
    for len in [16, 24, 32] {
        for i in [0x60, 0x71] {
            for level in SecurityLevel::ALL {
                let keys = StaticKeys::single(0x30, &vec![0x3C; len]).unwrap();
                let channel = if i == 0x71 { 6 } else { 1 };
                let (trace, plain) =
                    pair_trace(&keys, &keys, i, level, channel, Diversification::None);
                let seen = Observer::new(vec![keys]).observe(&trace);
                assert_eq!(seen[1].c_mac_ok, Some(true));
                for (o, (c, r)) in seen[2..].iter().zip(&plain) {
                    assert_eq!(o.channel, channel);
                    assert_eq!(&o.c_apdu_plain, c, "{len} {i:02X} {level}");
                    assert_eq!(&o.r_data_plain, r, "{len} {i:02X} {level}");
                    assert_eq!(o.c_mac_ok, level.c_mac().then_some(true));
                    assert_eq!(o.r_mac_ok, level.r_mac().then_some(true));
                }
            }
        }
    }
}

#[test]
fn decodes_with_kdf3_diversification_and_interleaved_channels() {
    let master = StaticKeys::single(0x30, &h("404142434445464748494A4B4C4D4E4F")).unwrap();
    let card_keys = Diversification::Kdf3.apply(&master, &[9; 10]);
    let (mut trace, plain) = pair_trace(
        &master,
        &card_keys,
        0x70,
        SecurityLevel::CDecREncCMacRMac,
        2,
        Diversification::Kdf3,
    );
    // Clear traffic on channel 0 in between does not disturb channel 2.
    trace.insert(3, (h("00A4040008A000000151000000"), h("9000")));
    trace.insert(5, (h("80CA006600"), h("6A88")));
    let seen = Observer::new(vec![master.clone()])
        .with_diversification(Diversification::Kdf3)
        .observe(&trace);
    let secured: Vec<&ObservedExchange> = seen
        .iter()
        .filter(|o| o.kind == ExchangeKind::Secured)
        .collect();
    assert_eq!(secured.len(), plain.len());
    for (o, (c, r)) in secured.iter().zip(&plain) {
        assert_eq!((&o.c_apdu_plain, &o.r_data_plain), (c, r));
        assert_eq!((o.c_mac_ok, o.r_mac_ok), (Some(true), Some(true)));
    }
    assert_eq!(seen[3].kind, ExchangeKind::Clear);
    // Without diversification the same trace does not decode.
    let seen = Observer::new(vec![master]).observe(&trace);
    assert_eq!(seen[0].cryptogram_ok, Some(false));
    // A SELECT on the session's channel ends the session.
    let mut cut = trace.clone();
    cut.insert(4, (h("02A4040008A000000151000000"), h("9000")));
    let seen = Observer::new(vec![card_keys.clone()]).observe(&cut);
    assert!(seen[4].note.as_deref().unwrap().contains("SELECT"));
    assert!(seen[5..].iter().all(|o| o.kind == ExchangeKind::Clear));
    // So does closing its channel from channel 0; GET RESPONSE and MANAGE CHANNEL open on
    // the session's channel do not disturb it.
    let mut cut = trace.clone();
    cut.insert(4, (h("0270000001"), h("039000")));
    cut.insert(5, (h("02C0000000"), h("6A86")));
    let seen = Observer::new(vec![card_keys.clone()]).observe(&cut);
    assert_eq!(seen[6].c_mac_ok, Some(true), "{:?}", seen[6]);
    cut.insert(6, (h("0070800200"), h("9000")));
    let seen = Observer::new(vec![card_keys.clone()]).observe(&cut);
    assert!(seen[7..].iter().all(|o| o.kind == ExchangeKind::Clear));
    // A tampered EXTERNAL AUTHENTICATE opens nothing.
    let mut bad = trace;
    let last = bad[1].0.len() - 1;
    bad[1].0[last] ^= 1;
    let seen = Observer::new(vec![card_keys]).observe(&bad);
    assert_eq!(
        (seen[1].cryptogram_ok, seen[1].c_mac_ok),
        (Some(true), Some(false))
    );
    assert!(seen[1].note.as_deref().unwrap().contains("does not verify"));
    assert!(seen[2..].iter().all(|o| o.kind == ExchangeKind::Clear));
}

#[test]
fn unparsable_bytes_pass_through() {
    let trace: Trace = vec![(vec![0x80], h("9000")), (h("80CA006600"), vec![0x90])];
    let seen = Observer::default().observe(&trace);
    assert_eq!(seen[0].kind, ExchangeKind::Unparsable);
    assert_eq!(seen[1].kind, ExchangeKind::Clear);
    assert_eq!(seen[1].sw, None);
}
