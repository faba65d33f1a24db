//! NIST P-256 keys, ECDSA signatures and ECDH as SGP.02 uses them.
//!
//! - Public keys travel as the GlobalPlatform public key template `7F49 { B0 04‖X‖Y, F0 01
//!   <key parameter reference> }` (GP Card Specification Amendment E, Table 4-3 for the
//!   reference values; SGP.02 uses it in CERT.*.ECDSA, CERT.ECASD.ECKA and for ePK.DP.ECKA).
//!   Only the uncompressed SEC 1 point form `04‖X‖Y` is accepted.
//! - Signatures are ECDSA with SHA-256 in the *plain* format of BSI TR-03111 §5.2.1: `r‖s`, each
//!   32 bytes big-endian (not DER). Signing is deterministic (RFC 6979), so tests can pin values.
//! - ECDH (ECKA-DH / ECKA-EG, BSI TR-03111 §4.3.1) yields the x-coordinate of the shared point.
//!
//! Private keys are stored as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, RFC 5958 / RFC 7468),
//! which OpenSSL reads and writes; SEC 1 PEM (`-----BEGIN EC PRIVATE KEY-----`, RFC 5915) is also
//! read. The raw 32-byte scalar is available for tests and key stores that wrap it themselves.

use super::PkiError;
use crate::tlv::{Tag, Tlv};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use std::fmt;
use zeroize::Zeroizing;

/// Tag of the public key template.
pub const TAG_PUBLIC_KEY: u16 = 0x7F49;
/// Tag of the public key value `Q` inside `7F49`.
pub const TAG_PUBLIC_KEY_Q: u8 = 0xB0;
/// Tag of the key parameter reference inside `7F49`.
pub const TAG_KEY_PARAMETER_REFERENCE: u8 = 0xF0;

/// Key parameter reference of NIST P-256 (GP Amendment E Table 4-3; SGP.02 §2.3.2). The other
/// values (`01` P-384, `02` P-521, `03`…`08` brainpool, `40` FRP256V1) are refused with
/// [`PkiError::UnsupportedCurve`]: this implementation does P-256 only.
pub const KEY_PARAMETER_P256: u8 = 0x00;

/// Length of an uncompressed P-256 point `04‖X‖Y`.
pub const POINT_LEN: usize = 65;
/// Length of a plain `r‖s` P-256 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A P-256 private key. Zeroized on drop (the `p256` secret key does it); `Debug` is redacted.
#[derive(Clone)]
pub struct PrivateKey(p256::SecretKey);

impl PrivateKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, PkiError> {
        // A random 256-bit string is a valid scalar unless it is zero or ≥ n (probability about
        // 2^-32); draw again in that case.
        for _ in 0..16 {
            let mut raw = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(raw.as_mut()).map_err(|_| PkiError::Random)?;
            if let Ok(key) = Self::from_bytes(raw.as_ref()) {
                return Ok(key);
            }
        }
        Err(PkiError::Random)
    }

    /// A key from its 32-byte big-endian scalar (1 ≤ d < n).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PkiError> {
        if bytes.len() != 32 {
            return Err(PkiError::BadPrivateKey("a P-256 private key has 32 bytes"));
        }
        p256::SecretKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| PkiError::BadPrivateKey("scalar is zero or not below the group order"))
    }

    /// The 32-byte big-endian scalar. Handle with care: this is the secret.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.0.to_bytes());
        out
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), with the P-256 curve OID and the public key.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, PkiError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| PkiError::BadPrivateKey("PKCS#8 encoding failed"))
    }

    /// A key from PKCS#8 PEM (`BEGIN PRIVATE KEY`) or SEC 1 PEM (`BEGIN EC PRIVATE KEY`, as
    /// OpenSSL writes it, possibly after an `EC PARAMETERS` block). The key must be on P-256.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        if let Some(block) = pem_block(pem, "EC PRIVATE KEY") {
            return p256::SecretKey::from_sec1_pem(block)
                .map(Self)
                .map_err(|_| PkiError::BadPrivateKey("not a P-256 SEC 1 EC PRIVATE KEY PEM"));
        }
        let block = pem_block(pem, "PRIVATE KEY").ok_or(PkiError::BadPrivateKey(
            "no PRIVATE KEY or EC PRIVATE KEY PEM block",
        ))?;
        p256::SecretKey::from_pkcs8_pem(block)
            .map(Self)
            .map_err(|_| PkiError::BadPrivateKey("not a P-256 PKCS#8 PRIVATE KEY PEM"))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    /// ECDSA with SHA-256 over `message` (RFC 6979 deterministic nonce), as plain `r‖s`.
    pub fn sign(&self, message: &[u8]) -> EcdsaSignature {
        let signature: Signature = SigningKey::from(&self.0).sign(message);
        EcdsaSignature(signature.to_bytes().into())
    }

    /// ECDH with `peer`: the x-coordinate of d·Q (BSI TR-03111 §4.3.1, ECKA-DH).
    pub fn diffie_hellman(&self, peer: &PublicKey) -> Zeroizing<[u8; 32]> {
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.0.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        out
    }
}

