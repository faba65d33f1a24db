//! Every choice of ES8 key establishment that public material does not settle, in one place
//! (shared/protocol/SGP02.md §3.3–3.4 and its "Open points").
//!
//! An [`EckaVariant`] fixes one reading of each open point; [`EckaVariant::default`] is the most
//! standards-faithful one. The card returns DR and the receipt, so a host talking to a real card
//! can try [`EckaVariant::receipt_candidates`] with [`super::AwaitingReceipt::identify_variant`]
//! and keep the one that reproduces the card's receipt.
//!
//! The fixed parts (not variants):
//! - Z = x-coordinate of ECDH(eSK.DP.ECKA, PK.ECASD.ECKA) (BSI TR-03111 ECKA-EG).
//! - KeyData = X9.63 KDF with SHA-256 over Z and SharedInfo ([`super::kdf`]).
//! - SharedInfo = key usage qualifier ‖ key type ‖ key length ‖ DR (if scenario bit `02`) ‖
//!   LV(HostID) ‖ LV(SIN) ‖ LV(SDIN) (the last three if scenario bit `04`; SIN and SDIN only when
//!   both are known), the qualifier, type and length bytes being those of the `A6` template sent
//!   (GP Amendment A Table 3-28 as read by njiwa `computeSharedInfo`; lengths are BER).
//! - KeyData is cut into key-length pieces: one receipt key plus one or three keys.
//! - Receipt = AES-CMAC (SP 800-38B, full 16 bytes) under the receipt key.

use super::crt::ControlReferenceTemplate;
use super::kdf::x963_kdf;
use super::EckaError;
use crate::scp03::kdf::aes_cmac;
use crate::scp03::{AesKey, StaticKeys};
use crate::tlv::{encode_length, tlv};

/// How many keys the ISD-P receives, and the key usage qualifier (`95`) that says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyCount {
    /// One "secure channel base key" used as Key-ENC, Key-MAC and Key-DEK (njiwa; qualifier
    /// `5C`). Not a GP SCP03 key set layout.
    One,
    /// **Default.** Key-ENC, Key-MAC, Key-DEK with key IDs `id`, `id+1`, `id+2` (GP Amendment D
    /// key set; qualifier `10`, njiwa's `KEY_QUAL_THREE_KEYS`).
    Three,
}

impl KeyCount {
    /// The `95` value announcing this layout (njiwa's constants; the GP text is not public).
    pub fn key_usage_qualifier(self) -> u8 {
        match self {
            Self::One => 0x5C,
            Self::Three => 0x10,
        }
    }

    /// The layout a card derives for a received `95` value.
    pub fn from_key_usage_qualifier(qualifier: u8) -> Option<Self> {
        match qualifier {
            0x5C => Some(Self::One),
            0x10 => Some(Self::Three),
            _ => None,
        }
    }

    pub fn count(self) -> usize {
        match self {
            Self::One => 1,
            Self::Three => 3,
        }
    }
}

/// The bytes the receipt MAC covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptInput {
    /// **Default.** `A6` template as sent ‖ `85 L DR`, plain CMAC (GP Amendment E Table 4-22 as
    /// cited by njiwa).
    CrtDr,
    /// The same input with `80 00…` padding added before the CMAC (njiwa `computeReceipt`; most
    /// likely a double padding).
    CrtDrPadded,
    /// `A6` template ‖ `7F49` ePK.DP.ECKA ‖ `85 L DR` (the reading where ePK is also covered).
    CrtEpkDr,
}

/// Where the receipt key sits in KeyData.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptKeyPosition {
    /// **Default.** KeyData = receipt key ‖ keys (njiwa, SGP02.md §3.4).
    First,
    /// KeyData = keys ‖ receipt key.
    Last,
}

/// Length coding of the DGI `3A01` holding CERT.DP.ECDSA (longer than 127 bytes, so the
/// readings differ). Does not affect the receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockLength {
    /// **Default.** DGI length: one byte up to 254, else `FF` and two bytes (STORE DATA P1 says
    /// DGI format; EMV CPS / GP Scripting Annex B).
    Dgi,
    /// BER length (`81 xx`, `82 xx xx`), as njiwa writes since 2020.
    Ber,
}

/// One reading of every open point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EckaVariant {
    pub keys: KeyCount,
    pub receipt_input: ReceiptInput,
    pub receipt_key: ReceiptKeyPosition,
    pub certificate_length: BlockLength,
}

impl Default for EckaVariant {
    fn default() -> Self {
        Self {
            keys: KeyCount::Three,
            receipt_input: ReceiptInput::CrtDr,
            receipt_key: ReceiptKeyPosition::First,
            certificate_length: BlockLength::Dgi,
        }
    }
}

/// What key derivation yields on both sides.
#[derive(Clone, Debug)]
pub struct DerivedKeys {
    pub receipt_key: AesKey,
    pub keys: StaticKeys,
}

