//! SCP03t tests: a known-answer test of the handshake against a real card's SCP03 session
//! (pySim `tests/unittests/test_globalplatform.py`, session `SCP03_Test_AES128_33`, captured from
//! a sysmoEUICC1-C2T, values typed in below), the TLV MAC framing recomputed with RustCrypto's
//! `aes` and `cmac` directly from SGP.02 §2.5.2, host↔card pair tests at 1, 2 and many
//! segments (TS.48 packages from `SMSR_SHARED`), and tamper, counter and key tests.

use super::card::package_complete;
use super::*;
use crate::ota::executor::RawOutcome;
use crate::saip::ts48_tests::packages;
use crate::saip::{EuiccResponse, Package, PeStatus, PeStatusCode};
use crate::scp03::{Scp03Card, ScpOptions, StaticKeys};
use crate::tlv::Tlv;
use aes::cipher::{BlockEncrypt, KeyInit};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// pySim SCP03_Test_AES128_33 (sysmoEUICC1-C2T, ISD-R, KVN 30, sequence counter 2 → 3).
const ISD_R_AID: &str = "A0000005591010FFFFFFFF8900000100";
const KEY_ENC: &str = "000102030405060708090A0B0C0D0E0F";
const KEY_MAC: &str = "101112131415161718191A1B1C1D1E1F";
const KEY_DEK: &str = "202122232425262728292A2B2C2D2E2F";
const HOST_CHALLENGE: &str = "FDF38259A1E0DE44";
const INIT_UPDATE_RSP: &str = "000000000000000000003003703B1ACA81E821F219081CDC01C26B372D000003";
const HOST_CRYPTOGRAM: &str = "8C36F96BCC00724A";
const S_ENC: &str = "BC5689F3A0B783A9ED6DA1C5C6BC1F99";
const S_MAC: &str = "0415F56CBB9E488BB171B2B66081F004";
const S_RMAC: &str = "1EE185123244E047BC9D68B914BD1FBE";
/// ICV of the first command after EXTERNAL AUTHENTICATE (counter 1) and of its response.
const C_ICV_1: &str = "2130FF8BBB48C9BE46F5B4FD6945003D";
const R_ICV_1: &str = "A266877DA5962D0DA9C186B20337FB68";

const ISDP_AID: &str = "A0000005591010FFFFFFFF8900001000";

fn pysim_keys() -> StaticKeys {
    StaticKeys::new(0x30, &h(KEY_ENC), &h(KEY_MAC), &h(KEY_DEK)).unwrap()
}

fn card_for(aid: &str, keys: StaticKeys, counter: u32) -> Scp03Card {
    let mut sd = Scp03Card::new(&h(aid), ScpOptions::from_i(0x70).unwrap(), [0; 10]).unwrap();
    sd.add_keyset(keys, counter);
    sd
}

fn host_for(aid: &str, keys: StaticKeys, counter: u32) -> Scp03tHost {
    let hc: [u8; 8] = h(HOST_CHALLENGE).try_into().unwrap();
    Scp03tHost::from_values(keys, 0x00, &h(aid), counter, hc).unwrap()
}

/// An installer that decodes the package and reports `ok` for every PE that decoded,
/// `bad-values` for the others.
fn installer(pkg: &[u8]) -> EuiccResponse {
    let parsed = Package::parse(pkg).unwrap();
    EuiccResponse {
        pe_status: parsed
            .pes()
            .map(|pe| PeStatus {
                identification: pe.identification(),
                ..PeStatus::new(PeStatusCode::Ok)
            })
            .collect(),
        profile_installation_aborted: false,
        status_message: None,
    }
}

/// Runs every command through the card as a script executor would (stop at the first error)
/// and returns the answers and the package the installer received.
fn run(sd: &mut Scp03Card, card: &mut Scp03tCard, cmds: &[Tlv]) -> (Vec<Tlv>, Option<Vec<u8>>) {
    let mut answers = Vec::new();
    let mut got = None;
    for c in cmds {
        let outcome = card.process(sd, c, |p| {
            got = Some(p.to_vec());
            installer(p)
        });
        match outcome {
            RawOutcome::Continue(t) => answers.push(t),
            RawOutcome::Stop(t) => {
                answers.push(t);
                break;
            }
            RawOutcome::Unsupported => panic!("unsupported {c:?}"),
        }
    }
    (answers, got)
}

