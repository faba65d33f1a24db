//! Card key diversification from master keys, applied by the host after INITIALIZE UPDATE with
//! the card's key diversification data (KDD, Amendment D §7.1.1.6) and before the card
//! cryptogram is checked.
//!
//! - [`Diversification::None`]: the static keys are the card's keys.
//! - [`Diversification::Kdf3`]: the "kdf3" template of GlobalPlatformPro (facts from
//!   martinpaljak/GlobalPlatformPro `keys/PlaintextKeys.java`, vectors in its
//!   `TestPlaintextKeys`): the SP 800-108 counter-mode KDF with AES-CMAC, the counter first,
//!   then `00 00 00 ‖ key type ‖ 00 ‖ KDD (10 bytes)`, output as long as the master key; key
//!   types '01' ENC, '02' MAC, '03' DEK.
//!
//! The EMV CPS and VISA2 templates build a 16-byte block from the KDD and encrypt it with
//! 3DES-ECB under the master key: they are defined for DES keys (SCP01/SCP02) only and have no
//! AES form (GlobalPlatformPro rejects them for SCP03 for lack of a counter position), so they
//! are not offered here.

use super::kdf::kdf_counter_middle;
use super::keys::{key_of_length, AesKey, StaticKeys};
use super::ScpError;
use std::fmt;
use std::str::FromStr;

/// How the host turns its (master) keys into the card's static keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Diversification {
    /// No diversification.
    #[default]
    None,
    /// GlobalPlatformPro "kdf3".
    Kdf3,
}

/// KDF3 key types.
const ENC: u8 = 0x01;
const MAC: u8 = 0x02;
const DEK: u8 = 0x03;

impl Diversification {
    /// The card's key set for the KDD it returned; the KVN is kept.
    pub fn apply(self, master: &StaticKeys, kdd: &[u8; 10]) -> StaticKeys {
        match self {
            Self::None => master.clone(),
            Self::Kdf3 => {
                let enc = kdf3(master.enc(), ENC, kdd);
                let mac = kdf3(master.mac(), MAC, kdd);
                let dek = kdf3(master.dek(), DEK, kdd);
                // Same lengths as the (valid) master set, so this cannot fail.
                StaticKeys::from_keys(master.kvn(), enc, mac, dek)
                    .unwrap_or_else(|_| master.clone())
            }
        }
    }
}

/// One KDF3-diversified key: first len(master) bytes of
/// CMAC(master, i ‖ 00 00 00 ‖ key type ‖ 00 ‖ KDD) for i = 01, 02.
pub fn kdf3(master: &AesKey, key_type: u8, kdd: &[u8; 10]) -> AesKey {
    let mut after = vec![0x00, 0x00, 0x00, key_type, 0x00];
    after.extend_from_slice(kdd);
    let length = master.length();
    match kdf_counter_middle(master, &[], &after, length.bytes()) {
        Ok(bytes) => key_of_length(&bytes, length),
        // Two blocks at most: the counter cannot overflow.
        Err(_) => master.clone(),
    }
}

impl FromStr for Diversification {
    type Err = ScpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "kdf3" => Ok(Self::Kdf3),
            "emv" | "visa2" | "visa" => Err(ScpError::UnsupportedDiversification(format!(
                "'{s}' diversification is defined for 3DES keys (SCP01/SCP02) only, not for SCP03 AES keys"
            ))),
            _ => Err(ScpError::UnsupportedDiversification(format!(
                "unknown diversification '{s}' (known: none, kdf3)"
            ))),
        }
    }
}

impl fmt::Display for Diversification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Kdf3 => "kdf3",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{hex, scp03_vectors};

    #[test]
    fn gppro_kdf3_vectors() {
        let Some(v) = scp03_vectors() else { return };
        let cases = v["gppro_kdf3_key_diversification"]["cases"]
            .as_array()
            .unwrap();
        assert_eq!(cases.len(), 4);
        let mut kcv_cases = 0;
        for c in cases {
            let master = StaticKeys::single(0x01, &hex(&c["master"])).unwrap();
            let kdd: [u8; 10] = hex(&c["kdd"]).try_into().unwrap();
            let card = Diversification::Kdf3.apply(&master, &kdd);
            assert_eq!(card.kvn(), 0x01);
            assert_eq!(card.length(), master.length());
            if let Some(kcvs) = c.get("kcv_enc_mac_dek") {
                let want: Vec<Vec<u8>> = kcvs.as_array().unwrap().iter().map(hex).collect();
                let got: Vec<Vec<u8>> = card.kcvs().iter().map(|k| k.to_vec()).collect();
                assert_eq!(got, want, "master {}", c["master"]);
                kcv_cases += 1;
            }
            if let Some(enc) = c.get("derived_enc") {
                assert_eq!(card.enc().as_bytes(), hex(enc));
            }
        }
        assert_eq!(kcv_cases, 3);
    }

    #[test]
    fn none_keeps_keys_and_names_parse() {
        let master = StaticKeys::single(0x30, &[0x40; 24]).unwrap();
        let same = Diversification::None.apply(&master, &[0; 10]);
        assert_eq!(same.enc().as_bytes(), master.enc().as_bytes());
        assert_eq!(
            "KDF3".parse::<Diversification>().unwrap(),
            Diversification::Kdf3
        );
        assert_eq!(
            "none".parse::<Diversification>().unwrap(),
            Diversification::None
        );
        for name in ["emv", "visa2", "foo"] {
            assert!(matches!(
                name.parse::<Diversification>(),
                Err(ScpError::UnsupportedDiversification(_))
            ));
        }
        // Different KDDs give different card keys.
        let a = Diversification::Kdf3.apply(&master, &[0; 10]);
        let b = Diversification::Kdf3.apply(&master, &[1; 10]);
        assert_ne!(a.mac().as_bytes(), b.mac().as_bytes());
        assert_ne!(a.enc().as_bytes(), a.mac().as_bytes());
    }
}