impl EckaVariant {
    /// njiwa's reading: one key, padded receipt input, BER length for `3A01`.
    pub fn njiwa() -> Self {
        Self {
            keys: KeyCount::One,
            receipt_input: ReceiptInput::CrtDrPadded,
            receipt_key: ReceiptKeyPosition::First,
            certificate_length: BlockLength::Ber,
        }
    }

    /// Every combination that changes the receipt (with this variant's `3A01` length coding),
    /// the default reading first.
    pub fn receipt_candidates(self) -> Vec<Self> {
        let mut out = vec![Self {
            certificate_length: self.certificate_length,
            ..Self::default()
        }];
        for keys in [KeyCount::Three, KeyCount::One] {
            for receipt_input in [
                ReceiptInput::CrtDr,
                ReceiptInput::CrtDrPadded,
                ReceiptInput::CrtEpkDr,
            ] {
                for receipt_key in [ReceiptKeyPosition::First, ReceiptKeyPosition::Last] {
                    let v = Self {
                        keys,
                        receipt_input,
                        receipt_key,
                        certificate_length: self.certificate_length,
                    };
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    /// SharedInfo for `crt`, the card's DR and the ISD-P's SIN (see the module documentation).
    pub fn shared_info(crt: &ControlReferenceTemplate, dr: &[u8], sin: Option<&[u8]>) -> Vec<u8> {
        let mut out = vec![crt.key_usage_qualifier, crt.key_type, crt.key_length];
        if crt.dr_included() {
            out.extend_from_slice(dr);
        }
        if crt.host_id_included() {
            let lv = |out: &mut Vec<u8>, v: &[u8]| {
                out.extend(encode_length(v.len()));
                out.extend_from_slice(v);
            };
            if let Some(host_id) = &crt.host_id {
                lv(&mut out, host_id);
            }
            if let (Some(sin), Some(sdin)) = (sin, &crt.sdin) {
                lv(&mut out, sin);
                lv(&mut out, sdin);
            }
        }
        out
    }

    /// Derives the receipt key and the key set from Z.
    pub fn derive(
        &self,
        z: &[u8],
        crt: &ControlReferenceTemplate,
        dr: &[u8],
        sin: Option<&[u8]>,
    ) -> Result<DerivedKeys, EckaError> {
        let len = usize::from(crt.key_length);
        if !matches!(len, 16 | 24 | 32) {
            return Err(EckaError::Unsupported("key length other than 16, 24 or 32"));
        }
        let n = self.keys.count();
        let data = x963_kdf(z, &Self::shared_info(crt, dr, sin), len * (n + 1))?;
        let (receipt, keys) = match self.receipt_key {
            ReceiptKeyPosition::First => data.split_at(len),
            ReceiptKeyPosition::Last => {
                let (keys, receipt) = data.split_at(len * n);
                (receipt, keys)
            }
        };
        let key = |i: usize| AesKey::from_bytes(&keys[i * len..(i + 1) * len]);
        let keys = match self.keys {
            KeyCount::One => StaticKeys::single(crt.kvn, key(0)?.as_bytes())?,
            KeyCount::Three => StaticKeys::from_keys(crt.kvn, key(0)?, key(1)?, key(2)?)?,
        };
        Ok(DerivedKeys {
            receipt_key: AesKey::from_bytes(receipt)?,
            keys,
        })
    }

    /// The receipt over the `A6` TLV, the `7F49` ePK TLV (used by [`ReceiptInput::CrtEpkDr`]
    /// only) and DR.
    pub fn receipt(
        &self,
        receipt_key: &AesKey,
        crt_tlv: &[u8],
        epk_tlv: &[u8],
        dr: &[u8],
    ) -> [u8; 16] {
        let dr_tlv = tlv(0x85u8, dr);
        match self.receipt_input {
            ReceiptInput::CrtDr => aes_cmac(receipt_key, &[crt_tlv, &dr_tlv]),
            ReceiptInput::CrtDrPadded => {
                let padded = crate::scp03::cipher::pad(&[crt_tlv, &dr_tlv].concat());
                aes_cmac(receipt_key, &[&padded])
            }
            ReceiptInput::CrtEpkDr => aes_cmac(receipt_key, &[crt_tlv, epk_tlv, &dr_tlv]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecka::crt::KEY_TYPE_AES;

    fn crt(qualifier: u8) -> ControlReferenceTemplate {
        ControlReferenceTemplate {
            scenario_parameters: 0x0A,
            key_usage_qualifier: qualifier,
            key_access: None,
            key_type: KEY_TYPE_AES,
            key_length: 0x10,
            key_id: 0x01,
            kvn: 0x30,
            initial_counter: Some(vec![]),
            sdin: Some(vec![0xAA]),
            host_id: Some(vec![0x80; 8]),
        }
    }

    #[test]
    fn shared_info_layouts() {
        let dr = [0xD0u8; 16];
        let plain = crt(0x10);
        let mut expected = vec![0x10, 0x88, 0x10];
        expected.extend_from_slice(&dr);
        assert_eq!(
            EckaVariant::shared_info(&plain, &dr, Some(&[1, 2])),
            expected
        );
        let no_dr = ControlReferenceTemplate {
            scenario_parameters: 0x08,
            ..plain.clone()
        };
        assert_eq!(
            EckaVariant::shared_info(&no_dr, &dr, None),
            vec![0x10, 0x88, 0x10]
        );
        let with_host = ControlReferenceTemplate {
            scenario_parameters: 0x0E,
            ..plain
        };
        let mut expected = vec![0x10, 0x88, 0x10];
        expected.extend_from_slice(&dr);
        expected.extend([
            8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 2, 1, 2, 1, 0xAA,
        ]);
        assert_eq!(
            EckaVariant::shared_info(&with_host, &dr, Some(&[1, 2])),
            expected
        );
    }

    #[test]
    fn derivation_splits_key_data() {
        // Computed independently: KeyData = SHA-256(Z ‖ 00000001 ‖ SI) ‖ SHA-256(Z ‖ 00000002 ‖ SI)
        // with the sha2 crate directly, then cut by hand.
        use sha2::{Digest, Sha256};
        let z = [0x5Au8; 32];
        let dr = [0xD0u8; 16];
        let c = crt(0x10);
        let si = EckaVariant::shared_info(&c, &dr, None);
        let block = |i: u32| {
            let mut hsh = Sha256::new();
            hsh.update(z);
            hsh.update(i.to_be_bytes());
            hsh.update(&si);
            hsh.finalize().to_vec()
        };
        let kd = [block(1), block(2)].concat();
        let three = EckaVariant::default().derive(&z, &c, &dr, None).unwrap();
        assert_eq!(three.receipt_key.as_bytes(), &kd[..16]);
        assert_eq!(three.keys.enc().as_bytes(), &kd[16..32]);
        assert_eq!(three.keys.mac().as_bytes(), &kd[32..48]);
        assert_eq!(three.keys.dek().as_bytes(), &kd[48..64]);
        assert_eq!(three.keys.kvn(), 0x30);
        let last = EckaVariant {
            receipt_key: ReceiptKeyPosition::Last,
            ..EckaVariant::default()
        }
        .derive(&z, &c, &dr, None)
        .unwrap();
        assert_eq!(last.keys.enc().as_bytes(), &kd[..16]);
        assert_eq!(last.receipt_key.as_bytes(), &kd[48..64]);
        let one = EckaVariant::njiwa().derive(&z, &c, &dr, None).unwrap();
        assert_eq!(one.receipt_key.as_bytes(), &kd[..16]);
        assert_eq!(one.keys.enc().as_bytes(), &kd[16..32]);
        assert_eq!(one.keys.dek().as_bytes(), &kd[16..32]);
        let odd = ControlReferenceTemplate {
            key_length: 17,
            ..c
        };
        assert!(EckaVariant::default().derive(&z, &odd, &dr, None).is_err());
    }

    #[test]
    fn candidates_are_distinct_and_default_first() {
        let all = EckaVariant::default().receipt_candidates();
        assert_eq!(all[0], EckaVariant::default());
        assert_eq!(all.len(), 12);
        assert!(all.contains(&EckaVariant {
            certificate_length: BlockLength::Dgi,
            ..EckaVariant::njiwa()
        }));
        assert_eq!(
            KeyCount::from_key_usage_qualifier(0x5C),
            Some(KeyCount::One)
        );
        assert_eq!(
            KeyCount::from_key_usage_qualifier(0x10),
            Some(KeyCount::Three)
        );
        assert_eq!(KeyCount::from_key_usage_qualifier(0x00), None);
    }

    #[test]
    fn receipt_inputs_differ() {
        let key = AesKey::from_bytes(&[7; 16]).unwrap();
        let crt_tlv = crt(0x10).to_bytes();
        let epk = [0x7F, 0x49, 0x00];
        let dr = [1u8; 16];
        let mut seen = Vec::new();
        for receipt_input in [
            ReceiptInput::CrtDr,
            ReceiptInput::CrtDrPadded,
            ReceiptInput::CrtEpkDr,
        ] {
            let v = EckaVariant {
                receipt_input,
                ..EckaVariant::default()
            };
            let r = v.receipt(&key, &crt_tlv, &epk, &dr);
            assert!(!seen.contains(&r));
            seen.push(r);
        }
        // The default is CMAC(A6 ‖ 85 10 DR), checked against the CMAC primitive directly.
        let input = [crt_tlv.clone(), vec![0x85, 0x10], dr.to_vec()].concat();
        assert_eq!(seen[0], aes_cmac(&key, &[&input]));
    }
}
