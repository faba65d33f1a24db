//! Host ↔ card pair tests: every security level × AES-128/192/256 × S8/S16 × random and
//! pseudo-random card challenges, logical channels, the [`CardChannel`] router, and tamper
//! tests asserting both the exact error and the terminated or aborted state afterwards.

use super::card::{CardSession, Scp03Card};
use super::card_channel::{CardChannel, CardStep};
use super::cipher::cbc_encrypt;
use super::cryptogram::{ScpMode, ScpOptions, SecurityLevel};
use super::host::{Established, HostOptions, Scp03Host};
use super::kdf::aes_cmac;
use super::keys::{SessionKeys, StaticKeys};
use super::testdata::h;
use super::wrap::SecureMessaging;
use super::ScpError;
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;

const AID: &str = "A0000005591010FFFFFFFF8900000100";

fn keys(len: usize) -> StaticKeys {
    let k = |b: u8| {
        (0..len)
            .map(|i| b ^ u8::try_from(i).unwrap())
            .collect::<Vec<_>>()
    };
    StaticKeys::new(0x30, &k(0x40), &k(0x50), &k(0x60)).unwrap()
}

/// An open pair, plus a mirror engine in step with both (to craft tampered messages).
struct Pair {
    host: Established,
    card: CardSession,
    mirror: SecureMessaging,
    keys: SessionKeys,
}

fn open(len: usize, mode: ScpMode, pseudo: bool, level: SecurityLevel, channel: u8) -> Pair {
    let mut i = 0x60 | if pseudo { 0x10 } else { 0 };
    if mode == ScpMode::S16 {
        i |= 0x01;
    }
    let mut card = Scp03Card::new(&h(AID), ScpOptions::from_i(i).unwrap(), [0x5A; 10]).unwrap();
    card.add_keyset(keys(len), 41);
    let opts = HostOptions {
        kvn: 0x30,
        mode,
        channel,
        ..HostOptions::default()
    };
    let host = Scp03Host::new(keys(len), opts).unwrap();
    let host_challenge = host.host_challenge().to_vec();
    let iu = host.initialize_update_command().unwrap();
    assert_eq!(iu.channel(), channel);
    let (resp, pending) = card.initialize_update(&iu).unwrap();
    assert_eq!(
        resp.data.len(),
        13 + 2 * mode.challenge_len() + if pseudo { 3 } else { 0 }
    );
    let auth = host.on_initialize_update_response(&resp).unwrap();
    assert_eq!(
        auth.pseudo_random_challenge_matches(&h(AID)),
        pseudo.then_some(true)
    );
    if pseudo {
        assert_eq!(card.sequence_counter(0x30), Some(42));
        assert_eq!(auth.info().sequence_counter, Some([0, 0, 42]));
    }
    let session_keys =
        SessionKeys::derive(&keys(len), &host_challenge, &auth.info().card_challenge);
    let (ea, waiting) = auth.external_authenticate_command(level).unwrap();
    assert_eq!(ea.data.len(), 2 * mode.challenge_len());
    let (resp, card) = pending.external_authenticate(&ea).unwrap();
    assert_eq!(resp, ResponseApdu::status(StatusWord::Success));
    let host = waiting.on_external_authenticate_response(&resp).unwrap();
    let mut mirror = SecureMessaging::new(session_keys.clone(), mode, level);
    assert_eq!(
        mirror.check_external_authenticate(&ea).unwrap().mac_ok,
        Some(true)
    );
    Pair {
        host,
        card,
        mirror,
        keys: session_keys,
    }
}

impl Pair {
    /// Host wraps, card unwraps, mirror follows; returns the plain command the card saw.
    fn command(&mut self, cmd: &CommandApdu) -> CommandApdu {
        let wire = self.host.wrap_command(cmd.clone()).unwrap();
        let wire = CommandApdu::parse(&wire.to_bytes().unwrap()).unwrap();
        self.mirror.check_command(&wire).unwrap();
        self.card.unwrap_command(&wire).unwrap()
    }

    fn response(&mut self, resp: &ResponseApdu) -> ResponseApdu {
        let wire = self.card.wrap_response(resp.clone());
        self.host
            .unwrap_response(ResponseApdu::parse(&wire.to_bytes()).unwrap())
            .unwrap()
    }
}

