//! The ISD-R functions of SGP.02 §4.1.1 that travel in STORE DATA DGIs, for both ends:
//! EnableProfile (`3A03`), DisableProfile (`3A04`), SetFallbackAttribute (`3A05`, assumed) and
//! HandleNotificationConfirmation (`3A08`) with its response, and the profile attributes byte
//! (`53`) of an ISD-P's GET STATUS entry (§4.1.1.5 AuditEIS).
//!
//! ```text
//! 80 E2 88 00 Lc  3A03 L { 4F 10 <ISD-P AID> }            EnableProfile
//! 80 E2 88 00 Lc  3A04 L { 4F 10 <ISD-P AID> }            DisableProfile
//! 80 E2 88 00 Lc  3A05 L { 4F 10 <ISD-P AID> }            SetFallbackAttribute
//! 80 E2 89 00 Lc  3A08 04 { 4E 02 <sequence number> } 00  HandleNotificationConfirmation
//!                 → 80 L { 4F L <deleted ISD-P AID> … }
//! ```
//! DGI numbers, P1 values and why: [`super::codings`].

use super::codings::{
    ATTRIBUTE_FALLBACK, ATTRIBUTE_PENDING_RESET, DGI_DISABLE_PROFILE, DGI_ENABLE_PROFILE,
    DGI_NOTIFICATION_CONFIRMATION, DGI_SET_FALLBACK_ATTRIBUTE, TAG_AID, TAG_DELETED_ISD_PS,
    TAG_PROFILE_ATTRIBUTES, TAG_SEQUENCE_NUMBER,
};
use crate::apdu::CommandApdu;
use crate::gp::get_status::RegistryEntry;
use crate::gp::store_data::DataStructure;
use crate::gp::{Aid, Dgi, GpError, StoreData};
use crate::tlv::{tlv, Tag, Tlv};

/// An ES5 function carried in one STORE DATA DGI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Es5Command {
    /// `3A03 { 4F AID }`.
    EnableProfile(Aid),
    /// `3A04 { 4F AID }`.
    DisableProfile(Aid),
    /// `3A05 { 4F AID }`.
    SetFallbackAttribute(Aid),
    /// `3A08 { 4E 02 sequence }`.
    NotificationConfirmation(u16),
}

impl Es5Command {
    /// The DGI number of this function.
    pub fn dgi_number(&self) -> u16 {
        match self {
            Self::EnableProfile(_) => DGI_ENABLE_PROFILE,
            Self::DisableProfile(_) => DGI_DISABLE_PROFILE,
            Self::SetFallbackAttribute(_) => DGI_SET_FALLBACK_ATTRIBUTE,
            Self::NotificationConfirmation(_) => DGI_NOTIFICATION_CONFIRMATION,
        }
    }

    /// The DGI (`3A0x L value`).
    pub fn dgi(&self) -> Dgi {
        let value = match self {
            Self::EnableProfile(aid)
            | Self::DisableProfile(aid)
            | Self::SetFallbackAttribute(aid) => tlv(TAG_AID, aid.as_bytes()),
            Self::NotificationConfirmation(seq) => tlv(TAG_SEQUENCE_NUMBER, &seq.to_be_bytes()),
        };
        Dgi::new(self.dgi_number(), value)
    }

    /// The STORE DATA command: one last block `00` in DGI format; P1 `89` (response expected)
    /// for the confirmation, `88` for the others.
    pub fn store_data(&self) -> Result<StoreData, GpError> {
        let data = StoreData::new(self.dgi().to_bytes()?).dgi();
        Ok(match self {
            Self::NotificationConfirmation(_) => data.with_response(),
            _ => data,
        })
    }

    /// The C-APDU (`80 E2 88 00 …` / `80 E2 89 00 … 00`).
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        self.store_data()?.to_apdu()
    }

    /// The function a DGI carries; `Ok(None)` for a DGI that is no ES5 function of this table
    /// (other personalization data). The value must hold exactly the one object.
    pub fn from_dgi(dgi: &Dgi) -> Result<Option<Self>, GpError> {
        let aid = || single_aid(&dgi.value);
        Ok(Some(match dgi.tag {
            DGI_ENABLE_PROFILE => Self::EnableProfile(aid()?),
            DGI_DISABLE_PROFILE => Self::DisableProfile(aid()?),
            DGI_SET_FALLBACK_ATTRIBUTE => Self::SetFallbackAttribute(aid()?),
            DGI_NOTIFICATION_CONFIRMATION => {
                let object = Tlv::parse_expect(&dgi.value, TAG_SEQUENCE_NUMBER)?;
                let seq: [u8; 2] = object.value.as_slice().try_into().map_err(|_| {
                    GpError::invalid(
                        0,
                        Some(Tag::from(TAG_SEQUENCE_NUMBER)),
                        "the sequence number has 2 bytes",
                    )
                })?;
                Self::NotificationConfirmation(u16::from_be_bytes(seq))
            }
            _ => return Ok(None),
        }))
    }

    /// Decodes a single-block DGI STORE DATA holding exactly one ES5 DGI.
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        let sd = StoreData::from_apdu(apdu)?;
        if sd.structure != DataStructure::Dgi || !sd.last || sd.block != 0 {
            return Err(GpError::params(
                "STORE DATA",
                apdu,
                "ES5 functions are one last block 00 in DGI format (P1 88/89, P2 00)",
            ));
        }
        let dgi = Dgi::parse(&sd.data)?;
        Self::from_dgi(&dgi)?.ok_or_else(|| {
            GpError::invalid(0, None, "not an ES5 function DGI (3A03/3A04/3A05/3A08)")
        })
    }
}

