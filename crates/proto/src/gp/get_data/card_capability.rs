//! Card Capability Information (`67`), GPCS v2.3.1 Appendix H.4 (Tables H-5 to H-10): the
//! secure channel protocols with their options, the privileges that can be granted, and the
//! supported hash algorithms and cipher suites.

use super::super::codec::{elements, Element};
use super::super::privileges::Privileges;
use super::super::GpError;
use super::{tags, DataObject};
use crate::tlv::{tlv, Tlv};

/// SCP03 key-size bits of tag `82` in SCP information (Table H-7).
pub mod scp03_keys {
    pub const AES128: u8 = 0x01;
    pub const AES192: u8 = 0x02;
    pub const AES256: u8 = 0x04;
}

/// The name of a Load File Data Block hash algorithm (tag `83`).
pub fn lfdb_hash_name(id: u8) -> Option<&'static str> {
    match id {
        0x01 => Some("SHA-1"),
        0x02 => Some("SHA-256"),
        0x03 => Some("SHA-384"),
        0x04 => Some("SHA-512"),
        _ => None,
    }
}

/// SCP information (`A0`, Table H-6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScpInformation {
    /// `80`: SCP type (`02`, `03`, `80`, `81`).
    pub scp: u8,
    /// `81`: the supported values of `i`.
    pub options: Vec<u8>,
    /// `82`: supported SCP03 key sizes (bits of [`scp03_keys`]).
    pub scp03_keys: Option<Vec<u8>>,
    /// `83`: SCP81 TLS cipher suites (2 bytes each).
    pub tls_cipher_suites: Option<Vec<u8>>,
    /// `84`: SCP81 maximum pre-shared key length.
    pub max_psk_length: Option<u8>,
    /// Other objects, in order.
    pub other: Vec<Tlv>,
}

impl ScpInformation {
    fn from_element(el: &Element<'_>) -> Result<Self, GpError> {
        let mut scp = None;
        let mut options = None;
        let mut out = Self::default();
        for c in el.children()? {
            match c.tag.value() {
                0x80 => set(&mut scp, &c, c.single_byte()?)?,
                0x81 => set(&mut options, &c, c.value.to_vec())?,
                0x82 => set(&mut out.scp03_keys, &c, c.value.to_vec())?,
                0x83 => set(&mut out.tls_cipher_suites, &c, c.value.to_vec())?,
                0x84 => set(&mut out.max_psk_length, &c, c.single_byte()?)?,
                _ => out.other.push(c.to_tlv()),
            }
        }
        out.scp = scp.ok_or(el.invalid("SCP type (80) missing"))?;
        out.options = options.ok_or(el.invalid("SCP options (81) missing"))?;
        Ok(out)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = tlv(0x80u8, &[self.scp]);
        v.extend(tlv(0x81u8, &self.options));
        opt(&mut v, 0x82, self.scp03_keys.as_deref());
        opt(&mut v, 0x83, self.tls_cipher_suites.as_deref());
        let psk = self.max_psk_length.map(|b| vec![b]);
        opt(&mut v, 0x84, psk.as_deref());
        v.extend(self.other.iter().flat_map(Tlv::to_bytes));
        tlv(0xA0u8, &v)
    }
}

/// Card Capability Information (`67`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardCapability {
    /// `A0`, one per secure channel protocol.
    pub scps: Vec<ScpInformation>,
    /// `81`: privileges that can be granted to Supplementary Security Domains.
    pub ssd_privileges: Option<Privileges>,
    /// `82`: privileges that can be granted to applications.
    pub application_privileges: Option<Privileges>,
    /// `83`: Load File Data Block hash algorithms (see [`lfdb_hash_name`]).
    pub lfdb_hash_algorithms: Option<Vec<u8>>,
    /// `84`: cipher suites for Load File Data Block encryption (Table H-8).
    pub lfdb_encryption: Option<Vec<u8>>,
    /// `85`: cipher suites for tokens (Tables H-9, H-10).
    pub token_cipher_suites: Option<Vec<u8>>,
    /// `86`: cipher suites for receipts.
    pub receipt_cipher_suites: Option<Vec<u8>>,
    /// `87`: cipher suites for DAPs.
    pub dap_cipher_suites: Option<Vec<u8>>,
    /// `88`: key parameter reference list.
    pub key_parameter_references: Option<Vec<u8>>,
    /// Other objects, in order.
    pub other: Vec<Tlv>,
}

