//! Property tests for the certificate decoder: never panics on any input, and
//! decode(encode(x)) == x for any well-formed body.

use super::cert::{BcdDate, Certificate, CertificateBody, KeyUsage};
use super::keys::PrivateKey;
use proptest::prelude::*;

fn date() -> impl Strategy<Value = BcdDate> {
    (2000u16..2100, 1u8..=12, 1u8..=31, any::<bool>()).prop_map(|(year, month, day, short)| {
        BcdDate {
            year,
            month,
            day,
            short,
        }
    })
}

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), min..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decode_never_panics(data in bytes(0, 400)) {
        let _ = Certificate::decode(&data);
        let mut framed = vec![0x7F, 0x21, 0x81, 0];
        framed[3] = u8::try_from(data.len().min(255)).unwrap();
        framed.extend_from_slice(&data[..data.len().min(255)]);
        let _ = Certificate::decode(&framed);
    }

    #[test]
    fn round_trip(serial in bytes(1, 20), ca_id in bytes(1, 20), subject_id in bytes(1, 20),
                  usage in prop::sample::select(vec![KeyUsage::SIGNATURE_VERIFICATION,
                                                     KeyUsage::KEY_AGREEMENT]),
                  effective in prop::option::of(date()), expiry in date(),
                  image_number in prop::option::of(bytes(0, 16)),
                  discretionary in prop::option::of(bytes(0, 40)),
                  seed in 1u8..=0x7F) {
        let key = PrivateKey::from_bytes(&[seed; 32]).unwrap();
        let body = CertificateBody {
            serial, ca_id, subject_id, key_usage: usage, effective, expiry, image_number,
            discretionary, public_key: key.public_key(),
        };
        let cert = body.sign(&key);
        let bytes = cert.to_bytes();
        let back = Certificate::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &cert);
        prop_assert_eq!(back.to_bytes(), bytes);
        prop_assert!(back.verify(&key.public_key()).is_ok());
    }
}
