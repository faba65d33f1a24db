//! The key set established by ES8 opens an SCP03 session to the new ISD-P (i = `70`,
//! pseudo-random card challenge, as CreateISDP installs it), and a host that derived the other
//! key count is stopped by the card cryptogram.

use super::card::{CardConfig, KeySetCard};
use super::host::{EstablishIsdpKeySet, EstablishedKeySet, HostConfig};
use super::variant::EckaVariant;
use crate::apdu::ResponseApdu;
use crate::pki::test_pki::TestPki;
use crate::scp03::{
    HostOptions, Scp03Card, Scp03Host, ScpError, ScpOptions, SecurityLevel, StaticKeys,
};
use crate::status::StatusWord;

/// The first ISD-P AID an SM-SR allocates (SGP02.md §1).
const ISD_P: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00,
];

fn establish(host_variant: EckaVariant) -> (EstablishedKeySet, StaticKeys) {
    let pki = TestPki::generate(&[0x89; 16]).unwrap();
    let host = EstablishIsdpKeySet::new(
        HostConfig {
            variant: host_variant,
            ..HostConfig::default()
        },
        pki.sm_dp.certificate.clone(),
        pki.sm_dp.key.clone(),
        &pki.ecasd.certificate,
    )
    .unwrap();
    let card = KeySetCard::new(
        *pki.ci_public_key(),
        pki.ecasd.key.clone(),
        CardConfig::default(),
    );
    let (card, rc) = card
        .receive_certificate(&host.certificate_data().unwrap())
        .unwrap();
    let awaiting = host.receive_challenge(&rc).unwrap();
    let (card_keys, response) = card
        .receive_key_parameters(awaiting.key_parameters_data())
        .unwrap();
    (awaiting.receive_receipt(&response).unwrap(), card_keys.keys)
}

fn open(host_keys: StaticKeys, card_keys: StaticKeys) -> Result<(), ScpError> {
    let mut card = Scp03Card::new(&ISD_P, ScpOptions::from_i(0x70)?, [0x5A; 10])?;
    card.add_keyset(card_keys, 0);
    let host = Scp03Host::new(
        host_keys,
        HostOptions {
            kvn: 0x30,
            ..HostOptions::default()
        },
    )?;
    let (response, pending) = card
        .initialize_update(&host.initialize_update_command()?)
        .unwrap();
    let auth = host.on_initialize_update_response(&response)?;
    assert_eq!(auth.pseudo_random_challenge_matches(&ISD_P), Some(true));
    let (command, waiting) = auth.external_authenticate_command(SecurityLevel::from_p1(0x33)?)?;
    let (response, _) = pending.external_authenticate(&command).unwrap();
    assert_eq!(response, ResponseApdu::status(StatusWord::Success));
    waiting.on_external_authenticate_response(&response)?;
    Ok(())
}

#[test]
fn established_keys_open_an_scp03_session() {
    let (host, card) = establish(EckaVariant::default());
    open(host.keys, card).unwrap();
}

#[test]
fn the_wrong_key_count_fails_at_the_card_cryptogram() {
    // The card follows the 95 qualifier the host sent (three keys); a host that then assumes
    // one key has the same receipt but the wrong Key-ENC/Key-MAC.
    let (host, card) = establish(EckaVariant::default());
    let one = StaticKeys::single(0x30, &host.keys.enc().as_bytes()[..16]).unwrap();
    assert!(matches!(
        open(one, card),
        Err(ScpError::CardCryptogramMismatch { kvn: 0x30 })
    ));
}
