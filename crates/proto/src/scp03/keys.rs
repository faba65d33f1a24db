//! SCP03 keys: the static key set (Key-ENC, Key-MAC, Key-DEK, Amendment D §6.1 Table 6-1), the
//! session keys S-ENC, S-MAC, S-RMAC (§6.2.1 Table 6-2) and AES key check values (GPCS v2.3.1
//! §B.2.4 / Amendment D v1.1.1 §7.2.2: first three bytes of AES-ECB(key, 16 × '01')).
//!
//! Key material lives only in [`AesKey`], which zeroizes on drop and never prints its bytes.

use super::cipher::Aes;
use super::kdf::{kdf, DerivationConstant};
use super::ScpError;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// AES key size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyLength {
    Aes128,
    Aes192,
    Aes256,
}

impl KeyLength {
    /// Key length in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    /// Key length in bits (the KDF's "L" for session keys).
    pub fn bits(self) -> u16 {
        match self {
            Self::Aes128 => 128,
            Self::Aes192 => 192,
            Self::Aes256 => 256,
        }
    }

    /// The length for a number of bytes, if AES has it.
    pub fn from_bytes(n: usize) -> Result<Self, ScpError> {
        match n {
            16 => Ok(Self::Aes128),
            24 => Ok(Self::Aes192),
            32 => Ok(Self::Aes256),
            _ => Err(ScpError::BadKeyLength(n)),
        }
    }
}

impl fmt::Display for KeyLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AES-{}", self.bits())
    }
}

#[derive(Clone)]
pub(crate) enum KeyBytes {
    K128([u8; 16]),
    K192([u8; 24]),
    K256([u8; 32]),
}

/// An AES-128/192/256 key. Zeroized on drop; `Debug` shows only its size.
#[derive(Clone)]
pub struct AesKey(pub(crate) KeyBytes);

impl AesKey {
    /// A key from 16, 24 or 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ScpError> {
        let k = match bytes.len() {
            16 => KeyBytes::K128(array(bytes)),
            24 => KeyBytes::K192(array(bytes)),
            32 => KeyBytes::K256(array(bytes)),
            n => return Err(ScpError::BadKeyLength(n)),
        };
        Ok(Self(k))
    }

    /// The key bytes. Handle with care: this is the secret.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            KeyBytes::K128(k) => k,
            KeyBytes::K192(k) => k,
            KeyBytes::K256(k) => k,
        }
    }

    /// The key size.
    pub fn length(&self) -> KeyLength {
        match self.0 {
            KeyBytes::K128(_) => KeyLength::Aes128,
            KeyBytes::K192(_) => KeyLength::Aes192,
            KeyBytes::K256(_) => KeyLength::Aes256,
        }
    }

    /// The AES key check value: first 3 bytes of AES-ECB(key, 16 × '01') (GPCS §B.2.4).
    pub fn kcv(&self) -> [u8; 3] {
        self.kcv_over(0x01)
    }

    /// The variant over 16 × '00' that some vendors use (GlobalPlatformPro `kcv_aes0`).
    pub fn kcv_fill00(&self) -> [u8; 3] {
        self.kcv_over(0x00)
    }

    fn kcv_over(&self, fill: u8) -> [u8; 3] {
        let block = Aes::new(self).encrypt_block([fill; 16]);
        [block[0], block[1], block[2]]
    }
}

/// Copies a slice already known to have length `N`.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.iter_mut().zip(bytes).for_each(|(o, b)| *o = *b);
    out
}

impl Drop for AesKey {
    fn drop(&mut self) {
        match &mut self.0 {
            KeyBytes::K128(k) => k.zeroize(),
            KeyBytes::K192(k) => k.zeroize(),
            KeyBytes::K256(k) => k.zeroize(),
        }
    }
}

impl ZeroizeOnDrop for AesKey {}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AesKey({}, REDACTED)", self.length())
    }
}

