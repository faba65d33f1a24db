//! Card Data (`66`) and Card Recognition Data / Security Domain Management Data (`73`), GPCS
//! v2.3.1 Appendix H.2, H.3 (Tables H-1 to H-4).
//!
//! `73` holds the GlobalPlatform OID `{globalPlatform 1}`, then application tags with OIDs:
//! `60` card management type and version `{globalPlatform 2 v}`, `63` card identification
//! scheme `{globalPlatform 3}`, `64` secure channel protocol(s) `{globalPlatform 4 scp i}`
//! (format 1: one `64` per OID; format 2: one `64` with several OIDs), and optional `65`–`68`
//! kept as they are.
//!
//! Cards write `scp` and `i` of `{globalPlatform 4 scp i}` as two raw bytes rather than as OID
//! sub-identifiers; a sample with `80 00` (SCP80, i = 00) is not even a valid OID. Secure
//! channel entries are therefore read as the two bytes after the `{globalPlatform 4}` prefix,
//! as GlobalPlatformPro does.

use super::super::codec::{elements, single, Element};
use super::super::GpError;
use super::{tags, DataObject};
use crate::tlv::{tlv, Tlv};
use std::fmt;

/// The content bytes of the OID `{globalPlatform}` = 1.2.840.114283.
pub const GP_OID_PREFIX: [u8; 6] = [0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B];

/// An object identifier held as its BER content bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Oid(pub Vec<u8>);

impl Oid {
    /// `{globalPlatform suffix...}`, the suffix given as content bytes.
    pub fn gp(suffix: &[u8]) -> Self {
        Self([&GP_OID_PREFIX[..], suffix].concat())
    }

    /// The content bytes after `{globalPlatform}`, if the OID is under it.
    pub fn gp_suffix(&self) -> Option<&[u8]> {
        self.0.strip_prefix(&GP_OID_PREFIX[..])
    }

    /// The arcs, if the content bytes are a valid (minimal) BER encoding.
    pub fn arcs(&self) -> Option<Vec<u64>> {
        let mut arcs = Vec::new();
        let mut value: u64 = 0;
        let mut in_arc = false;
        for &b in &self.0 {
            if !in_arc && b == 0x80 {
                return None;
            }
            if value > u64::MAX >> 7 {
                return None;
            }
            value = (value << 7) | u64::from(b & 0x7F);
            in_arc = b & 0x80 != 0;
            if !in_arc {
                arcs.push(value);
                value = 0;
            }
        }
        if in_arc || arcs.is_empty() {
            return None;
        }
        let first = arcs[0];
        let (x, y) = match first {
            0..=39 => (0, first),
            40..=79 => (1, first - 40),
            _ => (2, first - 80),
        };
        arcs.splice(0..1, [x, y]);
        Some(arcs)
    }
}

/// Dotted notation, or the content bytes in hex when they are not a valid OID.
impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arcs() {
            Some(arcs) => {
                let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
                f.write_str(&parts.join("."))
            }
            None => write!(f, "0x{}", hex::encode_upper(&self.0)),
        }
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// A Secure Channel Protocol and its implementation option `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScpOption {
    pub scp: u8,
    pub i: u8,
}

impl ScpOption {
    /// `{globalPlatform 4 scp i}` with `scp` and `i` as raw bytes.
    pub fn to_oid(self) -> Oid {
        Oid::gp(&[0x04, self.scp, self.i])
    }

    /// The option named by a `{globalPlatform 4 scp i}` OID.
    pub fn from_oid(oid: &Oid) -> Option<Self> {
        match oid.gp_suffix()? {
            [0x04, scp, i] => Some(Self { scp: *scp, i: *i }),
            _ => None,
        }
    }
}

/// One data object of Card Recognition Data, in card order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecognitionItem {
    /// `06`: `{globalPlatform 1}`, the Card Recognition Data OID.
    RecognitionOid(Oid),
    /// `60`: card management type and version.
    CardManagement(Vec<Oid>),
    /// `63`: card identification scheme.
    IdentificationScheme(Vec<Oid>),
    /// `64`: secure channel protocol(s) and options.
    SecureChannels(Vec<Oid>),
    /// `65`–`68` and anything else, unchanged.
    Other(Tlv),
}

/// The content of template `73`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardRecognitionData {
    pub items: Vec<RecognitionItem>,
}

/// The tag of the Card Recognition Data template.
pub const TAG_RECOGNITION_DATA: u8 = 0x73;

