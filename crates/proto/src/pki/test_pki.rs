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

/// The dates every certificate of the test PKI carries: effective 2025-01-01, expiry 2055-01-01.
fn validity() -> Result<(BcdDate, BcdDate), PkiError> {
    Ok((BcdDate::new(2025, 1, 1)?, BcdDate::new(2055, 1, 1)?))
}

/// Subject identifier of the test CI (also the CA identifier of everything it signs).
pub const CI_ID: &[u8] = b"TEST-CI";
/// Subject identifier of the test EUM (also the CA identifier of the ECASD certificates).
pub const EUM_ID: &[u8] = b"TEST-EUM";
/// Serial number of the ECASD certificates the test EUM issues.
pub const ECASD_SERIAL: u8 = 5;

fn body(
    serial: u8,
    ca_id: &[u8],
    subject_id: &[u8],
    key_usage: KeyUsage,
    discretionary: Option<Vec<u8>>,
    key: &PublicKey,
) -> Result<CertificateBody, PkiError> {
    let (effective, expiry) = validity()?;
    Ok(CertificateBody {
        serial: vec![serial],
        ca_id: ca_id.to_vec(),
        subject_id: subject_id.to_vec(),
        key_usage,
        effective: Some(effective),
        expiry,
        image_number: None,
        discretionary,
        public_key: *key,
    })
}

/// The four issuing parties of the test PKI, without any eUICC: what `smsr pki init` makes and
/// a PKI directory holds ([`super::dir`]).
#[derive(Clone, Debug)]
pub struct Issuers {
    /// CERT.CI.ECDSA, self-signed.
    pub ci: Party,
    /// CERT.EUM.ECDSA, issued by the CI.
    pub eum: Party,
    /// CERT.DP.ECDSA, issued by the CI, discretionary data `C8 01 01`.
    pub sm_dp: Party,
    /// CERT.SR.ECDSA, issued by the CI, discretionary data `C8 01 02`.
    pub sm_sr: Party,
}

impl Issuers {
    /// Four parties with fresh keys from the operating system's random source.
    pub fn generate() -> Result<Self, PkiError> {
        Self::from_keys(
            PrivateKey::generate()?,
            PrivateKey::generate()?,
            PrivateKey::generate()?,
            PrivateKey::generate()?,
        )
    }

    /// The four parties with the given keys (deterministic certificates).
    pub fn from_keys(
        ci: PrivateKey,
        eum: PrivateKey,
        sm_dp: PrivateKey,
        sm_sr: PrivateKey,
    ) -> Result<Self, PkiError> {
        let sign = KeyUsage::SIGNATURE_VERIFICATION;
        let ci_cert = body(1, CI_ID, CI_ID, sign, None, &ci.public_key())?.sign(&ci);
        let eum_cert = body(2, CI_ID, EUM_ID, sign, None, &eum.public_key())?.sign(&ci);
        let dp_cert = body(
            3,
            CI_ID,
            b"TEST-SM-DP",
            sign,
            Some(EntityType::SmDp.discretionary_data()),
            &sm_dp.public_key(),
        )?
        .sign(&ci);
        let sr_cert = body(
            4,
            CI_ID,
            b"TEST-SM-SR",
            sign,
            Some(EntityType::SmSr.discretionary_data()),
            &sm_sr.public_key(),
        )?
        .sign(&ci);
        let party = |key: PrivateKey, certificate: Certificate| Party { key, certificate };
        Ok(Self {
            ci: party(ci, ci_cert),
            eum: party(eum, eum_cert),
            sm_dp: party(sm_dp, dp_cert),
            sm_sr: party(sm_sr, sr_cert),
        })
    }

    /// CERT.ECASD.ECKA for the eUICC `eid` holding `ecasd_key`, signed by the EUM (the EUM's
    /// part of personalizing an eUICC): subject identifier the EID, CA identifier the EUM's
    /// subject identifier, key usage key agreement.
    pub fn issue_ecasd(&self, eid: &[u8], ecasd_key: &PublicKey) -> Result<Certificate, PkiError> {
        let ca_id = &self.eum.certificate.body.subject_id;
        Ok(body(
            ECASD_SERIAL,
            ca_id,
            eid,
            KeyUsage::KEY_AGREEMENT,
            None,
            ecasd_key,
        )?
        .sign(&self.eum.key))
    }

    /// Checks every certificate against its issuer and its key usage.
    pub fn verify(&self) -> Result<(), PkiError> {
        let ci = self.ci.public_key();
        let sign = KeyUsage::SIGNATURE_VERIFICATION;
        self.ci.certificate.verify_for(ci, sign)?;
        self.eum.certificate.verify_for(ci, sign)?;
        self.sm_dp.certificate.verify_for(ci, sign)?;
        self.sm_sr.certificate.verify_for(ci, sign)
    }
}

impl TestPki {
    /// A PKI with fresh random keys for the eUICC `eid`.
    pub fn generate(eid: &[u8]) -> Result<Self, PkiError> {
        Self::from_keys(TestPkiKeys::generate()?, eid)
    }

    /// A PKI with the given keys (ECDSA is deterministic, so equal keys give equal certificates).
    pub fn from_keys(keys: TestPkiKeys, eid: &[u8]) -> Result<Self, PkiError> {
        let issuers = Issuers::from_keys(keys.ci, keys.eum, keys.sm_dp, keys.sm_sr)?;
        let certificate = issuers.issue_ecasd(eid, &keys.ecasd.public_key())?;
        Ok(Self::from_issuers(
            issuers,
            Party {
                key: keys.ecasd,
                certificate,
            },
        ))
    }

    /// The PKI made of `issuers` and one eUICC's ECASD.
    pub fn from_issuers(issuers: Issuers, ecasd: Party) -> Self {
        let Issuers {
            ci,
            eum,
            sm_dp,
            sm_sr,
        } = issuers;
        Self {
            ci,
            eum,
            sm_dp,
            sm_sr,
            ecasd,
        }
    }

    /// The four issuing parties (a copy), without the ECASD.
    pub fn issuers(&self) -> Issuers {
        Issuers {
            ci: self.ci.clone(),
            eum: self.eum.clone(),
            sm_dp: self.sm_dp.clone(),
            sm_sr: self.sm_sr.clone(),
        }
    }

    /// PK.CI.ECDSA, the trust anchor the ECASD holds.
    pub fn ci_public_key(&self) -> &PublicKey {
        self.ci.public_key()
    }

    /// Checks every certificate against its issuer and its key usage.
    pub fn verify(&self) -> Result<(), PkiError> {
        self.issuers().verify()?;
        let ci = self.ci_public_key();
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

impl TestPki {
    /// Writes the four issuing parties as a PKI directory ([`super::dir`]); the ECASD is the
    /// eUICC's and stays out of it.
    pub fn write_dir(
        &self,
        dir: &std::path::Path,
        force: bool,
    ) -> Result<(), super::dir::PkiDirError> {
        self.issuers().write_dir(dir, force)
    }
}
