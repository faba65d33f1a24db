//! The ISD-R driven by smsr-proto's host side of SCP03 ([`Scp03Host`]) through
//! [`Card::handle`], and replays of published SCP03 sessions (`shared/vectors/scp03.json`).

mod es5;
mod es8;
mod vectors;

use crate::card::Card;
use crate::eid::parse_eid;
use crate::isd_p::{parse_iccid, IsdP, Profile};
use crate::keyset::{test_keyset, GP_TEST_KEY};
use crate::registry::RegistryRecord;
use crate::state::CardState;
use crate::Emulator;
use smsr_proto::gp::get_data::{tags, SequenceCounter};
use smsr_proto::gp::get_status::{ResponseFormat, StatusScope};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::{
    Aid, CardData, DataObject, Delete, Dgi, ExtendedCardResources, GetData, GetStatus,
    KeyInformationTemplate, StoreData,
};
use smsr_proto::scp03::put_key::{put_key_command, PutKeyResponse};
use smsr_proto::scp03::{Established, HostOptions, Scp03Host, ScpError, SecurityLevel, StaticKeys};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

const EID: &str = "89044011112233441122334411223321";
const SELECT_ISD_R: &str = "00A4040010A0000005591010FFFFFFFF8900000100";

fn state() -> CardState {
    CardState::new(Some(parse_eid(EID).unwrap()))
}

fn card() -> Card {
    let mut c = Card::new(state());
    select_isd_r(&mut c, 0);
    c
}

fn apdu(hex: &str) -> CommandApdu {
    CommandApdu::parse(&hex::decode(hex).unwrap()).unwrap()
}

fn select_isd_r(c: &mut Card, channel: u8) {
    let cmd = apdu(SELECT_ISD_R).with_channel(channel).unwrap();
    assert_eq!(c.handle(&cmd).sw, StatusWord::Success);
}

fn options(kvn: u8, channel: u8) -> HostOptions {
    HostOptions {
        kvn,
        channel,
        ..HostOptions::default()
    }
}

/// INITIALIZE UPDATE and EXTERNAL AUTHENTICATE; checks the pseudo-random card challenge.
fn try_open(
    c: &mut Card,
    keys: StaticKeys,
    opts: HostOptions,
    level: SecurityLevel,
) -> Result<Established, ScpError> {
    let host = Scp03Host::new(keys, opts)?;
    let resp = c.handle(&host.initialize_update_command()?);
    let authenticated = host.on_initialize_update_response(&resp)?;
    assert_eq!(
        authenticated.pseudo_random_challenge_matches(&crate::isd_r::ISD_R_AID),
        Some(true)
    );
    let (cmd, awaiting) = authenticated.external_authenticate_command(level)?;
    awaiting.on_external_authenticate_response(&c.handle(&cmd))
}

fn open(c: &mut Card, level: SecurityLevel) -> Established {
    try_open(c, test_keyset(0x30), options(0, 0), level).unwrap()
}

/// Wraps, sends, unwraps.
fn send(c: &mut Card, session: &mut Established, cmd: CommandApdu) -> ResponseApdu {
    let wrapped = session.wrap_command(cmd).unwrap();
    session.unwrap_response(c.handle(&wrapped)).unwrap()
}

fn get_status(scope: StatusScope, format: ResponseFormat) -> GetStatus {
    GetStatus {
        format,
        ..GetStatus::new(scope)
    }
}

/// An ISD-P registry entry in life cycle `lcs`, with a profile when `lcs` is DISABLED or
/// ENABLED.
fn isd_p(n: u16, lcs: u8) -> RegistryRecord {
    let mut data = IsdP::created(0x70, None, None);
    if matches!(lcs, life_cycle::ISD_P_DISABLED | life_cycle::ISD_P_ENABLED) {
        data.profile = Some(Profile {
            iccid: parse_iccid(&format!("894944000000000{n:04}")).unwrap(),
            fallback: false,
            pol1: 0,
        });
    }
    RegistryRecord {
        life_cycle: lcs,
        ..RegistryRecord::isd_p(Aid::isd_p(n).unwrap(), data)
    }
}