/// `4F L AID` filling `value` exactly.
fn single_aid(value: &[u8]) -> Result<Aid, GpError> {
    let object = Tlv::parse_expect(value, TAG_AID)?;
    Aid::new(&object.value)
}

/// The HandleNotificationConfirmation response data: `80 L { 4F L AID … }` (`80 00` when the
/// card deleted nothing).
pub fn confirmation_response(deleted: &[Aid]) -> Vec<u8> {
    let list: Vec<u8> = deleted
        .iter()
        .flat_map(|aid| tlv(TAG_AID, aid.as_bytes()))
        .collect();
    tlv(TAG_DELETED_ISD_PS, &list)
}

/// Parses the HandleNotificationConfirmation response data: the ISD-Ps the card deleted.
/// Empty data (a card answering P1 `88`, or one that sends nothing) is the empty list.
pub fn parse_confirmation_response(data: &[u8]) -> Result<Vec<Aid>, GpError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let outer = Tlv::parse_expect(data, TAG_DELETED_ISD_PS)?;
    let header = data.len() - outer.value.len();
    let mut at = 0;
    let mut out = Vec::new();
    while at < outer.value.len() {
        let (object, used) = Tlv::parse_prefix(&outer.value[at..])
            .map_err(|e| GpError::from(e.shifted(header + at)))?;
        if object.tag != Tag::from(TAG_AID) {
            return Err(GpError::invalid(
                header + at,
                Some(object.tag),
                "the deleted ISD-P list holds only 4F AIDs",
            ));
        }
        out.push(Aid::new(&object.value)?);
        at += used;
    }
    Ok(out)
}

/// The SGP.02 profile attributes of an ISD-P (the `53` byte of its GET STATUS entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileAttributes {
    /// b1: the profile has the Fallback Attribute.
    pub fallback: bool,
    /// b8 (*emulator*): an enable or disable waits for the next reset.
    pub pending_reset: bool,
    /// The other bits, kept as received.
    pub other: u8,
}

impl ProfileAttributes {
    /// The byte.
    pub fn to_byte(self) -> u8 {
        let mut b = self.other & !(ATTRIBUTE_FALLBACK | ATTRIBUTE_PENDING_RESET);
        if self.fallback {
            b |= ATTRIBUTE_FALLBACK;
        }
        if self.pending_reset {
            b |= ATTRIBUTE_PENDING_RESET;
        }
        b
    }

    /// From the byte.
    pub fn from_byte(b: u8) -> Self {
        Self {
            fallback: b & ATTRIBUTE_FALLBACK != 0,
            pending_reset: b & ATTRIBUTE_PENDING_RESET != 0,
            other: b & !(ATTRIBUTE_FALLBACK | ATTRIBUTE_PENDING_RESET),
        }
    }

    /// The `53 01 xx` object.
    pub fn to_tlv(self) -> Tlv {
        Tlv::new(TAG_PROFILE_ATTRIBUTES, vec![self.to_byte()])
    }

    /// The attributes of a GET STATUS entry: `Ok(None)` without a `53` object, an error if it
    /// is not one byte or appears twice.
    pub fn from_entry(entry: &RegistryEntry) -> Result<Option<Self>, GpError> {
        let mut found = entry
            .other
            .iter()
            .filter(|t| t.tag == Tag::from(TAG_PROFILE_ATTRIBUTES));
        let Some(first) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(GpError::invalid(
                0,
                Some(first.tag),
                "the profile attributes appear twice",
            ));
        }
        match first.value.as_slice() {
            [b] => Ok(Some(Self::from_byte(*b))),
            _ => Err(GpError::invalid(
                0,
                Some(first.tag),
                "the profile attributes are one byte",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
