//! SGP.02 ES8 EstablishISDPKeySet on the card, driven through the ISD-R's SCP03 session by
//! smsr-proto's SM-DP side ([`EstablishIsdpKeySet`]): CreateISDP, INSTALL [for
//! personalization], STORE DATA `3A01` and `3A02`, then an SCP03 session to the ISD-P with the
//! key set both sides derived. Every refusal leaves the ISD-P SELECTABLE and keyless.

use super::*;
use crate::eum::personalize_with_key;
use smsr_proto::ecka::{EstablishIsdpKeySet, EstablishedKeySet, HostConfig};
use smsr_proto::gp::Install;
use smsr_proto::pki::{Issuers, PrivateKey, TestPki};

/// The plain INSTALL [for personalization] of ISD-P `…1000` (SGP02.md §3.1 step 1, njiwa).
const INSTALL_FOR_PERSONALIZATION_10: &str =
    "80E6200016 0000 10A0000005591010FFFFFFFF8900001000 000000 00";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn isd_p_aid(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

/// A card whose ECASD the EUM of `pki` personalized, with ISD-P `…1000` created through the
/// ISD-R; the ISD-R session stays open.
fn personalized_card(pki: &TestPki) -> (Card, Established) {
    let mut st = state();
    personalize_with_key(&mut st, &pki.issuers(), pki.ecasd.key.clone()).unwrap();
    assert_eq!(
        st.ecasd_keys().unwrap().certificate,
        pki.issuers()
            .issue_ecasd(&st.eid(), pki.ecasd.public_key())
            .unwrap()
    );
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::ALL[5]);
    let create = Install::create_isd_p(isd_p_aid(0x10), None)
        .to_apdu()
        .unwrap();
    assert_eq!(send(&mut c, &mut s, create).sw, StatusWord::Success);
    (c, s)
}

fn pki() -> TestPki {
    let eid = parse_eid(EID).unwrap();
    TestPki::generate(&eid).unwrap()
}