#[test]
fn sessions_at_every_level_on_two_channels() {
    for channel in [0u8, 1] {
        for level in SecurityLevel::ALL {
            let mut c = card();
            if channel == 1 {
                assert_eq!(c.handle(&apdu("0070000101")).sw, StatusWord::Success);
                select_isd_r(&mut c, 1);
            }
            let mut s = try_open(&mut c, test_keyset(0x30), options(0, channel), level).unwrap();
            assert_eq!(c.secure_channel_level(channel), Some(level));
            assert_eq!(c.secure_channel_level(1 - channel), None);
            // GET DATA works at every level, its answer protected as the level says.
            let cmd = GetData::new(tags::CARD_DATA).to_apdu().unwrap();
            let r = send(&mut c, &mut s, cmd.with_channel(channel).unwrap());
            let data = r.into_success().unwrap();
            let card_data = CardData::parse(&data).unwrap();
            assert_eq!(card_data.recognition.gp_version().as_deref(), Some("2.3.1"));
            let gs = GetStatus::new(StatusScope::IssuerSecurityDomain);
            let cmd = gs.to_apdu().unwrap().with_channel(channel).unwrap();
            let r = send(&mut c, &mut s, cmd);
            if level.c_mac() {
                let entries = gs.parse_response(&r.into_success().unwrap()).unwrap();
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].aid, Aid::isd_r());
                assert_eq!(entries[0].life_cycle, life_cycle::SECURED);
            } else {
                assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
            }
            assert!(!s.is_terminated(), "{level}");
        }
    }
}

#[test]
fn management_without_a_session_is_6982() {
    let mut c = card();
    for cmd in [
        "80F28002024F0000",
        "80D8308100",
        "80E2880003010100",
        "80E40000024F00",
        "80E60C0000",
        "80E8800000",
        "80F0400700",
    ] {
        assert_eq!(
            c.handle(&apdu(cmd)).sw,
            StatusWord::SecurityStatusNotSatisfied,
            "{cmd}"
        );
    }
    // GET DATA in clear, both classes.
    let r = c.handle(&apdu("80CA00CF00"));
    assert_eq!(
        r.into_success().unwrap()[2..],
        hex::decode(&EID[12..]).unwrap()
    );
    let r = c.handle(&apdu("00CA00CF00"));
    assert_eq!(r.into_success().unwrap(), hex::decode(&EID[12..]).unwrap());
    // Secure messaging without a session; ISO commands; unknown instructions.
    assert_eq!(
        c.handle(&apdu("84F28002024F0000")).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    assert_eq!(
        c.handle(&apdu("80F4000000")).sw,
        StatusWord::InsNotSupported
    );
    // EXTERNAL AUTHENTICATE without INITIALIZE UPDATE.
    assert_eq!(
        c.handle(&apdu(&format!("8482010010{}", "00".repeat(16))))
            .sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    // Authenticated at level 00: still no C-MAC, still refused.
    let mut s = open(&mut c, SecurityLevel::NoSecureMessaging);
    let r = send(&mut c, &mut s, apdu("80F28002024F0000"));
    assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
    // GP class required for management commands in a session.
    let mut s = open(&mut c, SecurityLevel::CMac);
    let r = send(&mut c, &mut s, apdu("00F28002024F0000"));
    assert_eq!(r.sw, StatusWord::ClaNotSupported);
    // INSTALL without data is no CreateISDP; LOAD is not offered.
    let r = send(&mut c, &mut s, apdu("80E60C0000"));
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let r = send(&mut c, &mut s, apdu("80E8800001C400"));
    assert_eq!(r.sw, StatusWord::FunctionNotSupported);
}

#[test]
fn a_command_below_the_session_level_ends_the_session() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMac);
    assert_eq!(
        c.handle(&apdu("80CA006600")).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    assert_eq!(c.secure_channel_level(0), None);
    // The host's next correctly wrapped command is refused too.
    let wrapped = s.wrap_command(apdu("80CA006600")).unwrap();
    assert_eq!(
        c.handle(&wrapped).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    // A new session works.
    let mut s = open(&mut c, SecurityLevel::CDecREncCMacRMac);
    assert!(send(&mut c, &mut s, apdu("80CA006600"))
        .into_success()
        .is_ok());
}

#[test]
fn tampered_mac_is_6982_and_ends_the_session() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CDecCMacRMac);
    let mut wrapped = s.wrap_command(apdu("80F28002024F0000")).unwrap();
    let last = wrapped.data.len() - 1;
    wrapped.data[last] ^= 0x01;
    let r = c.handle(&wrapped);
    assert_eq!(
        r,
        ResponseApdu::status(StatusWord::SecurityStatusNotSatisfied)
    );
    assert_eq!(c.secure_channel_level(0), None);
    let next = s.wrap_command(apdu("80CA006600")).unwrap();
    assert_eq!(c.handle(&next).sw, StatusWord::SecurityStatusNotSatisfied);
    // Tampered encrypted data: bad padding or MAC, same result.
    let mut s = open(&mut c, SecurityLevel::CDecCMac);
    let mut wrapped = s.wrap_command(apdu("80F28002024F0000")).unwrap();
    wrapped.data[0] ^= 0x80;
    assert_eq!(
        c.handle(&wrapped).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    assert_eq!(c.secure_channel_level(0), None);
}

#[test]
fn selection_channel_close_and_reset_end_the_session() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMac);
    select_isd_r(&mut c, 0);
    assert_eq!(c.secure_channel_level(0), None);
    let wrapped = s.wrap_command(apdu("80CA006600")).unwrap();
    assert_eq!(
        c.handle(&wrapped).sw,
        StatusWord::SecurityStatusNotSatisfied
    );

    assert_eq!(c.handle(&apdu("0070000101")).sw, StatusWord::Success);
    select_isd_r(&mut c, 1);
    let _s1 = try_open(
        &mut c,
        test_keyset(0x30),
        options(0, 1),
        SecurityLevel::CMac,
    )
    .unwrap();
    let _s0 = open(&mut c, SecurityLevel::CMacRMac);
    assert_eq!(c.secure_channel_level(1), Some(SecurityLevel::CMac));
    assert_eq!(c.handle(&apdu("00708001")).sw, StatusWord::Success);
    assert_eq!(c.secure_channel_level(1), None);
    assert_eq!(c.secure_channel_level(0), Some(SecurityLevel::CMacRMac));
    c.reset();
    assert_eq!(c.secure_channel_level(0), None);
}

