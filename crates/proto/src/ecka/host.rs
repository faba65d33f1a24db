//! The SM-DP side of ES8 EstablishISDPKeySet (SGP.02 §3.1.x / §4.1.3.x, GP Amendment E
//! scenario #3), as typed states:
//!
//! [`EstablishIsdpKeySet`] builds STORE DATA `3A01` (CERT.DP.ECDSA) and reads the card's random
//! challenge; [`AwaitingReceipt`] holds the ephemeral secret's ECDH result, builds STORE DATA
//! `3A02` signed with SK.DP.ECDSA over the challenge, and checks the card's receipt in constant
//! time before handing out the key set. A state is consumed by each step; a failed receipt
//! check drops (and zeroizes) the shared secret.

use super::crt::SCENARIO_CERTIFICATE_PRECEDES;
use super::crt::{ControlReferenceTemplate, KEY_TYPE_AES, SCENARIO_DR_INCLUDED};
use super::messages::{
    decode_challenge_response, decode_receipt_response, encode_certificate_block, KeyParameters,
    ReceivedKeyParameters,
};
use super::variant::EckaVariant;
use super::EckaError;
use crate::gp::store_data::{DataStructure, StoreData};
use crate::pki::{Certificate, KeyUsage, PrivateKey, PublicKey};
use crate::scp03::StaticKeys;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The SM-DP's choices for the new key set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// The readings of the open points ([`EckaVariant::default`] unless calibrated).
    pub variant: EckaVariant,
    /// Key Version Number; `30` is the first of the SCP03 range `30`–`3F`.
    pub kvn: u8,
    /// Key identifier of the first key (Key-ENC `01`, Key-MAC `02`, Key-DEK `03`).
    pub key_id: u8,
    /// AES key length in bytes (16, 24 or 32).
    pub key_length: u8,
    /// Scenario parameters: DR included and certificate verification first (`0A`, as njiwa).
    pub scenario_parameters: u8,
    /// `91` initial counter: empty for SCP03.
    pub initial_counter: Vec<u8>,
    /// HostID and SDIN (sets scenario bit `04` when both are present) and the ISD-P's SIN.
    pub host_id: Option<Vec<u8>>,
    pub sdin: Option<Vec<u8>>,
    pub sin: Option<Vec<u8>>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            variant: EckaVariant::default(),
            kvn: 0x30,
            key_id: 0x01,
            key_length: 16,
            scenario_parameters: SCENARIO_DR_INCLUDED | SCENARIO_CERTIFICATE_PRECEDES,
            initial_counter: Vec::new(),
            host_id: None,
            sdin: None,
            sin: None,
        }
    }
}

impl HostConfig {
    /// The `A6` template this configuration sends.
    pub fn crt(&self) -> ControlReferenceTemplate {
        let with_host = self.host_id.is_some() && self.sdin.is_some();
        ControlReferenceTemplate {
            scenario_parameters: self.scenario_parameters
                | if with_host {
                    super::crt::SCENARIO_HOST_ID_INCLUDED
                } else {
                    0
                },
            key_usage_qualifier: self.variant.keys.key_usage_qualifier(),
            key_access: None,
            key_type: KEY_TYPE_AES,
            key_length: self.key_length,
            key_id: self.key_id,
            kvn: self.kvn,
            initial_counter: Some(self.initial_counter.clone()),
            sdin: self.sdin.clone().filter(|_| with_host),
            host_id: self.host_id.clone().filter(|_| with_host),
        }
    }
}

/// Step 1: send CERT.DP.ECDSA, receive RC.
#[derive(Debug)]
pub struct EstablishIsdpKeySet {
    config: HostConfig,
    certificate: Certificate,
    dp_key: PrivateKey,
    ecasd_key: PublicKey,
}

impl EstablishIsdpKeySet {
    /// Starts key establishment as the holder of `certificate` (CERT.DP.ECDSA) and its key, with
    /// the eUICC's CERT.ECASD.ECKA (from the EIS; check its chain with
    /// [`crate::pki::test_pki::verify_ecasd_certificate`] first).
    pub fn new(
        config: HostConfig,
        certificate: Certificate,
        dp_key: PrivateKey,
        ecasd_certificate: &Certificate,
    ) -> Result<Self, EckaError> {
        if dp_key.public_key() != *certificate.public_key() {
            return Err(EckaError::KeyMismatch);
        }
        let usage = ecasd_certificate.body.key_usage;
        if usage.value() != KeyUsage::KEY_AGREEMENT.value() {
            return Err(EckaError::Pki(crate::pki::PkiError::WrongKeyUsage {
                expected: KeyUsage::KEY_AGREEMENT,
                found: usage,
            }));
        }
        Ok(Self {
            config,
            certificate,
            dp_key,
            ecasd_key: *ecasd_certificate.public_key(),
        })
    }

    /// The STORE DATA data field: DGI `3A01` with the certificate.
    pub fn certificate_data(&self) -> Result<Vec<u8>, EckaError> {
        encode_certificate_block(&self.certificate, self.config.variant.certificate_length)
    }

