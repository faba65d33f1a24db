//! The ISD-R's static SCP03 key sets (GlobalPlatform Card Specification v2.3 Amendment D §6.1:
//! Key-ENC, Key-MAC, Key-DEK of one AES length under a Key Version Number): how a new card gets
//! them, and the keystore document that hands them to the `smsr` host tool.
//!
//! A new card draws its keys from the operating system's random number generator; there is no
//! fallback: without OS randomness no card is created. [`test_keyset`] gives the GlobalPlatform
//! test key `40 41 … 4F` for all three keys, **for tests only**: anyone knows it.
//!
//! Keystore document (read by `smsr --keystore FILE`), keys in upper-case hex:
//! ```json
//! {"version":1,"keysets":[{"name":"emulator","eid":"<32 digits>","kvn":48,
//!   "enc":"<32 hex>","mac":"<32 hex>","dek":"<32 hex>"}]}
//! ```
//! The key set INITIALIZE UPDATE P1 `00` picks is named `emulator`; any further ones
//! `emulator-kvn-XX` (KVN in hex).

use crate::eid::eid_to_string;
use smsr_proto::scp03::{ScpMode, ScpOptions, StaticKeys};
use zeroize::Zeroizing;

/// The Key Version Number of a new card's key set (the SCP03 range `30`–`3F` used on UICCs).
pub const DEFAULT_KVN: u8 = 0x30;

/// The GlobalPlatform test key, `40 41 … 4F`. For tests only.
pub const GP_TEST_KEY: [u8; 16] = [
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F,
];

/// The ISD-R's SCP03 options, "i" = `70` (Amendment D Table 5-1): pseudo-random card challenge
/// (b5), R-MAC and R-ENCRYPTION (b7 b6), S8 mode — as on the eUICC the pySim vectors come from,
/// and as SGP.02 CreateISDP asks of ISD-Ps (`C9 04 81 02 03 70`).
pub const DEFAULT_SCP_OPTIONS: ScpOptions = ScpOptions {
    r_mac: true,
    r_enc: true,
    pseudo_random: true,
    mode: ScpMode::S8,
};

/// The OS random number generator failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot generate card keys: the OS random number generator failed ({0})")]
pub struct KeyGenerationError(pub String);

/// A fresh AES-128 key set from the OS random number generator.
pub fn random_keyset(kvn: u8) -> Result<StaticKeys, KeyGenerationError> {
    let mut bytes = Zeroizing::new([0u8; 48]);
    getrandom::getrandom(bytes.as_mut_slice()).map_err(|e| KeyGenerationError(e.to_string()))?;
    StaticKeys::new(kvn, &bytes[..16], &bytes[16..32], &bytes[32..])
        .map_err(|e| KeyGenerationError(e.to_string()))
}

/// The GlobalPlatform test key for Key-ENC, Key-MAC and Key-DEK. For tests only.
#[allow(clippy::expect_used)]
pub fn test_keyset(kvn: u8) -> StaticKeys {
    // A constant 16-byte key: StaticKeys::single only fails on other lengths.
    StaticKeys::single(kvn, &GP_TEST_KEY).expect("16 bytes are an AES-128 key")
}

/// The name of a key set in the keystore document: `emulator` for the first (the one
/// INITIALIZE UPDATE P1 `00` uses), `emulator-kvn-XX` for the others.
pub fn keystore_name(index: usize, kvn: u8) -> String {
    if index == 0 {
        "emulator".to_owned()
    } else {
        format!("emulator-kvn-{kvn:02X}")
    }
}

/// The keystore document for `smsr --keystore` (see the module documentation), one line.
pub fn keystore_json<'a>(
    eid: &[u8; 16],
    keysets: impl IntoIterator<Item = &'a StaticKeys>,
) -> Zeroizing<String> {
    let eid = eid_to_string(eid);
    let mut out = Zeroizing::new(String::from("{\"version\":1,\"keysets\":["));
    for (i, keys) in keysets.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"name\":\"{}\",\"eid\":\"{eid}\",\"kvn\":{},\"enc\":\"{}\",\"mac\":\"{}\",\"dek\":\"{}\"}}",
            keystore_name(i, keys.kvn()),
            keys.kvn(),
            Zeroizing::new(hex::encode_upper(keys.enc().as_bytes())).as_str(),
            Zeroizing::new(hex::encode_upper(keys.mac().as_bytes())).as_str(),
            Zeroizing::new(hex::encode_upper(keys.dek().as_bytes())).as_str(),
        ));
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_differ_and_have_the_kvn() {
        let a = random_keyset(DEFAULT_KVN).unwrap();
        let b = random_keyset(DEFAULT_KVN).unwrap();
        assert_eq!(a.kvn(), 0x30);
        assert_eq!(a.enc().as_bytes().len(), 16);
        assert_ne!(a.enc().as_bytes(), b.enc().as_bytes());
        assert_ne!(a.enc().as_bytes(), a.mac().as_bytes());
        assert_ne!(a.mac().as_bytes(), a.dek().as_bytes());
    }

    #[test]
    fn test_keys_have_the_published_kcv() {
        // KCV of 40..4F over 16 × '01': 504A77 (GP-SCP03.md §1.13, GPPro).
        let k = test_keyset(0x30);
        assert_eq!(k.kcvs(), [[0x50, 0x4A, 0x77]; 3]);
        assert_eq!(DEFAULT_SCP_OPTIONS.to_i(), 0x70);
    }

    #[test]
    fn keystore_document() {
        let eid = [
            0x89, 0x04, 0x40, 0x11, 0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0x44, 0x11, 0x22,
            0x33, 0x21,
        ];
        let second = StaticKeys::new(0x31, &[1; 16], &[2; 16], &[3; 16]).unwrap();
        let json = keystore_json(&eid, [&test_keyset(0x30), &second]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], 1);
        let sets = v["keysets"].as_array().unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0]["name"], "emulator");
        assert_eq!(sets[0]["eid"], "89044011112233441122334411223321");
        assert_eq!(sets[0]["kvn"], 48);
        assert_eq!(sets[0]["enc"], "404142434445464748494A4B4C4D4E4F");
        assert_eq!(sets[0]["mac"], sets[0]["enc"]);
        assert_eq!(sets[1]["name"], "emulator-kvn-31");
        assert_eq!(sets[1]["dek"], "03030303030303030303030303030303");
        assert_eq!(sets[0].as_object().unwrap().len(), 6);
    }
}