#[test]
fn wrong_keys_and_unknown_kvn() {
    let mut c = card();
    let wrong = StaticKeys::single(0x30, &[0x11; 16]).unwrap();
    assert!(matches!(
        try_open(&mut c, wrong, options(0, 0), SecurityLevel::CMac),
        Err(ScpError::CardCryptogramMismatch { kvn: 0x30 })
    ));
    assert!(matches!(
        try_open(
            &mut c,
            test_keyset(0x31),
            options(0x31, 0),
            SecurityLevel::CMac
        ),
        Err(ScpError::InitializeUpdateRefused {
            sw: StatusWord::ReferencedDataNotFound
        })
    ));
    assert!(try_open(
        &mut c,
        test_keyset(0x30),
        options(0x30, 0),
        SecurityLevel::CMac
    )
    .is_ok());
}

#[test]
fn get_status_formats_parse_back() {
    let mut st = state();
    st.registry_mut()
        .add(isd_p(0x10, life_cycle::ISD_P_DISABLED))
        .unwrap();
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::CDecREncCMacRMac);
    for format in [ResponseFormat::Tlv, ResponseFormat::Legacy] {
        for (scope, aids) in [
            (StatusScope::IssuerSecurityDomain, vec![Aid::isd_r()]),
            (
                StatusScope::Applications,
                vec![Aid::ecasd(), Aid::isd_p(0x10).unwrap()],
            ),
            (StatusScope::LoadFiles, vec![Aid::isd_p_load_file()]),
            (
                StatusScope::LoadFilesAndModules,
                vec![Aid::isd_p_load_file()],
            ),
        ] {
            let gs = get_status(scope, format);
            let r = send(&mut c, &mut s, gs.to_apdu().unwrap());
            let entries = gs.parse_response(&r.into_success().unwrap()).unwrap();
            let got: Vec<Aid> = entries.iter().map(|e| e.aid.clone()).collect();
            assert_eq!(got, aids, "{scope:?} {format:?}");
            if scope == StatusScope::LoadFilesAndModules {
                assert_eq!(entries[0].modules, vec![Aid::isd_p_module()]);
            }
            if scope == StatusScope::Applications {
                assert_eq!(entries[1].life_cycle, life_cycle::ISD_P_DISABLED);
                if format == ResponseFormat::Tlv {
                    assert_eq!(entries[1].privileges.unwrap().bytes(), [0x80, 0xC0, 0x00]);
                    assert_eq!(entries[1].associated_sd, Some(Aid::isd_r()));
                } else {
                    // The legacy format has the first privilege byte only.
                    assert_eq!(entries[1].privileges.unwrap().bytes(), [0x80, 0x00, 0x00]);
                }
            }
        }
    }
    // Search by AID prefix, nothing found, malformed and unsupported criteria.
    let gs =
        GetStatus::new(StatusScope::Applications).with_aid_prefix(&Aid::ecasd().as_bytes()[..16]);
    let r = send(&mut c, &mut s, gs.to_apdu().unwrap());
    assert_eq!(
        gs.parse_response(&r.into_success().unwrap()).unwrap().len(),
        1
    );
    let gs =
        GetStatus::new(StatusScope::Applications).with_aid_prefix(&[0xA0, 0x00, 0x00, 0x00, 0x87]);
    assert_eq!(
        send(&mut c, &mut s, gs.to_apdu().unwrap()).sw,
        StatusWord::ReferencedDataNotFound
    );
    let r = send(&mut c, &mut s, apdu("80F24002074F009F70010700"));
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let r = send(&mut c, &mut s, apdu("80F220020A4F0212345C054F9F70C500"));
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let r = send(&mut c, &mut s, apdu("80F20002024F0000"));
    assert_eq!(r.sw, StatusWord::IncorrectP1P2);
    // A tag list is accepted (and every object still sent).
    let gs = GetStatus::new(StatusScope::IssuerSecurityDomain).with_tag_list(&[0x4Fu8.into()]);
    let r = send(&mut c, &mut s, gs.to_apdu().unwrap());
    assert_eq!(
        gs.parse_response(&r.into_success().unwrap()).unwrap().len(),
        1
    );
    // A "next" without a previous answer.
    let r = send(&mut c, &mut s, apdu("80F24003024F0000"));
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
}

