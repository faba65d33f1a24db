//! GET DATA (GPCS v2.3.1 §11.3) and the data objects a Security Domain returns.
//!
//! With a GlobalPlatform class byte (b8 = 1) the response is the whole TLV object; with an ISO
//! class byte only its value (§11.3.3.1), although many cards send the TLV there too (an eUICC
//! ECASD answers `00 CA 00 5A 00` with `5A 10 <EID>`): [`GetData::value_of`] accepts both.
//!
//! Typed objects implement [`DataObject`]: [`card_recognition::CardData`] (`66`),
//! [`card_capability::CardCapability`] (`67`), [`key_info::KeyInformationTemplate`] (`E0`),
//! [`cplc::Cplc`] (`9F7F`), [`ExtendedCardResources`] (`FF21`, ETSI TS 102 226 §8.2.1.7.2),
//! [`Iin`] (`42`), [`Cin`] (`45`), [`Eid`] (`5A`), [`SequenceCounter`] (`C1`) and
//! [`CurrentSecurityLevel`] (`D3`).

pub mod card_capability;
pub mod card_recognition;
pub mod cplc;
pub mod key_info;

use super::codec::{be_uint, check_short, elements, expect_ins, minimal_be, single, Element};
use super::{GpError, CLA_GP, CLA_ISO};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use crate::tlv::{tlv, Tag, Tlv};

/// INS of GET DATA (even).
pub const INS_GET_DATA: u8 = 0xCA;
/// INS of GET DATA (odd, ISO class only).
pub const INS_GET_DATA_ODD: u8 = 0xCB;

/// Tags of the data objects GET DATA is used for.
pub mod tags {
    /// Issuer Identification Number / SD Provider Identification Number.
    pub const IIN: u16 = 0x0042;
    /// Card Image Number / SD Image Number.
    pub const CIN: u16 = 0x0045;
    /// eUICC identifier (ECASD, SGP.02).
    pub const EID: u16 = 0x005A;
    /// Card Data (Card Recognition Data) / SD Management Data.
    pub const CARD_DATA: u16 = 0x0066;
    /// Card Capability Information.
    pub const CARD_CAPABILITY: u16 = 0x0067;
    /// Sequence Counter of the default Key Version Number.
    pub const SEQUENCE_COUNTER: u16 = 0x00C1;
    /// Confirmation Counter.
    pub const CONFIRMATION_COUNTER: u16 = 0x00C2;
    /// Key diversification data (not GPCS; read by tools for SCP02/SCP03 KDD).
    pub const KEY_DIVERSIFICATION_DATA: u16 = 0x00CF;
    /// Current Security Level.
    pub const CURRENT_SECURITY_LEVEL: u16 = 0x00D3;
    /// Key Information Template.
    pub const KEY_INFORMATION: u16 = 0x00E0;
    /// List of Applications (data field `5C 00`).
    pub const LIST_OF_APPLICATIONS: u16 = 0x2F00;
    /// Security Domain Manager URL.
    pub const SD_MANAGER_URL: u16 = 0x5F50;
    /// Card Production Life Cycle data (not GPCS; Visa/GP card convention).
    pub const CPLC: u16 = 0x9F7F;
    /// Extended Card Resources Information (ETSI TS 102 226).
    pub const EXTENDED_CARD_RESOURCES: u16 = 0xFF21;
}

/// A GET DATA command: `80 CA P1 P2 [Lc data] 00`, P1 P2 being the tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetData {
    /// The tag asked for (P1 P2; P1 = `00` for one-byte tags).
    pub tag: u16,
    /// ISO class (`00`) instead of GlobalPlatform class (`80`).
    pub iso_class: bool,
    /// The odd instruction `CB` (ISO class only).
    pub odd_ins: bool,
    /// Tag list (`5C 00` for `2F00`), empty otherwise.
    pub data: Vec<u8>,
}

impl GetData {
    /// GET DATA with the GlobalPlatform class.
    pub fn new(tag: u16) -> Self {
        Self {
            tag,
            iso_class: false,
            odd_ins: false,
            data: Vec::new(),
        }
    }

    /// GET DATA with the ISO class (`00 CA`).
    pub fn iso(tag: u16) -> Self {
        Self {
            iso_class: true,
            ..Self::new(tag)
        }
    }

    /// GET DATA [List of Applications]: `80 CA 2F 00 02 5C 00 00`.
    pub fn list_of_applications() -> Self {
        Self {
            data: vec![0x5C, 0x00],
            ..Self::new(tags::LIST_OF_APPLICATIONS)
        }
    }