fn cmac16(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    use cmac::Mac;
    let mut m = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn aes_block(key: &[u8], block: [u8; 16]) -> [u8; 16] {
    let c = aes::Aes128::new_from_slice(key).unwrap();
    let mut b = aes::Block::from(block);
    c.encrypt_block(&mut b);
    b.into()
}

/// A small package: header-like PE, one filler PE and the End PE.
fn small_package(filler: usize) -> Vec<u8> {
    let mut p = crate::tlv::tlv(0xA0u32, &[0x80, 0x01, 0x02]);
    p.extend(crate::tlv::tlv(0xA1u32, &vec![0x5A; filler]));
    p.extend(crate::tlv::tlv(0xAAu32, &h("A0038101FF")));
    p
}

#[test]
fn handshake_matches_a_real_cards_scp03_session() {
    // The host predicts the card's 84 answer offline; the card computes it live; both must be
    // the INITIALIZE UPDATE response the sysmoEUICC1 sent for counter 3.
    let pkg = small_package(10);
    let d = host_for(ISD_R_AID, pysim_keys(), 2).protect(&pkg).unwrap();
    assert_eq!(
        d.commands[0].to_bytes(),
        h(&format!("840A3000{HOST_CHALLENGE}"))
    );
    let mut sd = card_for(ISD_R_AID, pysim_keys(), 2);
    let mut card = Scp03tCard::new();
    let outcome = card.process(&mut sd, &d.commands[0], installer);
    assert_eq!(
        outcome,
        RawOutcome::Continue(Tlv::new(0x84u32, h(INIT_UPDATE_RSP)))
    );
    assert_eq!(sd.sequence_counter(0x30), Some(3));

    // 85 = 33 ‖ host cryptogram (as in the card's EXTERNAL AUTHENTICATE) ‖ C-MAC over
    // 16 × 00 ‖ 85 ‖ 11 ‖ 33 ‖ cryptogram (SGP.02 framing, computed here with RustCrypto).
    let auth = &d.commands[1];
    let full = cmac16(
        &h(S_MAC),
        &[&[0; 16], &[0x85, 0x11, 0x33], &h(HOST_CRYPTOGRAM)],
    );
    let mut expected = vec![0x33];
    expected.extend(h(HOST_CRYPTOGRAM));
    expected.extend(&full[..8]);
    assert_eq!(auth.value, expected);

    // First 86: ICV from counter 1 (the card's own value), CBC, then the MAC chained on 85.
    let icv = aes_block(&h(S_ENC), 1u128.to_be_bytes());
    assert_eq!(icv.to_vec(), h(C_ICV_1));
    let mut padded = pkg.clone();
    padded.push(0x80);
    while !padded.len().is_multiple_of(16) {
        padded.push(0);
    }
    let mut prev = icv;
    let mut ct = Vec::new();
    for block in padded.chunks(16) {
        let mut b = [0u8; 16];
        for (i, x) in block.iter().enumerate() {
            b[i] = x ^ prev[i];
        }
        prev = aes_block(&h(S_ENC), b);
        ct.extend_from_slice(&prev);
    }
    let l = u8::try_from(ct.len() + 8).unwrap();
    let mac86 = cmac16(&h(S_MAC), &[&full, &[0x86, l], &ct]);
    let mut seg = ct.clone();
    seg.extend(&mac86[..8]);
    assert_eq!(d.commands[2].value, seg);
    assert_eq!(d.commands.len(), 3);

    // The card accepts 85 and the segment and answers with R-ENC ICV from the counter with
    // '80' first (the card's own R-ICV) and the R-MAC chained on the 86 C-MAC.
    let (answers, got) = run(&mut sd, &mut card, &d.commands[1..]);
    assert_eq!(got.as_deref(), Some(&pkg[..]));
    assert_eq!(answers[0], Tlv::new(0x85u32, vec![]));
    let r = &answers[1].value;
    let (enc, rmac) = r.split_at(r.len() - 8);
    assert_eq!(
        aes_block(
            &h(S_ENC),
            h("80000000000000000000000000000001").try_into().unwrap()
        )
        .to_vec(),
        h(R_ICV_1)
    );
    let lr = u8::try_from(r.len()).unwrap();
    assert_eq!(&cmac16(&h(S_RMAC), &[&mac86, &[0x86, lr], enc])[..8], rmac);
    let mut checker = d.checker;
    let mut all = vec![Tlv::new(0x84u32, h(INIT_UPDATE_RSP))];
    all.extend(answers);
    let outcome = checker.check_all(&all).unwrap();
    assert_eq!(outcome.response, Some(installer(&pkg)));
    assert!(checker.is_complete());
}

#[test]
fn segment_limit_is_1024_bytes_with_tag_and_length() {
    let pkg = small_package(5000);
    let d = host_for(ISDP_AID, pysim_keys(), 0).protect(&pkg).unwrap();
    for c in &d.commands[2..] {
        assert!(c.to_bytes().len() <= MAX_SEGMENT_TLV);
    }
    assert_eq!(d.commands[2].to_bytes().len(), 1020);
    // One more plaintext byte would need another AES block and break the limit.
    assert!(1 + 3 + (MAX_SEGMENT_PLAINTEXT + 1).div_ceil(16) * 16 + 16 + MAC_LEN > MAX_SEGMENT_TLV);
    assert!(host_for(ISDP_AID, pysim_keys(), 0)
        .with_segment_size(MAX_SEGMENT_PLAINTEXT + 1)
        .is_err());
}

fn pair(pkg: &[u8], segment: usize, expect_segments: Option<usize>) {
    let keys = || StaticKeys::new(0x01, &[0x41; 16], &[0x42; 16], &[0x43; 16]).unwrap();
    let d = host_for(ISDP_AID, keys(), 0)
        .with_segment_size(segment)
        .unwrap()
        .protect(pkg)
        .unwrap();
    if let Some(n) = expect_segments {
        assert_eq!(d.commands.len(), 2 + n);
    }
    let mut sd = card_for(ISDP_AID, keys(), 0);
    let mut card = Scp03tCard::new();
    let (answers, got) = run(&mut sd, &mut card, &d.commands);
    assert_eq!(answers.len(), d.commands.len(), "{:?}", card.last_error());
    assert_eq!(got.as_deref(), Some(pkg));
    for a in &answers[2..answers.len() - 1] {
        assert_eq!(a, &Tlv::new(0x86u32, vec![]));
    }
    let mut checker = d.checker;
    let outcome = checker.check_all(&answers).unwrap();
    assert_eq!(outcome.response, Some(installer(pkg)));
    assert_eq!(card.state_name(), "done");
    assert_eq!(sd.sequence_counter(1), Some(1));
}

#[test]
fn pair_one_two_and_many_segments() {
    pair(&small_package(100), MAX_SEGMENT_PLAINTEXT, Some(1));
    pair(&small_package(1500), MAX_SEGMENT_PLAINTEXT, Some(2));
    // A real SAIP package: the minimal MILENAGE profile, in one and in two segments.
    let minimal = crate::saip::minimal::MinimalProfile::milenage(
        "8949449999999990023",
        "001010123456789",
        [0x11; 16],
        [0x22; 16],
    )
    .build()
    .unwrap()
    .to_der();
    eprintln!("minimal package: {} bytes", minimal.len());
    if minimal.len() <= MAX_SEGMENT_PLAINTEXT {
        pair(&minimal, MAX_SEGMENT_PLAINTEXT, Some(1));
    }
    pair(&minimal, minimal.len().div_ceil(2), Some(2));
    // The segment boundary falls inside a PE, inside a length, and exactly on a PE boundary.
    let pkg = small_package(300);
    for cut in [1, 2, 5, 16, 17, 307, 308, 309] {
        pair(&pkg, cut, None);
    }
    let Some(all) = packages() else { return };
    for (name, pkg) in all {
        eprintln!("{name}");
        pair(
            &pkg,
            MAX_SEGMENT_PLAINTEXT,
            Some(pkg.len().div_ceil(MAX_SEGMENT_PLAINTEXT)),
        );
        pair(&pkg, 100, Some(pkg.len().div_ceil(100)));
    }
}

fn fresh(pkg: &[u8], counter: u32) -> (ProtectedDownload, Scp03Card, Scp03tCard) {
    let d = host_for(ISDP_AID, pysim_keys(), counter)
        .with_segment_size(200)
        .unwrap()
        .protect(pkg)
        .unwrap();
    (d, card_for(ISDP_AID, pysim_keys(), 0), Scp03tCard::new())
}

fn error(tag: u32, reason: u8) -> Tlv {
    Tlv::new(tag, vec![reason])
}

#[test]
fn any_tampered_segment_is_refused_and_ends_the_session() {
    let pkg = small_package(700);
    let n = fresh(&pkg, 0).0.commands.len();
    for index in 2..n {
        let len = fresh(&pkg, 0).0.commands[index].value.len();
        for pos in [0, len / 2, len - 9, len - 8, len - 1] {
            let (d, mut sd, mut card) = fresh(&pkg, 0);
            let mut cmds = d.commands;
            cmds[index].value[pos] ^= 0x01;
            let (answers, got) = run(&mut sd, &mut card, &cmds);
            assert_eq!(answers.len(), index + 1);
            assert_eq!(
                answers[index],
                error(0x9F46, 0x02),
                "segment {index} byte {pos}"
            );
            assert_eq!(card.last_error(), Some(&Scp03tError::CMacMismatch));
            assert!(got.is_none());
            assert_eq!(card.state_name(), "idle");
            assert_eq!(card.buffered(), 0);
            // The session is over: the untouched next segment is refused too.
            if index + 1 < n {
                let again = card.process(&mut sd, &cmds[index + 1], installer);
                assert_eq!(again, RawOutcome::Stop(error(0x9F46, 0x01)));
            }
            let mut checker = d.checker;
            let err = checker.check_all(&answers).unwrap_err();
            assert_eq!(
                err,
                Scp03tError::CardError {
                    tag: ErrorTag::ProfileData,
                    reason: ErrorReason::Security
                }
            );
            assert!(checker.is_terminated());
        }
    }
}

#[test]
fn truncated_or_misaligned_segments_are_structure_errors() {
    let pkg = small_package(100);
    for cut in [1, 8, 9] {
        let (d, mut sd, mut card) = fresh(&pkg, 0);
        let mut cmds = d.commands;
        let v = &mut cmds[2].value;
        v.truncate(v.len() - cut);
        let (answers, _) = run(&mut sd, &mut card, &cmds);
        assert_eq!(answers[2], error(0x9F46, 0x01));
    }
}

#[test]
fn reordered_dropped_or_replayed_segments_fail_the_mac_chain() {
    let pkg = small_package(700);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let mut cmds = d.commands;
    cmds.swap(3, 4);
    let (answers, _) = run(&mut sd, &mut card, &cmds);
    assert_eq!(answers.last(), Some(&error(0x9F46, 0x02)));
    assert_eq!(answers.len(), 4);

    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let mut cmds = d.commands;
    cmds.remove(3);
    let (answers, _) = run(&mut sd, &mut card, &cmds);
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[3], error(0x9F46, 0x02));

    // Replaying a whole download: the card's counter has moved on, so 85 no longer verifies.
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let (answers, _) = run(&mut sd, &mut card, &d.commands);
    assert_eq!(answers.len(), d.commands.len());
    let (answers, got) = run(&mut sd, &mut card, &d.commands);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1], error(0x9F45, 0x02));
    assert!(got.is_none());
    let mut checker = d.checker;
    assert!(matches!(
        checker.check(&answers[0]),
        Err(Scp03tError::InitializeMismatch { .. })
    ));
}

