//! Host ↔ card key establishment, tampering, and the calibration of the open points.

use super::card::{CardConfig, KeySetCard};
use super::host::{EstablishIsdpKeySet, HostConfig};
use super::messages::{decode_certificate_block, encode_block, KeyParameters, DGI_CERTIFICATE};
use super::variant::{BlockLength, EckaVariant, ReceiptKeyPosition};
use super::EckaError;
use crate::pki::test_pki::{verify_ecasd_certificate, TestPki, TestPkiKeys};
use crate::pki::{PkiError, PrivateKey};
use crate::tlv::Tlv;

const EID: [u8; 16] = [
    0x89, 0x04, 0x90, 0x32, 0x12, 0x34, 0x51, 0x23, 0x45, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x35,
];
const RC: [u8; 16] = [0xC1; 16];
const DR: [u8; 16] = [0xD7; 16];

fn pki() -> TestPki {
    let k = |b: u8| PrivateKey::from_bytes(&[b; 32]).unwrap();
    TestPki::from_keys(
        TestPkiKeys {
            ci: k(0x11),
            eum: k(0x22),
            sm_dp: k(0x33),
            sm_sr: k(0x44),
            ecasd: k(0x55),
        },
        &EID,
    )
    .unwrap()
}

fn ephemeral() -> PrivateKey {
    PrivateKey::from_bytes(&[0x66; 32]).unwrap()
}

