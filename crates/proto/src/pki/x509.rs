//! Just enough X.509 (RFC 5280 §4.1) to take the P-256 public key and the ECDSA-with-SHA256
//! signature out of a DER certificate, such as the GSMA SGP.26 test certificates.
//!
//! SGP.02 itself uses `7F21` certificates ([`super::cert`]); this module exists so that our
//! ECDSA verification is also checked against certificates signed by someone else's software.
//! It does not validate names, dates or extensions.

use super::keys::PublicKey;
use super::PkiError;
use crate::tlv::{Tag, Tlv};
use p256::ecdsa::Signature;
use p256::pkcs8::DecodePublicKey;

const SEQUENCE: u32 = 0x30;
const BIT_STRING: u32 = 0x03;

/// The parts of an X.509 certificate this module reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Certificate {
    /// The DER bytes of `tbsCertificate` (what the issuer signed).
    pub tbs: Vec<u8>,
    /// The subject's P-256 public key.
    pub public_key: PublicKey,
    /// The issuer's signature, converted from DER to plain `r‖s`.
    pub signature: super::EcdsaSignature,
}

impl X509Certificate {
    /// Reads a DER certificate whose subject key is on P-256 and whose signature is ECDSA.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let cert = Tlv::parse_expect(der, SEQUENCE)?;
        let parts = cert.children()?;
        let [tbs, _algorithm, signature] = parts.as_slice() else {
            return Err(PkiError::X509("Certificate is not a SEQUENCE of three"));
        };
        if tbs.tag != Tag::new(SEQUENCE) || signature.tag != Tag::new(BIT_STRING) {
            return Err(PkiError::X509("unexpected Certificate layout"));
        }
        // TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject,
        // subjectPublicKeyInfo, ...
        let fields = tbs.children()?;
        let first = usize::from(fields.first().map(|f| f.tag) == Some(Tag::new(0xA0)));
        let spki = fields
            .get(first + 5)
            .filter(|f| f.tag == Tag::new(SEQUENCE))
            .ok_or(PkiError::X509("no subjectPublicKeyInfo"))?;
        let key = p256::PublicKey::from_public_key_der(&spki.to_bytes())
            .map_err(|_| PkiError::X509("subject key is not a P-256 key"))?;
        let der_sig = match signature.value.split_first() {
            Some((0, rest)) => rest,
            _ => return Err(PkiError::X509("signature BIT STRING has unused bits")),
        };
        let sig = Signature::from_der(der_sig)
            .map_err(|_| PkiError::X509("signature is not a DER ECDSA-Sig-Value"))?;
        Ok(Self {
            tbs: tbs.to_bytes(),
            public_key: PublicKey::from_p256(key),
            signature: super::EcdsaSignature(sig.to_bytes().into()),
        })
    }

    /// Checks the signature with the issuer's key (ECDSA with SHA-256 over `tbsCertificate`).
    pub fn verify(&self, issuer: &PublicKey) -> Result<(), PkiError> {
        issuer.verify(&self.tbs, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::PrivateKey;
    use std::path::PathBuf;

    fn sgp26_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("SMSR_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
            PathBuf::from,
        );
        let certs = dir.join("testdata/sgp26-certs");
        if certs.is_dir() {
            Some(certs)
        } else {
            eprintln!("skipped: no ../shared/testdata");
            None
        }
    }

    /// The GSMA SGP.26 test PKI (NIST variant): the DPauth and DPpb certificates verify against
    /// the CI, the CI is self-signed, and the published DPauth private key matches its
    /// certificate (OpenSSL agrees on all three, see shared/testdata/README.md).
    #[test]
    fn sgp26_nist_chain() {
        let Some(dir) = sgp26_dir() else { return };
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let ci = X509Certificate::from_der(&read("CERT_CI_ECDSA_NIST.der")).unwrap();
        ci.verify(&ci.public_key).unwrap();
        for leaf in [
            "CERT_S_SM_DPauth_ECDSA_NIST.der",
            "CERT_S_SM_DPpb_ECDSA_NIST.der",
        ] {
            let cert = X509Certificate::from_der(&read(leaf)).unwrap();
            cert.verify(&ci.public_key).unwrap();
            assert_eq!(
                cert.verify(&cert.public_key),
                Err(PkiError::SignatureInvalid)
            );
            let mut tampered = cert.clone();
            tampered.tbs[20] ^= 1;
            assert!(tampered.verify(&ci.public_key).is_err());
        }
        let auth = X509Certificate::from_der(&read("CERT_S_SM_DPauth_ECDSA_NIST.der")).unwrap();
        let pem = std::fs::read_to_string(dir.join("SK_S_SM_DPauth_ECDSA_NIST.pem")).unwrap();
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.public_key(), auth.public_key);
        // The brainpool CI is readable as DER but its key is not on P-256.
        assert!(matches!(
            X509Certificate::from_der(&read("CERT_CI_ECDSA_BRP.der")),
            Err(PkiError::X509(_))
        ));
        assert!(X509Certificate::from_der(&read("CERT_CI_ECDSA_NIST.der")[..100]).is_err());
    }
}