impl CardRecognitionData {
    /// Format-1 data for a card of GlobalPlatform version `version` (e.g. `[2, 3]` for GPCS 2.3,
    /// coded `{globalPlatform 2 2 3}`) offering `scps`.
    pub fn new(version: &[u8], scps: &[ScpOption]) -> Self {
        let mut items = vec![
            RecognitionItem::RecognitionOid(Oid::gp(&[0x01])),
            RecognitionItem::CardManagement(vec![Oid::gp(&[&[0x02][..], version].concat())]),
            RecognitionItem::IdentificationScheme(vec![Oid::gp(&[0x03])]),
        ];
        items.extend(
            scps.iter()
                .map(|s| RecognitionItem::SecureChannels(vec![s.to_oid()])),
        );
        Self { items }
    }

    /// Decodes the value of `73`; `base` is its offset.
    pub fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut items = Vec::new();
        for el in elements(value, base)? {
            items.push(match el.tag.value() {
                0x06 => RecognitionItem::RecognitionOid(oid(&el)?),
                0x60 => RecognitionItem::CardManagement(oids(&el)?),
                0x63 => RecognitionItem::IdentificationScheme(oids(&el)?),
                0x64 => RecognitionItem::SecureChannels(oids(&el)?),
                _ => RecognitionItem::Other(el.to_tlv()),
            });
        }
        Ok(Self { items })
    }

    /// The value of `73`.
    pub fn value(&self) -> Vec<u8> {
        let oid_list = |tag: u8, list: &[Oid]| {
            let inner: Vec<u8> = list.iter().flat_map(|o| tlv(0x06u8, &o.0)).collect();
            tlv(tag, &inner)
        };
        self.items
            .iter()
            .flat_map(|item| match item {
                RecognitionItem::RecognitionOid(o) => tlv(0x06u8, &o.0),
                RecognitionItem::CardManagement(l) => oid_list(0x60, l),
                RecognitionItem::IdentificationScheme(l) => oid_list(0x63, l),
                RecognitionItem::SecureChannels(l) => oid_list(0x64, l),
                RecognitionItem::Other(t) => t.to_bytes(),
            })
            .collect()
    }

    /// Decodes a whole `73` TLV.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let el = single(bytes, TAG_RECOGNITION_DATA.into())?;
        Self::from_value(el.value, el.offset)
    }

    /// The `73` TLV.
    pub fn to_bytes(&self) -> Vec<u8> {
        tlv(TAG_RECOGNITION_DATA, &self.value())
    }

    /// Whether the `{globalPlatform 1}` OID is present.
    pub fn is_global_platform(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(i, RecognitionItem::RecognitionOid(o) if o.gp_suffix() == Some(&[0x01][..]))
        })
    }

    /// The GlobalPlatform version of `{globalPlatform 2 v}`, e.g. `2.2.1`.
    pub fn gp_version(&self) -> Option<String> {
        self.items.iter().find_map(|i| match i {
            RecognitionItem::CardManagement(list) => list.iter().find_map(|o| {
                let arcs = o.arcs()?;
                let v = arcs.strip_prefix(&[1, 2, 840, 114_283, 2][..])?;
                (!v.is_empty()).then(|| v.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
            }),
            _ => None,
        })
    }

    /// Every secure channel protocol option, in card order.
    pub fn scp_options(&self) -> Vec<ScpOption> {
        self.items
            .iter()
            .filter_map(|i| match i {
                RecognitionItem::SecureChannels(list) => Some(list),
                _ => None,
            })
            .flatten()
            .filter_map(ScpOption::from_oid)
            .collect()
    }
}

fn oid(el: &Element<'_>) -> Result<Oid, GpError> {
    if el.value.is_empty() {
        return Err(el.invalid("empty OID"));
    }
    Ok(Oid(el.value.to_vec()))
}

fn oids(el: &Element<'_>) -> Result<Vec<Oid>, GpError> {
    el.children()?
        .iter()
        .map(|c| {
            if c.tag.value() == 0x06 {
                oid(c)
            } else {
                Err(GpError::invalid(
                    c.start,
                    Some(c.tag),
                    "expected an OID (tag 06)",
                ))
            }
        })
        .collect()
}

/// Card Data (`66`): Card Recognition Data `73` and any other ISO/IEC 7816-6 objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardData {
    pub recognition: CardRecognitionData,
    /// Other objects, in order (encoded after `73`).
    pub other: Vec<Tlv>,
}