/// The text of the first PEM block labelled `label`, from `-----BEGIN` to the end line.
fn pem_block<'a>(pem: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)?;
    let stop = start + pem[start..].find(&end)? + end.len();
    Some(&pem[start..stop])
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey(P-256, REDACTED, public {})",
            self.public_key()
        )
    }
}

/// A P-256 public key (a point on the curve, never the identity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(p256::PublicKey);

impl PublicKey {
    /// A key from the uncompressed point `04‖X‖Y` (65 bytes), checked to lie on the curve.
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, PkiError> {
        if bytes.len() != POINT_LEN || bytes[0] != 0x04 {
            return Err(PkiError::BadPublicKey(
                "expected an uncompressed point 04||X||Y of 65 bytes",
            ));
        }
        p256::PublicKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| PkiError::BadPublicKey("point is not on P-256"))
    }

    /// The uncompressed point `04‖X‖Y`.
    pub fn to_uncompressed(&self) -> [u8; POINT_LEN] {
        let point = self.0.to_encoded_point(false);
        let mut out = [0u8; POINT_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The public key template `7F49 { B0 04‖X‖Y, F0 01 00 }`.
    pub fn to_template(&self) -> Tlv {
        Tlv::constructed(
            TAG_PUBLIC_KEY,
            &[
                Tlv::new(TAG_PUBLIC_KEY_Q, self.to_uncompressed().to_vec()),
                Tlv::new(TAG_KEY_PARAMETER_REFERENCE, vec![KEY_PARAMETER_P256]),
            ],
        )
    }

    /// Decodes the value of a `7F49` template: exactly `B0` then `F0`, the reference one byte
    /// and P-256.
    pub fn from_template_value(value: &[u8]) -> Result<Self, PkiError> {
        let parent = Tag::new(u32::from(TAG_PUBLIC_KEY));
        let children = Tlv::parse_all(value)?;
        let [q, reference] = children.as_slice() else {
            return Err(PkiError::BadValue {
                tag: parent,
                reason: "a public key template holds exactly B0 and F0",
            });
        };
        if q.tag != Tag::from(TAG_PUBLIC_KEY_Q)
            || reference.tag != Tag::from(TAG_KEY_PARAMETER_REFERENCE)
        {
            return Err(PkiError::BadValue {
                tag: parent,
                reason: "a public key template holds B0 then F0",
            });
        }
        match reference.value.as_slice() {
            [KEY_PARAMETER_P256] => {}
            [other] => return Err(PkiError::UnsupportedCurve(*other)),
            _ => {
                return Err(PkiError::BadValue {
                    tag: reference.tag,
                    reason: "key parameter reference is one byte",
                })
            }
        }
        Self::from_uncompressed(&q.value)
    }

    /// Checks an ECDSA-SHA-256 plain `r‖s` signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &EcdsaSignature) -> Result<(), PkiError> {
        let sig = Signature::from_slice(&signature.0).map_err(|_| PkiError::SignatureInvalid)?;
        VerifyingKey::from(&self.0)
            .verify(message, &sig)
            .map_err(|_| PkiError::SignatureInvalid)
    }

    /// The key as the `p256` crate's type (for DER/SPKI work).
    pub fn as_p256(&self) -> &p256::PublicKey {
        &self.0
    }

    pub(crate) fn from_p256(key: p256::PublicKey) -> Self {
        Self(key)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.to_uncompressed()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A plain ECDSA P-256 signature `r‖s` (BSI TR-03111 §5.2.1), as carried in tag `5F37`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EcdsaSignature(pub [u8; SIGNATURE_LEN]);

impl EcdsaSignature {
    /// A signature from exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, PkiError> {
        <[u8; SIGNATURE_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| PkiError::BadValue {
                tag: Tag::new(0x5F37),
                reason: "a P-256 signature r||s has 64 bytes",
            })
    }

    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

impl fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdsaSignature({})", hex::encode_upper(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// RFC 6979 Appendix A.2.5 (ECDSA, 256 bits, prime field: NIST P-256), key pair and the two
    /// SHA-256 signatures, typed from the RFC text.
    #[test]
    fn rfc6979_a25_p256_sha256() {
        let key = PrivateKey::from_bytes(&h(
            "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
        ))
        .unwrap();
        let public = key.public_key();
        assert_eq!(
            public.to_uncompressed().to_vec(),
            h(
                "04 60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
                  7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
            )
        );
        for (message, r, s) in [
            (
                "sample",
                "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
                "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
            ),
            (
                "test",
                "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
                "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083",
            ),
        ] {
            let expected = EcdsaSignature::from_slice(&h(&format!("{r}{s}"))).unwrap();
            assert_eq!(key.sign(message.as_bytes()), expected, "{message}");
            public.verify(message.as_bytes(), &expected).unwrap();
            let mut bad = expected;
            bad.0[63] ^= 1;
            assert_eq!(
                public.verify(message.as_bytes(), &bad),
                Err(PkiError::SignatureInvalid)
            );
        }
        assert!(public.verify(b"other", &key.sign(b"sample")).is_err());
    }

    /// NIST CAVP "ECC CDH Primitive" test vectors (SP 800-56A, file ecccdhtestvectors.zip,
    /// KAS_ECC_CDH_PrimitiveTest.txt), [P-256] COUNT = 0 and COUNT = 1.
    #[test]
    fn nist_cavp_ecc_cdh_p256() {
        for (qcavs_x, qcavs_y, d_iut, qiut_x, qiut_y, z_iut) in [
            (
                "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287",
                "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
                "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
                "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230",
                "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141",
                "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b",
            ),
            (
                "809f04289c64348c01515eb03d5ce7ac1a8cb9498f5caa50197e58d43a86a7ae",
                "b29d84e811197f25eba8f5194092cb6ff440e26d4421011372461f579271cda3",
                "38f65d6dce47676044d58ce5139582d568f64bb16098d179dbab07741dd5caf5",
                "119f2f047902782ab0c9e27a54aff5eb9b964829ca99c06b02ddba95b0a3f6d0",
                "8f52b726664cac366fc98ac7a012b2682cbd962e5acb544671d41b9445704d1d",
                "057d636096cb80b67a8c038c890e887d1adfa4195e9b3ce241c8a778c59cda67",
            ),
        ] {
            let peer = PublicKey::from_uncompressed(&h(&format!("04{qcavs_x}{qcavs_y}"))).unwrap();
            let ours = PrivateKey::from_bytes(&h(d_iut)).unwrap();
            assert_eq!(
                ours.public_key().to_uncompressed().to_vec(),
                h(&format!("04{qiut_x}{qiut_y}"))
            );
            assert_eq!(ours.diffie_hellman(&peer).to_vec(), h(z_iut));
        }
    }

    #[test]
    fn points_and_templates_are_strict() {
        let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap().public_key();
        let template = key.to_template();
        assert_eq!(&template.to_bytes()[..5], &h("7F4946B041")[..]);
        assert_eq!(
            PublicKey::from_template_value(&template.value).unwrap(),
            key
        );
        let mut point = key.to_uncompressed();
        point[64] ^= 1;
        assert!(PublicKey::from_uncompressed(&point).is_err());
        assert!(PublicKey::from_uncompressed(&point[..33]).is_err());
        let mut other_curve = template.value.clone();
        *other_curve.last_mut().unwrap() = 0x03;
        assert_eq!(
            PublicKey::from_template_value(&other_curve),
            Err(PkiError::UnsupportedCurve(0x03))
        );
        let swapped = [
            Tlv::new(0xF0u8, vec![0]).to_bytes(),
            Tlv::new(0xB0u8, key.to_uncompressed().to_vec()).to_bytes(),
        ]
        .concat();
        assert!(PublicKey::from_template_value(&swapped).is_err());
        assert!(PrivateKey::from_bytes(&[0; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[0xFF; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[1; 31]).is_err());
    }

    #[test]
    fn pem_round_trip_and_redacted_debug() {
        let key = PrivateKey::generate().unwrap();
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let shown = format!("{key:?}");
        assert!(shown.contains("REDACTED"));
        assert!(!shown.contains(&hex::encode_upper(key.to_bytes().as_ref())));
        assert!(PrivateKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        assert_ne!(PrivateKey::generate().unwrap().to_bytes(), key.to_bytes());
    }
}