#[test]
fn wrong_sequence_counter_is_refused_at_85_and_seen_at_84() {
    let pkg = small_package(10);
    let (d, mut sd, mut card) = fresh(&pkg, 4);
    let (answers, got) = run(&mut sd, &mut card, &d.commands);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1], error(0x9F45, 0x02));
    assert_eq!(
        card.last_error(),
        Some(&Scp03tError::HostCryptogramMismatch)
    );
    assert!(got.is_none());
    let mut checker = d.checker;
    assert_eq!(
        checker.check(&answers[0]),
        Err(Scp03tError::InitializeMismatch {
            what: "sequence counter"
        })
    );
}

#[test]
fn wrong_keys_are_refused_at_85() {
    let pkg = small_package(10);
    // Same Key-ENC (so the same card challenge), wrong Key-MAC: the host cryptogram is wrong.
    let bad = StaticKeys::new(0x30, &h(KEY_ENC), &[0x99; 16], &h(KEY_DEK)).unwrap();
    let d = host_for(ISDP_AID, bad, 0).protect(&pkg).unwrap();
    let mut sd = card_for(ISDP_AID, pysim_keys(), 0);
    let mut card = Scp03tCard::new();
    let (answers, _) = run(&mut sd, &mut card, &d.commands);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1], error(0x9F45, 0x02));
    let mut checker = d.checker;
    assert_eq!(
        checker.check(&answers[0]),
        Err(Scp03tError::InitializeMismatch { what: "cryptogram" })
    );
    // A tampered 85 with the right keys fails its C-MAC.
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let mut cmds = d.commands;
    cmds[1].value[16] ^= 0x80;
    let (answers, _) = run(&mut sd, &mut card, &cmds);
    assert_eq!(answers[1], error(0x9F45, 0x02));
    assert_eq!(card.last_error(), Some(&Scp03tError::CMacMismatch));
}

