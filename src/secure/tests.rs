//! The secure channel against a card built from the card side of `smsr_proto::scp03`
//! (`Scp03Card` + `CardChannel`) with a tiny application behind it.

use super::*;
use crate::keys::{KeyMaterial, KeySource};
use smsr_proto::scp03::put_key::decode_put_key_set;
use smsr_proto::scp03::{AesKey, CardChannel, CardStep, Diversification, Scp03Card, ScpOptions};

const KDD: [u8; 10] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
const K40: [u8; 16] = [
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F,
];

/// A Security Domain (the ISD-R AID) with an application that answers GET DATA with fixed
/// data, STORE DATA with its data reversed, PUT KEY (AES key sets), and everything else with
/// 6D00.
#[derive(Debug)]
struct Card {
    scp: Scp03Card,
    channel: CardChannel,
    selected: bool,
    /// Every command as received (wrapped).
    log: Vec<CommandApdu>,
    /// Flip the last byte of the next response.
    tamper_next: bool,
    /// Answer PUT KEY with a wrong KCV.
    bad_kcv: bool,
}

impl Card {
    fn new(i: u8, keys: &StaticKeys) -> Self {
        let mut scp = Scp03Card::new(
            default_sd_aid().as_bytes(),
            ScpOptions::from_i(i).unwrap(),
            KDD,
        )
        .unwrap();
        scp.add_keyset(keys.clone(), 0);
        Self {
            scp,
            channel: CardChannel::default(),
            selected: false,
            log: Vec::new(),
            tamper_next: false,
            bad_kcv: false,
        }
    }

    fn sent_external_authenticate(&self) -> bool {
        self.log.iter().any(|c| c.ins == 0x82)
    }

    fn handle(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        if cmd.cla & 0x80 == 0 && cmd.ins == INS_SELECT {
            self.channel.terminate();
            self.selected = cmd.data == default_sd_aid().as_bytes();
            return if self.selected {
                ResponseApdu::success(vec![0x6F, 0x00])
            } else {
                ResponseApdu::status(StatusWord::FileNotFound)
            };
        }
        if !self.selected {
            return ResponseApdu::status(StatusWord::ConditionsOfUseNotSatisfied);
        }
        match self.channel.process(&mut self.scp, cmd) {
            CardStep::Respond(r) => r,
            CardStep::Dispatch(plain) => {
                let resp = self.application(&plain);
                self.channel.wrap_response(resp)
            }
        }
    }

    fn application(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        match cmd.ins {
            0xCA => ResponseApdu::success(b"card data 0123456789".to_vec()),
            0xE2 => ResponseApdu::success(cmd.data.iter().rev().copied().collect::<Vec<_>>()),
            0xE4 => ResponseApdu::status(StatusWord::ReferencedDataNotFound),
            0xD8 => self.put_key(cmd),
            _ => ResponseApdu::status(StatusWord::InsNotSupported),
        }
    }

    fn put_key(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        let Some(session) = self.channel.session().filter(|s| !s.is_aborted()) else {
            return ResponseApdu::status(StatusWord::SecurityStatusNotSatisfied);
        };
        let dek = self.scp.keyset(session.kvn()).unwrap().dek().clone();
        let Ok(new) = decode_put_key_set(&dek, &cmd.data) else {
            return ResponseApdu::status(StatusWord::IncorrectData);
        };
        if cmd.p1 != 0 && !self.scp.remove_keyset(cmd.p1) {
            return ResponseApdu::status(StatusWord::ReferencedDataNotFound);
        }
        let mut answer = PutKeyResponse::for_keys(&new).to_bytes();
        if self.bad_kcv {
            answer[1] ^= 0xFF;
        }
        self.scp.replace_keyset(new);
        ResponseApdu::success(answer)
    }
}

impl Transport for Card {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let cmd = CommandApdu::parse(command)?;
        self.log.push(cmd.clone());
        let mut out = self.handle(&cmd).to_bytes();
        if std::mem::take(&mut self.tamper_next) && out.len() > 2 {
            let last = out.len() - 3;
            out[last] ^= 0x01;
        }
        Ok(out)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.channel.terminate();
        self.selected = false;
        Ok(vec![0x3B, 0x00])
    }

    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }

    fn reader_name(&self) -> String {
        "test card".into()
    }
}

fn keyset(kvn: u8, len: usize, seed: u8) -> StaticKeys {
    let k = |n: u8| {
        (0..len)
            .map(|i| seed ^ n ^ u8::try_from(i).unwrap())
            .collect::<Vec<u8>>()
    };
    StaticKeys::new(kvn, &k(1), &k(2), &k(3)).unwrap()
}