#[test]
fn get_status_pages_with_6310() {
    let mut st = state();
    for n in 0x10..0x20 {
        st.registry_mut()
            .add(isd_p(n, life_cycle::SELECTABLE))
            .unwrap();
    }
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::CDecREncCMacRMac);
    for format in [ResponseFormat::Tlv, ResponseFormat::Legacy] {
        let mut gs = get_status(StatusScope::Applications, format);
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let r = send(&mut c, &mut s, gs.to_apdu().unwrap());
            assert!(r.data.len() <= crate::isd_r::GET_STATUS_PAGE_MAX);
            all.extend(gs.parse_response(&r.data).unwrap());
            pages += 1;
            match gs.follow_up(r.sw) {
                Some(next) if r.sw == StatusWord::MoreDataAvailable => gs = next,
                _ => {
                    assert_eq!(r.sw, StatusWord::Success);
                    break;
                }
            }
        }
        assert_eq!(all.len(), 17, "{format:?}");
        assert_eq!(all[0].aid, Aid::ecasd());
        assert_eq!(all[16].aid, Aid::isd_p(0x1F).unwrap());
        if format == ResponseFormat::Tlv {
            assert!(pages >= 3, "{pages} pages");
        } else {
            assert!(pages >= 2, "{pages} pages");
        }
        // Nothing left.
        let r = send(&mut c, &mut s, gs.to_apdu().unwrap());
        assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    }
    // Another command in between drops the pages.
    let gs = GetStatus::new(StatusScope::Applications);
    assert_eq!(
        send(&mut c, &mut s, gs.to_apdu().unwrap()).sw,
        StatusWord::MoreDataAvailable
    );
    send(&mut c, &mut s, apdu("80CA006600"));
    let next = gs.follow_up(StatusWord::MoreDataAvailable).unwrap();
    assert_eq!(
        send(&mut c, &mut s, next.to_apdu().unwrap()).sw,
        StatusWord::ReferencedDataNotFound
    );
}

