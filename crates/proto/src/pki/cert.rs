//! The GlobalPlatform-style certificate of SGP.02 (tag `7F21`; SGP.02 Tables 76–78 for
//! CERT.DP.ECDSA / CERT.SR.ECDSA, the ECASD certificate of §2.3.2; field coding from GP Card
//! Specification Amendment A §3.3 and Amendment E).
//!
//! ```text
//! 7F21 L {
//!   93 L    certificate serial number                      mandatory
//!   42 L    CA identifier                                  mandatory
//!   5F20 L  subject identifier                             mandatory
//!   95 L    key usage (1 or 2 bytes)                       mandatory
//!   5F25 L  effective date, BCD YYYYMMDD (or YYMMDD)       optional
//!   5F24 L  expiration date, BCD YYYYMMDD (or YYMMDD)      mandatory
//!   45 L    ECASD image number (CERT.ECASD.ECKA only)      optional
//!   73 L    discretionary data (SM-DP: C8 01 01, SM-SR: C8 01 02)  optional
//!   7F49 L  public key { B0 04‖X‖Y, F0 01 <key parameter reference> }  mandatory
//!   5F37 L  signature r‖s by the issuer over every byte of the fields above
//! }
//! ```
//!
//! The decoder is strict: fields must come in this order, once each, with no unknown tag and
//! nothing after `5F37`; BER lengths must be minimal (so the signed bytes are exactly the
//! re-encoded fields).
//!
//! Readings where the public record is thin (shared/protocol/SGP02.md "Open points"): `45`
//! sits after the dates and before `73`; key usage is the two-byte form ([`KeyUsage`]); dates
//! are written `YYYYMMDD` and `YYMMDD` is read; `73` is kept as raw bytes (njiwa's EUM and CI
//! defaults `C0` and `00` are not BER-TLV); the CI certificate is self-signed in this format.

use super::keys::{EcdsaSignature, PrivateKey, PublicKey};
use super::PkiError;
use crate::tlv::{Tag, Tlv};
use std::fmt;

/// Tag of the whole certificate.
pub const TAG_CERTIFICATE: u16 = 0x7F21;
/// Tag of the signature.
pub const TAG_SIGNATURE: u16 = 0x5F37;

const TAG_SERIAL: u32 = 0x93;
const TAG_CA_ID: u32 = 0x42;
const TAG_SUBJECT_ID: u32 = 0x5F20;
const TAG_KEY_USAGE: u32 = 0x95;
const TAG_EFFECTIVE: u32 = 0x5F25;
const TAG_EXPIRY: u32 = 0x5F24;
const TAG_IMAGE_NUMBER: u32 = 0x45;
const TAG_DISCRETIONARY: u32 = 0x73;
const TAG_PUBLIC_KEY_TEMPLATE: u32 = 0x7F49;

/// The fields in the order they must appear, and whether each is mandatory.
const FIELD_ORDER: [(u32, bool); 9] = [
    (TAG_SERIAL, true),
    (TAG_CA_ID, true),
    (TAG_SUBJECT_ID, true),
    (TAG_KEY_USAGE, true),
    (TAG_EFFECTIVE, false),
    (TAG_EXPIRY, true),
    (TAG_IMAGE_NUMBER, false),
    (TAG_DISCRETIONARY, false),
    (TAG_PUBLIC_KEY_TEMPLATE, true),
];

/// The key usage field `95` (GPCS Table 11-17 for the first byte, GP Amendment E Table 3-5 for
/// the two-byte form). SGP.02 certificates use the two-byte form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyUsage {
    value: u16,
    two_bytes: bool,
}

