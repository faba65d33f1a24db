//! The control reference template for key agreement, tag `A6`, carried in DGI `3A02` of
//! ES8 EstablishISDPKeySet (SGP.02 Table 81 / §4.1.3.x as cited by njiwa; GP Card Specification
//! Amendment A §3.3 and Amendment E for the tags; see shared/protocol/SGP02.md §3.3).
//!
//! ```text
//! A6 L {
//!   90 02 03 <scenario parameters>   scenario #3 (ECKA-EG with certificate)
//!   95 01 <key usage qualifier>
//!   [96 01 <key access>]
//!   80 01 <key type>                 '88' = AES
//!   81 01 <key length>               '10' = 16 bytes
//!   82 01 <key identifier of the first key>
//!   83 01 <key version number>
//!   [91 L <initial counter>]         empty for SCP03
//!   [45 L <SDIN>] [84 L <HostID>]
//! }
//! ```
//!
//! Decoding is strict: this order, each tag once, no unknown tag, one-byte values where one
//! byte is due, scenario `03`.

use super::EckaError;
use crate::tlv::{Tag, Tlv};

/// Tag of the template.
pub const TAG_CRT: u8 = 0xA6;
/// Scenario identifier of GP Amendment E scenario #3, first byte of `90`.
pub const SCENARIO_3: u8 = 0x03;
/// Scenario parameter bit: the derivation random DR is part of SharedInfo.
pub const SCENARIO_DR_INCLUDED: u8 = 0x02;
/// Scenario parameter bit: HostID and SIN/SDIN are part of SharedInfo.
pub const SCENARIO_HOST_ID_INCLUDED: u8 = 0x04;
/// Scenario parameter bit: certificate verification precedes the key establishment.
pub const SCENARIO_CERTIFICATE_PRECEDES: u8 = 0x08;
/// Key type AES (GPCS Table 11-16).
pub const KEY_TYPE_AES: u8 = 0x88;

const ORDER: [u8; 10] = [0x90, 0x95, 0x96, 0x80, 0x81, 0x82, 0x83, 0x91, 0x45, 0x84];
const REQUIRED: [u8; 6] = [0x90, 0x95, 0x80, 0x81, 0x82, 0x83];

/// The `A6` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlReferenceTemplate {
    /// Second byte of `90` (the first is [`SCENARIO_3`]).
    pub scenario_parameters: u8,
    /// `95`.
    pub key_usage_qualifier: u8,
    /// `96`.
    pub key_access: Option<u8>,
    /// `80`.
    pub key_type: u8,
    /// `81`, in bytes.
    pub key_length: u8,
    /// `82`: identifier of the first key; the others follow (+1, +2).
    pub key_id: u8,
    /// `83`.
    pub kvn: u8,
    /// `91`.
    pub initial_counter: Option<Vec<u8>>,
    /// `45`: Security Domain Image Number.
    pub sdin: Option<Vec<u8>>,
    /// `84`: HostID.
    pub host_id: Option<Vec<u8>>,
}

impl ControlReferenceTemplate {
    /// Whether DR goes into SharedInfo.
    pub fn dr_included(&self) -> bool {
        self.scenario_parameters & SCENARIO_DR_INCLUDED != 0
    }

    /// Whether HostID and SIN/SDIN go into SharedInfo.
    pub fn host_id_included(&self) -> bool {
        self.scenario_parameters & SCENARIO_HOST_ID_INCLUDED != 0
    }

    /// The `A6` TLV.
    pub fn to_tlv(&self) -> Tlv {
        let mut children = vec![
            Tlv::new(0x90u8, vec![SCENARIO_3, self.scenario_parameters]),
            Tlv::new(0x95u8, vec![self.key_usage_qualifier]),
        ];
        if let Some(access) = self.key_access {
            children.push(Tlv::new(0x96u8, vec![access]));
        }
        children.extend([
            Tlv::new(0x80u8, vec![self.key_type]),
            Tlv::new(0x81u8, vec![self.key_length]),
            Tlv::new(0x82u8, vec![self.key_id]),
            Tlv::new(0x83u8, vec![self.kvn]),
        ]);
        for (tag, value) in [
            (0x91u8, &self.initial_counter),
            (0x45, &self.sdin),
            (0x84, &self.host_id),
        ] {
            if let Some(v) = value {
                children.push(Tlv::new(tag, v.clone()));
            }
        }
        Tlv::constructed(TAG_CRT, &children)
    }

