//! The algorithms a secured packet uses (ETSI TS 102 225 §5.1.2, §5.1.3 and Annex B):
//!
//! - ciphering: DES-CBC, 3DES-CBC with two or three keys (outer CBC), DES-ECB, AES-CBC; the
//!   initial chaining value is all zeros and the caller pads (PCNTR counts the padding);
//! - cryptographic checksum: DES/3DES CBC-MAC (zero ICV, data zero-padded to 8 bytes, last
//!   block), AES-CMAC (NIST SP 800-38B) truncated to [`AES_CMAC_CC_LEN`] bytes;
//! - redundancy check: CRC16 and CRC32 of ISO/IEC 13239 (Annex B), sent most significant byte
//!   first.

use super::spi::{ChecksumAlgorithm, CipherAlgorithm};
use super::Scp80Error;
use crate::scp03::kdf::aes_cmac;
use crate::scp03::keys::AesKey;
use des::cipher::{Block, BlockDecrypt, BlockEncrypt, KeyInit};
use des::{Des, TdesEde2, TdesEde3};
use std::fmt;
use zeroize::Zeroizing;

/// Length of an AES-CMAC cryptographic checksum.
///
/// TS 102 225 §5.1.3.1 lets the CMAC length be chosen; SGP.02 ISD-R key sets, pySim
/// (`pySim/ota.py`, `mac_len=8`) and asterix (`TlenB = 8`) all use 8 bytes, the first (most
/// significant) 8 bytes of the CMAC output.
pub const AES_CMAC_CC_LEN: usize = 8;

/// A KIc or KID key value. Zeroized on drop; `Debug` shows only its length.
#[derive(Clone)]
pub struct OtaKey(Zeroizing<Vec<u8>>);

impl OtaKey {
    /// A key from its bytes (its length is checked against the algorithm when used).
    pub fn new(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The key bytes. Handle with care: this is the secret.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for OtaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OtaKey({} bytes, REDACTED)", self.0.len())
    }
}

/// The block size of a ciphering algorithm (the padding unit).
pub fn block_size(alg: CipherAlgorithm) -> usize {
    match alg {
        CipherAlgorithm::AesCbc => 16,
        _ => 8,
    }
}

/// The length of the RC/CC an algorithm produces.
pub fn checksum_len(alg: ChecksumAlgorithm) -> usize {
    match alg {
        ChecksumAlgorithm::AesCmac => AES_CMAC_CC_LEN,
        ChecksumAlgorithm::Crc16 => 2,
        ChecksumAlgorithm::Crc32 => 4,
        _ => 8,
    }
}

enum Engine {
    Des(Des),
    Tdes2(TdesEde2),
    Tdes3(TdesEde3),
}

fn des_engine(alg: CipherAlgorithm, key: &OtaKey) -> Result<Engine, Scp80Error> {
    let k = key.as_bytes();
    let bad = || Scp80Error::BadKeyLength(k.len());
    Ok(match alg {
        CipherAlgorithm::DesCbc | CipherAlgorithm::DesEcb => {
            Engine::Des(Des::new_from_slice(k).map_err(|_| bad())?)
        }
        CipherAlgorithm::TripleDes2Key => {
            Engine::Tdes2(TdesEde2::new_from_slice(k).map_err(|_| bad())?)
        }
        CipherAlgorithm::TripleDes3Key => {
            Engine::Tdes3(TdesEde3::new_from_slice(k).map_err(|_| bad())?)
        }
        CipherAlgorithm::AesCbc => return Err(bad()),
    })
}

