//! Tests of the shared session engine: every step of the vector sessions replayed at the level
//! of session keys (ICVs, chaining values, wrapped bytes, R-MAC), length limits, logical
//! channels, and the wrap/unwrap round trip as a property.

use super::*;
use crate::scp03::cipher::pad;
use crate::scp03::keys::{AesKey, SessionKeys};
use crate::scp03::testdata::{h, hex, scp03_vectors};
use proptest::prelude::*;
use serde_json::Value;

fn key(v: &Value) -> AesKey {
    AesKey::from_bytes(&hex(v)).unwrap()
}

fn vector_keys(s: &Value) -> SessionKeys {
    SessionKeys {
        s_enc: key(&s["S-ENC"]),
        s_mac: key(&s["S-MAC"]),
        s_rmac: key(&s["S-RMAC"]),
    }
}

/// Replays one vector session through a host engine and a card engine side by side.
fn replay(s: &Value) -> usize {
    let level = SecurityLevel::from_p1(hex(&s["security_level_P1"])[0]).unwrap();
    let mut host = SecureMessaging::new(vector_keys(s), ScpMode::S8, level);
    let mut card = SecureMessaging::new(vector_keys(s), ScpMode::S8, level);
    let mut checked = 0;
    for (n, step) in s["steps"].as_array().unwrap().iter().enumerate() {
        let what = format!("{} step {n} {}", s["name"], step["step"]);
        if let Some(plain) = step.get("plain") {
            let plain = CommandApdu::parse(&hex(plain)).unwrap();
            let wrapped_bytes = hex(&step["wrapped"]);
            assert_eq!(
                host.mac_chaining_value().to_vec(),
                hex(&step["mac_chaining_value_in"]),
                "{what}"
            );
            let (wrapped, opened) = if n == 0 {
                let w = host.mac_only(&plain).unwrap();
                let c = card.check_external_authenticate(&w).unwrap();
                assert_eq!(c.mac_ok, Some(true), "{what}");
                (w, card.open_command(c, true).unwrap())
            } else {
                let w = host.wrap_command(&plain).unwrap();
                let c = card
                    .check_command(&CommandApdu::parse(&wrapped_bytes).unwrap())
                    .unwrap();
                assert_eq!(c.mac_ok, Some(true), "{what}");
                (w, card.open_command(c, true).unwrap())
            };
            assert_eq!(wrapped.to_bytes().unwrap(), wrapped_bytes, "{what}");
            assert_eq!(opened, plain, "{what}");
            let chain = hex(&step["full_cmac_new_chain"]);
            assert_eq!(host.mac_chaining_value().to_vec(), chain, "{what}");
            assert_eq!(card.mac_chaining_value().to_vec(), chain, "{what}");
            // The recorded MAC input really gives that chaining value.
            let full = aes_cmac(&key(&s["S-MAC"]), &[&hex(&step["cmac_input"])]);
            assert_eq!(full.to_vec(), chain, "{what}");
            if let Some(counter) = step.get("enc_counter") {
                assert_eq!(
                    host.counter(),
                    u128::from(counter.as_u64().unwrap()),
                    "{what}"
                );
                assert_eq!(card.counter(), host.counter(), "{what}");
            }
            if let Some(icv) = step.get("c_icv") {
                assert_eq!(
                    host.command_icv(host.counter()).to_vec(),
                    hex(icv),
                    "{what}"
                );
                let enc = hex(&step["enc_data"]);
                assert_eq!(&wrapped.data[..enc.len()], &enc[..], "{what}");
                assert_eq!(pad(&plain.data), hex(&step["padded_plain_data"]), "{what}");
            }
        } else {
            let sw = StatusWord::from_u16(
                u16::from_str_radix(step["sw"].as_str().unwrap(), 16).unwrap(),
            );
            let recorded = ResponseApdu::new(hex(&step["rapdu_data"]), sw);
            // Without R-MAC the recorded response is the plain one.
            let plain_data = step
                .get("plain_response_data")
                .map_or_else(|| hex(&step["rapdu_data"]), hex);
            let c = host.check_response(&recorded).unwrap();
            assert_eq!(
                c.mac_ok,
                step.get("rmac_ok").and_then(Value::as_bool),
                "{what}"
            );
            let opened = host.open_response(c).unwrap();
            assert_eq!(opened, ResponseApdu::new(plain_data.clone(), sw), "{what}");
            if let Some(rmac) = step.get("rmac_expected") {
                let full = aes_cmac(&key(&s["S-RMAC"]), &[&hex(&step["rmac_input"])]);
                assert_eq!(full[..8].to_vec(), hex(rmac), "{what}");
            }
            if let Some(r_icv) = step.get("r_icv") {
                let mut block = host.counter().to_be_bytes();
                block[0] = 0x80;
                assert_eq!(block.to_vec(), hex(&step["r_icv_block"]), "{what}");
                assert_eq!(
                    host.response_icv(host.counter()).to_vec(),
                    hex(r_icv),
                    "{what}"
                );
            }
            // The card side produces the same bytes whenever the recorded padding is the
            // minimal one (the Samsung card pads some responses past one block).
            let minimal = step
                .get("decrypted_padded")
                .is_none_or(|p| hex(p).len() == pad(&plain_data).len());
            let wrapped = card.wrap_response(&ResponseApdu::new(plain_data, sw));
            if minimal {
                assert_eq!(wrapped, recorded, "{what}");
            } else {
                let again = host.check_response(&wrapped).unwrap();
                assert_eq!(again.mac_ok, Some(true), "{what}");
            }
            assert_eq!(host.mac_chaining_value(), card.mac_chaining_value());
        }
        checked += 1;
    }
    checked
}