fn s8() -> SessionOptions {
    SessionOptions::default()
}

fn open<'a>(
    card: &'a mut Card,
    keys: &ResolvedKeys,
    level: LevelChoice,
) -> Result<(SecureChannel<&'a mut Card>, SessionInfo), SecureError> {
    SecureChannel::open(card, Some(&default_sd_aid()), keys, level, &s8())
}

/// Runs APDU cases 1-4 through the session and checks the plain answers.
fn exercise<T: Transport>(chan: &mut SecureChannel<T>) {
    let get = CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256);
    assert_eq!(
        chan.exchange(&get).unwrap().into_success().unwrap(),
        b"card data 0123456789"
    );
    let data: Vec<u8> = (0..40).collect();
    let store = CommandApdu::new(0x80, 0xE2, 0x91, 0x00)
        .with_data(data.clone())
        .with_le(256);
    let mut reversed = data.clone();
    reversed.reverse();
    assert_eq!(
        chan.exchange(&store).unwrap().into_success().unwrap(),
        reversed
    );
    // Case 3 and case 1, through the Transport interface.
    let case3 = CommandApdu::new(0x80, 0xE2, 0x80, 0x01).with_data(vec![1, 2, 3]);
    let r = Transport::send(chan, &case3).unwrap();
    assert_eq!((r.sw, r.data), (StatusWord::Success, vec![3, 2, 1]));
    let case1 = CommandApdu::new(0x80, 0xCA, 0x00, 0x42);
    assert_eq!(
        Transport::send(chan, &case1).unwrap().sw,
        StatusWord::Success
    );
    // An error status word carries no R-MAC and keeps the session.
    let delete = CommandApdu::new(0x80, 0xE4, 0x00, 0x00).with_data(vec![0x4F, 0x01, 0xAA]);
    assert_eq!(
        chan.exchange(&delete).unwrap().sw,
        StatusWord::ReferencedDataNotFound
    );
    assert!(chan.is_open());
}

#[test]
fn every_level_and_key_length_round_trips() {
    for (i, len) in [(0x70, 16), (0x70, 24), (0x60, 32), (0x30, 16), (0x00, 16)] {
        let keys = keyset(0x30, len, 0x5A);
        let options = ScpOptions::from_i(i).unwrap();
        for level in SecurityLevel::ALL.into_iter().skip(1) {
            let mut card = Card::new(i, &keys);
            let result = open(
                &mut card,
                &ResolvedKeys::from_static(&keys),
                LevelChoice::Exactly(level),
            );
            if !options.supports(level) {
                let err = result.unwrap_err();
                assert!(
                    matches!(err, SecureError::LevelNotSupported { .. }),
                    "{err}"
                );
                assert!(!card.sent_external_authenticate());
                continue;
            }
            let (mut chan, info) = result.unwrap();
            assert_eq!(
                info.level.as_deref(),
                Some(format!("{:02X}", level.p1()).as_str())
            );
            assert_eq!(info.kvn, "30");
            assert_eq!(info.i, format!("{i:02X}"));
            assert_eq!(info.kdd, "00010203040506070809");
            assert_eq!(info.sequence_counter.is_some(), i & 0x10 != 0);
            exercise(&mut chan);
            drop(chan);
            assert!(card.channel.level() == Some(level), "i {i:02X} {level}");
            // Every session command went out with the SM class bit.
            let after_auth = card.log.iter().skip_while(|c| c.ins != 0x82).skip(1);
            assert!(after_auth.clone().count() >= 5);
            assert!(after_auth.clone().all(|c| c.cla == 0x84), "{:?}", card.log);
            if level.c_dec() {
                // STORE DATA of 40 bytes went encrypted: padded to 48, plus the MAC.
                let store = card.log.iter().find(|c| c.ins == 0xE2).unwrap();
                assert_eq!(store.data.len(), 48 + 8);
                assert_ne!(store.data[..40], (0..40).collect::<Vec<u8>>()[..]);
            }
        }
    }
}