#[test]
fn initialize_errors() {
    let mut sd = card_for(ISDP_AID, pysim_keys(), 0);
    let mut card = Scp03tCard::new();
    let hc = HOST_CHALLENGE;
    let cases = [
        (format!("3100{hc}"), 0x03),   // no key set 31
        (format!("3002{hc}"), 0x03),   // key identifier 02
        (format!("3000{hc}00"), 0x01), // too long
        ("3000".to_string(), 0x01),    // too short
    ];
    for (value, reason) in cases {
        let out = card.process(&mut sd, &Tlv::new(0x84u32, h(&value)), installer);
        assert_eq!(out, RawOutcome::Stop(error(0x9F44, reason)), "{value}");
    }
    // Key set 30 with KVN 00 ("the first key set") works, and its counter moves.
    let out = card.process(
        &mut sd,
        &Tlv::new(0x84u32, h(&format!("0000{hc}"))),
        installer,
    );
    assert!(matches!(out, RawOutcome::Continue(t) if t.value.len() == 32));
    assert_eq!(sd.sequence_counter(0x30), Some(1));
    // 85 and 86 out of order.
    let mut card = Scp03tCard::new();
    let out = card.process(&mut sd, &Tlv::new(0x85u32, vec![0x33; 17]), installer);
    assert_eq!(out, RawOutcome::Stop(error(0x9F45, 0x01)));
    let out = card.process(&mut sd, &Tlv::new(0x86u32, vec![0; 24]), installer);
    assert_eq!(out, RawOutcome::Stop(error(0x9F46, 0x01)));
    assert_eq!(
        card.process(&mut sd, &Tlv::new(0x22u32, vec![]), installer),
        RawOutcome::Unsupported
    );
}