#[test]
fn get_data_objects() {
    let mut c = card();
    let value = |c: &mut Card, tag: u16| {
        let cmd = GetData::new(tag).to_apdu().unwrap();
        c.handle(&cmd)
    };
    let kdd = value(&mut c, tags::KEY_DIVERSIFICATION_DATA)
        .into_success()
        .unwrap();
    assert_eq!(hex::encode_upper(kdd), format!("CF0A{}", &EID[12..]));
    let c1 = SequenceCounter::parse(
        &value(&mut c, tags::SEQUENCE_COUNTER)
            .into_success()
            .unwrap(),
    );
    assert_eq!(c1.unwrap().value, 0);
    let _s = open(&mut c, SecurityLevel::CMac);
    let _s = open(&mut c, SecurityLevel::CMac);
    // Back to clear commands: a new selection ends the session.
    select_isd_r(&mut c, 0);
    let c1 = SequenceCounter::parse(
        &value(&mut c, tags::SEQUENCE_COUNTER)
            .into_success()
            .unwrap(),
    );
    assert_eq!(c1.unwrap(), SequenceCounter { value: 2, width: 3 });
    let e0 = KeyInformationTemplate::parse(
        &value(&mut c, tags::KEY_INFORMATION).into_success().unwrap(),
    )
    .unwrap();
    let ids: Vec<(u8, u8, u8, u16)> = e0
        .keys
        .iter()
        .map(|k| {
            (
                k.id,
                k.version,
                k.components[0].key_type,
                k.components[0].length,
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            (1, 0x30, 0x88, 16),
            (2, 0x30, 0x88, 16),
            (3, 0x30, 0x88, 16)
        ]
    );
    let card_data =
        CardData::parse(&value(&mut c, tags::CARD_DATA).into_success().unwrap()).unwrap();
    let scps = card_data.recognition.scp_options();
    assert_eq!((scps[0].scp, scps[0].i), (0x03, 0x70));
    let ff21 = ExtendedCardResources::parse(
        &value(&mut c, tags::EXTENDED_CARD_RESOURCES)
            .into_success()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ff21.installed_applications, Some(1));
    assert_eq!(ff21.free_non_volatile_memory, Some(512 * 1024));
    assert_eq!(ff21.free_volatile_memory, Some(8 * 1024));
    let iin = value(&mut c, tags::IIN).into_success().unwrap();
    assert_eq!(hex::encode_upper(iin), format!("4204{}", &EID[..8]));
    let cin = value(&mut c, tags::CIN).into_success().unwrap();
    assert_eq!(hex::encode_upper(cin), format!("4510{EID}"));
    for tag in [tags::EID, tags::CPLC, tags::CARD_CAPABILITY, 0x1234] {
        assert_eq!(
            value(&mut c, tag).sw,
            StatusWord::ReferencedDataNotFound,
            "{tag:04X}"
        );
    }
    assert_eq!(
        c.handle(&apdu("80CA2F00025C0000")).sw,
        StatusWord::ReferencedDataNotFound
    );
    assert_eq!(
        c.handle(&apdu("80CB2F00025C0000")).sw,
        StatusWord::ClaNotSupported
    );
}

#[test]
fn put_key_rotation_then_new_session_with_new_keys() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CDecREncCMacRMac);
    let old = test_keyset(0x30);
    let new = StaticKeys::new(0x31, &[0x11; 16], &[0x22; 16], &[0x33; 16]).unwrap();
    let cmd = put_key_command(&new, 0x30, old.dek()).unwrap();
    let r = send(&mut c, &mut s, cmd);
    let resp = PutKeyResponse::parse(&r.into_success().unwrap(), 3).unwrap();
    resp.verify(&new).unwrap();
    assert_eq!(c.state().kvns(), vec![0x31]);
    // The session goes on with its session keys.
    assert!(send(&mut c, &mut s, apdu("80CA006600"))
        .into_success()
        .is_ok());
    // The old keys are gone, the new ones open sessions, by KVN or by default.
    assert!(try_open(
        &mut c,
        test_keyset(0x30),
        options(0x30, 0),
        SecurityLevel::CMac
    )
    .is_err());
    assert!(try_open(
        &mut c,
        old.clone().with_kvn(0x31),
        options(0, 0),
        SecurityLevel::CMac
    )
    .is_err());
    let mut s = try_open(
        &mut c,
        new.clone(),
        options(0x31, 0),
        SecurityLevel::CMacRMac,
    )
    .unwrap();
    // Add a key set (P1 00) under the new DEK.
    let added = StaticKeys::new(0x32, &[0x44; 32], &[0x55; 32], &[0x66; 32]).unwrap();
    let r = send(
        &mut c,
        &mut s,
        put_key_command(&added, 0, new.dek()).unwrap(),
    );
    PutKeyResponse::parse(&r.into_success().unwrap(), 3)
        .unwrap()
        .verify(&added)
        .unwrap();
    assert_eq!(c.state().kvns(), vec![0x31, 0x32]);
    // Adding an existing KVN, replacing a missing one, another length: refused.
    let r = send(
        &mut c,
        &mut s,
        put_key_command(&added, 0, new.dek()).unwrap(),
    );
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let r = send(
        &mut c,
        &mut s,
        put_key_command(&test_keyset(0x33), 0x35, new.dek()).unwrap(),
    );
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    let r = send(
        &mut c,
        &mut s,
        put_key_command(&test_keyset(0x33), 0x32, new.dek()).unwrap(),
    );
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let mut s = try_open(&mut c, added, options(0x32, 0), SecurityLevel::CDecCMac).unwrap();
    let e0 = send(
        &mut c,
        &mut s,
        GetData::new(tags::KEY_INFORMATION).to_apdu().unwrap(),
    );
    let e0 = KeyInformationTemplate::parse(&e0.into_success().unwrap()).unwrap();
    assert_eq!(e0.keys.len(), 6);
    assert_eq!(e0.keys[5].components[0].length, 32);
}