fn commands() -> Vec<CommandApdu> {
    vec![
        CommandApdu::new(0x80, 0xF2, 0x20, 0x02),
        CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256),
        CommandApdu::new(0x80, 0xF2, 0x40, 0x02).with_data(h("4F00")),
        CommandApdu::new(0x80, 0xE2, 0x91, 0x00)
            .with_data(h("BF3E035C015A"))
            .with_le(256),
        CommandApdu::new(0x80, 0xE2, 0x90, 0x00).with_data(vec![0xAB; 16]),
        CommandApdu::new(0x00, 0xCA, 0x00, 0x5A).with_le(10),
        CommandApdu::new(0x80, 0xE6, 0x0C, 0x00).with_data(vec![0x5C; 200]),
    ]
}

fn responses() -> Vec<ResponseApdu> {
    vec![
        ResponseApdu::status(StatusWord::Success),
        ResponseApdu::success(h("BF3E125A1089882119900000000000000000000005")),
        ResponseApdu::success(vec![0x11; 16]),
        ResponseApdu::new(vec![0x22; 200], StatusWord::MoreDataAvailable),
        ResponseApdu::status(StatusWord::ReferencedDataNotFound),
        ResponseApdu::status(StatusWord::SelectedFileInvalidated),
        ResponseApdu::success(vec![0x33; 256]),
    ]
}

#[test]
fn every_level_key_size_mode_and_challenge_kind() {
    let mut sessions = 0;
    for len in [16, 24, 32] {
        for mode in [ScpMode::S8, ScpMode::S16] {
            for pseudo in [false, true] {
                for level in SecurityLevel::ALL {
                    let mut p = open(len, mode, pseudo, level, 0);
                    assert_eq!(p.card.level(), Some(level));
                    for (n, (cmd, resp)) in commands().iter().zip(responses()).enumerate() {
                        assert_eq!(&p.command(cmd), cmd, "{len} {mode} {level} #{n}");
                        assert_eq!(p.host.counter(), Some(u128::try_from(n + 1).unwrap()));
                        assert_eq!(p.response(&resp), resp, "{len} {mode} {level} #{n}");
                    }
                    sessions += 1;
                }
            }
        }
    }
    assert_eq!(sessions, 3 * 2 * 2 * 6);
}

#[test]
fn sessions_on_logical_channels() {
    for channel in [1, 3, 4, 19] {
        let mut p = open(
            16,
            ScpMode::S8,
            true,
            SecurityLevel::CDecREncCMacRMac,
            channel,
        );
        let cmd = CommandApdu::new(0x80, 0xCA, 0, 0x66)
            .with_le(256)
            .with_channel(channel)
            .unwrap();
        assert_eq!(p.command(&cmd), cmd);
        let resp = ResponseApdu::success(h("660102"));
        assert_eq!(p.response(&resp), resp);
    }
}

#[test]
fn host_refuses_a_level_the_card_cannot_run() {
    let mut card = Scp03Card::new(&h(AID), ScpOptions::from_i(0x10).unwrap(), [0; 10]).unwrap();
    card.add_keyset(keys(16), 0);
    let host = Scp03Host::new(
        keys(16),
        HostOptions {
            kvn: 0x30,
            ..HostOptions::default()
        },
    )
    .unwrap();
    let (resp, _) = card
        .initialize_update(&host.initialize_update_command().unwrap())
        .unwrap();
    let auth = host.on_initialize_update_response(&resp).unwrap();
    assert_eq!(
        auth.external_authenticate_command(SecurityLevel::CMacRMac)
            .map(|_| ()),
        Err(ScpError::LevelNotSupported {
            level: 0x11,
            i: 0x10
        })
    );
}

/// After an abort every command, even a correct one, gets '6982'.
fn assert_aborted(p: &mut Pair, reason: &ScpError) {
    assert!(p.card.is_aborted());
    assert_eq!(p.card.level(), None);
    assert_eq!(p.card.last_rejection(), Some(reason));
    let next = p
        .host
        .wrap_command(CommandApdu::new(0x80, 0xCA, 0, 0x66).with_le(256))
        .unwrap();
    assert_eq!(
        p.card.unwrap_command(&next),
        Err(StatusWord::SecurityStatusNotSatisfied)
    );
    assert_eq!(p.card.last_rejection(), Some(&ScpError::SessionTerminated));
    let resp = ResponseApdu::success(vec![1, 2, 3]);
    assert_eq!(
        p.card.wrap_response(resp.clone()),
        resp,
        "no protection once aborted"
    );
}