    /// Encoded `A6` TLV.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_tlv().to_bytes()
    }

    /// Decodes exactly one `A6` template.
    pub fn decode(bytes: &[u8]) -> Result<Self, EckaError> {
        let outer = Tlv::parse_expect(bytes, TAG_CRT)?;
        let mut seen: [Option<Vec<u8>>; 10] = Default::default();
        let mut next = 0;
        for child in outer.children()? {
            let index = ORDER
                .iter()
                .position(|&t| Tag::from(t) == child.tag)
                .ok_or(bad(child.tag, "tag not allowed in the A6 template"))?;
            if index < next {
                return Err(bad(child.tag, "tag repeated or out of order"));
            }
            next = index + 1;
            seen[index] = Some(child.value);
        }
        for tag in REQUIRED {
            if seen[slot(tag)].is_none() {
                return Err(bad(Tag::from(tag), "mandatory tag missing"));
            }
        }
        let one = |tag: u8, seen: &[Option<Vec<u8>>; 10]| -> Result<Option<u8>, EckaError> {
            match seen[slot(tag)].as_deref() {
                None => Ok(None),
                Some([b]) => Ok(Some(*b)),
                Some(_) => Err(bad(Tag::from(tag), "value must be one byte")),
            }
        };
        let scenario = match seen[slot(0x90)].as_deref() {
            Some([SCENARIO_3, p]) => *p,
            Some([_, _]) => {
                return Err(EckaError::Unsupported(
                    "key establishment scenario other than #3",
                ))
            }
            _ => return Err(bad(Tag::new(0x90), "scenario is two bytes")),
        };
        let required = |tag: u8| -> Result<u8, EckaError> {
            one(tag, &seen)?.ok_or(bad(Tag::from(tag), "mandatory tag missing"))
        };
        Ok(Self {
            scenario_parameters: scenario,
            key_usage_qualifier: required(0x95)?,
            key_access: one(0x96, &seen)?,
            key_type: required(0x80)?,
            key_length: required(0x81)?,
            key_id: required(0x82)?,
            kvn: required(0x83)?,
            initial_counter: seen[slot(0x91)].clone(),
            sdin: seen[slot(0x45)].clone(),
            host_id: seen[slot(0x84)].clone(),
        })
    }
}

fn slot(tag: u8) -> usize {
    ORDER.iter().position(|&t| t == tag).unwrap_or(0)
}

fn bad(tag: Tag, reason: &'static str) -> EckaError {
    EckaError::BadCrt { tag, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    fn njiwa_like() -> ControlReferenceTemplate {
        ControlReferenceTemplate {
            scenario_parameters: 0x0A,
            key_usage_qualifier: 0x5C,
            key_access: None,
            key_type: KEY_TYPE_AES,
            key_length: 0x10,
            key_id: 0x01,
            kvn: 0x03,
            initial_counter: Some(vec![]),
            sdin: None,
            host_id: None,
        }
    }

    #[test]
    fn layout() {
        // The template njiwa's makeA6CRT writes for one key, KVN 03, key ID 01, scenario 0A
        // (shared/protocol/SGP02.md §3.3), byte for byte.
        let crt = njiwa_like();
        let bytes = crt.to_bytes();
        assert_eq!(
            bytes,
            h("A6 15 9002030A 95015C 800188 810110 820101 830103 9100")
        );
        assert_eq!(ControlReferenceTemplate::decode(&bytes).unwrap(), crt);
        assert!(crt.dr_included() && !crt.host_id_included());
        let full = ControlReferenceTemplate {
            key_access: Some(0x01),
            sdin: Some(h("0102")),
            host_id: Some(h("8080808080808080")),
            scenario_parameters: 0x0E,
            ..crt
        };
        let back = ControlReferenceTemplate::decode(&full.to_bytes()).unwrap();
        assert_eq!(back, full);
        assert!(back.host_id_included());
    }

    #[test]
    fn strictness() {
        let crt_error = |hex: &str| ControlReferenceTemplate::decode(&h(hex)).unwrap_err();
        // Each template has the right length: it fails for the reason named.
        for (bad, why) in [
            (
                "A6 10 9002030A 95015C 800188 810110 820101",
                "mandatory tag missing",
            ),
            (
                "A6 15 95015C 9002030A 800188 810110 820101 830103 9100",
                "out of order",
            ),
            (
                "A6 16 9002030A 95025C00 800188 810110 820101 830103 9100",
                "one byte",
            ),
            (
                "A6 18 9002030A 95015C 800188 810110 820101 830103 9100 990100",
                "not allowed",
            ),
            (
                "A6 18 9002030A 95015C 800188 810110 820101 830103 830103 9100",
                "repeated",
            ),
            (
                "A6 14 900103 95015C 800188 810110 820101 830103 9100",
                "two bytes",
            ),
        ] {
            let e = crt_error(bad);
            assert!(matches!(e, EckaError::BadCrt { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        assert_eq!(
            crt_error("A6 15 9002020A 95015C 800188 810110 820101 830103 9100"),
            EckaError::Unsupported("key establishment scenario other than #3")
        );
        assert!(matches!(
            crt_error("A6 15 9002030A 95015C 800188 810110 820101 830103 9100 00"),
            EckaError::Tlv(crate::tlv::TlvError::TrailingBytes {
                offset: 23,
                count: 1
            })
        ));
        assert!(matches!(
            crt_error("A7 15 9002030A 95015C 800188 810110 820101 830103 9100"),
            EckaError::Tlv(crate::tlv::TlvError::Unexpected { .. })
        ));
    }
}