#[test]
fn put_key_with_a_wrong_kcv_is_6a80() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CMac);
    let new = StaticKeys::new(0x31, &[0x11; 16], &[0x22; 16], &[0x33; 16]).unwrap();
    let mut cmd = put_key_command(&new, 0x30, test_keyset(0x30).dek()).unwrap();
    let last = cmd.data.len() - 1;
    cmd.data[last] ^= 0xFF;
    assert_eq!(send(&mut c, &mut s, cmd).sw, StatusWord::IncorrectData);
    // Encrypted under the wrong DEK: every KCV is wrong.
    let cmd = put_key_command(&new, 0x30, new.dek()).unwrap();
    assert_eq!(send(&mut c, &mut s, cmd).sw, StatusWord::IncorrectData);
    // Single keys, chains: not this card's way.
    let mut cmd = put_key_command(&new, 0x30, test_keyset(0x30).dek()).unwrap();
    cmd.p2 = 0x82;
    assert_eq!(send(&mut c, &mut s, cmd).sw, StatusWord::IncorrectP1P2);
    let mut cmd = put_key_command(&new, 0x30, test_keyset(0x30).dek()).unwrap();
    cmd.p1 |= 0x80;
    assert_eq!(send(&mut c, &mut s, cmd).sw, StatusWord::IncorrectP1P2);
    assert_eq!(c.state().kvns(), vec![0x30]);
    assert!(!s.is_terminated());
}