    /// The tag as a [`Tag`].
    pub fn tlv_tag(&self) -> Tag {
        Tag::new(u32::from(self.tag))
    }

    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        check_short(&self.data, "GET DATA tag list")?;
        let [p1, p2] = self.tag.to_be_bytes();
        let cla = if self.iso_class { CLA_ISO } else { CLA_GP };
        let ins = if self.odd_ins {
            INS_GET_DATA_ODD
        } else {
            INS_GET_DATA
        };
        Ok(CommandApdu::new(cla, ins, p1, p2)
            .with_data(self.data.clone())
            .with_le(SHORT_LE_MAX))
    }

    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        let odd_ins = apdu.ins == INS_GET_DATA_ODD;
        if !odd_ins {
            expect_ins(apdu, INS_GET_DATA)?;
        }
        let iso_class = apdu.cla & 0x80 == 0;
        if odd_ins && !iso_class {
            return Err(GpError::params(
                "GET DATA",
                apdu,
                "INS CB needs an ISO class byte",
            ));
        }
        Ok(Self {
            tag: u16::from_be_bytes([apdu.p1, apdu.p2]),
            iso_class,
            odd_ins,
            data: apdu.data.clone(),
        })
    }

    /// The value of the data object in the response data: the TLV's value for the GP class; for
    /// the ISO class the TLV's value if the data is exactly that TLV, else the data itself.
    pub fn value_of<'a>(&self, response: &'a [u8]) -> Result<&'a [u8], GpError> {
        match single(response, self.tlv_tag()) {
            Ok(el) => Ok(el.value),
            Err(_) if self.iso_class => Ok(response),
            Err(e) => Err(e),
        }
    }

    /// The response data for `value` as the spec codes it for this class byte.
    pub fn response(&self, value: &[u8]) -> Vec<u8> {
        if self.iso_class {
            value.to_vec()
        } else {
            tlv(self.tlv_tag(), value)
        }
    }
}

/// A data object with a fixed tag, decoded from (and encoded to) its TLV.
pub trait DataObject: Sized {
    /// The object's tag.
    const TAG: u16;

    /// Decodes the value; `base` is the value's offset for error messages.
    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError>;

    /// Encodes the value.
    fn value(&self) -> Vec<u8>;

    /// Decodes exactly one TLV with [`Self::TAG`].
    fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let el = single(bytes, Tag::new(u32::from(Self::TAG)))?;
        Self::from_value(el.value, el.offset)
    }

    /// The TLV.
    fn to_bytes(&self) -> Vec<u8> {
        tlv(Tag::new(u32::from(Self::TAG)), &self.value())
    }
}

macro_rules! raw_object {
    ($(#[$doc:meta])* $name:ident, $tag:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(pub Vec<u8>);

        impl DataObject for $name {
            const TAG: u16 = $tag;
            fn from_value(value: &[u8], _base: usize) -> Result<Self, GpError> {
                Ok(Self(value.to_vec()))
            }
            fn value(&self) -> Vec<u8> {
                self.0.clone()
            }
        }
    };
}

raw_object!(
    /// Issuer Identification Number (`42`).
    Iin,
    tags::IIN
);
raw_object!(
    /// Card Image Number (`45`).
    Cin,
    tags::CIN
);

/// The eUICC identifier (`5A`, 16 bytes, 32 decimal digits), held by the ECASD.
///
/// Its text form is the 32 digits ([`std::fmt::Display`], upper-case hex nibbles so that any 16
/// bytes a card returns print); [`std::str::FromStr`] and serde read it back (hex digits of
/// either case). Whether the digits are decimal, as SGP.02 has them, is for the caller to check
/// where an EID comes from a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Eid(pub [u8; 16]);

impl Eid {
    /// An EID from its 32 hex digits (either case): the inverse of its [`std::fmt::Display`].
    pub fn from_hex(text: &str) -> Result<Self, GpError> {
        if text.len() != 32 {
            return Err(GpError::EidLength(text.chars().count()));
        }
        let bytes = hex::decode(text).map_err(|_| GpError::BadHex(text.to_owned()))?;
        bytes
            .try_into()
            .map(Self)
            .map_err(|b: Vec<u8>| GpError::EidLength(2 * b.len()))
    }
}

impl Eid {
    /// Whether the 32 digits are decimal and end in valid check digits (SGP.29 §10, SGP.02
    /// Annex J: ISO/IEC 7064 MOD 97-10, the whole number congruent to 1 modulo 97).
    pub fn check_digits_valid(&self) -> bool {
        let text = hex::encode(self.0);
        let digits = text.as_bytes();
        digits.iter().all(u8::is_ascii_digit)
            && (digits[30] - b'0') * 10 + (digits[31] - b'0') == eid_check_digits(&digits[..30])
    }
}

/// ISO/IEC 7064 MOD 97-10 check digits of an EID's 30 leading digits (ASCII):
/// `98 - (digits‖00 mod 97)`.
pub fn eid_check_digits(leading: &[u8]) -> u8 {
    let m = leading.iter().fold(0u32, |acc, d| {
        (acc * 10 + u32::from(d.wrapping_sub(b'0') % 10)) % 97
    });
    u8::try_from(98 - (m * 100) % 97).unwrap_or_default()
}

impl std::str::FromStr for Eid {
    type Err = GpError;
    fn from_str(s: &str) -> Result<Self, GpError> {
        Self::from_hex(s)
    }
}

impl serde::Serialize for Eid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Eid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl DataObject for Eid {
    const TAG: u16 = tags::EID;
    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        value
            .try_into()
            .map(Self)
            .map_err(|_| GpError::invalid(base, Some(Tag::new(0x5A)), "EID must be 16 bytes"))
    }
    fn value(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl std::fmt::Display for Eid {
    /// The 32 digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

/// Sequence Counter of the default Key Version Number (`C1`): 2 bytes (SCP02) or 3 (SCP03).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceCounter {
    pub value: u32,
    /// Encoded length in bytes (1–4).
    pub width: u8,
}

impl DataObject for SequenceCounter {
    const TAG: u16 = tags::SEQUENCE_COUNTER;
    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let el = element(Self::TAG, value, base);
        Ok(Self {
            value: be_uint(&el)?,
            width: u8::try_from(value.len()).unwrap_or(4),
        })
    }
    fn value(&self) -> Vec<u8> {
        let width = usize::from(self.width.clamp(1, 4));
        self.value.to_be_bytes()[4 - width..].to_vec()
    }
}

/// Current Security Level (`D3`, one byte coded as in SCP03 `EXTERNAL AUTHENTICATE` P1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentSecurityLevel(pub u8);

impl DataObject for CurrentSecurityLevel {
    const TAG: u16 = tags::CURRENT_SECURITY_LEVEL;
    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        element(Self::TAG, value, base).single_byte().map(Self)
    }
    fn value(&self) -> Vec<u8> {
        vec![self.0]
    }
}