#[test]
fn auto_level_and_s16() {
    let keys = keyset(0x31, 16, 0x11);
    let mut card = Card::new(0x71, &keys);
    let options = SessionOptions {
        mode: ScpMode::S16,
        ..s8()
    };
    let (mut chan, info) = SecureChannel::open(
        &mut card,
        Some(&default_sd_aid()),
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
        &options,
    )
    .unwrap();
    assert_eq!(
        (info.mode.as_str(), info.level.as_deref()),
        ("S16", Some("33"))
    );
    exercise(&mut chan);
    // S8 host against an S16 card: stopped before EXTERNAL AUTHENTICATE, with the fix.
    let mut card = Card::new(0x71, &keys);
    let err = open(
        &mut card,
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--s16"), "{err}");
    assert!(!card.sent_external_authenticate());
    // Auto on a card without R-MAC: C-MAC and C-DECRYPTION.
    let mut card = Card::new(0x10, &keys);
    let (_, info) = open(
        &mut card,
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
    )
    .unwrap();
    assert_eq!(info.level.as_deref(), Some("03"));
}

#[test]
fn wrong_key_stops_before_external_authenticate() {
    let card_keys = keyset(0x30, 16, 0x01);
    let wrong = keyset(0x30, 16, 0x02);
    let mut card = Card::new(0x70, &card_keys);
    let err = open(
        &mut card,
        &ResolvedKeys::from_static(&wrong),
        LevelChoice::Auto,
    )
    .unwrap_err();
    assert!(err.is_key_mismatch() && err.is_security_failure());
    let text = err.to_string();
    for part in [
        "card cryptogram does not match for key version '30'",
        "wrong key, wrong KVN",
        "--kdf",
        "No EXTERNAL AUTHENTICATE was sent",
        "KDD 00010203040506070809",
    ] {
        assert!(text.contains(part), "{text}");
    }
    assert!(!card.sent_external_authenticate());
    assert_eq!(
        card.log.iter().map(|c| c.ins).collect::<Vec<_>>(),
        [0xA4, 0x50]
    );

    // keys_check reports without error, also without EXTERNAL AUTHENTICATE.
    let check = keys_check(
        &mut card,
        Some(&default_sd_aid()),
        &ResolvedKeys::from_static(&wrong),
        &s8(),
    )
    .unwrap();
    assert!(!check.matches);
    assert_eq!(check.kcvs[0], hex::encode_upper(wrong.enc().kcv()));
    let check = keys_check(
        &mut card,
        Some(&default_sd_aid()),
        &ResolvedKeys::from_static(&card_keys),
        &s8(),
    )
    .unwrap();
    assert!(check.matches);
    assert_eq!(check.session.kvn, "30");
    assert!(check.session.level.is_none());
    assert!(!card.sent_external_authenticate());
    let json = serde_json::to_value(&check).unwrap();
    assert_eq!(json["matches"], true);
    assert_eq!(json["session"]["i"], "70");
}

#[test]
fn initialize_update_and_select_errors() {
    let keys = keyset(0x30, 16, 0x01);
    let mut card = Card::new(0x70, &keys);
    let err = open(
        &mut card,
        &ResolvedKeys::from_static(&keys).with_kvn(0x35),
        LevelChoice::Auto,
    )
    .unwrap_err();
    assert!(
        matches!(err, SecureError::KvnNotFound { kvn: 0x35 }),
        "{err}"
    );
    assert!(err.to_string().contains("--kvn"));
    // KVN 00: the card's first key set, reported in the session info.
    let (_, info) = open(
        &mut card,
        &ResolvedKeys::from_static(&keys).with_kvn(0),
        LevelChoice::Auto,
    )
    .unwrap();
    assert_eq!(info.kvn, "30");
    let other = Aid::new(&[0xA0, 0, 0, 0, 0x01]).unwrap();
    let err = SecureChannel::open(
        &mut card,
        Some(&other),
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
        &s8(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("A000000001 failed"), "{err}");
    // Without SELECT (None) the current selection is used: here none, so the card refuses.
    let mut fresh = Card::new(0x70, &keys);
    let err = SecureChannel::open(
        &mut fresh,
        None,
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
        &s8(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("INITIALIZE UPDATE refused"),
        "{err}"
    );
    assert_eq!(fresh.log.len(), 1);
}

#[test]
fn tampered_response_ends_the_session() {
    for level in [SecurityLevel::CMacRMac, SecurityLevel::CDecREncCMacRMac] {
        let keys = keyset(0x30, 16, 0x01);
        let mut card = Card::new(0x70, &keys);
        let (mut chan, _) = open(
            &mut card,
            &ResolvedKeys::from_static(&keys),
            LevelChoice::Exactly(level),
        )
        .unwrap();
        let get = CommandApdu::new(0x80, 0xCA, 0x00, 0x66).with_le(256);
        chan.exchange(&get).unwrap();
        chan.inner.tamper_next = true;
        let err = chan.exchange(&get).unwrap_err();
        assert!(matches!(err, SecureError::ResponseNotAuthentic(_)), "{err}");
        assert!(err.to_string().contains("session was ended"), "{err}");
        assert!(!chan.is_open());
        assert_eq!(chan.level(), None);
        // Every later command fails without reaching the card.
        let sent = chan.inner.log.len();
        let err = chan.exchange(&get).unwrap_err();
        assert!(matches!(err, SecureError::SessionEnded { .. }), "{err}");
        let err = Transport::transmit(&mut chan, &[0x80, 0xCA, 0x00, 0x66, 0x00]).unwrap_err();
        assert!(
            matches!(&err, TransportError::SecureChannel { detail, .. } if detail.contains("R-MAC")),
            "{err}"
        );
        assert_eq!(chan.inner.log.len(), sent);
    }
}

#[test]
fn select_passes_in_clear_and_ends_the_session() {
    let keys = keyset(0x30, 16, 0x01);
    let mut card = Card::new(0x70, &keys);
    let (mut chan, _) = open(
        &mut card,
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
    )
    .unwrap();
    let select = Select::by_aid(default_sd_aid()).to_apdu().unwrap();
    assert!(chan.exchange(&select).unwrap().sw.is_success());
    assert_eq!(chan.inner.log.last().unwrap().cla, 0x00);
    assert!(!chan.is_open());
    let err = chan
        .exchange(&CommandApdu::new(0x80, 0xCA, 0, 0x66))
        .unwrap_err();
    assert!(err.to_string().contains("SELECT ended it"), "{err}");
    // Reset ends it too.
    let mut card = Card::new(0x70, &keys);
    let (mut chan, _) = open(
        &mut card,
        &ResolvedKeys::from_static(&keys),
        LevelChoice::Auto,
    )
    .unwrap();
    chan.reset().unwrap();
    assert!(!chan.is_open());
}

#[test]
fn diversified_keys_end_to_end() {
    let master = AesKey::from_bytes(&K40).unwrap();
    let master_set = StaticKeys::single(0x30, &K40).unwrap();
    for kdf in [
        Diversification::Emv,
        Diversification::Visa2,
        Diversification::Kdf3,
    ] {
        let card_keys = kdf.try_apply(&master_set, &KDD).unwrap();
        let mut card = Card::new(0x70, &card_keys);
        let keys = ResolvedKeys::new(
            0x30,
            KeyMaterial::Master {
                master: master.clone(),
                kdf,
            },
            KeySource::Given,
        )
        .unwrap();
        let (mut chan, info) = open(&mut card, &keys, LevelChoice::Auto).unwrap();
        assert_eq!(info.diversification, kdf.to_string());
        exercise(&mut chan);
        // The master key as such (no diversification) does not match, and says so early.
        let plain = ResolvedKeys::from_master(0x30, master.clone(), Diversification::None).unwrap();
        let mut card = Card::new(0x70, &kdf.try_apply(&master_set, &KDD).unwrap());
        let err = open(&mut card, &plain, LevelChoice::Auto).unwrap_err();
        assert!(err.is_key_mismatch(), "{kdf}: {err}");
        assert!(!card.sent_external_authenticate());
    }
}

#[test]
fn put_key_adds_and_replaces_key_sets() {
    let keys = keyset(0x30, 16, 0x01);
    let mut card = Card::new(0x70, &keys);
    let new31 = keyset(0x31, 16, 0x77);
    {
        let (mut chan, _) = open(
            &mut card,
            &ResolvedKeys::from_static(&keys),
            LevelChoice::Auto,
        )
        .unwrap();
        let outcome = chan.put_key(&new31, None).unwrap();
        assert_eq!(outcome.kvn, "31");
        assert_eq!(outcome.replaced, None);
        assert_eq!(outcome.kcvs, new31.kcvs().map(hex::encode_upper).to_vec());
        // The key data went out encrypted by the secure channel too (level 33).
        let put = chan.inner.log.last().unwrap();
        assert_eq!((put.cla, put.ins, put.p2), (0x84, 0xD8, 0x81));
    }
    assert_eq!(card.scp.keyset(0x31).unwrap().kcvs(), new31.kcvs());
    // The new key set opens a session; replace KVN 30 from it.
    let replacement = keyset(0x30, 16, 0x99);
    {
        let (mut chan, _) = open(
            &mut card,
            &ResolvedKeys::from_static(&new31),
            LevelChoice::Auto,
        )
        .unwrap();
        let outcome = chan.put_key(&replacement, Some(0x30)).unwrap();
        assert_eq!(outcome.replaced.as_deref(), Some("30"));
    }
    assert_eq!(card.scp.keyset(0x30).unwrap().kcvs(), replacement.kcvs());
    // Replacing a key set that does not exist; a wrong KCV from the card.
    let (mut chan, _) = open(
        &mut card,
        &ResolvedKeys::from_static(&new31),
        LevelChoice::Auto,
    )
    .unwrap();
    let err = chan.put_key(&keyset(0x32, 16, 3), Some(0x3F)).unwrap_err();
    assert!(
        err.to_string().contains("no key set '3F' to replace"),
        "{err}"
    );
    chan.inner.bad_kcv = true;
    let err = chan.put_key(&keyset(0x33, 16, 4), None).unwrap_err();
    assert!(matches!(err, SecureError::PutKeyCheck(_)), "{err}");
    // Without Key-DEK there is no PUT KEY.
    let no_dek = ResolvedKeys::new(
        0x31,
        KeyMaterial::Static {
            enc: new31.enc().clone(),
            mac: new31.mac().clone(),
            dek: None,
        },
        KeySource::CommandLine,
    )
    .unwrap();
    let (mut chan, _) = open(&mut card, &no_dek, LevelChoice::Auto).unwrap();
    let sent = chan.inner.log.len();
    assert!(matches!(
        chan.put_key(&keyset(0x34, 16, 5), None),
        Err(SecureError::NoDek)
    ));
    assert_eq!(chan.inner.log.len(), sent);
}

/// The bundled emulator linked in: its ISD-R keys exported as a keystore, found by EID, a
/// session at the level its "i" offers, GET STATUS, PUT KEY of a second key set.
#[test]
fn in_process_emulator_session_from_its_keystore() {
    use crate::keys::KeyArgs;
    use crate::transport::channel::ResponseAssembler;
    use crate::transport::in_process::InProcess;
    use euicc_emulator::keyset::keystore_json;
    use euicc_emulator::CardState;
    use smsr_proto::gp::get_status::{GetStatus, StatusScope};

    let eid = hex::decode("89049032123451234512345678901235").unwrap();
    let eid16: [u8; 16] = eid.clone().try_into().unwrap();
    let keys = keyset(0x30, 16, 0x3C);
    let mut card = ResponseAssembler::new(InProcess::in_memory(CardState::with_keys(
        Some(eid16),
        keys.clone(),
    )));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(&path, keystore_json(&eid16, [&keys]).as_bytes()).unwrap();
    let args = KeyArgs {
        keystore: Some(path),
        ..KeyArgs::default()
    };
    let (resolved, _) = args.resolve(Some(&eid)).unwrap();
    assert_eq!(resolved.kvn(), 0x30);

    let check = keys_check(&mut card, Some(&default_sd_aid()), &resolved, &s8()).unwrap();
    assert!(check.matches);
    let wrong = ResolvedKeys::from_static(&keyset(0x30, 16, 0x3D));
    let check = keys_check(&mut card, Some(&default_sd_aid()), &wrong, &s8()).unwrap();
    assert!(!check.matches);

    let new31 = keyset(0x31, 16, 0x44);
    {
        let (mut chan, info) = SecureChannel::open(
            &mut card,
            Some(&default_sd_aid()),
            &resolved,
            LevelChoice::Auto,
            &s8(),
        )
        .unwrap();
        assert_eq!((info.i.as_str(), info.level.as_deref()), ("70", Some("33")));
        assert_eq!(info.kdd, hex::encode_upper(&eid[6..]));
        let status = GetStatus::new(StatusScope::IssuerSecurityDomain);
        let resp = chan.exchange(&status.to_apdu().unwrap()).unwrap();
        assert!(resp.sw.is_success(), "{}", resp.sw);
        let entries = status.parse_response(&resp.data).unwrap();
        assert_eq!(entries[0].aid, default_sd_aid());
        let outcome = chan.put_key(&new31, None).unwrap();
        assert_eq!(outcome.kvn, "31");
    }
    let (_, info) = SecureChannel::open(
        &mut card,
        Some(&default_sd_aid()),
        &ResolvedKeys::from_static(&new31),
        LevelChoice::Exactly(SecurityLevel::CMac),
        &s8(),
    )
    .unwrap();
    assert_eq!(
        (info.kvn.as_str(), info.level.as_deref()),
        ("31", Some("01"))
    );
}