#[test]
fn store_data_blocks_dgis_and_tlvs() {
    let mut c = card();
    let mut s = open(&mut c, SecurityLevel::CDecCMacRMac);
    let data = Dgi::encode_all(&[
        Dgi::new(0x0070, vec![0x42, 0x01, 0x99]),
        Dgi::new(0x8010, vec![0xAB; 40]),
    ])
    .unwrap();
    let blocks = StoreData::new(data).dgi().split(20).unwrap();
    assert_eq!(blocks.len(), 3);
    for b in &blocks {
        let r = send(&mut c, &mut s, b.to_apdu().unwrap());
        assert_eq!(r, ResponseApdu::status(StatusWord::Success));
    }
    assert_eq!(
        c.state().personalization().get(&0x8010),
        Some(&vec![0xAB; 40])
    );
    assert_eq!(
        c.state().personalization().get(&0x0070).map(Vec::len),
        Some(3)
    );
    // Out of sequence: 6A86, and the sequence starts over.
    let r = send(&mut c, &mut s, blocks[0].to_apdu().unwrap());
    assert_eq!(r.sw, StatusWord::Success);
    let r = send(&mut c, &mut s, blocks[2].to_apdu().unwrap());
    assert_eq!(r.sw, StatusWord::IncorrectP1P2);
    let r = send(&mut c, &mut s, blocks[1].to_apdu().unwrap());
    assert_eq!(r.sw, StatusWord::IncorrectP1P2);
    // BER-TLV: IIN and CIN, read back by GET DATA.
    let r = send(
        &mut c,
        &mut s,
        StoreData::new(hex::decode("4203123456450401020304").unwrap())
            .ber_tlv()
            .to_apdu()
            .unwrap(),
    );
    assert_eq!(r.sw, StatusWord::Success);
    let r = send(&mut c, &mut s, GetData::new(tags::IIN).to_apdu().unwrap());
    assert_eq!(
        r.into_success().unwrap(),
        hex::decode("4203123456").unwrap()
    );
    // SGP.22 GetEID; unknown objects; malformed data; no structure.
    let get_eid = StoreData::new(hex::decode("BF3E035C015A").unwrap())
        .ber_tlv()
        .with_response();
    let r = send(&mut c, &mut s, get_eid.to_apdu().unwrap());
    assert_eq!(
        hex::encode_upper(r.into_success().unwrap()),
        format!("BF3E125A10{EID}")
    );
    let r = send(
        &mut c,
        &mut s,
        StoreData::new(hex::decode("BF3E035C015A").unwrap())
            .ber_tlv()
            .to_apdu()
            .unwrap(),
    );
    assert_eq!(
        r.sw,
        StatusWord::IncorrectP1P2,
        "response data but P1 b1 = 0"
    );
    for (sd, sw) in [
        (
            StoreData::new(vec![0x5A, 0x01, 0x00]).ber_tlv(),
            StatusWord::IncorrectData,
        ),
        (
            StoreData::new(vec![0x42, 0x05, 0x00]).ber_tlv(),
            StatusWord::IncorrectData,
        ),
        (
            StoreData::new(vec![0x00, 0x70, 0x05, 0x00]).dgi(),
            StatusWord::IncorrectData,
        ),
        (
            StoreData::new(vec![0x42, 0x01, 0x00]),
            StatusWord::IncorrectData,
        ),
    ] {
        assert_eq!(send(&mut c, &mut s, sd.to_apdu().unwrap()).sw, sw, "{sd:?}");
    }
    // Too much data: 6A84, nothing stored.
    let big: Vec<Dgi> = (0..100u16)
        .map(|i| Dgi::new(0x9000 + i, vec![0; 200]))
        .collect();
    let mut refused = None;
    for (i, d) in big.iter().enumerate() {
        let r = send(
            &mut c,
            &mut s,
            StoreData::new(d.to_bytes().unwrap())
                .dgi()
                .to_apdu()
                .unwrap(),
        );
        if r.sw != StatusWord::Success {
            refused = Some((i, r.sw));
            break;
        }
    }
    let (i, sw) = refused.unwrap();
    assert_eq!(sw, StatusWord::NotEnoughMemory);
    assert!(i > 60);
    assert!(c.state().personalization_len() <= crate::state::PERSONALIZATION_MAX);
}