fn rejected(p: &mut Pair, cmd: &CommandApdu, reason: &ScpError) {
    assert_eq!(
        p.card.unwrap_command(cmd),
        Err(StatusWord::SecurityStatusNotSatisfied)
    );
    assert_aborted(p, reason);
}

#[test]
fn tampered_cmac_aborts() {
    for mode in [ScpMode::S8, ScpMode::S16] {
        let mut p = open(24, mode, false, SecurityLevel::CDecCMac, 0);
        let mut wire = p.host.wrap_command(commands()[3].clone()).unwrap();
        let last = wire.data.len() - 1;
        wire.data[last] ^= 0x80;
        rejected(&mut p, &wire, &ScpError::CMacMismatch);
    }
}

#[test]
fn replayed_command_aborts() {
    let mut p = open(16, ScpMode::S8, true, SecurityLevel::CMac, 0);
    let wire = p.host.wrap_command(commands()[2].clone()).unwrap();
    assert!(p.card.unwrap_command(&wire).is_ok());
    rejected(&mut p, &wire, &ScpError::CMacMismatch);
}

#[test]
fn skipped_command_aborts() {
    let mut p = open(32, ScpMode::S16, false, SecurityLevel::CDecREncCMacRMac, 0);
    let _lost = p.host.wrap_command(commands()[0].clone()).unwrap();
    let wire = p.host.wrap_command(commands()[3].clone()).unwrap();
    rejected(&mut p, &wire, &ScpError::CMacMismatch);
}

#[test]
fn command_below_the_level_aborts() {
    for level in [SecurityLevel::CMac, SecurityLevel::CDecCMacRMac] {
        let mut p = open(16, ScpMode::S8, false, level, 0);
        let clear = CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256);
        rejected(&mut p, &clear, &ScpError::BelowSecurityLevel(0x80));
    }
    // A C-MAC'd command whose data was not encrypted at level '03': the MAC verifies, the
    // decryption of the plain data fails.
    let mut p = open(16, ScpMode::S8, false, SecurityLevel::CDecCMac, 0);
    let mac = aes_cmac(
        &p.keys.s_mac,
        &[&p.mirror.mac_chaining_value(), &h("84F240020A4F00")],
    );
    let wire =
        CommandApdu::new(0x84, 0xF2, 0x40, 0x02).with_data([&h("4F00")[..], &mac[..8]].concat());
    rejected(&mut p, &wire, &ScpError::NotBlockAligned(2));
    let mut p = open(16, ScpMode::S8, false, SecurityLevel::CMac, 0);
    let short = CommandApdu::new(0x84, 0xCA, 0x00, 0x66).with_data(vec![0; 7]);
    rejected(&mut p, &short, &ScpError::CMacMissing(8));
}

/// Crafts a command whose C-MAC is right but whose decrypted data is not padded.
#[test]
fn bad_command_padding_aborts() {
    let mut p = open(16, ScpMode::S8, false, SecurityLevel::CDecCMac, 0);
    let counter = p.mirror.counter() + 1;
    let icv = p.mirror.command_icv(counter);
    let data = cbc_encrypt(&p.keys.s_enc, &icv, &[0x42; 16]).unwrap();
    let lc = u8::try_from(data.len() + 8).unwrap();
    let mac = aes_cmac(
        &p.keys.s_mac,
        &[
            &p.mirror.mac_chaining_value(),
            &[0x84, 0xE2, 0x90, 0x00, lc],
            &data,
        ],
    );
    let wire = CommandApdu::new(0x84, 0xE2, 0x90, 0x00).with_data([&data[..], &mac[..8]].concat());
    rejected(&mut p, &wire, &ScpError::BadPadding);
}