fn host(pki: &TestPki) -> EstablishIsdpKeySet {
    EstablishIsdpKeySet::new(
        HostConfig::default(),
        pki.sm_dp.certificate.clone(),
        pki.sm_dp.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap()
}

fn install_for_personalization(c: &mut Card, s: &mut Established, n: u16) -> ResponseApdu {
    let cmd = Install::ForPersonalization(isd_p_aid(n)).to_apdu().unwrap();
    send(c, s, cmd)
}

fn life_cycle_of(c: &Card, n: u16) -> u8 {
    c.state()
        .registry()
        .find(isd_p_aid(n).as_bytes())
        .unwrap()
        .life_cycle
}

/// The whole exchange; returns the host's key set.
fn establish(c: &mut Card, s: &mut Established, pki: &TestPki) -> EstablishedKeySet {
    let r = install_for_personalization(c, s, 0x10);
    assert_eq!((r.sw, r.data.as_slice()), (StatusWord::Success, &[0u8][..]));
    let host = host(pki);
    let first = host.certificate_command().unwrap().to_apdu().unwrap();
    assert_eq!((first.p1, first.p2), (0x09, 0x00));
    let r = send(c, s, first);
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(&r.data[..2], &[0x85, 0x10]);
    let awaiting = host.receive_challenge(&r.data).unwrap();
    let second = awaiting.key_parameters_command().to_apdu().unwrap();
    assert_eq!((second.p1, second.p2), (0x89, 0x01));
    let r = send(c, s, second);
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(r.data.len(), 2 + 16 + 2 + 16);
    awaiting.receive_receipt(&r.data).unwrap()
}

/// SELECT the ISD-P on `channel` and open SCP03 with `keys`.
fn open_isd_p(c: &mut Card, keys: StaticKeys, channel: u8) -> Result<Established, ScpError> {
    let select = CommandApdu::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(isd_p_aid(0x10).as_bytes().to_vec())
        .with_channel(channel)
        .unwrap();
    let r = c.handle(&select);
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(&r.data[2..4], &[0x84, 0x10]);
    let host = Scp03Host::new(keys, options(0, channel))?;
    let resp = c.handle(&host.initialize_update_command()?);
    let authenticated = host.on_initialize_update_response(&resp)?;
    assert_eq!(
        authenticated.pseudo_random_challenge_matches(isd_p_aid(0x10).as_bytes()),
        Some(true)
    );
    let (cmd, awaiting) = authenticated.external_authenticate_command(SecurityLevel::ALL[5])?;
    awaiting.on_external_authenticate_response(&c.handle(&cmd))
}

#[test]
fn the_pinned_install_is_what_smsr_proto_builds() {
    let cmd = Install::ForPersonalization(isd_p_aid(0x10))
        .to_apdu()
        .unwrap();
    assert_eq!(cmd.to_bytes().unwrap(), h(INSTALL_FOR_PERSONALIZATION_10));
}

#[test]
fn key_establishment_personalizes_the_isd_p_which_then_opens_scp03() {
    let pki = pki();
    let (mut c, mut s) = personalized_card(&pki);
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::SELECTABLE);
    // Not selectable without keys.
    let select = CommandApdu::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(isd_p_aid(0x10).as_bytes().to_vec())
        .with_channel(1)
        .unwrap();
    assert_eq!(c.handle(&apdu("0070000101")).sw, StatusWord::Success);
    assert_eq!(c.handle(&select).sw, StatusWord::FileNotFound);

    let keys = establish(&mut c, &mut s, &pki);
    assert_eq!(keys.keys.kvn(), 0x30);
    assert_ne!(keys.keys.enc().as_bytes(), keys.keys.mac().as_bytes());
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::PERSONALIZED);
    assert!(c.take_dirty());

    // An SCP03 session to the ISD-P (i = 70, S8, security level 33) with the derived keys, on
    // channel 1 while the ISD-R session on channel 0 goes on.
    let mut p = open_isd_p(&mut c, keys.keys.clone(), 1).unwrap();
    assert_eq!(c.secure_channel_level(1), Some(SecurityLevel::ALL[5]));
    let r = send(&mut c, &mut p, apdu("80CA006600").with_channel(1).unwrap());
    assert_eq!(r.sw, StatusWord::InsNotSupported);
    let gs = get_status(StatusScope::Applications, ResponseFormat::Tlv);
    assert_eq!(
        send(&mut c, &mut s, gs.to_apdu().unwrap()).sw,
        StatusWord::Success
    );
    // The wrong keys do not open it.
    let other = StaticKeys::new(0x30, &[7; 16], &[8; 16], &[9; 16]).unwrap();
    assert!(open_isd_p(&mut c, other, 1).is_err());

    // A second establishment for the same ISD-P is refused: it is PERSONALIZED now (INSTALL
    // [for personalization] is accepted, for scripts; `3A01` is not).
    let r = install_for_personalization(&mut c, &mut s, 0x10);
    assert_eq!(r.sw, StatusWord::Success);
    let again = host(&pki).certificate_command().unwrap().to_apdu().unwrap();
    assert_eq!(
        send(&mut c, &mut s, again).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );

    // The key set and its counter live in the state file.
    let back = CardState::from_json(&c.state().to_json()).unwrap();
    assert_eq!(&back, c.state());
    let counter = back
        .isd_p_scp03(isd_p_aid(0x10).as_bytes())
        .unwrap()
        .keysets()[0]
        .sequence_counter;
    assert_eq!(
        counter, 2,
        "two INITIALIZE UPDATE, two pseudo-random challenges"
    );
    let mut c2 = Card::new(back);
    assert!(open_isd_p(&mut c2, keys.keys, 0).is_ok());
}

#[track_caller]
fn refused(c: &mut Card, s: &mut Established, cmd: CommandApdu, sw: StatusWord) {
    assert_eq!(send(c, s, cmd).sw, sw);
}