#[test]
fn pysim_sessions_step_by_step() {
    let Some(v) = scp03_vectors() else { return };
    let sessions = v["scp03_sessions_pysim"]["sessions"].as_array().unwrap();
    assert!(sessions.len() >= 3);
    for s in sessions {
        assert_eq!(replay(s), 7);
    }
}

#[test]
fn samsung_sessions_step_by_step() {
    let Some(v) = scp03_vectors() else { return };
    let sessions = v["scp03_sessions_samsung"]["sessions"].as_array().unwrap();
    assert!(!sessions.is_empty());
    for s in sessions {
        assert_eq!(replay(s), 7);
    }
}

fn engines(len: usize, mode: ScpMode, level: SecurityLevel) -> (SecureMessaging, SecureMessaging) {
    let k = |b| AesKey::from_bytes(&vec![b; len]).unwrap();
    let keys = SessionKeys {
        s_enc: k(1),
        s_mac: k(2),
        s_rmac: k(3),
    };
    let mut host = SecureMessaging::new(keys.clone(), mode, level);
    let mut card = SecureMessaging::new(keys, mode, level);
    let ea =
        CommandApdu::new(0x80, 0x82, level.p1(), 0).with_data(vec![0xEE; mode.challenge_len()]);
    let w = host.mac_only(&ea).unwrap();
    assert_eq!(
        card.check_external_authenticate(&w).unwrap().mac_ok,
        Some(true)
    );
    (host, card)
}

#[test]
fn short_lc_limit_is_an_error_not_a_truncation() {
    for (mode, level, fits, too_long) in [
        (ScpMode::S8, SecurityLevel::CMac, 247, 248),
        (ScpMode::S16, SecurityLevel::CMac, 239, 240),
        (ScpMode::S8, SecurityLevel::CDecCMac, 239, 240),
        (ScpMode::S16, SecurityLevel::CDecCMac, 223, 224),
    ] {
        let (mut host, _) = engines(16, mode, level);
        let ok = CommandApdu::new(0x80, 0xE2, 0x91, 0).with_data(vec![0; fits]);
        let lc = |n: usize| {
            if level.c_dec() {
                (n / 16 + 1) * 16 + mode.mac_len()
            } else {
                n + mode.mac_len()
            }
        };
        let w = host.wrap_command(&ok).unwrap();
        assert_eq!(w.data.len(), lc(fits));
        assert!(!w.needs_extended());
        let counter = host.counter();
        let chain = host.mac_chaining_value();
        let long = ok.clone().with_data(vec![0; too_long]);
        assert!(lc(too_long) > 255);
        assert_eq!(
            host.wrap_command(&long),
            Err(ScpError::LcTooLong(lc(too_long)))
        );
        // A refused command leaves the session untouched.
        assert_eq!(
            (host.counter(), host.mac_chaining_value()),
            (counter, chain)
        );
    }
}

