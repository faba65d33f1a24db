use super::*;
use crate::pki::test_pki::{verify_ecasd_certificate, TestPki, TestPkiKeys};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

const EID: &str = "89049032123451234512345678901235";

fn keys() -> TestPkiKeys {
    let k = |b: u8| PrivateKey::from_bytes(&[b; 32]).unwrap();
    TestPkiKeys {
        ci: k(0x11),
        eum: k(0x22),
        sm_dp: k(0x33),
        sm_sr: k(0x44),
        ecasd: k(0x55),
    }
}

fn pki() -> TestPki {
    TestPki::from_keys(keys(), &h(EID)).unwrap()
}

#[test]
fn sm_dp_certificate_layout() {
    let pki = pki();
    let cert = &pki.sm_dp.certificate;
    let bytes = cert.to_bytes();
    let point = hex::encode_upper(pki.sm_dp.key.public_key().to_uncompressed());
    let signature = hex::encode_upper(cert.signature.0);
    // Built by hand from SGP.02 Table 77 as summarised in shared/protocol/SGP02.md §3.2.
    let expected = h(&format!(
        "7F21 81 BC
           93 01 03
           42 07 544553542D4349
           5F20 0A 544553542D534D2D4450
           95 02 0082
           5F25 04 20250101
           5F24 04 20550101
           73 03 C80101
           7F49 46 B0 41 {point} F0 01 00
           5F37 40 {signature}"
    ));
    assert_eq!(bytes, expected);
    assert_eq!(Certificate::decode(&bytes).unwrap(), *cert);
    cert.verify(pki.ci_public_key()).unwrap();
    // The signature covers exactly the bytes between the 7F21 header and 5F37.
    let signed = &bytes[4..bytes.len() - 67];
    pki.ci_public_key().verify(signed, &cert.signature).unwrap();
    assert_eq!(cert.body.entity_type(), Some(EntityType::SmDp));
    assert_eq!(
        pki.sm_sr.certificate.body.entity_type(),
        Some(EntityType::SmSr)
    );
    assert_eq!(pki.eum.certificate.body.entity_type(), None);
}

#[test]
fn test_pki_chain_and_determinism() {
    let pki = pki();
    pki.verify().unwrap();
    let again = pki.clone();
    assert_eq!(again.sm_dp.certificate, pki.sm_dp.certificate);
    assert_eq!(
        TestPki::from_keys(keys(), &h(EID))
            .unwrap()
            .ecasd
            .certificate,
        pki.ecasd.certificate
    );
    let ecasd = &pki.ecasd.certificate;
    assert_eq!(ecasd.body.subject_id, h(EID));
    assert_eq!(ecasd.body.key_usage, KeyUsage::KEY_AGREEMENT);
    // Issued by the EUM, not the CI.
    assert_eq!(
        ecasd.verify(pki.ci_public_key()),
        Err(PkiError::SignatureInvalid)
    );
    // A key-agreement certificate is not accepted where a signature key is needed, and back.
    assert_eq!(
        ecasd.verify_for(pki.eum.public_key(), KeyUsage::SIGNATURE_VERIFICATION),
        Err(PkiError::WrongKeyUsage {
            expected: KeyUsage::SIGNATURE_VERIFICATION,
            found: KeyUsage::KEY_AGREEMENT
        })
    );
    assert!(verify_ecasd_certificate(ecasd, &pki.sm_dp.certificate, pki.ci_public_key()).is_err());
    let random = TestPki::generate(&h(EID)).unwrap();
    random.verify().unwrap();
    assert_ne!(random.ci.certificate, pki.ci.certificate);
    assert!(pki
        .sm_dp
        .certificate
        .verify(random.ci_public_key())
        .is_err());
}

#[test]
fn tampering_is_detected() {
    let pki = pki();
    let bytes = pki.sm_dp.certificate.to_bytes();
    let ci = pki.ci_public_key();
    let mut refused = 0;
    for i in 4..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        match Certificate::decode(&t) {
            Ok(cert) => assert!(cert.verify(ci).is_err(), "byte {i} flipped still verifies"),
            Err(_) => refused += 1,
        }
    }
    assert!(refused > 0);
    let mut body = pki.sm_dp.certificate.clone();
    body.body.serial = vec![9];
    assert_eq!(body.verify(ci), Err(PkiError::SignatureInvalid));
}