/// Extended Card Resources Information (`FF21`, ETSI TS 102 226 §8.2.1.7.2), read by the
/// SGP.02 AuditEIS: `81` number of installed applications, `82` free non-volatile memory,
/// `83` free volatile memory, each a big-endian integer of 1–4 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtendedCardResources {
    pub installed_applications: Option<u32>,
    pub free_non_volatile_memory: Option<u32>,
    pub free_volatile_memory: Option<u32>,
    /// Other objects, in order.
    pub other: Vec<Tlv>,
}

impl DataObject for ExtendedCardResources {
    const TAG: u16 = tags::EXTENDED_CARD_RESOURCES;
    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        let mut out = Self::default();
        for el in elements(value, base)? {
            let slot = match el.tag.value() {
                0x81 => &mut out.installed_applications,
                0x82 => &mut out.free_non_volatile_memory,
                0x83 => &mut out.free_volatile_memory,
                _ => {
                    out.other.push(el.to_tlv());
                    continue;
                }
            };
            if slot.replace(be_uint(&el)?).is_some() {
                return Err(el.invalid("repeated tag"));
            }
        }
        Ok(out)
    }
    fn value(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, v) in [
            (0x81u8, self.installed_applications),
            (0x82, self.free_non_volatile_memory),
            (0x83, self.free_volatile_memory),
        ] {
            if let Some(v) = v {
                out.extend(tlv(tag, &minimal_be(v)));
            }
        }
        out.extend(self.other.iter().flat_map(Tlv::to_bytes));
        out
    }
}

