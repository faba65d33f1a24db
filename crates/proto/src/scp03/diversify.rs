//! Card key diversification from master keys, applied by the host after INITIALIZE UPDATE with
//! the card's key diversification data (KDD, the first 10 bytes of the response, Amendment D
//! §7.1.1.6) and before the card cryptogram is checked.
//!
//! - [`Diversification::None`]: the static keys are the card's keys.
//! - [`Diversification::Emv`]: EMV CPS v1.1 §4.1 ("EMV CPG" in GlobalPlatform tools). Each card
//!   key is 3DES-ECB(master, `KDD[4..10] ‖ 'F0' ‖ t ‖ KDD[4..10] ‖ '0F' ‖ t`) with key type t
//!   '01' ENC, '02' MAC, '03' DEK: "KENC := DES3(KMC)[six least significant bytes of the
//!   KEYDATA ‖ 'F0' ‖ '01'] ‖ DES3(KMC)[six least significant bytes of the KEYDATA ‖ '0F' ‖
//!   '01']" (EMV CPS v1.1 as quoted on the javacardos.com forum, topic 862).
//! - [`Diversification::Visa2`]: the same with `KDD[0..2] ‖ KDD[4..8]` in place of
//!   `KDD[4..10]` (GlobalPlatformPro `kdf_templates` "visa2": `$0 $1 $4 $5 $6 $7 0xF0 $k …`;
//!   the layout common on Gemalto cards).
//! - [`Diversification::Kdf3`]: the "kdf3" template of GlobalPlatformPro (facts from
//!   martinpaljak/GlobalPlatformPro `keys/PlaintextKeys.java`, vectors in its
//!   `TestPlaintextKeys`): the SP 800-108 counter-mode KDF with AES-CMAC, the counter first,
//!   then `00 00 00 ‖ key type ‖ 00 ‖ KDD (10 bytes)`, output as long as the master key.
//!
//! EMV and VISA2 are 3DES constructions: the master key is a two-key (16-byte) or three-key
//! (24-byte) 3DES key and the result is always 16 bytes. With SCP03 those 16 bytes are used as
//! the AES-128 card key. That is what GlobalPlatformPro did from 2016 until its 2024 template
//! rewrite (`PlaintextKeys.diversify`, commits a391e65..6a8b9bd: "G&D SCE 6.0 uses EMV 3DES and
//! resulting keys must be interpreted as AES-128"); its current templates refuse EMV/VISA2 for
//! SCP03 because they have no KDF counter position. There is no AES-ECB form of these
//! templates in any public tool we found, so none is offered. A 32-byte master key has no 3DES
//! form and is refused for EMV/VISA2.

use super::kdf::kdf_counter_middle;
use super::keys::{key_of_length, AesKey, KeyLength, StaticKeys};
use super::ScpError;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroizing;

/// How the host turns its (master) keys into the card's static keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Diversification {
    /// No diversification.
    #[default]
    None,
    /// EMV CPS v1.1 §4.1 (3DES, AES-128 card keys).
    Emv,
    /// VISA2 (3DES, AES-128 card keys).
    Visa2,
    /// GlobalPlatformPro "kdf3".
    Kdf3,
}

/// Key types of the templates (GlobalPlatformPro `KeyPurpose` values; EMV CPS '01'-'03').
const ENC: u8 = 0x01;
const MAC: u8 = 0x02;
const DEK: u8 = 0x03;

impl Diversification {
    /// Every template, in the order of [`Diversification::NAMES`].
    pub const ALL: [Self; 4] = [Self::None, Self::Emv, Self::Visa2, Self::Kdf3];
    /// The names [`FromStr`] accepts.
    pub const NAMES: &'static str = "none, emv, visa2, kdf3";