#[test]
fn extended_length_when_enabled() {
    for mode in [ScpMode::S8, ScpMode::S16] {
        let (host, card) = engines(32, mode, SecurityLevel::CDecREncCMacRMac);
        let (mut host, mut card) = (host.with_extended_length(true), card);
        let cmd = CommandApdu::new(0x80, 0xE2, 0x91, 0)
            .with_data((0..600u16).map(|i| i.to_be_bytes()[1]).collect::<Vec<_>>())
            .with_le(256);
        let w = host.wrap_command(&cmd).unwrap();
        let bytes = w.to_bytes().unwrap();
        assert_eq!(bytes[4], 0, "extended Lc");
        let c = card
            .check_command(&CommandApdu::parse(&bytes).unwrap())
            .unwrap();
        assert_eq!(c.mac_ok, Some(true));
        assert_eq!(card.open_command(c, true).unwrap(), cmd);
        // A short command with an extended Le is MACed over the extended Lc form too.
        let cmd = CommandApdu::new(0x80, 0xCA, 0, 0x66).with_le(1000);
        let w = host.wrap_command(&cmd).unwrap();
        let bytes = w.to_bytes().unwrap();
        assert_eq!(&bytes[4..7], &[0, 0, u8::try_from(mode.mac_len()).unwrap()]);
        let c = card
            .check_command(&CommandApdu::parse(&bytes).unwrap())
            .unwrap();
        assert_eq!(c.mac_ok, Some(true));
        assert_eq!(card.open_command(c, true).unwrap(), cmd);
    }
}

#[test]
fn logical_channels_are_not_maced() {
    let (mut h0, _) = engines(16, ScpMode::S8, SecurityLevel::CMac);
    let (mut h5, mut card) = engines(16, ScpMode::S8, SecurityLevel::CMac);
    let cmd = CommandApdu::new(0x80, 0xF2, 0x40, 0x02)
        .with_data(h("4F00"))
        .with_le(256);
    let w0 = h0.wrap_command(&cmd).unwrap();
    let on5 = cmd.clone().with_channel(5).unwrap();
    let w5 = h5.wrap_command(&on5).unwrap();
    assert_eq!(w0.cla, 0x84);
    assert_eq!(w5.cla, 0xE1);
    assert_eq!(w0.data, w5.data, "same MAC on channel 0 and 5");
    let c = card.check_command(&w5).unwrap();
    assert_eq!(c.mac_ok, Some(true));
    assert_eq!(card.open_command(c, true).unwrap(), on5);
    // Channel 2 (first interindustry class) and an ISO-class command.
    let (mut h, mut card) = engines(24, ScpMode::S16, SecurityLevel::CDecCMac);
    let iso = CommandApdu::new(0x02, 0xCA, 0x00, 0x5A).with_le(256);
    let w = h.wrap_command(&iso).unwrap();
    assert_eq!(w.cla, 0x06);
    let c = card.check_command(&w).unwrap();
    assert_eq!(card.open_command(c, true).unwrap(), iso);
}

#[test]
fn class_errors() {
    let (mut host, _) = engines(16, ScpMode::S8, SecurityLevel::CMac);
    for (cla, err) in [
        (0x84, ScpError::AlreadySecured(0x84)),
        (0xE0, ScpError::AlreadySecured(0xE0)),
        (0x90, ScpError::CommandChaining(0x90)),
        (0xA0, ScpError::BadClass(0xA0)),
        (0xFF, ScpError::BadClass(0xFF)),
    ] {
        assert_eq!(
            host.wrap_command(&CommandApdu::new(cla, 0xCA, 0, 0)),
            Err(err)
        );
    }
    assert_eq!(host.counter(), 0);
}

#[test]
fn level_00_counts_but_does_not_wrap() {
    let (mut host, mut card) = engines(16, ScpMode::S8, SecurityLevel::NoSecureMessaging);
    let cmd = CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256);
    assert_eq!(host.wrap_command(&cmd).unwrap(), cmd);
    assert_eq!(host.counter(), 1);
    let c = card.check_command(&cmd).unwrap();
    assert_eq!(c.mac_ok, None);
    assert_eq!(card.counter(), 1);
    let r = ResponseApdu::success(h("6601AA"));
    assert_eq!(card.wrap_response(&r), r);
}

