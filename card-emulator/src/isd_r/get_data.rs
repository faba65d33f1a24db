//! GET DATA on the ISD-R (GPCS v2.3.1 §11.3; Appendix H for card data and key information).
//!
//! With the GlobalPlatform class the response is the whole TLV, with the ISO class its value.
//!
//! | tag | object | value |
//! |---|---|---|
//! | `42` | IIN | set by STORE DATA, else the first 4 bytes of the EID |
//! | `45` | CIN | set by STORE DATA, else the EID |
//! | `66` | Card Data | Card Recognition Data: GP 2.3.1, SCP03 with the card's "i" |
//! | `CF` | key diversification data | the KDD of INITIALIZE UPDATE |
//! | `C1` | sequence counter | of the default (first) key set, 3 bytes |
//! | `E0` | Key Information Template | keys 1–3 (ENC, MAC, DEK) of each key set, type `88` |
//! | `FF21` | extended card resources (ETSI TS 102 226) | free memory: [`NON_VOLATILE_MEMORY`] and [`VOLATILE_MEMORY`] less personalization data and, per ISD-P, its quota or its installed package if larger |
//! | `00E1` | oldest unconfirmed SGP.02 notification `E1 { … }` | needs a session with C-MAC; `6A88` when none ([`GET_DATA_NOTIFICATION`]) |
//!
//! [`NON_VOLATILE_MEMORY`]: crate::state::NON_VOLATILE_MEMORY
//! [`VOLATILE_MEMORY`]: crate::state::VOLATILE_MEMORY
//! [`GET_DATA_NOTIFICATION`]: smsr_proto::sgp02::codings::GET_DATA_NOTIFICATION
//!
//! Anything else (the EID `5A` is the ECASD's, no CPLC `9F7F`): `6A88`.

use crate::state::CardState;
use smsr_proto::gp::get_data::key_info::KeyInformation;
use smsr_proto::gp::get_data::{tags, SequenceCounter};
use smsr_proto::gp::{
    CardData, CardRecognitionData, DataObject, ExtendedCardResources, GetData,
    KeyInformationTemplate, ScpOption,
};
use smsr_proto::scp03::put_key::KEY_TYPE_AES;
use smsr_proto::scp03::SCP03_ID;
use smsr_proto::sgp02::codings::GET_DATA_NOTIFICATION;
use smsr_proto::tlv::Tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The GlobalPlatform version in Card Recognition Data: `{globalPlatform 2 2 3 1}`.
pub const GP_VERSION: [u8; 3] = [2, 3, 1];

pub(super) fn process(state: &CardState, cmd: &CommandApdu) -> ResponseApdu {
    let Ok(request) = GetData::from_apdu(cmd) else {
        // The odd instruction with a GlobalPlatform class.
        return ResponseApdu::status(StatusWord::ClaNotSupported);
    };
    if !request.data.is_empty() || request.odd_ins {
        // Tag lists (List of Applications `2F00`…) are not supported.
        return ResponseApdu::status(StatusWord::ReferencedDataNotFound);
    }
    match value(state, request.tag) {
        Some(value) => ResponseApdu::success(request.response(&value)),
        None => ResponseApdu::status(StatusWord::ReferencedDataNotFound),
    }
}

/// The value of a data object, `None` if the ISD-R has none with that tag.
pub(super) fn value(state: &CardState, tag: u16) -> Option<Vec<u8>> {
    let scp03 = state.scp03();
    Some(match tag {
        tags::IIN => state.iin(),
        tags::CIN => state.cin(),
        tags::CARD_DATA => CardData {
            recognition: CardRecognitionData::new(
                &GP_VERSION,
                &[ScpOption {
                    scp: SCP03_ID,
                    i: scp03.options().to_i(),
                }],
            ),
            other: Vec::new(),
        }
        .value(),
        tags::KEY_DIVERSIFICATION_DATA => state.kdd().to_vec(),
        tags::SEQUENCE_COUNTER => SequenceCounter {
            value: scp03.keysets().first()?.sequence_counter,
            width: 3,
        }
        .value(),
        tags::KEY_INFORMATION => KeyInformationTemplate {
            keys: scp03
                .keysets()
                .iter()
                .flat_map(|set| {
                    let kvn = set.keys.kvn();
                    let len = u16::try_from(set.keys.length().bytes()).unwrap_or(0);
                    (1..=3).map(move |id| KeyInformation::basic(id, kvn, KEY_TYPE_AES, len))
                })
                .collect(),
        }
        .value(),
        tags::EXTENDED_CARD_RESOURCES => ExtendedCardResources {
            installed_applications: u32::try_from(state.registry().installed_applications()).ok(),
            free_non_volatile_memory: Some(state.free_non_volatile_memory()),
            free_volatile_memory: Some(state.free_volatile_memory()),
            other: Vec::new(),
        }
        .value(),
        GET_DATA_NOTIFICATION => {
            let message = state.notifications().oldest()?.message(state.eid());
            Tlv::parse(&message.to_bytes()).ok()?.value
        }
        _ => return None,
    })
}
