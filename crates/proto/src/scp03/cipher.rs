//! AES as GlobalPlatform uses it (GPCS v2.3.1 §B.2, moved there from Amendment D §4.1):
//! ECB on single blocks (ICVs, key check values), CBC without implicit padding (§B.2.1), and the
//! `'80' '00'…` padding to a multiple of 16 bytes (ISO/IEC 9797-1 method 2, §B.2.3).

use super::keys::{AesKey, KeyBytes};
use super::ScpError;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};

/// AES block size in bytes.
pub const BLOCK: usize = 16;

/// An expanded AES key of any size (zeroized on drop by the `aes` crate's `zeroize` feature).
pub(crate) enum Aes {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl Aes {
    pub(crate) fn new(key: &AesKey) -> Self {
        match &key.0 {
            KeyBytes::K128(k) => Self::A128(Aes128::new(k.into())),
            KeyBytes::K192(k) => Self::A192(Aes192::new(k.into())),
            KeyBytes::K256(k) => Self::A256(Aes256::new(k.into())),
        }
    }

    pub(crate) fn encrypt_block(&self, mut block: [u8; BLOCK]) -> [u8; BLOCK] {
        let b = (&mut block).into();
        match self {
            Self::A128(c) => c.encrypt_block(b),
            Self::A192(c) => c.encrypt_block(b),
            Self::A256(c) => c.encrypt_block(b),
        }
        block
    }

    fn decrypt_block(&self, mut block: [u8; BLOCK]) -> [u8; BLOCK] {
        let b = (&mut block).into();
        match self {
            Self::A128(c) => c.decrypt_block(b),
            Self::A192(c) => c.decrypt_block(b),
            Self::A256(c) => c.decrypt_block(b),
        }
        block
    }
}

/// AES-ECB of one block.
pub fn ecb_encrypt_block(key: &AesKey, block: [u8; BLOCK]) -> [u8; BLOCK] {
    Aes::new(key).encrypt_block(block)
}

fn block_of(chunk: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b.iter_mut().zip(chunk).for_each(|(o, i)| *o = *i);
    b
}

fn check_aligned(data: &[u8]) -> Result<(), ScpError> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(ScpError::NotBlockAligned(data.len()));
    }
    Ok(())
}

/// AES-CBC encryption of block-aligned data (no padding is added here).
pub fn cbc_encrypt(key: &AesKey, iv: &[u8; BLOCK], data: &[u8]) -> Result<Vec<u8>, ScpError> {
    check_aligned(data)?;
    Ok(cbc_encrypt_blocks(key, iv, data))
}

/// Pads `data` with `'80' '00'…` and AES-CBC-encrypts it (always block-aligned, so infallible).
pub fn cbc_encrypt_padded(key: &AesKey, iv: &[u8; BLOCK], data: &[u8]) -> Vec<u8> {
    cbc_encrypt_blocks(key, iv, &pad(data))
}

/// CBC over whole blocks; a trailing partial block is ignored (callers check alignment).
pub(crate) fn cbc_encrypt_blocks(key: &AesKey, iv: &[u8; BLOCK], data: &[u8]) -> Vec<u8> {
    let aes = Aes::new(key);
    let mut prev = *iv;
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks_exact(BLOCK) {
        let mut b = block_of(chunk);
        b.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
        prev = aes.encrypt_block(b);
        out.extend_from_slice(&prev);
    }
    out
}

/// AES-CBC decryption of block-aligned data (padding is left in place).
pub fn cbc_decrypt(key: &AesKey, iv: &[u8; BLOCK], data: &[u8]) -> Result<Vec<u8>, ScpError> {
    check_aligned(data)?;
    let aes = Aes::new(key);
    let mut prev = *iv;
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks_exact(BLOCK) {
        let c = block_of(chunk);
        let mut p = aes.decrypt_block(c);
        p.iter_mut().zip(prev).for_each(|(x, q)| *x ^= q);
        out.extend_from_slice(&p);
        prev = c;
    }
    Ok(out)
}

/// Appends `'80'` and then `'00'` bytes up to the next multiple of 16 (always at least one byte).
pub fn pad(data: &[u8]) -> Vec<u8> {
    let padded = (data.len() / BLOCK + 1) * BLOCK;
    let mut out = Vec::with_capacity(padded);
    out.extend_from_slice(data);
    out.push(0x80);
    out.resize(padded, 0);
    out
}