/// Crafts a response whose R-MAC is right but whose decrypted data is not padded.
#[test]
fn bad_response_padding_terminates_the_host() {
    let mut p = open(16, ScpMode::S16, false, SecurityLevel::CDecREncCMacRMac, 0);
    p.command(&commands()[1]);
    let icv = p.mirror.response_icv(p.mirror.counter());
    let data = cbc_encrypt(&p.keys.s_enc, &icv, &[0x42; 32]).unwrap();
    let mac = aes_cmac(
        &p.keys.s_rmac,
        &[&p.mirror.mac_chaining_value(), &data, &[0x90, 0x00]],
    );
    let wire = ResponseApdu::success([&data[..], &mac[..]].concat());
    assert_eq!(p.host.unwrap_response(wire), Err(ScpError::BadPadding));
    assert!(p.host.is_terminated());
    assert_eq!(
        p.host.wrap_command(commands()[0].clone()),
        Err(ScpError::SessionTerminated)
    );
}

#[test]
fn flipped_rmac_terminates_the_host() {
    let mut p = open(24, ScpMode::S8, true, SecurityLevel::CMacRMac, 0);
    p.command(&commands()[1]);
    let mut wire = p.card.wrap_response(ResponseApdu::success(h("6601AA")));
    wire.data[4] ^= 1;
    assert_eq!(p.host.unwrap_response(wire), Err(ScpError::RMacMismatch));
    assert!(p.host.is_terminated());
    assert_eq!(p.host.counter(), None);
}

#[test]
fn card_channel_routes_and_recovers() {
    let mut card = Scp03Card::new(&h(AID), ScpOptions::from_i(0x70).unwrap(), [1; 10]).unwrap();
    card.add_keyset(keys(16), 0);
    let mut ch = CardChannel::default();
    let plain = CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256);
    // No session: commands pass in clear.
    assert_eq!(
        ch.process(&mut card, &plain),
        CardStep::Dispatch(plain.clone())
    );
    for round in 0..2 {
        let host = Scp03Host::new(keys(16), HostOptions::default()).unwrap();
        let CardStep::Respond(r) =
            ch.process(&mut card, &host.initialize_update_command().unwrap())
        else {
            panic!("INITIALIZE UPDATE is answered by the secure channel layer");
        };
        let (ea, waiting) = host
            .on_initialize_update_response(&r)
            .unwrap()
            .external_authenticate_command(SecurityLevel::CDecREncCMacRMac)
            .unwrap();
        let CardStep::Respond(r) = ch.process(&mut card, &ea) else {
            panic!("EXTERNAL AUTHENTICATE is answered by the secure channel layer");
        };
        let mut est = waiting.on_external_authenticate_response(&r).unwrap();
        assert_eq!(ch.level(), Some(SecurityLevel::CDecREncCMacRMac));
        let wire = est.wrap_command(plain.clone()).unwrap();
        assert_eq!(
            ch.process(&mut card, &wire),
            CardStep::Dispatch(plain.clone())
        );
        let resp = ResponseApdu::success(h("6603010203"));
        assert_eq!(
            est.unwrap_response(ch.wrap_response(resp.clone())).unwrap(),
            resp
        );
        // A clear command aborts the session; it stays aborted until a new INITIALIZE UPDATE.
        let step = ch.process(&mut card, &plain);
        assert_eq!(
            step,
            CardStep::Respond(ResponseApdu::status(StatusWord::SecurityStatusNotSatisfied))
        );
        assert_eq!(ch.level(), None);
        let wire = est.wrap_command(plain.clone()).unwrap();
        assert_eq!(
            ch.process(&mut card, &wire),
            CardStep::Respond(ResponseApdu::status(StatusWord::SecurityStatusNotSatisfied)),
            "round {round}"
        );
        assert!(ch.session().is_some_and(CardSession::is_aborted));
    }
    assert_eq!(card.sequence_counter(0x30), Some(2));
    // A command between INITIALIZE UPDATE and EXTERNAL AUTHENTICATE drops the handshake.
    let host = Scp03Host::new(keys(16), HostOptions::default()).unwrap();
    let CardStep::Respond(r) = ch.process(&mut card, &host.initialize_update_command().unwrap())
    else {
        panic!("INITIALIZE UPDATE is answered by the secure channel layer");
    };
    let (ea, _) = host
        .on_initialize_update_response(&r)
        .unwrap()
        .external_authenticate_command(SecurityLevel::CMac)
        .unwrap();
    assert_eq!(
        ch.process(&mut card, &plain),
        CardStep::Dispatch(plain.clone())
    );
    assert_eq!(ch.process(&mut card, &ea), CardStep::Dispatch(ea.clone()));
    ch.terminate();
    assert!(ch.session().is_none());
}
