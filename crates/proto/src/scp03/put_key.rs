//! PUT KEY for SCP03 key sets (GPCS v2.3.1 §11.8, Table 11-68 basic key data; Amendment D
//! §6.2.8 sensitive data encryption).
//!
//! Each AES key travels as `'88' ‖ L ‖ key length ‖ AES-CBC(Key-DEK, ICV 0, key [‖ 8 pad
//! bytes]) ‖ '03' ‖ KCV`, with L = 1 + ciphertext length: 16- and 32-byte keys need no padding,
//! 24-byte keys get 8 bytes (zeros here; the card ignores them). The static Key-DEK is used
//! directly: SCP03 has no session DEK. The command data is the new KVN followed by the key data
//! fields of ENC, MAC, DEK (P2 '81': several keys, first Key Identifier 1); the response data
//! is the KVN followed by the three KCVs.

use super::cipher::{cbc_decrypt, cbc_encrypt_blocks};
use super::keys::{AesKey, StaticKeys};
use super::ScpError;
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// INS of PUT KEY.
pub const INS_PUT_KEY: u8 = 0xD8;
/// Key type of AES keys in key data fields.
pub const KEY_TYPE_AES: u8 = 0x88;

/// One key data field for `key`, encrypted with the static Key-DEK.
pub fn encode_key_data(dek: &AesKey, key: &AesKey) -> Vec<u8> {
    let len = key.length().bytes();
    let mut plain = Zeroizing::new(key.as_bytes().to_vec());
    plain.resize(len.div_ceil(16) * 16, 0);
    let ciphertext = cbc_encrypt_blocks(dek, &[0; 16], &plain);
    let mut out = Vec::with_capacity(ciphertext.len() + 7);
    // Lengths are at most 33: the casts below cannot truncate.
    out.extend_from_slice(&[KEY_TYPE_AES, byte(1 + ciphertext.len()), byte(len)]);
    out.extend_from_slice(&ciphertext);
    out.push(0x03);
    out.extend_from_slice(&key.kcv());
    out
}

fn byte(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// The PUT KEY data field: new KVN ‖ ENC ‖ MAC ‖ DEK key data.
pub fn put_key_data(new_keys: &StaticKeys, dek: &AesKey) -> Vec<u8> {
    let mut data = vec![new_keys.kvn()];
    for key in [new_keys.enc(), new_keys.mac(), new_keys.dek()] {
        data.extend_from_slice(&encode_key_data(dek, key));
    }
    data
}

/// `80 D8 P1 81 Lc data 00`: P1 is the KVN to replace, or '00' to add `new_keys` as a new set.
/// `dek` is the static Key-DEK of the key set the session was opened with.
pub fn put_key_command(
    new_keys: &StaticKeys,
    replace_kvn: u8,
    dek: &AesKey,
) -> Result<CommandApdu, ScpError> {
    if replace_kvn > 0x7F || !(0x01..=0x7F).contains(&new_keys.kvn()) {
        return Err(ScpError::BadKeyData("key version: KVNs are '01'-'7F'"));
    }
    Ok(CommandApdu::new(0x80, INS_PUT_KEY, replace_kvn, 0x81)
        .with_data(put_key_data(new_keys, dek))
        .with_le(SHORT_LE_MAX))
}

/// The response data of PUT KEY: KVN ‖ KCV of each key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutKeyResponse {
    pub kvn: u8,
    pub kcvs: Vec<[u8; 3]>,
}

impl PutKeyResponse {
    /// Parses the response to a PUT KEY of `keys` keys.
    pub fn parse(data: &[u8], keys: usize) -> Result<Self, ScpError> {
        let [kvn, rest @ ..] = data else {
            return Err(ScpError::BadKeyData("response is empty"));
        };
        if rest.len() != 3 * keys {
            return Err(ScpError::BadKeyData(
                "response length does not match the keys sent",
            ));
        }
        let kcvs = rest.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Ok(Self { kvn: *kvn, kcvs })
    }

    /// The response for a key set.
    pub fn for_keys(keys: &StaticKeys) -> Self {
        Self {
            kvn: keys.kvn(),
            kcvs: keys.kcvs().to_vec(),
        }
    }

