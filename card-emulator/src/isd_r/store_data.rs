//! STORE DATA on the ISD-R (GPCS v2.3.1 §11.11): numbered blocks (P2 from `00`, P1 b8 on the
//! last) are joined, then the whole data is taken by its structure (P1 b5 b4):
//!
//! - DGI (`01`), SGP.02 ES5 functions ([`smsr_proto::sgp02::Es5Command`]), alone in the
//!   data: EnableProfile `3A03`, DisableProfile `3A04`, SetFallbackAttribute `3A05`,
//!   HandleNotificationConfirmation `3A08` (answered `80 { 4F AID … }`, the ISD-Ps deleted per
//!   POL1, when P1 b1 asks for data). Rules and status words: [`crate::state::ProfileError`]
//!   and [`smsr_proto::sgp02::codings`]; an ES5 DGI with other DGIs, or malformed: `6A80`.
//! - DGI (`01`), other DGIs: every DGI is kept in the card's personalization data by its DGI
//!   number, replacing an earlier value (the values are stored as received, encrypted or not).
//!   At most [`PERSONALIZATION_MAX`](crate::state::PERSONALIZATION_MAX) bytes in all, else
//!   `6A84`.
//! - BER-TLV (`10`): `42` (IIN) and `45` (CIN) set what GET DATA returns; `BF3E { 5C 01 5A }`
//!   (SGP.22 ES10c GetEID, which eUICCs answer on the ISD-R, as the pySim SCP03 vectors
//!   show) is answered `BF3E { 5A EID }` when P1 b1 asks for response data. Other objects:
//!   `6A80`.
//! - No structure information (`00`): `6A80`.
//!
//! Intermediate blocks are answered `9000`. A block out of sequence: `6A86` (and the sequence
//! starts over); malformed DGIs or TLVs: `6A80`; response data where P1 b1 asks for none:
//! `6A86` (§11.11.2.1).

use crate::nv::Nv;
use crate::state::ProfileError;
use smsr_proto::gp::get_data::tags;
use smsr_proto::gp::store_data::DataStructure;
use smsr_proto::gp::{Aid, BlockAssembler, Dgi, GpError, StoreData};
use smsr_proto::sgp02::{confirmation_response, Es5Command};
use smsr_proto::tlv::{tlv, Tlv};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The SGP.22 GetEIDRequest/Response tag.
const TAG_GET_EID: u32 = 0xBF3E;
/// The tag list asking for the EID.
const GET_EID_TAG_LIST: [u8; 3] = [0x5C, 0x01, 0x5A];

pub(super) fn process(blocks: &mut BlockAssembler, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    match store_data(blocks, nv, cmd) {
        Ok(data) => ResponseApdu::success(data),
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn store_data(
    blocks: &mut BlockAssembler,
    nv: &mut Nv,
    cmd: &CommandApdu,
) -> Result<Vec<u8>, StatusWord> {
    let block = StoreData::from_apdu(cmd).map_err(|_| {
        blocks.reset();
        StatusWord::IncorrectP1P2
    })?;
    let whole = match blocks.push(block.block, block.last, &block.data) {
        Ok(None) => return Ok(Vec::new()),
        Ok(Some(whole)) => whole,
        Err(GpError::BlockSequence { .. }) => return Err(StatusWord::IncorrectP1P2),
        Err(_) => return Err(StatusWord::WrongLength),
    };
    let response = match block.structure {
        DataStructure::Dgi => {
            let dgis = Dgi::parse_all(&whole).map_err(|_| StatusWord::IncorrectData)?;
            if let Some(function) = es5_function(&dgis)? {
                let deleted = es5(nv, function).map_err(|e| e.status_word())?;
                return Ok(match deleted {
                    Some(list) if block.response_expected => confirmation_response(&list),
                    _ => Vec::new(),
                });
            }
            let dgis = dgis.into_iter().map(|d| (d.tag, d.value)).collect();
            if !nv.get_mut().store_dgis(dgis) {
                return Err(StatusWord::NotEnoughMemory);
            }
            Vec::new()
        }
        DataStructure::BerTlv => ber_tlv(nv, &whole)?,
        DataStructure::NoInformation => return Err(StatusWord::IncorrectData),
    };
    if !response.is_empty() && !block.response_expected {
        return Err(StatusWord::IncorrectP1P2);
    }
    Ok(response)
}

/// The ES5 function of the data, if it holds one: it must be the only DGI.
fn es5_function(dgis: &[Dgi]) -> Result<Option<Es5Command>, StatusWord> {
    let mut found = None;
    for dgi in dgis {
        if let Some(f) = Es5Command::from_dgi(dgi).map_err(|_| StatusWord::IncorrectData)? {
            found = Some(f);
        }
    }
    if found.is_some() && dgis.len() != 1 {
        return Err(StatusWord::IncorrectData);
    }
    Ok(found)
}

/// Runs an ES5 function; for a confirmation, returns the ISD-Ps it deleted.
fn es5(nv: &mut Nv, function: Es5Command) -> Result<Option<Vec<Aid>>, ProfileError> {
    let state = nv.get_mut();
    match function {
        Es5Command::EnableProfile(aid) => state.enable_profile(&aid).map(|_| None),
        Es5Command::DisableProfile(aid) => state.disable_profile(&aid).map(|_| None),
        Es5Command::SetFallbackAttribute(aid) => state.set_fallback_attribute(&aid).map(|()| None),
        Es5Command::NotificationConfirmation(seq) => state.confirm_notification(seq).map(Some),
    }
}

fn ber_tlv(nv: &mut Nv, data: &[u8]) -> Result<Vec<u8>, StatusWord> {
    let objects = Tlv::parse_all(data).map_err(|_| StatusWord::IncorrectData)?;
    if let [request] = objects.as_slice() {
        if request.tag.value() == TAG_GET_EID {
            if request.value != GET_EID_TAG_LIST {
                return Err(StatusWord::IncorrectData);
            }
            let eid = nv.get().eid();
            return Ok(tlv(request.tag, &tlv(0x5Au8, &eid)));
        }
    }
    let mut updates = Vec::new();
    for object in &objects {
        match u16::try_from(object.tag.value()) {
            Ok(tags::IIN) => updates.push((true, object.value.clone())),
            Ok(tags::CIN) => updates.push((false, object.value.clone())),
            _ => return Err(StatusWord::IncorrectData),
        }
    }
    let state = nv.get_mut();
    for (iin, value) in updates {
        if iin {
            state.set_iin(value);
        } else {
            state.set_cin(value);
        }
    }
    Ok(Vec::new())
}
