//! ETSI TS 102 226 §5.2.2 response scripts: the Response Scripting template (`AB L …` or
//! `AF 80 … 00 00`) with the number of executed command TLVs (`80 01 n`) first, then one response
//! TLV per executed command (`23` R-APDU, `81` immediate action response, the SCP03t answers)
//! and a bad format TLV (`90 01 xx`) when the command script could not be read.

use super::script::{
    tlvs_with_offsets, unwrap_template, wrap, LengthForm, ScriptError, RAW_RESPONSE_TAGS,
    TAG_BAD_FORMAT, TAG_EXECUTED_COUNT, TAG_IMMEDIATE_ACTION, TAG_RESPONSE_SCRIPT,
    TAG_RESPONSE_SCRIPT_INDEFINITE, TAG_R_APDU,
};
use crate::apdu::ResponseApdu;
use crate::tlv::{Tag, Tlv, TlvError};

/// Bad format TLV values (TS 102 226 §5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BadFormat {
    /// `01`: unknown tag found.
    UnknownTag,
    /// `02`: wrong length found.
    WrongLength,
    /// `03`: length not found.
    LengthNotFound,
    /// Any other (RFU) value.
    Other(u8),
}

impl BadFormat {
    /// The value byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::UnknownTag => 0x01,
            Self::WrongLength => 0x02,
            Self::LengthNotFound => 0x03,
            Self::Other(b) => b,
        }
    }

    /// Decodes a value byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0x01 => Self::UnknownTag,
            0x02 => Self::WrongLength,
            0x03 => Self::LengthNotFound,
            other => Self::Other(other),
        }
    }

    /// How a card reports a script that failed to parse with `e`.
    pub fn for_error(e: &ScriptError) -> Self {
        match e {
            ScriptError::UnknownTag { .. } | ScriptError::Tlv(TlvError::TagTooLong { .. }) => {
                Self::UnknownTag
            }
            ScriptError::Tlv(TlvError::Truncated { what, .. }) if *what != "value" => {
                Self::LengthNotFound
            }
            ScriptError::MissingEndOfContents => Self::LengthNotFound,
            _ => Self::WrongLength,
        }
    }
}

/// One response TLV of a response script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseTlv {
    /// `23`: the R-APDU of an executed C-APDU.
    Apdu(ResponseApdu),
    /// `81`: an immediate action response (value kept as sent).
    ImmediateActionResponse(Vec<u8>),
    /// `90`: the script was badly formatted.
    BadFormat(BadFormat),
    /// One of [`RAW_RESPONSE_TAGS`] (SCP03t answers), passed through.
    Raw(Tlv),
}

impl ResponseTlv {
    /// The TLV encoding.
    pub fn to_tlv(&self) -> Tlv {
        match self {
            Self::Apdu(r) => Tlv::new(TAG_R_APDU, r.to_bytes()),
            Self::ImmediateActionResponse(v) => Tlv::new(TAG_IMMEDIATE_ACTION, v.clone()),
            Self::BadFormat(b) => Tlv::new(TAG_BAD_FORMAT, vec![b.to_byte()]),
            Self::Raw(t) => t.clone(),
        }
    }

    fn from_tlv(tlv: Tlv, offset: usize) -> Result<Self, ScriptError> {
        match tlv.tag.value() {
            0x23 => ResponseApdu::parse(&tlv.value)
                .map(Self::Apdu)
                .map_err(|_| ScriptError::BadResponseApdu {
                    offset,
                    len: tlv.value.len(),
                }),
            0x81 => Ok(Self::ImmediateActionResponse(tlv.value)),
            0x90 => match tlv.value.as_slice() {
                [b] => Ok(Self::BadFormat(BadFormat::from_byte(*b))),
                v => Err(ScriptError::WrongLength {
                    offset,
                    tag: tlv.tag,
                    len: v.len(),
                    expected: 1,
                }),
            },
            t if RAW_RESPONSE_TAGS.contains(&t) => Ok(Self::Raw(tlv)),
            _ => Err(ScriptError::UnknownTag {
                offset,
                tag: tlv.tag,
                within: "response",
            }),
        }
    }
}

/// A response script (Response Scripting template).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResponseScript {
    pub form: LengthForm,
    /// Number of executed command TLVs (`80 01 n`).
    pub executed: u8,
    pub items: Vec<ResponseTlv>,
}

impl ResponseScript {
    /// Encodes the script.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Tlv::new(TAG_EXECUTED_COUNT, vec![self.executed]).to_bytes();
        for item in &self.items {
            body.extend_from_slice(&item.to_tlv().to_bytes());
        }
        wrap(
            self.form,
            TAG_RESPONSE_SCRIPT,
            TAG_RESPONSE_SCRIPT_INDEFINITE,
            body,
        )
    }

    /// Parses a response script.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScriptError> {
        let (form, body, at) = unwrap_template(
            bytes,
            TAG_RESPONSE_SCRIPT,
            TAG_RESPONSE_SCRIPT_INDEFINITE,
            "response",
        )?;
        let mut tlvs = tlvs_with_offsets(body, at)?.into_iter();
        let executed = match tlvs.next() {
            Some((t, offset)) if t.tag == Tag::new(0x80) => match t.value.as_slice() {
                [n] => *n,
                v => {
                    return Err(ScriptError::WrongLength {
                        offset,
                        tag: t.tag,
                        len: v.len(),
                        expected: 1,
                    })
                }
            },
            _ => return Err(ScriptError::MissingExecutedCount),
        };
        let items = tlvs
            .map(|(t, offset)| ResponseTlv::from_tlv(t, offset))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            form,
            executed,
            items,
        })
    }

    /// The R-APDUs, in order.
    pub fn response_apdus(&self) -> impl Iterator<Item = &ResponseApdu> {
        self.items.iter().filter_map(|i| match i {
            ResponseTlv::Apdu(r) => Some(r),
            _ => None,
        })
    }

    /// The bad format value, if the card reported one.
    pub fn bad_format(&self) -> Option<BadFormat> {
        self.items.iter().find_map(|i| match i {
            ResponseTlv::BadFormat(b) => Some(*b),
            _ => None,
        })
    }
}
