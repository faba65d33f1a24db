//! Tests on the GSMA TS.48 test profile packages in `<shared>/testdata/saip-ts48/` (and the
//! derived USIM-only package), located through `SMSR_SHARED` (default `../shared` relative to
//! the workspace root). Without them the tests print "skipped: no ../shared/testdata".

use super::*;
use std::path::PathBuf;

pub(crate) fn shared_dir() -> PathBuf {
    std::env::var_os("SMSR_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

/// Every `.der` package: (file name, bytes).
pub(crate) fn packages() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = shared_dir().join("testdata");
    let mut out = Vec::new();
    for sub in ["saip-ts48", "derived"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "der") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&p).unwrap()));
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

/// What SAIP.md §6 and testdata/README.md record for each file: PE count, size, SAIP version,
/// ICCID.
/// File name, PE count, size, SAIP version, ICCID.
type Expected = (&'static str, usize, usize, (u8, u8), &'static str);

const EXPECTED: [Expected; 8] = [
    (
        "TS48V1-A-UNIQUE.der",
        28,
        11768,
        (2, 1),
        "8949449999999990023",
    ),
    (
        "TS48V2-SAIP2-1-BERTLV-UNIQUE.der",
        28,
        12257,
        (2, 1),
        "8949449999999990049",
    ),
    (
        "TS48V4-SAIP2-1A-NOBERTLV-UNIQUE.der",
        28,
        12079,
        (2, 1),
        "8949449999999990106",
    ),
    (
        "TS48V4-SAIP2-3-BERTLV-UNIQUE.der",
        30,
        12180,
        (2, 3),
        "8949449999999990122",
    ),
    (
        "TS48V5-SAIP2-1A-NOBERTLV-UNIQUE.der",
        28,
        12060,
        (2, 1),
        "8949449999999990148",
    ),
    (
        "TS48V5-SAIP2-3-NOBERTLV-UNIQUE-usim-only.der",
        18,
        7281,
        (2, 3),
        "8949449999999990171",
    ),
    (
        "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der",
        30,
        12163,
        (2, 3),
        "8949449999999990171",
    ),
    ("TS48v1_A.der", 28, 11768, (2, 1), "89000123456789012341"),
];

const TEST_K: &str = "000102030405060708090A0B0C0D0E0F";