/// Removes the `'80' '00'…` padding.
///
/// `strict` also requires the padding to fit in the last block, as [`pad`] writes it (what a
/// card checks on commands). Without `strict`, any number of trailing zero blocks is accepted
/// (some cards pad responses past one block, e.g. the Samsung OpenSCP vectors).
pub fn unpad(data: &[u8], strict: bool) -> Result<Vec<u8>, ScpError> {
    let end = data
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(ScpError::BadPadding)?;
    if data.get(end) != Some(&0x80) || (strict && data.len() - end > BLOCK) {
        return Err(ScpError::BadPadding);
    }
    Ok(data[..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::h;
    use proptest::prelude::*;

    // FIPS-197 Appendix C.1 / C.2 / C.3 known answers.
    #[test]
    fn aes_fips197_known_answers() {
        let pt = block_of(&h("00112233445566778899AABBCCDDEEFF"));
        for (key, ct) in [
            (
                "000102030405060708090A0B0C0D0E0F",
                "69C4E0D86A7B0430D8CDB78070B4C55A",
            ),
            (
                "000102030405060708090A0B0C0D0E0F1011121314151617",
                "DDA97CA4864CDFE06EAF70A0EC0D7191",
            ),
            (
                "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                "8EA2B7CA516745BFEAFC49904B496089",
            ),
        ] {
            let k = AesKey::from_bytes(&h(key)).unwrap();
            assert_eq!(ecb_encrypt_block(&k, pt).to_vec(), h(ct));
            assert_eq!(cbc_decrypt(&k, &[0; 16], &h(ct)).unwrap(), pt.to_vec());
        }
    }

    // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first two blocks.
    #[test]
    fn cbc_sp800_38a() {
        let k = AesKey::from_bytes(&h("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
        let iv = block_of(&h("000102030405060708090A0B0C0D0E0F"));
        let pt = h("6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51");
        let ct = h("7649ABAC8119B246CEE98E9B12E9197D5086CB9B507219EE95DB113A917678B2");
        assert_eq!(cbc_encrypt(&k, &iv, &pt).unwrap(), ct);
        assert_eq!(cbc_decrypt(&k, &iv, &ct).unwrap(), pt);
        assert_eq!(
            cbc_encrypt_padded(&k, &iv, &pt[..20]),
            cbc_encrypt(&k, &iv, &pad(&pt[..20])).unwrap()
        );
        assert_eq!(
            cbc_encrypt(&k, &iv, &pt[..20]).unwrap_err(),
            ScpError::NotBlockAligned(20)
        );
        assert_eq!(
            cbc_decrypt(&k, &iv, &[]).unwrap_err(),
            ScpError::NotBlockAligned(0)
        );
    }

    #[test]
    fn padding_rules() {
        assert_eq!(pad(&[]), h("80000000000000000000000000000000"));
        assert_eq!(pad(&[0xAA; 16]).len(), 32);
        assert_eq!(pad(&[0xAA; 15]).len(), 16);
        assert_eq!(unpad(&h("AA800000"), true).unwrap(), h("AA"));
        assert_eq!(unpad(&h("AA0080"), true).unwrap(), h("AA00"));
        assert_eq!(unpad(&h("AA00"), true), Err(ScpError::BadPadding));
        assert_eq!(unpad(&[0; 16], false), Err(ScpError::BadPadding));
        assert_eq!(unpad(&h("AA81"), false), Err(ScpError::BadPadding));
        let mut long = vec![0x11, 0x80];
        long.resize(34, 0);
        assert_eq!(unpad(&long, false).unwrap(), vec![0x11]);
        assert_eq!(unpad(&long, true), Err(ScpError::BadPadding));
    }

    proptest! {
        #[test]
        fn pad_unpad_round_trip(data in prop::collection::vec(any::<u8>(), 0..100)) {
            let p = pad(&data);
            prop_assert_eq!(p.len() % BLOCK, 0);
            prop_assert_eq!(unpad(&p, true).unwrap(), data);
        }

        #[test]
        fn unpad_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = unpad(&data, true);
            let _ = unpad(&data, false);
        }
    }
}