impl KeyUsage {
    /// `00 82`: digital signature verification (CERT.CI.ECDSA, CERT.EUM.ECDSA, CERT.DP.ECDSA,
    /// CERT.SR.ECDSA). `82` = verification (b8) for a digital signature (b2), GPCS Table 11-17,
    /// as njiwa's `DST_VERIFY_KEY_TYPE`.
    pub const SIGNATURE_VERIFICATION: Self = Self {
        value: 0x0082,
        two_bytes: true,
    };
    /// `00 80`: key agreement (CERT.ECASD.ECKA), GP Amendment E Table 3-5, SGP.02 v3.1 Table 23
    /// as quoted by njiwa (`KEYAGREEMENT = 0x0080`).
    pub const KEY_AGREEMENT: Self = Self {
        value: 0x0080,
        two_bytes: true,
    };

    /// Decodes one or two bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PkiError> {
        match *bytes {
            [b] => Ok(Self {
                value: u16::from(b),
                two_bytes: false,
            }),
            [a, b] => Ok(Self {
                value: u16::from_be_bytes([a, b]),
                two_bytes: true,
            }),
            _ => Err(PkiError::BadValue {
                tag: Tag::new(TAG_KEY_USAGE),
                reason: "key usage has one or two bytes",
            }),
        }
    }

    pub fn to_bytes(self) -> Vec<u8> {
        let b = self.value.to_be_bytes();
        if self.two_bytes {
            b.to_vec()
        } else {
            vec![b[1]]
        }
    }

    /// The numeric value (a one-byte usage `xx` reads as `00xx`).
    pub fn value(self) -> u16 {
        self.value
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.to_bytes()))
    }
}

impl fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyUsage({self})")
    }
}

/// A BCD date of tag `5F25`/`5F24`: `YYYYMMDD` (4 bytes, written by SGP.02 servers) or the
/// `YYMMDD` form (3 bytes, years 2000–2099) that some readers expect; the form read is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BcdDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    /// Whether the date is coded `YYMMDD` (3 bytes).
    pub short: bool,
}

impl BcdDate {
    /// A `YYYYMMDD` date; fails for a year above 9999, a month outside 1–12 or a day outside 1–31.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, PkiError> {
        let date = Self {
            year,
            month,
            day,
            short: false,
        };
        date.check(Tag::new(TAG_EXPIRY))?;
        Ok(date)
    }

    fn check(&self, tag: Tag) -> Result<(), PkiError> {
        let ok = self.year <= 9999
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && (!self.short || (2000..=2099).contains(&self.year));
        if ok {
            Ok(())
        } else {
            Err(PkiError::BadValue {
                tag,
                reason: "not a valid BCD date",
            })
        }
    }

    fn decode(tag: Tag, bytes: &[u8]) -> Result<Self, PkiError> {
        let bad = PkiError::BadValue {
            tag,
            reason: "a date is BCD YYYYMMDD (4 bytes) or YYMMDD (3 bytes)",
        };
        let mut digits = Vec::with_capacity(8);
        for &b in bytes {
            let (hi, lo) = (b >> 4, b & 0x0F);
            if hi > 9 || lo > 9 {
                return Err(bad);
            }
            digits.push(u16::from(hi));
            digits.push(u16::from(lo));
        }
        let num = |d: &[u16]| d.iter().fold(0u16, |acc, &x| acc * 10 + x);
        let (year, rest, short) = match digits.len() {
            8 => (num(&digits[..4]), &digits[4..], false),
            6 => (2000 + num(&digits[..2]), &digits[2..], true),
            _ => return Err(bad),
        };
        let date = Self {
            year,
            month: u8::try_from(num(&rest[..2])).map_err(|_| bad.clone())?,
            day: u8::try_from(num(&rest[2..])).map_err(|_| bad.clone())?,
            short,
        };
        date.check(tag)?;
        Ok(date)
    }

    fn encode(&self) -> Vec<u8> {
        let bcd = |v: u16| -> u8 {
            let v = v % 100;
            u8::try_from(((v / 10) << 4) | (v % 10)).unwrap_or(0)
        };
        let (month, day) = (u16::from(self.month), u16::from(self.day));
        if self.short {
            vec![bcd(self.year), bcd(month), bcd(day)]
        } else {
            vec![bcd(self.year / 100), bcd(self.year), bcd(month), bcd(day)]
        }
    }
}