#[test]
fn every_ts48_package_decodes_with_the_recorded_values() {
    let Some(pkgs) = packages() else { return };
    assert_eq!(pkgs.len(), EXPECTED.len(), "files in testdata");
    for ((name, bytes), (ename, count, size, version, iccid)) in pkgs.iter().zip(EXPECTED) {
        assert_eq!(name, ename);
        assert_eq!(bytes.len(), size, "{name}");
        let p = Package::parse(bytes).unwrap();
        assert_eq!(p.elements.len(), count, "{name}: PE count");
        assert_eq!(p.undecoded().count(), 0, "{name}: undecoded PEs");
        assert!(
            p.header_problems().is_empty(),
            "{name}: {:?}",
            p.header_problems()
        );
        assert!(
            p.structural_problems().is_empty(),
            "{name}: {:?}",
            p.structural_problems()
        );
        // Only the kinds kept as bytes by design are opaque.
        for e in &p.elements {
            if let ProfileElement::Opaque(o) = &e.element {
                assert!(
                    matches!(o.kind, PeKind::CdmaParameter),
                    "{name}: {:?}",
                    o.kind
                );
            }
        }
        // Offsets and lengths tile the package.
        let mut at = 0;
        for e in &p.elements {
            assert_eq!(e.offset, at);
            at += e.length;
        }
        assert_eq!(at, bytes.len());

        let h = p.header().unwrap();
        assert_eq!((h.major_version, h.minor_version), version, "{name}");
        assert_eq!(
            h.profile_type.as_deref(),
            Some("GSMA Generic eUICC Test Profile")
        );
        assert_eq!(
            identity::iccid_from_header(&h.iccid).unwrap(),
            iccid,
            "{name}"
        );
        let mf = p.file_system(PeKind::Mf).unwrap();
        assert_eq!(mf.template_id.to_dotted(), "2.23.143.1.2.1");
        let ef_iccid = mf.file("ef-iccid").unwrap().content(0xFF);
        assert_eq!(
            identity::iccid_from_ef(&ef_iccid).unwrap(),
            iccid,
            "{name}: EF.ICCID"
        );
        let usim = p.file_system(PeKind::Usim).unwrap();
        let ef_imsi = usim.file("ef-imsi").unwrap().content(0xFF);
        assert_eq!(hex::encode_upper(&ef_imsi), "080910101032540636", "{name}");
        assert_eq!(identity::imsi_from_ef(&ef_imsi).unwrap(), "001010123456063");
        let adf = usim.file("adf-usim").unwrap().fcp().unwrap();
        assert_eq!(
            adf.df_name.as_deref(),
            Some(&hex::decode("A0000000871002FF49FF0589").unwrap()[..])
        );
        assert_eq!(adf.file_id, Some([0x7F, 0xD0]));

        // Services (SAIP.md §6.2).
        use header::Service::*;
        assert!(h.requires(Usim) && h.requires(UsimTestAlgorithm), "{name}");
        assert_eq!(h.requires(GetIdentity), version == (2, 3), "{name}");
        assert_eq!(h.requires(BerTlv), name.contains("-BERTLV"), "{name}");
        let gfste: Vec<String> = h.mandatory_gfste_list.iter().map(Oid::to_dotted).collect();
        assert!(gfste.contains(&"2.23.143.1.2.4".to_string()));
        assert_eq!(
            gfste.contains(&"2.23.143.1.2.13".to_string()),
            version == (2, 3)
        );

        // Every PE mandated.
        for pe in p.pes().skip(1) {
            assert!(pe.pe_header().unwrap().mandated, "{name}: {}", pe.kind());
        }

        // AKA: test algorithm, K 000102..0F, OPc zero, SQN defaults.
        let akas: Vec<_> = p.aka_parameters().collect();
        assert!(!akas.is_empty());
        for aka in akas {
            let a = aka.algo_parameter().unwrap();
            assert_eq!(a.algorithm_id, aka::AlgorithmId::UsimTestAlgorithm);
            assert_eq!(a.algorithm_options, 0x02);
            assert_eq!(hex::encode_upper(a.key.expose()), TEST_K);
            assert_eq!(a.opc.expose(), &[0u8; 16]);
            assert_eq!(
                a.milenage_constants(),
                crate::auth::milenage::MilenageConstants::default()
            );
            assert_eq!(aka.sqn_options, 0x02);
            assert_eq!(aka.sqn_delta, aka::SQN_DELTA_DEFAULT);
            assert!(aka.sqn_init.is_none());
        }

        // PINs and PUKs (SAIP.md §6.2).
        let mut pins = Vec::new();
        let mut puks = Vec::new();
        for pe in p.pes() {
            match pe {
                ProfileElement::PinCodes(pin::PePinCodes {
                    pin_codes: pin::PinCodes::PinConfig(c),
                    ..
                }) => {
                    pins.extend(c.iter().map(|c| {
                        (
                            c.key_reference,
                            c.pin_value.expose().to_vec(),
                            c.pin_attributes,
                            c.max_attempts_retries_left,
                        )
                    }));
                }
                ProfileElement::PukCodes(c) => {
                    puks.extend(
                        c.puk_codes
                            .iter()
                            .map(|c| (c.key_reference, c.puk_value.expose().to_vec())),
                    );
                }
                _ => {}
            }
        }
        let pv = |s: &str| pin::pin_value(s).unwrap().expose().to_vec();
        assert!(pins.contains(&(1, pv("0000"), 6, 0x33)), "{name}: PIN1");
        assert!(
            pins.contains(&(10, pv("55555555"), 3, 0xAA)),
            "{name}: ADM1"
        );
        assert!(
            pins.contains(&(11, pv("66666666"), 3, 0xAA)),
            "{name}: ADM2"
        );
        assert!(
            pins.iter().any(|p| p.0 == 129 && p.1 == pv("9999")),
            "{name}: local PIN"
        );
        assert!(puks.contains(&(1, pv("11111111"))));
        assert!(puks.contains(&(129, pv("22222222"))));

        // MNO-SD (SAIP.md §6.2).
        let sd = p.security_domains().next().unwrap();
        assert_eq!(
            hex::encode_upper(&sd.instance.instance_aid),
            "A000000151000000"
        );
        assert_eq!(
            hex::encode_upper(&sd.instance.class_aid),
            "A000000151535041"
        );
        assert_eq!(
            hex::encode_upper(&sd.instance.application_load_package_aid),
            "A0000001515350"
        );
        assert_eq!(sd.instance.application_privileges, vec![0x82, 0xDC, 0x00]);
        assert_eq!(sd.instance.life_cycle_state, 0x0F);
        assert_eq!(
            hex::encode_upper(&sd.instance.application_specific_parameters_c9),
            "810280008201F08301F08701F0"
        );
        let v1_v2 =
            name.starts_with("TS48V1") || name.starts_with("TS48v1") || name.starts_with("TS48V2");
        // RFM instances (SAIP.md §6.2): TARs B00120 (UICC), B00140/41/42 (USIM/ISIM/CSIM).
        let rfms: Vec<_> = p.rfms().collect();
        assert!(rfms.len() >= 2, "{name}");
        for (i, r) in rfms.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap();
            assert_eq!(r.instance_aid, [0xA0, 0, 0, 0x05, 0x59, 0x10, 0x10, 0, n]);
            let tar = [
                [0xB0, 0x01, 0x20],
                [0xB0, 0x01, 0x40],
                [0xB0, 0x01, 0x41],
                [0xB0, 0x01, 0x42],
            ][i];
            assert_eq!(r.tar_list.as_deref(), Some(&[tar][..]), "{name}");
            // MSL 06 in V1/V2, 02 from V4 on (SAIP.md §6.2 records only 02).
            assert_eq!(
                r.minimum_security_level,
                if v1_v2 { 0x06 } else { 0x02 },
                "{name}"
            );
            assert_eq!(r.uicc_access_domain, vec![0x00]);
            assert_eq!(r.adf_rfm_access.is_some(), i > 0, "{name}");
        }
        let keys = sd.key_list.as_ref().unwrap();
        assert_eq!(keys.len(), 6);
        // KVN 1 DES (type 80), KVN 2 AES (type 88), key ids 1/2/3 with usage 18/14/48. The V1
        // and V2 packages carry three distinct test keys; the later ones 000102..0F for all.
        for k in keys {
            assert!(matches!(k.key_version_number, 1 | 2));
            let t = if k.key_version_number == 1 {
                0x80
            } else {
                0x88
            };
            assert_eq!(k.key_components[0].key_type, vec![t]);
            let usage = match k.key_identifier {
                1 => 0x18,
                2 => 0x14,
                3 => 0x48,
                other => panic!("{name}: key id {other}"),
            };
            assert_eq!(k.key_usage_qualifier, vec![usage]);
            let want = match (v1_v2, k.key_identifier) {
                (false, _) => TEST_K,
                (true, 1) => "66778899AABBCCDD1122334455EEFF10",
                (true, 2) => "112233445566778899AABBCCDDEEFF10",
                (true, _) => "99AABBCCDDEEFF101122334455667788",
            };
            assert_eq!(
                hex::encode_upper(k.key_components[0].key_data.expose()),
                want,
                "{name}"
            );
        }
    }
}