    /// STORE DATA block `00`, P1 `09` (more blocks, DGI, response expected).
    pub fn certificate_command(&self) -> Result<StoreData, EckaError> {
        Ok(StoreData {
            last: false,
            structure: DataStructure::Dgi,
            response_expected: true,
            block: 0,
            ..StoreData::new(self.certificate_data()?)
        })
    }

    /// Reads the card's `85 L RC` and draws the ephemeral key pair from the OS.
    pub fn receive_challenge(self, response: &[u8]) -> Result<AwaitingReceipt, EckaError> {
        let ephemeral = PrivateKey::generate()?;
        self.receive_challenge_with_ephemeral(response, ephemeral)
    }

    /// [`Self::receive_challenge`] with a given ephemeral key (tests).
    pub fn receive_challenge_with_ephemeral(
        self,
        response: &[u8],
        ephemeral: PrivateKey,
    ) -> Result<AwaitingReceipt, EckaError> {
        let rc = decode_challenge_response(response)?;
        let crt = self.config.crt();
        let (data, sent) = KeyParameters::build(&crt, &ephemeral.public_key(), &self.dp_key, &rc)?;
        let z = ephemeral.diffie_hellman(&self.ecasd_key);
        Ok(AwaitingReceipt {
            config: self.config,
            data,
            sent,
            z,
        })
    }
}

/// Step 2: send the key parameters, check the receipt.
pub struct AwaitingReceipt {
    config: HostConfig,
    data: Vec<u8>,
    sent: ReceivedKeyParameters,
    z: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for AwaitingReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitingReceipt")
            .field("config", &self.config)
            .field("data", &hex::encode_upper(&self.data))
            .field("z", &"REDACTED")
            .finish()
    }
}

/// The outcome of a successful key establishment.
#[derive(Clone, Debug)]
pub struct EstablishedKeySet {
    /// Key-ENC, Key-MAC, Key-DEK (the same key three times for [`super::KeyCount::One`]).
    pub keys: StaticKeys,
    /// Key identifier of the first key.
    pub key_id: u8,
    /// The reading that reproduced the receipt.
    pub variant: EckaVariant,
}

impl AwaitingReceipt {
    /// The STORE DATA data field: `3A02` ‖ `7F49` ‖ `5F37`.
    pub fn key_parameters_data(&self) -> &[u8] {
        &self.data
    }

    /// STORE DATA block `01`, P1 `89` (last block, DGI, response expected).
    pub fn key_parameters_command(&self) -> StoreData {
        StoreData {
            last: true,
            structure: DataStructure::Dgi,
            response_expected: true,
            block: 1,
            ..StoreData::new(self.data.clone())
        }
    }

    fn expected_receipt(
        &self,
        variant: &EckaVariant,
        dr: &[u8],
    ) -> Result<(super::variant::DerivedKeys, [u8; 16]), EckaError> {
        let derived = variant.derive(
            self.z.as_ref(),
            &self.sent.parameters.crt,
            dr,
            self.config.sin.as_deref(),
        )?;
        let receipt = variant.receipt(
            &derived.receipt_key,
            &self.sent.crt_tlv,
            &self.sent.epk_tlv,
            dr,
        );
        Ok((derived, receipt))
    }

    /// Reads `85 DR ‖ 86 receipt`, recomputes the receipt with the configured variant and
    /// compares in constant time; on success returns the key set.
    pub fn receive_receipt(self, response: &[u8]) -> Result<EstablishedKeySet, EckaError> {
        let (dr, receipt) = decode_receipt_response(response)?;
        let variant = self.config.variant;
        let (derived, expected) = self.expected_receipt(&variant, &dr)?;
        if !bool::from(expected.ct_eq(&receipt)) {
            return Err(EckaError::ReceiptMismatch);
        }
        Ok(EstablishedKeySet {
            keys: derived.keys,
            key_id: self.sent.parameters.crt.key_id,
            variant,
        })
    }

    /// Diagnostic: the first of the configured variant's [`EckaVariant::receipt_candidates`]
    /// that reproduces the card's receipt, if any (run once against a real card to calibrate).
    ///
    /// The receipt settles the receipt input and the receipt key position. It settles the key
    /// count only when the receipt key comes last: with the receipt key first, the first
    /// KeyData block, hence the receipt, is the same for one and for three keys (the KDF output
    /// length is not in SharedInfo). The key count then shows in the first SCP03 session: only
    /// the right Key-ENC/Key-MAC reproduce the card cryptogram.
    pub fn identify_variant(&self, response: &[u8]) -> Result<Option<EckaVariant>, EckaError> {
        let (dr, receipt) = decode_receipt_response(response)?;
        for variant in self.config.variant.receipt_candidates() {
            let (_, expected) = self.expected_receipt(&variant, &dr)?;
            if bool::from(expected.ct_eq(&receipt)) {
                return Ok(Some(variant));
            }
        }
        Ok(None)
    }
}