/// The certificate holder's role from the discretionary data `73 { C8 01 <type> }` (SGP.02
/// Table 39 for the SM-SR, Table 77 for the SM-DP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityType {
    /// `01`.
    SmDp,
    /// `02`.
    SmSr,
    /// Any other value.
    Other(u8),
}

impl EntityType {
    pub fn code(self) -> u8 {
        match self {
            Self::SmDp => 0x01,
            Self::SmSr => 0x02,
            Self::Other(c) => c,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code {
            0x01 => Self::SmDp,
            0x02 => Self::SmSr,
            c => Self::Other(c),
        }
    }

    /// The discretionary data value `C8 01 <type>`.
    pub fn discretionary_data(self) -> Vec<u8> {
        Tlv::new(0xC8u8, vec![self.code()]).to_bytes()
    }
}

/// Everything in a certificate except its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateBody {
    /// `93`.
    pub serial: Vec<u8>,
    /// `42`: the issuer's identifier.
    pub ca_id: Vec<u8>,
    /// `5F20`: the holder's identifier (the EID for an ECASD certificate).
    pub subject_id: Vec<u8>,
    /// `95`.
    pub key_usage: KeyUsage,
    /// `5F25`.
    pub effective: Option<BcdDate>,
    /// `5F24`.
    pub expiry: BcdDate,
    /// `45`: ECASD image number.
    pub image_number: Option<Vec<u8>>,
    /// `73`: the raw value (usually BER-TLV objects such as `C8 01 01`).
    pub discretionary: Option<Vec<u8>>,
    /// `7F49`.
    pub public_key: PublicKey,
}

impl CertificateBody {
    /// The signed bytes: the concatenated TLVs `93` … `7F49`.
    pub fn to_signed_data(&self) -> Vec<u8> {
        let mut fields = vec![
            Tlv::new(TAG_SERIAL, self.serial.clone()),
            Tlv::new(TAG_CA_ID, self.ca_id.clone()),
            Tlv::new(TAG_SUBJECT_ID, self.subject_id.clone()),
            Tlv::new(TAG_KEY_USAGE, self.key_usage.to_bytes()),
        ];
        if let Some(date) = &self.effective {
            fields.push(Tlv::new(TAG_EFFECTIVE, date.encode()));
        }
        fields.push(Tlv::new(TAG_EXPIRY, self.expiry.encode()));
        if let Some(image) = &self.image_number {
            fields.push(Tlv::new(TAG_IMAGE_NUMBER, image.clone()));
        }
        if let Some(data) = &self.discretionary {
            fields.push(Tlv::new(TAG_DISCRETIONARY, data.clone()));
        }
        fields.push(self.public_key.to_template());
        fields.iter().flat_map(Tlv::to_bytes).collect()
    }

    /// Signs the body with the issuer's key.
    pub fn sign(self, issuer: &PrivateKey) -> Certificate {
        let signature = issuer.sign(&self.to_signed_data());
        Certificate {
            body: self,
            signature,
        }
    }

    /// The holder's role from `73 { C8 01 xx }`, if the discretionary data carries one.
    pub fn entity_type(&self) -> Option<EntityType> {
        let data = self.discretionary.as_ref()?;
        let objects = Tlv::parse_all(data).ok()?;
        let c8 = objects.iter().find(|t| t.tag == Tag::new(0xC8))?;
        match c8.value.as_slice() {
            [code] => Some(EntityType::from_code(*code)),
            _ => None,
        }
    }
}

/// A signed `7F21` certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub body: CertificateBody,
    /// `5F37`.
    pub signature: EcdsaSignature,
}