#[test]
fn security_level_other_than_33_is_refused() {
    let pkg = small_package(10);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let mut cmds = d.commands;
    cmds[1].value[0] = 0x13;
    let (answers, _) = run(&mut sd, &mut card, &cmds);
    assert_eq!(answers[1], error(0x9F45, 0x01));
}

#[test]
fn host_rejects_a_tampered_result() {
    let pkg = small_package(10);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let (mut answers, _) = run(&mut sd, &mut card, &d.commands);
    let last = answers.last_mut().unwrap();
    last.value[0] ^= 1;
    let mut checker = d.checker;
    assert_eq!(checker.check_all(&answers), Err(Scp03tError::RMacMismatch));
    assert!(checker.is_terminated());
    assert_eq!(checker.check(&answers[0]), Err(Scp03tError::SessionClosed));
}

#[test]
fn package_completion_rule() {
    assert_eq!(package_complete(&[]), Ok(false));
    assert_eq!(package_complete(&h("A00180")), Ok(false));
    assert_eq!(package_complete(&h("A00180AA00")), Ok(true));
    assert_eq!(package_complete(&h("A00180AA")), Ok(false));
    assert!(package_complete(&h("A00180AA0000")).is_err());
}

/// The ISD-P as a script target: SCP03t TLVs go to the receiver, C-APDUs are not expected.
struct IsdP<'a> {
    sd: &'a mut Scp03Card,
    card: &'a mut Scp03tCard,
    installed: Option<Vec<u8>>,
}

