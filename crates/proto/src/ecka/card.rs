//! The eUICC side of ES8 EstablishISDPKeySet: what the ISD-P, with the ECASD's help, does with
//! the two STORE DATA commands (SGP.02 §4.1.3.x; GP Amendment E scenario #3).
//!
//! [`KeySetCard`] verifies CERT.DP.ECDSA with PK.CI.ECDSA (signature, key usage, holder role)
//! and answers `85 RC`; [`CertificateAccepted`] verifies the SK.DP.ECDSA signature over
//! `3A02 ‖ 7F49 ‖ 0085 RC`, computes Z = ECDH(SK.ECASD.ECKA, ePK.DP.ECKA), derives the key set
//! and answers `85 DR ‖ 86 receipt`. Any failure consumes the state: the exchange must restart
//! with a new certificate.

use super::crt::{ControlReferenceTemplate, KEY_TYPE_AES};
use super::messages::{
    decode_certificate_block, encode_challenge_response, encode_receipt_response, KeyParameters,
};
use super::variant::{EckaVariant, KeyCount};
use super::EckaError;
use crate::pki::{Certificate, EntityType, KeyUsage, PrivateKey, PublicKey};
use crate::scp03::StaticKeys;

/// Length of the random challenge RC and the derivation random DR this card draws.
pub const CARD_RANDOM_LEN: usize = 16;

/// How the card reads the open points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardConfig {
    /// Receipt input and receipt key position; the key count follows the received `95`.
    pub variant: EckaVariant,
    /// The role CERT.*.ECDSA must carry in `73 { C8 01 xx }` (SM-DP for an ISD-P; `None`
    /// accepts any).
    pub expected_entity: Option<EntityType>,
    /// The ISD-P's SIN, for SharedInfo when HostID is included.
    pub sin: Option<Vec<u8>>,
}

impl Default for CardConfig {
    fn default() -> Self {
        Self {
            variant: EckaVariant::default(),
            expected_entity: Some(EntityType::SmDp),
            sin: None,
        }
    }
}

/// Waiting for STORE DATA `3A01`.
#[derive(Debug)]
pub struct KeySetCard {
    ci: PublicKey,
    ecasd_key: PrivateKey,
    config: CardConfig,
}

/// The key set the card installs.
#[derive(Clone, Debug)]
pub struct CardKeySet {
    pub keys: StaticKeys,
    /// Key identifier of the first key.
    pub key_id: u8,
    pub crt: ControlReferenceTemplate,
}

fn random<const N: usize>() -> Result<[u8; N], EckaError> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|_| EckaError::Random)?;
    Ok(out)
}

impl KeySetCard {
    /// A card trusting `ci` (PK.CI.ECDSA) and holding SK.ECASD.ECKA.
    pub fn new(ci: PublicKey, ecasd_key: PrivateKey, config: CardConfig) -> Self {
        Self {
            ci,
            ecasd_key,
            config,
        }
    }

    /// Handles the `3A01` data field; returns the next state and the response `85 L RC`.
    pub fn receive_certificate(
        self,
        data: &[u8],
    ) -> Result<(CertificateAccepted, Vec<u8>), EckaError> {
        let rc = random::<CARD_RANDOM_LEN>()?;
        self.receive_certificate_with_challenge(data, &rc)
    }

    /// [`Self::receive_certificate`] with a given RC (tests).
    pub fn receive_certificate_with_challenge(
        self,
        data: &[u8],
        rc: &[u8],
    ) -> Result<(CertificateAccepted, Vec<u8>), EckaError> {
        let (certificate, _) = decode_certificate_block(data)?;
        certificate
            .verify_for(&self.ci, KeyUsage::SIGNATURE_VERIFICATION)
            .map_err(EckaError::CertificateRejected)?;
        if let Some(expected) = self.config.expected_entity {
            let found = certificate.body.entity_type();
            if found != Some(expected) {
                return Err(EckaError::WrongEntity { expected, found });
            }
        }
        let response = encode_challenge_response(rc)?;
        Ok((
            CertificateAccepted {
                ecasd_key: self.ecasd_key,
                config: self.config,
                certificate,
                rc: rc.to_vec(),
            },
            response,
        ))
    }
}

/// CERT.DP.ECDSA verified, RC sent; waiting for STORE DATA `3A02`.
#[derive(Debug)]
pub struct CertificateAccepted {
    ecasd_key: PrivateKey,
    config: CardConfig,
    certificate: Certificate,
    rc: Vec<u8>,
}

impl CertificateAccepted {
    /// The verified off-card entity certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Handles the `3A02` data field; returns the key set and the response `85 DR ‖ 86 receipt`.
    pub fn receive_key_parameters(self, data: &[u8]) -> Result<(CardKeySet, Vec<u8>), EckaError> {
        let dr = random::<CARD_RANDOM_LEN>()?;
        self.receive_key_parameters_with_random(data, &dr)
    }

    /// [`Self::receive_key_parameters`] with a given DR (tests).
    pub fn receive_key_parameters_with_random(
        self,
        data: &[u8],
        dr: &[u8],
    ) -> Result<(CardKeySet, Vec<u8>), EckaError> {
        let received = KeyParameters::decode(data)?;
        let signed = KeyParameters::signed_data(&received.block, &received.epk_tlv, &self.rc)?;
        self.certificate
            .public_key()
            .verify(&signed, &received.parameters.signature)
            .map_err(|_| EckaError::SignatureInvalid)?;
        let crt = received.parameters.crt;
        if crt.key_type != KEY_TYPE_AES {
            return Err(EckaError::Unsupported("key type other than AES ('88')"));
        }
        let keys = KeyCount::from_key_usage_qualifier(crt.key_usage_qualifier).ok_or(
            EckaError::Unsupported("key usage qualifier other than '10' or '5C'"),
        )?;
        let variant = EckaVariant {
            keys,
            ..self.config.variant
        };
        let z = self
            .ecasd_key
            .diffie_hellman(&received.parameters.ephemeral);
        let derived = variant.derive(z.as_ref(), &crt, dr, self.config.sin.as_deref())?;
        let receipt = variant.receipt(
            &derived.receipt_key,
            &received.crt_tlv,
            &received.epk_tlv,
            dr,
        );
        let response = encode_receipt_response(dr, &receipt)?;
        Ok((
            CardKeySet {
                keys: derived.keys,
                key_id: crt.key_id,
                crt,
            },
            response,
        ))
    }
}