/// The PE list of TS48v1_A with sizes and identifications, as SAIP.md §6.2 records it.
#[test]
fn ts48v1_a_pe_list() {
    let Some(pkgs) = packages() else { return };
    let (_, bytes) = pkgs.iter().find(|(n, _)| n == "TS48v1_A.der").unwrap();
    let p = Package::parse(bytes).unwrap();
    let got: Vec<(String, usize, Option<u16>)> = p
        .elements
        .iter()
        .map(|e| {
            (
                e.element.kind().name().to_string(),
                e.length,
                e.element.identification(),
            )
        })
        .collect();
    let want = [
        ("header", 140, None),
        ("mf", 763, Some(4)),
        ("pukCodes", 42, Some(5)),
        ("pinCodes", 78, Some(2)),
        ("telecom", 544, Some(7)),
        ("pinCodes", 33, Some(3)),
        ("genericFileManagement", 737, Some(21)),
        ("usim", 1182, Some(8)),
        ("opt-usim", 2607, Some(9)),
        ("pinCodes", 33, Some(10)),
        ("akaParameter", 55, Some(11)),
        ("gsm-access", 143, Some(12)),
        ("csim", 1823, Some(13)),
        ("opt-csim", 1524, Some(14)),
        ("pinCodes", 33, Some(15)),
        ("cdmaParameter", 113, Some(16)),
        ("isim", 473, Some(17)),
        ("opt-isim", 100, Some(18)),
        ("pinCodes", 33, Some(19)),
        ("akaParameter", 55, Some(20)),
        ("genericFileManagement", 240, Some(22)),
        ("genericFileManagement", 433, Some(23)),
        ("securityDomain", 361, Some(24)),
        ("rfm", 36, Some(25)),
        ("rfm", 58, Some(26)),
        ("rfm", 58, Some(27)),
        ("rfm", 62, Some(28)),
        ("end", 9, Some(29)),
    ];
    let want: Vec<(String, usize, Option<u16>)> = want
        .iter()
        .map(|(n, l, i)| (n.to_string(), *l, *i))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn re_encoding_is_byte_identical_for_every_package() {
    let Some(pkgs) = packages() else { return };
    for (name, bytes) in &pkgs {
        let p = Package::parse(bytes).unwrap();
        for e in &p.elements {
            let der = e.element.to_der();
            assert_eq!(
                der,
                &bytes[e.offset..e.offset + e.length],
                "{name}: {} at {}",
                e.element.kind(),
                e.offset
            );
        }
        assert_eq!(&p.to_der(), bytes, "{name}");
    }
}

#[test]
fn personalization_round_trip() {
    let Some(pkgs) = packages() else { return };
    for (name, bytes) in &pkgs {
        let mut p = Package::parse(bytes).unwrap();
        p.set_iccid("8988211000000123456").unwrap();
        p.set_imsi("26201123456789").unwrap();
        let n = p.set_aka_keys(&[0x11; 16], &[0x22; 16]).unwrap();
        assert!(n >= 1);
        let der = p.to_der();
        assert_eq!(
            der.len(),
            bytes.len(),
            "{name}: same-size values keep the length"
        );
        let q = Package::parse(&der).unwrap();
        assert_eq!(q, p, "{name}");
        assert_eq!(
            identity::iccid_from_header(&q.header().unwrap().iccid).unwrap(),
            "8988211000000123456"
        );
        let mf = q.file_system(PeKind::Mf).unwrap();
        assert_eq!(
            identity::iccid_from_ef(&mf.file("ef-iccid").unwrap().content(0xFF)).unwrap(),
            "8988211000000123456"
        );
        let imsi = q
            .file_system(PeKind::Usim)
            .unwrap()
            .file("ef-imsi")
            .unwrap()
            .content(0xFF);
        assert_eq!(identity::imsi_from_ef(&imsi).unwrap(), "26201123456789");
        for a in q.aka_parameters() {
            assert_eq!(a.algo_parameter().unwrap().key.expose(), &[0x11; 16]);
        }
        // Only the changed PEs differ.
        let changed: Vec<PeKind> = p
            .elements
            .iter()
            .zip(Package::parse(bytes).unwrap().elements)
            .filter(|(a, b)| a.element != b.element)
            .map(|(a, _)| a.element.kind())
            .collect();
        assert!(
            changed.iter().all(|k| matches!(
                k,
                PeKind::Header | PeKind::Mf | PeKind::Usim | PeKind::AkaParameter
            )),
            "{name}: {changed:?}"
        );

        // A 32-byte key (TUAK-256 size) changes the lengths: 16 more bytes per AKA PE.
        let mut r = q.clone();
        let n = r.set_aka_keys(&[0x33; 32], &[0x44; 32]).unwrap();
        let der32 = r.to_der();
        assert_eq!(der32.len(), der.len() + 32 * n);
        let s = Package::parse(&der32).unwrap();
        assert_eq!(s, r);
        let mut at = 0;
        for e in &s.elements {
            assert_eq!(e.offset, at);
            at += e.length;
        }
        // MILENAGE switch updates the header's services.
        let mut m = q.clone();
        m.use_milenage(&[0x55; 16], &[0x66; 16]).unwrap();
        let m = Package::parse(&m.to_der()).unwrap();
        assert!(
            m.header_problems().is_empty(),
            "{name}: {:?}",
            m.header_problems()
        );
        let h = m.header().unwrap();
        assert!(
            h.requires(header::Service::Milenage)
                && !h.requires(header::Service::UsimTestAlgorithm)
        );
        assert!(m
            .aka_parameters()
            .all(|a| a.algo_parameter().unwrap().algorithm_id == aka::AlgorithmId::Milenage));
    }
}

#[test]
fn undecodable_pe_is_reported_not_fatal() {
    let Some(pkgs) = packages() else { return };
    let (_, bytes) = pkgs.iter().find(|(n, _)| n.contains("usim-only")).unwrap();
    let p = Package::parse(bytes).unwrap();
    let aka = p
        .elements
        .iter()
        .find(|e| e.element.kind() == PeKind::AkaParameter)
        .unwrap();
    // Replace the tag of algorithmOptions (81 01 02), keeping every length.
    let mut broken = bytes.clone();
    let inner = &bytes[aka.offset..aka.offset + aka.length];
    let pos = inner
        .windows(3)
        .position(|w| w == [0x81, 0x01, 0x02])
        .unwrap();
    broken[aka.offset + pos] = 0x84; // 84 01 02: another tag where algorithmOptions must be
    let q = Package::parse(&broken).unwrap();
    let bad: Vec<_> = q.undecoded().collect();
    assert_eq!(bad.len(), 1);
    let (e, o) = bad[0];
    assert_eq!(e.offset, aka.offset);
    assert_eq!(o.kind, PeKind::AkaParameter);
    assert_eq!(
        o.header.map(|h| h.identification),
        aka.element.identification()
    );
    let msg = o.error.as_ref().unwrap().to_string();
    assert!(msg.contains("algorithmOptions"), "{msg}");
    // The rest of the package is intact, and the bytes survive re-encoding.
    assert_eq!(q.elements.len(), p.elements.len());
    assert_eq!(q.to_der(), broken);

    // An unknown alternative (tag BF 22) in the middle is kept with its identification.
    let mut extra = bytes[..aka.offset].to_vec();
    extra.extend_from_slice(&hex::decode("BF2207A005800081017F").unwrap());
    extra.extend_from_slice(&bytes[aka.offset..]);
    let r = Package::parse(&extra).unwrap();
    let (e, o) = r.undecoded().next().unwrap();
    assert_eq!(e.offset, aka.offset);
    assert_eq!(o.header.unwrap().identification, 0x7F);
    assert_eq!(r.to_der(), extra);
}

/// The AKA parameters of a TS.48 package drive the TS 34.108 test algorithm (the pfk-milenage
/// XOR example values, K 000102..0F), and a personalized MILENAGE package drives MILENAGE with
/// TS 35.208 test set 1.
#[test]
fn aka_parameters_drive_the_algorithms() {
    use crate::auth::AkaAlgorithm;
    let Some(pkgs) = packages() else { return };
    let (_, bytes) = pkgs.iter().find(|(n, _)| n.contains("usim-only")).unwrap();
    let mut p = Package::parse(bytes).unwrap();
    let alg = p
        .aka_parameters()
        .next()
        .unwrap()
        .algo_parameter()
        .unwrap()
        .algorithm()
        .unwrap();
    let v = alg.generate_vector(&[0x34; 16], &[0, 0, 0, 0, 0, 1], &[0x80, 0]);
    assert_eq!(hex::encode(v.autn), "37303132333d8000343536373030b233");
    let k = hex::decode("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap();
    let opc = hex::decode("cd63cb71954a9f4e48a5994e37a02baf").unwrap();
    p.use_milenage(&k.clone().try_into().unwrap(), &opc.try_into().unwrap())
        .unwrap();
    let q = Package::parse(&p.to_der()).unwrap();
    let alg = q
        .aka_parameters()
        .next()
        .unwrap()
        .algo_parameter()
        .unwrap()
        .algorithm()
        .unwrap();
    let rand: [u8; 16] = hex::decode("23553cbe9637a89d218ae64dae47bf35")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(hex::encode(&alg.f2345(&rand).res), "a54211d5e3ba50bf");
    assert_eq!(
        hex::encode(alg.f1(&rand, &[0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07], &[0xb9, 0xb9])),
        "4a9ffac354dfafb3"
    );
}

#[test]
fn minimal_package_builds_and_decodes_back() {
    let k = [
        0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6,
        0xbc,
    ];
    let opc = [
        0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b,
        0xaf,
    ];
    let profile =
        minimal::MinimalProfile::milenage("8949449999999990999", "001010000000007", k, opc);
    let p = profile.build().unwrap();
    let der = p.to_der();
    assert_eq!(der[0], 0xA0);
    let q = Package::parse(&der).unwrap();
    assert_eq!(q, p);
    assert_eq!(q.undecoded().count(), 0);
    assert!(
        q.structural_problems().is_empty(),
        "{:?}",
        q.structural_problems()
    );
    let kinds: Vec<&str> = q.pes().map(|e| e.kind().name()).collect();
    assert_eq!(
        kinds,
        [
            "header",
            "mf",
            "pukCodes",
            "pinCodes",
            "usim",
            "pinCodes",
            "akaParameter",
            "securityDomain",
            "end"
        ]
    );
    assert!(q.header_problems().is_empty(), "{:?}", q.header_problems());
    let mut inconsistent = q.clone();
    let hm = inconsistent.header_mut().unwrap();
    hm.mandatory_services = vec![header::Service::Usim, header::Service::Isim];
    hm.mandatory_gfste_list.pop();
    assert_eq!(
        inconsistent.header_problems(),
        [
            "template 2.23.143.1.2.4 of usim not in eUICC-Mandatory-GFSTEList",
            "service milenage used but not in eUICC-Mandatory-services",
            "service isim required but no PE uses it",
        ]
    );
    let h = q.header().unwrap();
    assert_eq!(
        identity::iccid_from_header(&h.iccid).unwrap(),
        "8949449999999990999"
    );
    assert!(h.requires(header::Service::Milenage));
    let usim = q.file_system(PeKind::Usim).unwrap();
    assert_eq!(
        usim.file_names(),
        ["adf-usim", "ef-imsi", "ef-arr", "ef-ust", "ef-spn", "ef-est", "ef-acc", "ef-ecc"]
    );
    assert_eq!(
        identity::imsi_from_ef(&usim.file("ef-imsi").unwrap().content(0xFF)).unwrap(),
        "001010000000007"
    );
    assert_eq!(usim.file("ef-acc").unwrap().content(0xFF), vec![0x00, 0x80]);
    let a = q.aka_parameters().next().unwrap().algo_parameter().unwrap();
    assert_eq!(a.key.expose(), &k);
    // The MF and USIM PEs are accepted by the same strict decoder that reads TS.48, and the
    // package can be personalized like any other.
    let mut r = q.clone();
    r.set_imsi("001010000000008").unwrap();
    assert_eq!(Package::parse(&r.to_der()).unwrap(), r);
    // Bad inputs are refused.
    assert!(
        minimal::MinimalProfile::milenage("12", "001010000000007", k, opc)
            .build()
            .is_err()
    );
    assert!(
        minimal::MinimalProfile::milenage("8949449999999990999", "0010100000000071", k, opc)
            .build()
            .is_err()
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The USIM-only package, read once (so a missing testdata prints one "skipped" line).
    fn base() -> Option<Vec<u8>> {
        static BASE: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
        BASE.get_or_init(|| {
            let pkgs = packages()?;
            pkgs.into_iter()
                .find(|(n, _)| n.contains("usim-only"))
                .map(|(_, b)| b)
        })
        .clone()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Mutated packages never panic the decoder, and whatever it accepts re-encodes to the
        /// same bytes (the decoder accepts only canonical DER).
        #[test]
        fn mutated_packages(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6)) {
            let Some(mut bytes) = base() else { return Ok(()) };
            for (at, value, op) in edits {
                let i = at.index(bytes.len().max(1));
                match op {
                    0 => if let Some(b) = bytes.get_mut(i) { *b = value },
                    1 => if let Some(b) = bytes.get_mut(i) { *b ^= 1 << (value % 8) },
                    2 => bytes.truncate(i),
                    _ => bytes.insert(i.min(bytes.len()), value),
                }
            }
            if let Ok(p) = Package::parse(&bytes) {
                prop_assert_eq!(p.to_der(), bytes.clone());
                for (e, o) in p.undecoded() {
                    prop_assert!(o.error.is_some());
                    prop_assert!(e.offset < bytes.len());
                }
            }
        }

        #[test]
        fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(p) = Package::parse(&bytes) {
                prop_assert_eq!(p.to_der(), bytes);
            }
        }

        #[test]
        fn minimal_round_trip(iccid in "[0-9]{18,20}", imsi in "[0-9]{6,15}", k in any::<[u8; 16]>(), opc in any::<[u8; 16]>()) {
            let p = minimal::MinimalProfile::milenage(&iccid, &imsi, k, opc).build().unwrap();
            let q = Package::parse(&p.to_der()).unwrap();
            prop_assert_eq!(&q, &p);
            prop_assert_eq!(identity::imsi_from_ef(&q.file_system(PeKind::Usim).unwrap().file("ef-imsi").unwrap().content(0xFF)).unwrap(), imsi);
        }
    }
}

/// The field-name tables against file IDs from the specifications, not from SAIP: ETSI TS
/// 102 221 §13 (MF files), 3GPP TS 31.102 §4.2 (ADF.USIM), §4.4.11 (DF.5GS), 3GPP TS 31.103
/// §4.2 (ADF.ISIM), 3GPP TS 51.011 / TS 31.102 §4.4.3 (DF.GSM-ACCESS). Every TS.48 file with
/// an FCP `fileID` must carry the FID its field name stands for.
#[test]
fn field_names_match_specification_file_ids() {
    const FIDS: &[(PeKind, &str, u16)] = &[
        (PeKind::Mf, "ef-pl", 0x2F05),
        (PeKind::Mf, "ef-iccid", 0x2FE2),
        (PeKind::Mf, "ef-dir", 0x2F00),
        (PeKind::Mf, "ef-arr", 0x2F06),
        (PeKind::Mf, "ef-umpc", 0x2F08),
        (PeKind::Telecom, "df-telecom", 0x7F10),
        (PeKind::Telecom, "df-graphics", 0x5F50),
        (PeKind::Telecom, "df-phonebook", 0x5F3A),
        (PeKind::Usim, "ef-imsi", 0x6F07),
        (PeKind::Usim, "ef-arr", 0x6F06),
        (PeKind::Usim, "ef-keys", 0x6F08),
        (PeKind::Usim, "ef-keysPS", 0x6F09),
        (PeKind::Usim, "ef-hpplmn", 0x6F31),
        (PeKind::Usim, "ef-ust", 0x6F38),
        (PeKind::Usim, "ef-fdn", 0x6F3B),
        (PeKind::Usim, "ef-sms", 0x6F3C),
        (PeKind::Usim, "ef-smsp", 0x6F42),
        (PeKind::Usim, "ef-smss", 0x6F43),
        (PeKind::Usim, "ef-spn", 0x6F46),
        (PeKind::Usim, "ef-est", 0x6F56),
        (PeKind::Usim, "ef-start-hfn", 0x6F5B),
        (PeKind::Usim, "ef-threshold", 0x6F5C),
        (PeKind::Usim, "ef-psloci", 0x6F73),
        (PeKind::Usim, "ef-acc", 0x6F78),
        (PeKind::Usim, "ef-fplmn", 0x6F7B),
        (PeKind::Usim, "ef-loci", 0x6F7E),
        (PeKind::Usim, "ef-ad", 0x6FAD),
        (PeKind::Usim, "ef-ecc", 0x6FB7),
        (PeKind::Usim, "ef-netpar", 0x6FC4),
        (PeKind::Usim, "ef-epsloci", 0x6FE3),
        (PeKind::Usim, "ef-epsnsc", 0x6FE4),
        (PeKind::OptUsim, "ef-li", 0x6F05),
        (PeKind::OptUsim, "ef-gid1", 0x6F3E),
        (PeKind::OptUsim, "ef-gid2", 0x6F3F),
        (PeKind::OptUsim, "ef-msisdn", 0x6F40),
        (PeKind::OptUsim, "ef-sdn", 0x6F49),
        (PeKind::OptUsim, "ef-plmnwact", 0x6F60),
        (PeKind::OptUsim, "ef-oplmnwact", 0x6F61),
        (PeKind::OptUsim, "ef-hplmnwact", 0x6F62),
        (PeKind::OptUsim, "ef-pnn", 0x6FC5),
        (PeKind::OptUsim, "ef-opl", 0x6FC6),
        (PeKind::OptUsim, "ef-spdi", 0x6FCD),
        (PeKind::OptUsim, "ef-ehplmn", 0x6FD9),
        (PeKind::OptUsim, "ef-nasconfig", 0x6FE8),
        (PeKind::GsmAccess, "df-gsm-access", 0x5F3B),
        (PeKind::GsmAccess, "ef-kc", 0x4F20),
        (PeKind::GsmAccess, "ef-kcgprs", 0x4F52),
        (PeKind::Df5gs, "df-df-5gs", 0x5FC0),
        (PeKind::Df5gs, "ef-5gs3gpploci", 0x4F01),
        (PeKind::Df5gs, "ef-5gsn3gpploci", 0x4F02),
        (PeKind::Df5gs, "ef-5gs3gppnsc", 0x4F03),
        (PeKind::Df5gs, "ef-5gsn3gppnsc", 0x4F04),
        (PeKind::Df5gs, "ef-5gauthkeys", 0x4F05),
        (PeKind::Df5gs, "ef-uac-aic", 0x4F06),
        (PeKind::Df5gs, "ef-suci-calc-info", 0x4F07),
        (PeKind::Df5gs, "ef-opl5g", 0x4F08),
        (PeKind::Df5gs, "ef-routing-indicator", 0x4F0A),
        (PeKind::Isim, "ef-impi", 0x6F02),
        (PeKind::Isim, "ef-domain", 0x6F03),
        (PeKind::Isim, "ef-impu", 0x6F04),
        (PeKind::Isim, "ef-arr", 0x6F06),
        (PeKind::Isim, "ef-ist", 0x6F07),
        (PeKind::Isim, "ef-ad", 0x6FAD),
        (PeKind::OptIsim, "ef-pcscf", 0x6F09),
    ];
    let Some(pkgs) = packages() else { return };
    let mut checked = 0;
    for (name, bytes) in &pkgs {
        let p = Package::parse(bytes).unwrap();
        for &(kind, field, fid) in FIDS {
            let Some(file) = p.file_system(kind).and_then(|f| f.file(field)) else {
                continue;
            };
            if let Some(id) = file.fcp().and_then(|c| c.file_id) {
                assert_eq!(u16::from_be_bytes(id), fid, "{name}: {kind} {field}");
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked} files checked");
}