impl crate::ota::executor::ScriptTarget for IsdP<'_> {
    fn apdu(&mut self, _: &crate::apdu::CommandApdu) -> crate::apdu::ResponseApdu {
        crate::apdu::ResponseApdu::status(crate::status::StatusWord::InsNotSupported)
    }

    fn raw(&mut self, tlv: &Tlv) -> RawOutcome {
        let installed = &mut self.installed;
        self.card.process(self.sd, tlv, |p| {
            *installed = Some(p.to_vec());
            installer(p)
        })
    }
}

#[test]
fn download_through_chained_ts_102_226_scripts() {
    use crate::ota::executor::execute_bytes;
    use crate::ota::response::ResponseScript;
    use crate::ota::script::ScriptChaining;
    let pkg = small_package(2500);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let scripts = d.scripts();
    assert_eq!(scripts.len(), 1 + (pkg.len().div_ceil(200)));
    assert_eq!(
        scripts[0].chaining(),
        Some(ScriptChaining::FirstKeepOnReset)
    );
    assert_eq!(scripts[1].chaining(), Some(ScriptChaining::Subsequent));
    assert_eq!(
        scripts.last().unwrap().chaining(),
        Some(ScriptChaining::Last)
    );
    let mut checker = d.checker;
    let mut target = IsdP {
        sd: &mut sd,
        card: &mut card,
        installed: None,
    };
    let mut results = Vec::new();
    for s in &scripts {
        let bytes = s.to_bytes().unwrap();
        let exec = execute_bytes(&bytes, &mut target).unwrap();
        assert!(exec.completed);
        let response = ResponseScript::parse(&exec.response.to_bytes()).unwrap();
        for e in checker.check_response_script(&response).unwrap() {
            if let HostEvent::Result { response, .. } = e {
                results.push(response);
            }
        }
    }
    assert_eq!(target.installed.as_deref(), Some(&pkg[..]));
    assert_eq!(results, vec![installer(&pkg)]);
    assert!(checker.is_complete());
}

#[test]
fn segments_grouped_into_larger_scripts_download_alike() {
    use crate::ota::executor::execute_bytes;
    use crate::ota::response::ResponseScript;
    use crate::ota::script::{CommandTlv, ScriptChaining};
    let pkg = small_package(2500);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let one_each = d.scripts().len();
    let scripts = d.scripts_of(1000);
    let segments = d.commands.len() - 2;
    assert!(scripts.len() < one_each);
    assert_eq!(
        scripts[0].chaining(),
        Some(ScriptChaining::FirstKeepOnReset)
    );
    assert_eq!(
        scripts.last().unwrap().chaining(),
        Some(ScriptChaining::Last)
    );
    let mut carried = 0;
    for s in &scripts[1..] {
        let raw: Vec<&Tlv> = s
            .items
            .iter()
            .filter_map(|i| match i {
                CommandTlv::Raw(t) => Some(t),
                _ => None,
            })
            .collect();
        assert!(!raw.is_empty());
        assert!(raw.len() == 1 || raw.iter().map(|t| t.to_bytes().len()).sum::<usize>() <= 1000);
        carried += raw.len();
    }
    assert_eq!(carried, segments);
    let mut checker = d.checker;
    let mut target = IsdP {
        sd: &mut sd,
        card: &mut card,
        installed: None,
    };
    for s in &scripts {
        let exec = execute_bytes(&s.to_bytes().unwrap(), &mut target).unwrap();
        assert!(exec.completed);
        let response = ResponseScript::parse(&exec.response.to_bytes()).unwrap();
        checker.check_response_script(&response).unwrap();
    }
    assert_eq!(target.installed.as_deref(), Some(&pkg[..]));
    assert!(checker.is_complete());
}