#[test]
fn strict_decoding() {
    let pki = pki();
    let cert = &pki.sm_sr.certificate;
    let fields = Tlv::parse(&cert.to_bytes()).unwrap().children().unwrap();
    let rebuild = |fields: &[Tlv]| Tlv::constructed(TAG_CERTIFICATE, fields).to_bytes();
    assert_eq!(Certificate::decode(&rebuild(&fields)).unwrap(), *cert);
    // Out of order.
    let mut swapped = fields.clone();
    swapped.swap(0, 1);
    assert!(matches!(
        Certificate::decode(&rebuild(&swapped)),
        Err(PkiError::Layout { offset: 13, .. })
    ));
    // Repeated.
    let mut twice = fields.clone();
    twice.insert(1, fields[0].clone());
    assert!(matches!(
        Certificate::decode(&rebuild(&twice)),
        Err(PkiError::Layout { .. })
    ));
    // Unknown tag.
    let mut unknown = fields.clone();
    unknown.insert(3, Tlv::new(0x99u8, vec![1]));
    assert!(matches!(
        Certificate::decode(&rebuild(&unknown)),
        Err(PkiError::Layout { .. })
    ));
    // Missing mandatory field (expiry) and missing signature.
    let no_expiry: Vec<Tlv> = fields
        .iter()
        .filter(|f| f.tag != Tag::new(0x5F24))
        .cloned()
        .collect();
    assert!(matches!(
        Certificate::decode(&rebuild(&no_expiry)),
        Err(PkiError::Layout { tag, .. }) if tag == Tag::new(0x5F24)
    ));
    assert!(Certificate::decode(&rebuild(&fields[..fields.len() - 1])).is_err());
    // Something after the signature; trailing bytes after 7F21.
    let mut after = fields.clone();
    after.push(Tlv::new(0x93u8, vec![1]));
    assert!(Certificate::decode(&rebuild(&after)).is_err());
    let mut trailing = cert.to_bytes();
    trailing.push(0);
    assert!(Certificate::decode(&trailing).is_err());
    // Short signature, bad dates, bad key usage, empty serial.
    let replace = |tag: u32, value: &[u8]| {
        let f: Vec<Tlv> = fields
            .iter()
            .map(|f| {
                if f.tag == Tag::new(tag) {
                    Tlv::new(tag, value.to_vec())
                } else {
                    f.clone()
                }
            })
            .collect();
        Certificate::decode(&rebuild(&f))
    };
    assert!(replace(0x5F37, &[0; 63]).is_err());
    assert!(replace(0x5F24, &h("20551301")).is_err());
    assert!(replace(0x5F24, &h("2055010A")).is_err());
    assert!(replace(0x5F24, &h("205501")).is_err());
    assert!(replace(0x95, &h("000082")).is_err());
    assert!(replace(0x93, &[]).is_err());
    // The YYMMDD form and a one-byte key usage are read (and kept), the signature then fails.
    let short = replace(0x5F24, &h("550101")).unwrap();
    assert_eq!(
        short.body.expiry,
        BcdDate {
            year: 2055,
            month: 1,
            day: 1,
            short: true
        }
    );
    assert_eq!(
        Tlv::parse(&short.to_bytes()).unwrap().children().unwrap()[5].value,
        h("550101")
    );
    assert!(short.verify(pki.ci_public_key()).is_err());
    let one_byte = replace(0x95, &h("82")).unwrap();
    assert_eq!(one_byte.body.key_usage.to_bytes(), h("82"));
    assert_eq!(one_byte.body.key_usage.value(), 0x82);
    assert!(Certificate::decode(&h("7F2100")).is_err());
    assert!(Certificate::decode(&h("7F49 00")).is_err());
}

#[test]
fn dates() {
    let d = BcdDate::new(2030, 12, 31).unwrap();
    assert_eq!(d.encode(), h("20301231"));
    assert_eq!(
        BcdDate::decode(Tag::new(0x5F25), &h("20301231")).unwrap(),
        d
    );
    assert!(BcdDate::new(2030, 0, 1).is_err());
    assert!(BcdDate::new(2030, 1, 32).is_err());
    assert!(BcdDate::new(10000, 1, 1).is_err());
}

#[test]
fn image_number_sits_between_expiry_and_discretionary_data() {
    let pki = pki();
    let body = CertificateBody {
        image_number: Some(h("0102")),
        discretionary: Some(h("C80101")),
        ..pki.ecasd.certificate.body.clone()
    };
    let cert = body.sign(&pki.eum.key);
    let tags: Vec<Tag> = Tlv::parse(&cert.to_bytes())
        .unwrap()
        .children()
        .unwrap()
        .iter()
        .map(|t| t.tag)
        .collect();
    let at = |t: u32| tags.iter().position(|x| *x == Tag::new(t)).unwrap();
    assert_eq!(at(0x45), at(0x5F24) + 1);
    assert_eq!(at(0x73), at(0x45) + 1);
    assert_eq!(Certificate::decode(&cert.to_bytes()).unwrap(), cert);
    // 45 after 73 is out of order.
    let mut fields = Tlv::parse(&cert.to_bytes()).unwrap().children().unwrap();
    fields.swap(at(0x45), at(0x73));
    let bytes = Tlv::constructed(TAG_CERTIFICATE, &fields).to_bytes();
    assert!(matches!(
        Certificate::decode(&bytes),
        Err(PkiError::Layout { .. })
    ));
}
