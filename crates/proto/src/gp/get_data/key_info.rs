//! Key Information Template (`E0`), GPCS v2.3.1 §11.3.3.1.1 (Tables 11-28, 11-29), with the key
//! type, usage and access codings of §11.1.8–§11.1.10.
//!
//! Each `C0` entry is Key Identifier, Key Version Number, then per key component either a
//! one-byte type and one-byte length (basic format; length `00` means 256 or more) or `FF`, a
//! type and a two-byte length (extended format), the extended format ending with key usage and
//! key access, each preceded by its length. Some cards mix a one-byte type into the extended
//! format (GlobalPlatformPro `TestGPKeyInfo`: `FF A1 0080 A0 0003 01 84 01 00`); such components
//! are kept with [`KeyComponentInfo::one_byte_type`] set. Empty `C0` entries, which fresh
//! Security Domains return, are skipped.

use super::super::codec::{elements, Reader};
use super::super::GpError;
use super::{tags, DataObject};
use crate::tlv::tlv;
use std::fmt;

/// Tag of one key's information.
pub const TAG_KEY_INFORMATION_DATA: u8 = 0xC0;

/// One key component: its type and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyComponentInfo {
    /// Key type (Table 11-16, see [`key_type_name`]).
    pub key_type: u8,
    /// Length in bytes; in the basic format `0` stands for 256 or more.
    pub length: u16,
    /// In the extended format, a component coded without the `FF` prefix (a card quirk).
    pub one_byte_type: bool,
}

/// The coding of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyInfoFormat {
    /// Table 11-28.
    Basic,
    /// Table 11-29, with the key usage qualifier and key access (each empty or one byte).
    Extended { usage: Vec<u8>, access: Vec<u8> },
}

/// The information about one key (`C0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInformation {
    pub id: u8,
    pub version: u8,
    pub components: Vec<KeyComponentInfo>,
    pub format: KeyInfoFormat,
}

impl KeyInformation {
    /// A basic-format entry with one component.
    pub fn basic(id: u8, version: u8, key_type: u8, length: u16) -> Self {
        Self {
            id,
            version,
            components: vec![KeyComponentInfo {
                key_type,
                length,
                one_byte_type: false,
            }],
            format: KeyInfoFormat::Basic,
        }
    }