#[test]
fn a_tampered_script_stops_with_its_error_tlv() {
    use crate::ota::executor::execute;
    let pkg = small_package(700);
    let (d, mut sd, mut card) = fresh(&pkg, 0);
    let mut scripts = d.scripts();
    let mut checker = d.checker;
    if let Some(crate::ota::script::CommandTlv::Raw(t)) = scripts[2].items.get_mut(1) {
        t.value[3] ^= 0x10;
    } else {
        panic!("script 2 has no 86");
    }
    let mut target = IsdP {
        sd: &mut sd,
        card: &mut card,
        installed: None,
    };
    let first = execute(&scripts[0], &mut target);
    assert_eq!(
        checker
            .check_response_script(&first.response)
            .unwrap()
            .len(),
        2
    );
    let second = execute(&scripts[1], &mut target);
    checker.check_response_script(&second.response).unwrap();
    let third = execute(&scripts[2], &mut target);
    assert!(!third.completed);
    assert_eq!(
        checker.check_response_script(&third.response),
        Err(Scp03tError::CardError {
            tag: ErrorTag::ProfileData,
            reason: ErrorReason::Security
        })
    );
    assert!(target.installed.is_none());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn any_tlv() -> impl Strategy<Value = Tlv> {
        (
            prop_oneof![
                Just(0x84u32),
                Just(0x85),
                Just(0x86),
                Just(0x9F46),
                Just(0x22)
            ],
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(t, v)| Tlv::new(t, v))
    }

    proptest! {
        /// The card never panics on any sequence of TLVs, and never hands over a package
        /// without a valid session.
        #[test]
        fn card_survives_any_tlv_sequence(tlvs in proptest::collection::vec(any_tlv(), 0..12)) {
            let mut sd = card_for(ISDP_AID, pysim_keys(), 0);
            let mut card = Scp03tCard::new();
            for t in &tlvs {
                let _ = card.process(&mut sd, t, |_| panic!("installer called on random input"));
            }
        }

        /// Random garbage after a valid handshake: every 86 is refused.
        #[test]
        fn random_segments_are_refused(v in proptest::collection::vec(any::<u8>(), 0..100)) {
            let pkg = small_package(10);
            let (d, mut sd, mut card) = fresh(&pkg, 0);
            let (answers, _) = run(&mut sd, &mut card, &d.commands[..2]);
            prop_assert_eq!(answers.len(), 2);
            let out = card.process(&mut sd, &Tlv::new(0x86u32, v), |_| EuiccResponse::ok());
            prop_assert!(matches!(out, RawOutcome::Stop(t) if t.tag.value() == 0x9F46));
        }

        /// The host checker never panics on random answers.
        #[test]
        fn checker_survives_any_answers(tlvs in proptest::collection::vec(any_tlv(), 0..6)) {
            let mut checker = fresh(&small_package(10), 0).0.checker;
            for t in &tlvs {
                let _ = checker.check(t);
            }
        }

        /// Any package survives protect → card → installer unchanged, at any segment size.
        #[test]
        fn any_package_any_segment_size(filler in 0usize..3000, seg in 1usize..=MAX_SEGMENT_PLAINTEXT) {
            let pkg = small_package(filler);
            let d = host_for(ISDP_AID, pysim_keys(), 7)
                .with_segment_size(seg)
                .unwrap()
                .protect(&pkg)
                .unwrap();
            let mut sd = card_for(ISDP_AID, pysim_keys(), 7);
            let mut card = Scp03tCard::new();
            let (answers, got) = run(&mut sd, &mut card, &d.commands);
            prop_assert_eq!(got.as_deref(), Some(&pkg[..]));
            let mut checker = d.checker;
            prop_assert!(checker.check_all(&answers).is_ok());
        }

        /// EUICCResponse decoding never panics.
        #[test]
        fn euicc_response_decode_never_panics(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = EuiccResponse::from_der(&v);
        }
    }
}