fn host(pki: &TestPki, config: HostConfig) -> EstablishIsdpKeySet {
    EstablishIsdpKeySet::new(
        config,
        pki.sm_dp.certificate.clone(),
        pki.sm_dp.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap()
}

fn card(pki: &TestPki, config: CardConfig) -> KeySetCard {
    KeySetCard::new(*pki.ci_public_key(), pki.ecasd.key.clone(), config)
}

#[test]
fn default_exchange_agrees_on_three_keys() {
    let pki = pki();
    verify_ecasd_certificate(
        &pki.ecasd.certificate,
        &pki.eum.certificate,
        pki.ci_public_key(),
    )
    .unwrap();
    let host = host(&pki, HostConfig::default());
    let command = host.certificate_command().unwrap();
    let apdu = command.to_apdu().unwrap().to_bytes().unwrap();
    assert_eq!(&apdu[..4], &[0x80, 0xE2, 0x09, 0x00]);
    // DGI length: one byte (the certificate is 192 bytes), then the 7F21 TLV.
    assert_eq!(&command.data[..3], &[0x3A, 0x01, 0xC0]);
    assert_eq!(&command.data[3..], &pki.sm_dp.certificate.to_bytes()[..]);

    let (card, rc_response) = card(&pki, CardConfig::default())
        .receive_certificate_with_challenge(&command.data, &RC)
        .unwrap();
    assert_eq!(rc_response, [&[0x85, 0x10][..], &RC].concat());
    assert_eq!(card.certificate(), &pki.sm_dp.certificate);

    let host = host
        .receive_challenge_with_ephemeral(&rc_response, ephemeral())
        .unwrap();
    let command = host.key_parameters_command();
    let apdu = command.to_apdu().unwrap().to_bytes().unwrap();
    assert_eq!(&apdu[..4], &[0x80, 0xE2, 0x89, 0x01]);
    let data = host.key_parameters_data();
    // 3A02 17 A6 15 {90 02 03 0A, 95 01 10, 80 01 88, 81 01 10, 82 01 01, 83 01 30, 91 00}
    assert_eq!(
        &data[..28],
        &hex::decode("3A0217A6159002030A950110800188810110820101830130").unwrap()[..]
            .iter()
            .chain(&[0x91, 0x00, 0x7F, 0x49])
            .copied()
            .collect::<Vec<_>>()[..]
    );
    // The signature is SK.DP.ECDSA over 3A02 ‖ 7F49 ‖ 00 85 10 RC (checked with the bare
    // public key, not through the card).
    let sig = &data[data.len() - 64..];
    let signed = [&data[..data.len() - 67], &[0x00, 0x85, 0x10][..], &RC].concat();
    pki.sm_dp
        .public_key()
        .verify(
            &signed,
            &crate::pki::EcdsaSignature::from_slice(sig).unwrap(),
        )
        .unwrap();

    let (card_keys, receipt_response) = card.receive_key_parameters_with_random(data, &DR).unwrap();
    assert_eq!(
        &receipt_response[..18],
        &[&[0x85, 0x10][..], &DR].concat()[..]
    );
    assert_eq!(&receipt_response[18..20], &[0x86, 0x10]);
    let established = host.receive_receipt(&receipt_response).unwrap();
    assert_eq!(established.variant, EckaVariant::default());
    assert_eq!(established.key_id, 0x01);
    assert_eq!(card_keys.key_id, 0x01);
    let (h, c) = (&established.keys, &card_keys.keys);
    assert_eq!(h.kvn(), 0x30);
    assert_eq!(c.kvn(), 0x30);
    assert_eq!(h.enc().as_bytes(), c.enc().as_bytes());
    assert_eq!(h.mac().as_bytes(), c.mac().as_bytes());
    assert_eq!(h.dek().as_bytes(), c.dek().as_bytes());
    assert_ne!(h.enc().as_bytes(), h.mac().as_bytes());

    // Z and the keys are what an independent ECDH gives: ECDH(eSK, PK.ECASD) ==
    // ECDH(SK.ECASD, ePK), and re-deriving from it reproduces the card's keys.
    let z_host = ephemeral().diffie_hellman(pki.ecasd.public_key());
    let z_card = pki.ecasd.key.diffie_hellman(&ephemeral().public_key());
    assert_eq!(z_host, z_card);
    let again = EckaVariant::default()
        .derive(z_host.as_ref(), &card_keys.crt, &DR, None)
        .unwrap();
    assert_eq!(again.keys.enc().as_bytes(), c.enc().as_bytes());
}

#[test]
fn every_variant_round_trips_and_is_identified() {
    let pki = pki();
    for variant in EckaVariant::default().receipt_candidates() {
        for certificate_length in [BlockLength::Dgi, BlockLength::Ber] {
            let variant = EckaVariant {
                certificate_length,
                ..variant
            };
            let host = host(
                &pki,
                HostConfig {
                    variant,
                    ..HostConfig::default()
                },
            );
            let data = host.certificate_data().unwrap();
            let (_, form) = decode_certificate_block(&data).unwrap();
            assert_eq!(form, certificate_length);
            let card_config = CardConfig {
                variant,
                ..CardConfig::default()
            };
            let (card, rc) = card(&pki, card_config).receive_certificate(&data).unwrap();
            let awaiting = host.receive_challenge(&rc).unwrap();
            let (card_keys, response) = card
                .receive_key_parameters(awaiting.key_parameters_data())
                .unwrap();
            // A host calibrated on the default reading finds the card's one.
            let default_host = {
                let h = self::host(&pki, HostConfig::default());
                let (card, rc) = self::card(
                    &pki,
                    CardConfig {
                        variant,
                        ..CardConfig::default()
                    },
                )
                .receive_certificate(&data)
                .unwrap();
                let waiting = h.receive_challenge(&rc).unwrap();
                let (_, response) = card
                    .receive_key_parameters(waiting.key_parameters_data())
                    .unwrap();
                // The card follows the host's qualifier (three keys), so only the receipt
                // readings differ.
                let found = waiting.identify_variant(&response).unwrap().unwrap();
                assert_eq!(found.receipt_input, variant.receipt_input);
                assert_eq!(found.receipt_key, variant.receipt_key);
                waiting
            };
            drop(default_host);
            // With the receipt key first, KeyData's first block does not depend on the key
            // count, so the receipt cannot tell one key from three.
            let found = awaiting.identify_variant(&response).unwrap().unwrap();
            assert_eq!(
                (found.receipt_input, found.receipt_key),
                (variant.receipt_input, variant.receipt_key)
            );
            if variant.receipt_key == ReceiptKeyPosition::Last {
                assert_eq!(found.keys, variant.keys);
            }
            let established = awaiting.receive_receipt(&response).unwrap();
            assert_eq!(
                established.keys.mac().as_bytes(),
                card_keys.keys.mac().as_bytes()
            );
            assert_eq!(
                established.keys.dek().as_bytes(),
                card_keys.keys.dek().as_bytes()
            );
        }
    }
}

fn run_to_receipt(pki: &TestPki) -> (super::host::AwaitingReceipt, Vec<u8>) {
    let host = host(pki, HostConfig::default());
    let (card, rc) = card(pki, CardConfig::default())
        .receive_certificate_with_challenge(&host.certificate_data().unwrap(), &RC)
        .unwrap();
    let awaiting = host
        .receive_challenge_with_ephemeral(&rc, ephemeral())
        .unwrap();
    let (_, response) = card
        .receive_key_parameters_with_random(awaiting.key_parameters_data(), &DR)
        .unwrap();
    (awaiting, response)
}

#[test]
fn tampered_receipt_or_dr_is_refused() {
    let pki = pki();
    let (_, good) = run_to_receipt(&pki);
    for i in [2, 17, 20, 35] {
        let (awaiting, _) = run_to_receipt(&pki);
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        assert_eq!(awaiting.identify_variant(&bad).unwrap(), None);
        assert_eq!(
            awaiting.receive_receipt(&bad).unwrap_err(),
            EckaError::ReceiptMismatch
        );
    }
    let (awaiting, _) = run_to_receipt(&pki);
    assert!(matches!(
        awaiting.receive_receipt(&good[..good.len() - 1]),
        Err(EckaError::Tlv(_))
    ));
    let (awaiting, _) = run_to_receipt(&pki);
    assert!(awaiting
        .receive_receipt(&[&good[..], &[0x90, 0x00]].concat())
        .is_err());
    let (awaiting, _) = run_to_receipt(&pki);
    assert!(awaiting.receive_receipt(&good).is_ok());
}

#[test]
fn card_with_another_ecasd_key_gives_a_receipt_the_host_refuses() {
    let pki = pki();
    let host = host(&pki, HostConfig::default());
    let other = KeySetCard::new(
        *pki.ci_public_key(),
        PrivateKey::from_bytes(&[0x77; 32]).unwrap(),
        CardConfig::default(),
    );
    let (card, rc) = other
        .receive_certificate(&host.certificate_data().unwrap())
        .unwrap();
    let awaiting = host.receive_challenge(&rc).unwrap();
    let (_, response) = card
        .receive_key_parameters(awaiting.key_parameters_data())
        .unwrap();
    assert_eq!(
        awaiting.receive_receipt(&response).unwrap_err(),
        EckaError::ReceiptMismatch
    );
}

#[test]
fn card_refuses_bad_certificates() {
    let pki = pki();
    let refuse = |data: &[u8]| {
        card(&pki, CardConfig::default())
            .receive_certificate(data)
            .unwrap_err()
    };
    let block = |cert: &crate::pki::Certificate| {
        encode_block(DGI_CERTIFICATE, &cert.to_bytes(), BlockLength::Dgi).unwrap()
    };
    // Signature flipped.
    let mut data = block(&pki.sm_dp.certificate);
    let last = data.len() - 1;
    data[last] ^= 1;
    assert_eq!(
        refuse(&data),
        EckaError::CertificateRejected(PkiError::SignatureInvalid)
    );
    // Issued by another CI.
    let other = TestPki::generate(&EID).unwrap();
    assert_eq!(
        refuse(&block(&other.sm_dp.certificate)),
        EckaError::CertificateRejected(PkiError::SignatureInvalid)
    );
    // Right CI, wrong usage (the ECASD key-agreement certificate re-signed by the CI).
    let ka = pki.ecasd.certificate.body.clone().sign(&pki.ci.key);
    assert!(matches!(
        refuse(&block(&ka)),
        EckaError::CertificateRejected(PkiError::WrongKeyUsage { .. })
    ));
    // The SM-SR certificate is valid but not for an ISD-P.
    assert!(matches!(
        refuse(&block(&pki.sm_sr.certificate)),
        EckaError::WrongEntity { .. }
    ));
    let any_role = CardConfig {
        expected_entity: None,
        ..CardConfig::default()
    };
    assert!(card(&pki, any_role)
        .receive_certificate(&block(&pki.sm_sr.certificate))
        .is_ok());
    // Framing: trailing byte, wrong DGI, truncated.
    let good = block(&pki.sm_dp.certificate);
    assert!(refuse(&[&good[..], &[0]].concat())
        .to_string()
        .contains("3A01"));
    let mut wrong_dgi = good.clone();
    wrong_dgi[1] = 0x02;
    assert!(matches!(refuse(&wrong_dgi), EckaError::Layout { .. }));
    assert!(refuse(&good[..good.len() - 1]).to_string().contains("3A01"));
    assert!(matches!(refuse(&[]), EckaError::Layout { .. }));
}

#[test]
fn card_refuses_bad_key_parameters() {
    let pki = pki();
    let start = || {
        let host = host(&pki, HostConfig::default());
        let (card, rc) = card(&pki, CardConfig::default())
            .receive_certificate_with_challenge(&host.certificate_data().unwrap(), &RC)
            .unwrap();
        (
            host.receive_challenge_with_ephemeral(&rc, ephemeral())
                .unwrap(),
            card,
        )
    };
    let (awaiting, _) = start();
    let good = awaiting.key_parameters_data().to_vec();
    // Every single-bit change is refused, as a signature or a decoding failure.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let (_, card) = start();
        assert!(card.receive_key_parameters(&bad).is_err(), "byte {i}");
    }
    // Signed for another challenge.
    let host = host(&pki, HostConfig::default());
    let (card, _) = card(&pki, CardConfig::default())
        .receive_certificate_with_challenge(&host.certificate_data().unwrap(), &RC)
        .unwrap();
    let other_rc = Tlv::new(0x85u8, vec![0xC2; 16]).to_bytes();
    let replay = host
        .receive_challenge_with_ephemeral(&other_rc, ephemeral())
        .unwrap();
    assert_eq!(
        card.receive_key_parameters(replay.key_parameters_data())
            .unwrap_err(),
        EckaError::SignatureInvalid
    );
    // Signed with the ephemeral key instead of SK.DP.ECDSA (njiwa's 2019 bug).
    let (_, card) = start();
    let crt = HostConfig::default().crt();
    let (data, _) =
        KeyParameters::build(&crt, &ephemeral().public_key(), &ephemeral(), &RC).unwrap();
    assert_eq!(
        card.receive_key_parameters(&data).unwrap_err(),
        EckaError::SignatureInvalid
    );
    // Correctly signed but an unsupported qualifier.
    let (_, card) = start();
    let odd = super::crt::ControlReferenceTemplate {
        key_usage_qualifier: 0x42,
        ..crt
    };
    let (data, _) =
        KeyParameters::build(&odd, &ephemeral().public_key(), &pki.sm_dp.key, &RC).unwrap();
    assert!(matches!(
        card.receive_key_parameters(&data),
        Err(EckaError::Unsupported(_))
    ));
}