impl DataObject for CardCapability {
    const TAG: u16 = tags::CARD_CAPABILITY;

    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut out = Self::default();
        for el in elements(value, base)? {
            let raw = el.value.to_vec();
            match el.tag.value() {
                0xA0 => out.scps.push(ScpInformation::from_element(&el)?),
                0x81 => set(&mut out.ssd_privileges, &el, privileges(&el)?)?,
                0x82 => set(&mut out.application_privileges, &el, privileges(&el)?)?,
                0x83 => set(&mut out.lfdb_hash_algorithms, &el, raw)?,
                0x84 => set(&mut out.lfdb_encryption, &el, raw)?,
                0x85 => set(&mut out.token_cipher_suites, &el, raw)?,
                0x86 => set(&mut out.receipt_cipher_suites, &el, raw)?,
                0x87 => set(&mut out.dap_cipher_suites, &el, raw)?,
                0x88 => set(&mut out.key_parameter_references, &el, raw)?,
                _ => out.other.push(el.to_tlv()),
            }
        }
        Ok(out)
    }

    fn value(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self
            .scps
            .iter()
            .flat_map(ScpInformation::to_bytes)
            .collect();
        let ssd = self.ssd_privileges.map(|p| p.to_bytes());
        let app = self.application_privileges.map(|p| p.to_bytes());
        opt(&mut v, 0x81, ssd.as_deref());
        opt(&mut v, 0x82, app.as_deref());
        opt(&mut v, 0x83, self.lfdb_hash_algorithms.as_deref());
        opt(&mut v, 0x84, self.lfdb_encryption.as_deref());
        opt(&mut v, 0x85, self.token_cipher_suites.as_deref());
        opt(&mut v, 0x86, self.receipt_cipher_suites.as_deref());
        opt(&mut v, 0x87, self.dap_cipher_suites.as_deref());
        opt(&mut v, 0x88, self.key_parameter_references.as_deref());
        v.extend(self.other.iter().flat_map(Tlv::to_bytes));
        v
    }
}

fn privileges(el: &Element<'_>) -> Result<Privileges, GpError> {
    Privileges::from_bytes(el.value).map_err(|_| el.invalid("privileges are 1 or 3 bytes"))
}

fn set<T>(slot: &mut Option<T>, el: &Element<'_>, value: T) -> Result<(), GpError> {
    if slot.replace(value).is_some() {
        return Err(GpError::invalid(el.start, Some(el.tag), "repeated tag"));
    }
    Ok(())
}

fn opt(out: &mut Vec<u8>, tag: u8, value: Option<&[u8]>) {
    if let Some(v) = value {
        out.extend(tlv(tag, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::{h, hex_field, section};

    #[test]
    fn fixture_card_capability_67() {
        let entries = section("get_data_card_capability_67");
        if entries.is_empty() {
            return;
        }
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert!(entry["source"]
            .as_str()
            .unwrap()
            .starts_with("GlobalPlatformPro TestParseTags.java"));
        let bytes = hex_field(entry, "data");
        let cap = CardCapability::parse(&bytes).unwrap();
        // A0{80 SCP 03, 81 options 00 10 20 30 60 70, 82 keys 07 = AES-128/192/256}
        assert_eq!(cap.scps.len(), 2);
        assert_eq!(cap.scps[0].scp, 0x03);
        assert_eq!(cap.scps[0].options, h("001020306070"));
        assert_eq!(
            cap.scps[0].scp03_keys,
            Some(vec![
                scp03_keys::AES128 | scp03_keys::AES192 | scp03_keys::AES256
            ])
        );
        // A0{80 SCP 02, 81 options 15 55}
        assert_eq!(cap.scps[1].scp, 0x02);
        assert_eq!(cap.scps[1].options, h("1555"));
        assert_eq!(cap.scps[1].scp03_keys, None);
        // 81 SSD privileges FF9E00; 82 app privileges 1E1600
        assert_eq!(cap.ssd_privileges.unwrap().bytes(), [0xFF, 0x9E, 0x00]);
        assert_eq!(
            cap.application_privileges.unwrap().bytes(),
            [0x1E, 0x16, 0x00]
        );
        // 83 LFDBH 02 (SHA-256); 84 LFDB enc 8F; 85/86/87 signature suites FF02
        let hashes = cap.lfdb_hash_algorithms.clone().unwrap();
        assert_eq!(
            hashes
                .iter()
                .map(|&a| lfdb_hash_name(a))
                .collect::<Vec<_>>(),
            vec![Some("SHA-256")]
        );
        assert_eq!(cap.lfdb_encryption, Some(vec![0x8F]));
        for suites in [
            &cap.token_cipher_suites,
            &cap.receipt_cipher_suites,
            &cap.dap_cipher_suites,
        ] {
            assert_eq!(suites.as_deref(), Some(&[0xFF, 0x02][..]));
        }
        assert_eq!(cap.to_bytes(), bytes);
    }

    #[test]
    fn strictness() {
        assert!(CardCapability::parse(&h("6705 A003 810100")).is_err());
        assert!(CardCapability::parse(&h("6705 A003 800103")).is_err());
        assert!(CardCapability::parse(&h("6706 830101 830102")).is_err());
        assert!(CardCapability::parse(&h("6704 81020000")).is_err());
        assert!(CardCapability::parse(&h("6702 8301")).is_err());
        let empty = CardCapability::parse(&h("6700")).unwrap();
        assert_eq!(empty, CardCapability::default());
    }
}