#[test]
fn refusals_leave_the_isd_p_selectable_and_keyless() {
    let pki = pki();
    let (mut c, mut s) = personalized_card(&pki);

    // A CERT.DP.ECDSA from another CI.
    let other = TestPki::generate(&parse_eid(EID).unwrap()).unwrap();
    let foreign = EstablishIsdpKeySet::new(
        HostConfig::default(),
        other.sm_dp.certificate.clone(),
        other.sm_dp.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap();
    install_for_personalization(&mut c, &mut s, 0x10);
    let cmd = foreign.certificate_command().unwrap().to_apdu().unwrap();
    refused(&mut c, &mut s, cmd, StatusWord::SecurityStatusNotSatisfied);

    // The SM-SR's certificate: right CI, wrong role.
    let sm_sr = EstablishIsdpKeySet::new(
        HostConfig::default(),
        pki.sm_sr.certificate.clone(),
        pki.sm_sr.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap();
    install_for_personalization(&mut c, &mut s, 0x10);
    let cmd = sm_sr.certificate_command().unwrap().to_apdu().unwrap();
    refused(&mut c, &mut s, cmd, StatusWord::SecurityStatusNotSatisfied);

    // A 3A02 whose signature does not verify (one bit of r flipped).
    install_for_personalization(&mut c, &mut s, 0x10);
    let good = host(&pki);
    let r = send(
        &mut c,
        &mut s,
        good.certificate_command().unwrap().to_apdu().unwrap(),
    );
    let awaiting = good.receive_challenge(&r.data).unwrap();
    let mut cmd = awaiting.key_parameters_command().to_apdu().unwrap();
    let n = cmd.data.len();
    cmd.data[n - 40] ^= 0x01;
    refused(&mut c, &mut s, cmd, StatusWord::SecurityStatusNotSatisfied);
    // The exchange is over: the genuine 3A02 now goes to the ISD-R, where block 01 without
    // block 00 is out of sequence.
    let cmd = awaiting.key_parameters_command().to_apdu().unwrap();
    refused(&mut c, &mut s, cmd, StatusWord::IncorrectP1P2);
    // Within an exchange, 3A02 before 3A01 is out of order.
    install_for_personalization(&mut c, &mut s, 0x10);
    let cmd = awaiting.key_parameters_command().to_apdu().unwrap();
    refused(&mut c, &mut s, cmd, StatusWord::ConditionsOfUseNotSatisfied);

    // A truncated certificate block.
    install_for_personalization(&mut c, &mut s, 0x10);
    let mut cmd = host(&pki).certificate_command().unwrap().to_apdu().unwrap();
    cmd.data.truncate(20);
    refused(&mut c, &mut s, cmd, StatusWord::IncorrectData);

    // 3A01 sent as the last block.
    install_for_personalization(&mut c, &mut s, 0x10);
    let mut block = host(&pki).certificate_command().unwrap();
    block.last = true;
    refused(
        &mut c,
        &mut s,
        block.to_apdu().unwrap(),
        StatusWord::ConditionsOfUseNotSatisfied,
    );

    // Unknown ISD-P, and a card whose ECASD has no key.
    refused(
        &mut c,
        &mut s,
        Install::ForPersonalization(isd_p_aid(0x33))
            .to_apdu()
            .unwrap(),
        StatusWord::ReferencedDataNotFound,
    );
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::SELECTABLE);
    assert!(c.state().isd_p_scp03(isd_p_aid(0x10).as_bytes()).is_none());
    // After all that, the genuine exchange still works.
    establish(&mut c, &mut s, &pki);
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::PERSONALIZED);

    let mut bare = Card::new(state());
    select_isd_r(&mut bare, 0);
    let mut s = open(&mut bare, SecurityLevel::ALL[5]);
    let create = Install::create_isd_p(isd_p_aid(0x10), None)
        .to_apdu()
        .unwrap();
    assert_eq!(send(&mut bare, &mut s, create).sw, StatusWord::Success);
    let r = install_for_personalization(&mut bare, &mut s, 0x10);
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
}