#[test]
fn host_checks_its_inputs() {
    let pki = pki();
    assert_eq!(
        EstablishIsdpKeySet::new(
            HostConfig::default(),
            pki.sm_dp.certificate.clone(),
            pki.sm_sr.key.clone(),
            &pki.ecasd.certificate
        )
        .unwrap_err(),
        EckaError::KeyMismatch
    );
    assert!(EstablishIsdpKeySet::new(
        HostConfig::default(),
        pki.sm_dp.certificate.clone(),
        pki.sm_dp.key.clone(),
        &pki.sm_sr.certificate
    )
    .is_err());
    let host = host(&pki, HostConfig::default());
    assert!(host.receive_challenge(&[0x85, 0x00]).is_err());
    let host = self::host(&pki, HostConfig::default());
    assert!(host.receive_challenge(&[0x86, 0x01, 0x00]).is_err());
    let debug = format!(
        "{:?}",
        self::host(&pki, HostConfig::default())
            .receive_challenge(&[0x85, 1, 1])
            .unwrap()
    );
    assert!(debug.contains("REDACTED"));
}

#[test]
fn host_id_and_sdin_enter_shared_info() {
    let pki = pki();
    let config = HostConfig {
        host_id: Some(vec![0x80; 8]),
        sdin: Some(vec![0x01, 0x02]),
        sin: Some(vec![0x0A]),
        ..HostConfig::default()
    };
    assert_eq!(config.crt().scenario_parameters, 0x0E);
    let host = host(&pki, config);
    let (card_state, rc) = card(
        &pki,
        CardConfig {
            sin: Some(vec![0x0A]),
            ..CardConfig::default()
        },
    )
    .receive_certificate(&host.certificate_data().unwrap())
    .unwrap();
    let awaiting = host.receive_challenge(&rc).unwrap();
    let (_, response) = card_state
        .receive_key_parameters(awaiting.key_parameters_data())
        .unwrap();
    assert!(awaiting.receive_receipt(&response).is_ok());
    // A card that does not know the SIN derives other keys.
    let pki2 = pki.clone();
    let host = self::host(
        &pki2,
        HostConfig {
            host_id: Some(vec![0x80; 8]),
            sdin: Some(vec![1, 2]),
            sin: Some(vec![0x0A]),
            ..HostConfig::default()
        },
    );
    let (card_state, rc) = card(&pki2, CardConfig::default())
        .receive_certificate(&host.certificate_data().unwrap())
        .unwrap();
    let awaiting = host.receive_challenge(&rc).unwrap();
    let (_, response) = card_state
        .receive_key_parameters(awaiting.key_parameters_data())
        .unwrap();
    assert_eq!(
        awaiting.receive_receipt(&response).unwrap_err(),
        EckaError::ReceiptMismatch
    );
}