#[test]
fn delete_isd_p_and_keys() {
    let mut st = state();
    st.registry_mut()
        .add(isd_p(0x10, life_cycle::ISD_P_DISABLED))
        .unwrap();
    st.registry_mut()
        .add(isd_p(0x11, life_cycle::ISD_P_ENABLED))
        .unwrap();
    st.add_keyset(test_keyset(0x31));
    let mut c = Card::new(st);
    select_isd_r(&mut c, 0);
    let mut s = open(&mut c, SecurityLevel::CMacRMac);
    let mut delete = |c: &mut Card, d: Delete| send(c, &mut s, d.to_apdu().unwrap());
    let r = delete(&mut c, Delete::object(Aid::isd_p(0x10).unwrap()));
    assert_eq!(r.into_success().unwrap(), vec![0x00]);
    assert!(c
        .state()
        .registry()
        .find(Aid::isd_p(0x10).unwrap().as_bytes())
        .is_none());
    for (aid, sw) in [
        (
            Aid::isd_p(0x10).unwrap(),
            StatusWord::ReferencedDataNotFound,
        ),
        (
            Aid::isd_p(0x11).unwrap(),
            StatusWord::ConditionsOfUseNotSatisfied,
        ),
        (Aid::isd_r(), StatusWord::ConditionsOfUseNotSatisfied),
        (Aid::ecasd(), StatusWord::ConditionsOfUseNotSatisfied),
        (
            Aid::isd_p_load_file(),
            StatusWord::ConditionsOfUseNotSatisfied,
        ),
    ] {
        assert_eq!(
            delete(&mut c, Delete::object_and_related(aid.clone())).sw,
            sw,
            "{aid}"
        );
    }
    assert_eq!(c.state().registry().entries().len(), 4);
    for (d, sw) in [
        (
            Delete::key(None, Some(0x55)),
            StatusWord::ReferencedDataNotFound,
        ),
        (
            Delete::key(Some(4), Some(0x31)),
            StatusWord::ReferencedDataNotFound,
        ),
        (
            Delete::key(Some(1), None),
            StatusWord::ConditionsOfUseNotSatisfied,
        ),
    ] {
        assert_eq!(delete(&mut c, d).sw, sw);
    }
    assert_eq!(
        delete(&mut c, Delete::key(None, Some(0x31)))
            .into_success()
            .unwrap(),
        vec![0]
    );
    assert_eq!(c.state().kvns(), vec![0x30]);
    assert_eq!(
        delete(&mut c, Delete::key(Some(1), Some(0x30))).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    assert_eq!(c.state().kvns(), vec![0x30]);
}

/// Sends through the T=0 adapter, fetching 61xx with GET RESPONSE.
fn transmit(e: &mut Emulator, cmd: &CommandApdu) -> ResponseApdu {
    let mut r = e.transmit(&cmd.to_bytes().unwrap());
    let mut data = Vec::new();
    while r.len() == 2 && r[0] == 0x61 {
        let cla = cmd.cla & 0x03;
        r = e.transmit(&[cla, 0xC0, 0x00, 0x00, r[1]]);
        let (d, sw) = r.split_at(r.len() - 2);
        data.extend_from_slice(d);
        if sw[0] != 0x61 {
            r = sw.to_vec();
        }
    }
    let mut resp = ResponseApdu::parse(&r).unwrap();
    if !data.is_empty() {
        data.extend(resp.data);
        resp.data = data;
    }
    resp
}

fn emulator_session(e: &mut Emulator, keys: StaticKeys, level: SecurityLevel) -> Established {
    assert_eq!(transmit(e, &apdu(SELECT_ISD_R)).sw, StatusWord::Success);
    let host = Scp03Host::new(keys, options(0, 0)).unwrap();
    let resp = transmit(e, &host.initialize_update_command().unwrap());
    let auth = host.on_initialize_update_response(&resp).unwrap();
    let (cmd, awaiting) = auth.external_authenticate_command(level).unwrap();
    awaiting
        .on_external_authenticate_response(&transmit(e, &cmd))
        .unwrap()
}

#[test]
fn keys_counters_and_registry_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut st = state();
    st.registry_mut()
        .add(isd_p(0x10, life_cycle::ISD_P_DISABLED))
        .unwrap();
    let mut e = Emulator::create(&path, st, false).unwrap();
    let mut s = emulator_session(&mut e, test_keyset(0x30), SecurityLevel::CDecREncCMacRMac);
    let new = StaticKeys::new(0x30, &[0x71; 16], &[0x72; 16], &[0x73; 16]).unwrap();
    let cmd = s
        .wrap_command(put_key_command(&new, 0x30, test_keyset(0x30).dek()).unwrap())
        .unwrap();
    let r = s.unwrap_response(transmit(&mut e, &cmd)).unwrap();
    PutKeyResponse::parse(&r.into_success().unwrap(), 3)
        .unwrap()
        .verify(&new)
        .unwrap();
    let cmd = s
        .wrap_command(Delete::object(Aid::isd_p(0x10).unwrap()).to_apdu().unwrap())
        .unwrap();
    assert!(s
        .unwrap_response(transmit(&mut e, &cmd))
        .unwrap()
        .into_success()
        .is_ok());
    let _ = emulator_session(&mut e, new.clone(), SecurityLevel::CMac);
    drop(e);
    let mut e = Emulator::open(&path).unwrap();
    assert_eq!(e.state().scp03().sequence_counter(0x30), Some(1));
    assert_eq!(e.state().registry().entries().len(), 3);
    let mut s = emulator_session(&mut e, new, SecurityLevel::CMacRMac);
    let cmd = s
        .wrap_command(GetData::new(tags::SEQUENCE_COUNTER).to_apdu().unwrap())
        .unwrap();
    let r = s.unwrap_response(transmit(&mut e, &cmd)).unwrap();
    assert_eq!(
        r.into_success().unwrap(),
        hex::decode("C103000002").unwrap()
    );
    assert!(e.state().scp03().keyset(0x30).is_some());
    assert_ne!(
        e.state().scp03().keyset(0x30).unwrap().enc().as_bytes(),
        GP_TEST_KEY
    );
}