    /// Whether a master key of `length` can be diversified with this template.
    pub fn check_master(self, length: KeyLength) -> Result<(), ScpError> {
        match (self, length) {
            (Self::Emv | Self::Visa2, KeyLength::Aes256) => {
                Err(ScpError::UnsupportedDiversification(format!(
                    "'{self}' diversification is 3DES-based: it takes a 16-byte (two-key) or \
                     24-byte (three-key) master key and gives AES-128 card keys; a 32-byte \
                     master key has no 3DES form — use kdf3 or the card's own keys"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The length of the card keys this template makes from a master key of `master`.
    pub fn card_key_length(self, master: KeyLength) -> KeyLength {
        match self {
            Self::Emv | Self::Visa2 => KeyLength::Aes128,
            Self::None | Self::Kdf3 => master,
        }
    }

    /// The card's key set for the KDD it returned; the KVN is kept.
    pub fn try_apply(self, master: &StaticKeys, kdd: &[u8; 10]) -> Result<StaticKeys, ScpError> {
        self.check_master(master.length())?;
        let derive = |key: &AesKey, key_type: u8| -> Result<AesKey, ScpError> {
            match self {
                Self::None => Ok(key.clone()),
                Self::Kdf3 => Ok(kdf3(key, key_type, kdd)),
                Self::Emv => des3_diversify(key, &emv_cps_data(kdd, key_type)),
                Self::Visa2 => des3_diversify(key, &visa2_data(kdd, key_type)),
            }
        };
        StaticKeys::from_keys(
            master.kvn(),
            derive(master.enc(), ENC)?,
            derive(master.mac(), MAC)?,
            derive(master.dek(), DEK)?,
        )
    }

    /// [`Diversification::try_apply`] for masters already checked with
    /// [`Diversification::check_master`]; an unchecked master that the template cannot take
    /// comes back unchanged (and then fails the card cryptogram check).
    pub fn apply(self, master: &StaticKeys, kdd: &[u8; 10]) -> StaticKeys {
        self.try_apply(master, kdd)
            .unwrap_or_else(|_| master.clone())
    }
}

/// The EMV CPS diversification data: `KDD[4..10] ‖ 'F0' ‖ t ‖ KDD[4..10] ‖ '0F' ‖ t`.
pub fn emv_cps_data(kdd: &[u8; 10], key_type: u8) -> [u8; 16] {
    let mut id = [0u8; 6];
    id.copy_from_slice(&kdd[4..10]);
    halves(&id, key_type)
}

/// The VISA2 diversification data: `KDD[0..2] ‖ KDD[4..8] ‖ 'F0' ‖ t ‖ (same) ‖ '0F' ‖ t`.
pub fn visa2_data(kdd: &[u8; 10], key_type: u8) -> [u8; 16] {
    let id = [kdd[0], kdd[1], kdd[4], kdd[5], kdd[6], kdd[7]];
    halves(&id, key_type)
}

fn halves(id: &[u8; 6], key_type: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..6].copy_from_slice(id);
    out[6] = 0xF0;
    out[7] = key_type;
    out[8..14].copy_from_slice(id);
    out[14] = 0x0F;
    out[15] = key_type;
    out
}

/// 3DES-ECB of the 16-byte diversification data under a two- or three-key 3DES master; the
/// 16-byte result is the AES-128 card key.
fn des3_diversify(master: &AesKey, data: &[u8; 16]) -> Result<AesKey, ScpError> {
    let mut out = Zeroizing::new(*data);
    des3_ecb_encrypt(master.as_bytes(), out.as_mut_slice())?;
    AesKey::from_bytes(out.as_slice())
}

/// Encrypts `blocks` (a multiple of 8 bytes) in place with 3DES-ECB (EDE) under a 16- or
/// 24-byte key.
fn des3_ecb_encrypt(key: &[u8], blocks: &mut [u8]) -> Result<(), ScpError> {
    match key.len() {
        16 => {
            let cipher = TdesEde2::new_from_slice(key).map_err(|_| ScpError::BadKeyLength(16))?;
            blocks
                .chunks_exact_mut(8)
                .for_each(|b| cipher.encrypt_block(GenericArray::from_mut_slice(b)));
        }
        24 => {
            let cipher = TdesEde3::new_from_slice(key).map_err(|_| ScpError::BadKeyLength(24))?;
            blocks
                .chunks_exact_mut(8)
                .for_each(|b| cipher.encrypt_block(GenericArray::from_mut_slice(b)));
        }
        n => return Err(ScpError::BadKeyLength(n)),
    }
    Ok(())
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
            "emv" | "emv-cps" | "emvcps" => Ok(Self::Emv),
            "visa2" => Ok(Self::Visa2),
            "kdf3" => Ok(Self::Kdf3),
            _ => Err(ScpError::UnsupportedDiversification(format!(
                "unknown diversification '{s}' (known: {})",
                Self::NAMES
            ))),
        }
    }
}

impl fmt::Display for Diversification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Emv => "emv",
            Self::Visa2 => "visa2",
            Self::Kdf3 => "kdf3",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{h, hex, scp03_vectors};

    /// The 3DES key check value: first 3 bytes of 3DES-ECB(key, 8 × '00') (the KCV
    /// GlobalPlatformPro's `kcv_3des` prints for the vectors below).
    fn kcv_3des(key: &AesKey) -> [u8; 3] {
        let mut block = [0u8; 8];
        des3_ecb_encrypt(key.as_bytes(), &mut block).unwrap();
        [block[0], block[1], block[2]]
    }

    fn kcvs_3des(keys: &StaticKeys) -> [[u8; 3]; 3] {
        [
            kcv_3des(keys.enc()),
            kcv_3des(keys.mac()),
            kcv_3des(keys.dek()),
        ]
    }

    /// GlobalPlatformPro `TestPlaintextKeys.testDiversification_EMV_SCP02` and
    /// `…_VISA2_SCP02` (also `TestPlaintextKeysProvider`): master 40..4F, KDD 00 01 … 09; the
    /// card keys' 3DES KCVs. The card key bytes do not depend on the SCP version, only how they
    /// are then used, so these check our derivation byte for byte.
    #[test]
    fn gppro_emv_and_visa2_vectors() {
        let master = StaticKeys::single(0x01, &h("404142434445464748494A4B4C4D4E4F")).unwrap();
        let kdd: [u8; 10] = h("00010203040506070809").try_into().unwrap();
        let emv = Diversification::Emv.try_apply(&master, &kdd).unwrap();
        assert_eq!(
            kcvs_3des(&emv),
            [[0xC3, 0x30, 0x13], [0x6F, 0x4C, 0xA6], [0xBB, 0x81, 0x79]]
        );
        let visa2 = Diversification::Visa2.try_apply(&master, &kdd).unwrap();
        assert_eq!(
            kcvs_3des(&visa2),
            [[0x2B, 0xE5, 0x98], [0x58, 0xDA, 0x38], [0x3C, 0x32, 0x8E]]
        );
        // Used with SCP03 as AES-128 keys under the same KVN.
        assert_eq!(emv.length(), KeyLength::Aes128);
        assert_eq!(emv.kvn(), 0x01);
        assert_ne!(emv.enc().as_bytes(), visa2.enc().as_bytes());
    }

    /// The data layouts as the templates spell them, on a KDD with distinct bytes.
    #[test]
    fn data_layouts() {
        let kdd: [u8; 10] = h("A0A1A2A3A4A5A6A7A8A9").try_into().unwrap();
        assert_eq!(
            emv_cps_data(&kdd, 0x02).to_vec(),
            h("A4A5A6A7A8A9F002A4A5A6A7A8A90F02")
        );
        assert_eq!(
            visa2_data(&kdd, 0x03).to_vec(),
            h("A0A1A4A5A6A7F003A0A1A4A5A6A70F03")
        );
        // The javacardos.com forum example of EMV CPS: KDD 000002004540C882DE13 diversifies
        // with 4540C882DE13 F0 01 and 4540C882DE13 0F 01 for Key-ENC.
        let kdd: [u8; 10] = h("000002004540C882DE13").try_into().unwrap();
        assert_eq!(
            emv_cps_data(&kdd, ENC).to_vec(),
            h("4540C882DE13F0014540C882DE130F01")
        );
    }

    /// Each half of an EMV card key is the 3DES encryption of its own 8-byte block (ECB, no
    /// chaining), and three-key masters work too.
    #[test]
    fn emv_is_ecb_per_half_and_takes_three_key_masters() {
        let kdd = [7u8; 10];
        let master = StaticKeys::single(0x30, &[0x11; 24]).unwrap();
        let card = Diversification::Emv.try_apply(&master, &kdd).unwrap();
        assert_eq!(card.length(), KeyLength::Aes128);
        let data = emv_cps_data(&kdd, MAC);
        let mut first = [0u8; 8];
        first.copy_from_slice(&data[..8]);
        des3_ecb_encrypt(&[0x11; 24], &mut first).unwrap();
        assert_eq!(&card.mac().as_bytes()[..8], &first);
        let mut second = [0u8; 8];
        second.copy_from_slice(&data[8..]);
        des3_ecb_encrypt(&[0x11; 24], &mut second).unwrap();
        assert_eq!(&card.mac().as_bytes()[8..], &second);
    }

    #[test]
    fn emv_and_visa2_refuse_aes256_masters() {
        let master = StaticKeys::single(0x30, &[0x40; 32]).unwrap();
        for d in [Diversification::Emv, Diversification::Visa2] {
            let err = d.try_apply(&master, &[0; 10]).unwrap_err();
            assert!(err.to_string().contains("32-byte"), "{err}");
            assert!(d.check_master(KeyLength::Aes256).is_err());
            // Unchecked use keeps the keys (the card cryptogram check then fails).
            assert_eq!(
                d.apply(&master, &[0; 10]).enc().as_bytes(),
                master.enc().as_bytes()
            );
        }
        for d in [Diversification::None, Diversification::Kdf3] {
            assert!(d.check_master(KeyLength::Aes256).is_ok());
            assert_eq!(d.card_key_length(KeyLength::Aes256), KeyLength::Aes256);
        }
    }

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
        for d in Diversification::ALL {
            assert_eq!(d.to_string().parse::<Diversification>().unwrap(), d);
            assert!(Diversification::NAMES.contains(&d.to_string()));
        }
        assert_eq!(
            "KDF3".parse::<Diversification>().unwrap(),
            Diversification::Kdf3
        );
        assert_eq!(
            "EMV-CPS".parse::<Diversification>().unwrap(),
            Diversification::Emv
        );
        for name in ["visa", "foo", ""] {
            assert!(matches!(
                name.parse::<Diversification>(),
                Err(ScpError::UnsupportedDiversification(_))
            ));
        }
        // Different KDDs give different card keys.
        for d in [
            Diversification::Kdf3,
            Diversification::Emv,
            Diversification::Visa2,
        ] {
            let a = d.apply(&master, &[0; 10]);
            let b = d.apply(&master, &[0xFF; 10]);
            assert_ne!(a.mac().as_bytes(), b.mac().as_bytes(), "{d}");
            assert_ne!(a.enc().as_bytes(), a.mac().as_bytes(), "{d}");
        }
    }
}
