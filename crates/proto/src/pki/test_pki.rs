//! A complete throw-away SGP.02 PKI for tests and the emulator: a CI, an EUM, an SM-DP and an
//! SM-SR certified by the CI, and one eUICC's ECASD certified by the EUM.
//!
//! Never trust these keys outside tests. Identifiers are short ASCII strings (`TEST-CI`…) and
//! the ECASD subject identifier is the EID; every certificate's CA identifier (`42`) is its
//! issuer's subject identifier; dates run from 2025-01-01 to 2055-01-01. Private keys can be
//! exported as PKCS#8 PEM ([`PrivateKey::to_pem`]).

use super::cert::{BcdDate, Certificate, CertificateBody, EntityType, KeyUsage};
use super::keys::{PrivateKey, PublicKey};
use super::PkiError;

/// One party of the test PKI: its key pair and its certificate.
#[derive(Clone, Debug)]
pub struct Party {
    pub key: PrivateKey,
    pub certificate: Certificate,
}

impl Party {
    pub fn public_key(&self) -> &PublicKey {
        self.certificate.public_key()
    }
}

/// The test PKI.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// CERT.CI.ECDSA, self-signed.
    pub ci: Party,
    /// CERT.EUM.ECDSA, issued by the CI.
    pub eum: Party,
    /// CERT.DP.ECDSA, issued by the CI, discretionary data `C8 01 01`.
    pub sm_dp: Party,
    /// CERT.SR.ECDSA, issued by the CI, discretionary data `C8 01 02`.
    pub sm_sr: Party,
    /// CERT.ECASD.ECKA of the eUICC `eid`, issued by the EUM, key usage key agreement.
    pub ecasd: Party,
}

/// The private keys a [`TestPki`] is built from (for deterministic tests).
#[derive(Clone, Debug)]
pub struct TestPkiKeys {
    pub ci: PrivateKey,
    pub eum: PrivateKey,
    pub sm_dp: PrivateKey,
    pub sm_sr: PrivateKey,
    pub ecasd: PrivateKey,
}

impl TestPkiKeys {
    /// Five fresh keys from the operating system's random source.
    pub fn generate() -> Result<Self, PkiError> {
        Ok(Self {
            ci: PrivateKey::generate()?,
            eum: PrivateKey::generate()?,
            sm_dp: PrivateKey::generate()?,
            sm_sr: PrivateKey::generate()?,
            ecasd: PrivateKey::generate()?,
        })
    }
}

impl TestPki {
    /// A PKI with fresh random keys for the eUICC `eid`.
    pub fn generate(eid: &[u8]) -> Result<Self, PkiError> {
        Self::from_keys(TestPkiKeys::generate()?, eid)
    }

    /// A PKI with the given keys (ECDSA is deterministic, so equal keys give equal certificates).
    pub fn from_keys(keys: TestPkiKeys, eid: &[u8]) -> Result<Self, PkiError> {
        let effective = BcdDate::new(2025, 1, 1)?;
        let expiry = BcdDate::new(2055, 1, 1)?;
        let body = |serial: u8,
                    ca_id: &[u8],
                    subject_id: &[u8],
                    key_usage: KeyUsage,
                    discretionary: Option<Vec<u8>>,
                    key: &PrivateKey| CertificateBody {
            serial: vec![serial],
            ca_id: ca_id.to_vec(),
            subject_id: subject_id.to_vec(),
            key_usage,
            effective: Some(effective),
            expiry,
            image_number: None,
            discretionary,
            public_key: key.public_key(),
        };
        let ci_id: &[u8] = b"TEST-CI";
        let eum_id: &[u8] = b"TEST-EUM";
        let sign = KeyUsage::SIGNATURE_VERIFICATION;
        let ci = body(1, ci_id, ci_id, sign, None, &keys.ci).sign(&keys.ci);
        let eum = body(2, ci_id, eum_id, sign, None, &keys.eum).sign(&keys.ci);
        let sm_dp = body(
            3,
            ci_id,
            b"TEST-SM-DP",
            sign,
            Some(EntityType::SmDp.discretionary_data()),
            &keys.sm_dp,
        )
        .sign(&keys.ci);
        let sm_sr = body(
            4,
            ci_id,
            b"TEST-SM-SR",
            sign,
            Some(EntityType::SmSr.discretionary_data()),
            &keys.sm_sr,
        )
        .sign(&keys.ci);
        let ecasd =
            body(5, eum_id, eid, KeyUsage::KEY_AGREEMENT, None, &keys.ecasd).sign(&keys.eum);
        let party = |key: PrivateKey, certificate: Certificate| Party { key, certificate };
        Ok(Self {
            ci: party(keys.ci, ci),
            eum: party(keys.eum, eum),
            sm_dp: party(keys.sm_dp, sm_dp),
            sm_sr: party(keys.sm_sr, sm_sr),
            ecasd: party(keys.ecasd, ecasd),
        })
    }

    /// PK.CI.ECDSA, the trust anchor the ECASD holds.
    pub fn ci_public_key(&self) -> &PublicKey {
        self.ci.public_key()
    }

    /// Checks every certificate against its issuer and its key usage.
    pub fn verify(&self) -> Result<(), PkiError> {
        let ci = self.ci_public_key();
        let sign = KeyUsage::SIGNATURE_VERIFICATION;
        self.ci.certificate.verify_for(ci, sign)?;
        self.eum.certificate.verify_for(ci, sign)?;
        self.sm_dp.certificate.verify_for(ci, sign)?;
        self.sm_sr.certificate.verify_for(ci, sign)?;
        verify_ecasd_certificate(&self.ecasd.certificate, &self.eum.certificate, ci)
    }
}

/// Checks CERT.ECASD.ECKA the way an SM-DP does with the EIS: CERT.EUM.ECDSA against PK.CI,
/// then the ECASD certificate against PK.EUM, with key usage key agreement.
pub fn verify_ecasd_certificate(
    ecasd: &Certificate,
    eum: &Certificate,
    ci: &PublicKey,
) -> Result<(), PkiError> {
    eum.verify_for(ci, KeyUsage::SIGNATURE_VERIFICATION)?;
    ecasd.verify_for(eum.public_key(), KeyUsage::KEY_AGREEMENT)
}