/// A static SCP03 key set: Key-ENC, Key-MAC and Key-DEK of one length, with its Key Version
/// Number (Amendment D §6.1: "at least one complete key set … having the same length").
#[derive(Clone, Debug)]
pub struct StaticKeys {
    kvn: u8,
    enc: AesKey,
    mac: AesKey,
    dek: AesKey,
}

impl StaticKeys {
    /// A key set from raw bytes; all three keys must have the same AES length.
    pub fn new(kvn: u8, enc: &[u8], mac: &[u8], dek: &[u8]) -> Result<Self, ScpError> {
        Self::from_keys(
            kvn,
            AesKey::from_bytes(enc)?,
            AesKey::from_bytes(mac)?,
            AesKey::from_bytes(dek)?,
        )
    }

    /// A key set from keys; all three must have the same length.
    pub fn from_keys(kvn: u8, enc: AesKey, mac: AesKey, dek: AesKey) -> Result<Self, ScpError> {
        if enc.length() != mac.length() || mac.length() != dek.length() {
            return Err(ScpError::KeyLengthMismatch {
                enc: enc.length().bytes(),
                mac: mac.length().bytes(),
                dek: dek.length().bytes(),
            });
        }
        Ok(Self { kvn, enc, mac, dek })
    }

    /// The same key for ENC, MAC and DEK (e.g. the GP default test key 40..4F).
    pub fn single(kvn: u8, key: &[u8]) -> Result<Self, ScpError> {
        Self::new(kvn, key, key, key)
    }

    /// Key Version Number.
    pub fn kvn(&self) -> u8 {
        self.kvn
    }

    /// The same keys under another Key Version Number.
    #[must_use]
    pub fn with_kvn(mut self, kvn: u8) -> Self {
        self.kvn = kvn;
        self
    }

    /// Key-ENC.
    pub fn enc(&self) -> &AesKey {
        &self.enc
    }

    /// Key-MAC.
    pub fn mac(&self) -> &AesKey {
        &self.mac
    }

    /// Key-DEK (used directly for sensitive data: SCP03 has no session DEK).
    pub fn dek(&self) -> &AesKey {
        &self.dek
    }

    /// The key length shared by the three keys.
    pub fn length(&self) -> KeyLength {
        self.enc.length()
    }

    /// KCVs of ENC, MAC, DEK in that order.
    pub fn kcvs(&self) -> [[u8; 3]; 3] {
        [self.enc.kcv(), self.mac.kcv(), self.dek.kcv()]
    }
}

/// Session keys of one secure channel session (Amendment D §6.2.1).
#[derive(Clone, Debug)]
pub struct SessionKeys {
    /// S-ENC: command and response encryption.
    pub s_enc: AesKey,
    /// S-MAC: C-MAC and the authentication cryptograms.
    pub s_mac: AesKey,
    /// S-RMAC: R-MAC.
    pub s_rmac: AesKey,
}

impl SessionKeys {
    /// Derives S-ENC (DC '04' from Key-ENC), S-MAC ('06' from Key-MAC) and S-RMAC ('07' from
    /// Key-MAC), each as long as its static key, with context = host challenge ‖ card challenge.
    pub fn derive(keys: &StaticKeys, host_challenge: &[u8], card_challenge: &[u8]) -> Self {
        let mut context = Vec::with_capacity(host_challenge.len() + card_challenge.len());
        context.extend_from_slice(host_challenge);
        context.extend_from_slice(card_challenge);
        let s_enc = session_key(keys.enc(), DerivationConstant::SEnc, &context);
        let s_mac = session_key(keys.mac(), DerivationConstant::SMac, &context);
        let s_rmac = session_key(keys.mac(), DerivationConstant::SRmac, &context);
        context.zeroize();
        Self {
            s_enc,
            s_mac,
            s_rmac,
        }
    }
}