    fn decode(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut r = Reader::new(value, base);
        let id = r.u8("key identifier")?;
        let version = r.u8("key version number")?;
        let mut components = Vec::new();
        if r.peek() != Some(0xFF) {
            while !r.is_empty() {
                let key_type = r.u8("key type")?;
                let length = u16::from(r.u8("key length")?);
                components.push(KeyComponentInfo {
                    key_type,
                    length,
                    one_byte_type: false,
                });
            }
            if components.is_empty() {
                return Err(GpError::Truncated {
                    offset: r.offset(),
                    field: "key type",
                });
            }
            return Ok(Self {
                id,
                version,
                components,
                format: KeyInfoFormat::Basic,
            });
        }
        loop {
            let prefixed = r.peek() == Some(0xFF);
            if !prefixed && !components.is_empty() {
                if usage_and_access_fill(r.remaining()) {
                    break;
                }
                // Standardized key types are above '7F': anything else is not a component.
                if r.peek().is_some_and(|t| t < 0x80) {
                    return Err(GpError::invalid(
                        r.offset(),
                        Some(TAG_KEY_INFORMATION_DATA.into()),
                        "key usage and key access must end an extended entry",
                    ));
                }
            }
            if prefixed {
                r.u8("key type")?;
            }
            let key_type = r.u8("key type")?;
            let length = r.u16("key length")?;
            components.push(KeyComponentInfo {
                key_type,
                length,
                one_byte_type: !prefixed,
            });
            if r.is_empty() {
                return Err(GpError::Truncated {
                    offset: r.offset(),
                    field: "length of key usage",
                });
            }
        }
        let usage = r.lv("key usage")?.to_vec();
        let access = r.lv("key access")?.to_vec();
        r.finish()?;
        Ok(Self {
            id,
            version,
            components,
            format: KeyInfoFormat::Extended { usage, access },
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.id, self.version];
        match &self.format {
            KeyInfoFormat::Basic => {
                for c in &self.components {
                    v.extend([c.key_type, u8::try_from(c.length).unwrap_or(0)]);
                }
            }
            KeyInfoFormat::Extended { usage, access } => {
                for c in &self.components {
                    if !c.one_byte_type {
                        v.push(0xFF);
                    }
                    v.push(c.key_type);
                    v.extend(c.length.to_be_bytes());
                }
                for lv in [usage, access] {
                    v.push(u8::try_from(lv.len()).unwrap_or(u8::MAX));
                    v.extend(lv);
                }
            }
        }
        v
    }
}

/// Whether `rest` is exactly key-usage LV then key-access LV (each of length 0–2).
fn usage_and_access_fill(rest: &[u8]) -> bool {
    let Some(&ul) = rest.first() else {
        return false;
    };
    let ul = usize::from(ul);
    if ul > 2 {
        return false;
    }
    match rest.get(1 + ul) {
        Some(&al) if al <= 2 => rest.len() == 2 + ul + usize::from(al),
        _ => false,
    }
}

/// `KVN 01 KID 01: AES 16 bytes`.
impl fmt::Display for KeyInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KVN {:02X} KID {:02X}:", self.version, self.id)?;
        for (i, c) in self.components.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let basic = self.format == KeyInfoFormat::Basic;
            if basic && c.length == 0 {
                write!(f, "{sep}{} 256+ bytes", key_type_name(c.key_type))?;
            } else {
                write!(f, "{sep}{} {} bytes", key_type_name(c.key_type), c.length)?;
            }
        }
        if let KeyInfoFormat::Extended { usage, access } = &self.format {
            if let Some(&u) = usage.first() {
                write!(f, "; usage {u:02X}")?;
                if let Some(name) = key_usage_name(u) {
                    write!(f, " ({name})")?;
                }
            }
            if let Some(&a) = access.first() {
                write!(f, "; access {a:02X} ({})", key_access_name(a))?;
            }
        }
        Ok(())
    }
}

/// The Key Information Template (`E0`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInformationTemplate {
    pub keys: Vec<KeyInformation>,
}

impl DataObject for KeyInformationTemplate {
    const TAG: u16 = tags::KEY_INFORMATION;

    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut keys = Vec::new();
        for el in elements(value, base)? {
            if el.tag.value() != u32::from(TAG_KEY_INFORMATION_DATA) {
                return Err(GpError::invalid(
                    el.start,
                    Some(el.tag),
                    "only key information data (C0) may appear in E0",
                ));
            }
            if !el.value.is_empty() {
                keys.push(KeyInformation::decode(el.value, el.offset)?);
            }
        }
        Ok(Self { keys })
    }

    fn value(&self) -> Vec<u8> {
        self.keys
            .iter()
            .flat_map(|k| tlv(TAG_KEY_INFORMATION_DATA, &k.encode()))
            .collect()
    }
}

/// The meaning of a key type (GPCS Table 11-16).
pub fn key_type_name(key_type: u8) -> &'static str {
    match key_type {
        0x00..=0x7F => "private use",
        0x80 => "DES",
        0x81..=0x84 => "reserved (DES)",
        0x85 => "TLS PSK",
        0x88 => "AES",
        0x90 => "HMAC-SHA1",
        0x91 => "HMAC-SHA1-160",
        0xA0 => "RSA public e",
        0xA1 => "RSA public N",
        0xA2 => "RSA private N",
        0xA3 => "RSA private d",
        0xA4 => "RSA CRT P",
        0xA5 => "RSA CRT Q",
        0xA6 => "RSA CRT PQ",
        0xA7 => "RSA CRT DP1",
        0xA8 => "RSA CRT DQ1",
        0xB0 => "ECC public",
        0xB1 => "ECC private",
        0xB2 => "ECC P",
        0xB3 => "ECC A",
        0xB4 => "ECC B",
        0xB5 => "ECC G",
        0xB6 => "ECC N",
        0xB7 => "ECC k",
        0xF0 => "ECC parameters reference",
        0xFF => "extended",
        _ => "RFU",
    }
}