fn cbc<C: BlockEncrypt + BlockDecrypt>(c: &C, data: &[u8], encrypt: bool, chain: bool) -> Vec<u8> {
    let bs = C::block_size();
    let mut prev = vec![0u8; bs];
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks_exact(bs) {
        let mut block = Block::<C>::clone_from_slice(chunk);
        if encrypt {
            if chain {
                block.iter_mut().zip(&prev).for_each(|(b, p)| *b ^= p);
            }
            c.encrypt_block(&mut block);
            prev.copy_from_slice(&block);
            out.extend_from_slice(&block);
        } else {
            c.decrypt_block(&mut block);
            if chain {
                block.iter_mut().zip(&prev).for_each(|(b, p)| *b ^= p);
            }
            prev.copy_from_slice(chunk);
            out.extend_from_slice(&block);
        }
    }
    out
}

fn run(
    alg: CipherAlgorithm,
    key: &OtaKey,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, Scp80Error> {
    if !data.len().is_multiple_of(block_size(alg)) {
        return Err(Scp80Error::NotBlockAligned(data.len()));
    }
    if alg == CipherAlgorithm::AesCbc {
        let k = AesKey::from_bytes(key.as_bytes())
            .map_err(|_| Scp80Error::BadKeyLength(key.as_bytes().len()))?;
        let iv = [0u8; 16];
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let r = if encrypt {
            crate::scp03::cipher::cbc_encrypt(&k, &iv, data)
        } else {
            crate::scp03::cipher::cbc_decrypt(&k, &iv, data)
        };
        return r.map_err(|_| Scp80Error::NotBlockAligned(data.len()));
    }
    let chain = alg != CipherAlgorithm::DesEcb;
    Ok(match des_engine(alg, key)? {
        Engine::Des(c) => cbc(&c, data, encrypt, chain),
        Engine::Tdes2(c) => cbc(&c, data, encrypt, chain),
        Engine::Tdes3(c) => cbc(&c, data, encrypt, chain),
    })
}

/// Enciphers block-aligned data with a zero ICV.
pub fn encrypt(alg: CipherAlgorithm, key: &OtaKey, data: &[u8]) -> Result<Vec<u8>, Scp80Error> {
    run(alg, key, data, true)
}

/// Deciphers block-aligned data with a zero ICV.
pub fn decrypt(alg: CipherAlgorithm, key: &OtaKey, data: &[u8]) -> Result<Vec<u8>, Scp80Error> {
    run(alg, key, data, false)
}

/// Computes an RC or CC over `data` (CRCs take no key).
pub fn checksum(
    alg: ChecksumAlgorithm,
    key: Option<&OtaKey>,
    data: &[u8],
) -> Result<Vec<u8>, Scp80Error> {
    let need_key = || key.ok_or(Scp80Error::MissingKey("KID"));
    let mac_with = |cipher: CipherAlgorithm| -> Result<Vec<u8>, Scp80Error> {
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(8).max(1) * 8, 0);
        let enc = encrypt(cipher, need_key()?, &padded)?;
        Ok(enc[enc.len() - 8..].to_vec())
    };
    match alg {
        ChecksumAlgorithm::DesCbcMac => mac_with(CipherAlgorithm::DesCbc),
        ChecksumAlgorithm::TripleDes2KeyMac => mac_with(CipherAlgorithm::TripleDes2Key),
        ChecksumAlgorithm::TripleDes3KeyMac => mac_with(CipherAlgorithm::TripleDes3Key),
        ChecksumAlgorithm::AesCmac => {
            let k = need_key()?;
            let k = AesKey::from_bytes(k.as_bytes())
                .map_err(|_| Scp80Error::BadKeyLength(k.as_bytes().len()))?;
            Ok(aes_cmac(&k, &[data])[..AES_CMAC_CC_LEN].to_vec())
        }
        ChecksumAlgorithm::Crc16 => Ok(crc16(data).to_be_bytes().to_vec()),
        ChecksumAlgorithm::Crc32 => Ok(crc32(data).to_be_bytes().to_vec()),
    }
}

