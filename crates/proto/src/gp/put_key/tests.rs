use super::*;
use crate::gp::testdata::{gp_examples, h, hex_field};

#[test]
fn fixture_put_key_real_log() {
    let Some(all) = gp_examples() else {
        return;
    };
    // kaoh/globalplatform issue #73 (JCShell log): three AES keys inside an SCP02 session.
    let entry = &all["put_key_real_log_scp02_session"];
    assert!(entry["source"].as_str().unwrap().contains("issue #73"));
    let apdu = CommandApdu::parse(&hex_field(entry, "apdu")).unwrap();
    let put_key = PutKey::from_apdu(&apdu).unwrap();
    // P1 00 = new key set, P2 81 = multiple keys starting at KID 1, new KVN 30.
    assert_eq!(
        (put_key.replace_kvn, put_key.first_key_id, put_key.new_kvn),
        (0x00, 0x01, 0x30)
    );
    assert_eq!(put_key.keys.len(), 3);
    for key in &put_key.keys {
        assert_eq!(key.format, KeyDataFormat::Basic);
        assert_eq!(key.components.len(), 1);
        let c = &key.components[0];
        // 88 AES, 11 = 1 + 16 block length, 10 key length, 16 ciphered bytes.
        assert_eq!(c.key_type, 0x88);
        assert_eq!(c.block.len(), 0x11);
        assert_eq!(c.block[0], 0x10);
        assert_eq!(key.kcv, h("504A77"));
    }
    assert_eq!(put_key.to_apdu().unwrap(), apdu);
    let rsp = put_key.expected_response();
    assert_eq!(rsp.to_bytes(), h("30 504A77 504A77 504A77"));
    assert_eq!(put_key.parse_response(&rsp.to_bytes()).unwrap(), rsp);
}

#[test]
fn frames_the_scp03_key_data() {
    // GP-SCP03.md worked example (scp03.json `scp03_put_key_example_derived`): DEK 2021..2F,
    // new keys 4041..4F, KVN 31.
    use crate::scp03::{put_key as scp, AesKey, StaticKeys};
    let new = StaticKeys::single(0x31, &h("404142434445464748494A4B4C4D4E4F")).unwrap();
    let dek = AesKey::from_bytes(&h("202122232425262728292A2B2C2D2E2F")).unwrap();
    let apdu = scp::put_key_command(&new, 0x00, &dek).unwrap();
    let one = "881110859469C07743C7E45B318D151D3D87E903504A77";
    let expected = h(&format!("80D8008146 31 {one}{one}{one} 00"));
    assert_eq!(apdu.to_bytes().unwrap(), expected);
    let framed = PutKey::from_apdu(&apdu).unwrap();
    assert_eq!(framed.new_kvn, 0x31);
    assert_eq!(framed.to_apdu().unwrap(), apdu);
    let their_rsp = scp::PutKeyResponse::for_keys(&new).to_bytes();
    let ours = framed.parse_response(&their_rsp).unwrap();
    assert_eq!(ours.kvn, 0x31);
    assert_eq!(ours.kcvs, vec![h("504A77"); 3]);
    assert_eq!(ours.to_bytes(), their_rsp);
}

