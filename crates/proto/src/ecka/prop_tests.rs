//! Property tests for the key establishment decoders: no panic on any input, and
//! decode(encode(x)) == x.

use super::crt::ControlReferenceTemplate;
use super::messages::{
    decode_certificate_block, decode_challenge_response, decode_receipt_response, KeyParameters,
};
use crate::pki::PrivateKey;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn decoders_never_panic(data in bytes(300), prefix in prop::sample::select(vec![
        vec![], vec![0x3A, 0x01], vec![0x3A, 0x02], vec![0xA6], vec![0x85, 0x10]])) {
        let input = [prefix, data].concat();
        let _ = ControlReferenceTemplate::decode(&input);
        let _ = KeyParameters::decode(&input);
        let _ = decode_certificate_block(&input);
        let _ = decode_challenge_response(&input);
        let _ = decode_receipt_response(&input);
    }

    #[test]
    fn crt_round_trip(scenario in any::<u8>(), qualifier in any::<u8>(), access in prop::option::of(any::<u8>()),
                      key_type in any::<u8>(), key_length in any::<u8>(), key_id in any::<u8>(), kvn in any::<u8>(),
                      counter in prop::option::of(bytes(8)), sdin in prop::option::of(bytes(16)),
                      host_id in prop::option::of(bytes(16))) {
        let crt = ControlReferenceTemplate {
            scenario_parameters: scenario, key_usage_qualifier: qualifier, key_access: access,
            key_type, key_length, key_id, kvn, initial_counter: counter, sdin, host_id,
        };
        prop_assert_eq!(ControlReferenceTemplate::decode(&crt.to_bytes()).unwrap(), crt);
    }

    #[test]
    fn key_parameters_round_trip(seed in 1u8..0x7F, rc in prop::collection::vec(any::<u8>(), 1..64),
                                 kvn in any::<u8>()) {
        let key = PrivateKey::from_bytes(&[seed; 32]).unwrap();
        let crt = ControlReferenceTemplate {
            scenario_parameters: 0x0A, key_usage_qualifier: 0x10, key_access: None, key_type: 0x88,
            key_length: 16, key_id: 1, kvn, initial_counter: Some(vec![]), sdin: None, host_id: None,
        };
        let (data, sent) = KeyParameters::build(&crt, &key.public_key(), &key, &rc).unwrap();
        let back = KeyParameters::decode(&data).unwrap();
        prop_assert_eq!(&back, &sent);
        let signed = KeyParameters::signed_data(&back.block, &back.epk_tlv, &rc).unwrap();
        prop_assert!(key.public_key().verify(&signed, &back.parameters.signature).is_ok());
    }
}
