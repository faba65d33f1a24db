//! TLS 1.2 record protection for the PSK suites: the PRF (RFC 5246 §5), the key block
//! (§6.3), AEAD records (§6.2.3.3, RFC 5288 §3 for AES-GCM's nonce), CBC records
//! MAC-then-encrypt (§6.2.3.2) or encrypt-then-MAC (RFC 7366 §3), NULL records (§6.2.3.1),
//! and Finished's verify_data (§7.4.9). Suites: RFC 4279 (`_SHA`), RFC 5487 (`_SHA256`,
//! `_SHA384`, `NULL`), RFC 5487 §3.1 (AES-GCM).
//!
//! Primitives come from OpenSSL (`openssl::symm`, HMAC through `openssl::sign`); the record
//! layout, nonces, MAC inputs and padding checks are ours, so the pair test against OpenSSL's
//! own TLS checks this code, not OpenSSL against itself.

use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{self, Cipher, Crypter, Mode};
use zeroize::Zeroizing;

/// The hash of a MAC or of the PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    fn md(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
        }
    }

    pub fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// The bulk cipher, with its key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bulk {
    Null,
    Cbc(usize),
    Gcm(usize),
}

/// A cipher suite this decoder reads.
#[derive(Debug)]
pub(super) struct Suite {
    pub id: u16,
    /// OpenSSL's name, as in `smsr_proto::scp81::TLS_CIPHERS`.
    pub name: &'static str,
    pub bulk: Bulk,
    /// The record MAC; `None` for AEAD.
    pub mac: Option<Hash>,
    pub prf: Hash,
}

/// The PSK suites read: SCP81's three, their AES-256 siblings, and the NULL suites of the
/// debug switch (plaintext HTTP in BIP traces).
pub(super) const SUITES: [Suite; 9] = [
    suite(
        0x00A8,
        "PSK-AES128-GCM-SHA256",
        Bulk::Gcm(16),
        None,
        Hash::Sha256,
    ),
    suite(
        0x00A9,
        "PSK-AES256-GCM-SHA384",
        Bulk::Gcm(32),
        None,
        Hash::Sha384,
    ),
    suite(
        0x00AE,
        "PSK-AES128-CBC-SHA256",
        Bulk::Cbc(16),
        Some(Hash::Sha256),
        Hash::Sha256,
    ),
    suite(
        0x00AF,
        "PSK-AES256-CBC-SHA384",
        Bulk::Cbc(32),
        Some(Hash::Sha384),
        Hash::Sha384,
    ),
    suite(
        0x008C,
        "PSK-AES128-CBC-SHA",
        Bulk::Cbc(16),
        Some(Hash::Sha1),
        Hash::Sha256,
    ),
    suite(
        0x008D,
        "PSK-AES256-CBC-SHA",
        Bulk::Cbc(32),
        Some(Hash::Sha1),
        Hash::Sha256,
    ),
    suite(
        0x00B0,
        "PSK-NULL-SHA256",
        Bulk::Null,
        Some(Hash::Sha256),
        Hash::Sha256,
    ),
    suite(
        0x00B1,
        "PSK-NULL-SHA384",
        Bulk::Null,
        Some(Hash::Sha384),
        Hash::Sha384,
    ),
    suite(
        0x002C,
        "PSK-NULL-SHA",
        Bulk::Null,
        Some(Hash::Sha1),
        Hash::Sha256,
    ),
];

const fn suite(id: u16, name: &'static str, bulk: Bulk, mac: Option<Hash>, prf: Hash) -> Suite {
    Suite {
        id,
        name,
        bulk,
        mac,
        prf,
    }
}

pub(super) fn find_suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// GCM: 4-byte implicit salt, 8-byte explicit nonce, 16-byte tag (RFC 5288 §3).
const GCM_FIXED_IV: usize = 4;
const GCM_EXPLICIT: usize = 8;
const GCM_TAG: usize = 16;
const AES_BLOCK: usize = 16;

fn ossl(e: openssl::error::ErrorStack) -> String {
    format!("OpenSSL: {e}")
}

fn hmac(hash: Hash, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, String> {
    let key = PKey::hmac(key).map_err(ossl)?;
    let mut signer = Signer::new(hash.md(), &key).map_err(ossl)?;
    for part in parts {
        signer.update(part).map_err(ossl)?;
    }
    signer.sign_to_vec().map(Zeroizing::new).map_err(ossl)
}

/// Equal lengths and equal bytes, in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// PRF(secret, label, seed) = P_hash(secret, label ‖ seed), truncated to `len`.
pub(super) fn prf(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut out = Zeroizing::new(Vec::with_capacity(len.saturating_add(hash.len())));
    let mut a = hmac(hash, secret, &[label, seed])?;
    while out.len() < len {
        out.extend_from_slice(&hmac(hash, secret, &[&a, label, seed])?);
        a = hmac(hash, secret, &[&a])?;
    }
    out.truncate(len);
    Ok(out)
}

/// Hash(parts joined): the handshake hash of Finished (RFC 5246 §7.4.9) and of the extended
/// master secret's session hash (RFC 7627 §3).
pub(super) fn digest(hash: Hash, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut h = Hasher::new(hash.md()).map_err(ossl)?;
    for part in parts {
        h.update(part).map_err(ossl)?;
    }
    Ok(h.finish().map_err(ossl)?.to_vec())
}

/// Finished's verify_data: PRF(master_secret, label, Hash(handshake_messages))[0..12].
pub(super) fn verify_data(
    hash: Hash,
    master: &[u8],
    label: &[u8],
    transcript: &[&[u8]],
) -> Result<Zeroizing<Vec<u8>>, String> {
    prf(hash, master, label, &digest(hash, transcript)?, 12)
}

/// One direction's write keys.
pub(super) struct Keys {
    mac: Zeroizing<Vec<u8>>,
    key: Zeroizing<Vec<u8>>,
    iv: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(REDACTED)")
    }
}