/// The GlobalPlatform name of a key usage qualifier value (GPCS §11.1.9).
pub fn key_usage_name(usage: u8) -> Option<&'static str> {
    Some(match usage {
        0x14 => "C-MAC",
        0x24 => "R-MAC",
        0x34 => "C-MAC + R-MAC",
        0x18 => "C-ENC",
        0x28 => "R-ENC",
        0x38 => "C-ENC + R-ENC",
        0x48 => "C-DEK",
        0x88 => "R-DEK",
        0xC8 => "C-DEK + R-DEK",
        0x82 => "PK_SD_AUT",
        0x42 => "SK_SD_AUT",
        0x81 => "Token",
        0x44 => "Receipt",
        0x84 => "DAP",
        0x83 => "PK_SD_AUT + Token",
        0x43 => "SK_SD_AUT + Receipt",
        0x86 => "PK_SD_AUT + DAP",
        0x87 => "PK_SD_AUT + Token + DAP",
        _ => return None,
    })
}

/// The meaning of a key access value (GPCS Table 11-19).
pub fn key_access_name(access: u8) -> &'static str {
    match access {
        0x00 => "SD and its applications",
        0x01 => "SD only",
        0x02 => "applications only",
        0x03..=0x1F => "RFU",
        0xFF => "not available",
        _ => "proprietary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::{h, hex_field, section};

    fn comp(key_type: u8, length: u16) -> KeyComponentInfo {
        KeyComponentInfo {
            key_type,
            length,
            one_byte_type: false,
        }
    }

    #[test]
    fn fixtures_key_information_e0() {
        let entries = section("get_data_key_information_E0");
        if entries.is_empty() {
            return;
        }
        assert_eq!(entries.len(), 3);

        // GlobalPlatformPro TestGPKeyInfo.java (expects 5 entries).
        assert!(entries[0]["source"]
            .as_str()
            .unwrap()
            .contains("TestGPKeyInfo.java @236a610a (expects 5 entries)"));
        let bytes = hex_field(&entries[0], "data");
        let t = KeyInformationTemplate::parse(&bytes).unwrap();
        assert_eq!(t.keys.len(), 5);
        for (k, id) in t.keys[..3].iter().zip(1..) {
            assert_eq!(*k, KeyInformation::basic(id, 0x01, 0x88, 0x20));
        }
        assert_eq!(
            (t.keys[3].id, t.keys[3].version),
            (0x01, 0x70),
            "RSA public key"
        );
        assert_eq!(
            t.keys[3].components,
            vec![comp(0xA1, 0x80), comp(0xA0, 0x03)]
        );
        assert_eq!(t.keys[4], KeyInformation::basic(0x01, 0x71, 0x80, 0x10));
        assert_eq!(t.keys[0].to_string(), "KVN 01 KID 01: AES 32 bytes");
        assert_eq!(
            t.keys[3].to_string(),
            "KVN 70 KID 01: RSA public N 128 bytes, RSA public e 3 bytes"
        );
        assert_eq!(t.to_bytes(), bytes);

        // Same file (expects 4 entries; the last is a card-specific extended-format entry).
        let bytes = hex_field(&entries[1], "data");
        let t = KeyInformationTemplate::parse(&bytes).unwrap();
        assert_eq!(t.keys.len(), 4);
        for (k, id) in t.keys[..3].iter().zip(1..) {
            assert_eq!(*k, KeyInformation::basic(id, 0x01, 0x80, 0x10));
        }
        let rsa = &t.keys[3];
        assert_eq!((rsa.id, rsa.version), (0x01, 0x73));
        assert_eq!(
            rsa.components,
            vec![
                comp(0xA1, 0x80),
                KeyComponentInfo {
                    one_byte_type: true,
                    ..comp(0xA0, 0x03)
                }
            ]
        );
        assert_eq!(
            rsa.format,
            KeyInfoFormat::Extended {
                usage: vec![0x84],
                access: vec![0x00]
            }
        );
        assert_eq!(
            rsa.to_string(),
            "KVN 73 KID 01: RSA public N 128 bytes, RSA public e 3 bytes; usage 84 (DAP); \
             access 00 (SD and its applications)"
        );
        assert_eq!(t.to_bytes(), bytes);

        // GlobalPlatformPro issue #79 printout: KVN FF, IDs 1..3, DES3 16 and AES 32 bytes.
        assert!(entries[2]["source"].as_str().unwrap().contains("issue #79"));
        assert!(entries[2].get("data").is_none());
        let mut rebuilt = Vec::new();
        for (key_type, len) in [(0x80u8, 0x10u8), (0x88, 0x20)] {
            for id in 1..=3u8 {
                rebuilt.extend(tlv(0xC0u8, &[id, 0xFF, key_type, len]));
            }
        }
        let t = KeyInformationTemplate::parse(&tlv(0xE0u8, &rebuilt)).unwrap();
        assert_eq!(t.keys.len(), 6);
        assert!(t.keys.iter().all(|k| k.version == 0xFF));
        assert_eq!(t.keys[0].to_string(), "KVN FF KID 01: DES 16 bytes");
        assert_eq!(t.keys[5].to_string(), "KVN FF KID 03: AES 32 bytes");
    }

    #[test]
    fn extended_format_with_multiple_components() {
        // GlobalPlatformPro TestGPKeyInfo.testExtendedKeyTypeTemplateWithZeroLengths @236a610a
        // (values only): 14 extended entries, two with a second component 'FF 10'.
        let bytes = h(
            "E081B0C00A0120FF80001001000100C00A0220FF80001001000100C00A0320FF80001001000100\
             C00A0101FF80001001000100C00A0201FF80001001000100C00A0301FF80001001000100\
             C00A0102FF88001001000100C00E0202FF880010FF10000101000100C00A0302FF88001001000100\
             C00A0103FF88001001000100C00E0203FF880010FF10000101000100C00A0303FF88001001000100\
             C00A1403FF85001001000100C00A1503FF88001001000100",
        );
        let t = KeyInformationTemplate::parse(&bytes).unwrap();
        assert_eq!(t.keys.len(), 14);
        let two = &t.keys[7];
        assert_eq!((two.id, two.version), (0x02, 0x02));
        assert_eq!(two.components, vec![comp(0x88, 0x10), comp(0x10, 0x01)]);
        assert_eq!(
            two.format,
            KeyInfoFormat::Extended {
                usage: vec![0x00],
                access: vec![0x00]
            }
        );
        assert_eq!(t.keys[12].components, vec![comp(0x85, 0x10)]);
        assert_eq!(t.to_bytes(), bytes);
    }

    #[test]
    fn strictness() {
        // Fresh SD: empty entry skipped.
        assert_eq!(
            KeyInformationTemplate::parse(&h("E002C000")).unwrap().keys,
            vec![]
        );
        // Basic entry with a dangling type byte.
        let err = KeyInformationTemplate::parse(&h("E005C0030101 88")).unwrap_err();
        assert!(matches!(err, GpError::Truncated { offset: 7, .. }), "{err}");
        // Basic entry without components.
        assert!(KeyInformationTemplate::parse(&h("E004C0020101")).is_err());
        // Extended entry without usage/access.
        assert!(KeyInformationTemplate::parse(&h("E008C0060101FF880010")).is_err());
        // Extended entry with a trailing byte after access.
        let err = KeyInformationTemplate::parse(&h("E00DC00B0101FF88001001000100 00")).unwrap_err();
        assert!(matches!(err, GpError::Invalid { offset: 10, .. }), "{err}");
        // Another tag inside E0.
        let err = KeyInformationTemplate::parse(&h("E003C10100")).unwrap_err();
        assert!(matches!(err, GpError::Invalid { offset: 2, .. }), "{err}");
        // Trailing bytes after E0.
        assert!(KeyInformationTemplate::parse(&h("E000 00")).is_err());
        assert_eq!(key_type_name(0x88), "AES");
        assert_eq!(key_usage_name(0x34), Some("C-MAC + R-MAC"));
        assert_eq!(key_access_name(0xFF), "not available");
    }
}
