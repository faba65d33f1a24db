//! Guards that every section of `shared/vectors/gp_tlv_examples.json` is used as a fixture,
//! and checks the sections whose decoding lives outside this module.

use super::testdata::{gp_examples, hex_field};
use crate::apdu::ResponseApdu;
use crate::scp03::{InitializeUpdateResponse, ScpError};
use crate::status::StatusWord;

/// Every section and the test that reads it.
const COVERED: [(&str, &str); 10] = [
    ("select_isd_fci", "select::tests::fixtures_select_isd_fci"),
    (
        "get_data_card_data_66",
        "get_data::card_recognition::tests::fixtures_card_data_66",
    ),
    (
        "get_data_card_capability_67",
        "get_data::card_capability::tests::fixture_card_capability_67",
    ),
    (
        "get_data_key_information_E0",
        "get_data::key_info::tests::fixtures_key_information_e0",
    ),
    ("get_status_E3", "get_status::tests::fixtures_get_status_e3"),
    (
        "initialize_update_responses_real_cards_parse_only",
        "fixture_tests::initialize_update_responses",
    ),
    (
        "install_parameters",
        "install_params::tests::fixtures_install_parameters",
    ),
    (
        "cplc_9F7F_layout",
        "get_data::cplc::tests::fixture_cplc_9f7f",
    ),
    (
        "put_key_real_log_scp02_session",
        "put_key::tests::fixture_put_key_real_log",
    ),
    ("_meta", "(description only)"),
];

#[test]
fn every_section_is_a_fixture() {
    let Some(all) = gp_examples() else {
        return;
    };
    let mut sections: Vec<&str> = all
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    sections.sort_unstable();
    let mut covered: Vec<&str> = COVERED.iter().map(|(s, _)| *s).collect();
    covered.sort_unstable();
    assert_eq!(
        sections, covered,
        "a section of the sample file has no test"
    );
}

#[test]
fn initialize_update_responses() {
    let Some(all) = gp_examples() else {
        return;
    };
    let entries = all["initialize_update_responses_real_cards_parse_only"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 2);

    // GlobalPlatformPro issue #114 log (Oberthur COSMO 8.1), parsed by the SCP03 module.
    let e = &entries[0];
    assert!(e["source"].as_str().unwrap().contains("issue #114"));
    let cmd = crate::apdu::CommandApdu::parse(&hex_field(e, "cmd")).unwrap();
    assert_eq!((cmd.cla, cmd.ins, cmd.p1), (0x80, 0x50, 0x00));
    let rsp = ResponseApdu::parse(&hex_field(e, "rsp")).unwrap();
    assert_eq!(rsp.sw, StatusWord::Success);
    let iu = InitializeUpdateResponse::parse(&rsp.data).unwrap();
    // KDD 149480576000078C0100, KVN 01, SCP 03, i 70, challenge E7881AD1FDAF0067,
    // cryptogram A20BC81393BE45A3, sequence counter 000015.
    assert_eq!(hex::encode_upper(iu.kdd), "149480576000078C0100");
    assert_eq!((iu.kvn, iu.scp_id, iu.i()), (0x01, 0x03, 0x70));
    assert_eq!(hex::encode_upper(&iu.card_challenge), "E7881AD1FDAF0067");
    assert_eq!(hex::encode_upper(&iu.card_cryptogram), "A20BC81393BE45A3");
    assert_eq!(iu.sequence_counter_value(), Some(0x15));

    // pySim SCP02: 28 bytes with SCP identifier 02 at offset 11, which SCP03 refuses.
    let e = &entries[1];
    assert!(e["source"].as_str().unwrap().contains("SCP02"));
    let data = hex_field(e, "rsp");
    assert_eq!(data.len(), 28);
    assert_eq!((data[10], data[11]), (0x70, 0x02));
    assert_eq!(
        InitializeUpdateResponse::parse(&data),
        Err(ScpError::ScpIdMismatch(0x02))
    );
}