    /// Response data bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.kvn];
        self.kcvs.iter().for_each(|k| out.extend_from_slice(k));
        out
    }

    /// Checks that the card stored `keys`: same KVN, same KCVs.
    pub fn verify(&self, keys: &StaticKeys) -> Result<(), ScpError> {
        if self.kvn != keys.kvn() {
            return Err(ScpError::BadKeyData("response names another key version"));
        }
        if self.kcvs.len() != 3 {
            return Err(ScpError::BadKeyData(
                "response length does not match the keys sent",
            ));
        }
        for (index, (got, want)) in self.kcvs.iter().zip(keys.kcvs()).enumerate() {
            if got != &want {
                return Err(ScpError::KcvMismatch { index });
            }
        }
        Ok(())
    }
}

/// Card side: decrypts the PUT KEY data field of AES keys with the static Key-DEK and checks
/// each key check value. Returns the new KVN and the keys in order.
pub fn decode_put_key_data(dek: &AesKey, data: &[u8]) -> Result<(u8, Vec<AesKey>), ScpError> {
    let [kvn, fields @ ..] = data else {
        return Err(ScpError::BadKeyData("data is empty"));
    };
    let mut rest: &[u8] = fields;
    if !(0x01..=0x7F).contains(kvn) {
        return Err(ScpError::BadKeyData("key version: KVNs are '01'-'7F'"));
    }
    let mut keys = Vec::new();
    while !rest.is_empty() {
        let [key_type, l, tail @ ..] = rest else {
            return Err(ScpError::BadKeyData("key data field is truncated"));
        };
        if *key_type != KEY_TYPE_AES {
            return Err(ScpError::UnsupportedKeyType(*key_type));
        }
        let l = usize::from(*l);
        let Some((field, tail)) = tail.split_at_checked(l) else {
            return Err(ScpError::BadKeyData("key data field is truncated"));
        };
        let [key_len, ciphertext @ ..] = field else {
            return Err(ScpError::BadKeyData("key data field has no key length"));
        };
        let key_len = usize::from(*key_len);
        if ![16, 24, 32].contains(&key_len) || ciphertext.len() != key_len.div_ceil(16) * 16 {
            return Err(ScpError::BadKeyData("key length"));
        }
        let plain = Zeroizing::new(cbc_decrypt(dek, &[0; 16], ciphertext)?);
        let key = AesKey::from_bytes(&plain[..key_len])?;
        let [kcv_len, tail @ ..] = tail else {
            return Err(ScpError::BadKeyData("key check value is missing"));
        };
        let kcv_len = usize::from(*kcv_len);
        let Some((kcv, tail)) = tail.split_at_checked(kcv_len) else {
            return Err(ScpError::BadKeyData("key check value is truncated"));
        };
        match kcv_len {
            0 => {}
            3 => {
                if !bool::from(kcv.ct_eq(&key.kcv())) {
                    return Err(ScpError::KcvMismatch { index: keys.len() });
                }
            }
            _ => return Err(ScpError::BadKeyData("key check value length")),
        }
        keys.push(key);
        rest = tail;
    }
    Ok((*kvn, keys))
}