#[test]
fn error_status_words_carry_no_rmac() {
    let (mut host, mut card) = engines(16, ScpMode::S16, SecurityLevel::CDecREncCMacRMac);
    let w = host
        .wrap_command(&CommandApdu::new(0x80, 0xCA, 0, 0x66).with_le(256))
        .unwrap();
    let c = card.check_command(&w).unwrap();
    card.open_command(c, true).unwrap();
    for sw in [0x6A88u16, 0x6982, 0x6D00, 0x9101] {
        let r = ResponseApdu::status(StatusWord::from_u16(sw));
        assert_eq!(card.wrap_response(&r), r);
        let checked = host.check_response(&r).unwrap();
        assert_eq!(checked.mac_ok, None);
    }
    for sw in [0x9000u16, 0x6283, 0x6310] {
        let r = ResponseApdu::status(StatusWord::from_u16(sw));
        let w = card.wrap_response(&r);
        assert_eq!(w.data.len(), 16, "R-MAC only, no encryption of empty data");
        let checked = host.check_response(&w).unwrap();
        assert_eq!(checked.mac_ok, Some(true));
        assert_eq!(host.open_response(checked).unwrap(), r);
    }
}

fn arb_command() -> impl Strategy<Value = CommandApdu> {
    (
        prop::sample::select(vec![
            0x80u8, 0x81, 0x83, 0x00, 0x01, 0xC0, 0xC7, 0xCF, 0x40, 0x4A,
        ]),
        any::<[u8; 3]>(),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::option::of(1usize..=256),
    )
        .prop_map(|(cla, [ins, p1, p2], data, le)| CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
}

fn arb_params() -> impl Strategy<Value = (usize, ScpMode, SecurityLevel)> {
    (
        prop::sample::select(vec![16usize, 24, 32]),
        prop::sample::select(vec![ScpMode::S8, ScpMode::S16]),
        prop::sample::select(SecurityLevel::ALL.to_vec()),
    )
}

proptest! {
    #[test]
    fn unwrap_of_wrap_is_identity(
        (len, mode, level) in arb_params(),
        exchanges in prop::collection::vec(
            (arb_command(), prop::collection::vec(any::<u8>(), 0..240), any::<bool>()),
            1..6,
        ),
    ) {
        let (mut host, mut card) = engines(len, mode, level);
        for (cmd, rdata, ok) in exchanges {
            let wrapped = host.wrap_command(&cmd).unwrap();
            let received = CommandApdu::parse(&wrapped.to_bytes().unwrap()).unwrap();
            let checked = card.check_command(&received).unwrap();
            prop_assert_eq!(checked.mac_ok, level.c_mac().then_some(true));
            prop_assert_eq!(card.open_command(checked, true).unwrap(), cmd);
            prop_assert_eq!(host.counter(), card.counter());
            prop_assert_eq!(host.mac_chaining_value(), card.mac_chaining_value());
            let sw = if ok { StatusWord::Success } else { StatusWord::ReferencedDataNotFound };
            let resp = ResponseApdu::new(if ok { rdata } else { Vec::new() }, sw);
            let sent = card.wrap_response(&resp);
            let got = ResponseApdu::parse(&sent.to_bytes()).unwrap();
            let checked = host.check_response(&got).unwrap();
            prop_assert_eq!(checked.mac_ok, (level.r_mac() && ok).then_some(true));
            prop_assert_eq!(host.open_response(checked).unwrap(), resp);
        }
    }

    #[test]
    fn check_never_panics(
        (len, mode, level) in arb_params(),
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (_, mut card) = engines(len, mode, level);
        if let Ok(cmd) = CommandApdu::parse(&bytes) {
            if let Ok(c) = card.check_command(&cmd) {
                let _ = card.open_command(c, true);
            }
        }
        if let Ok(r) = ResponseApdu::parse(&bytes) {
            if let Ok(c) = card.check_response(&r) {
                let _ = card.open_response(c);
            }
        }
    }
}