#[test]
fn an_isd_p_with_a_profile_is_refused() {
    let pki = pki();
    let mut st = state();
    personalize_with_key(&mut st, &pki.issuers(), pki.ecasd.key.clone()).unwrap();
    st.install_test_profile(
        &isd_p_aid(0x11),
        parse_iccid("8949440000000000011").unwrap(),
        false,
        0,
    )
    .unwrap();
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::ALL[5]);
    let r = install_for_personalization(&mut c, &mut s, 0x11);
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
}

/// The APDUs of one exchange with fixed keys (printed with `--nocapture`, for the host side).
#[test]
fn one_exchange_in_hex() {
    let keys = smsr_proto::pki::test_pki::TestPkiKeys {
        ci: PrivateKey::from_bytes(&[0x11; 32]).unwrap(),
        eum: PrivateKey::from_bytes(&[0x22; 32]).unwrap(),
        sm_dp: PrivateKey::from_bytes(&[0x33; 32]).unwrap(),
        sm_sr: PrivateKey::from_bytes(&[0x44; 32]).unwrap(),
        ecasd: PrivateKey::from_bytes(&[0x55; 32]).unwrap(),
    };
    let pki = TestPki::from_keys(keys, &parse_eid(EID).unwrap()).unwrap();
    let issuers: Issuers = pki.issuers();
    assert_eq!(issuers.ci.certificate, pki.ci.certificate);
    let (mut c, mut s) = personalized_card(&pki);
    let install = Install::ForPersonalization(isd_p_aid(0x10))
        .to_apdu()
        .unwrap();
    let r = send(&mut c, &mut s, install.clone());
    println!("C: {}", hex::encode_upper(install.to_bytes().unwrap()));
    println!("R: {}{:04X}", hex::encode_upper(&r.data), r.sw.to_u16());
    let host = host(&pki);
    let first = host.certificate_command().unwrap().to_apdu().unwrap();
    let r = send(&mut c, &mut s, first.clone());
    println!("C: {}", hex::encode_upper(first.to_bytes().unwrap()));
    println!("R: {}{:04X}", hex::encode_upper(&r.data), r.sw.to_u16());
    let awaiting = host
        .receive_challenge_with_ephemeral(&r.data, PrivateKey::from_bytes(&[0x66; 32]).unwrap())
        .unwrap();
    let second = awaiting.key_parameters_command().to_apdu().unwrap();
    let r = send(&mut c, &mut s, second.clone());
    println!("C: {}", hex::encode_upper(second.to_bytes().unwrap()));
    println!("R: {}{:04X}", hex::encode_upper(&r.data), r.sw.to_u16());
    let keys = awaiting.receive_receipt(&r.data).unwrap();
    assert_eq!(keys.keys.kvn(), 0x30);
}

#[test]
fn a_card_migrated_from_version_3_refuses_key_establishment() {
    let mut st = state();
    st.create_isd_p(
        isd_p_aid(0x10),
        crate::isd_p::IsdP::created(0x70, None, None),
    )
    .unwrap();
    let v5 = st.to_json();
    assert!(v5.contains("\"version\": 5") && !v5.contains("\"ecasd\""));
    let v3 = v5.replacen("\"version\": 5", "\"version\": 3", 1);
    let migrated = CardState::from_json(&v3).unwrap();
    assert!(migrated.ecasd_keys().is_none() && migrated.scp80_keysets().is_empty());
    let mut c = Card::new(migrated);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::ALL[5]);
    let r = install_for_personalization(&mut c, &mut s, 0x10);
    assert_eq!(r.sw, StatusWord::ConditionsOfUseNotSatisfied);
    // A version 3 file may not carry version 4 fields.
    let pki = pki();
    let mut keyed = state();
    personalize_with_key(&mut keyed, &pki.issuers(), pki.ecasd.key.clone()).unwrap();
    let text = keyed
        .to_json()
        .replacen("\"version\": 5", "\"version\": 3", 1);
    let err = CardState::from_json(&text).unwrap_err().to_string();
    assert!(err.contains("version 3 file has no"), "{err}");
}