/// CRC16 of ISO/IEC 13239 (polynomial `1021` reflected, initial `FFFF`, final complement).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// CRC32 of ISO/IEC 13239 (polynomial `04C11DB7` reflected, initial `FFFFFFFF`, final
/// complement).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn crc_check_values() {
        // CRC catalogue check values over "123456789": CRC-32 (ISO-HDLC) CBF43926 and
        // CRC-16/IBM-SDLC (X.25) 906E.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc16(b"123456789"), 0x906E);
        // asterix SecurePacket.py TestCRC.test_CRC32.
        assert_eq!(crc32(&h("0102030405")), 0x470B_99F4);
    }

    #[test]
    fn des_fips81_and_tdes_sp800_67() {
        // FIPS 81 Appendix B (ECB): key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815.
        let k = OtaKey::new(&h("0123456789ABCDEF"));
        assert_eq!(
            encrypt(CipherAlgorithm::DesEcb, &k, &h("4E6F772069732074")).unwrap(),
            h("3FA40E8A984D4815")
        );
        // FIPS 81 Appendix C (CBC, IV 1234567890ABCDEF) cannot use our zero ICV; instead check
        // CBC = ECB of (P xor 0) on the first block, and the second block chains.
        let two = h("4E6F77206973207468652074696D6520");
        let c = encrypt(CipherAlgorithm::DesCbc, &k, &two).unwrap();
        assert_eq!(c[..8], h("3FA40E8A984D4815"));
        assert_eq!(decrypt(CipherAlgorithm::DesCbc, &k, &c).unwrap(), two);
        // NIST SP 800-67 Rev. 2 Appendix B (TDEA ECB, three keys): "The qufc" -> A826FD8CE53B855F.
        let k3 = OtaKey::new(&h("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123"));
        assert_eq!(
            encrypt(CipherAlgorithm::TripleDes3Key, &k3, &h("5468652071756663")).unwrap(),
            h("A826FD8CE53B855F")
        );
        // Two-key 3DES with K1 = K3 equals three-key with the same K1, K2, K1.
        let k2 = OtaKey::new(&h("0123456789ABCDEF23456789ABCDEF01"));
        let k3b = OtaKey::new(&h("0123456789ABCDEF23456789ABCDEF010123456789ABCDEF"));
        assert_eq!(
            encrypt(CipherAlgorithm::TripleDes2Key, &k2, &two).unwrap(),
            encrypt(CipherAlgorithm::TripleDes3Key, &k3b, &two).unwrap()
        );
    }

    #[test]
    fn aes_cmac_rfc4493_truncated() {
        // RFC 4493 §4 example 2 (16 bytes): 070A16B46B4D4144F79BDD9DD04A287C.
        let k = OtaKey::new(&h("2B7E151628AED2A6ABF7158809CF4F3C"));
        assert_eq!(
            checksum(
                ChecksumAlgorithm::AesCmac,
                Some(&k),
                &h("6BC1BEE22E409F96E93D7E117393172A")
            )
            .unwrap(),
            h("070A16B46B4D4144")
        );
    }

    #[test]
    fn errors() {
        let k = OtaKey::new(&[0; 15]);
        assert_eq!(
            encrypt(CipherAlgorithm::AesCbc, &k, &[0; 16]),
            Err(Scp80Error::BadKeyLength(15))
        );
        assert_eq!(
            encrypt(CipherAlgorithm::TripleDes2Key, &k, &[0; 8]),
            Err(Scp80Error::BadKeyLength(15))
        );
        assert_eq!(
            decrypt(CipherAlgorithm::DesCbc, &OtaKey::new(&[1; 8]), &[0; 7]),
            Err(Scp80Error::NotBlockAligned(7))
        );
        assert_eq!(
            checksum(ChecksumAlgorithm::AesCmac, None, &[]),
            Err(Scp80Error::MissingKey("KID"))
        );
        assert_eq!(
            format!("{:?}", OtaKey::new(&[7; 16])),
            "OtaKey(16 bytes, REDACTED)"
        );
    }
}
