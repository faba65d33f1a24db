//! The installer and the enabled profile's USIM through [`Card::handle`]: every GSMA TS.48
//! package of `<shared>/testdata` (via `SMSR_SHARED`, default `../shared` beside the workspace;
//! skipped visibly without it) and a `saip::minimal` MILENAGE package.

use crate::card::Card;
use crate::eid::parse_eid;
use crate::usim::install_package;
use crate::CardState;
use smsr_proto::auth::authenticate::{AuthenticateCommand, AuthenticateResponse};
use smsr_proto::auth::milenage::Milenage;
use smsr_proto::auth::test_algorithm::TestAlgorithm;
use smsr_proto::auth::AkaAlgorithm;
use smsr_proto::gp::Aid;
use smsr_proto::saip::identity::{iccid_ef, imsi_ef};
use smsr_proto::saip::minimal::MinimalProfile;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};
use std::path::PathBuf;

const EID: &str = "89044011112233441122334411223321";
/// The USIM AID of TS.48 (SAIP.md §6) and `saip::minimal`.
const USIM_AID: &str = "A0000000871002FF49FF0589";
/// TS.48 K (SAIP.md §6.2, testdata/README.md).
const TS48_K: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const TS48_IMSI: &str = "001010123456063";

fn shared_packages() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = std::env::var_os("SMSR_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let mut out = Vec::new();
    for sub in ["saip-ts48", "derived"] {
        let Ok(entries) = std::fs::read_dir(dir.join("testdata").join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "der") {
                out.push((
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        println!("skipped: no ../shared/testdata");
        return None;
    }
    Some(out)
}

fn send(card: &mut Card, hex_apdu: &str) -> ResponseApdu {
    card.handle(&CommandApdu::parse(&hex::decode(hex_apdu.replace(' ', "")).unwrap()).unwrap())
}

fn isd_p(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

/// Installs, enables and resets; returns the card.
fn card_with(der: &[u8], name: &str) -> Card {
    let mut state = CardState::new(Some(parse_eid(EID).unwrap()));
    let r = install_package(&mut state, &isd_p(0x10), der, false, 0).unwrap();
    assert!(r.is_ok(), "{name}: {r:?}");
    assert!(!r.pe_status.is_empty());
    let mut card = Card::new(state);
    // Installed but DISABLED: the USIM is not selectable.
    let resp = send(&mut card, &format!("00A4040C0C{USIM_AID}"));
    assert_eq!(resp.sw, StatusWord::FileNotFound, "{name}");
    card.state_mut().enable_profile(&isd_p(0x10)).unwrap();
    card.reset();
    card
}

fn read_usim(card: &mut Card) -> (Vec<u8>, Vec<u8>) {
    let fcp = send(card, &format!("00A404040C{USIM_AID}"));
    assert_eq!(fcp.sw, StatusWord::Success);
    assert_eq!(fcp.data[0], 0x62);
    assert!(hex::encode_upper(&fcp.data).contains(&format!("840C{USIM_AID}")));
    let sel = send(card, "00A40004026F07");
    assert_eq!(sel.sw, StatusWord::Success);
    let imsi = send(card, "00B0000009");
    assert_eq!(imsi.sw, StatusWord::Success);
    // EF.ICCID: path from the MF.
    assert_eq!(send(card, "00A4080C022FE2").sw, StatusWord::Success);
    let iccid = send(card, "00B000000A");
    assert_eq!(iccid.sw, StatusWord::Success);
    (imsi.data, iccid.data)
}

fn authenticate(card: &mut Card, alg: &impl AkaAlgorithm, sqn: u64) -> ResponseApdu {
    let rand = [0x5A; 16];
    let s = sqn.to_be_bytes();
    let v = alg.generate_vector(&rand, &[s[2], s[3], s[4], s[5], s[6], s[7]], &[0x80, 0x00]);
    let cmd = AuthenticateCommand { rand, autn: v.autn }.to_apdu();
    let resp = card.handle(&cmd);
    if let Ok(AuthenticateResponse::Success { res, ck, ik, .. }) =
        AuthenticateResponse::from_response_apdu(&resp)
    {
        assert_eq!((res, ck, ik), (v.xres.clone(), v.ck, v.ik));
    }
    resp
}

fn is_success(resp: &ResponseApdu) -> bool {
    matches!(
        AuthenticateResponse::from_response_apdu(resp),
        Ok(AuthenticateResponse::Success { .. })
    )
}

#[test]
fn ts48_packages_install_and_answer_as_usim() {
    let Some(pkgs) = shared_packages() else {
        return;
    };
    let mut links = 0;
    for (name, der) in &pkgs {
        let mut card = card_with(der, name);
        let (imsi, iccid) = read_usim(&mut card);
        assert_eq!(imsi, imsi_ef(TS48_IMSI).unwrap(), "{name}");
        let header = smsr_proto::saip::Package::parse(der).unwrap();
        let digits =
            smsr_proto::saip::identity::iccid_from_header(&header.header().unwrap().iccid).unwrap();
        assert_eq!(iccid, iccid_ef(&digits).unwrap(), "{name}");
        // AUTHENTICATE with the TS.48 K and the test algorithm (TS 34.108 §8.1.2).
        assert_eq!(
            send(&mut card, &format!("00A4040C0C{USIM_AID}")).sw,
            StatusWord::Success
        );
        let alg = TestAlgorithm::new(&TS48_K);
        let ok = authenticate(&mut card, &alg, 1 << 5);
        assert!(is_success(&ok), "{name}: {ok:?}");
        // A corrupted K: MAC failure (9862), so no RES at all.
        let mut bad_k = TS48_K;
        bad_k[0] ^= 1;
        let resp = authenticate(&mut card, &TestAlgorithm::new(&bad_k), 2 << 5);
        assert_eq!(resp.to_bytes(), [0x98, 0x62], "{name}");
        assert_ne!(
            TestAlgorithm::new(&bad_k).f2345(&[0x5A; 16]).res,
            alg.f2345(&[0x5A; 16]).res
        );
        // Replayed SQN: AUTS carrying SQN_MS.
        let replay = authenticate(&mut card, &alg, 1 << 5);
        match AuthenticateResponse::from_response_apdu(&replay).unwrap() {
            AuthenticateResponse::SyncFailure { auts } => {
                let sqn_ms = alg.check_auts(&[0x5A; 16], &auts).unwrap();
                assert_eq!(sqn_ms, [0, 0, 0, 0, 0, 0x20], "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        // The ISD-P's other ADFs: ISIM (SAIP.md §6: EF.DIR AID) with its template files.
        if !name.contains("usim-only") {
            let isim = send(&mut card, "00A4040C0CA0000000871004FF49FF0589");
            assert_eq!(isim.sw, StatusWord::Success, "{name}");
            assert_eq!(send(&mut card, "00A4000C026F07").sw, StatusWord::Success);
            let ist = send(&mut card, "00B0000000");
            assert_eq!(ist.sw, StatusWord::Success, "{name}");
            assert!(!ist.data.is_empty());
            // EF.IMPU (6F04) by its SFI 04, record 1.
            assert_eq!(
                send(&mut card, "00B2012400").sw,
                StatusWord::Success,
                "{name}"
            );
            send(&mut card, &format!("00A4040C0C{USIM_AID}"));
        } else {
            let isim = send(&mut card, "00A4040C0CA0000000871004FF49FF0589");
            assert_eq!(isim.sw, StatusWord::FileNotFound, "{name}");
        }
        // A link file (SAIP linkPath, created by GFM under ADF.USIM): 7FD0/7F66/5F40/4F41
        // shows the content of MF/7F66/5F40/4F41 under its own FID.
        if send(&mut card, "00A4080C067F665F404F41").sw == StatusWord::Success {
            let original = send(&mut card, "00B0000000");
            send(&mut card, &format!("00A4040C0C{USIM_AID}"));
            let link = send(&mut card, "00A40804087FFF7F665F404F41");
            if link.sw == StatusWord::Success {
                assert!(hex::encode_upper(&link.data).contains("83024F41"), "{name}");
                assert_eq!(send(&mut card, "00B0000000").data, original.data, "{name}");
                assert_eq!(original.data.len(), 32, "{name}");
                links += 1;
            }
            send(&mut card, &format!("00A4040C0C{USIM_AID}"));
        }
        // The SQN survives the state file.
        let json = card.state().to_json();
        let mut reloaded = Card::new(CardState::from_json(&json).unwrap());
        assert_eq!(
            send(&mut reloaded, &format!("00A4040C0C{USIM_AID}")).sw,
            StatusWord::Success
        );
        assert!(
            !is_success(&authenticate(&mut reloaded, &alg, 1 << 5)),
            "{name}"
        );
        assert!(
            is_success(&authenticate(&mut reloaded, &alg, 3 << 5)),
            "{name}"
        );
    }
    assert!(links > 0, "no package with the 7F66 link files");
}

#[test]
fn minimal_milenage_package_and_profile_switch() {
    let k = [0x46; 16];
    let opc = [0xCD; 16];
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", k, opc)
        .build()
        .unwrap()
        .to_der();
    let mut card = card_with(&der, "minimal");
    let (imsi, iccid) = read_usim(&mut card);
    assert_eq!(imsi, imsi_ef("262019876543210").unwrap());
    assert_eq!(iccid, iccid_ef("8949449999999990999").unwrap());
    // Partial AID selects the USIM too.
    assert_eq!(
        send(&mut card, "00A4040C07A0000000871002").sw,
        StatusWord::Success
    );
    // Template defaults: EF.AD (6FAD) by SFI 03 is 00000002.
    assert_eq!(
        hex::encode_upper(send(&mut card, "00B0830004").data),
        "00000002"
    );
    let m = Milenage::new(&k, &opc);
    assert!(is_success(&authenticate(&mut card, &m, 7 << 5)));
    // A second profile in another ISD-P: after enable + reset its USIM answers.
    let der2 = MinimalProfile::milenage("8949449999999990981", "001011111111111", k, opc)
        .build()
        .unwrap()
        .to_der();
    let r = install_package(card.state_mut(), &isd_p(0x11), &der2, false, 0).unwrap();
    assert!(r.is_ok());
    card.state_mut().enable_profile(&isd_p(0x11)).unwrap();
    // The old selection belongs to a profile no longer enabled.
    assert_eq!(
        send(&mut card, "00B0000009").sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    card.reset();
    let (imsi, _) = read_usim(&mut card);
    assert_eq!(imsi, imsi_ef("001011111111111").unwrap());
    // The new profile's SQN array is its own.
    assert!(is_success(&authenticate(&mut card, &m, 1 << 5)));
}

#[test]
fn broken_packages_are_refused_with_a_pe_status() {
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der();
    let mut state = CardState::new(Some(parse_eid(EID).unwrap()));
    // Truncated: the TLV framing breaks.
    let r = install_package(&mut state, &isd_p(0x10), &der[..der.len() - 3], false, 0).unwrap();
    assert!(r.profile_installation_aborted);
    assert!(state.registry().find(isd_p(0x10).as_bytes()).is_none());
    // Header version 4: unsupported-profile-version, nothing installed.
    let mut p = smsr_proto::saip::Package::parse(&der).unwrap();
    p.header_mut().unwrap().major_version = 4;
    let r = install_package(&mut state, &isd_p(0x10), &p.to_der(), false, 0).unwrap();
    assert_eq!(
        r.pe_status[0].status,
        smsr_proto::saip::response::PeStatusCode::UnsupportedProfileVersion
    );
    assert!(r.profile_installation_aborted);
    let decoded = smsr_proto::saip::response::EuiccResponse::from_der(&r.to_der()).unwrap();
    assert_eq!(decoded, r);
}

/// Status words of the file commands (TS 102 221 §10.2.1), on the minimal package.
#[test]
fn file_commands_and_their_errors() {
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der();
    let mut card = card_with(&der, "minimal");
    let sw = |r: ResponseApdu| r.to_bytes()[r.to_bytes().len() - 2..].to_vec();
    // From the MF after reset: EF.DIR by SFI 1E, record 1 holds the USIM application.
    let dir = send(&mut card, "00B201F400");
    assert_eq!(dir.sw, StatusWord::Success);
    assert!(hex::encode_upper(&dir.data).starts_with(&format!("61144F0C{USIM_AID}")));
    assert_eq!(sw(send(&mut card, "00B202F400")), [0x6A, 0x83]);
    // EF.ICCID (2FE2) FCP: transparent, 10 bytes, under the MF.
    let fcp = send(&mut card, "00A40004022FE2");
    assert!(hex::encode_upper(&fcp.data).contains("8202412183022FE2"));
    assert!(hex::encode_upper(&fcp.data).contains("8002000A"));
    // READ RECORD on a transparent EF, offset beyond the end, Le too long.
    assert_eq!(sw(send(&mut card, "00B2010400")), [0x69, 0x81]);
    assert_eq!(sw(send(&mut card, "00B0000A00")), [0x6B, 0x00]);
    assert_eq!(sw(send(&mut card, "00B000000B")), [0x6C, 0x0A]);
    // EF.IMSI is not a child of the MF; the USIM's is reached through 7FFF.
    assert_eq!(sw(send(&mut card, "00A40004026F07")), [0x6A, 0x82]);
    assert_eq!(sw(send(&mut card, "00A4080C047FFF6F07")), [0x6A, 0x82]);
    send(&mut card, &format!("00A4040C0C{USIM_AID}"));
    assert_eq!(sw(send(&mut card, "00A4080C047FFF6F07")), [0x90, 0x00]);
    assert_eq!(
        send(&mut card, "00B0000009").data,
        imsi_ef("262019876543210").unwrap()
    );
    // Parent of an EF's DF from the ADF: the MF (ADFs sit beside it).
    assert_eq!(sw(send(&mut card, "00A4030C")), [0x90, 0x00]);
    assert_eq!(card.selected(0), Some(crate::card::Selected::Mf));
    // AUTHENTICATE with no application selected since the reset; then wrong P2.
    card.reset();
    let cmd = AuthenticateCommand {
        rand: [0; 16],
        autn: [0; 16],
    }
    .to_apdu();
    assert_eq!(
        card.handle(&cmd).sw,
        StatusWord::ConditionsOfUseNotSatisfied
    );
    send(&mut card, &format!("00A4040C0C{USIM_AID}"));
    let mut wrong = cmd.clone();
    wrong.p2 = 0x80;
    assert_eq!(card.handle(&wrong).sw, StatusWord::IncorrectP1P2);
    // A zero AUTN: the MAC check fails.
    assert_eq!(card.handle(&cmd).to_bytes(), [0x98, 0x62]);
}

/// The whole AUTHENTICATE answer against published values, not against our own network side:
/// 3GPP TS 35.208 §4.3.1 Test Set 1 (K, RAND, SQN, AMF, OPc; f1 MAC-A, f2 RES, f3 CK, f4 IK,
/// f5 AK), typed in from the specification. The package's `sqnInit` puts SEQ_MS just below
/// the test SQN so that the TS 33.102 Annex C.2.2 Δ check passes.
#[test]
fn authenticate_answers_ts_35_208_test_set_1() {
    let h = |s: &str| hex::decode(s).unwrap();
    let k: [u8; 16] = h("465b5ce8b199b49faa5f0a2ee238a6bc").try_into().unwrap();
    let opc: [u8; 16] = h("cd63cb71954a9f4e48a5994e37a02baf").try_into().unwrap();
    let sqn = 0xff9b_b4d0_b607u64;
    let mut package = MinimalProfile::milenage("8949449999999990999", "001010000000001", k, opc)
        .build()
        .unwrap();
    for e in &mut package.elements {
        if let smsr_proto::saip::ProfileElement::AkaParameter(a) = &mut e.element {
            let mut init = vec![[0u8; 6]; 32];
            let b = ((sqn >> 5) - 1).to_be_bytes();
            init[0].copy_from_slice(&b[2..]);
            a.sqn_init = Some(init);
        }
    }
    let mut card = card_with(&package.to_der(), "TS 35.208 test set 1");
    send(&mut card, &format!("00A4040C0C{USIM_AID}"));
    // AUTN = SQN ⊕ AK ‖ AMF ‖ MAC-A = (ff9bb4d0b607 ⊕ aa689c648370) ‖ b9b9 ‖ 4a9ffac354dfafb3.
    let apdu = format!(
        "0088008122 10 {} 10 {} 00",
        "23553cbe9637a89d218ae64dae47bf35", "55f328b43577b9b94a9ffac354dfafb3"
    );
    let resp = send(&mut card, &apdu);
    assert_eq!(resp.sw, StatusWord::Success);
    let want = format!(
        "DB08{}10{}10{}",
        "a54211d5e3ba50bf", "b40ba9a3c58b2a05bbf0d987b21bf8cb", "f769bcd751044604127672711c6d3441"
    )
    .to_uppercase();
    let got = hex::encode_upper(&resp.data);
    assert!(got.starts_with(&want), "{got}");
    // EF.UST of this package is all FF (no template default): GSM access, so Kc = c3(CK, IK).
    let kc = smsr_proto::auth::c3(
        &h("b40ba9a3c58b2a05bbf0d987b21bf8cb").try_into().unwrap(),
        &h("f769bcd751044604127672711c6d3441").try_into().unwrap(),
    );
    assert_eq!(got, format!("{want}08{}", hex::encode_upper(kc)));
    // The same AUTN again: AUTS, whose SQN_MS is the test SQN.
    let again = send(&mut card, &apdu);
    let Ok(AuthenticateResponse::SyncFailure { auts }) =
        AuthenticateResponse::from_response_apdu(&again)
    else {
        panic!("{again:?}");
    };
    let m = Milenage::new(&k, &opc);
    let rand: [u8; 16] = h("23553cbe9637a89d218ae64dae47bf35").try_into().unwrap();
    assert_eq!(
        m.check_auts(&rand, &auts).unwrap(),
        h("ff9bb4d0b607").as_slice()
    );
}

#[test]
fn status_command() {
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der();
    let mut card = card_with(&der, "minimal");
    send(&mut card, &format!("00A4040C0C{USIM_AID}"));
    let aid = send(&mut card, "80F2000100");
    assert_eq!(hex::encode_upper(&aid.data), format!("840C{USIM_AID}"));
    let fcp = send(&mut card, "80F2000000");
    assert!(hex::encode_upper(&fcp.data).contains(&format!("840C{USIM_AID}")));
    assert_eq!(send(&mut card, "80F2000C").sw, StatusWord::Success);
    assert_eq!(send(&mut card, "80F2000200").sw, StatusWord::IncorrectP1P2);
    // STATUS in the interindustry class, READ BINARY in the proprietary one: 6E00.
    assert_eq!(
        send(&mut card, "00F2000000").sw,
        StatusWord::ClaNotSupported
    );
    assert_eq!(
        send(&mut card, "80B0000001").sw,
        StatusWord::ClaNotSupported
    );
}

mod damaged {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Vec<u8> {
        MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
            .build()
            .unwrap()
            .to_der()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Any damaged package gives an answer, never a panic; whatever is installed reloads
        /// from its stored DER to the same profile; and the USIM commands on it never panic.
        #[test]
        fn damaged_packages(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
                            apdus in prop::collection::vec(prop::collection::vec(any::<u8>(), 4..40), 0..8)) {
            let mut der = base();
            for (i, b) in edits {
                let at = i.index(der.len());
                der[at] = b;
            }
            let outcome = crate::usim::install(&der);
            prop_assert_eq!(outcome.profile.is_some(), !outcome.response.profile_installation_aborted);
            if let Some(p) = outcome.profile {
                let again = crate::usim::InstalledProfile::from_der(&p.to_der()).unwrap();
                prop_assert_eq!(&again, &p);
                let mut state = CardState::new(Some(parse_eid(EID).unwrap()));
                install_package(&mut state, &isd_p(0x10), &der, false, 0).unwrap();
                state.enable_profile(&isd_p(0x10)).unwrap();
                let mut card = Card::new(state);
                send(&mut card, &format!("00A4040C0C{USIM_AID}"));
                for a in apdus {
                    if let Ok(cmd) = CommandApdu::parse(&a) {
                        let _ = card.handle(&cmd);
                    }
                }
            }
        }
    }
}

/// A card whose profile has a corrupted K. The test algorithm's MAC-A uses only the first
/// half of XDOUT = K ⊕ RAND (TS 34.108 §8.1.2), so with byte 15 corrupted the genuine AUTN still
/// verifies and the card answers a RES that differs from the network's XRES; with byte 0
/// corrupted the card answers `9862`.
#[test]
fn corrupted_k_in_the_profile() {
    let Some(pkgs) = shared_packages() else {
        return;
    };
    let (name, der) = &pkgs[0];
    let genuine = TestAlgorithm::new(&TS48_K);
    let rand = [0x5A; 16];
    let v = genuine.generate_vector(&rand, &[0, 0, 0, 0, 0, 0x20], &[0x80, 0x00]);
    let cmd = AuthenticateCommand { rand, autn: v.autn }.to_apdu();
    for (byte, mac_failure) in [(15, false), (0, true)] {
        let mut package = smsr_proto::saip::Package::parse(der).unwrap();
        let mut bad_k = TS48_K;
        bad_k[byte] ^= 0x80;
        assert!(package.set_aka_keys(&bad_k, &[0; 16]).unwrap() > 0);
        let mut card = card_with(&package.to_der(), name);
        send(&mut card, &format!("00A4040C0C{USIM_AID}"));
        let resp = card.handle(&cmd);
        if mac_failure {
            assert_eq!(resp.to_bytes(), [0x98, 0x62]);
            continue;
        }
        let Ok(AuthenticateResponse::Success { res, ck, .. }) =
            AuthenticateResponse::from_response_apdu(&resp)
        else {
            panic!("{resp:?}");
        };
        assert_ne!(res, v.xres);
        assert_ne!(ck, v.ck);
        assert_eq!(res, TestAlgorithm::new(&bad_k).f2345(&rand).res);
    }
}

#[test]
fn installed_packages_take_memory_and_a_quota_limits_them() {
    use crate::isd_p::IsdP;
    use smsr_proto::saip::PeStatusCode;
    let der = MinimalProfile::milenage("8949449999999990999", "262019876543210", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der();
    let mut st = CardState::new(Some(parse_eid(EID).unwrap()));
    let free = st.free_non_volatile_memory();
    // No quota: the package is charged to the card's free memory.
    let first = Aid::isd_p(0x10).unwrap();
    st.create_isd_p(first.clone(), IsdP::created(0x70, None, None))
        .unwrap();
    assert!(install_package(&mut st, &first, &der, false, 0)
        .unwrap()
        .is_ok());
    let size = u32::try_from(der.len()).unwrap();
    assert_eq!(st.free_non_volatile_memory(), free - size);
    // A quota smaller than the package: not-enough-memory, nothing installed.
    let small = Aid::isd_p(0x11).unwrap();
    st.create_isd_p(small.clone(), IsdP::created(0x70, Some(size - 1), None))
        .unwrap();
    let response = install_package(&mut st, &small, &der, false, 0).unwrap();
    assert!(response.profile_installation_aborted);
    assert_eq!(response.pe_status[0].status, PeStatusCode::NotEnoughMemory);
    let (_, data) = st.registry().isd_p(small.as_bytes()).unwrap();
    assert!(data.installed.is_none() && data.profile.is_none());
    // A quota that holds it: the quota is what is charged.
    let big = Aid::isd_p(0x12).unwrap();
    st.create_isd_p(big.clone(), IsdP::created(0x70, Some(4 * size), None))
        .unwrap();
    let before = st.free_non_volatile_memory();
    assert!(install_package(&mut st, &big, &der, false, 0)
        .unwrap()
        .is_ok());
    assert_eq!(st.free_non_volatile_memory(), before);
}