/// STORE DATA blocks (BER-TLV format) carrying `script` after INSTALL [for personalization]
/// of ISD-P `…1000`; the last block's answer.
fn forward_script(c: &mut Card, s: &mut Established, script: &[u8], block: usize) -> ResponseApdu {
    let r = install_for_personalization(c, s, 0x10);
    assert_eq!(r.sw, StatusWord::Success);
    let blocks = StoreData::new(script.to_vec())
        .ber_tlv()
        .with_response()
        .split(block)
        .unwrap();
    let mut last = None;
    for (i, b) in blocks.iter().enumerate() {
        let r = send(c, s, b.to_apdu().unwrap());
        if i + 1 < blocks.len() {
            assert_eq!((r.sw, r.data.len()), (StatusWord::Success, 0));
        }
        last = Some(r);
    }
    last.unwrap()
}

#[test]
fn scripts_forwarded_by_store_data_download_a_profile() {
    use smsr_proto::ota::response::ResponseScript;
    use smsr_proto::saip::minimal::MinimalProfile;
    use smsr_proto::scp03t::Scp03tHost;
    let pki = pki();
    let (mut c, mut s) = personalized_card(&pki);
    let keys = establish(&mut c, &mut s, &pki);
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der();
    let mut download = Scp03tHost::new(keys.keys.clone(), 0x00, isd_p_aid(0x10).as_bytes(), 0)
        .unwrap()
        .protect(&der)
        .unwrap();
    let scripts = download.scripts();
    assert!(scripts.len() >= 2);
    // A block out of sequence is refused and ends the forwarding.
    let first = scripts[0].to_bytes().unwrap();
    assert_eq!(
        install_for_personalization(&mut c, &mut s, 0x10).sw,
        StatusWord::Success
    );
    let mut stray = StoreData::new(first.clone()).ber_tlv().with_response();
    stray.block = 1;
    assert_eq!(
        send(&mut c, &mut s, stray.to_apdu().unwrap()).sw,
        StatusWord::IncorrectP1P2
    );
    // Every script in blocks of 100 bytes; each answer checked by the SM-DP's checker.
    for script in &scripts {
        let r = forward_script(&mut c, &mut s, &script.to_bytes().unwrap(), 100);
        assert_eq!(r.sw, StatusWord::Success);
        let answer = ResponseScript::parse(&r.data).unwrap();
        download.checker.check_response_script(&answer).unwrap();
    }
    assert!(download.checker.response().unwrap().is_ok());
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::ISD_P_DISABLED);
    // The last block ended the forwarding: STORE DATA goes to the ISD-R again.
    let enable = smsr_proto::sgp02::Es5Command::EnableProfile(isd_p_aid(0x10))
        .to_apdu()
        .unwrap();
    assert_eq!(send(&mut c, &mut s, enable).sw, StatusWord::Success);
    // A replayed first script is refused by the ISD-P's SCP03t receiver: its `85` was computed
    // with the card challenge of a sequence counter used up since (`9F45`).
    let r = forward_script(&mut c, &mut s, &scripts[0].to_bytes().unwrap(), 239);
    let answer = ResponseScript::parse(&r.data).unwrap();
    assert!(
        answer.items.iter().any(|i| matches!(
            i,
            smsr_proto::ota::response::ResponseTlv::Raw(t) if t.tag.value() == 0x9F45
        )),
        "{answer:?}"
    );
    assert_eq!(life_cycle_of(&c, 0x10), life_cycle::ISD_P_ENABLED);
}
