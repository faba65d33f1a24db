//! The Issuer Security Domain Root (GSMA SGP.02 §2.2.1.1, AID per SGP.02 Annex H): selectable
//! with its FCI. The GlobalPlatform commands it will take (secure channel, GET STATUS, INSTALL,
//! STORE DATA...) are routed here with the channel's session state.

use crate::card::Nv;
use crate::class::Class;
use crate::ecasd::INS_GET_DATA;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The ISD-R instance AID.
pub const ISD_R_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00,
];

/// GET DATA with a tag list in the data field (ISO class only).
const INS_GET_DATA_ODD: u8 = 0xCB;

/// The ISD-R's volatile state on one logical channel; a new one on every SELECT, lost on
/// reset and when the channel closes.
#[derive(Debug, Default)]
pub(crate) struct Session {}

/// Commands addressed to the ISD-R selected on a channel.
pub(crate) fn process(
    _session: &mut Session,
    _nv: &mut Nv,
    class: Class,
    cmd: &CommandApdu,
) -> ResponseApdu {
    if class.secure_messaging {
        return ResponseApdu::status(StatusWord::SecureMessagingNotSupported);
    }
    match cmd.ins {
        // No data object is available from the ISD-R yet (the EID belongs to the ECASD).
        INS_GET_DATA | INS_GET_DATA_ODD => ResponseApdu::status(StatusWord::ReferencedDataNotFound),
        _ => ResponseApdu::status(StatusWord::InsNotSupported),
    }
}