#[test]
fn formats_round_trip() {
    let extended = KeyData {
        components: vec![
            KeyComponent {
                key_type: 0xB0,
                block: vec![0x04; 65],
            },
            KeyComponent {
                key_type: 0xF0,
                block: vec![0x00],
            },
        ],
        kcv: vec![],
        format: KeyDataFormat::Extended {
            usage: vec![0x82],
            access: vec![0x01],
        },
    };
    let rsa = KeyData {
        components: vec![
            KeyComponent {
                key_type: 0xA1,
                block: vec![0xC5; 128],
            },
            KeyComponent {
                key_type: 0xA0,
                block: vec![0x01, 0x00, 0x01],
            },
        ],
        kcv: vec![],
        format: KeyDataFormat::Basic,
    };
    let put = PutKey {
        replace_kvn: 0x73,
        first_key_id: 0x01,
        new_kvn: 0x73,
        keys: vec![rsa.clone()],
    };
    let apdu = put.to_apdu().unwrap();
    assert_eq!((apdu.p1, apdu.p2), (0x73, 0x01));
    // The 128-byte modulus takes the '81 80' length.
    assert_eq!(&apdu.data[1..4], &h("A18180"));
    assert_eq!(PutKey::from_apdu(&apdu).unwrap(), put);
    // A length of 128 on one byte ('80') is accepted too.
    let mut legacy = vec![0x73, 0xA1, 0x80];
    legacy.extend([0xC5; 128]);
    legacy.extend(h("A003010001 00"));
    let cmd = CommandApdu::new(0x80, 0xD8, 0x73, 0x01).with_data(legacy);
    assert_eq!(PutKey::from_apdu(&cmd).unwrap(), put);

    let ecc = PutKey {
        replace_kvn: 0,
        first_key_id: 0x10,
        new_kvn: 0x20,
        keys: vec![extended.clone(), extended],
    };
    let apdu = ecc.to_apdu().unwrap();
    assert_eq!(apdu.p2, 0x90);
    assert_eq!(PutKey::from_apdu(&apdu).unwrap(), ecc);
    assert_eq!(ecc.expected_response().to_bytes(), vec![0x20]);
    // Two RSA keys exceed 255 bytes: a chain.
    let two = PutKey {
        keys: vec![rsa.clone(), rsa],
        ..put
    };
    assert!(two.to_apdu().is_err());
    let chain = two.to_apdus().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!((chain[0].p1, chain[1].p1), (0xF3, 0x73));
    assert_eq!(PutKey::from_apdus(&chain).unwrap(), two);
}

#[test]
fn strictness() {
    let no_keys = PutKey {
        replace_kvn: 0,
        first_key_id: 1,
        new_kvn: 0x30,
        keys: vec![],
    };
    assert!(no_keys.to_apdu().is_err());
    let bad_kvn = PutKey {
        new_kvn: 0x80,
        keys: vec![KeyData::basic(0x88, vec![0; 17], vec![0; 3])],
        ..no_keys.clone()
    };
    assert!(bad_kvn.to_apdu().is_err());
    for (data, p2) in [
        // No key.
        ("30", 0x01),
        // KVN 00.
        ("00 881110000000000000000000000000000000 03504A77", 0x01),
        // KCV cut.
        ("30 881110000000000000000000000000000000 03504A", 0x01),
        // Component block cut.
        ("30 8811100000", 0x01),
        // Missing KCV length.
        ("30 88021000", 0x01),
        // Extended without key access.
        ("30 FF8801AA 00 00", 0x01),
        // Two keys without P2 b8.
        ("30 880110 00 880110 00", 0x01),
        // Empty component.
        ("30 8800 00", 0x01),
        // KCV length above 7F in the extended format.
        ("30 FF8801AA 80", 0x01),
    ] {
        let apdu = CommandApdu::new(0x80, 0xD8, 0x00, p2).with_data(h(data));
        assert!(PutKey::from_apdu(&apdu).is_err(), "{data}");
    }
    let single = KeyData::basic(0x88, vec![0; 17], h("504A77"));
    assert_eq!(
        PutKeyResponse::parse(&h("30504A77"), &[3]).unwrap().kcvs,
        vec![single.kcv.clone()]
    );
    assert!(matches!(
        PutKeyResponse::parse(&h("30504A7700"), &[3]),
        Err(GpError::TrailingBytes {
            offset: 4,
            count: 1
        })
    ));
    assert!(PutKeyResponse::parse(&h("30504A"), &[3]).is_err());
    assert!(PutKeyResponse::parse(&[], &[]).is_err());
    // Key blocks never show in Debug output.
    assert!(!format!("{single:?}").contains("0, 0, 0"));
}