/// Card side: the new key set of a PUT KEY carrying exactly ENC, MAC and DEK.
pub fn decode_put_key_set(dek: &AesKey, data: &[u8]) -> Result<StaticKeys, ScpError> {
    let (kvn, keys) = decode_put_key_data(dek, data)?;
    match <[AesKey; 3]>::try_from(keys) {
        Ok([enc, mac, dek]) => StaticKeys::from_keys(kvn, enc, mac, dek),
        Err(_) => Err(ScpError::BadKeyData(
            "a key set needs exactly ENC, MAC and DEK",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{h, hex, scp03_vectors};
    use proptest::prelude::*;

    #[test]
    fn derived_put_key_example() {
        let Some(v) = scp03_vectors() else { return };
        let x = &v["scp03_put_key_example_derived"];
        let dek = AesKey::from_bytes(&hex(&x["key_dek"])).unwrap();
        let new = hex(&x["new_key_each_of_enc_mac_dek"]);
        let kvn = hex(&x["new_kvn"])[0];
        let keys = StaticKeys::single(kvn, &new).unwrap();
        let field = encode_key_data(&dek, keys.enc());
        assert_eq!(field, hex(&x["key_data_field_one_key"]));
        assert_eq!(field[3..19].to_vec(), hex(&x["encrypted_key"]));
        assert_eq!(keys.enc().kcv().to_vec(), hex(&x["kcv"]));
        let cmd = put_key_command(&keys, 0x00, &dek).unwrap();
        assert_eq!(
            cmd.to_bytes().unwrap(),
            hex(&x["plain_apdu_add_new_keyset_P1_00_P2_81"])
        );
        let expected = hex(&x["expected_plain_response_data"]);
        let resp = PutKeyResponse::parse(&expected, 3).unwrap();
        resp.verify(&keys).unwrap();
        assert_eq!(PutKeyResponse::for_keys(&keys).to_bytes(), expected);
        // Card side.
        let decoded = decode_put_key_set(&dek, &cmd.data).unwrap();
        assert_eq!(decoded.kvn(), kvn);
        assert_eq!(decoded.mac().as_bytes(), &new[..]);

        let x = &x["aes256_example"];
        let dek = AesKey::from_bytes(&hex(&x["key_dek"])).unwrap();
        let key = AesKey::from_bytes(&hex(&x["new_key"])).unwrap();
        let field = encode_key_data(&dek, &key);
        assert_eq!(field, hex(&x["key_data_field"]));
        assert_eq!(field[3..35].to_vec(), hex(&x["encrypted"]));
        assert_eq!(key.kcv().to_vec(), hex(&x["kcv"]));
    }

    #[test]
    fn aes192_pads_to_two_blocks() {
        let dek = AesKey::from_bytes(&[0x20; 24]).unwrap();
        let keys = StaticKeys::new(0x31, &[1; 24], &[2; 24], &[3; 24]).unwrap();
        let field = encode_key_data(&dek, keys.enc());
        assert_eq!(&field[..3], &h("882118"));
        assert_eq!(field.len(), 3 + 32 + 4);
        let data = put_key_data(&keys, &dek);
        let decoded = decode_put_key_set(&dek, &data).unwrap();
        assert_eq!(decoded.kcvs(), keys.kcvs());
        assert_eq!(decoded.dek().as_bytes(), &[3; 24]);
    }

    #[test]
    fn card_side_rejections() {
        let dek = AesKey::from_bytes(&[0x20; 16]).unwrap();
        let keys = StaticKeys::single(0x31, &[0x40; 16]).unwrap();
        let good = put_key_data(&keys, &dek);
        // Wrong DEK: the KCV of the first key no longer matches.
        let other = AesKey::from_bytes(&[0x21; 16]).unwrap();
        assert_eq!(
            decode_put_key_data(&other, &good).unwrap_err(),
            ScpError::KcvMismatch { index: 0 }
        );
        let mut bad_kcv = good.clone();
        let last = bad_kcv.len() - 1;
        bad_kcv[last] ^= 1;
        assert_eq!(
            decode_put_key_data(&dek, &bad_kcv).unwrap_err(),
            ScpError::KcvMismatch { index: 2 }
        );
        let mut des = good.clone();
        des[1] = 0x80;
        assert_eq!(
            decode_put_key_data(&dek, &des).unwrap_err(),
            ScpError::UnsupportedKeyType(0x80)
        );
        assert!(decode_put_key_data(&dek, &good[..good.len() - 2]).is_err());
        assert!(decode_put_key_set(&dek, &good[..1 + 23]).is_err());
        assert!(decode_put_key_data(&dek, &[0x00]).is_err());
        assert!(put_key_command(&keys.clone().with_kvn(0x80), 0, &dek).is_err());
        let default = StaticKeys::single(0x31, &h("404142434445464748494A4B4C4D4E4F")).unwrap();
        let resp = PutKeyResponse::parse(&h("31504A77504A77504A78"), 3).unwrap();
        assert_eq!(
            resp.verify(&default),
            Err(ScpError::KcvMismatch { index: 2 })
        );
        let resp = PutKeyResponse::parse(&h("32504A77504A77504A77"), 3).unwrap();
        assert!(resp.verify(&default).is_err());
        assert!(PutKeyResponse::parse(&h("31504A77"), 3).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..120)) {
            let dek = AesKey::from_bytes(&[0x20; 16]).unwrap();
            let _ = decode_put_key_data(&dek, &data);
        }
    }
}