/// Derives one session key with L = the base key's length.
pub(crate) fn session_key(base: &AesKey, dc: DerivationConstant, context: &[u8]) -> AesKey {
    let length = base.length();
    let bytes = kdf(base, dc, length.into(), context);
    key_of_length(&bytes, length)
}

/// Builds a key from KDF output that has exactly `length` bytes.
pub(crate) fn key_of_length(bytes: &[u8], length: KeyLength) -> AesKey {
    match length {
        KeyLength::Aes128 => AesKey(KeyBytes::K128(array(bytes))),
        KeyLength::Aes192 => AesKey(KeyBytes::K192(array(bytes))),
        KeyLength::Aes256 => AesKey(KeyBytes::K256(array(bytes))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{h, hex, scp03_vectors};

    #[test]
    fn kcv_vectors_both_fills() {
        let Some(v) = scp03_vectors() else { return };
        let cases = v["kcv_aes"]["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let key = AesKey::from_bytes(&hex(&c["key"])).unwrap();
            assert_eq!(key.kcv().to_vec(), hex(&c["kcv"]), "{}", c["source"]);
            assert_eq!(key.kcv_fill00().to_vec(), hex(&c["kcv_fill00"]));
        }
    }

    #[test]
    fn session_keys_single_vectors() {
        let Some(v) = scp03_vectors() else { return };
        let mut seen = 0;
        for c in v["scp03_kdf_single_vectors"].as_array().unwrap() {
            if c.get("static_key").is_none() {
                continue;
            }
            let keys = StaticKeys::single(0, &hex(&c["static_key"])).unwrap();
            let ctx = hex(&c["context"]);
            // The context is host ‖ card; the split point does not matter to the KDF.
            let s = SessionKeys::derive(&keys, &ctx[..4], &ctx[4..]);
            assert_eq!(s.s_enc.as_bytes(), hex(&c["S-ENC"]), "{}", c["label"]);
            assert_eq!(s.s_mac.as_bytes(), hex(&c["S-MAC"]));
            assert_eq!(s.s_rmac.as_bytes(), hex(&c["S-RMAC"]));
            if let Some(kcv) = c.get("S-ENC_kcv") {
                assert_eq!(s.s_enc.kcv().to_vec(), hex(kcv));
                assert_eq!(s.s_mac.kcv().to_vec(), hex(&c["S-MAC_kcv"]));
                assert_eq!(s.s_rmac.kcv().to_vec(), hex(&c["S-RMAC_kcv"]));
                assert_eq!(keys.dek().kcv().to_vec(), hex(&c["DEK_static_kcv"]));
            }
            seen += 1;
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn session_key_lengths_follow_static_keys() {
        for len in [16usize, 24, 32] {
            let keys = StaticKeys::single(0x30, &vec![0x42; len]).unwrap();
            let s = SessionKeys::derive(&keys, &[1; 8], &[2; 8]);
            assert_eq!(s.s_enc.as_bytes().len(), len);
            assert_eq!(s.s_mac.as_bytes().len(), len);
            assert_eq!(s.s_rmac.as_bytes().len(), len);
            assert_ne!(s.s_mac.as_bytes(), s.s_rmac.as_bytes());
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(
            AesKey::from_bytes(&[0; 15]).unwrap_err(),
            ScpError::BadKeyLength(15)
        );
        assert_eq!(
            StaticKeys::new(1, &[0; 16], &[0; 24], &[0; 16]).unwrap_err(),
            ScpError::KeyLengthMismatch {
                enc: 16,
                mac: 24,
                dek: 16
            }
        );
    }

    #[test]
    fn debug_is_redacted() {
        let keys = StaticKeys::single(0x30, &h("404142434445464748494A4B4C4D4E4F")).unwrap();
        let text = format!("{keys:?}");
        assert!(text.contains("REDACTED"));
        assert!(!text.to_ascii_uppercase().contains("404142"));
        assert!(!text.contains("64, 65"));
    }
}