/// An [`Element`] for a value decoded on its own (errors name `tag` and `base`).
fn element(tag: u16, value: &[u8], base: usize) -> Element<'_> {
    Element {
        tag: Tag::new(u32::from(tag)),
        value,
        start: base,
        offset: base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::h;

    #[test]
    fn commands() {
        let cases = [
            (GetData::new(tags::CARD_DATA), "80CA006600"),
            (GetData::new(tags::CPLC), "80CA9F7F00"),
            (GetData::iso(tags::CPLC), "00CA9F7F00"),
            (GetData::iso(tags::EID), "00CA005A00"),
            (GetData::new(tags::EXTENDED_CARD_RESOURCES), "80CAFF2100"),
            (GetData::list_of_applications(), "80CA2F00025C0000"),
        ];
        for (cmd, bytes) in cases {
            let apdu = cmd.to_apdu().unwrap();
            assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
            assert_eq!(GetData::from_apdu(&apdu).unwrap(), cmd);
        }
        let odd = GetData {
            odd_ins: true,
            ..GetData::iso(tags::LIST_OF_APPLICATIONS)
        };
        assert_eq!(GetData::from_apdu(&odd.to_apdu().unwrap()).unwrap(), odd);
        let bad = CommandApdu::new(0x80, INS_GET_DATA_ODD, 0, 0x66).with_le(256);
        assert!(matches!(
            GetData::from_apdu(&bad),
            Err(GpError::WrongParameters { .. })
        ));
        let other = CommandApdu::new(0x80, 0xF2, 0x80, 0x02);
        assert!(matches!(
            GetData::from_apdu(&other),
            Err(GpError::WrongInstruction { .. })
        ));
    }

    #[test]
    fn response_value_by_class() {
        let eid = h("5A1089049032123451234512345678901235");
        // pySim CardProfileEuiccSGP02: the ECASD returns the TLV even for the ISO class.
        let iso = GetData::iso(tags::EID);
        assert_eq!(iso.value_of(&eid).unwrap(), &eid[2..]);
        assert_eq!(iso.value_of(&eid[2..]).unwrap(), &eid[2..]);
        let gp = GetData::new(tags::EID);
        assert_eq!(gp.value_of(&eid).unwrap(), &eid[2..]);
        assert!(gp.value_of(&eid[2..]).is_err());
        assert!(gp.value_of(&[eid.clone(), vec![0]].concat()).is_err());
        assert_eq!(gp.response(&eid[2..]), eid);
        assert_eq!(iso.response(&eid[2..]), &eid[2..]);
        let parsed = Eid::parse(&eid).unwrap();
        assert_eq!(parsed.to_string(), "89049032123451234512345678901235");
        assert_eq!(parsed.to_bytes(), eid);
        assert!(Eid::parse(&h("5A0189")).is_err());
    }

    #[test]
    fn eid_text_and_serde_round_trip() {
        let eid: Eid = "89049032123451234512345678901235".parse().unwrap();
        assert_eq!(eid.0[0], 0x89);
        assert_eq!(eid.to_string(), "89049032123451234512345678901235");
        // Any 16 bytes print and read back; lower case reads too.
        let odd = Eid([0xAB; 16]);
        assert_eq!(odd.to_string().parse::<Eid>().unwrap(), odd);
        assert_eq!(Eid::from_hex(&"ab".repeat(16)).unwrap(), odd);
        assert_eq!(Eid::from_hex("8904"), Err(GpError::EidLength(4)));
        assert_eq!(Eid::from_hex(&"8".repeat(33)), Err(GpError::EidLength(33)));
        assert!(matches!(
            Eid::from_hex(&"Z".repeat(32)),
            Err(GpError::BadHex(_))
        ));
        // Multi-byte characters are counted as characters, never split.
        assert!(Eid::from_hex(&"é".repeat(16)).is_err());
        let json = serde_json::to_string(&eid).unwrap();
        assert_eq!(json, "\"89049032123451234512345678901235\"");
        assert_eq!(serde_json::from_str::<Eid>(&json).unwrap(), eid);
        assert!(serde_json::from_str::<Eid>("\"8904\"").is_err());
        assert!(serde_json::from_str::<Eid>("42").is_err());
    }

    #[test]
    fn small_objects() {
        let c1 = SequenceCounter::parse(&h("C103000015")).unwrap();
        assert_eq!((c1.value, c1.width), (0x15, 3));
        assert_eq!(c1.to_bytes(), h("C103000015"));
        assert!(SequenceCounter::parse(&h("C100")).is_err());
        let d3 = CurrentSecurityLevel::parse(&h("D30133")).unwrap();
        assert_eq!(d3, CurrentSecurityLevel(0x33));
        assert!(CurrentSecurityLevel::parse(&h("D3020000")).is_err());
        let iin = Iin::parse(&h("4203123456")).unwrap();
        assert_eq!(iin.0, h("123456"));
        assert_eq!(Cin::parse(&h("4500")).unwrap().to_bytes(), h("4500"));
    }

    #[test]
    fn extended_card_resources() {
        // Layout per ETSI TS 102 226 §8.2.1.7.2 as decoded by the njiwa AuditEIS.
        let bytes = h("FF210C81010382030100008302 0800");
        let r = ExtendedCardResources::parse(&bytes).unwrap();
        assert_eq!(r.installed_applications, Some(3));
        assert_eq!(r.free_non_volatile_memory, Some(0x010000));
        assert_eq!(r.free_volatile_memory, Some(0x0800));
        assert_eq!(r.to_bytes(), bytes);
        assert!(ExtendedCardResources::parse(&h("FF2106810101810102")).is_err());
        assert!(ExtendedCardResources::parse(&h("FF21028100")).is_err());
        let err = ExtendedCardResources::parse(&h("FF2103810201")).unwrap_err();
        assert!(matches!(err, GpError::Tlv(_)), "{err}");
    }
}