impl Certificate {
    /// The `7F21` TLV.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut value = self.body.to_signed_data();
        value.extend(Tlv::new(TAG_SIGNATURE, self.signature.0.to_vec()).to_bytes());
        Tlv::new(TAG_CERTIFICATE, value).to_bytes()
    }

    /// Decodes exactly one `7F21` certificate (see the module documentation for the rules).
    pub fn decode(bytes: &[u8]) -> Result<Self, PkiError> {
        let outer = Tlv::parse_expect(bytes, TAG_CERTIFICATE)?;
        let base = bytes.len() - outer.value.len();
        let value = &outer.value;
        let mut at = 0;
        let mut next_field = 0;
        let mut fields: [Option<Vec<u8>>; 9] = Default::default();
        let mut signature = None;
        while at < value.len() {
            let (tlv, used) = Tlv::parse_prefix(&value[at..]).map_err(|e| e.shifted(base + at))?;
            let offset = base + at;
            at += used;
            if signature.is_some() {
                return Err(layout(
                    offset,
                    tlv.tag,
                    "nothing may follow the signature 5F37",
                ));
            }
            if tlv.tag == Tag::from(TAG_SIGNATURE) {
                signature = Some(EcdsaSignature::from_slice(&tlv.value)?);
                continue;
            }
            let Some(index) = FIELD_ORDER
                .iter()
                .position(|(t, _)| Tag::new(*t) == tlv.tag)
            else {
                return Err(layout(
                    offset,
                    tlv.tag,
                    "tag not allowed in a 7F21 certificate",
                ));
            };
            if index < next_field {
                return Err(layout(offset, tlv.tag, "field repeated or out of order"));
            }
            next_field = index + 1;
            fields[index] = Some(tlv.value);
        }
        for ((tag, required), value) in FIELD_ORDER.iter().zip(&fields) {
            if *required && value.is_none() {
                return Err(layout(
                    bytes.len(),
                    Tag::new(*tag),
                    "mandatory field missing",
                ));
            }
        }
        let signature = signature
            .ok_or_else(|| layout(bytes.len(), Tag::from(TAG_SIGNATURE), "signature missing"))?;
        let [serial, ca_id, subject_id, key_usage, effective, expiry, image_number, discretionary, public_key] =
            fields;
        let non_empty = |tag: u32, v: Vec<u8>| {
            if v.is_empty() {
                Err(PkiError::BadValue {
                    tag: Tag::new(tag),
                    reason: "must not be empty",
                })
            } else {
                Ok(v)
            }
        };
        let serial = non_empty(TAG_SERIAL, serial.unwrap_or_default())?;
        let ca_id = non_empty(TAG_CA_ID, ca_id.unwrap_or_default())?;
        let subject_id = non_empty(TAG_SUBJECT_ID, subject_id.unwrap_or_default())?;
        let key_usage = KeyUsage::from_bytes(&key_usage.unwrap_or_default())?;
        let effective = effective
            .map(|v| BcdDate::decode(Tag::new(TAG_EFFECTIVE), &v))
            .transpose()?;
        let expiry = BcdDate::decode(Tag::new(TAG_EXPIRY), &expiry.unwrap_or_default())?;
        let public_key = PublicKey::from_template_value(&public_key.unwrap_or_default())?;
        Ok(Self {
            body: CertificateBody {
                serial,
                ca_id,
                subject_id,
                key_usage,
                effective,
                expiry,
                image_number,
                discretionary,
                public_key,
            },
            signature,
        })
    }

    /// Checks the signature with the issuer's public key.
    pub fn verify(&self, issuer: &PublicKey) -> Result<(), PkiError> {
        issuer.verify(&self.body.to_signed_data(), &self.signature)
    }

    /// Checks the signature and that the key usage is `usage`.
    pub fn verify_for(&self, issuer: &PublicKey, usage: KeyUsage) -> Result<(), PkiError> {
        self.verify(issuer)?;
        if self.body.key_usage.value() != usage.value() {
            return Err(PkiError::WrongKeyUsage {
                expected: usage,
                found: self.body.key_usage,
            });
        }
        Ok(())
    }

    /// The holder's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.body.public_key
    }
}

fn layout(offset: usize, tag: Tag, reason: &'static str) -> PkiError {
    PkiError::Layout {
        offset,
        tag,
        reason,
    }
}

#[cfg(test)]
mod tests;