impl DataObject for CardData {
    const TAG: u16 = tags::CARD_DATA;

    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut recognition = None;
        let mut other = Vec::new();
        for el in elements(value, base)? {
            if el.tag.value() == u32::from(TAG_RECOGNITION_DATA) {
                let crd = CardRecognitionData::from_value(el.value, el.offset)?;
                if recognition.replace(crd).is_some() {
                    return Err(el.invalid("repeated Card Recognition Data"));
                }
            } else {
                other.push(el.to_tlv());
            }
        }
        let recognition = recognition.ok_or(GpError::invalid(
            base,
            Some(tags::CARD_DATA.into()),
            "Card Recognition Data (73) missing",
        ))?;
        Ok(Self { recognition, other })
    }

    fn value(&self) -> Vec<u8> {
        let mut out = self.recognition.to_bytes();
        out.extend(self.other.iter().flat_map(Tlv::to_bytes));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::{h, hex_field, section};

    fn scp(scp: u8, i: u8) -> ScpOption {
        ScpOption { scp, i }
    }

    #[test]
    fn fixtures_card_data_66() {
        // Expected meanings from the "decoded" notes of gp_tlv_examples.json, by source.
        let expected: [(&str, &str, Vec<ScpOption>); 3] = [
            (
                "GlobalPlatformPro library/src/test/java/pro/javacard/gp/test/TestParseTags.java",
                "2.1.1",
                vec![scp(0x02, 0x15)],
            ),
            ("same file", "2.2", vec![scp(0x03, 0x70), scp(0x80, 0x00)]),
            // The note names SCP02 i=55 only; the bytes carry the same `80 00` entry as above.
            (
                "chenpengcong/blog issue #31",
                "2.2",
                vec![scp(0x02, 0x55), scp(0x80, 0x00)],
            ),
        ];
        let entries = section("get_data_card_data_66");
        if entries.is_empty() {
            return;
        }
        assert_eq!(entries.len(), expected.len());
        for (entry, (source, version, scps)) in entries.iter().zip(expected) {
            assert!(entry["source"].as_str().unwrap().starts_with(source));
            let bytes = hex_field(entry, "data");
            let data = CardData::parse(&bytes).unwrap();
            let crd = &data.recognition;
            assert!(crd.is_global_platform(), "{source}");
            assert_eq!(crd.gp_version().as_deref(), Some(version), "{source}");
            assert_eq!(crd.scp_options(), scps, "{source}");
            assert_eq!(data.to_bytes(), bytes, "{source}");
        }
        // The first sample's chip details: OID 1.3.6.1.4.1.42.2.110.1.2 (Sun Java Card arc).
        let first = CardData::parse(&hex_field(&entries[0], "data")).unwrap();
        let chip = first
            .recognition
            .items
            .iter()
            .find_map(|i| match i {
                RecognitionItem::Other(t) if t.tag.value() == 0x66 => Some(t.clone()),
                _ => None,
            })
            .unwrap();
        let chip_oid = Oid(Tlv::parse(&chip.value).unwrap().value);
        assert_eq!(chip_oid.to_string(), "1.3.6.1.4.1.42.2.110.1.2");
        // The malformed second `64` of the second sample is not a valid OID but still an option.
        let second = CardData::parse(&hex_field(&entries[1], "data")).unwrap();
        let bad = Oid::gp(&[0x04, 0x80, 0x00]);
        assert!(bad.arcs().is_none());
        assert_eq!(bad.to_string(), "0x2A864886FC6B048000");
        assert!(second
            .recognition
            .items
            .contains(&RecognitionItem::SecureChannels(vec![bad])));
    }

    #[test]
    fn builds_format_1() {
        let crd = CardRecognitionData::new(&[2, 3], &[scp(0x03, 0x70)]);
        let bytes = crd.to_bytes();
        assert_eq!(
            bytes,
            h(
                "732E 06072A864886FC6B01 600B06092A864886FC6B020203 630906072A864886FC6B03 \
               640B06092A864886FC6B040370"
            )
        );
        let back = CardRecognitionData::parse(&bytes).unwrap();
        assert_eq!(back.gp_version().as_deref(), Some("2.3"));
        assert_eq!(back.scp_options(), vec![scp(0x03, 0x70)]);
        assert_eq!(back, crd);
    }

    #[test]
    fn strictness() {
        // `64` holding something other than an OID.
        let err = CardRecognitionData::parse(&h("7305 6403 040100")).unwrap_err();
        assert!(matches!(err, GpError::Invalid { offset: 4, .. }), "{err}");
        // Truncated inner OID: offset of the inner value.
        let err = CardRecognitionData::parse(&h("7304 6402 0603")).unwrap_err();
        assert!(matches!(err, GpError::Tlv(_)), "{err}");
        assert!(CardData::parse(&h("6603 060101")).is_err());
        assert!(CardData::parse(&h("66047300 7300")).is_err());
        assert!(CardData::parse(&h("66027300 00")).is_err());
        assert_eq!(
            Oid(h("2A864886FC6B")).arcs(),
            Some(vec![1, 2, 840, 114_283])
        );
        assert!(Oid(h("2A86")).arcs().is_none());
        assert!(Oid(vec![]).arcs().is_none());
    }
}