/// The key block (RFC 5246 §6.3), cut into the client's and the server's write keys.
pub(super) fn key_block(
    suite: &Suite,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<(Keys, Keys), String> {
    let mac_len = suite.mac.map_or(0, Hash::len);
    let (key_len, iv_len) = match suite.bulk {
        Bulk::Null => (0, 0),
        Bulk::Cbc(k) => (k, 0),
        Bulk::Gcm(k) => (k, GCM_FIXED_IV),
    };
    let seed = [server_random.as_slice(), client_random.as_slice()].concat();
    let block = prf(
        suite.prf,
        master,
        b"key expansion",
        &seed,
        2 * (mac_len + key_len + iv_len),
    )?;
    let mut at = 0usize;
    let mut cut = |n: usize| -> Result<Zeroizing<Vec<u8>>, String> {
        let part = block
            .get(at..at + n)
            .ok_or_else(|| "key block too short".to_owned())?;
        at += n;
        Ok(Zeroizing::new(part.to_vec()))
    };
    let (client_mac, server_mac) = (cut(mac_len)?, cut(mac_len)?);
    let (client_key, server_key) = (cut(key_len)?, cut(key_len)?);
    let (client_iv, server_iv) = (cut(iv_len)?, cut(iv_len)?);
    Ok((
        Keys {
            mac: client_mac,
            key: client_key,
            iv: client_iv,
        },
        Keys {
            mac: server_mac,
            key: server_key,
            iv: server_iv,
        },
    ))
}

/// One direction's read state: keys and sequence number (RFC 5246 §6.1).
#[derive(Debug)]
pub(super) struct RecordCipher {
    suite: &'static Suite,
    keys: Keys,
    encrypt_then_mac: bool,
    seq: u64,
}

impl RecordCipher {
    pub fn new(suite: &'static Suite, keys: Keys, encrypt_then_mac: bool) -> Self {
        Self {
            suite,
            keys,
            encrypt_then_mac,
            seq: 0,
        }
    }

    /// Decrypts and authenticates the next record of this direction.
    pub fn open(
        &mut self,
        content_type: u8,
        version: [u8; 2],
        fragment: &[u8],
    ) -> Result<Vec<u8>, String> {
        let seq = self.seq.to_be_bytes();
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or_else(|| "sequence number wraps".to_owned())?;
        let header = Header {
            seq,
            content_type,
            version,
        };
        let plaintext = match (self.suite.bulk, self.suite.mac) {
            (Bulk::Gcm(_), _) => self.open_gcm(&header, fragment)?,
            (Bulk::Cbc(_), Some(mac)) if self.encrypt_then_mac => {
                self.open_cbc_etm(mac, &header, fragment)?
            }
            (Bulk::Cbc(_), Some(mac)) => self.open_cbc(mac, &header, fragment)?,
            (Bulk::Null, Some(mac)) => {
                let split = fragment.len().checked_sub(mac.len()).ok_or_else(|| {
                    format!("record of {} bytes is shorter than its MAC", fragment.len())
                })?;
                let (content, tag) = fragment.split_at(split);
                self.check_mac(mac, &header, content, tag)?;
                content.to_vec()
            }
            (_, None) => return Err("suite without a MAC or an AEAD".into()),
        };
        if plaintext.len() > super::record::MAX_PLAINTEXT {
            return Err(format!(
                "plaintext of {} bytes exceeds 2^14 (record_overflow)",
                plaintext.len()
            ));
        }
        Ok(plaintext)
    }

    fn open_gcm(&self, header: &Header, fragment: &[u8]) -> Result<Vec<u8>, String> {
        let short = || {
            format!(
                "GCM record of {} bytes is shorter than its explicit nonce and tag ({})",
                fragment.len(),
                GCM_EXPLICIT + GCM_TAG
            )
        };
        let (explicit, rest) = fragment.split_at_checked(GCM_EXPLICIT).ok_or_else(short)?;
        let split = rest.len().checked_sub(GCM_TAG).ok_or_else(short)?;
        let (ciphertext, tag) = rest.split_at(split);
        let nonce = [self.keys.iv.as_slice(), explicit].concat();
        let cipher = match self.keys.key.len() {
            16 => Cipher::aes_128_gcm(),
            _ => Cipher::aes_256_gcm(),
        };
        let aad = header.bytes(ciphertext.len())?;
        symm::decrypt_aead(cipher, &self.keys.key, Some(&nonce), &aad, ciphertext, tag).map_err(
            |_| "GCM tag does not verify: record altered, or not this master secret".to_owned(),
        )
    }

    /// MAC-then-encrypt: IV ‖ E(content ‖ MAC ‖ padding ‖ padding_length).
    fn open_cbc(&self, mac: Hash, header: &Header, fragment: &[u8]) -> Result<Vec<u8>, String> {
        let (iv, ciphertext) = split_iv(fragment)?;
        let plain = self.cbc_decrypt(iv, ciphertext)?;
        let unpadded = unpad(&plain)?;
        let split = unpadded.len().checked_sub(mac.len()).ok_or_else(|| {
            format!(
                "CBC record: {} bytes after padding, fewer than the MAC",
                unpadded.len()
            )
        })?;
        let (content, tag) = unpadded.split_at(split);
        self.check_mac(mac, header, content, tag)?;
        Ok(content.to_vec())
    }

    /// Encrypt-then-MAC (RFC 7366): IV ‖ E(content ‖ padding ‖ padding_length) ‖ MAC, the MAC
    /// over the header with the length of IV ‖ ciphertext.
    fn open_cbc_etm(&self, mac: Hash, header: &Header, fragment: &[u8]) -> Result<Vec<u8>, String> {
        let split = fragment.len().checked_sub(mac.len()).ok_or_else(|| {
            format!(
                "CBC record of {} bytes is shorter than its MAC",
                fragment.len()
            )
        })?;
        let (protected, tag) = fragment.split_at(split);
        self.check_mac(mac, header, protected, tag)?;
        let (iv, ciphertext) = split_iv(protected)?;
        let plain = self.cbc_decrypt(iv, ciphertext)?;
        Ok(unpad(&plain)?.to_vec())
    }

    fn check_mac(
        &self,
        mac: Hash,
        header: &Header,
        covered: &[u8],
        tag: &[u8],
    ) -> Result<(), String> {
        let expected = hmac(
            mac,
            &self.keys.mac,
            &[&header.bytes(covered.len())?, covered],
        )?;
        if same(&expected, tag) {
            Ok(())
        } else {
            Err("record MAC does not verify: record altered, or not this master secret".into())
        }
    }

    fn cbc_decrypt(&self, iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        let cipher = match self.keys.key.len() {
            16 => Cipher::aes_128_cbc(),
            _ => Cipher::aes_256_cbc(),
        };
        let mut c = Crypter::new(cipher, Mode::Decrypt, &self.keys.key, Some(iv)).map_err(ossl)?;
        c.pad(false);
        let mut out = Zeroizing::new(vec![0u8; ciphertext.len() + AES_BLOCK]);
        let n = c.update(ciphertext, &mut out).map_err(ossl)?;
        let m = c
            .finalize(out.get_mut(n..).unwrap_or_default())
            .map_err(ossl)?;
        out.truncate(n.saturating_add(m));
        Ok(out)
    }
}

/// The record header as MAC and AEAD input: seq_num ‖ type ‖ version ‖ length.
struct Header {
    seq: [u8; 8],
    content_type: u8,
    version: [u8; 2],
}

impl Header {
    fn bytes(&self, length: usize) -> Result<[u8; 13], String> {
        let length = u16::try_from(length)
            .map_err(|_| format!("length {length} does not fit a record"))?
            .to_be_bytes();
        let [s0, s1, s2, s3, s4, s5, s6, s7] = self.seq;
        let [v0, v1] = self.version;
        let [l0, l1] = length;
        Ok([
            s0,
            s1,
            s2,
            s3,
            s4,
            s5,
            s6,
            s7,
            self.content_type,
            v0,
            v1,
            l0,
            l1,
        ])
    }
}

/// Splits the explicit IV off a CBC fragment; the rest must be whole blocks, at least one.
fn split_iv(fragment: &[u8]) -> Result<(&[u8], &[u8]), String> {
    match fragment.split_at_checked(AES_BLOCK) {
        Some((iv, ciphertext)) if !ciphertext.is_empty() && ciphertext.len() % AES_BLOCK == 0 => {
            Ok((iv, ciphertext))
        }
        _ => Err(format!(
            "CBC record of {} bytes is not an IV and whole AES blocks",
            fragment.len()
        )),
    }
}

/// Removes TLS CBC padding: `padding_length + 1` bytes, each equal to `padding_length`.
fn unpad(plain: &[u8]) -> Result<&[u8], String> {
    let Some((&pad, _)) = plain.split_last() else {
        return Err("CBC record decrypts to nothing".into());
    };
    let keep = plain
        .len()
        .checked_sub(usize::from(pad) + 1)
        .ok_or_else(|| format!("CBC padding length {pad} exceeds the record"))?;
    let (content, padding) = plain.split_at(keep);
    if padding.iter().all(|&b| b == pad) {
        Ok(content)
    } else {
        Err("CBC padding bytes are wrong: record altered, or not this master secret".into())
    }
}
